/* fuzz_csv.c - libFuzzer harness for the CSV reader (data/csv.c) and the
 * CSV data set on top of it (data/tabular.c: columns, labels, one-hot,
 * transforms, windows, splits, standardisation).
 *
 * Not built by CMake; the build and run commands (from the source root) are
 * in the line comments below the header. The first byte of an input picks
 * the header mode, the separator and one of sixteen CSV(...) specs (bit 4
 * picks the second eight: the time series' split='date', rolling= and
 * target_transform=, with the separator ',' fixed); the rest
 * is the file. It is parsed from memory by data_csv_parse (every row must
 * have cols non-NULL fields, line numbers increasing), then written to a
 * file and opened with the spec: an error must carry a known code and a
 * message; a data set must have non-empty train split, every example
 * gathered with class labels in [0, classes) and one-hot rows summing to 1.
 * (Standardised extreme values may legitimately be inf in float32.)
 * FUZZ_VERBOSE=1 prints each spec and what became of it.
 */
// clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc src/core/*.c src/data/*.c tests/fuzz/fuzz_csv.c -lz -lm -lpthread -o fuzz_csv
// ./fuzz_csv -runs=1000000 -max_len=4096 tests/fuzz/csv_seeds
#include <string.h>

#include "data/csv.h"
#include "eta/data.h"
#include "fuzz_files.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const specs[16] = {
    "",
    ", task='regression', target=0",
    ", task='regression', window=2, transform='diff', standardize_target=True, drop=0",
    ", onehot=True, split='stratified'",
    ", target=[-1, -2]",
    ", task='regression', transform='log_return', window=1, features=0",
    ", drop=0, val=1, test=1, split='ordered'",
    ", classes=3, standardize=False, transform='pct_change'",
    /* bit 4: time series (series.c) */
    ", task='regression', split='date', cuts='2000-01-06,2000-01-07', window=1, transform='log_return', target=1",
    ", task='regression', split='date', date=0, cuts=('2000-01-06', '2000-01-07'), window=2, "
    "rolling='std:2,abs_mean:2,mean:1', target_transform='abs', standardize_target=True, features='close', "
    "target='close'",
    ", task='regression', window=2, rolling='abs_mean:2', target_transform='square', drop=0",
    ", task='regression', split='date', cuts='1999-12-31,2000-01-04', window=2, rolling='mean:2', target=-1",
    ", task='regression', split='date', date='date', cuts='2000-01-06,2030-01-01', transform='diff', target=-1, "
    "window=1",
    ", task='regression', target_transform='abs', transform='pct_change', target=-1, drop=0",
    ", task='regression', split='date', cuts='2000-02-29,2000-03-01', window=4, rolling='std:1,std:4', "
    "target=-1",
    ", split='date', cuts='2000-01-05,2000-01-06', window=1, target=-1, task='regression', rolling='abs_mean:1'",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int header = data[0] & 3;
    static const char seps[4] = {0, ',', ';', ' '};
    char sep = seps[(data[0] >> 2) & 3];
    const uint8_t *text = data + 1;
    size_t len = size - 1;
    /* from memory */
    char *buf = malloc(len + 1);
    check(buf != NULL);
    memcpy(buf, text, len);
    buf[len] = '\0';
    data_csv c;
    eta_err e;
    int rc = data_csv_parse(&c, "fuzz", buf, len, (data_csv_header)header, sep, &e);
    if (rc) {
        check((rc == ETA_EFORMAT || rc == ETA_ENOMEM) && e.msg[0] != '\0');
    } else {
        check(c.rows >= 1 && c.cols >= 1 && c.header != DATA_CSV_AUTO);
        for (int64_t r = 0; r < c.rows; r++) {
            check(r == 0 || c.line[r] > c.line[r - 1]);
            for (int64_t j = 0; j < c.cols; j++)
                check(c.cells[r * c.cols + j] != NULL && strlen(c.cells[r * c.cols + j]) <= len);
        }
        for (int64_t j = 0; c.names && j < c.cols; j++)
            check(c.names[j] != NULL);
    }
    data_csv_free(&c);
    /* as a data set */
    fuzz_write("csv", 0, "f.csv", text, len);
    static const char *const headers[4] = {"auto", "none", "names", "sklearn"};
    static const char *const sepname[4] = {"None", "','", "';'", "' '"};
    char spec[512];
    snprintf(spec, sizeof spec, "CSV('f.csv', header='%s', sep=%s%s)", headers[header], sepname[(data[0] >> 2) & 3],
             specs[(data[0] >> 5) | ((data[0] >> 1) & 8)]);
    eta_dataset *ds;
    rc = eta_data_open(&ds, spec, fuzz_folder("csv"), &e);
    if (getenv("FUZZ_VERBOSE")) /* to see what the seeds reach */
        fprintf(stderr, "%s: %s\n", spec, rc ? e.msg : "opened");
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENONFINITE || rc == ETA_ENOMEM || rc == ETA_EIO);
        check(e.msg[0] != '\0' && ds == NULL);
        return 0;
    }
    const eta_data_info *in = eta_data_get_info(ds);
    check(in->size[0] >= 1 && !in->tokens && in->input_ndim == 1);
    int64_t k = in->target_ndim ? in->target_shape[0] : 1;
    for (int s = 0; s < 3; s++) {
        void *xv, *yv;
        int64_t n = fuzz_gather(ds, s, &xv, &yv);
        float *y = yv;
        for (int64_t i = 0; i < n; i++) {
            if (in->class_target) {
                int32_t c32;
                memcpy(&c32, &y[i], 4);
                check(c32 >= 0 && c32 < in->classes);
            } else if (in->classes) { /* one-hot */
                float sum = 0;
                for (int64_t j = 0; j < k; j++)
                    sum += y[i * k + j];
                check(sum == 1.0f);
            }
        }
        free(xv), free(yv);
    }
    eta_data_free(ds);
    return 0;
}
