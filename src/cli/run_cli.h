/* cli/run_cli.h - shared by the commands that drive a training run (train,
 * demo, eval, predict): the run's whole life from a config, and its errors. */
#ifndef ETA_CLI_RUN_CLI_H
#define ETA_CLI_RUN_CLI_H

#include "train/config.h"
#include "train/run.h"

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

#endif
