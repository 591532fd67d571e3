/* nn/conv.c - the convolution family: Conv2d (torch.nn.Conv2d,
 * https://pytorch.org/docs/stable/generated/torch.nn.Conv2d.html) by im2col
 * and GEMM (blas.h), the parsing of int-or-pair arguments shared with the
 * pooling modules, and the family's module table nn_modules_conv (the pooling
 * kernels and their modules live in pool.c).
 *
 * Supported: zero padding (padding_mode='zeros', padding an int, a pair,
 * 'valid' or 'same' with stride 1 and odd kernels), dilation 1, groups 1;
 * anything else is a located error when the network is built.
 *
 * Lowering. A chunk of G images of x [B, C, H, W] is unfolded into
 * col [K, G*P] (K = C*KH*KW rows, P = OH*OW output pixels per image), then
 *     forward   Y [OC, G*P] = W [OC, K] col              (one GEMM per chunk)
 *     backward  dW [OC, K] += dY [OC, G*P] col^T
 *               dcol [K, G*P] = W^T dY, folded back into dx (col2im, +=)
 * G comes from the sizes alone (chunk_images), never from the thread count;
 * the benchmark CNN's layers run one image a chunk. A chunk of one
 * image writes y in place; larger ones go through an [OC, G*P] buffer,
 * scattered to y (or gathered from dy). Chunk c goes to slot c % SLOTS, a
 * fixed number whatever the thread count; the slots run in parallel, one
 * thread each, with their own col and buffers, calling single-threaded GEMMs
 * (many small multi-threaded GEMMs spent a quarter of their time waiting).
 * The backward walks each slot's chunks last to first, so its last chunk's
 * col, still in place from the forward pass, is not unfolded again. With
 * stride 1 and an output as wide as the input
 * ("same" padding, the common case) a row of col is one shifted copy of the
 * input plane with its padding columns mended (flat_span), so im2col and
 * col2im run long vector loops.
 *
 * Bits: im2col and col2im are parallel over (image, channel) planes that no
 * two threads share; the bias gradient is each image's row summed in float
 * in a fixed order, the images summed in double in a fixed order; each slot
 * sums its chunks' dW and db in chunk order, and the slots' sums are added
 * in slot order: the same bits at any thread count. The GEMMs are blas.h's
 * (its comment says what fixes their bits); inside the slots' parallel
 * region they run on one thread, as they do outside it at 1 thread.
 */
#include <math.h>
#include <string.h>

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

#include "nn/blas.h"
#include "nn/graph.h"

#define PAR_MIN 32768          /* elements below which a loop stays serial */
#ifndef COL_FLOATS
#define COL_FLOATS (1 << 19)   /* im2col buffer of a chunk of images at most: 2 MB */
#endif
#ifndef GEMM_MIN_N
#define GEMM_MIN_N 192         /* GEMM columns worth one call */
#endif
#define MAX_DIM (1 << 20)      /* kernel, stride and padding values */
#ifndef SLOTS
#define SLOTS 4                /* chunk streams, one thread each at a time */
#endif

/* ---- int-or-pair arguments (shared with pool.c) ------------------------- */

/* Reads kernel_size=5 or (5, 3) from its spec value v: dflt when v is NULL
 * (not given) or, when none_ok, None (stride=None: the kernel size). Each
 * value must be in [lo, 2^20]. */
int nn_conv_int2(const eta_spec *v, const char *name, const int dflt[2], int lo, bool none_ok, int out[2],
                 eta_err *err)
{
    out[0] = dflt[0];
    out[1] = dflt[1];
    if (!v || (none_ok && v->kind == ETA_SPEC_NONE))
        return ETA_OK;
    const eta_spec *item[2] = {v, v};
    if (v->kind == ETA_SPEC_TUPLE || v->kind == ETA_SPEC_LIST) {
        if (v->n != 2)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be an int or a pair of ints%s", name,
                                 none_ok ? " or None" : "");
        item[0] = v->items[0];
        item[1] = v->items[1];
    } else if (v->kind != ETA_SPEC_NUMBER) {
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be an int or a pair of ints%s, got %s", name,
                             none_ok ? " or None" : "", eta_spec_kind_name(v->kind));
    }
    for (int i = 0; i < 2; i++) {
        int64_t k;
        int rc = eta_spec_get_int(item[i], name, &k, err);
        if (!rc)
            rc = eta_spec_check_range(item[i], name, (double)k, lo, false, MAX_DIM, false, err);
        if (rc)
            return rc;
        out[i] = (int)k;
    }
    return ETA_OK;
}

/* ---- Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0,
 * dilation=1, groups=1, bias=True, padding_mode='zeros') ----
 * x [B, C, H, W] -> y [B, OC, OH, OW], OH = (H + 2 PH - KH) / SH + 1;
 * W [OC, C, KH, KW], b [OC]. */
enum { CV_IN, CV_OUT, CV_KH, CV_KW, CV_SH, CV_SW, CV_PH, CV_PW, CV_BIAS, CV_NARGS };

typedef struct geom {
    int B, C, H, W, OC, KH, KW, SH, SW, PH, PW, OH, OW;
    int P;      /* OH * OW */
    int K;      /* C * KH * KW */
    int G;      /* images per chunk */
} geom;

/* Images per chunk. One image at a time when its GEMMs are wide enough
 * (P >= GEMM_MIN_N output pixels): y is written in place, nothing is
 * gathered or scattered. Smaller images go in chunks of about GEMM_MIN_N
 * columns while col stays within COL_FLOATS (about a core's L2 cache).
 * Measured on a 2-core Zen 4 with OpenBLAS 0.3.21, whose single-threaded
 * GEMMs (the slots') reach their peak from about 196 columns: the benchmark
 * CNN's second conv (P = 196, K = 800) runs one image at a time 3-8% faster
 * than in chunks of 3 (no tmp, scatter or gather), and a 64-channel 3x3
 * conv on 7x7 (P = 49) 10-25% faster in chunks of 4 than one at a time;
 * chunks of 12 or more lose the cache and run 20-40% slower. */
static int chunk_images(int B, int64_t K, int64_t P)
{
    int64_t g = (GEMM_MIN_N + P - 1) / P, cap = (int64_t)COL_FLOATS / (K * P > 0 ? K * P : 1);
    if (g > cap)
        g = cap;
    if (g < 1)
        g = 1;
    if (g > B)
        g = B;
    int64_t chunks = (B + g - 1) / g;
    return (int)((B + chunks - 1) / chunks);
}

static geom conv_geom(const nn_op *op, const nn_tensor *x)
{
    geom q;
    q.B = (int)x->shape[0];
    q.C = (int)x->shape[1];
    q.H = (int)x->shape[2];
    q.W = (int)x->shape[3];
    q.OC = (int)op->a[CV_OUT];
    q.KH = (int)op->a[CV_KH];
    q.KW = (int)op->a[CV_KW];
    q.SH = (int)op->a[CV_SH];
    q.SW = (int)op->a[CV_SW];
    q.PH = (int)op->a[CV_PH];
    q.PW = (int)op->a[CV_PW];
    q.OH = (q.H + 2 * q.PH - q.KH) / q.SH + 1;
    q.OW = (q.W + 2 * q.PW - q.KW) / q.SW + 1;
    q.P = q.OH * q.OW;
    q.K = q.C * q.KH * q.KW;
    q.G = chunk_images(q.B, q.K, q.P);
    return q;
}

/* Chunk c belongs to slot c % SLOTS, whatever the thread count: a slot's
 * chunks run in order on one thread at a time, slots in parallel. Each slot
 * has its own part of op->scratch: col [K, G*P], for chunks of several
 * images a [OC, G*P] buffer for the GEMM's output or dY, and its partial
 * weight gradient [OC, K]. Before the slots: their bias-gradient running
 * sums, SLOTS x OC doubles in 2 SLOTS OC floats (the arena is 64-byte
 * aligned). */
static size_t slot_floats(const geom *q)
{
    size_t chunk = (size_t)q->G * (size_t)q->P;
    return (size_t)q->K * chunk + (q->G > 1 ? (size_t)q->OC * chunk : 0) + (size_t)q->OC * q->K;
}

static size_t conv_scratch(const geom *q)
{
    return 2 * (size_t)SLOTS * q->OC + (size_t)SLOTS * slot_floats(q);
}

static double *conv_db(const nn_op *op, const geom *q, int s)
{
    return (double *)(void *)op->scratch + (size_t)s * q->OC;
}

static float *conv_col(const nn_op *op, const geom *q, int s)
{
    return op->scratch + 2 * (size_t)SLOTS * q->OC + (size_t)s * slot_floats(q);
}

/* The buffer after col (chunks of several images) and the partial dW. */
static float *conv_tmp(const nn_op *op, const geom *q, int s)
{
    return conv_col(op, q, s) + (size_t)q->K * q->G * q->P;
}

static float *conv_dw(const nn_op *op, const geom *q, int s)
{
    return conv_col(op, q, s) + slot_floats(q) - (size_t)q->OC * q->K;
}

/* Threads for a loop over n slots: at most the OpenMP width. */
static int slot_threads(int n)
{
#ifdef ETA_HAVE_OPENMP
    int t = omp_get_max_threads();
    return t < n ? t : n;
#else
    (void)n;
    return 1;
#endif
}

static int conv2d_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t C = (int64_t)op->a[CV_IN], OC = (int64_t)op->a[CV_OUT];
    int64_t KH = (int64_t)op->a[CV_KH], KW = (int64_t)op->a[CV_KW];
    char s[96];
    if (x->ndim != 4 || x->shape[1] != C)
        return nn_shape_error(err, op, "expected input [batch, %lld, H, W] (in_channels=%lld), got %s",
                              (long long)C, (long long)C, nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int64_t Hp = x->shape[2] + 2 * (int64_t)op->a[CV_PH], Wp = x->shape[3] + 2 * (int64_t)op->a[CV_PW];
    if (Hp < KH || Wp < KW)
        return nn_shape_error(err, op, "input %s padded to %lld x %lld is smaller than the kernel %lld x %lld",
                              nn_shape_str(s, sizeof s, x->ndim, x->shape), (long long)Hp, (long long)Wp,
                              (long long)KH, (long long)KW);
    int64_t OH = (Hp - KH) / (int64_t)op->a[CV_SH] + 1, OW = (Wp - KW) / (int64_t)op->a[CV_SW] + 1;
    /* GEMM sizes are ints: a chunk's K x P and every plane must fit. */
    if (x->shape[0] > INT32_MAX || C * KH * KW > INT32_MAX / 2 || OH * OW > INT32_MAX / 2 ||
        x->shape[2] * x->shape[3] > INT32_MAX / 2 || C * KH * KW * OH * OW > INT32_MAX / 2 ||
        OC * OH * OW > INT32_MAX / 2)
        return nn_shape_error(err, op, "input %s is too large for eta's int GEMM sizes",
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    op->out.ndim = 4;
    op->out.shape[0] = x->shape[0];
    op->out.shape[1] = OC;
    op->out.shape[2] = OH;
    op->out.shape[3] = OW;
    geom q = conv_geom(op, x);
    op->nscratch = conv_scratch(&q);
    op->niscratch = SLOTS; /* per slot: 1 + the chunk whose col is in place, 0: none */
    int rc = nn_param_add(op, "weight", 4, (int64_t[]){OC, C, KH, KW}, err);
    if (!rc && op->a[CV_BIAS] != 0)
        rc = nn_param_add(op, "bias", 1, (int64_t[]){OC}, err);
    return rc;
}

static void conv2d_init(nn_op *op, uint64_t *rng)
{
    int64_t fan_in = (int64_t)op->a[CV_IN] * (int64_t)op->a[CV_KH] * (int64_t)op->a[CV_KW];
    nn_init_kaiming_uniform(op->w[0], (size_t)((int64_t)op->a[CV_OUT] * fan_in), fan_in, rng);
    if (op->np > 1)
        nn_init_bias(op->w[1], (size_t)op->a[CV_OUT], fan_in, rng);
}

/* The output columns [lo, hi) whose input column ow*S - P + k lies in [0, W)
 * (and likewise for rows). */
static inline void valid_range(int O, int I, int S, int P, int k, int *lo, int *hi)
{
    int a = P - k, b = I - 1 + P - k; /* o*S in [a, b] */
    *lo = a <= 0 ? 0 : (a + S - 1) / S;
    *hi = b < 0 ? 0 : b / S + 1;
    if (*hi > O)
        *hi = O;
    if (*lo > *hi)
        *lo = *hi;
}

/* Zeroes d[0, n). A loop, not memset: the runs are short (padding), and
 * gcc turns plain zeroing loops into memset calls. */
static inline void zero(float *d, int n)
{
#pragma omp simd
    for (int i = 0; i < n; i++)
        d[i] = 0.0f;
}

/* Stride 1 with OW == W (a "same" width: 2 PW == KW - 1): output pixel p of
 * row (c, kh, kw) reads input pixel p + shift of its plane, shift =
 * (kh - PH) W + kw - PW, wherever that is not padding. So a row of col is
 * one contiguous copy (or add), with its padding columns mended. */
typedef struct flat_row {
    int shift;
    int p0, p1; /* the part that reads inside the plane */
    int lo, hi; /* the columns that are not padding */
} flat_row;

static inline flat_row flat_span(const geom *q, int kh, int kw)
{
    flat_row f;
    int rlo, rhi, HW = q->H * q->W;
    f.shift = (kh - q->PH) * q->W + kw - q->PW;
    valid_range(q->OH, q->H, 1, q->PH, kh, &rlo, &rhi);
    valid_range(q->OW, q->W, 1, q->PW, kw, &f.lo, &f.hi);
    f.p0 = rlo * q->OW > -f.shift ? rlo * q->OW : -f.shift;
    f.p1 = rhi * q->OW < HW - f.shift ? rhi * q->OW : HW - f.shift;
    if (f.p1 < f.p0)
        f.p1 = f.p0;
    return f;
}

/* Zeroes the padding columns of the rows that [p0, p1) touches: strided
 * stores, at most 2 PW per row. */
static inline void zero_pad_cols(float *d, const flat_row *f, int OW)
{
    int oh0 = f->p0 / OW, oh1 = (f->p1 + OW - 1) / OW;
    for (int ow = 0; ow < f->lo; ow++)
        for (int oh = oh0; oh < oh1; oh++)
            d[oh * OW + ow] = 0.0f;
    for (int ow = f->hi; ow < OW; ow++)
        for (int oh = oh0; oh < oh1; oh++)
            d[oh * OW + ow] = 0.0f;
}

/* One row of col, (c, kh, kw) of one image: d[oh*OW + ow] = xc[ih][iw]. */
static inline void im2col_row(float *restrict d, const float *restrict xc, const geom *q, int kh, int kw)
{
    const int OW = q->OW, S = q->SW;
    if (q->SH == 1 && S == 1 && OW == q->W) {
        flat_row f = flat_span(q, kh, kw);
        zero(d, f.p0);
#pragma omp simd
        for (int p = f.p0; p < f.p1; p++)
            d[p] = xc[p + f.shift];
        zero(d + f.p1, q->P - f.p1);
        zero_pad_cols(d, &f, OW);
        return;
    }
    int lo, hi, off = kw - q->PW; /* input column of ow: ow*S + off */
    valid_range(OW, q->W, S, q->PW, kw, &lo, &hi);
    for (int oh = 0; oh < q->OH; oh++, d += OW) {
        int ih = oh * q->SH - q->PH + kh;
        if (ih < 0 || ih >= q->H) {
            zero(d, OW);
            continue;
        }
        const float *s = xc + (size_t)ih * q->W;
        zero(d, lo);
#pragma omp simd
        for (int ow = lo; ow < hi; ow++)
            d[ow] = s[ow * S + off];
        zero(d + hi, OW - hi);
    }
}

/* The reverse of im2col_row: xc[ih][iw] += d[oh*OW + ow]. The flat path
 * first zeroes d's padding entries (col is scratch), then adds the whole
 * row: a padding entry adds 0 to some other input, which changes nothing. */
static inline void col2im_row(float *restrict xc, float *restrict d, const geom *q, int kh, int kw)
{
    const int OW = q->OW, S = q->SW;
    if (q->SH == 1 && S == 1 && OW == q->W) {
        flat_row f = flat_span(q, kh, kw);
        zero_pad_cols(d, &f, OW);
#pragma omp simd
        for (int p = f.p0; p < f.p1; p++)
            xc[p + f.shift] += d[p];
        return;
    }
    int lo, hi, off = kw - q->PW;
    valid_range(OW, q->W, S, q->PW, kw, &lo, &hi);
    for (int oh = 0; oh < q->OH; oh++, d += OW) {
        int ih = oh * q->SH - q->PH + kh;
        if (ih < 0 || ih >= q->H)
            continue;
        float *s = xc + (size_t)ih * q->W;
#pragma omp simd
        for (int ow = lo; ow < hi; ow++) /* distinct ow, distinct columns */
            s[ow * S + off] += d[ow];
    }
}

/* col[(c*KH + kh)*KW + kw][g*P + oh*OW + ow] = x[g][c][oh*SH - PH + kh][ow*SW - PW + kw],
 * 0 in the padding, for the chunk's n images; one thread per (image,
 * channel) plane. */
static void im2col(float *restrict col, const float *restrict x, int n, const geom *q)
{
    const size_t plane = (size_t)q->H * q->W, ld = (size_t)n * q->P;
    const int64_t planes = (int64_t)n * q->C;
#pragma omp parallel for schedule(static) if (planes * q->KH * q->KW * q->P >= PAR_MIN)
    for (int64_t t = 0; t < planes; t++) {
        int g = (int)(t / q->C), c = (int)(t % q->C);
        const float *xc = x + (size_t)t * plane;
        float *d = col + (size_t)c * q->KH * q->KW * ld + (size_t)g * q->P;
        for (int kh = 0; kh < q->KH; kh++)
            for (int kw = 0; kw < q->KW; kw++, d += ld)
                im2col_row(d, xc, q, kh, kw);
    }
}

/* dx[g][c][ih][iw] += the col entries that im2col took from there (set
 * instead of added to when `set`: each plane is zeroed first, in cache). One
 * thread per (image, channel) plane; within it a fixed order. */
static void col2im(float *restrict dx, float *restrict col, int n, const geom *q, bool set)
{
    const size_t plane = (size_t)q->H * q->W, ld = (size_t)n * q->P;
    const int64_t planes = (int64_t)n * q->C;
#pragma omp parallel for schedule(static) if (planes * q->KH * q->KW * q->P >= PAR_MIN)
    for (int64_t t = 0; t < planes; t++) {
        int g = (int)(t / q->C), c = (int)(t % q->C);
        float *xc = dx + (size_t)t * plane;
        float *d = col + (size_t)c * q->KH * q->KW * ld + (size_t)g * q->P;
        if (set)
            zero(xc, (int)plane);
        for (int kh = 0; kh < q->KH; kh++)
            for (int kw = 0; kw < q->KW; kw++, d += ld)
                col2im_row(xc, d, q, kh, kw);
    }
}

/* y[g][oc][p] = tmp[oc][g*P + p] + b[oc] (b may be NULL) for a chunk of n images. */
static void scatter_bias(float *restrict y, const float *restrict tmp, const float *b, int n, const geom *q)
{
    const int P = q->P, OC = q->OC;
    const int64_t rows = (int64_t)n * OC;
#pragma omp parallel for schedule(static) if (rows * P >= PAR_MIN)
    for (int64_t t = 0; t < rows; t++) {
        int g = (int)(t / OC), oc = (int)(t % OC);
        float *d = y + (size_t)t * P;
        const float *s = tmp + (size_t)oc * n * P + (size_t)g * P;
        float bv = b ? b[oc] : 0.0f;
#pragma omp simd
        for (int p = 0; p < P; p++)
            d[p] = s[p] + bv;
    }
}

/* tmp[oc][g*P + p] = dy[g][oc][p] for a chunk of n images. */
static void gather(float *restrict tmp, const float *restrict dy, int n, const geom *q)
{
    const int P = q->P, OC = q->OC;
    const int64_t rows = (int64_t)n * OC;
#pragma omp parallel for schedule(static) if (rows * P >= PAR_MIN)
    for (int64_t t = 0; t < rows; t++) {
        int g = (int)(t / OC), oc = (int)(t % OC);
        memcpy(tmp + (size_t)oc * n * P + (size_t)g * P, dy + (size_t)t * P, (size_t)P * sizeof *tmp);
    }
}

static void conv2d_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    geom q = conv_geom(op, x);
    const float *Wt = op->w[0], *b = op->np > 1 ? op->w[1] : NULL;
    size_t xs = (size_t)q.C * q.H * q.W, ys = (size_t)q.OC * q.P;
    int nchunks = (q.B + q.G - 1) / q.G, nslots = nchunks < SLOTS ? nchunks : SLOTS;
    for (int s = 0; s < SLOTS; s++)
        op->iscratch[s] = 0;
#pragma omp parallel for schedule(static) num_threads(slot_threads(nslots)) if (slot_threads(nslots) > 1)
    for (int s = 0; s < nslots; s++) {
        float *col = conv_col(op, &q, s), *tmp = conv_tmp(op, &q, s);
        for (int chunk = s; chunk < nchunks; chunk += SLOTS) {
            int b0 = chunk * q.G, n = q.B - b0 < q.G ? q.B - b0 : q.G;
            float *y = op->out.x + (size_t)b0 * ys;
            im2col(col, x->x + (size_t)b0 * xs, n, &q);
            if (n == 1) { /* straight into y: y = b, then y += W col */
                for (int oc = 0; oc < q.OC; oc++) {
                    float bv = b ? b[oc] : 0.0f, *yo = y + (size_t)oc * q.P;
                    for (int p = 0; p < q.P; p++)
                        yo[p] = bv;
                }
                nn_sgemm(false, false, q.OC, q.P, q.K, 1.0f, Wt, q.K, col, q.P, 1.0f, y, q.P);
            } else {
                nn_sgemm(false, false, q.OC, n * q.P, q.K, 1.0f, Wt, q.K, col, n * q.P, 0.0f, tmp, n * q.P);
                scatter_bias(y, tmp, b, n, &q);
            }
            op->iscratch[s] = chunk + 1; /* the slot's last chunk's col is in place */
        }
    }
}

/* The sum of d[0, n): sixteen float running sums, combined in a fixed tree. */
static float row_sum(const float *d, int n)
{
    float s[16] = {0};
    int p = 0;
    for (; p + 16 <= n; p += 16)
        for (int k = 0; k < 16; k++)
            s[k] += d[p + k];
    for (; p < n; p++)
        s[p & 15] += d[p];
    for (int w = 8; w > 0; w /= 2)
        for (int k = 0; k < w; k++)
            s[k] += s[k + w];
    return s[0];
}

/* Each slot walks its chunks last to first (its last chunk's col is still in
 * place from the forward pass) into its own partial dW and db; the partials
 * are then added to the gradients in slot order. */
static void conv2d_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    geom q = conv_geom(op, x);
    const float *Wt = op->w[0], *dy = op->out.g;
    size_t xs = (size_t)q.C * q.H * q.W, ys = (size_t)q.OC * q.P;
    int nchunks = (q.B + q.G - 1) / q.G, nslots = nchunks < SLOTS ? nchunks : SLOTS;
#pragma omp parallel for schedule(static) num_threads(slot_threads(nslots)) if (slot_threads(nslots) > 1)
    for (int s = 0; s < nslots; s++) {
        double *db = conv_db(op, &q, s);
        float *col = conv_col(op, &q, s), *tmp = conv_tmp(op, &q, s), *dw = conv_dw(op, &q, s);
        for (int oc = 0; oc < q.OC && op->np > 1; oc++)
            db[oc] = 0;
        int last = s + (nchunks - 1 - s) / SLOTS * SLOTS;
        for (int chunk = last; chunk >= 0; chunk -= SLOTS) {
            int b0 = chunk * q.G, n = q.B - b0 < q.G ? q.B - b0 : q.G;
            const float *d = dy + (size_t)b0 * ys;
            /* db: each image's rows while they are in cache for the GEMM */
            for (int i = 0; i < n && op->np > 1; i++)
                for (int oc = 0; oc < q.OC; oc++)
                    db[oc] += (double)row_sum(d + ((size_t)i * q.OC + oc) * q.P, q.P);
            if (n > 1) {
                gather(tmp, d, n, &q);
                d = tmp;
            }
            if (op->iscratch[s] != chunk + 1)
                im2col(col, x->x + (size_t)b0 * xs, n, &q);
            /* dW [OC, K] (+)= dY [OC, nP] col^T */
            nn_sgemm(false, true, q.OC, q.K, n * q.P, 1.0f, d, n * q.P, col, n * q.P, chunk == last ? 0.0f : 1.0f,
                     dw, q.K);
            if (x->g) { /* dcol [K, nP] = W^T dY, over col */
                op->iscratch[s] = 0;
                nn_sgemm(true, false, q.K, n * q.P, q.OC, 1.0f, Wt, q.K, d, n * q.P, 0.0f, col, n * q.P);
                col2im(x->g + (size_t)b0 * xs, col, n, &q, op->gset);
            }
        }
    }
    const int64_t nw = (int64_t)q.OC * q.K;
    float *dW = op->dw[0];
#pragma omp parallel for schedule(static) if (nw * nslots >= PAR_MIN)
    for (int64_t i = 0; i < nw; i++)
        for (int s = 0; s < nslots; s++)
            dW[i] += conv_dw(op, &q, s)[i];
    for (int oc = 0; oc < q.OC && op->np > 1; oc++) {
        double t = 0;
        for (int s = 0; s < nslots; s++)
            t += conv_db(op, &q, s)[oc];
        op->dw[1][oc] += (float)t;
    }
}

static const nn_kind conv2d_kind = {"Conv2d", conv2d_shape, conv2d_init, conv2d_forward, conv2d_backward, false,
                                    false, true};

enum { CA_IN, CA_OUT, CA_KERNEL, CA_STRIDE, CA_PADDING, CA_DILATION, CA_GROUPS, CA_BIAS, CA_MODE };
/* kernel_size, stride, padding and dilation are ints, pairs (or strings)
 * read by conv2d_lower from the spec, hence NA_IGNORED here. */
static const nn_arg conv2d_args[] = {
    {"in_channels", NA_INT, true, NAN, 1, 1e9, NULL},
    {"out_channels", NA_INT, true, NAN, 1, 1e9, NULL},
    {"kernel_size", NA_IGNORED, true, NAN, 0, 0, NULL},
    {"stride", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"padding", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dilation", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"groups", NA_INT, false, 1, 1, 1e9, NULL},
    {"bias", NA_BOOL, false, 1, 0, 1, NULL},
    {"padding_mode", NA_CHOICE, false, 0, 0, 0, "zeros|reflect|replicate|circular"},
    {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL},
};

static int conv2d_lower(nn_builder *bld, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                        const char *prefix, int *out, eta_err *err)
{
    (void)call;
    int k[2], s[2], p[2], d[2], rc;
    if ((rc = nn_conv_int2(vals[CA_KERNEL], "kernel_size", (const int[]){1, 1}, 1, false, k, err)) ||
        (rc = nn_conv_int2(vals[CA_STRIDE], "stride", (const int[]){1, 1}, 1, false, s, err)) ||
        (rc = nn_conv_int2(vals[CA_DILATION], "dilation", (const int[]){1, 1}, 1, false, d, err)))
        return rc;
    const eta_spec *pv = vals[CA_PADDING];
    if (pv && pv->kind == ETA_SPEC_STRING) {
        if (!strcmp(pv->str, "valid")) {
            p[0] = p[1] = 0;
        } else if (!strcmp(pv->str, "same")) {
            if (s[0] != 1 || s[1] != 1)
                return eta_spec_fail(err, ETA_EINVAL, pv, "padding='same' needs stride 1, got (%d, %d)", s[0], s[1]);
            if (k[0] % 2 == 0 || k[1] % 2 == 0)
                return eta_spec_fail(err, ETA_EINVAL, pv,
                                     "padding='same' with an even kernel_size (%d, %d) pads unevenly; eta supports "
                                     "it with odd kernels only",
                                     k[0], k[1]);
            p[0] = (k[0] - 1) / 2;
            p[1] = (k[1] - 1) / 2;
        } else {
            return eta_spec_fail(err, ETA_EINVAL, pv, "padding must be 'valid', 'same', an int or a pair, got '%s'",
                                 pv->str);
        }
    } else if ((rc = nn_conv_int2(pv, "padding", (const int[]){0, 0}, 0, false, p, err))) {
        return rc;
    }
    if (d[0] != 1 || d[1] != 1)
        return eta_spec_fail(err, ETA_EINVAL, vals[CA_DILATION], "dilation (%d, %d) is not supported: eta's Conv2d "
                             "has dilation 1 only", d[0], d[1]);
    if (a[CA_GROUPS] != 1)
        return eta_spec_fail(err, ETA_EINVAL, vals[CA_GROUPS], "groups=%d is not supported: eta's Conv2d has "
                             "groups=1 only", (int)a[CA_GROUPS]);
    if (a[CA_MODE] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[CA_MODE], "padding_mode '%s' is not supported: eta's Conv2d "
                             "pads with zeros only", vals[CA_MODE]->str);
    double opa[CV_NARGS] = {a[CA_IN], a[CA_OUT], k[0], k[1], s[0], s[1], p[0], p[1], a[CA_BIAS]};
    int idx = nn_append(bld, &conv2d_kind, prefix, &in, 1, opa, CV_NARGS, err);
    if (idx < 0)
        return idx;
    *out = idx;
    return ETA_OK;
}

static const nn_module conv2d_module = {
    "Conv2d", conv2d_args, (int)(sizeof conv2d_args / sizeof *conv2d_args), &conv2d_kind, conv2d_lower,
    "Conv2d(in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True, "
    "padding_mode='zeros'): 2-D convolution (dilation 1, groups 1, zero padding)"};

/* pool.c */
extern const nn_module nn_module_maxpool2d, nn_module_avgpool2d, nn_module_adaptive_avgpool2d;

const nn_module *const nn_modules_conv[] = {&conv2d_module, &nn_module_maxpool2d, &nn_module_avgpool2d,
                                            &nn_module_adaptive_avgpool2d, NULL};
