/* test_plot_panels.c - eta_plot_panels: stacked, aligned charts, and the series styles (colour, faint, markers, dashed, no legend). labels: unit full
 *
 * PNGs are read back with cairo and searched for the series' colours
 * (png_probe.h). Panels: the figure's size, each curve in its own band, and
 * the plot areas aligned although one panel's tick labels are much wider.
 * Styles: a colour taken from the palette by number, a faint line that has
 * no full-colour pixel, dots that make a flat line taller, dashes that
 * leave gaps, and a legend that disappears when one of two series has none.
 */
#include "harness.h"

#include "eta/plot.h"

#include <cairo.h>

#include "png_probe.h"

static char dir[] = "/tmp/eta_test_panels_XXXXXX";
static char path[600];

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static cairo_surface_t *draw(const eta_plot_panel *p, int n, int w, int h)
{
    snprintf(path, sizeof path, "%s/fig.png", dir);
    eta_err err;
    if (eta_plot_panels(path, p, n, &err))
        fail_msg("eta_plot_panels: %s", err.msg);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    assert_int_equal(cairo_image_surface_get_width(s), w);
    assert_int_equal(cairo_image_surface_get_height(s), h);
    return s;
}

static double xs[100], big[100], small_[100], flat[100];

static void fill(void)
{
    for (int i = 0; i < 100; i++) {
        xs[i] = i;
        big[i] = 123456.7 * (1 + sin(i / 10.0));
        small_[i] = 0.5 + 0.4 * cos(i / 7.0);
        flat[i] = 0.5;
    }
}

static void test_stacked(void **state)
{
    (void)state;
    fill();
    eta_plot_series a = {xs, big, 100, "big", 0}, b = {xs, small_, 100, "small", 0};
    eta_plot_style orange = {.color = 2};
    eta_plot_panel p[2] = {
        {.cfg = {.title = "two panels", .ylabel = "big", .height = 300}, .series = &a, .nseries = 1},
        {.cfg = {.xlabel = "x", .ylabel = "small", .height = 200}, .series = &b, .styles = &orange, .nseries = 1},
    };
    cairo_surface_t *s = draw(p, 2, 800, 500);
    hits top = count(s, BLUE, 0, 0, 1, 0.6), bottom = count(s, ORANGE, 0, 0.6, 1, 1);
    assert_true(top.n > 300 && bottom.n > 300);
    assert_int_equal(count(s, BLUE, 0, 0.6, 1, 1).n, 0);    /* each curve in its band */
    assert_int_equal(count(s, ORANGE, 0, 0, 1, 0.6).n, 0);  /* and the style's colour */
    assert_true(abs(top.xmin - bottom.xmin) <= 2 && abs(top.xmax - bottom.xmax) <= 2);
    cairo_surface_destroy(s);

    /* Without the alignment the small panel alone starts further left. */
    eta_plot_panel alone = p[1];
    alone.cfg.height = 500;
    s = draw(&alone, 1, 800, 500);
    hits one = count(s, ORANGE, 0, 0, 1, 1);
    assert_true(one.xmin < bottom.xmin - 10);
    cairo_surface_destroy(s);

    /* SVG too. */
    snprintf(path, sizeof path, "%s/fig.svg", dir);
    assert_int_equal(eta_plot_panels(path, p, 2, NULL), 0);
    char *svg = read_file(path, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    free(svg);
}

static void test_styles(void **state)
{
    (void)state;
    fill();
    /* Faint: light pixels only. */
    static const int FAINT_BLUE[3] = {0xa5, 0xc8, 0xe1};
    eta_plot_series a = {xs, small_, 100, "raw", 0};
    eta_plot_style st = {.faint = true};
    eta_plot_panel p = {.series = &a, .styles = &st, .nseries = 1};
    cairo_surface_t *s = draw(&p, 1, 800, 500);
    assert_int_equal(count(s, BLUE, 0, 0, 1, 1).n, 0);
    assert_true(count(s, FAINT_BLUE, 0, 0, 1, 1).n > 300);
    cairo_surface_destroy(s);

    /* A flat line: about 2 pixels tall; with markers, taller; dashed, fewer pixels. */
    eta_plot_series f = {xs, flat, 100, "flat", 0};
    p = (eta_plot_panel){.series = &f, .nseries = 1};
    s = draw(&p, 1, 800, 500);
    hits plain = count(s, BLUE, 0, 0, 1, 1);
    cairo_surface_destroy(s);
    eta_plot_style mk = {.markers = true};
    p.styles = &mk;
    s = draw(&p, 1, 800, 500);
    hits dots = count(s, BLUE, 0, 0, 1, 1);
    cairo_surface_destroy(s);
    eta_plot_style da = {.dashed = true};
    p.styles = &da;
    s = draw(&p, 1, 800, 500);
    hits dashes = count(s, BLUE, 0, 0, 1, 1);
    cairo_surface_destroy(s);
    assert_true(plain.ymax - plain.ymin <= 3);
    assert_true(dots.ymax - dots.ymin >= 5);
    assert_true(dots.n > plain.n);
    assert_true(dashes.n < 0.8 * plain.n && dashes.n > 0.4 * plain.n);

    /* Two series in the lower half: a legend (with a blue sample) in the top
     * half; with one left out of the legend, none. */
    double low1[100], low2[100];
    for (int i = 0; i < 100; i++) {
        low1[i] = 0.1;
        low2[i] = 0.2 + (i % 2) * 0.01;
    }
    low1[0] = 1; /* the axis reaches 1 (at the left edge, in blue): the orange curve stays low */
    eta_plot_series two[2] = {{xs, low1, 100, "one", 0}, {xs, low2, 100, "two", 0}};
    eta_plot_style both[2] = {{0}, {0}}, hidden[2] = {{0}, {.no_legend = true}};
    p = (eta_plot_panel){.series = two, .styles = both, .nseries = 2};
    s = draw(&p, 1, 800, 500);
    long with_legend = count(s, ORANGE, 0.1, 0.05, 0.98, 0.4).n;
    cairo_surface_destroy(s);
    p.styles = hidden;
    s = draw(&p, 1, 800, 500);
    long without = count(s, ORANGE, 0.1, 0.05, 0.98, 0.4).n;
    cairo_surface_destroy(s);
    assert_true(with_legend > 20);
    assert_int_equal(without, 0);
}

static void test_errors(void **state)
{
    (void)state;
    fill();
    eta_err err;
    snprintf(path, sizeof path, "%s/e.png", dir);
    eta_plot_series ok = {xs, flat, 100, "ok", 0}, bad = {xs, NULL, 3, "bad", 0};
    eta_plot_panel p[3] = {{.series = &ok, .nseries = 1}, {.series = &bad, .nseries = 1},
                           {.cfg = {.height = 8000}, .series = &ok, .nseries = 1}};
    assert_int_equal(eta_plot_panels(path, p, 0, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "at least one panel"));
    assert_int_equal(eta_plot_panels(path, p, 2, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "series 0 has 3 points but y is NULL"));
    p[1] = p[0];
    assert_int_equal(eta_plot_panels(path, p, 3, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "add up to 9000, more than 8192"));
    assert_int_equal(eta_plot_panels("/nonexistent/x.png", p, 1, &err), ETA_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stacked),
        cmocka_unit_test(test_styles),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
