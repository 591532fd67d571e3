/* test_plot_lines.c - eta_plot_lines end to end: files are read back and their pixels checked. labels: unit full
 *
 * PNGs are loaded with cairo and searched for the series' colours (Tableau
 * 10: #1f77b4 first, #ff7f0e second): the curve is there, spans the plot,
 * breaks at NaN, is straight on a log axis for an exponential, and a second
 * axis scales its own series. Degenerate data (NaN, one point, none,
 * constant, huge or negative ranges) must still give a file; bad arguments
 * and unwritable paths give ETA_EINVAL / ETA_EIO with the path in the
 * message.
 */
#include "harness.h"

#include "eta/plot.h"

#include <cairo.h>
#include <sys/stat.h>

#include "png_probe.h"


static char tmpdir[] = "/tmp/eta_test_plot_XXXXXX";

static const char *path_in(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", tmpdir, name);
    return p;
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Loads a PNG and checks its size. */
static cairo_surface_t *load_png(const char *path, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        fail_msg("%s: cannot read back: %s", path, cairo_status_to_string(cairo_surface_status(s)));
    assert_int_equal(cairo_image_surface_get_width(s), w);
    assert_int_equal(cairo_image_surface_get_height(s), h);
    return s;
}

/* The first and last rows holding at least `min` pixels of `rgb` (a curve,
 * not the short sample line of the legend); returns how many rows do. */
static int busy_rows(cairo_surface_t *s, const int rgb[3], int min, int *first, int *last)
{
    int h = cairo_image_surface_get_height(s), w = cairo_image_surface_get_width(s), n = 0;
    *first = h;
    *last = -1;
    for (int y = 0; y < h; y++) {
        int k = 0;
        for (int x = 0; x < w; x++)
            k += pixel_is(s, x, y, rgb);
        if (k < min)
            continue;
        n++;
        *first = y < *first ? y : *first;
        *last = y;
    }
    return n;
}

/* The inside of the plot area of a default layout, safely. */
static hits count_inner(cairo_surface_t *s, const int rgb[3])
{
    return count(s, rgb, 0.15, 0.15, 0.85, 0.85);
}

static void plot_ok(const char *path, const eta_plot_config *cfg, const eta_plot_series *s, int n)
{
    eta_err e;
    int rc = eta_plot_lines(path, cfg, s, n, &e);
    if (rc != ETA_OK)
        fail_msg("%s: %s (%d)", path, e.msg, rc);
    assert_int_equal(e.code, ETA_OK);
    assert_true(file_exists(path));
}

static void expect_error(int code, const char *path, const eta_plot_config *cfg,
                         const eta_plot_series *s, int n, const char *in_msg)
{
    eta_err e;
    int rc = eta_plot_lines(path, cfg, s, n, &e);
    if (rc != code)
        fail_msg("%s: expected %d, got %d (%s)", path ? path : "(null)", code, rc, e.msg);
    assert_int_equal(e.code, code);
    if (in_msg && !strstr(e.msg, in_msg))
        fail_msg("message <%s> does not contain <%s>", e.msg, in_msg);
    assert_int_equal(eta_plot_lines(path, cfg, s, n, NULL), code); /* err may be NULL */
}

static double xs[1000], ys[1000], ys2[1000];

/* A sine over 1000 steps, default and custom sizes. */
static void test_png_size_and_curve(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        xs[i] = i;
        ys[i] = sin(i * 0.01);
    }
    eta_plot_series s = {xs, ys, 1000, "sine", 0};
    eta_plot_config cfg = {"A sine", "step", "value", NULL, false, false, 0, 0};
    plot_ok(path_in("sine.png"), &cfg, &s, 1);
    cairo_surface_t *img = load_png(path_in("sine.png"), 800, 500);
    hits b = count_inner(img, BLUE);
    assert_true(b.n > 800);                  /* a 2-pixel line across ~560 columns */
    assert_true(b.xmax - b.xmin > 0.65 * 800); /* spans the inner region */
    assert_true(b.ymax - b.ymin > 0.5 * 500);
    cairo_surface_destroy(img);

    cfg.width = 640;
    cfg.height = 480;
    plot_ok(path_in("sine_640.png"), &cfg, &s, 1);
    img = load_png(path_in("sine_640.png"), 640, 480);
    assert_true(count_inner(img, BLUE).n > 500);
    cairo_surface_destroy(img);

    /* x == NULL: x is the index; the same picture. */
    s.x = NULL;
    cfg.width = cfg.height = 0;
    plot_ok(path_in("sine_nox.png"), &cfg, &s, 1);
    img = load_png(path_in("sine_nox.png"), 800, 500);
    hits b2 = count_inner(img, BLUE);
    assert_true(labs(b2.n - b.n) < b.n / 50);
    cairo_surface_destroy(img);
}

/* An exponential is a straight line on a log y axis. */
static void test_log_y(void **state)
{
    (void)state;
    for (int i = 0; i < 200; i++) {
        xs[i] = i;
        ys[i] = pow(10, -5.0 * i / 199);
    }
    eta_plot_series s = {xs, ys, 200, "decay", 0};
    eta_plot_config cfg = {"log y", "step", "lr", NULL, true, false, 0, 0};
    plot_ok(path_in("logy.png"), &cfg, &s, 1);
    cairo_surface_t *img = load_png(path_in("logy.png"), 800, 500);
    hits all = count(img, BLUE, 0, 0, 1, 1);
    assert_true(all.n > 500);
    assert_true(all.ymax - all.ymin > 0.6 * 500);
    /* At a quarter, half and three quarters across, the curve is a quarter,
     * half and three quarters down (linear axes would put it at the bottom). */
    for (int q = 1; q <= 3; q++) {
        int x = all.xmin + (all.xmax - all.xmin) * q / 4;
        hits col = count(img, BLUE, x / 800.0, 0, (x + 1) / 800.0, 1);
        double want = all.ymin + (all.ymax - all.ymin) * q / 4.0;
        if (col.n == 0 || fabs((col.ymin + col.ymax) / 2.0 - want) > 0.04 * 500)
            fail_msg("column %d: curve at %d..%d, want about %.0f", x, col.ymin, col.ymax, want);
    }
    cairo_surface_destroy(img);

    /* Zero and negative values are skipped on a log axis; log x as well. */
    ys[50] = 0;
    ys[51] = -1;
    xs[0] = 0;
    cfg.log_x = true;
    plot_ok(path_in("logxy.png"), &cfg, &s, 1);
    img = load_png(path_in("logxy.png"), 800, 500);
    assert_true(count_inner(img, BLUE).n > 300);
    cairo_surface_destroy(img);
}

/* A series on the right axis is scaled on its own. */
static void test_second_axis(void **state)
{
    (void)state;
    for (int i = 0; i < 500; i++) {
        xs[i] = i;
        ys[i] = i / 499.0;
        ys2[i] = 1000 + 500 * sin(i * 0.02);
    }
    eta_plot_series s[2] = {{xs, ys, 500, "lr", 0}, {xs, ys2, 500, "momentum", 1}};
    eta_plot_config cfg = {"two axes", "step", "lr", "momentum", false, false, 0, 0};
    plot_ok(path_in("dual.png"), &cfg, s, 2);
    cairo_surface_t *img = load_png(path_in("dual.png"), 800, 500);
    hits b = count(img, BLUE, 0.1, 0.1, 0.9, 0.9), o = count(img, ORANGE, 0.1, 0.1, 0.9, 0.9);
    assert_true(b.n > 500 && o.n > 500);
    assert_true(b.ymax - b.ymin > 0.5 * 500);
    assert_true(o.ymax - o.ymin > 0.5 * 500);
    cairo_surface_destroy(img);

    /* The same on one axis: the small series is flattened at the bottom. */
    s[1].axis = 0;
    plot_ok(path_in("single_axis.png"), &cfg, s, 2);
    img = load_png(path_in("single_axis.png"), 800, 500);
    int first, last;
    assert_true(busy_rows(img, BLUE, 100, &first, &last) >= 1);
    assert_true(last - first < 0.03 * 500);
    assert_true(first > 0.8 * 500); /* at the bottom */
    cairo_surface_destroy(img);
}

/* NaN and Inf break the line. */
static void test_nan_gap(void **state)
{
    (void)state;
    for (int i = 0; i < 300; i++) {
        xs[i] = i;
        ys[i] = i >= 100 && i < 200 ? (i == 150 ? INFINITY : NAN) : 0.5 + 0.001 * i;
    }
    eta_plot_series s = {xs, ys, 300, "gap", 0};
    plot_ok(path_in("gap.png"), NULL, &s, 1);
    cairo_surface_t *img = load_png(path_in("gap.png"), 800, 500);
    hits all = count(img, BLUE, 0, 0, 1, 1);
    assert_true(all.xmax - all.xmin > 0.75 * 800);
    /* The middle third of the curve's extent has no blue pixel. */
    int third = (all.xmax - all.xmin) / 3;
    hits mid = count(img, BLUE, (all.xmin + third + 5) / 800.0, 0, (all.xmax - third - 5) / 800.0, 1);
    assert_int_equal(mid.n, 0);
    cairo_surface_destroy(img);
}

/* Every degenerate input still gives a picture of the right size. */
static void test_degenerate(void **state)
{
    (void)state;
    double nan3[3] = {NAN, NAN, NAN}, one = 3, cst[50], neg[5] = {-1e6, 3e5, -2e5, 8e5, -4e4};
    double huge[4] = {-1.7e308, 1.7e308, 1e-300, 5}, tiny[3] = {1e-320, 2e-320, 5e-324};
    double nearly[3] = {1, 1 + 1e-15, 1 - 1e-15}, xsame[3] = {7, 7, 7};
    for (int i = 0; i < 50; i++)
        cst[i] = 0.01;
    eta_plot_config cfg = {"degenerate", "x", "y", "y2", false, false, 0, 0};

    /* One point: a dot, across the middle and at its height on an axis from 0. */
    eta_plot_series s = {NULL, &one, 1, "one", 0};
    plot_ok(path_in("one.png"), &cfg, &s, 1);
    cairo_surface_t *img = load_png(path_in("one.png"), 800, 500);
    hits b = count(img, BLUE, 0.15, 0, 0.85, 1);
    assert_true(b.n > 4);
    assert_true(b.ymin < 0.2 * 500);
    cairo_surface_destroy(img);

    /* Constant values: a flat line near the top of an axis from 0 to the
     * value (not in the middle of a zoom onto value +- 20%). */
    s = (eta_plot_series){NULL, cst, 50, "constant", 0};
    plot_ok(path_in("constant.png"), &cfg, &s, 1);
    img = load_png(path_in("constant.png"), 800, 500);
    b = count(img, BLUE, 0.15, 0, 0.85, 1);
    assert_true(b.n > 500);
    assert_true(b.ymax - b.ymin < 6);
    assert_true(b.ymax < 0.2 * 500);
    cairo_surface_destroy(img);

    const struct {
        const char *name;
        eta_plot_series s;
        bool log_y;
    } cases[] = {
        {"all_nan.png", {NULL, nan3, 3, "nan", 0}, false},
        {"empty.png", {NULL, NULL, 0, "empty", 0}, false},
        {"empty_right.png", {NULL, NULL, 0, "empty", 1}, false},
        {"negative.png", {NULL, neg, 5, "negative", 0}, false},
        {"negative_log.png", {NULL, neg, 5, "negative", 0}, true},
        {"huge.png", {NULL, huge, 4, "huge", 0}, false},
        {"huge_log.png", {NULL, huge, 4, "huge", 0}, true},
        {"subnormal.png", {NULL, tiny, 3, "subnormal", 0}, false},
        {"subnormal_log.png", {NULL, tiny, 3, "subnormal", 0}, true},
        {"nearly_equal.png", {NULL, nearly, 3, "nearly", 0}, false},
        {"same_x.png", {xsame, neg, 3, "same x", 0}, false},
        {"constant_log.png", {NULL, cst, 50, "constant", 0}, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cfg.log_y = cases[i].log_y;
        plot_ok(path_in(cases[i].name), &cfg, &cases[i].s, 1);
        cairo_surface_destroy(load_png(path_in(cases[i].name), 800, 500));
    }
    cfg.log_y = false;

    /* No series at all; the smallest and a wide, flat size. */
    plot_ok(path_in("none.png"), &cfg, NULL, 0);
    cairo_surface_destroy(load_png(path_in("none.png"), 800, 500));
    eta_plot_series two[2] = {{NULL, cst, 50, "a", 0}, {NULL, neg, 5, "b", 1}};
    cfg.width = cfg.height = 200;
    plot_ok(path_in("small.png"), &cfg, two, 2);
    cairo_surface_destroy(load_png(path_in("small.png"), 200, 200));
    cfg.width = 2000;
    plot_ok(path_in("wide.png"), &cfg, two, 2);
    cairo_surface_destroy(load_png(path_in("wide.png"), 2000, 200));
}

/* Long and odd texts, many series, many points. */
static void test_texts_and_volume(void **state)
{
    (void)state;
    static double big_y[100000];
    for (int i = 0; i < 100000; i++)
        big_y[i] = exp(-i / 20000.0) + 0.05 * sin(i * 0.37);
    eta_plot_series many[30];
    char names[30][64];
    for (int k = 0; k < 30; k++) {
        snprintf(names[k], sizeof names[k], "run %d with a rather long legend label", k);
        many[k] = (eta_plot_series){NULL, big_y + 1000 * k, 2000, names[k], 0};
    }
    many[3].label = "bad \xff\xfe utf-8 \xe2\x82 and a\ttab";
    many[4].label = NULL;
    eta_plot_config cfg = {
        "SequentialLR([LinearLR(start_factor=0.1, total_iters=3), CosineAnnealingLR(T_max=5)], "
        "milestones=[3])",
        "step \xc3\xa9tape", "\xce\xb7", NULL, true, false, 0, 0};
    plot_ok(path_in("many.png"), &cfg, many, 30);
    cairo_surface_t *img = load_png(path_in("many.png"), 800, 500);
    assert_true(count_inner(img, BLUE).n > 100);
    /* The title is there: dark pixels in the top rows. */
    const int dark[3] = {26, 26, 26};
    assert_true(count(img, dark, 0, 0, 1, 0.08).n > 50);
    cairo_surface_destroy(img);

    char title[3000];
    memset(title, 'x', sizeof title - 1);
    title[sizeof title - 1] = '\0';
    for (int i = 50; i < 2999; i += 60)
        title[i] = ' ';
    cfg.title = title;
    eta_plot_series one = {NULL, big_y, 100000, "100k points", 0};
    plot_ok(path_in("long.png"), &cfg, &one, 1);
    cairo_surface_destroy(load_png(path_in("long.png"), 800, 500));
    plot_ok(path_in("long.svg"), &cfg, &one, 1);
}

static void test_svg(void **state)
{
    (void)state;
    for (int i = 0; i < 100; i++)
        ys[i] = i * i;
    eta_plot_series s[2] = {{NULL, ys, 100, "squares", 0}, {NULL, ys, 50, "half", 1}};
    eta_plot_config cfg = {"svg", "i", "i^2", "right", false, false, 640, 400};
    const char *names[] = {"chart.svg", "CHART2.SVG", "chart3.Svg"};
    for (int i = 0; i < 3; i++) {
        plot_ok(path_in(names[i]), &cfg, s, 2);
        size_t len;
        char *text = read_file(path_in(names[i]), &len);
        assert_non_null(text);
        assert_true(len > 1000);
        assert_true(strncmp(text, "<?xml", 5) == 0);
        assert_non_null(strstr(text, "<svg"));
        assert_non_null(strstr(text, "width=\"640"));
        assert_non_null(strstr(text, "height=\"400"));
        assert_non_null(strstr(text, "</svg>"));
        free(text);
    }
    plot_ok(path_in("upper.PNG"), &cfg, s, 2);
    cairo_surface_destroy(load_png(path_in("upper.PNG"), 640, 400));
}

static void test_errors(void **state)
{
    (void)state;
    double y[3] = {1, 2, 3};
    eta_plot_series s = {NULL, y, 3, "s", 0};
    eta_plot_config cfg = {0};

    const char *bad[] = {"chart.jpg", "chart", "chart.png.txt", "png", "dir.png/chart", "chart.pn"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *p = path_in(bad[i]);
        expect_error(ETA_EINVAL, p, &cfg, &s, 1, p);
        assert_false(file_exists(p));
    }
    expect_error(ETA_EINVAL, NULL, &cfg, &s, 1, "path");

    const char *p = path_in("bad.png");
    int sizes[][2] = {{-1, 0}, {0, -1}, {199, 0}, {0, 199}, {8193, 0}, {0, 100000}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        cfg.width = sizes[i][0];
        cfg.height = sizes[i][1];
        expect_error(ETA_EINVAL, p, &cfg, &s, 1, cfg.width ? "width" : "height");
    }
    cfg.width = cfg.height = 0;
    expect_error(ETA_EINVAL, p, &cfg, &s, -1, "nseries");
    expect_error(ETA_EINVAL, p, &cfg, NULL, 1, "series");
    eta_plot_series noy = {NULL, NULL, 3, "no y", 0};
    expect_error(ETA_EINVAL, p, &cfg, &noy, 1, "y is NULL");
    eta_plot_series axis2 = {NULL, y, 3, "axis", 2};
    expect_error(ETA_EINVAL, p, &cfg, &axis2, 1, "axis");
    assert_false(file_exists(p));

    /* Files that cannot be written: a missing directory, a directory. */
    const char *nodir = "/nonexistent_eta_dir/chart.png";
    expect_error(ETA_EIO, nodir, &cfg, &s, 1, nodir);
    expect_error(ETA_EIO, "/nonexistent_eta_dir/chart.svg", &cfg, &s, 1, "No such file");
    const char *d = path_in("adir.png");
    assert_int_equal(mkdir(d, 0700), 0);
    expect_error(ETA_EIO, d, &cfg, &s, 1, d);
    rmdir(d);
    /* The disk is full: the writes fail. */
    if (file_exists("/dev/full")) {
        const char *full[] = {"full.png", "full.svg"};
        for (int i = 0; i < 2; i++) {
            const char *f = path_in(full[i]);
            assert_int_equal(symlink("/dev/full", f), 0);
            expect_error(ETA_EIO, f, &cfg, &s, 1, "No space left");
            remove(f);
        }
    }
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_png_size_and_curve),
        cmocka_unit_test(test_log_y),
        cmocka_unit_test(test_second_axis),
        cmocka_unit_test(test_nan_gap),
        cmocka_unit_test(test_degenerate),
        cmocka_unit_test(test_texts_and_volume),
        cmocka_unit_test(test_svg),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
