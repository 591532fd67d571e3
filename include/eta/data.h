/* eta/data.h - data sets for training: readers (IDX, CSV, labelled sentences
 * in JSON, plain text), seeded train/validation/test splits, and loaders that
 * hand out shuffled batches in contiguous float32 or int32 buffers, the next
 * one prepared on another thread while the current one trains.
 *
 *     eta_dataset *ds;
 *     eta_err err;
 *     if (eta_data_open(&ds, "FashionMNIST(flatten=True)", NULL, &err))
 *         return fprintf(stderr, "%s\n", err.msg), 1;
 *     eta_loader_config lc = eta_loader_defaults();
 *     lc.batch = 128, lc.shuffle = true, lc.prefetch = true;
 *     eta_loader *ld;
 *     eta_loader_new(&ld, ds, &lc, &err);
 *     const void *x, *y;
 *     int64_t n;
 *     while (eta_loader_next(ld, &x, &y, &n) == 0)
 *         train on n rows: x is float[n][784], y is int32_t[n];
 *     eta_loader_free(ld);
 *     eta_data_free(ds);
 *
 * Data sets are written as specs in the spec language of core.h
 * (docs/data.md lists every argument and its default):
 *
 *     FashionMNIST(root='/usr/share/datasets/fashion-mnist', val=5000, flatten=False)
 *     CSV('sklearn/wine_data.csv', target=-1, val=0.2, test=0.2, standardize=True)
 *     CSV('sp500-2000.csv', drop='date', target='close', task='regression',
 *         window=20, transform='log_return')
 *     Sentiment('node_modules/sentiment/test/fixtures', level='word', max_len=None)
 *     Text('/usr/share/dasher/training_english_GB.txt', context=64)
 *
 * Every reader validates what it reads and says what is wrong and where:
 * "wine.csv:17: field 3 ('ash'): expected a number, got 'abc'",
 * "train-labels-idx1-ubyte.gz: byte 1041: label 12 out of range [0, 10)".
 * Splits are made once when the data set opens, seeded, and standardisation
 * statistics and vocabularies come from the training split only.
 *
 * Ownership: a data set owns its examples and is read-only once open, so
 * eta_data_gather may run on several threads at once. A loader reads a data
 * set that must outlive it; one loader is used by one thread at a time (its
 * prefetch thread is its own business).
 *
 * The numeric tables (eta_table) below are the plain reader the data sets
 * build on, kept for programs that want a matrix of doubles and nothing more.
 */
#ifndef ETA_DATA_H
#define ETA_DATA_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- data sets ---------------------------------------------------------- */

typedef struct eta_dataset eta_dataset;
typedef enum eta_split { ETA_SPLIT_TRAIN = 0, ETA_SPLIT_VAL = 1, ETA_SPLIT_TEST = 2, ETA_SPLIT_COUNT } eta_split;

/* The shapes and kinds of one example, batch dimension not included. */
typedef struct eta_data_info {
    bool tokens;              /* input is int32 token ids, else float32 */
    int input_ndim;           /* 1 for features [d] or tokens [T], 3 for images [1, 28, 28] */
    int64_t input_shape[4];
    bool class_target;        /* target is an int32 class index (target_ndim 0) or, for a
                                 language model, the int32 next tokens [T]; else float32 values */
    int target_ndim;          /* 0 for a class, 1 for [T] tokens or [k] values (regression, one-hot) */
    int64_t target_shape[4];
    int classes;              /* number of classes (a language model's: vocab); 0 for regression */
    int64_t vocab;            /* token vocabulary size, padding and unknown included; 0 otherwise */
    int64_t padding_idx;      /* the token id of padding (an Embedding's padding_idx), -1 when none */
    int64_t size[3];          /* examples in train, val, test (indexed by eta_split) */
    const char *name;         /* the spec's name: "FashionMNIST", "CSV", "Sentiment", "Text" */
} eta_data_info;

/* Opens a data set from a spec (see above; docs/data.md). Relative paths in
 * the spec are taken from base_dir when it is not NULL, else from the
 * current directory. Errors: ETA_EINVAL for a bad spec (err->pos locates it
 * in `spec`; an unknown name or argument gets the nearest valid one),
 * ETA_EIO for a file that cannot be read, ETA_EFORMAT for one whose content
 * is wrong (the message names file and line or byte offset), ETA_ENONFINITE
 * for a NaN or infinite number, ETA_ENOMEM. *out is NULL on failure. */
int eta_data_open(eta_dataset **out, const char *spec, const char *base_dir, eta_err *err);
void eta_data_free(eta_dataset *ds);
const eta_data_info *eta_data_get_info(const eta_dataset *ds);

/* Copies examples idx[0..n) of a split (each in [0, size[split])) into
 * contiguous buffers the caller owns: input gets n x input_shape elements,
 * float32 or int32 (info.tokens); target n x target_shape, int32
 * (info.class_target) or float32. Either buffer may be NULL to skip it.
 * ETA_EINVAL for a bad split or index. Thread-safe on one data set. */
int eta_data_gather(const eta_dataset *ds, eta_split split, const int64_t *idx, int64_t n,
                    void *input, void *target, eta_err *err);

/* Which source example each example of a split is: for CSV the data row
 * (0-based, header not counted), for FashionMNIST the image's index in its
 * file (train and val in the train file, test in t10k), for Sentiment the
 * record's index in the sources concatenated in the order given, for Text
 * the offset of the window's first token. *n receives size[split]. The array
 * belongs to the data set; NULL for a bad split. */
const int64_t *eta_data_split_index(const eta_dataset *ds, eta_split split, int64_t *n);

/* The name of class k ("Ankle boot", "class_2", "setosa"), or NULL when the
 * data set has none or k is out of range. */
const char *eta_data_class_name(const eta_dataset *ds, int k);

/* The text of token id `id` ("<pad>", "<unk>", "great", "e"), or NULL when
 * the data set has no vocabulary or id is out of range. Ids are ordered:
 * the special tokens first, then by falling frequency in the training split,
 * ties in byte order. */
const char *eta_data_token(const eta_dataset *ds, int64_t id);

/* The standardisation applied to inputs (x - mean) / std per input element
 * (CSV: per feature column; FashionMNIST with normalize=True: one value for
 * every pixel, after the division by 255), from the training split; and to
 * regression targets when standardize_target=True. Returns the element count
 * and sets the pointers (owned by the data set), or returns 0 with NULLs
 * when no standardisation is applied. */
int64_t eta_data_input_stats(const eta_dataset *ds, const double **mean, const double **std);
int64_t eta_data_target_stats(const eta_dataset *ds, const double **mean, const double **std);

/* ---- loaders ------------------------------------------------------------ */

typedef struct eta_loader eta_loader;
typedef struct eta_loader_config {
    eta_split split;
    int64_t batch;            /* >= 1 */
    bool shuffle;             /* a new seeded permutation every epoch */
    bool drop_last;           /* drop a short last batch */
    uint64_t seed;
    bool prefetch;            /* prepare the next batch on another thread */
} eta_loader_config;

/* PyTorch's DataLoader defaults: the train split, batch 1, no shuffle, no
 * drop_last, seed 0, no prefetch. */
eta_loader_config eta_loader_defaults(void);

/* ETA_EINVAL when the split is empty, batch < 1, or drop_last leaves no
 * batch; ETA_ENOMEM; ETA_ESTATE when the prefetch thread cannot start. */
int eta_loader_new(eta_loader **out, const eta_dataset *ds, const eta_loader_config *cfg, eta_err *err);
void eta_loader_free(eta_loader *l);

/* The next batch: buffers owned by the loader, valid until the next call; *n rows
 * (batch, or fewer for the last one unless drop_last). Returns 0, or 1 when
 * the epoch is finished (no batch given; the next call starts the next
 * epoch), or a negative code (eta_loader_error tells). The batches are the
 * same bytes with and without prefetch. */
int eta_loader_next(eta_loader *l, const void **input, const void **target, int64_t *n);
int64_t eta_loader_batches(const eta_loader *l);   /* per epoch */
/* The message of the last error, "" when none. */
const char *eta_loader_error(const eta_loader *l);

/* Position, for checkpoints: the permutation is a function of (seed, epoch),
 * so these three numbers restore the exact order and position. pos counts
 * the examples of the epoch already handed out (size[split] once the epoch's
 * last batch is out and before next() returns 1). */
typedef struct eta_loader_state { uint64_t seed; int64_t epoch; int64_t pos; } eta_loader_state;
void eta_loader_get_state(const eta_loader *l, eta_loader_state *st);
/* ETA_EINVAL (and nothing changed) when epoch < 0 or pos is not in
 * [0, size[split]]. */
int eta_loader_set_state(eta_loader *l, const eta_loader_state *st, eta_err *err);

/* ---- numeric tables ----------------------------------------------------- */

/* A dense table of doubles, row-major: rows x cols. */
typedef struct eta_table {
    double *data;
    int64_t rows, cols;
} eta_table;

/* Options for eta_table_read. */
typedef struct eta_table_options {
    int skip_lines;      /* header lines to skip (scikit-learn's CSVs have 1) */
    int64_t max_rows;    /* 0: no limit */
} eta_table_options;

/* Reads a table of numbers separated by commas, spaces or tabs; gzip files
 * are read transparently. Every row must have the same number of fields.
 * Blank lines and lines starting with '#' are skipped. On error returns
 * ETA_EIO / ETA_EFORMAT / ETA_ENOMEM with the file, line and field in err.
 * opts may be NULL. Free with eta_table_free. */
int eta_table_read(eta_table *out, const char *path, const eta_table_options *opts, eta_err *err);
void eta_table_free(eta_table *t);

/* Standardises each column in place to mean 0 and (population) standard
 * deviation 1; constant columns become 0. mean and std (cols each) receive
 * the statistics when not NULL. */
void eta_table_standardize(eta_table *t, double *mean, double *std);

#ifdef __cplusplus
}
#endif
#endif
