/* nn/loss.c - losses (torch.nn, reduction 'mean'): CrossEntropyLoss
 * (label_smoothing, ignore_index; logits [N, C] or [B, T, C] with int32
 * targets), NLLLoss, MSELoss, HuberLoss, BCEWithLogitsLoss. A loss is an op
 * after the network's output reading the target as its second input; its
 * output is the scalar loss, summed in double in row order. CrossEntropyLoss
 * runs its rows in parallel (OpenMP), each with vmath.h's vectorised exp:
 * the same bits at any thread count. */
#include <math.h>
#include <string.h>

#include "core/parallel.h"
#include "nn/loss.h"
#include "nn/vmath.h"

#define PAR_MIN 32768 /* logits below which the row loops stay serial */
#define ROWS_PER_TASK 16

enum { L_CE, L_NLL, L_MSE, L_HUBER, L_BCE };
/* op->a: [0] the loss, [1] ignore_index, [2] label_smoothing or delta */

static bool int_target(const nn_op *op)
{
    return op->a[0] == L_CE || op->a[0] == L_NLL;
}

static int loss_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    char s[96];
    if (int_target(op) && x->ndim < 2)
        return nn_shape_error(err, op, "expected [batch, classes] or [batch, seq, classes], got %s",
                              nn_shape_str(s, sizeof s, x->ndim, x->shape));
    op->out.ndim = 1;
    op->out.shape[0] = 1;
    /* CrossEntropyLoss: the softmax probabilities, then one double per row
     * (its loss, summed in row order after the parallel row loop). */
    op->nscratch = op->a[0] == L_CE ? x->n + 1 + 2 * (x->n / (size_t)x->shape[x->ndim - 1]) : 0;
    return ETA_OK;
}

void nn_loss_target_shape(const nn_op *loss, const nn_tensor *output, nn_tensor *target)
{
    memset(target, 0, sizeof *target);
    target->ndim = int_target(loss) ? output->ndim - 1 : output->ndim;
    memcpy(target->shape, output->shape, sizeof target->shape);
    target->n = 1;
    for (int d = 0; d < target->ndim; d++)
        target->n *= (size_t)target->shape[d];
}

int nn_loss_set_target(const nn_op *loss, nn_tensor *target, const void *data, eta_err *err)
{
    const nn_tensor *x = loss->input[0];
    if (!int_target(loss)) {
        target->x = (float *)(uintptr_t)data; /* read only */
        return ETA_OK;
    }
    const int32_t *y = data;
    int64_t C = x->shape[x->ndim - 1];
    size_t rows = x->n / (size_t)C;
    for (size_t i = 0; i < rows; i++)
        if ((y[i] < 0 || y[i] >= C) && y[i] != (int32_t)loss->a[1])
            return eta_spec_fail(err, ETA_EINVAL, NULL, "target %d at index %zu is not a class in [0, %lld)", y[i], i,
                                 (long long)C);
    target->ix = y;
    return ETA_OK;
}

/* CrossEntropyLoss over rows [r0, r1) of logits x [rows, C]: the softmax
 * into prob, and each counted row's loss into rl (as double). The exp is
 * vmath.h's vectorised one (under 1 ulp), the sums run in double. */
ETA_SIMD_CLONES
static void ce_rows(float *restrict prob, double *restrict rl, const float *restrict x, const int32_t *restrict y,
                    size_t r0, size_t r1, int64_t C, int32_t ignore, double eps)
{
    for (size_t r = r0; r < r1; r++) {
        const float *xr = x + r * (size_t)C;
        float *p = prob + r * (size_t)C, mx = xr[0];
#pragma omp simd reduction(max : mx)
        for (int64_t c = 1; c < C; c++)
            mx = xr[c] > mx ? xr[c] : mx;
        double as[ETA_LANES] = {0}, am[ETA_LANES] = {0}; /* fixed lanes: parallel.h */
        for (int64_t c0 = 0; c0 < C; c0 += ETA_LANES) {
            int64_t n = C - c0 < ETA_LANES ? C - c0 : ETA_LANES;
#pragma omp simd
            for (int64_t l = 0; l < n; l++) {
                float e = nn_exp_vec(xr[c0 + l] - mx);
                p[c0 + l] = e;
                as[l] += e;
                am[l] += xr[c0 + l];
            }
        }
        double s = eta_lanes_sum_f64(as), mean = eta_lanes_sum_f64(am);
        float inv = (float)(1.0 / s);
#pragma omp simd
        for (int64_t c = 0; c < C; c++)
            p[c] *= inv;
        double lse = mx + log(s);
        int32_t t = y[r];
        rl[r] = t == ignore ? 0 : (1 - eps) * (lse - xr[t]) + eps * (lse - mean / (double)C);
    }
}

static void loss_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0], *t = op->input[1];
    int kind = (int)op->a[0];
    double sum = 0, count = 0;
    if (kind == L_CE) {
        int64_t C = x->shape[x->ndim - 1];
        size_t rows = x->n / (size_t)C, tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
        int32_t ignore = (int32_t)op->a[1];
        double *rl = (double *)(op->scratch + x->n + (x->n & 1)); /* 8-byte aligned: scratch is 64 */
#pragma omp parallel for schedule(static) if (tasks > 1 && x->n >= PAR_MIN)
        for (size_t k = 0; k < tasks; k++) {
            size_t r1 = (k + 1) * ROWS_PER_TASK;
            ce_rows(op->scratch, rl, x->x, t->ix, k * ROWS_PER_TASK, r1 < rows ? r1 : rows, C, ignore, op->a[2]);
        }
        for (size_t r = 0; r < rows; r++)
            if (t->ix[r] != ignore) {
                sum += rl[r];
                count += 1;
            }
    } else if (kind == L_NLL) {
        int64_t C = x->shape[x->ndim - 1];
        size_t rows = x->n / (size_t)C;
        int32_t ignore = (int32_t)op->a[1];
        for (size_t r = 0; r < rows; r++) {
            int32_t y = t->ix[r];
            if (y == ignore)
                continue;
            sum += -(double)x->x[r * (size_t)C + (size_t)y];
            count += 1;
        }
    } else {
        double delta = op->a[2];
        for (size_t i = 0; i < x->n; i++) {
            double v = x->x[i], d = v - t->x[i];
            if (kind == L_MSE)
                sum += d * d;
            else if (kind == L_HUBER)
                sum += fabs(d) < delta ? 0.5 * d * d : delta * (fabs(d) - 0.5 * delta);
            else
                sum += fmax(v, 0) - v * t->x[i] + log1p(exp(-fabs(v)));
        }
        count = (double)x->n;
    }
    op->out.x[0] = count > 0 ? (float)(sum / count) : NAN; /* all ignored: torch gives nan too */
    op->d_count = count;
}

/* g += scale (p - eps / C), g[y] -= scale (1 - eps) for rows [r0, r1). */
ETA_SIMD_CLONES
static void ce_grad_rows(float *restrict g, const float *restrict prob, const int32_t *restrict y, size_t r0,
                         size_t r1, int64_t C, int32_t ignore, float scale, float eps)
{
    float sub = eps / (float)C;
    for (size_t r = r0; r < r1; r++) {
        int32_t t = y[r];
        if (t == ignore)
            continue;
        float *gr = g + r * (size_t)C;
        const float *p = prob + r * (size_t)C;
#pragma omp simd
        for (int64_t c = 0; c < C; c++)
            gr[c] += scale * (p[c] - sub);
        gr[t] -= scale * (1 - eps);
    }
}

static void loss_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0], *t = op->input[1];
    if (!x->g || !(op->d_count > 0))
        return;
    int kind = (int)op->a[0];
    float scale = (float)(op->out.g[0] / op->d_count);
    if (int_target(op)) {
        int64_t C = x->shape[x->ndim - 1];
        size_t rows = x->n / (size_t)C;
        int32_t ignore = (int32_t)op->a[1];
        if (kind == L_CE) {
            size_t tasks = (rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
#pragma omp parallel for schedule(static) if (tasks > 1 && x->n >= PAR_MIN)
            for (size_t k = 0; k < tasks; k++) {
                size_t r1 = (k + 1) * ROWS_PER_TASK;
                ce_grad_rows(x->g, op->scratch, t->ix, k * ROWS_PER_TASK, r1 < rows ? r1 : rows, C, ignore, scale,
                             (float)op->a[2]);
            }
            return;
        }
        for (size_t r = 0; r < rows; r++) {
            int32_t y = t->ix[r];
            if (y != ignore)
                x->g[r * (size_t)C + (size_t)y] -= scale;
        }
        return;
    }
    float delta = (float)op->a[2];
    for (size_t i = 0; i < x->n; i++) {
        float v = x->x[i], d = v - t->x[i], gi;
        if (kind == L_MSE)
            gi = 2 * d;
        else if (kind == L_HUBER)
            gi = fabsf(d) < delta ? d : (d > 0 ? delta : -delta);
        else
            gi = (float)(1.0 / (1.0 + exp(-(double)v))) - t->x[i];
        x->g[i] += scale * gi;
    }
}

static const nn_kind loss_kind = {"Loss", loss_shape, NULL, loss_forward, loss_backward, false, false, false};

static const struct {
    const char *name;
    int kind;
    const char *args[4];   /* accepted argument names, in order */
    const char *note;      /* the catalogue's line (eta_nn_loss_note) */
} losses[] = {
    {"CrossEntropyLoss", L_CE, {"ignore_index", "label_smoothing", "reduction", NULL},
     "CrossEntropyLoss(ignore_index=-100, label_smoothing=0.0, reduction='mean'): logits [B, C] or [B, T, C], "
     "int32 class targets [B] or [B, T]"},
    {"NLLLoss", L_NLL, {"ignore_index", "reduction", NULL},
     "NLLLoss(ignore_index=-100, reduction='mean'): log-probabilities (after LogSoftmax), int32 class targets"},
    {"MSELoss", L_MSE, {"reduction", NULL}, "MSELoss(reduction='mean'): float targets shaped as the output"},
    {"HuberLoss", L_HUBER, {"reduction", "delta", NULL},
     "HuberLoss(reduction='mean', delta=1.0): float targets shaped as the output"},
    {"BCEWithLogitsLoss", L_BCE, {"reduction", NULL},
     "BCEWithLogitsLoss(reduction='mean'): logits and float targets in [0, 1] shaped as the output"},
};
#define NLOSSES (int)(sizeof losses / sizeof losses[0])

int eta_nn_loss_count(void)
{
    return NLOSSES;
}

const char *eta_nn_loss_name(int k)
{
    return k >= 0 && k < NLOSSES ? losses[k].name : NULL;
}

const char *eta_nn_loss_note(int k)
{
    return k >= 0 && k < NLOSSES ? losses[k].note : NULL;
}

static const char *loss_name_at(const void *ctx, int k)
{
    (void)ctx;
    return losses[k].name;
}

int nn_lower_loss(nn_builder *b, const eta_spec *call, int out, int *idx, eta_err *err)
{
    if (call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected a loss such as CrossEntropyLoss()");
    int k = -1;
    for (int i = 0; i < NLOSSES; i++)
        if (!strcmp(losses[i].name, call->str))
            k = i;
    if (k < 0) {
        eta_spec_fail(err, ETA_EINVAL, call, "unknown loss '%s'", call->str);
        if (err)
            eta_names_hint(err->msg, sizeof err->msg, call->str, loss_name_at, NULL, NLOSSES, "losses",
                           "eta model --list");
        return ETA_EINVAL;
    }
    eta_spec_param sig[4];
    const eta_spec *v[4];
    int ns = 0;
    for (; losses[k].args[ns]; ns++)
        sig[ns] = (eta_spec_param){losses[k].args[ns], false, false};
    int rc = eta_spec_bind(call, sig, ns, v, err);
    if (rc)
        return rc;
    double a[3] = {losses[k].kind, -100, losses[k].kind == L_HUBER ? 1.0 : 0.0};
    for (int i = 0; i < ns; i++) {
        if (!v[i])
            continue;
        const char *nm = losses[k].args[i];
        if (!strcmp(nm, "reduction")) {
            const char *r;
            if ((rc = eta_spec_get_string(v[i], nm, &r, err)))
                return rc;
            if (strcmp(r, "mean"))
                return eta_spec_fail(err, ETA_EINVAL, v[i], "reduction must be 'mean' (the only one eta trains with), got '%s'", r);
        } else if (!strcmp(nm, "ignore_index")) {
            int64_t ii;
            if ((rc = eta_spec_get_int(v[i], nm, &ii, err)))
                return rc;
            a[1] = (double)ii;
        } else {
            if ((rc = eta_spec_get_real(v[i], nm, &a[2], err)))
                return rc;
            bool smoothing = !strcmp(nm, "label_smoothing");
            if ((rc = eta_spec_check_range(v[i], nm, a[2], 0, !smoothing, smoothing ? 1 : INFINITY, false, err)))
                return rc;
        }
    }
    int in[2] = {out, -2};
    b->layer = b->net->nlayers;
    int i2 = nn_append(b, &loss_kind, "", in, 2, a, 3, err);
    if (i2 < 0)
        return i2;
    *idx = i2;
    return ETA_OK;
}
