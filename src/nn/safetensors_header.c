/* nn/safetensors_header.c - the JSON header of a safetensors file, read
 * strictly: RFC 8259 JSON restricted to the format's schema, so nothing
 * needs a general JSON tree (and no value nests deeper than 3). What the
 * reference reader (safetensors' Rust crate, serde_json) refuses is refused
 * here too: invalid UTF-8, a header not starting with '{', trailing
 * commas, numbers with a sign, fraction or exponent in shapes and offsets,
 * a lone UTF-16 surrogate in \u escapes, offsets that leave gaps, overlap or
 * stop short of the end. Stricter than it: a repeated key and an unknown key
 * inside a tensor entry are errors, not ignored (neither occurs in files its
 * writer makes). Every message gives the byte offset in the file.
 * The JSON writing helpers for safetensors.c's writer live here too.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le.h"
#include "nn/safetensors.h"

static const struct {
    const char *name;
    size_t size;
} dtypes[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},     [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_I16] = {"I16", 2}, [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4}, [ST_F32] = {"F32", 4},
    [ST_F64] = {"F64", 8}, [ST_I64] = {"I64", 8}, [ST_U64] = {"U64", 8},
};

const char *st_dtype_name(st_dtype t)
{
    return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].name : "?";
}

size_t st_dtype_size(st_dtype t)
{
    return (unsigned)t < ST_DTYPE_COUNT ? dtypes[t].size : 0;
}

typedef struct parser {
    const unsigned char *s; /* the header */
    size_t n, i;
    const char *what;
    eta_err *err;
} parser;

#define BASE 8 /* file offset of the header's first byte */

static int perr(parser *p, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int perr(parser *p, size_t at, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return eta_spec_fail(p->err, ETA_EFORMAT, NULL, "%s: header, offset %zu: %s", p->what, BASE + at, msg);
}

static void skip_ws(parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* The next non-space byte, or -1 at the end. */
static int peek(parser *p)
{
    skip_ws(p);
    return p->i < p->n ? p->s[p->i] : -1;
}

static int expect(parser *p, char c, const char *where)
{
    if (peek(p) != c)
        return p->i < p->n ? perr(p, p->i, "expected '%c' %s, found '%c'", c, where,
                                  p->s[p->i] >= 0x20 && p->s[p->i] < 0x7f ? p->s[p->i] : '?')
                           : perr(p, p->i, "expected '%c' %s, found the end of the header", c, where);
    p->i++;
    return ETA_OK;
}

/* Length of the UTF-8 sequence at s[0..n), or 0 when invalid (overlong,
 * a surrogate, above U+10FFFF, cut). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (k == 0 || k > n)
        return 0;
    unsigned cp = k == 1 ? c : k == 2 ? c & 0x1f : k == 3 ? c & 0x0f : c & 0x07;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[j] & 0x3f);
    }
    static const unsigned min[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

static int hex4(parser *p, size_t at, unsigned *v)
{
    if (p->n - at < 4)
        return perr(p, at, "a \\u escape needs four hex digits");
    *v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p->s[at + (size_t)k], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
        if (d == 16)
            return perr(p, at, "a \\u escape needs four hex digits");
        *v = (*v << 4) | d;
    }
    return ETA_OK;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* A JSON string at p->i (after white space), decoded into a malloc'd
 * NUL-terminated *out (NULL: checked and skipped). *has_nul: it held \u0000. */
static int string(parser *p, char **out, bool *has_nul)
{
    if (peek(p) != '"')
        return p->i < p->n ? perr(p, p->i, "expected a string") : perr(p, p->i, "expected a string, found the end");
    size_t start = ++p->i, end = start;
    while (end < p->n && p->s[end] != '"')
        end += p->s[end] == '\\' ? 2 : 1;
    if (end >= p->n)
        return perr(p, start - 1, "a string that does not end");
    char *o = out ? malloc(end - start + 1) : NULL;
    if (out && !o)
        return eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->what);
    size_t k = 0;
    *has_nul = false;
    int rc = ETA_OK;
    while (p->i < end && !rc) {
        unsigned char c = p->s[p->i];
        if (c < 0x20) {
            rc = perr(p, p->i, "a control character (0x%02x) inside a string", c);
        } else if (c != '\\') {
            if (o)
                o[k++] = (char)c;
            p->i++;
        } else {
            unsigned char e = p->s[p->i + 1];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                if (o)
                    o[k++] = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
                p->i += 2;
                continue;
            }
            if (e != 'u') {
                rc = perr(p, p->i, "an unknown escape in a string");
                break;
            }
            unsigned cp, lo;
            rc = hex4(p, p->i + 2, &cp);
            size_t len = 6;
            if (!rc && cp >= 0xdc00 && cp <= 0xdfff)
                rc = perr(p, p->i, "a lone UTF-16 low surrogate \\u%04x", cp);
            if (!rc && cp >= 0xd800 && cp <= 0xdbff) {
                if (end - p->i < 12 || p->s[p->i + 6] != '\\' || p->s[p->i + 7] != 'u' || hex4(p, p->i + 8, &lo) ||
                    lo < 0xdc00 || lo > 0xdfff)
                    rc = perr(p, p->i, "a UTF-16 high surrogate \\u%04x without its low half", cp);
                else {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    len = 12;
                }
            }
            if (!rc) {
                *has_nul |= cp == 0;
                if (o)
                    k += put_utf8(o + k, cp);
                p->i += len;
            }
        }
    }
    if (rc) {
        free(o);
        return rc;
    }
    p->i = end + 1;
    if (o) {
        o[k] = 0;
        *out = o;
    }
    return ETA_OK;
}

/* A non-negative integer that fits in 64 bits. */
static int integer(parser *p, uint64_t *v, const char *what)
{
    int c = peek(p);
    size_t at = p->i;
    if (c == '-')
        return perr(p, at, "%s must not be negative", what);
    if (c < '0' || c > '9')
        return perr(p, at, "%s must be an integer", what);
    *v = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = p->s[p->i] - '0';
        if (*v > (UINT64_MAX - d) / 10)
            return perr(p, at, "%s does not fit in 64 bits", what);
        *v = *v * 10 + d;
        p->i++;
    }
    if (p->s[at] == '0' && p->i - at > 1)
        return perr(p, at, "%s has a leading zero", what);
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return perr(p, at, "%s must be an integer, without fraction or exponent", what);
    return ETA_OK;
}

/* '[' integer, ... ']' into v[0..*count) (at most cap). */
static int int_list(parser *p, uint64_t *v, int cap, int *count, const char *what)
{
    size_t at = p->i;
    int rc = expect(p, '[', what);
    *count = 0;
    if (!rc && peek(p) == ']') {
        p->i++;
        return ETA_OK;
    }
    while (!rc) {
        if (*count == cap)
            return perr(p, at, "%s has more than %d values", what, cap);
        rc = integer(p, &v[(*count)++], what);
        if (!rc && peek(p) == ']') {
            p->i++;
            return ETA_OK;
        }
        if (!rc)
            rc = expect(p, ',', "or ']' in a list");
    }
    return rc;
}

static int metadata(parser *p)
{
    if (p->n - p->i >= 4 && !memcmp(p->s + p->i, "null", 4)) {
        p->i += 4;
        return ETA_OK;
    }
    int rc = expect(p, '{', "(__metadata__ is an object of strings)");
    bool nul;
    if (!rc && peek(p) == '}') {
        p->i++;
        return ETA_OK;
    }
    while (!rc) {
        rc = string(p, NULL, &nul);
        if (!rc)
            rc = expect(p, ':', "after a key");
        if (!rc && peek(p) != '"')
            rc = perr(p, p->i, "__metadata__ values must be strings");
        if (!rc)
            rc = string(p, NULL, &nul);
        if (!rc && peek(p) == '}') {
            p->i++;
            return ETA_OK;
        }
        if (!rc)
            rc = expect(p, ',', "or '}' in __metadata__");
    }
    return rc;
}

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]} for e. */
static int entry(parser *p, st_entry *e)
{
    int rc = expect(p, '{', "(a tensor entry)");
    bool seen[3] = {false, false, false}, nul;
    while (!rc) {
        size_t at = (peek(p), p->i);
        char *key = NULL;
        rc = string(p, &key, &nul);
        if (!rc)
            rc = expect(p, ':', "after a key");
        int k = rc ? -1 : !strcmp(key, "dtype") ? 0 : !strcmp(key, "shape") ? 1 : !strcmp(key, "data_offsets") ? 2 : 3;
        if (k == 3)
            rc = perr(p, at, "tensor '%s': unexpected key '%.40s' (an entry has dtype, shape and data_offsets)",
                      e->name, key);
        else if (k >= 0 && seen[k])
            rc = perr(p, at, "tensor '%s': key '%s' given twice", e->name, key);
        free(key);
        if (rc || k < 0 || k > 2)
            break;
        seen[k] = true;
        if (k == 0) {
            char *dt = NULL;
            at = (peek(p), p->i);
            rc = string(p, &dt, &nul);
            int t = 0;
            while (!rc && t < ST_DTYPE_COUNT && strcmp(dt, dtypes[t].name))
                t++;
            if (!rc && t == ST_DTYPE_COUNT)
                rc = perr(p, at, "tensor '%s': unknown dtype '%.20s'", e->name, dt);
            e->dtype = (st_dtype)t;
            free(dt);
        } else if (k == 1) {
            rc = int_list(p, e->shape, ST_MAX_DIMS, &e->ndim, "shape");
        } else {
            uint64_t v[2];
            int count;
            at = (peek(p), p->i);
            rc = int_list(p, v, 2, &count, "data_offsets");
            if (!rc && count != 2)
                rc = perr(p, at, "tensor '%s': data_offsets must be [begin, end]", e->name);
            e->begin = v[0];
            e->end = v[1];
        }
        if (!rc && peek(p) == '}') {
            p->i++;
            break;
        }
        if (!rc)
            rc = expect(p, ',', "or '}' in a tensor entry");
    }
    for (int k = 0; k < 3 && !rc; k++)
        if (!seen[k])
            rc = perr(p, e->pos - BASE, "tensor '%s' has no %s", e->name,
                      k == 0 ? "dtype" : k == 1 ? "shape" : "data_offsets");
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(st_entry *const *)a)->name, (*(st_entry *const *)b)->name);
}

static int by_offset(const void *a, const void *b)
{
    const st_entry *x = *(st_entry *const *)a, *y = *(st_entry *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The object of entries. */
static int parse(parser *p, st_header *h)
{
    for (size_t i = 0; i < p->n;) { /* the whole header is UTF-8 */
        size_t k = utf8_len(p->s + i, p->n - i);
        if (!k)
            return perr(p, i, "the header is not valid UTF-8");
        i += k;
    }
    if (p->n == 0 || p->s[0] != '{')
        return perr(p, 0, "the header does not start with '{'");
    p->i = 1;
    bool meta = false, nul;
    int cap = 0, rc = ETA_OK;
    if (peek(p) == '}')
        p->i++;
    else
        for (;;) {
            size_t at = (peek(p), p->i);
            char *key = NULL;
            rc = string(p, &key, &nul);
            if (!rc)
                rc = expect(p, ':', "after a key");
            if (!rc && !strcmp(key, "__metadata__")) {
                rc = meta ? perr(p, at, "__metadata__ given twice") : metadata(p);
                meta = true;
                free(key);
            } else if (!rc) {
                if (nul)
                    rc = perr(p, at, "a tensor name with a NUL character");
                if (!rc && h->n == cap) {
                    cap = cap ? 2 * cap : 16;
                    st_entry *e = realloc(h->e, (size_t)cap * sizeof *e);
                    if (!e)
                        rc = eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->what);
                    else
                        h->e = e;
                }
                if (rc) {
                    free(key);
                    return rc;
                }
                st_entry *e = &h->e[h->n++];
                memset(e, 0, sizeof *e);
                e->name = key;
                e->pos = BASE + at;
                rc = entry(p, e);
            } else {
                free(key);
            }
            if (rc)
                return rc;
            if (peek(p) == '}') {
                p->i++;
                break;
            }
            rc = expect(p, ',', "or '}' after a tensor");
            if (rc)
                return rc;
        }
    skip_ws(p);
    if (p->i != p->n)
        return perr(p, p->i, "more after the header's object");
    h->by_name = malloc((size_t)(h->n ? h->n : 1) * sizeof *h->by_name);
    if (!h->by_name)
        return eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->what);
    for (int i = 0; i < h->n; i++)
        h->by_name[i] = &h->e[i];
    qsort(h->by_name, (size_t)h->n, sizeof *h->by_name, by_name);
    for (int i = 1; i < h->n; i++)
        if (!strcmp(h->by_name[i]->name, h->by_name[i - 1]->name)) {
            const st_entry *later = h->by_name[i]->pos > h->by_name[i - 1]->pos ? h->by_name[i] : h->by_name[i - 1];
            return perr(p, later->pos - BASE, "tensor '%s' given twice", later->name);
        }
    return ETA_OK;
}

/* The entries' sizes and offsets against `len` data bytes. */
static int layout(parser *p, const st_header *h, size_t len)
{
    for (int i = 0; i < h->n; i++) {
        const st_entry *e = &h->e[i];
        uint64_t bytes = st_dtype_size(e->dtype);
        bool over = false;
        for (int d = 0; d < e->ndim; d++) {
            over |= e->shape[d] != 0 && bytes > UINT64_MAX / e->shape[d];
            bytes = over ? 0 : bytes * e->shape[d];
        }
        if (over)
            return perr(p, e->pos - BASE, "tensor '%s': its shape's size does not fit in 64 bits", e->name);
        if (e->end < e->begin || e->end - e->begin != bytes)
            return perr(p, e->pos - BASE,
                        "tensor '%s': data_offsets [%llu, %llu] hold %lld bytes, its dtype %s and shape need %llu",
                        e->name, (unsigned long long)e->begin, (unsigned long long)e->end,
                        (long long)(e->end - e->begin), st_dtype_name(e->dtype), (unsigned long long)bytes);
    }
    st_entry **o = malloc((size_t)(h->n ? h->n : 1) * sizeof *o);
    if (!o)
        return eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->what);
    for (int i = 0; i < h->n; i++)
        o[i] = &h->e[i];
    qsort(o, (size_t)h->n, sizeof *o, by_offset);
    uint64_t at = 0;
    int rc = ETA_OK;
    for (int i = 0; i < h->n && !rc; i++) {
        if (o[i]->begin > at)
            rc = perr(p, o[i]->pos - BASE, "tensor '%s': data_offsets [%llu, %llu] leave %llu bytes unused before it",
                      o[i]->name, (unsigned long long)o[i]->begin, (unsigned long long)o[i]->end,
                      (unsigned long long)(o[i]->begin - at));
        else if (o[i]->begin < at)
            rc = perr(p, o[i]->pos - BASE, "tensor '%s': data_offsets [%llu, %llu] overlap tensor '%s' [%llu, %llu]",
                      o[i]->name, (unsigned long long)o[i]->begin, (unsigned long long)o[i]->end, o[i - 1]->name,
                      (unsigned long long)o[i - 1]->begin, (unsigned long long)o[i - 1]->end);
        at = o[i]->end;
    }
    free(o);
    if (!rc && at > len)
        rc = eta_spec_fail(p->err, ETA_EFORMAT, NULL,
                           "%s: truncated: the tensors need %llu bytes after the header (from offset %zu), the "
                           "file has %zu",
                           p->what, (unsigned long long)at, BASE + p->n, len);
    else if (!rc && at < len)
        rc = eta_spec_fail(p->err, ETA_EFORMAT, NULL,
                           "%s: %llu bytes after the last tensor's data (offset %llu): not a whole safetensors file",
                           p->what, (unsigned long long)(len - at), (unsigned long long)(BASE + p->n + at));
    return rc;
}

int st_header_read(st_header *h, const unsigned char *b, size_t n, const char *what, const unsigned char **data,
                   eta_err *err)
{
    memset(h, 0, sizeof *h);
    *data = NULL;
    if (n < 8)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: truncated: %zu bytes, a safetensors file starts with an 8-byte header length", what, n);
    uint64_t N = eta_get_le(b, 8);
    if (N > ST_MAX_HEADER)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: header length %llu (offset 0) is above the format's limit of %u: not a safetensors "
                             "file?", what, (unsigned long long)N, ST_MAX_HEADER);
    if (N > n - 8)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: truncated: header length %llu (offset 0), but only %zu bytes follow", what,
                             (unsigned long long)N, n - 8);
    parser p = {b + 8, (size_t)N, 0, what, err};
    int rc = parse(&p, h);
    if (!rc)
        rc = layout(&p, h, n - 8 - (size_t)N);
    if (!rc)
        *data = b + 8 + N;
    return rc;
}

void st_header_free(st_header *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->e[i].name);
    free(h->e);
    free(h->by_name);
    memset(h, 0, sizeof *h);
}

st_entry *st_header_find(const st_header *h, const char *name)
{
    size_t lo = 0, hi = (size_t)h->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(h->by_name[mid]->name, name);
        if (c == 0)
            return h->by_name[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- writing ------------------------------------------------------------ */

int st_buf_put(st_buf *b, const char *s, size_t n)
{
    if (b->cap - b->len <= n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len <= n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return ETA_ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return ETA_OK;
}

int st_buf_printf(st_buf *b, const char *fmt, ...)
{
    char tmp[160];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return k < 0 || (size_t)k >= sizeof tmp ? ETA_EINVAL : st_buf_put(b, tmp, (size_t)k);
}

int st_buf_json_string(st_buf *b, const char *s)
{
    int rc = st_buf_put(b, "\"", 1);
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = st_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            rc = st_buf_printf(b, "\\u%04x", c);
        else
            rc = st_buf_put(b, s, 1);
    }
    return rc ? rc : st_buf_put(b, "\"", 1);
}
