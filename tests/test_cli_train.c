/* tests/test_cli_train.c - the command line of a training run: eta train's
 * errors (a config's unknown section or key with the nearest name and
 * file:line:col, a bad spec with the line and a caret, --set errors, a
 * missing config, a run directory that already holds a run, --resume with
 * other arguments) and their exit codes (2 usage, 1 a run that cannot go
 * on); eta eval (loss, accuracy and a confusion matrix as CSV, the accuracy
 * the train summary printed) and eta predict (a row per test example that
 * agrees with the confusion matrix); progress as plain lines on a pipe, a
 * bar on a terminal (a pseudo-terminal).
 * labels: cli full
 *
 * Data: scikit-learn's wine and digits CSVs from data/ (ETA_DATA_DIR; the
 * tests skip, saying so, without them). Runs take a fraction of a second.
 */
#define _XOPEN_SOURCE 700 /* pty_harness.h: posix_openpt, grantpt, unlockpt, ptsname */
#include "pty_harness.h"
#include "train_harness.h"

static char root[64];

static int setup(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/eta_cli_train_XXXXXX");
    return train_root_make(root);
}

static int teardown(void **state)
{
    (void)state;
    return train_root_remove(root);
}

static const char *const WINE =
    "[data]\n"
    "spec = CSV('sklearn/wine_data.csv')\n"
    "batch_size = 16\n"
    "[model]\n"
    "spec = Sequential(Linear(13, 16), ReLU(), Linear(16, 3))\n"
    "[optimizer]\n"
    "spec = AdamW(lr=0.01)\n"
    "[train]\n"
    "epochs = 2\n"
    "threads = 1\n"
    "[output]\n"
    "plots = false\n";

/* Digits, 2 epochs of plain SGD at a low rate: about 30% test accuracy, so
 * the confusion matrix has entries off its diagonal. */
static const char *const DIGITS =
    "[data]\n"
    "spec = CSV('sklearn/digits.csv.gz')\n"
    "batch_size = 32\n"
    "[model]\n"
    "spec = Sequential(Linear(64, 32), ReLU(), Linear(32, 10))\n"
    "[optimizer]\n"
    "spec = SGD(lr=0.01)\n"
    "[train]\n"
    "epochs = 2\n"
    "threads = 1\n"
    "[output]\n"
    "plots = false\n";

/* Writes root/name with text, where one line of WINE (the one starting
 * with `from`) is replaced by `to` (NULL: none); returns the path. */
static const char *wine_with(const char *name, const char *from, const char *to)
{
    char text[2048] = "";
    const char *p = WINE;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p) + 1;
        if (from && !strncmp(p, from, strlen(from)))
            snprintf(text + strlen(text), sizeof text - strlen(text), "%s\n", to);
        else
            snprintf(text + strlen(text), sizeof text - strlen(text), "%.*s", (int)n, p);
        p += n;
    }
    return put_text(root, name, text);
}

/* eta train ARGS... exits `code` and says every NULL-ended string after it. */
static void expect_train_error(int code, const char *const *argv, ...)
{
    char *err = eta_expect(code, argv, NULL, NULL);
    va_list ap;
    va_start(ap, argv);
    for (const char *s; (s = va_arg(ap, const char *));)
        expect_has("stderr", err, s);
    va_end(ap);
    free(err);
}

static void test_train_config_errors(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    char cfg[1024], want[2048];
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path_in(root, "never"));
    /* an unknown section: the nearest, file:line:col */
    snprintf(cfg, sizeof cfg, "%s", wine_with("section.ini", "[model]", "[modle]"));
    snprintf(want, sizeof want, "eta train: %s:4:2: unknown section [modle]; did you mean model?", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want, "\n  [modle]\n   ^^^^^\n", NULL);
    /* an unknown key */
    snprintf(cfg, sizeof cfg, "%s", wine_with("key.ini", "batch_size", "batch_sise = 16"));
    snprintf(want, sizeof want, "eta train: %s:3:1: unknown key 'batch_sise' in [data]; did you mean batch_size?",
             cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want,
                       "\n  batch_sise = 16\n  ^^^^^^^^^^\n", NULL);
    /* a spec that does not parse: found when the file is read */
    snprintf(cfg, sizeof cfg, "%s",
             wine_with("paren.ini", "spec = Sequential", "spec = Sequential(Linear(13, 16), ReLU(), Linear(16, 3)"));
    snprintf(want, sizeof want, "eta train: %s:5:18: model.spec: '(' was never closed", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want,
                       "\n  spec = Sequential(Linear(13, 16), ReLU(), Linear(16, 3)\n                   ^\n", NULL);
    /* a bad spec: file:line:col, the line, a caret under the name */
    snprintf(cfg, sizeof cfg, "%s",
             wine_with("spec.ini", "spec = Sequential", "spec = Sequential(Linear(13, 16), Relu(), Linear(16, 3))"));
    snprintf(want, sizeof want, "eta train: %s:5:35: unknown module 'Relu'; did you mean ReLU?", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want,
                       "\n  spec = Sequential(Linear(13, 16), Relu(), Linear(16, 3))\n"
                       "                                    ^^^^",
                       NULL);
    snprintf(cfg, sizeof cfg, "%s", wine_with("optim.ini", "spec = AdamW", "spec = AdamW(lr=0.01, beta=0.9)"));
    snprintf(want, sizeof want, "eta train: %s:7:23: ", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want,
                       "unexpected keyword argument 'beta'; did you mean betas?", NULL);
    /* a value of the wrong type */
    snprintf(cfg, sizeof cfg, "%s", wine_with("type.ini", "epochs", "epochs = two"));
    snprintf(want, sizeof want, "%s:9:", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, NULL}, want, "train.epochs", "'two'",
                       "\n  epochs = two\n           ^^^\n", NULL);
    /* a missing config file */
    snprintf(cfg, sizeof cfg, "%s/missing.ini", root);
    snprintf(want, sizeof want, "eta train: %s: No such file or directory", cfg);
    expect_train_error(2, (const char *[]){"train", cfg, NULL}, want, NULL);
    assert_false(file_exists(dir));
}

static void test_train_usage_errors(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    char cfg[1024];
    snprintf(cfg, sizeof cfg, "%s", wine_with("wine.ini", NULL, NULL));
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path_in(root, "never"));
    /* --set */
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", "train.epoch=3", NULL},
                       "eta train: --set train.epoch=3: unknown key 'epoch' in [train]; did you mean epochs?",
                       "\n  train.epoch=3\n        ^^^^^\n", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", "trian.epochs=3", NULL},
                       "did you mean train?", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", "train.epochs=abc", NULL},
                       "--set train.epochs=abc: train.epochs must be an integer, got 'abc'", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", "epochs", NULL},
                       "--set epochs: expected section.key=value", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", NULL}, "--set needs a value", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", dir, "--set", "optimizer=SGD(lr=0.1", NULL},
                       "--set optimizer=SGD(lr=0.1: optimizer.spec: '(' was never closed\n"
                       "  optimizer=SGD(lr=0.1\n"
                       "               ^\n",
                       NULL);
    /* arguments */
    expect_train_error(2, (const char *[]){"train", NULL}, "expected one config file", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, cfg, NULL}, "unexpected argument", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--progress", "fancy", NULL},
                       "--progress: 'fancy' is not a mode (auto, bar, lines, off)", NULL);
    expect_train_error(2, (const char *[]){"train", cfg, "--frobnicate", NULL}, "unknown option '--frobnicate'", NULL);
    assert_false(file_exists(dir));
    /* --resume takes the run directory alone */
    const char *run = path_in(root, "wine-run");
    char run_dir[512];
    snprintf(run_dir, sizeof run_dir, "%s", run);
    free(eta_expect(0, (const char *[]){"train", cfg, "--dir", run_dir, "--quiet", NULL}, NULL, NULL));
    expect_train_error(2, (const char *[]){"train", "--resume", run_dir, cfg, NULL}, "--resume takes the run directory alone",
                       NULL);
    expect_train_error(2, (const char *[]){"train", "--resume", run_dir, "--set", "train.epochs=3", NULL},
                       "--resume takes the run directory alone", NULL);
    expect_train_error(2, (const char *[]){"train", "--resume", run_dir, "--dir", dir, NULL},
                       "--resume takes the run directory alone", NULL);
    /* a run directory that holds a run: refused, untouched */
    size_t n0, n1;
    char *before = folder_image(run_dir, &n0);
    char want[1200];
    snprintf(want, sizeof want, "%s already holds a run (checkpoint.eta): resume it with --resume %s", run_dir,
             run_dir);
    expect_train_error(2, (const char *[]){"train", cfg, "--dir", run_dir, NULL}, want, NULL);
    char *after = folder_image(run_dir, &n1);
    assert_true(n0 == n1 && !memcmp(before, after, n0));
    free(before);
    free(after);
    /* --resume where there is no run: 1, naming the file */
    snprintf(want, sizeof want, "%s/config.ini: No such file or directory", dir);
    expect_train_error(1, (const char *[]){"train", "--resume", dir, NULL}, want, NULL);
}

/* ---- eval and predict ---------------------------------------------------- */

/* Parses `eta eval`'s output for k classes: the header and row of numbers,
 * then the confusion matrix (k x k). Returns the examples. */
static long parse_eval(char *out, int k, double *loss, double *acc, long *conf)
{
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    assert_string_equal(line, "split,examples,loss,accuracy");
    line = strtok_r(NULL, "\n", &save);
    long n = 0;
    assert_int_equal(sscanf(line, "test,%ld,%lf,%lf", &n, loss, acc), 3);
    line = strtok_r(NULL, "\n", &save); /* strtok_r skips the blank line */
    char head[512] = "true\\predicted";
    for (int j = 0; j < k; j++)
        snprintf(head + strlen(head), sizeof head - strlen(head), ",\"%d\"", j);
    assert_string_equal(line, head);
    for (int i = 0; i < k; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        char *f[32];
        assert_int_equal(csv_fields(line, f, 32), k + 1);
        char name[16];
        snprintf(name, sizeof name, "\"%d\"", i);
        assert_string_equal(f[0], name);
        for (int j = 0; j < k; j++) {
            char *end;
            conf[i * k + j] = strtol(f[j + 1], &end, 10);
            assert_true(*end == 0 && conf[i * k + j] >= 0);
        }
    }
    assert_null(strtok_r(NULL, "\n", &save));
    return n;
}

static void test_eval_and_predict(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = put_text(root, "digits.ini", DIGITS);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path_in(root, "digits"));
    char *err = eta_expect(0, (const char *[]){"train", cfg, "--dir", dir, NULL}, NULL, NULL);
    const char *s = strstr(err, "test accuracy ");
    assert_non_null(s);
    double summary = strtod(s + 14, NULL);
    free(err);
    char *out;
    free(eta_expect(0, (const char *[]){"eval", dir, NULL}, NULL, &out));
    double loss, acc;
    long conf[100], hits = 0, total = 0;
    long n = parse_eval(out, 10, &loss, &acc, conf);
    free(out);
    for (int i = 0; i < 10; i++)
        for (int j = 0; j < 10; j++) {
            total += conf[i * 10 + j];
            hits += i == j ? conf[i * 10 + j] : 0;
        }
    print_message("eta eval: %ld test examples, loss %.6g, accuracy %.6g (%ld on the diagonal); the train summary "
                  "said %.2f%%\n",
                  n, loss, acc, hits, summary);
    assert_int_equal(n, 360); /* 1797 digits, test=0.2 */
    assert_int_equal(total, n);
    assert_true(acc == (double)hits / (double)n);
    assert_true(acc < 0.9 && hits > 0); /* a matrix with errors in it */
    char pct[32], want[32];
    snprintf(pct, sizeof pct, "%.2f", 100 * acc);
    snprintf(want, sizeof want, "%.2f", summary);
    assert_string_equal(pct, want);
    /* the same numbers as the run's own test evaluation, to the last digit */
    char *js = read_file(path_in(dir, "metrics.jsonl"), NULL);
    const char *t = strstr(js, "{\"type\":\"test\"");
    assert_non_null(t);
    assert_true(strtod(strstr(t, "\"test_loss\":") + 12, NULL) == loss);
    assert_true(strtod(strstr(t, "\"test_acc\":") + 11, NULL) == acc);
    free(js);
    /* predict: one row per test example; its predicted classes are the
     * confusion matrix's column sums */
    free(eta_expect(0, (const char *[]){"predict", dir, NULL}, NULL, &out));
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    assert_string_equal(line, "out0,out1,out2,out3,out4,out5,out6,out7,out8,out9,predicted");
    long rows = 0, per_class[10] = {0};
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *f[16];
        assert_int_equal(csv_fields(line, f, 16), 11);
        int best = 0;
        double v[10];
        for (int j = 0; j < 10; j++) {
            v[j] = strtod(f[j], NULL);
            if (v[j] > v[best])
                best = j;
        }
        assert_int_equal(atoi(f[10]), best);
        per_class[best]++;
        rows++;
    }
    free(out);
    assert_int_equal(rows, n);
    for (int j = 0; j < 10; j++) {
        long col = 0;
        for (int i = 0; i < 10; i++)
            col += conf[i * 10 + j];
        assert_int_equal(per_class[j], col);
    }
    /* other splits, and their errors */
    free(eta_expect(0, (const char *[]){"eval", dir, "--split", "val", NULL}, NULL, &out));
    expect_has("eta eval --split val", out, "split,examples,loss,accuracy\nval,360,");
    free(out);
    err = eta_expect(2, (const char *[]){"eval", dir, "--split", "tests", NULL}, NULL, NULL);
    expect_has("stderr", err, "--split: 'tests' is not a split (test, val or train)");
    free(err);
    err = eta_expect(2, (const char *[]){"predict", dir, "--split", "tests", NULL}, NULL, NULL);
    expect_has("stderr", err, "--split: 'tests' is not a split (test, val or train)");
    free(err);
    err = eta_expect(2, (const char *[]){"eval", NULL}, NULL, NULL);
    expect_has("stderr", err, "expected one run directory");
    free(err);
    err = eta_expect(1, (const char *[]){"eval", path_in(root, "no-run"), NULL}, NULL, NULL);
    expect_has("stderr", err, "config.ini: No such file or directory");
    free(err);
}

/* ---- progress: lines on a pipe, a bar on a terminal ---------------------- */

/* Runs `eta train` on cfg into root/name with stderr on a
 * pseudo-terminal of 100 columns (output processing off, so "\n" stays
 * "\n"); returns what the terminal received. */
static char *train_on_pty(const char *cfg, const char *name, const char *progress)
{
    int slave, master = pty_open(100, &slave);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", path_in(root, name));
    const char *argv[] = {"train", cfg, "--dir", dir, "--progress", progress, NULL};
    pid_t pid = eta_spawn_fds(argv, "TERM=xterm", -1, slave);
    close(slave);
    char *text = pty_read_all(master);
    assert_int_equal(eta_wait(pid), 0);
    return text;
}

static void test_progress(void **state)
{
    (void)state;
    SKIP_UNLESS_SKLEARN();
    const char *cfg = put_text(root, "progress.ini", DIGITS);
    char cfg_path[1024];
    snprintf(cfg_path, sizeof cfg_path, "%s", cfg);
    /* a pipe (a file here): plain lines, no carriage return, no colour */
    char *err = eta_expect(0, (const char *[]){"train", cfg_path, "--dir", path_in(root, "lines"), NULL}, NULL, NULL);
    expect_has("stderr on a pipe", err, "\nepoch 1/2 done: step 34/68 loss ");
    expect_has("stderr on a pipe", err, "\neval step 68 (epoch 2): val_loss ");
    assert_null(strchr(err, '\r'));
    assert_null(strchr(err, '\x1b'));
    free(err);
    /* a terminal: the bar, redrawn in place */
    char *tty = train_on_pty(cfg_path, "bar", "auto");
    expect_has("the terminal", tty, "\repoch 1/2 [");
    expect_has("the terminal", tty, "] 34/68 loss ");
    expect_has("the terminal", tty, "\repoch 2/2 [");
    expect_has("the terminal", tty, "#");
    expect_has("the terminal", tty, "eta train: done after 68 steps");
    assert_null(strstr(tty, "\nepoch 1/2 done:"));
    free(tty);
    /* --progress lines on a terminal: lines */
    tty = train_on_pty(cfg_path, "tty-lines", "lines");
    expect_has("the terminal", tty, "\nepoch 1/2 done: step 34/68 loss ");
    assert_null(strchr(tty, '\r'));
    free(tty);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_config_errors),
        cmocka_unit_test(test_train_usage_errors),
        cmocka_unit_test(test_eval_and_predict),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
