/* tests/test_cli.c - the eta command: `eta optimize` against PyTorch's
 * trajectory (tests/ref/optimize_sgd_quadratic.csv), and what bad usage gets
 * (a clear message and exit code 2).
 * labels: cli unit
 */
#include "harness.h"

#include <eta/eta.h>

#include <cairo.h>

/* Parses CSV rows of numbers after the header; returns the row count. */
static int parse_csv(char *text, double rows[][8], int maxrows, int *ncols, char *header, size_t hlen)
{
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (header[0] == 0) {
            snprintf(header, hlen, "%s", line);
            continue;
        }
        assert_true(n < maxrows);
        int c = 0;
        for (char *tok = line;; c++) {
            char *end;
            rows[n][c] = strtod(tok, &end);
            assert_true(end != tok);
            if (*end != ',')
                break;
            tok = end + 1;
        }
        *ncols = c + 1;
        n++;
    }
    return n;
}

static void test_optimize_matches_torch(void **state)
{
    (void)state;
    char *out, *err;
    int rc = run_eta("optimize --optim 'SGD(lr=0.1, momentum=0.9)' --problem 'quadratic(a=[1,10])' "
                     "--x0 1,1 --steps 100", &out, &err);
    assert_int_equal(rc, 0);
    char *want_text = read_file(ref_path("optimize_sgd_quadratic.csv"), NULL);
    assert_non_null(want_text);
    static double got[200][8], want[200][8];
    char gh[256] = "", wh[256] = "";
    int gc = 0, wc = 0;
    int ng = parse_csv(out, got, 200, &gc, gh, sizeof gh);
    int nw = parse_csv(want_text, want, 200, &wc, wh, sizeof wh);
    assert_string_equal(gh, "step,lr,loss,grad_norm,x0,x1");
    assert_string_equal(gh, wh);
    assert_int_equal(ng, 101);
    assert_int_equal(nw, 101);
    assert_int_equal(gc, wc);
    /* Per column: relative error against max(|want|, a tenth of the column's
     * largest magnitude), as the optimizer fixtures (test_optim_ref.c):
     * torch fuses lr*g into the add, so x1 after step 1 is -5.55e-17 there
     * and exactly 0 here. */
    double worst = 0;
    for (int c = 0; c < gc; c++) {
        double scale = 0;
        for (int r = 0; r < nw; r++)
            scale = fmax(scale, fabs(want[r][c]));
        for (int r = 0; r < nw; r++) {
            double d = fabs(got[r][c] - want[r][c]);
            double e = d == 0 ? 0 : d / fmax(fabs(want[r][c]), 0.1 * scale);
            if (e > 1e-12)
                fail_msg("row %d column %d: got %.17g want %.17g (rel err %.3g)", r, c, got[r][c], want[r][c], e);
            worst = fmax(worst, e);
        }
    }
    print_message("eta optimize vs torch: 101 rows, worst relative error %.3g (bound 1e-12)\n", worst);
    free(out);
    free(err);
    free(want_text);
}

static void expect_usage(const char *args, const char *needle)
{
    char *out, *err;
    int rc = run_eta(args, &out, &err);
    if (rc != 2 || !strstr(err, needle))
        fail_msg("eta %s: exit %d, stderr:\n%s\n(expected exit 2 and '%s')", args, rc, err, needle);
    free(out);
    free(err);
}

static void test_bad_usage(void **state)
{
    (void)state;
    expect_usage("optimize --optim 'Adamm(lr=0.1)'", "did you mean Adam or AdamW? (eta optimize --help shows all");
    expect_usage("optimize --optim 'AdamW(lr=0.1, betas=(0.9, 1.5))'", "betas[1] must be in [0, 1), got 1.5");
    expect_usage("optimize --optim 'AdamW(lr=0.1, betas=(0.9, 1.5))'", "^^^");
    expect_usage("optimize --optim 'SGD(lr=0.1, mom=0.9)'",
                 "unexpected keyword argument 'mom'; did you mean momentum or momentum_mode? valid arguments: lr, "
                 "momentum");
    expect_usage("optimize --optim 'SGD(lr=0.1'", "'(' was never closed");
    expect_usage("optimize --optim 'SGD(lr=0.1, nesterov=True)'", "nesterov=True requires a momentum > 0");
    expect_usage("optimize --frobnicate", "unknown option '--frobnicate'");
    expect_usage("optimize --frobnicate", "--optim");
    expect_usage("optimize --steps -3", "--steps");
    expect_usage("optimize --steps", "--steps needs a value");
    expect_usage("optimize --dtype f16", "expected f32 or f64");
    expect_usage("optimize --x0 1,abc", "--x0");
    expect_usage("optimize --problem 'sphere()'", "valid problems: quadratic");
    expect_usage("optimize --problem 'quadratic(a=[1,2,3])' --x0 1,1", "--x0 has 2");
    expect_usage("optimize --clip-norm nan", "--clip-norm");
    expect_usage("frobnicate", "unknown command 'frobnicate'");
}

static void test_help_and_divergence(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("optimize --help", &out, &err), 0);
    const char *names[] = {"SGD(", "Adam(", "AdamW(", "Adamax(", "NAdam(", "RAdam(", "Adagrad(", "RMSprop(",
                           "Adadelta(", "ASGD(", "Rprop(", "Adafactor(", "Lion(", "LAMB(", "LARS(", "AdaBelief(",
                           "COCOB(", "DoG(", "LDoG(", "SGDHD(", "AdamHD(", "Mechanic(",
                           "quadratic(", "rosenbrock(", "beale(", "rastrigin("};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(out, names[i]))
            fail_msg("eta optimize --help does not list %s", names[i]);
    free(out);
    free(err);
    /* lr 0.3 on a = 10 multiplies x1 by -2 each step: diverges, exit 1. */
    assert_int_equal(run_eta("optimize --optim 'SGD(lr=0.3)' --steps 5000", &out, &err), 1);
    assert_non_null(strstr(err, "diverged at step"));
    free(out);
    free(err);
    /* f32 runs too, and clipping keeps this one finite. */
    assert_int_equal(run_eta("optimize --optim 'SGD(lr=0.3)' --steps 50 --dtype f32 --clip-norm 1", &out, &err), 0);
    free(out);
    free(err);
}

/* eta demo against the same sweep written out in numpy (tools/gen_ref_demo.py):
 * the same steps to 1.01 L* and divergence steps exactly, final losses to 1e-10. */
static void test_demo_matches_numpy(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("demo lr", &out, &err), 0);
    char *want = read_file(ref_path("demo_diabetes.csv"), NULL);
    assert_non_null(want);
    char *save1 = NULL, *save2 = NULL;
    char *g = strtok_r(out, "\n", &save1), *w = strtok_r(want, "\n", &save2);
    while (w && w[0] == '#')
        w = strtok_r(NULL, "\n", &save2);
    int rows = 0;
    for (; g && w; g = strtok_r(NULL, "\n", &save1), w = strtok_r(NULL, "\n", &save2), rows++) {
        if (rows == 0) {
            assert_string_equal(g, w);
            continue;
        }
        double glr, gl, wlr, wl;
        char grest[64] = "", wrest[64] = "";
        char gls[64], wls[64];
        assert_int_equal(sscanf(g, "%lf,%63[^,],%63s", &glr, gls, grest), 3);
        assert_int_equal(sscanf(w, "%lf,%63[^,],%63s", &wlr, wls, wrest), 3);
        assert_true(glr == wlr);
        gl = strtod(gls, NULL);
        wl = strtod(wls, NULL);
        if (!(gl == wl || fabs(gl - wl) <= 1e-10 * fabs(wl)))
            fail_msg("lr %g: final loss %.17g, numpy %.17g", glr, gl, wl);
        assert_string_equal(grest, wrest); /* steps_to_target,diverged_at */
    }
    assert_null(g);
    assert_null(w);
    assert_int_equal(rows, 10);
    assert_non_null(strstr(err, "winner: lr = 0.2 reaches 1.01 L* in 7 steps"));
    assert_non_null(strstr(err, "2/lambda_max(H) = 0.2485"));
    free(out);
    free(err);
    free(want);
    assert_int_equal(run_eta("demo lr --data /nonexistent", &out, &err), 1);
    assert_non_null(strstr(err, "tools/fetch-data.sh"));
    free(out);
    free(err);
    expect_usage("demo lr --lr 0.1,-2", "--lr");
    expect_usage("demo --steps 0", "--steps");
}

/* `eta schedule` prints what PyTorch's optimizer used, to the bit: the text
 * of tests/ref/schedule_onecycle_cli.csv (torch's values written as eta
 * writes numbers, tools/gen_ref_sched.py), byte for byte. */
static void test_schedule_matches_torch(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("schedule 'OneCycleLR(max_lr=1.0, total_steps=10)' --steps 10", &out, &err), 0);
    char *want = read_file(ref_path("schedule_onecycle_cli.csv"), NULL);
    assert_non_null(want);
    const char *g = out, *w = want;
    for (int line = 1; *g || *w; line++) {
        size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
        if (gl != wl || memcmp(g, w, gl))
            fail_msg("line %d: eta prints '%.*s', schedule_onecycle_cli.csv has '%.*s'", line, (int)gl, g, (int)wl, w);
        g += gl + (g[gl] != 0);
        w += wl + (w[wl] != 0);
    }
    assert_string_equal(out, want); /* the same newlines too */
    free(out);
    free(err);
    free(want);
    /* The default --steps of a bounded schedule is its length. */
    assert_int_equal(run_eta("schedule 'OneCycleLR(max_lr=1.0, total_steps=7)'", &out, &err), 0);
    int lines = 0;
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, 8);
    free(out);
    free(err);
    assert_int_equal(run_eta("schedule --list", &out, &err), 0);
    const char *names[] = {"StepLR(step_size, gamma=0.1", "OneCycleLR(max_lr", "ReduceLROnPlateau(mode='min'",
                           "SequentialLR(schedulers, milestones", "SWALR(swa_lr", "CyclicLR(base_lr, max_lr"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strstr(out, names[i]))
            fail_msg("eta schedule --list lacks %s", names[i]);
    free(out);
    free(err);
}

/* Numbers are printed as Python's repr prints them (the fewest digits that
 * read back exactly; positional from 1e-4 to 1e16, scientific outside), with
 * integers bare: 100, not 1e+02 or 100.0. */
static void test_number_format(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("schedule 'StepLR(step_size=2)' --lr 100 --steps 5", &out, &err), 0);
    assert_string_equal(out, "step,lr\n0,100\n1,100\n2,10\n3,10\n4,1.0000000000000002\n");
    free(out);
    free(err);
    assert_int_equal(run_eta("schedule 'ExponentialLR(gamma=0.1)' --lr 0.05 --steps 4", &out, &err), 0);
    assert_string_equal(out, "step,lr\n0,0.05\n1,0.005000000000000001\n2,0.0005000000000000001\n"
                             "3,5.0000000000000016e-05\n");
    free(out);
    free(err);
    assert_int_equal(run_eta("schedule 'ExponentialLR(gamma=100)' --lr 1e13 --steps 3", &out, &err), 0);
    assert_string_equal(out, "step,lr\n0,10000000000000\n1,1000000000000000\n2,1e+17\n");
    free(out);
    free(err);
}

/* Counts pixels of a saturated colour (the curves) in a PNG. */
static long curve_pixels(const char *path, int *w, int *h)
{
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS)
        return -1;
    *w = cairo_image_surface_get_width(s);
    *h = cairo_image_surface_get_height(s);
    int stride = cairo_image_surface_get_stride(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    long n = 0;
    for (int y = 0; y < *h; y++)
        for (int x = 0; x < *w; x++) {
            const unsigned char *p = d + y * stride + 4 * x; /* B, G, R, A */
            int mx = p[0] > p[1] ? (p[0] > p[2] ? p[0] : p[2]) : (p[1] > p[2] ? p[1] : p[2]);
            int mn = p[0] < p[1] ? (p[0] < p[2] ? p[0] : p[2]) : (p[1] < p[2] ? p[1] : p[2]);
            n += mx - mn > 80; /* coloured, not grey, black or white */
        }
    cairo_surface_destroy(s);
    return n;
}

static void test_schedule_plot(void **state)
{
    (void)state;
    char dir[] = "/tmp/eta_plot_XXXXXX", cmd[512];
    assert_non_null(mkdtemp(dir));
    char *out, *err;
    snprintf(cmd, sizeof cmd, "schedule 'OneCycleLR(max_lr=0.1, total_steps=1000)' --plot %s/a.png", dir);
    assert_int_equal(run_eta(cmd, &out, &err), 0);
    free(out);
    free(err);
    char path[256];
    snprintf(path, sizeof path, "%s/a.png", dir);
    int w = 0, h = 0;
    long n = curve_pixels(path, &w, &h);
    print_message("a.png: %dx%d, %ld curve pixels\n", w, h, n);
    assert_int_equal(w, 800);
    assert_int_equal(h, 500);
    assert_true(n > 1500); /* two curves across the plot */
    snprintf(cmd, sizeof cmd, "schedule 'ExponentialLR(gamma=0.97)' --steps 200 --log-y --plot %s/b.svg", dir);
    assert_int_equal(run_eta(cmd, &out, &err), 0);
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/b.svg", dir);
    char *svg = read_file(path, NULL);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    free(svg);
    snprintf(cmd, sizeof cmd, "optimize --optim 'SGD(lr=0.05, momentum=0.9)' --sched 'StepLR(step_size=20)' "
                              "--steps 60 --plot %s/c.png", dir);
    assert_int_equal(run_eta(cmd, &out, &err), 0);
    assert_non_null(strstr(out, "\n19,0.05,"));
    assert_non_null(strstr(out, "\n20,0.00500000"));
    assert_non_null(strstr(out, "\n40,0.000500000")); /* row t: the lr of the update leaving it */
    free(out);
    free(err);
    snprintf(path, sizeof path, "%s/c.png", dir);
    assert_true(curve_pixels(path, &w, &h) > 500);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    expect_usage("schedule 'StepLR(step_size=3)' --plot /tmp/x.jpg", ".jpg");
}

static void test_schedule_bad_usage(void **state)
{
    (void)state;
    expect_usage("schedule", "expected one schedule spec");
    expect_usage("schedule 'CosineAnnealingLR(T_max=0)'", "T_max must be > 0, got 0");
    expect_usage("schedule 'CosineAnnealingLR(T_max=0)'", "^");
    expect_usage("schedule 'MultiStepLR(milestones=[30, 10])'", "increasing order");
    expect_usage("schedule 'OneCycleLR(max_lr=0.1)'", "total_steps");
    expect_usage("schedule 'OneCycleLR(max_lr=0.1, total_steps=10)' --steps 12", "ends at step 10");
    expect_usage("schedule 'ReduceLROnPlateau()' --steps 5", "give --metrics with at least 4 values");
    expect_usage("schedule 'ReduceLROnPlateau()' --steps 5 --metrics 1,2,x", "--metrics");
    expect_usage("schedule 'StepLR(step_size=3)' --metrics 1,2", "does not observe a metric");
    expect_usage("schedule 'StepLR(step_size=3)' --lr -1", "--lr must be >= 0");
    expect_usage("schedule 'StepLR(step_size=3)' --lr nan", "--lr");
    expect_usage("optimize --sched 'StepLR(step_size=0)'", "step_size must be >= 1");
    expect_usage("optimize --sched 'OneCycleLR(max_lr=0.1, total_steps=10)' --steps 50", "past the end of the schedule");
    /* A plateau rule from the shell: metrics 1..1 plateau, the lr drops. */
    char *out, *err;
    assert_int_equal(run_eta("schedule 'ReduceLROnPlateau(patience=1, factor=0.5)' --steps 6 --metrics 1,1,1,1,1",
                             &out, &err), 0);
    assert_string_equal(out, "step,lr\n0,0.1\n1,0.1\n2,0.1\n3,0.05\n4,0.05\n5,0.025\n");
    free(out);
    free(err);
}

/* eta model: the summary of the benchmark CNN (454,922 parameters, as
 * torchinfo counts them) and shape errors naming the layer. */
static void test_model_summary(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("model 'Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, "
                             "padding=2), ReLU(), MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), "
                             "Linear(128, 10))' --input 1,28,28",
                             &out, &err),
                     0);
    assert_non_null(strstr(out, "total parameters: 454922"));
    assert_non_null(strstr(out, "[1, 64, 7, 7]"));
    free(out);
    free(err);
    expect_usage("model 'Sequential(Conv2d(1, 32, 5), Flatten(), Linear(3136, 10))' --input 1,28,28",
                 "layer 2 (Linear 2): expected input [batch, ..., 3136], got [1, 18432]");
    expect_usage("model 'Sequential(Conv2d(3, 8, 3))' --input 1,28,28", "layer 0");
    expect_usage("model 'Sequential(Linear(4, 2)' --input 4", "was never closed");
    expect_usage("model 'Sequential(Linear(4, 2))'", "--input");
    expect_usage("model 'Sequential(Linear(4))' --input 4", "missing required argument 'out_features'");
}

/* eta model --list: a line for every module and loss of the catalogue
 * (eta_nn_module_*, eta_nn_loss_*), each starting with its name and its
 * signature; every loss listed is one eta_net_set_loss takes. */
static void test_model_list(void **state)
{
    (void)state;
    char *out, *err, want[96];
    assert_int_equal(run_eta("model --list", &out, &err), 0);
    int nm = eta_nn_module_count(), nl = eta_nn_loss_count();
    assert_true(nm >= 23 && nl == 5);
    assert_null(eta_nn_module_name(-1));
    assert_null(eta_nn_module_note(nm));
    assert_null(eta_nn_loss_name(nl));
    for (int k = 0; k < nm + nl; k++) {
        const char *name = k < nm ? eta_nn_module_name(k) : eta_nn_loss_name(k - nm);
        const char *note = k < nm ? eta_nn_module_note(k) : eta_nn_loss_note(k - nm);
        size_t len = strlen(name);
        assert_int_equal(strncmp(note, name, len), 0);
        assert_int_equal(note[len], '(');
        snprintf(want, sizeof want, "\n  %s(", name);
        if (!strstr(out, want))
            fail_msg("eta model --list lacks %s", name);
    }
    for (int k = 0; k < nl; k++) {
        eta_net *net;
        eta_err e;
        snprintf(want, sizeof want, "%s()", eta_nn_loss_name(k));
        assert_int_equal(eta_net_new(&net, "Sequential(Linear(3, 2))", &e), ETA_OK);
        assert_int_equal(eta_net_prepare(net, 2, 1, (int64_t[]){3}, &e), ETA_OK);
        if (eta_net_set_loss(net, want, &e))
            fail_msg("%s: %s", want, e.msg);
        eta_net_free(net);
    }
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimize_matches_torch),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_help_and_divergence),
        cmocka_unit_test(test_demo_matches_numpy),
        cmocka_unit_test(test_schedule_matches_torch),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test(test_schedule_plot),
        cmocka_unit_test(test_schedule_bad_usage),
        cmocka_unit_test(test_model_summary),
        cmocka_unit_test(test_model_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
