/* nn/layernorm.c - LayerNorm over the last dimension
 * (https://pytorch.org/docs/stable/generated/torch.nn.LayerNorm.html):
 * y = (x - mean) / sqrt(var + eps) * weight + bias, the biased variance,
 * per row of the last dimension. Kernels after llm.c's layernorm_forward /
 * layernorm_backward. BatchNorm lives in norm.c; the module table that lists
 * LayerNorm is seq.c's (the transformer family).
 */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/graph.h"

/* op->a of the LayerNorm kind */
enum { LN_D, LN_EPS, LN_AFFINE, LN_BIAS };

/* Rows [r0, r1) of x, y [N, C]; w, b [C] or NULL; mean, rstd [N] (saved
 * for backward). Row statistics in double (a row is short, so the
 * reference's float32 rounding is all that finite differences in double
 * see), the rest in float. Every loop is branch-free on restrict pointers
 * so that it vectorises, compiled per ISA (ETA_SIMD_CLONES). */
ETA_SIMD_CLONES
static void layernorm_forward(float *restrict y, float *restrict mean, float *restrict rstd, const float *restrict x,
                              const float *restrict w, const float *restrict b, int64_t r0, int64_t r1, int64_t C,
                              double eps)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * C;
        float *yr = y + r * C;
        double as[ETA_LANES] = {0}, av[ETA_LANES] = {0};
        for (int64_t c0 = 0; c0 < C; c0 += ETA_LANES) {
            int64_t n = C - c0 < ETA_LANES ? C - c0 : ETA_LANES;
#pragma omp simd
            for (int64_t l = 0; l < n; l++)
                as[l] += xr[c0 + l];
        }
        double m = eta_lanes_sum_f64(as) / (double)C;
        for (int64_t c0 = 0; c0 < C; c0 += ETA_LANES) {
            int64_t n = C - c0 < ETA_LANES ? C - c0 : ETA_LANES;
#pragma omp simd
            for (int64_t l = 0; l < n; l++)
                av[l] += ((double)xr[c0 + l] - m) * ((double)xr[c0 + l] - m);
        }
        double v = eta_lanes_sum_f64(av);
        float fm = (float)m, fr = (float)(1.0 / sqrt(v / (double)C + eps));
        mean[r] = fm;
        rstd[r] = fr;
        if (w && b) {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                yr[c] = (xr[c] - fm) * fr * w[c] + b[c];
        } else if (w) {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                yr[c] = (xr[c] - fm) * fr * w[c];
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                yr[c] = (xr[c] - fm) * fr;
        }
    }
}

/* dx += rstd (dn - mean(dn) - n mean(dn n)) for rows [r0, r1), with n the
 * normalised input and dn = dy w (dy without affine). */
ETA_SIMD_CLONES
static void layernorm_backward_dx(float *restrict dx, const float *restrict dy, const float *restrict x,
                                  const float *restrict w, const float *restrict mean, const float *restrict rstd,
                                  int64_t r0, int64_t r1, int64_t C)
{
    for (int64_t r = r0; r < r1; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C;
        float *dxr = dx + r * C, m = mean[r], rs = rstd[r];
        double a1[ETA_LANES] = {0}, a2[ETA_LANES] = {0};
        for (int64_t c0 = 0; c0 < C; c0 += ETA_LANES) {
            int64_t n = C - c0 < ETA_LANES ? C - c0 : ETA_LANES;
            const float *xc = xr + c0, *dyc = dyr + c0;
            if (w) {
                const float *wc = w + c0;
#pragma omp simd
                for (int64_t l = 0; l < n; l++) {
                    float dn = dyc[l] * wc[l];
                    a1[l] += dn;
                    a2[l] += (double)dn * ((xc[l] - m) * rs);
                }
            } else {
#pragma omp simd
                for (int64_t l = 0; l < n; l++) {
                    a1[l] += dyc[l];
                    a2[l] += (double)dyc[l] * ((xc[l] - m) * rs);
                }
            }
        }
        double s1 = eta_lanes_sum_f64(a1), s2 = eta_lanes_sum_f64(a2);
        float a = (float)(s1 / (double)C), bb = (float)(s2 / (double)C);
        if (w) {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                dxr[c] += (dyr[c] * w[c] - a - (xr[c] - m) * rs * bb) * rs;
        } else {
#pragma omp simd
            for (int64_t c = 0; c < C; c++)
                dxr[c] += (dyr[c] - a - (xr[c] - m) * rs * bb) * rs;
        }
    }
}

/* dw += sum_rows dy n, db += sum_rows dy (either may be NULL) over columns
 * [c0, c1): rows are summed in order, so the bits do not depend on how the
 * columns are split between threads. */
ETA_SIMD_CLONES
static void layernorm_backward_params(float *restrict dw, float *restrict db, const float *restrict dy,
                                      const float *restrict x, const float *restrict mean,
                                      const float *restrict rstd, int64_t N, int64_t C, int64_t c0, int64_t c1)
{
    for (int64_t r = 0; r < N; r++) {
        const float *xr = x + r * C, *dyr = dy + r * C;
        float m = mean[r], rs = rstd[r];
        if (dw) {
#pragma omp simd
            for (int64_t c = c0; c < c1; c++)
                dw[c] += dyr[c] * ((xr[c] - m) * rs);
        }
        if (db) {
#pragma omp simd
            for (int64_t c = c0; c < c1; c++)
                db[c] += dyr[c];
        }
    }
}

#define ROWS_PER_TASK 64 /* rows per parallel task */
#define COLS_PER_TASK 64 /* columns per parallel task of the parameter sums */

static int ln_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t D = (int64_t)op->a[LN_D];
    char s[96];
    if (x->ndim < 2 || x->shape[x->ndim - 1] != D)
        return nn_shape_error(err, op, "expected input [batch, ..., %lld], got %s", (long long)D,
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    op->out.ndim = x->ndim;
    memcpy(op->out.shape, x->shape, sizeof x->shape);
    op->nscratch = 2 * (x->n / (size_t)D); /* mean, rstd per row */
    int rc = ETA_OK;
    if (op->a[LN_AFFINE] != 0) {
        rc = nn_param_add(op, "weight", 1, &D, err);
        if (!rc && op->a[LN_BIAS] != 0)
            rc = nn_param_add(op, "bias", 1, &D, err);
    }
    return rc;
}

static void ln_init(nn_op *op, uint64_t *rng)
{
    (void)rng;
    size_t D = (size_t)op->a[LN_D];
    if (op->np > 0)
        for (size_t i = 0; i < D; i++)
            op->w[0][i] = 1.0f;
    if (op->np > 1)
        memset(op->w[1], 0, D * sizeof(float));
}

static void ln_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int64_t D = (int64_t)op->a[LN_D], N = (int64_t)(x->n / (size_t)D), tasks = (N + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    const float *w = op->np > 0 ? op->w[0] : NULL, *b = op->np > 1 ? op->w[1] : NULL;
#pragma omp parallel for schedule(static) if (tasks > 1 && N * D >= 65536)
    for (int64_t t = 0; t < tasks; t++) {
        int64_t r1 = (t + 1) * ROWS_PER_TASK;
        layernorm_forward(op->out.x, op->scratch, op->scratch + N, x->x, w, b, t * ROWS_PER_TASK, r1 < N ? r1 : N, D,
                          op->a[LN_EPS]);
    }
}

static void ln_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int64_t D = (int64_t)op->a[LN_D], N = (int64_t)(x->n / (size_t)D), tasks = (N + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    const float *w = op->np > 0 ? op->w[0] : NULL, *mean = op->scratch, *rstd = op->scratch + N;
    float *dw = op->np > 0 ? op->dw[0] : NULL, *db = op->np > 1 ? op->dw[1] : NULL;
    if (x->g) {
#pragma omp parallel for schedule(static) if (tasks > 1 && N * D >= 65536)
        for (int64_t t = 0; t < tasks; t++) {
            int64_t r1 = (t + 1) * ROWS_PER_TASK;
            layernorm_backward_dx(x->g, op->out.g, x->x, w, mean, rstd, t * ROWS_PER_TASK, r1 < N ? r1 : N, D);
        }
    }
    if (dw || db) {
        int64_t ctasks = (D + COLS_PER_TASK - 1) / COLS_PER_TASK;
#pragma omp parallel for schedule(static) if (ctasks > 1 && N * D >= 65536)
        for (int64_t t = 0; t < ctasks; t++) {
            int64_t c1 = (t + 1) * COLS_PER_TASK;
            layernorm_backward_params(dw, db, op->out.g, x->x, mean, rstd, N, D, t * COLS_PER_TASK, c1 < D ? c1 : D);
        }
    }
}

const nn_kind nn_kind_layernorm = {"LayerNorm", ln_shape, ln_init, ln_forward, ln_backward, false, false, false};

/* normalized_shape is an int or a 1-tuple/list: eta normalises over the last
 * dimension only. The module binds it itself (NA_IGNORED) to accept both. */
static int lower_layernorm(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                           const char *prefix, int *out, eta_err *err)
{
    (void)call;
    const eta_spec *v = vals[0];
    if ((v->kind == ETA_SPEC_TUPLE || v->kind == ETA_SPEC_LIST) && v->n != 1)
        return eta_spec_fail(err, ETA_EINVAL, v,
                             "normalized_shape: eta normalises over the last dimension only: give one size, got %d",
                             v->n);
    if (v->kind == ETA_SPEC_TUPLE || v->kind == ETA_SPEC_LIST)
        v = v->items[0];
    int64_t D;
    int rc = eta_spec_get_int(v, "normalized_shape", &D, err);
    if (!rc)
        rc = eta_spec_check_range(v, "normalized_shape", (double)D, 1, false, 1e9, false, err);
    if (rc)
        return rc;
    double la[4] = {(double)D, a[1], a[2], a[3]};
    int idx = nn_append(b, &nn_kind_layernorm, prefix, &in, 1, la, 4, err);
    if (idx < 0)
        return idx;
    *out = idx;
    return ETA_OK;
}

static const nn_arg layernorm_args[] = {
    {"normalized_shape", NA_IGNORED, true, NAN, 0, 0, NULL}, /* bound by lower_layernorm */
    {"eps", NA_REAL, false, 1e-5, 0, 1e9, NULL},
    {"elementwise_affine", NA_BOOL, false, 1, 0, 1, NULL},
    {"bias", NA_BOOL, false, 1, 0, 1, NULL},
    {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL},
};
const nn_module nn_module_layernorm = {
    "LayerNorm", layernorm_args, 6, NULL, lower_layernorm,
    "LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True): over the last dimension"};
