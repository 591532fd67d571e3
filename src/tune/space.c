/* tune/space.c - a sweep's search space, read from --grid and --random:
 *
 *   --grid 'optimizer.lr=logspace(1e-4, 1, 13)'  13 values from 1e-4 to 1, evenly spaced in
 *                                                log (numpy's geomspace: the ends are given)
 *   --grid 'optimizer.momentum=linspace(0.8, 0.99, 4)'   numpy's linspace
 *   --grid 'data.batch_size=[64, 128, 256]'     a list: numbers, or 'texts' (specs)
 *   --random 'optimizer.lr=loguniform(1e-5, 1)'  Optuna's suggest_float(log=True), Ray's loguniform
 *   --random 'optimizer.momentum=uniform(0.8, 0.99)'
 *
 * The right-hand side is read by the spec parser (a Python call or list).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "tune/sweep.h"

/* "ARG: WHAT", located at v (off: where the value starts in arg). */
static int fail_at(eta_err *err, const char *arg, const eta_spec *v, int off, const char *what)
{
    eta_err_clear(err);
    if (err) {
        err->code = ETA_EINVAL;
        err->pos = v ? off + v->pos : -1;
        err->len = v ? v->len : 0;
        snprintf(err->msg, sizeof err->msg, "%s: %s", arg, what);
    }
    return ETA_EINVAL;
}

/* The call's positional reals: exactly n of them. */
static int call_reals(const eta_spec *c, const char *arg, int off, double *out, int n, eta_err *err)
{
    if (c->n != n)
        return fail_at(err, arg, c, off, n == 3 ? "expected three numbers (from, to, count)"
                                                          : "expected two numbers (low, high)");
    for (int i = 0; i < n; i++) {
        if (c->keys[i])
            return fail_at(err, arg, c->items[i], off, "arguments are positional");
        if (eta_spec_get_real(c->items[i], c->str, &out[i], NULL))
            return fail_at(err, arg, c->items[i], off, "not a number");
    }
    return ETA_OK;
}

static int grid_alloc(sweep_dim *d, int n)
{
    d->n = n;
    d->values = calloc((size_t)n, sizeof *d->values);
    d->nums = calloc((size_t)n, sizeof *d->nums);
    return d->values && d->nums ? ETA_OK : ETA_ENOMEM;
}

static int grid_number(sweep_dim *d, int i, double x)
{
    char buf[64];
    eta_fmt_real(buf, sizeof buf, x);
    d->nums[i] = x;
    return (d->values[i] = strdup(buf)) ? ETA_OK : ETA_ENOMEM;
}

static int read_list(sweep_dim *d, const eta_spec *v, const char *arg, int off, const char *rhs, eta_err *err)
{
    if (v->n < 1)
        return fail_at(err, arg, v, off, "an empty list");
    int rc = grid_alloc(d, v->n);
    for (int i = 0; i < v->n && !rc; i++) {
        const eta_spec *it = v->items[i];
        if (it->kind == ETA_SPEC_NUMBER) {
            if ((rc = grid_number(d, i, it->num)))
                return rc;
            if (it->is_int) { /* 64, not 64.0: an int key takes it */
                free(d->values[i]);
                d->values[i] = strndup(rhs + it->pos, (size_t)it->len);
            }
        } else if (it->kind == ETA_SPEC_STRING || it->kind == ETA_SPEC_BOOL || it->kind == ETA_SPEC_NAME) {
            d->nums[i] = NAN;
            d->values[i] = it->kind == ETA_SPEC_STRING ? strdup(it->str) : strndup(rhs + it->pos, (size_t)it->len);
        } else {
            return fail_at(err, arg, it, off, "a list item is a number or a 'text'");
        }
        if (!d->values[i])
            rc = ETA_ENOMEM;
        else if (strlen(d->values[i]) >= SWEEP_VALUE_LEN)
            return fail_at(err, arg, it, off, "a value longer than 255 bytes");
    }
    return rc;
}

static int read_expr(sweep_dim *d, const eta_spec *v, bool grid, const char *arg, int off, const char *rhs,
                     eta_err *err)
{
    double x[3];
    int rc;
    if (grid && v->kind == ETA_SPEC_LIST)
        return read_list(d, v, arg, off, rhs, err);
    const char *fn = v->kind == ETA_SPEC_CALL ? v->str : "";
    d->kind = SWEEP_GRID;
    if (grid && (!strcmp(fn, "logspace") || !strcmp(fn, "linspace"))) {
        bool lg = fn[1] == 'o';
        if ((rc = call_reals(v, arg, off, x, 3, err)))
            return rc;
        if (x[2] != floor(x[2]) || x[2] < 1 || x[2] > 10000)
            return fail_at(err, arg, v->items[2], off, "the count must be an integer in [1, 10000]");
        if (lg && (x[0] <= 0 || x[1] <= 0))
            return fail_at(err, arg, v, off, "logspace needs positive ends (it spaces them in log)");
        int n = (int)x[2];
        if ((rc = grid_alloc(d, n)))
            return rc;
        /* numpy: linspace is i * ((to - from) / (n - 1)) + from; geomspace is 10 ** linspace(log10(from),
           log10(to), n) with the ends set to from and to */
        double a = lg ? log10(x[0]) : x[0], b = lg ? log10(x[1]) : x[1];
        double step = n > 1 ? (b - a) / (n - 1) : 0;
        for (int i = 0; i < n && !rc; i++) {
            double y = i * step + a;
            if (lg)
                y = pow(10.0, y);
            if (i == 0)
                y = x[0];
            else if (i == n - 1)
                y = x[1];
            rc = grid_number(d, i, y);
        }
        return rc;
    }
    if (!grid && (!strcmp(fn, "loguniform") || !strcmp(fn, "uniform"))) {
        d->kind = fn[0] == 'l' ? SWEEP_LOGUNIFORM : SWEEP_UNIFORM;
        if ((rc = call_reals(v, arg, off, x, 2, err)))
            return rc;
        if (!(x[0] < x[1]))
            return fail_at(err, arg, v, off, "the low end must be below the high end");
        if (d->kind == SWEEP_LOGUNIFORM && x[0] <= 0)
            return fail_at(err, arg, v, off, "loguniform needs a positive low end");
        d->lo = x[0];
        d->hi = x[1];
        return ETA_OK;
    }
    return fail_at(err, arg, v, off,
                   grid ? "--grid takes logspace(from, to, n), linspace(from, to, n) or a list [a, b, ...]"
                        : "--random takes loguniform(low, high) or uniform(low, high)");
}

int sweep_space_add(sweep_space *s, const char *arg, bool grid, eta_err *err)
{
    eta_err_clear(err);
    const char *eq = strchr(arg, '=');
    size_t klen = eq ? (size_t)(eq - arg) : 0;
    while (klen && arg[klen - 1] == ' ')
        klen--;
    if (!eq || klen == 0 || klen >= sizeof s->dims[0].key) {
        if (err) {
            err->code = ETA_EINVAL;
            snprintf(err->msg, sizeof err->msg, "%s: expected KEY=VALUES, such as optimizer.lr=%s", arg,
                     grid ? "logspace(1e-4, 1, 13)" : "loguniform(1e-5, 1)");
        }
        return ETA_EINVAL;
    }
    for (int i = 0; i < s->n; i++)
        if (strlen(s->dims[i].key) == klen && !strncmp(s->dims[i].key, arg, klen)) {
            if (err) {
                err->code = ETA_EINVAL;
                snprintf(err->msg, sizeof err->msg, "%s: %.*s is swept twice", arg, (int)klen, arg);
            }
            return ETA_EINVAL;
        }
    if (s->n >= SWEEP_MAX_DIMS) {
        if (err) {
            err->code = ETA_EINVAL;
            snprintf(err->msg, sizeof err->msg, "%s: at most %d keys can be swept", arg, SWEEP_MAX_DIMS);
        }
        return ETA_EINVAL;
    }
    sweep_dim *dims = realloc(s->dims, (size_t)(s->n + 1) * sizeof *dims);
    if (!dims)
        return ETA_ENOMEM;
    s->dims = dims;
    sweep_dim *d = &dims[s->n];
    memset(d, 0, sizeof *d);
    memcpy(d->key, arg, klen);
    eta_spec *v;
    int off = (int)(eq + 1 - arg);
    int rc = eta_spec_parse(&v, eq + 1, err);
    if (rc) {
        if (err) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            snprintf(err->msg, sizeof err->msg, "%.100s: %.150s", arg, msg);
            err->code = ETA_EINVAL;
            err->pos = err->pos >= 0 ? err->pos + off : -1;
        }
        return ETA_EINVAL;
    }
    rc = read_expr(d, v, grid, arg, off, eq + 1, err);
    eta_spec_free(v);
    s->n++; /* freed with the space on failure too */
    return rc;
}

void sweep_space_free(sweep_space *s)
{
    for (int i = 0; i < s->n; i++) {
        for (int j = 0; j < s->dims[i].n && s->dims[i].values; j++)
            free(s->dims[i].values[j]);
        free(s->dims[i].values);
        free(s->dims[i].nums);
    }
    free(s->dims);
    s->dims = NULL;
    s->n = 0;
}

int64_t sweep_space_grid_size(const sweep_space *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->n; i++) {
        if (s->dims[i].kind != SWEEP_GRID)
            return 0;
        n *= s->dims[i].n;
    }
    return n;
}

void sweep_space_value(const sweep_dim *d, double u, char *text, size_t n, double *num)
{
    double x;
    if (d->kind == SWEEP_GRID) {
        int i = (int)floor(u * d->n);
        i = i < 0 ? 0 : i >= d->n ? d->n - 1 : i;
        snprintf(text, n, "%s", d->values[i]);
        *num = d->nums[i];
        return;
    }
    if (d->kind == SWEEP_LOGUNIFORM)
        x = exp(log(d->lo) + u * (log(d->hi) - log(d->lo)));
    else
        x = d->lo + u * (d->hi - d->lo);
    eta_fmt_real(text, n, x);
    *num = x;
}
