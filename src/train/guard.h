/* train/guard.h - internal to the train layer: the divergence guard.
 *
 * The guard reads each step's loss and gradient norm before the optimizer
 * applies the update, so nothing non-finite ever reaches the weights, and
 * answers: continue, skip the step, roll back to the last good snapshot with
 * a lower learning rate, or stop with a report. The run gives it two
 * callbacks that save and restore the run's state (parameters, optimizer,
 * schedule, data position: whatever the run needs to go back) as opaque
 * bytes; the guard keeps the last good snapshot.
 *
 * Rules, checked in this order at every step (only the first that fires counts):
 *   nonfinite_loss      the loss is NaN or +-Inf
 *   nonfinite_grad_norm the gradient norm is NaN or +-Inf
 *   loss_above_best     the smoothed loss S (debiased EMA, beta 0.98, fastai's
 *                       and Lightning's smooth_loss, this step included)
 *                       exceeds loss_factor x the best S so far, from the
 *                       second step on (Lightning's 4 x best)
 *   loss_spike          z = (loss - mean) / std over the last `window` accepted
 *   grad_norm_spike     losses (gradient norms) exceeds z_threshold, once the
 *                       window holds `warmup` values (llm.c's outlier detector;
 *                       std is the population std; std 0 makes any larger
 *                       value a spike). Only upward spikes count.
 * A step that fires no rule is accepted: its values enter the windows and the
 * smoothed loss. A step that fires one is not (so one spike does not poison
 * the statistics), and the configured action follows:
 *   skip      the run drops the batch and does not update (nor advance its
 *             step); more than max_tries skips in a row stop the run
 *   rollback  the guard calls restore() with the last snapshot and the run
 *             goes on from the snapshot's step with its lr multiplied by
 *             lr_factor (eta_guard_lr_scale accumulates the factors); the
 *             guard's statistics return to what they were at the snapshot.
 *             A rollback is a try; `window` accepted steps in a row after it
 *             end the recovery (tries back to 0). A trigger when max_tries
 *             tries were already spent stops the run.
 *   stop      the run ends with the report (eta_guard_describe).
 * Snapshots are taken inside eta_guard_check at accepted steps that are
 * multiples of snapshot_every (step 0 included: the state before any update),
 * only when the run is healthy: no try in progress and `window` accepted
 * steps in a row since the last trigger (or no trigger yet). A trigger before
 * any snapshot exists stops the run (a non-finite loss at step 0 is not the
 * learning rate's doing).
 *
 * Per step, the run calls:
 *   lr = schedule_lr(step) * eta_guard_lr_scale(g);      set it on the optimizer
 *   loss, grads = forward/backward; gn = gradient norm
 *   eta_guard_check(g, step, loss, gn, lr, &ev, &err)
 *   OK: optimizer step, step++      SKIP: nothing, next batch at the same step
 *   ROLLBACK: the run's state was restored by the callback: step = ev.to_step
 *   STOP: eta_guard_describe(&ev, ...) and end the run
 *   and hands ev to the metrics sink (eta_metrics_guard) in every case.
 * The state (statistics, tries, scale and the snapshot itself) saves and
 * restores exactly, so a resumed run takes the same decisions.
 */
#ifndef ETA_TRAIN_GUARD_H
#define ETA_TRAIN_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "eta/core.h"

typedef enum eta_guard_action {
    ETA_GUARD_OK = 0,
    ETA_GUARD_SKIP,
    ETA_GUARD_ROLLBACK,
    ETA_GUARD_STOP,
    ETA_GUARD_ACTION_COUNT
} eta_guard_action;

typedef enum eta_guard_trigger {
    ETA_GUARD_NONE = 0,
    ETA_GUARD_NONFINITE_LOSS,
    ETA_GUARD_NONFINITE_GRAD_NORM,
    ETA_GUARD_LOSS_ABOVE_BEST,
    ETA_GUARD_LOSS_SPIKE,
    ETA_GUARD_GRAD_NORM_SPIKE,
    ETA_GUARD_TRIGGER_COUNT
} eta_guard_trigger;

/* "ok", "skip", "rollback", "stop"; "nonfinite_loss", ... (the names above). */
const char *eta_guard_action_name(eta_guard_action a);
const char *eta_guard_trigger_name(eta_guard_trigger t);
/* Parses "skip", "rollback" or "stop" (the [guard] action key). */
int eta_guard_action_parse(const char *s, eta_guard_action *out, eta_err *err);

/* Mirrors the [guard] section. */
typedef struct eta_guard_config {
    bool enabled;            /* true; false: every step is OK, nothing is kept */
    eta_guard_action action; /* ROLLBACK (or SKIP, STOP) */
    double lr_factor;        /* 0.5, in (0, 1) */
    int max_tries;           /* 3, >= 0 */
    double loss_factor;      /* 4.0, > 1; 0 turns loss_above_best off */
    int window;              /* 50, in [2, 100000] */
    double z_threshold;      /* 6.0, > 0; 0 turns both spike rules off */
    int warmup;              /* 20, in [2, window] */
    int64_t snapshot_every;  /* 100, >= 1 */
} eta_guard_config;

eta_guard_config eta_guard_defaults(void);

/* The run's state as opaque bytes. save: on entry *buf and *len hold the buffer
 * of an older snapshot (NULL and 0 the first times), malloc'd, which the callback
 * may reuse (realloc) so that a run in its stride allocates nothing; on
 * return *buf is a malloc'd buffer of *len bytes holding the state. restore
 * puts the run back in the saved state. Both return 0 or a negative ETA_E*
 * code. The guard frees its buffers with free(). */
typedef struct eta_guard_callbacks {
    int (*save)(void *ctx, void **buf, size_t *len);
    int (*restore)(void *ctx, const void *buf, size_t len);
    void *ctx;
} eta_guard_callbacks;

/* A decision. */
typedef struct eta_guard_event {
    eta_guard_action action;   /* what the run must do now */
    eta_guard_trigger trigger; /* why; ETA_GUARD_NONE for OK */
    int64_t step;              /* the step checked */
    double value;              /* what was seen: the loss, grad norm or smoothed loss */
    double threshold;          /* the limit it crossed: loss_factor x best, mean + z_threshold x std; NaN for non-finite */
    double z;                  /* spikes: the z-score; else NaN */
    double lr;                 /* the lr at the step, as passed */
    double lr_factor;          /* ROLLBACK: multiply the lr by this; STOP: the factor suggested; else 1 */
    double lr_scale;           /* the product of every rollback's factor so far */
    double lr_next;            /* ROLLBACK: lr x lr_factor; STOP: the lr to try (lr x lr_factor); else lr */
    double lr_snapshot;        /* the lr at the last snapshot (NaN: none) */
    int64_t to_step;           /* ROLLBACK: the snapshot's step, where the run goes on; else -1 */
    int tries;                 /* rollbacks since the last recovery, or skips in a row */
    bool snapshot;             /* OK: a snapshot was taken (before this step's update) */
} eta_guard_event;

typedef struct eta_guard eta_guard;

/* Checks cfg (ETA_EINVAL naming the key: "guard.lr_factor must be in (0, 1), got 2").
 * cb may be NULL only when no rollback can happen (action skip or stop). */
int eta_guard_new(eta_guard **out, const eta_guard_config *cfg, const eta_guard_callbacks *cb, eta_err *err);
void eta_guard_free(eta_guard *g);

/* Decides about the step `step` (updates taken so far; 0 before the first),
 * whose batch gave `loss` and gradient norm `grad_norm` at learning rate `lr`.
 * Fills *ev. Steps never decrease, except to ev.to_step after a rollback.
 * Errors: ETA_ESTATE (a step going back), or the code of a failing callback
 * (the message names it); the guard is then unchanged apart from the error. */
int eta_guard_check(eta_guard *g, int64_t step, double loss, double grad_norm, double lr, eta_guard_event *ev,
                    eta_err *err);

/* The product of every rollback's lr_factor: 1 until the first rollback. */
double eta_guard_lr_scale(const eta_guard *g);

/* One line for a decision ("guard: step 812: loss 9.1 above 4 x best smoothed
 * loss 2.1 = 8.4; rolled back to step 700, lr x 0.5 -> 0.0125 (try 1 of 3)");
 * for STOP, the report: where, what was seen against what threshold, the lr
 * at the time, and the lr to try. Returns snprintf's count. */
int eta_guard_describe(const eta_guard_event *ev, char *buf, size_t n);

/* The guard's whole state, snapshot included, as malloc'd bytes (versioned,
 * CRC-32 checked), and back. Loading checks the bytes and that the window
 * matches the config; on error the guard is unchanged. */
int eta_guard_save_state(const eta_guard *g, void **buf, size_t *len);
int eta_guard_load_state(eta_guard *g, const void *buf, size_t len, eta_err *err);

#endif
