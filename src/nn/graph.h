/* nn/graph.h - internal: a network is a topologically sorted array of ops,
 * walked forward and back without recursion (kann's design). Each op kind
 * keeps its shape rule, initialisation, forward and backward side by side in
 * one table row (nn_kind), defined in the file of its family (linear.c,
 * act.c, conv.c, pool.c, norm.c, attention.c, loss.c, ...).
 *
 * Modules from the spec are lowered to ops when the network is built
 * (build.c): Sequential chains its children, TransformerBlock becomes
 * LayerNorm, attention, a residual add, LayerNorm, Linear, GELU, Linear and
 * another add. Ops name their parameters as PyTorch's state_dict does.
 *
 * Conventions: tensors are float32, row-major, batch first, at most
 * NN_MAX_DIMS dimensions. forward writes op->out.x from its inputs'
 * x. backward reads op->out.g and ADDS into its inputs' g (a tensor read by
 * two ops, as in a residual, collects both) and into its parameter
 * gradients (net.c zeroes every gradient when its life starts). A kind
 * with sets_grad may instead SET its input's gradient when net.c finds it
 * is that tensor's only reader (op->gset): it then writes every element,
 * and net.c skips zeroing that buffer (a memory pass per activation). Kernels
 * follow llm.c's x_forward / x_backward style with shape comments.
 */
#ifndef ETA_NN_GRAPH_H
#define ETA_NN_GRAPH_H

#include <eta/nn.h>
#include <stddef.h>
#include <stdint.h>

#define NN_MAX_DIMS 4
#define NN_MAX_IN 2
#define NN_MAX_PARAMS 4
#define NN_MAX_ARGS 12
#define NN_NAME 96

typedef struct nn_tensor {
    int ndim;
    int64_t shape[NN_MAX_DIMS]; /* shape[0] is the batch */
    size_t n;                   /* elements */
    float *x;                   /* values; NULL for int32 tensors */
    float *g;                   /* gradient; NULL where none flows (the input) */
    const int32_t *ix;          /* int32 values (token ids) */
} nn_tensor;

typedef struct nn_op nn_op;
typedef struct nn_net nn_net;

/* What kernels get besides their op. */
typedef struct nn_ctx {
    bool train;
    int threads;                /* OpenMP threads for eta's own loops (0: default) */
    int64_t bn_cumulative;      /* > 0: this train-mode pass is batch k of BatchNorm(momentum=None)'s
                                   cumulative average (eta_net_bn_cumulative): momentum 1/k */
} nn_ctx;

typedef struct nn_kind {
    const char *name;
    /* Shape rule, run by prepare: from the inputs' shapes (in[k]->shape, the
     * batch first) set op->out's ndim and shape, declare the parameters
     * (nn_param_add) and the scratch floats the op keeps between forward and
     * backward (op->nscratch). Errors name the op (nn_shape_error). */
    int (*shape)(nn_op *op, const nn_tensor *const *in, eta_err *err);
    /* PyTorch's default initialisation of the op's parameters. NULL: none. */
    void (*init)(nn_op *op, uint64_t *rng);
    void (*forward)(nn_op *op, const nn_ctx *ctx);
    void (*backward)(nn_op *op, const nn_ctx *ctx);
    bool int_input;             /* reads int32 input (Embedding): the network's input type */
    bool view;                  /* output shares its input's memory (Flatten): forward sets out.x */
    bool sets_grad;             /* backward honours op->gset (one input) */
} nn_kind;

typedef struct nn_param {
    char name[NN_NAME];
    int ndim;
    int64_t shape[NN_MAX_DIMS];
    size_t offset, n;           /* into the network's flat buffers */
    bool buffer;                /* state kept with the parameters but never optimized
                                   (BatchNorm's running statistics): PyTorch's buffers */
} nn_param;

struct nn_op {
    const nn_kind *kind;
    nn_net *net;                /* the network it belongs to */
    char name[NN_NAME];         /* the module path, "3" or "2.attn": parameter names start with it */
    int layer;                  /* index of the top-level layer it came from (summaries, errors) */
    int in[NN_MAX_IN];          /* producing op indices; -1 is the network's input */
    int nin;
    nn_tensor *input[NN_MAX_IN]; /* resolved by prepare */
    nn_tensor out;
    double a[NN_MAX_ARGS];      /* the kind's numeric arguments, by its own enum */
    int p0, np;                 /* its parameters: net->params[p0 .. p0 + np) */
    float *w[NN_MAX_PARAMS];    /* their values and gradients in the flat buffers */
    float *dw[NN_MAX_PARAMS];
    float *scratch;             /* saved between forward and backward */
    size_t nscratch;
    int32_t *iscratch;          /* integer scratch (argmax of max-pooling) */
    size_t niscratch;
    uint64_t rng;               /* its own random stream (dropout) */
    double d_count;             /* losses: the rows the last forward counted */
    bool gset;                  /* backward sets input[0]->g (its only reader) instead of adding */
    bool fused;                 /* a ReLU folded into its only reader, a MaxPool2d (net.c's fuse):
                                   a view of its input (forward only points out.x at it) */
    bool relu_in;               /* MaxPool2d: its input is a fused ReLU's, so it pools relu(x) */
};

/* An op whose output is its input's memory: a view kind, or a fused op. */
static inline bool nn_is_view(const nn_op *op)
{
    return op->kind->view || op->fused;
}

struct nn_net {
    nn_op *ops;
    int nops, cap_ops;
    nn_param *params;
    int nparams, cap_params;
    /* set by prepare */
    nn_tensor input;
    float *pbuf, *gbuf;         /* parameters and gradients, flat */
    size_t ptotal;
    float *arena;               /* activations, their gradients and scratch */
    size_t arena_n;
    int32_t *iarena;
    bool prepared, train;
    int64_t batches_tracked;    /* train-mode forward passes since init or load: what PyTorch's
                                   BatchNorm counts in num_batches_tracked (state.c, safetensors.c) */
    bool bn_cumulative;         /* eta_net_bn_cumulative: running statistics as momentum=None */
    int nlayers;                /* top-level layers of the spec */
    char layer_text[64][96];    /* short text of each top-level layer, for summaries */
};

/* net.c: the graph of a network and the index of its loss op (-1: none),
 * for the files that save and load its state (state.c, safetensors.c). */
nn_net *nn_net_graph(const eta_net *net);
int nn_net_loss_op(const eta_net *net);

/* ---- modules: what a spec call lowers to ------------------------------- */

typedef enum nn_arg_type {
    NA_INT,      /* an integer */
    NA_REAL,     /* a number */
    NA_BOOL,     /* True/False as 0/1 */
    NA_CHOICE,   /* a string among `choices` ("none|tanh"), stored as its index */
    NA_INT2,     /* an int or a pair of ints (kernel_size=5 or (5, 5)): a[i] and a[i+1] */
    NA_IGNORED   /* accepted, no effect (device=, dtype=) */
} nn_arg_type;

typedef struct nn_arg {
    const char *name;
    nn_arg_type type;
    bool required;
    double dflt;          /* NA_INT2: the default of both */
    double lo, hi;        /* inclusive range of numbers */
    const char *choices;
} nn_arg;

typedef struct nn_builder nn_builder;

typedef struct nn_module {
    const char *name;
    const nn_arg *args;
    int nargs;
    /* A module of one op: append one op of this kind with the bound
     * arguments in op->a (NA_INT2 takes two slots). */
    const nn_kind *kind;
    /* A composite: append its ops after op `in` (prefix names its
     * parameters) and set *out to the op producing its output. `a` holds the
     * bound arguments, `vals` the spec values (for located errors). */
    int (*lower)(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                 const char *prefix, int *out, eta_err *err);
    const char *note;     /* one line for `eta model --list` */
} nn_module;

/* For composites: append an op of `kind` reading ops in[0..nin) with
 * arguments a[0..na); returns its index or a negative error. */
int nn_append(nn_builder *b, const nn_kind *kind, const char *name, const int *in, int nin, const double *a, int na,
              eta_err *err);
/* For composites: lower a nested spec call (a module given as an argument). */
int nn_lower_call(nn_builder *b, const eta_spec *call, int in, const char *prefix, int *out, eta_err *err);

/* Kinds, modules and helpers shared across families. */
extern const nn_kind nn_kind_gelu_tanh;            /* seq.c: vectorised, also act.c's GELU('tanh') */
extern const nn_kind nn_kind_relu;                 /* act.c */
extern const nn_kind nn_kind_maxpool;              /* pool.c */
extern const nn_kind nn_kind_attention;            /* attention.c */
extern const nn_kind nn_kind_layernorm;            /* layernorm.c */
extern const nn_module nn_module_layernorm;        /* layernorm.c */
/* conv.c: reads kernel_size=5 or (5, 3) from spec value v: dflt when v is
 * NULL or, when none_ok, None (stride=None means the kernel size); each
 * value in [lo, 2^20]. Shared with pool.c. */
int nn_conv_int2(const eta_spec *v, const char *name, const int dflt[2], int lo, bool none_ok, int out[2],
                 eta_err *err);
/* seq.c: the key padding mask of attention ([B, T] token ids when the first
 * op is an Embedding with a padding index, with *pad set), else NULL. */
const int32_t *nn_seq_key_padding(const nn_net *net, int64_t B, int64_t T, int32_t *pad);
/* seq.c: after a forward pass, non-zero if the Embedding op saw token ids
 * out of range (they read as zero vectors); msg says which. */
int nn_embedding_bad_ids(const nn_op *op, char *msg, size_t n);

/* Adds a parameter array to the op being shaped (call from shape()); the
 * name is op->name + "." + suffix. */
int nn_param_add(nn_op *op, const char *suffix, int ndim, const int64_t *shape, eta_err *err);
/* The same for a buffer: stored, named and saved like a parameter, never
 * given to an optimizer, its gradient always zero. */
int nn_buffer_add(nn_op *op, const char *suffix, int ndim, const int64_t *shape, eta_err *err);

/* "layer 3 (Linear): expected input with 3136 features, got [128, 3200]" */
int nn_shape_error(eta_err *err, const nn_op *op, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A shape as text: "[128, 1, 28, 28]". */
const char *nn_shape_str(char *buf, size_t n, int ndim, const int64_t *shape);

/* The random stream (PCG32-like; deterministic): uniform in [0, 1) and
 * uniform in [lo, hi), standard normal. */
double nn_rand_uniform(uint64_t *s);
void nn_rand_fill_uniform(float *x, size_t n, double lo, double hi, uint64_t *s);
void nn_rand_fill_normal(float *x, size_t n, double mean, double std, uint64_t *s);

/* PyTorch's kaiming_uniform_(a=sqrt(5)) for a weight with fan_in inputs,
 * and its bias init U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
void nn_init_kaiming_uniform(float *w, size_t n, int64_t fan_in, uint64_t *s);
void nn_init_bias(float *b, size_t n, int64_t fan_in, uint64_t *s);

#endif
