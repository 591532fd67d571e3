#!/bin/sh
# bench/dist_smoke.sh DIST SOURCE_DIR - a smoke run of bench/dist (CTest test
# `dist_bench`, registered when Open MPI is found). It asserts no time, only
# that every part runs and says something finite:
#   1. under mpirun -np 2 (--quick --csv): the ping-pong's alpha and beta,
#      an allreduce line and a step line per model, every figure finite and
#      positive, and tools/dist_model.py turns them into its tables;
#   2. without mpirun: the one-process steps' table, the MPI columns empty;
#   3. docs/distributed.md holds every table line that tools/dist_model.py
#      prints from the measured run it quotes (bench/dist-results.csv).
set -u
dist=${1:?usage: dist_smoke.sh DIST SOURCE_DIR}
src=${2:?usage: dist_smoke.sh DIST SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
py=$(command -v python3 || echo /usr/bin/python3)

if ! mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 "$dist" --quick --csv > "$tmp/d.csv"; then
    echo "FAIL: mpirun -np 2 dist --quick --csv exited non-zero"; fail=1
fi
# every number of the model, allreduce and step lines finite and > 0
bad=$(awk -F, '
    $1 == "model" { n = 3 } $1 == "allreduce" { n = 5 } $1 == "step" { n = 7 }
    $1 == "model" || $1 == "allreduce" || $1 == "step" {
        seen[$1 ($1 == "model" ? "" : "," $2)] = 1
        for (i = n - 1; i <= NF; i++) if ($i == "nan" || $i == "inf" || !($i + 0 > 0)) print "bad field " i ": " $0
    }
    END {
        split("model allreduce,mlp allreduce,cnn allreduce,transformer step,mlp step,cnn step,transformer", want, " ")
        for (k in want) if (!(want[k] in seen)) print "missing: " want[k]
    }' "$tmp/d.csv")
if [ -n "$bad" ]; then
    echo "FAIL: dist --csv:"; echo "$bad"; cat "$tmp/d.csv"; fail=1
else
    echo "ok: mpirun -np 2 dist --quick --csv: every line, every figure finite"
fi
if "$py" "$src/tools/dist_model.py" "$tmp/d.csv" > "$tmp/model.txt" &&
   [ "$(grep -c '^| \(mlp\|cnn\|transformer\) | 10\{1,2\} Gbit/s |' "$tmp/model.txt")" = 12 ]; then
    echo "ok: tools/dist_model.py: both tables, every model and network"
else
    echo "FAIL: tools/dist_model.py:"; cat "$tmp/model.txt"; fail=1
fi

if "$dist" --quick > "$tmp/one.txt" && [ "$(grep -c '^\(mlp\|cnn\|transformer\) .* -  *-$' "$tmp/one.txt")" = 3 ]; then
    echo "ok: dist --quick without mpirun: the one-process table"
else
    echo "FAIL: dist --quick without mpirun:"; cat "$tmp/one.txt"; fail=1
fi
missing=$("$py" "$src/tools/dist_model.py" "$src/bench/dist-results.csv" | grep '^|' |
    while IFS= read -r line; do grep -qxF -- "$line" "$src/docs/distributed.md" || echo "$line"; done)
if [ -z "$missing" ]; then
    echo "ok: docs/distributed.md holds the tables of bench/dist-results.csv"
else
    echo "FAIL: docs/distributed.md lacks these lines of tools/dist_model.py bench/dist-results.csv:"
    echo "$missing"; fail=1
fi
exit $fail
