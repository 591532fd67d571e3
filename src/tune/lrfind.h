/* tune/lrfind.h - internal to tune and cli: Leslie Smith's learning-rate
 * range test ("Cyclical Learning Rates for Training Neural Networks",
 * arXiv 1506.01186, §3.3) as fastai's `Learner.lr_find` and Lightning's
 * `Tuner.lr_find` run it, on a training run (train/run.h), and the rules
 * that turn its curve into a suggested rate.
 *
 *     eta_lrfind_result res;
 *     eta_lrfind_run(run, &cfg, &res, &err);        // the run is as before afterwards
 *     eta_lr_suggestion s;
 *     eta_lr_suggest(ETA_LR_VALLEY, res.lr, res.smooth, res.n, cfg.steps, &s);
 *
 * The test (lrfind.c): batch i (from 0) trains at
 *     exp:    start * (end / start)^(i / steps)     (fastai's SchedExp)
 *     linear: start + (end - start) * i / steps     (fastai's SchedLin)
 * so the first batch is at `start` and `end` itself is never reached, as in
 * fastai. The smoothed loss is the debiased EMA, avg = beta avg + (1 - beta)
 * loss, smooth = avg / (1 - beta^(i+1)); the best is the lowest smoothed
 * loss so far (this one included) and the test stops after the batch whose
 * smoothed loss passes stop_factor times it (fastai's stop_div), or whose
 * loss is not finite (fastai and Lightning go on feeding batches to a
 * network that is already NaN; eta stops: the point is kept, and the rules
 * drop it). Before the first batch the run is snapshotted, after the last
 * it is restored (eta_run_snapshot): weights, optimizer state, schedule,
 * loader position, random streams and guard, so training afterwards is bit
 * for bit training without the test (Lightning#12670, #14113, #14824 are
 * what happens otherwise).
 *
 * The rules (lrsuggest.c) take the smoothed losses, as both anchors do
 * (their recorders keep the smoothed loss), and are ported line by line:
 *   valley, slide, minimum, steep   fastai (callback/schedule.py), on
 *       lrs[steps//10 : -5], truncated at the first NaN (fastai#3476);
 *   gradient   Lightning's `suggestion(skip_begin=10, skip_end=1)`: the
 *       non-finite points dropped, torch.gradient(losses, spacing=[lrs]),
 *       the lr at its argmin;
 *   log_gradient   the same with the gradient taken over ln(lr): what
 *       Lightning computed before 2.5.3 (np.gradient over the index, the
 *       same argmin on an exponential sweep); the lr spacing makes the
 *       noisy first points, where lr steps are tiny, look steepest
 *       (Lightning#21141).
 * The default is fastai's valley: it looks for the longest decreasing
 * stretch and takes a point two thirds down it, so noisy steps do not move
 * it much, and it is fastai's default (docs/lrfind.md compares the rules
 * on noisy curves).
 */
#ifndef ETA_TUNE_LRFIND_H
#define ETA_TUNE_LRFIND_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eta/core.h"
#include "train/config.h"
#include "train/run.h"

typedef enum eta_lrfind_mode { ETA_LRFIND_EXP = 0, ETA_LRFIND_LINEAR, ETA_LRFIND_MODE_COUNT } eta_lrfind_mode;

typedef struct eta_lrfind_config {
    double start, end;    /* rates, 0 < start < end */
    int64_t steps;        /* batches (fastai's num_it), in [2, 100000] */
    eta_lrfind_mode mode;
    double beta;          /* smoothing, in [0, 1) */
    double stop_factor;   /* > 1, or 0: never stop early */
} eta_lrfind_config;

/* fastai's: 1e-7, 10, 100 batches, exponential, beta 0.98, stop at 4x. */
eta_lrfind_config eta_lrfind_defaults(void);
/* ETA_EINVAL with a message naming the field when c is not valid. */
int eta_lrfind_config_check(const eta_lrfind_config *c, eta_err *err);
/* The rate of batch i (the header's formulas). */
double eta_lrfind_lr_at(const eta_lrfind_config *c, int64_t i);

/* The smoothing and the stop rule, one loss at a time (eta_lrfind_run's
 * loop, usable on any sequence of losses). */
typedef struct eta_lrfind_smoother {
    double beta, stop_factor;
    double avg, best;
    int64_t n;
} eta_lrfind_smoother;
void eta_lrfind_smoother_init(eta_lrfind_smoother *s, double beta, double stop_factor);
/* Adds a loss: *smooth gets the debiased EMA; returns true when the test
 * stops after this point (diverged past stop_factor, or not finite). */
bool eta_lrfind_smoother_add(eta_lrfind_smoother *s, double loss, double *smooth);

typedef struct eta_lrfind_result {
    int64_t n;            /* points recorded: steps, or fewer when it stopped early */
    int64_t steps;        /* the steps asked for */
    double *lr, *loss, *smooth;
    bool stopped;         /* stopped early (diverged) */
} eta_lrfind_result;

/* Runs the range test on r (built, not yet fitted; eta_run_options.no_files
 * for a run that only tests) and restores it. *out is filled (free with
 * eta_lrfind_result_free) even when the test failed part way. */
int eta_lrfind_run(eta_run *r, const eta_lrfind_config *c, eta_lrfind_result *out, eta_err *err);
void eta_lrfind_result_free(eta_lrfind_result *res);

/* ---- suggestions (lrsuggest.c) ------------------------------------------ */

typedef enum eta_lr_rule {
    ETA_LR_VALLEY = 0,
    ETA_LR_SLIDE,
    ETA_LR_MINIMUM,
    ETA_LR_STEEP,
    ETA_LR_GRADIENT,
    ETA_LR_LOG_GRADIENT,
    ETA_LR_RULE_COUNT
} eta_lr_rule;

/* "valley", "slide", "minimum", "steep", "gradient", "log_gradient". */
const char *eta_lr_rule_name(eta_lr_rule r);
/* A one-line description of the rule and where it comes from. */
const char *eta_lr_rule_doc(eta_lr_rule r);
int eta_lr_rule_parse(const char *s, eta_lr_rule *out, eta_err *err);

typedef struct eta_lr_suggestion {
    eta_lr_rule rule;
    bool ok;              /* false: the curve is too short for the rule (why says so) */
    double lr;            /* the suggested rate */
    double loss;          /* the smoothed loss at lr (interpolated over log lr where lr is no point) */
    int64_t index;        /* the point of the curve the rule chose, -1 when none (slide interpolates) */
    char why[256];
} eta_lr_suggestion;

/* Applies a rule to the curve (lr[i], smooth[i]), i < n, of a test asked
 * for `steps` batches (fastai's slice depends on it). Never fails: a curve
 * too short gives ok = false with the reason. */
void eta_lr_suggest(eta_lr_rule rule, const double *lr, const double *smooth, int64_t n, int64_t steps,
                    eta_lr_suggestion *out);

/* ---- output (lrfind_out.c) ---------------------------------------------- */

/* The CSV: step,lr,loss,smoothed_loss, one row per point. */
int eta_lrfind_write_csv(FILE *f, const eta_lrfind_result *res);
/* One line per suggestion: "valley,0.00123" (the default rule marked
 * "valley,0.00123,default"; a rule without one: "slide,,too few points..."). */
void eta_lrfind_write_suggestions(FILE *f, const eta_lr_suggestion *s, int ns, eta_lr_rule def);
/* The loss and smoothed loss against lr (log-x when mode is exp), each
 * suggestion a named mark. PNG or SVG by the extension. */
int eta_lrfind_plot(const char *path, const eta_lrfind_result *res, const eta_lrfind_config *c,
                    const eta_lr_suggestion *s, int ns, const char *title, eta_err *err);

/* ---- the config ---------------------------------------------------------- */

/* [lr_find]'s keys: the test and the rule optimizer.lr = auto takes. */
int eta_lrfind_config_read(const eta_config *cfg, eta_lrfind_config *c, eta_lr_rule *rule, eta_err *err);

/* ---- optimizer.lr = auto (lrauto.c) ------------------------------------- */

typedef struct eta_lr_auto_report {
    double lr;            /* the rate chosen */
    eta_lr_rule rule;
    double spec_peak;     /* the specs' own peak, which it replaces */
    int64_t points;       /* the test's points */
    bool stopped;
} eta_lr_auto_report;

/* When r's optimizer.lr is auto: runs the range test with [lr_find]'s
 * settings, takes its rule's suggestion as the run's peak rate
 * (eta_run_set_peak_lr: in the config and DIR/config.ini), and writes the
 * evidence into the run directory: lr_find.csv, lr_find.png (unless
 * output.plots is false) and lr_auto.txt (the settings, every rule's
 * suggestion, the rule taken and the rate). Returns 1 when there was
 * nothing to decide, 0 when it decided (*rep filled), or an error: the
 * rule has no suggestion (ETA_ESTATE, naming the rule and why). */
int eta_lr_auto(eta_run *r, const eta_config *cfg, eta_lr_auto_report *rep, eta_err *err);

/* The two halves of eta_lr_auto, for a decision made otherwise (the CLI's
 * optimizer.auto = sweep). eta_lr_auto_test_run: reads [lr_find], runs the
 * test, computes every rule's suggestion and writes lr_find.csv and
 * lr_find.png. eta_lr_auto_commit: writes lr_auto.txt (method, lr, the
 * test's settings and suggestions, then `extra`, lines of `key = value`)
 * and, when lr > 0, sets it as the run's peak rate (lr <= 0 or NaN: the
 * evidence of no decision, "lr = none"). */
typedef struct eta_lr_auto_test {
    eta_lrfind_config c;
    eta_lr_rule rule;     /* lr_find.rule */
    int64_t points;
    bool stopped;
    eta_lr_suggestion s[ETA_LR_RULE_COUNT];
} eta_lr_auto_test;
int eta_lr_auto_test_run(eta_run *r, const eta_config *cfg, eta_lr_auto_test *t, eta_err *err);
int eta_lr_auto_commit(eta_run *r, const eta_lr_auto_test *t, const char *method, double lr, const char *extra,
                       eta_err *err);

#endif
