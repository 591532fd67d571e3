/* train/metrics.c - the metrics sink: events in, metrics.csv, layers.csv,
 * metrics.jsonl, the progress display and the log out (metrics.h has the
 * formats). The row of a step is held until the next step, an evaluation
 * of another step, a flush or a snapshot, so that an evaluation fills it.
 *
 * State format, version 1 (train/bytes.h: little-endian, CRC-32 at the end):
 *   "ETAMETRC" | u32 version | u32 ngroups | u8 momentum | u8 accuracy |
 *   3 x (u64 length | u32 crc) for metrics.csv, layers.csv, metrics.jsonl |
 *   f64 ema | i64 n | f64 smooth | i64 last_step |
 *   u8 has_snapshot | i64 step | 2 x (u64 length | u32 crc) | f64 ema | i64 n | f64 smooth |
 *   2 x (u64 n | n bytes): metrics.csv and layers.csv from the snapshot's lengths on |
 *   health (metrics_health.c) | u32 crc
 * The tails let a resume rebuild the files as they were at the checkpoint
 * even when a guard rollback after it cut rows the checkpoint had: only the
 * part before the snapshot must still match, the rest is written again.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"
#include "train/metrics_impl.h"

#define MAGIC "ETAMETRC"
#define VERSION 1u
#define BETA 0.98
#define MAX_GROUPS 64

/* A metrics.csv row waiting for its evaluation. */
typedef struct row {
    bool used, train, eval;
    int64_t step, epoch;
    double lr[MAX_GROUPS], mom[MAX_GROUPS];
    double loss, smooth, gn, rate;
    double val_loss, val_acc;
} row;

/* The smoothed loss: EMA (not debiased) over n finite losses. */
typedef struct ema {
    double avg;
    int64_t n;
    double smooth;  /* the debiased value after the last step, NaN before any */
} ema;

/* What the sink goes back to on a guard rollback. */
typedef struct sink_snap {
    bool has;
    int64_t step;
    uint64_t csv_off, lay_off;
    uint32_t csv_crc, lay_crc;
    ema e;
} sink_snap;

struct eta_metrics {
    eta_metrics_config cfg;
    mfile csv, lay, js;
    row pend;
    ema e;
    int64_t last_step;     /* the last step given (-1: none) */
    double prev_time, rate_avg, last_flush;
    int64_t rate_n;
    eta_progress_info shown;
    bool have_shown;
    health h;
    sink_snap snap;
    tbuf line;             /* reused for every line written */
};

eta_metrics_config eta_metrics_defaults(void)
{
    return (eta_metrics_config){.ngroups = 1, .ratio_lo = 1e-5, .ratio_hi = 1e-1, .ratio_evals = 3, .vanish = 1e-8};
}

/* ---- text ------------------------------------------------------------- */

static void put_str(tbuf *b, const char *s)
{
    tbuf_put_bytes(b, s, strlen(s));
}

static void put_real(tbuf *b, double x)
{
    char t[40];
    eta_fmt_real(t, sizeof t, x);
    put_str(b, t);
}

static void put_int(tbuf *b, int64_t v)
{
    char t[32];
    snprintf(t, sizeof t, "%lld", (long long)v);
    put_str(b, t);
}

/* A JSON number; NaN and infinities as the strings "nan", "inf", "-inf". */
static void json_real(tbuf *b, double x)
{
    if (isfinite(x)) {
        put_real(b, x);
    } else {
        put_str(b, "\"");
        put_real(b, x);
        put_str(b, "\"");
    }
}

static void json_string(tbuf *b, const char *s)
{
    put_str(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char t[8];
        if (c == '"' || c == '\\') {
            t[0] = '\\';
            t[1] = (char)c;
            tbuf_put_bytes(b, t, 2);
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(t, sizeof t, "\\u%04x", c);
            put_str(b, t);
        } else {
            tbuf_put_bytes(b, s, 1);
        }
    }
    put_str(b, "\"");
}

static void json_key(tbuf *b, const char *key)
{
    put_str(b, ",\"");
    put_str(b, key);
    put_str(b, "\":");
}

/* Starts {"type":TYPE,"step":STEP in m->line. */
static tbuf *json_begin(eta_metrics *m, const char *type, int64_t step)
{
    tbuf *b = &m->line;
    b->len = 0;
    put_str(b, "{\"type\":\"");
    put_str(b, type);
    put_str(b, "\",\"step\":");
    put_int(b, step);
    return b;
}

static int json_end(eta_metrics *m, eta_err *err)
{
    put_str(&m->line, "}\n");
    if (m->line.oom)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    return mfile_write(&m->js, m->line.p, m->line.len, err);
}

/* A CSV field (quoted as RFC 4180 says when needed). */
static void csv_string(tbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        put_str(b, s);
        return;
    }
    put_str(b, "\"");
    for (; *s; s++) {
        if (*s == '"')
            put_str(b, "\"\"");
        else
            tbuf_put_bytes(b, s, 1);
    }
    put_str(b, "\"");
}

/* ---- metrics.csv ------------------------------------------------------ */

static void header(eta_metrics *m, tbuf *b)
{
    int g = m->cfg.ngroups;
    put_str(b, "step,epoch");
    for (int pass = 0; pass < (m->cfg.momentum ? 2 : 1); pass++)
        for (int i = 0; i < g; i++) {
            put_str(b, pass ? ",momentum" : ",lr");
            if (g > 1) {
                put_str(b, "_");
                put_int(b, i);
            }
        }
    put_str(b, ",loss,smooth_loss,grad_norm,samples_per_s,val_loss");
    put_str(b, m->cfg.accuracy ? ",val_acc\n" : "\n");
}

static void csv_real(tbuf *b, bool have, double x)
{
    put_str(b, ",");
    if (have)
        put_real(b, x);
}

/* Writes the pending row, if any. */
static int write_row(eta_metrics *m, eta_err *err)
{
    row *r = &m->pend;
    if (!r->used)
        return ETA_OK;
    tbuf *b = &m->line;
    b->len = 0;
    put_int(b, r->step);
    put_str(b, ",");
    put_int(b, r->epoch);
    for (int i = 0; i < m->cfg.ngroups; i++)
        csv_real(b, r->train, r->lr[i]);
    for (int i = 0; m->cfg.momentum && i < m->cfg.ngroups; i++)
        csv_real(b, r->train, r->mom[i]);
    csv_real(b, r->train, r->loss);
    csv_real(b, r->train, r->smooth);
    csv_real(b, r->train, r->gn);
    csv_real(b, r->train && !isnan(r->rate), r->rate);
    csv_real(b, r->eval, r->val_loss);
    if (m->cfg.accuracy)
        csv_real(b, r->eval && !isnan(r->val_acc), r->val_acc);
    put_str(b, "\n");
    r->used = false;
    if (b->oom)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    return mfile_write(&m->csv, b->p, b->len, err);
}

/* ---- the log ---------------------------------------------------------- */

static void emit(eta_metrics *m, const char *text)
{
    if (m->cfg.progress)
        eta_progress_message(m->cfg.progress, text);
    if (m->cfg.log)
        m->cfg.log(m->cfg.log_ud, text);
}

static int warn_layer(void *ud, int64_t step, const char *layer, const char *kind, double value, const char *text,
                      eta_err *err)
{
    eta_metrics *m = ud;
    char line[600];
    snprintf(line, sizeof line, "warning: %s", text);
    emit(m, line);
    tbuf *b = json_begin(m, "warning", step);
    json_key(b, "layer");
    json_string(b, layer);
    json_key(b, "kind");
    json_string(b, kind);
    json_key(b, "value");
    json_real(b, value);
    json_key(b, "text");
    json_string(b, text);
    return json_end(m, err);
}

/* ---- open and close ----------------------------------------------------- */

static int check_config(const eta_metrics_config *c, eta_err *err)
{
    if (c->ngroups < 1 || c->ngroups > MAX_GROUPS)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "metrics: ngroups must be in [1, %d], got %d", MAX_GROUPS,
                             c->ngroups);
    if (!(c->ratio_lo > 0 && c->ratio_lo < c->ratio_hi) || c->ratio_evals < 1 || !(c->vanish >= 0))
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "metrics: need 0 < ratio_lo < ratio_hi, ratio_evals >= 1 and vanish >= 0");
    return ETA_OK;
}

static void put_snap(tbuf *b, const sink_snap *s)
{
    tbuf_put_u(b, s->has, 1);
    tbuf_put_u(b, (uint64_t)s->step, 8);
    tbuf_put_u(b, s->csv_off, 8);
    tbuf_put_u(b, s->csv_crc, 4);
    tbuf_put_u(b, s->lay_off, 8);
    tbuf_put_u(b, s->lay_crc, 4);
    tbuf_put_f64(b, s->e.avg);
    tbuf_put_u(b, (uint64_t)s->e.n, 8);
    tbuf_put_f64(b, s->e.smooth);
}

static void get_snap(tcur *c, sink_snap *s)
{
    s->has = tcur_u(c, 1) != 0;
    s->step = (int64_t)tcur_u(c, 8);
    s->csv_off = tcur_u(c, 8);
    s->csv_crc = (uint32_t)tcur_u(c, 4);
    s->lay_off = tcur_u(c, 8);
    s->lay_crc = (uint32_t)tcur_u(c, 4);
    s->e.avg = tcur_f64(c);
    s->e.n = (int64_t)tcur_u(c, 8);
    s->e.smooth = tcur_f64(c);
}

static int state_fail(eta_err *err, const char *what)
{
    return eta_spec_fail(err, ETA_EFORMAT, NULL, "metrics state: %s", what);
}

/* Reads a saved state into m and reopens the files at its lengths. */
static int resume(eta_metrics *m, const void *buf, size_t len, eta_err *err)
{
    tcur c = {buf, len, 0, false};
    const unsigned char *magic = tcur_bytes(&c, 8);
    if (!magic || memcmp(magic, MAGIC, 8))
        return state_fail(err, "not a metrics state (no ETAMETRC header)");
    if (!tbytes_crc_ok(buf, len))
        return state_fail(err, "checksum mismatch: damaged");
    c.len = len - 4;
    if ((uint32_t)tcur_u(&c, 4) != VERSION)
        return state_fail(err, "an unknown version");
    uint32_t g = (uint32_t)tcur_u(&c, 4);
    bool mom = tcur_u(&c, 1) != 0, acc = tcur_u(&c, 1) != 0;
    if (g != (uint32_t)m->cfg.ngroups || mom != m->cfg.momentum || acc != m->cfg.accuracy)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "metrics state: saved for %u parameter groups%s%s, the run has %d%s%s: the columns "
                             "would differ",
                             g, mom ? ", momentum" : "", acc ? ", accuracy" : "", m->cfg.ngroups,
                             m->cfg.momentum ? ", momentum" : "", m->cfg.accuracy ? ", accuracy" : "");
    uint64_t off[3];
    uint32_t crc[3];
    for (int i = 0; i < 3; i++) {
        off[i] = tcur_u(&c, 8);
        crc[i] = (uint32_t)tcur_u(&c, 4);
    }
    m->e.avg = tcur_f64(&c);
    m->e.n = (int64_t)tcur_u(&c, 8);
    m->e.smooth = tcur_f64(&c);
    m->last_step = (int64_t)tcur_u(&c, 8);
    get_snap(&c, &m->snap);
    const void *tail[2];
    size_t tail_len[2];
    for (int i = 0; i < 2; i++) {
        tail_len[i] = (size_t)tcur_u(&c, 8);
        tail[i] = tcur_bytes(&c, tail_len[i]);
    }
    if (c.bad)
        return state_fail(err, "truncated");
    const int64_t big = INT64_C(1) << 62; /* counts a run reaches, with room to count on */
    if (m->e.n < 0 || m->e.n > big || m->snap.e.n < 0 || m->snap.e.n > big || m->last_step < -1 ||
        m->last_step > big || m->snap.step < 0 || m->snap.step > big)
        return state_fail(err, "counts out of range");
    int rc = health_load(&m->h, &c);
    if (rc == ETA_ENOMEM)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    if (rc || c.pos != c.len)
        return state_fail(err, "inconsistent layer records");
    const char *dir = m->cfg.dir;
    const sink_snap *sn = &m->snap;
    bool s = sn->has;
    if ((rc = mfile_resume(&m->csv, dir, "metrics.csv", s ? sn->csv_off : off[0], s ? sn->csv_crc : crc[0], tail[0],
                           tail_len[0], off[0], crc[0], err)) ||
        (rc = mfile_resume(&m->lay, dir, "layers.csv", s ? sn->lay_off : off[1], s ? sn->lay_crc : crc[1], tail[1],
                           tail_len[1], off[1], crc[1], err)) ||
        (rc = mfile_resume(&m->js, dir, "metrics.jsonl", off[2], crc[2], NULL, 0, off[2], crc[2], err)))
        return rc;
    return ETA_OK;
}

static int create(eta_metrics *m, eta_err *err)
{
    const char *dir = m->cfg.dir;
    int rc;
    if ((rc = mfile_create(&m->csv, dir, "metrics.csv", err)) ||
        (rc = mfile_create(&m->lay, dir, "layers.csv", err)) || (rc = mfile_create(&m->js, dir, "metrics.jsonl", err)))
        return rc;
    tbuf *b = &m->line;
    b->len = 0;
    header(m, b);
    if (!b->oom && (rc = mfile_write(&m->csv, b->p, b->len, err)))
        return rc;
    const char *lh = "step,layer,grad_norm,update_ratio\n";
    if ((rc = mfile_write(&m->lay, lh, strlen(lh), err)))
        return rc;
    return b->oom ? eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory") : ETA_OK;
}

int eta_metrics_open(eta_metrics **out, const eta_metrics_config *cfg, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_metrics_config c = cfg ? *cfg : eta_metrics_defaults();
    int rc = check_config(&c, err);
    if (rc)
        return rc;
    eta_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    m->cfg = c;
    m->cfg.resume = NULL;
    m->cfg.resume_len = 0;
    m->e.smooth = NAN;
    m->last_step = -1;
    rc = c.resume ? resume(m, c.resume, c.resume_len, err) : create(m, err);
    if (rc) {
        eta_metrics_close(m, NULL);
        return rc;
    }
    *out = m;
    return ETA_OK;
}

/* Flushes the files, keeping the pending row (an evaluation may still fill it). */
static int flush_files(eta_metrics *m, eta_err *err)
{
    int rc = mfile_flush(&m->csv, err);
    if (!rc)
        rc = mfile_flush(&m->lay, err);
    if (!rc)
        rc = mfile_flush(&m->js, err);
    return rc;
}

int eta_metrics_flush(eta_metrics *m, eta_err *err)
{
    int rc = write_row(m, err);
    return rc ? rc : flush_files(m, err);
}

int eta_metrics_close(eta_metrics *m, eta_err *err)
{
    if (!m)
        return ETA_OK;
    int rc = write_row(m, err);
    int r2 = mfile_close(&m->csv, rc ? NULL : err);
    rc = rc ? rc : r2;
    r2 = mfile_close(&m->lay, rc ? NULL : err);
    rc = rc ? rc : r2;
    r2 = mfile_close(&m->js, rc ? NULL : err);
    rc = rc ? rc : r2;
    health_free(&m->h);
    free(m->line.p);
    free(m);
    return rc;
}

/* ---- events ------------------------------------------------------------- */

static int check_step(const eta_metrics *m, int64_t step, bool same_ok, eta_err *err)
{
    if (step < m->last_step || (!same_ok && step == m->last_step))
        return eta_spec_fail(err, ETA_ESTATE, NULL, "metrics: step %lld after step %lld: steps must increase",
                             (long long)step, (long long)m->last_step);
    return ETA_OK;
}

int eta_metrics_step(eta_metrics *m, const eta_train_step *s, eta_err *err)
{
    eta_err_clear(err);
    if (!s->lr)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "metrics: step %lld without lr", (long long)s->step);
    int rc = check_step(m, s->step, false, err);
    if (rc || (rc = write_row(m, err)))
        return rc;
    if (isfinite(s->loss)) {
        m->e.avg = BETA * m->e.avg + (1 - BETA) * s->loss;
        m->e.n++;
        m->e.smooth = m->e.avg / (1 - pow(BETA, (double)m->e.n));
    }
    double dt = s->time - m->prev_time, rate = dt > 0 && s->samples > 0 ? (double)s->samples / dt : NAN;
    m->prev_time = s->time;
    row *r = &m->pend;
    *r = (row){.used = true, .train = true, .step = s->step, .epoch = s->epoch, .loss = s->loss,
               .smooth = m->e.smooth, .gn = s->grad_norm, .rate = rate};
    for (int i = 0; i < m->cfg.ngroups; i++) {
        r->lr[i] = s->lr[i];
        r->mom[i] = s->momentum ? s->momentum[i] : NAN;
    }
    m->last_step = s->step;
    health_lr(&m->h, s->lr, m->cfg.ngroups);

    tbuf *b = json_begin(m, "step", s->step);
    json_key(b, "epoch");
    put_int(b, s->epoch);
    for (int pass = 0; pass < (m->cfg.momentum ? 2 : 1); pass++) {
        json_key(b, pass ? "momentum" : "lr");
        put_str(b, "[");
        for (int i = 0; i < m->cfg.ngroups; i++) {
            if (i)
                put_str(b, ",");
            json_real(b, pass ? r->mom[i] : r->lr[i]);
        }
        put_str(b, "]");
    }
    json_key(b, "loss");
    json_real(b, s->loss);
    json_key(b, "smooth_loss");
    json_real(b, m->e.smooth);
    json_key(b, "grad_norm");
    json_real(b, s->grad_norm);
    if (!isnan(rate)) {
        json_key(b, "samples_per_s");
        json_real(b, rate);
    }
    if ((rc = json_end(m, err)))
        return rc;

    /* The display: samples/s smoothed (debiased EMA, beta 0.9) over this process's steps. */
    if (!isnan(rate)) {
        m->rate_avg = 0.9 * m->rate_avg + 0.1 * rate;
        m->rate_n++;
    }
    m->shown = (eta_progress_info){.step = s->step, .epoch = s->epoch, .epoch_step = s->epoch_step,
                                   .loss = m->e.smooth, .lr = s->lr[0], .grad_norm = s->grad_norm,
                                   .samples_per_s = m->rate_n ? m->rate_avg / (1 - pow(0.9, (double)m->rate_n)) : NAN,
                                   .time = s->time};
    m->have_shown = true;
    if (m->cfg.progress)
        eta_progress_update(m->cfg.progress, &m->shown);
    if (s->time - m->last_flush >= 1.0) {
        m->last_flush = s->time;
        return flush_files(m, err);
    }
    return ETA_OK;
}

int eta_metrics_eval(eta_metrics *m, int64_t step, int64_t epoch, double val_loss, double val_acc, eta_err *err)
{
    eta_err_clear(err);
    int rc = check_step(m, step, true, err);
    if (rc)
        return rc;
    row *r = &m->pend;
    if (!(r->used && r->step == step)) {
        if ((rc = write_row(m, err)))
            return rc;
        *r = (row){.used = true, .step = step, .epoch = epoch};
    }
    r->eval = true;
    r->val_loss = val_loss;
    r->val_acc = m->cfg.accuracy ? val_acc : NAN;
    m->last_step = step;

    tbuf *b = json_begin(m, "eval", step);
    json_key(b, "epoch");
    put_int(b, epoch);
    json_key(b, "val_loss");
    json_real(b, val_loss);
    if (m->cfg.accuracy && !isnan(val_acc)) {
        json_key(b, "val_acc");
        json_real(b, val_acc);
    }
    if ((rc = json_end(m, err)))
        return rc;
    char line[256];
    int k = snprintf(line, sizeof line, "eval step %lld (epoch %lld): val_loss %.4g", (long long)step,
                     (long long)epoch + 1, val_loss);
    if (m->cfg.accuracy && !isnan(val_acc) && k > 0 && (size_t)k < sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, " val_acc %.4f", val_acc);
    emit(m, line);
    return eta_metrics_flush(m, err); /* the row is complete */
}

int eta_metrics_test(eta_metrics *m, int64_t step, double test_loss, double test_acc, eta_err *err)
{
    eta_err_clear(err);
    tbuf *b = json_begin(m, "test", step);
    json_key(b, "test_loss");
    json_real(b, test_loss);
    if (!isnan(test_acc)) {
        json_key(b, "test_acc");
        json_real(b, test_acc);
    }
    int rc = json_end(m, err);
    if (rc)
        return rc;
    char line[256];
    int k = snprintf(line, sizeof line, "test: loss %.4g", test_loss);
    if (!isnan(test_acc) && k > 0 && (size_t)k < sizeof line)
        snprintf(line + k, sizeof line - (size_t)k, " accuracy %.4f", test_acc);
    emit(m, line);
    return flush_files(m, err);
}

int eta_metrics_layers(eta_metrics *m, int64_t step, const eta_layer_stats *layers, int n, eta_err *err)
{
    eta_err_clear(err);
    int rc = ETA_OK;
    for (int i = 0; i < n && !rc; i++) {
        const char *name = layers[i].name ? layers[i].name : "?";
        tbuf *b = &m->line;
        b->len = 0;
        put_int(b, step);
        put_str(b, ",");
        csv_string(b, name);
        put_str(b, ",");
        put_real(b, layers[i].grad_norm);
        put_str(b, ",");
        put_real(b, layers[i].update_ratio);
        put_str(b, "\n");
        if (b->oom)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
        if ((rc = mfile_write(&m->lay, b->p, b->len, err)))
            return rc;
        b = json_begin(m, "layer", step);
        json_key(b, "layer");
        json_string(b, name);
        json_key(b, "grad_norm");
        json_real(b, layers[i].grad_norm);
        json_key(b, "update_ratio");
        json_real(b, layers[i].update_ratio);
        rc = json_end(m, err);
    }
    if (!rc)
        rc = health_observe(&m->h, &m->cfg, step, layers, n, warn_layer, m, err);
    return rc;
}

static int guard_rollback(eta_metrics *m, const eta_guard_event *ev, eta_err *err)
{
    const sink_snap *s = &m->snap;
    if (!s->has || s->step != ev->to_step)
        return eta_spec_fail(err, ETA_ESTATE, NULL,
                             "metrics: a rollback to step %lld, but the sink saw no snapshot there: pass every "
                             "guard event to eta_metrics_guard",
                             (long long)ev->to_step);
    m->pend.used = false;
    int rc = mfile_truncate(&m->csv, s->csv_off, s->csv_crc, err);
    if (!rc)
        rc = mfile_truncate(&m->lay, s->lay_off, s->lay_crc, err);
    m->e = s->e;
    m->last_step = s->step; /* rows up to it stay; the run's next row is s->step + 1 */
    return rc;
}

int eta_metrics_guard(eta_metrics *m, const eta_guard_event *ev, eta_err *err)
{
    eta_err_clear(err);
    int rc = ETA_OK;
    if (ev->action == ETA_GUARD_OK) {
        if (!ev->snapshot)
            return ETA_OK;
        /* The run's state before update ev->step: rows up to step ev->step (updates done). */
        if ((rc = write_row(m, err)))
            return rc;
        m->snap = (sink_snap){true, ev->step, m->csv.off, m->lay.off, m->csv.crc, m->lay.crc, m->e};
        return ETA_OK;
    }
    if (ev->action == ETA_GUARD_ROLLBACK && (rc = guard_rollback(m, ev, err)))
        return rc;
    char text[1024];
    eta_guard_describe(ev, text, sizeof text);
    tbuf *b = json_begin(m, "guard", ev->step);
    json_key(b, "action");
    json_string(b, eta_guard_action_name(ev->action));
    json_key(b, "trigger");
    json_string(b, eta_guard_trigger_name(ev->trigger));
    json_key(b, "value");
    json_real(b, ev->value);
    if (!isnan(ev->threshold)) {
        json_key(b, "threshold");
        json_real(b, ev->threshold);
    }
    if (!isnan(ev->z)) {
        json_key(b, "z");
        json_real(b, ev->z);
    }
    json_key(b, "lr");
    json_real(b, ev->lr);
    json_key(b, "lr_next");
    json_real(b, ev->lr_next);
    json_key(b, "lr_scale");
    json_real(b, ev->lr_scale);
    if (ev->action == ETA_GUARD_ROLLBACK) {
        json_key(b, "to_step");
        put_int(b, ev->to_step);
    }
    json_key(b, "tries");
    put_int(b, ev->tries);
    json_key(b, "text");
    json_string(b, text);
    if ((rc = json_end(m, err)))
        return rc;
    emit(m, text);
    return flush_files(m, err);
}

int eta_metrics_message(eta_metrics *m, int64_t step, const char *level, const char *text, eta_err *err)
{
    eta_err_clear(err);
    bool warning = level && !strcmp(level, "warning");
    if (!warning && !(level && !strcmp(level, "info")))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "metrics: level must be \"info\" or \"warning\", got \"%s\"",
                             level ? level : "(null)");
    tbuf *b = json_begin(m, "message", step);
    json_key(b, "level");
    json_string(b, level);
    json_key(b, "text");
    json_string(b, text);
    int rc = json_end(m, err);
    if (rc)
        return rc;
    if (warning) {
        char *line = malloc(strlen(text) + 10);
        if (!line)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
        sprintf(line, "warning: %s", text);
        emit(m, line);
        free(line);
    } else {
        emit(m, text);
    }
    return flush_files(m, err);
}

void eta_metrics_epoch_end(eta_metrics *m)
{
    if (m->cfg.progress && m->have_shown)
        eta_progress_epoch_end(m->cfg.progress, &m->shown);
}

double eta_metrics_smooth_loss(const eta_metrics *m)
{
    return m->e.smooth;
}

int eta_metrics_save_state(eta_metrics *m, void **buf, size_t *len, eta_err *err)
{
    eta_err_clear(err);
    int rc = eta_metrics_flush(m, err);
    if (rc)
        return rc;
    tbuf b = {0};
    tbuf_put_bytes(&b, MAGIC, 8);
    tbuf_put_u(&b, VERSION, 4);
    tbuf_put_u(&b, (uint64_t)m->cfg.ngroups, 4);
    tbuf_put_u(&b, m->cfg.momentum, 1);
    tbuf_put_u(&b, m->cfg.accuracy, 1);
    const mfile *f[3] = {&m->csv, &m->lay, &m->js};
    for (int i = 0; i < 3; i++) {
        tbuf_put_u(&b, f[i]->off, 8);
        tbuf_put_u(&b, f[i]->crc, 4);
    }
    tbuf_put_f64(&b, m->e.avg);
    tbuf_put_u(&b, (uint64_t)m->e.n, 8);
    tbuf_put_f64(&b, m->e.smooth);
    tbuf_put_u(&b, (uint64_t)m->last_step, 8);
    put_snap(&b, &m->snap);
    mfile *tf[2] = {&m->csv, &m->lay};
    const uint64_t from[2] = {m->snap.csv_off, m->snap.lay_off};
    for (int i = 0; i < 2; i++) { /* the rows a rollback may cut: see the format above */
        void *t = NULL;
        size_t tl = 0;
        if (m->snap.has && (rc = mfile_tail(tf[i], from[i], &t, &tl, err))) {
            free(b.p);
            return rc;
        }
        tbuf_put_u(&b, tl, 8);
        tbuf_put_bytes(&b, t, tl);
        free(t);
    }
    health_save(&m->h, &b);
    tbuf_put_crc(&b);
    if (b.oom) {
        free(b.p);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "metrics: out of memory");
    }
    *buf = b.p;
    *len = b.len;
    return ETA_OK;
}
