/* data/series.c - time-series helpers of the CSV data set (tabular.c):
 * dates, the walk-forward split by date, rolling statistics of the window,
 * and the target transforms.
 *
 *   split='date', date='date', cuts=('2015-01-01', '2017-01-01')
 *       example t belongs to train when the date of row t (its target's day)
 *       is before cuts[0], to val from cuts[0] until before cuts[1], to test
 *       from cuts[1] on; rows must be in increasing date order, so the three
 *       parts are the ordered split's (never shuffled across time).
 *   rolling='abs_mean:5,std:20'
 *       after the window's values, each statistic of each feature column
 *       over the n rows before t (t-n..t-1, n <= window): mean, abs_mean
 *       (mean absolute value) or std (population, numpy's default ddof=0).
 *   target_transform='abs' or 'square'
 *       the target after `transform`: |r| (volatility) or r^2.
 *
 * Dates are ISO 8601 calendar dates, YYYY-MM-DD, read into y*10000+m*100+d
 * (which orders as the dates do). Nothing here knows about splits' storage:
 * tabular.c turns the counts into an ordered split.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "data/data_impl.h"
#include "data/series.h"

const char *const data_rolling_stats[DATA_ROLL_COUNT] = {"mean", "abs_mean", "std"};
const char *const data_target_transforms[DATA_TT_COUNT] = {"none", "abs", "square"};

bool data_date_parse(const char *s, int32_t *out)
{
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    int v[3] = {0, 0, 0}, k = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) {
            k++;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return false;
        v[k] = v[k] * 10 + (s[i] - '0');
    }
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = v[0], m = v[1], d = v[2];
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (m == 2 && d == 29 && !leap)
        return false;
    *out = y * 10000 + m * 100 + d;
    return true;
}

int data_date_cuts(const eta_spec *v, int32_t cut[2], eta_err *err)
{
    data_names nm;
    int rc = data_arg_names(v, "cuts", &nm, err);
    if (rc)
        return rc;
    if (nm.n != 2)
        return eta_spec_fail(err, ETA_EINVAL, v,
                             "cuts: expected two dates, the first of validation and the first of test, such as "
                             "cuts=('2015-01-01', '2017-01-01'); got %d",
                             nm.n);
    for (int i = 0; i < 2; i++) {
        if (!nm.name[i])
            return eta_spec_fail(err, ETA_EINVAL, nm.at[i], "cuts: expected a date 'YYYY-MM-DD', got the number %lld",
                                 (long long)nm.num[i]);
        if (!data_date_parse(nm.name[i], &cut[i]))
            return eta_spec_fail(err, ETA_EINVAL, nm.at[i], "cuts: '%s' is not a date YYYY-MM-DD", nm.name[i]);
    }
    if (cut[0] >= cut[1])
        return eta_spec_fail(err, ETA_EINVAL, v, "cuts: '%s' must come before '%s' (validation, then test)", nm.name[0],
                             nm.name[1]);
    return ETA_OK;
}

int data_date_split(const int32_t *date, const int64_t *line, int64_t rows, int64_t first, const int32_t cut[2],
                    const char *path, int64_t *nval, int64_t *ntest, eta_err *err)
{
    for (int64_t r = 1; r < rows; r++)
        if (date[r] <= date[r - 1])
            return eta_spec_fail(err, ETA_EFORMAT, NULL,
                                 "%s:%lld: date %08d is not after %08d on line %lld (split='date' needs the rows in "
                                 "increasing date order)",
                                 path, (long long)line[r], (int)date[r], (int)date[r - 1], (long long)line[r - 1]);
    int64_t ntr = 0, nv = 0, nt = 0;
    for (int64_t r = first; r < rows; r++) {
        if (date[r] < cut[0])
            ntr++;
        else if (date[r] < cut[1])
            nv++;
        else
            nt++;
    }
    if (ntr == 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "cuts: no example of %s is dated before %08d (the first is %08d): the training part "
                             "would be empty",
                             data_base_name(path), (int)cut[0], first < rows ? (int)date[first] : 0);
    *nval = nv;
    *ntest = nt;
    return ETA_OK;
}

static const char *stat_at(const void *ctx, int i)
{
    (void)ctx;
    return data_rolling_stats[i];
}

int data_rolling_parse(const eta_spec *v, int64_t window, data_rolling *out, eta_err *err)
{
    data_names nm;
    out->n = 0;
    int rc = data_arg_names(v, "rolling", &nm, err);
    if (rc || nm.n == 0)
        return rc;
    if (window <= 0)
        return eta_spec_fail(err, ETA_EINVAL, v, "rolling: statistics of the window need window=W > 0");
    if (nm.n > DATA_ROLL_MAX)
        return eta_spec_fail(err, ETA_EINVAL, v, "rolling: %d statistics, at most %d", nm.n, DATA_ROLL_MAX);
    for (int i = 0; i < nm.n; i++) {
        const char *s = nm.name[i];
        if (!s)
            return eta_spec_fail(err, ETA_EINVAL, nm.at[i], "rolling: expected 'STAT:N' such as 'std:20', got %lld",
                                 (long long)nm.num[i]);
        const char *colon = strchr(s, ':');
        size_t len = colon ? (size_t)(colon - s) : strlen(s);
        int k = -1;
        for (int j = 0; j < DATA_ROLL_COUNT; j++)
            if (strlen(data_rolling_stats[j]) == len && !strncmp(s, data_rolling_stats[j], len))
                k = j;
        if (k < 0) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, s);
            eta_spec_fail(err, ETA_EINVAL, nm.at[i], "rolling: unknown statistic '%s' in '%s'", name, s);
            if (err)
                eta_names_hint(err->msg, sizeof err->msg, name, stat_at, NULL, DATA_ROLL_COUNT, "statistics", NULL);
            return ETA_EINVAL;
        }
        long long n = 0;
        const char *p = colon ? colon + 1 : "";
        bool ok = *p != '\0';
        for (; *p && ok; p++) {
            ok = *p >= '0' && *p <= '9';
            if (ok)
                n = n * 10 + (*p - '0');
            if (n > 1000000)
                ok = false;
        }
        if (!ok || n < 1)
            return eta_spec_fail(err, ETA_EINVAL, nm.at[i],
                                 "rolling: '%s' needs a length of at least one row after the colon, such as '%s:%lld'",
                                 s, data_rolling_stats[k], (long long)window);
        if (n > window)
            return eta_spec_fail(err, ETA_EINVAL, nm.at[i], "rolling: '%s' looks back %lld rows, more than window=%lld",
                                 s, n, (long long)window);
        out->stat[out->n] = k;
        out->len[out->n] = n;
        out->n++;
    }
    return ETA_OK;
}

void data_rolling_eval(const data_rolling *ro, const double *v, int64_t cols, int64_t row, double *out)
{
    for (int s = 0; s < ro->n; s++)
        for (int64_t j = 0; j < cols; j++) {
            int64_t n = ro->len[s];
            const double *x = v + (row - n) * cols + j;
            double sum = 0;
            for (int64_t i = 0; i < n; i++)
                sum += ro->stat[s] == DATA_ROLL_ABS_MEAN ? fabs(x[i * cols]) : x[i * cols];
            double mean = sum / (double)n, y = mean;
            if (ro->stat[s] == DATA_ROLL_STD) {
                double ss = 0;
                for (int64_t i = 0; i < n; i++)
                    ss += (x[i * cols] - mean) * (x[i * cols] - mean);
                y = sqrt(ss / (double)n);
            }
            out[s * cols + j] = y;
        }
}

void data_target_transform(double *y, int64_t n, int how)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = how == DATA_TT_ABS ? fabs(y[i]) : how == DATA_TT_SQUARE ? y[i] * y[i] : y[i];
}
