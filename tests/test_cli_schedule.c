/* tests/test_cli_schedule.c - what `eta schedule` and the catalogues print
 * beyond the values (those are in test_cli.c and the sched tests): every
 * signature of `eta schedule --list`, `eta model --list` and the optimizers
 * of `eta optimize --help` is valid Python in its order (no required
 * argument after one with a default, except keyword-only ones); the default
 * number of rows is the schedule's length; a --steps past the schedule's
 * end is a usage error that says what to do.
 * labels: cli unit
 */
#include "harness.h"

#include <eta/eta.h>

/* The arguments of the first call in `line` ("  Name(a, b=1, ...): note"),
 * split at top-level commas; returns the count, 0 if there is no call. */
static int split_args(const char *line, char args[][128], int cap)
{
    const char *p = strchr(line, '(');
    if (!p)
        return 0;
    int n = 0, depth = 0;
    char quote = 0;
    size_t len = 0;
    for (p++; *p; p++) {
        char c = *p;
        if (quote) {
            quote = c == quote ? 0 : quote;
        } else if (c == '\'' || c == '"') {
            quote = c;
        } else if (c == '(' || c == '[' || c == '{') {
            depth++;
        } else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
            depth--;
        } else if ((c == ',' || c == ')') && depth == 0) {
            assert_true(n < cap);
            while (len > 0 && args[n][len - 1] == ' ')
                len--;
            args[n][len] = '\0';
            if (len > 0)
                n++;
            len = 0;
            if (c == ')')
                return n;
            continue;
        }
        if (len == 0 && c == ' ')
            continue;
        assert_true(len < 127);
        args[n][len++] = c;
    }
    fail_msg("unterminated signature: %s", line);
    return 0;
}

/* No argument without a default after one with a default (Python's rule for
 * positional-or-keyword parameters). Returns the number of signatures seen. */
static int check_signatures(const char *what, char *text)
{
    int seen = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "  ", 2))
            continue; /* family and section headings */
        char args[40][128];
        int n = split_args(line, args, 40);
        const char *defaulted = NULL;
        for (int i = 0; i < n; i++) {
            if (!strcmp(args[i], "*"))
                break; /* keyword-only arguments may come without defaults */
            bool has_default = strchr(args[i], '=') != NULL;
            if (has_default)
                defaulted = args[i];
            else if (defaulted)
                fail_msg("%s: required argument '%s' after '%s' in:\n%s", what, args[i], defaulted, line);
        }
        seen++;
    }
    return seen;
}

static void test_list_signatures_are_python(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("schedule --list", &out, &err), 0);
    assert_non_null(strstr(out, "llmc(train_num_batches, scheduler='cosine'"));
    assert_non_null(strstr(out, "LinearScalingWarmup(batch_size, warmup_steps, base_lr=0.1"));
    int n = check_signatures("eta schedule --list", out);
    assert_int_equal(n, eta_sched_kind_count());
    free(out);
    free(err);
    assert_int_equal(run_eta("model --list", &out, &err), 0);
    n = check_signatures("eta model --list", out);
    assert_int_equal(n, eta_nn_module_count() + eta_nn_loss_count());
    free(out);
    free(err);
    /* the optimizers, the last part of eta optimize --help */
    assert_int_equal(run_eta("optimize --help", &out, &err), 0);
    char *opts = strstr(out, "\noptimizers (");
    assert_non_null(opts);
    assert_non_null(strstr(opts, "Mechanic(base_optimizer, weight_decay=0.01"));
    n = check_signatures("eta optimize --help", opts + 1);
    assert_int_equal(n, ETA_OPTIM_COUNT);
    free(out);
    free(err);
}

/* The data rows `eta schedule ARGS` prints. */
static long rows_of(const char *args)
{
    char *out, *err;
    int rc = run_eta(args, &out, &err);
    if (rc != 0)
        fail_msg("eta %s: exit %d\n%s", args, rc, err);
    long n = -1; /* the header */
    for (const char *p = out; *p; p++)
        n += *p == '\n';
    free(out);
    free(err);
    return n;
}

/* Without --steps, a schedule written for a run of N steps prints N rows. */
static void test_default_steps_is_the_length(void **state)
{
    (void)state;
    static const struct {
        const char *spec;
        long rows;
    } cases[] = {
        {"warmup_cosine_decay_schedule(0.0, 1e-3, 100, 1000)", 1000},
        {"CosineDecay(0.1, 1000)", 1000},
        {"linear_onecycle_schedule(1000, 0.1)", 1000},
        {"PolynomialDecay(0.1, 700)", 700},
        {"CosineAnnealingLR(T_max=500)", 500},
        {"OneCycleLR(max_lr=1.0, total_steps=7)", 7},
        {"SequentialLR([LinearLR(start_factor=0.1, total_iters=20), CosineAnnealingLR(T_max=280)], "
         "milestones=[20])",
         300},
        {"ChainedScheduler([LinearLR(total_iters=5), CosineAnnealingLR(T_max=250)])", 250},
        {"sgdr_schedule([{'init_value': 0, 'peak_value': 1, 'warmup_steps': 10, 'decay_steps': 100}, "
         "dict(init_value=0, peak_value=0.5, warmup_steps=10, decay_steps=200)])",
         300},
        {"StepLR(step_size=30)", 100},
        {"LinearLR()", 100},
    };
    char args[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "schedule \"%s\"", cases[i].spec);
        long n = rows_of(args);
        if (n != cases[i].rows)
            fail_msg("eta %s: %ld rows, want %ld", args, n, cases[i].rows);
    }
    assert_int_equal(rows_of("schedule 'CosineAnnealingLR(T_max=500)' --steps 20"), 20);
    assert_int_equal(rows_of("schedule 'OneCycleLR(max_lr=1.0, total_steps=10)' --steps 11"), 11);
}

/* Asking for more steps than the schedule has says so in eta's terms: the
 * steps asked for, where the schedule ends, its length, what to do. */
static void test_steps_past_the_end(void **state)
{
    (void)state;
    char *out, *err;
    assert_int_equal(run_eta("schedule 'OneCycleLR(max_lr=1.0, total_steps=10)' --steps 12", &out, &err), 2);
    assert_non_null(strstr(err, "--steps 12 asks for steps 0 to 11, but this schedule ends at step 10 (it is "
                                "written for a run of 10 steps, the default --steps); give --steps 11 or fewer, "
                                "or make the schedule longer"));
    assert_null(strstr(err, "Tried to step"));
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_int_equal(run_eta("schedule 'fit_one_cycle(2, 1.0, steps_per_epoch=3)' --steps 100", &out, &err), 2);
    assert_non_null(strstr(err, "ends at step 6 (it is written for a run of 6 steps"));
    free(out);
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_signatures_are_python),
        cmocka_unit_test(test_default_steps_is_the_length),
        cmocka_unit_test(test_steps_past_the_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
