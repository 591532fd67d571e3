/* tune/lrsuggest.c - the rules that read a suggested learning rate off a
 * range test's curve, each ported line by line from its anchor (lrfind.h
 * lists them): fastai's valley, slide, minimum and steep
 * (fastai/callback/schedule.py) on the points fastai's lr_find hands them,
 * Lightning's steepest gradient (`_LRFinder.suggestion`,
 * lightning/pytorch/tuner/lr_finder.py) and its variant over log lr.
 * Python's negative indices are kept where the source relies on them
 * (valley's start may be -1: lrs[-1] is the last point).
 *
 * differs from the anchors: they turn the recorded lists into float32
 * tensors before the rules; eta keeps doubles (the same rule, ties could
 * fall differently in the last bits). tools/gen_ref_lrfind.py holds the
 * ports in PyTorch, float64; tests/test_tune_lrsuggest.c replays them.
 */
#include "tune/lrfind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const NAMES[ETA_LR_RULE_COUNT] = {"valley", "slide", "minimum", "steep", "gradient",
                                                     "log_gradient"};
static const char *const DOCS[ETA_LR_RULE_COUNT] = {
    "fastai's valley: two thirds down the longest decreasing stretch of the smoothed loss (the default)",
    "fastai's slide: where the loss's slope stops changing by more than 0.005 over 15 points, from the end",
    "fastai's minimum: a tenth of the rate at the lowest smoothed loss",
    "fastai's steep: the left end of the steepest drop of the smoothed loss over log lr",
    "Lightning's suggestion: the steepest point of the smoothed loss's gradient over lr",
    "Lightning's suggestion with the gradient over log lr (robust to noise at small rates)",
};

const char *eta_lr_rule_name(eta_lr_rule r)
{
    return (unsigned)r < ETA_LR_RULE_COUNT ? NAMES[r] : "?";
}

const char *eta_lr_rule_doc(eta_lr_rule r)
{
    return (unsigned)r < ETA_LR_RULE_COUNT ? DOCS[r] : "?";
}

static const char *name_at(const void *ctx, int i)
{
    (void)ctx;
    return NAMES[i];
}

int eta_lr_rule_parse(const char *s, eta_lr_rule *out, eta_err *err)
{
    for (int i = 0; s && i < ETA_LR_RULE_COUNT; i++)
        if (!strcmp(s, NAMES[i])) {
            *out = (eta_lr_rule)i;
            return ETA_OK;
        }
    int rc = eta_spec_fail(err, ETA_EINVAL, NULL, "unknown rule '%s'", s ? s : "(null)");
    if (err)
        eta_names_hint(err->msg, sizeof err->msg, s ? s : "", name_at, NULL, ETA_LR_RULE_COUNT, "rules", NULL);
    return rc;
}

/* np.interp(x, xp, fp) for increasing xp. */
static double interp(double x, const double *xp, const double *fp, int64_t n)
{
    if (n <= 0)
        return NAN;
    if (x <= xp[0])
        return fp[0];
    if (x >= xp[n - 1])
        return fp[n - 1];
    int64_t j = 0;
    while (j + 1 < n && xp[j + 1] <= x)
        j++;
    if (x == xp[j])
        return fp[j];
    double slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    return slope * (x - xp[j]) + fp[j];
}

/* The smoothed loss at rate x over log10 lr, on the curve the rule saw. */
static double loss_at(double x, const double *lr, const double *y, int64_t n)
{
    double *xl = malloc((size_t)(n > 0 ? n : 1) * sizeof *xl);
    if (!xl)
        return NAN;
    for (int64_t i = 0; i < n; i++)
        xl[i] = log10(lr[i]);
    double v = interp(log10(x), xl, y, n);
    free(xl);
    return v;
}

static void none(eta_lr_suggestion *s, const char *why, int64_t n)
{
    s->ok = false;
    s->lr = s->loss = NAN;
    s->index = -1;
    snprintf(s->why, sizeof s->why, "%.180s (%lld point%s)", why, (long long)n, n == 1 ? "" : "s");
}

/* fastai's valley on lrs[0..n) (schedule.py, `valley`). */
static int64_t valley(const double *losses, int64_t n, int *lds)
{
    int64_t max_start = 0, max_end = 0;
    for (int64_t i = 0; i < n; i++)
        lds[i] = 1;
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < i; j++) {
            if (losses[i] < losses[j] && lds[i] < lds[j] + 1)
                lds[i] = lds[j] + 1;
            if (lds[max_end] < lds[i]) {
                max_end = i;
                max_start = max_end - lds[max_end];
            }
        }
    double sections = (double)(max_end - max_start) / 3;
    int64_t idx = max_start + (int64_t)sections + (int64_t)(sections / 2);
    return idx < 0 ? idx + n : idx; /* lrs[-1] */
}

/* np.gradient(f) with unit spacing: one-sided at the ends (n >= 2). */
static void gradient_unit(double *g, const double *f, int64_t n)
{
    g[0] = f[1] - f[0];
    g[n - 1] = f[n - 1] - f[n - 2];
    for (int64_t i = 1; i < n - 1; i++)
        g[i] = (f[i + 1] - f[i - 1]) / 2.0;
}

/* torch.gradient(f, spacing=[x]) (and np.gradient(f, x)): second-order
 * differences on the uneven grid inside, one-sided at the ends (n >= 2). */
static void gradient_at(double *g, const double *f, const double *x, int64_t n)
{
    g[0] = (f[1] - f[0]) / (x[1] - x[0]);
    g[n - 1] = (f[n - 1] - f[n - 2]) / (x[n - 1] - x[n - 2]);
    for (int64_t i = 1; i < n - 1; i++) {
        double dx1 = x[i] - x[i - 1], dx2 = x[i + 1] - x[i];
        double a = -dx2 / (dx1 * (dx1 + dx2)), b = (dx2 - dx1) / (dx1 * dx2), c = dx1 / (dx2 * (dx1 + dx2));
        g[i] = a * f[i - 1] + b * f[i] + c * f[i + 1];
    }
}

/* The first index of the smallest value (torch.argmin). */
static int64_t argmin(const double *v, int64_t n)
{
    int64_t k = 0;
    for (int64_t i = 1; i < n; i++)
        if (v[i] < v[k])
            k = i;
    return k;
}

/* fastai's four rules on the points lr_find hands them: lrs[steps//10:-5]
 * up to the first NaN loss. */
static void fastai_rule(eta_lr_rule rule, const double *lr, const double *sm, int64_t n, int64_t steps,
                        eta_lr_suggestion *s)
{
    int64_t a = steps / 10, b = n - 5 < 0 ? 0 : n - 5;
    if (a > n)
        a = n;
    if (b < a)
        b = a;
    int64_t m = b - a;
    for (int64_t i = 0; i < m; i++)
        if (isnan(sm[a + i])) {
            m = i;
            break;
        }
    const double *L = lr + a, *Y = sm + a;
    const int64_t need = rule == ETA_LR_SLIDE ? 16 : rule == ETA_LR_STEEP ? 2 : 1;
    if (m < need) {
        char why[160];
        snprintf(why, sizeof why, "too few points: fastai's %s needs %lld after dropping the first %lld, the last 5 "
                                  "and any from the first NaN",
                 NAMES[rule], (long long)need, (long long)(steps / 10));
        none(s, why, m);
        return;
    }
    double *g = malloc((size_t)m * sizeof *g);
    int *lds = malloc((size_t)m * sizeof *lds);
    if (!g || !lds) {
        free(g);
        free(lds);
        none(s, "out of memory", m);
        return;
    }
    int64_t idx = -1;
    double sugg = NAN;
    switch (rule) {
    case ETA_LR_VALLEY:
        idx = valley(Y, m, lds);
        sugg = L[idx];
        break;
    case ETA_LR_SLIDE: { /* lr_diff=15, thresh=.005, adjust_value=1 */
        gradient_unit(g, Y, m);
        int64_t r = m - 1, l = r - 15;
        double local = L[l];
        while (l >= 0 && fabs(g[r] - g[l]) > 0.005) {
            local = L[l];
            r--;
            l--;
        }
        sugg = local * 1.0;
        break;
    }
    case ETA_LR_MINIMUM:
        idx = argmin(Y, m);
        sugg = L[idx] / 10;
        break;
    default: /* steep */
        for (int64_t i = 0; i + 1 < m; i++)
            g[i] = (Y[i + 1] - Y[i]) / (log(L[i + 1]) - log(L[i]));
        idx = argmin(g, m - 1);
        sugg = L[idx];
        break;
    }
    s->ok = true;
    s->lr = sugg;
    s->loss = loss_at(sugg, L, Y, m);
    s->index = idx < 0 ? -1 : a + idx;
    free(g);
    free(lds);
}

/* Lightning's suggestion(skip_begin=10, skip_end=1) over lr, or over ln lr. */
static void lightning_rule(bool log_lr, const double *lr, const double *sm, int64_t n, eta_lr_suggestion *s)
{
    int64_t a = 10 < n ? 10 : n, b = n - 1 < a ? a : n - 1, m = 0;
    double *x = malloc((size_t)(b - a + 1) * sizeof *x), *y = malloc((size_t)(b - a + 1) * sizeof *y),
           *g = malloc((size_t)(b - a + 1) * sizeof *g);
    int64_t *at = malloc((size_t)(b - a + 1) * sizeof *at);
    if (!x || !y || !g || !at) {
        none(s, "out of memory", n);
        goto out;
    }
    for (int64_t i = a; i < b; i++)
        if (isfinite(sm[i])) {
            x[m] = log_lr ? log(lr[i]) : lr[i];
            y[m] = sm[i];
            at[m++] = i;
        }
    if (m < 2) {
        none(s, "too few points: Lightning's suggestion needs 2 finite ones after skipping the first 10 and the "
                "last",
             m);
        goto out;
    }
    gradient_at(g, y, x, m);
    int64_t k = argmin(g, m);
    s->ok = true;
    s->index = at[k];
    s->lr = lr[at[k]];
    s->loss = sm[at[k]];
out:
    free(x);
    free(y);
    free(g);
    free(at);
}

void eta_lr_suggest(eta_lr_rule rule, const double *lr, const double *smooth, int64_t n, int64_t steps,
                    eta_lr_suggestion *out)
{
    memset(out, 0, sizeof *out);
    out->rule = rule;
    if (rule == ETA_LR_GRADIENT || rule == ETA_LR_LOG_GRADIENT)
        lightning_rule(rule == ETA_LR_LOG_GRADIENT, lr, smooth, n, out);
    else if ((unsigned)rule < ETA_LR_RULE_COUNT)
        fastai_rule(rule, lr, smooth, n, steps, out);
    else
        none(out, "unknown rule", n);
}
