/* train/runplot.c - a run's charts (runplot.h lists them) from its
 * metrics.csv, with the plot layer's panels and series styles: raw values
 * faint under their smoothed curve, validation points as dots on a line,
 * one colour per run when runs are overlaid. The smoothing of the gradient
 * norm is the one the sink applies to the loss (debiased EMA, beta 0.98).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eta/plot.h"
#include "train/runplot.h"

static const char *const metric_names[] = {"loss", "lr", "grad_norm", "val_loss", "val_acc"};

const char *eta_runplot_metric_name(eta_runplot_metric m)
{
    return (unsigned)m < ETA_RUNPLOT_METRIC_COUNT ? metric_names[m] : "?";
}

int eta_runplot_metric_parse(const char *s, eta_runplot_metric *out, eta_err *err)
{
    for (int i = 0; s && i < ETA_RUNPLOT_METRIC_COUNT; i++)
        if (!strcmp(s, metric_names[i])) {
            *out = (eta_runplot_metric)i;
            return ETA_OK;
        }
    return eta_spec_fail(err, ETA_EINVAL, NULL, "unknown metric '%s'; valid metrics: loss, lr, grad_norm, val_loss, "
                         "val_acc", s ? s : "(null)");
}

/* A chart being assembled: its series, their styles, the arrays it owns. */
typedef struct chart {
    eta_plot_series *s;
    eta_plot_style *st;
    int n, cap;
    double **owned;
    int nowned;
    bool oom;
} chart;

static void add(chart *c, const double *x, const double *y, size_t n, const char *label, eta_plot_style st)
{
    if (c->n == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        eta_plot_series *s = realloc(c->s, (size_t)cap * sizeof *s);
        if (s)
            c->s = s;
        eta_plot_style *t = s ? realloc(c->st, (size_t)cap * sizeof *t) : NULL;
        if (!t) {
            c->oom = true;
            return;
        }
        c->st = t;
        c->cap = cap;
    }
    c->s[c->n] = (eta_plot_series){.x = x, .y = y, .n = n, .label = label};
    c->st[c->n++] = st;
}

/* An array of n doubles the chart frees. */
static double *owned(chart *c, size_t n)
{
    double **o = realloc(c->owned, (size_t)(c->nowned + 1) * sizeof *o);
    double *a = o ? malloc((n ? n : 1) * sizeof *a) : NULL;
    if (o)
        c->owned = o;
    if (!a) {
        c->oom = true;
        return NULL;
    }
    c->owned[c->nowned++] = a;
    return a;
}

static void chart_free(chart *c)
{
    for (int i = 0; i < c->nowned; i++)
        free(c->owned[i]);
    free(c->owned);
    free(c->s);
    free(c->st);
}

/* The rows where y is a number, as their own arrays (points joined by a line). */
static void add_points(chart *c, const eta_run_table *t, const double *y, const char *label, int color, bool dashed)
{
    const double *step = eta_run_table_col(t, "step");
    size_t k = 0;
    for (int64_t i = 0; i < t->nrows; i++)
        k += !isnan(y[i]);
    double *px = owned(c, k), *py = owned(c, k);
    if (!px || !py)
        return;
    k = 0;
    for (int64_t i = 0; i < t->nrows; i++)
        if (!isnan(y[i])) {
            px[k] = step[i];
            py[k++] = y[i];
        }
    add(c, px, py, k, label, (eta_plot_style){.color = color, .markers = true, .dashed = dashed});
}

/* The debiased EMA (beta 0.98) of the finite values of y; NaN where y is not finite. */
static const double *smoothed(chart *c, const double *y, int64_t n)
{
    double *s = owned(c, (size_t)n);
    if (!s)
        return NULL;
    double avg = 0;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(y[i])) {
            s[i] = NAN;
            continue;
        }
        avg = 0.98 * avg + (1 - 0.98) * y[i];
        s[i] = avg / (1 - pow(0.98, (double)++k));
    }
    return s;
}

/* Whether the left-axis series that are not faint span more than 1.5
 * decades with only positive values: then the y axis is logarithmic. */
static bool wants_log(const chart *c)
{
    double lo = INFINITY, hi = 0;
    for (int k = 0; k < c->n; k++) {
        if (c->st[k].faint)
            continue;
        for (size_t i = 0; i < c->s[k].n; i++) {
            double v = c->s[k].y[i];
            if (!isfinite(v))
                continue;
            if (v <= 0)
                return false;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    }
    return hi > 0 && hi / lo > pow(10, 1.5);
}

/* The label of run i: "label" or, with several groups, "label group g". */
static const char *name_of(const char *base, int group, int ngroups, char *buf, size_t n)
{
    if (ngroups <= 1)
        return base;
    snprintf(buf, n, "%s%sgroup %d", base ? base : "", base && base[0] ? " " : "", group);
    return buf;
}

/* The columns `prefix` or prefix_0, prefix_1, ... of t: their count. */
static int group_cols(const eta_run_table *t, const char *prefix, const double **cols, int cap)
{
    const double *one = eta_run_table_col(t, prefix);
    if (one) {
        cols[0] = one;
        return 1;
    }
    int n = 0;
    char name[64];
    for (; n < cap; n++) {
        snprintf(name, sizeof name, "%s_%d", prefix, n);
        if (!(cols[n] = eta_run_table_col(t, name)))
            break;
    }
    return n;
}

enum { MAX_GROUPS = 64 };

/* The lr chart: learning rates, and momentum in a second panel when any run has it. */
static int draw_lr(const char *path, const eta_run_table *const *runs, const char *const *labels, int n,
                   eta_err *err)
{
    chart lr = {0}, mom = {0};
    char (*names)[160] = calloc((size_t)n * MAX_GROUPS, sizeof *names);
    if (!names)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    double peak_lo = INFINITY, peak_hi = 0;
    for (int r = 0; r < n; r++) {
        const eta_run_table *t = runs[r];
        const double *x = eta_run_table_col(t, "step"), *cols[MAX_GROUPS], *mcols[MAX_GROUPS];
        int g = group_cols(t, "lr", cols, MAX_GROUPS), gm = group_cols(t, "momentum", mcols, MAX_GROUPS);
        for (int i = 0; i < g; i++) {
            /* One run: a colour per group; several: a colour per run. */
            int color = n == 1 ? i + 1 : r + 1;
            const char *label = name_of(n == 1 ? "" : labels[r], i, g, names[r * MAX_GROUPS + i], 160);
            add(&lr, x, cols[i], (size_t)t->nrows, n == 1 && g == 1 ? "lr" : label, (eta_plot_style){.color = color});
            double peak = 0;
            for (int64_t k = 0; k < t->nrows; k++)
                peak = cols[i][k] > peak ? cols[i][k] : peak;
            if (peak > 0) {
                peak_lo = fmin(peak_lo, peak);
                peak_hi = fmax(peak_hi, peak);
            }
            if (i < gm)
                add(&mom, x, mcols[i], (size_t)t->nrows, label,
                    (eta_plot_style){.color = color, .no_legend = true}); /* the lr panel's legend serves */
        }
    }
    int rc = ETA_OK;
    if (lr.oom || mom.oom) {
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    } else {
        char title[300];
        snprintf(title, sizeof title, n == 1 ? "%s: learning rate and momentum" : "learning rate and momentum",
                 labels[0]);
        if (mom.n == 0)
            snprintf(title, sizeof title, n == 1 ? "%s: learning rate" : "learning rate", labels[0]);
        eta_plot_panel p[2] = {
            {.cfg = {.title = title, .xlabel = mom.n ? NULL : "step", .ylabel = "learning rate",
                     .log_y = peak_hi > 10 * peak_lo, .height = mom.n ? 320 : 500},
             .series = lr.s, .styles = lr.st, .nseries = lr.n},
            {.cfg = {.xlabel = "step", .ylabel = "momentum", .height = 230}, .series = mom.s, .styles = mom.st,
             .nseries = mom.n},
        };
        rc = eta_plot_panels(path, p, mom.n ? 2 : 1, err);
    }
    chart_free(&lr);
    chart_free(&mom);
    free(names);
    return rc;
}

/* Does some run have column `name`? */
static bool has_col(const eta_run_table *const *runs, int n, const char *name)
{
    for (int r = 0; r < n; r++)
        if (eta_run_table_col(runs[r], name))
            return true;
    return false;
}

int eta_runplot_draw(const char *path, eta_runplot_metric metric, const eta_run_table *const *runs,
                     const char *const *labels, int n, bool smooth, eta_err *err)
{
    eta_err_clear(err);
    if (n < 1)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: no run given");
    if (metric == ETA_RUNPLOT_LR)
        return draw_lr(path, runs, labels, n, err);
    const char *col = metric == ETA_RUNPLOT_LOSS ? "loss" : eta_runplot_metric_name(metric);
    if (!has_col(runs, n, col))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: no %s column%s", runs[0]->path, col,
                             metric == ETA_RUNPLOT_VAL_ACC ? " (not a classifier)" : "");
    chart c = {0};
    char (*names)[200] = calloc(2 * (size_t)n, sizeof *names); /* two labels per run */
    if (!names)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    for (int r = 0; r < n; r++) {
        const eta_run_table *t = runs[r];
        const double *x = eta_run_table_col(t, "step"), *y = eta_run_table_col(t, col);
        size_t rows = (size_t)t->nrows;
        int color = n == 1 ? 1 : r + 1;
        if (!y)
            continue;
        if (metric == ETA_RUNPLOT_LOSS || metric == ETA_RUNPLOT_GRAD_NORM) {
            const double *s = metric == ETA_RUNPLOT_LOSS ? eta_run_table_col(t, "smooth_loss") : NULL;
            if (!s)
                s = smoothed(&c, y, t->nrows);
            const char *what = metric == ETA_RUNPLOT_LOSS ? "train loss" : "gradient norm";
            if (!smooth)
                add(&c, x, y, rows, n == 1 ? what : labels[r],
                    (eta_plot_style){.color = color, .faint = true, .no_legend = n > 1});
            add(&c, x, s, rows, n == 1 ? "smoothed" : labels[r], (eta_plot_style){.color = color});
            const double *v = metric == ETA_RUNPLOT_LOSS ? eta_run_table_col(t, "val_loss") : NULL;
            if (v) {
                snprintf(names[2 * r + 1], sizeof names[0], "%s (validation)", labels[r]);
                add_points(&c, t, v, n == 1 ? "validation loss" : names[2 * r + 1], n == 1 ? 2 : color, n > 1);
            }
        } else {
            add_points(&c, t, y, labels[r], color, false);
        }
    }
    int rc = ETA_OK;
    if (c.oom) {
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    } else {
        static const char *const what[] = {"loss", "", "gradient norm", "validation loss", "validation accuracy"};
        static const char *const ylabel[] = {"loss", "", "gradient norm", "validation loss", "validation accuracy"};
        char title[300];
        snprintf(title, sizeof title, n == 1 ? "%s: %s" : "%s%s", n == 1 ? labels[0] : "", what[metric]);
        eta_plot_panel p = {.cfg = {.title = title, .xlabel = "step", .ylabel = ylabel[metric],
                                    .log_y = metric != ETA_RUNPLOT_VAL_ACC && wants_log(&c)},
                            .series = c.s, .styles = c.st, .nseries = c.n};
        rc = eta_plot_panels(path, &p, 1, err);
    }
    chart_free(&c);
    free(names);
    return rc;
}

int eta_runplot_run(const char *run_dir, const char *out_dir, eta_err *err)
{
    eta_err_clear(err);
    if (!out_dir)
        out_dir = run_dir;
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    eta_run_table *t = NULL;
    int rc = eta_run_table_read(&t, path, err);
    if (rc)
        return rc;
    char *label = NULL;
    if (eta_runplot_labels(&run_dir, 1, &label)) {
        eta_run_table_free(t);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", run_dir);
    }
    const eta_run_table *runs[1] = {t};
    const char *labels[1] = {label};
    const eta_runplot_metric which[3] = {ETA_RUNPLOT_LOSS, ETA_RUNPLOT_LR, ETA_RUNPLOT_GRAD_NORM};
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(path, sizeof path, "%s/%s.png", out_dir, eta_runplot_metric_name(which[i]));
        rc = eta_runplot_draw(path, which[i], runs, labels, 1, false, err);
    }
    free(label);
    eta_run_table_free(t);
    return rc;
}
