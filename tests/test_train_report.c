/* test_train_report.c - a run's report hook (eta_run_options.report, what a
 * sweep trial reports through): it sees every validation evaluation with
 * its step, epoch and values, and may stop the
 * run there, which then ends as an early-stopped run does; an error it
 * returns ends eta_run_fit with that error. labels: unit full
 *
 * Data: scikit-learn's iris CSV from data/ (train_harness.h's
 * TRAIN_CONFIG_IRIS: 6 steps an epoch, an evaluation at each epoch's end).
 */
#include "train_harness.h"

#include "train/run.h"

typedef struct seen {
    int n, stop_at, fail_at;
    eta_run_report reps[16];
} seen;

static int hook(void *ud, const eta_run_report *rep, eta_err *err)
{
    seen *s = ud;
    s->reps[s->n++] = *rep;
    if (s->n == s->fail_at) {
        snprintf(err->msg, sizeof err->msg, "the hook failed");
        err->code = ETA_EIO;
        return ETA_EIO;
    }
    return s->n == s->stop_at;
}

static int train(const char *dir, seen *s, eta_run **out, eta_err *err)
{
    eta_config *c;
    assert_int_equal(eta_config_read_string(&c, TRAIN_CONFIG_IRIS, strlen(TRAIN_CONFIG_IRIS), "iris.ini", err), 0);
    eta_run_options o = {.dir = dir, .data_dir = data_dir(), .progress = -1, .quiet = true, .report = hook,
                         .report_ud = s};
    assert_int_equal(eta_run_new(out, c, &o, err), 0);
    int rc = eta_run_fit(*out, err);
    eta_run_free(*out);
    eta_config_free(c);
    return rc;
}

static void test_report(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("sklearn/iris.csv"), HOW_FETCH);
    char *root = tmp_dir();
    eta_run *r;
    eta_err err;
    seen all = {0};
    assert_int_equal(train(path_in(root, "all"), &all, &r, &err), 0);
    assert_int_equal(all.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(all.reps[i].step, 6 * (i + 1));
        assert_int_equal(all.reps[i].epoch, i);
        assert_true(isfinite(all.reps[i].val_loss) && all.reps[i].val_acc >= 0 && all.reps[i].val_acc <= 1);
    }
    /* stopped after the second evaluation: 12 steps, then the end of a run (a model) */
    seen two = {.stop_at = 2};
    assert_int_equal(train(path_in(root, "two"), &two, &r, &err), 0);
    assert_int_equal(two.n, 2);
    assert_true(two.reps[0].val_loss == all.reps[0].val_loss); /* the same run up to there, bit for bit */
    assert_true(two.reps[1].val_loss == all.reps[1].val_loss);
    char two_dir[512];
    snprintf(two_dir, sizeof two_dir, "%s/two", root);
    assert_true(file_exists(path_in(two_dir, "model.safetensors")));
    char *jsonl = read_file(path_in(two_dir, "metrics.jsonl"), NULL);
    expect_has("metrics.jsonl", jsonl, "stopped after this evaluation by the caller's report hook");
    free(jsonl);
    /* an error from the hook ends the run with it */
    seen bad = {.fail_at = 3};
    assert_int_equal(train(path_in(root, "bad"), &bad, &r, &err), ETA_EIO);
    assert_string_equal(err.msg, "the hook failed");
    assert_int_equal(bad.n, 3);
    rm_tmp_dir(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_report)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
