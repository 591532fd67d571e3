/* tune/coord.c - a distributed sweep's coordinator, on rank 0: it alone
 * holds the study (SQLite), claims trials for the workers and decides their
 * reports in the order a one-process sweep (--workers 1) decides them: a
 * report is decided on the trials up to its own, once the earlier trials
 * still running have been decided at its resource and the decision no
 * longer depends on how they end (sweep_pruner_decide_ordered). Until then
 * the report waits here, one per worker, and its worker with it. It knows
 * nothing of MPI: src/dist/sweep.c carries the workers' calls to it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tune/sweep.h"

typedef struct waiting {
    bool on;
    int64_t number, step;
    double value;
} waiting;

struct sweep_coord {
    sweep_study *st;
    sweep_plan plan;
    char *settings[SWEEP_NSETTINGS];
    FILE *log;
    int nworkers;
    waiting *wait;   /* per worker */
    int *order;      /* the waiting workers, by trial number */
    bool changed;    /* the study changed since the waiting reports were last tried */
    double last_try; /* when they were */
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int sweep_coord_open(sweep_coord **out, const char *dir, int nworkers, FILE *log, eta_err *err)
{
    *out = NULL;
    sweep_coord *c = calloc(1, sizeof *c);
    size_t n = (size_t)(nworkers > 0 ? nworkers : 1);
    if (!c || !(c->wait = calloc(n, sizeof *c->wait)) || !(c->order = calloc(n, sizeof *c->order))) {
        if (c)
            free(c->wait);
        free(c);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "sweep: out of memory");
    }
    c->log = log;
    c->nworkers = nworkers;
    int rc = sweep_open(dir, &c->st, &c->plan, err);
    for (int i = 0; !rc && i < SWEEP_NSETTINGS; i++)
        if (!(c->settings[i] = sweep_study_setting(c->st, SWEEP_SETTING_NAMES[i])))
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "sweep: out of memory reading the study's settings");
    if (rc) {
        sweep_coord_close(c);
        return rc;
    }
    *out = c;
    return ETA_OK;
}

void sweep_coord_close(sweep_coord *c)
{
    if (!c)
        return;
    if (c->st) {
        sweep_study_close(c->st);
        sweep_plan_free(&c->plan);
    }
    for (int i = 0; i < SWEEP_NSETTINGS; i++)
        free(c->settings[i]);
    free(c->wait);
    free(c->order);
    free(c);
}

const sweep_plan *sweep_coord_plan(const sweep_coord *c)
{
    return &c->plan;
}

const char *const *sweep_coord_settings(const sweep_coord *c)
{
    return (const char *const *)c->settings;
}

static int sample(void *ctx, int64_t number, char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err)
{
    const sweep_plan *p = ctx;
    return sweep_sample(&p->space, p->sampler, p->seed, number, texts, nums, err);
}

int sweep_coord_claim(sweep_coord *c, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err)
{
    const sweep_plan *p = &c->plan;
    const char *names[SWEEP_MAX_DIMS];
    double nums[SWEEP_MAX_DIMS];
    for (int i = 0; i < p->space.n; i++)
        names[i] = p->space.dims[i].key;
    int rc = sweep_study_claim(c->st, p->n_trials, p->space.n, names, sample, (void *)p, number, rerun, err);
    if (rc)
        return rc;
    c->changed = true;
    return sweep_study_params(c->st, *number, p->space.n, names, texts, nums, err);
}

int sweep_coord_report(sweep_coord *c, int w, int64_t number, int64_t step, double value, sweep_decision *out,
                       eta_err *err)
{
    if (w < 0 || w >= c->nworkers || c->wait[w].on)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "sweep: a report from worker %d, which %s", w,
                             w < 0 || w >= c->nworkers ? "does not exist" : "already waits for a decision");
    int rc = sweep_study_report_ordered(c->st, number, step, value, &c->plan.pruner, out, err);
    if (rc == 1)
        c->wait[w] = (waiting){true, number, step, value};
    else if (rc == 0)
        c->changed = true;
    return rc;
}

int sweep_coord_finish(sweep_coord *c, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                       double seconds, const char *note, eta_err *err)
{
    if (lookup)
        *value = sweep_study_last_value(c->st, number);
    c->changed = true;
    return sweep_study_finish(c->st, number, state, *value, steps, seconds, note, err);
}

int sweep_coord_ready(sweep_coord *c, int *w, sweep_decision *out, eta_err *err)
{
    bool any = false;
    for (int i = 0; i < c->nworkers; i++)
        any |= c->wait[i].on;
    if (!any || (!c->changed && now() - c->last_try < 0.5))
        return 0;
    c->last_try = now();
    /* every waiting report, the lowest trial first: deciding it may settle the ones after it */
    int *order = c->order, n = 0;
    for (int i = 0; i < c->nworkers; i++)
        if (c->wait[i].on)
            order[n++] = i;
    for (int a = 1; a < n; a++)
        for (int b = a; b > 0 && c->wait[order[b]].number < c->wait[order[b - 1]].number; b--) {
            int t = order[b];
            order[b] = order[b - 1];
            order[b - 1] = t;
        }
    for (int k = 0; k < n; k++) {
        waiting *x = &c->wait[order[k]];
        int rc = sweep_study_report_ordered(c->st, x->number, x->step, x->value, &c->plan.pruner, out, err);
        if (rc < 0)
            return rc;
        if (rc == 0) {
            x->on = false;
            *w = order[k];
            c->changed = true; /* the next call tries the others again */
            return 1;
        }
    }
    c->changed = false;
    return 0;
}

void sweep_coord_log(sweep_coord *c, const char *line)
{
    fprintf(c->log, "%s\n", line);
    fflush(c->log);
}
