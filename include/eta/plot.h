/* eta/plot.h - line charts (loss curves, learning-rate schedules, range
 * tests) written as PNG or SVG files.
 *
 * The plot layer is built on cairo and is absent from the minimal build. It
 * draws one kind of chart: lines over a shared x axis, with a left y axis and
 * an optional right one, "nice" ticks (1, 2, 5 x 10^k; decades on log axes),
 * a title, axis labels and a legend. It keeps no state between calls.
 */
#ifndef ETA_PLOT_H
#define ETA_PLOT_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One curve. Point i is (x[i], y[i]); x == NULL means x[i] = i. The arrays
 * are only read, during the call. A point whose x or y is NaN or +-Inf, or
 * not positive on a log axis, is skipped and the line breaks there; a point
 * with no drawn neighbour is drawn as a dot. n == 0 is allowed (nothing is
 * drawn, the series still gets its legend entry).
 *
 * Series i is drawn in colour i of the Tableau 10 palette (#1f77b4, #ff7f0e,
 * #2ca02c, #d62728, #9467bd, #8c564b, #e377c2, #7f7f7f, #bcbd22, #17becf);
 * from the 11th series on the colours repeat with dashed or dotted lines. */
typedef struct eta_plot_series {
    const double *x, *y;
    size_t n;
    const char *label;  /* legend text (UTF-8); NULL: "series <i+1>" */
    int axis;           /* 0: left y axis, 1: right y axis */
} eta_plot_series;

/* The chart. A zeroed struct (or a NULL pointer) is a valid default. Texts
 * are UTF-8 and may be NULL (not drawn); invalid bytes are drawn as U+FFFD.
 * A title too long for one line is drawn smaller or wrapped at spaces and
 * commas (at most three lines). */
typedef struct eta_plot_config {
    const char *title, *xlabel, *ylabel, *y2label;
    bool log_y;          /* logarithmic left y axis (the right one is always linear) */
    bool log_x;          /* logarithmic x axis */
    int width, height;   /* pixels (SVG: px units); 0: 800 x 500; each in [200, 8192] */
} eta_plot_config;

/* Draws the series into `path`, a PNG or an SVG file chosen by the file
 * name's extension (".png" or ".svg", any case). nseries may be 0 (empty
 * axes). The right y axis is drawn when some series has axis == 1; a legend
 * when there are two series or more. Axes with no drawable point get a
 * default range. Errors (message in err, which may be NULL):
 *   ETA_EINVAL  NULL path or series, another extension, a size out of range,
 *               a series with n > 0 and y == NULL, axis not 0 or 1
 *   ETA_EIO     the file cannot be written ("PATH: No such file or directory");
 *               a partly written file is removed
 *   ETA_ENOMEM  memory ran out (in eta or in cairo) */
int eta_plot_lines(const char *path, const eta_plot_config *cfg, const eta_plot_series *series,
                   int nseries, eta_err *err);

/* How a series is drawn in a panel (eta_plot_panels). A zeroed struct draws
 * it as eta_plot_lines does. */
typedef struct eta_plot_style {
    int color;       /* 0: the series' own colour (by its index); k >= 1: colour k-1 of
                        the palette, so that the curves of one run share a colour */
    bool faint;      /* thin and light: raw values behind their smoothed curve */
    bool markers;    /* a dot at every drawn point too (sparse measurements) */
    bool dashed;     /* a dashed line (another measurement of the same run) */
    bool no_legend;  /* left out of the legend (a legend needs two entries) */
} eta_plot_style;

/* One chart of a figure. cfg->width is the figure's width (the widest
 * panel's counts; 0: 800), cfg->height the panel's height (0: 500). */
typedef struct eta_plot_panel {
    eta_plot_config cfg;
    const eta_plot_series *series;
    const eta_plot_style *styles;  /* NULL, or one per series */
    int nseries;
} eta_plot_panel;

/* Draws npanels (>= 1) charts stacked from top to bottom in one PNG or SVG
 * file, their plot areas aligned left and right so that panels over the
 * same x axis line up (learning rate over momentum, say). The arguments and
 * errors are eta_plot_lines', per panel; the figure's height, the sum of
 * the panels', must be at most 8192. */
int eta_plot_panels(const char *path, const eta_plot_panel *panels, int npanels, eta_err *err);

/* Whether eta_plot_lines could write `path`, checked before the work that
 * makes the data, so a bad --plot is reported first rather than after the
 * run: the extension (ETA_EINVAL, with eta_plot_lines' message) and that the
 * file can be opened for writing (ETA_EIO, "PATH: Permission denied"). A file
 * that did not exist is created and removed again; an existing one is opened
 * without being truncated. NULL path: ETA_EINVAL. */
int eta_plot_check_path(const char *path, eta_err *err);

#ifdef __cplusplus
}
#endif
#endif
