/* ckpt.c - the checkpoint container: named binary sections in one
 * versioned, checksummed file. What the sections hold (parameters,
 * optimizer and schedule state, RNG streams, the data position) is the
 * business of the objects that save them; this file only keeps the bytes
 * safe: written atomically (file.c), refused when truncated or corrupted.
 *
 * Format, version 1; every number little-endian whatever the host:
 *
 *   offset  bytes  field
 *   0       8      magic "ETA-CKPT"
 *   8       4      u32 format version (1)
 *   12      4      u32 number of sections
 *   16      8      u64 size of the whole file in bytes (trailer included)
 *   24             the sections, one after another:
 *     +0    4        u32 name length L (1..255)
 *     +4    4        u32 CRC-32 of the data
 *     +8    8        u64 data length D
 *     +16   L        the name (printable ASCII), zeros to a multiple of 8
 *           D        the data, zeros to a multiple of 8
 *   size-4  4      u32 CRC-32 of every byte before it
 *
 * So every section's data starts at a multiple of 8 bytes. Reading checks,
 * in this order, and stops at the first problem with a message naming the
 * file, the section and the byte offset: the magic, the version, the
 * declared size against the file's (a shorter file is "truncated", and the
 * first section that does not fit is named), each section's header, name,
 * bounds and zero padding, repeated names, each section's CRC, the trailer's.
 * A container is returned only when everything holds.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le.h"
#include "eta/core.h"

#define MAGIC "ETA-CKPT"
#define VERSION 1u
#define HEADER 24  /* magic, version, count, size */
#define SECHDR 16  /* name length, CRC, data length */
#define TRAILER 4
#define NAME_MAX_ 255

typedef struct section {
    const char *name;          /* NUL-terminated */
    const unsigned char *data;
    size_t len;
    uint32_t crc;              /* of data (read: as stored) */
    size_t off, hdr, nlen;     /* read: offsets of the data and the header, name length */
    void *own_data;            /* added: the copy of the data */
    char *own_name;            /* added: the copy of the name */
} section;

struct eta_ckpt {
    section *s;
    int n, cap;
    unsigned char *file;       /* read: the file's bytes, which sections point into */
    char *names;               /* read: the names, NUL-terminated */
};

static const unsigned char zeros[8];

static size_t pad8(size_t n)
{
    return (8 - (n & 7)) & 7;
}

int eta_ckpt_new(eta_ckpt **out)
{
    *out = calloc(1, sizeof **out);
    return *out ? ETA_OK : ETA_ENOMEM;
}

void eta_ckpt_free(eta_ckpt *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++) {
        free(c->s[i].own_data);
        free(c->s[i].own_name);
    }
    free(c->s);
    free(c->file);
    free(c->names);
    free(c);
}

/* A name's problem as text, or NULL when it is a valid name. */
static const char *bad_name(const unsigned char *name, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > NAME_MAX_)
        return "is longer than 255 bytes";
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7e)
            return "holds a byte that is not printable ASCII";
    return NULL;
}

static int find(const eta_ckpt *c, const char *name)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->s[i].name, name))
            return i;
    return -1;
}

static section *grow(eta_ckpt *c)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 8;
        section *s = realloc(c->s, (size_t)cap * sizeof *s);
        if (!s)
            return NULL;
        c->s = s;
        c->cap = cap;
    }
    section *s = &c->s[c->n];
    memset(s, 0, sizeof *s);
    return s;
}

int eta_ckpt_add(eta_ckpt *c, const char *name, const void *data, size_t len)
{
    if (!c || !name || (len > 0 && !data) || bad_name((const unsigned char *)name, strlen(name)) ||
        find(c, name) >= 0)
        return ETA_EINVAL;
    section *s = grow(c);
    if (!s)
        return ETA_ENOMEM;
    size_t nl = strlen(name);
    s->own_name = malloc(nl + 1);
    s->own_data = malloc(len ? len : 1);
    if (!s->own_name || !s->own_data) {
        free(s->own_name);
        free(s->own_data);
        return ETA_ENOMEM;
    }
    memcpy(s->own_name, name, nl + 1);
    if (len)
        memcpy(s->own_data, data, len);
    s->name = s->own_name;
    s->data = s->own_data;
    s->len = len;
    s->crc = eta_crc32(0, data, len);
    c->n++;
    return ETA_OK;
}

int eta_ckpt_get(const eta_ckpt *c, const char *name, const void **data, size_t *len)
{
    int i = c && name ? find(c, name) : -1;
    if (data)
        *data = i >= 0 ? c->s[i].data : NULL;
    if (len)
        *len = i >= 0 ? c->s[i].len : 0;
    return i >= 0 ? ETA_OK : ETA_ENOTFOUND;
}

int eta_ckpt_count(const eta_ckpt *c)
{
    return c ? c->n : 0;
}

const char *eta_ckpt_name(const eta_ckpt *c, int i)
{
    return c && i >= 0 && i < c->n ? c->s[i].name : NULL;
}

/* ---- writing ------------------------------------------------------------ */

/* The file as parts: the header, per section its header and name, its
 * data and its padding, then the trailer (the small pieces live in
 * *meta). 3n + 2 parts; returns 0 or ETA_ENOMEM / ETA_EINVAL (too large). */
static int layout(const eta_ckpt *c, unsigned char **meta, const void ***parts, size_t **lens, int *nparts,
                  size_t *total)
{
    size_t mlen = HEADER + TRAILER, size = HEADER + TRAILER;
    for (int i = 0; i < c->n; i++) {
        size_t nl = strlen(c->s[i].name), sec = SECHDR + nl + pad8(nl);
        mlen += sec;
        if (c->s[i].len > SIZE_MAX - 8 - size - sec)
            return ETA_EINVAL;
        size += sec + c->s[i].len + pad8(c->s[i].len);
    }
    int np = 3 * c->n + 2;
    *meta = malloc(mlen);
    *parts = malloc((size_t)np * sizeof **parts);
    *lens = malloc((size_t)np * sizeof **lens);
    if (!*meta || !*parts || !*lens) {
        free(*meta);
        free(*parts);
        free(*lens);
        return ETA_ENOMEM;
    }
    unsigned char *m = *meta;
    memcpy(m, MAGIC, 8);
    eta_put_le(m + 8, VERSION, 4);
    eta_put_le(m + 12, (uint64_t)c->n, 4);
    eta_put_le(m + 16, (uint64_t)size, 8);
    int k = 0;
    (*parts)[k] = m;
    (*lens)[k++] = HEADER;
    m += HEADER;
    uint32_t crc = eta_crc32(0, *meta, HEADER);
    for (int i = 0; i < c->n; i++) {
        const section *s = &c->s[i];
        size_t nl = strlen(s->name);
        eta_put_le(m, nl, 4);
        eta_put_le(m + 4, s->crc, 4);
        eta_put_le(m + 8, (uint64_t)s->len, 8);
        memcpy(m + SECHDR, s->name, nl);
        memset(m + SECHDR + nl, 0, pad8(nl));
        (*parts)[k] = m;
        (*lens)[k++] = SECHDR + nl + pad8(nl);
        (*parts)[k] = s->data;
        (*lens)[k++] = s->len;
        (*parts)[k] = zeros;
        (*lens)[k++] = pad8(s->len);
        crc = eta_crc32(crc, m, SECHDR + nl + pad8(nl));
        crc = eta_crc32(crc, s->data, s->len);
        crc = eta_crc32(crc, zeros, pad8(s->len));
        m += SECHDR + nl + pad8(nl);
    }
    eta_put_le(m, crc, 4);
    (*parts)[k] = m;
    (*lens)[k++] = TRAILER;
    *nparts = k;
    *total = size;
    return ETA_OK;
}

int eta_ckpt_write(eta_ckpt *c, const char *path, eta_err *err)
{
    eta_err_clear(err);
    if (!c || !path)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "ckpt_write: needs a container and a path");
    unsigned char *meta;
    const void **parts;
    size_t *lens, total;
    int np, rc = layout(c, &meta, &parts, &lens, &np, &total);
    if (rc)
        return eta_spec_fail(err, rc, NULL, "%s: %s", path, rc == ETA_ENOMEM ? "out of memory" : "too large");
    rc = eta_file_write_atomic(path, parts, lens, np, err);
    free(meta);
    free(parts);
    free(lens);
    return rc;
}

int eta_ckpt_to_bytes(const eta_ckpt *c, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    if (!c)
        return ETA_EINVAL;
    unsigned char *meta;
    const void **parts;
    size_t *lens, total;
    int np, rc = layout(c, &meta, &parts, &lens, &np, &total);
    if (rc)
        return rc;
    unsigned char *out = malloc(total);
    if (out) {
        size_t at = 0;
        for (int i = 0; i < np; i++) {
            if (lens[i])
                memcpy(out + at, parts[i], lens[i]);
            at += lens[i];
        }
        *buf = out;
        *len = total;
    }
    free(meta);
    free(parts);
    free(lens);
    return out ? ETA_OK : ETA_ENOMEM;
}

/* ---- reading ------------------------------------------------------------ */

/* "what: [note]message" as ETA_EFORMAT. */
static int bad(eta_err *err, const char *what, const char *note, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int bad(eta_err *err, const char *what, const char *note, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %s%s", what, note, msg);
}

static int by_name(const void *a, const void *b)
{
    return strcmp((*(const section *const *)a)->name, (*(const section *const *)b)->name);
}

/* Checks b[0..n) (owned by c from here on) and fills c's sections. */
static int parse(eta_ckpt *c, unsigned char *b, size_t n, const char *what, eta_err *err)
{
    c->file = b;
    if (n < 8 ? memcmp(b, MAGIC, n) != 0 : memcmp(b, MAGIC, 8) != 0)
        return bad(err, what, "", "not an eta checkpoint (no \"%s\" at offset 0)", MAGIC);
    if (n < HEADER + TRAILER)
        return bad(err, what, "", "truncated: %zu bytes, a checkpoint has at least %d", n, HEADER + TRAILER);
    uint32_t version = (uint32_t)eta_get_le(b + 8, 4);
    if (version != VERSION)
        return bad(err, what, "", "format version %u (offset 8) is not one this build reads (%u)", version,
                   VERSION);
    uint64_t count = eta_get_le(b + 12, 4), declared = eta_get_le(b + 16, 8);
    if (declared < n)
        return bad(err, what, "", "%zu bytes, but its header (offset 16) says %llu: bytes after the end", n,
                   (unsigned long long)declared);
    char note[96] = "";
    if (declared > n)
        snprintf(note, sizeof note, "truncated: %zu bytes where the header (offset 16) says %llu; ", n,
                 (unsigned long long)declared);
    /* Each section takes 16 bytes at least, so the walk below stops (at a
     * section running past the end) before more than `fit` of them. */
    size_t names_len = 0, end = declared > n ? n : n - TRAILER, o = HEADER, fit = (end - HEADER) / SECHDR;
    if (fit > INT32_MAX)
        return bad(err, what, note, "more sections than this build reads");
    c->s = calloc((size_t)(count < fit ? count : fit) + 1, sizeof *c->s);
    if (!c->s)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory for %llu sections", what,
                             (unsigned long long)count);
    c->cap = (int)(count < fit ? count : fit) + 1;
    /* First pass: bounds, names, padding. Names are copied after it. */
    for (uint64_t i = 0; i < count; i++) {
        if (end - o < SECHDR)
            return bad(err, what, note, "section %llu at offset %zu: its header runs past the end",
                       (unsigned long long)i, o);
        size_t nl = (size_t)eta_get_le(b + o, 4);
        uint64_t dl = eta_get_le(b + o + 8, 8);
        if (nl == 0 || nl > NAME_MAX_)
            return bad(err, what, note, "section %llu at offset %zu: name length %zu is not in [1, 255]",
                       (unsigned long long)i, o, nl);
        if (end - o - SECHDR < nl + pad8(nl))
            return bad(err, what, note, "section %llu at offset %zu: its name runs past the end",
                       (unsigned long long)i, o);
        const unsigned char *name = b + o + SECHDR;
        const char *why = bad_name(name, nl);
        if (why)
            return bad(err, what, note, "section %llu at offset %zu: the name %s", (unsigned long long)i, o, why);
        if (memcmp(name + nl, zeros, pad8(nl)))
            return bad(err, what, note, "section '%.*s' at offset %zu: padding after the name is not zero",
                       (int)nl, (const char *)name, o);
        size_t data = o + SECHDR + nl + pad8(nl);
        if (dl > end - data || pad8((size_t)dl) > end - data - dl)
            return bad(err, what, note,
                       "section '%.*s' at offset %zu: its %llu bytes of data (from offset %zu) run past the end",
                       (int)nl, (const char *)name, o, (unsigned long long)dl, data);
        if (memcmp(b + data + dl, zeros, pad8((size_t)dl)))
            return bad(err, what, note, "section '%.*s' at offset %zu: padding after the data is not zero",
                       (int)nl, (const char *)name, o);
        section *s = &c->s[c->n++];
        s->name = (const char *)name; /* replaced by a NUL-terminated copy below */
        s->len = (size_t)dl;
        s->crc = (uint32_t)eta_get_le(b + o + 4, 4);
        s->off = data;
        s->hdr = o;
        s->nlen = nl;
        s->data = b + data;
        names_len += nl + 1;
        o = data + (size_t)dl + pad8((size_t)dl);
    }
    if (o != end)
        return bad(err, what, note, "%zu bytes between the last section's end (offset %zu) and the trailer", end - o,
                   o);
    if (note[0]) /* every section fits, yet the file is shorter than declared */
        return bad(err, what, note, "the declared size does not match the sections");
    c->names = malloc(names_len ? names_len : 1);
    const section **sorted = malloc((size_t)(c->n ? c->n : 1) * sizeof *sorted);
    if (!c->names || !sorted) {
        free(sorted);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", what);
    }
    char *p = c->names;
    for (int i = 0; i < c->n; i++) {
        const unsigned char *raw = b + c->s[i].hdr + SECHDR;
        size_t len = c->s[i].nlen;
        memcpy(p, raw, len);
        p[len] = 0;
        c->s[i].name = p;
        sorted[i] = &c->s[i];
        p += len + 1;
    }
    qsort(sorted, (size_t)c->n, sizeof *sorted, by_name);
    for (int i = 1; i < c->n; i++)
        if (!strcmp(sorted[i]->name, sorted[i - 1]->name)) {
            const section *later = sorted[i]->off > sorted[i - 1]->off ? sorted[i] : sorted[i - 1];
            int rc = bad(err, what, "", "section '%s' at offset %zu: the name is used twice", later->name,
                         later->hdr);
            free(sorted);
            return rc;
        }
    free(sorted);
    for (int i = 0; i < c->n; i++) {
        const section *s = &c->s[i];
        uint32_t crc = eta_crc32(0, s->data, s->len);
        if (crc != s->crc)
            return bad(err, what, "", "section '%s' (data at offset %zu, %zu bytes): CRC-32 mismatch: stored 0x%08x, "
                       "computed 0x%08x", s->name, s->off, s->len, (unsigned)s->crc, (unsigned)crc);
    }
    uint32_t stored = (uint32_t)eta_get_le(b + end, 4), crc = eta_crc32(0, b, end);
    if (crc != stored)
        return bad(err, what, "", "CRC-32 of the file (trailer at offset %zu) mismatch: stored 0x%08x, computed "
                   "0x%08x: a header or name byte is corrupt", end, (unsigned)stored, (unsigned)crc);
    return ETA_OK;
}

/* Parses b (taking it) into a new container. */
static int finish(eta_ckpt **out, unsigned char *b, size_t n, const char *what, eta_err *err)
{
    eta_ckpt *c = calloc(1, sizeof *c);
    if (!c) {
        free(b);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", what);
    }
    int rc = parse(c, b, n, what, err);
    if (rc) {
        eta_ckpt_free(c); /* read sections own nothing: the file and tables go */
        return rc;
    }
    *out = c;
    return ETA_OK;
}

int eta_ckpt_read(eta_ckpt **out, const char *path, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    void *b;
    size_t n;
    int rc = eta_file_read_all(path, &b, &n, err);
    if (rc)
        return rc;
    char p[120];
    return finish(out, b, n, eta_path_short_(path, p, sizeof p), err);
}

int eta_ckpt_from_bytes(eta_ckpt **out, const void *data, size_t len, const char *what, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    if (!data && len)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "ckpt_from_bytes: data is NULL");
    unsigned char *b = malloc(len ? len : 1);
    if (!b)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %zu bytes", len);
    if (len)
        memcpy(b, data, len);
    return finish(out, b, len, what ? what : "checkpoint", err);
}
