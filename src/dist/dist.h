/* dist/dist.h - the process group of a data-parallel run or a distributed
 * sweep: MPI started when eta runs under mpirun, one process otherwise.
 *
 * eta links MPI only in builds that found it (ETA_HAVE_MPI); without it
 * these calls describe a group of one, and a run started by mpirun with
 * more than one process is refused with a message that says so.
 * Everything that talks MPI lives in this directory; the training and
 * sweep layers see the group through eta_run_comm (train/run.h) and the
 * calls below.
 */
#ifndef ETA_DIST_H
#define ETA_DIST_H

#include <stdbool.h>
#include <stddef.h>

#include "eta/core.h"

/* Starts MPI when the environment says mpirun started this process (Open
 * MPI's OMPI_COMM_WORLD_SIZE, PMIx's PMIX_RANK); a no-op otherwise. On an
 * error fills err and returns its code. Call once, before anything else. */
int eta_dist_init(int *argc, char ***argv, eta_err *err);
/* Ends MPI (no-op when it was not started). */
void eta_dist_finalize(void);
/* Whether MPI runs with more than one process. */
bool eta_dist_active(void);
int eta_dist_rank(void);
int eta_dist_size(void);
/* How many processes of the job run on this machine (1 without MPI). */
int eta_dist_local_size(void);
/* Rank 0's x on every process (x itself in a group of one); every rank
 * calls it. */
int eta_dist_share_int(int x);
/* The gradient exchange of data-parallel training under mpirun ([dist]
 * keys of cfg: bucket_cap_mb, timeout, zero_optimizer), for
 * eta_run_options.comm. ETA_EINVAL in a build without MPI. */
typedef struct eta_run_comm eta_run_comm;
typedef struct eta_config eta_config;
int eta_dist_comm_new(eta_run_comm **out, const eta_config *cfg, eta_err *err);
void eta_dist_comm_free(eta_run_comm *comm);

/* Ends every process of the job (MPI_Abort), or exits with code alone. */
_Noreturn void eta_dist_abort(int code);

#endif
