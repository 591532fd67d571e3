/* tests/test_optim_wide.c - the optimizer-wide pass of the optimizer core
 * (src/optim/rule.h, optim_wide): a rule's prepare before the per-parameter
 * updates, its finish after them, its scalars per optimizer and per group,
 * the skip of a step, the train/eval point switch, the deterministic sums,
 * and save -> restore -> step equal to uninterrupted stepping, bit for bit.
 *
 * White-box: a toy rule defined here ("normalised SGD": every parameter
 * moves by lr * scale * g / |g|, |g| the norm of ALL gradients, a sum only
 * a prepare can take) is put into an SGD optimizer in place of SGD's rule.
 * Its answers are hand-computable.
 * labels: unit
 */
#include "harness.h"

#include <eta/eta.h>

#include "optim/optim_impl.h"

/* Optimizer scalars: 0 "norm" (this step's global gradient norm), 1 "calls"
 * (prepare calls), 2 "finished" (finish calls). Group scalars: 0 "scale"
 * (initialised to 1 + lr, so it depends on the group's hyperparameters),
 * 1 "steps" (finish counts the group's steps). State 0 "avg": the running
 * mean of the iterates, the evaluation point; state 1 "keep" holds the
 * training point while the parameters hold the evaluation point. */
static int toy_prepare(optim_wide *w)
{
    w->scalars[1] += 1;
    double s = 0;
    for (int i = 0; i < w->nparams; i++)
        s += eta_optim_wide_sumsq(w, w->params[i].grad, w->params[i].n);
    assert_true(s == eta_optim_wide_total_dot(w, OPTIM_GRAD, OPTIM_GRAD, false));
    if (w->groups[0].hp.lr > 1e3)
        return eta_optim_wide_fail(w, ETA_EINVAL, "toy: lr %g too large", w->groups[0].hp.lr);
    if (s == 0)
        return OPTIM_SKIP;
    w->scalars[0] = sqrt(s);
    /* the step being taken, before the parameters' counters advance */
    assert_true(w->step == (int64_t)w->groups[0].scalars[1] + 1);
    assert_true(w->params[0].step == w->step - 1);
    return ETA_OK;
}

static void toy_update(const optim_ctx *c, optim_param *p)
{
    double *x = p->data, *avg = p->state[0];
    const double *g = p->grad;
    double a = c->hp->lr * c->group_scalars[0] / c->scalars[0];
    for (size_t i = 0; i < p->n; i++) {
        x[i] -= a * g[i];
        avg[i] += (x[i] - avg[i]) / (double)c->step;
    }
}

static void toy_finish(optim_wide *w)
{
    w->scalars[2] += 1;
    for (int g = 0; g < w->ngroups; g++)
        w->groups[g].scalars[1] += 1;
    assert_true(w->scalars[1] == w->scalars[2]);
}

static void toy_switch(optim_wide *w, bool eval)
{
    for (int i = 0; i < w->nparams; i++) {
        optim_param *p = &w->params[i];
        if (eval) {
            eta_optim_wide_copy(w, p->state[1], p->data, p->n);
            eta_optim_wide_copy(w, p->data, p->state[0], p->n);
        } else {
            eta_optim_wide_copy(w, p->data, p->state[1], p->n);
        }
    }
}

static void toy_init(const eta_optim_hparams *hp, optim_param *p, eta_dtype dtype)
{
    (void)hp;
    (void)dtype;
    memcpy(p->state[0], p->data, p->n * sizeof(double));
}

static void toy_group_init(const eta_optim_hparams *hp, double *s)
{
    s[0] = 1 + hp->lr;
}

static optim_rule toy;

static eta_optim *toy_new(const eta_allocator *alloc, int threads)
{
    toy = *eta_optim_rule(ETA_OPTIM_SGD);
    toy.state_names[0] = "avg";
    toy.state_names[1] = "keep";
    toy.state_names[2] = NULL;
    toy.state_len = eta_optim_state_full;
    toy.init = toy_init;
    toy.update = toy_update;
    toy.scalar_names[0] = "norm";
    toy.scalar_names[1] = "calls";
    toy.scalar_names[2] = "finished";
    toy.group_scalar_names[0] = "scale";
    toy.group_scalar_names[1] = "steps";
    toy.init_group_scalars = toy_group_init;
    toy.prepare = toy_prepare;
    toy.finish = toy_finish;
    toy.switch_point = toy_switch;
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_SGD);
    cfg.hp.lr = 0.5;
    cfg.dtype = ETA_F64;
    cfg.alloc = alloc;
    cfg.threads = threads;
    eta_optim *o;
    assert_int_equal(eta_optim_new(&o, &cfg, NULL), 0);
    o->rule = &toy; /* before any group but 0 or parameter exists */
    toy_group_init(&o->groups[0].hp, o->groups[0].scalars);
    return o;
}

typedef struct rig {
    eta_optim *o;
    double a[6], ga[6], b[3], gb[3];
} rig;

static void rig_init(rig *r, const eta_allocator *alloc)
{
    memset(r, 0, sizeof *r);
    r->o = toy_new(alloc, 1);
    eta_optim_hparams hp;
    eta_optim_get_hparams(r->o, 0, &hp);
    hp.lr = 0.25;
    assert_int_equal(eta_optim_add_group(r->o, &hp), 1);
    for (int i = 0; i < 6; i++)
        r->a[i] = i - 2.0;
    for (int i = 0; i < 3; i++)
        r->b[i] = 1.0 / (i + 1);
    assert_int_equal(eta_optim_add_param(r->o, 0, r->a, r->ga, 2, (int64_t[]){2, 3}), 0);
    assert_int_equal(eta_optim_add_param(r->o, 1, r->b, r->gb, 1, (int64_t[]){3}), 1);
}

/* Gradients of step t: 3 and 4 in a's first two elements at t = 1, then a
 * fixed pattern; b's gradient is 0 except at t = 1. */
static void rig_grads(rig *r, int t)
{
    for (int i = 0; i < 6; i++)
        r->ga[i] = t == 1 ? (i == 0 ? 3 : i == 1 ? 4 : 0) : sin(t + i);
    for (int i = 0; i < 3; i++)
        r->gb[i] = t == 1 ? 0 : cos(t * i);
}

static double scalar(const eta_optim *o, int g, const char *name)
{
    double v;
    if (eta_optim_scalar(o, g, name, &v))
        fail_msg("no scalar '%s'", name);
    return v;
}

static void test_prepare_update_finish(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, NULL);
    assert_true(scalar(r.o, 0, "scale") == 1.5 && scalar(r.o, 1, "scale") == 1.25);
    rig_grads(&r, 1);
    assert_int_equal(eta_optim_step(r.o), 0);
    /* |g| = 5 over both parameters: a[0] -= 0.5 * 1.5 * 3/5, a[1] -= 0.5 * 1.5 * 4/5 */
    assert_true(r.a[0] == -2.0 - 0.5 * 1.5 / 5 * 3);
    assert_true(r.a[1] == -1.0 - 0.5 * 1.5 / 5 * 4);
    assert_true(r.b[0] == 1.0);
    assert_true(scalar(r.o, 0, "norm") == 5 && scalar(r.o, 1, "norm") == 5);
    assert_true(scalar(r.o, 0, "calls") == 1 && scalar(r.o, 0, "finished") == 1);
    assert_true(scalar(r.o, 0, "steps") == 1 && scalar(r.o, 1, "steps") == 1);
    assert_int_equal(eta_optim_step_count(r.o), 1);
    double v;
    assert_int_equal(eta_optim_scalar(r.o, 0, "nope", &v), ETA_EINVAL);
    assert_int_equal(eta_optim_scalar(r.o, 2, "norm", &v), ETA_EINVAL);
    assert_string_equal(eta_optim_scalar_name(r.o, 0), "scale");
    assert_string_equal(eta_optim_scalar_name(r.o, 2), "norm");
    assert_null(eta_optim_scalar_name(r.o, 5));

    /* All gradients zero: prepare skips; nothing moves, no counter advances. */
    memset(r.ga, 0, sizeof r.ga);
    memset(r.gb, 0, sizeof r.gb);
    double a0[6];
    memcpy(a0, r.a, sizeof a0);
    assert_int_equal(eta_optim_step(r.o), 0);
    assert_memory_equal(a0, r.a, sizeof a0);
    assert_int_equal(eta_optim_step_count(r.o), 1);
    assert_true(scalar(r.o, 0, "calls") == 2 && scalar(r.o, 0, "finished") == 1);

    /* prepare's error reaches the caller with its message. */
    eta_optim_hparams hp;
    eta_optim_get_hparams(r.o, 0, &hp);
    hp.lr = 2e3;
    assert_int_equal(eta_optim_set_hparams(r.o, 0, &hp), 0);
    rig_grads(&r, 2);
    assert_int_equal(eta_optim_step(r.o), ETA_EINVAL);
    assert_string_equal(eta_optim_error(r.o), "toy: lr 2000 too large");
    eta_optim_free(r.o);
}

static void test_train_eval_switch(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, NULL);
    assert_true(eta_optim_has_eval_point(r.o));
    for (int t = 1; t <= 4; t++) {
        rig_grads(&r, t);
        assert_int_equal(eta_optim_step(r.o), 0);
    }
    double y[6], *avg;
    memcpy(y, r.a, sizeof y);
    assert_int_equal(eta_optim_state(r.o, 0, "avg", (void **)&avg, NULL), 0);
    assert_false(eta_optim_is_eval(r.o));
    assert_int_equal(eta_optim_eval(r.o), 0);
    assert_int_equal(eta_optim_eval(r.o), 0); /* twice is once */
    assert_true(eta_optim_is_eval(r.o));
    assert_memory_equal(r.a, avg, sizeof y);
    assert_int_equal(eta_optim_step(r.o), ETA_ESTATE);
    assert_non_null(strstr(eta_optim_error(r.o), "eval mode"));

    /* The mode is part of the state: a copy loaded from it is in eval mode
     * and returns to the same training point. */
    void *buf;
    size_t len;
    assert_int_equal(eta_optim_save(r.o, &buf, &len), 0);
    rig r2;
    rig_init(&r2, NULL);
    memcpy(r2.a, r.a, sizeof r.a);
    memcpy(r2.b, r.b, sizeof r.b);
    assert_int_equal(eta_optim_load(r2.o, buf, len), 0);
    assert_true(eta_optim_is_eval(r2.o));
    assert_int_equal(eta_optim_train(r.o), 0);
    assert_int_equal(eta_optim_train(r2.o), 0);
    assert_memory_equal(r.a, y, sizeof y);
    assert_memory_equal(r2.a, y, sizeof y);
    eta_optim_free_buf(r.o, buf);
    eta_optim_free(r.o);
    eta_optim_free(r2.o);

    /* A rule without a second point: the switch only sets the mode. */
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_SGD);
    eta_optim *o;
    assert_int_equal(eta_optim_new(&o, &cfg, NULL), 0);
    assert_false(eta_optim_has_eval_point(o));
    assert_int_equal(eta_optim_eval(o), 0);
    assert_true(eta_optim_is_eval(o));
    assert_int_equal(eta_optim_train(o), 0);
    eta_optim_free(o);
}

static void test_save_restore_step_is_uninterrupted(void **state)
{
    (void)state;
    rig a, b;
    rig_init(&a, NULL);
    for (int t = 1; t <= 5; t++) {
        rig_grads(&a, t);
        assert_int_equal(eta_optim_step(a.o), 0);
    }
    void *buf;
    size_t len;
    assert_int_equal(eta_optim_save(a.o, &buf, &len), 0);
    rig_init(&b, NULL);
    memcpy(b.a, a.a, sizeof a.a);
    memcpy(b.b, a.b, sizeof a.b);
    assert_int_equal(eta_optim_load(b.o, buf, len), 0);
    assert_true(scalar(b.o, 1, "steps") == 5 && scalar(b.o, 0, "calls") == 5);
    for (int t = 6; t <= 12; t++) {
        rig_grads(&a, t);
        rig_grads(&b, t);
        assert_int_equal(eta_optim_step(a.o), 0);
        assert_int_equal(eta_optim_step(b.o), 0);
        assert_memory_equal(a.a, b.a, sizeof a.a);
        assert_memory_equal(a.b, b.b, sizeof a.b);
    }
    void *b1, *b2;
    size_t l1, l2;
    assert_int_equal(eta_optim_save(a.o, &b1, &l1), 0);
    assert_int_equal(eta_optim_save(b.o, &b2, &l2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(b1, b2, l1);

    /* A state without the rule's scalars (plain SGD's) does not load. */
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_SGD);
    cfg.hp.lr = 0.5;
    cfg.dtype = ETA_F64;
    eta_optim *sgd;
    assert_int_equal(eta_optim_new(&sgd, &cfg, NULL), 0);
    cfg.hp.lr = 0.25;
    assert_int_equal(eta_optim_add_group(sgd, &cfg.hp), 1);
    assert_int_equal(eta_optim_add_param(sgd, 0, a.a, a.ga, 2, (int64_t[]){2, 3}), 0);
    assert_int_equal(eta_optim_add_param(sgd, 1, a.b, a.gb, 1, (int64_t[]){3}), 1);
    void *sbuf;
    size_t slen;
    assert_int_equal(eta_optim_save(sgd, &sbuf, &slen), 0);
    assert_int_equal(eta_optim_load(b.o, sbuf, slen), ETA_EFORMAT);
    assert_non_null(strstr(eta_optim_error(b.o), "0 optimizer and 0 group scalars"));
    /* and b is unchanged: it still steps as a does */
    rig_grads(&a, 13);
    rig_grads(&b, 13);
    assert_int_equal(eta_optim_step(a.o), 0);
    assert_int_equal(eta_optim_step(b.o), 0);
    assert_memory_equal(a.a, b.a, sizeof a.a);
    eta_optim_free_buf(sgd, sbuf);
    eta_optim_free(sgd);
    eta_optim_free_buf(a.o, buf);
    eta_optim_free_buf(a.o, b1);
    eta_optim_free_buf(b.o, b2);
    eta_optim_free(a.o);
    eta_optim_free(b.o);
}

/* An allocator that fails every allocation once armed. */
static bool armed;
static void *arm_alloc(void *ud, size_t n)
{
    (void)ud;
    return armed ? NULL : malloc(n);
}
static void arm_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static void test_no_allocation_in_step_or_switch(void **state)
{
    (void)state;
    eta_allocator al = {arm_alloc, arm_free, NULL};
    rig r;
    rig_init(&r, &al);
    armed = true;
    for (int t = 1; t <= 3; t++) {
        rig_grads(&r, t);
        assert_int_equal(eta_optim_step(r.o), 0);
        assert_int_equal(eta_optim_eval(r.o), 0);
        assert_int_equal(eta_optim_train(r.o), 0);
    }
    armed = false;
    eta_optim_free(r.o);
}

/* The helpers' sums have the same bits at 1 and 2 threads, over arrays of
 * several parallel chunks, and equal a plain double sum to rounding. */
static void test_sums_do_not_depend_on_threads(void **state)
{
    (void)state;
    size_t n = 3 * ETA_CHUNK + 77;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    double plain = 0, plain_abs = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)sin(0.001 * (double)i);
        y[i] = (float)cos(0.0007 * (double)i) - 0.25f;
        plain += (double)x[i] * (double)y[i];
        plain_abs += fabs((double)y[i]);
    }
    double got[2][3];
    for (int t = 1; t <= 2; t++) {
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_SGD);
        cfg.threads = t;
        eta_optim *o;
        assert_int_equal(eta_optim_new(&o, &cfg, NULL), 0);
        assert_int_equal(eta_optim_add_param(o, 0, x, y, 1, (int64_t[]){(int64_t)n}), 0);
        optim_wide w = eta_optim_wide_(o);
        got[t - 1][0] = eta_optim_wide_dot(&w, x, y, n);
        got[t - 1][1] = eta_optim_wide_sum_abs(&w, y, n);
        got[t - 1][2] = eta_optim_wide_total_dot(&w, OPTIM_DATA, OPTIM_GRAD, true);
        eta_optim_free(o);
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
    assert_true(got[0][0] == got[0][2]);
    assert_true(fabs(got[0][0] - plain) <= 1e-10 * plain_abs);
    assert_true(fabs(got[0][1] - plain_abs) <= 1e-10 * plain_abs);
    free(x);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prepare_update_finish),
        cmocka_unit_test(test_train_eval_switch),
        cmocka_unit_test(test_save_restore_step_is_uninterrupted),
        cmocka_unit_test(test_no_allocation_in_step_or_switch),
        cmocka_unit_test(test_sums_do_not_depend_on_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
