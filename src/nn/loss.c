/* nn/loss.c - losses (torch.nn, reduction 'mean'): CrossEntropyLoss
 * (label_smoothing, ignore_index; logits [N, C] or [B, T, C] with int32
 * targets), NLLLoss, MSELoss, HuberLoss, BCEWithLogitsLoss. A loss is an op
 * after the network's output reading the target as its second input; its
 * output is the scalar loss, summed in double. */
#include <math.h>
#include <string.h>

#include "nn/loss.h"

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
    op->nscratch = op->a[0] == L_CE ? x->n : 0; /* softmax probabilities */
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

static void loss_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0], *t = op->input[1];
    int kind = (int)op->a[0];
    double sum = 0, count = 0;
    if (int_target(op)) {
        int64_t C = x->shape[x->ndim - 1];
        size_t rows = x->n / (size_t)C;
        int32_t ignore = (int32_t)op->a[1];
        double eps = kind == L_CE ? op->a[2] : 0;
        for (size_t r = 0; r < rows; r++) {
            const float *xr = x->x + r * (size_t)C;
            int32_t y = t->ix[r];
            if (kind == L_CE) {
                float mx = xr[0];
                for (int64_t c = 1; c < C; c++)
                    mx = xr[c] > mx ? xr[c] : mx;
                double s = 0, mean = 0;
                for (int64_t c = 0; c < C; c++) {
                    s += exp((double)(xr[c] - mx));
                    mean += xr[c];
                }
                double lse = mx + log(s);
                float *p = op->scratch + r * (size_t)C;
                for (int64_t c = 0; c < C; c++)
                    p[c] = (float)exp((double)xr[c] - lse);
                if (y == ignore)
                    continue;
                sum += (1 - eps) * (lse - xr[y]) + eps * (lse - mean / (double)C);
            } else {
                if (y == ignore)
                    continue;
                sum += -(double)xr[y];
            }
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
        float eps = kind == L_CE ? (float)op->a[2] : 0;
        for (size_t r = 0; r < rows; r++) {
            int32_t y = t->ix[r];
            if (y == ignore)
                continue;
            float *g = x->g + r * (size_t)C;
            if (kind == L_NLL) {
                g[y] -= scale;
                continue;
            }
            const float *p = op->scratch + r * (size_t)C;
            for (int64_t c = 0; c < C; c++)
                g[c] += scale * (p[c] - eps / (float)C);
            g[y] -= scale * (1 - eps);
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

static const nn_kind loss_kind = {"Loss", loss_shape, NULL, loss_forward, loss_backward, false, false};

static const struct {
    const char *name;
    int kind;
    const char *args[4];   /* accepted argument names, in order */
} losses[] = {
    {"CrossEntropyLoss", L_CE, {"ignore_index", "label_smoothing", "reduction", NULL}},
    {"NLLLoss", L_NLL, {"ignore_index", "reduction", NULL}},
    {"MSELoss", L_MSE, {"reduction", NULL}},
    {"HuberLoss", L_HUBER, {"reduction", "delta", NULL}},
    {"BCEWithLogitsLoss", L_BCE, {"reduction", NULL}},
};

int nn_lower_loss(nn_builder *b, const eta_spec *call, int out, int *idx, eta_err *err)
{
    if (call->kind != ETA_SPEC_CALL)
        return eta_spec_fail(err, ETA_EINVAL, call, "expected a loss such as CrossEntropyLoss()");
    int k = -1;
    for (int i = 0; i < (int)(sizeof losses / sizeof losses[0]); i++)
        if (!strcmp(losses[i].name, call->str))
            k = i;
    if (k < 0)
        return eta_spec_fail(err, ETA_EINVAL, call,
                             "unknown loss '%s'; valid losses: CrossEntropyLoss, NLLLoss, MSELoss, HuberLoss, "
                             "BCEWithLogitsLoss",
                             call->str);
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
