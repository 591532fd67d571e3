/* tests/test_optim_muon.c - Muon beyond its fixture (test_optim_ref.c
 * replays tests/ref/optim_muon.txt): 2-D parameters only, bad arguments,
 * the signature, exact save and resume, no allocation in a step, the same
 * bits at 1 and 2 threads with eta's C GEMM and with the network's BLAS
 * (eta_nn_gemm), and the BLAS path agreeing with the C one.
 * labels: unit fault full
 */
#include "harness.h"

#include <eta/eta.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double noise(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

/* A Muon over a tall, a wide and a square matrix of either dtype. */
typedef struct rig {
    eta_optim *opt;
    eta_dtype dtype;
    int64_t shape[3][2];
    size_t n[3];
    void *x[3], *g[3];
    uint64_t seed;
} rig;

static void rig_init(rig *r, const char *spec, eta_dtype dtype, int scale, int threads, const eta_gemm *gemm,
                     const eta_allocator *alloc)
{
    memset(r, 0, sizeof *r);
    eta_optim_config cfg;
    eta_err err;
    if (eta_optim_config_from_spec(&cfg, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    cfg.dtype = dtype;
    cfg.threads = threads;
    cfg.alloc = alloc;
    if (eta_optim_new(&r->opt, &cfg, &err))
        fail_msg("%s: %s", spec, err.msg);
    eta_optim_set_gemm(r->opt, gemm);
    assert_int_equal(eta_optim_add_group(r->opt, NULL), 1);
    int64_t shapes[3][2] = {{7 * scale, 3 * scale}, {4 * scale, 9 * scale}, {5 * scale, 5 * scale}};
    size_t es = eta_dtype_size(dtype);
    r->dtype = dtype;
    r->seed = 11;
    for (int i = 0; i < 3; i++) {
        r->shape[i][0] = shapes[i][0];
        r->shape[i][1] = shapes[i][1];
        r->n[i] = (size_t)(shapes[i][0] * shapes[i][1]);
        r->x[i] = malloc(r->n[i] * es);
        r->g[i] = malloc(r->n[i] * es);
        for (size_t j = 0; j < r->n[i]; j++) {
            double v = noise(&r->seed);
            if (dtype == ETA_F32)
                ((float *)r->x[i])[j] = (float)v;
            else
                ((double *)r->x[i])[j] = v;
        }
        assert_int_equal(eta_optim_add_param(r->opt, i == 2, r->x[i], r->g[i], 2, r->shape[i]), i);
    }
}

static void rig_steps(rig *r, int n)
{
    for (int s = 0; s < n; s++) {
        for (int i = 0; i < 3; i++)
            for (size_t j = 0; j < r->n[i]; j++) {
                double v = noise(&r->seed);
                if (r->dtype == ETA_F32)
                    ((float *)r->g[i])[j] = (float)v;
                else
                    ((double *)r->g[i])[j] = v;
            }
        if (eta_optim_step(r->opt))
            fail_msg("step: %s", eta_optim_error(r->opt));
    }
}

static void rig_free(rig *r)
{
    eta_optim_free(r->opt);
    for (int i = 0; i < 3; i++) {
        free(r->x[i]);
        free(r->g[i]);
    }
}

static bool rig_same(const rig *a, const rig *b)
{
    for (int i = 0; i < 3; i++)
        if (memcmp(a->x[i], b->x[i], a->n[i] * eta_dtype_size(a->dtype)))
            return false;
    return true;
}

static void test_only_matrices(void **state)
{
    (void)state;
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_MUON);
    eta_optim *o;
    assert_int_equal(eta_optim_new(&o, &cfg, NULL), 0);
    float x[24], g[24];
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 1, (int64_t[]){5}), ETA_EINVAL);
    assert_non_null(strstr(eta_optim_error(o), "Muon only supports 2-D parameters, got shape (5)"));
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 3, (int64_t[]){2, 3, 4}), ETA_EINVAL);
    assert_non_null(strstr(eta_optim_error(o), "got shape (2, 3, 4)"));
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 0, NULL), ETA_EINVAL);
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 2, (int64_t[]){4, 6}), 0);
    assert_int_equal(eta_optim_param_count(o), 1);
    eta_optim_free(o);
}

static void test_arguments(void **state)
{
    (void)state;
    char buf[1024];
    eta_optim_describe(ETA_OPTIM_MUON, buf, sizeof buf);
    assert_string_equal(buf, "Muon(lr=0.001, weight_decay=0.1, momentum=0.95, nesterov=True, "
                             "ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-07, ns_steps=5, adjust_lr_fn=None, "
                             "use_addmm=False)");
    eta_optim_config cfg;
    eta_err err;
    assert_int_equal(eta_optim_config_from_spec(&cfg, "torch.optim.Muon(0.02, 0.0, 0.9, False, (3, -3.2, 1.2), "
                                                      "1e-6, 3, 'match_rms_adamw', True)", &err), 0);
    assert_true(cfg.kind == ETA_OPTIM_MUON && cfg.hp.lr == 0.02 && cfg.hp.weight_decay == 0 &&
                cfg.hp.momentum == 0.9 && !cfg.hp.nesterov && cfg.hp.ns_coefficients[1] == -3.2 &&
                cfg.hp.eps == 1e-6 && cfg.hp.ns_steps == 3 && cfg.hp.adjust_lr_fn == ETA_MUON_ADJUST_MATCH_RMS_ADAMW);
    assert_int_equal(eta_optim_config_from_spec(&cfg, "Muon(adjust_lr_fn='original')", &err), 0);
    assert_int_equal(cfg.hp.adjust_lr_fn, ETA_MUON_ADJUST_ORIGINAL);
    struct {
        const char *spec, *needle;
    } bad[] = {
        {"Muon(ns_steps=2.5)", "ns_steps must be an integer in [0, 100), got 2.5"},
        {"Muon(ns_steps=100)", "ns_steps must be an integer in [0, 100), got 100"},
        {"Muon(ns_steps=-1)", "ns_steps must be an integer in [0, 100), got -1"},
        {"Muon(adjust_lr_fn='rms')", "adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got 'rms'"},
        {"Muon(ns_coefficients=(1, 2))", "ns_coefficients must have 3 elements, got 2"},
        {"Muon(ns_coefficients=(1, 2, inf))", "ns_coefficients[2] must be finite"},
        {"Muon(momentum=-0.1)", "momentum must be >= 0"},
        {"Muon(lr=-1)", "lr must be >= 0"},
        {"Muon(weight_decay=-1)", "weight_decay must be >= 0"},
        {"Muon(maximize=True)", "unexpected keyword argument 'maximize'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = eta_optim_config_from_spec(&cfg, bad[i].spec, &err);
        if (rc != ETA_EINVAL || !strstr(err.msg, bad[i].needle))
            fail_msg("%s: rc %d, message '%s'", bad[i].spec, rc, err.msg);
    }
    /* the same checks on hyperparameters set through the API */
    eta_optim_hparams hp = eta_optim_defaults(ETA_OPTIM_MUON).hp;
    hp.ns_steps = 4.5;
    assert_int_equal(eta_optim_check_hparams(ETA_OPTIM_MUON, &hp, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "Muon: ns_steps must be an integer in [0, 100), got 4.5"));
    hp = eta_optim_defaults(ETA_OPTIM_MUON).hp;
    hp.adjust_lr_fn = ETA_MUON_ADJUST_COUNT;
    assert_int_equal(eta_optim_check_hparams(ETA_OPTIM_MUON, &hp, &err), ETA_EINVAL);
    /* a cycling schedule drives Muon's momentum */
    eta_optim_config c2 = eta_optim_defaults(ETA_OPTIM_MUON);
    eta_optim *o;
    assert_int_equal(eta_optim_new(&o, &c2, NULL), 0);
    assert_true(eta_optim_momentum(o, 0) == 0.95);
    assert_int_equal(eta_optim_set_momentum(o, 0, 0.85), 0);
    assert_true(eta_optim_momentum(o, 0) == 0.85);
    eta_optim_free(o);
}

/* Save at step 6, restore into a fresh optimizer, 6 more on both: the same
 * bits (float32 and float64); the options survive the round trip. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    const char *spec = "Muon(lr=0.02, adjust_lr_fn='match_rms_adamw', ns_steps=4, nesterov=False)";
    for (int d = 0; d < 2; d++) {
        eta_dtype dt = d ? ETA_F64 : ETA_F32;
        rig a, b;
        rig_init(&a, spec, dt, 1, 1, NULL, NULL);
        rig_init(&b, "Muon()", dt, 1, 1, NULL, NULL);
        rig_steps(&a, 6);
        void *buf;
        size_t len;
        assert_int_equal(eta_optim_save(a.opt, &buf, &len), 0);
        assert_int_equal(eta_optim_load(b.opt, buf, len), 0);
        for (int i = 0; i < 3; i++)
            memcpy(b.x[i], a.x[i], a.n[i] * eta_dtype_size(dt));
        b.seed = a.seed;
        eta_optim_hparams hp;
        assert_int_equal(eta_optim_get_hparams(b.opt, 0, &hp), 0);
        assert_true(hp.adjust_lr_fn == ETA_MUON_ADJUST_MATCH_RMS_ADAMW && hp.ns_steps == 4 && !hp.nesterov);
        rig_steps(&a, 6);
        rig_steps(&b, 6);
        if (!rig_same(&a, &b))
            fail_msg("%s: the resumed run differs", d ? "float64" : "float32");
        eta_optim_free_buf(a.opt, buf);
        rig_free(&a);
        rig_free(&b);
    }
}

static void test_no_allocation_in_step(void **state)
{
    (void)state;
    eta_gemm nn = eta_nn_gemm();
    for (int k = 0; k < 2; k++) {
        counting c = {0, -1};
        eta_allocator a = {c_alloc, c_free, &c};
        rig r;
        rig_init(&r, "Muon(lr=0.01)", k ? ETA_F64 : ETA_F32, 6, 0, k ? &nn : NULL, &a);
        c.fail_at = c.allocs;
        rig_steps(&r, 3);
        rig_free(&r);
    }
    /* every allocation of a set-up failing in turn fails cleanly */
    for (long n = 0; n < 12; n++) {
        counting c = {0, n};
        eta_allocator a = {c_alloc, c_free, &c};
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_MUON);
        cfg.alloc = &a;
        eta_optim *o;
        if (eta_optim_new(&o, &cfg, NULL))
            continue;
        float x[64], g[64];
        for (int i = 0; i < 4; i++) {
            int rc = eta_optim_add_param(o, 0, x, g, 2, (int64_t[]){i + 1, 8});
            if (rc < 0)
                assert_int_equal(rc, ETA_ENOMEM);
        }
        eta_optim_free(o);
    }
}

/* Matrices large enough for several GEMM parts and parallel chunks: 1 and 2
 * threads give the same bits, with eta's C GEMM (the optimizer's threads)
 * and with the network's (OpenMP's thread count, which it follows). */
static void test_threads_do_not_change_results(void **state)
{
    (void)state;
    eta_gemm nn = eta_nn_gemm();
    const eta_gemm *gemms[] = {NULL, &nn};
#ifdef _OPENMP
    int was = omp_get_max_threads();
#endif
    for (int d = 0; d < 2; d++)
        for (int k = 0; k < 2; k++) {
            rig r[2];
            for (int t = 0; t < 2; t++) {
#ifdef _OPENMP
                omp_set_num_threads(t + 1);
#endif
                rig_init(&r[t], "Muon(lr=0.02)", d ? ETA_F64 : ETA_F32, 40, t + 1, gemms[k], NULL);
                rig_steps(&r[t], 2);
            }
#ifdef _OPENMP
            omp_set_num_threads(was);
#endif
            if (!rig_same(&r[0], &r[1]))
                fail_msg("%s, %s GEMM: 1 and 2 threads differ", d ? "float64" : "float32", k ? "nn" : "C");
            rig_free(&r[0]);
            rig_free(&r[1]);
        }
}

/* The network's BLAS and eta's C GEMM agree to rounding. */
static void test_blas_agrees_with_c(void **state)
{
    (void)state;
    eta_gemm nn = eta_nn_gemm();
    for (int d = 0; d < 2; d++) {
        rig a, b;
        eta_dtype dt = d ? ETA_F64 : ETA_F32;
        rig_init(&a, "Muon(lr=0.02)", dt, 20, 0, NULL, NULL);
        rig_init(&b, "Muon(lr=0.02)", dt, 20, 0, &nn, NULL);
        rig_steps(&a, 5);
        rig_steps(&b, 5);
        for (int i = 0; i < 3; i++) {
            double worst = 0;
            for (size_t j = 0; j < a.n[i]; j++) {
                double x = d ? ((double *)a.x[i])[j] : ((float *)a.x[i])[j];
                double y = d ? ((double *)b.x[i])[j] : ((float *)b.x[i])[j];
                worst = fmax(worst, fabs(x - y) / fmax(fabs(x), 0.1));
            }
            print_message("  %s matrix %d: C vs BLAS max rel err %.3g\n", d ? "float64" : "float32", i, worst);
            assert_true(worst <= (d ? 1e-12 : 1e-5));
        }
        rig_free(&a);
        rig_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_only_matrices),
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_no_allocation_in_step),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_blas_agrees_with_c),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
