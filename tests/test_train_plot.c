/* test_train_plot.c - a run's charts and `eta plot`, drawn from metrics files the sink writes. labels: unit full cli
 *
 * The runs are made like a Fashion-MNIST training: 5 epochs of 469 steps, a
 * OneCycle learning rate (warm-up over 30%, cosine down) with momentum
 * cycling 0.95 -> 0.85 -> 0.95, a loss falling from 2.3 with multiplicative
 * noise, a gradient norm that drops, a validation point per epoch. The PNGs
 * are read back: curves where they belong (the raw loss faint, the smoothed
 * one solid, validation dots in the second colour; lr above, momentum below),
 * a logarithmic axis exactly when the loss spans decades. Set
 * ETA_TEST_KEEP=DIR to keep the runs and their PNGs for looking at.
 */
#include "harness.h"

#include <cairo.h>
#include <sys/stat.h>

#include "png_probe.h"
#include "train/metrics.h"
#include "train/runplot.h"

static char root[512];

/* A small deterministic generator: uniform in (0, 1), then normal. */
static double uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(uint64_t *s)
{
    double u = uniform(s), v = uniform(s);
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* OneCycleLR(max_lr, total_steps, pct_start=0.3) with cosine annealing, and its momentum. */
static void one_cycle(double max_lr, int64_t t, int64_t total, double *lr, double *mom)
{
    double up = 0.3 * (double)total - 1, init = max_lr / 25, fin = init / 1e4;
    double p = (double)t <= up ? (double)t / up : ((double)t - up) / ((double)total - 1 - up);
    double c = (1 + cos(3.141592653589793 * p)) / 2; /* 1 -> 0 */
    if ((double)t <= up) {
        *lr = max_lr + (init - max_lr) * c;
        *mom = 0.85 + (0.95 - 0.85) * c;
    } else {
        *lr = fin + (max_lr - fin) * c;
        *mom = 0.95 + (0.85 - 0.95) * c;
    }
}

/* Writes a run into root/name: `floor` and `scale` shape the loss
 * floor + scale * exp(-t / tau) x noise; returns the directory. */
static const char *make_run(const char *name, double max_lr, double floor_, double scale, double tau, uint64_t seed)
{
    static char dir[4][600];
    static int next;
    char *d = dir[next++ % 4];
    snprintf(d, sizeof dir[0], "%s/%s", root, name);
    mkdir(d, 0777);
    char p[700];
    snprintf(p, sizeof p, "%s/config.ini", d);
    FILE *f = fopen(p, "w");
    fprintf(f, "[data]\nspec = FashionMNIST(val=5000)\n\n[optimizer]\nspec = AdamW(lr=%g, weight_decay=0.01)\n\n"
               "[train]\nepochs = 5\nbatch = 128\n\n[output]\ndir = %s\n",
            max_lr, d);
    fclose(f);
    eta_metrics_config c = eta_metrics_defaults();
    c.dir = d;
    c.momentum = true;
    c.accuracy = true;
    eta_metrics *m = NULL;
    eta_err err;
    if (eta_metrics_open(&m, &c, &err))
        fail_msg("%s", err.msg);
    uint64_t s = seed;
    const int64_t per = 469, total = 5 * per;
    double t_now = 0;
    assert_int_equal(eta_metrics_eval(m, 0, 0, floor_ + scale, 0.1, NULL), 0);
    for (int64_t t = 0; t < total; t++) {
        double lr, mom;
        one_cycle(max_lr, t, total, &lr, &mom);
        double mean = floor_ + scale * exp(-(double)t / tau);
        double loss = mean * exp(0.25 * normal(&s));
        double gn = (0.4 + 2.5 * exp(-(double)t / 400)) * exp(0.3 * normal(&s));
        t_now += 0.02 * (1 + 0.1 * uniform(&s));
        eta_train_step st = {.step = t + 1, .epoch = t / per, .epoch_step = t % per + 1, .lr = &lr,
                             .momentum = &mom, .loss = loss, .grad_norm = gn, .samples = 128, .time = t_now};
        assert_int_equal(eta_metrics_step(m, &st, NULL), 0);
        if ((t + 1) % per == 0) {
            double vl = mean * 1.08 + 0.02;
            assert_int_equal(eta_metrics_eval(m, t + 1, t / per, vl, 1 - 0.35 * vl / (1 + vl), NULL), 0);
        }
    }
    assert_int_equal(eta_metrics_close(m, NULL), 0);
    return d;
}

static int setup(void **state)
{
    (void)state;
    const char *keep = getenv("ETA_TEST_KEEP");
    if (keep) {
        snprintf(root, sizeof root, "%s", keep);
        mkdir(root, 0777);
    } else {
        snprintf(root, sizeof root, "/tmp/eta_test_plot_XXXXXX");
        if (!mkdtemp(root))
            return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (!getenv("ETA_TEST_KEEP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        return system(cmd) == 0 ? 0 : -1;
    }
    return 0;
}

static cairo_surface_t *load_png(const char *path, int w, int h)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        fail_msg("%s: cannot be read as a PNG", path);
    assert_int_equal(cairo_image_surface_get_width(s), w);
    assert_int_equal(cairo_image_surface_get_height(s), h);
    return s;
}

static void test_run_plots(void **state)
{
    (void)state;
    const char *d = make_run("fmnist", 0.01, 0.25, 2.05, 350, 1);
    eta_err err;
    if (eta_runplot_run(d, NULL, &err))
        fail_msg("%s", err.msg);
    char p[700];
    snprintf(p, sizeof p, "%s/loss.png", d);
    cairo_surface_t *s = load_png(p, 800, 500);
    static const int FAINT_BLUE[3] = {0xa5, 0xc8, 0xe1}; /* 30% of #1f77b4 over white */
    hits smooth = count(s, BLUE, 0.1, 0.1, 0.97, 0.9), raw = count(s, FAINT_BLUE, 0.1, 0.1, 0.97, 0.9),
         val = count(s, ORANGE, 0.1, 0.1, 0.97, 0.9);
    assert_true(smooth.n > 500 && raw.n > 500 && val.n > 50);
    assert_true(raw.ymax - raw.ymin > smooth.ymax - smooth.ymin); /* the noise is wider than its average */
    assert_true(val.xmax - val.xmin > 0.6 * 800);                  /* points from step 0 to the end */
    cairo_surface_destroy(s);

    snprintf(p, sizeof p, "%s/lr.png", d);
    s = load_png(p, 800, 550);
    hits lr = count(s, BLUE, 0, 0, 1, 320.0 / 550), mom = count(s, BLUE, 0, 320.0 / 550, 1, 1);
    assert_true(lr.n > 300 && mom.n > 300);
    assert_true(abs(lr.xmin - mom.xmin) <= 2 && abs(lr.xmax - mom.xmax) <= 2); /* the panels line up */
    cairo_surface_destroy(s);

    snprintf(p, sizeof p, "%s/grad_norm.png", d);
    s = load_png(p, 800, 500);
    assert_true(count(s, BLUE, 0.1, 0.1, 0.97, 0.9).n > 300);
    assert_true(count(s, FAINT_BLUE, 0.1, 0.1, 0.97, 0.9).n > 300);
    cairo_surface_destroy(s);
}

/* Where the solid blue curve crosses the middle of the plot, as a fraction of the height from the top. */
static double mid_height(const char *png)
{
    cairo_surface_t *s = load_png(png, 800, 500);
    hits h = count(s, BLUE, 0.5, 0.08, 0.52, 0.92);
    cairo_surface_destroy(s);
    assert_true(h.n > 0);
    return (h.ymin + h.ymax) / 2.0 / 500;
}

/* A regression-like loss from 2000 to 0.5 (3.6 decades): a log axis, on
 * which the curve's middle sits mid-height; the Fashion-MNIST-like loss
 * (2.3 to 0.25) stays linear, its middle low. */
static void test_log_axis(void **state)
{
    (void)state;
    const char *d = make_run("regression", 0.05, 0.5, 2000, 300, 3);
    eta_err err;
    if (eta_runplot_run(d, NULL, &err))
        fail_msg("%s", err.msg);
    char p[700];
    snprintf(p, sizeof p, "%s/loss.png", d);
    double m = mid_height(p);
    assert_true(m > 0.3 && m < 0.7);
    d = make_run("fmnist2", 0.01, 0.25, 2.05, 350, 1);
    if (eta_runplot_run(d, NULL, &err))
        fail_msg("%s", err.msg);
    snprintf(p, sizeof p, "%s/loss.png", d);
    assert_true(mid_height(p) > 0.75);
}

/* Runs whose optimizers differ by name are labelled by the name alone
 * ("spec=Adam", "spec=AdamW"), not by the name and the first argument. */
static void test_labels_callee(void **state)
{
    (void)state;
    const char *specs[2] = {"Adam(lr=1e-3, weight_decay=0.1)", "AdamW(lr=1e-3, weight_decay=0.1)"};
    char dirs_[2][600];
    const char *dirs[2];
    for (int i = 0; i < 2; i++) {
        snprintf(dirs_[i], sizeof dirs_[i], "%s/callee%d", root, i);
        mkdir(dirs_[i], 0777);
        char path[600];
        snprintf(path, sizeof path, "%s/callee%d/config.ini", root, i);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fprintf(f, "[optimizer]\nspec = %s\n[train]\nepochs = 3\n", specs[i]);
        fclose(f);
        dirs[i] = dirs_[i];
    }
    char *labels[2];
    assert_int_equal(eta_runplot_labels(dirs, 2, labels), 0);
    assert_string_equal(labels[0], "spec=Adam");
    assert_string_equal(labels[1], "spec=AdamW");
    free(labels[0]);
    free(labels[1]);
}

/* Two learning rates overlaid by `eta plot`: one colour each, named by the
 * one value their configs differ in. */
static void test_overlay(void **state)
{
    (void)state;
    char a[600], b[600];
    snprintf(a, sizeof a, "%s", make_run("lr-0.01", 0.01, 0.25, 2.05, 350, 4));
    snprintf(b, sizeof b, "%s", make_run("lr-0.003", 0.003, 0.33, 2.0, 800, 5));
    const char *dirs[2] = {a, b};
    char *labels[2];
    assert_int_equal(eta_runplot_labels(dirs, 2, labels), 0);
    assert_string_equal(labels[0], "lr=0.01");
    assert_string_equal(labels[1], "lr=0.003");
    free(labels[0]);
    free(labels[1]);
    char args[2000], *out, *errs;
    snprintf(args, sizeof args, "plot %s %s --out %s/cmp", a, b, root);
    int st = run_eta(args, &out, &errs);
    if (st != 0)
        fail_msg("eta %s: exit %d: %s", args, st, errs);
    char want[2000];
    snprintf(want, sizeof want, "%s/cmp/loss.png\n%s/cmp/lr.png\n%s/cmp/grad_norm.png\n", root, root, root);
    assert_string_equal(out, want);
    free(out);
    free(errs);
    snprintf(want, sizeof want, "%s/cmp/loss.png", root);
    cairo_surface_t *s = load_png(want, 800, 500);
    assert_true(count(s, BLUE, 0.1, 0.1, 0.97, 0.9).n > 300);
    assert_true(count(s, ORANGE, 0.1, 0.1, 0.97, 0.9).n > 300);
    cairo_surface_destroy(s);
    snprintf(want, sizeof want, "%s/cmp/lr.png", root); /* a colour per run, in both panels */
    s = load_png(want, 800, 550);
    assert_true(count(s, ORANGE, 0.1, 0.05, 0.97, 0.55).n > 300);
    assert_true(count(s, BLUE, 0.1, 0.05, 0.97, 0.55).n > 300);
    cairo_surface_destroy(s);
    /* --smooth --metric val_acc: one chart, dots on lines. */
    snprintf(args, sizeof args, "plot %s %s --out %s/cmp --metric val_acc --smooth", a, b, root);
    assert_int_equal(run_eta(args, &out, &errs), 0);
    snprintf(want, sizeof want, "%s/cmp/val_acc.png\n", root);
    assert_string_equal(out, want);
    free(out);
    free(errs);
}

/* Writes `text` as root/name/metrics.csv; returns the directory. */
static const char *bad_run(const char *name, const char *text)
{
    static char d[600];
    snprintf(d, sizeof d, "%s/%s", root, name);
    mkdir(d, 0777);
    char p[700];
    snprintf(p, sizeof p, "%s/metrics.csv", d);
    FILE *f = fopen(p, "w");
    fputs(text, f);
    fclose(f);
    return d;
}

static void expect_read_error(const char *name, const char *text, int code, const char *msg)
{
    const char *d = bad_run(name, text);
    char p[700];
    snprintf(p, sizeof p, "%s/metrics.csv", d);
    eta_run_table *t = NULL;
    eta_err err;
    assert_int_equal(eta_run_table_read(&t, p, &err), code);
    assert_null(t);
    char want[900];
    snprintf(want, sizeof want, "%s%s", p, msg);
    if (strcmp(err.msg, want))
        fail_msg("got \"%s\", want \"%s\"", err.msg, want);
}

static const char *const HEAD = "step,epoch,lr,loss,smooth_loss,grad_norm,samples_per_s,val_loss\n";

static void test_csv_reader(void **state)
{
    (void)state;
    char text[1000];
    snprintf(text, sizeof text, "%s1,0,0.1,2.5,2.5,1.0,,\n2,0,0.1,2.0,2.2,1.0,64.0\n", HEAD);
    expect_read_error("ragged", text, ETA_EFORMAT, ":3: 7 fields, the header has 8");
    snprintf(text, sizeof text, "%s1,0,0.1,2.5x,2.5,1.0,,\n", HEAD);
    expect_read_error("word", text, ETA_EFORMAT, ":2: field 4 (loss): '2.5x' is not a number");
    expect_read_error("empty", "", ETA_EFORMAT, ": empty file");
    expect_read_error("nostep", "a,b\n1,2\n", ETA_EFORMAT, ":1: no step column (is it a metrics.csv?)");
    eta_run_table *t = NULL;
    eta_err err;
    char p[700];
    snprintf(p, sizeof p, "%s/missing/metrics.csv", root);
    assert_int_equal(eta_run_table_read(&t, p, &err), ETA_EIO);
    assert_non_null(strstr(err.msg, "missing/metrics.csv: No such file or directory"));
    /* A row being written (no newline, short) is left out; nan, inf and empty cells read as such. */
    snprintf(text, sizeof text, "%s1,0,0.1,nan,2.5,inf,,\r\n2,0,0.1,2.0,2.2,1.0,64.0,3\n3,0,0.1,1.", HEAD);
    const char *d = bad_run("live", text);
    snprintf(p, sizeof p, "%s/metrics.csv", d);
    assert_int_equal(eta_run_table_read(&t, p, &err), 0);
    assert_int_equal(t->nrows, 2);
    assert_int_equal(t->ncols, 8);
    const double *loss = eta_run_table_col(t, "loss"), *gn = eta_run_table_col(t, "grad_norm"),
                 *val = eta_run_table_col(t, "val_loss");
    assert_true(isnan(loss[0]) && loss[1] == 2.0 && isinf(gn[0]) && isnan(val[0]) && val[1] == 3);
    assert_null(eta_run_table_col(t, "val_acc"));
    eta_run_table_free(t);
    /* A header alone: columns of no rows. */
    d = bad_run("fresh", HEAD);
    snprintf(p, sizeof p, "%s/metrics.csv", d);
    assert_int_equal(eta_run_table_read(&t, p, &err), 0);
    assert_int_equal(t->nrows, 0);
    assert_non_null(eta_run_table_col(t, "step"));
    eta_run_table_free(t);
}

/* Labels: directory names, the full paths when those coincide, and "key=value" for a plain value. */
static void test_labels(void **state)
{
    (void)state;
    char a[700], b[700];
    snprintf(a, sizeof a, "%s/x/run/", root);
    snprintf(b, sizeof b, "%s/y/run", root);
    const char *dirs[2] = {a, b};
    char *l[2];
    assert_int_equal(eta_runplot_labels(dirs, 2, l), 0); /* no config.ini: names, which coincide */
    assert_string_equal(l[0], a);
    assert_string_equal(l[1], b);
    free(l[0]);
    free(l[1]);
    /* Configs that differ in two values (besides [output]): names; in one: that value. */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < 2; i++) {
            snprintf(i ? b : a, 700, "%s/ep%d", root, i + 3);
            mkdir(i ? b : a, 0777);
            char p[800];
            snprintf(p, sizeof p, "%s/config.ini", i ? b : a);
            FILE *f = fopen(p, "w");
            fprintf(f, "; a comment\n[train]\nepochs = %d\nbatch = %d\n[output]\ndir = runs/ep%d\n", i + 3,
                    pass == 0 ? 64 * (i + 1) : 64, i + 3);
            fclose(f);
        }
        assert_int_equal(eta_runplot_labels(dirs, 2, l), 0);
        assert_string_equal(l[0], pass == 0 ? "ep3" : "epochs=3");
        assert_string_equal(l[1], pass == 0 ? "ep4" : "epochs=4");
        free(l[0]);
        free(l[1]);
    }
}

/* Runs `eta plot ARGS` with "@" in args standing for root; checks the exit
 * code and that stdout (code 0) or stderr holds `needle`. */
static void expect_plot(const char *a, int code, const char *needle)
{
    char args[1000], *out, *errs, *o = args;
    for (; *a && o < args + sizeof args - 600; a++)
        o += *a == '@' ? sprintf(o, "%s", root) : sprintf(o, "%c", *a);
    *o = 0;
    int st = run_eta(args, &out, &errs);
    if (st != code || !strstr(code ? errs : out, needle))
        fail_msg("eta %s: exit %d (want %d), stdout: %s, stderr: %s (want '%s')", args, st, code, out, errs, needle);
    free(out);
    free(errs);
}

static void test_cli_errors(void **state)
{
    (void)state;
    expect_plot("plot --help", 0, "usage: eta plot RUN_DIR...");
    expect_plot("plot", 2, "expected one or more run directories");
    expect_plot("plot @/fmnist --metric accuracy", 2,
                "eta plot: --metric: unknown metric 'accuracy'; valid metrics: loss, lr");
    expect_plot("plot @/nowhere", 2, "nowhere: No such file or directory");
    expect_plot("plot @/ragged", 1, "ragged/metrics.csv:3: 7 fields, the header has 8"); /* test_csv_reader's */
    char d[700];
    snprintf(d, sizeof d, "%s/x", root);
    mkdir(d, 0777);
    expect_plot("plot @/x", 1, "x/metrics.csv: No such file or directory");
    expect_plot("plot @/live --metric val_acc", 1, "no val_acc column (not a classifier)");
    /* One run, the default --out: its own directory. */
    expect_plot("plot @/live --metric grad_norm", 0, "/live/grad_norm.png\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_plots),
        cmocka_unit_test(test_log_axis),
        cmocka_unit_test(test_overlay),
        cmocka_unit_test(test_labels_callee),
        cmocka_unit_test(test_csv_reader),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_cli_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
