/* mpi_sweep.c - `mpirun -np N eta sweep` (src/dist/sweep.c, src/tune/coord.c)
 * against the same sweep in one process (--workers 1): for each pruner the
 * two studies must hold the same trials bit for bit (params, state, final
 * value, steps, every intermediate value, every rung); --workers under
 * mpirun is a usage error said once; a worker killed with SIGKILL ends the
 * job with mpirun's message naming its rank ("process rank 1 ... exited on
 * signal 9"), and the same command then finishes the study. labels: cli full mpi
 *
 * CMake builds and registers it only when eta links MPI and mpirun exists
 * (ETA_MPIEXEC). Data: scikit-learn's iris and digits from data/.
 */
#include "train_harness.h"

#include "tune/sweep.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_mpi_sweep_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

static const char *mpiexec(void)
{
    const char *m = getenv("ETA_MPIEXEC");
    if (!m || !*m) {
        print_message("skipped: ETA_MPIEXEC is not set (CTest sets it to mpirun)\n");
        skip();
    }
    return m;
}

/* Starts `mpirun --allow-run-as-root --oversubscribe -np np eta argv...`,
 * its stdout and stderr into files. Returns its pid. */
static pid_t mpi_spawn(int np, const char *const *argv, const char *out_path, const char *err_path)
{
    const char *args[64];
    char nps[16];
    int n = 0;
    snprintf(nps, sizeof nps, "%d", np);
    args[n++] = mpiexec();
    args[n++] = "--allow-run-as-root";
    args[n++] = "--oversubscribe";
    args[n++] = "-np";
    args[n++] = nps;
    args[n++] = eta_bin();
    for (int i = 0; argv[i] && n < 63; i++)
        args[n++] = argv[i];
    args[n] = NULL;
    int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fo >= 0 && fe >= 0);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        setpgid(0, 0); /* its own group: a test that fails kills the whole job */
        /* under the sanitizers: Open MPI frees little of what MPI_Init allocates, in plugins it
         * unloads (stacks LSan cannot name), so the ranks leave leaks unchecked; ASan's and
         * UBSan's other checks stay on */
        setenv("LSAN_OPTIONS", "detect_leaks=0", 1);
        execv(args[0], (char *const *)args);
        _exit(127);
    }
    close(fo);
    close(fe);
    return pid;
}

/* Runs the mpirun job to its end: its exit status; stderr (malloc'd) in *err_text. */
static int mpi_run(int np, const char *const *argv, char **err_text)
{
    char o[1024], e[1024];
    snprintf(o, sizeof o, "%s/mpi.out", root);
    snprintf(e, sizeof e, "%s/mpi.err", root);
    pid_t job = mpi_spawn(np, argv, o, e);
    double t0 = test_now();
    int st;
    pid_t done;
    while ((done = waitpid(job, &st, WNOHANG)) == 0 && test_now() - t0 < 120) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    if (done == 0) { /* a sweep that waits forever: the whole job killed, its output shown */
        kill(-job, SIGKILL);
        eta_wait(job);
        char *text = read_file(e, NULL);
        fail_msg("mpirun -np %d eta %s ...: still running after 120 s; stderr:\n%s", np, argv[0], text ? text : "");
    }
    *err_text = read_file(e, NULL);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* Writes root/name; its path into buf (path_in's buffers are reused). */
static const char *write_config(const char *name, const char *text, char buf[1024])
{
    snprintf(buf, 1024, "%s/%s", root, name);
    FILE *f = fopen(buf, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return buf;
}

typedef struct study {
    sweep_study_view v;
    sweep_trial_row *rows;
    char texts[64][SWEEP_VALUE_LEN];
} study;

static void load(const char *dir, study *s)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/study.db", dir);
    sweep_study *st;
    eta_err err;
    if (sweep_study_open(&st, path, &err) || sweep_study_load(st, &s->v, &s->rows, &err))
        fail_msg("%s: %s", path, err.msg);
    const char *names[] = {"optimizer.lr"};
    double num;
    assert_true(s->v.ntrials <= 64);
    for (int i = 0; i < s->v.ntrials; i++)
        if (sweep_study_params(st, i, 1, names, &s->texts[i], &num, &err))
            fail_msg("%s: %s", path, err.msg);
    sweep_study_close(st);
}

static void unload(study *s)
{
    sweep_study_view_free(&s->v);
    free(s->rows);
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0 || (isnan(a) && isnan(b));
}

/* The two studies hold the same trials, bit for bit; returns how many were pruned. */
static int expect_same(const char *what, const study *a, const study *b)
{
    assert_int_equal(a->v.ntrials, b->v.ntrials);
    int pruned = 0;
    for (int i = 0; i < a->v.ntrials; i++) {
        const sweep_trial_view *x = &a->v.trials[i], *y = &b->v.trials[i];
        if (strcmp(a->texts[i], b->texts[i]) || x->state != y->state || !same_double(a->rows[i].value, b->rows[i].value) ||
            a->rows[i].steps != b->rows[i].steps || x->nvals != y->nvals)
            fail_msg("%s: trial %d: one process: lr %s, %s, value %.17g, %lld steps, %d reports; mpirun: lr %s, %s, "
                     "value %.17g, %lld steps, %d reports",
                     what, i, a->texts[i], sweep_state_name(x->state), a->rows[i].value, (long long)a->rows[i].steps,
                     x->nvals, b->texts[i], sweep_state_name(y->state), b->rows[i].value,
                     (long long)b->rows[i].steps, y->nvals);
        for (int k = 0; k < x->nvals; k++)
            if (x->steps[k] != y->steps[k] || !same_double(x->vals[k], y->vals[k]))
                fail_msg("%s: trial %d, report %d: step %lld value %.17g against step %lld value %.17g", what, i, k,
                         (long long)x->steps[k], x->vals[k], (long long)y->steps[k], y->vals[k]);
        for (int k = 0; k < SWEEP_MAX_RUNGS; k++)
            if (!same_double(x->rungs[k], y->rungs[k]))
                fail_msg("%s: trial %d, rung %d: %.17g against %.17g", what, i, k, x->rungs[k], y->rungs[k]);
        assert_int_not_equal(x->state, SWEEP_RUNNING);
        pruned += x->state == SWEEP_PRUNED;
    }
    return pruned;
}

/* Each pruner, with arguments that make it prune in 10 trials of 6 evaluations: the study of
 * `mpirun -np N` equals that of one process. */
static void test_same_study(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    mpiexec();
    char cbuf[1024];
    const char *cfg = write_config("iris.ini", TRAIN_CONFIG_IRIS, cbuf);
    static const struct {
        const char *pruner;
        int np;
    } cases[] = {
        {"sh(min_resource=6)", 2}, {"sh", 2},  {"median(n_startup_trials=2)", 2}, {"median(n_startup_trials=2)", 3},
        {"hyperband", 2},          {"asha", 2}, {"asha(reduction_factor=2)", 3},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char one[1024], many[1024];
        snprintf(one, sizeof one, "%s/one-%zu", root, c);
        snprintf(many, sizeof many, "%s/many-%zu", root, c);
        const char *argv[] = {"sweep",     cfg,   "--random", "optimizer.lr=loguniform(1e-4, 0.1)",
                              "--trials",  "10",  "--pruner", cases[c].pruner,
                              "--threads", "1",   "--seed",   "3",
                              "--dir",     one,   "--workers", "1",
                              NULL};
        free(eta_expect(0, argv, NULL, NULL));
        if (c == 0) { /* --threads 1 went into each trial's config (cores / workers would be 2 on two cores) */
            char ini[1100];
            snprintf(ini, sizeof ini, "%s/trial-0000/config.ini", one);
            char *text = read_file(ini, NULL);
            expect_has(ini, text, "\nthreads = 1\n");
            free(text);
        }
        argv[13] = many;
        argv[14] = NULL; /* no --workers under mpirun */
        char *err;
        int rc = mpi_run(cases[c].np, argv, &err);
        if (rc != 0)
            fail_msg("mpirun -np %d eta sweep --pruner %s: exit %d\n%s", cases[c].np, cases[c].pruner, rc, err);
        /* rank 0 alone prints: each trial's two lines once */
        expect_has("stderr", err, "trial 9: optimizer.lr=");
        assert_null(strstr(strstr(err, "trial 9: optimizer.lr=") + 1, "trial 9: optimizer.lr="));
        free(err);
        study a, b;
        load(one, &a);
        load(many, &b);
        char what[128];
        snprintf(what, sizeof what, "--pruner %s, -np %d", cases[c].pruner, cases[c].np);
        int pruned = expect_same(what, &a, &b);
        if (pruned == 0 || pruned == a.v.ntrials)
            fail_msg("%s: %d of %d trials pruned: the case tests no decision", what, pruned, a.v.ntrials);
        unload(&a);
        unload(&b);
    }
}

/* --workers has no meaning under mpirun: exit 2, said by rank 0 alone. */
static void test_usage(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    mpiexec();
    char cbuf[1024];
    const char *cfg = write_config("iris-usage.ini", TRAIN_CONFIG_IRIS, cbuf);
    const char *argv[] = {"sweep", cfg, "--grid", "optimizer.lr=[0.01, 0.1]", "--workers", "2", "--dir",
                          path_in(root, "usage"), NULL};
    char *err;
    int rc = mpi_run(2, argv, &err);
    assert_int_not_equal(rc, 0);
    expect_has("stderr", err, "--workers: under mpirun every process runs one trial at a time");
    assert_null(strstr(strstr(err, "--workers: under") + 1, "--workers: under"));
    free(err);
}

/* The pid of the eta process of rank `rank` whose command line holds `dir`, or -1. */
static pid_t rank_pid(int rank, const char *dir)
{
    DIR *d = opendir("/proc");
    assert_non_null(d);
    struct dirent *e;
    pid_t found = -1;
    char want[64];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    while (found < 0 && (e = readdir(d))) {
        char path[300], buf[65536];
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        bool has_dir = false, is_eta = n > 0 && strstr(buf, "eta") != NULL && strstr(buf, "mpirun") == NULL;
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            has_dir |= !strcmp(buf + i, dir);
        if (!is_eta || !has_dir)
            continue;
        snprintf(path, sizeof path, "/proc/%s/environ", e->d_name);
        f = fopen(path, "r");
        n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f)
            fclose(f);
        buf[n] = 0;
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (!strcmp(buf + i, want))
                found = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return found;
}

/* SIGKILL of rank 1 in the middle of a sweep: the job ends (mpirun's own
 * watch) within 60 s with a message naming rank 1; the same command then
 * takes up the interrupted trials and finishes the study. */
static void test_killed_worker(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    mpiexec();
    char cbuf[1024];
    const char *cfg = write_config("digits.ini", "[data]\n"
                                                 "spec = CSV('sklearn/digits.csv.gz')\n"
                                                 "batch_size = 32\n"
                                                 "[model]\n"
                                                 "spec = Sequential(Linear(64, 128), ReLU(), Linear(128, 10))\n"
                                                 "[optimizer]\n"
                                                 "spec = SGD(lr=0.01, momentum=0.9)\n"
                                                 "[train]\n"
                                                 "epochs = 60\n"
                                                 "[output]\n"
                                                 "plots = false\n", cbuf);
    char dir[1024], out[1024], errp[1024];
    snprintf(dir, sizeof dir, "%s/killed", root);
    snprintf(out, sizeof out, "%s/killed.out", root);
    snprintf(errp, sizeof errp, "%s/killed.err", root);
    const char *argv[] = {"sweep", cfg, "--grid", "optimizer.lr=logspace(1e-3, 1e-1, 4)", "--threads", "1",
                          "--dir", dir, NULL};
    pid_t job = mpi_spawn(2, argv, out, errp);
    pid_t victim = -1;
    for (int waited = 0; waited < 30000 && victim < 0; waited += 50) { /* rank 1 started its first trial */
        char t1[1100];
        snprintf(t1, sizeof t1, "%s/trial-0001", dir);
        if (file_exists(t1))
            victim = rank_pid(1, dir);
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    if (victim < 0) {
        kill(-job, SIGKILL);
        eta_wait(job);
        fail_msg("rank 1 of the sweep in %s was not found running", dir);
    }
    assert_int_equal(kill(victim, SIGKILL), 0);
    double t0 = test_now();
    int st = 0;
    pid_t done = 0;
    while ((done = waitpid(job, &st, WNOHANG)) == 0 && test_now() - t0 < 60) {
        struct timespec ts = {0, 20000000};
        nanosleep(&ts, NULL);
    }
    if (done == 0) {
        kill(-job, SIGKILL);
        eta_wait(job);
        fail_msg("the job went on 60 s after its rank 1 was killed");
    }
    assert_false(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    char *err = read_file(errp, NULL);
    expect_has("stderr", err, "process rank 1"); /* mpirun's own report of the lost process */
    free(err);
    /* run again: the interrupted trials run again and the study ends complete */
    char *err2;
    int rc = mpi_run(2, argv, &err2);
    if (rc != 0)
        fail_msg("the sweep run again: exit %d\n%s", rc, err2);
    free(err2);
    study s;
    load(dir, &s);
    assert_int_equal(s.v.ntrials, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(s.v.trials[i].state, SWEEP_COMPLETE);
    unload(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_study),
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_killed_worker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
