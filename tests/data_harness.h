/* tests/data_harness.h - helpers for the data layer's tests (test_data_*.c):
 * where the data sets are, skipping a test whose data is not installed
 * (with a message saying how to install it), temporary folders and files
 * (plain or gzip) for the error cases, and checking that opening a spec
 * fails with a given code and message. */
#ifndef ETA_TEST_DATA_HARNESS_H
#define ETA_TEST_DATA_HARNESS_H

#include "harness.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <zlib.h>

#include "eta/data.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"
#define DASHER_TEXT "/usr/share/dasher/training_english_GB.txt"

/* The data folder tools/fetch-data.sh fills (ETA_DATA_DIR, set by CTest). */
static inline const char *data_dir(void)
{
    const char *d = getenv("ETA_DATA_DIR");
    return d && *d ? d : "data";
}

/* data_dir()/rel in a static buffer (one of four, so a few can be live). */
static inline const char *data_file(const char *rel)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", data_dir(), rel);
    return buf[k];
}

/* Skips the test (cmocka's skip) when path does not exist. */
#define SKIP_UNLESS(path, how)                                                                           \
    do {                                                                                                 \
        struct stat st_;                                                                                 \
        if (stat((path), &st_) != 0) {                                                                   \
            print_message("skipped: %s not found (%s)\n", (path), (how));                                \
            skip();                                                                                      \
        }                                                                                                \
    } while (0)
#define HOW_DEBIAN "./bootstrap installs the Debian packages dataset-fashion-mnist and dasher-data"
#define HOW_FETCH "./tools/fetch-data.sh installs it into data/"

/* A new empty temporary folder (removed by rm_tmp_dir). */
static inline char *tmp_dir(void)
{
    static char dirs[8][64];
    static int k;
    char *d = dirs[k++ % 8];
    snprintf(d, 64, "/tmp/eta_data_test_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static inline void rm_tmp_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Writes dir/name, gzip-compressed when gz; returns the path (static). */
static inline const char *put_file(const char *dir, const char *name, const void *data, size_t len, bool gz)
{
    static char path[4][4096];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, 4096, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        assert_non_null(f);
        if (len)
            assert_int_equal(gzwrite(f, data, (unsigned)len), (int)len);
        assert_int_equal(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
    }
    return p;
}

static inline const char *put_text(const char *dir, const char *name, const char *text)
{
    return put_file(dir, name, text, strlen(text), false);
}

/* Cuts a file to its first `keep` bytes. */
static inline void truncate_file(const char *path, long keep)
{
    assert_int_equal(truncate(path, keep), 0);
}

static inline long file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (long)st.st_size;
}

/* Opens spec (relative paths from base) and expects failure with `code`
 * and a message holding every one of the NULL-terminated strings. */
static inline void expect_open_error(const char *spec, const char *base, int code, ...)
{
    eta_dataset *ds = (eta_dataset *)1;
    eta_err err;
    int rc = eta_data_open(&ds, spec, base, &err);
    if (rc != code)
        fail_msg("%s: expected code %d, got %d: %s", spec, code, rc, rc ? err.msg : "(opened)");
    assert_null(ds);
    assert_int_equal(err.code, code);
    va_list ap;
    va_start(ap, code);
    for (const char *s; (s = va_arg(ap, const char *));)
        if (!strstr(err.msg, s))
            fail_msg("%s: message \"%s\" lacks \"%s\"", spec, err.msg, s);
    va_end(ap);
}

/* Opens spec or fails the test with the message. */
static inline eta_dataset *open_ok(const char *spec, const char *base)
{
    eta_dataset *ds = NULL;
    eta_err err;
    int rc = eta_data_open(&ds, spec, base, &err);
    if (rc)
        fail_msg("%s: %s", spec, err.msg);
    assert_non_null(ds);
    return ds;
}

/* Every example of a split: inputs and targets (malloc'd). */
static inline void gather_all(const eta_dataset *ds, eta_split s, void **x, void **y)
{
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t n = in->size[s];
    size_t xe = 1, ye = 1;
    for (int i = 0; i < in->input_ndim; i++)
        xe *= (size_t)in->input_shape[i];
    for (int i = 0; i < in->target_ndim; i++)
        ye *= (size_t)in->target_shape[i];
    int64_t *idx = malloc((size_t)(n ? n : 1) * sizeof *idx);
    for (int64_t i = 0; i < n; i++)
        idx[i] = i;
    *x = malloc((size_t)(n ? n : 1) * xe * 4);
    *y = malloc((size_t)(n ? n : 1) * ye * 4);
    eta_err err;
    if (eta_data_gather(ds, s, idx, n, *x, *y, &err))
        fail_msg("gather: %s", err.msg);
    free(idx);
}

/* The splits are disjoint and together cover 0..n (indices from
 * eta_data_split_index), each listed in increasing order. */
static inline void check_partition(const eta_dataset *ds, int64_t n)
{
    char *seen = calloc((size_t)n, 1);
    int64_t total = 0;
    for (int s = 0; s < ETA_SPLIT_COUNT; s++) {
        int64_t k;
        const int64_t *ix = eta_data_split_index(ds, (eta_split)s, &k);
        assert_non_null(ix);
        for (int64_t i = 0; i < k; i++) {
            if (ix[i] < 0 || ix[i] >= n)
                fail_msg("split %d: index %lld outside [0, %lld)", s, (long long)ix[i], (long long)n);
            if (seen[ix[i]])
                fail_msg("split %d: example %lld is in two splits", s, (long long)ix[i]);
            seen[ix[i]] = 1;
            if (i > 0 && ix[i] <= ix[i - 1])
                fail_msg("split %d: not increasing at %lld", s, (long long)i);
        }
        total += k;
    }
    if (total != n)
        fail_msg("the splits hold %lld examples, not %lld", (long long)total, (long long)n);
    free(seen);
}

#endif
