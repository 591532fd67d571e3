/* sched/sched_impl.h - internal: the eta_sched object (sched.c, sched_save.c). */
#ifndef ETA_SCHED_IMPL_H
#define ETA_SCHED_IMPL_H

#include "sched/node.h"

struct eta_sched {
    sched_node *root;
    int64_t observed; /* the next step whose metric may be observed */
};

/* Visits the nodes depth-first, parents before kids (save/load order). */
typedef void (*sched_visit_fn)(sched_node *n, void *ctx);
void sched_visit(sched_node *n, sched_visit_fn fn, void *ctx);

#endif
