/* optim/rule.h - internal: what an update rule provides to the optimizer.
 *
 * One file per rule (sgd.c, adam.c, ...) defines a `const optim_rule` with
 * its PyTorch name, its argument table (names, types, ranges; the spec
 * binder, the validator and `describe` all read it), its defaults, the state
 * arrays it keeps, and its update. optim.c owns groups, parameters, state
 * memory and the step counter and calls the rule once per parameter.
 *
 * A rule that needs more than one parameter at a time (sums over every
 * parameter, as D-Adaptation, Prodigy, DoG, hypergradient descent and
 * Mechanic do; Schedule-Free's train/eval switch) adds the optimizer-wide
 * pass, described below at optim_wide: `prepare` before the updates,
 * `finish` after them, and scalars per optimizer and per group that the
 * updates read and save.c keeps.
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

/* State arrays per parameter. Mechanic keeps its x0 in the last slot, so a
 * rule it wraps keeps at most OPTIM_MAX_STATE - 1 (COCOB, the most, 5). */
#define OPTIM_MAX_STATE 6
#define MECH_SLOT (OPTIM_MAX_STATE - 1)
#define OPTIM_MAX_SCALARS 8 /* optimizer-wide scalars, per optimizer and per group */

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

/* A parameter group: its hyperparameters and the rule's scalars for it. */
typedef struct optim_group {
    eta_optim_hparams hp;
    double initial_lr;
    double scalars[OPTIM_MAX_SCALARS]; /* rule->group_scalar_names; 0 unless init_group_scalars sets them */
} optim_group;

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
    const double *scalars;       /* the optimizer's scalars (rule->scalar_names), as prepare left them */
    const double *group_scalars; /* the parameter's group's scalars (rule->group_scalar_names) */
    const eta_optim_hparams *hp0; /* group 0's, for settings a reference reads from param_groups[0] */
} optim_ctx;

/* The optimizer-wide pass: everything the optimizer holds, handed to a rule's
 * prepare (before the per-parameter updates of a step), finish (after them)
 * and switch_point (train/eval). The hooks may read and write every
 * parameter, gradient and state array and every scalar; they must not
 * allocate.
 *
 * Sums over parameters: take each parameter's sum with eta_reduce (or the
 * helpers below) on w->scratch, which holds enough slots for the largest
 * parameter, and add the per-parameter results in parameter order, in
 * double whatever the dtype. Every sum then has the same bits at any thread
 * count. A block function given to eta_reduce may also update the elements
 * of its block (the blocks are disjoint): an update and its sum in one pass.
 *
 * Scalars: up to OPTIM_MAX_SCALARS doubles for the optimizer
 * (rule->scalar_names, such as D-Adaptation's "d") and as many per group
 * (rule->group_scalar_names, such as Schedule-Free's "weight_sum"), zero at
 * creation unless init_scalars / init_group_scalars set them, saved and
 * restored exactly by save.c, read by every update through optim_ctx and by
 * users through eta_optim_scalar(). A rule keeps there whatever its reference
 * keeps in `group[...]`: the values must determine the future steps.
 *
 * A sketch (a step size from the sum of all squared gradients so far):
 *     enum { GSUM, ETA };   // .scalar_names = {"g_sum", "eta", NULL}
 *     static int my_prepare(optim_wide *w)
 *     {
 *         double gsq = eta_optim_wide_total_dot(w, OPTIM_GRAD, OPTIM_GRAD, false);
 *         if (gsq == 0)
 *             return OPTIM_SKIP;
 *         w->scalars[GSUM] += gsq;
 *         w->scalars[ETA] = w->groups[0].hp.lr / sqrt(w->scalars[GSUM]);
 *         return ETA_OK;
 *     }
 *     static void my_update(const optim_ctx *c, optim_param *p)   // reads c->scalars[ETA]
 * src/optim/prodigy.c and dadapt.c are complete examples; tests/test_optim_wide.c
 * has a small one. */
typedef struct optim_wide {
    double *scalars;         /* the optimizer's */
    optim_group *groups;     /* groups[g].hp, .initial_lr, .scalars */
    int ngroups;
    optim_param *params;     /* params[i].data, .grad, .n, .group, .step, .state[k] */
    int nparams;
    int64_t step;            /* the optimizer's step being taken: 1 on the first */
    eta_dtype dtype;
    int threads;
    double *scratch;         /* eta_reduce_slots(largest parameter) doubles */
    char *err;               /* prepare's message on failure */
    size_t err_len;
} optim_wide;

/* What prepare returns besides ETA_OK and a negative ETA_E* code: take no
 * per-parameter update and no finish this step, and leave the step counters
 * alone (the references' early `return loss` when no gradient arrived). */
#define OPTIM_SKIP 1

/* The optimizer-wide helpers: sums over x[0..n) of one parameter (dtype
 * w->dtype) in double, in fixed blocks, so the same bits at any thread count. */
double eta_optim_wide_dot(const optim_wide *w, const void *a, const void *b, size_t n);
double eta_optim_wide_sumsq(const optim_wide *w, const void *a, size_t n);
double eta_optim_wide_sum_abs(const optim_wide *w, const void *a, size_t n);
/* sum over parameters i of <a_i, b_i>, in parameter order, over every
 * parameter or (trainable_only) those whose group has lr > 0. a and b pick
 * each parameter's arrays: OPTIM_GRAD, OPTIM_DATA or a state index >= 0
 * (a state the rule keeps for every parameter). */
#define OPTIM_GRAD (-1)
#define OPTIM_DATA (-2)
double eta_optim_wide_total_dot(const optim_wide *w, int a, int b, bool trainable_only);
/* The learning rate of rules with one step size for all groups (D-Adaptation,
 * Prodigy): the largest group lr into *lr; ETA_EINVAL, naming the rule, if a
 * group has another lr but 0 (a frozen group), as the references raise. */
int eta_optim_wide_one_lr(optim_wide *w, const char *name, double *lr);
/* Python's max(a, b) and min(a, b): a unless b is greater (smaller), so a NaN
 * b gives a, as the references' float arithmetic does. */
static inline double eta_py_max(double a, double b)
{
    return b > a ? b : a;
}
static inline double eta_py_min(double a, double b)
{
    return b < a ? b : a;
}
/* Copies n elements of w->dtype (memcpy). */
void eta_optim_wide_copy(const optim_wide *w, void *dst, const void *src, size_t n);
/* A failure of prepare: writes the message into w->err and returns code. */
int eta_optim_wide_fail(optim_wide *w, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

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
    ARG_IGNORED,  /* PyTorch implementation switches (foreach, fused, ...): bool or None, no effect */
    ARG_IGNORED_NUM, /* a number with no effect on the numbers (log_every); default 0 */
    ARG_REAL_OR_NONE, /* double at off, NaN for None (Prodigy's beta3, DoG's init_eta) */
    ARG_REAL_OR_INF  /* double at off that may be +inf (growth_rate=float('inf')) */
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

    /* The optimizer-wide pass (optim_wide above); every member may be NULL.
     * Names of the scalars, NULL-terminated (at most OPTIM_MAX_SCALARS). */
    const char *scalar_names[OPTIM_MAX_SCALARS + 1];
    const char *group_scalar_names[OPTIM_MAX_SCALARS + 1];
    /* Initial scalars of the optimizer (from the config's hyperparameters)
     * and of a new group (from its own); memory arrives zeroed. */
    void (*init_scalars)(const eta_optim_hparams *hp, double *scalars);
    void (*init_group_scalars)(const eta_optim_hparams *hp, double *scalars);
    /* Before the per-parameter updates of a step, with w->step the step
     * being taken (the parameters' step counters not yet advanced): ETA_OK,
     * OPTIM_SKIP, or a negative code with a message (eta_optim_wide_fail;
     * then the step changes nothing the hook did not change). */
    int (*prepare)(optim_wide *w);
    /* After every parameter's update of the step. */
    void (*finish)(optim_wide *w);
    /* Moves the parameters to the evaluation point (eval true) or back to the
     * training point (Schedule-Free's x and y); rules with one point leave it NULL. */
    void (*switch_point)(optim_wide *w, bool eval);
    /* The rate eta_optim_lr reports for a group, for rules that adapt their
     * own (hypergradient descent); NULL: the group's lr. */
    double (*lr_of)(const optim_group *g);
} optim_rule;

/* Mechanic (mechanic.c): the binder and describe of Mechanic(...), and the
 * check of its settings (`at`, may be NULL: the spec nodes of weight_decay,
 * eps, s_init and num_betas, to locate errors). */
int eta_mech_config_from_tree_(eta_optim_config *cfg, const eta_spec *call, eta_err *err);
int eta_mech_describe_(char *buf, size_t n);
int eta_mech_check_(const eta_mechanic_config *c, const eta_spec *const *at, eta_err *err);

/* state_len for rules whose every state array is the parameter's size. */
size_t eta_optim_state_full(const eta_optim_hparams *hp, const optim_param *p, int i);

/* The rule of a kind; NULL if out of range. */
const optim_rule *eta_optim_rule(eta_optim_kind kind);

/* g + wd*p in the dtype, torch's grad.add(p, alpha=wd) for L2 decay; the
 * gradient itself when wd is 0. For a rule's typed pass (T). */
#define L2_GRAD(g, p, wd) ((wd) != 0 ? (g) + (T)(wd) * (p) : (g))

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
