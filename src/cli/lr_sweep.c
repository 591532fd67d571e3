/* cli/lr_sweep.c - optimizer.lr = auto with optimizer.auto = sweep: the
 * range test brackets the rate, a short successive-halving sweep over the
 * bracket picks it.
 *
 *   1. the range test on the run (tune/lrauto.c: lr_find.csv, lr_find.png);
 *      its lowest smoothed point lr_min (fastai's `minimum` x 10) is where
 *      a constant rate stops helping;
 *   2. rates lr_min * 10^((1 - k) / per_decade), k = 0 .. rates - 1: one
 *      step above lr_min (a schedule's peak may pass it), then downwards,
 *      as the reference grids space them (3 a decade by default);
 *   3. `eta sweep` over those rates as optimizer.lr (the run's peak), in
 *      DIR/lr_sweep, each trial the run itself with its own directory,
 *      evaluated every ceil(total/f^2) steps, pruned by successive halving
 *      (Optuna's rule, min_resource = total/f^2, reduction factor f): the
 *      trials that stay in the best 1/f at total/f^2 and total/f steps run
 *      to the end;
 *   4. the completed trial with the best validation loss gives the rate,
 *      committed as the run's peak (lr_auto.txt records the rates, the
 *      winner and the sweep's compute), and the run trains from its
 *      first step.
 * The sweep forks its worker from this process, like `eta sweep`: one
 * worker with every core, so the trials reach the rungs in one order (the
 * grid's, shuffled by the seed 0) and the decision is reproducible;
 * successive halving run asynchronously by several workers would depend on
 * which trial reports first.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_cli.h"
#include "core/fmt.h"
#include "tune/lrfind.h"
#include "tune/sweep.h"

enum { MAX_RATES = 64 };

int cli_lr_auto_sweep(const char *cmd, eta_run *r, const eta_config *cfg, bool quiet)
{
    eta_err err;
    int64_t rates, per_decade, f;
    int rc;
    if ((rc = eta_config_get_int(cfg, "lr_find", "sweep_rates", &rates, &err)) ||
        (rc = eta_config_get_int(cfg, "lr_find", "sweep_per_decade", &per_decade, &err)) ||
        (rc = eta_config_get_int(cfg, "lr_find", "sweep_reduction", &f, &err)))
        return cli_run_report(cmd, NULL, &err, rc);
    eta_lr_auto_test t;
    if ((rc = eta_lr_auto_test_run(r, cfg, &t, &err)))
        return cli_run_report(cmd, NULL, &err, rc == ETA_EINVAL ? rc : ETA_EIO);
    const eta_lr_suggestion *m = &t.s[ETA_LR_MINIMUM];
    const char *dir = eta_run_dir(r);
    if (!m->ok) {
        eta_lr_auto_commit(r, &t, "sweep", NAN, NULL, NULL);
        fprintf(stderr, "eta %s: optimizer.lr = auto (sweep): the range test found no lowest point to bracket the "
                        "rate from: %s; see %s/lr_find.csv, and change lr_find's settings\n", cmd, m->why, dir);
        return EXIT_RUN;
    }
    double lr_min = 10 * m->lr; /* fastai's minimum is the lowest point's rate / 10 */
    int64_t total = eta_run_total_steps(r), every = (total + f * f - 1) / (f * f); /* no rung just short of the end */
    every = every < 1 ? 1 : every;
    /* the grid, as a list; the settings every trial shares */
    char grid[64 + MAX_RATES * 32] = "optimizer.lr=[", num[40], pruner[96], eval[64];
    size_t at = strlen(grid);
    for (int64_t k = 0; k < rates && k < MAX_RATES; k++) {
        eta_fmt_real(num, sizeof num, lr_min * pow(10, (double)(1 - k) / (double)per_decade));
        at += (size_t)snprintf(grid + at, sizeof grid - at, "%s%s", k ? ", " : "", num);
    }
    snprintf(grid + at, sizeof grid - at, "]");
    snprintf(pruner, sizeof pruner, "sh(min_resource=%lld, reduction_factor=%lld)", (long long)every, (long long)f);
    snprintf(eval, sizeof eval, "train.eval_every=%lld", (long long)every);
    char config[1100], sweep_dir[1100];
    snprintf(config, sizeof config, "%s/config.ini", dir);
    snprintf(sweep_dir, sizeof sweep_dir, "%s/lr_sweep", dir);
    /* one worker, every core its threads: trials arrive in one order, so the same run decides the same */
    cli_sweep_args a = {.config = config, .pruner = pruner, .dir = sweep_dir, .workers = "1", .ngrid = 1, .nsets = 2};
    a.grid[0] = grid;
    a.sets[0] = eval;
    a.sets[1] = "output.progress=off";
    if (!quiet)
        fprintf(stderr, "eta %s: lr = auto (sweep): the range test's lowest point is at %.3g; %lld rates from %.3g "
                        "down, successive halving (rungs at %lld and %lld of %lld steps) in %s\n",
                cmd, lr_min, (long long)rates, lr_min * pow(10, 1.0 / (double)per_decade), (long long)every,
                (long long)(every * f), (long long)total, sweep_dir);
    char *summary = NULL; /* eta sweep's ranked table: the study holds the same */
    size_t len = 0;
    FILE *out = open_memstream(&summary, &len);
    if (!out)
        return cli_usage_error(cmd, "out of memory");
    char used[1024];
    int code = cli_sweep_run(cmd, &a, out, used, sizeof used);
    fclose(out);
    free(summary);
    if (code == EXIT_USAGE)
        return code;
    sweep_best_trial best;
    if (sweep_best(sweep_dir, &best, &err))
        return cli_run_report(cmd, NULL, &err, ETA_EIO);
    if (best.number < 0) {
        fprintf(stderr, "eta %s: optimizer.lr = auto (sweep): no trial completed; see %s/sweep.csv\n", cmd,
                sweep_dir);
        return EXIT_RUN;
    }
    double lr = best.x;
    /* the evidence: the rates, the winner and the ranked trials */
    char *extra = NULL;
    size_t elen = 0;
    FILE *e = open_memstream(&extra, &elen);
    if (!e)
        return cli_usage_error(cmd, "out of memory");
    eta_fmt_real(num, sizeof num, lr_min);
    fprintf(e, "sweep.lr_min = %s\nsweep.rates = %s\nsweep.pruner = %s\n", num, grid + strlen("optimizer.lr="),
            pruner);
    fprintf(e, "sweep.trial = %lld\nsweep.val_loss = %.6g\nsweep.completed = %d\n", (long long)best.number,
            best.value, best.completed);
    fprintf(e, "sweep.steps = %lld\nsweep.dir = %s\n", (long long)best.steps, sweep_dir);
    fclose(e);
    rc = eta_lr_auto_commit(r, &t, "sweep", lr, extra, &err);
    free(extra);
    if (rc)
        return cli_run_report(cmd, NULL, &err, ETA_EIO);
    if (!quiet)
        fprintf(stderr, "eta %s: lr = auto (sweep): %.3g won (trial %lld, val_loss %.4g; %d of %lld trials "
                        "completed, %lld steps, %.2f runs' worth); the specs' peak was %.3g; %s/lr_auto.txt\n",
                cmd, lr, (long long)best.number, best.value, best.completed, (long long)rates, (long long)best.steps,
                (double)best.steps / (double)total, eta_run_spec_peak_lr(r), dir);
    return EXIT_OK;
}
