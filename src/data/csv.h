/* data/csv.h - internal: the CSV reader (csv.c), for tabular.c and the fuzz
 * harness tests/fuzz/fuzz_csv.c. */
#ifndef ETA_DATA_CSV_H
#define ETA_DATA_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "eta/core.h"

/* What the first line is. AUTO decides (csv.c says how). */
typedef enum data_csv_header {
    DATA_CSV_AUTO = 0,
    DATA_CSV_NONE,     /* no header: every line is data */
    DATA_CSV_NAMES,    /* column names */
    DATA_CSV_SKLEARN,  /* scikit-learn's "n_samples,n_features[,class names...]" (then
                          optionally a line of column names) */
    DATA_CSV_HEADER_COUNT
} data_csv_header;
extern const char *const data_csv_headers[DATA_CSV_HEADER_COUNT]; /* "auto", "none", "names", "sklearn" */

typedef struct data_csv {
    int64_t rows, cols;
    char **names;         /* cols column names, or NULL when the file has none */
    char **cells;         /* rows x cols fields, NUL-terminated, quotes removed */
    int64_t *line;        /* the 1-based line of each row */
    int header;           /* the header found (never AUTO) */
    char sep;             /* ',', ';', '\t', or ' ' for runs of blanks */
    int nclass;           /* SKLEARN: the class names of line 1 */
    char **class_names;
    char *text;           /* owns every string above */
} data_csv;

/* Splits text[0..len) (a NUL after it; ownership passes to out, also on
 * failure) into rows of fields. sep 0 picks the first of ',', ';', tab
 * found in the first line, else blanks. Lines that are blank or start
 * with '#' are skipped. Errors (ETA_EFORMAT, naming `name` and the line):
 * an empty file, no data rows, a NUL byte, an unterminated quote, a row
 * whose field count differs from the first one's, a scikit-learn header
 * whose counts disagree with the data. */
int data_csv_parse(data_csv *out, const char *name, char *text, size_t len, data_csv_header header, char sep,
                   eta_err *err);
int data_csv_read(data_csv *out, const char *path, data_csv_header header, char sep, eta_err *err);
void data_csv_free(data_csv *c);

/* A field as a number: the whole field must be one (strtod, blanks around
 * allowed). Returns false if not; NaN and infinities are numbers here. */
bool data_csv_number(const char *s, double *out);

#endif
