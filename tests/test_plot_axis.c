/* test_plot_axis.c - the plot layer's internals: axis ranges, nice ticks, tick labels, titles. labels: unit full
 *
 * Exact tick values and label texts for linear axes (fixed, SI suffixes,
 * scientific), log axes (decades with 10^k, every d-th decade, 1-2-5 and
 * linear fallbacks), widened flat ranges and extreme ones; UTF-8 cleaning,
 * cutting with an ellipsis, and title wrapping into the width. Skipped in the
 * minimal build, which has no plot layer.
 */
#include "harness.h"


#include <float.h>

#include "plot/plot_impl.h"


#define MINUS "\xe2\x88\x92"

/* The labelled ticks of an axis fitted to [lo, hi] (no padding), as
 * "text^sup" joined by spaces. */
static const char *labels(bool log, double lo, double hi, double target)
{
    static char buf[2048];
    plot_axis a;
    plot_ticks t;
    eta_plot_axis_fit_(&a, log, lo, hi, 0);
    eta_plot_ticks_(&a, target, &t);
    buf[0] = '\0';
    for (int i = 0; i < t.n; i++) {
        if (!t.t[i].major)
            continue;
        size_t n = strlen(buf);
        snprintf(buf + n, sizeof buf - n, "%s%s%s%s", n ? " " : "", t.t[i].text,
                 t.t[i].sup[0] ? "^" : "", t.t[i].sup);
    }
    return buf;
}

static void check_labels(bool log, double lo, double hi, double target, const char *want)
{
    const char *got = labels(log, lo, hi, target);
    if (strcmp(got, want) != 0)
        fail_msg("%s [%g, %g] target %g: got <%s>, want <%s>", log ? "log" : "linear", lo, hi, target,
                 got, want);
}

static void test_linear_labels(void **state)
{
    (void)state;
    check_labels(false, 0, 1, 5, "0 0.2 0.4 0.6 0.8 1.0");
    check_labels(false, 0, 0.1, 5, "0 0.02 0.04 0.06 0.08 0.10");
    check_labels(false, 0, 0.001, 5, "0 0.0002 0.0004 0.0006 0.0008 0.0010");
    check_labels(false, 0, 5e-5, 5, "0 1e-5 2e-5 3e-5 4e-5 5e-5");
    check_labels(false, 0, 1.5e-4, 3, "0 5e-5 1e-4 1.5e-4");
    check_labels(false, 0, 2500, 5, "0 500 1000 1500 2000 2500");
    check_labels(false, 0, 20000, 4, "0 5k 10k 15k 20k");
    check_labels(false, 0, 1000000, 5, "0 0.2M 0.4M 0.6M 0.8M 1.0M");
    check_labels(false, -1, 1, 4, MINUS "1.0 " MINUS "0.5 0 0.5 1.0");
    check_labels(false, 0.85, 0.95, 5, "0.86 0.88 0.90 0.92 0.94");
    check_labels(false, 1, 1.00001, 2, "1.000000 1.000005 1.000010");
    check_labels(false, 0, 3e13, 3, "0 1e13 2e13 3e13");
    check_labels(false, 0, 999, 5, "0 200 400 600 800");
}

static void test_log_labels(void **state)
{
    (void)state;
    check_labels(true, 1e-6, 1, 7, "10^" MINUS "6 10^" MINUS "5 10^" MINUS "4 10^" MINUS
                                   "3 10^" MINUS "2 10^" MINUS "1 10^0");
    check_labels(true, 1e-6, 1, 3, "10^" MINUS "6 10^" MINUS "4 10^" MINUS "2 10^0");
    check_labels(true, 1e-300, 1e300, 7, "10^" MINUS "300 10^" MINUS "200 10^" MINUS
                                         "100 10^0 10^100 10^200 10^300");
    check_labels(true, 0.02, 0.09, 5, "0.02 0.05");
    check_labels(true, 0.011, 0.6, 5, "0.02 0.05 0.1 0.2 0.5");
    check_labels(true, 3, 9, 7, "3 4 5 6 7 8 9");
    check_labels(true, 0.85, 0.95, 5, "0.86 0.88 0.90 0.92 0.94");
    check_labels(true, 20000, 90000, 4, "20k 50k");

    /* Minor ticks at 2..9 x 10^k between the decades. */
    plot_axis a;
    plot_ticks t;
    eta_plot_axis_fit_(&a, true, 1, 100, 0);
    eta_plot_ticks_(&a, 5, &t);
    assert_int_equal(t.n, 3 + 16);
    assert_true(fabs(t.t[1].u - log10(2)) < 1e-12 && !t.t[1].major);
}

static void test_ranges(void **state)
{
    (void)state;
    plot_axis a;
    plot_ticks t;
    /* No data: [0, 1] and [1, 10]. */
    eta_plot_axis_fit_(&a, false, INFINITY, -INFINITY, 0.04);
    assert_true(a.lo == 0 && a.hi == 1);
    eta_plot_axis_fit_(&a, true, INFINITY, -INFINITY, 0.04);
    assert_true(a.lo == 0 && a.hi == 1);
    /* Flat: from zero to the value, which lands near the far end (0 and
     * subnormals: [-1, 1], in the middle; at the very ends of the doubles:
     * inside). A flat 0.05 is not a zoom onto 0.04..0.06. */
    const double flat[] = {0, 0.1, -3, 1e-300, 5e-324, 1e300, DBL_MAX, -DBL_MAX, 0.05};
    for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++) {
        eta_plot_axis_fit_(&a, false, flat[i], flat[i], 0.04);
        assert_true(a.lo < a.hi && isfinite(a.lo) && isfinite(a.hi));
        double f = eta_plot_axis_frac_(&a, flat[i]), z = eta_plot_axis_frac_(&a, 0);
        bool tiny = fabs(flat[i]) < DBL_MIN;
        double want = tiny ? 0.5 : flat[i] > 0 ? 1 : 0;
        if (fabs(f - want) > (fabs(flat[i]) == DBL_MAX ? 1e-9 : tiny ? 0.01 : 0.05) ||
            !(f >= -1e-9 && f <= 1 + 1e-9))
            fail_msg("flat %g: at %g, want %g", flat[i], f, want);
        if (!tiny && fabs(z - (flat[i] > 0 ? 0 : 1)) > 0.05)
            fail_msg("flat %g: zero at %g, want near the other end", flat[i], z);
        if (!tiny && fabs(flat[i]) < DBL_MAX && (f < 0.02 || f > 0.98))
            fail_msg("flat %g: at %g, on the frame", flat[i], f);
        eta_plot_ticks_(&a, 5, &t);
        assert_true(t.n >= 2);
    }
    /* Readable ticks for a constant learning rate of 0.05: 0 to 0.05. */
    eta_plot_axis_fit_(&a, false, 0.05, 0.05, 0.04);
    eta_plot_ticks_(&a, 6, &t);
    char got[256] = "";
    for (int i = 0; i < t.n; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", t.t[i].text);
    assert_string_equal(got, "0 0.01 0.02 0.03 0.04 0.05");
    eta_plot_axis_fit_(&a, true, 0.1, 0.1, 0.04);
    assert_true(fabs(eta_plot_axis_frac_(&a, -1) - 0.5) < 1e-12);
    /* Padding: 4% at each end. */
    eta_plot_axis_fit_(&a, false, 0, 1, 0.04);
    assert_true(fabs(a.lo + 0.04) < 1e-12 && fabs(a.hi - 1.04) < 1e-12);
    /* The widest range: every tick finite and inside, fractions in [0, 1]. */
    eta_plot_axis_fit_(&a, false, -DBL_MAX, DBL_MAX, 0.04);
    for (double target = 2; target < 40; target *= 1.7) {
        eta_plot_ticks_(&a, target, &t);
        assert_true(t.n >= 2);
        for (int i = 0; i < t.n; i++) {
            double f = eta_plot_axis_frac_(&a, t.t[i].u);
            if (!(isfinite(t.t[i].u) && f >= -1e-9 && f <= 1 + 1e-9))
                fail_msg("tick %g at %g", t.t[i].u, f);
        }
    }
    /* Subnormal log ranges: ticks stay finite. */
    eta_plot_axis_fit_(&a, true, 5e-324, 1e-300, 0.04);
    eta_plot_ticks_(&a, 5, &t);
    assert_true(t.n >= 2);
    for (int i = 0; i < t.n; i++)
        assert_true(isfinite(t.t[i].u));
}

static void test_text(void **state)
{
    (void)state;
    char *s = eta_plot_clean_text_("ok \xff x\t\xe2\x82 \xce\xb7 \xed\xa0\x80");
    assert_string_equal(s, "ok \xef\xbf\xbd x \xef\xbf\xbd\xef\xbf\xbd \xce\xb7 "
                           "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    free(s);
    assert_null(eta_plot_clean_text_(NULL));

    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 100, 100);
    cairo_t *cr = cairo_create(surf);
    const char *spec = "SequentialLR([LinearLR(start_factor=0.1, total_iters=3), "
                       "CosineAnnealingLR(T_max=5)], milestones=[3])";
    char *cut = eta_plot_text_fit_(cr, spec, 12, 150);
    assert_true(eta_plot_text_width_(cr, cut, 12) <= 150);
    assert_true(strlen(cut) > 10 && strstr(cut, "\xe2\x80\xa6"));
    assert_memory_equal(cut, spec, 10);
    free(cut);

    double w = eta_plot_text_width_(cr, spec, 15);
    const double avails[] = {w + 1, w * 0.9, w * 0.6, w * 0.3, 60, 5};
    for (size_t i = 0; i < sizeof avails / sizeof avails[0]; i++) {
        plot_title t;
        assert_int_equal(eta_plot_title_layout_(cr, spec, 15, avails[i], &t), 0);
        assert_true(t.nlines >= 1 && t.nlines <= PLOT_TITLE_LINES);
        assert_true(t.size <= 15 && t.size >= 15 * 0.6 - 1e-9);
        for (int k = 0; k < t.nlines; k++)
            if (eta_plot_text_width_(cr, t.line[k], t.size) > avails[i] + 1e-6 && avails[i] > 20)
                fail_msg("avail %g: line %d <%s> too wide", avails[i], k, t.line[k]);
        if (i == 0)
            assert_true(t.nlines == 1 && t.size == 15 && strcmp(t.line[0], spec) == 0);
        if (i == 2) /* wrapped at a space, nothing lost */
            assert_true(t.nlines >= 2 && !strstr(t.line[0], "\xe2\x80\xa6") &&
                        !strstr(t.line[t.nlines - 1], "\xe2\x80\xa6"));
        eta_plot_title_free_(&t);
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_labels),
        cmocka_unit_test(test_log_labels),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
