/* tune/trial.c - a sweep's worker: it claims trials from the study, builds
 * each trial's config (the sweep's config, its fixed --set overrides, the
 * trial's params, its own run directory and thread count), runs it as a
 * normal training run (train/run.h) and reports every validation
 * evaluation to the study, whose pruner may stop the run there. A
 * non-finite value prunes the trial at once, as does a guard stop. The
 * worker reaches the study through a link (sweep_link): the local one here
 * calls SQLite itself; a distributed sweep's goes over MPI to rank 0.
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

const char *const SWEEP_SETTING_NAMES[SWEEP_NSETTINGS] = {"name", "config_path", "config", "sets", "space",
                                                           "sampler", "pruner", "metric", "direction", "trials",
                                                           "seed", "threads"};

int sweep_plan_from(sweep_plan *p, const char *dir, const char *const v[SWEEP_NSETTINGS], eta_err *err)
{
    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "%s", dir);
    snprintf(p->name, sizeof p->name, "%s", v[0]);
    int rc = ETA_OK;
    if (!(p->config_path = strdup(v[1])) || !(p->config_text = strdup(v[2])))
        rc = ETA_ENOMEM;
    char **lines;
    int nl;
    if (!rc)
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
    if (rc)
        sweep_plan_free(p);
    return rc;
}

static int plan_load(sweep_plan *p, sweep_study *st, const char *dir, eta_err *err)
{
    memset(p, 0, sizeof *p);
    char *v[SWEEP_NSETTINGS] = {0};
    int rc = ETA_OK;
    for (int i = 0; i < SWEEP_NSETTINGS; i++)
        if (!(v[i] = sweep_study_setting(st, SWEEP_SETTING_NAMES[i])) && !rc) {
            eta_err_clear(err);
            if (err) {
                err->code = ETA_EFORMAT;
                snprintf(err->msg, sizeof err->msg, "%.150s/study.db: no setting '%s' (not a sweep's study?)", dir,
                         SWEEP_SETTING_NAMES[i]);
            }
            rc = ETA_EFORMAT;
        }
    if (!rc)
        rc = sweep_plan_from(p, dir, (const char *const *)v, err);
    for (int i = 0; i < SWEEP_NSETTINGS; i++)
        free(v[i]);
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
    const sweep_link *link;
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
    t->nonfinite = !isfinite(x); /* diverged: pruned at once, whatever the pruner */
    int rc = t->link->report(t->link->ctx, t->number, rep->step, x, &t->decision, err);
    if (rc)
        return rc;
    if (t->nonfinite)
        t->decision = SWEEP_PRUNE;
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

/* Runs trial `number` with its params' texts; a config that does not
 * build is ETA_EINVAL (the sweep stops: every trial would fail alike); a
 * run that fails is a FAIL. */
static int run_trial(const sweep_link *link, const sweep_plan *p, int64_t number, bool rerun,
                     const char (*texts)[SWEEP_VALUE_LEN], const char *data_dir, eta_err *err)
{
    char full[2048] = "", what[1200], dir[1100], path[1200], line[2400];
    params_text(p, texts, what, sizeof what);
    eta_config *cfg;
    int rc;
    if ((rc = sweep_trial_config(p, texts, number, &cfg, full, sizeof full, err))) {
        double nan = NAN;
        link->finish(link->ctx, number, SWEEP_FAIL, &nan, false, 0, 0, full, NULL);
        snprintf(err->msg, sizeof err->msg, "%.255s", full);
        return rc;
    }
    snprintf(dir, sizeof dir, "%s/trial-%04lld", p->dir, (long long)number);
    snprintf(path, sizeof path, "%s/checkpoint.eta", dir);
    struct stat sb;
    bool resume = rerun && stat(path, &sb) == 0;
    trial_ctx t = {.link = link, .plan = p, .number = number, .last = NAN, .decision = SWEEP_GO};
    eta_run_options o = {.dir = dir, .data_dir = data_dir, .resume = resume, .progress = -1, .quiet = true,
                         .msg = full, .msg_size = sizeof full, .report = on_report, .report_ud = &t};
    eta_run *r = NULL;
    double t0 = now();
    snprintf(line, sizeof line, "trial %lld: %s%s", (long long)number, what,
             resume ? " (resumed from its checkpoint)" : rerun ? " (run again)" : "");
    link->log(link->ctx, line);
    if ((rc = eta_run_new(&r, cfg, &o, err))) {
        if (rc == ETA_EINVAL || rc == ETA_EFORMAT) { /* the config: every trial would fail alike */
            double nan = NAN;
            link->finish(link->ctx, number, SWEEP_FAIL, &nan, false, 0, 0, *full ? full : err->msg, NULL);
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
    eta_err e2;
    bool lookup = isnan(t.last) && !t.nonfinite; /* a finished run resumed: its last value is the study's */
    int frc = link->finish(link->ctx, number, state, &t.last, lookup, steps, secs, note, &e2);
    bool say = note && state != SWEEP_PRUNED;
    snprintf(line, sizeof line, "trial %lld: %s after %lld steps, %s %.6g (%.1f s)%s%.2000s", (long long)number,
             sweep_state_name(state), (long long)steps, p->metric, t.last, secs, say ? ": " : "", say ? note : "");
    link->log(link->ctx, line);
    eta_run_free(r);
    eta_config_free(cfg);
    if (frc) {
        *err = e2;
        return frc;
    }
    return ETA_OK;
}

int sweep_work_link(const sweep_plan *p, const sweep_link *link, const char *data_dir, eta_err *err)
{
    for (;;) {
        int64_t number;
        bool rerun;
        char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
        int rc = link->claim(link->ctx, &number, &rerun, texts, err);
        if (rc)
            return rc > 0 ? ETA_OK : rc;
        if ((rc = run_trial(link, p, number, rerun, (const char(*)[SWEEP_VALUE_LEN])texts, data_dir, err)))
            return rc;
    }
}

/* ---- the local link: the study in SQLite, this process's own ---------------- */

typedef struct local_link {
    sweep_study *st;
    const sweep_plan *p;
    FILE *log;
} local_link;

static int sample(void *ctx, int64_t number, char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err)
{
    const sweep_plan *p = ctx;
    return sweep_sample(&p->space, p->sampler, p->seed, number, texts, nums, err);
}

static int local_claim(void *ctx, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err)
{
    local_link *l = ctx;
    const char *names[SWEEP_MAX_DIMS];
    double nums[SWEEP_MAX_DIMS];
    for (int i = 0; i < l->p->space.n; i++)
        names[i] = l->p->space.dims[i].key;
    int rc = sweep_study_claim(l->st, l->p->n_trials, l->p->space.n, names, sample, (void *)l->p, number, rerun, err);
    if (rc)
        return rc;
    return sweep_study_params(l->st, *number, l->p->space.n, names, texts, nums, err);
}

static int local_report(void *ctx, int64_t number, int64_t step, double value, sweep_decision *out, eta_err *err)
{
    local_link *l = ctx;
    return sweep_study_report(l->st, number, step, value, &l->p->pruner, out, err);
}

static int local_finish(void *ctx, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                        double seconds, const char *note, eta_err *err)
{
    local_link *l = ctx;
    if (lookup)
        *value = sweep_study_last_value(l->st, number);
    return sweep_study_finish(l->st, number, state, *value, steps, seconds, note, err);
}

static void local_log(void *ctx, const char *line)
{
    local_link *l = ctx;
    fprintf(l->log, "%s\n", line);
    fflush(l->log);
}

int sweep_work(const char *dir, const char *data_dir, FILE *log, eta_err *err)
{
    sweep_study *st;
    sweep_plan p;
    int rc = sweep_open(dir, &st, &p, err);
    if (rc)
        return rc;
    local_link l = {st, &p, log};
    sweep_link link = {&l, local_claim, local_report, local_finish, local_log};
    rc = sweep_work_link(&p, &link, data_dir, err);
    sweep_plan_free(&p);
    sweep_study_close(st);
    return rc;
}
