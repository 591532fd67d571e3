/* fuzz_model.c - libFuzzer harness for model specs (nn/): build, prepare,
 * set a loss, initialise, and run forward and backward passes.
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. No OpenMP (ETA_HAVE_OPENMP unset),
 * and ETA_BLAS=builtin is set, so that the C GEMM runs (ASan sees it all).
 * Input: a first byte choosing the loss, batch and input rank, then the
 * input shape in bytes, then the spec text. Errors are fine when they carry
 * a message; a network that prepares must run forward and backward without
 * a crash (ASan/UBSan watch; a loss may be anything the numbers give) and
 * write every parameter gradient it promises.
 * Sizes are bounded before running (parameters, input elements, the bytes
 * allocated once prepared) so that a spec asking for a billion features or
 * a padding of 11111 fails or is skipped, not swapped.
 * Seeds: tests/fuzz/model_seeds/ (the README's and tests' specs).
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc src/core/*.c src/optim/*.c src/nn/*.c tests/fuzz/fuzz_model.c -ldl -lm -o fuzz_model
// ASAN_OPTIONS=allocator_may_return_null=1 ./fuzz_model -max_total_time=120 -max_len=512 -rss_limit_mb=4096 -malloc_limit_mb=1000000 corpus tests/fuzz/model_seeds
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanitizer/allocator_interface.h>

#include "eta/core.h"
#include "eta/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static const char *const LOSSES[] = {"CrossEntropyLoss()", "MSELoss()", "CrossEntropyLoss(label_smoothing=0.1)",
                                     "HuberLoss()", "BCEWithLogitsLoss()", "NLLLoss()", "CrossEntropyLoss(ignore_index=0)",
                                     "MSELoss(reduction='sum')"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool env;
    if (!env) {
        setenv("ETA_BLAS", "builtin", 1);
        env = true;
    }
    if (size < 4)
        return 0;
    int loss = data[0] & 7, batch = 1 + ((data[0] >> 3) & 3), rank = data[1] % 4;
    int64_t shape[3];
    size_t nin = (size_t)batch;
    if (size < 3 + (size_t)rank)
        return 0;
    for (int d = 0; d < rank; d++) {
        shape[d] = data[2 + d] % 33; /* 0 is an error to report */
        nin *= (size_t)(shape[d] ? shape[d] : 1);
    }
    size_t off = 2 + (size_t)rank;
    char *spec = malloc(size - off + 1);
    memcpy(spec, data + off, size - off);
    spec[size - off] = 0;

    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err)) {
        check(err.msg[0] != 0);
        free(spec);
        return 0;
    }
    int rc = eta_net_prepare(net, batch, rank, shape, &err);
    if (!rc)
        rc = eta_net_set_loss(net, LOSSES[loss], &err);
    if (rc) {
        check(err.msg[0] != 0);
        eta_net_free(net);
        free(spec);
        return 0;
    }
    size_t np = eta_net_param_total(net);
    /* prepared, but too large to run here (a padding of 11111 is a valid,
     * huge convolution): ASan's count of the bytes the network holds */
    if (np > 200000 || nin > 4096 || __sanitizer_get_current_allocated_bytes() > ((size_t)256 << 20)) {
        eta_net_free(net);
        free(spec);
        return 0;
    }
    check(eta_net_init(net, 1) == ETA_OK);
    int nd;
    int64_t os[4];
    eta_net_output(net, &nd, os);
    size_t nout = 1;
    for (int d = 0; d < nd; d++)
        nout *= (size_t)os[d];
    /* inputs: floats or token ids from the data; targets: class ids or floats */
    float *x = malloc(nin * sizeof *x);
    int32_t *ids = malloc(nin * sizeof *ids);
    for (size_t i = 0; i < nin; i++) {
        uint8_t b = data[i % size];
        x[i] = (float)((int)b - 128) / 32.0f;
        ids[i] = b % 40;
    }
    size_t nt = nout > nin ? nout : nin; /* enough for either kind of target */
    float *tf = malloc(nt * sizeof *tf);
    int32_t *ti = malloc(nt * sizeof *ti);
    for (size_t i = 0; i < nt; i++) {
        tf[i] = (float)(i % 3) * 0.5f;
        ti[i] = (int32_t)(i % 5) - (i % 11 == 0); /* now and then -1: an error or ignored */
    }
    bool int_target = loss == 0 || loss == 2 || loss == 5 || loss == 6;
    const void *in = eta_net_input_type(net) == ETA_NN_INT32 ? (const void *)ids : (const void *)x;
    double l = 0;
    for (int pass = 0; pass < 2; pass++) {
        eta_net_train(net, pass == 0);
        rc = eta_net_forward(net, in, int_target ? (const void *)ti : (const void *)tf, &l);
        if (rc) {
            check(eta_net_error(net)[0] != 0);
            break;
        }
        rc = eta_net_backward(net);
        check(rc == ETA_OK);
        size_t ng;
        const float *g = eta_net_grads(net, &ng);
        check(ng == np);
        volatile float s = 0;
        for (size_t i = 0; i < ng; i++)
            s += g[i]; /* every gradient was written (ASan: initialised memory) */
        (void)s;
    }
    free(x);
    free(ids);
    free(tf);
    free(ti);
    eta_net_free(net);
    free(spec);
    return 0;
}
