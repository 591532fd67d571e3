/* fuzz_safetensors.c - libFuzzer harness for eta_net_load_safetensors_bytes
 * (nn/safetensors.c, nn/safetensors_header.c) and eta_net_load_state
 * (nn/state.c).
 *
 * Not built by CMake; the build, seed and run commands (from the source root)
 * are in the line comments below the header. No OpenMP (ETA_HAVE_OPENMP unset).
 * One fixed network with a BatchNorm (so num_batches_tracked is in play) and
 * a Dropout (a random stream): Sequential(Linear(3, 4), BatchNorm1d(4), ReLU(),
 * Dropout(0.5), Linear(4, 2)). The first input byte chooses:
 *   0: the rest is a whole safetensors file;
 *   1: the rest up to its first NUL byte is the JSON header and what follows
 *      the data, and the harness writes the 8-byte length (so mutations of
 *      the JSON are not all stopped by a wrong length);
 *   2: the rest is network state bytes (eta_net_load_state).
 * Each load runs strict and with ETA_LOAD_ALLOW_NONFINITE. On failure the
 * code must be one the API names, the message must start with the file's
 * name, and the network (parameters, buffers, state) must be unchanged. On
 * success a strict load gave finite values; the network then saves, and
 * that file loads back to the same bits; then the network is put back.
 * Seeds: tests/fuzz/safetensors_seeds/ (the seed writer, FUZZ_SEEDS, makes
 * them: files eta writes, torch-ordered files, F16/BF16/F64 variants,
 * bodies for mode 1, network states).
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc src/core/*.c src/optim/*.c src/nn/*.c tests/fuzz/fuzz_safetensors.c -ldl -lm -o fuzz_safetensors
// clang-14 -g -fsanitize=address,undefined -DFUZZ_SEEDS -Iinclude -Isrc src/core/*.c src/optim/*.c src/nn/*.c tests/fuzz/fuzz_safetensors.c -ldl -lm -o fuzz_safetensors_seeds && ./fuzz_safetensors_seeds tests/fuzz/safetensors_seeds
// ./fuzz_safetensors -runs=1000000 -max_len=4096 corpus_st tests/fuzz/safetensors_seeds
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eta/core.h"
#include "eta/nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SPEC "Sequential(Linear(3, 4), BatchNorm1d(4), ReLU(), Dropout(0.5), Linear(4, 2))"

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static eta_net *net;
static float *saved;      /* the parameters as they must stay */
static void *saved_state; /* the state as it must stay */
static size_t nparams, state_len;

static void setup(void)
{
    eta_err err;
    check(eta_net_new(&net, SPEC, &err) == 0);
    check(eta_net_prepare(net, 2, 1, (int64_t[]){3}, &err) == 0);
    eta_net_init(net, 1);
    float x[6] = {0.5f, -1, 2, 0.25f, 1, -0.75f};
    check(eta_net_forward(net, x, NULL, NULL) == 0); /* a count of 1, moved statistics */
    float *p = eta_net_params(net, &nparams);
    saved = malloc(nparams * sizeof *saved);
    memcpy(saved, p, nparams * sizeof *saved);
    check(eta_net_save_state(net, &saved_state, &state_len) == 0);
}

/* The network is as setup left it. */
static void check_unchanged(void)
{
    check(memcmp(eta_net_params(net, NULL), saved, nparams * sizeof *saved) == 0);
    void *st;
    size_t len;
    check(eta_net_save_state(net, &st, &len) == 0);
    check(len == state_len && memcmp(st, saved_state, len) == 0);
    free(st);
}

static void restore(void)
{
    eta_err err;
    memcpy(eta_net_params(net, NULL), saved, nparams * sizeof *saved);
    check(eta_net_load_state(net, saved_state, state_len, &err) == 0);
}

static void load(const uint8_t *b, size_t n, unsigned flags)
{
    eta_err err;
    int rc = eta_net_load_safetensors_bytes(net, b, n, "f.st", flags, &err);
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENONFINITE || rc == ETA_ENOMEM);
        check(err.code == rc && !strncmp(err.msg, "f.st: ", 6));
        check_unchanged();
        return;
    }
    size_t m;
    float *p = eta_net_params(net, &m);
    if (!(flags & ETA_LOAD_ALLOW_NONFINITE))
        for (size_t i = 0; i < m; i++)
            check(isfinite(p[i]));
    bool finite = true;
    for (size_t i = 0; i < m; i++)
        finite &= isfinite(p[i]) != 0;
    void *out;
    size_t len;
    rc = eta_net_safetensors_bytes(net, &out, &len, &err);
    check(finite ? rc == 0 : rc == ETA_ENONFINITE);
    if (!rc) { /* what was loaded saves, and loads back to the same bits */
        float *copy = malloc(m * sizeof *copy);
        memcpy(copy, p, m * sizeof *copy);
        memcpy(p, saved, m * sizeof *p);
        check(eta_net_load_safetensors_bytes(net, out, len, "again", 0, &err) == 0);
        check(memcmp(eta_net_params(net, NULL), copy, m * sizeof *copy) == 0);
        free(copy);
        free(out);
    }
    restore();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!net)
        setup();
    if (size < 1)
        return 0;
    const uint8_t *b = data + 1;
    size_t n = size - 1;
    if (data[0] % 3 == 2) {
        eta_err err;
        int rc = eta_net_load_state(net, b, n, &err);
        if (rc) {
            check((rc == ETA_EFORMAT || rc == ETA_EINVAL) && !strncmp(err.msg, "net state: ", 11));
            check_unchanged();
        }
        restore();
        return 0;
    }
    if (data[0] % 3 == 1) { /* header up to the first NUL, then the data */
        const uint8_t *nul = memchr(b, 0, n);
        size_t h = nul ? (size_t)(nul - b) : n, d = nul ? n - h - 1 : 0;
        uint8_t *f = malloc(8 + h + d + 1);
        for (int i = 0; i < 8; i++)
            f[i] = (uint8_t)((uint64_t)h >> (8 * i));
        memcpy(f + 8, b, h);
        if (d)
            memcpy(f + 8 + h, nul + 1, d);
        load(f, 8 + h + d, 0);
        load(f, 8 + h + d, ETA_LOAD_ALLOW_NONFINITE);
        free(f);
        return 0;
    }
    load(b, n, 0);
    load(b, n, ETA_LOAD_ALLOW_NONFINITE);
    return 0;
}

#ifdef FUZZ_SEEDS
#include "seed_file.h"

/* A body for mode 1: JSON, NUL, data. */
static void put_body(const char *dir, const char *name, const uint8_t *file, size_t len)
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)file[i] << (8 * i);
    uint8_t *b = malloc(len);
    memcpy(b, file + 8, h);
    b[h] = 0;
    memcpy(b + h + 1, file + 8 + h, len - 8 - h);
    seed_file(dir, name, 1, b, len - 7);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    setup();
    eta_err err;
    void *file;
    size_t len;
    check(eta_net_safetensors_bytes(net, &file, &len, &err) == 0);
    seed_file(argv[1], "eta_file", 0, file, len);
    put_body(argv[1], "eta_body", file, len);
    seed_file(argv[1], "net_state", 2, saved_state, state_len);
    /* hand-made variants: torch's order, other dtypes, metadata, escapes */
    const char *variants[] = {
        "{\"__metadata__\":{\"format\":\"pt\",\"k\":\"v\\u00e9\\ud83d\\ude00\"},\"1.num_batches_tracked\":{\"dtype\":"
        "\"I64\",\"shape\":[],\"data_offsets\":[0,8]},\"0.bias\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]},"
        "\"0.weight\":{\"dtype\":\"BF16\",\"shape\":[4,3],\"data_offsets\":[16,40]},\"1.bias\":{\"dtype\":\"F32\",\"shape\":"
        "[4],\"data_offsets\":[40,56]},\"1.running_mean\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[56,88]},"
        "\"1.running_var\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[88,104]},\"1.weight\":{\"dtype\":\"F32\","
        "\"shape\":[4],\"data_offsets\":[104,120]},\"\\u0034.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":"
        "[120,128]},\"4.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[128,160]}}",
        "{\"__metadata__\":null, \"x\": {\"dtype\": \"U8\", \"shape\": [0], \"data_offsets\": [0, 0]}}",
        "{}",
    };
    uint8_t data[160] = {3}; /* a count of 3, every value 0 */
    for (int v = 0; v < 3; v++) {
        size_t h = strlen(variants[v]), dl = v == 0 ? 160 : 0;
        uint8_t *f = malloc(8 + h + dl);
        for (int i = 0; i < 8; i++)
            f[i] = (uint8_t)((uint64_t)h >> (8 * i));
        memcpy(f + 8, variants[v], h);
        memcpy(f + 8 + h, data, dl);
        char name[32];
        snprintf(name, sizeof name, "variant%d", v);
        seed_file(argv[1], name, 0, f, 8 + h + dl);
        snprintf(name, sizeof name, "variant%d_body", v);
        put_body(argv[1], name, f, 8 + h + dl);
        free(f);
    }
    free(file);
    return 0;
}
#endif
