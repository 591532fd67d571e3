#!/usr/bin/python3
"""Write the learning-rate schedule fixtures that eta's tests compare against.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_sched.py [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_sched.py --check [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_sched.py --quirks

Output: one file per scheduler class, tests/ref/sched_<lowercase class>.txt.
Deterministic: no randomness, no threads; every value is computed by the
installed torch.optim.lr_scheduler / torch.optim.swa_utils in float64 Python
arithmetic.

Each case builds a real optimizer (SGD with momentum, or Adam where beta1
cycling is tested; one scalar parameter per group, gradient 1), the real
scheduler from the case's spec (the same text that is written to the file is
parsed and instantiated, so spec and values cannot drift apart), and for
t = 0..N-1 records the value the optimizer uses at step t:

    [scheduler.step(epochs[t])]                # fractional-epoch cases only
    read group["lr"] (and group["momentum"] / group["betas"][0])
    optimizer.step()
    scheduler.step()  /  scheduler.step(metrics[t])   (not in epoch cases)

File format (values are repr() of the exact double):

    # eta schedule fixture, written by tools/gen_ref_sched.py (torch X); do not edit
    # ... further comment lines
    case <name>                   unique in the file, [a-z0-9_]
    spec <scheduler call without the optimizer, PyTorch syntax>
    note <one line>               optional
    optimizer SGD|Adam
    group <g> lr <initial lr> momentum <momentum or beta1>
    steps N
    metrics v ...                 ReduceLROnPlateau only: passed to step() after step t
    epochs v ...                  fractional-epoch cases: passed to step(epoch) before step t
    lrs <g> v ...                 N values per group
    moms <g> v ...                only when the scheduler sets momentum / beta1
    end

"group g lr" is the lr the optimizer was constructed with (CyclicLR and
OneCycleLR overwrite it; their base lrs come from the spec).  LambdaLR and
MultiplicativeLR take a Python callable; their specs name one of these fixed
functions, which the C test implements identically (epoch is the integer
step, as a double):

    exp95     = 0.95 ** epoch                 (pow(0.95, epoch))
    inv_sqrt  = 1 / sqrt(epoch + 1)
    step_half = 0.5 if epoch >= 10 else 1.0
    mult95    = 0.95                          (MultiplicativeLR)
    mult_alt  = 0.9 if epoch % 2 else 1.1     (MultiplicativeLR)

Source of every case is torch 1.13 except where the note starts with
"formula": CyclicLR with Adam and cycle_momentum=True is rejected by 1.13
(only 2.x cycles beta1), so that case runs 1.13's CyclicLR for the lrs and a
line-by-line port of 2.x's CyclicLR beta1 code for the moms (the port is
checked bit-for-bit against 1.13's SGD momentum cycling on every run).

Only cases whose values torch 1.13 and 2.x agree on are written, apart from
that beta1 case and the cases whose note starts with "2.x": SequentialLR
entering a child that goes on from the lr it finds (SWALR), where 2.x's
_update_lr(0) does not count the entry as a step and 1.13's step(0) does;
those run 1.13 with SequentialLR.step patched to do what 2.x does (the
patch is the one --quirks shows). Other version-dependent behaviour is
listed by --quirks.

Cases named torch_defaults give each class only its required arguments
(checked against the installed class's signature), so the values hold
PyTorch's defaults for the rest.  Notes of
chainable schedulers give the largest relative gap between the recorded
(chainable, recursive) values and the class's closed form, so a C
implementation of the closed form knows the tolerance it needs.
"""

import argparse
import ast
import inspect
import math
import os
import re
import sys
import warnings
from bisect import bisect_right

import torch
from torch.optim import lr_scheduler as LRS
from torch.optim import swa_utils

warnings.simplefilter("ignore")

HEADER = ("# eta schedule fixture, written by tools/gen_ref_sched.py "
          "(torch %s); do not edit" % torch.__version__)
MAX_BYTES = 3 * 1024 * 1024

# --------------------------------------------------------------------------
# the named callables of LambdaLR / MultiplicativeLR specs
# --------------------------------------------------------------------------

LAMBDAS = {
    "exp95": lambda epoch: 0.95 ** epoch,
    "inv_sqrt": lambda epoch: 1 / math.sqrt(epoch + 1),
    "step_half": lambda epoch: 0.5 if epoch >= 10 else 1.0,
}
MULT_LAMBDAS = {
    "mult95": lambda epoch: 0.95,
    "mult_alt": lambda epoch: 0.9 if epoch % 2 else 1.1,
}
LAMBDA_DOC = {
    "exp95": "exp95 = 0.95**epoch",
    "inv_sqrt": "inv_sqrt = 1/sqrt(epoch+1)",
    "step_half": "step_half = 0.5 if epoch >= 10 else 1.0",
    "mult95": "mult95 = 0.95",
    "mult_alt": "mult_alt = 0.9 if epoch % 2 else 1.1",
}

# --------------------------------------------------------------------------
# CyclicLR with beta1: port of torch 2.x (1.13 raises for Adam)
# --------------------------------------------------------------------------


class CyclicLRBeta1(LRS.CyclicLR):
    """torch 1.13 CyclicLR for the lrs; momentum cycling ported from 2.x
    (torch/optim/lr_scheduler.py, CyclicLR.__init__ and get_lr), which writes
    beta1 for optimizers with 'betas' and 'momentum' otherwise."""

    def __init__(self, optimizer, base_lr, max_lr, cycle_momentum=True,
                 base_momentum=0.8, max_momentum=0.9, **kw):
        self.port_cycle = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError("optimizer must support momentum or beta1")
            self.use_beta1 = "betas" in optimizer.defaults
            self.port_base = self._fmt(optimizer, base_momentum)
            self.port_max = self._fmt(optimizer, max_momentum)
            for m, b, group in zip(self.port_max, self.port_base, optimizer.param_groups):
                if self.use_beta1:
                    group["betas"] = (m, *group["betas"][1:])
                else:
                    group["momentum"] = m
                group["max_momentum"] = m
                group["base_momentum"] = b
        super().__init__(optimizer, base_lr, max_lr, cycle_momentum=False, **kw)

    @staticmethod
    def _fmt(optimizer, param):
        if isinstance(param, (list, tuple)):
            assert len(param) == len(optimizer.param_groups)
            return list(param)
        return [param] * len(optimizer.param_groups)

    def get_lr(self):
        lrs = super().get_lr()
        if self.port_cycle:
            cycle = math.floor(1 + self.last_epoch / self.total_size)
            x = 1.0 + self.last_epoch / self.total_size - cycle
            if x <= self.step_ratio:
                scale_factor = x / self.step_ratio
            else:
                scale_factor = (x - 1) / (self.step_ratio - 1)
            momentums = []
            for base_momentum, max_momentum in zip(self.port_base, self.port_max):
                base_height = (max_momentum - base_momentum) * scale_factor
                if self.scale_mode == "cycle":
                    momentum = max_momentum - base_height * self.scale_fn(cycle)
                else:
                    momentum = max_momentum - base_height * self.scale_fn(self.last_epoch)
                momentums.append(momentum)
            for param_group, momentum in zip(self.optimizer.param_groups, momentums):
                if self.use_beta1:
                    param_group["betas"] = (momentum, *param_group["betas"][1:])
                else:
                    param_group["momentum"] = momentum
        return lrs


# --------------------------------------------------------------------------
# specs: parse (restricted Python syntax) and instantiate
# --------------------------------------------------------------------------

CLASSES = [
    "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
    "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "SequentialLR",
    "ChainedScheduler", "ReduceLROnPlateau", "SWALR",
]
MOMENTUM_CLASSES = ("CyclicLR", "OneCycleLR")


class Call:
    def __init__(self, name, args, kwargs):
        self.name, self.args, self.kwargs = name, args, kwargs

    def arg(self, pos, key, default=None):
        if key in self.kwargs:
            return self.kwargs[key]
        if pos is not None and len(self.args) > pos:
            return self.args[pos]
        return default


class Fn:
    """A named lambda of a LambdaLR/MultiplicativeLR spec."""

    def __init__(self, name):
        self.name = name


def _value(node):
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
            and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) \
            and not isinstance(node.operand.value, bool):
        return -node.operand.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Name):
        if node.id in LAMBDAS or node.id in MULT_LAMBDAS:
            return Fn(node.id)
        if node.id == "None":
            return None
    raise ValueError("unsupported spec syntax: %s" % ast.dump(node))


def _call(node):
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) \
            or node.func.id not in CLASSES:
        raise ValueError("not a scheduler call")
    kwargs = {}
    for k in node.keywords:
        if k.arg is None or k.arg in kwargs:
            raise ValueError("bad keyword")
        kwargs[k.arg] = _value(k.value)
    return Call(node.func.id, [_value(a) for a in node.args], kwargs)


def parse_spec(text):
    return _call(ast.parse(text, mode="eval").body)


def _py(v):
    if isinstance(v, Fn):
        return {**LAMBDAS, **MULT_LAMBDAS}[v.name]
    if isinstance(v, list):
        return [_py(x) for x in v]
    return v


def instantiate(call, opt):
    """Build the torch scheduler of a parsed spec on `opt` (children first,
    in list order, as user code would)."""
    if call.name in ("SequentialLR", "ChainedScheduler"):
        kids = [instantiate(k, opt) for k in call.arg(0, "schedulers")]
        if call.name == "ChainedScheduler":
            assert set(call.kwargs) <= {"schedulers"}
            return LRS.ChainedScheduler(kids)
        kw = {k: v for k, v in call.kwargs.items() if k != "schedulers"}
        return LRS.SequentialLR(opt, kids, *call.args[1:], **kw)
    args = [_py(a) for a in call.args]
    kwargs = {k: _py(v) for k, v in call.kwargs.items()}
    if call.name == "SWALR":
        return swa_utils.SWALR(opt, *args, **kwargs)
    if call.name == "CyclicLR" and "betas" in opt.defaults \
            and call.arg(None, "cycle_momentum", True):
        return CyclicLRBeta1(opt, *args, **kwargs)
    return getattr(LRS, call.name)(opt, *args, **kwargs)


def sets_momentum(call):
    if call.name in MOMENTUM_CLASSES:
        return bool(call.arg(None, "cycle_momentum", True))
    if call.name in ("SequentialLR", "ChainedScheduler"):
        return any(sets_momentum(k) for k in call.arg(0, "schedulers"))
    return False


def lambda_names(v):
    if isinstance(v, Call):
        out = []
        for a in list(v.args) + list(v.kwargs.values()):
            out += lambda_names(a)
        return out
    if isinstance(v, list):
        return [n for x in v for n in lambda_names(x)]
    if isinstance(v, Fn):
        return [v.name]
    return []


# --------------------------------------------------------------------------
# running a case
# --------------------------------------------------------------------------


def make_optimizer(kind, groups):
    params = []
    for _ in groups:
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        p.grad = torch.ones(1, dtype=torch.float64)
        params.append(p)
    if kind == "SGD":
        return torch.optim.SGD(
            [{"params": [p], "lr": lr, "momentum": m} for p, (lr, m) in zip(params, groups)],
            lr=groups[0][0], momentum=groups[0][1])
    if kind == "Adam":
        return torch.optim.Adam(
            [{"params": [p], "lr": lr, "betas": (m, 0.999)} for p, (lr, m) in zip(params, groups)],
            lr=groups[0][0], betas=(groups[0][1], 0.999))
    raise ValueError(kind)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group["momentum"]


def run_case(c, spec_text=None, patch_2x=False):
    """Return (lrs, moms) lists per group for case dict c."""
    call = parse_spec(spec_text or c["spec"])
    opt = make_optimizer(c["optimizer"], c["groups"])
    sched = instantiate(call, opt)
    if patch_2x:
        _patch_sequential_2x(sched)
    n = c["steps"]
    ng = len(c["groups"])
    lrs = [[] for _ in range(ng)]
    moms = [[] for _ in range(ng)]
    for t in range(n):
        if c.get("epochs") is not None:
            sched.step(c["epochs"][t])
        for g, group in enumerate(opt.param_groups):
            lr = group["lr"]
            assert type(lr) is float, (c["name"], t, type(lr))
            lrs[g].append(lr)
            moms[g].append(float(momentum_of(group)))
        opt.step()
        if c.get("metrics") is not None:
            sched.step(c["metrics"][t])
        elif c.get("epochs") is None:
            sched.step()
    return lrs, moms


# --------------------------------------------------------------------------
# closed forms (for the chainable-vs-closed-form notes)
# --------------------------------------------------------------------------

TORCH_CLOSED = ("StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
                "ExponentialLR", "PolynomialLR", "CosineAnnealingLR")


def closed_form(c):
    """Per-group closed-form values, or None; second item names the form."""
    call = parse_spec(c["spec"])
    n = c["steps"]
    if call.name in TORCH_CLOSED:
        # torch's own _get_closed_form_lr at last_epoch = t
        opt = make_optimizer(c["optimizer"], c["groups"])
        s = instantiate(call, opt)
        out = [[] for _ in c["groups"]]
        for t in range(n):
            s.last_epoch = t
            for g, v in enumerate(s._get_closed_form_lr()):
                out[g].append(v)
        return out, "torch _get_closed_form_lr()"
    if call.name == "MultiplicativeLR":
        f = MULT_LAMBDAS[call.arg(0, "lr_lambda").name]
        out = []
        for lr, _ in c["groups"]:
            prod, vals = 1.0, []
            for t in range(n):
                if t > 0:
                    prod *= f(t)
                vals.append(lr * prod)
            out.append(vals)
        return out, "base*prod(f(1..t)), product formed first"
    if call.name == "SWALR":
        swa = call.arg(0, "swa_lr")
        E = call.arg(1, "anneal_epochs", 10)
        strat = call.arg(2, "anneal_strategy", "cos")
        out = []
        for g, (lr, _) in enumerate(c["groups"]):
            s_lr = swa[g] if isinstance(swa, list) else swa
            vals = []
            for t in range(n):
                step = max(1, t) if E == 0 else t
                x = max(0, min(1, step / max(1, E)))
                a = x if strat == "linear" else (1 - math.cos(math.pi * x)) / 2
                vals.append(s_lr * a + lr * (1 - a))
            out.append(vals)
        return out, "swa_lr*alpha(t) + base*(1-alpha(t))"
    return None, None


def gap_note(c, lrs):
    """Note text and (max relative gap, max gap / base lr) between the
    recorded values and the class's closed form (points where the closed
    form is 0 count only in the second)."""
    ref, form = closed_form(c)
    if ref is None:
        return None, None
    worst, over_base = 0.0, 0.0
    for (base, _), vals, r in zip(c["groups"], lrs, ref):
        for a, b in zip(vals, r):
            if b != 0.0:
                worst = max(worst, abs(a - b) / abs(b))
            over_base = max(over_base, abs(a - b) / base)
    if worst == 0.0 and over_base == 0.0:
        txt = "closed form (%s) equals these values bit for bit" % form
    else:
        txt = ("closed form (%s) differs by <= %.2g relative, <= %.2g of the base lr"
               % (form, worst, over_base))
    return txt, (worst, over_base)


# --------------------------------------------------------------------------
# metric and epoch sequences
# --------------------------------------------------------------------------


def plateau_metrics_min(n, start=2.0, improve=20, flat=25, rate=0.97, wiggle=2e-5):
    """Loss-like: `improve` steps of geometric decrease, then `flat` steps
    wobbling within +-wiggle relative of the last value (below the default
    rel threshold 1e-4), repeated; values rounded to 12 significant digits."""
    out, v, k = [], start, 0
    while len(out) < n:
        for _ in range(improve):
            v *= rate
            out.append(v)
        base = v
        for j in range(flat):
            out.append(base * (1 + wiggle * math.sin(1.7 * j + k)))
        k += 1
    return [float("%.12g" % x) for x in out[:n]]


def plateau_metrics_max(n):
    """Accuracy-like, rising in steps of 0.004..0.02 with flat stretches that
    wobble by less than 0.003 (so abs threshold 0.005 sees no gain)."""
    out, v, k = [], 0.30, 0
    while len(out) < n:
        for j in range(15):
            v += 0.02 * (0.98 ** (k * 15 + j))
            out.append(v)
        base = v
        for j in range(30):
            out.append(base + 0.0025 * math.sin(0.9 * j + k) - 0.001)
        k += 1
    return [float("%.10g" % x) for x in out[:n]]


def frac_epochs(n_epochs, iters):
    """scheduler.step(epoch + i / iters), the documented batch-wise use."""
    return [epoch + i / iters for epoch in range(n_epochs) for i in range(iters)]


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------

SGD1 = [(0.1, 0.9)]
SGD2 = [(0.1, 0.9), (0.02, 0.9)]


def case(name, spec, steps, groups=None, optimizer="SGD", note=None,
         metrics=None, epochs=None, torch2x=False):
    return dict(name=name, spec=spec, steps=steps, groups=groups or SGD1,
                optimizer=optimizer, note=note, metrics=metrics, epochs=epochs,
                torch2x=torch2x)


def _torch_class(name):
    return swa_utils.SWALR if name == "SWALR" else getattr(LRS, name)


# Arguments with a default of None that the class still needs (OneCycleLR
# needs total_steps or both epochs and steps_per_epoch).
NEEDED = {"OneCycleLR": ["total_steps"]}


def only_required(call):
    """Whether a parsed spec (and every schedule inside it) gives only the
    arguments its torch class requires, leaving the rest to PyTorch's
    defaults: the names come from the installed class's signature."""
    params = list(inspect.signature(_torch_class(call.name).__init__).parameters.values())
    params = [q for q in params if q.name not in ("self", "optimizer")]
    required = [q.name for q in params if q.default is inspect.Parameter.empty]
    required += NEEDED.get(call.name, [])
    given = [q.name for q in params[:len(call.args)]] + list(call.kwargs)
    if sorted(given) != sorted(required):
        return False
    kids = call.arg(0, "schedulers") if call.name in ("SequentialLR", "ChainedScheduler") else []
    return all(only_required(k) for k in kids)


def defaults_case(name, spec, steps, **kw):
    """A case written with PyTorch's defaults: only the required arguments."""
    assert only_required(parse_spec(spec)), spec
    note = "only the required arguments: PyTorch's defaults for the rest"
    if kw.get("note"):
        note += "; " + kw.pop("note")
    return case(name, spec, steps, note=note, **kw)


def build_cases():
    C = []
    # ---- LambdaLR
    C += [
        case("exp95", "LambdaLR(lr_lambda=exp95)", 300),
        case("inv_sqrt", "LambdaLR(lr_lambda=inv_sqrt)", 300, groups=[(0.5, 0.9)]),
        case("step_half_two_groups", "LambdaLR(lr_lambda=step_half)", 60, groups=SGD2),
        case("exp95_positional", "LambdaLR(exp95)", 40, groups=[(1.0, 0.9)]),
    ]
    # ---- MultiplicativeLR
    C += [
        case("mult95", "MultiplicativeLR(lr_lambda=mult95)", 300),
        case("mult_alt", "MultiplicativeLR(lr_lambda=mult_alt)", 300, groups=[(1.0, 0.9)]),
        case("mult_alt_two_groups", "MultiplicativeLR(lr_lambda=mult_alt)", 101, groups=SGD2),
        case("mult95_two_groups", "MultiplicativeLR(lr_lambda=mult95)", 120,
             groups=[(0.5, 0.9), (0.003, 0.0)]),
    ]
    # ---- StepLR
    C += [
        case("step30_gamma01", "StepLR(step_size=30, gamma=0.1)", 300),
        case("step1_gamma09", "StepLR(step_size=1, gamma=0.9)", 300, groups=[(1.0, 0.9)]),
        case("step7_gamma05_two_groups", "StepLR(step_size=7, gamma=0.5)", 100, groups=SGD2),
        case("step50_default_gamma", "StepLR(step_size=50)", 300, groups=[(0.3, 0.9)]),
        case("step_positional", "StepLR(3, 0.5)", 30, groups=[(1.0, 0.9)]),
    ]
    # ---- MultiStepLR
    C += [
        case("milestones_30_80", "MultiStepLR(milestones=[30, 80], gamma=0.1)", 300),
        case("repeated_milestones", "MultiStepLR(milestones=[50, 50, 100, 150, 150, 150], gamma=0.5)",
             300, groups=[(1.0, 0.9)],
             note="milestones are a multiset: a repeated milestone applies gamma**count at once"),
        case("milestone_zero_two_groups", "MultiStepLR(milestones=[0, 10, 10, 40], gamma=0.3)", 60,
             groups=SGD2, note="milestone 0 applies gamma already at step 0"),
        case("default_gamma_beyond_end", "MultiStepLR(milestones=[100, 200, 500])", 300,
             groups=[(0.2, 0.9)]),
    ]
    # ---- ConstantLR
    C += [
        case("factor05_iters40", "ConstantLR(factor=0.5, total_iters=40)", 300),
        case("defaults", "ConstantLR()", 30, groups=[(1.0, 0.9)]),
        case("factor1", "ConstantLR(factor=1.0, total_iters=10)", 30),
        case("two_groups", "ConstantLR(factor=0.1, total_iters=3)", 20, groups=SGD2),
        case("total_iters_0", "ConstantLR(factor=0.25, total_iters=0)", 20, groups=[(1.0, 0.9)],
             note="quirk (1.13 and 2.x): with total_iters=0 the factor is applied at step 0 and never "
                  "removed (chainable); the closed form would give base from step 0"),
    ]
    # ---- LinearLR
    C += [
        case("warmup_01_3", "LinearLR(start_factor=0.1, total_iters=3)", 20),
        case("defaults", "LinearLR()", 30, groups=[(1.0, 0.9)]),
        case("decay_to_01", "LinearLR(start_factor=1.0, end_factor=0.1, total_iters=100)", 300),
        case("two_groups", "LinearLR(start_factor=0.25, end_factor=0.75, total_iters=50)", 120,
             groups=SGD2),
        case("warmup_long", "LinearLR(start_factor=0.001, end_factor=1.0, total_iters=250)", 300,
             groups=[(0.5, 0.9)]),
    ]
    # ---- ExponentialLR
    C += [
        case("gamma099", "ExponentialLR(gamma=0.99)", 300),
        case("gamma05", "ExponentialLR(gamma=0.5)", 100, groups=[(1.0, 0.9)]),
        case("gamma1001_growth", "ExponentialLR(gamma=1.01)", 300, groups=[(0.001, 0.9)]),
        case("two_groups", "ExponentialLR(gamma=0.97)", 200, groups=SGD2),
    ]
    # ---- PolynomialLR (exists in 1.13)
    C += [
        case("defaults", "PolynomialLR()", 20, groups=[(1.0, 0.9)]),
        case("power2_200", "PolynomialLR(total_iters=200, power=2.0)", 300),
        case("power05_100", "PolynomialLR(total_iters=100, power=0.5)", 150, groups=[(1.0, 0.9)]),
        case("power09_two_groups", "PolynomialLR(total_iters=50, power=0.9)", 80, groups=SGD2),
    ]
    # ---- CosineAnnealingLR
    C += [
        case("tmax100", "CosineAnnealingLR(T_max=100)", 300,
             note="no clamp: periodic past T_max (back up to base at 2*T_max)"),
        case("tmax50_eta_min", "CosineAnnealingLR(T_max=50, eta_min=0.001)", 300),
        case("tmax7_two_groups", "CosineAnnealingLR(T_max=7, eta_min=0.01)", 100, groups=SGD2,
             note="group 1's base 0.02 is close to eta_min 0.01"),
        case("tmax1", "CosineAnnealingLR(T_max=1, eta_min=0.05)", 20, groups=[(1.0, 0.9)]),
        case("tmax300", "CosineAnnealingLR(T_max=300, eta_min=1e-05)", 300, groups=[(0.5, 0.9)]),
        case("tmax_positional", "CosineAnnealingLR(30, 0.0)", 100, groups=[(1.0, 0.9)]),
        case("tmax10_many_periods", "CosineAnnealingLR(T_max=10)", 1000, groups=[(1.0, 0.9)],
             note="50 periods: the recursion drifts from the closed form by ~1e-13"),
        case("tmax13_eta_min_many_periods", "CosineAnnealingLR(T_max=13, eta_min=0.001)", 1000),
    ]
    # ---- CosineAnnealingWarmRestarts
    log_quirk = ("quirk (1.13 and 2.x): step(epoch) computes n = int(math.log(x, T_mult)) = "
                 "int(log(x)/log(T_mult)) with x = epoch/T_0*(T_mult-1)+1; at epoch %s "
                 "log gives %r, so the restart is missed there (T_cur == T_i, lr = eta_min)")
    C += [
        case("t0_10", "CosineAnnealingWarmRestarts(T_0=10)", 300),
        case("t0_10_tmult2_eta_min", "CosineAnnealingWarmRestarts(T_0=10, T_mult=2, eta_min=0.0001)",
             300, note="restarts at 10, 30, 70, 150"),
        case("t0_3_tmult3_two_groups", "CosineAnnealingWarmRestarts(T_0=3, T_mult=3, eta_min=0.001)",
             300, groups=SGD2, note="restarts at 3, 12, 39, 120"),
        case("t0_1", "CosineAnnealingWarmRestarts(T_0=1)", 10, groups=[(1.0, 0.9)],
             note="T_i = 1: every step is a restart"),
        case("frac_tmult1", "CosineAnnealingWarmRestarts(T_0=10, eta_min=0.001)", 280,
             epochs=frac_epochs(40, 7), note="step(epoch + i/7) before each step"),
        case("frac_tmult2", "CosineAnnealingWarmRestarts(T_0=5, T_mult=2, eta_min=0.0005)", 300,
             groups=SGD2, epochs=frac_epochs(50, 6), note="step(epoch + i/6) before each step"),
        case("epochs_tmult3_log_boundary", "CosineAnnealingWarmRestarts(T_0=1, T_mult=3, eta_min=0.001)",
             300, groups=[(1.0, 0.9)], epochs=[k / 2 for k in range(300)],
             note=log_quirk % (121, math.log(243, 3))),
        case("epochs_tmult10_log_boundary", "CosineAnnealingWarmRestarts(T_0=2, T_mult=10)", 300,
             groups=[(1.0, 0.9)], epochs=[float(k) for k in range(300)],
             note=log_quirk % (222, math.log(1000, 10))),
    ]
    # ---- CyclicLR
    C += [
        case("triangular", "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=20)", 300),
        case("triangular2_step_down", "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=10, "
             "step_size_down=30, mode='triangular2')", 300),
        case("exp_range", "CyclicLR(base_lr=0.001, max_lr=0.006, step_size_up=25, mode='exp_range', "
             "gamma=0.99)", 300, note="exp_range always scales by gamma**t (scale_mode forced to 'iterations')"),
        case("triangular2_scale_mode_iterations", "CyclicLR(base_lr=0.01, max_lr=0.05, step_size_up=8, "
             "mode='triangular2', scale_mode='iterations')", 300,
             note="scale_mode is ignored for the built-in modes: triangular2 always scales per cycle"),
        case("exp_range_scale_mode_cycle", "CyclicLR(base_lr=0.002, max_lr=0.02, step_size_up=7, "
             "step_size_down=13, mode='exp_range', gamma=0.995, scale_mode='cycle', "
             "base_momentum=0.85, max_momentum=0.95)", 300,
             note="scale_mode is ignored for the built-in modes: exp_range always scales per iteration"),
        case("two_groups_no_momentum", "CyclicLR(base_lr=[0.001, 0.0005], max_lr=[0.1, 0.05], "
             "step_size_up=15, cycle_momentum=False)", 300, groups=SGD2),
        case("two_groups_momentum_lists", "CyclicLR(base_lr=0.001, max_lr=[0.1, 0.02], step_size_up=12, "
             "step_size_down=4, mode='triangular2', base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.99])",
             200, groups=SGD2),
        case("short_cycle", "CyclicLR(base_lr=0.1, max_lr=1.0, step_size_up=1, step_size_down=2)", 30,
             groups=[(1.0, 0.9)]),
        case("adam_no_momentum", "CyclicLR(base_lr=0.0001, max_lr=0.001, step_size_up=20, "
             "mode='exp_range', gamma=0.999, cycle_momentum=False)", 300, groups=[(0.001, 0.9)],
             optimizer="Adam"),
        case("adam_beta1", "CyclicLR(base_lr=0.0001, max_lr=0.003, step_size_up=15, step_size_down=25, "
             "mode='triangular2', base_momentum=0.85, max_momentum=0.95)", 300, groups=[(0.001, 0.9)],
             optimizer="Adam",
             note="formula: torch 1.13 rejects Adam with cycle_momentum=True; lrs from 1.13 CyclicLR, "
                  "moms (beta1) from a port of 2.x CyclicLR, checked bit-for-bit on SGD"),
    ]
    # ---- OneCycleLR (t = 0..total_steps-1)
    C += [
        case("cos_defaults", "OneCycleLR(max_lr=0.1, total_steps=300)", 300),
        case("linear_three_phase", "OneCycleLR(max_lr=0.5, total_steps=250, pct_start=0.25, "
             "anneal_strategy='linear', three_phase=True, div_factor=10.0, final_div_factor=100.0)", 250),
        case("cos_three_phase", "OneCycleLR(max_lr=1.0, total_steps=97, pct_start=0.3, three_phase=True)",
             97, groups=[(1.0, 0.9)], note="fractional phase ends: pct_start*97-1 = 28.099999999999998"),
        case("two_groups_max_lr_list", "OneCycleLR(max_lr=[0.1, 0.05], total_steps=200, "
             "base_momentum=[0.85, 0.8], max_momentum=[0.95, 0.9])", 200, groups=SGD2),
        case("adam_beta1", "OneCycleLR(max_lr=0.003, total_steps=300, pct_start=0.2, div_factor=30.0, "
             "final_div_factor=1000.0)", 300, groups=[(0.001, 0.9)], optimizer="Adam"),
        case("epochs_steps_per_epoch", "OneCycleLR(max_lr=0.2, epochs=10, steps_per_epoch=30, "
             "anneal_strategy='linear')", 300),
        case("no_momentum_short", "OneCycleLR(max_lr=0.01, total_steps=10, pct_start=0.45, "
             "cycle_momentum=False)", 10),
        case("linear_adam_three_phase", "OneCycleLR(max_lr=0.004, total_steps=300, pct_start=0.4, "
             "anneal_strategy='linear', three_phase=True, base_momentum=0.8, max_momentum=0.9)",
             300, groups=[(0.001, 0.9), (0.0005, 0.95)], optimizer="Adam"),
    ]
    # ---- SequentialLR
    C += [
        case("linear_cosine", "SequentialLR([LinearLR(start_factor=0.1, total_iters=3), "
             "CosineAnnealingLR(T_max=5)], milestones=[3])", 40),
        case("warmup_cosine_eta_min", "SequentialLR(schedulers=[LinearLR(start_factor=0.01, "
             "end_factor=1.0, total_iters=20), CosineAnnealingLR(T_max=280, eta_min=0.001)], "
             "milestones=[20])", 300, groups=SGD2,
             note="group 1's base 0.02 is close to eta_min; cosine runs 280 steps after the milestone"),
        case("three_children", "SequentialLR([ConstantLR(factor=0.5, total_iters=10), "
             "ExponentialLR(gamma=0.98), StepLR(step_size=25, gamma=0.5)], milestones=[10, 150])", 300),
        case("child_cut_short", "SequentialLR([LinearLR(start_factor=0.2, total_iters=50), "
             "MultiStepLR(milestones=[30, 30, 60], gamma=0.5)], milestones=[20])", 150,
             note="the warm-up is cut at 20 (< total_iters); MultiStepLR counts from the milestone"),
        case("poly_after_constant", "SequentialLR([ConstantLR(factor=0.1, total_iters=100), "
             "PolynomialLR(total_iters=150, power=2.0)], milestones=[5])", 300, groups=[(1.0, 0.9)]),
        case("warm_restarts_child", "SequentialLR([LinearLR(start_factor=0.2, total_iters=10), "
             "CosineAnnealingWarmRestarts(T_0=20, T_mult=2, eta_min=0.0005)], milestones=[10])", 300),
        case("exp_then_cosine_periodic", "SequentialLR([ExponentialLR(gamma=0.9), "
             "CosineAnnealingLR(T_max=40, eta_min=0.01)], milestones=[30])", 300, groups=SGD2),
    ]
    # ---- ChainedScheduler
    C += [
        case("constant_exp", "ChainedScheduler([ConstantLR(factor=0.1, total_iters=20), "
             "ExponentialLR(gamma=0.9)])", 100, groups=[(1.0, 0.9)]),
        case("warmup_cosine", "ChainedScheduler([LinearLR(start_factor=0.1, total_iters=10), "
             "CosineAnnealingLR(T_max=100)])", 300),
        case("warmup_cosine_eta_min", "ChainedScheduler(schedulers=[LinearLR(start_factor=0.1, "
             "total_iters=10), CosineAnnealingLR(T_max=100, eta_min=0.001)])", 300, groups=SGD2,
             note="with eta_min != 0 the composition is not a product of the two closed forms"),
        case("step_multistep_two_groups", "ChainedScheduler([StepLR(step_size=30, gamma=0.5), "
             "MultiStepLR(milestones=[50, 50, 120], gamma=0.1)])", 300, groups=SGD2),
        case("three_children", "ChainedScheduler([ConstantLR(factor=0.5, total_iters=5), "
             "PolynomialLR(total_iters=100, power=1.5), ExponentialLR(gamma=0.995)])", 150,
             groups=[(1.0, 0.9)]),
    ]
    # ---- ReduceLROnPlateau
    mmin = plateau_metrics_min(300)
    mmax = plateau_metrics_max(300)
    C += [
        case("min_rel_defaults", "ReduceLROnPlateau()", 300, metrics=mmin,
             note="patience 10 (strictly more bad epochs than patience), rel threshold 1e-4"),
        case("min_rel_patience5_cooldown", "ReduceLROnPlateau(mode='min', factor=0.5, patience=5, "
             "cooldown=3, min_lr=0.002)", 300, metrics=mmin, groups=SGD2,
             note="min_lr 0.002 floors both groups"),
        case("min_abs", "ReduceLROnPlateau(mode='min', factor=0.2, patience=3, threshold=0.01, "
             "threshold_mode='abs')", 300, metrics=mmin, groups=[(1.0, 0.9)]),
        case("max_rel", "ReduceLROnPlateau(mode='max', factor=0.5, patience=4, threshold=0.001)",
             300, metrics=mmax),
        case("max_abs_cooldown_min_lr_list", "ReduceLROnPlateau(mode='max', factor=0.3, patience=2, "
             "threshold=0.005, threshold_mode='abs', cooldown=5, min_lr=[0.001, 0.0001])", 300,
             metrics=mmax, groups=SGD2),
        case("eps_stops_reduction", "ReduceLROnPlateau(factor=0.1, patience=0)", 40,
             metrics=[1.0] * 40, groups=[(1e-06, 0.9)],
             note="constant metric: a reduction each step until old-new <= eps (1e-8) blocks it"),
    ]
    # ---- SWALR
    C += [
        case("cos_defaults", "SWALR(swa_lr=0.05)", 30, groups=[(0.5, 0.9)]),
        case("linear_two_groups", "SWALR(swa_lr=[0.01, 0.002], anneal_epochs=25, anneal_strategy='linear')",
             60, groups=SGD2),
        case("cos_anneal_100", "SWALR(swa_lr=0.001, anneal_epochs=100, anneal_strategy='cos')", 300),
        case("anneal_epochs_0", "SWALR(swa_lr=0.02, anneal_epochs=0)", 10,
             note="anneal_epochs=0: swa_lr from step 0"),
        case("anneal_epochs_1_up", "SWALR(swa_lr=0.3, anneal_epochs=1, anneal_strategy='linear')", 10,
             note="swa_lr above the base lr: anneals upwards"),
    ]
    # ---- the recursions: children that add a term, override, or go on from the lr they find
    C += [
        case("step_cosine_eta_min", "ChainedScheduler([StepLR(step_size=6, gamma=0.723827), "
             "CosineAnnealingLR(T_max=11, eta_min=0.000210606)])", 300, groups=[(0.523134, 0.9)],
             note="recursion: at step 6 the lr is 0.16248645548788707; composing the closed forms gives "
                  "0.16250518351100912"),
        case("cosine_eta_min_then_exp", "ChainedScheduler([CosineAnnealingLR(T_max=20, eta_min=0.01), "
             "ExponentialLR(gamma=0.97)])", 200, groups=SGD2,
             note="the eta_min term is added to an lr the exponential keeps shrinking"),
        case("warmup_cosine_step_three", "ChainedScheduler([LinearLR(start_factor=0.25, total_iters=8), "
             "CosineAnnealingLR(T_max=30, eta_min=0.05), StepLR(step_size=17, gamma=0.6)])", 250,
             groups=[(1.0, 0.9)], note="periodic cosine with eta_min between two multiplicative children"),
        case("two_cosines_eta_min", "ChainedScheduler([CosineAnnealingLR(T_max=13, eta_min=0.003), "
             "CosineAnnealingLR(T_max=7, eta_min=0.02)])", 200,
             note="two additive children; each one's special step (t-1-T) % 2T == 0 adds to the other's lr"),
        case("warm_restarts_override", "ChainedScheduler([LinearLR(start_factor=0.1, total_iters=10), "
             "CosineAnnealingWarmRestarts(T_0=7, T_mult=2, eta_min=0.001)])", 150,
             note="CosineAnnealingWarmRestarts sets its value from the initial lr: the warm-up is lost"),
        case("cyclic_then_exp", "ChainedScheduler([CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=10, "
             "cycle_momentum=False), ExponentialLR(gamma=0.99)])", 120,
             note="CyclicLR overwrites the lr each step; ExponentialLR then multiplies it by gamma once"),
        case("constant_then_onecycle", "ChainedScheduler([ConstantLR(factor=0.5, total_iters=10), "
             "OneCycleLR(max_lr=0.1, total_steps=100)])", 100,
             note="OneCycleLR's value and momentum win at every step"),
        case("exp_then_swalr", "ChainedScheduler([ExponentialLR(gamma=0.98), SWALR(swa_lr=0.01, "
             "anneal_epochs=15, anneal_strategy='linear')])", 60, groups=SGD2,
             note="SWALR recovers its start from the lr ExponentialLR left, each step"),
        case("nested_sequential", "ChainedScheduler([SequentialLR([LinearLR(start_factor=0.2, total_iters=5), "
             "CosineAnnealingLR(T_max=40, eta_min=0.002)], milestones=[5]), ExponentialLR(gamma=0.995)])", 200,
             note="SequentialLR resets the lr at construction and restarts the cosine at its milestone"),
        case("nested_chained", "ChainedScheduler([ChainedScheduler([ConstantLR(factor=0.5, total_iters=4), "
             "CosineAnnealingLR(T_max=25, eta_min=0.01)]), MultiStepLR(milestones=[10, 20], gamma=0.5)])", 120,
             groups=SGD2, note="a chain inside a chain is the flat chain"),
        case("swalr_after_cosine", "SequentialLR([CosineAnnealingLR(T_max=50, eta_min=0.01), "
             "SWALR(swa_lr=0.02, anneal_epochs=5)], milestones=[30])", 80, groups=SGD2, torch2x=True,
             note="2.x: SWALR anneals from the lr the cosine left at step 29 (1.13's step(0) counts the "
                  "milestone as SWALR's first step, one step ahead)"),
        case("constant_total_iters_0_later", "SequentialLR([ExponentialLR(gamma=0.9), "
             "ConstantLR(factor=0.25, total_iters=0)], milestones=[10])", 30, groups=[(1.0, 0.9)],
             note="restarted by step(0): the closed form at epoch 0 is the initial lr, and the factor "
                  "never applies (as a first child it would apply for ever)"),
    ]
    # ---- PyTorch's defaults: each class with only its required arguments
    C += [
        defaults_case("torch_defaults", "LambdaLR(exp95)", 30),
        defaults_case("torch_defaults", "MultiplicativeLR(mult95)", 30),
        defaults_case("torch_defaults", "StepLR(step_size=3)", 30, groups=[(1.0, 0.9)]),
        defaults_case("torch_defaults", "MultiStepLR(milestones=[5, 12])", 30, groups=[(1.0, 0.9)]),
        defaults_case("torch_defaults", "ConstantLR()", 12, groups=SGD2),
        defaults_case("torch_defaults", "LinearLR()", 12, groups=SGD2),
        defaults_case("torch_defaults", "ExponentialLR(gamma=0.9)", 30),
        defaults_case("torch_defaults", "PolynomialLR()", 12, groups=SGD2),
        defaults_case("torch_defaults", "CosineAnnealingLR(T_max=50)", 120),
        defaults_case("torch_defaults", "CosineAnnealingWarmRestarts(T_0=10)", 45),
        defaults_case("torch_defaults", "CyclicLR(base_lr=0.001, max_lr=0.1)", 4500,
                      note="step_size_up 2000: one full cycle and the start of the next"),
        defaults_case("torch_defaults", "OneCycleLR(max_lr=0.1, total_steps=100)", 100),
        defaults_case("torch_defaults", "SequentialLR([LinearLR(), ExponentialLR(gamma=0.9)], milestones=[5])",
                      30),
        defaults_case("torch_defaults", "ChainedScheduler([ConstantLR(), ExponentialLR(gamma=0.9)])", 30),
        defaults_case("torch_defaults", "ReduceLROnPlateau()", 150, metrics=[1.0] * 150,
                      note="a flat metric: a reduction every 11 steps until eps stops it"),
        defaults_case("torch_defaults", "SWALR(swa_lr=0.05)", 20, groups=[(0.5, 0.9)]),
    ]
    return C


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------


def class_of(c):
    return parse_spec(c["spec"]).name


def fname(cls):
    return "sched_%s.txt" % cls.lower()


def nums(vals):
    return " ".join(repr(float(v)) for v in vals)


def self_check_beta1_port():
    """The 2.x beta1 port, used on SGD, must equal 1.13's momentum cycling."""
    specs = [
        "CyclicLR(base_lr=0.01, max_lr=0.1, step_size_up=10, step_size_down=30, mode='triangular2')",
        "CyclicLR(base_lr=0.002, max_lr=0.02, step_size_up=7, step_size_down=13, mode='exp_range', "
        "gamma=0.995, base_momentum=0.85, max_momentum=0.95)",
        "CyclicLR(base_lr=0.001, max_lr=[0.1, 0.02], step_size_up=12, step_size_down=4, "
        "base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.99])",
    ]
    for s in specs:
        c = case("x", s, 200, groups=SGD2)
        ref = run_case(c)
        call = parse_spec(s)
        opt = make_optimizer("SGD", SGD2)
        sched = CyclicLRBeta1(opt, *[_py(a) for a in call.args],
                              **{k: _py(v) for k, v in call.kwargs.items()})
        for t in range(200):
            for g, group in enumerate(opt.param_groups):
                assert group["lr"] == ref[0][g][t] and group["momentum"] == ref[1][g][t], (s, t)
            opt.step()
            sched.step()


def render(cls, cases):
    out = [HEADER]
    if cls in ("LambdaLR", "MultiplicativeLR"):
        names = list(LAMBDAS) if cls == "LambdaLR" else list(MULT_LAMBDAS)
        out.append("# lr_lambda names the C test implements identically (epoch = integer step): "
                   + "; ".join(LAMBDA_DOC[n] for n in names))
    out.append("# values: lr (and momentum/beta1) the optimizer uses at step t = 0..N-1, "
               "read before the t-th optimizer.step()")
    gaps = []
    for c in cases:
        call = parse_spec(c["spec"])
        lrs, moms = run_case(c, patch_2x=c["torch2x"])
        notes = []
        if c["note"]:
            notes.append(c["note"])
        for n in lambda_names(call):
            notes.append("lr_lambda: " + LAMBDA_DOC[n])
        g_txt, g = gap_note(c, lrs)
        if g_txt:
            notes.append(g_txt)
            gaps.append((c["name"], g))
        out.append("case %s" % c["name"])
        out.append("spec %s" % c["spec"])
        if notes:
            out.append("note %s" % "; ".join(notes))
        out.append("optimizer %s" % c["optimizer"])
        for g, (lr, m) in enumerate(c["groups"]):
            out.append("group %d lr %r momentum %r" % (g, float(lr), float(m)))
        out.append("steps %d" % c["steps"])
        if c["metrics"] is not None:
            out.append("metrics %s" % nums(c["metrics"]))
        if c["epochs"] is not None:
            out.append("epochs %s" % nums(c["epochs"]))
        for g in range(len(c["groups"])):
            out.append("lrs %d %s" % (g, nums(lrs[g])))
        if sets_momentum(call):
            for g in range(len(c["groups"])):
                out.append("moms %d %s" % (g, nums(moms[g])))
        out.append("end")
    return "\n".join(out) + "\n", gaps


def grouped_cases():
    by = {cls: [] for cls in CLASSES}
    for c in build_cases():
        by[class_of(c)].append(c)
    return by


def generate(outdir):
    self_check_beta1_port()
    os.makedirs(outdir, exist_ok=True)
    total = 0
    for cls, cases in grouped_cases().items():
        text, gaps = render(cls, cases)
        path = os.path.join(outdir, fname(cls))
        with open(path, "w") as f:
            f.write(text)
        total += len(text)
        print("%-28s %2d cases  %7d bytes" % (fname(cls), len(cases), len(text)))
        for name, (w, b) in gaps:
            if w or b:
                print("    %-36s chainable vs closed form: max rel %.3g, max |d|/base %.3g"
                      % (name, w, b))
    print("total %d bytes" % total)
    assert total < MAX_BYTES
    write_cli_csv(outdir)


def cli_real(x):
    """A number as eta's CSV output writes it (src/cli/util.c, cli_print_real):
    the fewest %g digits that read back exactly, so 1.0 is "1" (repr: "1.0")."""
    for p in range(1, 18):
        s = "%.*g" % (p, x)
        if float(s) == x:
            return s
    return s


def write_cli_csv(outdir):
    """tests/ref/schedule_onecycle_cli.csv: the exact text `eta schedule
    'OneCycleLR(max_lr=1.0, total_steps=10)' --steps 10` must print, from
    torch's SGD (momentum cycled) with the CLI's defaults (lr 0.1, momentum 0.9),
    numbers written as eta writes them."""
    c = case("cli", "OneCycleLR(max_lr=1.0, total_steps=10)", 10, groups=[(0.1, 0.9)])
    lrs, moms = run_case(c)
    path = os.path.join(outdir, "schedule_onecycle_cli.csv")
    with open(path, "w") as f:
        f.write("step,lr,momentum\n")
        for t in range(10):
            f.write("%d,%s,%s\n" % (t, cli_real(lrs[0][t]), cli_real(moms[0][t])))
    print("%-28s %7d rows" % ("schedule_onecycle_cli.csv", 10))


# --------------------------------------------------------------------------
# --check
# --------------------------------------------------------------------------

NAME_RE = re.compile(r"^[a-z0-9_]+$")


def check_file(path, cls):
    errs = []
    with open(path) as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()

    def err(i, msg):
        errs.append("%s:%d: %s" % (path, i + 1, msg))

    if not lines or not re.match(r"^# eta schedule fixture, written by tools/gen_ref_sched\.py "
                                 r"\(torch [^)]+\); do not edit$", lines[0]):
        err(0, "bad header")
    names = set()
    i = 1
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    ncases = 0
    while i < len(lines):
        start = i
        block = []
        while i < len(lines) and lines[i] != "end":
            block.append((i, lines[i]))
            i += 1
        if i >= len(lines):
            err(start, "case without end")
            break
        i += 1
        ncases += 1
        kw = [(j, l.split(" ", 1)[0], l.split(" ", 1)[1] if " " in l else "") for j, l in block]
        order = [k for _, k, _ in kw]
        # fixed order of keys
        expected = ["case", "spec"]
        if "note" in order:
            expected.append("note")
        expected.append("optimizer")
        ngroups = order.count("group")
        expected += ["group"] * ngroups
        expected.append("steps")
        if "metrics" in order:
            expected.append("metrics")
        if "epochs" in order:
            expected.append("epochs")
        expected += ["lrs"] * ngroups + ["moms"] * order.count("moms")
        if order != expected:
            err(start, "keys %s, expected %s" % (order, expected))
            continue
        d = {}
        for j, k, v in kw:
            d.setdefault(k, []).append((j, v))
        name = d["case"][0][1]
        if not NAME_RE.match(name) or name in names:
            err(start, "bad or duplicate case name %r" % name)
        names.add(name)
        try:
            call = parse_spec(d["spec"][0][1])
        except (SyntaxError, ValueError) as e:
            err(d["spec"][0][0], "spec does not parse: %s" % e)
            continue
        if call.name != cls:
            err(d["spec"][0][0], "spec class %s in file of %s" % (call.name, cls))
        if d["optimizer"][0][1] not in ("SGD", "Adam"):
            err(d["optimizer"][0][0], "bad optimizer")
        if ngroups < 1:
            err(start, "no group")
        for g, (j, v) in enumerate(d["group"]):
            m = re.match(r"^(\d+) lr (\S+) momentum (\S+)$", v)
            if not m or int(m.group(1)) != g:
                err(j, "bad group line")
            else:
                try:
                    float(m.group(2)), float(m.group(3))
                except ValueError:
                    err(j, "bad group numbers")
        n = int(d["steps"][0][1])
        if n < 1:
            err(d["steps"][0][0], "bad steps")
        if ("metrics" in d) != (cls == "ReduceLROnPlateau"):
            err(start, "metrics line iff ReduceLROnPlateau")
        if "epochs" in d and cls != "CosineAnnealingWarmRestarts":
            err(start, "epochs line outside CosineAnnealingWarmRestarts")
        for key in ("metrics", "epochs"):
            for j, v in d.get(key, []):
                vals = v.split(" ")
                if len(vals) != n:
                    err(j, "%s has %d values, steps %d" % (key, len(vals), n))
                try:
                    [float(x) for x in vals]
                except ValueError:
                    err(j, "non-numeric %s" % key)
        if ("moms" in d) != sets_momentum(call):
            err(start, "moms lines must be present iff the scheduler sets momentum")
        for key in ("lrs", "moms"):
            for g, (j, v) in enumerate(d.get(key, [])):
                parts = v.split(" ")
                if parts[0] != str(g):
                    err(j, "%s group index %s, expected %d" % (key, parts[0], g))
                if len(parts) - 1 != n:
                    err(j, "%s %d has %d values, steps %d" % (key, g, len(parts) - 1, n))
                try:
                    vals = [float(x) for x in parts[1:]]
                    if not all(math.isfinite(x) for x in vals):
                        err(j, "non-finite value")
                    if [repr(x) for x in vals] != parts[1:]:
                        err(j, "values not in repr() form")
                except ValueError:
                    err(j, "non-numeric value")
        for ln in lambda_names(call):
            if ln not in (LAMBDAS if cls == "LambdaLR" else MULT_LAMBDAS):
                err(d["spec"][0][0], "lambda %s not valid for %s" % (ln, cls))
    if ncases < 3:
        err(0, "fewer than 3 cases")
    return errs, ncases


def check(outdir):
    errs = []
    total = 0
    two_groups = 0
    expected = grouped_cases()
    for cls in CLASSES:
        path = os.path.join(outdir, fname(cls))
        if not os.path.exists(path):
            errs.append("%s: missing" % path)
            continue
        total += os.path.getsize(path)
        e, n = check_file(path, cls)
        errs += e
        with open(path) as f:
            text = f.read()
        two_groups += text.count("\ngroup 1 ")
        # the file must be what this generator writes now (deterministic)
        if not e:
            fresh, _ = render(cls, expected[cls])
            if fresh != text:
                errs.append("%s: differs from a fresh generation" % path)
        print("%-40s %2d cases" % (fname(cls), n))
    if total >= MAX_BYTES:
        errs.append("files total %d bytes >= 3 MB" % total)
    if two_groups < 3:
        errs.append("fewer than 3 two-group cases")
    for e in errs:
        print(e, file=sys.stderr)
    print("total %d bytes; %s" % (total, "OK" if not errs else "%d errors" % len(errs)))
    return 1 if errs else 0


# --------------------------------------------------------------------------
# --quirks: version-dependent behaviour (not written to the fixtures)
# --------------------------------------------------------------------------


def _patch_sequential_2x(sched):
    """Emulate 2.x SequentialLR.step: a child entering at its milestone is
    set by _update_lr(0), which (unlike 1.13's step(0)) does not count as a
    child step (_step_count unchanged).  Only that difference is emulated."""
    if not isinstance(sched, LRS.SequentialLR):
        return

    def step():
        sched.last_epoch += 1
        idx = bisect_right(sched._milestones, sched.last_epoch)
        s = sched._schedulers[idx]
        if idx > 0 and sched._milestones[idx - 1] == sched.last_epoch:
            s._step_count -= 1
            s.step(0)
        else:
            s.step()
        sched._last_lr = s.get_last_lr()
    sched.step = step


def quirks():
    def show(title, c, patch=False):
        lrs, _ = run_case(c, patch_2x=patch)
        print("  %s: %s" % (title, ", ".join("%.10g" % v for v in lrs[0])))

    print("SequentialLR with milestones=[0] (1.13 values; 2.x differs):")
    c = case("q", "SequentialLR([ConstantLR(factor=0.5, total_iters=2), ExponentialLR(gamma=0.9)], "
             "milestones=[0])", 8, groups=[(1.0, 0.9)])
    show("1.13 ", c)
    print("  2.x: step 0 is child 0's value too; child 1 first steps from last_epoch -1 to 0 with "
          "_is_initial False, so ExponentialLR multiplies by gamma at once: 0.5, 0.45, 0.405, ...")
    c = case("q", "SequentialLR([LinearLR(start_factor=0.1, total_iters=3), CosineAnnealingLR(T_max=5)], "
             "milestones=[0])", 8, groups=[(1.0, 0.9)])
    show("1.13 ", c)
    print("SWALR as a later SequentialLR child (1.13 step(0) counts as a step; 2.x _update_lr(0) does not):")
    c = case("q", "SequentialLR([CosineAnnealingLR(T_max=5), SWALR(swa_lr=0.1, anneal_epochs=3)], "
             "milestones=[3])", 8, groups=[(1.0, 0.9)])
    show("1.13 ", c)
    show("2.x  ", c, patch=True)
    print("Composites nested in SequentialLR (1.13 undoes only direct children; 2.x recurses):")
    c = case("q", "SequentialLR([ChainedScheduler([ConstantLR(factor=0.5, total_iters=2), "
             "ExponentialLR(gamma=0.9)]), StepLR(step_size=2, gamma=0.5)], milestones=[4])", 8,
             groups=[(1.0, 0.9)])
    try:
        show("1.13 ", c)
    except AttributeError as e:
        print("  1.13 : AttributeError: %s" % e)
    c = case("q", "SequentialLR([SequentialLR([ConstantLR(factor=0.5, total_iters=2), "
             "ExponentialLR(gamma=0.9)], milestones=[3]), StepLR(step_size=2, gamma=0.5)], "
             "milestones=[6])", 12, groups=[(1.0, 0.9)])
    show("1.13 ", c)
    print("OneCycleLR step N = total_steps is computed (extrapolated last phase); N+1 raises:")
    p = torch.zeros(1, requires_grad=True)
    o = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    s = LRS.OneCycleLR(o, max_lr=0.1, total_steps=10)
    for _ in range(10):
        o.step()
        s.step()
    print("  lr at t=10: %r" % o.param_groups[0]["lr"])
    try:
        o.step()
        s.step()
    except ValueError as e:
        print("  t=11: ValueError: %s  (2.x prints last_epoch: "
              "'Tried to step 11 times')" % e)


# --------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "tests", "ref"))
    ap.add_argument("--check", action="store_true", help="verify the structure of existing files")
    ap.add_argument("--quirks", action="store_true", help="print version-dependent behaviour")
    a = ap.parse_args()
    if a.quirks:
        quirks()
        return 0
    if a.check:
        return check(os.path.normpath(a.out))
    generate(os.path.normpath(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
