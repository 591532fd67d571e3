/* optim/hparams.c - the registry of update rules, their defaults, the spec
 * binder (`AdamW(lr=3e-4, weight_decay=0.1)` -> eta_optim_config), the
 * validator and `describe`.
 *
 * Everything here is driven by each rule's argument table (rule.h), so an
 * argument's name, range and default live in one row of its rule's file.
 */
#include "optim/rule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"

extern const optim_rule eta_rule_sgd, eta_rule_adam, eta_rule_adamw, eta_rule_adamax, eta_rule_nadam,
    eta_rule_radam, eta_rule_adagrad, eta_rule_rmsprop, eta_rule_adadelta, eta_rule_asgd, eta_rule_rprop,
    eta_rule_adafactor, eta_rule_lion, eta_rule_lamb, eta_rule_lars, eta_rule_adabelief,
    eta_rule_sgd_schedule_free, eta_rule_adamw_schedule_free, eta_rule_prodigy, eta_rule_dadapt_sgd,
    eta_rule_dadapt_adam, eta_rule_cocob, eta_rule_dog, eta_rule_ldog, eta_rule_sgdhd, eta_rule_adamhd,
    eta_rule_mechanic, eta_rule_muon;

static const optim_rule *const rules[ETA_OPTIM_COUNT] = {
    [ETA_OPTIM_SGD] = &eta_rule_sgd,         [ETA_OPTIM_ADAM] = &eta_rule_adam,
    [ETA_OPTIM_ADAMW] = &eta_rule_adamw,     [ETA_OPTIM_ADAMAX] = &eta_rule_adamax,
    [ETA_OPTIM_NADAM] = &eta_rule_nadam,     [ETA_OPTIM_RADAM] = &eta_rule_radam,
    [ETA_OPTIM_ADAGRAD] = &eta_rule_adagrad, [ETA_OPTIM_RMSPROP] = &eta_rule_rmsprop,
    [ETA_OPTIM_ADADELTA] = &eta_rule_adadelta, [ETA_OPTIM_ASGD] = &eta_rule_asgd,
    [ETA_OPTIM_RPROP] = &eta_rule_rprop,     [ETA_OPTIM_ADAFACTOR] = &eta_rule_adafactor,
    [ETA_OPTIM_LION] = &eta_rule_lion,       [ETA_OPTIM_LAMB] = &eta_rule_lamb,
    [ETA_OPTIM_LARS] = &eta_rule_lars,       [ETA_OPTIM_ADABELIEF] = &eta_rule_adabelief,
    [ETA_OPTIM_SGD_SCHEDULE_FREE] = &eta_rule_sgd_schedule_free,
    [ETA_OPTIM_ADAMW_SCHEDULE_FREE] = &eta_rule_adamw_schedule_free,
    [ETA_OPTIM_PRODIGY] = &eta_rule_prodigy, [ETA_OPTIM_DADAPT_SGD] = &eta_rule_dadapt_sgd,
    [ETA_OPTIM_DADAPT_ADAM] = &eta_rule_dadapt_adam,
    [ETA_OPTIM_COCOB] = &eta_rule_cocob,     [ETA_OPTIM_DOG] = &eta_rule_dog,
    [ETA_OPTIM_LDOG] = &eta_rule_ldog,       [ETA_OPTIM_SGDHD] = &eta_rule_sgdhd,
    [ETA_OPTIM_ADAMHD] = &eta_rule_adamhd,   [ETA_OPTIM_MECHANIC] = &eta_rule_mechanic,
    [ETA_OPTIM_MUON] = &eta_rule_muon,
};

static const char *const anchor_names[ETA_ANCHOR_COUNT] = {"torch", "keras", "optax", "paper"};
/* Muon's adjust_lr_fn values; index 0 is Python's None. */
static const char *const adjust_names[ETA_MUON_ADJUST_COUNT] = {"None", "original", "match_rms_adamw"};

const optim_rule *eta_optim_rule(eta_optim_kind kind)
{
    return (unsigned)kind < ETA_OPTIM_COUNT ? rules[kind] : NULL;
}

const char *eta_anchor_name(eta_anchor a)
{
    return (unsigned)a < ETA_ANCHOR_COUNT ? anchor_names[a] : "?";
}

const char *eta_optim_name(eta_optim_kind kind)
{
    const optim_rule *r = eta_optim_rule(kind);
    return r ? r->name : NULL;
}

int eta_optim_kind_from_name(const char *name)
{
    for (int k = 0; k < ETA_OPTIM_COUNT && name; k++)
        if (strcmp(rules[k]->name, name) == 0 || (rules[k]->alias && strcmp(rules[k]->alias, name) == 0))
            return k;
    return -1;
}

eta_optim_config eta_optim_defaults(eta_optim_kind kind)
{
    eta_optim_config c;
    memset(&c, 0, sizeof c);
    const optim_rule *r = eta_optim_rule(kind);
    c.kind = kind;
    c.dtype = ETA_F32;
    c.mechanic = eta_mechanic_defaults();
    if (kind == ETA_OPTIM_MECHANIC) {
        c.base = ETA_OPTIM_ADAMW;
        r = eta_optim_rule(c.base);
    }
    if (r)
        c.hp = r->defaults;
    return c;
}

static double *real_at(eta_optim_hparams *hp, size_t off)
{
    return (double *)(void *)((char *)hp + off);
}

static double real_of(const eta_optim_hparams *hp, size_t off)
{
    double v;
    memcpy(&v, (const char *)hp + off, sizeof v);
    return v;
}

/* Range check of one real; `node` locates the error in a spec (or NULL).
 * Messages carry the rule name only when there is no spec to point into. */
static int check_real(const optim_rule *r, const optim_arg *a, const char *name, double x, const eta_spec *node,
                      eta_err *err)
{
    eta_err e;
    int rc = eta_spec_check_range(node, name, x, a->lo, a->lo_open, a->hi, a->hi_open, &e);
    if (rc == ETA_OK && isinf(x) && !(a->type == ARG_REAL_OR_INF && x > 0))
        rc = eta_spec_fail(&e, ETA_EINVAL, node, "%s must be finite, got %s", name, x > 0 ? "inf" : "-inf");
    if (rc) {
        if (!node)
            return eta_spec_fail(err, rc, NULL, "%s: %s", r->name, e.msg);
        if (err)
            *err = e;
    }
    return rc;
}

/* An ARG_INT: an integral value in the row's range, the numbers written as
 * integers ("ns_steps must be an integer in [0, 100), got 100"). */
static int check_int(const optim_rule *r, const optim_arg *a, double x, const eta_spec *node, eta_err *err)
{
    bool ok = x == floor(x) && (a->lo_open ? x > a->lo : x >= a->lo) && (a->hi_open ? x < a->hi : x <= a->hi);
    if (ok)
        return ETA_OK;
    char got[40];
    if (x == floor(x) && fabs(x) < 1e15)
        snprintf(got, sizeof got, "%.0f", x);
    else
        eta_fmt_real(got, sizeof got, x);
    return eta_spec_fail(err, ETA_EINVAL, node, "%s%s%s must be an integer in %c%.0f, %.0f%c, got %s",
                         node ? "" : r->name, node ? "" : ": ", a->name, a->lo_open ? '(' : '[', a->lo, a->hi,
                         a->hi_open ? ')' : ']', got);
}

static int check_args(const optim_rule *r, const eta_optim_hparams *hp, eta_err *err)
{
    char name[64];
    for (int i = 0; i < r->nargs; i++) {
        const optim_arg *a = &r->args[i];
        int rc = ETA_OK;
        switch (a->type) {
        case ARG_REAL:
        case ARG_REAL_OR_INF:
            rc = check_real(r, a, a->name, real_of(hp, a->off), NULL, err);
            break;
        case ARG_INT:
            rc = check_int(r, a, real_of(hp, a->off), NULL, err);
            break;
        case ARG_REAL_OR_NONE:
            if (!isnan(real_of(hp, a->off)))
                rc = check_real(r, a, a->name, real_of(hp, a->off), NULL, err);
            break;
        case ARG_PAIR:
        case ARG_EPS_PAIR:
            snprintf(name, sizeof name, "%s[0]", a->name);
            /* Adafactor's eps[0] may be None (NaN): the dtype's epsilon. */
            if (!(a->type == ARG_EPS_PAIR && isnan(real_of(hp, a->off))))
                rc = check_real(r, a, name, real_of(hp, a->off), NULL, err);
            if (!rc) {
                snprintf(name, sizeof name, "%s[1]", a->name);
                rc = check_real(r, a, name, real_of(hp, a->off2), NULL, err);
            }
            break;
        case ARG_TRIPLE:
            for (int k = 0; k < 3 && !rc; k++) {
                snprintf(name, sizeof name, "%s[%d]", a->name, k);
                rc = check_real(r, a, name, real_of(hp, a->off + (size_t)k * sizeof(double)), NULL, err);
            }
            break;
        case ARG_ADJUST: {
            unsigned v;
            memcpy(&v, (const char *)hp + a->off, sizeof v);
            if (v >= ETA_MUON_ADJUST_COUNT)
                rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s: %s: value %u is not accepted", r->name, a->name, v);
            break;
        }
        case ARG_ANCHOR: {
            unsigned v;
            memcpy(&v, (const char *)hp + a->off, sizeof v);
            if (v >= ETA_ANCHOR_COUNT || !(a->anchors & ANCHOR_BIT(v)))
                rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s: %s: value %u is not accepted", r->name, a->name, v);
            break;
        }
        default:
            break;
        }
        if (rc)
            return rc;
    }
    if (r->check) {
        eta_err e;
        int rc = r->check(hp, &e);
        if (rc)
            return eta_spec_fail(err, rc, NULL, "%s: %s", r->name, e.msg);
    }
    return ETA_OK;
}

int eta_optim_check_hparams(eta_optim_kind kind, const eta_optim_hparams *hp, eta_err *err)
{
    eta_err_clear(err);
    const optim_rule *r = eta_optim_rule(kind);
    if (!r)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "unknown optimizer kind %d", (int)kind);
    return check_args(r, hp, err);
}

/* Reads one bound spec value into hp, with the location for errors. */
static int read_arg(const optim_rule *r, const optim_arg *a, const eta_spec *v, eta_optim_hparams *hp, eta_err *err)
{
    char name[64];
    int rc;
    switch (a->type) {
    case ARG_REAL_OR_NONE:
        if (v->kind == ETA_SPEC_NONE) {
            *real_at(hp, a->off) = NAN;
            return ETA_OK;
        }
        /* fall through */
    case ARG_REAL:
    case ARG_REAL_OR_INF:
        rc = eta_spec_get_real(v, a->name, real_at(hp, a->off), err);
        return rc ? rc : check_real(r, a, a->name, *real_at(hp, a->off), v, err);
    case ARG_INT: {
        /* an integral value; 5.0 reads as 5 */
        double x;
        rc = eta_spec_get_real(v, a->name, &x, err);
        if (!rc)
            rc = check_int(r, a, x, v, err);
        if (!rc)
            *real_at(hp, a->off) = x;
        return rc;
    }
    case ARG_PAIR:
    case ARG_EPS_PAIR: {
        if (v->kind != ETA_SPEC_TUPLE && v->kind != ETA_SPEC_LIST)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a tuple of 2 numbers, got %s", a->name,
                                 eta_spec_kind_name(v->kind));
        if (v->n != 2)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must have 2 elements, got %d", a->name, v->n);
        size_t offs[2] = {a->off, a->off2};
        for (int k = 0; k < 2; k++) {
            snprintf(name, sizeof name, "%s[%d]", a->name, k);
            const eta_spec *e = v->items[k];
            double *dst = real_at(hp, offs[k]);
            if (a->type == ARG_EPS_PAIR && k == 0 && e->kind == ETA_SPEC_NONE) {
                *dst = NAN;
                continue;
            }
            rc = eta_spec_get_real(e, name, dst, err);
            if (!rc)
                rc = check_real(r, a, name, *dst, e, err);
            if (rc)
                return rc;
        }
        return ETA_OK;
    }
    case ARG_TRIPLE: {
        if (v->kind != ETA_SPEC_TUPLE && v->kind != ETA_SPEC_LIST)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a tuple of 3 numbers, got %s", a->name,
                                 eta_spec_kind_name(v->kind));
        if (v->n != 3)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must have 3 elements, got %d", a->name, v->n);
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s[%d]", a->name, k);
            double *dst = real_at(hp, a->off + (size_t)k * sizeof(double));
            rc = eta_spec_get_real(v->items[k], name, dst, err);
            if (!rc)
                rc = check_real(r, a, name, *dst, v->items[k], err);
            if (rc)
                return rc;
        }
        return ETA_OK;
    }
    case ARG_ADJUST: {
        eta_muon_adjust val = ETA_MUON_ADJUST_NONE;
        if (v->kind != ETA_SPEC_NONE) {
            const char *s;
            rc = eta_spec_get_string(v, a->name, &s, err);
            if (rc)
                return rc;
            for (int k = 1; k < ETA_MUON_ADJUST_COUNT && val == ETA_MUON_ADJUST_NONE; k++)
                if (!strcmp(s, adjust_names[k]))
                    val = (eta_muon_adjust)k;
            if (val == ETA_MUON_ADJUST_NONE)
                return eta_spec_fail(err, ETA_EINVAL, v, "%s must be None, 'original' or 'match_rms_adamw', got '%s'",
                                     a->name, s);
        }
        memcpy((char *)hp + a->off, &val, sizeof val);
        return ETA_OK;
    }
    case ARG_BOOL:
        return eta_spec_get_bool(v, a->name, (bool *)(void *)((char *)hp + a->off), err);
    case ARG_ANCHOR: {
        const char *s;
        rc = eta_spec_get_string(v, a->name, &s, err);
        if (rc)
            return rc;
        for (int k = 0; k < ETA_ANCHOR_COUNT; k++)
            if ((a->anchors & ANCHOR_BIT(k)) && strcmp(s, anchor_names[k]) == 0) {
                eta_anchor val = (eta_anchor)k;
                memcpy((char *)hp + a->off, &val, sizeof val);
                return ETA_OK;
            }
        char valid[80] = "";
        for (int k = 0; k < ETA_ANCHOR_COUNT; k++)
            if (a->anchors & ANCHOR_BIT(k)) {
                size_t len = strlen(valid);
                snprintf(valid + len, sizeof valid - len, "%s'%s'", len ? ", " : "", anchor_names[k]);
            }
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be one of %s, got '%s'", a->name, valid, s);
    }
    case ARG_IGNORED:
        if (v->kind != ETA_SPEC_BOOL && v->kind != ETA_SPEC_NONE)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be True, False or None, got %s", a->name,
                                 eta_spec_kind_name(v->kind));
        return ETA_OK;
    case ARG_IGNORED_NUM: {
        double x;
        return eta_spec_get_real(v, a->name, &x, err);
    }
    }
    return ETA_OK;
}

#define MAX_ARGS 24

static const char *rule_name_at(const void *ctx, int k)
{
    (void)ctx;
    return rules[k]->name;
}

int eta_optim_config_from_tree(eta_optim_config *cfg, const eta_spec *call, eta_err *err)
{
    eta_err_clear(err);
    if (!call || call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected an optimizer such as AdamW(lr=1e-3), got %s",
                             call ? eta_spec_kind_name(call->kind) : "nothing");
    int kind = eta_optim_kind_from_name(call->str);
    if (kind < 0) {
        eta_spec_fail(err, ETA_EINVAL, call, "unknown optimizer '%s'", call->str);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, call->str, rule_name_at, NULL, ETA_OPTIM_COUNT, "optimizers",
                           "eta optimize --help");
        return ETA_EINVAL;
    }
    if (kind == ETA_OPTIM_MECHANIC)
        return eta_mech_config_from_tree_(cfg, call, err);
    const optim_rule *r = rules[kind];
    eta_optim_config c = eta_optim_defaults((eta_optim_kind)kind);
    /* Optax's rules take learning_rate; eta also accepts lr for them. */
    bool lr_alias = strcmp(r->args[0].name, "learning_rate") == 0;
    eta_spec_param sig[MAX_ARGS + 1];
    const eta_spec *vals[MAX_ARGS + 1];
    int nsig = r->nargs;
    for (int i = 0; i < r->nargs; i++)
        sig[i] = (eta_spec_param){r->args[i].name, r->args[i].required && !lr_alias, r->args[i].kw_only};
    if (lr_alias)
        sig[nsig++] = (eta_spec_param){"lr", false, true};
    int rc = eta_spec_bind(call, sig, nsig, vals, err);
    if (rc)
        return rc;
    if (lr_alias) {
        if (vals[0] && vals[nsig - 1])
            return eta_spec_fail(err, ETA_EINVAL, vals[nsig - 1],
                                 "%s() got both learning_rate and lr; give one", r->name);
        if (!vals[0])
            vals[0] = vals[nsig - 1];
        if (!vals[0] && r->args[0].required) /* COCOB's has a default */
            return eta_spec_fail(err, ETA_EINVAL, call, "%s() missing required argument 'learning_rate'",
                                 r->name);
    }
    for (int i = 0; i < r->nargs; i++)
        if (vals[i] && (rc = read_arg(r, &r->args[i], vals[i], &c.hp, err)))
            return rc;
    if (r->check) {
        eta_err e;
        rc = r->check(&c.hp, &e);
        if (rc)
            return eta_spec_fail(err, rc, call, "%s", e.msg);
    }
    *cfg = c;
    return ETA_OK;
}

int eta_optim_config_from_spec(eta_optim_config *cfg, const char *spec, eta_err *err)
{
    eta_spec *tree;
    int rc = eta_spec_parse(&tree, spec, err);
    if (rc)
        return rc;
    rc = eta_optim_config_from_tree(cfg, tree, err);
    eta_spec_free(tree);
    return rc;
}

/* How PyTorch and Optax show the defaults of the switches eta ignores. */
static const char *switch_default(const char *name)
{
    static const char *const false_by_default[] = {"capturable", "differentiable", "use_addmm", "fsdp_in_use"};
    static const char *const true_by_default[] = {"weight_decay_mask", "trust_ratio_mask"};
    for (size_t i = 0; i < sizeof false_by_default / sizeof *false_by_default; i++)
        if (!strcmp(name, false_by_default[i]))
            return "False";
    for (size_t i = 0; i < sizeof true_by_default / sizeof *true_by_default; i++)
        if (!strcmp(name, true_by_default[i]))
            return "True";
    return "None";
}

int eta_optim_describe(eta_optim_kind kind, char *buf, size_t n)
{
    const optim_rule *r = eta_optim_rule(kind);
    if (!r)
        return snprintf(buf, n, "?");
    if (kind == ETA_OPTIM_MECHANIC)
        return eta_mech_describe_(buf, n);
    char out[1024], x[40], y[40];
    size_t len = (size_t)snprintf(out, sizeof out, "%s(", r->name);
    bool star = false;
    for (int i = 0; i < r->nargs && len < sizeof out; i++) {
        const optim_arg *a = &r->args[i];
        const char *sep = i ? ", " : "";
        if (a->kw_only && !star) {
            len += (size_t)snprintf(out + len, sizeof out - len, "%s*", sep);
            star = true;
            sep = ", ";
        }
        if (len >= sizeof out)
            break;
        char *o = out + len;
        size_t room = sizeof out - len;
        switch (a->type) {
        case ARG_INT:
            len += (size_t)snprintf(o, room, "%s%s=%.0f", sep, a->name, real_of(&r->defaults, a->off));
            break;
        case ARG_REAL:
        case ARG_REAL_OR_NONE:
        case ARG_REAL_OR_INF: {
            if (a->required) {
                len += (size_t)snprintf(o, room, "%s%s", sep, a->name);
                break;
            }
            double v = real_of(&r->defaults, a->off);
            if (isnan(v))
                snprintf(x, sizeof x, "None");
            else if (isinf(v))
                snprintf(x, sizeof x, "float('%sinf')", v < 0 ? "-" : "");
            else
                eta_fmt_real(x, sizeof x, v);
            len += (size_t)snprintf(o, room, "%s%s=%s", sep, a->name, x);
            break;
        }
        case ARG_IGNORED_NUM:
            len += (size_t)snprintf(o, room, "%s%s=0", sep, a->name);
            break;
        case ARG_PAIR:
        case ARG_EPS_PAIR: {
            double v0 = real_of(&r->defaults, a->off);
            if (a->type == ARG_EPS_PAIR && isnan(v0))
                snprintf(x, sizeof x, "None");
            else
                eta_fmt_real(x, sizeof x, v0);
            eta_fmt_real(y, sizeof y, real_of(&r->defaults, a->off2));
            len += (size_t)snprintf(o, room, "%s%s=(%s, %s)", sep, a->name, x, y);
            break;
        }
        case ARG_TRIPLE: {
            char z[40];
            eta_fmt_real(x, sizeof x, real_of(&r->defaults, a->off));
            eta_fmt_real(y, sizeof y, real_of(&r->defaults, a->off + sizeof(double)));
            eta_fmt_real(z, sizeof z, real_of(&r->defaults, a->off + 2 * sizeof(double)));
            len += (size_t)snprintf(o, room, "%s%s=(%s, %s, %s)", sep, a->name, x, y, z);
            break;
        }
        case ARG_ADJUST: {
            unsigned v;
            memcpy(&v, (const char *)&r->defaults + a->off, sizeof v);
            const char *val = v < ETA_MUON_ADJUST_COUNT ? adjust_names[v] : "?";
            if (v == ETA_MUON_ADJUST_NONE)
                len += (size_t)snprintf(o, room, "%s%s=%s", sep, a->name, val);
            else
                len += (size_t)snprintf(o, room, "%s%s='%s'", sep, a->name, val);
            break;
        }
        case ARG_BOOL: {
            bool b;
            memcpy(&b, (const char *)&r->defaults + a->off, sizeof b);
            len += (size_t)snprintf(o, room, "%s%s=%s", sep, a->name, b ? "True" : "False");
            break;
        }
        case ARG_ANCHOR: {
            unsigned v;
            memcpy(&v, (const char *)&r->defaults + a->off, sizeof v);
            len += (size_t)snprintf(o, room, "%s%s='%s'", sep, a->name, eta_anchor_name((eta_anchor)v));
            break;
        }
        case ARG_IGNORED:
            len += (size_t)snprintf(o, room, "%s%s=%s", sep, a->name, switch_default(a->name));
            break;
        }
    }
    if (len < sizeof out)
        snprintf(out + len, sizeof out - len, ")");
    return snprintf(buf, n, "%s", out);
}
