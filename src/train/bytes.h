/* train/bytes.h - internal: a growing byte buffer and a reading cursor for
 * the train layer's saved states (guard, metrics sink). Every number is
 * little-endian whatever the host; doubles travel as their IEEE-754 bits, so
 * a state restores bit for bit. A saved state ends with the CRC-32 of the
 * bytes before it (eta_crc32).
 */
#ifndef ETA_TRAIN_BYTES_H
#define ETA_TRAIN_BYTES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eta/core.h"

typedef struct tbuf {
    unsigned char *p;
    size_t len, cap;
    bool oom;  /* an allocation failed: the content is incomplete */
} tbuf;

static inline void tbuf_put_bytes(tbuf *b, const void *src, size_t n)
{
    if (b->oom)
        return;
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, src, n);
    b->len += n;
}

static inline void tbuf_put_u(tbuf *b, uint64_t v, int bytes)
{
    unsigned char tmp[8];
    for (int i = 0; i < bytes; i++)
        tmp[i] = (unsigned char)(v >> (8 * i));
    tbuf_put_bytes(b, tmp, (size_t)bytes);
}

static inline void tbuf_put_f64(tbuf *b, double x)
{
    uint64_t u;
    memcpy(&u, &x, 8);
    tbuf_put_u(b, u, 8);
}

/* Appends the CRC-32 of everything so far. */
static inline void tbuf_put_crc(tbuf *b)
{
    if (!b->oom)
        tbuf_put_u(b, eta_crc32(0, b->p, b->len), 4);
}

/* A reading cursor; `bad` is set by the first read past the end. */
typedef struct tcur {
    const unsigned char *p;
    size_t len, pos;
    bool bad;
} tcur;

static inline uint64_t tcur_u(tcur *c, int bytes)
{
    if (c->bad || c->len - c->pos < (size_t)bytes) {
        c->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)c->p[c->pos++] << (8 * i);
    return v;
}

static inline double tcur_f64(tcur *c)
{
    uint64_t u = tcur_u(c, 8);
    double x;
    memcpy(&x, &u, 8);
    return x;
}

static inline const unsigned char *tcur_bytes(tcur *c, uint64_t n)
{
    if (c->bad || c->len - c->pos < n) {
        c->bad = true;
        return NULL;
    }
    const unsigned char *q = c->p + c->pos;
    c->pos += (size_t)n;
    return q;
}

/* Whether buf[0..len) ends with the CRC-32 of what precedes it. */
static inline bool tbytes_crc_ok(const void *buf, size_t len)
{
    if (len < 4)
        return false;
    tcur c = {(const unsigned char *)buf + len - 4, 4, 0, false};
    return (uint32_t)tcur_u(&c, 4) == eta_crc32(0, buf, len - 4);
}

#endif
