/* data/dataset.c - the data set object: opening one from a spec (the table
 * of kinds, "did you mean" for a misspelt name), and what every kind shares
 * once open: the info, gathering examples into a batch, the split indices,
 * class names, tokens and standardisation statistics.
 *
 * Each kind lives in its own file (fmnist.c, tabular.c, sentiment.c,
 * text.c) and fills the object through its open function; the readers of
 * the formats are separate again (idx.c, csv.c, sentences.c).
 */
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

static const data_kind *const kinds[] = {&data_kind_fmnist, &data_kind_mnist, &data_kind_csv, &data_kind_sentiment,
                                         &data_kind_text};
enum { NKINDS = sizeof kinds / sizeof kinds[0] };

static const char *kind_name_at(const void *ctx, int i)
{
    (void)ctx;
    return kinds[i]->name;
}

void data_set_sizes(eta_dataset *ds)
{
    size_t in = 4, tgt = 4;
    for (int i = 0; i < ds->info.input_ndim; i++)
        in *= (size_t)ds->info.input_shape[i];
    for (int i = 0; i < ds->info.target_ndim; i++)
        tgt *= (size_t)ds->info.target_shape[i];
    ds->in_bytes = in;
    ds->tgt_bytes = tgt;
}

int data_set_class_names(eta_dataset *ds, const char *const *names, int n, eta_err *err)
{
    /* room for info.classes names when it is more (the rest stay NULL) */
    int cap = ds->info.classes > n ? ds->info.classes : n;
    ds->class_names = calloc((size_t)(cap > 0 ? cap : 1), sizeof *ds->class_names);
    if (!ds->class_names)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    ds->nclass_names = cap;
    for (int k = 0; k < n; k++)
        if (!(ds->class_names[k] = strdup(names[k])))
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    return ETA_OK;
}

int eta_data_open(eta_dataset **out, const char *spec, const char *base_dir, eta_err *err)
{
    eta_err_clear(err);
    if (!out)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_open: out is NULL");
    *out = NULL;
    if (!spec)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_open: no spec");
    eta_spec *call;
    int rc = eta_spec_parse(&call, spec, err);
    if (rc)
        return rc;
    const data_kind *k = NULL;
    if (call->kind != ETA_SPEC_CALL) {
        rc = eta_spec_fail(err, ETA_EINVAL, call, "expected a data set such as FashionMNIST() or CSV('file.csv'), got %s",
                           eta_spec_kind_name(call->kind));
        eta_spec_free(call);
        return rc;
    }
    for (int i = 0; i < NKINDS; i++)
        if (!strcmp(kinds[i]->name, call->str))
            k = kinds[i];
    if (!k) {
        eta_spec_fail(err, ETA_EINVAL, call, "unknown data set '%s'", call->str);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, call->str, kind_name_at, NULL, NKINDS, "data sets", NULL);
        eta_spec_free(call);
        return ETA_EINVAL;
    }
    const eta_spec *args[32];
    if ((rc = eta_spec_bind(call, k->sig, k->nsig, args, err))) {
        eta_spec_free(call);
        return rc;
    }
    eta_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) {
        eta_spec_free(call);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    ds->kind = k;
    ds->base_dir = base_dir;
    ds->info.name = k->name;
    ds->info.padding_idx = -1;
    rc = k->open(ds, call, args, err);
    ds->base_dir = NULL;
    eta_spec_free(call);
    if (rc) {
        eta_data_free(ds);
        return rc;
    }
    data_set_sizes(ds);
    *out = ds;
    return ETA_OK;
}

void eta_data_free(eta_dataset *ds)
{
    if (!ds)
        return;
    if (ds->kind && ds->kind->free)
        ds->kind->free(ds->impl);
    for (int s = 0; s < ETA_SPLIT_COUNT; s++)
        free(ds->index[s]);
    if (ds->class_names)
        for (int k = 0; k < ds->nclass_names; k++)
            free(ds->class_names[k]);
    free(ds->class_names);
    data_vocab_free(ds->vocab);
    free(ds->in_mean);
    free(ds->in_std);
    free(ds->tgt_mean);
    free(ds->tgt_std);
    free(ds);
}

const eta_data_info *eta_data_get_info(const eta_dataset *ds)
{
    return ds ? &ds->info : NULL;
}

static const char *const split_names[ETA_SPLIT_COUNT] = {"train", "val", "test"};

int eta_data_gather(const eta_dataset *ds, eta_split split, const int64_t *idx, int64_t n, void *input,
                    void *target, eta_err *err)
{
    if (!ds)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_gather: no data set");
    if ((int)split < 0 || split >= ETA_SPLIT_COUNT)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_gather: split %d is not train (0), val (1) or test (2)",
                             (int)split);
    if (n < 0 || (n > 0 && !idx))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_gather: bad index array (n = %lld)", (long long)n);
    int64_t size = ds->info.size[split];
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= size)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_data_gather: idx[%lld] = %lld is outside the %s split [0, %lld)",
                                 (long long)i, (long long)idx[i], split_names[split], (long long)size);
    char *in = input, *tgt = target;
    for (int64_t i = 0; i < n; i++)
        ds->kind->get(ds, split, ds->index[split][idx[i]], in ? in + (size_t)i * ds->in_bytes : NULL,
                      tgt ? tgt + (size_t)i * ds->tgt_bytes : NULL);
    return ETA_OK;
}

const int64_t *eta_data_split_index(const eta_dataset *ds, eta_split split, int64_t *n)
{
    if (!ds || (int)split < 0 || split >= ETA_SPLIT_COUNT) {
        if (n)
            *n = 0;
        return NULL;
    }
    if (n)
        *n = ds->info.size[split];
    return ds->index[split];
}

const char *eta_data_class_name(const eta_dataset *ds, int k)
{
    if (!ds || !ds->class_names || k < 0 || k >= ds->info.classes || k >= ds->nclass_names)
        return NULL;
    return ds->class_names[k];
}

const char *eta_data_token(const eta_dataset *ds, int64_t id)
{
    return ds && ds->vocab ? data_vocab_token(ds->vocab, id) : NULL;
}

int64_t eta_data_input_stats(const eta_dataset *ds, const double **mean, const double **std)
{
    bool has = ds && ds->n_in_stats > 0;
    if (mean)
        *mean = has ? ds->in_mean : NULL;
    if (std)
        *std = has ? ds->in_std : NULL;
    return has ? ds->n_in_stats : 0;
}

int64_t eta_data_target_stats(const eta_dataset *ds, const double **mean, const double **std)
{
    bool has = ds && ds->n_tgt_stats > 0;
    if (mean)
        *mean = has ? ds->tgt_mean : NULL;
    if (std)
        *std = has ? ds->tgt_std : NULL;
    return has ? ds->n_tgt_stats : 0;
}
