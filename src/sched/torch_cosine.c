/* sched/torch_cosine.c - PyTorch's cosine schedulers (torch/optim/lr_scheduler.py,
 * torch/optim/swa_utils.py): CosineAnnealingLR, CosineAnnealingWarmRestarts,
 * SWALR.
 *
 * CosineAnnealingLR: PyTorch steps it chainably,
 *   lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t/T)) / (1 + cos(pi (t-1)/T))
 * (with a special step where the denominator vanishes); for a lone scheduler
 * that is the closed form eta_min + (base - eta_min)(1 + cos(pi t/T))/2 used
 * here, which, like PyTorch's, is periodic past T_max (the rate climbs back).
 * The chainable forms (kind.chain) of CosineAnnealingLR and SWALR are
 * get_lr line by line, for the recursions of ChainedScheduler and
 * SequentialLR (torch_compose.c); CosineAnnealingWarmRestarts' get_lr is
 * already a closed form of its base_lrs.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

#define TORCH_TAIL SARG_IGNORED("last_epoch"), SARG_IGNORED("verbose")
#define PI 3.14159265358979323846

enum { COS_TMAX, COS_ETA_MIN };
static const sched_arg cosine_args[] = {
    {"T_max", SA_REAL, true, NAN, 0, INFINITY, true, true, NULL}, SARG_REAL("eta_min", 0.0, -INFINITY, INFINITY),
    TORCH_TAIL};

static double cosine_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double lo = n->v[COS_ETA_MIN];
    return lo + (base - lo) * (1 + cos(PI * t / n->v[COS_TMAX])) / 2; /* fractional t: step(epoch) */
}

/* Python's a % b for b > 0 (the sign of b). */
static double pymod(double a, double b)
{
    double r = fmod(a, b);
    return r != 0 && r < 0 ? r + b : r;
}

static double cosine_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)group;
    double T = n->v[COS_TMAX], lo = n->v[COS_ETA_MIN], x = (double)t;
    if (t == 0)
        return lr;
    if (pymod(x - 1 - T, 2 * T) == 0) /* where the recursion's denominator vanishes */
        return lr + (base - lo) * (1 - cos(PI / T)) / 2;
    return (1 + cos(PI * x / T)) / (1 + cos(PI * (x - 1) / T)) * (lr - lo) + lo;
}

/* A run of T_max steps (the cosine reaches eta_min at step T_max). */
static int64_t cosine_length(const sched_node *n)
{
    return sched_steps(n->v[COS_TMAX]);
}

const sched_kind sched_cosine_annealing_lr = {"CosineAnnealingLR", "torch", cosine_args, 4, NULL, cosine_lr,
                                              cosine_chain, NULL, NULL, cosine_length, NULL, SCHED_TORCH_CLOSED};

/* CosineAnnealingWarmRestarts(T_0, T_mult=1, eta_min=0): the cosine restarts
 * every T_i steps, T_i = T_0 * T_mult^i. Integer steps follow step()'s
 * counting exactly; fractional ones follow step(epoch)'s logarithm formula.
 * eta_min is never reached (T_cur < T_i). */
enum { WR_T0, WR_TMULT, WR_ETA_MIN };
static const sched_arg restarts_args[] = {SARG_INT_REQ("T_0", 1), SARG_INT("T_mult", 1, 1),
                                          SARG_REAL("eta_min", 0.0, -INFINITY, INFINITY), TORCH_TAIL};

static double restarts_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double T0 = n->v[WR_T0], mult = n->v[WR_TMULT], cur, Ti;
    if (t == floor(t)) {
        cur = t;
        Ti = T0;
        while (cur >= Ti) {
            cur -= Ti;
            Ti *= mult;
        }
    } else if (t < T0) {
        cur = t;
        Ti = T0;
    } else if (mult == 1) {
        cur = fmod(t, T0);
        Ti = T0;
    } else {
        double k = floor(log(t / T0 * (mult - 1) + 1) / log(mult));
        cur = t - T0 * (pow(mult, k) - 1) / (mult - 1);
        Ti = T0 * pow(mult, k);
    }
    double lo = n->v[WR_ETA_MIN];
    return lo + (base - lo) * (1 + cos(PI * cur / Ti)) / 2;
}

const sched_kind sched_cosine_warm_restarts = {"CosineAnnealingWarmRestarts", "torch", restarts_args, 5, NULL,
                                               restarts_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* SWALR(swa_lr, anneal_epochs=10, anneal_strategy='cos'): anneals from the
 * group's lr to swa_lr: lr = swa_lr*a + base*(1 - a), a = f(min(1, t/E)),
 * f(x) = (1 - cos(pi x))/2 ('cos') or x ('linear'); E = 0 gives swa_lr at once. */
enum { SWA_LR, SWA_EPOCHS, SWA_STRATEGY };
static const sched_arg swa_args[] = {
    {"swa_lr", SA_REAL_OR_REALS, true, NAN, 0, INFINITY, false, true, NULL}, SARG_INT("anneal_epochs", 10, 0),
    SARG_CHOICE("anneal_strategy", "cos|linear"), SARG_IGNORED("last_epoch")};

/* f(x): (1 - cos(pi x))/2 ('cos') or x ('linear'). */
static double swa_anneal(const sched_node *n, double x)
{
    return n->v[SWA_STRATEGY] == 0 ? (1 - cos(PI * x)) / 2 : x;
}

static double swa_lr(const sched_node *n, double t, double base, int group)
{
    double E = n->v[SWA_EPOCHS], step = floor(t);
    if (E == 0)
        step = fmax(1, step);
    double x = fmax(0, fmin(1, step / fmax(1, E)));
    double a = swa_anneal(n, x);
    return sched_node_arg(n, SWA_LR, group) * a + base * (1 - a);
}

/* get_lr with step = the scheduler's own step count: it recovers the lr the
 * anneal started from out of the lr it finds, then moves on by one step. */
static double swa_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base;
    double E = n->v[SWA_EPOCHS], swa = sched_node_arg(n, SWA_LR, group), step = (double)t;
    if (E == 0)
        step = fmax(1, step);
    double prev_t = fmax(0, fmin(1, (step - 1) / fmax(1, E))), prev_alpha = swa_anneal(n, prev_t);
    double prev = prev_alpha == 1 ? swa : (lr - prev_alpha * swa) / (1 - prev_alpha);
    double alpha = swa_anneal(n, fmax(0, fmin(1, step / fmax(1, E))));
    return swa * alpha + prev * (1 - alpha);
}

const sched_kind sched_swalr = {"SWALR", "torch", swa_args, 4, NULL, swa_lr, swa_chain, NULL, NULL, NULL, NULL, 0};
