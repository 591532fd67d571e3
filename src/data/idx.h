/* data/idx.h - internal: the IDX reader (idx.c), for fmnist.c and the fuzz
 * harness tests/fuzz/fuzz_idx.c. */
#ifndef ETA_DATA_IDX_H
#define ETA_DATA_IDX_H

#include <stdint.h>

#include "eta/core.h"

/* An IDX array of unsigned bytes: dims[0] x ... x dims[ndim-1]. */
typedef struct data_idx {
    int ndim;
    int64_t dims[8];
    const uint8_t *data; /* the product of dims bytes */
    int64_t count;       /* that product */
    void *owned;         /* the file's bytes, when read by data_idx_read */
} data_idx;

/* Parses an IDX file already in memory (name for messages): magic 0, 0,
 * type 0x08 (unsigned byte), ndim in [1, 8]; big-endian dims; exactly the
 * product of dims bytes of data after the header. ETA_EFORMAT with the
 * byte offset on anything else. out->data points into buf. */
int data_idx_parse(data_idx *out, const char *name, const uint8_t *buf, size_t len, eta_err *err);

/* Reads and parses a file, plain or gzip. */
int data_idx_read(data_idx *out, const char *path, eta_err *err);
void data_idx_free(data_idx *x);

#endif
