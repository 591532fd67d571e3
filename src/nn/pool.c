/* nn/pool.c - 2-D pooling (torch.nn): MaxPool2d, AvgPool2d and
 * AdaptiveAvgPool2d, kernels and modules; conv.c lists the modules in the
 * family's table (nn_modules_conv) and parses their int-or-pair arguments.
 *   https://pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html
 *   https://pytorch.org/docs/stable/generated/torch.nn.AvgPool2d.html
 *   https://pytorch.org/docs/stable/generated/torch.nn.AdaptiveAvgPool2d.html
 *
 * Inputs are [B, C, H, W] or [B, H, W]: every [H, W] plane is pooled on its
 * own. Supported as in torch except dilation (1 only), ceil_mode (False
 * only) and return_indices (False only); padding is at most half the kernel,
 * as torch requires. Max pooling pads with -inf, keeps the first maximum of
 * its window (row by row) and propagates NaN as torch's CPU kernel does
 * (`val > max || isnan(val)`); the argmax of every output, an index into its
 * input plane, is kept in op->iscratch for the backward pass. Average pooling
 * sums each window in float in torch's order and divides, as torch does.
 *
 * Loops run one thread per plane, and within a plane along output rows with
 * the window offsets outside, so the inner loops vectorise; every element's
 * arithmetic is fixed: the same bits at any thread count.
 */
#include <math.h>
#include <string.h>

#include "nn/graph.h"
#include "nn/vmath.h"

#define PAR_MIN 32768 /* elements below which a loop stays serial */


/* op->a of the pooling kinds */
enum { PL_KH, PL_KW, PL_SH, PL_SW, PL_PH, PL_PW, PL_CIP, PL_DIV, PL_NARGS };

typedef struct pgeom {
    int64_t planes;
    int H, W, OH, OW, KH, KW, SH, SW, PH, PW;
} pgeom;

static pgeom pool_geom(const nn_op *op, const nn_tensor *x)
{
    pgeom q;
    int nd = x->ndim;
    q.H = (int)x->shape[nd - 2];
    q.W = (int)x->shape[nd - 1];
    q.planes = (int64_t)(x->n / ((size_t)q.H * q.W));
    q.KH = (int)op->a[PL_KH];
    q.KW = (int)op->a[PL_KW];
    q.SH = (int)op->a[PL_SH];
    q.SW = (int)op->a[PL_SW];
    q.PH = (int)op->a[PL_PH];
    q.PW = (int)op->a[PL_PW];
    q.OH = (q.H + 2 * q.PH - q.KH) / q.SH + 1;
    q.OW = (q.W + 2 * q.PW - q.KW) / q.SW + 1;
    return q;
}

/* Shape of MaxPool2d and AvgPool2d: [B, (C,) H, W] -> [B, (C,) OH, OW]. */
static int pool_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    char s[96];
    if (x->ndim != 3 && x->ndim != 4)
        return nn_shape_error(err, op, "expected input [batch, C, H, W] or [batch, H, W], got %s",
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int nd = x->ndim;
    int64_t Hp = x->shape[nd - 2] + 2 * (int64_t)op->a[PL_PH], Wp = x->shape[nd - 1] + 2 * (int64_t)op->a[PL_PW];
    int64_t KH = (int64_t)op->a[PL_KH], KW = (int64_t)op->a[PL_KW];
    if (Hp < KH || Wp < KW)
        return nn_shape_error(err, op, "input %s padded to %lld x %lld is smaller than the kernel %lld x %lld",
                              nn_shape_str(s, sizeof s, nd, x->shape), (long long)Hp, (long long)Wp, (long long)KH,
                              (long long)KW);
    if (x->shape[nd - 2] * x->shape[nd - 1] > INT32_MAX)
        return nn_shape_error(err, op, "input planes of %s are too large",
                              nn_shape_str(s, sizeof s, nd, x->shape));
    op->out.ndim = nd;
    memcpy(op->out.shape, x->shape, sizeof op->out.shape);
    op->out.shape[nd - 2] = (Hp - KH) / (int64_t)op->a[PL_SH] + 1;
    op->out.shape[nd - 1] = (Wp - KW) / (int64_t)op->a[PL_SW] + 1;
    return ETA_OK;
}

/* The output columns [lo, hi) whose input column ow*S - P + k lies in [0, W). */
static void valid_cols(int OW, int W, int S, int P, int k, int *lo, int *hi)
{
    int a = P - k, b = W - 1 + P - k; /* ow*S in [a, b] */
    *lo = a <= 0 ? 0 : (a + S - 1) / S;
    *hi = b < 0 ? 0 : b / S + 1;
    if (*hi > OW)
        *hi = OW;
    if (*lo > *hi)
        *lo = *hi;
}

/* ---- MaxPool2d(kernel_size, stride=None, padding=0, dilation=1,
 * return_indices=False, ceil_mode=False) ---- */
static int maxpool_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    int rc = pool_shape(op, in, err);
    if (!rc) {
        op->out.n = 1;
        for (int d = 0; d < op->out.ndim; d++)
            op->out.n *= (size_t)op->out.shape[d];
        op->niscratch = op->out.n; /* argmax per output */
    }
    return rc;
}

/* One plane, any window: along each output row, window offset by window
 * offset (kh, kw) outside, the output columns inside. This and the 2 x 2
 * kernel are inlined at each call with `relu` a constant, so that their
 * inner loops have no branch and vectorise. */
/* relu(v) when the op pools a fused ReLU's input (nn_op.relu_in): the
 * select of act.c's ReLU, so the same values as pooling its output. */
static inline float relu_if(float v, bool relu)
{
    nn_bits32 b = {.f = v}; /* v < 0 ? 0 : v, as a bit mask, which gcc vectorises */
    b.i &= relu ? ~-(int32_t)(v < 0.0f) : -1;
    return b.f;
}

/* Whether candidate v replaces the maximum m: larger, or NaN (torch's
 * `val > max || isnan(val)`); ReLU passes NaN (act.c), so relu'd values too. */
static inline bool takes(float v, float m)
{
    return (v > m) | (v != v);
}

static inline __attribute__((always_inline)) void maxpool_plane(float *restrict y, int32_t *restrict arg,
                                                                const float *restrict x, const pgeom q, bool relu)
{
    for (int oh = 0; oh < q.OH; oh++) {
        float *restrict yr = y + (size_t)oh * q.OW;
        int32_t *restrict ar = arg + (size_t)oh * q.OW;
        int hs = oh * q.SH - q.PH, ih0 = hs < 0 ? 0 : hs, ih1 = hs + q.KH < q.H ? hs + q.KH : q.H;
        for (int ow = 0; ow < q.OW; ow++) { /* -inf, at the window's first valid place */
            int ws = ow * q.SW - q.PW;
            yr[ow] = -INFINITY;
            ar[ow] = ih0 * q.W + (ws < 0 ? 0 : ws);
        }
        for (int ih = ih0; ih < ih1; ih++) {
            const float *xr = x + (size_t)ih * q.W;
            for (int kw = 0; kw < q.KW; kw++) {
                int lo, hi, off = kw - q.PW, S = q.SW, base = ih * q.W + off;
                valid_cols(q.OW, q.W, S, q.PW, kw, &lo, &hi);
#pragma omp simd
                for (int ow = lo; ow < hi; ow++) {
                    float v = relu_if(xr[ow * S + off], relu), m = yr[ow];
                    int32_t take = -(int32_t)takes(v, m); /* all ones or 0: a mask, */
                    yr[ow] = take ? v : m;                       /* which gcc vectorises */
                    ar[ow] = (ar[ow] & ~take) | ((base + ow * S) & take);
                }
            }
        }
    }
}

/* One plane, 2 x 2 windows with stride 2 and no padding (the common case):
 * the four candidates of an output in registers, in the same order. */
static inline __attribute__((always_inline)) void maxpool_plane_2x2(float *restrict y, int32_t *restrict arg,
                                                                    const float *restrict x, const pgeom q, bool relu)
{
    const int W = q.W, OW = q.OW;
    for (int oh = 0; oh < q.OH; oh++) {
        const float *r0 = x + (size_t)(2 * oh) * W, *r1 = r0 + W;
        float *restrict yr = y + (size_t)oh * OW;
        int32_t *restrict ar = arg + (size_t)oh * OW;
        int i0 = 2 * oh * W;
#pragma omp simd
        for (int ow = 0; ow < OW; ow++) {
            float m = relu_if(r0[2 * ow], relu), v;
            int32_t a = i0 + 2 * ow;
            bool take;
            v = relu_if(r0[2 * ow + 1], relu);
            take = takes(v, m);
            m = take ? v : m;
            a = take ? i0 + 2 * ow + 1 : a;
            v = relu_if(r1[2 * ow], relu);
            take = takes(v, m);
            m = take ? v : m;
            a = take ? i0 + W + 2 * ow : a;
            v = relu_if(r1[2 * ow + 1], relu);
            take = takes(v, m);
            m = take ? v : m;
            a = take ? i0 + W + 2 * ow + 1 : a;
            yr[ow] = m;
            ar[ow] = a;
        }
    }
}

static void maxpool_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    const pgeom q = pool_geom(op, x);
    const size_t ip = (size_t)q.H * q.W, op_ = (size_t)q.OH * q.OW;
    const bool k2 = q.KH == 2 && q.KW == 2 && q.SH == 2 && q.SW == 2 && q.PH == 0 && q.PW == 0;
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < q.planes; t++) {
        float *y = op->out.x + (size_t)t * op_;
        int32_t *arg = op->iscratch + (size_t)t * op_;
        const float *xp = x->x + (size_t)t * ip;
        if (k2 && op->relu_in)
            maxpool_plane_2x2(y, arg, xp, q, true);
        else if (k2)
            maxpool_plane_2x2(y, arg, xp, q, false);
        else if (op->relu_in)
            maxpool_plane(y, arg, xp, q, true);
        else
            maxpool_plane(y, arg, xp, q, false);
    }
}

/* The backward of one plane with 2 x 2 windows, stride 2 and no padding,
 * when the op sets dx (nn_op.gset): every input element lies in at most one
 * window, so each is written once, with the window's gradient where its
 * argmax is and 0 elsewhere (0 too in a last odd row or column). The values
 * are those of zeroing and adding (0 + g); through a fused ReLU the mask is
 * !(y <= 0), which is !(x <= 0) at the argmax (act.c's ReLU gradient). No
 * memset, no scatter. */
static inline __attribute__((always_inline)) void maxpool_back_2x2_set(float *restrict dx, const float *restrict dy,
                                                                       const int32_t *restrict arg,
                                                                       const float *restrict y, const pgeom q,
                                                                       bool relu)
{
    const int W = q.W, OW = q.OW;
    for (int oh = 0; oh < q.OH; oh++) {
        float *restrict d0 = dx + (size_t)(2 * oh) * W, *restrict d1 = d0 + W;
        const float *g = dy + (size_t)oh * OW, *yr = y + (size_t)oh * OW;
        const int32_t *ar = arg + (size_t)oh * OW;
        const int32_t i0 = 2 * oh * W;
#pragma omp simd
        for (int ow = 0; ow < OW; ow++) {
            nn_bits32 b = {.f = g[ow]}; /* masked by bits, which gcc vectorises (a select it does not) */
            b.i &= relu ? -(int32_t) !(yr[ow] <= 0.0f) : -1;
            float v = 0.0f + b.f;
            int32_t a = ar[ow] - (i0 + 2 * ow);
            d0[2 * ow] = a == 0 ? v : 0.0f;
            d0[2 * ow + 1] = a == 1 ? v : 0.0f;
            d1[2 * ow] = a == W ? v : 0.0f;
            d1[2 * ow + 1] = a == W + 1 ? v : 0.0f;
        }
        if (W > 2 * OW)
            d0[W - 1] = d1[W - 1] = 0.0f;
    }
    if (q.H > 2 * q.OH)
        memset(dx + (size_t)(q.H - 1) * W, 0, (size_t)W * sizeof *dx);
}

static void maxpool_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    const pgeom q = pool_geom(op, x);
    const size_t ip = (size_t)q.H * q.W, op_ = (size_t)q.OH * q.OW;
    const bool k2 = q.KH == 2 && q.KW == 2 && q.SH == 2 && q.SW == 2 && q.PH == 0 && q.PW == 0;
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < q.planes; t++) {
        float *dxp = x->g + (size_t)t * ip;
        const float *dyp = op->out.g + (size_t)t * op_;
        const int32_t *ap = op->iscratch + (size_t)t * op_;
        const float *xp = x->x + (size_t)t * ip, *yp = op->out.x + (size_t)t * op_;
        if (k2 && op->gset && op->relu_in) {
            maxpool_back_2x2_set(dxp, dyp, ap, yp, q, true);
            continue;
        }
        if (k2 && op->gset) {
            maxpool_back_2x2_set(dxp, dyp, ap, yp, q, false);
            continue;
        }
        if (op->gset) /* this op sets dx: the plane's zeroing, in cache */
            memset(dxp, 0, ip * sizeof *dxp);
        if (op->relu_in) /* through the fused ReLU: its select on x */
            for (size_t o = 0; o < op_; o++)
                dxp[ap[o]] += xp[ap[o]] <= 0 ? 0.0f : dyp[o];
        else
            for (size_t o = 0; o < op_; o++)
                dxp[ap[o]] += dyp[o];
    }
}

/* ---- AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
 * count_include_pad=True, divisor_override=None) ----
 * The divisor of output (oh, ow): divisor_override, else the window's size
 * (count_include_pad; with ceil_mode False every window fits in the padded
 * input, so KH*KW), else its number of input elements. */
static int avg_divisor(const nn_op *op, const pgeom *q, int oh, int ow)
{
    if (op->a[PL_DIV] > 0)
        return (int)op->a[PL_DIV];
    if (op->a[PL_CIP] != 0)
        return q->KH * q->KW;
    int hs = oh * q->SH - q->PH, ws = ow * q->SW - q->PW;
    int h0 = hs < 0 ? 0 : hs, h1 = hs + q->KH < q->H ? hs + q->KH : q->H;
    int w0 = ws < 0 ? 0 : ws, w1 = ws + q->KW < q->W ? ws + q->KW : q->W;
    return (h1 - h0) * (w1 - w0);
}

static void avgpool_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    const pgeom q = pool_geom(op, x);
    const size_t ip = (size_t)q.H * q.W, op_ = (size_t)q.OH * q.OW;
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < q.planes; t++) {
        const float *xp = x->x + (size_t)t * ip;
        float *yp = op->out.x + (size_t)t * op_;
        for (int oh = 0; oh < q.OH; oh++) {
            float *restrict yr = yp + (size_t)oh * q.OW;
            int hs = oh * q.SH - q.PH, ih0 = hs < 0 ? 0 : hs, ih1 = hs + q.KH < q.H ? hs + q.KH : q.H;
            for (int ow = 0; ow < q.OW; ow++)
                yr[ow] = 0.0f;
            /* each output's window summed row by row, left to right, as torch */
            for (int ih = ih0; ih < ih1; ih++) {
                const float *xr = xp + (size_t)ih * q.W;
                for (int kw = 0; kw < q.KW; kw++) {
                    int lo, hi, off = kw - q.PW, S = q.SW;
                    valid_cols(q.OW, q.W, S, q.PW, kw, &lo, &hi);
#pragma omp simd
                    for (int ow = lo; ow < hi; ow++)
                        yr[ow] += xr[ow * S + off];
                }
            }
            for (int ow = 0; ow < q.OW; ow++)
                yr[ow] = yr[ow] / (float)avg_divisor(op, &q, oh, ow);
        }
    }
}

static void avgpool_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    const pgeom q = pool_geom(op, x);
    const size_t ip = (size_t)q.H * q.W, op_ = (size_t)q.OH * q.OW;
    const size_t rowbuf = 256; /* output columns per pass */
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < q.planes; t++) {
        float *dxp = x->g + (size_t)t * ip;
        const float *dyp = op->out.g + (size_t)t * op_;
        float gr[256];
        for (int oh = 0; oh < q.OH; oh++) {
            int hs = oh * q.SH - q.PH, ih0 = hs < 0 ? 0 : hs, ih1 = hs + q.KH < q.H ? hs + q.KH : q.H;
            for (int c0 = 0; c0 < q.OW; c0 += (int)rowbuf) {
                int c1 = c0 + (int)rowbuf < q.OW ? c0 + (int)rowbuf : q.OW;
                for (int ow = c0; ow < c1; ow++) /* torch: grad / divide_factor */
                    gr[ow - c0] = dyp[(size_t)oh * q.OW + ow] / (float)avg_divisor(op, &q, oh, ow);
                for (int ih = ih0; ih < ih1; ih++) {
                    float *dr = dxp + (size_t)ih * q.W;
                    /* kw from right to left: each input gets its outputs' shares in
                     * increasing ow, the order of torch's loop over outputs */
                    for (int kw = q.KW - 1; kw >= 0; kw--) {
                        int lo, hi, off = kw - q.PW, S = q.SW;
                        valid_cols(q.OW, q.W, S, q.PW, kw, &lo, &hi);
                        lo = lo < c0 ? c0 : lo;
                        hi = hi > c1 ? c1 : hi;
#pragma omp simd
                        for (int ow = lo; ow < hi; ow++) /* distinct ow, distinct columns */
                            dr[ow * S + off] += gr[ow - c0];
                    }
                }
            }
        }
    }
}

/* ---- AdaptiveAvgPool2d(output_size=1) ----
 * Output (oh, ow) averages rows [floor(oh H / OH), ceil((oh+1) H / OH)) and
 * the columns likewise (torch's start_index / end_index). The sum runs in
 * double; an output of 1 x 1 is torch's mean over H and W. */
enum { AD_OH, AD_OW };

static int adaptive_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    char s[96];
    if (x->ndim != 3 && x->ndim != 4)
        return nn_shape_error(err, op, "expected input [batch, C, H, W] or [batch, H, W], got %s",
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int nd = x->ndim;
    if (x->shape[nd - 2] * x->shape[nd - 1] > INT32_MAX)
        return nn_shape_error(err, op, "input planes of %s are too large", nn_shape_str(s, sizeof s, nd, x->shape));
    op->out.ndim = nd;
    memcpy(op->out.shape, x->shape, sizeof op->out.shape);
    op->out.shape[nd - 2] = (int64_t)op->a[AD_OH];
    op->out.shape[nd - 1] = (int64_t)op->a[AD_OW];
    return ETA_OK;
}

static inline int start_index(int o, int O, int I)
{
    return (int)((int64_t)o * I / O);
}

static inline int end_index(int o, int O, int I)
{
    return (int)(((int64_t)(o + 1) * I + O - 1) / O);
}

static void adaptive_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int nd = x->ndim, H = (int)x->shape[nd - 2], W = (int)x->shape[nd - 1];
    int OH = (int)op->a[AD_OH], OW = (int)op->a[AD_OW];
    int64_t planes = (int64_t)(x->n / ((size_t)H * W));
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < planes; t++) {
        const float *xp = x->x + (size_t)t * H * W;
        float *yp = op->out.x + (size_t)t * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = start_index(oh, OH, H), h1 = end_index(oh, OH, H);
            for (int ow = 0; ow < OW; ow++) {
                int w0 = start_index(ow, OW, W), w1 = end_index(ow, OW, W);
                double s[4] = {0, 0, 0, 0};
                for (int ih = h0; ih < h1; ih++) {
                    const float *xr = xp + (size_t)ih * W;
                    int iw = w0;
                    for (; iw + 4 <= w1; iw += 4)
                        for (int k = 0; k < 4; k++)
                            s[k] += (double)xr[iw + k];
                    for (; iw < w1; iw++)
                        s[0] += (double)xr[iw];
                }
                yp[oh * OW + ow] = (float)(((s[0] + s[1]) + (s[2] + s[3])) / ((double)(h1 - h0) * (w1 - w0)));
            }
        }
    }
}

static void adaptive_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    int nd = x->ndim, H = (int)x->shape[nd - 2], W = (int)x->shape[nd - 1];
    int OH = (int)op->a[AD_OH], OW = (int)op->a[AD_OW];
    int64_t planes = (int64_t)(x->n / ((size_t)H * W));
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t t = 0; t < planes; t++) {
        float *dxp = x->g + (size_t)t * H * W;
        const float *dyp = op->out.g + (size_t)t * OH * OW;
        for (int oh = 0; oh < OH; oh++) {
            int h0 = start_index(oh, OH, H), h1 = end_index(oh, OH, H);
            for (int ow = 0; ow < OW; ow++) {
                int w0 = start_index(ow, OW, W), w1 = end_index(ow, OW, W);
                float gv = dyp[oh * OW + ow] / (float)((h1 - h0) * (w1 - w0));
                for (int ih = h0; ih < h1; ih++) {
                    float *dr = dxp + (size_t)ih * W;
#pragma omp simd
                    for (int iw = w0; iw < w1; iw++)
                        dr[iw] += gv;
                }
            }
        }
    }
}

/* ---- modules (listed in conv.c's nn_modules_conv) ---- */
extern const nn_module nn_module_maxpool2d, nn_module_avgpool2d, nn_module_adaptive_avgpool2d;

const nn_kind nn_kind_maxpool = {"MaxPool2d", maxpool_shape, NULL, maxpool_forward, maxpool_backward, false,
                                     false, true};
static const nn_kind avgpool_kind = {"AvgPool2d", pool_shape, NULL, avgpool_forward, avgpool_backward, false, false, false};
static const nn_kind adaptive_kind = {"AdaptiveAvgPool2d", adaptive_shape, NULL, adaptive_forward, adaptive_backward,
                                      false, false, false};

/* Reads kernel_size, stride (None: kernel_size) and padding, and checks the
 * padding against the kernel as torch does; fills a[PL_KH .. PL_PW]. */
static int pool_args(const eta_spec *const *vals, double *a, eta_err *err)
{
    int k[2], s[2], p[2], rc;
    if ((rc = nn_conv_int2(vals[0], "kernel_size", (const int[]){1, 1}, 1, false, k, err)) ||
        (rc = nn_conv_int2(vals[1], "stride", k, 1, true, s, err)) ||
        (rc = nn_conv_int2(vals[2], "padding", (const int[]){0, 0}, 0, false, p, err)))
        return rc;
    if (2 * p[0] > k[0] || 2 * p[1] > k[1])
        return eta_spec_fail(err, ETA_EINVAL, vals[2],
                             "padding (%d, %d) must be at most half the kernel_size (%d, %d)", p[0], p[1], k[0], k[1]);
    a[PL_KH] = k[0];
    a[PL_KW] = k[1];
    a[PL_SH] = s[0];
    a[PL_SW] = s[1];
    a[PL_PH] = p[0];
    a[PL_PW] = p[1];
    return ETA_OK;
}

static int append_op(nn_builder *b, const nn_kind *kind, const char *prefix, int in, const double *a, int na,
                     int *out, eta_err *err)
{
    int idx = nn_append(b, kind, prefix, &in, 1, a, na, err);
    if (idx < 0)
        return idx;
    *out = idx;
    return ETA_OK;
}

enum { MA_KERNEL, MA_STRIDE, MA_PADDING, MA_DILATION, MA_INDICES, MA_CEIL };
/* int-or-pair arguments are read by the lowering (NA_IGNORED here) */
static const nn_arg maxpool_args[] = {
    {"kernel_size", NA_IGNORED, true, NAN, 0, 0, NULL},
    {"stride", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"padding", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dilation", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"return_indices", NA_BOOL, false, 0, 0, 1, NULL},
    {"ceil_mode", NA_BOOL, false, 0, 0, 1, NULL},
};

static int maxpool_lower(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                         const char *prefix, int *out, eta_err *err)
{
    (void)call;
    double opa[PL_NARGS] = {0};
    int d[2], rc;
    if ((rc = pool_args(vals, opa, err)) ||
        (rc = nn_conv_int2(vals[MA_DILATION], "dilation", (const int[]){1, 1}, 1, false, d, err)))
        return rc;
    if (d[0] != 1 || d[1] != 1)
        return eta_spec_fail(err, ETA_EINVAL, vals[MA_DILATION],
                             "dilation (%d, %d) is not supported: eta's MaxPool2d has dilation 1 only", d[0], d[1]);
    if (a[MA_INDICES] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[MA_INDICES], "return_indices=True is not supported");
    if (a[MA_CEIL] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[MA_CEIL], "ceil_mode=True is not supported");
    return append_op(b, &nn_kind_maxpool, prefix, in, opa, PL_NARGS, out, err);
}

const nn_module nn_module_maxpool2d = {
    "MaxPool2d", maxpool_args, (int)(sizeof maxpool_args / sizeof *maxpool_args), &nn_kind_maxpool, maxpool_lower,
    "MaxPool2d(kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False): the "
    "maximum of each window (dilation 1, ceil_mode False)"};

enum { AA_KERNEL, AA_STRIDE, AA_PADDING, AA_CEIL, AA_CIP, AA_DIV };
static const nn_arg avgpool_args[] = {
    {"kernel_size", NA_IGNORED, true, NAN, 0, 0, NULL},
    {"stride", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"padding", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"ceil_mode", NA_BOOL, false, 0, 0, 1, NULL},
    {"count_include_pad", NA_BOOL, false, 1, 0, 1, NULL},
    {"divisor_override", NA_IGNORED, false, NAN, 0, 0, NULL}, /* an int or None */
};

static int avgpool_lower(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                         const char *prefix, int *out, eta_err *err)
{
    (void)call;
    double opa[PL_NARGS] = {0};
    int rc = pool_args(vals, opa, err);
    if (rc)
        return rc;
    if (a[AA_CEIL] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[AA_CEIL], "ceil_mode=True is not supported");
    opa[PL_CIP] = a[AA_CIP];
    const eta_spec *dv = vals[AA_DIV];
    if (dv && dv->kind != ETA_SPEC_NONE) {
        int64_t d;
        if ((rc = eta_spec_get_int(dv, "divisor_override", &d, err)) ||
            (rc = eta_spec_check_range(dv, "divisor_override", (double)d, 1, false, INT32_MAX, false, err)))
            return rc;
        opa[PL_DIV] = (double)d;
    }
    return append_op(b, &avgpool_kind, prefix, in, opa, PL_NARGS, out, err);
}

const nn_module nn_module_avgpool2d = {
    "AvgPool2d", avgpool_args, (int)(sizeof avgpool_args / sizeof *avgpool_args), &avgpool_kind, avgpool_lower,
    "AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
    "divisor_override=None): the mean of each window (ceil_mode False)"};

static const nn_arg adaptive_args[] = {{"output_size", NA_IGNORED, false, NAN, 0, 0, NULL}};

static int adaptive_lower(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                          const char *prefix, int *out, eta_err *err)
{
    (void)a;
    (void)call;
    int o[2];
    const eta_spec *v = vals[0];
    if (v && (v->kind == ETA_SPEC_TUPLE || v->kind == ETA_SPEC_LIST) && v->n == 2)
        for (int i = 0; i < 2; i++)
            if (v->items[i]->kind == ETA_SPEC_NONE)
                return eta_spec_fail(err, ETA_EINVAL, v->items[i],
                                     "output_size with None (keep the input's size) is not supported");
    int rc = nn_conv_int2(v, "output_size", (const int[]){1, 1}, 1, false, o, err);
    if (rc)
        return rc;
    double opa[2] = {o[0], o[1]};
    return append_op(b, &adaptive_kind, prefix, in, opa, 2, out, err);
}

const nn_module nn_module_adaptive_avgpool2d = {
    "AdaptiveAvgPool2d", adaptive_args, 1, &adaptive_kind, adaptive_lower,
    "AdaptiveAvgPool2d(output_size=1): the mean over adaptive windows; output_size an int or a pair"};
