/* cli/cmd_plot.c - `eta plot RUN_DIR...`: a run's charts drawn again from
 * its metrics.csv, or several runs overlaid in one chart per metric so that
 * two learning rates can be compared at a glance. The charts themselves are
 * in src/train/runplot.c; this file reads the options and the runs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "train/runplot.h"

static const char *const CMD = "plot";

enum { MAX_RUNS = 64 };

static void help(void)
{
    printf("usage: eta plot RUN_DIR... [--out DIR] [--metric loss|lr|grad_norm|val_loss|val_acc] [--smooth]\n\n"
           "Draws a training run's charts from RUN_DIR/metrics.csv as PNG files: loss.png (the raw\n"
           "training loss, faint, its smoothed curve and the validation loss; a logarithmic axis when\n"
           "the loss spans decades), lr.png (the learning rate of each parameter group, and the\n"
           "momentum below it) and grad_norm.png. Several runs are overlaid, one colour each, in one\n"
           "chart per metric; each is named by its directory, or, when their config.ini files differ\n"
           "in one value only, by that value (\"lr=0.003\"). The files written are printed, one a line.\n\n"
           "options:\n"
           "  --out DIR        where the PNGs go (made if missing; default: RUN_DIR for one run,\n"
           "                   the current directory for several)\n"
           "  --metric M       one chart only: loss, lr, grad_norm, val_loss or val_acc\n"
           "                   (default: loss, lr and grad_norm)\n"
           "  --smooth         smoothed curves only, without the faint raw values\n"
           "  --help           this text\n");
}

/* Makes `dir` if it does not exist; false with a message on failure. */
static bool ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return true;
        fprintf(stderr, "eta %s: --out: %s: not a directory\n", CMD, dir);
        return false;
    }
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "eta %s: --out: %s: %s\n", CMD, dir, strerror(errno));
        return false;
    }
    return true;
}

int cmd_plot(int argc, char **argv)
{
    const char *out = NULL, *metric_s = NULL, *pos[MAX_RUNS];
    bool smooth = false;
    const cli_opt opts[] = {
        {"out", true, &out, NULL},
        {"metric", true, &metric_s, NULL},
        {"smooth", false, NULL, &smooth},
    };
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, MAX_RUNS, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos == 0)
        return cli_usage_error(CMD, "expected one or more run directories (see 'eta plot --help')");
    eta_err err;
    eta_runplot_metric metric = ETA_RUNPLOT_LOSS;
    if (metric_s && eta_runplot_metric_parse(metric_s, &metric, &err))
        return cli_usage_error(CMD, "--metric: %s", err.msg);
    for (int i = 0; i < npos; i++) {
        struct stat st;
        if (stat(pos[i], &st) != 0 || !S_ISDIR(st.st_mode))
            return cli_usage_error(CMD, "%s: %s", pos[i], stat(pos[i], &st) ? strerror(errno) : "not a directory");
    }
    if (!out)
        out = npos == 1 ? pos[0] : ".";
    if (!ensure_dir(out))
        return EXIT_USAGE;

    eta_run_table *runs[MAX_RUNS] = {0};
    char *labels[MAX_RUNS] = {0};
    int rc = EXIT_OK;
    for (int i = 0; i < npos && rc == EXIT_OK; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/metrics.csv", pos[i]);
        if (eta_run_table_read(&runs[i], path, &err)) {
            fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
            rc = EXIT_RUN;
        }
    }
    if (rc == EXIT_OK && eta_runplot_labels(pos, npos, labels)) {
        fprintf(stderr, "eta %s: out of memory\n", CMD);
        rc = EXIT_RUN;
    }
    const eta_runplot_metric all[3] = {ETA_RUNPLOT_LOSS, ETA_RUNPLOT_LR, ETA_RUNPLOT_GRAD_NORM};
    int nm = metric_s ? 1 : 3;
    for (int k = 0; k < nm && rc == EXIT_OK; k++) {
        eta_runplot_metric m = metric_s ? metric : all[k];
        char path[4096];
        snprintf(path, sizeof path, "%s/%s.png", out, eta_runplot_metric_name(m));
        if (eta_runplot_draw(path, m, (const eta_run_table *const *)runs, (const char *const *)labels, npos, smooth,
                             &err)) {
            fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
            rc = EXIT_RUN;
        } else {
            printf("%s\n", path);
        }
    }
    for (int i = 0; i < npos; i++) {
        eta_run_table_free(runs[i]);
        free(labels[i]);
    }
    return rc;
}
