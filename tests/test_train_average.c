/* tests/test_train_average.c - [train] average in eta train: the saved model
 * is the average of the weights the run went through (SWA, checked against
 * the models of shorter runs), a resumed run ends with the same bytes, the
 * spec's errors are located, and BatchNorm statistics recomputed as
 * torch.optim.swa_utils.update_bn does (eta_net_bn_cumulative, by hand).
 * labels: cli full
 *
 * Data: scikit-learn's iris CSV from data/ (ETA_DATA_DIR); a test skips,
 * saying so, when it is missing. One thread, runs of a few steps.
 */
#include "train_harness.h"

#include <eta/eta.h>

#define SPEC_MLP "Sequential(Linear(4, 8), ReLU(), Linear(8, 3))"
#define SPEC_BN "Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Linear(8, 3))"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_train_avg_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

/* A config for iris: `spec` as the network, SGD with momentum, `steps`
 * steps, `average` ("" for none; line 12), and more [output] lines. */
static const char *config(const char *name, const char *spec, int steps, const char *average, const char *more)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nspec = CSV('sklearn/iris.csv', split='stratified')\nbatch_size = 16\n"
             "[model]\nspec = %s\n"
             "[optimizer]\nspec = SGD(lr=0.05, momentum=0.9)\n"
             "[train]\nsteps = %d\nthreads = 1\nseed = 3\naverage = %s\neval_every = 6\n"
             "[output]\nplots = false\n%s",
             spec, steps, average, more);
    return put_text(root, name, text);
}

static const char *train(const char *name, const char *spec, int steps, const char *average, const char *more)
{
    static char dir[8][256];
    static int k;
    char *d = dir[k++ % 8];
    snprintf(d, 256, "%s/%s", root, name);
    char ini[300];
    snprintf(ini, sizeof ini, "%s.ini", name);
    const char *cfg = config(ini, spec, steps, average, more);
    const char *argv[] = {"train", cfg, "--dir", d, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    return d;
}

static eta_net *load(const char *spec, const char *dir)
{
    eta_net *net;
    eta_err err;
    int64_t in = 4;
    if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, 1, 1, &in, &err) ||
        eta_net_load_safetensors(net, path_in(dir, "model.safetensors"), &err))
        fail_msg("%s: %s", dir, err.msg);
    return net;
}

/* SWA(start=0, every=1) over 3 steps: the model is AveragedModel's running
 * mean of the weights after steps 1, 2 and 3, which are the models of runs
 * of 1, 2 and 3 steps (the same seed, no schedule); EMA(decay=0.5) likewise
 * with lerp. A float32 computation in the update's order gives the bits. */
static void test_average_of_the_steps(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    eta_net *w[3];
    for (int k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "plain%d", k + 1);
        w[k] = load(SPEC_MLP, train(name, SPEC_MLP, k + 1, "", ""));
    }
    const char *kinds[2] = {"SWA(start=0.0, every=1)", "EMA(decay=0.5)"};
    for (int v = 0; v < 2; v++) {
        eta_net *got = load(SPEC_MLP, train(v ? "ema" : "swa", SPEC_MLP, 3, kinds[v], ""));
        size_t n;
        const float *g = eta_net_params(got, &n);
        for (size_t i = 0; i < n; i++) {
            float a = eta_net_params(w[0], NULL)[i];
            for (int k = 1; k < 3; k++) {
                float x = eta_net_params(w[k], NULL)[i];
                if (v == 0)
                    a = a + (x - a) / (float)(k + 1);
                else
                    a = x - (x - a) * 0.5f; /* lerp with weight 0.5: torch's second branch */
            }
            if (memcmp(&a, &g[i], sizeof a))
                fail_msg("%s: parameter %zu: got %.9g, want %.9g", kinds[v], i, (double)g[i], (double)a);
        }
        /* the average differs from the last weights */
        assert_true(memcmp(g, eta_net_params(w[2], NULL), n * sizeof *g) != 0);
        eta_net_free(got);
    }
    for (int k = 0; k < 3; k++)
        eta_net_free(w[k]);
}

/* A run resumed from its checkpoint at step 6 (of 12, EMA every step, a
 * BatchNorm) ends with the same model.safetensors, byte for byte. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *a = train("full", SPEC_BN, 12, "EMA(decay=0.8, start=0.25)", "checkpoint_every = 6\nkeep_checkpoints = 3\n");
    char b[300], cmd[2048];
    snprintf(b, sizeof b, "%s/resumed", root);
    snprintf(cmd, sizeof cmd, "cp -r '%s' '%s' && cp '%s/checkpoint-6.eta' '%s/checkpoint.eta' && rm '%s/model.safetensors'",
             a, b, b, b, b);
    assert_int_equal(system(cmd), 0);
    const char *argv[] = {"train", "--resume", b, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    long diff;
    if (!same_bytes(path_in(a, "model.safetensors"), path_in(b, "model.safetensors"), &diff))
        fail_msg("the resumed run's model differs at byte %ld", diff);
    /* the log names the average and the recomputed statistics */
    char *js = read_file(path_in(a, "metrics.jsonl"), NULL);
    expect_has("metrics.jsonl", js,
               "average EMA(decay=0.8, start=0.25) of 9 updates (BatchNorm statistics recomputed over the "
               "training split) is the model: val_loss ");
    free(js);
}

static void test_errors(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = config("bad.ini", SPEC_MLP, 3, "EMA(decay=1.5)", "");
    char dir[300];
    snprintf(dir, sizeof dir, "%s/bad", root);
    const char *argv[] = {"train", cfg, "--dir", dir, NULL};
    char *err = eta_expect(2, argv, NULL, NULL);
    expect_has("stderr", err, "decay must be in [0, 1], got 1.5");
    expect_has("stderr", err, "bad.ini:12:");
    free(err);
    cfg = config("bad2.ini", SPEC_MLP, 3, "Polyak()", "");
    const char *argv2[] = {"train", cfg, "--dir", dir, NULL};
    err = eta_expect(2, argv2, NULL, NULL);
    expect_has("stderr", err, "expected SWA(...) or EMA(...), got 'Polyak'");
    free(err);
    /* no update before the end: the trained weights, said so */
    const char *d = train("late", SPEC_MLP, 3, "SWA(start=0.9)", "");
    char *js = read_file(path_in(d, "metrics.jsonl"), NULL);
    expect_has("metrics.jsonl", js, "average SWA(start=0.9): no update was taken (the first follows step 2 at an epoch's end)");
    free(js);
}

/* eta_net_bn_cumulative: after resetting, k train-mode batches leave the
 * running mean at the mean of the batch means and the running variance at
 * the mean of the unbiased batch variances (momentum 1/k each time). */
static void test_update_bn_by_hand(void **state)
{
    (void)state;
    eta_net *net;
    eta_err err;
    int64_t in = 2;
    assert_int_equal(eta_net_new(&net, "Sequential(BatchNorm1d(2, momentum=0.3))", &err), 0);
    assert_int_equal(eta_net_prepare(net, 4, 1, &in, &err), 0);
    eta_net_init(net, 1);
    float x[3][8];
    uint64_t s = 17;
    for (int b = 0; b < 3; b++)
        for (int i = 0; i < 8; i++)
            x[b][i] = (float)(test_rand(&s) % 1000) / 100.0f;
    assert_true(eta_net_has_running_stats(net));
    /* a pass with the layer's own momentum first, so the reset matters */
    assert_int_equal(eta_net_forward(net, x[0], NULL, NULL), 0);
    assert_int_equal(eta_net_bn_cumulative(net, true), 0);
    const float *rm = eta_net_buffer(net, "0.running_mean", NULL), *rv = eta_net_buffer(net, "0.running_var", NULL);
    assert_true(rm[0] == 0 && rm[1] == 0 && rv[0] == 1 && rv[1] == 1);
    double want_m[2] = {0, 0}, want_v[2] = {0, 0};
    for (int b = 0; b < 3; b++) {
        assert_int_equal(eta_net_forward(net, x[b], NULL, NULL), 0);
        for (int c = 0; c < 2; c++) {
            double m = 0, v = 0;
            for (int i = 0; i < 4; i++)
                m += x[b][i * 2 + c];
            m /= 4;
            for (int i = 0; i < 4; i++)
                v += (x[b][i * 2 + c] - m) * (x[b][i * 2 + c] - m);
            want_m[c] += m / 3;
            want_v[c] += v / 3 / 3;
        }
    }
    assert_int_equal(eta_net_bn_cumulative(net, false), 0);
    for (int c = 0; c < 2; c++) {
        if (fabs(rm[c] - want_m[c]) > 1e-5 * fabs(want_m[c]) + 1e-6 || fabs(rv[c] - want_v[c]) > 1e-5 * want_v[c])
            fail_msg("channel %d: running mean %.9g (want %.9g), var %.9g (want %.9g)", c, (double)rm[c],
                     want_m[c], (double)rv[c], want_v[c]);
    }
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_average_of_the_steps),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_update_bn_by_hand),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
