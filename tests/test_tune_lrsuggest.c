/* tests/test_tune_lrsuggest.c - the range test's arithmetic against the
 * anchors' own code (tests/ref/lrfind.txt, written by
 * tools/gen_ref_lrfind.py from line-by-line ports of fastai's valley,
 * slide, minimum, steep, lr_find's slice, SchedExp and SchedLin, and
 * Lightning's suggestion and smoothing): every rule on curves that are
 * smooth, noisy, cut by NaN, short, too short, flat, rising, and of a
 * linear sweep; the rates of a sweep; the smoothing and stop rule. Rates
 * the rules pick are points of the curve (or a tenth of one): they must be
 * equal; losses within 1e-12 (relative). Every line of the fixture is read,
 * an unknown one fails. Also by hand: the defaults (fastai's), the config
 * keys' defaults equal to them, valley's Python index -1, bad settings.
 * labels: ref unit full
 */
#include "harness.h"

#include "train/config.h"
#include "tune/lrfind.h"

enum { MAXN = 400 };

typedef struct curve {
    char name[64];
    int64_t steps, n;
    double lr[MAXN], smooth[MAXN];
    int rules_seen;
} curve;

static int64_t read_row(const char *rest, double *out)
{
    size_t n = read_doubles((char *)rest, out, MAXN);
    return (int64_t)n;
}

static int rules_checked, points_checked;
static double worst_loss;

static void check_rule(const curve *c, const char *rest)
{
    char name[32];
    int used = 0;
    if (sscanf(rest, "%31s %n", name, &used) != 1)
        fail_msg("%s: bad rule line '%s'", c->name, rest);
    eta_lr_rule rule;
    eta_err err;
    if (eta_lr_rule_parse(name, &rule, &err))
        fail_msg("%s: %s", c->name, err.msg);
    eta_lr_suggestion s;
    eta_lr_suggest(rule, c->lr, c->smooth, c->n, c->steps, &s);
    assert_int_equal(s.rule, rule);
    const char *v = rest + used;
    if (!strncmp(v, "none", 4)) {
        if (s.ok)
            fail_msg("%s: %s: the anchor has no suggestion, eta gives %.17g", c->name, name, s.lr);
        if (!s.why[0] || s.index != -1 || !isnan(s.lr))
            fail_msg("%s: %s: no suggestion should say why, with index -1 and lr NaN", c->name, name);
        rules_checked++;
        return;
    }
    double lr, loss;
    long long idx;
    if (sscanf(v, "lr %lf loss %lf index %lld", &lr, &loss, &idx) != 3)
        fail_msg("%s: bad rule line '%s'", c->name, rest);
    if (!s.ok)
        fail_msg("%s: %s: the anchor suggests %.17g, eta none (%s)", c->name, name, lr, s.why);
    if (s.lr != lr)
        fail_msg("%s: %s: lr %.17g, the anchor %.17g", c->name, name, s.lr, lr);
    if (s.index != idx)
        fail_msg("%s: %s: index %lld, the anchor %lld", c->name, name, (long long)s.index, idx);
    double e = rel_err(s.loss, loss);
    if (!(e <= 1e-12))
        fail_msg("%s: %s: loss %.17g, the anchor %.17g (rel err %.3g)", c->name, name, s.loss, loss, e);
    worst_loss = fmax(worst_loss, e);
    rules_checked++;
}

static void check_sweep(const char *head, const char *lrline)
{
    char mode[16];
    double start, end;
    long long steps;
    if (sscanf(head, "%15s start %lf end %lf steps %lld", mode, &start, &end, &steps) != 4)
        fail_msg("bad sweep line '%s'", head);
    eta_lrfind_config c = eta_lrfind_defaults();
    c.start = start;
    c.end = end;
    c.steps = steps;
    c.mode = !strcmp(mode, "linear") ? ETA_LRFIND_LINEAR : ETA_LRFIND_EXP;
    assert_int_equal(eta_lrfind_config_check(&c, NULL), ETA_OK);
    static double want[MAXN];
    int64_t n = read_row(lrline, want);
    assert_int_equal(n, steps);
    for (int64_t i = 0; i < n; i++)
        if (eta_lrfind_lr_at(&c, i) != want[i])
            fail_msg("sweep %s: batch %lld: %.17g, fastai %.17g", head, (long long)i, eta_lrfind_lr_at(&c, i),
                     want[i]);
    points_checked += (int)n;
}

static void check_smoother(const char *head, const double *raw, int64_t n, const double *want, int64_t nw,
                           long long stop)
{
    double beta, factor;
    if (sscanf(head, "beta %lf stop_factor %lf", &beta, &factor) != 2)
        fail_msg("bad smoother line '%s'", head);
    eta_lrfind_smoother s;
    eta_lrfind_smoother_init(&s, beta, factor);
    int64_t kept = -1;
    for (int64_t i = 0; i < n; i++) {
        double sm;
        bool stopped = eta_lrfind_smoother_add(&s, raw[i], &sm);
        assert_true(i < nw);
        double e = rel_err(sm, want[i]);
        if (!(e <= 1e-14) && !(isnan(sm) && isnan(want[i])))
            fail_msg("smoother %s: point %lld: %.17g, want %.17g", head, (long long)i, sm, want[i]);
        if (stopped) {
            kept = i + 1;
            break;
        }
    }
    if (kept != stop)
        fail_msg("smoother %s: stops after %lld points, want %lld", head, (long long)kept, stop);
    assert_int_equal(kept < 0 ? n : kept, nw);
    points_checked += (int)nw;
}

static void test_fixture(void **state)
{
    (void)state;
    char *text = read_file(ref_path("lrfind.txt"), NULL);
    if (!text)
        fail_msg("cannot read %s (run /usr/bin/python3 tools/gen_ref_lrfind.py)", ref_path("lrfind.txt"));
    static curve c;
    static double raw[MAXN], sm[MAXN];
    int ncases = 0, nsweeps = 0, nsmoothers = 0;
    enum { NONE, CASE, SWEEP, SMOOTHER } in = NONE;
    char head[256] = "";
    int64_t nraw = 0, nsm = 0;
    long long stop = -2;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strchr(line, ' ');
        const char *rest = sp ? sp + 1 : line + strlen(line);
        if (line[0] == '#')
            continue;
        if (!strncmp(line, "case ", 5) && in == NONE) {
            memset(&c, 0, sizeof c);
            snprintf(c.name, sizeof c.name, "%s", rest);
            c.steps = -1;
            in = CASE;
        } else if (!strncmp(line, "steps ", 6) && in == CASE) {
            c.steps = atoll(rest);
        } else if (!strncmp(line, "lr ", 3) && in == CASE) {
            c.n = read_row(rest, c.lr);
        } else if (!strncmp(line, "smooth ", 7) && in == CASE) {
            assert_int_equal(read_row(rest, c.smooth), c.n);
        } else if (!strncmp(line, "rule ", 5) && in == CASE) {
            assert_true(c.n > 0 && c.steps > 0);
            check_rule(&c, rest);
            c.rules_seen++;
        } else if (!strncmp(line, "sweep ", 6) && in == NONE) {
            snprintf(head, sizeof head, "%s", rest);
            in = SWEEP;
        } else if (!strncmp(line, "lr ", 3) && in == SWEEP) {
            check_sweep(head, rest);
            nsweeps++;
        } else if (!strncmp(line, "smoother ", 9) && in == NONE) {
            snprintf(head, sizeof head, "%s", rest);
            nraw = nsm = 0;
            stop = -2;
            in = SMOOTHER;
        } else if (!strncmp(line, "loss ", 5) && in == SMOOTHER) {
            nraw = read_row(rest, raw);
        } else if (!strncmp(line, "smooth ", 7) && in == SMOOTHER) {
            nsm = read_row(rest, sm);
        } else if (!strncmp(line, "stop ", 5) && in == SMOOTHER) {
            stop = atoll(rest);
        } else if (!strcmp(line, "end") && in != NONE) {
            if (in == CASE) {
                if (c.rules_seen != ETA_LR_RULE_COUNT)
                    fail_msg("%s: %d rules in the fixture, eta has %d", c.name, c.rules_seen, ETA_LR_RULE_COUNT);
                ncases++;
            } else if (in == SMOOTHER) {
                assert_true(stop != -2 && nraw > 0);
                check_smoother(head, raw, nraw, sm, nsm, stop);
                nsmoothers++;
            }
            in = NONE;
        } else {
            fail_msg("lrfind.txt: unknown line '%.60s'", line);
        }
    }
    assert_int_equal(in, NONE);
    assert_true(ncases >= 10 && nsweeps >= 3 && nsmoothers >= 5);
    print_message("  %d curves, %d rule suggestions, %d sweeps and %d smoothing cases (%d points); worst loss "
                  "error %.3g\n",
                  ncases, rules_checked, nsweeps, nsmoothers, points_checked, worst_loss);
    free(text);
}

/* fastai's defaults, and the config keys' defaults equal to them. */
static void test_defaults(void **state)
{
    (void)state;
    eta_lrfind_config d = eta_lrfind_defaults();
    assert_true(d.start == 1e-7 && d.end == 10 && d.steps == 100 && d.mode == ETA_LRFIND_EXP && d.beta == 0.98 &&
                d.stop_factor == 4);
    eta_config *cfg;
    eta_err err;
    assert_int_equal(eta_config_new(&cfg, NULL, &err), ETA_OK);
    eta_lrfind_config c;
    eta_lr_rule rule = ETA_LR_STEEP;
    assert_int_equal(eta_lrfind_config_read(cfg, &c, &rule, &err), ETA_OK);
    assert_true(c.start == d.start && c.end == d.end && c.steps == d.steps && c.mode == d.mode &&
                c.beta == d.beta && c.stop_factor == d.stop_factor);
    assert_int_equal(rule, ETA_LR_VALLEY);
    /* every key read: a config that sets each gives each back */
    const char *sets[] = {"lr_find.start=1e-6", "lr_find.end=3", "lr_find.steps=50", "lr_find.mode=linear",
                          "lr_find.beta=0.9", "lr_find.stop_factor=0", "lr_find.rule=log_gradient"};
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        assert_int_equal(eta_config_set(cfg, sets[i], &err), ETA_OK);
    assert_int_equal(eta_lrfind_config_read(cfg, &c, &rule, &err), ETA_OK);
    assert_true(c.start == 1e-6 && c.end == 3 && c.steps == 50 && c.mode == ETA_LRFIND_LINEAR && c.beta == 0.9 &&
                c.stop_factor == 0);
    assert_int_equal(rule, ETA_LR_LOG_GRADIENT);
    /* the schema's enum lists the rules in eta_lr_rule's order */
    for (int k = 0; k < ETA_LR_RULE_COUNT; k++) {
        char set[64];
        snprintf(set, sizeof set, "lr_find.rule=%s", eta_lr_rule_name((eta_lr_rule)k));
        assert_int_equal(eta_config_set(cfg, set, &err), ETA_OK);
        assert_int_equal(eta_lrfind_config_read(cfg, &c, &rule, &err), ETA_OK);
        assert_int_equal(rule, k);
        assert_true(strlen(eta_lr_rule_doc((eta_lr_rule)k)) > 20);
    }
    /* end below start: the check names it */
    assert_int_equal(eta_config_set(cfg, "lr_find.end=1e-8", &err), ETA_OK);
    assert_int_equal(eta_lrfind_config_read(cfg, &c, &rule, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "end must be"));
    eta_config_free(cfg);
}

/* Bad settings and names, each refused with the field named. */
static void test_bad_input(void **state)
{
    (void)state;
    const struct {
        eta_lrfind_config c;
        const char *want;
    } bad[] = {
        {{0, 10, 100, ETA_LRFIND_EXP, 0.98, 4}, "start must be"},
        {{1e-7, 1e-7, 100, ETA_LRFIND_EXP, 0.98, 4}, "end must be"},
        {{1e-7, INFINITY, 100, ETA_LRFIND_EXP, 0.98, 4}, "end must be"},
        {{1e-7, 10, 1, ETA_LRFIND_EXP, 0.98, 4}, "steps must be"},
        {{1e-7, 10, 100, ETA_LRFIND_MODE_COUNT, 0.98, 4}, "mode"},
        {{1e-7, 10, 100, ETA_LRFIND_EXP, 1, 4}, "beta must be"},
        {{1e-7, 10, 100, ETA_LRFIND_EXP, NAN, 4}, "beta must be"},
        {{1e-7, 10, 100, ETA_LRFIND_EXP, 0.98, 1}, "stop_factor must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eta_err err;
        assert_int_equal(eta_lrfind_config_check(&bad[i].c, &err), ETA_EINVAL);
        if (!strstr(err.msg, bad[i].want))
            fail_msg("case %zu: '%s' does not say '%s'", i, err.msg, bad[i].want);
    }
    eta_err err;
    eta_lr_rule r;
    assert_int_equal(eta_lr_rule_parse("valey", &r, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "valley"));
    assert_string_equal(eta_lr_rule_name(ETA_LR_RULE_COUNT), "?");
    eta_lr_suggestion s;
    eta_lr_suggest(ETA_LR_RULE_COUNT, NULL, NULL, 0, 100, &s);
    assert_false(s.ok);
}

/* By hand: fastai's valley on the slice [1:-5] of 10 points (steps 10).
 * Losses 3 2 1 | rising: the longest decreasing run starts at the slice's
 * point 0 and has 3 points, so max_start = 2 - 3 = -1 and
 * idx = -1 + int(1) + int(0.5) = 0. A decreasing pair alone gives
 * max_start -1, sections 2/3, idx -1: Python's last point. */
static void test_valley_by_hand(void **state)
{
    (void)state;
    double lr[10], loss[10] = {9, 3, 2, 1, 4, 5, 0, 0, 0, 0};
    for (int i = 0; i < 10; i++)
        lr[i] = 0.001 * (i + 1);
    eta_lr_suggestion s;
    eta_lr_suggest(ETA_LR_VALLEY, lr, loss, 10, 10, &s);
    assert_true(s.ok);
    assert_int_equal(s.index, 1);
    assert_true(s.lr == lr[1] && s.loss == 3);
    double two[7] = {9, 2, 1, 0, 0, 0, 0};
    eta_lr_suggest(ETA_LR_VALLEY, lr, two, 7, 10, &s); /* slice [1:2]: one point, lds [1]: idx 0 */
    assert_true(s.ok && s.index == 1);
    double pair[8] = {9, 2, 1, 0, 0, 0, 0, 0};
    eta_lr_suggest(ETA_LR_VALLEY, lr, pair, 8, 10, &s); /* slice [1:3] = 2, 1: idx -1, the last */
    assert_true(s.ok && s.index == 2 && s.lr == lr[2]);
    eta_lr_suggest(ETA_LR_MINIMUM, lr, pair, 8, 10, &s);
    assert_true(s.ok && s.index == 2 && s.lr == lr[2] / 10 && s.loss == 2); /* below the curve: its first loss */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_valley_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
