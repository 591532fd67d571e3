/* tests/test_train_lrscale.c - [train] lr_scaling in eta train: the rate of
 * every step read back from metrics.csv against values computed by hand
 * (linear and sqrt factors, Goyal et al.'s gradual warm-up from the
 * reference rate, its default length of 5 epochs, the global batch counting
 * train.accumulate, a smaller batch scaled at once, the composition with a
 * schedule), the message in metrics.jsonl, k = 1 and lr_scaling = none (the
 * default) giving the bits of a run without the keys, a resumed run ending
 * with the bytes of an uninterrupted one, and the config errors.
 * labels: cli full
 *
 * Data: scikit-learn's iris CSV from data/ (ETA_DATA_DIR): 90 training
 * examples, 6 steps an epoch at batch 16; a test skips, saying so, when it
 * is missing. One thread, runs of a few steps.
 */
#include "train_harness.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_train_lrscale_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

/* Iris with Adam(lr=0.01): `batch` examples a batch, `steps` steps, a row
 * of metrics every step, the schedule `sched` ("" for none; line 5) and
 * more [train] lines (from line 15); a checkpoint every 2 steps, the last 8
 * kept. */
static const char *config(const char *name, int batch, int steps, const char *sched, const char *more)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nspec = CSV('sklearn/iris.csv', split='stratified')\nbatch_size = %d\n"
             "[schedule]\nspec = %s\n"
             "[model]\nspec = Sequential(Linear(4, 8), ReLU(), Linear(8, 3))\n"
             "[optimizer]\nspec = Adam(lr=0.01)\n"
             "[train]\nsteps = %d\nthreads = 1\nseed = 5\nlog_every = 1\n%s"
             "[output]\nplots = false\ncheckpoint_every = 2\nkeep_checkpoints = 8\n",
             batch, sched, steps, more);
    return put_text(root, name, text);
}

/* Trains config(...) into root/name; returns the run directory. */
static const char *train(const char *name, int batch, int steps, const char *sched, const char *more)
{
    static char dir[8][256];
    static int k;
    char *d = dir[k++ % 8];
    snprintf(d, 256, "%s/%s", root, name);
    char ini[300];
    snprintf(ini, sizeof ini, "%s.ini", name);
    const char *cfg = config(ini, batch, steps, sched, more);
    const char *argv[] = {"train", cfg, "--dir", d, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    return d;
}

/* A column of dir/metrics.csv (lr, loss, ...), one value per step (1 to
 * n). An evaluation's row has no lr: it is passed over; an evaluation that
 * shares its step's row (as the sink's flushes fall) is read as a step. */
static void read_column(const char *dir, const char *name, double *v, int n)
{
    char *t = read_file(path_in(dir, "metrics.csv"), NULL);
    if (!t)
        fail_msg("cannot read %s/metrics.csv", dir);
    char *save = NULL, *line = strtok_r(t, "\n", &save);
    char *f[64];
    int nf = csv_fields(line, f, 64), col = -1, scol = -1, lcol = -1;
    for (int i = 0; i < nf; i++) {
        if (!strcmp(f[i], name))
            col = i;
        if (!strcmp(f[i], "lr"))
            lcol = i;
        if (!strcmp(f[i], "step"))
            scol = i;
    }
    if (col < 0 || scol < 0 || lcol < 0)
        fail_msg("%s/metrics.csv has no step, lr or %s column", dir, name);
    int seen = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        nf = csv_fields(line, f, 64);
        if (nf <= col || nf <= lcol || !*f[lcol]) /* an evaluation's row */
            continue;
        int step = atoi(f[scol]);
        if (step < 1 || step > n)
            fail_msg("%s/metrics.csv: a row of step %d, expected 1 to %d", dir, step, n);
        v[step - 1] = strtod(f[col], NULL);
        seen++;
    }
    if (seen != n)
        fail_msg("%s/metrics.csv: %d step rows, expected %d", dir, seen, n);
    free(t);
}

/* Every step's lr is want[t] (t from 0) to a few ulps. */
static void expect_lr(const char *dir, const double *want, int n)
{
    double got[64];
    assert_true(n <= 64);
    read_column(dir, "lr", got, n);
    for (int t = 0; t < n; t++)
        if (fabs(got[t] - want[t]) > 1e-14 * want[t])
            fail_msg("%s: step %d: lr %.17g, expected %.17g", dir, t + 1, got[t], want[t]);
}

/* The two runs took the same n steps: the same rate and loss at each, to
 * the bit. (Not the files' bytes: how rows are cut at the sink's flushes
 * depends on the clock.) */
static void expect_same_steps(const char *a, const char *b, int n)
{
    const char *cols[2] = {"lr", "loss"};
    for (int c = 0; c < 2; c++) {
        double x[64], y[64];
        assert_true(n <= 64);
        read_column(a, cols[c], x, n);
        read_column(b, cols[c], y, n);
        for (int t = 0; t < n; t++)
            if (memcmp(&x[t], &y[t], sizeof x[t]))
                fail_msg("step %d: %s %.17g in %s, %.17g in %s", t + 1, cols[c], x[t], a, y[t], b);
    }
}

static void expect_log(const char *dir, const char *needle)
{
    char *js = read_file(path_in(dir, "metrics.jsonl"), NULL);
    expect_has("metrics.jsonl", js, needle);
    free(js);
}

static void expect_same_model(const char *a, const char *b)
{
    long at;
    if (!same_bytes(path_in(a, "model.safetensors"), path_in(b, "model.safetensors"), &at))
        fail_msg("%s/model.safetensors differs from %s's from byte %ld", b, a, at);
}

/* linear, batch 16 against 8: k = 2; a warm-up of half an epoch (3 steps)
 * goes 0.01, 0.01 x 4/3, 0.01 x 5/3, then 0.02. sqrt against 4 gives the
 * same factor 2, so the same model; linear against 32 halves the rate from
 * the first step (no warm-up down). A warm-up longer than the run is said. */
static void test_linear_and_sqrt_by_hand(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const int n = 8;
    double want[8];
    for (int t = 0; t < n; t++)
        want[t] = t < 3 ? 0.01 * (1.0 + (double)t / 3.0) : 0.01 * 2.0;
    const char *lin = train("linear", 16, n, "", "lr_scaling = linear\nreference_batch = 8\nlr_scaling_warmup = 0.5\n");
    expect_lr(lin, want, n);
    expect_log(lin, "\"lr_scaling linear: global batch 16 (data.batch_size 16 x train.accumulate 1), "
                    "train.reference_batch 8, k = 2.0: every rate x 2.0, reached by a linear warm-up from x 1 "
                    "over 3 steps (0.5 epochs)\"");
    const char *sq = train("sqrt", 16, n, "", "lr_scaling = sqrt\nreference_batch = 4\nlr_scaling_warmup = 0.5\n");
    expect_lr(sq, want, n);
    expect_log(sq, "lr_scaling sqrt: global batch 16 (data.batch_size 16 x train.accumulate 1), "
                   "train.reference_batch 4, k = 4.0: every rate x 2.0, reached by");
    expect_same_model(lin, sq);
    char *js = read_file(path_in(lin, "metrics.jsonl"), NULL);
    assert_null(strstr(js, "is longer than the run"));
    free(js);
    /* a warm-up longer than the run (the default, 5 epochs: 30 steps) is a warning */
    const char *shrt = train("short", 16, 4, "", "lr_scaling = linear\nreference_batch = 8\n");
    expect_log(shrt, "\"level\":\"warning\",\"text\":\"lr_scaling: the warm-up (30 steps) is longer than the run "
                     "(4 steps): its last step takes x 1.1 of the rates, not x 2.0; train.lr_scaling_warmup sets the "
                     "warm-up's length in epochs\"");
    /* a smaller batch: x 0.5 at once, whatever the warm-up */
    for (int t = 0; t < n; t++)
        want[t] = 0.01 * 0.5;
    const char *down = train("down", 16, n, "", "lr_scaling = linear\nreference_batch = 32\n");
    expect_lr(down, want, n);
    expect_log(down, "k = 0.5: every rate x 0.5 from the first step (no warm-up when the batch is smaller");
    /* no warm-up: x 2 from the first step */
    for (int t = 0; t < n; t++)
        want[t] = 0.01 * 2.0;
    const char *now = train("now", 16, n, "", "lr_scaling = linear\nreference_batch = 8\nlr_scaling_warmup = 0\n");
    expect_lr(now, want, n);
    expect_log(now, "every rate x 2.0 from the first step (train.lr_scaling_warmup = 0)");
}

/* The global batch is batch_size x accumulate (8 x 2 = 16 against 4: k = 4,
 * sqrt: 2); 6 steps an epoch, so the default warm-up of 5 epochs is 30
 * steps; the factor multiplies the schedule's rate (LinearLR from 0.5 to 1
 * over 4 steps). */
static void test_default_warmup_accumulate_schedule(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const int n = 40;
    double want[40];
    for (int t = 0; t < n; t++) {
        double sched = 0.01 * (0.5 + 0.5 * (t < 4 ? t : 4) / 4.0);
        want[t] = sched * (t < 30 ? 1.0 + (double)t / 30.0 : 2.0);
    }
    const char *d = train("acc", 8, n, "LinearLR(start_factor=0.5, total_iters=4)",
                          "accumulate = 2\nlr_scaling = sqrt\nreference_batch = 4\n");
    expect_lr(d, want, n);
    expect_log(d, "lr_scaling sqrt: global batch 16 (data.batch_size 8 x train.accumulate 2), "
                  "train.reference_batch 4, k = 4.0: every rate x 2.0, reached by a linear warm-up from x 1 "
                  "over 30 steps (5.0 epochs)");
}

/* k = 1 (either rule) and lr_scaling = none, written or by default with a
 * reference_batch given, end with the bytes of a run without the keys; a
 * OneCycleLR schedule sets the rate every step. */
static void test_identity(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *sched = "OneCycleLR(max_lr=0.05)";
    const char *base = train("base", 16, 12, sched, "");
    const char *same[4] = {
        train("k1-linear", 16, 12, sched, "lr_scaling = linear\nreference_batch = 16\n"),
        train("k1-sqrt", 16, 12, sched, "lr_scaling = sqrt\nreference_batch = 16\nlr_scaling_warmup = 1\n"),
        train("none", 16, 12, sched, "lr_scaling = none\nreference_batch = 64\n"),
        train("default", 16, 12, sched, "reference_batch = 64\n"),
    };
    for (int i = 0; i < 4; i++) {
        expect_same_model(base, same[i]);
        expect_same_steps(base, same[i], 12);
    }
    expect_log(same[0], "train.reference_batch 16, k = 1.0: factor 1, the rates as written");
    char *js = read_file(path_in(same[3], "metrics.jsonl"), NULL);
    assert_null(strstr(js, "lr_scaling"));
    free(js);
    /* and a factor other than 1 does change the model */
    const char *two = train("k2", 16, 12, sched, "lr_scaling = linear\nreference_batch = 8\n");
    long at;
    assert_false(same_bytes(path_in(base, "model.safetensors"), path_in(two, "model.safetensors"), &at));
}

/* A run resumed from its checkpoint at step 2, inside a warm-up of 6 steps,
 * ends with the uninterrupted run's model and metrics. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *a = train("full", 16, 12, "", "lr_scaling = linear\nreference_batch = 4\nlr_scaling_warmup = 1\n");
    char b[300], cmd[2048];
    snprintf(b, sizeof b, "%s/resumed", root);
    snprintf(cmd, sizeof cmd,
             "cp -r '%s' '%s' && cp '%s/checkpoint-2.eta' '%s/checkpoint.eta' && rm '%s/model.safetensors'", a, b,
             b, b, b);
    assert_int_equal(system(cmd), 0);
    const char *argv[] = {"train", "--resume", b, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    expect_same_model(a, b);
    expect_same_steps(a, b, 12);
    double want[12];
    for (int t = 0; t < 12; t++)
        want[t] = t < 6 ? 0.01 * (1.0 + 3.0 * t / 6.0) : 0.04;
    expect_lr(b, want, 12);
}

/* Each error names the key, where it was written, and what to do; no run
 * directory is made. */
static void test_errors(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    char dir[300];
    snprintf(dir, sizeof dir, "%s/bad", root);
    const struct {
        const char *more, *set, *msg;
    } cases[] = {
        {"lr_scaling = linear\n", NULL,
         "bad0.ini:15:14: train.lr_scaling: linear scaling needs train.reference_batch, the global batch the "
         "rates were tuned for (this run's is 16: data.batch_size 16 x train.accumulate 1)"},
        {"lr_scaling = sqrt\nreference_batch = 0\n", NULL, "bad1.ini:15:14: train.lr_scaling: sqrt scaling needs"},
        {"lr_scaling = cubic\nreference_batch = 8\n", NULL,
         "train.lr_scaling: unknown value 'cubic'; valid values: none, linear, sqrt"},
        {"reference_batch = -8\n", NULL, "train.reference_batch must be"},
        {"lr_scaling_warmup = -1\n", NULL, "train.lr_scaling_warmup must be in [0, 1e+06], got -1"},
        {"lr_scaling = linear\nreference_batch = 8\n", "optimizer.lr=auto",
         "train.lr_scaling: optimizer.lr = auto finds the rate at this run's own batch"},
        {"", "train.lr_scaling=sqrt", "--set train.lr_scaling: sqrt scaling needs train.reference_batch"},
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%d.ini", i);
        const char *cfg = config(name, 16, 4, "", cases[i].more);
        const char *argv[] = {"train", cfg, "--dir", dir, cases[i].set ? "--set" : NULL, cases[i].set, NULL};
        char *err = eta_expect(2, argv, NULL, NULL);
        expect_has(name, err, cases[i].msg);
        free(err);
        assert_false(file_exists(dir));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_and_sqrt_by_hand),
        cmocka_unit_test(test_default_warmup_accumulate_schedule),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
