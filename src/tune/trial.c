/* tune/trial.c - a sweep's worker: it claims trials from the study, builds
 * each trial's config (the sweep's config, its fixed --set overrides, the
 * trial's params, its own run directory and thread count), runs it as a
 * normal training run (train/run.h) and reports every validation
 * evaluation to the study, whose pruner may stop the run there. A
 * non-finite value prunes the trial at once, as does a guard stop.
 *
 * A param is a config key (data.batch_size=64, as --set takes it) or an
 * argument inside a section's spec: optimizer.lr=0.01 turns
 * `SGD(lr=0.05, momentum=0.9)` into `SGD(lr=0.01, momentum=0.9)` (an
 * argument not written is added: `AdamW()` becomes `AdamW(lr=0.01)`).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "train/run.h"
#include "tune/sweep.h"

/* "KEY: the [SEC] spec WHAT" */
static int set_fail(eta_err *err, const char *key, const char *sec, const char *what)
{
    eta_err_clear(err);
    if (err) {
        err->code = ETA_EINVAL;
        snprintf(err->msg, sizeof err->msg, "%s: the [%s] spec %s", key, sec, what);
    }
    return ETA_EINVAL;
}

int sweep_config_set(eta_config *c, const char *key, const char *value, eta_err *err)
{
    char sec[64], arg[128], *assign;
    const char *dot = strchr(key, '.');
    size_t sl = dot ? (size_t)(dot - key) : strlen(key);
    if (sl >= sizeof sec || (dot && strlen(dot + 1) >= sizeof arg))
        return set_fail(err, key, "?", "cannot hold a key this long");
    memcpy(sec, key, sl);
    sec[sl] = 0;
    snprintf(arg, sizeof arg, "%s", dot ? dot + 1 : "");
    const eta_config_key *spec = eta_config_key_find(sec, "spec");
    if (!dot || eta_config_key_find(sec, arg) || !spec || spec->type != ETA_CONFIG_SPEC) { /* as --set takes it */
        size_t n = strlen(key) + strlen(value) + 2;
        if (!(assign = malloc(n)))
            return ETA_ENOMEM;
        snprintf(assign, n, "%s=%s", key, value);
        int rc = eta_config_set(c, assign, err);
        free(assign);
        return rc;
    }
    const char *text = eta_config_get(c, sec, "spec");
    eta_spec *v;
    if (!text || eta_spec_parse(&v, text, NULL))
        return set_fail(err, key, sec, "does not parse");
    if (v->kind != ETA_SPEC_CALL) {
        eta_spec_free(v);
        return set_fail(err, key, sec, "is not a call, so it has no argument to set");
    }
    int from = v->pos + v->len - 1, to = from; /* the closing parenthesis: add the argument */
    bool add = true;
    for (int i = 0; i < v->n; i++)
        if (v->keys[i] && !strcmp(v->keys[i], arg)) {
            from = v->items[i]->pos;
            to = from + v->items[i]->len;
            add = false;
        }
    size_t n = strlen(sec) + strlen(text) + strlen(arg) + strlen(value) + 8;
    if (!(assign = malloc(n))) {
        eta_spec_free(v);
        return ETA_ENOMEM;
    }
    snprintf(assign, n, "%s=%.*s%s%s%s%s%s", sec, from, text, add && v->n ? ", " : "", add ? arg : "",
             add ? "=" : "", value, text + to);
    eta_spec_free(v);
    int rc = eta_config_set(c, assign, err);
    free(assign);
    return rc;
}

/* ---- the plan, from the study's settings ---------------------------------- */

void sweep_plan_free(sweep_plan *p)
{
    free(p->config_path);
    free(p->config_text);
    for (int i = 0; i < p->nsets; i++)
        free(p->sets[i]);
    free(p->sets);
    sweep_space_free(&p->space);
    memset(p, 0, sizeof *p);
}

/* Splits a setting's lines into *out (malloc'd strings). */
static int split_lines(const char *text, char ***out, int *n)
{
    *out = NULL;
    *n = 0;
    for (const char *s = text; s && *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char **o = realloc(*out, (size_t)(*n + 1) * sizeof *o);
        if (!o)
            return ETA_ENOMEM;
        *out = o;
        if (!(o[(*n)++] = strndup(s, len)))
            return ETA_ENOMEM;
        s = e ? e + 1 : s + len;
    }
    return ETA_OK;
}

static int plan_load(sweep_plan *p, sweep_study *st, const char *dir, eta_err *err)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    static const char *const NEED[] = {"name", "config_path", "config", "sets", "space", "sampler", "pruner",
                                       "metric", "direction", "trials", "seed", "threads"};
    char *v[12] = {0};
    int rc = ETA_OK;
    for (int i = 0; i < 12; i++)
        if (!(v[i] = sweep_study_setting(st, NEED[i])) && !rc) {
            eta_err_clear(err);
            if (err) {
                err->code = ETA_EFORMAT;
                snprintf(err->msg, sizeof err->msg, "%.150s/study.db: no setting '%s' (not a sweep's study?)", dir,
                         NEED[i]);
            }
            rc = ETA_EFORMAT;
        }
    if (!rc) {
        snprintf(p->name, sizeof p->name, "%s", v[0]);
        p->config_path = v[1];
        p->config_text = v[2];
        v[1] = v[2] = NULL;
        char **lines;
        int nl;
        rc = split_lines(v[3], &p->sets, &p->nsets);
        if (!rc && !(rc = split_lines(v[4], &lines, &nl))) {
            for (int i = 0; i < nl && !rc; i++) /* "grid KEY=EXPR" or "random KEY=EXPR" */
                rc = sweep_space_add(&p->space, lines[i] + (lines[i][0] == 'g' ? 5 : 7), lines[i][0] == 'g', err);
            for (int i = 0; i < nl; i++)
                free(lines[i]);
            free(lines);
        }
        if (!rc)
            rc = sweep_sampler_parse(v[5], &p->sampler, err);
        if (!rc)
            rc = sweep_pruner_parse(v[6], &p->pruner, err);
        snprintf(p->pruner_text, sizeof p->pruner_text, "%s", v[6]);
        snprintf(p->metric, sizeof p->metric, "%s", v[7]);
        p->maximize = !strcmp(v[8], "maximize");
        p->n_trials = strtoll(v[9], NULL, 10);
        p->seed = strtoull(v[10], NULL, 10);
        p->threads = atoi(v[11]);
    }
    for (int i = 0; i < 12; i++)
        free(v[i]);
    if (rc)
        sweep_plan_free(p);
    return rc;
}

int sweep_open(const char *dir, sweep_study **st, sweep_plan *p, eta_err *err)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/study.db", dir);
    int rc = sweep_study_open(st, path, err);
    if (rc)
        return rc;
    if ((rc = plan_load(p, *st, dir, err))) {
        sweep_study_close(*st);
        *st = NULL;
    }
    return rc;
}

int sweep_trial_config(const sweep_plan *p, const char (*texts)[SWEEP_VALUE_LEN], int64_t number, eta_config **out,
                       char *msg, size_t msg_size, eta_err *err)
{
    eta_config *c;
    int rc = eta_config_read_string(&c, p->config_text, strlen(p->config_text), p->config_path, err);
    char set[1200];
    const char *what = p->config_path;
    for (int i = 0; !rc && i < p->nsets; i++)
        rc = eta_config_set(c, what = p->sets[i], err);
    for (int i = 0; !rc && i < p->space.n; i++)
        rc = sweep_config_set(c, what = p->space.dims[i].key, texts[i], err);
    if (!rc) {
        snprintf(set, sizeof set, "output.dir=%s/trial-%04lld", p->dir, (long long)number);
        rc = eta_config_set(c, what = set, err);
    }
    if (!rc && p->threads > 0) {
        snprintf(set, sizeof set, "train.threads=%d", p->threads);
        rc = eta_config_set(c, what = set, err);
    }
    if (!rc) {
        what = p->config_path;
        rc = eta_config_check(c, err);
    }
    if (rc) {
        if (msg)
            snprintf(msg, msg_size, "trial %lld: %s: %s", (long long)number, what, err ? err->msg : "");
        eta_config_free(c);
        return rc == ETA_ENOMEM ? rc : ETA_EINVAL;
    }
    *out = c;
    return ETA_OK;
}

/* ---- one trial -------------------------------------------------------------- */

typedef struct trial_ctx {
    sweep_study *st;
    const sweep_plan *plan;
    int64_t number;
    double last;                /* the last value reported */
    sweep_decision decision;
    bool nonfinite;
} trial_ctx;

static int on_report(void *ud, const eta_run_report *rep, eta_err *err)
{
    trial_ctx *t = ud;
    double x = strstr(t->plan->metric, "acc") ? rep->val_acc : rep->val_loss;
    t->last = x;
    if (!isfinite(x)) { /* diverged: pruned at once, whatever the pruner */
        sweep_decision ignored;
        sweep_pruner none = {.kind = SWEEP_PRUNER_NONE};
        t->nonfinite = true;
        t->decision = SWEEP_PRUNE;
        int rc = sweep_study_report(t->st, t->number, rep->step, x, &none, &ignored, err);
        return rc ? rc : 1;
    }
    int rc = sweep_study_report(t->st, t->number, rep->step, x, &t->plan->pruner, &t->decision, err);
    if (rc)
        return rc;
    return t->decision != SWEEP_GO;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void params_text(const sweep_plan *p, const char (*texts)[SWEEP_VALUE_LEN], char *buf, size_t n)
{
    size_t at = 0;
    buf[0] = 0;
    for (int i = 0; i < p->space.n && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%s=%s", i ? " " : "", p->space.dims[i].key, texts[i]);
}

/* Runs trial `number`; a config that does not build is ETA_EINVAL (the
 * sweep stops: every trial would fail alike); a run that fails is a FAIL. */
static int run_trial(sweep_study *st, const sweep_plan *p, int64_t number, bool rerun, const char *data_dir,
                     FILE *log, eta_err *err)
{
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN], full[2048] = "", what[1200], dir[1100], path[1200];
    double nums[SWEEP_MAX_DIMS];
    const char *names[SWEEP_MAX_DIMS];
    for (int i = 0; i < p->space.n; i++)
        names[i] = p->space.dims[i].key;
    int rc = sweep_study_params(st, number, p->space.n, names, texts, nums, err);
    if (rc)
        return rc;
    params_text(p, (const char(*)[SWEEP_VALUE_LEN])texts, what, sizeof what);
    eta_config *cfg;
    if ((rc = sweep_trial_config(p, (const char(*)[SWEEP_VALUE_LEN])texts, number, &cfg, full, sizeof full, err))) {
        sweep_study_finish(st, number, SWEEP_FAIL, NAN, 0, 0, full, NULL);
        snprintf(err->msg, sizeof err->msg, "%.255s", full);
        return rc;
    }
    snprintf(dir, sizeof dir, "%s/trial-%04lld", p->dir, (long long)number);
    snprintf(path, sizeof path, "%s/checkpoint.eta", dir);
    struct stat sb;
    bool resume = rerun && stat(path, &sb) == 0;
    trial_ctx t = {.st = st, .plan = p, .number = number, .last = NAN, .decision = SWEEP_GO};
    eta_run_options o = {.dir = dir, .data_dir = data_dir, .resume = resume, .progress = -1, .quiet = true,
                         .msg = full, .msg_size = sizeof full, .report = on_report, .report_ud = &t};
    eta_run *r = NULL;
    double t0 = now();
    fprintf(log, "trial %lld: %s%s\n", (long long)number, what, resume ? " (resumed from its checkpoint)"
                                                                      : rerun ? " (run again)" : "");
    fflush(log);
    if ((rc = eta_run_new(&r, cfg, &o, err))) {
        if (rc == ETA_EINVAL || rc == ETA_EFORMAT) { /* the config: every trial would fail alike */
            sweep_study_finish(st, number, SWEEP_FAIL, NAN, 0, 0, *full ? full : err->msg, NULL);
            if (*full)
                snprintf(err->msg, sizeof err->msg, "%.255s", full);
            eta_config_free(cfg);
            return ETA_EINVAL;
        }
    } else {
        if (resume)
            rc = eta_run_load(r, path, err);
        if (!rc)
            rc = eta_run_fit(r, err);
    }
    int64_t steps = r ? eta_run_step_count(r) : 0;
    sweep_state state = SWEEP_COMPLETE;
    const char *note = NULL;
    if (t.decision == SWEEP_PRUNE) {
        state = SWEEP_PRUNED;
        note = t.nonfinite ? "non-finite value" : "pruned";
    } else if (rc == ETA_ESTATE && *full) { /* the guard stopped it: a diverged trial */
        state = SWEEP_PRUNED;
        note = full;
    } else if (rc) {
        state = SWEEP_FAIL;
        note = *full ? full : err->msg;
    }
    double secs = now() - t0;
    sweep_study_view v;
    if (isnan(t.last) && !t.nonfinite && !sweep_study_load(st, &v, NULL, NULL)) { /* a finished run resumed */
        if (number < v.ntrials && v.trials[number].nvals > 0)
            t.last = v.trials[number].vals[v.trials[number].nvals - 1];
        sweep_study_view_free(&v);
    }
    eta_err e2;
    int frc = sweep_study_finish(st, number, state, t.last, steps, secs, note, &e2);
    bool say = note && state != SWEEP_PRUNED;
    fprintf(log, "trial %lld: %s after %lld steps, %s %.6g (%.1f s)%s%s\n", (long long)number,
            sweep_state_name(state), (long long)steps, p->metric, t.last, secs, say ? ": " : "", say ? note : "");
    fflush(log);
    eta_run_free(r);
    eta_config_free(cfg);
    if (frc) {
        *err = e2;
        return frc;
    }
    return ETA_OK;
}

typedef struct sample_ctx {
    const sweep_plan *p;
} sample_ctx;

static int sample(void *ctx, int64_t number, char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err)
{
    const sweep_plan *p = ((sample_ctx *)ctx)->p;
    return sweep_sample(&p->space, p->sampler, p->seed, number, texts, nums, err);
}

int sweep_work(const char *dir, const char *data_dir, FILE *log, eta_err *err)
{
    sweep_study *st;
    sweep_plan p;
    int rc = sweep_open(dir, &st, &p, err);
    if (rc)
        return rc;
    const char *names[SWEEP_MAX_DIMS];
    for (int i = 0; i < p.space.n; i++)
        names[i] = p.space.dims[i].key;
    sample_ctx sc = {&p};
    for (;;) {
        int64_t number;
        bool rerun;
        rc = sweep_study_claim(st, p.n_trials, p.space.n, names, sample, &sc, &number, &rerun, err);
        if (rc) {
            rc = rc > 0 ? ETA_OK : rc;
            break;
        }
        if ((rc = run_trial(st, &p, number, rerun, data_dir, log, err)))
            break;
    }
    sweep_plan_free(&p);
    sweep_study_close(st);
    return rc;
}
