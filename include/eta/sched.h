/* eta/sched.h - learning-rate (and momentum) schedules.
 *
 * A schedule is data: eta_sched_lr(s, step, base_lr) is a pure function of
 * the step, so a resumed run needs only the step, and a schedule can be
 * printed or plotted before training. Schedules are written as their
 * constructor calls without the optimizer, so PyTorch, Keras and Optax code
 * pastes in:
 *
 *     OneCycleLR(max_lr=0.1, total_steps=1000)
 *     SequentialLR([LinearLR(start_factor=0.1, total_iters=3), CosineAnnealingLR(T_max=5)], milestones=[3])
 *     CosineDecay(initial_learning_rate=0.0, decay_steps=100, warmup_target=1.0, warmup_steps=10)
 *
 * Step t is the optimizer's t-th update, counted from 0: the value PyTorch's
 * optimizer uses after t calls of scheduler.step(). PyTorch schedulers scale
 * the group's initial lr (`base_lr`); Keras, Optax and the others carry their
 * own values and ignore it. Stateful rules (ReduceLROnPlateau, scikit-learn's
 * 'adaptive') are nodes that observe a metric and keep a factor; they
 * compose with pure schedules, also inside SequentialLR, and are saved and
 * restored exactly. ChainedScheduler and SequentialLR give PyTorch's numbers:
 * they run its recursion (each child's chainable step applied to the lr the
 * step before left); mode='compose' composes the children's closed forms
 * instead. `eta schedule --list` shows every schedule.
 */
#ifndef ETA_SCHED_H
#define ETA_SCHED_H

#include "core.h"
#include "optim.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eta_sched eta_sched;

/* Builds a schedule from its spec. Errors are located in the text (names of
 * valid schedules or arguments, ranges, missing arguments). */
int eta_sched_new(eta_sched **out, const char *spec, eta_err *err);
/* The same from a parsed CALL node (a spec inside a larger spec). */
int eta_sched_new_tree(eta_sched **out, const eta_spec *call, eta_err *err);
void eta_sched_free(eta_sched *s);

/* A C callback for LambdaLR (lr = base * fn(step)) or MultiplicativeLR
 * (lr(0) = base, lr(t) = lr(t-1) * fn(t); O(t) per call). fn must be pure. */
typedef double (*eta_sched_fn)(void *ud, double step);
int eta_sched_new_lambda(eta_sched **out, eta_sched_fn fn, void *ud, bool multiplicative, eta_err *err);

/* The learning rate at `step` for a group whose initial lr is base_lr.
 * `step` may be fractional for schedules that accept it (PyTorch's
 * CosineAnnealingWarmRestarts.step(epoch)); integer schedules floor it.
 * NaN for a step the schedule rejects (see eta_sched_check_step).
 * Composites in PyTorch's recursion keep a cursor in `s` so that a run costs
 * O(1) per step (a jump back re-runs from step 0): the result does not
 * depend on it, but the call writes it, so one schedule is used by one
 * thread at a time, as every eta object. */
double eta_sched_lr(const eta_sched *s, double step, double base_lr);
/* The same for parameter group `group`, for schedules with per-group lists
 * (PyTorch's OneCycleLR(max_lr=[0.1, 0.05])); eta_sched_lr is group 0. */
double eta_sched_lr_group(const eta_sched *s, double step, double base_lr, int group);
/* The number of groups the schedule's per-group lists expect, or 0. */
int eta_sched_groups(const eta_sched *s);

/* True if the schedule sets momentum (or Adam's beta1): CyclicLR,
 * OneCycleLR, fastai's one-cycle, and composites containing them. */
bool eta_sched_cycles_momentum(const eta_sched *s);
/* The momentum at `step`; base_momentum where no cycling part has set it yet
 * (the optimizer's own value). */
double eta_sched_momentum(const eta_sched *s, double step, double base_momentum);
double eta_sched_momentum_group(const eta_sched *s, double step, double base_momentum, int group);

/* ETA_OK if `step` is within the schedule's domain, else ETA_EINVAL with a
 * message that says so: "step 12 is past the end of the schedule, which is
 * defined for steps 0 to 10 (a run of 10 steps)" (OneCycleLR(total_steps=10),
 * which PyTorch computes at step 10 too and refuses after). */
int eta_sched_check_step(const eta_sched *s, int64_t step, eta_err *err);

/* The length of the run the schedule is written for: a run of that many
 * steps uses steps 0 to length - 1. 0 for schedules that go on for ever
 * (StepLR, ExponentialLR, CyclicLR, warm-restarts, warm-ups such as
 * LinearLR, plateau rules). The lengths: OneCycleLR's total_steps (or
 * epochs * steps_per_epoch), CosineAnnealingLR's T_max, PolynomialLR's
 * total_iters; Keras's CosineDecay (warm-up + decay_steps) and
 * PolynomialDecay without cycle; Optax's decay_steps (cosine and
 * warmup_cosine_decay), transition_begin + transition_steps (linear and
 * polynomial), transition_steps (onecycle), the last boundary
 * (piecewise_interpolate), the cycles' sum (sgdr); fastai's n_epoch *
 * steps_per_epoch; darknet's max_batches; llm.c's train_num_batches; WSD's
 * total_steps. Composites: SequentialLR and join_schedules the last
 * milestone plus the last child's length (0 if it has none);
 * ChainedScheduler the longest child. Never more than the last step the
 * schedule is defined for (a SequentialLR whose OneCycleLR runs out). */
int64_t eta_sched_length(const eta_sched *s);
/* The last step the schedule is defined for (OneCycleLR(total_steps=10):
 * 10, as PyTorch computes it and refuses step 11), or INT64_MAX. */
int64_t eta_sched_last_step(const eta_sched *s);

/* Stateful parts. needs_metric: the schedule contains ReduceLROnPlateau or
 * scikit-learn's 'adaptive'. observe: the metric measured after step `step`
 * (PyTorch's scheduler.step(metric) after an epoch); it affects step+1 on.
 * Observations must come in increasing step order. base_lrs[0..ngroups)
 * are the groups' initial lrs, which PyTorch's per-group rules need (min_lr
 * lists, the eps below which a reduction is skipped); NULL means one group
 * with lr 1. observe_optim takes them from the optimizer. */
bool eta_sched_needs_metric(const eta_sched *s);
int eta_sched_observe(eta_sched *s, int64_t step, double metric, const double *base_lrs, int ngroups,
                      eta_err *err);
int eta_sched_observe_optim(eta_sched *s, const eta_optim *opt, int64_t step, double metric, eta_err *err);

/* Sets every group's lr (from its initial lr) and, for momentum-cycling
 * schedules, its momentum or beta1, for the optimizer's step `step`. */
int eta_sched_apply(const eta_sched *s, eta_optim *opt, int64_t step);
/* The same for one group: per-group schedules (PyTorch's
 * ParamwiseScheduler) apply one schedule per group. */
int eta_sched_apply_group(const eta_sched *s, eta_optim *opt, int group, int64_t step);

/* Exact save and restore of the stateful parts (versioned, little-endian,
 * CRC-32 checked); the pure parts are rebuilt from the spec. load requires a
 * schedule built from the same spec and changes nothing on error. */
int eta_sched_save(const eta_sched *s, void **buf, size_t *len);
int eta_sched_load(eta_sched *s, const void *buf, size_t len, eta_err *err);

/* The catalogue: schedule k's name, its family ("torch", "keras", "optax",
 * "fastai", "sklearn", "darknet", "llm.c", "eta"), and its signature with
 * defaults ("StepLR(step_size, gamma=0.1)"). k in [0, eta_sched_kind_count()). */
int eta_sched_kind_count(void);
const char *eta_sched_kind_name(int k);
const char *eta_sched_kind_family(int k);
int eta_sched_describe(int k, char *buf, size_t n);

#ifdef __cplusplus
}
#endif
#endif
