/* data/sentences.h - internal: the reader of labelled sentences in JSON
 * (sentences.c), for sentiment.c and tests/fuzz/fuzz_sentences.c. */
#ifndef ETA_DATA_SENTENCES_H
#define ETA_DATA_SENTENCES_H

#include <stddef.h>
#include <stdint.h>

#include "eta/core.h"

typedef struct data_sentence {
    char *text;      /* UTF-8, NUL-terminated (escapes decoded) */
    size_t len;
    int32_t label;
    int64_t offset;  /* byte offset of the record's '{' in the file */
} data_sentence;

typedef struct data_sentences {
    data_sentence *s;
    int64_t n;
    int64_t skipped; /* records with an empty text and a null class */
} data_sentences;

/* Parses a JSON array of records {"text": string, "class": integer}
 * (other keys are read and ignored; nesting is limited to 64 levels).
 * Records whose class is null and text empty are skipped (the UCI
 * fixtures end with one); any other record needs both keys and a class in
 * [0, classes). Errors: ETA_EFORMAT naming `name`, the byte offset and the
 * record number; ETA_ENOMEM. Appends to out (start with it zeroed). */
int data_sentences_parse(data_sentences *out, const char *name, const char *buf, size_t len, int classes,
                         eta_err *err);
void data_sentences_free(data_sentences *s);

#endif
