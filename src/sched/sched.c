/* sched/sched.c - the eta_sched object: the registry of schedule kinds,
 * building a tree of nodes from a spec (Python binding, the kind's argument
 * table, its check), evaluation, metrics for stateful nodes, and applying a
 * schedule to an optimizer. The kinds live in their families' files
 * (torch_*.c, keras.c, optax.c, ...); state files in sched_save.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "sched/node.h"
#include "sched/sched_impl.h"

/* ---- registry ------------------------------------------------------- */

static const sched_kind *const *const families[] = {sched_torch_kinds, sched_anchor_kinds};

int eta_sched_kind_count(void)
{
    int n = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (int i = 0; families[f][i]; i++)
            n++;
    return n;
}

static const sched_kind *kind_at(int k)
{
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        for (int i = 0; families[f][i]; i++)
            if (k-- == 0)
                return families[f][i];
    return NULL;
}

const char *eta_sched_kind_name(int k)
{
    const sched_kind *s = kind_at(k);
    return s ? s->name : NULL;
}

const char *eta_sched_kind_family(int k)
{
    const sched_kind *s = kind_at(k);
    return s ? s->family : NULL;
}

static const sched_kind *kind_named(const char *name)
{
    for (int k = 0, n = eta_sched_kind_count(); k < n; k++)
        if (!strcmp(kind_at(k)->name, name))
            return kind_at(k);
    return NULL;
}

/* ---- nodes ---------------------------------------------------------- */

void sched_node_free(sched_node *n)
{
    if (!n)
        return;
    for (int i = 0; i < SCHED_MAX_ARGS; i++)
        free(n->vec[i]);
    free(n->dict_values);
    free(n->cursor);
    for (int i = 0; i < n->nkids; i++)
        sched_node_free(n->kids[i]);
    free(n->kids);
    free(n);
}

double sched_node_lr(const sched_node *n, double t, double base, int group)
{
    return n->kind->lr(n, t, base, group);
}

double sched_node_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    return n->kind->chain ? n->kind->chain(n, t, lr, base, group) : n->kind->lr(n, (double)t, base, group);
}

double sched_node_momentum(const sched_node *n, double t, int group)
{
    return n->kind->momentum ? n->kind->momentum(n, t, group) : NAN;
}

double sched_node_arg(const sched_node *n, int i, int group)
{
    if (n->vec[i] && n->kind->args[i].type == SA_REAL_OR_REALS)
        return n->vec[i][group < n->vlen[i] ? group : n->vlen[i] - 1];
    return n->v[i];
}

int sched_node_groups(const sched_node *n)
{
    int g = 0;
    for (int i = 0; i < n->kind->nargs; i++)
        if (n->kind->args[i].type == SA_REAL_OR_REALS && n->vec[i] && n->vlen[i] > g)
            g = n->vlen[i];
    for (int k = 0; k < n->nkids; k++) {
        int kg = sched_node_groups(n->kids[k]);
        if (kg > g)
            g = kg;
    }
    return g;
}

bool sched_node_cycles(const sched_node *n)
{
    if (!(n->kind->flags & SCHED_COMPOSITE))
        return n->cycles;
    for (int i = 0; i < n->nkids; i++)
        if (sched_node_cycles(n->kids[i]))
            return true;
    return false;
}

bool sched_node_stateful(const sched_node *n)
{
    if (!(n->kind->flags & SCHED_COMPOSITE))
        return n->kind->observe != NULL;
    for (int i = 0; i < n->nkids; i++)
        if (sched_node_stateful(n->kids[i]))
            return true;
    return false;
}

void sched_node_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    if (n->kind->observe)
        n->kind->observe(n, step, metric, inputs, ngroups);
}

int64_t sched_node_last_step(const sched_node *n)
{
    return n->kind->last_step ? n->kind->last_step(n) : INT64_MAX;
}

int64_t sched_node_length(const sched_node *n)
{
    return n->kind->length ? n->kind->length(n) : 0;
}

/* ---- building from a spec ------------------------------------------ */

static int read_reals(const eta_spec *v, const sched_arg *a, double **out, int *len, eta_err *err)
{
    if (v->kind != ETA_SPEC_LIST && v->kind != ETA_SPEC_TUPLE)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a list of numbers, got %s", a->name,
                             eta_spec_kind_name(v->kind));
    double *x = malloc(((size_t)v->n + 1) * sizeof *x);
    if (!x)
        return eta_spec_fail(err, ETA_ENOMEM, v, "out of memory");
    char name[64];
    for (int i = 0; i < v->n; i++) {
        snprintf(name, sizeof name, "%s[%d]", a->name, i);
        int rc = eta_spec_get_real(v->items[i], name, &x[i], err);
        if (!rc)
            rc = eta_spec_check_range(v->items[i], name, x[i], a->lo, a->lo_open, a->hi, a->hi_open, err);
        if (!rc && a->type == SA_INT && x[i] != floor(x[i]))
            rc = eta_spec_fail(err, ETA_EINVAL, v->items[i], "%s must be an integer, got %g", name, x[i]);
        if (rc) {
            free(x);
            return rc;
        }
    }
    *out = x;
    *len = v->n;
    return ETA_OK;
}

static int read_choice(const eta_spec *v, const sched_arg *a, double *out, eta_err *err)
{
    const char *s;
    int rc = eta_spec_get_string(v, a->name, &s, err);
    if (rc)
        return rc;
    const char *c = a->choices;
    for (int i = 0; *c; i++) {
        size_t len = strcspn(c, "|");
        if (strlen(s) == len && !strncmp(s, c, len)) {
            *out = i;
            return ETA_OK;
        }
        c += len + (c[len] == '|');
    }
    char valid[512] = "";
    for (c = a->choices; *c;) {
        size_t len = strcspn(c, "|"), used = strlen(valid);
        snprintf(valid + used, sizeof valid - used, "%s'%.*s'", used ? ", " : "", (int)len, c);
        c += len + (c[len] == '|');
    }
    return eta_spec_fail(err, ETA_EINVAL, v, "%s must be one of %s, got '%s'", a->name, valid, s);
}

static int build(sched_node **out, const eta_spec *call, eta_err *err);

/* A dict of keyword arguments for the kind named `kind` (Optax's
 * sgdr_schedule([{'init_value': 0.1, ...}, ...])): built as the call
 * kind(**dict), its errors located in the dict. */
static int build_kwargs(sched_node **out, const char *kind, const eta_spec *dict, eta_err *err)
{
    *out = NULL;
    for (int k = 0; k < dict->n; k++)
        if (dict->items[2 * k]->kind != ETA_SPEC_STRING)
            return eta_spec_fail(err, ETA_EINVAL, dict->items[2 * k],
                                 "the keys of a dict of %s's arguments must be argument names, got %s", kind,
                                 eta_spec_kind_name(dict->items[2 * k]->kind));
    size_t n = (size_t)dict->n + 1;
    const eta_spec **items = malloc(n * sizeof *items);
    const char **keys = malloc(n * sizeof *keys);
    int *key_pos = malloc(n * sizeof *key_pos);
    int rc;
    if (!items || !keys || !key_pos) {
        rc = eta_spec_fail(err, ETA_ENOMEM, dict, "out of memory");
    } else {
        for (int k = 0; k < dict->n; k++) {
            items[k] = dict->items[2 * k + 1];
            keys[k] = dict->items[2 * k]->str;
            key_pos[k] = dict->items[2 * k]->pos;
        }
        eta_spec call = {ETA_SPEC_CALL, dict->pos, dict->len, 0, false, kind, dict->n, (eta_spec **)items, keys,
                         key_pos};
        rc = build(out, &call, err);
    }
    free(items);
    free(keys);
    free(key_pos);
    return rc;
}

static int read_arg(sched_node *n, int i, const eta_spec *v, eta_err *err)
{
    const sched_arg *a = &n->kind->args[i];
    int rc;
    n->given[i] = true;
    switch (a->type) {
    case SA_REAL:
    case SA_INT:
    case SA_OPT_REAL:
        if (a->type == SA_OPT_REAL && v->kind == ETA_SPEC_NONE) {
            n->v[i] = NAN;
            return ETA_OK;
        }
        if (a->type == SA_INT) {
            int64_t k;
            if ((rc = eta_spec_get_int(v, a->name, &k, err)))
                return rc;
            n->v[i] = (double)k;
        } else if ((rc = eta_spec_get_real(v, a->name, &n->v[i], err))) {
            return rc;
        }
        return eta_spec_check_range(v, a->name, n->v[i], a->lo, a->lo_open, a->hi, a->hi_open, err);
    case SA_BOOL: {
        bool b;
        if ((rc = eta_spec_get_bool(v, a->name, &b, err)))
            return rc;
        n->v[i] = b;
        return ETA_OK;
    }
    case SA_CHOICE:
        return read_choice(v, a, &n->v[i], err);
    case SA_REALS:
        return read_reals(v, a, &n->vec[i], &n->vlen[i], err);
    case SA_REAL_OR_REALS:
        if (v->kind == ETA_SPEC_LIST || v->kind == ETA_SPEC_TUPLE) {
            if ((rc = read_reals(v, a, &n->vec[i], &n->vlen[i], err)))
                return rc;
            if (n->vlen[i] == 0)
                return eta_spec_fail(err, ETA_EINVAL, v, "%s must not be empty", a->name);
            n->v[i] = n->vec[i][0];
            return ETA_OK;
        }
        if ((rc = eta_spec_get_real(v, a->name, &n->v[i], err)))
            return rc;
        return eta_spec_check_range(v, a->name, n->v[i], a->lo, a->lo_open, a->hi, a->hi_open, err);
    case SA_SCHEDS:
        if (v->kind != ETA_SPEC_LIST && v->kind != ETA_SPEC_TUPLE)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a list of schedules, got %s", a->name,
                                 eta_spec_kind_name(v->kind));
        if (v->n == 0)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must not be empty", a->name);
        n->kids = calloc((size_t)v->n, sizeof *n->kids);
        if (!n->kids)
            return eta_spec_fail(err, ETA_ENOMEM, v, "out of memory");
        for (int k = 0; k < v->n; k++) {
            const eta_spec *item = v->items[k];
            rc = item->kind == ETA_SPEC_DICT && a->choices ? build_kwargs(&n->kids[k], a->choices, item, err)
                                                           : build(&n->kids[k], item, err);
            if (rc)
                return rc;
            n->nkids++;
        }
        return ETA_OK;
    case SA_DICT: {
        if (v->kind != ETA_SPEC_DICT)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a dict {step: value, ...}, got %s", a->name,
                                 eta_spec_kind_name(v->kind));
        n->vec[i] = malloc(((size_t)v->n + 1) * sizeof(double));
        n->dict_values = malloc(((size_t)v->n + 1) * sizeof(double));
        if (!n->vec[i] || !n->dict_values)
            return eta_spec_fail(err, ETA_ENOMEM, v, "out of memory");
        n->vlen[i] = v->n;
        char key[64], value[64];
        snprintf(key, sizeof key, "%s key", a->name);
        snprintf(value, sizeof value, "%s value", a->name);
        for (int k = 0; k < v->n; k++) {
            if ((rc = eta_spec_get_real(v->items[2 * k], key, &n->vec[i][k], err)) ||
                (rc = eta_spec_get_real(v->items[2 * k + 1], value, &n->dict_values[k], err)))
                return rc;
        }
        return ETA_OK;
    }
    case SA_IGNORED:
        return ETA_OK;
    }
    return ETA_OK;
}

static const char *kind_name_at(const void *ctx, int i)
{
    (void)ctx;
    return eta_sched_kind_name(i);
}

static int build(sched_node **out, const eta_spec *call, eta_err *err)
{
    *out = NULL;
    if (!call || call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected a schedule such as StepLR(step_size=10), got %s",
                             call ? eta_spec_kind_name(call->kind) : "nothing");
    const sched_kind *k = kind_named(call->str);
    if (!k) {
        eta_spec_fail(err, ETA_EINVAL, call, "unknown schedule '%s'", call->str);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, call->str, kind_name_at, NULL, eta_sched_kind_count(),
                           "schedules", "eta schedule --list");
        return ETA_EINVAL;
    }
    if (k->flags & SCHED_CALLBACK)
        return eta_spec_fail(err, ETA_EINVAL, call,
                             "%s takes a Python callable, which a spec cannot hold; in C use eta_sched_new_lambda",
                             k->name);
    sched_node *n = calloc(1, sizeof *n);
    if (!n)
        return eta_spec_fail(err, ETA_ENOMEM, call, "out of memory");
    n->kind = k;
    n->pos = call->pos;
    n->len = call->len;
    eta_spec_param sig[SCHED_MAX_ARGS];
    const eta_spec *vals[SCHED_MAX_ARGS];
    for (int i = 0; i < k->nargs; i++) {
        sig[i] = (eta_spec_param){k->args[i].name, k->args[i].required, false};
        n->v[i] = k->args[i].dflt;
    }
    int rc = eta_spec_bind(call, sig, k->nargs, vals, err);
    for (int i = 0; i < k->nargs && !rc; i++)
        if (vals[i])
            rc = read_arg(n, i, vals[i], err);
    if (!rc && k->check)
        rc = k->check(n, call, vals, err);
    if (rc) {
        sched_node_free(n);
        return rc;
    }
    *out = n;
    return ETA_OK;
}

int eta_sched_new_tree(eta_sched **out, const eta_spec *call, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_sched *s = calloc(1, sizeof *s);
    if (!s)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    int rc = build(&s->root, call, err);
    if (!rc && (rc = sched_compose_prepare(s->root, err)))
        sched_node_free(s->root);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return ETA_OK;
}

int eta_sched_new(eta_sched **out, const char *spec, eta_err *err)
{
    eta_spec *tree;
    *out = NULL;
    int rc = eta_spec_parse(&tree, spec, err);
    if (rc)
        return rc;
    rc = eta_sched_new_tree(out, tree, err);
    eta_spec_free(tree);
    return rc;
}

void eta_sched_free(eta_sched *s)
{
    if (!s)
        return;
    sched_node_free(s->root);
    free(s);
}

/* ---- evaluation ----------------------------------------------------- */

double eta_sched_lr_group(const eta_sched *s, double step, double base_lr, int group)
{
    if (!(step >= 0) || step > (double)sched_node_last_step(s->root) || group < 0)
        return NAN;
    return sched_node_lr(s->root, step, base_lr, group);
}

double eta_sched_lr(const eta_sched *s, double step, double base_lr)
{
    return eta_sched_lr_group(s, step, base_lr, 0);
}

int eta_sched_groups(const eta_sched *s)
{
    return sched_node_groups(s->root);
}

bool eta_sched_cycles_momentum(const eta_sched *s)
{
    return sched_node_cycles(s->root);
}

double eta_sched_momentum_group(const eta_sched *s, double step, double base_momentum, int group)
{
    if (!(step >= 0) || step > (double)sched_node_last_step(s->root) || group < 0)
        return NAN;
    double m = sched_node_momentum(s->root, step, group);
    return isnan(m) ? base_momentum : m;
}

double eta_sched_momentum(const eta_sched *s, double step, double base_momentum)
{
    return eta_sched_momentum_group(s, step, base_momentum, 0);
}

int eta_sched_check_step(const eta_sched *s, int64_t step, eta_err *err)
{
    eta_err_clear(err);
    if (step < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "step must be >= 0, got %lld", (long long)step);
    int64_t last = sched_node_last_step(s->root);
    if (step > last)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "step %lld is past the end of the schedule, which is defined for steps 0 to %lld "
                             "(a run of %lld steps)",
                             (long long)step, (long long)last, (long long)eta_sched_length(s));
    return ETA_OK;
}

int64_t eta_sched_last_step(const eta_sched *s)
{
    return sched_node_last_step(s->root);
}

int64_t eta_sched_length(const eta_sched *s)
{
    int64_t len = sched_node_length(s->root), last = sched_node_last_step(s->root);
    if (last != INT64_MAX && (len == 0 || len > last))
        len = last; /* a run cannot go past the schedule's last step */
    return len;
}

bool eta_sched_needs_metric(const eta_sched *s)
{
    return sched_node_stateful(s->root);
}

int eta_sched_observe(eta_sched *s, int64_t step, double metric, const double *base_lrs, int ngroups, eta_err *err)
{
    eta_err_clear(err);
    if (!eta_sched_needs_metric(s))
        return ETA_OK;
    if (step < s->observed)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "metric for step %lld after one for step %lld: observe in order",
                             (long long)step, (long long)(s->observed - 1));
    if (isnan(metric))
        return eta_spec_fail(err, ETA_ENONFINITE, NULL, "metric at step %lld is nan", (long long)step);
    static const double one = 1.0;
    if (!base_lrs || ngroups < 1) {
        base_lrs = &one;
        ngroups = 1;
    }
    sched_node_observe(s->root, step, metric, base_lrs, ngroups);
    if (sched_ring_stateful(s->root))
        sched_cursors_reset(s->root);
    s->observed = step + 1;
    return ETA_OK;
}

int eta_sched_observe_optim(eta_sched *s, const eta_optim *opt, int64_t step, double metric, eta_err *err)
{
    double base[SCHED_MAX_GROUPS];
    int n = eta_optim_group_count(opt);
    n = n < SCHED_MAX_GROUPS ? n : SCHED_MAX_GROUPS;
    for (int g = 0; g < n; g++)
        base[g] = eta_optim_initial_lr(opt, g);
    return eta_sched_observe(s, step, metric, base, n, err);
}

int eta_sched_apply_group(const eta_sched *s, eta_optim *opt, int group, int64_t step)
{
    double lr = eta_sched_lr_group(s, (double)step, eta_optim_initial_lr(opt, group), group);
    if (isnan(lr))
        return ETA_EINVAL;
    int rc = eta_optim_set_lr(opt, group, lr);
    if (!rc && eta_sched_cycles_momentum(s)) {
        double m = eta_sched_momentum_group(s, (double)step, eta_optim_momentum(opt, group), group);
        rc = eta_optim_set_momentum(opt, group, m);
    }
    return rc;
}

int eta_sched_apply(const eta_sched *s, eta_optim *opt, int64_t step)
{
    int want = eta_sched_groups(s), have = eta_optim_group_count(opt);
    if (want > 1 && want != have)
        return ETA_EINVAL; /* a per-group list that does not match the groups */
    for (int g = 0, n = have; g < n; g++) {
        int rc = eta_sched_apply_group(s, opt, g, step);
        if (rc)
            return rc;
    }
    return ETA_OK;
}

int eta_sched_describe(int k, char *buf, size_t n)
{
    const sched_kind *sk = kind_at(k);
    if (!sk)
        return snprintf(buf, n, "?");
    char out[1024], x[40];
    size_t len = (size_t)snprintf(out, sizeof out, "%s(", sk->name);
    for (int i = 0; i < sk->nargs && len < sizeof out; i++) {
        const sched_arg *a = &sk->args[i];
        const char *sep = i ? ", " : "";
        char *o = out + len;
        size_t room = sizeof out - len;
        if (a->required) {
            len += (size_t)snprintf(o, room, "%s%s", sep, a->name);
            continue;
        }
        switch (a->type) {
        case SA_REAL:
        case SA_OPT_REAL:
        case SA_REAL_OR_REALS:
            if (isnan(a->dflt))
                snprintf(x, sizeof x, "None");
            else
                eta_fmt_real(x, sizeof x, a->dflt);
            break;
        case SA_INT:
            if (isnan(a->dflt))
                snprintf(x, sizeof x, "None");
            else
                snprintf(x, sizeof x, "%.0f", a->dflt);
            break;
        case SA_BOOL:
            snprintf(x, sizeof x, "%s", a->dflt != 0 ? "True" : "False");
            break;
        case SA_CHOICE:
            snprintf(x, sizeof x, "'%.*s'", (int)strcspn(a->choices, "|"), a->choices);
            break;
        default:
            snprintf(x, sizeof x, "None");
            break;
        }
        len += (size_t)snprintf(o, room, "%s%s=%s", sep, a->name, x);
    }
    if (len < sizeof out)
        snprintf(out + len, sizeof out - len, ")");
    return snprintf(buf, n, "%s", out);
}
