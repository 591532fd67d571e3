/* tests/test_nn_rnn.c - LSTM and GRU (src/nn/rnn.c) beyond the torch
 * fixtures of test_nn_ref.c: eta's forward pass against an independent
 * double-precision recurrence written here from torch's documented
 * equations, its backward pass against central finite differences of that
 * recurrence at eta's own weights (1 and 2 layers, with and without bias,
 * a Linear head and CrossEntropyLoss over every step); the defaults
 * (num_layers=1, bias=True, batch_first=True), parameter names and shapes
 * and torch's initialisation range; every refused torch argument named in
 * its error; shape errors; the same bits at 1 and 2 threads.
 *
 * With --live (CTest's rnn_torch_live; exit 77, skipped, when
 * /usr/bin/python3 has no torch): eta saves an LSTM and a GRU model as
 * safetensors and tools/check_safetensors.py eta-to-torch loads each into
 * torch with load_state_dict(strict=True) and compares torch's output with
 * eta's.
 * labels: unit fd full
 */
#include "harness.h"
#include "torch_case.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <eta/eta.h>

#define B 2
#define T 5
#define MAXP 4096

typedef struct rcase {
    const char *spec;
    bool lstm, bias;
    int layers, in, h, vocab; /* vocab > 0: a Linear(h, vocab) head and CrossEntropyLoss; else MSELoss */
} rcase;

static double sig(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* The loss of the case at parameters p (eta's order: per layer W_ih, W_hh,
 * b_ih, b_hh; then the head's weight and bias) and input x [B, T, in];
 * out (when not NULL) gets the recurrent output [B, T, h]. */
static double ref_loss(const rcase *c, const double *p, const double *x, const double *yf, const int *yi,
                       double *out)
{
    int G = c->lstm ? 4 : 3, H = c->h;
    double seq[B][T][16], nxt[B][T][16];
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int i = 0; i < c->in; i++)
                seq[b][t][i] = x[(b * T + t) * c->in + i];
    size_t off = 0;
    int in = c->in;
    for (int l = 0; l < c->layers; l++) {
        const double *Wi = p + off, *Wh = Wi + G * H * in, *bi = Wh + G * H * H, *bh = bi + G * H;
        off += (size_t)(G * H * (in + H) + (c->bias ? 2 * G * H : 0));
        for (int b = 0; b < B; b++) {
            double h[16] = {0}, cc[16] = {0};
            for (int t = 0; t < T; t++) {
                double gi[64], gh[64];
                for (int r = 0; r < G * H; r++) {
                    gi[r] = c->bias ? bi[r] : 0;
                    gh[r] = c->bias ? bh[r] : 0;
                    for (int i = 0; i < in; i++)
                        gi[r] += Wi[r * in + i] * seq[b][t][i];
                    for (int i = 0; i < H; i++)
                        gh[r] += Wh[r * H + i] * h[i];
                }
                double hn[16];
                for (int j = 0; j < H; j++) {
                    if (c->lstm) { /* i, f, g, o */
                        double ig = sig(gi[j] + gh[j]), f = sig(gi[H + j] + gh[H + j]);
                        double g = tanh(gi[2 * H + j] + gh[2 * H + j]), o = sig(gi[3 * H + j] + gh[3 * H + j]);
                        cc[j] = f * cc[j] + ig * g;
                        hn[j] = o * tanh(cc[j]);
                    } else { /* r, z, n */
                        double r = sig(gi[j] + gh[j]), z = sig(gi[H + j] + gh[H + j]);
                        double n = tanh(gi[2 * H + j] + r * gh[2 * H + j]);
                        hn[j] = (1 - z) * n + z * h[j];
                    }
                }
                for (int j = 0; j < H; j++)
                    nxt[b][t][j] = h[j] = hn[j];
            }
        }
        memcpy(seq, nxt, sizeof seq);
        in = H;
    }
    if (out)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < H; j++)
                    out[(b * T + t) * H + j] = seq[b][t][j];
    double loss = 0;
    if (!c->vocab) {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j < H; j++) {
                    double d = seq[b][t][j] - yf[(b * T + t) * H + j];
                    loss += d * d;
                }
        return loss / (B * T * H);
    }
    const double *W = p + off, *bb = W + c->vocab * H;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            double z[32], mx = -INFINITY, s = 0;
            for (int v = 0; v < c->vocab; v++) {
                z[v] = bb[v];
                for (int j = 0; j < H; j++)
                    z[v] += W[v * H + j] * seq[b][t][j];
                mx = fmax(mx, z[v]);
            }
            for (int v = 0; v < c->vocab; v++)
                s += exp(z[v] - mx);
            loss += mx + log(s) - z[yi[b * T + t]];
        }
    return loss / (B * T);
}

static double uni(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static void check_case(const rcase *c)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, c->spec, &err))
        fail_msg("%s: %s", c->spec, err.msg);
    assert_int_equal(eta_net_prepare(net, B, 2, (int64_t[]){T, c->in}, &err), 0);
    if (eta_net_set_loss(net, c->vocab ? "CrossEntropyLoss()" : "MSELoss()", &err))
        fail_msg("%s", err.msg);
    assert_int_equal(eta_net_init(net, 11), 0);
    size_t np;
    float *pf = eta_net_params(net, &np);
    assert_true(np < MAXP);
    static double p[MAXP];
    double x[B * T * 16], yf[B * T * 16], want[B * T * 16];
    float xf[B * T * 16], tf[B * T * 16];
    int yi[B * T];
    int32_t yi32[B * T];
    /* weights scaled up (x 3) so that gates saturate in places */
    for (size_t i = 0; i < np; i++)
        p[i] = pf[i] = pf[i] * 3.0f;
    uint64_t s = 5;
    for (int i = 0; i < B * T * c->in; i++)
        x[i] = xf[i] = (float)(4 * uni(&s) - 2);
    for (int i = 0; i < B * T * c->h; i++)
        yf[i] = tf[i] = (float)(2 * uni(&s) - 1);
    for (int i = 0; i < B * T; i++)
        yi[i] = yi32[i] = c->vocab ? (int)(uni(&s) * c->vocab) : 0;
    double loss;
    assert_int_equal(eta_net_forward(net, xf, c->vocab ? (const void *)yi32 : (const void *)tf, &loss), 0);
    double ref = ref_loss(c, p, x, yf, yi, want);
    if (fabs(loss - ref) > 1e-5 * fmax(1, fabs(ref)))
        fail_msg("%s: forward loss %.9g, double reference %.9g", c->spec, loss, ref);
    if (!c->vocab) { /* the output sequence itself */
        const float *y = eta_net_output(net, NULL, NULL);
        for (int i = 0; i < B * T * c->h; i++)
            if (fabs(y[i] - want[i]) > 1e-5)
                fail_msg("%s: output %d: %.9g, double reference %.9g", c->spec, i, y[i], want[i]);
    }
    assert_int_equal(eta_net_backward(net), 0);
    const float *g = eta_net_grads(net, NULL), *gx = eta_net_input_grad(net);
    assert_non_null(gx);
    double h = 1e-6, worst = 0, gmax = 1e-3;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs((double)g[i]));
    for (size_t i = 0; i < np + (size_t)(B * T * c->in); i++) {
        double *v = i < np ? &p[i] : &x[i - np], keep = *v, got = i < np ? g[i] : gx[i - np];
        *v = keep + h;
        double up = ref_loss(c, p, x, yf, yi, NULL);
        *v = keep - h;
        double dn = ref_loss(c, p, x, yf, yi, NULL);
        *v = keep;
        double fd = (up - dn) / (2 * h), e = fabs(got - fd) / fmax(fabs(fd), 1e-2 * gmax);
        if (e > 1e-3)
            fail_msg("%s: %s element %zu: backward %.9g, finite difference %.9g", c->spec,
                     i < np ? "parameter" : "input", i < np ? i : i - np, got, fd);
        worst = fmax(worst, e);
    }
    print_message("  %-58s worst rel err %.2g\n", c->spec, worst);
    eta_net_free(net);
}

static void test_finite_differences(void **state)
{
    (void)state;
    const rcase cases[] = {
        {"LSTM(3, 4)", true, true, 1, 3, 4, 0},
        {"LSTM(3, 4, bias=False)", true, false, 1, 3, 4, 0},
        {"LSTM(3, 4, num_layers=2)", true, true, 2, 3, 4, 0},
        {"LSTM(2, 3, 2, False)", true, false, 2, 2, 3, 0},
        {"Sequential(LSTM(3, 5), Linear(5, 7))", true, true, 1, 3, 5, 7},
        {"GRU(3, 4)", false, true, 1, 3, 4, 0},
        {"GRU(3, 4, bias=False)", false, false, 1, 3, 4, 0},
        {"GRU(3, 4, num_layers=2)", false, true, 2, 3, 4, 0},
        {"GRU(2, 3, 2, False)", false, false, 2, 2, 3, 0},
        {"Sequential(GRU(3, 5, num_layers=2), Linear(5, 7))", false, true, 2, 3, 5, 7},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        check_case(&cases[k]);
}

/* LSTM(3, 4) and GRU(3, 4): one layer with both biases, PyTorch's names and
 * shapes, every value within 1/sqrt(hidden) = 0.5 and spread over it. */
static void test_defaults_and_init(void **state)
{
    (void)state;
    const char *specs[] = {"LSTM(3, 4)", "GRU(3, 4)"};
    const char *names[] = {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"};
    for (int k = 0; k < 2; k++) {
        int64_t G = k ? 3 : 4, want[4][2] = {{G * 4, 3}, {G * 4, 4}, {G * 4, 0}, {G * 4, 0}};
        eta_net *net;
        eta_err err;
        assert_int_equal(eta_net_new(&net, specs[k], &err), 0);
        assert_int_equal(eta_net_prepare(net, 2, 2, (int64_t[]){6, 3}, &err), 0);
        assert_int_equal(eta_net_param_count(net), 4);
        for (int i = 0; i < 4; i++) {
            const char *name;
            size_t off;
            int nd;
            int64_t shape[4];
            assert_int_equal(eta_net_param_info(net, i, &name, &off, &nd, shape), 0);
            assert_string_equal(name, names[i]);
            assert_int_equal(nd, i < 2 ? 2 : 1);
            assert_int_equal(shape[0], want[i][0]);
            if (i < 2)
                assert_int_equal(shape[1], want[i][1]);
        }
        assert_int_equal(eta_net_init(net, 3), 0);
        size_t n;
        const float *w = eta_net_params(net, &n);
        double mx = 0, mean = 0;
        for (size_t i = 0; i < n; i++) {
            mx = fmax(mx, fabs(w[i]));
            mean += w[i] / (double)n;
        }
        print_message("  %s: %zu values, max |w| %.4f (bound 0.5), mean %.4f\n", specs[k], n, mx, mean);
        assert_true(mx <= 0.5 && mx > 0.45);
        assert_true(fabs(mean) < 0.1);
        int nd;
        int64_t shape[4];
        assert_int_equal(eta_net_forward(net, (float[36]){0}, NULL, NULL), 0);
        eta_net_output(net, &nd, shape);
        assert_int_equal(nd, 3);
        assert_true(shape[0] == 2 && shape[1] == 6 && shape[2] == 4);
        eta_net_free(net);
    }
    /* layer 1 reads hidden_size features: weight_ih_l1 is [4H, H] */
    eta_net *net;
    eta_err err;
    assert_int_equal(eta_net_new(&net, "LSTM(3, 5, num_layers=2, bias=False)", &err), 0);
    assert_int_equal(eta_net_prepare(net, 1, 2, (int64_t[]){2, 3}, &err), 0);
    assert_int_equal(eta_net_param_count(net), 4);
    const char *name;
    size_t off;
    int nd;
    int64_t shape[4];
    assert_int_equal(eta_net_param_info(net, 2, &name, &off, &nd, shape), 0);
    assert_string_equal(name, "weight_ih_l1");
    assert_true(shape[0] == 20 && shape[1] == 5);
    eta_net_free(net);
}

/* Each torch argument eta does not implement is refused by name. */
static void test_refused(void **state)
{
    (void)state;
    const struct {
        const char *spec, *want;
    } cases[] = {
        {"LSTM(3, 4, bidirectional=True)", "bidirectional=True is not supported"},
        {"GRU(3, 4, 1, True, True, 0.0, True)", "bidirectional=True is not supported"},
        {"LSTM(3, 4, batch_first=False)", "batch_first=False is not supported"},
        {"GRU(3, 4, batch_first=False)", "batch_first=False is not supported"},
        {"LSTM(3, 4, num_layers=2, dropout=0.5)", "dropout between layers is not supported"},
        {"GRU(3, 4, dropout=0.1)", "dropout between layers is not supported"},
        {"LSTM(3, 4, proj_size=2)", "proj_size is not supported"},
        {"GRU(3, 4, proj_size=2)", "unexpected keyword argument 'proj_size'"},
        {"LSTM(3, 4, num_layers=0)", "num_layers"},
        {"LSTM(3, 0)", "hidden_size"},
        {"GRU(3)", "hidden_size"},
        {"LSTM(3, 4, dropout=1.5)", "dropout"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        eta_net *net = NULL;
        eta_err err = {0};
        int rc = eta_net_new(&net, cases[k].spec, &err);
        print_message("  %-40s -> %s\n", cases[k].spec, err.msg);
        if (rc != ETA_EINVAL || !strstr(err.msg, cases[k].want))
            fail_msg("%s: rc %d, '%s', wanted '%s'", cases[k].spec, rc, err.msg, cases[k].want);
        eta_net_free(net);
    }
    /* shapes: [B, T, in] only, in = input_size */
    const struct {
        const char *spec;
        int nd;
        int64_t shape[3];
        const char *want;
    } shapes[] = {
        {"LSTM(3, 4)", 1, {3}, "expected input [batch, seq, 3] (batch_first), got [2, 3]"},
        {"GRU(3, 4)", 2, {5, 4}, "expected input [batch, seq, 3] (batch_first), got [2, 5, 4]"},
        {"Sequential(Linear(3, 6), LSTM(5, 4))", 2, {5, 3}, "layer 1 (LSTM 1): expected input [batch, seq, 5]"},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        eta_net *net;
        eta_err err = {0};
        assert_int_equal(eta_net_new(&net, shapes[k].spec, &err), 0);
        int rc = eta_net_prepare(net, 2, shapes[k].nd, shapes[k].shape, &err);
        print_message("  %-40s -> %s\n", shapes[k].spec, err.msg);
        if (rc == 0 || !strstr(err.msg, shapes[k].want))
            fail_msg("%s: rc %d, '%s', wanted '%s'", shapes[k].spec, rc, err.msg, shapes[k].want);
        eta_net_free(net);
    }
}

#ifdef _OPENMP
#include <omp.h>

/* The same bits at 1 and 2 threads (the GEMMs' parts are fixed by their
 * shapes, blas.h; the element loops are serial): loss and every gradient. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    const char *spec = "Sequential(Embedding(40, 24), LSTM(24, 96, num_layers=2), GRU(96, 64), Linear(64, 40))";
    enum { NB = 32, NT = 48 };
    static int32_t ids[NB * NT], tgt[NB * NT];
    uint64_t s = 3;
    for (int i = 0; i < NB * NT; i++) {
        ids[i] = (int32_t)(uni(&s) * 40);
        tgt[i] = (int32_t)(uni(&s) * 40);
    }
    int saved = omp_get_max_threads();
    float *g[2] = {NULL, NULL};
    double loss[2];
    size_t np = 0;
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        eta_net *net;
        eta_err err;
        if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, NB, 1, (int64_t[]){NT}, &err) ||
            eta_net_set_loss(net, "CrossEntropyLoss()", &err))
            fail_msg("%s", err.msg);
        eta_net_init(net, 9);
        assert_int_equal(eta_net_forward(net, ids, tgt, &loss[k]), 0);
        assert_int_equal(eta_net_backward(net), 0);
        const float *gk = eta_net_grads(net, &np);
        g[k] = malloc(np * sizeof(float));
        memcpy(g[k], gk, np * sizeof(float));
        eta_net_free(net);
    }
    omp_set_num_threads(saved);
    print_message("  loss %.9g at 1 and %.9g at 2 threads, %zu gradients compared\n", loss[0], loss[1], np);
    assert_true(loss[0] == loss[1]);
    assert_memory_equal(g[0], g[1], np * sizeof(float));
    free(g[0]);
    free(g[1]);
}
#endif

/* ---- --live: eta's saved models load into torch ---- */
static const char *python(void)
{
    return getenv("ETA_TORCH_PYTHON") ? getenv("ETA_TORCH_PYTHON") : "/usr/bin/python3";
}

/* eta builds and initialises spec, runs x through it and writes
 * dir/name.safetensors and dir/name.txt (tools/check_safetensors.py's case). */
static void write_case(const char *dir, const char *name, const char *spec, int64_t batch, int64_t t, int64_t in)
{
    eta_net *net;
    eta_err err;
    bool ids = in == 0;
    int nd = ids ? 1 : 2;
    int64_t shape[2] = {t, in};
    if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, batch, nd, shape, &err))
        fail_msg("%s: %s", spec, err.msg);
    eta_net_init(net, 5);
    size_t n = (size_t)(batch * t * (ids ? 1 : in));
    void *x = malloc(n * 4);
    uint64_t s = 17;
    for (size_t i = 0; i < n; i++) {
        if (ids)
            ((int32_t *)x)[i] = (int32_t)(uni(&s) * 13);
        else
            ((float *)x)[i] = (float)(2 * uni(&s) - 1);
    }
    eta_net_train(net, false);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), 0);
    torch_case_write(dir, name, net, spec, nd, shape, batch, ids, x, n, NULL);
    free(x);
    eta_net_free(net);
}

static void test_live_eta_to_torch(void **state)
{
    (void)state;
    char dir[] = "/tmp/eta_rnn_torch_XXXXXX", cmd[2048];
    assert_non_null(mkdtemp(dir));
    write_case(dir, "char_lstm", "Sequential(Embedding(13, 8), LSTM(8, 16, num_layers=2), Linear(16, 13))", 3, 12,
               0);
    write_case(dir, "gru_nobias", "Sequential(GRU(4, 6, bias=False), GRU(6, 5, 2))", 2, 9, 4);
    write_case(dir, "lstm_head", "Sequential(LSTM(5, 7), Linear(7, 3))", 4, 6, 5);
    const char *src = getenv("ETA_SOURCE_DIR") ? getenv("ETA_SOURCE_DIR") : ".";
    snprintf(cmd, sizeof cmd, "%s %s/tools/check_safetensors.py eta-to-torch %s", python(), src, dir);
    fflush(stdout);
    int st = system(cmd);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--live")) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' 2>/dev/null", python());
        if (system(cmd) != 0) {
            printf("skipped: %s has no torch or numpy\n", python());
            return 77;
        }
        const struct CMUnitTest live[] = {cmocka_unit_test(test_live_eta_to_torch)};
        return cmocka_run_group_tests(live, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences), cmocka_unit_test(test_defaults_and_init),
        cmocka_unit_test(test_refused),
#ifdef _OPENMP
        cmocka_unit_test(test_threads_same_bits),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
