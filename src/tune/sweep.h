/* tune/sweep.h - internal to the tune layer and the CLI: a sweep, a study of
 * trials over a search space of config keys, run in parallel worker
 * processes, each trial a normal training run (train/run.h) whose
 * evaluations a pruner may cut short. The pieces, one file each:
 *
 *   space.c    the search space: --grid KEY=logspace(a, b, n) | linspace(a, b, n)
 *              | [v, ...], --random KEY=loguniform(a, b) | uniform(a, b)
 *   sampler.c  trial n's point: the grid in a seeded order, seeded random,
 *              Sobol (Joe and Kuo's direction numbers) or Halton, unscrambled
 *   pruner.c   the pruners as a table of named kinds: none, median (Optuna's
 *              MedianPruner), sh (Optuna's SuccessiveHalvingPruner), hyperband
 *              (Optuna's HyperbandPruner), asha (Ray Tune's ASHAScheduler)
 *   study.c    the study in SQLite, kept as Optuna's RDB storage keeps it:
 *              settings, trials, params, intermediate values, rungs
 *   trial.c    one trial: its config (KEY=VALUE on a key or inside a spec:
 *              optimizer.lr in AdamW(lr=...)), its run, its reports
 *   sweep_out.c sweep.csv, the ranked summary, the charts
 *   coord.c    a distributed sweep's coordinator: the study on one process,
 *              trials handed out and decided in a one-process sweep's order
 *              (src/dist/sweep.c carries its messages over MPI)
 *
 * Trial numbers start at 0. A trial's resource for the Optuna pruners is
 * its optimizer step at each evaluation (Optuna's `step`); for ASHA the
 * number of evaluations so far (Ray's default time_attr,
 * training_iteration).
 */
#ifndef ETA_TUNE_SWEEP_H
#define ETA_TUNE_SWEEP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eta/core.h"
#include "train/config.h"

/* ---- the search space (space.c) ----------------------------------------- */

typedef enum sweep_dim_kind { SWEEP_GRID = 0, SWEEP_UNIFORM, SWEEP_LOGUNIFORM } sweep_dim_kind;

typedef struct sweep_dim {
    char key[128];     /* a config key: "data.batch_size", "optimizer.lr" (inside the spec) */
    sweep_dim_kind kind;
    int n;             /* GRID: the values */
    char **values;     /* GRID: each value's text, as --set takes it */
    double *nums;      /* GRID: each value as a number (NAN for a text) */
    double lo, hi;     /* UNIFORM, LOGUNIFORM: the range [lo, hi) */
} sweep_dim;

typedef struct sweep_space {
    int n;
    sweep_dim *dims;
} sweep_space;

enum { SWEEP_MAX_DIMS = 16, SWEEP_VALUE_LEN = 256 };

/* Adds a dimension from "KEY=EXPR" (--grid when grid, else --random).
 * ETA_EINVAL with a message naming the flag's text and the culprit (err->pos
 * its byte offset in arg): a missing '=', an unknown function, a range with
 * lo >= hi, loguniform or logspace with lo <= 0, n < 1, a key given twice. */
int sweep_space_add(sweep_space *s, const char *arg, bool grid, eta_err *err);
void sweep_space_free(sweep_space *s);
/* The number of grid points (the product of the grid dimensions' sizes), or
 * 0 when some dimension is not a grid. */
int64_t sweep_space_grid_size(const sweep_space *s);
/* Point u in [0, 1)^n to values: GRID picks value floor(u * n); UNIFORM
 * lo + u (hi - lo); LOGUNIFORM exp(log lo + u (log hi - log lo)). Texts are
 * the shortest that read back (eta_fmt_real). */
void sweep_space_value(const sweep_dim *d, double u, char *text, size_t n, double *num);

/* ---- samplers (sampler.c) --------------------------------------------- */

typedef enum sweep_sampler { SWEEP_SAMPLER_GRID = 0, SWEEP_SAMPLER_RANDOM, SWEEP_SAMPLER_SOBOL,
                             SWEEP_SAMPLER_HALTON, SWEEP_SAMPLER_COUNT } sweep_sampler;

const char *sweep_sampler_name(sweep_sampler k);
int sweep_sampler_parse(const char *s, sweep_sampler *out, eta_err *err);

/* The n-th point (n >= 0) of the unscrambled Sobol sequence in dimension
 * dim (0-based, < SWEEP_SOBOL_DIMS), as scipy.stats.qmc.Sobol(scramble=False)
 * gives it; of the Halton sequence (the dim-th prime as base, < 16 dims),
 * as scipy.stats.qmc.Halton(scramble=False). */
enum { SWEEP_SOBOL_DIMS = 16 };
double sweep_sobol(uint64_t n, int dim);
double sweep_halton(uint64_t n, int dim);

/* Trial `number`'s values: texts[i] (SWEEP_VALUE_LEN bytes each) and
 * nums[i] for each dimension of s. The grid sampler visits the grid in an
 * order shuffled by seed (as Optuna's GridSampler picks unvisited points at
 * random) and needs number < grid size; random draws uniform numbers from
 * the seed and the number; Sobol and Halton take the sequence's point
 * `number`: unscrambled with seed 0 (as Optuna's QMCSampler by default),
 * else shifted by the seed (Sobol digitally, Halton modulo 1). */
int sweep_sample(const sweep_space *s, sweep_sampler k, uint64_t seed, int64_t number, char texts[][SWEEP_VALUE_LEN],
                 double *nums, eta_err *err);

/* ---- pruners (pruner.c) ----------------------------------------------- */

typedef enum sweep_state { SWEEP_RUNNING = 0, SWEEP_COMPLETE, SWEEP_PRUNED, SWEEP_FAIL, SWEEP_STATE_COUNT } sweep_state;
const char *sweep_state_name(sweep_state s);

enum { SWEEP_MAX_RUNGS = 32 };

/* A trial as the pruners see it: its intermediate values in step order and
 * the values it recorded at each rung (NAN: none). */
typedef struct sweep_trial_view {
    int64_t number;
    sweep_state state;
    int nvals;
    int64_t *steps;
    double *vals;
    double rungs[SWEEP_MAX_RUNGS];
} sweep_trial_view;

typedef struct sweep_study_view {
    const char *name; /* the study's name (Hyperband's brackets hash it) */
    bool maximize;
    int ntrials;
    sweep_trial_view *trials;
} sweep_study_view;

typedef enum sweep_pruner_kind { SWEEP_PRUNER_NONE = 0, SWEEP_PRUNER_MEDIAN, SWEEP_PRUNER_SH, SWEEP_PRUNER_HYPERBAND,
                                 SWEEP_PRUNER_ASHA, SWEEP_PRUNER_COUNT } sweep_pruner_kind;

/* A pruner and its arguments; defaults are Optuna's and Ray Tune's. */
typedef struct sweep_pruner {
    sweep_pruner_kind kind;
    int64_t min_resource;      /* sh (0: "auto"), hyperband (1) */
    int64_t max_resource;      /* hyperband (0: "auto", the last step of the completed trials + 1) */
    int64_t reduction_factor;  /* sh, asha 4; hyperband 3 */
    int64_t min_early_stopping_rate; /* sh 0 */
    int64_t bootstrap_count;   /* sh, hyperband 0 */
    int64_t n_startup_trials;  /* median 5 */
    int64_t n_warmup_steps;    /* median 0 */
    int64_t interval_steps;    /* median 1 */
    int64_t n_min_trials;      /* median 1 */
    int64_t grace_period;      /* asha 1 */
    int64_t max_t;             /* asha 100 */
} sweep_pruner;

/* Parses --pruner: a name (none, median, sh, hyperband, asha) or a call
 * with keyword arguments, `sh(min_resource=430, reduction_factor=3)`.
 * ETA_EINVAL with err->pos in the text. */
int sweep_pruner_parse(const char *text, sweep_pruner *out, eta_err *err);
const char *sweep_pruner_name(sweep_pruner_kind k);

typedef enum sweep_decision { SWEEP_GO = 0, SWEEP_PRUNE, SWEEP_DONE } sweep_decision;

/* The decision on trial v->trials[self] after its last report (the last of
 * its vals). The rungs it passes are recorded into its `rungs` (the caller
 * keeps them). SWEEP_DONE: ASHA's max_t reached (the trial completes). */
sweep_decision sweep_pruner_decide(const sweep_pruner *p, sweep_study_view *v, int self);

/* The decision a sweep running its trials one after another (--workers 1)
 * would make on trial `self` after its last report, where v holds trials
 * 0..self only (the later ones hidden) and the earlier trials still running
 * have not finished. Returns 1 with *out (and self's rungs recorded, as
 * sweep_pruner_decide) when that decision is already fixed; 0 when it must
 * wait for the earlier trials:
 *   - a trial still running before self has not yet been decided at self's
 *     resource (asha: as many reports; the others: a report at a step at
 *     least self's), so the rungs and values self is compared with are not
 *     all there yet;
 *   - the decision reads which earlier trials complete (median's completed
 *     trials; sh's and hyperband's "auto" resources, which also read how
 *     long they ran) and differs between the ways those still running can
 *     end (each complete or not: every case is tried, up to 2^12).
 * none decides at once; median when the trial alone settles it (before
 * n_startup_trials earlier trials exist, in the warm-up, between intervals). */
int sweep_pruner_decide_ordered(const sweep_pruner *p, sweep_study_view *v, int self, sweep_decision *out);

/* numpy.percentile's default (linear) on the n non-NaN values of x (sorted
 * in place); NAN when there are none. */
double sweep_percentile(double *x, int n, double q);

/* ---- the study in SQLite (study.c) -------------------------------------- */

typedef struct sweep_study sweep_study;

/* Opens (creating the tables when new) DIR/study.db. Several processes may
 * hold it: every change is a transaction begun IMMEDIATE, with a busy
 * timeout. */
int sweep_study_open(sweep_study **out, const char *path, eta_err *err);
void sweep_study_close(sweep_study *st);

/* Settings, text by name ("config", "sampler", ...): all written in one
 * transaction when the study is new (returns 1 when it already had some:
 * nothing is written), read one by one (NULL: absent; the text is
 * malloc'd). */
int sweep_study_init(sweep_study *st, const char *const *names, const char *const *values, int n, eta_err *err);
char *sweep_study_setting(sweep_study *st, const char *name);

/* Claims the next trial for this process (pid): a new number while fewer
 * than n_trials exist, else a RUNNING trial whose process is gone (*rerun
 * true). Writes its params (texts[i] under names[i], from `sample`). Returns
 * 0 and *number, 1 when nothing is left, or an error. */
typedef int (*sweep_sample_fn)(void *ctx, int64_t number, char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err);
int sweep_study_claim(sweep_study *st, int64_t n_trials, int nparams, const char *const *names, sweep_sample_fn sample,
                      void *ctx, int64_t *number, bool *rerun, eta_err *err);

/* A trial's params as stored: texts[i] of names[i]. */
int sweep_study_params(sweep_study *st, int64_t number, int nparams, const char *const *names,
                       char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err);

/* Records trial `number`'s intermediate value at step and asks the pruner,
 * in one transaction (the rungs it passes stored with it). */
int sweep_study_report(sweep_study *st, int64_t number, int64_t step, double value, const sweep_pruner *p,
                       sweep_decision *out, eta_err *err);

/* sweep_study_report decided as sweep_pruner_decide_ordered decides, on
 * the trials up to `number`: returns 1, having written nothing, while the
 * decision must wait for earlier trials. A value that is not finite prunes
 * at once (no pruner asked) in both. */
int sweep_study_report_ordered(sweep_study *st, int64_t number, int64_t step, double value, const sweep_pruner *p,
                               sweep_decision *out, eta_err *err);

/* The last intermediate value trial `number` reported (NAN: none). */
double sweep_study_last_value(sweep_study *st, int64_t number);

/* Ends a trial: its state, final value (NAN: none), steps, seconds and a
 * note (the guard's report, an error; may be NULL). */
int sweep_study_finish(sweep_study *st, int64_t number, sweep_state state, double value, int64_t steps,
                       double seconds, const char *note, eta_err *err);

/* Every trial as the pruners see them, with its final value, steps,
 * seconds and note; free with sweep_study_view_free. */
typedef struct sweep_trial_row {
    double value;
    int64_t steps;
    double seconds;
    char note[256];
} sweep_trial_row;
int sweep_study_load(sweep_study *st, sweep_study_view *v, sweep_trial_row **rows, eta_err *err);
void sweep_study_view_free(sweep_study_view *v);

/* ---- a trial (trial.c) -------------------------------------------------- */

/* Sets KEY=VALUE in c: a key of the schema (train.epochs) as --set does, or
 * an argument of a section's spec (optimizer.lr: the keyword lr of
 * optimizer = AdamW(...), replaced or added). ETA_EINVAL naming the key. */
int sweep_config_set(eta_config *c, const char *key, const char *value, eta_err *err);

/* The sweep's settings as every worker reads them from the study. */
typedef struct sweep_plan {
    char dir[1024];            /* the sweep directory */
    char *config_path;         /* the config's name (messages, output.dir) */
    char *config_text;         /* its text */
    int nsets;
    char **sets;               /* fixed --set overrides */
    sweep_space space;
    sweep_sampler sampler;
    sweep_pruner pruner;
    char pruner_text[256];
    char metric[32];           /* val_loss, val_acc */
    bool maximize;
    int64_t n_trials;
    uint64_t seed;
    int threads;               /* per trial */
    char name[128];            /* the study's name */
} sweep_plan;

/* The study's settings, by name, that make a plan. */
enum { SWEEP_NSETTINGS = 12 };
extern const char *const SWEEP_SETTING_NAMES[SWEEP_NSETTINGS];

/* A plan from the settings' texts (values[i] of SWEEP_SETTING_NAMES[i]),
 * for the sweep directory dir: how the workers of a distributed sweep
 * build the plan rank 0 read from the study. */
int sweep_plan_from(sweep_plan *p, const char *dir, const char *const values[SWEEP_NSETTINGS], eta_err *err);

/* Opens DIR/study.db and reads the plan from its settings (ETA_EFORMAT: a
 * setting is missing). Close with sweep_study_close, sweep_plan_free. */
int sweep_open(const char *dir, sweep_study **st, sweep_plan *p, eta_err *err);
void sweep_plan_free(sweep_plan *p);
/* Trial `number`'s config: the config text, the fixed overrides, its
 * params, output.dir = DIR/trial-NNNN and train.threads. */
int sweep_trial_config(const sweep_plan *p, const char (*texts)[SWEEP_VALUE_LEN], int64_t number, eta_config **out,
                       char *msg, size_t msg_size, eta_err *err);

/* How a worker reaches its study. sweep_work's link calls the study in
 * SQLite itself; a distributed sweep's workers send the same calls to rank
 * 0 (src/dist/sweep.c), whose coordinator (coord.c) answers them. Each
 * returns 0 or a negative ETA_E* code with err filled. */
typedef struct sweep_link {
    void *ctx;
    /* The next trial: 0 with its number, whether it ran before (rerun) and
     * its params' texts; 1 when none is left. */
    int (*claim)(void *ctx, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err);
    /* A validation value at `step`; *out the pruner's decision (a value
     * that is not finite: SWEEP_PRUNE, no pruner asked). May wait. */
    int (*report)(void *ctx, int64_t number, int64_t step, double value, sweep_decision *out, eta_err *err);
    /* The trial's end. *value is its final value; with `lookup`, the last
     * value the study holds replaces it (a finished run resumed). */
    int (*finish)(void *ctx, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                  double seconds, const char *note, eta_err *err);
    /* One line of the sweep's log (no newline). */
    void (*log)(void *ctx, const char *line);
} sweep_link;

/* A worker: claims trials through link and runs them until none is left.
 * Returns 0, or an error (a trial whose config does not build:
 * ETA_EINVAL). */
int sweep_work_link(const sweep_plan *p, const sweep_link *link, const char *data_dir, eta_err *err);

/* A worker on the study in DIR itself. Messages (one line per trial event)
 * to `log`. */
int sweep_work(const char *dir, const char *data_dir, FILE *log, eta_err *err);

/* ---- a distributed sweep's coordinator (coord.c) ----------------------- */

/* Rank 0's side of a distributed sweep: it alone holds the study, hands out
 * trials to workers (numbered 0..nworkers-1 by the caller) and decides
 * their reports in the order a one-process sweep would
 * (sweep_study_report_ordered): a report whose decision must wait for
 * earlier trials is kept, one per worker, until sweep_coord_ready hands it
 * out. One thread at a time: the caller serializes the calls. */
typedef struct sweep_coord sweep_coord;
int sweep_coord_open(sweep_coord **out, const char *dir, int nworkers, FILE *log, eta_err *err);
void sweep_coord_close(sweep_coord *c);
const sweep_plan *sweep_coord_plan(const sweep_coord *c);
/* The study's settings' texts, SWEEP_SETTING_NAMES' order. */
const char *const *sweep_coord_settings(const sweep_coord *c);
int sweep_coord_claim(sweep_coord *c, int64_t *number, bool *rerun, char texts[][SWEEP_VALUE_LEN], eta_err *err);
/* Worker w's report: 0 and *out when decided now, 1 when it waits. */
int sweep_coord_report(sweep_coord *c, int w, int64_t number, int64_t step, double value, sweep_decision *out,
                       eta_err *err);
int sweep_coord_finish(sweep_coord *c, int64_t number, sweep_state state, double *value, bool lookup, int64_t steps,
                       double seconds, const char *note, eta_err *err);
/* A waiting report whose decision is fixed now: 1 with its worker and
 * decision, 0 when none is. Cheap to call often: the study is read again
 * only after a change, or half a second after the last look (a process
 * outside the job may work on the study too). */
int sweep_coord_ready(sweep_coord *c, int *w, sweep_decision *out, eta_err *err);
void sweep_coord_log(sweep_coord *c, const char *line);

/* ---- outputs (sweep_out.c) ---------------------------------------------- */

/* sweep.csv (a row per trial: number, params, state, the metric, steps,
 * seconds), the summary ranked by the metric to `out` (CSV), the compute
 * line to `log`, and the charts metric_vs_<first key>.png and
 * curves.png in DIR. *failed: the trials that failed (state fail). */
int sweep_outputs(const char *dir, FILE *out, FILE *log, int *failed, eta_err *err);

/* The summary's first row, when it completed: the best completed trial by
 * the metric (number -1 when none completed), its value and its value of
 * the first swept key; the steps of all trials and how many completed. */
typedef struct sweep_best_trial {
    int64_t number;
    double value, x;
    int64_t steps;
    int completed;
} sweep_best_trial;
int sweep_best(const char *dir, sweep_best_trial *best, eta_err *err);

#endif
