/* tune/lrauto.c - optimizer.lr = auto: before training, the range test on
 * the run itself (lrfind.c, settings from [lr_find]), its rule's suggestion
 * taken as the run's peak rate, and the evidence in the run directory:
 *   lr_find.csv   the curve (step,lr,loss,smoothed_loss)
 *   lr_find.png   loss against lr with every rule's suggestion marked
 *   lr_auto.txt   the decision: rate, rule, what it replaces, the test's
 *                 settings and every rule's suggestion, as `key = value`
 * With optimizer.auto = sweep the CLI (cli/lr_sweep.c) takes the test's
 * evidence from eta_lr_auto_test_run, sweeps, and commits its own pick with
 * eta_lr_auto_commit; lr_auto.txt then also holds the sweep's rates and
 * results.
 * The rate goes into the config as optimizer.lr (eta_run_set_peak_lr), so
 * DIR/config.ini and every checkpoint hold the decision and a resume runs
 * with it, without a second test. How a peak maps onto a schedule is the
 * run's (run.h: the schedule scaled so its highest rate is the peak).
 */
#include "tune/lrfind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"

/* Writes what f's memory holds into dir/name atomically. */
static int write_text(const char *dir, const char *name, char *text, size_t len, eta_err *err)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const void *parts[1] = {text};
    return eta_file_write_atomic(path, parts, &len, 1, err);
}

static void put_kv(FILE *f, const char *key, double v)
{
    char num[40];
    eta_fmt_real(num, sizeof num, v);
    fprintf(f, "%s = %s\n", key, num);
}

static void decision_text(FILE *f, const eta_lr_auto_test *t, const char *method, double lr, double spec_peak,
                          const char *extra)
{
    fprintf(f, "; optimizer.lr = auto: the decision, made before training (docs/lrfind.md)\n");
    if (lr > 0)
        put_kv(f, "lr", lr);
    else
        fprintf(f, "lr = none\n");
    fprintf(f, "method = %s\n", method);
    fprintf(f, "rule = %s\n", eta_lr_rule_name(t->rule));
    put_kv(f, "spec_peak", spec_peak);
    put_kv(f, "start", t->c.start);
    put_kv(f, "end", t->c.end);
    fprintf(f, "steps = %lld\n", (long long)t->c.steps);
    fprintf(f, "mode = %s\n", t->c.mode == ETA_LRFIND_EXP ? "exp" : "linear");
    put_kv(f, "beta", t->c.beta);
    put_kv(f, "stop_factor", t->c.stop_factor);
    fprintf(f, "points = %lld\n", (long long)t->points);
    fprintf(f, "stopped = %s\n", t->stopped ? "true" : "false");
    for (int k = 0; k < ETA_LR_RULE_COUNT; k++) {
        char key[64];
        snprintf(key, sizeof key, "suggestion.%s", eta_lr_rule_name((eta_lr_rule)k));
        if (t->s[k].ok)
            put_kv(f, key, t->s[k].lr);
        else
            fprintf(f, "%s = none: %s\n", key, t->s[k].why);
    }
    if (extra)
        fputs(extra, f);
}

int eta_lr_auto_test_run(eta_run *r, const eta_config *cfg, eta_lr_auto_test *t, eta_err *err)
{
    memset(t, 0, sizeof *t);
    int rc = eta_lrfind_config_read(cfg, &t->c, &t->rule, err);
    if (rc)
        return rc;
    eta_lrfind_result res;
    if ((rc = eta_lrfind_run(r, &t->c, &res, err))) {
        eta_lrfind_result_free(&res);
        return rc;
    }
    t->points = res.n;
    t->stopped = res.stopped;
    for (int k = 0; k < ETA_LR_RULE_COUNT; k++)
        eta_lr_suggest((eta_lr_rule)k, res.lr, res.smooth, res.n, t->c.steps, &t->s[k]);
    const char *dir = eta_run_dir(r);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        eta_lrfind_result_free(&res);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "lr = auto: out of memory");
    }
    eta_lrfind_write_csv(f, &res);
    fclose(f);
    rc = write_text(dir, "lr_find.csv", text, len, err);
    free(text);
    bool plots = true;
    eta_config_get_bool(cfg, "output", "plots", &plots, NULL);
    if (!rc && plots) {
        char path[1200];
        snprintf(path, sizeof path, "%s/lr_find.png", dir);
        rc = eta_lrfind_plot(path, &res, &t->c, t->s, ETA_LR_RULE_COUNT, "range test (optimizer.lr = auto)", err);
    }
    eta_lrfind_result_free(&res);
    return rc;
}

int eta_lr_auto_commit(eta_run *r, const eta_lr_auto_test *t, const char *method, double lr, const char *extra,
                       eta_err *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "lr = auto: out of memory");
    decision_text(f, t, method, lr, eta_run_spec_peak_lr(r), extra);
    fclose(f);
    int rc = write_text(eta_run_dir(r), "lr_auto.txt", text, len, err);
    free(text);
    return rc || !(lr > 0) ? rc : eta_run_set_peak_lr(r, lr, err);
}

int eta_lr_auto(eta_run *r, const eta_config *cfg, eta_lr_auto_report *rep, eta_err *err)
{
    if (!eta_run_lr_pending(r))
        return 1;
    eta_lr_auto_test t;
    int rc = eta_lr_auto_test_run(r, cfg, &t, err);
    if (rc)
        return rc;
    const eta_lr_suggestion *s = &t.s[t.rule];
    if (!s->ok) {
        eta_lr_auto_commit(r, &t, "test", NAN, NULL, NULL); /* the evidence, lr = nan: no decision */
        return eta_spec_fail(err, ETA_ESTATE, NULL,
                             "optimizer.lr = auto: the range test gave no %s suggestion: %s; see %s/lr_find.csv, "
                             "and choose another lr_find.rule or lr_find settings",
                             eta_lr_rule_name(t.rule), s->why, eta_run_dir(r));
    }
    double spec_peak = eta_run_spec_peak_lr(r);
    if ((rc = eta_lr_auto_commit(r, &t, "test", s->lr, NULL, err)))
        return rc;
    if (rep)
        *rep = (eta_lr_auto_report){.lr = s->lr, .rule = t.rule, .spec_peak = spec_peak, .points = t.points,
                                    .stopped = t.stopped};
    return 0;
}
