/* nn/norm.c - batch normalisation (torch.nn.BatchNorm1d, BatchNorm2d):
 *   https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
 * y = (x - mean) / sqrt(var + eps) * weight + bias per channel. Train mode:
 * the batch's mean and biased variance over every axis but the channel, and
 * the running statistics updated with momentum (the running variance from
 * the unbiased batch variance, as torch). Eval mode: the running statistics.
 * With track_running_stats=False the batch statistics are used in both
 * modes and there are no running statistics. LayerNorm lives in layernorm.c.
 *
 * The running statistics ("running_mean", "running_var") are stored with the
 * parameters, after weight and bias, named and ordered as in PyTorch's
 * state_dict: they are kept when the network is prepared again (another
 * batch size for evaluation), saved and loaded with the parameters, and set
 * by tests from PyTorch's buffers. They are buffers (nn_buffer_add), not
 * parameters: never given to an optimizer, their gradients always zero.
 * num_batches_tracked is the network's count of train-mode forward passes
 * (nn_net.batches_tracked, kept by net.c), written and read with the
 * weights (safetensors.c). A spec's momentum is never None; the cumulative
 * average momentum=None gives (factor 1/num_batches_tracked), which
 * torch.optim.swa_utils.update_bn relies on, runs under
 * eta_net_bn_cumulative (ctx->bn_cumulative).
 *
 * The statistics follow torch's CPU kernels (batch_norm_cpu_*): the sums in
 * double, the per-channel factors and the element arithmetic in float.
 * Loops run one thread per channel, each channel's sums in a fixed order of
 * eight running sums: the same bits at any thread count.
 */
#include <math.h>
#include <string.h>

#include "nn/graph.h"

#define PAR_MIN 32768 /* elements below which a loop stays serial */

/* op->a of the BatchNorm kinds */
enum { BN_C, BN_EPS, BN_MOM, BN_AFFINE, BN_TRACK, BN_NARGS };

/* x viewed as [B, C, L]: L = H*W (2d), the length (1d on [B, C, L]) or 1. */
typedef struct bn_dims {
    int64_t B, C, L;
} bn_dims;

static bn_dims dims_of(const nn_tensor *x)
{
    bn_dims d = {x->shape[0], x->shape[1], 1};
    for (int k = 2; k < x->ndim; k++)
        d.L *= x->shape[k];
    return d;
}

static int bn_declare(nn_op *op, const nn_tensor *x, eta_err *err)
{
    int64_t C = (int64_t)op->a[BN_C];
    op->out.ndim = x->ndim;
    memcpy(op->out.shape, x->shape, sizeof op->out.shape);
    /* the mean and 1/std of the last forward pass, and whether they were the batch's */
    op->nscratch = 2 * (size_t)C + 1;
    int rc = ETA_OK;
    if (op->a[BN_AFFINE] != 0) {
        rc = nn_param_add(op, "weight", 1, &C, err);
        if (!rc)
            rc = nn_param_add(op, "bias", 1, &C, err);
    }
    /* buffers (see the file's comment) */
    if (!rc && op->a[BN_TRACK] != 0) {
        rc = nn_buffer_add(op, "running_mean", 1, &C, err);
        if (!rc)
            rc = nn_buffer_add(op, "running_var", 1, &C, err);
    }
    return rc;
}

static int bn1d_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    long long C = (long long)op->a[BN_C];
    char s[96];
    if ((x->ndim != 2 && x->ndim != 3) || x->shape[1] != C)
        return nn_shape_error(err, op, "expected input [batch, %lld] or [batch, %lld, L] (num_features=%lld), got %s",
                              C, C, C, nn_shape_str(s, sizeof s, x->ndim, x->shape));
    return bn_declare(op, x, err);
}

static int bn2d_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    long long C = (long long)op->a[BN_C];
    char s[96];
    if (x->ndim != 4 || x->shape[1] != C)
        return nn_shape_error(err, op, "expected input [batch, %lld, H, W] (num_features=%lld), got %s", C, C,
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    return bn_declare(op, x, err);
}

/* The running statistics, or NULL without them. */
static float *running_mean(const nn_op *op)
{
    return op->a[BN_TRACK] != 0 ? op->w[op->a[BN_AFFINE] != 0 ? 2 : 0] : NULL;
}

static void bn_init(nn_op *op, uint64_t *rng)
{
    (void)rng;
    size_t C = (size_t)op->a[BN_C];
    int k = 0;
    if (op->a[BN_AFFINE] != 0) { /* weight 1, bias 0 */
        for (size_t c = 0; c < C; c++) {
            op->w[0][c] = 1.0f;
            op->w[1][c] = 0.0f;
        }
        k = 2;
    }
    if (op->a[BN_TRACK] != 0) /* running_mean 0, running_var 1 */
        for (size_t c = 0; c < C; c++) {
            op->w[k][c] = 0.0f;
            op->w[k + 1][c] = 1.0f;
        }
}

/* Sums over one channel c of x [B, C, L], in double, eight running sums in a
 * fixed pattern per row: s1 = sum (x - m), s2 = sum (x - m)^2 (y NULL), or
 * s1 = sum y, s2 = sum (x - m) y. */
static void channel_sums(const float *x, const float *y, float m, bn_dims d, int64_t c, double *s1, double *s2)
{
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t i = 0; i < d.B; i++) {
        const float *xr = x + (i * d.C + c) * d.L, *yr = y ? y + (i * d.C + c) * d.L : NULL;
        int64_t l = 0;
        if (y) {
            for (; l + 8 <= d.L; l += 8)
                for (int k = 0; k < 8; k++) {
                    a[k] += (double)yr[l + k];
                    b[k] += ((double)xr[l + k] - m) * (double)yr[l + k];
                }
            for (; l < d.L; l++) {
                a[l & 7] += (double)yr[l];
                b[l & 7] += ((double)xr[l] - m) * (double)yr[l];
            }
        } else {
            for (; l + 8 <= d.L; l += 8)
                for (int k = 0; k < 8; k++) {
                    double v = (double)xr[l + k] - m;
                    a[k] += v;
                    b[k] += v * v;
                }
            for (; l < d.L; l++) {
                double v = (double)xr[l] - m;
                a[l & 7] += v;
                b[l & 7] += v * v;
            }
        }
    }
    *s1 = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    *s2 = ((b[0] + b[1]) + (b[2] + b[3])) + ((b[4] + b[5]) + (b[6] + b[7]));
}

static void bn_forward(nn_op *op, const nn_ctx *ctx)
{
    const nn_tensor *x = op->input[0];
    const bn_dims d = dims_of(x);
    const bool affine = op->a[BN_AFFINE] != 0, batch = ctx->train || op->a[BN_TRACK] == 0;
    /* momentum=None (eta_net_bn_cumulative, update_bn): the factor 1/num_batches_tracked */
    const double eps = op->a[BN_EPS], mom = ctx->bn_cumulative ? 1.0 / (double)ctx->bn_cumulative : op->a[BN_MOM];
    float *rm = running_mean(op), *rv = rm ? op->w[(affine ? 2 : 0) + 1] : NULL;
    float *mean = op->scratch, *invstd = op->scratch + d.C;
    const double n = (double)(d.B * d.L);
    op->scratch[2 * d.C] = batch ? 1.0f : 0.0f;
#pragma omp parallel for schedule(static) if ((int64_t)x->n >= PAR_MIN)
    for (int64_t c = 0; c < d.C; c++) {
        float m, is;
        if (batch) {
            double s, v;
            channel_sums(x->x, NULL, 0.0f, d, c, &s, &v);
            m = (float)(s / n);                         /* torch: the mean in float */
            channel_sums(x->x, NULL, m, d, c, &s, &v); /* v: the sum of squares about it */
            is = (float)(1.0 / sqrt(v / n + eps));
            if (ctx->train && rm) {
                /* differs from torch: one value per channel (n == 1) raises there;
                 * here the unbiased variance is taken as 0 */
                double unbiased = n > 1 ? v / (n - 1) : 0.0;
                rm[c] = (float)(mom * m + (1 - mom) * rm[c]);
                rv[c] = (float)(mom * unbiased + (1 - mom) * rv[c]);
            }
        } else {
            m = rm[c];
            is = (float)(1 / sqrt((double)rv[c] + eps));
        }
        mean[c] = m;
        invstd[c] = is;
        /* y = x alpha + beta, alpha = invstd w, beta = b - mean alpha (torch's order) */
        float alpha = affine ? is * op->w[0][c] : is, beta = (affine ? op->w[1][c] : 0.0f) - m * alpha;
        for (int64_t i = 0; i < d.B; i++) {
            const float *xr = x->x + (i * d.C + c) * d.L;
            float *yr = op->out.x + (i * d.C + c) * d.L;
#pragma omp simd
            for (int64_t l = 0; l < d.L; l++)
                yr[l] = xr[l] * alpha + beta;
        }
    }
}

/* torch's batch_norm_backward_cpu: with batch statistics
 *   dx = (dy - (x - mean) k - sum(dy) / n) invstd w,  k = dot((x - mean), dy) invstd^2 / n;
 * with running statistics dx = dy invstd w; always
 *   dw += dot((x - mean), dy) invstd, db += sum(dy). */
static void bn_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    const bn_dims d = dims_of(x);
    const bool affine = op->a[BN_AFFINE] != 0, batch = op->scratch[2 * d.C] != 0;
    const float *mean = op->scratch, *invstd = op->scratch + d.C, *dy = op->out.g;
    const double n = (double)(d.B * d.L);
#pragma omp parallel for schedule(static) if ((int64_t)x->n >= PAR_MIN)
    for (int64_t c = 0; c < d.C; c++) {
        double sum, dotp;
        float m = mean[c], is = invstd[c], w = affine ? op->w[0][c] : 1.0f;
        channel_sums(x->x, dy, m, d, c, &sum, &dotp);
        if (affine) {
            op->dw[0][c] += (float)(dotp * is);
            op->dw[1][c] += (float)sum;
        }
        if (!x->g)
            continue;
        float k = batch ? (float)(dotp * is * is / n) : 0.0f, gm = batch ? (float)(sum / n) : 0.0f;
        for (int64_t i = 0; i < d.B; i++) {
            const float *xr = x->x + (i * d.C + c) * d.L, *dyr = dy + (i * d.C + c) * d.L;
            float *dxr = x->g + (i * d.C + c) * d.L;
            if (batch) {
#pragma omp simd
                for (int64_t l = 0; l < d.L; l++)
                    dxr[l] += (dyr[l] - (xr[l] - m) * k - gm) * is * w;
            } else {
#pragma omp simd
                for (int64_t l = 0; l < d.L; l++)
                    dxr[l] += dyr[l] * is * w;
            }
        }
    }
}

static const nn_kind bn1d_kind = {"BatchNorm1d", bn1d_shape, bn_init, bn_forward, bn_backward, false, false, false};
static const nn_kind bn2d_kind = {"BatchNorm2d", bn2d_shape, bn_init, bn_forward, bn_backward, false, false, false};

static const nn_arg bn_args[] = {
    {"num_features", NA_INT, true, NAN, 1, 1e9, NULL},
    {"eps", NA_REAL, false, 1e-5, 0, INFINITY, NULL},
    {"momentum", NA_REAL, false, 0.1, 0, 1, NULL},
    {"affine", NA_BOOL, false, 1, 0, 1, NULL},
    {"track_running_stats", NA_BOOL, false, 1, 0, 1, NULL},
    {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL},
};

static const nn_module bn1d_module = {
    "BatchNorm1d", bn_args, 7, &bn1d_kind, NULL,
    "BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True): over [B, C] or "
    "[B, C, L]"};
static const nn_module bn2d_module = {
    "BatchNorm2d", bn_args, 7, &bn2d_kind, NULL,
    "BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True): over [B, C, H, W]"};

const nn_module *const nn_modules_norm[] = {&bn1d_module, &bn2d_module, NULL};
