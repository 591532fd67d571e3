/* lines.c - eta_plot_lines: checks the arguments, picks PNG or SVG from the
 * file name, draws the chart (chart.c) and writes the file.
 *
 * eta opens the file itself and hands cairo a write callback, so a failure
 * is reported with the system's reason ("No such file or directory") rather
 * than cairo's generic "error while writing to output stream", and a partly
 * written file is removed. A PNG is drawn in memory and the file is opened
 * only once the drawing succeeded; an SVG streams into the open file.
 * eta_plot_check_path asks the same questions before any drawing, for
 * commands that want to refuse a bad --plot before their run.
 * eta_plot_panels stacks charts in one file; eta_plot_lines is one panel.
 */
#include "eta/plot.h"

#include "plot/plot_impl.h"

#include <cairo-svg.h>
#include <cairo.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { MIN_SIDE = 200, MAX_SIDE = 8192, DEFAULT_W = 800, DEFAULT_H = 500 };

typedef enum file_format { FMT_NONE, FMT_PNG, FMT_SVG } file_format;

static file_format format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/'))
        return FMT_NONE;
    char ext[5] = {0};
    size_t n = strlen(dot + 1);
    if (n != 3)
        return FMT_NONE;
    for (size_t i = 0; i < n; i++)
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    return strcmp(ext, "png") == 0 ? FMT_PNG : strcmp(ext, "svg") == 0 ? FMT_SVG : FMT_NONE;
}

static int check_format(const char *path, eta_err *err)
{
    if (!path)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: path is NULL");
    if (format_of(path) == FMT_NONE)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "%s: unknown plot format (the file name must end in .png or .svg)",
                             path);
    return ETA_OK;
}

int eta_plot_check_path(const char *path, eta_err *err)
{
    eta_err_clear(err);
    int rc = check_format(path, err);
    if (rc != ETA_OK)
        return rc;
    /* Create it only if it is not there, so an existing file is never
     * truncated or removed by the check. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    bool created = fd >= 0;
    if (fd < 0 && errno == EEXIST)
        fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(errno));
    close(fd);
    if (created)
        unlink(path);
    return ETA_OK;
}

static int check_args(const char *path, const eta_plot_config *cfg, const eta_plot_series *series,
                      int nseries, eta_err *err)
{
    int rc = check_format(path, err);
    if (rc != ETA_OK)
        return rc;
    if (cfg->width != 0 && (cfg->width < MIN_SIDE || cfg->width > MAX_SIDE))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: width must be in [%d, %d] (or 0), got %d",
                             MIN_SIDE, MAX_SIDE, cfg->width);
    if (cfg->height != 0 && (cfg->height < MIN_SIDE || cfg->height > MAX_SIDE))
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "plot: height must be in [%d, %d] (or 0), got %d", MIN_SIDE, MAX_SIDE,
                             cfg->height);
    if (nseries < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: nseries must be >= 0, got %d", nseries);
    if (nseries > 0 && !series)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: series is NULL");
    for (int i = 0; i < nseries; i++) {
        const eta_plot_series *s = &series[i];
        if (s->n > 0 && !s->y)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: series %d has %zu points but y is NULL",
                                 i, s->n);
        if (s->axis != 0 && s->axis != 1)
            return eta_spec_fail(err, ETA_EINVAL, NULL,
                                 "plot: series %d: axis must be 0 (left) or 1 (right), got %d", i,
                                 s->axis);
    }
    return ETA_OK;
}

/* The cleaned copies of the caller's texts; ETA_ENOMEM if one failed. */
static int copy_texts(plot_chart *c, const eta_plot_config *cfg)
{
    c->title = eta_plot_clean_text_(cfg->title);
    c->xlabel = eta_plot_clean_text_(cfg->xlabel);
    c->ylabel = eta_plot_clean_text_(cfg->ylabel);
    c->y2label = eta_plot_clean_text_(cfg->y2label);
    if ((cfg->title && !c->title) || (cfg->xlabel && !c->xlabel) || (cfg->ylabel && !c->ylabel) ||
        (cfg->y2label && !c->y2label))
        return ETA_ENOMEM;
    if (c->nseries == 0)
        return ETA_OK;
    c->labels = calloc((size_t)c->nseries, sizeof *c->labels);
    if (!c->labels)
        return ETA_ENOMEM;
    for (int i = 0; i < c->nseries; i++) {
        char name[32];
        snprintf(name, sizeof name, "series %d", i + 1);
        const char *l = c->series[i].label;
        c->labels[i] = eta_plot_clean_text_(l ? l : name);
        if (!c->labels[i])
            return ETA_ENOMEM;
    }
    return ETA_OK;
}

static void free_texts(plot_chart *c)
{
    free(c->title);
    free(c->xlabel);
    free(c->ylabel);
    free(c->y2label);
    for (int i = 0; c->labels && i < c->nseries; i++)
        free(c->labels[i]);
    free(c->labels);
}

/* The file cairo writes into, with the errno of the first failed write. */
typedef struct sink {
    FILE *f;
    int err;
} sink;

static cairo_status_t sink_write(void *closure, const unsigned char *data, unsigned int len)
{
    sink *s = closure;
    if (s->err)
        return CAIRO_STATUS_WRITE_ERROR;
    errno = 0;
    if (fwrite(data, 1, len, s->f) != len) {
        s->err = errno ? errno : EIO;
        return CAIRO_STATUS_WRITE_ERROR;
    }
    return CAIRO_STATUS_SUCCESS;
}

static int open_sink(sink *s, const char *path, eta_err *err)
{
    s->err = 0;
    s->f = fopen(path, "wb");
    if (!s->f)
        return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(errno));
    return ETA_OK;
}

/* Closes the file; on failure (now or before: rc) removes it if it is a
 * regular file. */
static int close_sink(sink *s, const char *path, int rc, eta_err *err)
{
    if (!s->f)
        return rc;
    errno = 0;
    if (fclose(s->f) != 0 && rc == ETA_OK) {
        int e = errno ? errno : EIO;
        rc = eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(e));
    }
    s->f = NULL;
    struct stat st;
    if (rc != ETA_OK && lstat(path, &st) == 0 && S_ISREG(st.st_mode))
        remove(path); /* not a symbolic link or a device the caller named */
    return rc;
}

/* An error from cairo as an eta error code and message. */
static int cairo_fail(eta_err *err, cairo_status_t st, const char *path, const sink *s)
{
    if (st == CAIRO_STATUS_NO_MEMORY)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory while drawing", path);
    if (st == CAIRO_STATUS_WRITE_ERROR && s && s->err)
        return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(s->err));
    return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, cairo_status_to_string(st));
}

/* Draws the n charts, stacked, on a new context for `surface`; returns an
 * eta error code. Stacked charts get the widest margins of them all. */
static int draw_on(plot_chart *cs, int n, cairo_surface_t *surface, const char *path, const sink *s,
                   eta_err *err)
{
    cairo_status_t st = cairo_surface_status(surface);
    if (st != CAIRO_STATUS_SUCCESS)
        return cairo_fail(err, st, path, s);
    cairo_t *cr = cairo_create(surface);
    /* Unhinted metrics: text widths scale with the size, so layout is the
     * same at every size and in both formats. */
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
    int rc = ETA_OK;
    double left = 0, right = 0, y = 0;
    for (int i = 0; n > 1 && i < n && rc == ETA_OK; i++) {
        double l, r;
        cs[i].cr = cr;
        rc = eta_plot_chart_margins_(&cs[i], &l, &r);
        left = fmax(left, l);
        right = fmax(right, r);
    }
    for (int i = 0; i < n && rc == ETA_OK; i++) {
        plot_chart *c = &cs[i];
        cairo_save(cr);
        cairo_translate(cr, 0, y);
        cairo_rectangle(cr, 0, 0, c->w, c->h);
        cairo_clip(cr);
        c->cr = cr;
        c->min_left = left;
        c->min_right = right;
        rc = eta_plot_chart_draw_(c);
        cairo_restore(cr);
        y += c->h;
    }
    if (rc == ETA_ENOMEM)
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory while drawing", path);
    else if ((st = cairo_status(cr)) != CAIRO_STATUS_SUCCESS)
        rc = cairo_fail(err, st, path, s);
    cairo_destroy(cr);
    for (int i = 0; i < n; i++)
        cs[i].cr = NULL;
    return rc;
}

/* Checks the panels and fills one chart per panel (texts copied). */
static int setup(const char *path, const eta_plot_panel *panels, int n, plot_chart *cs, int *w, int *h,
                 eta_err *err)
{
    *w = 0;
    *h = 0;
    for (int i = 0; i < n; i++) {
        const eta_plot_panel *p = &panels[i];
        int rc = check_args(path, &p->cfg, p->series, p->nseries, err);
        if (rc != ETA_OK)
            return rc;
        *w = p->cfg.width > *w ? p->cfg.width : *w;
        *h += p->cfg.height ? p->cfg.height : DEFAULT_H;
    }
    if (*w == 0)
        *w = DEFAULT_W;
    if (*h > MAX_SIDE)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: the panels' heights add up to %d, more than %d", *h,
                             MAX_SIDE);
    for (int i = 0; i < n; i++) {
        plot_chart *c = &cs[i];
        c->series = panels[i].series;
        c->styles = panels[i].styles;
        c->nseries = panels[i].nseries;
        c->log_x = panels[i].cfg.log_x;
        c->log_y = panels[i].cfg.log_y;
        c->w = *w;
        c->h = panels[i].cfg.height ? panels[i].cfg.height : DEFAULT_H;
        if (n > 1) /* one text size for the figure: as if it were one chart */
            c->scale = fmin(4, fmax(0.72, sqrt((double)*w * *h / (800.0 * 500.0))));
        if (copy_texts(c, &panels[i].cfg) != ETA_OK)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    }
    return ETA_OK;
}

int eta_plot_panels(const char *path, const eta_plot_panel *panels, int npanels, eta_err *err)
{
    eta_err_clear(err);
    if (npanels < 1 || !panels)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "plot: need at least one panel, got %d", npanels);
    plot_chart *cs = calloc((size_t)npanels, sizeof *cs); /* ~50 kB of ticks each: not on the stack */
    if (!cs)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path ? path : "plot");
    int w, h;
    int rc = setup(path, panels, npanels, cs, &w, &h, err);
    sink s = {NULL, 0};
    if (rc != ETA_OK) {
        /* nothing drawn */
    } else if (format_of(path) == FMT_PNG) {
        cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
        rc = draw_on(cs, npanels, surface, path, NULL, err);
        if (rc == ETA_OK)
            rc = open_sink(&s, path, err);
        if (rc == ETA_OK) {
            cairo_status_t st = cairo_surface_write_to_png_stream(surface, sink_write, &s);
            if (st != CAIRO_STATUS_SUCCESS)
                rc = cairo_fail(err, st, path, &s);
        }
        cairo_surface_destroy(surface);
    } else {
        rc = open_sink(&s, path, err);
        if (rc == ETA_OK) {
            cairo_surface_t *surface = cairo_svg_surface_create_for_stream(sink_write, &s, w, h);
#if CAIRO_VERSION >= CAIRO_VERSION_ENCODE(1, 16, 0)
            cairo_svg_surface_set_document_unit(surface, CAIRO_SVG_UNIT_PX);
#endif
            rc = draw_on(cs, npanels, surface, path, &s, err);
            cairo_surface_finish(surface);
            cairo_status_t st = cairo_surface_status(surface);
            if (rc == ETA_OK && st != CAIRO_STATUS_SUCCESS)
                rc = cairo_fail(err, st, path, &s);
            cairo_surface_destroy(surface);
        }
    }
    rc = close_sink(&s, path, rc, err);
    for (int i = 0; i < npanels; i++)
        free_texts(&cs[i]);
    free(cs);
    return rc;
}

int eta_plot_lines(const char *path, const eta_plot_config *cfg, const eta_plot_series *series,
                   int nseries, eta_err *err)
{
    eta_plot_panel p = {.series = series, .nseries = nseries};
    if (cfg)
        p.cfg = *cfg;
    return eta_plot_panels(path, &p, 1, err);
}
