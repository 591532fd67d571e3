/* dist/dist_impl.h - internal to src/dist with MPI: the state of the
 * gradient exchange (exchange.c) that the sharded optimizer (zero.c) and
 * the checkpoints share. */
#ifndef ETA_DIST_IMPL_H
#define ETA_DIST_IMPL_H

#include <mpi.h>
#include <stdbool.h>

#include "dist/dist.h"
#include "train/run.h"

typedef struct dist_comm {
    eta_run_comm pub;         /* pub.ud is this */
    int rank, size;
    size_t bucket;            /* floats per bucket */
    double timeout;           /* seconds */
    bool zero;                /* ZeRO-1: the sum stays in this process's slice */
    /* the slices of the flat gradient: process j has [lo[j], lo[j+1]) */
    size_t n, *lo;
    int *count, *displ;       /* the same, as MPI counts */
    int *lcount, *ldispl;     /* shards per process, for the losses */
    int *acount, *adispl;     /* bytes per process of an all-gather or gather */
    /* one step */
    int shards, first, last, nb;
    const int64_t *rows;
    float *g;
    float *recv;              /* shards x slice: this slice of every shard's gradient */
    float *stage;             /* own shards x n: buckets in flight */
    int *sent;                /* per shard: buckets sent */
    size_t recv_bytes, stage_bytes, sent_bytes;
    MPI_Request *req;
    int *peer;                /* the process of each request */
    int nreq, cap;
    bool oom;
} dist_comm;

/* Waits for count requests, polling, up to the timeout; the error names
 * the peer of a request still pending (peer may be NULL). */
int dist_wait(dist_comm *c, int count, MPI_Request *req, const int *peer, const char *what, eta_err *err);
void dist_slices(dist_comm *c, size_t n);

#endif
