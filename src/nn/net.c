/* nn/net.c - the eta_net object: building from a spec, prepare (shapes,
 * parameters, the activation arena, gradient buffers shared by liveness),
 * forward and backward over the op array, the loss, parameter access,
 * attaching to an optimizer, summaries.
 * Kernels live in their families' files; lowering specs in build.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/build.h"
#include "nn/loss.h"

struct eta_net {
    nn_net g;
    int loss;            /* index of the loss op, or -1 */
    nn_tensor target;
    int64_t batch;
    bool declared;       /* parameters declared by a first prepare */
    bool no_input_grad;  /* eta_net_set_input_grad(net, false): backward skips dL/dinput */
    /* Gradient buffers share memory by liveness (plan_grads): each is
     * zeroed just before the backward step of its last consumer, unless that
     * consumer is its only one and sets it (nn_op.gset); the ops
     * whose gradient step k starts are listed from zero_head[k] on, linked
     * through zero_next. */
    int *zero_head, *zero_next;
    eta_net_grad_hook hook; /* eta_net_set_grad_hook */
    void *hook_ud;
    size_t *final_from;     /* [k]: after op k's backward, gradients from this offset on are final */
    char err[256];
};

static int fail(eta_net *n, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(n->err, sizeof n->err, fmt, ap);
    va_end(ap);
    return code;
}

nn_net *nn_net_graph(const eta_net *net)
{
    return (nn_net *)(uintptr_t)&net->g;
}

int nn_net_loss_op(const eta_net *net)
{
    return net->loss;
}

const char *eta_net_error(const eta_net *net)
{
    return net ? net->err : "";
}

int eta_net_new(eta_net **out, const char *spec, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_spec *tree;
    int rc = eta_spec_parse(&tree, spec, err);
    if (rc)
        return rc;
    eta_net *n = calloc(1, sizeof *n);
    if (!n) {
        eta_spec_free(tree);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    n->loss = -1;
    n->g.train = true;
    rc = nn_build(&n->g, tree, err);
    eta_spec_free(tree);
    if (rc) {
        eta_net_free(n);
        return rc;
    }
    *out = n;
    return ETA_OK;
}

static void free_buffers(eta_net *n)
{
    free(n->g.arena);
    free(n->g.iarena);
    free(n->zero_head);
    free(n->zero_next);
    n->g.arena = NULL;
    n->g.iarena = NULL;
    n->zero_head = n->zero_next = NULL;
}

void eta_net_free(eta_net *n)
{
    if (!n)
        return;
    free_buffers(n);
    free(n->g.pbuf);
    free(n->g.gbuf);
    free(n->g.ops);
    free(n->g.params);
    free(n->final_from);
    free(n);
}

const char *nn_shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int d = 0; d < ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (used < n)
        snprintf(buf + used, n - used, "]");
    return buf;
}

int nn_shape_error(eta_err *err, const nn_op *op, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return eta_spec_fail(err, ETA_EINVAL, NULL, "layer %d (%s%s%s): %s", op->layer, op->kind->name,
                         *op->name ? " " : "", op->name, msg);
}

int nn_param_add(nn_op *op, const char *suffix, int ndim, const int64_t *shape, eta_err *err)
{
    nn_net *net = op->net;
    if (net->nparams == net->cap_params) {
        int cap = net->cap_params ? 2 * net->cap_params : 16;
        nn_param *p = realloc(net->params, (size_t)cap * sizeof *p);
        if (!p)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        net->params = p;
        net->cap_params = cap;
    }
    if (op->np >= NN_MAX_PARAMS)
        return nn_shape_error(err, op, "too many parameter arrays");
    nn_param *p = &net->params[net->nparams];
    memset(p, 0, sizeof *p);
    size_t a = strlen(op->name), b = strlen(suffix);
    if (a + 1 + b >= sizeof p->name)
        return nn_shape_error(err, op, "parameter name too long");
    memcpy(p->name, op->name, a);
    if (a)
        p->name[a++] = '.';
    memcpy(p->name + a, suffix, b + 1);
    p->ndim = ndim;
    p->n = 1;
    for (int d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->n *= (size_t)shape[d];
    }
    if (op->np == 0)
        op->p0 = net->nparams;
    op->np++;
    net->nparams++;
    return ETA_OK;
}

int nn_buffer_add(nn_op *op, const char *suffix, int ndim, const int64_t *shape, eta_err *err)
{
    int rc = nn_param_add(op, suffix, ndim, shape, err);
    if (!rc)
        op->net->params[op->net->nparams - 1].buffer = true;
    return rc;
}

/* Aligns arena offsets to 16 floats (64 bytes). */
static size_t align16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

static nn_tensor *tensor_of(eta_net *n, int idx)
{
    return idx == -1 ? &n->g.input : idx == -2 ? &n->target : &n->g.ops[idx].out;
}

/* ---- gradient memory ----------------------------------------------------
 * Backward runs the ops last to first. The gradient of op i's output is
 * written first by its last consumer c (the highest op index reading it,
 * directly or through views) and read last by op i's own backward: it is
 * live over steps [i, c] only. So gradients do not each get their own
 * buffer, as activations do: intervals that do not overlap share memory,
 * placed greedily (largest first, at the lowest offset free over its
 * interval), and each is zeroed right before step c instead of all at the
 * start, while the buffer is likely still in cache; not at all when its
 * only reader's kind can set it instead of adding to it (sets_grad: a
 * memset of every activation's size saved). A chain then needs about
 * two gradient buffers, a residual stream a few more. The network input's
 * gradient (eta_net_input_grad) and the parameters' keep their own. */
typedef struct grad_slot {
    size_t size, off;
    int op, first; /* live over backward steps [op, first] */
} grad_slot;

static int by_size_desc(const void *a, const void *b)
{
    const grad_slot *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return (x->op > y->op) - (x->op < y->op);
}

static int by_off(const void *a, const void *b)
{
    const grad_slot *x = *(const grad_slot *const *)a, *y = *(const grad_slot *const *)b;
    return (x->off > y->off) - (x->off < y->off);
}

/* Sets off[i] (floats from the region's start) for every non-view op and
 * n->zero_head/zero_next; returns the region's size in floats, or
 * (size_t)-1 when out of memory. */
static size_t plan_grads(eta_net *n, size_t *off)
{
    nn_net *g = &n->g;
    int N = g->nops;
    int *src = malloc(((size_t)N + 1) * sizeof *src), *first = malloc(((size_t)N + 1) * sizeof *first);
    int *readers = malloc(((size_t)N + 1) * sizeof *readers), *reader = malloc(((size_t)N + 1) * sizeof *reader);
    grad_slot *slot = malloc(((size_t)N + 1) * sizeof *slot);
    const grad_slot **live = malloc(((size_t)N + 1) * sizeof *live);
    n->zero_head = malloc(((size_t)N + 1) * sizeof *n->zero_head);
    n->zero_next = malloc(((size_t)N + 1) * sizeof *n->zero_next);
    size_t total = (size_t)-1;
    if (!src || !first || !readers || !reader || !slot || !live || !n->zero_head || !n->zero_next)
        goto done;
    for (int i = 0; i < N; i++) {
        const nn_op *op = &g->ops[i];
        src[i] = !nn_is_view(op) ? i : op->in[0] < 0 ? op->in[0] : src[op->in[0]];
        first[i] = i;
    }
    /* readers[s]: the ops (views aside: they pass their gradient through)
     * that add into s's gradient; reader[s]: the last of them. */
    for (int i = 0; i < N; i++)
        readers[i] = 0;
    for (int k = 0; k < N; k++) {
        g->ops[k].gset = false;
        for (int m = 0; m < g->ops[k].nin; m++) {
            int j = g->ops[k].in[m], s = j >= 0 ? src[j] : j;
            if (s >= 0 && k > first[s])
                first[s] = k;
            if (s >= 0 && !nn_is_view(&g->ops[k])) {
                readers[s]++;
                reader[s] = k;
            }
        }
    }
    int ns = 0;
    for (int i = 0; i < N; i++) {
        n->zero_head[i] = -1;
        if (!nn_is_view(&g->ops[i]))
            slot[ns++] = (grad_slot){align16(g->ops[i].out.n), 0, i, first[i]};
        /* A sole reader that can set the gradient makes the zeroing moot. */
        const nn_op *r = readers[i] == 1 ? &g->ops[reader[i]] : NULL;
        if (r && r->kind->sets_grad && r->nin == 1 && !nn_is_view(&g->ops[i]))
            g->ops[reader[i]].gset = true;
    }
    qsort(slot, (size_t)ns, sizeof *slot, by_size_desc);
    total = 0;
    for (int a = 0; a < ns; a++) {
        int nl = 0;
        for (int b = 0; b < a; b++) /* placed, and live at some step a is */
            if (slot[b].op <= slot[a].first && slot[a].op <= slot[b].first)
                live[nl++] = &slot[b];
        qsort(live, (size_t)nl, sizeof *live, by_off);
        size_t o = 0;
        for (int b = 0; b < nl && live[b]->off < o + slot[a].size; b++)
            if (live[b]->off + live[b]->size > o)
                o = live[b]->off + live[b]->size;
        slot[a].off = o;
        if (o + slot[a].size > total)
            total = o + slot[a].size;
    }
    for (int a = 0; a < ns; a++) {
        int i = slot[a].op;
        off[i] = slot[a].off;
        if (readers[i] == 1 && g->ops[reader[i]].gset)
            continue;
        n->zero_next[i] = n->zero_head[first[i]];
        n->zero_head[first[i]] = i;
    }
done:
    free(src);
    free(first);
    free(readers);
    free(reader);
    free(slot);
    free(live);
    return total;
}

/* ---- fusion ---------------------------------------------------------------
 * A ReLU read by one MaxPool2d and nothing else (the usual Conv2d, ReLU,
 * MaxPool2d) is folded into the pooling: the ReLU becomes a view of its
 * input, and the MaxPool2d applies the ReLU to each candidate as it loads it
 * and masks the gradient it routes back. The same arithmetic on the same
 * values, so the same bits, without two passes over the largest activation
 * and its gradient, nor their memory. */
static void fuse(eta_net *n)
{
    nn_net *g = &n->g;
    int out = n->loss >= 0 ? n->loss - 1 : g->nops - 1;
    for (int i = 0; i < g->nops; i++)
        g->ops[i].fused = g->ops[i].relu_in = false;
    for (int i = 0; i < g->nops; i++) {
        if (g->ops[i].kind != &nn_kind_relu || i == out)
            continue;
        int readers = 0, reader = -1;
        for (int k = i + 1; k < g->nops; k++)
            for (int m = 0; m < g->ops[k].nin; m++)
                if (g->ops[k].in[m] == i) {
                    readers++;
                    reader = k;
                }
        if (readers == 1 && g->ops[reader].kind == &nn_kind_maxpool && g->ops[reader].nin == 1) {
            g->ops[i].fused = true;
            g->ops[reader].relu_in = true;
        }
    }
}

int eta_net_prepare(eta_net *n, int64_t batch, int ndim, const int64_t *shape, eta_err *err)
{
    eta_err_clear(err);
    nn_net *g = &n->g;
    if (batch < 1 || ndim < 0 || ndim >= NN_MAX_DIMS)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "prepare: batch must be >= 1 and the input have 0 to %d dims",
                             NN_MAX_DIMS - 1);
    memset(&g->input, 0, sizeof g->input);
    g->input.ndim = ndim + 1;
    g->input.shape[0] = batch;
    g->input.n = (size_t)batch;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "prepare: input shape[%d] must be >= 1, got %lld", d,
                                 (long long)shape[d]);
        g->input.shape[d + 1] = shape[d];
        g->input.n *= (size_t)shape[d];
    }
    fuse(n);
    int nparams_before = g->nparams;
    g->nparams = 0;
    size_t total_params = 0, act = align16(g->input.n); /* the input's gradient */
    for (int i = 0; i < g->nops; i++) {
        nn_op *op = &g->ops[i];
        op->np = 0;
        if (i == n->loss) /* the target follows the output's batch */
            nn_loss_target_shape(op, tensor_of(n, op->in[0]), &n->target);
        const nn_tensor *in[NN_MAX_IN];
        for (int k = 0; k < op->nin; k++)
            in[k] = tensor_of(n, op->in[k]);
        memset(&op->out, 0, sizeof op->out);
        op->nscratch = op->niscratch = 0;
        int rc = op->kind->shape(op, in, err);
        if (rc)
            return rc;
        op->out.n = 1;
        for (int d = 0; d < op->out.ndim; d++)
            op->out.n *= (size_t)op->out.shape[d];
        act += (nn_is_view(op) ? 0 : align16(op->out.n)) + align16(op->nscratch);
        for (int k = 0; k < op->np; k++) {
            g->params[op->p0 + k].offset = total_params;
            total_params += g->params[op->p0 + k].n;
        }
    }
    if (n->declared && (g->nparams != nparams_before || total_params != g->ptotal))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "prepare: the parameters changed with the input shape");
    /* Parameters: allocated once, kept across prepares. */
    if (!n->declared) {
        g->pbuf = calloc(total_params ? total_params : 1, sizeof(float));
        g->gbuf = calloc(total_params ? total_params : 1, sizeof(float));
        if (!g->pbuf || !g->gbuf)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %zu parameters", total_params);
        g->ptotal = total_params;
        n->declared = true;
    }
    free_buffers(n);
    g->prepared = false; /* until the buffers below exist */
    size_t *goff = malloc(((size_t)g->nops + 1) * sizeof *goff);
    size_t gsize = goff ? plan_grads(n, goff) : (size_t)-1;
    if (gsize == (size_t)-1) {
        free(goff);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %d ops", g->nops);
    }
    act += gsize;
    g->arena = calloc(act ? act : 1, sizeof(float));
    size_t iact = 0;
    for (int i = 0; i < g->nops; i++)
        iact += g->ops[i].niscratch;
    g->iarena = calloc(iact ? iact : 1, sizeof(int32_t));
    if (!g->arena || !g->iarena) {
        free(goff);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %zu activations", act);
    }
    g->arena_n = act;
    float *p = g->arena, *grads;
    g->input.g = p;
    p += align16(g->input.n);
    grads = p;
    p += gsize;
    int32_t *ip = g->iarena;
    for (int i = 0; i < g->nops; i++) {
        nn_op *op = &g->ops[i];
        for (int k = 0; k < op->nin; k++)
            op->input[k] = tensor_of(n, op->in[k]);
        if (nn_is_view(op)) { /* shares its input's memory */
            op->out.x = op->input[0]->x;
            op->out.g = op->input[0]->g;
        } else {
            op->out.x = p;
            p += align16(op->out.n);
            op->out.g = grads + goff[i];
        }
        op->scratch = op->nscratch ? p : NULL;
        p += align16(op->nscratch);
        op->iscratch = op->niscratch ? ip : NULL;
        ip += op->niscratch;
        for (int k = 0; k < op->np; k++) {
            op->w[k] = g->pbuf + g->params[op->p0 + k].offset;
            op->dw[k] = g->gbuf + g->params[op->p0 + k].offset;
        }
    }
    free(goff);
    n->batch = batch;
    g->prepared = true;
    return ETA_OK;
}

int eta_net_set_loss(eta_net *n, const char *spec, eta_err *err)
{
    eta_err_clear(err);
    if (!n->g.prepared)
        return eta_spec_fail(err, ETA_ESTATE, NULL, "set_loss: call eta_net_prepare first");
    eta_spec *call;
    int rc = eta_spec_parse(&call, spec, err);
    if (rc)
        return rc;
    int out = n->loss >= 0 ? n->g.ops[n->loss].in[0] : n->g.nops - 1;
    if (n->loss >= 0) /* replace the previous loss */
        n->g.nops--;
    nn_builder b = {&n->g, n->g.nlayers, 1};
    int idx;
    rc = nn_lower_loss(&b, call, out, &idx, err);
    eta_spec_free(call);
    if (rc)
        return rc;
    n->loss = idx;
    /* The target has the shape the loss asks for (set by its shape rule). */
    int64_t shape[NN_MAX_DIMS - 1];
    nn_tensor *in = &n->g.input;
    for (int d = 1; d < in->ndim; d++)
        shape[d - 1] = in->shape[d];
    nn_loss_target_shape(&n->g.ops[n->loss], &n->g.ops[out].out, &n->target);
    return eta_net_prepare(n, n->batch, in->ndim - 1, shape, err);
}

int eta_net_init(eta_net *n, uint64_t seed)
{
    if (!n->g.prepared)
        return fail(n, ETA_ESTATE, "init: call eta_net_prepare first");
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
    for (int i = 0; i < n->g.nops; i++) {
        nn_op *op = &n->g.ops[i];
        if (op->kind->init)
            op->kind->init(op, &s);
        op->rng = s ^ ((uint64_t)i * 0xbf58476d1ce4e5b9ull);
    }
    n->g.batches_tracked = 0;
    return ETA_OK;
}

void eta_net_train(eta_net *n, bool train)
{
    n->g.train = train;
}

int eta_net_bn_cumulative(eta_net *n, bool on)
{
    nn_net *g = &n->g;
    if (!g->prepared)
        return fail(n, ETA_ESTATE, "bn_cumulative: call eta_net_prepare first");
    g->bn_cumulative = on;
    if (!on)
        return ETA_OK;
    /* reset_running_stats(): running_mean 0, running_var 1, num_batches_tracked 0 */
    for (int i = 0; i < g->nparams; i++) {
        const nn_param *p = &g->params[i];
        size_t len = strlen(p->name);
        bool mean = len >= 12 && !strcmp(p->name + len - 12, "running_mean");
        bool var = len >= 11 && !strcmp(p->name + len - 11, "running_var");
        if (p->buffer && (mean || var))
            for (size_t k = 0; k < p->n; k++)
                g->pbuf[p->offset + k] = var ? 1.0f : 0.0f;
    }
    g->batches_tracked = 0;
    return ETA_OK;
}

bool eta_net_has_running_stats(const eta_net *n)
{
    for (int i = 0; i < n->g.nparams; i++)
        if (n->g.params[i].buffer)
            return true;
    return false;
}

eta_nn_input eta_net_input_type(const eta_net *n)
{
    return n->g.nops > 0 && n->g.ops[0].kind->int_input ? ETA_NN_INT32 : ETA_NN_FLOAT32;
}

int eta_net_forward(eta_net *n, const void *input, const void *target, double *loss)
{
    nn_net *g = &n->g;
    if (!g->prepared)
        return fail(n, ETA_ESTATE, "forward: call eta_net_prepare first");
    if (!input)
        return fail(n, ETA_EINVAL, "forward: input is NULL");
    if (eta_net_input_type(n) == ETA_NN_INT32) {
        g->input.ix = input;
        g->input.x = NULL;
    } else {
        g->input.x = (float *)(uintptr_t)input; /* read only */
        g->input.ix = NULL;
    }
    eta_err err;
    int rc = n->loss >= 0 && target ? nn_loss_set_target(&g->ops[n->loss], &n->target, target, &err) : ETA_OK;
    if (rc)
        return fail(n, rc, "forward: %s", err.msg);
    nn_ctx ctx = {g->train, 0, g->train && g->bn_cumulative ? g->batches_tracked + 1 : 0};
    int last = n->loss >= 0 && target ? g->nops : (n->loss >= 0 ? n->loss : g->nops);
    for (int i = 0; i < last; i++)
        g->ops[i].kind->forward(&g->ops[i], &ctx);
    g->batches_tracked += g->train;
    char msg[160];
    if (g->nops > 0 && nn_embedding_bad_ids(&g->ops[0], msg, sizeof msg))
        return fail(n, ETA_EINVAL, "forward: %s", msg);
    if (loss)
        *loss = n->loss >= 0 && target ? (double)g->ops[n->loss].out.x[0] : NAN;
    n->g.prepared = true;
    return ETA_OK;
}

/* Points the input's gradient at `ig` (NULL: no gradient flows into the
 * input, and every kernel skips its input-gradient work, as torch does for
 * an input without requires_grad), and the views of it along. */
static void link_input_grad(nn_net *g, float *ig)
{
    g->input.g = ig;
    for (int i = 0; i < g->nops; i++)
        if (nn_is_view(&g->ops[i]))
            g->ops[i].out.g = g->ops[i].input[0]->g;
}

/* The backward pass: from the loss op (dout NULL: its gradient is 1), or
 * from the gradient dout of the output (the loss op, if any, skipped). */
static int plan_final(eta_net *n);

static void run_backward(eta_net *n, const float *dout)
{
    nn_net *g = &n->g;
    int out = dout ? (n->loss >= 0 ? n->loss - 1 : g->nops - 1) : g->nops - 1;
    /* The input's gradient: only for float inputs that asked for it. The
     * arena keeps its buffer (g->input.g between passes). */
    float *ig = g->input.g;
    bool want = !n->no_input_grad && eta_net_input_type(n) == ETA_NN_FLOAT32;
    if (!want)
        link_input_grad(g, NULL);
    memset(g->gbuf, 0, g->ptotal * sizeof(float));
    if (want)
        memset(ig, 0, g->input.n * sizeof(float));
    nn_ctx ctx = {g->train, 0, 0};
    if (n->hook && !n->final_from)
        plan_final(n); /* out of memory: no piece is told early, the whole at the end */
    size_t told = g->ptotal;
    for (int k = g->nops - 1; k >= 0; k--) {
        for (int i = n->zero_head[k]; i >= 0; i = n->zero_next[i]) /* gradients that step k starts */
            memset(g->ops[i].out.g, 0, g->ops[i].out.n * sizeof(float));
        if (k > out) /* backward_output: the loss is skipped */
            continue;
        if (k == n->loss)
            g->ops[k].out.g[0] = 1.0f;
        else if (dout && k == out) /* set, whatever a loss would have left there */
            memcpy(g->ops[k].out.g, dout, g->ops[k].out.n * sizeof(float));
        g->ops[k].kind->backward(&g->ops[k], &ctx);
        if (n->hook && n->final_from && n->final_from[k] < told) {
            told = n->final_from[k];
            n->hook(n->hook_ud, told);
        }
    }
    if (n->hook && told > 0)
        n->hook(n->hook_ud, 0);
    if (!want)
        link_input_grad(g, ig);
}

/* final_from[k]: the end of the highest parameter any op before k uses, so
 * that after op k's backward no later op writes a gradient at or above it. */
static int plan_final(eta_net *n)
{
    nn_net *g = &n->g;
    n->final_from = malloc(((size_t)g->nops + 1) * sizeof *n->final_from);
    if (!n->final_from)
        return ETA_ENOMEM;
    size_t hi = 0;
    for (int k = 0; k < g->nops; k++) {
        n->final_from[k] = hi;
        const nn_op *op = &g->ops[k];
        for (int j = 0; j < op->np; j++) {
            const nn_param *p = &g->params[op->p0 + j];
            if (p->offset + p->n > hi)
                hi = p->offset + p->n;
        }
    }
    return ETA_OK;
}

int eta_net_set_grad_hook(eta_net *n, eta_net_grad_hook fn, void *ud)
{
    n->hook = fn;
    n->hook_ud = ud;
    if (fn && !n->final_from && n->g.prepared)
        return plan_final(n) ? fail(n, ETA_ENOMEM, "set_grad_hook: out of memory") : ETA_OK;
    return ETA_OK;
}

int eta_net_backward(eta_net *n)
{
    nn_net *g = &n->g;
    if (!g->prepared || n->loss < 0 || (!n->target.x && !n->target.ix))
        return fail(n, ETA_ESTATE, "backward: needs a loss and a forward pass with a target");
    run_backward(n, NULL);
    return ETA_OK;
}

int eta_net_backward_output(eta_net *n, const float *dout)
{
    if (!n->g.prepared || n->g.nops == 0 || (!n->g.input.x && !n->g.input.ix)) /* input: set by forward */
        return fail(n, ETA_ESTATE, "backward_output: call eta_net_prepare and eta_net_forward first");
    if (!dout)
        return fail(n, ETA_EINVAL, "backward_output: the output gradient is NULL");
    run_backward(n, dout);
    return ETA_OK;
}

void eta_net_set_input_grad(eta_net *n, bool on)
{
    n->no_input_grad = !on;
}

const float *eta_net_output(const eta_net *n, int *ndim, int64_t *shape)
{
    int last = n->loss >= 0 ? n->loss - 1 : n->g.nops - 1;
    const nn_tensor *t = &n->g.ops[last].out;
    if (ndim)
        *ndim = t->ndim;
    if (shape)
        memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    return t->x;
}

const float *eta_net_input_grad(const eta_net *n)
{
    return eta_net_input_type(n) == ETA_NN_FLOAT32 && !n->no_input_grad ? n->g.input.g : NULL;
}

float *eta_net_params(eta_net *n, size_t *count)
{
    if (count)
        *count = n->g.ptotal;
    return n->g.pbuf;
}

float *eta_net_grads(eta_net *n, size_t *count)
{
    if (count)
        *count = n->g.ptotal;
    return n->g.gbuf;
}

float *eta_net_buffer(eta_net *n, const char *name, size_t *count)
{
    for (int i = 0; i < n->g.nparams; i++) {
        const nn_param *p = &n->g.params[i];
        if (p->buffer && !strcmp(p->name, name)) {
            if (count)
                *count = p->n;
            return n->g.pbuf + p->offset;
        }
    }
    return NULL;
}

bool eta_net_param_is_buffer(const eta_net *n, int i)
{
    return i >= 0 && i < n->g.nparams && n->g.params[i].buffer;
}

int eta_net_param_count(const eta_net *n)
{
    return n->g.nparams;
}

size_t eta_net_param_total(const eta_net *n)
{
    return n->g.ptotal;
}

int eta_net_param_info(const eta_net *n, int i, const char **name, size_t *offset, int *ndim, int64_t *shape)
{
    if (i < 0 || i >= n->g.nparams)
        return ETA_EINVAL;
    const nn_param *p = &n->g.params[i];
    if (name)
        *name = p->name;
    if (offset)
        *offset = p->offset;
    if (ndim)
        *ndim = p->ndim;
    if (shape)
        memcpy(shape, p->shape, (size_t)p->ndim * sizeof *shape);
    return ETA_OK;
}

/* Shell-style glob with '*' and '?'. */
static bool glob(const char *pat, const char *s)
{
    if (!*pat)
        return !*s;
    if (*pat == '*')
        return glob(pat + 1, s) || (*s && glob(pat, s + 1));
    return *s && (*pat == '?' || *pat == *s) && glob(pat + 1, s + 1);
}

static bool matches_any(const char *list, const char *name)
{
    char pat[128];
    while (list && *list) {
        size_t len = strcspn(list, ",");
        snprintf(pat, sizeof pat, "%.*s", (int)(len < sizeof pat - 1 ? len : sizeof pat - 1), list);
        char *p = pat;
        while (*p == ' ')
            p++;
        if (*p && glob(p, name))
            return true;
        list += len + (list[len] == ',');
    }
    return false;
}

int eta_net_attach(eta_net *n, eta_optim *opt, const char *no_decay, eta_err *err)
{
    return eta_net_attach_range(n, opt, no_decay, 0, SIZE_MAX, err);
}

int eta_net_attach_range(eta_net *n, eta_optim *opt, const char *no_decay, size_t lo, size_t hi, eta_err *err)
{
    eta_err_clear(err);
    if (!n->g.prepared)
        return eta_spec_fail(err, ETA_ESTATE, NULL, "attach: call eta_net_prepare first");
    if (eta_optim_get_config(opt)->dtype != ETA_F32)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "attach: the optimizer must be float32 like the network");
    eta_gemm gemm = eta_nn_gemm();
    eta_optim_set_gemm(opt, &gemm);
    int nd_group = -1;
    for (int i = 0; i < n->g.nparams; i++) {
        const nn_param *p = &n->g.params[i];
        if (p->buffer)
            continue;
        int group = 0;
        if (matches_any(no_decay, p->name)) {
            if (nd_group < 0) {
                eta_optim_hparams hp;
                eta_optim_get_hparams(opt, 0, &hp);
                hp.weight_decay = 0;
                nd_group = eta_optim_add_group(opt, &hp);
                if (nd_group < 0)
                    return eta_spec_fail(err, nd_group, NULL, "attach: %s", eta_optim_error(opt));
            }
            group = nd_group;
        }
        size_t a = p->offset > lo ? p->offset : lo, b = p->offset + p->n < hi ? p->offset + p->n : hi;
        if (a >= b)
            continue;
        const bool whole = a == p->offset && b == p->offset + p->n;
        const int64_t len = (int64_t)(b - a);
        int rc = eta_optim_add_param(opt, group, n->g.pbuf + a, n->g.gbuf + a, whole ? p->ndim : 1,
                                     whole ? p->shape : &len);
        if (rc < 0)
            return eta_spec_fail(err, rc, NULL, "attach: %s: %s", p->name, eta_optim_error(opt));
    }
    return ETA_OK;
}

/* Appends to buf like snprintf at buf+used, counting what would be written. */
static size_t append(char *buf, size_t size, size_t used, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(used < size ? buf + used : NULL, used < size ? size - used : 0, fmt, ap);
    va_end(ap);
    return used + (k > 0 ? (size_t)k : 0);
}

int eta_net_summary(const eta_net *n, char *buf, size_t size)
{
    const nn_net *g = &n->g;
    char shape[96];
    size_t used = append(buf, size, 0, "%-6s %-28s %-24s %12s\n", "layer", "module", "output shape", "params");
    for (int i = 0; i < g->nops; i++) {
        const nn_op *op = &g->ops[i];
        if (n->loss == i)
            break;
        bool end_of_layer = i + 1 >= g->nops || g->ops[i + 1].layer != op->layer || n->loss == i + 1;
        if (!end_of_layer)
            continue;
        size_t params = 0;
        for (int j = 0; j < g->nops; j++)
            if (g->ops[j].layer == op->layer && j != n->loss)
                for (int k = 0; k < g->ops[j].np; k++)
                    params += g->params[g->ops[j].p0 + k].n;
        const char *text = op->layer < 64 ? g->layer_text[op->layer] : op->kind->name;
        nn_shape_str(shape, sizeof shape, op->out.ndim, op->out.shape);
        used = append(buf, size, used, "%-6d %-28s %-24s %12zu\n", op->layer, text, shape, params);
    }
    used = append(buf, size, used, "total parameters: %zu\n", g->ptotal);
    return (int)used;
}
