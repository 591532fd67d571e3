/* chart.c - lays out and draws a line chart with cairo.
 *
 * Layout works outwards from the text: the title's height and the tick
 * labels' widths decide the margins, the margins the plot area, and the
 * plot area how many ticks fit (labels never overlap: fewer ticks, then
 * every other label). Tick labels of the x axis may hang over the plot's
 * ends, so the margins are refined until they hold them. The legend goes in
 * the spot of the plot area (of 81, corners and edges preferred) that hides
 * the fewest curve pixels, counted on a coarse occupancy grid.
 * The look follows matplotlib's defaults: Tableau 10 colours, light grid,
 * outward ticks, sans-serif text. Argument checks and files are in lines.c.
 */
#include "plot/plot_impl.h"

#include "eta/core.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double palette[10][3] = {
    {0x1f / 255.0, 0x77 / 255.0, 0xb4 / 255.0}, {0xff / 255.0, 0x7f / 255.0, 0x0e / 255.0},
    {0x2c / 255.0, 0xa0 / 255.0, 0x2c / 255.0}, {0xd6 / 255.0, 0x27 / 255.0, 0x28 / 255.0},
    {0x94 / 255.0, 0x67 / 255.0, 0xbd / 255.0}, {0x8c / 255.0, 0x56 / 255.0, 0x4b / 255.0},
    {0xe3 / 255.0, 0x77 / 255.0, 0xc2 / 255.0}, {0x7f / 255.0, 0x7f / 255.0, 0x7f / 255.0},
    {0xbc / 255.0, 0xbd / 255.0, 0x22 / 255.0}, {0x17 / 255.0, 0xbe / 255.0, 0xcf / 255.0},
};

#define PI 3.14159265358979323846
#define TEXT_GREY 0.15
#define FRAME_GREY 0.25
#define GRID_GREY 0.87
#define MINOR_GREY 0.95

/* Point i of s, if it can be drawn: finite, and positive on a log axis. */
static bool point(const plot_chart *c, const eta_plot_series *s, size_t i, double *x, double *y)
{
    *x = s->x ? s->x[i] : (double)i;
    *y = s->y[i];
    if (!isfinite(*x) || !isfinite(*y))
        return false;
    if (c->log_x && !(*x > 0))
        return false;
    return !(s->axis == 0 && c->log_y && !(*y > 0));
}

static const plot_axis *yaxis(const plot_chart *c, const eta_plot_series *s)
{
    return s->axis == 1 ? &c->ay2 : &c->ay;
}

static double px(const plot_chart *c, double u)
{
    return c->x0 + eta_plot_axis_frac_(&c->ax, u) * (c->x1 - c->x0);
}

static double py(const plot_chart *c, const plot_axis *a, double u)
{
    return c->y1 - eta_plot_axis_frac_(a, u) * (c->y1 - c->y0);
}

/* Pixel position of point (x, y) of s. */
static void to_px(const plot_chart *c, const eta_plot_series *s, double x, double y, double *X,
                  double *Y)
{
    *X = px(c, eta_plot_axis_unit_(&c->ax, x));
    *Y = py(c, yaxis(c, s), eta_plot_axis_unit_(yaxis(c, s), y));
}

static void fit_axes(plot_chart *c)
{
    double xmin = INFINITY, xmax = -INFINITY, ymin[2] = {INFINITY, INFINITY},
           ymax[2] = {-INFINITY, -INFINITY};
    for (int k = 0; k < c->nseries; k++) {
        const eta_plot_series *s = &c->series[k];
        for (size_t i = 0; i < s->n; i++) {
            double x, y;
            if (!point(c, s, i, &x, &y))
                continue;
            xmin = fmin(xmin, x);
            xmax = fmax(xmax, x);
            ymin[s->axis] = fmin(ymin[s->axis], y);
            ymax[s->axis] = fmax(ymax[s->axis], y);
        }
        c->dual = c->dual || s->axis == 1;
    }
    eta_plot_axis_fit_(&c->ax, c->log_x, xmin, xmax, 0);
    eta_plot_axis_fit_(&c->ay, c->log_y, ymin[0], ymax[0], 0.04);
    eta_plot_axis_fit_(&c->ay2, false, ymin[1], ymax[1], 0.04);
}

/* ---- ticks and layout ------------------------------------------------- */

/* Whether labelled ticks of `a` collide along an axis `len` pixels long. */
static bool collide(plot_chart *c, const plot_axis *a, double len, bool horizontal,
                    const plot_ticks *t)
{
    double prev_end = -INFINITY;
    for (int i = 0; i < t->n; i++) {
        const plot_tick *k = &t->t[i];
        if (!k->major || !k->text[0])
            continue;
        double p = eta_plot_axis_frac_(a, k->u) * len;
        double ext = horizontal ? eta_plot_label_width_(c->cr, k, c->fs)
                                : (c->asc + c->desc) * (k->sup[0] ? 1.3 : 1.0);
        if (p - ext / 2 < prev_end)
            return true;
        prev_end = p + ext / 2 + (horizontal ? 1.2 : 0.4) * c->fs;
    }
    return false;
}

/* Ticks for an axis `len` pixels long, about one per `spacing` pixels,
 * fewer while their labels collide, then only every keep-th labelled. */
static void pick_ticks(plot_chart *c, const plot_axis *a, double len, double spacing,
                       bool horizontal, plot_ticks *t)
{
    double target = fmax(2, len / spacing);
    for (;;) {
        eta_plot_ticks_(a, target, t);
        if (!collide(c, a, len, horizontal, t))
            return;
        if (target <= 2)
            break;
        target = fmax(2, target * 0.8);
    }
    for (int keep = 2; collide(c, a, len, horizontal, t) && keep <= t->n; keep++) {
        eta_plot_ticks_(a, 2, t);
        for (int i = 0, j = 0; i < t->n; i++)
            if (t->t[i].major && t->t[i].text[0] && j++ % keep)
                t->t[i].text[0] = t->t[i].sup[0] = '\0';
    }
}

static double max_label_width(plot_chart *c, const plot_ticks *t)
{
    double w = 0;
    for (int i = 0; i < t->n; i++)
        if (t->t[i].major)
            w = fmax(w, eta_plot_label_width_(c->cr, &t->t[i], c->fs));
    return w;
}

static int layout(plot_chart *c)
{
    cairo_t *cr = c->cr;
    c->s = c->scale > 0 ? c->scale : fmin(4, fmax(0.72, sqrt((double)c->w * c->h / (800.0 * 500.0))));
    c->fs = 12.5 * c->s;
    c->lfs = 13.5 * c->s;
    c->tfs = 15.5 * c->s;
    c->pad = 0.8 * c->fs;
    c->ticklen = 0.4 * c->fs;
    c->tgap = 0.3 * c->fs;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_font_extents_t fe;
    cairo_set_font_size(cr, c->fs);
    cairo_font_extents(cr, &fe);
    c->asc = fe.ascent;
    c->desc = fe.descent;
    double lh = c->asc + c->desc;

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    if (eta_plot_title_layout_(cr, c->title, c->tfs, c->w - 2 * c->pad, &c->title_layout))
        return ETA_ENOMEM;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    const plot_title *tl = &c->title_layout;
    double top = c->pad + (tl->nlines ? tl->nlines * tl->size * 1.25 + 0.5 * c->fs : 0) + 0.5 * lh;
    double bottom = c->pad + (c->xlabel ? 1.3 * c->lfs : 0) + lh + c->tgap + c->ticklen;
    c->y0 = round(top);
    c->y1 = round(fmax(c->y0 + 10, c->h - bottom));
    double ph = c->y1 - c->y0;
    pick_ticks(c, &c->ay, ph, 4.2 * c->fs, false, &c->ty);
    if (c->dual)
        pick_ticks(c, &c->ay2, ph, 4.2 * c->fs, false, &c->ty2);

    double ylab = 1.25 * c->lfs + 0.3 * c->fs;
    double left = c->pad + (c->ylabel ? ylab : 0) + max_label_width(c, &c->ty) + c->tgap + c->ticklen;
    double right = c->dual ? c->pad + (c->y2label ? ylab : 0) + max_label_width(c, &c->ty2) +
                                 c->tgap + c->ticklen
                           : 1.5 * c->fs;
    left = fmax(left, c->min_left);
    right = fmax(right, c->min_right);
    /* x tick labels centred on the plot's ends may hang over it. */
    for (int iter = 0; iter < 4; iter++) {
        c->x0 = round(left);
        c->x1 = round(fmax(c->x0 + 10, c->w - right));
        pick_ticks(c, &c->ax, c->x1 - c->x0, 7.5 * c->fs, true, &c->tx);
        double over_l = 0, over_r = 0;
        for (int i = 0; i < c->tx.n; i++) {
            const plot_tick *k = &c->tx.t[i];
            if (!k->major || !k->text[0])
                continue;
            double p = px(c, k->u), hw = eta_plot_label_width_(cr, k, c->fs) / 2;
            over_l = fmax(over_l, c->pad - (p - hw));
            over_r = fmax(over_r, p + hw - (c->w - c->pad));
        }
        if (over_l < 0.5 && over_r < 0.5)
            break;
        left += over_l;
        right += over_r;
    }
    return ETA_OK;
}

/* ---- drawing ---------------------------------------------------------- */

static void set_grey(cairo_t *cr, double g)
{
    cairo_set_source_rgb(cr, g, g, g);
}

/* A 1-pixel-wide line (scaled) lands on whole pixels. */
static double thin_width(const plot_chart *c)
{
    return fmax(1, round(c->s));
}

static double snap(const plot_chart *c, double v)
{
    return ((int)thin_width(c) % 2) ? floor(v) + 0.5 : round(v);
}

static void grid(plot_chart *c)
{
    cairo_t *cr = c->cr;
    cairo_set_line_width(cr, thin_width(c));
    for (int pass = 0; pass < 2; pass++) {
        bool major = pass == 1;
        set_grey(cr, major ? GRID_GREY : MINOR_GREY);
        for (int i = 0; i < c->tx.n; i++) {
            if (c->tx.t[i].major != major)
                continue;
            double x = snap(c, px(c, c->tx.t[i].u));
            cairo_move_to(cr, x, c->y0);
            cairo_line_to(cr, x, c->y1);
        }
        for (int i = 0; i < c->ty.n; i++) {
            if (c->ty.t[i].major != major)
                continue;
            double y = snap(c, py(c, &c->ay, c->ty.t[i].u));
            cairo_move_to(cr, c->x0, y);
            cairo_line_to(cr, c->x1, y);
        }
        cairo_stroke(cr);
    }
}

static const eta_plot_style no_style;

static const eta_plot_style *style_of(const plot_chart *c, int k)
{
    return c->styles ? &c->styles[k] : &no_style;
}

/* The palette index of series k: its own, or the one its style names. */
static int colour_of(const plot_chart *c, int k)
{
    int col = style_of(c, k)->color;
    return col > 0 ? col - 1 : k;
}

static void series_style(const plot_chart *c, int series)
{
    cairo_t *cr = c->cr;
    int k = colour_of(c, series);
    const double *rgb = palette[k % 10];
    if (style_of(c, series)->faint) {
        /* 30% of the colour over white, thin: raw values behind their smoothed curve. */
        cairo_set_source_rgb(cr, 0.7 + 0.3 * rgb[0], 0.7 + 0.3 * rgb[1], 0.7 + 0.3 * rgb[2]);
        cairo_set_line_width(cr, 1.0 * c->s);
    } else {
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 1.8 * c->s);
    }
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    double u = 1.8 * c->s;
    double dashes[3][4] = {{6 * u, 3 * u}, {0.1, 2.5 * u}, {6 * u, 2.5 * u, 0.1, 2.5 * u}};
    int style = style_of(c, series)->dashed ? 1 : (k / 10) % 4;
    if (style == 0)
        cairo_set_dash(cr, NULL, 0, 0);
    else
        cairo_set_dash(cr, dashes[style - 1], style == 3 ? 4 : 2, 0);
}

/* Calls fn on every segment (a, b) of series k in pixels, a == b for a point
 * with no drawable neighbour. Points closer than half a pixel to the last
 * one kept are dropped (the run's last point never is). */
static void segments(const plot_chart *c, int k,
                     void (*fn)(void *ud, double ax, double ay, double bx, double by), void *ud)
{
    const eta_plot_series *s = &c->series[k];
    double lx = 0, ly = 0, qx = 0, qy = 0, x, y;
    size_t run = 0;
    bool pending = false;
    for (size_t i = 0; i <= s->n; i++) {
        if (i < s->n && point(c, s, i, &x, &y)) {
            double X, Y;
            to_px(c, s, x, y, &X, &Y);
            if (run > 0 && fabs(X - lx) < 0.5 && fabs(Y - ly) < 0.5) {
                pending = true;
                qx = X;
                qy = Y;
            } else {
                if (run > 0)
                    fn(ud, lx, ly, X, Y);
                lx = X;
                ly = Y;
                pending = false;
            }
            run++;
            continue;
        }
        if (pending)
            fn(ud, lx, ly, qx, qy);
        else if (run == 1)
            fn(ud, lx, ly, lx, ly);
        run = 0;
        pending = false;
    }
}

typedef struct path_state {
    cairo_t *cr;
    double lx, ly, r;
    bool open;
} path_state;

static void path_segment(void *ud, double ax, double ay, double bx, double by)
{
    path_state *p = ud;
    if (ax == bx && ay == by) {
        cairo_new_sub_path(p->cr);
        cairo_arc(p->cr, ax, ay, p->r, 0, 2 * PI);
        cairo_close_path(p->cr);
        p->open = false;
        return;
    }
    if (!p->open || p->lx != ax || p->ly != ay)
        cairo_move_to(p->cr, ax, ay);
    cairo_line_to(p->cr, bx, by);
    p->lx = bx;
    p->ly = by;
    p->open = true;
}

/* A filled dot at every drawable point of series k (in its colour, set). */
static void markers(plot_chart *c, int k)
{
    const eta_plot_series *s = &c->series[k];
    double r = 3.2 * c->s, x, y, X, Y;
    cairo_set_dash(c->cr, NULL, 0, 0);
    for (size_t i = 0; i < s->n; i++)
        if (point(c, s, i, &x, &y)) {
            to_px(c, s, x, y, &X, &Y);
            cairo_new_sub_path(c->cr);
            cairo_arc(c->cr, X, Y, r, 0, 2 * PI);
        }
    cairo_fill(c->cr);
}

static void curves(plot_chart *c)
{
    cairo_t *cr = c->cr;
    cairo_save(cr);
    double m = 1.5 * c->s;
    cairo_rectangle(cr, c->x0 - m, c->y0 - m, c->x1 - c->x0 + 2 * m, c->y1 - c->y0 + 2 * m);
    cairo_clip(cr);
    for (int k = 0; k < c->nseries; k++) {
        series_style(c, k);
        path_state p = {cr, 0, 0, 0.9 * c->s, false}; /* stroked: a dot of radius 1.8 s */
        segments(c, k, path_segment, &p);
        cairo_stroke(cr);
        if (style_of(c, k)->markers)
            markers(c, k);
    }
    cairo_restore(cr);
}

/* Text centred on (x, y) along direction `angle` (0 or -pi/2), with its
 * baseline at y (angle 0) or x (rotated). */
static void text_at(cairo_t *cr, const char *s, double size, double x, double y, double angle)
{
    double w = eta_plot_text_width_(cr, s, size);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -w / 2, 0);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

/* An axis label: shrunk (down to 70%) and cut to fit `len`. */
static void axis_label(plot_chart *c, const char *s, double x, double y, double angle, double len)
{
    double size = c->lfs, w = eta_plot_text_width_(c->cr, s, size);
    if (w > len)
        size *= fmax(0.7, len / w);
    char *fit = eta_plot_text_fit_(c->cr, s, size, len);
    if (fit)
        text_at(c->cr, fit, size, x, y, angle);
    free(fit);
}

/* The colour of the only series on `axis`, for its label when there are two axes. */
static void axis_colour(plot_chart *c, int axis)
{
    int only = -1, count = 0;
    for (int k = 0; k < c->nseries; k++)
        if (c->series[k].axis == axis) {
            only = k;
            count++;
        }
    if (c->dual && count == 1) {
        int k = colour_of(c, only) % 10;
        cairo_set_source_rgb(c->cr, palette[k][0], palette[k][1], palette[k][2]);
    }
    else
        set_grey(c->cr, TEXT_GREY);
}

static void axes(plot_chart *c)
{
    cairo_t *cr = c->cr;
    double tw = thin_width(c);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
    cairo_set_line_width(cr, tw);
    set_grey(cr, FRAME_GREY);
    double L = snap(c, c->x0), R = snap(c, c->x1), T = snap(c, c->y0), B = snap(c, c->y1);
    cairo_rectangle(cr, L, T, R - L, B - T);
    cairo_stroke(cr);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    for (int i = 0; i < c->tx.n; i++) {
        double x = snap(c, px(c, c->tx.t[i].u)), len = c->ticklen * (c->tx.t[i].major ? 1 : 0.55);
        cairo_move_to(cr, x, B);
        cairo_line_to(cr, x, B + len);
    }
    for (int side = 0; side < (c->dual ? 2 : 1); side++) {
        const plot_ticks *t = side ? &c->ty2 : &c->ty;
        const plot_axis *a = side ? &c->ay2 : &c->ay;
        for (int i = 0; i < t->n; i++) {
            double y = snap(c, py(c, a, t->t[i].u)), len = c->ticklen * (t->t[i].major ? 1 : 0.55);
            cairo_move_to(cr, side ? R : L, y);
            cairo_line_to(cr, side ? R + len : L - len, y);
        }
    }
    cairo_stroke(cr);

    /* Tick labels. */
    set_grey(cr, TEXT_GREY);
    double base_x = c->y1 + c->ticklen + c->tgap + c->asc;
    for (int i = 0; i < c->tx.n; i++) {
        const plot_tick *k = &c->tx.t[i];
        if (k->major && k->text[0])
            eta_plot_label_draw_(cr, k, c->fs, px(c, k->u) - eta_plot_label_width_(cr, k, c->fs) / 2,
                                 base_x);
    }
    for (int side = 0; side < (c->dual ? 2 : 1); side++) {
        const plot_ticks *t = side ? &c->ty2 : &c->ty;
        const plot_axis *a = side ? &c->ay2 : &c->ay;
        for (int i = 0; i < t->n; i++) {
            const plot_tick *k = &t->t[i];
            if (!k->major || !k->text[0])
                continue;
            double w = eta_plot_label_width_(cr, k, c->fs);
            double x = side ? c->x1 + c->ticklen + c->tgap : c->x0 - c->ticklen - c->tgap - w;
            double y = py(c, a, k->u) + (c->asc - c->desc) / 2;
            eta_plot_label_draw_(cr, k, c->fs, x, y);
        }
    }

    /* Axis labels. */
    cairo_font_extents_t fe;
    cairo_set_font_size(cr, c->lfs);
    cairo_font_extents(cr, &fe);
    double pw = c->x1 - c->x0, ph = c->y1 - c->y0;
    if (c->xlabel) {
        set_grey(cr, TEXT_GREY);
        axis_label(c, c->xlabel, (c->x0 + c->x1) / 2, c->h - c->pad - fe.descent, 0, pw);
    }
    if (c->ylabel) {
        axis_colour(c, 0);
        axis_label(c, c->ylabel, c->pad + fe.ascent, (c->y0 + c->y1) / 2, -PI / 2, ph);
    }
    if (c->dual && c->y2label) {
        axis_colour(c, 1);
        axis_label(c, c->y2label, c->w - c->pad - fe.descent, (c->y0 + c->y1) / 2, -PI / 2, ph);
    }
}

static void title(plot_chart *c)
{
    const plot_title *t = &c->title_layout;
    if (!t->nlines)
        return;
    cairo_t *cr = c->cr;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_font_extents_t fe;
    cairo_set_font_size(cr, t->size);
    cairo_font_extents(cr, &fe);
    set_grey(cr, 0.1);
    for (int i = 0; i < t->nlines; i++) {
        /* Centred over the plot area, as far as the image allows. */
        double hw = eta_plot_text_width_(cr, t->line[i], t->size) / 2;
        double x = fmax(c->pad + hw, fmin(c->w - c->pad - hw, (c->x0 + c->x1) / 2));
        text_at(cr, t->line[i], t->size, x, c->pad + fe.ascent + i * t->size * 1.25, 0);
    }
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
}

/* ---- legend ----------------------------------------------------------- */

/* Which cells of the plot area (cell x cell pixels) the curves cross. */
typedef struct occupancy {
    const plot_chart *c;
    unsigned char *cells;
    int gw, gh;
    double cell;
} occupancy;

static void occupy(void *ud, double ax, double ay, double bx, double by)
{
    occupancy *o = ud;
    double len = hypot(bx - ax, by - ay);
    int steps = (int)fmin(1e6, ceil(len / (o->cell * 0.5)));
    for (int i = 0; i <= steps; i++) {
        double t = steps ? (double)i / steps : 0;
        int gx = (int)floor((ax + t * (bx - ax) - o->c->x0) / o->cell);
        int gy = (int)floor((ay + t * (by - ay) - o->c->y0) / o->cell);
        if (gx >= 0 && gy >= 0 && gx < o->gw && gy < o->gh)
            o->cells[(size_t)gy * o->gw + gx] = 1;
    }
}

static double occupied(const occupancy *o, double x, double y, double w, double h)
{
    int gx0 = (int)floor((x - o->c->x0) / o->cell), gx1 = (int)ceil((x + w - o->c->x0) / o->cell);
    int gy0 = (int)floor((y - o->c->y0) / o->cell), gy1 = (int)ceil((y + h - o->c->y0) / o->cell);
    double n = 0;
    for (int gy = gy0 < 0 ? 0 : gy0; gy < gy1 && gy < o->gh; gy++)
        for (int gx = gx0 < 0 ? 0 : gx0; gx < gx1 && gx < o->gw; gx++)
            n += o->cells[(size_t)gy * o->gw + gx];
    return n;
}

static int legend_entries(plot_chart *c, const int *entry, int nent);

static int legend(plot_chart *c)
{
    int nent = 0; /* the series with a legend entry */
    for (int k = 0; k < c->nseries; k++)
        nent += !style_of(c, k)->no_legend;
    if (nent < 2)
        return ETA_OK;
    int *entry = malloc((size_t)nent * sizeof *entry);
    if (!entry)
        return ETA_ENOMEM;
    for (int k = 0, i = 0; k < c->nseries; k++)
        if (!style_of(c, k)->no_legend)
            entry[i++] = k;
    int rc = legend_entries(c, entry, nent);
    free(entry);
    return rc;
}

static int legend_entries(plot_chart *c, const int *entry, int nent)
{
    cairo_t *cr = c->cr;
    double fs = c->fs, lh = c->asc + c->desc, row = 1.3 * lh, inpad = 0.6 * fs;
    double sample = 2.2 * fs, gap = 0.6 * fs;
    double pw = c->x1 - c->x0, ph = c->y1 - c->y0;
    int rows_fit = (int)floor((ph - 2 * inpad - lh) / row) + 1;
    if (rows_fit < 2)
        return ETA_OK;
    int nshow = nent, more = 0;
    if (nshow > rows_fit) {
        nshow = rows_fit - 1;
        more = nent - nshow;
    }
    int nrows = nshow + (more > 0);
    char **texts = calloc((size_t)nrows, sizeof *texts);
    if (!texts)
        return ETA_ENOMEM;
    int rc = ETA_OK;
    double maxw = fmax(4 * fs, 0.45 * pw - sample - gap - 2 * inpad), textw = 0;
    for (int i = 0; i < nrows && rc == ETA_OK; i++) {
        char buf[64];
        if (i == nshow)
            snprintf(buf, sizeof buf, "\xe2\x80\xa6 %d more", more);
        texts[i] = eta_plot_text_fit_(cr, i < nshow ? c->labels[entry[i]] : buf, fs, maxw);
        if (!texts[i])
            rc = ETA_ENOMEM;
        else
            textw = fmax(textw, eta_plot_text_width_(cr, texts[i], fs));
    }
    double bw = 2 * inpad + sample + gap + textw, bh = 2 * inpad + (nrows - 1) * row + lh;

    /* The spot hiding the fewest curve cells; ties go to the earlier spot. */
    occupancy o = {c, NULL, 0, 0, fmax(2, fmax(pw, ph) / 160)};
    o.gw = (int)ceil(pw / o.cell) + 1;
    o.gh = (int)ceil(ph / o.cell) + 1;
    if (rc == ETA_OK && !(o.cells = calloc((size_t)o.gw * o.gh, 1)))
        rc = ETA_ENOMEM;
    double bx = c->x1 - bw, by = c->y0;
    if (rc == ETA_OK) {
        for (int k = 0; k < c->nseries; k++)
            segments(c, k, occupy, &o);
        /* A 9 x 9 grid of spots; among equals, the nearest an edge (corners first). */
        double m = 0.6 * fs, best = INFINITY;
        double fx = c->x1 - c->x0 - 2 * m - bw, fy = c->y1 - c->y0 - 2 * m - bh;
        for (int j = 0; j <= 8; j++)
            for (int i = 0; i <= 8; i++) {
                double x = c->x1 - m - bw - fmax(0, fx) * i / 8, y = c->y0 + m + fmax(0, fy) * j / 8;
                double ex = fmin(i, 8 - i) / 4.0, ey = fmin(j, 8 - j) / 4.0;
                double n = occupied(&o, x, y, bw, bh) + 0.1 * (ex + ey) + 0.01 * (ex > 0 && ey > 0);
                if (n < best) {
                    best = n;
                    bx = x;
                    by = y;
                }
            }
    }
    if (rc == ETA_OK) {
        cairo_rectangle(cr, snap(c, bx), snap(c, by), round(bw), round(bh));
        cairo_set_source_rgba(cr, 1, 1, 1, 0.88);
        cairo_fill_preserve(cr);
        cairo_set_line_width(cr, thin_width(c));
        set_grey(cr, 0.8);
        cairo_stroke(cr);
        for (int i = 0; i < nrows; i++) {
            double cy = by + inpad + i * row + lh / 2;
            if (i < nshow) {
                series_style(c, entry[i]);
                cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
                cairo_move_to(cr, bx + inpad, cy);
                cairo_line_to(cr, bx + inpad + sample, cy);
                cairo_stroke(cr);
                if (style_of(c, entry[i])->markers) {
                    cairo_arc(cr, bx + inpad + sample / 2, cy, 3.2 * c->s, 0, 2 * PI);
                    cairo_fill(cr);
                }
            }
            set_grey(cr, TEXT_GREY);
            cairo_move_to(cr, bx + inpad + sample + gap, cy + (c->asc - c->desc) / 2);
            cairo_set_font_size(cr, fs);
            cairo_show_text(cr, texts[i]);
        }
    }
    free(o.cells);
    for (int i = 0; i < nrows; i++)
        free(texts[i]);
    free(texts);
    return rc;
}

int eta_plot_chart_margins_(plot_chart *c, double *left, double *right)
{
    fit_axes(c);
    int rc = layout(c);
    *left = c->x0;
    *right = c->w - c->x1;
    eta_plot_title_free_(&c->title_layout);
    return rc;
}

int eta_plot_chart_draw_(plot_chart *c)
{
    cairo_t *cr = c->cr;
    fit_axes(c);
    int rc = layout(c);
    if (rc == ETA_OK) {
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        grid(c);
        curves(c);
        axes(c);
        title(c);
        rc = legend(c);
    }
    eta_plot_title_free_(&c->title_layout);
    return rc;
}
