/* train/runplot.h - internal to the train layer and the CLI: a run's plots
 * drawn from its files (metrics.csv, config.ini), for one run or several
 * overlaid, with the cairo plot layer (eta/plot.h).
 *
 * The charts, against the step:
 *   loss       the raw training loss (faint), its smoothed curve (smooth_loss)
 *              and the validation loss (dots); logarithmic when the smoothed
 *              and validation losses span more than 1.5 decades
 *   lr         the learning rate of every parameter group over, in a second
 *              panel aligned with it, the momentum (when the optimizer has one)
 *   grad_norm  the gradient norm (faint) and its smoothed curve (debiased
 *              EMA, beta 0.98); logarithmic past 1.5 decades
 *   val_loss, val_acc   the validation points of each run
 * With several runs each run has one colour and a legend entry (its label);
 * `smooth` leaves the faint raw curves out.
 */
#ifndef ETA_TRAIN_RUNPLOT_H
#define ETA_TRAIN_RUNPLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "eta/core.h"

/* metrics.csv read into columns of doubles; an empty cell is NaN. */
typedef struct eta_run_table {
    char *path;
    int ncols;
    char **names;
    int64_t nrows;
    double **cols;
} eta_run_table;

/* Reads a metrics.csv: a header, then rows with as many fields, numbers or
 * empty. A last line without its newline that is short is a row still being
 * written: left out. Errors name the file and line: ETA_EIO
 * ("runs/a/metrics.csv: No such file or directory"), ETA_EFORMAT
 * ("runs/a/metrics.csv:12: 9 fields, the header has 10", "...:12: field 5
 * (loss): 'x' is not a number", "...: empty file", "...: no step column"). */
int eta_run_table_read(eta_run_table **out, const char *path, eta_err *err);
/* The column called `name`, or NULL. */
const double *eta_run_table_col(const eta_run_table *t, const char *name);
void eta_run_table_free(eta_run_table *t);

typedef enum eta_runplot_metric {
    ETA_RUNPLOT_LOSS = 0,
    ETA_RUNPLOT_LR,
    ETA_RUNPLOT_GRAD_NORM,
    ETA_RUNPLOT_VAL_LOSS,
    ETA_RUNPLOT_VAL_ACC,
    ETA_RUNPLOT_METRIC_COUNT
} eta_runplot_metric;

/* "loss", "lr", "grad_norm", "val_loss", "val_acc"; parse returns ETA_EINVAL
 * with the valid names in the message. */
const char *eta_runplot_metric_name(eta_runplot_metric m);
int eta_runplot_metric_parse(const char *s, eta_runplot_metric *out, eta_err *err);

/* Draws `metric` for n >= 1 runs (labels[i] names run i in the legend and,
 * for one run, the title) into `path` (.png or .svg). */
int eta_runplot_draw(const char *path, eta_runplot_metric metric, const eta_run_table *const *runs,
                     const char *const *labels, int n, bool smooth, eta_err *err);

/* loss.png, lr.png and grad_norm.png of the run in run_dir, written into
 * out_dir (NULL: run_dir). */
int eta_runplot_run(const char *run_dir, const char *out_dir, eta_err *err);

/* Legend labels for n run directories, malloc'd into labels[0..n): the
 * directories' last components (the paths as given when two coincide), or,
 * when every run has a config.ini and they differ in one value only (the
 * [output] section aside), that value: "lr=0.003" for
 * optimizer = AdamW(lr=0.003, weight_decay=0.01) against lr=0.001. Free
 * each with free(). ETA_ENOMEM only. */
int eta_runplot_labels(const char *const *dirs, int n, char **labels);

#endif
