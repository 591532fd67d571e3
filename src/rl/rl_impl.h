/* rl/rl_impl.h - internal to the rl layer: the agent's fields, shared by
 * agent.c (building, acting, the categorical policy), ppo.c and
 * reinforce.c, and the layer's random stream. */
#ifndef ETA_RL_IMPL_H
#define ETA_RL_IMPL_H

#include <eta/optim.h>
#include <eta/rl.h>

#define RL_MAX_ACTIONS 16 /* a categorical policy's actions at most (stack arrays) */

struct eta_rl_agent {
    int obs_dim, n_actions, hidden;
    int64_t batch;                /* rows the learning networks are prepared for now */
    int64_t act_batch;
    eta_net *actor, *critic;      /* learn: gradients, the optimizer's parameters */
    eta_net *actor_act, *critic_act; /* act: copies of the parameters, act_batch rows */
    eta_optim *opt;
    float *dlogits, *dvalue;      /* the loss's gradient at the outputs, batch rows */
    int64_t cap;                  /* rows dlogits and dvalue hold */
    uint64_t rng;                 /* action sampling and minibatch shuffling */
};

/* Fills err (may be NULL) with code and the message; returns code. */
int rl_fail(eta_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* SplitMix64, and a uniform double in [0, 1). */
uint64_t rl_rng_next(uint64_t *s);
double rl_rng_uniform(uint64_t *s);

/* Copies the learning networks' parameters into the acting ones. */
void rl_agent_sync(eta_rl_agent *a);
/* Prepares the learning networks for n rows (a no-op when they are). */
int rl_agent_rows(eta_rl_agent *a, int64_t n, eta_err *err);
/* Acts on act_batch observations: samples actions from Categorical(logits)
 * (inverse CDF on one uniform draw each), their log-probabilities and the
 * critic's values (either may be NULL). */
int rl_agent_act(eta_rl_agent *a, const float *obs, int32_t *actions, float *logprobs, float *values,
                 eta_err *err);
/* Log-softmax of one row of k logits, as torch's Categorical normalises
 * them (logits - logsumexp), in float32; probs gets exp of it. */
void rl_log_softmax(float *logp, float *probs, const float *logits, int k);

#endif
