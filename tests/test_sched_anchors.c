/* tests/test_sched_anchors.c - labels: unit ref
 * The schedules of Keras, Optax, fastai, scikit-learn, darknet, llm.c and
 * eta's own (src/sched/{keras,optax,fastai,sklearn,darknet,llmc,scaling}.c)
 * against reference values from outside eta, plus the divergences between
 * the anchors (docs/sched.md), edge cases and the located errors of bad
 * arguments. None of these frameworks is installed here, so each value
 * comes from one of:
 *   - the framework's own tests, quoted: Optax's
 *     optax/schedules/_schedule_test.py (google-deepmind/optax 0.2.9.dev,
 *     revision 2edbcbe2), named by test class and method where used;
 *   - a line-by-line port (to Python, in double) of the named function of
 *     the framework's source at the revision the schedule's file in
 *     src/sched/ follows: Keras 3.16.0 (keras-team/keras 3422977a,
 *     keras/src/optimizers/schedules/learning_rate_schedule.py), Optax
 *     0.2.9.dev (2edbcbe2, optax/schedules/_schedule.py), fastai
 *     (fastai/fastai fastai/callback/schedule.py, combined_cos and the
 *     Learner.fit_* methods), darknet (pjreddie/darknet f6afaabc,
 *     src/network.c get_current_rate), llm.c (karpathy/llm.c f1e2ace6,
 *     llmc/schedulers.h), scikit-learn 1.2.1 (sklearn/linear_model/
 *     _sgd_fast.pyx, _plain_sgd's rate and its 'optimal' t0);
 *   - arithmetic on a documented formula, where a comment shows it.
 * Each test says which.
 *
 * Bounds: values the ports printed to about 10 significant digits are
 * checked at 1e-9 relative, those printed to 10 decimal places within half
 * a unit of the 10th decimal (5e-11 absolute: 0.0006692851); Optax's own
 * test values that are float32 results at Optax's rtol 1e-6, and also
 * in double at 1e-15; values that are exact decimals at 1e-12 (the formulas
 * round on the way); values that are exactly representable and reached
 * without rounding (0, 1, 0.5, ...) exactly. Every anchor schedule ignores
 * the group's initial lr (fastai's omitted lr_max excepted): the tests
 * pass 123.
 */
#include "harness.h"

#include <eta/eta.h>

#define BASE 123.0
#define N(a) (sizeof(a) / sizeof((a)[0]))

static eta_sched *build(const char *spec)
{
    eta_sched *s = NULL;
    eta_err err;
    if (eta_sched_new(&s, spec, &err))
        fail_msg("'%s': %s", spec, err.msg);
    return s;
}

/* Half a unit of the 10th decimal place: for values a port printed with 10 decimals. */
#define DECIMALS10 (-5.000001e-11)

/* lr(steps[i]) against want[i] within `tol` relative (0: exactly; negative:
 * |tol| absolute). */
static void check_lrs(const char *spec, const double *steps, const double *want, size_t n, double tol)
{
    eta_sched *s = build(spec);
    for (size_t i = 0; i < n; i++) {
        double got = eta_sched_lr(s, steps[i], BASE);
        double e = tol == 0 ? (got == want[i] ? 0 : 1) : tol < 0 ? fabs(got - want[i]) : rel_err(got, want[i]);
        if (!(e <= fabs(tol)))
            fail_msg("%s at step %g: got %.17g, want %.17g (rel err %.3g > %.3g)", spec, steps[i], got, want[i], e,
                     tol);
    }
    eta_sched_free(s);
}

/* The same at steps 0, 1, ..., n-1. */
static void check_series(const char *spec, const double *want, size_t n, double tol)
{
    double steps[64];
    assert_true(n <= N(steps));
    for (size_t i = 0; i < n; i++)
        steps[i] = (double)i;
    check_lrs(spec, steps, want, n, tol);
}

static void check_moms(const char *spec, const double *steps, const double *want, size_t n, double tol)
{
    eta_sched *s = build(spec);
    assert_true(eta_sched_cycles_momentum(s));
    for (size_t i = 0; i < n; i++) {
        double got = eta_sched_momentum(s, steps[i], 0.5);
        if (!(rel_err(got, want[i]) <= tol))
            fail_msg("%s: momentum at step %g: got %.17g, want %.17g", spec, steps[i], got, want[i]);
    }
    eta_sched_free(s);
}

/* Building `spec` fails with ETA_EINVAL, a message containing `msg`, located
 * at the text `at` (NULL: anywhere). */
static void check_error(const char *spec, const char *msg, const char *at)
{
    eta_sched *s = (eta_sched *)1;
    eta_err err;
    int rc = eta_sched_new(&s, spec, &err);
    if (rc != ETA_EINVAL)
        fail_msg("'%s': expected ETA_EINVAL, got %d (%s)", spec, rc, rc ? err.msg : "built");
    assert_null(s);
    if (!strstr(err.msg, msg))
        fail_msg("'%s': message '%s' lacks '%s'", spec, err.msg, msg);
    if (at && (err.pos < 0 || strncmp(spec + err.pos, at, strlen(at))))
        fail_msg("'%s': error at %d ('%s'), want at '%s'", spec, err.pos, err.pos >= 0 ? spec + err.pos : "", at);
}

/* ---- Keras ----
 * Ports of Keras 3.16.0 learning_rate_schedule.py (keras-team/keras 3422977a):
 * the class named by each spec, its __call__. */

static void test_keras_cosine_decay_restarts(void **state)
{
    (void)state;
    static const double steps[] = {0, 5, 10, 20, 30, 40, 70};
    static const double want[] = {1.0, 0.5, 0.5, 0.25, 0.25, 0.2133883476, 0.125};
    check_lrs("CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2, m_mul=0.5)", steps, want, N(want), DECIMALS10);
    /* exact restarts where log(1 + f)/log(t_mul) is an integer: the cycle's first value */
    static const double s3[] = {0, 10, 40, 130, 400};
    static const double w3[] = {1, 1, 1, 1, 1};
    check_lrs("CosineDecayRestarts(1.0, 10, t_mul=3.0)", s3, w3, N(w3), 1e-15);
    /* t_mul = 1: plain periods; alpha floors the cosine */
    static const double s1[] = {0, 5, 10, 15, 25};
    static const double w1[] = {2, 1.1, 2, 1.1, 1.1};
    check_lrs("CosineDecayRestarts(2.0, 10, t_mul=1.0, alpha=0.1)", s1, w1, N(w1), 1e-12);
}

static void test_keras_cosine_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 5, 10, 60, 110, 200};
    static const double want[] = {0.0, 0.5, 1.0, 0.5, 0.0, 0.0};
    check_lrs("CosineDecay(0.0, decay_steps=100, warmup_target=1.0, warmup_steps=10)", steps, want, N(want), 1e-15);
    /* no warm-up: clamps at alpha * init past decay_steps (PyTorch's cosine goes back up) */
    static const double s2[] = {0, 50, 100, 150};
    static const double w2[] = {1.0, 0.55, 0.1, 0.1};
    check_lrs("CosineDecay(1.0, 100, alpha=0.1)", s2, w2, N(w2), 1e-15);
    /* Keras ignores warmup_steps without warmup_target */
    check_lrs("CosineDecay(1.0, 100, alpha=0.1, warmup_steps=50)", s2, w2, N(w2), 1e-15);
}

static void test_keras_polynomial_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 5, 10, 11, 15, 20, 21};
    static const double want[] = {1.0, 0.5, 0.0, 0.45, 0.25, 0.0, 0.3};
    check_lrs("PolynomialDecay(1.0, 10, end_learning_rate=0.0, power=1, cycle=True)", steps, want, N(want), 1e-15);
    /* default end_learning_rate 1e-4, held past decay_steps without cycle */
    static const double s2[] = {0, 10, 1000};
    static const double w2[] = {1.0, 1e-4, 1e-4};
    check_lrs("PolynomialDecay(1.0, 10)", s2, w2, N(w2), 0);
}

static void test_keras_inverse_time_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 1, 2, 10};
    static const double want[] = {0.1, 0.0666666667, 0.05, 0.0166666667};
    check_lrs("InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)", steps, want, N(want), DECIMALS10);
    static const double exact[] = {0.1, 0.1 / 1.5, 0.05, 0.1 / 6};
    check_lrs("InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5)", steps, exact, N(exact), 1e-15);
    static const double s2[] = {0, 9.5, 10, 25};
    static const double w2[] = {1, 1, 0.5, 1 / 3.0};
    check_lrs("InverseTimeDecay(1.0, 10, 1.0, staircase=True)", s2, w2, N(w2), 1e-15);
}

static void test_keras_piecewise_constant(void **state)
{
    (void)state;
    /* Keras: the boundary step keeps the earlier value (Optax and PyTorch switch there) */
    static const double steps[] = {0, 100, 101, 110, 111};
    static const double want[] = {1.0, 1.0, 0.5, 0.5, 0.1};
    check_lrs("PiecewiseConstantDecay([100, 110], [1.0, 0.5, 0.1])", steps, want, N(want), 0);
    static const double w2[] = {1.0, 0.1, 0.1, 0.01, 0.01};
    check_lrs("piecewise_constant_schedule(1.0, {100: 0.1, 110: 0.1})", steps, w2, N(w2), 1e-15);
}

static void test_keras_exponential_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 5, 10, 15, 20};
    static const double smooth[] = {1, 0.70710678118654757, 0.5, 0.35355339059327379, 0.25};
    check_lrs("ExponentialDecay(1.0, 10, 0.5)", steps, smooth, N(smooth), 1e-15);
    static const double stair[] = {1, 1, 0.5, 0.5, 0.25};
    check_lrs("keras.optimizers.schedules.ExponentialDecay(initial_learning_rate=1.0, decay_steps=10, "
              "decay_rate=0.5, staircase=True, name='x')",
              steps, stair, N(stair), 0);
}

/* ---- Optax ----
 * Quoted from Optax's _schedule_test.py (0.2.9.dev, 2edbcbe2) where a test
 * names the method; the rest are ports of _schedule.py's functions. */

static void test_optax_cosine_onecycle(void **state)
{
    (void)state;
    static const double w1[] = {100, 550, 1000, 750.25, 250.75, 1, 1}; /* OneCycleTest.test_cosine */
    check_series("cosine_onecycle_schedule(transition_steps=5, peak_value=1000, pct_start=0.4, div_factor=10, "
                 "final_div_factor=100)",
                 w1, N(w1), 1e-12);
    /* defaults (port of cosine_onecycle_schedule): peak one step later than PyTorch's OneCycleLR, minimum at T */
    static const double w2[] = {0.04,         0.28,         0.76,         1.0,          0.950484632, 0.8117456539,
                                 0.6112620219, 0.3887419781, 0.1882583461, 0.049519368, 4e-06};
    check_series("cosine_onecycle_schedule(10, 1.0)", w2, N(w2), 1e-9);
}

static void test_optax_linear_onecycle(void **state)
{
    (void)state;
    static const double want[] = {100, 400, 700, 1000, 775, 550, 325, 100, 67, 34, 1, 1}; /* OneCycleTest.test_linear */
    check_series("linear_onecycle_schedule(transition_steps=10, peak_value=1000, pct_start=0.3, pct_final=0.7, "
                 "div_factor=10, final_div_factor=100)",
                 want, N(want), 1e-12);
    /* int(pct_final * T) == T: the dict key repeats and the later scale wins, as in Python */
    static const double w2[] = {10, 55, 100, 67, 34, 1, 1};
    check_series("linear_onecycle_schedule(5, 100, pct_start=0.4, pct_final=1.0, div_factor=10, final_div_factor=100)",
                 w2, N(w2), 1e-12);
}

static void test_optax_piecewise_interpolate(void **state)
{
    (void)state;
    /* PiecewiseInterpolateTest.test_linear_piecewise and .test_cos_piecewise */
    static const double lin[] = {200, 220, 240, 260, 280, 300, 255, 210, 165, 120, 75, 75, 75};
    check_series("piecewise_interpolate_schedule('linear', 200, {5: 1.5, 10: 0.25})", lin, N(lin), 1e-12);
    static const double cosv[] = {400, 360, 280, 240, 264, 288, 288, 288, 288};
    check_series("piecewise_interpolate_schedule('cosine', 400, {5: 1.2, 3: 0.6, 7: 1.0})", cosv, N(cosv), 1e-12);
    /* no boundaries: the constant init_value; a repeated key keeps its last scale */
    static const double w3[] = {7, 7, 7};
    check_series("piecewise_interpolate_schedule('linear', 7)", w3, N(w3), 0);
    static const double w4[] = {1, 0.75, 0.5, 0.5};
    check_series("piecewise_interpolate_schedule('linear', 1, {2: 0.1, 2: 0.5})", w4, N(w4), 0);
}

static void test_optax_cosine_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 10, 50, 75, 100};
    /* CosineDecayTest.test_with_exponent (float32 results, its rtol 1e-6) */
    static const double want[] = {0.1, 0.09516553580760956, 0.025, 0.0021446612663567066, 0.0};
    check_lrs("cosine_decay_schedule(0.1, 100, alpha=0.0, exponent=2)", steps, want, N(want), 1e-6);
    static const double exact[] = {0.1, 0.1 * 0.97552825814757682 * 0.97552825814757682, 0.025,
                                   0.1 * 0.14644660940672624 * 0.14644660940672624, 0.0};
    check_lrs("cosine_decay_schedule(0.1, 100, alpha=0.0, exponent=2)", steps, exact, N(exact), 1e-15);
    static const double w2[] = {1, 0.625, 0.25, 0.25}; /* exponent 1, alpha 0.25: clamps at 0.25 */
    static const double s2[] = {0, 50, 100, 1e9};
    check_lrs("cosine_decay_schedule(1.0, 100, alpha=0.25)", s2, w2, N(w2), 1e-12);
}

static void test_optax_warmup_cosine_decay(void **state)
{
    (void)state;
    /* WarmupCosineDecayTest.test_with_exponent's arguments; its float32 results
     * (0.20000004768371582, 0.4020000100135803, ...) are these decimals to its
     * rtol 1e-6, which double reaches to 1e-12 */
    static const double s1[] = {0, 10, 50, 75, 100};
    static const double w1[] = {0.2, 0.402, 1.21, -1.9475, -3.0};
    check_lrs("warmup_cosine_decay_schedule(init_value=0.2, peak_value=1.21, warmup_steps=50, decay_steps=100, "
              "end_value=-3, exponent=2)",
              s1, w1, N(w1), 1e-12);
    /* port: decay_steps includes the warm-up (Keras's CosineDecay excludes it) */
    static const double s2[] = {0, 5, 10, 55, 100, 150};
    static const double w2[] = {0.0, 0.5, 1.0, 0.55, 0.1, 0.1};
    check_lrs("warmup_cosine_decay_schedule(0, 1, 10, 100, end_value=0.1)", s2, w2, N(w2), 1e-12);
    static const double w3[] = {0.0, 0.5, 1.0, 0.5, 0.0, 0.0}; /* Keras, same numbers: ends at 110 */
    static const double s3[] = {0, 5, 10, 60, 110, 150};
    check_lrs("CosineDecay(0.0, 100, warmup_target=1.0, warmup_steps=10)", s3, w3, N(w3), 1e-15);
}

static void test_optax_exponential_decay(void **state)
{
    (void)state;
    static const double steps[] = {0, 5, 14, 15, 25, 35};
    static const double want[] = {1.0, 1.0, 1.0, 0.5, 0.25, 0.125};
    check_lrs("exponential_decay(1.0, 10, 0.5, transition_begin=5, staircase=True)", steps, want, N(want), 0);
    /* end_value is a floor for a decay, a ceiling for a growth */
    static const double s2[] = {0, 10, 20, 30};
    static const double w2[] = {1.0, 0.5, 0.3, 0.3};
    check_lrs("exponential_decay(1.0, 10, 0.5, end_value=0.3)", s2, w2, N(w2), 0);
    static const double w3[] = {1.0, 2.0, 3.0, 3.0};
    check_lrs("exponential_decay(1.0, 10, 2.0, end_value=3.0)", s2, w3, N(w3), 0);
}

static void test_optax_simple(void **state)
{
    (void)state;
    static const double s[] = {0, 5, 10, 20};
    static const double c[] = {0.3, 0.3, 0.3, 0.3};
    check_lrs("optax.constant_schedule(0.3)", s, c, N(c), 0);
    static const double lin[] = {1.0, 1.0, 0.5, 0.0};
    check_lrs("linear_schedule(1.0, 0.0, transition_steps=10, transition_begin=5)", s, lin, N(lin), 0);
    static const double poly[] = {1.0, 0.2575, 0.01, 0.01}; /* 0.99 (1 - t/10)^2 + 0.01 */
    check_lrs("polynomial_schedule(init_value=1.0, end_value=0.01, transition_steps=10, power=2)", s, poly, N(poly),
              1e-12);
    static const double flat[] = {2, 2, 2, 2}; /* transition_steps 0: constant init_value */
    check_lrs("linear_schedule(2, 5, 0)", s, flat, N(flat), 0);
    static const double pw[] = {1.0, 0.1, 0.1, 0.001};
    static const double spw[] = {0, 100, 150, 250};
    check_lrs("piecewise_constant_schedule(init_value=1.0, boundaries_and_scales={100: 0.1, 200: 0.01})", spw, pw,
              N(pw), 1e-15);
    static const double wk[] = {0.0, 0.5, 1.0, 1.0};
    check_lrs("warmup_constant_schedule(0.0, 1.0, 10)", s, wk, N(wk), 0);
    static const double wk0[] = {0.1, 0.1, 0.1, 0.1}; /* warmup_steps 0 keeps init_value (Optax) */
    check_lrs("warmup_constant_schedule(0.1, 1.0, 0)", s, wk0, N(wk0), 0);
    static const double se[] = {0, 5, 10, 15, 25, 35}; /* the decay's clock starts at the warm-up's end */
    static const double we[] = {0.0, 0.5, 1.0, 1.0, 0.5, 0.25};
    check_lrs("warmup_exponential_decay_schedule(0.0, 1.0, 10, transition_steps=10, decay_rate=0.5, "
              "transition_begin=5, staircase=True)",
              se, we, N(we), 0);
}

static void test_optax_sgdr_and_join(void **state)
{
    (void)state;
    static const double s[] = {0, 5, 10, 55, 99, 100, 105, 110, 200, 299, 1000};
    static const double w[] = {0, 0.5, 1, 0.55, 0.10027412784140691, 0, 0.25, 0.5, 0.2935803527312748,
                               0.05003075637669448, 0.05};
    const char *sgdr = "sgdr_schedule([warmup_cosine_decay_schedule(0, 1, 10, 100, end_value=0.1), "
                       "warmup_cosine_decay_schedule(0, 0.5, 10, 200, end_value=0.05)])";
    check_lrs(sgdr, s, w, N(w), 1e-12);
    /* Optax's form: a list of dicts of warmup_cosine_decay_schedule's arguments */
    check_lrs("sgdr_schedule([{'init_value': 0, 'peak_value': 1, 'warmup_steps': 10, 'decay_steps': 100, "
              "'end_value': 0.1}, dict(init_value=0, peak_value=0.5, warmup_steps=10, decay_steps=200, end_value=0.05)])",
              s, w, N(w), 1e-12);
    /* SGDRTest.test_limits: three cycles of 2000, 3000 and 5000 steps with 500
     * warm-up steps each peak at step 500 of their cycle */
    static const double s_sgdr[] = {500, 2500, 5500};
    static const double w_sgdr[] = {1.6, 0.8, 0.4};
    check_lrs("sgdr_schedule([{'decay_steps': 2000, 'peak_value': 1.6, 'init_value': 0, 'end_value': 0.0, "
              "'warmup_steps': 500}, {'decay_steps': 3000, 'peak_value': 0.8, 'init_value': 0, 'end_value': 0.0, "
              "'warmup_steps': 500}, {'decay_steps': 5000, 'peak_value': 0.4, 'init_value': 0, 'end_value': 0.0, "
              "'warmup_steps': 500}])",
              s_sgdr, w_sgdr, N(w_sgdr), 1e-15);
    check_lrs("join_schedules([warmup_cosine_decay_schedule(0, 1, 10, 100, end_value=0.1), "
              "warmup_cosine_decay_schedule(0, 0.5, 10, 200, end_value=0.05)], [100])",
              s, w, N(w), 1e-12);
    /* join hands the later schedule step - boundary; any kinds mix, momentum comes from the active one */
    static const double sj[] = {0, 4, 5, 6, 7, 15};
    static const double wj[] = {0.5, 0.5, 1.0, 1.0, 0.5, 0.03125};
    check_lrs("join_schedules([constant_schedule(0.5), ExponentialDecay(1.0, 2, 0.5, staircase=True)], [5])", sj, wj,
              N(wj), 0);
    eta_sched *j = build("join_schedules([constant_schedule(1.0), fit_one_cycle(8, 1.0)], [10])");
    assert_true(eta_sched_cycles_momentum(j));
    assert_true(eta_sched_momentum(j, 3, 0.7) == 0.7);        /* not yet set */
    assert_true(rel_err(eta_sched_momentum(j, 12, 0.7), 0.85) < 1e-15);
    assert_true(rel_err(eta_sched_lr(j, 18, BASE), 1e-5) < 1e-9);
    assert_true(isnan(eta_sched_lr(j, 19, BASE))); /* the fit ends at its step 8 */
    eta_err err;
    assert_int_equal(eta_sched_check_step(j, 19, &err), ETA_EINVAL);
    eta_sched_free(j);
}

/* ---- fastai ----
 * Ports of fastai/callback/schedule.py: fit_one_cycle's ParamScheduler with
 * combined_cos(pct_start, lr_max/div, lr_max, lr_max/div_final) and moms
 * (0.95, 0.85, 0.95), read at pct_train = step / (n_epoch * n_iter). */

static void test_fastai_one_cycle(void **state)
{
    (void)state;
    /* pct_train 0, 0.125, 0.25, 0.625, 1.0 of 8 steps */
    static const double steps[] = {0, 1, 2, 5, 8};
    static const double lr[] = {0.04, 0.52, 1.0, 0.500005, 1e-05};
    static const double mom[] = {0.95, 0.9, 0.85, 0.9, 0.95};
    check_lrs("fit_one_cycle(8, lr_max=1)", steps, lr, N(lr), 1e-10);
    check_moms("fit_one_cycle(8, lr_max=1)", steps, mom, N(mom), 1e-12);
    check_lrs("fit_one_cycle(2, 1.0, steps_per_epoch=4)", steps, lr, N(lr), 1e-10);
    /* lr_max omitted: the optimizer's lr (BASE), as fastai's None */
    static const double lr_base[] = {0.04 * BASE, 0.52 * BASE, BASE, 0.500005 * BASE, 1e-05 * BASE};
    check_lrs("fit_one_cycle(8)", steps, lr_base, N(lr_base), 1e-10);
    static const double mom2[] = {0.9, 0.85, 0.8, 0.85, 0.9};
    check_moms("fit_one_cycle(8, moms=(0.9, 0.8, 0.9))", steps, mom2, N(mom2), 1e-12);
    /* per-group lr_max */
    eta_sched *s = build("fit_one_cycle(8, lr_max=[1.0, 0.1])");
    assert_true(rel_err(eta_sched_lr_group(s, 2, BASE, 1), 0.1) < 1e-15);
    assert_int_equal(eta_sched_groups(s), 2);
    /* defined for 0 <= step <= n_epoch * steps_per_epoch */
    assert_true(isnan(eta_sched_lr(s, 9, BASE)));
    eta_sched_free(s);
}

static void test_fastai_flat_cos_sgdr(void **state)
{
    (void)state;
    /* flat for 75% of 20 steps, then a cosine to lr/div_final; step 17.5 is step 17 (pos 0.85) */
    static const double s1[] = {0, 5, 14, 15, 17.5, 20};
    static const double w1[] = {0.1, 0.1, 0.1, 0.1, 0.06545119521025018, 1e-6};
    check_lrs("fit_flat_cos(20, lr=0.1, div_final=1e5)", s1, w1, N(w1), 1e-9);
    eta_sched *f = build("fit_flat_cos(2, lr=0.1)");
    assert_false(eta_sched_cycles_momentum(f));
    eta_sched_free(f);
    /* 3 cycles of 1, 2, 4 epochs (7 epochs), 2 steps per epoch */
    static const double s2[] = {0, 1, 2, 4, 6, 10, 14};
    static const double w2[] = {1, 0.5, 1, 0.5, 1, 0.5, 0};
    check_lrs("fit_sgdr(3, 1, lr_max=1.0, steps_per_epoch=2)", s2, w2, N(w2), 1e-12);
    /* cycle_mult=1 (fastai divides by zero): equal cycles */
    static const double s3[] = {0, 1, 2, 3, 6};
    static const double w3[] = {1, 0.5, 1, 0.5, 0};
    check_lrs("fit_sgdr(3, 2, lr_max=1.0, cycle_mult=1)", s3, w3, N(w3), 1e-12);
}

/* ---- scikit-learn ----
 * scikit-learn 1.2.1, sklearn/linear_model/_sgd_fast.pyx (_plain_sgd):
 * 'optimal' eta = 1/(alpha (t0 + t - 1)) with t0 = 1/(typw alpha), typw =
 * sqrt(1/sqrt(alpha)) = 10 for alpha 1e-4, so eta(t=1) = 10 and eta(t=1001)
 * = 5; 'invscaling' eta = eta0 / t^power_t (the SGDRegressor docs' formula):
 * 0.01 at t=1, 0.01/16^0.25 = 0.005, 0.01/10000^0.25 = 0.001. */

static void test_sklearn_rates(void **state)
{
    (void)state;
    /* sklearn's t = eta's step + 1 */
    static const double s_opt[] = {0, 1000};
    static const double w_opt[] = {10, 5};
    check_lrs("SGDClassifier(learning_rate='optimal', alpha=0.0001, loss='hinge')", s_opt, w_opt, N(w_opt), 1e-12);
    check_lrs("SGDClassifier()", s_opt, w_opt, N(w_opt), 1e-12);
    check_lrs("SGDRegressor(learning_rate='optimal', loss='huber')", s_opt, w_opt, N(w_opt), 1e-12);
    static const double s_inv[] = {0, 15, 9999};
    static const double w_inv[] = {0.01, 0.005, 0.001};
    check_lrs("SGDRegressor(learning_rate='invscaling', eta0=0.01, power_t=0.25)", s_inv, w_inv, N(w_inv), 1e-12);
    check_lrs("SGDRegressor()", s_inv, w_inv, N(w_inv), 1e-12);
    static const double s_c[] = {0, 7, 1e6};
    static const double w_c[] = {0.05, 0.05, 0.05};
    check_lrs("SGDClassifier(learning_rate='constant', eta0=0.05, penalty='l1', max_iter=10, random_state=0, "
              "n_jobs=-1, shuffle=False, verbose=1)",
              s_c, w_c, N(w_c), 0);
    eta_sched *s = build("SGDRegressor(learning_rate='invscaling')");
    assert_false(eta_sched_needs_metric(s));
    eta_sched_free(s);
}

static void observe(eta_sched *s, int64_t step, double metric)
{
    eta_err err;
    if (eta_sched_observe(s, step, metric, NULL, 0, &err))
        fail_msg("observe: %s", err.msg);
}

static void test_sklearn_adaptive(void **state)
{
    (void)state;
    eta_sched *s = build("SGDRegressor(learning_rate='adaptive', eta0=0.1, n_iter_no_change=2, tol=0.01)");
    assert_true(eta_sched_needs_metric(s));
    assert_true(eta_sched_lr(s, 0, BASE) == 0.1);
    observe(s, 9, 1.0);   /* best 1.0 */
    observe(s, 19, 0.995); /* > best - tol: a miss (best becomes 0.995) */
    assert_true(eta_sched_lr(s, 20, BASE) == 0.1);
    observe(s, 29, 0.99); /* > 0.995 - 0.01: second miss -> eta / 5 */
    assert_true(rel_err(eta_sched_lr(s, 30, BASE), 0.02) < 1e-15);
    observe(s, 39, 0.5); /* an improvement resets the count */
    observe(s, 49, 0.5);
    assert_true(rel_err(eta_sched_lr(s, 50, BASE), 0.02) < 1e-15);
    observe(s, 59, 0.5);
    assert_true(rel_err(eta_sched_lr(s, 60, BASE), 0.004) < 1e-15);
    /* save / load carries the state exactly */
    void *buf = NULL;
    size_t len = 0;
    assert_int_equal(eta_sched_save(s, &buf, &len), ETA_OK);
    eta_sched *r = build("SGDRegressor(learning_rate='adaptive', eta0=0.1, n_iter_no_change=2, tol=0.01)");
    eta_err err;
    assert_int_equal(eta_sched_load(r, buf, len, &err), ETA_OK);
    assert_true(eta_sched_lr(r, 60, BASE) == eta_sched_lr(s, 60, BASE));
    free(buf);
    eta_sched_free(r);
    /* reductions stop once eta <= 1e-6 (sklearn would stop training) */
    for (int64_t e = 7; e < 200; e++)
        observe(s, e * 10 + 9, 0.5);
    double last = eta_sched_lr(s, 2000, BASE);
    assert_true(last <= 1e-6 && last > 1e-6 / 5);
    eta_sched_free(s);

    /* tol=None never counts a miss */
    s = build("SGDClassifier(learning_rate='adaptive', eta0=1.0, tol=None, n_iter_no_change=1)");
    for (int64_t e = 0; e < 5; e++)
        observe(s, e, 1.0);
    assert_true(eta_sched_lr(s, 5, BASE) == 1.0);
    eta_sched_free(s);

    /* early_stopping: the validation score, higher is better */
    s = build("SGDClassifier(learning_rate='adaptive', eta0=1.0, early_stopping=True, n_iter_no_change=1)");
    observe(s, 0, 0.8);
    assert_true(eta_sched_lr(s, 1, BASE) == 1.0);
    observe(s, 1, 0.9); /* better by more than tol */
    assert_true(eta_sched_lr(s, 2, BASE) == 1.0);
    observe(s, 2, 0.9005); /* < best + tol: a miss */
    assert_true(eta_sched_lr(s, 3, BASE) == 0.2);
    eta_sched_free(s);

    /* inside a composite: the metric goes to the active schedule */
    s = build("join_schedules([constant_schedule(1.0), SGDRegressor(learning_rate='adaptive', eta0=0.5, "
              "n_iter_no_change=1)], [10])");
    assert_true(eta_sched_needs_metric(s));
    observe(s, 12, 1.0);
    observe(s, 13, 1.0);
    assert_true(eta_sched_lr(s, 14, BASE) == 0.1);
    assert_true(eta_sched_lr(s, 5, BASE) == 1.0);
    eta_sched_free(s);
}

/* ---- darknet ----
 * Ports of get_current_rate (pjreddie/darknet f6afaabc, src/network.c) with
 * the [net] keys each spec names; the burn-in is learning_rate * (b/burn_in)^power. */

static void test_darknet(void **state)
{
    (void)state;
    static const double s1[] = {0, 500, 1000, 399999, 400000, 450000};
    static const double w1[] = {0.0, 6.25e-05, 0.001, 0.001, 0.0001, 1e-05};
    check_lrs("darknet(policy='steps', learning_rate=0.001, burn_in=1000, power=4, steps=[400000, 450000], "
              "scales=[.1, .1])",
              s1, w1, N(w1), 1e-14);
    static const double s2[] = {0, 50, 100};
    static const double poly[] = {0.1, 0.00625, 0.0};
    check_lrs("darknet(policy='poly', learning_rate=0.1, power=4, max_batches=100)", s2, poly, N(poly), 1e-14);
    static const double sig[] = {0.0993307149, 0.05, 0.0006692851};
    check_lrs("darknet(policy='sigmoid', learning_rate=0.1, gamma=0.1, step=50)", s2, sig, N(sig), DECIMALS10);
    static const double sig_exact[] = {0.09933071490757153, 0.05, 0.0006692850924284856};
    check_lrs("darknet(policy='sigmoid', learning_rate=0.1, gamma=0.1, step=50)", s2, sig_exact, N(sig), 1e-15);
    static const double s3[] = {0, 9, 10, 25};
    static const double stp[] = {1, 1, 0.5, 0.25};
    check_lrs("darknet(policy='step', learning_rate=1, step=10, scale=0.5)", s3, stp, N(stp), 0);
    static const double ex[] = {1, 0.001953125, 0.0009765625, 2.98023223876953125e-08}; /* 0.5^b */
    check_lrs("darknet(policy='exp', learning_rate=1, gamma=0.5)", s3, ex, N(ex), 0);
    static const double cst[] = {0.001, 0.001, 0.001, 0.001};
    check_lrs("darknet()", s3, cst, N(cst), 0);
    eta_sched *s = build("darknet(policy='poly', learning_rate=0.1, max_batches=100)");
    assert_true(isnan(eta_sched_lr(s, 101, BASE)));
    eta_sched_free(s);
}

/* ---- llm.c and WSD ----
 * Ports of llmc/schedulers.h (karpathy/llm.c f1e2ace6), get_learning_rate_wsd
 * and _cosine; the cosine case uses the GPT-2 124M run of
 * scripts/run_gpt2_124M.sh (-l 0.0006 -u 700 -q 0.0, 18,865 steps). */

static void test_llmc(void **state)
{
    (void)state;
    static const double s1[] = {0, 9, 10, 79, 80, 89, 100};
    static const double w1[] = {0.1, 1.0, 1.0, 1.0, 1.0, 0.3962616461, 0.1};
    check_lrs("llmc(scheduler='wsd', learning_rate=1, warmup_iterations=10, train_num_batches=100, "
              "final_learning_rate_frac=0.1)",
              s1, w1, N(w1), 1e-9);
    check_lrs("WSD(1.0, 10, 100, final_lr_frac=0.1)", s1, w1, N(w1), 1e-9);
    static const double s2[] = {0, 699, 700, 18865};
    static const double w2[] = {8.571428571e-07, 6e-04, 6e-04, 0.0};
    check_lrs("llmc(scheduler='cosine', learning_rate=6e-4, warmup_iterations=700, train_num_batches=18865, "
              "final_learning_rate_frac=0.0)",
              s2, w2, N(w2), 1e-9);
    static const double s3[] = {0, 4, 5, 10};
    static const double w3[] = {0.5, 0.8125, 0.71875, 0.25}; /* linear to lr * 0.25 */
    check_lrs("llmc(10, 'linear', 1.0, 2, 0.25)", s3, w3, N(w3), 1e-15);
    static const double w4[] = {3e-4, 3e-4, 3e-4, 3e-4}; /* constant: no warm-up; default frac 1.0 is flat */
    check_lrs("llmc(10, 'constant', warmup_iterations=5)", s3, w4, N(w4), 0);
    check_lrs("llmc(train_num_batches=10)", s3, w4, N(w4), 1e-15);
    eta_sched *s = build("llmc(train_num_batches=10, final_learning_rate_frac=0)");
    assert_true(eta_sched_lr(s, 10, BASE) == 0);
    assert_true(isnan(eta_sched_lr(s, 11, BASE)));
    eta_sched_free(s);
}

static void test_wsd_variants(void **state)
{
    (void)state;
    /* WSD(1-sqrt, 0.2) is llm.c's wsd at every step, for several lengths */
    static const int lengths[] = {1, 7, 10, 99, 1000, 12345};
    for (size_t k = 0; k < N(lengths); k++) {
        char a[256], b[256];
        int n = lengths[k], w = n / 10;
        snprintf(a, sizeof a, "llmc(%d, 'wsd', 0.5, %d, 0.1)", n, w);
        snprintf(b, sizeof b, "WSD(0.5, %d, %d, final_lr_frac=0.1)", w, n);
        eta_sched *x = build(a), *y = build(b);
        for (int t = 0; t <= n; t++)
            if (eta_sched_lr(x, t, BASE) != eta_sched_lr(y, t, BASE))
                fail_msg("N=%d step %d: llmc %.17g, WSD %.17g", n, t, eta_sched_lr(x, t, BASE),
                         eta_sched_lr(y, t, BASE));
        eta_sched_free(x);
        eta_sched_free(y);
    }
    /* cooldowns from 1 to 0 over steps 80..100 (r = 0.25 at 85) */
    static const double s[] = {79, 80, 85, 100};
    static const double lin[] = {1, 1, 0.75, 0};
    check_lrs("WSD(1.0, 0, 100, cooldown='linear')", s, lin, N(lin), 1e-15);
    static const double cosv[] = {1, 1, 0.85355339059327373, 0};
    check_lrs("WSD(1.0, 0, 100, cooldown='cosine')", s, cosv, N(cosv), 1e-15);
    static const double sq[] = {1, 1, 0.5, 0};
    check_lrs("WSD(1.0, 0, 100, decay_frac=0.2, cooldown='1-sqrt')", s, sq, N(sq), 1e-15);
}

/* ---- eta: the linear scaling rule ---- */

static void test_linear_scaling(void **state)
{
    (void)state;
    static const double s[] = {0, 1, 50, 99, 100, 1000};
    static const double w[] = {0.1, 0.1 + 0.7 * 1 / 100, 0.45, 0.1 + 0.7 * 99 / 100, 0.8, 0.8};
    check_lrs("LinearScalingWarmup(base_lr=0.1, batch_size=2048, base_batch_size=256, warmup_steps=100)", s, w,
              N(w), 1e-15);
    static const double w0[] = {0.4, 0.4, 0.4, 0.4, 0.4, 0.4};
    check_lrs("LinearScalingWarmup(batch_size=1024, warmup_steps=0)", s, w0, N(w0), 0);
}

/* ---- every anchor kind: finite rates over its domain ---- */

static void test_no_nan(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "ExponentialDecay(0.1, 7, 0.0)", "PiecewiseConstantDecay([0], [1, 2])", "PolynomialDecay(1, 3, power=0)",
        "PolynomialDecay(1, 3, power=0.5, cycle=True)", "InverseTimeDecay(1, 0.5, 3, staircase=True)",
        "CosineDecay(1, 3, warmup_target=2, warmup_steps=0)", "CosineDecayRestarts(1, 0.7, t_mul=1.5, m_mul=0)",
        "CosineDecayRestarts(1, 3, t_mul=1)", "polynomial_schedule(1, 0, 0.5, 3)",
        "cosine_decay_schedule(1, 3, exponent=0)",
        "warmup_cosine_decay_schedule(0, 0, 0, 1)", "exponential_decay(1, 1, 3.0, end_value=5)",
        "linear_onecycle_schedule(1, 1)", "cosine_onecycle_schedule(1, 1, pct_start=0)",
        "piecewise_interpolate_schedule('cosine', 1, {-5: 2, 0: 3, 1: 0})", "fit_one_cycle(1, pct_start=0)",
        "fit_flat_cos(1, pct_start=0)", "fit_sgdr(1, 1)", "fit_sgdr(4, 3, cycle_mult=3, steps_per_epoch=5)",
        "SGDClassifier(alpha=1e-12)", "SGDRegressor(power_t=-1)", "darknet(policy='sigmoid', gamma=-1e6)",
        "darknet(policy='steps', steps=[5, 2], scales=[2, 3], burn_in=3, power=0)", "llmc(1, 'wsd')",
        "llmc(train_num_batches=1)", "WSD(1, 0, 1, decay_frac=1)", "LinearScalingWarmup(batch_size=1, warmup_steps=3)",
        /* overflow: 0 * inf and log of an overflowing argument */
        "ExponentialDecay(0.0, 1, 1e10)", "exponential_decay(0.0, 1, 1e10)",
        "darknet(policy='exp', learning_rate=0, gamma=1e10)",
        "CosineDecayRestarts(1, 0.7, t_mul=1e308)", "CosineDecayRestarts(1, 1, t_mul=1.0, m_mul=1e10, alpha=1)",
    };
    for (size_t k = 0; k < N(specs); k++) {
        eta_sched *s = build(specs[k]);
        for (int t = 0; t <= 300; t++) {
            eta_err err;
            if (eta_sched_check_step(s, t, &err))
                break;
            double lr = eta_sched_lr(s, t, BASE), half = eta_sched_lr(s, t + 0.5, BASE);
            if (!isfinite(lr) || (!isfinite(half) && eta_sched_check_step(s, t + 1, &err) == ETA_OK))
                fail_msg("%s: step %d gives %g (%g at +0.5)", specs[k], t, lr, half);
        }
        eta_sched_free(s);
    }
}

/* ---- bad arguments: clear, located errors ---- */

static void test_errors(void **state)
{
    (void)state;
    /* Keras */
    check_error("ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)", "decay_steps must be > 0, got 0", "0,");
    check_error("ExponentialDecay(-0.1, 10, 0.5)", "initial_learning_rate must be >= 0", "-0.1");
    check_error("ExponentialDecay(nan, 10, 0.5)", "initial_learning_rate must be >= 0, got nan", "nan");
    check_error("CosineDecay(inf, 10)", "initial_learning_rate must be finite, got inf", "inf");
    check_error("PiecewiseConstantDecay([100, 110], [1.0, 0.5])", "length of boundaries should be 1 less", "[1.0");
    check_error("PiecewiseConstantDecay([110, 100], [1.0, 0.5, 0.1])", "strictly increasing", "100]");
    check_error("PiecewiseConstantDecay([], [1.0])", "must not be empty", "[]");
    check_error("PolynomialDecay(1.0, 10, power=-1)", "power must be >= 0", "-1");
    check_error("CosineDecayRestarts(1.0, 10, t_mul=0.5)", "t_mul must be >= 1", "0.5");
    check_error("CosineDecay(1.0, 10, alpha=1.5)", "alpha must be in [0, 1]", "1.5");
    check_error("CosineDecay(1.0, 10, warmup_target=-1.0, warmup_steps=5)", "warmup_target must be >= 0", "-1.0");
    check_error("InverseTimeDecay(0.1, 1)", "missing required argument 'decay_rate'", NULL);
    /* Optax */
    check_error("warmup_cosine_decay_schedule(0, 1, 10, 10)", "decay_steps (10) must be > warmup_steps (10)", "10)");
    check_error("cosine_decay_schedule(1.0, 0)", "decay_steps must be > 0", "0)");
    check_error("exponential_decay(1.0, 0, 0.5)", "transition_steps must be > 0", "0,");
    check_error("exponential_decay(1.0, 10, 0)", "decay_rate must be > 0", "0)");
    check_error("linear_schedule(1.0, 0.0, -5)", "transition_steps must be >= 0", "-5");
    check_error("piecewise_constant_schedule(1.0, {10: -0.5})", "expects non-negative scale factors", "-0.5");
    check_error("piecewise_constant_schedule(1.0, {10: inf})", "must be finite", "inf");
    check_error("piecewise_interpolate_schedule('cubic', 1.0)", "interpolate_type must be one of 'linear', 'cosine'",
                "'cubic'");
    check_error("linear_onecycle_schedule(0, 1.0)", "transition_steps must be > 0", "0,");
    check_error("linear_onecycle_schedule(10, 1.0, pct_start=0.5, pct_final=0.4)", "pct_final (0.4) must be >=",
                "0.4");
    check_error("cosine_onecycle_schedule(10, 1.0, pct_start=1.5)", "pct_start must be in [0, 1]", "1.5");
    check_error("join_schedules([constant_schedule(1), constant_schedule(2)], [])", "2 schedules need 1 boundaries",
                "[]");
    check_error("join_schedules([constant_schedule(1), constant_schedule(2), constant_schedule(3)], [5, 3])",
                "must not decrease", "3]");
    check_error("join_schedules([constant_schedule(1), constant_schedule(2)], [2.5])", "must be an integer", "2.5");
    check_error("sgdr_schedule([warmup_cosine_decay_schedule(0, 1, 1, 10), cosine_decay_schedule(1, 10)])",
                "cosine_kwargs[1] must be a dict of warmup_cosine_decay_schedule's arguments",
                "cosine_decay_schedule(1");
    check_error("sgdr_schedule([{'init_value': 0, 'peak': 1, 'warmup_steps': 1, 'decay_steps': 10}])",
                "unexpected keyword argument 'peak'", "'peak'");
    check_error("sgdr_schedule([{'init_value': 0, 'warmup_steps': 1, 'decay_steps': 10}])",
                "missing required argument 'peak_value'", "{'init");
    check_error("sgdr_schedule([{'init_value': 0, 'peak_value': 1, 'warmup_steps': 1, 'decay_steps': -10}])",
                "decay_steps must be > 0", "-10");
    check_error("sgdr_schedule([{10: 0.5}])", "must be argument names, got number", "10");
    check_error("piecewise_constant_schedule(1.0, {'a': 0.5})", "boundaries_and_scales key must be a number, got string",
                "'a'");
    check_error("sgdr_schedule([1.0])", "expected a schedule", "1.0");
    /* fastai */
    check_error("fit_one_cycle(0, 1.0)", "n_epoch must be >= 1", "0");
    check_error("fit_one_cycle(5, 1.0, pct_start=1.0)", "pct_start must be in [0, 1)", "1.0");
    check_error("fit_one_cycle(5, 1.0, moms=(0.95, 0.85))", "3 values, got 2", "(0.95");
    check_error("fit_one_cycle(5, lr_max=-1)", "lr_max must be >= 0", "-1");
    check_error("fit_sgdr(3, 1, cycle_mult=0)", "cycle_mult must be >= 1", "0");
    /* sklearn */
    check_error("SGDClassifier(learning_rate='constant', eta0=0)", "eta0 must be > 0 for learning_rate 'constant'",
                "0)");
    check_error("SGDClassifier(alpha=0)", "alpha must be > 0 since learning_rate is 'optimal'", "0)");
    check_error("SGDRegressor(learning_rate='pa1')", "learning_rate must be one of 'invscaling', 'constant'", "'pa1'");
    check_error("SGDRegressor(loss='hinge')", "loss must be one of 'squared_error'", "'hinge'");
    check_error("SGDRegressor(n_iter_no_change=0)", "n_iter_no_change must be >= 1", "0");
    check_error("SGDRegressor(tol=-1)", "tol must be >= 0", "-1");
    check_error("SGDRegressor(warm_start=True)", "unexpected keyword argument 'warm_start'", NULL);
    /* darknet */
    check_error("darknet(policy='steps', learning_rate=0.1)", "policy 'steps' must have steps and scales", NULL);
    check_error("darknet(policy='steps', steps=[10, 20], scales=[0.1])", "same length, got 2 and 1", "[0.1]");
    check_error("darknet(policy='steps', steps=[10], scales=[0.1], gamma=0.5)", "gamma is not used by policy 'steps'",
                "0.5");
    check_error("darknet(policy='poly', learning_rate=0.1)", "policy 'poly' needs max_batches > 0", NULL);
    check_error("darknet(policy='random')", "policy must be one of 'constant', 'step'", "'random'");
    check_error("darknet(policy='step', step=0)", "step must be >= 1", "0");
    check_error("darknet(policy='steps', steps=[1.5], scales=[0.1])", "must be an integer batch", "1.5");
    /* llm.c, WSD, scaling */
    check_error("llmc(warmup_iterations=10, train_num_batches=10)", "warmup_iterations (10) must be <", "10,");
    check_error("llmc(scheduler='step', train_num_batches=10)", "scheduler must be one of 'cosine'", "'step'");
    check_error("llmc(train_num_batches=0)", "train_num_batches must be >= 1", "0");
    check_error("WSD(1.0, 90, 100)", "warmup_steps (90) must be <= the start of the decay", "90");
    check_error("WSD(1.0, 0, 100, decay_frac=0)", "decay_frac must be in (0, 1]", "0)");
    check_error("WSD(1.0, 0, 100, decay_frac=1e-20)", "leaves no decay step", "1e-20");
    check_error("LinearScalingWarmup(batch_size=0, warmup_steps=5)", "batch_size must be >= 1", "0");
    check_error("LinearScalingWarmup(base_lr=0, batch_size=512, warmup_steps=5)", "base_lr must be > 0", "0,");
    /* derived values that overflow, which would give NaN later */
    check_error("LinearScalingWarmup(512, 5, 1e308, 256)", "overflows", NULL);
    check_error("cosine_onecycle_schedule(10, 1, 0.3, 1e-300, 1e-300)",
                "cosine_onecycle_schedule: the value from step 10 on overflows", NULL);
    check_error("piecewise_constant_schedule(1e300, {5: 1e10, 9: 0})", "the value from step 5 on overflows", "{5");
    check_error("linear_schedule(1e308, -1e308, 10)", "end_value - init_value overflows", "-1e308");
    check_error("llmc(20, 'wsd', 1e308, 2, 1e10)", "overflows", "1e10");
}

/* ---- the catalogue ---- */

static void test_catalogue(void **state)
{
    (void)state;
    static const struct {
        const char *family, *sig;
    } want[] = {
        {"keras", "ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None)"},
        {"keras", "CosineDecayRestarts(initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, "
                  "name=None)"},
        {"optax", "exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0.0, staircase=False, "
                  "end_value=None)"},
        {"optax", "join_schedules(schedules, boundaries)"},
        {"fastai", "fit_sgdr(n_cycles, cycle_len, lr_max=None, cycle_mult=2, cbs=None, reset_opt=None, wd=None, "
                   "steps_per_epoch=1)"},
        {"darknet", "darknet(policy='constant', learning_rate=0.001, burn_in=0, power=4.0, step=1, scale=1.0, "
                    "steps=None, scales=None, gamma=1.0, max_batches=0)"},
        {"llm.c", "llmc(train_num_batches, scheduler='cosine', learning_rate=0.0003, warmup_iterations=0, "
                  "final_learning_rate_frac=1.0)"},
        {"eta", "LinearScalingWarmup(batch_size, warmup_steps, base_lr=0.1, base_batch_size=256)"},
        {"eta", "WSD(lr, warmup_steps, total_steps, decay_frac=0.2, final_lr_frac=0.0, cooldown='1-sqrt')"},
        {"sklearn", "SGDRegressor(loss='squared_error', "},
    };
    int nk = eta_sched_kind_count();
    for (size_t i = 0; i < N(want); i++) {
        int found = 0;
        char buf[1024];
        for (int k = 0; k < nk; k++) {
            eta_sched_describe(k, buf, sizeof buf);
            if (!strncmp(buf, want[i].sig, strlen(want[i].sig))) {
                assert_string_equal(eta_sched_kind_family(k), want[i].family);
                found++;
            }
        }
        if (found != 1)
            fail_msg("signature '%s' found %d times", want[i].sig, found);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keras_cosine_decay_restarts), cmocka_unit_test(test_keras_cosine_decay),
        cmocka_unit_test(test_keras_polynomial_decay),      cmocka_unit_test(test_keras_inverse_time_decay),
        cmocka_unit_test(test_keras_piecewise_constant),    cmocka_unit_test(test_keras_exponential_decay),
        cmocka_unit_test(test_optax_cosine_onecycle),       cmocka_unit_test(test_optax_linear_onecycle),
        cmocka_unit_test(test_optax_piecewise_interpolate), cmocka_unit_test(test_optax_cosine_decay),
        cmocka_unit_test(test_optax_warmup_cosine_decay),   cmocka_unit_test(test_optax_exponential_decay),
        cmocka_unit_test(test_optax_simple),                cmocka_unit_test(test_optax_sgdr_and_join),
        cmocka_unit_test(test_fastai_one_cycle),            cmocka_unit_test(test_fastai_flat_cos_sgdr),
        cmocka_unit_test(test_sklearn_rates),               cmocka_unit_test(test_sklearn_adaptive),
        cmocka_unit_test(test_darknet),                     cmocka_unit_test(test_llmc),
        cmocka_unit_test(test_wsd_variants),                cmocka_unit_test(test_linear_scaling),
        cmocka_unit_test(test_no_nan),                      cmocka_unit_test(test_errors),
        cmocka_unit_test(test_catalogue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
