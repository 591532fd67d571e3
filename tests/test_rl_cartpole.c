/* test_rl_cartpole.c - CartPole-v1 against Gymnasium's cartpole.py. labels: unit full
 *
 * Gymnasium is not installed here (no Debian package ships it), so the
 * dynamics are checked by hand-computed steps (the arithmetic below, in
 * float64 as cartpole.py computes it, to 1e-12), the limits (12 degrees,
 * 2.4 m, strictly beyond them), the 500-step truncation, the reward, the
 * start-state range, and the two oracles every CartPole user knows: a
 * uniformly random policy lasts about 22 steps on average, and the policy
 * "push right when 3*theta + theta_dot > 0" balances for the full 500.
 */
#include "harness.h"

#include <eta/rl.h>

#define PI 3.14159265358979323846

static void check_state(const eta_cartpole *env, double x, double xd, double th, double thd)
{
    assert_true(fabs(env->x - x) <= 1e-12);
    assert_true(fabs(env->x_dot - xd) <= 1e-12);
    assert_true(fabs(env->theta - th) <= 1e-12);
    assert_true(fabs(env->theta_dot - thd) <= 1e-12);
}

/* From rest, push right (action 1): cos 0 = 1, sin 0 = 0, total mass 1.1,
 * polemass_length 0.05.
 *   temp     = (10 + 0.05*0^2*0) / 1.1                 = 100/11  = 9.0909090909...
 *   thetaacc = (9.8*0 - 1*temp) / (0.5*(4/3 - 0.1*1/1.1))
 *            = -(100/11) / (0.5 * 41/33) = -(100/11)*(66/41) = -600/41 = -14.634146341463415
 *   xacc     = temp - 0.05*thetaacc*1/1.1 = 100/11 + 300/451 = 4400/451 = 9.7560975609756...
 * Euler: x = 0 + 0.02*0 = 0; x_dot = 0.02*4400/451 = 88/451 = 0.19512195121951220;
 *        theta = 0; theta_dot = 0.02*(-600/41) = -12/41 = -0.29268292682926829.
 * Pushing left (action 0) flips the signs of x_dot and theta_dot. */
static void test_step_from_rest(void **state)
{
    (void)state;
    eta_cartpole env;
    eta_cartpole_seed(&env, 0);
    float obs[4];
    double r = 0;
    bool term = true, trunc = true;
    eta_cartpole_set_state(&env, (const double[4]){0, 0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 1, obs, &r, &term, &trunc), ETA_OK);
    check_state(&env, 0, 88.0 / 451, 0, -12.0 / 41);
    assert_true(r == 1.0 && !term && !trunc);
    assert_true(obs[1] == (float)(88.0 / 451) && obs[3] == (float)(-12.0 / 41) && obs[0] == 0 && obs[2] == 0);
    eta_cartpole_set_state(&env, (const double[4]){0, 0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 0, NULL, NULL, NULL, NULL), ETA_OK);
    check_state(&env, 0, -88.0 / 451, 0, 12.0 / 41);
}

/* From (x, x_dot, theta, theta_dot) = (0.01, -0.02, 0.03, 0.04):
 *   cos 0.03 = 0.99955003374898750, sin 0.03 = 0.029995500202495660
 *   action 0 (force -10):
 *     temp     = (-10 + 0.05*0.0016*0.0299955) / 1.1 = -9.0909069094181660
 *     thetaacc = (9.8*0.0299955 - 0.99955*temp) / (0.5*(4/3 - 0.1*0.99955^2/1.1))
 *              = 9.3805648 / 0.62122547 = 15.099761188801958
 *     xacc     = temp - 0.05*15.0997612*0.99955/1.1 = -9.7769508551394680
 *     x = 0.01 + 0.02*(-0.02) = 0.0096; x_dot = -0.02 + 0.02*xacc = -0.21553901710278936
 *     theta = 0.03 + 0.02*0.04 = 0.0308; theta_dot = 0.04 + 0.02*thetaacc = 0.34199522377603914
 *   action 1 (force +10):
 *     temp = 9.0909112724000140, thetaacc = -14.153435898000405, xacc = 9.7339597873777620
 *     x_dot = 0.17467919574755525, theta_dot = -0.24306871796000810 (x, theta as above)
 * (intermediate values carried in full precision; the decimals are rounded). */
static void test_step_tilted(void **state)
{
    (void)state;
    eta_cartpole env;
    eta_cartpole_seed(&env, 0);
    const double s0[4] = {0.01, -0.02, 0.03, 0.04};
    eta_cartpole_set_state(&env, s0);
    assert_int_equal(eta_cartpole_step(&env, 0, NULL, NULL, NULL, NULL), ETA_OK);
    check_state(&env, 0.0096, -0.21553901710278936, 0.0308, 0.34199522377603914);
    eta_cartpole_set_state(&env, s0);
    assert_int_equal(eta_cartpole_step(&env, 1, NULL, NULL, NULL, NULL), ETA_OK);
    check_state(&env, 0.0096, 0.17467919574755525, 0.0308, -0.2430687179600081);
}

/* Terminated exactly when x or theta is strictly beyond its limit after the
 * step; the terminating step still pays 1; stepping again is refused. */
static void test_termination(void **state)
{
    (void)state;
    eta_cartpole env;
    eta_cartpole_seed(&env, 0);
    double r = 0;
    bool term, trunc;
    double thr = 12 * 2 * PI / 360;
    /* x moves by 0.02 * x_dot: from 2.4 - 0.02*1 with x_dot 1 it lands on 2.4 (not beyond) */
    eta_cartpole_set_state(&env, (const double[4]){2.38, 1.0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 1, NULL, &r, &term, &trunc), ETA_OK);
    assert_true(env.x <= 2.4 + 1e-15);
    assert_true(term == (env.x > 2.4));
    eta_cartpole_set_state(&env, (const double[4]){2.39, 1.0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 1, NULL, &r, &term, &trunc), ETA_OK);
    assert_true(term && !trunc && r == 1.0);
    assert_int_equal(eta_cartpole_step(&env, 1, NULL, &r, &term, &trunc), ETA_ESTATE);
    eta_cartpole_set_state(&env, (const double[4]){-2.39, -1.0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 0, NULL, &r, &term, NULL), ETA_OK);
    assert_true(term);
    /* theta: just inside stays alive, just beyond terminates (theta moves by 0.02*theta_dot) */
    eta_cartpole_set_state(&env, (const double[4]){0, 0, thr - 0.0021, 0.1});
    assert_int_equal(eta_cartpole_step(&env, 0, NULL, &r, &term, NULL), ETA_OK);
    assert_false(term);
    eta_cartpole_set_state(&env, (const double[4]){0, 0, thr - 0.0019, 0.1});
    assert_int_equal(eta_cartpole_step(&env, 0, NULL, &r, &term, NULL), ETA_OK);
    assert_true(term);
    eta_cartpole_set_state(&env, (const double[4]){0, 0, -thr + 0.0019, -0.1});
    assert_int_equal(eta_cartpole_step(&env, 1, NULL, &r, &term, NULL), ETA_OK);
    assert_true(term);
    assert_true(fabs(thr - 0.20943951023931953) < 1e-16); /* 12 degrees */
    /* a bad action */
    eta_cartpole_set_state(&env, (const double[4]){0, 0, 0, 0});
    assert_int_equal(eta_cartpole_step(&env, 2, NULL, &r, &term, NULL), ETA_EINVAL);
    assert_int_equal(eta_cartpole_step(&env, -1, NULL, &r, &term, NULL), ETA_EINVAL);
    assert_int_equal(env.steps, 0);
}

static int heuristic(const float obs[4])
{
    return 3 * obs[2] + obs[3] > 0 ? 1 : 0;
}

/* The policy "push right when 3*theta + theta_dot > 0" lasts the full 500
 * steps from every start (truncated at 500, never terminated); the start
 * states are uniform in [-0.05, 0.05). */
static void test_heuristic_reaches_500(void **state)
{
    (void)state;
    eta_cartpole env;
    eta_cartpole_seed(&env, 123);
    double lo = 1, hi = -1;
    for (int ep = 0; ep < 200; ep++) {
        float obs[4];
        eta_cartpole_reset(&env, obs);
        for (int i = 0; i < 4; i++) {
            double v = i == 0 ? env.x : i == 1 ? env.x_dot : i == 2 ? env.theta : env.theta_dot;
            assert_true(v >= -0.05 && v < 0.05);
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        double ret = 0, r;
        bool term = false, trunc = false;
        while (!term && !trunc) {
            assert_int_equal(eta_cartpole_step(&env, heuristic(obs), obs, &r, &term, &trunc), ETA_OK);
            ret += r;
        }
        assert_false(term);
        assert_true(trunc);
        assert_true(ret == 500);
        assert_int_equal(env.steps, ETA_CARTPOLE_MAX_STEPS);
    }
    assert_true(lo < -0.049 && hi > 0.049); /* the whole range is used */
}

/* A uniformly random policy: about 22 steps per episode (the usual figure,
 * 22.3 to 22.4 in Gymnasium), measured over 10,000 episodes. */
static void test_random_policy_lasts_22(void **state)
{
    (void)state;
    eta_cartpole env;
    eta_cartpole_seed(&env, 7);
    uint64_t s = 99;
    double total = 0;
    int n = 10000, shortest = 1000;
    for (int ep = 0; ep < n; ep++) {
        eta_cartpole_reset(&env, NULL);
        bool term = false, trunc = false;
        int len = 0;
        while (!term && !trunc) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            assert_int_equal(eta_cartpole_step(&env, (int)(s >> 63), NULL, NULL, &term, &trunc), ETA_OK);
            len++;
        }
        total += len;
        if (len < shortest)
            shortest = len;
    }
    double mean = total / n;
    if (!(mean > 21 && mean < 23.5))
        fail_msg("random policy: mean episode length %.3f, want about 22", mean);
    assert_true(shortest >= 8); /* the pole cannot fall 12 degrees in fewer steps */
}

/* The same seed gives the same start states; another seed other ones. */
static void test_seed(void **state)
{
    (void)state;
    eta_cartpole a, b, c;
    eta_cartpole_seed(&a, 5);
    eta_cartpole_seed(&b, 5);
    eta_cartpole_seed(&c, 6);
    float oa[4], ob[4], oc[4];
    eta_cartpole_reset(&a, oa);
    eta_cartpole_reset(&b, ob);
    eta_cartpole_reset(&c, oc);
    assert_memory_equal(oa, ob, sizeof oa);
    assert_memory_not_equal(oa, oc, sizeof oa);
    assert_true(oa[0] == (float)a.x && oa[3] == (float)a.theta_dot);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_from_rest),        cmocka_unit_test(test_step_tilted),
        cmocka_unit_test(test_termination),           cmocka_unit_test(test_heuristic_reaches_500),
        cmocka_unit_test(test_random_policy_lasts_22), cmocka_unit_test(test_seed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
