/* text.c - text for charts: UTF-8 cleaning, measuring, tick labels with
 * superscripts, cutting with an ellipsis, and titles laid out in a width.
 *
 * Texts go through cairo's "toy" text API with the fontconfig sans-serif
 * face; cairo puts a context into an error state for invalid UTF-8, so every
 * caller-supplied string is cleaned first. Titles such as a schedule spec
 * are long: they shrink a little, then wrap at spaces and commas into lines
 * of balanced width (not greedy: two half lines look better than a full line
 * and a stub), and only as a last resort are cut.
 */
#include "plot/plot_impl.h"

#include <stdlib.h>
#include <string.h>

#define ELLIPSIS "\xe2\x80\xa6"     /* U+2026 */
#define REPLACEMENT "\xef\xbf\xbd"  /* U+FFFD */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    int n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? (c <= 0xEF ? 3 : 0) : c >= 0xC2 ? 2 : 0;
    if (n == 0)
        return 0;
    for (int i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if (n == 3 && ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0)))
        return 0; /* overlong, surrogate */
    if (n == 4 && ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90)))
        return 0; /* overlong, above U+10FFFF */
    return n;
}

char *eta_plot_clean_text_(const char *s)
{
    if (!s)
        return NULL;
    size_t len = strlen(s);
    char *out = malloc(3 * len + 1);
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p) {
        int n = utf8_len(p);
        if (n == 0) {
            memcpy(out + o, REPLACEMENT, 3);
            o += 3;
            p++;
        } else if (n == 1 && (*p < 0x20 || *p == 0x7F)) {
            out[o++] = ' ';
            p++;
        } else {
            memcpy(out + o, p, (size_t)n);
            o += (size_t)n;
            p += n;
        }
    }
    out[o] = '\0';
    return out;
}

double eta_plot_text_width_(cairo_t *cr, const char *s, double size)
{
    cairo_text_extents_t e;
    cairo_set_font_size(cr, size);
    cairo_text_extents(cr, s, &e);
    return e.x_advance;
}

/* Superscripts: 70% of the size, raised by 45% of it. */
double eta_plot_label_width_(cairo_t *cr, const plot_tick *t, double size)
{
    double w = eta_plot_text_width_(cr, t->text, size);
    if (t->sup[0])
        w += eta_plot_text_width_(cr, t->sup, size * 0.7);
    return w;
}

void eta_plot_label_draw_(cairo_t *cr, const plot_tick *t, double size, double x, double y)
{
    double w = eta_plot_text_width_(cr, t->text, size);
    cairo_move_to(cr, x, y);
    cairo_show_text(cr, t->text);
    if (t->sup[0]) {
        cairo_set_font_size(cr, size * 0.7);
        cairo_move_to(cr, x + w, y - size * 0.45);
        cairo_show_text(cr, t->sup);
    }
}

/* Width of s[0..n). `tmp` has room for n + 1 bytes. */
static double span_width(cairo_t *cr, const char *s, size_t n, double size, char *tmp)
{
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    return eta_plot_text_width_(cr, tmp, size);
}

static size_t char_start(const char *s, size_t i)
{
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* s[0..n) cut with an ellipsis to fit maxw, as a malloc'd string. */
static char *fit_span(cairo_t *cr, const char *s, size_t n, double size, double maxw)
{
    char *out = malloc(n + sizeof ELLIPSIS);
    if (!out)
        return NULL;
    if (span_width(cr, s, n, size, out) <= maxw)
        return out; /* span_width left s[0..n) in out */
    /* The longest prefix that fits with the ellipsis: binary search over
     * byte counts, each taken back to the start of its character. */
    size_t lo = 0, hi = n;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2, cut = char_start(s, mid);
        memcpy(out, s, cut);
        memcpy(out + cut, ELLIPSIS, sizeof ELLIPSIS);
        if (eta_plot_text_width_(cr, out, size) <= maxw)
            lo = mid;
        else
            hi = mid;
    }
    lo = char_start(s, lo);
    while (lo > 0 && s[lo - 1] == ' ')
        lo--;
    memcpy(out, s, lo);
    memcpy(out + lo, ELLIPSIS, sizeof ELLIPSIS);
    return out;
}

char *eta_plot_text_fit_(cairo_t *cr, const char *s, double size, double maxw)
{
    return fit_span(cr, s, strlen(s), size, maxw);
}

/* Greedy line breaking of s in width maxw: a line may end before a space
 * (the spaces are dropped) or after a comma. Fills start/end (maxlines
 * entries) and returns the number of lines, counting beyond maxlines;
 * *overflow is set when some line is wider than maxw (a word too long). */
static int wrap(cairo_t *cr, const char *s, double size, double maxw, size_t *start, size_t *end,
                int maxlines, bool *overflow, char *tmp)
{
    size_t len = strlen(s), pos = 0;
    int nlines = 0;
    *overflow = false;
    while (pos < len && s[pos] == ' ')
        pos++;
    while (pos < len) {
        size_t best_end = 0, best_next = 0;
        bool found = false;
        for (size_t e = pos + 1; e <= len; e++) {
            bool at_space = e < len && s[e] == ' ' && s[e - 1] != ' ';
            bool after_comma = e < len && s[e - 1] == ',' && s[e] != ' ';
            if (!(at_space || after_comma || e == len))
                continue;
            bool fits = span_width(cr, s + pos, e - pos, size, tmp) <= maxw;
            if (!fits && found)
                break;
            best_end = e;
            best_next = e;
            while (best_next < len && s[best_next] == ' ')
                best_next++;
            found = true;
            if (!fits) {
                *overflow = true;
                break;
            }
        }
        if (nlines < maxlines) {
            start[nlines] = pos;
            end[nlines] = best_end;
        }
        nlines++;
        pos = best_next;
    }
    return nlines;
}

void eta_plot_title_free_(plot_title *t)
{
    for (int i = 0; i < PLOT_TITLE_LINES; i++) {
        free(t->line[i]);
        t->line[i] = NULL;
    }
    t->nlines = 0;
}

int eta_plot_title_layout_(cairo_t *cr, const char *s, double size, double avail, plot_title *out)
{
    memset(out, 0, sizeof *out);
    out->size = size;
    if (!s || !*s)
        return 0;
    size_t len = strlen(s);
    char *tmp = malloc(len + 1);
    if (!tmp)
        return -1;
    size_t start[PLOT_TITLE_LINES], end[PLOT_TITLE_LINES];
    bool overflow;
    int n = 0;
    double w = span_width(cr, s, len, size, tmp);
    if (w * 0.85 <= avail) {
        /* One line, at most 15% smaller. */
        for (int i = 0; i < 20 && w > avail; i++) {
            out->size *= avail / w * 0.999;
            w = span_width(cr, s, len, out->size, tmp);
        }
        start[0] = 0;
        end[0] = len;
        n = 1;
    } else {
        double sz = size * 0.9;
        for (; sz >= size * 0.6; sz *= 0.93) {
            n = wrap(cr, s, sz, avail, start, end, PLOT_TITLE_LINES, &overflow, tmp);
            if (n <= PLOT_TITLE_LINES && !overflow)
                break;
        }
        if (n <= PLOT_TITLE_LINES && !overflow) {
            /* Balance: the narrowest width that still needs only n lines. */
            double lo = avail / n, hi = avail;
            for (int it = 0; it < 14; it++) {
                double mid = 0.5 * (lo + hi);
                int m = wrap(cr, s, sz, mid, start, end, PLOT_TITLE_LINES, &overflow, tmp);
                if (m <= n && !overflow)
                    hi = mid;
                else
                    lo = mid;
            }
            n = wrap(cr, s, sz, hi, start, end, PLOT_TITLE_LINES, &overflow, tmp);
            out->size = sz;
        } else {
            /* Too long even small: three lines, each cut to fit; the last
             * takes the rest of the text. */
            sz = size * 0.6;
            n = wrap(cr, s, sz, avail, start, end, PLOT_TITLE_LINES, &overflow, tmp);
            if (n > PLOT_TITLE_LINES) {
                n = PLOT_TITLE_LINES;
                end[n - 1] = len;
            }
            out->size = sz;
        }
    }
    free(tmp);
    for (int i = 0; i < n; i++) {
        out->line[i] = fit_span(cr, s + start[i], end[i] - start[i], out->size, avail);
        if (!out->line[i]) {
            eta_plot_title_free_(out);
            return -1;
        }
        out->nlines = i + 1;
    }
    return 0;
}
