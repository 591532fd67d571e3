#!/usr/bin/env python3
"""tools/dist_model.py - the scaling of eta's data-parallel training to a
cluster, predicted from what bench/dist measured on one machine (its --csv
lines) with the alpha-beta model of an allreduce. docs/distributed.md, "Scale:
measured and predicted", holds the tables this prints and every assumption
behind them; the numbers here and there must agree.

    mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \\
        build/release/bench/dist --csv > dist.csv
    python3 tools/dist_model.py dist.csv        (or: ... | python3 tools/dist_model.py)

Several runs' lines in the input (cat run1.csv run2.csv ...) give every
figure's median over the runs.

Weak scaling: each node computes the config's batch (the global batch grows
with the nodes, as Goyal et al. kept 32 images per GPU), in the time the
one-process step took here (1 process, 2 threads: a node is this 2-core
machine). A step on p nodes takes that time plus the part of the allreduce
of the n-byte gradient that backward does not hide:

    ring                  T(p) = 2 (p - 1) alpha    + 2 (p - 1) / p n beta
    halving-doubling      T(p) = 2 log2(p) alpha    + 2 (p - 1) / p n beta
    exposed, no overlap   T(p)                  (eta now: each model fits one
                                                 25 MB bucket, sent when
                                                 backward ends)
    exposed, overlap      max(0, T(p) - backward)   (the best case)

    efficiency = node step / (node step + exposed)

backward: the node step times backward's share of a step's time outside the
exchange in the 2-process run (bench/dist's backward / (step - exchange)).
"""
import csv
import math
import statistics
import sys

NODES = (8, 64, 256)
# (name, alpha s, line rate bit/s): beta = 1 / (0.9 * line rate / 8) s/byte
NETWORKS = (("10 Gbit/s", 25e-6, 10e9), ("100 Gbit/s", 10e-6, 100e9))
EFFICIENCY = 0.9  # of the line rate that MPI's messages get (TCP/IP and Ethernet framing)
# Goyal et al. 2017 as a check of the model: ResNet-50's 25.6M float32
# gradients, 32 servers of 8 P100s (256 GPUs) over 50 Gbit/s Ethernet, a
# step of ~0.2 s of which backward ~0.12 s (their figures), the inter-server
# allreduce by recursive halving and doubling.
GOYAL = dict(name="ResNet-50 (Goyal)", bytes=25.6e6 * 4, step=0.2, backward=0.12, nodes=32, alpha=10e-6, rate=50e9)


def allreduce(p, nbytes, alpha, beta, tree):
    lat = 2 * math.log2(p) * alpha if tree else 2 * (p - 1) * alpha
    return lat + 2 * (p - 1) / p * nbytes * beta


def efficiency(step, backward, nbytes, p, alpha, rate, tree, overlap):
    t = allreduce(p, nbytes, alpha, 1 / (EFFICIENCY * rate / 8), tree)
    exposed = max(0.0, t - backward) if overlap else t
    return step / (step + exposed)


def read(lines):
    """The input's figures; several runs (their lines one after the other)
    give each figure's median over the runs."""
    steps, links, allreduces = {}, [], {}
    for row in csv.reader(lines):
        if row and row[0] == "model":
            links.append((float(row[1]), float(row[2])))
        elif row and row[0] == "step":
            if int(row[4]) < 2:
                sys.exit("dist_model: the step lines come from a run without mpirun (no backward measured): "
                         "run bench/dist under mpirun -np 2")
            steps.setdefault(row[1], []).append(row)
        elif row and row[0] == "allreduce":
            allreduces.setdefault(row[1], []).append(float(row[4]))
    if not steps:
        sys.exit("dist_model: no step lines in the input (bench/dist --csv under mpirun -np 2)")
    models = []
    for name, rows in steps.items():
        params, batch, ranks, threads = (int(v) for v in rows[0][2:6])
        if any(tuple(int(v) for v in r[2:6]) != (params, batch, ranks, threads) for r in rows):
            sys.exit("dist_model: the runs of %s differ in parameters, batch, ranks or threads" % name)
        one1, one, step, compute, backward, exchange, wait = (
            statistics.median(float(r[i]) for r in rows) for i in range(6, 13))
        if not step > exchange:
            sys.exit("dist_model: %s: the 2-process step (%g s) is not longer than its exchange (%g s)"
                     % (name, step, exchange))
        models.append(dict(name=name, bytes=4 * params, params=params, batch=batch, step=one, one1=one1,
                           backward=one * backward / (step - exchange), par=step, compute=compute,
                           exchange=exchange, ranks=ranks, threads=threads, runs=len(rows),
                           allreduce=statistics.median(allreduces.get(name, [float("nan")]))))
    link = tuple(statistics.median(v) for v in zip(*links)) if links else None
    return models, link


def measured(models):
    m0 = models[0]
    p, t = m0["ranks"], m0["threads"]
    print("Measured here (ms): a step of 1 process of 1 and of %d threads, of %d processes of 1 thread (compute: "
          "one shard's forward and backward; exchange: inside the exchange's calls), and MPI_Allreduce of the "
          "gradient; medians of each run's steps, then the median of %d run(s)\n" % (t, p, m0["runs"]))
    print("| model | params | batch | 1p x 1t | 1p x %dt | %dp x 1t | compute | exchange | allreduce "
          "| %dp x 1t / 1p x %dt | exchange / step |" % (t, p, p, t))
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in models:
        print("| %s | %d | %d | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f | %.2f | %.2f |" % (
            m["name"], m["params"], m["batch"], m["one1"] * 1e3, m["step"] * 1e3, m["par"] * 1e3,
            m["compute"] * 1e3, m["exchange"] * 1e3, m["allreduce"] * 1e3, m["par"] / m["step"],
            m["exchange"] / m["par"]))
    print()


def main():
    if len(sys.argv) > 2 or sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__)
        sys.exit(0 if sys.argv[1:] in (["--help"], ["-h"]) else 2)
    with (open(sys.argv[1]) if len(sys.argv) == 2 else sys.stdin) as f:
        models, link = read(f)
    measured(models)
    print("Per node (measured here): the step of 1 process of 2 threads, backward's estimated part, the gradient\n")
    print("| model | gradient MB | batch per node | node step ms | backward ms | compute ms per gradient MB |")
    print("|---|---:|---:|---:|---:|---:|")
    for m in models + [GOYAL]:
        print("| %s | %.2f | %s | %.2f | %.2f | %.1f |" % (
            m["name"], m["bytes"] / 1e6, m.get("batch", "32 x 8 GPUs"), m["step"] * 1e3, m["backward"] * 1e3,
            m["step"] * 1e3 / (m["bytes"] / 1e6)))
    for tree, title in ((False, "ring allreduce"), (True, "recursive halving and doubling")):
        print("\nScaling efficiency, %s: no overlap / communication hidden behind backward\n" % title)
        print("| model | network | " + " | ".join("%d nodes" % p for p in NODES) + " |")
        print("|---|---|" + "---:|" * len(NODES))
        for m in models:
            for net, alpha, rate in NETWORKS:
                cells = ["%.0f%% / %.0f%%" % tuple(
                    100 * efficiency(m["step"], m["backward"], m["bytes"], p, alpha, rate, tree, ov)
                    for ov in (False, True)) for p in NODES]
                print("| %s | %s | %s |" % (m["name"], net, " | ".join(cells)))
    g = GOYAL
    print("\nThe model on Goyal et al.'s setting (%d servers, 50 Gbit/s, alpha %.0f us): " % (g["nodes"],
          g["alpha"] * 1e6) + ", ".join(
              "%s %.0f%% / %.0f%%" % (title, *(100 * efficiency(g["step"], g["backward"], g["bytes"], g["nodes"],
                                                                g["alpha"], g["rate"], tree, ov)
                                               for ov in (False, True)))
              for tree, title in ((False, "ring"), (True, "halving-doubling"))) + "; measured ~90%")
    if link and link[1] > 0:
        print("\nThis machine (shared memory): alpha %.2f us, %.2f GB/s; 2 processes: the exchange took " % (
            link[0] * 1e6, 1e-9 / link[1]) + ", ".join(
                "%s %.3f ms (model %.3f)" % (m["name"], m["exchange"] * 1e3,
                                              allreduce(2, m["bytes"], link[0], link[1], False) * 1e3)
                for m in models))


if __name__ == "__main__":
    main()
