/* optim/rule.h - internal: what an update rule provides to the optimizer.
 *
 * One file per rule (sgd.c, adam.c, ...) defines a `const optim_rule` with
 * its PyTorch name, its argument table (names, types, ranges; the spec
 * binder, the validator and `describe` all read it), its defaults, the state
 * arrays it keeps, and its update. optim.c owns groups, parameters, state
 * memory and the step counter and calls the rule once per parameter.
 *
 * Float32 and float64 kernels come from one source: a rule file includes
 * itself twice with T defined as float, then double (ETA_TYPED_PASS set;
 * optim/instantiate.h does it), and TF(name) names the typed copy
 * (name_float, name_double). <tgmath.h>
 * makes sqrt, fabs, fmax, ... pick the float or double function from T.
 */
#ifndef ETA_OPTIM_RULE_H
#define ETA_OPTIM_RULE_H

#include <eta/optim.h>
#include <stddef.h>
#include <tgmath.h>

#include "core/parallel.h"

#define ETA_CAT_(a, b) a##_##b
#define ETA_CAT(a, b) ETA_CAT_(a, b)
#define TF(name) ETA_CAT(name, T)

#define OPTIM_MAX_STATE 4

/* A registered parameter and its state. */
typedef struct optim_param {
    void *data;
    void *grad;
    size_t n;
    int ndim;
    int64_t shape[ETA_MAX_DIMS];
    int group;
    int64_t step;                 /* updates taken (PyTorch's per-parameter state["step"]) */
    void *state[OPTIM_MAX_STATE]; /* into the optimizer's state block; NULL if absent */
    size_t state_n[OPTIM_MAX_STATE];
    void *block;                  /* owns the state arrays */
} optim_param;

/* What an update needs besides the parameter. */
typedef struct optim_ctx {
    const eta_optim_hparams *hp; /* the parameter's group */
    double initial_lr;           /* the group's lr at creation (PyTorch's initial_lr) */
    int64_t step;                /* this parameter's step being taken: 1 on its first */
    eta_dtype dtype;
    int threads;
    double *scratch;             /* eta_reduce_slots(largest parameter) doubles */
    void *work;                  /* the rule's work_len elements of dtype, or NULL */
    const eta_gemm *gemm;        /* eta_optim_set_gemm's; NULL members: core/gemm.c */
} optim_ctx;

/* Argument types of the spec/validation table. */
typedef enum optim_arg_type {
    ARG_REAL,     /* double at off */
    ARG_INT,      /* a Python int, held as a double at off (Muon's ns_steps) */
    ARG_PAIR,     /* a 2-tuple of doubles at off and off2 */
    ARG_EPS_PAIR, /* Adafactor's (None|real, real): off (NaN for None), off2 */
    ARG_BOOL,     /* bool at off */
    ARG_ANCHOR,   /* eta_anchor at off, one of `anchors` (a bit mask) */
    ARG_TRIPLE,   /* a 3-tuple of doubles at off, off + 8, off + 16 (an array) */
    ARG_ADJUST,   /* Muon's adjust_lr_fn: None or a name, eta_muon_adjust at off */
    ARG_IGNORED   /* PyTorch implementation switches (foreach, fused, ...): bool or None, no effect */
} optim_arg_type;

#define ANCHOR_BIT(a) (1u << (a))

typedef struct optim_arg {
    const char *name;
    optim_arg_type type;
    size_t off, off2;
    bool kw_only;
    bool required;             /* Optax's learning_rate has no default */
    double lo, hi;             /* valid range of reals (each element of a pair) */
    bool lo_open, hi_open;
    unsigned anchors;          /* ARG_ANCHOR: the values accepted */
} optim_arg;

typedef struct optim_rule {
    eta_optim_kind kind;
    const char *name;           /* "AdamW" */
    const char *alias;          /* another accepted name ("lion" for Lion), or NULL */
    const optim_arg *args;
    int nargs;
    eta_optim_hparams defaults;
    /* Checks that need more than one argument (SGD's nesterov); NULL if none.
     * Writes a message into err via eta_spec_fail with a NULL node. */
    int (*check)(const eta_optim_hparams *hp, eta_err *err);
    const char *state_names[OPTIM_MAX_STATE + 1]; /* NULL-terminated */
    /* Elements of state array i for p under hp (0: the array is not kept). */
    size_t (*state_len)(const eta_optim_hparams *hp, const optim_param *p, int i);
    /* Initial state (memory arrives zeroed); NULL if zeros are right. */
    void (*init)(const eta_optim_hparams *hp, optim_param *p, eta_dtype dtype);
    /* One update of p; no allocation. */
    void (*update)(const optim_ctx *c, optim_param *p);
    /* The hyperparameter a cycling schedule drives as "momentum": an offset of
     * a double in eta_optim_hparams, or (size_t)-1 if none. */
    size_t momentum_field;
    /* The only number of dimensions the rule takes (Muon: 2); 0: any. */
    int param_ndim;
    /* Elements of dtype the update of p needs as scratch (NULL: none). The
     * optimizer keeps one buffer of the largest, sized when parameters are
     * added, so that a step never allocates. */
    size_t (*work_len)(const optim_param *p);
} optim_rule;

/* state_len for rules whose every state array is the parameter's size. */
size_t eta_optim_state_full(const eta_optim_hparams *hp, const optim_param *p, int i);

/* The rule of a kind; NULL if out of range. */
const optim_rule *eta_optim_rule(eta_optim_kind kind);

/* Torch's lerp: self + w*(end-self) for |w| < 0.5, else end - (end-self)*(1-w). */
#define LERP(a, b, w) ((w) < (T)0.5 ? (a) + (w) * ((b) - (a)) : (b) - ((b) - (a)) * ((T)1 - (w)))

/* Common argument rows. */
#define ARG_LR(defaultless) \
    {"lr", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, defaultless, 0, INFINITY, false, true, 0}
#define ARG_NONNEG(nm, field) \
    {nm, ARG_REAL, offsetof(eta_optim_hparams, field), 0, false, false, 0, INFINITY, false, true, 0}
#define ARG_NONNEG_KW(nm, field) \
    {nm, ARG_REAL, offsetof(eta_optim_hparams, field), 0, true, false, 0, INFINITY, false, true, 0}
#define ARG_BETAS                                                                              \
    {"betas", ARG_PAIR, offsetof(eta_optim_hparams, beta1), offsetof(eta_optim_hparams, beta2), \
     false, false, 0, 1, false, true, 0}
#define ARG_FLAG(nm, field) {nm, ARG_BOOL, offsetof(eta_optim_hparams, field), 0, false, false, 0, 0, false, false, 0}
#define ARG_FLAG_KW(nm, field) {nm, ARG_BOOL, offsetof(eta_optim_hparams, field), 0, true, false, 0, 0, false, false, 0}
#define ARG_SWITCH(nm, kw) {nm, ARG_IGNORED, 0, 0, kw, false, 0, 0, false, false, 0}
#define ARG_MODE(nm, field, mask) \
    {nm, ARG_ANCHOR, offsetof(eta_optim_hparams, field), 0, true, false, 0, 0, false, false, mask}

#define TORCH_KERAS (ANCHOR_BIT(ETA_ANCHOR_TORCH) | ANCHOR_BIT(ETA_ANCHOR_KERAS))
#define TORCH_OPTAX (ANCHOR_BIT(ETA_ANCHOR_TORCH) | ANCHOR_BIT(ETA_ANCHOR_OPTAX))
#define TORCH_PAPER (ANCHOR_BIT(ETA_ANCHOR_TORCH) | ANCHOR_BIT(ETA_ANCHOR_PAPER))
#define TORCH_KERAS_OPTAX (TORCH_KERAS | ANCHOR_BIT(ETA_ANCHOR_OPTAX))

/* Decoupled weight decay factor for a step: lr*wd (torch) or, with
 * weight_decay_mode paper, (lr/initial_lr)*wd: the schedule multiplier only. */
double eta_optim_decay_rate(const optim_ctx *c);

#endif
