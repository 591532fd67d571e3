/* nn/seq.c - the sequence (transformer) modules: Embedding
 * (torch.nn.Embedding), PositionalEmbedding (a learned vector per position,
 * GPT-2's wpe), the residual add, and the composites MultiheadSelfAttention
 * (Linear qkv -> attention core -> Linear proj) and TransformerBlock
 * (nanoGPT's pre-LayerNorm Block,
 * https://github.com/karpathy/nanoGPT/blob/master/model.py). The attention
 * core lives in attention.c, LayerNorm in layernorm.c; this file's table
 * lists all of them. Linear and Dropout are the dense family's own modules,
 * reused by lowering small specs; the block's GELU(tanh) is a vectorised
 * kind of this file (see there why).
 *
 * Key padding: when the network's first op is an Embedding with a
 * padding_idx and its input is [B, T], every attention op masks the keys
 * whose token is the padding index (nn_seq_key_padding).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/graph.h"
#include "nn/vmath.h"

#define PAR_MIN 65536 /* elements below which element loops stay serial */

static void join(char *out, const char *prefix, const char *suffix)
{
    snprintf(out, NN_NAME, "%s%s%s", prefix, *prefix ? "." : "", suffix);
}

/* Lowers a module written as text (Linear, Dropout: their own families'
 * modules, so their parameters, initialisation and kernels are theirs). An
 * error is located at the composite's call in the user's text. */
static int lower_text(nn_builder *b, const eta_spec *call, const char *text, int in, const char *name, int *out,
                      eta_err *err)
{
    eta_spec *s;
    int rc = eta_spec_parse(&s, text, err);
    if (!rc) {
        rc = nn_lower_call(b, s, in, name, out, err);
        eta_spec_free(s);
    }
    if (rc && err && call) {
        err->pos = call->pos;
        err->len = call->len;
    }
    return rc;
}

/* ---- Embedding(num_embeddings, embedding_dim, padding_idx=None) ----
 * ids [B, ...] int32 -> [B, ..., D]; weight [num, D] ~ N(0, 1), the padding
 * row zero and never updated. An id outside [0, num) reads as a zero vector
 * and is counted (iscratch: count, first flat index, its value) for
 * nn_embedding_bad_ids; it receives no gradient. */
enum { EMB_NUM, EMB_DIM, EMB_PAD };

static int embedding_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    char s[96];
    if (op->in[0] != -1)
        return nn_shape_error(err, op, "reads the network's int32 token ids: it must be the first layer");
    if (x->ndim >= NN_MAX_DIMS)
        return nn_shape_error(err, op, "expected token ids of at most %d dims, got %s", NN_MAX_DIMS - 1,
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int64_t num = (int64_t)op->a[EMB_NUM], D = (int64_t)op->a[EMB_DIM];
    op->out.ndim = x->ndim + 1;
    memcpy(op->out.shape, x->shape, sizeof x->shape);
    op->out.shape[x->ndim] = D;
    op->niscratch = 3;
    return nn_param_add(op, "weight", 2, (int64_t[]){num, D}, err);
}

static void embedding_init(nn_op *op, uint64_t *rng)
{
    int64_t num = (int64_t)op->a[EMB_NUM], D = (int64_t)op->a[EMB_DIM], pad = (int64_t)op->a[EMB_PAD];
    nn_rand_fill_normal(op->w[0], (size_t)(num * D), 0.0, 1.0, rng);
    if (pad >= 0)
        memset(op->w[0] + pad * D, 0, (size_t)D * sizeof(float));
}

static void embedding_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    const int32_t *ids = x->ix;
    int64_t num = (int64_t)op->a[EMB_NUM], D = (int64_t)op->a[EMB_DIM];
    int32_t *bad = op->iscratch;
    bad[0] = 0;
    bad[1] = -1;
    bad[2] = 0;
    for (size_t i = 0; i < x->n; i++) {
        float *row = op->out.x + i * (size_t)D;
        int32_t id = ids ? ids[i] : -1;
        if (id >= 0 && id < num) {
            memcpy(row, op->w[0] + (size_t)id * (size_t)D, (size_t)D * sizeof *row);
            continue;
        }
        memset(row, 0, (size_t)D * sizeof *row);
        if (bad[0]++ == 0) {
            bad[1] = (int32_t)i;
            bad[2] = id;
        }
    }
}

static void embedding_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->ix)
        return;
    int64_t num = (int64_t)op->a[EMB_NUM], D = (int64_t)op->a[EMB_DIM], pad = (int64_t)op->a[EMB_PAD];
    for (size_t i = 0; i < x->n; i++) {
        int32_t id = x->ix[i];
        if (id < 0 || id >= num || id == pad)
            continue;
        float *dw = op->dw[0] + (size_t)id * (size_t)D;
        const float *dy = op->out.g + i * (size_t)D;
#pragma omp simd
        for (int64_t d = 0; d < D; d++)
            dw[d] += dy[d];
    }
}

static const nn_kind embedding_kind = {"Embedding", embedding_shape, embedding_init, embedding_forward,
                                       embedding_backward, true, false, false};

int nn_embedding_bad_ids(const nn_op *op, char *msg, size_t n)
{
    if (op->kind != &embedding_kind || !op->iscratch || op->iscratch[0] == 0)
        return 0;
    if (msg && n)
        snprintf(msg, n, "%s%s%s: %d token id(s) outside [0, %lld), the first %d at index %d", op->kind->name,
                 *op->name ? " " : "", op->name, op->iscratch[0], (long long)op->a[EMB_NUM], op->iscratch[2],
                 op->iscratch[1]);
    return op->iscratch[0];
}

const int32_t *nn_seq_key_padding(const nn_net *net, int64_t B, int64_t T, int32_t *pad)
{
    if (net->nops < 1)
        return NULL;
    const nn_op *e = &net->ops[0];
    if (e->kind != &embedding_kind || e->a[EMB_PAD] < 0 || !net->input.ix || net->input.ndim != 2 ||
        net->input.shape[0] != B || net->input.shape[1] != T)
        return NULL;
    *pad = (int32_t)e->a[EMB_PAD];
    return net->input.ix;
}

/* padding_idx accepts None and negative values (counted from the end), so
 * the module binds it itself; max_norm and scale_grad_by_freq change the
 * math and are refused unless left at their defaults. */
static int lower_embedding(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                           const char *prefix, int *out, eta_err *err)
{
    (void)call;
    int64_t num = (int64_t)a[EMB_NUM], pad = -1;
    const eta_spec *v = vals[2];
    int rc;
    if (v && v->kind != ETA_SPEC_NONE) {
        if ((rc = eta_spec_get_int(v, "padding_idx", &pad, err)))
            return rc;
        if (pad < -num || pad >= num)
            return eta_spec_fail(err, ETA_EINVAL, v, "Padding_idx must be within num_embeddings, got %lld",
                                 (long long)pad);
        if (pad < 0)
            pad += num;
    }
    if (vals[3] && vals[3]->kind != ETA_SPEC_NONE)
        return eta_spec_fail(err, ETA_EINVAL, vals[3], "max_norm is not supported by eta (only None)");
    if (a[5] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[5], "scale_grad_by_freq is not supported by eta (only False)");
    double ea[3] = {a[EMB_NUM], a[EMB_DIM], (double)pad};
    int idx = nn_append(b, &embedding_kind, prefix, &in, 1, ea, 3, err);
    if (idx < 0)
        return idx;
    *out = idx;
    return ETA_OK;
}

static const nn_arg embedding_args[] = {
    {"num_embeddings", NA_INT, true, NAN, 1, 2147483647.0, NULL},
    {"embedding_dim", NA_INT, true, NAN, 1, 1e9, NULL},
    {"padding_idx", NA_IGNORED, false, NAN, 0, 0, NULL}, /* bound by lower_embedding */
    {"max_norm", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"norm_type", NA_IGNORED, false, NAN, 0, 0, NULL}, /* used only with max_norm */
    {"scale_grad_by_freq", NA_BOOL, false, 0, 0, 1, NULL},
    {"sparse", NA_IGNORED, false, NAN, 0, 0, NULL}, /* gradients are dense either way */
    {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
    {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL},
};
static const nn_module embedding_module = {
    "Embedding", embedding_args, 9, NULL, lower_embedding,
    "Embedding(num_embeddings, embedding_dim, padding_idx=None): int32 token ids -> vectors (first layer)"};

/* ---- PositionalEmbedding(max_len, embedding_dim) ----
 * x [B, T, D] -> x + weight[t] per position t; weight [max_len, D] ~
 * N(0, 0.02) as GPT-2's wpe (eta's own module; no torch.nn equivalent). */
enum { PE_MAX, PE_DIM };

static int posemb_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t L = (int64_t)op->a[PE_MAX], D = (int64_t)op->a[PE_DIM];
    char s[96];
    if (x->ndim != 3 || x->shape[2] != D)
        return nn_shape_error(err, op, "expected [batch, seq, %lld], got %s", (long long)D,
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    if (x->shape[1] > L)
        return nn_shape_error(err, op, "sequence length %lld exceeds max_len %lld", (long long)x->shape[1],
                              (long long)L);
    op->out.ndim = 3;
    memcpy(op->out.shape, x->shape, sizeof x->shape);
    return nn_param_add(op, "weight", 2, (int64_t[]){L, D}, err);
}

static void posemb_init(nn_op *op, uint64_t *rng)
{
    nn_rand_fill_normal(op->w[0], (size_t)(op->a[PE_MAX] * op->a[PE_DIM]), 0.0, 0.02, rng);
}

static void posemb_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int64_t B = x->shape[0], TD = x->shape[1] * x->shape[2];
    const float *w = op->w[0];
    for (int64_t b = 0; b < B; b++) {
        const float *xb = x->x + b * TD;
        float *yb = op->out.x + b * TD;
#pragma omp simd
        for (int64_t i = 0; i < TD; i++)
            yb[i] = xb[i] + w[i];
    }
}

static void posemb_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int64_t B = x->shape[0], TD = x->shape[1] * x->shape[2];
    float *dw = op->dw[0];
    for (int64_t b = 0; b < B; b++) {
        const float *dy = op->out.g + b * TD;
        float *dx = x->g ? x->g + b * TD : NULL;
#pragma omp simd
        for (int64_t i = 0; i < TD; i++)
            dw[i] += dy[i];
        if (dx) {
#pragma omp simd
            for (int64_t i = 0; i < TD; i++)
                dx[i] += dy[i];
        }
    }
}

static const nn_kind posemb_kind = {"PositionalEmbedding", posemb_shape, posemb_init, posemb_forward,
                                    posemb_backward, false, false, false};
static const nn_arg posemb_args[] = {
    {"max_len", NA_INT, true, NAN, 1, 1e9, NULL},
    {"embedding_dim", NA_INT, true, NAN, 1, 1e9, NULL},
};
static const nn_module posemb_module = {"PositionalEmbedding", posemb_args, 2, &posemb_kind, NULL,
                                        "PositionalEmbedding(max_len, embedding_dim): x + weight[t], learned"};

/* ---- the residual add: out = in0 + in1 (same shapes) ---- */
static int add_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    char s0[96], s1[96];
    if (in[0]->ndim != in[1]->ndim || memcmp(in[0]->shape, in[1]->shape, (size_t)in[0]->ndim * sizeof(int64_t)))
        return nn_shape_error(err, op, "residual add of different shapes %s and %s",
                              nn_shape_str(s0, sizeof s0, in[0]->ndim, in[0]->shape),
                              nn_shape_str(s1, sizeof s1, in[1]->ndim, in[1]->shape));
    op->out.ndim = in[0]->ndim;
    memcpy(op->out.shape, in[0]->shape, sizeof op->out.shape);
    return ETA_OK;
}

static void add_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const float *a = op->input[0]->x, *b = op->input[1]->x;
    float *y = op->out.x;
    size_t n = op->out.n;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
}

static void add_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const float *dy = op->out.g;
    size_t n = op->out.n;
    for (int k = 0; k < 2; k++) {
        float *dx = op->input[k]->g;
        if (!dx)
            continue;
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++)
            dx[i] += dy[i];
    }
}

static const nn_kind add_kind = {"Add", add_shape, NULL, add_forward, add_backward, false, false, false};

/* ---- GELU(approximate='tanh') for the block's MLP ----
 * 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written as
 * x sigmoid(2u) = x / (1 + exp(-2u)) (1 + tanh(u) = 2 sigmoid(2u)), which
 * has no cancellation for x < 0, with an exp of the loop's own so that the
 * loop vectorises (libm's tanh and exp, called per element by act.c's GELU,
 * took half of a training step of the benchmark's transformer). Relative
 * error against the exact function at most 1e-6 for |x| <= 3 (the float32
 * rounding of u, as in torch), 1.2e-5 where the result is below 1e-30; NaN
 * propagates. The derivative, s + 2 x s (1 - s) u' with s = sigmoid(2u) and
 * u' = sqrt(2/pi) (1 + 3 0.044715 x^2), within 2e-6 of the exact one. The
 * standalone GELU module stays act.c's. */
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

typedef struct gelu_job {
    const float *x, *dy;
    float *y; /* forward: the output; backward: dx (added to, or set when `set`) */
    bool set;
} gelu_job;

ETA_SIMD_CLONES
static void gelu_fwd_loop(float *restrict y, const float *restrict x, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float v = x[i], u = GELU_K * (v + 0.044715f * v * v * v);
        y[i] = v / (1.0f + nn_exp_vec(-2.0f * u));
    }
}

/* dL/dx of one element: dy (s + 2 v s (1 - s) du), s = sigmoid(2u). */
static inline float gelu_grad(float v, float dy)
{
    float u = GELU_K * (v + 0.044715f * v * v * v);
    float s = 1.0f / (1.0f + nn_exp_vec(-2.0f * u)), du = GELU_K * (1.0f + 3 * 0.044715f * v * v);
    return dy * (s + 2.0f * v * s * (1.0f - s) * du);
}

ETA_SIMD_CLONES
static void gelu_bwd_loop(float *restrict dx, const float *restrict x, const float *restrict dy, size_t n, bool set)
{
    if (set) { /* two loops: a select on dx[i] keeps gcc from vectorising */
#pragma omp simd
        for (size_t i = 0; i < n; i++)
            dx[i] = gelu_grad(x[i], dy[i]);
        return;
    }
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        dx[i] += gelu_grad(x[i], dy[i]);
}

static void gelu_fwd_chunk(void *ctx, size_t lo, size_t hi)
{
    gelu_job *j = ctx;
    gelu_fwd_loop(j->y + lo, j->x + lo, hi - lo);
}

static void gelu_bwd_chunk(void *ctx, size_t lo, size_t hi)
{
    gelu_job *j = ctx;
    gelu_bwd_loop(j->y + lo, j->x + lo, j->dy + lo, hi - lo, j->set);
}

static int gelu_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    (void)err;
    op->out.ndim = in[0]->ndim;
    memcpy(op->out.shape, in[0]->shape, sizeof op->out.shape);
    return ETA_OK;
}

static void gelu_forward(nn_op *op, const nn_ctx *ctx)
{
    gelu_job j = {op->input[0]->x, NULL, op->out.x, false};
    eta_parallel_for(op->out.n, ctx->threads, gelu_fwd_chunk, &j);
}

static void gelu_backward(nn_op *op, const nn_ctx *ctx)
{
    if (!op->input[0]->g)
        return;
    gelu_job j = {op->input[0]->x, op->out.g, op->input[0]->g, op->gset};
    eta_parallel_for(op->out.n, ctx->threads, gelu_bwd_chunk, &j);
}

/* GELU(approximate='tanh'), for the block's MLP and act.c's GELU module. */
const nn_kind nn_kind_gelu_tanh = {"GELU", gelu_shape, NULL, gelu_forward, gelu_backward, false, false, true};

/* ---- MultiheadSelfAttention(embed_dim, num_heads, causal=False, bias=True,
 * dropout=0.0) -> "<prefix>.qkv" Linear(D, 3D), the attention core,
 * "<prefix>.proj" Linear(D, D), then Dropout(dropout) when dropout > 0
 * (nanoGPT's resid_dropout; the core applies attn_dropout). ---- */
static int lower_attention(nn_builder *b, const eta_spec *call, int64_t D, int64_t H, bool causal, bool bias,
                           double p, int in, const char *prefix, int *out, eta_err *err)
{
    char name[NN_NAME], text[128];
    int qkv, proj, rc;
    join(name, prefix, "qkv");
    snprintf(text, sizeof text, "Linear(%lld, %lld, bias=%s)", (long long)D, (long long)(3 * D),
             bias ? "True" : "False");
    if ((rc = lower_text(b, call, text, in, name, &qkv, err)))
        return rc;
    double a[4] = {(double)D, (double)H, causal ? 1.0 : 0.0, p};
    int core = nn_append(b, &nn_kind_attention, prefix, &qkv, 1, a, 4, err);
    if (core < 0)
        return core;
    join(name, prefix, "proj");
    snprintf(text, sizeof text, "Linear(%lld, %lld, bias=%s)", (long long)D, (long long)D, bias ? "True" : "False");
    if ((rc = lower_text(b, call, text, core, name, &proj, err)))
        return rc;
    if (p > 0) {
        join(name, prefix, "resid_dropout");
        snprintf(text, sizeof text, "Dropout(p=%.17g)", p);
        if ((rc = lower_text(b, call, text, proj, name, &proj, err)))
            return rc;
    }
    *out = proj;
    return ETA_OK;
}

static int check_heads(const double *a, const eta_spec *const *vals, eta_err *err)
{
    int64_t D = (int64_t)a[0], H = (int64_t)a[1];
    if (D % H)
        return eta_spec_fail(err, ETA_EINVAL, vals[1], "embed_dim must be divisible by num_heads, got %lld and %lld",
                             (long long)D, (long long)H);
    return ETA_OK;
}

enum { MSA_D, MSA_H, MSA_CAUSAL, MSA_BIAS, MSA_P };

static int lower_msa(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                     const char *prefix, int *out, eta_err *err)
{
    int rc = check_heads(a, vals, err);
    if (rc)
        return rc;
    return lower_attention(b, call, (int64_t)a[MSA_D], (int64_t)a[MSA_H], a[MSA_CAUSAL] != 0, a[MSA_BIAS] != 0,
                           a[MSA_P], in, prefix, out, err);
}

static const nn_arg msa_args[] = {
    {"embed_dim", NA_INT, true, NAN, 1, 1e9, NULL},
    {"num_heads", NA_INT, true, NAN, 1, 1e9, NULL},
    {"causal", NA_BOOL, false, 0, 0, 1, NULL},
    {"bias", NA_BOOL, false, 1, 0, 1, NULL},
    {"dropout", NA_REAL, false, 0, 0, 0.999999, NULL},
};
static const nn_module msa_module = {
    "MultiheadSelfAttention", msa_args, 5, NULL, lower_msa,
    "MultiheadSelfAttention(embed_dim, num_heads, causal=False, bias=True, dropout=0.0): nanoGPT's attention"};

/* ---- TransformerBlock(d_model, n_head, causal=False, mlp_ratio=4,
 * dropout=0.0): x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)), mlp = c_fc,
 * GELU(tanh), c_proj (then Dropout when dropout > 0). Parameters, in order:
 * ln_1.{weight,bias}, attn.qkv.*, attn.proj.*, ln_2.*, mlp.c_fc.*,
 * mlp.c_proj.*: 12 d^2 + 13 d with mlp_ratio 4. ---- */
enum { TB_D, TB_H, TB_CAUSAL, TB_RATIO, TB_P };

static int lower_block(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                       const char *prefix, int *out, eta_err *err)
{
    int rc = check_heads(a, vals, err);
    if (rc)
        return rc;
    int64_t D = (int64_t)a[TB_D], hidden = (int64_t)(a[TB_RATIO] * (double)D); /* Python's int() */
    if (hidden < 1)
        return eta_spec_fail(err, ETA_EINVAL, vals[TB_RATIO], "mlp_ratio * d_model must be >= 1, got %g",
                             a[TB_RATIO] * (double)D);
    double p = a[TB_P], ln[4] = {(double)D, 1e-5, 1, 1};
    char name[NN_NAME], text[128];
    join(name, prefix, "ln_1");
    int h = nn_append(b, &nn_kind_layernorm, name, &in, 1, ln, 4, err);
    if (h < 0)
        return h;
    join(name, prefix, "attn");
    if ((rc = lower_attention(b, call, D, (int64_t)a[TB_H], a[TB_CAUSAL] != 0, true, p, h, name, &h, err)))
        return rc;
    int r1 = nn_append(b, &add_kind, prefix, (int[]){in, h}, 2, NULL, 0, err);
    if (r1 < 0)
        return r1;
    join(name, prefix, "ln_2");
    if ((h = nn_append(b, &nn_kind_layernorm, name, &r1, 1, ln, 4, err)) < 0)
        return h;
    join(name, prefix, "mlp.c_fc");
    snprintf(text, sizeof text, "Linear(%lld, %lld)", (long long)D, (long long)hidden);
    if ((rc = lower_text(b, call, text, h, name, &h, err)))
        return rc;
    join(name, prefix, "mlp.gelu");
    if ((h = nn_append(b, &nn_kind_gelu_tanh, name, &h, 1, NULL, 0, err)) < 0)
        return h;
    join(name, prefix, "mlp.c_proj");
    snprintf(text, sizeof text, "Linear(%lld, %lld)", (long long)hidden, (long long)D);
    if ((rc = lower_text(b, call, text, h, name, &h, err)))
        return rc;
    if (p > 0) {
        join(name, prefix, "mlp.dropout");
        snprintf(text, sizeof text, "Dropout(p=%.17g)", p);
        if ((rc = lower_text(b, call, text, h, name, &h, err)))
            return rc;
    }
    int r2 = nn_append(b, &add_kind, prefix, (int[]){r1, h}, 2, NULL, 0, err);
    if (r2 < 0)
        return r2;
    *out = r2;
    return ETA_OK;
}

static const nn_arg block_args[] = {
    {"d_model", NA_INT, true, NAN, 1, 1e9, NULL},
    {"n_head", NA_INT, true, NAN, 1, 1e9, NULL},
    {"causal", NA_BOOL, false, 0, 0, 1, NULL},
    {"mlp_ratio", NA_REAL, false, 4, 1e-9, 1e6, NULL},
    {"dropout", NA_REAL, false, 0, 0, 0.999999, NULL},
};
static const nn_module block_module = {
    "TransformerBlock", block_args, 5, NULL, lower_block,
    "TransformerBlock(d_model, n_head, causal=False, mlp_ratio=4, dropout=0.0): nanoGPT's pre-LN block"};

const nn_module *const nn_modules_seq[] = {&embedding_module, &posemb_module, &nn_module_layernorm, &msa_module,
                                           &block_module, NULL};
