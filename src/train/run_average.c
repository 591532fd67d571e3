/* train/run_average.c - [train] average: the run keeps a weight average
 * (eta_average, torch.optim.swa_utils.AveragedModel's SWA or EMA) of its
 * network, and ends with it.
 *
 * When: after optimizer step s once s > avg_start = floor(start x the run's
 * steps), every `every` steps counted from there (SWA's default every=0:
 * at each epoch's end instead, as PyTorch's SWA recipe updates once per
 * epoch). Skipped or rolled-back steps take no update; the average is part
 * of the run's state (run_ckpt.c), so a rollback restores it and a resumed
 * run continues it bit for bit.
 *
 * The end (run_average_apply, before the test evaluation and
 * model.safetensors): the network takes the averaged weights, and its
 * BatchNorm statistics are recomputed as update_bn does (a train-mode pass
 * over the training split with momentum=None, eta_net_bn_cumulative) unless
 * use_buffers averaged them already; the validation split is evaluated on
 * the average and the result logged. Evaluations during training see the
 * weights being trained. Without any update yet (a run stopped before
 * `start`), the weights stay as trained and the log says so.
 */
#include "train/run_impl.h"

#include <math.h>
#include <string.h>

int run_average_new(eta_run *r, eta_err *err)
{
    const char *spec = eta_config_get(r->cfg, "train", "average");
    if (!spec || !*spec || !strcmp(spec, "None"))
        return ETA_OK;
    eta_average_config ac;
    int rc = eta_average_config_from_spec(&ac, spec, err);
    if (rc)
        return run_spec_error(r, "train", "average", rc, err);
    ac.dtype = ETA_F32;
    if ((rc = eta_average_new(&r->avg, &ac, err)))
        return run_config_fail(r, "train", "average", rc, err, "%s", err->msg);
    float *p = eta_net_params(r->net, NULL);
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        const char *name;
        size_t off, n = run_param_size(r, i, &name, &off);
        if ((rc = eta_average_add(r->avg, p + off, n, eta_net_param_is_buffer(r->net, i))) < 0)
            return run_fail(err, rc, "train.average: %s", eta_average_error(r->avg));
    }
    r->avg_start = (int64_t)floor(ac.start * (double)r->total_steps);
    r->avg_every = ac.every;
    r->avg_buffers = ac.use_buffers;
    return ETA_OK;
}

static void update(eta_run *r)
{
    /* cannot fail: arrays were added when the run was built */
    eta_average_update(r->avg);
}

void run_average_after_step(eta_run *r)
{
    if (r->avg && r->avg_every > 0 && r->step > r->avg_start && (r->step - r->avg_start) % r->avg_every == 0)
        update(r);
}

void run_average_epoch_end(eta_run *r)
{
    if (r->avg && r->avg_every == 0 && r->step > r->avg_start)
        update(r);
}

static int bn_batch(eta_run *r, const void *x, const void *y, int64_t n, void *ctx, eta_err *err)
{
    (void)y, (void)n, (void)ctx;
    int rc = eta_net_forward(r->net, x, NULL, NULL);
    return rc ? run_fail(err, rc, "recomputing BatchNorm statistics: %s", eta_net_error(r->net)) : ETA_OK;
}

/* torch.optim.swa_utils.update_bn: the running statistics reset, then one
 * train-mode pass over the training split in order, each batch weighing
 * the same (BatchNorm with momentum=None). */
static int update_bn(eta_run *r, eta_err *err)
{
    eta_net_bn_cumulative(r->net, true);
    int rc = run_each_batch(r, ETA_SPLIT_TRAIN, r->batch, true, bn_batch, NULL, err);
    eta_net_bn_cumulative(r->net, false);
    if (rc < 0 && err && !err->code)
        run_fail(err, rc, "recomputing BatchNorm statistics: %s", eta_strerror(rc));
    return rc < 0 ? rc : ETA_OK;
}

int run_average_apply(eta_run *r, eta_err *err)
{
    if (!r->avg)
        return ETA_OK;
    const char *spec = eta_config_get(r->cfg, "train", "average");
    char text[600];
    int64_t count = eta_average_count(r->avg);
    if (count == 0) {
        snprintf(text, sizeof text, "average %s: no update was taken (the first follows step %lld%s): "
                 "model.safetensors holds the trained weights", spec, (long long)r->avg_start,
                 r->avg_every ? "" : " at an epoch's end");
        return eta_metrics_message(r->metrics, r->step, "info", text, err);
    }
    int rc = eta_average_swap(r->avg);
    bool bn = eta_net_has_running_stats(r->net) && !r->avg_buffers;
    if (!rc && bn)
        rc = update_bn(r, err);
    double vl = NAN, va = NAN;
    if (!rc)
        rc = eta_run_evaluate(r, ETA_SPLIT_VAL, &vl, &va, NULL, err);
    if (rc)
        return rc;
    int len = snprintf(text, sizeof text, "average %s of %lld updates%s is the model", spec, (long long)count,
                       bn ? " (BatchNorm statistics recomputed over the training split)" : "");
    if (!isnan(vl))
        len += snprintf(text + len, sizeof text - (size_t)len, ": val_loss %.6g", vl);
    if (!isnan(va))
        snprintf(text + len, sizeof text - (size_t)len, ", val_acc %.6g", va);
    return eta_metrics_message(r->metrics, r->step, "info", text, err);
}
