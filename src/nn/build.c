/* nn/build.c - from a model spec to ops: the registry of modules, binding a
 * call's arguments to a module's table (the spec parser's Python rules),
 * Sequential, and appending ops. Shapes are checked later, by prepare
 * (net.c), when the input shape is known.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/build.h"

/* The families' module tables (NULL-terminated), one per file. */
extern const nn_module *const nn_modules_dense[], *const nn_modules_act[], *const nn_modules_conv[],
    *const nn_modules_norm[], *const nn_modules_seq[], *const nn_modules_rnn[];
static const nn_module *const *const families[] = {nn_modules_dense, nn_modules_act, nn_modules_conv,
                                                   nn_modules_norm, nn_modules_seq, nn_modules_rnn};
#define NFAMILIES (sizeof families / sizeof families[0])

static int lower_sequential(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call,
                            int in, const char *prefix, int *out, eta_err *err);

static const nn_module sequential = {"Sequential", NULL, 0, NULL, lower_sequential,
                                     "Sequential(m1, m2, ...): the modules in order, named 0, 1, ..."};

static const nn_module *module_named(const char *name)
{
    if (!strcmp(name, "Sequential"))
        return &sequential;
    for (size_t f = 0; f < NFAMILIES; f++)
        for (int i = 0; families[f][i]; i++)
            if (!strcmp(families[f][i]->name, name))
                return families[f][i];
    return NULL;
}

int nn_module_count(void)
{
    int n = 1;
    for (size_t f = 0; f < NFAMILIES; f++)
        for (int i = 0; families[f][i]; i++)
            n++;
    return n;
}

const nn_module *nn_module_at(int k)
{
    if (k == 0)
        return &sequential;
    k--;
    for (size_t f = 0; f < NFAMILIES; f++)
        for (int i = 0; families[f][i]; i++)
            if (k-- == 0)
                return families[f][i];
    return NULL;
}

int nn_append(nn_builder *b, const nn_kind *kind, const char *name, const int *in, int nin, const double *a, int na,
              eta_err *err)
{
    nn_net *net = b->net;
    if (net->nops == net->cap_ops) {
        int cap = net->cap_ops ? 2 * net->cap_ops : 16;
        nn_op *ops = realloc(net->ops, (size_t)cap * sizeof *ops);
        if (!ops)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        net->ops = ops;
        net->cap_ops = cap;
        for (int i = 0; i < net->nops; i++)
            ops[i].net = net;
    }
    nn_op *op = &net->ops[net->nops];
    memset(op, 0, sizeof *op);
    op->kind = kind;
    op->net = net;
    snprintf(op->name, sizeof op->name, "%s", name);
    op->layer = b->layer;
    op->nin = nin;
    for (int k = 0; k < nin && k < NN_MAX_IN; k++)
        op->in[k] = in[k];
    for (int k = 0; k < na && k < NN_MAX_ARGS; k++)
        op->a[k] = a[k];
    op->rng = 0x853c49e6748fea9bull ^ ((uint64_t)net->nops * 0x9e3779b97f4a7c15ull);
    return net->nops++;
}

/* Binds a call to a module's table: values into a[] by position (NA_INT2
 * takes two slots), with ranges checked and errors located. */
static int bind_args(const nn_module *m, const eta_spec *call, double *a, const eta_spec **vals, eta_err *err)
{
    eta_spec_param sig[NN_MAX_ARGS];
    for (int i = 0; i < m->nargs; i++)
        sig[i] = (eta_spec_param){m->args[i].name, m->args[i].required, false};
    int rc = eta_spec_bind(call, sig, m->nargs, vals, err);
    if (rc)
        return rc;
    int slot = 0;
    for (int i = 0; i < m->nargs; i++) {
        const nn_arg *g = &m->args[i];
        const eta_spec *v = vals[i];
        double x = g->dflt, y = g->dflt;
        if (v) {
            switch (g->type) {
            case NA_INT:
            case NA_INT2: {
                int64_t k;
                if (g->type == NA_INT2 && (v->kind == ETA_SPEC_TUPLE || v->kind == ETA_SPEC_LIST)) {
                    if (v->n != 2)
                        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be an int or a pair of ints", g->name);
                    int64_t k2;
                    if ((rc = eta_spec_get_int(v->items[0], g->name, &k, err)) ||
                        (rc = eta_spec_get_int(v->items[1], g->name, &k2, err)))
                        return rc;
                    x = (double)k;
                    y = (double)k2;
                    if ((rc = eta_spec_check_range(v->items[1], g->name, y, g->lo, false, g->hi, false, err)))
                        return rc;
                } else {
                    if ((rc = eta_spec_get_int(v, g->name, &k, err)))
                        return rc;
                    x = y = (double)k;
                }
                break;
            }
            case NA_REAL:
                if ((rc = eta_spec_get_real(v, g->name, &x, err)))
                    return rc;
                break;
            case NA_BOOL: {
                bool bv;
                if ((rc = eta_spec_get_bool(v, g->name, &bv, err)))
                    return rc;
                x = bv;
                break;
            }
            case NA_CHOICE: {
                const char *s;
                if ((rc = eta_spec_get_string(v, g->name, &s, err)))
                    return rc;
                int idx = -1, k = 0;
                for (const char *c = g->choices; *c; k++) {
                    size_t len = strcspn(c, "|");
                    if (strlen(s) == len && !strncmp(s, c, len))
                        idx = k;
                    c += len + (c[len] == '|');
                }
                if (idx < 0)
                    return eta_spec_fail(err, ETA_EINVAL, v, "%s must be one of '%s' (separated by |), got '%s'",
                                         g->name, g->choices, s);
                x = idx;
                break;
            }
            case NA_IGNORED:
                break;
            }
            if (g->type != NA_IGNORED && g->type != NA_CHOICE && g->type != NA_BOOL &&
                (rc = eta_spec_check_range(v, g->name, x, g->lo, false, g->hi, false, err)))
                return rc;
        }
        if (slot + (g->type == NA_INT2 ? 2 : 1) > NN_MAX_ARGS)
            return eta_spec_fail(err, ETA_EINVAL, call, "%s: too many arguments for eta", m->name);
        a[slot++] = x;
        if (g->type == NA_INT2)
            a[slot++] = y;
    }
    return ETA_OK;
}

static const char *module_name_at(const void *ctx, int k)
{
    (void)ctx;
    return nn_module_at(k)->name;
}

int nn_lower_call(nn_builder *b, const eta_spec *call, int in, const char *prefix, int *out, eta_err *err)
{
    if (!call || call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected a module such as Linear(784, 10), got %s",
                             call ? eta_spec_kind_name(call->kind) : "nothing");
    const nn_module *m = module_named(call->str);
    if (!m) {
        eta_spec_fail(err, ETA_EINVAL, call, "unknown module '%s'", call->str);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, call->str, module_name_at, NULL, nn_module_count(), "modules",
                           "eta model --list");
        return ETA_EINVAL;
    }
    if (++b->depth > 32) {
        b->depth--;
        return eta_spec_fail(err, ETA_EINVAL, call, "modules nested too deeply");
    }
    double a[NN_MAX_ARGS];
    const eta_spec *vals[NN_MAX_ARGS] = {0};
    int rc = m->lower == lower_sequential ? ETA_OK : bind_args(m, call, a, vals, err);
    if (!rc) {
        if (m->lower) {
            rc = m->lower(b, a, vals, call, in, prefix, out, err);
        } else {
            int idx = nn_append(b, m->kind, prefix, &in, 1, a, NN_MAX_ARGS, err);
            rc = idx < 0 ? idx : ETA_OK;
            if (!rc)
                *out = idx;
        }
    }
    b->depth--;
    return rc;
}

/* Sequential(m0, m1, ...): children named 0, 1, ... under the prefix. At the
 * top level each child is a "layer" of the summary. */
static int lower_sequential(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call,
                            int in, const char *prefix, int *out, eta_err *err)
{
    (void)a;
    (void)vals;
    if (call->n == 0)
        return eta_spec_fail(err, ETA_EINVAL, call, "Sequential() needs at least one module");
    bool top = b->depth == 1;
    for (int i = 0; i < call->n; i++) {
        if (call->keys[i])
            return eta_spec_fail(err, ETA_EINVAL, call->items[i], "Sequential() takes modules, not keyword arguments");
        char name[NN_NAME];
        snprintf(name, sizeof name, "%s%s%d", prefix, *prefix ? "." : "", i);
        if (top) {
            b->layer = i;
            const eta_spec *c = call->items[i];
            if (i < 64)
                snprintf(b->net->layer_text[i], sizeof b->net->layer_text[i], "%s",
                         c->kind == ETA_SPEC_CALL ? c->str : "?");
            b->net->nlayers = i + 1;
        }
        int rc = nn_lower_call(b, call->items[i], in, name, &in, err);
        if (rc)
            return rc;
    }
    *out = in;
    return ETA_OK;
}

int nn_build(nn_net *net, const eta_spec *call, eta_err *err)
{
    nn_builder b = {net, 0, 0};
    int out;
    /* A single module is a one-layer network. */
    if (call->kind == ETA_SPEC_CALL && strcmp(call->str, "Sequential")) {
        snprintf(net->layer_text[0], sizeof net->layer_text[0], "%s", call->str);
        net->nlayers = 1;
    }
    int rc = nn_lower_call(&b, call, -1, "", &out, err);
    if (!rc && net->nops == 0)
        rc = eta_spec_fail(err, ETA_EINVAL, call, "the network has no layers");
    return rc;
}

/* ---- the public catalogue (eta/nn.h) ---- */

int eta_nn_module_count(void)
{
    return nn_module_count();
}

const char *eta_nn_module_name(int k)
{
    const nn_module *m = k >= 0 ? nn_module_at(k) : NULL;
    return m ? m->name : NULL;
}

const char *eta_nn_module_note(int k)
{
    const nn_module *m = k >= 0 ? nn_module_at(k) : NULL;
    return m ? m->note : NULL;
}
