/* data/split.c - train/validation/test splits, made once when a data set
 * opens, and the statistics taken from the training split only.
 *
 * A split is a function of (n, sizes, mode, seed, labels) alone. RANDOM
 * shuffles 0..n with the seed and cuts the shuffle into test, val and train
 * (scikit-learn's ShuffleSplit takes the test set first too); STRATIFIED
 * cuts the same shuffle per class, giving val and test each class's share
 * by largest remainders so the totals are exact; ORDERED keeps the file's
 * order (train, then val, then test), as a time series needs. Each split
 * then lists its examples in increasing order, so the result does not
 * depend on the order the cut happened in.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

const char *const data_split_modes[3] = {"random", "stratified", "ordered"};

void data_shuffle(int64_t *a, int64_t n, uint64_t *s)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)data_rng_below(s, (uint64_t)i + 1);
        int64_t t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Largest-remainder shares of `total` (< n) over classes in proportion to
 * count (summing to n): share[c] = floor(total * count[c] / n), then one
 * more for the classes with the largest remainders (ties to the lower
 * class), each at most once, until they sum to total. bumped: scratch. */
static void shares(const int64_t *count, int classes, int64_t n, int64_t total, int64_t *share, int64_t *bumped)
{
    int64_t given = 0;
    for (int c = 0; c < classes; c++) {
        share[c] = total * count[c] / n;
        bumped[c] = 0;
        given += share[c];
    }
    while (given < total) {
        int best = -1;
        int64_t best_rem = -1;
        for (int c = 0; c < classes; c++) {
            int64_t rem = total * count[c] % n;
            if (!bumped[c] && share[c] < count[c] && rem > best_rem) {
                best_rem = rem;
                best = c;
            }
        }
        if (best < 0)
            break;
        share[best]++;
        bumped[best] = 1;
        given++;
    }
}

int data_split(eta_dataset *ds, int64_t n, int64_t nval, int64_t ntest, data_split_mode mode, uint64_t seed,
               const int32_t *labels, int classes, eta_err *err)
{
    if (n > INT32_MAX) /* the shares below multiply two counts in int64 */
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%lld examples: more than eta splits (2^31 - 1)", (long long)n);
    if (nval < 0 || ntest < 0 || nval + ntest >= n)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "%lld examples cannot give %lld for validation and %lld for test and keep one for "
                             "training",
                             (long long)n, (long long)nval, (long long)ntest);
    int64_t size[3] = {n - nval - ntest, nval, ntest};
    for (int s = 0; s < 3; s++) {
        free(ds->index[s]);
        ds->index[s] = malloc((size_t)(size[s] ? size[s] : 1) * sizeof(int64_t));
        if (!ds->index[s])
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for a split of %lld", (long long)size[s]);
        ds->info.size[s] = size[s];
    }
    if (mode == DATA_SPLIT_ORDERED) {
        for (int64_t i = 0; i < n; i++) {
            int s = i < size[0] ? 0 : i < size[0] + nval ? 1 : 2;
            int64_t at = s == 0 ? i : s == 1 ? i - size[0] : i - size[0] - nval;
            ds->index[s][at] = i;
        }
        return ETA_OK;
    }
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    int64_t *tab = mode == DATA_SPLIT_STRATIFIED ? calloc((size_t)classes * 6, sizeof *tab) : NULL;
    if (!perm || (mode == DATA_SPLIT_STRATIFIED && !tab)) {
        free(perm);
        free(tab);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for a split of %lld", (long long)n);
    }
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t s = seed;
    data_shuffle(perm, n, &s);
    int64_t fill[3] = {0, 0, 0};
    if (mode == DATA_SPLIT_RANDOM) {
        for (int64_t i = 0; i < n; i++) {
            int k = i < ntest ? 2 : i < ntest + nval ? 1 : 0;
            ds->index[k][fill[k]++] = perm[i];
        }
    } else {
        /* tab: count, test share, val share, taken so far, left after test, scratch; per class */
        int64_t *count = tab, *tshare = tab + classes, *vshare = tab + 2 * classes, *taken = tab + 3 * classes;
        int64_t *left = tab + 4 * classes, *scratch = tab + 5 * classes;
        for (int64_t i = 0; i < n; i++)
            count[labels[i]]++;
        shares(count, classes, n, ntest, tshare, scratch);
        for (int c = 0; c < classes; c++)
            left[c] = count[c] - tshare[c];
        shares(left, classes, n - ntest, nval, vshare, scratch);
        for (int64_t i = 0; i < n; i++) {
            int c = labels[perm[i]];
            int64_t t = taken[c]++;
            int k = t < tshare[c] ? 2 : t < tshare[c] + vshare[c] ? 1 : 0;
            ds->index[k][fill[k]++] = perm[i];
        }
    }
    free(perm);
    free(tab);
    for (int k = 0; k < 3; k++)
        qsort(ds->index[k], (size_t)size[k], sizeof(int64_t), cmp_i64);
    return ETA_OK;
}

void data_moments(const double *x, int64_t cols, const int64_t *rows, int64_t n, double *mean, double *std)
{
    for (int64_t c = 0; c < cols; c++) {
        double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++)
            m += x[rows[i] * cols + c];
        m = n ? m / (double)n : 0;
        for (int64_t i = 0; i < n; i++) {
            double d = x[rows[i] * cols + c] - m;
            v += d * d;
        }
        double sd = n ? sqrt(v / (double)n) : 0;
        mean[c] = m;
        std[c] = sd > 0 && isfinite(sd) ? sd : 1;
    }
}
