/* optim/dog.c - DoG and LDoG, distance over gradients (Ivgi, Hinder &
 * Carmon, ICML 2023, "DoG is SGD's Best Friend"), as the authors' PyTorch
 * package (formll/dog, dog/torch/dog.py, v1.1.0).
 *
 * Per step, over a whole group (DoG) or each parameter alone (LDoG):
 *   g <- g + wd*p                         (L2, as the reference adds it to p.grad)
 *   first step: rbar = reps_rel*(1 + |x0|),  G = sum |g|^2 + eps
 *   later:      rbar = max(rbar, |x - x0|),  G <- G + sum |g|^2
 *   eta = lr*rbar/sqrt(G)   (init_eta, when given, is the first step's eta
 *                            and reps_rel is then 0, as the constructor sets)
 *   p <- p - eta*g
 * x0 ("init_buffer") is the parameter at its first step. lr is the
 * reference's c, 1 by default, which its authors advise not to change; a
 * schedule multiplies it. DoG keeps rbar, G and eta per group (scalars, in
 * double); LDoG per parameter (state arrays of one element, in the dtype,
 * as the reference's tensors). The authors call iterate averaging crucial:
 * eta train's [train] average does it (docs/optim.md).
 * Differences from the reference: eps must be > 0 (it asserts G > 0 at the
 * step instead), and the caller's gradient is not modified.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "optim/rule.h"

typedef struct dog_k {
    void *p, *g;
    const void *x0;
    double wd, neg_eta;
} dog_k;

#define ETA_SELF "dog.c"
#include "optim/instantiate.h"

enum { RBAR, GSUM, ETA };

/* sum |g + wd*p|^2 and sum |p - x0|^2 (x0 NULL: sum |p|^2) of one parameter. */
static double grad_sumsq(const dog_k *k, size_t n, eta_dtype t, int threads, double *scratch)
{
    return eta_reduce(n, threads, t == ETA_F32 ? gsq_block_float : gsq_block_double, (void *)k, scratch);
}

static double dist_sumsq(const dog_k *k, size_t n, eta_dtype t, int threads, double *scratch)
{
    return eta_reduce(n, threads, t == ETA_F32 ? dsq_block_float : dsq_block_double, (void *)k, scratch);
}

static void descend(const dog_k *k, size_t n, eta_dtype t, int threads)
{
    eta_parallel_for(n, threads, t == ETA_F32 ? dog_chunk_float : dog_chunk_double, (void *)k);
}

static double reps_rel(const eta_optim_hparams *hp)
{
    return isnan(hp->init_eta) ? hp->reps_rel : 0.0;
}

/* DoG: rbar, G and eta of every group, before the updates. */
static int dog_prepare(optim_wide *w)
{
    size_t es = eta_dtype_size(w->dtype);
    bool first = w->step == 1;
    for (int gi = 0; gi < w->ngroups; gi++) {
        optim_group *grp = &w->groups[gi];
        const eta_optim_hparams *hp = &grp->hp;
        double xsq = 0, dsq = 0, gsq = 0;
        for (int i = 0; i < w->nparams; i++) {
            optim_param *p = &w->params[i];
            if (p->group != gi)
                continue;
            if (p->step == 0)
                memcpy(p->state[0], p->data, p->n * es);
            dog_k k = {p->data, p->grad, first ? NULL : p->state[0], hp->weight_decay, 0};
            if (first)
                xsq += dist_sumsq(&k, p->n, w->dtype, w->threads, w->scratch);
            else
                dsq += dist_sumsq(&k, p->n, w->dtype, w->threads, w->scratch);
            gsq += grad_sumsq(&k, p->n, w->dtype, w->threads, w->scratch);
        }
        double *s = grp->scalars;
        if (first) {
            s[RBAR] = reps_rel(hp) * (1 + sqrt(xsq));
            s[GSUM] = gsq + hp->eps;
        } else {
            s[RBAR] = fmax(s[RBAR], sqrt(dsq));
            s[GSUM] = s[GSUM] + gsq;
        }
        s[ETA] = first && !isnan(hp->init_eta) ? hp->init_eta : hp->lr * s[RBAR] / sqrt(s[GSUM]);
    }
    return ETA_OK;
}

static void dog_update(const optim_ctx *c, optim_param *p)
{
    dog_k k = {p->data, p->grad, NULL, c->hp->weight_decay, -c->group_scalars[ETA]};
    descend(&k, p->n, c->dtype, c->threads);
}

/* A one-element state array in the dtype. */
static double get1(const void *s, eta_dtype t)
{
    return t == ETA_F32 ? (double)*(const float *)s : *(const double *)s;
}

static double set1(void *s, eta_dtype t, double v)
{
    if (t == ETA_F32)
        return *(float *)s = (float)v;
    return *(double *)s = v;
}

/* LDoG: the same on one parameter; state init_buffer, rbar, G, eta. */
static void ldog_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    bool first = c->step == 1;
    if (first)
        memcpy(p->state[0], p->data, p->n * eta_dtype_size(c->dtype));
    dog_k k = {p->data, p->grad, first ? NULL : p->state[0], hp->weight_decay, 0};
    double gsq = grad_sumsq(&k, p->n, c->dtype, c->threads, c->scratch);
    double d = sqrt(dist_sumsq(&k, p->n, c->dtype, c->threads, c->scratch));
    double rbar, G;
    if (first) {
        rbar = set1(p->state[1], c->dtype, reps_rel(hp) * (1 + d));
        G = set1(p->state[2], c->dtype, gsq + hp->eps);
    } else {
        rbar = set1(p->state[1], c->dtype, fmax(get1(p->state[1], c->dtype), d));
        G = set1(p->state[2], c->dtype, get1(p->state[2], c->dtype) + gsq);
    }
    double eta = set1(p->state[3], c->dtype,
                      first && !isnan(hp->init_eta) ? hp->init_eta : hp->lr * rbar / sqrt(G));
    k.neg_eta = -eta;
    descend(&k, p->n, c->dtype, c->threads);
}

static size_t dog_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i == 0 ? p->n : 1;
}

static int dog_check(const eta_optim_hparams *hp, eta_err *err)
{
    if (isnan(hp->init_eta) && !(hp->reps_rel > 0))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "reps_rel must be > 0 unless init_eta is given, got %g",
                             hp->reps_rel);
    return ETA_OK;
}

static const optim_arg dog_args[] = {
    ARG_NONNEG("reps_rel", reps_rel),
    {"lr", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, false, 0, INFINITY, true, true, 0},
    ARG_NONNEG("weight_decay", weight_decay),
    {"eps", ARG_REAL, offsetof(eta_optim_hparams, eps), 0, false, false, 0, INFINITY, true, true, 0},
    {"init_eta", ARG_REAL_OR_NONE, offsetof(eta_optim_hparams, init_eta), 0, false, false, 0, INFINITY, true, true,
     0},
};

#define DOG_DEFAULTS {.reps_rel = 1e-6, .lr = 1.0, .eps = 1e-8, .init_eta = NAN}

const optim_rule eta_rule_dog = {
    .kind = ETA_OPTIM_DOG,
    .name = "DoG",
    .args = dog_args,
    .nargs = sizeof dog_args / sizeof dog_args[0],
    .defaults = DOG_DEFAULTS,
    .check = dog_check,
    .state_names = {"init_buffer", NULL},
    .state_len = eta_optim_state_full,
    .update = dog_update,
    .momentum_field = (size_t)-1,
    .group_scalar_names = {"rbar", "G", "eta", NULL},
    .prepare = dog_prepare,
};

const optim_rule eta_rule_ldog = {
    .kind = ETA_OPTIM_LDOG,
    .name = "LDoG",
    .args = dog_args,
    .nargs = sizeof dog_args / sizeof dog_args[0],
    .defaults = DOG_DEFAULTS,
    .check = dog_check,
    .state_names = {"init_buffer", "rbar", "G", "eta", NULL},
    .state_len = dog_state_len,
    .update = ldog_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static double TF(gsq_block)(void *vk, size_t lo, size_t hi)
{
    const dog_k *k = vk;
    const T *p = k->p, *g = k->g;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        T d = L2_GRAD(g[i], p[i], k->wd);
        s += (double)d * (double)d;
    }
    return s;
}

static double TF(dsq_block)(void *vk, size_t lo, size_t hi)
{
    const dog_k *k = vk;
    const T *p = k->p, *x0 = k->x0;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        double d = x0 ? (double)(p[i] - x0[i]) : (double)p[i];
        s += d * d;
    }
    return s;
}

static void TF(dog_chunk)(void *vk, size_t lo, size_t hi)
{
    const dog_k *k = vk;
    T *p = k->p;
    const T *g = k->g;
    const T neg_eta = (T)k->neg_eta;
    for (size_t i = lo; i < hi; i++)
        p[i] = p[i] + neg_eta * L2_GRAD(g[i], p[i], k->wd);
}

#endif
