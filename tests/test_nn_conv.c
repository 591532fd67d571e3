/* tests/test_nn_conv.c - labels: unit fd full
 *
 * Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, BatchNorm1d and
 * BatchNorm2d through the public API (a one-layer network with MSELoss):
 *
 *  - gradients by finite differences in double. The test has its own float64
 *    forward pass of each layer and of the loss, run from the same parameters
 *    and input as eta's (widened exactly from float32). Central differences
 *    with h = 1e-6 on that double loss are exact to about 1e-9 relative
 *    (truncation h^2/6 |L'''| ~ 1e-13, rounding 1e-16 |L| / h ~ 1e-10), so
 *    the error left is eta's float32 rounding: each gradient element is a sum
 *    of at most a few hundred products, about n u ~ 1e-5 of its terms'
 *    size at worst (u = 6e-8). Gradients must agree to 1e-4 of the array's
 *    largest element (worst element reported), which is 10x that margin and
 *    far below the error of a dropped, doubled or misplaced term (1e-2 .. 1).
 *    The forward pass must match the double one to 1e-5 of its largest value.
 *    Inputs of max pooling are distinct multiples of 2^-6, so no window has
 *    two maxima within 1e-6 and the differences never cross a kink.
 *  - the float32 loss of eta_net_forward itself, by central differences with
 *    h = 1e-2 for Conv2d: the loss is quadratic in every single weight and
 *    input, so the difference quotient has no truncation error, and the
 *    float32 rounding of the loss (~3e-8 at L ~ 0.5, divided by 2h) leaves
 *    ~1e-6 absolute against gradients of ~1e-2: tolerance 2e-3 relative to
 *    the largest gradient;
 *  - hand-computed outputs (exact in float32), padding with -inf and the
 *    divisors of AvgPool2d;
 *  - the running statistics of BatchNorm (momentum, unbiased variance), kept
 *    across a second prepare, used in eval mode;
 *  - batches split into several im2col chunks against one image at a time,
 *    the same bits at 1 and 2 threads, a second backward after one forward;
 *  - parameter names, shapes and initialisation bounds.
 * Shape errors and bad arguments of these layers: test_nn_errors.c.
 */
#include <eta/nn.h>

#include "harness.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* ---- small helpers -------------------------------------------------------- */

static uint64_t rng_state = 0x1234567u;

static double urand(void) /* [0, 1), SplitMix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* Uniform in [-1, 1) rounded to 2^-12: exact in float32. */
static void fill(float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * round((2 * urand() - 1) * 4096) / 4096);
}

/* Distinct values: a shuffled grid of multiples of 2^-6 around 0. */
static void fill_distinct(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((double)i - (double)n / 2) / 64.0f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(urand() * (double)(i + 1));
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static eta_net *make_net(const char *spec, int64_t batch, int ndim, const int64_t *shape)
{
    eta_net *net;
    eta_err err;
    int rc = eta_net_new(&net, spec, &err);
    if (rc)
        fail_msg("%s: %s", spec, err.msg);
    if ((rc = eta_net_prepare(net, batch, ndim, shape, &err)) || (rc = eta_net_set_loss(net, "MSELoss()", &err)))
        fail_msg("%s: %s", spec, err.msg);
    assert_int_equal(eta_net_init(net, 7), ETA_OK);
    return net;
}

/* The parameter array `name`, or NULL; *n its size. */
static float *param(eta_net *net, const char *name, size_t *n)
{
    float *p = eta_net_params(net, NULL);
    for (int i = 0; i < eta_net_param_count(net); i++) {
        const char *nm;
        size_t off;
        int nd;
        int64_t sh[4];
        eta_net_param_info(net, i, &nm, &off, &nd, sh);
        if (!strcmp(nm, name)) {
            size_t k = 1;
            for (int d = 0; d < nd; d++)
                k *= (size_t)sh[d];
            if (n)
                *n = k;
            return p + off;
        }
    }
    return NULL;
}

static size_t out_size(eta_net *net, int *ndim, int64_t *shape)
{
    int nd;
    int64_t sh[4];
    eta_net_output(net, &nd, sh);
    size_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= (size_t)sh[d];
    if (ndim)
        *ndim = nd;
    if (shape)
        memcpy(shape, sh, sizeof sh);
    return n;
}

/* max |got - want| <= tol * max |want| over n elements, else a message with
 * the worst element. */
static void check_normwise(const char *what, const float *got, const double *want, size_t n, double tol)
{
    double scale = 0, worst = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (e > worst || isnan(e)) {
            worst = isnan(e) ? INFINITY : e;
            w = i;
        }
    }
    if (getenv("ETA_TEST_VERBOSE")) /* how close, for choosing tolerances */
        printf("%-90.90s %.2e of max %.2e\n", what, scale > 0 ? worst / scale : worst, scale);
    if (!(worst <= tol * scale) && !(scale == 0 && worst == 0))
        fail_msg("%s: element %zu: got %.9g, want %.12g (error %.3g > %.3g * max %.3g)", what, w, (double)got[w],
                 want[w], worst, tol, scale);
}

/* ---- float64 reference layers --------------------------------------------- */

enum { K_CONV, K_MAX, K_AVG, K_ADAPT, K_BN };

typedef struct tcase {
    const char *spec;
    int kind;
    int B, ndim;
    int64_t in[3];     /* input shape without the batch */
    int OC, KH, KW, SH, SW, PH, PW; /* conv and pools; AdaptiveAvgPool2d: output KH x KW */
    int cip, div;      /* AvgPool2d: count_include_pad, divisor_override (0: None) */
    int train;         /* BatchNorm: batch statistics */
    double eps, mom;
    bool distinct;     /* distinct input values (max pooling) */
} tcase;

/* Offsets of the named arrays in the flat parameter buffer (-1: absent). */
typedef struct layout {
    long w, b, rm, rv;
} layout;

static layout layout_of(eta_net *net)
{
    /* "0.weight" in a Sequential, "weight" for a lone module */
    static const char *const names[4] = {"weight", "bias", "running_mean", "running_var"};
    long off[4] = {-1, -1, -1, -1};
    float *p0 = eta_net_params(net, NULL), *p;
    char name[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "0.%s", names[i]);
        if ((p = param(net, name, NULL)) || (p = param(net, names[i], NULL)))
            off[i] = p - p0;
    }
    return (layout){off[0], off[1], off[2], off[3]};
}

static int out_dim(int n, int k, int s, int p)
{
    return (n + 2 * p - k) / s + 1;
}

/* y = layer(x) in double; x [B, in...], parameters p in eta's layout. */
static void ref_forward(const tcase *k, const layout *L, const double *p, const double *x, double *y)
{
    int B = k->B, nd = k->ndim;
    int H = nd >= 2 ? (int)k->in[nd - 2] : 1, W = nd >= 1 ? (int)k->in[nd - 1] : 1;
    if (k->kind == K_CONV) {
        int C = (int)k->in[0], OH = out_dim(H, k->KH, k->SH, k->PH), OW = out_dim(W, k->KW, k->SW, k->PW);
        for (int b = 0; b < B; b++)
            for (int o = 0; o < k->OC; o++)
                for (int oh = 0; oh < OH; oh++)
                    for (int ow = 0; ow < OW; ow++) {
                        double s = L->b >= 0 ? p[L->b + o] : 0;
                        for (int c = 0; c < C; c++)
                            for (int kh = 0; kh < k->KH; kh++)
                                for (int kw = 0; kw < k->KW; kw++) {
                                    int ih = oh * k->SH - k->PH + kh, iw = ow * k->SW - k->PW + kw;
                                    if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                        continue;
                                    s += p[L->w + ((o * C + c) * k->KH + kh) * k->KW + kw] *
                                         x[((size_t)(b * C + c) * H + ih) * W + iw];
                                }
                        y[(((size_t)b * k->OC + o) * OH + oh) * OW + ow] = s;
                    }
        return;
    }
    if (k->kind == K_MAX || k->kind == K_AVG || k->kind == K_ADAPT) {
        int planes = B * (nd == 3 ? (int)k->in[0] : 1);
        int OH = k->kind == K_ADAPT ? k->KH : out_dim(H, k->KH, k->SH, k->PH);
        int OW = k->kind == K_ADAPT ? k->KW : out_dim(W, k->KW, k->SW, k->PW);
        for (int t = 0; t < planes; t++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int h0, h1, w0, w1;
                    if (k->kind == K_ADAPT) {
                        h0 = oh * H / OH;
                        h1 = ((oh + 1) * H + OH - 1) / OH;
                        w0 = ow * W / OW;
                        w1 = ((ow + 1) * W + OW - 1) / OW;
                    } else {
                        h0 = oh * k->SH - k->PH;
                        w0 = ow * k->SW - k->PW;
                        h1 = h0 + k->KH;
                        w1 = w0 + k->KW;
                    }
                    double best = -INFINITY, sum = 0;
                    int count = 0;
                    for (int ih = h0; ih < h1; ih++)
                        for (int iw = w0; iw < w1; iw++) {
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W)
                                continue;
                            double v = x[((size_t)t * H + ih) * W + iw];
                            best = v > best ? v : best;
                            sum += v;
                            count++;
                        }
                    double div = k->kind == K_ADAPT ? count : k->div ? k->div : k->cip ? k->KH * k->KW : count;
                    y[((size_t)t * OH + oh) * OW + ow] = k->kind == K_MAX ? best : sum / div;
                }
        return;
    }
    /* BatchNorm: [B, C, L] */
    int C = (int)k->in[0];
    size_t Ln = 1;
    for (int d = 1; d < nd; d++)
        Ln *= (size_t)k->in[d];
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0, n = (double)B * (double)Ln;
        if (k->train) {
            for (int b = 0; b < B; b++)
                for (size_t l = 0; l < Ln; l++)
                    m += x[((size_t)b * C + c) * Ln + l];
            m /= n;
            for (int b = 0; b < B; b++)
                for (size_t l = 0; l < Ln; l++) {
                    double e = x[((size_t)b * C + c) * Ln + l] - m;
                    v += e * e;
                }
            v /= n;
        } else {
            m = p[L->rm + c];
            v = p[L->rv + c];
        }
        double w = L->w >= 0 ? p[L->w + c] : 1, bb = L->b >= 0 ? p[L->b + c] : 0;
        for (int b = 0; b < B; b++)
            for (size_t l = 0; l < Ln; l++) {
                size_t i = ((size_t)b * C + c) * Ln + l;
                y[i] = (x[i] - m) / sqrt(v + k->eps) * w + bb;
            }
    }
}

static double ref_loss(const tcase *k, const layout *L, const double *p, const double *x, const double *t,
                       double *y, size_t ny)
{
    ref_forward(k, L, p, x, y);
    double s = 0;
    for (size_t i = 0; i < ny; i++)
        s += (y[i] - t[i]) * (y[i] - t[i]);
    return s / (double)ny;
}

/* ---- the finite-difference check of one case ------------------------------- */

static void fd_case(const tcase *k)
{
    int64_t shape[3];
    memcpy(shape, k->in, sizeof shape);
    eta_net *net = make_net(k->spec, k->B, k->ndim, shape);
    eta_net_train(net, k->train || k->kind != K_BN);
    size_t nx = (size_t)k->B, np;
    for (int d = 0; d < k->ndim; d++)
        nx *= (size_t)k->in[d];
    float *pf = eta_net_params(net, &np);
    layout L = layout_of(net);
    /* awkward parameters: random weights and biases, running statistics away from 0 and 1 */
    if (k->kind == K_BN) {
        int C = (int)k->in[0];
        for (int c = 0; c < C; c++) {
            if (L.w >= 0)
                pf[L.w + c] = (float)(0.5 + urand());
            if (L.b >= 0)
                pf[L.b + c] = (float)(urand() - 0.5);
            if (L.rm >= 0)
                pf[L.rm + c] = (float)(urand() - 0.5);
            if (L.rv >= 0)
                pf[L.rv + c] = (float)(0.5 + urand());
        }
    }
    size_t ny = out_size(net, NULL, NULL);
    float *xf = malloc(nx * sizeof *xf), *tf = malloc(ny * sizeof *tf);
    if (k->distinct)
        fill_distinct(xf, nx);
    else
        fill(xf, nx, 1.0);
    fill(tf, ny, 0.5);
    double *p = malloc(np * sizeof *p), *x = malloc(nx * sizeof *x), *t = malloc(ny * sizeof *t);
    double *y = malloc(ny * sizeof *y), *gp = calloc(np, sizeof *gp), *gx = malloc(nx * sizeof *gx);
    for (size_t i = 0; i < np; i++)
        p[i] = pf[i];
    for (size_t i = 0; i < nx; i++)
        x[i] = xf[i];
    for (size_t i = 0; i < ny; i++)
        t[i] = tf[i];

    double loss;
    assert_int_equal(eta_net_forward(net, xf, tf, &loss), ETA_OK);
    double want = ref_loss(k, &L, p, x, t, y, ny);
    char what[160];
    snprintf(what, sizeof what, "%s output", k->spec);
    check_normwise(what, eta_net_output(net, NULL, NULL), y, ny, 1e-5);
    if (!(fabs(loss - want) <= 1e-5 * want))
        fail_msg("%s: loss %.9g, want %.12g", k->spec, loss, want);
    assert_int_equal(eta_net_backward(net), ETA_OK);

    const double h = 1e-6;
    for (size_t i = 0; i < np; i++) {
        double s = p[i];
        p[i] = s + h;
        double lp = ref_loss(k, &L, p, x, t, y, ny);
        p[i] = s - h;
        double lm = ref_loss(k, &L, p, x, t, y, ny);
        p[i] = s;
        gp[i] = (lp - lm) / (2 * h);
    }
    for (size_t i = 0; i < nx; i++) {
        double s = x[i];
        x[i] = s + h;
        double lp = ref_loss(k, &L, p, x, t, y, ny);
        x[i] = s - h;
        double lm = ref_loss(k, &L, p, x, t, y, ny);
        x[i] = s;
        gx[i] = (lp - lm) / (2 * h);
    }
    const float *g = eta_net_grads(net, NULL);
    for (int i = 0; i < eta_net_param_count(net); i++) {
        const char *nm;
        size_t off;
        int nd;
        int64_t sh[4];
        eta_net_param_info(net, i, &nm, &off, &nd, sh);
        size_t n = 1;
        for (int d = 0; d < nd; d++)
            n *= (size_t)sh[d];
        snprintf(what, sizeof what, "%s grad %s", k->spec, nm);
        if (strstr(nm, "running_")) { /* buffers: no gradient, as torch's */
            for (size_t j = 0; j < n; j++)
                if (g[off + j] != 0)
                    fail_msg("%s: element %zu is %g, want 0", what, j, (double)g[off + j]);
        } else {
            check_normwise(what, g + off, gp + off, n, 1e-4);
        }
    }
    snprintf(what, sizeof what, "%s input grad", k->spec);
    check_normwise(what, eta_net_input_grad(net), gx, nx, 1e-4);
    free(xf);
    free(tf);
    free(p);
    free(x);
    free(t);
    free(y);
    free(gp);
    free(gx);
    eta_net_free(net);
}

#define CONV(spec, B, C, H, W, OC, KH, KW, SH, SW, PH, PW) \
    {spec, K_CONV, B, 3, {C, H, W}, OC, KH, KW, SH, SW, PH, PW, 0, 0, 1, 0, 0, false}

static void test_fd_conv2d(void **state)
{
    (void)state;
    static const tcase cases[] = {
        CONV("Sequential(Conv2d(3, 4, 3, stride=2, padding=1))", 2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 1),
        CONV("Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(0, 1), bias=False)", 3, 2, 5, 7, 3, 3, 2, 1, 2, 0, 1),
        CONV("Conv2d(1, 5, 5, padding=2)", 2, 1, 6, 5, 5, 5, 5, 1, 1, 2, 2),
        CONV("Conv2d(4, 2, 1)", 2, 4, 3, 4, 2, 1, 1, 1, 1, 0, 0),
        CONV("Conv2d(2, 3, 4, stride=3, padding=2)", 1, 2, 10, 8, 3, 4, 4, 3, 3, 2, 2),
        CONV("Conv2d(3, 2, 3, padding='same')", 2, 3, 4, 5, 2, 3, 3, 1, 1, 1, 1),
        CONV("Conv2d(2, 2, (2, 5))", 2, 2, 3, 5, 2, 2, 5, 1, 1, 0, 0), /* kernel as wide as the input */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        fd_case(&cases[i]);
}

#define POOL(spec, kind, B, nd, d0, d1, d2, KH, KW, SH, SW, PH, PW, cip, div) \
    {spec, kind, B, nd, {d0, d1, d2}, 0, KH, KW, SH, SW, PH, PW, cip, div, 1, 0, 0, kind == K_MAX}

static void test_fd_pool(void **state)
{
    (void)state;
    static const tcase cases[] = {
        POOL("MaxPool2d(2)", K_MAX, 2, 3, 3, 8, 6, 2, 2, 2, 2, 0, 0, 0, 0),
        POOL("MaxPool2d(2)", K_MAX, 2, 3, 2, 5, 7, 2, 2, 2, 2, 0, 0, 0, 0), /* odd sizes: rows dropped */
        POOL("MaxPool2d(3, stride=2, padding=1)", K_MAX, 2, 3, 2, 7, 9, 3, 3, 2, 2, 1, 1, 0, 0),
        POOL("MaxPool2d(3, stride=1)", K_MAX, 1, 3, 2, 5, 6, 3, 3, 1, 1, 0, 0, 0, 0), /* overlapping */
        POOL("MaxPool2d((2, 3), stride=(1, 2), padding=(1, 1))", K_MAX, 2, 2, 5, 7, 0, 2, 3, 1, 2, 1, 1, 0, 0),
        POOL("MaxPool2d(2, stride=None)", K_MAX, 2, 3, 1, 4, 4, 2, 2, 2, 2, 0, 0, 0, 0),
        POOL("AvgPool2d(2)", K_AVG, 2, 3, 3, 8, 6, 2, 2, 2, 2, 0, 0, 1, 0),
        POOL("AvgPool2d(3, stride=2, padding=1)", K_AVG, 2, 3, 2, 7, 9, 3, 3, 2, 2, 1, 1, 1, 0),
        POOL("AvgPool2d(3, stride=2, padding=1, count_include_pad=False)", K_AVG, 2, 3, 2, 7, 9, 3, 3, 2, 2, 1, 1, 0,
             0),
        POOL("AvgPool2d((3, 2), stride=1, padding=(1, 0), divisor_override=4)", K_AVG, 1, 3, 2, 4, 5, 3, 2, 1, 1, 1, 0,
             1, 4),
        POOL("AvgPool2d(2, stride=1)", K_AVG, 2, 2, 4, 5, 0, 2, 2, 1, 1, 0, 0, 1, 0), /* [B, H, W] */
        POOL("AdaptiveAvgPool2d(1)", K_ADAPT, 2, 3, 4, 5, 7, 1, 1, 0, 0, 0, 0, 0, 0),
        POOL("AdaptiveAvgPool2d()", K_ADAPT, 1, 3, 3, 3, 4, 1, 1, 0, 0, 0, 0, 0, 0),
        POOL("AdaptiveAvgPool2d((2, 3))", K_ADAPT, 2, 3, 2, 5, 7, 2, 3, 0, 0, 0, 0, 0, 0),
        POOL("AdaptiveAvgPool2d(4)", K_ADAPT, 1, 3, 1, 3, 5, 4, 4, 0, 0, 0, 0, 0, 0), /* larger than the input */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        fd_case(&cases[i]);
}

#define BN(spec, B, nd, d0, d1, d2, train, eps) {spec, K_BN, B, nd, {d0, d1, d2}, 0, 0, 0, 0, 0, 0, 0, 0, 0, train, eps, 0.1, false}

static void test_fd_batchnorm(void **state)
{
    (void)state;
    static const tcase cases[] = {
        BN("BatchNorm1d(5)", 4, 1, 5, 0, 0, 1, 1e-5),
        BN("BatchNorm1d(3, eps=0.1)", 2, 1, 3, 0, 0, 1, 0.1),
        BN("BatchNorm1d(3)", 2, 2, 3, 6, 0, 1, 1e-5),
        BN("BatchNorm1d(4, affine=False)", 3, 1, 4, 0, 0, 1, 1e-5),
        BN("BatchNorm2d(3)", 2, 3, 3, 4, 5, 1, 1e-5),
        BN("BatchNorm2d(2, momentum=0.5)", 3, 3, 2, 3, 5, 1, 1e-5),
        BN("BatchNorm2d(2, track_running_stats=False)", 2, 3, 2, 3, 3, 1, 1e-5),
        BN("BatchNorm2d(2)", 1, 3, 2, 3, 3, 1, 1e-5), /* batch 1 */
        /* eval mode: the running statistics */
        BN("BatchNorm1d(5)", 4, 1, 5, 0, 0, 0, 1e-5),
        BN("BatchNorm1d(3)", 2, 2, 3, 6, 0, 0, 1e-5),
        BN("BatchNorm2d(3, eps=0.01)", 2, 3, 3, 4, 5, 0, 0.01),
        BN("BatchNorm2d(2, affine=False)", 2, 3, 2, 3, 2, 0, 1e-5),
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        fd_case(&cases[i]);
}

/* ---- eta's own float32 loss, by central differences ------------------------ */

static void test_fd_float32_conv(void **state)
{
    (void)state;
    eta_net *net = make_net("Sequential(Conv2d(3, 4, 3, stride=2, padding=1))", 2, 3, (int64_t[]){3, 7, 6});
    size_t np, nx = 2 * 3 * 7 * 6, ny = out_size(net, NULL, NULL);
    float *p = eta_net_params(net, &np), *x = malloc(nx * sizeof *x), *t = malloc(ny * sizeof *t);
    fill(x, nx, 1.0);
    fill(t, ny, 0.5);
    double loss, lp, lm;
    assert_int_equal(eta_net_forward(net, x, t, &loss), ETA_OK);
    assert_int_equal(eta_net_backward(net), ETA_OK);
    float *g = malloc(np * sizeof *g), *gx = malloc(nx * sizeof *gx);
    memcpy(g, eta_net_grads(net, NULL), np * sizeof *g);
    memcpy(gx, eta_net_input_grad(net), nx * sizeof *gx);
    double *fd = malloc((np > nx ? np : nx) * sizeof *fd);
    const float h = 1e-2f;
    for (size_t i = 0; i < np; i++) {
        float s = p[i];
        p[i] = s + h;
        eta_net_forward(net, x, t, &lp);
        p[i] = s - h;
        eta_net_forward(net, x, t, &lm);
        p[i] = s;
        fd[i] = (lp - lm) / (2.0 * (double)h);
    }
    check_normwise("float32 FD of the parameters", g, fd, np, 2e-3);
    for (size_t i = 0; i < nx; i++) {
        float s = x[i];
        x[i] = s + h;
        eta_net_forward(net, x, t, &lp);
        x[i] = s - h;
        eta_net_forward(net, x, t, &lm);
        x[i] = s;
        fd[i] = (lp - lm) / (2.0 * (double)h);
    }
    check_normwise("float32 FD of the input", gx, fd, nx, 2e-3);
    free(x);
    free(t);
    free(g);
    free(gx);
    free(fd);
    eta_net_free(net);
}

/* ---- exact cases ------------------------------------------------------------ */

static void run_exact(const char *spec, int64_t batch, int ndim, const int64_t *shape, const float *x,
                      const float *w, size_t nw, const float *want, size_t nwant)
{
    eta_net *net = make_net(spec, batch, ndim, shape);
    if (w)
        memcpy(eta_net_params(net, NULL), w, nw * sizeof *w);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    assert_int_equal(out_size(net, NULL, NULL), nwant);
    const float *y = eta_net_output(net, NULL, NULL);
    for (size_t i = 0; i < nwant; i++)
        if (y[i] != want[i])
            fail_msg("%s: output %zu is %.9g, want %.9g", spec, i, (double)y[i], (double)want[i]);
    eta_net_free(net);
}

static void test_exact(void **state)
{
    (void)state;
    float x9[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8}, w4[4] = {1, 2, 3, 4}, x16[16], ones[16], neg[16];
    for (int i = 0; i < 16; i++) {
        x16[i] = (float)i;
        ones[i] = 1;
        neg[i] = -1 - (float)i;
    }
    const int64_t s33[] = {1, 3, 3}, s44[] = {1, 4, 4};
    run_exact("Conv2d(1, 1, 2, bias=False)", 1, 3, s33, x9, w4, 4, (const float[]){27, 37, 57, 67}, 4);
    run_exact("Conv2d(1, 1, 2, stride=2, padding=1, bias=False)", 1, 3, s33, x9, w4, 4,
              (const float[]){0, 11, 30, 67}, 4);
    run_exact("Conv2d(1, 1, 2)", 1, 3, s33, x9, (const float[]){1, 2, 3, 4, 0.5f}, 5,
              (const float[]){27.5f, 37.5f, 57.5f, 67.5f}, 4);
    run_exact("MaxPool2d(2)", 1, 3, s44, x16, NULL, 0, (const float[]){5, 7, 13, 15}, 4);
    /* padding is -inf, not 0: an all-negative input keeps its values */
    run_exact("MaxPool2d(3, stride=2, padding=1)", 1, 3, s44, neg, NULL, 0, (const float[]){-1, -2, -5, -6}, 4);
    /* the window at (0, 0) covers 4 inputs of 9, (0, 1) and (1, 0) 6, (1, 1) 9 */
    run_exact("AvgPool2d(3, stride=2, padding=1)", 1, 3, s44, ones, NULL, 0,
              (const float[]){4.0f / 9, 6.0f / 9, 6.0f / 9, 1}, 4);
    run_exact("AvgPool2d(3, stride=2, padding=1, count_include_pad=False)", 1, 3, s44, ones, NULL, 0,
              (const float[]){1, 1, 1, 1}, 4);
    run_exact("AvgPool2d(3, stride=2, padding=1, divisor_override=2)", 1, 3, s44, ones, NULL, 0,
              (const float[]){2, 3, 3, 4.5f}, 4);
    run_exact("AdaptiveAvgPool2d(1)", 1, 3, s44, x16, NULL, 0, (const float[]){7.5f}, 1);
    run_exact("AdaptiveAvgPool2d((2, 1))", 1, 3, s44, x16, NULL, 0, (const float[]){3.5f, 11.5f}, 2);

    /* max pooling: NaN wins, and the first of equal maxima takes the gradient */
    eta_net *net = make_net("MaxPool2d(2)", 1, 3, (int64_t[]){1, 2, 4});
    float x[8] = {1, NAN, 3, 3, 2, 0, 3, 3}, t[2] = {0, 0};
    double loss;
    assert_int_equal(eta_net_forward(net, x, t, &loss), ETA_OK);
    const float *y = eta_net_output(net, NULL, NULL);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 3);
    x[1] = 0;
    assert_int_equal(eta_net_forward(net, x, t, &loss), ETA_OK);
    assert_int_equal(eta_net_backward(net), ETA_OK);
    const float *gx = eta_net_input_grad(net); /* dL/dy = 2 y / 2 = y */
    const float gwant[8] = {0, 0, 3, 0, 2, 0, 0, 0};
    for (int i = 0; i < 8; i++)
        if (gx[i] != gwant[i])
            fail_msg("MaxPool2d ties: input grad %d is %g, want %g", i, (double)gx[i], (double)gwant[i]);
    eta_net_free(net);
}

/* ---- BatchNorm's running statistics ---------------------------------------- */

static void test_running_stats(void **state)
{
    (void)state;
    /* BatchNorm1d(2, momentum=0.25) on [4, 2, 3]: 12 values per channel */
    eta_net *net = make_net("Sequential(BatchNorm1d(2, momentum=0.25))", 4, 2, (int64_t[]){2, 3});
    size_t n;
    float *rm = param(net, "0.running_mean", &n), *rv = param(net, "0.running_var", NULL);
    assert_non_null(rm);
    assert_non_null(rv);
    assert_int_equal(n, 2);
    assert_true(rm[0] == 0 && rm[1] == 0 && rv[0] == 1 && rv[1] == 1);
    assert_true(param(net, "0.weight", NULL)[1] == 1 && param(net, "0.bias", NULL)[1] == 0);
    /* state_dict order: weight, bias, running_mean, running_var */
    const char *names[4];
    for (int i = 0; i < 4; i++)
        eta_net_param_info(net, i, &names[i], NULL, NULL, NULL);
    assert_string_equal(names[0], "0.weight");
    assert_string_equal(names[3], "0.running_var");

    float x[24];
    fill(x, 24, 2.0);
    double mean[2] = {0, 0}, ss[2] = {0, 0};
    for (int b = 0; b < 4; b++)
        for (int c = 0; c < 2; c++)
            for (int l = 0; l < 3; l++)
                mean[c] += x[(b * 2 + c) * 3 + l] / 12.0;
    for (int b = 0; b < 4; b++)
        for (int c = 0; c < 2; c++)
            for (int l = 0; l < 3; l++)
                ss[c] += (x[(b * 2 + c) * 3 + l] - mean[c]) * (x[(b * 2 + c) * 3 + l] - mean[c]);
    double wm[2], wv[2];
    for (int c = 0; c < 2; c++) { /* two train passes */
        wm[c] = 0.25 * mean[c];
        wv[c] = 0.25 * ss[c] / 11 + 0.75;
        wm[c] = 0.25 * mean[c] + 0.75 * wm[c];
        wv[c] = 0.25 * ss[c] / 11 + 0.75 * wv[c];
    }
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    /* train output: per channel mean 0, biased variance var / (var + eps) */
    const float *y = eta_net_output(net, NULL, NULL);
    for (int c = 0; c < 2; c++) {
        double m = 0, v = 0, var = ss[c] / 12;
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 3; l++)
                m += y[(b * 2 + c) * 3 + l] / 12.0;
        for (int b = 0; b < 4; b++)
            for (int l = 0; l < 3; l++)
                v += (y[(b * 2 + c) * 3 + l] - m) * (y[(b * 2 + c) * 3 + l] - m) / 12.0;
        assert_true(fabs(m) < 1e-6);
        assert_true(fabs(v - var / (var + 1e-5)) < 1e-5);
    }
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    for (int c = 0; c < 2; c++) {
        if (!(fabs(rm[c] - wm[c]) <= 1e-6 * fmax(1, fabs(wm[c])) && fabs(rv[c] - wv[c]) <= 1e-6 * wv[c]))
            fail_msg("running stats of channel %d: %.9g %.9g, want %.9g %.9g", c, (double)rm[c], (double)rv[c],
                     wm[c], wv[c]);
    }
    /* eval mode on another batch size: the statistics survive the prepare */
    eta_err err;
    assert_int_equal(eta_net_prepare(net, 1, 2, (int64_t[]){2, 3}, &err), ETA_OK);
    rm = param(net, "0.running_mean", NULL);
    rv = param(net, "0.running_var", NULL);
    assert_true(fabs(rm[1] - wm[1]) <= 1e-6 * fmax(1, fabs(wm[1])));
    eta_net_train(net, false);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    y = eta_net_output(net, NULL, NULL);
    for (int c = 0; c < 2; c++)
        for (int l = 0; l < 3; l++) {
            double want = (x[c * 3 + l] - (double)rm[c]) / sqrt((double)rv[c] + 1e-5);
            assert_true(fabs(y[c * 3 + l] - want) <= 1e-5 * fmax(1, fabs(want)));
        }
    /* eval mode leaves them alone */
    float keep = rv[0];
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    assert_true(rv[0] == keep);
    eta_net_free(net);
}

/* ---- chunks, threads, a repeated backward ----------------------------------- */

/* Conv2d(64, 4, 3, padding=1) on [47, 64, 8, 8]: 64 pixels per image, so
 * im2col takes 3 images a chunk (conv.c: about 192 GEMM columns, col at most
 * 2^19 floats), 16 chunks, the last of 2, four in each slot. Against the same network at batch
 * 1, one image at a time (the loss is a mean over the batch, so its
 * gradients are the images' means). */
static void test_chunks(void **state)
{
    (void)state;
    const char *spec = "Conv2d(64, 4, 3, padding=1)";
    const int B = 47;
    const int64_t shape[] = {64, 8, 8};
    const size_t nxi = 64 * 8 * 8, nyi = 4 * 8 * 8;
    eta_net *big = make_net(spec, B, 3, shape), *one = make_net(spec, 1, 3, shape);
    size_t np;
    float *pb = eta_net_params(big, &np);
    memcpy(eta_net_params(one, NULL), pb, np * sizeof *pb);
    float *x = malloc(B * nxi * sizeof *x), *t = malloc(B * nyi * sizeof *t);
    fill(x, B * nxi, 1.0);
    fill(t, B * nyi, 0.5);
    double *gsum = calloc(np, sizeof *gsum), *ywant = malloc(B * nyi * sizeof *ywant);
    double *gxwant = malloc(B * nxi * sizeof *gxwant);
    for (int b = 0; b < B; b++) {
        assert_int_equal(eta_net_forward(one, x + b * nxi, t + b * nyi, NULL), ETA_OK);
        assert_int_equal(eta_net_backward(one), ETA_OK);
        const float *g = eta_net_grads(one, NULL), *gx = eta_net_input_grad(one), *y = eta_net_output(one, NULL, NULL);
        for (size_t i = 0; i < np; i++)
            gsum[i] += g[i] / (double)B;
        for (size_t i = 0; i < nyi; i++)
            ywant[b * nyi + i] = y[i];
        for (size_t i = 0; i < nxi; i++)
            gxwant[b * nxi + i] = gx[i] / (double)B;
    }
    assert_int_equal(eta_net_forward(big, x, t, NULL), ETA_OK);
    /* sums of 576 products, in another order (bias first, or GEMM blocks) */
    check_normwise("chunked output", eta_net_output(big, NULL, NULL), ywant, B * nyi, 1e-5);
    for (int rep = 0; rep < 2; rep++) { /* a second backward after the same forward */
        assert_int_equal(eta_net_backward(big), ETA_OK);
        check_normwise("chunked weight grad", eta_net_grads(big, NULL), gsum, np - 4, 1e-5);
        check_normwise("chunked bias grad", eta_net_grads(big, NULL) + np - 4, gsum + np - 4, 4, 1e-5);
        check_normwise("chunked input grad", eta_net_input_grad(big), gxwant, B * nxi, 1e-5);
    }
    free(x);
    free(t);
    free(gsum);
    free(ywant);
    free(gxwant);
    eta_net_free(big);
    eta_net_free(one);
}

/* The same bits at 1 and 2 threads through every kind: eta's own loops, and
 * GEMMs as fixed single-threaded parts (blas.h). */
static void test_threads(void **state)
{
    (void)state;
#ifdef _OPENMP
    const char *spec = "Sequential(Conv2d(3, 8, 3, padding=1), BatchNorm2d(8), MaxPool2d(2), "
                       "AvgPool2d(3, stride=2, padding=1, count_include_pad=False), Conv2d(8, 4, 3, stride=2), "
                       "AdaptiveAvgPool2d(1), Flatten(), BatchNorm1d(4))";
    const int64_t shape[] = {3, 40, 40};
    const int B = 16;
    size_t nx = (size_t)B * 3 * 40 * 40;
    float *x = malloc(nx * sizeof *x), *t = malloc(B * 4 * sizeof *t);
    fill(x, nx, 1.0);
    fill(t, B * 4, 0.5);
    float *res[2][3];
    size_t np = 0;
    int saved = omp_get_max_threads();
    for (int r = 0; r < 2; r++) {
        omp_set_num_threads(r + 1);
        eta_net *net = make_net(spec, B, 3, shape);
        assert_int_equal(eta_net_forward(net, x, t, NULL), ETA_OK);
        assert_int_equal(eta_net_backward(net), ETA_OK);
        eta_net_params(net, &np);
        res[r][0] = malloc(np * sizeof(float));
        res[r][1] = malloc(nx * sizeof(float));
        res[r][2] = malloc(np * sizeof(float));
        memcpy(res[r][0], eta_net_grads(net, NULL), np * sizeof(float));
        memcpy(res[r][1], eta_net_input_grad(net), nx * sizeof(float));
        memcpy(res[r][2], eta_net_params(net, NULL), np * sizeof(float)); /* running stats */
        eta_net_free(net);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(res[0][0], res[1][0], np * sizeof(float));
    assert_memory_equal(res[0][1], res[1][1], nx * sizeof(float));
    assert_memory_equal(res[0][2], res[1][2], np * sizeof(float));
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++)
            free(res[r][k]);
    free(x);
    free(t);
#else
    skip();
#endif
}

/* Parameter names, shapes and PyTorch's default initialisation bounds. */
static void test_params(void **state)
{
    (void)state;
    eta_net *net = make_net("Sequential(Conv2d(3, 8, (3, 5)), Conv2d(8, 2, 1, bias=False), BatchNorm2d(2, "
                            "affine=False), BatchNorm2d(2, track_running_stats=False))",
                            2, 3, (int64_t[]){3, 9, 9});
    const char *want[] = {"0.weight", "0.bias", "1.weight", "2.running_mean", "2.running_var", "3.weight", "3.bias"};
    assert_int_equal(eta_net_param_count(net), 7);
    for (int i = 0; i < 7; i++) {
        const char *nm;
        eta_net_param_info(net, i, &nm, NULL, NULL, NULL);
        assert_string_equal(nm, want[i]);
    }
    int nd;
    int64_t sh[4];
    eta_net_param_info(net, 0, NULL, NULL, &nd, sh);
    assert_int_equal(nd, 4);
    assert_true(sh[0] == 8 && sh[1] == 3 && sh[2] == 3 && sh[3] == 5);
    size_t n;
    float *w = param(net, "0.weight", &n), *b = param(net, "0.bias", NULL);
    double bound = 1 / sqrt(45.0), mx = 0;
    for (size_t i = 0; i < n; i++)
        mx = fmax(mx, fabs(w[i]));
    for (int i = 0; i < 8; i++)
        mx = fmax(mx, fabs(b[i]));
    assert_true(mx <= bound && mx > 0.8 * bound);
    int nd2;
    eta_net_output(net, &nd2, sh);
    assert_true(nd2 == 4 && sh[0] == 2 && sh[1] == 2 && sh[2] == 7 && sh[3] == 5);
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_conv2d),     cmocka_unit_test(test_fd_pool),
        cmocka_unit_test(test_fd_batchnorm),  cmocka_unit_test(test_fd_float32_conv),
        cmocka_unit_test(test_exact),         cmocka_unit_test(test_running_stats),
        cmocka_unit_test(test_chunks),        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
