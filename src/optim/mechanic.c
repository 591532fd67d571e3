/* optim/mechanic.c - Mechanic, a learning-rate tuner around any rule
 * (Cutkosky, Defazio & Mehta, NeurIPS 2023, "Mechanic: A Learning Rate
 * Tuner"), as Optax's contrib.mechanize (the authors' own port).
 *
 * `Mechanic(AdamW(lr=1e-3), weight_decay=0.01, eps=1e-8, s_init=1e-6,
 * num_betas=6)`: the base rule steps as usual (its state, groups and
 * schedule untouched) and Mechanic rescales the distance travelled, learning
 * one scale S = sum_j s_j for the whole optimizer. Per step, with x0 the
 * parameters at their first step, S the scale before the step, u the base
 * rule's update (the change its step makes) and norms over every parameter:
 *   gt = g + wd*S*|g|/(|x|+eps)*x;  dp = (x0 - x)/(S + eps);  h = <gt, dp>
 *   for beta_j = 1 - 10^-j, j = 1..num_betas:
 *     ch = clamp(h, -m_j, m_j) (the old m_j)
 *     m_j = max(beta_j*m_j, |h| + eps);  v_j = beta_j^2*v_j + h^2
 *     r_j = beta_j*r_j + ch*s_j;  s_j = ((s_init/n)*m_j + max(0, r_j))/(sqrt(v_j) + eps)
 *   x <- x + ((x0 - S'*(dp - u)) - x),  S' = sum_j s_j (the new scale)
 * s_j starts at s_init. The tuner runs in double (Optax: the parameters'
 * dtype); the element operations in the dtype, in Optax's order. Sums are
 * per parameter in fixed blocks, added in parameter order.
 *
 * Here too: the spec binder and describe of Mechanic(...), and its scalars
 * as users read them. save.c saves its state; optim.c calls it around the
 * base rule's step.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/fmt.h"
#include "optim/optim_impl.h"

typedef struct mech_k {
    void *p, *work;
    const void *g, *x0;
    double coef, snew, den; /* gt's decay factor; the new scale S'; S + eps */
} mech_k;

#define ETA_SELF "mechanic.c"
#include "optim/instantiate.h"

eta_mechanic_config eta_mechanic_defaults(void)
{
    eta_mechanic_config c = {1e-2, 1e-8, 1e-6, 6};
    return c;
}

int eta_mech_check_(const eta_mechanic_config *c, const eta_spec *const *at, eta_err *err)
{
    static const char *const names[] = {"weight_decay", "eps", "s_init"};
    const double v[] = {c->weight_decay, c->eps, c->s_init};
    for (int i = 0; i < 3; i++) {
        const eta_spec *node = at ? at[i] : NULL;
        int rc = eta_spec_check_range(node, names[i], v[i], 0, i == 2, INFINITY, true, err);
        if (!rc && isinf(v[i]))
            rc = eta_spec_fail(err, ETA_EINVAL, node, "%s must be finite", names[i]);
        if (rc)
            return rc;
    }
    if (c->num_betas < 1 || c->num_betas > ETA_MECHANIC_MAX_BETAS)
        return eta_spec_fail(err, ETA_EINVAL, at ? at[3] : NULL, "num_betas must be in [1, %d], got %d",
                             ETA_MECHANIC_MAX_BETAS, c->num_betas);
    return ETA_OK;
}

int eta_mech_new_(eta_optim *o)
{
    o->mech = eta_optim_alloc_(o, sizeof *o->mech);
    if (!o->mech)
        return ETA_ENOMEM;
    memset(o->mech, 0, sizeof *o->mech);
    o->mech->cfg = o->cfg.mechanic;
    for (int j = 0; j < o->mech->cfg.num_betas; j++)
        o->mech->s[j] = o->mech->cfg.s_init;
    return ETA_OK;
}

void eta_mech_free_(eta_optim *o)
{
    if (o->mech)
        eta_optim_release_(o, o->mech->work);
    eta_optim_release_(o, o->mech);
}

int eta_mech_add_param_(eta_optim *o, size_t n)
{
    optim_mech *m = o->mech;
    size_t es = eta_dtype_size(o->cfg.dtype);
    if (n > (SIZE_MAX / es) - m->work_n)
        return ETA_ENOMEM;
    void *w = eta_optim_alloc_(o, (m->work_n + n) * es);
    if (!w)
        return ETA_ENOMEM;
    eta_optim_release_(o, m->work);
    m->work = w;
    m->work_n += n;
    return ETA_OK;
}

int eta_mech_step_(eta_optim *o)
{
    optim_mech *m = o->mech;
    const eta_mechanic_config *c = &m->cfg;
    size_t es = eta_dtype_size(o->cfg.dtype), off = 0;
    double S = 0, gsq = 0, xsq = 0, h = 0;
    for (int j = 0; j < c->num_betas; j++)
        S += m->s[j];
    optim_wide w = eta_optim_wide_(o);
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        if (p->step == 0)
            memcpy(p->state[MECH_SLOT], p->data, p->n * es);
        memcpy((char *)m->work + off * es, p->data, p->n * es);
        off += p->n;
        gsq += eta_optim_wide_sumsq(&w, p->grad, p->n);
        xsq += eta_optim_wide_sumsq(&w, p->data, p->n);
    }
    double coef = c->weight_decay * S * sqrt(gsq) / (sqrt(xsq) + c->eps);
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        mech_k k = {p->data, NULL, p->grad, p->state[MECH_SLOT], coef, 0, S + c->eps};
        h += eta_reduce(p->n, o->cfg.threads, o->cfg.dtype == ETA_F32 ? h_block_float : h_block_double, &k,
                        o->scratch);
    }
    int rc = eta_optim_rule_step_(o);
    if (rc)
        return rc; /* an error or a skipped step: the tuner waits too */
    double S2 = 0;
    for (int j = 0; j < c->num_betas; j++) {
        double beta = 1.0 - pow(0.1, j + 1), mo = m->m[j];
        double ch = h < -mo ? -mo : h > mo ? mo : h;
        m->m[j] = fmax(beta * mo, fabs(h) + c->eps);
        m->v[j] = beta * beta * m->v[j] + h * h;
        m->r[j] = beta * m->r[j] + ch * m->s[j];
        m->s[j] = (c->s_init / c->num_betas * m->m[j] + fmax(0.0, m->r[j])) / (sqrt(m->v[j]) + c->eps);
        S2 += m->s[j];
    }
    off = 0;
    for (int i = 0; i < o->nparams; i++) {
        optim_param *p = &o->params[i];
        mech_k k = {p->data, (char *)m->work + off * es, NULL, p->state[MECH_SLOT], 0, S2, S + c->eps};
        eta_parallel_for(p->n, o->cfg.threads, o->cfg.dtype == ETA_F32 ? mix_chunk_float : mix_chunk_double, &k);
        off += p->n;
    }
    return ETA_OK;
}

/* "s": the scale sum_j s_j; "m[j]", "v[j]", "r[j]", "s[j]": the tuner. */
int eta_mech_scalar_(const eta_optim *o, const char *name, double *value)
{
    const optim_mech *m = o->mech;
    if (strcmp(name, "s") == 0) {
        double S = 0;
        for (int j = 0; j < m->cfg.num_betas; j++)
            S += m->s[j];
        *value = S;
        return ETA_OK;
    }
    static const char keys[] = "mvrs";
    const char *k = name[0] ? strchr(keys, name[0]) : NULL;
    int j, used = 0;
    if (!k || sscanf(name + 1, "[%d]%n", &j, &used) != 1 || name[1 + used] || j < 0 || j >= m->cfg.num_betas)
        return ETA_EINVAL;
    const double *arr[] = {m->m, m->v, m->r, m->s};
    *value = arr[k - keys][j];
    return ETA_OK;
}

/* Mechanic(base_optimizer, weight_decay=0.01, eps=1e-08, s_init=1e-06, num_betas=6) */
int eta_mech_config_from_tree_(eta_optim_config *cfg, const eta_spec *call, eta_err *err)
{
    static const eta_spec_param sig[] = {
        {"base_optimizer", true, false}, {"weight_decay", false, false}, {"eps", false, false},
        {"s_init", false, false},        {"num_betas", false, false},
    };
    const eta_spec *vals[5];
    int rc = eta_spec_bind(call, sig, 5, vals, err);
    if (rc)
        return rc;
    eta_optim_config base;
    if (vals[0]->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, vals[0], "%s() wraps an optimizer such as AdamW(lr=1e-3), got %s",
                             call->str, eta_spec_kind_name(vals[0]->kind));
    if ((rc = eta_optim_config_from_tree(&base, vals[0], err)))
        return rc;
    if (base.kind == ETA_OPTIM_MECHANIC)
        return eta_spec_fail(err, ETA_EINVAL, vals[0], "Mechanic cannot wrap Mechanic");
    eta_mechanic_config mc = eta_mechanic_defaults();
    double *reals[] = {&mc.weight_decay, &mc.eps, &mc.s_init};
    for (int i = 0; i < 3; i++)
        if (vals[i + 1] && (rc = eta_spec_get_real(vals[i + 1], sig[i + 1].name, reals[i], err)))
            return rc;
    if (vals[4]) {
        int64_t nb;
        if ((rc = eta_spec_get_int(vals[4], "num_betas", &nb, err)))
            return rc;
        if (nb < 1 || nb > ETA_MECHANIC_MAX_BETAS)
            return eta_spec_fail(err, ETA_EINVAL, vals[4], "num_betas must be in [1, %d], got %lld",
                                 ETA_MECHANIC_MAX_BETAS, (long long)nb);
        mc.num_betas = (int)nb;
    }
    if ((rc = eta_mech_check_(&mc, vals + 1, err)))
        return rc;
    *cfg = base;
    cfg->base = base.kind;
    cfg->kind = ETA_OPTIM_MECHANIC;
    cfg->mechanic = mc;
    return ETA_OK;
}

int eta_mech_describe_(char *buf, size_t n)
{
    eta_mechanic_config d = eta_mechanic_defaults();
    char a[40], b[40], c[40];
    eta_fmt_real(a, sizeof a, d.weight_decay);
    eta_fmt_real(b, sizeof b, d.eps);
    eta_fmt_real(c, sizeof c, d.s_init);
    return snprintf(buf, n, "Mechanic(base_optimizer, weight_decay=%s, eps=%s, s_init=%s, num_betas=%d)", a, b, c,
                    d.num_betas);
}

/* The registry's entry: a name for the binder and describe; optim.c steps the
 * base rule and this file's tuner. */
const optim_rule eta_rule_mechanic = {
    .kind = ETA_OPTIM_MECHANIC,
    .name = "Mechanic",
    .alias = "mechanize",
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

/* h over one block: <g + coef*x, (x0 - x)/(S + eps)>, each factor in the dtype. */
static double TF(h_block)(void *vk, size_t lo, size_t hi)
{
    const mech_k *k = vk;
    const T *x = k->p, *g = k->g, *x0 = k->x0;
    const T coef = (T)k->coef, den = (T)k->den;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        T gt = g[i] + coef * x[i];
        T dp = (x0[i] - x[i]) / den;
        s += (double)gt * (double)dp;
    }
    return s;
}

/* x <- xo + ((x0 - S'*(dp - u)) - xo), xo the parameter before the base
 * step (work), u = x - xo the base's update. */
static void TF(mix_chunk)(void *vk, size_t lo, size_t hi)
{
    const mech_k *k = vk;
    T *x = k->p;
    const T *xo = k->work, *x0 = k->x0;
    const T S2 = (T)k->snew, den = (T)k->den;
    for (size_t i = lo; i < hi; i++) {
        T dp = (x0[i] - xo[i]) / den;
        T delta = dp - (x[i] - xo[i]);
        T xn = x0[i] - S2 * delta;
        x[i] = xo[i] + (xn - xo[i]);
    }
}

#endif
