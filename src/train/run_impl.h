/* train/run_impl.h - internal to the run's files (run.c, run_build.c,
 * run_fit.c, run_ckpt.c): the run's fields and the functions they share.
 * Fields under "state" are the run's own saved state (run_ckpt.c); the rest
 * is rebuilt from the config. */
#ifndef ETA_TRAIN_RUN_IMPL_H
#define ETA_TRAIN_RUN_IMPL_H

#include <stdarg.h>
#include <stdio.h>

#include "core/fmt.h"
#include "train/guard.h"
#include "train/metrics.h"
#include "train/progress.h"
#include "train/run.h"

enum { RUN_MAX_KEPT = 64 };

struct eta_run {
    eta_config *cfg;
    eta_run_options opts;
    char dir[1024];
    /* built from the config */
    eta_dataset *ds;
    const eta_data_info *info;
    eta_net *net;
    eta_optim *opt;
    eta_sched *sched;         /* NULL: the initial lr throughout */
    bool sched_per_epoch;     /* [schedule] interval = epoch */
    eta_loader *loader;       /* the training split */
    int64_t batch, eval_batch;
    int64_t batches;          /* training batches per epoch */
    int64_t steps_per_epoch;  /* ceil(batches / accumulate) */
    int64_t total_steps;
    int64_t epochs;
    bool by_epochs;           /* the length was given in epochs (train.steps = 0): the run ends with its
                                 last epoch's last batch, however many steps the guard skipped or undid */
    int accumulate;
    double clip_norm, clip_value;
    int64_t eval_every;       /* steps; 0: at each epoch's end */
    int64_t log_every;
    int64_t ckpt_every;       /* steps; 0: at each epoch's end */
    int64_t stats_every;      /* per-layer figures, every this many steps */
    bool early_stopping;
    char monitor[32];         /* val_loss, val_acc, ... */
    bool monitor_max;
    int64_t patience;
    double min_delta;
    uint64_t seed;
    int64_t prepared;         /* the batch the network is prepared for */
    float *gacc;              /* accumulated gradients (accumulate > 1) */
    float *prev;              /* the weights before a step, for update ratios */
    bool has_momentum;        /* the optimizer has a momentum or beta1 to show */
    eta_layer_stats *layer_stats; /* one per parameter array */
    eta_average *avg;         /* [train] average; NULL: none (run_average.c) */
    int64_t avg_start;        /* the average takes the weights after steps > avg_start */
    int64_t avg_every;        /* every this many steps; 0: at each epoch's end */
    bool avg_buffers;         /* use_buffers: BatchNorm statistics averaged, not recomputed */
    eta_guard *guard;
    eta_metrics *metrics;
    eta_progress *progress;
    bool progress_on;         /* a bar or lines: messages go through it */
    void *metrics_resume;     /* the sink's state from a checkpoint, until the sink opens */
    size_t metrics_resume_len;
    double t_start;           /* when eta_run_fit started (monotonic seconds) */
    double t_epochs;          /* seconds from then to the end of its last epoch (eta_run_fit_seconds) */
    bool warned_io;
    int64_t kept[RUN_MAX_KEPT]; /* steps of the older checkpoints kept (output.keep_checkpoints) */
    int kept_count;
    bool stopped;             /* the guard stopped the run */
    int64_t checkpoints;      /* checkpoints this process began to write (the fault hook counts them) */
    char class_name[24];      /* eta_run_class_name's number for a class without a name */
    double test_loss, test_acc;
    double lr_peak;           /* optimizer.lr: the run's peak rate; 0: as the specs say */
    double lr_top;            /* the specs' own peak rate (eta_run_spec_peak_lr) */
    bool lr_pending;          /* optimizer.lr = auto, not decided yet */
    double lr_k;              /* [train] lr_scaling's full factor (k or sqrt(k)); 1: no scaling (lr_scaling.c) */
    int64_t lr_k_warmup;      /* steps over which the factor rises from 1 to lr_k; 0: none */
    /* data-parallel steps (run_shard.c) */
    int shards;               /* [dist] shards: a batch's shards (1: none) */
    bool sharded;             /* steps go through run_shard_batch: shards > 1 or several processes */
    eta_run_comm comm;        /* the exchange: the options' or the local one */
    void *local_comm;         /* the local exchange's state (one process) */
    float *bufsave;           /* BatchNorm statistics after shard 0 */
    size_t bufsave_n;
    /* ZeRO-1 (run_zero.c) */
    bool zero;                /* [dist] zero_optimizer: opt holds this process's slice */
    size_t *zlo;              /* the slices: process j's [zlo[j], zlo[j+1]) */
    size_t *zblk;             /* the gradient norm's blocks of each slice */
    double *zpart;            /* every block's sum of squares */
    char no_decay[1024];      /* optimizer.no_decay's patterns, comma-separated */
    bool ckpt_io;             /* the state goes to or comes from a checkpoint: the whole optimizer */
    char zero_msg[512];       /* rank 0: what each process keeps (the run's log says it) */
    /* state */
    int64_t step;             /* optimizer steps taken (skipped ones included) */
    int64_t epoch;            /* epochs finished */
    int64_t batch_in_epoch;   /* training batches read in this epoch */
    int64_t samples;          /* training examples seen */
    double best;              /* best monitored value (early stopping) */
    int64_t bad_evals;        /* evaluations without improvement */
    bool finished;
    int64_t bn_step;          /* the step BatchNorm statistics were last recomputed at the evaluation point
                                 (Schedule-Free; -1 never), so a resumed run does not recompute them twice */
};

double run_now(void);
/* A data-parallel process other than rank 0: it computes every step but
 * writes no file (rank 0 writes the run directory). */
static inline bool run_follower(const eta_run *r)
{
    return r->opts.comm && r->opts.comm->rank != 0;
}
/* Moves the parameters to the optimizer's evaluation point (Schedule-Free's
 * x; a no-op for rules with one point or in eval mode already) and, for a
 * network with BatchNorm running statistics, recomputes them there once per
 * step. *switched tells whether to call eta_optim_train afterwards. */
int run_eval_point(eta_run *r, bool *switched, eta_err *err);
/* An error about section.key's value, located where it was written (file:line:col). */
int run_config_fail(eta_run *r, const char *sec, const char *key, int rc, eta_err *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 6, 7)))
#endif
    ;
/* An error inside section.key's spec, shown with the line and a caret. */
int run_spec_error(eta_run *r, const char *sec, const char *key, int rc, eta_err *err);
/* Fills err (message from fmt, no location) and returns code. */
int run_fail(eta_err *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
int run_prepare(eta_run *r, int64_t batch, eta_err *err);
/* The elements of the network's parameter array i, its name and offset. */
size_t run_param_size(eta_run *r, int i, const char **name, size_t *offset);
/* fn on every batch of `split` in order, in batches of `batch` (the network
 * prepared for each), in train or eval mode (train mode again after); fn
 * returns 0 to go on or a negative error, which ends the pass (run.c). */
typedef int (*run_batch_fn)(eta_run *r, const void *x, const void *y, int64_t n, void *ctx, eta_err *err);
int run_each_batch(eta_run *r, eta_split split, int64_t batch, bool train, run_batch_fn fn, void *ctx, eta_err *err);
/* One step (run.c): 0 when the optimizer took it, 1 when the guard skipped
 * the batch or rolled the run back (no new step: nothing to evaluate or
 * save), or a negative code (the guard's stop included). */
int run_step(eta_run *r, eta_err *err);
/* The loader's end-of-epoch marker read and the counters moved to the next
 * epoch (run.c). */
int run_epoch_turn(eta_run *r, eta_err *err);

/* The data-parallel step (run_shard.c): run_shard_new reads nothing but
 * shards ([dist] shards, 0: the process count) and the options' exchange;
 * run_shard_batch computes this process's shards of a batch and leaves the
 * step's gradient in the network's buffer and the batch's loss in *loss;
 * micro is the batch's place among the step's accumulated ones. */
int run_shard_new(eta_run *r, int64_t shards, eta_err *err);
void run_shard_free(eta_run *r);
int run_shard_batch(eta_run *r, const void *x, const void *y, int64_t n, int micro, double *loss, eta_err *err);

/* ZeRO-1 (run_zero.c): run_zero_new replaces the optimizer by one over
 * this process's slice when [dist] zero_optimizer is set; the gradient
 * norm of the whole from the slices' block sums; the all-gather of a flat
 * buffer (parameters after the step, gradients for the layer figures); the
 * whole optimizer's bytes for a checkpoint (collective: every process
 * calls it, rank 0 gets the bytes) and a slice taken from them. */
int run_zero_new(eta_run *r, eta_err *err);
void run_zero_free(eta_run *r);
size_t run_zero_state_bytes(const eta_optim *o);
int run_zero_grad_norm(eta_run *r, double *norm, eta_err *err);
int run_zero_gather(eta_run *r, float *buf, eta_err *err);
int run_zero_optim_save(eta_run *r, void **buf, size_t *len, eta_err *err);
int run_zero_optim_load(eta_run *r, const void *buf, size_t len, eta_err *err);
/* A follower's part in rank 0's checkpoint: its slice of the optimizer. */
int run_zero_follow(eta_run *r, eta_err *err);

/* The guard's verdict on a step (run_fit.c). After ROLLBACK the guard has
 * restored the state it kept (run_state_restore); STOP fills err with the
 * guard's report. Every decision goes to the metrics. */
eta_guard_action run_guard_check(eta_run *r, double loss, double gnorm, eta_err *err);
void run_metrics_step(eta_run *r, double loss, double gnorm, int64_t seen);
void run_layer_stats_before(eta_run *r);
void run_layer_stats_after(eta_run *r);
int run_guard_new(eta_run *r, eta_err *err);
void run_monitor_free(eta_run *r);

/* Weight averaging (run_average.c): built from [train] average; updated
 * after each optimizer step and at each epoch's end as its spec says; at
 * the end of the run the network takes the average (BatchNorm statistics
 * recomputed over the training split), which is then evaluated and saved. */
int run_average_new(eta_run *r, eta_err *err);
void run_average_after_step(eta_run *r);
void run_average_epoch_end(eta_run *r);
int run_average_apply(eta_run *r, eta_err *err);

/* [train] lr_scaling (lr_scaling.c): the keys read and checked (the run's
 * lengths known), the factor of the rate at a step (a pure function of the
 * step, so a resumed run goes on where it was), and the info message that
 * says what was done. */
int run_lr_scaling_new(eta_run *r, eta_err *err);
double run_lr_scaling_factor(const eta_run *r, int64_t step);
void run_lr_scaling_log(eta_run *r);

/* The run's state as bytes: what the guard rolls back to and the core of a
 * checkpoint (run_ckpt.c). */
int run_state_save(eta_run *r, void **buf, size_t *len);
int run_state_restore(eta_run *r, const void *buf, size_t len, eta_err *err);

#endif
