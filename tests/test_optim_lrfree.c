/* tests/test_optim_lrfree.c - the learning-rate-free rules beyond their
 * fixtures (tests/test_optim_ref.c replays those): Schedule-Free's two
 * points by hand and through a save in eval mode, the one-lr rule of
 * Prodigy and D-Adaptation, steps without gradients, names, signatures and
 * scalars.
 * labels: unit
 */
#include "optim_harness.h"

static double scalar(const eta_optim *o, const char *name)
{
    double v;
    if (eta_optim_scalar(o, 0, name, &v))
        fail_msg("no scalar '%s'", name);
    return v;
}

/* SGDScheduleFree(lr=0.5, momentum=0.9) from x = 1: step 1 with g = 2 puts
 * z = x = y at 0 (the first average weight is 1); step 2 with g = 1:
 * z = -0.5, weight 1/2, x = -0.25, y = 0.9*x + 0.1*z. */
static void test_schedule_free_by_hand(void **state)
{
    (void)state;
    double x[1] = {1}, g[1] = {2};
    eta_optim *o = vec_optim("SGDScheduleFree(lr=0.5, momentum=0.9)", x, g, 1);
    assert_true(eta_optim_has_eval_point(o));
    assert_int_equal(eta_optim_eval(o), 0); /* before any step: the parameters are both points */
    assert_true(x[0] == 1);
    assert_int_equal(eta_optim_step(o), ETA_ESTATE);
    assert_non_null(strstr(eta_optim_error(o), "eval mode"));
    assert_int_equal(eta_optim_train(o), 0);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(x[0] == 0);
    assert_true(scalar(o, "ckp1") == 1 && scalar(o, "lr_max") == 0.5 && scalar(o, "weight_sum") == 0.25);
    g[0] = 1;
    assert_int_equal(eta_optim_step(o), 0);
    double want_y = -0.25 * 0.9 + (1 - 0.9) * -0.5;
    assert_true(x[0] == want_y);
    assert_true(scalar(o, "ckp1") == 0.5);
    assert_int_equal(eta_optim_eval(o), 0);
    assert_true(x[0] == -0.25);
    assert_true(eta_optim_is_eval(o));
    assert_int_equal(eta_optim_train(o), 0);
    assert_true(x[0] == want_y);
    eta_optim_free(o);

    /* Warmup: lr_k = lr*(k+1)/warmup_steps; AdamW's also times sqrt(1 - beta2^(k+1)). */
    o = vec_optim("AdamWScheduleFree(lr=0.01, warmup_steps=4)", x, g, 1);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(scalar(o, "scheduled_lr") == 0.01 * (1.0 / 4) * sqrt(1 - pow(0.999, 1)));
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(scalar(o, "scheduled_lr") == 0.01 * (2.0 / 4) * sqrt(1 - pow(0.999, 2)));
    eta_optim_free(o);
}

typedef struct pair {
    double w[40], dw[40];
    eta_optim *o;
} pair;

static void pair_init(pair *p, const char *spec)
{
    for (int i = 0; i < 40; i++)
        p->w[i] = sin(i + 1.0);
    p->o = vec_optim(spec, p->w, p->dw, 40);
}

static void pair_steps(pair *p, int from, int to)
{
    for (int t = from; t < to; t++) {
        eta_optim_train(p->o);
        for (int i = 0; i < 40; i++)
            p->dw[i] = cos(0.7 * t + i) + 0.2 * p->w[i];
        assert_int_equal(eta_optim_step(p->o), 0);
    }
}

/* As `eta train` checkpoints: switch to x, save the state (and the
 * parameters, x), restore both elsewhere, switch back, continue: the same
 * bits as a run that never stopped. */
static void test_save_in_eval_mode_resumes_exactly(void **state)
{
    (void)state;
    const char *specs[] = {"SGDScheduleFree(lr=0.2, weight_decay=0.01, warmup_steps=3)",
                           "AdamWScheduleFree(lr=0.02, weight_decay=0.1, r=0.5, decay_at_z=True)"};
    for (int k = 0; k < 2; k++) {
        pair a, b;
        pair_init(&a, specs[k]);
        pair_steps(&a, 0, 7);
        assert_int_equal(eta_optim_eval(a.o), 0);
        void *buf;
        size_t len;
        assert_int_equal(eta_optim_save(a.o, &buf, &len), 0);
        pair_init(&b, specs[k]);
        memcpy(b.w, a.w, sizeof a.w); /* the parameters as saved: x */
        assert_int_equal(eta_optim_load(b.o, buf, len), 0);
        assert_true(eta_optim_is_eval(b.o));
        pair_steps(&a, 7, 15);
        pair_steps(&b, 7, 15);
        if (memcmp(a.w, b.w, sizeof a.w))
            fail_msg("%s: the run resumed from eval mode differs", specs[k]);
        eta_optim_free_buf(a.o, buf);
        eta_optim_free(a.o);
        eta_optim_free(b.o);
    }
}

/* Prodigy and D-Adaptation have one step size: groups may differ only by an
 * lr of 0 (frozen), as their references raise. */
static void test_one_lr_across_groups(void **state)
{
    (void)state;
    const char *specs[] = {"Prodigy()", "DAdaptSGD()", "DAdaptAdam()"};
    for (int k = 0; k < 3; k++) {
        double x[3] = {1, 2, 3}, g[3] = {0.5, -1, 2}, y[2] = {1, -1}, h[2] = {1, 1};
        eta_optim *o = vec_optim(specs[k], x, g, 3);
        eta_optim_hparams hp;
        eta_optim_get_hparams(o, 0, &hp);
        hp.lr = 0.5;
        assert_int_equal(eta_optim_add_group(o, &hp), 1);
        assert_int_equal(eta_optim_add_param(o, 1, y, h, 1, (int64_t[]){2}), 1);
        assert_int_equal(eta_optim_step(o), ETA_EINVAL);
        assert_non_null(strstr(eta_optim_error(o), "group 1 has lr 0.5, another 1"));
        assert_int_equal(eta_optim_step_count(o), 0);
        assert_true(x[0] == 1 && y[0] == 1);
        assert_int_equal(eta_optim_set_lr(o, 1, 0.0), 0);
        assert_int_equal(eta_optim_step(o), 0);
        assert_int_equal(eta_optim_step_count(o), 1);
        assert_true(x[0] != 1);
        assert_true(y[0] == 1 && y[1] == -1); /* frozen (no decay in these specs) */
        eta_optim_free(o);
    }
}

/* A step whose gradients are all zero changes nothing and does not count,
 * as the references return early; the estimate starts at d0. */
static void test_zero_gradients_skip_the_step(void **state)
{
    (void)state;
    const char *specs[] = {"Prodigy(d0=1e-5)", "DAdaptSGD(d0=1e-5)", "DAdaptAdam(d0=1e-5)"};
    for (int k = 0; k < 3; k++) {
        double x[3] = {1, 2, 3}, g[3] = {0, 0, 0};
        eta_optim *o = vec_optim(specs[k], x, g, 3);
        assert_true(scalar(o, "d") == 1e-5);
        assert_int_equal(eta_optim_step(o), 0);
        assert_int_equal(eta_optim_step_count(o), 0);
        assert_true(x[0] == 1 && x[1] == 2 && x[2] == 3);
        assert_true(scalar(o, "d") == 1e-5);
        g[1] = 1;
        assert_int_equal(eta_optim_step(o), 0);
        assert_int_equal(eta_optim_step_count(o), 1);
        assert_true(x[1] < 2);
        eta_optim_free(o);
    }
}

static void test_names_and_signatures(void **state)
{
    (void)state;
    assert_int_equal(eta_optim_kind_from_name("ScheduleFreeSGD"), ETA_OPTIM_SGD_SCHEDULE_FREE);
    assert_int_equal(eta_optim_kind_from_name("ScheduleFreeAdamW"), ETA_OPTIM_ADAMW_SCHEDULE_FREE);
    assert_int_equal(eta_optim_kind_from_name("AdamWScheduleFree"), ETA_OPTIM_ADAMW_SCHEDULE_FREE);
    char buf[1024];
    eta_optim_describe(ETA_OPTIM_PRODIGY, buf, sizeof buf);
    assert_non_null(strstr(buf, "beta3=None"));
    /* the authors' defaults the fixtures cannot see (no estimate reaches 1e9-fold growth) */
    for (int k = ETA_OPTIM_PRODIGY; k <= ETA_OPTIM_DADAPT_ADAM; k++) {
        eta_optim_describe((eta_optim_kind)k, buf, sizeof buf);
        assert_non_null(strstr(buf, "lr=1.0, "));
        assert_non_null(strstr(buf, "d0=1e-06, "));
        assert_non_null(strstr(buf, "growth_rate=float('inf')"));
    }
    eta_optim_describe(ETA_OPTIM_DADAPT_ADAM, buf, sizeof buf);
    assert_non_null(strstr(buf, "log_every=0"));
    assert_non_null(strstr(buf, "fsdp_in_use=False, *, layer_scale=1.0)"));
    /* What describe prints, as a call (without the bare `*`), parses back to the defaults. */
    for (int k = ETA_OPTIM_SGD_SCHEDULE_FREE; k <= ETA_OPTIM_DADAPT_ADAM; k++) {
        eta_optim_describe((eta_optim_kind)k, buf, sizeof buf);
        char *star = strstr(buf, "*, ");
        if (star)
            memmove(star, star + 3, strlen(star + 3) + 1);
        eta_optim_config cfg, def = eta_optim_defaults((eta_optim_kind)k);
        eta_err err;
        if (eta_optim_config_from_spec(&cfg, buf, &err))
            fail_msg("%s: %s", buf, err.msg);
        assert_int_equal(cfg.kind, k);
        assert_memory_equal(&cfg.hp, &def.hp, sizeof cfg.hp);
    }
    /* A pasted call with the ignored switches and beta3=None parses. */
    eta_optim_config cfg;
    assert_int_equal(eta_optim_config_from_spec(&cfg, "Prodigy(lr=1., beta3=None, fsdp_in_use=False, "
                                                      "growth_rate=float('inf'), slice_p=11)", NULL), 0);
    assert_true(isnan(cfg.hp.beta3) && isinf(cfg.hp.growth_rate) && cfg.hp.slice_p == 11);
    assert_int_equal(eta_optim_config_from_spec(&cfg, "DAdaptSGD(log_every=10, growth_rate=1.02)", NULL), 0);
    assert_true(cfg.hp.growth_rate == 1.02);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_free_by_hand),
        cmocka_unit_test(test_save_in_eval_mode_resumes_exactly),
        cmocka_unit_test(test_one_lr_across_groups),
        cmocka_unit_test(test_zero_gradients_skip_the_step),
        cmocka_unit_test(test_names_and_signatures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
