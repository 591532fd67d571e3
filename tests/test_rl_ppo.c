/* test_rl_ppo.c - PPO against torch and CleanRL's ppo.py. labels: ref unit full
 *
 * tests/ref/rl_ppo.txt (tools/gen_ref_ppo.py, torch 1.13) holds one
 * minibatch update of CleanRL's Agent from given weights: the losses, every
 * parameter's gradient, clip_grad_norm_'s total norm and the weights after
 * one Adam step; and GAE over 8 steps of 3 environments with episode ends.
 * eta's hand-written loss gradient, pushed through its networks, must give
 * torch's numbers to float32 rounding. Every key of the fixture is read; an
 * unknown one fails. Then: the defaults are CleanRL's, bad configurations
 * are refused by name, and a short run learns (the smoke test).
 */
#include "harness.h"

#include <eta/optim.h>
#include <eta/rl.h>

#define MAXN 8192

typedef struct arr {
    char name[64];
    double v[MAXN];
    size_t n;
} arr;

/* The fixture, case ppo_update. */
typedef struct ppo_fix {
    double hp[8]; /* clip_coef ent_coef vf_coef max_grad_norm lr eps norm_adv clip_vloss */
    int n;
    double obs[512], actions[128], logprobs[128], adv[128], ret[128], values[128];
    double losses[6]; /* loss pg_loss v_loss entropy approx_kl clipfrac */
    double grad_norm;
    arr param[12], grad[12], after[12];
    int nparam, ngrad, nafter;
} ppo_fix;

static const char *const HP[8] = {"clip_coef", "ent_coef", "vf_coef", "max_grad_norm",
                                  "lr",        "eps",      "norm_adv", "clip_vloss"};
static const char *const LOSSES[6] = {"loss", "pg_loss", "v_loss", "entropy", "approx_kl", "clipfrac"};

/* Reads "<name> <count> <values>" into a. */
static void read_named(arr *a, char *rest)
{
    int used = 0;
    size_t count;
    assert_int_equal(sscanf(rest, "%63s %zu %n", a->name, &count, &used), 2);
    a->n = read_doubles(rest + used, a->v, MAXN);
    assert_int_equal(a->n, count);
}

static void read_n(double *out, size_t want, char *rest)
{
    size_t n = read_doubles(rest, out, want);
    if (n != want)
        fail_msg("fixture: expected %zu values, got %zu", want, n);
}

/* Line-by-line reader over the case that starts at `*s`; returns the next
 * line's key (its text NUL-terminated at the first space) and its rest. */
static char *next_line(char **s, char **rest)
{
    char *line = *s;
    if (!*line)
        return NULL;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = 0;
        *s = nl + 1;
    } else {
        *s = line + strlen(line);
    }
    char *sp = strchr(line, ' ');
    if (sp) {
        *sp = 0;
        *rest = sp + 1;
    } else {
        *rest = line + strlen(line);
    }
    return line;
}

static char *fixture(void)
{
    char *text = read_file(ref_path("rl_ppo.txt"), NULL);
    if (!text)
        fail_msg("cannot read %s (tools/gen_ref_ppo.py writes it)", ref_path("rl_ppo.txt"));
    return text;
}

static void parse_ppo(ppo_fix *f, char **s)
{
    char *rest, *key;
    int seen_hp = 0, seen_l = 0, seen = 0;
    while ((key = next_line(s, &rest)) && strcmp(key, "end")) {
        int k;
        for (k = 0; k < 8 && strcmp(key, HP[k]); k++)
            ;
        if (k < 8) {
            read_n(&f->hp[k], 1, rest);
            seen_hp |= 1 << k;
            continue;
        }
        for (k = 0; k < 6 && strcmp(key, LOSSES[k]); k++)
            ;
        if (k < 6) {
            read_n(&f->losses[k], 1, rest);
            seen_l |= 1 << k;
            continue;
        }
        /* the per-row arrays: n values each (obs: n x 4), after n */
        struct {
            const char *name;
            double *dst;
            int width;
        } rows[] = {{"obs", f->obs, 4},           {"actions", f->actions, 1}, {"logprobs", f->logprobs, 1},
                    {"advantages", f->adv, 1},   {"returns", f->ret, 1},     {"values", f->values, 1}};
        for (k = 0; k < 6 && strcmp(key, rows[k].name); k++)
            ;
        if (k < 6) {
            assert_true(seen & 1); /* n comes first */
            read_n(rows[k].dst, (size_t)f->n * (size_t)rows[k].width, rest);
            seen |= 2 << k;
            continue;
        }
        if (!strcmp(key, "n")) {
            double v;
            read_n(&v, 1, rest);
            f->n = (int)v;
            assert_int_equal(f->n, 128);
            seen |= 1;
        } else if (!strcmp(key, "grad_norm")) {
            read_n(&f->grad_norm, 1, rest);
            seen |= 128;
        } else if (!strcmp(key, "param")) {
            assert_true(f->nparam < 12);
            read_named(&f->param[f->nparam++], rest);
        } else if (!strcmp(key, "grad")) {
            assert_true(f->ngrad < 12);
            read_named(&f->grad[f->ngrad++], rest);
        } else if (!strcmp(key, "param_after")) {
            assert_true(f->nafter < 12);
            read_named(&f->after[f->nafter++], rest);
        } else {
            fail_msg("rl_ppo.txt: unknown key '%s' in case ppo_update", key);
        }
    }
    assert_non_null(key);
    assert_int_equal(seen_hp, 0xff);
    assert_int_equal(seen_l, 0x3f);
    assert_int_equal(seen, 0xff);
    assert_int_equal(f->nparam, 12);
    assert_int_equal(f->ngrad, 12);
    assert_int_equal(f->nafter, 12);
}

/* The network and the offset of torch's "critic.2.weight" in eta's agent. */
static float *agent_array(eta_rl_agent *a, const char *torch_name, bool grad, size_t *n)
{
    eta_net *net = !strncmp(torch_name, "critic.", 7) ? eta_rl_agent_critic(a) : eta_rl_agent_actor(a);
    const char *local = strchr(torch_name, '.') + 1;
    for (int i = 0; i < eta_net_param_count(net); i++) {
        const char *name;
        size_t off;
        int ndim;
        int64_t shape[4];
        eta_net_param_info(net, i, &name, &off, &ndim, shape);
        if (!strcmp(name, local)) {
            *n = ndim == 2 ? (size_t)(shape[0] * shape[1]) : (size_t)shape[0];
            return (grad ? eta_net_grads(net, NULL) : eta_net_params(net, NULL)) + off;
        }
    }
    fail_msg("no parameter %s in the agent", torch_name);
    return NULL;
}

/* The fixture's initial weights into the agent. */
static void load_weights(eta_rl_agent *a, const ppo_fix *f)
{
    for (int i = 0; i < f->nparam; i++) {
        size_t n;
        float *p = agent_array(a, f->param[i].name, false, &n);
        assert_int_equal(n, f->param[i].n);
        for (size_t j = 0; j < n; j++)
            p[j] = (float)f->param[i].v[j];
    }
}

/* got against want: the largest difference relative to the array's largest
 * magnitude (float32 rounding through two 64-wide layers: a few 1e-7). */
static void check_array(const char *what, const char *name, const float *got, const double *want, size_t n,
                        double tol)
{
    double scale = 0, worst = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (e > worst) {
            worst = e;
            wi = i;
        }
    }
    if (!(worst <= tol * fmax(scale, 1e-30)))
        fail_msg("%s %s: element %zu: got %.9g, torch %.9g (error %.3g of the largest %.3g, tol %.1g)", what, name, wi,
                 (double)got[wi], want[wi], worst / scale, scale, tol);
}

static void test_update_matches_torch(void **state)
{
    (void)state;
    char *text = fixture(), *s = text, *rest, *key;
    ppo_fix *f = calloc(1, sizeof *f);
    while ((key = next_line(&s, &rest)) && strcmp(key, "case"))
        ;
    assert_non_null(key);
    assert_string_equal(rest, "ppo_update");
    parse_ppo(f, &s);

    eta_ppo_config cfg = eta_ppo_defaults();
    /* the fixture's hyperparameters are CleanRL's defaults: eta's must be them */
    assert_true(cfg.clip_coef == f->hp[0] && cfg.ent_coef == f->hp[1] && cfg.vf_coef == f->hp[2]);
    assert_true(cfg.max_grad_norm == f->hp[3] && cfg.learning_rate == f->hp[4]);
    assert_true(f->hp[5] == 1e-5 && cfg.norm_adv == (f->hp[6] != 0) && cfg.clip_vloss == (f->hp[7] != 0));
    eta_rl_agent *a;
    eta_err err;
    assert_int_equal(eta_rl_agent_new(&a, 4, 2, 64, f->n, 4, f->hp[4], 0, &err), ETA_OK);
    assert_true(eta_optim_get_config(eta_rl_agent_optim(a))->hp.eps == f->hp[5]);
    load_weights(a, f);
    int n = f->n;
    float obs[512], lp[128], adv[128], ret[128], val[128];
    int32_t act[128];
    for (int i = 0; i < n * 4; i++)
        obs[i] = (float)f->obs[i];
    for (int i = 0; i < n; i++) {
        act[i] = (int32_t)f->actions[i];
        lp[i] = (float)f->logprobs[i];
        adv[i] = (float)f->adv[i];
        ret[i] = (float)f->ret[i];
        val[i] = (float)f->values[i];
    }
    eta_ppo_minibatch mb = {n, obs, act, lp, adv, ret, val};
    eta_ppo_losses L;
    assert_int_equal(eta_ppo_loss_grad(a, &cfg, &mb, &L, &err), ETA_OK);
    const double got_l[6] = {L.loss, L.pg_loss, L.v_loss, L.entropy, L.approx_kl, L.clipfrac};
    for (int k = 0; k < 6; k++)
        if (!(fabs(got_l[k] - f->losses[k]) <= 2e-5 * fmax(fabs(f->losses[k]), 1e-2)))
            fail_msg("%s: eta %.9g, torch %.9g", LOSSES[k], got_l[k], f->losses[k]);
    for (int i = 0; i < f->ngrad; i++) {
        size_t m;
        const float *g = agent_array(a, f->grad[i].name, true, &m);
        assert_int_equal(m, f->grad[i].n);
        check_array("gradient", f->grad[i].name, g, f->grad[i].v, m, 2e-5);
    }
    /* The training loop's step (eta_ppo_update: the same loss, clipping,
     * Adam) on a second agent from the same weights. */
    eta_rl_agent *b;
    assert_int_equal(eta_rl_agent_new(&b, 4, 2, 64, f->n, 4, f->hp[4], 0, &err), ETA_OK);
    load_weights(b, f);
    eta_rl_agent_free(a);
    a = b;
    assert_int_equal(eta_ppo_update(a, &cfg, &mb, &L, &err), ETA_OK);
    if (!(fabs(L.grad_norm - f->grad_norm) <= 1e-5 * f->grad_norm))
        fail_msg("grad norm: eta %.9g, torch %.9g", L.grad_norm, f->grad_norm);
    for (int i = 0; i < f->nafter; i++) {
        size_t m;
        const float *p = agent_array(a, f->after[i].name, false, &m);
        assert_int_equal(m, f->after[i].n);
        /* Adam's first step moves each weight by about lr: compare the step itself */
        float *step = malloc(m * sizeof *step);
        double *want = malloc(m * sizeof *want);
        for (size_t j = 0; j < m; j++) {
            step[j] = (float)((double)p[j] - f->param[i].v[j]);
            want[j] = f->after[i].v[j] - f->param[i].v[j];
        }
        check_array("Adam step", f->after[i].name, step, want, m, 2e-3);
        free(step);
        free(want);
    }
    eta_rl_agent_free(a);
    free(f);
    free(text);
}

static void test_gae_matches_torch(void **state)
{
    (void)state;
    char *text = fixture(), *s = text, *rest, *key;
    while ((key = next_line(&s, &rest)) && !(!strcmp(key, "case") && !strcmp(rest, "gae")))
        ;
    assert_non_null(key);
    double T = 0, E = 0, gamma = 0, lambda = 0, v[7][64];
    const char *names[7] = {"rewards", "values", "dones", "next_value", "next_done", "advantages", "returns"};
    int seen = 0;
    while ((key = next_line(&s, &rest)) && strcmp(key, "end")) {
        int k;
        for (k = 0; k < 7 && strcmp(key, names[k]); k++)
            ;
        if (k < 7) {
            read_n(v[k], k == 3 || k == 4 ? (size_t)E : (size_t)(T * E), rest);
            seen |= 1 << k;
        } else if (!strcmp(key, "T")) {
            read_n(&T, 1, rest);
            seen |= 1 << 7;
        } else if (!strcmp(key, "E")) {
            read_n(&E, 1, rest);
            seen |= 1 << 8;
        } else if (!strcmp(key, "gamma")) {
            read_n(&gamma, 1, rest);
            seen |= 1 << 9;
        } else if (!strcmp(key, "gae_lambda")) {
            read_n(&lambda, 1, rest);
            seen |= 1 << 10;
        } else {
            fail_msg("rl_ppo.txt: unknown key '%s' in case gae", key);
        }
    }
    assert_int_equal(seen, 0x7ff);
    int64_t t = (int64_t)T, e = (int64_t)E;
    assert_true(t * e <= 64);
    float in[5][64], adv[64], ret[64];
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < 64; i++)
            in[k][i] = (float)v[k][i];
    eta_ppo_gae(adv, ret, in[0], in[1], in[2], in[3], in[4], t, e, gamma, lambda);
    check_array("gae", "advantages", adv, v[5], (size_t)(t * e), 1e-6);
    check_array("gae", "returns", ret, v[6], (size_t)(t * e), 1e-6);
    free(text);
}

/* ppo.py's defaults, and refusals that name the field. */
static void test_defaults_and_checks(void **state)
{
    (void)state;
    eta_ppo_config c = eta_ppo_defaults();
    assert_true(c.total_timesteps == 500000 && c.learning_rate == 2.5e-4 && c.num_envs == 4 && c.num_steps == 128);
    assert_true(c.anneal_lr && c.gamma == 0.99 && c.gae_lambda == 0.95 && c.num_minibatches == 4);
    assert_true(c.update_epochs == 4 && c.norm_adv && c.clip_coef == 0.2 && c.clip_vloss && c.ent_coef == 0.01);
    assert_true(c.vf_coef == 0.5 && c.max_grad_norm == 0.5 && isnan(c.target_kl) && c.hidden == 64);
    eta_err err;
    assert_int_equal(eta_ppo_check(&c, &err), ETA_OK);
    c.num_minibatches = 3;
    assert_int_equal(eta_ppo_check(&c, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "num_minibatches"));
    c = eta_ppo_defaults();
    c.gamma = 1.5;
    assert_int_equal(eta_ppo_check(&c, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "gamma"));
    c = eta_ppo_defaults();
    c.total_timesteps = 100;
    assert_int_equal(eta_rl_train_ppo(&c, NULL, NULL, NULL, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "total_timesteps"));
    eta_rl_agent *a = (eta_rl_agent *)&c;
    assert_int_equal(eta_rl_agent_new(&a, 4, 17, 64, 8, 1, 1e-3, 0, &err), ETA_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err.msg, "n_actions"));
    assert_int_equal(eta_rl_agent_new(&a, 4, 2, 64, 8, 1, NAN, 0, &err), ETA_EINVAL);
    eta_reinforce_config r = eta_reinforce_defaults();
    assert_true(r.learning_rate == 1e-3 && r.anneal_lr && r.gamma == 0.99 && r.episodes_per_update == 4);
    assert_true(r.max_grad_norm == 0 && r.vf_coef == 0.5 && r.hidden == 64 && r.total_timesteps == 500000);
    assert_int_equal(eta_reinforce_check(&r, &err), ETA_OK);
    r.episodes_per_update = 0;
    assert_int_equal(eta_reinforce_check(&r, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "episodes_per_update"));
}

typedef struct episodes {
    double ret[4096];
    int64_t step[4096];
    int n;
    double last_lr;
    int64_t updates;
} episodes;

static void on_episode(void *ud, int64_t step, double ret, int64_t len)
{
    episodes *e = ud;
    assert_true(ret == (double)len && len >= 1 && len <= ETA_CARTPOLE_MAX_STEPS);
    assert_true(e->n == 0 || step >= e->step[e->n - 1]);
    if (e->n < 4096) {
        e->step[e->n] = step;
        e->ret[e->n++] = ret;
    }
}

static void on_update(void *ud, int64_t it, double lr, const eta_ppo_losses *l)
{
    episodes *e = ud;
    assert_true(isfinite(l->loss) && l->entropy > 0 && l->entropy <= log(2.0) + 1e-6);
    if (e->updates)
        assert_true(lr < e->last_lr); /* annealed: strictly falling */
    e->last_lr = lr;
    e->updates = it;
}

static double mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

/* The smoke test: 60 updates (30,720 steps) of the default PPO; the last 20
 * episodes last far longer than the first 20 (random play: about 22). */
static void test_smoke_return_rises(void **state)
{
    (void)state;
    eta_ppo_config c = eta_ppo_defaults();
    c.total_timesteps = 60 * 512;
    c.seed = 3;
    episodes *e = calloc(1, sizeof *e);
    eta_err err;
    assert_int_equal(eta_rl_train_ppo(&c, on_episode, on_update, e, &err), ETA_OK);
    assert_int_equal(e->updates, 60);
    assert_true(fabs(e->last_lr - c.learning_rate / 60) < 1e-12); /* (1 - 59/60) * lr */
    assert_true(e->n > 40);
    double first = mean(e->ret, 20), last = mean(e->ret + e->n - 20, 20);
    if (!(first < 40 && last > 3 * first && last > 100))
        fail_msg("PPO smoke: first 20 episodes %.1f, last 20 %.1f: the return did not rise", first, last);
    /* REINFORCE, the same budget: it rises too */
    eta_rl_agent *a = (eta_rl_agent *)&c;
    assert_int_equal(eta_rl_agent_new(&a, 4, 17, 64, 8, 1, 1e-3, 0, &err), ETA_EINVAL);
    assert_null(a);
    assert_non_null(strstr(err.msg, "n_actions"));
    assert_int_equal(eta_rl_agent_new(&a, 4, 2, 64, 8, 1, NAN, 0, &err), ETA_EINVAL);
    eta_reinforce_config r = eta_reinforce_defaults();
    r.total_timesteps = 30000;
    r.seed = 3;
    memset(e, 0, sizeof *e);
    assert_int_equal(eta_rl_train_reinforce(&r, on_episode, e, &err), ETA_OK);
    first = mean(e->ret, 20);
    last = mean(e->ret + e->n - 20, 20);
    if (!(first < 40 && last > 2 * first))
        fail_msg("REINFORCE smoke: first 20 episodes %.1f, last 20 %.1f: the return did not rise", first, last);
    free(e);
}

/* The same seed gives the same run, bit for bit. */
static void test_deterministic(void **state)
{
    (void)state;
    eta_ppo_config c = eta_ppo_defaults();
    c.total_timesteps = 4 * 512;
    episodes *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    eta_err err;
    assert_int_equal(eta_rl_train_ppo(&c, on_episode, NULL, a, &err), ETA_OK);
    assert_int_equal(eta_rl_train_ppo(&c, on_episode, NULL, b, &err), ETA_OK);
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->ret, b->ret, sizeof a->ret);
    assert_memory_equal(a->step, b->step, sizeof a->step);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_matches_torch), cmocka_unit_test(test_gae_matches_torch),
        cmocka_unit_test(test_defaults_and_checks),  cmocka_unit_test(test_smoke_return_rises),
        cmocka_unit_test(test_deterministic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
