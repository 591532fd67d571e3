/* tune/lrfind.c - the learning-rate range test on a training run: its
 * settings, the sweep of rates, the smoothing and stop rule, the snapshot
 * before and the restore after (lrfind.h gives the formulas and where they
 * come from). The suggestion rules live in lrsuggest.c, the CSV and the
 * plot in lrfind_out.c, optimizer.lr = auto in lrauto.c.
 */
#include "tune/lrfind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Messages name what is wrong; eta_spec_fail sets err without a location. */
#define fail(err, code, ...) eta_spec_fail(err, code, NULL, __VA_ARGS__)

eta_lrfind_config eta_lrfind_defaults(void)
{
    return (eta_lrfind_config){.start = 1e-7, .end = 10, .steps = 100, .mode = ETA_LRFIND_EXP, .beta = 0.98,
                               .stop_factor = 4};
}

int eta_lrfind_config_check(const eta_lrfind_config *c, eta_err *err)
{
    if (!(c->start > 0) || !isfinite(c->start))
        return fail(err, ETA_EINVAL, "lr_find: start must be a positive number, got %g", c->start);
    if (!(c->end > c->start) || !isfinite(c->end))
        return fail(err, ETA_EINVAL, "lr_find: end must be a finite number above start (%g), got %g", c->start,
                    c->end);
    if (c->steps < 2 || c->steps > 100000) /* valley is quadratic in the points */
        return fail(err, ETA_EINVAL, "lr_find: steps must be in [2, 100000], got %lld", (long long)c->steps);
    if ((unsigned)c->mode >= ETA_LRFIND_MODE_COUNT)
        return fail(err, ETA_EINVAL, "lr_find: unknown mode %d", (int)c->mode);
    if (!(c->beta >= 0 && c->beta < 1))
        return fail(err, ETA_EINVAL, "lr_find: beta must be in [0, 1), got %g", c->beta);
    if (!(c->stop_factor == 0 || c->stop_factor > 1) || !isfinite(c->stop_factor))
        return fail(err, ETA_EINVAL, "lr_find: stop_factor must be above 1, or 0 (never stop), got %g",
                    c->stop_factor);
    return ETA_OK;
}

double eta_lrfind_lr_at(const eta_lrfind_config *c, int64_t i)
{
    const double p = (double)i / (double)c->steps;
    if (c->mode == ETA_LRFIND_LINEAR)
        return c->start + p * (c->end - c->start);
    return c->start * pow(c->end / c->start, p);
}

void eta_lrfind_smoother_init(eta_lrfind_smoother *s, double beta, double stop_factor)
{
    *s = (eta_lrfind_smoother){.beta = beta, .stop_factor = stop_factor, .avg = 0, .best = INFINITY, .n = 0};
}

bool eta_lrfind_smoother_add(eta_lrfind_smoother *s, double loss, double *smooth)
{
    s->avg = s->beta * s->avg + (1 - s->beta) * loss;
    s->n++;
    *smooth = s->avg / (1 - pow(s->beta, (double)s->n));
    if (!isfinite(*smooth))
        return true;
    if (*smooth < s->best)
        s->best = *smooth;
    return s->stop_factor > 0 && *smooth > s->stop_factor * s->best;
}

void eta_lrfind_result_free(eta_lrfind_result *res)
{
    if (!res)
        return;
    free(res->lr);
    free(res->loss);
    free(res->smooth);
    memset(res, 0, sizeof *res);
}

int eta_lrfind_run(eta_run *r, const eta_lrfind_config *c, eta_lrfind_result *out, eta_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = eta_lrfind_config_check(c, err);
    if (rc)
        return rc;
    out->steps = c->steps;
    out->lr = malloc((size_t)c->steps * sizeof *out->lr);
    out->loss = malloc((size_t)c->steps * sizeof *out->loss);
    out->smooth = malloc((size_t)c->steps * sizeof *out->smooth);
    void *snap = NULL;
    size_t snap_len = 0;
    if (!out->lr || !out->loss || !out->smooth || (rc = eta_run_snapshot(r, &snap, &snap_len))) {
        eta_lrfind_result_free(out);
        return fail(err, rc ? rc : ETA_ENOMEM, "lr_find: out of memory");
    }
    eta_lrfind_smoother sm;
    eta_lrfind_smoother_init(&sm, c->beta, c->stop_factor);
    for (int64_t i = 0; i < c->steps; i++) {
        double lr = eta_lrfind_lr_at(c, i), loss;
        if ((rc = eta_run_probe(r, lr, &loss, err)))
            break;
        out->lr[i] = lr;
        out->loss[i] = loss;
        out->n = i + 1;
        if (eta_lrfind_smoother_add(&sm, loss, &out->smooth[i])) {
            out->stopped = i + 1 < c->steps;
            break;
        }
    }
    eta_err rerr;
    int rrc = eta_run_restore(r, snap, snap_len, &rerr);
    free(snap);
    if (rrc && !rc) {
        if (err)
            *err = rerr;
        rc = rrc;
    }
    return rc;
}

int eta_lrfind_config_read(const eta_config *cfg, eta_lrfind_config *c, eta_lr_rule *rule, eta_err *err)
{
    *c = eta_lrfind_defaults();
    int mode = 0, rl = 0, rc;
    if ((rc = eta_config_get_real(cfg, "lr_find", "start", &c->start, err)) ||
        (rc = eta_config_get_real(cfg, "lr_find", "end", &c->end, err)) ||
        (rc = eta_config_get_int(cfg, "lr_find", "steps", &c->steps, err)) ||
        (rc = eta_config_get_enum(cfg, "lr_find", "mode", &mode, err)) ||
        (rc = eta_config_get_real(cfg, "lr_find", "beta", &c->beta, err)) ||
        (rc = eta_config_get_real(cfg, "lr_find", "stop_factor", &c->stop_factor, err)) ||
        (rc = eta_config_get_enum(cfg, "lr_find", "rule", &rl, err)))
        return rc;
    c->mode = (eta_lrfind_mode)mode; /* the schema lists exp|linear in the enum's order */
    if (rule)
        *rule = (eta_lr_rule)rl;     /* and the rules in eta_lr_rule's order */
    return eta_lrfind_config_check(c, err);
}
