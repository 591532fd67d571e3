/* tests/png_probe.h - finding the curves in a PNG that eta drew: pixels of
 * a series' colour (Tableau 10: #1f77b4 first, #ff7f0e second), counted in a
 * region with their extent. Used by the plot and command-line tests. */
#ifndef ETA_TEST_PNG_PROBE_H
#define ETA_TEST_PNG_PROBE_H

#include <cairo.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static const int BLUE[3] = {0x1f, 0x77, 0xb4}, ORANGE[3] = {0xff, 0x7f, 0x0e};

/* Pixels of `rgb` (within a small tolerance) in a region, with their extent. */
typedef struct hits {
    long n;
    int xmin, xmax, ymin, ymax;
} hits;

/* Whether pixel (x, y) is `rgb` drawn over white with a coverage of at
 * least 55% (antialiased line edges are blends): every channel must be
 * 255 - a (255 - rgb) for one common a. */
static inline bool pixel_is(cairo_surface_t *s, int x, int y, const int rgb[3])
{
    const unsigned char *d = cairo_image_surface_get_data(s);
    uint32_t p;
    memcpy(&p, d + (size_t)y * cairo_image_surface_get_stride(s) + 4 * (size_t)x, 4);
    int px[3] = {(int)(p >> 16) & 0xff, (int)(p >> 8) & 0xff, (int)p & 0xff};
    double num = 0, den = 0;
    for (int i = 0; i < 3; i++) {
        num += (255.0 - px[i]) * (255 - rgb[i]);
        den += (255.0 - rgb[i]) * (255 - rgb[i]);
    }
    double a = num / den; /* least squares */
    if (a < 0.55 || a > 1.1)
        return false;
    for (int i = 0; i < 3; i++)
        if (fabs(px[i] - (255 - a * (255 - rgb[i]))) > 20)
            return false;
    return true;
}

/* Counts pixels of `rgb` in the fraction [fx0, fx1] x [fy0, fy1] of the image. */
static inline hits count(cairo_surface_t *s, const int rgb[3], double fx0, double fy0, double fx1, double fy1)
{
    cairo_surface_flush(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    hits r = {0, w, -1, h, -1};
    for (int y = (int)(fy0 * h); y < (int)(fy1 * h); y++)
        for (int x = (int)(fx0 * w); x < (int)(fx1 * w); x++)
            if (pixel_is(s, x, y, rgb)) {
                r.n++;
                r.xmin = x < r.xmin ? x : r.xmin;
                r.xmax = x > r.xmax ? x : r.xmax;
                r.ymin = y < r.ymin ? y : r.ymin;
                r.ymax = y > r.ymax ? y : r.ymax;
            }
    return r;
}

#endif
