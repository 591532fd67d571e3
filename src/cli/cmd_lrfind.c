/* cli/cmd_lrfind.c - `eta lr-find CONFIG`: the learning-rate range test
 * (tune/lrfind.h) on the run a training config describes, written
 * nowhere but stdout (and --plot, --dir): the curve as CSV
 * (step,lr,loss,smoothed_loss), a blank line, then the suggestions as a
 * second table (rule,lr,smoothed_loss,note; the default rule marked).
 * The test's settings are the config's [lr_find] keys, which the options
 * override; their defaults are fastai's. docs/lrfind.md.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/run_cli.h"
#include "tune/lrfind.h"

static const char *const CMD = "lr-find";

enum { MAX_SETS = 64 };

static void help(void)
{
    printf("usage: eta lr-find CONFIG [--set SECTION.KEY=VALUE]... [--start LR] [--end LR] [--steps N]\n"
           "                          [--mode exp|linear] [--beta B] [--stop-factor F]\n"
           "                          [--suggest RULE,RULE,...|all] [--plot FILE.png|FILE.svg] [--dir DIR]\n\n"
           "The learning-rate range test (Leslie Smith's, as fastai's and Lightning's lr_find run\n"
           "it) on the model, data and optimizer of a training config: batch i trains at\n"
           "start * (end/start)^(i/steps), the loss is smoothed (debiased EMA) and the test stops\n"
           "when the smoothed loss passes stop-factor times its best. Nothing is written to a run\n"
           "directory; the weights, optimizer, schedule and data order are restored afterwards.\n"
           "Prints the curve as CSV (step,lr,loss,smoothed_loss), a blank line, then each rule's\n"
           "suggestion (rule,lr,smoothed_loss,note); the note marks lr_find.rule, the rule that\n"
           "optimizer.lr = auto takes.\n\n"
           "  eta lr-find configs/fmnist-mlp.ini --plot lr_find.png\n\n"
           "options (defaults: the config's [lr_find] keys, whose own defaults are fastai's):\n"
           "  --set K=V          overrides a config key (repeatable), as in eta train\n"
           "  --start LR         the first rate (default 1e-7)\n"
           "  --end LR           the rate the sweep heads for, not reached (default 10)\n"
           "  --steps N          batches (default 100)\n"
           "  --mode M           exp (default) or linear growth of the rate\n"
           "  --beta B           loss smoothing (default 0.98)\n"
           "  --stop-factor F    stop above F times the best smoothed loss; 0: never (default 4)\n"
           "  --suggest RULES    valley, slide, minimum, steep (fastai), gradient (Lightning),\n"
           "                     log_gradient, comma-separated, or all (default)\n"
           "  --plot FILE        loss against lr, each suggestion marked (.png or .svg)\n"
           "  --dir DIR          also write DIR/lr_find.csv and DIR/lr_find.png\n"
           "  --quiet            no message on stderr\n"
           "  --help             this text\n"
           "exit status: 0 done, 1 the test failed (data unreadable, ...), 2 bad usage or config\n");
}

/* An option that stands for a config key: set through the config, so it is
 * checked as the key is. */
static bool set_key(eta_config *cfg, const char *flag, const char *key, const char *value)
{
    if (!value)
        return true;
    char set[512];
    eta_err err;
    snprintf(set, sizeof set, "lr_find.%s=%s", key, value);
    if (eta_config_set(cfg, set, &err) == ETA_OK)
        return true;
    const char *m = err.msg; /* "--set lr_find.key=value: " names the assignment, which the user did not write */
    size_t head = strlen(set) + 8;
    if (!strncmp(m, "--set ", 6) && !strncmp(m + 6, set, strlen(set)) && strlen(m) > head)
        m += head;
    cli_usage_error(CMD, "%s: %s", flag, m);
    return false;
}

/* --suggest: a comma-separated list of rules, or all. */
static int parse_rules(const char *s, eta_lr_rule *rules)
{
    if (!s || !strcmp(s, "all")) {
        for (int k = 0; k < ETA_LR_RULE_COUNT; k++)
            rules[k] = (eta_lr_rule)k;
        return ETA_LR_RULE_COUNT;
    }
    int n = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        eta_err err;
        if (n == ETA_LR_RULE_COUNT || eta_lr_rule_parse(t, &rules[n], &err)) {
            cli_usage_error(CMD, "--suggest: %s", n == ETA_LR_RULE_COUNT ? "too many rules" : err.msg);
            return -1;
        }
        n++;
    }
    if (!n)
        cli_usage_error(CMD, "--suggest: no rule given (valley, slide, minimum, steep, gradient, log_gradient, all)");
    return n ? n : -1;
}

static int outputs(const char *dir, const char *plot, const eta_lrfind_result *res, const eta_lrfind_config *c,
                   const eta_lr_suggestion *s, int ns, const char *title)
{
    eta_err err;
    if (plot && eta_lrfind_plot(plot, res, c, s, ns, title, &err)) {
        fprintf(stderr, "eta %s: --plot: %s\n", CMD, err.msg);
        return EXIT_RUN;
    }
    if (!dir)
        return EXIT_OK;
    char path[1200];
    snprintf(path, sizeof path, "%s/lr_find.csv", dir);
    FILE *f = fopen(path, "w");
    int rc = f ? eta_lrfind_write_csv(f, res) : ETA_EIO;
    if (f && fclose(f))
        rc = ETA_EIO;
    if (rc) {
        fprintf(stderr, "eta %s: --dir: cannot write %s\n", CMD, path);
        return EXIT_RUN;
    }
    snprintf(path, sizeof path, "%s/lr_find.png", dir);
    if (eta_lrfind_plot(path, res, c, s, ns, title, &err)) {
        fprintf(stderr, "eta %s: --dir: %s\n", CMD, err.msg);
        return EXIT_RUN;
    }
    return EXIT_OK;
}

int cmd_lrfind(int argc, char **argv)
{
    const char *sets[MAX_SETS], *start = NULL, *end = NULL, *steps = NULL, *mode = NULL, *beta = NULL,
               *stop = NULL, *suggest = NULL, *plot = NULL, *dir = NULL, *pos[1];
    int nsets = 0, npos = 0;
    bool quiet = false;
    const cli_opt opts[] = {
        {"set", true, NULL, NULL}, /* taken out below; listed for --help's and hints' sake */
        {"start", true, &start, NULL},     {"end", true, &end, NULL},   {"steps", true, &steps, NULL},
        {"mode", true, &mode, NULL},       {"beta", true, &beta, NULL}, {"stop-factor", true, &stop, NULL},
        {"suggest", true, &suggest, NULL}, {"plot", true, &plot, NULL}, {"dir", true, &dir, NULL},
        {"quiet", false, NULL, &quiet},
    };
    if (!cli_take_repeated(CMD, "set", &argc, argv, sets, MAX_SETS, &nsets))
        return EXIT_USAGE;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos != 1)
        return cli_usage_error(CMD, "expected one config file, such as configs/fmnist-mlp.ini (see --help)");
    eta_lr_rule rules[ETA_LR_RULE_COUNT];
    int nrules = parse_rules(suggest, rules);
    if (nrules < 0 || !cli_check_plot(CMD, plot))
        return EXIT_USAGE;
    if (dir) { /* made now and checked, so a bad --dir is said before the test runs */
        char path[1200];
        eta_err perr;
        mkdir(dir, 0777);
        snprintf(path, sizeof path, "%s/lr_find.png", dir);
        if (eta_plot_check_path(path, &perr))
            return cli_usage_error(CMD, "--dir: %s", perr.msg);
    }
    eta_err err;
    eta_config *cfg;
    int rc = eta_config_read(&cfg, pos[0], &err);
    if (rc) {
        fprintf(stderr, "eta %s: %s\n", CMD, err.msg);
        return EXIT_USAGE;
    }
    for (int i = 0; i < nsets; i++)
        if (eta_config_set(cfg, sets[i], &err)) {
            cli_spec_error(CMD, NULL, sets[i], &err);
            eta_config_free(cfg);
            return EXIT_USAGE;
        }
    if (!set_key(cfg, "--start", "start", start) || !set_key(cfg, "--end", "end", end) ||
        !set_key(cfg, "--steps", "steps", steps) || !set_key(cfg, "--mode", "mode", mode) ||
        !set_key(cfg, "--beta", "beta", beta) || !set_key(cfg, "--stop-factor", "stop_factor", stop)) {
        eta_config_free(cfg);
        return EXIT_USAGE;
    }
    eta_lrfind_config c;
    eta_lr_rule def;
    if ((rc = eta_config_check(cfg, &err)) || (rc = eta_lrfind_config_read(cfg, &c, &def, &err))) {
        eta_config_free(cfg);
        return cli_run_report(CMD, NULL, &err, rc);
    }
    char full[2048] = "";
    eta_run_options ro = {.data_dir = cli_data_dir(), .no_files = true, .quiet = true, .progress = -1,
                          .msg = full, .msg_size = sizeof full};
    eta_run *r;
    if ((rc = eta_run_new(&r, cfg, &ro, &err))) {
        eta_config_free(cfg);
        return cli_run_report(CMD, full, &err, rc);
    }
    if (!quiet)
        fprintf(stderr, "eta %s: %lld batches, lr from %g towards %g (%s), stop above %g x the best smoothed loss\n",
                CMD, (long long)c.steps, c.start, c.end, c.mode == ETA_LRFIND_EXP ? "exp" : "linear",
                c.stop_factor);
    eta_lrfind_result res;
    rc = eta_lrfind_run(r, &c, &res, &err);
    eta_run_free(r);
    if (rc) {
        eta_lrfind_result_free(&res);
        eta_config_free(cfg);
        return cli_run_report(CMD, NULL, &err, ETA_EIO);
    }
    if (!quiet && res.stopped)
        fprintf(stderr, "eta %s: stopped after %lld batches: the smoothed loss passed %g x its best\n", CMD,
                (long long)res.n, c.stop_factor);
    eta_lr_suggestion s[ETA_LR_RULE_COUNT];
    for (int k = 0; k < nrules; k++)
        eta_lr_suggest(rules[k], res.lr, res.smooth, res.n, c.steps, &s[k]);
    eta_lrfind_write_csv(stdout, &res);
    putchar('\n');
    eta_lrfind_write_suggestions(stdout, s, nrules, def);
    fflush(stdout);
    char title[512];
    snprintf(title, sizeof title, "range test: %s", pos[0]);
    rc = outputs(dir, plot, &res, &c, s, nrules, title);
    eta_lrfind_result_free(&res);
    eta_config_free(cfg);
    return rc;
}
