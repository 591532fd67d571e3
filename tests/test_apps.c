/* tests/test_apps.c - the applications of docs/applications.md on a small
 * budget: each shipped config trains a few dozen steps and its loss falls
 * (the smoothed training loss at the end below the first batch's loss, and
 * by a margin). The long runs, their tables and their PyTorch twins are
 * tools/app.py's, not tests.
 * labels: cli full
 */
#include "harness.h"
#include "train_harness.h"

/* Trains configs/name for `steps` steps (seed 0, one thread) and returns
 * the first batch's loss and the last smoothed loss from metrics.csv. */
static void short_run(const char *name, int steps, const char *extra, double *first, double *last)
{
    const char *src = getenv("ETA_SOURCE_DIR");
    assert_non_null(src);
    char *tmp = tmp_dir();
    char args[4096];
    snprintf(args, sizeof args,
             "train '%s/configs/%s' --set train.steps=%d --set train.threads=1 --set output.plots=false "
             "--set output.dir='%s/run' --progress off %s",
             src, name, steps, tmp, extra ? extra : "");
    char *out = NULL, *err = NULL;
    int rc = run_eta(args, &out, &err);
    if (rc)
        fail_msg("%s: eta train exited %d: %s", name, rc, err ? err : "");
    free(out);
    free(err);
    char path[2048];
    snprintf(path, sizeof path, "%s/run/metrics.csv", tmp);
    char *m = read_file(path, NULL);
    assert_non_null(m);
    int rows = 0, col = 0; /* the loss column: step,epoch, an lr and a momentum per group, loss,smooth_loss,... */
    for (const char *c = m; strncmp(c, ",loss,", 6); c++)
        col += *c == ',';
    *first = *last = NAN;
    for (char *line = strchr(m, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
        double loss, smooth;
        char *p = line + 1;
        for (int c = 0; c <= col; c++)
            p = strchr(p, ',') + 1;
        assert_int_equal(sscanf(p, "%lf,%lf", &loss, &smooth), 2);
        if (!rows++)
            *first = loss;
        *last = smooth;
    }
    assert_int_equal(rows, steps);
    free(m);
    rm_tmp_dir(tmp);
    print_message("%s: %d steps, loss %.4f -> smoothed %.4f\n", name, steps, *first, *last);
}

static void test_sentiment_transformer(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("node_modules/sentiment/test/fixtures/amazon.json"), HOW_FETCH);
    double first, last;
    /* a constant rate: the config's warm-up would spend these steps near zero */
    short_run("sentiment-transformer.ini", 60, "--set schedule.spec= --set optimizer='Adam(lr=1e-3)'", &first, &last);
    assert_true(last < 0.97 * first);
    short_run("sentiment-transformer-shift.ini", 60, "--set schedule.spec= --set optimizer='Adam(lr=1e-3)'", &first,
              &last);
    assert_true(last < 0.97 * first);
}

static void test_fmnist_cyclic(void **state)
{
    (void)state;
    SKIP_UNLESS_FMNIST();
    double first, last;
    short_run("fmnist-cnn-cyclic.ini", 40, "--set schedule.spec= ", &first, &last);
    assert_true(last < 0.8 * first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sentiment_transformer),
        cmocka_unit_test(test_fmnist_cyclic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
