/* data/idx.c - the IDX format of MNIST and Fashion-MNIST
 * (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"): two zero
 * bytes, a type byte, the number of dimensions, each dimension as a
 * big-endian uint32, then the data in row-major order. eta reads type 0x08
 * (unsigned byte), the type of every MNIST-format image and label file;
 * the other types are refused by name. The file must hold exactly the
 * bytes its dimensions promise: fewer is a truncated file, more is not an
 * IDX file. Files are read whole (gzip or plain, read.c).
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "data/idx.h"

/* The largest IDX file eta reads: 4 GiB, far above Fashion-MNIST's 47 MB. */
#define IDX_MAX ((size_t)1 << 32)

static const char *type_name(int t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

int data_idx_parse(data_idx *out, const char *name, const uint8_t *buf, size_t len, eta_err *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: empty file", name);
    if (len < 4)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %zu bytes, too short for the 4-byte IDX magic", name, len);
    if (buf[0] != 0 || buf[1] != 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: byte 0: wrong IDX magic %02x %02x %02x %02x (expected 00 00 08 NN; not an IDX file?)",
                             name, buf[0], buf[1], buf[2], buf[3]);
    if (buf[2] != 0x08) {
        const char *t = type_name(buf[2]);
        if (t)
            return eta_spec_fail(err, ETA_EFORMAT, NULL,
                                 "%s: byte 2: IDX type 0x%02x (%s); eta reads unsigned bytes (0x08) only", name, buf[2], t);
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte 2: wrong IDX magic: type 0x%02x is no IDX type", name,
                             buf[2]);
    }
    int ndim = buf[3];
    if (ndim < 1 || ndim > 8)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte 3: %d dimensions; expected 1 to 8", name, ndim);
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (len < hdr)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: truncated: %zu bytes, the header of %d dimensions needs %zu",
                             name, len, ndim, hdr);
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        const uint8_t *p = buf + 4 + 4 * i;
        uint64_t d = (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
        out->dims[i] = (int64_t)d;
        if (d == 0)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte %d: dimension %d is 0", name, 4 + 4 * i, i);
        if (count > IDX_MAX / d)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte %d: dimensions promise more than %zu bytes", name,
                                 4 + 4 * i, IDX_MAX);
        count *= d;
    }
    if (len - hdr < count)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: truncated: byte %zu: the dimensions promise %llu bytes of data after the %zu-byte "
                             "header, the file has %zu",
                             name, len, (unsigned long long)count, hdr, len - hdr);
    if (len - hdr > count)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "%s: byte %llu: %zu bytes after the %llu the dimensions promise (not an IDX file?)", name,
                             (unsigned long long)(hdr + count), len - hdr - (size_t)count, (unsigned long long)count);
    out->ndim = ndim;
    out->count = (int64_t)count;
    out->data = buf + hdr;
    return ETA_OK;
}

int data_idx_read(data_idx *out, const char *path, eta_err *err)
{
    memset(out, 0, sizeof *out);
    char *buf;
    size_t len;
    int rc = data_read_all(path, IDX_MAX + 4 + 32, &buf, &len, err);
    if (rc)
        return rc;
    if ((rc = data_idx_parse(out, path, (const uint8_t *)buf, len, err))) {
        free(buf);
        return rc;
    }
    out->owned = buf;
    return ETA_OK;
}

void data_idx_free(data_idx *x)
{
    if (!x)
        return;
    free(x->owned);
    memset(x, 0, sizeof *x);
}
