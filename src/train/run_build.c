/* train/run_build.c - a run built from its config: the data set and the
 * training loader, the network with its loss (and, optionally, starting
 * weights from a safetensors file), the optimizer with its no-decay group,
 * the schedule, the guard, the metrics sink and the run directory.
 *
 * Lengths in a schedule: with [schedule] interval = epoch the schedule
 * advances once per epoch, so its lengths are epochs (PyTorch's
 * scheduler.step() after each epoch). With interval = step, a top-level
 * OneCycleLR written with epochs= and without steps_per_epoch gets the
 * run's steps per epoch, and one with neither total_steps nor epochs gets
 * the run's total steps, so `OneCycleLR(max_lr=0.01)` spans the whole run.
 */
#include "train/run_impl.h"

#include "core/error.h"
#include "core/fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

double run_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int run_fail(eta_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->pos = -1;
        err->len = 0;
        eta_msg_vformat_(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Reads a typed key; a failure is located by the config. */
static int get_int(eta_run *r, const char *sec, const char *key, int64_t *v, eta_err *err)
{
    return eta_config_get_int(r->cfg, sec, key, v, err);
}

static int get_real(eta_run *r, const char *sec, const char *key, double *v, eta_err *err)
{
    return eta_config_get_real(r->cfg, sec, key, v, err);
}

static int get_bool(eta_run *r, const char *sec, const char *key, bool *v, eta_err *err)
{
    return eta_config_get_bool(r->cfg, sec, key, v, err);
}

/* A spec error inside a config value (err->pos an offset in it), located
 * as file:line:col with the line and a caret: in full into opts.msg when
 * the caller gave one, and as much as fits into err->msg. */
int run_spec_error(eta_run *r, const char *sec, const char *key, int rc, eta_err *err)
{
    char buf[2048];
    eta_config_format_error(r->cfg, sec, key, err, buf, sizeof buf);
    if (r->opts.msg && r->opts.msg_size)
        snprintf(r->opts.msg, r->opts.msg_size, "%s", buf);
    return run_fail(err, rc, "%s", buf);
}

/* An error about section.key's value as a whole: "file:line:col: section.key: text". */
int run_config_fail(eta_run *r, const char *sec, const char *key, int rc, eta_err *err, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int line, col;
    const char *where = eta_config_where(r->cfg, sec, key, &line, &col);
    char buf[1400];
    if (where && line > 0)
        snprintf(buf, sizeof buf, "%s:%d:%d: %s.%s: %s", where, line, col, sec, key, text);
    else if (where)
        snprintf(buf, sizeof buf, "%s %s.%s: %s", where, sec, key, text);
    else
        snprintf(buf, sizeof buf, "%s.%s (default): %s", sec, key, text);
    if (r->opts.msg && r->opts.msg_size)
        snprintf(r->opts.msg, r->opts.msg_size, "%s", buf);
    return run_fail(err, rc, "%s", buf);
}

static int build_data(eta_run *r, eta_err *err)
{
    const char *spec = eta_config_get(r->cfg, "data", "spec");
    int rc = eta_data_open(&r->ds, spec, r->opts.data_dir, err);
    if (rc)
        return run_spec_error(r, "data", "spec", rc, err);
    r->info = eta_data_get_info(r->ds);
    if (r->info->size[ETA_SPLIT_TRAIN] < 1 && !r->opts.for_eval)
        return run_config_fail(r, "data", "spec", ETA_EINVAL, err, "the data set has no training examples");
    bool shuffle, drop_last, prefetch;
    if ((rc = get_int(r, "data", "batch_size", &r->batch, err)) ||
        (rc = get_int(r, "data", "eval_batch_size", &r->eval_batch, err)) ||
        (rc = get_bool(r, "data", "shuffle", &shuffle, err)) ||
        (rc = get_bool(r, "data", "drop_last", &drop_last, err)) ||
        (rc = get_bool(r, "data", "prefetch", &prefetch, err)))
        return rc;
    if (r->eval_batch <= 0)
        r->eval_batch = r->batch;
    if (r->opts.for_eval)
        return ETA_OK;
    eta_loader_config lc = {.split = ETA_SPLIT_TRAIN, .batch = r->batch, .shuffle = shuffle,
                            .drop_last = drop_last, .seed = r->seed, .prefetch = prefetch};
    if ((rc = eta_loader_new(&r->loader, r->ds, &lc, err)))
        return rc;
    r->batches = eta_loader_batches(r->loader);
    if (r->batches < 1)
        return run_config_fail(r, "data", "batch_size", ETA_EINVAL, err,
                               "batch_size %lld with drop_last leaves no batch of the %lld training examples",
                               (long long)r->batch, (long long)r->info->size[ETA_SPLIT_TRAIN]);
    return ETA_OK;
}

/* The default loss: cross-entropy for classes, mean squared error else. */
static const char *loss_spec(eta_run *r)
{
    const char *l = eta_config_get(r->cfg, "model", "loss");
    if (l && *l && strcmp(l, "auto"))
        return l;
    return r->info->class_target ? "CrossEntropyLoss()" : "MSELoss()";
}

static int build_net(eta_run *r, eta_err *err)
{
    const char *spec = eta_config_get(r->cfg, "model", "spec");
    int rc = eta_net_new(&r->net, spec, err);
    if (rc)
        return run_spec_error(r, "model", "spec", rc, err);
    if ((rc = eta_net_prepare(r->net, r->batch, r->info->input_ndim, r->info->input_shape, err)))
        return run_spec_error(r, "model", "spec", rc, err);
    r->prepared = r->batch;
    if (eta_net_input_type(r->net) != (r->info->tokens ? ETA_NN_INT32 : ETA_NN_FLOAT32))
        return run_config_fail(r, "model", "spec", ETA_EINVAL, err,
                               r->info->tokens ? "the data are token ids: the model must start with an Embedding"
                                               : "the data are numbers, not token ids: the model must not start "
                                                 "with an Embedding");
    const char *ls = loss_spec(r);
    if ((rc = eta_net_set_loss(r->net, ls, err)))
        return run_spec_error(r, "model", "loss", rc, err);
    if (r->info->class_target && !r->opts.for_eval) { /* accuracy and the confusion matrix need one output per class */
        int nd;
        int64_t shape[8];
        eta_net_output(r->net, &nd, shape);
        if (nd >= 2 && shape[nd - 1] != r->info->classes)
            return run_config_fail(r, "model", "spec", ETA_EINVAL, err,
                                   "the network gives %lld outputs per example, the data set has %d classes: the "
                                   "last layer should give %d (a CSV's classes= sets the count)",
                                   (long long)shape[nd - 1], r->info->classes, r->info->classes);
    }
    eta_net_init(r->net, r->seed);
    eta_net_set_input_grad(r->net, false);
    const char *init = eta_config_get(r->cfg, "model", "init");
    if (init && *init && !r->opts.for_eval && (rc = eta_net_load_safetensors(r->net, init, err)))
        return run_config_fail(r, "model", "init", rc, err, "%s", err->msg);
    return ETA_OK;
}

/* Adds `text` before the closing parenthesis of a top-level call. */
static char *append_arg(const char *spec, const eta_spec *call, const char *text)
{
    size_t n = strlen(spec), at = (size_t)(call->pos + call->len - 1);
    char *s = malloc(n + strlen(text) + 4);
    if (!s)
        return NULL;
    memcpy(s, spec, at);
    sprintf(s + at, "%s%s%s", call->n ? ", " : "", text, spec + at);
    return s;
}

/* OneCycleLR's lengths from the run (the header comment). */
static char *schedule_text(eta_run *r, const char *spec, eta_err *err)
{
    eta_spec *call;
    if (eta_spec_parse(&call, spec, err))
        return NULL;
    char *out = NULL, arg[64];
    arg[0] = 0;
    if (!r->sched_per_epoch && call->kind == ETA_SPEC_CALL && !strcmp(call->str, "OneCycleLR")) {
        bool total = false, epochs = false, spe = false;
        int positional = 0;
        for (int i = 0; i < call->n; i++) {
            const char *k = call->keys[i];
            positional += !k;
            total |= k && !strcmp(k, "total_steps");
            epochs |= k && !strcmp(k, "epochs");
            spe |= k && !strcmp(k, "steps_per_epoch");
        }
        total |= positional >= 2;
        if (epochs && !spe && !total)
            snprintf(arg, sizeof arg, "steps_per_epoch=%lld", (long long)r->steps_per_epoch);
        else if (!epochs && !total)
            snprintf(arg, sizeof arg, "total_steps=%lld", (long long)r->total_steps);
    }
    out = arg[0] ? append_arg(spec, call, arg) : strdup(spec);
    eta_spec_free(call);
    return out;
}

static int build_optim(eta_run *r, eta_err *err)
{
    if (r->opts.for_eval) /* eval and predict: the network alone */
        return ETA_OK;
    eta_optim_config oc;
    const char *spec = eta_config_get(r->cfg, "optimizer", "spec");
    int rc = eta_optim_config_from_spec(&oc, spec, err);
    if (rc)
        return run_spec_error(r, "optimizer", "spec", rc, err);
    if ((rc = eta_optim_new(&r->opt, &oc, err)))
        return run_spec_error(r, "optimizer", "spec", rc, err);
    char **items = NULL, patterns[1024] = "";
    int nitems = 0;
    if ((rc = eta_config_get_list(r->cfg, "optimizer", "no_decay", &items, &nitems, err)))
        return rc;
    for (int i = 0; i < nitems; i++)
        snprintf(patterns + strlen(patterns), sizeof patterns - strlen(patterns), "%s%s", i ? "," : "", items[i]);
    free(items);
    snprintf(r->no_decay, sizeof r->no_decay, "%s", patterns);
    if ((rc = eta_net_attach(r->net, r->opt, nitems ? patterns : NULL, err)))
        return run_config_fail(r, "optimizer", "no_decay", rc, err, "%s", err->msg);
    const char *ss = eta_config_get(r->cfg, "schedule", "spec");
    if (!ss || !*ss || !strcmp(ss, "None"))
        return ETA_OK;
    char *text = schedule_text(r, ss, err);
    if (!text)
        return run_spec_error(r, "schedule", "spec", err && err->code ? err->code : ETA_ENOMEM, err);
    rc = eta_sched_new(&r->sched, text, err);
    if (rc && strcmp(text, ss)) /* the error is in what the run added: say so plainly */
        snprintf(err->msg + strlen(err->msg), sizeof err->msg - strlen(err->msg),
                 " (with the run's lengths added: %s)", text);
    free(text);
    if (rc)
        return run_spec_error(r, "schedule", "spec", rc, err);
    return ETA_OK;
}

/* The specs' highest rate over the run: each group's schedule at every
 * step the run takes (or its initial lr without a schedule). */
static double spec_peak(eta_run *r)
{
    double top = 0;
    const int64_t len = r->sched_per_epoch ? r->epochs : r->total_steps;
    const int64_t last = r->sched ? eta_sched_last_step(r->sched) : -1;
    for (int g = 0, ng = eta_optim_group_count(r->opt); g < ng; g++) {
        const double base = eta_optim_initial_lr(r->opt, g);
        if (!r->sched) {
            top = fmax(top, base);
            continue;
        }
        for (int64_t t = 0; t < len && !(last >= 0 && t > last); t++) {
            double v = eta_sched_lr_group(r->sched, (double)t, base, g);
            if (isfinite(v))
                top = fmax(top, v);
        }
    }
    return top;
}

/* optimizer.lr (run.h): empty, a positive number, or auto. */
static int read_lr(eta_run *r, eta_err *err)
{
    const char *v = eta_config_get(r->cfg, "optimizer", "lr");
    if (r->opts.for_eval || !v || !*v)
        return ETA_OK;
    eta_spec *s = NULL;
    bool ok = false;
    if (!eta_spec_parse(&s, v, NULL)) {
        if (s->kind == ETA_SPEC_NAME && !strcmp(s->str, "auto"))
            ok = r->lr_pending = true;
        else if (s->kind == ETA_SPEC_NUMBER && s->num > 0 && isfinite(s->num))
            ok = (r->lr_peak = s->num) > 0;
    }
    eta_spec_free(s);
    if (!ok)
        return run_config_fail(r, "optimizer", "lr", ETA_EINVAL, err,
                               "expected auto (the range test picks the rate) or a positive number, got '%s'", v);
    r->lr_top = spec_peak(r);
    if (!(r->lr_top > 0))
        return run_config_fail(r, "optimizer", "lr", ETA_EINVAL, err,
                               "the optimizer and schedule give a rate of 0 throughout: there is no peak for "
                               "optimizer.lr to set");
    return ETA_OK;
}

bool eta_run_lr_pending(const eta_run *r) { return r->lr_pending; }
double eta_run_spec_peak_lr(const eta_run *r) { return r->lr_top; }

int eta_run_set_peak_lr(eta_run *r, double lr, eta_err *err)
{
    if (!(lr > 0) || !isfinite(lr))
        return run_fail(err, ETA_EINVAL, "the peak rate must be a positive number, got %g", lr);
    if (!(r->lr_top > 0))
        r->lr_top = spec_peak(r);
    char set[80], num[40];
    eta_fmt_real(num, sizeof num, lr);
    snprintf(set, sizeof set, "optimizer.lr=%s", num);
    int rc = eta_config_set(r->cfg, set, err);
    if (rc)
        return rc;
    r->lr_peak = lr;
    r->lr_pending = false;
    if (r->opts.no_files || r->opts.for_eval || run_follower(r))
        return ETA_OK;
    char path[1100];
    snprintf(path, sizeof path, "%s/config.ini", r->dir);
    return eta_config_write(r->cfg, path, err);
}

static int read_train(eta_run *r, eta_err *err)
{
    int64_t epochs, steps, seed, accumulate, threads;
    const char *interval = eta_config_get(r->cfg, "schedule", "interval");
    r->sched_per_epoch = interval && !strcmp(interval, "epoch");
    int rc;
    if ((rc = get_int(r, "train", "epochs", &epochs, err)) || (rc = get_int(r, "train", "steps", &steps, err)) ||
        (rc = get_int(r, "train", "seed", &seed, err)) || (rc = get_int(r, "train", "threads", &threads, err)) ||
        (rc = get_int(r, "train", "accumulate", &accumulate, err)) ||
        (rc = get_real(r, "train", "clip_grad_norm", &r->clip_norm, err)) ||
        (rc = get_real(r, "train", "clip_grad_value", &r->clip_value, err)) ||
        (rc = get_int(r, "train", "eval_every", &r->eval_every, err)) ||
        (rc = get_int(r, "train", "log_every", &r->log_every, err)) ||
        (rc = get_bool(r, "train", "early_stopping", &r->early_stopping, err)) ||
        (rc = get_int(r, "train", "patience", &r->patience, err)) ||
        (rc = get_real(r, "train", "min_delta", &r->min_delta, err)) ||
        (rc = get_int(r, "output", "checkpoint_every", &r->ckpt_every, err)))
        return rc;
    r->seed = (uint64_t)seed;
    r->accumulate = (int)accumulate;
    r->epochs = epochs;
    r->total_steps = steps;
#ifdef ETA_HAVE_OPENMP
    if (threads == 0 && r->opts.comm && r->opts.comm->threads > 0)
        threads = r->opts.comm->threads; /* processes on one machine share its cores */
    if (threads > 0)
        omp_set_num_threads((int)threads);
#else
    (void)threads;
#endif
    const char *mon = eta_config_get(r->cfg, "train", "monitor"), *mode = eta_config_get(r->cfg, "train", "mode");
    snprintf(r->monitor, sizeof r->monitor, "%s", mon && *mon ? mon : "val_loss");
    r->monitor_max = mode && !strcmp(mode, "max") ? true
                     : mode && !strcmp(mode, "min") ? false
                                                   : strstr(r->monitor, "acc") != NULL;
    return ETA_OK;
}

/* The run directory: made if missing; a fresh run refuses one that holds a
 * checkpoint (resume it, or name another). */
static int make_dir(eta_run *r, eta_err *err)
{
    if (r->opts.dir)
        snprintf(r->dir, sizeof r->dir, "%s", r->opts.dir);
    else
        snprintf(r->dir, sizeof r->dir, "%s", eta_config_get(r->cfg, "output", "dir"));
    if (r->opts.for_eval || r->opts.no_files || run_follower(r))
        return ETA_OK;
    char path[1100];
    for (char *p = r->dir + 1; *p; p++) /* mkdir -p */
        if (*p == '/') {
            *p = 0;
            mkdir(r->dir, 0777);
            *p = '/';
        }
    if (mkdir(r->dir, 0777) && errno != EEXIST)
        return run_config_fail(r, "output", "dir", ETA_EIO, err, "cannot create the run directory %s: %s",
                               r->dir, strerror(errno));
    snprintf(path, sizeof path, "%s/checkpoint.eta", r->dir);
    struct stat st;
    if (r->opts.resume)
        return ETA_OK;
    if (stat(path, &st) == 0)
        return run_config_fail(r, "output", "dir", ETA_EINVAL, err,
                               "%s already holds a run (checkpoint.eta): resume it with --resume %s, or "
                               "choose another directory with --dir or --set output.dir=...",
                               r->dir, r->dir);
    snprintf(path, sizeof path, "%s/config.ini", r->dir); /* the resolved config: what --resume runs */
    return eta_config_write(r->cfg, path, err);
}

int eta_run_new(eta_run **out, eta_config *cfg, const eta_run_options *opts, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_run *r = calloc(1, sizeof *r);
    if (!r)
        return ETA_ENOMEM;
    r->cfg = cfg;
    r->opts = *opts;
    r->best = NAN;
    r->bn_step = -1;
    int rc;
    if ((rc = read_train(r, err)) || (rc = build_data(r, err)) || (rc = build_net(r, err)))
        goto fail;
    if (!r->opts.for_eval) {
        r->steps_per_epoch = (r->batches + r->accumulate - 1) / r->accumulate;
        r->by_epochs = r->total_steps <= 0;
        if (r->by_epochs)
            r->total_steps = r->epochs * r->steps_per_epoch;
        else
            r->epochs = (r->total_steps + r->steps_per_epoch - 1) / r->steps_per_epoch;
        if (r->total_steps < 1) {
            rc = run_config_fail(r, "train", "epochs", ETA_EINVAL, err, "the run has no step to take");
            goto fail;
        }
        r->stats_every = r->eval_every > 0 ? r->eval_every : r->steps_per_epoch;
        if (r->log_every <= 0)
            r->log_every = 50;
    }
    if ((rc = build_optim(r, err)) || (rc = read_lr(r, err)) || (rc = run_lr_scaling_new(r, err)) ||
        (rc = make_dir(r, err)))
        goto fail;
    if (!r->opts.for_eval) {
        size_t np;
        eta_net_params(r->net, &np);
        r->prev = malloc(np * sizeof *r->prev);
        r->gacc = r->accumulate > 1 ? malloc(np * sizeof *r->gacc) : NULL;
        if (!r->prev || (r->accumulate > 1 && !r->gacc)) {
            rc = ETA_ENOMEM;
            goto fail;
        }
        int64_t shards;
        if ((rc = get_int(r, "dist", "shards", &shards, err)) || (rc = run_shard_new(r, shards, err)) ||
            (rc = run_zero_new(r, err)))
            goto fail;
        r->layer_stats = calloc((size_t)eta_net_param_count(r->net), sizeof *r->layer_stats);
        if (!r->layer_stats) {
            rc = ETA_ENOMEM;
            goto fail;
        }
        eta_optim_hparams hp;
        eta_optim_get_hparams(r->opt, 0, &hp);
        r->has_momentum = hp.momentum > 0 || hp.beta1 > 0;
        if ((rc = run_guard_new(r, err)) || (rc = run_average_new(r, err)))
            goto fail;
    }
    *out = r;
    return ETA_OK;
fail:
    eta_run_free(r);
    return rc;
}

void eta_run_free(eta_run *r)
{
    if (!r)
        return;
    run_monitor_free(r);
    eta_loader_free(r->loader);
    eta_sched_free(r->sched);
    eta_average_free(r->avg);
    eta_optim_free(r->opt);
    eta_net_free(r->net);
    eta_data_free(r->ds);
    run_shard_free(r);
    run_zero_free(r);
    free(r->gacc);
    free(r->prev);
    free(r->layer_stats);
    free(r);
}

const char *eta_run_dir(const eta_run *r) { return r->dir; }
const eta_dataset *eta_run_dataset(const eta_run *r) { return r->ds; }
const char *eta_run_class_name(eta_run *r, int k)
{
    const char *name = eta_data_class_name(r->ds, k);
    if (name)
        return name;
    snprintf(r->class_name, sizeof r->class_name, "%d", k); /* digits' CSV names no class */
    return r->class_name;
}
const eta_data_info *eta_run_data_info(const eta_run *r) { return r->info; }
eta_net *eta_run_net(eta_run *r) { return r->net; }
int64_t eta_run_step_count(const eta_run *r) { return r->step; }
int64_t eta_run_total_steps(const eta_run *r) { return r->total_steps; }
