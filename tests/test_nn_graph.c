/* tests/test_nn_graph.c - labels: unit full
 *
 * What eta_net_prepare does to the op graph beyond the layers themselves,
 * checked through the public API:
 *  - a ReLU read only by a MaxPool2d is folded into the pooling (net.c's
 *    fuse): the network must give the same output, loss, parameter gradients
 *    and input gradient as the same network with LeakyReLU(0.0), which is
 *    never fused and computes the same function (its negative side is -0.0
 *    where ReLU's is +0.0, equal as numbers), for 2x2 pooling and for
 *    overlapping windows with padding, over several steps, so that gradient
 *    buffers hold the previous step's values when they are reused;
 *  - MaxPool2d(2)'s set-the-gradient kernel on odd-sized planes against its
 *    adding kernel;
 *  - the gradient a sole reader sets instead of adding to (nn_op.gset) is
 *    not left over from before: a second backward after the same forward
 *    gives the same gradients, and so does a network whose pieces are read
 *    twice (a residual, where the zeroing must stay);
 *  - a ReLU that is the network's output is not fused;
 *  - ReLU passes NaN and -0.0 as torch's does, fused or not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <eta/eta.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static double urand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

/* Multiples of 2^-12 in [-scale, scale], a few of them exactly 0. */
static void fill(float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * round((2 * urand() - 1) * 4096) / 4096);
}

static eta_net *make_net(const char *spec, int64_t batch, int ndim, const int64_t *shape, const char *loss)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    if (eta_net_prepare(net, batch, ndim, shape, &err) || eta_net_set_loss(net, loss, &err))
        fail_msg("%s: %s", spec, err.msg);
    assert_int_equal(eta_net_init(net, 11), ETA_OK);
    return net;
}

/* a[i] == b[i] for all i, as numbers (so -0.0 == 0.0). */
static void assert_same_numbers(const float *a, const float *b, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i]))
            fail_msg("%s[%zu]: %.9g != %.9g", what, i, (double)a[i], (double)b[i]);
}

/* Runs `steps` SGD steps on both networks (the same data) and compares
 * everything after each backward pass. */
static void compare_nets(const char *fused_spec, const char *plain_spec, int B, const int64_t *shape, int classes)
{
    eta_net *f = make_net(fused_spec, B, 3, shape, "CrossEntropyLoss()");
    eta_net *p = make_net(plain_spec, B, 3, shape, "CrossEntropyLoss()");
    size_t nx = (size_t)B * (size_t)(shape[0] * shape[1] * shape[2]), np, np2;
    float *x = malloc(nx * sizeof *x);
    int32_t *y = malloc((size_t)B * sizeof *y);
    fill(x, nx, 2.0);
    for (int i = 0; i < B; i++)
        y[i] = (int32_t)(urand() * classes);
    float *wf = eta_net_params(f, &np), *wp = eta_net_params(p, &np2);
    assert_int_equal(np, np2);
    assert_memory_equal(wf, wp, np * sizeof *wf);
    for (int step = 0; step < 3; step++) {
        double lf, lp;
        assert_int_equal(eta_net_forward(f, x, y, &lf), ETA_OK);
        assert_int_equal(eta_net_forward(p, x, y, &lp), ETA_OK);
        assert_true(lf == lp);
        int nd;
        int64_t os[4];
        const float *of = eta_net_output(f, &nd, os), *op = eta_net_output(p, NULL, NULL);
        size_t no = 1;
        for (int d = 0; d < nd; d++)
            no *= (size_t)os[d];
        assert_same_numbers(of, op, no, "output");
        assert_int_equal(eta_net_backward(f), ETA_OK);
        assert_int_equal(eta_net_backward(p), ETA_OK);
        const float *gf = eta_net_grads(f, NULL), *gp = eta_net_grads(p, NULL);
        assert_same_numbers(gf, gp, np, "grads");
        assert_same_numbers(eta_net_input_grad(f), eta_net_input_grad(p), nx, "input grad");
        for (size_t i = 0; i < np; i++) { /* an SGD step, lr 0.1 */
            wf[i] -= 0.1f * gf[i];
            wp[i] -= 0.1f * gp[i];
        }
    }
    free(x);
    free(y);
    eta_net_free(f);
    eta_net_free(p);
}

static void test_relu_maxpool_2x2(void **state)
{
    (void)state;
    compare_nets("Sequential(Conv2d(2, 4, 3, padding=1), ReLU(), MaxPool2d(2), Conv2d(4, 3, 3, padding=1), ReLU(), "
                 "MaxPool2d(2), Flatten(), Linear(12, 5))",
                 "Sequential(Conv2d(2, 4, 3, padding=1), LeakyReLU(0.0), MaxPool2d(2), Conv2d(4, 3, 3, padding=1), "
                 "LeakyReLU(0.0), MaxPool2d(2), Flatten(), Linear(12, 5))",
                 5, (int64_t[]){2, 8, 8}, 5);
    /* the ReLU on the network's input: a view of the input, whose gradient
     * the pooling adds into */
    compare_nets("Sequential(ReLU(), MaxPool2d(2), Flatten(), Linear(16, 3))",
                 "Sequential(LeakyReLU(0.0), MaxPool2d(2), Flatten(), Linear(16, 3))", 4, (int64_t[]){2, 4, 8}, 3);
}

/* Overlapping windows with padding: the general pooling kernel, and input
 * elements that several windows pick. */
static void test_relu_maxpool_overlap(void **state)
{
    (void)state;
    compare_nets("Sequential(Conv2d(1, 3, 3), ReLU(), MaxPool2d(3, stride=2, padding=1), Flatten(), Linear(48, 4))",
                 "Sequential(Conv2d(1, 3, 3), LeakyReLU(0.0), MaxPool2d(3, stride=2, padding=1), Flatten(), "
                 "Linear(48, 4))",
                 3, (int64_t[]){1, 9, 9}, 4);
}

/* MaxPool2d(2) on odd-sized planes through its set-the-gradient kernel
 * (its input made by an identity Conv2d(1, 1, 1), so the pooling is that
 * tensor's only reader) against the same pooling on the network's input,
 * whose gradient it adds into: the input gradients must be the same
 * numbers, the uncovered last row and column zero. */
static void test_maxpool_set_odd(void **state)
{
    (void)state;
    const int B = 3;
    const int64_t shape[3] = {1, 7, 9};
    /* Linear(12, 64): its output's gradient, dead before the pooling's
     * backward, is where the conv's output gradient goes (net.c's
     * plan_grads), so that memory holds stale values a missed element
     * would show */
    eta_net *a = make_net("Sequential(MaxPool2d(2), Flatten(), Linear(12, 64))", B, 3, shape, "MSELoss()");
    eta_net *b = make_net("Sequential(Conv2d(1, 1, 1, bias=False), MaxPool2d(2), Flatten(), Linear(12, 64))", B, 3,
                          shape, "MSELoss()");
    size_t na, nb;
    float *pa = eta_net_params(a, &na), *pb = eta_net_params(b, &nb);
    assert_int_equal(nb, na + 1);
    pb[0] = 1.0f; /* the identity */
    memcpy(pb + 1, pa, na * sizeof *pa);
    float x[3 * 63], t[3 * 64];
    fill(x, 3 * 63, 1.0);
    fill(t, 3 * 64, 1.0);
    double la, lb;
    assert_int_equal(eta_net_forward(a, x, t, &la), ETA_OK);
    assert_int_equal(eta_net_forward(b, x, t, &lb), ETA_OK);
    assert_true(la == lb);
    for (int rep = 0; rep < 2; rep++) { /* the second over the first's values */
        assert_int_equal(eta_net_backward(a), ETA_OK);
        assert_int_equal(eta_net_backward(b), ETA_OK);
        const float *ga = eta_net_input_grad(a), *gb = eta_net_input_grad(b);
        assert_same_numbers(ga, gb, 3 * 63, "input grad");
        for (int i = 0; i < 3; i++) { /* 7 x 9 planes: row 6 and column 8 lie in no window */
            for (int w = 0; w < 9; w++)
                assert_true(gb[i * 63 + 6 * 9 + w] == 0.0f);
            for (int h = 0; h < 7; h++)
                assert_true(gb[i * 63 + h * 9 + 8] == 0.0f);
        }
        assert_same_numbers(eta_net_grads(a, NULL), eta_net_grads(b, NULL) + 1, na, "grads");
    }
    eta_net_free(a);
    eta_net_free(b);
}

/* ReLU is torch's clamp_min(x, 0): NaN (a diverging run's signal) and -0.0
 * pass, as torch.relu gives (tensor([nan, -0., 0., 2.]) for [nan, -0., -1.,
 * 2.]); through a fused MaxPool2d a window holding NaN gives NaN, as
 * torch's max_pool2d(relu(x)) does, and the fused network gives what the
 * unfused one (a Dropout(0.0) between them, identity in eval) gives. */
static void test_relu_nan(void **state)
{
    (void)state;
    eta_net *net = make_net("Sequential(ReLU())", 1, 1, (int64_t[]){5}, "MSELoss()");
    const float x[5] = {NAN, -0.0f, -1.0f, 2.0f, 0.0f};
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    const float *y = eta_net_output(net, NULL, NULL);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 0.0f && signbit(y[1]));
    assert_true(y[2] == 0.0f && !signbit(y[2]));
    assert_true(y[3] == 2.0f && y[4] == 0.0f && !signbit(y[4]));
    eta_net_free(net);

    const float img[8] = {NAN, 1.0f, -1.0f, -2.0f, 2.0f, -3.0f, -0.0f, -5.0f}; /* [1, 1, 2, 4] */
    const char *specs[2] = {"Sequential(ReLU(), MaxPool2d(2))", "Sequential(ReLU(), Dropout(0.0), MaxPool2d(2))"};
    float got[2][2];
    for (int k = 0; k < 2; k++) {
        net = make_net(specs[k], 1, 3, (int64_t[]){1, 2, 4}, "MSELoss()");
        eta_net_train(net, false);
        assert_int_equal(eta_net_forward(net, img, NULL, NULL), ETA_OK);
        memcpy(got[k], eta_net_output(net, NULL, NULL), sizeof got[k]);
        eta_net_free(net);
    }
    assert_true(isnan(got[0][0]) && isnan(got[1][0]));
    assert_true(got[0][1] == 0.0f && got[1][1] == 0.0f);
}

/* The gradients of one backward pass, copied. */
static float *grads_of(eta_net *net, size_t *n)
{
    const float *g = eta_net_grads(net, n);
    float *c = malloc(*n * sizeof *c);
    memcpy(c, g, *n * sizeof *c);
    return c;
}

/* A second backward after one forward gives the same bits: gradients that
 * are set are set everywhere, those added to are zeroed first. */
static void test_backward_twice(void **state)
{
    (void)state;
    const char *specs[] = {
        "Sequential(Conv2d(2, 4, 3, padding=1), ReLU(), MaxPool2d(2), Flatten(), Linear(64, 8), GELU(), Linear(8, 3))",
        "Sequential(Embedding(11, 8), PositionalEmbedding(6, 8), TransformerBlock(8, 2, causal=True), LayerNorm(8), "
        "Linear(8, 11))",
    };
    for (int c = 0; c < 2; c++) {
        bool tokens = c == 1;
        int B = 3;
        int64_t shape[3] = {2, 8, 8};
        eta_net *net = tokens ? make_net(specs[c], B, 1, (int64_t[]){6}, "CrossEntropyLoss()")
                              : make_net(specs[c], B, 3, shape, "CrossEntropyLoss()");
        size_t nx = tokens ? (size_t)B * 6 : (size_t)B * 2 * 8 * 8, ny = tokens ? nx : (size_t)B;
        float *x = malloc(nx * sizeof *x);
        int32_t *ids = malloc(nx * sizeof *ids), *y = malloc(ny * sizeof *y);
        fill(x, nx, 1.0);
        for (size_t i = 0; i < nx; i++)
            ids[i] = (int32_t)(urand() * 11);
        for (size_t i = 0; i < ny; i++)
            y[i] = (int32_t)(urand() * (tokens ? 11 : 3));
        const void *in = tokens ? (const void *)ids : (const void *)x;
        assert_int_equal(eta_net_forward(net, in, y, NULL), ETA_OK);
        assert_int_equal(eta_net_backward(net), ETA_OK);
        size_t n;
        float *g1 = grads_of(net, &n);
        assert_int_equal(eta_net_backward(net), ETA_OK);
        float *g2 = grads_of(net, &n);
        assert_memory_equal(g1, g2, n * sizeof *g1);
        /* and again after a forward pass on other data, then the first */
        fill(x, nx, 1.0);
        for (size_t i = 0; i < nx; i++)
            ids[i] = (int32_t)(urand() * 11);
        assert_int_equal(eta_net_forward(net, in, y, NULL), ETA_OK);
        assert_int_equal(eta_net_backward(net), ETA_OK);
        free(g2);
        g2 = grads_of(net, &n);
        bool differ = memcmp(g1, g2, n * sizeof *g1) != 0;
        assert_true(differ); /* other data, other gradients */
        free(g1);
        free(g2);
        free(x);
        free(ids);
        free(y);
        eta_net_free(net);
    }
}

/* A ReLU that is the network's output keeps its own output: it is read by
 * the caller (eta_net_output) and the loss. */
static void test_relu_output(void **state)
{
    (void)state;
    eta_net *net = make_net("Sequential(Conv2d(1, 2, 3), ReLU())", 2, 3, (int64_t[]){1, 5, 5}, "MSELoss()");
    float x[50], t[36] = {0};
    fill(x, 50, 1.0);
    double loss;
    assert_int_equal(eta_net_forward(net, x, t, &loss), ETA_OK);
    int nd;
    int64_t os[4];
    const float *out = eta_net_output(net, &nd, os);
    assert_int_equal(nd, 4);
    double s = 0;
    for (int i = 0; i < 36; i++) {
        assert_true(out[i] >= 0.0f);
        s += (double)out[i] * out[i];
    }
    assert_true(fabs(s / 36 - loss) <= 1e-6 * (1 + loss));
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_maxpool_2x2),
        cmocka_unit_test(test_relu_maxpool_overlap),
        cmocka_unit_test(test_maxpool_set_odd),
        cmocka_unit_test(test_backward_twice),
        cmocka_unit_test(test_relu_output),
        cmocka_unit_test(test_relu_nan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
