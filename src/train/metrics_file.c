/* train/metrics_file.c - the metrics sink's append-only files: each knows
 * its length and the CRC-32 of its bytes, can be cut back to an earlier
 * length (a guard rollback) and reopened at a recorded length after a
 * crash, refusing a file whose beginning no longer matches.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/metrics_impl.h"

static int io_fail(eta_err *err, const char *path, int e)
{
    return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(e ? e : EIO));
}

static char *join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (p) {
        memcpy(p, dir, a);
        p[a] = '/';
        memcpy(p + a + 1, name, b + 1);
    }
    return p;
}

int mfile_create(mfile *mf, const char *dir, const char *name, eta_err *err)
{
    *mf = (mfile){0};
    if (!dir)
        return ETA_OK;
    if (!(mf->path = join(dir, name)))
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    errno = 0;
    if (!(mf->f = fopen(mf->path, "w+b")))
        return io_fail(err, mf->path, errno);
    return ETA_OK;
}

int mfile_resume(mfile *mf, const char *dir, const char *name, uint64_t keep, uint32_t keep_crc, const void *tail,
                 size_t tail_len, uint64_t off, uint32_t crc, eta_err *err)
{
    *mf = (mfile){0};
    if (!dir)
        return ETA_OK;
    if (!(mf->path = join(dir, name)))
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    errno = 0;
    if (!(mf->f = fopen(mf->path, "r+b")))
        return io_fail(err, mf->path, errno);
    uint32_t c = 0;
    uint64_t left = keep;
    unsigned char buf[65536];
    while (left > 0) {
        size_t want = left < sizeof buf ? (size_t)left : sizeof buf;
        size_t got = fread(buf, 1, want, mf->f);
        c = eta_crc32(c, buf, got);
        left -= got;
        if (got < want) {
            if (ferror(mf->f))
                return io_fail(err, mf->path, errno);
            return eta_spec_fail(err, ETA_EFORMAT, NULL,
                                 "%s: %llu bytes, but the checkpoint needs its first %llu: the file was cut or "
                                 "replaced",
                                 mf->path, (unsigned long long)(keep - left), (unsigned long long)keep);
        }
    }
    if (c != keep_crc)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: its first %llu bytes differ from those the checkpoint recorded: the file was "
                             "changed or belongs to another run",
                             mf->path, (unsigned long long)keep);
    int rc = mfile_truncate(mf, keep, keep_crc, err);
    if (!rc)
        rc = mfile_write(mf, tail, tail_len, err);
    if (!rc && (mf->off != off || mf->crc != crc))
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: the checkpoint's record of the file is inconsistent",
                           mf->path);
    return rc;
}

int mfile_tail(mfile *mf, uint64_t from, void **buf, size_t *len, eta_err *err)
{
    *buf = NULL;
    *len = 0;
    if (!mf->f || from >= mf->off)
        return ETA_OK;
    size_t n = (size_t)(mf->off - from);
    unsigned char *p = malloc(n);
    if (!p)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    errno = 0;
    if (fflush(mf->f) != 0) {
        free(p);
        return io_fail(err, mf->path, errno);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fileno(mf->f), p + got, n - got, (off_t)(from + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            free(p);
            return io_fail(err, mf->path, k < 0 ? errno : EIO);
        }
        got += (size_t)k;
    }
    *buf = p;
    *len = n;
    return ETA_OK;
}

int mfile_write(mfile *mf, const void *s, size_t n, eta_err *err)
{
    if (!mf->f || n == 0)
        return ETA_OK;
    errno = 0;
    if (fwrite(s, 1, n, mf->f) != n)
        return io_fail(err, mf->path, errno);
    mf->off += n;
    mf->crc = eta_crc32(mf->crc, s, n);
    return ETA_OK;
}

int mfile_truncate(mfile *mf, uint64_t off, uint32_t crc, eta_err *err)
{
    if (!mf->f)
        return ETA_OK;
    errno = 0;
    if (fflush(mf->f) != 0 || ftruncate(fileno(mf->f), (off_t)off) != 0 || fseek(mf->f, (long)off, SEEK_SET) != 0)
        return io_fail(err, mf->path, errno);
    mf->off = off;
    mf->crc = crc;
    return ETA_OK;
}

int mfile_flush(mfile *mf, eta_err *err)
{
    errno = 0;
    if (mf->f && fflush(mf->f) != 0)
        return io_fail(err, mf->path, errno);
    return ETA_OK;
}

int mfile_close(mfile *mf, eta_err *err)
{
    int rc = ETA_OK;
    errno = 0;
    if (mf->f && fclose(mf->f) != 0)
        rc = io_fail(err, mf->path, errno);
    free(mf->path);
    *mf = (mfile){0};
    return rc;
}
