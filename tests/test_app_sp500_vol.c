/* test_app_sp500_vol.c - the smoke test of the S&P 500 volatility application
 * (configs/sp500-vol.ini; docs/applications.md, section 4): the config as
 * shipped, cut to 3 epochs at one thread (177 steps, well under a second),
 * must learn. labels: cli full
 *
 * A batch's loss swings with the days it holds (2008's dwarf 2005's), so the
 * training loss is compared as a mean over whole epochs, each a pass over
 * every training day: the third epoch's mean must be below 0.9 times the
 * first's. The validation loss must fall from the first evaluation to the
 * last, and the test loss must beat the historical (training) mean, whose
 * test MSE is 1.377 in these standardised units (examples/sp500_vol). The
 * numbers of the full runs are in docs/applications.md; this only says that
 * training still works.
 */
#include "train_harness.h"

static char root[] = "/tmp/eta_app_sp500_vol_XXXXXX";

static int setup(void **state)
{
    (void)state;
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

static const char *config_path(void)
{
    static char p[1024];
    const char *s = getenv("ETA_SOURCE_DIR");
    snprintf(p, sizeof p, "%s/configs/sp500-vol.ini", s && *s ? s : ".");
    return p;
}

static void test_sp500_vol_loss_falls(void **state)
{
    (void)state;
    SKIP_UNLESS(data_file("node_modules/vega-datasets/data/sp500-2000.csv"), HOW_FETCH);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/run", root);
    const char *argv[] = {"train", config_path(), "--dir", dir, "--quiet", "--set", "train.epochs=3",
                          "--set", "train.threads=1", "--set", "output.plots=false", NULL};
    free(eta_expect(0, argv, NULL, NULL));
    /* metrics.csv: step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss */
    char *text = read_file(path_in(dir, "metrics.csv"), NULL);
    assert_non_null(text);
    double sum[3] = {0, 0, 0}, val_first = NAN, val_last = NAN;
    int count[3] = {0, 0, 0}, rows = 0;
    char *save, *line = strtok_r(text, "\n", &save);
    assert_string_equal(line, "step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss");
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[16];
        int n = csv_fields(line, f, 16);
        assert_int_equal(n, 9);
        int epoch = atoi(f[1]);
        assert_true(epoch >= 0 && epoch < 3);
        sum[epoch] += atof(f[4]);
        count[epoch]++;
        if (*f[8]) {
            val_last = atof(f[8]);
            if (isnan(val_first))
                val_first = val_last;
        }
        rows++;
    }
    free(text);
    assert_int_equal(rows, 177); /* ceil(3752 / 64) = 59 steps an epoch */
    assert_int_equal(count[0], 59);
    assert_int_equal(count[2], 59);
    double first = sum[0] / count[0], last = sum[2] / count[2];
    print_message("training loss by epoch %.4f -> %.4f; val %.4f -> %.4f\n", first, last, val_first, val_last);
    assert_true(last < 0.9 * first);
    assert_true(val_last < val_first);
    /* the test loss, from metrics.jsonl's test event */
    text = read_file(path_in(dir, "metrics.jsonl"), NULL);
    assert_non_null(text);
    const char *t = strstr(text, "\"test_loss\":");
    assert_non_null(t);
    double test = atof(t + strlen("\"test_loss\":"));
    print_message("test loss %.4f (the training mean's: 1.377)\n", test);
    assert_true(test > 0 && test < 1.377);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sp500_vol_loss_falls),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
