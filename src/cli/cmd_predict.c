/* cli/cmd_predict.c - `eta predict RUN_DIR`: a trained run's outputs on a
 * split of a data set, one CSV row per example (out0, out1, ... and, for
 * classifiers, the predicted class), in the data set's order. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_cli.h"

static const char *const CMD = "predict";

static void help(void)
{
    printf("usage: eta predict RUN_DIR [--data SPEC] [--split test|val|train]\n\n"
           "Runs the model a run saved (RUN_DIR/model.safetensors) in eval mode on a data set\n"
           "(by default the run's own, its test split) and prints one CSV row per example:\n"
           "the network's outputs out0, out1, ... and, for a classifier, the predicted class.\n\n"
           "  eta predict runs/wine\n"
           "  eta predict runs/wine --data \"CSV('new.csv', val=0, test=0)\" --split train\n\n"
           "options:\n"
           "  --data SPEC    the data set (docs/data.md); relative paths from $ETA_DATA_DIR\n"
           "                 or the data folder. Every row of a CSV: val=0, test=0 and\n"
           "                 --split train. Its inputs are standardised with its own\n"
           "                 statistics (standardize=False to take them as they are)\n"
           "  --split NAME   test (default), val or train\n"
           "  --help         this text\n");
}

int cmd_predict(int argc, char **argv)
{
    const char *split_s = "test", *data = NULL, *pos[1];
    const cli_opt opts[] = {{"split", true, &split_s, NULL}, {"data", true, &data, NULL}};
    int npos = 0;
    int done = cli_parse_opts(CMD, argc, argv, opts, sizeof opts / sizeof opts[0], help, pos, 1, &npos);
    if (done != CLI_CONTINUE)
        return done;
    if (npos != 1)
        return cli_usage_error(CMD, "expected one run directory, such as runs/wine (see --help)");
    int split = !strcmp(split_s, "train") ? 0 : !strcmp(split_s, "val") ? 1 : !strcmp(split_s, "test") ? 2 : -1;
    if (split < 0)
        return cli_usage_error(CMD, "--split: '%s' is not a split (test, val or train)", split_s);
    eta_config *cfg = NULL;
    eta_run *r = NULL;
    int code = cli_open_run(CMD, pos[0], data, &cfg, &r);
    if (code == EXIT_OK) {
        eta_err err;
        int rc = eta_run_predict(r, (eta_split)split, stdout, &err);
        if (rc)
            code = cli_run_report(CMD, NULL, &err, rc);
    }
    eta_run_free(r);
    eta_config_free(cfg);
    return code;
}
