/* data/data_impl.h - internal to the data layer: the data set object every
 * kind fills, the table of kinds (FashionMNIST, CSV, Sentiment, Text), and
 * the helpers they share: whole-file reading (plain or gzip), spec argument
 * readers, seeded splits, train-only statistics, a small RNG, and the
 * vocabulary. The readers of each format have their own headers (idx.h,
 * csv.h, sentences.h) so the fuzz harnesses can reach them alone.
 */
#ifndef ETA_DATA_IMPL_H
#define ETA_DATA_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "eta/data.h"

/* ---- the data set ------------------------------------------------------- */

/* One kind of data set: its spec name and signature, how to open it (args
 * are bound to sig, NULL where not given), and how to copy out one example
 * (`ex` is an entry of ds->index[split]). get is called from any thread. */
typedef struct data_kind {
    const char *name;
    const eta_spec_param *sig;
    int nsig;
    int (*open)(eta_dataset *ds, const eta_spec *call, const eta_spec *const *args, eta_err *err);
    void (*get)(const eta_dataset *ds, eta_split split, int64_t ex, void *input, void *target);
    void (*free)(void *impl);
} data_kind;

extern const data_kind data_kind_fmnist, data_kind_mnist, data_kind_csv, data_kind_sentiment, data_kind_text;

typedef struct data_vocab data_vocab;

struct eta_dataset {
    eta_data_info info;
    const data_kind *kind;
    void *impl;
    const char *base_dir;        /* while opening only */
    int64_t *index[ETA_SPLIT_COUNT];
    size_t in_bytes, tgt_bytes;  /* per example */
    char **class_names;          /* nclass_names of them (some may be NULL), or NULL */
    int nclass_names;
    data_vocab *vocab;
    double *in_mean, *in_std;
    int64_t n_in_stats;
    double *tgt_mean, *tgt_std;
    int64_t n_tgt_stats;
};

/* Sets the byte sizes of one example from info (call after the shapes). */
void data_set_sizes(eta_dataset *ds);

/* Copies n class names into ds->class_names, with room for info.classes
 * when that is more (the rest NULL). */
int data_set_class_names(eta_dataset *ds, const char *const *names, int n, eta_err *err);

/* ---- files -------------------------------------------------------------- */

/* Joins base_dir and a relative path into buf (n bytes); absolute paths
 * and a NULL base_dir leave path alone. ETA_EINVAL when it does not fit. */
int data_path(char *buf, size_t n, const char *base_dir, const char *path, const eta_spec *at, eta_err *err);

/* Reads a whole file, plain or gzip (zlib's gzread passes plain bytes
 * through), into a malloc'd buffer with a NUL after the last byte. A file
 * larger than `max` bytes (decompressed) is refused. Errors name the file:
 * ETA_EIO (cannot open/read), ETA_EFORMAT (a truncated or corrupt gzip
 * stream, with the compressed byte offset), ETA_ENOMEM. */
int data_read_all(const char *path, size_t max, char **buf, size_t *len, eta_err *err);

/* The last component of a path, for messages that name a file. */
const char *data_base_name(const char *path);

/* ---- spec arguments ----------------------------------------------------- */

/* A split size: an int is a count, a real in [0, 1) a fraction of n, taken
 * as ceil(frac * n) (scikit-learn's train_test_split). v NULL: def, read
 * the same way. */
int data_arg_count(const eta_spec *v, const char *name, double def, int64_t n, int64_t *out, eta_err *err);

/* A string among choices[0..n); an unknown one gets the nearest. *out is
 * the index; v NULL leaves *out alone. */
int data_arg_choice(const eta_spec *v, const char *name, const char *const *choices, int n, int *out,
                    eta_err *err);

/* A list of names or column numbers: a string ('a,b' splits at commas), an
 * int, or a list/tuple of those (whose strings are not split). Fills items (n_cap at most) with
 * pointers to the strings (owned by the spec or by `store`, n_cap * 64
 * bytes) or, for numbers, NULL and the number in nums. */
typedef struct data_names {
    int n;
    const char *name[64];
    int64_t num[64];
    const eta_spec *at[64];
    char store[64][64];
} data_names;
int data_arg_names(const eta_spec *v, const char *name, data_names *out, eta_err *err);

/* An optional int (None or absent: `def`). */
int data_arg_int(const eta_spec *v, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out,
                 eta_err *err);
int data_arg_bool(const eta_spec *v, const char *name, bool def, bool *out, eta_err *err);
/* A string or None (NULL); absent gives def. */
int data_arg_string(const eta_spec *v, const char *name, const char *def, const char **out, eta_err *err);

/* ---- splits and statistics ---------------------------------------------- */

typedef enum data_split_mode { DATA_SPLIT_RANDOM, DATA_SPLIT_STRATIFIED, DATA_SPLIT_ORDERED } data_split_mode;
extern const char *const data_split_modes[3];

/* Splits examples 0..n into train, val (nval) and test (ntest) and sets
 * ds->index and info.size. RANDOM: a seeded shuffle; STRATIFIED: the same
 * shuffle, then each class gives val and test their share of it (largest
 * remainders, so the counts are exact); ORDERED: train first, then val, then
 * test, in example order (time series). Each split lists its examples in
 * increasing order. labels (n of them, in [0, classes)) only for
 * STRATIFIED. ETA_EINVAL when train would be empty. */
int data_split(eta_dataset *ds, int64_t n, int64_t nval, int64_t ntest, data_split_mode mode, uint64_t seed,
               const int32_t *labels, int classes, eta_err *err);

/* Mean and population standard deviation (numpy's std, ddof 0) of each of
 * `cols` columns of the rows x[rows[i]] (i < n) of a row-major double
 * matrix, two passes in double. A constant column gets std 1 (as
 * scikit-learn's StandardScaler), so it standardises to 0. */
void data_moments(const double *x, int64_t cols, const int64_t *rows, int64_t n, double *mean, double *std);

/* ---- RNG: splitmix64 (Steele, Lea and Flood 2014) ----------------------- */

static inline uint64_t data_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1, without modulo bias (rejection). */
static inline uint64_t data_rng_below(uint64_t *s, uint64_t n)
{
    uint64_t lim = -n % n; /* 2^64 mod n */
    uint64_t r;
    do
        r = data_rng_next(s);
    while (r < lim);
    return r % n;
}

/* Fisher-Yates over a[0..n) with the stream s. */
void data_shuffle(int64_t *a, int64_t n, uint64_t *s);

/* ---- vocabulary (vocab.c) ----------------------------------------------- */

typedef enum data_level { DATA_LEVEL_WORD, DATA_LEVEL_CHAR } data_level;
extern const char *const data_levels[2];

/* Calls fn(ctx, start, len) for each token of text[0..n): at word level,
 * runs of letters, digits, apostrophes and non-ASCII bytes, and every other
 * visible ASCII character alone ("great!" is "great", "!"); at char level,
 * each UTF-8 character (a bad byte alone). Stops early when fn returns
 * non-zero and returns that. */
typedef int (*data_token_fn)(void *ctx, const char *tok, size_t len);
int data_tokenize(const char *text, size_t n, data_level level, data_token_fn fn, void *ctx);

/* Lowercases ASCII letters in place. */
void data_lower(char *s, size_t n);

/* A vocabulary: first the special tokens given to new, in that order, then
 * the counted tokens with at least min_freq uses, by falling count, ties in
 * byte order, at most max_size ids in all (0: no limit). */
int data_vocab_new(data_vocab **out, const char *const *specials, int nspecials);
void data_vocab_free(data_vocab *v);
int data_vocab_count(data_vocab *v, const char *tok, size_t len);   /* ETA_ENOMEM */
int data_vocab_finish(data_vocab *v, int64_t min_freq, int64_t max_size);
/* The id of a token, or `unk` when it has none. */
int32_t data_vocab_id(const data_vocab *v, const char *tok, size_t len, int32_t unk);
const char *data_vocab_token(const data_vocab *v, int64_t id);
int64_t data_vocab_size(const data_vocab *v);

#endif
