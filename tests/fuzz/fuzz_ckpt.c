/* fuzz_ckpt.c - libFuzzer harness for the checkpoint container reader
 * (core/ckpt.c: eta_ckpt_from_bytes, which eta_ckpt_read runs on a file).
 *
 * Not built by CMake; the build, seed and run commands (from the source root)
 * are in the line comments below the header. Core only: libc.
 * The first input byte chooses:
 *   even: the rest as it is (most mutations stop at the size or the CRCs);
 *   odd:  the rest with the size field (offset 16) and the trailer CRC set
 *         right, and every section's CRC too when the byte is 1 mod 4, so
 *         the fuzzer reaches the section walk, names and padding, and
 *         acceptance.
 * A refusal must be ETA_EFORMAT (or ETA_ENOMEM) with a message starting
 * "fz: ". An accepted container must hold sections whose bytes can all be
 * read (ASan watches), aligned to 8, found by their names, which are
 * distinct; and it must serialise back to exactly the input bytes: the
 * format has one encoding of each container, so anything else accepted is
 * a reader bug.
 * Seeds: tests/fuzz/ckpt_seeds/ (the seed writer, FUZZ_SEEDS, makes them).
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc src/core/*.c tests/fuzz/fuzz_ckpt.c -lm -o fuzz_ckpt
// clang-14 -g -fsanitize=address,undefined -DFUZZ_SEEDS -Iinclude -Isrc src/core/*.c tests/fuzz/fuzz_ckpt.c -lm -o fuzz_ckpt_seeds && ./fuzz_ckpt_seeds tests/fuzz/ckpt_seeds
// ./fuzz_ckpt -runs=1000000 -max_len=4096 corpus_ckpt tests/fuzz/ckpt_seeds
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "eta/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* Sets each section's CRC (while the walk holds) and the size and trailer. */
static void fix(uint8_t *b, size_t n, bool sections)
{
    if (n < 28)
        return;
    eta_put_le(b + 16, n, 8);
    size_t o = 24, end = n - 4;
    uint64_t count = eta_get_le(b + 12, 4);
    for (uint64_t i = 0; sections && i < count && end - o >= 16; i++) {
        size_t nl = (size_t)eta_get_le(b + o, 4), pn = (8 - (nl & 7)) & 7;
        uint64_t dl = eta_get_le(b + o + 8, 8);
        if (nl > end - o - 16 || pn > end - o - 16 - nl)
            break;
        size_t data = o + 16 + nl + pn;
        if (dl > end - data)
            break;
        eta_put_le(b + o + 4, eta_crc32(0, b + data, (size_t)dl), 4);
        size_t pd = (8 - (dl & 7)) & 7;
        if (pd > end - data - dl)
            break;
        o = data + (size_t)dl + pd;
    }
    eta_put_le(b + end, eta_crc32(0, b, end), 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t n = size - 1;
    uint8_t *b = malloc(n ? n : 1);
    memcpy(b, data + 1, n);
    if (data[0] & 1)
        fix(b, n, (data[0] & 3) == 1);
    eta_ckpt *c;
    eta_err err;
    int rc = eta_ckpt_from_bytes(&c, b, n, "fz", &err);
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_ENOMEM);
        check(c == NULL && err.code == rc && !strncmp(err.msg, "fz: ", 4));
        free(b);
        return 0;
    }
    int count = eta_ckpt_count(c);
    unsigned sum = 0;
    for (int i = 0; i < count; i++) {
        const char *name = eta_ckpt_name(c, i);
        check(name != NULL && strlen(name) >= 1 && strlen(name) <= 255);
        for (int k = 0; k < i; k++)
            check(strcmp(name, eta_ckpt_name(c, k)) != 0);
        const void *d;
        size_t len;
        check(eta_ckpt_get(c, name, &d, &len) == 0);
        check((uintptr_t)d % 8 == 0);
        for (size_t k = 0; k < len; k++)
            sum += ((const uint8_t *)d)[k];
    }
    check(eta_ckpt_name(c, count) == NULL);
    void *out;
    size_t len;
    check(eta_ckpt_to_bytes(c, &out, &len) == 0);
    check(len == n && memcmp(out, b, n) == 0);
    free(out);
    eta_ckpt_free(c);
    free(b);
    return (int)(sum & 0); /* the sum only makes ASan read every byte */
}

#ifdef FUZZ_SEEDS
#include "seed_file.h"

static void put(const char *dir, const char *name, uint8_t mode, const eta_ckpt *c)
{
    void *b;
    size_t n;
    check(eta_ckpt_to_bytes(c, &b, &n) == 0);
    seed_file(dir, name, mode, b, n);
    free(b);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    eta_ckpt *c;
    check(eta_ckpt_new(&c) == 0);
    put(argv[1], "empty", 0, c);
    check(eta_ckpt_add(c, "model", "0123456789abcdefXYZ", 19) == 0);
    put(argv[1], "one", 0, c);
    check(eta_ckpt_add(c, "empty", NULL, 0) == 0);
    check(eta_ckpt_add(c, "optim state", "\x01\x02\x03", 3) == 0);
    uint8_t blob[200];
    for (int i = 0; i < 200; i++)
        blob[i] = (uint8_t)(i * 37);
    check(eta_ckpt_add(c, "a name of exactly 24 byte", blob, 200) == 0);
    put(argv[1], "four", 0, c);
    put(argv[1], "four_fixed", 1, c);
    eta_ckpt_free(c);
    return 0;
}
#endif
