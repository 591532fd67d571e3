#!/usr/bin/python3
"""Write the range-test fixture that tests/test_tune_lrsuggest.c replays.

Run with the Debian interpreter that has PyTorch and numpy:

    /usr/bin/python3 tools/gen_ref_lrfind.py [--out tests/ref]

Output: tests/ref/lrfind.txt. Deterministic (numpy's seeded generator).

What is in it, and where each computation comes from (ported line by line
from the anchors' source, in float64 tensors where the anchors use
float32 ones; eta computes in double):

  fastai (fastai/callback/schedule.py):
    SchedExp / SchedLin      the rate of batch i: pos = i / num_it
    valley, slide, minimum, steep
    lr_find's slice          lrs[num_it//10:-5], cut at the first NaN loss
  Lightning (lightning/pytorch/tuner/lr_finder.py):
    _LRFinder.suggestion(skip_begin=10, skip_end=1): non-finite points
    dropped, torch.gradient(losses, spacing=[lrs]), argmin
    _LRCallback's smoothing: avg = beta avg + (1 - beta) loss,
    smoothed = avg / (1 - beta^(step + 1))
  eta's own (docs/lrfind.md):
    log_gradient             Lightning's suggestion with spacing=[log(lrs)]
    the stop rule            fastai's (best = min(best, smoothed), stop when
                             smoothed > factor * best), and a stop at the
                             first non-finite smoothed loss
    the mark's loss          np.interp(log10(lr), log10(lrs), losses) on the
                             points the rule saw

File format (numbers are repr() of the exact double; nan as "nan"):

    case <name>
    steps <num_it>
    lr v ...                       the curve: rates
    smooth v ...                   and smoothed losses (the rules' input)
    rule <name> lr <v> loss <v> index <i>      index in the whole curve; -1: slide's interpolated point
    rule <name> none               the rule has no suggestion on this curve
    end
    sweep <exp|linear> start <v> end <v> steps <n>
    lr v ...
    end
    smoother beta <v> stop_factor <v>
    loss v ...                     raw losses
    smooth v ...                   smoothed, up to and including the stop
    stop <k>                       points kept (the test stops after point k-1), or -1: never
    end
"""
import argparse
import math
import os

import numpy as np
import torch

torch.set_default_dtype(torch.float64)

# ---- fastai (callback/schedule.py), as written there -------------------------


def sched_exp(start, end, pos):
    return start * (end / start) ** pos


def sched_lin(start, end, pos):
    return start + pos * (end - start)


def valley(lrs, losses, num_it):
    "Suggests a learning rate from the longest valley and returns its index"
    n = len(losses)
    max_start, max_end = 0, 0

    # find the longest valley
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]

    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)

    return float(lrs[idx]), (float(lrs[idx]), losses[idx]), idx % n


def slide(lrs, losses, num_it, lr_diff=15, thresh=.005, adjust_value=1.):
    "Suggests a learning rate following an interval slide rule and returns its index"
    losses = losses.numpy()
    loss_grad = np.gradient(losses)

    r_idx = -1
    l_idx = r_idx - lr_diff
    local_min_lr = lrs[l_idx]
    while (l_idx >= -len(losses)) and (abs(loss_grad[r_idx] - loss_grad[l_idx]) > thresh):
        local_min_lr = lrs[l_idx]
        r_idx -= 1
        l_idx -= 1

    suggestion = float(local_min_lr) * adjust_value
    idx = np.interp(np.log10(suggestion), np.log10(lrs), losses)
    return suggestion, (suggestion, idx), -1


def minimum(lrs, losses, num_it):
    "Suggests a learning rate one-tenth the minumum before divergance and returns its index"
    lr_min = lrs[losses.argmin()].item()
    loss_idx = losses[min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_min))]
    return lr_min / 10, (lr_min, loss_idx), int(losses.argmin())


def steep(lrs, losses, num_it):
    "Suggests a learning rate when the slope is the steepest and returns its index"
    grads = (losses[1:] - losses[:-1]) / (lrs[1:].log() - lrs[:-1].log())
    lr_steep = lrs[grads.argmin()].item()
    loss_idx = losses[min(range(len(lrs)), key=lambda i: abs(lrs[i] - lr_steep))]
    return lr_steep, (lr_steep, loss_idx), int(grads.argmin())


FASTAI = {"valley": valley, "slide": slide, "minimum": minimum, "steep": steep}
NEED = {"valley": 1, "slide": 16, "minimum": 1, "steep": 2}  # fewer points: fastai raises


def fastai_points(lrs, losses, num_it):
    """lr_find's slice and NaN cut (Learner.lr_find)."""
    lrs, losses = torch.tensor(lrs[num_it // 10:-5]), torch.tensor(losses[num_it // 10:-5])
    nan_idxs = torch.nonzero(torch.isnan(losses.view(-1)))
    if len(nan_idxs) > 0:
        drop_idx = min(nan_idxs)
        lrs = lrs[:drop_idx]
        losses = losses[:drop_idx]
    return lrs, losses


# ---- Lightning (tuner/lr_finder.py, _LRFinder.suggestion) --------------------


def lightning(results, skip_begin=10, skip_end=1, log_lr=False):
    losses = torch.tensor(results["loss"][skip_begin:-skip_end])
    lrs = torch.tensor(results["lr"][skip_begin:-skip_end])
    is_finite = torch.isfinite(losses)
    losses = losses[is_finite]
    lrs = lrs[is_finite]

    if len(losses) < 2:
        return None

    spacing = lrs.log() if log_lr else lrs  # log_gradient: eta's variant
    gradients = torch.gradient(losses, spacing=[spacing])[0]
    min_grad = torch.argmin(gradients).item()
    all_losses_idx = torch.arange(len(results["loss"]))
    idx_non_skipped = all_losses_idx[skip_begin:-skip_end]
    idx_finite = idx_non_skipped[is_finite]
    optimal_idx = idx_finite[min_grad].item()
    return results["lr"][optimal_idx], optimal_idx


def smooth_and_stop(raw, beta, factor):
    """_LRCallback's smoothing; fastai's stop rule; eta's stop at non-finite."""
    avg, best, out = 0.0, math.inf, []
    for step, loss in enumerate(raw):
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (step + 1))
        out.append(smoothed)
        if not math.isfinite(smoothed):
            return out, len(out)
        if smoothed < best:
            best = smoothed
        if factor > 0 and smoothed > factor * best:
            return out, len(out)
    return out, -1


# ---- the curves ---------------------------------------------------------------


def sweep(num_it, start=1e-7, end=10.0, mode="exp"):
    f = sched_exp if mode == "exp" else sched_lin
    return [f(start, end, i / num_it) for i in range(num_it)]


def true_loss(lr):
    """A range test's typical shape over log10 lr: flat, a fall, a minimum, a rise."""
    x = math.log10(lr)
    return 0.3 + 2.0 / (1 + math.exp(2.2 * (x + 3.2))) + 0.02 * math.exp(1.6 * (x + 0.5))


def smoothed(raw, beta=0.98):
    return smooth_and_stop(raw, beta, 0)[0]


def curves():
    rng = np.random.default_rng(7)
    out = []
    lrs = sweep(100)
    out.append(("smooth", 100, lrs[:92], [true_loss(l) for l in lrs[:92]]))
    raw = [true_loss(l) * math.exp(0.25 * rng.standard_normal()) for l in lrs]
    sm, stop = smooth_and_stop(raw, 0.98, 4.0)
    out.append(("noisy", 100, lrs[:len(sm)], sm))
    nan = [true_loss(l) for l in lrs[:90]]
    for i in range(70, 90):
        nan[i] = float("nan")
    out.append(("nan", 100, lrs[:90], nan))
    nan_lightning = [true_loss(l) for l in lrs[:90]]
    nan_lightning[30] = float("nan")
    nan_lightning[31] = float("inf")
    out.append(("nan_inside", 100, lrs[:90], nan_lightning))
    out.append(("short", 100, lrs[:24], [true_loss(l) for l in lrs[:24]]))
    out.append(("too_short", 100, lrs[:12], [true_loss(l) for l in lrs[:12]]))
    out.append(("flat", 100, lrs, [1.5] * 100))
    out.append(("rising", 50, sweep(50), [1.0 + 0.01 * i for i in range(50)]))
    lin = sweep(60, 1e-4, 1.0, "linear")
    out.append(("linear", 60, lin, [0.5 + 1.5 * math.exp(-40 * l) + 3 * l * l for l in lin]))
    raw = [true_loss(l) * math.exp(0.1 * rng.standard_normal()) for l in lrs]
    out.append(("noisy_light", 100, lrs, smoothed(raw)))
    return out


def num(v):
    return repr(float(v))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "ref"))
    args = ap.parse_args()
    lines = ["# eta range-test fixture, written by tools/gen_ref_lrfind.py (torch %s, numpy %s); do not edit"
             % (torch.__version__, np.__version__)]
    for name, num_it, lrs, losses in curves():
        lines += ["case " + name, "steps %d" % num_it, "lr " + " ".join(map(num, lrs)),
                  "smooth " + " ".join(map(num, losses))]
        pl, ploss = fastai_points(lrs, losses, num_it)
        off = num_it // 10
        for rule, fn in FASTAI.items():
            if len(pl) < NEED[rule]:
                lines.append("rule %s none" % rule)
                continue
            lr, _, idx = fn(pl, ploss, num_it)
            loss = np.interp(np.log10(lr), np.log10(pl.numpy()), ploss.numpy())
            lines.append("rule %s lr %s loss %s index %d" % (rule, num(lr), num(loss), idx + off if idx >= 0 else -1))
        for rule, log_lr in (("gradient", False), ("log_gradient", True)):
            got = lightning({"lr": lrs, "loss": losses}, log_lr=log_lr)
            if got is None:
                lines.append("rule %s none" % rule)
            else:
                lines.append("rule %s lr %s loss %s index %d" % (rule, num(got[0]), num(losses[got[1]]), got[1]))
        lines.append("end")
    for mode, start, end, n in (("exp", 1e-7, 10.0, 100), ("exp", 1e-5, 3.0, 37), ("linear", 1e-4, 1.0, 60)):
        lines += ["sweep %s start %s end %s steps %d" % (mode, num(start), num(end), n),
                  "lr " + " ".join(map(num, sweep(n, start, end, mode))), "end"]
    rng = np.random.default_rng(11)
    lrs = sweep(100)
    cases = [(0.98, 4.0, [true_loss(l) * math.exp(0.2 * rng.standard_normal()) for l in lrs]),
             (0.9, 2.5, [true_loss(l) for l in lrs]),
             (0.98, 0.0, [true_loss(l) for l in lrs]),
             (0.0, 4.0, [2.0, 1.0, 0.5, 0.4, 1.7, 3.0]),
             (0.98, 4.0, [2.0, 1.9, float("nan"), 1.0]),
             (0.0, 4.0, [1.0, 5.0, 0.5])]  # fastai stops at the 2nd batch already (Lightning waits for step > 1)
    for beta, factor, raw in cases:
        sm, stop = smooth_and_stop(raw, beta, factor)
        lines += ["smoother beta %s stop_factor %s" % (num(beta), num(factor)), "loss " + " ".join(map(num, raw)),
                  "smooth " + " ".join(map(num, sm)), "stop %d" % stop, "end"]
    path = os.path.join(args.out, "lrfind.txt")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
