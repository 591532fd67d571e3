/* optim/muon.c - Muon: momentum orthogonalised by Newton-Schulz iterations,
 * for 2-D parameters (matrices) only.
 *
 * torch.optim.Muon (PyTorch 2.9+, torch/optim/_muon.py, _single_tensor_muon),
 * for a parameter W of rows x cols and its gradient g:
 *   buf <- lerp(buf, g, 1 - momentum)              (buf starts at zero)
 *   u   <- lerp(g, buf, momentum) if nesterov else buf
 *   X   <- u, transposed when rows > cols (so X is m x n, m <= n), / max(|u|_F, eps)
 *   ns_steps times:  G <- X X^T;  U <- b G + c G G;  X <- a X + U X
 *   W   <- W * (1 - lr*weight_decay)
 *   W   <- W - adjusted_lr * X (transposed back)
 *   adjusted_lr = lr*sqrt(max(1, rows/cols))   adjust_lr_fn None or 'original'
 *               = lr*0.2*sqrt(max(rows, cols)) 'match_rms_adamw'
 * The products run on the optimizer's GEMM (eta_optim_set_gemm: the BLAS of
 * eta's nn layer, or core/gemm.c); the matrices X, X', G and U live in the
 * optimizer's work buffer, sized when the parameter is added.
 *
 * differs from torch: torch casts u to bfloat16 and runs the iterations in
 * bfloat16 (about 3 significant digits); eta runs them in the parameter's
 * dtype, float32 or float64, so its update is the exact-arithmetic one to
 * the dtype's precision (tools/gen_ref_muon.py ports torch's code line by
 * line in the case's dtype for the fixtures).
 * differs from torch: ns_steps must be an integer in [0, 100) when the
 * optimizer is built (torch raises for >= 100 at the first step and runs no
 * iteration for a negative count).
 *
 * Bits: the element-wise parts and the norm (double, fixed blocks) give the
 * same bits at any thread count; the products do with core/gemm.c and with
 * the nn layer's OpenBLAS (parts fixed by shape, nn/blas.c), not with a BLAS
 * that keeps a thread pool of its own (ETA_BLAS=...).
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/gemm.h"
#include "optim/rule.h"

typedef struct muon_k {
    void *p, *g, *buf, *u;
    const void *o;            /* the orthogonalised update, m x n */
    double w_buf, w_nest;     /* lerp weights: 1 - momentum, momentum */
    double keep, neg_lr;      /* 1 - lr*wd, -adjusted_lr */
    int64_t rows, cols;
    bool nesterov, transposed;
} muon_k;

/* C = alpha op(A) op(B) + beta C on the optimizer's GEMM. */
static void mm_float(const optim_ctx *c, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *B, int ldb, float beta, float *C, int ldc)
{
    if (c->gemm && c->gemm->sgemm)
        c->gemm->sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        eta_gemm_builtin_float(c->threads, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

static void mm_double(const optim_ctx *c, bool ta, bool tb, int M, int N, int K, double alpha, const double *A,
                      int lda, const double *B, int ldb, double beta, double *C, int ldc)
{
    if (c->gemm && c->gemm->dgemm)
        c->gemm->dgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        eta_gemm_builtin_double(c->threads, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

#define ETA_SELF "muon.c"
#include "optim/instantiate.h"

/* torch's _adjust_lr: A, B = param.shape[:2]. */
static double adjusted_lr(const eta_optim_hparams *hp, int64_t rows, int64_t cols)
{
    double ratio;
    if (hp->adjust_lr_fn == ETA_MUON_ADJUST_MATCH_RMS_ADAMW)
        ratio = 0.2 * sqrt((double)(rows > cols ? rows : cols));
    else
        ratio = sqrt(fmax(1.0, (double)rows / (double)cols));
    return hp->lr * ratio;
}

static void muon_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    int64_t rows = p->shape[0], cols = p->shape[1];
    muon_k k = {
        .p = p->data, .g = p->grad, .buf = p->state[0],
        .w_buf = 1 - hp->momentum, .w_nest = hp->momentum,
        .keep = 1 - hp->lr * hp->weight_decay, .neg_lr = -adjusted_lr(hp, rows, cols),
        .rows = rows, .cols = cols, .nesterov = hp->nesterov, .transposed = rows > cols,
    };
    if (c->dtype == ETA_F32)
        muon_run_float(c, p, &k);
    else
        muon_run_double(c, p, &k);
}

static size_t muon_work_len(const optim_param *p)
{
    size_t m = (size_t)(p->shape[0] < p->shape[1] ? p->shape[0] : p->shape[1]);
    if (p->shape[0] > INT32_MAX || p->shape[1] > INT32_MAX)
        return SIZE_MAX; /* beyond a GEMM's int sizes */
    return 2 * p->n + 2 * m * m; /* X, X', G, U; m*m <= n */
}

static const optim_arg muon_args[] = {
    ARG_LR(false),
    ARG_NONNEG("weight_decay", weight_decay),
    ARG_NONNEG("momentum", momentum),
    ARG_FLAG("nesterov", nesterov),
    {"ns_coefficients", ARG_TRIPLE, offsetof(eta_optim_hparams, ns_coefficients), 0, false, false, -INFINITY,
     INFINITY, false, false, 0},
    ARG_NONNEG("eps", eps),
    {"ns_steps", ARG_INT, offsetof(eta_optim_hparams, ns_steps), 0, false, false, 0, 100, false, true, 0},
    {"adjust_lr_fn", ARG_ADJUST, offsetof(eta_optim_hparams, adjust_lr_fn), 0, false, false, 0, 0, false, false, 0},
    ARG_SWITCH("use_addmm", false),
};

/* Keller Jordan's constants, as torch/optim/_muon.py has them. */
const optim_rule eta_rule_muon = {
    .kind = ETA_OPTIM_MUON,
    .name = "Muon",
    .args = muon_args,
    .nargs = sizeof muon_args / sizeof muon_args[0],
    .defaults = {.lr = 1e-3, .weight_decay = 0.1, .momentum = 0.95, .nesterov = true,
                 .ns_coefficients = {3.4445, -4.7750, 2.0315}, .eps = 1e-7, .ns_steps = 5},
    .state_names = {"momentum_buffer", NULL},
    .state_len = eta_optim_state_full,
    .update = muon_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
    .param_ndim = 2,
    .work_len = muon_work_len,
};

#else /* ETA_TYPED_PASS */

/* buf <- lerp(buf, g, 1 - mu); u <- lerp(g, buf, mu) or buf, in W's layout. */
static void TF(muon_momentum)(void *vk, size_t lo, size_t hi)
{
    const muon_k *k = vk;
    T *restrict b = k->buf, *restrict u = k->u;
    const T *restrict g = k->g;
    const T wb = (T)k->w_buf, wn = (T)k->w_nest;
    for (size_t i = lo; i < hi; i++) {
        b[i] = LERP(b[i], g[i], wb);
        u[i] = k->nesterov ? LERP(g[i], b[i], wn) : b[i];
    }
}

/* W <- W*keep; W <- W + neg_lr*O, O read transposed back when it was. */
static void TF(muon_apply)(void *vk, size_t lo, size_t hi)
{
    const muon_k *k = vk;
    T *restrict p = k->p;
    const T *restrict o = k->o;
    const T keep = (T)k->keep, neg_lr = (T)k->neg_lr;
    const size_t rows = (size_t)k->rows, cols = (size_t)k->cols;
    for (size_t i = lo; i < hi; i++) {
        T oi = k->transposed ? o[(i % cols) * rows + i / cols] : o[i];
        p[i] = p[i] * keep;
        p[i] = p[i] + neg_lr * oi;
    }
}

#define MM _Generic((T)0, float: mm_float, double: mm_double)
#define SUMSQ _Generic((T)0, float: eta_sumsq_f32, double: eta_sumsq_f64)

static void TF(muon_run)(const optim_ctx *c, optim_param *p, muon_k *k)
{
    const eta_optim_hparams *hp = c->hp;
    const int m = (int)(k->transposed ? k->cols : k->rows), n = (int)(k->transposed ? k->rows : k->cols);
    T *x = c->work, *y = x + p->n, *gram = y + p->n, *upd = gram + (size_t)m * m;
    /* u into y, in W's layout. */
    k->u = y;
    eta_parallel_for(p->n, c->threads, TF(muon_momentum), k);
    /* X = u (transposed when rows > cols) / max(|u|_F, eps). */
    T norm = (T)sqrt(SUMSQ(y, p->n, c->scratch, c->threads)), eps = (T)hp->eps;
    if (norm < eps)
        norm = eps;
    if (k->transposed) {
        for (int j = 0; j < n; j++) /* y is n x m (rows x cols), x = y^T is m x n */
            for (int i = 0; i < m; i++)
                x[(size_t)i * n + j] = y[(size_t)j * m + i] / norm;
    } else {
        for (size_t i = 0; i < p->n; i++)
            x[i] = y[i] / norm;
    }
    const T a = (T)hp->ns_coefficients[0], b = (T)hp->ns_coefficients[1], cc = (T)hp->ns_coefficients[2];
    const int steps = (int)hp->ns_steps;
    for (int s = 0; s < steps; s++) {
        /* G = X X^T; U = b G + c G G; X' = a X + U X (torch's addmm form). */
        MM(c, false, true, m, m, n, (T)1, x, n, x, n, (T)0, gram, m);
        memcpy(upd, gram, (size_t)m * m * sizeof(T));
        MM(c, false, false, m, m, m, cc, gram, m, gram, m, b, upd, m);
        memcpy(y, x, p->n * sizeof(T));
        MM(c, false, false, m, n, m, (T)1, upd, m, x, n, a, y, n);
        T *t = x;
        x = y;
        y = t;
    }
    k->o = x;
    eta_parallel_for(p->n, c->threads, TF(muon_apply), k);
}

#undef MM
#undef SUMSQ

#endif
