#!/usr/bin/python3
"""Write the fixtures of the optimizers that set their own step size: COCOB,
DoG, LDoG, SGDHD, AdamHD and Mechanic.

    /usr/bin/python3 tools/gen_ref_optim_adapt.py [--out tests/ref]

Each method is ported to PyTorch tensor operations in the case's dtype,
operation by operation, from its authors' code:

  COCOB     Optax optax/contrib/_cocob.py (cocob = add_decayed_weights,
            scale_by_learning_rate(flip_sign=False), scale_by_cocob)
  DoG/LDoG  formll/dog src/dog/torch/dog.py (DoG, LDoG; v1.1.0)
  SGDHD     gbaydin/hypergradient-descent hypergrad/sgd_hd.py
  AdamHD    gbaydin/hypergradient-descent hypergrad/adam_hd.py
  Mechanic  Optax optax/contrib/_mechanic.py (mechanize), around a real
            torch.optim base (AdamW or SGD) whose update is the change its
            step makes, as optimizedlearning/mechanic's PyTorch wrapper takes it

The file format is tools/gen_ref_optim.py's (same data: three parameters in
two groups, 50 steps of the same gradients), with two more line kinds after a
step's state lines:

    scalar <g> <name> <value>        a scalar the rule keeps per group
    wide <name> <values...>          a scalar or array the optimizer keeps once

Where eta and a reference differ on purpose, the case note says so:
  - SGDHD's reference refuses parameter groups; here (and in eta) each group
    is its own flat vector with its own hypergradient and learning rate,
    which is the reference for one group.
  - The hypergradient references turn group['lr'] into a tensor of the
    parameters' dtype; eta keeps the adapted rate in double, and so does
    this port (float(h)).
  - lr lines hold the rate the schedule sets.  For SGDHD and AdamHD the rate
    a step uses is the adapted one times (scheduled lr / initial lr): the
    schedule multiplies (docs/optim.md); its value after the step is the
    group scalar "lr".
"""

import argparse
import math
import os
import sys

try:
    import numpy as np  # noqa: F401  (gen_ref_optim needs it)
    import torch
except ImportError as e:
    print("gen_ref_optim_adapt.py: %s (needs /usr/bin/python3 with python3-torch and python3-numpy)" % e,
          file=sys.stderr)
    sys.exit(77)

import gen_ref_optim as ref

HEADER = ("# eta optimizer fixture, written by tools/gen_ref_optim_adapt.py "
          "(torch %s); do not edit" % torch.__version__)


class Case:
    """A fixture case: per-group keyword arguments of `cls` (for Mechanic the
    base's, with the Mechanic arguments in `outer`)."""

    def __init__(self, name, cls, g0, g1, schedule=False, note="", spec=None, base=None, outer=None):
        self.name, self.cls, self.groups = name, cls, [g0, g1]
        self.schedule, self.note = schedule, note
        self.spec = spec      # defaults cases: the only arguments written (both groups)
        self.base = base      # Mechanic: the base optimizer's class
        self.outer = outer or {}

    def spec_text(self, gi):
        kw = self.groups[gi] if self.spec is None else self.spec
        if self.cls != "Mechanic":
            return ref.spec_str(self.cls, kw)
        inner = ref.spec_str(self.base, kw)
        rest = ", ".join("%s=%s" % (k, str(v) if type(v) is int else ref.fmt_arg(v)) for k, v in self.outer.items())
        return "Mechanic(%s%s)" % (inner, ", " + rest if rest else "")

    def lr_key(self):
        return "learning_rate" if "learning_rate" in self.groups[0] else "lr"


def H(**kw):
    return dict(kw)


SCHED = ref.SCHED_NOTE


# --------------------------------------------------------------------------
# COCOB (Optax)
# --------------------------------------------------------------------------

COCOB_NOTE = ("formula: optax.contrib.cocob = chain(add_decayed_weights(wd), scale_by_learning_rate(lr, "
              "flip_sign=False), scale_by_cocob(alpha, eps)): c = lr*(g + wd*p); L = max(L, |c|); G += |c|; "
              "R = max(R - c*(p - p0), 0); C -= c; u = -p + (p0 + C/(L*max(G+L, alpha*L))*(L+R)); p += u; "
              "ops in the case dtype as JAX does")
COCOB_STATE = ["init_particles", "cumulative_gradients", "scale", "subgradients", "reward"]


def run_cocob(case, params, grads_t, st, lrs, t, shared):
    for i, p in enumerate(params):
        hp, s = case.groups[ref.PARAM_GROUP[i]], st[i]
        if not s:  # init_fn
            s["init_particles"] = p.clone()
            s["cumulative_gradients"] = torch.zeros_like(p)
            s["scale"] = torch.ones_like(p) * hp["eps"]
            s["subgradients"] = torch.zeros_like(p)
            s["reward"] = torch.zeros_like(p)
        c = grads_t[i] + hp["weight_decay"] * p           # add_decayed_weights
        c = lrs[ref.PARAM_GROUP[i]] * c                   # scale_by_learning_rate, flip_sign=False
        p0 = s["init_particles"]
        L = torch.maximum(s["scale"], torch.abs(c))
        G = s["subgradients"] + torch.abs(c)
        R = torch.maximum(s["reward"] - c * (p - p0), torch.zeros_like(p))
        C = s["cumulative_gradients"] - c
        u = -p + (p0 + C / (L * torch.maximum(G + L, hp["alpha"] * L)) * (L + R))
        s.update(cumulative_gradients=C, scale=L, subgradients=G, reward=R)
        p.copy_(p + u)                                    # apply_updates
    return []


def cases_cocob():
    return [
        Case("cocob_weight_decay", "COCOB",
             H(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.01),
             H(learning_rate=0.5, alpha=50.0, eps=1e-6, weight_decay=0.0), note=COCOB_NOTE),
        Case("cocob_alpha", "COCOB",
             H(learning_rate=2.0, alpha=1.5, eps=1e-8, weight_decay=0.0),
             H(learning_rate=1.0, alpha=1000.0, eps=1e-4, weight_decay=0.05),
             note=COCOB_NOTE + "; group 0's alpha=1.5 takes the G+L side of max(G+L, alpha*L), group 1's the "
                               "alpha*L side"),
        Case("cocob_lr_schedule", "COCOB",
             H(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.01),
             H(learning_rate=0.5, alpha=100.0, eps=1e-8, weight_decay=0.0),
             schedule=True, note=COCOB_NOTE + "; " + SCHED),
        Case("cocob_defaults", "COCOB", H(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0),
             H(learning_rate=1.0, alpha=100.0, eps=1e-8, weight_decay=0.0), spec={},
             note=COCOB_NOTE + "; built with no arguments: Optax's defaults learning_rate=1.0, alpha=100.0, "
                               "eps=1e-8, weight_decay=0.0; both groups take the defaults"),
    ]


# --------------------------------------------------------------------------
# DoG and LDoG (formll/dog)
# --------------------------------------------------------------------------

DOG_NOTE = ("formula: formll/dog src/dog/torch/dog.py %s v1.1.0: g += wd*p; first step rbar = reps_rel*(1 + "
            "|x0|), G = sum|g|^2 + eps; later rbar = max(rbar, |x - x0|), G += sum|g|^2; eta = lr*rbar/sqrt(G) "
            "(init_eta replaces the first eta, and reps_rel is 0 when init_eta is given, as the constructor "
            "does); p -= eta*g; norms over %s")


def run_dog(case, params, grads_t, st, lrs, t, shared, layer):
    out = []
    for gi in range(ref.NGROUPS):
        hp = dict(case.groups[gi], lr=lrs[gi])
        idx = [i for i in range(len(params)) if ref.PARAM_GROUP[i] == gi]
        ps = [params[i] for i in idx]
        gs = [grads_t[i].clone() for i in idx]
        reps_rel = 0.0 if hp["init_eta"] is not None else hp["reps_rel"]
        gstate = shared.setdefault(gi, {})
        if t == 1:
            for i, p in zip(idx, ps):
                st[i]["init_buffer"] = p.clone()
        init = [st[i]["init_buffer"] for i in idx]
        if hp["weight_decay"] > 0:
            for p, g in zip(ps, gs):
                g.add_(p, alpha=hp["weight_decay"])
        if not layer:  # DoG: the group as one vector
            if t == 1:
                gstate["rbar"] = reps_rel * (1 + torch.stack([p.norm() for p in ps]).norm())
                gstate["G"] = torch.stack([(g ** 2).sum() for g in gs]).sum() + hp["eps"]
            else:
                curr_d = torch.stack([torch.norm(p - pi) for p, pi in zip(ps, init)]).norm()
                gstate["rbar"] = torch.maximum(gstate["rbar"], curr_d)
                gstate["G"] = gstate["G"] + torch.stack([(g ** 2).sum() for g in gs]).sum()
            eta = [hp["lr"] * gstate["rbar"] / torch.sqrt(gstate["G"])] * len(ps)
        else:  # LDoG: each parameter on its own
            if t == 1:
                gstate["rbar"] = reps_rel * (1 + torch.stack([p.norm() for p in ps]))
                gstate["G"] = torch.stack([(g ** 2).sum() for g in gs]) + hp["eps"]
            else:
                curr_d = torch.stack([torch.norm(p - pi) for p, pi in zip(ps, init)])
                gstate["rbar"] = torch.maximum(gstate["rbar"], curr_d)
                gstate["G"] = gstate["G"] + torch.stack([(g ** 2).sum() for g in gs])
            eta = list(hp["lr"] * gstate["rbar"] / torch.sqrt(gstate["G"]))
        if t == 1 and hp["init_eta"] is not None:
            eta = [e * 0 + hp["init_eta"] for e in eta]
        for p, g, e in zip(ps, gs, eta):
            p.add_(g, alpha=-e.item())
        if layer:
            for k, i in enumerate(idx):
                st[i]["rbar"], st[i]["G"], st[i]["eta"] = gstate["rbar"][k], gstate["G"][k], eta[k]
        else:
            out += [("scalar", gi, "rbar", [gstate["rbar"].item()]), ("scalar", gi, "G", [gstate["G"].item()]),
                    ("scalar", gi, "eta", [eta[0].item()])]
    return out


def _dog_cases(cls, prefix, layer):
    n = DOG_NOTE % (cls, "each parameter" if layer else "the whole group")
    f = dict(reps_rel=1e-6, lr=1.0, weight_decay=0.0, eps=1e-8, init_eta=None)
    return [
        Case(prefix + "_weight_decay", cls,
             H(reps_rel=1e-6, lr=1.0, weight_decay=0.01, eps=1e-8, init_eta=None),
             H(reps_rel=1e-4, lr=0.8, weight_decay=0.0, eps=1e-6, init_eta=None), note=n),
        Case(prefix + "_init_eta", cls,
             H(reps_rel=1e-6, lr=1.0, weight_decay=0.0, eps=1e-8, init_eta=1e-3),
             H(reps_rel=1e-3, lr=1.2, weight_decay=0.05, eps=1e-8, init_eta=None), note=n),
        Case(prefix + "_lr_schedule", cls,
             H(reps_rel=1e-4, lr=1.0, weight_decay=0.01, eps=1e-8, init_eta=None),
             H(reps_rel=1e-4, lr=0.5, weight_decay=0.0, eps=1e-8, init_eta=None), schedule=True,
             note=n + "; " + SCHED),
        Case(prefix + "_defaults", cls, dict(f), dict(f), spec={},
             note=n + "; built with no arguments: the reference's defaults reps_rel=1e-6, lr=1.0, "
                      "weight_decay=0.0, eps=1e-8, init_eta=None; both groups take the defaults"),
    ]


# --------------------------------------------------------------------------
# SGDHD and AdamHD (gbaydin/hypergradient-descent)
# --------------------------------------------------------------------------

HD_LR = ("; the adapted rate a (group scalar lr) starts at the initial lr and the step uses "
         "a*(scheduled lr/initial lr); a += hypergrad_lr*h as the reference's group['lr'], kept in double")
SGDHD_NOTE = ("formula: hypergrad/sgd_hd.py SGDHD.step with each group its own flat vector (the reference "
              "allows one group): g = flat grad + wd*p; h = <g, grad_prev>; lr += hypergrad_lr*h; momentum "
              "buffer = g on its first step, else mu*b + (1-dampening)*g; nesterov d = g + mu*b, else d = b "
              "(no momentum: d = g); grad_prev = d; p -= lr*d" + HD_LR)
ADAMHD_NOTE = ("formula: hypergrad/adam_hd.py AdamHD.step, parameter by parameter in group order: g += wd*p; "
               "from step 2 h = <g, m/(sqrt(v)+eps)>*sqrt(1-b2^(t-1))/(1-b1^(t-1)) and lr += hypergrad_lr*h "
               "before this parameter's update; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; "
               "p -= lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps) (eps outside, epsilon-hat)" + HD_LR)


def _hd_rate(case, st, gi, lrs):
    """The adapted rate of group gi (created from the initial lr) and the schedule factor."""
    gs = st.setdefault("_hd", {})
    lr0 = case.groups[gi]["lr"]
    if gi not in gs:
        gs[gi] = float(lr0)
    return gs, (lrs[gi] / lr0 if lr0 > 0 else 1.0)


def run_sgdhd(case, params, grads_t, st, lrs, t, shared):
    out = []
    for gi in range(ref.NGROUPS):
        hp = case.groups[gi]
        idx = [i for i in range(len(params)) if ref.PARAM_GROUP[i] == gi]
        wd, mom, damp = hp["weight_decay"], hp["momentum"], hp["dampening"]
        views = []
        for i in idx:
            view = grads_t[i].reshape(-1).clone()
            if wd != 0:
                view.add_(params[i].reshape(-1), alpha=wd)
            views.append(view)
        grad = torch.cat(views, 0)
        gstate = shared.setdefault(gi, {})
        if "grad_prev" not in gstate:
            gstate["grad_prev"] = torch.zeros_like(grad)
        h = torch.dot(grad, gstate["grad_prev"])
        rates, factor = _hd_rate(case, gstate, gi, lrs)
        rates[gi] += hp["hypergrad_lr"] * float(h)
        if mom != 0:
            if "momentum_buffer" not in gstate:
                buf = gstate["momentum_buffer"] = torch.zeros_like(grad)
                buf.mul_(mom).add_(grad)
            else:
                buf = gstate["momentum_buffer"]
                buf.mul_(mom).add_(grad, alpha=1 - damp)
            if hp["nesterov"]:
                grad.add_(buf, alpha=mom)
            else:
                grad = buf
        gstate["grad_prev"] = grad
        off = 0
        for i in idx:
            n = params[i].numel()
            params[i].add_(grad[off:off + n].view_as(params[i]), alpha=-(rates[gi] * factor))
            if mom != 0:
                st[i]["momentum_buffer"] = gstate["momentum_buffer"][off:off + n].clone()
            st[i]["grad_prev"] = grad[off:off + n].clone()
            off += n
        out.append(("scalar", gi, "lr", [rates[gi]]))
    return out


def run_adamhd(case, params, grads_t, st, lrs, t, shared):
    out = []
    for gi in range(ref.NGROUPS):
        hp = case.groups[gi]
        b1, b2 = hp["betas"]
        gstate = shared.setdefault(gi, {})
        rates, factor = _hd_rate(case, gstate, gi, lrs)
        for i in [i for i in range(len(params)) if ref.PARAM_GROUP[i] == gi]:
            p, grad, s = params[i], grads_t[i], st[i]
            if not s:
                s["step"] = 0
                s["exp_avg"] = torch.zeros_like(p)
                s["exp_avg_sq"] = torch.zeros_like(p)
            exp_avg, exp_avg_sq = s["exp_avg"], s["exp_avg_sq"]
            s["step"] += 1
            if hp["weight_decay"] != 0:
                grad = grad.add(p, alpha=hp["weight_decay"])
            if s["step"] > 1:
                pbc1 = 1 - b1 ** (s["step"] - 1)
                pbc2 = 1 - b2 ** (s["step"] - 1)
                h = torch.dot(grad.view(-1), torch.div(exp_avg, exp_avg_sq.sqrt().add_(hp["eps"])).view(-1)) \
                    * math.sqrt(pbc2) / pbc1
                rates[gi] += hp["hypergrad_lr"] * float(h)
            exp_avg.mul_(b1).add_(grad, alpha=1 - b1)
            exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
            denom = exp_avg_sq.sqrt().add_(hp["eps"])
            bc1 = 1 - b1 ** s["step"]
            bc2 = 1 - b2 ** s["step"]
            step_size = rates[gi] * factor * math.sqrt(bc2) / bc1
            p.addcdiv_(exp_avg, denom, value=-step_size)
        out.append(("scalar", gi, "lr", [rates[gi]]))
    return out


def cases_sgdhd():
    f = dict(lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, hypergrad_lr=1e-6)
    return [
        Case("sgdhd_momentum", "SGDHD",
             H(lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=False, hypergrad_lr=1e-5),
             H(lr=0.01, momentum=0.5, dampening=0.3, weight_decay=0.0, nesterov=False, hypergrad_lr=2e-5),
             note=SGDHD_NOTE),
        Case("sgdhd_nesterov", "SGDHD",
             H(lr=0.02, momentum=0.8, dampening=0.0, weight_decay=0.0, nesterov=True, hypergrad_lr=1e-5),
             H(lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.02, nesterov=False, hypergrad_lr=2e-5),
             note=SGDHD_NOTE + "; group 1 has no momentum (no momentum_buffer)"),
        Case("sgdhd_lr_schedule", "SGDHD",
             H(lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, hypergrad_lr=1e-5),
             H(lr=0.01, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, hypergrad_lr=2e-5),
             schedule=True, note=SGDHD_NOTE + "; " + SCHED),
        Case("sgdhd_defaults", "SGDHD", dict(f), dict(f), spec={"lr": 0.01},
             note=SGDHD_NOTE + "; built with only lr=0.01 (required): the reference's defaults momentum=0, "
                               "dampening=0, weight_decay=0, nesterov=False, hypergrad_lr=1e-6; both groups "
                               "take the defaults"),
    ]


def cases_adamhd():
    f = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, hypergrad_lr=1e-8)
    return [
        Case("adamhd_weight_decay", "AdamHD",
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, hypergrad_lr=1e-5),
             H(lr=0.005, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, hypergrad_lr=1e-6), note=ADAMHD_NOTE),
        Case("adamhd_eps", "AdamHD",
             H(lr=0.02, betas=(0.9, 0.999), eps=1e-3, weight_decay=0.0, hypergrad_lr=1e-5),
             H(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.01, hypergrad_lr=1e-4), note=ADAMHD_NOTE),
        Case("adamhd_lr_schedule", "AdamHD",
             H(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, hypergrad_lr=1e-5),
             H(lr=0.005, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, hypergrad_lr=1e-6),
             schedule=True, note=ADAMHD_NOTE + "; " + SCHED),
        Case("adamhd_defaults", "AdamHD", dict(f), dict(f), spec={},
             note=ADAMHD_NOTE + "; built with no arguments: the reference's defaults lr=0.001, "
                                "betas=(0.9, 0.999), eps=1e-8, weight_decay=0, hypergrad_lr=1e-8; both groups "
                                "take the defaults"),
    ]


# --------------------------------------------------------------------------
# Mechanic (Optax's mechanize around a torch.optim base)
# --------------------------------------------------------------------------

MECH_NOTE = ("formula: optax.contrib.mechanize (_mechanic.py) around torch.optim.%s (foreach=False), whose "
             "update u is the change its step makes: x0 = x at the first step; S = sum(s); gt = g + "
             "wd*S*|g|/(|x|+eps)*x; dp = (x0 - x)/(S + eps); h = <gt, dp>; ch = clamp(h, -m, m); "
             "m = max(beta*m, |h| + eps); v = beta^2*v + h^2; r = beta*r + ch*s; s = ((s_init/n)*m + "
             "max(0, r))/(sqrt(v) + eps), beta_j = 1 - 0.1^j; x += (x0 - sum(s)*(dp - u)) - x; the element "
             "operations in the case dtype in Optax's order; the sums, norms and tuner in float64 whatever the dtype "
             "(eta's choice; Optax keeps them in the parameters' dtype)")
MECH_STATE = {"AdamW": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"], "SGD": ["momentum_buffer"]}


def run_mechanic(case, params, grads_t, st, lrs, t, shared):
    o = case.outer
    wd, eps, s_init, nb = o["weight_decay"], o["eps"], o["s_init"], o["num_betas"]
    f64 = torch.float64  # the tuner and the sums, whatever the parameters' dtype (eta's choice)
    ms = shared
    if not ms:  # init_fn; the base optimizer on leaf copies of the parameters
        ms["r"] = torch.zeros(nb, dtype=f64)
        ms["m"] = torch.zeros(nb, dtype=f64)
        ms["v"] = torch.zeros(nb, dtype=f64)
        ms["s"] = torch.ones(nb, dtype=f64) * s_init
        ms["leaves"] = [p.clone().requires_grad_(True) for p in params]
        groups = [dict(params=[ms["leaves"][i] for i in range(len(params)) if ref.PARAM_GROUP[i] == gi],
                      **case.groups[gi]) for gi in range(ref.NGROUPS)]
        ms["base"] = getattr(torch.optim, case.base)(groups, foreach=False)
    base, leaves = ms["base"], ms["leaves"]
    for gi, g in enumerate(base.param_groups):
        g["lr"] = lrs[gi]
    # base_optimizer.update(updates, state, params): its step from x, u = x' - x
    with torch.no_grad():
        for leaf, p, g in zip(leaves, params, grads_t):
            leaf.copy_(p)
            leaf.grad = g.clone()
    base.step()
    u = [leaf.detach() - p for leaf, p in zip(leaves, params)]
    if t == 1:
        ms["x0"] = [p.clone() for p in params]
    x0 = ms["x0"]
    s_sum = float(torch.sum(ms["s"]))
    grad_norm = math.sqrt(sum(float(torch.sum(g.to(f64) * g.to(f64))) for g in grads_t))
    param_norm = math.sqrt(sum(float(torch.sum(p.to(f64) * p.to(f64))) for p in params))
    coef = wd * s_sum * grad_norm / (param_norm + eps)  # a Python float: the dtype's in the ops below
    upd = [g + coef * p for g, p in zip(grads_t, params)]
    delta_prev = [(x0i - xi) / (s_sum + eps) for xi, x0i in zip(params, x0)]
    delta = [dp - ui for dp, ui in zip(delta_prev, u)]
    h = torch.tensor(sum(float(torch.sum(a.to(f64) * b.to(f64))) for a, b in zip(upd, delta_prev)), dtype=f64)
    clipped_h = torch.clamp(torch.ones_like(ms["m"]) * h, -ms["m"], ms["m"])
    betas = torch.tensor([1.0 - 0.1 ** j for j in range(1, nb + 1)], dtype=f64)
    m = torch.maximum(betas * ms["m"], torch.abs(h) + eps)
    v = (betas ** 2) * ms["v"] + h ** 2
    r = betas * ms["r"] + clipped_h * ms["s"]
    rc = torch.maximum(torch.zeros_like(r), r)
    wealth = (s_init / nb) * m + rc
    s = wealth / (torch.sqrt(v) + eps)
    ms.update(m=m, v=v, r=r, s=s)
    s_new = float(torch.sum(s))
    for i, p in enumerate(params):
        new_p = x0[i] - s_new * delta[i]
        p.copy_(p + (new_p - p))
        bs = base.state[leaves[i]]
        for name in MECH_STATE[case.base]:
            if name in bs and bs[name] is not None:
                st[i][name] = bs[name].detach().clone()
        st[i]["x0"] = x0[i]
    return [("wide", None, k, ref.flat(ms[k])) for k in ("m", "v", "r", "s")]


def cases_mechanic():
    def mech(name, base, g0, g1, outer, schedule=False):
        note = MECH_NOTE % base + ("; " + SCHED if schedule else "")
        return Case(name, "Mechanic", g0, g1, base=base, outer=outer, note=note, schedule=schedule)
    adamw = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False)
    return [
        mech("mechanic_adamw", "AdamW",
             H(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=False),
             H(lr=0.005, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.0, amsgrad=False, maximize=False),
             dict(weight_decay=0.01, eps=1e-8, s_init=1e-6, num_betas=6)),
        mech("mechanic_sgd", "SGD",
             H(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
             H(lr=0.05, momentum=0.0, dampening=0.0, weight_decay=0.01, nesterov=False, maximize=False),
             dict(weight_decay=0.05, eps=1e-6, s_init=1e-3, num_betas=4)),
        mech("mechanic_lr_schedule", "AdamW",
             H(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True, maximize=False),
             H(lr=0.02, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=False, maximize=False),
             dict(weight_decay=0.0, eps=1e-8, s_init=1e-4, num_betas=8), schedule=True),
        Case("mechanic_defaults", "Mechanic", dict(adamw), dict(adamw), spec={}, base="AdamW",
             outer=dict(weight_decay=1e-2, eps=1e-8, s_init=1e-6, num_betas=6),
             note=(MECH_NOTE % "AdamW") + "; spec Mechanic(AdamW()): Optax's mechanize defaults weight_decay=0.01, "
                                          "eps=1e-8, s_init=1e-6, num_betas=6 around AdamW's; both groups take "
                                          "the defaults"),
    ]


# spec_text of a defaults case writes only Mechanic(AdamW()): the outer arguments are the defaults
def _mechanic_defaults_spec(case, gi):
    return "Mechanic(%s)" % ref.spec_str(case.base, {})


OPTIMIZERS = [
    ("COCOB", cases_cocob, run_cocob, COCOB_STATE),
    ("DoG", lambda: _dog_cases("DoG", "dog", False), lambda *a: run_dog(*a, layer=False), ["init_buffer"]),
    ("LDoG", lambda: _dog_cases("LDoG", "ldog", True), lambda *a: run_dog(*a, layer=True),
     ["init_buffer", "rbar", "G", "eta"]),
    ("SGDHD", cases_sgdhd, run_sgdhd, ["momentum_buffer", "grad_prev"]),
    ("AdamHD", cases_adamhd, run_adamhd, ["exp_avg", "exp_avg_sq"]),
    ("Mechanic", cases_mechanic, run_mechanic, None),
]


# --------------------------------------------------------------------------
# stepping and writing
# --------------------------------------------------------------------------

def run_case(case, runner, state_order, dt, init, grads):
    torch.set_default_dtype(dt)
    key = case.lr_key()
    base = [case.groups[gi][key] for gi in range(ref.NGROUPS)]
    params = [torch.tensor(x, dtype=dt) for x in init]
    st = [dict() for _ in params]
    shared = {}
    order = state_order or MECH_STATE[case.base] + ["x0"]
    out = []
    for t in range(1, ref.STEPS + 1):
        lrs = [b * ref.lr_factor(t) if case.schedule else b for b in base]
        fed = [torch.tensor(x, dtype=dt) for x in grads[t - 1]]
        with torch.no_grad():
            scalars = runner(case, params, fed, st, lrs, t, shared)
        states = [[(n, ref.flat(s[n])) for n in order if n in s] for s in st]
        out.append((lrs, [ref.flat(g) for g in fed], [ref.flat(p) for p in params], states, scalars))
    torch.set_default_dtype(torch.float32)
    return out


def write_case(f, case, dname, init_vals, result):
    f.write("case %s_%s\n" % (case.name, dname))
    f.write("dtype %s\nsource formula\n" % dname)
    f.write("note %s\n" % case.note)
    spec = [case.spec_text(gi) if not (case.spec == {} and case.cls == "Mechanic")
            else _mechanic_defaults_spec(case, gi) for gi in range(ref.NGROUPS)]
    f.write("spec %s\ngroup 1 %s\n" % (spec[0], spec[1]))
    for i, s in enumerate(ref.SHAPES):
        f.write("param %d group %d shape %s\n" % (i, ref.PARAM_GROUP[i], " ".join(str(x) for x in s)))
    for i, v in enumerate(init_vals):
        f.write("init %d %s\n" % (i, " ".join(ref.fmt_num(x) for x in v)))
    f.write("steps %d\n" % ref.STEPS)
    nums = lambda vals: " ".join(ref.fmt_num(x) for x in vals)  # noqa: E731
    ref.write_steps(f, result, lambda row: [
        "scalar %d %s %s" % (gi, name, nums(vals)) if kind == "scalar" else "wide %s %s" % (name, nums(vals))
        for kind, gi, name, vals in row[4]])
    f.write("end\n")


def generate(outdir):
    os.makedirs(outdir, exist_ok=True)
    init, grads = ref.make_data()
    for cls, cases_fn, runner, order in OPTIMIZERS:
        path = os.path.join(outdir, "optim_%s.txt" % cls.lower())
        cases = cases_fn()
        assert len({c.name for c in cases}) == len(cases)
        with open(path, "w") as f:
            f.write(HEADER + "\n")
            for case in cases:
                for dname in ("f32", "f64"):
                    dt = ref.DTYPES[dname]
                    result = run_case(case, runner, order, dt, init, grads)
                    for lrs, gs, vs, sts, scalars in result:
                        for arr in vs + [v for s in sts for _, v in s] + [v for *_, v in scalars]:
                            if not all(math.isfinite(x) for x in arr):
                                raise SystemExit("non-finite value in %s_%s" % (case.name, dname))
                    init_vals = [ref.flat(torch.tensor(x, dtype=dt)) for x in init]
                    write_case(f, case, dname, init_vals, result)
                    last = result[-1][4]
                    print("%-28s %s %s" % (case.name, dname, " ".join(
                        "%s%s=%.4g" % (n, "" if g is None else "[%d]" % g, v[-1]) for _, g, n, v in last)))
        print("%-40s %3d cases %9d bytes" % (os.path.relpath(path), 2 * len(cases), os.path.getsize(path)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    generate(os.path.normpath(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
