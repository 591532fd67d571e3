/* spec_bind.c - what binders build on once a spec is parsed (spec.c): matching
 * a call's arguments to a signature as Python does, the typed readers, the
 * range check, and eta_spec_fail for located messages.
 *
 * Binding follows CPython's order of checks (Python/ceval.c, initialize_locals):
 * positional-after-keyword (a SyntaxError in Python, so first), then the
 * positionals in order, then keywords in order (unknown name, multiple
 * values), then too many positionals, then the first missing required one.
 * Numbers in messages are the shortest "%g" text that reads back exactly
 * (0.1 -> "0.1", 3e-4 -> "0.0003"), with '.' whatever the locale.
 */
#include "eta/core.h"

#include "core/error.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eta_spec_fail(eta_err *err, int code, const eta_spec *v, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err) {
        err->code = code;
        err->pos = v ? v->pos : -1;
        err->len = v ? v->len : 0;
        eta_msg_vformat_(err->msg, sizeof err->msg, fmt, ap);
    }
    va_end(ap);
    return code;
}

const char *eta_spec_kind_name(eta_spec_kind k)
{
    static const char *const names[ETA_SPEC_KIND_COUNT] = {
        "number", "bool", "None", "string", "name", "tuple", "list", "dict", "call"};
    return (unsigned)k < ETA_SPEC_KIND_COUNT ? names[k] : "unknown";
}

/* Shortest "%g" text that reads back as x, with '.' whatever the locale. */
static const char *fmt_num(char *buf, size_t n, double x)
{
    if (isnan(x))
        return "nan";
    if (isinf(x))
        return x > 0 ? "inf" : "-inf";
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && !dp[1])
        for (char *c = buf; *c; c++)
            if (*c == dp[0])
                *c = '.';
    return buf;
}

/* As Python's repr of a float: "2.0", not "2". */
static const char *fmt_float(char *buf, size_t n, double x)
{
    const char *s = fmt_num(buf, n, x);
    if (s == buf && strspn(buf, "-0123456789") == strlen(buf) && strlen(buf) + 3 <= n)
        strcat(buf, ".0");
    return s;
}

/* ---- binding ------------------------------------------------------------ */

static void clear_out(const eta_spec **out, int nsig)
{
    for (int j = 0; j < nsig; j++)
        out[j] = NULL;
}

static const char *param_name_at(const void *ctx, int k)
{
    return ((const eta_spec_param *)ctx)[k].name;
}

int eta_spec_bind(const eta_spec *call, const eta_spec_param *sig, int nsig, const eta_spec **out,
                  eta_err *err)
{
    if (!call || call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected a call such as Name(...), got %s",
                             call ? eta_spec_kind_name(call->kind) : "nothing");
    if (nsig < 0 || (nsig > 0 && (!sig || !out)))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_spec_bind: invalid signature");
    const char *fn = call->str;
    clear_out(out, nsig);
    /* Python rejects this while parsing, before anything is bound. */
    int npos = 0;
    bool seen_kw = false;
    for (int i = 0; i < call->n; i++) {
        if (call->keys[i])
            seen_kw = true;
        else if (seen_kw)
            return eta_spec_fail(err, ETA_EINVAL, call->items[i], "positional argument follows keyword argument");
        else
            npos++;
    }
    /* Then the order of CPython's initialize_locals: positionals, keywords,
     * too many positionals, missing ones. */
    int nposparam = 0;
    for (int j = 0; j < nsig; j++)
        if (!sig[j].kw_only) {
            if (nposparam < npos)
                out[j] = call->items[nposparam];
            nposparam++;
        }
    for (int i = npos; i < call->n; i++) {
        const char *key = call->keys[i];
        int j = 0;
        while (j < nsig && strcmp(sig[j].name, key) != 0)
            j++;
        eta_spec at; /* locates the keyword's name */
        memset(&at, 0, sizeof at);
        at.pos = call->key_pos[i];
        at.len = (int)strlen(key);
        if (j == nsig) {
            clear_out(out, nsig);
            eta_spec_fail(err, ETA_EINVAL, &at, "%s() got an unexpected keyword argument '%s'", fn, key);
            if (err) /* the close names, then every name or, if they do not fit, a few and "..." */
                eta_names_hint(err->msg, sizeof err->msg, key, param_name_at, sig, nsig, "arguments", NULL);
            return ETA_EINVAL;
        }
        if (out[j]) {
            clear_out(out, nsig);
            return eta_spec_fail(err, ETA_EINVAL, &at, "%s() got multiple values for argument '%s'", fn, key);
        }
        out[j] = call->items[i];
    }
    if (npos > nposparam) {
        clear_out(out, nsig);
        if (nposparam == 0)
            return eta_spec_fail(err, ETA_EINVAL, call->items[0], "%s() takes no positional arguments (%d given)",
                                 fn, npos);
        return eta_spec_fail(err, ETA_EINVAL, call->items[nposparam],
                             "%s() takes at most %d positional argument%s (%d given)", fn, nposparam,
                             nposparam == 1 ? "" : "s", npos);
    }
    for (int j = 0; j < nsig; j++)
        if (sig[j].required && !out[j]) {
            clear_out(out, nsig);
            return eta_spec_fail(err, ETA_EINVAL, call, "%s() missing required argument '%s'", fn, sig[j].name);
        }
    return ETA_OK;
}

/* ---- typed readers ------------------------------------------------------ */

static const char *nm(const char *name)
{
    return name ? name : "value";
}

static int missing(const char *name, eta_err *err)
{
    return eta_spec_fail(err, ETA_EINVAL, NULL, "%s is required", nm(name));
}

int eta_spec_get_real(const eta_spec *v, const char *name, double *out, eta_err *err)
{
    if (!v)
        return missing(name, err);
    if (v->kind != ETA_SPEC_NUMBER)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a number, got %s", nm(name), eta_spec_kind_name(v->kind));
    if (out)
        *out = v->num;
    return ETA_OK;
}

int eta_spec_get_int(const eta_spec *v, const char *name, int64_t *out, eta_err *err)
{
    char buf[40];
    if (!v)
        return missing(name, err);
    if (v->kind != ETA_SPEC_NUMBER)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be an integer, got %s", nm(name),
                             eta_spec_kind_name(v->kind));
    if (!v->is_int)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be an integer, got %s", nm(name),
                             fmt_float(buf, sizeof buf, v->num));
    if (!(v->num >= -9223372036854775808.0 && v->num < 9223372036854775808.0))
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must fit in 64 bits, got %s", nm(name),
                             fmt_num(buf, sizeof buf, v->num));
    if (out)
        *out = (int64_t)v->num;
    return ETA_OK;
}

int eta_spec_get_bool(const eta_spec *v, const char *name, bool *out, eta_err *err)
{
    if (!v)
        return missing(name, err);
    if (v->kind != ETA_SPEC_BOOL)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be True or False, got %s", nm(name),
                             eta_spec_kind_name(v->kind));
    if (out)
        *out = v->num != 0;
    return ETA_OK;
}

int eta_spec_get_string(const eta_spec *v, const char *name, const char **out, eta_err *err)
{
    if (!v)
        return missing(name, err);
    if (v->kind == ETA_SPEC_NAME)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a string, got name %s (write it in quotes: '%s')",
                             nm(name), v->str, v->str);
    if (v->kind != ETA_SPEC_STRING)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a string, got %s", nm(name), eta_spec_kind_name(v->kind));
    if (out)
        *out = v->str;
    return ETA_OK;
}

int eta_spec_get_reals(const eta_spec *v, const char *name, double *out, int n, int cap, int *count,
                       eta_err *err)
{
    if (!v)
        return missing(name, err);
    if (n < 0 && cap < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_spec_get_reals: n or cap must be >= 0");
    if (v->kind != ETA_SPEC_TUPLE && v->kind != ETA_SPEC_LIST)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a tuple or list of numbers, got %s", nm(name),
                             eta_spec_kind_name(v->kind));
    if (n >= 0 && v->n != n)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must have %d item%s, got %d", nm(name), n, n == 1 ? "" : "s",
                             v->n);
    if (n < 0 && v->n > cap)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must have at most %d item%s, got %d", nm(name), cap,
                             cap == 1 ? "" : "s", v->n);
    for (int i = 0; i < v->n; i++) {
        char item[160];
        double x;
        snprintf(item, sizeof item, "%s[%d]", nm(name), i);
        int rc = eta_spec_get_real(v->items[i], item, &x, err);
        if (rc)
            return rc;
        if (out)
            out[i] = x;
    }
    if (count)
        *count = v->n;
    return ETA_OK;
}

int eta_spec_check_range(const eta_spec *v, const char *name, double x, double lo, bool lo_open, double hi,
                         bool hi_open, eta_err *err)
{
    bool has_lo = lo > -INFINITY, has_hi = hi < INFINITY;
    bool ok = !isnan(x);
    if (ok && has_lo)
        ok = lo_open ? x > lo : x >= lo;
    if (ok && has_hi)
        ok = hi_open ? x < hi : x <= hi;
    if (ok)
        return ETA_OK;
    char bx[40], bl[40], bh[40];
    const char *sx = fmt_num(bx, sizeof bx, x), *sl = fmt_num(bl, sizeof bl, lo), *sh = fmt_num(bh, sizeof bh, hi);
    if (has_lo && has_hi)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be in %c%s, %s%c, got %s", nm(name), lo_open ? '(' : '[',
                             sl, sh, hi_open ? ')' : ']', sx);
    if (has_lo)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be %s %s, got %s", nm(name), lo_open ? ">" : ">=", sl, sx);
    if (has_hi)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be %s %s, got %s", nm(name), hi_open ? "<" : "<=", sh, sx);
    return eta_spec_fail(err, ETA_EINVAL, v, "%s must be a number, got %s", nm(name), sx);
}
