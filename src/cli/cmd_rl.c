/* cli/cmd_rl.c - `eta rl ppo|reinforce`: an agent learns CartPole-v1
 * (include/eta/rl.h), with Adam's rate annealed linearly to 0 (CleanRL's
 * anneal_lr) or held constant, over one or several seeds. stdout: one CSV
 * row per run (algo, seed, lr mode, the step at which the mean return of
 * the last 100 episodes first reached 475, the final such mean); --csv:
 * every episode; --plot: return against environment steps.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <eta/plot.h>
#include <eta/rl.h>

#include "cli/cli.h"

static const char *const CMD = "rl";
#define SOLVED 475.0
#define WINDOW 100
#define MAX_SEEDS 32

static void help(void)
{
    printf("usage: eta rl ppo|reinforce [--seed N | --seeds A,B,...] [--steps N] [--lr X]\n"
           "                            [--max-grad-norm X]\n"
           "                            [--constant-lr | --both] [--csv FILE] [--plot FILE.png|FILE.svg]\n\n"
           "Trains an agent on CartPole-v1 (Gymnasium's dynamics, 500-step episodes).\n"
           "  ppo        CleanRL's ppo.py: 4 environments x 128 steps, GAE 0.95, 4 epochs of 4\n"
           "             minibatches, clip 0.2, Adam 2.5e-4 (eps 1e-5) annealed linearly to 0\n"
           "  reinforce  REINFORCE with a learned baseline, 4 episodes per update, Adam 1e-3\n"
           "             annealed linearly to 0, no gradient clipping\n\n"
           "stdout: one CSV row per run:\n"
           "  algo,seed,lr,steps_to_solve,low_mean100_after,final_mean100,episodes\n"
           "steps_to_solve: the environment step at which the mean return of the last 100\n"
           "episodes first reached 475 (empty if never); low_mean100_after: the lowest such mean\n"
           "after that (how much the agent forgets); final_mean100: the mean at the end.\n\n"
           "options:\n"
           "  --seed N         the seed (default 1)\n"
           "  --seeds LIST     several seeds, comma-separated, run one after the other\n"
           "  --steps N        environment steps per run (default 500000)\n"
           "  --lr X           Adam's initial rate (default 2.5e-4 for ppo, 1e-3 for reinforce)\n"
           "  --max-grad-norm X  clip the gradient's global norm at X, 0: no clipping (default 0.5\n"
           "                   for ppo, 0 for reinforce)\n"
           "  --constant-lr    keep the rate constant instead of annealing it\n"
           "  --both           run every seed annealed and constant (the comparison)\n"
           "  --csv FILE       every episode: algo,seed,lr,global_step,return,length,mean100\n"
           "  --plot FILE      return against steps (.png or .svg): one run's returns and their\n"
           "                   100-episode mean; several runs: each run's 100-episode mean\n"
           "  --help           this text\n");
}

typedef struct run {
    double *x, *y, *mean; /* per episode: global step, return, mean of the last 100 */
    size_t n, cap;
    double sum;           /* of the last WINDOW returns */
    int64_t solved_at;    /* -1: never */
    double low_after;     /* the lowest 100-episode mean after solved_at (how much is forgotten) */
    FILE *csv;
    const char *algo, *mode;
    unsigned long long seed;
} run;

static void on_episode(void *ud, int64_t step, double ret, int64_t len)
{
    run *r = ud;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        double *x = realloc(r->x, cap * sizeof *x), *y = x ? realloc(r->y, cap * sizeof *y) : NULL;
        double *m = y ? realloc(r->mean, cap * sizeof *m) : NULL;
        if (x)
            r->x = x;
        if (y)
            r->y = y;
        if (m)
            r->mean = m;
        if (!m)
            return; /* out of memory: the episode is not recorded */
        r->cap = cap;
    }
    r->sum += ret;
    if (r->n >= WINDOW)
        r->sum -= r->y[r->n - WINDOW];
    r->x[r->n] = (double)step;
    r->y[r->n] = ret;
    double mean = r->n + 1 >= WINDOW ? r->sum / WINDOW : NAN;
    r->mean[r->n++] = mean;
    if (r->solved_at < 0 && mean >= SOLVED) {
        r->solved_at = step;
        r->low_after = mean;
    }
    if (r->solved_at >= 0 && mean < r->low_after)
        r->low_after = mean;
    if (r->csv)
        fprintf(r->csv, "%s,%llu,%s,%lld,%g,%lld,%.6g\n", r->algo, r->seed, r->mode, (long long)step, ret,
                (long long)len, mean);
}

static int parse_seeds(const char *s, unsigned long long *seeds)
{
    int n = 0;
    while (*s) {
        char *end;
        if (n == MAX_SEEDS || *s < '0' || *s > '9')
            return -1;
        seeds[n++] = strtoull(s, &end, 10);
        if (*end && *end != ',')
            return -1;
        s = *end ? end + 1 : end;
    }
    return n;
}

/* One run: its episode returns (faint) and their 100-episode mean. Several:
 * each run's 100-episode mean, one colour per rate mode (annealed blue,
 * constant orange), so the two modes read as two bundles. */
static int draw(const char *path, const run *runs, int nruns, bool ppo, int64_t steps)
{
    eta_plot_series s[MAX_SEEDS * 2 + 2];
    eta_plot_style st[MAX_SEEDS * 2 + 2];
    memset(st, 0, sizeof st);
    int ns = 0;
    if (nruns == 1) {
        st[ns] = (eta_plot_style){.color = 1, .faint = true};
        s[ns++] = (eta_plot_series){runs[0].x, runs[0].y, runs[0].n, "episode return", 0};
        st[ns] = (eta_plot_style){.color = 1};
        s[ns++] = (eta_plot_series){runs[0].x, runs[0].mean, runs[0].n, "mean of the last 100 episodes", 0};
    } else {
        bool shown[2] = {false, false};
        for (int i = 0; i < nruns; i++) {
            int m = strcmp(runs[i].mode, "annealed") != 0;
            st[ns] = (eta_plot_style){.color = 1 + m, .no_legend = shown[m]};
            shown[m] = true;
            s[ns++] = (eta_plot_series){runs[i].x, runs[i].mean, runs[i].n,
                                        m ? "constant rate" : "rate annealed linearly to 0", 0};
        }
    }
    double gx[2] = {0, (double)steps}, gy[2] = {SOLVED, SOLVED};
    st[ns] = (eta_plot_style){.color = 8, .dashed = true};
    s[ns++] = (eta_plot_series){gx, gy, 2, "475: solved", 0};
    char title[160];
    snprintf(title, sizeof title, "CartPole-v1, %s: %s", ppo ? "PPO" : "REINFORCE with a baseline",
             nruns == 1 ? "return per episode" : "mean return of the last 100 episodes, each seed");
    eta_plot_panel panel = {{.title = title, .xlabel = "environment steps", .ylabel = "return"}, s, st, ns};
    eta_err err;
    if (eta_plot_panels(path, &panel, 1, &err)) {
        fprintf(stderr, "eta rl: --plot: %s\n", err.msg);
        return EXIT_RUN;
    }
    return EXIT_OK;
}

int cmd_rl(int argc, char **argv)
{
    const char *seed_s = NULL, *seeds_s = NULL, *steps_s = NULL, *lr_s = NULL, *csv_path = NULL, *plot = NULL;
    const char *clip_s = NULL;
    bool constant = false, both = false;
    const cli_opt opts[] = {
        {"seed", true, &seed_s, NULL},   {"seeds", true, &seeds_s, NULL},  {"steps", true, &steps_s, NULL},
        {"lr", true, &lr_s, NULL},       {"csv", true, &csv_path, NULL},   {"plot", true, &plot, NULL},
        {"max-grad-norm", true, &clip_s, NULL},
        {"constant-lr", false, NULL, &constant}, {"both", false, NULL, &both},
    };
    const char *pos[2];
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 2, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos != 1 || (strcmp(pos[0], "ppo") && strcmp(pos[0], "reinforce")))
        return cli_usage_error(CMD, "expected the algorithm, 'ppo' or 'reinforce' (eta rl --help)");
    bool ppo = !strcmp(pos[0], "ppo");
    if (constant && both)
        return cli_usage_error(CMD, "--constant-lr and --both exclude each other");
    if (seed_s && seeds_s)
        return cli_usage_error(CMD, "--seed and --seeds exclude each other");
    unsigned long long seeds[MAX_SEEDS] = {1};
    int nseeds = 1;
    long long v;
    if (seed_s) {
        if (!cli_parse_int(CMD, "--seed", seed_s, 0, (long long)1 << 62, &v))
            return EXIT_USAGE;
        seeds[0] = (unsigned long long)v;
    }
    if (seeds_s && (nseeds = parse_seeds(seeds_s, seeds)) < 1)
        return cli_usage_error(CMD, "--seeds: expected up to %d non-negative integers separated by commas, got '%s'",
                               MAX_SEEDS, seeds_s);
    eta_ppo_config pc = eta_ppo_defaults();
    eta_reinforce_config rc_ = eta_reinforce_defaults();
    if (steps_s) {
        if (!cli_parse_int(CMD, "--steps", steps_s, ppo ? pc.num_envs * pc.num_steps : 1, (long long)1 << 40, &v))
            return EXIT_USAGE;
        pc.total_timesteps = rc_.total_timesteps = v;
    }
    if (lr_s) {
        double lr;
        if (!cli_parse_double(CMD, "--lr", lr_s, &lr))
            return EXIT_USAGE;
        if (!(lr > 0))
            return cli_usage_error(CMD, "--lr must be > 0, got %s", lr_s);
        pc.learning_rate = rc_.learning_rate = lr;
    }
    if (clip_s) {
        double c;
        if (!cli_parse_double(CMD, "--max-grad-norm", clip_s, &c))
            return EXIT_USAGE;
        if (!(c >= 0))
            return cli_usage_error(CMD, "--max-grad-norm must be >= 0 (0: no clipping), got %s", clip_s);
        pc.max_grad_norm = rc_.max_grad_norm = c;
    }
    if (!cli_check_plot(CMD, plot))
        return EXIT_USAGE;
    FILE *csv = NULL;
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            fprintf(stderr, "eta rl: --csv: cannot write %s\n", csv_path);
            return EXIT_USAGE;
        }
        fprintf(csv, "algo,seed,lr,global_step,return,length,mean100\n");
    }
    int nmodes = both ? 2 : 1, nruns = nseeds * nmodes;
    run *runs = calloc((size_t)nruns, sizeof *runs);
    int status = runs ? EXIT_OK : EXIT_RUN;
    printf("algo,seed,lr,steps_to_solve,low_mean100_after,final_mean100,episodes\n");
    for (int i = 0; i < nruns && status == EXIT_OK; i++) {
        run *r = &runs[i];
        bool anneal = both ? i % 2 == 0 : !constant;
        r->seed = seeds[i / nmodes];
        r->algo = pos[0];
        r->mode = anneal ? "annealed" : "constant";
        r->solved_at = -1;
        r->csv = csv;
        eta_err err;
        int rc;
        if (ppo) {
            pc.seed = r->seed;
            pc.anneal_lr = anneal;
            rc = eta_rl_train_ppo(&pc, on_episode, NULL, r, &err);
        } else {
            rc_.seed = r->seed;
            rc_.anneal_lr = anneal;
            rc = eta_rl_train_reinforce(&rc_, on_episode, r, &err);
        }
        if (rc) {
            fprintf(stderr, "eta rl: %s\n", err.msg);
            status = EXIT_RUN;
            break;
        }
        printf("%s,%llu,%s,", r->algo, r->seed, r->mode);
        if (r->solved_at >= 0)
            printf("%lld,%.2f", (long long)r->solved_at, r->low_after);
        else
            printf(",");
        printf(",%.2f,%zu\n", r->n ? r->mean[r->n - 1] : NAN, r->n);
        fflush(stdout);
    }
    if (csv && fclose(csv)) {
        fprintf(stderr, "eta rl: --csv: error writing %s\n", csv_path);
        status = EXIT_RUN;
    }
    if (plot && status == EXIT_OK)
        status = draw(plot, runs, nruns, ppo, ppo ? pc.total_timesteps : rc_.total_timesteps);
    for (int i = 0; runs && i < nruns; i++) {
        free(runs[i].x);
        free(runs[i].y);
        free(runs[i].mean);
    }
    free(runs);
    return status;
}
