/* train/progress.h - internal to the train layer: training progress on a
 * terminal or in a log.
 *
 * Two forms. On a terminal, one line redrawn in place with a carriage
 * return, at most every redraw_interval seconds (0.1: ten redraws a second),
 * never wider than the terminal (TIOCGWINSZ at every redraw, 80 columns
 * when unknown) less one column, so it never wraps:
 *   epoch 2/5 [#######.......] 1234/4690 loss 0.4312 lr 1.2e-03 |g| 0.83 5.12k/s 0:42<1:37
 * fields dropped from the right when the terminal is narrow, the bar's fill
 * in green unless NO_COLOR is set, and a newline at each epoch's end.
 * Elsewhere (a pipe, a file, TERM=dumb): a plain line every log_every steps
 * and one at each epoch's end, no control characters:
 *   epoch 2/5 step 1234/4690 loss 0.4312 lr 0.0012 grad_norm 0.83 samples/s 5123 elapsed 0:42 left 1:37
 * Messages (warnings, evaluations, guard events) are whole lines; on a
 * terminal the bar is cleared first and drawn again after them.
 *
 * The caller supplies the clock (seconds since the run started in this
 * process) so the output is a function of the inputs. Writes go straight
 * to the file descriptor (write(2), one call per line); failures to write
 * are ignored, as progress is only for the eye. The metrics sink drives
 * this object (metrics.h); a run rarely calls it directly.
 */
#ifndef ETA_TRAIN_PROGRESS_H
#define ETA_TRAIN_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

#include "eta/core.h"

typedef enum eta_progress_mode {
    ETA_PROGRESS_AUTO = 0,  /* a bar when fd is a terminal and TERM is not "dumb", else lines */
    ETA_PROGRESS_BAR,
    ETA_PROGRESS_LINES,
    ETA_PROGRESS_OFF,
    ETA_PROGRESS_MODE_COUNT
} eta_progress_mode;

typedef struct eta_progress_config {
    int fd;                  /* 2 (stderr) */
    eta_progress_mode mode;  /* AUTO */
    int64_t log_every;       /* lines: a line every N steps; 100 */
    double redraw_interval;  /* bar: seconds between redraws; 0.1 */
    int64_t epochs;          /* E in "epoch e/E"; 0: unknown (not shown) */
    int64_t steps_per_epoch; /* the bar's fill; 0: unknown */
    int64_t total_steps;     /* for the step count and time left; 0: epochs x steps_per_epoch */
    int width;               /* columns; 0: the terminal's, else 80 */
    int color;               /* -1: when a bar is drawn and NO_COLOR is unset; 0 never; 1 always (bar only) */
} eta_progress_config;

eta_progress_config eta_progress_defaults(void);

/* What one step shows. */
typedef struct eta_progress_info {
    int64_t step;          /* updates done, counted over the whole run */
    int64_t epoch;         /* 0-based; shown as epoch+1 */
    int64_t epoch_step;    /* updates done in this epoch (1 after its first) */
    double loss;           /* the smoothed training loss */
    double lr;             /* group 0's learning rate */
    double grad_norm;
    double samples_per_s;  /* NaN: not shown */
    double time;           /* seconds since the run (re)started in this process */
} eta_progress_info;

typedef struct eta_progress eta_progress;

/* ETA_EINVAL for a bad config (negative counts, a mode out of range). */
int eta_progress_new(eta_progress **out, const eta_progress_config *cfg, eta_err *err);
/* Ends an open bar line with a newline. NULL is allowed. */
void eta_progress_free(eta_progress *p);

/* Whether this progress draws a bar (AUTO resolved). */
bool eta_progress_is_bar(const eta_progress *p);

/* After each step. Bar: redrawn when redraw_interval has passed since the
 * last drawing (or at the first step); lines: a line when step is a
 * multiple of log_every. */
void eta_progress_update(eta_progress *p, const eta_progress_info *s);

/* At an epoch's end: the bar drawn in full and ended by a newline; lines:
 * "epoch e/E done: ...". */
void eta_progress_epoch_end(eta_progress *p, const eta_progress_info *s);

/* A line of text (no newline needed); control characters in it are shown
 * as spaces. */
void eta_progress_message(eta_progress *p, const char *text);

#endif
