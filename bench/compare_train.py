#!/usr/bin/python3
"""bench/compare_train.py - a training step of eta against PyTorch, in one run.

Runs the eta benchmark (bench/train_step.c, --csv) and the same three models
in torch: forward, CrossEntropyLoss, backward and an AdamW() step (lr 1e-3,
weight_decay 0.01 on every parameter), float32, on the same fixed batch:
    mlp          Linear(784, 256), ReLU, Linear(256, 128), ReLU, Linear(128, 10); batch 128
    cnn          Conv2d(1, 32, 5, padding=2), ReLU, MaxPool2d(2), Conv2d(32, 64, 5, padding=2),
                 ReLU, MaxPool2d(2), Flatten, Linear(3136, 128), ReLU, Linear(128, 10); batch 128, 1x28x28
    transformer  Embedding(256, 128) + a learned position embedding (64, 128), 2 nanoGPT blocks
                 (LayerNorm, Linear qkv, causal softmax attention, Linear proj, residual; LayerNorm,
                 Linear 4x, GELU(tanh), Linear, residual), LayerNorm, Linear(128, 256); batch 32 of
                 64 tokens, the loss over all positions
Then it prints, per model and thread count, eta's time, torch's best and
default times, the ratio eta / torch-best, and each side's peak memory.

torch, each measurement in a fresh child process (its own peak memory):
  - configured: torch.set_num_threads(t) (ATen's OpenMP threads: convolution,
    element-wise ops) and OpenBLAS's threads (its own pthread pool, which
    torch 1.13's set_num_threads does not reach; it runs Linear and matmul):
    OPENBLAS_NUM_THREADS=t and OMP_NUM_THREADS=t (OpenBLAS's OpenMP build,
    which ./bootstrap installs, ignores the first), or both unset (OpenBLAS's
    default, one per core); each once with OPENBLAS_CORETYPE unset and once
    set to the CPU's best core type (SkylakeX on AVX-512; only in that child:
    OpenBLAS reads it when it loads); inside each child AdamW with
    foreach=False and foreach=True, timed alternately, and
    zero_grad(set_to_none=True). "torch best" is the fastest of all of these
    and of the default run; its config is printed with the thread count and
    the core type OpenBLAS reports it used (openblas_get_num_threads,
    openblas_get_corename: what ran, not what was asked), and so is torch's
    fastest that used at most the row's thread count in all (torch and
    OpenBLAS), or "-" when none did.
  - default: what `python train.py` does: no thread setting, no environment
    change, AdamW(model.parameters()), zero_grad().
eta: train_step runs each row in a fresh process with OMP_NUM_THREADS=t; the
core type printed for it is what the same OpenBLAS reports under eta's
environment (eta keeps an OPENBLAS_CORETYPE that is set; when it is unset,
eta may load OpenBLAS again with a better one, see README).

Timing as in train_step.c: warm-up (>= 0.3 s and 3 steps), then the median
of --runs runs, each a whole number of steps lasting >= 0.1 s. The machine is
a shared 2-core VM: rows are measured one at a time (eta, then torch in each
configuration, seconds apart), and with --repeat K the whole sequence runs K
times and each number is the smallest of its K medians (another process slows
a run, never speeds one up). Peak memory: VmHWM of the process at the end,
libraries included; "start" is its VmRSS before the model was built (torch:
after `import torch`), so peak - start is what the training itself holds.

usage: /usr/bin/python3 bench/compare_train.py [build/release/bench/train_step]
           [--runs N] [--repeat K] [--models mlp,cnn,transformer] [--threads 1,2] [--verbose]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

MODELS = ["mlp", "cnn", "transformer"]
RUN_S, WARM_S = 0.1, 0.3
VOCAB, SEQ, D_MODEL, HEADS = 256, 64, 128, 4


def status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ---- the child: one torch measurement -----------------------------------


def build(torch, name):
    """The model, its input and its targets (fixed random data, as train_step.c)."""
    nn = torch.nn
    gen = torch.Generator().manual_seed(12345)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
        return model, torch.rand(128, 784, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    if name == "cnn":
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(),
            nn.MaxPool2d(2), nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        return model, torch.rand(128, 1, 28, 28, generator=gen), torch.randint(0, 10, (128,), generator=gen)
    if name == "cnnbn":  # bench/compare_epoch.py's: the network of configs/fmnist-cnn-cyclic.ini
        model = nn.Sequential(
            nn.Conv2d(1, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 5, padding=2), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))
        return model, torch.rand(128, 1, 28, 28, generator=gen), torch.randint(0, 10, (128,), generator=gen)

    class Attention(nn.Module):  # nanoGPT's CausalSelfAttention, dropout 0
        def __init__(self, d, h, T):
            super().__init__()
            self.h = h
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.qkv(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(C // self.h))
            att = att.masked_fill(~self.mask[:T, :T], float("-inf")).softmax(dim=-1)
            return self.proj((att @ v).transpose(1, 2).contiguous().view(B, T, C))

    class Block(nn.Module):  # nanoGPT's Block
        def __init__(self, d, h, T):
            super().__init__()
            self.ln_1, self.attn, self.ln_2 = nn.LayerNorm(d), Attention(d, h, T), nn.LayerNorm(d)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(approximate="tanh"), nn.Linear(4 * d, d))

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte = nn.Embedding(VOCAB, D_MODEL)
            self.wpe = nn.Parameter(torch.randn(SEQ, D_MODEL) * 0.02)
            self.blocks = nn.Sequential(Block(D_MODEL, HEADS, SEQ), Block(D_MODEL, HEADS, SEQ))
            self.ln_f = nn.LayerNorm(D_MODEL)
            self.head = nn.Linear(D_MODEL, VOCAB)

        def forward(self, ids):
            x = self.blocks(self.wte(ids) + self.wpe[: ids.shape[1]])
            return self.head(self.ln_f(x)).view(-1, VOCAB)

    seq = torch.randint(0, VOCAB, (32, SEQ + 1), generator=gen)
    return GPT(), seq[:, :-1].contiguous(), seq[:, 1:].reshape(-1).contiguous()


def torch_times(steps, runs):
    """Median and fastest ms per step of each function in `steps`, timed
    alternately run by run after each has warmed up."""
    ks = []
    for step in steps:
        t0, calls = time.perf_counter(), 0
        while calls < 3 or time.perf_counter() - t0 < WARM_S:
            step()
            calls += 1
        ks.append(max(1, int(RUN_S / ((time.perf_counter() - t0) / calls) + 0.999)))
    times = [[] for _ in steps]
    for _ in range(runs):
        for i, step in enumerate(steps):
            a = time.perf_counter()
            for _ in range(ks[i]):
                step()
            times[i].append((time.perf_counter() - a) / ks[i] * 1e3)
    return [(statistics.median(t), min(t)) for t in times]


def openblas_info():
    """(core type, threads) of the OpenBLAS in this process."""
    import ctypes

    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if "openblas" in ln and ".so" in ln})
    for lib in libs:
        try:
            h = ctypes.CDLL(lib)
            h.openblas_get_corename.restype = ctypes.c_char_p
            return h.openblas_get_corename().decode(), h.openblas_get_num_threads()
        except (OSError, AttributeError):
            continue
    return "", 0


def child(args):
    import torch

    start = status_mb("VmRSS")
    if args.threads:
        torch.set_num_threads(args.threads[0])
    torch.manual_seed(42)
    model, x, y = build(torch, args.models[0])
    lossf = torch.nn.CrossEntropyLoss()
    out = {"torch": torch.__version__, "torch_threads": torch.get_num_threads(), "start_mb": start,
           "params": sum(p.numel() for p in model.parameters())}
    losses = {}

    def stepper(opt, set_to_none):
        def step():
            opt.zero_grad(set_to_none=set_to_none)
            loss = lossf(model(x), y)
            loss.backward()
            opt.step()
            if "first" not in losses:
                losses["first"] = loss.item()
            losses["last"] = loss.detach()
        return step

    if args.default:
        r = torch_times([stepper(torch.optim.AdamW(model.parameters()), False)], args.runs)
        out["times"] = {"default": r[0]}
    else:
        opts = {"foreach=False": torch.optim.AdamW(model.parameters(), foreach=False),
                "foreach=True": torch.optim.AdamW(model.parameters(), foreach=True)}
        r = torch_times([stepper(o, True) for o in opts.values()], args.runs)
        out["times"] = dict(zip(opts, r))
    out["loss_first"], out["loss_last"] = losses["first"], float(losses["last"])
    out["openblas_core"], out["openblas_threads"] = openblas_info()
    out["peak_mb"] = status_mb("VmHWM")
    json.dump(out, sys.stdout)


# ---- the parent --------------------------------------------------------


def best_coretype():
    """The best OpenBLAS core type for this CPU, from /proc/cpuinfo."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    if {"avx512f", "avx512vl", "avx512bw", "avx512dq", "avx512cd"} <= flags:
        return "SKYLAKEX"
    return "HASWELL" if "avx2" in flags else ""


def openblas_core(env):
    """The core type the OpenBLAS eta loads reports under `env` ("" if none loads)."""
    lib = env.get("ETA_BLAS") or "libopenblas.so.0"
    code = ("import ctypes, sys\n"
            "h = ctypes.CDLL(sys.argv[1])\n"
            "h.openblas_get_corename.restype = ctypes.c_char_p\n"
            "print(h.openblas_get_corename().decode())\n")
    res = subprocess.run([sys.executable, "-c", code, lib], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    return res.stdout.strip() if res.returncode == 0 else ""


def run_torch(args, model, threads=None, coretype=None, blas_threads=None, script=None, extra=()):
    """threads None: torch's default run; else a configured one, with
    OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = blas_threads (None: unset).
    script: the child's program (this one by default), given `extra` arguments too."""
    env = dict(os.environ)
    cmd = [sys.executable, script or os.path.abspath(__file__), "--child", "--models", model, "--runs", str(args.runs)]
    cmd += list(extra)
    if threads is None:
        cmd.append("--default")
    else:
        for k in ("OPENBLAS_CORETYPE", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.pop(k, None)
        if blas_threads:
            # OpenBLAS's OpenMP build reads only OMP_NUM_THREADS; torch's own
            # threads are set by torch.set_num_threads in the child.
            env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(blas_threads)
        if coretype:
            env["OPENBLAS_CORETYPE"] = coretype
        cmd += ["--threads", str(threads)]
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True)
    return json.loads(res.stdout)


def torch_configured(args, m, th, ct, tconf, script=None, extra=(), info=lambda r, cfg: r):
    """Runs torch's configurations at th threads and keeps each in tconf under
    (m, threads used in all, name); info(result, variant) is what is kept."""
    cores = os.cpu_count() or 1
    # OpenBLAS threads: t, and its default (one per core) when that differs
    for bt in [th] + ([None] if th != cores else []):
        for coretype in (None, ct) if ct else (None,):
            r = run_torch(args, m, th, coretype, bt, script, extra)
            for cfg, (t, _) in r["times"].items():
                # the core and threads OpenBLAS reports it used, not the ones asked for
                name = "torch %d/BLAS %d, %s, %s" % (th, r["openblas_threads"], cfg.replace("foreach=", "fe="),
                                                     r["openblas_core"] or "?")
                keep(tconf, (m, max(th, r["openblas_threads"]), name), t, info(r, cfg))


def torch_default(args, m, tdef, tconf, script=None, extra=(), info=lambda r, cfg: r):
    """Runs torch's default configuration; keeps it in tdef and, as a candidate for the best, in tconf."""
    r = info(run_torch(args, m, script=script, extra=extra), "default")
    keep(tdef, m, r["times"]["default"][0], r)
    name = "default: torch %d/BLAS %d, %s" % (r["torch_threads"], r["openblas_threads"], r["openblas_core"] or "?")
    keep(tconf, (m, max(r["torch_threads"], r["openblas_threads"]), name), r["times"]["default"][0], r)


def run_eta(args, model, threads):
    cmd = [args.eta, "--csv", "--runs", str(args.runs), "--models", model, "--threads", str(threads)]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    for line in res.stdout.splitlines():
        f = line.split(",")
        if f[0] == "train":
            return {"ms": float(f[3]), "fastest": float(f[4]), "peak_mb": float(f[5]), "start_mb": float(f[6]),
                    "params": int(f[7]), "loss_first": float(f[8]), "loss_last": float(f[9])}
    raise RuntimeError("train_step printed no row for %s at %d thread(s)" % (model, threads))


def keep(store, key, ms, info):
    """Keeps the smallest median for key, with the info of that run."""
    if key not in store or ms < store[key][0]:
        store[key] = (ms, info)


def parent(args):
    ct = best_coretype()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    log("eta: %s; torch in child processes; best OPENBLAS_CORETYPE for this CPU: %s" % (args.eta, ct or "(none)"))
    eta_env_ct = os.environ.get("OPENBLAS_CORETYPE")
    eta_core = openblas_core(os.environ)
    eta, tconf, tdef = {}, {}, {}
    for rep in range(args.repeat):
        for m in args.models:
            for th in args.threads:
                log("[%d/%d] %s, %d thread(s): eta, torch, torch with OPENBLAS_CORETYPE=%s"
                    % (rep + 1, args.repeat, m, th, ct))
                e = run_eta(args, m, th)
                keep(eta, (m, th), e["ms"], e)
                torch_configured(args, m, th, ct, tconf)
            log("[%d/%d] %s: torch default" % (rep + 1, args.repeat, m))
            torch_default(args, m, tdef, tconf)

    d0 = next(iter(tdef.values()))[1]
    print("forward + CrossEntropyLoss + backward + AdamW step, float32; ms per step, median of %d runs%s."
          % (args.runs, ", smallest of %d repeats" % args.repeat if args.repeat > 1 else ""))
    print("torch %s. torch best: the fastest of torch.set_num_threads(t), t in %s, with OpenBLAS on t threads or"
          % (d0["torch"], ",".join(map(str, args.threads))))
    print("its default, OPENBLAS_CORETYPE unset or %s, AdamW foreach False/True, zero_grad(set_to_none=True),"
          % (ct or "(none)"))
    print("and the default run.")
    print("Its config 'torch a/BLAS b, fe=F, CORE': torch.set_num_threads(a), AdamW foreach F, and the b threads and")
    print("CORE kernels OpenBLAS reported using. same-t: torch's fastest using at most t threads in all (torch and")
    print("OpenBLAS as reported); '-' when no configuration did (see the note under the table).")
    print("torch default: no settings (torch %d thread(s), OpenBLAS %s on %d thread(s)), AdamW(model.parameters()),"
          % (d0["torch_threads"], d0["openblas_core"] or "?", d0["openblas_threads"]))
    print("zero_grad(). eta: OMP_NUM_THREADS=t, OpenBLAS %s kernels (%s)."
          % (eta_core or "?", "OPENBLAS_CORETYPE=" + eta_env_ct if eta_env_ct
             else "OPENBLAS_CORETYPE unset: eta may load better ones"))
    print("ratio = eta / torch best (target <= 0.8); same-t = eta / same-t.")
    print("MB: peak (VmHWM, libraries included) of eta and of torch best's process; d: peak - RSS before the model.\n")
    hdr = ("%-11s %3s %8s | %8s %-38s %8s %8s | %6s %6s | %7s %7s | %7s %7s"
           % ("model", "thr", "eta ms", "torch ms", "torch best config", "same-t", "default", "ratio", "same-t",
              "eta MB", "torch", "eta d", "torch d"))
    print(hdr)
    print("-" * len(hdr))
    missing = []
    for m in args.models:
        confs = {k[2]: v for k, v in tconf.items() if k[0] == m}
        best_name, (best_ms, best_info) = min(confs.items(), key=lambda kv: kv[1][0])
        for th in args.threads:
            e = eta[(m, th)][1]
            # the configurations whose threads, as OpenBLAS reported them, stayed within th
            same = [v[0] for k, v in tconf.items() if k[0] == m and k[1] <= th]
            if same:
                same_ms, same_ratio = "%8.3f" % min(same), "%6.2f" % (e["ms"] / min(same))
            else:
                same_ms, same_ratio = "%8s" % "-", "%6s" % "-"
                missing.append((m, th))
            print("%-11s %3d %8.3f | %8.3f %-38s %s %8.3f | %6.2f %s | %7.1f %7.1f | %7.1f %7.1f"
                  % (m, th, e["ms"], best_ms, best_name, same_ms, tdef[m][0], e["ms"] / best_ms, same_ratio,
                     e["peak_mb"], best_info["peak_mb"], e["peak_mb"] - e["start_mb"],
                     best_info["peak_mb"] - best_info["start_mb"]))
    if missing:
        print("\n-: no torch configuration ran on at most that many threads in all: OpenBLAS reported more")
        print("threads than were asked for (%s)." % ", ".join("%s at %d" % mt for mt in missing))
    if args.verbose:
        print("\nevery torch configuration (ms, smallest median; peak MB):")
        for (m, th, name), (ms, info) in sorted(tconf.items()):
            print("  %-11s %-40s %8.3f  peak %6.1f  loss %.4f -> %.4f"
                  % (m, name, ms, info["peak_mb"], info["loss_first"], info["loss_last"]))
        for m, (ms, info) in tdef.items():
            print("  %-11s %-40s %8.3f  peak %6.1f" % (m, "default", ms, info["peak_mb"]))
        print("eta:")
        for (m, th), (ms, e) in sorted(eta.items()):
            print("  %-11s %d thr %8.3f (fastest run %.3f)  params %d  loss %.4f -> %.4f"
                  % (m, th, ms, e["fastest"], e["params"], e["loss_first"], e["loss_last"]))


def cli(doc, models, eta_program, runs, child, parent, extra=lambda ap: None):
    """The command line of a comparison: parses it, then runs child(args) or parent(args)."""
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("eta", nargs="?", default=os.path.join(here, "..", "build", "release", "bench", eta_program))
    ap.add_argument("--runs", type=int, default=runs)
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure everything this many times; keep each number's smallest median")
    ap.add_argument("--models", default=",".join(models))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--verbose", action="store_true", help="print every torch configuration")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--default", action="store_true", help=argparse.SUPPRESS)
    extra(ap)
    args = ap.parse_args()
    args.models = args.models.split(",")
    args.threads = [int(x) for x in args.threads.split(",")] if args.threads else []
    if any(m not in models for m in args.models):
        ap.error("models: %s" % ", ".join(models))
    if args.child:
        if args.default:
            args.threads = []
        child(args)
    else:
        args.eta = os.path.normpath(args.eta)
        parent(args)


if __name__ == "__main__":
    cli(__doc__, MODELS, "train_step", 7, child, parent)
