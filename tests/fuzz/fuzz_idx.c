/* fuzz_idx.c - libFuzzer harness for the IDX reader (data/idx.c) and the
 * MNIST data set built on it (data/fmnist.c).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. Each input is parsed from memory
 * by data_idx_parse; a parsed array must have 1 to 8 nonzero dimensions
 * whose product is its byte count, all readable (ASan watches). Then the
 * input, minus its first byte, replaces one of the four files of a small
 * valid MNIST folder (the first byte picks which, and whether it is written
 * gzip-compressed) and MNIST(...) opens it: an error must be EFORMAT, EIO
 * or ENOMEM with a message; a data set must give every example with labels
 * in [0, 10) and pixels in [0, 1].
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc src/core/*.c src/data/*.c tests/fuzz/fuzz_idx.c -lz -lm -lpthread -o fuzz_idx
// ./fuzz_idx -runs=1000000 -max_len=4096 tests/fuzz/idx_seeds
#include <string.h>
#include <zlib.h>

#include "data/idx.h"
#include "eta/data.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                     "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};

static void put(int k, const void *p, size_t n, bool gz)
{
    if (!gz) {
        fuzz_write("idx", k, files[k], p, n);
        return;
    }
    gzFile f = gzopen(fuzz_path("idx", k, files[k]), "wb1");
    check(f != NULL);
    check(n == 0 || gzwrite(f, p, (unsigned)n) == (int)n);
    check(gzclose(f) == Z_OK);
}

/* File k of the valid folder: 12 train and 6 test images of 3x2, labels
 * i % 10; written plain (gzread passes plain bytes through). */
static void put_valid(int k)
{
    uint8_t b[128] = {0, 0, 8, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 2};
    int n = k < 2 ? 12 : 6;
    size_t len;
    if (k % 2 == 0) {
        b[7] = (uint8_t)n;
        for (int i = 0; i < n * 6; i++)
            b[16 + i] = (uint8_t)(i * 37);
        len = 16 + (size_t)n * 6;
    } else {
        b[3] = 1;
        b[7] = (uint8_t)n;
        for (int i = 0; i < n; i++)
            b[8 + i] = (uint8_t)(i % 10);
        len = 8 + (size_t)n;
    }
    put(k, b, len, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    data_idx x;
    eta_err e;
    int rc = data_idx_parse(&x, "fuzz", data, size, &e);
    if (rc) {
        check(rc == ETA_EFORMAT && e.msg[0] != '\0');
    } else {
        check(x.ndim >= 1 && x.ndim <= 8);
        int64_t count = 1;
        for (int i = 0; i < x.ndim; i++) {
            check(x.dims[i] > 0);
            count *= x.dims[i];
        }
        check(count == x.count && (size_t)count <= size);
        unsigned sum = 0;
        for (int64_t i = 0; i < x.count; i++)
            sum += x.data[i];
        check(sum <= 255u * (unsigned)x.count);
    }
    if (size < 1)
        return 0;
    static int last = -1; /* the file the previous input replaced */
    for (int k = 0; k < 4; k++)
        if (last < 0 || k == last)
            put_valid(k);
    int which = data[0] % 4;
    put(which, data + 1, size - 1, data[0] & 4);
    last = which;
    char spec[160];
    snprintf(spec, sizeof spec, "MNIST('%s', val=%d, flatten=%s, normalize=%s, split='%s')", fuzz_folder("idx"), data[0] >> 6,
             data[0] & 8 ? "True" : "False", data[0] & 16 ? "True" : "False", data[0] & 32 ? "stratified" : "random");
    eta_dataset *ds;
    rc = eta_data_open(&ds, spec, NULL, &e);
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_EIO || rc == ETA_ENOMEM || rc == ETA_EINVAL);
        check(e.msg[0] != '\0' && ds == NULL);
        return 0;
    }
    const eta_data_info *in = eta_data_get_info(ds);
    int64_t px = in->input_ndim == 1 ? in->input_shape[0] : in->input_shape[1] * in->input_shape[2];
    for (int s = 0; s < 3; s++) {
        int64_t n = in->size[s];
        float *xs = malloc((size_t)(n * px + 1) * sizeof *xs);
        int32_t *ys = malloc((size_t)(n + 1) * sizeof *ys);
        int64_t *idx = malloc((size_t)(n + 1) * sizeof *idx);
        check(xs && ys && idx);
        for (int64_t i = 0; i < n; i++)
            idx[i] = n - 1 - i;
        check(eta_data_gather(ds, (eta_split)s, idx, n, xs, ys, &e) == 0);
        for (int64_t i = 0; i < n; i++)
            check(ys[i] >= 0 && ys[i] < 10);
        if (!(data[0] & 16))
            for (int64_t i = 0; i < n * px; i++)
                check(xs[i] >= 0.0f && xs[i] <= 1.0f);
        free(xs), free(ys), free(idx);
    }
    eta_data_free(ds);
    return 0;
}
