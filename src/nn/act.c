/* nn/act.c - activations (torch.nn): ReLU, LeakyReLU, GELU (exact and tanh),
 * Tanh, Sigmoid, Softmax and LogSoftmax over one dimension (GELU(tanh) is
 * seq.c's vectorised kernel, shared with TransformerBlock). Element
 * loops are eta's own, OpenMP-parallel for large tensors (eta_parallel_for's
 * fixed chunks); every element's arithmetic is the same at any thread count.
 */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/graph.h"

enum { ACT_RELU, ACT_LEAKY, ACT_GELU, ACT_TANH, ACT_SIGMOID };

#define PAR_MIN 32768 /* elements below which a loop stays serial */

static int same_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    (void)err;
    op->out.ndim = in[0]->ndim;
    memcpy(op->out.shape, in[0]->shape, sizeof op->out.shape);
    return ETA_OK;
}

/* ReLU and LeakyReLU, and the backward passes of Tanh and Sigmoid (which
 * need only y), are plain arithmetic: vectorised loops, compiled per ISA,
 * over chunks of the tensor (eta_parallel_for). GELU, Tanh and Sigmoid
 * forward call libm (in double where the reference needs it) element by
 * element. ReLU is torch's clamp_min(x, 0): x < 0 ? 0 : x, so NaN (a
 * diverging run's signal) and -0.0 pass, and its gradient is dy wherever x
 * <= 0 is false, NaN included. The selects are the same in every lane and
 * clone: the bits do not depend on the ISA or the thread count. */
typedef struct act_job {
    const float *x, *y, *dy;
    float *out; /* forward: y; backward: dx (added to, or set when `set`) */
    float slope;
    int fn;
    bool set;
} act_job;

ETA_SIMD_CLONES
static void relu_fwd_loop(float *restrict y, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] < 0 ? 0.0f : x[i]; /* torch's clamp_min: NaN and -0.0 pass */
}

ETA_SIMD_CLONES
static void leaky_fwd_loop(float *restrict y, const float *restrict x, float slope, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] > 0 ? x[i] : x[i] * slope;
}

ETA_SIMD_CLONES
static void relu_bwd_loop(float *restrict dx, const float *restrict x, const float *restrict dy, size_t n, bool set)
{
    if (set) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = x[i] <= 0 ? 0.0f : dy[i]; /* torch: dy where not y <= 0, NaN too */
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] += x[i] <= 0 ? 0.0f : dy[i];
}

ETA_SIMD_CLONES
static void leaky_bwd_loop(float *restrict dx, const float *restrict x, const float *restrict dy, float slope,
                           size_t n, bool set)
{
    if (set) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = x[i] > 0 ? dy[i] : dy[i] * slope;
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] += x[i] > 0 ? dy[i] : dy[i] * slope;
}

ETA_SIMD_CLONES
static void tanh_bwd_loop(float *restrict dx, const float *restrict y, const float *restrict dy, size_t n, bool set)
{
    if (set) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = dy[i] * (1.0f - y[i] * y[i]);
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
}

ETA_SIMD_CLONES
static void sigmoid_bwd_loop(float *restrict dx, const float *restrict y, const float *restrict dy, size_t n, bool set)
{
    if (set) {
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = dy[i] * y[i] * (1.0f - y[i]);
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
}

static void act_fwd_chunk(void *ctx, size_t lo, size_t hi)
{
    const act_job *j = ctx;
    const float *x = j->x;
    float *y = j->out;
    switch (j->fn) {
    case ACT_RELU:
        relu_fwd_loop(y + lo, x + lo, hi - lo);
        return;
    case ACT_LEAKY:
        leaky_fwd_loop(y + lo, x + lo, j->slope, hi - lo);
        return;
    case ACT_GELU: /* 0.5 x (1 + erf(x / sqrt 2)) */
        for (size_t i = lo; i < hi; i++)
            y[i] = (float)(0.5 * x[i] * (1.0 + erf(x[i] * 0.70710678118654752440)));
        return;
    case ACT_TANH:
        for (size_t i = lo; i < hi; i++)
            y[i] = tanhf(x[i]);
        return;
    default: /* sigmoid */
        for (size_t i = lo; i < hi; i++)
            y[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
        return;
    }
}

static void act_bwd_chunk(void *ctx, size_t lo, size_t hi)
{
    const act_job *j = ctx;
    const float *x = j->x, *y = j->y, *dy = j->dy;
    float *dx = j->out;
    switch (j->fn) {
    case ACT_RELU:
        relu_bwd_loop(dx + lo, x + lo, dy + lo, hi - lo, j->set);
        return;
    case ACT_LEAKY:
        leaky_bwd_loop(dx + lo, x + lo, dy + lo, j->slope, hi - lo, j->set);
        return;
    case ACT_GELU: /* Phi(x) + x phi(x) */
        for (size_t i = lo; i < hi; i++) {
            float v = x[i];
            double cdf = 0.5 * (1.0 + erf(v * 0.70710678118654752440));
            double pdf = 0.39894228040143267794 * exp(-0.5 * (double)v * v);
            float d = (float)(dy[i] * (cdf + v * pdf));
            dx[i] = j->set ? d : dx[i] + d;
        }
        return;
    case ACT_TANH:
        tanh_bwd_loop(dx + lo, y + lo, dy + lo, hi - lo, j->set);
        return;
    default:
        sigmoid_bwd_loop(dx + lo, y + lo, dy + lo, hi - lo, j->set);
        return;
    }
}

static void act_forward(nn_op *op, const nn_ctx *ctx, int fn)
{
    if (op->fused) { /* a ReLU its MaxPool2d applies (net.c's fuse): a view */
        op->out.x = op->input[0]->x; /* the network's input is set per pass */
        return;
    }
    act_job j = {op->input[0]->x, NULL, NULL, op->out.x, (float)op->a[0], fn, false};
    eta_parallel_for(op->out.n, ctx->threads, act_fwd_chunk, &j);
}

static void act_backward(nn_op *op, const nn_ctx *ctx, int fn)
{
    const nn_tensor *in = op->input[0];
    if (!in->g || op->fused)
        return;
    act_job j = {in->x, op->out.x, op->out.g, in->g, (float)op->a[0], fn, op->gset};
    eta_parallel_for(op->out.n, ctx->threads, act_bwd_chunk, &j);
}

#define ACT_KIND(id, nm, FN) /* nm: for the reader */                                                                   \
    static void id##_fwd(nn_op *op, const nn_ctx *c)                                            \
    {                                                                                            \
        act_forward(op, c, FN);                                                                  \
    }                                                                                            \
    static void id##_bwd(nn_op *op, const nn_ctx *c)                                            \
    {                                                                                            \
        act_backward(op, c, FN);                                                                 \
    }

ACT_KIND(relu, "ReLU", ACT_RELU)
ACT_KIND(leaky, "LeakyReLU", ACT_LEAKY)
ACT_KIND(gelu, "GELU", ACT_GELU)
ACT_KIND(tanh_, "Tanh", ACT_TANH)
ACT_KIND(sigmoid, "Sigmoid", ACT_SIGMOID)

const nn_kind nn_kind_relu = {"ReLU", same_shape, NULL, relu_fwd, relu_bwd, false, false, true};
static const nn_kind leaky_kind = {"LeakyReLU", same_shape, NULL, leaky_fwd, leaky_bwd, false, false, true};
static const nn_kind gelu_kind = {"GELU", same_shape, NULL, gelu_fwd, gelu_bwd, false, false, true};
static const nn_kind tanh__kind = {"Tanh", same_shape, NULL, tanh__fwd, tanh__bwd, false, false, true};
static const nn_kind sigmoid_kind = {"Sigmoid", same_shape, NULL, sigmoid_fwd, sigmoid_bwd, false, false, true};

/* GELU picks its kind from `approximate`. */
static int lower_gelu(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                      const char *prefix, int *out, eta_err *err)
{
    (void)vals;
    (void)call;
    int idx = nn_append(b, a[0] == 1 ? &nn_kind_gelu_tanh : &gelu_kind, prefix, &in, 1, NULL, 0, err);
    if (idx < 0)
        return idx;
    *out = idx;
    return ETA_OK;
}

/* ---- Softmax(dim=-1), LogSoftmax(dim=-1): over any one dimension ----
 * The tensor is seen as [outer, C, inner]; each (outer, inner) pair is one
 * softmax over C elements spaced `inner` apart. */
static int softmax_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    int dim = (int)op->a[0], nd = in[0]->ndim;
    if (dim < -nd || dim >= nd)
        return nn_shape_error(err, op, "dim=%d is out of range for %d dims", dim, nd);
    return same_shape(op, in, err);
}

static void softmax_geometry(const nn_op *op, int64_t *outer, int64_t *C, int64_t *inner)
{
    const nn_tensor *x = op->input[0];
    int dim = (int)op->a[0];
    dim = dim < 0 ? dim + x->ndim : dim;
    *outer = *inner = 1;
    for (int d = 0; d < dim; d++)
        *outer *= x->shape[d];
    *C = x->shape[dim];
    for (int d = dim + 1; d < x->ndim; d++)
        *inner *= x->shape[d];
}

static void softmax_run(nn_op *op, bool log_out)
{
    const nn_tensor *x = op->input[0];
    int64_t outer, C, inner;
    softmax_geometry(op, &outer, &C, &inner);
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t r = 0; r < outer * inner; r++) {
        int64_t base = (r / inner) * C * inner + r % inner;
        const float *xr = x->x + base;
        float *yr = op->out.x + base;
        float mx = xr[0];
        for (int64_t c = 1; c < C; c++)
            mx = xr[c * inner] > mx ? xr[c * inner] : mx;
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += exp((double)(xr[c * inner] - mx));
        double ls = log(s);
        for (int64_t c = 0; c < C; c++) {
            double z = (double)(xr[c * inner] - mx);
            yr[c * inner] = log_out ? (float)(z - ls) : (float)(exp(z) / s);
        }
    }
}

static void softmax_back(nn_op *op, bool log_out)
{
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    int64_t outer, C, inner;
    softmax_geometry(op, &outer, &C, &inner);
#pragma omp parallel for schedule(static) if (x->n >= PAR_MIN)
    for (int64_t r = 0; r < outer * inner; r++) {
        int64_t base = (r / inner) * C * inner + r % inner;
        const float *y = op->out.x + base, *dy = op->out.g + base;
        float *dx = x->g + base;
        double s = 0;
        for (int64_t c = 0; c < C; c++)
            s += log_out ? dy[c * inner] : (double)dy[c * inner] * y[c * inner];
        for (int64_t c = 0; c < C; c++) {
            int64_t i = c * inner;
            dx[i] += log_out ? (float)(dy[i] - exp((double)y[i]) * s) : (float)(y[i] * (dy[i] - s));
        }
    }
}

static void softmax_fwd(nn_op *op, const nn_ctx *c)
{
    (void)c;
    softmax_run(op, false);
}
static void softmax_bwd(nn_op *op, const nn_ctx *c)
{
    (void)c;
    softmax_back(op, false);
}
static void logsoftmax_fwd(nn_op *op, const nn_ctx *c)
{
    (void)c;
    softmax_run(op, true);
}
static void logsoftmax_bwd(nn_op *op, const nn_ctx *c)
{
    (void)c;
    softmax_back(op, true);
}

static const nn_kind softmax_kind = {"Softmax", softmax_shape, NULL, softmax_fwd, softmax_bwd, false, false, false};
static const nn_kind logsoftmax_kind = {"LogSoftmax", softmax_shape, NULL, logsoftmax_fwd, logsoftmax_bwd, false,
                                        false, false};

static const nn_arg inplace_arg[] = {{"inplace", NA_IGNORED, false, NAN, 0, 0, NULL}};
static const nn_arg leaky_args[] = {{"negative_slope", NA_REAL, false, 0.01, -1e9, 1e9, NULL},
                                    {"inplace", NA_IGNORED, false, NAN, 0, 0, NULL}};
static const nn_arg gelu_args[] = {{"approximate", NA_CHOICE, false, 0, 0, 0, "none|tanh"}};
static const nn_arg dim_args[] = {{"dim", NA_INT, false, -1, -NN_MAX_DIMS, NN_MAX_DIMS - 1, NULL}};

static const nn_module relu_m = {"ReLU", inplace_arg, 1, &nn_kind_relu, NULL, "ReLU()"};
static const nn_module leaky_m = {"LeakyReLU", leaky_args, 2, &leaky_kind, NULL, "LeakyReLU(negative_slope=0.01)"};
static const nn_module gelu_m = {"GELU", gelu_args, 1, NULL, lower_gelu, "GELU(approximate='none'|'tanh')"};
static const nn_module tanh_m = {"Tanh", NULL, 0, &tanh__kind, NULL, "Tanh()"};
static const nn_module sigmoid_m = {"Sigmoid", NULL, 0, &sigmoid_kind, NULL, "Sigmoid()"};
static const nn_module softmax_m = {"Softmax", dim_args, 1, &softmax_kind, NULL, "Softmax(dim=-1): over one dimension"};
static const nn_module logsoftmax_m = {"LogSoftmax", dim_args, 1, &logsoftmax_kind, NULL, "LogSoftmax(dim=-1)"};

const nn_module *const nn_modules_act[] = {&relu_m, &leaky_m, &gelu_m, &tanh_m, &sigmoid_m, &softmax_m,
                                           &logsoftmax_m, NULL};
