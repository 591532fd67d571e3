/* eta/data.h - reading data sets: numeric tables (CSV or whitespace
 * separated, gzip or plain) and standardisation.
 *
 * Readers validate what they read and say what is wrong and where
 * ("diabetes.csv.gz:17: field 3: expected a number, got 'abc'").
 */
#ifndef ETA_DATA_H
#define ETA_DATA_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dense table of doubles, row-major: rows x cols. */
typedef struct eta_table {
    double *data;
    int64_t rows, cols;
} eta_table;

/* Options for eta_table_read. */
typedef struct eta_table_options {
    int skip_lines;      /* header lines to skip (scikit-learn's CSVs have 1) */
    int64_t max_rows;    /* 0: no limit */
} eta_table_options;

/* Reads a table of numbers separated by commas, spaces or tabs; gzip files
 * are read transparently. Every row must have the same number of fields.
 * Blank lines and lines starting with '#' are skipped. On error returns
 * ETA_EIO / ETA_EFORMAT / ETA_ENOMEM with the file, line and field in err.
 * opts may be NULL. Free with eta_table_free. */
int eta_table_read(eta_table *out, const char *path, const eta_table_options *opts, eta_err *err);
void eta_table_free(eta_table *t);

/* Standardises each column in place to mean 0 and (population) standard
 * deviation 1; constant columns become 0. mean and std (cols each) receive
 * the statistics when not NULL. */
void eta_table_standardize(eta_table *t, double *mean, double *std);

#ifdef __cplusplus
}
#endif
#endif
