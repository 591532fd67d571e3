/* tests/test_optim_ref.c - every optimizer replayed against the fixtures that
 * tools/gen_ref_optim.py wrote with PyTorch (or, where marked "source
 * formula", an independent implementation of the named reference), and
 * those tools/gen_ref_lrfree.py wrote for the learning-rate-free rules
 * ("source reference": PyTorch transcriptions of the authors' code), whose
 * cases also hold the optimizer's scalars ("scalar" lines: d, lr_max, ...)
 * and Schedule-Free's evaluation point ("eval" lines: the parameters after
 * eta_optim_eval; eta_optim_train switches back before the next step), and
 * those tools/gen_ref_optim_adapt.py wrote for the rules that set their own
 * step size (COCOB, DoG, LDoG, SGDHD, AdamHD, Mechanic): "scalar" lines too
 * (DoG's rbar, G, eta; the hypergradient rules' adapted lr, also checked
 * through eta_optim_lr) and "wide" lines, Mechanic's tuner arrays, read as
 * the scalars "m[j]", "v[j]", "r[j]", "s[j]".
 * labels: ref unit
 *
 * Each case: 3 parameter tensors in 2 groups, 50 fixed gradients fed in
 * (Muon, tools/gen_ref_muon.py: 4 matrices, 16 gradients),
 * parameters and every state array compared after every step. Cases with an
 * lr schedule set each group's learning rate before every step as the
 * fixture says; in every other case eta's learning rate must already be the
 * fixture's. Each rule's <rule>_defaults cases are built from a spec with
 * only the arguments upstream requires (`RMSprop()`, `SGD(lr=0.01)`), so they
 * hold eta's defaults, the learning rate included, to PyTorch's (Optax's).
 * Every line of a fixture is read and every value used: an unknown key, a
 * missing or extra value or a line out of order is an error.
 * Bounds: max relative error (defined at FLOOR below) <= 1e-12 in float64,
 * <= 1e-5 in float32.
 */
#include "harness.h"

#include <eta/eta.h>

/* The error of element i is |got_i - want_i| / max(|want_i|, FLOOR * max_j |want_j|):
 * relative to the element itself, except for elements that cancel to below a
 * tenth of the array's largest magnitude, which are measured against that
 * tenth. torch's vectorised kernels round differently (fused multiply-add in
 * add(alpha=...), lerp in 2.x), and one rounding of a term of the array's size
 * shows up as a large "relative" error in an element that cancels to near
 * zero: measured with no floor, float64 reaches 1e-12 and float32 5e-3 at such
 * elements while every other element agrees to a few ulps. */
#define FLOOR 0.1

#define MAXP 8
#define MAXN 4096

typedef struct fx_case {
    char name[128];
    eta_dtype dtype;
    char spec[1024], gspec[4][1024];
    int ngroups;
    int nparams, pgroup[MAXP], ndim[MAXP];
    int64_t shape[MAXP][ETA_MAX_DIMS];
    size_t n[MAXP];
    double *x[MAXP], *g[MAXP]; /* as doubles; copied into typed arrays */
    void *px[MAXP], *pg[MAXP];
    eta_optim *opt;
    unsigned inited; /* bit i: init line of param i read */
    bool stepped;
    double worst;
    char worst_what[256];
    int ncompared;
    /* the largest |value| each scalar ("group name") has had so far: its floor */
    char scalar_key[32][160];
    double scalar_max[32];
    int nscalars;
    double lr[4]; /* this step's lr lines */
} fx_case;

static void build(fx_case *c)
{
    eta_optim_config cfg;
    eta_err err;
    if (eta_optim_config_from_spec(&cfg, c->spec, &err))
        fail_msg("%s: spec '%s': %s", c->name, c->spec, err.msg);
    cfg.dtype = c->dtype;
    cfg.threads = 1;
    if (eta_optim_new(&c->opt, &cfg, &err))
        fail_msg("%s: %s", c->name, err.msg);
    for (int gi = 1; gi < c->ngroups; gi++) {
        eta_optim_config gc;
        if (eta_optim_config_from_spec(&gc, c->gspec[gi], &err))
            fail_msg("%s: group %d spec: %s", c->name, gi, err.msg);
        assert_int_equal(gc.kind, cfg.kind);
        int rc = eta_optim_add_group(c->opt, &gc.hp);
        if (rc != gi)
            fail_msg("%s: add_group: %s", c->name, eta_optim_error(c->opt));
    }
    size_t es = eta_dtype_size(c->dtype);
    for (int i = 0; i < c->nparams; i++) {
        c->px[i] = calloc(c->n[i], es);
        c->pg[i] = calloc(c->n[i], es);
        to_typed(c->dtype, c->px[i], c->x[i], c->n[i]);
        int rc = eta_optim_add_param(c->opt, c->pgroup[i], c->px[i], c->pg[i], c->ndim[i], c->shape[i]);
        if (rc != i)
            fail_msg("%s: add_param: %s", c->name, eta_optim_error(c->opt));
    }
}

static void compare(fx_case *c, const char *what, int step, const void *got, const double *want, size_t n)
{
    double buf[MAXN];
    assert_true(n <= MAXN);
    from_typed(c->dtype, buf, got, n);
    size_t w = 0;
    double scale = 0, e = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    double fl = FLOOR;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(buf[i] - want[i]), den = fmax(fabs(want[i]), fl * scale);
        double ei = d == 0 ? 0 : den > 0 ? d / den : 1;
        if (isnan(buf[i]) != isnan(want[i])) ei = 1;
        if (ei > e) { e = ei; w = i; }
    }
    c->ncompared++;
    if (e > c->worst || c->worst_what[0] == 0) {
        c->worst = e > c->worst ? e : c->worst;
        snprintf(c->worst_what, sizeof c->worst_what, "%s at step %d element %zu: got %.17g want %.17g", what,
                 step, w, buf[w], want[w]);
    }
}

/* A scalar (eta_optim_scalar) against the fixture. The floor of compare()
 * applies across steps: the error is relative to the value, or to a tenth
 * of the largest magnitude this scalar has had in the case so far when it
 * is smaller. D-Adaptation's numerator is a running sum of terms of both
 * signs; when it cancels to near zero (1e-16 after 1e-12) the float32
 * rounding of the terms shows as a large "relative" error at that step. */
static void compare_scalar(fx_case *c, const char *what, int step, double got, double want)
{
    int k = 0;
    while (k < c->nscalars && strcmp(c->scalar_key[k], what))
        k++;
    assert_true(k < 32);
    if (k == c->nscalars) {
        snprintf(c->scalar_key[k], sizeof c->scalar_key[k], "%s", what);
        c->scalar_max[k] = 0;
        c->nscalars++;
    }
    c->scalar_max[k] = fmax(c->scalar_max[k], fabs(want));
    double d = fabs(got - want), den = fmax(fabs(want), FLOOR * c->scalar_max[k]);
    double e = d == 0 ? 0 : den > 0 ? d / den : 1;
    if (isnan(got) != isnan(want))
        e = 1;
    c->ncompared++;
    if (e > c->worst || c->worst_what[0] == 0) {
        c->worst = e > c->worst ? e : c->worst;
        snprintf(c->worst_what, sizeof c->worst_what, "%s at step %d: got %.17g want %.17g", what, step, got, want);
    }
}

static void finish(fx_case *c, double *worst_all)
{
    double bound = c->dtype == ETA_F64 ? 1e-12 : 1e-5;
    print_message("  %-44s max rel err %.3g (bound %.0e, %d arrays)\n", c->name, c->worst, bound, c->ncompared);
    if (!(c->worst <= bound))
        fail_msg("%s: %s", c->name, c->worst_what);
    assert_true(c->ncompared > 100);
    if (c->worst > *worst_all)
        *worst_all = c->worst;
    eta_optim_free(c->opt);
    for (int i = 0; i < c->nparams; i++) {
        free(c->x[i]);
        free(c->g[i]);
        free(c->px[i]);
        free(c->pg[i]);
    }
    memset(c, 0, sizeof *c);
}

/* A case whose note carries this phrase sets each group's learning rate before
 * every step (lr = initial lr * (1 + 0.5*sin(t))); every other case must
 * already have the lr its fixture lists, which is how a defaults case checks
 * eta's default lr. tools/gen_ref_optim.py --check reads the same marker. */
#define SCHED_MARK "base lr * (1 + 0.5*sin(t))"

typedef struct fx_reader {
    const char *file;
    int line;
} fx_reader;

#define FX_FAIL(r, ...)                                                  \
    do {                                                                 \
        char msg_[512];                                                  \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                        \
        fail_msg("%s:%d: %s", ref_path((r)->file), (r)->line, msg_);     \
    } while (0)

/* Between lo and hi numbers and nothing after them; returns how many. */
static size_t fx_numbers(const fx_reader *r, const char *what, const char *s, double *out, size_t lo, size_t hi)
{
    size_t n = read_doubles_rest(s, out, hi, &s);
    char *end;
    (void)strtod(s, &end);
    if (end != s)
        FX_FAIL(r, "%s: more than %zu values", what, hi);
    s += strspn(s, " ");
    if (*s)
        FX_FAIL(r, "%s: unexpected '%.20s'", what, s);
    if (n < lo)
        FX_FAIL(r, "%s: %zu values, expected %zu", what, n, lo);
    return n;
}

/* A non-negative index below `lim` followed by one space; returns what follows. */
static char *fx_index(const fx_reader *r, const char *what, char *s, int lim, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v >= lim || (*end != ' ' && *end != 0))
        FX_FAIL(r, "%s: bad index '%.20s' (0 to %d)", what, s, lim - 1);
    *out = (int)v;
    return *end ? end + 1 : end;
}

/* The line counts of one step: lr, grad, value, state, scalar, eval. */
#define NCOUNTS 6

/* Checks that step `step` listed an lr per group and a gradient and a value
 * per parameter, as many state and scalar lines as step 1, and an eval line
 * per parameter or none. Back to the training point if an eval line left
 * the optimizer at the evaluation point. */
static void fx_step_done(const fx_reader *r, fx_case *c, int step, const int *counts, int *first)
{
    if (step == 0)
        return;
    if (counts[0] != c->ngroups || counts[1] != c->nparams || counts[2] != c->nparams)
        FX_FAIL(r, "step %d: %d lr, %d grad, %d value lines (expected %d, %d, %d)", step, counts[0], counts[1],
                counts[2], c->ngroups, c->nparams, c->nparams);
    if (counts[5] != 0 && counts[5] != c->nparams)
        FX_FAIL(r, "step %d: %d eval lines (0 or %d)", step, counts[5], c->nparams);
    for (int k = 3; k < NCOUNTS; k++) {
        if (step == 1)
            first[k] = counts[k];
        else if (counts[k] != first[k])
            FX_FAIL(r, "step %d: %d %s lines, step 1 had %d", step, counts[k],
                    k == 3 ? "state" : k == 4 ? "scalar" : "eval", first[k]);
    }
    if (eta_optim_is_eval(c->opt) && eta_optim_train(c->opt))
        fail_msg("%s: train: %s", c->name, eta_optim_error(c->opt));
}

/* "param <i> group <g> shape <dims...>": the next parameter. */
static void fx_param(const fx_reader *r, fx_case *c, char *rest)
{
    int pi, g;
    char *s = fx_index(r, "param", rest, MAXP, &pi);
    if (pi != c->nparams)
        FX_FAIL(r, "param %d, expected %d", pi, c->nparams);
    if (strncmp(s, "group ", 6))
        FX_FAIL(r, "param: expected 'group'");
    s = fx_index(r, "param group", s + 6, c->ngroups, &g);
    if (strncmp(s, "shape ", 6))
        FX_FAIL(r, "param: expected 'shape'");
    double dims[ETA_MAX_DIMS];
    int nd = (int)fx_numbers(r, "shape", s + 6, dims, 1, ETA_MAX_DIMS);
    c->pgroup[pi] = g;
    c->ndim[pi] = nd;
    c->n[pi] = 1;
    for (int d = 0; d < nd; d++) {
        if (!(dims[d] >= 1 && dims[d] <= MAXN && dims[d] == floor(dims[d])))
            FX_FAIL(r, "param %d: dim %d is %g", pi, d, dims[d]);
        c->shape[pi][d] = (int64_t)dims[d];
        c->n[pi] *= (size_t)dims[d];
    }
    if (c->n[pi] > MAXN)
        FX_FAIL(r, "param %d: %zu elements", pi, c->n[pi]);
    c->x[pi] = calloc(c->n[pi], sizeof(double));
    c->g[pi] = calloc(c->n[pi], sizeof(double));
    c->nparams = pi + 1;
}

/* "lr <g> <lr>" before step `step`: a schedule case checks the value against
 * the schedule and sets it; any other case checks that eta already has it.
 * The value is what a schedule sets (eta_optim_set_lr): for the rules that
 * adapt their rate, eta_optim_lr differs, and the "scalar <g> lr" line after
 * the step checks it. */
static void fx_lr(const fx_reader *r, fx_case *c, int g, const char *s, int step, bool schedule)
{
    double lr;
    fx_numbers(r, "lr", s, &lr, 1, 1);
    eta_optim_hparams hp;
    assert_int_equal(eta_optim_get_hparams(c->opt, g, &hp), 0);
    c->lr[g] = lr;
    if (schedule) {
        double want = eta_optim_initial_lr(c->opt, g) * (1 + 0.5 * sin((double)step));
        if (!(fabs(lr - want) <= 1e-15 * want))
            FX_FAIL(r, "lr %.17g, the schedule gives %.17g", lr, want);
        if (eta_optim_set_lr(c->opt, g, lr))
            fail_msg("%s: set_lr: %s", c->name, eta_optim_error(c->opt));
    } else if (hp.lr != lr) {
        FX_FAIL(r, "%s: group %d lr is %.17g in eta, %.17g in the fixture", c->name, g, hp.lr, lr);
    }
}

/* Replays every case of one fixture file. Every line is read and every
 * value used; an unknown key, a missing or extra value, or a line out of
 * order fails the test with the file and line. */
static void replay_file(const char *file)
{
    char *text = read_file(ref_path(file), NULL);
    if (!text)
        fail_msg("cannot read %s (run tools/gen_ref_optim.py)", ref_path(file));
    static fx_case c;
    memset(&c, 0, sizeof c);
    static double vals[MAXN];
    fx_reader r = {file, 0};
    int step = 0, nsteps = -1, ncases = 0, ndefaults = 0, first[NCOUNTS] = {0};
    int counts[NCOUNTS] = {0}; /* this step's lines of each kind */
    bool in_case = false, schedule = false, states_seen = false;
    double worst_all = 0;
    char *next = text;
    while (*next) {
        char *line = next, *nl = strchr(line, '\n');
        next = nl ? nl + 1 : line + strlen(line);
        if (nl)
            *nl = 0;
        r.line++;
        char *sp = strchr(line, ' ');
        size_t klen = sp ? (size_t)(sp - line) : strlen(line);
        char *rest = sp ? sp + 1 : line + klen;
#define KEY(k) (klen == sizeof(k) - 1 && !strncmp(line, k, klen))
        if (line[0] == '#')
            continue;
        if (KEY("case")) {
            if (in_case)
                FX_FAIL(&r, "case '%s' not closed by end", c.name);
            memset(&c, 0, sizeof c);
            snprintf(c.name, sizeof c.name, "%s", rest);
            c.ngroups = 1;
            in_case = true;
            schedule = false;
            step = 0;
            nsteps = -1;
            continue;
        }
        if (!in_case)
            FX_FAIL(&r, "'%.20s' outside a case", line);
        bool header = KEY("dtype") || KEY("source") || KEY("note") || KEY("spec") || KEY("group") || KEY("param") ||
                      KEY("init") || KEY("steps");
        if (header != (nsteps < 0))
            FX_FAIL(&r, "'%.20s' %s steps", line, header ? "after" : "before");
        if (KEY("dtype")) {
            if (strcmp(rest, "f32") && strcmp(rest, "f64"))
                FX_FAIL(&r, "dtype '%s' (f32 or f64)", rest);
            c.dtype = !strcmp(rest, "f32") ? ETA_F32 : ETA_F64;
        } else if (KEY("source")) {
            if (strcmp(rest, "torch") && strcmp(rest, "formula") && strcmp(rest, "reference"))
                FX_FAIL(&r, "source '%s' (torch, formula or reference)", rest);
        } else if (KEY("note")) {
            schedule = strstr(rest, SCHED_MARK) != NULL;
        } else if (KEY("spec")) {
            snprintf(c.spec, sizeof c.spec, "%s", rest);
            snprintf(c.gspec[0], sizeof c.gspec[0], "%s", rest);
        } else if (KEY("group")) {
            int gi;
            char *spec = fx_index(&r, "group", rest, 4, &gi);
            if (gi == 0)
                FX_FAIL(&r, "group 0 is the spec line");
            snprintf(c.gspec[gi], sizeof c.gspec[gi], "%s", spec);
            if (gi + 1 > c.ngroups)
                c.ngroups = gi + 1;
        } else if (KEY("param")) {
            fx_param(&r, &c, rest);
        } else if (KEY("init")) {
            int pi;
            char *s = fx_index(&r, "init", rest, c.nparams, &pi);
            fx_numbers(&r, "init", s, c.x[pi], c.n[pi], c.n[pi]);
            c.inited |= 1u << pi;
        } else if (KEY("steps")) {
            int n;
            fx_index(&r, "steps", rest, 100000, &n);
            if (n < 1 || !c.spec[0] || c.nparams == 0 || c.inited != (1u << c.nparams) - 1)
                FX_FAIL(&r, "steps %d before a spec and every parameter's init", n);
            nsteps = n;
            build(&c);
        } else if (KEY("step")) {
            fx_step_done(&r, &c, step, counts, first);
            int t;
            fx_index(&r, "step", rest, nsteps + 1, &t);
            if (t != step + 1)
                FX_FAIL(&r, "step %d after step %d", t, step);
            step = t;
            c.stepped = false;
            memset(counts, 0, sizeof counts);
        } else if (KEY("lr")) {
            int g;
            char *s = fx_index(&r, "lr", rest, c.ngroups, &g);
            if (step == 0 || c.stepped)
                FX_FAIL(&r, "lr line outside a step or after its values");
            fx_lr(&r, &c, g, s, step, schedule);
            counts[0]++;
        } else if (KEY("grad")) {
            int pi;
            char *s = fx_index(&r, "grad", rest, c.nparams, &pi);
            if (step == 0 || c.stepped)
                FX_FAIL(&r, "grad line outside a step or after its values");
            fx_numbers(&r, "grad", s, c.g[pi], c.n[pi], c.n[pi]);
            to_typed(c.dtype, c.pg[pi], c.g[pi], c.n[pi]);
            counts[1]++;
        } else if (KEY("value") || KEY("state")) {
            const char *key = KEY("value") ? "value" : "state";
            if (step == 0 || counts[4] || counts[5])
                FX_FAIL(&r, "%s line before step 1 or after a scalar or eval line", key);
            if (!c.stepped) {
                if (eta_optim_step(c.opt))
                    fail_msg("%s: step %d: %s", c.name, step, eta_optim_error(c.opt));
                c.stepped = true;
            }
            int pi;
            char *after = fx_index(&r, key, rest, c.nparams, &pi);
            char what[160];
            if (KEY("value")) {
                fx_numbers(&r, "value", after, vals, c.n[pi], c.n[pi]);
                snprintf(what, sizeof what, "param %d", pi);
                compare(&c, what, step, c.px[pi], vals, c.n[pi]);
                counts[2]++;
            } else {
                char name[64];
                size_t k = strcspn(after, " ");
                snprintf(name, sizeof name, "%.*s", (int)k, after);
                void *data;
                size_t sn;
                if (eta_optim_state(c.opt, pi, name, &data, &sn))
                    fail_msg("%s: param %d has no state '%s'", c.name, pi, name);
                if (sn > MAXN)
                    FX_FAIL(&r, "state %s: %zu elements", name, sn);
                fx_numbers(&r, name, after + k, vals, sn, sn);
                snprintf(what, sizeof what, "param %d state %s", pi, name);
                compare(&c, what, step, data, vals, sn);
                counts[3]++;
                states_seen = true;
            }
        } else if (KEY("scalar")) {
            int g;
            char *after = fx_index(&r, "scalar", rest, c.ngroups, &g);
            if (!c.stepped || counts[5])
                FX_FAIL(&r, "scalar line before the step's values or after its eval lines");
            char name[64], what[160];
            size_t k = strcspn(after, " ");
            snprintf(name, sizeof name, "%.*s", (int)k, after);
            double got;
            if (eta_optim_scalar(c.opt, g, name, &got))
                fail_msg("%s: no scalar '%s'", c.name, name);
            fx_numbers(&r, name, after + k, vals, 1, 1);
            snprintf(what, sizeof what, "group %d scalar %s", g, name);
            compare_scalar(&c, what, step, got, vals[0]);
            if (!strcmp(name, "lr")) {
                /* SGDHD, AdamHD: the adapted rate, times the schedule's factor */
                double lr0 = eta_optim_initial_lr(c.opt, g);
                snprintf(what, sizeof what, "group %d eta_optim_lr", g);
                compare_scalar(&c, what, step, eta_optim_lr(c.opt, g), vals[0] * (lr0 > 0 ? c.lr[g] / lr0 : 1));
            }
            counts[4]++;
        } else if (KEY("wide")) {
            /* "wide <name> <values...>": Mechanic's tuner, element j the scalar "name[j]" */
            if (!c.stepped || counts[5])
                FX_FAIL(&r, "wide line before the step's values or after its eval lines");
            char name[64], what[160];
            size_t k = strcspn(rest, " ");
            snprintf(name, sizeof name, "%.*s", (int)k, rest);
            size_t n = fx_numbers(&r, name, rest + k, vals, 1, ETA_MECHANIC_MAX_BETAS);
            for (size_t j = 0; j < n; j++) {
                double got;
                snprintf(what, sizeof what, "%s[%zu]", name, j);
                if (eta_optim_scalar(c.opt, 0, what, &got))
                    fail_msg("%s: no scalar '%s'", c.name, what);
                compare_scalar(&c, what, step, got, vals[j]);
            }
            counts[4]++;
        } else if (KEY("eval")) {
            int pi;
            char *after = fx_index(&r, "eval", rest, c.nparams, &pi);
            if (!c.stepped)
                FX_FAIL(&r, "eval line before the step's values");
            if (!eta_optim_is_eval(c.opt) && eta_optim_eval(c.opt))
                fail_msg("%s: eval: %s", c.name, eta_optim_error(c.opt));
            char what[160];
            fx_numbers(&r, "eval", after, vals, c.n[pi], c.n[pi]);
            snprintf(what, sizeof what, "param %d at the evaluation point", pi);
            compare(&c, what, step, c.px[pi], vals, c.n[pi]);
            counts[5]++;
        } else if (KEY("end")) {
            fx_step_done(&r, &c, step, counts, first);
            if (step != nsteps)
                FX_FAIL(&r, "%s: %d steps, the case says %d", c.name, step, nsteps);
            if (strstr(c.name, "_defaults_"))
                ndefaults++;
            finish(&c, &worst_all);
            ncases++;
            in_case = false;
        } else {
            FX_FAIL(&r, "unknown key '%.*s'", (int)klen, line);
        }
#undef KEY
    }
    if (in_case)
        FX_FAIL(&r, "case '%s' not closed by end", c.name);
    free(text);
    print_message("%s: %d cases, worst relative error %.3g\n", file, ncases, worst_all);
    assert_true(ncases >= 6);
    assert_true(states_seen);
    /* one case per dtype built with only the arguments upstream requires */
    assert_int_equal(ndefaults, 2);
}

#define REF_TEST(nm) \
    static void test_##nm(void **state) { (void)state; replay_file("optim_" #nm ".txt"); }
REF_TEST(sgd)
REF_TEST(adam)
REF_TEST(adamw)
REF_TEST(adamax)
REF_TEST(nadam)
REF_TEST(radam)
REF_TEST(adagrad)
REF_TEST(rmsprop)
REF_TEST(adadelta)
REF_TEST(asgd)
REF_TEST(rprop)
REF_TEST(adafactor)
REF_TEST(lion)
REF_TEST(lamb)
REF_TEST(lars)
REF_TEST(adabelief)
REF_TEST(muon)
REF_TEST(sgdschedulefree)
REF_TEST(adamwschedulefree)
REF_TEST(prodigy)
REF_TEST(dadaptsgd)
REF_TEST(dadaptadam)
REF_TEST(cocob)
REF_TEST(dog)
REF_TEST(ldog)
REF_TEST(sgdhd)
REF_TEST(adamhd)
REF_TEST(mechanic)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd),      cmocka_unit_test(test_adam),     cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_adamax),   cmocka_unit_test(test_nadam),    cmocka_unit_test(test_radam),
        cmocka_unit_test(test_adagrad),  cmocka_unit_test(test_rmsprop),  cmocka_unit_test(test_adadelta),
        cmocka_unit_test(test_asgd),     cmocka_unit_test(test_rprop),    cmocka_unit_test(test_adafactor),
        cmocka_unit_test(test_lion),     cmocka_unit_test(test_lamb),     cmocka_unit_test(test_lars),
        cmocka_unit_test(test_adabelief), cmocka_unit_test(test_muon),
        cmocka_unit_test(test_adabelief),
        cmocka_unit_test(test_sgdschedulefree), cmocka_unit_test(test_adamwschedulefree),
        cmocka_unit_test(test_prodigy), cmocka_unit_test(test_dadaptsgd), cmocka_unit_test(test_dadaptadam),
        cmocka_unit_test(test_cocob),   cmocka_unit_test(test_dog),       cmocka_unit_test(test_ldog),
        cmocka_unit_test(test_sgdhd),   cmocka_unit_test(test_adamhd),    cmocka_unit_test(test_mechanic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
