/* tests/test_cli_ux.c - what a new user of the eta command meets first:
 * unknown names answered with the nearest ones and a list that is whole or
 * says where the rest is; one "eta CMD:" prefix per message in every
 * subcommand.
 * labels: cli unit
 */
#include "harness.h"

#include <eta/eta.h>

/* Runs eta ARGS; checks the exit code and that the first line of stderr
 * starts with "eta CMD: " (or "eta: "), holds `needle`, and carries one
 * prefix only: no "eta" or the command name again right after it. Returns
 * the first line (static). */
static const char *expect_error(const char *args, int code, const char *cmd, const char *needle)
{
    static char first[4096];
    char *out, *err, prefix[64];
    int rc = run_eta(args, &out, &err);
    snprintf(first, sizeof first, "%.*s", (int)strcspn(err, "\n"), err);
    snprintf(prefix, sizeof prefix, cmd ? "eta %s: " : "eta: ", cmd);
    const char *rest = first + strlen(prefix);
    bool doubled = strncmp(rest, "eta ", 4) == 0 || (cmd && strncmp(rest, cmd, strlen(cmd)) == 0 &&
                                                     rest[strlen(cmd)] == ':');
    if (rc != code || strncmp(first, prefix, strlen(prefix)) != 0 || doubled || !strstr(first, needle))
        fail_msg("eta %s: exit %d (want %d), stderr:\n%s\n(want one prefix '%s' and '%s')", args, rc, code, err,
                 prefix, needle);
    free(out);
    free(err);
    return first;
}

/* A list in a message is whole (it ends the line with the catalogue's last
 * name) or ends with "... (SEE shows all N)". */
static void expect_whole_or_marked(const char *line, const char *last, const char *see)
{
    size_t len = strlen(line), ll = strlen(last);
    if (len >= ll && strcmp(line + len - ll, last) == 0)
        return;
    char mark[128];
    snprintf(mark, sizeof mark, "(%s shows all ", see);
    const char *m = strstr(line, mark);
    if (!m || line[len - 1] != ')')
        fail_msg("a list cut without a mark: %s", line);
}

static void test_unknown_names(void **state)
{
    (void)state;
    /* Close names first. */
    expect_error("schedule 'CosineAnealingLR(T_max=10)'", 2, "schedule",
                 "unknown schedule 'CosineAnealingLR'; did you mean CosineAnnealingLR? (eta schedule --list shows "
                 "all ");
    expect_error("optimize --sched 'CosineAnealingLR(T_max=10)'", 2, "optimize", "did you mean CosineAnnealingLR?");
    expect_error("model 'Sequential(Linera(4, 2))' --input 4", 2, "model",
                 "unknown module 'Linera'; did you mean Linear? (eta model --list shows all ");
    expect_error("model 'Sequential(relu())' --input 4", 2, "model", "did you mean ReLU? (");
    expect_error("optimize --optim 'adamw(lr=0.1)'", 2, "optimize", "unknown optimizer 'adamw'; did you mean AdamW?");
    expect_error("optimize --problem 'rosenbrok()'", 2, "optimize",
                 "unknown problem 'rosenbrok'; did you mean rosenbrock? valid problems: quadratic, rosenbrock, beale, "
                 "rastrigin");
    expect_error("schedule 'StepLR(step_sze=3)'", 2, "schedule",
                 "StepLR() got an unexpected keyword argument 'step_sze'; did you mean step_size?");
    expect_error("optimize --optim 'SGD(lr=0.1, momentm=0.9)'", 2, "optimize", "did you mean momentum?");
    expect_error("optimize --stesp 3", 2, "optimize", "unknown option '--stesp'; did you mean --steps? valid options: ");
    expect_error("scheduel 'StepLR(3)'", 2, NULL, "unknown command 'scheduel'; did you mean schedule?");
    /* Far names: never a list cut silently. */
    const char *line = expect_error("schedule 'Foo()'", 2, "schedule", "unknown schedule 'Foo'; valid schedules ");
    expect_whole_or_marked(line, eta_sched_kind_name(eta_sched_kind_count() - 1), "eta schedule --list");
    line = expect_error("model 'Foo()' --input 1", 2, "model", "unknown module 'Foo'; valid modules ");
    expect_whole_or_marked(line, eta_nn_module_name(eta_nn_module_count() - 1), "eta model --list");
    line = expect_error("optimize --optim 'Foo()'", 2, "optimize", "unknown optimizer 'Foo'; valid optimizers");
    expect_whole_or_marked(line, "AdaBelief", "eta optimize --help");
    line = expect_error("schedule 'OneCycleLR(max_lr=0.1, xyz=1)'", 2, "schedule", "unexpected keyword argument");
    assert_non_null(strstr(line, "valid arguments: max_lr, ") ? line : NULL);
    assert_non_null(strstr(line, ", verbose") ? line : NULL); /* the whole signature */
    expect_error("frobnicate", 2, NULL, "unknown command 'frobnicate'; valid commands: demo, model, optimize, schedule");
}

/* One prefix on every error path of every subcommand. */
static void test_one_prefix(void **state)
{
    (void)state;
    expect_error("schedule 'StepLR(step_size=0)'", 2, "schedule", "step_size must be >= 1");
    expect_error("schedule 'StepLR(3'", 2, "schedule", "was never closed");
    expect_error("schedule 'OneCycleLR(max_lr=0.1, total_steps=10)' --steps 12", 2, "schedule", "--steps 12");
    expect_error("schedule 'StepLR(3)' --metrics 1", 2, "schedule", "--metrics");
    expect_error("schedule", 2, "schedule", "expected one schedule spec");
    expect_error("model 'Sequential(Linear(3, 2))' --input 2", 2, "model", "layer 0 (Linear 0)");
    expect_error("model 'Sequential(Linear(3))' --input 3", 2, "model", "missing required argument");
    expect_error("model 'Sequential(Linear(3, 2)' --input 3", 2, "model", "was never closed");
    expect_error("optimize --optim 'SGD(lr=-1)'", 2, "optimize", "--optim: lr must be >= 0");
    expect_error("optimize --problem 'beale()' --x0 1,2,3", 2, "optimize", "--problem: beale is 2-D");
    expect_error("optimize --sched 'StepLR(step_size=0)'", 2, "optimize", "--sched: step_size must be >= 1");
    expect_error("optimize --optim 'SGD(lr=0.3)' --steps 5000", 1, "optimize", "diverged at step");
    expect_error("demo --data /nonexistent", 1, "demo", "No such file or directory");
    expect_error("demo --lr 0.1,-2", 2, "demo", "--lr");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_one_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
