#!/bin/sh
# bench/sweep_sh.sh - successive halving against the full grid it prunes:
# `eta sweep` over a 13-point log grid of a config's rate, once with no
# pruner (every trial to its end: the reference) and once with successive
# halving, then a table of both (each trial's final metric and steps) and
# the verdict: SH's best against the grid's best (relative), and SH's
# compute (optimizer steps summed over trials) as a fraction of the grid's.
#
#   bench/sweep_sh.sh [CONFIG [KEY [OUT]]]      (defaults: configs/fmnist-mlp.ini,
#                                                schedule.max_lr, runs/bench-sweep)
# ETA: the eta binary (build/release/eta); EVAL: steps between evaluations
# (86: five an epoch of Fashion-MNIST at batch 128); PRUNER: the SH spec
# (sh(min_resource=$EVAL)); GRID: the grid (logspace(1e-4, 1, 13)); SEED: the order
# the grid is visited in (--seed; 0), which the asynchronous rule depends on.
set -eu
eta=${ETA:-build/release/eta}
cfg=${1:-configs/fmnist-mlp.ini}
key=${2:-schedule.max_lr}
out=${3:-runs/bench-sweep}
eval_every=${EVAL:-86}
pruner=${PRUNER:-sh(min_resource=$eval_every)}
grid=${GRID:-logspace(1e-4, 1, 13)}
seed=${SEED:-0}
mkdir -p "$out"
for p in none "$pruner"; do
    name=$( [ "$p" = none ] && echo grid || echo sh )
    rm -rf "${out:?}/$name"
    "$eta" sweep "$cfg" --grid "$key=$grid" --pruner "$p" --set train.eval_every="$eval_every" \
        --set output.plots=false --seed "$seed" --dir "$out/$name" > "$out/$name.ranked.csv" 2> "$out/$name.log"
done
# sweep.csv: trial,KEY,state,val_loss,steps,seconds
awk -F, -v key="$key" '
    FNR == 1 { f++; next }
    f == 1 { g[$2] = $4; gs[$2] = $5; gsteps += $5; if ($3 == "complete" && (gbest == "" || $4 < gbest)) { gbest = $4; glr = $2 } }
    f == 2 { s[$2] = $4; st[$2] = $3; ss[$2] = $5; ssteps += $5; if ($3 == "complete" && (sbest == "" || $4 < sbest)) { sbest = $4; slr = $2 } }
    END {
        printf "| %s | grid val_loss | grid steps | SH state | SH val_loss | SH steps |\n|---|---|---|---|---|---|\n", key
        n = 0; for (k in g) keys[n++] = k
        for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (keys[j] + 0 < keys[i] + 0) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
        for (i = 0; i < n; i++) { k = keys[i]; printf "| %s | %s | %s | %s | %s | %s |\n", k, g[k], gs[k], st[k], s[k], ss[k] }
        printf "\ngrid: best %s at %s=%s, %d steps\n", gbest, key, glr, gsteps
        printf "SH:   best %s at %s=%s, %d steps (%.1f%% of the grid), %.2f%% from the grid best\n", sbest, key, slr, ssteps, 100 * ssteps / gsteps, 100 * (sbest - gbest) / gbest
    }' "$out/grid/sweep.csv" "$out/sh/sweep.csv"
