/* train/lr_scaling.c - [train] lr_scaling: the rate when the global batch
 * differs from the batch the config's rates were tuned for.
 *
 * The global batch of one optimizer step is data.batch_size x
 * train.accumulate (under data-parallel runs batch_size is already the
 * global batch); k = global / reference_batch. The rules:
 *   linear: every rate times k (Goyal et al. 2017, "Accurate, Large
 *           Minibatch SGD: Training ImageNet in 1 Hour", section 2.1);
 *   sqrt:   every rate times sqrt(k) (Krizhevsky 2014, "One weird trick";
 *           Hoffer et al. 2017; for Adam, Malladi et al. 2022, "On the SDEs
 *           and Scaling Rules for Adaptive Gradient Algorithms");
 *   none:   the rates as written.
 * Gradual warm-up (Goyal et al. section 2.2): when the factor K (k or
 * sqrt(k)) is above 1, the rate starts at the reference rate and rises by a
 * constant amount every step until it reaches K times it after
 * lr_scaling_warmup epochs (W steps): at step t (0 the first) the factor is
 * 1 + (K - 1) t / W, then K. A factor below 1 (a smaller batch) applies from
 * the first step. The factor multiplies whatever the schedule, optimizer.lr
 * and the guard give (run.c's set_lr), and is a pure function of the step,
 * so a resumed run goes on with its warm-up where it was.
 *
 * What does not live here: where the factor is applied (run.c), the keys'
 * table (config_schema.c), the page that explains the rules
 * (docs/distributed.md).
 */
#include "train/run_impl.h"

#include <math.h>
#include <string.h>

/* The rule's name, the global batch and the reference one, from the config. */
static const char *rule_of(const eta_run *r, int64_t *global, int64_t *ref)
{
    const char *rule = eta_config_get(r->cfg, "train", "lr_scaling");
    if (eta_config_get_int(r->cfg, "train", "reference_batch", ref, NULL))
        *ref = 0;
    *global = r->batch * r->accumulate;
    return rule && *rule ? rule : "none";
}

int run_lr_scaling_new(eta_run *r, eta_err *err)
{
    r->lr_k = 1.0;
    r->lr_k_warmup = 0;
    if (r->opts.for_eval)
        return ETA_OK;
    int64_t global, ref;
    double epochs;
    int rc;
    if ((rc = eta_config_get_int(r->cfg, "train", "reference_batch", &ref, err)) ||
        (rc = eta_config_get_real(r->cfg, "train", "lr_scaling_warmup", &epochs, err)))
        return rc;
    const char *rule = rule_of(r, &global, &ref);
    if (!strcmp(rule, "none"))
        return ETA_OK;
    if (ref < 1)
        return run_config_fail(r, "train", "lr_scaling", ETA_EINVAL, err,
                               "%s scaling needs train.reference_batch, the global batch the rates were tuned "
                               "for (this run's is %lld: data.batch_size %lld x train.accumulate %d)",
                               rule, (long long)global, (long long)r->batch, r->accumulate);
    if (r->lr_pending)
        return run_config_fail(r, "train", "lr_scaling", ETA_EINVAL, err,
                               "optimizer.lr = auto finds the rate at this run's own batch: there is no "
                               "reference rate to scale (set lr_scaling = none, or give the rate)");
    const double k = (double)global / (double)ref;
    r->lr_k = !strcmp(rule, "sqrt") ? sqrt(k) : k;
    if (r->lr_k > 1.0 && epochs > 0) {
        int64_t w = (int64_t)llround(epochs * (double)r->steps_per_epoch);
        r->lr_k_warmup = w < 1 ? 1 : w;
    }
    return ETA_OK;
}

double run_lr_scaling_factor(const eta_run *r, int64_t step)
{
    if (r->lr_k == 1.0)
        return 1.0;
    if (step >= r->lr_k_warmup)
        return r->lr_k;
    return 1.0 + (r->lr_k - 1.0) * (double)step / (double)r->lr_k_warmup;
}

void run_lr_scaling_log(eta_run *r)
{
    int64_t global, ref;
    const char *rule = rule_of(r, &global, &ref);
    if (!strcmp(rule, "none") || !r->metrics)
        return;
    char text[600], k[40], f[40], w[40];
    eta_fmt_real(k, sizeof k, (double)global / (double)ref);
    eta_fmt_real(f, sizeof f, r->lr_k);
    int n = snprintf(text, sizeof text,
                     "lr_scaling %s: global batch %lld (data.batch_size %lld x train.accumulate %d), "
                     "train.reference_batch %lld, k = %s: ",
                     rule, (long long)global, (long long)r->batch, r->accumulate, (long long)ref, k);
    if (n < 0 || (size_t)n >= sizeof text)
        return;
    if (r->lr_k == 1.0) {
        snprintf(text + n, sizeof text - (size_t)n, "factor 1, the rates as written");
    } else if (r->lr_k_warmup > 0) {
        double e;
        if (eta_config_get_real(r->cfg, "train", "lr_scaling_warmup", &e, NULL))
            e = NAN;
        eta_fmt_real(w, sizeof w, e);
        snprintf(text + n, sizeof text - (size_t)n,
                 "every rate x %s, reached by a linear warm-up from x 1 over %lld steps (%s epochs)", f,
                 (long long)r->lr_k_warmup, w);
    } else {
        snprintf(text + n, sizeof text - (size_t)n, "every rate x %s from the first step%s", f,
                 r->lr_k < 1.0 ? " (no warm-up when the batch is smaller than the reference)"
                               : " (train.lr_scaling_warmup = 0)");
    }
    eta_err err;
    eta_metrics_message(r->metrics, 0, "info", text, &err);
    if (r->lr_k_warmup > r->total_steps) { /* a short run never reaches the factor: say so */
        eta_fmt_real(w, sizeof w, run_lr_scaling_factor(r, r->total_steps - 1));
        snprintf(text, sizeof text,
                 "lr_scaling: the warm-up (%lld steps) is longer than the run (%lld steps): its last step takes "
                 "x %s of the rates, not x %s; train.lr_scaling_warmup sets the warm-up's length in epochs",
                 (long long)r->lr_k_warmup, (long long)r->total_steps, w, f);
        eta_metrics_message(r->metrics, 0, "warning", text, &err);
    }
}
