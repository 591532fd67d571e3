/* optim/schedulefree.c - Schedule-Free SGD and AdamW (Defazio et al. 2024,
 * "The Road Less Scheduled"), as facebookresearch/schedule_free's reference
 * implementations (sgd_schedulefree_reference.py,
 * adamw_schedulefree_reference.py) compute them, names and defaults included.
 *
 * Per group, before the updates of step k+1 (k = 0, 1, ...; the optimizer-wide
 * pass, rule.h):
 *   sched = (k+1)/warmup_steps while k < warmup_steps, else 1
 *   lr_k = lr*sched               (AdamW: lr*sched*sqrt(1 - beta2^(k+1)))
 *   lr_max = max(lr_max, lr_k);  weight = (k+1)^r * lr_max^weight_lr_power
 *   weight_sum += weight;        ckp1 = weight/weight_sum (0 if weight_sum is 0)
 * Per parameter (p holds y; z and x start as p's value at the first step):
 *   SGD:   g <- g + wd*y;  z <- z - lr_k*g
 *   AdamW: z <- z - lr_k*wd*(decay_at_z ? z : y);  v <- b2*v + (1-b2)*g*g
 *          z <- z - lr_k*g/(sqrt(v) + eps)
 *   x <- (1-ckp1)*x + ckp1*z;    y <- b*x + (1-b)*z  (b: momentum or beta1);  p <- y
 * The reference keeps y as a fourth array; here y is p itself in train mode
 * and is recomputed from x and z, with the same operations and so the same
 * bits, when eta_optim_train switches back from x.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct sf_k {
    void *p, *g, *z, *x, *v;
    double lr, wd, ckp1, b, beta2, eps;
    bool first, adam, decay_at_z;
} sf_k;

#define ETA_SELF "schedulefree.c"
#include "optim/instantiate.h"

/* Group scalars. */
enum { LR_MAX, WEIGHT_SUM, SCHEDULED_LR, CKP1 };

static void sf_group_init(const eta_optim_hparams *hp, double *s)
{
    (void)hp;
    s[LR_MAX] = -1.0;
}

static void sf_prepare_group(optim_group *g, int64_t k, bool adam)
{
    const eta_optim_hparams *hp = &g->hp;
    double kk = (double)k;
    double sched = kk < hp->warmup_steps ? (kk + 1) / hp->warmup_steps : 1.0;
    double lr = hp->lr * sched;
    if (adam)
        lr = hp->lr * sched * sqrt(1 - pow(hp->beta2, kk + 1));
    double *s = g->scalars;
    s[SCHEDULED_LR] = lr;
    s[LR_MAX] = lr > s[LR_MAX] ? lr : s[LR_MAX]; /* Python's max(lr, lr_max) */
    double weight = pow(kk + 1, hp->r) * pow(s[LR_MAX], hp->weight_lr_power);
    s[WEIGHT_SUM] = s[WEIGHT_SUM] + weight;
    s[CKP1] = s[WEIGHT_SUM] != 0 ? weight / s[WEIGHT_SUM] : 0.0;
}

static int sf_prepare(optim_wide *w, bool adam)
{
    for (int g = 0; g < w->ngroups; g++)
        sf_prepare_group(&w->groups[g], w->step - 1, adam);
    return ETA_OK;
}

static int sgd_sf_prepare(optim_wide *w)
{
    return sf_prepare(w, false);
}

static int adamw_sf_prepare(optim_wide *w)
{
    return sf_prepare(w, true);
}

static void sf_update(const optim_ctx *c, optim_param *p, bool adam)
{
    const eta_optim_hparams *hp = c->hp;
    sf_k k = {
        .p = p->data, .g = p->grad, .z = p->state[0], .x = p->state[1], .v = adam ? p->state[2] : NULL,
        .lr = c->group_scalars[SCHEDULED_LR], .wd = hp->weight_decay, .ckp1 = c->group_scalars[CKP1],
        .b = adam ? hp->beta1 : hp->momentum, .beta2 = hp->beta2, .eps = hp->eps,
        .first = c->step == 1, .adam = adam, .decay_at_z = hp->decay_at_z,
    };
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? sf_chunk_float : sf_chunk_double, &k);
}

static void sgd_sf_update(const optim_ctx *c, optim_param *p)
{
    sf_update(c, p, false);
}

static void adamw_sf_update(const optim_ctx *c, optim_param *p)
{
    sf_update(c, p, true);
}

/* eval: p <- x; train: p <- y = b*x + (1-b)*z. Parameters not yet stepped
 * hold both points already. */
static void sf_switch(optim_wide *w, bool eval, bool adam)
{
    for (int i = 0; i < w->nparams; i++) {
        optim_param *p = &w->params[i];
        if (p->step == 0)
            continue;
        if (eval) {
            eta_optim_wide_copy(w, p->data, p->state[1], p->n);
            continue;
        }
        const eta_optim_hparams *hp = &w->groups[p->group].hp;
        sf_k k = {.p = p->data, .z = p->state[0], .x = p->state[1], .b = adam ? hp->beta1 : hp->momentum};
        eta_parallel_for(p->n, w->threads, w->dtype == ETA_F32 ? sf_y_float : sf_y_double, &k);
    }
}

static void sgd_sf_switch(optim_wide *w, bool eval)
{
    sf_switch(w, eval, false);
}

static void adamw_sf_switch(optim_wide *w, bool eval)
{
    sf_switch(w, eval, true);
}

static size_t sgd_sf_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i < 2 ? p->n : 0;
}

#define ARG_ANY(nm, field) \
    {nm, ARG_REAL, offsetof(eta_optim_hparams, field), 0, false, false, -INFINITY, INFINITY, false, false, 0}
#define SF_TAIL ARG_NONNEG("warmup_steps", warmup_steps), ARG_ANY("r", r), ARG_ANY("weight_lr_power", weight_lr_power)

static const optim_arg sgd_sf_args[] = {
    ARG_LR(false),
    {"momentum", ARG_REAL, offsetof(eta_optim_hparams, momentum), 0, false, false, 0, 1, true, true, 0},
    ARG_NONNEG("weight_decay", weight_decay),
    SF_TAIL,
    ARG_SWITCH("foreach", false),
};

static const optim_arg adamw_sf_args[] = {
    ARG_LR(false),
    ARG_BETAS,
    ARG_NONNEG("eps", eps),
    ARG_NONNEG("weight_decay", weight_decay),
    SF_TAIL,
    ARG_FLAG("decay_at_z", decay_at_z),
    ARG_SWITCH("foreach", false),
};

const optim_rule eta_rule_sgd_schedule_free = {
    .kind = ETA_OPTIM_SGD_SCHEDULE_FREE,
    .name = "SGDScheduleFree",
    .alias = "ScheduleFreeSGD",
    .args = sgd_sf_args,
    .nargs = sizeof sgd_sf_args / sizeof sgd_sf_args[0],
    .defaults = {.lr = 1.0, .momentum = 0.9, .weight_lr_power = 2},
    .state_names = {"z", "x", NULL},
    .state_len = sgd_sf_state_len,
    .update = sgd_sf_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
    .group_scalar_names = {"lr_max", "weight_sum", "scheduled_lr", "ckp1", NULL},
    .init_group_scalars = sf_group_init,
    .prepare = sgd_sf_prepare,
    .switch_point = sgd_sf_switch,
};

const optim_rule eta_rule_adamw_schedule_free = {
    .kind = ETA_OPTIM_ADAMW_SCHEDULE_FREE,
    .name = "AdamWScheduleFree",
    .alias = "ScheduleFreeAdamW",
    .args = adamw_sf_args,
    .nargs = sizeof adamw_sf_args / sizeof adamw_sf_args[0],
    .defaults = {.lr = 0.0025, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_lr_power = 2},
    .state_names = {"z", "x", "exp_avg_sq", NULL},
    .state_len = eta_optim_state_full,
    .update = adamw_sf_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
    .group_scalar_names = {"lr_max", "weight_sum", "scheduled_lr", "ckp1", NULL},
    .init_group_scalars = sf_group_init,
    .prepare = adamw_sf_prepare,
    .switch_point = adamw_sf_switch,
};

#else /* ETA_TYPED_PASS */

/* The reference's operations in its order; each scalar rounded to T as torch
 * passes a Python float to a T kernel. */
static void TF(sf_chunk)(void *vk, size_t lo, size_t hi)
{
    const sf_k *k = vk;
    T *restrict p = k->p, *restrict z = k->z, *restrict x = k->x, *restrict v = k->v;
    const T *restrict g = k->g;
    const T lr = (T)k->lr, neg_lr = (T)(-k->lr), wd = (T)k->wd, lr_wd = (T)(k->lr * k->wd);
    const T keep = (T)(1 - k->ckp1), ckp1 = (T)k->ckp1, b = (T)k->b, one_b = (T)(1 - k->b);
    const T b2 = (T)k->beta2, one_b2 = (T)(1 - k->beta2), eps = (T)k->eps;
    for (size_t i = lo; i < hi; i++) {
        if (k->first)
            z[i] = x[i] = p[i];
        if (k->adam) {
            if (k->wd != 0)
                z[i] = z[i] - lr_wd * (k->decay_at_z ? z[i] : p[i]);
            v[i] = v[i] * b2 + one_b2 * g[i] * g[i];
            T denom = sqrt(v[i]) + eps;
            z[i] = z[i] + neg_lr * g[i] / denom;
        } else {
            T d = k->wd != 0 ? g[i] + wd * p[i] : g[i];
            z[i] = z[i] - lr * d;
        }
        x[i] = x[i] * keep + ckp1 * z[i];
        p[i] = x[i] * b + one_b * z[i];
    }
}

static void TF(sf_y)(void *vk, size_t lo, size_t hi)
{
    const sf_k *k = vk;
    T *restrict p = k->p;
    const T *restrict z = k->z, *restrict x = k->x;
    const T b = (T)k->b, one_b = (T)(1 - k->b);
    for (size_t i = lo; i < hi; i++)
        p[i] = x[i] * b + one_b * z[i];
}

#endif
