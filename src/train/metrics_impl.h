/* train/metrics_impl.h - internal to the metrics sink: its append-only
 * files (metrics_file.c) and the layer-health rules (metrics_health.c);
 * metrics.c holds the events and the formats. */
#ifndef ETA_TRAIN_METRICS_IMPL_H
#define ETA_TRAIN_METRICS_IMPL_H

#include <stdint.h>
#include <stdio.h>

#include "train/bytes.h"
#include "train/metrics.h"

/* An append-only text file that knows its length and the CRC-32 of its
 * content, so a checkpoint can record both and a resume can check the file
 * still begins with them. f == NULL: no file (writes are dropped). */
typedef struct mfile {
    FILE *f;
    char *path;
    uint64_t off;
    uint32_t crc;
} mfile;

/* Creates dir/name empty (truncating an old one). */
int mfile_create(mfile *mf, const char *dir, const char *name, eta_err *err);
/* Opens dir/name, checks that its first `keep` bytes have CRC `keep_crc`,
 * cuts the rest and appends tail[0..tail_len): the file is then as it was
 * when it had `off` bytes with CRC `crc` (checked). The tail carries the
 * bytes a guard rollback may have cut since (rows after the snapshot). */
int mfile_resume(mfile *mf, const char *dir, const char *name, uint64_t keep, uint32_t keep_crc, const void *tail,
                 size_t tail_len, uint64_t off, uint32_t crc, eta_err *err);
/* The bytes from offset `from` to the end, malloc'd (NULL, 0 when none). */
int mfile_tail(mfile *mf, uint64_t from, void **buf, size_t *len, eta_err *err);
int mfile_write(mfile *mf, const void *s, size_t n, eta_err *err);
/* Cuts the file back to `off` bytes whose CRC is `crc` (an earlier state). */
int mfile_truncate(mfile *mf, uint64_t off, uint32_t crc, eta_err *err);
int mfile_flush(mfile *mf, eta_err *err);
int mfile_close(mfile *mf, eta_err *err);

/* Layer health: per layer, evaluations in a row out of range, and which
 * warnings were given. */
enum { HEALTH_HIGH = 1, HEALTH_LOW = 2, HEALTH_VANISH = 4 };
typedef struct layer_health {
    char *name;
    int32_t high, low, vanish;  /* evaluations in a row */
    uint32_t warned;            /* HEALTH_* bits */
} layer_health;

typedef struct health {
    layer_health *v;
    int n, cap;
    double lr_max;   /* the largest lr of the run */
    double lr_now;   /* the last step's largest group lr */
} health;

/* A warning: kind "update_ratio_high", "update_ratio_low" or "grad_vanishing". */
typedef int (*health_warn_fn)(void *ud, int64_t step, const char *layer, const char *kind, double value,
                              const char *text, eta_err *err);

void health_lr(health *h, const double *lr, int ngroups);
int health_observe(health *h, const eta_metrics_config *cfg, int64_t step, const eta_layer_stats *l, int n,
                   health_warn_fn warn, void *ud, eta_err *err);
void health_save(const health *h, tbuf *b);
/* ETA_EFORMAT or ETA_ENOMEM; h is left empty on error. */
int health_load(health *h, tcur *c);
void health_free(health *h);

#endif
