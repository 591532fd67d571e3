#!/usr/bin/python3
"""Write the optimizer reference fixtures that eta's tests compare against.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_optim.py [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_optim.py --check [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_optim.py --selftest

Output: one file per optimizer, tests/ref/optim_<lowercase name>.txt, plus
tests/ref/optimize_sgd_quadratic.csv.  Everything is deterministic (fixed
seeds, no threads-dependent reductions on these tiny tensors).

File format (one case per block, each closed by "end"):

    # eta optimizer fixture, written by tools/gen_ref_optim.py (torch X); do not edit
    case <name>
    dtype f32|f64
    source torch|formula
    note <one line>
    spec <spec of group 0>
    group 1 <spec of group 1>
    param <i> group <g> shape <dims...>
    init <i> <values...>
    steps <N>
    step <t>
    lr <g> <lr used for this step>
    grad <i> <values...>        gradient handed to the optimizer (before maximize)
    value <i> <values...>       parameter after the step
    state <i> <name> <values...>
    ...
    end

Numbers are repr() of the exact double (f32 values are widened exactly).

Sources:
  torch    torch.optim of the installed PyTorch (1.13) computed the values,
           single-tensor path (foreach=False).  Options 1.13 lacks are
           emulated by exact compositions (see each case's note).
  formula  an independent implementation in this file, with torch tensor ops
           in the case's dtype, following the operation order of the
           upstream source named in the note (PyTorch 2.x torch/optim/*.py,
           Optax optax/_src/{alias,transform}.py, Keras 3 formulas).

Case names carry the dtype (adam_weight_decay_f32 / _f64).  Case name, spec
and note are one line each.  Cases whose note says "base lr * (1 +
0.5*sin(t))" change every group's lr before each step; the lr lines hold the
value used.  Cases with maximize=True still list the user's gradient.
Each rule's last case, <rule>_defaults, passes only what upstream requires
(spec `RMSprop()`, `SGD(lr=0.01)`): see tools/gen_ref_optim_defaults.py.

Comparing against these values: PyTorch's CPU kernels contract a + alpha*b
(add/addcmul/addcdiv with a scalar) into one fused multiply-add on this
build, and 2.x uses lerp where 1.13 used mul+add, so a C implementation
matches to a few ulps per step, not bit for bit; near-cancelling values (for
example x1 after step 1 of the quadratic CSV, -5.55e-17 in torch, 0 without
FMA) need an absolute tolerance scaled to the operands.

--selftest runs the formula code with every anchor option at its torch value
against torch.optim 1.13 (rounding-level agreement expected), every formula
case in float64 against a separate plain-numpy transcription, and torch's
constructor defaults against 2.x's; it exits 1 on any failure, 77 (CTest:
skipped) when numpy or torch is missing.
"""

import argparse
import math
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # 77: CTest reports the selftest as skipped (tests/CMakeLists.txt)
    print("gen_ref_optim.py: %s (needs /usr/bin/python3 with python3-torch and python3-numpy)" % e, file=sys.stderr)
    sys.exit(77)

import gen_ref_optim_defaults as defaults

SHAPES = [(4, 3), (5,), (2, 3, 2)]
PARAM_GROUP = [0, 0, 1]
NGROUPS = 2
STEPS = 50
SEED = 20240611
HEADER = ("# eta optimizer fixture, written by tools/gen_ref_optim.py "
          "(torch %s); do not edit" % torch.__version__)

DTYPES = {"f32": torch.float32, "f64": torch.float64}


def lr_factor(t):
    """Multiplier of the base lr before step t (t = 1..STEPS) in schedule cases."""
    return 1.0 + 0.5 * math.sin(t)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def _dyadic(x, quantum):
    """Round to a multiple of the power of two `quantum`: exactly representable
    in float32 and float64 alike, and short when printed."""
    return np.round(x / quantum) * quantum


def make_data(shapes=SHAPES, steps=STEPS, seed=SEED):
    """Initial parameters and the gradient sequence, float64 numpy arrays.

    Each gradient tensor of each step has its own scale 10**U(-2, 1), so
    consecutive gradients differ by up to three orders of magnitude and the
    signs of the entries flip at random (Rprop needs both).  All values are
    rounded to dyadic rationals (init: multiples of 2**-10; a gradient tensor:
    multiples of 2**(floor(log2(scale)) - 6), about 7 significant bits), so
    they are exact in float32 and the f32 and f64 cases start from, and are
    fed, bit-identical values; zero entries occur now and then."""
    rng = np.random.RandomState(seed)
    init = [_dyadic(rng.standard_normal(s), 2.0 ** -10) for s in shapes]
    grads = []
    for _ in range(steps):
        step = []
        for s in shapes:
            scale = 10.0 ** rng.uniform(-2.0, 1.0)
            q = 2.0 ** (math.floor(math.log2(scale)) - 6)
            step.append(_dyadic(rng.standard_normal(s) * scale, q))
        grads.append(step)
    for x in init + [g for st in grads for g in st]:
        assert np.array_equal(x.astype(np.float32).astype(np.float64), x)
    return init, grads


# --------------------------------------------------------------------------
# spec strings
# --------------------------------------------------------------------------

def fmt_arg(v):
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "True" if v else "False"
    if isinstance(v, (int, float)):
        return repr(float(v))
    if isinstance(v, str):
        return "'%s'" % v
    if isinstance(v, tuple):
        return "(" + ", ".join(fmt_arg(x) for x in v) + ")"
    raise TypeError(v)


def spec_str(cls, kw):
    return "%s(%s)" % (cls, ", ".join("%s=%s" % (k, fmt_arg(v)) for k, v in kw.items()))


def fmt_num(x):
    return repr(float(x))


def flat(t):
    return t.detach().to(torch.float64).reshape(-1).tolist()


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

class Case:
    def __init__(self, name, cls, g0, g1, source="torch", schedule=False, note="", spec=None):
        self.name = name
        self.cls = cls
        self.groups = [g0, g1]
        self.source = source
        self.schedule = schedule
        self.note = note
        self.spec = spec  # defaults cases: the only arguments written and passed to torch (both groups)

    def spec_kw(self, gi):
        return self.groups[gi] if self.spec is None else self.spec

    def lr_key(self):
        return "learning_rate" if "learning_rate" in self.groups[0] else "lr"


def H(**kw):
    return dict(kw)


SCHED_NOTE = "lr of every group = base lr * (1 + 0.5*sin(t)) before step t"


def cases_sgd():
    F = ("formula: momentum_mode='keras' (Keras 3 SGD: m = mu*m - lr*g; w += m, "
         "nesterov w += mu*m - lr*g); momentum_buffer = -m = mu*b + lr*g; "
         "weight_decay/maximize as torch (L2 on g, g negated first)")
    return [
        Case("sgd_weight_decay", "SGD",
             H(lr=0.05, momentum=0.7, dampening=0.0, weight_decay=0.05, nesterov=False, maximize=False),
             H(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
             note="torch.optim.SGD; group 1 has no momentum (no state)"),
        Case("sgd_nesterov_maximize_dampening", "SGD",
             H(lr=0.03, momentum=0.9, dampening=0.0, weight_decay=0.01, nesterov=True, maximize=True),
             H(lr=0.06, momentum=0.7, dampening=0.3, weight_decay=0.0, nesterov=False, maximize=True),
             note="torch.optim.SGD; group 1 dampened (first step buffer = g, no dampening)"),
        Case("sgd_lr_schedule", "SGD",
             H(lr=0.1, momentum=0.8, dampening=0.0, weight_decay=0.02, nesterov=False, maximize=False),
             H(lr=0.05, momentum=0.6, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
             schedule=True, note="torch.optim.SGD; " + SCHED_NOTE),
        Case("sgd_keras_momentum", "SGD",
             H(lr=0.1, momentum=0.8, dampening=0.0, weight_decay=0.01, nesterov=False, maximize=False,
               momentum_mode="keras"),
             H(lr=0.05, momentum=0.6, dampening=0.0, weight_decay=0.0, nesterov=True, maximize=False,
               momentum_mode="keras"),
             source="formula", schedule=True, note=F + "; " + SCHED_NOTE),
    ]


def _adam_cases(cls, prefix):
    base_note = "torch.optim.%s" % cls
    dwd = {"decoupled_weight_decay": False} if cls == "Adam" else {}
    dwd_t = {"decoupled_weight_decay": True} if cls == "Adam" else {}
    wd_default = 0.0 if cls == "Adam" else 0.01
    keras = ("formula: eps_mode='keras' (Keras 3 Adam: alpha = lr*sqrt(1-b2^t)/(1-b1^t); "
             "theta -= alpha*m/(sqrt(v)+eps)); moments and weight decay as torch 2.x adam.py "
             "(exp_avg via lerp)")
    amsopt = ("formula: amsgrad_mode='optax' (optax scale_by_amsgrad: vmax = max(vmax, v/(1-b2^t)); "
              "theta -= lr/(1-b1^t) * m/(sqrt(vmax)+eps)); state max_exp_avg_sq holds that max of v_hat; "
              "rest as torch 2.x adam.py")
    paper = ("formula: weight_decay_mode='paper' (decoupled decay theta *= 1 - weight_decay*(lr/initial_lr), "
             "initial_lr = the lr in the spec); rest as torch 2.x adam.py; " + SCHED_NOTE)
    out = [
        Case(prefix + "_weight_decay", cls,
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, amsgrad=False, maximize=False, **dwd),
             H(lr=0.005, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.0, amsgrad=False, maximize=False, **dwd),
             note=base_note),
        Case(prefix + "_amsgrad_maximize", cls,
             H(lr=0.02, betas=(0.85, 0.99), eps=1e-4, weight_decay=wd_default, amsgrad=True, maximize=True, **dwd),
             H(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=wd_default, amsgrad=False, maximize=True, **dwd),
             note=base_note + "; AMSGrad max over raw exp_avg_sq (torch)"),
        Case(prefix + ("_lr_schedule_decoupled" if cls == "Adam" else "_lr_schedule"), cls,
             H(lr=0.03, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.05, amsgrad=False, maximize=False, **dwd_t),
             H(lr=0.015, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.02, amsgrad=True, maximize=False, **dwd_t),
             schedule=True,
             note=base_note + "; " + SCHED_NOTE + ("; torch 1.13 Adam has no decoupled_weight_decay: computed by "
                                                  "torch.optim.AdamW with the same arguments (2.x: AdamW == "
                                                  "Adam(decoupled_weight_decay=True))" if cls == "Adam" else "")),
    ]
    out += [
        Case(prefix + "_eps_keras", cls,
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.05, amsgrad=False, maximize=False,
               **dwd, eps_mode="keras"),
             H(lr=0.005, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.0, amsgrad=False, maximize=False,
               **dwd, eps_mode="keras"),
             source="formula", note=keras),
        Case(prefix + "_amsgrad_optax", cls,
             H(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd_default, amsgrad=True, maximize=False,
               **dwd, amsgrad_mode="optax"),
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=wd_default, amsgrad=True, maximize=False,
               **dwd, amsgrad_mode="optax"),
             source="formula", note=amsopt),
        Case(prefix + "_wd_paper", cls,
             H(lr=0.02, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.01, amsgrad=False, maximize=False,
               **dwd_t, weight_decay_mode="paper"),
             H(lr=0.01, betas=(0.9, 0.99), eps=1e-6, weight_decay=0.02, amsgrad=False, maximize=False,
               **dwd_t, weight_decay_mode="paper"),
             source="formula", schedule=True, note=paper),
    ]
    return out


def cases_adam():
    return _adam_cases("Adam", "adam")


def cases_adamw():
    return _adam_cases("AdamW", "adamw")


def cases_adamax():
    n = "torch.optim.Adamax"
    return [
        Case("adamax_weight_decay", "Adamax",
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, maximize=False),
             H(lr=0.005, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.0, maximize=False), note=n),
        Case("adamax_maximize", "Adamax",
             H(lr=0.02, betas=(0.85, 0.99), eps=1e-3, weight_decay=0.0, maximize=True),
             H(lr=0.01, betas=(0.7, 0.9), eps=1e-3, weight_decay=0.01, maximize=True), note=n),
        Case("adamax_lr_schedule", "Adamax",
             H(lr=0.03, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, maximize=False),
             H(lr=0.015, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, maximize=False),
             schedule=True, note=n + "; " + SCHED_NOTE),
    ]


def cases_nadam():
    n = ("formula: torch 2.x torch/optim/nadam.py _single_tensor_nadam (mu_product_next = mu_product*mu_next; "
         "torch 1.13 multiplies an extra mu_t); mu_product kept as a tensor of the case dtype")
    return [
        Case("nadam_weight_decay", "NAdam",
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, momentum_decay=4e-3,
               decoupled_weight_decay=False, maximize=False),
             H(lr=0.005, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.0, momentum_decay=4e-3,
               decoupled_weight_decay=False, maximize=False),
             source="formula", note=n),
        Case("nadam_maximize", "NAdam",
             H(lr=0.02, betas=(0.85, 0.99), eps=1e-4, weight_decay=0.0, momentum_decay=0.05,
               decoupled_weight_decay=False, maximize=True),
             H(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.01, momentum_decay=0.1,
               decoupled_weight_decay=False, maximize=True),
             source="formula", note=n),
        Case("nadam_lr_schedule", "NAdam",
             H(lr=0.03, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.01, momentum_decay=4e-3,
               decoupled_weight_decay=False, maximize=False),
             H(lr=0.015, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
               decoupled_weight_decay=False, maximize=False),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
        Case("nadam_decoupled", "NAdam",
             H(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, momentum_decay=4e-3,
               decoupled_weight_decay=True, maximize=False),
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02, momentum_decay=4e-3,
               decoupled_weight_decay=True, maximize=False),
             source="formula", note=n + "; decoupled: theta *= 1 - lr*weight_decay before the moments"),
    ]


def cases_radam():
    n = "torch.optim.RAdam"
    return [
        Case("radam_weight_decay", "RAdam",
             H(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, decoupled_weight_decay=False,
               maximize=False),
             H(lr=0.005, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.0, decoupled_weight_decay=False,
               maximize=False), note=n),
        Case("radam_maximize", "RAdam",
             H(lr=0.02, betas=(0.85, 0.99), eps=1e-4, weight_decay=0.01, decoupled_weight_decay=False,
               maximize=True),
             H(lr=0.01, betas=(0.7, 0.9), eps=1e-4, weight_decay=0.0, decoupled_weight_decay=False,
               maximize=True),
             note=n + "; torch 1.13 RAdam has no maximize: torch was fed -grad (the grad lines hold grad)"),
        Case("radam_decoupled_lr_schedule", "RAdam",
             H(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.05, decoupled_weight_decay=True,
               maximize=False),
             H(lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.02, decoupled_weight_decay=True,
               maximize=False),
             schedule=True,
             note=n + "; torch 1.13 RAdam has no decoupled_weight_decay: before each step "
                      "param.mul_(1 - lr*weight_decay), then RAdam with weight_decay=0 (2.x radam.py applies "
                      "the same multiply before the moments, which do not read param); " + SCHED_NOTE),
        Case("radam_eps_optax", "RAdam",
             H(lr=0.02, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.05, decoupled_weight_decay=True,
               maximize=False, eps_mode="optax"),
             H(lr=0.01, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.02, decoupled_weight_decay=False,
               maximize=False, eps_mode="optax"),
             source="formula",
             note="formula: eps_mode='optax' (optax scale_by_radam: rect*m_hat/(sqrt(v_hat)+eps), v_hat = "
                  "exp_avg_sq/(1-b2^t)), rectified when rho_t > 5 as torch; weight decay and moments as "
                  "torch 2.x radam.py"),
    ]


def cases_adagrad():
    n = "torch.optim.Adagrad"
    return [
        Case("adagrad_weight_decay", "Adagrad",
             H(lr=0.05, lr_decay=0.0, weight_decay=0.05, initial_accumulator_value=0.0, eps=1e-10,
               maximize=False),
             H(lr=0.025, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
               maximize=False), note=n),
        Case("adagrad_maximize_lr_decay", "Adagrad",
             H(lr=0.1, lr_decay=0.05, weight_decay=0.0, initial_accumulator_value=0.1, eps=1e-6,
               maximize=True),
             H(lr=0.05, lr_decay=0.02, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-6,
               maximize=True),
             note=n + "; torch takes initial_accumulator_value from the constructor for all groups, "
                      "so both groups use the same value"),
        Case("adagrad_lr_schedule", "Adagrad",
             H(lr=0.1, lr_decay=0.0, weight_decay=0.01, initial_accumulator_value=0.0, eps=1e-10,
               maximize=False),
             H(lr=0.05, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
               maximize=False),
             schedule=True, note=n + "; " + SCHED_NOTE),
        Case("adagrad_eps_optax", "Adagrad",
             H(lr=0.1, lr_decay=0.05, weight_decay=0.0, initial_accumulator_value=0.1, eps=1e-4,
               maximize=False, eps_mode="optax"),
             H(lr=0.05, lr_decay=0.02, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-4,
               maximize=False, eps_mode="optax"),
             source="formula",
             note="formula: eps_mode='optax' (optax scale_by_rss: g/sqrt(sum+eps)); clr = lr/(1+(t-1)*lr_decay), "
                  "sum and weight decay as torch 2.x adagrad.py"),
    ]


def cases_rmsprop():
    n = "torch.optim.RMSprop"
    return [
        Case("rmsprop_weight_decay", "RMSprop",
             H(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.0, centered=False, maximize=False),
             H(lr=0.005, alpha=0.95, eps=1e-6, weight_decay=0.0, momentum=0.0, centered=False, maximize=False),
             note=n),
        Case("rmsprop_centered_momentum_maximize", "RMSprop",
             H(lr=0.01, alpha=0.9, eps=1e-4, weight_decay=0.01, momentum=0.7, centered=True, maximize=True),
             H(lr=0.005, alpha=0.8, eps=1e-4, weight_decay=0.0, momentum=0.5, centered=False, maximize=True),
             note=n),
        Case("rmsprop_lr_schedule", "RMSprop",
             H(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.01, momentum=0.7, centered=False, maximize=False),
             H(lr=0.005, alpha=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False),
             schedule=True, note=n + "; " + SCHED_NOTE),
        Case("rmsprop_eps_optax", "RMSprop",
             H(lr=0.01, alpha=0.9, eps=1e-3, weight_decay=0.01, momentum=0.7, centered=True, maximize=False,
               eps_mode="optax"),
             H(lr=0.005, alpha=0.95, eps=1e-3, weight_decay=0.0, momentum=0.0, centered=False, maximize=False,
               eps_mode="optax"),
             source="formula",
             note="formula: eps_mode='optax' (optax scale_by_rms/scale_by_stddev: g/sqrt(v+eps), centered "
                  "g/sqrt(v-gavg^2+eps)); moments, momentum (b = mu*b + g/d; theta -= lr*b) as torch 2.x "
                  "rmsprop.py"),
        Case("rmsprop_keras_momentum", "RMSprop",
             H(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.01, momentum=0.7, centered=True, maximize=False,
               momentum_mode="keras"),
             H(lr=0.005, alpha=0.95, eps=1e-6, weight_decay=0.0, momentum=0.9, centered=False, maximize=False,
               momentum_mode="keras"),
             source="formula", schedule=True,
             note="formula: momentum_mode='keras' (Keras 3 / optax rmsprop: momentum_buffer b = mu*b + lr*(g/d), "
                  "theta -= b; lr inside the buffer); d, moments as torch 2.x rmsprop.py; " + SCHED_NOTE),
    ]


def cases_adadelta():
    n = "torch.optim.Adadelta"
    return [
        Case("adadelta_weight_decay", "Adadelta",
             H(lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05, maximize=False),
             H(lr=0.25, rho=0.95, eps=1e-4, weight_decay=0.0, maximize=False), note=n),
        Case("adadelta_maximize", "Adadelta",
             H(lr=1.0, rho=0.9, eps=1e-3, weight_decay=0.0, maximize=True),
             H(lr=0.5, rho=0.7, eps=1e-3, weight_decay=0.01, maximize=True), note=n),
        Case("adadelta_lr_schedule", "Adadelta",
             H(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.01, maximize=False),
             H(lr=0.5, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
             schedule=True, note=n + "; " + SCHED_NOTE),
    ]


def cases_asgd():
    n = "torch.optim.ASGD; eta/mu are 0-dim tensors of the case dtype"
    return [
        Case("asgd_weight_decay", "ASGD",
             H(lr=0.05, lambd=0.01, alpha=0.6, t0=20.0, weight_decay=0.05, maximize=False),
             H(lr=0.025, lambd=0.001, alpha=0.75, t0=10.0, weight_decay=0.0, maximize=False), note=n),
        Case("asgd_maximize", "ASGD",
             H(lr=0.03, lambd=0.05, alpha=0.75, t0=5.0, weight_decay=0.0, maximize=True),
             H(lr=0.015, lambd=0.01, alpha=0.5, t0=30.0, weight_decay=0.01, maximize=True), note=n),
        Case("asgd_lr_schedule", "ASGD",
             H(lr=0.05, lambd=0.01, alpha=0.75, t0=10.0, weight_decay=0.01, maximize=False),
             H(lr=0.025, lambd=0.02, alpha=0.6, t0=0.0, weight_decay=0.0, maximize=False),
             schedule=True,
             note=n + "; " + SCHED_NOTE + "; eta used at step t was computed at step t-1 from that step's lr"),
    ]


def cases_rprop():
    n = "torch.optim.Rprop"
    return [
        Case("rprop_step_sizes", "Rprop",
             H(lr=0.02, etas=(0.4, 1.3), step_sizes=(1e-3, 0.05), maximize=False),
             H(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False), note=n),
        Case("rprop_maximize", "Rprop",
             H(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-4, 1.0), maximize=True),
             H(lr=0.03, etas=(0.6, 1.1), step_sizes=(1e-5, 0.2), maximize=True), note=n),
        Case("rprop_lr_schedule", "Rprop",
             H(lr=0.02, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False),
             H(lr=0.01, etas=(0.5, 1.2), step_sizes=(1e-6, 50.0), maximize=False),
             schedule=True,
             note=n + "; " + SCHED_NOTE + "; Rprop reads lr only when it creates step_size (first step)"),
    ]


def cases_adafactor():
    n = ("formula: torch 2.x torch/optim/_adafactor.py _single_tensor_adafactor (not in torch 1.13); "
         "eps1=None means torch.finfo(dtype).eps; factored on the last two dims when ndim >= 2")
    return [
        Case("adafactor_weight_decay", "Adafactor",
             H(lr=0.02, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.05, maximize=False),
             H(lr=0.01, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False),
             source="formula", note=n),
        Case("adafactor_eps1", "Adafactor",
             H(lr=0.05, beta2_decay=-0.7, eps=(0.5, 1e-2), d=1.0, weight_decay=0.0, maximize=False),
             H(lr=0.03, beta2_decay=-0.7, eps=(0.3, 1.5), d=1.0, weight_decay=0.01, maximize=False),
             source="formula", note=n + "; eps1 large enough that both eps1 clamps act at some steps, "
                                        "group 1 eps2 > RMS(theta)"),
        Case("adafactor_clip_d", "Adafactor",
             H(lr=0.3, beta2_decay=-0.8, eps=(None, 1e-3), d=1.25, weight_decay=0.01, maximize=True),
             H(lr=0.1, beta2_decay=-0.6, eps=(None, 1e-3), d=2.0, weight_decay=0.0, maximize=True),
             source="formula",
             note=n + "; lr 0.3 > 1/sqrt(t) from t=12 on (rho_t = min(lr, 1/sqrt(t))); torch requires d >= 1"),
        Case("adafactor_lr_schedule", "Adafactor",
             H(lr=0.2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.02, maximize=False),
             H(lr=0.05, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, maximize=False),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
    ]


OPTAX_DT = ("ops in the case dtype as JAX does (scalars such as 1-b^t computed in the case dtype); "
            "update u, then param += (-learning_rate)*u")


def cases_lion():
    n = ("formula: optax lion = chain(scale_by_lion, add_decayed_weights, scale_by_learning_rate): "
         "u = sign((1-b1)*g + b1*m) + wd*theta; m = (1-b2)*g + b2*m; " + OPTAX_DT + "; state exp_avg = optax mu")
    return [
        Case("lion_weight_decay", "Lion",
             H(learning_rate=0.01, b1=0.9, b2=0.99, weight_decay=0.05),
             H(learning_rate=0.005, b1=0.9, b2=0.99, weight_decay=0.0),
             source="formula", note=n),
        Case("lion_betas", "Lion",
             H(learning_rate=0.02, b1=0.8, b2=0.95, weight_decay=0.001),
             H(learning_rate=0.01, b1=0.5, b2=0.9, weight_decay=0.01),
             source="formula", note=n),
        Case("lion_lr_schedule", "Lion",
             H(learning_rate=0.01, b1=0.9, b2=0.99, weight_decay=0.01),
             H(learning_rate=0.005, b1=0.9, b2=0.99, weight_decay=0.0),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
    ]


def cases_lamb():
    n = ("formula: optax lamb = chain(scale_by_adam(b1,b2,eps,eps_root), add_decayed_weights, "
         "scale_by_trust_ratio(), scale_by_learning_rate): u = m_hat/(sqrt(v_hat+eps_root)+eps) + wd*theta; "
         "u *= ||theta||/||u|| per tensor (1 if either norm is 0); " + OPTAX_DT)
    return [
        Case("lamb_weight_decay", "LAMB",
             H(learning_rate=0.01, b1=0.8, b2=0.95, eps=1e-6, eps_root=0.0, weight_decay=0.05),
             H(learning_rate=0.005, b1=0.8, b2=0.95, eps=1e-6, eps_root=0.0, weight_decay=0.0),
             source="formula", note=n),
        Case("lamb_eps_root", "LAMB",
             H(learning_rate=0.02, b1=0.9, b2=0.999, eps=1e-3, eps_root=1e-4, weight_decay=0.01),
             H(learning_rate=0.01, b1=0.7, b2=0.9, eps=1e-8, eps_root=1e-6, weight_decay=0.0),
             source="formula", note=n),
        Case("lamb_lr_schedule", "LAMB",
             H(learning_rate=0.01, b1=0.9, b2=0.99, eps=1e-6, eps_root=0.0, weight_decay=0.01),
             H(learning_rate=0.005, b1=0.9, b2=0.99, eps=1e-6, eps_root=0.0, weight_decay=0.0),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
    ]


def cases_lars():
    n = ("formula: optax lars = chain(add_decayed_weights, scale_by_trust_ratio(trust_coefficient, eps), "
         "scale_by_learning_rate, trace(momentum, nesterov)): u = g + wd*theta; u *= tc*||theta||/(||u||+eps) "
         "per tensor (1 if either norm is 0); optax trace t = -lr*u + mu*t; theta += t (nesterov: "
         "theta += -lr*u + mu*t); state momentum_buffer = -t (positive, = mu*b + lr*u); " + OPTAX_DT)
    return [
        Case("lars_weight_decay", "LARS",
             H(learning_rate=0.2, weight_decay=0.05, trust_coefficient=0.05, eps=0.0, momentum=0.7,
               nesterov=False),
             H(learning_rate=0.1, weight_decay=0.0, trust_coefficient=0.05, eps=0.0, momentum=0.9,
               nesterov=False),
             source="formula", note=n),
        Case("lars_nesterov", "LARS",
             H(learning_rate=0.3, weight_decay=0.01, trust_coefficient=0.02, eps=1e-4, momentum=0.9,
               nesterov=True),
             H(learning_rate=0.15, weight_decay=0.0, trust_coefficient=0.1, eps=1e-3, momentum=0.5,
               nesterov=True),
             source="formula", note=n),
        Case("lars_lr_schedule", "LARS",
             H(learning_rate=0.2, weight_decay=0.01, trust_coefficient=0.05, eps=0.0, momentum=0.8,
               nesterov=False),
             H(learning_rate=0.1, weight_decay=0.0, trust_coefficient=0.05, eps=0.0, momentum=0.8,
               nesterov=True),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
    ]


def cases_adabelief():
    n = ("formula: optax adabelief = chain(scale_by_belief, scale_by_learning_rate): m = (1-b1)*g + b1*m; "
         "s = (1-b2)*(g-m)^2 + b2*s + eps_root (stored with eps_root); u = m_hat/(sqrt(s_hat)+eps); " + OPTAX_DT)
    return [
        Case("adabelief_betas", "AdaBelief",
             H(learning_rate=0.01, b1=0.8, b2=0.95, eps=1e-8, eps_root=1e-10),
             H(learning_rate=0.005, b1=0.8, b2=0.95, eps=1e-8, eps_root=1e-10),
             source="formula", note=n),
        Case("adabelief_default_eps", "AdaBelief",
             H(learning_rate=0.02, b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16),
             H(learning_rate=0.01, b1=0.7, b2=0.9, eps=1e-3, eps_root=1e-6),
             source="formula", note=n),
        Case("adabelief_lr_schedule", "AdaBelief",
             H(learning_rate=0.01, b1=0.9, b2=0.99, eps=1e-8, eps_root=1e-12),
             H(learning_rate=0.005, b1=0.9, b2=0.99, eps=1e-8, eps_root=1e-12),
             source="formula", schedule=True, note=n + "; " + SCHED_NOTE),
    ]


OPTIMIZERS = [
    ("SGD", cases_sgd), ("Adam", cases_adam), ("AdamW", cases_adamw), ("Adamax", cases_adamax),
    ("NAdam", cases_nadam), ("RAdam", cases_radam), ("Adagrad", cases_adagrad),
    ("RMSprop", cases_rmsprop), ("Adadelta", cases_adadelta), ("ASGD", cases_asgd),
    ("Rprop", cases_rprop), ("Adafactor", cases_adafactor), ("Lion", cases_lion),
    ("LAMB", cases_lamb), ("LARS", cases_lars), ("AdaBelief", cases_adabelief),
]
OPTIMIZERS = defaults.with_defaults(OPTIMIZERS, Case)

STATE_ORDER = {
    "SGD": ["momentum_buffer"],
    "Adam": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "AdamW": ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"],
    "Adamax": ["exp_avg", "exp_inf"],
    "NAdam": ["exp_avg", "exp_avg_sq", "mu_product"],
    "RAdam": ["exp_avg", "exp_avg_sq"],
    "Adagrad": ["sum"],
    "RMSprop": ["square_avg", "momentum_buffer", "grad_avg"],
    "Adadelta": ["square_avg", "acc_delta"],
    "ASGD": ["eta", "mu", "ax"],
    "Rprop": ["prev", "step_size"],
    "Adafactor": ["row_var", "col_var", "variance"],
    "Lion": ["exp_avg"],
    "LAMB": ["exp_avg", "exp_avg_sq"],
    "LARS": ["momentum_buffer"],
    "AdaBelief": ["exp_avg", "exp_avg_var"],
}
SCALAR_STATES = {"eta", "mu", "mu_product"}

MODE_KEYS = {"eps_mode", "amsgrad_mode", "weight_decay_mode", "momentum_mode"}

# spec argument names eta accepts, per class (checked by --check)
_ADAM_ARGS = {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "eps_mode", "amsgrad_mode",
              "weight_decay_mode"}
SPEC_ARGS = {
    "SGD": {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "momentum_mode"},
    "Adam": _ADAM_ARGS | {"decoupled_weight_decay"},
    "AdamW": _ADAM_ARGS,
    "Adamax": {"lr", "betas", "eps", "weight_decay", "maximize"},
    "NAdam": {"lr", "betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"},
    "RAdam": {"lr", "betas", "eps", "weight_decay", "decoupled_weight_decay", "maximize", "eps_mode"},
    "Adagrad": {"lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize", "eps_mode"},
    "RMSprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize", "eps_mode",
                "momentum_mode"},
    "Adadelta": {"lr", "rho", "eps", "weight_decay", "maximize"},
    "ASGD": {"lr", "lambd", "alpha", "t0", "weight_decay", "maximize"},
    "Rprop": {"lr", "etas", "step_sizes", "maximize"},
    "Adafactor": {"lr", "beta2_decay", "eps", "d", "weight_decay", "maximize"},
    "Lion": {"learning_rate", "b1", "b2", "weight_decay"},
    "LAMB": {"learning_rate", "b1", "b2", "eps", "eps_root", "weight_decay"},
    "LARS": {"learning_rate", "weight_decay", "trust_coefficient", "eps", "momentum", "nesterov"},
    "AdaBelief": {"learning_rate", "b1", "b2", "eps", "eps_root"},
}


# --------------------------------------------------------------------------
# torch runner
# --------------------------------------------------------------------------

def run_torch(case, dt, init, grads):
    torch.set_default_dtype(dt)
    params = [torch.tensor(x, dtype=dt).requires_grad_(True) for x in init]
    cls = case.cls
    kws = [dict(case.spec_kw(gi)) for gi in range(NGROUPS)]
    for kw in kws:
        assert not (MODE_KEYS & set(kw)), "torch case with an anchor option"
    negate = False
    pre_decay = None
    if cls == "Adam" and "decoupled_weight_decay" in kws[0]:
        dec = [kw.pop("decoupled_weight_decay") for kw in kws]
        assert dec[0] == dec[1]
        if dec[0]:
            cls = "AdamW"
    if cls == "RAdam":
        dec = [kw.pop("decoupled_weight_decay", False) for kw in kws]
        mx = [kw.pop("maximize", False) for kw in kws]
        assert dec[0] == dec[1] and mx[0] == mx[1]
        negate = mx[0]
        if dec[0]:
            pre_decay = [kw["weight_decay"] for kw in kws]
            for kw in kws:
                kw["weight_decay"] = 0.0
    groups = []
    for gi in range(NGROUPS):
        members = [params[i] for i in range(len(params)) if PARAM_GROUP[i] == gi]
        groups.append(dict(params=members, **kws[gi]))
    defaults = dict(kws[0])
    opt = getattr(torch.optim, cls)(groups, foreach=False, **defaults)
    base = [g["lr"] for g in opt.param_groups]
    out = []
    for t in range(1, STEPS + 1):
        if case.schedule:
            for gi, g in enumerate(opt.param_groups):
                g["lr"] = base[gi] * lr_factor(t)
        lrs = [g["lr"] for g in opt.param_groups]
        fed = [torch.tensor(x, dtype=dt) for x in grads[t - 1]]
        for p, g in zip(params, fed):
            p.grad = (-g if negate else g).clone()
        if pre_decay is not None:
            with torch.no_grad():
                for gi, g in enumerate(opt.param_groups):
                    if pre_decay[gi] != 0:
                        for p in g["params"]:
                            p.mul_(1 - g["lr"] * pre_decay[gi])
        opt.step()
        states = []
        for p in params:
            st = opt.state[p]
            states.append([(n, flat(st[n])) for n in STATE_ORDER[case.cls]
                           if n in st and st[n] is not None])
        out.append((lrs, [flat(g) for g in fed], [flat(p) for p in params], states))
    return out


# --------------------------------------------------------------------------
# formula implementations (one tensor at a time; torch ops in the case dtype)
# st: per-parameter state dict (keys with a leading '_' are not written)
# --------------------------------------------------------------------------

def scalar_dtype():
    # torch 2.x optimizer._get_scalar_dtype(): float64 iff the default dtype is
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def f_sgd(p, g, st, hp, lr, lr0, t):
    # torch 2.x sgd.py _single_tensor_sgd; momentum_mode='keras' per Keras 3 SGD
    if hp["maximize"]:
        g = -g
    if hp["weight_decay"] != 0:
        g = g.add(p, alpha=hp["weight_decay"])
    mu = hp["momentum"]
    keras = hp.get("momentum_mode", "torch") == "keras"
    if mu == 0:
        p.add_(g, alpha=-lr)
        return
    if keras:
        assert hp["dampening"] == 0
        # Keras: m = m*mu - g*lr; we keep b = -m (negation is exact)
        b = st.get("momentum_buffer")
        if b is None:
            b = st["momentum_buffer"] = torch.zeros_like(p)
        b.mul_(mu).add_(g.mul(lr))
        if hp["nesterov"]:
            p.sub_(b.mul(mu).add_(g.mul(lr)))
        else:
            p.sub_(b)
        return
    b = st.get("momentum_buffer")
    if b is None:
        b = st["momentum_buffer"] = g.detach().clone()
    else:
        b.mul_(mu).add_(g, alpha=1 - hp["dampening"])
    if hp["nesterov"]:
        g = g.add(b, alpha=mu)
    else:
        g = b
    p.add_(g, alpha=-lr)


def _adam_common(p, g, st, hp, lr, lr0, t, decoupled):
    b1, b2 = hp["betas"]
    eps = hp["eps"]
    wd = hp["weight_decay"]
    amsgrad = hp["amsgrad"]
    eps_mode = hp.get("eps_mode", "torch")
    ams_mode = hp.get("amsgrad_mode", "torch")
    wd_mode = hp.get("weight_decay_mode", "torch")
    if not st:
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
        if amsgrad:
            st["max_exp_avg_sq"] = torch.zeros_like(p)
    if hp["maximize"]:
        g = -g
    if wd != 0:
        if decoupled:
            if wd_mode == "paper":
                p.mul_(1 - wd * (lr / lr0))
            else:
                p.mul_(1 - lr * wd)
        else:
            assert wd_mode == "torch"
            g = g.add(p, alpha=wd)
    m, v = st["exp_avg"], st["exp_avg_sq"]
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    bc1 = 1 - b1 ** t
    bc2 = 1 - b2 ** t
    if eps_mode == "keras":
        assert ams_mode == "torch"
        if amsgrad:
            torch.maximum(st["max_exp_avg_sq"], v, out=st["max_exp_avg_sq"])
            v = st["max_exp_avg_sq"]
        alpha = lr * math.sqrt(bc2) / bc1
        p.addcdiv_(m, v.sqrt().add_(eps), value=-alpha)
        return
    step_size = lr / bc1
    if amsgrad and ams_mode == "optax":
        vmax = st["max_exp_avg_sq"]
        torch.maximum(vmax, v / bc2, out=vmax)
        denom = vmax.sqrt().add_(eps)
    elif amsgrad:
        vmax = st["max_exp_avg_sq"]
        torch.maximum(vmax, v, out=vmax)
        denom = (vmax.sqrt() / bc2 ** 0.5).add_(eps)
    else:
        denom = (v.sqrt() / bc2 ** 0.5).add_(eps)
    p.addcdiv_(m, denom, value=-step_size)


def f_adam(p, g, st, hp, lr, lr0, t):
    _adam_common(p, g, st, hp, lr, lr0, t, hp.get("decoupled_weight_decay", False))


def f_adamw(p, g, st, hp, lr, lr0, t):
    _adam_common(p, g, st, hp, lr, lr0, t, True)


def f_nadam(p, g, st, hp, lr, lr0, t):
    # torch 2.x nadam.py _single_tensor_nadam (non-capturable, non-differentiable branch)
    b1, b2 = hp["betas"]
    eps, wd, psi = hp["eps"], hp["weight_decay"], hp["momentum_decay"]
    if not st:
        st["mu_product"] = torch.tensor(1.0, dtype=scalar_dtype())
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
    if hp["maximize"]:
        g = -g
    step = float(t)
    bias_correction2 = 1 - b2 ** step
    if wd != 0:
        if hp["decoupled_weight_decay"]:
            p.mul_(1 - lr * wd)
        else:
            g = g.add(p, alpha=wd)
    mu = b1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
    mp = st["mu_product"]
    mp *= mu
    m, v = st["exp_avg"], st["exp_avg_sq"]
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    denom = v.div(bias_correction2).sqrt()
    mu_product_next = mp.item() * mu_next
    denom.add_(eps)
    p.addcdiv_(g, denom, value=(-lr * (1.0 - mu) / (1.0 - mp.item())))
    p.addcdiv_(m, denom, value=(-lr * mu_next) / (1.0 - mu_product_next))


def f_radam(p, g, st, hp, lr, lr0, t):
    # torch 2.x radam.py _single_tensor_radam; eps_mode='optax' per optax scale_by_radam
    b1, b2 = hp["betas"]
    eps, wd = hp["eps"], hp["weight_decay"]
    optax_eps = hp.get("eps_mode", "torch") == "optax"
    if not st:
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
    if hp["maximize"]:
        g = -g
    step = float(t)
    if wd != 0:
        if hp["decoupled_weight_decay"]:
            p.mul_(1 - lr * wd)
        else:
            g = g.add(p, alpha=wd)
    m, v = st["exp_avg"], st["exp_avg_sq"]
    m.lerp_(g, 1 - b1)
    v.mul_(b2).addcmul_(g, g, value=1 - b2)
    bc1 = 1 - b1 ** step
    bc2 = 1 - b2 ** step
    m_hat = m / bc1
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
    if rho_t > 5.0:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
        if optax_eps:
            v_hat = v / bc2
            upd = m_hat.mul(rect).div_(v_hat.sqrt().add_(eps))
            p.add_(upd * lr, alpha=-1.0)
        else:
            adaptive_lr = (bc2 ** 0.5) / v.sqrt().add_(eps)
            p.add_(m_hat * lr * adaptive_lr * rect, alpha=-1.0)
    else:
        p.add_(m_hat * lr, alpha=-1.0)


def f_adagrad(p, g, st, hp, lr, lr0, t):
    # torch 2.x adagrad.py _single_tensor_adagrad (dense); eps_mode='optax': g/sqrt(sum+eps)
    if not st:
        st["sum"] = torch.full_like(p, hp["initial_accumulator_value"])
    if hp["maximize"]:
        g = -g
    if hp["weight_decay"] != 0:
        g = g.add(p, alpha=hp["weight_decay"])
    clr = lr / (1 + (float(t) - 1) * hp["lr_decay"])
    s = st["sum"]
    s.addcmul_(g, g, value=1)
    if hp.get("eps_mode", "torch") == "optax":
        std = s.add(hp["eps"]).sqrt_()
    else:
        std = s.sqrt().add_(hp["eps"])
    p.addcdiv_(g, std, value=-clr)


def f_rmsprop(p, g, st, hp, lr, lr0, t):
    # torch 2.x rmsprop.py _single_tensor_rmsprop; eps_mode='optax' (eps inside the sqrt);
    # momentum_mode='keras' (buffer accumulates lr*g/d, theta -= buffer)
    alpha, eps, mom = hp["alpha"], hp["eps"], hp["momentum"]
    if not st:
        st["square_avg"] = torch.zeros_like(p)
        if mom > 0:
            st["momentum_buffer"] = torch.zeros_like(p)
        if hp["centered"]:
            st["grad_avg"] = torch.zeros_like(p)
    if hp["maximize"]:
        g = -g
    if hp["weight_decay"] != 0:
        g = g.add(p, alpha=hp["weight_decay"])
    sq = st["square_avg"]
    sq.mul_(alpha).addcmul_(g, g, value=1 - alpha)
    if hp["centered"]:
        ga = st["grad_avg"]
        ga.lerp_(g, 1 - alpha)
        var = sq.addcmul(ga, ga, value=-1)
    else:
        var = sq.clone()
    if hp.get("eps_mode", "torch") == "optax":
        avg = var.add_(eps).sqrt_()
    else:
        avg = var.sqrt_().add_(eps)
    if mom > 0:
        buf = st["momentum_buffer"]
        if hp.get("momentum_mode", "torch") == "keras":
            buf.mul_(mom).add_(g.div(avg).mul_(lr))
            p.sub_(buf)
        else:
            buf.mul_(mom).addcdiv_(g, avg)
            p.add_(buf, alpha=-lr)
    else:
        p.addcdiv_(g, avg, value=-lr)


def f_adafactor(p, g, st, hp, lr, lr0, t):
    # torch 2.x _adafactor.py _single_tensor_adafactor
    eps1, eps2 = hp["eps"]
    d, wd, beta2_decay = hp["d"], hp["weight_decay"], hp["beta2_decay"]
    if hp["maximize"]:
        g = -g
    if eps1 is None:
        eps1 = torch.finfo(p.dtype).eps
    if not st:
        st["_step"] = torch.tensor(0.0, dtype=scalar_dtype())
        if g.dim() > 1:
            rs = list(g.shape)
            rs[-1] = 1
            st["row_var"] = g.new_zeros(rs)
            cs = list(g.shape)
            cs[-2] = 1
            st["col_var"] = g.new_zeros(cs)
        else:
            st["variance"] = torch.zeros_like(g)
    st["_step"] += 1
    step_float = st["_step"].item()
    one_minus_beta2_t = step_float ** beta2_decay
    rho_t = min(lr, 1 / (step_float ** 0.5))
    alpha = max(eps2, p.norm(2).item() / (p.numel() ** 0.5)) * rho_t
    if wd != 0:
        p.mul_(1 - lr * wd)
    if g.dim() > 1:
        row_var, col_var = st["row_var"], st["col_var"]
        row_mean = torch.linalg.vector_norm(g, dim=-1, keepdim=True).square_().div_(g.size(-1))
        row_var.lerp_(row_mean, one_minus_beta2_t)
        col_mean = torch.linalg.vector_norm(g, dim=-2, keepdim=True).square_().div_(g.size(-2))
        col_var.lerp_(col_mean, one_minus_beta2_t)
        var_estimate = row_var @ col_var
        var_estimate.div_(row_var.mean(dim=-2, keepdim=True).clamp_(min=eps1))
    else:
        variance = st["variance"]
        variance.lerp_(g * g, one_minus_beta2_t)
        var_estimate = variance.clone()
    update = var_estimate.clamp_(min=eps1 * eps1).rsqrt_()
    update.mul_(g)
    denom = max(1.0, update.norm(2).item() / ((update.numel() ** 0.5) * d))
    p.add_(update, alpha=-alpha / denom)


# ---- Optax-derived rules: JAX semantics, weakly typed Python scalars become the
# ---- case dtype; 1 - b**count is evaluated in the case dtype.

def _dt_scalar(x):
    return torch.tensor(x, dtype=torch.get_default_dtype())


def _bias_corr(decay, t):
    return 1 - _dt_scalar(decay) ** t


def _moment(g, m, decay):
    # optax tree_update_moment: (1 - decay) * g + decay * m
    return (g * (1 - decay)).add_(m * decay)


def _moment2(g, v, decay):
    # optax tree_update_moment_per_elem_norm(order=2): (1 - decay) * g**2 + decay * v
    return ((g * g) * (1 - decay)).add_(v * decay)


def _apply_lr(p, u, lr):
    # scale_by_learning_rate: (-lr) * u; apply_updates: p + u
    p.add_(u * (-lr))


def _norm(x):
    return torch.linalg.vector_norm(x)


def f_lion(p, g, st, hp, lr, lr0, t):
    b1, b2, wd = hp["b1"], hp["b2"], hp["weight_decay"]
    if not st:
        st["exp_avg"] = torch.zeros_like(p)
    m = st["exp_avg"]
    u = ((g * (1 - b1)).add_(m * b1)).sign_()
    st["exp_avg"] = _moment(g, m, b2)
    u = u.add_(p * wd)
    _apply_lr(p, u, lr)


def f_lamb(p, g, st, hp, lr, lr0, t):
    b1, b2, eps, eps_root, wd = hp["b1"], hp["b2"], hp["eps"], hp["eps_root"], hp["weight_decay"]
    if not st:
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_sq"] = torch.zeros_like(p)
    m = st["exp_avg"] = _moment(g, st["exp_avg"], b1)
    v = st["exp_avg_sq"] = _moment2(g, st["exp_avg_sq"], b2)
    m_hat = m / _bias_corr(b1, t)
    v_hat = v / _bias_corr(b2, t)
    u = m_hat / ((v_hat + eps_root).sqrt_().add_(eps))
    u = u.add_(p * wd)
    pn, un = _norm(p), _norm(u)
    tr = 1.0 * pn / (un + 0.0)
    if pn.item() == 0.0 or un.item() == 0.0:
        tr = _dt_scalar(1.0)
    u = u * tr
    _apply_lr(p, u, lr)


def f_lars(p, g, st, hp, lr, lr0, t):
    wd, tc, eps = hp["weight_decay"], hp["trust_coefficient"], hp["eps"]
    mom, nesterov = hp["momentum"], hp["nesterov"]
    if not st:
        st["_trace"] = torch.zeros_like(p)
    u = g.add(p * wd)
    pn, un = _norm(p), _norm(u)
    tr = tc * pn / (un + eps)
    if pn.item() == 0.0 or un.item() == 0.0:
        tr = _dt_scalar(1.0)
    u = u * tr
    u = u * (-lr)
    tr_new = u.add(st["_trace"] * mom)
    st["_trace"] = tr_new
    upd = u.add(tr_new * mom) if nesterov else tr_new
    p.add_(upd)
    st["momentum_buffer"] = -tr_new


def f_adabelief(p, g, st, hp, lr, lr0, t):
    b1, b2, eps, eps_root = hp["b1"], hp["b2"], hp["eps"], hp["eps_root"]
    if not st:
        st["exp_avg"] = torch.zeros_like(p)
        st["exp_avg_var"] = torch.zeros_like(p)
    m = st["exp_avg"] = _moment(g, st["exp_avg"], b1)
    pe = g - m
    s = _moment2(pe, st["exp_avg_var"], b2)
    s = st["exp_avg_var"] = s.add_(eps_root)
    m_hat = m / _bias_corr(b1, t)
    s_hat = s / _bias_corr(b2, t)
    u = m_hat / (s_hat.sqrt().add_(eps))
    _apply_lr(p, u, lr)


FORMULAS = {
    "SGD": f_sgd, "Adam": f_adam, "AdamW": f_adamw, "NAdam": f_nadam, "RAdam": f_radam,
    "Adagrad": f_adagrad, "RMSprop": f_rmsprop, "Adafactor": f_adafactor, "Lion": f_lion,
    "LAMB": f_lamb, "LARS": f_lars, "AdaBelief": f_adabelief,
}


def run_formula(case, dt, init, grads):
    torch.set_default_dtype(dt)
    fn = FORMULAS[case.cls]
    key = case.lr_key()
    params = [torch.tensor(x, dtype=dt) for x in init]
    states = [dict() for _ in params]
    base = [case.groups[gi][key] for gi in range(NGROUPS)]
    out = []
    with torch.no_grad():
        for t in range(1, STEPS + 1):
            lrs = [b * lr_factor(t) if case.schedule else b for b in base]
            fed = [torch.tensor(x, dtype=dt) for x in grads[t - 1]]
            for i, p in enumerate(params):
                gi = PARAM_GROUP[i]
                fn(p, fed[i].clone(), states[i], case.groups[gi], lrs[gi], base[gi], t)
            st_out = []
            for st in states:
                st_out.append([(n, flat(st[n])) for n in STATE_ORDER[case.cls] if n in st])
            out.append((lrs, [flat(g) for g in fed], [flat(p) for p in params], st_out))
    return out


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------

def write_case(f, case, dname, init_vals, result, shapes=SHAPES, param_group=PARAM_GROUP):
    f.write("case %s_%s\n" % (case.name, dname))
    f.write("dtype %s\n" % dname)
    f.write("source %s\n" % case.source)
    if case.note:
        f.write("note %s\n" % case.note)
    f.write("spec %s\n" % spec_str(case.cls, case.spec_kw(0)))
    f.write("group 1 %s\n" % spec_str(case.cls, case.spec_kw(1)))
    for i, s in enumerate(shapes):
        f.write("param %d group %d shape %s\n" % (i, param_group[i], " ".join(str(x) for x in s)))
    for i, v in enumerate(init_vals):
        f.write("init %d %s\n" % (i, " ".join(fmt_num(x) for x in v)))
    f.write("steps %d\n" % len(result))
    write_steps(f, result)
    f.write("end\n")


def write_steps(f, result, extra=None):
    """The step blocks of a case: result rows start (lrs, grads, values,
    states); extra(row), when given, returns more lines for the step, written
    after its state lines (tools/gen_ref_optim_adapt.py: scalars)."""
    for t, row in enumerate(result, 1):
        lrs, gs, vs, sts = row[:4]
        f.write("step %d\n" % t)
        for gi, lr in enumerate(lrs):
            f.write("lr %d %s\n" % (gi, fmt_num(lr)))
        for i, g in enumerate(gs):
            f.write("grad %d %s\n" % (i, " ".join(fmt_num(x) for x in g)))
        for i, v in enumerate(vs):
            f.write("value %d %s\n" % (i, " ".join(fmt_num(x) for x in v)))
        for i, st in enumerate(sts):
            for name, vals in st:
                f.write("state %d %s %s\n" % (i, name, " ".join(fmt_num(x) for x in vals)))
        for line in extra(row) if extra else ():
            f.write(line + "\n")


def generate(outdir):
    if defaults.check_torch_defaults(torch):
        raise SystemExit("torch.optim's defaults differ from 2.x's: the defaults cases would be wrong")
    os.makedirs(outdir, exist_ok=True)
    init, grads = make_data()
    summary = []
    for cls, fn in OPTIMIZERS:
        path = os.path.join(outdir, "optim_%s.txt" % cls.lower())
        cases = fn()
        names = [c.name for c in cases]
        assert len(names) == len(set(names)), names
        with open(path, "w") as f:
            f.write(HEADER + "\n")
            for case in cases:
                for dname in ("f32", "f64"):
                    dt = DTYPES[dname]
                    runner = run_torch if case.source == "torch" else run_formula
                    result = runner(case, dt, init, grads)
                    init_vals = [flat(torch.tensor(x, dtype=dt)) for x in init]
                    check_finite(case, dname, result)
                    write_case(f, case, dname, init_vals, result)
        torch.set_default_dtype(torch.float32)
        summary.append((path, len(cases) * 2, os.path.getsize(path)))
    csv = write_quadratic(outdir)
    summary.append((csv, 1, os.path.getsize(csv)))
    total = 0
    for path, n, size in summary:
        total += size
        print("%-40s %3d cases %9d bytes" % (os.path.relpath(path), n, size))
    print("total %d bytes" % total)


def check_finite(case, dname, result):
    for lrs, gs, vs, sts in result:
        for arr in vs + [v for st in sts for _, v in st]:
            for x in arr:
                if not math.isfinite(x):
                    raise SystemExit("non-finite value in %s_%s" % (case.name, dname))


def write_quadratic(outdir):
    """torch SGD(lr=0.1, momentum=0.9) on f(x) = 1/2*(x0^2 + 10*x1^2) from (1, 1)."""
    torch.set_default_dtype(torch.float64)
    path = os.path.join(outdir, "optimize_sgd_quadratic.csv")
    x = torch.tensor([1.0, 1.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=0.1, momentum=0.9, foreach=False)
    coef = torch.tensor([1.0, 10.0], dtype=torch.float64)
    rows = []
    for step in range(0, 101):
        opt.zero_grad()
        loss = 0.5 * (coef * x * x).sum()
        loss.backward()
        gn = torch.linalg.vector_norm(x.grad)
        xs = x.detach().tolist()
        rows.append((step, opt.param_groups[0]["lr"], loss.item(), gn.item(), xs[0], xs[1]))
        if step < 100:
            opt.step()
    with open(path, "w") as f:
        f.write("step,lr,loss,grad_norm,x0,x1\n")
        for r in rows:
            f.write("%d,%s\n" % (r[0], ",".join(fmt_num(v) for v in r[1:])))
    torch.set_default_dtype(torch.float32)
    return path


# --------------------------------------------------------------------------
# --check: re-read the files and verify their structure
# --------------------------------------------------------------------------

def expected_state_size(cls, name, shape):
    n = int(np.prod(shape))
    if name in SCALAR_STATES:
        return 1
    if cls == "Adafactor":
        if name == "row_var":
            return int(np.prod(shape[:-1]))
        if name == "col_var":
            return int(np.prod(shape[:-2])) * shape[-1]
        if name == "variance":
            return n
    return n


def check(outdir):
    errors = []

    def err(msg):
        errors.append(msg)

    total = 0
    for cls, fn in OPTIMIZERS:
        path = os.path.join(outdir, "optim_%s.txt" % cls.lower())
        if not os.path.exists(path):
            err("%s: missing" % path)
            continue
        expected_cases = {"%s_%s" % (c.name, d) for c in fn() for d in ("f32", "f64")}
        with open(path) as f:
            lines = f.read().split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines or not lines[0].startswith("# eta optimizer fixture"):
            err("%s: bad header" % path)
        nerr0 = len(errors)
        seen = set()
        i = 1
        counts = {"f32": 0, "f64": 0}
        sources = set()
        while i < len(lines):
            ln = lines[i].split(" ")
            if ln[0] != "case":
                err("%s:%d: expected case" % (path, i + 1))
                break
            name = ln[1]
            if name in seen:
                err("%s: duplicate case %s" % (path, name))
            seen.add(name)
            block = []
            i += 1
            while i < len(lines) and lines[i] != "end":
                block.append(lines[i])
                i += 1
            if i >= len(lines):
                err("%s: case %s not closed" % (path, name))
                break
            i += 1
            e = check_case(cls, name, block)
            for m in e:
                err("%s: %s: %s" % (path, name, m))
            dtype = block[0].split(" ")[1] if block else "?"
            counts[dtype] = counts.get(dtype, 0) + 1
            src = [b for b in block if b.startswith("source ")]
            if src:
                sources.add(src[0].split(" ")[1])
        if seen != expected_cases:
            err("%s: cases %s != expected %s" % (path, sorted(seen ^ expected_cases), "set"))
        if counts["f32"] < 3 or counts["f64"] < 3:
            err("%s: fewer than 3 cases per dtype" % path)
        total += os.path.getsize(path)
        print("%-40s ok? %-5s cases f32=%d f64=%d sources=%s" % (
            os.path.relpath(path), "no" if len(errors) > nerr0 else "yes", counts["f32"], counts["f64"],
            ",".join(sorted(sources))))
    csv = os.path.join(outdir, "optimize_sgd_quadratic.csv")
    if not os.path.exists(csv):
        err("%s: missing" % csv)
    else:
        total += os.path.getsize(csv)
        with open(csv) as f:
            rows = f.read().strip().split("\n")
        if rows[0] != "step,lr,loss,grad_norm,x0,x1":
            err("%s: bad header" % csv)
        if len(rows) != 102:
            err("%s: %d data rows, expected 101" % (csv, len(rows) - 1))
        for k, r in enumerate(rows[1:]):
            c = r.split(",")
            if len(c) != 6 or int(c[0]) != k or not all(math.isfinite(float(x)) for x in c[1:]):
                err("%s: bad row %d" % (csv, k))
                break
    print("total %d bytes" % total)
    if total >= 15 * 1024 * 1024:
        err("fixtures total %d bytes (limit 15 MiB)" % total)
    if errors:
        for m in errors[:50]:
            print("ERROR", m)
        print("%d errors" % len(errors))
        return 1
    print("check passed")
    return 0


def parse_spec(text, cls):
    """Parse 'Cls(name=literal, ...)' the way eta's Python-call parser would."""
    import ast
    try:
        node = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise ValueError(str(e))
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.func.id != cls:
        raise ValueError("not a call of %s" % cls)
    if node.args:
        raise ValueError("positional arguments")
    out = {}
    for kw in node.keywords:
        if kw.arg not in SPEC_ARGS[cls]:
            raise ValueError("unknown argument %s" % kw.arg)
        out[kw.arg] = ast.literal_eval(kw.value)
    lrkey = "learning_rate" if "learning_rate" in SPEC_ARGS[cls] else "lr"
    out = dict(defaults.UPSTREAM[cls], **out)
    if lrkey not in out:
        raise ValueError("no %s" % lrkey)
    return out


def _nums(toks, ctx, errs, f32):
    out = []
    for tok in toks:
        try:
            x = float(tok)
        except ValueError:
            errs.append("%s: not a number %r" % (ctx, tok))
            return out
        if not math.isfinite(x):
            errs.append("%s: non-finite" % ctx)
        if f32 and float(np.float32(x)) != x:
            errs.append("%s: %r is not a float32 value" % (ctx, tok))
            return out
        out.append(x)
    return out


def check_case(cls, name, block):
    errs = []
    hdr = {}
    k = 0
    while k < len(block) and not block[k].startswith("param "):
        key, _, rest = block[k].partition(" ")
        if key == "group":
            hdr["group1"] = rest
        else:
            hdr[key] = rest
        k += 1
    for key in ("dtype", "source", "spec", "group1"):
        if key not in hdr:
            errs.append("missing %s" % key)
    if errs:
        return errs
    dtype = hdr["dtype"]
    f32 = dtype == "f32"
    if dtype not in DTYPES or not name.endswith("_" + dtype):
        errs.append("bad dtype %s" % dtype)
    if hdr["source"] not in ("torch", "formula"):
        errs.append("bad source")
    specs = []
    for text in (hdr["spec"], hdr["group1"][2:] if hdr["group1"].startswith("1 ") else ""):
        try:
            specs.append(parse_spec(text, cls))
        except ValueError as e:
            errs.append("bad spec %r: %s" % (text, e))
    if errs:
        return errs
    lrkey = "learning_rate" if "learning_rate" in SPEC_ARGS[cls] else "lr"
    base_lr = [sp[lrkey] for sp in specs]
    schedule = "base lr * (1 + 0.5*sin(t))" in hdr.get("note", "")
    shapes = []
    for i in range(len(SHAPES)):
        toks = block[k].split(" ")
        if toks[:2] != ["param", str(i)] or toks[2] != "group" or int(toks[3]) != PARAM_GROUP[i]:
            errs.append("bad param line %r" % block[k])
            return errs
        shapes.append(tuple(int(x) for x in toks[5:]))
        if shapes[-1] != SHAPES[i]:
            errs.append("param %d shape %s" % (i, shapes[-1]))
        k += 1
    numel = [int(np.prod(s)) for s in shapes]
    for i in range(len(shapes)):
        toks = block[k].split(" ")
        if toks[:2] != ["init", str(i)] or len(_nums(toks[2:], "init", errs, f32)) != numel[i]:
            errs.append("bad init %d" % i)
        k += 1
    toks = block[k].split(" ")
    if toks[0] != "steps":
        errs.append("missing steps")
        return errs
    nsteps = int(toks[1])
    k += 1
    state_names = None
    for t in range(1, nsteps + 1):
        if k >= len(block) or block[k] != "step %d" % t:
            errs.append("missing step %d" % t)
            return errs
        k += 1
        for gi in range(NGROUPS):
            toks = block[k].split(" ")
            v = _nums(toks[2:], "lr", errs, False)
            want = base_lr[gi] * lr_factor(t) if schedule else base_lr[gi]
            if toks[:2] != ["lr", str(gi)] or v != [want]:
                errs.append("step %d: bad lr line %r (expected %r)" % (t, block[k], want))
            k += 1
        for tag in ("grad", "value"):
            for i in range(len(shapes)):
                toks = block[k].split(" ")
                if toks[:2] != [tag, str(i)] or len(_nums(toks[2:], tag, errs, f32)) != numel[i]:
                    errs.append("step %d: bad %s %d" % (t, tag, i))
                k += 1
        names = []
        while k < len(block) and block[k].startswith("state "):
            toks = block[k].split(" ")
            i, sname = int(toks[1]), toks[2]
            if sname not in STATE_ORDER[cls]:
                errs.append("step %d: unknown state %s" % (t, sname))
            want = expected_state_size(cls, sname, shapes[i])
            got = len(_nums(toks[3:], "state", errs, f32))
            if got != want:
                errs.append("step %d: state %d %s has %d values, expected %d" % (t, i, sname, got, want))
            names.append((i, sname))
            k += 1
        if state_names is None:
            state_names = names
        elif names != state_names:
            errs.append("step %d: state set changed" % t)
        if errs:
            return errs
    if k != len(block):
        errs.append("trailing lines")
    return errs


# --------------------------------------------------------------------------
# --selftest: formula implementations in torch-equivalent modes against torch 1.13
# --------------------------------------------------------------------------

def selftest():
    """Run the formula code with the anchor options at their torch values and
    compare with torch.optim (1.13).  Differences are rounding only (2.x uses
    lerp where 1.13 uses mul/add); the tolerance is loose enough for that and
    far below any algorithmic difference."""
    init, grads = make_data()
    pairs = [c for cls, fn in OPTIMIZERS if cls in FORMULAS for c in fn() if c.source == "torch"]
    # keras momentum with constant lr equals torch momentum (dampening 0)
    sk = cases_sgd()[-1]
    sk2 = Case("sgd_keras_const", "SGD", dict(sk.groups[0]), dict(sk.groups[1]), source="formula")
    st = Case("sgd_torch_const", "SGD",
              {k: v for k, v in sk.groups[0].items() if k != "momentum_mode"},
              {k: v for k, v in sk.groups[1].items() if k != "momentum_mode"})
    rk = cases_rmsprop()[-1]
    rk2 = Case("rms_keras_const", "RMSprop", dict(rk.groups[0]), dict(rk.groups[1]), source="formula")
    rt = Case("rms_torch_const", "RMSprop",
              {k: v for k, v in rk.groups[0].items() if k != "momentum_mode"},
              {k: v for k, v in rk.groups[1].items() if k != "momentum_mode"})
    worst = {}
    bad = defaults.check_torch_defaults(torch)
    for dname, dt in DTYPES.items():
        tol = 2e-4 if dname == "f32" else 1e-11
        # (formula case, torch case, compare states?)  The keras buffers hold
        # lr-scaled values, so only the parameters are comparable there.
        jobs = [(c, c, True) for c in pairs] + [(sk2, st, False), (rk2, rt, False)]
        for fcase, tcase, with_state in jobs:
            a = run_formula(fcase, dt, init, grads)
            b = run_torch(tcase, dt, init, grads)
            err = 0.0
            for (la, ga, va, sa), (lb, gb, vb, sb) in zip(a, b):
                for x, y in zip(va, vb):
                    for u, w in zip(x, y):
                        err = max(err, abs(u - w) / max(1.0, abs(w)))
                for x, y in zip(sa, sb) if with_state else ():
                    assert [n for n, _ in x] == [n for n, _ in y], (fcase.name, x, y)
                    for (_, u), (_, w) in zip(x, y):
                        for uu, ww in zip(u, w):
                            err = max(err, abs(uu - ww) / max(1.0, abs(ww)))
            worst[(fcase.name, dname)] = err
            flag = "ok" if err <= tol else "FAIL"
            if err > tol:
                bad += 1
            print("%-32s %s max rel err %.3g %s" % (fcase.name, dname, err, flag))
    # every formula case (f64) against a second, plain-numpy float64 transcription
    # of the textbook formula (no shared code with the torch-op implementation)
    for cls, fn in OPTIMIZERS:
        for c in fn():
            if c.source != "formula":
                continue
            a = run_formula(c, torch.float64, init, grads)
            b = numpy_reference(c, init, grads)
            err = 0.0
            for (la, ga, va, sa), (vb, sb) in zip(a, b):
                for x, y in zip(va, vb):
                    err = max(err, float(np.max(np.abs(np.array(x) - y.reshape(-1)) / np.maximum(1.0, np.abs(y.reshape(-1))))))
                for x, y in zip(sa, sb):
                    assert [n for n, _ in x] == [n for n, _ in y], (c.name, [n for n, _ in x], [n for n, _ in y])
                    for (_, u), (_, w) in zip(x, y):
                        w = np.asarray(w, dtype=np.float64).reshape(-1)
                        err = max(err, float(np.max(np.abs(np.array(u) - w) / np.maximum(1.0, np.abs(w)))))
            flag = "ok" if err <= 1e-9 else "FAIL"
            if err > 1e-9:
                bad += 1
            print("%-32s f64 vs numpy max rel err %.3g %s" % (c.name, err, flag))
    print("selftest: %d failures" % bad)
    return 1 if bad else 0


def numpy_reference(case, init, grads):
    """float64 numpy transcription of each formula rule, written from the
    formulas (the upstream docstrings and papers), for --selftest only."""
    hps = case.groups
    key = case.lr_key()
    base = [hps[gi][key] for gi in range(NGROUPS)]
    P = [np.array(x, dtype=np.float64) for x in init]
    S = [dict() for _ in P]
    cls = case.cls
    out = []
    for t in range(1, STEPS + 1):
        for i in range(len(P)):
            gi = PARAM_GROUP[i]
            hp = hps[gi]
            lr = base[gi] * lr_factor(t) if case.schedule else base[gi]
            lr0 = base[gi]
            g = np.array(grads[t - 1][i], dtype=np.float64)
            p = P[i]
            s = S[i]
            if hp.get("maximize"):
                g = -g
            if cls == "SGD":
                if hp["weight_decay"]:
                    g = g + hp["weight_decay"] * p
                b = s.get("momentum_buffer", np.zeros_like(p))
                b = hp["momentum"] * b + lr * g
                s["momentum_buffer"] = b
                p = p - (hp["momentum"] * b + lr * g if hp["nesterov"] else b)
            elif cls in ("Adam", "AdamW"):
                b1, b2 = hp["betas"]
                wd = hp["weight_decay"]
                if cls == "AdamW" or hp.get("decoupled_weight_decay"):
                    mult = lr / lr0 if hp.get("weight_decay_mode") == "paper" else lr
                    p = p * (1 - mult * wd)
                else:
                    g = g + wd * p
                m = b1 * s.get("exp_avg", 0.0) + (1 - b1) * g
                v = b2 * s.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
                s["exp_avg"], s["exp_avg_sq"] = m, v
                mh, vh = m / (1 - b1 ** t), v / (1 - b2 ** t)
                if hp.get("eps_mode") == "keras":
                    p = p - lr * np.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + hp["eps"])
                elif hp["amsgrad"] and hp.get("amsgrad_mode") == "optax":
                    vm = np.maximum(s.get("max_exp_avg_sq", 0.0), vh)
                    s["max_exp_avg_sq"] = vm
                    p = p - lr * mh / (np.sqrt(vm) + hp["eps"])
                else:
                    if hp["amsgrad"]:
                        v = s["max_exp_avg_sq"] = np.maximum(s.get("max_exp_avg_sq", 0.0), v)
                        vh = v / (1 - b2 ** t)
                    p = p - lr * mh / (np.sqrt(vh) + hp["eps"])
            elif cls == "NAdam":
                b1, b2 = hp["betas"]
                wd, psi = hp["weight_decay"], hp["momentum_decay"]
                if hp["decoupled_weight_decay"]:
                    p = p * (1 - lr * wd)
                else:
                    g = g + wd * p
                mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
                mun = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
                prod = s.get("mu_product", 1.0) * mu
                m = b1 * s.get("exp_avg", 0.0) + (1 - b1) * g
                v = b2 * s.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
                s["exp_avg"], s["exp_avg_sq"], s["mu_product"] = m, v, prod
                d = np.sqrt(v / (1 - b2 ** t)) + hp["eps"]
                p = p - lr * (1 - mu) / (1 - prod) * g / d - lr * mun / (1 - prod * mun) * m / d
            elif cls == "RAdam":
                b1, b2 = hp["betas"]
                wd = hp["weight_decay"]
                if hp["decoupled_weight_decay"]:
                    p = p * (1 - lr * wd)
                else:
                    g = g + wd * p
                m = b1 * s.get("exp_avg", 0.0) + (1 - b1) * g
                v = b2 * s.get("exp_avg_sq", 0.0) + (1 - b2) * g * g
                s["exp_avg"], s["exp_avg_sq"] = m, v
                mh = m / (1 - b1 ** t)
                ri = 2 / (1 - b2) - 1
                rt = ri - 2 * t * b2 ** t / (1 - b2 ** t)
                if rt > 5:
                    r = math.sqrt((rt - 4) * (rt - 2) * ri / ((ri - 4) * (ri - 2) * rt))
                    if hp.get("eps_mode") == "optax":
                        p = p - lr * r * mh / (np.sqrt(v / (1 - b2 ** t)) + hp["eps"])
                    else:
                        p = p - lr * r * mh * math.sqrt(1 - b2 ** t) / (np.sqrt(v) + hp["eps"])
                else:
                    p = p - lr * mh
            elif cls == "Adagrad":
                if hp["weight_decay"]:
                    g = g + hp["weight_decay"] * p
                sm = s.get("sum", hp["initial_accumulator_value"]) + g * g
                s["sum"] = sm
                clr = lr / (1 + (t - 1) * hp["lr_decay"])
                d = np.sqrt(sm + hp["eps"]) if hp.get("eps_mode") == "optax" else np.sqrt(sm) + hp["eps"]
                p = p - clr * g / d
            elif cls == "RMSprop":
                a, eps, mo = hp["alpha"], hp["eps"], hp["momentum"]
                if hp["weight_decay"]:
                    g = g + hp["weight_decay"] * p
                sq = a * s.get("square_avg", 0.0) + (1 - a) * g * g
                s["square_avg"] = sq
                var = sq
                if hp["centered"]:
                    ga = a * s.get("grad_avg", 0.0) + (1 - a) * g
                    var = sq - ga * ga
                d = np.sqrt(var + eps) if hp.get("eps_mode") == "optax" else np.sqrt(var) + eps
                if mo > 0:
                    if hp.get("momentum_mode") == "keras":
                        b = mo * s.get("momentum_buffer", 0.0) + lr * g / d
                        p = p - b
                    else:
                        b = mo * s.get("momentum_buffer", 0.0) + g / d
                        p = p - lr * b
                    s["momentum_buffer"] = b
                else:
                    p = p - lr * g / d
                if hp["centered"]:
                    s["grad_avg"] = ga
            elif cls == "Adafactor":
                e1, e2 = hp["eps"]
                e1 = np.finfo(np.float64).eps if e1 is None else e1
                omb = t ** hp["beta2_decay"]
                rho = min(lr, 1 / math.sqrt(t))
                alpha = max(e2, math.sqrt(np.mean(p * p))) * rho
                p = p * (1 - lr * hp["weight_decay"])
                if g.ndim >= 2:
                    R = (1 - omb) * s.get("row_var", 0.0) + omb * np.mean(g * g, axis=-1, keepdims=True)
                    C = (1 - omb) * s.get("col_var", 0.0) + omb * np.mean(g * g, axis=-2, keepdims=True)
                    s["row_var"], s["col_var"] = R, C
                    V = R * C / np.maximum(np.mean(R, axis=-2, keepdims=True), e1)
                else:
                    V = s["variance"] = (1 - omb) * s.get("variance", 0.0) + omb * g * g
                U = g / np.sqrt(np.maximum(V, e1 * e1))
                p = p - alpha / max(1.0, math.sqrt(np.mean(U * U)) / hp["d"]) * U
            elif cls == "Lion":
                m = s.get("exp_avg", np.zeros_like(p))
                u = np.sign((1 - hp["b1"]) * g + hp["b1"] * m) + hp["weight_decay"] * p
                s["exp_avg"] = (1 - hp["b2"]) * g + hp["b2"] * m
                p = p - lr * u
            elif cls == "LAMB":
                b1, b2 = hp["b1"], hp["b2"]
                m = s["exp_avg"] = (1 - b1) * g + b1 * s.get("exp_avg", 0.0)
                v = s["exp_avg_sq"] = (1 - b2) * g * g + b2 * s.get("exp_avg_sq", 0.0)
                u = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t) + hp["eps_root"]) + hp["eps"])
                u = u + hp["weight_decay"] * p
                pn, un = np.linalg.norm(p), np.linalg.norm(u)
                r = 1.0 if pn == 0 or un == 0 else pn / un
                p = p - lr * r * u
            elif cls == "LARS":
                u = g + hp["weight_decay"] * p
                pn, un = np.linalg.norm(p), np.linalg.norm(u)
                r = 1.0 if pn == 0 or un == 0 else hp["trust_coefficient"] * pn / (un + hp["eps"])
                b = s["momentum_buffer"] = hp["momentum"] * s.get("momentum_buffer", 0.0) + lr * r * u
                p = p - (lr * r * u + hp["momentum"] * b if hp["nesterov"] else b)
            elif cls == "AdaBelief":
                b1, b2 = hp["b1"], hp["b2"]
                m = s["exp_avg"] = (1 - b1) * g + b1 * s.get("exp_avg", 0.0)
                sv = s["exp_avg_var"] = (1 - b2) * (g - m) ** 2 + b2 * s.get("exp_avg_var", 0.0) + hp["eps_root"]
                p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(sv / (1 - b2 ** t)) + hp["eps"])
            else:
                raise KeyError(cls)
            P[i] = p
        out.append(([p.copy() for p in P],
                    [[(n, np.broadcast_to(np.asarray(S[i][n], dtype=np.float64),
                                          () if n in SCALAR_STATES else np.shape(S[i][n])).copy())
                      for n in STATE_ORDER[cls] if n in S[i]] for i in range(len(P))]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    ap.add_argument("--check", action="store_true", help="verify the structure of existing files")
    ap.add_argument("--selftest", action="store_true",
                    help="compare formula code in torch-equivalent modes with torch.optim")
    a = ap.parse_args()
    torch.set_num_threads(1)
    out = os.path.normpath(a.out)
    if a.check:
        return check(out)
    if a.selftest:
        return selftest()
    generate(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
