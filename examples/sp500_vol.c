/* examples/sp500_vol.c - the closed-form side of the S&P 500 volatility
 * application (docs/applications.md, section 4): least squares and three
 * baselines on the data set of configs/sp500-vol.ini, whose MLP `eta train`
 * trains. Public API only: eta_data_open, eta_data_gather and the split's
 * statistics.
 *
 *   sp500_vol --config configs/sp500-vol.ini | --data SPEC  [--data-dir DIR] [--window 20]
 *             [--dump DIR] [--pred FILE] [--plot FILE.png [--mlp PREDICT.csv]]
 *
 * --config reads the data spec from an `eta train` config's [data] spec key
 * (its continuation lines included), so both see the same data set.
 *
 * The data set's input must start with the window of daily log returns
 * (oldest first, one column), so that x[window - 1] is yesterday's return;
 * what follows (the rolling statistics) is used by least squares only. The
 * target is the day's absolute log return, standardised with the training
 * part's mean and standard deviation; every number below is in those units.
 *
 * Models, each fitted on the training part only:
 * - least squares: y ~ b + w.x over every input, solved by Householder QR in
 *   double (no normal equations: the rolling statistics are correlated);
 * - yesterday: |r(t-1)|, the last value of the window;
 * - train mean: the training part's mean of the target (0 once standardised);
 * - EWMA: RiskMetrics' variance s2(t) = 0.94 s2(t-1) + 0.06 r(t-1)^2 over the
 *   examples in time order (train, val and test are contiguous), started at
 *   the mean of r^2 over the first example's window; |r(t)| is predicted as
 *   sqrt(2/pi) * sqrt(s2(t)), the mean of |r| when r ~ N(0, s2).
 *
 * stdout: CSV `model,split,mse,r2,seconds`, R^2 = 1 - SSE / SS about the
 * split's own mean (scikit-learn's r2_score). --dump DIR writes DIR/train.csv,
 * val.csv and test.csv (`row,x0,..,y`: the CSV data row of each example, its
 * float32 input and target) for the PyTorch twin to compare with its own;
 * --pred FILE the test predictions of each model; --plot FILE draws the test
 * period's actual |r| against the least-squares and EWMA predictions (and the
 * MLP's, from `eta predict RUN > PREDICT.csv` given to --mlp), in percent.
 * Exit 1 on an error or when least squares does not beat the training mean
 * on the validation part (it runs as the test example_sp500_vol), 2 on bad
 * usage.
 */
#include <eta/eta.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LAMBDA 0.94
#define TWO_OVER_PI 0.63661977236758134308 /* 2 / pi */

enum { M_LS, M_YESTERDAY, M_MEAN, M_EWMA, M_COUNT };
static const char *const model_names[M_COUNT] = {"least_squares", "yesterday", "train_mean", "ewma_0.94"};
static const char *const split_names[3] = {"train", "val", "test"};

typedef struct part {
    int64_t n;
    const int64_t *row;
    float *x, *y;
} part;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Least squares min |A w - b| for A m x n (row-major, m >= n, full rank), by
 * Householder QR in place; w gets n values. Returns -1 when a column is
 * (numerically) dependent on the others. */
static int lstsq(double *A, double *b, int64_t m, int64_t n, double *w)
{
    for (int64_t k = 0; k < n; k++) {
        double norm = 0;
        for (int64_t i = k; i < m; i++)
            norm += A[i * n + k] * A[i * n + k];
        norm = sqrt(norm);
        if (norm == 0)
            return -1;
        double alpha = A[k * n + k] > 0 ? -norm : norm;
        /* v = a_k - alpha e_k, kept in the column below the diagonal */
        A[k * n + k] -= alpha;
        double vv = 0;
        for (int64_t i = k; i < m; i++)
            vv += A[i * n + k] * A[i * n + k];
        for (int64_t j = k + 1; j < n; j++) {
            double s = 0;
            for (int64_t i = k; i < m; i++)
                s += A[i * n + k] * A[i * n + j];
            s = 2 * s / vv;
            for (int64_t i = k; i < m; i++)
                A[i * n + j] -= s * A[i * n + k];
        }
        double s = 0;
        for (int64_t i = k; i < m; i++)
            s += A[i * n + k] * b[i];
        s = 2 * s / vv;
        for (int64_t i = k; i < m; i++)
            b[i] -= s * A[i * n + k];
        A[k * n + k] = alpha; /* R's diagonal */
    }
    double rmax = 0;
    for (int64_t k = 0; k < n; k++)
        rmax = fmax(rmax, fabs(A[k * n + k]));
    for (int64_t k = n - 1; k >= 0; k--) {
        if (fabs(A[k * n + k]) < 1e-12 * rmax)
            return -1;
        double s = b[k];
        for (int64_t j = k + 1; j < n; j++)
            s -= A[k * n + j] * w[j];
        w[k] = s / A[k * n + k];
    }
    return 0;
}

static void score(const float *y, const double *p, int64_t n, double *mse, double *r2)
{
    double mean = 0, sse = 0, sst = 0;
    for (int64_t i = 0; i < n; i++)
        mean += y[i];
    mean /= (double)n;
    for (int64_t i = 0; i < n; i++) {
        sse += (y[i] - p[i]) * (y[i] - p[i]);
        sst += (y[i] - mean) * (y[i] - mean);
    }
    *mse = sse / (double)n;
    *r2 = sst > 0 ? 1 - sse / sst : NAN;
}

static int dump(const char *dir, const char *name, const part *p, int64_t d)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.csv", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "sp500_vol: cannot write %s\n", path);
        return -1;
    }
    fprintf(f, "row");
    for (int64_t j = 0; j < d; j++)
        fprintf(f, ",x%lld", (long long)j);
    fprintf(f, ",y\n");
    for (int64_t i = 0; i < p->n; i++) {
        fprintf(f, "%lld", (long long)p->row[i]);
        for (int64_t j = 0; j < d; j++)
            fprintf(f, ",%.9g", p->x[i * d + j]);
        fprintf(f, ",%.9g\n", p->y[i]);
    }
    return fclose(f) ? -1 : 0;
}

/* The MLP's standardised test predictions: `eta predict`'s CSV, header out0. */
static double *read_mlp(const char *path, int64_t n)
{
    FILE *f = fopen(path, "r");
    double *v = f ? malloc((size_t)n * sizeof *v) : NULL;
    char line[128];
    int64_t k = 0;
    bool ok = v && fgets(line, sizeof line, f) && !strncmp(line, "out0", 4);
    while (ok && fgets(line, sizeof line, f)) {
        char *end;
        ok = k < n && (v[k++] = strtod(line, &end), end != line);
    }
    if (f)
        fclose(f);
    if (!ok || k != n) {
        fprintf(stderr, "sp500_vol: %s: expected eta predict's column out0 with %lld rows\n", path, (long long)n);
        free(v);
        return NULL;
    }
    return v;
}

/* Actual |r| (faint) and the predictions over the test period, in percent. */
static int plot_test(const char *path, const part *t, double *const *pr, const double *mlp, double ym, double ys)
{
    int64_t n = t->n;
    double *x = malloc((size_t)n * sizeof *x), *y[4] = {NULL, NULL, NULL, NULL};
    int rc = x ? 0 : -1;
    for (int k = 0; k < 4 && !rc; k++)
        if (!(y[k] = malloc((size_t)n * sizeof(double))))
            rc = -1;
    for (int64_t i = 0; i < n && !rc; i++) {
        x[i] = (double)i;
        y[0][i] = 100 * (t->y[i] * ys + ym);
        y[1][i] = 100 * (pr[M_EWMA][i] * ys + ym);
        y[2][i] = 100 * (pr[M_LS][i] * ys + ym);
        y[3][i] = mlp ? 100 * (mlp[i] * ys + ym) : 0;
    }
    if (!rc) {
        eta_plot_series s[4] = {{x, y[0], (size_t)n, "actual |r|", 0},
                                {x, y[1], (size_t)n, "EWMA(0.94) * sqrt(2/pi)", 0},
                                {x, y[2], (size_t)n, "least squares", 0},
                                {x, y[3], (size_t)n, "MLP (eta train)", 0}};
        eta_plot_style st[4] = {{.color = 8, .faint = true}, {.color = 3}, {.color = 1}, {.color = 2}};
        eta_plot_panel panel = {{.title = "S&P 500: next day's |log return|, test period (2017-01-03 to 2020-04-17)",
                                 .xlabel = "trading day of the test period",
                                 .ylabel = "|log return| (%)",
                                 .width = 1000,
                                 .height = 500},
                                s, st, mlp ? 4 : 3};
        eta_err err;
        if (eta_plot_panels(path, &panel, 1, &err)) {
            fprintf(stderr, "sp500_vol: %s\n", err.msg);
            rc = -1;
        }
    }
    free(x);
    for (int k = 0; k < 4; k++)
        free(y[k]);
    return rc;
}

/* The value of `spec` in the [data] section of an INI file, with its
 * indented continuation lines joined by a space, into buf. */
static int config_spec(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "sp500_vol: cannot read %s\n", path);
        return -1;
    }
    char line[1024];
    bool in_data = false, in_spec = false;
    size_t len = 0;
    buf[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        const char *t = line + strspn(line, " \t");
        if (in_spec && t != line && *t) { /* a continuation line */
            len += (size_t)snprintf(buf + len, len < n ? n - len : 0, " %s", t);
            continue;
        }
        in_spec = false;
        if (*t == '[')
            in_data = !strncmp(t, "[data]", 6);
        else if (in_data && !strncmp(t, "spec", 4) && strchr(t, '=')) {
            const char *v = strchr(t, '=') + 1;
            len = (size_t)snprintf(buf, n, "%s", v + strspn(v, " \t"));
            in_spec = true;
        }
    }
    fclose(f);
    if (!buf[0] || len >= n) {
        fprintf(stderr, "sp500_vol: %s: no [data] spec (or one longer than %zu bytes)\n", path, n - 1);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: sp500_vol --config CONFIG.ini | --data SPEC  [--data-dir DIR] [--window W]\n"
               "                 [--dump DIR] [--pred FILE] [--plot FILE.png [--mlp PREDICT.csv]]\n"
               "Least squares and the yesterday, train-mean and EWMA(0.94) baselines of a volatility\n"
               "data set (see the top of examples/sp500_vol.c); CSV model,split,mse,r2,seconds.\n");
}

int main(int argc, char **argv)
{
    const char *spec = NULL, *dir = getenv("ETA_DATA_DIR"), *dump_dir = NULL, *pred = NULL, *plot = NULL,
               *mlp_path = NULL;
    long window = 20;
    static char spec_buf[4096];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (!v || strncmp(a, "--", 2)) {
            usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--data"))
            spec = v;
        else if (!strcmp(a, "--config")) {
            if (config_spec(v, spec_buf, sizeof spec_buf))
                return 1;
            spec = spec_buf;
        }
        else if (!strcmp(a, "--data-dir"))
            dir = v;
        else if (!strcmp(a, "--dump"))
            dump_dir = v;
        else if (!strcmp(a, "--pred"))
            pred = v;
        else if (!strcmp(a, "--plot"))
            plot = v;
        else if (!strcmp(a, "--mlp"))
            mlp_path = v;
        else if (!strcmp(a, "--window"))
            window = strtol(v, NULL, 10);
        else {
            fprintf(stderr, "sp500_vol: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!spec || window < 1) {
        usage(stderr);
        return 2;
    }
    eta_err err;
    eta_dataset *ds = NULL;
    if (eta_data_open(&ds, spec, dir ? dir : "data", &err)) {
        fprintf(stderr, "sp500_vol: %s\n", err.msg);
        return 1;
    }
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t d = in->input_shape[0];
    const double *xm, *xs, *ym, *ys;
    if (in->tokens || in->input_ndim != 1 || in->class_target || in->target_shape[0] != 1 || d < window ||
        eta_data_input_stats(ds, &xm, &xs) != d || eta_data_target_stats(ds, &ym, &ys) != 1) {
        fprintf(stderr, "sp500_vol: expected a regression on [%ld or more] standardised inputs with one standardised "
                        "target (standardize_target=True)\n", window);
        eta_data_free(ds);
        return 1;
    }
    part p[3] = {{0}};
    int rc = 0;
    for (int s = 0; s < 3 && !rc; s++) {
        p[s].row = eta_data_split_index(ds, (eta_split)s, &p[s].n);
        p[s].x = malloc((size_t)((p[s].n ? p[s].n : 1) * d) * sizeof(float));
        p[s].y = malloc((size_t)(p[s].n ? p[s].n : 1) * sizeof(float));
        if (!p[s].x || !p[s].y || p[s].n < 1)
            rc = -1;
        else {
            int64_t *idx = malloc((size_t)p[s].n * sizeof *idx);
            for (int64_t i = 0; idx && i < p[s].n; i++)
                idx[i] = i;
            if (!idx || eta_data_gather(ds, (eta_split)s, idx, p[s].n, p[s].x, p[s].y, &err))
                rc = -1;
            free(idx);
        }
    }
    if (!rc)
        for (int s = 1; s < 3; s++) /* walk forward: each part starts where the one before ends */
            if (p[s].row[0] != p[s - 1].row[p[s - 1].n - 1] + 1)
                rc = -1;
    if (rc) {
        fprintf(stderr, "sp500_vol: the three parts must be contiguous and non-empty (split='date'): %s\n", err.msg);
        eta_data_free(ds);
        return 1;
    }
    for (int s = 0; s < 3 && dump_dir && !rc; s++)
        rc = dump(dump_dir, split_names[s], &p[s], d);

    /* least squares on the training part */
    int64_t m = p[0].n, k = d + 1;
    double *A = malloc((size_t)(m * k) * sizeof *A), *b = malloc((size_t)m * sizeof *b), *w = malloc((size_t)k * sizeof *w);
    double t0 = now(), ls_time = 0;
    if (!A || !b || !w)
        rc = -1;
    for (int64_t i = 0; i < m && !rc; i++) {
        A[i * k] = 1;
        for (int64_t j = 0; j < d; j++)
            A[i * k + 1 + j] = p[0].x[i * d + j];
        b[i] = p[0].y[i];
    }
    if (!rc && lstsq(A, b, m, k, w)) {
        fprintf(stderr, "sp500_vol: least squares: the inputs are linearly dependent\n");
        rc = -1;
    }
    ls_time = now() - t0;

    /* every model's predictions over the three parts, in time order */
    int64_t total = p[0].n + p[1].n + p[2].n;
    double *pr[M_COUNT];
    for (int j = 0; j < M_COUNT; j++)
        if (!(pr[j] = malloc((size_t)total * sizeof(double))))
            rc = -1;
    double s2 = 0;
    int64_t at = 0;
    for (int s = 0; s < 3 && !rc; s++)
        for (int64_t i = 0; i < p[s].n; i++, at++) {
            const float *x = p[s].x + i * d;
            double lin = w[0];
            for (int64_t j = 0; j < d; j++)
                lin += w[1 + j] * x[j];
            double r1 = x[window - 1] * xs[window - 1] + xm[window - 1]; /* yesterday's return */
            if (at == 0)
                for (long j = 0; j < window; j++) {
                    double r = x[j] * xs[j] + xm[j];
                    s2 += r * r / (double)window;
                }
            else
                s2 = LAMBDA * s2 + (1 - LAMBDA) * r1 * r1;
            pr[M_LS][at] = lin;
            pr[M_YESTERDAY][at] = (fabs(r1) - ym[0]) / ys[0];
            pr[M_MEAN][at] = 0; /* the training mean, standardised */
            pr[M_EWMA][at] = (sqrt(TWO_OVER_PI) * sqrt(s2) - ym[0]) / ys[0];
        }
    double val_mse[M_COUNT] = {0};
    if (!rc) {
        printf("model,split,mse,r2,seconds\n");
        for (int j = 0; j < M_COUNT; j++) {
            int64_t off = 0;
            for (int s = 0; s < 3; s++) {
                double mse, r2;
                score(p[s].y, pr[j] + off, p[s].n, &mse, &r2);
                printf("%s,%s,%.6f,%.6f,%.6f\n", model_names[j], split_names[s], mse, r2, j == M_LS ? ls_time : 0.0);
                if (s == 1)
                    val_mse[j] = mse;
                off += p[s].n;
            }
        }
    }
    if (!rc && !(val_mse[M_LS] < val_mse[M_MEAN])) {
        fprintf(stderr, "sp500_vol: least squares (validation MSE %.6f) does not beat the training mean (%.6f)\n",
                val_mse[M_LS], val_mse[M_MEAN]);
        rc = -1;
    }
    if (!rc && pred) {
        FILE *f = fopen(pred, "w");
        if (!f) {
            fprintf(stderr, "sp500_vol: cannot write %s\n", pred);
            rc = -1;
        } else {
            fprintf(f, "row,actual");
            for (int j = 0; j < M_COUNT; j++)
                fprintf(f, ",%s", model_names[j]);
            fprintf(f, "\n");
            int64_t off = p[0].n + p[1].n;
            for (int64_t i = 0; i < p[2].n; i++) {
                fprintf(f, "%lld,%.9g", (long long)p[2].row[i], p[2].y[i]);
                for (int j = 0; j < M_COUNT; j++)
                    fprintf(f, ",%.9g", pr[j][off + i]);
                fprintf(f, "\n");
            }
            if (fclose(f))
                rc = -1;
        }
    }
    if (!rc && plot) {
        int64_t off = p[0].n + p[1].n;
        double *tp[M_COUNT], *mlp = mlp_path ? read_mlp(mlp_path, p[2].n) : NULL;
        for (int j = 0; j < M_COUNT; j++)
            tp[j] = pr[j] + off;
        rc = mlp_path && !mlp ? -1 : plot_test(plot, &p[2], tp, mlp, ym[0], ys[0]);
        free(mlp);
    }
    for (int j = 0; j < M_COUNT; j++)
        free(pr[j]);
    free(A);
    free(b);
    free(w);
    for (int s = 0; s < 3; s++) {
        free(p[s].x);
        free(p[s].y);
    }
    eta_data_free(ds);
    return rc ? 1 : 0;
}
