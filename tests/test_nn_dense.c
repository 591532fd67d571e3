/* tests/test_nn_dense.c - the dense layers, activations and losses: eta's
 * backward pass against central finite differences of an independent
 * double-precision forward pass (written here) at eta's own weights; the
 * forward pass against the same reference; parameter names; shape errors.
 * labels: unit fd full
 */
#include "harness.h"

#include <eta/eta.h>

/* ---- a double reference of the layers under test ---- */
enum { R_LINEAR, R_RELU, R_LEAKY, R_GELU, R_GELU_TANH, R_TANH, R_SIGMOID, R_SOFTMAX, R_LOGSOFTMAX };
typedef struct rlayer {
    int type;
    int in, out;   /* R_LINEAR */
    double slope;  /* R_LEAKY */
} rlayer;

enum { L_CE, L_NLL, L_MSE, L_HUBER, L_BCE };

#define B 3
#define MAXW 64

/* Forward of B rows through the layers with weights from p (eta's order:
 * weight [out, in] then bias [out] per Linear); returns the mean loss. */
static double ref_loss(const rlayer *ls, int nl, const double *p, const double *x0, int in0, int loss,
                       const int *yi, const double *yf, double extra)
{
    double a[B][MAXW], b[B][MAXW];
    int w = in0;
    for (int r = 0; r < B; r++)
        for (int i = 0; i < in0; i++)
            a[r][i] = x0[r * in0 + i];
    size_t off = 0;
    for (int l = 0; l < nl; l++) {
        const rlayer *L = &ls[l];
        for (int r = 0; r < B; r++) {
            if (L->type == R_LINEAR) {
                for (int o = 0; o < L->out; o++) {
                    double s = p[off + (size_t)(L->out * L->in) + (size_t)o];
                    for (int i = 0; i < L->in; i++)
                        s += a[r][i] * p[off + (size_t)(o * L->in + i)];
                    b[r][o] = s;
                }
                continue;
            }
            double mx = -INFINITY, sum = 0;
            if (L->type == R_SOFTMAX || L->type == R_LOGSOFTMAX) {
                for (int i = 0; i < w; i++)
                    mx = fmax(mx, a[r][i]);
                for (int i = 0; i < w; i++)
                    sum += exp(a[r][i] - mx);
            }
            for (int i = 0; i < w; i++) {
                double v = a[r][i];
                switch (L->type) {
                case R_RELU: b[r][i] = v > 0 ? v : 0; break;
                case R_LEAKY: b[r][i] = v > 0 ? v : v * L->slope; break;
                case R_GELU: b[r][i] = 0.5 * v * (1 + erf(v / sqrt(2))); break;
                case R_GELU_TANH: b[r][i] = 0.5 * v * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (v + 0.044715 * v * v * v))); break;
                case R_TANH: b[r][i] = tanh(v); break;
                case R_SIGMOID: b[r][i] = 1 / (1 + exp(-v)); break;
                case R_SOFTMAX: b[r][i] = exp(v - mx) / sum; break;
                default: b[r][i] = v - mx - log(sum); break;
                }
            }
        }
        if (L->type == R_LINEAR) {
            off += (size_t)(L->out * L->in + L->out);
            w = L->out;
        }
        memcpy(a, b, sizeof a);
    }
    double s = 0;
    for (int r = 0; r < B; r++) {
        if (loss == L_CE) {
            double mx = -INFINITY, z = 0, mean = 0;
            for (int i = 0; i < w; i++)
                mx = fmax(mx, a[r][i]);
            for (int i = 0; i < w; i++) {
                z += exp(a[r][i] - mx);
                mean += a[r][i];
            }
            double lse = mx + log(z);
            s += (1 - extra) * (lse - a[r][yi[r]]) + extra * (lse - mean / w);
        } else if (loss == L_NLL) {
            s -= a[r][yi[r]];
        } else {
            for (int i = 0; i < w; i++) {
                double d = a[r][i] - yf[r * w + i], v = a[r][i];
                s += loss == L_MSE ? d * d
                     : loss == L_HUBER ? (fabs(d) < extra ? 0.5 * d * d : extra * (fabs(d) - 0.5 * extra))
                                       : fmax(v, 0) - v * yf[r * w + i] + log1p(exp(-fabs(v)));
            }
        }
    }
    return loss == L_CE || loss == L_NLL ? s / B : s / (B * w);
}

typedef struct tcase {
    const char *spec, *loss;
    rlayer layers[12];
    int nl, in, out, ltype;
    double extra;
} tcase;

static void check_case(const tcase *c)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, c->spec, &err))
        fail_msg("%s: %s", c->spec, err.msg);
    assert_int_equal(eta_net_prepare(net, B, 1, (int64_t[]){c->in}, &err), 0);
    if (eta_net_set_loss(net, c->loss, &err))
        fail_msg("%s: %s", c->loss, err.msg);
    assert_int_equal(eta_net_init(net, 7), 0);
    size_t np;
    float *pf = eta_net_params(net, &np);
    double p[4096], x[B * MAXW], yf[B * MAXW];
    assert_true(np < 4096);
    for (size_t i = 0; i < np; i++)
        p[i] = pf[i];
    float xf[B * MAXW], tf[B * MAXW];
    int32_t yi[B];
    uint64_t s = 99;
    for (int i = 0; i < B * c->in; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        xf[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 4 - 2);
        x[i] = xf[i];
    }
    for (int i = 0; i < B * c->out; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tf[i] = (float)((double)(s >> 11) / 9007199254740992.0);
        yf[i] = tf[i];
    }
    for (int r = 0; r < B; r++)
        yi[r] = (r * 2 + 1) % c->out;
    bool ints = c->ltype == L_CE || c->ltype == L_NLL;
    double loss;
    assert_int_equal(eta_net_forward(net, xf, ints ? (const void *)yi : (const void *)tf, &loss), 0);
    double want = ref_loss(c->layers, c->nl, p, x, c->in, c->ltype, yi, yf, c->extra);
    if (fabs(loss - want) > 1e-5 * fmax(1, fabs(want)))
        fail_msg("%s / %s: forward loss %.9g, double reference %.9g", c->spec, c->loss, loss, want);
    assert_int_equal(eta_net_backward(net), 0);
    const float *g = eta_net_grads(net, NULL), *gx = eta_net_input_grad(net);
    /* Central differences of the double reference, h = 1e-6: truncation
     * ~1e-12, rounding ~1e-10; eta's float32 gradients carry ~1e-6 relative. */
    double h = 1e-6, worst = 0, gmax = 1e-3;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs((double)g[i]));
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double up = ref_loss(c->layers, c->nl, p, x, c->in, c->ltype, yi, yf, c->extra);
        p[i] = keep - h;
        double dn = ref_loss(c->layers, c->nl, p, x, c->in, c->ltype, yi, yf, c->extra);
        p[i] = keep;
        double fd = (up - dn) / (2 * h), e = fabs(g[i] - fd) / fmax(fabs(fd), 1e-2 * gmax);
        if (e > 1e-3)
            fail_msg("%s / %s: parameter element %zu: backward %.9g, finite difference %.9g", c->spec, c->loss, i,
                     g[i], fd);
        worst = fmax(worst, e);
    }
    for (int i = 0; i < B * c->in; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double up = ref_loss(c->layers, c->nl, p, x, c->in, c->ltype, yi, yf, c->extra);
        x[i] = keep - h;
        double dn = ref_loss(c->layers, c->nl, p, x, c->in, c->ltype, yi, yf, c->extra);
        x[i] = keep;
        double fd = (up - dn) / (2 * h);
        if (fabs(gx[i] - fd) > 1e-3 * fmax(fabs(fd), 1e-2 * gmax))
            fail_msg("%s / %s: input element %d: backward %.9g, finite difference %.9g", c->spec, c->loss, i, gx[i],
                     fd);
    }
    print_message("  %-40s %-28s worst rel err %.2g\n", c->loss, c->spec + 11, worst);
    eta_net_free(net);
}

static void test_finite_differences(void **state)
{
    (void)state;
    const tcase cases[] = {
        {"Sequential(Linear(5, 7), ReLU(), Linear(7, 6), GELU(), Linear(6, 4), Tanh(), Linear(4, 3))",
         "CrossEntropyLoss()",
         {{R_LINEAR, 5, 7, 0}, {R_RELU, 0, 0, 0}, {R_LINEAR, 7, 6, 0}, {R_GELU, 0, 0, 0}, {R_LINEAR, 6, 4, 0},
          {R_TANH, 0, 0, 0}, {R_LINEAR, 4, 3, 0}},
         7, 5, 3, L_CE, 0},
        {"Sequential(Linear(4, 6), GELU(approximate='tanh'), Linear(6, 5), Sigmoid(), Linear(5, 4))",
         "CrossEntropyLoss(label_smoothing=0.2)",
         {{R_LINEAR, 4, 6, 0}, {R_GELU_TANH, 0, 0, 0}, {R_LINEAR, 6, 5, 0}, {R_SIGMOID, 0, 0, 0}, {R_LINEAR, 5, 4, 0}},
         5, 4, 4, L_CE, 0.2},
        {"Sequential(Linear(3, 5), LeakyReLU(0.1), Linear(5, 4), LogSoftmax(dim=-1))", "NLLLoss()",
         {{R_LINEAR, 3, 5, 0}, {R_LEAKY, 0, 0, 0.1}, {R_LINEAR, 5, 4, 0}, {R_LOGSOFTMAX, 0, 0, 0}},
         4, 3, 4, L_NLL, 0},
        {"Sequential(Linear(3, 5), Tanh(), Linear(5, 4), Softmax(dim=-1))", "MSELoss()",
         {{R_LINEAR, 3, 5, 0}, {R_TANH, 0, 0, 0}, {R_LINEAR, 5, 4, 0}, {R_SOFTMAX, 0, 0, 0}},
         4, 3, 4, L_MSE, 0},
        {"Sequential(Linear(4, 4), ReLU(), Linear(4, 3))", "HuberLoss(delta=0.3)",
         {{R_LINEAR, 4, 4, 0}, {R_RELU, 0, 0, 0}, {R_LINEAR, 4, 3, 0}}, 3, 4, 3, L_HUBER, 0.3},
        {"Sequential(Linear(4, 6), GELU(), Linear(6, 2))", "BCEWithLogitsLoss()",
         {{R_LINEAR, 4, 6, 0}, {R_GELU, 0, 0, 0}, {R_LINEAR, 6, 2, 0}}, 3, 4, 2, L_BCE, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
}

/* With the input gradient off, the parameter gradients are the same bits
 * and there is no input gradient. */
static void test_input_grad_switch(void **state)
{
    (void)state;
    eta_net *net;
    assert_int_equal(eta_net_new(&net, "Sequential(Linear(6, 8), ReLU(), Linear(8, 3))", NULL), 0);
    assert_int_equal(eta_net_prepare(net, 4, 1, (int64_t[]){6}, NULL), 0);
    assert_int_equal(eta_net_set_loss(net, "CrossEntropyLoss()", NULL), 0);
    assert_int_equal(eta_net_init(net, 3), 0);
    float x[24];
    int32_t y[4] = {0, 1, 2, 1};
    for (int i = 0; i < 24; i++)
        x[i] = (float)(i % 7) / 7.0f - 0.4f;
    size_t np;
    assert_int_equal(eta_net_forward(net, x, y, NULL), 0);
    assert_int_equal(eta_net_backward(net), 0);
    assert_non_null(eta_net_input_grad(net));
    const float *g = eta_net_grads(net, &np);
    float *with = malloc(np * sizeof *with);
    memcpy(with, g, np * sizeof *with);
    eta_net_set_input_grad(net, false);
    assert_int_equal(eta_net_forward(net, x, y, NULL), 0);
    assert_int_equal(eta_net_backward(net), 0);
    assert_null(eta_net_input_grad(net));
    assert_memory_equal(with, eta_net_grads(net, NULL), np * sizeof *with);
    free(with);
    eta_net_free(net);
}

/* A network prepared again for a smaller batch (a short last batch, an
 * evaluation batch) takes targets of that batch: the loss and gradients
 * equal those of a network prepared for that batch from the start, and
 * preparing back for the first batch gives the first results again. Both
 * a class loss (int32 targets) and MSELoss (float targets shaped as the
 * output) are checked. */
static void test_prepare_again(void **state)
{
    (void)state;
    const char *losses[] = {"CrossEntropyLoss()", "MSELoss()"};
    float x[8 * 5], yf[8 * 3];
    int32_t yi[8];
    for (int i = 0; i < 40; i++)
        x[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < 24; i++)
        yf[i] = (float)(i % 5) / 5.0f;
    for (int i = 0; i < 8; i++)
        yi[i] = i % 3;
    /* The batch of 3 gets exactly 3 targets, then labels no class has and
     * NaN: a loss still reading 8 rows would fail or give NaN. */
    int32_t yi3[8] = {0, 1, 2, -7, -7, -7, -7, -7};
    float yf3[8 * 3];
    for (int i = 0; i < 24; i++)
        yf3[i] = i < 9 ? yf[i] : NAN;
    for (int k = 0; k < 2; k++) {
        const void *y = k ? (const void *)yf : (const void *)yi, *y3 = k ? (const void *)yf3 : (const void *)yi3;
        eta_net *a, *b;
        double la8, la3, lb3, la8b;
        size_t np;
        assert_int_equal(eta_net_new(&a, "Sequential(Linear(5, 4), Tanh(), Linear(4, 3))", NULL), 0);
        assert_int_equal(eta_net_new(&b, "Sequential(Linear(5, 4), Tanh(), Linear(4, 3))", NULL), 0);
        assert_int_equal(eta_net_prepare(a, 8, 1, (int64_t[]){5}, NULL), 0);
        assert_int_equal(eta_net_prepare(b, 3, 1, (int64_t[]){5}, NULL), 0);
        assert_int_equal(eta_net_set_loss(a, losses[k], NULL), 0);
        assert_int_equal(eta_net_set_loss(b, losses[k], NULL), 0);
        assert_int_equal(eta_net_init(a, 5), 0);
        assert_int_equal(eta_net_init(b, 5), 0);
        assert_int_equal(eta_net_forward(a, x, y, &la8), 0);
        assert_int_equal(eta_net_prepare(a, 3, 1, (int64_t[]){5}, NULL), 0);
        assert_int_equal(eta_net_forward(a, x, y3, &la3), 0);
        assert_int_equal(eta_net_backward(a), 0);
        assert_int_equal(eta_net_forward(b, x, y3, &lb3), 0);
        assert_int_equal(eta_net_backward(b), 0);
        assert_true(la3 == lb3 && la3 != la8);
        const float *ga = eta_net_grads(a, &np);
        assert_memory_equal(ga, eta_net_grads(b, NULL), np * sizeof *ga);
        assert_int_equal(eta_net_prepare(a, 8, 1, (int64_t[]){5}, NULL), 0);
        assert_int_equal(eta_net_forward(a, x, y, &la8b), 0);
        assert_true(la8b == la8);
        eta_net_free(a);
        eta_net_free(b);
    }
}

static void test_names_and_errors(void **state)
{
    (void)state;
    eta_net *net;
    eta_err err;
    assert_int_equal(eta_net_new(&net, "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), "
                                       "Linear(128, 10, bias=False))", &err), 0);
    assert_int_equal(eta_net_prepare(net, 4, 1, (int64_t[]){784}, &err), 0);
    assert_int_equal(eta_net_param_count(net), 5);
    const char *names[] = {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight"};
    for (int i = 0; i < 5; i++) {
        const char *nm;
        assert_int_equal(eta_net_param_info(net, i, &nm, NULL, NULL, NULL), 0);
        assert_string_equal(nm, names[i]);
    }
    assert_int_equal(eta_net_param_total(net), 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10);
    char buf[2048];
    eta_net_summary(net, buf, sizeof buf);
    assert_non_null(strstr(buf, "total parameters: 235136"));
    /* A wrong input width names the layer and both shapes. */
    assert_int_equal(eta_net_prepare(net, 4, 1, (int64_t[]){780}, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "layer 0 (Linear 0): expected input [batch, ..., 784], got [4, 780]"));
    eta_net_free(net);
    assert_int_equal(eta_net_new(&net, "Sequential(Linear(4, 3), Linear(5, 2))", &err), 0);
    assert_int_equal(eta_net_prepare(net, 2, 1, (int64_t[]){4}, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "layer 1 (Linear 1)"));
    eta_net_free(net);
    const struct {
        const char *spec, *msg;
    } bad[] = {
        {"Sequential(Linear(4))", "missing required argument 'out_features'"},
        {"Sequential(Linear(0, 3))", "in_features must be in [1, 1e+09], got 0"},
        {"Sequential(Linar(4, 3))", "unknown module 'Linar'; did you mean Linear? (eta model --list shows all "},
        {"Sequential(Linear(4, 3), ReLU(", "'(' was never closed"},
        {"Sequential(Dropout(p=1.5))", "p must be in"},
        {"Sequential(GELU(approximate='fast'))", "approximate must be one of"},
        {"Sequential()", "needs at least one module"},
        {"Linear(4, 3, bias=2)", "bias must be True or False"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        net = NULL;
        int rc = eta_net_new(&net, bad[i].spec, &err);
        if (rc == ETA_OK || !strstr(err.msg, bad[i].msg))
            fail_msg("%s: rc %d, '%s' (expected '%s')", bad[i].spec, rc, err.msg, bad[i].msg);
        assert_null(net);
    }
    /* Bad targets are refused, not read out of range. */
    assert_int_equal(eta_net_new(&net, "Linear(3, 4)", &err), 0);
    assert_int_equal(eta_net_prepare(net, 2, 1, (int64_t[]){3}, &err), 0);
    assert_int_equal(eta_net_set_loss(net, "CrossEntropyLoss()", &err), 0);
    float x[6] = {0};
    int32_t y[2] = {1, 4};
    assert_int_equal(eta_net_forward(net, x, y, NULL), ETA_EINVAL);
    assert_non_null(strstr(eta_net_error(net), "target 4 at index 1 is not a class in [0, 4)"));
    assert_int_equal(eta_net_set_loss(net, "CrossEntropyLoss(reduction='sum')", &err), ETA_EINVAL);
    assert_int_equal(eta_net_set_loss(net, "L1Loss()", &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "valid losses"));
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finite_differences),
        cmocka_unit_test(test_names_and_errors),
        cmocka_unit_test(test_input_grad_switch),
        cmocka_unit_test(test_prepare_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
