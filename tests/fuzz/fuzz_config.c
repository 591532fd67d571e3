/* fuzz_config.c - libFuzzer harness for training configs (src/train/config*.c
 * on Debian's libinih).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header (libinih itself is the system's
 * uninstrumented library). An input is an INI file, then optionally a NUL
 * byte and overrides separated by NUL bytes ("train.epochs=3\0model=...").
 * The file is read; each override is applied. Then the invariants: an error
 * is ETA_EFORMAT/ETA_EINVAL (or ENOMEM) with a message that never says that
 * eta and libinih disagree about a line ("cannot tell ..."), and a position
 * inside the text; a config read gives every key to its typed getter without
 * error, locates any offset of any value, formats an error at it within its
 * own reported length; its resolved text reads back to the same values and
 * writes the same text again (or is refused as unwritable, a value holding
 * both quote kinds).
 * Seeds: tests/fuzz/config_seeds/ (whole configs, continuation lines,
 * quotes and comments, CRLF and a byte order mark, errors, overrides).
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc src/core/*.c src/train/config*.c tests/fuzz/fuzz_config.c -linih -lm -o fuzz_config
// ./fuzz_config -max_len=2048 -runs=1000000 corpus tests/fuzz/config_seeds
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eta/core.h"
#include "train/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

/* The message after its place "fuzz.ini:LINE:COL: " (user text may follow). */
static const char *after_place(const char *msg)
{
    const char *p = msg;
    if (strncmp(p, "fuzz.ini:", 9) != 0)
        return msg;
    p += 9;
    for (int k = 0; k < 2 && *p >= '0' && *p <= '9'; k++) {
        while (*p >= '0' && *p <= '9')
            p++;
        if (*p == ':')
            p++;
    }
    return *p == ' ' ? p + 1 : p;
}

static void check_error(int rc, const eta_err *e, size_t text_len)
{
    check(rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENOMEM);
    check(e->code == rc && e->msg[0] != '\0');
    check(strncmp(after_place(e->msg), "cannot tell", 11) != 0);
    check(e->pos == -1 || (e->pos >= 0 && (size_t)e->pos <= text_len));
}

/* Every key resolves and reads with its type; every place formats. */
static void check_values(const eta_config *c)
{
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        const char *v = eta_config_get(c, k->section, k->key);
        check(v != NULL);
        eta_err e;
        int rc = ETA_OK;
        int64_t i64;
        double d;
        bool b;
        int idx, n;
        char **items;
        switch (k->type) {
        case ETA_CONFIG_INT: rc = eta_config_get_int(c, k->section, k->key, &i64, &e); break;
        case ETA_CONFIG_REAL: rc = eta_config_get_real(c, k->section, k->key, &d, &e); break;
        case ETA_CONFIG_BOOL: rc = eta_config_get_bool(c, k->section, k->key, &b, &e); break;
        case ETA_CONFIG_ENUM: rc = eta_config_get_enum(c, k->section, k->key, &idx, &e); break;
        case ETA_CONFIG_LIST:
            rc = eta_config_get_list(c, k->section, k->key, &items, &n, &e);
            if (rc == ETA_OK) {
                check(items[n] == NULL);
                free(items);
            }
            break;
        default: break;
        }
        check(rc == ETA_OK);
        int len = (int)strlen(v);
        for (int pos = -1; pos <= len + 1; pos += len / 3 + 1) {
            int line, col;
            const char *src = eta_config_locate(c, k->section, k->key, pos, &line, &col);
            check(src ? col >= 1 && line >= 0 : line == 0 && col == 0);
            eta_err x = {ETA_EINVAL, pos, 3, "m"};
            char buf[300];
            int need = eta_config_format_error(c, k->section, k->key, &x, buf, sizeof buf);
            check(need >= 0 && (need >= (int)sizeof buf || (int)strlen(buf) == need));
        }
    }
}

static void round_trip(const eta_config *c)
{
    char *text;
    size_t len;
    eta_err e;
    int rc = eta_config_to_string(c, &text, &len, &e);
    if (rc) {
        check(rc == ETA_EINVAL && strstr(e.msg, "cannot be written") != NULL);
        return;
    }
    eta_config *back = NULL;
    rc = eta_config_read_string(&back, text, len, "back.ini", &e);
    check(rc == ETA_OK);
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        check(strcmp(eta_config_get(c, k->section, k->key), eta_config_get(back, k->section, k->key)) == 0);
    }
    char *again;
    check(eta_config_to_string(back, &again, NULL, &e) == ETA_OK);
    /* The same text but for the name in its opening comment. */
    const char *a = strstr(text, "\n\n["), *b = strstr(again, "\n\n[");
    check(a && b && strcmp(a, b) == 0);
    free(again);
    free(text);
    eta_config_free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t flen = nul ? (size_t)(nul - text) : size;
    eta_config *c = NULL;
    eta_err e;
    int rc = eta_config_read_string(&c, text, flen, "fuzz.ini", &e);
    if (rc) {
        check(c == NULL);
        check_error(rc, &e, flen);
        return 0;
    }
    check(c != NULL);
    /* Overrides: NUL-separated, at most 8. */
    size_t at = flen + 1;
    for (int k = 0; k < 8 && at < size; k++) {
        const char *s = text + at;
        const char *end = memchr(s, '\0', size - at);
        size_t n = end ? (size_t)(end - s) : size - at;
        char *a = malloc(n + 1);
        check(a != NULL);
        memcpy(a, s, n);
        a[n] = '\0';
        rc = eta_config_set(c, a, &e);
        if (rc)
            check_error(rc, &e, n);
        free(a);
        at += n + 1;
    }
    rc = eta_config_check(c, &e);
    check(rc == ETA_OK || (rc == ETA_EINVAL && strstr(e.msg, "is required") != NULL));
    check_values(c);
    round_trip(c);
    eta_config_free(c);
    return 0;
}
