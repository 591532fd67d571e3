/* data/read.c - whole files into memory, plain or gzip, for the readers
 * (IDX, CSV, JSON sentences, plain text), and the paths they are given.
 *
 * zlib's gzread reads gzip members and passes other bytes through, so one
 * function serves both. A gzip stream cut short is an error here, not a
 * short file: zlib reports it ("unexpected end of file") only through
 * gzerror after the last read, and the message gives the compressed byte
 * offset where the stream stopped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "data/data_impl.h"

const char *data_base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int data_path(char *buf, size_t n, const char *base_dir, const char *path, const eta_spec *at, eta_err *err)
{
    int k;
    while (path[0] == '.' && path[1] == '/' && path[2]) /* "./x" is x */
        path += 2;
    if (base_dir && base_dir[0] && !strcmp(path, ".")) /* "." is base_dir */
        path = "";
    if (!base_dir || !base_dir[0] || path[0] == '/')
        k = snprintf(buf, n, "%s", path);
    else
        k = snprintf(buf, n, "%s%s%s", base_dir, !path[0] || base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path);
    if (k < 0 || (size_t)k >= n)
        return eta_spec_fail(err, ETA_EINVAL, at, "path too long (%d bytes): %.60s...", k, path);
    if (!buf[0])
        return eta_spec_fail(err, ETA_EINVAL, at, "empty path");
    return ETA_OK;
}

int data_read_all(const char *path, size_t max, char **out, size_t *out_len, eta_err *err)
{
    *out = NULL;
    *out_len = 0;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return eta_spec_fail(err, errno ? ETA_EIO : ETA_ENOMEM, NULL, "%s: %s", path,
                             errno ? strerror(errno) : "cannot open");
    gzbuffer(f, 1 << 17);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap + 1);
    int rc = ETA_OK;
    if (!buf)
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    while (!rc) {
        if (len == cap) {
            if (cap >= max) {
                rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: larger than %zu bytes, the most eta reads", path,
                                   max);
                break;
            }
            size_t ncap = cap > max / 2 ? max : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory for %zu bytes", path, ncap);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t want = cap - len;
        if (want > (1u << 30))
            want = 1u << 30;
        int got = gzread(f, buf + len, (unsigned)want);
        if (got < 0)
            break; /* gzerror below */
        if (got == 0)
            break;
        len += (size_t)got;
        if (len == cap && cap >= max) {
            /* Exactly max bytes: the file fits only if nothing follows. */
            char c;
            if (gzread(f, &c, 1) == 1)
                rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: larger than %zu bytes, the most eta reads", path,
                                   max);
            break;
        }
    }
    if (!rc) {
        int zerr;
        const char *zmsg = gzerror(f, &zerr);
        size_t pl = strlen(path); /* zlib puts the path before its message */
        if (!strncmp(zmsg, path, pl) && !strncmp(zmsg + pl, ": ", 2))
            zmsg += pl + 2;
        if (zerr == Z_ERRNO)
            rc = eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(errno));
        else if (zerr != Z_OK && zerr != Z_STREAM_END)
            rc = eta_spec_fail(err, zerr == Z_MEM_ERROR ? ETA_ENOMEM : ETA_EFORMAT, NULL,
                               "%s: gzip stream: %s at compressed byte %lld (truncated or corrupt file; "
                               "%zu bytes decompressed)",
                               path, zmsg, (long long)gzoffset(f), len);
    }
    gzclose(f);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return ETA_OK;
}
