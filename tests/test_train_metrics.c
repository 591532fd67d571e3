/* test_train_metrics.c - the metrics sink: exact file contents, layer warnings, guard rollbacks and resume. labels: unit full
 *
 * Files are read back and compared with texts written by hand (the smoothed
 * loss of 2.0 then 1.5 is (0.98 x 0.04 + 0.03) / (1 - 0.98^2) = 1.7474...,
 * printed as Python prints it). A run interrupted after its checkpoint,
 * having written steps past it, and resumed from the checkpoint's state
 * leaves files byte-identical to an uninterrupted run's, guard rollbacks
 * included; files changed since the checkpoint are refused by name.
 */
#include "harness.h"

#include <sys/stat.h>

#include "train/metrics.h"

static char *mkdir_tmp(void)
{
    char *d = strdup("/tmp/eta_test_metrics_XXXXXX");
    assert_non_null(mkdtemp(d));
    return d;
}

static char *slurp(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    char *s = read_file(p, NULL);
    if (!s)
        fail_msg("cannot read %s", p);
    return s;
}

static void rm_rf(char *dir)
{
    const char *names[] = {"metrics.csv", "layers.csv", "metrics.jsonl"};
    char p[512];
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        remove(p);
    }
    rmdir(dir);
    free(dir);
}

static eta_metrics *open_sink(const eta_metrics_config *c)
{
    eta_metrics *m = NULL;
    eta_err err;
    if (eta_metrics_open(&m, c, &err))
        fail_msg("eta_metrics_open: %s", err.msg);
    return m;
}

#define OK(call)                                                                                                   \
    do {                                                                                                           \
        eta_err e_;                                                                                                \
        if ((call) != 0) {                                                                                         \
            (void)e_;                                                                                              \
            fail_msg("%s failed", #call);                                                                          \
        }                                                                                                          \
    } while (0)

static int step_at(eta_metrics *m, int64_t step, int64_t epoch, double lr, double mom, double loss, double gn,
                   double time)
{
    double lrs[1] = {lr}, moms[1] = {mom};
    eta_train_step s = {.step = step, .epoch = epoch, .epoch_step = step, .lr = lrs, .momentum = moms,
                        .loss = loss, .grad_norm = gn, .samples = 32, .time = time};
    return eta_metrics_step(m, &s, NULL);
}

static void test_formats(void **state)
{
    (void)state;
    char *dir = mkdir_tmp();
    eta_metrics_config c = eta_metrics_defaults();
    assert_int_equal(c.ngroups, 1);
    assert_true(c.ratio_lo == 1e-5 && c.ratio_hi == 1e-1 && c.ratio_evals == 3 && c.vanish == 1e-8);
    c.dir = dir;
    c.momentum = true;
    c.accuracy = true;
    eta_metrics *m = open_sink(&c);
    assert_true(isnan(eta_metrics_smooth_loss(m)));
    OK(eta_metrics_eval(m, 0, 0, 2.5, 0.125, NULL));
    OK(step_at(m, 1, 0, 0.1, 0.9, 2.0, 1.0, 0.5));
    OK(step_at(m, 2, 0, 0.2, 0.85, 1.5, INFINITY, 1.0));
    assert_true(fabs(eta_metrics_smooth_loss(m) - (0.98 * 0.02 * 2.0 + 0.02 * 1.5) / (1 - 0.98 * 0.98)) < 1e-14);
    OK(step_at(m, 3, 1, 1e-8, 0.9, NAN, 3.0, 1.0)); /* no time passed: no rate */
    OK(eta_metrics_eval(m, 3, 1, 1.25, NAN, NULL));
    OK(eta_metrics_test(m, 3, 1.5, 0.5, NULL));
    OK(eta_metrics_message(m, 3, "warning", "a \"quoted\"\nline", NULL));
    eta_err err;
    assert_int_equal(step_at(m, 3, 1, 0.1, 0.9, 1, 1, 2), ETA_ESTATE);
    assert_int_equal(eta_metrics_message(m, 3, "debug", "x", &err), ETA_EINVAL);
    OK(eta_metrics_close(m, NULL));

    char *csv = slurp(dir, "metrics.csv");
    assert_string_equal(csv, "step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss,val_acc\n"
                             "0,0,,,,,,,2.5,0.125\n"
                             "1,0,0.1,0.9,2.0,2.0,1.0,64.0,,\n"
                             "2,0,0.2,0.85,1.5,1.7474747474747456,inf,64.0,,\n"
                             "3,1,1e-08,0.9,nan,1.7474747474747456,3.0,,1.25,\n");
    char *js = slurp(dir, "metrics.jsonl");
    assert_string_equal(
        js, "{\"type\":\"eval\",\"step\":0,\"epoch\":0,\"val_loss\":2.5,\"val_acc\":0.125}\n"
            "{\"type\":\"step\",\"step\":1,\"epoch\":0,\"lr\":[0.1],\"momentum\":[0.9],\"loss\":2.0,"
            "\"smooth_loss\":2.0,\"grad_norm\":1.0,\"samples_per_s\":64.0}\n"
            "{\"type\":\"step\",\"step\":2,\"epoch\":0,\"lr\":[0.2],\"momentum\":[0.85],\"loss\":1.5,"
            "\"smooth_loss\":1.7474747474747456,\"grad_norm\":\"inf\",\"samples_per_s\":64.0}\n"
            "{\"type\":\"step\",\"step\":3,\"epoch\":1,\"lr\":[1e-08],\"momentum\":[0.9],\"loss\":\"nan\","
            "\"smooth_loss\":1.7474747474747456,\"grad_norm\":3.0}\n"
            "{\"type\":\"eval\",\"step\":3,\"epoch\":1,\"val_loss\":1.25}\n"
            "{\"type\":\"test\",\"step\":3,\"test_loss\":1.5,\"test_acc\":0.5}\n"
            "{\"type\":\"message\",\"step\":3,\"level\":\"warning\",\"text\":\"a \\\"quoted\\\"\\u000aline\"}\n");
    char *lay = slurp(dir, "layers.csv");
    assert_string_equal(lay, "step,layer,grad_norm,update_ratio\n");
    free(csv);
    free(js);
    free(lay);
    rm_rf(dir);

    /* Two groups, no momentum, no accuracy; no directory: nothing written. */
    dir = mkdir_tmp();
    c = eta_metrics_defaults();
    c.dir = dir;
    c.ngroups = 2;
    m = open_sink(&c);
    double lrs[2] = {0.1, 0.01};
    eta_train_step s = {.step = 1, .lr = lrs, .loss = 1, .grad_norm = 1, .samples = 10, .time = 0.25};
    OK(eta_metrics_step(m, &s, NULL));
    OK(eta_metrics_eval(m, 1, 0, 0.5, 0.75, NULL)); /* an accuracy the sink was not told of: left out */
    OK(eta_metrics_eval(m, 2, 0, 0.25, NAN, NULL));  /* no training row at step 2: a row of its own */
    OK(eta_metrics_close(m, NULL));
    csv = slurp(dir, "metrics.csv");
    assert_string_equal(csv, "step,epoch,lr_0,lr_1,loss,smooth_loss,grad_norm,samples_per_s,val_loss\n"
                             "1,0,0.1,0.01,1.0,1.0,1.0,40.0,0.5\n"
                             "2,0,,,,,,,0.25\n");
    free(csv);
    rm_rf(dir);
    c.dir = NULL;
    m = open_sink(&c);
    OK(eta_metrics_step(m, &s, NULL));
    OK(eta_metrics_close(m, NULL));
    c.dir = "/nonexistent/eta_run";
    assert_int_equal(eta_metrics_open(&m, &c, &err), ETA_EIO);
    assert_string_equal(err.msg, "/nonexistent/eta_run/metrics.csv: No such file or directory");
    c.ngroups = 0;
    assert_int_equal(eta_metrics_open(&m, &c, &err), ETA_EINVAL);
}

/* The log callback collects lines. */
typedef struct lines {
    char text[16][600];
    int n;
} lines;

static void collect(void *ud, const char *line)
{
    lines *l = ud;
    if (l->n < 16)
        snprintf(l->text[l->n], sizeof l->text[0], "%s", line);
    l->n++;
}

static void test_layers_and_warnings(void **state)
{
    (void)state;
    /* The helper: grad (1, 2, 2) has norm 3; w (3, 4) -> (3, 4.005): ratio 0.005 / 5. */
    float wb[3] = {3, 4, 0}, wa[3] = {3, 4.005f, 0}, g[3] = {1, 2, 2};
    eta_layer_stats st;
    eta_layer_stats_compute(&st, "fc.weight", wb, wa, g, 3);
    assert_string_equal(st.name, "fc.weight");
    assert_true(st.grad_norm == 3);
    assert_true(fabs(st.update_ratio - ((double)4.005f - 4) / 5) < 1e-15);
    float z[2] = {0, 0};
    eta_layer_stats_compute(&st, "b", z, z, z, 2);
    assert_true(isnan(st.update_ratio) && st.grad_norm == 0);

    char *dir = mkdir_tmp();
    lines log = {0};
    eta_metrics_config c = eta_metrics_defaults();
    c.dir = dir;
    c.log = collect;
    c.log_ud = &log;
    eta_metrics *m = open_sink(&c);
    /* Layer "hot" has a ratio of 0.5, "dead,1" a vanishing gradient, "cold"
     * a ratio of 1e-7 while the lr is at its peak, then while annealed. */
    for (int64_t e = 1; e <= 8; e++) {
        double lr = e <= 4 ? 0.1 : 0.001;
        OK(step_at(m, e * 10, 0, lr, 0.9, 1.0, 1.0, (double)e));
        eta_layer_stats l[4] = {{"hot", 1.0, 0.5}, {"dead,1", 1e-12, 1e-3}, {"ok", 2.0, 1e-3},
                                {"cold", 1.0, e == 2 ? 1e-3 : 1e-7}};
        OK(eta_metrics_layers(m, e * 10, l, 4, NULL));
    }
    OK(eta_metrics_close(m, NULL));
    /* hot: at evals 1, 2, 3 -> a warning at step 30, once; dead: at step 30;
     * cold: evals 3, 4 only (2 was in range, 5.. are annealed): never. */
    assert_int_equal(log.n, 2);
    assert_string_equal(log.text[0], "warning: layer hot: update/weight ratio 0.5 above 0.1 for 3 evaluations (about "
                                     "1e-3 is healthy): the learning rate may be too high for this layer");
    assert_non_null(strstr(log.text[1], "warning: layer dead,1: gradient norm 1e-12 below 1e-08 x the total"));
    char *lay = slurp(dir, "layers.csv");
    assert_non_null(strstr(lay, "step,layer,grad_norm,update_ratio\n10,hot,1.0,0.5\n10,\"dead,1\",1e-12,0.001\n"));
    free(lay);
    char *js = slurp(dir, "metrics.jsonl");
    assert_non_null(strstr(js, "{\"type\":\"layer\",\"step\":10,\"layer\":\"dead,1\",\"grad_norm\":1e-12,"
                               "\"update_ratio\":0.001}\n"));
    assert_non_null(strstr(js, "{\"type\":\"warning\",\"step\":30,\"layer\":\"hot\",\"kind\":\"update_ratio_high\","
                               "\"value\":0.5,\"text\":\"layer hot: update/weight ratio 0.5 above 0.1"));
    assert_non_null(strstr(js, "\"kind\":\"grad_vanishing\""));
    assert_null(strstr(js, "update_ratio_low"));
    free(js);
    rm_rf(dir);

    /* The same "cold" layer with the lr kept at its peak: warned at the 4th eval. */
    dir = mkdir_tmp();
    log.n = 0;
    c.dir = dir;
    m = open_sink(&c);
    for (int64_t e = 1; e <= 6; e++) {
        OK(step_at(m, e, 0, 0.1, 0.9, 1.0, 1.0, (double)e));
        eta_layer_stats l = {"cold", 1.0, e == 2 ? 1e-3 : 1e-7};
        OK(eta_metrics_layers(m, e, &l, 1, NULL));
    }
    OK(eta_metrics_close(m, NULL));
    assert_int_equal(log.n, 1);
    assert_non_null(strstr(log.text[0], "layer cold: update/weight ratio 1e-07 below 1e-05 for 3 evaluations"));
    js = slurp(dir, "metrics.jsonl");
    assert_non_null(strstr(js, "{\"type\":\"warning\",\"step\":5,\"layer\":\"cold\",\"kind\":\"update_ratio_low\""));
    free(js);
    rm_rf(dir);
}

static eta_guard_event guard_ok(int64_t step, bool snapshot)
{
    return (eta_guard_event){.action = ETA_GUARD_OK, .step = step, .value = NAN, .threshold = NAN, .z = NAN,
                             .lr = 0.1, .lr_factor = 1, .lr_scale = 1, .lr_next = 0.1, .lr_snapshot = 0.1,
                             .to_step = -1, .snapshot = snapshot};
}

/* A scripted run: guard step k (updates done) then sink step k + 1, evals
 * and layers every 5, snapshots every 4 steps, a rollback at update 10 to
 * the snapshot at 8 with the lr halved, then on to `last`. With `cut` >= 0,
 * the state after update `cut` is returned in *state and the run goes on to
 * cut + 7 then stops (a crash). With `from` >= 0 the run starts from the
 * resumed state after update `from`, its clock restarted. */
static void script(eta_metrics *m, int64_t from, int64_t last, int64_t cut, void **state, size_t *len)
{
    bool rolled = from >= 10;
    double scale = rolled ? 0.5 : 1;
    for (int64_t k = from < 0 ? 0 : from; k < last; k++) {
        eta_guard_event ev = guard_ok(k, k % 4 == 0 && !(rolled && k == 8));
        if (k == 10 && !rolled) {
            ev = (eta_guard_event){.action = ETA_GUARD_ROLLBACK, .trigger = ETA_GUARD_LOSS_SPIKE, .step = 10,
                                   .value = 40, .threshold = 9, .z = 7.5, .lr = 0.1, .lr_factor = 0.5,
                                   .lr_scale = 0.5, .lr_next = 0.05, .lr_snapshot = 0.1, .to_step = 8, .tries = 1};
            OK(eta_metrics_guard(m, &ev, NULL));
            rolled = true;
            scale = 0.5;
            k = 7; /* the loop's k++ makes it 8 */
            continue;
        }
        OK(eta_metrics_guard(m, &ev, NULL));
        double t = (double)(k + 1 - (from < 0 ? 0 : from)) * 0.5;
        double loss = 2.0 / (1 + 0.1 * (double)k) + (rolled && k >= 8 ? 0.001 : 0);
        OK(step_at(m, k + 1, k / 6, 0.1 * scale, 0.9, loss, 1.0 + 0.01 * (double)(k % 3), t));
        if ((k + 1) % 5 == 0) {
            OK(eta_metrics_eval(m, k + 1, k / 6, loss * 1.1, 0.5 + 0.01 * (double)k, NULL));
            eta_layer_stats l[2] = {{"fc1.weight", 0.5, 0.2}, {"fc2.weight", 0.25, 1e-3}};
            OK(eta_metrics_layers(m, k + 1, l, 2, NULL));
        }
        if (k + 1 == cut) {
            eta_err err;
            if (eta_metrics_save_state(m, state, len, &err))
                fail_msg("save_state: %s", err.msg);
            last = cut + 7;
            cut = -1; /* once: not again when a rollback replays the step */
        }
    }
}

static void test_guard_rollback(void **state)
{
    (void)state;
    char *dir = mkdir_tmp();
    eta_metrics_config c = eta_metrics_defaults();
    c.dir = dir;
    c.momentum = true;
    eta_metrics *m = open_sink(&c);
    script(m, -1, 10, -1, NULL, NULL); /* updates 1..10 done, snapshot at 8 */
    OK(eta_metrics_flush(m, NULL));
    char *csv_before = slurp(dir, "metrics.csv");
    eta_guard_event ev = {.action = ETA_GUARD_ROLLBACK, .trigger = ETA_GUARD_NONFINITE_LOSS, .step = 10,
                          .value = NAN, .threshold = NAN, .z = NAN, .lr = 0.1, .lr_factor = 0.5, .lr_scale = 0.5,
                          .lr_next = 0.05, .lr_snapshot = 0.1, .to_step = 8, .tries = 1};
    OK(eta_metrics_guard(m, &ev, NULL));
    OK(eta_metrics_flush(m, NULL));
    char *csv = slurp(dir, "metrics.csv");
    /* Rows 9 and 10 are gone, row 8 stays. */
    char *row9 = strstr(csv_before, "\n9,");
    assert_non_null(row9);
    assert_int_equal(strlen(csv), (size_t)(row9 - csv_before) + 1);
    assert_memory_equal(csv, csv_before, strlen(csv));
    double l0 = 2.0, avg = 0; /* the smoothed loss is back at update 8's */
    for (int k = 0; k < 8; k++) {
        l0 = 2.0 / (1 + 0.1 * k);
        avg = 0.98 * avg + (1 - 0.98) * l0;
    }
    if (eta_metrics_smooth_loss(m) != avg / (1 - pow(0.98, 8)))
        fail_msg("smooth %.17g, want %.17g", eta_metrics_smooth_loss(m), avg / (1 - pow(0.98, 8)));
    char *js = slurp(dir, "metrics.jsonl");
    assert_non_null(strstr(js, "{\"type\":\"guard\",\"step\":10,\"action\":\"rollback\",\"trigger\":\"nonfinite_loss\","
                               "\"value\":\"nan\",\"lr\":0.1,\"lr_next\":0.05,\"lr_scale\":0.5,\"to_step\":8,"
                               "\"tries\":1,\"text\":\"guard: step 10: the loss is nan; rolled back to step 8"));
    char *lay = slurp(dir, "layers.csv"); /* step 5's rows stay, step 10's go */
    assert_string_equal(lay, "step,layer,grad_norm,update_ratio\n5,fc1.weight,0.5,0.2\n5,fc2.weight,0.25,0.001\n");
    free(lay);
    /* Update 9 again: accepted; a rollback to a step the sink has no snapshot of is refused. */
    OK(step_at(m, 9, 1, 0.05, 0.9, 1.0, 1.0, 6));
    ev.to_step = 4;
    eta_err err;
    assert_int_equal(eta_metrics_guard(m, &ev, &err), ETA_ESTATE);
    assert_non_null(strstr(err.msg, "no snapshot"));
    OK(eta_metrics_close(m, NULL));
    free(csv_before);
    free(csv);
    free(js);
    rm_rf(dir);
}

/* An uninterrupted run and a run cut after its checkpoint at update 12
 * (written up to 19), resumed: the same bytes in every file. */
static void test_resume_identical(void **state)
{
    (void)state;
    const char *names[] = {"metrics.csv", "layers.csv", "metrics.jsonl"};
    const int64_t cuts[] = {4, 9, 12}; /* before the snapshot at 8, between it and the rollback at 10, after */
    for (int ci = 0; ci < 3; ci++) {
        int64_t cut = cuts[ci];
        char *da = mkdir_tmp(), *db = mkdir_tmp();
        eta_metrics_config c = eta_metrics_defaults();
        c.momentum = true;
        c.accuracy = true;
        c.dir = da;
        eta_metrics *m = open_sink(&c);
        script(m, -1, 30, -1, NULL, NULL);
        OK(eta_metrics_close(m, NULL));

        c.dir = db;
        m = open_sink(&c);
        void *st = NULL;
        size_t len = 0;
        script(m, -1, 30, cut, &st, &len);
        OK(eta_metrics_close(m, NULL));
        char *junk = slurp(db, "metrics.csv");
        char want[32];
        snprintf(want, sizeof want, "\n%lld,", (long long)cut + 7);
        assert_non_null(strstr(junk, want)); /* the crashed run went past its checkpoint */
        free(junk);
        c.resume = st;
        c.resume_len = len;
        m = open_sink(&c);
        script(m, cut, 30, -1, NULL, NULL);
        OK(eta_metrics_close(m, NULL));
        for (int i = 0; i < 3; i++) {
            char *a = slurp(da, names[i]), *b = slurp(db, names[i]);
            if (strcmp(a, b))
                fail_msg("cut %lld: %s differs after the resume", (long long)cut, names[i]);
            free(a);
            free(b);
        }
        free(st);
        rm_rf(da);
        rm_rf(db);
    }
}

static void test_resume_refused(void **state)
{
    (void)state;
    char *dir = mkdir_tmp();
    eta_metrics_config c = eta_metrics_defaults();
    c.dir = dir;
    eta_metrics *m = open_sink(&c);
    void *st;
    size_t len;
    script(m, -1, 30, 20, &st, &len);
    OK(eta_metrics_close(m, NULL));
    c.resume = st;
    c.resume_len = len;
    eta_err err;
    /* Other columns. */
    eta_metrics_config c2 = c;
    c2.ngroups = 2;
    assert_int_equal(eta_metrics_open(&m, &c2, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "saved for 1 parameter groups"));
    /* A damaged state. */
    unsigned char *bad = malloc(len);
    memcpy(bad, st, len);
    bad[len / 2] ^= 4;
    c2 = c;
    c2.resume = bad;
    assert_int_equal(eta_metrics_open(&m, &c2, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    free(bad);
    /* metrics.jsonl changed at its start: named, refused. */
    char p[512];
    snprintf(p, sizeof p, "%s/metrics.jsonl", dir);
    FILE *f = fopen(p, "r+");
    fputc('[', f);
    fclose(f);
    assert_int_equal(eta_metrics_open(&m, &c, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "metrics.jsonl: its first"));
    /* metrics.csv cut short. */
    snprintf(p, sizeof p, "%s/metrics.csv", dir);
    assert_int_equal(truncate(p, 40), 0);
    assert_int_equal(eta_metrics_open(&m, &c, &err), ETA_EFORMAT);
    assert_non_null(strstr(err.msg, "metrics.csv: 40 bytes, but the checkpoint needs its first"));
    /* layers.csv gone. */
    snprintf(p, sizeof p, "%s/layers.csv", dir);
    remove(p);
    c2 = c;
    assert_int_equal(eta_metrics_open(&m, &c2, &err), ETA_EFORMAT);
    free(st);
    rm_rf(dir);
}

/* The progress display gets the steps, the evaluations and the guard's lines. */
static void test_progress_writer(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    eta_progress_config pc = eta_progress_defaults();
    pc.fd = fileno(f);
    pc.log_every = 2;
    pc.epochs = 1;
    pc.steps_per_epoch = 4;
    eta_progress *p;
    OK(eta_progress_new(&p, &pc, NULL));
    eta_metrics_config c = eta_metrics_defaults();
    c.progress = p;
    c.accuracy = true;
    eta_metrics *m = open_sink(&c);
    for (int64_t s = 1; s <= 4; s++)
        OK(step_at(m, s, 0, 0.1, 0.9, 2.0, 1.0, (double)s));
    eta_metrics_epoch_end(m);
    OK(eta_metrics_eval(m, 4, 0, 0.75, 0.875, NULL));
    eta_guard_event ev = {.action = ETA_GUARD_SKIP, .trigger = ETA_GUARD_NONFINITE_GRAD_NORM, .step = 4,
                          .value = INFINITY, .threshold = NAN, .z = NAN, .lr = 0.1, .lr_factor = 1, .lr_scale = 1,
                          .lr_next = 0.1, .lr_snapshot = NAN, .to_step = -1, .tries = 1};
    OK(eta_metrics_guard(m, &ev, NULL));
    OK(eta_metrics_close(m, NULL));
    eta_progress_free(p);
    fflush(f);
    rewind(f);
    char out[2048] = {0};
    size_t n = fread(out, 1, sizeof out - 1, f);
    (void)n;
    fclose(f);
    assert_string_equal(out, "epoch 1/1 step 2/4 loss 2 lr 0.1 grad_norm 1 samples/s 32 elapsed 0:02 left 0:02\n"
                             "epoch 1/1 step 4/4 loss 2 lr 0.1 grad_norm 1 samples/s 32 elapsed 0:04 left 0:00\n"
                             "epoch 1/1 done: step 4/4 loss 2 lr 0.1 grad_norm 1 samples/s 32 elapsed 0:04 left 0:00\n"
                             "eval step 4 (epoch 1): val_loss 0.75 val_acc 0.8750\n"
                             "guard: step 4: the gradient norm is inf; step skipped (1 in a row)\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_formats),          cmocka_unit_test(test_layers_and_warnings),
        cmocka_unit_test(test_guard_rollback),   cmocka_unit_test(test_resume_identical),
        cmocka_unit_test(test_resume_refused),   cmocka_unit_test(test_progress_writer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
