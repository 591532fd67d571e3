/* nn/loss.h - internal: losses are ops appended after the network's output
 * (loss.c), reading the target as their second input (index -2). */
#ifndef ETA_NN_LOSS_H
#define ETA_NN_LOSS_H

#include "nn/build.h"

/* Appends the loss named by `call` after op `out`. */
int nn_lower_loss(nn_builder *b, const eta_spec *call, int out, int *idx, eta_err *err);
/* Sets the target tensor's shape and type for the loss op, given the
 * network's output. */
void nn_loss_target_shape(const nn_op *loss, const nn_tensor *output, nn_tensor *target);
/* Points the target tensor at the caller's data, checking class indices
 * (ETA_EINVAL with the index and value in err). */
int nn_loss_set_target(const nn_op *loss, nn_tensor *target, const void *data, eta_err *err);

#endif
