/* optim/save.c - exact save and restore of an optimizer's state.
 *
 * Format, version 3, every number little-endian whatever the host:
 *   "ETAOPTIM" | u32 version | u32 kind | u32 dtype | u32 ngroups | u32 nparams | i64 steps
 *   u8 eval | u32 NREAL | u32 NFLAG | u32 NANCHOR | u32 NSCALAR | f64 x NSCALAR | u32 NGSCALAR |
 *   u32 NSTATE
 *   Mechanic only: u32 base kind | f64 weight_decay, eps, s_init | u32 num_betas |
 *              num_betas x (f64 m, v, r, s)
 *   per group: f64 initial_lr | f64 x NREAL hyperparameters | u8 x NFLAG | u32 x NANCHOR |
 *              f64 x NGSCALAR
 *   per param: u32 group | u32 ndim | i64 shape[ndim] | i64 step |
 *              NSTATE x (u64 n | n elements of dtype)
 *   u32 CRC-32 of everything before it
 * NSTATE is OPTIM_MAX_STATE (6; Mechanic's x0 in the last); version 2 is
 * version 3 with 4 and without NSTATE or Mechanic's block.
 * NSCALAR and NGSCALAR are the rule's optimizer-wide and per-group scalars
 * (rule.h) and must match it. The hyperparameter counts let a file written
 * before fields were appended load: fields it lacks keep the loading
 * optimizer's values. Version 1 is version 2 without the line after the
 * header (eval 0, 23 reals, 5 flags, 4 anchors, no scalars).
 * Loading checks the CRC, then the rule, dtype and every shape against the
 * optimizer it loads into, then the hyperparameters (valid for the rule, and
 * keeping the state arrays the optimizer has, as set_hparams requires) and
 * step counts (0 <= param step <= steps < INT64_MAX), and only then writes:
 * on any error the optimizer is unchanged. Muon's appended fields: four
 * reals (ns_coefficients, ns_steps) and adjust_lr_fn, a u32 among the
 * options (the "anchors"; its own range is checked by the rule).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "optim/optim_impl.h"

#define MAGIC "ETAOPTIM"
#define VERSION 3u

/* The hyperparameters in file order. New fields are appended (the counts in
 * the file say how many it holds). */
static const size_t real_fields[] = {
    offsetof(eta_optim_hparams, lr), offsetof(eta_optim_hparams, weight_decay),
    offsetof(eta_optim_hparams, momentum), offsetof(eta_optim_hparams, dampening),
    offsetof(eta_optim_hparams, beta1), offsetof(eta_optim_hparams, beta2), offsetof(eta_optim_hparams, eps),
    offsetof(eta_optim_hparams, eps2), offsetof(eta_optim_hparams, eps_root), offsetof(eta_optim_hparams, alpha),
    offsetof(eta_optim_hparams, rho), offsetof(eta_optim_hparams, lr_decay),
    offsetof(eta_optim_hparams, initial_accumulator_value), offsetof(eta_optim_hparams, momentum_decay),
    offsetof(eta_optim_hparams, lambd), offsetof(eta_optim_hparams, t0), offsetof(eta_optim_hparams, etas[0]),
    offsetof(eta_optim_hparams, etas[1]), offsetof(eta_optim_hparams, step_sizes[0]),
    offsetof(eta_optim_hparams, step_sizes[1]), offsetof(eta_optim_hparams, trust_coefficient),
    offsetof(eta_optim_hparams, beta2_decay), offsetof(eta_optim_hparams, d),
    /* appended in version 2 */
    offsetof(eta_optim_hparams, warmup_steps), offsetof(eta_optim_hparams, r),
    offsetof(eta_optim_hparams, weight_lr_power), offsetof(eta_optim_hparams, beta3),
    offsetof(eta_optim_hparams, d0), offsetof(eta_optim_hparams, d_coef),
    offsetof(eta_optim_hparams, growth_rate), offsetof(eta_optim_hparams, slice_p),
    offsetof(eta_optim_hparams, layer_scale),
    /* appended in version 3: DoG, LDoG, SGDHD, AdamHD */
    offsetof(eta_optim_hparams, reps_rel), offsetof(eta_optim_hparams, init_eta),
    offsetof(eta_optim_hparams, hypergrad_lr),
    /* appended in version 3: Muon */
    offsetof(eta_optim_hparams, ns_coefficients[0]), offsetof(eta_optim_hparams, ns_coefficients[1]),
    offsetof(eta_optim_hparams, ns_coefficients[2]), offsetof(eta_optim_hparams, ns_steps),
};
static const size_t flag_fields[] = {
    offsetof(eta_optim_hparams, nesterov), offsetof(eta_optim_hparams, maximize),
    offsetof(eta_optim_hparams, amsgrad), offsetof(eta_optim_hparams, centered),
    offsetof(eta_optim_hparams, decoupled_weight_decay),
    /* appended in version 2 */
    offsetof(eta_optim_hparams, decay_at_z), offsetof(eta_optim_hparams, decouple),
    offsetof(eta_optim_hparams, use_bias_correction), offsetof(eta_optim_hparams, safeguard_warmup),
};
static const size_t anchor_fields[] = {
    offsetof(eta_optim_hparams, eps_mode), offsetof(eta_optim_hparams, amsgrad_mode),
    offsetof(eta_optim_hparams, momentum_mode), offsetof(eta_optim_hparams, weight_decay_mode),
    offsetof(eta_optim_hparams, adjust_lr_fn),
};
static const char *const anchor_names[] = {"eps_mode", "amsgrad_mode", "momentum_mode", "weight_decay_mode",
                                           "adjust_lr_fn"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define V1_REALS 23
#define V1_FLAGS 5
#define V1_ANCHORS 4
#define V2_STATES 4 /* state slots per parameter in versions 1 and 2 */

/* How many of each field a file holds. */
typedef struct layout {
    uint32_t nreal, nflag, nanchor, nscalar, ngscalar, nstate;
} layout;

/* A growing or reading cursor over bytes. */
typedef struct cursor {
    unsigned char *buf;
    size_t len, pos;
    bool bad;
} cursor;

static void put(cursor *c, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        c->buf[c->pos++] = (unsigned char)(v >> (8 * i));
}

static uint64_t get(cursor *c, int bytes)
{
    if (c->bad || c->len - c->pos < (size_t)bytes) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)c->buf[c->pos++] << (8 * i);
    return v;
}

static void put_f64(cursor *c, double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    put(c, u, 8);
}

static double get_f64(cursor *c)
{
    uint64_t u = get(c, 8);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static void put_elems(cursor *c, eta_dtype t, const void *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t == ETA_F32) {
            uint32_t u;
            memcpy(&u, (const float *)x + i, 4);
            put(c, u, 4);
        } else {
            uint64_t u;
            memcpy(&u, (const double *)x + i, 8);
            put(c, u, 8);
        }
    }
}

static void get_elems(cursor *c, eta_dtype t, void *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t == ETA_F32) {
            uint32_t u = (uint32_t)get(c, 4);
            memcpy((float *)x + i, &u, 4);
        } else {
            uint64_t u = get(c, 8);
            memcpy((double *)x + i, &u, 8);
        }
    }
}

static size_t group_bytes(const layout *l)
{
    return 8 + 8 * (size_t)l->nreal + l->nflag + 4 * (size_t)l->nanchor + 8 * (size_t)l->ngscalar;
}

static void put_group(cursor *c, const optim_group *g, const layout *l)
{
    put_f64(c, g->initial_lr);
    for (size_t i = 0; i < COUNT(real_fields); i++) {
        double v;
        memcpy(&v, (const char *)&g->hp + real_fields[i], 8);
        put_f64(c, v);
    }
    for (size_t i = 0; i < COUNT(flag_fields); i++) {
        bool b;
        memcpy(&b, (const char *)&g->hp + flag_fields[i], sizeof b);
        put(c, b, 1);
    }
    for (size_t i = 0; i < COUNT(anchor_fields); i++) {
        eta_anchor a;
        memcpy(&a, (const char *)&g->hp + anchor_fields[i], sizeof a);
        put(c, (uint32_t)a, 4);
    }
    for (uint32_t i = 0; i < l->ngscalar; i++)
        put_f64(c, g->scalars[i]);
}

/* Reads a group; fields the file lacks keep their values in *g. */
static void get_group(cursor *c, optim_group *g, const layout *l)
{
    g->initial_lr = get_f64(c);
    for (size_t i = 0; i < l->nreal; i++) {
        double v = get_f64(c);
        memcpy((char *)&g->hp + real_fields[i], &v, 8);
    }
    for (size_t i = 0; i < l->nflag; i++) {
        bool b = get(c, 1) != 0;
        memcpy((char *)&g->hp + flag_fields[i], &b, sizeof b);
    }
    for (size_t i = 0; i < l->nanchor; i++) {
        uint64_t v = get(c, 4);
        eta_anchor a = v < ETA_ANCHOR_COUNT ? (eta_anchor)v : ETA_ANCHOR_COUNT;
        memcpy((char *)&g->hp + anchor_fields[i], &a, sizeof a);
    }
    for (uint32_t i = 0; i < l->ngscalar; i++)
        g->scalars[i] = get_f64(c);
}

/* This build's layout for o's rule. */
static layout own_layout(const eta_optim *o)
{
    layout l = {(uint32_t)COUNT(real_fields), (uint32_t)COUNT(flag_fields), (uint32_t)COUNT(anchor_fields),
                (uint32_t)eta_optim_name_count_(o->rule->scalar_names),
                (uint32_t)eta_optim_name_count_(o->rule->group_scalar_names), OPTIM_MAX_STATE};
    return l;
}

/* Mechanic's block: u32 base kind | f64 weight_decay, eps, s_init |
 * u32 num_betas | num_betas x (f64 m, v, r, s). */
static size_t mech_bytes(const eta_optim *o)
{
    return o->mech ? 4 + 3 * 8 + 4 + 32 * (size_t)o->mech->cfg.num_betas : 0;
}

static void put_mech(cursor *c, const eta_optim *o)
{
    const optim_mech *m = o->mech;
    put(c, (uint32_t)o->rule->kind, 4);
    put_f64(c, m->cfg.weight_decay);
    put_f64(c, m->cfg.eps);
    put_f64(c, m->cfg.s_init);
    put(c, (uint32_t)m->cfg.num_betas, 4);
    for (int j = 0; j < m->cfg.num_betas; j++) {
        put_f64(c, m->m[j]);
        put_f64(c, m->v[j]);
        put_f64(c, m->r[j]);
        put_f64(c, m->s[j]);
    }
}

/* Reads Mechanic's block into *m (settings and tuner); a message in e on a
 * block o cannot take. */
static int get_mech(cursor *c, const eta_optim *o, optim_mech *m, eta_err *e)
{
    uint32_t base = (uint32_t)get(c, 4);
    m->cfg.weight_decay = get_f64(c);
    m->cfg.eps = get_f64(c);
    m->cfg.s_init = get_f64(c);
    uint32_t nb = (uint32_t)get(c, 4);
    if (c->bad)
        return ETA_OK;
    if (base != (uint32_t)o->rule->kind)
        return eta_spec_fail(e, ETA_EFORMAT, NULL, "the state's Mechanic wraps %s, this one %s",
                             eta_optim_name((eta_optim_kind)base) ? eta_optim_name((eta_optim_kind)base) : "?",
                             o->rule->name);
    m->cfg.num_betas = nb <= ETA_MECHANIC_MAX_BETAS ? (int)nb : -1;
    if (eta_mech_check_(&m->cfg, NULL, e))
        return ETA_EFORMAT;
    for (uint32_t j = 0; j < nb && !c->bad; j++) {
        m->m[j] = get_f64(c);
        m->v[j] = get_f64(c);
        m->r[j] = get_f64(c);
        m->s[j] = get_f64(c);
        if (!c->bad && !(isfinite(m->m[j]) && isfinite(m->v[j]) && isfinite(m->r[j]) && isfinite(m->s[j])))
            return eta_spec_fail(e, ETA_EFORMAT, NULL, "Mechanic's tuner %u is not finite", j);
    }
    return ETA_OK;
}

int eta_optim_save(eta_optim *o, void **out, size_t *out_len)
{
    size_t es = eta_dtype_size(o->cfg.dtype);
    layout l = own_layout(o);
    size_t len = 8 + 4 * 5 + 8 + 1 + 4 * 5 + 8 * (size_t)l.nscalar + 4 + mech_bytes(o) +
                 (size_t)o->ngroups * group_bytes(&l) + 4;
    for (int i = 0; i < o->nparams; i++) {
        const optim_param *p = &o->params[i];
        len += 8 + 8 * (size_t)p->ndim + 8;
        for (int k = 0; k < OPTIM_MAX_STATE; k++)
            len += 8 + p->state_n[k] * es;
    }
    cursor c = {eta_optim_alloc_(o, len), len, 0, false};
    if (!c.buf)
        return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory saving the state", o->rule->name);
    memcpy(c.buf, MAGIC, 8);
    c.pos = 8;
    put(&c, VERSION, 4);
    put(&c, (uint32_t)o->cfg.kind, 4);
    put(&c, (uint32_t)o->cfg.dtype, 4);
    put(&c, (uint32_t)o->ngroups, 4);
    put(&c, (uint32_t)o->nparams, 4);
    put(&c, (uint64_t)o->step, 8);
    put(&c, o->eval, 1);
    put(&c, l.nreal, 4);
    put(&c, l.nflag, 4);
    put(&c, l.nanchor, 4);
    put(&c, l.nscalar, 4);
    for (uint32_t i = 0; i < l.nscalar; i++)
        put_f64(&c, o->scalars[i]);
    put(&c, l.ngscalar, 4);
    put(&c, l.nstate, 4);
    if (o->mech)
        put_mech(&c, o);
    for (int g = 0; g < o->ngroups; g++)
        put_group(&c, &o->groups[g], &l);
    for (int i = 0; i < o->nparams; i++) {
        const optim_param *p = &o->params[i];
        put(&c, (uint32_t)p->group, 4);
        put(&c, (uint32_t)p->ndim, 4);
        for (int d = 0; d < p->ndim; d++)
            put(&c, (uint64_t)p->shape[d], 8);
        put(&c, (uint64_t)p->step, 8);
        for (int k = 0; k < OPTIM_MAX_STATE; k++) {
            put(&c, p->state_n[k], 8);
            put_elems(&c, o->cfg.dtype, p->state[k], p->state_n[k]);
        }
    }
    put(&c, eta_crc32(0, c.buf, c.pos), 4);
    *out = c.buf;
    *out_len = c.pos;
    return ETA_OK;
}

void eta_optim_free_buf(eta_optim *o, void *buf)
{
    eta_optim_release_(o, buf);
}

/* Whether group g as read from a file may replace o's group g: an
 * initial_lr that set_lr would take, anchors in range, hyperparameters valid
 * for the rule, and the same state arrays for each of its parameters (the
 * options that decide them, such as amsgrad or momentum on/off, cannot
 * change once the state is allocated: the update would find NULL arrays). */
static int check_group(const eta_optim *o, int g, const optim_group *grp, eta_err *e)
{
    if (!isfinite(grp->initial_lr) || grp->initial_lr < 0)
        return eta_spec_fail(e, ETA_EFORMAT, NULL, "initial_lr must be finite and >= 0, got %g", grp->initial_lr);
    for (size_t i = 0; i < COUNT(anchor_fields); i++) {
        eta_anchor a;
        memcpy(&a, (const char *)&grp->hp + anchor_fields[i], sizeof a);
        if (a == ETA_ANCHOR_COUNT)
            return eta_spec_fail(e, ETA_EFORMAT, NULL, "%s is out of range", anchor_names[i]);
    }
    if ((unsigned)grp->hp.adjust_lr_fn >= ETA_MUON_ADJUST_COUNT)
        return eta_spec_fail(e, ETA_EFORMAT, NULL, "adjust_lr_fn is out of range");
    int rc = eta_optim_check_hparams(o->cfg.kind, &grp->hp, e);
    if (rc)
        return rc;
    for (int i = 0; i < o->nparams; i++) {
        const optim_param *p = &o->params[i];
        if (p->group != g)
            continue;
        for (int k = 0; k < OPTIM_MAX_STATE && o->rule->state_names[k]; k++)
            if (o->rule->state_len(&grp->hp, p, k) != p->state_n[k])
                return eta_spec_fail(e, ETA_EFORMAT, NULL,
                                     "'%s' state of parameter %d would %s; amsgrad, centered and momentum on/off "
                                     "must match the optimizer's",
                                     o->rule->state_names[k], i, p->state_n[k] ? "vanish" : "appear");
    }
    return ETA_OK;
}

/* The name of state slot k, for messages. */
static const char *state_name(const eta_optim *o, int k)
{
    if (o->mech && k == MECH_SLOT)
        return "x0";
    return k < OPTIM_MAX_STATE && o->rule->state_names[k] ? o->rule->state_names[k] : "?";
}

/* Walks the file; with `apply` false only checks it against o. */
static int walk(eta_optim *o, const unsigned char *buf, size_t len, bool apply)
{
    const char *name = o->rule->name;
    cursor c = {(unsigned char *)(uintptr_t)buf, len - 4, 8, false};
    uint32_t version = (uint32_t)get(&c, 4);
    if (version < 1 || version > VERSION)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: state version %u, this eta reads versions 1 to %u", name,
                               version, VERSION);
    uint32_t kind = (uint32_t)get(&c, 4), dtype = (uint32_t)get(&c, 4);
    uint32_t ngroups = (uint32_t)get(&c, 4), nparams = (uint32_t)get(&c, 4);
    int64_t steps = (int64_t)get(&c, 8);
    if (kind != (uint32_t)o->cfg.kind)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state was saved by %s", name,
                               eta_optim_name((eta_optim_kind)kind) ? eta_optim_name((eta_optim_kind)kind) : "?");
    if (dtype != (uint32_t)o->cfg.dtype)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state is %s, the optimizer %s", name,
                               dtype == ETA_F32 ? "float32" : "float64",
                               o->cfg.dtype == ETA_F32 ? "float32" : "float64");
    if (ngroups != (uint32_t)o->ngroups || nparams != (uint32_t)o->nparams)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state has %u groups and %u parameters, the optimizer %d and %d",
                               name, ngroups, nparams, o->ngroups, o->nparams);
    if (steps < 0 || steps == INT64_MAX)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state's step count must be in [0, 2^63 - 1), got %lld", name,
                               (long long)steps);
    layout own = own_layout(o), l = {V1_REALS, V1_FLAGS, V1_ANCHORS, 0, 0, V2_STATES};
    uint64_t eval = 0;
    double scalars[OPTIM_MAX_SCALARS] = {0};
    if (version >= 2) {
        eval = get(&c, 1);
        l.nreal = (uint32_t)get(&c, 4);
        l.nflag = (uint32_t)get(&c, 4);
        l.nanchor = (uint32_t)get(&c, 4);
        l.nscalar = (uint32_t)get(&c, 4);
        for (uint32_t i = 0; i < l.nscalar && i < OPTIM_MAX_SCALARS; i++)
            scalars[i] = get_f64(&c);
        if (l.nscalar == own.nscalar)
            l.ngscalar = (uint32_t)get(&c, 4);
        if (version >= 3)
            l.nstate = (uint32_t)get(&c, 4);
    }
    if (!c.bad && l.nstate > 64)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state has %u arrays per parameter", name, l.nstate);
    optim_mech mech;
    if (o->mech) {
        eta_err e;
        mech = *o->mech;
        int rc = version >= 3 ? get_mech(&c, o, &mech, &e) : eta_spec_fail(&e, ETA_EFORMAT, NULL, "no Mechanic state");
        if (!c.bad && rc)
            return eta_optim_fail_(o, ETA_EFORMAT, "%s: %s", name, e.msg);
    }
    if (!c.bad && (eval > 1 || l.nreal > own.nreal || l.nflag > own.nflag || l.nanchor > own.nanchor))
        return eta_optim_fail_(o, ETA_EFORMAT,
                               "%s: the state has %u hyperparameters (%u, %u, %u) or a mode (%u) this eta does not know",
                               name, l.nreal + l.nflag + l.nanchor, l.nreal, l.nflag, l.nanchor, (unsigned)eval);
    if (!c.bad && (l.nscalar != own.nscalar || l.ngscalar != own.ngscalar))
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: the state has %u optimizer and %u group scalars, %s keeps %u and %u",
                               name, l.nscalar, l.ngscalar, name, own.nscalar, own.ngscalar);
    for (int g = 0; g < o->ngroups; g++) {
        optim_group grp = o->groups[g];
        get_group(&c, &grp, &l);
        eta_err e;
        if (!c.bad && check_group(o, g, &grp, &e))
            return eta_optim_fail_(o, ETA_EFORMAT, "group %d of the saved state: %s", g, e.msg);
        if (apply)
            o->groups[g] = grp;
    }
    size_t es = eta_dtype_size(o->cfg.dtype);
    for (int i = 0; i < o->nparams && !c.bad; i++) {
        optim_param *p = &o->params[i];
        uint32_t group = (uint32_t)get(&c, 4), ndim = (uint32_t)get(&c, 4);
        bool same = group == (uint32_t)p->group && ndim == (uint32_t)p->ndim;
        for (uint32_t d = 0; d < ndim && d < ETA_MAX_DIMS && same; d++)
            same = (int64_t)get(&c, 8) == p->shape[d];
        if (!c.bad && !same)
            return eta_optim_fail_(o, ETA_EFORMAT, "%s: parameter %d of the saved state has another group or shape",
                                   name, i);
        int64_t pstep = (int64_t)get(&c, 8);
        if (!c.bad && (pstep < 0 || pstep > steps))
            return eta_optim_fail_(o, ETA_EFORMAT, "%s: parameter %d of the saved state has step %lld of %lld", name,
                                   i, (long long)pstep, (long long)steps);
        if (apply)
            p->step = pstep;
        /* slots the file has and this build lacks must be empty, and so the other way round */
        uint32_t nslot = l.nstate > OPTIM_MAX_STATE ? l.nstate : OPTIM_MAX_STATE;
        for (uint32_t k = 0; k < nslot && !c.bad; k++) {
            uint64_t n = k < l.nstate ? get(&c, 8) : 0;
            size_t have = k < OPTIM_MAX_STATE ? p->state_n[k] : 0;
            if (!c.bad && n != have)
                return eta_optim_fail_(o, ETA_EFORMAT,
                                       "%s: parameter %d state '%s' has %llu elements saved, %zu expected", name, i,
                                       state_name(o, (int)k), (unsigned long long)n, have);
            if (apply && n)
                get_elems(&c, o->cfg.dtype, p->state[k], n);
            else if (c.len - c.pos >= n * es)
                c.pos += n * es;
            else
                c.bad = true;
        }
    }
    if (c.bad || c.pos != c.len)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: saved state is truncated or has %s bytes at offset %zu", name,
                               c.bad ? "missing" : "extra", c.pos);
    if (apply) {
        o->step = steps;
        o->eval = eval != 0;
        memcpy(o->scalars, scalars, sizeof o->scalars);
        if (o->mech) {
            mech.work = o->mech->work;
            mech.work_n = o->mech->work_n;
            *o->mech = mech;
            o->cfg.mechanic = mech.cfg;
        }
    }
    return ETA_OK;
}

int eta_optim_load(eta_optim *o, const void *buf, size_t len)
{
    const unsigned char *b = buf;
    if (len < 8 + 4 || memcmp(b, MAGIC, 8) != 0)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: not an eta optimizer state (bad magic)", o->rule->name);
    uint32_t want = 0;
    for (int i = 0; i < 4; i++)
        want |= (uint32_t)b[len - 4 + (size_t)i] << (8 * i);
    if (eta_crc32(0, b, len - 4) != want)
        return eta_optim_fail_(o, ETA_EFORMAT, "%s: optimizer state is corrupt (checksum mismatch)", o->rule->name);
    int rc = walk(o, b, len, false);
    return rc ? rc : walk(o, b, len, true);
}

int eta_optim_save_file(eta_optim *o, const char *path)
{
    void *buf;
    size_t len;
    int rc = eta_optim_save(o, &buf, &len);
    if (rc)
        return rc;
    size_t plen = strlen(path);
    char *tmp = eta_optim_alloc_(o, plen + 16);
    if (!tmp) {
        eta_optim_free_buf(o, buf);
        return eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory", o->rule->name);
    }
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    bool ok = f && fwrite(buf, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int saved = errno;
    if (f)
        ok = fclose(f) == 0 && ok;
    else if (fd >= 0)
        close(fd);
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        if (fd >= 0)
            unlink(tmp);
        rc = eta_optim_fail_(o, ETA_EIO, "%s: %s", path, strerror(saved));
    }
    eta_optim_release_(o, tmp);
    eta_optim_free_buf(o, buf);
    return rc;
}

int eta_optim_load_file(eta_optim *o, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return eta_optim_fail_(o, ETA_EIO, "%s: %s", path, strerror(errno));
    int rc = ETA_OK;
    unsigned char *buf = NULL;
    long len = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        len = ftell(f);
    if (len < 0 || fseek(f, 0, SEEK_SET) != 0) {
        rc = eta_optim_fail_(o, ETA_EIO, "%s: cannot read: %s", path, strerror(errno));
    } else if (!(buf = eta_optim_alloc_(o, (size_t)len))) {
        rc = eta_optim_fail_(o, ETA_ENOMEM, "%s: out of memory", path);
    } else if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
        rc = eta_optim_fail_(o, ETA_EIO, "%s: short read", path);
    } else {
        rc = eta_optim_load(o, buf, (size_t)len);
        if (rc) {
            char msg[sizeof o->err];
            snprintf(msg, sizeof msg, "%s", o->err);
            eta_optim_fail_(o, rc, "%s: %s", path, msg);
        }
    }
    eta_optim_release_(o, buf);
    fclose(f);
    return rc;
}
