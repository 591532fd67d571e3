/* tests/test_io_ckpt.c - labels: unit fault
 *
 * Whole files and the checkpoint container (core/file.c, core/ckpt.c):
 *  - a round trip of sections of awkward sizes (0, 1, 7, 8, 9 bytes, ...),
 *    in file order, the bytes in memory equal to the file's;
 *  - every byte of a small checkpoint changed (three ways) and every
 *    truncation of it is refused with ETA_EFORMAT and a message giving a
 *    byte offset (and the section, where a section's bytes were hit), never
 *    a crash; repeated names, an unknown version, bytes appended are refused;
 *  - a write that fails leaves the previous file as it was and no temporary
 *    file: a missing folder, a read-only folder (as an unprivileged user), a
 *    file size limit hit midway (RLIMIT_FSIZE, EFBIG), a folder in the way;
 *  - a child writing an 8 MB checkpoint in a loop is SIGKILLed, at a random
 *    moment and right while its temporary file is half written: the file at
 *    the path is always a complete checkpoint of one generation, never older
 *    than the last one seen, and the temporary files the kills leave behind
 *    confuse neither the reader nor the next write.
 */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <eta/core.h>

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/eta_io_ckpt_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", tmpdir, tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *in_tmp(const char *name)
{
    static char buf[2][512];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

/* in_tmp's result, kept: in_tmp reuses two buffers. */
#define TMP_PATH(var, name) char var[512]; snprintf(var, sizeof var, "%s", in_tmp(name))

/* Files in tmpdir whose name starts with prefix. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    closedir(d);
    return n;
}

static void remove_files(const char *prefix)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            unlink(in_tmp(e->d_name));
    closedir(d);
}

/* Where needle first occurs in b[0..n) (memmem is not in C11 nor POSIX). */
static unsigned char *find_bytes(unsigned char *b, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(b + i, needle, k))
            return b + i;
    return NULL;
}

/* A small checkpoint: three sections, the middle one empty. */
static void small_bytes(void **buf, size_t *len)
{
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "model", "0123456789abcdefXYZ", 19), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "empty", NULL, 0), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "optim state", "\x01\x02\x03", 3), ETA_OK);
    assert_int_equal(eta_ckpt_to_bytes(c, buf, len), ETA_OK);
    eta_ckpt_free(c);
}

static void test_roundtrip(void **state)
{
    (void)state;
    static const size_t sizes[] = {0, 1, 7, 8, 9, 1000, 65537};
    char name[64];
    unsigned char *data = malloc(65537 + 8);
    for (size_t i = 0; i < 65537 + 8; i++)
        data[i] = (unsigned char)(i * 131 + 7);
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof name, "%ssection %d", k == 3 ? "a longer name, " : "", k);
        assert_int_equal(eta_ckpt_add(c, name, data + k, sizes[k]), ETA_OK);
    }
    eta_err err;
    TMP_PATH(path, "rt.ckpt");
    assert_int_equal(eta_ckpt_write(c, path, &err), ETA_OK);
    void *mem;
    size_t mlen, flen;
    assert_int_equal(eta_ckpt_to_bytes(c, &mem, &mlen), ETA_OK);
    char *file = read_file(path, &flen);
    assert_int_equal(flen, mlen);
    assert_memory_equal(file, mem, mlen);
    assert_int_equal(count_files("rt.ckpt.tmp"), 0);
    eta_ckpt_free(c);

    eta_ckpt *r;
    if (eta_ckpt_read(&r, path, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(eta_ckpt_count(r), 7);
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof name, "%ssection %d", k == 3 ? "a longer name, " : "", k);
        assert_string_equal(eta_ckpt_name(r, k), name);
        const void *d;
        size_t n;
        assert_int_equal(eta_ckpt_get(r, name, &d, &n), ETA_OK);
        assert_int_equal(n, sizes[k]);
        assert_int_equal((uintptr_t)d % 8, 0);
        if (n)
            assert_memory_equal(d, data + k, n);
    }
    assert_null(eta_ckpt_name(r, 7));
    assert_null(eta_ckpt_name(r, -1));
    const void *d = (const void *)1;
    size_t n = 5;
    assert_int_equal(eta_ckpt_get(r, "section 9", &d, &n), ETA_ENOTFOUND);
    assert_null(d);
    assert_int_equal(n, 0);
    /* adding to a container that was read, then writing it again */
    assert_int_equal(eta_ckpt_add(r, "extra", "x", 1), ETA_OK);
    assert_int_equal(eta_ckpt_write(r, path, &err), ETA_OK);
    eta_ckpt_free(r);
    assert_int_equal(eta_ckpt_read(&r, path, &err), ETA_OK);
    assert_int_equal(eta_ckpt_count(r), 8);
    assert_int_equal(eta_ckpt_get(r, "extra", &d, &n), ETA_OK);
    assert_memory_equal(d, "x", 1);
    eta_ckpt_free(r);
    /* an empty container */
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    assert_int_equal(eta_ckpt_write(c, path, &err), ETA_OK);
    eta_ckpt_free(c);
    assert_int_equal(eta_ckpt_read(&r, path, &err), ETA_OK);
    assert_int_equal(eta_ckpt_count(r), 0);
    eta_ckpt_free(r);
    eta_ckpt_free(NULL);
    free(mem);
    free(file);
    free(data);
}

static void test_add_errors(void **state)
{
    (void)state;
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    char longname[300];
    memset(longname, 'a', sizeof longname);
    longname[256] = 0;
    assert_int_equal(eta_ckpt_add(c, "", "x", 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_add(c, longname, "x", 1), ETA_EINVAL);
    longname[255] = 0;
    assert_int_equal(eta_ckpt_add(c, longname, "x", 1), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "tab\there", "x", 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_add(c, "caf\xc3\xa9", "x", 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_add(c, "a", NULL, 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_add(c, "a", "x", 1), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "a", "y", 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_add(NULL, "b", "y", 1), ETA_EINVAL);
    assert_int_equal(eta_ckpt_count(c), 2);
    eta_ckpt_free(c);
}

/* from_bytes(b, n) fails with ETA_EFORMAT; the message has every part. */
static void expect_refused(const void *b, size_t n, const char *const *parts, const char *why)
{
    eta_ckpt *c = (eta_ckpt *)1;
    eta_err err;
    int rc = eta_ckpt_from_bytes(&c, b, n, "t.ckpt", &err);
    if (rc != ETA_EFORMAT)
        fail_msg("%s: expected ETA_EFORMAT, got %d (%s)", why, rc, err.msg);
    assert_null(c);
    assert_int_equal(err.code, ETA_EFORMAT);
    if (strncmp(err.msg, "t.ckpt: ", 8))
        fail_msg("%s: message does not name the file: %s", why, err.msg);
    for (int i = 0; parts && parts[i]; i++)
        if (!strstr(err.msg, parts[i]))
            fail_msg("%s: message '%s' lacks '%s'", why, err.msg, parts[i]);
}

/* The offset of `name`'s data in the small checkpoint. */
static size_t data_start(unsigned char *b, const char *name)
{
    const unsigned char *p = find_bytes((unsigned char *)b, 200, name);
    assert_non_null(p);
    size_t o = (size_t)(p - b) + strlen(name);
    return (o + 7) & ~(size_t)7;
}

static void test_every_byte_changed(void **state)
{
    (void)state;
    unsigned char *b;
    size_t n;
    small_bytes((void **)&b, &n);
    eta_ckpt *c;
    eta_err err;
    assert_int_equal(eta_ckpt_from_bytes(&c, b, n, NULL, &err), ETA_OK);
    eta_ckpt_free(c);
    size_t model = data_start(b, "model"), optim = data_start(b, "optim state");
    static const unsigned char masks[] = {0x01, 0x80, 0xff};
    char why[64];
    for (size_t i = 0; i < n; i++)
        for (int m = 0; m < 3; m++) {
            b[i] ^= masks[m];
            snprintf(why, sizeof why, "byte %zu ^ 0x%02x", i, masks[m]);
            const char *model_parts[] = {"section 'model'", "offset", NULL};
            const char *optim_parts[] = {"section 'optim state'", "offset", NULL};
            const char *any[] = {"offset", NULL};
            expect_refused(b, n, i >= model && i < model + 19 ? model_parts
                                 : i >= optim && i < optim + 3 ? optim_parts : any, why);
            b[i] ^= masks[m];
        }
    free(b);
}

static void test_every_truncation(void **state)
{
    (void)state;
    unsigned char *b;
    size_t n;
    small_bytes((void **)&b, &n);
    size_t model = data_start(b, "model");
    char why[64];
    for (size_t len = 0; len < n; len++) {
        snprintf(why, sizeof why, "cut at %zu of %zu", len, n);
        const char *cut_model[] = {"truncated", "section 'model'", NULL};
        const char *cut[] = {"truncated", NULL};
        /* copied so ASan sees a read past the cut */
        unsigned char *t = malloc(len ? len : 1);
        memcpy(t, b, len);
        expect_refused(t, len, len > model && len < model + 19 ? cut_model : cut, why);
        free(t);
    }
    /* bytes after the end */
    unsigned char *longer = malloc(n + 5);
    memcpy(longer, b, n);
    memset(longer + n, 0, 5);
    const char *after[] = {"bytes after the end", "offset 16", NULL};
    expect_refused(longer, n + 5, after, "5 bytes appended");
    free(longer);
    /* through a file: the message starts with its path */
    TMP_PATH(path, "cut.ckpt");
    FILE *f = fopen(path, "wb");
    assert_int_equal(fwrite(b, 1, n - 9, f), n - 9);
    fclose(f);
    eta_ckpt *c;
    eta_err err;
    assert_int_equal(eta_ckpt_read(&c, path, &err), ETA_EFORMAT);
    assert_null(c);
    if (strncmp(err.msg, path, strlen(path)) || !strstr(err.msg, "truncated"))
        fail_msg("%s", err.msg);
    assert_int_equal(eta_ckpt_read(&c, in_tmp("missing.ckpt"), &err), ETA_EIO);
    assert_non_null(strstr(err.msg, "No such file"));
    free(b);
}

/* Sets the trailer to the CRC of what precedes it. */
static void fix_crc(unsigned char *b, size_t n)
{
    uint32_t crc = eta_crc32(0, b, n - 4);
    for (int i = 0; i < 4; i++)
        b[n - 4 + i] = (unsigned char)(crc >> (8 * i));
}

static void test_names_and_versions(void **state)
{
    (void)state;
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "aa", "1", 1), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "ab", "2", 1), ETA_OK);
    unsigned char *b;
    size_t n;
    assert_int_equal(eta_ckpt_to_bytes(c, (void **)&b, &n), ETA_OK);
    eta_ckpt_free(c);
    unsigned char *p = find_bytes(b, n, "ab");
    p[1] = 'a'; /* two sections named "aa", every CRC right */
    fix_crc(b, n);
    const char *dup[] = {"section 'aa' at offset 56", "used twice", NULL};
    expect_refused(b, n, dup, "repeated name");
    p[1] = '\n';
    fix_crc(b, n);
    const char *ctl[] = {"section 1 at offset 56", "not printable", NULL};
    expect_refused(b, n, ctl, "control character in a name");
    p[1] = 'b';
    b[8] = 2; /* version 2 */
    fix_crc(b, n);
    const char *ver[] = {"format version 2 (offset 8)", NULL};
    expect_refused(b, n, ver, "version 2");
    b[8] = 1;
    b[0] = 'X';
    const char *magic[] = {"not an eta checkpoint", NULL};
    expect_refused(b, n, magic, "magic");
    expect_refused("PK\x03\x04", 4, magic, "a zip file");
    free(b);
}

static void write_bytes(const char *path, const void *b, size_t n)
{
    eta_err err;
    const void *parts[] = {b};
    if (eta_file_write_atomic(path, parts, &n, 1, &err))
        fail_msg("%s", err.msg);
}

static void test_files(void **state)
{
    (void)state;
    eta_err err;
    TMP_PATH(path, "f.bin");
    const void *parts[] = {"abc", NULL, "defg"};
    size_t lens[] = {3, 0, 4};
    assert_int_equal(eta_file_write_atomic(path, parts, lens, 3, &err), ETA_OK);
    void *d;
    size_t n;
    assert_int_equal(eta_file_read_all(path, &d, &n, &err), ETA_OK);
    assert_int_equal(n, 7);
    assert_string_equal(d, "abcdefg"); /* NUL-terminated */
    free(d);
    assert_int_equal(eta_file_read_max(path, 6, &d, &n, &err), ETA_EINVAL);
    assert_null(d);
    assert_non_null(strstr(err.msg, "7 bytes, more than the limit of 6"));
    assert_int_equal(eta_file_read_max(path, 7, &d, &n, &err), ETA_OK);
    free(d);
    assert_int_equal(eta_file_write_atomic(path, NULL, NULL, 0, &err), ETA_OK); /* empty */
    assert_int_equal(eta_file_read_all(path, &d, &n, &err), ETA_OK);
    assert_int_equal(n, 0);
    free(d);
    assert_int_equal(eta_file_read_all(tmpdir, &d, &n, &err), ETA_EIO);
    assert_non_null(strstr(err.msg, "Is a directory"));
    assert_int_equal(eta_file_read_all("/dev/null", &d, &n, &err), ETA_OK); /* not a regular file */
    assert_int_equal(n, 0);
    free(d);
    parts[1] = NULL;
    lens[1] = 2;
    assert_int_equal(eta_file_write_atomic(path, parts, lens, 3, &err), ETA_EINVAL);
    assert_int_equal(eta_file_write_atomic(in_tmp("dir/"), parts, lens, 1, &err), ETA_EINVAL);
    assert_int_equal(eta_file_write_atomic("", parts, lens, 1, &err), ETA_EINVAL);
    assert_int_equal(count_files("f.bin.tmp"), 0);
}

/* A small valid checkpoint at path, its bytes in *b. */
static size_t previous(const char *path, unsigned char **b)
{
    size_t n;
    small_bytes((void **)b, &n);
    write_bytes(path, *b, n);
    return n;
}

static void expect_intact(const char *path, const unsigned char *b, size_t n, const char *tmp_prefix)
{
    size_t got;
    char *now = read_file(path, &got);
    assert_non_null(now);
    assert_int_equal(got, n);
    assert_memory_equal(now, b, n);
    free(now);
    assert_int_equal(count_files(tmp_prefix), 0);
}

/* A checkpoint of `size` bytes of data. */
static eta_ckpt *big(size_t size)
{
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    unsigned char *d = calloc(size, 1);
    assert_int_equal(eta_ckpt_add(c, "data", d, size), ETA_OK);
    free(d);
    return c;
}

static void test_failed_writes_keep_previous(void **state)
{
    (void)state;
    eta_err err;
    unsigned char *b;
    TMP_PATH(path, "keep.ckpt");
    size_t n = previous(path, &b);
    eta_ckpt *c = big(100000);

    /* a missing folder */
    TMP_PATH(missing, "no/such/folder/keep.ckpt");
    assert_int_equal(eta_ckpt_write(c, missing, &err), ETA_EIO);
    if (!strstr(err.msg, missing) || !strstr(err.msg, "No such file or directory"))
        fail_msg("%s", err.msg);

    /* a folder where the file should be: the rename fails, the temporary file goes */
    mkdir(in_tmp("adir"), 0755);
    assert_int_equal(eta_ckpt_write(c, in_tmp("adir"), &err), ETA_EIO);
    if (!strstr(err.msg, "renaming") || !strstr(err.msg, "Is a directory"))
        fail_msg("%s", err.msg);
    assert_int_equal(count_files("adir.tmp"), 0);

    /* the file size limit hit midway (EFBIG), in a child */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit rl = {20000, 20000};
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int rc = eta_ckpt_write(c, path, &err);
        _exit(rc == ETA_EIO && strstr(err.msg, "writing: File too large") ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    expect_intact(path, b, n, "keep.ckpt.tmp");

    /* a read-only folder, as an unprivileged user (root writes anywhere) */
    assert_int_equal(chmod(tmpdir, 0555), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(77);
        int rc = eta_ckpt_write(c, path, &err);
        _exit(rc == ETA_EIO && strstr(err.msg, "Permission denied") && strstr(err.msg, "temporary") ? 0 : 1);
    }
    waitpid(pid, &st, 0);
    assert_int_equal(chmod(tmpdir, 0700), 0);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        print_message("read-only folder: skipped (cannot drop privileges)\n");
    else
        assert_int_equal(WEXITSTATUS(st), 0);
    expect_intact(path, b, n, "keep.ckpt.tmp");

    /* and a write that works replaces it */
    assert_int_equal(eta_ckpt_write(c, path, &err), ETA_OK);
    eta_ckpt *r;
    assert_int_equal(eta_ckpt_read(&r, path, &err), ETA_OK);
    eta_ckpt_free(r);
    eta_ckpt_free(c);
    free(b);
}

/* ---- SIGKILL while writing ---------------------------------------------- */

enum { KILL_SIZE = 8 << 20 };

/* Generation g: "gen" and "tail" hold g, "data" a pattern of g. */
static eta_ckpt *generation(uint64_t g, unsigned char *scratch)
{
    eta_ckpt *c;
    assert_int_equal(eta_ckpt_new(&c), ETA_OK);
    for (size_t i = 0; i < KILL_SIZE; i++)
        scratch[i] = (unsigned char)(g * 31 + i * 7);
    assert_int_equal(eta_ckpt_add(c, "gen", &g, 8), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "data", scratch, KILL_SIZE), ETA_OK);
    assert_int_equal(eta_ckpt_add(c, "tail", &g, 8), ETA_OK);
    return c;
}

/* Reads path: a complete checkpoint of one generation, returned. */
static uint64_t read_generation(const char *path)
{
    eta_ckpt *c;
    eta_err err;
    if (eta_ckpt_read(&c, path, &err))
        fail_msg("after a kill: %s", err.msg);
    const void *g, *t, *d;
    size_t n;
    assert_int_equal(eta_ckpt_get(c, "gen", &g, &n), ETA_OK);
    assert_int_equal(n, 8);
    assert_int_equal(eta_ckpt_get(c, "tail", &t, &n), ETA_OK);
    assert_memory_equal(g, t, 8);
    uint64_t gen;
    memcpy(&gen, g, 8);
    assert_int_equal(eta_ckpt_get(c, "data", &d, &n), ETA_OK);
    assert_int_equal(n, KILL_SIZE);
    for (size_t i = 0; i < KILL_SIZE; i += 4093)
        assert_int_equal(((const unsigned char *)d)[i], (unsigned char)(gen * 31 + i * 7));
    eta_ckpt_free(c);
    return gen;
}

/* Waits (up to a minute) until a temporary file of path exists with
 * 0 < size < full. */
static bool wait_half_written(const char *prefix, size_t full)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (t = t0; t.tv_sec - t0.tv_sec < 60; clock_gettime(CLOCK_MONOTONIC, &t)) {
        DIR *d = opendir(tmpdir);
        struct dirent *e;
        bool found = false;
        while (!found && (e = readdir(d))) {
            struct stat st;
            if (!strncmp(e->d_name, prefix, strlen(prefix)) && stat(in_tmp(e->d_name), &st) == 0 &&
                st.st_size > 0 && (size_t)st.st_size < full)
                found = true;
        }
        closedir(d);
        if (found)
            return true;
    }
    return false;
}

static void test_sigkill_while_writing(void **state)
{
    (void)state;
    TMP_PATH(path, "kill.ckpt");
    unsigned char *scratch = malloc(KILL_SIZE);
    eta_err err;
    eta_ckpt *c = generation(0, scratch);
    assert_int_equal(eta_ckpt_write(c, path, &err), ETA_OK);
    eta_ckpt_free(c);
    uint64_t seen = 0, next = 1000;
    srand((unsigned)time(NULL));
    for (int trial = 0; trial < 12; trial++) {
        bool half = trial % 2 == 1;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) { /* writes generations next, next+1, ... until killed */
            for (uint64_t g = next;; g++) {
                eta_ckpt *w = generation(g, scratch);
                if (eta_ckpt_write(w, path, &err))
                    _exit(1);
                eta_ckpt_free(w);
            }
        }
        if (half)
            assert_true(wait_half_written("kill.ckpt.tmp", KILL_SIZE));
        else
            nanosleep(&(struct timespec){0, (long)(rand() % 300) * 1000000L}, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        uint64_t g = read_generation(path);
        assert_true(g == seen || g >= next); /* the last complete one, or a new one */
        seen = g;
        next += 1000;
    }
    int leftovers = count_files("kill.ckpt.tmp");
    print_message("12 kills: %d temporary files left behind, last generation %llu\n", leftovers,
                  (unsigned long long)seen);
    assert_true(leftovers >= 1); /* the kills did land mid-write */
    /* a garbage file with a temporary file's name does not confuse either */
    FILE *f = fopen(in_tmp("kill.ckpt.tmp.1.2"), "wb");
    fputs("garbage", f);
    fclose(f);
    assert_true(read_generation(path) == seen);
    c = generation(7, scratch);
    assert_int_equal(eta_ckpt_write(c, path, &err), ETA_OK);
    eta_ckpt_free(c);
    assert_true(read_generation(path) == 7);
    remove_files("kill.ckpt.tmp");
    free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_every_byte_changed),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_names_and_versions),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_failed_writes_keep_previous),
        cmocka_unit_test(test_sigkill_while_writing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
