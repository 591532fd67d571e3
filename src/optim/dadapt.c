/* optim/dadapt.c - D-Adaptation (Defazio & Mishchenko, ICML 2023):
 * DAdaptSGD and DAdaptAdam as facebookresearch/dadaptation (version 3)
 * computes them, names and defaults included. Both estimate D, the distance
 * to the solution, from a lower bound that only grows, and scale the step by
 * it; lr multiplies the estimate (leave it at 1.0). Group 0 supplies the
 * optimizer-wide settings, as in the reference; lr is the largest group lr,
 * and every group's lr must be it or 0.
 *
 * DAdaptSGD, step k (g <- g + wd*p with group 0's wd; x0 = p at the first step):
 *   k = 0: g0_norm = |g| over groups with lr > 0 (before the decay)
 *   dlr = d*lr/g0_norm
 *   per parameter with lr > 0: num += dlr*<g, s>;  s <- s + dlr*g;  sk_sq += |s|^2
 *   numerator += num;  d <- max(d, min(2*numerator/sqrt(sk_sq), d*growth_rate))
 *   per parameter: z = x0 - s;  p <- (1-ck)*p + ck*z,  ck = 1 - momentum
 * DAdaptAdam, step k (layer_scale r per group; g <- g + wd*p unless decouple):
 *   dlr = d*lr*bc,  bc = sqrt(1-b2^(k+1))/(1-b1^(k+1)) or 1
 *   per parameter with lr > 0:
 *     num += r*dlr*<g, s/(sqrt(v)+eps)>    (v before this step's update)
 *     m <- b1*m + r*dlr*(1-b1)*g;  v <- b2*v + (1-b2)*g^2
 *     s <- sqrt(b2)*s + dlr*(1-sqrt(b2))*g;  sk_l1 += r*|s|_1
 *   numerator <- sqrt(b2)*numerator + (1-sqrt(b2))*num
 *   d <- max(d, min(numerator/((1-sqrt(b2))*sk_l1), d*growth_rate))
 *   per parameter: p <- p - wd*dlr*p (decouple);  p <- p - m/(sqrt(v) + eps)
 * A step with no progress (sk == 0) changes no estimate and no parameter, as
 * the reference returns early; where the reference would divide by a zero
 * first gradient norm (DAdaptSGD, all gradients zero at the first step) the
 * step is skipped the same way. Sums are in double (the reference's are
 * torch.dot and sum().item() in the dtype): float32 agrees to rounding.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct dadapt_k {
    void *p, *g, *s, *x0, *m, *v;
    double wd, dlr, ck, b1, b2, sb2, eps, m_coef, s_coef, decay;
    bool l2, first;
} dadapt_k;

#define ETA_SELF "dadapt.c"
#include "optim/instantiate.h"

/* Optimizer scalars. */
enum { D, NUMERATOR, G0_NORM, DLR };

static void dadapt_init(const eta_optim_hparams *hp, double *s)
{
    s[D] = hp->d0;
}

static int dadapt_sgd_prepare(optim_wide *w)
{
    const eta_optim_hparams *h0 = &w->groups[0].hp;
    double *S = w->scalars, lr;
    int rc = eta_optim_wide_one_lr(w, "DAdaptSGD", &lr);
    if (rc)
        return rc;
    bool f32 = w->dtype == ETA_F32;
    double d = S[D], g0_norm = S[G0_NORM];
    if (w->step == 1) {
        double g_sq = 0;
        for (int i = 0; i < w->nparams; i++)
            if (w->groups[w->params[i].group].hp.lr > 0)
                g_sq += eta_optim_wide_sumsq(w, w->params[i].grad, w->params[i].n);
        g0_norm = sqrt(g_sq);
        if (g0_norm == 0)
            return OPTIM_SKIP;
    }
    double dlr = d * lr / g0_norm, num = 0, sk_sq = 0;
    for (int i = 0; i < w->nparams; i++) {
        optim_param *p = &w->params[i];
        dadapt_k k = {.p = p->data, .g = p->grad, .s = p->state[0], .x0 = p->state[1], .wd = h0->weight_decay,
                      .dlr = dlr, .l2 = h0->weight_decay != 0};
        if (p->step == 0)
            eta_optim_wide_copy(w, p->state[1], p->data, p->n);
        if (!(w->groups[p->group].hp.lr > 0))
            continue;
        num += dlr * eta_reduce(p->n, w->threads, f32 ? sgd_dot_float : sgd_dot_double, &k, w->scratch);
        sk_sq += eta_reduce(p->n, w->threads, f32 ? sgd_s_float : sgd_s_double, &k, w->scratch);
    }
    double numerator = S[NUMERATOR] + num;
    if (sk_sq == 0)
        return OPTIM_SKIP;
    if (lr > 0)
        d = eta_py_max(d, eta_py_min(2 * numerator / sqrt(sk_sq), d * h0->growth_rate));
    S[NUMERATOR] = numerator;
    S[D] = d;
    S[G0_NORM] = g0_norm;
    S[DLR] = dlr;
    return ETA_OK;
}

static void dadapt_sgd_update(const optim_ctx *c, optim_param *p)
{
    dadapt_k k = {.p = p->data, .s = p->state[0], .x0 = p->state[1], .ck = 1 - c->hp0->momentum};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? sgd_step_float : sgd_step_double, &k);
}

static int dadapt_adam_prepare(optim_wide *w)
{
    const eta_optim_hparams *h0 = &w->groups[0].hp;
    double *S = w->scalars, lr;
    int rc = eta_optim_wide_one_lr(w, "DAdaptAdam", &lr);
    if (rc)
        return rc;
    bool f32 = w->dtype == ETA_F32;
    double b1 = h0->beta1, b2 = h0->beta2, k1 = (double)w->step, d = S[D];
    double bc = h0->use_bias_correction ? pow(1 - pow(b2, k1), 0.5) / (1 - pow(b1, k1)) : 1;
    double dlr = d * lr * bc, sb2 = pow(b2, 0.5), num = 0, sk_l1 = 0;
    for (int i = 0; i < w->nparams; i++) {
        optim_param *p = &w->params[i];
        const eta_optim_hparams *hp = &w->groups[p->group].hp;
        if (!(hp->lr > 0))
            continue;
        double r = hp->layer_scale;
        dadapt_k k = {.p = p->data, .g = p->grad, .s = p->state[0], .m = p->state[1], .v = p->state[2],
                      .wd = hp->weight_decay, .b1 = b1, .b2 = b2, .sb2 = sb2, .eps = hp->eps,
                      .m_coef = r * dlr * (1 - b1), .s_coef = dlr * (1 - sb2),
                      .l2 = hp->weight_decay != 0 && !h0->decouple};
        num += r * dlr * eta_reduce(p->n, w->threads, f32 ? adam_dot_float : adam_dot_double, &k, w->scratch);
        sk_l1 += r * eta_reduce(p->n, w->threads, f32 ? adam_ema_float : adam_ema_double, &k, w->scratch);
    }
    if (sk_l1 == 0)
        return OPTIM_SKIP;
    double numerator = sb2 * S[NUMERATOR] + (1 - sb2) * num;
    if (lr > 0)
        d = eta_py_max(d, eta_py_min(numerator / ((1 - sb2) * sk_l1), d * h0->growth_rate));
    S[NUMERATOR] = numerator;
    S[D] = d;
    S[DLR] = dlr;
    return ETA_OK;
}

static void dadapt_adam_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    dadapt_k k = {.p = p->data, .m = p->state[1], .v = p->state[2], .eps = hp->eps,
                  .decay = hp->weight_decay != 0 && c->hp0->decouple ? -hp->weight_decay * c->scalars[DLR] : 0};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? adam_step_float : adam_step_double, &k);
}

static size_t dadapt_sgd_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i < 2 ? p->n : 0;
}

static size_t dadapt_adam_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i < 3 ? p->n : 0;
}

#define ARG_POSITIVE(nm, field) \
    {nm, ARG_REAL, offsetof(eta_optim_hparams, field), 0, false, false, 0, INFINITY, true, true, 0}
#define ARG_GROWTH \
    {"growth_rate", ARG_REAL_OR_INF, offsetof(eta_optim_hparams, growth_rate), 0, false, false, 0, INFINITY, true, false, 0}

static const optim_arg dadapt_sgd_args[] = {
    ARG_LR(false),
    {"momentum", ARG_REAL, offsetof(eta_optim_hparams, momentum), 0, false, false, 0, 1, false, true, 0},
    ARG_NONNEG("weight_decay", weight_decay),
    {"log_every", ARG_IGNORED_NUM, 0, 0, false, false, 0, 0, false, false, 0},
    ARG_POSITIVE("d0", d0),
    ARG_GROWTH,
    ARG_SWITCH("fsdp_in_use", false),
};

static const optim_arg dadapt_adam_args[] = {
    ARG_LR(false),
    ARG_BETAS,
    ARG_POSITIVE("eps", eps),
    ARG_NONNEG("weight_decay", weight_decay),
    {"log_every", ARG_IGNORED_NUM, 0, 0, false, false, 0, 0, false, false, 0},
    ARG_FLAG("decouple", decouple),
    ARG_FLAG("use_bias_correction", use_bias_correction),
    ARG_POSITIVE("d0", d0),
    ARG_GROWTH,
    ARG_SWITCH("fsdp_in_use", false),
    ARG_NONNEG_KW("layer_scale", layer_scale),
};

const optim_rule eta_rule_dadapt_sgd = {
    .kind = ETA_OPTIM_DADAPT_SGD,
    .name = "DAdaptSGD",
    .args = dadapt_sgd_args,
    .nargs = sizeof dadapt_sgd_args / sizeof dadapt_sgd_args[0],
    .defaults = {.lr = 1.0, .d0 = 1e-6, .growth_rate = INFINITY},
    .state_names = {"s", "x0", NULL},
    .state_len = dadapt_sgd_state_len,
    .update = dadapt_sgd_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
    .scalar_names = {"d", "numerator_weighted", "g0_norm", "dlr", NULL},
    .init_scalars = dadapt_init,
    .prepare = dadapt_sgd_prepare,
};

const optim_rule eta_rule_dadapt_adam = {
    .kind = ETA_OPTIM_DADAPT_ADAM,
    .name = "DAdaptAdam",
    .args = dadapt_adam_args,
    .nargs = sizeof dadapt_adam_args / sizeof dadapt_adam_args[0],
    .defaults = {.lr = 1.0, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .d0 = 1e-6, .growth_rate = INFINITY,
                 .layer_scale = 1.0},
    .state_names = {"s", "exp_avg", "exp_avg_sq", NULL},
    .state_len = dadapt_adam_state_len,
    .update = dadapt_adam_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
    .scalar_names = {"d", "numerator_weighted", "g0_norm", "dlr", NULL},
    .init_scalars = dadapt_init,
    .prepare = dadapt_adam_prepare,
};

#else /* ETA_TYPED_PASS */

/* The gradient the reference sees: with coupled decay, g + wd*p. */
static inline T TF(dadapt_grad)(const dadapt_k *k, size_t i)
{
    const T *g = k->g, *p = k->p;
    return k->l2 ? g[i] + (T)k->wd * p[i] : g[i];
}

/* <g, s> over one block. */
static double TF(sgd_dot)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    const T *s = k->s;
    double a = 0;
    for (size_t i = lo; i < hi; i++)
        a += (double)TF(dadapt_grad)(k, i) * (double)s[i];
    return a;
}

/* s <- s + dlr*g; returns the block's sum of s^2. */
static double TF(sgd_s)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    T *s = k->s;
    const T dlr = (T)k->dlr;
    double a = 0;
    for (size_t i = lo; i < hi; i++) {
        s[i] = s[i] + dlr * TF(dadapt_grad)(k, i);
        a += (double)(s[i] * s[i]);
    }
    return a;
}

static void TF(sgd_step)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    T *p = k->p;
    const T *s = k->s, *x0 = k->x0;
    const T keep = (T)(1 - k->ck), ck = (T)k->ck;
    for (size_t i = lo; i < hi; i++) {
        T z = x0[i] - s[i];
        p[i] = p[i] * keep + ck * z;
    }
}

/* <g, s/(sqrt(v)+eps)> over one block, with this step's v not yet updated. */
static double TF(adam_dot)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    const T *s = k->s, *v = k->v;
    const T eps = (T)k->eps;
    double a = 0;
    for (size_t i = lo; i < hi; i++) {
        T q = s[i] / (sqrt(v[i]) + eps);
        a += (double)TF(dadapt_grad)(k, i) * (double)q;
    }
    return a;
}

/* The moments and s of one block; returns its sum of |s|. */
static double TF(adam_ema)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    T *m = k->m, *v = k->v, *s = k->s;
    const T b1 = (T)k->b1, b2 = (T)k->b2, sb2 = (T)k->sb2, mc = (T)k->m_coef, one_b2 = (T)(1 - k->b2);
    const T sc = (T)k->s_coef;
    double a = 0;
    for (size_t i = lo; i < hi; i++) {
        T g = TF(dadapt_grad)(k, i);
        m[i] = m[i] * b1 + mc * g;
        v[i] = v[i] * b2 + one_b2 * g * g;
        s[i] = s[i] * sb2 + sc * g;
        a += fabs((double)s[i]);
    }
    return a;
}

static void TF(adam_step)(void *vk, size_t lo, size_t hi)
{
    const dadapt_k *k = vk;
    T *p = k->p;
    const T *m = k->m, *v = k->v;
    const T eps = (T)k->eps, decay = (T)k->decay;
    for (size_t i = lo; i < hi; i++) {
        T denom = sqrt(v[i]) + eps;
        if (k->decay != 0)
            p[i] = p[i] + decay * p[i];
        p[i] = p[i] + (T)-1 * m[i] / denom;
    }
}

#endif
