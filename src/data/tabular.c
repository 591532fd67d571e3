/* data/tabular.c - the CSV data set: feature columns and a target column of
 * a CSV file (csv.c splits the text), for classification or regression.
 *
 *   CSV(path, target=-1, features=None, drop=None, task='classification', ...)
 *
 * Columns are named by header name or number (negative from the end, as
 * Python indexes). Features are every column but the target and those in
 * drop, unless features lists them. A classification target holds integer
 * labels 0..classes-1, or class names (sorted into indices), or, when it
 * is several columns, one-hot rows; onehot=True hands out float32 one-hot
 * rows instead of int32 indices. A regression target is one or more
 * columns of reals. Features are standardised with the mean and population
 * standard deviation of the training split (scikit-learn's StandardScaler).
 *
 * Time series (S&P 500 prices): transform='log_return' (or 'pct_change',
 * 'diff') turns each used column into its change from the row before, and
 * window=W makes example t the features of rows t-W..t-1 (flattened, oldest
 * first) with the target of row t: tomorrow's return from the last W days'.
 * With a window the split keeps time order by default (train, val, test).
 * series.c adds what a volatility model needs: split='date' with cuts=
 * (walk-forward by the date column), rolling= statistics of the window
 * appended to the input, and target_transform='abs' or 'square'.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/data_impl.h"
#include "data/series.h"

typedef struct tabular {
    float *x;       /* n x d */
    int32_t *label; /* classification: n */
    float *y;       /* regression: n x k */
    int64_t d, k;
    int64_t row0; /* the data row of example 0 (transform and window skip the first rows) */
    int classes;
    bool onehot;
} tabular;

static const eta_spec_param sig[] = {
    {"path", true, false},        {"target", false, false},      {"features", false, false},
    {"drop", false, false},       {"task", false, false},        {"header", false, false},
    {"sep", false, false},        {"target_file", false, false}, {"classes", false, false},
    {"onehot", false, false},     {"standardize", false, false}, {"standardize_target", false, false},
    {"window", false, false},     {"transform", false, false},   {"val", false, false},
    {"test", false, false},       {"split", false, false},       {"seed", false, false},
    {"date", false, false},       {"cuts", false, false},        {"rolling", false, false},
    {"target_transform", false, false},
};
enum {
    A_PATH, A_TARGET, A_FEATURES, A_DROP, A_TASK, A_HEADER, A_SEP, A_TARGET_FILE, A_CLASSES, A_ONEHOT,
    A_STANDARDIZE, A_STANDARDIZE_TARGET, A_WINDOW, A_TRANSFORM, A_VAL, A_TEST, A_SPLIT, A_SEED,
    A_DATE, A_CUTS, A_ROLLING, A_TARGET_TRANSFORM, NARGS
};

static const char *const tasks[] = {"classification", "regression"};
static const char *const transforms[] = {"none", "diff", "pct_change", "log_return"};
enum { T_NONE, T_DIFF, T_PCT, T_LOG };
/* the CSV's split modes: data_split_modes, and 'date' (series.c) */
static const char *const csv_split_modes[4] = {"random", "stratified", "ordered", "date"};
enum { SPLIT_DATE = 3 };

static void tabular_free(void *p)
{
    tabular *t = p;
    if (!t)
        return;
    free(t->x);
    free(t->label);
    free(t->y);
    free(t);
}

/* ---- columns ------------------------------------------------------------ */

static const char *col_name_at(const void *ctx, int i)
{
    return ((const data_csv *)ctx)->names[i];
}

/* "field 3 ('ash')" or "field 3" */
static const char *col_desc(char *buf, size_t n, const data_csv *c, int64_t j)
{
    if (c->names)
        snprintf(buf, n, "field %lld ('%.40s')", (long long)j + 1, c->names[j]);
    else
        snprintf(buf, n, "field %lld", (long long)j + 1);
    return buf;
}

/* Resolves entry i of a names list to a column of c. */
static int resolve(const data_names *nm, int i, const data_csv *c, const char *path, const char *arg, int64_t *col,
                   eta_err *err)
{
    if (nm->name[i]) {
        if (c->names)
            for (int64_t j = 0; j < c->cols; j++)
                if (!strcmp(c->names[j], nm->name[i])) {
                    *col = j;
                    return ETA_OK;
                }
        /* a number written as a string ('3') is a column number */
        double x;
        if (data_csv_number(nm->name[i], &x) && x == floor(x) && fabs(x) <= (double)c->cols) {
            int64_t j = (int64_t)x < 0 ? (int64_t)x + c->cols : (int64_t)x;
            if (j >= 0 && j < c->cols) {
                *col = j;
                return ETA_OK;
            }
        }
        if (!c->names)
            return eta_spec_fail(err, ETA_EINVAL, nm->at[i],
                                 "%s: no column '%s': %s has no column names; name columns by number, 0 to %lld", arg,
                                 nm->name[i], data_base_name(path), (long long)c->cols - 1);
        eta_spec_fail(err, ETA_EINVAL, nm->at[i], "%s: %s has no column '%s'", arg, data_base_name(path), nm->name[i]);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, nm->name[i], col_name_at, c, (int)c->cols, "columns", NULL);
        return ETA_EINVAL;
    }
    int64_t j = nm->num[i] < 0 ? nm->num[i] + c->cols : nm->num[i];
    if (j < 0 || j >= c->cols)
        return eta_spec_fail(err, ETA_EINVAL, nm->at[i], "%s: column %lld is outside the %lld columns of %s", arg,
                             (long long)nm->num[i], (long long)c->cols, data_base_name(path));
    *col = j;
    return ETA_OK;
}

/* Reads column `col` of every row as a number into v[r * stride]. */
static int read_column(const data_csv *c, const char *path, int64_t col, double *v, int64_t stride, bool feature,
                       eta_err *err)
{
    char desc[96];
    for (int64_t r = 0; r < c->rows; r++) {
        const char *s = c->cells[r * c->cols + col];
        double x;
        if (!data_csv_number(s, &x)) {
            if (!*s)
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: empty field, expected a number", path,
                                     (long long)c->line[r], col_desc(desc, sizeof desc, c, col));
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: expected a number, got '%.40s'%s", path,
                                 (long long)c->line[r], col_desc(desc, sizeof desc, c, col), s,
                                 feature ? " (drop= leaves a column out)" : "");
        }
        if (!isfinite(x))
            return eta_spec_fail(err, ETA_ENONFINITE, NULL, "%s:%lld: %s: %s %s '%.40s'", path, (long long)c->line[r],
                                 col_desc(desc, sizeof desc, c, col), isnan(x) ? "NaN" : "infinite",
                                 feature ? "feature" : "target", s);
        v[r * stride] = x;
    }
    return ETA_OK;
}

/* transform of column j of a rows x cols matrix in place, row r from rows r-1
 * and r; row 0 is left alone (the caller drops it). */
static int transform_column(double *v, int64_t rows, int64_t cols, int64_t j, int how, const data_csv *c,
                            int64_t col, const char *path, eta_err *err)
{
    char desc[96];
    double a = v[j]; /* the row before, as read */
    for (int64_t r = 1; r < rows; r++) {
        double b = v[r * cols + j];
        double y;
        if (how == T_DIFF)
            y = b - a;
        else if (how == T_PCT) {
            if (a == 0)
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: pct_change after a 0 on line %lld", path,
                                     (long long)c->line[r], col_desc(desc, sizeof desc, c, col),
                                     (long long)c->line[r - 1]);
            y = b / a - 1;
        } else {
            if (!(a > 0 && b > 0))
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: log_return needs positive values, got %g after %g",
                                     path, (long long)c->line[r], col_desc(desc, sizeof desc, c, col), b, a);
            y = log(b / a);
        }
        a = b;
        v[r * cols + j] = y;
    }
    return ETA_OK;
}

/* ---- labels ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Class labels from one column: integers, or names sorted into indices
 * (when the first row's label is not a number). *classes: the given count
 * (> 0) or 0 to count them. */
static int read_labels(eta_dataset *ds, const data_csv *c, const char *path, int64_t col, int32_t *lab, int *classes,
                       eta_err *err)
{
    char desc[96];
    double x;
    if (c->rows && !data_csv_number(c->cells[col], &x)) {
        char **names = malloc((size_t)c->rows * sizeof *names);
        if (!names)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        for (int64_t r = 0; r < c->rows; r++)
            names[r] = c->cells[r * c->cols + col];
        qsort(names, (size_t)c->rows, sizeof *names, cmp_str);
        int64_t k = 0;
        for (int64_t r = 0; r < c->rows; r++)
            if (r == 0 || strcmp(names[r], names[k - 1]))
                names[k++] = names[r];
        if (*classes && k > *classes) {
            free(names);
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %s: %lld distinct labels, more than classes=%d", path,
                                 col_desc(desc, sizeof desc, c, col), (long long)k, *classes);
        }
        if (k > 100000) {
            free(names);
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %s: %lld distinct labels; is it a class column?", path,
                                 col_desc(desc, sizeof desc, c, col), (long long)k);
        }
        for (int64_t r = 0; r < c->rows; r++) {
            const char *key = c->cells[r * c->cols + col];
            char **hit = bsearch(&key, names, (size_t)k, sizeof *names, cmp_str);
            lab[r] = (int32_t)(hit - names);
        }
        *classes = *classes ? *classes : (int)k;
        ds->info.classes = *classes;
        int rc = data_set_class_names(ds, (const char *const *)names, (int)k, err);
        if (!rc && k < *classes)
            for (int64_t j = k; j < *classes && !rc; j++) {
                char b[32];
                snprintf(b, sizeof b, "class_%lld", (long long)j);
                if (!(ds->class_names[j] = strdup(b)))
                    rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
            }
        free(names);
        return rc;
    }
    int64_t top = -1;
    for (int64_t r = 0; r < c->rows; r++) {
        const char *s = c->cells[r * c->cols + col];
        if (!data_csv_number(s, &x) || x != floor(x) || x < 0 || (*classes && x >= *classes) || x > 1e6) {
            if (*classes)
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: label '%.40s' out of range [0, %d)", path,
                                     (long long)c->line[r], col_desc(desc, sizeof desc, c, col), s, *classes);
            return eta_spec_fail(err, ETA_EFORMAT, NULL,
                                 "%s:%lld: %s: label '%.40s' is not a class index 0, 1, ... (task='regression' for "
                                 "a numeric target)",
                                 path, (long long)c->line[r], col_desc(desc, sizeof desc, c, col), s);
        }
        lab[r] = (int32_t)x;
        if (lab[r] > top)
            top = lab[r];
    }
    if (!*classes)
        *classes = (int)top + 1;
    return ETA_OK;
}

/* Labels from one-hot columns cols[0..k). */
static int read_onehot(const data_csv *c, const char *path, const int64_t *cols, int64_t k, int32_t *lab, eta_err *err)
{
    char desc[96];
    for (int64_t r = 0; r < c->rows; r++) {
        int hot = -1;
        for (int64_t j = 0; j < k; j++) {
            const char *s = c->cells[r * c->cols + cols[j]];
            double x;
            if (!data_csv_number(s, &x) || (x != 0 && x != 1))
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: one-hot label '%.40s' is not 0 or 1", path,
                                     (long long)c->line[r], col_desc(desc, sizeof desc, c, cols[j]), s);
            if (x == 1) {
                if (hot >= 0)
                    return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: one-hot label with two 1s (%s and field %lld)",
                                         path, (long long)c->line[r], col_desc(desc, sizeof desc, c, cols[hot]),
                                         (long long)cols[j] + 1);
                hot = (int)j;
            }
        }
        if (hot < 0)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: one-hot label with no 1", path, (long long)c->line[r]);
        lab[r] = hot;
    }
    return ETA_OK;
}

/* ---- the data set ------------------------------------------------------- */

/* The arguments that are not columns. */
typedef struct options {
    const char *path, *target_file;
    int task, header, transform, mode, target_transform;
    char sep;
    int64_t classes, window, seed;
    bool onehot, standardize, standardize_target;
    int32_t cut[2];         /* split='date': the first days of val and test */
    data_rolling rolling;   /* statistics of the window */
} options;

/* split='date' with date= and cuts=, rolling=, target_transform=. */
static int series_options(const eta_spec *const *a, options *o, eta_err *err)
{
    const char *tt = NULL;
    int rc = data_arg_string(a[A_TARGET_TRANSFORM], "target_transform", NULL, &tt, err);
    if (!rc && tt)
        rc = data_arg_choice(a[A_TARGET_TRANSFORM], "target_transform", data_target_transforms, DATA_TT_COUNT,
                             &o->target_transform, err);
    if (!rc && o->target_transform != DATA_TT_NONE && o->task == 0)
        rc = eta_spec_fail(err, ETA_EINVAL, a[A_TARGET_TRANSFORM], "target_transform='%s' needs task='regression'",
                           tt);
    if (!rc)
        rc = data_rolling_parse(a[A_ROLLING], o->window, &o->rolling, err);
    if (rc)
        return rc;
    bool has_cuts = a[A_CUTS] && a[A_CUTS]->kind != ETA_SPEC_NONE;
    if (o->mode != SPLIT_DATE) {
        if (has_cuts)
            return eta_spec_fail(err, ETA_EINVAL, a[A_CUTS], "cuts= needs split='date'");
        if (a[A_DATE] && a[A_DATE]->kind != ETA_SPEC_NONE)
            return eta_spec_fail(err, ETA_EINVAL, a[A_DATE], "date= needs split='date'");
        return ETA_OK;
    }
    if (!has_cuts)
        return eta_spec_fail(err, ETA_EINVAL, a[A_SPLIT],
                             "split='date' needs cuts=('YYYY-MM-DD', 'YYYY-MM-DD'): the first days of validation "
                             "and of test");
    for (int k = A_VAL; k <= A_TEST; k++)
        if (a[k] && a[k]->kind != ETA_SPEC_NONE)
            return eta_spec_fail(err, ETA_EINVAL, a[k], "%s: split='date' takes the parts from cuts=, not from %s=",
                                 k == A_VAL ? "val" : "test", k == A_VAL ? "val" : "test");
    return data_date_cuts(a[A_CUTS], o->cut, err);
}

static int read_options(const eta_spec *const *a, options *o, eta_err *err)
{
    memset(o, 0, sizeof *o);
    o->mode = -1;
    const char *sep = NULL, *tf = NULL;
    int rc = eta_spec_get_string(a[A_PATH], "path", &o->path, err);
    if (!rc)
        rc = data_arg_choice(a[A_TASK], "task", tasks, 2, &o->task, err);
    if (!rc && a[A_HEADER] && a[A_HEADER]->kind == ETA_SPEC_BOOL) /* header=True / False */
        o->header = a[A_HEADER]->num ? DATA_CSV_NAMES : DATA_CSV_NONE;
    else if (!rc)
        rc = data_arg_choice(a[A_HEADER], "header", data_csv_headers, DATA_CSV_HEADER_COUNT, &o->header, err);
    if (!rc)
        rc = data_arg_string(a[A_SEP], "sep", NULL, &sep, err);
    if (!rc && sep) {
        if (!strcmp(sep, "\\s+") || !strcmp(sep, " "))
            o->sep = ' ';
        else if (strlen(sep) == 1 && strchr(",;\t|", sep[0]))
            o->sep = sep[0];
        else
            rc = eta_spec_fail(err, ETA_EINVAL, a[A_SEP], "sep must be ',', ';', '\\t', '|' or ' ' (runs of blanks), got '%s'",
                               sep);
    }
    if (!rc)
        rc = data_arg_string(a[A_TARGET_FILE], "target_file", NULL, &o->target_file, err);
    if (!rc)
        rc = data_arg_int(a[A_CLASSES], "classes", 0, 2, 1000000, &o->classes, err);
    if (!rc)
        rc = data_arg_bool(a[A_ONEHOT], "onehot", false, &o->onehot, err);
    if (!rc)
        rc = data_arg_bool(a[A_STANDARDIZE], "standardize", true, &o->standardize, err);
    if (!rc)
        rc = data_arg_bool(a[A_STANDARDIZE_TARGET], "standardize_target", false, &o->standardize_target, err);
    if (!rc)
        rc = data_arg_int(a[A_WINDOW], "window", 0, 0, 100000, &o->window, err);
    if (!rc)
        rc = data_arg_string(a[A_TRANSFORM], "transform", NULL, &tf, err);
    if (!rc && tf)
        rc = data_arg_choice(a[A_TRANSFORM], "transform", transforms, 4, &o->transform, err);
    if (!rc && a[A_SPLIT] && a[A_SPLIT]->kind != ETA_SPEC_NONE)
        rc = data_arg_choice(a[A_SPLIT], "split", csv_split_modes, 4, &o->mode, err);
    if (!rc)
        rc = data_arg_int(a[A_SEED], "seed", 0, INT64_MIN, INT64_MAX, &o->seed, err);
    if (rc)
        return rc;
    if (o->mode < 0)
        o->mode = o->window > 0 ? DATA_SPLIT_ORDERED : DATA_SPLIT_RANDOM;
    if ((rc = series_options(a, o, err)))
        return rc;
    if (o->mode == DATA_SPLIT_STRATIFIED && o->task != 0)
        return eta_spec_fail(err, ETA_EINVAL, a[A_SPLIT], "split='stratified' needs task='classification'");
    if (o->onehot && o->task != 0)
        return eta_spec_fail(err, ETA_EINVAL, a[A_ONEHOT], "onehot=True needs task='classification'");
    if (o->standardize_target && o->task == 0)
        return eta_spec_fail(err, ETA_EINVAL, a[A_STANDARDIZE_TARGET], "standardize_target=True needs task='regression'");
    return ETA_OK;
}

/* The columns: targets tcol[0..*nt) of tc, features fcol[0..*nf) of c. */
static int columns(const eta_spec *const *a, const options *o, const data_csv *c, const data_csv *tc,
                   const char *path, const char *tpath, int64_t *tcol, int *nt, int64_t *fcol, int *nf, eta_err *err)
{
    data_names nm;
    int rc = data_arg_names(a[A_TARGET], "target", &nm, err);
    if (rc)
        return rc;
    if (nm.n == 0) { /* the last column */
        nm.n = 1;
        nm.name[0] = NULL;
        nm.num[0] = -1;
        nm.at[0] = a[A_TARGET];
    }
    for (int i = 0; i < nm.n; i++)
        if ((rc = resolve(&nm, i, tc, tpath, "target", &tcol[i], err)))
            return rc;
    *nt = nm.n;
    bool *use = calloc((size_t)c->cols, sizeof *use);
    if (!use)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    if ((rc = data_arg_names(a[A_FEATURES], "features", &nm, err)))
        goto done;
    for (int64_t j = 0; j < c->cols; j++)
        use[j] = nm.n == 0;
    for (int i = 0; i < nm.n; i++) {
        int64_t j;
        if ((rc = resolve(&nm, i, c, path, "features", &j, err)))
            goto done;
        if (tc == c && !o->window)
            for (int k = 0; k < *nt; k++)
                if (tcol[k] == j) {
                    rc = eta_spec_fail(err, ETA_EINVAL, nm.at[i], "features: column %lld is the target (a window=W "
                                       "reads its past values)", (long long)j);
                    goto done;
                }
        use[j] = true;
    }
    if (tc == c && !o->window)
        for (int k = 0; k < *nt; k++)
            use[tcol[k]] = false;
    if ((rc = data_arg_names(a[A_DROP], "drop", &nm, err)))
        goto done;
    for (int i = 0; i < nm.n; i++) {
        int64_t j;
        if ((rc = resolve(&nm, i, c, path, "drop", &j, err)))
            goto done;
        use[j] = false;
    }
    *nf = 0;
    for (int64_t j = 0; j < c->cols; j++)
        if (use[j])
            fcol[(*nf)++] = j;
    if (*nf == 0)
        rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s: no feature columns left", data_base_name(path));
done:
    free(use);
    return rc;
}

/* split='date': the date column (date=, default 'date') leaves the features
 * fcol[0..*nf) and is read into *date (one per row, malloc'd). */
static int read_dates(const eta_spec *const *a, const data_csv *c, const char *path, int64_t *fcol, int *nf,
                      int32_t **date, eta_err *err)
{
    data_names nm;
    int rc = data_arg_names(a[A_DATE], "date", &nm, err);
    if (rc)
        return rc;
    if (nm.n == 0) {
        nm.n = 1;
        nm.name[0] = "date";
        nm.at[0] = a[A_SPLIT];
    }
    if (nm.n != 1)
        return eta_spec_fail(err, ETA_EINVAL, a[A_DATE], "date: expected one column, got %d", nm.n);
    int64_t dcol;
    if ((rc = resolve(&nm, 0, c, path, "date", &dcol, err)))
        return rc;
    int k = 0;
    for (int i = 0; i < *nf; i++)
        if (fcol[i] != dcol)
            fcol[k++] = fcol[i];
    *nf = k;
    if (k == 0)
        return eta_spec_fail(err, ETA_EINVAL, a[A_DATE], "%s: no feature columns left besides the date",
                             data_base_name(path));
    if (!(*date = malloc((size_t)(c->rows ? c->rows : 1) * sizeof **date)))
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    char desc[96];
    for (int64_t r = 0; r < c->rows; r++) {
        const char *s = c->cells[r * c->cols + dcol];
        if (!data_date_parse(s, &(*date)[r]))
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %s: expected a date YYYY-MM-DD, got '%.40s'", path,
                                 (long long)c->line[r], col_desc(desc, sizeof desc, c, dcol), s);
    }
    return ETA_OK;
}

static int tabular_build(eta_dataset *ds, tabular *t, const eta_spec *const *a, const options *o, const data_csv *c,
                         const data_csv *tc, const char *path, const char *tpath, eta_err *err);

static int tabular_open(eta_dataset *ds, const eta_spec *call, const eta_spec *const *a, eta_err *err)
{
    (void)call;
    tabular *t = calloc(1, sizeof *t);
    if (!t)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    ds->impl = t;
    options o;
    int rc = read_options(a, &o, err);
    if (rc)
        return rc;
    char path[4096], tpath[4096];
    data_csv c = {0}, ct = {0};
    if ((rc = data_path(path, sizeof path, ds->base_dir, o.path, a[A_PATH], err)))
        return rc;
    if (o.target_file && (rc = data_path(tpath, sizeof tpath, ds->base_dir, o.target_file, a[A_TARGET_FILE], err)))
        return rc;
    rc = data_csv_read(&c, path, (data_csv_header)o.header, o.sep, err);
    if (!rc && o.target_file)
        rc = data_csv_read(&ct, tpath, (data_csv_header)o.header, 0, err);
    if (!rc && o.target_file && ct.rows != c.rows)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %lld rows for the %lld of %s", tpath, (long long)ct.rows,
                           (long long)c.rows, data_base_name(path));
    if (!rc)
        rc = tabular_build(ds, t, a, &o, &c, o.target_file ? &ct : &c, path, o.target_file ? tpath : path, err);
    data_csv_free(&c);
    data_csv_free(&ct);
    return rc;
}

static int tabular_build(eta_dataset *ds, tabular *t, const eta_spec *const *a, const options *o, const data_csv *c,
                         const data_csv *tc, const char *path, const char *tpath, eta_err *err)
{
    int64_t tcol[64], *fcol = malloc((size_t)c->cols * sizeof *fcol);
    int nt = 0, nf = 0;
    if (!fcol)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    int rc = columns(a, o, c, tc, path, tpath, tcol, &nt, fcol, &nf, err);
    int32_t *date = NULL;
    if (!rc && o->mode == SPLIT_DATE)
        rc = read_dates(a, c, path, fcol, &nf, &date, err);
    int64_t R = c->rows, F = nf, K = nt;
    bool classify = o->task == 0;
    double *raw = NULL, *yr = NULL, *X = NULL;
    int32_t *lab = NULL;
    int classes = (int)o->classes;
    if (!rc) {
        raw = malloc((size_t)(R * F) * sizeof *raw);
        if (classify)
            lab = malloc((size_t)R * sizeof *lab);
        else
            yr = malloc((size_t)(R * K) * sizeof *yr);
        if (!raw || (classify ? !lab : !yr))
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %lld rows", (long long)R);
    }
    for (int64_t j = 0; j < F && !rc; j++)
        rc = read_column(c, path, fcol[j], raw + j, F, true, err);
    if (!rc && classify) {
        if (K == 1)
            rc = read_labels(ds, tc, tpath, tcol[0], lab, &classes, err);
        else if (classes && classes != K)
            rc = eta_spec_fail(err, ETA_EINVAL, a[A_CLASSES], "classes=%d, but the one-hot target has %lld columns",
                               classes, (long long)K);
        else {
            classes = (int)K;
            rc = read_onehot(tc, tpath, tcol, K, lab, err);
            if (!rc && tc->names) {
                const char *names[64];
                for (int64_t j = 0; j < K; j++)
                    names[j] = tc->names[tcol[j]];
                ds->info.classes = classes;
                rc = data_set_class_names(ds, names, classes, err);
            }
        }
        if (!rc && classes < 2)
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: only one class in the target", data_base_name(tpath));
        if (!rc && !ds->class_names && tc->header == DATA_CSV_SKLEARN && tc->nclass == classes) {
            ds->info.classes = classes;
            rc = data_set_class_names(ds, (const char *const *)tc->class_names, classes, err);
        }
    } else {
        for (int64_t j = 0; j < K && !rc; j++)
            rc = read_column(tc, tpath, tcol[j], yr + j, K, false, err);
    }
    /* changes from the row before, then windows */
    int64_t r0 = o->transform != T_NONE, W = o->window;
    for (int64_t j = 0; j < F && !rc && r0; j++)
        rc = transform_column(raw, R, F, j, o->transform, c, fcol[j], path, err);
    for (int64_t j = 0; j < K && !rc && r0 && !classify; j++)
        rc = transform_column(yr, R, K, j, o->transform, tc, tcol[j], tpath, err);
    if (!rc && !classify)
        data_target_transform(yr, R * K, o->target_transform);
    /* input: the window's values (or the row's), then the rolling statistics */
    int64_t first = r0 + W, n = R - first, S = o->rolling.n, D = (W > 0 ? W * F : F) + S * F;
    if (!rc && n < 2)
        rc = eta_spec_fail(err, ETA_EINVAL, a[A_WINDOW], "%s: %lld rows leave %lld examples%s", data_base_name(path),
                           (long long)R, (long long)(n > 0 ? n : 0), W ? " after the window" : "");
    if (!rc && !(X = malloc((size_t)(n * D) * sizeof *X)))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %lld x %lld features", (long long)n, (long long)D);
    for (int64_t i = 0; i < n && !rc; i++) {
        int64_t row = first + i;
        if (W > 0)
            memcpy(X + i * D, raw + (row - W) * F, (size_t)(W * F) * sizeof *X);
        else
            memcpy(X + i * D, raw + row * F, (size_t)F * sizeof *X);
        if (S)
            data_rolling_eval(&o->rolling, raw, F, row, X + i * D + (D - S * F));
    }
    /* splits over the examples, then the indices become data rows */
    int64_t nval = 0, ntest = 0;
    if (!rc && o->mode == SPLIT_DATE)
        rc = data_date_split(date, c->line, R, first, o->cut, path, &nval, &ntest, err);
    if (!rc && o->mode != SPLIT_DATE)
        rc = data_arg_count(a[A_VAL], "val", 0.2, n, &nval, err);
    if (!rc && o->mode != SPLIT_DATE)
        rc = data_arg_count(a[A_TEST], "test", 0.2, n, &ntest, err);
    data_split_mode mode = o->mode == SPLIT_DATE ? DATA_SPLIT_ORDERED : (data_split_mode)o->mode;
    if (!rc)
        rc = data_split(ds, n, nval, ntest, mode, (uint64_t)o->seed, classify ? lab + first : NULL, classes, err);
    /* train-only statistics */
    if (!rc && o->standardize) {
        ds->in_mean = malloc((size_t)D * sizeof(double));
        ds->in_std = malloc((size_t)D * sizeof(double));
        if (!ds->in_mean || !ds->in_std)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        else {
            ds->n_in_stats = D;
            data_moments(X, D, ds->index[ETA_SPLIT_TRAIN], ds->info.size[ETA_SPLIT_TRAIN], ds->in_mean, ds->in_std);
        }
    }
    if (!rc && o->standardize_target) {
        ds->tgt_mean = malloc((size_t)K * sizeof(double));
        ds->tgt_std = malloc((size_t)K * sizeof(double));
        if (!ds->tgt_mean || !ds->tgt_std)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        else {
            ds->n_tgt_stats = K;
            /* the targets of the training examples are rows first + index */
            int64_t ntr = ds->info.size[ETA_SPLIT_TRAIN];
            int64_t *rows = malloc((size_t)(ntr ? ntr : 1) * sizeof *rows);
            if (!rows)
                rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
            for (int64_t i = 0; i < ntr && !rc; i++)
                rows[i] = ds->index[ETA_SPLIT_TRAIN][i] + first;
            if (!rc)
                data_moments(yr, K, rows, ntr, ds->tgt_mean, ds->tgt_std);
            free(rows);
        }
    }
    /* float32 copies, standardised */
    if (!rc) {
        t->d = D;
        t->k = K;
        t->classes = classes;
        t->onehot = o->onehot;
        t->x = malloc((size_t)(n * D) * sizeof *t->x);
        if (classify)
            t->label = malloc((size_t)n * sizeof *t->label);
        else
            t->y = malloc((size_t)(n * K) * sizeof *t->y);
        if (!t->x || (classify ? !t->label : !t->y))
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    for (int64_t i = 0; i < n && !rc; i++) {
        for (int64_t j = 0; j < D; j++) {
            double v = X[i * D + j];
            t->x[i * D + j] = (float)(o->standardize ? (v - ds->in_mean[j]) / ds->in_std[j] : v);
        }
        if (classify)
            t->label[i] = lab[first + i];
        else
            for (int64_t j = 0; j < K; j++) {
                double v = yr[(first + i) * K + j];
                t->y[i * K + j] = (float)(o->standardize_target ? (v - ds->tgt_mean[j]) / ds->tgt_std[j] : v);
            }
    }
    for (int s = 0; s < ETA_SPLIT_COUNT && !rc; s++)
        for (int64_t i = 0; i < ds->info.size[s]; i++)
            ds->index[s][i] += first;
    if (!rc) {
        t->row0 = first;
        ds->info.tokens = false;
        ds->info.input_ndim = 1;
        ds->info.input_shape[0] = D;
        ds->info.classes = classify ? classes : 0;
        ds->info.class_target = classify && !o->onehot;
        ds->info.target_ndim = classify && !o->onehot ? 0 : 1;
        ds->info.target_shape[0] = classify ? classes : K;
    }
    free(fcol);
    free(date);
    free(raw);
    free(yr);
    free(X);
    free(lab);
    return rc;
}

static void tabular_get(const eta_dataset *ds, eta_split split, int64_t ex, void *input, void *target)
{
    (void)split;
    const tabular *t = ds->impl;
    int64_t i = ex - t->row0;
    if (input)
        memcpy(input, t->x + i * t->d, (size_t)t->d * sizeof *t->x);
    if (!target)
        return;
    if (t->label && t->onehot) {
        float *y = target;
        for (int c = 0; c < t->classes; c++)
            y[c] = c == t->label[i] ? 1.0f : 0.0f;
    } else if (t->label)
        *(int32_t *)target = t->label[i];
    else
        memcpy(target, t->y + i * t->k, (size_t)t->k * sizeof *t->y);
}

const data_kind data_kind_csv = {"CSV", sig, NARGS, tabular_open, tabular_get, tabular_free};
