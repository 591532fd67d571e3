#!/bin/sh
# tools/guide-figures.sh - draws the figures of docs/guide.md with eta's own commands, so that
# every picture in the guide comes from a command a reader can paste. Runs in a minute or two.
#   tools/guide-figures.sh [ETA] [OUT]      (defaults: build/release/eta, docs/img)
set -eu
ETA=${1:-build/release/eta}
OUT=${2:-docs/img}
RUNS=$(mktemp -d)
trap 'rm -rf "$RUNS"' EXIT
export ETA_DATA_DIR=${ETA_DATA_DIR:-data}
mkdir -p "$OUT"

# 1. too small crawls, just right converges, too large overshoots and diverges:
#    f = (x^2 + 10 y^2) / 2, stable for lr < 2/10
for lr in 0.01 0.19 0.21; do
    "$ETA" optimize --optim "SGD(lr=$lr)" --problem 'quadratic(a=[1, 10])' --steps 60 \
        --plot "$OUT/guide-quadratic-lr$lr.png" > /dev/null
done

# 2. start small and increase: the range test
"$ETA" lr-find configs/digits.ini --plot "$OUT/guide-lrfind.png" --quiet > /dev/null

# 3. schedules, drawn before training
"$ETA" schedule 'StepLR(step_size=30, gamma=0.5)' --lr 0.1 --steps 150 --plot "$OUT/guide-sched-step.png" > /dev/null
"$ETA" schedule 'ExponentialLR(gamma=0.98)' --lr 0.1 --steps 150 --plot "$OUT/guide-sched-exp.png" > /dev/null
"$ETA" schedule "CyclicLR(base_lr=0.001, max_lr=0.1, step_size_up=25, mode='triangular2')" --lr 0.1 --steps 150 \
    --plot "$OUT/guide-sched-cyclic.png" > /dev/null
"$ETA" schedule 'CosineAnnealingWarmRestarts(T_0=50)' --lr 0.1 --steps 150 --plot "$OUT/guide-sched-sgdr.png" > /dev/null
"$ETA" schedule 'SequentialLR([LinearLR(start_factor=0.01, total_iters=15), CosineAnnealingLR(T_max=135)], milestones=[15])' \
    --lr 0.1 --steps 150 --plot "$OUT/guide-sched-warmup.png" > /dev/null

# 4. adaptive optimizers: the Rosenbrock valley, SGD against Adam
"$ETA" optimize --optim 'SGD(lr=1e-3)' --problem 'rosenbrock()' --steps 2000 --plot "$OUT/guide-rosenbrock-sgd.png" > /dev/null
"$ETA" optimize --optim 'Adam(lr=0.05)' --problem 'rosenbrock()' --steps 2000 --plot "$OUT/guide-rosenbrock-adam.png" > /dev/null

# 5. monitor the loss: a run and its charts; 6. grid search over the rate
"$ETA" train configs/digits.ini --dir "$RUNS/digits" --progress off --quiet
cp "$RUNS/digits/loss.png" "$OUT/guide-digits-loss.png"
"$ETA" sweep configs/digits.ini --grid 'optimizer.lr=logspace(1e-4, 1, 9)' --dir "$RUNS/sweep" > /dev/null 2>&1
cp "$RUNS/sweep/metric_vs_optimizer.lr.png" "$OUT/guide-sweep.png"

# 8. L2 penalty against decoupled weight decay, the same strength
"$ETA" train configs/digits.ini --set optimizer='Adam(lr=1e-3, weight_decay=0.1)' --dir "$RUNS/l2" --progress off --quiet
"$ETA" train configs/digits.ini --set optimizer='AdamW(lr=1e-3, weight_decay=0.1)' --dir "$RUNS/decoupled" --progress off --quiet
"$ETA" plot "$RUNS/l2" "$RUNS/decoupled" --metric val_loss --out "$RUNS/wd" > /dev/null
cp "$RUNS/wd/val_loss.png" "$OUT/guide-weight-decay.png"

# 9. local minima: Rastrigin, a small rate stays in the nearest basin; a large one annealed
"$ETA" optimize --optim 'SGD(lr=0.002)' --problem 'rastrigin()' --steps 500 --plot "$OUT/guide-rastrigin-small.png" > /dev/null
"$ETA" optimize --optim 'SGD(lr=0.045)' --sched 'CosineAnnealingLR(T_max=500)' --problem 'rastrigin()' --steps 500 \
    --plot "$OUT/guide-rastrigin-annealed.png" > /dev/null
echo "guide figures in $OUT"
