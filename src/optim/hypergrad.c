/* optim/hypergrad.c - hypergradient descent, SGDHD and AdamHD (Baydin,
 * Cornish, Martinez Rubio, Schmidt & Wood, ICLR 2018, "Online Learning Rate
 * Adaptation with Hypergradient Descent"), as the authors' PyTorch code
 * (gbaydin/hypergradient-descent, hypergrad/sgd_hd.py and adam_hd.py).
 *
 * The learning rate a is itself descended along df/da = -<g_t, u_{t-1}>:
 *   SGDHD, per group as one flat vector: g <- g + wd*p;
 *     h = <g, grad_prev>;  a <- a + hypergrad_lr*h;
 *     momentum: b = g on its first step, else mu*b + (1-dampening)*g;
 *     d = g + mu*b (nesterov) | b | g (no momentum);  grad_prev <- d;
 *     p <- p - a*d
 *   AdamHD, parameter by parameter in order (each parameter's update sees
 *   the rate its predecessors in the group left): g <- g + wd*p;
 *     from its 2nd step h = <g, m/(sqrt(v)+eps)>*sqrt(1-b2^(t-1))/(1-b1^(t-1)),
 *     a <- a + hypergrad_lr*h;  m, v as Adam;
 *     p <- p - a*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)   (eps outside)
 * a is the group scalar "lr" (double), starting at the group's lr. A
 * schedule multiplies it: a step uses a*(lr/initial_lr), lr being what
 * eta_optim_set_lr last set (a schedule's value), so without a schedule the
 * rule is the reference's; eta_optim_lr returns that product. With an
 * initial lr of 0 the factor is 1. Differences from the reference: SGDHD
 * accepts parameter groups (each adapts its own rate); a is a double where
 * the reference's group['lr'] becomes a tensor of the parameters' dtype.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct hd_k {
    void *p, *g, *a, *b; /* SGDHD: a = grad_prev, b = momentum buffer; AdamHD: a = m, b = v */
    double wd, mom, damp, b1, b2, eps, neg_step;
    bool first, nesterov;
} hd_k;

#define ETA_SELF "hypergrad.c"
#include "optim/instantiate.h"

static void hd_init_group(const eta_optim_hparams *hp, double *s)
{
    s[0] = hp->lr;
}

/* The rate a step uses: the adapted one times the schedule's factor. */
static double hd_rate(const eta_optim_hparams *hp, double initial_lr, const double *s)
{
    return initial_lr > 0 ? s[0] * (hp->lr / initial_lr) : s[0];
}

static double hd_lr(const optim_group *g)
{
    return hd_rate(&g->hp, g->initial_lr, g->scalars);
}

static eta_block_fn pick(eta_dtype t, eta_block_fn f32, eta_block_fn f64)
{
    return t == ETA_F32 ? f32 : f64;
}

/* SGDHD: each group's hypergradient, before the updates. */
static int sgdhd_prepare(optim_wide *w)
{
    for (int gi = 0; gi < w->ngroups; gi++) {
        optim_group *grp = &w->groups[gi];
        double h = 0;
        for (int i = 0; i < w->nparams; i++) {
            optim_param *p = &w->params[i];
            if (p->group != gi)
                continue;
            hd_k k = {.p = p->data, .g = p->grad, .a = p->state[1], .wd = grp->hp.weight_decay};
            h += eta_reduce(p->n, w->threads, pick(w->dtype, sgd_h_block_float, sgd_h_block_double), &k, w->scratch);
        }
        grp->scalars[0] += grp->hp.hypergrad_lr * h;
    }
    return ETA_OK;
}

static void sgdhd_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    hd_k k = {p->data, p->grad, p->state[1], p->state[0], hp->weight_decay, hp->momentum, hp->dampening, 0, 0, 0,
              -hd_rate(hp, c->initial_lr, c->group_scalars), c->step == 1, hp->nesterov};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? sgdhd_chunk_float : sgdhd_chunk_double, &k);
}

static size_t sgdhd_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    return i == 1 || hp->momentum != 0 ? p->n : 0;
}

static int sgdhd_check(const eta_optim_hparams *hp, eta_err *err)
{
    if (hp->nesterov && (hp->momentum <= 0 || hp->dampening != 0))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "Nesterov momentum requires a momentum and zero dampening");
    return ETA_OK;
}

/* AdamHD: the whole step, parameter by parameter in group order, since each
 * parameter's rate depends on the hypergradients of those before it. */
static int adamhd_prepare(optim_wide *w)
{
    for (int gi = 0; gi < w->ngroups; gi++) {
        optim_group *grp = &w->groups[gi];
        const eta_optim_hparams *hp = &grp->hp;
        for (int i = 0; i < w->nparams; i++) {
            optim_param *p = &w->params[i];
            if (p->group != gi)
                continue;
            double t = (double)(p->step + 1);
            hd_k k = {p->data, p->grad, p->state[0], p->state[1], hp->weight_decay, 0, 0, hp->beta1, hp->beta2,
                      hp->eps, 0, false, false};
            if (t > 1) {
                double pbc1 = 1 - pow(hp->beta1, t - 1), pbc2 = 1 - pow(hp->beta2, t - 1);
                double h = eta_reduce(p->n, w->threads, pick(w->dtype, adam_h_block_float, adam_h_block_double), &k,
                                      w->scratch) *
                           sqrt(pbc2) / pbc1;
                grp->scalars[0] += hp->hypergrad_lr * h;
            }
            double bc1 = 1 - pow(hp->beta1, t), bc2 = 1 - pow(hp->beta2, t);
            k.neg_step = -(hd_rate(hp, grp->initial_lr, grp->scalars) * sqrt(bc2) / bc1);
            eta_parallel_for(p->n, w->threads, w->dtype == ETA_F32 ? adamhd_chunk_float : adamhd_chunk_double, &k);
        }
    }
    return ETA_OK;
}

static void adamhd_update(const optim_ctx *c, optim_param *p)
{
    (void)c;
    (void)p; /* done in adamhd_prepare */
}

static const optim_arg sgdhd_args[] = {
    ARG_LR(true),
    {"momentum", ARG_REAL, offsetof(eta_optim_hparams, momentum), 0, false, false, 0, INFINITY, false, true, 0},
    ARG_NONNEG("dampening", dampening),
    ARG_NONNEG("weight_decay", weight_decay),
    ARG_FLAG("nesterov", nesterov),
    ARG_NONNEG("hypergrad_lr", hypergrad_lr),
};

static const optim_arg adamhd_args[] = {
    ARG_LR(false), ARG_BETAS, ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay),
    ARG_NONNEG("hypergrad_lr", hypergrad_lr),
};

const optim_rule eta_rule_sgdhd = {
    .kind = ETA_OPTIM_SGDHD,
    .name = "SGDHD",
    .args = sgdhd_args,
    .nargs = sizeof sgdhd_args / sizeof sgdhd_args[0],
    .defaults = {.lr = 1e-3, .hypergrad_lr = 1e-6},
    .check = sgdhd_check,
    .state_names = {"momentum_buffer", "grad_prev", NULL},
    .state_len = sgdhd_state_len,
    .update = sgdhd_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
    .group_scalar_names = {"lr", NULL},
    .init_group_scalars = hd_init_group,
    .prepare = sgdhd_prepare,
    .lr_of = hd_lr,
};

const optim_rule eta_rule_adamhd = {
    .kind = ETA_OPTIM_ADAMHD,
    .name = "AdamHD",
    .args = adamhd_args,
    .nargs = sizeof adamhd_args / sizeof adamhd_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .hypergrad_lr = 1e-8},
    .state_names = {"exp_avg", "exp_avg_sq", NULL},
    .state_len = eta_optim_state_full,
    .update = adamhd_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
    .group_scalar_names = {"lr", NULL},
    .init_group_scalars = hd_init_group,
    .prepare = adamhd_prepare,
    .lr_of = hd_lr,
};

#else /* ETA_TYPED_PASS */

/* <g + wd*p, grad_prev> over one block. */
static double TF(sgd_h_block)(void *vk, size_t lo, size_t hi)
{
    const hd_k *k = vk;
    const T *p = k->p, *g = k->g, *prev = k->a;
    double s = 0;
    for (size_t i = lo; i < hi; i++)
        s += (double)L2_GRAD(g[i], p[i], k->wd) * (double)prev[i];
    return s;
}

static void TF(sgdhd_chunk)(void *vk, size_t lo, size_t hi)
{
    const hd_k *k = vk;
    T *p = k->p, *prev = k->a, *b = k->b;
    const T *g = k->g;
    const T mom = (T)k->mom, one_damp = (T)(1 - k->damp), neg_step = (T)k->neg_step;
    for (size_t i = lo; i < hi; i++) {
        T d = L2_GRAD(g[i], p[i], k->wd);
        if (b) {
            b[i] = k->first ? d : b[i] * mom + one_damp * d;
            d = k->nesterov ? d + mom * b[i] : b[i];
        }
        prev[i] = d;
        p[i] = p[i] + neg_step * d;
    }
}

/* <g + wd*p, m/(sqrt(v)+eps)> over one block, with the moments before this step. */
static double TF(adam_h_block)(void *vk, size_t lo, size_t hi)
{
    const hd_k *k = vk;
    const T *p = k->p, *g = k->g, *m = k->a, *v = k->b;
    const T eps = (T)k->eps;
    double s = 0;
    for (size_t i = lo; i < hi; i++)
        s += (double)L2_GRAD(g[i], p[i], k->wd) * (double)(m[i] / (sqrt(v[i]) + eps));
    return s;
}

static void TF(adamhd_chunk)(void *vk, size_t lo, size_t hi)
{
    const hd_k *k = vk;
    T *p = k->p, *m = k->a, *v = k->b;
    const T *g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, neg_step = (T)k->neg_step;
    for (size_t i = lo; i < hi; i++) {
        T d = L2_GRAD(g[i], p[i], k->wd);
        m[i] = m[i] * b1 + one_b1 * d;
        v[i] = v[i] * b2 + one_b2 * d * d;
        p[i] = p[i] + neg_step * (m[i] / (sqrt(v[i]) + eps));
    }
}

#endif
