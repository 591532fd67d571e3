/* tests/test_cli_ux.c - what a new user of the eta command meets first:
 * unknown names answered with the nearest ones and a list that is whole or
 * says where the rest is; one "eta CMD:" prefix per message in every
 * subcommand; a bad --plot refused before anything is printed; plots of
 * constant series (no needless second axis, an axis from zero).
 * labels: cli unit
 */
#include "harness.h"

#include <eta/eta.h>
#include <sys/stat.h>

#include "png_probe.h"

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
    expect_whole_or_marked(line, eta_optim_name((eta_optim_kind)(ETA_OPTIM_COUNT - 1)), "eta optimize --help");
    line = expect_error("schedule 'OneCycleLR(max_lr=0.1, xyz=1)'", 2, "schedule", "unexpected keyword argument");
    assert_non_null(strstr(line, "valid arguments: max_lr, ") ? line : NULL);
    assert_non_null(strstr(line, ", verbose") ? line : NULL); /* the whole signature */
    expect_error("frobnicate", 2, NULL, "unknown command 'frobnicate'; valid commands: data, demo, eval, lr-find, model, optimize, plot, predict, rl, schedule, sweep, train");
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
    expect_error("demo lr --data /nonexistent", 1, "demo lr", "No such file or directory");
    expect_error("demo lr --lr 0.1,-2", 2, "demo lr", "--lr");
    expect_error("demo --epochs 0", 2, "demo", "--epochs");
}

/* A bad --plot is refused with exit 2 before any row is printed, and the
 * check leaves no file behind. */
static void test_plot_checked_first(void **state)
{
    (void)state;
    char dir[] = "/tmp/eta_ux_XXXXXX", cmd[512];
    assert_non_null(mkdtemp(dir));
    const char *runs[] = {"schedule 'StepLR(step_size=3)' --steps 50", "optimize --steps 50"};
    for (int r = 0; r < 2; r++) {
        const char *name = r ? "optimize" : "schedule";
        const char *bad[][2] = {
            {"/x.jpg", "unknown plot format (the file name must end in .png or .svg)"},
            {"/missing/x.png", "No such file or directory"},
            {"", "unknown plot format"},
        };
        for (int b = 0; b < 3; b++) {
            char path[256], *out, *err;
            snprintf(path, sizeof path, "%s%s", dir, bad[b][0]);
            snprintf(cmd, sizeof cmd, "%s --plot %s", runs[r], path);
            int rc = run_eta(cmd, &out, &err);
            if (rc != 2 || out[0] || strncmp(err, "eta ", 4) || !strstr(err, name) || !strstr(err, bad[b][1]))
                fail_msg("eta %s: exit %d, %zu bytes on stdout, stderr: %s", cmd, rc, strlen(out), err);
            free(out);
            free(err);
        }
        /* A directory cannot be opened for writing. */
        char path[256], *out, *err;
        snprintf(path, sizeof path, "%s/d.png", dir);
        assert_int_equal(mkdir(path, 0700), 0);
        snprintf(cmd, sizeof cmd, "%s --plot %s", runs[r], path);
        assert_int_equal(run_eta(cmd, &out, &err), 2);
        assert_string_equal(out, "");
        assert_non_null(strstr(err, "Is a directory"));
        free(out);
        free(err);
        rmdir(path);
    }
    /* A run refused after the check leaves no empty file; an existing file
     * is kept as it was when the run is refused, and replaced by a good one. */
    char path[256], *out, *err;
    snprintf(path, sizeof path, "%s/late.png", dir);
    snprintf(cmd, sizeof cmd, "schedule 'StepLR(step_size=3)' --metrics 1 --plot %s", path);
    assert_int_equal(run_eta(cmd, &out, &err), 2);
    free(out);
    free(err);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("keep", f);
    fclose(f);
    assert_int_equal(run_eta(cmd, &out, &err), 2);
    free(out);
    free(err);
    char *kept = read_file(path, NULL);
    assert_string_equal(kept, "keep");
    free(kept);
    snprintf(cmd, sizeof cmd, "schedule 'StepLR(step_size=3)' --plot %s", path);
    assert_int_equal(run_eta(cmd, &out, &err), 0);
    free(out);
    free(err);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* Draws `args` into a PNG and counts the blue (first) and orange (second)
 * series' pixels; *top: the highest blue row, as a fraction of the height. */
static void plot_colours(const char *args, long *blue, long *orange, double *top)
{
    char dir[] = "/tmp/eta_ux_plot_XXXXXX", cmd[512], path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/p.png", dir);
    snprintf(cmd, sizeof cmd, "%s --plot %s", args, path);
    char *out, *err;
    if (run_eta(cmd, &out, &err) != 0)
        fail_msg("eta %s: %s", cmd, err);
    free(out);
    free(err);
    cairo_surface_t *s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
    hits b = count(s, BLUE, 0.15, 0, 0.85, 1), o = count(s, ORANGE, 0, 0, 1, 1);
    *blue = b.n;
    *orange = o.n;
    *top = (double)b.ymin / cairo_image_surface_get_height(s);
    cairo_surface_destroy(s);
    remove(path);
    rmdir(dir);
}

static void test_constant_plots(void **state)
{
    (void)state;
    long blue, orange;
    double top;
    /* A constant lr: a line near the top of an axis from 0, no second axis. */
    plot_colours("schedule 'ConstantLR(factor=1.0)' --lr 0.05", &blue, &orange, &top);
    assert_true(blue > 500 && orange == 0 && top < 0.2);
    plot_colours("schedule 'StepLR(step_size=1000)' --steps 100", &blue, &orange, &top);
    assert_true(blue > 500 && orange == 0 && top < 0.2);
    /* A schedule that sets momentum but keeps it constant: no momentum axis,
     * unless --momentum asks for it; a moving momentum gets its axis. */
    const char *flat = "schedule 'CyclicLR(base_lr=0.05, max_lr=0.05, base_momentum=0.9, max_momentum=0.9)' "
                       "--steps 100";
    plot_colours(flat, &blue, &orange, &top);
    assert_true(blue > 500 && orange == 0);
    char asked[512];
    snprintf(asked, sizeof asked, "%s --momentum 0.9", flat);
    plot_colours(asked, &blue, &orange, &top);
    assert_true(orange > 300); /* both flat near the top: momentum drawn over lr */
    plot_colours("schedule 'OneCycleLR(max_lr=0.1, total_steps=100)'", &blue, &orange, &top);
    assert_true(blue > 300 && orange > 300);
    /* eta optimize: a constant lr is named in the title, not drawn. */
    plot_colours("optimize --steps 50", &blue, &orange, &top);
    assert_true(blue > 300 && orange == 0);
    plot_colours("optimize --steps 50 --sched 'StepLR(step_size=20)'", &blue, &orange, &top);
    assert_true(blue > 300 && orange > 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_one_prefix),
        cmocka_unit_test(test_plot_checked_first),
        cmocka_unit_test(test_constant_plots),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
