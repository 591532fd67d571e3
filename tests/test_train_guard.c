/* test_train_guard.c - the divergence guard driven by synthetic sequences whose decisions are known by hand. labels: unit full
 *
 * A fake run (a step counter and a weight) saves and restores itself
 * through the callbacks, so every rollback can be checked: where it lands,
 * the lr factor and its accumulation, max_tries, recovery. The sequences:
 * a NaN at a chosen step; a loss ramp 1 + 0.1 s (its debiased EMA first
 * exceeds 4 x its best, 1.0, at step 52: S_52 = 4.0639, S_51 = 3.96); a
 * noisy series alternating 1 and 3 (a full window has mean 2 and population
 * std 1 exactly, so a spike limit of z 6 is the value 8) and the same for
 * the gradient norm. The state saved in the middle of a run with a rollback
 * continues identically in a second guard, bytes included.
 */
#include "harness.h"

#include "train/guard.h"

/* A run whose state is its step and one weight. */
typedef struct fake_run {
    int64_t step;
    double w;
    int saves, restores, fail;
} fake_run;

static int fake_save(void *ctx, void **buf, size_t *len)
{
    fake_run *r = ctx;
    if (r->fail)
        return ETA_ENOMEM;
    if (*len < 16) {
        void *p = realloc(*buf, 16);
        if (!p)
            return ETA_ENOMEM;
        *buf = p;
    }
    memcpy(*buf, &r->step, 8);
    memcpy((char *)*buf + 8, &r->w, 8);
    *len = 16;
    r->saves++;
    return ETA_OK;
}

static int fake_restore(void *ctx, const void *buf, size_t len)
{
    fake_run *r = ctx;
    if (len != 16 || r->fail)
        return ETA_EIO;
    memcpy(&r->step, buf, 8);
    memcpy(&r->w, (const char *)buf + 8, 8);
    r->restores++;
    return ETA_OK;
}

static eta_guard *new_guard(const eta_guard_config *cfg, fake_run *r)
{
    eta_guard_callbacks cb = {fake_save, fake_restore, r};
    eta_guard *g = NULL;
    eta_err err;
    int rc = eta_guard_new(&g, cfg, &cb, &err);
    if (rc)
        fail_msg("eta_guard_new: %s", err.msg);
    return g;
}

/* A small config for short sequences: window 10, warmup 5, snapshots every
 * 10, 3 tries. */
static eta_guard_config small(eta_guard_action action)
{
    eta_guard_config c = eta_guard_defaults();
    c.action = action;
    c.max_tries = 3;
    c.z_threshold = 6.0;
    c.window = 10;
    c.warmup = 5;
    c.snapshot_every = 10;
    return c;
}

/* One check; fails the test on an error. */
static eta_guard_event check(eta_guard *g, int64_t step, double loss, double gn, double lr)
{
    eta_guard_event ev;
    eta_err err;
    int rc = eta_guard_check(g, step, loss, gn, lr, &ev, &err);
    if (rc)
        fail_msg("eta_guard_check(step %lld): %s", (long long)step, err.msg);
    return ev;
}

/* A noisy but healthy gradient norm: 1.0, 1.2, 1.0, ... */
static double gn_of(int64_t s)
{
    return s % 2 ? 1.2 : 1.0;
}

/* Drives the run over loss(step, attempt) like the training loop would:
 * lr = 0.1 x the guard's scale; until `until` steps or a stop. Returns
 * the last event; *nroll counts rollbacks. */
typedef double (*loss_fn)(int64_t step, int rollbacks);
static eta_guard_event drive(eta_guard *g, fake_run *r, loss_fn f, int64_t until, int *nroll)
{
    eta_guard_event ev = {0};
    int rolls = 0;
    while (r->step < until) {
        double lr = 0.1 * eta_guard_lr_scale(g);
        ev = check(g, r->step, f(r->step, rolls), gn_of(r->step), lr);
        if (ev.action == ETA_GUARD_OK) {
            r->w -= lr;
            r->step++;
        } else if (ev.action == ETA_GUARD_ROLLBACK) {
            rolls++;
            assert_int_equal(r->step, ev.to_step); /* the callback put the run back */
        } else if (ev.action == ETA_GUARD_STOP) {
            break;
        }
    }
    if (nroll)
        *nroll = rolls;
    return ev;
}

static double nan_at_25_once(int64_t s, int rolls)
{
    return s == 25 && rolls == 0 ? NAN : 1.0 / (1 + 0.01 * (double)s);
}

static double nan_from_25(int64_t s, int rolls)
{
    (void)rolls;
    return s >= 25 ? NAN : 1.0 / (1 + 0.01 * (double)s);
}

static void test_defaults_and_config(void **state)
{
    (void)state;
    eta_guard_config d = eta_guard_defaults();
    assert_true(d.enabled);
    assert_int_equal(d.action, ETA_GUARD_ROLLBACK);
    assert_true(d.lr_factor == 0.5 && d.max_tries == 5 && d.loss_factor == 4.0 && d.window == 100);
    assert_true(d.z_threshold == 0.0 && d.warmup == 100 && d.snapshot_every == 100);
    /* NULL config: the defaults (a snapshot at step 0, the first multiple of 100). */
    fake_run r = {0};
    eta_guard *g = new_guard(NULL, &r);
    eta_guard_event ev = check(g, 0, 1.0, 1.0, 0.1);
    assert_true(ev.snapshot);
    assert_int_equal(r.saves, 1);
    for (int64_t s = 1; s < 100; s++)
        assert_false(check(g, s, 1.0 + 0.01 * (double)(s % 3), gn_of(s), 0.1).snapshot);
    assert_true(check(g, 100, 1.0, 1.0, 0.1).snapshot);
    eta_guard_free(g);
    eta_guard_free(NULL);

    eta_err err;
    eta_guard *bad = NULL;
    eta_guard_config c = d;
    c.lr_factor = 2;
    assert_int_equal(eta_guard_new(&bad, &c, NULL, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "guard.lr_factor"));
    c = d;
    c.warmup = 160;
    assert_int_equal(eta_guard_new(&bad, &c, NULL, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "guard.warmup"));
    c = d; /* rollback needs the callbacks */
    assert_int_equal(eta_guard_new(&bad, &c, NULL, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "callbacks"));
    c.action = ETA_GUARD_SKIP;
    assert_int_equal(eta_guard_new(&bad, &c, NULL, &err), ETA_OK);
    eta_guard_free(bad);

    eta_guard_action a;
    assert_int_equal(eta_guard_action_parse("skip", &a, NULL), 0);
    assert_int_equal(a, ETA_GUARD_SKIP);
    assert_int_equal(eta_guard_action_parse("rollback", &a, NULL), 0);
    assert_int_equal(a, ETA_GUARD_ROLLBACK);
    assert_int_equal(eta_guard_action_parse("ok", &a, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "rollback, skip or stop"));
    assert_string_equal(eta_guard_trigger_name(ETA_GUARD_LOSS_ABOVE_BEST), "loss_above_best");
}

/* A NaN at step 25: rolled back to the snapshot of step 20, lr halved; the
 * replay passes and the run ends healthy. */
static void test_nan_rollback(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_ROLLBACK);
    eta_guard *g = new_guard(&c, &r);
    eta_guard_event ev;
    for (int64_t s = 0; s < 25; s++) {
        ev = check(g, s, nan_at_25_once(s, 0), gn_of(s), 0.1);
        assert_int_equal(ev.action, ETA_GUARD_OK);
        assert_int_equal(ev.snapshot, s % 10 == 0);
        r.w -= 0.1;
        r.step++;
    }
    double w20 = -2.0; /* 20 updates of 0.1 */
    ev = check(g, 25, NAN, 1.0, 0.1);
    assert_int_equal(ev.action, ETA_GUARD_ROLLBACK);
    assert_int_equal(ev.trigger, ETA_GUARD_NONFINITE_LOSS);
    assert_int_equal(ev.to_step, 20);
    assert_int_equal(r.step, 20);
    assert_true(fabs(r.w - w20) < 1e-12);
    assert_true(ev.lr_factor == 0.5 && ev.lr_scale == 0.5 && ev.lr_next == 0.05 && ev.tries == 1);
    assert_true(eta_guard_lr_scale(g) == 0.5);
    char line[512];
    eta_guard_describe(&ev, line, sizeof line);
    assert_non_null(strstr(line, "step 25: the loss is nan; rolled back to step 20, lr x 0.5 -> 0.05 (try 1)"));
    /* The replay (step 20 again: no second snapshot of the same state). */
    ev = check(g, 20, nan_at_25_once(20, 1), gn_of(20), 0.05);
    assert_int_equal(ev.action, ETA_GUARD_OK);
    assert_false(ev.snapshot);
    for (int64_t st = 21; st < 100; st++)
        assert_int_equal(check(g, st, nan_at_25_once(st, 1), gn_of(st), 0.05).action, ETA_GUARD_OK);
    assert_true(eta_guard_lr_scale(g) == 0.5);
    eta_guard_free(g);
}

/* A NaN at every step from 25: three rollbacks to step 20 (lr x 0.5, 0.25,
 * 0.125), then a stop whose report says what to try; no snapshot is taken
 * while recovering. */
static void test_max_tries(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_ROLLBACK);
    eta_guard *g = new_guard(&c, &r);
    int rolls = 0;
    eta_guard_event ev = drive(g, &r, nan_from_25, 1000, &rolls);
    assert_int_equal(rolls, 3);
    assert_int_equal(r.restores, 3);
    assert_int_equal(r.saves, 3); /* steps 0, 10, 20 */
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    assert_int_equal(ev.step, 25);
    assert_int_equal(ev.tries, 3);
    assert_true(ev.lr_scale == 0.125);
    assert_true(fabs(ev.lr - 0.0125) < 1e-15);
    assert_true(fabs(ev.lr_next - 0.00625) < 1e-15);
    assert_true(ev.lr_snapshot == 0.1);
    char rep[1024];
    eta_guard_describe(&ev, rep, sizeof rep);
    assert_non_null(strstr(rep, "guard: stopped at step 25: the loss is nan; lr at the time 0.0125"));
    assert_non_null(strstr(rep, "x 0.125 after rollbacks"));
    assert_non_null(strstr(rep, "again after 3 tries"));
    assert_non_null(strstr(rep, "try lr 0.00625"));
    assert_non_null(strstr(rep, "by 0.0625"));
    assert_non_null(strstr(rep, "0.01 (the lr at the last good snapshot / 10)"));
    eta_guard_free(g);

    /* max_tries 0: the first trigger stops. */
    fake_run r0 = {0};
    c.max_tries = 0;
    g = new_guard(&c, &r0);
    ev = drive(g, &r0, nan_from_25, 1000, &rolls);
    assert_int_equal(rolls, 0);
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    eta_guard_free(g);
}

/* NaN on the first two attempts only: two rollbacks, then `window` (10)
 * accepted steps after the snapshot end the recovery: tries back to 0, and
 * snapshots resume (step 30: 10 healthy steps in a row since 25's rollback). */
static double nan_twice(int64_t s, int rolls)
{
    return s == 25 && rolls < 2 ? NAN : 1.0 / (1 + 0.01 * (double)s);
}

static void test_recovery(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_ROLLBACK);
    eta_guard *g = new_guard(&c, &r);
    int rolls = 0;
    eta_guard_event ev = {0};
    int64_t recovered_at = -1, snap_after = -1;
    while (r.step < 60) {
        double lr = 0.1 * eta_guard_lr_scale(g);
        ev = check(g, r.step, nan_twice(r.step, rolls), gn_of(r.step), lr);
        if (ev.action == ETA_GUARD_ROLLBACK) {
            rolls++;
            continue;
        }
        assert_int_equal(ev.action, ETA_GUARD_OK);
        if (rolls == 2 && ev.tries == 0 && recovered_at < 0)
            recovered_at = r.step;
        if (rolls == 2 && ev.snapshot && snap_after < 0)
            snap_after = r.step;
        r.step++;
    }
    assert_int_equal(rolls, 2);
    assert_true(eta_guard_lr_scale(g) == 0.25);
    /* Back at 20: steps 20..29 are the 10 accepted; the check at 30 sees tries 0. */
    assert_int_equal(recovered_at, 30);
    assert_int_equal(snap_after, 30);
    eta_guard_free(g);
}

static double ramp(int64_t s, int rolls)
{
    (void)rolls;
    return 1 + 0.1 * (double)s;
}

/* A loss ramp: the smoothed loss passes 4 x its best (1.0) at step 52 and
 * not before; no spike fires on the way (a ramp's z-score stays below 2). */
static void test_loss_ramp(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_STOP);
    eta_guard *g = new_guard(&c, &r);
    eta_guard_event ev = drive(g, &r, ramp, 1000, NULL);
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    assert_int_equal(ev.trigger, ETA_GUARD_LOSS_ABOVE_BEST);
    assert_int_equal(ev.step, 52);
    assert_true(fabs(ev.value - 4.06394666544478) < 1e-12);
    assert_true(ev.threshold == 4.0);
    char rep[1024];
    eta_guard_describe(&ev, rep, sizeof rep);
    assert_non_null(strstr(rep, "stopped at step 52: the smoothed loss 4.064 is above the limit 4"));
    assert_non_null(strstr(rep, "lr at the time 0.1; try lr 0.05"));
    assert_null(strstr(rep, "snapshot")); /* stop mode keeps none */
    eta_guard_free(g);

    /* Rolling back to step 50 brings the statistics back too: each replay
     * fires at step 52 with the very same smoothed loss, 3 times, then stops. */
    fake_run rr = {0};
    c.action = ETA_GUARD_ROLLBACK;
    g = new_guard(&c, &rr);
    int rolls = 0;
    ev = drive(g, &rr, ramp, 1000, &rolls);
    assert_int_equal(rolls, 3);
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    assert_int_equal(ev.step, 52);
    assert_true(ev.value == 4.06394666544478 || fabs(ev.value - 4.06394666544478) < 1e-12);
    eta_guard_free(g);

    /* Off with loss_factor 0: the ramp goes on. */
    fake_run r2 = {0};
    c.loss_factor = 0;
    g = new_guard(&c, &r2);
    ev = drive(g, &r2, ramp, 200, NULL);
    assert_int_equal(ev.action, ETA_GUARD_OK);
    assert_int_equal(r2.step, 200);
    eta_guard_free(g);
}

/* Alternating 1, 3: mean 2, std 1 over a full window; the limit at z 6 is 8. */
static double alt(int64_t s)
{
    return s % 2 ? 3.0 : 1.0;
}

static void test_spikes(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_SKIP);
    eta_guard *g = new_guard(&c, NULL);
    (void)r;
    for (int64_t s = 0; s < 20; s++)
        assert_int_equal(check(g, s, alt(s), alt(s), 0.1).action, ETA_GUARD_OK);
    /* Loss 8.01 at step 20 (the window holds 10 values, mean 2, std 1). */
    eta_guard_event ev = check(g, 20, 8.01, 1.0, 0.1);
    assert_int_equal(ev.action, ETA_GUARD_SKIP);
    assert_int_equal(ev.trigger, ETA_GUARD_LOSS_SPIKE);
    assert_true(fabs(ev.z - 6.01) < 1e-12 && ev.threshold == 8.0 && ev.value == 8.01);
    assert_int_equal(ev.tries, 1);
    /* Not accepted: the same step again, then a grad-norm spike of 8.01 at 21. */
    assert_int_equal(check(g, 20, 1.0, 1.0, 0.1).action, ETA_GUARD_OK);
    ev = check(g, 21, 3.0, 8.01, 0.1);
    assert_int_equal(ev.trigger, ETA_GUARD_GRAD_NORM_SPIKE);
    assert_int_equal(ev.tries, 1); /* counted in a row: reset by step 20's OK */
    assert_true(fabs(ev.z - 6.01) < 1e-12);
    /* 7.99 is below the limit and accepted. */
    assert_int_equal(check(g, 21, 7.99, 3.0, 0.1).action, ETA_GUARD_OK);
    char line[512];
    eta_guard_describe(&ev, line, sizeof line);
    assert_non_null(strstr(line, "gradient norm 8.01 is a spike (z-score 6.01) above the limit 8; step skipped"));
    eta_guard_free(g);

    /* Before warmup (4 values) no spike: 100 at step 4 is only above 4 x best. */
    c.loss_factor = 0;
    g = new_guard(&c, NULL);
    for (int64_t s = 0; s < 4; s++)
        check(g, s, alt(s), alt(s), 0.1);
    assert_int_equal(check(g, 4, 100, 1, 0.1).action, ETA_GUARD_OK);
    assert_int_equal(check(g, 5, 1e6, 1, 0.1).trigger, ETA_GUARD_LOSS_SPIKE);
    eta_guard_free(g);
}

/* Skips: more than max_tries (2) in a row stop; a non-finite gradient
 * norm is caught as such. */
static void test_skip_limit(void **state)
{
    (void)state;
    eta_guard_config c = small(ETA_GUARD_SKIP);
    c.max_tries = 2;
    eta_guard *g = new_guard(&c, NULL);
    for (int64_t s = 0; s < 5; s++)
        check(g, s, 1, 1, 0.1);
    eta_guard_event ev = check(g, 5, 1, INFINITY, 0.1);
    assert_int_equal(ev.action, ETA_GUARD_SKIP);
    assert_int_equal(ev.trigger, ETA_GUARD_NONFINITE_GRAD_NORM);
    assert_int_equal(check(g, 5, NAN, 1, 0.1).action, ETA_GUARD_SKIP);
    ev = check(g, 5, NAN, 1, 0.1);
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    assert_int_equal(ev.tries, 2);
    eta_guard_free(g);
}

/* NaN before any update: a stop saying the lr is not the cause; disabled:
 * everything passes; steps going back are refused; a failing save is reported. */
static void test_edges(void **state)
{
    (void)state;
    fake_run r = {0};
    eta_guard_config c = small(ETA_GUARD_ROLLBACK);
    eta_guard *g = new_guard(&c, &r);
    eta_guard_event ev = check(g, 0, NAN, 1, 0.1);
    assert_int_equal(ev.action, ETA_GUARD_STOP);
    char rep[512];
    eta_guard_describe(&ev, rep, sizeof rep);
    assert_non_null(strstr(rep, "before any update, so the learning rate (0.1) is not the cause"));
    eta_guard_free(g);

    c.enabled = false;
    g = new_guard(&c, &r);
    assert_int_equal(check(g, 0, NAN, NAN, 0.1).action, ETA_GUARD_OK);
    assert_int_equal(r.saves, 0);
    eta_guard_free(g);

    c.enabled = true;
    g = new_guard(&c, &r);
    check(g, 0, 1, 1, 0.1);
    check(g, 1, 1, 1, 0.1);
    eta_err err;
    assert_int_equal(eta_guard_check(g, 0, 1, 1, 0.1, &ev, &err), ETA_ESTATE);
    assert_non_null(strstr(err.msg, "cannot go back"));
    for (int64_t s = 2; s < 10; s++)
        check(g, s, 1, 1, 0.1);
    r.fail = 1;
    assert_int_equal(eta_guard_check(g, 10, 1, 1, 0.1, &ev, &err), ETA_ENOMEM);
    assert_non_null(strstr(err.msg, "saving the snapshot at step 10 failed"));
    eta_guard_free(g);
}

static bool same_event(const eta_guard_event *a, const eta_guard_event *b)
{
#define SAME(f) (a->f == b->f || (isnan((double)a->f) && isnan((double)b->f)))
    return SAME(action) && SAME(trigger) && SAME(step) && SAME(value) && SAME(threshold) && SAME(z) && SAME(lr) &&
           SAME(lr_factor) && SAME(lr_scale) && SAME(lr_next) && SAME(lr_snapshot) && SAME(to_step) && SAME(tries) &&
           SAME(snapshot);
#undef SAME
}

/* NaN at 25 (twice) and a spike at 47: the state saved at step 23 (after
 * snapshots at 0, 10, 20) and at 27 (mid-recovery) continues identically. */
static double mixed(int64_t s, int rolls)
{
    if (s == 25 && rolls < 2)
        return NAN;
    if (s == 47 && rolls < 3)
        return 50;
    return 2 + (s % 2 ? 0.1 : -0.1);
}

static void test_state_roundtrip(void **state)
{
    (void)state;
    eta_guard_config c = small(ETA_GUARD_ROLLBACK);
    for (int cut = 23; cut <= 27; cut += 4) {
        fake_run ra = {0}, rb = {0};
        eta_guard *a = new_guard(&c, &ra), *b = NULL;
        int rolls = 0, steps_a = 0;
        eta_guard_event ea, eb;
        while (ra.step < 80 && steps_a < 1000) {
            steps_a++;
            if (ra.step == cut && !b) { /* a checkpoint: the guard's bytes and the run's */
                void *buf;
                size_t len;
                assert_int_equal(eta_guard_save_state(a, &buf, &len), 0);
                b = new_guard(&c, &rb);
                eta_err err;
                assert_int_equal(eta_guard_load_state(b, buf, len, &err), 0);
                rb = ra;
                free(buf);
            }
            double lr = 0.1 * eta_guard_lr_scale(a);
            if (b)
                assert_true(eta_guard_lr_scale(b) == eta_guard_lr_scale(a));
            ea = check(a, ra.step, mixed(ra.step, rolls), gn_of(ra.step), lr);
            if (b) {
                eb = check(b, rb.step, mixed(rb.step, rolls), gn_of(rb.step), lr);
                if (!same_event(&ea, &eb))
                    fail_msg("cut %d: step %lld: events differ (%d vs %d)", cut, (long long)ra.step, ea.action,
                             eb.action);
            }
            if (ea.action == ETA_GUARD_OK) {
                ra.step++;
                rb.step++;
            } else if (ea.action == ETA_GUARD_ROLLBACK) {
                rolls++;
                if (b)
                    assert_int_equal(rb.step, ra.step);
            }
        }
        assert_int_equal(ra.step, 80);
        assert_int_equal(rolls, 3); /* two NaNs and the spike at 47 */
        void *x, *y;
        size_t lx, ly;
        assert_int_equal(eta_guard_save_state(a, &x, &lx), 0);
        assert_int_equal(eta_guard_save_state(b, &y, &ly), 0);
        assert_int_equal(lx, ly);
        assert_memory_equal(x, y, lx);

        /* Damaged bytes: refused, the guard unchanged. */
        eta_err err;
        ((unsigned char *)y)[lx / 2] ^= 1;
        assert_int_equal(eta_guard_load_state(b, y, ly, &err), ETA_EFORMAT);
        assert_non_null(strstr(err.msg, "checksum"));
        assert_int_equal(eta_guard_load_state(b, x, lx - 9, &err), ETA_EFORMAT);
        assert_int_equal(eta_guard_load_state(b, "ETAGUARD", 8, &err), ETA_EFORMAT);
        eta_guard_config c2 = c;
        c2.window = 12;
        fake_run rc_ = {0};
        eta_guard *d = new_guard(&c2, &rc_);
        assert_int_equal(eta_guard_load_state(d, x, lx, &err), ETA_EINVAL);
        assert_non_null(strstr(err.msg, "window 10"));
        eta_guard_free(d);
        void *z;
        size_t lz;
        assert_int_equal(eta_guard_save_state(b, &z, &lz), 0);
        assert_int_equal(lz, lx);
        assert_memory_equal(z, x, lx);
        free(x);
        free(y);
        free(z);
        eta_guard_free(a);
        eta_guard_free(b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_config), cmocka_unit_test(test_nan_rollback),
        cmocka_unit_test(test_max_tries),           cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_loss_ramp),           cmocka_unit_test(test_spikes),
        cmocka_unit_test(test_skip_limit),          cmocka_unit_test(test_edges),
        cmocka_unit_test(test_state_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
