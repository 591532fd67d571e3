#!/bin/sh
# tests/dist_train.sh ETA SOURCE_DIR - data-parallel eta train under mpirun
# (CTest test `dist_train`, registered when Open MPI is found):
#   1. the same bits at any process count: configs/fmnist-mlp.ini (4 shards)
#      without MPI and with 2 processes (the metrics too: the evaluations,
#      which the processes share out, give the same numbers), then 1, 3 and 4 processes on a
#      shorter run, end with byte-identical model.safetensors; so do a CNN
#      with BatchNorm and the sentiment transformer with dropout (2 shards);
#      small buckets (the exchange in many pieces) change nothing;
#   2. a killed process: SIGKILL to rank 1 of 2 after a checkpoint ends the
#      job within 60 s, with mpirun's message naming rank 1; the run then
#      resumes in one process without MPI and ends with the bits of a run
#      that was never interrupted; a process that hangs (SIGSTOP) makes the
#      other stop after dist.timeout (2 s here) with a message naming it,
#      and the run resumes on 4 processes;
#   3. rank 0 alone writes the run directory, and no process prints but
#      errors (--quiet aside, the followers are silent);
#   4. ZeRO-1 (dist.zero_optimizer): without MPI and with 2 and 4 processes,
#      with SGD and clipping by norm and with AdamW, the bits of the
#      unsharded run; each process's optimizer state is about 1/N of the
#      whole (the run's log); a ZeRO-1 checkpoint written by 2 processes
#      resumes on 3 and ends with the uninterrupted run's bits; a rule that
#      is not element by element (Prodigy) is refused with exit 2.
# Each process computes with one thread (train.threads = 1).
set -u
eta=${1:?usage: dist_train.sh ETA SOURCE_DIR}
src=${2:?usage: dist_train.sh ETA SOURCE_DIR}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
mpi() { np=$1; shift; mpirun --allow-run-as-root --oversubscribe -np "$np" "$eta" "$@"; }
same() { # same NAME A B: the two runs' models are byte-identical
    if cmp -s "$2/model.safetensors" "$3/model.safetensors"; then
        echo "ok: $1"
    else
        echo "FAIL: $1: $2 and $3 differ"
        fail=1
    fi
}
mlp="$src/configs/fmnist-mlp.ini"
one="--set train.threads=1 --set train.eval_every=50"

"$eta" train "$mlp" $one --set train.steps=100 --dir "$tmp/a1" --quiet || fail=1
mpi 2 train "$mlp" $one --set train.steps=100 --dir "$tmp/a2" > "$tmp/a2.out" 2>&1 || fail=1
same "fmnist-mlp, 100 steps: 2 processes = no MPI" "$tmp/a1" "$tmp/a2"
# the metrics too: loss, grad norm and the evaluations, which the processes share out
# (every column but the speed, samples_per_s)
if [ "$(cut -d, -f1-7,9- "$tmp/a1/metrics.csv")" = "$(cut -d, -f1-7,9- "$tmp/a2/metrics.csv")" ]; then
    echo "ok: fmnist-mlp: the metrics (losses, grad norms, evaluations) of 2 processes = no MPI"
else
    echo "FAIL: the metrics of 2 processes differ from no MPI"; fail=1
fi
if [ "$(grep '"test"' "$tmp/a1/metrics.jsonl")" != "$(grep '"test"' "$tmp/a2/metrics.jsonl")" ]; then
    echo "FAIL: the test evaluation of 2 processes differs from no MPI"; fail=1
fi
# without --quiet rank 0 shows its progress; the other process prints nothing
if [ "$(grep -c 'done after 100 steps' "$tmp/a2.out")" != 1 ]; then
    echo "FAIL: one summary line expected from 2 processes:"; cat "$tmp/a2.out"; fail=1
fi
"$eta" train "$mlp" $one --set train.steps=30 --dir "$tmp/b0" --quiet || fail=1
for np in 1 3 4; do
    mpi $np train "$mlp" $one --set train.steps=30 --dir "$tmp/b$np" --quiet || fail=1
    same "fmnist-mlp, 30 steps: $np processes = no MPI" "$tmp/b0" "$tmp/b$np"
done
mpi 2 train "$mlp" $one --set train.steps=30 --set dist.bucket_cap_mb=0.05 --dir "$tmp/bb" --quiet || fail=1
same "fmnist-mlp, 30 steps, 50 kB buckets: 2 processes = no MPI" "$tmp/b0" "$tmp/bb"

cnn="$src/configs/fmnist-cnn-cyclic.ini"
two="--set train.threads=1 --set dist.shards=2 --set train.steps=4 --set train.eval_every=2"
"$eta" train "$cnn" $two --dir "$tmp/c1" --quiet || fail=1
mpi 2 train "$cnn" $two --dir "$tmp/c2" --quiet || fail=1
same "CNN with BatchNorm: 2 processes = no MPI" "$tmp/c1" "$tmp/c2"
tr="$src/configs/sentiment-transformer.ini"
"$eta" train "$tr" $two --dir "$tmp/t1" --quiet || fail=1
mpi 2 train "$tr" $two --dir "$tmp/t2" --quiet || fail=1
same "sentiment transformer with dropout: 2 processes = no MPI" "$tmp/t1" "$tmp/t2"
if [ ! -f "$tmp/a2/metrics.csv" ] || [ ! -f "$tmp/a2/checkpoint.eta" ]; then
    echo "FAIL: rank 0 wrote no metrics.csv or checkpoint.eta"; fail=1
fi

# ZeRO-1: the same bits, a 1/N share of the state, checkpoints re-sliced.
z="--set train.threads=1 --set train.steps=40 --set train.eval_every=20 --set train.clip_grad_norm=0.5"
"$eta" train "$mlp" $z --dir "$tmp/z0" --quiet || fail=1
"$eta" train "$mlp" $z --set dist.zero_optimizer=true --dir "$tmp/z1" --quiet || fail=1
same "ZeRO-1 without MPI = unsharded" "$tmp/z0" "$tmp/z1"
for np in 2 4; do
    mpi $np train "$mlp" $z --set dist.zero_optimizer=true --dir "$tmp/z$np" --quiet || fail=1
    same "ZeRO-1, $np processes = unsharded" "$tmp/z0" "$tmp/z$np"
done
# 940,584 bytes of momentum in all; each of 4 processes keeps between 20% and 30% of it
share=$(grep -o 'per process: [0-9 ]* bytes, [0-9]* unsharded' "$tmp/z4/metrics.jsonl" |
        awk '{m = 0; for (i = 3; i <= 6; i++) if ($i > m) m = $i; print m / $8}')
case "$share" in
    0.2*|0.3) echo "ok: ZeRO-1 on 4 processes: the largest share of the optimizer state is $share" ;;
    *) echo "FAIL: ZeRO-1 on 4 processes: largest share '$share'"; grep ZeRO "$tmp/z4/metrics.jsonl"; fail=1 ;;
esac
za="--set train.threads=1 --set train.steps=40 --set output.checkpoint_every=20 --set output.keep_checkpoints=3
    --set dist.zero_optimizer=true --set optimizer=AdamW(lr=1e-3) --set schedule=None"
"$eta" train "$mlp" $za --dir "$tmp/za" --quiet || fail=1
mpi 2 train "$mlp" $za --dir "$tmp/zb" --quiet || fail=1
same "ZeRO-1 AdamW, 2 processes = 1 process" "$tmp/za" "$tmp/zb"
mkdir "$tmp/zr"
cp "$tmp/zb/config.ini" "$tmp/zb/metrics.csv" "$tmp/zb/metrics.jsonl" "$tmp/zb/layers.csv" "$tmp/zr/"
cp "$tmp/zb/checkpoint-20.eta" "$tmp/zr/checkpoint.eta"
mpi 3 train --resume "$tmp/zr" --quiet || fail=1
same "ZeRO-1 checkpoint of 2 processes resumed on 3 = never interrupted" "$tmp/za" "$tmp/zr"
"$eta" train "$mlp" --set dist.zero_optimizer=true --set 'optimizer=Prodigy()' --set train.steps=2 \
    --dir "$tmp/zp" --quiet 2> "$tmp/zp.err"
rc=$?
if [ $rc = 2 ] && grep -q "zero_optimizer" "$tmp/zp.err"; then
    echo "ok: ZeRO-1 refuses Prodigy (exit 2)"
else
    echo "FAIL: ZeRO-1 with Prodigy: exit $rc:"; cat "$tmp/zp.err"; fail=1
fi

# A killed process, and the resume on another process count.
kill_run="--set train.threads=1 --set train.steps=400 --set output.checkpoint_every=25 --set train.eval_every=100"
"$eta" train "$mlp" $kill_run --dir "$tmp/k1" --quiet || fail=1
(mpi 2 train "$mlp" $kill_run --dir "$tmp/k2" --quiet > "$tmp/k2.out" 2>&1; echo $? > "$tmp/k2.rc") &
waited=0
while [ ! -f "$tmp/k2/checkpoint.eta" ] && [ $waited -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
victim=""
for p in $(pgrep -f "k2 --quiet"); do
    if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then victim=$p; fi
done
if [ -z "$victim" ]; then
    echo "FAIL: rank 1 not found (the run ended before it could be killed?)"; fail=1
else
    kill -9 "$victim"
    t=0
    while [ ! -f "$tmp/k2.rc" ] && [ $t -lt 600 ]; do sleep 0.1; t=$((t + 1)); done
    if [ ! -f "$tmp/k2.rc" ]; then
        echo "FAIL: the job still runs 60 s after rank 1 was killed"; fail=1
        pkill -9 -f "k2 --quiet"
    elif [ "$(cat "$tmp/k2.rc")" = 0 ]; then
        echo "FAIL: the job ended with 0 after rank 1 was killed"; fail=1
    elif ! grep -q "process rank 1" "$tmp/k2.out"; then
        echo "FAIL: no message names rank 1:"; cat "$tmp/k2.out"; fail=1
    else
        echo "ok: killed rank 1: the job ended in $((t / 10)).$((t % 10)) s, exit $(cat "$tmp/k2.rc"), naming rank 1"
    fi
    wait
    "$eta" train --resume "$tmp/k2" --quiet || fail=1
    same "resumed in 1 process after rank 1 of 2 died = never interrupted" "$tmp/k1" "$tmp/k2"
fi

# A process that hangs: the other waits dist.timeout, names it and ends the job.
hang="$kill_run --set dist.timeout=2"
(mpi 2 train "$mlp" $hang --dir "$tmp/h2" --quiet > "$tmp/h2.out" 2>&1; echo $? > "$tmp/h2.rc") &
waited=0
while [ ! -f "$tmp/h2/checkpoint.eta" ] && [ $waited -lt 600 ]; do sleep 0.1; waited=$((waited + 1)); done
for p in $(pgrep -f "h2 --quiet"); do
    if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then kill -STOP "$p"; fi
done
t=0
while [ ! -f "$tmp/h2.rc" ] && [ $t -lt 600 ]; do sleep 0.1; t=$((t + 1)); done
if [ ! -f "$tmp/h2.rc" ]; then
    echo "FAIL: the job still runs 60 s after rank 1 hung"; fail=1
    pkill -9 -f "h2 --quiet"
elif ! grep -q "no word from process 1" "$tmp/h2.out"; then
    echo "FAIL: no message names the hung process 1:"; cat "$tmp/h2.out"; fail=1
else
    echo "ok: hung rank 1: the job ended in $((t / 10)).$((t % 10)) s, exit $(cat "$tmp/h2.rc"), naming process 1"
fi
wait
mpi 4 train --resume "$tmp/h2" --quiet || fail=1
same "resumed on 4 processes after rank 1 of 2 hung = never interrupted" "$tmp/k1" "$tmp/h2"
exit $fail
