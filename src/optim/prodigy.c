/* optim/prodigy.c - Prodigy (Mishchenko & Defazio 2023), Adam with a
 * learning rate estimated on the fly, as konstmish/prodigy's
 * prodigyopt/prodigy.py computes it, names and defaults included.
 *
 * One step (k = steps taken; group 0 supplies betas, beta3, d_coef,
 * growth_rate, decouple and use_bias_correction, as in the reference; lr is
 * the largest group lr, and every group's lr must be it or 0):
 *   dlr = d*lr*bc,  bc = sqrt(1-b2^(k+1))/(1-b1^(k+1)) or 1
 *   per parameter of a group with lr > 0 (g <- g + wd*p first unless decouple):
 *     num += (d/d0)*dlr*<g[::slice_p], p0 - p[::slice_p]>
 *     m <- b1*m + d(1-b1)*g;  v <- b2*v + d^2(1-b2)*g^2
 *     s <- b3*s + (d/d0)*dlr*g[::slice_p]   ((d/d0)*d with safeguard_warmup)
 *     denom += |s|_1
 *   no progress (denom == 0): the step ends there, as the reference returns
 *   numerator <- b3*numerator + num;  d_hat = d_coef*numerator/denom
 *   d <- max(d, d_hat) while d is still d0;  d_max <- max(d_max, d_hat)
 *   d <- min(d_max, d*growth_rate)
 *   per parameter: p <- p - wd*dlr*p (decouple);  p <- p - dlr*m/(sqrt(v) + d*eps)
 *     (b1 = 0: p <- p - dlr*d*g/(sqrt(v) + d*eps))
 * dlr is the old d's; the denominator and the b1 = 0 step use the new d. The
 * "still d0" test compares with the last group's d0, as the reference's loop
 * variable does. Whether exp_avg exists follows each group's beta1 (the
 * reference: group 0's); give every group group 0's betas. Sums are in double (the reference's are torch.dot and
 * sum().item() in the dtype): float32 agrees to rounding.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct prodigy_k {
    void *p, *g, *s, *p0, *m, *v;
    size_t slice;
    double wd, b1, b2, b3, m_coef, v_coef, s_coef, eps_d, decay, step_coef;
    bool l2, first, beta1;
} prodigy_k;

#define ETA_SELF "prodigy.c"
#include "optim/instantiate.h"

/* Optimizer scalars (the reference keeps them in every group, equal). */
enum { D, D_MAX, D_NUMERATOR, D_DENOM, D_HAT, DLR };

static void prodigy_init(const eta_optim_hparams *hp, double *s)
{
    s[D] = s[D_MAX] = hp->d0;
}

/* Elements of the sliced arrays s and p0. */
static size_t sliced(const eta_optim_hparams *hp, size_t n)
{
    size_t k = (size_t)hp->slice_p;
    return (n + k - 1) / k;
}

static size_t prodigy_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    switch (i) {
    case 0: /* s */
    case 1: /* p0 */
        return sliced(hp, p->n);
    case 2: /* exp_avg */
        return hp->beta1 > 0 ? p->n : 0;
    default: /* exp_avg_sq */
        return p->n;
    }
}

static int prodigy_prepare(optim_wide *w)
{
    const eta_optim_hparams *h0 = &w->groups[0].hp;
    double *S = w->scalars, lr;
    int rc = eta_optim_wide_one_lr(w, "Prodigy", &lr);
    if (rc)
        return rc;
    double b1 = h0->beta1, b2 = h0->beta2, b3 = isnan(h0->beta3) ? sqrt(b2) : h0->beta3;
    double k = (double)(w->step - 1), d = S[D];
    double bc = h0->use_bias_correction ? pow(1 - pow(b2, k + 1), 0.5) / (1 - pow(b1, k + 1)) : 1;
    double dlr = d * lr * bc;
    double d_numerator = S[D_NUMERATOR] * b3, delta = 0, d_denom = 0;
    for (int i = 0; i < w->nparams; i++) {
        optim_param *p = &w->params[i];
        const eta_optim_hparams *hp = &w->groups[p->group].hp;
        bool trained = hp->lr > 0;
        prodigy_k kk = {
            .p = p->data, .g = p->grad, .s = p->state[0], .p0 = p->state[1], .m = p->state[2], .v = p->state[3],
            .slice = (size_t)hp->slice_p, .wd = hp->weight_decay, .b1 = b1, .b2 = b2, .b3 = b3,
            .m_coef = d * (1 - b1), .v_coef = d * d * (1 - b2),
            .s_coef = hp->safeguard_warmup ? d / hp->d0 * d : d / hp->d0 * dlr,
            .l2 = hp->weight_decay != 0 && !h0->decouple, .first = p->step == 0,
            .beta1 = b1 > 0 && p->state[2],
        };
        bool f32 = w->dtype == ETA_F32;
        size_t ns = p->state_n[0];
        if (kk.first)
            eta_parallel_for(ns, w->threads, f32 ? prodigy_p0_float : prodigy_p0_double, &kk);
        if (!trained)
            continue;
        delta += d / hp->d0 * dlr * eta_reduce(ns, w->threads, f32 ? prodigy_dot_float : prodigy_dot_double, &kk,
                                               w->scratch);
        eta_parallel_for(p->n, w->threads, f32 ? prodigy_ema_float : prodigy_ema_double, &kk);
        d_denom += eta_reduce(ns, w->threads, f32 ? prodigy_s_float : prodigy_s_double, &kk, w->scratch);
    }
    if (d_denom == 0)
        return OPTIM_SKIP;
    double d_hat = d, d_max = S[D_MAX];
    if (lr > 0) {
        d_numerator += delta;
        d_hat = h0->d_coef * d_numerator / d_denom;
        if (d == w->groups[w->ngroups - 1].hp.d0)
            d = eta_py_max(d, d_hat);
        d_max = eta_py_max(d_max, d_hat);
        d = eta_py_min(d_max, d * h0->growth_rate);
    }
    S[D_NUMERATOR] = d_numerator;
    S[D_DENOM] = d_denom;
    S[D] = d;
    S[D_MAX] = d_max;
    S[D_HAT] = d_hat;
    S[DLR] = dlr;
    return ETA_OK;
}

static void prodigy_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    bool decouple = c->hp0->decouple, beta1 = c->hp0->beta1 > 0 && p->state[2];
    double d = c->scalars[D], dlr = c->scalars[DLR];
    prodigy_k k = {
        .p = p->data, .g = p->grad, .m = p->state[2], .v = p->state[3], .wd = hp->weight_decay,
        .eps_d = d * hp->eps, .decay = hp->weight_decay != 0 && decouple ? -hp->weight_decay * dlr : 0,
        .step_coef = beta1 ? -dlr : -dlr * d, .beta1 = beta1, .l2 = hp->weight_decay != 0 && !decouple,
    };
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? prodigy_step_float : prodigy_step_double, &k);
}

static int prodigy_check(const eta_optim_hparams *hp, eta_err *err)
{
    if (hp->slice_p != floor(hp->slice_p))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "slice_p must be an integer, got %g", hp->slice_p);
    return ETA_OK;
}

static const optim_arg prodigy_args[] = {
    ARG_LR(false),
    ARG_BETAS,
    {"beta3", ARG_REAL_OR_NONE, offsetof(eta_optim_hparams, beta3), 0, false, false, 0, 1, false, true, 0},
    {"eps", ARG_REAL, offsetof(eta_optim_hparams, eps), 0, false, false, 0, INFINITY, true, true, 0},
    ARG_NONNEG("weight_decay", weight_decay),
    ARG_FLAG("decouple", decouple),
    ARG_FLAG("use_bias_correction", use_bias_correction),
    ARG_FLAG("safeguard_warmup", safeguard_warmup),
    {"d0", ARG_REAL, offsetof(eta_optim_hparams, d0), 0, false, false, 0, INFINITY, true, true, 0},
    ARG_NONNEG("d_coef", d_coef),
    {"growth_rate", ARG_REAL_OR_INF, offsetof(eta_optim_hparams, growth_rate), 0, false, false, 0, INFINITY, true,
     false, 0},
    ARG_SWITCH("fsdp_in_use", false),
    {"slice_p", ARG_REAL, offsetof(eta_optim_hparams, slice_p), 0, false, false, 1, 1e9, false, false, 0},
};

const optim_rule eta_rule_prodigy = {
    .kind = ETA_OPTIM_PRODIGY,
    .name = "Prodigy",
    .args = prodigy_args,
    .nargs = sizeof prodigy_args / sizeof prodigy_args[0],
    .defaults = {.lr = 1.0, .beta1 = 0.9, .beta2 = 0.999, .beta3 = NAN, .eps = 1e-8, .decouple = true,
                 .d0 = 1e-6, .d_coef = 1.0, .growth_rate = INFINITY, .slice_p = 1},
    .check = prodigy_check,
    .state_names = {"s", "p0", "exp_avg", "exp_avg_sq", NULL},
    .state_len = prodigy_state_len,
    .update = prodigy_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
    .scalar_names = {"d", "d_max", "d_numerator", "d_denom", "d_hat", "dlr", NULL},
    .init_scalars = prodigy_init,
    .prepare = prodigy_prepare,
};

#else /* ETA_TYPED_PASS */

/* p0 <- p[::slice], at the parameter's first step. */
static void TF(prodigy_p0)(void *vk, size_t lo, size_t hi)
{
    const prodigy_k *k = vk;
    const T *p = k->p;
    T *p0 = k->p0;
    for (size_t j = lo; j < hi; j++)
        p0[j] = p[j * k->slice];
}

/* The gradient the reference sees: with coupled decay, g + wd*p. */
static inline T TF(prodigy_grad)(const prodigy_k *k, size_t i)
{
    const T *g = k->g, *p = k->p;
    return k->l2 ? g[i] + (T)k->wd * p[i] : g[i];
}

/* <g[::slice], p0 - p[::slice]> over one block of the sliced arrays. */
static double TF(prodigy_dot)(void *vk, size_t lo, size_t hi)
{
    const prodigy_k *k = vk;
    const T *p = k->p, *p0 = k->p0;
    double s = 0;
    for (size_t j = lo; j < hi; j++) {
        T diff = p0[j] - p[j * k->slice];
        s += (double)TF(prodigy_grad)(k, j * k->slice) * (double)diff;
    }
    return s;
}

static void TF(prodigy_ema)(void *vk, size_t lo, size_t hi)
{
    const prodigy_k *k = vk;
    T *m = k->m, *v = k->v;
    const T b1 = (T)k->b1, b2 = (T)k->b2, mc = (T)k->m_coef, vc = (T)k->v_coef;
    for (size_t i = lo; i < hi; i++) {
        T g = TF(prodigy_grad)(k, i);
        if (k->beta1)
            m[i] = m[i] * b1 + mc * g;
        v[i] = v[i] * b2 + vc * g * g;
    }
}

/* s <- b3*s + c*g[::slice]; returns the block's sum of |s|. */
static double TF(prodigy_s)(void *vk, size_t lo, size_t hi)
{
    const prodigy_k *k = vk;
    T *s = k->s;
    const T b3 = (T)k->b3, c = (T)k->s_coef;
    double a = 0;
    for (size_t j = lo; j < hi; j++) {
        s[j] = s[j] * b3 + c * TF(prodigy_grad)(k, j * k->slice);
        a += fabs((double)s[j]);
    }
    return a;
}

static void TF(prodigy_step)(void *vk, size_t lo, size_t hi)
{
    const prodigy_k *k = vk;
    T *p = k->p;
    const T *m = k->m, *v = k->v;
    const T eps_d = (T)k->eps_d, decay = (T)k->decay, step = (T)k->step_coef;
    for (size_t i = lo; i < hi; i++) {
        T denom = sqrt(v[i]) + eps_d;
        T g = k->beta1 ? 0 : TF(prodigy_grad)(k, i); /* before p changes, as the reference's grad */
        if (k->decay != 0)
            p[i] = p[i] + decay * p[i];
        p[i] = p[i] + step * (k->beta1 ? m[i] : g) / denom;
    }
}

#endif
