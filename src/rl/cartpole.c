/* rl/cartpole.c - CartPole-v1: Gymnasium's classic_control/cartpole.py
 * (Barto, Sutton and Anderson 1983, the equations of Florian 2007) with the
 * 500-step TimeLimit of its v1 registration. Every constant and the order
 * of operations follow cartpole.py's step() with kinematics_integrator
 * "euler", in float64 as Python computes it; observations are rounded to
 * float32 as Gymnasium returns them. Start states come from eta's own
 * SplitMix64 stream, not numpy's (include/eta/rl.h says so).
 */
#include <math.h>

#include "rl/rl_impl.h"

static const double GRAVITY = 9.8, MASSCART = 1.0, MASSPOLE = 0.1, LENGTH = 0.5; /* half the pole */
static const double FORCE_MAG = 10.0, TAU = 0.02, X_THRESHOLD = 2.4;
#define PI 3.14159265358979323846

/* Uniform in [lo, hi), as numpy's uniform: lo + (hi - lo) * u, u in [0, 1). */
static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * rl_rng_uniform(s);
}

void eta_cartpole_seed(eta_cartpole *env, uint64_t seed)
{
    env->rng = seed;
    env->steps = 0;
    env->terminated = env->truncated = false;
}

void eta_cartpole_obs(const eta_cartpole *env, float obs[4])
{
    obs[0] = (float)env->x;
    obs[1] = (float)env->x_dot;
    obs[2] = (float)env->theta;
    obs[3] = (float)env->theta_dot;
}

void eta_cartpole_set_state(eta_cartpole *env, const double state[4])
{
    env->x = state[0];
    env->x_dot = state[1];
    env->theta = state[2];
    env->theta_dot = state[3];
    env->steps = 0;
    env->terminated = env->truncated = false;
}

void eta_cartpole_reset(eta_cartpole *env, float obs[4])
{
    double s[4]; /* numpy's uniform(low=-0.05, high=0.05, size=(4,)), in order */
    for (int i = 0; i < 4; i++)
        s[i] = uniform(&env->rng, -0.05, 0.05);
    eta_cartpole_set_state(env, s);
    if (obs)
        eta_cartpole_obs(env, obs);
}

int eta_cartpole_step(eta_cartpole *env, int action, float obs[4], double *reward, bool *terminated,
                      bool *truncated)
{
    if (action != 0 && action != 1)
        return ETA_EINVAL;
    if (env->terminated || env->truncated)
        return ETA_ESTATE;
    const double total_mass = MASSPOLE + MASSCART, polemass_length = MASSPOLE * LENGTH;
    const double theta_threshold = 12 * 2 * PI / 360;
    double x = env->x, x_dot = env->x_dot, theta = env->theta, theta_dot = env->theta_dot;
    double force = action == 1 ? FORCE_MAG : -FORCE_MAG;
    double costheta = cos(theta), sintheta = sin(theta);
    double temp = (force + polemass_length * (theta_dot * theta_dot) * sintheta) / total_mass;
    double thetaacc = (GRAVITY * sintheta - costheta * temp) /
                      (LENGTH * (4.0 / 3.0 - MASSPOLE * (costheta * costheta) / total_mass));
    double xacc = temp - polemass_length * thetaacc * costheta / total_mass;
    x = x + TAU * x_dot;
    x_dot = x_dot + TAU * xacc;
    theta = theta + TAU * theta_dot;
    theta_dot = theta_dot + TAU * thetaacc;
    env->x = x;
    env->x_dot = x_dot;
    env->theta = theta;
    env->theta_dot = theta_dot;
    env->steps++;
    env->terminated = x < -X_THRESHOLD || x > X_THRESHOLD || theta < -theta_threshold || theta > theta_threshold;
    env->truncated = env->steps >= ETA_CARTPOLE_MAX_STEPS; /* TimeLimit: elapsed >= max_episode_steps */
    if (obs)
        eta_cartpole_obs(env, obs);
    if (reward)
        *reward = 1.0;
    if (terminated)
        *terminated = env->terminated;
    if (truncated)
        *truncated = env->truncated;
    return ETA_OK;
}
