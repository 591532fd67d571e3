/* fuzz_table.c - libFuzzer harness for eta_table_read (data/table.c).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. No OpenMP (ETA_HAVE_OPENMP unset).
 * Each input is written to one temporary file and read twice: with default
 * options and with a header line skipped and at most 3 rows. Plain text and
 * gzip both reach the reader (gzread passes non-gzip bytes through). A table
 * read must be non-empty, rows x cols finite numbers, and plain text with a
 * NUL byte must fail when every line is read; an error must be EFORMAT (or
 * ENOMEM) with a message. The table is then standardised
 * (ASan/UBSan watch; extreme values may legitimately give inf/nan there).
 */
// clang-14 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc src/core/*.c src/data/*.c tests/fuzz/fuzz_table.c -lz -lm -o fuzz_table
// ./fuzz_table -max_total_time=90 -max_len=4096 [corpus_dir]
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eta/core.h"
#include "eta/data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static char path[64];

static void remove_file(void)
{
    unlink(path);
}

/* Reads the file; plain_nul: the input is plain text holding a NUL byte,
 * which every read of all its lines must reject. */
static void read_once(const eta_table_options *opts, bool plain_nul)
{
    eta_table t;
    eta_err e;
    int rc = eta_table_read(&t, path, opts, &e);
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_ENOMEM);
        check(e.code == rc && e.msg[0] != '\0');
        check(t.data == NULL && t.rows == 0 && t.cols == 0);
        return;
    }
    check(!(plain_nul && !opts));
    check(t.data != NULL && t.rows > 0 && t.cols > 0);
    if (opts && opts->max_rows > 0)
        check(t.rows <= opts->max_rows);
    for (int64_t i = 0; i < t.rows * t.cols; i++)
        check(isfinite(t.data[i]));
    double *stats = malloc(2 * (size_t)t.cols * sizeof *stats);
    check(stats != NULL);
    eta_table_standardize(&t, stats, stats + t.cols);
    free(stats);
    eta_table_free(&t);
    check(t.data == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_table.XXXXXX");
        int fd = mkstemp(path);
        check(fd >= 0);
        close(fd);
        atexit(remove_file);
    }
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size && fclose(f) == 0);
    bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    bool plain_nul = !gzip && memchr(data, 0, size) != NULL;
    read_once(NULL, plain_nul);
    eta_table_options opts = {1, 3};
    read_once(&opts, plain_nul);
    return 0;
}
