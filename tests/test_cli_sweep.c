/* test_cli_sweep.c - eta sweep end to end: a grid over the learning rate in
 * two workers (sweep.csv, the ranked summary, the charts, each trial's
 * config with its lr inside the optimizer spec), pruning (successive
 * halving cuts trials short; a diverging rate is pruned at once), usage
 * errors (exit 2), a sweep killed with SIGKILL and run again (finished
 * trials are not redone, the interrupted one runs again from its
 * checkpoint), and a second process joining a study. labels: cli full
 *
 * Data: scikit-learn's iris and digits CSVs from data/ (the tests skip,
 * saying so, without them). The study is read back with src/tune/study.c.
 */
#include "train_harness.h"

#include <sqlite3.h>

#include "tune/sweep.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_cli_sweep_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

/* Digits for 25 epochs: a trial takes about a second, so a kill lands inside one. */
static const char *const DIGITS = "[data]\n"
                                  "spec = CSV('sklearn/digits.csv.gz')\n"
                                  "batch_size = 32\n"
                                  "[model]\n"
                                  "spec = Sequential(Linear(64, 256), ReLU(), Linear(256, 10))\n"
                                  "[optimizer]\n"
                                  "spec = SGD(lr=0.01, momentum=0.9)\n"
                                  "[train]\n"
                                  "epochs = 25\n"
                                  "[output]\n"
                                  "plots = false\n";

/* dir/name in a static buffer of its own (one of eight): dir may be path_in's. */
static const char *in_dir(const char *dir, const char *name)
{
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static void sleep_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static int count_lines_str(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

static const char *write_config(const char *name, const char *text)
{
    const char *path = path_in(root, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* The study in dir: its trials and rows (free with sweep_study_view_free, free). */
static void load_study(const char *dir, sweep_study_view *v, sweep_trial_row **rows)
{
    sweep_study *st;
    eta_err err;
    if (sweep_study_open(&st, in_dir(dir, "study.db"), &err))
        fail_msg("%s", err.msg);
    if (sweep_study_load(st, v, rows, &err))
        fail_msg("%s", err.msg);
    sweep_study_close(st);
}

/* Waits (up to 10 s) until no process that holds a running trial of the study in dir runs (a zombie
 * has ended). */
static void wait_workers_gone(const char *dir)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(in_dir(dir, "study.db"), &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    for (int waited = 0; waited < 10000; waited += 20) {
        sqlite3_stmt *s;
        int alive = 0;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT pid FROM trials WHERE state = 'running'", -1, &s, NULL),
                         SQLITE_OK);
        while (sqlite3_step(s) == SQLITE_ROW) {
            char path[64], stat[1024];
            snprintf(path, sizeof path, "/proc/%lld/stat", (long long)sqlite3_column_int64(s, 0));
            FILE *f = fopen(path, "r"); /* /proc files have no size: read_file would read nothing */
            if (f && fgets(stat, sizeof stat, f)) {
                const char *p = strrchr(stat, ')');
                alive += p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
            }
            if (f)
                fclose(f);
        }
        sqlite3_finalize(s);
        if (!alive)
            break;
        sleep_ms(20);
    }
    sqlite3_close(db);
}

static int count_state(const sweep_study_view *v, sweep_state s)
{
    int n = 0;
    for (int i = 0; i < v->ntrials; i++)
        n += v->trials[i].state == s;
    return n;
}

static void test_grid(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = write_config("iris.ini", TRAIN_CONFIG_IRIS), *dir = path_in(root, "grid");
    char *out;
    const char *argv[] = {"sweep", cfg, "--grid", "optimizer.lr=logspace(1e-3, 1e-1, 3)", "--workers", "2",
                          "--dir", dir, NULL};
    char *err = eta_expect(0, argv, NULL, &out);
    expect_has("stdout", out, "rank,trial,optimizer.lr,state,val_loss,steps,seconds\n");
    expect_has("stderr", err, "compute: 108 optimizer steps over 3 trials, 100.0% of the 108 that 3 full runs take");
    assert_int_equal(count_lines(in_dir(dir, "sweep.csv")), 4);
    assert_int_equal(count_lines_str(out), 4);
    assert_true(file_exists(in_dir(dir, "metric_vs_optimizer.lr.png")));
    assert_true(file_exists(in_dir(dir, "curves.png")));
    /* ranked: the values rise down the summary */
    double last = -INFINITY;
    int rows = 0;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1, rows++) {
        double v;
        char lr[32], st[16];
        assert_int_equal(sscanf(line, "%*d,%*d,%31[^,],%15[^,],%lf", lr, st, &v), 3);
        assert_string_equal(st, "complete");
        assert_true(v >= last);
        last = v;
    }
    assert_int_equal(rows, 3);
    /* each trial's lr went into its config as optimizer.lr, the run's peak rate */
    int found = 0;
    for (int i = 0; i < 3; i++) {
        char name[64];
        snprintf(name, sizeof name, "grid/trial-%04d/config.ini", i);
        char *ini = read_file(path_in(root, name), NULL);
        assert_non_null(ini);
        found += strstr(ini, "\nlr = 0.001\n") != NULL || strstr(ini, "\nlr = 0.01\n") != NULL ||
                 strstr(ini, "\nlr = 0.1\n") != NULL;
        expect_has(name, ini, "threads = 1");
        free(ini);
    }
    assert_int_equal(found, 3);
    free(out);
    free(err);
    /* val_acc is maximized: the summary falls; Halton's points 0, 1, 2 of loguniform(1e-3, 0.1) are
     * 1e-3, 1e-2 (the middle in log) and 10^-2.5, as exp(log lo + u (log hi - log lo)) rounds them
     * (Optuna's log-uniform) */
    dir = path_in(root, "acc");
    const char *argv2[] = {"sweep", cfg, "--random", "optimizer.lr=loguniform(1e-3, 0.1)", "--trials", "3",
                           "--sampler", "halton", "--metric", "val_acc", "--dir", dir, NULL};
    err = eta_expect(0, argv2, NULL, &out);
    expect_has("stdout", out, "rank,trial,optimizer.lr,state,val_acc,steps,seconds\n");
    last = INFINITY;
    for (char *line = strchr(out, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
        double v;
        assert_int_equal(sscanf(line, "%*d,%*d,%*[^,],complete,%lf", &v), 1);
        assert_true(v <= last);
        last = v;
    }
    sweep_study_view v;
    load_study(dir, &v, NULL);
    assert_true(v.maximize);
    sweep_study_view_free(&v);
    char *csv = read_file(in_dir(dir, "sweep.csv"), NULL);
    expect_has("sweep.csv", csv, "trial,optimizer.lr,state,val_acc,steps,seconds,note\n");
    expect_has("sweep.csv", csv, "\n0,0.0010000000000000002,complete,");
    expect_has("sweep.csv", csv, "\n1,0.010000000000000004,complete,");
    expect_has("sweep.csv", csv, "\n2,0.003162277660168382,complete,");
    free(csv);
    free(out);
    free(err);
}

static void test_prune(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = write_config("iris-prune.ini", TRAIN_CONFIG_IRIS), *dir = path_in(root, "prune");
    /* 6 steps an epoch, 36 a trial: rungs at steps 6 and 24; lr from 1e-4: slow trials lose */
    const char *argv[] = {"sweep", cfg, "--random", "optimizer.lr=loguniform(1e-4, 0.1)", "--trials", "8",
                          "--pruner", "sh(min_resource=6)", "--workers", "1", "--seed", "3", "--dir", dir, NULL};
    char *out, *err = eta_expect(0, argv, NULL, &out);
    sweep_study_view v;
    sweep_trial_row *r;
    load_study(dir, &v, &r);
    assert_int_equal(v.ntrials, 8);
    int pruned = count_state(&v, SWEEP_PRUNED), complete = count_state(&v, SWEEP_COMPLETE);
    assert_int_equal(pruned + complete, 8);
    assert_true(pruned >= 3 && complete >= 1);
    for (int i = 0; i < 8; i++)
        assert_true(v.trials[i].state == SWEEP_COMPLETE ? r[i].steps == 36 : r[i].steps < 36);
    expect_has("stdout", out, ",pruned,");
    sweep_study_view_free(&v);
    free(r);
    free(out);
    free(err);
    /* a diverging rate: pruned at once (the guard stops it, or its value is not finite) */
    dir = path_in(root, "diverge");
    const char *argv2[] = {"sweep", cfg, "--grid", "optimizer.lr=[0.01, 1e6]", "--workers", "1", "--set",
                           "optimizer=SGD(lr=0.1)", "--set", "guard.max_tries=1", "--dir", dir, NULL};
    err = eta_expect(0, argv2, NULL, &out);
    load_study(dir, &v, &r);
    assert_int_equal(v.ntrials, 2);
    assert_int_equal(count_state(&v, SWEEP_PRUNED), 1);
    for (int i = 0; i < 2; i++)
        if (v.trials[i].state == SWEEP_PRUNED)
            assert_true(r[i].steps < 36);
    sweep_study_view_free(&v);
    free(r);
    free(out);
    free(err);
}

static void test_usage(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = write_config("iris-usage.ini", TRAIN_CONFIG_IRIS);
    struct {
        const char *argv[12], *msg;
    } cases[] = {
        {{"sweep", NULL}, "expected one config file"},
        {{"sweep", cfg, NULL}, "nothing to sweep"},
        {{"sweep", cfg, "--grid", "optimizer.lr", NULL}, "expected KEY=VALUES"},
        {{"sweep", cfg, "--grid", "optimizer.lr=logspace(0, 1, 3)", NULL}, "positive ends"},
        {{"sweep", cfg, "--random", "optimizer.lr=loguniform(1e-4, 1)", NULL}, "--random needs --trials"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--pruner", "tpe", NULL}, "unknown pruner 'tpe'"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--metric", "loss", NULL}, "'loss' is not a metric"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--sampler", "tpe", NULL}, "unknown sampler 'tpe'"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--trials", "2", NULL}, "the grid has 1 points"},
        {{"sweep", cfg, "--grid", "trian.epochs=[1]", "--dir", path_in(root, "u1"), NULL}, "trian"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--workers", "0", NULL}, "--workers"},
        {{"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--bogus", NULL}, "bogus"},
        {{"sweep", "--join", path_in(root, "nothing"), NULL}, "no study.db there"},
        {{"sweep", "--join", root, "--grid", "optimizer.lr=[0.1]", NULL}, "--join takes the sweep directory"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *err = eta_expect(2, cases[i].argv, NULL, NULL);
        expect_has(cases[i].argv[2] ? cases[i].argv[2] : "eta sweep", err, cases[i].msg);
        free(err);
    }
    const char *help[] = {"sweep", "--help", NULL};
    char *out, *err = eta_expect(0, help, NULL, &out);
    expect_has("--help", out, "usage: eta sweep CONFIG");
    free(out);
    free(err);
    /* optimizer.lr is the run's peak rate (docs/lrfind.md): under OneCycleLR it scales max_lr, so
     * no warning */
    const char *w[] = {"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--set", "schedule=OneCycleLR(max_lr=0.01)",
                       "--dir", path_in(root, "moot"), NULL};
    err = eta_expect(0, w, NULL, &out);
    assert_null(strstr(err, "warning"));
    char *ini = read_file(path_in(root, "moot/trial-0000/config.ini"), NULL);
    assert_non_null(ini);
    expect_has("config.ini", ini, "lr = 0.1\n");
    expect_has("config.ini", ini, "OneCycleLR(max_lr=0.01)");
    free(ini);
    free(out);
    free(err);
    /* the same directory with other settings: refused */
    const char *dir = path_in(root, "again");
    const char *a1[] = {"sweep", cfg, "--grid", "optimizer.lr=[0.1]", "--dir", dir, NULL};
    free(eta_expect(0, a1, NULL, NULL));
    const char *a2[] = {"sweep", cfg, "--grid", "optimizer.lr=[0.2]", "--dir", dir, NULL};
    err = eta_expect(2, a2, NULL, NULL);
    expect_has("a second sweep", err, "already holds another sweep (its space differs)");
    free(err);
    /* the same settings: nothing left to do, the outputs again */
    err = eta_expect(0, a1, NULL, &out);
    expect_has("stdout", out, "1,0,0.1,complete,");
    assert_null(strstr(err, "trial 0:")); /* not run again */
    free(out);
    free(err);
}

/* Trial numbers a log mentions as started ("trial N: lr=...") into seen[]. */
static int started_trials(const char *log, int *seen, int n)
{
    int count = 0;
    for (const char *p = log; p && (p = strstr(p, "trial ")); p++) {
        int k, used = 0;
        if (sscanf(p, "trial %d: optimizer.lr=%*s%n", &k, &used) == 1 && used > 0 && k >= 0 && k < n) {
            seen[k]++;
            count++;
        }
    }
    return count;
}

static void test_kill_and_restart(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = write_config("digits.ini", DIGITS), *dir = path_in(root, "kill");
    const char *argv[] = {"sweep", cfg, "--grid", "optimizer.lr=logspace(1e-3, 0.3, 6)", "--workers", "1",
                          "--dir", dir, NULL};
    pid_t pid = eta_spawn(argv, NULL, NULL, path_in(root, "kill1.err"));
    /* kill once two trials are complete */
    int complete = 0;
    for (int waited = 0; waited < 60000 && complete < 2; waited += 20) {
        sleep_ms(20);
        if (!file_exists(in_dir(dir, "study.db")))
            continue;
        sweep_study_view v;
        load_study(dir, &v, NULL);
        complete = count_state(&v, SWEEP_COMPLETE);
        sweep_study_view_free(&v);
    }
    sleep_ms(300); /* into the next trial */
    kill(pid, SIGKILL);
    assert_int_equal(eta_wait(pid), -SIGKILL);
    wait_workers_gone(dir); /* a restart comes after the crash: the worker dies with its parent */
    sweep_study_view v;
    sweep_trial_row *r;
    load_study(dir, &v, &r);
    int done_before[16] = {0}, ndone = 0, running = -1;
    for (int i = 0; i < v.ntrials; i++) {
        done_before[i] = v.trials[i].state == SWEEP_COMPLETE;
        ndone += done_before[i];
        if (v.trials[i].state == SWEEP_RUNNING)
            running = i;
    }
    assert_true(ndone >= 2 && ndone < 6);
    sweep_study_view_free(&v);
    free(r);
    /* again: the finished trials are not redone */
    char *out, *err = eta_expect(0, argv, NULL, &out);
    int seen[16] = {0};
    started_trials(err, seen, 16);
    for (int i = 0; i < 6; i++)
        if (done_before[i] && seen[i])
            fail_msg("trial %d was complete before the kill and ran again:\n%s", i, err);
    if (running >= 0) {
        if (seen[running] != 1)
            fail_msg("the interrupted trial %d started %d times in the second run:\n%s", running, seen[running], err);
        bool resumed = strstr(err, "(resumed from its checkpoint)") != NULL;
        if (!resumed && !strstr(err, "(run again)"))
            fail_msg("the interrupted trial %d was not taken up again:\n%s", running, err);
        print_message("killed with %d trials complete; trial %d %s\n", ndone, running,
                      resumed ? "resumed from its checkpoint" : "run again from its start");
    }
    load_study(dir, &v, &r);
    assert_int_equal(v.ntrials, 6);
    assert_int_equal(count_state(&v, SWEEP_COMPLETE), 6);
    /* the same sweep uninterrupted: every trial ends with the same value and steps, bit for bit (the
     * resumed one included) */
    const char *ref = path_in(root, "kill-ref");
    const char *argv2[] = {"sweep", cfg, "--grid", "optimizer.lr=logspace(1e-3, 0.3, 6)", "--workers", "1",
                           "--dir", ref, NULL};
    free(out);
    free(err);
    err = eta_expect(0, argv2, NULL, &out);
    sweep_study_view v2;
    sweep_trial_row *r2;
    load_study(ref, &v2, &r2);
    for (int i = 0; i < 6; i++) {
        if (r[i].value != r2[i].value || r[i].steps != r2[i].steps)
            fail_msg("trial %d: %.17g after %lld steps, uninterrupted %.17g after %lld", i, r[i].value,
                     (long long)r[i].steps, r2[i].value, (long long)r2[i].steps);
        assert_true(r[i].steps >= 25 * 34 - 5 && r[i].steps <= 25 * 34); /* 34 batches an epoch, a few undone */
    }
    sweep_study_view_free(&v);
    sweep_study_view_free(&v2);
    free(r);
    free(r2);
    free(out);
    free(err);
}

static void test_join(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = write_config("digits-join.ini", DIGITS), *dir = path_in(root, "join");
    const char *a[] = {"sweep", cfg, "--grid", "optimizer.lr=logspace(1e-3, 0.3, 8)", "--workers", "1",
                       "--dir", dir, NULL};
    const char *b[] = {"sweep", "--join", dir, "--workers", "1", NULL};
    const char *alog = path_in(root, "joina.err"), *blog = path_in(root, "joinb.err");
    pid_t pa = eta_spawn(a, NULL, path_in(root, "joina.out"), alog);
    for (int waited = 0; waited < 60000; waited += 10) { /* the study has its settings once trial 0 starts */
        sleep_ms(10);
        char *t = read_file(alog, NULL);
        bool started = t && strstr(t, "trial 0:");
        free(t);
        if (started)
            break;
    }
    pid_t pb = eta_spawn(b, NULL, path_in(root, "joinb.out"), blog);
    assert_int_equal(eta_wait(pa), 0);
    assert_int_equal(eta_wait(pb), 0);
    char *ta = read_file(alog, NULL), *tb = read_file(blog, NULL);
    int seen[16] = {0};
    int na = started_trials(ta, seen, 16), nb = started_trials(tb, seen, 16);
    for (int i = 0; i < 8; i++)
        if (seen[i] != 1)
            fail_msg("trial %d started %d times:\nA:\n%s\nB:\n%s", i, seen[i], ta, tb);
    assert_true(na >= 1 && nb >= 1); /* both processes worked */
    sweep_study_view v;
    load_study(dir, &v, NULL);
    assert_int_equal(v.ntrials, 8);
    assert_int_equal(count_state(&v, SWEEP_COMPLETE), 8);
    sweep_study_view_free(&v);
    free(ta);
    free(tb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),  cmocka_unit_test(test_prune), cmocka_unit_test(test_usage),
        cmocka_unit_test(test_kill_and_restart), cmocka_unit_test(test_join),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
