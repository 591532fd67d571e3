/* tests/test_cli.c - the eta command: `eta optimize` against PyTorch's
 * trajectory (tests/ref/optimize_sgd_quadratic.csv), and what bad usage gets
 * (a clear message and exit code 2).
 * labels: cli unit
 */
#include "harness.h"

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
    expect_usage("optimize --optim 'Adamm(lr=0.1)'", "valid optimizers: SGD, Adam, AdamW");
    expect_usage("optimize --optim 'AdamW(lr=0.1, betas=(0.9, 1.5))'", "betas[1] must be in [0, 1), got 1.5");
    expect_usage("optimize --optim 'AdamW(lr=0.1, betas=(0.9, 1.5))'", "^^^");
    expect_usage("optimize --optim 'SGD(lr=0.1, mom=0.9)'", "unexpected keyword argument 'mom'; valid arguments: lr, momentum");
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
    assert_int_equal(run_eta("demo", &out, &err), 0);
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
    assert_int_equal(run_eta("demo --data /nonexistent", &out, &err), 1);
    assert_non_null(strstr(err, "tools/fetch-data.sh"));
    free(out);
    free(err);
    expect_usage("demo --lr 0.1,-2", "--lr");
    expect_usage("demo --steps 0", "--steps");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_optimize_matches_torch),
        cmocka_unit_test(test_bad_usage),
        cmocka_unit_test(test_help_and_divergence),
        cmocka_unit_test(test_demo_matches_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
