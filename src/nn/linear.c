/* nn/linear.c - the dense modules: Linear (torch.nn.Linear: y = x W^T + b
 * over the last dimension, GEMM through blas.h), Flatten (a view), Dropout
 * (inverted dropout with the op's own random stream) and MeanPool (the mean
 * over the sequence dimension of [B, T, D]).
 */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/blas.h"
#include "nn/graph.h"

/* ---- Linear(in_features, out_features, bias=True) ----
 * x [N.., IN] -> y [N.., OUT]; W [OUT, IN]; b [OUT]. */
enum { LIN_IN, LIN_OUT, LIN_BIAS };

static int linear_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t IN = (int64_t)op->a[LIN_IN], OUT = (int64_t)op->a[LIN_OUT];
    char s[96];
    if (x->ndim < 2 || x->shape[x->ndim - 1] != IN)
        return nn_shape_error(err, op, "expected input [batch, ..., %lld], got %s", (long long)IN,
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    op->out.ndim = x->ndim;
    memcpy(op->out.shape, x->shape, sizeof x->shape);
    op->out.shape[x->ndim - 1] = OUT;
    int rc = nn_param_add(op, "weight", 2, (int64_t[]){OUT, IN}, err);
    if (!rc && op->a[LIN_BIAS] != 0)
        rc = nn_param_add(op, "bias", 1, (int64_t[]){OUT}, err);
    return rc;
}

static void linear_init(nn_op *op, uint64_t *rng)
{
    int64_t IN = (int64_t)op->a[LIN_IN], OUT = (int64_t)op->a[LIN_OUT];
    nn_init_kaiming_uniform(op->w[0], (size_t)(OUT * IN), IN, rng);
    if (op->np > 1)
        nn_init_bias(op->w[1], (size_t)OUT, IN, rng);
}

static void linear_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int IN = (int)op->a[LIN_IN], OUT = (int)op->a[LIN_OUT], N = (int)(x->n / (size_t)IN);
    float *y = op->out.x;
    if (op->np > 1) { /* y = b, then y += x W^T */
        const float *b = op->w[1];
        for (int i = 0; i < N; i++)
            memcpy(y + (size_t)i * OUT, b, (size_t)OUT * sizeof *y);
    }
    nn_sgemm(false, true, N, OUT, IN, 1.0f, x->x, IN, op->w[0], IN, op->np > 1 ? 1.0f : 0.0f, y, OUT);
}

/* db [OUT] += the sum over rows of dy [N, OUT], row by row: each column's
 * sum runs in row order, so vector lanes (columns) give the same bits as
 * the scalar loop. */
ETA_SIMD_CLONES
static void bias_grad(float *restrict db, const float *restrict dy, int N, int OUT)
{
    for (int i = 0; i < N; i++) {
        const float *r = dy + (size_t)i * OUT;
#pragma omp simd
        for (int o = 0; o < OUT; o++)
            db[o] += r[o];
    }
}

static void linear_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int IN = (int)op->a[LIN_IN], OUT = (int)op->a[LIN_OUT], N = (int)(x->n / (size_t)IN);
    const float *dy = op->out.g;
    /* dW += dy^T x;  db += sum_rows dy;  dx (+)= dy W */
    nn_sgemm(true, false, OUT, IN, N, 1.0f, dy, OUT, x->x, IN, 1.0f, op->dw[0], IN);
    if (op->np > 1)
        bias_grad(op->dw[1], dy, N, OUT);
    if (x->g) /* beta 0 when the op sets dx (op->gset) */
        nn_sgemm(false, false, N, IN, OUT, 1.0f, dy, OUT, op->w[0], IN, op->gset ? 0.0f : 1.0f, x->g, IN);
}

static const nn_kind linear_kind = {"Linear", linear_shape, linear_init, linear_forward, linear_backward, false,
                                    false, true};
static const nn_arg linear_args[] = {
    {"in_features", NA_INT, true, NAN, 1, 1e9, NULL},
    {"out_features", NA_INT, true, NAN, 1, 1e9, NULL},
    {"bias", NA_BOOL, false, 1, 0, 1, NULL},
    {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL},
};
static const nn_module linear_module = {"Linear", linear_args, 5, &linear_kind, NULL,
                                        "Linear(in_features, out_features, bias=True): y = x W^T + b"};

/* ---- Flatten(start_dim=1, end_dim=-1): a view ---- */
enum { FL_START, FL_END };

static int flatten_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int nd = x->ndim, s = (int)op->a[FL_START], e = (int)op->a[FL_END];
    s = s < 0 ? s + nd : s;
    e = e < 0 ? e + nd : e;
    char buf[96];
    if (s < 0 || e >= nd || s > e)
        return nn_shape_error(err, op, "start_dim %d and end_dim %d do not fit input %s", (int)op->a[FL_START],
                              (int)op->a[FL_END], nn_shape_str(buf, sizeof buf, nd, x->shape));
    int k = 0;
    for (int d = 0; d < nd; d++) {
        if (d > s && d <= e)
            op->out.shape[k - 1] *= x->shape[d];
        else
            op->out.shape[k++] = x->shape[d];
    }
    op->out.ndim = k;
    return ETA_OK;
}

static void flatten_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    op->out.x = op->input[0]->x; /* a view: the same memory */
}

static void flatten_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)op;
    (void)ctx; /* the gradient is shared with the input (see view in prepare) */
}

static const nn_kind flatten_kind = {"Flatten", flatten_shape, NULL, flatten_forward, flatten_backward, false, true, false};
static const nn_arg flatten_args[] = {
    {"start_dim", NA_INT, false, 1, -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL},
    {"end_dim", NA_INT, false, -1, -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL},
};
static const nn_module flatten_module = {"Flatten", flatten_args, 2, &flatten_kind, NULL,
                                         "Flatten(start_dim=1, end_dim=-1): a view"};

/* ---- Dropout(p=0.5): train: zero with probability p, scale the rest by
 * 1/(1-p), the mask drawn from the op's own stream; eval: identity. ---- */
static int dropout_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    (void)err;
    op->out.ndim = in[0]->ndim;
    memcpy(op->out.shape, in[0]->shape, sizeof op->out.shape);
    op->nscratch = in[0]->n; /* the mask, as the factor applied */
    return ETA_OK;
}

static void dropout_forward(nn_op *op, const nn_ctx *ctx)
{
    const nn_tensor *x = op->input[0];
    float p = (float)op->a[0], keep = 1.0f / (1.0f - p);
    if (!ctx->train || p == 0) {
        memcpy(op->out.x, x->x, x->n * sizeof(float));
        for (size_t i = 0; i < x->n; i++)
            op->scratch[i] = 1.0f;
        return;
    }
    for (size_t i = 0; i < x->n; i++) {
        float m = nn_rand_uniform(&op->rng) < p ? 0.0f : keep;
        op->scratch[i] = m;
        op->out.x[i] = x->x[i] * m;
    }
}

static void dropout_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (x->g)
        for (size_t i = 0; i < x->n; i++)
            x->g[i] += op->out.g[i] * op->scratch[i];
}

static const nn_kind dropout_kind = {"Dropout", dropout_shape, NULL, dropout_forward, dropout_backward, false, false, false};
static const nn_arg dropout_args[] = {{"p", NA_REAL, false, 0.5, 0, 0.999999, NULL},
                                      {"inplace", NA_IGNORED, false, NAN, 0, 0, NULL}};
static const nn_module dropout_module = {"Dropout", dropout_args, 2, &dropout_kind, NULL,
                                         "Dropout(p=0.5): inverted dropout in train mode, identity in eval"};

/* ---- MeanPool(): [B, T, D] -> [B, D], the mean over T ---- */
static int meanpool_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    char s[96];
    if (in[0]->ndim != 3)
        return nn_shape_error(err, op, "expected [batch, seq, dim], got %s",
                              nn_shape_str(s, sizeof s, in[0]->ndim, in[0]->shape));
    op->out.ndim = 2;
    op->out.shape[0] = in[0]->shape[0];
    op->out.shape[1] = in[0]->shape[2];
    return ETA_OK;
}

static void meanpool_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2];
    for (int64_t b = 0; b < B; b++)
        for (int64_t d = 0; d < D; d++) {
            double s = 0;
            for (int64_t t = 0; t < T; t++)
                s += x->x[(b * T + t) * D + d];
            op->out.x[b * D + d] = (float)(s / (double)T);
        }
}

static void meanpool_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    int64_t B = x->shape[0], T = x->shape[1], D = x->shape[2];
    float inv = 1.0f / (float)T;
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t d = 0; d < D; d++)
                x->g[(b * T + t) * D + d] += op->out.g[b * D + d] * inv;
}

static const nn_kind meanpool_kind = {"MeanPool", meanpool_shape, NULL, meanpool_forward, meanpool_backward, false,
                                      false, false};
static const nn_module meanpool_module = {"MeanPool", NULL, 0, &meanpool_kind, NULL,
                                          "MeanPool(): the mean over the sequence, [B, T, D] -> [B, D]"};

const nn_module *const nn_modules_dense[] = {&linear_module, &flatten_module, &dropout_module, &meanpool_module,
                                             NULL};
