/* train/metrics.h - internal to the train layer: the metrics sink. One
 * stream of events, several writers: metrics.csv, layers.csv and
 * metrics.jsonl in the run directory, the progress display (progress.h) and
 * a log callback for messages.
 *
 * Files (numbers as Python's repr prints them: the shortest text that reads
 * back to the same double, "0.1", "1e-08", "1000000.0"):
 *
 * metrics.csv: one header, then one row per optimizer step taken, steps
 *   increasing; an evaluation fills the row of its step.
 *     step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss,val_acc
 *   step is the number of updates done (1 after the first); epoch counts
 *   from 0. With several parameter groups lr and momentum become lr_0, lr_1,
 *   ..., momentum_0, momentum_1, ...; momentum columns only when the
 *   optimizer has one (momentum or beta1), val_acc only for classifiers.
 *   smooth_loss is the debiased EMA of loss with beta 0.98 (fastai's
 *   smooth_loss; non-finite losses are left out of it). val_loss and val_acc
 *   are empty except at evaluation steps; an evaluation at a step with no
 *   training row (step 0, before training) gets a row of its own with the
 *   training columns empty. Non-finite values are written nan, inf, -inf.
 * layers.csv: step,layer,grad_norm,update_ratio - one row per layer at each
 *   eta_metrics_layers call (the evaluation interval); update_ratio is
 *   ||w_after - w_before|| / ||w_before|| of that step. Layer names are
 *   quoted as RFC 4180 says when they hold a comma, quote or newline.
 * metrics.jsonl: one JSON object per line and event, with "type":
 *   {"type":"step","step":1,"epoch":0,"lr":[0.1],"momentum":[0.9],"loss":2.3,
 *    "smooth_loss":2.3,"grad_norm":1.1,"samples_per_s":5120.0}
 *   {"type":"eval","step":938,"epoch":0,"val_loss":0.41,"val_acc":0.85}
 *   {"type":"test","step":4690,"test_loss":0.33,"test_acc":0.88}
 *   {"type":"layer","step":938,"layer":"fc1.weight","grad_norm":0.2,"update_ratio":0.0011}
 *   {"type":"guard","step":812,"action":"rollback","trigger":"loss_spike","value":9.1,
 *    "threshold":8.4,"z":7.2,"lr":0.025,"lr_next":0.0125,"lr_scale":0.5,"to_step":700,
 *    "tries":1,"text":"guard: ..."}
 *   {"type":"warning","step":2814,"layer":"fc3.weight","kind":"update_ratio_low",
 *    "value":3e-07,"text":"..."}      kinds: update_ratio_high, update_ratio_low, grad_vanishing
 *   {"type":"message","step":0,"level":"info","text":"..."}
 *   JSON has no NaN or infinity: those are written as the strings "nan",
 *   "inf" and "-inf" (Python's float() reads them back); absent fields
 *   (no momentum, no accuracy, no z) are left out. metrics.jsonl is the
 *   whole log: after a guard rollback it holds the abandoned steps, then the
 *   guard event, then the steps again from the snapshot; metrics.csv and
 *   layers.csv hold only the steps the run kept (rows after the snapshot
 *   are removed), so their steps always increase.
 *
 * Layer health: a layer whose update ratio stays outside [ratio_lo,
 * ratio_hi] (1e-5, 1e-1 around the healthy ~1e-3) for ratio_evals (3)
 * evaluations in a row, or whose gradient norm stays below vanish (1e-8)
 * times the total gradient norm of the layers given, gets one warning (once
 * per layer and kind for the whole run) on the log and in metrics.jsonl. A
 * low ratio does not count while the lr is below a tenth of the largest lr
 * of the run (an annealed schedule's tail moves weights little on purpose);
 * a non-finite ratio (all-zero weights) does not count either.
 *
 * Resume: eta_metrics_save_state (at a checkpoint) records the files'
 * lengths and CRC-32s, the sink's numbers, and the rows written since the
 * guard's last snapshot (a rollback after the checkpoint may cut them from
 * the files); a sink opened with those bytes checks that the files still
 * begin with what was recorded, cuts what came after (the steps the crashed
 * run did past its checkpoint), puts those rows back and continues, so a
 * resumed run's files equal an uninterrupted run's.
 *
 * Per step the run calls, in this order:
 *   eta_metrics_guard(m, &ev)            every guard decision (guard.h), before the update
 *   eta_metrics_step(m, &step)           when the update was taken (ev OK)
 *   eta_metrics_epoch_end(m)             after an epoch's last step
 *   eta_metrics_eval / _layers           at evaluation steps
 *   eta_metrics_save_state(m, ...)       with each checkpoint, last
 * The guard counts updates done before the one it checks (its step k is
 * the state after k updates), the sink the updates done after (the first
 * row is step 1): a snapshot at guard step k keeps the rows up to step k.
 * and at the end eta_metrics_test, then eta_metrics_close.
 */
#ifndef ETA_TRAIN_METRICS_H
#define ETA_TRAIN_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eta/core.h"
#include "train/guard.h"
#include "train/progress.h"

typedef struct eta_metrics eta_metrics;

typedef struct eta_metrics_config {
    const char *dir;          /* the run directory, which must exist; NULL: no files */
    int ngroups;              /* parameter groups, in [1, 64]; 1 */
    bool momentum;            /* momentum columns */
    bool accuracy;            /* val_acc column (a classifier) */
    eta_progress *progress;   /* borrowed, may be NULL */
    void (*log)(void *ud, const char *line); /* messages, may be NULL */
    void *log_ud;
    double ratio_lo, ratio_hi; /* 1e-5, 1e-1 */
    int ratio_evals;           /* 3 */
    double vanish;             /* 1e-8 */
    const void *resume;        /* bytes from eta_metrics_save_state, or NULL: a new run (files truncated) */
    size_t resume_len;
} eta_metrics_config;

eta_metrics_config eta_metrics_defaults(void);

/* One optimizer step's numbers. */
typedef struct eta_train_step {
    int64_t step;             /* updates done, 1 after the first */
    int64_t epoch;            /* 0-based */
    int64_t epoch_step;       /* updates done in this epoch */
    const double *lr;         /* ngroups learning rates used by the step */
    const double *momentum;   /* ngroups, or NULL */
    double loss;              /* the batch's loss */
    double grad_norm;         /* the global gradient norm (before clipping) */
    int64_t samples;          /* examples in the batch */
    double time;              /* seconds since the run (re)started in this process (monotonic) */
} eta_train_step;

/* One layer (a parameter tensor) at an evaluation step. */
typedef struct eta_layer_stats {
    const char *name;         /* "fc1.weight" */
    double grad_norm;
    double update_ratio;      /* ||delta w|| / ||w|| of the step */
} eta_layer_stats;

/* Fills *st for a tensor of n floats: the norm of grad, and the norm of
 * w_after - w_before over the norm of w_before (inf when w_before is all
 * zero and w moved, NaN when neither), summed in double in index order. */
void eta_layer_stats_compute(eta_layer_stats *st, const char *name, const float *w_before, const float *w_after,
                             const float *grad, int64_t n);

/* Opens (or, with cfg->resume, reopens) the files. Errors name the file:
 * ETA_EIO ("runs/x/metrics.csv: Permission denied"), ETA_EFORMAT (a state
 * that does not parse, files that no longer match it), ETA_EINVAL. */
int eta_metrics_open(eta_metrics **out, const eta_metrics_config *cfg, eta_err *err);
/* Writes what is pending, closes the files, frees the sink (NULL allowed);
 * returns the first write error. */
int eta_metrics_close(eta_metrics *m, eta_err *err);

int eta_metrics_step(eta_metrics *m, const eta_train_step *s, eta_err *err);
/* val_acc NaN when not a classifier. */
int eta_metrics_eval(eta_metrics *m, int64_t step, int64_t epoch, double val_loss, double val_acc, eta_err *err);
int eta_metrics_test(eta_metrics *m, int64_t step, double test_loss, double test_acc, eta_err *err);
int eta_metrics_layers(eta_metrics *m, int64_t step, const eta_layer_stats *layers, int n, eta_err *err);
/* Every guard decision. OK events write nothing but let the sink keep its
 * own snapshot when the guard took one; SKIP, ROLLBACK and STOP are written
 * to metrics.jsonl and the log (eta_guard_describe's text), and a ROLLBACK
 * cuts metrics.csv and layers.csv back to the snapshot's step. */
int eta_metrics_guard(eta_metrics *m, const eta_guard_event *ev, eta_err *err);
/* A message line: level "info" or "warning" (the log line starts with
 * "warning: " for the latter). */
int eta_metrics_message(eta_metrics *m, int64_t step, const char *level, const char *text, eta_err *err);
/* The epoch's last step was given: the progress bar ends its line. */
void eta_metrics_epoch_end(eta_metrics *m);

/* The smoothed loss of the last step (NaN before any). */
double eta_metrics_smooth_loss(const eta_metrics *m);

/* Writes what is pending and flushes the files. The last step's row is
 * written then: an evaluation of that step coming later gets a row of its
 * own (the sink flushes the files by itself every second of the run's
 * clock, keeping that row, and at evaluations, guard events and messages). */
int eta_metrics_flush(eta_metrics *m, eta_err *err);

/* Flushes (as eta_metrics_flush: after the step's evaluation), then the
 * sink's state as malloc'd bytes (versioned, CRC-32 checked) for a
 * checkpoint; give them back as cfg->resume. */
int eta_metrics_save_state(eta_metrics *m, void **buf, size_t *len, eta_err *err);

#endif
