#!/usr/bin/python3
"""Write tests/ref/rl_ppo.txt: one PPO update of CleanRL's ppo.py, by torch.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_ppo.py [--out tests/ref/rl_ppo.txt]

The agent is CleanRL's Agent for CartPole (critic and actor MLPs
4-64-64-1 and 4-64-64-2 with Tanh, layer_init: orthogonal weights with
gain sqrt(2), 0.01 for the actor's head and 1 for the critic's, zero
biases); the loss is ppo.py's, line for line (clipped surrogate, clipped
value loss, entropy bonus, advantages normalised per minibatch); then
clip_grad_norm_(0.5) and one Adam(lr=2.5e-4, eps=1e-5) step. The minibatch
(128 rows) is made so that every branch is taken: old log-probabilities and
values are the current ones plus noise, so ratios fall below, inside and
above [0.8, 1.2] and the value clip binds both ways. A second case is GAE
as ppo.py computes it (float32), over 8 steps of 3 environments with
episode ends, including one on the last step.

File format (numbers as %.9g, exact for float32):

    # eta rl fixture, written by tools/gen_ref_ppo.py (torch X); do not edit
    case ppo_update
    <hyperparameter> <value>       clip_coef ent_coef vf_coef max_grad_norm lr eps
                                   norm_adv clip_vloss (0/1)
    n <rows>
    obs <n*4> / actions <n> / logprobs / advantages / returns / values <n each>
    param <name> <count> <values>  the initial weights, critic then actor
                                   (Agent.parameters() order), names as torch's
    loss|pg_loss|v_loss|entropy|approx_kl|clipfrac <value>
    grad <name> <count> <values>   after loss.backward(), before clipping
    grad_norm <value>              clip_grad_norm_'s total norm
    param_after <name> <count> <values>   after clipping and the Adam step
    end
    case gae
    T <steps> / E <envs> / gamma / gae_lambda
    rewards|values|dones <T*E> (row t: the E environments of step t)
    next_value|next_done <E>
    advantages|returns <T*E>
    end
"""
import argparse
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.distributions.categorical import Categorical


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    """CleanRL ppo.py's Agent (tools/ppo_twin.py imports it from here)."""

    def __init__(self, obs_dim=4, n_actions=2):
        super().__init__()
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, 64)), nn.Tanh(),
            layer_init(nn.Linear(64, n_actions), std=0.01),
        )

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        logits = self.actor(x)
        probs = Categorical(logits=logits)
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


def fmt(t):
    return " ".join("%.9g" % v for v in np.asarray(t, dtype=np.float64).ravel())


def ppo_case(out):
    torch.manual_seed(0)
    agent = Agent()
    # The actor's head (gain 0.01) starts nearly uniform; a trained-looking
    # head makes the log-probabilities and the entropy's gradient less trivial.
    with torch.no_grad():
        agent.actor[4].weight.mul_(30.0)
    clip_coef, ent_coef, vf_coef, max_grad_norm, lr, eps = 0.2, 0.01, 0.5, 0.5, 2.5e-4, 1e-5
    n = 128
    g = torch.Generator().manual_seed(1)
    obs = (torch.randn(n, 4, generator=g) * torch.tensor([0.5, 0.8, 0.08, 0.6])).float()
    actions = torch.randint(0, 2, (n,), generator=g)
    with torch.no_grad():
        _, lp, _, v = agent.get_action_and_value(obs, actions)
    logprobs = (lp + 0.25 * torch.randn(n, generator=g)).float()
    values = (v.view(-1) + 0.3 * torch.randn(n, generator=g)).float()
    advantages = (8.0 * torch.randn(n, generator=g) + 2.0).float()
    returns = advantages + values

    out.write("case ppo_update\n")
    for k, val in [("clip_coef", clip_coef), ("ent_coef", ent_coef), ("vf_coef", vf_coef),
                   ("max_grad_norm", max_grad_norm), ("lr", lr), ("eps", eps), ("norm_adv", 1),
                   ("clip_vloss", 1)]:
        out.write("%s %.9g\n" % (k, val))
    out.write("n %d\n" % n)
    out.write("obs %s\n" % fmt(obs))
    out.write("actions %s\n" % " ".join(str(int(a)) for a in actions))
    for k, t in [("logprobs", logprobs), ("advantages", advantages), ("returns", returns), ("values", values)]:
        out.write("%s %s\n" % (k, fmt(t)))
    for name, p in agent.named_parameters():
        out.write("param %s %d %s\n" % (name, p.numel(), fmt(p.detach())))

    optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=eps)
    # ppo.py's update, one minibatch (mb_inds = all rows, in order)
    b_obs, b_actions, b_logprobs = obs, actions, logprobs
    b_advantages, b_returns, b_values = advantages, returns, values
    _, newlogprob, entropy, newvalue = agent.get_action_and_value(b_obs, b_actions.long())
    logratio = newlogprob - b_logprobs
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean().item()
    mb_advantages = b_advantages
    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std() + 1e-8)
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    newvalue = newvalue.view(-1)
    v_loss_unclipped = (newvalue - b_returns) ** 2
    v_clipped = b_values + torch.clamp(newvalue - b_values, -clip_coef, clip_coef)
    v_loss_clipped = (v_clipped - b_returns) ** 2
    v_loss_max = torch.max(v_loss_unclipped, v_loss_clipped)
    v_loss = 0.5 * v_loss_max.mean()
    entropy_loss = entropy.mean()
    loss = pg_loss - ent_coef * entropy_loss + v_loss * vf_coef
    optimizer.zero_grad()
    loss.backward()
    # every branch must be taken, or the fixture proves less than it says
    r = ratio.detach()
    assert (r < 1 - clip_coef).any() and (r > 1 + clip_coef).any(), "ratios do not leave the clip range"
    d = (newvalue - b_values).detach()
    assert (d < -clip_coef).any() and (d > clip_coef).any(), "the value clip does not bind both ways"
    assert (v_loss_clipped > v_loss_unclipped).any() and (v_loss_clipped < v_loss_unclipped).any()
    for k, val in [("loss", loss), ("pg_loss", pg_loss), ("v_loss", v_loss), ("entropy", entropy_loss),
                   ("approx_kl", approx_kl), ("clipfrac", clipfrac)]:
        out.write("%s %.9g\n" % (k, float(val)))
    for name, p in agent.named_parameters():
        out.write("grad %s %d %s\n" % (name, p.numel(), fmt(p.grad)))
    total = nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
    assert float(total) > max_grad_norm, "the clip must bind"
    out.write("grad_norm %.9g\n" % float(total))
    optimizer.step()
    for name, p in agent.named_parameters():
        out.write("param_after %s %d %s\n" % (name, p.numel(), fmt(p.detach())))
    out.write("end\n")


def gae(rewards, values, dones, next_value, next_done, gamma, gae_lambda):
    """ppo.py's GAE loop over [num_steps, num_envs] tensors; (advantages, returns)."""
    num_steps = rewards.shape[0]
    with torch.no_grad():
        advantages = torch.zeros_like(rewards)
        lastgaelam = 0
        for t in reversed(range(num_steps)):
            if t == num_steps - 1:
                nextnonterminal = 1.0 - next_done
                nextvalues = next_value
            else:
                nextnonterminal = 1.0 - dones[t + 1]
                nextvalues = values[t + 1]
            delta = rewards[t] + gamma * nextvalues * nextnonterminal - values[t]
            advantages[t] = lastgaelam = delta + gamma * gae_lambda * nextnonterminal * lastgaelam
        returns = advantages + values
    return advantages, returns


def gae_case(out):
    T, E, gamma, gae_lambda = 8, 3, 0.99, 0.95
    g = torch.Generator().manual_seed(2)
    rewards = torch.ones(T, E)
    values = (torch.randn(T, E, generator=g) * 5 + 20).float()
    dones = torch.zeros(T, E)
    dones[3, 0] = 1  # an episode of env 0 starts at step 3
    dones[6, 1] = 1
    dones[1, 2] = 1
    next_value = (torch.randn(1, E, generator=g) * 5 + 20).float()
    next_done = torch.tensor([0.0, 0.0, 1.0])
    advantages, returns = gae(rewards, values, dones, next_value, next_done, gamma, gae_lambda)
    out.write("case gae\nT %d\nE %d\ngamma %.9g\ngae_lambda %.9g\n" % (T, E, gamma, gae_lambda))
    for k, t in [("rewards", rewards), ("values", values), ("dones", dones), ("next_value", next_value),
                 ("next_done", next_done), ("advantages", advantages), ("returns", returns)]:
        out.write("%s %s\n" % (k, fmt(t)))
    out.write("end\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/ref/rl_ppo.txt")
    args = ap.parse_args()
    torch.set_num_threads(1)
    with open(args.out, "w") as out:
        out.write("# eta rl fixture, written by tools/gen_ref_ppo.py (torch %s); do not edit\n" % torch.__version__)
        ppo_case(out)
        gae_case(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
