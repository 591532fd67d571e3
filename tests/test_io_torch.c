/* tests/test_io_torch.c - labels: ref full
 *
 * Weights exchanged with PyTorch through safetensors, three networks: an
 * MLP (with Dropout), a CNN with two BatchNorm2d trained a few steps (so
 * its running statistics and num_batches_tracked are not the defaults), a
 * causal transformer block over an Embedding.
 *
 * Without arguments (CTest's test_io_torch, no torch needed): the committed
 * fixture tests/ref/io_torch_{mlp,cnn,transformer}.{safetensors,txt}, written
 * by torch (tools/check_safetensors.py torch-to-eta --prefix io_torch_, with
 * its own writer: tensors in the reference's order, not eta's), loads into
 * the network eta builds from the same spec, whose eval-mode output on the
 * fixture's input must match torch's; the BatchNorm count comes along.
 *
 * With --live (CTest's io_torch_live, labels ref torch; exit 77, skipped,
 * when /usr/bin/python3 has no torch): the same from a fresh torch run, and
 * the other way: eta builds, trains (the CNN) and saves each network, and
 * the script builds it in torch, load_state_dict(strict=True), and compares
 * torch's output with eta's.
 *
 * Bound: max |eta - torch| / max |torch| over the output <= 1e-5 (float32
 * sums in other orders); the measured errors are printed.
 */
#include "harness.h"
#include "torch_case.h"

#include <sys/stat.h>
#include <sys/wait.h>

#include <eta/eta.h>

#define BOUND 1e-5

static const char *const nets[] = {"mlp", "cnn", "transformer"};

typedef struct tcase {
    char spec[512];
    int ndim;
    int64_t shape[4], batch;
    bool ids;
    double *input, *output;
    size_t n_in, n_out;
    int64_t out_shape[4];
    int out_ndim;
    long long nbt; /* -1: none */
} tcase;

static const char *after(const char *text, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\n%s ", key);
    const char *p = strncmp(text, k + 1, strlen(k + 1)) ? strstr(text, k) : text - 1;
    return p ? p + strlen(k) : NULL;
}

static void read_case(const char *path, tcase *c)
{
    memset(c, 0, sizeof *c);
    char *t = read_file(path, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    const char *p = after(t, "spec");
    assert_non_null(p);
    snprintf(c->spec, sizeof c->spec, "%.*s", (int)strcspn(p, "\n"), p);
    double v[8];
    const char *rest;
    c->ndim = (int)read_doubles_rest(after(t, "input_shape"), v, 4, &rest);
    for (int d = 0; d < c->ndim; d++)
        c->shape[d] = (int64_t)v[d];
    c->batch = (int64_t)strtoll(after(t, "batch"), NULL, 10);
    c->ids = !strncmp(after(t, "input_type"), "i32", 3);
    size_t n = (size_t)c->batch;
    for (int d = 0; d < c->ndim; d++)
        n *= (size_t)c->shape[d];
    c->input = malloc(n * sizeof *c->input);
    c->n_in = read_doubles_rest(after(t, "input"), c->input, n, &rest);
    assert_int_equal(c->n_in, n);
    p = after(t, "output");
    read_doubles_rest(p, v, 1, &rest);
    c->out_ndim = (int)v[0];
    read_doubles_rest(rest, v, (size_t)c->out_ndim, &rest);
    n = 1;
    for (int d = 0; d < c->out_ndim; d++)
        n *= (size_t)(c->out_shape[d] = (int64_t)v[d]);
    c->output = malloc(n * sizeof *c->output);
    c->n_out = read_doubles_rest(rest, c->output, n, &rest);
    assert_int_equal(c->n_out, n);
    p = after(t, "num_batches_tracked");
    c->nbt = p ? strtoll(p, NULL, 10) : -1;
    free(t);
}

static void free_case(tcase *c)
{
    free(c->input);
    free(c->output);
}

/* The case's input as the network reads it (float32 or int32). */
static void *case_input(const tcase *c)
{
    void *x = malloc(c->n_in * 4);
    for (size_t i = 0; i < c->n_in; i++) {
        if (c->ids)
            ((int32_t *)x)[i] = (int32_t)c->input[i];
        else
            ((float *)x)[i] = (float)c->input[i];
    }
    return x;
}

static eta_net *build(const char *spec, const tcase *c)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, c->batch, c->ndim, c->shape, &err))
        fail_msg("%s: %s", spec, err.msg);
    return net;
}

/* The train-mode forward count in a net's state (offset 16, state.c). */
static long long forward_count(const eta_net *net)
{
    void *b;
    size_t n;
    assert_int_equal(eta_net_save_state(net, &b, &n), ETA_OK);
    long long v = 0;
    for (int i = 0; i < 8; i++)
        v |= (long long)((unsigned char *)b)[16 + i] << (8 * i);
    free(b);
    return v;
}

/* Loads dir/base.safetensors into the case's network; its output on the
 * case's input must match the case's. Returns the error. */
static double check_torch_file(const char *dir, const char *base)
{
    char path[1024];
    tcase c;
    snprintf(path, sizeof path, "%s/%s.txt", dir, base);
    read_case(path, &c);
    eta_net *net = build(c.spec, &c);
    eta_net_train(net, false);
    eta_err err;
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, base);
    if (eta_net_load_safetensors(net, path, &err))
        fail_msg("%s", err.msg);
    if (c.nbt >= 0)
        assert_int_equal(forward_count(net), c.nbt);
    void *x = case_input(&c);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    int nd;
    int64_t shape[4];
    const float *y = eta_net_output(net, &nd, shape);
    assert_int_equal(nd, c.out_ndim);
    assert_memory_equal(shape, c.out_shape, (size_t)nd * sizeof *shape);
    double scale = 0, worst = 0;
    for (size_t i = 0; i < c.n_out; i++)
        scale = fmax(scale, fabs(c.output[i]));
    for (size_t i = 0; i < c.n_out; i++)
        worst = fmax(worst, fabs((double)y[i] - c.output[i]) / scale);
    print_message("torch -> eta %-24s max error %.3g of the largest |output| (bound %g)\n", base, worst, BOUND);
    if (!(worst <= BOUND))
        fail_msg("%s: output differs from torch's by %.3g", base, worst);
    free(x);
    eta_net_free(net);
    free_case(&c);
    return worst;
}

static void test_torch_fixture(void **state)
{
    (void)state;
    const char *dir = getenv("ETA_REF_DIR") ? getenv("ETA_REF_DIR") : "tests/ref";
    char base[64];
    for (int k = 0; k < 3; k++) {
        snprintf(base, sizeof base, "io_torch_%s", nets[k]);
        check_torch_file(dir, base);
    }
}

/* Loads the fixture's CNN file into the network of `spec`: refused with a
 * message holding `part`, the network unchanged. */
static void expect_cnn_refused(const char *spec, const char *part)
{
    char path[1024];
    const char *dir = getenv("ETA_REF_DIR") ? getenv("ETA_REF_DIR") : "tests/ref";
    tcase c = {.ndim = 3, .shape = {1, 10, 10}, .batch = 4};
    eta_net *net = build(spec, &c);
    eta_net_init(net, 3);
    size_t n;
    float *p = eta_net_params(net, &n), *before = malloc(n * sizeof *before);
    memcpy(before, p, n * sizeof *before);
    eta_err err;
    snprintf(path, sizeof path, "%s/io_torch_cnn.safetensors", dir);
    assert_int_equal(eta_net_load_safetensors(net, path, &err), ETA_EINVAL);
    if (!strstr(err.msg, "io_torch_cnn.safetensors: ") || !strstr(err.msg, part))
        fail_msg("'%s' lacks '%s'", err.msg, part);
    assert_memory_equal(p, before, n * sizeof *before);
    free(before);
    eta_net_free(net);
}

/* The torch file into networks it does not fit: torch's strict-load lists,
 * a size mismatch naming both shapes. */
static void test_torch_fixture_mismatch(void **state)
{
    (void)state;
    expect_cnn_refused("Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Conv2d(4, 6, 3), "
                       "Dropout(0.5), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(6, 6), Linear(6, 3))",
                       "does not fit the network: missing tensors (2): \"10.weight\", \"10.bias\"; unexpected "
                       "tensors (5): \"5.num_batches_tracked\", \"5.bias\", \"5.running_mean\", "
                       "\"5.running_var\" and 1 more");
    expect_cnn_refused("Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Conv2d(4, 6, 3), "
                       "BatchNorm2d(6), ReLU(), AdaptiveAvgPool2d(1), Flatten(), Linear(6, 4))",
                       "size mismatch for 9.weight: the file has shape [3, 6], the network [4, 6]");
}

/* ---- live: both ways through a torch run ------------------------------ */

static const char *python(void)
{
    return getenv("ETA_TORCH_PYTHON") ? getenv("ETA_TORCH_PYTHON") : "/usr/bin/python3";
}

/* Runs tools/check_safetensors.py with args; its exit status. */
static int run_script(const char *args)
{
    const char *src = getenv("ETA_SOURCE_DIR") ? getenv("ETA_SOURCE_DIR") : ".";
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s %s/tools/check_safetensors.py %s", python(), src, args);
    fflush(stdout);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static uint64_t lcg = 0x9e3779b97f4a7c15ull;

static double uniform(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) * 0x1.0p-53;
}

static void fill(void *x, size_t n, bool ids, double scale, double shift)
{
    for (size_t i = 0; i < n; i++) {
        if (ids)
            ((int32_t *)x)[i] = (int32_t)(uniform() * 17);
        else
            ((float *)x)[i] = (float)(scale * (2 * uniform() - 1) + shift);
    }
}

/* eta builds, (trains,) saves network k with its case file into dir. */
static void write_eta_case(const char *dir, const tcase *ref, const char *name)
{
    eta_net *net;
    eta_err err;
    int64_t train_batch = 8;
    if (eta_net_new(&net, ref->spec, &err) || eta_net_prepare(net, train_batch, ref->ndim, ref->shape, &err) ||
        eta_net_set_loss(net, "CrossEntropyLoss()", &err))
        fail_msg("%s", err.msg);
    eta_net_init(net, 21);
    size_t n_in = (size_t)ref->n_in / (size_t)ref->batch;
    if (!strcmp(name, "cnn")) { /* 5 SGD steps: running statistics move */
        eta_optim_config cfg;
        eta_optim *opt;
        if (eta_optim_config_from_spec(&cfg, "SGD(lr=0.1, momentum=0.9)", &err) || eta_optim_new(&opt, &cfg, &err) ||
            eta_net_attach(net, opt, NULL, &err))
            fail_msg("%s", err.msg);
        float *x = malloc((size_t)train_batch * n_in * sizeof *x);
        int32_t y[8];
        for (int s = 0; s < 5; s++) {
            fill(x, (size_t)train_batch * n_in, false, 2, 0.5);
            for (int i = 0; i < 8; i++)
                y[i] = (int32_t)(uniform() * 3);
            assert_int_equal(eta_net_forward(net, x, y, NULL), ETA_OK);
            assert_int_equal(eta_net_backward(net), ETA_OK);
            assert_int_equal(eta_optim_step(opt), ETA_OK);
        }
        free(x);
        eta_optim_free(opt);
    }
    if (eta_net_prepare(net, ref->batch, ref->ndim, ref->shape, &err))
        fail_msg("%s", err.msg);
    eta_net_train(net, false);
    void *x = malloc(ref->n_in * 4);
    fill(x, ref->n_in, ref->ids, 1, 0);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    char extra[64]; /* the cnn trained: its count of batches */
    if (!strcmp(name, "cnn"))
        snprintf(extra, sizeof extra, "num_batches_tracked %lld", forward_count(net));
    torch_case_write(dir, name, net, ref->spec, ref->ndim, ref->shape, ref->batch, ref->ids, x, ref->n_in,
                     strcmp(name, "cnn") ? NULL : extra);
    free(x);
    eta_net_free(net);
}

static char live_dir[64];

static int live_setup(void **state)
{
    (void)state;
    snprintf(live_dir, sizeof live_dir, "/tmp/eta_io_torch_XXXXXX");
    return mkdtemp(live_dir) ? 0 : -1;
}

static int live_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", live_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* torch writes the three networks, eta loads them. */
static void test_live_torch_to_eta(void **state)
{
    (void)state;
    char args[256];
    snprintf(args, sizeof args, "torch-to-eta %s", live_dir);
    assert_int_equal(run_script(args), 0);
    for (int k = 0; k < 3; k++)
        check_torch_file(live_dir, nets[k]);
}

/* eta builds, trains (the CNN) and saves the same networks; torch loads
 * them strictly and compares its output with eta's. */
static void test_live_eta_to_torch(void **state)
{
    (void)state;
    char sub[256], path[512], args[300];
    snprintf(sub, sizeof sub, "%s/eta", live_dir);
    mkdir(sub, 0755);
    for (int k = 0; k < 3; k++) {
        tcase c;
        snprintf(path, sizeof path, "%s/%s.txt", live_dir, nets[k]);
        read_case(path, &c); /* the same networks and shapes */
        write_eta_case(sub, &c, nets[k]);
        free_case(&c);
    }
    snprintf(args, sizeof args, "eta-to-torch %s", sub);
    assert_int_equal(run_script(args), 0);
}

static int live(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s -c 'import torch, numpy' 2>/dev/null", python());
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("skipped: %s has no torch or numpy\n", python());
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_torch_to_eta),
        cmocka_unit_test(test_live_eta_to_torch),
    };
    return cmocka_run_group_tests(tests, live_setup, live_teardown);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--live"))
        return live();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_fixture),
        cmocka_unit_test(test_torch_fixture_mismatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
