/* cli/cmd_optimize.c - `eta optimize`: one optimizer on a test function, the
 * trajectory as CSV on stdout.
 *
 *   step,lr,loss,grad_norm,x0,x1,...
 * Row 0 is the starting point and row t the point after t updates; loss and
 * grad_norm are evaluated at the row's point; lr is the learning rate of the
 * update that leaves it. A run whose loss or point stops being finite ends
 * with a message and exit code 1. For a rule with an evaluation point of
 * its own (Schedule-Free), a row's point is that point, x, what a user
 * evaluates and saves; the gradients it steps on are taken at y.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <eta/plot.h>

#include "cli/cli.h"
#include "cli/problems.h"

static const char *const CMD = "optimize";

static void help(void)
{
    printf("usage: eta optimize [--optim SPEC] [--problem SPEC] [--x0 X,Y,...] [--steps N]\n"
           "                    [--dtype f32|f64] [--clip-norm X] [--sched SPEC] [--plot FILE]\n\n"
           "Runs an optimizer on a test function and prints the trajectory as CSV:\n"
           "  step,lr,loss,grad_norm,x0,x1,...\n"
           "row 0 is the starting point, row t the point after t updates; lr is the rate of\n"
           "the update that leaves the row's point. Muon, which takes matrices only, sees the\n"
           "point as a 1 x n matrix. For SGDScheduleFree and AdamWScheduleFree\n"
           "the point is the evaluation point x (what you evaluate and save); their\n"
           "gradients are taken at the training point y.\n\n"
           "options:\n"
           "  --optim SPEC      a PyTorch optimizer call without params (default SGD(lr=0.01))\n"
           "  --problem SPEC    the function (default quadratic(a=[1, 10]))\n"
           "  --x0 LIST         comma-separated starting point (default: the problem's)\n"
           "  --steps N         number of updates (default 100)\n"
           "  --dtype f32|f64   element type of parameters and state (default f64)\n"
           "  --clip-norm X     clip the gradient to global norm X first (torch's clip_grad_norm_)\n"
           "  --sched SPEC      a learning-rate schedule (see eta schedule --list); plateau rules\n"
           "                    observe the loss after every step\n"
           "  --plot FILE       draw loss and lr against step (.png or .svg; a constant lr\n"
           "                    is named in the title instead of drawn)\n"
           "  --help            this text\n\n"
           "problems:\n");
    problem_list(stdout);
    printf("\noptimizers (PyTorch names, arguments and defaults):\n");
    for (int k = 0; k < ETA_OPTIM_COUNT; k++) {
        char buf[1024];
        eta_optim_describe((eta_optim_kind)k, buf, sizeof buf);
        printf("  %s\n", buf);
    }
}

/* Parses "1,-2.5,3" into x; returns the count or -1. */
static int parse_list(const char *s, double *x, int cap)
{
    int n = 0;
    char *end;
    for (;;) {
        if (n >= cap)
            return -1;
        x[n++] = strtod(s, &end);
        if (end == s || !isfinite(x[n - 1]))
            return -1;
        while (*end == ' ')
            end++;
        if (!*end)
            return n;
        if (*end != ',')
            return -1;
        s = end + 1;
    }
}

static void print_row(long long t, double lr, double loss, double gnorm, const double *x, int n)
{
    printf("%lld,", t);
    cli_print_real(stdout, lr);
    putchar(',');
    cli_print_real(stdout, loss);
    putchar(',');
    cli_print_real(stdout, gnorm);
    for (int i = 0; i < n; i++) {
        putchar(',');
        cli_print_real(stdout, x[i]);
    }
    putchar('\n');
}

int cmd_optimize(int argc, char **argv)
{
    const char *optim = "SGD(lr=0.01)", *prob = "quadratic(a=[1, 10])", *x0s = NULL, *steps_s = "100";
    const char *dtype_s = "f64", *clip_s = NULL, *sched_s = NULL, *plot = NULL;
    const cli_opt opts[] = {
        {"optim", true, &optim, NULL},   {"problem", true, &prob, NULL},    {"x0", true, &x0s, NULL},
        {"steps", true, &steps_s, NULL}, {"dtype", true, &dtype_s, NULL},   {"clip-norm", true, &clip_s, NULL},
        {"sched", true, &sched_s, NULL}, {"plot", true, &plot, NULL},
    };
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, NULL, 0, NULL);
    if (done != CLI_CONTINUE)
        return done;
    if (!cli_check_plot(CMD, plot))
        return EXIT_USAGE;
    long long steps;
    double clip = 0;
    if (!cli_parse_int(CMD, "--steps", steps_s, 0, 100000000, &steps))
        return EXIT_USAGE;
    if (clip_s && (!cli_parse_double(CMD, "--clip-norm", clip_s, &clip) || clip < 0))
        return cli_usage_error(CMD, "--clip-norm: expected a number >= 0, got '%s'", clip_s);
    eta_dtype dtype;
    if (!strcmp(dtype_s, "f64"))
        dtype = ETA_F64;
    else if (!strcmp(dtype_s, "f32"))
        dtype = ETA_F32;
    else
        return cli_usage_error(CMD, "--dtype: expected f32 or f64, got '%s'", dtype_s);

    double x[PROBLEM_MAXDIM], g[PROBLEM_MAXDIM];
    int dim = 0;
    if (x0s && (dim = parse_list(x0s, x, PROBLEM_MAXDIM)) < 0)
        return cli_usage_error(CMD, "--x0: expected comma-separated finite numbers (at most %d), got '%s'",
                               PROBLEM_MAXDIM, x0s);
    problem pb;
    eta_err err;
    if (problem_from_spec(&pb, prob, dim, &err))
        return cli_spec_error(CMD, "--problem", prob, &err);
    if (!x0s)
        problem_start(&pb, x);

    eta_optim_config cfg;
    if (eta_optim_config_from_spec(&cfg, optim, &err))
        return cli_spec_error(CMD, "--optim", optim, &err);
    cfg.dtype = dtype;
    eta_optim *opt;
    if (eta_optim_new(&opt, &cfg, &err))
        return cli_usage_error(CMD, "--optim: %s", err.msg);
    int n = pb.dim;
    float xf[PROBLEM_MAXDIM], gf[PROBLEM_MAXDIM];
    double gd[PROBLEM_MAXDIM];
    for (int i = 0; i < n; i++)
        xf[i] = (float)x[i];
    /* Muon takes matrices only: it sees the point as a 1 x n one. */
    int64_t shape[2] = {1, n};
    bool matrix = cfg.kind == ETA_OPTIM_MUON;
    if (eta_optim_add_param(opt, 0, dtype == ETA_F32 ? (void *)xf : (void *)x,
                            dtype == ETA_F32 ? (void *)gf : (void *)gd, matrix ? 2 : 1, matrix ? shape : shape + 1) < 0) {
        fprintf(stderr, "eta optimize: %s\n", eta_optim_error(opt));
        eta_optim_free(opt);
        return EXIT_RUN;
    }

    eta_sched *sched = NULL;
    if (sched_s) {
        if (eta_sched_new(&sched, sched_s, &err)) {
            eta_optim_free(opt);
            return cli_spec_error(CMD, "--sched", sched_s, &err);
        }
        if (steps > 0 && eta_sched_check_step(sched, steps - 1, &err)) {
            eta_sched_free(sched);
            eta_optim_free(opt);
            return cli_usage_error(CMD, "--steps %lld with --sched: %s", steps, err.msg);
        }
    }
    double *curve_lr = plot ? malloc((size_t)(steps + 1) * sizeof(double)) : NULL;
    double *curve_loss = plot ? malloc((size_t)(steps + 1) * sizeof(double)) : NULL;
    double *curve_x = plot ? malloc((size_t)(steps + 1) * sizeof(double)) : NULL;
    if (plot && (!curve_lr || !curve_loss || !curve_x)) {
        fprintf(stderr, "eta optimize: out of memory for --plot\n");
        free(curve_lr);
        free(curve_loss);
        free(curve_x);
        eta_sched_free(sched);
        eta_optim_free(opt);
        return EXIT_RUN;
    }

    printf("step,lr,loss,grad_norm");
    for (int i = 0; i < n; i++)
        printf(",x%d", i);
    putchar('\n');
    int rc = EXIT_OK;
    long long rows = 0;
    const bool two_points = eta_optim_has_eval_point(opt);
    for (long long t = 0; t <= steps; t++) {
        double pt[PROBLEM_MAXDIM];
        if (two_points)
            eta_optim_eval(opt);
        for (int i = 0; i < n; i++)
            pt[i] = dtype == ETA_F32 ? (double)xf[i] : x[i];
        double loss = problem_eval(&pb, pt, g), gn = 0;
        for (int i = 0; i < n; i++)
            gn += g[i] * g[i];
        gn = sqrt(gn);
        if (sched) {
            /* A plateau rule sees the loss each update reached; the schedule
             * then sets the rate of the update that leaves this point. */
            if (t > 0 && isfinite(loss))
                eta_sched_observe_optim(sched, opt, t - 1, loss, NULL);
            if (t < steps || eta_sched_check_step(sched, t, NULL) == ETA_OK)
                eta_sched_apply(sched, opt, t);
        }
        print_row(t, eta_optim_lr(opt, 0), loss, gn, pt, n);
        if (plot) {
            curve_x[rows] = (double)t;
            curve_lr[rows] = eta_optim_lr(opt, 0);
            curve_loss[rows++] = loss;
        }
        bool finite = isfinite(loss) && isfinite(gn);
        for (int i = 0; i < n; i++)
            finite = finite && isfinite(pt[i]);
        if (!finite) {
            fprintf(stderr, "eta optimize: diverged at step %lld: the loss or the point is no longer finite; "
                            "try a smaller learning rate or --clip-norm\n", t);
            rc = EXIT_RUN;
            break;
        }
        if (t == steps)
            break;
        if (two_points) { /* the gradient at the training point */
            eta_optim_train(opt);
            for (int i = 0; i < n; i++)
                pt[i] = dtype == ETA_F32 ? (double)xf[i] : x[i];
            problem_eval(&pb, pt, g);
        }
        for (int i = 0; i < n; i++) {
            gd[i] = g[i];
            gf[i] = (float)g[i];
        }
        if (clip_s)
            eta_optim_clip_grad_norm(opt, clip, ETA_ANCHOR_TORCH, NULL);
        if (eta_optim_step(opt)) {
            fprintf(stderr, "eta optimize: %s\n", eta_optim_error(opt));
            rc = EXIT_RUN;
            break;
        }
    }
    fflush(stdout);
    if (plot) {
        eta_plot_series series[2] = {{curve_x, curve_loss, (size_t)rows, "loss", 0},
                                     {curve_x, curve_lr, (size_t)rows, "lr", 1}};
        /* A constant rate gets no axis of its own: the title says it. */
        bool lr_varies = false;
        for (long long i = 1; i < rows; i++)
            lr_varies = lr_varies || curve_lr[i] != curve_lr[0];
        char title[512], lr_text[64] = "";
        if (!lr_varies && rows > 0)
            snprintf(lr_text, sizeof lr_text, ", lr %.6g throughout", curve_lr[0]);
        snprintf(title, sizeof title, "%s on %s%s%s%s", optim, prob, sched_s ? " with " : "", sched_s ? sched_s : "",
                 lr_text);
        eta_plot_config pc = {title, "step", "loss", lr_varies ? "learning rate" : NULL, true, false, 0, 0};
        if (eta_plot_lines(plot, &pc, series, lr_varies ? 2 : 1, &err)) {
            fprintf(stderr, "eta optimize: --plot: %s\n", err.msg);
            rc = err.code == ETA_EINVAL ? EXIT_USAGE : EXIT_RUN;
        }
    }
    free(curve_lr);
    free(curve_loss);
    free(curve_x);
    eta_sched_free(sched);
    eta_optim_free(opt);
    return rc;
}
