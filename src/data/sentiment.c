/* data/sentiment.c - the Sentiment data set: labelled sentences (JSON,
 * sentences.c) as padded token ids for an Embedding, with a word- or
 * character-level vocabulary built on the training split only.
 *
 *   Sentiment(root, sources='amazon,imdb,yelp', level='word', max_len=None, ...)
 *
 * The sources are root/<source>.json, read in the order given and
 * numbered as one list of records. Ids: 0 is "<pad>" (the padding_idx),
 * 1 is "<unk>" (a token the training split does not have, or has fewer
 * than min_freq times), then the training tokens by falling count. A
 * sentence becomes its first max_len ids, padded on the right with 0
 * (max_len=None: the longest training sentence); a sentence without a
 * token becomes one "<unk>", so no row is all padding. test_sources puts
 * whole sources in the test split (a domain-shift test: train on amazon
 * and imdb, test on yelp); they are left out of sources.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"
#include "data/sentences.h"

enum { PAD = 0, UNK = 1 };

typedef struct sentiment {
    int32_t *ids;   /* n x max_len */
    int32_t *label; /* n */
    int64_t max_len;
} sentiment;

static const eta_spec_param sig[] = {
    {"root", true, false},      {"sources", false, false},  {"level", false, false},
    {"max_len", false, false},  {"lowercase", false, false}, {"min_freq", false, false},
    {"max_vocab", false, false}, {"classes", false, false},  {"val", false, false},
    {"test", false, false},     {"test_sources", false, false}, {"split", false, false},
    {"seed", false, false},
};
enum {
    A_ROOT, A_SOURCES, A_LEVEL, A_MAX_LEN, A_LOWERCASE, A_MIN_FREQ, A_MAX_VOCAB, A_CLASSES, A_VAL, A_TEST,
    A_TEST_SOURCES, A_SPLIT, A_SEED, NARGS
};

static void sentiment_free(void *p)
{
    sentiment *s = p;
    if (!s)
        return;
    free(s->ids);
    free(s->label);
    free(s);
}

/* Token callbacks: count into the vocabulary; count tokens; write ids. */
static int count_tok(void *ctx, const char *tok, size_t len)
{
    return data_vocab_count(ctx, tok, len);
}

static int tally_tok(void *ctx, const char *tok, size_t len)
{
    (void)tok, (void)len;
    ++*(int64_t *)ctx;
    return 0;
}

typedef struct writer {
    const data_vocab *v;
    int32_t *row;
    int64_t n, cap;
} writer;

static int write_tok(void *ctx, const char *tok, size_t len)
{
    writer *w = ctx;
    if (w->n == w->cap)
        return 1; /* full: stop */
    w->row[w->n++] = data_vocab_id(w->v, tok, len, UNK);
    return 0;
}

static int sentiment_open(eta_dataset *ds, const eta_spec *call, const eta_spec *const *a, eta_err *err)
{
    (void)call;
    sentiment *st = calloc(1, sizeof *st);
    if (!st)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    ds->impl = st;
    const char *root;
    data_names src, tsrc;
    int level = DATA_LEVEL_WORD, mode = DATA_SPLIT_RANDOM;
    int64_t max_len, min_freq, max_vocab, classes, seed;
    bool lower;
    int rc = eta_spec_get_string(a[A_ROOT], "root", &root, err);
    if (!rc)
        rc = data_arg_names(a[A_SOURCES], "sources", &src, err);
    if (!rc && src.n == 0) {
        static const char *const def[] = {"amazon", "imdb", "yelp"};
        src.n = 3;
        for (int i = 0; i < 3; i++)
            src.name[i] = def[i], src.at[i] = NULL;
    }
    for (int i = 0; i < src.n && !rc; i++)
        if (!src.name[i])
            rc = eta_spec_fail(err, ETA_EINVAL, src.at[i], "sources: expected names such as 'amazon'");
    if (!rc)
        rc = data_arg_choice(a[A_LEVEL], "level", data_levels, 2, &level, err);
    if (!rc)
        rc = data_arg_int(a[A_MAX_LEN], "max_len", 0, 1, 1 << 20, &max_len, err);
    if (!rc)
        rc = data_arg_bool(a[A_LOWERCASE], "lowercase", true, &lower, err);
    if (!rc)
        rc = data_arg_int(a[A_MIN_FREQ], "min_freq", 1, 1, INT64_MAX, &min_freq, err);
    if (!rc)
        rc = data_arg_int(a[A_MAX_VOCAB], "max_vocab", 0, 3, INT32_MAX, &max_vocab, err);
    if (!rc)
        rc = data_arg_int(a[A_CLASSES], "classes", 2, 2, 1 << 20, &classes, err);
    if (!rc)
        rc = data_arg_names(a[A_TEST_SOURCES], "test_sources", &tsrc, err);
    if (!rc)
        rc = data_arg_choice(a[A_SPLIT], "split", data_split_modes, 2, &mode, err);
    if (!rc)
        rc = data_arg_int(a[A_SEED], "seed", 0, INT64_MIN, INT64_MAX, &seed, err);
    if (!rc && tsrc.n && a[A_TEST])
        rc = eta_spec_fail(err, ETA_EINVAL, a[A_TEST], "give test or test_sources, not both");
    if (rc)
        return rc;

    /* the records of every source, in order; which source each came from */
    data_sentences all = {0};
    int32_t *from = NULL;
    char dir[4096];
    rc = data_path(dir, sizeof dir, ds->base_dir, root, a[A_ROOT], err);
    for (int i = 0; i < src.n + tsrc.n && !rc; i++) {
        bool test = i >= src.n;
        const char *name = test ? tsrc.name[i - src.n] : src.name[i];
        if (!name) {
            rc = eta_spec_fail(err, ETA_EINVAL, tsrc.at[i - src.n], "test_sources: expected names such as 'yelp'");
            break;
        }
        bool dup = false; /* a test source is not also read as a training one */
        for (int k = 0; k < tsrc.n && !test; k++)
            dup |= tsrc.name[k] && !strcmp(tsrc.name[k], name);
        if (dup)
            continue;
        char path[4200];
        size_t nl = strlen(name);
        snprintf(path, sizeof path, "%s/%s%s", dir, name, nl > 5 && !strcmp(name + nl - 5, ".json") ? "" : ".json");
        char *buf;
        size_t len;
        if ((rc = data_read_all(path, (size_t)1 << 30, &buf, &len, err)))
            break;
        int64_t before = all.n;
        rc = data_sentences_parse(&all, path, buf, len, (int)classes, err);
        free(buf);
        if (rc)
            break;
        if (all.n == before) {
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: no records", path);
            break;
        }
        int32_t *f = realloc(from, (size_t)all.n * sizeof *f);
        if (!f) {
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
            break;
        }
        from = f;
        for (int64_t k = before; k < all.n; k++)
            from[k] = test;
    }
    int64_t n = all.n;
    int32_t *labels = rc ? NULL : malloc((size_t)n * sizeof *labels);
    if (!rc && !labels)
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < n && !rc; i++)
        labels[i] = all.s[i].label;

    /* splits: with test_sources, train and val share the other sources */
    int64_t m = 0, *keep = NULL;
    if (!rc) {
        keep = malloc((size_t)n * sizeof *keep);
        if (!keep)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        for (int64_t i = 0; i < n && !rc; i++)
            if (!from[i])
                keep[m++] = i;
    }
    int64_t nval = 0, ntest = 0;
    if (!rc)
        rc = data_arg_count(a[A_VAL], "val", 0.1, m, &nval, err);
    if (!rc && !tsrc.n)
        rc = data_arg_count(a[A_TEST], "test", 0.2, m, &ntest, err);
    int32_t *klab = NULL;
    if (!rc && !(klab = malloc((size_t)(m ? m : 1) * sizeof *klab)))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < m && !rc; i++)
        klab[i] = labels[keep[i]];
    if (!rc)
        rc = data_split(ds, m, nval, ntest, (data_split_mode)mode, (uint64_t)seed, klab, (int)classes, err);
    for (int s = 0; s < 2 && !rc && tsrc.n; s++)
        for (int64_t i = 0; i < ds->info.size[s]; i++)
            ds->index[s][i] = keep[ds->index[s][i]];
    if (!rc && tsrc.n) {
        int64_t *t = realloc(ds->index[ETA_SPLIT_TEST], (size_t)(n - m) * sizeof *t);
        if (!t)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        else {
            ds->index[ETA_SPLIT_TEST] = t;
            ds->info.size[ETA_SPLIT_TEST] = n - m;
            for (int64_t i = 0, k = 0; i < n; i++)
                if (from[i])
                    t[k++] = i;
        }
    }
    free(klab);
    free(keep);

    /* the vocabulary, from the training split */
    static const char *const specials[] = {"<pad>", "<unk>"};
    if (!rc && data_vocab_new(&ds->vocab, specials, 2))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int64_t i = 0; i < n && !rc && lower; i++)
        data_lower(all.s[i].text, all.s[i].len);
    int64_t longest = 1;
    for (int64_t i = 0; i < ds->info.size[ETA_SPLIT_TRAIN] && !rc; i++) {
        const data_sentence *s = &all.s[ds->index[ETA_SPLIT_TRAIN][i]];
        int64_t k = 0;
        if (data_tokenize(s->text, s->len, (data_level)level, count_tok, ds->vocab))
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        data_tokenize(s->text, s->len, (data_level)level, tally_tok, &k);
        if (k > longest)
            longest = k;
    }
    if (!rc && data_vocab_finish(ds->vocab, min_freq, max_vocab))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    if (!rc) {
        st->max_len = max_len ? max_len : longest;
        st->ids = calloc((size_t)(n * st->max_len), sizeof *st->ids); /* 0 is <pad> */
        st->label = labels;
        labels = NULL;
        if (!st->ids)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %lld x %lld token ids", (long long)n,
                               (long long)st->max_len);
    }
    for (int64_t i = 0; i < n && !rc; i++) {
        writer w = {ds->vocab, st->ids + i * st->max_len, 0, st->max_len};
        data_tokenize(all.s[i].text, all.s[i].len, (data_level)level, write_tok, &w);
        if (w.n == 0)
            w.row[0] = UNK;
    }
    free(labels);
    free(from);
    data_sentences_free(&all);
    if (rc)
        return rc;
    ds->info.tokens = true;
    ds->info.input_ndim = 1;
    ds->info.input_shape[0] = st->max_len;
    ds->info.class_target = true;
    ds->info.target_ndim = 0;
    ds->info.classes = (int)classes;
    ds->info.vocab = data_vocab_size(ds->vocab);
    ds->info.padding_idx = PAD;
    if (classes == 2) {
        static const char *const names[] = {"negative", "positive"};
        return data_set_class_names(ds, names, 2, err);
    }
    return ETA_OK;
}

static void sentiment_get(const eta_dataset *ds, eta_split split, int64_t ex, void *input, void *target)
{
    (void)split;
    const sentiment *s = ds->impl;
    if (input)
        memcpy(input, s->ids + ex * s->max_len, (size_t)s->max_len * sizeof *s->ids);
    if (target)
        *(int32_t *)target = s->label[ex];
}

const data_kind data_kind_sentiment = {"Sentiment", sig, NARGS, sentiment_open, sentiment_get, sentiment_free};
