/* nn/safetensors.h - internal: the JSON header of a safetensors file
 * (safetensors_header.c), read strictly and checked against the data that
 * follows it; safetensors.c matches it to a network.
 *
 * The format (https://github.com/huggingface/safetensors, "Format"):
 *   u64 little-endian N | N bytes of JSON | the tensors' bytes
 * The JSON is one object: tensor name -> {"dtype": "F32", "shape": [2, 3],
 * "data_offsets": [begin, end]} (offsets into the bytes after the header),
 * and optionally "__metadata__": {string: string}. The tensors cover the
 * data exactly: no gap, no overlap, nothing after the last one.
 */
#ifndef ETA_NN_SAFETENSORS_H
#define ETA_NN_SAFETENSORS_H

#include <eta/core.h>
#include <stddef.h>
#include <stdint.h>

/* The reference reader's limit on N (safetensors' MAX_HEADER_SIZE). */
#define ST_MAX_HEADER 100000000u
/* Dimensions a tensor entry may have here (eta's tensors have at most 4). */
#define ST_MAX_DIMS 16

typedef enum st_dtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_F64, ST_I64, ST_U64, ST_DTYPE_COUNT
} st_dtype;

typedef struct st_entry {
    char *name;                 /* UTF-8, no NUL inside */
    st_dtype dtype;
    int ndim;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t begin, end;        /* data_offsets */
    size_t pos;                 /* file offset of the entry's name, for messages */
} st_entry;

typedef struct st_header {
    st_entry *e;                /* in the header's order */
    int n;
    st_entry **by_name;         /* sorted by name (strcmp) */
} st_header;

/* "F32" and its size in bytes (1 for BOOL and the 8-bit types). */
const char *st_dtype_name(st_dtype t);
size_t st_dtype_size(st_dtype t);

/* Reads the whole file's bytes b[0..n): the length prefix, the header
 * (strict JSON: UTF-8, no duplicate keys, integers without sign, fraction
 * or exponent, no key but dtype, shape and data_offsets in an entry) and
 * the entries' layout against the n - 8 - N data bytes. On success *data
 * points at the first data byte. Errors (ETA_EFORMAT, ETA_ENOMEM) say
 * "what: ..." with the file offset. Free with st_header_free, even after
 * an error. */
int st_header_read(st_header *h, const unsigned char *b, size_t n, const char *what, const unsigned char **data,
                   eta_err *err);
void st_header_free(st_header *h);
/* The entry named `name`, or NULL. */
st_entry *st_header_find(const st_header *h, const char *name);

/* Appends s as a JSON string (quoted, escaped) to the growing buffer;
 * returns 0 or ETA_ENOMEM. */
typedef struct st_buf {
    char *p;
    size_t len, cap;
} st_buf;
int st_buf_put(st_buf *b, const char *s, size_t n);
int st_buf_printf(st_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int st_buf_json_string(st_buf *b, const char *s);

#endif
