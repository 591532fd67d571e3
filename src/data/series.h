/* data/series.h - internal: the time-series helpers of the CSV data set
 * (series.c): dates and the split by date, rolling statistics of a window,
 * target transforms. */
#ifndef ETA_DATA_SERIES_H
#define ETA_DATA_SERIES_H

#include <stdbool.h>
#include <stdint.h>

#include "eta/core.h"

enum { DATA_ROLL_MEAN, DATA_ROLL_ABS_MEAN, DATA_ROLL_STD, DATA_ROLL_COUNT };
enum { DATA_TT_NONE, DATA_TT_ABS, DATA_TT_SQUARE, DATA_TT_COUNT };
#define DATA_ROLL_MAX 16

extern const char *const data_rolling_stats[DATA_ROLL_COUNT];
extern const char *const data_target_transforms[DATA_TT_COUNT];

/* 'YYYY-MM-DD' (a real calendar day) into y*10000+m*100+d; false if not. */
bool data_date_parse(const char *s, int32_t *out);

/* cuts=('YYYY-MM-DD', 'YYYY-MM-DD') (or one string 'a,b'): the first day of
 * validation and the first day of test, the first before the second. */
int data_date_cuts(const eta_spec *v, int32_t cut[2], eta_err *err);

/* The sizes of val and test when the examples are rows first..rows of
 * date[] (line[] for messages): checks the dates increase and that some
 * example lies before cut[0]. ETA_EFORMAT, ETA_EINVAL. */
int data_date_split(const int32_t *date, const int64_t *line, int64_t rows, int64_t first, const int32_t cut[2],
                    const char *path, int64_t *nval, int64_t *ntest, eta_err *err);

/* rolling='STAT:N,...' with N in [1, window]. */
typedef struct data_rolling {
    int n;
    int stat[DATA_ROLL_MAX];
    int64_t len[DATA_ROLL_MAX];
} data_rolling;
int data_rolling_parse(const eta_spec *v, int64_t window, data_rolling *out, eta_err *err);

/* out[s * cols + j]: statistic s of column j of the row-major v over rows
 * row-len[s] .. row-1. */
void data_rolling_eval(const data_rolling *ro, const double *v, int64_t cols, int64_t row, double *out);

/* y[i] = |y[i]| (DATA_TT_ABS), y[i]^2 (DATA_TT_SQUARE) or as it is. */
void data_target_transform(double *y, int64_t n, int how);

#endif
