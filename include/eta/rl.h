/* eta/rl.h - reinforcement learning: the CartPole-v1 environment, PPO (as
 * CleanRL's ppo.py runs it) and REINFORCE with a learned baseline, built on
 * eta's networks (nn.h) and optimizers (optim.h).
 *
 *     eta_cartpole env;
 *     float obs[4];
 *     eta_cartpole_seed(&env, 1);
 *     eta_cartpole_reset(&env, obs);
 *     for (;;) { int a = ...; eta_cartpole_step(&env, a, obs, &r, &term, &trunc); ... }
 *
 *     eta_ppo_config cfg = eta_ppo_defaults();
 *     eta_rl_train_ppo(&cfg, on_episode, user_data, &err);
 *
 * The learning rate is the point of the example: CleanRL anneals Adam's
 * rate linearly to zero over the run (anneal_lr); cfg.anneal_lr = false
 * keeps it constant.
 */
#ifndef ETA_RL_H
#define ETA_RL_H

#include "core.h"
#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- CartPole-v1 ---------------------------------------------------------
 * Gymnasium's classic_control/cartpole.py with the TimeLimit of its v1
 * registration: gravity 9.8, cart mass 1.0, pole mass 0.1, half-length 0.5,
 * force 10.0, tau 0.02 s, explicit Euler (the "euler" kinematics_integrator:
 * positions move by the old velocities); the episode
 * terminates when |x| > 2.4 or |theta| > 12 degrees (12*2*pi/360 rad), is
 * truncated after 500 steps; reward 1 for every step including the
 * terminating one. The state is float64 as Gymnasium's (Python floats and a
 * float64 array); observations are float32, as Gymnasium returns them.
 * Start states are uniform in [-0.05, 0.05) in all four coordinates, drawn
 * from eta's own SplitMix64 stream (seeded by eta_cartpole_seed), not numpy's
 * PCG64: the same distribution, other values than env.reset(seed=s). */
#define ETA_CARTPOLE_MAX_STEPS 500

typedef struct eta_cartpole {
    double x, x_dot, theta, theta_dot; /* metres, m/s, radians, rad/s */
    int64_t steps;                     /* steps since the last reset */
    bool terminated, truncated;        /* the last step's flags */
    uint64_t rng;                      /* the start-state stream */
} eta_cartpole;

/* Seeds the start-state stream (any value is valid). */
void eta_cartpole_seed(eta_cartpole *env, uint64_t seed);
/* A new episode: a random start state; obs (may be NULL) gets it. */
void eta_cartpole_reset(eta_cartpole *env, float obs[4]);
/* Sets the state exactly (tests, hand-made starts) and starts an episode. */
void eta_cartpole_set_state(eta_cartpole *env, const double state[4]);
/* The observation of the current state, float32. */
void eta_cartpole_obs(const eta_cartpole *env, float obs[4]);
/* One step: action 1 pushes right (+10 N), 0 pushes left. obs, reward,
 * terminated, truncated may be NULL. ETA_EINVAL for another action;
 * ETA_ESTATE after the episode ended, until a reset (Gymnasium warns and
 * returns reward 0 there; eta refuses). */
int eta_cartpole_step(eta_cartpole *env, int action, float obs[4], double *reward, bool *terminated,
                      bool *truncated);

/* ---- the agent: an actor and a critic -------------------------------------
 * CleanRL's Agent for a discrete action space: actor
 * Linear(obs, h), Tanh, Linear(h, h), Tanh, Linear(h, actions) and critic
 * Linear(obs, h), Tanh, Linear(h, h), Tanh, Linear(h, 1); weights
 * orthogonal with gain sqrt(2) (the heads: 0.01 for the actor, 1 for the
 * critic), biases 0; one Adam (eps 1e-5) over both; the policy is
 * Categorical(logits = actor(obs)). */
typedef struct eta_rl_agent eta_rl_agent;

/* batch: the number of observations one update's forward pass takes (PPO:
 * the minibatch; other sizes re-prepare the networks); act_batch: the
 * number acting at once (the environments). ETA_EINVAL for obs_dim < 1,
 * n_actions outside [2, 16], hidden, batch or act_batch < 1, a negative or
 * non-finite lr; ETA_ENOMEM. */
int eta_rl_agent_new(eta_rl_agent **out, int obs_dim, int n_actions, int hidden, int64_t batch, int64_t act_batch,
                     double lr, uint64_t seed, eta_err *err);
void eta_rl_agent_free(eta_rl_agent *agent);
/* The networks that learn (state_dict names "0.weight" ...: actor.* and
 * critic.* in CleanRL's Agent) and their optimizer. */
eta_net *eta_rl_agent_actor(eta_rl_agent *agent);
eta_net *eta_rl_agent_critic(eta_rl_agent *agent);
eta_optim *eta_rl_agent_optim(eta_rl_agent *agent);

/* ---- PPO --------------------------------------------------------------- */

/* CleanRL ppo.py's arguments, under its names. */
typedef struct eta_ppo_config {
    int64_t total_timesteps;  /* 500000 */
    double learning_rate;     /* 2.5e-4 */
    int num_envs;             /* 4 */
    int num_steps;            /* 128 per environment per rollout */
    bool anneal_lr;           /* true: lr = (1 - (iteration-1)/num_iterations) * learning_rate */
    double gamma;             /* 0.99 */
    double gae_lambda;        /* 0.95 */
    int num_minibatches;      /* 4 */
    int update_epochs;        /* 4 */
    bool norm_adv;            /* true: advantages normalised per minibatch */
    double clip_coef;         /* 0.2 */
    bool clip_vloss;          /* true */
    double ent_coef;          /* 0.01 */
    double vf_coef;           /* 0.5 */
    double max_grad_norm;     /* 0.5; 0: no clipping */
    double target_kl;         /* NaN: None (no early stop) */
    int hidden;               /* 64 */
    uint64_t seed;            /* 1 */
} eta_ppo_config;

eta_ppo_config eta_ppo_defaults(void);
/* ETA_EINVAL naming the field for a value out of range. */
int eta_ppo_check(const eta_ppo_config *cfg, eta_err *err);

/* One minibatch of a PPO update (b_obs[mb_inds], ... in ppo.py). */
typedef struct eta_ppo_minibatch {
    int64_t n;
    const float *obs;         /* n x obs_dim */
    const int32_t *actions;   /* n */
    const float *logprobs;    /* n: log-probabilities when acting */
    const float *advantages;  /* n: GAE advantages (normalised here when cfg->norm_adv) */
    const float *returns;     /* n: advantages + values */
    const float *values;      /* n: the critic's values when acting */
} eta_ppo_minibatch;

/* What one minibatch's loss was (ppo.py's logged scalars). */
typedef struct eta_ppo_losses {
    double loss, pg_loss, v_loss, entropy, approx_kl, clipfrac;
    double grad_norm; /* eta_ppo_update: the gradient's global norm before clipping */
} eta_ppo_losses;

/* The gradient of ppo.py's loss (pg_loss - ent_coef * entropy + vf_coef *
 * v_loss) on one minibatch, into the actor's and critic's gradient
 * buffers (before clipping); losses may be NULL. mb->n at most the agent's
 * batch. */
int eta_ppo_loss_grad(eta_rl_agent *agent, const eta_ppo_config *cfg, const eta_ppo_minibatch *mb,
                      eta_ppo_losses *losses, eta_err *err);

/* One minibatch step of ppo.py's update: eta_ppo_loss_grad, then
 * clip_grad_norm_(max_grad_norm) over both networks (none when 0, and
 * losses->grad_norm is then NaN), then the Adam step.
 * The training loop's step, exactly. */
int eta_ppo_update(eta_rl_agent *agent, const eta_ppo_config *cfg, const eta_ppo_minibatch *mb,
                   eta_ppo_losses *losses, eta_err *err);

/* GAE as ppo.py computes it, over T steps of E environments (row t holds
 * the E environments of step t): rewards, values, dones (the done flag of
 * the observation at step t: 1 when it starts a new episode) T x E;
 * next_value and next_done the bootstrap after the last step. Writes
 * advantages and returns (T x E). float32 throughout, as torch. */
void eta_ppo_gae(float *advantages, float *returns, const float *rewards, const float *values, const float *dones,
                 const float *next_value, const float *next_done, int64_t T, int64_t E, double gamma, double lambda);

/* Called at the end of every episode: the global step (environment steps
 * taken by all environments so far, as ppo.py's global_step), the
 * episode's return and length. */
typedef void (*eta_rl_episode_fn)(void *ud, int64_t global_step, double episode_return, int64_t length);
/* Called after every update: the iteration, the learning rate it used and
 * the losses of its last minibatch. May be NULL. */
typedef void (*eta_rl_update_fn)(void *ud, int64_t iteration, double lr, const eta_ppo_losses *losses);

/* Trains PPO on CartPole-v1 for cfg->total_timesteps environment steps. */
int eta_rl_train_ppo(const eta_ppo_config *cfg, eta_rl_episode_fn on_episode, eta_rl_update_fn on_update, void *ud,
                     eta_err *err);

/* ---- REINFORCE with a baseline -------------------------------------------
 * Williams (1992) with a learned state-value baseline (Sutton and Barto,
 * section 13.4): after each batch of whole episodes, the policy follows
 * the gradient of sum_t log pi(a_t|s_t) (G_t - V(s_t)) and the critic fits
 * G_t (mean squared error), G_t the discounted return from step t; one
 * Adam over both, with the same networks as PPO's agent and the same
 * linear annealing to 0 as an option. No gradient clipping by default:
 * clipping the norm of both networks' gradients together at 0.5 (PPO's
 * setting) lets the critic's large early gradient (returns reach 100)
 * shrink the policy's step, and REINFORCE then never solved CartPole in
 * 500,000 steps (5 seeds, docs/applications.md). */
typedef struct eta_reinforce_config {
    int64_t total_timesteps;  /* 500000 */
    double learning_rate;     /* 1e-3 */
    bool anneal_lr;           /* true: lr = (1 - steps_done / total_timesteps) * learning_rate */
    double gamma;             /* 0.99 */
    int episodes_per_update;  /* 4 */
    double vf_coef;           /* 0.5 */
    double max_grad_norm;     /* 0: no clipping */
    int hidden;               /* 64 */
    uint64_t seed;            /* 1 */
} eta_reinforce_config;

eta_reinforce_config eta_reinforce_defaults(void);
int eta_reinforce_check(const eta_reinforce_config *cfg, eta_err *err);
int eta_rl_train_reinforce(const eta_reinforce_config *cfg, eta_rl_episode_fn on_episode, void *ud, eta_err *err);

#ifdef __cplusplus
}
#endif
#endif
