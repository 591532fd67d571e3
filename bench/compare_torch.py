#!/usr/bin/python3
"""bench/compare_torch.py - eta_optim_step against torch.optim, in one run.

Runs the eta benchmark (bench/optim_step.c, --csv) and times torch.optim
SGD(lr=0.01, momentum=0.9), Adam() and AdamW() on the same float32 sizes and
thread counts (torch.set_num_threads), then prints eta's speed-up per row.

torch is timed in every layout a user could pick, and the best one is what
eta is compared against; the common default (one big tensor, foreach=None,
which is the single-tensor loop on CPU in torch 1.13) is shown too:
    1 tensor   x foreach False / True
    100 chunks x foreach False / True   (the same parameters as 100 tensors)
Each torch measurement runs in a child process, twice: with OPENBLAS_CORETYPE
unset, and set to the CPU's best OpenBLAS core type (only in that child; the
variable is read when OpenBLAS loads). The optimizer steps are element-wise
ATen kernels that do not call BLAS, so both are expected to agree; they are
measured rather than assumed.

Pairing: the rows are measured one at a time, eta's then torch's (both
OPENBLAS_CORETYPE settings), so the two sides of a speed-up are seconds
apart, not minutes: on a shared virtual machine the memory bandwidth drifts.
With --repeat K the whole sequence runs K times and each number is the
smallest of its K medians (another process slows a run, never speeds one
up); an eta row keeps the bound measured with its chosen time.

Timing as in optim_step.c: warm-up (>= 100 ms and 3 steps), then the median
of --runs runs, each a whole number of steps lasting >= 20 ms.

usage: /usr/bin/python3 bench/compare_torch.py [build/release/bench/optim_step]
           [--runs N] [--repeat K] [--sizes 1000000,10000000] [--threads 1,2] [--verbose]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

OPTS = [  # name (as optim_step.c prints it), torch class, kwargs: the same hyperparameters
    ("SGD-momentum", "SGD", {"lr": 0.01, "momentum": 0.9}),
    ("Adam", "Adam", {}),
    ("AdamW", "AdamW", {}),
]
LAYOUTS = [(1, False), (1, True), (100, False), (100, True)]  # (tensors, foreach)
DEFAULT = (1, None)  # what `Opt(model.parameters())` does with one big tensor
RUN_S, WARM_S = 20e-3, 100e-3


def layout_name(chunks, foreach):
    return "%s/foreach=%s" % ("1 tensor" if chunks == 1 else "%d chunks" % chunks, foreach)


# ---- the child: torch timings -------------------------------------------


def torch_median(step, runs):
    t0, calls = time.perf_counter(), 0
    while calls < 3 or time.perf_counter() - t0 < WARM_S:
        step()
        calls += 1
    per = (time.perf_counter() - t0) / calls
    k = max(1, int(RUN_S / per + 0.999))
    times = []
    for _ in range(runs):
        a = time.perf_counter()
        for _ in range(k):
            step()
        times.append((time.perf_counter() - a) / k)
    return statistics.median(times)


def make_params(torch, n, chunks):
    """n float32 parameters as `chunks` leaf tensors, with gradients as in
    optim_step.c: parameters in [-1, 1], gradients of magnitude [0.1, 1)."""
    gen = torch.Generator().manual_seed(12345)
    params = []
    for i in range(chunks):
        m = n // chunks + (1 if i < n % chunks else 0)
        p = (torch.rand(m, generator=gen) * 2 - 1).requires_grad_()
        mag = 0.1 + 0.9 * torch.rand(m, generator=gen)
        sign = torch.where(torch.rand(m, generator=gen) < 0.5, -1.0, 1.0)
        p.grad = mag * sign
        params.append(p)
    return params


def openblas_corename():
    """The core type OpenBLAS picked in this process ('' if not found)."""
    import ctypes

    with open("/proc/self/maps") as f:
        libs = sorted({ln.split()[-1] for ln in f if "openblas" in ln and ".so" in ln})
    for lib in libs:
        try:
            fn = ctypes.CDLL(lib).openblas_get_corename
            fn.restype = ctypes.c_char_p
            return fn().decode()
        except (OSError, AttributeError):
            continue
    return ""


def aten_capability(torch):
    """The vector ISA ATen's element-wise kernels dispatch to ("AVX2")."""
    if hasattr(torch.backends, "cpu"):  # torch >= 2.0
        return torch.backends.cpu.get_cpu_capability()
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage:" in line:
            return line.split(":", 1)[1].strip()
    return ""


def child(args):
    """Times one row (--opt, --sizes, --threads) in every layout, or, with
    --fixed, the fixed cost of every optimizer; prints JSON."""
    import torch

    out = {"torch": torch.__version__, "openblas_core": openblas_corename(), "aten_cpu": aten_capability(torch)}
    kinds = {name: (cls, kw) for name, cls, kw in OPTS}
    if args.fixed:
        # 3 parameters of 10 elements, as optim_step.c; 1 thread (tiny
        # tensors never go parallel); both foreach settings.
        torch.set_num_threads(1)
        out["fixed"] = {}
        for name, (cls, kw) in kinds.items():
            out["fixed"][name] = {}
            for foreach in (None, True):
                opt = getattr(torch.optim, cls)(make_params(torch, 30, 3), foreach=foreach, **kw)
                out["fixed"][name]["foreach=%s" % foreach] = torch_median(opt.step, args.runs) * 1e9
    else:
        cls, kw = kinds[args.opt]
        n, th = args.sizes[0], args.threads[0]
        torch.set_num_threads(th)
        out["layouts"] = {}
        for chunks, foreach in LAYOUTS + [DEFAULT]:
            opt = getattr(torch.optim, cls)(make_params(torch, n, chunks), foreach=foreach, **kw)
            out["layouts"][layout_name(chunks, foreach)] = torch_median(opt.step, args.runs) * 1e9 / n
            del opt
    json.dump(out, sys.stdout)


# ---- the parent --------------------------------------------------------


def best_coretype():
    """The best OpenBLAS core type (OPENBLAS_CORETYPE value) for this CPU,
    from /proc/cpuinfo: the widest x86 kernels it can run."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    avx512 = {"avx512f", "avx512vl", "avx512bw", "avx512dq", "avx512cd"} <= flags
    if avx512 and "avx512_bf16" in flags:
        return "COOPERLAKE"
    if avx512:
        return "SKYLAKEX"
    if "avx2" in flags:
        return "HASWELL"
    return "NEHALEM" if "sse4_2" in flags else "PRESCOTT"


def run_torch(args, coretype, opt=None, n=None, th=None):
    env = dict(os.environ)
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    cmd = [sys.executable, os.path.abspath(__file__), "--child", "--runs", str(args.runs)]
    cmd += ["--fixed"] if opt is None else ["--opt", opt, "--sizes", str(n), "--threads", str(th)]
    res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, check=True)
    return json.loads(res.stdout)


def run_eta(args, extra):
    cmd = [args.eta, "--csv", "--runs", str(args.runs)] + extra
    res = subprocess.run(cmd, stdout=subprocess.PIPE, check=True, text=True)
    eta = {"step": {}, "fixed": {}, "finite": {}}
    for line in res.stdout.splitlines():
        f = line.split(",")
        if f[0] == "step":
            eta["step"][(f[1], int(f[2]), int(f[3]))] = {"ns": float(f[4]), "bytes": int(f[5]), "bound": float(f[6])}
        elif f[0] == "fixed":
            eta["fixed"][f[1]] = float(f[2])
        elif f[0] == "finite":
            eta["finite"][(f[1], int(f[2]), int(f[3]))] = (float(f[4]), float(f[5]))
    return eta


def keep_min(best, new, better):
    for k, v in new.items():
        if k not in best or better(v, best[k]):
            best[k] = v


def human(n):
    return "%dM" % (n // 1000000) if n % 1000000 == 0 else str(n)


def parent(args):
    ct = best_coretype()
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731
    log("eta: %s; torch in child processes; best OPENBLAS_CORETYPE for this CPU: %s" % (args.eta, ct))
    rows = [(name, n, th) for name, _, _ in OPTS for n in args.sizes for th in args.threads]
    eta_rows, t_unset, t_set = {}, {}, {}
    eta_fixed, eta_finite, tf_unset, tf_set = {}, {}, {}, {}
    info = {}
    lower = lambda a, b: a < b  # noqa: E731
    for rep in range(args.repeat):
        for name, n, th in rows:
            log("[%d/%d] %s %s %d thread(s): eta, torch, torch with OPENBLAS_CORETYPE=%s"
                % (rep + 1, args.repeat, name, human(n), th, ct))
            e = run_eta(args, ["--steps-only", "--opt", name, "--sizes", str(n), "--threads", str(th)])
            keep_min(eta_rows, e["step"], lambda a, b: a["ns"] < b["ns"])
            for store, coretype in ((t_unset, None), (t_set, ct)):
                r = run_torch(args, coretype, name, n, th)
                info[coretype] = r
                row = store.setdefault((name, n, th), {})
                keep_min(row, r["layouts"], lower)
        log("[%d/%d] fixed cost and finite check" % (rep + 1, args.repeat))
        e = run_eta(args, ["--no-steps", "--sizes", str(args.sizes[-1]), "--threads",
                           ",".join(map(str, args.threads))])
        keep_min(eta_fixed, e["fixed"], lower)
        keep_min(eta_finite, e["finite"], lambda a, b: a[0] + a[1] < b[0] + b[1])
        for store, coretype in ((tf_unset, None), (tf_set, ct)):
            for name, d in run_torch(args, coretype)["fixed"].items():
                keep_min(store.setdefault(name, {}), d, lower)

    print("float32, one parameter array (torch: also as 100 chunks), ns per parameter per step, median of %d runs"
          % args.runs + (", smallest of %d repeats." % args.repeat if args.repeat > 1 else "."))
    print("torch %s, ATen CPU capability %s; OpenBLAS core: %s when OPENBLAS_CORETYPE is unset, %s with =%s."
          % (info[None]["torch"], info[None]["aten_cpu"] or "?", info[None]["openblas_core"] or "?",
             info[ct]["openblas_core"] or "?", ct))
    print("bound: eta's in-place triad on the optimizer's arrays, same bytes/param and threads, same eta run;"
          " frac = bound/eta.")
    print("torch default = 1 tensor, foreach=None; best = fastest of 1 tensor/100 chunks x foreach False/True,")
    print("'best CT' the same with OPENBLAS_CORETYPE=%s; x best = min(best, best CT) / eta; x dflt = default / eta.\n"
          % ct)
    hdr = ("%-12s %4s %3s %7s %7s %5s | %8s %8s %8s  %-27s | %6s %6s"
           % ("optimizer", "n", "thr", "eta", "bound", "frac", "default", "best", "best CT", "torch best layout",
              "x best", "x dflt"))
    print(hdr)
    print("-" * len(hdr))
    for key in rows:
        e, ru, rs = eta_rows[key], t_unset[key], t_set[key]
        default = ru[layout_name(*DEFAULT)]
        bu = min(ru.items(), key=lambda kv: kv[1])
        bs = min(rs.items(), key=lambda kv: kv[1])
        best_name, best = (bu[0], bu[1]) if bu[1] <= bs[1] else (bs[0] + " CT", bs[1])
        print("%-12s %4s %3d %7.3f %7.3f %5.2f | %8.3f %8.3f %8.3f  %-27s | %6.2f %6.2f"
              % (key[0], human(key[1]), key[2], e["ns"], e["bound"], e["bound"] / e["ns"], default,
                 bu[1], bs[1], best_name, best / e["ns"], default / e["ns"]))
    if args.verbose:
        print("\nall torch layouts (ns/param; CT: OPENBLAS_CORETYPE=%s, same order):" % ct)
        for key in rows:
            print("  %-12s %4s %d  %s  | CT %s" % (
                key[0], human(key[1]), key[2], "  ".join("%s %.3f" % kv for kv in t_unset[key].items()),
                "  ".join("%.3f" % v for v in t_set[key].values())))

    print("\nfixed cost per step call, 3 parameters of 10 elements (ns):")
    print("%-12s %9s %12s %12s %9s" % ("optimizer", "eta", "torch dflt", "torch best", "x best"))
    for name, _, _ in OPTS:
        tb = min(list(tf_unset[name].values()) + list(tf_set[name].values()))
        e = eta_fixed.get(name, float("nan"))
        print("%-12s %9.1f %12.1f %12.1f %9.1f" % (name, e, tf_unset[name]["foreach=None"], tb, tb / e))

    if eta_finite:
        print("\neta gradient finite check (check_finite), ns/param per step:")
        for (opt, n, th), (off, on) in sorted(eta_finite.items()):
            print("  %s %s, %d thread(s): off %.3f, on %.3f: +%.3f ns/param (+%.1f%%)"
                  % (opt, human(n), th, off, on, on - off, 100 * (on - off) / off))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("eta", nargs="?", default=os.path.join(here, "..", "build", "release", "bench", "optim_step"))
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure everything this many times; keep each number's smallest median")
    ap.add_argument("--sizes", default="1000000,10000000")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--verbose", action="store_true", help="print every torch layout")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--opt", help=argparse.SUPPRESS)
    ap.add_argument("--fixed", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    args.threads = [int(x) for x in args.threads.split(",")]
    if args.child:
        child(args)
    else:
        args.eta = os.path.normpath(args.eta)
        parent(args)


if __name__ == "__main__":
    main()
