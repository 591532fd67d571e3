/* nn/attention.c - the core of multi-head self-attention, between the qkv
 * and proj Linear ops that MultiheadSelfAttention lowers to (seq.c):
 * nanoGPT's CausalSelfAttention
 * (https://github.com/karpathy/nanoGPT/blob/master/model.py) with the mask
 * optional, which matches torch.nn.MultiheadAttention with
 * attn_mask = triu(ones(T, T), 1) (causal) and key_padding_mask.
 *
 *   qkv [B, T, 3D] = q | k | v;  head h uses columns [h*hs, (h+1)*hs), hs = D/H
 *   S = q_h k_h^T / sqrt(hs)           [T, T] per (b, h)
 *   P = softmax over keys of S, with key j > i masked when causal and keys
 *       holding the padding token masked (key padding, see seq.c)
 *   P' = dropout(P) (train mode, p > 0: on the attention weights, as nanoGPT)
 *   out[b, :, h*hs:(h+1)*hs] = P' v_h  -> out [B, T, D] (heads concatenated)
 *
 * Per (b, h) the products are GEMMs (blas.h) on strided views of qkv, so
 * nothing is transposed or copied; causal attention runs by blocks of query
 * rows so that the GEMMs skip most of the masked triangle. The (b, h) pairs
 * run in parallel with OpenMP, each writing its own slices, so results do
 * not depend on the thread count. P (and P' when dropout is on) are kept
 * for backward; the softmax's exp is a vectorisable one of this file.
 * Not here: the projections (Linear, linear.c), the residual (seq.c).
 */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/blas.h"
#include "nn/graph.h"
#include "nn/vmath.h"

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

/* op->a of the attention kind */
enum { AT_D, AT_H, AT_CAUSAL, AT_P };

/* From seq.c: the network's token ids [B, T] and the padding index when the
 * first op is an Embedding with padding_idx and its input is [B, T]; NULL
 * otherwise. */

static int64_t threads_for_scratch(void)
{
#ifdef ETA_HAVE_OPENMP
    int n = omp_get_max_threads();
    return n < 1 ? 1 : n > 256 ? 256 : n;
#else
    return 1;
#endif
}

static int attn_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t D = (int64_t)op->a[AT_D];
    char s[96];
    if (x->ndim != 3 || x->shape[2] != 3 * D)
        return nn_shape_error(err, op, "expected [batch, seq, %lld] (q, k, v of embed_dim %lld), got %s",
                              (long long)(3 * D), (long long)D, nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int64_t B = x->shape[0], T = x->shape[1], H = (int64_t)op->a[AT_H];
    op->out.ndim = 3;
    op->out.shape[0] = B;
    op->out.shape[1] = T;
    op->out.shape[2] = D;
    /* P [B, H, T, T], P' likewise when dropout may apply, then one [T, T]
     * work matrix per thread for backward. */
    size_t tt = (size_t)(T * T), bh = (size_t)(B * H);
    op->nscratch = bh * tt * (op->a[AT_P] > 0 ? 2 : 1) + (size_t)threads_for_scratch() * tt;
    op->niscratch = 1; /* whether the last forward pass applied dropout */
    return ETA_OK;
}

/* One row of masked softmax in place: x[0..lim) scores -> probabilities,
 * x[lim..T) = 0; keys with kp[j] == pad masked (kp may be NULL). A row with
 * every key masked becomes zeros (differs from torch: NaN there). */
ETA_SIMD_CLONES
static void softmax_row(float *x, int64_t lim, int64_t T, const int32_t *kp, int32_t pad)
{
    if (kp) {
#pragma omp simd
        for (int64_t j = 0; j < lim; j++) {
            nn_bits32 b = {.f = x[j]};
            b.i = kp[j] == pad ? (int32_t)0xff800000u : b.i; /* -inf */
            x[j] = b.f;
        }
    }
    float mx = -INFINITY, sum = 0;
#pragma omp simd reduction(max : mx)
    for (int64_t j = 0; j < lim; j++)
        mx = mx > x[j] ? mx : x[j];
    if (mx == -INFINITY) {
        memset(x, 0, (size_t)T * sizeof *x);
        return;
    }
    float acc[ETA_LANES] = {0};
    for (int64_t j0 = 0; j0 < lim; j0 += ETA_LANES) {
        int64_t m = lim - j0 < ETA_LANES ? lim - j0 : ETA_LANES;
#pragma omp simd
        for (int64_t l = 0; l < m; l++) {
            float e = nn_exp_vec(x[j0 + l] - mx);
            x[j0 + l] = e;
            acc[l] += e;
        }
    }
    sum = eta_lanes_sum_f32(acc);
    float inv = 1.0f / sum;
#pragma omp simd
    for (int64_t j = 0; j < lim; j++)
        x[j] *= inv;
    for (int64_t j = lim; j < T; j++)
        x[j] = 0.0f;
}

/* dS = P' W - P rowsum(P' W) in place of W, for row i of a block, over the
 * keys [0, nk) it may see (P and P' are zero beyond). */
ETA_SIMD_CLONES
static void dsoftmax_row(float *restrict w, const float *restrict pr, const float *restrict pd, int64_t nk)
{
    float acc[ETA_LANES] = {0};
    for (int64_t j0 = 0; j0 < nk; j0 += ETA_LANES) {
        int64_t m = nk - j0 < ETA_LANES ? nk - j0 : ETA_LANES;
#pragma omp simd
        for (int64_t l = 0; l < m; l++)
            acc[l] += pd[j0 + l] * w[j0 + l];
    }
    float dot = eta_lanes_sum_f32(acc);
#pragma omp simd
    for (int64_t j = 0; j < nk; j++)
        w[j] = pd[j] * w[j] - pr[j] * dot;
}

/* Causal attention runs by blocks of query rows: the block [i0, i1) sees
 * keys [0, i1) only, so the GEMMs skip most of the masked triangle (4
 * blocks do 62% of the full products). Non-causal: one block. */
static int64_t row_block(int64_t T, bool causal)
{
    if (!causal)
        return T;
    int64_t nb = (T + 15) / 16;
    nb = nb > 8 ? 8 : nb;
    return (T + nb - 1) / nb;
}

static void attn_forward(nn_op *op, const nn_ctx *ctx)
{
    const nn_tensor *x = op->input[0];
    const int64_t B = x->shape[0], T = x->shape[1], D = (int64_t)op->a[AT_D], H = (int64_t)op->a[AT_H];
    const int64_t hs = D / H, C3 = 3 * D;
    const bool causal = op->a[AT_CAUSAL] != 0;
    const float scale = (float)(1.0 / sqrt((double)hs)), p = (float)op->a[AT_P];
    const bool drop = ctx->train && p > 0;
    const float keep = drop ? 1.0f / (1.0f - p) : 1.0f;
    const size_t tt = (size_t)(T * T);
    const int64_t R = row_block(T, causal);
    float *P = op->scratch, *Pd = drop ? op->scratch + (size_t)(B * H) * tt : NULL;
    int32_t pad = 0;
    const int32_t *ids = nn_seq_key_padding(op->net, B, T, &pad);
    uint64_t seed = op->rng;
    if (drop)
        (void)nn_rand_uniform(&op->rng); /* a new mask next time */
    op->iscratch[0] = drop;
#pragma omp parallel for schedule(static) if (B * H > 1 && B * H * T * T * hs >= 65536)
    for (int64_t bh = 0; bh < B * H; bh++) {
        int64_t b = bh / H, h = bh % H;
        const float *q = x->x + b * T * C3 + h * hs, *k = q + D, *v = q + 2 * D;
        float *S = P + (size_t)bh * tt, *Sd = drop ? Pd + (size_t)bh * tt : NULL, *o = op->out.x + b * T * D + h * hs;
        const int32_t *kp = ids ? ids + b * T : NULL;
        uint64_t s = seed ^ ((uint64_t)(bh + 1) * 0x9e3779b97f4a7c15ull); /* the dropout stream of (b, h) */
        for (int64_t i0 = 0; i0 < T; i0 += R) {
            int64_t m = T - i0 < R ? T - i0 : R, nk = causal ? i0 + m : T;
            nn_sgemm(false, true, (int)m, (int)nk, (int)hs, scale, q + i0 * C3, (int)C3, k, (int)C3, 0.0f, S + i0 * T,
                     (int)T);
            for (int64_t i = i0; i < i0 + m; i++)
                softmax_row(S + i * T, causal ? i + 1 : T, T, kp, pad);
            const float *A = S;
            if (drop) { /* P' = P mask / (1 - p), drawn row by row */
                for (size_t e = (size_t)(i0 * T); e < (size_t)((i0 + m) * T); e++)
                    Sd[e] = nn_rand_uniform(&s) < p ? 0.0f : S[e] * keep;
                A = Sd;
            }
            nn_sgemm(false, false, (int)m, (int)hs, (int)nk, 1.0f, A + i0 * T, (int)T, v, (int)C3, 0.0f, o + i0 * D,
                     (int)D);
        }
    }
}

/* With dP = dO v^T (through the dropout: dP = W m / (1-p), W = dO v^T),
 * dS_ij = P_ij (dP_ij - sum_k P_ik dP_ik) = P'_ij W_ij - P_ij sum_k P'_ik W_ik,
 * which needs no mask. Then dq = scale dS k, dk = scale dS^T q, dv = P'^T dO,
 * block by block of query rows as in forward. */
static void attn_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    if (!x->g)
        return;
    const int64_t B = x->shape[0], T = x->shape[1], D = (int64_t)op->a[AT_D], H = (int64_t)op->a[AT_H];
    const int64_t hs = D / H, C3 = 3 * D;
    const bool causal = op->a[AT_CAUSAL] != 0;
    const float scale = (float)(1.0 / sqrt((double)hs));
    const bool drop = op->iscratch[0] != 0; /* as the forward pass did, whatever the mode now */
    const size_t tt = (size_t)(T * T), nP = (size_t)(B * H) * tt * (op->a[AT_P] > 0 ? 2 : 1);
    const int64_t R = row_block(T, causal);
    const float *P = op->scratch, *Pd = drop ? op->scratch + (size_t)(B * H) * tt : op->scratch;
    float *work = op->scratch + nP;
    int nt = (int)((op->nscratch - nP) / tt); /* work matrices: one per thread */
    if (nt > B * H)
        nt = (int)(B * H);
    (void)nt;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1 && B * H * T * T * hs >= 65536)
    for (int64_t bh = 0; bh < B * H; bh++) {
#ifdef ETA_HAVE_OPENMP
        float *W = work + (size_t)omp_get_thread_num() * tt;
#else
        float *W = work;
#endif
        int64_t b = bh / H, h = bh % H;
        const float *q = x->x + b * T * C3 + h * hs, *k = q + D, *v = q + 2 * D;
        float *dq = x->g + b * T * C3 + h * hs, *dk = dq + D, *dv = dq + 2 * D;
        const float *dO = op->out.g + b * T * D + h * hs;
        const float *Pb = P + (size_t)bh * tt, *Pdb = Pd + (size_t)bh * tt;
        for (int64_t i0 = 0; i0 < T; i0 += R) {
            int64_t m = T - i0 < R ? T - i0 : R, nk = causal ? i0 + m : T;
            float *Wb = W + i0 * T;
            nn_sgemm(false, true, (int)m, (int)nk, (int)hs, 1.0f, dO + i0 * D, (int)D, v, (int)C3, 0.0f, Wb, (int)T);
            nn_sgemm(true, false, (int)nk, (int)hs, (int)m, 1.0f, Pdb + i0 * T, (int)T, dO + i0 * D, (int)D, 1.0f, dv,
                     (int)C3);
            for (int64_t i = i0; i < i0 + m; i++)
                dsoftmax_row(W + i * T, Pb + i * T, Pdb + i * T, nk);
            nn_sgemm(false, false, (int)m, (int)hs, (int)nk, scale, Wb, (int)T, k, (int)C3, 1.0f, dq + i0 * C3,
                     (int)C3);
            nn_sgemm(true, false, (int)nk, (int)hs, (int)m, scale, Wb, (int)T, q + i0 * C3, (int)C3, 1.0f, dk,
                     (int)C3);
        }
    }
}

const nn_kind nn_kind_attention = {"MultiheadSelfAttention", attn_shape, NULL, attn_forward, attn_backward, false,
                                   false, false};
