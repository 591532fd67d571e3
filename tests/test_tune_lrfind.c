/* tests/test_tune_lrfind.c - the range test on real runs (digits, an MLP
 * with Dropout, AdamW, OneCycleLR, shuffled batches, a range test longer
 * than an epoch):
 *   - training after a range test is training without one, bit for bit:
 *     the weights, and the whole state (optimizer, schedule, loader, random
 *     streams, guard) compared with memcmp after the same training;
 *   - optimizer.lr: a number is the run's peak rate (a constant rate without
 *     a schedule, OneCycleLR's max_lr with one), read from metrics.csv;
 *     auto runs the test, writes lr_find.csv, lr_find.png, lr_auto.txt and
 *     config.ini's optimizer.lr, and trains exactly as `--set
 *     optimizer.lr=<that rate>` does; a resume does not test again; with
 *     optimizer.auto = sweep, the rates it sweeps, the winner, and the run
 *     trained as its winning trial;
 *   - `eta lr-find`: the CSV, the suggestions table with the default
 *     marked, --suggest, --plot, --dir, and its usage errors (exit 2).
 * labels: unit cli full
 */
#include "harness.h"
#include "train_harness.h"

#include "train/config.h"
#include "train/run.h"
#include "tune/lrfind.h"

static const char CONFIG[] = "[data]\n"
                             "spec = CSV('sklearn/digits.csv.gz', split='stratified')\n"
                             "batch_size = 64\n"
                             "[model]\n"
                             "spec = Sequential(Linear(64, 32), ReLU(), Dropout(0.2), Linear(32, 10))\n"
                             "[optimizer]\n"
                             "spec = AdamW(lr=1e-3, weight_decay=0.01)\n"
                             "[schedule]\n"
                             "spec = OneCycleLR(max_lr=1e-2)\n"
                             "[train]\n"
                             "steps = 40\n"
                             "threads = 1\n"
                             "seed = 3\n"
                             "[output]\n"
                             "plots = false\n";

static char root[] = "/tmp/eta_tune_lrfind_XXXXXX";
static char config_path[1100];

static int setup(void **state)
{
    (void)state;
    if (train_root_make(root))
        return -1;
    snprintf(config_path, sizeof config_path, "%s/digits.ini", root);
    FILE *f = fopen(config_path, "w");
    if (!f)
        return -1;
    fputs(CONFIG, f);
    return fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

static eta_run *new_run(eta_config **cfg, const char *dir, const char *set)
{
    eta_err err;
    assert_int_equal(eta_config_read_string(cfg, CONFIG, sizeof CONFIG - 1, "digits.ini", &err), ETA_OK);
    if (set && eta_config_set(*cfg, set, &err))
        fail_msg("%s: %s", set, err.msg);
    eta_run_options o = {.dir = dir, .data_dir = data_dir(), .progress = -1, .quiet = true};
    eta_run *r;
    if (eta_run_new(&r, *cfg, &o, &err))
        fail_msg("eta_run_new: %s", err.msg);
    return r;
}

static void fit(eta_run *r)
{
    eta_err err;
    if (eta_run_fit(r, &err))
        fail_msg("eta_run_fit: %s", err.msg);
}

/* The whole point: the same run trained with and without a range test
 * first ends with the same bytes; `set` changes the optimizer (one whose
 * state holds more than moments: Schedule-Free's two points and step
 * count, Prodigy's d). */
static void finder_identical(const char *set, const char *tag)
{
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    char plain[64], found[64];
    snprintf(plain, sizeof plain, "plain%s", tag);
    snprintf(found, sizeof found, "found%s", tag);
    eta_config *ca, *cb;
    eta_run *a = new_run(&ca, path_in(root, plain), set), *b = new_run(&cb, path_in(root, found), set);
    void *before_a, *before_b;
    size_t na, nb;
    assert_int_equal(eta_run_snapshot(a, &before_a, &na), ETA_OK);
    assert_int_equal(eta_run_snapshot(b, &before_b, &nb), ETA_OK);
    assert_true(na == nb && !memcmp(before_a, before_b, na)); /* two builds of one config agree */
    eta_lrfind_config c = eta_lrfind_defaults();
    c.steps = 60; /* more than the 23 batches of an epoch: the test turns epochs */
    c.stop_factor = 0;
    eta_lrfind_result res;
    eta_err err;
    assert_int_equal(eta_lrfind_run(b, &c, &res, &err), ETA_OK);
    assert_int_equal(res.n, 60);
    assert_false(res.stopped);
    for (int64_t i = 0; i < res.n; i++)
        assert_true(res.lr[i] == eta_lrfind_lr_at(&c, i));
    assert_true(isfinite(res.loss[0]) && res.loss[0] > 1.5); /* ~ln 10 before training */
    eta_lrfind_result_free(&res);
    void *after;
    size_t nafter;
    assert_int_equal(eta_run_snapshot(b, &after, &nafter), ETA_OK);
    assert_true(nafter == nb && !memcmp(after, before_b, nb)); /* restored */
    free(after);
    fit(a);
    fit(b);
    size_t pa, pb;
    const float *wa = eta_net_params(eta_run_net(a), &pa), *wb = eta_net_params(eta_run_net(b), &pb);
    assert_int_equal(pa, pb);
    if (memcmp(wa, wb, pa * sizeof *wa))
        fail_msg("the weights after training differ with a range test first");
    assert_int_equal(eta_run_snapshot(a, &after, &nafter), ETA_OK);
    void *after_b;
    size_t nafter_b;
    assert_int_equal(eta_run_snapshot(b, &after_b, &nafter_b), ETA_OK);
    assert_true(nafter == nafter_b && !memcmp(after, after_b, nafter)); /* optimizer, loader, streams, guard */
    char ma[128], mb[128];
    snprintf(ma, sizeof ma, "%s/model.safetensors", plain);
    snprintf(mb, sizeof mb, "%s/model.safetensors", found);
    assert_true(same_bytes(path_in(root, ma), path_in(root, mb), NULL));
    free(after);
    free(after_b);
    free(before_a);
    free(before_b);
    eta_run_free(a);
    eta_run_free(b);
    eta_config_free(ca);
    eta_config_free(cb);
}

static void test_training_after_finder_is_identical(void **state)
{
    (void)state;
    finder_identical(NULL, "");
    finder_identical("optimizer=AdamWScheduleFree(lr=1e-3, warmup_steps=5)", "-sf");
    finder_identical("optimizer=Prodigy()", "-prodigy");
}

/* Without restoring, the test leaves the run elsewhere: the comparison
 * above can fail. */
static void test_probe_moves_the_run(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    eta_config *cfg;
    eta_run *r = new_run(&cfg, path_in(root, "probe"), NULL);
    void *before, *after;
    size_t n0, n1;
    assert_int_equal(eta_run_snapshot(r, &before, &n0), ETA_OK);
    double loss;
    eta_err err;
    assert_int_equal(eta_run_probe(r, 1e-3, &loss, &err), ETA_OK);
    assert_true(isfinite(loss));
    assert_int_equal(eta_run_step_count(r), 1);
    assert_int_equal(eta_run_snapshot(r, &after, &n1), ETA_OK);
    assert_true(n0 != n1 || memcmp(before, after, n0));
    assert_int_equal(eta_run_probe(r, -1, &loss, &err), ETA_EINVAL);
    assert_int_equal(eta_run_restore(r, before, n0 - 1, &err), ETA_EFORMAT);
    assert_int_equal(eta_run_restore(r, before, n0, &err), ETA_OK);
    assert_int_equal(eta_run_step_count(r), 0);
    free(before);
    free(after);
    eta_run_free(r);
    eta_config_free(cfg);
}

/* The lr column of a metrics.csv (the first group's), its largest and
 * last value. */
static void lr_column(const char *path, double *top, double *last, int *rows)
{
    char *t = read_file(path, NULL);
    if (!t)
        fail_msg("cannot read %s", path);
    char *save = NULL, *line = strtok_r(t, "\n", &save);
    int col = -1, k = 0;
    for (char *p = line, *q; p; p = q ? q + 1 : NULL, k++) {
        q = strchr(p, ',');
        if (!strncmp(p, "lr", 2) && (p[2] == ',' || !p[2] || p[2] == '0'))
            col = col < 0 ? k : col;
    }
    assert_true(col >= 0);
    *top = 0;
    *rows = 0;
    for (line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        const char *p = line;
        for (int i = 0; i < col && p; i++)
            p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
        if (!p || *p == ',')
            continue;
        *last = strtod(p, NULL);
        *top = fmax(*top, *last);
        (*rows)++;
    }
    free(t);
}

static void test_lr_number_is_the_peak(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/peak", root);
    const char *argv[] = {"train", config_path, "--set", "optimizer.lr=0.02", "--set", "train.log_every=1", "--dir",
                          dir, "--quiet", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    double top, last;
    int rows;
    lr_column(path_in(dir, "metrics.csv"), &top, &last, &rows);
    assert_true(rows >= 40);
    if (top != 0.02)
        fail_msg("OneCycleLR(max_lr=1e-2) with optimizer.lr=0.02 peaks at %.17g", top);
    char dir2[256];
    snprintf(dir2, sizeof dir2, "%s/const", root);
    const char *argv2[] = {"train",         config_path, "--set", "optimizer.lr=0.0125", "--set", "schedule.spec=",
                           "--set", "train.log_every=1", "--dir", dir2, "--quiet", NULL};
    free(eta_expect(0, argv2, NULL, NULL));
    lr_column(path_in(dir2, "metrics.csv"), &top, &last, &rows);
    assert_true(top == 0.0125 && last == 0.0125);
    /* bad values: exit 2, the key named */
    const char *bad[] = {"-1", "0", "fast", "1e999", "AdamW()"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char set[64];
        snprintf(set, sizeof set, "optimizer.lr=%s", bad[i]);
        const char *argv3[] = {"train", config_path, "--set", set, "--dir", path_in(root, "bad"), NULL};
        eta_result r = eta_run_argv(argv3, NULL);
        if (r.rc != 2 || !strstr(r.err, "optimizer.lr"))
            fail_msg("%s: exit %d, stderr %s", set, r.rc, r.err);
        free(r.out);
        free(r.err);
    }
}

/* "key = value" from lr_auto.txt. */
static double auto_value(const char *dir, const char *key, char *text_out, size_t n)
{
    char *t = read_file(path_in(dir, "lr_auto.txt"), NULL);
    if (!t)
        fail_msg("no lr_auto.txt in %s", dir);
    char want[64];
    snprintf(want, sizeof want, "\n%s = ", key);
    const char *p = strstr(t, want);
    if (!p)
        fail_msg("lr_auto.txt lacks %s:\n%s", key, t);
    p += strlen(want);
    if (text_out)
        snprintf(text_out, n, "%.*s", (int)strcspn(p, "\n"), p);
    double v = strtod(p, NULL);
    free(t);
    return v;
}

static void test_lr_auto(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/auto", root);
    const char *argv[] = {"train", config_path, "--set", "optimizer.lr=auto", "--set", "output.plots=true",
                          "--dir", dir, "--progress", "off", NULL};
    char *err = eta_expect(0, argv, NULL, NULL);
    expect_has("stderr", err, "lr = auto: the range test (");
    expect_has("stderr", err, "(valley) as the peak rate, the specs' was 0.01; ");
    free(err);
    char lr_text[64], rule[32];
    double lr = auto_value(dir, "lr", lr_text, sizeof lr_text);
    auto_value(dir, "rule", rule, sizeof rule);
    assert_string_equal(rule, "valley");
    assert_true(lr > 1e-6 && lr < 1);
    assert_true(auto_value(dir, "spec_peak", NULL, 0) == 1e-2);
    assert_true(auto_value(dir, "suggestion.valley", NULL, 0) == lr);
    assert_true(count_lines(path_in(dir, "lr_find.csv")) > 20);
    assert_true(file_exists(path_in(dir, "lr_find.png")));
    char want[128];
    snprintf(want, sizeof want, "lr = %s\n", lr_text);
    char *ini = read_file(path_in(dir, "config.ini"), NULL);
    expect_has("config.ini", ini, want);
    free(ini);
    /* the same training as the rate given by hand */
    char set[96];
    snprintf(set, sizeof set, "optimizer.lr=%s", lr_text);
    char dir2[256];
    snprintf(dir2, sizeof dir2, "%s/byhand", root);
    const char *argv2[] = {"train", config_path, "--set", set, "--dir", dir2, "--quiet", NULL};
    free(eta_expect(0, argv2, NULL, NULL));
    long at;
    if (!same_bytes(path_in(dir, "model.safetensors"), path_in(dir2, "model.safetensors"), &at))
        fail_msg("lr = auto and lr = %s train differently (first difference at byte %ld)", lr_text, at);
    /* a resume reads the decision from config.ini: no second test */
    long csv_size = file_size(path_in(dir, "lr_find.csv"));
    remove(path_in(dir, "lr_auto.txt"));
    const char *argv3[] = {"train", "--resume", dir, "--progress", "off", NULL};
    err = eta_expect(0, argv3, NULL, NULL);
    if (strstr(err, "range test"))
        fail_msg("a resume ran the range test again:\n%s", err);
    free(err);
    assert_false(file_exists(path_in(dir, "lr_auto.txt")));
    assert_int_equal(file_size(path_in(dir, "lr_find.csv")), csv_size);
    /* a rule with no suggestion on this curve: the run fails before training, saying why */
    char dir4[256];
    snprintf(dir4, sizeof dir4, "%s/norule", root);
    const char *argv4[] = {"train", config_path, "--set", "optimizer.lr=auto", "--set", "lr_find.steps=12",
                           "--set", "lr_find.rule=slide", "--dir", dir4, NULL};
    err = eta_expect(1, argv4, NULL, NULL);
    expect_has("stderr", err, "no slide suggestion: too few points");
    free(err);
    assert_true(file_exists(path_in(dir4, "lr_auto.txt")));
    assert_false(file_exists(path_in(dir4, "model.safetensors")));
}

/* optimizer.auto = sweep: the range test brackets the rate (its lowest
 * point lr_min = 10 x fastai's minimum), 4 rates a third of a decade apart
 * from 10^(1/3) lr_min down are swept with successive halving (rungs every
 * ceil(40/9) = 5 steps), the best completed trial's rate is the run's peak,
 * and the run then trains exactly as that trial did (same final val_loss). */
static void test_lr_auto_sweep(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/auto-sweep", root);
    const char *argv[] = {"train", config_path, "--set", "optimizer.lr=auto", "--set", "optimizer.auto=sweep",
                          "--set", "lr_find.sweep_rates=4", "--set", "lr_find.steps=40", "--dir", dir,
                          "--progress", "off", NULL};
    char *err = eta_expect(0, argv, NULL, NULL);
    expect_has("stderr", err, "lr = auto (sweep): the range test's lowest point is at ");
    expect_has("stderr", err, "successive halving (rungs at 5 and 15 of 40 steps)");
    expect_has("stderr", err, " won (trial ");
    free(err);
    char method[32], pruner[96], rates[512], lr_text[64];
    auto_value(dir, "method", method, sizeof method);
    assert_string_equal(method, "sweep");
    auto_value(dir, "sweep.pruner", pruner, sizeof pruner);
    assert_string_equal(pruner, "sh(min_resource=5, reduction_factor=3)");
    double lr = auto_value(dir, "lr", lr_text, sizeof lr_text);
    double lr_min = auto_value(dir, "sweep.lr_min", NULL, 0);
    assert_true(fabs(lr_min - 10 * auto_value(dir, "suggestion.minimum", NULL, 0)) <= 1e-12 * lr_min);
    auto_value(dir, "sweep.rates", rates, sizeof rates);
    double want[4], got[4];
    for (int k = 0; k < 4; k++)
        want[k] = lr_min * pow(10, (1 - k) / 3.0);
    assert_int_equal(sscanf(rates, "[%lf, %lf, %lf, %lf]", &got[0], &got[1], &got[2], &got[3]), 4);
    bool listed = false;
    for (int k = 0; k < 4; k++) {
        assert_true(fabs(got[k] - want[k]) <= 1e-12 * want[k]);
        listed |= got[k] == lr;
    }
    assert_true(listed);
    /* the winner is the best completed trial of lr_sweep/sweep.csv, its compute the steps of all */
    char *csv = read_file(path_in(dir, "lr_sweep/sweep.csv"), NULL);
    assert_non_null(csv);
    double best = INFINITY, best_lr = NAN;
    long long steps = 0;
    int trials = 0;
    for (char *line = strchr(csv, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        long long t, st;
        double x, v;
        char state_[16];
        int k = sscanf(line + 1, "%lld,%lf,%15[a-z],%lf,%lld", &t, &x, state_, &v, &st);
        assert_int_equal(k, 5);
        trials++;
        steps += st;
        if (!strcmp(state_, "complete") && v < best) {
            best = v;
            best_lr = x;
        }
    }
    free(csv);
    assert_int_equal(trials, 4);
    assert_true(best_lr == lr);
    assert_true(auto_value(dir, "sweep.steps", NULL, 0) == (double)steps);
    assert_true(fabs(auto_value(dir, "sweep.val_loss", NULL, 0) - best) <= 1e-5 * best);
    char want_ini[128];
    snprintf(want_ini, sizeof want_ini, "lr = %s\n", lr_text);
    char *ini = read_file(path_in(dir, "config.ini"), NULL);
    expect_has("config.ini", ini, want_ini);
    free(ini);
    /* the run itself: the winning trial again (its last val_loss) */
    char *m = read_file(path_in(dir, "metrics.csv"), NULL);
    assert_non_null(m);
    int col = 0; /* val_loss's column */
    for (const char *c = m; strncmp(c, "val_loss", 8); c++)
        col += *c == ',';
    const char *row = m + strlen(m) - 1;
    while (row > m && row[-1] != '\n')
        row--;
    for (int k = 0; k < col; k++)
        row = strchr(row, ',') + 1;
    double final = strtod(row, NULL);
    free(m);
    if (!(fabs(final - best) <= 1e-5 * best))
        fail_msg("the run's final val_loss %.9g is not its winning trial's %.9g", final, best);
}

static void test_cli(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/digits.csv.gz"), HOW_FETCH);
    char png[256], dir[256];
    snprintf(png, sizeof png, "%s/f.png", root);
    snprintf(dir, sizeof dir, "%s/lf", root);
    const char *argv[] = {"lr-find", config_path, "--steps", "30", "--plot", png, "--dir", dir, NULL};
    char *out;
    char *err = eta_expect(0, argv, NULL, &out);
    expect_has("stderr", err, "30 batches, lr from 1e-07 towards 10 (exp)");
    free(err);
    assert_true(!strncmp(out, "step,lr,loss,smoothed_loss\n0,1e-07,", 35));
    const char *table = strstr(out, "\n\nrule,lr,smoothed_loss,note\n");
    assert_non_null(table);
    int rows = 0;
    for (const char *p = out; p < table; p++)
        rows += *p == '\n';
    assert_true(rows >= 10 && rows <= 30);
    expect_has("suggestions", table, "\nvalley,");
    expect_has("suggestions", table, ",default\n");
    const char *names[] = {"slide", "minimum", "steep", "gradient", "log_gradient"};
    for (int i = 0; i < 5; i++) {
        char want[32];
        snprintf(want, sizeof want, "\n%s,", names[i]);
        expect_has("suggestions", table, want);
    }
    char *csv = read_file(path_in(dir, "lr_find.csv"), NULL);
    assert_non_null(csv);
    assert_true(!strncmp(csv, out, (size_t)(table - out + 1))); /* the same curve */
    free(csv);
    char *img = read_file(png, NULL);
    assert_true(img && !memcmp(img, "\x89PNG", 4));
    free(img);
    assert_true(file_exists(path_in(dir, "lr_find.png")));
    free(out);
    /* --suggest picks and orders the rules; lr_find.rule is the default marked */
    const char *argv2[] = {"lr-find", config_path, "--steps", "30", "--suggest", "steep,minimum", "--set",
                           "lr_find.rule=steep", "--mode", "linear", "--start", "1e-4", "--end", "0.5", "--quiet",
                           NULL};
    err = eta_expect(0, argv2, NULL, &out);
    assert_string_equal(err, "");
    free(err);
    table = strstr(out, "\n\nrule,lr,smoothed_loss,note\n");
    assert_non_null(table);
    table += 29;
    assert_true(!strncmp(table, "steep,", 6));
    assert_non_null(strstr(table, ",default\nminimum,"));
    assert_true(!strncmp(out, "step,lr,loss,smoothed_loss\n0,0.0001,", 36));
    free(out);
    /* usage errors: exit 2, said before any work */
    const struct {
        const char *args[8];
        const char *want;
    } bad[] = {
        {{"lr-find", NULL}, "expected one config file"},
        {{"lr-find", config_path, "--mode", "cubic", NULL}, "--mode: lr_find.mode: unknown value 'cubic'"},
        {{"lr-find", config_path, "--steps", "1", NULL}, "--steps: lr_find.steps must be >= 2"},
        {{"lr-find", config_path, "--start", "0", NULL}, "--start: lr_find.start must be"},
        {{"lr-find", config_path, "--end", "1e-9", NULL}, "end must be a finite number above start"},
        {{"lr-find", config_path, "--beta", "1", NULL}, "--beta: lr_find.beta"},
        {{"lr-find", config_path, "--stop-factor", "x", NULL}, "--stop-factor: lr_find.stop_factor must be a number"},
        {{"lr-find", config_path, "--suggest", "valey", NULL}, "--suggest: unknown rule 'valey'"},
        {{"lr-find", config_path, "--plot", "f.jpg", NULL}, "--plot:"},
        {{"lr-find", "no-such.ini", NULL}, "no-such.ini"},
        {{"lr-find", config_path, "--stepz", "3", NULL}, "unknown option '--stepz'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        eta_result r = eta_run_argv(bad[i].args, NULL);
        const int want = 2;
        if (r.rc != want || !strstr(r.err, bad[i].want))
            fail_msg("case %zu: exit %d (want %d), stderr: %s (want '%s')", i, r.rc, want, r.err, bad[i].want);
        free(r.out);
        free(r.err);
    }
    const char *help[] = {"lr-find", "--help", NULL};
    free(eta_expect(0, help, NULL, &out));
    expect_has("--help", out, "default 1e-7");
    expect_has("--help", out, "default 100");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_after_finder_is_identical),
        cmocka_unit_test(test_probe_moves_the_run),
        cmocka_unit_test(test_lr_number_is_the_peak),
        cmocka_unit_test(test_lr_auto),
        cmocka_unit_test(test_lr_auto_sweep),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
