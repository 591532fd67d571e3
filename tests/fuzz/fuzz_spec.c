/* fuzz_spec.c - libFuzzer harness for the spec parser, binder and readers.
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. -Isrc is for other core files that
 * include "core/..." headers.
 * Every input is parsed; a tree is walked, each call bound against a small
 * signature and each value read with every typed reader; every error is
 * formatted against the text. ASan/UBSan report what goes wrong; the checks
 * below trap on broken invariants (positions outside the text, a formatted
 * error that disagrees with its own length).
 * Seeds: tests/fuzz/spec_seeds/ (calls, dicts of keyword arguments and of
 * steps, nesting, comments).
 */
// clang -g -fsanitize=fuzzer,address,undefined -Iinclude -Isrc src/core/*.c tests/fuzz/fuzz_spec.c -lm -o fuzz_spec
// ./fuzz_spec -max_total_time=60 -max_len=4096 corpus tests/fuzz/spec_seeds
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "eta/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void format(const eta_err *e, const char *text, int len)
{
    char buf[512];
    check(e->pos >= -1 && e->pos <= len);
    int n = eta_err_format(e, text, buf, sizeof buf);
    check(n >= 0 && (n >= (int)sizeof buf || (size_t)n == strlen(buf)));
}

static const eta_spec_param sig[] = {
    {"lr", true, false}, {"betas", false, false}, {"eps", false, false}, {"mode", false, true}, {"steps", false, true},
};

static void walk(const eta_spec *s, const char *text, int len, int depth)
{
    eta_err e;
    check(depth <= 70);
    check(s->pos >= 0 && s->len >= 0 && s->pos + s->len <= len);
    double x, v[4];
    int64_t i;
    bool b;
    const char *str;
    int count;
    if (eta_spec_get_real(s, "x", &x, &e) == ETA_OK) {
        if (eta_spec_check_range(s, "x", x, 0, false, 1, true, &e))
            format(&e, text, len);
        if (eta_spec_check_range(s, "x", x, -INFINITY, false, 0, true, &e))
            format(&e, text, len);
    } else {
        format(&e, text, len);
    }
    if (eta_spec_get_int(s, "i", &i, &e))
        format(&e, text, len);
    if (eta_spec_get_bool(s, "b", &b, &e))
        format(&e, text, len);
    if (eta_spec_get_string(s, "s", &str, &e))
        format(&e, text, len);
    else
        check(str != NULL);
    if (eta_spec_get_reals(s, "v", v, -1, 4, &count, &e))
        format(&e, text, len);
    if (eta_spec_get_reals(s, "v", v, 2, 0, &count, &e))
        format(&e, text, len);
    if (s->kind == ETA_SPEC_CALL) {
        const eta_spec *out[5];
        check(s->str != NULL);
        for (int k = 0; k < s->n; k++)
            check(s->keys[k] ? s->key_pos[k] >= s->pos && s->key_pos[k] < s->pos + s->len : s->key_pos[k] == -1);
        if (eta_spec_bind(s, sig, 5, out, &e))
            format(&e, text, len);
    }
    int items = s->kind == ETA_SPEC_DICT ? 2 * s->n : s->n;
    for (int k = 0; k < items; k++)
        walk(s->items[k], text, len, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    int len = (int)strlen(text);
    eta_spec *root = NULL;
    eta_err e;
    int rc = eta_spec_parse(&root, text, &e);
    if (rc == ETA_OK) {
        check(root != NULL);
        walk(root, text, len, 0);
        eta_spec_free(root);
    } else {
        check(rc == ETA_EFORMAT && root == NULL && e.code == rc && e.pos >= 0 && e.pos <= len);
        format(&e, text, len);
    }
    (void)eta_crc32(0, data, size);
    free(text);
    return 0;
}
