/* tests/test_optim_average.c - weight averaging (eta_average: SWA and EMA as
 * torch.optim.swa_utils.AveragedModel does them) against the fixture
 * tools/gen_ref_average.py wrote with torch 1.13's AveragedModel (SWA) and a
 * line-by-line port of 2.x's get_ema_multi_avg_fn (EMA); the spec and its
 * errors; exact save and restore; swap; no allocation in an update.
 * labels: ref unit fault
 *
 * Bounds: the error of element i is |got - want| / max(|want|, 0.1 max|want|)
 * (test_optim_ref.c's measure), <= 1e-12 in float64, <= 1e-5 in float32.
 */
#include "harness.h"

#include <eta/eta.h>

#define MAXA 16
#define MAXN 64

typedef struct fx {
    char name[128];
    eta_dtype dtype;
    eta_average *avg;
    int narr;
    size_t n[MAXA];
    bool buffer[MAXA];
    double model[MAXA][MAXN];
    void *typed[MAXA];
    bool inited[MAXA];
    int steps, step, nmodel, naverage;
    bool counted;
    double worst;
} fx;

static void fx_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fail_msg("%s:%d: %s", file, line, msg);
}

/* Exactly n numbers and nothing after them. */
static void numbers(const char *file, int line, const char *s, double *out, size_t n)
{
    const char *rest;
    size_t got = read_doubles_rest(s, out, n, &rest);
    rest += strspn(rest, " ");
    if (got != n || *rest)
        fx_fail(file, line, "expected %zu numbers, got %zu%s", n, got, *rest ? " and more" : "");
}

static double fx_err(eta_dtype t, const void *got, const double *want, size_t n)
{
    double scale = 0, e = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double g = t == ETA_F32 ? (double)((const float *)got)[i] : ((const double *)got)[i];
        double d = fabs(g - want[i]), den = fmax(fabs(want[i]), 0.1 * scale);
        double ei = d == 0 ? 0 : den > 0 ? d / den : 1;
        if (isnan(g))
            ei = 1;
        e = fmax(e, ei);
    }
    return e;
}

static void close_case(fx *c, const char *file, int line)
{
    if (c->step != c->steps)
        fx_fail(file, line, "%s: %d steps, the case says %d", c->name, c->step, c->steps);
    double bound = c->dtype == ETA_F64 ? 1e-12 : 1e-5;
    print_message("  %-28s max rel err %.3g (bound %.0e)\n", c->name, c->worst, bound);
    if (!(c->worst <= bound))
        fail_msg("%s: max rel err %.3g > %.0e", c->name, c->worst, bound);
    eta_average_free(c->avg);
    for (int i = 0; i < c->narr; i++)
        free(c->typed[i]);
    memset(c, 0, sizeof *c);
}

static void test_fixture(void **state)
{
    (void)state;
    const char *file = ref_path("average.txt");
    char *text = read_file(file, NULL);
    if (!text)
        fail_msg("cannot read %s (run tools/gen_ref_average.py)", file);
    static fx c;
    memset(&c, 0, sizeof c);
    static double vals[MAXN];
    int line = 0, ncases = 0, ndefaults = 0;
    bool in_case = false;
    char *next = text;
    while (*next) {
        char *ln = next, *nl = strchr(ln, '\n');
        next = nl ? nl + 1 : ln + strlen(ln);
        if (nl)
            *nl = 0;
        line++;
        if (ln[0] == '#')
            continue;
        char *sp = strchr(ln, ' ');
        size_t klen = sp ? (size_t)(sp - ln) : strlen(ln);
        char *rest = sp ? sp + 1 : ln + klen;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(ln, k, klen))
        if (KEY("case")) {
            if (in_case)
                fx_fail(file, line, "case '%s' not closed", c.name);
            snprintf(c.name, sizeof c.name, "%s", rest);
            in_case = true;
            continue;
        }
        if (!in_case)
            fx_fail(file, line, "'%.20s' outside a case", ln);
        if (KEY("dtype")) {
            if (strcmp(rest, "f32") && strcmp(rest, "f64"))
                fx_fail(file, line, "dtype '%s'", rest);
            c.dtype = strcmp(rest, "f32") ? ETA_F64 : ETA_F32;
        } else if (KEY("spec")) {
            eta_average_config cfg;
            eta_err err;
            if (eta_average_config_from_spec(&cfg, rest, &err))
                fx_fail(file, line, "spec '%s': %s", rest, err.msg);
            cfg.dtype = c.dtype;
            cfg.threads = 1;
            if (eta_average_new(&c.avg, &cfg, &err))
                fx_fail(file, line, "%s", err.msg);
        } else if (KEY("note")) {
        } else if (KEY("array")) {
            int i;
            char kind[16], name[64];
            size_t n;
            if (sscanf(rest, "%d %15s %63s %zu", &i, kind, name, &n) != 4 || i != c.narr || i >= MAXA || n > MAXN ||
                n == 0 || (strcmp(kind, "param") && strcmp(kind, "buffer")))
                fx_fail(file, line, "bad array line '%s'", rest);
            c.n[i] = n;
            c.buffer[i] = !strcmp(kind, "buffer");
            c.narr++;
        } else if (KEY("init")) {
            int i = atoi(rest);
            if (i < 0 || i >= c.narr || c.inited[i] || !c.avg)
                fx_fail(file, line, "init %d out of order", i);
            numbers(file, line, strchr(rest, ' ') ? strchr(rest, ' ') + 1 : "", c.model[i], c.n[i]);
            c.typed[i] = calloc(c.n[i], 8);
            to_typed(c.dtype, c.typed[i], c.model[i], c.n[i]);
            if (eta_average_add(c.avg, c.typed[i], c.n[i], c.buffer[i]) != i)
                fx_fail(file, line, "add: %s", eta_average_error(c.avg));
            c.inited[i] = true;
        } else if (KEY("steps")) {
            c.steps = atoi(rest);
            for (int i = 0; i < c.narr; i++)
                if (!c.inited[i])
                    fx_fail(file, line, "array %d has no init", i);
            if (c.steps < 10 || c.narr == 0)
                fx_fail(file, line, "steps %d with %d arrays", c.steps, c.narr);
        } else if (KEY("step")) {
            if (c.step && (c.nmodel != c.narr || c.naverage != c.narr || !c.counted))
                fx_fail(file, line, "step %d incomplete", c.step);
            if (atoi(rest) != c.step + 1 || c.step + 1 > c.steps)
                fx_fail(file, line, "step %s after %d", rest, c.step);
            c.step++;
            c.nmodel = c.naverage = 0;
            c.counted = false;
        } else if (KEY("model")) {
            int i = atoi(rest);
            if (i != c.nmodel || c.step == 0)
                fx_fail(file, line, "model %d out of order", i);
            numbers(file, line, strchr(rest, ' ') + 1, c.model[i], c.n[i]);
            to_typed(c.dtype, c.typed[i], c.model[i], c.n[i]);
            c.nmodel++;
        } else if (KEY("count")) {
            if (c.nmodel != c.narr)
                fx_fail(file, line, "count before every model line");
            if (eta_average_update(c.avg))
                fx_fail(file, line, "update: %s", eta_average_error(c.avg));
            if (eta_average_count(c.avg) != atoll(rest))
                fx_fail(file, line, "count %lld, eta %lld", atoll(rest), (long long)eta_average_count(c.avg));
            c.counted = true;
        } else if (KEY("average")) {
            int i = atoi(rest);
            if (i != c.naverage || !c.counted)
                fx_fail(file, line, "average %d out of order", i);
            numbers(file, line, strchr(rest, ' ') + 1, vals, c.n[i]);
            size_t n;
            const void *got = eta_average_data(c.avg, i, &n);
            assert_int_equal(n, c.n[i]);
            c.worst = fmax(c.worst, fx_err(c.dtype, got, vals, n));
            c.naverage++;
        } else if (KEY("end")) {
            if (c.nmodel != c.narr || c.naverage != c.narr)
                fx_fail(file, line, "last step incomplete");
            if (strstr(c.name, "_defaults_"))
                ndefaults++;
            close_case(&c, file, line);
            ncases++;
            in_case = false;
        } else {
            fx_fail(file, line, "unknown key '%.*s'", (int)klen, ln);
        }
#undef KEY
    }
    if (in_case)
        fail_msg("%s: case '%s' not closed", file, c.name);
    free(text);
    assert_true(ncases >= 12);
    assert_int_equal(ndefaults, 4);
}

/* The spec: defaults, arguments, errors naming the argument. */
static void test_spec(void **state)
{
    (void)state;
    eta_average_config c;
    eta_err err;
    assert_int_equal(eta_average_config_from_spec(&c, "SWA()", &err), 0);
    assert_true(c.kind == ETA_AVERAGE_SWA && c.start == 0.75 && c.every == 0 && !c.use_buffers);
    assert_int_equal(eta_average_config_from_spec(&c, "EMA()", &err), 0);
    assert_true(c.kind == ETA_AVERAGE_EMA && c.decay == 0.999 && c.start == 0 && c.every == 1);
    assert_int_equal(eta_average_config_from_spec(&c, "EMA(0.9, 0.5, 10, True)", &err), 0);
    assert_true(c.decay == 0.9 && c.start == 0.5 && c.every == 10 && c.use_buffers);
    struct {
        const char *spec, *needle;
    } bad[] = {
        {"EMA(decay=1.5)", "decay must be in [0, 1]"},
        {"SWA(start=1)", "start must be in [0, 1)"},
        {"SWA(decay=0.9)", "unexpected keyword argument 'decay'"},
        {"EMA(every=-1)", "every must be >= 0"},
        {"EMA(every=0.5)", "every"},
        {"Polyak()", "expected SWA(...) or EMA(...)"},
        {"EMA(use_buffers=1)", "use_buffers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = eta_average_config_from_spec(&c, bad[i].spec, &err);
        if (rc != ETA_EINVAL || !strstr(err.msg, bad[i].needle))
            fail_msg("%s: rc %d, message '%s'", bad[i].spec, rc, err.msg);
    }
    char buf[128];
    eta_average_describe(ETA_AVERAGE_EMA, buf, sizeof buf);
    assert_string_equal(buf, "EMA(decay=0.999, start=0.0, every=1, use_buffers=False)");
    c = eta_average_defaults(ETA_AVERAGE_SWA);
    c.dtype = (eta_dtype)7;
    eta_average *a;
    assert_int_equal(eta_average_new(&a, &c, &err), ETA_EINVAL);
    assert_null(a);
}

static void fill(double *x, size_t n, uint64_t *s)
{
    for (size_t i = 0; i < n; i++) {
        *s = *s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (double)(*s >> 11) / 9007199254740992.0 * 2 - 1;
    }
}

/* Save after 5 updates, restore into a fresh object, 5 more on both: the
 * same bits; swap twice gives the model back; no allocation in updates. */
static void test_resume_swap_and_no_alloc(void **state)
{
    (void)state;
    const char *specs[] = {"SWA()", "EMA(decay=0.9, use_buffers=True)"};
    for (int k = 0; k < 2; k++) {
        double w[2][40], b[2][6];
        eta_average *a[2];
        counting cnt = {0, -1};
        eta_allocator al = {c_alloc, c_free, &cnt};
        for (int r = 0; r < 2; r++) {
            eta_average_config cfg;
            assert_int_equal(eta_average_config_from_spec(&cfg, specs[k], NULL), 0);
            cfg.dtype = ETA_F64;
            cfg.alloc = &al;
            assert_int_equal(eta_average_new(&a[r], &cfg, NULL), 0);
            uint64_t s = 5;
            fill(w[r], 40, &s);
            fill(b[r], 6, &s);
            assert_int_equal(eta_average_add(a[r], w[r], 40, false), 0);
            assert_int_equal(eta_average_add(a[r], b[r], 6, true), 1);
        }
        uint64_t s = 9;
        for (int t = 0; t < 5; t++) {
            fill(w[0], 40, &s);
            fill(b[0], 6, &s);
            assert_int_equal(eta_average_update(a[0]), 0);
        }
        void *buf;
        size_t len;
        assert_int_equal(eta_average_save(a[0], &buf, &len), 0);
        assert_int_equal(eta_average_load(a[1], buf, len), 0);
        assert_int_equal(eta_average_count(a[1]), 5);
        /* damaged bytes are refused, the object unchanged */
        unsigned char *p = buf;
        for (size_t off = 0; off < len; off += 5) {
            p[off] ^= 4;
            assert_int_equal(eta_average_load(a[1], buf, len), ETA_EFORMAT);
            p[off] ^= 4;
        }
        assert_int_equal(eta_average_load(a[1], buf, len - 1), ETA_EFORMAT);
        eta_average_free_buf(a[0], buf);
        cnt.fail_at = cnt.allocs; /* from here on every allocation fails */
        uint64_t s2 = s;
        for (int t = 0; t < 5; t++) {
            fill(w[0], 40, &s);
            fill(b[0], 6, &s);
            fill(w[1], 40, &s2);
            fill(b[1], 6, &s2);
            assert_int_equal(eta_average_update(a[0]), 0);
            assert_int_equal(eta_average_update(a[1]), 0);
        }
        for (int i = 0; i < 2; i++) {
            size_t n0, n1;
            const void *x0 = eta_average_data(a[0], i, &n0), *x1 = eta_average_data(a[1], i, &n1);
            assert_int_equal(n0, n1);
            assert_memory_equal(x0, x1, n0 * sizeof(double));
        }
        double keep[40], avgw[40];
        memcpy(keep, w[0], sizeof keep);
        memcpy(avgw, eta_average_data(a[0], 0, NULL), sizeof avgw);
        assert_int_equal(eta_average_swap(a[0]), 0);
        assert_memory_equal(w[0], avgw, sizeof avgw);
        assert_int_equal(eta_average_swap(a[0]), 0);
        assert_memory_equal(w[0], keep, sizeof keep);
        assert_int_equal(eta_average_save(a[0], &buf, &len), ETA_ENOMEM);
        assert_non_null(strstr(eta_average_error(a[0]), "out of memory"));
        eta_average_free(a[0]);
        eta_average_free(a[1]);
    }
    /* another kind or layout is refused by name */
    eta_average *x, *y;
    eta_average_config cx = eta_average_defaults(ETA_AVERAGE_SWA), cy = eta_average_defaults(ETA_AVERAGE_EMA);
    float v[3] = {1, 2, 3};
    assert_int_equal(eta_average_new(&x, &cx, NULL), 0);
    assert_int_equal(eta_average_new(&y, &cy, NULL), 0);
    assert_int_equal(eta_average_update(x), ETA_ESTATE);
    assert_int_equal(eta_average_add(x, v, 3, false), 0);
    assert_int_equal(eta_average_add(y, v, 3, false), 0);
    void *buf;
    size_t len;
    assert_int_equal(eta_average_save(x, &buf, &len), 0);
    assert_int_equal(eta_average_load(y, buf, len), ETA_EFORMAT);
    assert_non_null(strstr(eta_average_error(y), "SWA"));
    eta_average_free_buf(x, buf);
    eta_average_free(x);
    eta_average_free(y);
    eta_average_free(NULL);
}

/* Large arrays: the same bits at 1 and 2 threads. */
static void test_threads(void **state)
{
    (void)state;
    const size_t n = 100003;
    float *m = malloc(n * sizeof(float)), *out[2];
    for (int t = 0; t < 2; t++) {
        eta_average_config cfg = eta_average_defaults(ETA_AVERAGE_SWA);
        cfg.threads = t + 1;
        eta_average *a;
        assert_int_equal(eta_average_new(&a, &cfg, NULL), 0);
        uint64_t s = 3;
        for (size_t i = 0; i < n; i++)
            m[i] = (float)i;
        assert_int_equal(eta_average_add(a, m, n, false), 0);
        for (int k = 0; k < 4; k++) {
            for (size_t i = 0; i < n; i++) {
                s = s * 6364136223846793005ull + 1442695040888963407ull;
                m[i] = (float)(s >> 40) / 16777216.0f;
            }
            assert_int_equal(eta_average_update(a), 0);
        }
        out[t] = malloc(n * sizeof(float));
        memcpy(out[t], eta_average_data(a, 0, NULL), n * sizeof(float));
        eta_average_free(a);
    }
    assert_memory_equal(out[0], out[1], n * sizeof(float));
    free(out[0]);
    free(out[1]);
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture),
        cmocka_unit_test(test_spec),
        cmocka_unit_test(test_resume_swap_and_no_alloc),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
