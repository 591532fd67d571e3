/* optim/wide.c - the optimizer-wide pass (rule.h, optim_wide): the view a
 * rule's prepare/finish/switch_point hooks receive, deterministic sums over
 * parameters for them, the optimizer's and groups' scalars as users read
 * them, and the train/eval point switch (Schedule-Free).
 *
 * The step itself, which calls the hooks around the per-parameter updates,
 * is in optim.c; saving the scalars and the mode in save.c.
 */
#ifndef ETA_TYPED_PASS
#include <stdarg.h>
#include <string.h>

#include "core/error.h"
#include "optim/optim_impl.h"

typedef struct pair_k {
    const void *a, *b;
} pair_k;

#define ETA_SELF "wide.c"
#include "optim/instantiate.h"

optim_wide eta_optim_wide_(eta_optim *o)
{
    optim_wide w = {o->scalars, o->groups, o->ngroups, o->params, o->nparams, o->step + 1,
                    o->cfg.dtype, o->cfg.threads, o->scratch, o->err, sizeof o->err};
    return w;
}

int eta_optim_name_index_(const char *const *names, const char *name)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int eta_optim_name_count_(const char *const *names)
{
    int n = 0;
    while (names[n])
        n++;
    return n;
}

int eta_optim_wide_fail(optim_wide *w, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(w->err, w->err_len, fmt, ap);
    va_end(ap);
    return code;
}

static double reduce(const optim_wide *w, size_t n, eta_block_fn f32, eta_block_fn f64, const void *a,
                     const void *b)
{
    pair_k k = {a, b};
    return eta_reduce(n, w->threads, w->dtype == ETA_F32 ? f32 : f64, &k, w->scratch);
}

double eta_optim_wide_dot(const optim_wide *w, const void *a, const void *b, size_t n)
{
    return reduce(w, n, dot_block_float, dot_block_double, a, b);
}

double eta_optim_wide_sumsq(const optim_wide *w, const void *a, size_t n)
{
    return reduce(w, n, dot_block_float, dot_block_double, a, a);
}

double eta_optim_wide_sum_abs(const optim_wide *w, const void *a, size_t n)
{
    return reduce(w, n, abs_block_float, abs_block_double, a, NULL);
}

static const void *pick(const optim_param *p, int which)
{
    return which == OPTIM_GRAD ? p->grad : which == OPTIM_DATA ? p->data : p->state[which];
}

double eta_optim_wide_total_dot(const optim_wide *w, int a, int b, bool trainable_only)
{
    double s = 0;
    for (int i = 0; i < w->nparams; i++) {
        const optim_param *p = &w->params[i];
        if (trainable_only && !(w->groups[p->group].hp.lr > 0))
            continue;
        s += eta_optim_wide_dot(w, pick(p, a), pick(p, b), p->n);
    }
    return s;
}

int eta_optim_wide_one_lr(optim_wide *w, const char *name, double *lr)
{
    double m = 0;
    for (int g = 0; g < w->ngroups; g++)
        m = eta_py_max(m, w->groups[g].hp.lr);
    for (int g = 0; g < w->ngroups; g++)
        if (w->groups[g].hp.lr != m && w->groups[g].hp.lr != 0)
            return eta_optim_wide_fail(w, ETA_EINVAL,
                                       "%s: group %d has lr %g, another %g; groups may differ only by an lr "
                                       "of 0 (a frozen group)",
                                       name, g, w->groups[g].hp.lr, m);
    *lr = m;
    return ETA_OK;
}

void eta_optim_wide_copy(const optim_wide *w, void *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n * eta_dtype_size(w->dtype));
}

int eta_optim_scalar(const eta_optim *o, int group, const char *name, double *value)
{
    if (!name || group < 0 || group >= o->ngroups)
        return ETA_EINVAL;
    if (o->mech && eta_mech_scalar_(o, name, value) == ETA_OK)
        return ETA_OK;
    int i = eta_optim_name_index_(o->rule->group_scalar_names, name);
    if (i >= 0) {
        *value = o->groups[group].scalars[i];
        return ETA_OK;
    }
    i = eta_optim_name_index_(o->rule->scalar_names, name);
    if (i < 0)
        return ETA_EINVAL;
    *value = o->scalars[i];
    return ETA_OK;
}

const char *eta_optim_scalar_name(const eta_optim *o, int i)
{
    int ng = eta_optim_name_count_(o->rule->group_scalar_names);
    if (i < 0)
        return NULL;
    if (i < ng)
        return o->rule->group_scalar_names[i];
    return i - ng < eta_optim_name_count_(o->rule->scalar_names) ? o->rule->scalar_names[i - ng] : NULL;
}

static int set_point(eta_optim *o, bool eval)
{
    if (o->eval == eval)
        return ETA_OK;
    if (o->rule->switch_point) {
        optim_wide w = eta_optim_wide_(o);
        o->rule->switch_point(&w, eval);
    }
    o->eval = eval;
    return ETA_OK;
}

int eta_optim_eval(eta_optim *o)
{
    return set_point(o, true);
}

int eta_optim_train(eta_optim *o)
{
    return set_point(o, false);
}

bool eta_optim_is_eval(const eta_optim *o)
{
    return o->eval;
}

bool eta_optim_has_eval_point(const eta_optim *o)
{
    return o->rule->switch_point != NULL;
}

#else /* ETA_TYPED_PASS */

/* Sum of a[i]*b[i] over one block, in double, in order. */
static double TF(dot_block)(void *vk, size_t lo, size_t hi)
{
    const pair_k *k = vk;
    const T *a = k->a, *b = k->b;
    double s = 0;
    for (size_t i = lo; i < hi; i++)
        s += (double)a[i] * (double)b[i];
    return s;
}

static double TF(abs_block)(void *vk, size_t lo, size_t hi)
{
    const pair_k *k = vk;
    const T *a = k->a;
    double s = 0;
    for (size_t i = lo; i < hi; i++)
        s += fabs((double)a[i]);
    return s;
}

#endif
