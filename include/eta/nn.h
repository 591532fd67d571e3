/* eta/nn.h - networks: float32 tensors, reverse-mode autodiff, the layers of
 * MLPs, CNNs and transformers, written in PyTorch's nn syntax.
 *
 *     eta_net *net;
 *     eta_net_new(&net, "Sequential(Linear(784, 256), ReLU(), Linear(256, 10))", &err);
 *     eta_net_prepare(net, 128, 1, (int64_t[]){784}, &err);   // batch 128 of 784 features
 *     eta_net_set_loss(net, "CrossEntropyLoss()", &err);
 *     eta_net_init(net, 42);
 *     ... eta_net_attach(net, opt, NULL) adds the parameters to an optimizer ...
 *     for each batch: eta_net_forward(net, x, y, &loss); eta_net_backward(net); eta_optim_step(opt);
 *
 * A network is built once for a batch shape (eta_net_prepare), which sizes
 * every activation and gradient; after that forward, backward and an
 * optimizer step allocate nothing. Parameters and their gradients each live
 * in one flat float32 buffer, named as PyTorch's state_dict names them
 * ("0.weight", "0.bias", "3.attn.qkv.weight", ...), initialised as PyTorch
 * initialises them. One network is used by one thread at a time; its
 * kernels use OpenMP and BLAS threads inside, and give the same bits at any
 * thread count, with every kernel family of the OpenBLAS (OpenMP build) that
 * ./bootstrap installs, and with ETA_BLAS=builtin. A BLAS with a thread pool
 * of its own, named by ETA_BLAS, makes no such promise: its products may
 * differ in the last bits between thread counts.
 */
#ifndef ETA_NN_H
#define ETA_NN_H

#include "core.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eta_net eta_net;

/* Builds a network from its spec (PyTorch module constructors):
 * Sequential, Linear, Conv2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d,
 * Flatten, BatchNorm1d, BatchNorm2d, LayerNorm, Dropout, Embedding,
 * PositionalEmbedding, MultiheadSelfAttention, TransformerBlock, MeanPool,
 * LSTM, GRU,
 * ReLU, LeakyReLU, GELU, Tanh, Sigmoid, Softmax, LogSoftmax. Errors are
 * located in the text. */
int eta_net_new(eta_net **out, const char *spec, eta_err *err);
void eta_net_free(eta_net *net);

/* Sizes the network for inputs of shape [batch, shape[0..ndim)]: checks
 * every layer's shapes (an error names the layer index, the layer and both
 * shapes) and allocates parameters, activations and gradients. May be called
 * again with another batch size; parameters are kept. */
int eta_net_prepare(eta_net *net, int64_t batch, int ndim, const int64_t *shape, eta_err *err);

/* The loss applied to the output: CrossEntropyLoss(label_smoothing=,
 * ignore_index=), NLLLoss(ignore_index=), MSELoss(), HuberLoss(delta=),
 * BCEWithLogitsLoss(). Targets are class indices (int32) for the first two,
 * float32 of the output's shape for the others. Call after prepare. */
int eta_net_set_loss(eta_net *net, const char *spec, eta_err *err);

/* PyTorch's default initialisation (kaiming-uniform for Linear and Conv2d,
 * ones/zeros for norms, normal for embeddings) from a seed. */
int eta_net_init(eta_net *net, uint64_t seed);

/* Train mode (dropout active, batch statistics in BatchNorm, running
 * statistics updated) or eval mode. Default: train. */
void eta_net_train(eta_net *net, bool train);

/* BatchNorm statistics recomputed as torch.optim.swa_utils.update_bn does
 * (for an averaged model, eta train's [train] average): on resets every
 * BatchNorm's running statistics (mean 0, variance 1) and the count of
 * train-mode passes, and from then on each train-mode forward pass k
 * updates them as BatchNorm(momentum=None) does, a factor 1/k: after a
 * pass over the data they are the equal average of its batches' statistics.
 * off returns to the layers' momentum. ETA_ESTATE before prepare. */
int eta_net_bn_cumulative(eta_net *net, bool on);
/* Whether the network has buffers (BatchNorm running statistics). */
bool eta_net_has_running_stats(const eta_net *net);

/* The input's element type: ETA_NN_INT32 when the first layer is an
 * Embedding (token ids), else float32. */
typedef enum eta_nn_input { ETA_NN_FLOAT32 = 0, ETA_NN_INT32 = 1 } eta_nn_input;
eta_nn_input eta_net_input_type(const eta_net *net);

/* Forward pass on a batch (batch x shape, row-major). With a target and a
 * loss set, writes the mean loss to *loss (may be NULL); target may be NULL
 * for inference. The output stays readable through eta_net_output. */
int eta_net_forward(eta_net *net, const void *input, const void *target, double *loss);
/* Backward pass from the loss: gradients of all parameters, overwritten
 * (not accumulated). Requires a forward pass with a target. */
int eta_net_backward(eta_net *net);

/* Data-parallel training's hooks (the sharded step of eta train).
 * A gradient hook is called during each backward pass as gradients become
 * final: fn(ud, from) says that every gradient at offset >= from (in the
 * flat buffer, eta_net_grads) will not change again in this pass; from
 * only decreases, and the last call of a pass gives 0. NULL removes it. */
typedef void (*eta_net_grad_hook)(void *ud, size_t from);
int eta_net_set_grad_hook(eta_net *net, eta_net_grad_hook fn, void *ud);
/* The count of train-mode forward passes (BatchNorm's num_batches_tracked),
 * read and set, so that several shards of one step count as one pass. */
int64_t eta_net_forward_count(const eta_net *net);
void eta_net_set_forward_count(eta_net *net, int64_t count);
/* Every op's random stream (dropout) set from key alone, so that a shard's
 * draws depend on which shard it is, not on the process that computes it. */
void eta_net_reseed(eta_net *net, uint64_t key);

/* Backward pass from a gradient of the caller's own loss with respect to
 * the output (dout: the output's shape, eta_net_output), for losses the
 * network does not provide (a policy-gradient objective): gradients of all
 * parameters, overwritten, as eta_net_backward. A loss set with
 * eta_net_set_loss is ignored. Requires a forward pass (a target is not
 * needed). ETA_ESTATE before prepare, ETA_EINVAL for a NULL dout. */
int eta_net_backward_output(eta_net *net, const float *dout);

/* The output of the last forward pass: data and shape (batch first). */
const float *eta_net_output(const eta_net *net, int *ndim, int64_t *shape);
/* The gradient of the loss with respect to a float32 input, after backward
 * (for checks against PyTorch and finite differences); NULL for int32 inputs. */
const float *eta_net_input_grad(const eta_net *net);
/* Whether backward computes that input gradient (default on). Off, as for a
 * PyTorch input without requires_grad, the first layer skips the work (for
 * an MLP's first Linear a GEMM as large as its forward) and
 * eta_net_input_grad returns NULL; parameter gradients are the same bits. */
void eta_net_set_input_grad(eta_net *net, bool on);

/* torch.nn.init.orthogonal_(w, gain) for a weight of shape [rows, cols]
 * (row-major, PyTorch's Linear layout [out, in]): a (semi-)orthogonal matrix
 * times gain (W W^T = gain^2 I when rows <= cols, W^T W = gain^2 I when
 * rows >= cols), from a seed (eta's stream, not torch's: the same
 * distribution, other values). ETA_EINVAL for a NULL w, a size < 1 or a
 * gain that is not finite; ETA_ENOMEM. */
int eta_init_orthogonal(float *w, int64_t rows, int64_t cols, double gain, uint64_t seed);

/* Parameters: the flat buffers and, per parameter array, its PyTorch name,
 * offset (in floats) and shape, in state_dict order. The arrays include
 * PyTorch's buffers (BatchNorm's running_mean and running_var), stored and
 * saved with the parameters but never given to an optimizer. */
float *eta_net_params(eta_net *net, size_t *n);
float *eta_net_grads(eta_net *net, size_t *n);
int eta_net_param_count(const eta_net *net);
int eta_net_param_info(const eta_net *net, int i, const char **name, size_t *offset, int *ndim, int64_t *shape);
bool eta_net_param_is_buffer(const eta_net *net, int i);
/* A buffer by its state_dict name ("1.running_var"), or NULL. */
float *eta_net_buffer(eta_net *net, const char *name, size_t *n);

/* Registers every parameter array (not the buffers) with an optimizer (float32), and
 * sets the optimizer's GEMM to eta_nn_gemm() (below). Arrays whose
 * name matches one of the comma-separated glob patterns in no_decay (for
 * example "*.bias,*norm*.weight") go into a new group with weight_decay 0;
 * NULL puts everything in group 0. */
int eta_net_attach(eta_net *net, eta_optim *opt, const char *no_decay, eta_err *err);
/* The same for the elements [lo, hi) of the flat buffers alone: each
 * parameter's part there, as a 1-D array (the whole array keeps its shape),
 * in the same groups as eta_net_attach makes (data-parallel ZeRO-1: each
 * process's optimizer holds its slice). */
int eta_net_attach_range(eta_net *net, eta_optim *opt, const char *no_decay, size_t lo, size_t hi, eta_err *err);

/* The GEMM the network runs (the BLAS it loads, nn/blas.c, or eta's C GEMM),
 * float32 and float64, for eta_optim_set_gemm: an optimizer whose rule
 * multiplies matrices (Muon) then runs them as fast as the network's layers,
 * with the same bits at any thread count (docs/nn.md, "Threads and bits").
 * eta_net_attach hands it to the optimizer it registers parameters with. */
eta_gemm eta_nn_gemm(void);

/* ---- saving and loading (docs/nn.md, "Saving and loading") -------------
 *
 * Safetensors, the file format PyTorch and Hugging Face exchange weights in:
 * an 8-byte little-endian header length, a JSON header naming each tensor's
 * dtype, shape and byte range, then the raw little-endian data. eta writes
 * every parameter and buffer (eta_net_param_info's list, state_dict names,
 * "F32") and, for each BatchNorm with running statistics, its
 * num_batches_tracked ("I64", the network's count of train-mode forward
 * passes), so that in PyTorch
 *     model.load_state_dict(safetensors.torch.load_file("model.safetensors"))
 * takes the file with strict=True for the same network built in torch.
 * Call after eta_net_prepare (which allocates the parameters; ETA_ESTATE
 * before).
 *
 * Save: atomic (eta_file_write_atomic). A NaN or Inf in any tensor is
 * ETA_ENONFINITE naming the tensor and element, and nothing is written.
 * eta_net_safetensors_bytes gives the same bytes in a malloc'd buffer.
 *
 * Load: the whole file is checked before the network changes; on any error
 * it is unchanged. ETA_EFORMAT: not a valid safetensors file (the message
 * gives the byte offset: header length, JSON syntax, offsets that overlap,
 * leave a gap or run past the end, a truncated file). ETA_EINVAL: a valid
 * file that does not fit the network: the missing and unexpected tensor
 * names (as torch's strict load lists them), a shape mismatch naming the
 * tensor and both shapes, a dtype other than F32, F16 or BF16 (widened
 * exactly) or F64 holding values that are exactly float32s (others are
 * refused, naming the element). num_batches_tracked may be absent; present,
 * it must be an I64 scalar >= 0, and the largest sets the network's count.
 * NaN and Inf values: ETA_ENONFINITE unless flags has
 * ETA_LOAD_ALLOW_NONFINITE (the caller decides; eta_net_load_safetensors
 * refuses them). ETA_EIO when the file cannot be read. */
enum { ETA_LOAD_ALLOW_NONFINITE = 1 };
int eta_net_save_safetensors(eta_net *net, const char *path, eta_err *err);
int eta_net_safetensors_bytes(eta_net *net, void **buf, size_t *len, eta_err *err);
int eta_net_load_safetensors(eta_net *net, const char *path, eta_err *err);
int eta_net_load_safetensors_ex(eta_net *net, const char *path, unsigned flags, eta_err *err);
/* From memory; `what` names the bytes in messages (NULL: "safetensors"). */
int eta_net_load_safetensors_bytes(eta_net *net, const void *data, size_t len, const char *what, unsigned flags,
                                   eta_err *err);

/* The network's state besides parameters and buffers, for checkpoints:
 * every op's random stream (Dropout and attention-dropout masks), train or
 * eval mode, and the count of train-mode forward passes; versioned and
 * CRC-checked bytes (src/nn/state.c has the layout). Together with the
 * values of eta_net_params, a network restored from both continues bit for
 * bit. save: a malloc'd buffer (free() it); ETA_ENOMEM. load: ETA_EFORMAT
 * for damaged bytes, ETA_EINVAL for the state of another network (another
 * structure); on error the network is unchanged. */
int eta_net_save_state(const eta_net *net, void **buf, size_t *len);
int eta_net_load_state(eta_net *net, const void *buf, size_t len, eta_err *err);

/* The catalogue: the modules a network spec may use (Sequential first) and
 * the losses eta_net_set_loss takes, each a name and one line with its
 * signature, defaults and what it computes ("Linear(in_features,
 * out_features, bias=True): y = x W^T + b"); NULL for k out of [0, count).
 * `eta model --list` prints them. */
int eta_nn_module_count(void);
const char *eta_nn_module_name(int k);
const char *eta_nn_module_note(int k);
int eta_nn_loss_count(void);
const char *eta_nn_loss_name(int k);
const char *eta_nn_loss_note(int k);

/* A summary as torchinfo prints it: one line per layer (index, layer,
 * output shape, parameters) and the total. Writes at most n bytes; returns
 * what snprintf would. Call after prepare. */
int eta_net_summary(const eta_net *net, char *buf, size_t n);
/* The total number of parameters. */
size_t eta_net_param_total(const eta_net *net);

/* The message of the last error on this network. */
const char *eta_net_error(const eta_net *net);

#ifdef __cplusplus
}
#endif
#endif
