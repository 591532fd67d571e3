/* rl/ppo.c - Proximal Policy Optimization (Schulman et al. 2017) as
 * CleanRL's ppo.py runs CartPole-v1: vectorised environments with
 * Gymnasium's same-step autoreset, GAE (Schulman et al. 2016), the clipped
 * surrogate, the clipped value loss, an entropy bonus, advantages
 * normalised per minibatch, gradient clipping by global norm and Adam whose
 * rate anneals linearly to 0 (anneal_lr). The order of operations follows
 * ppo.py line by line; the networks are rl/agent.c's.
 *
 * The loss's gradient with respect to the networks' outputs is written by
 * hand (below, per term) and fed to eta_net_backward_output; torch's
 * autograd of the same loss is the reference (tests/ref/rl_ppo.txt).
 * Where torch.max or torch.clamp meet a tie, their gradient rule is
 * followed (maximum: half to each side; clamp: passes at the bounds).
 *
 * Differs from ppo.py, by necessity: random numbers (start states, action
 * sampling, minibatch shuffling) come from eta's streams, not numpy's and
 * torch's; so runs are statistically alike, not the same episodes.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rl/rl_impl.h"

eta_ppo_config eta_ppo_defaults(void)
{
    return (eta_ppo_config){
        .total_timesteps = 500000,
        .learning_rate = 2.5e-4,
        .num_envs = 4,
        .num_steps = 128,
        .anneal_lr = true,
        .gamma = 0.99,
        .gae_lambda = 0.95,
        .num_minibatches = 4,
        .update_epochs = 4,
        .norm_adv = true,
        .clip_coef = 0.2,
        .clip_vloss = true,
        .ent_coef = 0.01,
        .vf_coef = 0.5,
        .max_grad_norm = 0.5,
        .target_kl = NAN,
        .hidden = 64,
        .seed = 1,
    };
}

int eta_ppo_check(const eta_ppo_config *c, eta_err *err)
{
    eta_err_clear(err);
    if (c->num_envs < 1 || c->num_envs > 1024)
        return rl_fail(err, ETA_EINVAL, "ppo: num_envs must be in [1, 1024], got %d", c->num_envs);
    if (c->num_steps < 1 || c->num_steps > 1 << 20)
        return rl_fail(err, ETA_EINVAL, "ppo: num_steps must be in [1, 2^20], got %d", c->num_steps);
    int64_t batch = (int64_t)c->num_envs * c->num_steps;
    if (c->num_minibatches < 1 || batch % c->num_minibatches)
        return rl_fail(err, ETA_EINVAL, "ppo: num_minibatches must divide num_envs * num_steps = %lld, got %d",
                       (long long)batch, c->num_minibatches);
    if (c->total_timesteps < batch)
        return rl_fail(err, ETA_EINVAL, "ppo: total_timesteps must be at least num_envs * num_steps = %lld, got %lld",
                       (long long)batch, (long long)c->total_timesteps);
    if (c->update_epochs < 1)
        return rl_fail(err, ETA_EINVAL, "ppo: update_epochs must be >= 1, got %d", c->update_epochs);
    if (c->hidden < 1 || c->hidden > 4096)
        return rl_fail(err, ETA_EINVAL, "ppo: hidden must be in [1, 4096], got %d", c->hidden);
    const struct {
        const char *name;
        double v, lo, hi;
    } r[] = {{"learning_rate", c->learning_rate, 0, 1e3}, {"gamma", c->gamma, 0, 1},
             {"gae_lambda", c->gae_lambda, 0, 1},         {"clip_coef", c->clip_coef, 0, 1e3},
             {"ent_coef", c->ent_coef, 0, 1e3},           {"vf_coef", c->vf_coef, 0, 1e3},
             {"max_grad_norm", c->max_grad_norm, 0, 1e9}};
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (!(r[i].v >= r[i].lo && r[i].v <= r[i].hi))
            return rl_fail(err, ETA_EINVAL, "ppo: %s must be in [%g, %g], got %g", r[i].name, r[i].lo, r[i].hi,
                           r[i].v);
    if (!isnan(c->target_kl) && !(c->target_kl > 0))
        return rl_fail(err, ETA_EINVAL, "ppo: target_kl must be > 0 or NaN (None), got %g", c->target_kl);
    return ETA_OK;
}

void eta_ppo_gae(float *adv, float *ret, const float *rewards, const float *values, const float *dones,
                 const float *next_value, const float *next_done, int64_t T, int64_t E, double gamma, double lambda)
{
    const float g = (float)gamma, gl = (float)lambda;
    for (int64_t e = 0; e < E; e++) {
        float lastgaelam = 0;
        for (int64_t t = T - 1; t >= 0; t--) {
            float nextnonterminal, nextvalues;
            if (t == T - 1) {
                nextnonterminal = 1.0f - next_done[e];
                nextvalues = next_value[e];
            } else {
                nextnonterminal = 1.0f - dones[(t + 1) * E + e];
                nextvalues = values[(t + 1) * E + e];
            }
            float delta = rewards[t * E + e] + g * nextvalues * nextnonterminal - values[t * E + e];
            adv[t * E + e] = lastgaelam = delta + g * gl * nextnonterminal * lastgaelam;
        }
        for (int64_t t = 0; t < T; t++)
            ret[t * E + e] = adv[t * E + e] + values[t * E + e];
    }
}

int eta_ppo_loss_grad(eta_rl_agent *a, const eta_ppo_config *cfg, const eta_ppo_minibatch *mb,
                      eta_ppo_losses *losses, eta_err *err)
{
    eta_err_clear(err);
    int64_t n = mb->n;
    int k = a->n_actions;
    if (n < 2)
        return rl_fail(err, ETA_EINVAL, "ppo: a minibatch needs at least 2 rows (the advantages' std), got %lld",
                       (long long)n);
    int rc = rl_agent_rows(a, n, err);
    if (rc)
        return rc;
    for (int64_t i = 0; i < n; i++)
        if (mb->actions[i] < 0 || mb->actions[i] >= k)
            return rl_fail(err, ETA_EINVAL, "ppo: action %d at row %lld is not in [0, %d)", mb->actions[i],
                           (long long)i, k);
    if (eta_net_forward(a->actor, mb->obs, NULL, NULL) || eta_net_forward(a->critic, mb->obs, NULL, NULL))
        return rl_fail(err, ETA_EINVAL, "ppo: forward: %s %s", eta_net_error(a->actor), eta_net_error(a->critic));
    const float *logits = eta_net_output(a->actor, NULL, NULL);
    const float *newvalue = eta_net_output(a->critic, NULL, NULL);

    /* mb_advantages = (adv - adv.mean()) / (adv.std() + 1e-8), std unbiased */
    float mean = 0, std = 1;
    if (cfg->norm_adv) {
        double s = 0, s2 = 0;
        for (int64_t i = 0; i < n; i++)
            s += mb->advantages[i];
        double m = s / (double)n;
        for (int64_t i = 0; i < n; i++)
            s2 += (mb->advantages[i] - m) * (mb->advantages[i] - m);
        mean = (float)m;
        std = (float)sqrt(s2 / (double)(n - 1)) + 1e-8f;
    }
    const float c = (float)cfg->clip_coef;
    const double inv_n = 1.0 / (double)n;
    double pg = 0, vl = 0, ent = 0, kl = 0, clipped = 0;
    for (int64_t i = 0; i < n; i++) {
        float logp[RL_MAX_ACTIONS], p[RL_MAX_ACTIONS];
        rl_log_softmax(logp, p, logits + i * k, k);
        int act = mb->actions[i];
        float logratio = logp[act] - mb->logprobs[i];
        float ratio = expf(logratio);
        kl += (double)((ratio - 1.0f) - logratio);
        clipped += fabsf(ratio - 1.0f) > c;
        float adv = cfg->norm_adv ? (mb->advantages[i] - mean) / std : mb->advantages[i];
        /* pg_loss = max(-adv * ratio, -adv * clamp(ratio, 1 - c, 1 + c)).mean() */
        float rc_ = ratio < 1.0f - c ? 1.0f - c : ratio > 1.0f + c ? 1.0f + c : ratio;
        float pg1 = -adv * ratio, pg2 = -adv * rc_;
        pg += pg1 > pg2 ? pg1 : pg2;
        double clamp_pass = ratio >= 1.0f - c && ratio <= 1.0f + c;
        double w1 = pg1 > pg2 ? 1 : pg1 < pg2 ? 0 : 0.5; /* torch.maximum splits a tie */
        double dratio = (w1 * -adv + (1 - w1) * -adv * clamp_pass) * inv_n;
        double dlogp = dratio * ratio; /* d ratio / d logp = ratio */
        /* entropy H = -sum p log p; dH/dz_j = -p_j (log p_j + H); loss has -ent_coef * H.mean() */
        double H = 0;
        for (int j = 0; j < k; j++)
            H -= (double)logp[j] * p[j];
        ent += H;
        for (int j = 0; j < k; j++) {
            double d = dlogp * ((j == act) - (double)p[j]); /* d log p_act / d z_j */
            d += cfg->ent_coef * inv_n * p[j] * (logp[j] + H);
            a->dlogits[i * k + j] = (float)d;
        }
        /* value loss: 0.5 * max((v - R)^2, (V + clamp(v - V, -c, c) - R)^2).mean() */
        float v = newvalue[i], R = mb->returns[i], V = mb->values[i];
        double dv;
        if (cfg->clip_vloss) {
            float diff = v - V;
            float vc = V + (diff < -c ? -c : diff > c ? c : diff);
            float lu = (v - R) * (v - R), lc = (vc - R) * (vc - R);
            vl += lu > lc ? lu : lc;
            double wu = lu > lc ? 1 : lu < lc ? 0 : 0.5;
            double pass = diff >= -c && diff <= c;
            dv = wu * 2.0 * (double)(v - R) + (1 - wu) * 2.0 * (double)(vc - R) * pass;
        } else {
            vl += (double)(v - R) * (v - R);
            dv = 2.0 * (double)(v - R);
        }
        a->dvalue[i] = (float)(cfg->vf_coef * 0.5 * dv * inv_n);
    }
    if (eta_net_backward_output(a->actor, a->dlogits) || eta_net_backward_output(a->critic, a->dvalue))
        return rl_fail(err, ETA_ESTATE, "ppo: backward: %s %s", eta_net_error(a->actor), eta_net_error(a->critic));
    if (losses) {
        losses->pg_loss = pg * inv_n;
        losses->v_loss = 0.5 * vl * inv_n;
        losses->entropy = ent * inv_n;
        losses->loss = losses->pg_loss - cfg->ent_coef * losses->entropy + cfg->vf_coef * losses->v_loss;
        losses->approx_kl = kl * inv_n;
        losses->clipfrac = clipped * inv_n;
        losses->grad_norm = NAN;
    }
    return ETA_OK;
}

int eta_ppo_update(eta_rl_agent *a, const eta_ppo_config *cfg, const eta_ppo_minibatch *mb, eta_ppo_losses *losses,
                   eta_err *err)
{
    eta_ppo_losses L;
    int rc = eta_ppo_loss_grad(a, cfg, mb, &L, err);
    if (rc)
        return rc;
    if (cfg->max_grad_norm > 0)
        rc = eta_optim_clip_grad_norm(a->opt, cfg->max_grad_norm, ETA_ANCHOR_TORCH, &L.grad_norm);
    if (!rc)
        rc = eta_optim_step(a->opt);
    if (rc)
        return rl_fail(err, rc, "ppo: optimizer step failed (%s)", eta_strerror(rc));
    if (losses)
        *losses = L;
    return ETA_OK;
}

/* The rollout storage of ppo.py (obs, actions, logprobs, rewards, dones,
 * values: num_steps x num_envs), the flat batch and a minibatch. */
typedef struct buffers {
    float *obs, *logprobs, *rewards, *dones, *values, *adv, *ret;
    int32_t *actions;
    float *mb_obs, *mb_logprobs, *mb_adv, *mb_ret, *mb_values;
    int32_t *mb_actions;
    int64_t *inds;
} buffers;

static void free_buffers(buffers *b)
{
    void *p[] = {b->obs,    b->logprobs, b->rewards,  b->dones,     b->values,     b->adv,   b->ret,
                 b->actions, b->mb_obs,  b->mb_logprobs, b->mb_adv, b->mb_ret, b->mb_values, b->mb_actions,
                 b->inds};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
        free(p[i]);
}

static int alloc_buffers(buffers *b, int64_t batch, int64_t mbs, int obs_dim)
{
    memset(b, 0, sizeof *b);
    size_t B = (size_t)batch, M = (size_t)mbs, D = (size_t)obs_dim;
    b->obs = malloc(B * D * sizeof(float));
    b->logprobs = malloc(B * sizeof(float));
    b->rewards = malloc(B * sizeof(float));
    b->dones = malloc(B * sizeof(float));
    b->values = malloc(B * sizeof(float));
    b->adv = malloc(B * sizeof(float));
    b->ret = malloc(B * sizeof(float));
    b->actions = malloc(B * sizeof(int32_t));
    b->mb_obs = malloc(M * D * sizeof(float));
    b->mb_logprobs = malloc(M * sizeof(float));
    b->mb_adv = malloc(M * sizeof(float));
    b->mb_ret = malloc(M * sizeof(float));
    b->mb_values = malloc(M * sizeof(float));
    b->mb_actions = malloc(M * sizeof(int32_t));
    b->inds = malloc(B * sizeof(int64_t));
    bool ok = b->obs && b->logprobs && b->rewards && b->dones && b->values && b->adv && b->ret && b->actions &&
              b->mb_obs && b->mb_logprobs && b->mb_adv && b->mb_ret && b->mb_values && b->mb_actions && b->inds;
    if (!ok)
        free_buffers(b);
    return ok ? ETA_OK : ETA_ENOMEM;
}

int eta_rl_train_ppo(const eta_ppo_config *cfg, eta_rl_episode_fn on_episode, eta_rl_update_fn on_update, void *ud,
                     eta_err *err)
{
    int rc = eta_ppo_check(cfg, err);
    if (rc)
        return rc;
    const int E = cfg->num_envs, T = cfg->num_steps, D = 4;
    const int64_t batch = (int64_t)E * T, mbs = batch / cfg->num_minibatches;
    const int64_t iterations = cfg->total_timesteps / batch;
    eta_rl_agent *a;
    rc = eta_rl_agent_new(&a, D, 2, cfg->hidden, mbs, E, cfg->learning_rate, cfg->seed, err);
    if (rc)
        return rc;
    buffers b;
    eta_cartpole *envs = calloc((size_t)E, sizeof *envs);
    float *next_obs = malloc((size_t)E * D * sizeof(float)), *next_done = calloc((size_t)E, sizeof(float));
    float *next_value = malloc((size_t)E * sizeof(float));
    double *ep_ret = calloc((size_t)E, sizeof(double));
    if (alloc_buffers(&b, batch, mbs, D) || !envs || !next_obs || !next_done || !next_value || !ep_ret) {
        rc = rl_fail(err, ETA_ENOMEM, "ppo: out of memory");
        goto done;
    }
    for (int e = 0; e < E; e++) { /* envs.reset(seed=args.seed): environment e gets seed + e */
        eta_cartpole_seed(&envs[e], cfg->seed + (uint64_t)e);
        eta_cartpole_reset(&envs[e], next_obs + e * D);
    }
    int64_t global_step = 0;
    for (int64_t it = 1; it <= iterations && !rc; it++) {
        double lr = cfg->learning_rate;
        if (cfg->anneal_lr)
            lr = (1.0 - ((double)it - 1.0) / (double)iterations) * cfg->learning_rate;
        eta_optim_set_lr(a->opt, 0, lr);
        rl_agent_sync(a);
        for (int t = 0; t < T && !rc; t++) {
            global_step += E;
            memcpy(b.obs + (size_t)t * E * D, next_obs, (size_t)E * D * sizeof(float));
            memcpy(b.dones + (size_t)t * E, next_done, (size_t)E * sizeof(float));
            rc = rl_agent_act(a, next_obs, b.actions + t * E, b.logprobs + t * E, b.values + t * E, err);
            for (int e = 0; e < E && !rc; e++) {
                double r;
                bool term, trunc;
                eta_cartpole_step(&envs[e], b.actions[t * E + e], next_obs + e * D, &r, &term, &trunc);
                b.rewards[t * E + e] = (float)r;
                ep_ret[e] += r;
                next_done[e] = term || trunc;
                if (term || trunc) { /* Gymnasium 0.29's autoreset: the next observation is the new start */
                    if (on_episode)
                        on_episode(ud, global_step, ep_ret[e], envs[e].steps);
                    ep_ret[e] = 0;
                    eta_cartpole_reset(&envs[e], next_obs + e * D);
                }
            }
        }
        if (!rc)
            rc = rl_agent_act(a, next_obs, NULL, NULL, next_value, err);
        if (rc)
            break;
        eta_ppo_gae(b.adv, b.ret, b.rewards, b.values, b.dones, next_value, next_done, T, E, cfg->gamma,
                    cfg->gae_lambda);
        for (int64_t i = 0; i < batch; i++)
            b.inds[i] = i;
        eta_ppo_losses L = {0};
        for (int epoch = 0; epoch < cfg->update_epochs && !rc; epoch++) {
            for (int64_t i = batch - 1; i > 0; i--) { /* np.random.shuffle(b_inds): Fisher-Yates */
                int64_t j = (int64_t)(rl_rng_uniform(&a->rng) * (double)(i + 1));
                int64_t tmp = b.inds[i];
                b.inds[i] = b.inds[j];
                b.inds[j] = tmp;
            }
            for (int64_t start = 0; start < batch && !rc; start += mbs) {
                for (int64_t m = 0; m < mbs; m++) {
                    int64_t s = b.inds[start + m];
                    memcpy(b.mb_obs + m * D, b.obs + s * D, D * sizeof(float));
                    b.mb_actions[m] = b.actions[s];
                    b.mb_logprobs[m] = b.logprobs[s];
                    b.mb_adv[m] = b.adv[s];
                    b.mb_ret[m] = b.ret[s];
                    b.mb_values[m] = b.values[s];
                }
                eta_ppo_minibatch mb = {mbs, b.mb_obs, b.mb_actions, b.mb_logprobs, b.mb_adv, b.mb_ret, b.mb_values};
                rc = eta_ppo_update(a, cfg, &mb, &L, err);
            }
            if (!isnan(cfg->target_kl) && L.approx_kl > cfg->target_kl)
                break;
        }
        if (!rc && on_update)
            on_update(ud, it, lr, &L);
    }
done:
    free_buffers(&b);
    free(envs);
    free(next_obs);
    free(next_done);
    free(next_value);
    free(ep_ret);
    eta_rl_agent_free(a);
    return rc;
}
