/* cli/cmd_sweep.c - `eta sweep CONFIG`: trials of a config over a search
 * space of its keys (--grid, --random), run by worker processes forked
 * from this one (each trial with cores / workers threads), or under mpirun
 * by every process of the job (src/dist/sweep.c: rank 0 holds the study),
 * cut short by a pruner, kept in DIR/study.db (SQLite). Run again, or `eta sweep --join
 * DIR` from other processes, it goes on with the same study: finished
 * trials are not redone. At the end: DIR/sweep.csv, the ranked summary on
 * stdout, the charts. docs/sweep.md describes it; src/tune/sweep.h the
 * pieces.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/run_cli.h"
#include "dist/dist.h"
#include "dist/sweep.h"
#include "tune/sweep.h"

static const char *const CMD = "sweep";

enum { MAX_SETS = CLI_SWEEP_MAX_SETS, MAX_WORKERS = 256 };

static void help(void)
{
    printf("usage: eta sweep CONFIG (--grid K=SPACE | --random K=DIST)... [--trials N] [--sampler S]\n"
           "                 [--pruner P] [--metric M] [--workers N] [--threads N] [--seed N]\n"
           "                 [--dir DIR] [--set K=V]...\n"
           "       eta sweep --join DIR [--workers N]\n"
           "       mpirun -np N eta sweep CONFIG ...   (every process of the job runs trials)\n\n"
           "Trains CONFIG once per point of a search space over its keys (any key --set\n"
           "takes, or an argument inside a spec: optimizer.lr sets lr in SGD(lr=...)), in\n"
           "parallel worker processes, and stops bad trials early. Each trial is a run\n"
           "directory DIR/trial-NNNN; the study (trials, params, intermediate values, rungs)\n"
           "is the SQLite file DIR/study.db: run the same command again after an interruption\n"
           "and it goes on without redoing finished trials; --join DIR adds workers from\n"
           "another process. At the end: DIR/sweep.csv, the trials ranked by the metric (CSV\n"
           "on stdout), DIR/metric_vs_KEY.png (against the first key) and DIR/curves.png.\n"
           "Under mpirun (Open MPI) every process runs one trial at a time; rank 0 holds the\n"
           "study, prints, and decides each report as a one-process sweep (--workers 1) would,\n"
           "so the study ends the same (docs/distributed.md).\n\n"
           "  eta sweep configs/fmnist-mlp.ini --grid 'schedule.max_lr=logspace(1e-3, 1, 13)' --pruner sh\n"
           "  eta sweep configs/iris.ini --random 'optimizer.lr=loguniform(1e-4, 1)' --trials 20\n\n"
           "options:\n"
           "  --grid K=SPACE   logspace(from, to, n) (even in log, the ends given), linspace(from,\n"
           "                   to, n) or a list [a, b, ...]; several --grid: their product\n"
           "  --random K=DIST  loguniform(low, high) or uniform(low, high)\n"
           "  --trials N       trials in all (default: the grid's size; needed with --random)\n"
           "  --sampler S      grid (default for grids), random (default otherwise), sobol, halton\n"
           "  --pruner P       none (default), median, sh, hyperband or asha, with Optuna's and\n"
           "                   Ray Tune's defaults; arguments as a call: 'sh(min_resource=430)'\n"
           "  --metric M       val_loss (default, minimized) or val_acc (maximized)\n"
           "  --workers N      trials at a time (default: the cores, at most the trials; not\n"
           "                   under mpirun, where -np says it)\n"
           "  --threads N      threads per trial (default: the cores / the trials at a time)\n"
           "  --seed N         the grid's order, the random draws, the Sobol and Halton shift\n"
           "                   (default 0: Sobol and Halton unscrambled)\n"
           "  --dir DIR        the sweep directory (default runs/<config name>-sweep)\n"
           "  --set K=V        a fixed override for every trial (repeatable)\n"
           "  --join DIR       work on the study in DIR as well (its settings are the study's)\n"
           "  --help           this text\n"
           "exit status: 0 the sweep is done, 1 a trial or a worker failed, 2 bad usage or config\n");
}

static long cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? n : 1;
}

/* Lines joined with '\n' into buf (the study's settings keep lists so). */
static void join_lines(char *buf, size_t n, const char *prefix, const char *const *v, int count, size_t *at)
{
    for (int i = 0; i < count && *at < n; i++)
        *at += (size_t)snprintf(buf + *at, n - *at, "%s%s%s", *at ? "\n" : "", prefix, v[i]);
}

static int mkdirs(const char *dir)
{
    char p[1100];
    snprintf(p, sizeof p, "%s", dir);
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = 0;
            mkdir(p, 0777);
            *c = '/';
        }
    return mkdir(p, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

typedef cli_sweep_args args;

/* A new study's settings from the command line, written to DIR/study.db
 * (or compared with those already there). Returns the exit code, or
 * CLI_CONTINUE. */
static int create_study(const char *cmd, const args *a, char *dir, size_t dir_size, long *workers)
{
    eta_err err;
    sweep_space space = {0};
    int rc = CLI_CONTINUE;
    for (int i = 0; i < a->ngrid + a->nrandom && rc == CLI_CONTINUE; i++) {
        bool grid = i < a->ngrid;
        const char *arg = grid ? a->grid[i] : a->random[i - a->ngrid];
        if (sweep_space_add(&space, arg, grid, &err))
            rc = cli_usage_error(cmd, "--%s %s", grid ? "grid" : "random", err.msg);
    }
    if (rc == CLI_CONTINUE && space.n == 0)
        rc = cli_usage_error(cmd, "nothing to sweep: give --grid KEY=SPACE or --random KEY=DIST "
                                  "(--grid 'optimizer.lr=logspace(1e-4, 1, 13)'; see --help)");
    int64_t gsize = rc == CLI_CONTINUE ? sweep_space_grid_size(&space) : 0;
    sweep_sampler sampler = gsize > 0 ? SWEEP_SAMPLER_GRID : SWEEP_SAMPLER_RANDOM;
    if (rc == CLI_CONTINUE && a->sampler && sweep_sampler_parse(a->sampler, &sampler, &err))
        rc = cli_usage_error(cmd, "--sampler: %s", err.msg);
    long long trials = gsize, seed = 0;
    if (rc == CLI_CONTINUE && a->trials && !cli_parse_int(cmd, "--trials", a->trials, 1, 1000000, &trials))
        rc = EXIT_USAGE;
    if (rc == CLI_CONTINUE && !a->trials && gsize == 0)
        rc = cli_usage_error(cmd, "--random needs --trials N: how many points to sample");
    if (rc == CLI_CONTINUE && sampler == SWEEP_SAMPLER_GRID && gsize == 0)
        rc = cli_usage_error(cmd, "--sampler grid: every key needs --grid (a --random key has no grid)");
    if (rc == CLI_CONTINUE && sampler == SWEEP_SAMPLER_GRID && trials > gsize)
        rc = cli_usage_error(cmd, "--trials %lld: the grid has %lld points", trials, (long long)gsize);
    if (rc == CLI_CONTINUE && a->seed && !cli_parse_int(cmd, "--seed", a->seed, 0, INT64_MAX, &seed))
        rc = EXIT_USAGE;
    sweep_pruner pr;
    const char *pruner = a->pruner ? a->pruner : "none";
    if (rc == CLI_CONTINUE && sweep_pruner_parse(pruner, &pr, &err))
        rc = cli_spec_error(cmd, "--pruner", pruner, &err);
    const char *metric = a->metric ? a->metric : "val_loss";
    if (rc == CLI_CONTINUE && strcmp(metric, "val_loss") && strcmp(metric, "val_acc"))
        rc = cli_usage_error(cmd, "--metric: '%s' is not a metric (val_loss, val_acc)", metric);
    /* the config, its overrides and trial 0's point must make a valid config */
    eta_config *cfg = NULL;
    char *text = NULL;
    size_t len = 0;
    if (rc == CLI_CONTINUE && eta_file_read_all(a->config, (void **)&text, &len, &err))
        rc = cli_usage_error(cmd, "%s", err.msg);
    if (rc == CLI_CONTINUE && eta_config_read(&cfg, a->config, &err))
        rc = cli_usage_error(cmd, "%s", err.msg);
    for (int i = 0; rc == CLI_CONTINUE && i < a->nsets; i++)
        if (eta_config_set(cfg, a->sets[i], &err))
            rc = cli_spec_error(cmd, NULL, a->sets[i], &err);
    if (rc == CLI_CONTINUE && !a->dir) {
        const char *base = strrchr(a->config, '/') ? strrchr(a->config, '/') + 1 : a->config;
        const char *ext = strrchr(base, '.');
        snprintf(dir, dir_size, "runs/%.*s-sweep", ext ? (int)(ext - base) : (int)strlen(base), base);
    } else if (a->dir) {
        snprintf(dir, dir_size, "%s", a->dir);
    }
    long w = cores() < trials ? cores() : (long)trials; /* one thread each on a small machine */
    if (rc == CLI_CONTINUE && a->workers) {
        long long x;
        if (!cli_parse_int(cmd, "--workers", a->workers, 1, MAX_WORKERS, &x))
            rc = EXIT_USAGE;
        w = (long)x;
    }
    w = w < 1 ? 1 : w;
    long per_node = eta_dist_active() ? eta_dist_local_size() : w; /* under mpirun: the processes here */
    int threads = (int)(cores() / per_node > 1 ? cores() / per_node : 1);
    if (rc == CLI_CONTINUE && a->threads) {
        long long x;
        if (!cli_parse_int(cmd, "--threads", a->threads, 1, 1024, &x))
            rc = EXIT_USAGE;
        threads = (int)x;
    }
    char sets[8192] = "", spaces[8192] = "", ns[32], ss[32], ts[32];
    size_t at = 0;
    join_lines(sets, sizeof sets, "", a->sets, a->nsets, &at);
    at = 0;
    join_lines(spaces, sizeof spaces, "grid ", a->grid, a->ngrid, &at);
    join_lines(spaces, sizeof spaces, "random ", a->random, a->nrandom, &at);
    snprintf(ns, sizeof ns, "%lld", trials);
    snprintf(ss, sizeof ss, "%lld", seed);
    snprintf(ts, sizeof ts, "%d", threads);
    const char *base = strrchr(a->config, '/') ? strrchr(a->config, '/') + 1 : a->config;
    char name[128];
    snprintf(name, sizeof name, "%.*s", strrchr(base, '.') ? (int)(strrchr(base, '.') - base) : (int)strlen(base),
             base);
    const char *const *names = SWEEP_SETTING_NAMES;
    const char *values[SWEEP_NSETTINGS] = {name, a->config, text ? text : "", sets, spaces, sweep_sampler_name(sampler), pruner,
                            metric, strstr(metric, "acc") ? "maximize" : "minimize", ns, ss, ts};
    if (rc == CLI_CONTINUE) { /* trial 0's config: a key that no trial could set fails here, before any file */
        sweep_plan plan = {.config_path = (char *)a->config, .config_text = text, .nsets = a->nsets,
                           .sets = (char **)a->sets, .space = space, .sampler = sampler, .seed = (uint64_t)seed,
                           .threads = threads};
        snprintf(plan.dir, sizeof plan.dir, "%s", dir);
        char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN], msg[2048] = "";
        double nums[SWEEP_MAX_DIMS];
        eta_config *c0 = NULL;
        if (sweep_sample(&space, sampler, (uint64_t)seed, 0, texts, nums, &err))
            rc = cli_usage_error(cmd, "%s", err.msg);
        else if (sweep_trial_config(&plan, (const char(*)[SWEEP_VALUE_LEN])texts, 0, &c0, msg, sizeof msg, &err))
            rc = cli_usage_error(cmd, "%s", msg);
        eta_config_free(c0);
    }
    sweep_study *st = NULL;
    char path[1200];
    snprintf(path, sizeof path, "%s/study.db", dir);
    if (rc == CLI_CONTINUE && mkdirs(dir))
        rc = cli_usage_error(cmd, "--dir: cannot create %s: %s", dir, strerror(errno));
    if (rc == CLI_CONTINUE && sweep_study_open(&st, path, &err))
        rc = cli_run_report(cmd, NULL, &err, ETA_EIO);
    int had = rc == CLI_CONTINUE ? sweep_study_init(st, names, values, SWEEP_NSETTINGS, &err) : 0;
    if (had < 0)
        rc = cli_run_report(cmd, NULL, &err, ETA_EIO);
    for (int i = 0; rc == CLI_CONTINUE && had == 1 && i < SWEEP_NSETTINGS; i++) {
        if (!strcmp(names[i], "threads")) /* a restart may bring another number of workers */
            continue;
        char *old = sweep_study_setting(st, names[i]);
        if (!old || strcmp(old, values[i]))
            rc = cli_usage_error(cmd, "%s already holds another sweep (its %s differs): run it with "
                                      "--join %s, or choose another --dir", dir, names[i], dir);
        free(old);
    }
    sweep_study_close(st);
    eta_config_free(cfg);
    free(text);
    sweep_space_free(&space);
    *workers = w;
    return rc;
}

/* Forks n workers on the study in dir; waits for them. */
static int run_workers(const char *cmd, const char *dir, long n)
{
    pid_t pids[MAX_WORKERS];
    long started = 0;
    fflush(stdout);
    fflush(stderr);
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            fprintf(stderr, "eta %s: cannot start worker %ld: %s\n", cmd, i + 1, strerror(errno));
            break;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed sweep takes its workers with it */
            if (getppid() == 1)
                _exit(EXIT_RUN);
            eta_err err;
            int rc = sweep_work(dir, cli_data_dir(), stderr, &err);
            if (rc)
                fprintf(stderr, "eta %s: %s\n", cmd, err.msg);
            fflush(stderr);
            _exit(rc == ETA_EINVAL || rc == ETA_EFORMAT ? EXIT_USAGE : rc ? EXIT_RUN : EXIT_OK);
        }
        pids[started++] = pid;
    }
    int code = started ? EXIT_OK : EXIT_RUN;
    for (long i = 0; i < started; i++) {
        int status;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
        }
        int c = WIFEXITED(status) ? WEXITSTATUS(status) : EXIT_RUN;
        if (c > code)
            code = c;
    }
    return code;
}

/* The outputs of the study in dir once its workers ended with `code`: the
 * exit code. */
static int study_outputs(const char *cmd, const char *dir, int code, FILE *summary)
{
    int failed;
    eta_err err;
    if (sweep_outputs(dir, summary, stderr, &failed, &err)) {
        fprintf(stderr, "eta %s: %s\n", cmd, err.msg);
        return EXIT_RUN;
    }
    if (failed)
        fprintf(stderr, "eta %s: %d trial%s failed (%s/sweep.csv and the trials' lines above say why)\n", cmd,
                failed, failed > 1 ? "s" : "", dir);
    return code ? code : failed ? EXIT_RUN : EXIT_OK;
}

/* Runs `workers` workers on the study in dir, then writes its outputs (the
 * ranked summary to `summary`). Returns the exit code. */
static int run_study(const char *cmd, const char *dir, long workers, FILE *summary)
{
    return study_outputs(cmd, dir, run_workers(cmd, dir, workers), summary);
}

int cli_sweep_run(const char *cmd, const cli_sweep_args *a, FILE *summary, char *dir, size_t dir_size)
{
    long workers = cores();
    int rc = create_study(cmd, a, dir, dir_size, &workers);
    return rc != CLI_CONTINUE ? rc : run_study(cmd, dir, workers, summary);
}

/* The command line read, the study created or checked: CLI_CONTINUE with
 * dir and workers set, or the exit code. */
static int prepare(int argc, char **argv, char *dir, size_t dir_size, long *workers)
{
    args a = {0};
    const char *pos[1];
    int npos = 0;
    const cli_opt opts[] = {
        {"grid", true, NULL, NULL}, {"random", true, NULL, NULL}, {"set", true, NULL, NULL}, /* taken out below */
        {"trials", true, &a.trials, NULL},   {"sampler", true, &a.sampler, NULL}, {"pruner", true, &a.pruner, NULL},
        {"metric", true, &a.metric, NULL},   {"workers", true, &a.workers, NULL}, {"seed", true, &a.seed, NULL},
        {"threads", true, &a.threads, NULL},
        {"dir", true, &a.dir, NULL},         {"join", true, &a.join, NULL},
    };
    if (!cli_take_repeated(CMD, "grid", &argc, argv, a.grid, SWEEP_MAX_DIMS, &a.ngrid) ||
        !cli_take_repeated(CMD, "random", &argc, argv, a.random, SWEEP_MAX_DIMS, &a.nrandom) ||
        !cli_take_repeated(CMD, "set", &argc, argv, a.sets, MAX_SETS, &a.nsets))
        return EXIT_USAGE;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (eta_dist_active() && a.workers)
        return cli_usage_error(CMD, "--workers: under mpirun every process runs one trial at a time "
                                    "(mpirun -np N says how many)");
    if (a.join) {
        if (npos || a.ngrid || a.nrandom || a.nsets || a.trials || a.sampler || a.pruner || a.metric || a.seed ||
            a.dir || a.threads)
            return cli_usage_error(CMD, "--join takes the sweep directory and --workers alone: the study "
                                        "holds the rest");
        char path[1200];
        struct stat sb;
        snprintf(path, sizeof path, "%s/study.db", a.join);
        if (stat(path, &sb))
            return cli_usage_error(CMD, "--join %s: no study.db there (not a sweep directory)", a.join);
        snprintf(dir, dir_size, "%s", a.join);
        if (a.workers) {
            long long x;
            if (!cli_parse_int(CMD, "--workers", a.workers, 1, MAX_WORKERS, &x))
                return EXIT_USAGE;
            *workers = (long)x;
        }
    } else {
        if (npos != 1)
            return cli_usage_error(CMD, "expected one config file, such as configs/fmnist-mlp.ini "
                                        "(or --join DIR; see --help)");
        a.config = pos[0];
        int rc = create_study(CMD, &a, dir, dir_size, workers);
        if (rc != CLI_CONTINUE)
            return rc;
    }
    return CLI_CONTINUE;
}

/* Under mpirun: the study on every process of the job, then (rank 0) its
 * outputs. */
static int run_study_dist(const char *dir)
{
    eta_err err;
    bool abandoned;
    int rc = eta_dist_sweep(dir, cli_data_dir(), stderr, &abandoned, &err);
    int code = rc == 0 ? EXIT_OK : rc == ETA_EINVAL || rc == ETA_EFORMAT ? EXIT_USAGE : EXIT_RUN;
    if (eta_dist_rank() != 0) /* rank 0 has its outcome, says what went wrong and ends with the worst */
        return EXIT_OK;
    if (rc)
        fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
    if (abandoned)
        eta_dist_abort(EXIT_RUN);
    return study_outputs(CMD, dir, code, stdout);
}

int cmd_sweep(int argc, char **argv)
{
    char dir[1024] = "";
    long workers = cores();
    if (!eta_dist_active()) {
        int rc = prepare(argc, argv, dir, sizeof dir, &workers);
        return rc != CLI_CONTINUE ? rc : run_study(CMD, dir, workers, stdout);
    }
    /* under mpirun rank 0 reads the command line and creates the study; the others follow its verdict */
    int rc = eta_dist_rank() == 0 ? prepare(argc, argv, dir, sizeof dir, &workers) : CLI_CONTINUE;
    rc = eta_dist_share_int(rc);
    return rc != CLI_CONTINUE ? rc : run_study_dist(dir);
}
