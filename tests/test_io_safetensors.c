/* tests/test_io_safetensors.c - labels: unit full
 *
 * Safetensors files and the network's state (nn/safetensors*.c, nn/state.c),
 * without torch (test_io_torch.c has torch's side):
 *  - a round trip restores every parameter and buffer bit for bit and the
 *    BatchNorm count; the bytes follow the format (header length a multiple
 *    of 8, "__metadata__" first, offsets contiguous in state_dict order,
 *    num_batches_tracked an I64 scalar) and are the same every time;
 *  - a NaN or Inf is never written (nor is the file);
 *  - F16, BF16 and exactly-float32 F64 values load exactly; other F64
 *    values, integer dtypes and NaN (unless allowed) are refused;
 *  - hand-made headers with each kind of error (JSON syntax, strings,
 *    numbers, keys, offsets, lengths) are refused with a message giving the
 *    byte offset; every truncation of a saved file and every changed byte of
 *    its header is refused or, where the change is harmless (padding),
 *    loads the same values; a changed data byte changes one value at most;
 *  - on every error the network is unchanged;
 *  - the network state (dropout streams, mode, count) restores the next
 *    dropout mask exactly and refuses damaged bytes and other networks.
 */
#include "harness.h"

#include <eta/eta.h>

#define BN_NET "Sequential(Linear(3, 4), BatchNorm1d(4), ReLU(), Linear(4, 2))"
#define TINY "Sequential(Linear(2, 2))"

static eta_net *make(const char *spec, int ndim, const int64_t *shape, uint64_t seed)
{
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, spec, &err) || eta_net_prepare(net, 4, ndim, shape, &err))
        fail_msg("%s: %s", spec, err.msg);
    eta_net_init(net, seed);
    return net;
}

/* A BN_NET whose running statistics moved: three train-mode passes. */
static eta_net *trained_bn(uint64_t seed)
{
    eta_net *net = make(BN_NET, 1, (int64_t[]){3}, seed);
    float x[12];
    for (int s = 0; s < 3; s++) {
        for (int i = 0; i < 12; i++)
            x[i] = (float)(0.25 * (i % 5) - 0.3 * s + 0.1 * (i % 3));
        assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    }
    return net;
}

static float *copy_params(eta_net *net, size_t *n)
{
    float *p = eta_net_params(net, n), *c = malloc(*n * sizeof *c);
    memcpy(c, p, *n * sizeof *c);
    return c;
}

static void expect_unchanged(eta_net *net, const float *before, size_t n)
{
    size_t m;
    float *p = eta_net_params(net, &m);
    assert_int_equal(m, n);
    assert_memory_equal(p, before, n * sizeof *p);
}

static uint64_t u64le(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void test_roundtrip(void **state)
{
    (void)state;
    eta_net *a = trained_bn(1), *b = make(BN_NET, 1, (int64_t[]){3}, 2);
    eta_err err;
    void *buf, *buf2;
    size_t len, len2;
    if (eta_net_safetensors_bytes(a, &buf, &len, &err))
        fail_msg("%s", err.msg);
    const unsigned char *u = buf;
    uint64_t N = u64le(u);
    assert_int_equal(N % 8, 0);
    assert_true(8 + N <= len);
    char *json = strndup((const char *)u + 8, N);
    const char *want =
        "{\"__metadata__\":{\"format\":\"pt\"},\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4,3],\"data_offsets\":[0,"
        "48]},\"0.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[48,64]},\"1.weight\":{\"dtype\":\"F32\","
        "\"shape\":[4],\"data_offsets\":[64,80]},\"1.bias\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[80,96]},"
        "\"1.running_mean\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[96,112]},\"1.running_var\":{\"dtype\":"
        "\"F32\",\"shape\":[4],\"data_offsets\":[112,128]},\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
        "\"data_offsets\":[128,136]},\"3.weight\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[136,168]},"
        "\"3.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[168,176]}}";
    assert_memory_equal(json, want, strlen(want));
    for (size_t i = strlen(want); i < N; i++) /* padding: spaces */
        assert_int_equal(json[i], ' ');
    assert_int_equal(len, 8 + N + 176);
    assert_int_equal(u64le(u + 8 + N + 128), 3); /* three train-mode passes */
    size_t n;
    const float *pa = eta_net_params(a, &n);
    float f;
    memcpy(&f, u + 8 + N, 4); /* 0.weight[0], little-endian on this host */
    assert_true(f == pa[0]);
    /* the same bytes again, and through a file */
    assert_int_equal(eta_net_safetensors_bytes(a, &buf2, &len2, &err), ETA_OK);
    assert_int_equal(len2, len);
    assert_memory_equal(buf2, buf, len);
    free(buf2);
    char path[] = "/tmp/eta_io_st_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(eta_net_save_safetensors(a, path, &err), ETA_OK);
    size_t flen;
    char *file = read_file(path, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(file, buf, len);
    /* load: every parameter and buffer, and the count */
    if (eta_net_load_safetensors(b, path, &err))
        fail_msg("%s", err.msg);
    const float *pb = eta_net_params(b, &n);
    assert_memory_equal(pa, pb, n * sizeof *pa);
    eta_net_free(b);
    b = make(BN_NET, 1, (int64_t[]){3}, 2);
    assert_int_equal(eta_net_load_safetensors_bytes(b, buf, len, NULL, 0, &err), ETA_OK);
    assert_int_equal(eta_net_safetensors_bytes(b, &buf2, &len2, &err), ETA_OK);
    assert_memory_equal(buf2, buf, len); /* the count came along */
    free(buf2);
    remove(path);
    free(file);
    free(json);
    free(buf);
    eta_net_free(a);
    eta_net_free(b);
}

static void test_save_refuses_nonfinite(void **state)
{
    (void)state;
    eta_net *net = trained_bn(1);
    char path[] = "/tmp/eta_io_st_XXXXXX";
    close(mkstemp(path));
    remove(path);
    size_t n;
    float *p = eta_net_params(net, &n);
    eta_err err;
    p[34] = NAN; /* 3.weight[2]: 0.weight 12 floats, then 4 each for 0.bias, 1.weight, 1.bias and the stats */
    assert_int_equal(eta_net_save_safetensors(net, path, &err), ETA_ENONFINITE);
    if (!strstr(err.msg, "tensor '3.weight' element 2 is nan"))
        fail_msg("%s", err.msg);
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    p[34] = 0;
    p[30] = -INFINITY;
    void *buf;
    size_t len;
    assert_int_equal(eta_net_safetensors_bytes(net, &buf, &len, &err), ETA_ENONFINITE);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "'1.running_var' element 2 is -inf"));
    eta_net_free(net);
    /* before prepare */
    eta_net *raw;
    assert_int_equal(eta_net_new(&raw, TINY, &err), ETA_OK);
    assert_int_equal(eta_net_safetensors_bytes(raw, &buf, &len, &err), ETA_ESTATE);
    assert_int_equal(eta_net_load_safetensors_bytes(raw, "", 0, NULL, 0, &err), ETA_ESTATE);
    assert_non_null(strstr(err.msg, "eta_net_prepare"));
    eta_net_free(raw);
}

/* A safetensors file made of `json` and `dlen` data bytes. */
static unsigned char *craft(const char *json, const void *data, size_t dlen, size_t *len)
{
    size_t N = strlen(json);
    unsigned char *b = malloc(8 + N + dlen + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)N >> (8 * i));
    memcpy(b + 8, json, N);
    if (dlen)
        memcpy(b + 8 + N, data, dlen);
    *len = 8 + N + dlen;
    return b;
}

/* TINY's tensors: 0.weight [2, 2] and 0.bias [2], with dtypes and offsets. */
static char *tiny_json(const char *wdtype, const char *bdtype, int wbytes, int bbytes)
{
    static char json[512];
    snprintf(json, sizeof json,
             "{\"0.weight\": {\"dtype\": \"%s\", \"shape\": [2, 2], \"data_offsets\": [0, %d]},\n"
             " \"0.bias\": {\"dtype\": \"%s\", \"shape\": [2], \"data_offsets\": [%d, %d]}}",
             wdtype, wbytes, bdtype, wbytes, wbytes + bbytes);
    return json;
}

/* Loads b into a fresh TINY; returns the code, the values in out[6]. */
static int load_tiny(const unsigned char *b, size_t len, unsigned flags, float *out, eta_err *err)
{
    eta_net *net = make(TINY, 1, (int64_t[]){2}, 5);
    size_t n;
    float *before = copy_params(net, &n);
    int rc = eta_net_load_safetensors_bytes(net, b, len, "t.safetensors", flags, err);
    if (rc)
        expect_unchanged(net, before, n);
    else if (out)
        memcpy(out, eta_net_params(net, NULL), 6 * sizeof *out);
    free(before);
    eta_net_free(net);
    return rc;
}

static void test_dtypes(void **state)
{
    (void)state;
    eta_err err;
    float got[6];
    size_t len;
    /* F16: 1, -2, 0.5, 65504 (largest), a subnormal 2^-24, -0 */
    const uint16_t h[6] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x8000};
    unsigned char *b = craft(tiny_json("F16", "F16", 8, 4), h, 12, &len);
    if (load_tiny(b, len, 0, got, &err))
        fail_msg("%s", err.msg);
    const float want16[6] = {1, -2, 0.5f, 65504, 0x1p-24f, -0.0f};
    assert_memory_equal(got, want16, sizeof got);
    free(b);
    /* BF16 for the weight, F32 for the bias */
    const uint16_t bf[4] = {0x3f80, 0xbfc0, 0x4049, 0x0001};
    unsigned char data[64];
    memcpy(data, bf, 8);
    const float bias[2] = {0.25f, -7};
    memcpy(data + 8, bias, 8);
    b = craft(tiny_json("BF16", "F32", 8, 8), data, 16, &len);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_OK);
    const float wantbf[6] = {1, -1.5f, 3.140625f, 0x1p-133f, 0.25f, -7};
    assert_memory_equal(got, wantbf, sizeof got);
    free(b);
    /* F64: exact float32 values load; 0.1 is refused naming the element */
    double d[6] = {1.5, -0.75, 0x1.fffffep127, 0x1p-149, 2, 0.1};
    b = craft(tiny_json("F64", "F64", 32, 16), d, 48, &len);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_EINVAL);
    if (!strstr(err.msg, "t.safetensors: tensor '0.bias' element 1: the F64 value 0.10000000000000001 is not exactly "
                         "a float32"))
        fail_msg("%s", err.msg);
    d[5] = 0.125;
    memcpy(b + len - 48, d, 48);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_OK);
    assert_true(got[2] == 0x1.fffffep127f && got[3] == 0x1p-149f && got[5] == 0.125f);
    d[2] = 1e39; /* beyond float32 */
    memcpy(b + len - 48, d, 48);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "'0.weight' element 2"));
    free(b);
    /* integers are not parameters */
    b = craft(tiny_json("I32", "F32", 16, 8), data, 24, &len);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "tensor '0.weight' has dtype I32; eta reads F32"));
    free(b);
    /* NaN and Inf: refused unless allowed */
    float f[6] = {1, 2, NAN, 4, 5, INFINITY};
    b = craft(tiny_json("F32", "F32", 16, 8), f, 24, &len);
    assert_int_equal(load_tiny(b, len, 0, got, &err), ETA_ENONFINITE);
    assert_non_null(strstr(err.msg, "tensor '0.weight' element 2 is nan (ETA_LOAD_ALLOW_NONFINITE accepts it)"));
    assert_int_equal(load_tiny(b, len, ETA_LOAD_ALLOW_NONFINITE, got, &err), ETA_OK);
    assert_true(isnan(got[2]) && isinf(got[5]));
    free(b);
}

/* A crafted TINY file with `json`: refused with ETA_EFORMAT or ETA_EINVAL
 * (code) and a message holding `part`. */
static void expect_bad(const char *json, size_t dlen, int code, const char *part)
{
    unsigned char zero[64] = {0};
    size_t len;
    unsigned char *b = craft(json, zero, dlen, &len);
    eta_err err;
    int rc = load_tiny(b, len, 0, NULL, &err);
    if (rc != code || !strstr(err.msg, part) || strncmp(err.msg, "t.safetensors: ", 15))
        fail_msg("%s\n  -> %d '%s', want %d with '%s'", json, rc, err.msg, code, part);
    free(b);
}

#define W "\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}"
#define B "\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}"

static void test_bad_headers(void **state)
{
    (void)state;
    const int F = ETA_EFORMAT, I = ETA_EINVAL;
    /* the reference: valid */
    unsigned char zero[24] = {0};
    size_t len;
    unsigned char *b = craft("{" W "," B ",\"__metadata__\":{\"k\":\"v\\u00e9\"}}  \n", zero, 24, &len);
    eta_err err;
    if (load_tiny(b, len, 0, NULL, &err))
        fail_msg("%s", err.msg);
    free(b);
    /* escaped names are the same names */
    b = craft("{\"\\u0030.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", zero, 24, &len);
    assert_int_equal(load_tiny(b, len, 0, NULL, &err), ETA_OK);
    free(b);
    expect_bad(" {" W "," B "}", 24, F, "header, offset 8: the header does not start with '{'");
    expect_bad("{" W "," B ",}", 24, F, "offset 132: expected a string");
    expect_bad("{" W "," B "} x", 24, F, "offset 133: more after the header's object");
    expect_bad("{" W " " B "}", 24, F, "offset 72: expected ',' or '}' after a tensor, found '\"'");
    expect_bad("{" W "," B, 24, F, "offset 131: expected ',' or '}' after a tensor, found the end of the header");
    expect_bad("{" W "," W "}", 24, F, "offset 72: tensor '0.weight' given twice");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,016]}," B "}", 24, F,
               "offset 67: data_offsets has a leading zero");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 46: shape must not be negative");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2.0],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 46: shape must be an integer, without fraction or exponent");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,1e1]}," B "}", 24, F,
               "data_offsets must be an integer, without fraction or exponent");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,99999999999999999999],\"data_offsets\":[0,16]}," B "}",
               24, F, "shape does not fit in 64 bits");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,16]}," B "}",
               24, F, "tensor '0.weight': its shape's size does not fit in 64 bits");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0]}," B "}", 24, F,
               "tensor '0.weight': data_offsets must be [begin, end]");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2]}," B "}", 24, F,
               "offset 9: tensor '0.weight' has no data_offsets");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16],\"extra\":1}," B "}", 24, F,
               "tensor '0.weight': unexpected key 'extra'");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24,
               F, "key 'dtype' given twice");
    expect_bad("{\"0.weight\":{\"dtype\":\"F17\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 29: tensor '0.weight': unknown dtype 'F17'");
    expect_bad("{\"0.we\\ight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 14: an unknown escape in a string");
    expect_bad("{\"0.w\\ud800ght\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 13: a UTF-16 high surrogate \\ud800 without its low half");
    expect_bad("{\"0.w\\udc00ght\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "a lone UTF-16 low surrogate");
    expect_bad("{\"0.w\\u0000\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "a tensor name with a NUL character");
    expect_bad("{\"0.w\xc3\x28\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 13: the header is not valid UTF-8");
    expect_bad("{\"0.w\xc0\xaf\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "not valid UTF-8"); /* overlong '/' */
    expect_bad("{\"0.w\teight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," B "}", 24, F,
               "offset 13: a control character (0x09) inside a string");
    expect_bad("{" W "," B ",\"__metadata__\":{\"k\":1}}", 24, F, "__metadata__ values must be strings");
    expect_bad("{" W "," B ",\"__metadata__\":{},\"__metadata__\":{}}", 24, F, "__metadata__ given twice");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,12]}," B "}", 24, F,
               "tensor '0.weight': data_offsets [0, 12] hold 12 bytes, its dtype F32 and shape need 16");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,0]}," B "}", 24, F,
               "data_offsets [16, 0] hold -16 bytes");
    expect_bad("{" W ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[20,28]}}", 28, F,
               "tensor '0.bias': data_offsets [20, 28] leave 4 bytes unused before it");
    expect_bad("{" W ",\"0.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 24, F,
               "tensor '0.bias': data_offsets [8, 16] overlap tensor '0.weight' [0, 16]");
    expect_bad("{" W "," B "}", 20, F, "truncated: the tensors need 24 bytes after the header (from offset 132), the "
                                       "file has 20");
    expect_bad("{" W "," B "}", 30, F, "6 bytes after the last tensor's data (offset 156)");
    /* valid files that do not fit the network */
    expect_bad("{" W "}", 16, I, "does not fit the network: missing tensors (1): \"0.bias\"");
    expect_bad("{" W "," B ",\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]}}", 32,
               I, "unexpected tensors (1): \"1.num_batches_tracked\"");
    expect_bad("{\"0.weight\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}," B "}", 24, I,
               "size mismatch for 0.weight: the file has shape [4], the network [2, 2]");
    /* the length prefix */
    unsigned char tiny[12] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' '};
    assert_int_equal(load_tiny(tiny, 5, 0, NULL, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated: 5 bytes, a safetensors file starts with an 8-byte header length"));
    assert_int_equal(load_tiny(tiny, 12, 0, NULL, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated: header length 200 (offset 0), but only 4 bytes follow"));
    tiny[3] = 1; /* 2^24 + 200 */
    tiny[4] = 1;
    assert_int_equal(load_tiny(tiny, 12, 0, NULL, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "above the format's limit"));
}

/* The num_batches_tracked of a BatchNorm: optional, I64 scalar >= 0. */
static void test_batch_count(void **state)
{
    (void)state;
    eta_net *a = trained_bn(1);
    eta_err err;
    unsigned char *buf;
    size_t len;
    assert_int_equal(eta_net_safetensors_bytes(a, (void **)&buf, &len, &err), ETA_OK);
    size_t N = (size_t)u64le(buf);
    unsigned char *count = buf + 8 + N + 128;
    eta_net *b = make(BN_NET, 1, (int64_t[]){3}, 2);
    count[7] = 0x80; /* negative */
    assert_int_equal(eta_net_load_safetensors_bytes(b, buf, len, "m", 0, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "m: tensor '1.num_batches_tracked' is -9223372036854775805, a count must be >= 0"));
    count[7] = 0;
    char *dt = strstr((char *)buf + 8, "\"I64\"");
    memcpy(dt, "\"U64\"", 5);
    assert_int_equal(eta_net_load_safetensors_bytes(b, buf, len, "m", 0, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "tensor '1.num_batches_tracked' must be an I64 scalar (shape [])"));
    free(buf);
    eta_net_free(a);
    eta_net_free(b);
}

/* Every truncation, every changed byte of a saved file. */
static void test_corruption(void **state)
{
    (void)state;
    eta_net *a = trained_bn(1);
    eta_err err;
    unsigned char *buf;
    size_t len, n;
    assert_int_equal(eta_net_safetensors_bytes(a, (void **)&buf, &len, &err), ETA_OK);
    size_t N = (size_t)u64le(buf);
    eta_net *b = make(BN_NET, 1, (int64_t[]){3}, 2);
    float *before = copy_params(b, &n), *good = copy_params(a, &n);
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *t = malloc(cut + 1);
        memcpy(t, buf, cut);
        int rc = eta_net_load_safetensors_bytes(b, t, cut, "m", 0, &err);
        if (rc != ETA_EFORMAT)
            fail_msg("cut at %zu: %d %s", cut, rc, err.msg);
        expect_unchanged(b, before, n);
        free(t);
    }
    static const unsigned char masks[] = {0x01, 0x20, 0x80, 0xff};
    int refused = 0, same = 0, one = 0;
    for (size_t i = 0; i < len; i++)
        for (int m = 0; m < 4; m++) {
            buf[i] ^= masks[m];
            int rc = eta_net_load_safetensors_bytes(b, buf, len, "m", 0, &err);
            float *p = eta_net_params(b, NULL);
            if (rc) {
                assert_true(rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENONFINITE);
                assert_non_null(strstr(err.msg, "m: "));
                expect_unchanged(b, before, n);
                refused++;
            } else if (i < 8 + N) { /* a header change that loads must change nothing */
                if (memcmp(p, good, n * sizeof *p))
                    fail_msg("byte %zu ^ 0x%02x of the header loads other values", i, masks[m]);
                same++;
            } else { /* a data byte: at most its value changes */
                size_t diff = 0;
                for (size_t k = 0; k < n; k++)
                    diff += memcmp(&p[k], &good[k], 4) != 0;
                assert_true(diff <= 1);
                one++;
            }
            memcpy(p, before, n * sizeof *p);
            buf[i] ^= masks[m];
        }
    print_message("%zu bytes x 4 changes: %d refused, %d header changes harmless, %d data changes loaded\n", len,
                  refused, same, one);
    assert_true(same < 40); /* only spaces of the padding and around tokens */
    free(before);
    free(good);
    free(buf);
    eta_net_free(a);
    eta_net_free(b);
}

/* ---- the network's state ------------------------------------------------ */

#define DROP "Sequential(Linear(6, 8), Dropout(0.5), TransformerBlock(8, 2, dropout=0.3), MeanPool(), Linear(8, 2))"

static void test_net_state(void **state)
{
    (void)state;
    const int64_t shape[2] = {3, 6};
    eta_net *net = make(DROP, 2, shape, 7);
    float x[72];
    for (int i = 0; i < 72; i++)
        x[i] = (float)((i % 7) - 3) * 0.25f;
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK); /* streams advance */
    void *st;
    size_t len;
    assert_int_equal(eta_net_save_state(net, &st, &len), ETA_OK);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    float y1[8], y2[8];
    memcpy(y1, eta_net_output(net, NULL, NULL), sizeof y1);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK);
    memcpy(y2, eta_net_output(net, NULL, NULL), sizeof y2);
    assert_true(memcmp(y1, y2, sizeof y1) != 0); /* other masks */
    eta_net_train(net, false);
    eta_err err;
    if (eta_net_load_state(net, st, len, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(eta_net_forward(net, x, NULL, NULL), ETA_OK); /* train mode is back, and the masks */
    assert_memory_equal(eta_net_output(net, NULL, NULL), y1, sizeof y1);
    /* a fresh copy with the same parameters continues the same way */
    eta_net *twin = make(DROP, 2, shape, 99);
    size_t n;
    float *tw = eta_net_params(twin, &n);
    memcpy(tw, eta_net_params(net, NULL), n * sizeof(float));
    assert_int_equal(eta_net_load_state(twin, st, len, &err), ETA_OK);
    assert_int_equal(eta_net_forward(twin, x, NULL, NULL), ETA_OK);
    assert_memory_equal(eta_net_output(twin, NULL, NULL), y1, sizeof y1);
    /* the loss op does not count: state loads into the network with a loss */
    assert_int_equal(eta_net_set_loss(twin, "CrossEntropyLoss()", &err), ETA_OK);
    assert_int_equal(eta_net_load_state(twin, st, len, &err), ETA_OK);
    /* every changed byte and every truncation refused, the stream unchanged */
    void *now;
    size_t nlen;
    assert_int_equal(eta_net_save_state(twin, &now, &nlen), ETA_OK);
    unsigned char *b = st;
    for (size_t i = 0; i <= len; i++) {
        if (i < len)
            b[i] ^= 0x10;
        int rc = eta_net_load_state(twin, b, i < len ? len : len - 1, &err);
        assert_true(rc == ETA_EFORMAT || rc == ETA_EINVAL);
        assert_non_null(strstr(err.msg, "net state: "));
        void *after;
        size_t alen;
        assert_int_equal(eta_net_save_state(twin, &after, &alen), ETA_OK);
        assert_memory_equal(after, now, nlen);
        free(after);
        if (i < len)
            b[i] ^= 0x10;
    }
    free(now);
    /* another network's state */
    eta_net *other = make("Sequential(Linear(6, 8), Dropout(0.5), Linear(8, 2))", 2, shape, 1);
    assert_int_equal(eta_net_load_state(other, st, len, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "saved from another network"));
    assert_int_equal(eta_net_load_state(other, "ETANETST", 8, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
    free(st);
    eta_net_free(other);
    eta_net_free(twin);
    eta_net_free(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),     cmocka_unit_test(test_save_refuses_nonfinite),
        cmocka_unit_test(test_dtypes),        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_batch_count),   cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_net_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
