/* fuzz_files.h - for the data readers' libFuzzer harnesses (fuzz_idx.c,
 * fuzz_csv.c, fuzz_sentences.c): check() that traps, files in one
 * temporary folder per process (in /dev/shm when it exists, so writing an
 * input for every run stays cheap), removed at exit, and gathering a whole
 * split. */
#ifndef ETA_FUZZ_FILES_H
#define ETA_FUZZ_FILES_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "eta/data.h"

static inline void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static char fuzz_dir[64];
static char fuzz_paths[4][128];

static inline void fuzz_remove_files(void)
{
    for (int k = 0; k < 4; k++)
        if (fuzz_paths[k][0])
            unlink(fuzz_paths[k]);
    rmdir(fuzz_dir);
}

/* The folder, made at the first call. */
static inline const char *fuzz_folder(const char *tag)
{
    if (!fuzz_dir[0]) {
        snprintf(fuzz_dir, sizeof fuzz_dir, "/dev/shm/fuzz_%s.XXXXXX", tag);
        if (!mkdtemp(fuzz_dir)) {
            snprintf(fuzz_dir, sizeof fuzz_dir, "/tmp/fuzz_%s.XXXXXX", tag);
            check(mkdtemp(fuzz_dir) != NULL);
        }
        atexit(fuzz_remove_files);
    }
    return fuzz_dir;
}

/* The path of file slot k (0..3) named `name` in the folder. */
static inline const char *fuzz_path(const char *tag, int k, const char *name)
{
    snprintf(fuzz_paths[k], sizeof fuzz_paths[k], "%s/%s", fuzz_folder(tag), name);
    return fuzz_paths[k];
}

/* Writes bytes to slot k. */
static inline void fuzz_write(const char *tag, int k, const char *name, const void *data, size_t len)
{
    FILE *f = fopen(fuzz_path(tag, k, name), "wb");
    check(f != NULL);
    check(fwrite(data, 1, len, f) == len && fclose(f) == 0);
}

/* Every example of split s, in order, into malloc'd buffers (4-byte
 * elements); gather must succeed. Returns the count. */
static inline int64_t fuzz_gather(const eta_dataset *ds, int s, void **x, void **y)
{
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t n = in->size[s], xe = 1, ye = 1;
    for (int i = 0; i < in->input_ndim; i++)
        xe *= in->input_shape[i];
    for (int i = 0; i < in->target_ndim; i++)
        ye *= in->target_shape[i];
    *x = malloc((size_t)(n * xe + 1) * 4);
    *y = malloc((size_t)(n * ye + 1) * 4);
    int64_t *idx = malloc((size_t)(n + 1) * sizeof *idx);
    check(*x && *y && idx);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    eta_err e;
    check(eta_data_gather(ds, (eta_split)s, idx, n, *x, *y, &e) == 0);
    free(idx);
    return n;
}

#endif
