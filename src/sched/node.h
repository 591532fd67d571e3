/* sched/node.h - internal: a schedule is a tree of nodes, one per call in its
 * spec. Each kind of node (StepLR, CosineDecay, SequentialLR, ...) is a row
 * of type sched_kind, defined in the file of its family (torch_step.c,
 * keras.c, optax.c, ...): its argument table (names, types, defaults, ranges;
 * binding, validation and `describe` read it), a check that derives what the
 * formulas need, and the pure functions lr(t) and, for cycling kinds,
 * momentum(t). Stateful kinds (plateau rules) also observe metrics.
 *
 * Argument values live in the node by their position in the kind's table:
 * n->v[i] for numbers (NaN when an optional argument is None or absent),
 * n->vec[i] / n->vlen[i] for lists, n->kids for the one list of schedules a
 * composite takes. A kind names its positions with an enum in its file.
 */
#ifndef ETA_SCHED_NODE_H
#define ETA_SCHED_NODE_H

#include <eta/sched.h>
#include <math.h>
#include <stddef.h>

#define SCHED_MAX_ARGS 16
#define SCHED_MAX_DERIVED 16
#define SCHED_MAX_STATE 16

typedef enum sched_arg_type {
    SA_REAL,      /* a number (int accepted) */
    SA_INT,       /* an integer, stored as double */
    SA_BOOL,      /* True/False, stored as 0/1 */
    SA_CHOICE,    /* a string among `choices` ("|"-separated); stored as its index */
    SA_REALS,     /* a list or tuple of numbers; vec/vlen */
    SA_REAL_OR_REALS, /* a number, or one per parameter group (PyTorch's max_lr=[...]); vec/vlen, v = first */
    SA_SCHEDS,    /* a list of schedule calls; kids/nkids */
    SA_DICT,      /* {number: number, ...}: keys in vec[i], values in vec2 (see dict_values) */
    SA_OPT_REAL,  /* a number or None; NaN for None */
    SA_IGNORED    /* accepted and ignored (PyTorch's verbose, last_epoch=-1) */
} sched_arg_type;

typedef struct sched_arg {
    const char *name;
    sched_arg_type type;
    bool required;
    double dflt;              /* default of a number (NaN: None) */
    double lo, hi;            /* valid range of numbers (each element for lists) */
    bool lo_open, hi_open;
    const char *choices;      /* SA_CHOICE: "cos|linear"; SA_SCHEDS: the kind a dict item's keyword
                               * arguments build (sgdr_schedule's "warmup_cosine_decay_schedule"), or NULL */
} sched_arg;

typedef struct sched_node sched_node;

/* sched_kind.flags */
#define SCHED_COMPOSITE 1u  /* momentum, metrics and "cycles" come from the kids */
#define SCHED_CALLBACK 2u   /* takes a C callback: not buildable from a spec */
#define SCHED_TORCH_CLOSED 4u /* has PyTorch's _get_closed_form_lr, which step(epoch) uses: lr() at
                               * epoch 0 is where SequentialLR restarts it (ConstantLR aside) */

typedef struct sched_kind {
    const char *name;
    const char *family;       /* "torch", "keras", "optax", "fastai", "sklearn", "darknet", "llm.c", "eta" */
    const sched_arg *args;
    int nargs;
    /* Cross-argument checks and derived values (n->d); NULL if none.
     * Report errors with eta_spec_fail at `call` (or an argument's node). */
    int (*check)(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err);
    /* The lr at step t for parameter group `group` whose initial lr is base.
     * `group` selects the element of per-group lists (PyTorch's
     * max_lr=[0.1, 0.05]); kinds without such lists ignore it. */
    double (*lr)(const sched_node *n, double t, double base, int group);
    /* PyTorch's chainable get_lr, for the recursions of ChainedScheduler and
     * SequentialLR (torch_chain.c): the lr at integer step t >= 0 from `lr`,
     * the group's lr as the step before left it (at t = 0, the constructor's
     * initial step, the lr the scheduler found), and `base`, the group's
     * initial lr. NULL for kinds whose value does not depend on the lr they
     * find (OneCycleLR, CyclicLR, the other families): lr(t, base). */
    double (*chain)(const sched_node *n, int64_t t, double lr, double base, int group);
    /* The momentum at step t, or NaN where this node does not set it; NULL
     * for kinds that never cycle momentum. */
    double (*momentum)(const sched_node *n, double t, int group);
    /* The largest valid step (OneCycleLR), or NULL for unbounded. */
    int64_t (*last_step)(const sched_node *n);
    /* The length of the run the schedule is written for (OneCycleLR's
     * total_steps, CosineAnnealingLR's T_max, a decay's decay_steps), or 0
     * for schedules that go on for ever (StepLR, warm-ups, restarts); NULL
     * is 0. See eta_sched_length. */
    int64_t (*length)(const sched_node *n);
    /* Stateful kinds: take the metric measured after step `step`. inputs[g]
     * is the lr flowing into this node at that step for group g (the group's
     * initial lr, or what earlier links of a chain made of it); ngroups >= 1.
     * Composites route the metric to the kids active at that step. */
    void (*observe)(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups);
    unsigned flags;
} sched_kind;

/* Where a composite's recursion (PyTorch's chain of steps) last stopped, for
 * one group and base lr: the recursion continues from here when asked for a
 * later step, so stepping through a run costs O(1) per step. A cache, not
 * state: the same operations in the same order give the same bits. */
typedef struct sched_cursor {
    double base, lr;
    int64_t t;
    int group;
    bool valid;
} sched_cursor;

struct sched_node {
    const sched_kind *kind;
    int pos, len;                  /* the call's place in the spec text, for errors found later */
    double v[SCHED_MAX_ARGS];
    bool given[SCHED_MAX_ARGS];
    double *vec[SCHED_MAX_ARGS];
    int vlen[SCHED_MAX_ARGS];
    double *dict_values;      /* SA_DICT values, parallel to vec[i] keys (one dict per kind) */
    sched_node **kids;
    int nkids;
    double d[SCHED_MAX_DERIVED];   /* derived by check() */
    double st[SCHED_MAX_STATE];    /* state of stateful kinds (saved and restored) */
    bool cycles;                   /* sets momentum (check() decides, e.g. cycle_momentum) */
    eta_sched_fn fn;               /* LambdaLR / MultiplicativeLR */
    void *ud;
    sched_cursor *cursor;          /* SCHED_MAX_GROUPS of them: composites running PyTorch's recursion */
    bool in_ring;                  /* a link of an enclosing composite's recursion (fed its lr) */
};

/* Evaluation of a child (composites call these). */
void sched_node_free(sched_node *n);
double sched_node_lr(const sched_node *n, double t, double base, int group);
/* kind.chain, or lr(t, base) for kinds whose value ignores the lr they find. */
double sched_node_chain(const sched_node *n, int64_t t, double lr, double base, int group);
double sched_node_momentum(const sched_node *n, double t, int group); /* NaN: not set here */
/* Argument i of n for `group`: the group's element of a per-group list, or
 * the single value. */
double sched_node_arg(const sched_node *n, int i, int group);
/* The longest per-group list in the tree (0 if none): apply checks it
 * against the optimizer's group count. */
int sched_node_groups(const sched_node *n);
bool sched_node_cycles(const sched_node *n);
bool sched_node_stateful(const sched_node *n);
void sched_node_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups);
int64_t sched_node_last_step(const sched_node *n); /* INT64_MAX if unbounded */

#define SCHED_MAX_GROUPS 8 /* groups a stateful node tracks separately; more share the last */

/* A length in steps from a count that may be fractional or huge (kinds
 * take real step counts): 0 for none, rounded up, INT64_MAX when it does
 * not fit. */
static inline int64_t sched_steps(double steps)
{
    if (!(steps > 0))
        return 0;
    return steps >= 9.0e18 ? INT64_MAX : (int64_t)ceil(steps);
}
int64_t sched_node_length(const sched_node *n); /* 0: none */

/* After a tree is built (torch_compose.c): settles each composite's mode
 * (an explicit mode='compose' passes down to composites inside that give
 * none), marks the links of recursions, allocates cursors, and refuses what
 * a recursion cannot run (ConstantLR(factor=0) divides by zero at
 * total_iters, as PyTorch does). */
int sched_compose_prepare(sched_node *root, eta_err *err);
/* Forgets every cursor (after a load, or a metric that changes the value of
 * a link of a recursion). */
void sched_cursors_reset(sched_node *root);
/* Whether observing a metric can change a recursion's links (a stateful
 * node whose value is absolute, such as scikit-learn's 'adaptive'). */
bool sched_ring_stateful(const sched_node *root);

/* The kind tables of each family file, and the registry in sched.c. */
extern const sched_kind *const sched_torch_kinds[];   /* NULL-terminated */
extern const sched_kind *const sched_anchor_kinds[];  /* keras, optax, fastai, sklearn, darknet, llm.c, eta */

/* Common argument rows. */
#define SARG_REAL(nm, def, lo, hi) {nm, SA_REAL, false, def, lo, hi, false, false, NULL}
#define SARG_REAL_REQ(nm, lo, hi) {nm, SA_REAL, true, NAN, lo, hi, false, false, NULL}
#define SARG_POS(nm, def) {nm, SA_REAL, false, def, 0, INFINITY, true, true, NULL}      /* > 0 */
#define SARG_NONNEG(nm, def) {nm, SA_REAL, false, def, 0, INFINITY, false, true, NULL}  /* >= 0 */
#define SARG_INT(nm, def, lo) {nm, SA_INT, false, def, lo, INFINITY, false, true, NULL}
#define SARG_INT_REQ(nm, lo) {nm, SA_INT, true, NAN, lo, INFINITY, false, true, NULL}
#define SARG_BOOL(nm, def) {nm, SA_BOOL, false, def, 0, 1, false, false, NULL}
#define SARG_CHOICE(nm, choices) {nm, SA_CHOICE, false, 0, 0, 0, false, false, choices}
#define SARG_IGNORED(nm) {nm, SA_IGNORED, false, NAN, 0, 0, false, false, NULL}

#endif
