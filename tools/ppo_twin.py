#!/usr/bin/python3
"""The PyTorch twin of `eta rl ppo`: CleanRL's ppo.py on CartPole-v1.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/ppo_twin.py --seeds 0,1,2,3,4 [--both] [--steps 500000]

Gymnasium is not packaged by Debian, so CartPole-v1 is written out here in
numpy from Gymnasium's classic_control/cartpole.py (the same float64
arithmetic, Euler integration, limits, reward and 500-step TimeLimit), with
its seeding: environment i draws its start states from
np.random.default_rng(seed + i) (Gymnasium's seeding.np_random), and
SyncVectorEnv's same-step autoreset (Gymnasium 0.29, CleanRL's pin).
The agent, the rollout, GAE, the loss and the update are ppo.py's, line for
line, with its defaults (4 environments x 128 steps, Adam 2.5e-4 eps 1e-5,
anneal_lr, gamma 0.99, lambda 0.95, 4 minibatches, 4 epochs, clip 0.2,
clipped value loss, entropy 0.01, value 0.5, max_grad_norm 0.5), torch's
random numbers (torch.manual_seed(seed), np.random.seed(seed) for the
minibatch shuffles), one thread.

stdout: one CSV row per run, as eta rl prints:
    algo,seed,lr,steps_to_solve,low_mean100_after,final_mean100,episodes,seconds,cpu_seconds
(seconds: wall time; cpu_seconds: this process's CPU time, the fairer figure
on a shared machine.)
"""
import argparse
import math
import random
import sys
import time

import os

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_ppo import Agent, gae  # noqa: E402  (CleanRL's Agent and GAE loop, written once)


class CartPole:
    """Gymnasium's CartPoleEnv with TimeLimit(500)."""

    def __init__(self, seed):
        self.gravity, self.masscart, self.masspole = 9.8, 1.0, 0.1
        self.total_mass = self.masspole + self.masscart
        self.length = 0.5
        self.polemass_length = self.masspole * self.length
        self.force_mag, self.tau = 10.0, 0.02
        self.theta_threshold_radians = 12 * 2 * math.pi / 360
        self.x_threshold = 2.4
        self.np_random = np.random.default_rng(seed)
        self.state = None
        self.elapsed = 0

    def reset(self):
        self.state = self.np_random.uniform(low=-0.05, high=0.05, size=(4,))
        self.elapsed = 0
        return np.array(self.state, dtype=np.float32)

    def step(self, action):
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if action == 1 else -self.force_mag
        costheta = math.cos(theta)
        sintheta = math.sin(theta)
        temp = (force + self.polemass_length * theta_dot**2 * sintheta) / self.total_mass
        thetaacc = (self.gravity * sintheta - costheta * temp) / (
            self.length * (4.0 / 3.0 - self.masspole * costheta**2 / self.total_mass))
        xacc = temp - self.polemass_length * thetaacc * costheta / self.total_mass
        x = x + self.tau * x_dot
        x_dot = x_dot + self.tau * xacc
        theta = theta + self.tau * theta_dot
        theta_dot = theta_dot + self.tau * thetaacc
        self.state = (x, x_dot, theta, theta_dot)
        terminated = bool(x < -self.x_threshold or x > self.x_threshold
                          or theta < -self.theta_threshold_radians or theta > self.theta_threshold_radians)
        self.elapsed += 1
        truncated = self.elapsed >= 500
        return np.array(self.state, dtype=np.float32), 1.0, terminated, truncated


def run(seed, anneal_lr, total_timesteps):
    num_envs, num_steps, lr = 4, 128, 2.5e-4
    gamma, gae_lambda, num_minibatches, update_epochs = 0.99, 0.95, 4, 4
    clip_coef, ent_coef, vf_coef, max_grad_norm = 0.2, 0.01, 0.5, 0.5
    batch_size = num_envs * num_steps
    minibatch_size = batch_size // num_minibatches
    num_iterations = total_timesteps // batch_size
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    envs = [CartPole(seed + i) for i in range(num_envs)]
    agent = Agent()
    optimizer = optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    obs = torch.zeros((num_steps, num_envs, 4))
    actions = torch.zeros((num_steps, num_envs))
    logprobs = torch.zeros((num_steps, num_envs))
    rewards = torch.zeros((num_steps, num_envs))
    dones = torch.zeros((num_steps, num_envs))
    values = torch.zeros((num_steps, num_envs))
    global_step = 0
    next_obs = torch.tensor(np.stack([e.reset() for e in envs]))
    next_done = torch.zeros(num_envs)
    ep_ret = [0.0] * num_envs
    returns_log, solved, low, window = [], None, None, []
    for iteration in range(1, num_iterations + 1):
        if anneal_lr:
            frac = 1.0 - (iteration - 1.0) / num_iterations
            optimizer.param_groups[0]["lr"] = frac * lr
        for step in range(0, num_steps):
            global_step += num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            o, d = [], []
            for i, e in enumerate(envs):
                ob, r, term, trunc = e.step(int(action[i]))
                rewards[step, i] = r
                ep_ret[i] += r
                if term or trunc:
                    returns_log.append(ep_ret[i])
                    window.append(ep_ret[i])
                    if len(window) > 100:
                        window.pop(0)
                    if len(window) == 100:
                        m = sum(window) / 100
                        if solved is None and m >= 475:
                            solved, low = global_step, m
                        if solved is not None:
                            low = min(low, m)
                    ep_ret[i] = 0.0
                    ob = e.reset()
                o.append(ob)
                d.append(float(term or trunc))
            next_obs = torch.tensor(np.stack(o))
            next_done = torch.tensor(d)
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
        advantages, returns = gae(rewards, values, dones, next_value, next_done, gamma, gae_lambda)
        b_obs = obs.reshape((-1, 4))
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)
        b_inds = np.arange(batch_size)
        for epoch in range(update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, batch_size, minibatch_size):
                mb_inds = b_inds[start:start + minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs[mb_inds], b_actions.long()[mb_inds])
                logratio = newlogprob - b_logprobs[mb_inds]
                ratio = logratio.exp()
                mb_advantages = b_advantages[mb_inds]
                mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
                pg_loss1 = -mb_advantages * ratio
                pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
                pg_loss = torch.max(pg_loss1, pg_loss2).mean()
                newvalue = newvalue.view(-1)
                v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                v_clipped = b_values[mb_inds] + torch.clamp(newvalue - b_values[mb_inds], -clip_coef, clip_coef)
                v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - ent_coef * entropy_loss + v_loss * vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                optimizer.step()
    final = sum(window) / len(window) if window else float("nan")
    return solved, low, final, len(returns_log)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--steps", type=int, default=500000)
    ap.add_argument("--both", action="store_true", help="annealed and constant rate for every seed")
    ap.add_argument("--constant-lr", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print("algo,seed,lr,steps_to_solve,low_mean100_after,final_mean100,episodes,seconds,cpu_seconds", flush=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        for anneal in ([True, False] if args.both else [not args.constant_lr]):
            t0, c0 = time.time(), time.process_time()
            solved, low, final, episodes = run(seed, anneal, args.steps)
            print("torch-ppo,%d,%s,%s,%s,%.2f,%d,%.0f,%.0f" % (
                seed, "annealed" if anneal else "constant", "" if solved is None else solved,
                "" if low is None else "%.2f" % low, final, episodes, time.time() - t0, time.process_time() - c0),
                flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
