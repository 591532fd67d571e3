#!/usr/bin/python3
"""tools/app.py - runs an application of docs/applications.md: eta's runs, their PyTorch twins
(tools/twin.py), the table and the plots.

  /usr/bin/python3 tools/app.py sentiment [--seeds 0,1,2] [--out runs/app-sentiment] [--img docs/img]
  /usr/bin/python3 tools/app.py images    [--seeds 0,1,2] [--epochs N]

For each split of the application, each seed and each variant (the technique the application
is about, a constant rate, optimizer.lr = auto, a baseline) it runs `eta train` with the
variant's --set overrides, and tools/twin.py for the variants that have a twin. The twin runs
first and writes its initial weights, which every eta run of that seed on the same model loads
(model.init), and takes its batches in eta's loader order: eta and torch start from the same
weights and see the same batches, and the variants differ by their rate alone. Then it prints a
Markdown table (mean and spread over the seeds of the test accuracy and loss, the final
validation loss, wall time of the whole `eta train` or twin process) and draws, with `eta
plot`, the validation loss of eta against its twin and of the variants against each other
(seed 0), into IMG as <app>-<split>-val_loss.png, -lr.png and -twin-val_loss.png. Runs already
done (their directory has a result) are reused.
"""
import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

APPS = {
    "sentiment": {
        "splits": {
            "stratified": "configs/sentiment-transformer.ini",
            "shift": "configs/sentiment-transformer-shift.ini",
        },
        # name: (--set overrides, has a twin); the first is the application's technique
        "variants": [
            ("warm-up + cosine", [], True),
            ("constant", ["schedule.spec="], False),
            ("lr = auto", ["optimizer.lr=auto"], False),
            ("bag of words (LR)", ["model.spec=Sequential(Embedding({vocab}, 2, padding_idx=0), MeanPool(), "
                                   "Linear(2, 2))", "optimizer=Adam(lr=1e-2)", "schedule.spec=",
                                   "train.epochs=20"], False),
        ],
    },
    "images": {
        "splits": {"fmnist": "configs/fmnist-cnn-cyclic.ini"},  # docs/img/images-fmnist-*.png
        "variants": [
            ("CyclicLR triangular2", [], True),
            ("OneCycleLR", ["schedule.spec=OneCycleLR(max_lr=3e-3)"], True),
            ("constant", ["schedule.spec="], False),
            ("lr = auto (OneCycleLR)", ["schedule.spec=OneCycleLR(max_lr=3e-3)", "optimizer.lr=auto",
                                        "lr_find.rule=minimum"], False),
        ],
    },
}


def slug(name):
    return re.sub("-+", "-", "".join(c if c.isalnum() else "-" for c in name.lower())).strip("-")


def eta_bin(a):
    return a.eta or os.path.join(ROOT, "build/release/eta")


def vocab_of(a, config):
    out = subprocess.run([eta_bin(a), "data", config], check=True, capture_output=True, text=True,
                         env=dict(os.environ, ETA_DATA_DIR=a.data_dir)).stdout
    for line in out.splitlines():
        if line.startswith("vocab: "):
            return int(line.split()[1])
    return 0


def last_val(metrics):
    val = float("nan")
    with open(metrics) as f:
        head = f.readline().strip().split(",")
        k = head.index("val_loss")
        for line in f:
            v = line.rstrip("\n").split(",")[k]
            if v:
                val = float(v)
    return val


def run_eta(a, config, sets, d):
    res = os.path.join(d, "result.json")
    if os.path.exists(res):
        return json.load(open(res))
    shutil.rmtree(d, ignore_errors=True)
    cmd = [eta_bin(a), "train", config, "--dir", d, "--progress", "off"]
    for s in sets:
        cmd += ["--set", s]
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, ETA_DATA_DIR=a.data_dir))
    wall = time.perf_counter() - t
    if p.returncode:
        sys.exit("tools/app.py: %s failed:\n%s" % (" ".join(cmd), p.stderr))
    r = {"wall": wall, "val_loss": last_val(os.path.join(d, "metrics.csv"))}
    for line in p.stderr.splitlines():
        if line.startswith("test: "):
            parts = line.split()
            r["test_loss"] = float(parts[2])
            if "accuracy" in parts:
                r["test_acc"] = float(parts[parts.index("accuracy") + 1])
        if "picks" in line and "lr = auto" in line:
            r["auto_lr"] = float(line.split("picks ")[1].split()[0])
    json.dump(r, open(res, "w"))
    return r


def run_twin(a, config, sets, d):
    res = os.path.join(d, "result.json")
    if os.path.exists(res):
        return json.load(open(res))
    cmd = ["/usr/bin/python3", os.path.join(ROOT, "tools/twin.py"), config, "--dir", d, "--eta", eta_bin(a),
           "--data-dir", a.data_dir]
    flags = [s for s in sets if s.startswith("--")]
    if "--init-out" in sets:
        i = sets.index("--init-out")
        flags, sets = ["--init-out", sets[i + 1]] + [s for s in flags if s != "--init-out"], sets[:i] + sets[i + 2:]
    for s in sets:
        if not s.startswith("--"):
            cmd += ["--set", s]
    cmd += flags
    t = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode:
        sys.exit("tools/app.py: %s failed:\n%s" % (" ".join(cmd), p.stderr))
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["wall"] = wall
    json.dump(r, open(res, "w"))
    return r


def stats(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("app", choices=sorted(APPS))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=None)
    ap.add_argument("--img", default=None, help="where the plots go (default OUT)")
    ap.add_argument("--eta", default=None)
    ap.add_argument("--epochs", type=int, default=None, help="train.epochs for every run (a shorter try)")
    ap.add_argument("--data-dir", default=os.environ.get("ETA_DATA_DIR", os.path.join(ROOT, "data")))
    ap.add_argument("--no-twin", action="store_true")
    a = ap.parse_args()
    app = APPS[a.app]
    out = a.out or os.path.join("runs", "app-" + a.app)
    img = a.img or out
    os.makedirs(img, exist_ok=True)
    seeds = [int(s) for s in a.seeds.split(",")]
    extra = ["train.epochs=%d" % a.epochs] if a.epochs else []
    lines = []
    for split, config in app["splits"].items():
        config = os.path.join(ROOT, config)
        vocab = vocab_of(a, config)
        rows = []
        for vi, (name, sets, twin) in enumerate(app["variants"]):
            sets = [s.replace("{vocab}", str(vocab)) for s in sets] + extra
            own_model = any(s.startswith("model.spec=") for s in sets)
            sides = ([("torch", run_twin)] if twin and not a.no_twin else []) + [("eta", run_eta)]
            got = {}
            for side, fn in sides:
                rs = []
                for seed in seeds:
                    sd = os.path.join(out, split, "seed%d" % seed)
                    d = os.path.join(sd, "%s-%s" % (slug(name), side))
                    init = os.path.join(sd, "init.safetensors")
                    extra_sets = ["train.seed=%d" % seed]
                    if side == "torch":
                        os.makedirs(sd, exist_ok=True)
                        extra_sets = extra_sets + ["--init-out", init, "--eta-order"]
                    elif not own_model and os.path.exists(init):
                        extra_sets.append("model.init=" + init)  # the twin's initial weights
                    print("%s %s %s seed %d" % (split, name, side, seed), file=sys.stderr, flush=True)
                    rs.append(fn(a, config, sets + extra_sets, d))
                got[side] = rs
            rows += [(name, side, got[side]) for side in ("eta", "torch") if side in got]
        lines += ["#### %s split (%s; %d seeds)" % (split, os.path.relpath(config, ROOT), len(seeds)), "",
                  "| variant | trained by | test accuracy | test loss | final val loss | wall time (s) |",
                  "|---|---|---|---|---|---|"]
        for name, side, rs in rows:
            acc = stats([100 * r.get("test_acc", float("nan")) for r in rs])
            tl = stats([r.get("test_loss") for r in rs])
            vl = stats([r.get("val_loss") for r in rs])
            wall = stats([r["wall"] for r in rs])
            lr = [r["auto_lr"] for r in rs if "auto_lr" in r]
            label = name + (" (picked %s)" % ", ".join("%.3g" % x for x in lr) if lr else "")
            lines.append("| %s | %s | %.2f ± %.2f%% | %.4f ± %.4f | %.4f ± %.4f | %.1f ± %.1f |" % (
                label, side, acc[0], acc[1], tl[0], tl[1], vl[0], vl[1], wall[0], wall[1]))
        lines.append("")
        # plots, seed 0: eta against its twin, and the variants against each other
        s0 = "seed%d" % seeds[0]
        v0 = slug(app["variants"][0][0])
        first = os.path.join(out, split, s0, v0 + "-eta")
        twin = os.path.join(out, split, s0, v0 + "-torch")
        # IMG/<app>-<split>-twin-val_loss.png, IMG/<app>-<split>-{val_loss,lr}.png (docs/img's names)
        pdir = os.path.join(out, "plots-" + split)
        os.makedirs(pdir, exist_ok=True)
        if os.path.exists(twin):
            subprocess.run([eta_bin(a), "plot", first, twin, "--out", os.path.join(pdir, "twin"),
                            "--metric", "val_loss"], check=True, capture_output=True)
            shutil.copy(os.path.join(pdir, "twin", "val_loss.png"),
                        os.path.join(img, "%s-%s-twin-val_loss.png" % (a.app, split)))
        runs = [os.path.join(out, split, s0, slug(v[0]) + "-eta") for v in app["variants"]]
        for m in ("val_loss", "lr"):
            subprocess.run([eta_bin(a), "plot"] + runs + ["--out", os.path.join(pdir, "variants"), "--metric", m],
                           check=True, capture_output=True)
            shutil.copy(os.path.join(pdir, "variants", m + ".png"), os.path.join(img, "%s-%s-%s.png" % (a.app, split, m)))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
