/* spec.c - the spec language parser: a Python call or literal into a tree of
 * eta_spec nodes, and eta_spec_free. Binding a call to a signature, the typed
 * readers and the range check live in spec_bind.c.
 *
 * Follows Python's lexical rules (docs.python.org/3/reference/lexical_analysis.html)
 * for the subset core.h describes: int and float literals (1_000, .5, 5., 1e-3,
 * 0x1F, 0o17, 0b101), strings with the usual escapes, r'' raw and u'' strings, '''triple'''
 * quotes and adjacent-literal concatenation, True/False/None, tuples, lists,
 * dicts, calls with keywords, comments (#) and white space anywhere between
 * tokens. Extensions of the "a name denotes a float" kind: inf, nan (also
 * dotted, math.inf), float('inf'), float('-1e3') and float(3) fold into NUMBER
 * nodes. A dotted name (torch.optim.SGD) is known by its last component, for
 * calls and plain names alike. Unary +/- apply to numbers only.
 *
 * Number values are read without the C locale's radix character: the digits are
 * handed to strtod as an integer mantissa and a decimal exponent, so a caller's
 * setlocale() cannot change what "0.5" means.
 * Errors: ETA_EFORMAT located at the offending character; ETA_ENOMEM after
 * freeing everything built so far. Nesting is limited to MAX_DEPTH brackets.
 */
#include "eta/core.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

enum {
    MAX_DEPTH = 64,  /* nested brackets and calls */
    MAX_DIGITS = 800 /* significant digits kept; more cannot change a double (see read_decimal) */
};

/* ---- error record ------------------------------------------------------ */

PRINTF_LIKE(5, 0)
static int set_errv(eta_err *err, int code, int pos, int len, const char *fmt, va_list ap)
{
    if (err) {
        err->code = code;
        err->pos = pos;
        err->len = pos >= 0 ? len : 0;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

PRINTF_LIKE(5, 6)
static int set_err(eta_err *err, int code, int pos, int len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_errv(err, code, pos, len, fmt, ap);
    va_end(ap);
    return code;
}

/* ---- characters (ASCII only, independent of the locale) ----------------- */

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }
static bool is_space(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

static int digit_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return 99;
}

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

/* ---- numbers ------------------------------------------------------------ */

/* The significant digits of a decimal literal, as they are read. */
typedef struct mantissa {
    char d[MAX_DIGITS + 32]; /* significant digits, then "e<exp>" */
    int n;                   /* digits kept */
    long long exp10;         /* value = d * 10^exp10 */
    bool sticky;             /* a nonzero digit was dropped */
} mantissa;

static void add_digit(mantissa *m, char c, bool frac)
{
    if (m->n == 0 && c == '0') {
        if (frac)
            m->exp10--;
    } else if (m->n < MAX_DIGITS) {
        m->d[m->n++] = c;
        if (frac)
            m->exp10--;
    } else {
        m->sticky |= c != '0';
        if (!frac)
            m->exp10++;
    }
}

/* Digits with single underscores between them, from s[*i]; each goes to m
 * when not NULL. Returns how many there were. */
static int scan_digits(const char *s, int *i, mantissa *m, bool frac)
{
    int count = 0;
    while (is_digit((unsigned char)s[*i])) {
        if (m)
            add_digit(m, s[*i], frac);
        (*i)++;
        count++;
        if (s[*i] == '_' && is_digit((unsigned char)s[*i + 1]))
            (*i)++;
    }
    return count;
}

/* A decimal literal (Python's decinteger | floatnumber) at s. Returns false if
 * there is none; else sets *len, *val, *is_int and *lead0 (an integer such as
 * "012" that Python rejects). Correctly rounded: at most MAX_DIGITS significant
 * digits are kept and any nonzero digit dropped becomes a final '1', which
 * decides a tie the same way all the digits would (a double's halfway point
 * has at most 767 significant digits). */
static bool read_decimal(const char *s, int *len, double *val, bool *is_int, bool *lead0)
{
    mantissa m;
    m.n = 0;
    m.exp10 = 0;
    m.sticky = false;
    int i = 0;
    int nint = scan_digits(s, &i, &m, false), nfrac = 0;
    bool point = false, expo = false;
    *lead0 = nint > 1 && s[0] == '0';
    if (s[i] == '.') {
        int j = i + 1;
        nfrac = scan_digits(s, &j, NULL, true);
        if (nint == 0 && nfrac == 0)
            return false;
        i++;
        scan_digits(s, &i, &m, true);
        point = true;
    }
    if (nint == 0 && nfrac == 0)
        return false;
    if (s[i] == 'e' || s[i] == 'E') {
        int j = i + 1;
        bool neg = false;
        if (s[j] == '+' || s[j] == '-')
            neg = s[j++] == '-';
        if (is_digit((unsigned char)s[j])) {
            long long e = 0;
            while (is_digit((unsigned char)s[j])) {
                if (e < 1000000000)
                    e = e * 10 + (s[j] - '0');
                j++;
                if (s[j] == '_' && is_digit((unsigned char)s[j + 1]))
                    j++;
            }
            m.exp10 += neg ? -e : e;
            i = j;
            expo = true;
        }
    }
    *len = i;
    *is_int = !point && !expo;
    *lead0 = *lead0 && *is_int;
    if (*lead0) {
        for (int k = 0; k < i; k++)
            if (s[k] != '0' && s[k] != '_')
                return true; /* "012": the caller rejects it */
        *lead0 = false;      /* "00" is a valid zero */
    }
    if (m.n == 0) {
        *val = 0.0;
        return true;
    }
    if (m.sticky) {
        m.d[m.n++] = '1';
        m.exp10--;
    }
    long long e = m.exp10 < -99999 ? -99999 : m.exp10 > 99999 ? 99999 : m.exp10;
    snprintf(m.d + m.n, sizeof m.d - (size_t)m.n, "e%lld", e);
    *val = strtod(m.d, NULL);
    return true;
}

/* 0x / 0o / 0b integers. */
static bool read_based(const char *s, int *len, double *val)
{
    int base = (s[1] == 'x' || s[1] == 'X') ? 16 : (s[1] == 'o' || s[1] == 'O') ? 8 : 2;
    int i = 2, nd = 0;
    double v = 0.0;
    for (;;) {
        if (s[i] == '_' && digit_value((unsigned char)s[i + 1]) < base)
            i++;
        int d = digit_value((unsigned char)s[i]);
        if (d >= base)
            break;
        v = v * base + d;
        nd++;
        i++;
    }
    *len = i;
    *val = v;
    return nd > 0;
}

/* float("...") in Python: white space, a sign, then inf/infinity/nan in any
 * case or a decimal literal. */
static bool float_from_string(const char *s, double *out)
{
    while (is_space((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space((unsigned char)s[n - 1]))
        n--;
    double sign = 1.0;
    if (n > 0 && (*s == '+' || *s == '-')) {
        sign = *s == '-' ? -1.0 : 1.0;
        s++;
        n--;
    }
    static const char *const specials[] = {"inf", "infinity", "nan"};
    for (int k = 0; k < 3; k++) {
        size_t m = strlen(specials[k]);
        bool same = n == m;
        for (size_t i = 0; same && i < m; i++)
            same = (s[i] | 0x20) == specials[k][i];
        if (same) {
            *out = k == 2 ? NAN : sign * INFINITY;
            return true;
        }
    }
    int len;
    bool is_int, lead0;
    double v;
    if (n == 0 || !read_decimal(s, &len, &v, &is_int, &lead0) || (size_t)len != n)
        return false;
    *out = sign * v;
    return true;
}

/* ---- tree building ------------------------------------------------------ */

typedef struct parser {
    const char *s;
    int pos;
    int depth;
    eta_err *err;
} parser;

PRINTF_LIKE(4, 5)
static int fail_at(parser *p, int pos, int len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_errv(p->err, ETA_EFORMAT, pos, len, fmt, ap);
    va_end(ap);
    return ETA_EFORMAT;
}

static int oom(parser *p)
{
    return set_err(p->err, ETA_ENOMEM, -1, 0, "out of memory");
}

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
static int vec_push(parser *p, vec *v, eta_spec *item, char *key, int kpos, bool keyed)
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
    return oom(p);
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

/* Growable string with a sticky failure flag. */
typedef struct sbuf {
    char *d;
    size_t n, cap;
    bool failed;
} sbuf;

static void sb_put(sbuf *b, char c)
{
    if (b->failed)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 32;
        char *d = realloc(b->d, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    b->d[b->n++] = c;
}

static void sb_utf8(sbuf *b, unsigned long cp)
{
    if (cp < 0x80) {
        sb_put(b, (char)cp);
    } else if (cp < 0x800) {
        sb_put(b, (char)(0xC0 | (cp >> 6)));
        sb_put(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sb_put(b, (char)(0xE0 | (cp >> 12)));
        sb_put(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sb_put(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        sb_put(b, (char)(0xF0 | (cp >> 18)));
        sb_put(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        sb_put(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sb_put(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* ---- the parser --------------------------------------------------------- */

static int parse_value(parser *p, eta_spec **out);

/* White space and # comments. */
static void skip_ws(parser *p)
{
    for (;;) {
        char c = p->s[p->pos];
        if (is_space((unsigned char)c)) {
            p->pos++;
        } else if (c == '#') {
            while (p->s[p->pos] && p->s[p->pos] != '\n')
                p->pos++;
        } else {
            return;
        }
    }
}

/* A string literal, with an optional r (raw) or u (no effect) prefix. */
static bool at_string(const char *s)
{
    if (s[0] == 'r' || s[0] == 'R' || s[0] == 'u' || s[0] == 'U')
        s++;
    return s[0] == '\'' || s[0] == '"';
}

/* The escape after a backslash at p->pos (not raw); appends its text to b. */
static int read_escape(parser *p, sbuf *b)
{
    const char *s = p->s;
    int at = p->pos;
    char e = s[at + 1];
    p->pos = at + 2;
    unsigned long cp;
    switch (e) {
    case '\n': return ETA_OK; /* line continuation */
    case '\r':
        if (s[p->pos] == '\n')
            p->pos++;
        return ETA_OK;
    case '\\': case '\'': case '"': sb_put(b, e); return ETA_OK;
    case 'a': sb_put(b, '\a'); return ETA_OK;
    case 'b': sb_put(b, '\b'); return ETA_OK;
    case 'f': sb_put(b, '\f'); return ETA_OK;
    case 'n': sb_put(b, '\n'); return ETA_OK;
    case 'r': sb_put(b, '\r'); return ETA_OK;
    case 't': sb_put(b, '\t'); return ETA_OK;
    case 'v': sb_put(b, '\v'); return ETA_OK;
    case 'x': case 'u': case 'U': {
        int want = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        cp = 0;
        for (int k = 0; k < want; k++) {
            int d = digit_value((unsigned char)s[p->pos]);
            if (d >= 16)
                return fail_at(p, at, p->pos - at, "truncated \\%c escape (needs %d hex digits)", e, want);
            cp = cp * 16 + (unsigned long)d;
            p->pos++;
        }
        break;
    }
    case 'N': return fail_at(p, at, 2, "\\N{...} escapes are not supported");
    default:
        if (e >= '0' && e <= '7') {
            cp = (unsigned long)(e - '0');
            for (int k = 0; k < 2 && s[p->pos] >= '0' && s[p->pos] <= '7'; k++)
                cp = cp * 8 + (unsigned long)(s[p->pos++] - '0');
            break;
        }
        sb_put(b, '\\'); /* unknown escape: Python keeps the backslash */
        p->pos = at + 1;
        return ETA_OK;
    }
    if (cp == 0)
        return fail_at(p, at, p->pos - at, "strings may not contain NUL characters");
    if (cp > 0x10FFFF)
        return fail_at(p, at, p->pos - at, "illegal Unicode character");
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return fail_at(p, at, p->pos - at, "lone surrogate in string");
    sb_utf8(b, cp);
    return ETA_OK;
}

/* One string literal at p->pos (after any r prefix). */
static int read_string(parser *p, sbuf *b, bool raw)
{
    const char *s = p->s;
    int open = p->pos;
    char q = s[open];
    bool triple = s[open + 1] == q && s[open + 2] == q;
    p->pos += triple ? 3 : 1;
    for (;;) {
        char c = s[p->pos];
        if (c == '\0' || (!triple && (c == '\n' || c == '\r')))
            return fail_at(p, open, triple ? 3 : 1, "unterminated string");
        if (c == q && (!triple || (s[p->pos + 1] == q && s[p->pos + 2] == q))) {
            p->pos += triple ? 3 : 1;
            return ETA_OK;
        }
        if (c != '\\') {
            sb_put(b, c);
            p->pos++;
        } else if (raw) { /* r'\'' keeps both characters */
            sb_put(b, c);
            p->pos++;
            if (s[p->pos]) {
                sb_put(b, s[p->pos]);
                p->pos++;
            }
        } else if (s[p->pos + 1] == '\0') {
            return fail_at(p, open, triple ? 3 : 1, "unterminated string");
        } else {
            int rc = read_escape(p, b);
            if (rc)
                return rc;
        }
    }
}

/* String literals, adjacent ones concatenated as in Python. */
static int parse_string(parser *p, eta_spec **out)
{
    int start = p->pos, end;
    sbuf b = {NULL, 0, 0, false};
    for (;;) {
        char c = p->s[p->pos];
        bool raw = c == 'r' || c == 'R';
        p->pos += raw || c == 'u' || c == 'U';
        int rc = read_string(p, &b, raw);
        if (rc) {
            free(b.d);
            return rc;
        }
        end = p->pos;
        skip_ws(p);
        if (!at_string(p->s + p->pos)) {
            p->pos = end;
            break;
        }
    }
    sb_put(&b, '\0');
    eta_spec *node = b.failed ? NULL : new_node(ETA_SPEC_STRING, start, end - start);
    if (!node) {
        free(b.d);
        return oom(p);
    }
    node->str = b.d;
    *out = node;
    return ETA_OK;
}

static int parse_number(parser *p, eta_spec **out)
{
    const char *s = p->s + p->pos;
    int len = 0;
    double v = 0.0;
    bool is_int = true, lead0 = false, ok;
    if (s[0] == '0' && s[1] && strchr("xXoObB", s[1]))
        ok = read_based(s, &len, &v);
    else
        ok = read_decimal(s, &len, &v, &is_int, &lead0);
    if (!ok || lead0 || is_ident_char((unsigned char)s[len])) {
        int n = 0;
        while (is_ident_char((unsigned char)s[n]) || s[n] == '.')
            n++;
        if (ok && lead0 && !is_ident_char((unsigned char)s[len]))
            return fail_at(p, p->pos, n, "leading zeros in decimal integer literals are not permitted");
        return fail_at(p, p->pos, n, "invalid number literal");
    }
    if (is_int && !isfinite(v))
        return fail_at(p, p->pos, len, "integer literal too large");
    eta_spec *node = new_node(ETA_SPEC_NUMBER, p->pos, len);
    if (!node)
        return oom(p);
    node->num = v;
    node->is_int = is_int;
    p->pos += len;
    *out = node;
    return ETA_OK;
}

/* float(), float(x) with x a number or bool, float('...'): a NUMBER node. */
static int fold_float(parser *p, eta_spec *call)
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
        else if (!float_from_string(a->str, &v))
            return fail_at(p, a->pos, a->len, "could not convert string to float: %.*s", a->len > 200 ? 200 : a->len,
                           p->s + a->pos);
    }
    clear_node(call);
    call->kind = ETA_SPEC_NUMBER;
    call->num = v;
    call->is_int = false;
    return ETA_OK;
}

/* The arguments of a call whose '(' is at p->pos. */
static int parse_call(parser *p, eta_spec **out, int start, const char *name, int name_len)
{
    int open = p->pos, rc;
    vec v = {NULL, NULL, NULL, 0, 0};
    p->pos++;
    for (;;) {
        skip_ws(p);
        if (p->s[p->pos] == ')')
            break;
        if (p->s[p->pos] == '\0') {
            rc = fail_at(p, open, 1, "'(' was never closed");
            goto fail;
        }
        char *key = NULL;
        int kpos = -1, n = ident_len(p->s + p->pos);
        if (n) { /* name = value ? */
            int save = p->pos;
            p->pos += n;
            skip_ws(p);
            if (p->s[p->pos] == '=' && p->s[p->pos + 1] != '=') {
                const char *k = p->s + save;
                if (word_is(k, n, "True") || word_is(k, n, "False") || word_is(k, n, "None")) {
                    rc = fail_at(p, save, n, "cannot use %.*s as a keyword", n, k);
                    goto fail;
                }
                if (!(key = dup_n(k, (size_t)n))) {
                    rc = oom(p);
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
        skip_ws(p);
        if (p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->s[p->pos] == ')')
            break;
        rc = p->s[p->pos] ? fail_at(p, p->pos, 1, "expected ')' or ',' after argument")
                          : fail_at(p, open, 1, "'(' was never closed");
        goto fail;
    }
    p->pos++;
    eta_spec *node = new_node(ETA_SPEC_CALL, start, p->pos - start);
    char *str = node ? dup_n(name, (size_t)name_len) : NULL;
    if (!str) {
        free(node);
        rc = oom(p);
        goto fail;
    }
    node->str = str;
    node->items = v.items;
    node->keys = (const char **)v.keys;
    node->key_pos = v.kpos;
    node->n = v.n;
    if (word_is(name, name_len, "float") && (rc = fold_float(p, node))) {
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
static int parse_name(parser *p, eta_spec **out)
{
    int start = p->pos, last = start, last_len = ident_len(p->s + start);
    bool dotted = false;
    p->pos += last_len;
    for (;;) {
        int save = p->pos;
        skip_ws(p);
        if (p->s[p->pos] != '.') {
            p->pos = save;
            break;
        }
        p->pos++;
        skip_ws(p);
        int n = ident_len(p->s + p->pos);
        if (!n)
            return fail_at(p, p->pos, 1, "expected a name after '.'");
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
        skip_ws(p);
        if (p->s[p->pos] == '(') {
            if (p->depth >= MAX_DEPTH)
                return fail_at(p, p->pos, 1, "nesting too deep (more than %d levels)", MAX_DEPTH);
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
        return oom(p);
    *out = node;
    return ETA_OK;
}

/* A tuple, a parenthesised value, a list or a dict, at its opening bracket. */
static int parse_seq(parser *p, eta_spec **out)
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
        skip_ws(p);
        if (p->s[p->pos] == close)
            break;
        if (p->s[p->pos] == '\0') {
            rc = fail_at(p, open, 1, "'%c' was never closed", o);
            goto fail;
        }
        eta_spec *item;
        if ((rc = parse_value(p, &item)) || (rc = vec_push(p, &v, item, NULL, -1, false)))
            goto fail;
        skip_ws(p);
        if (kind == ETA_SPEC_DICT) {
            if (p->s[p->pos] != ':') {
                rc = p->s[p->pos] ? fail_at(p, p->pos, 1, "expected ':' after dict key")
                                  : fail_at(p, open, 1, "'{' was never closed");
                goto fail;
            }
            p->pos++;
            if ((rc = parse_value(p, &item)) || (rc = vec_push(p, &v, item, NULL, -1, false)))
                goto fail;
            skip_ws(p);
        }
        if (p->s[p->pos] == ',') {
            p->pos++;
            comma = true;
            continue;
        }
        if (p->s[p->pos] == close)
            break;
        rc = p->s[p->pos] ? fail_at(p, p->pos, 1, "expected '%c' or ',' after %s", close, what)
                          : fail_at(p, open, 1, "'%c' was never closed", o);
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
        rc = oom(p);
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

static int parse_primary(parser *p, eta_spec **out)
{
    const char *s = p->s + p->pos;
    int c = (unsigned char)s[0];
    if (c == '(' || c == '[' || c == '{') {
        if (p->depth >= MAX_DEPTH)
            return fail_at(p, p->pos, 1, "nesting too deep (more than %d levels)", MAX_DEPTH);
        p->depth++;
        int rc = parse_seq(p, out);
        p->depth--;
        return rc;
    }
    if (at_string(s))
        return parse_string(p, out);
    if (is_digit(c) || (c == '.' && is_digit((unsigned char)s[1])))
        return parse_number(p, out);
    if (is_ident_start(c))
        return parse_name(p, out);
    if (c == '\0')
        return fail_at(p, p->pos, 1, "expected a value, got end of text");
    if (c >= 0x20 && c < 0x7f)
        return fail_at(p, p->pos, 1, "expected a value, got '%c'", c);
    return fail_at(p, p->pos, 1, "expected a value, got byte 0x%02x", (unsigned)c);
}

/* A value with optional unary signs, which only numbers take. On success
 * p->pos is just past the value (no trailing white space consumed). */
static int parse_value(parser *p, eta_spec **out)
{
    *out = NULL;
    skip_ws(p);
    int start = p->pos;
    bool neg = false, signed_ = false;
    while (p->s[p->pos] == '-' || p->s[p->pos] == '+') {
        neg ^= p->s[p->pos] == '-';
        signed_ = true;
        p->pos++;
        skip_ws(p);
    }
    int rc = parse_primary(p, out);
    if (rc || !signed_)
        return rc;
    eta_spec *v = *out;
    if (v->kind != ETA_SPEC_NUMBER) {
        rc = fail_at(p, start, 1, "unary '%c' needs a number, got %s", p->s[start], eta_spec_kind_name(v->kind));
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
        return set_err(err, ETA_EINVAL, -1, 0, "eta_spec_parse: out and text must not be NULL");
    if (strlen(text) >= (size_t)INT_MAX)
        return set_err(err, ETA_EFORMAT, -1, 0, "spec text too long");
    parser p = {text, 0, 0, err};
    eta_spec *root;
    int rc = parse_value(&p, &root);
    if (rc)
        return rc;
    skip_ws(&p);
    if (text[p.pos]) {
        eta_spec_free(root);
        return fail_at(&p, p.pos, 1, "unexpected trailing text");
    }
    *out = root;
    return ETA_OK;
}
