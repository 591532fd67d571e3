/* file.c - whole files: an atomic write (a temporary file in the same
 * folder, written, fsync'd and renamed over the target, then the folder
 * fsync'd) and a bounded read of a whole file into memory.
 *
 * Why a rename: POSIX rename() replaces the target atomically, so a reader
 * (or a process restarted after a crash or SIGKILL) finds either the old
 * file or the new one, never a mix. fsync before the rename makes the new
 * content durable before it becomes visible; fsync of the folder makes the
 * rename itself durable (ext4's data=ordered would mostly do this anyway,
 * other file systems do not). A process killed mid-write leaves its
 * temporary file "<path>.tmp.<pid>.<n>" behind; nothing reads those, and
 * they may be deleted. The checkpoint container (ckpt.c) and the
 * safetensors writer (nn/safetensors.c) write through here.
 * POSIX only (open, fsync, rename); the core layer needs nothing else.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "eta/core.h"

const char *eta_path_short_(const char *path, char *buf, size_t n)
{
    size_t len = strlen(path);
    if (len < n)
        return path;
    /* "..." and the last n - 4 bytes, started at a UTF-8 character */
    const char *tail = path + len - (n - 4);
    while (((unsigned char)*tail & 0xC0) == 0x80)
        tail++;
    snprintf(buf, n, "...%s", tail);
    return buf;
}

/* "path: strerror(e)" (with `what` between them when not NULL). */
static int io_fail(eta_err *err, int code, const char *path, const char *what, int e)
{
    char p[120];
    const char *sp = eta_path_short_(path, p, sizeof p);
    if (what)
        return eta_spec_fail(err, code, NULL, "%s: %s: %s", sp, what, strerror(e));
    return eta_spec_fail(err, code, NULL, "%s: %s", sp, strerror(e));
}

/* Writes all n bytes, through partial writes and interrupts. 0 or errno. */
static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        size_t chunk = n < ((size_t)1 << 30) ? n : ((size_t)1 << 30);
        ssize_t k = write(fd, p, chunk);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (k == 0)
            return EIO;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* The folder part of path ("." when none, "/" for "/x"), into buf. */
static void folder_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

int eta_file_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts, eta_err *err)
{
    eta_err_clear(err);
    if (!path || !*path || nparts < 0 || (nparts > 0 && (!parts || !lens)))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "write_atomic: needs a path and nparts >= 0 parts");
    size_t plen = strlen(path);
    if (path[plen - 1] == '/')
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: names a folder, not a file", path);
    for (int i = 0; i < nparts; i++)
        if (lens[i] > 0 && !parts[i])
            return eta_spec_fail(err, ETA_EINVAL, NULL, "write_atomic: part %d is NULL with %zu bytes", i, lens[i]);
    char *tmp = malloc(plen + 64), *dir = malloc(plen + 2);
    if (!tmp || !dir) {
        free(tmp);
        free(dir);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    folder_of(path, dir, plen + 2);
    /* A name no other writer uses: the pid, and a counter started from the
     * clock, moved on while the name exists (O_EXCL decides). */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned seq = (unsigned)ts.tv_nsec ^ ((unsigned)ts.tv_sec << 20);
    int fd = -1, rc = ETA_OK;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, plen + 64, "%s.tmp.%ld.%u", path, (long)getpid(), seq + (unsigned)tries);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        rc = io_fail(err, ETA_EIO, path, "cannot create a temporary file beside it", errno);
        goto done;
    }
    int e = 0;
    for (int i = 0; i < nparts && !e; i++)
        e = lens[i] ? write_all(fd, parts[i], lens[i]) : 0;
    const char *step = "writing";
    if (!e && fsync(fd) != 0) {
        e = errno;
        step = "flushing to disk";
    }
    if (close(fd) != 0 && !e) { /* NFS reports write errors at close */
        e = errno;
        step = "closing";
    }
    if (!e && rename(tmp, path) != 0) {
        e = errno;
        step = "renaming the temporary file over it";
    }
    if (e) {
        unlink(tmp);
        rc = io_fail(err, ETA_EIO, path, step, e);
        goto done;
    }
    /* The rename is done: the file is complete at path. Make the rename
     * durable; file systems that cannot sync a folder say EINVAL. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL)
            rc = io_fail(err, ETA_EIO, path, "written, but syncing its folder failed", errno);
        close(dfd);
    }
done:
    free(tmp);
    free(dir);
    return rc;
}

int eta_file_read_max(const char *path, size_t max, void **data, size_t *len, eta_err *err)
{
    eta_err_clear(err);
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (!path || !data || !len)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "read: needs a path and places for the data and length");
    char p[120];
    const char *sp = eta_path_short_(path, p, sizeof p);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, ETA_EIO, path, NULL, errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return io_fail(err, ETA_EIO, path, NULL, e);
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return io_fail(err, ETA_EIO, path, NULL, EISDIR);
    }
    /* A regular file's size is known (it may still change: the loop reads
     * to the end whatever it is); pipes and devices start small and grow. */
    size_t cap = 1 << 16;
    if (S_ISREG(st.st_mode)) {
        if ((uintmax_t)st.st_size > max) {
            close(fd);
            return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: %jd bytes, more than the limit of %zu", sp,
                                 (intmax_t)st.st_size, max);
        }
        cap = (size_t)st.st_size + 1;
    }
    unsigned char *buf = malloc(cap);
    size_t n = 0;
    int rc = ETA_OK;
    while (buf) {
        if (n + 1 >= cap) { /* keep room for the NUL */
            size_t ncap = cap < SIZE_MAX / 2 ? 2 * cap : SIZE_MAX;
            unsigned char *nb = n + 1 < ncap ? realloc(buf, ncap) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t k = read(fd, buf + n, cap - 1 - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = io_fail(err, ETA_EIO, path, NULL, errno);
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
        if (n > max) {
            rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s: more than the limit of %zu bytes", sp, max);
            break;
        }
    }
    close(fd);
    if (!buf)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory after %zu bytes", sp, n);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[n] = 0;
    *data = buf;
    *len = n;
    return ETA_OK;
}

int eta_file_read_all(const char *path, void **data, size_t *len, eta_err *err)
{
    return eta_file_read_max(path, SIZE_MAX - 1, data, len, err);
}
