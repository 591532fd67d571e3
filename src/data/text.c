/* data/text.c - the Text data set: a plain text file for a language model,
 * cut into windows of `context` tokens whose targets are the next tokens.
 *
 *   Text(path='/usr/share/dasher/training_english_GB.txt', context=64, ...)
 *
 * The token stream (characters by default, or words: vocab.c) is cut in
 * file order into train, val and test parts (the last val and test
 * fractions), so no window straddles two splits or sees text of another.
 * The vocabulary comes from the train part: id 0 is "<unk>", for a token
 * that only val or test have. Example t is the window starting at token t:
 * input ids[t .. t+context), target ids[t+1 .. t+context+1), the [T] int32
 * next tokens a CrossEntropyLoss over every position reads. Windows start
 * every `stride` tokens (stride=None: context, windows do not overlap).
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

typedef struct text {
    int32_t *ids;
    int64_t n, context;
} text;

static const eta_spec_param sig[] = {
    {"path", false, false},      {"context", false, false},  {"stride", false, false},
    {"level", false, false},     {"lowercase", false, false}, {"min_freq", false, false},
    {"max_vocab", false, false}, {"val", false, false},      {"test", false, false},
};
enum { A_PATH, A_CONTEXT, A_STRIDE, A_LEVEL, A_LOWERCASE, A_MIN_FREQ, A_MAX_VOCAB, A_VAL, A_TEST, NARGS };

static void text_free(void *p)
{
    text *t = p;
    if (!t)
        return;
    free(t->ids);
    free(t);
}

/* The token spans of the file. */
typedef struct spans {
    const char *base;
    int64_t *at; /* offsets from base */
    int32_t *len;
    int64_t n, cap;
} spans;

static int add_span(void *ctx, const char *tok, size_t len)
{
    spans *s = ctx;
    if (s->n == s->cap) {
        int64_t cap = s->cap ? s->cap * 2 : 4096;
        int64_t *at = realloc(s->at, (size_t)cap * sizeof *at);
        if (at)
            s->at = at;
        int32_t *ln = realloc(s->len, (size_t)cap * sizeof *ln);
        if (ln)
            s->len = ln;
        if (!at || !ln)
            return ETA_ENOMEM;
        s->cap = cap;
    }
    s->at[s->n] = tok - s->base;
    s->len[s->n++] = (int32_t)len;
    return ETA_OK;
}

static int text_open(eta_dataset *ds, const eta_spec *call, const eta_spec *const *a, eta_err *err)
{
    (void)call;
    text *t = calloc(1, sizeof *t);
    if (!t)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    ds->impl = t;
    const char *p;
    int level = DATA_LEVEL_CHAR;
    int64_t context, stride, min_freq, max_vocab;
    bool lower;
    int rc = data_arg_string(a[A_PATH], "path", "/usr/share/dasher/training_english_GB.txt", &p, err);
    if (!rc && !p)
        rc = eta_spec_fail(err, ETA_EINVAL, a[A_PATH], "path must be a file, not None");
    if (!rc)
        rc = data_arg_int(a[A_CONTEXT], "context", 64, 1, 1 << 20, &context, err);
    if (!rc)
        rc = data_arg_int(a[A_STRIDE], "stride", context, 1, 1 << 20, &stride, err);
    if (!rc)
        rc = data_arg_choice(a[A_LEVEL], "level", data_levels, 2, &level, err);
    if (!rc)
        rc = data_arg_bool(a[A_LOWERCASE], "lowercase", false, &lower, err);
    if (!rc)
        rc = data_arg_int(a[A_MIN_FREQ], "min_freq", 1, 1, INT64_MAX, &min_freq, err);
    if (!rc)
        rc = data_arg_int(a[A_MAX_VOCAB], "max_vocab", 0, 2, INT32_MAX, &max_vocab, err);
    char path[4096];
    if (!rc)
        rc = data_path(path, sizeof path, ds->base_dir, p, a[A_PATH], err);
    char *buf = NULL;
    size_t len = 0;
    if (!rc)
        rc = data_read_all(path, (size_t)1 << 31, &buf, &len, err);
    if (!rc && len == 0)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: empty file", path);
    if (!rc && memchr(buf, '\0', len))
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: byte %zu: NUL byte (not a text file?)", path,
                           (size_t)((char *)memchr(buf, '\0', len) - buf));
    if (rc) {
        free(buf);
        return rc;
    }
    if (lower)
        data_lower(buf, len);
    spans sp = {buf, NULL, NULL, 0, 0};
    if (data_tokenize(buf, len, (data_level)level, add_span, &sp))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    int64_t n = sp.n, nval = 0, ntest = 0;
    if (!rc)
        rc = data_arg_count(a[A_VAL], "val", 0.05, n, &nval, err);
    if (!rc)
        rc = data_arg_count(a[A_TEST], "test", 0.05, n, &ntest, err);
    int64_t part[4] = {0, n - nval - ntest, n - ntest, n}; /* train, val, test: [part[s], part[s+1]) */
    static const char *const names[] = {"train", "val", "test"};
    for (int s = 0; s < 3 && !rc; s++) {
        int64_t size = part[s + 1] - part[s];
        if ((s == 0 || size > 0) && size < context + 1)
            rc = eta_spec_fail(err, ETA_EINVAL, a[A_CONTEXT],
                               "%s: the %s part has %lld tokens, fewer than context + 1 = %lld for one window", path,
                               names[s], (long long)size, (long long)context + 1);
    }
    static const char *const specials[] = {"<unk>"};
    if (!rc && data_vocab_new(&ds->vocab, specials, 1))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < part[1] && !rc; i++)
        if (data_vocab_count(ds->vocab, buf + sp.at[i], (size_t)sp.len[i]))
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    if (!rc && data_vocab_finish(ds->vocab, min_freq, max_vocab))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    if (!rc && !(t->ids = malloc((size_t)n * sizeof *t->ids)))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %lld tokens", (long long)n);
    for (int64_t i = 0; i < n && !rc; i++)
        t->ids[i] = data_vocab_id(ds->vocab, buf + sp.at[i], (size_t)sp.len[i], 0);
    free(sp.at);
    free(sp.len);
    free(buf);
    /* windows: start offsets within each part */
    for (int s = 0; s < 3 && !rc; s++) {
        int64_t size = part[s + 1] - part[s];
        int64_t count = size >= context + 1 ? (size - context - 1) / stride + 1 : 0;
        free(ds->index[s]);
        ds->index[s] = malloc((size_t)(count ? count : 1) * sizeof(int64_t));
        if (!ds->index[s]) {
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
            break;
        }
        for (int64_t k = 0; k < count; k++)
            ds->index[s][k] = part[s] + k * stride;
        ds->info.size[s] = count;
    }
    if (rc)
        return rc;
    t->n = n;
    t->context = context;
    ds->info.tokens = true;
    ds->info.input_ndim = 1;
    ds->info.input_shape[0] = context;
    ds->info.class_target = true;
    ds->info.target_ndim = 1;
    ds->info.target_shape[0] = context;
    ds->info.vocab = data_vocab_size(ds->vocab);
    ds->info.classes = (int)ds->info.vocab;
    ds->info.padding_idx = -1;
    return ETA_OK;
}

static void text_get(const eta_dataset *ds, eta_split split, int64_t ex, void *input, void *target)
{
    (void)split;
    const text *t = ds->impl;
    if (input)
        memcpy(input, t->ids + ex, (size_t)t->context * sizeof *t->ids);
    if (target)
        memcpy(target, t->ids + ex + 1, (size_t)t->context * sizeof *t->ids);
}

const data_kind data_kind_text = {"Text", sig, NARGS, text_open, text_get, text_free};
