/* test_tune_space.c - a sweep's search space and samplers (src/tune/space.c,
 * sampler.c) and setting a key inside a spec (trial.c). labels: unit ref full
 *
 * tests/ref/tune_space.txt (tools/gen_ref_tune_space.py) holds numpy's
 * geomspace and linspace, which --grid's logspace and linspace follow, and
 * scipy's unscrambled Sobol and Halton points; every line is read and
 * checked. By hand: the parse errors and where they point, the grid
 * sampler's permutation (every point once, the order from the seed), the
 * random sampler's ranges, spec arguments replaced and added.
 */
#include "harness.h"

#include "tune/sweep.h"

/* Largest distance in units in the last place between a and b. */
static double ulps(double a, double b)
{
    if (a == b)
        return 0;
    return fabs(a - b) / (nextafter(fabs(b), INFINITY) - fabs(b));
}

static void test_fixture(void **state)
{
    (void)state;
    char *text = read_file(ref_path("tune_space.txt"), NULL);
    assert_non_null(text);
    int grids = 0, sobol = 0, halton = 0;
    double worst_grid = 0, worst_halton = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char fn[16];
        double a, b;
        int n, used;
        if (sscanf(line, "%15s", fn) != 1)
            fail_msg("tune_space.txt: an empty line");
        if (!strcmp(fn, "geomspace") || !strcmp(fn, "linspace")) {
            assert_int_equal(sscanf(line, "%*s %lf %lf %d:%n", &a, &b, &n, &used), 3);
            char arg[200];
            snprintf(arg, sizeof arg, "optimizer.lr=%s(%.17g, %.17g, %d)", fn[0] == 'g' ? "logspace" : "linspace", a,
                     b, n);
            sweep_space s = {0};
            eta_err err;
            assert_int_equal(sweep_space_add(&s, arg, true, &err), 0);
            assert_int_equal(s.dims[0].n, n);
            const char *p = line + used;
            for (int i = 0; i < n; i++) {
                char *end;
                double want = strtod(p, &end);
                assert_true(end != p);
                p = end;
                double u = ulps(s.dims[0].nums[i], want);
                worst_grid = u > worst_grid ? u : worst_grid;
                if (u > 1)
                    fail_msg("%s: point %d is %.17g, numpy %.17g", arg, i, s.dims[0].nums[i], want);
                assert_true(strtod(s.dims[0].values[i], NULL) == s.dims[0].nums[i]); /* the text reads back */
            }
            while (*p == ' ')
                p++;
            assert_int_equal(*p, 0); /* every value read */
            sweep_space_free(&s);
            grids++;
        } else if (!strcmp(fn, "sobol") || !strcmp(fn, "halton")) {
            int dims;
            assert_int_equal(sscanf(line, "%*s %d %d:", &dims, &n), 2);
            assert_true(dims <= SWEEP_SOBOL_DIMS);
            for (int i = 0; i < n; i++) {
                char *row = strtok(NULL, "\n"), *end;
                assert_non_null(row);
                for (int d = 0; d < dims; d++) {
                    double want = strtod(row, &end), got;
                    assert_true(end != row);
                    row = end;
                    if (fn[0] == 's') {
                        got = sweep_sobol((uint64_t)i, d);
                        if (got != want)
                            fail_msg("sobol point %d dim %d: %.17g, scipy %.17g", i, d, got, want);
                    } else {
                        got = sweep_halton((uint64_t)i, d);
                        worst_halton = fabs(got - want) > worst_halton ? fabs(got - want) : worst_halton;
                        if (fabs(got - want) > 1e-15)
                            fail_msg("halton point %d dim %d: %.17g, scipy %.17g", i, d, got, want);
                    }
                }
                while (*row == ' ')
                    row++;
                assert_int_equal(*row, 0);
            }
            if (fn[0] == 's')
                sobol++;
            else
                halton++;
        } else {
            fail_msg("tune_space.txt: unknown item '%s'", fn);
        }
    }
    assert_int_equal(grids, 9);
    assert_int_equal(sobol, 1);
    assert_int_equal(halton, 1);
    print_message("grids within %.0f ulp of numpy; sobol exact; halton within %.1e of scipy\n", worst_grid,
                  worst_halton);
    free(text);
}

static void expect_error(const char *arg, bool grid, const char *msg, int pos)
{
    sweep_space s = {0};
    eta_err err;
    assert_int_equal(sweep_space_add(&s, arg, grid, &err), ETA_EINVAL);
    if (!strstr(err.msg, msg))
        fail_msg("%s: message '%s' lacks '%s'", arg, err.msg, msg);
    if (pos >= -1 && err.pos != pos)
        fail_msg("%s: error at %d, expected %d (%s)", arg, err.pos, pos, err.msg);
    sweep_space_free(&s);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("optimizer.lr", true, "expected KEY=VALUES", -1);
    expect_error("=logspace(1, 2, 3)", true, "expected KEY=VALUES", -1);
    expect_error("optimizer.lr=geomspace(1, 2, 3)", true, "--grid takes logspace", 13);
    expect_error("optimizer.lr=logspace(0, 1, 13)", true, "positive ends", 13);
    expect_error("optimizer.lr=logspace(1e-4, 1)", true, "three numbers", 13);
    expect_error("optimizer.lr=logspace(1e-4, 1, 2.5)", true, "count must be an integer", 31);
    expect_error("optimizer.lr=linspace(1, 'a', 3)", true, "not a number", 25);
    expect_error("optimizer.lr=[]", true, "empty list", 13);
    expect_error("optimizer.lr=[1, (2, 3)]", true, "a list item", 17);
    expect_error("optimizer.lr=loguniform(1, 1)", false, "low end must be below", 13);
    expect_error("optimizer.lr=loguniform(-1, 1)", false, "positive low end", 13);
    expect_error("optimizer.lr=logspace(1e-4, 1, 13)", false, "--random takes loguniform", 13);
    expect_error("optimizer.lr=loguniform(1e-4, 1", false, "optimizer.lr=loguniform(1e-4, 1:", -2);
    sweep_space s = {0};
    eta_err err;
    assert_int_equal(sweep_space_add(&s, "optimizer.lr=[0.1, 0.3]", true, &err), 0);
    assert_int_equal(sweep_space_add(&s, "optimizer.lr=[0.2]", true, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "swept twice"));
    sweep_space_free(&s);
}

static void test_lists_and_grid_sampler(void **state)
{
    (void)state;
    sweep_space s = {0};
    eta_err err;
    assert_int_equal(sweep_space_add(&s, "data.batch_size=[64, 128, 256]", true, &err), 0);
    assert_int_equal(sweep_space_add(&s, "optimizer=['SGD(lr=0.1)', \"AdamW()\"]", true, &err), 0);
    assert_string_equal(s.dims[0].values[0], "64"); /* an int stays an int */
    assert_true(s.dims[0].nums[2] == 256);
    assert_string_equal(s.dims[1].values[0], "SGD(lr=0.1)");
    assert_true(isnan(s.dims[1].nums[1]));
    assert_int_equal(sweep_space_grid_size(&s), 6);
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN], first[6][64];
    double nums[SWEEP_MAX_DIMS];
    int seen[6] = {0};
    bool differs = false;
    for (uint64_t seed = 0; seed < 2; seed++)
        for (int n = 0; n < 6; n++) {
            assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_GRID, seed, n, texts, nums, &err), 0);
            int i = (int)(nums[0] == 64 ? 0 : nums[0] == 128 ? 1 : 2) * 2 + (texts[1][0] == 'A');
            if (seed == 0) {
                seen[i]++;
                snprintf(first[n], sizeof first[n], "%.20s %.40s", texts[0], texts[1]);
            } else {
                char now[64];
                snprintf(now, sizeof now, "%.20s %.40s", texts[0], texts[1]);
                differs |= strcmp(now, first[n]) != 0;
            }
        }
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], 1); /* every grid point once */
    assert_true(differs);              /* another seed, another order */
    assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_GRID, 0, 6, texts, nums, &err), ETA_EINVAL);
    sweep_space_free(&s);
}

static void test_random_samplers(void **state)
{
    (void)state;
    sweep_space s = {0};
    eta_err err;
    assert_int_equal(sweep_space_add(&s, "optimizer.lr=loguniform(1e-5, 1)", false, &err), 0);
    assert_int_equal(sweep_space_add(&s, "optimizer.momentum=uniform(0.8, 0.99)", false, &err), 0);
    assert_int_equal(sweep_space_add(&s, "data.batch_size=[32, 64]", true, &err), 0);
    assert_int_equal(sweep_space_grid_size(&s), 0);
    char t[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN], t2[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
    double x[SWEEP_MAX_DIMS], y[SWEEP_MAX_DIMS];
    int small = 0, n64 = 0;
    for (int n = 0; n < 200; n++) {
        assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_RANDOM, 7, n, t, x, &err), 0);
        assert_true(x[0] >= 1e-5 && x[0] < 1 && x[1] >= 0.8 && x[1] < 0.99);
        assert_true(strtod(t[0], NULL) == x[0]);
        small += x[0] < 1e-3; /* log-uniform: 3/5 of the draws below 1e-2, 2/5 below 1e-3 */
        n64 += x[2] == 64;
        assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_RANDOM, 7, n, t2, y, &err), 0);
        assert_memory_equal(x, y, 3 * sizeof *x); /* the same trial, the same point */
    }
    assert_in_range(small, 50, 110);
    assert_in_range(n64, 70, 130);
    /* Sobol: trial n takes point n; the first, 0, is the low ends */
    assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_SOBOL, 0, 0, t, x, &err), 0);
    assert_true(fabs(x[0] - 1e-5) < 1e-19 && x[1] == 0.8 && x[2] == 32);
    assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_SOBOL, 0, 1, t, x, &err), 0);
    assert_true(fabs(x[0] - sqrt(1e-5)) < 1e-18 && fabs(x[1] - 0.895) < 1e-15 && x[2] == 64);
    assert_int_equal(sweep_sample(&s, SWEEP_SAMPLER_HALTON, 0, 1, t, x, &err), 0);
    assert_true(fabs(x[1] - (0.8 + 0.19 / 3)) < 1e-15); /* 1 in base 3: 1/3 */
    /* a seed shifts Sobol digitally: the first 16 points still fill the 16 boxes of [0, 1) once */
    sweep_space one = {0};
    assert_int_equal(sweep_space_add(&one, "optimizer.momentum=uniform(0, 1)", false, &err), 0);
    for (uint64_t seed = 0; seed < 3; seed++) {
        int box[16] = {0};
        bool moved = false;
        for (int n = 0; n < 16; n++) {
            assert_int_equal(sweep_sample(&one, SWEEP_SAMPLER_SOBOL, seed, n, t, x, &err), 0);
            assert_true(x[0] >= 0 && x[0] < 1);
            box[(int)(x[0] * 16)]++;
            moved |= x[0] != sweep_sobol((uint64_t)n, 0);
            assert_int_equal(sweep_sample(&one, SWEEP_SAMPLER_HALTON, seed, n, t, y, &err), 0);
            assert_true(y[0] >= 0 && y[0] < 1);
            assert_true(seed > 0 || y[0] == sweep_halton((uint64_t)n, 0));
        }
        for (int b = 0; b < 16; b++)
            assert_int_equal(box[b], 1);
        assert_true(moved == (seed > 0)); /* seed 0: scipy's unscrambled points */
    }
    sweep_space_free(&one);
    sweep_sampler k;
    assert_int_equal(sweep_sampler_parse("sobol", &k, &err), 0);
    assert_int_equal(k, SWEEP_SAMPLER_SOBOL);
    assert_int_equal(sweep_sampler_parse("tpe", &k, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "grid, random, sobol, halton"));
    sweep_space_free(&s);
}

static void expect_spec(const char *ini, const char *key, const char *value, const char *sec, const char *want)
{
    eta_config *c;
    eta_err err;
    assert_int_equal(eta_config_read_string(&c, ini, strlen(ini), "t.ini", &err), 0);
    int rc = sweep_config_set(c, key, value, &err);
    if (want[0] == '!') {
        assert_int_equal(rc, ETA_EINVAL);
        if (!strstr(err.msg, want + 1))
            fail_msg("%s=%s: message '%s' lacks '%s'", key, value, err.msg, want + 1);
    } else {
        if (rc)
            fail_msg("%s=%s: %s", key, value, err.msg);
        const char *got = eta_config_get(c, sec, strcmp(sec, "train") ? "spec" : "epochs");
        if (strcmp(got, want))
            fail_msg("%s=%s: got '%s', expected '%s'", key, value, got, want);
    }
    eta_config_free(c);
}

static void test_config_set(void **state)
{
    (void)state;
    const char *sgd = "[optimizer]\nspec = SGD(lr=0.05, momentum=0.9)\n";
    expect_spec(sgd, "optimizer.momentum", "0.5", "optimizer", "SGD(lr=0.05, momentum=0.5)");
    /* optimizer.lr is a key of its own (the run's peak rate): the spec stays */
    expect_spec(sgd, "optimizer.lr", "0.01", "optimizer", "SGD(lr=0.05, momentum=0.9)");
    expect_spec(sgd, "optimizer.nesterov", "True", "optimizer", "SGD(lr=0.05, momentum=0.9, nesterov=True)");
    expect_spec("[optimizer]\nspec = AdamW()\n", "optimizer.eps", "1e-6", "optimizer", "AdamW(eps=1e-6)");
    expect_spec("[optimizer]\nspec = SGD(0.1, momentum=0.9)\n", "optimizer.momentum", "0.5", "optimizer",
                "SGD(0.1, momentum=0.5)");
    expect_spec("[schedule]\nspec = OneCycleLR(max_lr=0.1)\n", "schedule.max_lr", "0.3", "schedule",
                "OneCycleLR(max_lr=0.3)");
    expect_spec(sgd, "optimizer", "Adam(lr=0.1)", "optimizer", "Adam(lr=0.1)");
    expect_spec(sgd, "train.epochs", "3", "train", "3");
    expect_spec(sgd, "train.epochs", "x", "train", "!train.epochs");
    expect_spec(sgd, "schedule.max_lr", "0.1", "schedule", "!the [schedule] spec does not parse");
    expect_spec("[optimizer]\nspec = [1, 2]\n", "optimizer.momentum", "0.1", "optimizer", "!is not a call");
    expect_spec(sgd, "trian.epochs", "3", "train", "!trian");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_lists_and_grid_sampler), cmocka_unit_test(test_random_samplers),
        cmocka_unit_test(test_config_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
