/* data/args.c - reading the arguments of data set specs: split sizes given
 * as counts or fractions, choices among names ("did you mean"), lists of
 * column names or numbers, and optional ints, bools and strings where
 * None means the default. Errors are located at the argument in the spec.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data_impl.h"

int data_arg_count(const eta_spec *v, const char *name, double def, int64_t n, int64_t *out, eta_err *err)
{
    double x = def;
    bool is_int = def == floor(def) && def >= 1;
    if (v && v->kind != ETA_SPEC_NONE) {
        int rc = eta_spec_get_real(v, name, &x, err);
        if (rc)
            return rc;
        is_int = v->is_int;
    }
    if (is_int) {
        if (x < 0 || x >= (double)n)
            return eta_spec_fail(err, ETA_EINVAL, v, "%s = %.0f examples: must be in [0, %lld) (or a fraction in [0, 1))",
                                 name, x, (long long)n);
        *out = (int64_t)x;
        return ETA_OK;
    }
    int rc = eta_spec_check_range(v, name, x, 0, false, 1, true, err);
    if (rc)
        return rc;
    /* ceil as scikit-learn's train_test_split; the rounding guard keeps
     * 0.2 * 150 at 30, not 31 */
    double k = ceil(x * (double)n - 1e-9);
    *out = (int64_t)(k < 0 ? 0 : k);
    return ETA_OK;
}

static const char *choice_at(const void *ctx, int i)
{
    return ((const char *const *)ctx)[i];
}

int data_arg_choice(const eta_spec *v, const char *name, const char *const *choices, int n, int *out, eta_err *err)
{
    if (!v)
        return ETA_OK;
    const char *s;
    int rc = eta_spec_get_string(v, name, &s, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (!strcmp(s, choices[i])) {
            *out = i;
            return ETA_OK;
        }
    eta_spec_fail(err, ETA_EINVAL, v, "%s: unknown value '%s'", name, s);
    if (err)
        eta_names_hint(err->msg, sizeof err->msg, s, choice_at, choices, n, "values", NULL);
    return ETA_EINVAL;
}

/* Adds one name or number to out. */
static int add_name(data_names *out, const eta_spec *item, const char *name, const char *s, size_t len,
                    eta_err *err)
{
    if (out->n == (int)(sizeof out->name / sizeof out->name[0]))
        return eta_spec_fail(err, ETA_EINVAL, item, "%s: more than %d columns", name, out->n);
    int i = out->n++;
    out->at[i] = item;
    out->name[i] = NULL;
    out->num[i] = 0;
    if (s) {
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (!len)
            return eta_spec_fail(err, ETA_EINVAL, item, "%s: empty column name", name);
        if (len >= sizeof out->store[i])
            return eta_spec_fail(err, ETA_EINVAL, item, "%s: column name longer than %zu bytes", name,
                                 sizeof out->store[i] - 1);
        memcpy(out->store[i], s, len);
        out->store[i][len] = '\0';
        out->name[i] = out->store[i];
        return ETA_OK;
    }
    return eta_spec_get_int(item, name, &out->num[i], err);
}

static int add_item(data_names *out, const eta_spec *item, const char *name, bool split, eta_err *err)
{
    if (item->kind == ETA_SPEC_STRING && !split)
        return add_name(out, item, name, item->str, strlen(item->str), err);
    if (item->kind == ETA_SPEC_STRING) {
        const char *s = item->str;
        for (;;) {
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            int rc = add_name(out, item, name, s, len, err);
            if (rc)
                return rc;
            if (!comma)
                return ETA_OK;
            s = comma + 1;
        }
    }
    if (item->kind == ETA_SPEC_NUMBER)
        return add_name(out, item, name, NULL, 0, err);
    return eta_spec_fail(err, ETA_EINVAL, item, "%s: expected a column name or number, got %s", name,
                         eta_spec_kind_name(item->kind));
}

int data_arg_names(const eta_spec *v, const char *name, data_names *out, eta_err *err)
{
    out->n = 0;
    if (!v || v->kind == ETA_SPEC_NONE)
        return ETA_OK;
    if (v->kind == ETA_SPEC_LIST || v->kind == ETA_SPEC_TUPLE) {
        for (int i = 0; i < v->n; i++) {
            int rc = add_item(out, v->items[i], name, false, err);
            if (rc)
                return rc;
        }
        return ETA_OK;
    }
    return add_item(out, v, name, true, err);
}

int data_arg_int(const eta_spec *v, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out,
                 eta_err *err)
{
    *out = def;
    if (!v || v->kind == ETA_SPEC_NONE)
        return ETA_OK;
    int rc = eta_spec_get_int(v, name, out, err);
    if (rc)
        return rc;
    if (*out < lo || *out > hi)
        return eta_spec_fail(err, ETA_EINVAL, v, "%s must be in [%lld, %lld], got %lld", name, (long long)lo,
                             (long long)hi, (long long)*out);
    return ETA_OK;
}

int data_arg_bool(const eta_spec *v, const char *name, bool def, bool *out, eta_err *err)
{
    *out = def;
    if (!v)
        return ETA_OK;
    return eta_spec_get_bool(v, name, out, err);
}

int data_arg_string(const eta_spec *v, const char *name, const char *def, const char **out, eta_err *err)
{
    *out = def;
    if (!v)
        return ETA_OK;
    if (v->kind == ETA_SPEC_NONE) {
        *out = NULL;
        return ETA_OK;
    }
    return eta_spec_get_string(v, name, out, err);
}
