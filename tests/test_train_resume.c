/* tests/test_train_resume.c - a training run killed with SIGKILL and
 * resumed with `eta train --resume` ends byte for byte where the same run
 * left alone ends; a run killed in the middle of writing a checkpoint
 * resumes from the previous one; a truncated or corrupted checkpoint is
 * refused, and the refused attempt changes nothing in the run directory.
 * labels: cli full fault
 *
 * The runs are the eta binary (fork/exec, ETA_BIN), on Fashion-MNIST (the
 * Debian package; the tests skip, saying so, without it), one thread, 240
 * steps of a small MLP with Dropout (the network's random stream), a
 * checkpoint every 5 steps and the guard on, in two configs:
 *   onecycle  SGD with momentum, OneCycleLR(max_lr=4), gradient accumulation
 *             over 2 batches: max_lr=4 is too high on purpose, so the guard
 *             rolls back (its snapshot, tries and lr scale are in the
 *             checkpoint);
 *   plateau   AdamW, a linear warm-up then ReduceLROnPlateau fed the
 *             validation loss every 20 steps (the plateau's state);
 *   schedfree AdamWScheduleFree on an MLP with BatchNorm: checkpoints hold
 *             the evaluation point x, evaluations recompute the running
 *             statistics there, and the next step switches back to y.
 * What is compared with the uninterrupted run: model.safetensors byte for
 * byte; metrics.csv field for field except samples_per_s (wall-clock
 * throughput: the only column that depends on timing); layers.csv byte for
 * byte; metrics.jsonl with samples_per_s and the run directory's name left
 * out (every step, evaluation, guard event and message otherwise).
 *
 * Kill points: the parent watches metrics.csv and sends SIGKILL a chosen
 * delay (0-39 ms: a step takes a few) after it holds a chosen number of
 * rows; both are drawn from a seeded generator (seed printed; ETA_TEST_SEED
 * overrides it) and printed with the rows at the kill, the step of the
 * checkpoint the resume starts from, and a temporary checkpoint file when
 * the kill came in the middle of writing one.
 * The kill in a checkpoint uses the fault hook of src/train/run_ckpt.c
 * (ETA_FAULT_KILL_IN_CHECKPOINT=N: the N-th checkpoint is left as a
 * complete temporary file, then SIGKILL before the rename).
 */
#include "train_harness.h"

#include <eta/eta.h>

enum { STEPS = 240, CKPT_EVERY = 5, KILLS = 3 };

static const char *const CONFIG_ONECYCLE =
    "[data]\n"
    "spec = FashionMNIST(flatten=True, normalize=True, val=1000)\n"
    "batch_size = 64\n"
    "[model]\n"
    "spec = Sequential(Linear(784, 128), ReLU(), Dropout(0.2), Linear(128, 10))\n"
    "[optimizer]\n"
    "spec = SGD(lr=0.05, momentum=0.9)\n"
    "[schedule]\n"
    "spec = OneCycleLR(max_lr=4)\n"
    "[train]\n"
    "steps = 240\n"
    "accumulate = 2\n"
    "threads = 1\n"
    "eval_every = 40\n"
    "seed = 3\n"
    TRAIN_CONFIG_TAIL;

static const char *const CONFIG_SCHEDFREE =
    "[data]\n"
    "spec = FashionMNIST(flatten=True, normalize=True, val=1000)\n"
    "batch_size = 64\n"
    "[model]\n"
    "spec = Sequential(Linear(784, 64), BatchNorm1d(64), ReLU(), Dropout(0.2), Linear(64, 10))\n"
    "[optimizer]\n"
    "spec = AdamWScheduleFree(lr=0.005, warmup_steps=20, weight_decay=0.01)\n"
    "[train]\n"
    "steps = 240\n"
    "threads = 1\n"
    "eval_every = 40\n"
    "seed = 3\n"
    TRAIN_CONFIG_TAIL;

static char root[64];
static uint64_t seed;

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_train_resume_XXXXXX");
    if (train_root_make(root))
        return -1;
    const char *s = getenv("ETA_TEST_SEED");
    seed = s && *s ? strtoull(s, NULL, 10) : 20240909;
    if (!seed)
        seed = 1;
    print_message("kill points from seed %llu (ETA_TEST_SEED overrides it)\n", (unsigned long long)seed);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

/* The step a checkpoint (or a complete temporary one) was written at: the
 * first counter of its "state" section (src/train/run_ckpt.c: u64 version,
 * u64 step, little-endian). */
static int64_t ckpt_step(const char *path)
{
    eta_ckpt *c;
    eta_err err;
    if (eta_ckpt_read(&c, path, &err))
        fail_msg("%s", err.msg);
    const void *p;
    size_t n;
    assert_int_equal(eta_ckpt_get(c, "state", &p, &n), 0);
    assert_true(n >= 16);
    const unsigned char *b = p;
    uint64_t step = 0;
    for (int i = 7; i >= 0; i--)
        step = step << 8 | b[8 + i];
    eta_ckpt_free(c);
    return (int64_t)step;
}

/* The name of a temporary checkpoint left in dir, or "" (static). */
static const char *stray_tmp(const char *dir)
{
    static char name[512];
    name[0] = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, "checkpoint.eta.tmp.", 19))
            snprintf(name, sizeof name, "%s", e->d_name);
    closedir(d);
    return name;
}

/* Writes a config into the root folder; returns its path (static). */
static const char *put_config(const char *name, const char *text)
{
    return put_text(root, name, text);
}

/* The uninterrupted run of a config, once per file: its directory. */
static const char *reference(const char *name, const char *text)
{
    enum { CONFIGS = 3 };
    static char dirs[CONFIGS][256];
    static char names[CONFIGS][32];
    int i = 0;
    for (; i < CONFIGS && names[i][0]; i++)
        if (!strcmp(names[i], name))
            return dirs[i];
    assert_true(i < CONFIGS);
    char cfg[256], file[64];
    snprintf(file, sizeof file, "%s.ini", name);
    snprintf(cfg, sizeof cfg, "%s", put_config(file, text));
    snprintf(dirs[i], sizeof dirs[i], "%s/ref-%s", root, name);
    const char *argv[] = {"train", cfg, "--dir", dirs[i], "--quiet", NULL};
    double t0 = test_now();
    free(eta_expect(0, argv, NULL, NULL));
    snprintf(names[i], sizeof names[i], "%s", name);
    print_message("%s: the uninterrupted run took %.2f s\n", name, test_now() - t0);
    return dirs[i];
}

/* dir/name holds the bytes of ref/name. */
static void expect_same_file(const char *ref, const char *dir, const char *name)
{
    char a[1024], b[1024];
    long at;
    snprintf(a, sizeof a, "%s/%s", ref, name);
    snprintf(b, sizeof b, "%s/%s", dir, name);
    if (!same_bytes(a, b, &at))
        fail_msg("%s differs from the uninterrupted run's from byte %ld", b, at);
}

/* The resumed run in dir ends as the uninterrupted one in ref did. */
static void expect_same_run(const char *ref, const char *dir)
{
    char a[1024], b[1024];
    expect_same_file(ref, dir, "model.safetensors");
    expect_same_file(ref, dir, "layers.csv");
    snprintf(a, sizeof a, "%s/metrics.csv", ref);
    snprintf(b, sizeof b, "%s/metrics.csv", dir);
    int rows = same_csv_except(a, b, "samples_per_s");
    assert_int_equal(rows, STEPS + 1);
    snprintf(a, sizeof a, "%s/metrics.jsonl", ref);
    snprintf(b, sizeof b, "%s/metrics.jsonl", dir);
    char *ja = masked_text(a, "samples_per_s", ref, "RUN"), *jb = masked_text(b, "samples_per_s", dir, "RUN");
    if (strcmp(ja, jb)) {
        size_t i = 0, line = 1;
        for (; ja[i] && ja[i] == jb[i]; i++)
            line += ja[i] == '\n';
        fail_msg("%s differs from the uninterrupted run's at line %zu (samples_per_s left out)", b, line);
    }
    free(ja);
    free(jb);
}

/* Starts the run of cfg in dir, kills it `delay_ms` after metrics.csv
 * holds `target` rows (and a checkpoint exists), resumes it and compares.
 * The sink writes its rows out at checkpoints, so the rows grow in steps
 * of CKPT_EVERY at each checkpoint: the delay (a step takes a few ms) puts
 * the kill anywhere between two checkpoints, or inside one. */
static void kill_and_resume(const char *name, const char *cfg, const char *ref, int k, int target, int delay_ms)
{
    char dir[256], csv[300], ck[300];
    snprintf(dir, sizeof dir, "%s/%s-kill%d", root, name, k);
    snprintf(csv, sizeof csv, "%s/metrics.csv", dir);
    snprintf(ck, sizeof ck, "%s/checkpoint.eta", dir);
    const char *argv[] = {"train", cfg, "--dir", dir, "--quiet", NULL};
    pid_t pid = eta_spawn(argv, NULL, NULL, NULL);
    const struct timespec ms = {0, 1000000};
    for (;;) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            fail_msg("%s: the run ended (status %d) before metrics.csv had %d rows", name, st, target);
        if (count_lines(csv) - 1 >= target && file_exists(ck))
            break;
        nanosleep(&ms, NULL);
    }
    const struct timespec delay = {0, delay_ms * 1000000L};
    nanosleep(&delay, NULL);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(eta_wait(pid), -SIGKILL);
    int rows = count_lines(csv) - 1;
    int64_t from = ckpt_step(ck);
    assert_true(from > 0 && from < STEPS);
    const char *tmp = stray_tmp(dir);
    print_message("%s: kill %d at row %d + %d ms: %d rows at the kill, resumed from step %lld%s%s\n", name, k, target,
                  delay_ms, rows, (long long)from, *tmp ? "; left mid-checkpoint: " : "", tmp);
    const char *resume[] = {"train", "--resume", dir, "--quiet", NULL};
    free(eta_expect(0, resume, NULL, NULL));
    expect_same_run(ref, dir);
}

static void kills(const char *name, const char *text)
{
    SKIP_UNLESS_FMNIST();
    const char *ref = reference(name, text);
    char cfg[256];
    snprintf(cfg, sizeof cfg, "%s/%s.ini", root, name);
    for (int k = 0; k < KILLS; k++) {
        /* rows 2 checkpoints in to 20 steps before the end */
        int target = 2 * CKPT_EVERY + (int)(test_rand(&seed) % (STEPS - 20 - 2 * CKPT_EVERY));
        kill_and_resume(name, cfg, ref, k, target, (int)(test_rand(&seed) % 40));
    }
}

/* OneCycleLR, accumulation, dropout, the guard rolling back. */
static void test_kill_resume_onecycle(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *ref = reference("onecycle", CONFIG_ONECYCLE);
    char *j = read_file(path_in(ref, "metrics.jsonl"), NULL);
    int rollbacks = 0;
    for (const char *p = j; (p = strstr(p, "\"action\":\"rollback\"")); p++)
        rollbacks++;
    free(j);
    print_message("onecycle: the uninterrupted run rolls back %d times\n", rollbacks);
    assert_true(rollbacks >= 1); /* the guard's state is part of what must resume */
    kills("onecycle", CONFIG_ONECYCLE);
}

/* Warm-up, then ReduceLROnPlateau on the validation loss; dropout (and a
 * rollback at the end of the warm-up, a gradient-norm spike). */
static void test_kill_resume_plateau(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *ref = reference("plateau", TRAIN_CONFIG_PLATEAU);
    /* the plateau must have cut the lr for its state to matter */
    char *csv = read_file(path_in(ref, "metrics.csv"), NULL);
    char *last = csv + strlen(csv) - 2, *f[16];
    while (last > csv && *last != '\n')
        last--;
    assert_true(csv_fields(last + 1, f, 16) > 3); /* step,epoch,lr,... */
    double lr_end = strtod(f[2], NULL);
    free(csv);
    print_message("plateau: lr 0.003 after the warm-up, %g at the end\n", lr_end);
    assert_true(lr_end < 0.003 / 1.5);
    kills("plateau", TRAIN_CONFIG_PLATEAU);
}

/* The steps of a run's checkpoints in the order written: every step taken
 * that is a multiple of CKPT_EVERY (metrics.jsonl keeps the steps a guard
 * rollback undid, so a step retaken after one is listed again), then the
 * final checkpoint. Returns the count. */
static int checkpoint_steps(const char *ref, int64_t *steps, int max)
{
    char *j = read_file(path_in(ref, "metrics.jsonl"), NULL);
    assert_non_null(j);
    int n = 0;
    const char *key = "{\"type\":\"step\",\"step\":";
    for (const char *p = j; (p = strstr(p, key)); p++) {
        int64_t s = strtoll(p + strlen(key), NULL, 10);
        if (s % CKPT_EVERY == 0 && n < max)
            steps[n++] = s;
    }
    free(j);
    assert_true(n < max);
    steps[n++] = STEPS;
    return n;
}

/* Killed in the middle of writing checkpoint N (the fault hook): the
 * previous checkpoint is the one resumed from, and the run still ends
 * byte for byte as the uninterrupted one. */
static void kill_in_checkpoint(int n, const int64_t *steps)
{
    const char *ref = reference("plateau", TRAIN_CONFIG_PLATEAU);
    char cfg[256], dir[256], ck[300], env[64];
    snprintf(cfg, sizeof cfg, "%s/plateau.ini", root);
    snprintf(dir, sizeof dir, "%s/plateau-fault%d", root, n);
    snprintf(ck, sizeof ck, "%s/checkpoint.eta", dir);
    snprintf(env, sizeof env, "ETA_FAULT_KILL_IN_CHECKPOINT=%d", n);
    const char *argv[] = {"train", cfg, "--dir", dir, "--quiet", NULL};
    assert_int_equal(eta_wait(eta_spawn(argv, env, NULL, NULL)), -SIGKILL);
    const char *tmp = stray_tmp(dir);
    if (!*tmp)
        fail_msg("killed in checkpoint %d, but no temporary checkpoint was left in %s", n, dir);
    char tpath[1024 + 512];
    snprintf(tpath, sizeof tpath, "%s/%s", dir, tmp);
    int64_t in_tmp = ckpt_step(tpath);
    assert_int_equal(in_tmp, steps[n - 1]);
    assert_false(file_exists(path_in(dir, "model.safetensors")));
    const char *resume[] = {"train", "--resume", dir, "--quiet", NULL};
    if (n == 1) { /* no earlier checkpoint: nothing to resume, said so */
        assert_false(file_exists(ck));
        char *err = eta_expect(1, resume, NULL, NULL);
        expect_has("stderr", err, "checkpoint.eta");
        print_message("killed in checkpoint 1 (step %lld): no checkpoint.eta; --resume says: %s", (long long)in_tmp,
                      err);
        free(err);
        return;
    }
    int64_t from = ckpt_step(ck);
    print_message("killed in checkpoint %d (a complete temporary file of step %lld, %s): resumed from step %lld\n",
                  n, (long long)in_tmp, tmp, (long long)from);
    assert_int_equal(from, steps[n - 2]);
    free(eta_expect(0, resume, NULL, NULL));
    expect_same_run(ref, dir);
}

/* Schedule-Free: the checkpoints are at x (BatchNorm statistics recomputed
 * there at each evaluation); a resumed run switches back to y and ends where
 * the uninterrupted one does. */
static void test_kill_resume_schedule_free(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    kills("schedfree", CONFIG_SCHEDFREE);
}

static void test_kill_in_checkpoint(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    int64_t steps[4 * STEPS / CKPT_EVERY];
    int n = checkpoint_steps(reference("plateau", TRAIN_CONFIG_PLATEAU), steps, 4 * STEPS / CKPT_EVERY);
    print_message("plateau: %d checkpoints (the guard's rollback retakes some steps)\n", n);
    kill_in_checkpoint(1, steps);
    kill_in_checkpoint(2 + (int)(test_rand(&seed) % (uint64_t)(n - 2)), steps);
    kill_in_checkpoint(n, steps); /* the final checkpoint, before model.safetensors */
}

/* A resume refused: exit 1, a message naming the checkpoint and holding
 * `what`, the run directory unchanged. */
static void expect_refused(const char *dir, const char *what)
{
    size_t n0, n1;
    char *before = folder_image(dir, &n0);
    const char *resume[] = {"train", "--resume", dir, NULL};
    char *err = eta_expect(1, resume, NULL, NULL);
    expect_has("stderr", err, what);
    print_message("refused: %s", err);
    char *after = folder_image(dir, &n1);
    if (n0 != n1 || memcmp(before, after, n0))
        fail_msg("the refused resume of %s changed its files", dir);
    free(before);
    free(after);
    free(err);
}

static void test_damaged_checkpoint_refused(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    char cfg[256], dir[256], cmd[2048];
    snprintf(cfg, sizeof cfg, "%s", put_config("short.ini", TRAIN_CONFIG_PLATEAU));
    snprintf(dir, sizeof dir, "%s/short", root);
    const char *argv[] = {"train", cfg, "--dir", dir, "--set", "train.steps=10", "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    /* truncated: half of it */
    char cut[256], flip[256], conf[256];
    snprintf(cut, sizeof cut, "%s/cut", root);
    snprintf(flip, sizeof flip, "%s/flip", root);
    snprintf(conf, sizeof conf, "%s/conf", root);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp -r '%s' '%s' && cp -r '%s' '%s'", dir, cut, dir, flip, dir, conf);
    assert_int_equal(system(cmd), 0);
    char ck[300], want[400];
    snprintf(ck, sizeof ck, "%s/checkpoint.eta", cut);
    long size = file_size(ck);
    truncate_file(ck, size / 2);
    snprintf(want, sizeof want, "%s: truncated", ck);
    expect_refused(cut, want);
    /* one byte flipped in the middle */
    snprintf(ck, sizeof ck, "%s/checkpoint.eta", flip);
    FILE *f = fopen(ck, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    fputc(c ^ 0x10, f);
    assert_int_equal(fclose(f), 0);
    snprintf(want, sizeof want, "%s: section", ck);
    expect_refused(flip, want);
    expect_refused(flip, "CRC-32 mismatch");
    /* a config.ini edited after the checkpoint: not the run it saved */
    snprintf(cmd, sizeof cmd, "sed -i 's/^seed = 4$/seed = 5/' '%s/config.ini'", conf);
    assert_int_equal(system(cmd), 0);
    expect_refused(conf, "was written with another config");
    /* the intact copy resumes (a finished run: evaluated and saved again) */
    const char *resume[] = {"train", "--resume", dir, "--quiet", NULL};
    free(eta_expect(0, resume, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_resume_onecycle),
        cmocka_unit_test(test_kill_resume_plateau),
        cmocka_unit_test(test_kill_resume_schedule_free),
        cmocka_unit_test(test_kill_in_checkpoint),
        cmocka_unit_test(test_damaged_checkpoint_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
