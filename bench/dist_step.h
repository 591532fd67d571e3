/* bench/dist_step.h - bench/dist's training steps: one model's config run
 * through the training run (src/train/run.h) in one process, or in every
 * process of the MPI job with the gradient exchange of src/dist, timed step
 * by step (dist_step.c says how). */
#ifndef ETA_BENCH_DIST_STEP_H
#define ETA_BENCH_DIST_STEP_H

#include <stddef.h>
#include <stdint.h>

/* Where a run's config comes from and how long to time it. */
typedef struct dist_step_plan {
    const char *config;   /* path of the model's INI config */
    const char *data_dir; /* where its relative data paths start */
    int warmup, steps;    /* untimed steps, then timed ones */
    const char *const *sets; /* nsets config assignments "section.key=value", applied last */
    int nsets;
} dist_step_plan;

/* One configuration's medians over the timed steps, in seconds. */
typedef struct dist_step_times {
    size_t params;    /* floats in the gradient */
    int64_t batch;    /* the config's batch (the global batch) */
    double step;      /* a whole step (eta_run_probe); under MPI the slowest process's */
    double compute;   /* under MPI: forward and backward of this process's shards (the slowest's) */
    double backward;  /* under MPI: from the first gradient made final to the end of backward */
    double exchange;  /* under MPI: time inside the exchange's calls, the least over processes */
    double wait;      /* under MPI: of it, in its end (waiting for the sum and the gather) */
} dist_step_times;

/* Steps of one process alone: `threads` threads, the batch whole (shards =
 * 1, no exchange). The MPI job's other processes must not run meanwhile
 * (dist_quiet_barrier). Returns 0, or 1 with a message on stderr. */
int dist_step_solo(const dist_step_plan *plan, int threads, dist_step_times *out);

/* Steps of every process of the MPI job, each with one thread, the batch cut
 * into one shard per process and summed by src/dist's exchange. Every
 * process calls it; out is filled on all. Returns 0, or 1 with a message
 * on stderr (the job is then aborted by the caller). */
int dist_step_mpi(const dist_step_plan *plan, dist_step_times *out);

/* A barrier that sleeps while it waits (an MPI_Barrier polls and takes a
 * core from the process being timed). */
void dist_quiet_barrier(void);

/* The CPUs this process may run on (mpirun binds each process to one core
 * unless --bind-to none). */
int dist_cpus_allowed(void);

#endif
