/* nn/build.h - internal: lowering a model spec to ops (build.c). */
#ifndef ETA_NN_BUILD_H
#define ETA_NN_BUILD_H

#include "nn/graph.h"

struct nn_builder {
    nn_net *net;
    int layer; /* the top-level layer being lowered */
    int depth; /* nesting of calls */
};

/* Lowers the spec into net->ops. */
int nn_build(nn_net *net, const eta_spec *call, eta_err *err);
/* The catalogue (Sequential first). */
int nn_module_count(void);
const nn_module *nn_module_at(int k);

#endif
