/* tests/test_nn_seq.c - the sequence modules (Embedding, PositionalEmbedding,
 * LayerNorm, MultiheadSelfAttention, TransformerBlock and its residual add)
 * through the public API: gradients against central differences of a
 * double-precision reference of the same network, masks checked exactly,
 * parameter names and counts (their bad arguments and shape errors:
 * test_nn_errors.c).
 * labels: unit fd full
 *
 * Why a reference: eta computes in float32, so differences of its own loss
 * carry rounding of ~1e-7 relative in each evaluation, which a step small
 * enough for the truncation error to vanish turns into ~1e-2 relative noise.
 * The reference below recomputes each network in double from eta's own
 * parameters (found by their names, which checks the names too); its central
 * differences (h = 1e-5) are exact to ~1e-9, so what remains is eta's float32
 * rounding, ~1e-6 of a gradient array's largest element. The tolerance,
 * 2e-5 of that element (per array), leaves room for accumulation over the
 * array yet fails any wrong term, which is off by O(1) of its size.
 */
#include "harness.h"

#include <eta/eta.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define GRAD_TOL 2e-5   /* max |eta - fd| / max |fd|, per parameter array */
#define LOSS_TOL 1e-5   /* relative, eta's float32 loss against the double reference */
#define FD_H 1e-5

/* ---- the double reference ------------------------------------------------ */

typedef struct ref {
    eta_net *net;
    const double *p;      /* parameters, eta's layout */
    const int32_t *ids;   /* int32 input [B, T] or NULL */
    const double *x;      /* float input [B, T, D] or NULL */
    int pad;              /* the Embedding's padding_idx or -1 */
} ref;

static const double *param(const ref *r, const char *prefix, const char *suffix, bool required)
{
    char name[160];
    snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", suffix);
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        const char *n;
        size_t off;
        eta_net_param_info(r->net, i, &n, &off, NULL, NULL);
        if (!strcmp(n, name))
            return r->p + off;
    }
    if (required)
        fail_msg("no parameter named '%s'", name);
    return NULL;
}

/* y [N, OUT] = x [N, IN] W^T + b */
static void r_linear(double *y, const double *x, int N, int IN, int OUT, const double *W, const double *b)
{
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double s = b ? b[o] : 0;
            for (int i = 0; i < IN; i++)
                s += x[n * IN + i] * W[o * IN + i];
            y[n * OUT + o] = s;
        }
}

static void r_layernorm(double *y, const double *x, int N, int C, const double *w, const double *b, double eps)
{
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++)
            m += x[n * C + c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (x[n * C + c] - m) * (x[n * C + c] - m);
        v /= C;
        for (int c = 0; c < C; c++)
            y[n * C + c] = (x[n * C + c] - m) / sqrt(v + eps) * (w ? w[c] : 1) + (b ? b[c] : 0);
    }
}

/* nanoGPT's attention, one query at a time, with the key padding mask. */
static void r_msa(const ref *r, double *y, const double *x, int B, int T, int D, int H, bool causal, const char *pre)
{
    int hs = D / H;
    double *qkv = malloc(sizeof(double) * (size_t)(B * T * 3 * D)), *att = calloc((size_t)(B * T * D), sizeof(double));
    double *s = malloc(sizeof(double) * (size_t)T);
    r_linear(qkv, x, B * T, D, 3 * D, param(r, pre, "qkv.weight", true), param(r, pre, "qkv.bias", false));
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < T; i++) {
                const double *q = qkv + (b * T + i) * 3 * D + h * hs;
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < T; j++) {
                    bool masked = (causal && j > i) || (r->ids && r->pad >= 0 && r->ids[b * T + j] == r->pad);
                    const double *k = qkv + (b * T + j) * 3 * D + D + h * hs;
                    double dot = 0;
                    for (int d = 0; d < hs; d++)
                        dot += q[d] * k[d];
                    s[j] = masked ? -INFINITY : dot / sqrt((double)hs);
                    mx = fmax(mx, s[j]);
                }
                if (mx == -INFINITY)
                    continue; /* every key masked: zeros (eta's choice) */
                for (int j = 0; j < T; j++)
                    sum += (s[j] = exp(s[j] - mx));
                for (int j = 0; j < T; j++)
                    for (int d = 0; d < hs; d++)
                        att[(b * T + i) * D + h * hs + d] += s[j] / sum * qkv[(b * T + j) * 3 * D + 2 * D + h * hs + d];
            }
    r_linear(y, att, B * T, D, D, param(r, pre, "proj.weight", true), param(r, pre, "proj.bias", false));
    free(qkv);
    free(att);
    free(s);
}

static void r_block(const ref *r, double *x, int B, int T, int D, int H, bool causal, int hidden, const char *pre)
{
    int N = B * T;
    char p[64];
    double *h = malloc(sizeof(double) * (size_t)(N * D)), *a = malloc(sizeof(double) * (size_t)(N * D));
    double *f = malloc(sizeof(double) * (size_t)(N * hidden));
    r_layernorm(h, x, N, D, param(r, pre, "ln_1.weight", true), param(r, pre, "ln_1.bias", true), 1e-5);
    snprintf(p, sizeof p, "%s.attn", pre);
    r_msa(r, a, h, B, T, D, H, causal, p);
    for (int i = 0; i < N * D; i++)
        x[i] += a[i];
    r_layernorm(h, x, N, D, param(r, pre, "ln_2.weight", true), param(r, pre, "ln_2.bias", true), 1e-5);
    r_linear(f, h, N, D, hidden, param(r, pre, "mlp.c_fc.weight", true), param(r, pre, "mlp.c_fc.bias", true));
    for (int i = 0; i < N * hidden; i++) {
        double v = f[i];
        f[i] = 0.5 * v * (1 + tanh(0.79788456080286535588 * (v + 0.044715 * v * v * v))); /* sqrt(2/pi) */
    }
    r_linear(a, f, N, hidden, D, param(r, pre, "mlp.c_proj.weight", true), param(r, pre, "mlp.c_proj.bias", true));
    for (int i = 0; i < N * D; i++)
        x[i] += a[i];
    free(h);
    free(a);
    free(f);
}

/* A network as the reference runs it: one layer per spec item, its
 * parameters under the prefix "<index>". */
enum { R_EMB, R_POS, R_LN, R_MSA, R_BLOCK, R_LINEAR, R_MEAN };
typedef struct rlayer {
    int type;
    int a, b;         /* R_EMB: num, D; R_LN: D; R_MSA/R_BLOCK: D, H; R_LINEAR: in, out */
    bool causal;
    int hidden;       /* R_BLOCK */
} rlayer;

typedef struct fdcase {
    const char *spec;
    int B, T, D_in;   /* input [B, T] of ids (D_in 0) or [B, T, D_in] floats */
    int vocab;        /* ids drawn from [0, vocab) */
    int pad;          /* padding_idx of the Embedding, or -1 */
    int nlayers;
    rlayer layers[6];
    int classes;      /* CrossEntropyLoss over the last dim; targets [B, T] or [B] after MeanPool */
} fdcase;

static double ref_loss(const fdcase *c, const ref *r, const int32_t *target)
{
    int B = c->B, T = c->T, W = c->D_in, rows = B * T;
    size_t cap = (size_t)(B * T) * 512;
    double *x = calloc(cap, sizeof(double)), *y = calloc(cap, sizeof(double));
    if (r->x)
        memcpy(x, r->x, sizeof(double) * (size_t)(B * T * W));
    for (int l = 0; l < c->nlayers; l++) {
        const rlayer *L = &c->layers[l];
        char pre[16];
        snprintf(pre, sizeof pre, "%d", l);
        switch (L->type) {
        case R_EMB: {
            const double *E = param(r, pre, "weight", true);
            for (int i = 0; i < rows; i++)
                memcpy(x + i * L->b, E + r->ids[i] * L->b, sizeof(double) * (size_t)L->b);
            W = L->b;
            break;
        }
        case R_POS: {
            const double *P = param(r, pre, "weight", true);
            for (int b = 0; b < B; b++)
                for (int i = 0; i < T * W; i++)
                    x[b * T * W + i] += P[i];
            break;
        }
        case R_LN:
            r_layernorm(y, x, rows, W, param(r, pre, "weight", false), param(r, pre, "bias", false), 1e-5);
            memcpy(x, y, sizeof(double) * (size_t)(rows * W));
            break;
        case R_MSA:
            r_msa(r, y, x, B, T, W, L->b, L->causal, pre);
            memcpy(x, y, sizeof(double) * (size_t)(rows * W));
            break;
        case R_BLOCK:
            r_block(r, x, B, T, W, L->b, L->causal, L->hidden, pre);
            break;
        case R_LINEAR:
            r_linear(y, x, rows, L->a, L->b, param(r, pre, "weight", true), param(r, pre, "bias", false));
            W = L->b;
            memcpy(x, y, sizeof(double) * (size_t)(rows * W));
            break;
        case R_MEAN:
            for (int b = 0; b < B; b++)
                for (int d = 0; d < W; d++) {
                    double s = 0;
                    for (int t = 0; t < T; t++)
                        s += x[(b * T + t) * W + d];
                    y[b * W + d] = s / T;
                }
            rows = B;
            memcpy(x, y, sizeof(double) * (size_t)(rows * W));
            break;
        }
    }
    double loss = 0;
    for (int i = 0; i < rows; i++) {
        const double *z = x + i * W;
        double mx = z[0], s = 0;
        for (int k = 1; k < W; k++)
            mx = fmax(mx, z[k]);
        for (int k = 0; k < W; k++)
            s += exp(z[k] - mx);
        loss += mx + log(s) - z[target[i]];
    }
    free(x);
    free(y);
    return loss / rows;
}

static uint64_t rng_state = 0x1234567;
static double urand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

static eta_net *make_net(const char *spec, int B, int T, int D_in, uint64_t seed)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    int64_t shape[2] = {T, D_in};
    if (eta_net_prepare(net, B, D_in ? 2 : 1, shape, &err) || eta_net_set_loss(net, "CrossEntropyLoss()", &err))
        fail_msg("%s: %s", spec, err.msg);
    assert_int_equal(eta_net_init(net, seed), 0);
    return net;
}

/* Compares one array of gradients; returns the worst scaled error. */
static double compare_grads(const char *what, const float *got, const double *want, size_t n)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]) / fmax(scale, 1e-30);
        if (scale == 0)
            e = fabs(got[i]);
        if (!(e <= GRAD_TOL))
            fail_msg("%s[%zu]: eta %.9g, finite differences %.9g (error %.3g of the array's max %.3g)", what, i,
                     (double)got[i], want[i], e, scale);
        worst = fmax(worst, e);
    }
    return worst;
}

static void run_fd(const fdcase *c)
{
    int B = c->B, T = c->T, n_in = B * T * (c->D_in ? c->D_in : 1);
    int rows = c->layers[c->nlayers - 1].type == R_MEAN || (c->nlayers > 1 && c->layers[c->nlayers - 2].type == R_MEAN)
                   ? B
                   : B * T;
    eta_net *net = make_net(c->spec, B, T, c->D_in, 7);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)n_in), *tgt = malloc(sizeof(int32_t) * (size_t)rows);
    float *xf = malloc(sizeof(float) * (size_t)n_in);
    double *xd = malloc(sizeof(double) * (size_t)n_in);
    for (int i = 0; i < n_in; i++) {
        ids[i] = (int32_t)(urand() * c->vocab);
        xf[i] = (float)(2 * urand() - 1);
        xd[i] = xf[i];
    }
    if (c->pad >= 0 && !c->D_in) { /* pads at the end of row 0 and inside row 1 */
        ids[T - 1] = ids[T - 2] = c->pad;
        if (B > 1)
            ids[T + 1] = c->pad;
    }
    for (int i = 0; i < rows; i++)
        tgt[i] = (int32_t)(urand() * c->classes);
    /* Parameters away from init's symmetric values: LayerNorm's ones and
     * zeros would hide a swapped weight and bias. */
    size_t np;
    float *pf = eta_net_params(net, &np);
    for (size_t i = 0; i < np; i++)
        pf[i] += (float)(0.2 * (urand() - 0.5));
    double loss;
    assert_int_equal(eta_net_forward(net, c->D_in ? (const void *)xf : (const void *)ids, tgt, &loss), 0);
    assert_int_equal(eta_net_backward(net), 0);
    const float *g = eta_net_grads(net, NULL);

    double *p = malloc(sizeof(double) * np), *fd = malloc(sizeof(double) * np);
    for (size_t i = 0; i < np; i++)
        p[i] = pf[i];
    ref r = {net, p, c->D_in ? NULL : ids, c->D_in ? xd : NULL, c->pad};
    double L0 = ref_loss(c, &r, tgt);
    if (!(rel_err(loss, L0) <= LOSS_TOL))
        fail_msg("%s: loss eta %.9g, reference %.12g", c->spec, loss, L0);
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + FD_H;
        double lp = ref_loss(c, &r, tgt);
        p[i] = keep - FD_H;
        double lm = ref_loss(c, &r, tgt);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * FD_H);
    }
    if (c->pad >= 0) /* torch: the padding row gets no gradient (Embedding is layer 0) */
        memset(fd + c->pad * c->layers[0].b, 0, sizeof(double) * (size_t)c->layers[0].b);
    double worst = 0;
    for (int k = 0; k < eta_net_param_count(net); k++) {
        const char *name;
        size_t off;
        int nd;
        int64_t shape[4];
        eta_net_param_info(net, k, &name, &off, &nd, shape);
        size_t n = 1;
        for (int d = 0; d < nd; d++)
            n *= (size_t)shape[d];
        char what[200];
        snprintf(what, sizeof what, "%s: grad %s", c->spec, name);
        worst = fmax(worst, compare_grads(what, g + off, fd + off, n));
    }
    if (c->D_in) { /* the input's gradient, through the first op's backward */
        const float *gx = eta_net_input_grad(net);
        assert_non_null(gx);
        double *fdx = malloc(sizeof(double) * (size_t)n_in);
        for (int i = 0; i < n_in; i++) {
            double keep = xd[i];
            xd[i] = keep + FD_H;
            double lp = ref_loss(c, &r, tgt);
            xd[i] = keep - FD_H;
            double lm = ref_loss(c, &r, tgt);
            xd[i] = keep;
            fdx[i] = (lp - lm) / (2 * FD_H);
        }
        char what[200];
        snprintf(what, sizeof what, "%s: input grad", c->spec);
        worst = fmax(worst, compare_grads(what, gx, fdx, (size_t)n_in));
        free(fdx);
    }
    print_message("fd %-100.100s worst %.2g\n", c->spec, worst);
    free(p);
    free(fd);
    free(ids);
    free(tgt);
    free(xf);
    free(xd);
    eta_net_free(net);
}

/* Embedding, a causal TransformerBlock (LayerNorm, attention, the adds,
 * GELU, the MLP) and Linear: the network of the brief. */
static void test_fd_block_causal(void **state)
{
    (void)state;
    fdcase c = {"Sequential(Embedding(11, 8), TransformerBlock(8, 2, causal=True), Linear(8, 11))", 2, 5, 0, 11, -1,
                3, {{R_EMB, 11, 8, 0, 0}, {R_BLOCK, 8, 2, true, 32}, {R_LINEAR, 8, 11, 0, 0}}, 11};
    run_fd(&c);
}

/* Non-causal attention with a padding token masked out of the keys,
 * PositionalEmbedding (T < max_len), a standalone LayerNorm. */
static void test_fd_padding_posemb(void **state)
{
    (void)state;
    fdcase c = {"Sequential(Embedding(11, 8, padding_idx=0), PositionalEmbedding(7, 8), MultiheadSelfAttention(8, 2),"
                " LayerNorm(8), Linear(8, 11))",
                3, 5, 0, 11, 0, 5,
                {{R_EMB, 11, 8, 0, 0}, {R_POS, 7, 8, 0, 0}, {R_MSA, 8, 2, false, 0}, {R_LN, 8, 0, 0, 0},
                 {R_LINEAR, 8, 11, 0, 0}},
                11};
    run_fd(&c);
}

/* Causal attention over T = 37 runs by blocks of query rows (attention.c):
 * three blocks of 13, 13 and 11 rows, with padding keys inside them. */
static void test_fd_causal_blocks(void **state)
{
    (void)state;
    fdcase c = {"Sequential(Embedding(7, 4, padding_idx=0), MultiheadSelfAttention(4, 2, causal=True), "
                "Linear(4, 7))",
                2, 37, 0, 7, 0, 3, {{R_EMB, 7, 4, 0, 0}, {R_MSA, 4, 2, true, 0}, {R_LINEAR, 4, 7, 0, 0}}, 7};
    run_fd(&c);
}

/* Two blocks, one non-causal with three heads, one causal with mlp_ratio 2;
 * the final LayerNorm without bias. */
static void test_fd_two_blocks(void **state)
{
    (void)state;
    fdcase c = {"Sequential(Embedding(13, 12), TransformerBlock(12, 3), TransformerBlock(12, 3, causal=True, "
                "mlp_ratio=2), LayerNorm(12, bias=False), Linear(12, 13))",
                2, 6, 0, 13, -1, 5,
                {{R_EMB, 13, 12, 0, 0}, {R_BLOCK, 12, 3, false, 48}, {R_BLOCK, 12, 3, true, 24}, {R_LN, 12, 0, 0, 0},
                 {R_LINEAR, 12, 13, 0, 0}},
                13};
    run_fd(&c);
}

/* Float input straight into a block (its residual add reads the network's
 * input) and into attention without biases: the input's gradient too. */
static void test_fd_float_input(void **state)
{
    (void)state;
    fdcase c1 = {"Sequential(TransformerBlock(6, 2), MeanPool(), Linear(6, 4))", 3, 4, 6, 0, -1, 3,
                 {{R_BLOCK, 6, 2, false, 24}, {R_MEAN, 0, 0, 0, 0}, {R_LINEAR, 6, 4, 0, 0}}, 4};
    run_fd(&c1);
    fdcase c2 = {"Sequential(MultiheadSelfAttention(6, 3, causal=True, bias=False), Linear(6, 5))", 2, 5, 6, 0, -1, 2,
                 {{R_MSA, 6, 3, true, 0}, {R_LINEAR, 6, 5, 0, 0}}, 5};
    run_fd(&c2);
    fdcase c3 = {"Sequential(LayerNorm(6, elementwise_affine=False), MultiheadSelfAttention(6, 1), Linear(6, 3))", 2,
                 1, 6, 0, -1, 3, {{R_LN, 6, 0, 0, 0}, {R_MSA, 6, 1, false, 0}, {R_LINEAR, 6, 3, 0, 0}}, 3};
    run_fd(&c3); /* T = 1 */
}

/* ---- masks, exactly ------------------------------------------------------ */

/* Causal: the outputs at positions before t do not depend on the input at t
 * (bit for bit); non-causal ones do. */
static void test_causal_exact(void **state)
{
    (void)state;
    const int B = 2, T = 40, D = 8; /* causal: three blocks of query rows */
    for (int causal = 0; causal < 2; causal++) {
        char spec[128];
        snprintf(spec, sizeof spec, "Sequential(TransformerBlock(8, 2, causal=%s))", causal ? "True" : "False");
        eta_net *net = make_net(spec, B, T, D, 3);
        float x[2 * 40 * 8], y0[2 * 40 * 8];
        for (int i = 0; i < B * T * D; i++)
            x[i] = (float)(2 * urand() - 1);
        assert_int_equal(eta_net_forward(net, x, NULL, NULL), 0);
        memcpy(y0, eta_net_output(net, NULL, NULL), sizeof y0);
        x[(1 * T + 23) * D + 2] += 0.5f; /* batch 1, position 23 */
        assert_int_equal(eta_net_forward(net, x, NULL, NULL), 0);
        const float *y1 = eta_net_output(net, NULL, NULL);
        assert_memory_equal(y0, y1, sizeof(float) * (size_t)(T * D)); /* batch 0 untouched */
        for (int t = 0; t < T; t++) {
            bool same = !memcmp(y0 + (T + t) * D, y1 + (T + t) * D, sizeof(float) * D);
            if (same != (causal && t < 23))
                fail_msg("causal=%d: position %d %s", causal, t, same ? "unchanged" : "changed");
        }
        eta_net_free(net);
    }
}

/* Key padding: positions holding padding_idx are never attended to, so the
 * outputs at other positions do not depend on what sits there (here: the
 * position vector added at that position). */
static void test_padding_exact(void **state)
{
    (void)state;
    const int T = 5, D = 8;
    eta_net *net = make_net("Sequential(Embedding(11, 8, padding_idx=3), PositionalEmbedding(5, 8), "
                            "MultiheadSelfAttention(8, 2))",
                            1, T, 0, 5);
    int32_t ids[5] = {1, 3, 7, 2, 3};
    float y0[5 * 8];
    assert_int_equal(eta_net_forward(net, ids, NULL, NULL), 0);
    memcpy(y0, eta_net_output(net, NULL, NULL), sizeof y0);
    size_t off;
    assert_int_equal(eta_net_param_info(net, 1, NULL, &off, NULL, NULL), 0); /* 1.weight */
    float *pe = eta_net_params(net, NULL) + off;
    for (int d = 0; d < D; d++)
        pe[1 * D + d] += 0.25f * (float)(d + 1); /* position 1 holds a pad */
    assert_int_equal(eta_net_forward(net, ids, NULL, NULL), 0);
    const float *y1 = eta_net_output(net, NULL, NULL);
    for (int t = 0; t < T; t++) {
        bool same = !memcmp(y0 + t * D, y1 + t * D, sizeof(float) * D);
        if (same != (t != 1))
            fail_msg("position %d: output %s", t, same ? "unchanged" : "changed");
    }
    /* Every key a pad: zeros rather than torch's NaN. */
    int32_t pads[5] = {3, 3, 3, 3, 3};
    assert_int_equal(eta_net_forward(net, pads, NULL, NULL), 0);
    y1 = eta_net_output(net, NULL, NULL);
    size_t pb;
    assert_int_equal(eta_net_param_info(net, 5, NULL, &pb, NULL, NULL), 0); /* 2.proj.bias */
    for (int i = 0; i < T * D; i++)
        assert_true(y1[i] == eta_net_params(net, NULL)[pb + i % D]);
    eta_net_free(net);
}

/* ---- Embedding: padding row, ids out of range ---------------------------- */

static void test_embedding_ids(void **state)
{
    (void)state;
    /* padding_idx=-1 is the last row: zero after init, no gradient. */
    eta_net *net = make_net("Sequential(Embedding(6, 4, padding_idx=-1), Linear(4, 3))", 2, 3, 0, 11);
    float *w = eta_net_params(net, NULL);
    for (int d = 0; d < 4; d++)
        assert_true(w[5 * 4 + d] == 0.0f);
    int32_t ids[6] = {5, 1, 2, 5, 0, 4}, tgt[6] = {0, 1, 2, 0, 1, 2};
    assert_int_equal(eta_net_forward(net, ids, tgt, NULL), 0);
    assert_int_equal(eta_net_backward(net), 0);
    const float *g = eta_net_grads(net, NULL);
    for (int d = 0; d < 4; d++) {
        assert_true(g[5 * 4 + d] == 0.0f);
        assert_true(g[3 * 4 + d] == 0.0f); /* id 3 unused */
        assert_true(g[1 * 4 + d] != 0.0f);
    }
    eta_net_free(net);

    /* Ids out of range never crash: they read as zero vectors (or the
     * forward pass reports them). */
    net = make_net("Sequential(Embedding(5, 3))", 1, 4, 0, 1);
    int32_t bad[4] = {1, -1, 5, 2147483647};
    int rc = eta_net_forward(net, bad, NULL, NULL);
    if (rc == ETA_OK) {
        const float *y = eta_net_output(net, NULL, NULL);
        for (int i = 3; i < 12; i++)
            assert_true(y[i] == 0.0f);
        assert_true(y[0] != 0.0f);
    } else {
        assert_int_equal(rc, ETA_EINVAL);
        assert_non_null(strstr(eta_net_error(net), "token id"));
    }
    assert_int_equal(eta_net_input_type(net), ETA_NN_INT32);
    eta_net_free(net);
}

/* ---- initialisation ------------------------------------------------------ */

static void stats(const float *x, size_t n, double *mean, double *sd, double *absmax)
{
    double s = 0, s2 = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
        m = fmax(m, fabs(x[i]));
    }
    *mean = s / (double)n;
    *sd = sqrt(s2 / (double)n - *mean * *mean);
    *absmax = m;
}

static void test_init(void **state)
{
    (void)state;
    eta_net *net = make_net("Sequential(Embedding(500, 64), PositionalEmbedding(200, 64), TransformerBlock(64, 4))", 1,
                            8, 0, 42);
    double mean, sd, mx;
    size_t off[16];
    for (int k = 0; k < eta_net_param_count(net); k++)
        eta_net_param_info(net, k, NULL, &off[k], NULL, NULL);
    const float *p = eta_net_params(net, NULL);
    stats(p + off[0], 500 * 64, &mean, &sd, &mx); /* N(0, 1) */
    assert_true(fabs(mean) < 0.02 && fabs(sd - 1) < 0.02);
    stats(p + off[1], 200 * 64, &mean, &sd, &mx); /* N(0, 0.02) */
    assert_true(fabs(mean) < 0.001 && fabs(sd - 0.02) < 0.001);
    for (int d = 0; d < 64; d++) { /* LayerNorm: ones, zeros */
        assert_true(p[off[2] + d] == 1.0f && p[off[3] + d] == 0.0f);
        assert_true(p[off[8] + d] == 1.0f && p[off[9] + d] == 0.0f);
    }
    /* torch Linear: U(+-1/sqrt(fan_in)), sd bound/sqrt(3) */
    const struct { int k; size_t n; int fan_in; } lin[] = {{4, 192 * 64, 64}, {5, 192, 64}, {6, 64 * 64, 64},
                                                            {10, 256 * 64, 64}, {12, 64 * 256, 256}, {13, 64, 256}};
    for (size_t i = 0; i < sizeof lin / sizeof lin[0]; i++) {
        double bound = 1 / sqrt(lin[i].fan_in);
        stats(p + off[lin[i].k], lin[i].n, &mean, &sd, &mx);
        assert_true(mx <= bound);
        assert_true(fabs(sd - bound / sqrt(3)) < 0.15 * bound);
    }
    eta_net_free(net);
}

/* ---- names and counts ----------------------------------------------------- */

static void test_names_counts(void **state)
{
    (void)state;
    static const char *names[12] = {"ln_1.weight",      "ln_1.bias",       "attn.qkv.weight",   "attn.qkv.bias",
                                    "attn.proj.weight", "attn.proj.bias",  "ln_2.weight",       "ln_2.bias",
                                    "mlp.c_fc.weight",  "mlp.c_fc.bias",   "mlp.c_proj.weight", "mlp.c_proj.bias"};
    const int dims[][2] = {{8, 2}, {12, 3}, {16, 4}, {6, 1}};
    for (size_t c = 0; c < 4; c++) {
        int d = dims[c][0];
        char spec[96];
        snprintf(spec, sizeof spec, "Sequential(Linear(%d, %d), TransformerBlock(%d, %d))", d, d, d, dims[c][1]);
        eta_net *net = make_net(spec, 2, 3, d, 1);
        assert_int_equal(eta_net_param_count(net), 14);
        assert_int_equal(eta_net_param_total(net), (size_t)(12 * d * d + 13 * d + d * d + d));
        for (int k = 0; k < 12; k++) {
            const char *name;
            eta_net_param_info(net, k + 2, &name, NULL, NULL, NULL);
            char want[64];
            snprintf(want, sizeof want, "1.%s", names[k]);
            assert_string_equal(name, want);
        }
        eta_net_free(net);
    }
    /* mlp_ratio r: (4 + 2r) d^2 + (9 + r) d */
    eta_net *net = make_net("TransformerBlock(8, 2, mlp_ratio=2)", 1, 3, 8, 1);
    assert_int_equal(eta_net_param_total(net), 8 * 64 + 11 * 8);
    const char *name;
    eta_net_param_info(net, 0, &name, NULL, NULL, NULL);
    assert_string_equal(name, "ln_1.weight"); /* a bare module: no prefix */
    eta_net_free(net);
    net = make_net("Sequential(MultiheadSelfAttention(8, 2, bias=False), LayerNorm((8,), elementwise_affine=False), "
                   "LayerNorm([8], bias=False), PositionalEmbedding(3, 8))",
                   1, 3, 8, 1);
    assert_int_equal(eta_net_param_count(net), 4);
    const char *want[4] = {"0.qkv.weight", "0.proj.weight", "2.weight", "3.weight"};
    for (int k = 0; k < 4; k++) {
        eta_net_param_info(net, k, &name, NULL, NULL, NULL);
        assert_string_equal(name, want[k]);
    }
    assert_int_equal(eta_net_param_total(net), 3 * 64 + 64 + 8 + 24);
    eta_net_free(net);
}

/* ---- dropout inside the block -------------------------------------------- */

/* Eval mode: the same as dropout=0. Train mode: a mask per forward pass,
 * the same after the same seed; the gradient matches directional
 * differences of the loss under that mask (eta_net_init re-seeds the mask
 * streams, the parameters are then put back). */
static void test_dropout(void **state)
{
    (void)state;
    const int B = 2, T = 20; /* two blocks of query rows */
    const char *spec = "Sequential(Embedding(11, 8), TransformerBlock(8, 2, causal=True, dropout=0.3), Linear(8, 11))";
    eta_net *net = make_net(spec, B, T, 0, 9);
    eta_net *ref0 = make_net("Sequential(Embedding(11, 8), TransformerBlock(8, 2, causal=True), Linear(8, 11))", B, T,
                             0, 9);
    size_t np;
    float *p = eta_net_params(net, &np), *saved = malloc(np * sizeof *p);
    memcpy(eta_net_params(ref0, NULL), p, np * sizeof *p);
    memcpy(saved, p, np * sizeof *p);
    int32_t ids[40], tgt[40];
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)(urand() * 11);
        tgt[i] = (int32_t)(urand() * 11);
    }
    double l_eval, l_ref, l1, l2, l3;
    eta_net_train(net, false);
    assert_int_equal(eta_net_forward(net, ids, tgt, &l_eval), 0);
    assert_int_equal(eta_net_forward(ref0, ids, tgt, &l_ref), 0);
    assert_true(l_eval == l_ref);
    eta_net_train(net, true);
    assert_int_equal(eta_net_forward(net, ids, tgt, &l1), 0);
    assert_int_equal(eta_net_forward(net, ids, tgt, &l2), 0);
    assert_true(l1 != l_eval && l2 != l1); /* a new mask each pass */
    eta_net_init(net, 9);
    memcpy(p, saved, np * sizeof *p);
    assert_int_equal(eta_net_forward(net, ids, tgt, &l3), 0);
    assert_true(l3 == l1);
    assert_int_equal(eta_net_backward(net), 0);
    const float *g = eta_net_grads(net, NULL);
    double *dir = malloc(np * sizeof *dir);
    for (int trial = 0; trial < 3; trial++) {
        /* A direction along the gradient, each component weighted at random:
         * a step of 3e-3 in the parameters' norm then changes the float32
         * loss by ~1e-3, far above its ~1e-7 rounding, while the truncation
         * error of the central difference stays ~1e-5 relative. */
        double gd = 0, norm = 0;
        for (size_t i = 0; i < np; i++) {
            dir[i] = g[i] * (0.5 + urand());
            gd += g[i] * dir[i];
            norm += dir[i] * dir[i];
        }
        double h = 3e-3 / sqrt(norm), lp, lm;
        for (int s = 0; s < 2; s++) {
            eta_net_init(net, 9);
            for (size_t i = 0; i < np; i++)
                p[i] = (float)(saved[i] + (s ? -h : h) * dir[i]);
            assert_int_equal(eta_net_forward(net, ids, tgt, s ? &lm : &lp), 0);
        }
        double fd = (lp - lm) / (2 * h);
        print_message("dropout: direction %d: gradient . dir %.9g, finite difference %.9g\n", trial, gd, fd);
        if (!(fabs(fd - gd) <= 2e-3 * fabs(gd)))
            fail_msg("direction %d: gradient . dir %.9g, finite difference %.9g", trial, gd, fd);
    }
    free(dir);
    free(saved);
    eta_net_free(net);
    eta_net_free(ref0);
}

/* ---- determinism --------------------------------------------------------- */

static void test_determinism(void **state)
{
    (void)state;
    const char *spec = "Sequential(Embedding(17, 16), PositionalEmbedding(8, 16), TransformerBlock(16, 4, "
                       "causal=True), TransformerBlock(16, 4), LayerNorm(16), Linear(16, 17))";
    eta_net *a = make_net(spec, 3, 8, 0, 123), *b = make_net(spec, 3, 8, 0, 123);
    size_t np;
    const float *pa = eta_net_params(a, &np);
    assert_memory_equal(pa, eta_net_params(b, NULL), np * sizeof(float));
    int32_t ids[24], tgt[24];
    for (int i = 0; i < 24; i++) {
        ids[i] = (int32_t)(urand() * 17);
        tgt[i] = (int32_t)(urand() * 17);
    }
    double la, lb;
    assert_int_equal(eta_net_forward(a, ids, tgt, &la), 0);
    assert_int_equal(eta_net_backward(a), 0);
    float *g1 = malloc(np * sizeof *g1);
    memcpy(g1, eta_net_grads(a, NULL), np * sizeof *g1);
    assert_int_equal(eta_net_backward(a), 0); /* backward again: scratch intact */
    assert_memory_equal(g1, eta_net_grads(a, NULL), np * sizeof *g1);
    assert_int_equal(eta_net_forward(b, ids, tgt, &lb), 0);
    assert_int_equal(eta_net_backward(b), 0);
    assert_true(la == lb);
    assert_memory_equal(g1, eta_net_grads(b, NULL), np * sizeof *g1);
    /* a smaller batch after prepare again: the same parameters, the same rows */
    eta_err err;
    assert_int_equal(eta_net_prepare(b, 1, 1, (int64_t[]){8}, &err), 0);
    assert_int_equal(eta_net_forward(b, ids, NULL, NULL), 0);
    int nd;
    int64_t shape[4];
    const float *y1 = eta_net_output(b, &nd, shape);
    assert_int_equal(nd, 3);
    assert_true(shape[0] == 1 && shape[1] == 8 && shape[2] == 17);
    assert_int_equal(eta_net_forward(a, ids, NULL, NULL), 0);
    const float *ya = eta_net_output(a, NULL, NULL);
    for (int i = 0; i < 8 * 17; i++)
        assert_true(fabs(y1[i] - ya[i]) <= 1e-5 * (1 + fabs(ya[i])));
    free(g1);
    eta_net_free(a);
    eta_net_free(b);
}

#ifdef _OPENMP
/* eta's sequence kernels split work so that no sum depends on the thread
 * count (attention by (batch, head), LayerNorm by rows and by columns for
 * its parameter sums), and OpenBLAS splits M and N, never K: one thread and
 * two give the same bits. A batch of 32 x 64 tokens takes the parallel
 * paths. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    const char *spec = "Sequential(Embedding(50, 64), PositionalEmbedding(64, 64), TransformerBlock(64, 4, "
                       "causal=True), TransformerBlock(64, 2), LayerNorm(64), Linear(64, 50))";
    const int B = 32, T = 64;
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(B * T)), *tgt = malloc(sizeof(int32_t) * (size_t)(B * T));
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)(urand() * 50);
        tgt[i] = (int32_t)(urand() * 50);
    }
    int saved = omp_get_max_threads();
    float *g[2] = {NULL, NULL};
    double loss[2];
    size_t np = 0;
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        eta_net *net = make_net(spec, B, T, 0, 5);
        assert_int_equal(eta_net_forward(net, ids, tgt, &loss[k]), 0);
        assert_int_equal(eta_net_backward(net), 0);
        const float *gk = eta_net_grads(net, &np);
        g[k] = malloc(np * sizeof(float));
        memcpy(g[k], gk, np * sizeof(float));
        eta_net_free(net);
    }
    omp_set_num_threads(saved);
    assert_true(loss[0] == loss[1]);
    assert_memory_equal(g[0], g[1], np * sizeof(float));
    free(g[0]);
    free(g[1]);
    free(ids);
    free(tgt);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_block_causal), cmocka_unit_test(test_fd_padding_posemb),
        cmocka_unit_test(test_fd_two_blocks),   cmocka_unit_test(test_fd_float_input),
        cmocka_unit_test(test_fd_causal_blocks),
        cmocka_unit_test(test_causal_exact),    cmocka_unit_test(test_padding_exact),
        cmocka_unit_test(test_embedding_ids),   cmocka_unit_test(test_init),
        cmocka_unit_test(test_names_counts),    cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_determinism),
#ifdef _OPENMP
        cmocka_unit_test(test_threads_same_bits),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
