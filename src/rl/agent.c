/* rl/agent.c - the actor-critic agent of CleanRL's ppo.py (class Agent):
 * two MLPs built with eta's networks, initialised as its layer_init does
 * (orthogonal weights, zero biases), one Adam over both, and the
 * categorical policy (torch.distributions.Categorical over logits):
 * sampling, log-probabilities. The losses live in ppo.c and reinforce.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "rl/rl_impl.h"

int rl_fail(eta_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        eta_msg_vformat_(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->code = code;
        err->pos = -1;
        err->len = 0;
    }
    return code;
}

uint64_t rl_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double rl_rng_uniform(uint64_t *s)
{
    return (double)(rl_rng_next(s) >> 11) * 0x1.0p-53;
}

/* layer_init(layer, std) for every Linear of an MLP: weights orthogonal
 * with gain sqrt(2), the last one `head_gain`; biases 0. */
static int init_mlp(eta_net *net, double head_gain, uint64_t seed)
{
    int rc = eta_net_init(net, seed);
    float *p = eta_net_params(net, NULL);
    int count = eta_net_param_count(net);
    for (int i = 0; rc == ETA_OK && i < count; i++) {
        const char *name;
        size_t off;
        int ndim;
        int64_t shape[4];
        eta_net_param_info(net, i, &name, &off, &ndim, shape);
        if (ndim == 2)
            rc = eta_init_orthogonal(p + off, shape[0], shape[1], i + 2 == count ? head_gain : sqrt(2.0),
                                     seed * 31 + (uint64_t)i);
        else
            memset(p + off, 0, (size_t)shape[0] * sizeof(float));
    }
    return rc;
}

static int build(eta_net **out, int in, int hidden, int outs, int64_t rows, eta_err *err)
{
    char spec[256];
    snprintf(spec, sizeof spec, "Sequential(Linear(%d, %d), Tanh(), Linear(%d, %d), Tanh(), Linear(%d, %d))", in,
             hidden, hidden, hidden, hidden, outs);
    int rc = eta_net_new(out, spec, err);
    if (!rc)
        rc = eta_net_prepare(*out, rows, 1, (const int64_t[]){in}, err);
    if (!rc)
        eta_net_set_input_grad(*out, false);
    return rc;
}

int eta_rl_agent_new(eta_rl_agent **out, int obs_dim, int n_actions, int hidden, int64_t batch, int64_t act_batch,
                     double lr, uint64_t seed, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    if (obs_dim < 1 || n_actions < 2 || n_actions > RL_MAX_ACTIONS || hidden < 1 || batch < 1 || act_batch < 1 ||
        !(lr >= 0) || !isfinite(lr))
        return rl_fail(err, ETA_EINVAL,
                       "rl agent: obs_dim >= 1, n_actions in [2, %d], hidden, batch and act_batch >= 1 and a "
                       "finite lr >= 0 are needed",
                       RL_MAX_ACTIONS);
    eta_rl_agent *a = calloc(1, sizeof *a);
    if (!a)
        return rl_fail(err, ETA_ENOMEM, "rl agent: out of memory");
    a->obs_dim = obs_dim;
    a->n_actions = n_actions;
    a->hidden = hidden;
    a->batch = batch;
    a->act_batch = act_batch;
    a->rng = seed ^ 0x5851f42d4c957f2dull;
    int rc = build(&a->actor, obs_dim, hidden, n_actions, batch, err);
    if (!rc)
        rc = build(&a->critic, obs_dim, hidden, 1, batch, err);
    if (!rc)
        rc = build(&a->actor_act, obs_dim, hidden, n_actions, act_batch, err);
    if (!rc)
        rc = build(&a->critic_act, obs_dim, hidden, 1, act_batch, err);
    if (!rc && (init_mlp(a->actor, 0.01, seed * 2 + 1) || init_mlp(a->critic, 1.0, seed * 2 + 2)))
        rc = rl_fail(err, ETA_ENOMEM, "rl agent: out of memory");
    if (!rc) {
        /* torch.optim.Adam(agent.parameters(), lr=learning_rate, eps=1e-5) */
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_ADAM);
        cfg.hp.lr = lr;
        cfg.hp.eps = 1e-5;
        rc = eta_optim_new(&a->opt, &cfg, err);
    }
    /* CleanRL's Agent declares the critic first: its parameters come first. */
    if (!rc)
        rc = eta_net_attach(a->critic, a->opt, NULL, err);
    if (!rc)
        rc = eta_net_attach(a->actor, a->opt, NULL, err);
    if (!rc) {
        a->cap = batch;
        a->dlogits = malloc((size_t)batch * (size_t)n_actions * sizeof(float));
        a->dvalue = malloc((size_t)batch * sizeof(float));
        if (!a->dlogits || !a->dvalue)
            rc = rl_fail(err, ETA_ENOMEM, "rl agent: out of memory");
    }
    if (rc) {
        eta_rl_agent_free(a);
        return rc;
    }
    rl_agent_sync(a);
    *out = a;
    return ETA_OK;
}

void eta_rl_agent_free(eta_rl_agent *a)
{
    if (!a)
        return;
    eta_net_free(a->actor);
    eta_net_free(a->critic);
    eta_net_free(a->actor_act);
    eta_net_free(a->critic_act);
    eta_optim_free(a->opt);
    free(a->dlogits);
    free(a->dvalue);
    free(a);
}

eta_net *eta_rl_agent_actor(eta_rl_agent *a)
{
    return a->actor;
}

eta_net *eta_rl_agent_critic(eta_rl_agent *a)
{
    return a->critic;
}

eta_optim *eta_rl_agent_optim(eta_rl_agent *a)
{
    return a->opt;
}

void rl_agent_sync(eta_rl_agent *a)
{
    size_t n;
    const float *src = eta_net_params(a->actor, &n);
    memcpy(eta_net_params(a->actor_act, NULL), src, n * sizeof(float));
    src = eta_net_params(a->critic, &n);
    memcpy(eta_net_params(a->critic_act, NULL), src, n * sizeof(float));
}

int rl_agent_rows(eta_rl_agent *a, int64_t n, eta_err *err)
{
    if (n == a->batch)
        return ETA_OK;
    if (n > a->cap) {
        float *dl = realloc(a->dlogits, (size_t)n * (size_t)a->n_actions * sizeof(float));
        if (dl)
            a->dlogits = dl;
        float *dv = realloc(a->dvalue, (size_t)n * sizeof(float));
        if (dv)
            a->dvalue = dv;
        if (!dl || !dv)
            return rl_fail(err, ETA_ENOMEM, "rl agent: out of memory for %lld rows", (long long)n);
        a->cap = n;
    }
    int rc = eta_net_prepare(a->actor, n, 1, (const int64_t[]){a->obs_dim}, err);
    if (!rc)
        rc = eta_net_prepare(a->critic, n, 1, (const int64_t[]){a->obs_dim}, err);
    if (!rc)
        a->batch = n;
    return rc;
}

void rl_log_softmax(float *logp, float *probs, const float *logits, int k)
{
    float mx = logits[0];
    for (int j = 1; j < k; j++)
        mx = logits[j] > mx ? logits[j] : mx;
    float sum = 0;
    for (int j = 0; j < k; j++)
        sum += expf(logits[j] - mx);
    float lse = mx + logf(sum);
    for (int j = 0; j < k; j++) {
        logp[j] = logits[j] - lse;
        probs[j] = expf(logp[j]);
    }
}

int rl_agent_act(eta_rl_agent *a, const float *obs, int32_t *actions, float *logprobs, float *values, eta_err *err)
{
    int k = a->n_actions;
    if (actions || logprobs) {
        if (eta_net_forward(a->actor_act, obs, NULL, NULL))
            return rl_fail(err, ETA_EINVAL, "rl agent: %s", eta_net_error(a->actor_act));
        const float *logits = eta_net_output(a->actor_act, NULL, NULL);
        float logp[RL_MAX_ACTIONS], p[RL_MAX_ACTIONS];
        for (int64_t i = 0; i < a->act_batch; i++) {
            rl_log_softmax(logp, p, logits + i * k, k);
            double u = rl_rng_uniform(&a->rng), c = 0;
            int act = k - 1;
            for (int j = 0; j < k - 1; j++) {
                c += p[j];
                if (u < c) {
                    act = j;
                    break;
                }
            }
            if (actions)
                actions[i] = act;
            if (logprobs)
                logprobs[i] = logp[act];
        }
    }
    if (values) {
        if (eta_net_forward(a->critic_act, obs, NULL, NULL))
            return rl_fail(err, ETA_EINVAL, "rl agent: %s", eta_net_error(a->critic_act));
        memcpy(values, eta_net_output(a->critic_act, NULL, NULL), (size_t)a->act_batch * sizeof(float));
    }
    return ETA_OK;
}
