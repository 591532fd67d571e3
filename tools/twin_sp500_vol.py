#!/usr/bin/python3
"""The PyTorch twin of configs/sp500-vol.ini: the S&P 500's next-day volatility.

    /usr/bin/python3 tools/twin_sp500_vol.py [--config configs/sp500-vol.ini]
        [--data-dir data] [--seed 0] [--init OUT.safetensors] [--check DUMP_DIR]
        [--pred OUT.csv] [--constant]

Builds the features, target and walk-forward split from the same CSV as eta's
data spec (the CSV reader's split='date', rolling= and target_transform=;
docs/data.md), in numpy float64 and then float32 as eta stores them:

  r(t) = log(close(t) / close(t-1)); example t (t >= 21) has the input
  r(t-20) .. r(t-1), then mean |r| over the last 5 and 20 days and the
  population standard deviation over the last 5 and 20, and the target |r(t)|;
  train is t dated before 2015-01-01, val before 2017-01-01, test the rest;
  inputs and target standardised with the training part's mean and
  population standard deviation.

--check DUMP_DIR compares them with the split eta made (examples/sp500_vol
--dump DIR: train.csv, val.csv, test.csv with the CSV row of each example):
the same rows in each part, inputs and targets within float32 rounding.
--baselines TABLE.csv (sp500_vol's stdout) recomputes least squares
(numpy.linalg.lstsq with an intercept, on the float32 inputs) and the
yesterday, train-mean and EWMA(0.94) baselines (from the float64 returns)
and checks eta's validation and test MSEs against them (1e-5 relative).

Then it trains the config's MLP, Sequential(Linear(24, 32), ReLU(),
Linear(32, 1)), with torch's default initialisation under torch.manual_seed(seed)
(written to --init so that `eta train --set model.init=...` starts from the
same weights), Adam(lr=1e-3) and OneCycleLR(max_lr=1e-3) over epochs *
ceil(3752 / 64) steps (--constant: no schedule), MSELoss, batches of 64 in
eta's order (its loader's permutation, reproduced below), a validation loss
after every epoch and eta's early stopping (stop once the validation loss has
not improved for more than `patience` evaluations; the last weights are the
model). It prints one CSV line: seed,val_mse,test_mse,test_r2,steps,seconds,
and --pred writes the test predictions (eta predict's format, out0).

The config's data spec, model, optimizer, schedule and training keys are read
and checked against what this file builds, so the two cannot drift apart.
"""
import argparse
import configparser
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_safetensors import write_safetensors  # noqa: E402
from eta_order import eta_perm  # noqa: E402  (eta's loader order, src/data/loader.c)

CSV = "node_modules/vega-datasets/data/sp500-2000.csv"
WINDOW, ROLLING = 20, [("abs_mean", 5), ("abs_mean", 20), ("std", 5), ("std", 20)]
CUTS = ("2015-01-01", "2017-01-01")
EXPECT = {
    ("data", "spec"): "CSV('%s', features='close', target='close', task='regression', transform='log_return', "
                      "window=20, target_transform='abs', rolling='abs_mean:5,abs_mean:20,std:5,std:20', "
                      "split='date', cuts=('2015-01-01', '2017-01-01'), standardize_target=True)" % CSV,
    ("data", "batch_size"): "64",
    ("model", "spec"): "Sequential(Linear(24, 32), ReLU(), Linear(32, 1))",
    ("model", "loss"): "MSELoss()",
    ("optimizer", "spec"): "Adam(lr=1e-3)",
    ("schedule", "spec"): "OneCycleLR(max_lr=1e-3)",
    ("guard", "enabled"): "false",
    ("train", "early_stopping"): "true",
}
BATCH = 64


def read_config(path):
    c = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    c.read(path)
    for (sec, key), want in EXPECT.items():
        got = " ".join(c[sec][key].split())
        if got != want:
            sys.exit("twin_sp500_vol: %s: [%s] %s is %r; this twin builds %r" % (path, sec, key, got, want))
    return int(c["train"]["epochs"]), int(c["train"]["patience"])


def build(data_dir):
    """(parts, stats): parts[s] = (rows, x float32 [n, 24], y float32 [n]) for
    train, val, test; stats the training means and standard deviations."""
    dates, close = [], []
    with open(os.path.join(data_dir, CSV)) as f:
        head = f.readline().strip().split(",")
        di, ci = head.index("date"), head.index("close")
        for line in f:
            if line.strip():
                cells = line.strip().split(",")
                dates.append(cells[di])
                close.append(float(cells[ci]))
    close = np.array(close)
    r = np.full(len(close), np.nan)
    r[1:] = np.log(close[1:] / close[:-1])
    first = 1 + WINDOW
    rows = np.arange(first, len(close))
    x = np.empty((len(rows), WINDOW + len(ROLLING)))
    for i, t in enumerate(rows):
        w = r[t - WINDOW:t]
        x[i, :WINDOW] = w
        for k, (stat, n) in enumerate(ROLLING):
            v = r[t - n:t]
            x[i, WINDOW + k] = np.mean(np.abs(v)) if stat == "abs_mean" else np.std(v)
    y = np.abs(r[rows])
    d = np.array([dates[t] for t in rows])
    masks = [d < CUTS[0], (d >= CUTS[0]) & (d < CUTS[1]), d >= CUTS[1]]
    tr = masks[0]
    xm, xs = x[tr].mean(0), x[tr].std(0)
    ym, ys = y[tr].mean(), y[tr].std()
    parts = []
    for m in masks:
        parts.append((rows[m], ((x[m] - xm) / xs).astype(np.float32), ((y[m] - ym) / ys).astype(np.float32)))
    return parts, (xm, xs, ym, ys), r


def check(parts, dump_dir):
    """The split eta made (examples/sp500_vol --dump) against this one."""
    worst = 0.0
    for (rows, x, y), name in zip(parts, ("train", "val", "test")):
        a = np.loadtxt(os.path.join(dump_dir, name + ".csv"), delimiter=",", skiprows=1, ndmin=2)
        if a.shape[0] != len(rows) or not np.array_equal(a[:, 0].astype(np.int64), rows):
            sys.exit("twin_sp500_vol: %s: eta's rows differ (%d examples from row %d, here %d from row %d)"
                     % (name, a.shape[0], a[0, 0], len(rows), rows[0]))
        diff = max(np.abs(a[:, 1:-1] - x).max(), np.abs(a[:, -1] - y).max())
        scale = max(np.abs(x).max(), np.abs(y).max())
        worst = max(worst, diff / scale)
        print("check %-5s %4d examples, rows %d..%d, max |eta - torch| = %.3g (inputs and target)"
              % (name, len(rows), rows[0], rows[-1], diff), file=sys.stderr)
    if worst > 1e-6:
        sys.exit("twin_sp500_vol: eta's inputs or targets differ beyond float32 rounding (%.3g relative)" % worst)


def baselines(parts, stats, r_all, table):
    """Least squares and the baselines in numpy against sp500_vol's table."""
    (rtr, xtr, ytr), (rv, xv, yv), (rte, xte, yte) = parts
    _, _, ym, ys = stats
    a = np.hstack([np.ones((len(ytr), 1)), xtr.astype(np.float64)])
    w, *_ = np.linalg.lstsq(a, ytr.astype(np.float64), rcond=None)
    rows = np.concatenate([rtr, rv, rte])
    s2 = np.empty(len(rows))
    s2[0] = np.mean(r_all[rows[0] - WINDOW:rows[0]] ** 2)
    for i in range(1, len(rows)):
        s2[i] = 0.94 * s2[i - 1] + 0.06 * r_all[rows[i] - 1] ** 2
    ewma = (math.sqrt(2 / math.pi) * np.sqrt(s2) - ym) / ys
    yest = (np.abs(r_all[rows - 1]) - ym) / ys
    got = {}
    with open(table) as f:
        next(f)
        for line in f:
            model, part, mse_, _, _ = line.strip().split(",")
            got[(model, part)] = float(mse_)
    worst = 0.0
    off = {"val": len(rtr), "test": len(rtr) + len(rv)}
    for part, x, y in (("val", xv, yv), ("test", xte, yte)):
        y = y.astype(np.float64)
        lo, hi = off[part], off[part] + len(y)
        pred = {"least_squares": w[0] + x.astype(np.float64) @ w[1:], "yesterday": yest[lo:hi],
                "train_mean": np.zeros(len(y)), "ewma_0.94": ewma[lo:hi]}
        for model, p in pred.items():
            want = float(np.mean((y - p) ** 2))
            rel = abs(got[(model, part)] - want) / want
            worst = max(worst, rel)
            print("baseline %-13s %-4s MSE eta %.6f numpy %.6f" % (model, part, got[(model, part)], want),
                  file=sys.stderr)
    if worst > 1e-5:
        sys.exit("twin_sp500_vol: eta's least squares or baselines differ from numpy's (%.3g relative)" % worst)


def mse(model, x, y):
    with torch.no_grad():
        p = model(torch.from_numpy(x)).squeeze(1).double().numpy()
    return float(np.mean((y.astype(np.float64) - p) ** 2)), p


def train(parts, seed, epochs, patience, constant, init_path):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(24, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    if init_path:
        write_safetensors(init_path, model.state_dict(), {"format": "pt"})
    (_, xtr, ytr), (_, xv, yv), (_, xte, yte) = parts
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr).unsqueeze(1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    spe = math.ceil(len(ytr) / BATCH)
    sched = None if constant else torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=epochs * spe)
    loss_fn = torch.nn.MSELoss()
    best, bad, steps = float("nan"), 0, 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        perm = torch.tensor(eta_perm(len(ytr), seed, epoch))
        for b in range(spe):
            idx = perm[b * BATCH:(b + 1) * BATCH]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            if sched:
                sched.step()
            steps += 1
        v, _ = mse(model, xv, yv)
        if math.isnan(best) or v < best:
            best, bad = v, 0
        else:
            bad += 1
        if bad > patience:
            break
    seconds = time.perf_counter() - t0
    val, _ = mse(model, xv, yv)
    test, pred = mse(model, xte, yte)
    yd = yte.astype(np.float64)
    r2 = 1 - np.sum((yd - pred) ** 2) / np.sum((yd - yd.mean()) ** 2)
    return val, test, r2, steps, seconds, pred


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--config", default=os.path.join(root, "configs", "sp500-vol.ini"))
    ap.add_argument("--data-dir", default=os.environ.get("ETA_DATA_DIR", os.path.join(root, "data")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", help="write the initial weights here (safetensors, state_dict names)")
    ap.add_argument("--check", metavar="DUMP_DIR", help="compare with eta's split (examples/sp500_vol --dump)")
    ap.add_argument("--pred", help="write the test predictions here (column out0)")
    ap.add_argument("--baselines", metavar="TABLE", help="check sp500_vol's least squares and baselines (its CSV)")
    ap.add_argument("--constant", action="store_true", help="no schedule: Adam at lr=1e-3 throughout")
    ap.add_argument("--no-train", action="store_true", help="build (and check) the split only")
    a = ap.parse_args()
    epochs, patience = read_config(a.config)
    torch.set_num_threads(1)
    parts, stats, r_all = build(a.data_dir)
    if a.check:
        check(parts, a.check)
    if a.baselines:
        baselines(parts, stats, r_all, a.baselines)
    if a.no_train:
        return
    val, test, r2, steps, seconds, pred = train(parts, a.seed, epochs, patience, a.constant, a.init)
    if a.pred:
        with open(a.pred, "w") as f:
            f.write("out0\n" + "".join("%r\n" % float(p) for p in pred))
    print("%d,%.6f,%.6f,%.6f,%d,%.3f" % (a.seed, val, test, r2, steps, seconds))


if __name__ == "__main__":
    main()
