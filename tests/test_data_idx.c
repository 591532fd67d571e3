/* test_data_idx.c - the IDX reader and the FashionMNIST / MNIST data sets. labels: unit full
 *
 * On Debian's dataset-fashion-mnist (skipped when it is not installed):
 * the counts, the per-class counts, the first labels and the pixel sums of
 * the first and last images, all checked against constants computed
 * independently with Debian's Python (gzip + numpy):
 *
 *   X = np.frombuffer(gzip.open(f).read(), np.uint8, offset=16).reshape(-1, 784)
 *   y = np.frombuffer(gzip.open(g).read(), np.uint8, offset=8)
 *   y[:10], np.bincount(y), X[0].sum(), X[-1].sum(), X.sum(dtype=np.int64),
 *   X.mean() / 255, (X / 255.).std()
 *
 * then the defaults, normalisation from the training split only, stratified
 * validation. On small IDX files written here: every error the reader
 * gives (wrong magic, an unsupported type, a label out of range, a truncated
 * gzip stream, missing data, trailing bytes, an empty file, mismatched
 * counts and sizes), each with its file and byte offset.
 */
#include "data_harness.h"

/* ---- Fashion-MNIST, the real files --------------------------------------- */

static int64_t byte_sum(const float *x, int64_t n)
{
    int64_t s = 0;
    for (int64_t i = 0; i < n; i++)
        s += lroundf(x[i] * 255.0f);
    return s;
}

static void test_fmnist_real(void **state)
{
    (void)state;
    SKIP_UNLESS(FMNIST_DIR "/train-images-idx3-ubyte.gz", HOW_DEBIAN);
    eta_dataset *ds = open_ok("FashionMNIST(val=0, flatten=True)", NULL);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->size[ETA_SPLIT_TRAIN], 60000);
    assert_int_equal(in->size[ETA_SPLIT_VAL], 0);
    assert_int_equal(in->size[ETA_SPLIT_TEST], 10000);
    assert_int_equal(in->input_ndim, 1);
    assert_int_equal(in->input_shape[0], 784);
    static const int first_train[10] = {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}, first_test[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7};
    static const int64_t first_sum[2] = {76247, 33456}, last_sum[2] = {16684, 24390};
    static const int64_t total[2] = {3431114169LL, 573469082LL}, per_class[2] = {6000, 1000};
    for (int f = 0; f < 2; f++) {
        eta_split s = f ? ETA_SPLIT_TEST : ETA_SPLIT_TRAIN;
        int64_t n = in->size[s];
        void *x, *y;
        gather_all(ds, s, &x, &y);
        const int32_t *lab = y;
        const int *want = f ? first_test : first_train;
        for (int i = 0; i < 10; i++)
            assert_int_equal(lab[i], want[i]);
        int64_t count[10] = {0};
        for (int64_t i = 0; i < n; i++) {
            assert_in_range(lab[i], 0, 9);
            count[lab[i]]++;
        }
        for (int c = 0; c < 10; c++)
            assert_int_equal(count[c], per_class[f]);
        assert_int_equal(byte_sum(x, 784), first_sum[f]);
        assert_int_equal(byte_sum((float *)x + (n - 1) * 784, 784), last_sum[f]);
        assert_int_equal(byte_sum(x, n * 784), total[f]);
        free(x);
        free(y);
    }
    eta_data_free(ds);
}

/* check_partition for Fashion-MNIST: train + val cover the train file. */
static void check_train_file_partition(const eta_dataset *ds)
{
    int64_t nt, nv;
    const int64_t *t = eta_data_split_index(ds, ETA_SPLIT_TRAIN, &nt), *v = eta_data_split_index(ds, ETA_SPLIT_VAL, &nv);
    assert_int_equal(nt + nv, 60000);
    char *seen = calloc(60000, 1);
    for (int64_t i = 0; i < nt; i++)
        seen[t[i]]++;
    for (int64_t i = 0; i < nv; i++)
        seen[v[i]]++;
    for (int i = 0; i < 60000; i++)
        assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_fmnist_defaults(void **state)
{
    (void)state;
    SKIP_UNLESS(FMNIST_DIR "/train-images-idx3-ubyte.gz", HOW_DEBIAN);
    eta_dataset *ds = open_ok("FashionMNIST()", NULL);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_string_equal(in->name, "FashionMNIST");
    assert_int_equal(in->size[0], 55000);
    assert_int_equal(in->size[1], 5000);
    assert_int_equal(in->size[2], 10000);
    assert_false(in->tokens);
    assert_int_equal(in->input_ndim, 3);
    assert_int_equal(in->input_shape[0], 1);
    assert_int_equal(in->input_shape[1], 28);
    assert_int_equal(in->input_shape[2], 28);
    assert_true(in->class_target);
    assert_int_equal(in->target_ndim, 0);
    assert_int_equal(in->classes, 10);
    assert_int_equal(in->vocab, 0);
    assert_int_equal(in->padding_idx, -1);
    assert_string_equal(eta_data_class_name(ds, 0), "T-shirt/top");
    assert_string_equal(eta_data_class_name(ds, 9), "Ankle boot");
    assert_null(eta_data_class_name(ds, 10));
    assert_int_equal(eta_data_input_stats(ds, NULL, NULL), 0); /* not normalised */
    check_train_file_partition(ds);
    /* the defaults written out give the same split; another seed another */
    eta_dataset *same = open_ok("FashionMNIST(root='" FMNIST_DIR "', val=5000, seed=0, split='random', "
                                "flatten=False, normalize=False)",
                                NULL);
    eta_dataset *other = open_ok("FashionMNIST(seed=1)", NULL);
    int64_t n;
    const int64_t *a = eta_data_split_index(ds, ETA_SPLIT_VAL, &n), *b = eta_data_split_index(same, ETA_SPLIT_VAL, NULL);
    const int64_t *c = eta_data_split_index(other, ETA_SPLIT_VAL, NULL);
    assert_memory_equal(a, b, (size_t)n * sizeof *a);
    assert_memory_not_equal(a, c, (size_t)n * sizeof *a);
    /* ToTensor: bytes / 255 in [0, 1] */
    void *x, *y;
    gather_all(ds, ETA_SPLIT_VAL, &x, &y);
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < n * 784; i++) {
        lo = fminf(lo, ((float *)x)[i]);
        hi = fmaxf(hi, ((float *)x)[i]);
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    free(x);
    free(y);
    eta_data_free(ds);
    eta_data_free(same);
    eta_data_free(other);
}

static void test_fmnist_normalize_from_train(void **state)
{
    (void)state;
    SKIP_UNLESS(FMNIST_DIR "/train-images-idx3-ubyte.gz", HOW_DEBIAN);
    /* over the whole train file: numpy's numbers (see the top comment) */
    eta_dataset *all = open_ok("FashionMNIST(val=0, normalize=True)", NULL);
    const double *mean, *sd;
    assert_int_equal(eta_data_input_stats(all, &mean, &sd), 1);
    assert_true(fabs(mean[0] - 0.2860405969887955) < 1e-12);
    assert_true(fabs(sd[0] - 0.35302424451492237) < 1e-12);
    eta_data_free(all);
    /* with a validation split, from the training split alone: the test sums
     * the training images' bytes itself */
    eta_dataset *raw = open_ok("FashionMNIST(val=20000, seed=3)", NULL);
    eta_dataset *ds = open_ok("FashionMNIST(val=20000, seed=3, normalize=True)", NULL);
    check_train_file_partition(ds);
    void *x, *y;
    gather_all(raw, ETA_SPLIT_TRAIN, &x, &y);
    int64_t n = eta_data_get_info(raw)->size[ETA_SPLIT_TRAIN] * 784;
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double b = (double)lroundf(((float *)x)[i] * 255.0f) / 255.0;
        s += b;
        s2 += b * b;
    }
    double m = s / (double)n, v = s2 / (double)n - m * m;
    assert_int_equal(eta_data_input_stats(ds, &mean, &sd), 1);
    assert_true(fabs(mean[0] - m) < 1e-9);
    assert_true(fabs(sd[0] - sqrt(v)) < 1e-9);
    assert_true(fabs(mean[0] - 0.2860405969887955) > 1e-6); /* not the whole file's */
    /* the inputs: (byte / 255 - mean) / std in float32, as torchvision's Normalize */
    void *xn, *yn;
    gather_all(ds, ETA_SPLIT_TEST, &xn, &yn);
    void *xr, *yr;
    gather_all(raw, ETA_SPLIT_TEST, &xr, &yr);
    for (int64_t i = 0; i < 784 * 100; i++) {
        float want = (((float *)xr)[i] - (float)mean[0]) / (float)sd[0];
        assert_true(((float *)xn)[i] == want);
    }
    free(x), free(y), free(xn), free(yn), free(xr), free(yr);
    eta_data_free(raw);
    eta_data_free(ds);
}

static void test_fmnist_stratified(void **state)
{
    (void)state;
    SKIP_UNLESS(FMNIST_DIR "/train-images-idx3-ubyte.gz", HOW_DEBIAN);
    eta_dataset *ds = open_ok("FashionMNIST(val=0.1, split='stratified', seed=7)", NULL);
    assert_int_equal(eta_data_get_info(ds)->size[ETA_SPLIT_VAL], 6000);
    check_train_file_partition(ds);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_VAL, &x, &y);
    int64_t count[10] = {0};
    for (int i = 0; i < 6000; i++)
        count[((int32_t *)y)[i]]++;
    for (int c = 0; c < 10; c++)
        assert_int_equal(count[c], 600);
    free(x);
    free(y);
    eta_data_free(ds);
}

/* ---- small IDX files: every error ---------------------------------------- */

/* An IDX file of unsigned bytes: header for dims, then data. */
static size_t idx_bytes(uint8_t *buf, int ndim, const uint32_t *dims, const uint8_t *data)
{
    size_t n = 4, count = 1;
    buf[0] = 0, buf[1] = 0, buf[2] = 0x08, buf[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++) {
        buf[n++] = (uint8_t)(dims[i] >> 24), buf[n++] = (uint8_t)(dims[i] >> 16);
        buf[n++] = (uint8_t)(dims[i] >> 8), buf[n++] = (uint8_t)dims[i];
        count *= dims[i];
    }
    memcpy(buf + n, data, count);
    return n + count;
}

/* Writes a small MNIST-format folder: 20 train and 10 test images of 4x4,
 * labels i % 10. */
static void put_mnist(const char *dir)
{
    static uint8_t buf[1024], px[320], lab[20];
    for (int i = 0; i < 320; i++)
        px[i] = (uint8_t)(i * 7);
    for (int i = 0; i < 20; i++)
        lab[i] = (uint8_t)(i % 10);
    size_t n = idx_bytes(buf, 3, (uint32_t[]){20, 4, 4}, px);
    put_file(dir, "train-images-idx3-ubyte.gz", buf, n, true);
    n = idx_bytes(buf, 1, (uint32_t[]){20}, lab);
    put_file(dir, "train-labels-idx1-ubyte.gz", buf, n, true);
    n = idx_bytes(buf, 3, (uint32_t[]){10, 4, 4}, px + 160);
    put_file(dir, "t10k-images-idx3-ubyte.gz", buf, n, true);
    n = idx_bytes(buf, 1, (uint32_t[]){10}, lab);
    put_file(dir, "t10k-labels-idx1-ubyte.gz", buf, n, true);
}

static void test_mnist_small(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_mnist(dir);
    char spec[256];
    snprintf(spec, sizeof spec, "MNIST('%s', val=4, flatten=True)", dir);
    eta_dataset *ds = open_ok(spec, NULL);
    const eta_data_info *in = eta_data_get_info(ds);
    assert_int_equal(in->size[0], 16);
    assert_int_equal(in->size[1], 4);
    assert_int_equal(in->size[2], 10);
    assert_int_equal(in->input_shape[0], 16);
    assert_string_equal(eta_data_class_name(ds, 3), "3 - three");
    /* test image 2 is bytes 160 + 32 .. : (i * 7) mod 256 / 255 */
    float x[16];
    int32_t y;
    eta_err err;
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_TEST, (int64_t[]){2}, 1, x, &y, &err), 0);
    for (int j = 0; j < 16; j++)
        assert_true(x[j] == (float)(uint8_t)((192 + j) * 7) / 255.0f);
    assert_int_equal(y, 2);
    /* relative roots come from base_dir */
    eta_dataset *rel = open_ok("MNIST('.', val=4)", dir);
    eta_data_free(rel);
    /* gather checks its indices */
    assert_int_equal(eta_data_gather(ds, ETA_SPLIT_VAL, (int64_t[]){4}, 1, x, &y, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "outside the val split [0, 4)"));
    assert_int_equal(eta_data_gather(ds, (eta_split)3, (int64_t[]){0}, 1, x, &y, &err), ETA_EINVAL);
    eta_data_free(ds);
    rm_tmp_dir(dir);
}

/* Replaces one file of a good folder and expects the open to fail. */
static void expect_file_error(const char *file, const void *data, size_t len, bool gz, int code, const char *m1,
                              const char *m2)
{
    char *dir = tmp_dir();
    put_mnist(dir);
    put_file(dir, file, data, len, gz);
    char spec[256];
    snprintf(spec, sizeof spec, "MNIST('%s', val=4)", dir);
    expect_open_error(spec, NULL, code, file, m1, m2, NULL);
    rm_tmp_dir(dir);
}

static void test_idx_errors(void **state)
{
    (void)state;
    uint8_t buf[1024], px[320] = {0}, lab[20] = {0};
    size_t n;
    /* wrong magic */
    n = idx_bytes(buf, 1, (uint32_t[]){20}, lab);
    buf[1] = 1;
    expect_file_error("train-labels-idx1-ubyte.gz", buf, n, true, ETA_EFORMAT, "byte 0: wrong IDX magic 00 01 08 01",
                      "not an IDX file");
    /* a type eta does not read */
    n = idx_bytes(buf, 1, (uint32_t[]){20}, lab);
    buf[2] = 0x0D;
    expect_file_error("train-labels-idx1-ubyte.gz", buf, n, true, ETA_EFORMAT, "byte 2: IDX type 0x0d (float32)",
                      "unsigned bytes");
    /* a label out of range, at byte 8 + 3 */
    lab[3] = 10;
    n = idx_bytes(buf, 1, (uint32_t[]){20}, lab);
    expect_file_error("train-labels-idx1-ubyte.gz", buf, n, true, ETA_EFORMAT, "byte 11: label 10 of image 3",
                      "out of range [0, 10)");
    lab[3] = 0;
    /* fewer data bytes than the dimensions promise */
    n = idx_bytes(buf, 3, (uint32_t[]){20, 4, 4}, px);
    expect_file_error("train-images-idx3-ubyte.gz", buf, n - 5, true, ETA_EFORMAT, "truncated",
                      "promise 320 bytes of data after the 16-byte header, the file has 315");
    /* more */
    buf[n] = 0;
    expect_file_error("train-images-idx3-ubyte.gz", buf, n + 1, true, ETA_EFORMAT, "byte 336: 1 bytes after", NULL);
    /* an empty file, gzip or not */
    expect_file_error("t10k-images-idx3-ubyte.gz", "", 0, true, ETA_EFORMAT, "empty file", NULL);
    expect_file_error("t10k-images-idx3-ubyte.gz", "", 0, false, ETA_EFORMAT, "empty file", NULL);
    /* a header cut inside the dimensions */
    expect_file_error("t10k-images-idx3-ubyte.gz", buf, 9, false, ETA_EFORMAT, "truncated: 9 bytes",
                      "header of 3 dimensions needs 16");
    /* counts that disagree */
    n = idx_bytes(buf, 1, (uint32_t[]){19}, lab);
    expect_file_error("train-labels-idx1-ubyte.gz", buf, n, true, ETA_EFORMAT, "19 labels for the 20 images", NULL);
    /* test images of another size than the train ones */
    n = idx_bytes(buf, 3, (uint32_t[]){10, 4, 8}, px);
    expect_file_error("t10k-images-idx3-ubyte.gz", buf, n, true, ETA_EFORMAT, "images of 4x8", "are 4x4");
    /* labels with the shape of images */
    n = idx_bytes(buf, 2, (uint32_t[]){20, 1}, lab);
    expect_file_error("train-labels-idx1-ubyte.gz", buf, n, true, ETA_EFORMAT, "2 dimensions; labels need 1", NULL);
    /* a zero dimension */
    n = idx_bytes(buf, 3, (uint32_t[]){20, 0, 4}, px);
    expect_file_error("train-images-idx3-ubyte.gz", buf, n, true, ETA_EFORMAT, "byte 8: dimension 1 is 0", NULL);
}

static void test_idx_truncated_gzip(void **state)
{
    (void)state;
    char *dir = tmp_dir();
    put_mnist(dir);
    /* random bytes do not compress: the gzip stream is long enough to cut */
    static uint8_t buf[4096], px[4000];
    uint32_t s = 1;
    for (int i = 0; i < 4000; i++)
        px[i] = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
    size_t n = idx_bytes(buf, 3, (uint32_t[]){250, 4, 4}, px);
    const char *path = put_file(dir, "train-images-idx3-ubyte.gz", buf, n, true);
    truncate_file(path, file_size(path) / 2);
    char spec[256];
    snprintf(spec, sizeof spec, "MNIST('%s', val=4)", dir);
    expect_open_error(spec, NULL, ETA_EFORMAT, "train-images-idx3-ubyte.gz: gzip stream: unexpected end of file",
                      "truncated or corrupt", NULL);
    /* a missing file is an I/O error naming it */
    remove(path);
    expect_open_error(spec, NULL, ETA_EIO, "train-images-idx3-ubyte.gz: No such file or directory", NULL);
    rm_tmp_dir(dir);
}

static void test_fmnist_spec_errors(void **state)
{
    (void)state;
    expect_open_error("MNIST()", NULL, ETA_EINVAL, "MNIST() missing required argument 'root'", NULL);
    expect_open_error("FashionMNIST(flaten=True)", NULL, ETA_EINVAL, "unexpected keyword argument 'flaten'",
                      "did you mean flatten?", NULL);
    expect_open_error("FashionMnist()", NULL, ETA_EINVAL, "unknown data set 'FashionMnist'", "did you mean FashionMNIST?",
                      NULL);
    expect_open_error("FashionMNIST(split='stratifed')", NULL, ETA_EINVAL, "split: unknown value 'stratifed'",
                      "did you mean stratified?", NULL);
    expect_open_error("FashionMNIST(root=None)", NULL, ETA_EINVAL, "root must be a folder", NULL);
    expect_open_error("FashionMNIST(root='/nonexistent')", NULL, ETA_EIO, "/nonexistent/train-images-idx3-ubyte.gz",
                      NULL);
    expect_open_error("[1, 2]", NULL, ETA_EINVAL, "expected a data set such as FashionMNIST()", NULL);
    /* the error is located in the spec */
    eta_dataset *ds;
    eta_err err;
    assert_int_equal(eta_data_open(&ds, "FashionMNIST(val=1.5)", NULL, &err), ETA_EINVAL);
    assert_int_equal(err.pos, 17);
    assert_int_equal(err.len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmnist_real),
        cmocka_unit_test(test_fmnist_defaults),
        cmocka_unit_test(test_fmnist_normalize_from_train),
        cmocka_unit_test(test_fmnist_stratified),
        cmocka_unit_test(test_mnist_small),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_truncated_gzip),
        cmocka_unit_test(test_fmnist_spec_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
