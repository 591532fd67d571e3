/* test_nn_orthogonal.c - eta_init_orthogonal and eta_net_backward_output. labels: unit fd full
 *
 * Orthogonal initialisation (torch.nn.init.orthogonal_): for wide, tall
 * and square shapes, W W^T (or W^T W) is gain^2 times the identity to
 * float32 rounding; the same seed gives the same bits, another seed other
 * values; bad arguments are refused. backward_output: the gradients from a
 * caller's output gradient equal those of the same loss set on the network
 * (MSELoss: dL/dy = 2 (y - t) / n), and finite differences in double of a
 * loss the network does not have (sum of w_i * y_i^3).
 */
#include "harness.h"

#include <eta/nn.h>

static void check_orthogonal(int64_t rows, int64_t cols, double gain)
{
    float *w = malloc((size_t)(rows * cols) * sizeof *w), *w2 = malloc((size_t)(rows * cols) * sizeof *w2);
    assert_int_equal(eta_init_orthogonal(w, rows, cols, gain, 42), ETA_OK);
    assert_int_equal(eta_init_orthogonal(w2, rows, cols, gain, 42), ETA_OK);
    assert_memory_equal(w, w2, (size_t)(rows * cols) * sizeof *w);
    assert_int_equal(eta_init_orthogonal(w2, rows, cols, gain, 43), ETA_OK);
    assert_memory_not_equal(w, w2, (size_t)(rows * cols) * sizeof *w);
    /* the smaller side's Gram matrix: rows <= cols: W W^T (rows x rows) */
    int64_t m = rows <= cols ? rows : cols, len = rows <= cols ? cols : rows;
    double worst = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < m; j++) {
            double d = 0;
            for (int64_t k = 0; k < len; k++) {
                double a = rows <= cols ? w[i * cols + k] : w[k * cols + i];
                double b = rows <= cols ? w[j * cols + k] : w[k * cols + j];
                d += a * b;
            }
            worst = fmax(worst, fabs(d - (i == j ? gain * gain : 0)));
        }
    if (!(worst <= 1e-5 * gain * gain))
        fail_msg("orthogonal %lldx%lld gain %g: Gram matrix off by %.3g", (long long)rows, (long long)cols, gain,
                 worst);
    free(w);
    free(w2);
}

static void test_orthogonal(void **state)
{
    (void)state;
    check_orthogonal(64, 4, sqrt(2.0)); /* CleanRL's first layer [out, in] */
    check_orthogonal(64, 64, sqrt(2.0));
    check_orthogonal(2, 64, 0.01);      /* the actor's head: W W^T = 1e-4 I */
    check_orthogonal(1, 64, 1.0);       /* the critic's head: a unit row */
    check_orthogonal(7, 7, 1.0);
    float w[4];
    assert_int_equal(eta_init_orthogonal(NULL, 2, 2, 1, 0), ETA_EINVAL);
    assert_int_equal(eta_init_orthogonal(w, 0, 2, 1, 0), ETA_EINVAL);
    assert_int_equal(eta_init_orthogonal(w, 2, -1, 1, 0), ETA_EINVAL);
    assert_int_equal(eta_init_orthogonal(w, 2, 2, NAN, 0), ETA_EINVAL);
}

static const char *SPEC = "Sequential(Linear(3, 5), Tanh(), Linear(5, 2))";

static eta_net *make(int64_t batch)
{
    eta_net *net;
    eta_err err;
    assert_int_equal(eta_net_new(&net, SPEC, &err), ETA_OK);
    assert_int_equal(eta_net_prepare(net, batch, 1, (const int64_t[]){3}, &err), ETA_OK);
    assert_int_equal(eta_net_init(net, 9), ETA_OK);
    return net;
}

static void test_backward_output_equals_loss(void **state)
{
    (void)state;
    const int B = 4;
    float x[12], t[8], dout[8];
    for (int i = 0; i < 12; i++)
        x[i] = (float)sin(i * 1.3);
    for (int i = 0; i < 8; i++)
        t[i] = (float)cos(i * 0.7);
    eta_net *a = make(B), *b = make(B);
    eta_err err;
    memset(dout, 0, sizeof dout);
    assert_int_equal(eta_net_backward_output(a, dout), ETA_ESTATE); /* no forward pass yet */
    assert_int_equal(eta_net_set_loss(a, "MSELoss()", &err), ETA_OK);
    double loss;
    assert_int_equal(eta_net_forward(a, x, t, &loss), ETA_OK);
    assert_int_equal(eta_net_backward(a), ETA_OK);
    assert_int_equal(eta_net_forward(b, x, NULL, NULL), ETA_OK);
    const float *y = eta_net_output(b, NULL, NULL);
    for (int i = 0; i < 8; i++)
        dout[i] = 2.0f * (y[i] - t[i]) / 8.0f;
    assert_int_equal(eta_net_backward_output(b, dout), ETA_OK);
    size_t n, m;
    const float *ga = eta_net_grads(a, &n), *gb = eta_net_grads(b, &m);
    assert_int_equal(n, m);
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(ga[i] - gb[i]) <= 1e-6f * fmaxf(1.0f, fabsf(ga[i]))))
            fail_msg("gradient %zu: backward %.9g, backward_output %.9g", i, (double)ga[i], (double)gb[i]);
    /* with the loss set, backward_output ignores it: a zero output gradient gives zero gradients */
    memset(dout, 0, sizeof dout);
    assert_int_equal(eta_net_forward(a, x, t, &loss), ETA_OK);
    assert_int_equal(eta_net_backward_output(a, dout), ETA_OK);
    ga = eta_net_grads(a, &n);
    for (size_t i = 0; i < n; i++)
        assert_true(ga[i] == 0);
    assert_int_equal(eta_net_backward_output(a, NULL), ETA_EINVAL);
    eta_net_free(a);
    eta_net_free(b);
}

/* L = sum_i c_i y_i^3 over the outputs: dL/dy_i = 3 c_i y_i^2; finite
 * differences of L in double (the forward pass in float32, so central
 * differences with h = 1e-2 on parameters of order 0.5). */
static double cubic(eta_net *net, const float *x, float *dout)
{
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    const float *y = eta_net_output(net, NULL, NULL);
    double L = 0;
    for (int i = 0; i < 4; i++) {
        double c = 0.5 + i;
        L += c * (double)y[i] * y[i] * y[i];
        if (dout)
            dout[i] = (float)(3 * c * (double)y[i] * y[i]);
    }
    return L;
}

static void test_backward_output_fd(void **state)
{
    (void)state;
    eta_net *net = make(2);
    float x[6] = {0.3f, -1.2f, 0.8f, 1.5f, 0.1f, -0.4f}, dout[4];
    cubic(net, x, dout);
    assert_int_equal(eta_net_backward_output(net, dout), ETA_OK);
    size_t n;
    float *p = eta_net_params(net, &n);
    float *g = malloc(n * sizeof *g);
    memcpy(g, eta_net_grads(net, NULL), n * sizeof *g);
    for (size_t i = 0; i < n; i++) {
        float keep = p[i];
        const float h = 1e-2f;
        p[i] = keep + h;
        double up = cubic(net, x, NULL);
        p[i] = keep - h;
        double down = cubic(net, x, NULL);
        p[i] = keep;
        double fd = (up - down) / (2.0 * h);
        if (!(fabs(fd - g[i]) <= 2e-3 * fmax(1.0, fabs(fd))))
            fail_msg("parameter %zu: backward_output %.6g, finite differences %.6g", i, (double)g[i], fd);
    }
    free(g);
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orthogonal),
        cmocka_unit_test(test_backward_output_equals_loss),
        cmocka_unit_test(test_backward_output_fd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
