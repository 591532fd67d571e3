/* tests/test_nn_errors.c - labels: unit full
 *
 * Bad input to the nn layer is a located error, never a crash: a spec that
 * builds no network (a bad or missing argument, an unsupported option) fails
 * in eta_net_new with ETA_EINVAL, a message naming the argument and err.pos
 * pointing at the culprit in the text; a network whose shapes do not fit
 * fails in eta_net_prepare with a message naming the layer (index, kind,
 * module path) and both shapes. Per family: convolution, pooling and
 * normalisation; sequence modules. (Dense layers: test_nn_dense.c; the
 * spec parser itself: test_core_spec.c and tests/fuzz.)
 */
#include "harness.h"

#include <eta/eta.h>

/* eta_net_new(spec) fails, its message contains `part` and, when `at` is
 * given, err.pos is where `at` starts in spec. */
static void expect_build_error(const char *spec, const char *part, const char *at)
{
    eta_net *net = NULL;
    eta_err err;
    int rc = eta_net_new(&net, spec, &err);
    if (rc != ETA_EINVAL)
        fail_msg("%s: expected ETA_EINVAL, got %d", spec, rc);
    assert_null(net);
    if (!strstr(err.msg, part))
        fail_msg("%s: message '%s' lacks '%s'", spec, err.msg, part);
    if (at) { /* the error points at the culprit */
        const char *p = strstr(spec, at);
        if (err.pos != (int)(p - spec))
            fail_msg("%s: error at %d, want %d ('%s')", spec, err.pos, (int)(p - spec), at);
    }
}

/* eta_net_prepare at batch 2 fails with every part in its message. */
static void expect_prepare_error(const char *spec, int ndim, const int64_t *shape, const char *const *parts)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err))
        fail_msg("%s: %s", spec, err.msg);
    int rc = eta_net_prepare(net, 2, ndim, shape, &err);
    assert_int_equal(rc, ETA_EINVAL);
    for (int i = 0; parts[i]; i++)
        if (!strstr(err.msg, parts[i]))
            fail_msg("%s: message '%s' lacks '%s'", spec, err.msg, parts[i]);
    eta_net_free(net);
}

/* ---- convolution, pooling, normalisation ---- */

static void test_bad_args_conv(void **state)
{
    (void)state;
    expect_build_error("Conv2d(3, 4, 0)", "kernel_size must be in [1, ", "0)");
    expect_build_error("Conv2d(3, 4, (3, 0))", "kernel_size must be", "0))");
    expect_build_error("Conv2d(3, 4, (3, 3, 3))", "kernel_size must be an int or a pair", "(3, 3, 3)");
    expect_build_error("Conv2d(3, 4, 2.5)", "kernel_size must be an integer", "2.5");
    expect_build_error("Conv2d(3, 4)", "kernel_size", NULL);
    expect_build_error("Conv2d(3, 4, 3, groups=2)", "groups=2 is not supported", "2)");
    expect_build_error("Conv2d(3, 4, 3, dilation=2)", "dilation (2, 2) is not supported", "2)");
    expect_build_error("Conv2d(3, 4, 3, padding_mode='reflect')", "padding_mode 'reflect' is not supported",
                       "'reflect'");
    expect_build_error("Conv2d(3, 4, 3, padding_mode='mirror')", "padding_mode must be one of", NULL);
    expect_build_error("Conv2d(3, 4, 3, stride=0)", "stride must be in [1, ", "0)");
    expect_build_error("Conv2d(3, 4, 3, padding=-1)", "padding must be in [0, ", "-1");
    expect_build_error("Conv2d(3, 4, 3, padding='full')", "padding must be 'valid', 'same'", "'full'");
    expect_build_error("Conv2d(3, 4, 3, stride=2, padding='same')", "padding='same' needs stride 1", "'same'");
    expect_build_error("Conv2d(3, 4, 2, padding='same')", "even kernel_size", "'same'");
    expect_build_error("Conv2d(0, 4, 3)", "in_channels must be", "0,");
    expect_build_error("MaxPool2d(0)", "kernel_size must be in [1, ", "0)");
    expect_build_error("MaxPool2d(2, padding=2)", "padding (2, 2) must be at most half the kernel_size (2, 2)", "2)");
    expect_build_error("MaxPool2d(2, dilation=2)", "dilation (2, 2) is not supported", "2)");
    expect_build_error("MaxPool2d(2, ceil_mode=True)", "ceil_mode=True is not supported", "True");
    expect_build_error("MaxPool2d(2, return_indices=True)", "return_indices=True is not supported", "True");
    expect_build_error("AvgPool2d(3, padding=2)", "at most half", "2)");
    expect_build_error("AvgPool2d(2, ceil_mode=True)", "ceil_mode=True is not supported", "True");
    expect_build_error("AvgPool2d(2, divisor_override=0)", "divisor_override must be in [1, ", "0)");
    expect_build_error("AdaptiveAvgPool2d(0)", "output_size must be in [1, ", "0)");
    expect_build_error("AdaptiveAvgPool2d((None, 2))", "None", "None");
    expect_build_error("BatchNorm2d(0)", "num_features must be", "0)");
    expect_build_error("BatchNorm2d(3, momentum=None)", "momentum", "None");
    expect_build_error("BatchNorm1d(3, eps=-1)", "eps must be", "-1");

    /* accepted spellings */
    const char *ok[] = {("Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=0, dilation=(1, 1), groups=1, "
                         "bias=True, padding_mode='zeros', device='cpu')"),
                        "Conv2d(3, 4, 3, padding='valid')", "MaxPool2d(kernel_size=2, stride=None, padding=0)",
                        "AvgPool2d(2, divisor_override=None)", "AdaptiveAvgPool2d(output_size=(1, 1))",
                        "BatchNorm2d(3, eps=1e-3, momentum=0.01, affine=False, track_running_stats=False)"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        eta_net *net;
        eta_err err;
        if (eta_net_new(&net, ok[i], &err))
            fail_msg("%s: %s", ok[i], err.msg);
        eta_net_free(net);
    }
}

static void test_shape_errors_conv(void **state)
{
    (void)state;
    expect_prepare_error("Sequential(Conv2d(3, 4, 3), Conv2d(3, 4, 3))", 3, (int64_t[]){3, 7, 6},
                         (const char *const[]){"layer 1", "Conv2d", "[2, 4, 5, 4]", "[batch, 3, H, W]", NULL});
    expect_prepare_error("Sequential(Conv2d(3, 4, 3))", 3, (int64_t[]){2, 7, 6},
                         (const char *const[]){"layer 0", "Conv2d", "[2, 2, 7, 6]", "in_channels=3", NULL});
    expect_prepare_error("Sequential(Conv2d(3, 4, 3))", 2, (int64_t[]){3, 7},
                         (const char *const[]){"layer 0", "[2, 3, 7]", NULL});
    expect_prepare_error("Conv2d(1, 1, 5, padding=1)", 3, (int64_t[]){1, 2, 9},
                         (const char *const[]){"Conv2d", "smaller than the kernel 5 x 5", "4 x 11", NULL});
    expect_prepare_error("Sequential(ReLU(), MaxPool2d(4))", 3, (int64_t[]){1, 3, 9},
                         (const char *const[]){"layer 1", "MaxPool2d", "smaller than the kernel", NULL});
    expect_prepare_error("AvgPool2d(2)", 1, (int64_t[]){6},
                         (const char *const[]){"AvgPool2d", "[2, 6]", NULL});
    expect_prepare_error("BatchNorm2d(3)", 3, (int64_t[]){4, 5, 5},
                         (const char *const[]){"BatchNorm2d", "[batch, 3, H, W]", "[2, 4, 5, 5]", NULL});
    expect_prepare_error("BatchNorm1d(3)", 3, (int64_t[]){3, 5, 5},
                         (const char *const[]){"BatchNorm1d", "[2, 3, 5, 5]", NULL});
    expect_prepare_error("BatchNorm1d(3)", 1, (int64_t[]){4},
                         (const char *const[]){"BatchNorm1d", "num_features=3", "[2, 4]", NULL});
}

/* ---- sequence modules ---- */

static void test_bad_args_seq(void **state)
{
    (void)state;
    expect_build_error("Sequential(TransformerBlock(10, 3))", "embed_dim must be divisible by num_heads", "3)");
    expect_build_error("MultiheadSelfAttention(8, 3, causal=True)", "embed_dim must be divisible by num_heads", "3,");
    expect_build_error("TransformerBlock(8, 0)", "n_head must be in [1,", NULL);
    expect_build_error("TransformerBlock(8, 2, dropout=1.0)", "dropout must be", NULL);
    expect_build_error("TransformerBlock(8, 2, mlp_ratio=0.01)", "mlp_ratio * d_model must be >= 1", "0.01");
    expect_build_error("TransformerBlock(8, 2, causal=1.5)", "causal", NULL);
    expect_build_error("LayerNorm((4, 5))", "last dimension only", "(4, 5)");
    expect_build_error("LayerNorm(0)", "normalized_shape must be in [1,", NULL);
    expect_build_error("LayerNorm()", "missing required argument 'normalized_shape'", NULL);
    expect_build_error("Embedding(5)", "missing required argument 'embedding_dim'", NULL);
    expect_build_error("Embedding(5, 3, padding_idx=5)", "Padding_idx must be within num_embeddings", "5)");
    expect_build_error("Embedding(5, 3, padding_idx=-6)", "Padding_idx must be within num_embeddings", NULL);
    expect_build_error("Embedding(5, 3, padding_idx=1.5)", "padding_idx", NULL);
    expect_build_error("Embedding(5, 3, max_norm=1.0)", "max_norm is not supported", "1.0");
    expect_build_error("Embedding(5, 3, scale_grad_by_freq=True)", "scale_grad_by_freq is not supported", NULL);
    expect_build_error("PositionalEmbedding(0, 8)", "max_len must be in [1,", NULL);
    expect_build_error("MultiheadSelfAttention(8, 2, kdim=4)", "unexpected keyword argument 'kdim'", NULL);
    /* accepted */
    eta_net *net;
    assert_int_equal(eta_net_new(&net, "Embedding(5, 3, padding_idx=None, sparse=True)", NULL), 0);
    eta_net_free(net);
}

static void test_shape_errors_seq(void **state)
{
    (void)state;
    expect_prepare_error("Sequential(Embedding(11, 8), TransformerBlock(10, 2))", 1, (int64_t[]){5},
                         (const char *const[]){"layer 1 (LayerNorm 1.ln_1)", "got [2, 5, 8]", NULL});
    expect_prepare_error("Sequential(Embedding(11, 8), PositionalEmbedding(4, 8))", 1, (int64_t[]){5},
                         (const char *const[]){"layer 1 (PositionalEmbedding 1)", "sequence length 5 exceeds max_len 4", NULL});
    expect_prepare_error("Sequential(Linear(4, 8), PositionalEmbedding(4, 8))", 1, (int64_t[]){4},
                         (const char *const[]){"layer 1 (PositionalEmbedding 1)", "got [2, 8]", NULL});
    expect_prepare_error("Sequential(MultiheadSelfAttention(8, 2))", 1, (int64_t[]){8},
                         (const char *const[]){"layer 0 (MultiheadSelfAttention 0)", "got [2, 24]", NULL});
    expect_prepare_error("Sequential(Flatten(), MultiheadSelfAttention(6, 2))", 2, (int64_t[]){3, 6},
                         (const char *const[]){"layer 1 (Linear 1.qkv)", "got [2, 18]", NULL});
    expect_prepare_error("Sequential(LayerNorm(5))", 2, (int64_t[]){3, 6},
                         (const char *const[]){"layer 0 (LayerNorm 0)", "got [2, 3, 6]", NULL});
    expect_prepare_error("Sequential(Linear(4, 4), Embedding(3, 4))", 1, (int64_t[]){4},
                         (const char *const[]){"layer 1 (Embedding 1)", "must be the first layer", NULL});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_args_conv),
        cmocka_unit_test(test_shape_errors_conv),
        cmocka_unit_test(test_bad_args_seq),
        cmocka_unit_test(test_shape_errors_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
