/* optim/optim.c - the eta_optim object: groups, parameters, state, step.
 *
 * The rules themselves live one per file (sgd.c, adam.c, ...); the argument
 * tables, defaults and spec binding in hparams.c; gradient clipping in
 * clip.c; checkpoints in save.c; the optimizer-wide pass's helpers, scalars
 * and the train/eval switch in wide.c. Everything a step needs is allocated
 * when a parameter is added, so eta_optim_step never allocates.
 */
#include "core/error.h"
#include "optim/optim_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *eta_optim_default_alloc_(void *ud, size_t size)
{
    (void)ud;
    return malloc(size);
}

void eta_optim_default_free_(void *ud, void *p)
{
    (void)ud;
    free(p);
}

eta_allocator eta_optim_allocator_(const eta_allocator *given)
{
    eta_allocator a = {eta_optim_default_alloc_, eta_optim_default_free_, NULL};
    return given ? *given : a;
}

void *eta_optim_alloc_(eta_optim *o, size_t size)
{
    return o->alloc.alloc(o->alloc.ud, size ? size : 1);
}

void eta_optim_release_(eta_optim *o, void *p)
{
    if (p)
        o->alloc.free(o->alloc.ud, p);
}

int eta_optim_fail_(eta_optim *o, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(o->err, sizeof o->err, fmt, ap);
    va_end(ap);
    return code;
}

int eta_optim_new(eta_optim **out, const eta_optim_config *cfg, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    const optim_rule *rule = eta_optim_rule(cfg->kind);
    if (!rule)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "unknown optimizer kind %d", (int)cfg->kind);
    bool mech = cfg->kind == ETA_OPTIM_MECHANIC;
    if (mech) {
        /* Mechanic wraps cfg->base, which is the optimizer's rule. */
        rule = cfg->base != ETA_OPTIM_MECHANIC ? eta_optim_rule(cfg->base) : NULL;
        if (!rule)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "Mechanic: base must be another rule, got kind %d",
                                 (int)cfg->base);
        eta_err e;
        if (eta_mech_check_(&cfg->mechanic, NULL, &e))
            return eta_spec_fail(err, ETA_EINVAL, NULL, "Mechanic: %s", e.msg);
        if (eta_optim_name_count_(rule->state_names) > MECH_SLOT)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "Mechanic cannot wrap %s: it keeps too many state arrays",
                                 rule->name);
    }
    if (cfg->dtype != ETA_F32 && cfg->dtype != ETA_F64)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: dtype must be ETA_F32 or ETA_F64", rule->name);
    if (cfg->threads < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: threads must be >= 0, got %d", rule->name,
                             cfg->threads);
    int rc = eta_optim_check_hparams(rule->kind, &cfg->hp, err);
    if (rc)
        return rc;
    eta_allocator a = eta_optim_allocator_(cfg->alloc);
    eta_optim *o = a.alloc(a.ud, sizeof *o);
    if (!o)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", rule->name);
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->cfg.alloc = NULL;
    o->alloc = a;
    o->rule = rule;
    if (mech && eta_mech_new_(o)) {
        eta_optim_free(o);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", rule->name);
    }
    if (rule->init_scalars)
        rule->init_scalars(&cfg->hp, o->scalars);
    rc = eta_optim_add_group(o, NULL);
    if (rc < 0) {
        eta_optim_free(o);
        return eta_spec_fail(err, rc, NULL, "%s: out of memory", rule->name);
    }
    *out = o;
    return ETA_OK;
}

void eta_optim_free(eta_optim *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->nparams; i++)
        eta_optim_release_(o, o->params[i].block);
    eta_optim_release_(o, o->params);
    eta_optim_release_(o, o->groups);
    eta_optim_release_(o, o->scratch);
    eta_optim_release_(o, o->work);
    eta_mech_free_(o);
    o->alloc.free(o->alloc.ud, o);
}

/* Grows an array of `elem`-sized items to hold at least `need`. */
static int grow(eta_optim *o, void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap)
        return ETA_OK;
    int ncap = *cap ? *cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    void *p = eta_optim_alloc_(o, (size_t)ncap * elem);
    if (!p)
        return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory", o->rule->name);
    if (*arr)
        memcpy(p, *arr, (size_t)*cap * elem);
    eta_optim_release_(o, *arr);
    *arr = p;
    *cap = ncap;
    return ETA_OK;
}

int eta_optim_add_group(eta_optim *o, const eta_optim_hparams *hp)
{
    const eta_optim_hparams *h = hp ? hp : &o->cfg.hp;
    eta_err e;
    int rc = eta_optim_check_hparams(o->rule->kind, h, &e);
    if (rc)
        return eta_optim_fail_(o, rc, "%s", e.msg);
    void *arr = o->groups;
    rc = grow(o, &arr, &o->cap_groups, o->ngroups + 1, sizeof(optim_group));
    o->groups = arr;
    if (rc)
        return rc;
    optim_group *g = &o->groups[o->ngroups];
    memset(g, 0, sizeof *g);
    g->hp = *h;
    g->initial_lr = h->lr;
    if (o->rule->init_group_scalars)
        o->rule->init_group_scalars(h, g->scalars);
    return o->ngroups++;
}

int eta_optim_add_param(eta_optim *o, int group, void *data, void *grad, int ndim, const int64_t *shape)
{
    const char *name = o->rule->name;
    if (group < 0 || group >= o->ngroups)
        return eta_optim_fail_(o, ETA_EINVAL, "%s: no parameter group %d (have %d)", name, group, o->ngroups);
    if (!data || !grad)
        return eta_optim_fail_(o, ETA_EINVAL, "%s: parameter %d: data and grad must not be NULL", name,
                               o->nparams);
    if (ndim < 0 || ndim > ETA_MAX_DIMS || (ndim > 0 && !shape))
        return eta_optim_fail_(o, ETA_EINVAL, "%s: parameter %d: ndim must be in [0, %d], got %d", name,
                               o->nparams, ETA_MAX_DIMS, ndim);
    if (o->rule->param_ndim && ndim != o->rule->param_ndim) {
        char dims[160] = "";
        for (int d = 0; d < ndim && shape; d++) {
            size_t len = strlen(dims);
            snprintf(dims + len, sizeof dims - len, "%s%lld", d ? ", " : "", (long long)shape[d]);
        }
        return eta_optim_fail_(o, ETA_EINVAL,
                               "%s: parameter %d: %s only supports %d-D parameters, got shape (%s); give "
                               "biases, norms, embeddings and convolutions to another optimizer",
                               name, o->nparams, name, o->rule->param_ndim, dims);
    }
    optim_param p;
    memset(&p, 0, sizeof p);
    p.data = data;
    p.grad = grad;
    p.ndim = ndim;
    p.group = group;
    p.n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0)
            return eta_optim_fail_(o, ETA_EINVAL, "%s: parameter %d: shape[%d] must be > 0, got %lld", name,
                                   o->nparams, d, (long long)shape[d]);
        if ((uint64_t)shape[d] > (SIZE_MAX / 64) / p.n)
            return eta_optim_fail_(o, ETA_EINVAL, "%s: parameter %d: too many elements", name, o->nparams);
        p.shape[d] = shape[d];
        p.n *= (size_t)shape[d];
    }
    /* State: one zeroed block, arrays back to back. */
    const eta_optim_hparams *hp = &o->groups[group].hp;
    size_t es = eta_dtype_size(o->cfg.dtype), total = 0;
    for (int i = 0; i < OPTIM_MAX_STATE && o->rule->state_names[i]; i++) {
        p.state_n[i] = o->rule->state_len(hp, &p, i);
        total += p.state_n[i];
    }
    if (o->mech) {
        p.state_n[MECH_SLOT] = p.n; /* x0 */
        total += p.n;
    }
    void *block = NULL;
    if (total) {
        block = eta_optim_alloc_(o, total * es);
        if (!block)
            return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory for the state of parameter %d", name,
                                   o->nparams);
        memset(block, 0, total * es);
    }
    size_t off = 0;
    for (int i = 0; i < OPTIM_MAX_STATE; i++) {
        p.state[i] = p.state_n[i] ? (char *)block + off * es : NULL;
        off += p.state_n[i];
    }
    p.block = block;
    size_t slots = eta_reduce_slots(p.n);
    if (slots > o->scratch_n) {
        double *s = eta_optim_alloc_(o, slots * sizeof(double));
        if (!s) {
            eta_optim_release_(o, block);
            return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory", name);
        }
        eta_optim_release_(o, o->scratch);
        o->scratch = s;
        o->scratch_n = slots;
    }
    size_t work = o->rule->work_len ? o->rule->work_len(&p) : 0;
    if (work == SIZE_MAX) {
        eta_optim_release_(o, block);
        return eta_optim_fail_(o, ETA_EINVAL, "%s: parameter %d: a dimension beyond 2^31 - 1", name, o->nparams);
    }
    if (work > o->work_n) {
        void *w = eta_optim_alloc_(o, work * es);
        if (!w) {
            eta_optim_release_(o, block);
            return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory for the scratch of parameter %d", name,
                                   o->nparams);
        }
        eta_optim_release_(o, o->work);
        o->work = w;
        o->work_n = work;
    }
    if (o->mech && eta_mech_add_param_(o, p.n)) {
        eta_optim_release_(o, block);
        return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory", name);
    }
    void *arr = o->params;
    int rc = grow(o, &arr, &o->cap_params, o->nparams + 1, sizeof(optim_param));
    o->params = arr;
    if (rc) {
        eta_optim_release_(o, block);
        return rc;
    }
    if (o->rule->init)
        o->rule->init(hp, &p, o->cfg.dtype);
    o->params[o->nparams] = p;
    return o->nparams++;
}

/* The rule's step: its prepare (the optimizer-wide pass, rule.h), then one
 * update per parameter in registration order, then its finish. */
int eta_optim_rule_step_(eta_optim *o)
{
    const optim_rule *r = o->rule;
    optim_wide w = eta_optim_wide_(o);
    if (r->prepare) {
        int rc = r->prepare(&w);
        if (rc)
            return rc; /* OPTIM_SKIP or an error */
    }
    o->step++;
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        const optim_group *g = &o->groups[p->group];
        p->step++;
        optim_ctx c = {.hp = &g->hp, .initial_lr = g->initial_lr, .step = p->step, .dtype = o->cfg.dtype,
                       .threads = o->cfg.threads, .scratch = o->scratch, .work = o->work, .gemm = &o->gemm,
                       .scalars = o->scalars, .group_scalars = g->scalars, .hp0 = &o->groups[0].hp};
        r->update(&c, p);
    }
    if (r->finish)
        r->finish(&w);
    return ETA_OK;
}

/* A step: the rule's, or Mechanic's around it (mechanic.c). */
int eta_optim_step(eta_optim *o)
{
    const optim_rule *r = o->rule;
    if (o->nparams == 0)
        return eta_optim_fail_(o, ETA_ESTATE, "%s: step called with no parameters", r->name);
    if (o->eval)
        return eta_optim_fail_(o, ETA_ESTATE,
                               "%s: step called in eval mode (parameters hold the evaluation point): call "
                               "eta_optim_train first",
                               r->name);
    if (o->cfg.check_finite) {
        int rc = eta_optim_check_grads(o);
        if (rc)
            return rc;
    }
    int rc = o->mech ? eta_mech_step_(o) : eta_optim_rule_step_(o);
    return rc == OPTIM_SKIP ? ETA_OK : rc;
}

size_t eta_optim_state_full(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    (void)i;
    return p->n;
}

double eta_optim_decay_rate(const optim_ctx *c)
{
    const eta_optim_hparams *hp = c->hp;
    if (hp->weight_decay_mode == ETA_ANCHOR_PAPER)
        return c->initial_lr > 0 ? hp->lr / c->initial_lr * hp->weight_decay : 0.0;
    return hp->lr * hp->weight_decay;
}

void eta_optim_set_gemm(eta_optim *o, const eta_gemm *gemm)
{
    if (gemm)
        o->gemm = *gemm;
    else
        memset(&o->gemm, 0, sizeof o->gemm);
}

int64_t eta_optim_step_count(const eta_optim *o)
{
    return o->step;
}

int eta_optim_handover(eta_optim *dst, const eta_optim *src)
{
    if (dst->cfg.kind != src->cfg.kind || dst->cfg.dtype != src->cfg.dtype || dst->ngroups != src->ngroups ||
        (dst->mech != NULL) != (src->mech != NULL))
        return eta_optim_fail_(dst, ETA_EINVAL, "handover: another rule, dtype or group count");
    for (int g = 0; g < dst->ngroups; g++)
        dst->groups[g] = src->groups[g];
    dst->step = src->step;
    memcpy(dst->scalars, src->scalars, sizeof dst->scalars);
    dst->eval = src->eval;
    const int64_t pstep = src->nparams ? src->params[0].step : src->step;
    for (int i = 0; i < dst->nparams; i++)
        dst->params[i].step = pstep;
    return ETA_OK;
}

int eta_optim_group_count(const eta_optim *o)
{
    return o->ngroups;
}

int eta_optim_param_count(const eta_optim *o)
{
    return o->nparams;
}

const eta_optim_config *eta_optim_get_config(const eta_optim *o)
{
    return &o->cfg;
}

const char *eta_optim_error(const eta_optim *o)
{
    return o ? o->err : "";
}

static bool group_ok(const eta_optim *o, int group)
{
    return group >= 0 && group < o->ngroups;
}

double eta_optim_lr(const eta_optim *o, int group)
{
    if (!group_ok(o, group))
        return NAN;
    return o->rule->lr_of ? o->rule->lr_of(&o->groups[group]) : o->groups[group].hp.lr;
}

double eta_optim_initial_lr(const eta_optim *o, int group)
{
    return group_ok(o, group) ? o->groups[group].initial_lr : NAN;
}

int eta_optim_get_hparams(const eta_optim *o, int group, eta_optim_hparams *hp)
{
    if (!group_ok(o, group))
        return ETA_EINVAL;
    *hp = o->groups[group].hp;
    return ETA_OK;
}

int eta_optim_set_hparams(eta_optim *o, int group, const eta_optim_hparams *hp)
{
    if (!group_ok(o, group))
        return eta_optim_fail_(o, ETA_EINVAL, "%s: no parameter group %d (have %d)", o->rule->name, group,
                               o->ngroups);
    /* Options that decide which state arrays exist (amsgrad, centered,
     * momentum on or off) cannot change once the state is allocated. */
    for (int i = 0; i < o->nparams; i++)
        if (o->params[i].group == group)
            for (int k = 0; k < OPTIM_MAX_STATE && o->rule->state_names[k]; k++)
                if (o->rule->state_len(hp, &o->params[i], k) != o->params[i].state_n[k])
                    return eta_optim_fail_(o, ETA_EINVAL,
                                           "%s: group %d: '%s' state would appear or vanish; amsgrad, "
                                           "centered and momentum on/off cannot change once parameters are added",
                                           o->rule->name, group, o->rule->state_names[k]);
    eta_err e;
    int rc = eta_optim_check_hparams(o->rule->kind, hp, &e);
    if (rc)
        return eta_optim_fail_(o, rc, "%s", e.msg);
    o->groups[group].hp = *hp;
    return ETA_OK;
}

int eta_optim_set_lr(eta_optim *o, int group, double lr)
{
    if (!group_ok(o, group))
        return eta_optim_fail_(o, ETA_EINVAL, "%s: no parameter group %d (have %d)", o->rule->name, group,
                               o->ngroups);
    if (!(lr >= 0) || isinf(lr))
        return eta_optim_fail_(o, ETA_EINVAL, "%s: group %d: lr must be finite and >= 0, got %g", o->rule->name,
                               group, lr);
    o->groups[group].hp.lr = lr;
    return ETA_OK;
}

double eta_optim_momentum(const eta_optim *o, int group)
{
    size_t f = o->rule->momentum_field;
    if (!group_ok(o, group) || f == (size_t)-1)
        return NAN;
    double v;
    memcpy(&v, (const char *)&o->groups[group].hp + f, sizeof v);
    return v;
}

int eta_optim_set_momentum(eta_optim *o, int group, double m)
{
    size_t f = o->rule->momentum_field;
    if (f == (size_t)-1)
        return eta_optim_fail_(o, ETA_EINVAL, "%s has no momentum or beta1 to set", o->rule->name);
    if (!group_ok(o, group))
        return eta_optim_fail_(o, ETA_EINVAL, "%s: no parameter group %d (have %d)", o->rule->name, group,
                               o->ngroups);
    eta_optim_hparams hp = o->groups[group].hp;
    memcpy((char *)&hp + f, &m, sizeof m);
    return eta_optim_set_hparams(o, group, &hp);
}

int eta_optim_state(const eta_optim *o, int param, const char *name, void **data, size_t *n)
{
    if (param < 0 || param >= o->nparams || !name)
        return ETA_EINVAL;
    const optim_param *p = &o->params[param];
    if (o->mech && strcmp(name, "x0") == 0) {
        if (data)
            *data = p->state[MECH_SLOT];
        if (n)
            *n = p->state_n[MECH_SLOT];
        return ETA_OK;
    }
    for (int i = 0; i < OPTIM_MAX_STATE && o->rule->state_names[i]; i++)
        if (strcmp(o->rule->state_names[i], name) == 0) {
            if (!p->state[i])
                return ETA_EINVAL;
            if (data)
                *data = p->state[i];
            if (n)
                *n = p->state_n[i];
            return ETA_OK;
        }
    return ETA_EINVAL;
}

const char *eta_optim_state_name(const eta_optim *o, int i)
{
    if (i < 0 || i >= OPTIM_MAX_STATE)
        return NULL;
    return o->rule->state_names[i];
}
