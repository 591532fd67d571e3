/* dist/sweep.h - a sweep over the processes of an MPI job: rank 0 holds the
 * study (src/tune/coord.c) and runs trials in a thread of its own; every
 * other rank runs trials it asks rank 0 for, one at a time, and sends its
 * reports there. Without MPI (or in a group of one) the same calls run the
 * sweep in this process alone.
 */
#ifndef ETA_DIST_SWEEP_H
#define ETA_DIST_SWEEP_H

#include <stdbool.h>
#include <stdio.h>

#include "eta/core.h"

/* Runs the sweep whose study is DIR/study.db (dir: rank 0's; the others
 * receive it and the study's settings from rank 0 and never open the file)
 * until no trial is left. Every rank calls it. Trial events, one line
 * each, go to `log` on rank 0 (the others print nothing). Returns 0 when
 * every process ran out of trials; else, on rank 0, the worst outcome of
 * all (ETA_EINVAL: a trial's config does not build) with err naming the
 * rank, and on the others their own. *abandoned (rank 0): the study or
 * MPI failed on rank 0 while workers may still wait for it; the caller ends
 * the job (eta_dist_abort). */
int eta_dist_sweep(const char *dir, const char *data_dir, FILE *log, bool *abandoned, eta_err *err);

#endif
