/* optim/clip.c - gradient tools over every registered gradient: global norm,
 * clipping by norm (PyTorch's and Optax's forms), by value, adaptive (AGC),
 * and the finite check that guards a step.
 *
 * Norms are sums of squares in double over fixed blocks (core/parallel.h),
 * one parameter after another, so they do not depend on the thread count.
 */
#include <math.h>
#include <stdio.h>

#include "core/fmt.h"
#include "optim/optim_impl.h"

static double param_sumsq(eta_optim *o, const void *x, size_t n)
{
    return o->cfg.dtype == ETA_F32 ? eta_sumsq_f32(x, n, o->scratch, o->cfg.threads)
                                   : eta_sumsq_f64(x, n, o->scratch, o->cfg.threads);
}

int eta_optim_grad_norm(eta_optim *o, double *norm)
{
    double s = 0;
    for (int i = 0; i < o->nparams; i++)
        s += param_sumsq(o, o->params[i].grad, o->params[i].n);
    *norm = sqrt(s);
    return ETA_OK;
}

/* Multiplies x[0..n) by a (torch's g*coef) or, with div set, computes
 * (x/div)*a (optax's form). */
static void scale_array(eta_dtype t, void *x, size_t n, double a, double div)
{
    if (t == ETA_F32) {
        float *v = x, fa = (float)a, fd = (float)div;
        for (size_t i = 0; i < n; i++)
            v[i] = div != 0 ? v[i] / fd * fa : v[i] * fa;
    } else {
        double *v = x;
        for (size_t i = 0; i < n; i++)
            v[i] = div != 0 ? v[i] / div * a : v[i] * a;
    }
}

int eta_optim_clip_grad_norm(eta_optim *o, double max_norm, eta_anchor mode, double *total)
{
    double norm;
    eta_optim_grad_norm(o, &norm);
    if (total)
        *total = norm;
    return eta_optim_clip_grad_norm_given(o, max_norm, mode, norm);
}

int eta_optim_clip_grad_norm_given(eta_optim *o, double max_norm, eta_anchor mode, double norm)
{
    if (!(max_norm >= 0) || isinf(max_norm))
        return eta_optim_fail_(o, ETA_EINVAL, "clip_grad_norm: max_norm must be finite and >= 0, got %g", max_norm);
    if (mode != ETA_ANCHOR_TORCH && mode != ETA_ANCHOR_OPTAX)
        return eta_optim_fail_(o, ETA_EINVAL, "clip_grad_norm: mode must be torch or optax");
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        if (mode == ETA_ANCHOR_TORCH) {
            double coef = max_norm / (norm + 1e-6); /* torch.nn.utils.clip_grad_norm_ */
            scale_array(o->cfg.dtype, p->grad, p->n, coef < 1 ? coef : 1.0, 0);
        } else if (!(norm < max_norm)) {
            scale_array(o->cfg.dtype, p->grad, p->n, max_norm, norm); /* optax.clip_by_global_norm */
        }
    }
    return ETA_OK;
}

int eta_optim_clip_grad_value(eta_optim *o, double clip)
{
    if (!(clip >= 0) || isinf(clip))
        return eta_optim_fail_(o, ETA_EINVAL, "clip_grad_value: clip must be finite and >= 0, got %g", clip);
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        if (o->cfg.dtype == ETA_F32) {
            float *g = p->grad, c = (float)clip;
            for (size_t k = 0; k < p->n; k++)
                g[k] = g[k] < -c ? -c : g[k] > c ? c : g[k];
        } else {
            double *g = p->grad;
            for (size_t k = 0; k < p->n; k++)
                g[k] = g[k] < -clip ? -clip : g[k] > clip ? clip : g[k];
        }
    }
    return ETA_OK;
}

static double unit_sumsq(eta_dtype t, const void *x, size_t off, size_t len)
{
    double s = 0;
    for (size_t k = 0; k < len; k++) {
        double v = t == ETA_F32 ? (double)((const float *)x)[off + k] : ((const double *)x)[off + k];
        s += v * v;
    }
    return s;
}

int eta_optim_clip_grad_agc(eta_optim *o, double clipping, double eps)
{
    if (!(clipping >= 0) || isinf(clipping) || !(eps >= 0) || isinf(eps))
        return eta_optim_fail_(o, ETA_EINVAL, "clip_grad_agc: clipping and eps must be finite and >= 0");
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        size_t units = p->ndim >= 2 ? (size_t)p->shape[0] : 1, len = p->n / units;
        for (size_t u = 0; u < units; u++) {
            double pn = sqrt(unit_sumsq(o->cfg.dtype, p->data, u * len, len));
            double gn = sqrt(unit_sumsq(o->cfg.dtype, p->grad, u * len, len));
            double max_norm = fmax(pn, eps) * clipping;
            if (gn > max_norm) /* optax unitwise_clip, div_eps 1e-6 */
                scale_array(o->cfg.dtype, (char *)p->grad + u * len * eta_dtype_size(o->cfg.dtype), len,
                            max_norm / fmax(gn, 1e-6), 0);
        }
    }
    return ETA_OK;
}

int eta_optim_check_grads(eta_optim *o)
{
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        size_t at = o->cfg.dtype == ETA_F32 ? eta_first_nonfinite_f32(p->grad, p->n, o->cfg.threads)
                                            : eta_first_nonfinite_f64(p->grad, p->n, o->cfg.threads);
        if (at < p->n) {
            double v = o->cfg.dtype == ETA_F32 ? (double)((float *)p->grad)[at] : ((double *)p->grad)[at];
            char txt[40];
            eta_fmt_real(txt, sizeof txt, v);
            return eta_optim_fail_(o, ETA_ENONFINITE,
                                   "%s: gradient of parameter %d (group %d) has %s at element %zu; step skipped",
                                   o->rule->name, i, p->group, txt, at);
        }
    }
    return ETA_OK;
}
