/* tests/test_nn_shard.c - labels: unit full
 *
 * What a data-parallel step needs of the engine and the sharded sum
 * (nn/net_shard.c, net.c's gradient hook, train/run_shard.c):
 *  - the gradient hook: during backward of an MLP, a CNN with BatchNorm, a
 *    transformer with dropout and an LSTM, a copy of every range the hook
 *    calls final, taken at the moment it is called, equals the gradient at
 *    the end of the pass, bit for bit; `from` only decreases and the last
 *    call gives 0;
 *  - eta_net_reseed: the same key gives the same dropout draws (the same
 *    loss), another key other draws; eta_net_forward_count reads and sets
 *    the count of train-mode passes;
 *  - eta_shard_owner: consecutive shards per process, every shard owned
 *    once, for shard and process counts from 1 to 9;
 *  - eta_shard_sum: hand-computed weighted sums, empty shards skipped, one
 *    shard of all rows the identity.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <eta/eta.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/run.h"

typedef struct shadow {
    const float *g;
    float *copy;
    size_t told;
    int calls;
    bool decreasing;
} shadow;

static void on_final(void *ud, size_t from)
{
    shadow *s = ud;
    if (from >= s->told)
        s->decreasing = false;
    memcpy(s->copy + from, s->g + from, (s->told - from) * sizeof *s->g);
    s->told = from;
    s->calls++;
}

static eta_net *build(const char *spec, const char *loss, int64_t batch, int ndim, const int64_t *shape)
{
    eta_net *net;
    eta_err err;
    assert_int_equal(eta_net_new(&net, spec, &err), ETA_OK);
    assert_int_equal(eta_net_prepare(net, batch, ndim, shape, &err), ETA_OK);
    assert_int_equal(eta_net_set_loss(net, loss, &err), ETA_OK);
    assert_int_equal(eta_net_init(net, 7), ETA_OK);
    return net;
}

/* Forward and backward with the hook copying, twice (the second pass sees the
 * first's gradients in the buffers); the copy must be the final gradient. */
static void check_hook(const char *spec, int64_t batch, int ndim, const int64_t *shape, bool tokens, int64_t vocab,
                       int classes)
{
    eta_net *net = build(spec, "CrossEntropyLoss()", batch, ndim, shape);
    size_t in = (size_t)batch, ng;
    for (int d = 0; d < ndim; d++)
        in *= (size_t)shape[d];
    float *x = malloc(in * sizeof *x);
    int32_t *ix = malloc(in * sizeof *ix), *y = malloc((size_t)batch * sizeof *y);
    for (size_t i = 0; i < in; i++) {
        x[i] = (float)sin(0.37 * (double)i);
        ix[i] = (int32_t)((i * 7 + 3) % (size_t)vocab);
    }
    for (int64_t i = 0; i < batch; i++)
        y[i] = (int32_t)(i % classes);
    const float *g = eta_net_grads(net, &ng);
    shadow s = {g, malloc(ng * sizeof(float)), ng, 0, true};
    assert_int_equal(eta_net_set_grad_hook(net, on_final, &s), ETA_OK);
    for (int pass = 0; pass < 2; pass++) {
        memset(s.copy, 0xff, ng * sizeof(float));
        s.told = ng;
        s.calls = 0;
        double loss;
        assert_int_equal(eta_net_forward(net, tokens ? (const void *)ix : (const void *)x, y, &loss), ETA_OK);
        assert_int_equal(eta_net_backward(net), ETA_OK);
        assert_true(s.decreasing);
        assert_int_equal(s.told, 0);
        assert_true(s.calls >= 2); /* a network of several layers finishes in several pieces */
        assert_memory_equal(s.copy, g, ng * sizeof(float));
    }
    assert_int_equal(eta_net_set_grad_hook(net, NULL, NULL), ETA_OK);
    free(s.copy);
    free(x);
    free(ix);
    free(y);
    eta_net_free(net);
}

static void test_hook_mlp(void **state)
{
    (void)state;
    check_hook("Sequential(Linear(20, 16), ReLU(), Linear(16, 8), ReLU(), Linear(8, 3))", 5, 1, (int64_t[]){20},
               false, 1, 3);
}

static void test_hook_cnn(void **state)
{
    (void)state;
    check_hook("Sequential(Conv2d(1, 4, 3, padding=1), BatchNorm2d(4), ReLU(), MaxPool2d(2), Flatten(), "
               "Linear(64, 5))",
               3, 3, (int64_t[]){1, 8, 8}, false, 1, 5);
}

static void test_hook_transformer(void **state)
{
    (void)state;
    check_hook("Sequential(Embedding(30, 16), PositionalEmbedding(6, 16), TransformerBlock(16, 2, dropout=0.1), "
               "MeanPool(), Linear(16, 2))",
               4, 1, (int64_t[]){6}, true, 30, 2);
}

static void test_hook_lstm(void **state)
{
    (void)state;
    check_hook("Sequential(Embedding(12, 8), LSTM(8, 10), MeanPool(), Linear(10, 4))", 3, 1, (int64_t[]){5}, true,
               12, 4);
}

static void test_reseed_and_count(void **state)
{
    (void)state;
    eta_net *net = build("Sequential(Linear(16, 32), Dropout(0.5), Linear(32, 3))", "CrossEntropyLoss()", 8, 1,
                         (int64_t[]){16});
    float x[8 * 16];
    int32_t y[8];
    for (int i = 0; i < 8 * 16; i++)
        x[i] = (float)cos(0.1 * i);
    for (int i = 0; i < 8; i++)
        y[i] = i % 3;
    double a, b, c;
    eta_net_reseed(net, 42);
    assert_int_equal(eta_net_forward(net, x, y, &a), ETA_OK);
    eta_net_reseed(net, 42);
    assert_int_equal(eta_net_forward(net, x, y, &b), ETA_OK);
    eta_net_reseed(net, 43);
    assert_int_equal(eta_net_forward(net, x, y, &c), ETA_OK);
    assert_true(a == b);
    assert_true(a != c);
    assert_int_equal(eta_net_forward_count(net), 3);
    eta_net_set_forward_count(net, 17);
    assert_int_equal(eta_net_forward(net, x, y, &a), ETA_OK);
    assert_int_equal(eta_net_forward_count(net), 18);
    eta_net_free(net);
}

static void test_shard_owner(void **state)
{
    (void)state;
    for (int size = 1; size <= 9; size++)
        for (int shards = 1; shards <= 9; shards++) {
            int count[9] = {0};
            for (int s = 0; s < shards; s++) {
                int r = eta_shard_owner(s, shards, size);
                assert_true(r >= 0 && r < size);
                /* rank r owns [r*S/size, (r+1)*S/size) */
                assert_true((int64_t)r * shards / size <= s && s < (int64_t)(r + 1) * shards / size);
                if (s > 0)
                    assert_true(r >= eta_shard_owner(s - 1, shards, size));
                count[r]++;
            }
            for (int r = 0; r < size; r++)
                assert_int_equal(count[r], (int)((int64_t)(r + 1) * shards / size - (int64_t)r * shards / size));
        }
    assert_int_equal(eta_shard_owner(3, 4, 2), 1);
    assert_int_equal(eta_shard_owner(1, 4, 2), 0);
    assert_int_equal(eta_shard_owner(2, 3, 4), 3); /* 4 processes, 3 shards: rank 0 idle */
}

static void test_shard_sum(void **state)
{
    (void)state;
    const float a[3] = {1, 2, 4}, b[3] = {8, 16, 32}, c[3] = {100, 200, 300};
    const float *parts[3] = {a, b, c};
    float out[3];
    /* rows 1, 3, 0: weights 0.25 and 0.75, the empty shard skipped */
    eta_shard_sum(out, parts, (int64_t[]){1, 3, 0}, 3, 3);
    assert_true(out[0] == 0.25f * 1 + 0.75f * 8);
    assert_true(out[1] == 0.25f * 2 + 0.75f * 16);
    assert_true(out[2] == 0.25f * 4 + 0.75f * 32);
    /* one shard of all rows: the gradient itself */
    eta_shard_sum(out, parts + 2, (int64_t[]){5}, 1, 3);
    assert_memory_equal(out, c, sizeof c);
    /* equal shards: the mean, in shard order */
    eta_shard_sum(out, parts, (int64_t[]){2, 2, 2}, 3, 3);
    const float w = (float)(2.0 / 6.0);
    assert_true(out[0] == (w * 1 + w * 8) + w * 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_mlp),         cmocka_unit_test(test_hook_cnn),
        cmocka_unit_test(test_hook_transformer), cmocka_unit_test(test_hook_lstm),
        cmocka_unit_test(test_reseed_and_count), cmocka_unit_test(test_shard_owner),
        cmocka_unit_test(test_shard_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
