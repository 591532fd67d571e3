/* error.c - error codes, the error record and its caret drawing, dtype sizes.
 *
 * eta_err_format turns an error located in a spec into what a person reads:
 *
 *     betas[1] must be in [0, 1), got 1.5
 *       AdamW(lr=0.1, betas=(0.9, 1.5))
 *                                 ^^^
 * The output has no trailing newline (with or without a location), so callers
 * print it the same way in both cases. Only the line of the text holding the
 * error is shown; the caret line copies the tabs of that line so it stays
 * aligned, and counts UTF-8 characters rather than bytes.
 * A message or a formatted error too long for its buffer ends with "..."
 * (eta_msg_vformat_), never cut silently.
 * The spec parser and the typed readers live in spec.c, CRC-32 in crc32.c.
 */
#include "eta/core.h"

#include "core/error.h"

#include <stdio.h>
#include <string.h>

const char *eta_strerror(int code)
{
    switch (code) {
    case ETA_OK: return "success";
    case ETA_EINVAL: return "invalid argument";
    case ETA_ENOMEM: return "out of memory";
    case ETA_EFORMAT: return "malformed input";
    case ETA_EIO: return "input/output error";
    case ETA_ENONFINITE: return "non-finite value";
    case ETA_ESTATE: return "call out of order";
    case ETA_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}

void eta_err_clear(eta_err *e)
{
    if (!e)
        return;
    e->code = ETA_OK;
    e->pos = -1;
    e->len = 0;
    e->msg[0] = '\0';
}

size_t eta_dtype_size(eta_dtype t)
{
    switch (t) {
    case ETA_F32: return 4;
    case ETA_F64: return 8;
    default: return 0;
    }
}

/* A UTF-8 continuation byte takes no column of its own. */
static int is_cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

void eta_msg_mark_cut_(char *buf, size_t n)
{
    if (!buf || n < 4)
        return;
    size_t at = n - 4; /* "..." and the NUL */
    while (at > 0 && is_cont((unsigned char)buf[at]))
        at--;
    memcpy(buf + at, "...", 4);
}

int eta_msg_vformat_(char *buf, size_t n, const char *fmt, va_list ap)
{
    int k = vsnprintf(buf, n, fmt, ap);
    if (k >= 0 && (size_t)k >= n)
        eta_msg_mark_cut_(buf, n);
    return k;
}

/* A bounded writer that counts what it would have written, like snprintf. */
typedef struct out {
    char *buf;
    size_t cap;  /* bytes available including the NUL */
    size_t len;  /* bytes produced so far (may exceed cap) */
} out;

static void put(out *o, char c)
{
    if (o->cap > 0 && o->len + 1 < o->cap)
        o->buf[o->len] = c;
    o->len++;
}

static void put_n(out *o, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(o, s[i]);
}

int eta_err_format(const eta_err *e, const char *text, char *buf, size_t n)
{
    out o = {buf, buf ? n : 0, 0};
    if (e) {
        if (e->msg[0]) {
            const char *nul = memchr(e->msg, '\0', sizeof e->msg);
            put_n(&o, e->msg, nul ? (size_t)(nul - e->msg) : sizeof e->msg);
        } else {
            const char *msg = eta_strerror(e->code);
            put_n(&o, msg, strlen(msg));
        }
    }
    if (e && text && e->pos >= 0) {
        size_t tlen = strlen(text);
        size_t pos = (size_t)e->pos < tlen ? (size_t)e->pos : tlen;
        size_t start = pos, end = pos;
        while (start > 0 && text[start - 1] != '\n')
            start--;
        while (end < tlen && text[end] != '\n')
            end++;
        /* A CRLF line: leave the CR out of the shown line. */
        size_t shown = end;
        if (shown > start && text[shown - 1] == '\r')
            shown--;
        put(&o, '\n');
        put_n(&o, "  ", 2);
        put_n(&o, text + start, shown - start);
        put(&o, '\n');
        put_n(&o, "  ", 2);
        for (size_t i = start; i < pos; i++) {
            unsigned char c = (unsigned char)text[i];
            if (c == '\t')
                put(&o, '\t');
            else if (!is_cont(c))
                put(&o, ' ');
        }
        size_t stop = e->len > 0 ? pos + (size_t)e->len : pos;
        if (stop > shown)
            stop = shown;
        int carets = 0;
        for (size_t i = pos; i < stop; i++)
            if (!is_cont((unsigned char)text[i])) {
                put(&o, '^');
                carets++;
            }
        if (carets == 0)
            put(&o, '^');
    }
    if (o.cap > 0)
        o.buf[o.len < o.cap ? o.len : o.cap - 1] = '\0';
    if (o.len >= o.cap)
        eta_msg_mark_cut_(o.buf, o.cap);
    return o.len > (size_t)2147483647 ? 2147483647 : (int)o.len;
}
