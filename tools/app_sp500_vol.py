#!/usr/bin/python3
"""The S&P 500 volatility application in one command (docs/applications.md, section 4).

    /usr/bin/python3 tools/app_sp500_vol.py [--build build/release] [--out runs/sp500-vol]
        [--seeds 0,1,2] [--docs]

After `cmake --preset release && cmake --build build/release -j2` (./bootstrap
does both), it runs, on configs/sp500-vol.ini's data set:

1. examples/sp500_vol (built as build/release/tests/sp500_vol): least squares
   and the yesterday, train-mean and EWMA(0.94) baselines, and a dump of the
   split eta made;
2. tools/twin_sp500_vol.py --check --baselines: the twin's features, target
   and split against that dump, and least squares and the baselines
   recomputed in numpy against sp500_vol's;
3. for each seed: the twin's initial weights (torch's default initialisation),
   then eta train from them three ways (the config's one-cycle schedule; a
   constant rate, Adam at 1e-3, the schedule's peak; `optimizer.lr = auto`
   with the schedule), and the twin's training with the schedule and with the
   constant rate; eta predict gives eta's test and validation predictions;
4. the table (mean and standard deviation over the seeds of the test MSE and
   R^2 in standardised units, the validation MSE, the steps before early
   stopping, wall time), printed as Markdown and written to OUT/table.md;
   eta's charts: the three runs of seed 0 overlaid (loss, lr), and the test
   period's predictions against the actual values (sp500_vol --plot).

--docs copies the charts into docs/img/sp500-vol-*.png. Wall times are of
the whole `eta train` process (reading the CSV, training, evaluating, writing
metrics, charts, checkpoint and model) and of the twin's training loop alone
(after Python and torch are loaded); both on one thread.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "configs", "sp500-vol.ini")
TWIN = os.path.join(ROOT, "tools", "twin_sp500_vol.py")


def run(cmd, env=None, capture=True):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE if capture else None, stderr=subprocess.PIPE,
                       text=True)
    dt = time.perf_counter() - t0
    if p.returncode:
        sys.exit("app_sp500_vol: %s failed (%d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return p.stdout, dt


def scores(pred_csv, y):
    p = np.loadtxt(pred_csv, skiprows=1, ndmin=1)
    mse = float(np.mean((y - p) ** 2))
    r2 = 1 - float(np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2))
    return mse, r2


def ms(xs, fmt):
    if len(xs) == 1 or min(xs) == max(xs):
        return fmt % xs[0]
    return (fmt + " ± " + fmt) % (statistics.mean(xs), statistics.stdev(xs))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build", "release"))
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "sp500-vol"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--data-dir", default=os.environ.get("ETA_DATA_DIR", os.path.join(ROOT, "data")))
    ap.add_argument("--docs", action="store_true", help="copy the charts into docs/img/")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    eta = os.path.join(a.build, "eta")
    vol = os.path.join(a.build, "tests", "sp500_vol")
    for exe in (eta, vol):
        if not os.access(exe, os.X_OK):
            sys.exit("app_sp500_vol: %s not found: cmake --preset release && cmake --build build/release -j2" % exe)
    env = dict(os.environ, ETA_DATA_DIR=a.data_dir)
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    split = os.path.join(a.out, "split")
    os.makedirs(split)

    # 1. least squares and baselines, and eta's split
    text, _ = run([vol, "--config", CONFIG, "--dump", split, "--pred", os.path.join(a.out, "baselines.csv")], env)
    with open(os.path.join(a.out, "baselines-table.csv"), "w") as f:
        f.write(text)
    base = {}
    for line in text.strip().split("\n")[1:]:
        model, part, mse, r2, sec = line.split(",")
        base[(model, part)] = (float(mse), float(r2), float(sec))
    y = {part: np.loadtxt(os.path.join(split, part + ".csv"), delimiter=",", skiprows=1, ndmin=2)[:, -1]
         for part in ("val", "test")}
    # 2. the twin's features against eta's
    _, _ = run(["/usr/bin/python3", TWIN, "--data-dir", a.data_dir, "--check", split, "--no-train",
                "--baselines", os.path.join(a.out, "baselines-table.csv")], env)
    print("features, target and split: the twin's equal eta's (float32 rounding); least squares and the "
          "baselines: numpy's equal eta's", file=sys.stderr)

    # 3. the MLPs
    # the twin's one-cycle run first: it writes the seed's initial weights
    variants = [("torch", "one-cycle", []), ("torch", "constant", ["--constant"]),
                ("eta", "one-cycle", []), ("eta", "constant", ["--set", "schedule.spec="]),
                ("eta", "lr = auto", ["--set", "optimizer.lr=auto"])]
    res = {(who, how): {"test": [], "r2": [], "val": [], "steps": [], "sec": [], "lr": []} for who, how, _ in variants}
    for seed in seeds:
        init = os.path.join(a.out, "init-%d.safetensors" % seed)
        for who, how, extra in variants:
            tag = "%s-%s-%d" % (who, how.replace(" ", "").replace("=", "-"), seed)
            d = os.path.join(a.out, tag)
            r = res[(who, how)]
            if who == "torch":
                cmd = ["/usr/bin/python3", TWIN, "--data-dir", a.data_dir, "--seed", str(seed),
                       "--pred", d + "-test.csv"] + extra
                if how == "one-cycle":
                    cmd += ["--init", init]
                text, _ = run(cmd, env)
                _, val, _, _, steps, sec = text.strip().split(",")
                r["val"].append(float(val))
                r["steps"].append(int(steps))
                r["sec"].append(float(sec))
                mse, r2 = scores(d + "-test.csv", y["test"])
            else:
                _, sec = run([eta, "train", CONFIG, "--dir", d, "--quiet", "--set", "train.seed=%d" % seed,
                              "--set", "train.threads=1", "--set", "model.init=" + init] + extra, env)
                r["sec"].append(sec)
                for part in ("val", "test"):
                    text, _ = run([eta, "predict", d, "--split", part], env)
                    with open(os.path.join(d, "predict-%s.csv" % part), "w") as f:
                        f.write(text)
                val, _ = scores(os.path.join(d, "predict-val.csv"), y["val"])
                r["val"].append(val)
                mse, r2 = scores(os.path.join(d, "predict-test.csv"), y["test"])
                with open(os.path.join(d, "metrics.csv")) as f:
                    rows = f.read().strip().split("\n")
                r["steps"].append(int(rows[-1].split(",")[0]))
                r["lr"].append(max(float(row.split(",")[2]) for row in rows[1:]))
            r["test"].append(mse)
            r["r2"].append(r2)
            print("seed %d %-5s %-10s test MSE %.4f R^2 %.4f" % (seed, who, how, mse, r2), file=sys.stderr)

    # 4. the table
    n = len(seeds)
    lines = ["| model | rate | test MSE | test R² | val MSE | steps | wall time (s) |",
             "|---|---|---|---|---|---|---|"]
    for who, how, _ in variants:
        r = res[(who, how)]
        name = "MLP, eta" if who == "eta" else "MLP, PyTorch twin"
        if who == "eta":
            peak = ms(r["lr"], "%.3g")
            rate = {"one-cycle": "OneCycleLR, peak %s", "constant": "constant %s",
                    "lr = auto": "lr = auto (OneCycleLR), peak %s"}[how] % peak
        else:
            rate = "OneCycleLR, peak 0.001" if how == "one-cycle" else "constant 0.001"
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            name, rate, ms(r["test"], "%.4f"), ms(r["r2"], "%.3f"), ms(r["val"], "%.4f"), ms(r["steps"], "%.0f"),
            ms(r["sec"], "%.2f")))
    for model, label in (("least_squares", "least squares (closed form, QR)"), ("ewma_0.94", "EWMA λ = 0.94 × √(2/π)"),
                         ("yesterday", "yesterday's \\|r\\|"), ("train_mean", "historical (training) mean")):
        mse, r2, sec = base[(model, "test")]
        lines.append("| %s | — | %.4f | %.3f | %.4f | — | %s |" % (
            label, mse, r2, base[(model, "val")][0], "%.3f" % sec if model == "least_squares" else "—"))
    e, t = statistics.mean(res[("eta", "one-cycle")]["test"]), statistics.mean(res[("torch", "one-cycle")]["test"])
    worst = 0.0
    for seed in seeds:
        pe = np.loadtxt(os.path.join(a.out, "eta-one-cycle-%d" % seed, "predict-test.csv"), skiprows=1)
        pt = np.loadtxt(os.path.join(a.out, "torch-one-cycle-%d-test.csv" % seed), skiprows=1)
        worst = max(worst, float(np.abs(pe - pt).max()))
    gap = ("eta's one-cycle MLP against its twin: mean test MSE %.6f against %.6f (%+.4f%%) over %d seeds; "
           "the largest difference of one test prediction %.2g (standardised units)" % (
               e, t, 100 * (e / t - 1), n, worst))
    table = "\n".join(lines) + "\n\n" + gap + "\n"
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write(table)
    print(table)

    # charts: eta plot over the three eta runs of the first seed, and the test period
    s0 = seeds[0]
    dirs = [os.path.join(a.out, "eta-%s-%d" % (h, s0)) for h in ("one-cycle", "constant", "lr-auto")]
    charts = os.path.join(a.out, "charts")
    run([eta, "plot"] + dirs + ["--out", charts, "--smooth"], env)
    test_png = os.path.join(charts, "test.png")
    run([vol, "--config", CONFIG, "--plot", test_png, "--mlp", os.path.join(dirs[0], "predict-test.csv")], env)
    print("charts: %s (loss.png, lr.png, test.png)" % charts, file=sys.stderr)
    if a.docs:
        img = os.path.join(ROOT, "docs", "img")
        for name in ("loss", "lr", "test"):
            shutil.copy(os.path.join(charts, name + ".png"), os.path.join(img, "sp500-vol-%s.png" % name))


if __name__ == "__main__":
    main()
