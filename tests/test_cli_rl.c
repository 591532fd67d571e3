/* test_cli_rl.c - `eta rl`: help, usage errors (exit 2), a short PPO and
 * REINFORCE run with its CSV table, episode log and plot. labels: cli full
 */
#include "harness.h"
#include "png_probe.h"

static void test_help_and_usage(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("rl --help", &out, &err), 0);
    assert_non_null(strstr(out, "ppo"));
    assert_non_null(strstr(out, "reinforce"));
    assert_non_null(strstr(out, "--constant-lr"));
    free(out);
    free(err);
    const char *bad[] = {
        "rl",                                  /* no algorithm */
        "rl dqn",                              /* unknown algorithm */
        "rl ppo reinforce",                    /* two */
        "rl ppo --steps 10",                   /* less than one rollout (512) */
        "rl ppo --steps -5",
        "rl ppo --lr 0",
        "rl ppo --lr abc",
        "rl ppo --max-grad-norm -1",
        "rl ppo --constant-lr --both",
        "rl ppo --seed 1 --seeds 2,3",
        "rl ppo --seeds 1,,2",
        "rl ppo --plot out.jpg",
        "rl ppo --csv /nonexistent/dir/x.csv",
        "rl ppo --frobnicate",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = run_eta(bad[i], &out, &err);
        if (rc != 2)
            fail_msg("'eta %s': exit %d, want 2 (stderr: %s)", bad[i], rc, err ? err : "");
        assert_true(err && strstr(err, "eta") && strlen(out) == 0);
        free(out);
        free(err);
    }
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static void test_short_runs(void **state)
{
    (void)state;
    char *out, *err, args[1024];
    char csv[] = "/tmp/eta_rl_csv_XXXXXX", dir[] = "/tmp/eta_rl_plot_XXXXXX", png[64];
    close(mkstemp(csv));
    assert_non_null(mkdtemp(dir));
    snprintf(png, sizeof png, "%s/plot.png", dir);
    /* defaults: seed 1, annealed */
    snprintf(args, sizeof args, "rl ppo --steps 5120 --csv %s --plot %s", csv, png);
    assert_int_equal(run_eta(args, &out, &err), 0);
    assert_string_equal(strtok(out, "\n"), "algo,seed,lr,steps_to_solve,low_mean100_after,final_mean100,episodes");
    char *row = strtok(NULL, "\n");
    assert_non_null(row);
    assert_true(!strncmp(row, "ppo,1,annealed,,,", 17)); /* not solved in 5120 steps */
    assert_null(strtok(NULL, "\n"));
    free(out);
    free(err);
    char *log = read_file(csv, NULL);
    assert_non_null(log);
    assert_true(!strncmp(log, "algo,seed,lr,global_step,return,length,mean100\nppo,1,annealed,", 61));
    assert_true(count_lines(log) > 101); /* 5120 steps of a nearly random policy: about 180 episodes */
    free(log);
    cairo_surface_t *s = cairo_image_surface_create_from_png(png);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    assert_true(count(s, BLUE, 0, 0, 1, 1).n > 50); /* the 100-episode mean */
    cairo_surface_destroy(s);
    /* two seeds, annealed and constant: four rows */
    assert_int_equal(run_eta("rl ppo --steps 1024 --seeds 4,5 --both", &out, &err), 0);
    assert_int_equal(count_lines(out), 5);
    assert_non_null(strstr(out, "ppo,4,annealed,"));
    assert_non_null(strstr(out, "ppo,4,constant,"));
    assert_non_null(strstr(out, "ppo,5,constant,"));
    free(out);
    free(err);
    assert_int_equal(run_eta("rl reinforce --steps 3000 --seed 2 --constant-lr", &out, &err), 0);
    assert_non_null(strstr(out, "\nreinforce,2,constant,"));
    free(out);
    free(err);
    remove(csv);
    remove(png);
    remove(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_short_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
