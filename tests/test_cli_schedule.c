/* tests/test_cli_schedule.c - what `eta schedule` and the catalogues print
 * beyond the values (those are in test_cli.c and the sched tests): every
 * signature of `eta schedule --list` and `eta model --list` is valid Python
 * in its order (no required argument after one with a default).
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_signatures_are_python),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
