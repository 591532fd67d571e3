/* tests/test_train_run.c - whole training runs through the eta command:
 * the divergence guard on Fashion-MNIST with SGD(lr=10) (rollback with a
 * lower lr and a finite model; stop with a report; skip), evaluation after
 * a rollback, models in from PyTorch ([model] init) and out to PyTorch
 * (eta eval's test accuracy recomputed by torch from model.safetensors).
 * labels: cli full
 *
 * Data: Fashion-MNIST from the Debian package, scikit-learn's breast
 * cancer CSV from data/ (ETA_DATA_DIR); a test skips, saying so, when its
 * data is missing. PyTorch: Debian's /usr/bin/python3 with torch
 * (ETA_TORCH_PYTHON); the torch test skips without it. One thread, short
 * runs: each test a few seconds.
 */
#include "train_harness.h"

#include <strings.h>
#include <unistd.h>

#include <eta/eta.h>

#define MLP_SPEC "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_train_run_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

/* configs/fmnist-mlp.ini, as shipped. */
static const char *fmnist_config(void)
{
    static char path[1024];
    const char *src = getenv("ETA_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/configs/fmnist-mlp.ini", src ? src : ".");
    return path;
}

/* The run directory root/name (static, one of four). */
static const char *run_dir(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", root, name);
    return p;
}

/* How many times `needle` occurs in a file. */
static int count_in(const char *path, const char *needle)
{
    char *t = read_file(path, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    int n = 0;
    for (const char *p = t; (p = strstr(p, needle)); p++)
        n++;
    free(t);
    return n;
}

/* No NaN or Inf in any field of metrics.csv; returns its rows (header
 * left out) and the fields of the last one into last (strings into buf). */
static int csv_finite(const char *path, char *buf, size_t bufn, char **last, int *nlast)
{
    char *t = read_file(path, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    int rows = -1;
    char *save = NULL;
    for (char *line = strtok_r(t, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        rows++;
        for (char *p = line; *p; p++)
            if (!strncasecmp(p, "nan", 3) || !strncasecmp(p, "inf", 3))
                fail_msg("%s row %d holds a non-finite value: %s", path, rows, line);
        snprintf(buf, bufn, "%s", line);
    }
    free(t);
    *nlast = csv_fields(buf, last, 32);
    return rows;
}

/* Builds spec for inputs of `in` features and loads a safetensors file into
 * it (eta_net_load_safetensors refuses NaN and Inf); fails the test on error. */
static eta_net *load_model(const char *spec, int64_t in, const char *path)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, 1, 1, &in, &err) ||
        eta_net_load_safetensors(net, path, &err))
        fail_msg("%s: %s", path, err.msg);
    size_t n;
    const float *p = eta_net_params(net, &n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(p[i]))
            fail_msg("%s: parameter %zu is %g", path, i, (double)p[i]);
    return net;
}

/* ---- the guard -------------------------------------------------------- */

#define LR10 "optimizer=SGD(lr=10)", "schedule.spec="

/* Runs configs/fmnist-mlp.ini on one thread without plots into root/name,
 * with the --set assignments in sets (NULL-ended) and --quiet when quiet;
 * expects exit `want` and returns stderr. */
static char *train_fmnist(int want, const char *name, const char *const *sets, bool quiet)
{
    const char *argv[48] = {"train", fmnist_config(), "--dir", run_dir(name), "--set", "train.threads=1", "--set",
                            "output.plots=false"};
    int n = 8;
    for (int i = 0; sets[i] && n < 44; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    if (quiet)
        argv[n++] = "--quiet";
    argv[n] = NULL;
    return eta_expect(want, argv, NULL, NULL);
}

/* SGD(lr=10) without a schedule: the guard rolls back and halves the lr
 * until the run trains (4 tries: 10 -> 0.625); the run ends at its
 * epoch's end with a finite model and no NaN in its metrics. */
static void test_guard_rollback_recovers(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *dir = run_dir("lr10");
    char *err = train_fmnist(0, "lr10", (const char *[]){LR10, "train.epochs=1", NULL}, false); /* the default guard */
    expect_has("stderr", err, "rolled back to step 0, lr x 0.5 -> 5 (try 1)");
    expect_has("stderr", err, "lr x 0.5 -> 0.625 (try 4)");
    const char *js = path_in(dir, "metrics.jsonl");
    int rollbacks = count_in(js, "\"action\":\"rollback\"");
    print_message("lr=10: %d rollbacks (events in metrics.jsonl), lr 10 -> 0.625\n", rollbacks);
    assert_int_equal(rollbacks, 4);
    assert_int_equal(count_in(js, "\"lr_next\":0.625"), 1);
    assert_int_equal(count_in(js, "\"action\":\"stop\""), 0);
    char buf[4096], *last[32];
    int nf, rows = csv_finite(path_in(dir, "metrics.csv"), buf, sizeof buf, last, &nf);
    /* the rollbacks went to step 0: every kept row trained at 0.625; one
     * epoch is 430 batches, the first one spent on the diverging tries */
    assert_true(nf >= 3);
    assert_string_equal(last[1], "0");
    assert_true(strtod(last[2], NULL) == 0.625);
    print_message("lr=10: %d rows in metrics.csv, the last at step %s of epoch %s (the run's one epoch)\n", rows,
                  last[0], last[1]);
    assert_int_equal(rows, 429);
    assert_int_equal(count_in(js, "\"type\":\"eval\""), 1);
    eta_net_free(load_model(MLP_SPEC, 784, path_in(dir, "model.safetensors")));
    const char *acc = strstr(err, "test accuracy ");
    assert_non_null(acc);
    print_message("lr=10: %s", acc);
    assert_true(strtod(acc + 14, NULL) > 75);
    free(err);
}

/* Three tries are not enough for lr=10 on this model (why the default is
 * 5): the run stops at step 5 with the report, the model it had saved. */
static void test_guard_default_tries_stop(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *dir = run_dir("lr10-default");
    char *err =
        train_fmnist(1, "lr10-default", (const char *[]){LR10, "train.steps=50", "guard.max_tries=3", NULL}, true);
    print_message("default guard: %s", err);
    expect_has("stderr", err, "stopped at step 5: the smoothed loss");
    expect_has("stderr", err, "after 3 tries; try lr 0.625");
    expect_has("stderr", err, "(the lr at the last good snapshot / 10)\n"); /* the report in full, not cut */
    assert_int_equal(count_in(path_in(dir, "metrics.jsonl"), "\"action\":\"rollback\""), 3);
    eta_net_free(load_model(MLP_SPEC, 784, path_in(dir, "model.safetensors")));
    free(err);
}

/* output.keep_checkpoints = 3: checkpoint.eta and the two before it, as
 * checkpoint-STEP.eta; older ones are removed; the final checkpoint (the
 * same step as the last periodic one) does not push one out. */
static void test_keep_checkpoints(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *dir = run_dir("keep3");
    free(train_fmnist(0, "keep3",
                      (const char *[]){"train.steps=60", "output.checkpoint_every=10", "output.keep_checkpoints=3",
                                       NULL},
                      true));
    assert_int_equal(access(path_in(dir, "checkpoint.eta"), F_OK), 0);
    assert_int_equal(access(path_in(dir, "checkpoint-60.eta"), F_OK), 0);
    assert_int_equal(access(path_in(dir, "checkpoint-50.eta"), F_OK), 0);
    assert_int_not_equal(access(path_in(dir, "checkpoint-40.eta"), F_OK), 0);
    assert_int_not_equal(access(path_in(dir, "checkpoint-10.eta"), F_OK), 0);
}

/* guard.action=stop: the first trigger ends the run (exit 1) with the
 * report: the step, what was seen against what, the lr to try. */
static void test_guard_stop(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *dir = run_dir("lr10-stop");
    char *err =
        train_fmnist(1, "lr10-stop", (const char *[]){LR10, "train.steps=50", "guard.action=stop", NULL}, false);
    expect_has("stderr", err, "eta train: guard: stopped at step 1: the smoothed loss 31.24 is above the limit 9.283");
    expect_has("stderr", err, "lr at the time 10");
    expect_has("stderr", err, "try lr 5");
    const char *js = path_in(dir, "metrics.jsonl");
    assert_int_equal(count_in(js, "\"type\":\"guard\""), 1);
    assert_int_equal(count_in(js, "\"action\":\"stop\",\"trigger\":\"loss_above_best\""), 1);
    char buf[4096], *last[32];
    int nf;
    assert_int_equal(csv_finite(path_in(dir, "metrics.csv"), buf, sizeof buf, last, &nf), 1);
    eta_net_free(load_model(MLP_SPEC, 784, path_in(dir, "model.safetensors")));
    free(err);
}

/* guard.action=skip: with lr=10 every batch after the first update
 * diverges, each is skipped, and more than max_tries in a row stop the
 * run; with a tight spike rule at a sane lr, the spikes are skipped and
 * the run goes on to its last step. */
static void test_guard_skip(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *dir = run_dir("lr10-skip");
    char *err = train_fmnist(1, "lr10-skip", (const char *[]){LR10, "train.steps=50", "guard.action=skip", "guard.max_tries=3", NULL},
                             true);
    expect_has("stderr", err, "stopped at step 1");
    const char *js = path_in(dir, "metrics.jsonl");
    assert_int_equal(count_in(js, "\"action\":\"skip\""), 3);
    assert_int_equal(count_in(js, "\"action\":\"rollback\""), 0);
    eta_net_free(load_model(MLP_SPEC, 784, path_in(dir, "model.safetensors")));
    free(err);
    dir = run_dir("spike-skip");
    free(train_fmnist(0, "spike-skip",
                      (const char *[]){"train.steps=200", "guard.action=skip", "guard.z_threshold=3", "guard.window=50",
                                       "guard.warmup=50", NULL},
                      true));
    js = path_in(dir, "metrics.jsonl");
    int skips = count_in(js, "\"action\":\"skip\"");
    print_message("z-score 3 over 50 steps: %d batches skipped, the run went on to step 200\n", skips);
    assert_true(skips >= 1);
    char buf[4096], *last[32];
    int nf;
    assert_int_equal(csv_finite(path_in(dir, "metrics.csv"), buf, sizeof buf, last, &nf), 200);
    assert_string_equal(last[0], "200");
}

/* Prodigy's lr column is the rate it chose, d * lr (its "dlr"), not the lr
 * of its spec (1.0): d starts at d0 = 1e-6 and grows. */
static void test_metrics_lr_of_prodigy(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    free(train_fmnist(0, "prodigy", (const char *[]){"optimizer=Prodigy()", "schedule.spec=", "train.steps=30", NULL},
                      true));
    char *t = read_file(path_in(run_dir("prodigy"), "metrics.csv"), NULL);
    assert_non_null(t);
    assert_non_null(strstr(t, "step,epoch,lr,"));
    double first = 0, last = 0;
    int rows = 0;
    for (char *line = strchr(t, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double lr;
        assert_int_equal(sscanf(line + 1, "%*d,%*d,%lf,", &lr), 1);
        assert_true(isfinite(lr) && lr > 0 && lr < 1);
        if (!rows++)
            first = lr;
        last = lr;
    }
    print_message("Prodigy: lr column %g at step 1, %g at step %d\n", first, last, rows);
    assert_int_equal(rows, 30);
    assert_true(last > first);
    free(t);
}

/* A rollback to a step that was evaluated: the step is not evaluated
 * again (ReduceLROnPlateau would refuse the repeated metric and end the
 * run), nor checkpointed again. */
static void test_rollback_to_evaluated_step(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *cfg = put_text(root, "plateau.ini", TRAIN_CONFIG_PLATEAU);
    const char *dir = run_dir("plateau-eval10");
    const char *argv[] = {"train", cfg, "--dir", dir, "--set", "train.eval_every=10", "--set", "train.steps=40",
                          "--set", "guard.z_threshold=6", "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    const char *js = path_in(dir, "metrics.jsonl");
    assert_int_equal(count_in(js, "\"action\":\"rollback\",\"trigger\":\"grad_norm_spike\""), 1);
    assert_int_equal(count_in(js, "\"to_step\":10"), 1);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":10,"), 1);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":20,"), 2); /* before the rollback and after */
}

/* A run that ends between evaluations (train.eval_every does not divide
 * it, or train.steps ends inside an epoch) is evaluated at its end too: its
 * last val_loss is the trained model's, which a sweep ranks it by. */
static void test_end_is_evaluated(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = put_text(root, "digits-end.ini",
                               "[data]\nspec = CSV('sklearn/digits.csv.gz', split='stratified')\nbatch_size = 64\n"
                               "[model]\nspec = Sequential(Linear(64, 10))\n"
                               "[optimizer]\nspec = SGD(lr=0.01)\n"
                               "[train]\nsteps = 40\nthreads = 1\n[output]\nplots = false\n");
    const char *dir = run_dir("end-eval15");
    const char *argv[] = {"train", cfg, "--dir", dir, "--set", "train.eval_every=15", "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    const char *js = path_in(dir, "metrics.jsonl");
    assert_int_equal(count_in(js, "{\"type\":\"eval\","), 3);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":15,"), 1);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":30,"), 1);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":40,"), 1);
    /* every epoch (17 steps of 64 of the 1,077 training digits), then the end inside the third */
    const char *dir2 = run_dir("end-eval-epoch");
    const char *argv2[] = {"train", cfg, "--dir", dir2, "--quiet", NULL};
    free(eta_expect(0, argv2, NULL, NULL));
    js = path_in(dir2, "metrics.jsonl");
    assert_int_equal(count_in(js, "{\"type\":\"eval\","), 3);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":34,"), 1);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":40,"), 1);
    /* a run whose evaluations fall on its end is evaluated once there */
    const char *dir3 = run_dir("end-eval20");
    const char *argv3[] = {"train", cfg, "--dir", dir3, "--set", "train.eval_every=20", "--quiet", NULL};
    free(eta_expect(0, argv3, NULL, NULL));
    js = path_in(dir3, "metrics.jsonl");
    assert_int_equal(count_in(js, "{\"type\":\"eval\","), 2);
    assert_int_equal(count_in(js, "{\"type\":\"eval\",\"step\":40,"), 1);
}

/* ---- models in -------------------------------------------------------- */

/* breast_cancer's first 20 features, for the torch fixture's MLP (20 in,
 * 5 out, Dropout): classes=5 so that its 5 outputs fit. */
#define INIT_DATA "CSV('sklearn/breast_cancer.csv', drop=[20, 21, 22, 23, 24, 25, 26, 27, 28, 29], classes=5)"
#define INIT_SPEC "Sequential(Linear(20, 32), ReLU(), Dropout(0.2), Linear(32, 16), Tanh(), Linear(16, 5))"

static const char *init_config(const char *name, const char *init, const char *data)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nspec = %s\nbatch_size = 32\n"
             "[model]\nspec = %s\ninit = %s\n"
             "[optimizer]\nspec = SGD(lr=0)\n"
             "[train]\nsteps = 1\nthreads = 1\n"
             "[output]\nplots = false\n",
             data, INIT_SPEC, init);
    return put_text(root, name, text);
}

/* Reads "key v v v ..." from the fixture text into out (at most cap). */
static size_t fixture_values(const char *text, const char *key, double *out, size_t cap)
{
    const char *p = strstr(text, key);
    assert_non_null(p);
    return read_doubles_rest(p + strlen(key), out, cap, NULL);
}

/* [model] init = the torch-written tests/ref/io_torch_mlp.safetensors: the
 * run starts from torch's weights (lr 0: the saved model is exactly them,
 * and eta predict on the fixture's input gives torch's output); a file for
 * another network is a located config error, exit 2, no run directory. */
static void test_init_from_torch(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    char torch_file[4096];
    snprintf(torch_file, sizeof torch_file, "%s", ref_path("io_torch_mlp.safetensors"));
    const char *cfg = init_config("init.ini", torch_file, INIT_DATA);
    const char *dir = run_dir("init");
    const char *argv[] = {"train", cfg, "--dir", dir, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    /* the weights after the run are torch's, value for value */
    eta_net *a = load_model(INIT_SPEC, 20, torch_file);
    eta_net *b = load_model(INIT_SPEC, 20, path_in(dir, "model.safetensors"));
    size_t na, nb;
    const float *pa = eta_net_params(a, &na), *pb = eta_net_params(b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof *pa);
    eta_net_free(a);
    eta_net_free(b);
    /* eta predict on the fixture's 4 inputs gives torch's eval-mode output */
    char *fx = read_file(ref_path("io_torch_mlp.txt"), NULL);
    assert_non_null(fx);
    double in[80], want[4 + 20];
    assert_int_equal(fixture_values(fx, "\ninput ", in, 80), 80);
    assert_int_equal(fixture_values(fx, "\noutput ", want, 24), 23); /* ndim, 2 dims, 20 values */
    free(fx);
    char csv[8192] = "";
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j < 20; j++)
            snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%.9g,", in[i * 20 + j]);
        snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "0\n");
    }
    char data[2048];
    snprintf(data, sizeof data, "CSV('%s', header='none', standardize=False, val=0, test=0, classes=5)",
             put_text(root, "fixture.csv", csv));
    const char *pv[] = {"predict", dir, "--data", data, "--split", "train", NULL};
    char *out;
    free(eta_expect(0, pv, NULL, &out));
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    assert_string_equal(line, "out0,out1,out2,out3,out4,predicted");
    double worst = 0, scale = 0;
    for (int k = 0; k < 20; k++)
        scale = fmax(scale, fabs(want[3 + k]));
    for (int i = 0; i < 4; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        char *f[8];
        assert_int_equal(csv_fields(line, f, 8), 6);
        for (int j = 0; j < 5; j++)
            worst = fmax(worst, fabs(strtod(f[j], NULL) - want[3 + i * 5 + j]) / scale);
    }
    assert_null(strtok_r(NULL, "\n", &save));
    print_message("init from torch: weights equal; eta predict vs torch's output: max error %.3g of the largest\n",
                  worst);
    assert_true(worst <= 1e-5);
    free(out);
    /* another network's file: refused where the config names it */
    snprintf(torch_file, sizeof torch_file, "%s", ref_path("io_torch_cnn.safetensors"));
    cfg = init_config("init-cnn.ini", torch_file, INIT_DATA);
    dir = run_dir("init-cnn");
    const char *bad[] = {"train", cfg, "--dir", dir, NULL};
    char *err = eta_expect(2, bad, NULL, NULL);
    char want_loc[8400];
    snprintf(want_loc, sizeof want_loc, "%s:6:8: model.init: %s: does not fit the network", cfg, torch_file);
    expect_has("stderr", err, want_loc);
    expect_has("stderr", err, "missing tensors (2): \"3.weight\", \"3.bias\"");
    assert_false(file_exists(dir));
    free(err);
}

/* A network whose outputs do not match the classes: refused before the
 * run (exit 2, located), and eta eval on data with fewer classes says so
 * instead of writing past its confusion matrix. */
static void test_outputs_match_classes(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *two = "CSV('sklearn/breast_cancer.csv', drop=[20, 21, 22, 23, 24, 25, 26, 27, 28, 29])";
    const char *cfg = init_config("init-2.ini", ref_path("io_torch_mlp.safetensors"), two);
    const char *dir = run_dir("init-2");
    const char *argv[] = {"train", cfg, "--dir", dir, NULL};
    char *err = eta_expect(2, argv, NULL, NULL);
    char want[4400];
    snprintf(want, sizeof want,
             "%s:5:8: model.spec: the network gives 5 outputs per example, the data set has 2 classes", cfg);
    expect_has("stderr", err, want);
    free(err);
    /* a run made for 5 classes, evaluated on the 2-class reading */
    cfg = init_config("init-5.ini", ref_path("io_torch_mlp.safetensors"), INIT_DATA);
    dir = run_dir("init-5");
    const char *ok[] = {"train", cfg, "--dir", dir, "--quiet", NULL};
    free(eta_expect(0, ok, NULL, NULL));
    char out_dir[256];
    snprintf(out_dir, sizeof out_dir, "%s", dir);
    /* standardised with its own statistics: refused, the outputs would be wrong */
    const char *evs[] = {"eval", out_dir, "--data", two, NULL};
    err = eta_expect(2, evs, NULL, NULL);
    expect_has("stderr", err, "--data: this data set is standardised (or normalised) with statistics of its own");
    free(err);
    const char *two_raw =
        "CSV('sklearn/breast_cancer.csv', drop=[20, 21, 22, 23, 24, 25, 26, 27, 28, 29], standardize=False)";
    const char *ev[] = {"eval", out_dir, "--data", two_raw, NULL};
    err = eta_expect(2, ev, NULL, NULL);
    expect_has("stderr", err, "the network gives 5 outputs per example, the data set has 2 classes");
    free(err);
    /* the run's own data: classes without names are numbered (classes=5
     * drops the file's two names) */
    const char *ev5[] = {"eval", out_dir, NULL};
    char *out;
    free(eta_expect(0, ev5, NULL, &out));
    expect_has("eta eval", out, "true\\predicted,\"0\",\"1\",\"2\",\"3\",\"4\"\n");
    free(out);
}

/* ---- models out: torch's accuracy from eta's file --------------------- */

static const char *const TORCH_EVAL_PY =
    "import gzip, os, struct, sys\n"
    "sys.path.insert(0, os.path.join(sys.argv[1], 'tools'))\n"
    "from check_safetensors import read_safetensors  # exits 77 without torch\n"
    "from gen_ref_nn import build_net\n"
    "import numpy as np, torch\n"
    "spec, model, root = sys.argv[2], sys.argv[3], sys.argv[4]\n"
    "def idx(path):\n"
    "    b = gzip.open(path).read()\n"
    "    nd = b[3]\n"
    "    dims = struct.unpack('>' + 'I' * nd, b[4:4 + 4 * nd])\n"
    "    return np.frombuffer(b[4 + 4 * nd:], dtype=np.uint8).reshape(dims)\n"
    "x = torch.from_numpy(idx(root + '/t10k-images-idx3-ubyte.gz').reshape(-1, 784).astype(np.float32) / 255)\n"
    "y = torch.from_numpy(idx(root + '/t10k-labels-idx1-ubyte.gz').astype(np.int64))\n"
    "net = build_net(spec)\n"
    "net.load_state_dict(read_safetensors(model), strict=True)\n"
    "net.eval()\n"
    "with torch.no_grad():\n"
    "    out = net(x)\n"
    "loss = torch.nn.functional.cross_entropy(out, y).item()\n"
    "print('%d %d %.17g' % (int((out.argmax(1) == y).sum()), len(y), loss))\n";

/* A run's model.safetensors in torch: the test split's accuracy torch
 * computes (Fashion-MNIST's t10k file, ToTensor() pixels) is the one
 * eta eval prints, example for example; the loss to float32 rounding. */
static void test_eval_matches_torch(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    const char *py = getenv("ETA_TORCH_PYTHON") ? getenv("ETA_TORCH_PYTHON") : "/usr/bin/python3";
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch' 2>/dev/null", py);
    if (system(cmd) != 0) {
        print_message("skipped: %s cannot import torch (./bootstrap test installs python3-torch)\n", py);
        skip();
    }
    const char *dir = run_dir("fmnist-raw");
    free(train_fmnist(0, "fmnist-raw",
                      (const char *[]){"train.steps=150", "data.spec=FashionMNIST(flatten=True)", NULL}, true));
    const char *ev[] = {"eval", dir, NULL};
    char *out = NULL;
    free(eta_expect(0, ev, NULL, &out));
    long examples = 0;
    double loss = 0, acc = 0;
    const char *row = strstr(out, "\ntest,");
    assert_non_null(row);
    assert_int_equal(sscanf(row, "\ntest,%ld,%lf,%lf", &examples, &loss, &acc), 3);
    free(out);
    const char *script = put_text(root, "torch_eval.py", TORCH_EVAL_PY);
    const char *src = getenv("ETA_SOURCE_DIR") ? getenv("ETA_SOURCE_DIR") : ".";
    snprintf(cmd, sizeof cmd, "%s %s %s '%s' %s/model.safetensors %s > %s/torch_eval.txt", py, script, src, MLP_SPEC,
             dir, FMNIST_DIR, root);
    int st = system(cmd);
    assert_int_equal(st, 0);
    char *t = read_file(path_in(root, "torch_eval.txt"), NULL);
    long hits = 0, n = 0;
    double tl = 0;
    assert_int_equal(sscanf(t, "%ld %ld %lf", &hits, &n, &tl), 3);
    free(t);
    long eta_hits = lround(acc * (double)examples);
    print_message("test split: eta eval %ld/%ld (loss %.9g), torch %ld/%ld (loss %.9g)\n", eta_hits, examples, loss,
                  hits, n, tl);
    assert_int_equal(examples, n);
    assert_int_equal(eta_hits, hits);
    assert_true(fabs(loss - tl) <= 1e-5 * fabs(tl));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guard_rollback_recovers),
        cmocka_unit_test(test_guard_default_tries_stop),
        cmocka_unit_test(test_guard_stop),
        cmocka_unit_test(test_keep_checkpoints),
        cmocka_unit_test(test_guard_skip), cmocka_unit_test(test_metrics_lr_of_prodigy),
        cmocka_unit_test(test_rollback_to_evaluated_step),
        cmocka_unit_test(test_end_is_evaluated),
        cmocka_unit_test(test_init_from_torch),
        cmocka_unit_test(test_outputs_match_classes),
        cmocka_unit_test(test_eval_matches_torch),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
