/* tests/test_app_char_lstm.c - the smoke test of the recurrent application
 * (docs/applications.md, section 5): configs/char-lstm.ini, the character
 * LSTM on Debian's dasher-data text, trained 40 steps at one thread by
 * `eta train` as shipped (SGD lr 10 with momentum, clip_grad_norm 1.0): the
 * training loss must fall (the mean of the last 10 steps' losses below the
 * first step's by at least 0.5 nats; measured: 4.45 -> 2.66) and stay
 * finite. Skipped when dasher-data is not installed.
 * labels: cli full
 */
#include "data_harness.h"

static void test_loss_falls(void **state)
{
    (void)state;
    SKIP_UNLESS(DASHER_TEXT, HOW_DEBIAN);
    const char *src = getenv("ETA_SOURCE_DIR") ? getenv("ETA_SOURCE_DIR") : ".";
    char *tmp = tmp_dir(), args[4096], path[2048], *out = NULL, *err = NULL;
    snprintf(args, sizeof args,
             "train '%s/configs/char-lstm.ini' --set train.steps=40 --set train.log_every=1 --set train.threads=1 "
             "--set output.dir='%s/run' --progress off",
             src, tmp);
    int rc = run_eta(args, &out, &err);
    if (rc != 0)
        fail_msg("eta train exited %d: %s", rc, err ? err : "");
    snprintf(path, sizeof path, "%s/run/metrics.csv", tmp);
    char *csv = read_file(path, NULL);
    assert_non_null(csv);
    /* step,epoch,lr,momentum,loss,...: the fifth column of each step's row */
    double loss[64];
    int n = 0;
    for (char *line = strchr(csv, '\n'); line && line[1] && n < 64; line = strchr(line + 1, '\n')) {
        const char *c = line + 1;
        for (int k = 0; k < 4 && c; k++)
            c = strchr(c, ',') ? strchr(c, ',') + 1 : NULL;
        assert_non_null(c);
        loss[n++] = strtod(c, NULL);
    }
    assert_int_equal(n, 40);
    double last = 0;
    for (int i = 0; i < n; i++)
        assert_true(isfinite(loss[i]));
    for (int i = n - 10; i < n; i++)
        last += loss[i] / 10;
    print_message("char-lstm: loss at step 1 %.4f, mean of steps 31-40 %.4f\n", loss[0], last);
    assert_true(last < loss[0] - 0.5);
    free(csv);
    free(out);
    free(err);
    rm_tmp_dir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_loss_falls)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
