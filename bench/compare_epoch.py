#!/usr/bin/python3
"""bench/compare_epoch.py - whole Fashion-MNIST epochs of eta against PyTorch, in one run.

Runs the eta benchmark (bench/epoch.c, --csv: one epoch through the training
run `eta train` uses, data pipeline included) and the same epochs in torch:
    mlp  Linear(784, 256), ReLU, Linear(256, 128), ReLU, Linear(128, 10);
         SGD(lr=0.05, momentum=0.9)
    cnn  Conv2d(1, 32, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(32, 64, 5, padding=2),
         ReLU, MaxPool2d(2), Flatten, Linear(3136, 128), ReLU, Linear(128, 10); AdamW(lr=1e-3)
    cnnbn the cnn with BatchNorm2d after each convolution (configs/fmnist-cnn-cyclic.ini's
         network, docs/applications.md section 1); AdamW(lr=1e-3)
CrossEntropyLoss, batch 128, float32. The data: the same IDX files eta reads
(--root), all 60,000 training images, pixels byte / 255 (float32, the same
bits as eta's FashionMNIST()), held in memory as a TensorDataset read by
DataLoader(batch_size=128, shuffle=True) (num_workers=0: the main process
gathers and collates each batch, as eta's run gathers on its prefetch
thread). A timed epoch is `for x, y in loader:` zero_grad, forward, loss,
backward, step, from the creation of the iterator (the shuffle) to the last
step; then, untimed, the test accuracy over the 10,000 test images. Run i of
a process starts from torch.manual_seed(i) (weights and order), as eta's run
i has [train] seed = i: each side's accuracy is the mean over the same
number of seeds (the two draw different weights, so compare means, with
their spread).

torch's configurations as in bench/compare_train.py: each in a fresh child
process, torch.set_num_threads(t) with OpenBLAS on t threads
(OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = t) or on its default, each with
OPENBLAS_CORETYPE unset and set to the CPU's best core type; inside each
child the optimizer with foreach=False and foreach=True, run by run in turn,
and zero_grad(set_to_none=True). "torch best" is the fastest of all of these
and of the default run (no settings, zero_grad(), the optimizer's defaults);
its config names the threads and the core type OpenBLAS reports it used.
same-t: torch's fastest using at most t threads in all.

Times: the median epoch of --runs runs in one process (the first run of a
process pays its cold start, on both sides), and with --repeat K the
smallest of K such medians. The machine is a shared 2-core VM: rows run one
at a time, and the load average is printed before each row. Memory: VmHWM
of each process at the end (libraries, data and every run included; torch
holds the images as float32, 188 MB for the training split, eta as bytes
with a 256-entry table); "start" is VmRSS before the data were read (torch:
after `import torch`).

usage: /usr/bin/python3 bench/compare_epoch.py [build/release/bench/epoch]
           [--runs N] [--repeat K] [--models mlp,cnn,cnnbn] [--threads 1,2] [--root DIR]
           [--verbose]
"""
import gzip
import json
import os
import statistics
import subprocess
import sys
import time

from compare_train import (best_coretype, build, cli, keep, openblas_core, openblas_info, status_mb, torch_configured,
                           torch_default)

MODELS = ["mlp", "cnn", "cnnbn"]
ROOT = "/usr/share/datasets/fashion-mnist"


# ---- the child: one torch configuration ---------------------------------


def read_idx(torch, path, pixels):
    """An IDX file of bytes as a uint8 tensor [count, pixels] (pixels 1: labels)."""
    with gzip.open(path, "rb") as f:
        head = f.read(8 if pixels == 1 else 16)
        count = int.from_bytes(head[4:8], "big")
        buf = bytearray(count * pixels)
        if f.readinto(buf) != len(buf):
            raise ValueError("%s: truncated" % path)
    return torch.frombuffer(buf, dtype=torch.uint8).view(count, pixels)


def load(torch, root, split, flatten):
    """Images as float32 byte / 255 ([n, 784] or [n, 1, 28, 28]) and int64 labels."""
    x = read_idx(torch, os.path.join(root, split + "-images-idx3-ubyte.gz"), 784).float().div_(255)
    y = read_idx(torch, os.path.join(root, split + "-labels-idx1-ubyte.gz"), 1).view(-1).long()
    return (x if flatten else x.view(-1, 1, 28, 28)), y


def make_optim(torch, name, params, foreach):
    kw = {} if foreach is None else {"foreach": foreach}
    if name == "mlp":
        return torch.optim.SGD(params, lr=0.05, momentum=0.9, **kw)
    return torch.optim.AdamW(params, lr=1e-3, **kw)


def child(args):
    import torch

    start = status_mb("VmRSS")
    if args.threads:
        torch.set_num_threads(args.threads[0])
    m = args.models[0]
    xtr, ytr = load(torch, args.root, "train", m == "mlp")
    xte, yte = load(torch, args.root, "t10k", m == "mlp")
    data = torch.utils.data.TensorDataset(xtr, ytr)
    lossf = torch.nn.CrossEntropyLoss()

    def epoch(seed, foreach, set_to_none):
        torch.manual_seed(seed)
        model = build(torch, m)[0]
        opt = make_optim(torch, m, model.parameters(), foreach)
        loader = torch.utils.data.DataLoader(data, batch_size=128, shuffle=True)
        t0, steps = time.perf_counter(), 0
        for x, y in loader:
            opt.zero_grad(set_to_none=set_to_none)
            loss = lossf(model(x), y)
            loss.backward()
            opt.step()
            steps += 1
        sec = time.perf_counter() - t0
        model.eval()
        hits, lsum = 0, 0.0
        with torch.no_grad():
            for i in range(0, len(yte), 1000):
                out = model(xte[i:i + 1000])
                lsum += float(lossf(out, yte[i:i + 1000])) * len(out)
                hits += int((out.argmax(1) == yte[i:i + 1000]).sum())
        return sec, hits / len(yte), lsum / len(yte), steps

    variants = {"default": (None, False)} if args.default else \
        {"foreach=False": (False, True), "foreach=True": (True, True)}
    runs = {v: [] for v in variants}
    for i in range(args.runs):
        for v, (fe, stn) in variants.items():
            runs[v].append(epoch(i, fe, stn))
    out = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "start_mb": start,
           "times": {v: (statistics.median(r[0] for r in rs), min(r[0] for r in rs)) for v, rs in runs.items()},
           "acc": {v: [r[1] for r in rs] for v, rs in runs.items()},
           "steps": next(iter(runs.values()))[0][3]}
    out["openblas_core"], out["openblas_threads"] = openblas_info()
    out["peak_mb"] = status_mb("VmHWM")
    json.dump(out, sys.stdout)


# ---- the parent --------------------------------------------------------


def load_avg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_eta(args, model, threads):
    cmd = [args.eta, "--csv", "--runs", str(args.runs), "--models", model, "--threads", str(threads),
           "--root", args.root]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    acc, out = [], None
    for line in res.stdout.splitlines():
        f = line.split(",")
        if f[0] == "run":
            acc.append(float(f[5]))
        elif f[0] == "epoch":
            out = {"s": float(f[3]), "fastest": float(f[4]), "peak_mb": float(f[5]), "start_mb": float(f[6]),
                   "steps": int(f[7])}
    if out is None:
        raise RuntimeError("epoch printed no row for %s at %d thread(s)" % (model, threads))
    out["acc"] = acc
    return out


def mean_sd(xs):
    """'mean +- sd' of accuracies in percent."""
    xs = [100 * x for x in xs]
    return "%.2f+-%.2f" % (statistics.mean(xs), statistics.stdev(xs) if len(xs) > 1 else 0.0)


def parent(args):
    ct = best_coretype()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    log("eta: %s; torch in child processes; best OPENBLAS_CORETYPE for this CPU: %s" % (args.eta, ct or "(none)"))
    eta_env_ct = os.environ.get("OPENBLAS_CORETYPE")
    eta_core = openblas_core(os.environ)
    eta, tconf, tdef, loads = {}, {}, {}, []
    me, extra = os.path.abspath(__file__), ["--root", args.root]
    for rep in range(args.repeat):
        for m in args.models:
            for th in args.threads:
                loads.append(load_avg())
                log("[%d/%d] %s, %d thread(s), load %.2f: eta, torch, torch with OPENBLAS_CORETYPE=%s"
                    % (rep + 1, args.repeat, m, th, loads[-1], ct))
                e = run_eta(args, m, th)
                keep(eta, (m, th), e["s"], e)
                torch_configured(args, m, th, ct, tconf, me, extra, lambda r, cfg: dict(r, acc=r["acc"][cfg]))
            loads.append(load_avg())
            log("[%d/%d] %s: torch default, load %.2f" % (rep + 1, args.repeat, m, loads[-1]))
            torch_default(args, m, tdef, tconf, me, extra, lambda r, cfg: dict(r, acc=r["acc"][cfg]))
    loads.append(load_avg())

    d0 = next(iter(tdef.values()))[1]
    print("One epoch of Fashion-MNIST (60,000 images, batch 128, shuffled), data pipeline included, float32;")
    print("seconds per epoch, median of %d runs (seeds 0..%d)%s."
          % (args.runs, args.runs - 1, ", smallest of %d repeats" % args.repeat if args.repeat > 1 else ""))
    print("eta: the training run of `eta train` (guard on, metrics files, prefetch thread), OMP_NUM_THREADS=t,")
    print("OpenBLAS %s kernels (%s)." % (eta_core or "?", "OPENBLAS_CORETYPE=" + eta_env_ct if eta_env_ct
                                         else "OPENBLAS_CORETYPE unset: eta may load better ones"))
    print("torch %s: TensorDataset + DataLoader(shuffle=True). torch best: the fastest of torch.set_num_threads(t),"
          % d0["torch"])
    print("t in %s, OpenBLAS on t threads or its default, OPENBLAS_CORETYPE unset or %s, foreach False/True,"
          % (",".join(map(str, args.threads)), ct or "(none)"))
    print("zero_grad(set_to_none=True), and the default run (torch %d thread(s), OpenBLAS %s on %d)."
          % (d0["torch_threads"], d0["openblas_core"] or "?", d0["openblas_threads"]))
    print("ratio = eta / torch best (target <= 0.8); same-t = eta / torch's fastest on at most t threads in all.")
    print("acc: test accuracy %% after the epoch, mean+-sd over the %d seeds. MB: peak (VmHWM) of each process."
          % args.runs)
    print("load average (1 min) while measuring: %.2f to %.2f.\n" % (min(loads), max(loads)))
    hdr = ("%-4s %3s %7s | %7s %-36s %7s %7s | %5s %6s | %-11s %-11s | %6s %6s"
           % ("model", "thr", "eta s", "torch s", "torch best config", "same-t", "default", "ratio", "same-t",
              "eta acc", "torch acc", "eta MB", "torch"))
    print(hdr)
    print("-" * len(hdr))
    for m in args.models:
        confs = {k[2]: v for k, v in tconf.items() if k[0] == m}
        best_name, (best_s, best_info) = min(confs.items(), key=lambda kv: kv[1][0])
        for th in args.threads:
            e = eta[(m, th)][1]
            same = [v[0] for k, v in tconf.items() if k[0] == m and k[1] <= th]
            same_s = "%7.2f" % min(same) if same else "%7s" % "-"
            same_r = "%6.2f" % (e["s"] / min(same)) if same else "%6s" % "-"
            print("%-5s %3d %7.2f | %7.2f %-36s %s %7.2f | %5.2f %s | %-11s %-11s | %6.1f %6.1f"
                  % (m, th, e["s"], best_s, best_name, same_s, tdef[m][0], e["s"] / best_s, same_r,
                     mean_sd(e["acc"]), mean_sd(best_info["acc"]), e["peak_mb"], best_info["peak_mb"]))
    if args.verbose:
        print("\nevery torch configuration (s, smallest median; peak MB; accuracies):")
        for (m, th, name), (s, info) in sorted(tconf.items()):
            print("  %-4s %-42s %7.2f  peak %6.1f  acc %s" % (m, name, s, info["peak_mb"], mean_sd(info["acc"])))
        print("eta:")
        for (m, th), (s, e) in sorted(eta.items()):
            print("  %-4s %d thr %7.2f (fastest %.2f)  peak %.1f start %.1f  steps %d  acc %s"
                  % (m, th, s, e["fastest"], e["peak_mb"], e["start_mb"], e["steps"], mean_sd(e["acc"])))


if __name__ == "__main__":
    cli(__doc__, MODELS, "epoch", 3, child, parent,
        lambda ap: ap.add_argument("--root", default=ROOT, help="the Fashion-MNIST IDX files (default %(default)s)"))
