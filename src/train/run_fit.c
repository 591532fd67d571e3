/* train/run_fit.c - the loop over epochs and what surrounds a step: the
 * guard's verdict, the metrics and progress, per-layer figures,
 * evaluation with ReduceLROnPlateau and early stopping, checkpoints, and
 * the end of a run (the weight average if any, test evaluation,
 * model.safetensors, plots).
 *
 * Order of one step (run.c does the arithmetic): lr set for the step,
 * forward/backward, gradient norm, eta_guard_check (OK: clip, update;
 * SKIP: nothing; ROLLBACK: the guard restored the snapshot; STOP: the
 * report), the guard event and the step's numbers to the sink. After a
 * step: an evaluation when one is due, a checkpoint when one is due.
 */
#include "train/run_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train/runplot.h"

/* ---- the monitor: guard, sink, progress -------------------------------- */

static int guard_save(void *ctx, void **buf, size_t *len)
{
    free(*buf);
    *buf = NULL;
    return run_state_save(ctx, buf, len);
}

static int guard_restore(void *ctx, const void *buf, size_t len)
{
    eta_err err;
    return run_state_restore(ctx, buf, len, &err);
}

/* Messages (evaluations, guard decisions, warnings): through the progress
 * display, or straight to stderr when it is off (--progress off still shows
 * them; --quiet does not). */
static void log_line(void *ud, const char *line)
{
    eta_run *r = ud;
    if (r->progress && r->progress_on)
        eta_progress_message(r->progress, line);
    else if (!r->opts.quiet)
        fprintf(stderr, "%s\n", line);
}

int run_guard_new(eta_run *r, eta_err *err)
{
    eta_guard_config gc = eta_guard_defaults();
    int64_t tries, window, warmup;
    const char *action = eta_config_get(r->cfg, "guard", "action");
    int rc;
    if ((rc = eta_config_get_bool(r->cfg, "guard", "enabled", &gc.enabled, err)) ||
        (rc = eta_config_get_real(r->cfg, "guard", "lr_factor", &gc.lr_factor, err)) ||
        (rc = eta_config_get_int(r->cfg, "guard", "max_tries", &tries, err)) ||
        (rc = eta_config_get_real(r->cfg, "guard", "loss_factor", &gc.loss_factor, err)) ||
        (rc = eta_config_get_int(r->cfg, "guard", "window", &window, err)) ||
        (rc = eta_config_get_real(r->cfg, "guard", "z_threshold", &gc.z_threshold, err)) ||
        (rc = eta_config_get_int(r->cfg, "guard", "warmup", &warmup, err)) ||
        (rc = eta_config_get_int(r->cfg, "guard", "snapshot_every", &gc.snapshot_every, err)))
        return rc;
    if (action && *action && (rc = eta_guard_action_parse(action, &gc.action, err)))
        return run_config_fail(r, "guard", "action", rc, err, "%s", err->msg);
    gc.max_tries = (int)tries;
    gc.window = (int)window;
    gc.warmup = (int)warmup;
    eta_guard_callbacks cb = {guard_save, guard_restore, r};
    if ((rc = eta_guard_new(&r->guard, &gc, &cb, err)))
        return run_config_fail(r, "guard", "enabled", rc, err, "%s", err->msg);
    return ETA_OK;
}

/* The progress display and the sink (the sink reopens its files on resume). */
static int monitor_open(eta_run *r, eta_err *err)
{
    eta_progress_config pc = eta_progress_defaults();
    int m = ETA_PROGRESS_AUTO; /* the config's enum lists the modes in eta_progress_mode's order */
    int rc = r->opts.progress >= 0 ? (m = r->opts.progress, 0) : eta_config_get_enum(r->cfg, "output", "progress", &m, err);
    if (rc)
        return rc;
    pc.mode = (eta_progress_mode)m;
    if (r->opts.quiet)
        pc.mode = ETA_PROGRESS_OFF;
    pc.log_every = r->log_every;
    pc.epochs = r->epochs;
    pc.steps_per_epoch = r->steps_per_epoch;
    pc.total_steps = r->total_steps;
    if ((rc = eta_progress_new(&r->progress, &pc, err)))
        return rc;
    eta_metrics_config mc = eta_metrics_defaults();
    mc.dir = run_follower(r) ? NULL : r->dir;
    mc.ngroups = eta_optim_group_count(r->opt);
    mc.momentum = r->has_momentum;
    mc.accuracy = r->info->class_target;
    mc.progress = r->progress;
    r->progress_on = pc.mode != ETA_PROGRESS_OFF;
    mc.log = r->progress_on ? NULL : log_line; /* else the sink shows its messages through the progress */
    mc.log_ud = r;
    mc.resume = run_follower(r) ? NULL : r->metrics_resume;
    mc.resume_len = run_follower(r) ? 0 : r->metrics_resume_len;
    return eta_metrics_open(&r->metrics, &mc, err);
}

void run_monitor_free(eta_run *r)
{
    if (r->metrics) {
        eta_err err;
        eta_metrics_close(r->metrics, &err);
        r->metrics = NULL;
    }
    eta_progress_free(r->progress);
    r->progress = NULL;
    eta_guard_free(r->guard);
    r->guard = NULL;
    free(r->metrics_resume);
    r->metrics_resume = NULL;
}

/* ---- around a step ---------------------------------------------------- */

eta_guard_action run_guard_check(eta_run *r, double loss, double gnorm, eta_err *err)
{
    eta_guard_event ev;
    double lr = eta_optim_lr(r->opt, 0);
    int rc = eta_guard_check(r->guard, r->step, loss, gnorm, lr, &ev, err);
    if (rc) {
        ev.action = ETA_GUARD_STOP;
        return ETA_GUARD_STOP;
    }
    if (r->metrics && (rc = eta_metrics_guard(r->metrics, &ev, err)))
        return ETA_GUARD_STOP;
    if (ev.action == ETA_GUARD_STOP) {
        char text[1024];
        eta_guard_describe(&ev, text, sizeof text);
        if (r->opts.msg && r->opts.msg_size) /* the report in full: err's message may cut it */
            snprintf(r->opts.msg, r->opts.msg_size, "%s", text);
        run_fail(err, ETA_ESTATE, "%s", text);
        r->stopped = true;
    }
    return ev.action;
}

void run_metrics_step(eta_run *r, double loss, double gnorm, int64_t seen)
{
    int ng = eta_optim_group_count(r->opt);
    double lr[64], mom[64];
    for (int i = 0; i < ng && i < 64; i++) {
        /* Prodigy and D-Adaptation step by d * lr (their "dlr"), not by the lr given (1.0): the
         * rate they chose is the one to log and plot; a group at lr 0 stays frozen at 0. */
        double dlr;
        lr[i] = eta_optim_lr(r->opt, i);
        if (lr[i] != 0 && eta_optim_scalar(r->opt, i, "dlr", &dlr) == ETA_OK)
            lr[i] = dlr;
        mom[i] = eta_optim_momentum(r->opt, i);
    }
    eta_train_step s = {.step = r->step,
                        .epoch = r->epoch,
                        .epoch_step = (r->batch_in_epoch + r->accumulate - 1) / r->accumulate,
                        .lr = lr,
                        .momentum = r->has_momentum ? mom : NULL,
                        .loss = loss,
                        .grad_norm = gnorm,
                        .samples = seen,
                        .time = run_now() - r->t_start};
    eta_err err;
    if (eta_metrics_step(r->metrics, &s, &err) && !r->warned_io) {
        log_line(r, err.msg);
        r->warned_io = true;
    }
}

void run_layer_stats_before(eta_run *r)
{
    size_t np;
    const float *p = eta_net_params(r->net, &np);
    memcpy(r->prev, p, np * sizeof *p);
}

void run_layer_stats_after(eta_run *r)
{
    size_t np;
    const float *p = eta_net_params(r->net, &np), *g = eta_net_grads(r->net, &np);
    int n = eta_net_param_count(r->net), k = 0;
    eta_layer_stats *st = r->layer_stats;
    for (int i = 0; i < n; i++) {
        if (eta_net_param_is_buffer(r->net, i))
            continue;
        const char *name;
        size_t off;
        int64_t cnt = (int64_t)run_param_size(r, i, &name, &off);
        eta_layer_stats_compute(&st[k++], name, r->prev + off, p + off, g + off, cnt);
    }
    eta_err err;
    eta_metrics_layers(r->metrics, r->step, st, k, &err);
}

/* ---- evaluation, plateau, early stopping -------------------------------- */

/* The caller's report hook (eta_run_options.report): 1 when it stops the run. */
static int report(eta_run *r, int64_t epoch, double vl, double va, eta_err *err)
{
    if (!r->opts.report)
        return 0;
    eta_run_report rep = {.step = r->step, .epoch = epoch, .val_loss = vl, .val_acc = va};
    int rc = r->opts.report(r->opts.report_ud, &rep, err);
    if (rc < 0)
        return rc;
    if (rc > 0)
        eta_metrics_message(r->metrics, r->step, "info", "stopped after this evaluation by the caller's report hook",
                            err);
    return rc > 0;
}

/* Returns 1 when early stopping or the report hook ends the run. */
static int evaluate(eta_run *r, eta_err *err)
{
    double vl, va;
    int rc = eta_run_evaluate(r, ETA_SPLIT_VAL, &vl, &va, NULL, err);
    if (rc)
        return rc;
    if (isnan(vl))
        return 0; /* no validation split */
    /* at an epoch's end the counter has moved on: the evaluation belongs to the epoch just done */
    int64_t epoch = r->batch_in_epoch == 0 && r->epoch > 0 ? r->epoch - 1 : r->epoch;
    if ((rc = eta_metrics_eval(r->metrics, r->step, epoch, vl, va, err)))
        return rc;
    double v = strstr(r->monitor, "acc") ? va : vl;
    if (r->sched && eta_sched_needs_metric(r->sched)) {
        int64_t t = r->sched_per_epoch ? r->epoch : r->step;
        if ((rc = eta_sched_observe_optim(r->sched, r->opt, t - 1 < 0 ? 0 : t - 1, v, err)))
            return rc;
    }
    bool better = isnan(r->best) || (r->monitor_max ? v > r->best + r->min_delta : v < r->best - r->min_delta);
    if (better) {
        r->best = v;
        r->bad_evals = 0;
    } else {
        r->bad_evals++;
    }
    if (r->early_stopping && r->bad_evals > r->patience) {
        char text[200];
        snprintf(text, sizeof text, "early stopping: %s has not improved on %.6g for %lld evaluations",
                 r->monitor, r->best, (long long)r->bad_evals);
        eta_metrics_message(r->metrics, r->step, "info", text, err);
        return 1;
    }
    return report(r, epoch, vl, va, err);
}

/* checkpoint.eta is the newest; with output.keep_checkpoints = K > 1 the
 * K - 1 before it stay beside it as checkpoint-STEP.eta (hard links to the
 * files once written; resume one by copying it to checkpoint.eta). */
static int checkpoint(eta_run *r, eta_err *err)
{
    char path[1100], old[1100];
    if (run_follower(r))
        return run_zero_follow(r, err); /* rank 0 writes the checkpoint */
    snprintf(path, sizeof path, "%s/checkpoint.eta", r->dir);
    int rc = eta_run_save(r, path, err);
    int64_t keep = 1;
    if (rc || eta_config_get_int(r->cfg, "output", "keep_checkpoints", &keep, NULL) || keep <= 1 ||
        (r->kept_count > 0 && r->kept[r->kept_count - 1] == r->step)) /* the same step again (the end) */
        return rc;
    snprintf(old, sizeof old, "%s/checkpoint-%lld.eta", r->dir, (long long)r->step);
    unlink(old);
    if (link(path, old) == 0) {
        int n = r->kept_count < RUN_MAX_KEPT ? r->kept_count : RUN_MAX_KEPT;
        if (n == RUN_MAX_KEPT || n >= keep - 1) { /* the oldest goes */
            snprintf(old, sizeof old, "%s/checkpoint-%lld.eta", r->dir, (long long)r->kept[0]);
            unlink(old);
            memmove(r->kept, r->kept + 1, (size_t)(n - 1) * sizeof *r->kept);
            n--;
        }
        r->kept[n] = r->step;
        r->kept_count = n + 1;
    }
    return ETA_OK;
}

/* The end of an epoch: the loader's end marker, the counters, the per-epoch
 * schedule. Evaluation and checkpoint follow in the loop. */
static int epoch_end(eta_run *r, eta_err *err)
{
    int rc = run_epoch_turn(r, err);
    if (rc)
        return rc;
    eta_metrics_epoch_end(r->metrics);
    run_average_epoch_end(r);
    return ETA_OK;
}

/* ---- the end ------------------------------------------------------------ */

static int finish(eta_run *r, eta_err *err)
{
    double tl, ta;
    bool switched; /* the run is over: the model stays at the evaluation point, which is what it saves */
    int rc = run_eval_point(r, &switched, err);
    if (!rc)
        rc = run_average_apply(r, err);
    if (!rc)
        rc = eta_run_evaluate(r, ETA_SPLIT_TEST, &tl, &ta, NULL, err);
    if (rc)
        return rc;
    if (!isnan(tl) && (rc = eta_metrics_test(r->metrics, r->step, tl, ta, err)))
        return rc;
    r->test_loss = tl;
    r->test_acc = ta;
    if (run_follower(r))
        return ETA_OK;
    char path[1100];
    snprintf(path, sizeof path, "%s/model.safetensors", r->dir);
    if ((rc = eta_net_save_safetensors(r->net, path, err)))
        return rc;
    if ((rc = eta_metrics_flush(r->metrics, err)))
        return rc;
    bool plots = true;
    eta_config_get_bool(r->cfg, "output", "plots", &plots, NULL);
    if (plots && (rc = eta_runplot_run(r->dir, r->dir, err)))
        return rc;
    return ETA_OK;
}

/* After a guard stop: the model as it stands (no step with a non-finite
 * loss or gradient ever reached it), the metrics and the plots; failures
 * here leave the guard's report as the run's error. */
static void stopped_outputs(eta_run *r)
{
    eta_err e;
    char path[1100];
    bool switched;
    run_eval_point(r, &switched, &e);
    if (run_follower(r))
        return;
    snprintf(path, sizeof path, "%s/model.safetensors", r->dir);
    eta_net_save_safetensors(r->net, path, &e);
    eta_metrics_flush(r->metrics, &e);
    eta_runplot_run(r->dir, r->dir, &e);
}

/* Whether the training is over: a run given in steps ends at its last step;
 * one given in epochs with its last epoch's last batch, so that skipped and
 * rolled-back steps do not carry it into an epoch it was not asked for. */
static bool run_over(const eta_run *r)
{
    if (!r->by_epochs)
        return r->step >= r->total_steps;
    return r->epoch >= r->epochs || (r->epoch == r->epochs - 1 && r->batch_in_epoch >= r->batches);
}

void eta_run_test_result(const eta_run *r, double *loss, double *accuracy)
{
    *loss = r->test_loss;
    *accuracy = r->test_acc;
}

double eta_run_fit_seconds(const eta_run *r)
{
    return r->t_epochs;
}

int eta_run_fit(eta_run *r, eta_err *err)
{
    eta_err_clear(err);
    if (r->lr_pending)
        return run_fail(err, ETA_EINVAL, "optimizer.lr = auto: the range test has not chosen the rate yet "
                                         "(eta_run_set_peak_lr)");
    r->t_start = run_now();
    r->test_loss = r->test_acc = NAN;
    int rc = monitor_open(r, err);
    if (rc)
        return rc;
    if (r->step == 0 && !r->finished) {
        char text[1400];
        snprintf(text, sizeof text, "%s: %lld training examples, %lld steps per epoch, %lld steps; run directory %s",
                 r->info->name, (long long)r->info->size[ETA_SPLIT_TRAIN], (long long)r->steps_per_epoch,
                 (long long)r->total_steps, r->dir);
        eta_metrics_message(r->metrics, 0, "info", text, err);
        if (r->zero_msg[0])
            eta_metrics_message(r->metrics, 0, "info", r->zero_msg, err);
        run_lr_scaling_log(r);
    }
    bool stop = r->finished;
    while (!stop && !run_over(r)) {
        if (r->batch_in_epoch >= r->batches) {
            if ((rc = epoch_end(r, err)))
                return rc;
            if (r->eval_every == 0 && (rc = evaluate(r, err)) != 0) {
                if (rc < 0)
                    return rc;
                stop = true;
            }
            if (r->ckpt_every == 0 && (rc = checkpoint(r, err)))
                return rc;
            continue;
        }
        if ((rc = run_step(r, err)) < 0) {
            if (r->stopped) /* the guard's report: keep what the run has (the weights are the last good ones) */
                stopped_outputs(r);
            return rc;
        }
        if (rc > 0) /* skipped or rolled back: the step of the last evaluation and checkpoint, not a new one */
            continue;
        run_average_after_step(r);
        if (r->eval_every > 0 && r->step % r->eval_every == 0 && (rc = evaluate(r, err)) != 0) {
            if (rc < 0)
                return rc;
            stop = true;
        }
        if (r->ckpt_every > 0 && r->step % r->ckpt_every == 0 && (rc = checkpoint(r, err)))
            return rc;
    }
    if (!stop && r->batch_in_epoch >= r->batches) { /* the last epoch's end */
        if ((rc = epoch_end(r, err)))
            return rc;
        if (r->eval_every == 0 && (rc = evaluate(r, err)) < 0)
            return rc;
    }
    /* the run ends between evaluations (eval_every does not divide it, or train.steps ends inside an
     * epoch): its end is evaluated too, so the last val_loss is the trained model's */
    if (!stop && r->step > 0 && (r->eval_every > 0 ? r->step % r->eval_every != 0 : r->batch_in_epoch > 0) &&
        (rc = evaluate(r, err)) < 0)
        return rc;
    r->t_epochs = run_now() - r->t_start;
    r->finished = true;
    if ((rc = checkpoint(r, err)) || (rc = finish(r, err)))
        return rc;
    return ETA_OK;
}
