/* fuzz_optim_state.c - libFuzzer harness for eta_optim_load (optim/save.c).
 *
 * Not built by CMake; the build, seed and run commands (from the source root)
 * are in the line comments below the header. No OpenMP (ETA_HAVE_OPENMP unset);
 * -I. because rule files that `#include __FILE__` name themselves relative to
 * the source root.
 * Two Adam optimizers, float64, params of shapes 3x4 and 5, one with amsgrad
 * and one without (the options that decide which state arrays exist), a few
 * steps taken so the state is not zero. Each input is loaded twice into each:
 *   raw:  the input as is (mostly stops at the magic or the CRC);
 *   body: "ETAOPTIM" + input + its CRC-32, so the fuzzer reaches the parser.
 * On failure the optimizer's saved state must be byte-identical to before. On
 * success what was loaded must save, load again and save to the same bytes,
 * pass the setters' checks (set_hparams, set_lr of initial_lr), and a step
 * must run (ASan/UBSan watch it); then the optimizer is put back.
 * Seeds: the seed writer (FUZZ_SEEDS) writes saved states, whole and as
 * bodies, into the corpus directory.
 */
// clang-14 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I. -Iinclude -Isrc src/core/*.c src/optim/*.c tests/fuzz/fuzz_optim_state.c -lm -o fuzz_optim_state
// clang-14 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -DFUZZ_SEEDS -I. -Iinclude -Isrc src/core/*.c src/optim/*.c tests/fuzz/fuzz_optim_state.c -lm -o fuzz_optim_state_seeds && mkdir -p corpus_optim && ./fuzz_optim_state_seeds corpus_optim
// ./fuzz_optim_state -max_total_time=90 -max_len=8192 corpus_optim
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eta/core.h"
#include "eta/optim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { NOPT = 2, N0 = 12, N1 = 5 };

typedef struct bench {
    eta_optim *opt;
    double w0[N0], g0[N0], w1[N1], g1[N1];
} bench;

static bench benches[NOPT];

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void set_grads(bench *b)
{
    for (int i = 0; i < N0; i++)
        b->g0[i] = 0.1 * (i - 5);
    for (int i = 0; i < N1; i++)
        b->g1[i] = -0.3 + 0.2 * i;
}

static void setup(void)
{
    static bool done;
    if (done)
        return;
    done = true;
    for (int k = 0; k < NOPT; k++) {
        bench *b = &benches[k];
        eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_ADAM);
        cfg.dtype = ETA_F64;
        cfg.hp.amsgrad = k == 0;
        cfg.hp.weight_decay = 0.01;
        check(eta_optim_new(&b->opt, &cfg, NULL) == ETA_OK);
        for (int i = 0; i < N0; i++)
            b->w0[i] = 0.25 * i - 1.0;
        for (int i = 0; i < N1; i++)
            b->w1[i] = 1.0 - 0.5 * i;
        check(eta_optim_add_param(b->opt, 0, b->w0, b->g0, 2, (const int64_t[]){3, 4}) == 0);
        check(eta_optim_add_param(b->opt, 0, b->w1, b->g1, 1, (const int64_t[]){5}) == 1);
        for (int s = 0; s < 3; s++) {
            set_grads(b);
            check(eta_optim_step(b->opt) == ETA_OK);
        }
    }
}

static bool same(const void *a, size_t na, const void *b, size_t nb)
{
    return na == nb && memcmp(a, b, na) == 0;
}

/* Loads buf into b and checks the contract; leaves b as it was. */
static void try_load(bench *b, const uint8_t *buf, size_t len)
{
    void *before, *after;
    size_t nbefore, nafter;
    double w0[N0], w1[N1];
    memcpy(w0, b->w0, sizeof w0);
    memcpy(w1, b->w1, sizeof w1);
    check(eta_optim_save(b->opt, &before, &nbefore) == ETA_OK);
    int rc = eta_optim_load(b->opt, buf, len);
    check(rc == ETA_OK || rc == ETA_EFORMAT);
    check(eta_optim_save(b->opt, &after, &nafter) == ETA_OK);
    if (rc) {
        check(eta_optim_error(b->opt)[0] != '\0');
        check(same(before, nbefore, after, nafter));
    } else {
        /* What load accepts, save writes and load accepts again. */
        void *again;
        size_t nagain;
        check(eta_optim_load(b->opt, after, nafter) == ETA_OK);
        check(eta_optim_save(b->opt, &again, &nagain) == ETA_OK);
        check(same(after, nafter, again, nagain));
        eta_optim_free_buf(b->opt, again);
        /* What was loaded is what the setters would accept: the hyperparameters
         * (valid, and keeping the state arrays there are), initial_lr as an lr,
         * a step count that can still grow. */
        eta_optim_hparams hp;
        check(eta_optim_get_hparams(b->opt, 0, &hp) == ETA_OK);
        check(eta_optim_set_hparams(b->opt, 0, &hp) == ETA_OK);
        check(eta_optim_set_lr(b->opt, 0, eta_optim_initial_lr(b->opt, 0)) == ETA_OK);
        check(eta_optim_step_count(b->opt) >= 0 && eta_optim_step_count(b->opt) < INT64_MAX);
        set_grads(b);
        check(eta_optim_step(b->opt) == ETA_OK);
        /* Put the optimizer and its parameters back. */
        check(eta_optim_load(b->opt, before, nbefore) == ETA_OK);
        memcpy(b->w0, w0, sizeof w0);
        memcpy(b->w1, w1, sizeof w1);
        void *back;
        size_t nback;
        check(eta_optim_save(b->opt, &back, &nback) == ETA_OK);
        check(same(before, nbefore, back, nback));
        eta_optim_free_buf(b->opt, back);
    }
    eta_optim_free_buf(b->opt, before);
    eta_optim_free_buf(b->opt, after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size > ((size_t)1 << 20))
        return 0;
    uint8_t *body = malloc(8 + size + 4);
    if (!body)
        return 0;
    memcpy(body, "ETAOPTIM", 8);
    if (size)
        memcpy(body + 8, data, size);
    uint32_t crc = eta_crc32(0, body, 8 + size);
    for (int i = 0; i < 4; i++)
        body[8 + size + (size_t)i] = (uint8_t)(crc >> (8 * i));
    for (int k = 0; k < NOPT; k++) {
        try_load(&benches[k], data, size);
        try_load(&benches[k], body, 8 + size + 4);
    }
    free(body);
    return 0;
}

#ifdef FUZZ_SEEDS
/* Writes each optimizer's saved state into argv[1], whole and as a body. */
static void write_seed(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    check(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s corpus_dir\n", argv[0]);
        return 2;
    }
    setup();
    for (int k = 0; k < NOPT; k++) {
        void *buf;
        size_t len;
        char name[32];
        check(eta_optim_save(benches[k].opt, &buf, &len) == ETA_OK);
        snprintf(name, sizeof name, "state%d", k);
        write_seed(argv[1], name, buf, len);
        snprintf(name, sizeof name, "body%d", k);
        write_seed(argv[1], name, (const char *)buf + 8, len - 12);
        eta_optim_free_buf(benches[k].opt, buf);
    }
    return 0;
}
#endif
