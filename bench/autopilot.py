#!/usr/bin/python3
"""bench/autopilot.py - how well eta picks a learning rate by itself (issue 10, item 5).

For each workload and seed it runs, with the built `eta` only (train, lr-find, sweep):
  - the reference: `eta sweep` over a 13-point log grid of optimizer.lr (the run's peak
    rate, the config's own schedule), every trial to its end;
  - `eta train --set optimizer.lr=auto` (the default rule, the range test included), and
    with optimizer.auto = sweep (the range test, a successive-halving sweep, the run);
  - `eta lr-find`, then each rule's suggestion trained as the peak rate;
  - Schedule-Free AdamW, Prodigy, DAdaptAdam, DoG and AdamHD with their defaults and no
    schedule;
  - candidates for auto's rule, combinations of the rules (CANDIDATES);
  - the same grid swept with successive halving (`--pruner 'sh(min_resource=E)'`, E the
    steps between evaluations);
and prints a Markdown table per workload: the final validation loss (mean over seeds), its
relative gap to the grid's best (the rate with the lowest mean over seeds), and its compute
(optimizer steps, the range test's batches included) as a fraction of the grid's.

  /usr/bin/python3 bench/autopilot.py [--workloads diabetes,breast-cancer,fmnist-mlp,fmnist-cnn]
                                      [--seeds 0,1,2] [--out runs/bench-autopilot] [--eta PATH]
Raw results go to OUT/results.json; runs already done (their directory complete) are reused.
"""
import argparse
import concurrent.futures as cf
import csv
import json
import math
import os
import shutil
import subprocess
import sys

GRID = "logspace(1e-4, 1, 13)"
# candidates for auto's rule, from these measurements (bench/autopilot-results.md): not
# what eta does; each gets the rate from the suggestions (valley always there when called)
CANDIDATES = {
    "max(valley, 2*steep)": lambda s: max(s["valley"], 2 * (s.get("steep") or 0)),
    "max(valley, 3*log_gradient)": lambda s: max(s["valley"], 3 * (s.get("log_gradient") or 0)),
}
RULES = ["valley", "slide", "minimum", "steep", "gradient", "log_gradient"]
# optimizer spec for the rate-free rows: their defaults, no schedule
FREE = [("AdamWScheduleFree", "AdamWScheduleFree()"), ("Prodigy", "Prodigy()"),
        ("DAdaptAdam", "DAdaptAdam()"), ("DoG", "DoG()"), ("AdamHD", "AdamHD()")]
# name: (config, extra --set, steps between evaluations for SH: None = each epoch)
WORKLOADS = {
    "diabetes": ("configs/diabetes.ini", [], None),
    "breast-cancer": ("configs/breast-cancer.ini", [], None),
    "fmnist-mlp": ("configs/fmnist-mlp.ini", ["train.epochs=1"], 86),
    "fmnist-cnn": ("configs/fmnist-cnn.ini", ["train.epochs=1"], 86),
}


def run(cmd, log):
    with open(log, "w") as f:
        r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    return r.returncode


def read_run(d):
    """(final val_loss, last step) from a run directory's metrics.csv."""
    val, step = float("nan"), 0
    with open(os.path.join(d, "metrics.csv")) as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            if row.get("val_loss"):
                val = float(row["val_loss"])
    return val, step


def train(eta, cfg, sets, d, threads):
    """Trains unless d holds a finished run (d.rc written); returns dict(val, steps, rc,
    lr and finder for lr = auto). A failed run (the guard stopped it) has val NaN and the
    steps it took."""
    if not os.path.exists(d + ".rc"):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        cmd = [eta, "train", cfg, "--dir", d, "--progress", "off"]
        for s in sets + ["output.plots=false", "train.threads=%d" % threads]:
            cmd += ["--set", s]
        with open(d + ".rc", "w") as f:
            f.write("%d\n" % run(cmd, d + ".log"))
    rc = int(open(d + ".rc").read())
    val, steps = read_run(d) if os.path.exists(os.path.join(d, "metrics.csv")) else (0, 0)
    out = {"val": val if rc == 0 else float("nan"), "steps": steps, "rc": rc}
    auto = os.path.join(d, "lr_auto.txt")
    if os.path.exists(auto):
        kv = dict(l.split(" = ", 1) for l in open(auto).read().splitlines() if " = " in l)
        out["lr"] = float(kv["lr"])
        out["finder"] = int(kv["points"]) + int(kv.get("sweep.steps", 0))
    return out


def lr_find(eta, cfg, sets, d):
    """Runs eta lr-find; returns (batches, {rule: lr or None})."""
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "lr_find.out")
    if not os.path.exists(path):
        cmd = [eta, "lr-find", cfg]
        for s in sets + ["train.threads=1"]:
            cmd += ["--set", s]
        with open(path + ".tmp", "w") as f, open(path + ".err", "w") as err:
            rc = subprocess.run(cmd, stdout=f, stderr=err).returncode
        if rc != 0:
            sys.exit("autopilot.py: eta lr-find %s failed (exit %d); see %s.err" % (cfg, rc, path))
        os.rename(path + ".tmp", path)
    curve, rules = open(path).read().split("\n\n", 1)
    batches = len(curve.strip().splitlines()) - 1
    sugg = {}
    for row in csv.DictReader(rules.strip().splitlines()):
        sugg[row["rule"]] = float(row["lr"]) if row["lr"] else None
    return batches, sugg


def sweep(eta, cfg, sets, d, pruner, seed):
    """Runs eta sweep over the grid; returns rows of sweep.csv."""
    if not os.path.exists(os.path.join(d, "sweep.csv")):
        cmd = [eta, "sweep", cfg, "--grid", "optimizer.lr=" + GRID, "--pruner", pruner,
               "--seed", str(seed), "--workers", "2", "--dir", d]
        for s in sets + ["output.plots=false"]:
            cmd += ["--set", s]
        os.makedirs(os.path.dirname(d), exist_ok=True)
        run(cmd, d + ".log")
    rows = []
    with open(os.path.join(d, "sweep.csv")) as f:
        for r in csv.DictReader(f):
            v = r["val_loss"]
            rows.append({"lr": float(r["optimizer.lr"]), "state": r["state"],
                         "val": float(v) if v not in ("", None) else float("nan"),
                         "steps": int(r["steps"] or 0)})
    return rows


def workload(eta, name, seeds, out):
    cfg, extra, eval_every = WORKLOADS[name]
    res = {"grid": {}, "sh": {}, "rows": {}}
    for seed in seeds:
        base = extra + ["train.seed=%d" % seed]
        if eval_every:
            base = base + ["train.eval_every=%d" % eval_every]
        sd = os.path.join(out, name, "seed%d" % seed)
        print("%s seed %d: grid" % (name, seed), file=sys.stderr, flush=True)
        res["grid"][seed] = sweep(eta, cfg, base, os.path.join(sd, "grid"), "none", seed)
        if not eval_every:  # one evaluation an epoch: the first rung at one epoch's steps
            with open(os.path.join(sd, "grid", "trial-0000", "metrics.csv")) as f:
                rows = [r for r in csv.DictReader(f) if r["val_loss"]]
            per_epoch = int(rows[0]["step"])
        else:
            per_epoch = eval_every
        print("%s seed %d: sh" % (name, seed), file=sys.stderr, flush=True)
        res["sh"][seed] = sweep(eta, cfg, base, os.path.join(sd, "sh"),
                                "sh(min_resource=%d)" % per_epoch, seed)
        print("%s seed %d: lr-find, trains" % (name, seed), file=sys.stderr, flush=True)
        batches, sugg = lr_find(eta, cfg, base, sd)
        jobs = {"auto": (base + ["optimizer.lr=auto"], 0),
                "auto_sweep": (base + ["optimizer.lr=auto", "optimizer.auto=sweep"], 0)}
        for rule in RULES:
            if sugg.get(rule):
                jobs[rule] = (base + ["optimizer.lr=%r" % sugg[rule]], batches)
        if sugg.get("valley"):
            for label, rule in CANDIDATES.items():
                lr = rule(sugg)
                jobs[label] = (base + ["optimizer.lr=%r" % lr], batches)
                sugg[label] = lr
        for label, spec in FREE:
            jobs[label] = (base + ["optimizer=" + spec, "schedule.spec="], 0)
        with cf.ThreadPoolExecutor(2) as pool:
            futs = {k: pool.submit(train, eta, cfg, s, os.path.join(sd, k), 1)
                    for k, (s, _) in jobs.items()}
            for k, fut in futs.items():
                r = fut.result()
                r["steps"] += jobs[k][1] + r.get("finder", 0)
                if k in RULES or k in CANDIDATES:
                    r["lr"] = sugg[k]
                res["rows"].setdefault(k, {})[seed] = r
        for rule in RULES:
            if not sugg.get(rule):
                res["rows"].setdefault(rule, {})[seed] = {"val": float("nan"), "steps": batches}
    return res


def mean(xs):
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def gmean(xs):
    xs = [x for x in xs if x]
    return math.exp(mean(math.log(x) for x in xs)) if xs else float("nan")


def table(name, res, seeds):
    lines = ["### %s (%d seeds)" % (name, len(seeds)), ""]
    # the grid: mean val_loss per rate over seeds
    per_lr = {}
    for seed in seeds:
        for r in res["grid"][seed]:
            per_lr.setdefault(r["lr"], []).append(r["val"])
    grid_steps = mean(sum(r["steps"] for r in res["grid"][s]) for s in seeds)
    lrs = sorted(per_lr)

    def finite_mean(v):
        return mean(v) if all(math.isfinite(x) for x in v) else float("nan")

    means = {lr: finite_mean(per_lr[lr]) for lr in lrs}
    best_lr = min((lr for lr in lrs if math.isfinite(means[lr])), key=lambda lr: means[lr])
    best = means[best_lr]
    lines += ["grid (val_loss, mean over seeds): " + ", ".join(
        "%.3g: %s" % (lr, "%.4g" % means[lr] if math.isfinite(means[lr]) else "failed")
        for lr in lrs), ""]
    lines += ["| method | lr (geo. mean) | val_loss | gap to grid best | compute / grid |",
              "|---|---|---|---|---|"]
    lines.append("| grid (13 rates) | %.3g | %.4g | 0 | 100%% |" % (best_lr, best))

    def row(label, lr, vals, steps):
        v = finite_mean(vals)
        gap = "%+.2f%%" % (100 * (v - best) / best) if math.isfinite(v) else "failed"
        lrs_ = "%.3g" % lr if lr and math.isfinite(lr) else "-"
        lines.append("| %s | %s | %s | %s | %.1f%% |" % (
            label, lrs_, "%.4g" % v if math.isfinite(v) else "failed", gap,
            100 * steps / grid_steps))

    order = ["auto", "auto_sweep"] + RULES + list(CANDIDATES) + [k for k, _ in FREE]
    for k in order:
        if k not in res["rows"]:
            continue
        rs = [res["rows"][k][s] for s in seeds]
        label = "auto (valley)" if k == "auto" else "auto = sweep" if k == "auto_sweep" else ("rule " + k if k in RULES else k)
        row(label, gmean(r.get("lr") for r in rs), [r["val"] for r in rs],
            mean(r["steps"] for r in rs))
    # SH: the best completed trial of each seed's sweep
    sh_vals, sh_lrs = [], []
    for s in seeds:
        done = [r for r in res["sh"][s] if r["state"] == "complete" and math.isfinite(r["val"])]
        b = min(done, key=lambda r: r["val"]) if done else {"val": float("nan"), "lr": None}
        sh_vals.append(b["val"])
        sh_lrs.append(b["lr"])
    row("SH sweep", gmean(sh_lrs), sh_vals,
        mean(sum(r["steps"] for r in res["sh"][s]) for s in seeds))
    lines.append("")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="runs/bench-autopilot")
    ap.add_argument("--eta", default="build/release/eta")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    names = a.workloads.split(",")
    for n in names:
        if n not in WORKLOADS:
            ap.error("--workloads: unknown workload %r (known: %s)" % (n, ", ".join(WORKLOADS)))
    os.environ.setdefault("ETA_DATA_DIR", "data")
    eta = os.path.abspath(a.eta)
    allres = {}
    path = os.path.join(a.out, "results.json")
    if os.path.exists(path):
        allres = json.load(open(path))
    for n in names:
        res = workload(eta, n, seeds, a.out)
        allres[n] = res
        os.makedirs(a.out, exist_ok=True)
        json.dump(allres, open(path, "w"), indent=1)
        print(table(n, res, seeds), flush=True)


if __name__ == "__main__":
    main()
