#!/bin/sh
# tests/cpu_paths.sh TESTS_DIR - eta on the CPUs this machine is not: the
# code paths a user's CPU can take and this one never does, run in
# qemu-x86_64's emulation (Debian's qemu-user, which ./bootstrap test
# installs). CTest test `cpu_paths`.
#
# eta's element kernels are compiled three times (AVX-512, AVX2, baseline
# x86-64: ETA_SIMD_CLONES in src/core/parallel.h) and chosen at load time;
# OpenBLAS picks its kernel family from the CPU. On an AVX-512 machine only
# the AVX-512 clones and families run, so each emulated CPU below runs:
#   - the fixture tests (optimizers, schedules, networks against PyTorch)
#     with the clones and the OpenBLAS family that CPU gets;
#   - test_nn_bits' determinism checks (1, 2 and 3 threads) there;
#   - with eta's C GEMM (ETA_BLAS=builtin), the digest of test_nn_bits'
#     results (21 products, 3 AdamW steps of an MLP, a CNN and a
#     transformer), which must be the same bits as on this machine: eta's own
#     arithmetic does not depend on the CPU. (With OpenBLAS it does: each
#     family has its own kernels.)
# CPUs: Haswell (AVX2 + FMA, no AVX-512) and Nehalem (SSE4.2, no AVX).
# Exit 77 (skipped) where qemu-x86_64 is missing or this is not x86-64.
set -u
dir=${1:?usage: cpu_paths.sh TESTS_DIR}
if [ "$(uname -m)" != x86_64 ]; then
    echo "cpu_paths: not an x86-64 machine: skipped"
    exit 77
fi
if ! command -v qemu-x86_64 >/dev/null 2>&1; then
    echo "cpu_paths: qemu-x86_64 is missing (Debian's qemu-user; ./bootstrap test installs it): skipped"
    exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fails=0

# run NAME CMD...: runs CMD, prints one line, keeps the output for failures.
run() {
    name=$1
    shift
    if "$@" >"$log" 2>&1; then
        echo "ok    $name"
    else
        echo "FAIL  $name (exit $?):"
        grep -v "TCG doesn't support" "$log" | tail -n 40
        fails=$((fails + 1))
    fi
}

digest() { # the digest line of a test_nn_bits run with the C GEMM
    env -u OPENBLAS_CORETYPE ETA_BLAS=builtin OMP_WAIT_POLICY=passive "$@" "$dir/test_nn_bits" --family builtin --quick \
        2>/dev/null | sed -n 's/^digest: //p'
}

want=$(digest)
echo "this CPU: test_nn_bits digest with the C GEMM $want"
for cpu in Haswell Nehalem; do
    q="qemu-x86_64 -cpu $cpu"
    for t in test_optim_ref test_optim_api test_sched_ref test_nn_ref test_nn_dense test_nn_graph; do
        run "$cpu: $t" env -u OPENBLAS_CORETYPE $q "$dir/$t"
    done
    run "$cpu: test_nn_bits with the OpenBLAS family it picks" \
        env -u OPENBLAS_CORETYPE OMP_WAIT_POLICY=passive $q "$dir/test_nn_bits" --family native --quick
    got=$(digest $q)
    if [ -n "$want" ] && [ "$got" = "$want" ]; then
        echo "ok    $cpu: the same bits as this CPU with the C GEMM ($got)"
    else
        echo "FAIL  $cpu: digest with the C GEMM '$got', this CPU '$want'"
        fails=$((fails + 1))
    fi
done
echo "cpu_paths: $fails failed"
[ "$fails" -eq 0 ]
