/* optim/adafactor.c - Adafactor in PyTorch's form (torch.optim.Adafactor, 2.5+).
 *
 * Per parameter, step t (Shazeer & Stern 2018, with torch's deviations):
 *   w = t^beta2_decay (= 1 - beta2_hat);  rho = min(lr, 1/sqrt(t))
 *   alpha = max(eps2, RMS(p)) * rho;  p <- p*(1 - lr*wd)
 *   ndim >= 2, factored over the last two dims (R rows, C columns):
 *     row_var <- lerp(row_var, mean_c g^2, w);  col_var <- lerp(col_var, mean_r g^2, w)
 *     V = row_var * col_var / max(mean_r row_var, eps1)
 *   ndim < 2: variance <- lerp(variance, g^2, w);  V = variance
 *   U = g / sqrt(max(V, eps1^2));  p <- p - alpha/max(1, RMS(U)/d) * U
 * eps1 = None means the dtype's machine epsilon. No momentum. Reductions are
 * serial in double per parameter, so results do not depend on threads.
 */
#ifndef ETA_TYPED_PASS
#include <float.h>
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adafactor_k {
    double w, eps1, keep, alpha_rho, d;
    bool maximize;
} adafactor_k;

#define ETA_SELF "adafactor.c"
#include "optim/instantiate.h"

static void adafactor_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step;
    double eps1 = isnan(hp->eps) ? (c->dtype == ETA_F32 ? (double)FLT_EPSILON : DBL_EPSILON) : hp->eps;
    adafactor_k k = {pow(t, hp->beta2_decay), eps1, 1 - hp->lr * hp->weight_decay,
                     fmin(hp->lr, 1 / sqrt(t)), hp->d, hp->maximize};
    if (c->dtype == ETA_F32)
        adafactor_param_float(&k, c, p);
    else
        adafactor_param_double(&k, c, p);
}

static size_t adafactor_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    bool factored = p->ndim >= 2;
    if (i == 0)
        return factored ? p->n / (size_t)p->shape[p->ndim - 1] : 0;
    if (i == 1)
        return factored ? p->n / (size_t)p->shape[p->ndim - 2] : 0;
    return factored ? 0 : p->n;
}

static const optim_arg adafactor_args[] = {
    ARG_LR(false),
    {"beta2_decay", ARG_REAL, offsetof(eta_optim_hparams, beta2_decay), 0, false, false, -INFINITY, 0, false,
     false, 0},
    {"eps", ARG_EPS_PAIR, offsetof(eta_optim_hparams, eps), offsetof(eta_optim_hparams, eps2), false, false, 0,
     INFINITY, false, true, 0},
    {"d", ARG_REAL, offsetof(eta_optim_hparams, d), 0, false, false, 1, INFINITY, false, true, 0},
    ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("foreach", true),
    ARG_FLAG_KW("maximize", maximize),
};

const optim_rule eta_rule_adafactor = {
    .kind = ETA_OPTIM_ADAFACTOR,
    .name = "Adafactor",
    .args = adafactor_args,
    .nargs = sizeof adafactor_args / sizeof adafactor_args[0],
    .defaults = {.lr = 1e-2, .beta2_decay = -0.8, .eps = NAN, .eps2 = 1e-3, .d = 1.0},
    .state_names = {"row_var", "col_var", "variance", NULL},
    .state_len = adafactor_state_len,
    .update = adafactor_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static T TF(adafactor_grad)(const adafactor_k *k, const T *g, size_t i)
{
    return k->maximize ? -g[i] : g[i];
}

/* The scaled update U at element i of slice b (before the RMS clipping);
 * rden is the slice's clamped mean of row_var. */
static T TF(adafactor_u)(const adafactor_k *k, const optim_param *p, size_t i, T rden)
{
    T gi = TF(adafactor_grad)(k, p->grad, i);
    T v;
    if (p->ndim >= 2) {
        size_t C = (size_t)p->shape[p->ndim - 1], R = (size_t)p->shape[p->ndim - 2];
        size_t b = i / (R * C), r = (i / C) % R, col = i % C;
        const T *row = p->state[0], *cv = p->state[1];
        v = row[b * R + r] * cv[b * C + col] / rden;
    } else {
        v = ((const T *)p->state[2])[i];
    }
    T floor = (T)(k->eps1 * k->eps1);
    v = v < floor ? floor : v;
    return (T)1 / sqrt(v) * gi;
}

/* max(mean of row_var over the rows of slice b, eps1). */
static T TF(adafactor_rden)(const adafactor_k *k, const optim_param *p, size_t b)
{
    if (p->ndim < 2)
        return 1;
    size_t R = (size_t)p->shape[p->ndim - 2];
    const T *row = p->state[0];
    double s = 0;
    for (size_t r = 0; r < R; r++)
        s += (double)row[b * R + r];
    T mean = (T)(s / (double)R), e1 = (T)k->eps1;
    return mean < e1 ? e1 : mean;
}

static void TF(adafactor_param)(const adafactor_k *k, const optim_ctx *c, optim_param *p)
{
    T *x = p->data;
    const T *g = p->grad;
    size_t n = p->n;
    double pss = 0;
    for (size_t i = 0; i < n; i++)
        pss += (double)x[i] * (double)x[i];
    double rms_p = sqrt(pss) / sqrt((double)n);
    double alpha = fmax(c->hp->eps2, rms_p) * k->alpha_rho;
    if (c->hp->weight_decay != 0) {
        T keep = (T)k->keep;
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] * keep;
    }
    const T w = (T)k->w;
    size_t slice = n, B = 1;
    if (p->ndim >= 2) {
        size_t C = (size_t)p->shape[p->ndim - 1], R = (size_t)p->shape[p->ndim - 2];
        T *row = p->state[0], *cv = p->state[1];
        slice = R * C;
        B = n / slice;
        for (size_t b = 0; b < B; b++) {
            const T *gb = g + b * slice;
            for (size_t r = 0; r < R; r++) {
                double ss = 0;
                for (size_t j = 0; j < C; j++) {
                    double e = (double)gb[r * C + j];
                    ss += e * e;
                }
                T nrm = (T)sqrt(ss), mean = nrm * nrm / (T)C;
                row[b * R + r] = LERP(row[b * R + r], mean, w);
            }
            for (size_t j = 0; j < C; j++) {
                double ss = 0;
                for (size_t r = 0; r < R; r++) {
                    double e = (double)gb[r * C + j];
                    ss += e * e;
                }
                T nrm = (T)sqrt(ss), mean = nrm * nrm / (T)R;
                cv[b * C + j] = LERP(cv[b * C + j], mean, w);
            }
        }
    } else {
        T *var = p->state[2];
        for (size_t i = 0; i < n; i++) {
            T gi = TF(adafactor_grad)(k, g, i);
            var[i] = LERP(var[i], gi * gi, w);
        }
    }
    double uss = 0;
    for (size_t b = 0; b < B; b++) {
        T rden = TF(adafactor_rden)(k, p, b);
        for (size_t i = b * slice; i < (b + 1) * slice; i++) {
            double u = (double)TF(adafactor_u)(k, p, i, rden);
            uss += u * u;
        }
    }
    double denom = fmax(1.0, sqrt(uss) / (sqrt((double)n) * k->d));
    T scale = (T)(-alpha / denom);
    for (size_t b = 0; b < B; b++) {
        T rden = TF(adafactor_rden)(k, p, b);
        for (size_t i = b * slice; i < (b + 1) * slice; i++)
            x[i] = x[i] + scale * TF(adafactor_u)(k, p, i, rden);
    }
}

#endif
