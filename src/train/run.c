/* train/run.c - the training run: building it from a config, one optimizer
 * step, evaluation, and the loop over epochs (run.h says what a run is).
 *
 * A step takes up to `accumulate` batches (fewer at the end of an epoch):
 * forward and backward each, the gradients averaged over them; then the
 * global gradient norm, the guard's verdict on (loss, norm) before anything
 * touches the weights, clipping, the lr of this step (the schedule's, or the
 * initial lr without one, times the guard's lr scale and lr_scaling's
 * factor), the optimizer step.
 * The network is prepared for the batch size and prepared again for a short
 * last batch and for evaluation (parameters are kept across prepares).
 * Evaluation and prediction happen at the optimizer's evaluation point
 * (Schedule-Free's x, with BatchNorm statistics recomputed there); a step
 * switches back to the training point first.
 *
 * What does not live here: the checkpoint format (run_ckpt.c), the guard's
 * rules (guard.c), the metrics files and progress (metrics.c, progress.c),
 * the plots (runplot.c), the command line (cli/cmd_train.c).
 */
#include "train/run_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

/* ---- the network's batch size ----------------------------------------- */

int run_prepare(eta_run *r, int64_t batch, eta_err *err)
{
    if (r->prepared == batch)
        return ETA_OK;
    int rc = eta_net_prepare(r->net, batch, r->info->input_ndim, r->info->input_shape, err);
    if (rc)
        return rc;
    r->prepared = batch;
    return ETA_OK;
}

size_t run_param_size(eta_run *r, int i, const char **name, size_t *offset)
{
    int nd;
    int64_t shape[8];
    eta_net_param_info(r->net, i, name, offset, &nd, shape);
    size_t n = 1;
    for (int d = 0; d < nd; d++)
        n *= (size_t)shape[d];
    return n;
}

/* ---- one step --------------------------------------------------------- */

/* The next training batch; at the end of an epoch returns 1 without one. */
static int next_batch(eta_run *r, const void **x, const void **y, int64_t *n, eta_err *err)
{
    if (r->batch_in_epoch >= r->batches)
        return 1;
    int rc = eta_loader_next(r->loader, x, y, n);
    if (rc < 0)
        return run_fail(err, rc, "reading the training data: %s", eta_strerror(rc));
    if (rc == 1)
        return run_fail(err, ETA_ESTATE, "the training loader ended its epoch after %lld of %lld batches",
                    (long long)r->batch_in_epoch, (long long)r->batches);
    r->batch_in_epoch++;
    return 0;
}

/* Forward and backward over up to `accumulate` batches: gradients averaged
 * into the network's gradient buffer, the mean loss in *loss, examples in
 * *seen. Returns 1 when the epoch had no batch left. */
static int forward_backward(eta_run *r, double *loss, int64_t *seen, eta_err *err)
{
    size_t ng;
    float *g = eta_net_grads(r->net, &ng);
    int k = 0;
    double sum = 0;
    *seen = 0;
    while (k < r->accumulate) {
        const void *x, *y;
        int64_t n;
        int rc = next_batch(r, &x, &y, &n, err);
        if (rc == 1)
            break;
        if (rc)
            return rc;
        double l;
        if (r->sharded) {
            if ((rc = run_shard_batch(r, x, y, n, k, &l, err)))
                return rc;
        } else {
            if ((rc = run_prepare(r, n, err)))
                return rc;
            if ((rc = eta_net_forward(r->net, x, y, &l)) || (rc = eta_net_backward(r->net)))
                return run_fail(err, rc, "step %lld: %s", (long long)r->step + 1, eta_net_error(r->net));
        }
        if (r->accumulate > 1) {
            if (k == 0)
                memcpy(r->gacc, g, ng * sizeof *g);
            else
                for (size_t i = 0; i < ng; i++)
                    r->gacc[i] += g[i];
        }
        sum += l;
        *seen += n;
        k++;
    }
    if (k == 0)
        return 1;
    if (r->accumulate > 1) {
        const float inv = 1.0f / (float)k;
        for (size_t i = 0; i < ng; i++)
            g[i] = k == 1 ? r->gacc[i] : r->gacc[i] * inv;
    }
    *loss = sum / k;
    return 0;
}

/* The lr of this step in every group: the schedule's (or the initial lr),
 * mapped onto optimizer.lr's peak when one is given, times the guard's
 * scale, times lr_scaling's factor at this step (lr_scaling.c). */
static int set_lr(eta_run *r, eta_err *err)
{
    int ng = eta_optim_group_count(r->opt);
    const double scale = eta_guard_lr_scale(r->guard);
    const double batch_factor = run_lr_scaling_factor(r, r->step);
    if (r->sched) {
        int64_t t = r->sched_per_epoch ? r->epoch : r->step;
        int64_t last = eta_sched_last_step(r->sched);
        if (last >= 0 && t > last)
            t = last; /* a run longer than a fixed-length schedule stays at its end */
        int rc = eta_sched_apply(r->sched, r->opt, t);
        if (rc)
            return run_fail(err, rc, "schedule at step %lld: %s", (long long)t, eta_optim_error(r->opt));
    }
    for (int i = 0; i < ng; i++) {
        /* The schedule's value as set, not eta_optim_lr: for rules that adapt
         * their rate (SGDHD, AdamHD) that is the adapted rate, which the set
         * value multiplies. */
        eta_optim_hparams hp;
        if (r->sched && eta_optim_get_hparams(r->opt, i, &hp) != ETA_OK)
            continue;
        double lr = r->sched ? hp.lr : eta_optim_initial_lr(r->opt, i);
        if (r->lr_peak > 0) /* lr / lr_top first: the peak itself comes out exact */
            lr = r->lr_peak * (lr / r->lr_top);
        if (scale != 1.0)
            lr *= scale;
        if (batch_factor != 1.0)
            lr *= batch_factor;
        if (!r->sched || r->lr_peak > 0 || scale != 1.0 || batch_factor != 1.0)
            eta_optim_set_lr(r->opt, i, lr);
    }
    return ETA_OK;
}

int run_epoch_turn(eta_run *r, eta_err *err)
{
    const void *x, *y;
    int64_t n;
    int rc = eta_loader_next(r->loader, &x, &y, &n);
    if (rc != 1)
        return run_fail(err, ETA_ESTATE, "the training loader did not end its epoch after %lld batches",
                        (long long)r->batches);
    r->epoch++;
    r->batch_in_epoch = 0;
    return ETA_OK;
}

/* The global gradient norm (under ZeRO-1 from every process's slice). */
static int grad_norm(eta_run *r, double *norm, eta_err *err)
{
    if (r->zero)
        return run_zero_grad_norm(r, norm, err);
    return eta_optim_grad_norm(r->opt, norm);
}

/* The update of a step whose gradients are in place: clipping, then the
 * optimizer's step; under ZeRO-1 each process steps its slice and the
 * parameters are gathered. gnorm: the step's gradient norm, NAN when not
 * known yet. */
static int update(eta_run *r, double gnorm, eta_err *err)
{
    int rc;
    if (r->clip_norm > 0) {
        if (!r->zero)
            eta_optim_clip_grad_norm(r->opt, r->clip_norm, ETA_ANCHOR_TORCH, NULL);
        else if ((isnan(gnorm) && (rc = grad_norm(r, &gnorm, err))) ||
                 (rc = eta_optim_clip_grad_norm_given(r->opt, r->clip_norm, ETA_ANCHOR_TORCH, gnorm)))
            return rc;
    }
    if (r->clip_value > 0)
        eta_optim_clip_grad_value(r->opt, r->clip_value);
    rc = eta_optim_param_count(r->opt) > 0 ? eta_optim_step(r->opt) : ETA_OK; /* a slice may hold none */
    if (rc)
        return run_fail(err, rc, "optimizer step %lld: %s", (long long)r->step + 1, eta_optim_error(r->opt));
    if (r->zero)
        return run_zero_gather(r, eta_net_params(r->net, NULL), err);
    return ETA_OK;
}

int eta_run_probe(eta_run *r, double lr, double *loss, eta_err *err)
{
    *loss = NAN;
    if (!r->opt || !r->loader)
        return run_fail(err, ETA_EINVAL, "the run was built for evaluation: it cannot train");
    if (!(lr >= 0) || !isfinite(lr))
        return run_fail(err, ETA_EINVAL, "a probe's lr must be finite and >= 0, got %g", lr);
    int ng = eta_optim_group_count(r->opt);
    double top = 0;
    for (int i = 0; i < ng; i++)
        top = fmax(top, eta_optim_initial_lr(r->opt, i));
    for (int i = 0; i < ng; i++)
        eta_optim_set_lr(r->opt, i, top > 0 ? lr * (eta_optim_initial_lr(r->opt, i) / top) : lr);
    int64_t seen;
    int rc = forward_backward(r, loss, &seen, err);
    if (rc == 1) { /* the epoch is over: the next one */
        if ((rc = run_epoch_turn(r, err)) || (rc = forward_backward(r, loss, &seen, err)))
            return rc == 1 ? run_fail(err, ETA_ESTATE, "the training split gives no batch") : rc;
    } else if (rc) {
        return rc;
    }
    if ((rc = update(r, NAN, err)))
        return rc;
    r->step++;
    r->samples += seen;
    return ETA_OK;
}

int run_step(eta_run *r, eta_err *err)
{
    double loss = NAN, gnorm;
    int64_t seen;
    eta_optim_train(r->opt); /* gradients are taken at the training point (Schedule-Free's y) */
    int rc = set_lr(r, err);
    if (rc || (rc = forward_backward(r, &loss, &seen, err)))
        return rc;
    if ((rc = grad_norm(r, &gnorm, err)))
        return rc;
    /* The guard sees the step before the weights do. */
    eta_guard_action act = run_guard_check(r, loss, gnorm, err);
    if (act == ETA_GUARD_STOP)
        return err && err->code ? err->code : ETA_ESTATE;
    if (act != ETA_GUARD_OK)
        return 1; /* skipped, or rolled back to the snapshot by the guard: no step taken */
    bool stats = r->stats_every > 0 && (r->step + 1) % r->stats_every == 0;
    if (stats && r->zero && (rc = run_zero_gather(r, eta_net_grads(r->net, NULL), err)))
        return rc; /* the layer figures read every gradient */
    if (stats)
        run_layer_stats_before(r);
    if ((rc = update(r, gnorm, err)))
        return rc;
    r->step++;
    r->samples += seen;
    run_metrics_step(r, loss, gnorm, seen);
    if (stats)
        run_layer_stats_after(r);
    return ETA_OK;
}

/* ---- evaluation ------------------------------------------------------- */

/* The next batch of a loader of its own, the network prepared for it: 0, 1
 * at the loader's end, or a negative error. */
static int loader_batch(eta_run *r, eta_loader *l, const void **x, const void **y, int64_t *n, eta_err *err)
{
    int rc = eta_loader_next(l, x, y, n);
    return rc ? rc : run_prepare(r, *n, err);
}

/* Batches of train-mode forward passes that recompute BatchNorm's running
 * statistics at the evaluation point, as schedule_free's README does. */
enum { BN_RECOMPUTE_BATCHES = 50 };

static bool has_running_stats(const eta_net *net)
{
    for (int i = 0; i < eta_net_param_count(net); i++) {
        const char *name;
        if (eta_net_param_is_buffer(net, i) && !eta_net_param_info(net, i, &name, NULL, NULL, NULL) &&
            strstr(name, "running_mean"))
            return true;
    }
    return false;
}

/* Over the first BN_RECOMPUTE_BATCHES batches of the training split, in
 * order, from a loader of its own (the training loader's position stays). */
static int recompute_running_stats(eta_run *r, eta_err *err)
{
    eta_loader *l;
    eta_loader_config lc = {.split = ETA_SPLIT_TRAIN, .batch = r->batch, .shuffle = false, .drop_last = false,
                            .seed = 0, .prefetch = true};
    int rc = eta_loader_new(&l, r->ds, &lc, err);
    for (int b = 0; !rc && b < BN_RECOMPUTE_BATCHES; b++) {
        const void *x, *y;
        int64_t n;
        if ((rc = loader_batch(r, l, &x, &y, &n, err))) {
            rc = rc == 1 ? 0 : rc;
            break;
        }
        if ((rc = eta_net_forward(r->net, x, NULL, NULL)))
            run_fail(err, rc, "recomputing BatchNorm statistics: %s", eta_net_error(r->net));
    }
    eta_loader_free(l);
    return rc < 0 ? rc : ETA_OK;
}

int run_eval_point(eta_run *r, bool *switched, eta_err *err)
{
    *switched = false;
    if (!r->opt || !eta_optim_has_eval_point(r->opt) || eta_optim_is_eval(r->opt)) /* eval, predict: no optimizer */
        return ETA_OK;
    eta_optim_eval(r->opt);
    *switched = true;
    /* before any step x is y (and a model loaded for `eta eval` has its statistics) */
    if (r->step == 0 || r->bn_step == r->step || !has_running_stats(r->net))
        return ETA_OK;
    r->bn_step = r->step;
    return recompute_running_stats(r, err);
}

/* argmax over the last dimension of rows of width c. */
static int64_t argmax(const float *v, int64_t c)
{
    int64_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (v[j] > v[best])
            best = j;
    return best;
}

int run_each_batch(eta_run *r, eta_split split, int64_t batch, bool train, run_batch_fn fn, void *ctx, eta_err *err)
{
    eta_loader *l;
    eta_loader_config lc = {.split = split, .batch = batch, .shuffle = false, .drop_last = false, .seed = 0,
                            .prefetch = true};
    int rc = eta_loader_new(&l, r->ds, &lc, err);
    if (rc)
        return rc;
    eta_net_train(r->net, train);
    for (;;) {
        const void *x, *y;
        int64_t n;
        rc = eta_loader_next(l, &x, &y, &n);
        if (rc == 1) {
            rc = 0;
            break;
        }
        if (rc < 0 || (rc = run_prepare(r, n, err)) || (rc = fn(r, x, y, n, ctx, err)))
            break;
    }
    eta_net_train(r->net, true);
    eta_loader_free(l);
    return rc;
}

/* What an evaluation sums over its batches. */
typedef struct eval_sums {
    int classes;
    int64_t *confusion;
    double lsum;
    int64_t n_all, hits, labels;
} eval_sums;

static int eval_batch(eta_run *r, const void *x, const void *y, int64_t n, void *ctx, eta_err *err)
{
    eval_sums *e = ctx;
    double lb;
    int rc = eta_net_forward(r->net, x, y, &lb);
    if (rc)
        return run_fail(err, rc, "evaluating: %s", eta_net_error(r->net));
    e->lsum += lb * (double)n;
    e->n_all += n;
    if (!e->classes)
        return ETA_OK;
    int nd;
    int64_t shape[8];
    const float *out = eta_net_output(r->net, &nd, shape);
    const int64_t c = shape[nd - 1], rows = n * (nd == 3 ? shape[1] : 1); /* [n, C] or [n, T, C] */
    if (c != e->classes) /* a run checks this when built; another data set (eval --data) may not fit */
        return run_fail(err, ETA_EINVAL,
                        "evaluating: the network gives %lld outputs per example, the data set has %d "
                        "classes (a CSV's classes= sets the count)",
                        (long long)c, e->classes);
    const int32_t *t = y;
    for (int64_t i = 0; i < rows; i++) {
        if (t[i] < 0 || t[i] >= e->classes)
            continue; /* padding (ignore_index) */
        int64_t p = argmax(out + i * c, c);
        e->hits += p == t[i];
        e->labels++;
        if (e->confusion)
            e->confusion[(int64_t)t[i] * e->classes + p]++;
    }
    return ETA_OK;
}

/* Data-parallel evaluation: process j evaluates batches [j*B/N, (j+1)*B/N)
 * of the B, each batch's sums go into a table all processes gather, and
 * every process adds the table up in batch order: the sums one process
 * makes, in 1/N of the time. */
typedef struct shard_eval {
    eval_sums *e;
    int64_t batch, lo, hi;
    double *rec; /* per batch: loss x rows, rows, hits, labels */
} shard_eval;

static int shard_eval_batch(eta_run *r, const void *x, const void *y, int64_t n, void *ctx, eta_err *err)
{
    shard_eval *s = ctx;
    const int64_t b = s->batch++;
    if (b < s->lo || b >= s->hi)
        return ETA_OK;
    eval_sums one = {s->e->classes, NULL, 0, 0, 0, 0};
    int rc = eval_batch(r, x, y, n, &one, err);
    double *rec = s->rec + 4 * b;
    rec[0] = one.lsum;
    rec[1] = (double)one.n_all;
    rec[2] = (double)one.hits;
    rec[3] = (double)one.labels;
    return rc;
}

static int evaluate_sharded(eta_run *r, eta_split split, eval_sums *e, eta_err *err)
{
    const int64_t eb = r->eval_batch, nb = (r->info->size[split] + eb - 1) / eb;
    const int N = r->comm.size, me = r->comm.rank;
    size_t *lo = malloc(((size_t)N + 1) * sizeof *lo);
    double *rec = calloc((size_t)(nb ? nb : 1) * 4, sizeof *rec);
    if (!lo || !rec) {
        free(lo);
        free(rec);
        return ETA_ENOMEM;
    }
    for (int j = 0; j <= N; j++)
        lo[j] = (size_t)(((int64_t)j * nb) / N);
    shard_eval s = {e, 0, (int64_t)lo[me], (int64_t)lo[me + 1], rec};
    int rc = run_each_batch(r, split, eb, false, shard_eval_batch, &s, err);
    if (!rc)
        rc = r->comm.allgather(r->comm.ud, rec, lo, 4 * sizeof *rec, err);
    for (int64_t b = 0; !rc && b < nb; b++) {
        e->lsum += rec[4 * b];
        e->n_all += (int64_t)rec[4 * b + 1];
        e->hits += (int64_t)rec[4 * b + 2];
        e->labels += (int64_t)rec[4 * b + 3];
    }
    free(lo);
    free(rec);
    return rc;
}

int eta_run_evaluate(eta_run *r, eta_split split, double *loss, double *accuracy, int64_t *confusion, eta_err *err)
{
    *loss = NAN;
    if (accuracy)
        *accuracy = NAN;
    if (r->info->size[split] == 0)
        return ETA_OK;
    eval_sums e = {r->info->class_target ? r->info->classes : 0, confusion, 0, 0, 0, 0};
    if (confusion && e.classes)
        memset(confusion, 0, (size_t)e.classes * (size_t)e.classes * sizeof *confusion);
    bool switched;
    int rc = run_eval_point(r, &switched, err);
    if (!rc && r->sharded && r->comm.size > 1 && !confusion)
        rc = evaluate_sharded(r, split, &e, err);
    else if (!rc)
        rc = run_each_batch(r, split, r->eval_batch, false, eval_batch, &e, err);
    if (switched)
        eta_optim_train(r->opt);
    if (rc < 0) {
        if (err && !err->code)
            run_fail(err, rc, "evaluating: %s", eta_strerror(rc));
        return rc;
    }
    *loss = e.n_all ? e.lsum / (double)e.n_all : NAN;
    if (accuracy && e.classes && e.labels)
        *accuracy = (double)e.hits / (double)e.labels;
    return ETA_OK;
}

typedef struct predict_out {
    FILE *out;
    bool header;
} predict_out;

static int predict_batch(eta_run *r, const void *x, const void *y, int64_t n, void *ctx, eta_err *err)
{
    (void)y;
    predict_out *po = ctx;
    FILE *out = po->out;
    int rc = eta_net_forward(r->net, x, NULL, NULL);
    if (rc)
        return run_fail(err, rc, "predicting: %s", eta_net_error(r->net));
    int nd;
    int64_t shape[8];
    const float *o = eta_net_output(r->net, &nd, shape);
    int64_t w = 1;
    for (int d = 1; d < nd; d++)
        w *= shape[d];
    if (!po->header) {
        for (int64_t j = 0; j < w; j++)
            fprintf(out, j ? ",out%lld" : "out%lld", (long long)j);
        if (r->info->class_target && r->info->target_ndim == 0)
            fprintf(out, ",predicted");
        fputc('\n', out);
        po->header = true;
    }
    for (int64_t i = 0; i < n; i++) {
        for (int64_t j = 0; j < w; j++) {
            if (j)
                fputc(',', out);
            char num[40];
            eta_fmt_real(num, sizeof num, (double)o[i * w + j]);
            fputs(num, out);
        }
        if (r->info->class_target && r->info->target_ndim == 0)
            fprintf(out, ",%lld", (long long)argmax(o + i * w, w));
        fputc('\n', out);
    }
    return ETA_OK;
}

int eta_run_predict(eta_run *r, eta_split split, FILE *out, eta_err *err)
{
    predict_out po = {out, false};
    bool switched;
    int rc = run_eval_point(r, &switched, err);
    if (!rc)
        rc = run_each_batch(r, split, r->eval_batch, false, predict_batch, &po, err);
    if (switched)
        eta_optim_train(r->opt);
    return rc < 0 ? rc : ETA_OK;
}
