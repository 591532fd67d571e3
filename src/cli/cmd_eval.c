/* cli/cmd_eval.c - `eta eval RUN_DIR`: a trained run's loss and accuracy on
 * a split of its data (test by default), and for classifiers the confusion
 * matrix as CSV (a row per true class, a column per predicted class).
 * `eta predict` shares cli_open_run, which opens a finished run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_cli.h"

static const char *const CMD = "eval";

static void help(void)
{
    printf("usage: eta eval RUN_DIR [--split test|val|train] [--data SPEC]\n\n"
           "Evaluates the model a run saved (RUN_DIR/model.safetensors, with the network and data\n"
           "of RUN_DIR/config.ini) in eval mode: prints the loss and, for classifiers, the\n"
           "accuracy and the confusion matrix as CSV (a row per true class, a column per\n"
           "predicted class, with the class names).\n\n"
           "  eta eval runs/fmnist-mlp\n\n"
           "options:\n"
           "  --split NAME   test (default), val or train\n"
           "  --data SPEC    another data set with the same shapes (docs/data.md)\n"
           "  --help         this text\n");
}

int cli_open_run(const char *cmd, const char *dir, const char *data_spec, eta_config **cfg, eta_run **run)
{
    char path[1100];
    eta_err err;
    snprintf(path, sizeof path, "%s/config.ini", dir);
    int rc = eta_config_read(cfg, path, &err);
    if (rc) {
        fprintf(stderr, "eta %s: %s\n", cmd, err.msg);
        return rc == ETA_EIO ? EXIT_RUN : EXIT_USAGE;
    }
    if (data_spec) {
        char *set = malloc(strlen(data_spec) + 8);
        if (!set)
            return EXIT_RUN;
        sprintf(set, "data=%s", data_spec);
        rc = eta_config_set(*cfg, set, &err);
        free(set);
        if (rc) {
            fprintf(stderr, "eta %s: --data: %s\n", cmd, err.msg);
            return EXIT_USAGE;
        }
    }
    char full[2048] = "";
    eta_run_options o = {.dir = dir, .for_eval = true, .progress = -1, .quiet = true,
                         .data_dir = cli_data_dir(), .msg = full, .msg_size = sizeof full};
    if ((rc = eta_run_new(run, *cfg, &o, &err)))
        return cli_run_report(cmd, full, &err, rc);
    const double *m, *sd;
    if (data_spec && (eta_data_input_stats(eta_run_dataset(*run), &m, &sd) > 0 ||
                      eta_data_target_stats(eta_run_dataset(*run), &m, &sd) > 0)) {
        /* Its own statistics would standardise it, not the training split's the model learnt
         * with: the outputs would be silently wrong. */
        fprintf(stderr,
                "eta %s: --data: this data set is standardised (or normalised) with statistics of its own "
                "training split, not those of the run's training data; pass standardize=False / "
                "normalize=False with data already scaled as the run's, or use the run's data set with --split\n",
                cmd);
        return EXIT_USAGE;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if ((rc = eta_net_load_safetensors(eta_run_net(*run), path, &err))) {
        fprintf(stderr, "eta %s: %s\n", cmd, err.msg);
        return EXIT_RUN;
    }
    return EXIT_OK;
}

/* test, val or train; -1 with a message otherwise. */
static int split_of(const char *s)
{
    static const char *const names[] = {"train", "val", "test"};
    for (int i = 0; i < 3; i++)
        if (!strcmp(s, names[i]))
            return i;
    cli_usage_error(CMD, "--split: '%s' is not a split (test, val or train)", s);
    return -1;
}

int cmd_eval(int argc, char **argv)
{
    const char *split_s = "test", *data = NULL, *pos[1];
    const cli_opt opts[] = {{"split", true, &split_s, NULL}, {"data", true, &data, NULL}};
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos != 1)
        return cli_usage_error(CMD, "expected one run directory, such as runs/fmnist-mlp (see --help)");
    int split = split_of(split_s);
    if (split < 0)
        return EXIT_USAGE;
    eta_config *cfg = NULL;
    eta_run *r = NULL;
    int code = cli_open_run(CMD, pos[0], data, &cfg, &r);
    if (code == EXIT_OK) {
        const eta_data_info *info = eta_run_data_info(r);
        int k = info->class_target && info->target_ndim == 0 ? info->classes : 0;
        int64_t *conf = k ? calloc((size_t)k * (size_t)k, sizeof *conf) : NULL;
        double loss, acc;
        eta_err err;
        int rc = k && !conf ? ETA_ENOMEM : eta_run_evaluate(r, (eta_split)split, &loss, &acc, conf, &err);
        if (rc) {
            code = cli_run_report(CMD, NULL, &err, rc);
        } else if (info->size[split] == 0) {
            code = cli_usage_error(CMD, "the %s split of this data set is empty", split_s);
        } else {
            printf("split,examples,loss%s\n%s,%lld,", isnan(acc) ? "" : ",accuracy", split_s,
                   (long long)info->size[split]);
            cli_print_real(stdout, loss);
            if (!isnan(acc)) {
                putchar(',');
                cli_print_real(stdout, acc);
            }
            putchar('\n');
            if (k) {
                printf("\ntrue\\predicted");
                for (int j = 0; j < k; j++)
                    printf(",\"%s\"", eta_run_class_name(r, j));
                putchar('\n');
                for (int i = 0; i < k; i++) {
                    printf("\"%s\"", eta_run_class_name(r, i));
                    for (int j = 0; j < k; j++)
                        printf(",%lld", (long long)conf[(size_t)i * (size_t)k + (size_t)j]);
                    putchar('\n');
                }
            }
        }
        free(conf);
    }
    eta_run_free(r);
    eta_config_free(cfg);
    return code;
}
