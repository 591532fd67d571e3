#!/usr/bin/python3
"""Writes tests/ref/tune_space.txt: the grids numpy makes (geomspace, which
eta sweep's logspace(from, to, n) follows, and linspace) and the first
points of the unscrambled Sobol and Halton sequences as scipy.stats.qmc
makes them (Debian's python3-numpy, python3-scipy), for
tests/test_tune_space.c.

Format, one item a line:
    geomspace FROM TO N: V0 V1 ...
    linspace FROM TO N: V0 V1 ...
    sobol DIMS N: then N lines of DIMS values
    halton DIMS N: then N lines of DIMS values
Usage: /usr/bin/python3 tools/gen_ref_tune_space.py [OUT]
"""
import sys

import numpy as np

try:
    from scipy.stats import qmc
except ImportError:
    sys.stderr.write("gen_ref_tune_space.py: needs Debian's python3-scipy\n")
    sys.exit(77)


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/ref/tune_space.txt"
    import scipy
    with open(path, "w") as out:
        out.write("# tune space: written by tools/gen_ref_tune_space.py (numpy %s, scipy %s)\n"
                  % (np.__version__, scipy.__version__))
        for a, b, n in [(1e-4, 1, 13), (1e-5, 10, 7), (3e-3, 0.3, 5), (2, 1e-3, 4), (0.1, 0.1, 1)]:
            out.write("geomspace %r %r %d: %s\n" % (a, b, n, " ".join(repr(float(x)) for x in np.geomspace(a, b, n))))
        for a, b, n in [(0.8, 0.99, 4), (0, 1, 11), (-3.5, 2.25, 9), (1e-3, 0.1, 13)]:
            out.write("linspace %r %r %d: %s\n" % (a, b, n, " ".join(repr(float(x)) for x in np.linspace(a, b, n))))
        dims, n = 16, 64
        pts = qmc.Sobol(d=dims, scramble=False).random(n)
        out.write("sobol %d %d:\n" % (dims, n))
        for p in pts:
            out.write(" ".join(repr(float(x)) for x in p) + "\n")
        pts = qmc.Halton(d=dims, scramble=False).random(n)
        out.write("halton %d %d:\n" % (dims, n))
        for p in pts:
            out.write(" ".join(repr(float(x)) for x in p) + "\n")


if __name__ == "__main__":
    main()
