/* eta/optim.h - optimizers over caller-owned arrays, float32 and float64.
 *
 * Three calls for a program that already computes gradients:
 *
 *     eta_optim_config cfg;
 *     eta_optim_config_from_spec(&cfg, "AdamW(lr=3e-4, weight_decay=0.1)", NULL);
 *     eta_optim *opt;
 *     eta_optim_new(&opt, &cfg, NULL);
 *     eta_optim_add_param(opt, 0, w, dw, 2, (int64_t[]){64, 32});
 *     for (;;) { compute dw; eta_optim_step(opt); }
 *
 * Every update rule follows PyTorch 2.x (torch.optim) semantics and defaults,
 * checked against fixtures that PyTorch writes; Lion, LAMB, LARS and
 * AdaBelief follow Optax, under Optax's argument names; Muon follows
 * torch.optim.Muon (2.9+), its matrix products through eta_optim_set_gemm; the
 * learning-rate-free rules (Schedule-Free, Prodigy, D-Adaptation, DoG, COCOB,
 * the hypergradient rules, Mechanic) follow their authors' reference code,
 * under their class and argument names. Where the anchors
 * disagree (epsilon placement, AMSGrad, momentum form, weight decay), the
 * choice is an explicit option whose value names the anchor that uses it.
 *
 * Ownership: parameters and gradients belong to the caller and must outlive
 * the optimizer; the optimizer owns its state. Nothing is allocated inside
 * eta_optim_step. One optimizer is used by one thread at a time.
 */
#ifndef ETA_OPTIM_H
#define ETA_OPTIM_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eta_optim_kind {
    ETA_OPTIM_SGD = 0,
    ETA_OPTIM_ADAM,
    ETA_OPTIM_ADAMW,
    ETA_OPTIM_ADAMAX,
    ETA_OPTIM_NADAM,
    ETA_OPTIM_RADAM,
    ETA_OPTIM_ADAGRAD,
    ETA_OPTIM_RMSPROP,
    ETA_OPTIM_ADADELTA,
    ETA_OPTIM_ASGD,
    ETA_OPTIM_RPROP,
    ETA_OPTIM_ADAFACTOR,  /* PyTorch's form (torch.optim.Adafactor, 2.5+) */
    ETA_OPTIM_LION,       /* Optax */
    ETA_OPTIM_LAMB,       /* Optax */
    ETA_OPTIM_LARS,       /* Optax */
    ETA_OPTIM_ADABELIEF,  /* Optax */
    ETA_OPTIM_SGD_SCHEDULE_FREE,   /* facebookresearch/schedule_free: SGDScheduleFree */
    ETA_OPTIM_ADAMW_SCHEDULE_FREE, /* AdamWScheduleFree */
    ETA_OPTIM_PRODIGY,    /* konstmish/prodigy */
    ETA_OPTIM_DADAPT_SGD, /* facebookresearch/dadaptation: DAdaptSGD */
    ETA_OPTIM_DADAPT_ADAM, /* DAdaptAdam */
    ETA_OPTIM_COCOB,      /* Optax contrib: COCOB-Backprop coin betting */
    ETA_OPTIM_DOG,        /* formll/dog: distance over gradients, per group */
    ETA_OPTIM_LDOG,       /* formll/dog: layer-wise DoG, per parameter */
    ETA_OPTIM_SGDHD,      /* gbaydin/hypergradient-descent */
    ETA_OPTIM_ADAMHD,     /* gbaydin/hypergradient-descent */
    ETA_OPTIM_MECHANIC,   /* a tuner around another rule (config.base) */
    ETA_OPTIM_MUON,       /* PyTorch 2.9+, 2-D parameters only */
    ETA_OPTIM_COUNT
} eta_optim_kind;

/* The anchor whose behaviour an option reproduces where frameworks differ.
 * What each value means depends on the option and optimizer (docs/optim.md). */
typedef enum eta_anchor {
    ETA_ANCHOR_TORCH = 0,
    ETA_ANCHOR_KERAS,
    ETA_ANCHOR_OPTAX,
    ETA_ANCHOR_PAPER,
    ETA_ANCHOR_COUNT
} eta_anchor;

/* "torch", "keras", "optax", "paper". */
const char *eta_anchor_name(eta_anchor a);

/* Muon's adjust_lr_fn: None (what 'original' does), 'original' (Keller
 * Jordan's lr*sqrt(max(1, rows/cols))) or 'match_rms_adamw' (Moonshot's
 * lr*0.2*sqrt(max(rows, cols))). */
typedef enum eta_muon_adjust {
    ETA_MUON_ADJUST_NONE = 0,
    ETA_MUON_ADJUST_ORIGINAL,
    ETA_MUON_ADJUST_MATCH_RMS_ADAMW,
    ETA_MUON_ADJUST_COUNT
} eta_muon_adjust;

/* Hyperparameters of one parameter group. Field names follow the PyTorch
 * argument they hold; each optimizer reads only its own (see
 * eta_optim_describe). Defaults come from eta_optim_defaults(). */
typedef struct eta_optim_hparams {
    double lr;                /* learning rate (Optax: learning_rate) */
    double weight_decay;      /* L2 or decoupled decay, per optimizer */
    double momentum;          /* SGD, RMSprop, LARS */
    double dampening;         /* SGD */
    double beta1, beta2;      /* betas=(beta1, beta2); Optax b1, b2 */
    double eps;               /* Adafactor: eps[0], NaN meaning None (the dtype's epsilon) */
    double eps2;              /* Adafactor: eps[1] */
    double eps_root;          /* LAMB, AdaBelief (Optax) */
    double alpha;             /* RMSprop smoothing constant; ASGD power */
    double rho;               /* Adadelta */
    double lr_decay;          /* Adagrad */
    double initial_accumulator_value; /* Adagrad */
    double momentum_decay;    /* NAdam psi (1.0 reproduces Keras' 0.96^t) */
    double lambd, t0;         /* ASGD */
    double etas[2];           /* Rprop (etaminus, etaplus) */
    double step_sizes[2];     /* Rprop (min, max) */
    double trust_coefficient; /* LARS */
    double beta2_decay;       /* Adafactor */
    double d;                 /* Adafactor clipping threshold */
    double ns_coefficients[3]; /* Muon: Newton-Schulz (a, b, c) */
    double ns_steps;          /* Muon: Newton-Schulz iterations, an integer in [0, 100) */
    eta_muon_adjust adjust_lr_fn; /* Muon */
    /* The learning-rate-free rules, under their authors' argument names. */
    double warmup_steps;      /* Schedule-Free: linear warmup over this many steps */
    double r;                 /* Schedule-Free: the average's polynomial weight power */
    double weight_lr_power;   /* Schedule-Free: the average's weight is lr_max^this */
    double beta3;             /* Prodigy: NaN meaning None (sqrt(beta2)) */
    double d0;                /* Prodigy, D-Adaptation: initial estimate of D */
    double d_coef;            /* Prodigy */
    double growth_rate;       /* Prodigy, D-Adaptation: may be +inf */
    double slice_p;           /* Prodigy: every slice_p-th element feeds the estimate */
    double layer_scale;       /* DAdaptAdam: a group's factor on the adapted step */
    double reps_rel;          /* DoG, LDoG: the first distance, relative to 1 + |x0| */
    double init_eta;          /* DoG, LDoG: the first step size, NaN meaning None */
    double hypergrad_lr;      /* SGDHD, AdamHD: the learning rate of the learning rate */
    bool nesterov;            /* SGD, LARS, Muon */
    bool maximize;            /* every PyTorch optimizer */
    bool amsgrad;             /* Adam, AdamW */
    bool centered;            /* RMSprop */
    bool decoupled_weight_decay; /* Adam, NAdam, RAdam (AdamW: always) */
    bool decay_at_z;          /* AdamWScheduleFree */
    bool decouple;            /* Prodigy, DAdaptAdam: decoupled weight decay */
    bool use_bias_correction; /* Prodigy, DAdaptAdam */
    bool safeguard_warmup;    /* Prodigy */
    eta_anchor eps_mode;      /* Adam family: torch sqrt(v_hat)+eps | keras eps-hat;
                                 RAdam: torch eps-hat | optax sqrt(v_hat)+eps;
                                 RMSprop, Adagrad: torch outside sqrt | optax/keras inside */
    eta_anchor amsgrad_mode;  /* torch (and keras): max of raw v | optax: max of v_hat */
    eta_anchor momentum_mode; /* SGD, RMSprop: torch theta -= lr*b | keras buffer holds lr*g */
    eta_anchor weight_decay_mode; /* decoupled decay: torch x lr | paper x lr/initial_lr */
} eta_optim_hparams;

/* Mechanic's own settings (Optax's mechanize): one per optimizer. */
#define ETA_MECHANIC_MAX_BETAS 16
typedef struct eta_mechanic_config {
    double weight_decay;       /* lambda, on the tuner's gradient (not the base's decay): 0.01 */
    double eps;                /* 1e-8 */
    double s_init;             /* the scale it starts from: 1e-6 */
    int num_betas;             /* tuners with beta_j = 1 - 10^-j, j = 1..num_betas: 6 */
} eta_mechanic_config;

/* Optax's defaults. */
eta_mechanic_config eta_mechanic_defaults(void);

/* The configuration of an optimizer: its rule, its element type, and the
 * hyperparameters that new groups start from. Kind ETA_OPTIM_MECHANIC wraps
 * the rule `base`: hp holds the base rule's hyperparameters (groups, lr and
 * schedules are the base's) and `mechanic` Mechanic's settings. */
typedef struct eta_optim_config {
    eta_optim_kind kind;
    eta_optim_kind base;       /* ETA_OPTIM_MECHANIC only: the wrapped rule (not Mechanic) */
    eta_mechanic_config mechanic; /* ETA_OPTIM_MECHANIC only */
    eta_dtype dtype;           /* of every parameter, gradient and state array */
    eta_optim_hparams hp;
    bool check_finite;         /* check gradients before each step; a NaN or Inf makes the step
                                  return ETA_ENONFINITE and change nothing */
    int threads;               /* OpenMP threads for large arrays: 0 = OpenMP's default */
    const eta_allocator *alloc; /* NULL: malloc/free */
} eta_optim_config;

/* PyTorch 2.x defaults for `kind` (Optax's for Lion, LAMB, LARS, AdaBelief,
 * COCOB; the authors' for DoG, LDoG, SGDHD, AdamHD), dtype float32, no
 * finite check, default threads. SGD's lr is 1e-3 (the recent 2.x default),
 * as is SGDHD's (the reference requires one). Mechanic: around AdamW's
 * defaults, with Optax's settings. */
eta_optim_config eta_optim_defaults(eta_optim_kind kind);

/* The PyTorch class name ("AdamW"), or NULL for an invalid kind. */
const char *eta_optim_name(eta_optim_kind kind);

/* The kind named `name` (exact, case-sensitive), or -1. */
int eta_optim_kind_from_name(const char *name);

/* The signature with defaults, as a PyTorch user reads it:
 * "AdamW(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.01, amsgrad=False, *,
 *  maximize=False, eps_mode='torch', amsgrad_mode='torch', weight_decay_mode='torch')".
 * Returns what snprintf would. */
int eta_optim_describe(eta_optim_kind kind, char *buf, size_t n);

/* Parses a spec such as "SGD(lr=0.1, momentum=0.9, nesterov=True)" into
 * `cfg` (kind and hp; the other fields get their defaults). Python binding
 * rules, PyTorch names, defaults and validation. Errors are located in the
 * text (eta_err_format draws the caret). */
int eta_optim_config_from_spec(eta_optim_config *cfg, const char *spec, eta_err *err);
/* The same from a parsed CALL node. */
int eta_optim_config_from_tree(eta_optim_config *cfg, const eta_spec *call, eta_err *err);

/* Checks hyperparameters for `kind` as the constructor would: ETA_EINVAL and
 * a message naming the argument ("AdamW: betas[1] must be in [0, 1), got 1.5"). */
int eta_optim_check_hparams(eta_optim_kind kind, const eta_optim_hparams *hp, eta_err *err);

/* ------------------------------------------------------------------------ */

typedef struct eta_optim eta_optim;

#define ETA_MAX_DIMS 8

/* Creates an optimizer with one parameter group (index 0) whose
 * hyperparameters are cfg->hp. */
int eta_optim_new(eta_optim **out, const eta_optim_config *cfg, eta_err *err);
void eta_optim_free(eta_optim *opt);

/* Adds a parameter group with its own hyperparameters (NULL: a copy of the
 * config's). Returns the new group's index (>= 1), or a negative error. */
int eta_optim_add_group(eta_optim *opt, const eta_optim_hparams *hp);

/* Registers a parameter array of shape shape[0..ndim) in `group`, and its
 * gradient array of the same shape (written by the caller before each step;
 * clipping functions scale it in place). Allocates and initialises its state
 * as PyTorch does at the first step, and the scratch its update needs (Muon:
 * the Newton-Schulz matrices). Returns the parameter's index (>= 0), or a
 * negative error. 0 <= ndim <= ETA_MAX_DIMS; ndim 0 is a scalar. Muon, as
 * PyTorch's, takes 2-D parameters only (ETA_EINVAL naming the shape):
 * biases, norms, embeddings and convolutions go to another optimizer. */
int eta_optim_add_param(eta_optim *opt, int group, void *data, void *grad, int ndim,
                        const int64_t *shape);

/* One update of every parameter from its gradient. No allocation. Returns
 * ETA_ENONFINITE (touching nothing) when check_finite is on and a gradient
 * holds a NaN or Inf; ETA_ESTATE without parameters. */
int eta_optim_step(eta_optim *opt);

/* The number of steps taken (PyTorch's state["step"]). */
int64_t eta_optim_step_count(const eta_optim *opt);
/* Copies from src to dst, built with the same rule and dtype and as many
 * groups, everything but the state arrays: the groups' hyperparameters,
 * initial lr and scalars, the step count (every dst parameter's taking
 * src's), the rule's scalars and the mode. With eta_optim_state, array by
 * array, it hands the state of an optimizer over slices of the parameters
 * (data-parallel ZeRO-1) to one over the whole, and back. Only for rules
 * whose parameters all step together. ETA_EINVAL on a mismatch. */
int eta_optim_handover(eta_optim *dst, const eta_optim *src);
int eta_optim_group_count(const eta_optim *opt);
int eta_optim_param_count(const eta_optim *opt);
const eta_optim_config *eta_optim_get_config(const eta_optim *opt);

/* The learning rate of `group`, read and set between steps (what a schedule
 * does each step). set_lr validates (finite, >= 0). Rules that adapt their
 * own rate (SGDHD, AdamHD) keep it apart: eta_optim_lr returns the rate the
 * next step starts from, the adapted rate times (lr / initial lr), lr being
 * what set_lr last set; so a schedule multiplies the adapted rate, and
 * without one the rate is the reference's. */
double eta_optim_lr(const eta_optim *opt, int group);
int eta_optim_set_lr(eta_optim *opt, int group, double lr);
/* The momentum a cycling schedule drives: `momentum` for SGD, RMSprop and
 * LARS, beta1 for the Adam family, Lion, LAMB and AdaBelief. ETA_EINVAL for
 * rules with neither. */
double eta_optim_momentum(const eta_optim *opt, int group);
int eta_optim_set_momentum(eta_optim *opt, int group, double momentum);
/* The learning rate the group was created with (PyTorch's initial_lr). */
double eta_optim_initial_lr(const eta_optim *opt, int group);

/* Matrix products for rules that multiply matrices (Muon): row-major
 * C = alpha op(A) op(B) + beta C, op = transpose when ta/tb, op(A) M x K,
 * op(B) K x N, C M x N, lda/ldb/ldc row strides in elements; beta == 0
 * sets C without reading it (the BLAS contract). Called from the step,
 * with sizes eta has checked; must not allocate for the step to keep its
 * promise. */
typedef void (*eta_sgemm_fn)(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                             const float *B, int ldb, float beta, float *C, int ldc);
typedef void (*eta_dgemm_fn)(bool ta, bool tb, int M, int N, int K, double alpha, const double *A, int lda,
                             const double *B, int ldb, double beta, double *C, int ldc);
typedef struct eta_gemm {
    eta_sgemm_fn sgemm; /* float32; NULL: eta's C GEMM */
    eta_dgemm_fn dgemm; /* float64; NULL: eta's C GEMM */
} eta_gemm;

/* The GEMM the optimizer's matrix products run on; NULL (the default) or
 * NULL members: eta's own blocked C GEMM (src/core/gemm.c), which needs
 * nothing but libc and gives the same bits at any thread count. A program
 * with eta's nn layer passes eta_nn_gemm() (eta_net_attach does it), which
 * runs the BLAS the network uses. */
void eta_optim_set_gemm(eta_optim *opt, const eta_gemm *gemm);

/* All hyperparameters of a group; set validates them first. */
int eta_optim_get_hparams(const eta_optim *opt, int group, eta_optim_hparams *hp);
int eta_optim_set_hparams(eta_optim *opt, int group, const eta_optim_hparams *hp);

/* A state array of parameter `param`, by PyTorch's name: "exp_avg",
 * "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer", "sum", "square_avg",
 * "grad_avg", "acc_delta", "exp_inf", "mu_product", "ax", "eta", "mu",
 * "prev", "step_size", "row_var", "col_var", "variance", "exp_avg_var",
 * "init_particles", "cumulative_gradients", "scale", "subgradients",
 * "reward" (COCOB), "init_buffer", "rbar", "G", "eta" (DoG, LDoG),
 * "grad_prev" (SGDHD), "x0" (Mechanic, besides its base rule's)
 * ("momentum_buffer" is also Muon's).
 * Elements are of the optimizer's dtype. ETA_EINVAL if the rule (with its
 * options) keeps no such state. */
int eta_optim_state(const eta_optim *opt, int param, const char *name, void **data, size_t *n);
/* The i-th state array name the rule may keep (its options decide which it
 * does: eta_optim_state says), NULL past the last. */
const char *eta_optim_state_name(const eta_optim *opt, int i);

/* Scalars the optimizer keeps besides its state arrays: the step size a
 * learning-rate-free rule estimated (D-Adaptation's and Prodigy's "d"),
 * Schedule-Free's averaging weights, and so on (docs/optim.md lists each
 * rule's). `group` picks the group for per-group scalars; an optimizer-wide
 * one is the same for every valid group. ETA_EINVAL if the rule keeps no
 * scalar of that name or the group does not exist. They are saved and
 * restored with the state. */
int eta_optim_scalar(const eta_optim *opt, int group, const char *name, double *value);
/* The i-th scalar's name (per-group ones first), NULL past the last. */
const char *eta_optim_scalar_name(const eta_optim *opt, int i);

/* Train and evaluation points. Schedule-Free rules (SGDScheduleFree,
 * AdamWScheduleFree) train at one point y and evaluate at another, x, the
 * average of the iterates: between steps the parameters hold y ("train
 * mode", the state after eta_optim_new); eta_optim_eval writes x into them,
 * and eta_optim_train writes y back, exactly. Evaluate, checkpoint and save
 * the model in eval mode; step only in train mode (eta_optim_step returns
 * ETA_ESTATE in eval mode). Before the first step both points are the
 * parameters themselves. For every other rule the two calls only set the
 * mode. The mode is saved and restored with the state. */
int eta_optim_eval(eta_optim *opt);
int eta_optim_train(eta_optim *opt);
bool eta_optim_is_eval(const eta_optim *opt);
/* Whether the rule has a separate evaluation point (Schedule-Free). */
bool eta_optim_has_eval_point(const eta_optim *opt);

/* The message of the last error on this optimizer ("" if none). */
const char *eta_optim_error(const eta_optim *opt);

/* Gradient tools, over every registered gradient, in the spirit of
 * torch.nn.utils and optax. Norms accumulate in double, in fixed blocks
 * combined in order, so results do not depend on the thread count. */

/* The global L2 norm of all gradients. */
int eta_optim_grad_norm(eta_optim *opt, double *norm);
/* Scales all gradients so their global norm is at most max_norm; writes the
 * norm before clipping to *total (may be NULL). ETA_ANCHOR_TORCH:
 * coef = min(1, max_norm/(total+1e-6)) (clip_grad_norm_); ETA_ANCHOR_OPTAX:
 * g*max_norm/total only when total >= max_norm (clip_by_global_norm). */
int eta_optim_clip_grad_norm(eta_optim *opt, double max_norm, eta_anchor mode, double *total);
/* The same scaling from a norm the caller computed: the global norm of
 * gradients this optimizer holds only a slice of (data-parallel ZeRO-1). */
int eta_optim_clip_grad_norm_given(eta_optim *opt, double max_norm, eta_anchor mode, double norm);
/* Clamps every gradient element to [-clip, clip] (clip_grad_value_). */
int eta_optim_clip_grad_value(eta_optim *opt, double clip);
/* Adaptive gradient clipping (Brock et al. 2021; optax.adaptive_grad_clip):
 * per unit, g <- g * max(|p|,eps)*clipping/|g| when |g| > max(|p|,eps)*clipping.
 * A unit is a slice along the first axis (PyTorch's output layout) for
 * arrays of 2 or more dimensions, the whole array otherwise. */
int eta_optim_clip_grad_agc(eta_optim *opt, double clipping, double eps);
/* ETA_ENONFINITE if any gradient element is NaN or Inf (the message names
 * the parameter and element), else ETA_OK. */
int eta_optim_check_grads(eta_optim *opt);

/* Exact save and restore of everything that determines future steps:
 * rule, dtype, group hyperparameters, step count, parameter shapes and all
 * state arrays. Format: versioned, little-endian, CRC-32 checked
 * (docs/optim.md). save allocates *buf with the optimizer's allocator (free it
 * with eta_optim_free_buf). load requires an optimizer built with the same
 * rule, dtype and parameter shapes; on any error it changes nothing. The
 * parameters themselves are the caller's to save. */
int eta_optim_save(eta_optim *opt, void **buf, size_t *len);
void eta_optim_free_buf(eta_optim *opt, void *buf);
int eta_optim_load(eta_optim *opt, const void *buf, size_t len);
/* save to `path` atomically: a temporary file, flushed and renamed. */
int eta_optim_save_file(eta_optim *opt, const char *path);
int eta_optim_load_file(eta_optim *opt, const char *path);

/* ------------------------------------------------------------------------
 * Weight averaging: torch.optim.swa_utils.AveragedModel over caller-owned
 * arrays (a model's parameters and buffers), float32 or float64.
 *
 *     eta_average *avg;
 *     eta_average_config ac;
 *     eta_average_config_from_spec(&ac, "EMA(decay=0.999)", NULL);
 *     eta_average_new(&avg, &ac, NULL);
 *     eta_average_add(avg, w, n, false);      // copies w now (AveragedModel's deepcopy)
 *     for (;;) { ...; eta_optim_step(opt); eta_average_update(avg); }
 *     eta_average_swap(avg);                  // the model holds the average (evaluate, save), and back
 *
 * update is AveragedModel.update_parameters (PyTorch 2.x): the first update
 * copies the model; later ones average, SWA a <- a + (x - a)/(n + 1) with n
 * the updates so far (get_swa_avg_fn, an equal average of every update), EMA
 * a <- lerp(a, x, 1 - decay) (get_ema_multi_avg_fn(decay)). Arrays added
 * as buffers (BatchNorm's running statistics) are averaged too with
 * use_buffers, else copied from the model at every update, as AveragedModel
 * does; then eta's nn layer recomputes BatchNorm statistics for the average
 * (torch.optim.swa_utils.update_bn; eta train does it). Nothing is allocated
 * after the arrays are added. One object, one thread at a time.
 * ------------------------------------------------------------------------ */

typedef enum eta_average_kind {
    ETA_AVERAGE_SWA = 0, /* equal average (AveragedModel's default) */
    ETA_AVERAGE_EMA,     /* exponential moving average */
    ETA_AVERAGE_COUNT
} eta_average_kind;

typedef struct eta_average_config {
    eta_average_kind kind;
    eta_dtype dtype;
    double decay;        /* EMA only: 0.999 by default; in [0, 1] */
    bool use_buffers;    /* AveragedModel(use_buffers=): average buffers too (default False) */
    /* When a training loop updates (eta train reads these; the object
     * updates when told): from `start`, a fraction of the run in [0, 1)
     * (SWA 0.75, EMA 0), every `every` optimizer steps (0: at the end of
     * each epoch; SWA 0, EMA 1). */
    double start;
    int64_t every;
    int threads;         /* OpenMP threads for large arrays: 0 = OpenMP's default */
    const eta_allocator *alloc; /* NULL: malloc/free */
} eta_average_config;

/* Defaults of a kind: float32, SWA(start=0.75, every=0) or
 * EMA(decay=0.999, start=0, every=1), use_buffers False. */
eta_average_config eta_average_defaults(eta_average_kind kind);
/* "SWA(start=0.75, every=0, use_buffers=False)" or "EMA(decay=0.999,
 * start=0.0, every=1, use_buffers=False)": errors located in the text. */
int eta_average_config_from_spec(eta_average_config *cfg, const char *spec, eta_err *err);
/* The signature with defaults, for help texts; returns what snprintf would. */
int eta_average_describe(eta_average_kind kind, char *buf, size_t n);
const char *eta_average_name(eta_average_kind kind); /* "SWA", "EMA"; NULL out of range */

typedef struct eta_average eta_average;

int eta_average_new(eta_average **out, const eta_average_config *cfg, eta_err *err);
void eta_average_free(eta_average *avg);
/* Registers n elements of the caller's model (which must outlive the object)
 * and copies them as the average's starting value; `buffer` marks a buffer.
 * Returns the array's index, or a negative error. */
int eta_average_add(eta_average *avg, void *model, size_t n, bool buffer);
/* One AveragedModel.update_parameters(model). ETA_ESTATE without arrays. */
int eta_average_update(eta_average *avg);
/* Updates taken (AveragedModel's n_averaged). */
int64_t eta_average_count(const eta_average *avg);
/* The averaged values of array i (n elements of dtype); NULL out of range. */
const void *eta_average_data(const eta_average *avg, int i, size_t *n);
/* Exchanges the model's values and the average's, every array: call once to
 * evaluate or save the averaged model, and again to continue training. */
int eta_average_swap(eta_average *avg);
/* Exact save and restore of the average (values, count, configuration):
 * versioned, little-endian, CRC-32 checked. load requires an object with the
 * same kind, dtype, decay, use_buffers and arrays; on error it is unchanged.
 * save allocates with the object's allocator (eta_average_free_buf). */
int eta_average_save(eta_average *avg, void **buf, size_t *len);
void eta_average_free_buf(eta_average *avg, void *buf);
int eta_average_load(eta_average *avg, const void *buf, size_t len);
/* The message of the last error ("" if none). */
const char *eta_average_error(const eta_average *avg);

#ifdef __cplusplus
}
#endif
#endif
