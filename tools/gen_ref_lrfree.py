#!/usr/bin/python3
"""Write the fixtures of eta's learning-rate-free optimizers: Schedule-Free
SGD and AdamW, Prodigy, DAdaptSGD and DAdaptAdam.

Run with the Debian interpreter that has PyTorch (1.13):

    /usr/bin/python3 tools/gen_ref_lrfree.py [--out tests/ref]

Output: tests/ref/optim_<lowercase name>.txt, in the format of
tools/gen_ref_optim.py (same data: three parameter arrays in two groups, the
same 50 gradients, float32 and float64), computed by the PyTorch
implementations in tools/lrfree_reference.py, which follow the authors'
reference code statement by statement ("source reference"). Two more line
kinds:

    scalar <g> <name> <value>   what the reference keeps in param_groups[g]
                                (d, lr_max, ...) after the step; eta's
                                eta_optim_scalar(opt, g, name)
    eval <i> <values...>        parameter i after optimizer.eval() (the
                                Schedule-Free evaluation point x); the
                                reference switches back with .train()
                                before the next step

Each rule's last cases, <rule>_defaults, pass no argument (the authors'
defaults, the same text for eta and the reference).
"""

import argparse
import math
import os
import sys

try:
    import torch
except ImportError as e:
    print("gen_ref_lrfree.py: %s (needs /usr/bin/python3 with python3-torch)" % e, file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ref_optim as base  # noqa: E402  (data, spec strings, number format)
import lrfree_reference as ref  # noqa: E402

HEADER = ("# eta optimizer fixture, written by tools/gen_ref_lrfree.py "
          "(torch %s); do not edit" % torch.__version__)
SRC = {
    "SGDScheduleFree": "facebookresearch/schedule_free sgd_schedulefree_reference.py",
    "AdamWScheduleFree": "facebookresearch/schedule_free adamw_schedulefree_reference.py",
    "Prodigy": "konstmish/prodigy prodigyopt/prodigy.py",
    "DAdaptSGD": "facebookresearch/dadaptation dadaptation/dadapt_sgd.py (v3)",
    "DAdaptAdam": "facebookresearch/dadaptation dadaptation/dadapt_adam.py (v3)",
}
INF = float("inf")


class Case:
    def __init__(self, name, cls, g0, g1, schedule=False, note="", defaults=False, quadratic=False):
        self.name, self.cls, self.groups = name, cls, [g0, g1]
        self.schedule, self.note, self.defaults = schedule, note, defaults
        self.quadratic = quadratic
        self.steps = QUAD_STEPS if quadratic else base.STEPS


# Quadratic cases: the gradient fed at step t is that of
# sum_i CURV[i]/2 * |p_i - TARGET|^2 at the reference's own parameters (the
# training point), plus 0.1 x the random gradient of step t, in the case's
# dtype. Random gradients alone point nowhere in particular, and
# D-Adaptation's estimate of the distance to a solution then never grows; a
# problem with a solution makes every estimate move.
CURV = [1.0, 3.0, 0.5]
QUAD_STEPS = 20
TARGET = 2.0
QUAD_NOTE = ("gradients of sum_i c_i/2*|p_i - 2|^2 (c = 1, 3, 0.5) at the reference's parameters "
             "plus 0.1 x the random gradients, so the step-size estimates grow")


def note(case):
    parts = ["reference: %s, transcribed in tools/lrfree_reference.py" % SRC[case.cls]]
    if case.defaults:
        parts.append("built with no arguments: every hyperparameter is the authors' default; both groups "
                     "take the defaults")
    if case.schedule:
        parts.append(base.SCHED_NOTE)
    if case.quadratic:
        parts.append(QUAD_NOTE)
    if case.note:
        parts.append(case.note)
    return "; ".join(parts)


def H(**kw):
    return dict(kw)


def cases():
    sgd = lambda **kw: H(**dict(dict(lr=1.0, momentum=0.9, weight_decay=0.0, warmup_steps=0.0, r=0.0,  # noqa
                                     weight_lr_power=2.0), **kw))
    adamw = lambda **kw: H(**dict(dict(lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,  # noqa
                                       warmup_steps=0.0, r=0.0, weight_lr_power=2.0, decay_at_z=False), **kw))
    prod = lambda **kw: H(**dict(dict(lr=1.0, betas=(0.9, 0.999), beta3=None, eps=1e-8, weight_decay=0.0,  # noqa
                                      decouple=True, use_bias_correction=False, safeguard_warmup=False,
                                      d0=1e-6, d_coef=1.0, growth_rate=INF, slice_p=1), **kw))
    dsgd = lambda **kw: H(**dict(dict(lr=1.0, momentum=0.0, weight_decay=0.0, log_every=0, d0=1e-6,  # noqa
                                      growth_rate=INF), **kw))
    dadam = lambda **kw: H(**dict(dict(lr=1.0, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,  # noqa
                                       log_every=0, decouple=False, use_bias_correction=False, d0=1e-6,
                                       growth_rate=INF, layer_scale=1.0), **kw))
    D = {}
    D["SGDScheduleFree"] = [
        Case("sgdschedulefree_warmup_decay", "SGDScheduleFree",
             sgd(lr=0.5, weight_decay=0.01, warmup_steps=5.0),
             sgd(lr=0.2, momentum=0.8, r=0.5, weight_lr_power=1.0)),
        Case("sgdschedulefree_schedule", "SGDScheduleFree",
             sgd(lr=0.3, momentum=0.95, warmup_steps=3.0, r=0.75),
             sgd(lr=0.1, momentum=0.5, weight_decay=0.05, warmup_steps=10.0, weight_lr_power=0.0),
             schedule=True),
    ]
    D["AdamWScheduleFree"] = [
        Case("adamwschedulefree_decay_at_y_and_z", "AdamWScheduleFree",
             adamw(lr=0.01, weight_decay=0.05, warmup_steps=5.0),
             adamw(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, r=0.75, weight_lr_power=1.0,
                   decay_at_z=True),
             note="group 0 decays at y, group 1 at z"),
        Case("adamwschedulefree_schedule", "AdamWScheduleFree",
             adamw(lr=0.05, betas=(0.95, 0.98), warmup_steps=8.0, r=0.5),
             adamw(lr=0.01, weight_decay=0.01, weight_lr_power=0.0),
             schedule=True),
    ]
    D["Prodigy"] = [
        Case("prodigy_coupled_bias_correction", "Prodigy",
             prod(weight_decay=0.01, decouple=False, use_bias_correction=True),
             prod(eps=1e-6, decouple=False, use_bias_correction=True, safeguard_warmup=True, slice_p=2),
             note="coupled decay in group 0; group 1 safeguard_warmup, slice_p=2"),
        Case("prodigy_no_beta1_growth", "Prodigy",
             prod(lr=0.5, betas=(0.0, 0.99), beta3=0.95, weight_decay=0.1, d_coef=0.5, growth_rate=1.05,
                  slice_p=3),
             prod(lr=0.5, betas=(0.0, 0.99), beta3=0.95, weight_decay=0.0, d_coef=0.5, growth_rate=1.05),
             note="beta1=0 (no exp_avg), decoupled decay, growth_rate 1.05, slice_p 3 in group 0"),
        Case("prodigy_frozen_group_schedule", "Prodigy",
             prod(d0=1e-5, d_coef=2.0),
             prod(lr=0.0, d0=1e-5, d_coef=2.0, weight_decay=0.05),
             schedule=True, note="group 1 frozen (lr 0) but decayed, as the reference does"),
    ]
    D["DAdaptSGD"] = [
        Case("dadaptsgd_momentum_decay", "DAdaptSGD",
             dsgd(momentum=0.9, weight_decay=0.01),
             dsgd(momentum=0.5, weight_decay=0.0, d0=1e-3, growth_rate=2.0),
             note="group 0's momentum, weight_decay, d0 and growth_rate apply to every group"),
        Case("dadaptsgd_growth_schedule", "DAdaptSGD",
             dsgd(lr=0.5, momentum=0.5, d0=1e-4, growth_rate=1.02),
             dsgd(lr=0.5, momentum=0.5, d0=1e-4, growth_rate=1.02),
             schedule=True),
        Case("dadaptsgd_frozen_group", "DAdaptSGD",
             dsgd(momentum=0.8),
             dsgd(lr=0.0, momentum=0.8),
             note="group 1 frozen (lr 0)"),
    ]
    D["DAdaptAdam"] = [
        Case("dadaptadam_coupled_bias_correction", "DAdaptAdam",
             dadam(weight_decay=0.01, use_bias_correction=True),
             dadam(eps=1e-6, use_bias_correction=True, layer_scale=0.5),
             note="group 1 has layer_scale 0.5 (a param-group key upstream)"),
        Case("dadaptadam_decoupled_growth_schedule", "DAdaptAdam",
             dadam(betas=(0.8, 0.99), weight_decay=0.1, decouple=True, d0=1e-5, growth_rate=1.05),
             dadam(betas=(0.8, 0.99), weight_decay=0.0, decouple=True, d0=1e-5, growth_rate=1.05,
                   layer_scale=2.0),
             schedule=True),
        Case("dadaptadam_frozen_group", "DAdaptAdam",
             dadam(decouple=True, weight_decay=0.02),
             dadam(lr=0.0, decouple=True, weight_decay=0.02),
             note="group 1 frozen (lr 0) but decayed, as the reference does"),
    ]
    D["SGDScheduleFree"].append(Case("sgdschedulefree_quadratic", "SGDScheduleFree",
                                     sgd(lr=0.2, warmup_steps=5.0), sgd(lr=0.2, momentum=0.8), quadratic=True))
    D["AdamWScheduleFree"].append(Case("adamwschedulefree_quadratic", "AdamWScheduleFree",
                                       adamw(lr=0.05, warmup_steps=5.0), adamw(lr=0.05, r=1.0), quadratic=True))
    D["Prodigy"].append(Case("prodigy_quadratic", "Prodigy", prod(), prod(slice_p=2),
                              quadratic=True))
    D["DAdaptSGD"].append(Case("dadaptsgd_quadratic", "DAdaptSGD", dsgd(momentum=0.9),
                               dsgd(momentum=0.9), quadratic=True))
    D["DAdaptAdam"].append(Case("dadaptadam_quadratic", "DAdaptAdam", dadam(),
                                dadam(layer_scale=0.5), quadratic=True))
    for cls in D:
        D[cls].append(Case(cls.lower() + "_defaults", cls, {}, {}, defaults=True))
    return D


def spec_text(case, gi):
    return "%s()" % case.cls if case.defaults else base.spec_str(case.cls, case.groups[gi])


def run(case, dt, init, grads):
    torch.set_default_dtype(dt)
    params = [torch.tensor(x, dtype=dt) for x in init]
    ctor = {k: v for k, v in case.groups[0].items() if k not in ref.GROUP_ONLY}
    groups = []
    for gi in range(base.NGROUPS):
        members = [params[i] for i in range(len(params)) if base.PARAM_GROUP[i] == gi]
        groups.append(dict(params=members, **case.groups[gi]))
    opt = ref.CLASSES[case.cls](groups, **ctor)
    sf = hasattr(opt, "train")
    if sf:
        opt.train()
    lr0 = [g["lr"] for g in opt.param_groups]
    out = []
    for t in range(1, case.steps + 1):
        if case.schedule:
            for gi, g in enumerate(opt.param_groups):
                g["lr"] = lr0[gi] * base.lr_factor(t)
        lrs = [g["lr"] for g in opt.param_groups]
        fed = [torch.tensor(x, dtype=dt) for x in grads[t - 1]]
        if case.quadratic:
            fed = [(p - TARGET) * c + 0.1 * g for p, g, c in zip(params, fed, CURV)]
        for p, g in zip(params, fed):
            p.grad = g.clone()
        opt.step()
        states = []
        for p in params:
            st = opt.state[p]
            states.append([(n, base.flat(st[n])) for n in ref.STATES[case.cls] if n in st])
        scalars = [[(n, float(g[n])) for n in ref.SCALARS[case.cls] if n in g] for g in opt.param_groups]
        evals = []
        if sf:
            opt.eval()
            evals = [base.flat(p) for p in params]
            opt.train()
        out.append((lrs, [base.flat(g) for g in fed], [base.flat(p) for p in params], states, scalars, evals))
    return out


def write_case(f, case, dname, init_vals, result):
    f.write("case %s_%s\n" % (case.name, dname))
    f.write("dtype %s\nsource reference\nnote %s\n" % (dname, note(case)))
    f.write("spec %s\n" % spec_text(case, 0))
    f.write("group 1 %s\n" % spec_text(case, 1))
    for i, s in enumerate(base.SHAPES):
        f.write("param %d group %d shape %s\n" % (i, base.PARAM_GROUP[i], " ".join(str(x) for x in s)))
    for i, v in enumerate(init_vals):
        f.write("init %d %s\n" % (i, " ".join(base.fmt_num(x) for x in v)))
    f.write("steps %d\n" % case.steps)
    num = lambda vals: " ".join(base.fmt_num(x) for x in vals)  # noqa: E731
    for t, (lrs, gs, vs, sts, scs, evs) in enumerate(result, 1):
        f.write("step %d\n" % t)
        for gi, lr in enumerate(lrs):
            f.write("lr %d %s\n" % (gi, base.fmt_num(lr)))
        for i, g in enumerate(gs):
            f.write("grad %d %s\n" % (i, num(g)))
        for i, v in enumerate(vs):
            f.write("value %d %s\n" % (i, num(v)))
        for i, st in enumerate(sts):
            for name, vals in st:
                f.write("state %d %s %s\n" % (i, name, num(vals)))
        for gi, sc in enumerate(scs):
            for name, v in sc:
                f.write("scalar %d %s %s\n" % (gi, name, base.fmt_num(v)))
        for i, v in enumerate(evs):
            f.write("eval %d %s\n" % (i, num(v)))
    f.write("end\n")


def check_finite(name, result):
    for row in result:
        for arr in row[2] + [v for st in row[3] for _, v in st] + row[5]:
            if not all(math.isfinite(x) for x in arr):
                raise SystemExit("non-finite value in %s" % name)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    init, grads = base.make_data()
    for cls, cs in cases().items():
        path = os.path.join(os.path.normpath(a.out), "optim_%s.txt" % cls.lower())
        with open(path, "w") as f:
            f.write(HEADER + "\n")
            for case in cs:
                for dname in ("f32", "f64"):
                    dt = base.DTYPES[dname]
                    result = run(case, dt, init, grads)
                    check_finite(case.name + "_" + dname, result)
                    write_case(f, case, dname, [base.flat(torch.tensor(x, dtype=dt)) for x in init], result)
        torch.set_default_dtype(torch.float32)
        print("%-44s %3d cases %9d bytes" % (os.path.relpath(path), 2 * len(cs), os.path.getsize(path)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
