#!/usr/bin/python3
"""Writes tests/ref/demo_diabetes.csv: the table `eta demo` must print,
computed independently with numpy (least squares by numpy.linalg.lstsq,
gradient descent written out in numpy, float64).

Run with Debian's interpreter: /usr/bin/python3 tools/gen_ref_demo.py [DATA_DIR]
(DATA_DIR as filled by tools/fetch-data.sh; default data/).
"""
import gzip
import os
import sys

import numpy as np

RATES = [1e-4, 1e-3, 0.01, 0.03, 0.1, 0.2, 0.24, 0.3, 1.0]
STEPS = 5000


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    data = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "data")
    X = np.loadtxt(gzip.open(os.path.join(data, "sklearn", "diabetes_data_raw.csv.gz")))
    y = np.loadtxt(gzip.open(os.path.join(data, "sklearn", "diabetes_target.csv.gz")))
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    n = len(y)
    A = np.c_[X, np.ones(n)]
    w_star = np.linalg.lstsq(A, y, rcond=None)[0]
    L_star = np.mean((A @ w_star - y) ** 2)
    H = 2.0 / n * A.T @ A
    lam = np.linalg.eigvalsh(H).max()
    rows = ["lr,final_loss,steps_to_target,diverged_at"]
    for lr in RATES:
        w = np.zeros(A.shape[1])
        L0 = np.mean((A @ w - y) ** 2)
        L, hit, div = L0, "", ""
        for t in range(1, STEPS + 1):
            g = 2.0 / n * A.T @ (A @ w - y)
            w = w - lr * g
            L = np.mean((A @ w - y) ** 2)
            if not np.isfinite(L) or L > 10 * L0:
                div = str(t)
                break
            if hit == "" and L <= 1.01 * L_star:
                hit = str(t)
        rows.append("%r,%s,%s,%s" % (lr, "inf" if div else repr(float(L)), hit, div))
    out = os.path.join(here, "..", "tests", "ref", "demo_diabetes.csv")
    with open(out, "w") as f:
        f.write("# eta demo reference, written by tools/gen_ref_demo.py (numpy %s); "
                "L*=%r 2/lambda_max=%r\n" % (np.__version__, float(L_star), float(2 / lam)))
        f.write("\n".join(rows) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
