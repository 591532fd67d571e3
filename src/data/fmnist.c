/* data/fmnist.c - the FashionMNIST and MNIST data sets: four IDX files
 * (gzip) in a folder, as torchvision.datasets.FashionMNIST reads them:
 * {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz.
 *
 * Pixels become float32 as torchvision's ToTensor() makes them, byte / 255,
 * shaped [1, H, W] (or [H * W] with flatten=True); normalize=True then
 * applies Normalize(mean, std) with the mean and standard deviation of
 * every pixel of the training split (about 0.2860 and 0.3530 on
 * Fashion-MNIST). The validation split is drawn from the train file
 * (val=5000 by default, seeded); the test split is the t10k file.
 * Images stay bytes in memory, turned into floats as a batch is gathered,
 * a vector at a time (each pixel's float is the same whatever the width).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"
#include "data/data_impl.h"
#include "data/idx.h"

#define FMNIST_CLASSES 10

typedef struct fmnist {
    data_idx img[2], lab[2]; /* [0] the train file, [1] t10k */
    int64_t pixels;
    bool normalize;
    float mean, sd; /* Normalize's, as floats */
} fmnist;

static const char *const fashion_names[FMNIST_CLASSES] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
static const char *const digit_names[FMNIST_CLASSES] = {"0 - zero", "1 - one", "2 - two",   "3 - three", "4 - four",
                                                        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"};

static const eta_spec_param sig_fashion[] = {
    {"root", false, false}, {"val", false, false},     {"seed", false, false},
    {"split", false, false}, {"flatten", false, false}, {"normalize", false, false},
};
static const eta_spec_param sig_mnist[] = {
    {"root", true, false},   {"val", false, false},     {"seed", false, false},
    {"split", false, false}, {"flatten", false, false}, {"normalize", false, false},
};
enum { A_ROOT, A_VAL, A_SEED, A_SPLIT, A_FLATTEN, A_NORMALIZE, NARGS };

static void fmnist_free(void *p)
{
    fmnist *f = p;
    if (!f)
        return;
    for (int i = 0; i < 2; i++) {
        data_idx_free(&f->img[i]);
        data_idx_free(&f->lab[i]);
    }
    free(f);
}

/* Reads one pair of files and checks them against each other. */
static int read_pair(fmnist *f, int which, const char *dir, eta_err *err)
{
    static const char *const files[2][2] = {{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"},
                                            {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}};
    char path[2][4096];
    for (int k = 0; k < 2; k++)
        if (snprintf(path[k], sizeof path[k], "%s/%s", dir, files[which][k]) >= (int)sizeof path[k])
            return eta_spec_fail(err, ETA_EINVAL, NULL, "root too long: %.60s...", dir);
    int rc = data_idx_read(&f->img[which], path[0], err);
    if (!rc)
        rc = data_idx_read(&f->lab[which], path[1], err);
    if (rc)
        return rc;
    const data_idx *im = &f->img[which], *lb = &f->lab[which];
    if (im->ndim != 3)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %d dimensions; images need 3 (count, rows, columns)", path[0],
                             im->ndim);
    if (lb->ndim != 1)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %d dimensions; labels need 1 (count)", path[1], lb->ndim);
    if (lb->dims[0] != im->dims[0])
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %lld labels for the %lld images of %s", path[1],
                             (long long)lb->dims[0], (long long)im->dims[0], files[which][0]);
    for (int64_t i = 0; i < lb->count; i++)
        if (lb->data[i] >= FMNIST_CLASSES)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte %lld: label %d of image %lld out of range [0, %d)",
                                 path[1], (long long)(8 + i), lb->data[i], (long long)i, FMNIST_CLASSES);
    if (which == 1 && (im->dims[1] != f->img[0].dims[1] || im->dims[2] != f->img[0].dims[2]))
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: images of %lldx%lld, the train file's are %lldx%lld", path[0],
                             (long long)im->dims[1], (long long)im->dims[2], (long long)f->img[0].dims[1],
                             (long long)f->img[0].dims[2]);
    return ETA_OK;
}

static int fmnist_open(eta_dataset *ds, const eta_spec *call, const eta_spec *const *a, eta_err *err)
{
    (void)call;
    bool fashion = ds->kind == &data_kind_fmnist;
    fmnist *f = calloc(1, sizeof *f);
    if (!f)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    ds->impl = f;
    const char *root;
    int64_t seed;
    bool flatten, normalize;
    int mode = DATA_SPLIT_RANDOM;
    int rc = data_arg_string(a[A_ROOT], "root", "/usr/share/datasets/fashion-mnist", &root, err);
    if (!rc && !root)
        rc = eta_spec_fail(err, ETA_EINVAL, a[A_ROOT], "root must be a folder, not None");
    if (!rc)
        rc = data_arg_int(a[A_SEED], "seed", 0, INT64_MIN, INT64_MAX, &seed, err);
    if (!rc)
        rc = data_arg_choice(a[A_SPLIT], "split", data_split_modes, 2, &mode, err);
    if (!rc)
        rc = data_arg_bool(a[A_FLATTEN], "flatten", false, &flatten, err);
    if (!rc)
        rc = data_arg_bool(a[A_NORMALIZE], "normalize", false, &normalize, err);
    char dir[4096];
    if (!rc)
        rc = data_path(dir, sizeof dir, ds->base_dir, root, a[A_ROOT], err);
    if (!rc)
        rc = read_pair(f, 0, dir, err);
    if (!rc)
        rc = read_pair(f, 1, dir, err);
    if (rc)
        return rc;
    int64_t n = f->img[0].dims[0], h = f->img[0].dims[1], w = f->img[0].dims[2];
    int64_t nval;
    if ((rc = data_arg_count(a[A_VAL], "val", 5000, n, &nval, err)))
        return rc;
    int32_t *labels = malloc((size_t)n * sizeof *labels);
    if (!labels)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < n; i++)
        labels[i] = f->lab[0].data[i];
    rc = data_split(ds, n, nval, 0, (data_split_mode)mode, (uint64_t)seed, labels, FMNIST_CLASSES, err);
    free(labels);
    if (rc)
        return rc;
    /* the test split is the whole t10k file */
    int64_t ntest = f->img[1].dims[0];
    int64_t *test = realloc(ds->index[ETA_SPLIT_TEST], (size_t)ntest * sizeof *test);
    if (!test)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < ntest; i++)
        test[i] = i;
    ds->index[ETA_SPLIT_TEST] = test;
    ds->info.size[ETA_SPLIT_TEST] = ntest;

    f->pixels = h * w;
    double mean = 0, sd = 1;
    if (normalize) {
        /* every pixel of the training split, from a histogram of its bytes */
        int64_t hist[256] = {0};
        const int64_t *tr = ds->index[ETA_SPLIT_TRAIN];
        for (int64_t i = 0; i < ds->info.size[ETA_SPLIT_TRAIN]; i++) {
            const uint8_t *p = f->img[0].data + tr[i] * f->pixels;
            for (int64_t j = 0; j < f->pixels; j++)
                hist[p[j]]++;
        }
        double cnt = (double)ds->info.size[ETA_SPLIT_TRAIN] * (double)f->pixels, v = 0;
        for (int b = 0; b < 256; b++)
            mean += (double)hist[b] * (b / 255.0);
        mean /= cnt;
        for (int b = 0; b < 256; b++)
            v += (double)hist[b] * (b / 255.0 - mean) * (b / 255.0 - mean);
        sd = sqrt(v / cnt);
        if (!(sd > 0))
            sd = 1;
        ds->in_mean = malloc(sizeof(double));
        ds->in_std = malloc(sizeof(double));
        if (!ds->in_mean || !ds->in_std)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        ds->in_mean[0] = mean;
        ds->in_std[0] = sd;
        ds->n_in_stats = 1;
    }
    f->normalize = normalize;
    f->mean = (float)mean;
    f->sd = (float)sd;
    ds->info.tokens = false;
    if (flatten) {
        ds->info.input_ndim = 1;
        ds->info.input_shape[0] = h * w;
    } else {
        ds->info.input_ndim = 3;
        ds->info.input_shape[0] = 1;
        ds->info.input_shape[1] = h;
        ds->info.input_shape[2] = w;
    }
    ds->info.class_target = true;
    ds->info.target_ndim = 0;
    ds->info.classes = FMNIST_CLASSES;
    return data_set_class_names(ds, fashion ? fashion_names : digit_names, FMNIST_CLASSES, err);
}

/* Bytes to floats: ToTensor's byte / 255, then Normalize's (x - mean) / sd.
 * Division and subtraction round the same in every vector lane as in
 * scalar code (parallel.h), so the floats do not depend on the CPU. */
ETA_SIMD_CLONES
static void to_float(const uint8_t *p, float *x, int64_t n, bool normalize, float mean, float sd)
{
    if (normalize) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            x[j] = ((float)p[j] / 255.0f - mean) / sd;
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++)
            x[j] = (float)p[j] / 255.0f;
    }
}

static void fmnist_get(const eta_dataset *ds, eta_split split, int64_t ex, void *input, void *target)
{
    const fmnist *f = ds->impl;
    int file = split == ETA_SPLIT_TEST;
    if (input)
        to_float(f->img[file].data + ex * f->pixels, input, f->pixels, f->normalize, f->mean, f->sd);
    if (target)
        *(int32_t *)target = f->lab[file].data[ex];
}

const data_kind data_kind_fmnist = {"FashionMNIST", sig_fashion, NARGS, fmnist_open, fmnist_get, fmnist_free};
const data_kind data_kind_mnist = {"MNIST", sig_mnist, NARGS, fmnist_open, fmnist_get, fmnist_free};
