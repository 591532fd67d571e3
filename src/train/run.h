/* train/run.h - internal: a training run. A run owns a data set and its
 * loaders, a network with its loss, an optimizer, a schedule, a guard and a
 * metrics sink, all built from one config, and advances one optimizer step
 * at a time. `eta train`, `eta eval`, `eta predict` and `eta demo` drive it;
 * so will the range test, a sweep trial and an MPI rank.
 *
 *     eta_run *r;
 *     eta_run_new(&r, cfg, &opts, &err);      // builds everything, creates the run dir
 *     eta_run_fit(r, &err);                   // epochs, evals, checkpoints, early stopping
 *     eta_run_free(r);
 *
 * A caller that watches the run (a sweep trial) passes a report hook in the
 * options: it sees every validation evaluation and may stop the run there.
 *
 * One step (run.c): up to `accumulate` batches through forward and backward
 * (gradients averaged), the gradient norm, clipping, the guard's verdict
 * (nothing non-finite reaches the weights), the schedule's lr times the
 * guard's lr scale, the optimizer step. The run's whole state (counters,
 * weights and buffers, the network's random streams, optimizer, schedule,
 * loader position, guard, metrics smoothing) is its checkpoint
 * (run_ckpt.c): resuming continues bit for bit.
 */
#ifndef ETA_TRAIN_RUN_H
#define ETA_TRAIN_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "eta/data.h"
#include "eta/eta.h"
#include "train/config.h"

typedef struct eta_run eta_run;

/* What the report hook sees after each evaluation on the validation split. */
typedef struct eta_run_report {
    int64_t step;    /* optimizer steps taken (skipped ones included) */
    int64_t epoch;   /* the epoch the evaluation belongs to (0-based) */
    double val_loss; /* the validation loss; +-inf when the model diverged */
    double val_acc;  /* the validation accuracy, NAN when not a classifier */
} eta_run_report;

/* Returns 0 to go on, 1 to stop the run after this evaluation (it ends as an
 * early-stopped run does: checkpoint, test evaluation, model, plots), or a
 * negative ETA_E* code with err filled, which eta_run_fit returns. Called
 * only when the data set has a validation split, after the evaluation went
 * to the metrics and to early stopping. */
typedef int (*eta_run_report_fn)(void *ud, const eta_run_report *rep, eta_err *err);

/* Data-parallel steps (run_shard.c). With [dist] shards = S > 1, or under
 * mpirun, each batch is cut into S shards of consecutive rows (shard s has
 * rows [s*n/S, (s+1)*n/S)); each shard's gradient is computed whole by one
 * process, and the step's gradient is the sum over shards, in shard order,
 * of (rows_s / n) * gradient_s, whatever process computed them: so the bits
 * do not depend on the process count. BatchNorm's running statistics are
 * shard 0's (as DDP's broadcast_buffers: rank 0's); dropout draws from a
 * stream keyed by (seed, step, shard).
 *
 * The exchange between processes is given by src/dist (NULL: one process,
 * every shard computed in turn). Per step: begin with every shard's rows;
 * ready(s, g, from, to) as backward makes gradients [from, to) of shard s
 * final (g: the network's whole gradient buffer); end leaves the weighted
 * sum in g[0..n) (with zero set, only g[lo..hi) of this process's slice,
 * eta_run_comm.slice) and every shard's loss in losses[0..S); bcast copies
 * bytes from root's buf to every process's. */
typedef struct eta_run_comm {
    int rank, size;
    int threads;              /* threads of each process when [train] threads = 0 (the cores shared out) */
    void *ud;
    int (*begin)(void *ud, int shards, const int64_t *rows, float *g, size_t n, eta_err *err);
    void (*ready)(void *ud, int shard, size_t from, size_t to);
    int (*end)(void *ud, double *losses, eta_err *err);
    int (*bcast)(void *ud, int root, void *buf, size_t bytes, eta_err *err);
    /* ZeRO-1 ([dist] zero_optimizer, run_zero.c): the slices of the flat
     * buffers (process j's: [lo[j], lo[j+1]) floats; NULL: not needed); an
     * in-place all-gather of buf, process j holding units [lo[j], lo[j+1])
     * of `unit` bytes; a gather of every process's bytes, in rank order,
     * into *all (malloc'ed) on rank 0 (NULL elsewhere). */
    int (*set_slices)(void *ud, const size_t *lo, eta_err *err);
    int (*allgather)(void *ud, void *buf, const size_t *lo, size_t unit, eta_err *err);
    int (*gather)(void *ud, const void *mine, size_t bytes, void **all, size_t *all_bytes, eta_err *err);
} eta_run_comm;

/* At most this many shards in a batch ([dist] shards). */
enum { ETA_MAX_SHARDS = 1024 };

/* Processes own consecutive shards: rank r those in [*first, *last) =
 * [r*S/size, (r+1)*S/size); eta_shard_owner is the rank that computes
 * shard s. */
void eta_shard_range(int rank, int shards, int size, int *first, int *last);
int eta_shard_owner(int s, int shards, int size);
/* out[i] = sum over shards s with rows[s] > 0, in order, of
 * (float)(rows[s] / total) * parts[s][i], i < n: the one sum every process
 * count computes. */
void eta_shard_sum(float *out, const float *const *parts, const int64_t *rows, int shards, size_t n);

typedef struct eta_run_options {
    const char *dir;       /* run directory; NULL: the config's [output] dir */
    const char *data_dir;  /* where relative paths in data specs start; NULL: the current directory */
    bool resume;           /* load dir/checkpoint.eta and go on */
    bool for_eval;         /* build for eval/predict: no run dir files, weights from dir/model.safetensors */
    int progress;          /* -1: the config's [output] progress; else a progress mode */
    bool quiet;            /* no progress and no summary on stderr */
    bool no_files;         /* write nothing: no run directory, no config.ini (the range test, eta lr-find) */
    char *msg;             /* may be NULL: a config error in full (file:line:col, the line, a caret) */
    size_t msg_size;
    const eta_run_comm *comm; /* data-parallel processes; NULL: this one alone. Every process but
                                 rank 0 writes no file and prints nothing */
    eta_run_report_fn report; /* may be NULL: called after each validation evaluation */
    void *report_ud;
} eta_run_options;

int eta_run_new(eta_run **out, eta_config *cfg, const eta_run_options *opts, eta_err *err);
void eta_run_free(eta_run *r);

/* Trains to the end (or to early stopping, or a guard stop). Returns 0 when
 * the run finished (stopped early included), ETA_ESTATE when the guard
 * stopped it (its report in err), or another error. */
int eta_run_fit(eta_run *r, eta_err *err);

/* Loss and accuracy (NAN when not a classifier) over a split, in eval mode;
 * confusion (classes x classes, row = true class) when not NULL. */
int eta_run_evaluate(eta_run *r, eta_split split, double *loss, double *accuracy, int64_t *confusion, eta_err *err);

/* The network's outputs, one CSV row per example, for a split. */
int eta_run_predict(eta_run *r, eta_split split, FILE *out, eta_err *err);

/* After eta_run_fit: the test split's loss and accuracy (NAN when the data
 * set has no test split, or for accuracy, is not a classifier). */
void eta_run_test_result(const eta_run *r, double *loss, double *accuracy);

/* After eta_run_fit: the seconds it spent in its epochs, from its start to
 * the end of the last epoch and its evaluation, before the final
 * checkpoint, the test evaluation and the outputs (bench/epoch.c). */
double eta_run_fit_seconds(const eta_run *r);

const char *eta_run_dir(const eta_run *r);
const eta_dataset *eta_run_dataset(const eta_run *r);
/* Class k's name from the data set ("T-shirt/top"), or its number ("3", in
 * a buffer of the run's that the next call reuses). */
const char *eta_run_class_name(eta_run *r, int k);
const eta_data_info *eta_run_data_info(const eta_run *r);
eta_net *eta_run_net(eta_run *r);
int64_t eta_run_step_count(const eta_run *r);
/* The optimizer steps the whole run takes (train.epochs or train.steps). */
int64_t eta_run_total_steps(const eta_run *r);

/* ---- what the range test drives (src/tune/lrfind.c) ----------------------
 *
 * eta_run_snapshot keeps the run's whole state in memory (the checkpoint's
 * state and the guard's: counters, weights and buffers, the network's random
 * streams, optimizer, schedule, loader seed, epoch and position); restoring
 * it puts the run back bit for bit, so training after a range test is
 * training without one. The metrics sink opens in eta_run_fit; nothing
 * before it writes to it. *buf is malloc'd. */
int eta_run_snapshot(eta_run *r, void **buf, size_t *len);
int eta_run_restore(eta_run *r, const void *buf, size_t len, eta_err *err);

/* One optimizer step at the rate `lr` in every parameter group (groups
 * whose initial lrs differ keep their ratios, the largest at lr): the next
 * `accumulate` batches (a new epoch begins when one ends), forward and
 * backward, the run's clipping, the update. Neither the schedule, the guard
 * nor the metrics see it. *loss is the batch's mean loss before the update
 * (not finite when the run diverged). */
int eta_run_probe(eta_run *r, double lr, double *loss, eta_err *err);

/* optimizer.lr (run_build.c): empty, the rates the specs say; a number, the
 * run's peak rate (the schedule scaled so that its highest rate over the
 * run is this; without a schedule, the constant rate); auto, to be decided
 * before training: eta_run_fit refuses to start until eta_run_set_peak_lr
 * has given it. */
bool eta_run_lr_pending(const eta_run *r);
/* Sets the peak rate (lr > 0) and writes it into the config as optimizer.lr
 * (and into DIR/config.ini unless no_files), so a checkpoint and a resume
 * carry the decision. */
int eta_run_set_peak_lr(eta_run *r, double lr, eta_err *err);
/* The highest rate the specs give over the run (per group and step, before
 * optimizer.lr scales it): what optimizer.lr replaces. */
double eta_run_spec_peak_lr(const eta_run *r);

/* Checkpoints (run_ckpt.c): the run's whole state, atomic and checksummed. */
int eta_run_save(eta_run *r, const char *path, eta_err *err);
int eta_run_load(eta_run *r, const char *path, eta_err *err);

#endif
