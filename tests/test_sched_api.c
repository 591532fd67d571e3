/* tests/test_sched_api.c - schedules beyond their values: bad input gives a
 * located error (never a NaN), plateau rules inside sequences, exact resume
 * of stateful schedules, corrupt state files, and driving an optimizer's
 * learning rate and momentum (or beta1) per group.
 * labels: unit
 */
#include "harness.h"

#include <eta/eta.h>

static void expect_error(const char *spec, const char *needle)
{
    eta_sched *s = NULL;
    eta_err err;
    int rc = eta_sched_new(&s, spec, &err);
    if (rc == ETA_OK || !strstr(err.msg, needle)) {
        eta_sched_free(s);
        fail_msg("%s: rc %d, message '%s' (expected '%s')", spec, rc, err.msg, needle);
    }
    assert_null(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    expect_error("StepLR(step_size=-1)", "step_size must be >= 1");
    expect_error("StepLR(step_size=2.5)", "step_size must be an integer");
    expect_error("StepLR()", "missing required argument 'step_size'");
    expect_error("StepLR(step_size=3, gama=0.5)", "unexpected keyword argument 'gama'");
    expect_error("ExponentialLR(gamma=nan)", "gamma must be >= 0, got nan");
    expect_error("CosineAnnealingLR(T_max=0)", "T_max must be > 0, got 0");
    expect_error("MultiStepLR(milestones=[30, 10])", "milestones must be in increasing order");
    expect_error("OneCycleLR(max_lr=0.1)", "You must define either total_steps OR (epochs AND steps_per_epoch)");
    expect_error("OneCycleLR(max_lr=0.1, total_steps=100, anneal_strategy='cosine')",
                 "anneal_strategy must be one of 'cos', 'linear', got 'cosine'");
    expect_error("OneCycleLR(max_lr=0.1, total_steps=100, pct_start=1.5)", "pct_start must be in [0, 1]");
    expect_error("CyclicLR(base_lr=0.01, max_lr=0.1, mode='triangle')", "mode must be one of 'triangular'");
    expect_error("SequentialLR([StepLR(step_size=3), ExponentialLR(gamma=0.9)], milestones=[])",
                 "expects number of schedulers provided to be one more than the number of milestone points");
    expect_error("SequentialLR([StepLR(step_size=3), ExponentialLR(gamma=0.9), StepLR(step_size=2)], "
                 "milestones=[10, 5])",
                 "milestones must be increasing");
    expect_error("LambdaLR(lr_lambda=f)", "Python callable");
    expect_error("StepLR", "expected a schedule");
    expect_error("StepLRR(step_size=3)", "unknown schedule 'StepLRR'; did you mean StepLR? (eta schedule --list shows all ");
    expect_error("ReduceLROnPlateau(factor=1.0)", "factor must be in [0, 1)");
    expect_error("ReduceLROnPlateau(mode='minimum')", "mode must be one of 'min', 'max'");
    expect_error("SequentialLR([StepLR(step_size=3), 5], milestones=[3])", "expected a schedule");
    /* The location points into the text. */
    eta_sched *s;
    eta_err err;
    const char *spec = "SequentialLR([LinearLR(start_factor=2), ExponentialLR(gamma=0.9)], milestones=[3])";
    assert_int_equal(eta_sched_new(&s, spec, &err), ETA_EINVAL);
    assert_int_equal(err.pos, (int)(strstr(spec, "2)") - spec));
    /* A step past OneCycleLR's end is refused, in eta's terms, and its lr
     * is NaN rather than an extrapolation. */
    assert_int_equal(eta_sched_new(&s, "OneCycleLR(max_lr=0.1, total_steps=10)", NULL), 0);
    assert_int_equal(eta_sched_check_step(s, 10, NULL), 0);
    assert_int_equal(eta_sched_check_step(s, 11, &err), ETA_EINVAL);
    assert_string_equal(err.msg, "step 11 is past the end of the schedule, which is defined for steps 0 to 10 "
                                 "(a run of 10 steps)");
    assert_int_equal(eta_sched_last_step(s), 10);
    assert_true(isnan(eta_sched_lr(s, 11, 0.1)));
    assert_true(isnan(eta_sched_lr(s, -1, 0.1)));
    eta_sched_free(s);
    eta_sched_free(NULL);
    /* A bounded child ends a sequence only if it runs out before its turn. */
    assert_int_equal(eta_sched_new(&s, "SequentialLR([OneCycleLR(max_lr=1.0, total_steps=10), ConstantLR(factor=1.0)], "
                                       "milestones=[10])", NULL), 0);
    assert_int_equal(eta_sched_check_step(s, 1000000, NULL), 0);
    assert_true(eta_sched_lr(s, 500, 0.1) == 0.1);
    eta_sched_free(s);
    assert_int_equal(eta_sched_new(&s, "SequentialLR([OneCycleLR(max_lr=1.0, total_steps=10), ConstantLR(factor=1.0)], "
                                       "milestones=[20])", NULL), 0);
    assert_int_equal(eta_sched_check_step(s, 10, NULL), 0);
    assert_int_equal(eta_sched_check_step(s, 11, NULL), ETA_EINVAL);
    eta_sched_free(s);
}

/* Warm-up, then a plateau rule (pytorch#68978): the plateau sees only the
 * metrics of its own steps and reduces from the initial lr. */
static void test_plateau_inside_sequence(void **state)
{
    (void)state;
    eta_sched *s;
    assert_int_equal(eta_sched_new(&s, "SequentialLR([LinearLR(start_factor=0.1, total_iters=5), "
                                       "ReduceLROnPlateau(factor=0.5, patience=2)], milestones=[5])",
                                   NULL),
                     0);
    assert_true(eta_sched_needs_metric(s));
    double base = 1.0;
    for (int t = 0; t < 5; t++) {
        assert_true(fabs(eta_sched_lr(s, t, base) - (0.1 + 0.9 * t / 5)) < 1e-15);
        /* Rising metrics during warm-up must not count against the plateau. */
        assert_int_equal(eta_sched_observe(s, t, 10.0 + t, &base, 1, NULL), 0);
    }
    double lr[20];
    for (int t = 5; t < 20; t++) {
        lr[t] = eta_sched_lr(s, t, base);
        assert_int_equal(eta_sched_observe(s, t, 1.0, &base, 1, NULL), 0); /* flat from step 5 */
    }
    /* Step 5 sets best; 6, 7, 8 are bad; the third bad one (> patience 2) halves from step 9. */
    for (int t = 5; t <= 8; t++)
        assert_true(lr[t] == 1.0);
    assert_true(lr[9] == 0.5 && lr[12] == 0.25 && lr[15] == 0.125);
    eta_err err;
    /* trigger='keras' reduces one observation earlier (wait >= patience). */
    eta_sched *k;
    assert_int_equal(eta_sched_new(&k, "ReduceLROnPlateau(factor=0.5, patience=2, trigger='keras')", NULL), 0);
    double lk[8];
    for (int t = 0; t < 8; t++) {
        lk[t] = eta_sched_lr(k, t, base);
        assert_int_equal(eta_sched_observe(k, t, 1.0, &base, 1, NULL), 0);
    }
    assert_true(lk[2] == 1.0 && lk[3] == 0.5 && lk[5] == 0.25 && lk[7] == 0.125);
    eta_sched_free(k);
    assert_int_equal(eta_sched_observe(s, 3, 1.0, &base, 1, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "observe in order"));
    assert_int_equal(eta_sched_observe(s, 30, NAN, &base, 1, &err), ETA_ENONFINITE);
    eta_sched_free(s);
}

/* Save at step k, restore into a schedule built from the same spec, go on:
 * the same bits as an uninterrupted run. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    const char *specs[] = {
        "ReduceLROnPlateau(mode='max', factor=0.3, patience=1, cooldown=2, min_lr=[0.001, 0.0001])",
        "ChainedScheduler([ExponentialLR(gamma=0.99), ReduceLROnPlateau(patience=0, factor=0.7)])",
        "SequentialLR([ConstantLR(factor=0.5, total_iters=3), ReduceLROnPlateau(patience=1)], milestones=[4])",
    };
    double base[2] = {0.1, 0.05};
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        eta_sched *a, *b;
        assert_int_equal(eta_sched_new(&a, specs[k], NULL), 0);
        uint64_t seed = 3;
        double metric[60];
        for (int t = 0; t < 60; t++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            metric[t] = (double)(seed >> 40) / (1 << 24) + (t % 7 == 0 ? -0.5 : 0);
        }
        double want[60][2];
        void *buf = NULL;
        size_t len = 0;
        for (int t = 0; t < 60; t++) {
            if (t == 25)
                assert_int_equal(eta_sched_save(a, &buf, &len), 0);
            for (int g = 0; g < 2; g++)
                want[t][g] = eta_sched_lr_group(a, t, base[g], g);
            assert_int_equal(eta_sched_observe(a, t, metric[t], base, 2, NULL), 0);
        }
        assert_int_equal(eta_sched_new(&b, specs[k], NULL), 0);
        eta_err err;
        assert_int_equal(eta_sched_load(b, buf, len, &err), 0);
        for (int t = 25; t < 60; t++) {
            for (int g = 0; g < 2; g++) {
                double got = eta_sched_lr_group(b, t, base[g], g);
                if (memcmp(&got, &want[t][g], sizeof got))
                    fail_msg("%s: resumed step %d group %d: %.17g, uninterrupted %.17g", specs[k], t, g, got,
                             want[t][g]);
            }
            assert_int_equal(eta_sched_observe(b, t, metric[t], base, 2, NULL), 0);
        }
        /* Corrupt, truncated or foreign state is refused and changes nothing. */
        unsigned char *p = buf;
        p[len / 2] ^= 1;
        assert_int_equal(eta_sched_load(b, buf, len, &err), ETA_EFORMAT);
        p[len / 2] ^= 1;
        assert_int_equal(eta_sched_load(b, buf, len - 3, &err), ETA_EFORMAT);
        eta_sched *other;
        assert_int_equal(eta_sched_new(&other, "StepLR(step_size=3)", NULL), 0);
        assert_int_equal(eta_sched_load(other, buf, len, &err), ETA_EFORMAT);
        eta_sched_free(other);
        free(buf);
        eta_sched_free(a);
        eta_sched_free(b);
    }
}

/* eta_sched_apply drives each group's lr from its initial lr, and the
 * momentum or Adam's beta1 for cycling schedules. */
static void test_apply_to_optimizer(void **state)
{
    (void)state;
    eta_optim_config cfg;
    assert_int_equal(eta_optim_config_from_spec(&cfg, "Adam(lr=0.01)", NULL), 0);
    eta_optim *opt;
    assert_int_equal(eta_optim_new(&opt, &cfg, NULL), 0);
    eta_optim_hparams hp;
    eta_optim_get_hparams(opt, 0, &hp);
    hp.lr = 0.02;
    assert_int_equal(eta_optim_add_group(opt, &hp), 1);
    float x[4] = {0}, g[4] = {0};
    assert_int_equal(eta_optim_add_param(opt, 0, x, g, 1, (int64_t[]){2}), 0);
    assert_int_equal(eta_optim_add_param(opt, 1, x + 2, g + 2, 1, (int64_t[]){2}), 1);
    eta_sched *s;
    assert_int_equal(eta_sched_new(&s, "OneCycleLR(max_lr=[0.1, 0.05], total_steps=100)", NULL), 0);
    assert_int_equal(eta_sched_groups(s), 2);
    for (int t = 0; t < 100; t++) {
        assert_int_equal(eta_sched_apply(s, opt, t), 0);
        assert_true(eta_optim_lr(opt, 0) == eta_sched_lr_group(s, t, 0.01, 0));
        assert_true(eta_optim_lr(opt, 1) == eta_sched_lr_group(s, t, 0.02, 1));
        assert_true(eta_optim_momentum(opt, 0) == eta_sched_momentum_group(s, t, 0.9, 0)); /* beta1 */
        assert_int_equal(eta_optim_step(opt), 0);
    }
    assert_true(fabs(eta_optim_lr(opt, 1) - 0.05 / 25 / 1e4) < 1e-12);
    eta_sched_free(s);
    /* A per-group list that does not match the optimizer's groups. */
    assert_int_equal(eta_sched_new(&s, "CyclicLR(base_lr=[0.1, 0.2, 0.3], max_lr=1.0)", NULL), 0);
    assert_int_equal(eta_sched_apply(s, opt, 0), ETA_EINVAL);
    eta_sched_free(s);
    /* StepLR scales each group's own initial lr. */
    assert_int_equal(eta_sched_new(&s, "StepLR(step_size=2, gamma=0.5)", NULL), 0);
    assert_int_equal(eta_sched_apply(s, opt, 5), 0);
    assert_true(eta_optim_lr(opt, 0) == 0.01 * 0.25 && eta_optim_lr(opt, 1) == 0.02 * 0.25);
    eta_sched_free(s);
    eta_optim_free(opt);
}

/* ChainedScheduler and SequentialLR run PyTorch's recursion by default
 * (values: test_sched_ref.c); mode='compose' is eta's composition of closed
 * forms. The recursion is a pure function of the step: any order of
 * queries, any mix of groups and bases, gives the same bits. */
static void test_recursion_and_compose(void **state)
{
    (void)state;
    eta_sched *t, *c;
    eta_err err;
    /* The case PyTorch and the composition disagree on (step 6). */
    const char *chain = "ChainedScheduler([StepLR(step_size=6, gamma=0.723827), "
                        "CosineAnnealingLR(T_max=11, eta_min=0.000210606)]";
    char spec[256];
    snprintf(spec, sizeof spec, "%s)", chain);
    assert_int_equal(eta_sched_new(&t, spec, NULL), 0);
    snprintf(spec, sizeof spec, "%s, mode='compose')", chain);
    assert_int_equal(eta_sched_new(&c, spec, NULL), 0);
    assert_true(eta_sched_lr(t, 6, 0.523134) == 0.16248645548788707);
    assert_true(eta_sched_lr(c, 6, 0.523134) == 0.16250518351100912);
    /* Queries out of order and interleaved with other groups and bases. */
    double fwd[400];
    for (int s = 0; s < 400; s++)
        fwd[s] = eta_sched_lr(t, s, 0.523134);
    for (int s = 399; s >= 0; s -= 7) {
        double a = eta_sched_lr(t, s, 0.523134), b = eta_sched_lr_group(t, s, 0.1, 1);
        (void)b;
        if (memcmp(&a, &fwd[s], sizeof a))
            fail_msg("step %d: %.17g backwards, %.17g forwards", s, a, fwd[s]);
    }
    eta_sched *alone;
    snprintf(spec, sizeof spec, "%s)", chain);
    assert_int_equal(eta_sched_new(&alone, spec, NULL), 0);
    for (int s = 0; s < 400; s++) { /* the same group with another base in between */
        double other = eta_sched_lr(t, s, 2.0), a = eta_sched_lr(t, s, 0.523134), want = eta_sched_lr(alone, s, 2.0);
        if (memcmp(&a, &fwd[s], sizeof a) || memcmp(&other, &want, sizeof a))
            fail_msg("step %d: %.17g and %.17g interleaved, %.17g and %.17g alone", s, a, other, fwd[s], want);
    }
    eta_sched_free(alone);
    assert_true(eta_sched_lr(t, 6.9, 0.523134) == fwd[6]); /* whole steps */
    eta_sched_free(t);
    eta_sched_free(c);

    /* SequentialLR: SWALR after a milestone anneals from the lr the cosine
     * left (PyTorch 2.x); composed, from the initial lr. */
    const char *seq = "SequentialLR([CosineAnnealingLR(T_max=50, eta_min=0.01), SWALR(swa_lr=0.02, anneal_epochs=5)], "
                      "milestones=[30]";
    snprintf(spec, sizeof spec, "%s)", seq);
    assert_int_equal(eta_sched_new(&t, spec, NULL), 0);
    snprintf(spec, sizeof spec, "%s, mode='compose')", seq);
    assert_int_equal(eta_sched_new(&c, spec, NULL), 0);
    assert_true(eta_sched_lr(t, 30, 0.1) == eta_sched_lr(t, 29, 0.1));
    assert_true(eta_sched_lr(c, 30, 0.1) == 0.1);
    assert_true(fabs(eta_sched_lr(t, 40, 0.1) - 0.02) < 1e-15 && fabs(eta_sched_lr(c, 40, 0.1) - 0.02) < 1e-15);
    eta_sched_free(t);
    eta_sched_free(c);

    /* mode='compose' passes down to composites that give no mode. */
    assert_int_equal(eta_sched_new(&c, "ChainedScheduler([LinearLR(start_factor=0.5, total_iters=4), "
                                       "SequentialLR([ExponentialLR(gamma=0.9), SWALR(swa_lr=0.02)], "
                                       "milestones=[3])], mode='compose')",
                                   NULL),
                     0);
    assert_true(eta_sched_lr(c, 3, 1.0) == 0.875); /* SWALR restarts from the composed base, not 0.9^2 */
    eta_sched_free(c);

    /* ConstantLR(factor=0) cannot be undone by the recursion (PyTorch
     * divides by the factor); composed it can. */
    const char *zero = "SequentialLR([ConstantLR(factor=0.0, total_iters=3), ExponentialLR(gamma=0.9)], milestones=[5]";
    snprintf(spec, sizeof spec, "%s)", zero);
    assert_int_equal(eta_sched_new(&t, spec, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "pass mode='compose'"));
    assert_int_equal(err.pos, (int)(strstr(spec, "ConstantLR") - spec));
    snprintf(spec, sizeof spec, "%s, mode='compose')", zero);
    assert_int_equal(eta_sched_new(&c, spec, NULL), 0);
    assert_true(eta_sched_lr(c, 2, 1.0) == 0 && eta_sched_lr(c, 4, 1.0) == 1.0);
    eta_sched_free(c);
    assert_int_equal(eta_sched_new(&t, "ChainedScheduler([ConstantLR(factor=0.5), StepLR(3)], mode='recurse')", &err),
                     ETA_EINVAL);
    assert_non_null(strstr(err.msg, "mode must be one of 'torch', 'compose'"));

    /* A plateau rule in a recursion scales its result once per reduction. */
    assert_int_equal(eta_sched_new(&t, "ChainedScheduler([ExponentialLR(gamma=0.9), "
                                       "ReduceLROnPlateau(patience=0, factor=0.5)])",
                                   NULL),
                     0);
    double one = 1.0;
    assert_int_equal(eta_sched_observe(t, 0, 1.0, &one, 1, NULL), 0); /* best */
    assert_int_equal(eta_sched_observe(t, 1, 1.0, &one, 1, NULL), 0); /* bad: halves from step 2 */
    for (int s = 2; s < 20; s++)
        assert_true(rel_err(eta_sched_lr(t, s, 1.0), 0.5 * pow(0.9, s)) < 1e-14);
    eta_sched_free(t);

    /* A stateful link whose value is absolute (scikit-learn's 'adaptive')
     * changes the recursion when it observes: the cursor starts over. */
    assert_int_equal(eta_sched_new(&t, "ChainedScheduler([SGDRegressor(learning_rate='adaptive', eta0=1.0, "
                                       "n_iter_no_change=1), ExponentialLR(gamma=0.5)])",
                                   NULL),
                     0);
    assert_true(eta_sched_lr(t, 3, 1.0) == 0.5);
    assert_int_equal(eta_sched_observe(t, 3, 1.0, &one, 1, NULL), 0);
    assert_int_equal(eta_sched_observe(t, 4, 1.0, &one, 1, NULL), 0); /* a miss: eta0 / 5 */
    assert_true(rel_err(eta_sched_lr(t, 5, 1.0), 0.1) < 1e-15);
    eta_sched_free(t);
}

/* The length of the run a schedule is written for (eta_sched_length), which
 * `eta schedule` prints by default. */
static void test_length(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        int64_t length;
    } cases[] = {
        {"OneCycleLR(max_lr=0.1, total_steps=300)", 300},
        {"OneCycleLR(max_lr=0.1, epochs=4, steps_per_epoch=25)", 100},
        {"CosineAnnealingLR(T_max=500)", 500},
        {"CosineAnnealingLR(T_max=10.5)", 11},
        {"PolynomialLR()", 5},
        {"PolynomialLR(total_iters=40, power=2.0)", 40},
        {"StepLR(step_size=3)", 0},
        {"MultiStepLR(milestones=[30, 80])", 0},
        {"ExponentialLR(gamma=0.9)", 0},
        {"LinearLR()", 0},
        {"ConstantLR()", 0},
        {"CosineAnnealingWarmRestarts(T_0=10)", 0},
        {"CyclicLR(base_lr=0.001, max_lr=0.1)", 0},
        {"ReduceLROnPlateau()", 0},
        {"SWALR(swa_lr=0.05)", 0},
        {"CosineDecay(0.1, 1000)", 1000},
        {"CosineDecay(0.0, 1000, warmup_target=0.1, warmup_steps=100)", 1100},
        {"CosineDecay(0.1, 1000, warmup_steps=100)", 1000}, /* no warmup_target: no warm-up */
        {"PolynomialDecay(0.1, 500)", 500},
        {"PolynomialDecay(0.1, 500, cycle=True)", 0},
        {"ExponentialDecay(0.1, 100, 0.5)", 0},
        {"CosineDecayRestarts(0.1, 100)", 0},
        {"warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000)", 1000},
        {"cosine_decay_schedule(0.1, 700)", 700},
        {"linear_schedule(1.0, 0.0, 200, transition_begin=50)", 250},
        {"linear_schedule(1.0, 0.0, 0)", 0},
        {"polynomial_schedule(1.0, 0.0, 2, 300)", 300},
        {"linear_onecycle_schedule(1000, 0.1)", 1000},
        {"cosine_onecycle_schedule(400, 0.1)", 400},
        {"piecewise_interpolate_schedule('linear', 1.0, {30: 0.5, 10: 2.0})", 30},
        {"piecewise_constant_schedule(1.0, {30: 0.5})", 0},
        {"exponential_decay(1.0, 10, 0.5)", 0},
        {"warmup_constant_schedule(0.0, 1.0, 10)", 0},
        {"sgdr_schedule([{'init_value': 0, 'peak_value': 1, 'warmup_steps': 10, 'decay_steps': 100}, "
         "warmup_cosine_decay_schedule(0, 0.5, 10, 200)])",
         300},
        {"fit_one_cycle(8, 1.0, steps_per_epoch=10)", 80},
        {"fit_sgdr(3, 1, 1.0, steps_per_epoch=2)", 14},
        {"darknet(policy='steps', steps=[100], scales=[0.1], max_batches=500)", 500},
        {"darknet()", 0},
        {"llmc(1000)", 1000},
        {"llmc(1000, 'constant')", 1000},
        {"WSD(1.0, 10, 400)", 400},
        {"LinearScalingWarmup(1024, 10)", 0},
        {"SGDClassifier()", 0},
        /* composites */
        {"SequentialLR([LinearLR(total_iters=5), CosineAnnealingLR(T_max=95)], milestones=[5])", 100},
        {"SequentialLR([LinearLR(total_iters=5), ExponentialLR(gamma=0.9)], milestones=[5])", 0},
        {"SequentialLR([OneCycleLR(max_lr=1.0, total_steps=10), ConstantLR(factor=1.0)], milestones=[20])", 10},
        {"SequentialLR([OneCycleLR(max_lr=1.0, total_steps=10), CosineAnnealingLR(T_max=40)], milestones=[10])", 50},
        {"ChainedScheduler([LinearLR(total_iters=5), CosineAnnealingLR(T_max=300)])", 300},
        {"ChainedScheduler([CosineAnnealingLR(T_max=50), PolynomialLR(total_iters=80)])", 80},
        {"ChainedScheduler([StepLR(step_size=3), ExponentialLR(gamma=0.9)])", 0},
        {"join_schedules([linear_schedule(0.0, 1.0, 10), cosine_decay_schedule(1.0, 90)], [10])", 100},
        {"join_schedules([linear_schedule(0.0, 1.0, 10), constant_schedule(1.0)], [10])", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        eta_sched *s;
        eta_err err;
        if (eta_sched_new(&s, cases[i].spec, &err))
            fail_msg("%s: %s", cases[i].spec, err.msg);
        int64_t got = eta_sched_length(s);
        if (got != cases[i].length)
            fail_msg("%s: length %lld, want %lld", cases[i].spec, (long long)got, (long long)cases[i].length);
        /* a run of that length stays within the schedule */
        assert_int_equal(eta_sched_check_step(s, got > 0 ? got - 1 : 0, NULL), 0);
        assert_true(eta_sched_last_step(s) >= got);
        eta_sched_free(s);
    }
}

static void test_catalogue(void **state)
{
    (void)state;
    int n = eta_sched_kind_count();
    assert_true(n >= 16);
    for (int k = 0; k < n; k++) {
        char buf[1024];
        eta_sched_describe(k, buf, sizeof buf);
        assert_non_null(strstr(buf, eta_sched_kind_name(k)));
        assert_non_null(eta_sched_kind_family(k));
    }
    char buf[1024];
    for (int k = 0; k < n; k++)
        if (!strcmp(eta_sched_kind_name(k), "OneCycleLR")) {
            eta_sched_describe(k, buf, sizeof buf);
            assert_non_null(strstr(buf, "OneCycleLR(max_lr, total_steps=None, epochs=None, steps_per_epoch=None, "
                                        "pct_start=0.3, anneal_strategy='cos'"));
        }
    assert_null(eta_sched_kind_name(n));
    /* Every signature is a Python call: required arguments first, then those
     * with defaults. */
    for (int k = 0; k < n; k++) {
        eta_sched_describe(k, buf, sizeof buf);
        eta_spec *sig;
        eta_err err;
        if (eta_spec_parse(&sig, buf, &err))
            fail_msg("'%s' does not parse: %s", buf, err.msg);
        for (int i = 1; i < sig->n; i++)
            if (!sig->keys[i] && sig->keys[i - 1])
                fail_msg("'%s': required argument %d after one with a default", buf, i);
        eta_spec_free(sig);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_plateau_inside_sequence),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_apply_to_optimizer),
        cmocka_unit_test(test_recursion_and_compose),
        cmocka_unit_test(test_length),
        cmocka_unit_test(test_catalogue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
