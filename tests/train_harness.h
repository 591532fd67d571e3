/* tests/train_harness.h - helpers for the tests that drive whole training
 * runs through the eta command (test_train_resume.c, test_train_run.c,
 * test_cli_train.c): the binary (ETA_BIN, set by CTest), starting it with
 * fork/exec (so a test can kill it), running it to the end with its output
 * captured, a temporary folder per test file, and comparing run files
 * (metrics.csv without a column, metrics.jsonl without the timing, a whole
 * folder before and after). Data sets: data_harness.h's SKIP_UNLESS.
 */
#ifndef ETA_TEST_TRAIN_HARNESS_H
#define ETA_TEST_TRAIN_HARNESS_H

#include "data_harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#define FMNIST_FILE FMNIST_DIR "/train-images-idx3-ubyte.gz"
#define SKIP_UNLESS_FMNIST() SKIP_UNLESS(FMNIST_FILE, HOW_DEBIAN)
#define SKIP_UNLESS_SKLEARN() SKIP_UNLESS(data_file("sklearn/wine_data.csv"), HOW_FETCH)

/* The end of the resume tests' configs: a guard that snapshots every 10
 * steps and looks for spikes (z 6, off by default), a checkpoint every 5,
 * no plots. */
#define TRAIN_CONFIG_TAIL                                                                                          \
    "[guard]\n"                                                                                                     \
    "snapshot_every = 10\n"                                                                                         \
    "z_threshold = 6\n"                                                                                             \
    "warmup = 20\n"                                                                                                 \
    "[output]\n"                                                                                                    \
    "checkpoint_every = 5\n"                                                                                        \
    "plots = false\n"

/* Fashion-MNIST, a small MLP with Dropout, AdamW, a linear warm-up then
 * ReduceLROnPlateau fed the validation loss every 20 steps; 240 steps, a
 * checkpoint every 5. The end of the warm-up brings a gradient-norm spike
 * that the guard rolls back (to step 10). */
static const char *const TRAIN_CONFIG_PLATEAU =
    "[data]\n"
    "spec = FashionMNIST(flatten=True, normalize=True, val=1000)\n"
    "batch_size = 64\n"
    "[model]\n"
    "spec = Sequential(Linear(784, 128), ReLU(), Dropout(0.3), Linear(128, 10))\n"
    "[optimizer]\n"
    "spec = AdamW(lr=0.003)\n"
    "[schedule]\n"
    "spec = SequentialLR([LinearLR(start_factor=0.1, total_iters=20), ReduceLROnPlateau(patience=0, factor=0.5)], "
    "milestones=[20])\n"
    "[train]\n"
    "steps = 240\n"
    "threads = 1\n"
    "eval_every = 20\n"
    "seed = 4\n"
    TRAIN_CONFIG_TAIL;

/* Iris (90 / 30 / 30 examples) and a small MLP: 6 steps an epoch, 36 in all, an
 * evaluation at each epoch's end; a run takes a fraction of a second. */
static const char *const TRAIN_CONFIG_IRIS = "[data]\n"
                                             "spec = CSV('sklearn/iris.csv', split='stratified')\n"
                                             "batch_size = 16\n"
                                             "[model]\n"
                                             "spec = Sequential(Linear(4, 16), ReLU(), Linear(16, 3))\n"
                                             "[optimizer]\n"
                                             "spec = Adam(lr=1e-2)\n"
                                             "[train]\n"
                                             "epochs = 6\n"
                                             "threads = 1\n"
                                             "[output]\n"
                                             "plots = false\n";

/* The temporary folder of a test file (group setup and teardown): made
 * from a template such as "/tmp/eta_train_run_XXXXXX", removed with all
 * it holds. */
static inline int train_root_make(char *root)
{
    return mkdtemp(root) ? 0 : -1;
}

static inline int train_root_remove(const char *root)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* The eta binary; skips the test when CTest did not say where it is. */
static inline const char *eta_bin(void)
{
    const char *b = getenv("ETA_BIN");
    if (!b || !*b) {
        print_message("skipped: ETA_BIN is not set (CTest sets it to the built eta)\n");
        skip();
    }
    return b;
}

/* Starts `eta argv...` (argv[0] is the subcommand; NULL-terminated) with
 * its stdout and stderr on the descriptors given (-1: /dev/null) and, when
 * env is not NULL, "NAME=VALUE" added to its environment. Returns the pid;
 * the caller closes its descriptors. */
static inline pid_t eta_spawn_fds(const char *const *argv, const char *env, int out_fd, int err_fd)
{
    const char *bin = eta_bin();
    const char *args[64];
    int n = 0;
    args[n++] = bin;
    for (; argv[n - 1] && n < 63; n++)
        args[n] = argv[n - 1];
    args[n] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null < 0 || dup2(out_fd >= 0 ? out_fd : null, 1) < 0 || dup2(err_fd >= 0 ? err_fd : null, 2) < 0)
            _exit(126);
        if (env) {
            char name[128];
            const char *eq = strchr(env, '=');
            snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - env) : 0, env);
            if (eq && setenv(name, eq + 1, 1))
                _exit(126);
        }
        execv(bin, (char *const *)args);
        _exit(127);
    }
    return pid;
}

/* eta_spawn_fds with stdout and stderr into files (NULL: /dev/null). */
static inline pid_t eta_spawn(const char *const *argv, const char *env, const char *out_path, const char *err_path)
{
    int fo = out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    int fe = err_path ? open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    assert_true((fo >= 0 || !out_path) && (fe >= 0 || !err_path));
    pid_t pid = eta_spawn_fds(argv, env, fo, fe);
    if (fo >= 0)
        close(fo);
    if (fe >= 0)
        close(fe);
    return pid;
}

/* Waits for pid: its exit status, or minus the signal that ended it. */
static inline int eta_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? -WTERMSIG(st) : -1000;
}

/* What a finished eta printed: the exit status, stdout and stderr
 * (malloc'd, NUL-terminated). */
typedef struct eta_result {
    int rc;
    char *out, *err;
} eta_result;

/* Runs `eta argv...` to its end. */
static inline eta_result eta_run_argv(const char *const *argv, const char *env)
{
    eta_bin(); /* skips before any temporary file exists */
    char of[] = "/tmp/eta_train_out_XXXXXX", ef[] = "/tmp/eta_train_err_XXXXXX";
    int fo = mkstemp(of), fe = mkstemp(ef);
    assert_true(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    eta_result r;
    r.rc = eta_wait(eta_spawn(argv, env, of, ef));
    r.out = read_file(of, NULL);
    r.err = read_file(ef, NULL);
    remove(of);
    remove(ef);
    return r;
}

/* Runs eta and expects exit status `want`; returns stderr (malloc'd) and
 * frees stdout, or hands it out through *out when out is not NULL. */
static inline char *eta_expect(int want, const char *const *argv, const char *env, char **out)
{
    eta_result r = eta_run_argv(argv, env);
    if (r.rc != want) {
        char cmd[2048] = "";
        for (int i = 0; argv[i]; i++)
            snprintf(cmd + strlen(cmd), sizeof cmd - strlen(cmd), " %s", argv[i]);
        fail_msg("eta%s: exit %d, expected %d; stderr:\n%s", cmd, r.rc, want, r.err ? r.err : "");
    }
    if (out)
        *out = r.out;
    else
        free(r.out);
    return r.err;
}

/* Fails unless text holds needle (what: which text, for the message). */
static inline void expect_has(const char *what, const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s lacks \"%s\"; it is:\n%s", what, needle, text ? text : "(nothing)");
}

/* dir/name in a static buffer (one of eight). */
static inline const char *path_in(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static inline bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Lines in a file (0 when it does not exist). */
static inline int count_lines(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    int n = 0;
    char buf[65536];
    size_t k;
    while ((k = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < k; i++)
            n += buf[i] == '\n';
    fclose(f);
    return n;
}

/* Whether two files hold the same bytes; *first_diff gets the first
 * differing offset (or the shorter length). */
static inline bool same_bytes(const char *a, const char *b, long *first_diff)
{
    size_t na = 0, nb = 0;
    char *x = read_file(a, &na), *y = read_file(b, &nb);
    if (!x || !y)
        fail_msg("cannot read %s or %s", a, b);
    size_t i = 0;
    while (i < na && i < nb && x[i] == y[i])
        i++;
    if (first_diff)
        *first_diff = (long)i;
    bool same = na == nb && i == na;
    free(x);
    free(y);
    return same;
}

/* Splits a CSV line (no quoting) into fields, in place; returns the count. */
static inline int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *c = strchr(p, ',');
        if (!c)
            break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

/* Compares two CSV files line for line and field for field, except the
 * column named `skip` (NULL: none); fails naming the first difference.
 * Returns the number of lines. */
static inline int same_csv_except(const char *a, const char *b, const char *skip)
{
    char *x = read_file(a, NULL), *y = read_file(b, NULL);
    if (!x || !y)
        fail_msg("cannot read %s or %s", a, b);
    char *sx = NULL, *sy = NULL;
    int skip_col = -1, line = 0;
    for (;;) {
        char *lx = strtok_r(line ? NULL : x, "\n", &sx), *ly = strtok_r(line ? NULL : y, "\n", &sy);
        if (!lx || !ly) {
            if (lx || ly)
                fail_msg("%s and %s: one ends at line %d, the other goes on", a, b, line + 1);
            break;
        }
        line++;
        char *fx[128], *fy[128];
        int nx = csv_fields(lx, fx, 128), ny = csv_fields(ly, fy, 128);
        if (nx != ny)
            fail_msg("%s line %d: %d fields, %s: %d", a, line, nx, b, ny);
        for (int i = 0; i < nx; i++) {
            if (line == 1 && skip && !strcmp(fx[i], skip))
                skip_col = i;
            if (i != skip_col && strcmp(fx[i], fy[i]))
                fail_msg("%s line %d field %d: '%s', %s: '%s'", a, line, i + 1, fx[i], b, fy[i]);
        }
    }
    if (skip && skip_col < 0)
        fail_msg("%s has no column %s", a, skip);
    free(x);
    free(y);
    return line;
}

/* A text with every `"key":value` of a JSON-lines file dropped and every
 * occurrence of `from` replaced by `to` (malloc'd). */
static inline char *masked_text(const char *path, const char *key, const char *from, const char *to)
{
    char *t = read_file(path, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    size_t cap = strlen(t) * 2 + 1024, n = 0;
    char *o = malloc(cap);
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    for (const char *p = t; *p;) {
        if (!strncmp(p, k, strlen(k))) {
            p += strlen(k);
            while (*p && *p != ',' && *p != '}')
                p++;
        } else if (from && !strncmp(p, from, strlen(from))) {
            n += (size_t)sprintf(o + n, "%s", to);
            p += strlen(from);
        } else {
            o[n++] = *p++;
        }
        assert_true(n + 256 < cap);
    }
    o[n] = 0;
    free(t);
    return o;
}

/* Every regular file of a folder, sorted by name, with its bytes, as one
 * text (malloc'd): "name size\n" then the bytes, for before/after checks. */
static inline char *folder_image(const char *dir, size_t *len)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    assert_true(n >= 0);
    size_t cap = 1 << 20, at = 0;
    char *img = malloc(cap);
    for (int i = 0; i < n; i++) {
        const char *p = path_in(dir, ents[i]->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            size_t fl = 0;
            char *data = read_file(p, &fl);
            assert_non_null(data);
            while (at + fl + 512 > cap)
                img = realloc(img, cap *= 2);
            at += (size_t)snprintf(img + at, 512, "%s %zu\n", ents[i]->d_name, fl);
            memcpy(img + at, data, fl);
            at += fl;
            free(data);
        }
        free(ents[i]);
    }
    free(ents);
    *len = at;
    return img;
}

/* A small seeded generator for the random choices a test prints. */
static inline uint64_t test_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Seconds on the monotonic clock. */
static inline double test_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
