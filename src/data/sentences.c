/* data/sentences.c - labelled sentences from JSON: an array of records
 * {"text": "...", "class": 0}, the form of the UCI Sentiment Labelled
 * Sentences (Kotzias et al., KDD 2015) as npm's sentiment@5.0.2 ships
 * them in test/fixtures/{amazon,imdb,yelp}.json.
 *
 * A small strict JSON reader (RFC 8259) written for this one shape, so
 * every error names the byte offset and the record: strings with every
 * escape (\uXXXX with surrogate pairs decoded to UTF-8; \u0000 refused,
 * since texts are C strings), numbers by the JSON grammar, other values
 * skipped with a depth limit. Raw control characters in strings, trailing
 * commas and text after the array are errors, as in JSON.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/sentences.h"

#define MAX_DEPTH 64

typedef struct parser {
    const char *name;
    const unsigned char *s;
    size_t n, i;
    int64_t record; /* 1-based, 0 outside records */
    eta_err *err;
} parser;

static int fail(parser *p, size_t at, const char *what)
{
    if (p->record > 0)
        return eta_spec_fail(p->err, ETA_EFORMAT, NULL, "%s: byte %zu: record %lld: %s", p->name, at,
                             (long long)p->record, what);
    return eta_spec_fail(p->err, ETA_EFORMAT, NULL, "%s: byte %zu: %s", p->name, at, what);
}

static void ws(parser *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int hex4(parser *p, size_t at, unsigned *out)
{
    unsigned v = 0;
    if (p->n - at < 4)
        return fail(p, at, "truncated \\u escape");
    for (int k = 0; k < 4; k++) {
        unsigned c = p->s[at + (size_t)k];
        unsigned d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 16;
        if (d == 16)
            return fail(p, at + (size_t)k, "bad hex digit in \\u escape");
        v = v * 16 + d;
    }
    *out = v;
    return ETA_OK;
}

/* A string at p->i ('"'). out NULL: skip it; else a malloc'd decoded copy. */
static int string(parser *p, char **out, size_t *out_len)
{
    size_t start = p->i++;
    char *buf = NULL;
    size_t len = 0;
    if (out) {
        /* decoded text is never longer than its source up to the closing quote */
        size_t j = p->i;
        while (j < p->n && p->s[j] != '"')
            j += p->s[j] == '\\' ? 2 : 1;
        buf = malloc((j < p->n ? j : p->n) - p->i + 1);
        if (!buf)
            return eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->name);
    }
    for (;;) {
        if (p->i >= p->n) {
            free(buf);
            return fail(p, start, "unterminated string");
        }
        unsigned char c = p->s[p->i];
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20) {
            free(buf);
            return fail(p, p->i, "control character in a string (must be escaped)");
        }
        if (c != '\\') {
            if (buf)
                buf[len++] = (char)c;
            p->i++;
            continue;
        }
        size_t at = p->i;
        if (++p->i >= p->n) {
            free(buf);
            return fail(p, start, "unterminated string");
        }
        c = p->s[p->i++];
        char e = c == '"' ? '"' : c == '\\' ? '\\' : c == '/' ? '/' : c == 'b' ? '\b' : c == 'f' ? '\f' : c == 'n' ? '\n'
               : c == 'r' ? '\r' : c == 't' ? '\t' : 0;
        if (e) {
            if (buf)
                buf[len++] = e;
            continue;
        }
        if (c != 'u') {
            free(buf);
            return fail(p, at, "bad escape in a string");
        }
        unsigned cp;
        if (hex4(p, p->i, &cp)) {
            free(buf);
            return ETA_EFORMAT;
        }
        p->i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (p->n - p->i < 6 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' || hex4(p, p->i + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF) {
                free(buf);
                eta_err_clear(p->err);
                return fail(p, at, "a high surrogate \\u escape without its low half");
            }
            p->i += 6;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            free(buf);
            return fail(p, at, "a low surrogate \\u escape alone");
        } else if (cp == 0) {
            free(buf);
            return fail(p, at, "\\u0000 in a string (texts cannot hold NUL)");
        }
        if (!buf)
            continue;
        /* the escape took 6 or 12 bytes; its UTF-8 form at most 4 */
        if (cp < 0x80)
            buf[len++] = (char)cp;
        else if (cp < 0x800) {
            buf[len++] = (char)(0xC0 | cp >> 6);
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            buf[len++] = (char)(0xE0 | cp >> 12);
            buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        } else {
            buf[len++] = (char)(0xF0 | cp >> 18);
            buf[len++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            buf[len++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            buf[len++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    if (buf) {
        if (memchr(buf, '\0', len)) {
            free(buf);
            return fail(p, start, "NUL byte in a string");
        }
        buf[len] = '\0';
        *out = buf;
        *out_len = len;
    }
    return ETA_OK;
}

/* A number at p->i by JSON's grammar. */
static int number(parser *p, double *out)
{
    size_t start = p->i, i = p->i;
    const unsigned char *s = p->s;
    if (i < p->n && s[i] == '-')
        i++;
    if (i < p->n && s[i] == '0')
        i++;
    else if (i < p->n && s[i] >= '1' && s[i] <= '9')
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return fail(p, start, "expected a value");
    if (i < p->n && s[i] == '.') {
        if (++i >= p->n || s[i] < '0' || s[i] > '9')
            return fail(p, i, "expected a digit after '.'");
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < p->n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= p->n || s[i] < '0' || s[i] > '9')
            return fail(p, i, "expected a digit in the exponent");
        while (i < p->n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    char tmp[64];
    size_t k = i - start;
    if (k >= sizeof tmp) /* a long number is no class label; its value does not matter */
        k = sizeof tmp - 1;
    memcpy(tmp, s + start, k);
    tmp[k] = '\0';
    *out = strtod(tmp, NULL);
    if (i - start >= sizeof tmp)
        *out = NAN;
    p->i = i;
    return ETA_OK;
}

static int literal(parser *p, const char *word)
{
    size_t k = strlen(word);
    if (p->n - p->i < k || memcmp(p->s + p->i, word, k))
        return fail(p, p->i, "expected a value");
    p->i += k;
    return ETA_OK;
}

/* Any value, skipped. */
static int skip(parser *p, int depth)
{
    if (depth > MAX_DEPTH)
        return fail(p, p->i, "nested more than 64 levels");
    ws(p);
    if (p->i >= p->n)
        return fail(p, p->i, "unexpected end of the file (expected a value)");
    unsigned char c = p->s[p->i];
    double x;
    if (c == '"')
        return string(p, NULL, NULL);
    if (c == 't')
        return literal(p, "true");
    if (c == 'f')
        return literal(p, "false");
    if (c == 'n')
        return literal(p, "null");
    if (c != '[' && c != '{')
        return number(p, &x);
    char close = c == '[' ? ']' : '}';
    p->i++;
    ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return ETA_OK;
    }
    for (;;) {
        if (close == '}') {
            ws(p);
            if (p->i >= p->n || p->s[p->i] != '"')
                return fail(p, p->i, "expected a key string");
            int rc = string(p, NULL, NULL);
            if (rc)
                return rc;
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return fail(p, p->i, "expected ':' after a key");
            p->i++;
        }
        int rc = skip(p, depth + 1);
        if (rc)
            return rc;
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            return ETA_OK;
        }
        return fail(p, p->i, close == ']' ? "expected ',' or ']'" : "expected ',' or '}'");
    }
}

/* One record at p->i ('{'), appended to out unless skipped. */
static int record(parser *p, data_sentences *out, int classes)
{
    size_t start = p->i++;
    char *text = NULL;
    size_t len = 0;
    bool has_class = false, null_class = false;
    double cls = 0;
    size_t class_at = 0;
    int rc = ETA_OK;
    ws(p);
    if (p->i < p->n && p->s[p->i] == '}')
        p->i++;
    else
        for (;;) {
            ws(p);
            if (p->i >= p->n || p->s[p->i] != '"') {
                rc = fail(p, p->i, "expected a key string");
                break;
            }
            size_t key_at = p->i;
            char *key;
            size_t klen;
            if ((rc = string(p, &key, &klen)))
                break;
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ':') {
                free(key);
                rc = fail(p, p->i, "expected ':' after a key");
                break;
            }
            p->i++;
            ws(p);
            bool is_text = !strcmp(key, "text"), is_class = !strcmp(key, "class");
            free(key);
            if ((is_text && text) || (is_class && has_class)) {
                rc = fail(p, key_at, is_text ? "key 'text' twice" : "key 'class' twice");
                break;
            }
            if (is_text) {
                if (p->i >= p->n || p->s[p->i] != '"') {
                    rc = fail(p, p->i, "'text' must be a string");
                    break;
                }
                if ((rc = string(p, &text, &len)))
                    break;
            } else if (is_class) {
                has_class = true;
                class_at = p->i;
                if (p->i < p->n && p->s[p->i] == 'n') {
                    if ((rc = literal(p, "null")))
                        break;
                    null_class = true;
                } else if (p->i < p->n && (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9'))) {
                    if ((rc = number(p, &cls)))
                        break;
                } else {
                    rc = fail(p, p->i, "'class' must be an integer or null");
                    break;
                }
            } else if ((rc = skip(p, 2))) {
                break;
            }
            ws(p);
            if (p->i < p->n && p->s[p->i] == ',') {
                p->i++;
                continue;
            }
            if (p->i < p->n && p->s[p->i] == '}') {
                p->i++;
                break;
            }
            rc = fail(p, p->i, "expected ',' or '}'");
            break;
        }
    if (!rc && null_class && (!text || len == 0)) {
        out->skipped++;
        free(text);
        return ETA_OK;
    }
    if (!rc && !text)
        rc = fail(p, start, "no 'text'");
    else if (!rc && !has_class)
        rc = fail(p, start, "no 'class'");
    else if (!rc && null_class)
        rc = fail(p, class_at, "'class' is null for a non-empty text");
    else if (!rc && !(cls == floor(cls) && cls >= 0 && cls < classes)) {
        char m[96];
        snprintf(m, sizeof m, "label %.6g out of range [0, %d)", cls, classes);
        rc = fail(p, class_at, m);
    }
    if (rc) {
        free(text);
        return rc;
    }
    if (out->n % 1024 == 0) {
        data_sentence *s = realloc(out->s, (size_t)(out->n + 1024) * sizeof *s);
        if (!s) {
            free(text);
            return eta_spec_fail(p->err, ETA_ENOMEM, NULL, "%s: out of memory", p->name);
        }
        out->s = s;
    }
    out->s[out->n++] = (data_sentence){text, len, (int32_t)cls, (int64_t)start};
    return ETA_OK;
}

int data_sentences_parse(data_sentences *out, const char *name, const char *buf, size_t len, int classes,
                         eta_err *err)
{
    parser p = {name, (const unsigned char *)buf, len, 0, 0, err};
    ws(&p);
    if (p.i >= p.n)
        return fail(&p, p.i, "empty file (expected a JSON array of records)");
    if (p.s[p.i] != '[')
        return fail(&p, p.i, "expected '[' (a JSON array of records)");
    p.i++;
    ws(&p);
    if (p.i < p.n && p.s[p.i] == ']')
        p.i++;
    else
        for (;;) {
            ws(&p);
            p.record++;
            if (p.i >= p.n || p.s[p.i] != '{')
                return fail(&p, p.i, p.i >= p.n ? "unexpected end of the file (truncated?)" : "expected a record '{'");
            int rc = record(&p, out, classes);
            if (rc)
                return rc;
            ws(&p);
            if (p.i < p.n && p.s[p.i] == ',') {
                p.i++;
                continue;
            }
            if (p.i < p.n && p.s[p.i] == ']') {
                p.i++;
                break;
            }
            return fail(&p, p.i, p.i >= p.n ? "unexpected end of the file (truncated?)" : "expected ',' or ']'");
        }
    p.record = 0;
    ws(&p);
    if (p.i != p.n)
        return fail(&p, p.i, "text after the array");
    return ETA_OK;
}

void data_sentences_free(data_sentences *s)
{
    if (!s)
        return;
    for (int64_t i = 0; i < s->n; i++)
        free(s->s[i].text);
    free(s->s);
    memset(s, 0, sizeof *s);
}
