/* nn/rnn.c - the recurrent modules LSTM and GRU (torch.nn.LSTM,
 * torch.nn.GRU: https://pytorch.org/docs/1.13/generated/torch.nn.LSTM.html
 * and .../torch.nn.GRU.html), batch first, zero initial state, the whole
 * output sequence as the module's output (torch's `lstm(x)[0]`).
 *
 * A module of num_layers layers lowers to one op per layer, each reading the
 * one before; layer k's parameters are PyTorch's weight_ih_l<k> [G*H, IN],
 * weight_hh_l<k> [G*H, H], bias_ih_l<k> [G*H], bias_hh_l<k> [G*H] (G = 4
 * for LSTM, gates i, f, g, o; G = 3 for GRU, gates r, z, n), so a saved
 * model loads into torch with load_state_dict. Every parameter starts
 * U(-1/sqrt(H), 1/sqrt(H)), as torch's reset_parameters.
 *
 *   LSTM: [i f g o] = x W_ih^T + b_ih + h W_hh^T + b_hh, i f o sigmoid, g tanh
 *         c' = f c + i g,  h' = o tanh(c')
 *   GRU:  [r z] = sigmoid(x W_i{r,z}^T + b_i{r,z} + h W_h{r,z}^T + b_h{r,z})
 *         n = tanh(x W_in^T + b_in + r (h W_hn^T + b_hn)),  h' = n + z (h - n)
 *
 * Tensors stay batch first ([B, T, .], row b*T + t): the input projection of
 * every step is one GEMM over all B*T rows, each step's recurrent product a
 * GEMM on a strided view (the rows of step t are T rows apart), and backward
 * collects the gate gradients of all steps so that the weight gradients and
 * the input gradient are again one GEMM each (blas.h; its bits note holds).
 * Not here: dropout between layers, bidirectional, proj_size, a given initial
 * state and time-first tensors (the spec refuses them by name).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nn/blas.h"
#include "nn/graph.h"

/* op->a of both kinds */
enum { RN_IN, RN_H, RN_BIAS, RN_LAYER };

static float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* G gates of H units: 4 for LSTM, 3 for GRU. */
static int gates_of(const nn_op *op);

static int rnn_shape(nn_op *op, const nn_tensor *const *in, eta_err *err)
{
    const nn_tensor *x = in[0];
    int64_t IN = (int64_t)op->a[RN_IN], H = (int64_t)op->a[RN_H], G = gates_of(op);
    int layer = (int)op->a[RN_LAYER];
    char s[96];
    if (x->ndim != 3 || x->shape[2] != IN)
        return nn_shape_error(err, op, "expected input [batch, seq, %lld] (batch_first), got %s",
                              (long long)IN, nn_shape_str(s, sizeof s, x->ndim, x->shape));
    int64_t B = x->shape[0], T = x->shape[1];
    op->out.ndim = 3;
    op->out.shape[0] = B;
    op->out.shape[1] = T;
    op->out.shape[2] = H;
    size_t bt = (size_t)(B * T), bh = (size_t)(B * H), gh = (size_t)(G * H);
    /* LSTM: gates, dgates [BT, 4H]; c, tanh(c), h_prev [BT, H]; the carried
     * dh and dc [B, H]. GRU: gates, dgi, dgh [BT, 3H]; W_hn h + b_hn and
     * h_prev [BT, H]; the step's h W_hh^T + b_hh [B, 3H]; the carried dh. */
    op->nscratch = G == 4 ? 2 * bt * gh + 3 * bt * (size_t)H + 2 * bh : 3 * bt * gh + 2 * bt * (size_t)H + bh * 4;
    char name[32];
    int rc;
    snprintf(name, sizeof name, "weight_ih_l%d", layer);
    if ((rc = nn_param_add(op, name, 2, (int64_t[]){G * H, IN}, err)))
        return rc;
    snprintf(name, sizeof name, "weight_hh_l%d", layer);
    if ((rc = nn_param_add(op, name, 2, (int64_t[]){G * H, H}, err)))
        return rc;
    if (op->a[RN_BIAS] == 0)
        return ETA_OK;
    snprintf(name, sizeof name, "bias_ih_l%d", layer);
    if ((rc = nn_param_add(op, name, 1, (int64_t[]){G * H}, err)))
        return rc;
    snprintf(name, sizeof name, "bias_hh_l%d", layer);
    return nn_param_add(op, name, 1, (int64_t[]){G * H}, err);
}

/* torch: every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)). */
static void rnn_init(nn_op *op, uint64_t *rng)
{
    double k = 1.0 / sqrt(op->a[RN_H]);
    const nn_param *p = &op->net->params[op->p0];
    for (int i = 0; i < op->np; i++)
        nn_rand_fill_uniform(op->w[i], p[i].n, -k, k, rng);
}

/* pre [BT, GH] = x W_ih^T (+ b, b = b_ih (+ b_hh when both_biases)). */
static void input_projection(nn_op *op, float *pre, bool both_biases)
{
    const nn_tensor *x = op->input[0];
    int IN = (int)op->a[RN_IN], GH = gates_of(op) * (int)op->a[RN_H];
    int BT = (int)(x->shape[0] * x->shape[1]);
    bool bias = op->np > 2;
    if (bias)
        for (int r = 0; r < BT; r++) {
            float *row = pre + (size_t)r * GH;
            for (int j = 0; j < GH; j++)
                row[j] = both_biases ? op->w[2][j] + op->w[3][j] : op->w[2][j];
        }
    nn_sgemm(false, true, BT, GH, IN, 1.0f, x->x, IN, op->w[0], IN, bias ? 1.0f : 0.0f, pre, GH);
}

/* The weight, bias and input gradients from the gate gradients of every
 * step: dW_ih += dgi^T x, dW_hh += dgh^T h_prev, db_ih += sum dgi,
 * db_hh += sum dgh, dx (+)= dgi W_ih. */
static void weight_grads(nn_op *op, const float *dgi, const float *dgh, const float *hprev)
{
    const nn_tensor *x = op->input[0];
    int IN = (int)op->a[RN_IN], H = (int)op->a[RN_H], GH = gates_of(op) * H;
    int BT = (int)(x->shape[0] * x->shape[1]);
    nn_sgemm(true, false, GH, IN, BT, 1.0f, dgi, GH, x->x, IN, 1.0f, op->dw[0], IN);
    nn_sgemm(true, false, GH, H, BT, 1.0f, dgh, GH, hprev, H, 1.0f, op->dw[1], H);
    if (op->np > 2)
        for (int r = 0; r < BT; r++) {
            const float *a = dgi + (size_t)r * GH, *b = dgh + (size_t)r * GH;
            float *da = op->dw[2], *db = op->dw[3];
#pragma omp simd
            for (int j = 0; j < GH; j++) {
                da[j] += a[j];
                db[j] += b[j];
            }
        }
    if (x->g)
        nn_sgemm(false, false, BT, IN, GH, 1.0f, dgi, GH, op->w[0], IN, op->gset ? 0.0f : 1.0f, x->g, IN);
}

/* ---- LSTM layer ---- */
typedef struct lstm_buf {
    float *gate, *dgate, *c, *tc, *hprev, *dh, *dc;
} lstm_buf;

static lstm_buf lstm_bufs(const nn_op *op)
{
    const nn_tensor *x = op->input[0];
    size_t H = (size_t)op->a[RN_H], bt = (size_t)(x->shape[0] * x->shape[1]), B = (size_t)x->shape[0];
    lstm_buf s;
    s.gate = op->scratch;
    s.dgate = s.gate + bt * 4 * H;
    s.c = s.dgate + bt * 4 * H;
    s.tc = s.c + bt * H;
    s.hprev = s.tc + bt * H;
    s.dh = s.hprev + bt * H;
    s.dc = s.dh + B * H;
    return s;
}

static void lstm_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int B = (int)x->shape[0], T = (int)x->shape[1], H = (int)op->a[RN_H];
    lstm_buf s = lstm_bufs(op);
    float *h = op->out.x;
    input_projection(op, s.gate, true);
    for (int t = 0; t < T; t++) {
        if (t > 0) /* gates of step t (rows b*T + t) += h_{t-1} W_hh^T */
            nn_sgemm(false, true, B, 4 * H, H, 1.0f, h + (size_t)(t - 1) * H, T * H, op->w[1], H, 1.0f,
                     s.gate + (size_t)t * 4 * H, T * 4 * H);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + (size_t)t;
            float *g = s.gate + r * 4 * H;
            const float *cp = t ? s.c + (r - 1) * H : NULL, *hp = t ? h + (r - 1) * H : NULL;
            float *c = s.c + r * H, *tc = s.tc + r * H, *hr = h + r * H, *hpr = s.hprev + r * H;
            for (int j = 0; j < H; j++) {
                float i = sigm(g[j]), f = sigm(g[H + j]), gg = tanhf(g[2 * H + j]), o = sigm(g[3 * H + j]);
                g[j] = i;
                g[H + j] = f;
                g[2 * H + j] = gg;
                g[3 * H + j] = o;
                c[j] = (cp ? f * cp[j] : 0.0f) + i * gg;
                tc[j] = tanhf(c[j]);
                hr[j] = o * tc[j];
                hpr[j] = hp ? hp[j] : 0.0f;
            }
        }
    }
}

static void lstm_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int B = (int)x->shape[0], T = (int)x->shape[1], H = (int)op->a[RN_H];
    lstm_buf s = lstm_bufs(op);
    const float *dy = op->out.g;
    for (int t = T - 1; t >= 0; t--) {
        if (t < T - 1) /* dh carried into step t = dgates_{t+1} W_hh */
            nn_sgemm(false, false, B, H, 4 * H, 1.0f, s.dgate + (size_t)(t + 1) * 4 * H, T * 4 * H, op->w[1], H,
                     0.0f, s.dh, H);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + (size_t)t;
            const float *g = s.gate + r * 4 * H, *tc = s.tc + r * H, *cp = t ? s.c + (r - 1) * H : NULL;
            const float *dyr = dy + r * H, *dhr = s.dh + (size_t)b * H;
            float *dg = s.dgate + r * 4 * H, *dc = s.dc + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                float i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j];
                float dh = dyr[j] + (t < T - 1 ? dhr[j] : 0.0f);
                float dct = dh * o * (1.0f - tc[j] * tc[j]) + (t < T - 1 ? dc[j] : 0.0f);
                dg[j] = dct * gg * i * (1.0f - i);
                dg[H + j] = cp ? dct * cp[j] * f * (1.0f - f) : 0.0f;
                dg[2 * H + j] = dct * i * (1.0f - gg * gg);
                dg[3 * H + j] = dh * tc[j] * o * (1.0f - o);
                dc[j] = dct * f;
            }
        }
    }
    weight_grads(op, s.dgate, s.dgate, s.hprev);
}

static const nn_kind lstm_kind = {"LSTM", rnn_shape, rnn_init, lstm_forward, lstm_backward, false, false, true};

/* ---- GRU layer ---- */
typedef struct gru_buf {
    float *gate, *dgi, *dgh, *hn, *hprev, *gh, *dh;
} gru_buf;

static gru_buf gru_bufs(const nn_op *op)
{
    const nn_tensor *x = op->input[0];
    size_t H = (size_t)op->a[RN_H], bt = (size_t)(x->shape[0] * x->shape[1]), B = (size_t)x->shape[0];
    gru_buf s;
    s.gate = op->scratch;
    s.dgi = s.gate + bt * 3 * H;
    s.dgh = s.dgi + bt * 3 * H;
    s.hn = s.dgh + bt * 3 * H;
    s.hprev = s.hn + bt * H;
    s.gh = s.hprev + bt * H;
    s.dh = s.gh + B * 3 * H;
    return s;
}

static void gru_forward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int B = (int)x->shape[0], T = (int)x->shape[1], H = (int)op->a[RN_H];
    gru_buf s = gru_bufs(op);
    float *h = op->out.x;
    bool bias = op->np > 2;
    input_projection(op, s.gate, false);
    for (int t = 0; t < T; t++) {
        /* gh [B, 3H] = h_{t-1} W_hh^T + b_hh (h_{-1} = 0) */
        for (int b = 0; b < B; b++)
            for (int j = 0; j < 3 * H; j++)
                s.gh[(size_t)b * 3 * H + j] = bias ? op->w[3][j] : 0.0f;
        if (t > 0)
            nn_sgemm(false, true, B, 3 * H, H, 1.0f, h + (size_t)(t - 1) * H, T * H, op->w[1], H, 1.0f, s.gh, 3 * H);
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + (size_t)t;
            float *g = s.gate + r * 3 * H, *hn = s.hn + r * H, *hr = h + r * H, *hpr = s.hprev + r * H;
            const float *gh = s.gh + (size_t)b * 3 * H, *hp = t ? h + (r - 1) * H : NULL;
            for (int j = 0; j < H; j++) {
                float rr = sigm(g[j] + gh[j]), z = sigm(g[H + j] + gh[H + j]);
                float n = tanhf(g[2 * H + j] + rr * gh[2 * H + j]), p = hp ? hp[j] : 0.0f;
                g[j] = rr;
                g[H + j] = z;
                g[2 * H + j] = n;
                hn[j] = gh[2 * H + j];
                hr[j] = n + z * (p - n);
                hpr[j] = p;
            }
        }
    }
}

static void gru_backward(nn_op *op, const nn_ctx *ctx)
{
    (void)ctx;
    const nn_tensor *x = op->input[0];
    int B = (int)x->shape[0], T = (int)x->shape[1], H = (int)op->a[RN_H];
    gru_buf s = gru_bufs(op);
    const float *dy = op->out.g;
    memset(s.dh, 0, (size_t)B * H * sizeof *s.dh);
    for (int t = T - 1; t >= 0; t--) {
        for (int b = 0; b < B; b++) {
            size_t r = (size_t)b * T + (size_t)t;
            const float *g = s.gate + r * 3 * H, *hn = s.hn + r * H, *hp = s.hprev + r * H, *dyr = dy + r * H;
            float *dgi = s.dgi + r * 3 * H, *dgh = s.dgh + r * 3 * H, *dh = s.dh + (size_t)b * H;
            for (int j = 0; j < H; j++) {
                float rr = g[j], z = g[H + j], n = g[2 * H + j];
                float d = dyr[j] + dh[j];
                float dn = d * (1.0f - z) * (1.0f - n * n);
                float dz = d * (hp[j] - n) * z * (1.0f - z);
                float dr = dn * hn[j] * rr * (1.0f - rr);
                dgi[j] = dgh[j] = dr;
                dgi[H + j] = dgh[H + j] = dz;
                dgi[2 * H + j] = dn;
                dgh[2 * H + j] = dn * rr;
                dh[j] = d * z; /* the direct path; the gates' path is added below */
            }
        }
        if (t > 0) /* dh carried into step t-1 += dgh_t W_hh */
            nn_sgemm(false, false, B, H, 3 * H, 1.0f, s.dgh + (size_t)t * 3 * H, T * 3 * H, op->w[1], H, 1.0f, s.dh,
                     H);
    }
    weight_grads(op, s.dgi, s.dgh, s.hprev);
}

static const nn_kind gru_kind = {"GRU", rnn_shape, rnn_init, gru_forward, gru_backward, false, false, true};

static int gates_of(const nn_op *op)
{
    return op->kind == &lstm_kind ? 4 : 3;
}

/* ---- the modules: LSTM(input_size, hidden_size, num_layers=1, bias=True,
 * batch_first=True, dropout=0.0, bidirectional=False, proj_size=0) and GRU
 * (the same without proj_size). torch's order of arguments; batch_first
 * defaults to True here (torch: False), since eta's tensors are batch
 * first. ---- */
enum { A_IN, A_H, A_LAYERS, A_BIAS, A_BATCH_FIRST, A_DROPOUT, A_BIDIR, A_PROJ };

static int lower_rnn(nn_builder *b, const nn_kind *kind, const double *a, const eta_spec *const *vals, int in,
                     const char *prefix, int *out, eta_err *err)
{
    const char *m = kind->name;
    if (a[A_BATCH_FIRST] == 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[A_BATCH_FIRST],
                             "%s: batch_first=False is not supported by eta: its tensors are [batch, seq, "
                             "features] (batch_first=True, the default here)", m);
    if (a[A_DROPOUT] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[A_DROPOUT],
                             "%s: dropout between layers is not supported by eta (only 0.0); put Dropout() "
                             "layers between single-layer %s modules instead", m, m);
    if (a[A_BIDIR] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[A_BIDIR], "%s: bidirectional=True is not supported by eta", m);
    if (kind == &lstm_kind && a[A_PROJ] != 0)
        return eta_spec_fail(err, ETA_EINVAL, vals[A_PROJ], "%s: proj_size is not supported by eta (only 0)", m);
    int layers = (int)a[A_LAYERS];
    for (int k = 0; k < layers; k++) {
        double la[4] = {k ? a[A_H] : a[A_IN], a[A_H], a[A_BIAS], (double)k};
        int idx = nn_append(b, kind, prefix, &in, 1, la, 4, err);
        if (idx < 0)
            return idx;
        in = idx;
    }
    *out = in;
    return ETA_OK;
}

static int lower_lstm(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                      const char *prefix, int *out, eta_err *err)
{
    (void)call;
    return lower_rnn(b, &lstm_kind, a, vals, in, prefix, out, err);
}

static int lower_gru(nn_builder *b, const double *a, const eta_spec *const *vals, const eta_spec *call, int in,
                     const char *prefix, int *out, eta_err *err)
{
    (void)call;
    return lower_rnn(b, &gru_kind, a, vals, in, prefix, out, err);
}

#define RNN_ARGS                                                                                                     \
    {"input_size", NA_INT, true, NAN, 1, 1e8, NULL}, {"hidden_size", NA_INT, true, NAN, 1, 1e8, NULL},              \
        {"num_layers", NA_INT, false, 1, 1, 1000, NULL}, {"bias", NA_BOOL, false, 1, 0, 1, NULL},                    \
        {"batch_first", NA_BOOL, false, 1, 0, 1, NULL}, {"dropout", NA_REAL, false, 0, 0, 1, NULL},                  \
        {"bidirectional", NA_BOOL, false, 0, 0, 1, NULL}

static const nn_arg lstm_args[] = {RNN_ARGS,
                                   {"proj_size", NA_INT, false, 0, 0, 1e8, NULL},
                                   {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
                                   {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL}};
/* GRU has no proj_size: device and dtype follow bidirectional. */
static const nn_arg gru_args[] = {RNN_ARGS,
                                  {"device", NA_IGNORED, false, NAN, 0, 0, NULL},
                                  {"dtype", NA_IGNORED, false, NAN, 0, 0, NULL}};

static const nn_module lstm_module = {
    "LSTM", lstm_args, 10, NULL, lower_lstm,
    "LSTM(input_size, hidden_size, num_layers=1, bias=True): [B, T, in] -> the output sequence [B, T, hidden]"};
static const nn_module gru_module = {
    "GRU", gru_args, 9, NULL, lower_gru,
    "GRU(input_size, hidden_size, num_layers=1, bias=True): [B, T, in] -> the output sequence [B, T, hidden]"};

const nn_module *const nn_modules_rnn[] = {&lstm_module, &gru_module, NULL};
