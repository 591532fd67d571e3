/* tests/test_nn_ref.c - every layer and loss against PyTorch, from the
 * fixtures that tools/gen_ref_nn.py writes:
 *  - nn_ops.txt: one case per layer, loss and awkward shape, every argument
 *    spelled out; from the same parameters and input: the output, the loss,
 *    every parameter gradient, the input gradient and BatchNorm's running
 *    stats after the pass;
 *  - nn_defaults.txt: the same for every module and loss written with its
 *    required arguments only (PyTorch's defaults there, eta's here), and
 *    Dropout() in train mode checked by statistics: every output is 0 or
 *    the input times 1/(1 - p) for torch's default p, eta's loss and input
 *    gradient follow its own mask, its number of zeros (and torch's) is
 *    within 6 sigma of p*n;
 *  - nn_e2e.txt: three tiny networks (an MLP, a CNN with BatchNorm, a 2-block
 *    causal transformer) trained 10 steps with SGD-momentum and AdamW from
 *    the same weights: every gradient at step 0, the loss before every step
 *    and after the last, every parameter after the last step and BatchNorm's
 *    running stats after the 11 forward passes;
 *  - nn_rnn.txt and nn_rnn_e2e.txt (tools/gen_ref_nn_rnn.py): the same two
 *    formats for LSTM and GRU (1 and 2 layers, with and without bias, a
 *    long saturating sequence, character models trained 10 steps).
 * labels: ref full
 *
 * Error of an element: |got - want| / max(|want|, FLOOR * the largest |want|
 * of its array) (float32 sums in another order differ by an ulp of the
 * largest term). Final parameters and buffers are compared as their motion
 * from the initial values (got - init against want - init): the values
 * themselves are dominated by the initial weights, where an error of a
 * hundredth of the 10 steps (weight decay left out, say) is 1e-4.
 * Bounds: ops, defaults, step-0 gradients and buffer_final 1e-5; e2e losses
 * 1e-4; final parameters 1e-3 (measured: 1.8e-4, transformer_adamw, where
 * AdamW's normalisation magnifies rounding; PyTorch's own float32 result is
 * up to 8e-4 from its float64 replay on this scale, tools/gen_ref_nn.py
 * --check). Each file's worst error per key is printed at its end.
 *
 * Noise: a gradient array whose largest |value| is below NOISE times the
 * case's largest step-0 gradient is 0 in exact arithmetic (a conv bias in
 * front of BatchNorm, attention's key bias) and only checked to be as small
 * in eta. Elements of final parameters and buffers that the generator flags
 * (`noise <name> <k> <indices>` before their final line: gradient 0 in
 * exact arithmetic but not in float32, so their motion is rounding noise,
 * and the running means such a bias feeds when that moved them) are left
 * out; every other element is compared.
 *
 * Every line is read whole: an unknown key, a key the file kind does not
 * have, a row with more or fewer values than the parameter, input, output or
 * target it describes, or a stray token fails the test naming file, line and
 * key (test_bad_fixtures breaks copies of the fixtures to prove it).
 */
#include "harness.h"

#include <ctype.h>
#include <eta/eta.h>

#define FLOOR 0.1
#define NOISE 1e-6
#define MAXV 200000
#define FINAL_BOUND 1e-3
#define BUFFER_FINAL_BOUND 1e-5

enum { F_OPS = 1, F_E2E = 2, F_DEF = 4, F_ALL = 7 };

typedef struct nncase {
    const char *file;
    int kind, line;
    const char *key;
    char name[128], spec[1024], loss[256], optim[256];
    bool train, have_mode, have_in_type, have_tgt_type;
    int nd;
    int64_t shape[4], batch;
    bool int_in, int_tgt;
    float *in, *tgt;
    int32_t *iin, *itgt;
    size_t nin, ntgt;
    int steps, next_k;  /* e2e: steps; the next loss_at expected */
    int nparam_lines, ngrads, nfinals, nbuffer_results;
    unsigned seen;      /* the keys met in this case (bit = index in keys[]) */
    eta_net *net;
    eta_optim *opt;
    float *grad0;       /* the gradients of the first backward pass */
    float *init;        /* e2e: the parameters before the first step */
    bool *noise;        /* e2e: the flagged elements of the next final line */
    char noise_name[128];
    double worst;       /* the largest error / bound, and where */
    char worst_what[192];
    int arrays;
} nncase;

static double vals[MAXV], gotd[MAXV];

/* The largest error of a file per key (reported at its end). */
static struct {
    char key[16];
    double bound, err;
    char what[320];
} file_worst[12];

/* Fails naming file, line, key and case. */
static void fail_at(const nncase *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("%s:%d: key '%s' (case %s): %s", c->file, c->line, c->key ? c->key : "", c->name[0] ? c->name : "-",
             msg);
}

/* Reads every number of s into vals; fails unless there are exactly `want`
 * (SIZE_MAX: any count) and nothing else on the line. */
static size_t row(const nncase *c, char *s, size_t want)
{
    size_t n = 0;
    for (;;) {
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            break;
        char *end;
        double v = strtod(s, &end);
        if (end == s)
            fail_at(c, "'%.24s' is not a number", s);
        if (n == MAXV)
            fail_at(c, "more than %d values", MAXV);
        vals[n++] = v;
        s = end;
    }
    if (want != SIZE_MAX && n != want)
        fail_at(c, "%zu values where %zu are expected", n, want);
    return n;
}

static long as_int(const nncase *c, double v)
{
    if (!(v == floor(v) && fabs(v) < 1e15))
        fail_at(c, "%g is not an integer", v);
    return (long)v;
}

static long one_int(const nncase *c, char *s)
{
    row(c, s, 1);
    return as_int(c, vals[0]);
}

/* "<ndim> <dims...> <values>" of the array `name`: the dims must be eta's
 * (nd, shape), the values (exactly prod(dims) of them) go into vals. */
static size_t shaped_row(const nncase *c, char *s, const char *name, int nd, const int64_t *shape)
{
    char *end;
    long fnd = strtol(s, &end, 10);
    if (end == s || fnd != nd)
        fail_at(c, "%s: %ld dims in the fixture, %d in eta", name, fnd, nd);
    s = end;
    size_t n = 1;
    for (int d = 0; d < nd; d++) {
        long k = strtol(s, &end, 10);
        if (end == s || k != shape[d])
            fail_at(c, "%s: dim %d is %ld in the fixture, %lld in eta", name, d, k, (long long)shape[d]);
        s = end;
        n *= (size_t)k;
    }
    return row(c, s, n);
}

/* Looser bounds, each with its reason. */
static const struct {
    const char *name, *what;
    double bound;
    const char *why;
} looser[] = {
    {"softmax_large_logits", "input_grad", 1e-3,
     "with logits of 30, y*(dy - sum(y*dy)) cancels: PyTorch's float32 gradient element 0 is 4.4e-3 away from "
     "the float64 value (3.5322450e-06), eta's 3.5e-5"},
};

static double bound_for(const nncase *c, const char *what, double bound)
{
    for (size_t i = 0; i < sizeof looser / sizeof looser[0]; i++)
        if (!strcmp(c->name, looser[i].name) && !strcmp(what, looser[i].what)) {
            print_message("  %-36s %s: bound %.0e because %s\n", c->name, what, looser[i].bound, looser[i].why);
            return looser[i].bound;
        }
    return bound;
}

static void need_net(nncase *c)
{
    if (c->net)
        return;
    eta_err err;
    if (!c->spec[0] || !c->loss[0] || !c->nd || !c->batch || !c->have_mode)
        fail_at(c, "spec, loss, mode, input_shape and batch must come first");
    if (eta_net_new(&c->net, c->spec, &err))
        fail_at(c, "%s: %s", c->spec, err.msg);
    if (eta_net_prepare(c->net, c->batch, c->nd, c->shape, &err))
        fail_at(c, "prepare: %s", err.msg);
    if (eta_net_set_loss(c->net, c->loss, &err))
        fail_at(c, "%s: %s", c->loss, err.msg);
    eta_net_train(c->net, c->train);
}

/* eta's array (parameter or buffer) of that state_dict name, with its shape. */
static float *array_named(nncase *c, const char *name, bool buffer, int *nd, int64_t *shape)
{
    float *p = eta_net_params(c->net, NULL);
    for (int i = 0; i < eta_net_param_count(c->net); i++) {
        const char *nm;
        size_t off;
        eta_net_param_info(c->net, i, &nm, &off, nd, shape);
        if (!strcmp(nm, name) && eta_net_param_is_buffer(c->net, i) == buffer)
            return p + off;
    }
    fail_at(c, "eta has no %s '%s'", buffer ? "buffer" : "parameter", name);
    return NULL;
}

/* The array's name and eta's array; the values into vals. */
static float *named_row(nncase *c, char *rest, bool buffer, char *name, size_t *n)
{
    int used = 0, nd;
    int64_t shape[4];
    if (sscanf(rest, "%127s%n", name, &used) != 1)
        fail_at(c, "no name");
    float *p = array_named(c, name, buffer, &nd, shape);
    *n = shaped_row(c, rest + used, name, nd, shape);
    return p;
}

static int param_arrays(const nncase *c)
{
    int k = 0;
    for (int i = 0; i < eta_net_param_count(c->net); i++)
        k += !eta_net_param_is_buffer(c->net, i);
    return k;
}

/* The largest error (defined at the top) over the elements not in skip. */
static double arr_err(const double *got, const double *want, size_t n, const bool *skip, size_t *worst)
{
    double scale = 0, e = 0;
    for (size_t i = 0; i < n; i++)
        if (!skip || !skip[i])
            scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        if (skip && skip[i])
            continue;
        double d = fabs(got[i] - want[i]);
        double ei = d == 0 ? 0 : d / fmax(fabs(want[i]), FLOOR * scale);
        if (isnan(got[i]) != isnan(want[i]))
            ei = INFINITY;
        if (ei > e) {
            e = ei;
            *worst = i;
        }
    }
    return e;
}

static double absmax(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i]));
    return m;
}

/* Compares got with vals[0..n); gradients ("grad ...") under the noise rule;
 * with base, got - base with vals - base (the motion from base). */
static void compare(nncase *c, const char *what, const float *got, size_t n, double bound, const float *base,
                    const bool *skip)
{
    if (!strncmp(what, "grad ", 5)) {
        size_t np;
        eta_net_grads(c->net, &np);
        double case_max = absmax(c->grad0, np), want_max = 0, got_max = absmax(got, n);
        for (size_t i = 0; i < n; i++)
            want_max = fmax(want_max, fabs(vals[i]));
        if (want_max < NOISE * case_max) {
            if (!(got_max < NOISE * case_max))
                fail_at(c, "%s is zero up to rounding in PyTorch (max %.3g) but %.3g in eta", what, want_max,
                        got_max);
            c->arrays++;
            return;
        }
    }
    bound = bound_for(c, what, bound);
    for (size_t i = 0; i < n; i++) {
        gotd[i] = (double)got[i] - (base ? base[i] : 0);
        vals[i] -= base ? base[i] : 0;
    }
    size_t w = 0;
    double e = arr_err(gotd, vals, n, skip, &w);
    if (!(e <= bound))
        fail_at(c, "%s element %zu: got %.9g want %.9g%s (rel err %.3g > %.0e)", what, w, gotd[w], vals[w],
                base ? " (motion from the initial value)" : "", e, bound);
    if (e / bound > c->worst) {
        c->worst = e / bound;
        snprintf(c->worst_what, sizeof c->worst_what, "%s: %.3g of bound %.0e", what, e, bound);
    }
    for (size_t k = 0; k < sizeof file_worst / sizeof file_worst[0]; k++)
        if (!file_worst[k].key[0] || !strcmp(file_worst[k].key, c->key)) {
            if (!file_worst[k].key[0] || e / bound > file_worst[k].err / file_worst[k].bound) {
                snprintf(file_worst[k].key, sizeof file_worst[k].key, "%s", c->key);
                file_worst[k].bound = bound;
                file_worst[k].err = e;
                snprintf(file_worst[k].what, sizeof file_worst[k].what, "%s %s", c->name, what);
            }
            break;
        }
    c->arrays++;
}

static void forward_backward(nncase *c, double *loss)
{
    int rc = eta_net_forward(c->net, c->int_in ? (const void *)c->iin : (const void *)c->in,
                             c->int_tgt ? (const void *)c->itgt : (const void *)c->tgt, loss);
    if (rc)
        fail_at(c, "forward: %s", eta_net_error(c->net));
    if (eta_net_backward(c->net))
        fail_at(c, "backward: %s", eta_net_error(c->net));
}

static size_t out_size(const nncase *c, int *nd, int64_t *shape)
{
    eta_net_output(c->net, nd, shape);
    size_t n = 1;
    for (int d = 0; d < *nd; d++)
        n *= (size_t)shape[d];
    return n;
}

/* `dropout p scale zeros n` (train mode): torch's p, the factor torch
 * applied to the kept elements, and how many of n it zeroed. eta's output
 * must be 0 or scale * input everywhere, with a zero count as likely under p
 * as torch's; its loss and input gradient must follow its own mask. */
static void check_dropout(nncase *c, char *rest, double loss)
{
    row(c, rest, 4);
    double p = vals[0], scale = vals[1];
    long zeros_torch = as_int(c, vals[2]), n = as_int(c, vals[3]);
    int nd;
    int64_t shape[4];
    if ((size_t)n != out_size(c, &nd, shape) || (size_t)n != c->nin || c->int_in || c->int_tgt)
        fail_at(c, "dropout needs a float input and target of the output's %ld elements", n);
    if (!(fabs(scale * (1 - p) - 1) < 1e-6))
        fail_at(c, "torch scaled kept elements by %.9g, not 1/(1-p) for p = %g", scale, p);
    const float *y = eta_net_output(c->net, NULL, NULL), *gx = eta_net_input_grad(c->net);
    long zeros = 0;
    double sum = 0;
    for (long i = 0; i < n; i++) {
        float x = c->in[i], t = c->tgt[i];
        bool kept = y[i] != 0;
        zeros += !kept;
        if (x == 0)
            fail_at(c, "input %ld is 0: use nonzero inputs", i);
        if (kept && !(fabs(y[i] - scale * x) <= 1e-6 * fabs(scale * x)))
            fail_at(c, "output %ld: %.9g is neither 0 nor %.9g * input %.9g", i, y[i], scale, x);
        double dy = 2.0 * ((double)y[i] - t) / (double)n, want_gx = kept ? scale * dy : 0;
        if (!(fabs(gx[i] - want_gx) <= 1e-5 * fabs(want_gx) + 1e-12))
            fail_at(c, "input_grad %ld: %.9g, want %.9g for %s element", i, gx[i], want_gx,
                    kept ? "a kept" : "a dropped");
        sum += ((double)y[i] - t) * ((double)y[i] - t);
    }
    if (!(fabs(loss - sum / (double)n) <= 1e-5 * sum / (double)n))
        fail_at(c, "loss %.9g, want %.9g from eta's own output", loss, sum / (double)n);
    double sigma = sqrt((double)n * p * (1 - p));
    if (fabs((double)zeros_torch - p * (double)n) > 6 * sigma || fabs((double)zeros - p * (double)n) > 6 * sigma)
        fail_at(c, "zeros: torch %ld, eta %ld of %ld; p = %g expects %.0f +- %.0f", zeros_torch, zeros, n, p,
                p * (double)n, 6 * sigma);
    print_message("  %-36s dropout p %g: zeros torch %ld, eta %ld of %ld (6 sigma %.0f)\n", c->name, p, zeros_torch,
                  zeros, n, 6 * sigma);
    c->arrays += 3;
}

/* `noise <name> <k> <i1> ... <ik>`: the elements left out of the next line,
 * which must be `final <name>` or `buffer_final <name>` (increasing indices). */
static void read_noise(nncase *c, char *rest)
{
    int used = 0, nd;
    int64_t shape[4];
    if (sscanf(rest, "%127s%n", c->noise_name, &used) != 1)
        fail_at(c, "no name");
    bool buffer = eta_net_buffer(c->net, c->noise_name, NULL) != NULL;
    array_named(c, c->noise_name, buffer, &nd, shape);
    size_t np = 1;
    for (int d = 0; d < nd; d++)
        np *= (size_t)shape[d];
    size_t n = row(c, rest + used, SIZE_MAX);
    if (n < 2 || as_int(c, vals[0]) != (long)n - 1)
        fail_at(c, "%s: the count %g does not match the %zu indices", c->noise_name, n ? vals[0] : 0.0, n ? n - 1 : 0);
    c->noise = calloc(np, sizeof *c->noise);
    for (size_t k = 1; k < n; k++) {
        long i = as_int(c, vals[k]);
        if (i < 0 || (size_t)i >= np || (k > 1 && i <= as_int(c, vals[k - 1])))
            fail_at(c, "%s: index %ld out of range [0, %zu) or out of order", c->noise_name, i, np);
        c->noise[i] = true;
    }
}

static void free_case(nncase *c)
{
    eta_net_free(c->net);
    eta_optim_free(c->opt);
    free(c->in);
    free(c->tgt);
    free(c->iin);
    free(c->itgt);
    free(c->grad0);
    free(c->init);
    free(c->noise);
    const char *file = c->file;
    int kind = c->kind;
    memset(c, 0, sizeof *c);
    c->file = file;
    c->kind = kind;
}

/* The first result line runs the case: attach (e2e), forward, backward. */
static void run_once(nncase *c, double *loss)
{
    if (c->grad0)
        return;
    need_net(c);
    if (c->nparam_lines != eta_net_param_count(c->net))
        fail_at(c, "%d param and buffer lines before the results, eta has %d arrays", c->nparam_lines,
                eta_net_param_count(c->net));
    if (!c->in || !c->tgt)
        fail_at(c, "input and target must come before the results");
    if (c->kind == F_E2E) {
        eta_optim_config cfg;
        eta_err err;
        if (!c->optim[0] || c->steps <= 0)
            fail_at(c, "optimizer and steps must come first");
        if (eta_optim_config_from_spec(&cfg, c->optim, &err) || eta_optim_new(&c->opt, &cfg, &err) ||
            eta_net_attach(c->net, c->opt, NULL, &err))
            fail_at(c, "%s: %s", c->optim, err.msg);
        size_t np;
        const float *p = eta_net_params(c->net, &np);
        c->init = malloc(np * sizeof *c->init);
        memcpy(c->init, p, np * sizeof *c->init);
    }
    forward_backward(c, loss);
    size_t np;
    const float *g = eta_net_grads(c->net, &np);
    c->grad0 = malloc(np * sizeof *c->grad0);
    memcpy(c->grad0, g, np * sizeof *c->grad0);
}

/* The keys: the file kinds that have each, and whether it is once a case. */
static const struct {
    const char *key;
    int kinds;
    bool once;
} keys[] = {
    {"case", F_ALL, true},          {"spec", F_ALL, true},          {"loss", F_ALL, true},
    {"optimizer", F_E2E, true},     {"mode", F_ALL, true},          {"steps", F_E2E, true},
    {"input_shape", F_ALL, true},   {"batch", F_ALL, true},         {"input_type", F_ALL, true},
    {"input", F_ALL, true},         {"target_type", F_ALL, true},   {"target", F_ALL, true},
    {"param", F_ALL, false},        {"buffer", F_ALL, false},       {"output", F_OPS | F_DEF, true},
    {"buffer_after", F_OPS | F_DEF, false}, {"loss_value", F_OPS | F_DEF, true}, {"grad", F_OPS | F_DEF, false},
    {"input_grad", F_OPS | F_DEF, true}, {"dropout", F_DEF, true},  {"grad0", F_E2E, false},
    {"loss_at", F_E2E, false},      {"noise", F_E2E, false},        {"final", F_E2E, false},
    {"buffer_final", F_E2E, false}, {"end", F_ALL, true},
};
#define NKEYS (sizeof keys / sizeof keys[0])

static bool seen(const nncase *c, const char *key)
{
    for (size_t k = 0; k < NKEYS; k++)
        if (!strcmp(keys[k].key, key))
            return c->seen >> k & 1;
    return false;
}

static void read_line(nncase *c, const char *key, char *rest, double *loss)
{
#define IS(k) (!strcmp(key, k))
    if (!IS("case") && !c->name[0])
        fail_at(c, "outside a case");
    if (c->noise && !IS("final") && !IS("buffer_final"))
        fail_at(c, "noise %s is not followed by its final line", c->noise_name);
    if (IS("case")) {
        if (c->name[0])
            fail_at(c, "case %s has no end", c->name);
        snprintf(c->name, sizeof c->name, "%s", rest);
        if (!c->name[0])
            fail_at(c, "no name");
    } else if (IS("spec") || IS("loss") || IS("optimizer")) {
        char *dst = IS("spec") ? c->spec : IS("loss") ? c->loss : c->optim;
        size_t cap = IS("spec") ? sizeof c->spec : IS("loss") ? sizeof c->loss : sizeof c->optim;
        if (!*rest || strlen(rest) >= cap)
            fail_at(c, "empty or longer than %zu", cap - 1);
        snprintf(dst, cap, "%s", rest);
    } else if (IS("mode")) {
        if (strcmp(rest, "train") && strcmp(rest, "eval"))
            fail_at(c, "'%s' is neither train nor eval", rest);
        c->train = !strcmp(rest, "train");
        c->have_mode = true;
    } else if (IS("steps")) {
        c->steps = (int)one_int(c, rest);
    } else if (IS("batch")) {
        c->batch = one_int(c, rest);
    } else if (IS("input_shape")) {
        size_t n = row(c, rest, SIZE_MAX);
        if (n < 1 || n > 4)
            fail_at(c, "%zu dims (1 to 4)", n);
        c->nd = (int)n;
        for (size_t k = 0; k < n; k++)
            c->shape[k] = as_int(c, vals[k]);
    } else if (IS("input_type") || IS("target_type")) {
        if (strcmp(rest, "f32") && strcmp(rest, "i32"))
            fail_at(c, "'%s' is neither f32 nor i32", rest);
        *(IS("input_type") ? &c->int_in : &c->int_tgt) = !strcmp(rest, "i32");
        *(IS("input_type") ? &c->have_in_type : &c->have_tgt_type) = true;
    } else if (IS("input") || IS("target")) {
        bool is_in = IS("input");
        need_net(c);
        size_t want = (size_t)c->batch;
        for (int d = 0; d < c->nd; d++)
            want *= (size_t)c->shape[d];
        if (is_in && c->int_in != (eta_net_input_type(c->net) == ETA_NN_INT32))
            fail_at(c, "input_type %s, but eta's network takes %s", c->int_in ? "i32" : "f32",
                    c->int_in ? "float32" : "int32");
        if (!is_in) {
            int nd;
            int64_t os[4];
            want = out_size(c, &nd, os);
            want /= c->int_tgt ? (size_t)os[nd - 1] : 1; /* class targets: one per row */
        }
        if (!(is_in ? c->have_in_type : c->have_tgt_type) || (is_in ? c->in != NULL : c->tgt != NULL))
            fail_at(c, "no %s_type before it, or a second %s line", key, key);
        size_t n = row(c, rest, want);
        float *f = malloc(n * sizeof *f);
        int32_t *ii = malloc(n * sizeof *ii);
        for (size_t k = 0; k < n; k++) {
            f[k] = (float)vals[k];
            ii[k] = (int32_t)vals[k];
            if ((is_in ? c->int_in : c->int_tgt) && vals[k] != ii[k])
                fail_at(c, "value %zu (%g) is not an int32", k, vals[k]);
        }
        if (is_in)
            c->in = f, c->iin = ii, c->nin = n;
        else
            c->tgt = f, c->itgt = ii, c->ntgt = n;
    } else if (IS("param") || IS("buffer")) {
        need_net(c);
        if (c->grad0)
            fail_at(c, "after the results");
        char name[128];
        size_t n;
        float *dst = named_row(c, rest, IS("buffer"), name, &n);
        for (size_t k = 0; k < n; k++)
            dst[k] = (float)vals[k];
        c->nparam_lines++;
    } else if (IS("end")) {
        if (*rest)
            fail_at(c, "'%s' after end", rest);
        if (!c->grad0)
            fail_at(c, "a case without results");
        if (c->ngrads != param_arrays(c))
            fail_at(c, "%d gradient lines for %d parameters", c->ngrads, param_arrays(c));
        if (c->kind == F_E2E && (c->next_k != c->steps + 1 || c->nfinals != param_arrays(c)))
            fail_at(c, "loss_at up to %d of %d, %d final lines for %d parameters", c->next_k - 1, c->steps,
                    c->nfinals, param_arrays(c));
        if (c->kind != F_E2E && !seen(c, "dropout") &&
            !(seen(c, "output") && seen(c, "loss_value") && seen(c, "input_grad") == !c->int_in))
            fail_at(c, "output, loss_value or input_grad (f32 inputs) missing");
        int nbuf = eta_net_param_count(c->net) - param_arrays(c);
        if (c->nbuffer_results != (c->kind == F_E2E || (c->train && !seen(c, "dropout")) ? nbuf : 0))
            fail_at(c, "%d buffer_after or buffer_final lines for %d buffers (%s mode)", c->nbuffer_results, nbuf,
                    c->train ? "train" : "eval");

    } else {
        run_once(c, loss);
        if (IS("output")) {
            int nd;
            int64_t os[4];
            out_size(c, &nd, os);
            size_t n = shaped_row(c, rest, "output", nd, os);
            compare(c, "output", eta_net_output(c->net, NULL, NULL), n, 1e-5, NULL, NULL);
        } else if (IS("loss_value")) {
            row(c, rest, 1);
            float l = (float)*loss;
            compare(c, "loss", &l, 1, 1e-5, NULL, NULL);
        } else if (IS("input_grad")) {
            if (c->int_in)
                fail_at(c, "an int32 input has no gradient");
            row(c, rest, c->nin);
            compare(c, "input_grad", eta_net_input_grad(c->net), c->nin, 1e-5, NULL, NULL);
        } else if (IS("grad") || IS("grad0")) {
            char name[128], what[160];
            int used = 0, nd;
            int64_t shape[4];
            if (sscanf(rest, "%127s%n", name, &used) != 1)
                fail_at(c, "no name");
            float *p = array_named(c, name, false, &nd, shape);
            size_t n = 1;
            for (int d = 0; d < nd; d++)
                n *= (size_t)shape[d];
            row(c, rest + used, n);
            snprintf(what, sizeof what, "grad %s", name);
            compare(c, what, c->grad0 + (p - eta_net_params(c->net, NULL)), n, 1e-5, NULL, NULL);
            c->ngrads++;
        } else if (IS("buffer_after")) {
            char name[128];
            size_t n;
            float *b = named_row(c, rest, true, name, &n);
            compare(c, name, b, n, 1e-5, NULL, NULL);
            c->nbuffer_results++;
        } else if (IS("dropout")) {
            check_dropout(c, rest, *loss);
        } else if (IS("loss_at")) { /* loss_at k v: the loss before step k (k = steps: after the last) */
            row(c, rest, 2);
            long k = as_int(c, vals[0]);
            if (k != c->next_k || k > c->steps)
                fail_at(c, "step %ld where %d is expected (steps %d)", k, c->next_k, c->steps);
            vals[0] = vals[1];
            if (k > 0) { /* one step from the previous loss_at to this one */
                if (eta_optim_step(c->opt))
                    fail_at(c, "step: %s", eta_optim_error(c->opt));
                forward_backward(c, loss);
            }
            c->next_k++;
            float l = (float)*loss;
            compare(c, "loss", &l, 1, 1e-4, NULL, NULL);
        } else if (IS("noise")) {
            read_noise(c, rest);
            return; /* the next line must be its final line */
        } else { /* final, buffer_final: the state after the last loss_at */
            if (c->next_k != c->steps + 1)
                fail_at(c, "before the last loss_at");
            char name[128], what[160];
            size_t n;
            float *p = named_row(c, rest, IS("buffer_final"), name, &n);
            if (c->noise && strcmp(c->noise_name, name))
                fail_at(c, "noise %s is followed by %s %s", c->noise_name, key, name);
            snprintf(what, sizeof what, "%s %s", key, name);
            compare(c, what, p, n, IS("final") ? FINAL_BOUND : BUFFER_FINAL_BOUND,
                    c->init + (p - eta_net_params(c->net, NULL)), c->noise);
            free(c->noise);
            c->noise = NULL;
            c->nfinals += IS("final");
            c->nbuffer_results += IS("buffer_final");
        }
    }
#undef IS
}

static void run_file(const char *file, int kind, int min_cases)
{
    char *text = read_file(ref_path(file), NULL);
    if (!text)
        fail_msg("cannot read %s (run tools/gen_ref_nn.py)", ref_path(file));
    static nncase c;
    memset(&c, 0, sizeof c);
    c.file = file;
    c.kind = kind;
    double loss = NAN;
    memset(file_worst, 0, sizeof file_worst);
    int ncases = 0, line = 0;
    for (char *s = text, *next; s; s = next) {
        char *nl = strchr(s, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        c.line = ++line;
        if (!*s || (line == 1 && s[0] == '#'))
            continue;
        char *sp = strchr(s, ' ');
        char *rest = sp ? sp + 1 : s + strlen(s);
        if (sp)
            *sp = 0;
        c.key = s;
        size_t k = 0;
        while (k < NKEYS && strcmp(keys[k].key, s))
            k++;
        if (k == NKEYS || !(keys[k].kinds & kind))
            fail_at(&c, "unknown key%s", k < NKEYS ? " in this file" : "");
        if (keys[k].once && c.seen >> k & 1)
            fail_at(&c, "a second '%s' line in the case", s);
        read_line(&c, s, rest, &loss);
        c.seen |= 1u << k;
        if (!strcmp(s, "end")) {
            print_message("  %-36s %3d arrays, worst %s\n", c.name, c.arrays,
                          c.worst > 0 ? c.worst_what : "0 (all exact)");
            free_case(&c);
            ncases++;
        }
    }
    c.key = NULL;
    if (c.name[0])
        fail_at(&c, "the file ends inside a case");
    free(text);
    print_message("%s: %d cases\n", file, ncases);
    for (size_t k = 0; k < sizeof file_worst / sizeof file_worst[0] && file_worst[k].key[0]; k++)
        print_message("  %-12s worst %.3g of bound %.0e (%s)\n", file_worst[k].key, file_worst[k].err,
                      file_worst[k].bound, file_worst[k].what);
    assert_true(ncases >= min_cases);
}

static int kind_of(const char *file)
{
    return strstr(file, "e2e") ? F_E2E : strstr(file, "defaults") ? F_DEF : F_OPS;
}

static void test_ops(void **state)
{
    (void)state;
    run_file("nn_ops.txt", F_OPS, 98);
}

static void test_e2e(void **state)
{
    (void)state;
    run_file("nn_e2e.txt", F_E2E, 6);
}

/* LSTM and GRU: tools/gen_ref_nn_rnn.py, the same formats. */
static void test_rnn(void **state)
{
    (void)state;
    run_file("nn_rnn.txt", F_OPS, 16);
}

static void test_rnn_e2e(void **state)
{
    (void)state;
    run_file("nn_rnn_e2e.txt", F_E2E, 4);
}

static void test_defaults(void **state)
{
    (void)state;
    run_file("nn_defaults.txt", F_DEF, 32);
}

/* Malformed fixtures: a copy of a real one with one line broken is read by
 * this program (`test_nn_ref FILE`, ETA_REF_DIR set to a temporary
 * directory), which must fail naming file, line and key. */
static const char *self;
static const char *one_file;

static void test_one_file(void **state)
{
    (void)state;
    run_file(one_file, kind_of(one_file), 0);
}

static void bad_fixture(const char *file, const char *key, char how, const char *expect)
{
    char *text = read_file(ref_path(file), NULL), dir[] = "/tmp/eta_nnref_XXXXXX", path[512], cmd[1536];
    assert_non_null(text);
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    int line = 0, at = 0;
    size_t klen = strlen(key);
    for (char *s = text, *next; s; s = next) {
        char *nl = strchr(s, '\n');
        next = nl ? nl + 1 : NULL;
        if (nl)
            *nl = 0;
        line++;
        bool hit = !at && !strncmp(s, key, klen) && s[klen] == ' ';
        if (hit)
            at = line + (how == 'n'); /* 'n': the error is on the line after */
        if (hit && how == 'u') {
            fprintf(f, "bogus_key 1 2\n");
            at = line++;
        }
        if (hit && how == 't')
            *strrchr(s, ' ') = 0; /* the last value dropped */
        fprintf(f, "%s%s%s", hit && how == 'k' ? "final" : s, hit && how == 'x' ? " 0.5" : "", next ? "\n" : "");
        if (hit && how == 'n' && next) /* the line after it deleted */
            next = strchr(next, '\n') ? strchr(next, '\n') + 1 : NULL;
    }
    fclose(f);
    free(text);
    assert_true(at > 0);
    snprintf(cmd, sizeof cmd, "ETA_REF_DIR=%s '%s' %s > %s/out 2>&1", dir, self, file, dir);
    int st = system(cmd);
    snprintf(path, sizeof path, "%s/out", dir);
    char *out = read_file(path, NULL), where[256];
    snprintf(where, sizeof where, "%s:%d: key '", file, at);
    bool ok = st != 0 && out && strstr(out, where) && strstr(out, expect);
    print_message("  %s, %s line %d (%c): %s\n", file, key, at, how, ok ? "rejected" : "NOT REJECTED");
    if (!ok)
        fail_msg("%s with line %d broken (%c): exit %d, wanted '%s...%s' in:\n%s", file, at, how, st, where, expect,
                 out ? out : "(no output)");
    free(out);
    snprintf(cmd, sizeof cmd, "rm -r %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_bad_fixtures(void **state)
{
    (void)state;
    bad_fixture("nn_ops.txt", "mode", 'u', "bogus_key' (case linear): unknown key");
    bad_fixture("nn_ops.txt", "input", 't', "values where");
    bad_fixture("nn_ops.txt", "grad", 't', "values where");
    bad_fixture("nn_ops.txt", "output", 'x', "values where");
    bad_fixture("nn_ops.txt", "loss_value", 'k', "unknown key in this file");
    bad_fixture("nn_e2e.txt", "grad0", 't', "values where");
    bad_fixture("nn_e2e.txt", "final", 'x', "values where");
    bad_fixture("nn_e2e.txt", "noise", 'n', "noise 0.bias is followed by final 1.weight");
    bad_fixture("nn_defaults.txt", "dropout", 't', "values where");
    bad_fixture("nn_defaults.txt", "buffer_after", 't', "values where");
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc == 2) { /* one fixture file, for test_bad_fixtures */
        one_file = argv[1];
        const struct CMUnitTest one[] = {cmocka_unit_test(test_one_file)};
        return cmocka_run_group_tests(one, NULL, NULL);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_ops), cmocka_unit_test(test_e2e),
                                       cmocka_unit_test(test_rnn), cmocka_unit_test(test_rnn_e2e),
                                       cmocka_unit_test(test_defaults), cmocka_unit_test(test_bad_fixtures)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
