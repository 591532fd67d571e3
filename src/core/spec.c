/* spec.c - the spec language parser: a Python call or literal into a tree of
 * eta_spec nodes, and eta_spec_free. The tokens (white space, numbers,
 * strings, float("...") text) are read by spec_lex.c; binding a call to a
 * signature, the typed readers and the range check live in spec_bind.c.
 *
 * The subset core.h describes: int, float and string literals (spec_lex.c),
 * True/False/None, tuples, lists, dicts (string or number keys), calls with
 * keywords, comments (#) and white space anywhere between tokens. Extensions
 * of the "a name denotes a float" kind: inf, nan (also dotted, math.inf),
 * float('inf'), float('-1e3') and float(3) fold into NUMBER nodes, and
 * dict(a=1) into a DICT node. A dotted name
 * (torch.optim.SGD) is known by its last component, for calls and plain
 * names alike. Unary +/- apply to numbers only.
 *
 * Errors: ETA_EFORMAT located at the offending character; ETA_ENOMEM after
 * freeing everything built so far. Nesting is limited to MAX_DEPTH brackets.
 */
#include "core/spec_lex.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_DEPTH = 64 /* nested brackets and calls */
};

/* ---- names ------------------------------------------------------------- */

static int ident_len(const char *s)
{
    int n = 0;
    if (!is_ident_start((unsigned char)s[0]))
        return 0;
    while (is_ident_char((unsigned char)s[n]))
        n++;
    return n;
}

static bool word_is(const char *s, int n, const char *w)
{
    return (size_t)n == strlen(w) && memcmp(s, w, (size_t)n) == 0;
}

/* ---- tree building ------------------------------------------------------ */

static eta_spec *new_node(eta_spec_kind kind, int pos, int len)
{
    eta_spec *s = calloc(1, sizeof *s);
    if (s) {
        s->kind = kind;
        s->pos = pos;
        s->len = len;
    }
    return s;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Frees the children, keywords and name of s, leaving an empty node. */
static void clear_node(eta_spec *s)
{
    int items = s->kind == ETA_SPEC_DICT ? 2 * s->n : s->n;
    for (int i = 0; i < items; i++)
        eta_spec_free(s->items[i]);
    if (s->keys)
        for (int i = 0; i < s->n; i++)
            free((void *)s->keys[i]);
    free(s->items);
    free((void *)s->keys);
    free((void *)s->key_pos);
    free((void *)s->str);
    s->items = NULL;
    s->keys = NULL;
    s->key_pos = NULL;
    s->str = NULL;
    s->n = 0;
}

void eta_spec_free(eta_spec *s)
{
    if (!s)
        return;
    clear_node(s);
    free(s);
}

/* Items being collected for a tuple, list, dict or call. */
typedef struct vec {
    eta_spec **items;
    char **keys;
    int *kpos;
    int n, cap;
} vec;

/* Appends item (and for a call its keyword); takes ownership of both, even on failure. */
static int vec_push(spec_parser *p, vec *v, eta_spec *item, char *key, int kpos, bool keyed)
{
    if (v->n == v->cap) {
        if (v->cap > INT_MAX / 4)
            goto fail;
        int cap = v->cap ? 2 * v->cap : 4;
        eta_spec **items = realloc(v->items, (size_t)cap * sizeof *items);
        if (!items)
            goto fail;
        v->items = items;
        if (keyed) {
            char **keys = realloc(v->keys, (size_t)cap * sizeof *keys);
            if (!keys)
                goto fail;
            v->keys = keys;
            int *kp = realloc(v->kpos, (size_t)cap * sizeof *kp);
            if (!kp)
                goto fail;
            v->kpos = kp;
        }
        v->cap = cap;
    }
    v->items[v->n] = item;
    if (keyed) {
        v->keys[v->n] = key;
        v->kpos[v->n] = kpos;
    }
    v->n++;
    return ETA_OK;
fail:
    eta_spec_free(item);
    free(key);
    return eta_spec_oom_(p);
}

static void vec_free(vec *v)
{
    for (int i = 0; i < v->n; i++) {
        eta_spec_free(v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->kpos);
    memset(v, 0, sizeof *v);
}

/* ---- the parser --------------------------------------------------------- */

static int parse_value(spec_parser *p, eta_spec **out);

/* String literals, adjacent ones concatenated as in Python. */
static int parse_string(spec_parser *p, eta_spec **out)
{
    int start = p->pos;
    char *str;
    int rc = eta_spec_read_strings_(p, &str);
    if (rc)
        return rc;
    eta_spec *node = new_node(ETA_SPEC_STRING, start, p->pos - start);
    if (!node) {
        free(str);
        return eta_spec_oom_(p);
    }
    node->str = str;
    *out = node;
    return ETA_OK;
}

static int parse_number(spec_parser *p, eta_spec **out)
{
    const char *s = p->s + p->pos;
    int len = 0;
    double v = 0.0;
    bool is_int, lead0;
    bool ok = eta_spec_read_number_(s, &len, &v, &is_int, &lead0);
    if (!ok || lead0 || is_ident_char((unsigned char)s[len])) {
        int n = 0;
        while (is_ident_char((unsigned char)s[n]) || s[n] == '.')
            n++;
        if (ok && lead0 && !is_ident_char((unsigned char)s[len]))
            return eta_spec_fail_at_(p, p->pos, n, "leading zeros in decimal integer literals are not permitted");
        return eta_spec_fail_at_(p, p->pos, n, "invalid number literal");
    }
    if (is_int && !isfinite(v))
        return eta_spec_fail_at_(p, p->pos, len, "integer literal too large");
    eta_spec *node = new_node(ETA_SPEC_NUMBER, p->pos, len);
    if (!node)
        return eta_spec_oom_(p);
    node->num = v;
    node->is_int = is_int;
    p->pos += len;
    *out = node;
    return ETA_OK;
}

/* float(), float(x) with x a number or bool, float('...'): a NUMBER node. */
static int fold_float(spec_parser *p, eta_spec *call)
{
    double v = 0.0;
    if (call->n > 1 || (call->n == 1 && call->keys[0]))
        return ETA_OK;
    if (call->n == 1) {
        const eta_spec *a = call->items[0];
        if (a->kind == ETA_SPEC_NUMBER || a->kind == ETA_SPEC_BOOL)
            v = a->num;
        else if (a->kind != ETA_SPEC_STRING)
            return ETA_OK; /* float(x): left to the binder to reject */
        else if (!eta_spec_float_from_string_(a->str, &v))
            return eta_spec_fail_at_(p, a->pos, a->len, "could not convert string to float: %.*s",
                                     a->len > 200 ? 200 : a->len, p->s + a->pos);
    }
    clear_node(call);
    call->kind = ETA_SPEC_NUMBER;
    call->num = v;
    call->is_int = false;
    return ETA_OK;
}

/* Dict keys are string or number literals: the names of keyword arguments
 * ({'init_value': 0.1}) or Optax's {step: scale}. A string key may appear
 * once (as a keyword in a call); a number key may repeat, the last value
 * winning as in Python. items[k] is the new key, items[0, 2, ..., k-2] the
 * earlier ones. */
static int check_key(spec_parser *p, eta_spec *const *items, int k)
{
    const eta_spec *key = items[k];
    if (key->kind != ETA_SPEC_STRING && key->kind != ETA_SPEC_NUMBER)
        return eta_spec_fail_at_(p, key->pos, key->len, "dict keys must be strings or numbers, got %s",
                                 eta_spec_kind_name(key->kind));
    if (key->kind == ETA_SPEC_STRING)
        for (int j = 0; j < k; j += 2)
            if (items[j]->kind == ETA_SPEC_STRING && !strcmp(items[j]->str, key->str))
                return eta_spec_fail_at_(p, key->pos, key->len, "duplicate key '%.100s' in dict", key->str);
    return ETA_OK;
}

/* dict(a=1, b=2) is the dict {'a': 1, 'b': 2}: keyword arguments become
 * string keys located at the keywords. Calls with positional arguments are
 * left to the binder to reject. */
static int fold_dict(spec_parser *p, eta_spec *call)
{
    for (int i = 0; i < call->n; i++)
        if (!call->keys[i])
            return ETA_OK;
    for (int i = 0; i < call->n; i++)
        for (int j = 0; j < i; j++)
            if (!strcmp(call->keys[i], call->keys[j]))
                return eta_spec_fail_at_(p, call->key_pos[i], (int)strlen(call->keys[i]),
                                         "duplicate key '%.100s' in dict", call->keys[i]);
    eta_spec **items = malloc(2 * (size_t)call->n * sizeof *items + 1);
    if (!items)
        return eta_spec_oom_(p);
    for (int i = 0; i < call->n; i++) {
        eta_spec *key = new_node(ETA_SPEC_STRING, call->key_pos[i], (int)strlen(call->keys[i]));
        if (!key) {
            for (int j = 0; j < i; j++)
                eta_spec_free(items[2 * j]);
            free(items);
            return eta_spec_oom_(p);
        }
        key->str = call->keys[i]; /* moved from the call */
        items[2 * i] = key;
        items[2 * i + 1] = call->items[i];
    }
    free(call->items);
    free((void *)call->keys);
    free((void *)call->key_pos);
    free((void *)call->str);
    call->kind = ETA_SPEC_DICT;
    call->items = items;
    call->keys = NULL;
    call->key_pos = NULL;
    call->str = NULL;
    return ETA_OK;
}

/* The arguments of a call whose '(' is at p->pos. */
static int parse_call(spec_parser *p, eta_spec **out, int start, const char *name, int name_len)
{
    int open = p->pos, rc;
    vec v = {NULL, NULL, NULL, 0, 0};
    p->pos++;
    for (;;) {
        eta_spec_skip_ws_(p);
        if (p->s[p->pos] == ')')
            break;
        if (p->s[p->pos] == '\0') {
            rc = eta_spec_fail_at_(p, open, 1, "'(' was never closed");
            goto fail;
        }
        char *key = NULL;
        int kpos = -1, n = ident_len(p->s + p->pos);
        if (n) { /* name = value ? */
            int save = p->pos;
            p->pos += n;
            eta_spec_skip_ws_(p);
            if (p->s[p->pos] == '=' && p->s[p->pos + 1] != '=') {
                const char *k = p->s + save;
                if (word_is(k, n, "True") || word_is(k, n, "False") || word_is(k, n, "None")) {
                    rc = eta_spec_fail_at_(p, save, n, "cannot use %.*s as a keyword", n, k);
                    goto fail;
                }
                if (!(key = dup_n(k, (size_t)n))) {
                    rc = eta_spec_oom_(p);
                    goto fail;
                }
                kpos = save;
                p->pos++;
            } else {
                p->pos = save;
            }
        }
        eta_spec *item;
        if ((rc = parse_value(p, &item))) {
            free(key);
            goto fail;
        }
        if ((rc = vec_push(p, &v, item, key, kpos, true)))
            goto fail;
        eta_spec_skip_ws_(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == ')')
            break;
        rc = p->s[p->pos] ? eta_spec_fail_at_(p, p->pos, 1, "expected ')' or ',' after argument")
                          : eta_spec_fail_at_(p, open, 1, "'(' was never closed");
        goto fail;
    }
    p->pos++;
    eta_spec *node = new_node(ETA_SPEC_CALL, start, p->pos - start);
    char *str = node ? dup_n(name, (size_t)name_len) : NULL;
    if (!str) {
        free(node);
        rc = eta_spec_oom_(p);
        goto fail;
    }
    node->str = str;
    node->items = v.items;
    node->keys = (const char **)v.keys;
    node->key_pos = v.kpos;
    node->n = v.n;
    if ((word_is(name, name_len, "float") && (rc = fold_float(p, node))) ||
        (word_is(name, name_len, "dict") && (rc = fold_dict(p, node)))) {
        eta_spec_free(node);
        return rc;
    }
    *out = node;
    return ETA_OK;
fail:
    vec_free(&v);
    return rc;
}

/* A name, a dotted name, True/False/None, inf/nan, or a call. */
static int parse_name(spec_parser *p, eta_spec **out)
{
    int start = p->pos, last = start, last_len = ident_len(p->s + start);
    bool dotted = false;
    p->pos += last_len;
    for (;;) {
        int save = p->pos;
        eta_spec_skip_ws_(p);
        if (p->s[p->pos] != '.') {
            p->pos = save;
            break;
        }
        p->pos++;
        eta_spec_skip_ws_(p);
        int n = ident_len(p->s + p->pos);
        if (!n)
            return eta_spec_fail_at_(p, p->pos, 1, "expected a name after '.'");
        last = p->pos;
        last_len = n;
        p->pos += n;
        dotted = true;
    }
    const char *id = p->s + last;
    int end = p->pos;
    eta_spec *node = NULL;
    if (!dotted && (word_is(id, last_len, "True") || word_is(id, last_len, "False"))) {
        if ((node = new_node(ETA_SPEC_BOOL, start, end - start)))
            node->num = id[0] == 'T';
    } else if (!dotted && word_is(id, last_len, "None")) {
        node = new_node(ETA_SPEC_NONE, start, end - start);
    } else {
        eta_spec_skip_ws_(p);
        if (p->s[p->pos] == '(') {
            if (p->depth >= MAX_DEPTH)
                return eta_spec_fail_at_(p, p->pos, 1, "nesting too deep (more than %d levels)", MAX_DEPTH);
            p->depth++;
            int rc = parse_call(p, out, start, id, last_len);
            p->depth--;
            return rc;
        }
        p->pos = end;
        if (word_is(id, last_len, "inf") || word_is(id, last_len, "nan")) {
            if ((node = new_node(ETA_SPEC_NUMBER, start, end - start)))
                node->num = id[0] == 'i' ? INFINITY : NAN;
        } else if ((node = new_node(ETA_SPEC_NAME, start, end - start))) {
            if (!(node->str = dup_n(id, (size_t)last_len))) {
                free(node);
                node = NULL;
            }
        }
    }
    if (!node)
        return eta_spec_oom_(p);
    *out = node;
    return ETA_OK;
}

/* A tuple, a parenthesised value, a list or a dict, at its opening bracket. */
static int parse_seq(spec_parser *p, eta_spec **out)
{
    int open = p->pos, rc;
    char o = p->s[open];
    char close = o == '(' ? ')' : o == '[' ? ']' : '}';
    eta_spec_kind kind = o == '(' ? ETA_SPEC_TUPLE : o == '[' ? ETA_SPEC_LIST : ETA_SPEC_DICT;
    const char *what = o == '(' ? "tuple item" : o == '[' ? "list item" : "dict item";
    vec v = {NULL, NULL, NULL, 0, 0};
    bool comma = false;
    p->pos++;
    for (;;) {
        eta_spec_skip_ws_(p);
        if (p->s[p->pos] == close)
            break;
        if (p->s[p->pos] == '\0') {
            rc = eta_spec_fail_at_(p, open, 1, "'%c' was never closed", o);
            goto fail;
        }
        eta_spec *item;
        if ((rc = parse_value(p, &item)) || (rc = vec_push(p, &v, item, NULL, -1, false)))
            goto fail;
        if (kind == ETA_SPEC_DICT && (rc = check_key(p, v.items, v.n - 1)))
            goto fail;
        eta_spec_skip_ws_(p);
        if (kind == ETA_SPEC_DICT) {
            if (p->s[p->pos] != ':') {
                rc = p->s[p->pos] ? eta_spec_fail_at_(p, p->pos, 1, "expected ':' after dict key")
                                  : eta_spec_fail_at_(p, open, 1, "'{' was never closed");
                goto fail;
            }
            p->pos++;
            if ((rc = parse_value(p, &item)) || (rc = vec_push(p, &v, item, NULL, -1, false)))
                goto fail;
            eta_spec_skip_ws_(p);
        }
        if (p->s[p->pos] == ',') {
            p->pos++;
            comma = true;
            continue;
        }
        if (p->s[p->pos] == close)
            break;
        rc = p->s[p->pos] ? eta_spec_fail_at_(p, p->pos, 1, "expected '%c' or ',' after %s", close, what)
                          : eta_spec_fail_at_(p, open, 1, "'%c' was never closed", o);
        goto fail;
    }
    p->pos++;
    if (kind == ETA_SPEC_TUPLE && v.n == 1 && !comma) { /* "(x)" is x */
        *out = v.items[0];
        free(v.items);
        return ETA_OK;
    }
    eta_spec *node = new_node(kind, open, p->pos - open);
    if (!node) {
        rc = eta_spec_oom_(p);
        goto fail;
    }
    node->items = v.items;
    node->n = kind == ETA_SPEC_DICT ? v.n / 2 : v.n;
    *out = node;
    return ETA_OK;
fail:
    vec_free(&v);
    return rc;
}

static int parse_primary(spec_parser *p, eta_spec **out)
{
    const char *s = p->s + p->pos;
    int c = (unsigned char)s[0];
    if (c == '(' || c == '[' || c == '{') {
        if (p->depth >= MAX_DEPTH)
            return eta_spec_fail_at_(p, p->pos, 1, "nesting too deep (more than %d levels)", MAX_DEPTH);
        p->depth++;
        int rc = parse_seq(p, out);
        p->depth--;
        return rc;
    }
    if (eta_spec_at_string_(s))
        return parse_string(p, out);
    if (is_digit(c) || (c == '.' && is_digit((unsigned char)s[1])))
        return parse_number(p, out);
    if (is_ident_start(c))
        return parse_name(p, out);
    if (c == '\0')
        return eta_spec_fail_at_(p, p->pos, 1, "expected a value, got end of text");
    if (c >= 0x20 && c < 0x7f)
        return eta_spec_fail_at_(p, p->pos, 1, "expected a value, got '%c'", c);
    return eta_spec_fail_at_(p, p->pos, 1, "expected a value, got byte 0x%02x", (unsigned)c);
}

/* A value with optional unary signs, which only numbers take. On success
 * p->pos is just past the value (no trailing white space consumed). */
static int parse_value(spec_parser *p, eta_spec **out)
{
    *out = NULL;
    eta_spec_skip_ws_(p);
    int start = p->pos;
    bool neg = false, signed_ = false;
    while (p->s[p->pos] == '-' || p->s[p->pos] == '+') {
        neg ^= p->s[p->pos] == '-';
        signed_ = true;
        p->pos++;
        eta_spec_skip_ws_(p);
    }
    int rc = parse_primary(p, out);
    if (rc || !signed_)
        return rc;
    eta_spec *v = *out;
    if (v->kind != ETA_SPEC_NUMBER) {
        rc = eta_spec_fail_at_(p, start, 1, "unary '%c' needs a number, got %s", p->s[start],
                               eta_spec_kind_name(v->kind));
        eta_spec_free(v);
        *out = NULL;
        return rc;
    }
    if (neg && !isnan(v->num))
        v->num = -v->num;
    if (v->is_int && v->num == 0)
        v->num = 0.0; /* -0 is the integer 0 */
    v->pos = start;
    v->len = p->pos - start;
    return ETA_OK;
}

int eta_spec_parse(eta_spec **out, const char *text, eta_err *err)
{
    eta_err_clear(err);
    if (out)
        *out = NULL;
    if (!out || !text)
        return eta_spec_set_err_(err, ETA_EINVAL, -1, 0, "eta_spec_parse: out and text must not be NULL");
    if (strlen(text) >= (size_t)INT_MAX)
        return eta_spec_set_err_(err, ETA_EFORMAT, -1, 0, "spec text too long");
    spec_parser p = {text, 0, 0, err};
    eta_spec *root;
    int rc = parse_value(&p, &root);
    if (rc)
        return rc;
    eta_spec_skip_ws_(&p);
    if (text[p.pos]) {
        eta_spec_free(root);
        return eta_spec_fail_at_(&p, p.pos, 1, "unexpected trailing text");
    }
    *out = root;
    return ETA_OK;
}
