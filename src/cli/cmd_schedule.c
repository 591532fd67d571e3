/* cli/cmd_schedule.c - `eta schedule SPEC`: a schedule's learning rate (and
 * momentum) step by step, as CSV on stdout and optionally drawn, before any
 * training. `eta schedule --list` shows every schedule with its arguments.
 *
 *   step,lr[,momentum]
 * Row t is the value the optimizer uses at its step t (counted from 0).
 * Plateau rules take --metrics: metric i is observed after step i, so it
 * first affects row i+1, as scheduler.step(metric) after each epoch does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <eta/plot.h>

#include "cli/cli.h"

static const char *const CMD = "schedule";

static void help(void)
{
    printf("usage: eta schedule SPEC [--lr BASE] [--steps N] [--metrics M0,M1,...] [--momentum M]\n"
           "                         [--plot FILE.png|FILE.svg] [--log-y]\n"
           "       eta schedule --list\n\n"
           "Prints a learning-rate schedule as CSV, step,lr (plus momentum when the schedule\n"
           "cycles it); row t is the value the optimizer uses at step t, counted from 0.\n"
           "SPEC is the schedule's constructor call without the optimizer, as in PyTorch,\n"
           "Keras or Optax code: 'OneCycleLR(max_lr=0.1, total_steps=1000)'.\n\n"
           "options:\n"
           "  --lr BASE        the optimizer's lr, which PyTorch schedules scale (default 0.1)\n"
           "  --steps N        rows to print (default: the schedule's length, else 100; see below)\n"
           "  --metrics LIST   one metric per step for plateau rules; metric i is observed after\n"
           "                   step i and first affects row i+1\n"
           "  --momentum M     the optimizer's momentum, shown where no cycling part sets it (default 0.9)\n"
           "  --plot FILE      also draw the curve (.png or .svg); momentum on a second axis\n"
           "                   when it changes or --momentum is given\n"
           "  --log-y          logarithmic lr axis in the plot\n"
           "  --list           every schedule with its arguments and defaults\n"
           "  --help           this text\n\n"
           "A schedule written for a run of N steps prints N rows by default, steps 0 to N-1:\n"
           "OneCycleLR's total_steps, CosineAnnealingLR's T_max, PolynomialLR's total_iters, Keras's\n"
           "CosineDecay (warm-up + decay_steps) and PolynomialDecay, Optax's decay_steps (cosine and\n"
           "warmup_cosine_decay), transition_begin + transition_steps (linear, polynomial) or\n"
           "transition_steps (onecycle), fastai's epochs * steps_per_epoch, llm.c's train_num_batches,\n"
           "WSD's total_steps, darknet's max_batches. SequentialLR and join_schedules: the last\n"
           "milestone plus the last schedule's length; ChainedScheduler: the longest child's.\n"
           "Schedules that go on for ever (StepLR, ExponentialLR, CyclicLR, warm-ups, restarts,\n"
           "plateau rules) print 100 rows.\n");
}

static void list(void)
{
    const char *family = "";
    for (int k = 0, n = eta_sched_kind_count(); k < n; k++) {
        if (strcmp(family, eta_sched_kind_family(k))) {
            family = eta_sched_kind_family(k);
            printf("%s%s:\n", k ? "\n" : "", family);
        }
        char buf[1024];
        eta_sched_describe(k, buf, sizeof buf);
        printf("  %s\n", buf);
    }
}

/* Parses "1.0,0.9,..." into a malloc'd array; returns the count or -1. */
static long parse_metrics(const char *s, double **out)
{
    size_t cap = 64, n = 0;
    double *v = malloc(cap * sizeof *v);
    while (v && *s) {
        char *end;
        if (n == cap) {
            double *w = realloc(v, (cap *= 2) * sizeof *v);
            if (!w)
                break;
            v = w;
        }
        v[n] = strtod(s, &end);
        if (end == s || isnan(v[n]) || (*end && *end != ',')) {
            free(v);
            return -1;
        }
        n++;
        s = *end ? end + 1 : end;
    }
    *out = v;
    return v ? (long)n : -1;
}

/* Whether v[0..n) holds more than one value. */
static bool varies(const double *v, long long n)
{
    for (long long i = 1; i < n; i++)
        if (v[i] != v[0])
            return true;
    return false;
}

int cmd_schedule(int argc, char **argv)
{
    const char *lr_s = "0.1", *steps_s = NULL, *metrics_s = NULL, *mom_s = "0.9", *plot = NULL, *pos[1];
    bool log_y = false, want_list = false, mom_given = false;
    const cli_opt opts[] = {
        {"lr", true, &lr_s, NULL},       {"steps", true, &steps_s, NULL}, {"metrics", true, &metrics_s, NULL},
        {"momentum", true, &mom_s, &mom_given}, {"plot", true, &plot, NULL}, {"log-y", false, NULL, &log_y},
        {"list", false, NULL, &want_list},
    };
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (want_list) {
        list();
        return EXIT_OK;
    }
    if (npos != 1)
        return cli_usage_error(CMD, "expected one schedule spec, such as 'StepLR(step_size=30)' (see --list)");
    if (!cli_check_plot(CMD, plot))
        return EXIT_USAGE;
    const char *spec = pos[0];
    double base, base_mom;
    if (!cli_parse_double(CMD, "--lr", lr_s, &base) || !cli_parse_double(CMD, "--momentum", mom_s, &base_mom))
        return EXIT_USAGE;
    if (base < 0)
        return cli_usage_error(CMD, "--lr must be >= 0, got %s", lr_s);
    eta_sched *s;
    eta_err err;
    if (eta_sched_new(&s, spec, &err))
        return cli_spec_error(CMD, NULL, spec, &err);
    int rc = EXIT_OK;
    double *metrics = NULL, *xs = NULL, *lrs = NULL, *moms = NULL;
    long long steps = 100, length = (long long)eta_sched_length(s);
    if (steps_s) {
        if (!cli_parse_int(CMD, "--steps", steps_s, 1, 100000000, &steps)) {
            rc = EXIT_USAGE;
            goto out;
        }
    } else if (length > 0) {
        steps = length < 100000000 ? length : 100000000; /* steps 0..length-1: a run of that length */
    }
    long nmetrics = 0;
    if (metrics_s && (nmetrics = parse_metrics(metrics_s, &metrics)) < 0) {
        rc = cli_usage_error(CMD, "--metrics: expected comma-separated numbers, got '%s'", metrics_s);
        goto out;
    }
    if (eta_sched_needs_metric(s) && nmetrics < steps - 1) {
        rc = cli_usage_error(CMD, "this schedule reacts to a metric: give --metrics with at least %lld values "
                                  "(one per step; the last row needs none), got %ld",
                             steps - 1, nmetrics);
        goto out;
    }
    if (!eta_sched_needs_metric(s) && metrics_s) {
        rc = cli_usage_error(CMD, "--metrics: this schedule does not observe a metric");
        goto out;
    }
    if (steps - 1 > eta_sched_last_step(s)) {
        long long last = (long long)eta_sched_last_step(s);
        rc = cli_usage_error(CMD,
                             "--steps %lld asks for steps 0 to %lld, but this schedule ends at step %lld (it is "
                             "written for a run of %lld steps, the default --steps); give --steps %lld or fewer, "
                             "or make the schedule longer",
                             steps, steps - 1, last, length, last + 1);
        goto out;
    }
    bool mom = eta_sched_cycles_momentum(s);
    xs = malloc((size_t)steps * sizeof *xs);
    lrs = malloc((size_t)steps * sizeof *lrs);
    moms = malloc((size_t)steps * sizeof *moms);
    if (!xs || !lrs || !moms) {
        fprintf(stderr, "eta schedule: out of memory\n");
        rc = EXIT_RUN;
        goto out;
    }
    printf(mom ? "step,lr,momentum\n" : "step,lr\n");
    for (long long t = 0; t < steps; t++) {
        xs[t] = (double)t;
        lrs[t] = eta_sched_lr(s, (double)t, base);
        moms[t] = eta_sched_momentum(s, (double)t, base_mom);
        printf("%lld,", t);
        cli_print_real(stdout, lrs[t]);
        if (mom) {
            putchar(',');
            cli_print_real(stdout, moms[t]);
        }
        putchar('\n');
        if (eta_sched_needs_metric(s) && t < nmetrics && eta_sched_observe(s, t, metrics[t], &base, 1, &err)) {
            fprintf(stderr, "eta schedule: --metrics: %s\n", err.msg);
            rc = EXIT_USAGE;
            goto out;
        }
    }
    fflush(stdout);
    if (plot) {
        /* The momentum axis only when there is something to see on it: a
         * momentum that moves, or one asked for with --momentum. */
        bool draw_mom = mom && (mom_given || varies(moms, steps));
        eta_plot_series series[2] = {{xs, lrs, (size_t)steps, "lr", 0}, {xs, moms, (size_t)steps, "momentum", 1}};
        eta_plot_config pc = {spec, "step", "learning rate", draw_mom ? "momentum" : NULL, log_y, false, 0, 0};
        if (eta_plot_lines(plot, &pc, series, draw_mom ? 2 : 1, &err)) {
            fprintf(stderr, "eta schedule: --plot: %s\n", err.msg);
            rc = err.code == ETA_EINVAL ? EXIT_USAGE : EXIT_RUN;
        }
    }
out:
    free(metrics);
    free(xs);
    free(lrs);
    free(moms);
    eta_sched_free(s);
    return rc;
}
