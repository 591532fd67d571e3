/* plot/plot_impl.h - internal: axis scaling and ticks (axis.c, pure
 * arithmetic, no cairo), text helpers (text.c) and the chart being drawn
 * (chart.c draws it, lines.c checks the arguments and writes the file). */
#ifndef ETA_PLOT_IMPL_H
#define ETA_PLOT_IMPL_H

#include "eta/plot.h"

#include <cairo.h>
#include <stdbool.h>
#include <stddef.h>

/* One axis. Positions along it are in "axis units" u: the value itself on a
 * linear axis, log10(value) on a log one. [lo, hi] is the visible range in
 * axis units, lo < hi, both finite. */
typedef struct plot_axis {
    bool log;
    double lo, hi;
    double mid, half;  /* lo/2 + hi/2 and hi/2 - lo/2: a mapping that cannot overflow */
} plot_axis;

/* A tick at axis units u. Major ticks carry a label: `text`, followed by
 * `sup` drawn as a superscript when not empty ("10" "-3" for 10^-3). Minor
 * ticks (log axes only) have empty texts. */
typedef struct plot_tick {
    double u;      /* position in axis units */
    double v;      /* value */
    bool major;
    char text[40];
    char sup[16];
} plot_tick;

enum { PLOT_MAX_TICKS = 200 };

typedef struct plot_ticks {
    int n;
    plot_tick t[PLOT_MAX_TICKS];
} plot_ticks;

/* Fits `a` to data in [dmin, dmax] (values, not axis units; positive on a
 * log axis). dmin > dmax means no data: a default range. A range of width
 * zero (or nearly): on a log axis, a decade around its value; on a linear
 * one, from zero to the value (padded by at least 4%), or [-1, 1] for zero.
 * `pad` is the fraction of the span added at each end (0.04 keeps curves off
 * the frame). */
void eta_plot_axis_fit_(plot_axis *a, bool log, double dmin, double dmax, double pad);

/* The axis unit of a value (log10 on log axes). */
double eta_plot_axis_unit_(const plot_axis *a, double v);

/* 0 at lo, 1 at hi, for a position in axis units. */
double eta_plot_axis_frac_(const plot_axis *a, double u);

/* Ticks for about `target` (>= 2) labelled ticks, in increasing order:
 * steps of 1, 2 or 5 x 10^k on a linear axis, labelled alike ("0.001",
 * "1e-5", "20k"); decades on a log axis labelled 10^k, every d-th decade
 * when there are too many, with minor ticks at 2..9 x 10^k; a log axis
 * shorter than two decades gets 1-2-5 (or 1..9) ticks with plain labels. */
void eta_plot_ticks_(const plot_axis *a, double target, plot_ticks *out);

/* Text. All sizes are font sizes in pixels. */

/* A copy of `s` with invalid UTF-8 replaced by U+FFFD and control
 * characters by spaces; NULL for NULL (and on allocation failure: check). */
char *eta_plot_clean_text_(const char *s);

/* Width (advance) of `s` at `size`. */
double eta_plot_text_width_(cairo_t *cr, const char *s, double size);

/* Width of a tick label (with its superscript). */
double eta_plot_label_width_(cairo_t *cr, const plot_tick *t, double size);

/* Draws a tick label with its left edge at x and its baseline at y. */
void eta_plot_label_draw_(cairo_t *cr, const plot_tick *t, double size, double x, double y);

/* A malloc'd copy of `s` cut at a character boundary with "…" appended so
 * that it is at most `maxw` wide at `size` (s itself when it fits); NULL on
 * allocation failure. */
char *eta_plot_text_fit_(cairo_t *cr, const char *s, double size, double maxw);

/* A title broken into at most PLOT_TITLE_LINES lines. */
enum { PLOT_TITLE_LINES = 3 };
typedef struct plot_title {
    int nlines;
    double size;                      /* the font size chosen */
    char *line[PLOT_TITLE_LINES];     /* malloc'd */
} plot_title;

/* Lays `s` out in width `avail`: one line at `size` if it fits, else one line
 * a little smaller, else wrapped at spaces and commas into balanced lines,
 * shrinking down to 0.6 * size; what still does not fit is cut with "…".
 * Returns 0 or -1 on allocation failure. Free with eta_plot_title_free_. */
int eta_plot_title_layout_(cairo_t *cr, const char *s, double size, double avail, plot_title *out);
void eta_plot_title_free_(plot_title *t);

/* A line chart being drawn: the arguments (texts cleaned), then what
 * layout computes. Sizes are in pixels. */
typedef struct plot_chart {
    cairo_t *cr;
    const eta_plot_series *series;
    const eta_plot_style *styles;  /* NULL or one per series */
    int nseries;
    double min_left, min_right;    /* margins at least this wide (panels aligned) */
    double scale;                  /* > 0: the text and line scale (the figure's, for panels) */
    bool log_x, log_y;
    int w, h;
    char *title, *xlabel, *ylabel, *y2label;
    char **labels;                 /* nseries legend texts */
    /* layout */
    double s;                      /* scale: 1 at 800 x 500 */
    double fs, lfs, tfs;           /* font sizes: tick labels and legend, axis labels, title */
    double asc, desc;              /* font extents at fs */
    double pad, ticklen, tgap;
    bool dual;                     /* some series on the right axis */
    plot_axis ax, ay, ay2;
    plot_ticks tx, ty, ty2;
    plot_title title_layout;
    double x0, y0, x1, y1;         /* the plot area: left, top, right, bottom */
} plot_chart;

/* Lays out and draws the chart on c->cr (the arguments set, the rest zero).
 * Returns ETA_OK or ETA_ENOMEM; cairo's own errors stay on c->cr. Frees
 * what it allocates in c. */
int eta_plot_chart_draw_(plot_chart *c);

/* Lays the chart out without drawing: the margins its plot area needs on
 * the left and the right (for aligning stacked panels). ETA_OK or ETA_ENOMEM. */
int eta_plot_chart_margins_(plot_chart *c, double *left, double *right);

#endif
