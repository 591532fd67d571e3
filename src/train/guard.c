/* train/guard.c - the divergence guard: non-finite values, a smoothed loss
 * far above its best, loss and gradient-norm spikes by z-score; skip, roll
 * back to the last good snapshot with a lower lr, or stop. guard.h states
 * the rules. The smoothing follows fastai's and Lightning's LR finders
 * (beta 0.98, debiased, stop above 4 x best); the z-score window follows
 * llm.c's OutlierDetector (population std, skip above a threshold).
 *
 * State format, version 1 (train/bytes.h: little-endian, CRC-32 at the end):
 *   "ETAGUARD" | u32 version | u32 window | stats now | stats at snapshot |
 *   u8 has_snapshot | i64 snap_step | f64 lr_snapshot | u64 n | n bytes |
 *   i32 tries | u8 triggered | i64 streak | f64 lr_scale | i64 min_step | u32 crc
 * stats: f64 avg | i64 n | f64 best | u32 count | u32 head | window x f64 losses
 *        | window x f64 grad norms
 */
#include "train/guard.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/bytes.h"

#define MAGIC "ETAGUARD"
#define VERSION 1u
#define BETA 0.98
#define BIG (INT64_C(1) << 62) /* counts a run reaches, with room to count on */

/* What the rules look at: the smoothed loss and two windows of accepted values. */
typedef struct stats {
    double avg;   /* EMA of the loss, not debiased */
    int64_t n;    /* losses in the EMA */
    double best;  /* the lowest debiased EMA so far (+inf before any: the rule starts at the 2nd step) */
    int count;    /* values in the windows, <= window */
    int head;     /* where the next value goes */
    double *loss, *gnorm;  /* window values each, a ring */
} stats;

struct eta_guard {
    eta_guard_config cfg;
    eta_guard_callbacks cb;
    stats now, at_snap;
    bool has_snap;
    int64_t snap_step;
    double lr_snap;
    void *snap, *spare;  /* the good snapshot and a buffer for the next one */
    size_t snap_len, spare_len;
    int tries;
    bool triggered;      /* some step fired a rule */
    int64_t streak;      /* accepted steps in a row since the last trigger */
    double lr_scale;
    int64_t min_step;    /* the lowest step the next check may have */
};

static const char *const action_names[] = {"ok", "skip", "rollback", "stop"};
static const char *const trigger_names[] = {"none", "nonfinite_loss", "nonfinite_grad_norm", "loss_above_best",
                                            "loss_spike", "grad_norm_spike"};

const char *eta_guard_action_name(eta_guard_action a)
{
    return (unsigned)a < ETA_GUARD_ACTION_COUNT ? action_names[a] : "?";
}

const char *eta_guard_trigger_name(eta_guard_trigger t)
{
    return (unsigned)t < ETA_GUARD_TRIGGER_COUNT ? trigger_names[t] : "?";
}

int eta_guard_action_parse(const char *s, eta_guard_action *out, eta_err *err)
{
    for (int a = ETA_GUARD_SKIP; s && a < ETA_GUARD_ACTION_COUNT; a++)
        if (!strcmp(s, action_names[a])) {
            *out = (eta_guard_action)a;
            return ETA_OK;
        }
    return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.action must be rollback, skip or stop, got '%s'",
                         s ? s : "(null)");
}

eta_guard_config eta_guard_defaults(void)
{
    return (eta_guard_config){.enabled = true,
                              .action = ETA_GUARD_ROLLBACK,
                              .lr_factor = 0.5,
                              .max_tries = 5,
                              .loss_factor = 4.0,
                              .window = 100,
                              .z_threshold = 0.0,
                              .warmup = 100,
                              .snapshot_every = 100};
}

static int check_config(const eta_guard_config *c, eta_err *err)
{
    if (c->action != ETA_GUARD_SKIP && c->action != ETA_GUARD_ROLLBACK && c->action != ETA_GUARD_STOP)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.action must be rollback, skip or stop (got %d)",
                             (int)c->action);
    if (!(c->lr_factor > 0 && c->lr_factor < 1))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.lr_factor must be in (0, 1), got %g", c->lr_factor);
    if (c->max_tries < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.max_tries must be >= 0, got %d", c->max_tries);
    if (!(c->loss_factor == 0 || (c->loss_factor > 1 && isfinite(c->loss_factor))))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.loss_factor must be > 1 (or 0: off), got %g",
                             c->loss_factor);
    if (c->window < 2 || c->window > 100000)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.window must be in [2, 100000], got %d", c->window);
    if (!(c->z_threshold >= 0 && isfinite(c->z_threshold)))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.z_threshold must be > 0 (or 0: off), got %g",
                             c->z_threshold);
    if (c->warmup < 2 || c->warmup > c->window)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.warmup must be in [2, window = %d], got %d", c->window,
                             c->warmup);
    if (c->snapshot_every < 1)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard.snapshot_every must be >= 1, got %lld",
                             (long long)c->snapshot_every);
    return ETA_OK;
}

static void stats_reset(stats *s)
{
    s->avg = 0;
    s->n = 0;
    s->best = INFINITY;
    s->count = 0;
    s->head = 0;
}

/* Copies a's numbers into b (both with windows of w values). */
static void stats_copy(stats *b, const stats *a, int w)
{
    b->avg = a->avg;
    b->n = a->n;
    b->best = a->best;
    b->count = a->count;
    b->head = a->head;
    memcpy(b->loss, a->loss, (size_t)w * sizeof *b->loss);
    memcpy(b->gnorm, a->gnorm, (size_t)w * sizeof *b->gnorm);
}

int eta_guard_new(eta_guard **out, const eta_guard_config *cfg, const eta_guard_callbacks *cb, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_guard_config c = cfg ? *cfg : eta_guard_defaults();
    int rc = check_config(&c, err);
    if (rc)
        return rc;
    if (c.enabled && c.action == ETA_GUARD_ROLLBACK && (!cb || !cb->save || !cb->restore))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard: action rollback needs save and restore callbacks");
    eta_guard *g = calloc(1, sizeof *g);
    double *w = g ? calloc(4 * (size_t)c.window, sizeof *w) : NULL;
    if (!w) {
        free(g);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "guard: out of memory");
    }
    g->cfg = c;
    if (cb)
        g->cb = *cb;
    g->now.loss = w;
    g->now.gnorm = w + c.window;
    g->at_snap.loss = w + 2 * (size_t)c.window;
    g->at_snap.gnorm = w + 3 * (size_t)c.window;
    stats_reset(&g->now);
    stats_reset(&g->at_snap);
    g->snap_step = -1;
    g->lr_snap = NAN;
    g->lr_scale = 1;
    *out = g;
    return ETA_OK;
}

void eta_guard_free(eta_guard *g)
{
    if (!g)
        return;
    free(g->now.loss); /* the four windows are one block */
    free(g->snap);
    free(g->spare);
    free(g);
}

double eta_guard_lr_scale(const eta_guard *g)
{
    return g->lr_scale;
}

/* The debiased EMA after adding `loss` (without keeping it). */
static double smoothed_with(const stats *s, double loss, double *avg)
{
    *avg = BETA * s->avg + (1 - BETA) * loss;
    return *avg / (1 - pow(BETA, (double)(s->n + 1)));
}

/* Mean and population std of a window's values, summed in ring order from
 * the oldest (a fixed order: the same bits every time). */
static void window_moments(const stats *s, const double *v, int w, double *mean, double *sd)
{
    int first = (s->head - s->count + w) % w;
    double sum = 0;
    for (int i = 0; i < s->count; i++)
        sum += v[(first + i) % w];
    double m = sum / s->count, ss = 0;
    for (int i = 0; i < s->count; i++) {
        double d = v[(first + i) % w] - m;
        ss += d * d;
    }
    *mean = m;
    *sd = sqrt(ss / s->count);
}

/* Whether x is a spike against window v; fills value/threshold/z. */
static bool spike(const eta_guard *g, const double *v, double x, eta_guard_event *ev)
{
    if (g->cfg.z_threshold == 0 || g->now.count < g->cfg.warmup)
        return false;
    double mean, sd;
    window_moments(&g->now, v, g->cfg.window, &mean, &sd);
    double z = sd > 0 ? (x - mean) / sd : (x > mean ? INFINITY : 0);
    if (!(z > g->cfg.z_threshold))
        return false;
    ev->value = x;
    ev->threshold = mean + g->cfg.z_threshold * sd;
    ev->z = z;
    return true;
}

/* Which rule the step fires, filling value/threshold/z; *avg and *smooth
 * get the EMA with this loss, for accept(). */
static eta_guard_trigger detect(const eta_guard *g, double loss, double gn, eta_guard_event *ev, double *avg,
                                double *smooth)
{
    if (!isfinite(loss)) {
        ev->value = loss;
        return ETA_GUARD_NONFINITE_LOSS;
    }
    if (!isfinite(gn)) {
        ev->value = gn;
        return ETA_GUARD_NONFINITE_GRAD_NORM;
    }
    *smooth = smoothed_with(&g->now, loss, avg);
    if (g->cfg.loss_factor > 0 && *smooth > g->cfg.loss_factor * g->now.best) {
        ev->value = *smooth;
        ev->threshold = g->cfg.loss_factor * g->now.best;
        return ETA_GUARD_LOSS_ABOVE_BEST;
    }
    if (spike(g, g->now.loss, loss, ev))
        return ETA_GUARD_LOSS_SPIKE;
    if (spike(g, g->now.gnorm, gn, ev))
        return ETA_GUARD_GRAD_NORM_SPIKE;
    return ETA_GUARD_NONE;
}

static void accept(eta_guard *g, double loss, double gn, double avg, double smooth)
{
    stats *s = &g->now;
    s->avg = avg;
    s->n++;
    s->best = fmin(s->best, smooth);
    s->loss[s->head] = loss;
    s->gnorm[s->head] = gn;
    s->head = (s->head + 1) % g->cfg.window;
    if (s->count < g->cfg.window)
        s->count++;
}

/* Takes a snapshot through the save callback into the spare buffer; on
 * success it becomes the good one. */
static int take_snapshot(eta_guard *g, int64_t step, double lr, eta_err *err)
{
    int rc = g->cb.save(g->cb.ctx, &g->spare, &g->spare_len);
    if (rc)
        return eta_spec_fail(err, rc < 0 ? rc : ETA_EIO, NULL, "guard: saving the snapshot at step %lld failed: %s",
                             (long long)step, eta_strerror(rc));
    void *t = g->snap;
    size_t tl = g->snap_len;
    g->snap = g->spare;
    g->snap_len = g->spare_len;
    g->spare = t;
    g->spare_len = tl;
    g->has_snap = true;
    g->snap_step = step;
    g->lr_snap = lr;
    stats_copy(&g->at_snap, &g->now, g->cfg.window);
    return ETA_OK;
}

static bool healthy(const eta_guard *g)
{
    return !g->triggered || g->streak >= g->cfg.window; /* which implies no try in progress */
}

/* What a trigger leads to (ev->action), doing the rollback. */
static int react(eta_guard *g, double lr, eta_guard_event *ev, eta_err *err)
{
    const eta_guard_config *c = &g->cfg;
    ev->action = c->action;
    if (c->action == ETA_GUARD_SKIP && g->tries >= c->max_tries)
        ev->action = ETA_GUARD_STOP;
    if (c->action == ETA_GUARD_ROLLBACK && (g->tries >= c->max_tries || !g->has_snap))
        ev->action = ETA_GUARD_STOP;
    ev->lr_next = ev->action == ETA_GUARD_SKIP ? lr : lr * c->lr_factor;
    if (ev->action == ETA_GUARD_STOP)
        ev->lr_factor = c->lr_factor; /* the factor suggested */
    if (ev->action == ETA_GUARD_ROLLBACK) {
        int rc = g->cb.restore(g->cb.ctx, g->snap, g->snap_len);
        if (rc)
            return eta_spec_fail(err, rc < 0 ? rc : ETA_EIO, NULL,
                                 "guard: restoring the snapshot of step %lld failed: %s", (long long)g->snap_step,
                                 eta_strerror(rc));
        stats_copy(&g->now, &g->at_snap, c->window);
        g->lr_scale *= c->lr_factor;
        ev->lr_factor = c->lr_factor;
        ev->to_step = g->snap_step;
        g->min_step = g->snap_step;
    }
    if (ev->action != ETA_GUARD_STOP)
        g->tries++;
    g->triggered = true;
    g->streak = 0;
    return ETA_OK;
}

int eta_guard_check(eta_guard *g, int64_t step, double loss, double grad_norm, double lr, eta_guard_event *ev,
                    eta_err *err)
{
    eta_err_clear(err);
    *ev = (eta_guard_event){.action = ETA_GUARD_OK, .trigger = ETA_GUARD_NONE, .step = step, .value = NAN,
                            .threshold = NAN, .z = NAN, .lr = lr, .lr_factor = 1, .lr_next = lr,
                            .to_step = -1};
    if (step < g->min_step)
        return eta_spec_fail(err, ETA_ESTATE, NULL, "guard: step %lld after step %lld: steps cannot go back",
                             (long long)step, (long long)g->min_step);
    ev->lr_scale = g->lr_scale;
    ev->lr_snapshot = g->lr_snap;
    ev->tries = g->tries;
    if (!g->cfg.enabled)
        return ETA_OK;
    double avg = 0, smooth = 0;
    ev->trigger = detect(g, loss, grad_norm, ev, &avg, &smooth);
    if (ev->trigger != ETA_GUARD_NONE) {
        int rc = react(g, lr, ev, err);
        ev->lr_scale = g->lr_scale;
        ev->tries = g->tries;
        return rc;
    }
    if (step % g->cfg.snapshot_every == 0 && healthy(g) && !(g->has_snap && step == g->snap_step) &&
        g->cfg.action == ETA_GUARD_ROLLBACK) {
        int rc = take_snapshot(g, step, lr, err);
        if (rc)
            return rc;
        ev->snapshot = true;
        ev->lr_snapshot = lr;
    }
    accept(g, loss, grad_norm, avg, smooth);
    g->min_step = step;
    g->streak++;
    if (g->tries > 0 && (g->cfg.action == ETA_GUARD_SKIP || g->streak >= g->cfg.window))
        g->tries = 0; /* recovered (skips: counted in a row only) */
    return ETA_OK;
}

/* "1e-3"-style text for messages: %.4g. */
static const char *num(char *b, double x)
{
    snprintf(b, 32, "%.4g", x);
    return b;
}

/* What was seen, as a phrase. */
static int seen(const eta_guard_event *ev, char *buf, size_t n)
{
    char a[32], b[32], z[32];
    switch (ev->trigger) {
    case ETA_GUARD_NONFINITE_LOSS:
        return snprintf(buf, n, "the loss is %s", num(a, ev->value));
    case ETA_GUARD_NONFINITE_GRAD_NORM:
        return snprintf(buf, n, "the gradient norm is %s", num(a, ev->value));
    case ETA_GUARD_LOSS_ABOVE_BEST:
        return snprintf(buf, n, "the smoothed loss %s is above the limit %s (loss_factor x its best)",
                        num(a, ev->value), num(b, ev->threshold));
    case ETA_GUARD_LOSS_SPIKE:
    case ETA_GUARD_GRAD_NORM_SPIKE:
        return snprintf(buf, n, "the %s %s is a spike (z-score %s) above the limit %s",
                        ev->trigger == ETA_GUARD_LOSS_SPIKE ? "loss" : "gradient norm", num(a, ev->value),
                        num(z, ev->z), num(b, ev->threshold));
    default:
        return snprintf(buf, n, "nothing wrong");
    }
}

int eta_guard_describe(const eta_guard_event *ev, char *buf, size_t n)
{
    char what[256], a[32], b[32], c[32];
    seen(ev, what, sizeof what);
    long long st = (long long)ev->step;
    switch (ev->action) {
    case ETA_GUARD_OK:
        return snprintf(buf, n, "guard: step %lld: ok%s", st, ev->snapshot ? " (snapshot taken)" : "");
    case ETA_GUARD_SKIP:
        return snprintf(buf, n, "guard: step %lld: %s; step skipped (%d in a row)", st, what, ev->tries);
    case ETA_GUARD_ROLLBACK:
        return snprintf(buf, n, "guard: step %lld: %s; rolled back to step %lld, lr x %s -> %s (try %d)", st, what,
                        (long long)ev->to_step, num(a, ev->lr_factor), num(b, ev->lr_next), ev->tries);
    case ETA_GUARD_STOP:
        break;
    default:
        return snprintf(buf, n, "guard: step %lld: ?", st);
    }
    if (ev->step == 0 && ev->trigger <= ETA_GUARD_NONFINITE_GRAD_NORM)
        return snprintf(buf, n,
                        "guard: stopped at step 0: %s before any update, so the learning rate (%s) is not the "
                        "cause: check the data, the model and its initialisation",
                        what, num(a, ev->lr));
    int k = snprintf(buf, n, "guard: stopped at step %lld: %s; lr at the time %s", st, what, num(a, ev->lr));
    if (ev->lr_scale != 1 && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, " (the schedule's lr x %s after rollbacks)", num(b, ev->lr_scale));
    if (ev->tries > 0 && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "; it happened again after %d %s", ev->tries,
                      ev->tries == 1 ? "try" : "tries");
    if (k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, "; try lr %s (multiply the optimizer's lr, or a schedule's max_lr, by %s)",
                      num(a, ev->lr_next), num(c, ev->lr_scale * ev->lr_factor));
    if (!isnan(ev->lr_snapshot) && k >= 0 && (size_t)k < n)
        k += snprintf(buf + k, n - (size_t)k, ", or %s (the lr at the last good snapshot / 10)",
                      num(a, ev->lr_snapshot / 10));
    return k;
}

static void put_stats(tbuf *b, const stats *s, int w)
{
    tbuf_put_f64(b, s->avg);
    tbuf_put_u(b, (uint64_t)s->n, 8);
    tbuf_put_f64(b, s->best);
    tbuf_put_u(b, (uint64_t)s->count, 4);
    tbuf_put_u(b, (uint64_t)s->head, 4);
    for (int i = 0; i < w; i++)
        tbuf_put_f64(b, s->loss[i]);
    for (int i = 0; i < w; i++)
        tbuf_put_f64(b, s->gnorm[i]);
}

static bool get_stats(tcur *c, stats *s, int w)
{
    s->avg = tcur_f64(c);
    s->n = (int64_t)tcur_u(c, 8);
    s->best = tcur_f64(c);
    s->count = (int)tcur_u(c, 4);
    s->head = (int)tcur_u(c, 4);
    for (int i = 0; i < w; i++)
        s->loss[i] = tcur_f64(c);
    for (int i = 0; i < w; i++)
        s->gnorm[i] = tcur_f64(c);
    return !c->bad && s->n >= 0 && s->n <= BIG && s->count >= 0 && s->count <= w && s->head >= 0 && s->head < w;
}

int eta_guard_save_state(const eta_guard *g, void **buf, size_t *len)
{
    tbuf b = {0};
    int w = g->cfg.window;
    tbuf_put_bytes(&b, MAGIC, 8);
    tbuf_put_u(&b, VERSION, 4);
    tbuf_put_u(&b, (uint64_t)w, 4);
    put_stats(&b, &g->now, w);
    put_stats(&b, &g->at_snap, w);
    tbuf_put_u(&b, g->has_snap, 1);
    tbuf_put_u(&b, (uint64_t)g->snap_step, 8);
    tbuf_put_f64(&b, g->lr_snap);
    tbuf_put_u(&b, g->has_snap ? g->snap_len : 0, 8);
    if (g->has_snap)
        tbuf_put_bytes(&b, g->snap, g->snap_len);
    tbuf_put_u(&b, (uint64_t)(uint32_t)g->tries, 4);
    tbuf_put_u(&b, g->triggered, 1);
    tbuf_put_u(&b, (uint64_t)g->streak, 8);
    tbuf_put_f64(&b, g->lr_scale);
    tbuf_put_u(&b, (uint64_t)g->min_step, 8);
    tbuf_put_crc(&b);
    if (b.oom) {
        free(b.p);
        return ETA_ENOMEM;
    }
    *buf = b.p;
    *len = b.len;
    return ETA_OK;
}

int eta_guard_load_state(eta_guard *g, const void *buf, size_t len, eta_err *err)
{
    eta_err_clear(err);
    tcur c = {buf, len, 0, false};
    const unsigned char *magic = tcur_bytes(&c, 8);
    if (!magic || memcmp(magic, MAGIC, 8))
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "guard state: not a guard state (no ETAGUARD header)");
    if (!tbytes_crc_ok(buf, len))
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "guard state: checksum mismatch (%zu bytes): damaged", len);
    c.len = len - 4;
    uint32_t version = (uint32_t)tcur_u(&c, 4);
    if (version != VERSION)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "guard state: version %u, this eta reads version %u",
                             version, VERSION);
    int w = (int)tcur_u(&c, 4);
    if (w != g->cfg.window)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "guard state: saved with window %d, the guard has window %d", w,
                             g->cfg.window);
    eta_guard *t = NULL;
    eta_guard_config cfg = g->cfg;
    cfg.enabled = false; /* no callbacks needed for the scratch copy */
    if (eta_guard_new(&t, &cfg, NULL, NULL))
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "guard state: out of memory");
    bool ok = get_stats(&c, &t->now, w) && get_stats(&c, &t->at_snap, w);
    t->has_snap = tcur_u(&c, 1) != 0;
    t->snap_step = (int64_t)tcur_u(&c, 8);
    t->lr_snap = tcur_f64(&c);
    uint64_t n = tcur_u(&c, 8);
    const unsigned char *snap = tcur_bytes(&c, n);
    t->tries = (int)(int32_t)(uint32_t)tcur_u(&c, 4);
    t->triggered = tcur_u(&c, 1) != 0;
    t->streak = (int64_t)tcur_u(&c, 8);
    t->lr_scale = tcur_f64(&c);
    t->min_step = (int64_t)tcur_u(&c, 8);
    ok = ok && !c.bad && c.pos == c.len && t->tries >= 0 && t->tries <= (1 << 30) && t->streak >= 0 &&
         t->streak <= BIG && t->snap_step >= -1 && t->snap_step <= BIG && t->min_step >= 0 && t->min_step <= BIG &&
         t->lr_scale > 0 && t->lr_scale <= 1 && (t->has_snap || n == 0);
    void *copy = NULL;
    if (ok && n > 0 && !(copy = malloc((size_t)n))) {
        eta_guard_free(t);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "guard state: out of memory");
    }
    if (!ok) {
        eta_guard_free(t);
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "guard state: inconsistent fields (%zu bytes)", len);
    }
    if (n > 0)
        memcpy(copy, snap, (size_t)n);
    stats_copy(&g->now, &t->now, w);
    stats_copy(&g->at_snap, &t->at_snap, w);
    free(g->snap);
    g->snap = copy;
    g->snap_len = (size_t)n;
    g->has_snap = t->has_snap;
    g->snap_step = t->snap_step;
    g->lr_snap = t->lr_snap;
    g->tries = t->tries;
    g->triggered = t->triggered;
    g->streak = t->streak;
    g->lr_scale = t->lr_scale;
    g->min_step = t->min_step;
    eta_guard_free(t);
    return ETA_OK;
}
