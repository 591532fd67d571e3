/* train/metrics_health.c - layer health at evaluation steps: the
 * update-to-weight ratio ||delta w|| / ||w|| (about 1e-3 when the learning
 * rate suits the layer: Karpathy, "A Recipe for Training Neural Networks"
 * and CS231n's "ratio of weights:updates") and vanishing gradients, each
 * warned about once per layer when it persists (metrics.h has the rules).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/metrics_impl.h"

void eta_layer_stats_compute(eta_layer_stats *st, const char *name, const float *w_before, const float *w_after,
                             const float *grad, int64_t n)
{
    double g2 = 0, d2 = 0, w2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)w_after[i] - (double)w_before[i];
        g2 += (double)grad[i] * grad[i];
        d2 += d * d;
        w2 += (double)w_before[i] * w_before[i];
    }
    st->name = name;
    st->grad_norm = sqrt(g2);
    st->update_ratio = sqrt(d2) / sqrt(w2); /* x/0: inf, 0/0: NaN, as documented */
}

void health_lr(health *h, const double *lr, int ngroups)
{
    double m = 0;
    for (int i = 0; i < ngroups; i++)
        if (lr[i] > m)
            m = lr[i];
    h->lr_now = m;
    if (m > h->lr_max)
        h->lr_max = m;
}

static layer_health *find(health *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->v[i].name, name))
            return &h->v[i];
    if (h->n == h->cap) {
        int cap = h->cap ? 2 * h->cap : 16;
        layer_health *v = realloc(h->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        h->v = v;
        h->cap = cap;
    }
    char *copy = malloc(strlen(name) + 1);
    if (!copy)
        return NULL;
    strcpy(copy, name);
    h->v[h->n] = (layer_health){copy, 0, 0, 0, 0};
    return &h->v[h->n++];
}

/* Counts one more evaluation in a row when `bad`, else restarts; warns the
 * first time the count reaches `need`. */
static bool persists(int32_t *count, bool bad, int need, uint32_t *warned, uint32_t bit)
{
    *count = bad ? *count + 1 : 0;
    if (*count >= need && !(*warned & bit)) {
        *warned |= bit;
        return true;
    }
    return false;
}

int health_observe(health *h, const eta_metrics_config *cfg, int64_t step, const eta_layer_stats *l, int n,
                   health_warn_fn warn, void *ud, eta_err *err)
{
    double total2 = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(l[i].grad_norm))
            total2 += l[i].grad_norm * l[i].grad_norm;
    double total = sqrt(total2);
    bool annealing = h->lr_now < 0.1 * h->lr_max;
    for (int i = 0; i < n; i++) {
        layer_health *lh = find(h, l[i].name ? l[i].name : "?");
        if (!lh)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
        double r = l[i].update_ratio;
        char text[512];
        int rc = ETA_OK;
        if (isfinite(r)) {
            if (persists(&lh->high, r > cfg->ratio_hi, cfg->ratio_evals, &lh->warned, HEALTH_HIGH)) {
                snprintf(text, sizeof text,
                         "layer %s: update/weight ratio %.2g above %g for %d evaluations (about 1e-3 is "
                         "healthy): the learning rate may be too high for this layer",
                         lh->name, r, cfg->ratio_hi, cfg->ratio_evals);
                rc = warn(ud, step, lh->name, "update_ratio_high", r, text, err);
            }
            /* While the schedule anneals, a low ratio is the plan: neither counted nor reset. */
            if (rc == ETA_OK && !annealing &&
                persists(&lh->low, r < cfg->ratio_lo, cfg->ratio_evals, &lh->warned, HEALTH_LOW)) {
                snprintf(text, sizeof text,
                         "layer %s: update/weight ratio %.2g below %g for %d evaluations (about 1e-3 is "
                         "healthy): the learning rate may be too low for this layer, or it is frozen",
                         lh->name, r, cfg->ratio_lo, cfg->ratio_evals);
                rc = warn(ud, step, lh->name, "update_ratio_low", r, text, err);
            }
        }
        double g = l[i].grad_norm;
        if (rc == ETA_OK && total > 0 && isfinite(g) &&
            persists(&lh->vanish, g < cfg->vanish * total, cfg->ratio_evals, &lh->warned, HEALTH_VANISH)) {
            snprintf(text, sizeof text,
                     "layer %s: gradient norm %.2g below %g x the total %.3g for %d evaluations: its gradient "
                     "vanishes (dead units, saturation, or a layer cut off from the loss)",
                     lh->name, g, cfg->vanish, total, cfg->ratio_evals);
            rc = warn(ud, step, lh->name, "grad_vanishing", g, text, err);
        }
        if (rc)
            return rc;
    }
    return ETA_OK;
}

void health_save(const health *h, tbuf *b)
{
    tbuf_put_f64(b, h->lr_max);
    tbuf_put_f64(b, h->lr_now);
    tbuf_put_u(b, (uint64_t)h->n, 4);
    for (int i = 0; i < h->n; i++) {
        const layer_health *l = &h->v[i];
        size_t k = strlen(l->name);
        tbuf_put_u(b, k, 4);
        tbuf_put_bytes(b, l->name, k);
        tbuf_put_u(b, (uint32_t)l->high, 4);
        tbuf_put_u(b, (uint32_t)l->low, 4);
        tbuf_put_u(b, (uint32_t)l->vanish, 4);
        tbuf_put_u(b, l->warned, 4);
    }
}

int health_load(health *h, tcur *c)
{
    *h = (health){0};
    h->lr_max = tcur_f64(c);
    h->lr_now = tcur_f64(c);
    uint32_t n = (uint32_t)tcur_u(c, 4);
    if (c->bad || n > c->len) /* each layer takes at least 20 bytes: no huge allocation from a bad count */
        return ETA_EFORMAT;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = (uint32_t)tcur_u(c, 4);
        const unsigned char *name = tcur_bytes(c, k);
        if (!name || memchr(name, 0, k)) {
            health_free(h);
            return ETA_EFORMAT;
        }
        char *tmp = malloc((size_t)k + 1);
        layer_health *l = NULL;
        if (tmp) {
            memcpy(tmp, name, k);
            tmp[k] = 0;
            l = find(h, tmp);
            free(tmp);
        }
        if (!l) {
            health_free(h);
            return ETA_ENOMEM;
        }
        l->high = (int32_t)tcur_u(c, 4);
        l->low = (int32_t)tcur_u(c, 4);
        l->vanish = (int32_t)tcur_u(c, 4);
        l->warned = (uint32_t)tcur_u(c, 4);
        if (l->high < 0 || l->low < 0 || l->vanish < 0 || l->high > (1 << 30) || l->low > (1 << 30) ||
            l->vanish > (1 << 30)) {
            health_free(h);
            return ETA_EFORMAT;
        }
    }
    if (c->bad) {
        health_free(h);
        return ETA_EFORMAT;
    }
    return ETA_OK;
}

void health_free(health *h)
{
    for (int i = 0; i < h->n; i++)
        free(h->v[i].name);
    free(h->v);
    *h = (health){0};
}
