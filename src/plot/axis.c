/* axis.c - axis ranges, "nice" ticks and their labels; pure arithmetic.
 *
 * Linear axes step by 1, 2 or 5 x 10^k (Heckbert, "Nice numbers for graph
 * labels", Graphics Gems, 1990) and label every tick in one style chosen
 * for the whole axis: fixed ("0.025"), SI suffixes for large integers
 * ("20k", "1.5M") or short scientific ("1e-5"). Log axes tick at decades
 * labelled 10^k, or, when they span less than two decades, at 1-2-5 or
 * 1..9 x 10^k with plain labels, or as a linear axis would when even those
 * are too few. Every computation is safe for ranges up to +-DBL_MAX and
 * down to subnormals. The drawing lives in lines.c.
 */
#include "plot/plot_impl.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MINUS "\xe2\x88\x92" /* U+2212, the typographic minus sign */

static double clamp_real(double v)
{
    return v > DBL_MAX ? DBL_MAX : v < -DBL_MAX ? -DBL_MAX : v;
}

void eta_plot_axis_fit_(plot_axis *a, bool log, double dmin, double dmax, double pad)
{
    a->log = log;
    if (!(dmin <= dmax) || (log && !(dmin > 0))) {
        dmin = log ? 1 : 0;
        dmax = log ? 10 : 1;
        pad = 0;
    }
    double lo = log ? log10(dmin) : dmin, hi = log ? log10(dmax) : dmax;
    bool flat = log ? hi - lo < 1e-9 : hi - lo <= 1e-9 * fmax(fabs(lo), fabs(hi));
    if (flat && log) { /* a decade around the value */
        double c = lo * 0.5 + hi * 0.5;
        lo = c - 0.5;
        hi = c + 0.5;
    } else if (flat && !(fabs(lo * 0.5 + hi * 0.5) > DBL_MIN)) { /* 0 or a subnormal: [-1, 1] */
        lo = -1;
        hi = 1;
    } else if (flat) {
        /* From zero to the value, padded: a constant learning rate of 0.05
         * is drawn at 0.05 of [0, 0.05], not in the middle of a zoom onto
         * 0.04..0.06 that makes a flat line look like a chosen scale. */
        double c = lo * 0.5 + hi * 0.5, p = fmax(pad, 0.04);
        lo = c > 0 ? 0 : c;
        hi = c > 0 ? c : 0;
        double d = (hi * 0.5 - lo * 0.5) * 2 * p;
        lo = clamp_real(lo - d);
        hi = clamp_real(hi + d);
    } else if (pad > 0) {
        double d = (hi * 0.5 - lo * 0.5) * 2 * pad;
        lo = clamp_real(lo - d);
        hi = clamp_real(hi + d);
    }
    a->lo = lo;
    a->hi = hi;
    a->mid = lo * 0.5 + hi * 0.5;
    a->half = hi * 0.5 - lo * 0.5;
}

double eta_plot_axis_unit_(const plot_axis *a, double v)
{
    return a->log ? log10(v) : v;
}

double eta_plot_axis_frac_(const plot_axis *a, double u)
{
    return 0.5 + (u * 0.5 - a->mid * 0.5) / a->half;
}

/* The smallest of 1, 2, 5, 10 x 10^k that is >= raw (finite). */
static double nice_step(double raw)
{
    if (!(raw > 0) || !isfinite(raw))
        return 1;
    double mag = pow(10, floor(log10(raw)));
    if (!(mag > 0))
        return raw;
    static const double m[] = {1, 2, 5, 10};
    double best = raw;
    for (int i = 0; i < 4; i++) {
        double s = m[i] * mag;
        if (!isfinite(s))
            break;
        best = s;
        if (s >= raw * (1 - 1e-9))
            break;
    }
    return best;
}

/* The fewest decimals (0..17) that write s exactly enough. */
static int decimals_for(double s)
{
    s = fabs(s);
    for (int d = 0; d < 17; d++) {
        double t = s * pow(10, d);
        if (fabs(t - round(t)) < 1e-6 * fmax(1, t))
            return d;
    }
    return 17;
}

/* Replaces a leading '-' by the minus sign. */
static void put_minus(char *buf, size_t n)
{
    if (buf[0] != '-')
        return;
    size_t len = strlen(buf);
    if (len + 2 >= n)
        return;
    memmove(buf + 3, buf + 1, len); /* includes the NUL */
    memcpy(buf, MINUS, 3);
}

/* "1.50e-04" -> "1.5e-4", "2.0e+13" -> "2e13". */
static void tidy_sci(char *buf)
{
    char *e = strchr(buf, 'e');
    if (!e)
        return;
    char exp[16];
    int x = 0;
    sscanf(e + 1, "%d", &x);
    snprintf(exp, sizeof exp, "e%d", x);
    char *end = e;
    if (memchr(buf, '.', (size_t)(e - buf))) {
        while (end[-1] == '0')
            end--;
        if (end[-1] == '.')
            end--;
    }
    memmove(end, exp, strlen(exp) + 1);
}

/* v in scientific notation with enough digits to tell steps of `step` apart. */
static void fmt_sci(char *buf, size_t n, double v, double step)
{
    int e = (int)floor(log10(fabs(v)));
    int digits = e - (int)floor(log10(step) + 1e-9);
    digits = digits < 0 ? 0 : digits > 15 ? 15 : digits;
    snprintf(buf, n, "%.*e", digits, v);
    tidy_sci(buf);
}

/* Labels for the linear ticks t[0..n), `step` apart, in one style. */
static void label_linear(plot_tick *t, int n, double step)
{
    double amax = 0;
    for (int i = 0; i < n; i++)
        amax = fmax(amax, fabs(t[i].v));
    double div = 1;
    const char *suffix = "";
    bool sci = amax >= 1e12 || (step < 1e-4 && amax < 1);
    if (!sci && step >= 1 && amax >= 1e4) {
        div = amax >= 1e9 ? 1e9 : amax >= 1e6 ? 1e6 : 1e3;
        suffix = amax >= 1e9 ? "G" : amax >= 1e6 ? "M" : "k";
    }
    int d = decimals_for(step / div);
    for (int i = 0; i < n; i++) {
        plot_tick *k = &t[i];
        k->sup[0] = '\0';
        if (fabs(k->v) < step * 1e-6) {
            snprintf(k->text, sizeof k->text, "0");
            continue;
        }
        if (sci)
            fmt_sci(k->text, sizeof k->text, k->v, step);
        else
            snprintf(k->text, sizeof k->text, "%.*f%s", d, k->v / div, suffix);
        put_minus(k->text, sizeof k->text);
    }
}

/* One value written on its own, as short as it goes: "0.02", "300", "20k", "2e-7". */
static void fmt_compact(char *buf, size_t n, double v)
{
    double a = fabs(v);
    if (a >= 1e-4 && a < 1e4) {
        int d = decimals_for(v);
        snprintf(buf, n, "%.*f", d > 10 ? 10 : d, v);
    } else if (a >= 1e4 && a < 1e12 && decimals_for(v / 1e3) == 0) {
        double div = a >= 1e9 ? 1e9 : a >= 1e6 ? 1e6 : 1e3;
        const char *suffix = a >= 1e9 ? "G" : a >= 1e6 ? "M" : "k";
        int d = decimals_for(v / div);
        snprintf(buf, n, "%.*f%s", d > 3 ? 3 : d, v / div, suffix);
    } else {
        double e = floor(log10(a));
        int d = decimals_for(v / pow(10, e));
        snprintf(buf, n, "%.*e", d > 6 ? 6 : d, v);
        tidy_sci(buf);
    }
    put_minus(buf, n);
}

static plot_tick *add_tick(plot_ticks *out, double u, double v, bool major)
{
    if (out->n >= PLOT_MAX_TICKS)
        return NULL;
    plot_tick *t = &out->t[out->n++];
    t->u = u;
    t->v = v;
    t->major = major;
    t->text[0] = t->sup[0] = '\0';
    return t;
}

/* Ticks every `step` in [lo, hi] (values), placed at axis units; labelled. */
static void linear_ticks(const plot_axis *a, double lo, double hi, double target, plot_ticks *out)
{
    double step = nice_step((hi * 0.5 - lo * 0.5) / target * 2);
    double k0 = ceil(lo / step - 1e-9), k1 = floor(hi / step + 1e-9);
    int first = out->n;
    for (double k = k0; k <= k1 && out->n < PLOT_MAX_TICKS; k++) {
        double v = k * step;
        if (v == 0)
            v = 0; /* no -0 */
        if (!isfinite(v) || (a->log && !(v > 0)))
            continue;
        add_tick(out, eta_plot_axis_unit_(a, v), v, true);
    }
    label_linear(out->t + first, out->n - first, step);
}

/* Labelled ticks at m x 10^k for m in `mant`, minor ticks at the other m
 * of 1..9. Adds nothing and returns false unless there would be from 2 to
 * `most` labelled ones. */
static bool mantissa_ticks(const plot_axis *a, const int *mant, int nm, double most,
                           plot_ticks *out)
{
    int k0 = (int)floor(a->lo), k1 = (int)ceil(a->hi);
    for (int pass = 0; pass < 2; pass++) {
        int count = 0;
        for (int k = k0; k <= k1; k++) {
            for (int m = 1; m <= 9; m++) {
                double u = k + log10((double)m);
                if (u < a->lo - 1e-9 || u > a->hi + 1e-9)
                    continue;
                bool major = false;
                for (int i = 0; i < nm; i++)
                    major = major || mant[i] == m;
                count += major;
                if (pass == 0)
                    continue;
                double v = m * pow(10, k);
                plot_tick *t = add_tick(out, u, v, major);
                if (t && major)
                    fmt_compact(t->text, sizeof t->text, v);
            }
        }
        if (pass == 0 && (count < 2 || count > most))
            return false;
    }
    return true;
}

static void log_ticks(const plot_axis *a, double target, plot_ticks *out)
{
    double k0 = ceil(a->lo - 1e-9), k1 = floor(a->hi + 1e-9);
    if (k1 - k0 >= 1) {
        /* Decades, every stride-th: 1, 2, 3, 5, 10, 20, 30, 50, ... */
        double ndec = k1 - k0 + 1, stride = 1;
        static const double m[] = {1, 2, 3, 5};
        for (double mag = 1; stride == 1 && ndec > target + 0.5; mag *= 10) {
            for (int i = 0; i < 4; i++)
                if (ndec / (m[i] * mag) <= target + 0.5) {
                    stride = m[i] * mag;
                    break;
                }
        }
        /* Keep at least two labelled decades. */
        while (stride > 1 && floor(k1 / stride) - ceil(k0 / stride) < 1)
            stride = stride >= 10 ? stride / 10 : 1;
        bool minors = stride == 1 && ndec <= 1.5 * target + 1;
        for (double k = floor(a->lo); k <= k1; k++) {
            if (k >= k0 && fmod(k, stride) == 0) {
                plot_tick *t = add_tick(out, k, pow(10, k), true);
                if (!t)
                    return;
                snprintf(t->text, sizeof t->text, "10");
                snprintf(t->sup, sizeof t->sup, "%d", (int)k);
                put_minus(t->sup, sizeof t->sup);
            } else if (k >= k0 && stride <= 10) {
                add_tick(out, k, pow(10, k), false);
            }
            for (int j = 2; minors && j <= 9; j++) {
                double u = k + log10((double)j);
                if (u >= a->lo && u <= a->hi)
                    add_tick(out, u, j * pow(10, k), false);
            }
        }
        return;
    }
    static const int m125[] = {1, 2, 5}, m19[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    if (mantissa_ticks(a, m125, 3, target + 1, out))
        return;
    if (mantissa_ticks(a, m19, 9, target + 1, out))
        return;
    linear_ticks(a, pow(10, a->lo), pow(10, a->hi), target, out);
}

void eta_plot_ticks_(const plot_axis *a, double target, plot_ticks *out)
{
    out->n = 0;
    if (!(target >= 2))
        target = 2;
    if (a->log)
        log_ticks(a, target, out);
    else
        linear_ticks(a, a->lo, a->hi, target, out);
}
