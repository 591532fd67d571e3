/* test_tune_pruner.c - the pruners (src/tune/pruner.c): decisions computed by
 * hand, and replayed against tests/ref/tune_pruners.txt. labels: unit ref full
 *
 * The fixture (tools/gen_ref_pruners.py) holds simulated studies run by
 * Optuna 3.1's MedianPruner, SuccessiveHalvingPruner and HyperbandPruner
 * (Debian's python3-optuna) and by a numpy transcription of Ray Tune's
 * ASHAScheduler: trials report noisy curves a few at a time, and every
 * report's decision (go, prune, done) is recorded. The replay feeds the same
 * reports to sweep_pruner_decide and needs the same decision every time.
 * By hand: numpy's percentile, Optuna's promotion rule, Ray's cutoff, the
 * median rule, Hyperband's bracket budgets, the parser's defaults and errors,
 * and when a distributed sweep's decision waits for earlier trials
 * (sweep_pruner_decide_ordered).
 */
#include "harness.h"

#include "tune/sweep.h"

/* A study built report by report. */
typedef struct study {
    sweep_study_view v;
    sweep_trial_view t[64];
    int64_t steps[64][128];
    double vals[64][128];
} study;

static void study_init(study *s, bool maximize, const char *name)
{
    memset(s, 0, sizeof *s);
    s->v.maximize = maximize;
    s->v.name = name;
    s->v.trials = s->t;
}

/* Trial `number` (a new one when it is the next) records value at step. */
static sweep_trial_view *add_value(study *s, int number, int64_t step, double value)
{
    assert_true(number <= s->v.ntrials && number < 64);
    if (number == s->v.ntrials) {
        sweep_trial_view *t = &s->t[s->v.ntrials++];
        t->number = number;
        t->state = SWEEP_RUNNING;
        t->steps = s->steps[number];
        t->vals = s->vals[number];
        for (int k = 0; k < SWEEP_MAX_RUNGS; k++)
            t->rungs[k] = NAN;
    }
    sweep_trial_view *t = &s->t[number];
    assert_true(t->nvals < 128);
    t->steps[t->nvals] = step;
    t->vals[t->nvals++] = value;
    return t;
}

/* Trial `number` reports value at step; returns the decision. */
static sweep_decision report(study *s, const sweep_pruner *p, int number, int64_t step, double value)
{
    sweep_trial_view *t = add_value(s, number, step, value);
    sweep_decision d = sweep_pruner_decide(p, &s->v, number);
    if (d == SWEEP_PRUNE)
        t->state = SWEEP_PRUNED;
    return d;
}

static sweep_pruner parse(const char *text)
{
    sweep_pruner p;
    eta_err err;
    if (sweep_pruner_parse(text, &p, &err))
        fail_msg("%s: %s", text, err.msg);
    return p;
}

static void test_percentile(void **state)
{
    (void)state;
    double a[] = {4, 1, 3, 2};
    assert_true(sweep_percentile(a, 4, 75) == 3.25); /* numpy.percentile([1, 2, 3, 4], 75) */
    double b[] = {NAN, 2, 4};
    assert_true(sweep_percentile(b, 3, 50) == 3); /* nanpercentile: the NaN left out */
    double c[] = {NAN};
    assert_true(isnan(sweep_percentile(c, 1, 50)));
    double d[] = {5};
    assert_true(sweep_percentile(d, 1, 75) == 5);
}

static void test_defaults(void **state)
{
    (void)state;
    sweep_pruner p = parse("sh");
    assert_int_equal(p.kind, SWEEP_PRUNER_SH);
    assert_int_equal(p.min_resource, 0); /* "auto" */
    assert_int_equal(p.reduction_factor, 4);
    assert_int_equal(p.min_early_stopping_rate, 0);
    assert_int_equal(p.bootstrap_count, 0);
    p = parse("asha");
    assert_int_equal(p.grace_period, 1);
    assert_int_equal(p.reduction_factor, 4);
    assert_int_equal(p.max_t, 100);
    p = parse("hyperband");
    assert_int_equal(p.min_resource, 1);
    assert_int_equal(p.max_resource, 0);
    assert_int_equal(p.reduction_factor, 3);
    p = parse("median");
    assert_int_equal(p.n_startup_trials, 5);
    assert_int_equal(p.n_warmup_steps, 0);
    assert_int_equal(p.interval_steps, 1);
    assert_int_equal(p.n_min_trials, 1);
    p = parse("sh(min_resource=430, reduction_factor=3)");
    assert_int_equal(p.min_resource, 430);
    assert_int_equal(p.reduction_factor, 3);
    assert_int_equal(parse("none").kind, SWEEP_PRUNER_NONE);
    eta_err err;
    assert_int_equal(sweep_pruner_parse("tpe", &p, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "unknown pruner 'tpe'"));
    assert_int_equal(sweep_pruner_parse("sh(grace_period=2)", &p, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "unexpected keyword argument 'grace_period'"));
    assert_int_equal(err.pos, 3);
    assert_int_equal(sweep_pruner_parse("asha(reduction_factor=1)", &p, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "reduction_factor must be >= 2"));
    assert_int_equal(sweep_pruner_parse("asha(max_t=0.5)", &p, &err), ETA_EINVAL);
    assert_int_equal(sweep_pruner_parse("asha(grace_period=5, max_t=3)", &p, &err), ETA_EINVAL);
    assert_int_equal(sweep_pruner_parse("sh(", &p, &err), ETA_EINVAL);
}

/* Optuna's rule, by hand: rung 0 at step 1 (min_resource 1); with n values
 * recorded, promoted iff within the best max(n // 4, 1). */
static void test_sh_by_hand(void **state)
{
    (void)state;
    study s;
    study_init(&s, false, "hand");
    sweep_pruner p = parse("sh(min_resource=1)");
    assert_int_equal(report(&s, &p, 0, 1, 0.5), SWEEP_GO);    /* [0.5]: the best */
    assert_int_equal(report(&s, &p, 1, 1, 0.6), SWEEP_PRUNE); /* [0.5, 0.6]: not the best */
    assert_int_equal(report(&s, &p, 2, 1, 0.4), SWEEP_GO);
    assert_int_equal(report(&s, &p, 3, 1, 0.45), SWEEP_PRUNE); /* 4 values: the best 1 */
    assert_true(s.t[3].rungs[0] == 0.45);                       /* recorded though pruned */
    assert_int_equal(report(&s, &p, 0, 2, 0.3), SWEEP_GO);      /* step 2 < rung 1's step 4 */
    assert_int_equal(report(&s, &p, 0, 4, 0.3), SWEEP_GO);      /* rung 1: alone */
    assert_int_equal(report(&s, &p, 2, 4, 0.35), SWEEP_PRUNE);  /* rung 1: behind 0.3 */
    /* 8 values at rung 0: the best 2 go on */
    for (int i = 4; i < 8; i++)
        report(&s, &p, i, 1, 0.7 + 0.01 * i);
    assert_int_equal(report(&s, &p, 8, 1, 0.42), SWEEP_GO); /* 9 values, the best 2: 0.4, 0.42 */
    /* a step past several rungs at once passes each in turn */
    study_init(&s, true, "hand");
    assert_int_equal(report(&s, &p, 0, 20, 0.9), SWEEP_GO);
    assert_true(s.t[0].rungs[0] == 0.9 && s.t[0].rungs[1] == 0.9 && s.t[0].rungs[2] == 0.9);
    assert_true(isnan(s.t[0].rungs[3])); /* rung 3 at step 64 */
    /* NaN at a rung: pruned; before a rung: going on */
    assert_int_equal(report(&s, &p, 1, 0, NAN), SWEEP_GO);
    assert_int_equal(report(&s, &p, 1, 1, NAN), SWEEP_PRUNE);
    /* min_resource "auto": nothing pruned before a trial completes, then max(last step // 100, 1) */
    study_init(&s, false, "hand");
    p = parse("sh");
    assert_int_equal(report(&s, &p, 0, 500, 0.5), SWEEP_GO);
    assert_int_equal(report(&s, &p, 1, 500, 0.9), SWEEP_GO);
    s.t[0].state = SWEEP_COMPLETE;                             /* last step 500: min_resource 5 */
    assert_int_equal(report(&s, &p, 2, 4, 0.9), SWEEP_GO);     /* before rung 0 */
    assert_int_equal(report(&s, &p, 2, 5, 0.9), SWEEP_GO);     /* rung 0: alone there */
    assert_int_equal(report(&s, &p, 3, 5, 1.0), SWEEP_PRUNE);  /* rung 0: behind 0.9 */
}

/* Ray's _Bracket docstring: _Bracket(min_t=1, max_t=10, rf=2): rewards 2, 4, then 1 stops (cutoff 3). */
static void test_asha_by_hand(void **state)
{
    (void)state;
    study s;
    study_init(&s, true, "hand");
    sweep_pruner p = parse("asha(grace_period=1, reduction_factor=2, max_t=10)");
    assert_int_equal(report(&s, &p, 0, 100, 2), SWEEP_GO);
    assert_int_equal(report(&s, &p, 1, 100, 4), SWEEP_GO);
    assert_int_equal(report(&s, &p, 2, 100, 1), SWEEP_PRUNE);
    assert_int_equal(report(&s, &p, 3, 100, 2), SWEEP_GO); /* at the cutoff (the median of 2, 4, 1): not below */
    /* the second report (t = 2) meets milestone 2, alone there */
    assert_int_equal(report(&s, &p, 1, 200, 5), SWEEP_GO);
    assert_true(s.t[1].rungs[1] == 5);
    /* minimizing: the reward is -value; 0.3 against rewards -0.2, -0.4 (cutoff -0.3 at rf 2) */
    study_init(&s, false, "hand");
    assert_int_equal(report(&s, &p, 0, 1, 0.2), SWEEP_GO);
    assert_int_equal(report(&s, &p, 1, 1, 0.4), SWEEP_PRUNE); /* -0.4 < cutoff -0.2 */
    assert_int_equal(report(&s, &p, 2, 1, 0.3), SWEEP_GO);    /* -0.3 = cutoff -0.3: not below */
    /* max_t reports end the trial */
    p = parse("asha(max_t=2)");
    assert_int_equal(report(&s, &p, 0, 2, 0.1), SWEEP_DONE);
}

/* MedianPruner by hand: two completed trials at step 0 (1.0 and 3.0): median 2. */
static void test_median_by_hand(void **state)
{
    (void)state;
    study s;
    study_init(&s, false, "hand");
    sweep_pruner p = parse("median(n_startup_trials=2)");
    assert_int_equal(report(&s, &p, 0, 0, 1.0), SWEEP_GO);
    s.t[0].state = SWEEP_COMPLETE;
    assert_int_equal(report(&s, &p, 1, 0, 3.0), SWEEP_GO); /* one completed trial: below n_startup_trials */
    s.t[1].state = SWEEP_COMPLETE;
    assert_int_equal(report(&s, &p, 2, 0, 2.5), SWEEP_PRUNE); /* 2.5 > 2 */
    assert_int_equal(report(&s, &p, 3, 0, 1.5), SWEEP_GO);
    assert_int_equal(report(&s, &p, 3, 1, 9.0), SWEEP_GO); /* no completed value at step 1 */
    /* the best value so far counts, not the last */
    assert_int_equal(report(&s, &p, 4, 0, 1.9), SWEEP_GO);
    p = parse("median(n_startup_trials=2, n_warmup_steps=1)");
    assert_int_equal(report(&s, &p, 5, 0, 9.0), SWEEP_GO); /* in the warm-up */
}

/* Hyperband's brackets for max_resource 81, rf 3: floor(log3 81) + 1 = 5 brackets, budgets
 * ceil(5 * 3^s / (s + 1)) = 81, 34, 15, 8, 5; bracket b is successive halving with s = b. */
static void test_hyperband_by_hand(void **state)
{
    (void)state;
    study s;
    study_init(&s, false, "fixture");
    sweep_pruner p = parse("hyperband(max_resource=81)");
    /* crc32("fixture_0") mod 143 falls in one bracket; its first rung is at 3^b, so a trial pruned
     * at step 1 is in bracket 0: the two trials below are compared only if both are in it */
    int64_t budget_sum = 81 + 34 + 15 + 8 + 5;
    uint32_t c0 = eta_crc32(0, "fixture_0", 9);
    int64_t r = (int64_t)(c0 % (uint32_t)budget_sum), b = 0;
    int64_t budgets[] = {81, 34, 15, 8, 5};
    while ((r -= budgets[b]) >= 0)
        b++;
    int64_t first = 1;
    for (int i = 0; i < b; i++)
        first *= 3;
    assert_int_equal(report(&s, &p, 0, first - 1, 0.5), SWEEP_GO);
    assert_true(isnan(s.t[0].rungs[0]));
    assert_int_equal(report(&s, &p, 0, first, 0.5), SWEEP_GO); /* its bracket's first rung */
    assert_true(s.t[0].rungs[0] == 0.5);
}

/* Trial `number` reports value at step, decided in a one-process sweep's order on the trials up to
 * it: the decision, or -1 when it must wait (the report then taken back, as the study rolls it back). */
static int ordered(study *s, const sweep_pruner *p, int number, int64_t step, double value)
{
    sweep_trial_view *t = add_value(s, number, step, value);
    int all = s->v.ntrials;
    s->v.ntrials = number + 1; /* the later trials hidden */
    sweep_decision d;
    int ready = sweep_pruner_decide_ordered(p, &s->v, number, &d);
    s->v.ntrials = all;
    if (!ready) {
        t->nvals--;
        return -1;
    }
    if (d == SWEEP_PRUNE)
        t->state = SWEEP_PRUNED;
    return (int)d;
}

static void test_ordered_by_hand(void **state)
{
    (void)state;
    study s;
    /* median: trial 1's report waits while trial 0 has not reported at its step, then while the
     * answer depends on whether trial 0 completes; a one-process sweep compares with trial 0 done */
    study_init(&s, false, "hand");
    sweep_pruner p = parse("median(n_startup_trials=1)");
    assert_int_equal(ordered(&s, &p, 0, 5, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 5.0), -1); /* trial 0 not yet at step 10 */
    assert_int_equal(ordered(&s, &p, 0, 10, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 5.0), -1); /* pruned if trial 0 completes, not otherwise */
    s.t[0].state = SWEEP_COMPLETE;
    assert_int_equal(ordered(&s, &p, 1, 10, 5.0), SWEEP_PRUNE); /* 5 > the median 1 */
    /* a trial that ends without completing leaves nothing to compare with */
    study_init(&s, false, "hand");
    assert_int_equal(ordered(&s, &p, 0, 10, 1.0), SWEEP_GO);
    s.t[0].state = SWEEP_PRUNED;
    assert_int_equal(ordered(&s, &p, 1, 10, 5.0), SWEEP_GO);
    /* before n_startup_trials earlier trials exist the rule reads no other trial: no wait */
    study_init(&s, false, "hand");
    p = parse("median(n_startup_trials=2)");
    assert_int_equal(ordered(&s, &p, 0, 0, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 5.0), SWEEP_GO);
    /* sh with its resource given: a trial waits for the earlier ones to reach its rung, not to end */
    study_init(&s, false, "hand");
    p = parse("sh(min_resource=10, reduction_factor=2)");
    assert_int_equal(ordered(&s, &p, 0, 5, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 3.0), -1);
    assert_int_equal(ordered(&s, &p, 0, 10, 2.0), SWEEP_GO); /* rung 0: 2.0 */
    assert_int_equal(ordered(&s, &p, 1, 10, 3.0), SWEEP_PRUNE); /* 3.0 is not the best of 2.0, 3.0 */
    assert_true(s.t[1].rungs[0] == 3.0);
    /* "auto" resources read how long the completed trials ran: wait for trial 0 to end */
    study_init(&s, false, "hand");
    p = parse("sh");
    assert_int_equal(ordered(&s, &p, 0, 100, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 50, 3.0), -1);
    s.t[0].state = SWEEP_COMPLETE; /* its last step 100: min_resource 1, rungs at steps 1, 4, 16 */
    assert_int_equal(ordered(&s, &p, 1, 50, 3.0), SWEEP_GO); /* trial 0 recorded none: alone at each */
    assert_true(s.t[1].rungs[2] == 3.0 && isnan(s.t[1].rungs[3]));
    /* asha counts reports: trial 1's second report waits for trial 0's second, whatever their steps */
    study_init(&s, false, "hand");
    p = parse("asha");
    assert_int_equal(ordered(&s, &p, 0, 50, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 3.0), SWEEP_PRUNE); /* rung 0: reward -3 below the cutoff -1 */
    study_init(&s, false, "hand");
    assert_int_equal(ordered(&s, &p, 0, 50, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 0.5), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 20, 0.4), -1); /* trial 0 has one report, at step 50 */
    assert_int_equal(ordered(&s, &p, 0, 100, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 20, 0.4), SWEEP_GO);
    /* none never waits */
    study_init(&s, false, "hand");
    p = parse("none");
    assert_int_equal(ordered(&s, &p, 0, 5, 1.0), SWEEP_GO);
    assert_int_equal(ordered(&s, &p, 1, 10, 9.0), SWEEP_GO);
}

static sweep_decision decision_parse(const char *s)
{
    if (!strcmp(s, "go"))
        return SWEEP_GO;
    if (!strcmp(s, "prune"))
        return SWEEP_PRUNE;
    if (!strcmp(s, "done"))
        return SWEEP_DONE;
    fail_msg("tune_pruners.txt: unknown decision '%s'", s);
    return SWEEP_GO;
}

static void test_fixture(void **state)
{
    (void)state;
    char *text = read_file(ref_path("tune_pruners.txt"), NULL);
    assert_non_null(text);
    static study s;
    sweep_pruner p = {0};
    char name[64] = "", spec[200] = "", study_name[64] = "";
    int cases = 0, reports = 0, prunes = 0, dones = 0;
    bool maximize = false;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char key[16];
        if (line[0] == '#')
            continue;
        assert_int_equal(sscanf(line, "%15s", key), 1);
        const char *rest = line + strlen(key) + (line[strlen(key)] == ' ');
        if (!strcmp(key, "case")) {
            snprintf(name, sizeof name, "%s", rest);
        } else if (!strcmp(key, "pruner")) {
            snprintf(spec, sizeof spec, "%s", rest);
            p = parse(spec);
        } else if (!strcmp(key, "direction")) {
            assert_true(!strcmp(rest, "minimize") || !strcmp(rest, "maximize"));
            maximize = !strcmp(rest, "maximize");
        } else if (!strcmp(key, "study")) {
            snprintf(study_name, sizeof study_name, "%s", rest);
            study_init(&s, maximize, study_name);
        } else if (!strcmp(key, "report")) {
            int number;
            long long step;
            char val[64], dec[16];
            assert_int_equal(sscanf(rest, "%d %lld %63s %15s", &number, &step, val, dec), 4);
            sweep_decision want = decision_parse(dec), got = report(&s, &p, number, step, strtod(val, NULL));
            if (got != want)
                fail_msg("%s (%s): trial %d at step %lld (value %s): %d, the reference %s", name, spec, number, step,
                         val, (int)got, dec);
            reports++;
            prunes += want == SWEEP_PRUNE;
            dones += want == SWEEP_DONE;
        } else if (!strcmp(key, "complete")) {
            int number = atoi(rest);
            assert_true(number < s.v.ntrials);
            s.t[number].state = SWEEP_COMPLETE;
        } else if (!strcmp(key, "end")) {
            cases++;
        } else {
            fail_msg("tune_pruners.txt: unknown key '%s'", key);
        }
    }
    assert_int_equal(cases, 9);
    assert_true(prunes > 20 && dones > 0);
    print_message("%d cases, %d reports, %d prunes, %d done: every decision as the reference's\n", cases, reports,
                  prunes, dones);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_percentile),   cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_sh_by_hand),   cmocka_unit_test(test_asha_by_hand),
        cmocka_unit_test(test_median_by_hand), cmocka_unit_test(test_hyperband_by_hand),
        cmocka_unit_test(test_ordered_by_hand),
        cmocka_unit_test(test_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
