/* cli/run_cli.h - shared by the commands that drive a training run (train,
 * demo, eval, predict): the run's whole life from a config, and its errors. */
#ifndef ETA_CLI_RUN_CLI_H
#define ETA_CLI_RUN_CLI_H

#include <stdio.h>

#include "train/config.h"
#include "train/run.h"
#include "tune/sweep.h"

/* Builds the run (after eta_config_check), resumes it when opts->resume,
 * trains it, prints the summary; returns the exit code. */
int cli_train_run(const char *cmd, eta_config *cfg, const eta_run_options *opts);

/* Prints "eta CMD: message" (full when not empty, else err's) and returns
 * the exit code: 2 for a bad config or spec, 1 otherwise. */
int cli_run_report(const char *cmd, const char *full, const eta_err *err, int rc);

/* Where relative paths in data specs start: $ETA_DATA_DIR, else the folder
 * tools/fetch-data.sh fills. */
const char *cli_data_dir(void);

/* Opens a finished run's directory for eval/predict: its config.ini, the
 * network with model.safetensors loaded; data_spec (may be NULL) replaces
 * the config's data set. Returns the exit code (0 on success). */
int cli_open_run(const char *cmd, const char *dir, const char *data_spec, eta_config **cfg, eta_run **run);

/* `eta sweep`'s command line, as cmd_sweep.c takes it (NULL: the default). */
enum { CLI_SWEEP_MAX_SETS = 64 };
typedef struct cli_sweep_args {
    const char *config, *trials, *sampler, *pruner, *metric, *workers, *threads, *seed, *dir, *join;
    const char *grid[SWEEP_MAX_DIMS], *random[SWEEP_MAX_DIMS], *sets[CLI_SWEEP_MAX_SETS];
    int ngrid, nrandom, nsets;
} cli_sweep_args;

/* A new sweep from a (not --join), run to its end in worker processes
 * forked from this one; the ranked summary to `summary`, progress lines to
 * stderr. dir receives the sweep directory. Returns the exit code. */
int cli_sweep_run(const char *cmd, const cli_sweep_args *a, FILE *summary, char *dir, size_t dir_size);

/* optimizer.lr = auto with optimizer.auto = sweep (cli/lr_sweep.c): the
 * range test brackets the rate, a successive-halving sweep over the bracket
 * picks it; the evidence in DIR/lr_find.*, DIR/lr_sweep/ and
 * DIR/lr_auto.txt. Returns the exit code. */
int cli_lr_auto_sweep(const char *cmd, eta_run *r, const eta_config *cfg, bool quiet);

#endif
