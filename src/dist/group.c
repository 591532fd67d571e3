/* dist/group.c - the process group: MPI started under mpirun, its rank and
 * size, the job ended as a whole. A build without MPI compiles the same
 * calls as a group of one (ETA_HAVE_MPI unset). */
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>

#ifdef ETA_HAVE_MPI
#include <mpi.h>
#endif

static int g_rank = 0, g_size = 1, g_local = 1;
static bool g_started = false;

/* The process count mpirun announced in the environment, 0 when none. */
static int launched_size(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return atoi(v);
    }
    return getenv("PMIX_RANK") ? 1 : 0;
}

int eta_dist_init(int *argc, char ***argv, eta_err *err)
{
    int n = launched_size();
    if (n == 0)
        return ETA_OK;
#ifdef ETA_HAVE_MPI
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return eta_spec_fail(err, ETA_EIO, NULL, "MPI could not start (MPI_Init_thread failed)");
    g_started = true;
    if (provided < MPI_THREAD_FUNNELED) /* a sweep's rank 0 runs its trial on a thread that never calls MPI */
        return eta_spec_fail(err, ETA_EIO, NULL, "MPI gives no MPI_THREAD_FUNNELED support (level %d)", provided);
    /* errors come back as codes, so a lost process is reported, not a crash */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node; /* the processes that share this machine's memory */
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    } else {
        g_local = g_size;
    }
    return ETA_OK;
#else
    (void)argc;
    (void)argv;
    if (n > 1)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                           "mpirun started %d processes, but this eta was built without MPI (install "
                           "libopenmpi-dev and build again)",
                           n);
    return ETA_OK;
#endif
}

void eta_dist_finalize(void)
{
#ifdef ETA_HAVE_MPI
    if (g_started)
        MPI_Finalize();
#endif
    g_started = false;
}

bool eta_dist_active(void) { return g_size > 1; }
int eta_dist_local_size(void) { return g_local; }

int eta_dist_share_int(int x)
{
#ifdef ETA_HAVE_MPI
    if (g_started && g_size > 1 && MPI_Bcast(&x, 1, MPI_INT, 0, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "eta: rank %d: a broadcast from rank 0 failed\n", g_rank); /* the ranks would act apart */
        eta_dist_abort(1);
    }
#endif
    return x;
}
int eta_dist_rank(void) { return g_rank; }
int eta_dist_size(void) { return g_size; }

_Noreturn void eta_dist_abort(int code)
{
    fflush(stdout);
    fflush(stderr);
#ifdef ETA_HAVE_MPI
    if (g_started)
        MPI_Abort(MPI_COMM_WORLD, code);
#endif
    _Exit(code);
}

#ifndef ETA_HAVE_MPI
int eta_dist_comm_new(eta_run_comm **out, const eta_config *cfg, eta_err *err)
{
    (void)cfg;
    *out = NULL;
    return eta_spec_fail(err, ETA_EINVAL, NULL, "data-parallel training needs MPI: this eta was built without it");
}

void eta_dist_comm_free(eta_run_comm *comm)
{
    (void)comm;
}
#endif
