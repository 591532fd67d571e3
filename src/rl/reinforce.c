/* rl/reinforce.c - REINFORCE (Williams 1992) with a learned state-value
 * baseline (Sutton and Barto 2018, section 13.4) on CartPole-v1, with the
 * agent of rl/agent.c (CleanRL's actor and critic). One environment; after
 * every episodes_per_update whole episodes, one Adam step on
 *     - mean_t log pi(a_t|s_t) * A_t  +  vf_coef * 0.5 * mean_t (V(s_t) - G_t)^2,
 * G_t the discounted return from step t to the episode's end (no bootstrap,
 * truncated episodes included), A_t = G_t - V(s_t) with V held fixed,
 * normalised over the batch (mean 0, unbiased std 1) as PPO's advantages
 * are. The rate anneals linearly to 0 over total_timesteps (anneal_lr) or
 * stays constant.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/rl_impl.h"

eta_reinforce_config eta_reinforce_defaults(void)
{
    return (eta_reinforce_config){
        .total_timesteps = 500000,
        .learning_rate = 1e-3,
        .anneal_lr = true,
        .gamma = 0.99,
        .episodes_per_update = 4,
        .vf_coef = 0.5,
        .max_grad_norm = 0, /* none: see rl.h */
        .hidden = 64,
        .seed = 1,
    };
}

int eta_reinforce_check(const eta_reinforce_config *c, eta_err *err)
{
    eta_err_clear(err);
    if (c->total_timesteps < 1)
        return rl_fail(err, ETA_EINVAL, "reinforce: total_timesteps must be >= 1, got %lld",
                       (long long)c->total_timesteps);
    if (c->episodes_per_update < 1 || c->episodes_per_update > 1000)
        return rl_fail(err, ETA_EINVAL, "reinforce: episodes_per_update must be in [1, 1000], got %d",
                       c->episodes_per_update);
    if (c->hidden < 1 || c->hidden > 4096)
        return rl_fail(err, ETA_EINVAL, "reinforce: hidden must be in [1, 4096], got %d", c->hidden);
    if (!(c->learning_rate >= 0 && c->learning_rate <= 1e3))
        return rl_fail(err, ETA_EINVAL, "reinforce: learning_rate must be in [0, 1000], got %g", c->learning_rate);
    if (!(c->gamma >= 0 && c->gamma <= 1))
        return rl_fail(err, ETA_EINVAL, "reinforce: gamma must be in [0, 1], got %g", c->gamma);
    if (!(c->vf_coef >= 0 && c->vf_coef <= 1e3))
        return rl_fail(err, ETA_EINVAL, "reinforce: vf_coef must be in [0, 1000], got %g", c->vf_coef);
    if (!(c->max_grad_norm >= 0 && c->max_grad_norm <= 1e9))
        return rl_fail(err, ETA_EINVAL, "reinforce: max_grad_norm must be in [0, 1e9] (0: no clipping), got %g",
                       c->max_grad_norm);
    return ETA_OK;
}

/* One update from n rows: the policy gradient and the critic's regression. */
static int update(eta_rl_agent *a, const eta_reinforce_config *cfg, int64_t n, const float *obs,
                  const int32_t *actions, const float *G, float *adv, eta_err *err)
{
    int rc = rl_agent_rows(a, n, err);
    if (rc)
        return rc;
    if (eta_net_forward(a->actor, obs, NULL, NULL) || eta_net_forward(a->critic, obs, NULL, NULL))
        return rl_fail(err, ETA_EINVAL, "reinforce: forward: %s", eta_net_error(a->actor));
    const float *logits = eta_net_output(a->actor, NULL, NULL), *V = eta_net_output(a->critic, NULL, NULL);
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++)
        s += adv[i] = G[i] - V[i];
    double mean = s / (double)n;
    for (int64_t i = 0; i < n; i++)
        s2 += (adv[i] - mean) * (adv[i] - mean);
    double std = n > 1 ? sqrt(s2 / (double)(n - 1)) : 1;
    int k = a->n_actions;
    for (int64_t i = 0; i < n; i++) {
        float logp[RL_MAX_ACTIONS], p[RL_MAX_ACTIONS];
        rl_log_softmax(logp, p, logits + i * k, k);
        double A = (adv[i] - mean) / (std + 1e-8);
        for (int j = 0; j < k; j++) /* d(-A log p_a)/dz_j = -A (1[j = a] - p_j) */
            a->dlogits[i * k + j] = (float)(-A * ((j == actions[i]) - (double)p[j]) / (double)n);
        a->dvalue[i] = (float)(cfg->vf_coef * (double)(V[i] - G[i]) / (double)n);
    }
    if (eta_net_backward_output(a->actor, a->dlogits) || eta_net_backward_output(a->critic, a->dvalue))
        return rl_fail(err, ETA_ESTATE, "reinforce: backward: %s", eta_net_error(a->actor));
    if (cfg->max_grad_norm > 0)
        eta_optim_clip_grad_norm(a->opt, cfg->max_grad_norm, ETA_ANCHOR_TORCH, NULL);
    rc = eta_optim_step(a->opt);
    return rc ? rl_fail(err, rc, "reinforce: optimizer step: %s", eta_strerror(rc)) : ETA_OK;
}

int eta_rl_train_reinforce(const eta_reinforce_config *cfg, eta_rl_episode_fn on_episode, void *ud, eta_err *err)
{
    int rc = eta_reinforce_check(cfg, err);
    if (rc)
        return rc;
    const int D = 4;
    const int64_t cap = (int64_t)cfg->episodes_per_update * ETA_CARTPOLE_MAX_STEPS;
    eta_rl_agent *a;
    rc = eta_rl_agent_new(&a, D, 2, cfg->hidden, 1, 1, cfg->learning_rate, cfg->seed, err);
    if (rc)
        return rc;
    float *obs = malloc((size_t)cap * D * sizeof(float)), *rew = malloc((size_t)cap * sizeof(float));
    float *G = malloc((size_t)cap * sizeof(float)), *adv = malloc((size_t)cap * sizeof(float));
    int32_t *act = malloc((size_t)cap * sizeof(int32_t));
    if (!obs || !rew || !G || !adv || !act) {
        rc = rl_fail(err, ETA_ENOMEM, "reinforce: out of memory");
        goto done;
    }
    eta_cartpole env;
    eta_cartpole_seed(&env, cfg->seed);
    int64_t step = 0;
    while (step < cfg->total_timesteps && !rc) {
        double lr = cfg->learning_rate;
        if (cfg->anneal_lr)
            lr = (1.0 - (double)step / (double)cfg->total_timesteps) * cfg->learning_rate;
        eta_optim_set_lr(a->opt, 0, lr);
        rl_agent_sync(a);
        int64_t n = 0;
        for (int ep = 0; ep < cfg->episodes_per_update && step < cfg->total_timesteps && !rc; ep++) {
            int64_t begin = n;
            eta_cartpole_reset(&env, obs + n * D);
            bool term = false, trunc = false;
            while (!term && !trunc && !rc) {
                float lp;
                rc = rl_agent_act(a, obs + n * D, act + n, &lp, NULL, err);
                double r = 0;
                if (!rc)
                    eta_cartpole_step(&env, act[n], n + 1 < cap ? obs + (n + 1) * D : NULL, &r, &term, &trunc);
                rew[n++] = (float)r;
                step++;
            }
            double g = 0; /* discounted returns to go, backwards */
            for (int64_t t = n - 1; t >= begin; t--)
                G[t] = (float)(g = rew[t] + cfg->gamma * g);
            if (on_episode && !rc)
                on_episode(ud, step, (double)(n - begin), n - begin);
        }
        if (!rc && n > 1)
            rc = update(a, cfg, n, obs, act, G, adv, err);
    }
done:
    free(obs);
    free(rew);
    free(G);
    free(adv);
    free(act);
    eta_rl_agent_free(a);
    return rc;
}
