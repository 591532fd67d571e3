/* tune/sweep_out.c - what a sweep leaves in its directory, from the study:
 *
 *   sweep.csv          one row per trial in trial order: trial, each swept key,
 *                      state, the metric (its last reported value), steps, seconds,
 *                      note (why it was pruned or failed)
 *   metric_vs_KEY.png  the metric against the first swept key (log-x when its
 *                      values span two decades or more): completed trials joined
 *                      by a line, pruned ones as dots
 *   curves.png         the metric's validation curves of every trial overlaid
 *                      (train/runplot.c, from each trial's metrics.csv)
 *
 * and, printed: the trials ranked by the metric (CSV, completed trials
 * first), and the compute spent, in optimizer steps, against a full run of
 * every trial.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "eta/plot.h"
#include "train/runplot.h"
#include "tune/sweep.h"

typedef struct row {
    int64_t number;
    sweep_state state;
    sweep_trial_row r;
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
    double nums[SWEEP_MAX_DIMS];
} row;

static bool g_maximize; /* for qsort's comparison: set just before it */

static int rank_cmp(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int sx = x->state == SWEEP_COMPLETE ? 0 : x->state == SWEEP_PRUNED ? 1 : 2;
    int sy = y->state == SWEEP_COMPLETE ? 0 : y->state == SWEEP_PRUNED ? 1 : 2;
    if (sx != sy)
        return sx - sy;
    double u = x->r.value, v = y->r.value;
    if (isnan(u) != isnan(v))
        return isnan(u) ? 1 : -1;
    if (!isnan(u) && u != v)
        return (g_maximize ? u > v : u < v) ? -1 : 1;
    return x->number < y->number ? -1 : x->number > y->number;
}

/* trial, the keys, state, metric, steps, seconds[, note] */
static void print_row(FILE *f, const row *w, int ndims, bool note)
{
    fprintf(f, "%lld,", (long long)w->number);
    for (int d = 0; d < ndims; d++) {
        eta_fmt_csv_field(f, w->texts[d]);
        fputc(',', f);
    }
    fprintf(f, "%s,", sweep_state_name(w->state));
    if (!isnan(w->r.value))
        fprintf(f, "%.6g", w->r.value);
    fprintf(f, ",%lld,%.2f", (long long)w->r.steps, isnan(w->r.seconds) ? 0.0 : w->r.seconds);
    if (note) {
        fputc(',', f);
        eta_fmt_csv_field(f, w->r.note);
    }
    fputc('\n', f);
}

static void print_header(FILE *f, const sweep_plan *p, bool ranked)
{
    fprintf(f, "%strial,", ranked ? "rank," : "");
    for (int d = 0; d < p->space.n; d++) {
        eta_fmt_csv_field(f, p->space.dims[d].key);
        fputc(',', f);
    }
    fprintf(f, "state,%s,steps,seconds%s\n", p->metric, ranked ? "" : ",note");
}

/* The metric against the first swept key. */
static int chart_metric(const char *dir, const sweep_plan *p, const row *rows, int n, eta_err *err)
{
    double *x = calloc(4 * (size_t)n + 1, sizeof *x);
    if (!x)
        return ETA_ENOMEM;
    double *y = x + n, *px = x + 2 * (size_t)n, *py = x + 3 * (size_t)n;
    int nc = 0, np = 0;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) { /* rows come in order of the key (see sweep_outputs) */
        double k = rows[i].nums[0];
        if (isnan(k))
            continue;
        lo = k < lo ? k : lo;
        hi = k > hi ? k : hi;
        if (rows[i].state == SWEEP_COMPLETE) {
            x[nc] = k;
            y[nc++] = rows[i].r.value;
        } else if (rows[i].state == SWEEP_PRUNED) {
            px[np] = k;
            py[np++] = rows[i].r.value;
        }
    }
    /* pruned trials as dots: a NaN between points breaks the line */
    size_t cap = 2 * (size_t)np + 1; /* np points and the NaNs between them */
    double *dx = malloc(2 * cap * sizeof *dx), *dy = dx ? dx + cap : NULL;
    int nd = 0;
    for (int i = 0; dx && i < np; i++) {
        if (i) {
            dx[nd] = NAN;
            dy[nd++] = NAN;
        }
        dx[nd] = px[i];
        dy[nd++] = py[i];
    }
    char path[1200], title[300], pruned_label[64];
    snprintf(path, sizeof path, "%s/metric_vs_%s.png", dir, p->space.dims[0].key);
    snprintf(title, sizeof title, "sweep: %s against %s", p->metric, p->space.dims[0].key);
    snprintf(pruned_label, sizeof pruned_label, "pruned (last value)");
    eta_plot_series s[2] = {{x, y, (size_t)nc, "completed", 0}, {dx, dy, (size_t)nd, pruned_label, 0}};
    eta_plot_style styles[2] = {{.color = 1, .markers = true}, {.color = 4, .markers = true}};
    eta_plot_panel panel = {.cfg = {.title = title, .xlabel = p->space.dims[0].key, .ylabel = p->metric,
                                    .log_x = lo > 0 && hi / lo >= 100},
                            .series = s, .styles = styles, .nseries = 2};
    int rc = dx ? eta_plot_panels(path, &panel, 1, err) : ETA_ENOMEM;
    free(dx);
    free(x);
    return rc;
}

/* Every trial's validation curve of the metric. */
static int chart_curves(const char *dir, const sweep_plan *p, const row *rows, int n, eta_err *err)
{
    eta_run_table **t = calloc((size_t)n + 1, sizeof *t);
    char **labels = calloc((size_t)n + 1, sizeof *labels);
    int m = 0, rc = ETA_OK;
    for (int i = 0; t && labels && i < n; i++) {
        char path[1200];
        snprintf(path, sizeof path, "%s/trial-%04lld/metrics.csv", dir, (long long)rows[i].number);
        if (eta_run_table_read(&t[m], path, NULL))
            continue;
        char label[400]; /* "0.01, 64 (#3)": the values, the trial */
        int at = 0;
        for (int d = 0; d < p->space.n && at < (int)sizeof label; d++)
            at += snprintf(label + at, sizeof label - (size_t)at, "%s%.60s", d ? ", " : "", rows[i].texts[d]);
        if (at < (int)sizeof label)
            snprintf(label + at, sizeof label - (size_t)at, " (#%lld)", (long long)rows[i].number);
        labels[m++] = strdup(label);
    }
    if (m > 0) {
        char path[1200];
        snprintf(path, sizeof path, "%s/curves.png", dir);
        eta_runplot_metric metric = strstr(p->metric, "acc") ? ETA_RUNPLOT_VAL_ACC : ETA_RUNPLOT_VAL_LOSS;
        rc = eta_runplot_draw(path, metric, (const eta_run_table *const *)t, (const char *const *)labels, m, true, err);
    }
    for (int i = 0; i < m; i++) {
        eta_run_table_free(t[i]);
        free(labels[i]);
    }
    free(t);
    free(labels);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    const row *x = a, *y = b;
    return x->nums[0] < y->nums[0] ? -1 : x->nums[0] > y->nums[0];
}

/* The study in DIR as rows, each with its params; free with loaded_free. */
typedef struct loaded {
    sweep_study *st;
    sweep_plan p;
    sweep_study_view v;
    sweep_trial_row *tr;
    row *rows;
    int n;
} loaded;

static void loaded_free(loaded *l)
{
    free(l->rows);
    free(l->tr);
    sweep_study_view_free(&l->v);
    sweep_plan_free(&l->p);
    sweep_study_close(l->st);
}

static int load(const char *dir, loaded *l, eta_err *err)
{
    memset(l, 0, sizeof *l);
    int rc = sweep_open(dir, &l->st, &l->p, err);
    if (rc)
        return rc;
    if ((rc = sweep_study_load(l->st, &l->v, &l->tr, err))) {
        sweep_plan_free(&l->p);
        sweep_study_close(l->st);
        memset(l, 0, sizeof *l);
        return rc;
    }
    l->n = l->v.ntrials;
    l->rows = calloc((size_t)l->n + 1, sizeof *l->rows);
    const char *names[SWEEP_MAX_DIMS];
    for (int d = 0; d < l->p.space.n; d++)
        names[d] = l->p.space.dims[d].key;
    for (int i = 0; l->rows && i < l->n && !rc; i++) {
        row *w = &l->rows[i];
        w->number = l->v.trials[i].number;
        w->state = l->v.trials[i].state;
        w->r = l->tr[i];
        rc = sweep_study_params(l->st, w->number, l->p.space.n, names, w->texts, w->nums, err);
    }
    if (!l->rows)
        rc = ETA_ENOMEM;
    if (rc)
        loaded_free(l);
    return rc;
}

int sweep_best(const char *dir, sweep_best_trial *best, eta_err *err)
{
    loaded l;
    memset(best, 0, sizeof *best);
    best->number = -1;
    best->value = best->x = NAN;
    int rc = load(dir, &l, err);
    if (rc)
        return rc;
    g_maximize = l.v.maximize;
    qsort(l.rows, (size_t)l.n, sizeof *l.rows, rank_cmp);
    for (int i = 0; i < l.n; i++) {
        best->steps += l.rows[i].r.steps;
        best->completed += l.rows[i].state == SWEEP_COMPLETE;
    }
    if (l.n && l.rows[0].state == SWEEP_COMPLETE && !isnan(l.rows[0].r.value)) {
        best->number = l.rows[0].number;
        best->value = l.rows[0].r.value;
        best->x = l.p.space.n ? l.rows[0].nums[0] : NAN;
    }
    loaded_free(&l);
    return ETA_OK;
}

int sweep_outputs(const char *dir, FILE *out, FILE *log, int *failed, eta_err *err)
{
    *failed = 0;
    char path[1100];
    loaded l;
    int rc = load(dir, &l, err);
    if (rc)
        return rc;
    const sweep_plan *p = &l.p;
    row *rows = l.rows;
    const int n = l.n;
    FILE *f = NULL;
    char tmp[1200];
    snprintf(path, sizeof path, "%s/sweep.csv", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()); /* a joined process may write it too */
    if (!rc && !(f = fopen(tmp, "w"))) {
        eta_err_clear(err);
        if (err)
            snprintf(err->msg, sizeof err->msg, "%.200s: cannot write", tmp);
        rc = ETA_EIO;
    }
    if (!rc) {
        print_header(f, p, false);
        for (int i = 0; i < n; i++)
            print_row(f, &rows[i], p->space.n, true);
        if (fclose(f) || rename(tmp, path)) {
            eta_err_clear(err);
            if (err)
                snprintf(err->msg, sizeof err->msg, "%.200s: cannot write", path);
            rc = ETA_EIO;
        }
    }
    int64_t spent = 0, full = 0;
    for (int i = 0; !rc && i < n; i++) {
        spent += rows[i].r.steps;
        *failed += rows[i].state == SWEEP_FAIL;
        if (rows[i].state == SWEEP_COMPLETE && rows[i].r.steps > full)
            full = rows[i].r.steps;
    }
    if (!rc) {
        g_maximize = l.v.maximize;
        qsort(rows, (size_t)n, sizeof *rows, rank_cmp);
        print_header(out, p, true);
        for (int i = 0; i < n; i++) {
            fprintf(out, "%d,", i + 1);
            print_row(out, &rows[i], p->space.n, false);
        }
        if (full > 0)
            fprintf(log, "compute: %lld optimizer steps over %d trials, %.1f%% of the %lld that %d full runs take\n",
                     (long long)spent, n, 100.0 * (double)spent / ((double)full * n), (long long)full * n, n);
        else
            fprintf(log, "compute: %lld optimizer steps over %d trials (none completed)\n", (long long)spent, n);
        fprintf(log, "%s/sweep.csv, metric_vs_%s.png, curves.png\n", dir, p->space.n ? p->space.dims[0].key : "");
    }
    if (!rc && n > 0 && p->space.n > 0) {
        qsort(rows, (size_t)n, sizeof *rows, by_key);
        rc = chart_metric(dir, p, rows, n, err);
        if (!rc)
            rc = chart_curves(dir, p, rows, n, err);
    }
    loaded_free(&l);
    return rc;
}
