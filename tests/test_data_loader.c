/* test_data_loader.c - splits and loaders: disjoint and covering splits in
 * every mode, the loader's defaults, epochs, shuffling, drop_last, the same
 * bytes with and without the prefetch thread, and the exact order and
 * position restored from (seed, epoch, pos) into a new loader.
 * labels: unit full
 *
 * Most of it runs on a small CSV written here (never skipped), whose first
 * feature is the row's number, so a batch says which rows it holds; the
 * prefetch check is repeated on Fashion-MNIST when it is installed.
 */
#include "data_harness.h"

#include <time.h>

enum { ROWS = 103 };

static char *dir;
static eta_dataset *rows_ds; /* ROWS rows: x0 = row, x1 = row^2 mod 17, y = row mod 3 */

static int setup(void **state)
{
    (void)state;
    dir = tmp_dir();
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "x0,x1,y\n");
    for (int i = 0; i < ROWS; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,%d,%d\n", i, i * i % 17, i % 3);
    put_file(dir, "rows.csv", text, n, false);
    rows_ds = open_ok("CSV('rows.csv', standardize=False, val=0, test=0)", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    eta_data_free(rows_ds);
    rm_tmp_dir(dir);
    return 0;
}

/* ---- splits -------------------------------------------------------------- */

static void test_splits_partition(void **state)
{
    (void)state;
    static const char *const specs[] = {
        "CSV('rows.csv', val=0.2, test=0.3, seed=1)",
        "CSV('rows.csv', val=10, test=20, seed=2, split='stratified')",
        "CSV('rows.csv', val=0.1, test=0.1, split='ordered')",
        "CSV('rows.csv', val=0, test=0.5)",
        "CSV('rows.csv', val=0.33, test=0)",
    };
    for (size_t k = 0; k < sizeof specs / sizeof specs[0]; k++) {
        eta_dataset *ds = open_ok(specs[k], dir);
        check_partition(ds, ROWS);
        eta_data_free(ds);
    }
    /* stratified: 35, 34, 34 rows of classes 0, 1, 2; test 20 -> 6.80, 6.60,
     * 6.60 -> 6, 6, 6 + the largest remainders (0, then 1): 7, 7, 6 */
    eta_dataset *ds = open_ok(specs[1], dir);
    void *x, *y;
    gather_all(ds, ETA_SPLIT_TEST, &x, &y);
    int count[3] = {0};
    for (int i = 0; i < 20; i++)
        count[((int32_t *)y)[i]]++;
    assert_int_equal(count[0], 7);
    assert_int_equal(count[1], 7);
    assert_int_equal(count[2], 6);
    free(x), free(y);
    eta_data_free(ds);
    /* ordered: ceil(0.1 * 103) = 11 each: train 0..80, val 81..91, test 92..102 */
    ds = open_ok(specs[2], dir);
    int64_t n;
    const int64_t *v = eta_data_split_index(ds, ETA_SPLIT_VAL, &n);
    assert_int_equal(n, 11);
    assert_int_equal(v[0], 81);
    assert_int_equal(eta_data_split_index(ds, ETA_SPLIT_TEST, &n)[0], 92);
    eta_data_free(ds);
    /* seeds: the same split twice, another seed another */
    eta_dataset *a = open_ok(specs[0], dir), *b = open_ok(specs[0], dir);
    eta_dataset *c = open_ok("CSV('rows.csv', val=0.2, test=0.3, seed=9)", dir);
    const int64_t *ia = eta_data_split_index(a, ETA_SPLIT_TEST, &n);
    assert_memory_equal(ia, eta_data_split_index(b, ETA_SPLIT_TEST, NULL), (size_t)n * 8);
    assert_memory_not_equal(ia, eta_data_split_index(c, ETA_SPLIT_TEST, NULL), (size_t)n * 8);
    eta_data_free(a), eta_data_free(b), eta_data_free(c);
    assert_null(eta_data_split_index(rows_ds, (eta_split)5, &n));
    assert_int_equal(n, 0);
}

/* ---- loaders ------------------------------------------------------------- */

static eta_loader *new_loader(const eta_dataset *ds, int64_t batch, bool shuffle, bool drop_last, uint64_t seed,
                              bool prefetch)
{
    eta_loader_config c = eta_loader_defaults();
    c.batch = batch, c.shuffle = shuffle, c.drop_last = drop_last, c.seed = seed, c.prefetch = prefetch;
    eta_loader *l;
    eta_err err;
    if (eta_loader_new(&l, ds, &c, &err))
        fail_msg("loader: %s", err.msg);
    return l;
}

static void test_loader_defaults(void **state)
{
    (void)state;
    eta_loader_config c = eta_loader_defaults();
    assert_int_equal(c.split, ETA_SPLIT_TRAIN);
    assert_int_equal(c.batch, 1);
    assert_false(c.shuffle);
    assert_false(c.drop_last);
    assert_int_equal(c.seed, 0);
    assert_false(c.prefetch);
    /* with them: one row per batch, in order, then the end of the epoch */
    eta_loader *l;
    eta_err err;
    assert_int_equal(eta_loader_new(&l, rows_ds, &c, &err), 0);
    assert_int_equal(eta_loader_batches(l), ROWS);
    const void *x, *y;
    int64_t n;
    for (int i = 0; i < ROWS; i++) {
        assert_int_equal(eta_loader_next(l, &x, &y, &n), 0);
        assert_int_equal(n, 1);
        assert_true(((const float *)x)[0] == (float)i);
        assert_true(((const float *)x)[1] == (float)(i * i % 17));
        assert_int_equal(*(const int32_t *)y, i % 3);
    }
    assert_int_equal(eta_loader_next(l, &x, &y, &n), 1);
    eta_loader_state st;
    eta_loader_get_state(l, &st);
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.pos, 0);
    assert_string_equal(eta_loader_error(l), "");
    eta_loader_free(l);
    eta_loader_free(NULL);
}

/* The rows of one epoch, in order; returns the batch count. */
static int epoch_rows(eta_loader *l, int *rows, int *sizes)
{
    const void *x, *y;
    int64_t n;
    int b = 0, k = 0, rc;
    while ((rc = eta_loader_next(l, &x, &y, &n)) == 0) {
        sizes[b++] = (int)n;
        for (int64_t i = 0; i < n; i++)
            rows[k++] = (int)((const float *)x)[i * 2];
    }
    assert_int_equal(rc, 1);
    return b;
}

static void test_loader_epochs(void **state)
{
    (void)state;
    int rows[3][ROWS], sizes[ROWS];
    /* batches of 10: 10 full ones and one of 3; drop_last: 10 */
    eta_loader *l = new_loader(rows_ds, 10, true, false, 42, false);
    assert_int_equal(eta_loader_batches(l), 11);
    for (int e = 0; e < 3; e++) {
        assert_int_equal(epoch_rows(l, rows[e], sizes), 11);
        assert_int_equal(sizes[10], 3);
        char seen[ROWS] = {0};
        for (int i = 0; i < ROWS; i++)
            seen[rows[e][i]]++;
        for (int i = 0; i < ROWS; i++)
            assert_int_equal(seen[i], 1); /* a permutation */
    }
    assert_memory_not_equal(rows[0], rows[1], sizeof rows[0]); /* a new order each epoch */
    assert_memory_not_equal(rows[1], rows[2], sizeof rows[0]);
    eta_loader_free(l);
    /* the same seed gives the same orders, another seed others */
    int again[ROWS];
    l = new_loader(rows_ds, 10, true, false, 42, false);
    epoch_rows(l, again, sizes);
    assert_memory_equal(again, rows[0], sizeof again);
    eta_loader_free(l);
    l = new_loader(rows_ds, 10, true, false, 43, false);
    epoch_rows(l, again, sizes);
    assert_memory_not_equal(again, rows[0], sizeof again);
    eta_loader_free(l);
    l = new_loader(rows_ds, 10, true, true, 42, false);
    assert_int_equal(eta_loader_batches(l), 10);
    assert_int_equal(epoch_rows(l, again, sizes), 10);
    assert_memory_equal(again, rows[0], 100 * sizeof(int)); /* the same order, the tail dropped */
    eta_loader_free(l);
    /* no shuffle: in order every epoch */
    l = new_loader(rows_ds, 7, false, false, 42, false);
    for (int e = 0; e < 2; e++) {
        assert_int_equal(epoch_rows(l, again, sizes), 15);
        for (int i = 0; i < ROWS; i++)
            assert_int_equal(again[i], i);
    }
    eta_loader_free(l);
}

/* Every batch of `epochs` epochs, as bytes, with the epoch ends as a
 * marker batch of n = -1. */
typedef struct trace {
    unsigned char *bytes;
    size_t len, cap;
} trace;

static void put(trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        t->cap = (t->len + n) * 2;
        t->bytes = realloc(t->bytes, t->cap);
    }
    memcpy(t->bytes + t->len, p, n);
    t->len += n;
}

static void record(eta_loader *l, const eta_dataset *ds, int epochs, int slow, trace *t)
{
    const eta_data_info *in = eta_data_get_info(ds);
    size_t xb = 4, yb = 4;
    for (int i = 0; i < in->input_ndim; i++)
        xb *= (size_t)in->input_shape[i];
    for (int i = 0; i < in->target_ndim; i++)
        yb *= (size_t)in->target_shape[i];
    int k = 0;
    for (int e = 0; e < epochs;) {
        const void *x, *y;
        int64_t n;
        int rc = eta_loader_next(l, &x, &y, &n);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            n = -1;
            put(t, &n, sizeof n);
            e++;
            continue;
        }
        put(t, &n, sizeof n);
        put(t, x, (size_t)n * xb);
        put(t, y, (size_t)n * yb);
        if (slow && ++k % slow == 0) /* let the prefetch thread finish, or not */
            nanosleep(&(struct timespec){0, 200000}, NULL);
    }
}

static void test_loader_prefetch_same_bytes(void **state)
{
    (void)state;
    static const int64_t batches[] = {1, 3, 10, 102, 103, 200};
    for (size_t b = 0; b < sizeof batches / sizeof batches[0]; b++)
        for (int mode = 0; mode < 4; mode++) {
            bool shuffle = mode & 1, drop = mode & 2;
            if (drop && batches[b] > ROWS)
                continue;
            trace plain = {0}, pre = {0}, slow = {0};
            eta_loader *l = new_loader(rows_ds, batches[b], shuffle, drop, 7, false);
            record(l, rows_ds, 3, 0, &plain);
            eta_loader_free(l);
            l = new_loader(rows_ds, batches[b], shuffle, drop, 7, true);
            record(l, rows_ds, 3, 0, &pre);
            eta_loader_free(l);
            l = new_loader(rows_ds, batches[b], shuffle, drop, 7, true);
            record(l, rows_ds, 3, 3, &slow);
            eta_loader_free(l);
            assert_int_equal(plain.len, pre.len);
            assert_memory_equal(plain.bytes, pre.bytes, plain.len);
            assert_int_equal(plain.len, slow.len);
            assert_memory_equal(plain.bytes, slow.bytes, plain.len);
            free(plain.bytes), free(pre.bytes), free(slow.bytes);
        }
    /* a loader freed while its thread works, and one never read */
    eta_loader *l = new_loader(rows_ds, 5, true, false, 1, true);
    const void *x, *y;
    int64_t n;
    assert_int_equal(eta_loader_next(l, &x, &y, &n), 0);
    eta_loader_free(l);
    eta_loader_free(new_loader(rows_ds, 5, true, false, 1, true));
}

static void test_loader_prefetch_fmnist(void **state)
{
    (void)state;
    SKIP_UNLESS(FMNIST_DIR "/train-images-idx3-ubyte.gz", HOW_DEBIAN);
    eta_dataset *ds = open_ok("FashionMNIST(val=3000)", NULL);
    eta_loader_config c = eta_loader_defaults();
    c.split = ETA_SPLIT_VAL, c.batch = 128, c.shuffle = true, c.seed = 5;
    trace plain = {0}, pre = {0};
    eta_loader *l;
    eta_err err;
    assert_int_equal(eta_loader_new(&l, ds, &c, &err), 0);
    record(l, ds, 2, 0, &plain);
    eta_loader_free(l);
    c.prefetch = true;
    assert_int_equal(eta_loader_new(&l, ds, &c, &err), 0);
    record(l, ds, 2, 0, &pre);
    eta_loader_free(l);
    assert_int_equal(plain.len, pre.len);
    assert_memory_equal(plain.bytes, pre.bytes, plain.len);
    free(plain.bytes), free(pre.bytes);
    eta_data_free(ds);
}

/* Runs a loader `skip` batches (across epochs), saves its state, restores
 * it into a new loader (prefetch as given), and compares the next 250
 * batches of both, byte for byte. */
static void check_restore(int64_t batch, bool drop, int skip, bool prefetch_a, bool prefetch_b)
{
    eta_loader *a = new_loader(rows_ds, batch, true, drop, 99, prefetch_a);
    const void *x, *y;
    int64_t n;
    for (int i = 0; i < skip; i++)
        assert_true(eta_loader_next(a, &x, &y, &n) >= 0);
    eta_loader_state st;
    eta_loader_get_state(a, &st);
    assert_int_equal(st.seed, 99);
    eta_loader *b = new_loader(rows_ds, batch, true, drop, 12345 /* replaced by the state's */, prefetch_b);
    eta_err err;
    assert_int_equal(eta_loader_set_state(b, &st, &err), 0);
    trace ta = {0}, tb = {0};
    record(a, rows_ds, 4, 0, &ta);
    record(b, rows_ds, 4, 0, &tb);
    assert_int_equal(ta.len, tb.len);
    assert_memory_equal(ta.bytes, tb.bytes, ta.len);
    eta_loader_state sa, sb;
    eta_loader_get_state(a, &sa);
    eta_loader_get_state(b, &sb);
    assert_memory_equal(&sa, &sb, sizeof sa);
    free(ta.bytes), free(tb.bytes);
    eta_loader_free(a);
    eta_loader_free(b);
}

static void test_loader_state_restore(void **state)
{
    (void)state;
    /* mid-epoch (epoch 1 after 2 batches: 11 + 1 + 2 calls of batch 10) */
    check_restore(10, false, 14, false, false);
    check_restore(10, false, 14, true, false);
    check_restore(10, false, 14, false, true);
    check_restore(10, false, 14, true, true);
    /* at an epoch's last batch, right after it, and at the very start */
    check_restore(10, false, 11, true, true);
    check_restore(10, false, 12, false, true);
    check_restore(10, false, 0, true, false);
    check_restore(7, true, 30, true, true);
    /* the state says where: epoch 1, 2 batches in */
    eta_loader *l = new_loader(rows_ds, 10, true, false, 3, true);
    const void *x, *y;
    int64_t n;
    for (int i = 0; i < 14; i++)
        eta_loader_next(l, &x, &y, &n);
    eta_loader_state st;
    eta_loader_get_state(l, &st);
    assert_int_equal(st.epoch, 1);
    assert_int_equal(st.pos, 20);
    /* a bad state changes nothing */
    eta_err err;
    eta_loader_state bad = {3, 1, ROWS + 1};
    assert_int_equal(eta_loader_set_state(l, &bad, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "position 104 is outside [0, 103]"));
    bad = (eta_loader_state){3, -1, 0};
    assert_int_equal(eta_loader_set_state(l, &bad, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "epoch -1 is negative"));
    eta_loader_state now;
    eta_loader_get_state(l, &now);
    assert_memory_equal(&now, &st, sizeof st);
    eta_loader_free(l);
}

static void test_loader_errors(void **state)
{
    (void)state;
    eta_loader_config c = eta_loader_defaults();
    eta_loader *l = (eta_loader *)1;
    eta_err err;
    c.batch = 0;
    assert_int_equal(eta_loader_new(&l, rows_ds, &c, &err), ETA_EINVAL);
    assert_null(l);
    assert_non_null(strstr(err.msg, "batch must be >= 1, got 0"));
    c.batch = 4;
    c.split = ETA_SPLIT_VAL;
    assert_int_equal(eta_loader_new(&l, rows_ds, &c, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "the val split of CSV is empty"));
    c.split = ETA_SPLIT_TRAIN;
    c.batch = 200;
    c.drop_last = true;
    assert_int_equal(eta_loader_new(&l, rows_ds, &c, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "103 examples, fewer than one batch of 200 with drop_last"));
    c.split = (eta_split)7;
    assert_int_equal(eta_loader_new(&l, rows_ds, &c, &err), ETA_EINVAL);
    assert_int_equal(eta_loader_new(&l, NULL, &c, &err), ETA_EINVAL);
    assert_int_equal(eta_loader_next(NULL, NULL, NULL, NULL), ETA_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_splits_partition),
        cmocka_unit_test(test_loader_defaults),
        cmocka_unit_test(test_loader_epochs),
        cmocka_unit_test(test_loader_prefetch_same_bytes),
        cmocka_unit_test(test_loader_prefetch_fmnist),
        cmocka_unit_test(test_loader_state_restore),
        cmocka_unit_test(test_loader_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
