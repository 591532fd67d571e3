#!/usr/bin/python3
"""Write tests/ref/optim_muon.txt, the Muon fixture eta's tests compare against.

    /usr/bin/python3 tools/gen_ref_muon.py [--out tests/ref]
    /usr/bin/python3 tools/gen_ref_muon.py --selftest

torch.optim.Muon arrived in PyTorch 2.9; the installed torch (1.13) lacks it,
so this file ports torch/optim/_muon.py (2.9: Muon.__init__'s defaults and
checks, _single_tensor_muon, _zeropower_via_newtonschulz, _adjust_lr) line by
line onto torch 1.13 tensor ops, with one change: torch casts the update to
bfloat16 before the Newton-Schulz iterations, the port keeps the case's dtype
(float32 or float64), as eta does (src/optim/muon.c says why).

The file has gen_ref_optim.py's format (its docstring) and is read by
tests/test_optim_ref.c: 4 matrices in 2 groups (tall ones, transposed inside
the iterations, a wide and a square one), STEPS random gradients, parameters
and momentum buffers after every step, float32 and float64, and a defaults
case built from `Muon()`.

--selftest compares the port in float64 with a plain numpy transcription of
the same algorithm (without addmm); exit 1 on a mismatch, 77 without torch.
"""

import argparse
import math
import os
import sys

try:
    import numpy as np
    import torch
except ImportError as e:  # 77: CTest reports the selftest as skipped
    print("gen_ref_muon.py: %s (needs /usr/bin/python3 with python3-torch and python3-numpy)" % e,
          file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_ref_optim as gro  # noqa: E402  (the fixture format, data and case helpers)

SHAPES = [(4, 3), (3, 5), (5, 5), (6, 2)]
PARAM_GROUP = [0, 0, 1, 1]
STEPS = 16
SEED = 20251015

# torch/optim/_muon.py (2.9)
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5
DEFAULTS = dict(lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                adjust_lr_fn=None)

PORT = ("port of torch 2.9 torch/optim/_muon.py (_single_tensor_muon, _zeropower_via_newtonschulz with addmm, "
        "_adjust_lr) on torch 1.13 ops in the case dtype (torch: Newton-Schulz in bfloat16)")


# --------------------------------------------------------------------------
# the port, line by line
# --------------------------------------------------------------------------

def check_args(lr, momentum, weight_decay, adjust_lr_fn):
    """Muon.__init__'s checks."""
    if not 0.0 <= lr:
        raise ValueError("Learning rate should be >= 0 but is: %s" % lr)
    if not 0.0 <= momentum:
        raise ValueError("momentum should be >= 0 but is: %s" % momentum)
    if not 0.0 <= weight_decay:
        raise ValueError("weight decay should be >= 0 but is: %s" % weight_decay)
    if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
        raise ValueError("Adjust learning rate function %s is not supported" % adjust_lr_fn)


def zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = ns_coefficients
    ortho_grad = grad.clone()  # torch: grad.bfloat16()
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    # Ensure spectral norm is at most 1
    ortho_grad.div_(ortho_grad.norm().clamp(min=eps))
    # Perform the NS iterations
    for _ in range(ns_steps):
        gram_matrix = ortho_grad @ ortho_grad.T
        gram_update = torch.addmm(gram_matrix, gram_matrix, gram_matrix, beta=b, alpha=c)
        ortho_grad = torch.addmm(ortho_grad, gram_update, ortho_grad, beta=a)
    if grad.size(0) > grad.size(1):
        ortho_grad = ortho_grad.T
    return ortho_grad


def adjust_lr(lr, adjust_lr_fn, param_shape):
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(A, B))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


def single_tensor_muon(params, grads, muon_momentum_bufs, lr, weight_decay, momentum, nesterov,
                       ns_coefficients, ns_steps, eps, adjust_lr_fn):
    for i, param in enumerate(params):
        grad = grads[i]
        if grad.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        buf = muon_momentum_bufs[i]
        buf.lerp_(grad, 1 - momentum)
        update = grad.lerp(buf, momentum) if nesterov else buf
        update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
        adjusted_lr = adjust_lr(lr, adjust_lr_fn, param.shape)
        param.mul_(1 - lr * weight_decay)
        param.add_(update, alpha=-adjusted_lr)


def run_port(case, dt, init, grads):
    """Muon.step over STEPS gradients: per group, the parameters with their
    momentum buffers (zeros_like at the first step)."""
    torch.set_default_dtype(dt)
    params = [torch.tensor(x, dtype=dt) for x in init]
    bufs = [torch.zeros_like(p) for p in params]
    groups = [dict(DEFAULTS, **case.groups[gi]) for gi in range(2)]
    for g in groups:
        check_args(g["lr"], g["momentum"], g["weight_decay"], g["adjust_lr_fn"])
    base = [g["lr"] for g in groups]
    out = []
    with torch.no_grad():
        for t in range(1, STEPS + 1):
            lrs = [b * gro.lr_factor(t) if case.schedule else b for b in base]
            fed = [torch.tensor(x, dtype=dt) for x in grads[t - 1]]
            for gi, g in enumerate(groups):
                idx = [i for i in range(len(params)) if PARAM_GROUP[i] == gi]
                single_tensor_muon([params[i] for i in idx], [fed[i] for i in idx], [bufs[i] for i in idx],
                                   lr=lrs[gi], weight_decay=g["weight_decay"], momentum=g["momentum"],
                                   nesterov=g["nesterov"], ns_coefficients=g["ns_coefficients"],
                                   ns_steps=int(g["ns_steps"]), eps=g["eps"], adjust_lr_fn=g["adjust_lr_fn"])
            states = [[("momentum_buffer", gro.flat(b))] for b in bufs]
            out.append((lrs, [gro.flat(g) for g in fed], [gro.flat(p) for p in params], states))
    torch.set_default_dtype(torch.float32)
    return out


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

def cases():
    H = gro.H
    Case = gro.Case
    return [
        Case("muon_nesterov_weight_decay", "Muon",
             H(lr=0.02, weight_decay=0.1, momentum=0.95, nesterov=True),
             H(lr=0.05, weight_decay=0.0, momentum=0.9, nesterov=False, adjust_lr_fn="original"),
             source="formula", note=PORT + "; group 1 without Nesterov or decay"),
        Case("muon_match_rms_adamw", "Muon",
             H(lr=0.003, weight_decay=0.01, momentum=0.8, nesterov=True, ns_coefficients=(2.0, -1.5, 0.5),
               eps=5.0, ns_steps=3, adjust_lr_fn="match_rms_adamw"),
             H(lr=0.01, weight_decay=0.2, momentum=0.0, nesterov=False, ns_steps=0, eps=1e-3,
               adjust_lr_fn="match_rms_adamw"),
             source="formula", note=PORT + "; eps=5 clamps the norm of the smaller updates; group 1: no "
                                           "momentum, no iterations (u/|u|)"),
        Case("muon_schedule", "Muon",
             H(lr=0.01, weight_decay=0.05, momentum=0.9, nesterov=True, ns_steps=7),
             H(lr=0.02, weight_decay=0.1, momentum=0.5, nesterov=True, adjust_lr_fn="match_rms_adamw"),
             source="formula", schedule=True, note=PORT + "; " + gro.SCHED_NOTE),
        Case("muon_defaults", "Muon", dict(DEFAULTS), dict(DEFAULTS), source="formula",
             note=PORT + "; built as Muon() with no arguments, so every argument is torch 2.9's default (lr=0.001, "
                         "weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315), "
                         "eps=1e-07, ns_steps=5, adjust_lr_fn=None); both groups take the defaults",
             spec={}),
    ]


def generate(outdir):
    os.makedirs(outdir, exist_ok=True)
    init, grads = gro.make_data(SHAPES, STEPS, SEED)
    path = os.path.join(outdir, "optim_muon.txt")
    with open(path, "w") as f:
        f.write(gro.HEADER.replace("gen_ref_optim.py", "gen_ref_muon.py") + "\n")
        for case in cases():
            for dname in ("f32", "f64"):
                dt = gro.DTYPES[dname]
                result = run_port(case, dt, init, grads)
                gro.check_finite(case, dname, result)
                init_vals = [gro.flat(torch.tensor(x, dtype=dt)) for x in init]
                gro.write_case(f, case, dname, init_vals, result, SHAPES, PARAM_GROUP)
    print("%-40s %3d cases %9d bytes" % (os.path.relpath(path), 2 * len(cases()), os.path.getsize(path)))


# --------------------------------------------------------------------------
# selftest: the port against a plain numpy transcription
# --------------------------------------------------------------------------

def numpy_muon(case, init, grads):
    params = [np.array(x, dtype=np.float64) for x in init]
    bufs = [np.zeros_like(p) for p in params]
    groups = [dict(DEFAULTS, **case.groups[gi]) for gi in range(2)]
    out = []
    for t in range(1, STEPS + 1):
        for i, p in enumerate(params):
            g = groups[PARAM_GROUP[i]]
            lr = g["lr"] * (gro.lr_factor(t) if case.schedule else 1.0)
            mu = g["momentum"]
            gr = grads[t - 1][i]
            bufs[i] = bufs[i] + (1 - mu) * (gr - bufs[i])
            u = gr + mu * (bufs[i] - gr) if g["nesterov"] else bufs[i]
            x = u.T if u.shape[0] > u.shape[1] else u
            x = x / max(np.sqrt(np.sum(x * x)), g["eps"])
            a, b, c = g["ns_coefficients"]
            for _ in range(int(g["ns_steps"])):
                gm = x @ x.T
                x = a * x + (b * gm + c * gm @ gm) @ x
            o = x.T if u.shape[0] > u.shape[1] else x
            rows, cols = p.shape
            if g["adjust_lr_fn"] == "match_rms_adamw":
                adj = lr * 0.2 * math.sqrt(max(rows, cols))
            else:
                adj = lr * math.sqrt(max(1, rows / cols))
            params[i] = p * (1 - lr * g["weight_decay"]) - adj * o
        out.append([p.copy() for p in params])
    return out


def selftest():
    bad = 0
    init, grads = gro.make_data(SHAPES, STEPS, SEED)
    for case in cases():
        got = run_port(case, torch.float64, init, grads)
        want = numpy_muon(case, init, grads)
        worst = 0.0
        for (lrs, gs, vs, sts), ws in zip(got, want):
            for v, w in zip(vs, ws):
                w = w.reshape(-1)
                worst = max(worst, float(np.max(np.abs(np.array(v) - w) / np.maximum(np.abs(w), 0.1 *
                                                                                     np.max(np.abs(w))))))
        ok = worst <= 1e-12
        bad += not ok
        print("selftest: %-30s port vs numpy, float64: max rel err %.3g %s" % (case.name, worst,
                                                                             "ok" if ok else "FAIL"))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "ref"))
    ap.add_argument("--selftest", action="store_true", help="compare the port with a numpy transcription")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.selftest:
        return selftest()
    generate(os.path.normpath(a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
