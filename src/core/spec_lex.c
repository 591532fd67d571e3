/* spec_lex.c - the spec parser's lexer: white space and comments, number
 * literals, string literals with their escapes, and Python's float("...")
 * text; plus error reporting on the parser state. Building the tree from the
 * tokens lives in spec.c; the shared declarations in spec_lex.h.
 *
 * Follows Python's lexical rules (docs.python.org/3/reference/lexical_analysis.html):
 * int and float literals (1_000, .5, 5., 1e-3, 0x1F, 0o17, 0b101), strings
 * with the usual escapes, r'' raw and u'' strings, '''triple''' quotes and
 * adjacent-literal concatenation, comments (#).
 *
 * Number values are read without the C locale's radix character: the digits are
 * handed to strtod as an integer mantissa and a decimal exponent, so a caller's
 * setlocale() cannot change what "0.5" means.
 */
#include "core/error.h"
#include "core/spec_lex.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
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
        eta_msg_vformat_(err->msg, sizeof err->msg, fmt, ap);
    }
    return code;
}

int eta_spec_set_err_(eta_err *err, int code, int pos, int len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_errv(err, code, pos, len, fmt, ap);
    va_end(ap);
    return code;
}

int eta_spec_fail_at_(spec_parser *p, int pos, int len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_errv(p->err, ETA_EFORMAT, pos, len, fmt, ap);
    va_end(ap);
    return ETA_EFORMAT;
}

int eta_spec_oom_(spec_parser *p)
{
    return eta_spec_set_err_(p->err, ETA_ENOMEM, -1, 0, "out of memory");
}

/* ---- numbers ------------------------------------------------------------ */

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
 * "012" that Python rejects as a literal; *val is still 12, as float('012')
 * reads it). Correctly rounded: at most MAX_DIGITS significant
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
    if (*lead0) { /* "00" is a valid zero */
        bool zero = true;
        for (int k = 0; k < i && zero; k++)
            zero = s[k] == '0' || s[k] == '_';
        *lead0 = !zero;
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

/* 0x / 0o / 0b integers, or a decimal literal. */
bool eta_spec_read_number_(const char *s, int *len, double *val, bool *is_int, bool *lead0)
{
    *is_int = true;
    *lead0 = false;
    if (s[0] == '0' && s[1] && strchr("xXoObB", s[1]))
        return read_based(s, len, val);
    return read_decimal(s, len, val, is_int, lead0);
}

/* float("...") in Python: white space, a sign, then inf/infinity/nan in any
 * case or a decimal literal. */
bool eta_spec_float_from_string_(const char *s, double *out)
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

/* ---- white space and strings -------------------------------------------- */

/* White space and # comments. */
void eta_spec_skip_ws_(spec_parser *p)
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

/* A string literal, with an optional r (raw) or u (no effect) prefix. */
bool eta_spec_at_string_(const char *s)
{
    if (s[0] == 'r' || s[0] == 'R' || s[0] == 'u' || s[0] == 'U')
        s++;
    return s[0] == '\'' || s[0] == '"';
}

/* The escape after a backslash at p->pos (not raw); appends its text to b. */
static int read_escape(spec_parser *p, sbuf *b)
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
                return eta_spec_fail_at_(p, at, p->pos - at, "truncated \\%c escape (needs %d hex digits)", e, want);
            cp = cp * 16 + (unsigned long)d;
            p->pos++;
        }
        break;
    }
    case 'N': return eta_spec_fail_at_(p, at, 2, "\\N{...} escapes are not supported");
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
        return eta_spec_fail_at_(p, at, p->pos - at, "strings may not contain NUL characters");
    if (cp > 0x10FFFF)
        return eta_spec_fail_at_(p, at, p->pos - at, "illegal Unicode character");
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return eta_spec_fail_at_(p, at, p->pos - at, "lone surrogate in string");
    sb_utf8(b, cp);
    return ETA_OK;
}

/* One string literal at p->pos (after any r prefix). */
static int read_string(spec_parser *p, sbuf *b, bool raw)
{
    const char *s = p->s;
    int open = p->pos;
    char q = s[open];
    bool triple = s[open + 1] == q && s[open + 2] == q;
    p->pos += triple ? 3 : 1;
    for (;;) {
        char c = s[p->pos];
        if (c == '\0' || (!triple && (c == '\n' || c == '\r')))
            return eta_spec_fail_at_(p, open, triple ? 3 : 1, "unterminated string");
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
            return eta_spec_fail_at_(p, open, triple ? 3 : 1, "unterminated string");
        } else {
            int rc = read_escape(p, b);
            if (rc)
                return rc;
        }
    }
}

/* String literals, adjacent ones concatenated as in Python. */
int eta_spec_read_strings_(spec_parser *p, char **str)
{
    int end;
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
        eta_spec_skip_ws_(p);
        if (!eta_spec_at_string_(p->s + p->pos)) {
            p->pos = end;
            break;
        }
    }
    sb_put(&b, '\0');
    if (b.failed) {
        free(b.d);
        return eta_spec_oom_(p);
    }
    *str = b.d;
    return ETA_OK;
}
