/* tests/test_optim_api.c - the optimizer object beyond the update rules:
 * bad input (non-finite gradients, bad hyperparameters), exact save and
 * resume, corrupted state files, no allocation inside a step, out-of-memory
 * paths, thread-count independence, and gradient clipping by hand.
 * labels: unit fault
 */
#include "optim_harness.h"

/* Every rule with a spec that turns on its state, for the loops below. */
static const char *const all_specs[] = {
    "SGD(lr=0.1, momentum=0.9, nesterov=True)",
    "Adam(lr=0.01, amsgrad=True, weight_decay=0.1)",
    "AdamW(lr=0.01)",
    "Adamax(lr=0.01)",
    "NAdam(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)",
    "RAdam(lr=0.01)",
    "Adagrad(lr=0.1, initial_accumulator_value=0.1)",
    "RMSprop(lr=0.01, momentum=0.5, centered=True)",
    "Adadelta()",
    "ASGD(lr=0.01, t0=5)",
    "Rprop(lr=0.01)",
    "Adafactor(weight_decay=0.1)",
    "Lion(learning_rate=0.001)",
    "LAMB(learning_rate=0.01, weight_decay=0.1)",
    "LARS(learning_rate=0.1, weight_decay=0.01, nesterov=True)",
    "AdaBelief(learning_rate=0.01)",
    "SGDScheduleFree(lr=0.1, weight_decay=0.01, warmup_steps=3)",
    "AdamWScheduleFree(lr=0.01, weight_decay=0.1, r=0.5)",
    "Prodigy(weight_decay=0.01, slice_p=2, use_bias_correction=True)",
    "DAdaptSGD(momentum=0.9, weight_decay=0.01)",
    "DAdaptAdam(decouple=True, weight_decay=0.01)",
    "COCOB(weight_decay=0.01)",
    "DoG(weight_decay=0.01)",
    "LDoG(init_eta=0.01)",
    "SGDHD(lr=0.05, momentum=0.9, hypergrad_lr=0.001)",
    "AdamHD(lr=0.01, hypergrad_lr=1e-05)",
    "Mechanic(AdamW(lr=0.01, amsgrad=True), num_betas=4)",
};
#define NSPECS (int)(sizeof all_specs / sizeof all_specs[0])

/* A deterministic pseudo-random gradient. */
static double noise(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
}

typedef struct rig {
    eta_optim *opt;
    double w[24], dw[24], b[6], db[6]; /* a 4x6 matrix and a bias, float64 */
    uint64_t seed;
} rig;

static void rig_init(rig *r, const char *spec, const eta_allocator *alloc)
{
    memset(r, 0, sizeof *r);
    eta_optim_config cfg;
    eta_err err;
    if (eta_optim_config_from_spec(&cfg, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    cfg.dtype = ETA_F64;
    cfg.alloc = alloc;
    if (eta_optim_new(&r->opt, &cfg, &err))
        fail_msg("%s: %s", spec, err.msg);
    for (int i = 0; i < 24; i++)
        r->w[i] = 0.1 * (i - 12);
    for (int i = 0; i < 6; i++)
        r->b[i] = 0.05 * i;
    assert_int_equal(eta_optim_add_param(r->opt, 0, r->w, r->dw, 2, (int64_t[]){4, 6}), 0);
    int g = eta_optim_add_group(r->opt, NULL);
    assert_int_equal(g, 1);
    assert_int_equal(eta_optim_add_param(r->opt, 1, r->b, r->db, 1, (int64_t[]){6}), 1);
    r->seed = 42;
}

static void rig_steps(rig *r, int n)
{
    for (int s = 0; s < n; s++) {
        for (int i = 0; i < 24; i++)
            r->dw[i] = noise(&r->seed) + 0.3 * r->w[i];
        for (int i = 0; i < 6; i++)
            r->db[i] = noise(&r->seed);
        if (eta_optim_step(r->opt))
            fail_msg("step: %s", eta_optim_error(r->opt));
    }
}

static void test_nonfinite_gradient_changes_nothing(void **state)
{
    (void)state;
    for (int k = 0; k < NSPECS; k++) {
        rig r;
        rig_init(&r, all_specs[k], NULL);
        rig_steps(&r, 3);
        eta_optim_config cfg = *eta_optim_get_config(r.opt);
        assert_true(!cfg.check_finite);
        /* Turn the check on: rebuild with it, load the state, compare. */
        void *before;
        size_t len;
        assert_int_equal(eta_optim_save(r.opt, &before, &len), 0);
        double w0[24], b0[6];
        memcpy(w0, r.w, sizeof w0);
        memcpy(b0, r.b, sizeof b0);
        eta_optim *checked;
        cfg.check_finite = true;
        assert_int_equal(eta_optim_new(&checked, &cfg, NULL), 0);
        eta_optim_hparams hp;
        eta_optim_get_hparams(r.opt, 1, &hp);
        assert_int_equal(eta_optim_add_param(checked, 0, r.w, r.dw, 2, (int64_t[]){4, 6}), 0);
        assert_int_equal(eta_optim_add_group(checked, &hp), 1);
        assert_int_equal(eta_optim_add_param(checked, 1, r.b, r.db, 1, (int64_t[]){6}), 1);
        assert_int_equal(eta_optim_load(checked, before, len), 0);
        for (int i = 0; i < 6; i++)
            r.db[i] = 1;
        r.db[3] = k % 2 ? NAN : -INFINITY;
        assert_int_equal(eta_optim_step(checked), ETA_ENONFINITE);
        assert_non_null(strstr(eta_optim_error(checked), "parameter 1"));
        assert_non_null(strstr(eta_optim_error(checked), "element 3"));
        void *after;
        size_t len2;
        assert_int_equal(eta_optim_save(checked, &after, &len2), 0);
        assert_int_equal(len, len2);
        assert_memory_equal(before, after, len);
        assert_memory_equal(w0, r.w, sizeof w0);
        assert_memory_equal(b0, r.b, sizeof b0);
        assert_int_equal(eta_optim_step_count(checked), 3);
        eta_optim_free_buf(checked, after);
        eta_optim_free_buf(r.opt, before);
        eta_optim_free(checked);
        eta_optim_free(r.opt);
    }
}

static void expect_einval(const char *spec, const char *needle)
{
    eta_optim_config cfg;
    eta_err err;
    int rc = eta_optim_config_from_spec(&cfg, spec, &err);
    if (rc != ETA_EINVAL || !strstr(err.msg, needle))
        fail_msg("%s: rc %d, message '%s' (expected '%s')", spec, rc, err.msg, needle);
    assert_true(err.pos >= 0);
}

static void test_bad_hyperparameters(void **state)
{
    (void)state;
    expect_einval("SGD(lr=-0.1)", "lr must be >= 0, got -0.1");
    expect_einval("SGD(lr=nan)", "lr must be >= 0, got nan");
    expect_einval("SGD(lr=inf)", "lr must be finite");
    expect_einval("Adam(betas=(0.9, 1.0))", "betas[1] must be in [0, 1), got 1");
    expect_einval("Adam(betas=(0.9,))", "betas must have 2 elements");
    expect_einval("Adam(eps=-1e-8)", "eps must be >= 0");
    expect_einval("AdamW(weight_decay=True)", "weight_decay must be a number");
    expect_einval("Adam(eps_mode='pytorch')", "eps_mode must be one of 'torch', 'keras'");
    expect_einval("Rprop(etas=(1.5, 1.2))", "etas must satisfy 0 < etaminus < 1 < etaplus");
    expect_einval("Adafactor(d=0.5)", "d must be >= 1");
    expect_einval("Adafactor(beta2_decay=0.5)", "beta2_decay must be <= 0");
    expect_einval("Adadelta(rho=1.5)", "rho must be in [0, 1]");
    expect_einval("Lion()", "missing required argument 'learning_rate'");
    expect_einval("Lion(learning_rate=0.1, lr=0.1)", "got both learning_rate and lr");
    expect_einval("SGD(0.1, 0.9, 0, 0, True, True)", "positional");
    expect_einval("Nadam(lr=0.1)", "did you mean NAdam?");
    expect_einval("SGDScheduleFree(momentum=1.0)", "momentum must be in (0, 1), got 1");
    expect_einval("SGDScheduleFree(warmup_steps=-1)", "warmup_steps must be >= 0");
    expect_einval("Prodigy(slice_p=1.5)", "slice_p must be an integer, got 1.5");
    expect_einval("Prodigy(slice_p=0)", "slice_p must be in [1, 1e+09], got 0");
    expect_einval("Prodigy(beta3=1.5)", "beta3 must be in [0, 1), got 1.5");
    expect_einval("Prodigy(eps=0)", "eps must be > 0, got 0");
    expect_einval("DAdaptAdam(d0=0)", "d0 must be > 0, got 0");
    expect_einval("DAdaptSGD(growth_rate=-inf)", "growth_rate must be > 0");
    expect_einval("DAdaptSGD(growth_rate=0)", "growth_rate must be > 0, got 0");
    expect_einval("DAdaptSGD(log_every='x')", "log_every must be a number");
    expect_einval("DAdaptSGD(momentum=1)", "momentum must be in [0, 1), got 1");
    expect_einval("DoG(lr=0)", "lr must be > 0, got 0");
    expect_einval("DoG(reps_rel=0)", "reps_rel must be > 0 unless init_eta is given");
    expect_einval("LDoG(init_eta=-1.0)", "init_eta must be > 0");
    expect_einval("LDoG(eps=0)", "eps must be > 0");
    expect_einval("COCOB(alpha=0)", "alpha must be > 0");
    expect_einval("COCOB(eps=-1)", "eps must be > 0");
    expect_einval("SGDHD()", "missing required argument 'lr'");
    expect_einval("SGDHD(lr=0.1, nesterov=True)", "Nesterov momentum requires a momentum");
    expect_einval("AdamHD(hypergrad_lr=-1e-8)", "hypergrad_lr must be >= 0");
    expect_einval("Mechanic(AdamW(), num_betas=0)", "num_betas must be in [1, 16], got 0");
    expect_einval("Mechanic(AdamW(), num_betas=100000000000)", "num_betas must be in [1, 16], got 100000000000");
    expect_einval("Mechanic(AdamW(), num_betas=1.5)", "num_betas must be an integer");
    expect_einval("Mechanic(AdamW(), s_init=0)", "s_init must be > 0");
    expect_einval("Mechanic(AdamW(), weight_decay=-1)", "weight_decay must be >= 0");
    expect_einval("Mechanic(Mechanic(AdamW()))", "Mechanic cannot wrap Mechanic");
    expect_einval("Mechanic(weight_decay=0.1)", "missing required argument 'base_optimizer'");
    expect_einval("Mechanic(0.1)", "wraps an optimizer such as AdamW(lr=1e-3), got number");
    expect_einval("Mechanic(AdamW(betas=(0.9, 1.5)))", "betas[1] must be in [0, 1), got 1.5");
    expect_einval("Mechanic(Adamm())", "unknown optimizer 'Adamm'");
    /* The C API validates too, with the rule's name. */
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_ADAMW);
    cfg.hp.beta2 = 1.5;
    eta_optim *o = NULL;
    eta_err err;
    assert_int_equal(eta_optim_new(&o, &cfg, &err), ETA_EINVAL);
    assert_null(o);
    assert_string_equal(err.msg, "AdamW: betas[1] must be in [0, 1), got 1.5");
    cfg = eta_optim_defaults(ETA_OPTIM_SGD);
    assert_int_equal(eta_optim_new(&o, &cfg, &err), 0);
    assert_int_equal(eta_optim_step(o), ETA_ESTATE);
    assert_int_equal(eta_optim_set_lr(o, 0, -1), ETA_EINVAL);
    assert_int_equal(eta_optim_set_lr(o, 0, NAN), ETA_EINVAL);
    assert_int_equal(eta_optim_set_lr(o, 7, 0.1), ETA_EINVAL);
    assert_non_null(strstr(eta_optim_error(o), "no parameter group 7"));
    float x[2], g[2];
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 1, (int64_t[]){0}), ETA_EINVAL);
    assert_int_equal(eta_optim_add_param(o, 3, x, g, 1, (int64_t[]){2}), ETA_EINVAL);
    assert_int_equal(eta_optim_add_param(o, 0, NULL, g, 1, (int64_t[]){2}), ETA_EINVAL);
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 9, (int64_t[]){2, 2, 2, 2, 2, 2, 2, 2, 2}), ETA_EINVAL);
    assert_int_equal(eta_optim_set_momentum(o, 0, -0.5), ETA_EINVAL);
    assert_int_equal(eta_optim_set_momentum(o, 0, 0.5), ETA_OK); /* no parameter yet: no state to change */
    assert_int_equal(eta_optim_set_momentum(o, 0, 0.0), ETA_OK);
    assert_int_equal(eta_optim_add_param(o, 0, x, g, 1, (int64_t[]){2}), 0);
    assert_int_equal(eta_optim_set_momentum(o, 0, 0.5), ETA_EINVAL); /* a momentum buffer would appear */
    assert_non_null(strstr(eta_optim_error(o), "momentum_buffer"));
    eta_optim_free(o);
    eta_optim_free(NULL);
}

/* Save at step 10, run 10 more; restore into a fresh optimizer at 10 and run
 * the same 10: the same bits, for every rule. */
static void test_resume_is_exact(void **state)
{
    (void)state;
    for (int k = 0; k < NSPECS; k++) {
        rig a, b;
        rig_init(&a, all_specs[k], NULL);
        rig_steps(&a, 10);
        void *buf;
        size_t len;
        assert_int_equal(eta_optim_save(a.opt, &buf, &len), 0);
        rig_init(&b, all_specs[k], NULL);
        memcpy(b.w, a.w, sizeof a.w);
        memcpy(b.b, a.b, sizeof a.b);
        b.seed = a.seed;
        assert_int_equal(eta_optim_load(b.opt, buf, len), 0);
        assert_int_equal(eta_optim_step_count(b.opt), 10);
        rig_steps(&a, 10);
        rig_steps(&b, 10);
        if (memcmp(a.w, b.w, sizeof a.w) || memcmp(a.b, b.b, sizeof a.b))
            fail_msg("%s: resumed run differs", all_specs[k]);
        /* A file round trip, written atomically. */
        char path[] = "/tmp/eta_optim_state_XXXXXX";
        int fd = mkstemp(path);
        close(fd);
        assert_int_equal(eta_optim_save_file(a.opt, path), 0);
        assert_int_equal(eta_optim_load_file(b.opt, path), 0);
        remove(path);
        eta_optim_free_buf(a.opt, buf);
        eta_optim_free(a.opt);
        eta_optim_free(b.opt);
    }
}

static void test_corrupt_state_is_refused(void **state)
{
    (void)state;
    rig r;
    rig_init(&r, "AdamW(lr=0.01)", NULL);
    rig_steps(&r, 2);
    void *buf;
    size_t len;
    assert_int_equal(eta_optim_save(r.opt, &buf, &len), 0);
    void *before;
    size_t blen;
    assert_int_equal(eta_optim_save(r.opt, &before, &blen), 0);
    unsigned char *b = buf;
    /* Every single-bit flip at a spread of offsets, and every truncation. */
    for (size_t off = 0; off < len; off += 7) {
        b[off] ^= 0x10;
        int rc = eta_optim_load(r.opt, buf, len);
        if (rc != ETA_EFORMAT)
            fail_msg("bit flip at offset %zu: rc %d", off, rc);
        b[off] ^= 0x10;
    }
    for (size_t cut = 0; cut < len; cut += 5)
        assert_int_equal(eta_optim_load(r.opt, buf, cut), ETA_EFORMAT);
    assert_non_null(strstr(eta_optim_error(r.opt), "AdamW"));
    void *after;
    size_t alen;
    assert_int_equal(eta_optim_save(r.opt, &after, &alen), 0);
    assert_memory_equal(before, after, blen);
    /* Another rule, dtype or shape is refused by name. */
    rig other;
    rig_init(&other, "Adam(lr=0.01)", NULL);
    assert_int_equal(eta_optim_load(other.opt, buf, len), ETA_EFORMAT);
    assert_non_null(strstr(eta_optim_error(other.opt), "saved by AdamW"));
    assert_int_equal(eta_optim_load_file(other.opt, "/nonexistent/eta.state"), ETA_EIO);
    assert_non_null(strstr(eta_optim_error(other.opt), "/nonexistent/eta.state"));
    assert_int_equal(eta_optim_save_file(other.opt, "/nonexistent/dir/eta.state"), ETA_EIO);
    eta_optim_free_buf(r.opt, buf);
    eta_optim_free_buf(r.opt, before);
    eta_optim_free_buf(r.opt, after);
    eta_optim_free(r.opt);
    eta_optim_free(other.opt);
}

static void test_no_allocation_in_step(void **state)
{
    (void)state;
    for (int k = 0; k < NSPECS; k++) {
        counting c = {0, -1};
        eta_allocator a = {c_alloc, c_free, &c};
        rig r;
        rig_init(&r, all_specs[k], &a);
        c.fail_at = c.allocs; /* every further allocation fails */
        rig_steps(&r, 5);
        assert_int_equal(eta_optim_clip_grad_norm(r.opt, 0.5, ETA_ANCHOR_TORCH, NULL), 0);
        assert_int_equal(eta_optim_clip_grad_agc(r.opt, 0.01, 1e-3), 0);
        assert_int_equal(eta_optim_set_lr(r.opt, 1, 0.001), 0);
        eta_optim_free(r.opt);
    }
}

static void test_out_of_memory_paths(void **state)
{
    (void)state;
    /* Fail the 1st, 2nd, ... allocation of a whole set-up; each must fail
     * cleanly (ASan in the dev build checks for leaks). */
    for (long n = 0; n < 40; n++) {
        counting c = {0, n};
        eta_allocator a = {c_alloc, c_free, &c};
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_ADAM);
        cfg.alloc = &a;
        cfg.hp.amsgrad = true;
        eta_optim *o;
        eta_err err;
        int rc = eta_optim_new(&o, &cfg, &err);
        if (rc) {
            assert_int_equal(rc, ETA_ENOMEM);
            continue;
        }
        float x[8 * 9], g[8 * 9];
        bool ok = true;
        for (int i = 0; i < 8 && ok; i++) {
            int r2 = eta_optim_add_param(o, 0, x + 9 * i, g + 9 * i, 1, (int64_t[]){9});
            ok = r2 >= 0;
            if (!ok)
                assert_int_equal(r2, ETA_ENOMEM);
        }
        void *buf;
        size_t len;
        int rs = eta_optim_save(o, &buf, &len);
        if (rs == 0)
            eta_optim_free_buf(o, buf);
        else
            assert_int_equal(rs, ETA_ENOMEM);
        eta_optim_free(o);
    }
}

/* Large arrays (several parallel chunks) give the same bits at 1 and 2 threads. */
static void test_threads_do_not_change_results(void **state)
{
    (void)state;
    const char *specs[] = {"AdamW(lr=0.01)", "LAMB(learning_rate=0.01, weight_decay=0.1)",
                           "SGD(lr=0.1, momentum=0.9)", "LARS(learning_rate=0.1)",
                           "AdamWScheduleFree(weight_decay=0.1)", "Prodigy(slice_p=3)",
                           "DAdaptSGD(momentum=0.9)", "DAdaptAdam(weight_decay=0.1)", "DoG(weight_decay=0.01)",
                           "LDoG()", "SGDHD(lr=0.01, momentum=0.9, hypergrad_lr=1e-4)",
                           "AdamHD(hypergrad_lr=1e-6)", "Mechanic(AdamW(lr=0.01))"};
    const size_t n = 100003;
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        float *x[2], *g = malloc(n * sizeof(float));
        for (int t = 0; t < 2; t++) {
            x[t] = malloc(n * sizeof(float));
            eta_optim_config cfg;
            assert_int_equal(eta_optim_config_from_spec(&cfg, specs[k], NULL), 0);
            cfg.threads = t + 1;
            eta_optim *o;
            assert_int_equal(eta_optim_new(&o, &cfg, NULL), 0);
            uint64_t seed = 7;
            for (size_t i = 0; i < n; i++)
                x[t][i] = (float)noise(&seed);
            assert_int_equal(eta_optim_add_param(o, 0, x[t], g, 1, (int64_t[]){(int64_t)n}), 0);
            for (int s = 0; s < 5; s++) {
                for (size_t i = 0; i < n; i++)
                    g[i] = (float)noise(&seed);
                double norm;
                eta_optim_grad_norm(o, &norm);
                assert_true(norm > 0);
                assert_int_equal(eta_optim_step(o), 0);
            }
            eta_optim_free(o);
        }
        if (memcmp(x[0], x[1], n * sizeof(float)))
            fail_msg("%s: 1 and 2 threads differ", specs[k]);
        free(x[0]);
        free(x[1]);
        free(g);
    }
}

static void test_clipping_by_hand(void **state)
{
    (void)state;
    double x[2] = {1, 1}, g[2] = {3, 4}, total;
    eta_optim *o = vec_optim("SGD(lr=0.1)", x, g, 2);
    /* |g| = 5. torch: coef = 1/(5 + 1e-6). */
    assert_int_equal(eta_optim_clip_grad_norm(o, 1.0, ETA_ANCHOR_TORCH, &total), 0);
    assert_true(total == 5.0);
    assert_true(g[0] == 3 * (1.0 / (5.0 + 1e-6)) && g[1] == 4 * (1.0 / (5.0 + 1e-6)));
    /* optax: exactly max_norm/|g|, and nothing when |g| < max_norm. */
    g[0] = 3;
    g[1] = 4;
    assert_int_equal(eta_optim_clip_grad_norm(o, 1.0, ETA_ANCHOR_OPTAX, &total), 0);
    assert_true(g[0] == 3.0 / 5.0 * 1.0 && g[1] == 4.0 / 5.0);
    assert_int_equal(eta_optim_clip_grad_norm(o, 10.0, ETA_ANCHOR_OPTAX, &total), 0);
    assert_true(g[0] == 3.0 / 5.0 && total == 1.0);
    /* torch never scales up: coef is clamped to 1. */
    assert_int_equal(eta_optim_clip_grad_norm(o, 10.0, ETA_ANCHOR_TORCH, NULL), 0);
    assert_true(g[0] == 3.0 / 5.0);
    g[0] = -7;
    g[1] = 0.25;
    assert_int_equal(eta_optim_clip_grad_value(o, 0.5), 0);
    assert_true(g[0] == -0.5 && g[1] == 0.25);
    assert_int_equal(eta_optim_clip_grad_value(o, -1), ETA_EINVAL);
    assert_int_equal(eta_optim_clip_grad_norm(o, NAN, ETA_ANCHOR_TORCH, NULL), ETA_EINVAL);
    /* AGC on a vector: |p| = sqrt(2), max = 0.1*sqrt(2); |g| = 5 > max. */
    g[0] = 3;
    g[1] = 4;
    assert_int_equal(eta_optim_clip_grad_agc(o, 0.1, 1e-3), 0);
    double want = 0.1 * sqrt(2.0) / 5.0;
    assert_true(fabs(g[0] - 3 * want) < 1e-15 && fabs(g[1] - 4 * want) < 1e-15);
    g[1] = INFINITY;
    assert_int_equal(eta_optim_check_grads(o), ETA_ENONFINITE);
    assert_non_null(strstr(eta_optim_error(o), "inf at element 1"));
    eta_optim_free(o);
}

/* One step of the Optax-only rules, worked out by hand. */
static void test_optax_rules_by_hand(void **state)
{
    (void)state;
    /* Lion: c = 0.1*g (m = 0), sign(c) = +-1: x -= lr*(sign + wd*x). */
    double x[2] = {1, -2}, g[2] = {0.5, -3};
    eta_optim *o = vec_optim("Lion(learning_rate=0.1, weight_decay=0.0)", x, g, 2);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(x[0] == 1 - 0.1 && x[1] == -2 + 0.1);
    void *m;
    assert_int_equal(eta_optim_state(o, 0, "exp_avg", &m, NULL), 0);
    assert_true(((double *)m)[0] == (1 - 0.99) * 0.5);
    eta_optim_free(o);
    /* LAMB step 1: m_hat = g, v_hat = g^2 -> u = g/(|g| + eps) ~ sign(g);
     * r = |x|/|u| = sqrt(5)/sqrt(2) (eps tiny); x -= lr*r*u. */
    double y[2] = {1, -2}, h[2] = {0.5, -3};
    o = vec_optim("LAMB(learning_rate=0.1, eps=0.0)", y, h, 2);
    assert_int_equal(eta_optim_step(o), 0);
    double r = sqrt(5.0) / sqrt(2.0);
    assert_true(fabs(y[0] - (1 - 0.1 * r)) < 1e-15 && fabs(y[1] - (-2 + 0.1 * r)) < 1e-15);
    eta_optim_free(o);
    /* LARS, no momentum: u = g; r = 0.001*|x|/|g|; x -= lr*r*g. */
    double z[2] = {3, 4}, k[2] = {0, 2};
    o = vec_optim("LARS(learning_rate=1.0, momentum=0.0)", z, k, 2);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(fabs(z[1] - (4 - 0.001 * 5.0 / 2.0 * 2)) < 1e-15 && z[0] == 3);
    eta_optim_free(o);
    /* AdaBelief step 1: m = 0.1g; s = 0.001*(0.9g)^2 + eps_root;
     * u = g / (sqrt(0.81 g^2 + eps_root/0.001) + eps) ~ sign(g)/0.9. */
    double a[1] = {1}, ga[1] = {2};
    o = vec_optim("AdaBelief(learning_rate=0.09, eps=0.0, eps_root=0.0)", a, ga, 1);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(fabs(a[0] - (1 - 0.09 / 0.9)) < 1e-15);
    eta_optim_free(o);
}

static double scalar_of(const eta_optim *o, int group, const char *name)
{
    double v = NAN;
    if (eta_optim_scalar(o, group, name, &v))
        fail_msg("no scalar '%s'", name);
    return v;
}

/* First steps of the rules that set their own step size, worked out by hand. */
static void test_adaptive_rules_by_hand(void **state)
{
    (void)state;
    /* DoG step 1: rbar = reps_rel*(1 + |x0|) = 0.01*6, G = |g|^2 + eps. */
    double x[2] = {3, 4}, g[2] = {1, 0};
    eta_optim *o = vec_optim("DoG(reps_rel=0.01, eps=1e-8)", x, g, 2);
    assert_int_equal(eta_optim_step(o), 0);
    double eta = 0.01 * 6 / sqrt(1 + 1e-8);
    assert_true(fabs(scalar_of(o, 0, "eta") - eta) < 1e-17 && x[0] == 3 - eta && x[1] == 4);
    assert_true(scalar_of(o, 0, "rbar") == 0.01 * 6 && scalar_of(o, 0, "G") == 1 + 1e-8);
    /* Step 2: rbar = max(rbar, |x - x0|) = 0.06 (x moved by eta < 0.06). */
    g[0] = 0;
    g[1] = 2;
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(fabs(scalar_of(o, 0, "eta") - 0.06 / sqrt(5 + 1e-8)) < 1e-17);
    eta_optim_free(o);
    /* SGDHD: step 1 h = 0 (no previous direction): x = 1 - 0.1*2. Step 2:
     * h = <3, 2> = 6, lr = 0.1 + 0.01*6 = 0.16: x = 0.8 - 0.16*3. */
    double y[1] = {1}, h[1] = {2};
    o = vec_optim("SGDHD(lr=0.1, hypergrad_lr=0.01)", y, h, 1);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(y[0] == 1 - 0.1 * 2 && eta_optim_lr(o, 0) == 0.1);
    h[0] = 3;
    assert_int_equal(eta_optim_step(o), 0);
    double lr = 0.1 + 0.01 * 6.0;
    assert_true(scalar_of(o, 0, "lr") == lr && eta_optim_lr(o, 0) == lr);
    assert_true(fabs(y[0] - (0.8 - lr * 3)) < 1e-15);
    /* A schedule multiplies the adapted rate: lr set to twice the initial. */
    assert_int_equal(eta_optim_set_lr(o, 0, 0.2), 0);
    assert_true(eta_optim_lr(o, 0) == lr * 2);
    eta_optim_free(o);
    /* COCOB step 1 at the defaults: c = 2, L = G = 2, R = 0, C = -2:
     * x = 1 + (-1 + (1 + (-2/(2*max(4, 200)))*2)) = 0.99. */
    double z[1] = {1}, k[1] = {2};
    o = vec_optim("COCOB()", z, k, 1);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(fabs(z[0] - 0.99) < 1e-15);
    eta_optim_free(o);
    /* Mechanic: each s_j starts at s_init, so the scale at n*s_init. Step 1:
     * x0 = x so h = 0; m_j = eps, v_j = r_j = 0, s_j = (s_init/n)*eps/eps:
     * the scale becomes s_init and x = x0 + s_init*u, u = -lr*g the base
     * SGD's update. */
    double a[1] = {1}, ga[1] = {2};
    o = vec_optim("Mechanic(SGD(lr=1.0), s_init=0.25, num_betas=2)", a, ga, 1);
    assert_true(eta_optim_get_config(o)->kind == ETA_OPTIM_MECHANIC &&
                eta_optim_get_config(o)->base == ETA_OPTIM_SGD);
    assert_true(scalar_of(o, 0, "s") == 0.5);
    assert_int_equal(eta_optim_step(o), 0);
    assert_true(fabs(scalar_of(o, 0, "s") - 0.25) < 1e-16 && fabs(a[0] - 0.5) < 1e-15);
    assert_true(scalar_of(o, 0, "m[1]") == 1e-8 && scalar_of(o, 0, "v[0]") == 0);
    double v;
    assert_int_equal(eta_optim_scalar(o, 0, "m[2]", &v), ETA_EINVAL);
    void *x0;
    assert_int_equal(eta_optim_state(o, 0, "x0", &x0, NULL), 0);
    assert_true(((double *)x0)[0] == 1);
    /* Its state loads only into Mechanic around the same rule. */
    void *buf;
    size_t len;
    assert_int_equal(eta_optim_save(o, &buf, &len), 0);
    double b[1] = {1}, gb[1] = {2};
    eta_optim *other = vec_optim("Mechanic(Adam(lr=1.0), num_betas=2)", b, gb, 1);
    assert_int_equal(eta_optim_load(other, buf, len), ETA_EFORMAT);
    assert_non_null(strstr(eta_optim_error(other), "the state's Mechanic wraps SGD, this one Adam"));
    eta_optim_free(other);
    other = vec_optim("SGD(lr=1.0)", b, gb, 1);
    assert_int_equal(eta_optim_load(other, buf, len), ETA_EFORMAT);
    assert_non_null(strstr(eta_optim_error(other), "saved by Mechanic"));
    eta_optim_free(other);
    eta_optim_free_buf(o, buf);
    eta_optim_free(o);
}

static void test_describe_and_names(void **state)
{
    (void)state;
    char buf[1024];
    eta_optim_describe(ETA_OPTIM_ADAMW, buf, sizeof buf);
    assert_non_null(strstr(buf, "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False, *"));
    eta_optim_describe(ETA_OPTIM_ADAFACTOR, buf, sizeof buf);
    assert_non_null(strstr(buf, "eps=(None, 0.001)"));
    eta_optim_describe(ETA_OPTIM_DOG, buf, sizeof buf);
    assert_string_equal(buf, "DoG(reps_rel=1e-06, lr=1.0, weight_decay=0.0, eps=1e-08, init_eta=None)");
    eta_optim_describe(ETA_OPTIM_SGDHD, buf, sizeof buf);
    assert_string_equal(buf, "SGDHD(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, "
                             "hypergrad_lr=1e-06)");
    eta_optim_describe(ETA_OPTIM_MECHANIC, buf, sizeof buf);
    assert_string_equal(buf, "Mechanic(base_optimizer, weight_decay=0.01, eps=1e-08, s_init=1e-06, num_betas=6)");
    assert_int_equal(eta_optim_kind_from_name("mechanize"), ETA_OPTIM_MECHANIC);
    for (int k = 0; k < ETA_OPTIM_COUNT; k++)
        assert_int_equal(eta_optim_kind_from_name(eta_optim_name((eta_optim_kind)k)), k);
    assert_int_equal(eta_optim_kind_from_name("lamb"), ETA_OPTIM_LAMB);
    assert_int_equal(eta_optim_kind_from_name("adam"), -1);
    assert_null(eta_optim_name(ETA_OPTIM_COUNT));
    /* A pasted PyTorch call with implementation switches parses. */
    eta_optim_config cfg;
    assert_int_equal(eta_optim_config_from_spec(&cfg, "torch.optim.AdamW(lr=3e-4, betas=(0.9, 0.95), "
                                                      "weight_decay=0.1, foreach=True, fused=None)", NULL), 0);
    assert_true(cfg.kind == ETA_OPTIM_ADAMW && cfg.hp.lr == 3e-4 && cfg.hp.beta2 == 0.95 &&
                cfg.hp.weight_decay == 0.1);
    /* Positional arguments bind as in Python. */
    assert_int_equal(eta_optim_config_from_spec(&cfg, "SGD(0.1, 0.9)", NULL), 0);
    assert_true(cfg.hp.lr == 0.1 && cfg.hp.momentum == 0.9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nonfinite_gradient_changes_nothing),
        cmocka_unit_test(test_bad_hyperparameters),
        cmocka_unit_test(test_resume_is_exact),
        cmocka_unit_test(test_corrupt_state_is_refused),
        cmocka_unit_test(test_no_allocation_in_step),
        cmocka_unit_test(test_out_of_memory_paths),
        cmocka_unit_test(test_threads_do_not_change_results),
        cmocka_unit_test(test_clipping_by_hand),
        cmocka_unit_test(test_optax_rules_by_hand),
        cmocka_unit_test(test_adaptive_rules_by_hand),
        cmocka_unit_test(test_describe_and_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
