/* tests/test_train_config_file.c - training configs as files
 * (src/train/config*.c): errors formatted at their line with a caret,
 * comments, quotes and specs holding commas, brackets, '#' and ';', CRLF,
 * byte order marks, empty files, lines longer than libinih's buffer, the
 * resolved config.ini read back to the same values, reading files, and
 * docs/config.md's key table and example against the schema
 * (ETA_PRINT_CONFIG_DOCS=1 prints the table it expects).
 * labels: unit full
 */
#include "train_config_test.h"

#include <dirent.h>
#include <math.h>

/* ---- locations and formatted errors ------------------------------------------- */

static void expect_format(const eta_config *c, const char *sec, const char *key, int pos, int len, const char *want)
{
    eta_err e = {ETA_EINVAL, pos, len, "AdamW() got an unexpected keyword argument 'betas1'"};
    char buf[512];
    int n = eta_config_format_error(c, sec, key, &e, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, (int)strlen(want));
    /* Cut short, it ends with "..." and still says how long it would be. */
    char small[24];
    assert_int_equal(eta_config_format_error(c, sec, key, &e, small, sizeof small), n);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_string_equal(small + sizeof small - 4, "...");
}

static void test_format_error(void **state)
{
    (void)state;
    eta_config *c = read_ok("\xEF\xBB\xBF[optimizer]\r\n"
                            "spec = AdamW(betas1=0.9)  ; typo\r\n"
                            "[model]\r\n"
                            "spec = Sequential(\r\n"
                            "\t Linear(1, 2), Drop(p='\xC3\xA9'),\r\n"
                            "    ReLU())\r\n");
    expect_format(c, "optimizer", "spec", 6, 6,
                  "fmnist.ini:2:14: AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  spec = AdamW(betas1=0.9)  ; typo\n"
                  "               ^^^^^^");
    /* In a continuation line: its own line and column; the tab is kept so the caret lines up, and the
     * UTF-8 character counts as one column. */
    const char *v = eta_config_get(c, "model", "spec");
    assert_string_equal(v, "Sequential(\nLinear(1, 2), Drop(p='\xC3\xA9'),\nReLU())");
    int pos = (int)(strstr(v, "Drop") - v);
    expect_where(c, "model", "spec", pos, "fmnist.ini", 5, 17);
    expect_where(c, "model", "spec", pos + 8, "fmnist.ini", 5, 25);
    expect_where(c, "model", "spec", pos + 9, "fmnist.ini", 5, 25); /* inside the character */
    expect_where(c, "model", "spec", pos + 10, "fmnist.ini", 5, 26);
    expect_where(c, "model", "spec", (int)strlen(v), "fmnist.ini", 6, 12);
    expect_where(c, "model", "spec", 9999, "fmnist.ini", 6, 12);
    expect_format(c, "model", "spec", pos, 4,
                  "fmnist.ini:5:17: AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  \t Linear(1, 2), Drop(p='\xC3\xA9'),\n"
                  "  \t               ^^^^");
    /* A span running past its line stops at the line's end. */
    expect_format(c, "model", "spec", pos + 5, 40,
                  "fmnist.ini:5:22: AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  \t Linear(1, 2), Drop(p='\xC3\xA9'),\n"
                  "  \t                    ^^^^^^^");
    expect_format(c, "optimizer", "spec", 6, 40, /* not under the comment */
                  "fmnist.ini:2:14: AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  spec = AdamW(betas1=0.9)  ; typo\n"
                  "               ^^^^^^^^^^^");
    /* No position: the value's place and the message. */
    expect_format(c, "optimizer", "spec", -1, 0,
                  "fmnist.ini:2:8: AdamW() got an unexpected keyword argument 'betas1'");
    /* A default value and an override. */
    expect_format(c, "schedule", "interval", 0, 4,
                  "schedule.interval (default): AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  step\n"
                  "  ^^^^");
    set_ok(c, "optimizer=AdamW(betas1=0.9)");
    expect_format(c, "optimizer", "spec", 6, 6,
                  "--set optimizer=AdamW(betas1=0.9): AdamW() got an unexpected keyword argument 'betas1'\n"
                  "  optimizer=AdamW(betas1=0.9)\n"
                  "                  ^^^^^^");
    eta_err e = {ETA_EINVAL, 0, 0, "m"};
    char buf[64];
    assert_int_equal(eta_config_format_error(c, "no", "such", &e, buf, sizeof buf), 1);
    assert_string_equal(buf, "m");
    eta_config_free(c);
}

/* ---- the format: comments, quotes, line ends, long lines ------------------------ */

static void test_comments_and_quotes(void **state)
{
    (void)state;
    eta_config *c = read_ok("# a comment\n"
                            "; another\n"
                            "[data]   ; the data\n"
                            "spec = CSV('w;ine #1.csv', target=\"t\" , sep=' ;', names=['a', \"b ;c #d\"]) # cut\n"
                            "[model]\n"
                            "spec: Sequential(Linear(4, 8), ReLU(), Linear(8, 2, init={'x': [1, (2, 3)]}))  ;; cut\n"
                            "loss = MSELoss()#kept;too\n"
                            "[optimizer]\n"
                            "spec = AdamW(lr=3e-3, betas=(0.9, 0.95))\n"
                            "  ; a comment line inside a value is skipped\n"
                            "no_decay = ;\n"
                            "[train]\n"
                            "monitor = 'it''s'\n"
                            "[output]\n"
                            "dir = '  runs/a # b  '\n");
    expect(c, "data", "spec", "CSV('w;ine #1.csv', target=\"t\" , sep=' ;', names=['a', \"b ;c #d\"])");
    expect(c, "model", "spec", "Sequential(Linear(4, 8), ReLU(), Linear(8, 2, init={'x': [1, (2, 3)]}))");
    expect(c, "model", "loss", "MSELoss()#kept;too");
    expect(c, "optimizer", "spec", "AdamW(lr=3e-3, betas=(0.9, 0.95))");
    expect(c, "optimizer", "no_decay", "");
    expect(c, "train", "monitor", "it''s");
    expect(c, "output", "dir", "  runs/a # b  ");
    eta_config_free(c);
    /* A spec may start on the line after its key. */
    c = read_ok("[model]\nspec =\n    Sequential(\n      Linear(1, 2))\n[train]\nepochs = 2\n");
    expect(c, "model", "spec", "Sequential(\nLinear(1, 2))");
    expect_where(c, "model", "spec", 0, "fmnist.ini", 3, 5);
    eta_config_free(c);
    /* An escaped quote does not end a string; an unclosed one runs to the line's end. */
    c = read_ok("[data]\nspec = Text('a\\' ;b') ; c\n[train]\nmonitor = it's ;b\n");
    expect(c, "data", "spec", "Text('a\\' ;b')");
    expect(c, "train", "monitor", "it's ;b");
    eta_config_free(c);
}

static void test_line_ends_and_sizes(void **state)
{
    (void)state;
    /* CRLF, a byte order mark, no line break at the end. */
    eta_config *c = read_ok("\xEF\xBB\xBF[train]\r\nepochs = 4\r\n\r\n[guard]\r\naction = skip");
    expect(c, "train", "epochs", "4");
    expect(c, "guard", "action", "skip");
    expect_where(c, "train", "epochs", 0, "fmnist.ini", 2, 10);
    eta_config_free(c);
    read_fails("\xEF\xBB\xBF[train]\r\nepochs = x\r\n", 21, 1, "fmnist.ini:2:10: train.epochs must be an integer, got 'x'");
    /* A second byte order mark is skipped as libinih skips it; a section name libinih would cut is refused. */
    c = read_ok("\xEF\xBB\xBF\xEF\xBB\xBF[train]\nepochs = 4\n");
    expect(c, "train", "epochs", "4");
    eta_config_free(c);
    read_fails("[\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r\r"
               "\r\r\r\r\r\rdata]\n", 1, 50, "fmnist.ini:1:2: a section name of 50 bytes or more");
    /* Trailing white space goes, even after an unclosed quote (a CR read back from a CRLF file would not). */
    c = read_ok("");
    set_ok(c, "output.dir=' x \r");
    expect(c, "output", "dir", "' x");
    eta_config_free(c);
    /* Empty, blank and comment-only files: every default. */
    const char *empty[] = {"", "\n\n", "  \t\n", "; nothing\n# here\n", "\xEF\xBB\xBF", "\r\n"};
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++) {
        c = read_ok(empty[i]);
        expect(c, "train", "epochs", "10");
        eta_config_free(c);
    }
    /* Lines longer than libinih's 199 bytes: whole values, comments after them still cut. */
    char text[4096], spec[1500];
    int n = snprintf(spec, sizeof spec, "Sequential(");
    for (int i = 0; i < 60; i++)
        n += snprintf(spec + n, sizeof spec - (size_t)n, "Linear(%d, %d), ", 100 + i, 101 + i);
    snprintf(spec + n, sizeof spec - (size_t)n, "ReLU())");
    snprintf(text, sizeof text, "[model]\nspec = %s ; comment\n[train]\nepochs = %250s\n    \n[guard]\nwarmup=7\n",
             spec, "3");
    c = read_ok(text);
    expect(c, "model", "spec", spec);
    expect(c, "train", "epochs", "3");
    expect(c, "guard", "warmup", "7");
    eta_config_free(c);
    snprintf(text, sizeof text, "[model]\nspec = %s x)\n", spec);
    eta_config *bad;
    eta_err e;
    assert_int_equal(eta_config_read_string(&bad, text, strlen(text), "fmnist.ini", &e), ETA_EFORMAT);
    char want[64];
    snprintf(want, sizeof want, "fmnist.ini:2:%d: model.spec: ", (int)strlen(spec) + 9);
    if (strncmp(e.msg, want, strlen(want)) != 0)
        fail_msg("expected %s..., got %s", want, e.msg);
}

/* ---- the resolved config.ini ---------------------------------------------------- */

/* Every key of a and b resolves to the same text. */
static void expect_same(const eta_config *a, const eta_config *b)
{
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        const char *x = eta_config_get(a, k->section, k->key), *y = eta_config_get(b, k->section, k->key);
        if (strcmp(x, y) != 0)
            fail_msg("%s.%s: <%s> read back as <%s>", k->section, k->key, x, y);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    eta_config *c = read_ok(FULL);
    set_ok(c, "model=Sequential(\n  Linear(13, 32),\n  ReLU(), Linear(32, 3))");
    set_ok(c, "train.monitor=\"'a' b 'c'\"");
    set_ok(c, "schedule.monitor=' x ;y '");
    set_ok(c, "optimizer.no_decay=#*.bias");
    set_ok(c, "data.spec=CSV('w ; x.csv', comment='#')");
    char *text;
    size_t len;
    assert_int_equal(eta_config_to_string(c, &text, &len, NULL), ETA_OK);
    assert_int_equal(len, strlen(text));
    assert_non_null(strstr(text, "\n[model]\n; the network (an nn spec), its loss and the weights it starts from\n"
                                 "spec = Sequential(\n    Linear(13, 32),\n    ReLU(), Linear(32, 3))\n"));
    assert_non_null(strstr(text, "\nmonitor = \"'a' b 'c'\"\n"));
    assert_non_null(strstr(text, "\nmonitor = ' x ;y '\n"));
    assert_non_null(strstr(text, "\nno_decay = '#*.bias'\n"));
    assert_non_null(strstr(text, "\neval_batch_size = 1_000\n"));
    assert_non_null(strstr(text, "\ndir = 'runs/wine ; 1'\n"));
    eta_config *back = read_ok(text);
    expect_same(c, back);
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        assert_true(eta_config_is_set(back, k->section, k->key)); /* every key is written */
    }
    char *again;
    assert_int_equal(eta_config_to_string(back, &again, NULL, NULL), ETA_OK);
    assert_string_equal(again, text);
    free(again);
    eta_config_free(back);
    free(text);
    /* Defaults alone, and a value that cannot be written. */
    eta_config *d;
    assert_int_equal(eta_config_new(&d, "x.ini", NULL), ETA_OK);
    set_ok(d, "data=A()");
    set_ok(d, "model=B()");
    assert_int_equal(eta_config_to_string(d, &text, NULL, NULL), ETA_OK);
    back = read_ok(text);
    expect_same(d, back);
    free(text);
    eta_config_free(back);
    set_ok(d, "train.monitor=\"'a' ;\\\"b\\\"\"");
    eta_err e;
    text = (char *)&e;
    assert_int_equal(eta_config_to_string(d, &text, NULL, &e), ETA_EINVAL);
    assert_null(text);
    assert_string_equal(e.msg, "train.monitor: this value cannot be written to a config file so that it reads back "
                               "the same");
    eta_config_free(d);

    /* Written atomically to a file and read back from it; nothing else is left in the folder. */
    char dir[] = "/tmp/eta_config_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/config.ini", dir);
    assert_int_equal(eta_config_write(c, path, NULL), ETA_OK);
    assert_int_equal(eta_config_write(c, path, NULL), ETA_OK); /* over an existing file */
    eta_config *f = NULL;
    assert_int_equal(eta_config_read(&f, path, &e), ETA_OK);
    expect_same(c, f);
    expect_where(f, "train", "epochs", 0, path, 36, 10);
    eta_config_free(f);
    DIR *dh = opendir(dir);
    assert_non_null(dh);
    int files = 0;
    for (struct dirent *de; (de = readdir(dh));)
        files += de->d_name[0] != '.';
    closedir(dh);
    assert_int_equal(files, 1);
    char nowhere[96];
    snprintf(nowhere, sizeof nowhere, "%s/no/such/dir/config.ini", dir);
    assert_int_equal(eta_config_write(c, nowhere, &e), ETA_EIO);
    assert_non_null(strstr(e.msg, "/no/such/dir/config.ini"));
    assert_non_null(strstr(e.msg, "No such file"));
    unlink(path);
    rmdir(dir);
    eta_config_free(c);
}

static void test_files(void **state)
{
    (void)state;
    eta_config *c = (eta_config *)&c;
    eta_err e;
    assert_int_equal(eta_config_read(&c, "/nonexistent/fmnist.ini", &e), ETA_EIO);
    assert_null(c);
    assert_string_equal(e.msg, "/nonexistent/fmnist.ini: No such file or directory");
    assert_int_equal(eta_config_read(&c, "/tmp", &e), ETA_EIO);
    assert_string_equal(e.msg, "/tmp: Is a directory");
    assert_int_equal(eta_config_read(&c, NULL, &e), ETA_EINVAL);
    assert_int_equal(eta_config_read(NULL, "x", &e), ETA_EINVAL);
    assert_int_equal(eta_config_read_string(&c, NULL, 0, NULL, &e), ETA_EINVAL);
    /* Without a name, messages say "config". */
    assert_int_equal(eta_config_read_string(&c, "[x]", 3, NULL, &e), ETA_EFORMAT);
    assert_string_equal(e.msg, "config:1:2: unknown section [x]; valid sections: data, model, optimizer, schedule, "
                               "train, guard, dist, lr_find, output");
    /* Too large to be a config. */
    char path[] = "/tmp/eta_config_big_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (1 << 20) + 1), 0);
    close(fd);
    assert_int_equal(eta_config_read(&c, path, &e), ETA_EFORMAT);
    assert_non_null(strstr(e.msg, ": larger than 1048576 bytes; is it a config?"));
    unlink(path);
}

/* ---- docs/config.md ------------------------------------------------------------- */

static void range_text(const eta_config_key *k, char *buf, size_t n)
{
    const double big = 2147483647.0;
    buf[0] = '\0';
    if (k->type == ETA_CONFIG_ENUM) {
        size_t j = 0;
        for (const char *p = k->values; *p && j + 3 < n; p++) {
            if (*p == '|') {
                buf[j++] = ',';
                buf[j++] = ' ';
            } else {
                buf[j++] = *p;
            }
        }
        buf[j] = '\0';
    } else if (k->type == ETA_CONFIG_INT || k->type == ETA_CONFIG_REAL) {
        bool open_hi = isinf(k->hi) || k->hi == big;
        if (open_hi)
            snprintf(buf, n, "%s %g", k->lo_open ? ">" : ">=", k->lo);
        else
            snprintf(buf, n, "%c%g, %g%c", k->lo_open ? '(' : '[', k->lo, k->hi, k->hi_open ? ')' : ']');
    }
}

/* The table of keys docs/config.md must hold, as markdown. */
static char *docs_table(void)
{
    size_t cap = 1 << 16, n = 0;
    char *t = malloc(cap);
    assert_non_null(t);
    n += (size_t)snprintf(t + n, cap - n, "| key | type | default | allowed | meaning |\n|---|---|---|---|---|\n");
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        char def[96], range[64];
        if (k->flags & ETA_CONFIG_REQUIRED)
            snprintf(def, sizeof def, "required");
        else if (k->flags & ETA_CONFIG_DERIVED)
            snprintf(def, sizeof def, strchr(k->def, '<') ? "`%s`" : "`%s`'s value", k->def);
        else if (!k->def[0])
            snprintf(def, sizeof def, "empty");
        else
            snprintf(def, sizeof def, "`%s`", k->def);
        range_text(k, range, sizeof range);
        n += (size_t)snprintf(t + n, cap - n, "| `%s.%s` | %s | %s | %s | %s |\n", k->section, k->key,
                              eta_config_type_name(k->type), def, range, k->doc);
        assert_true(n < cap);
    }
    return t;
}

static void test_docs(void **state)
{
    (void)state;
    char *want = docs_table();
    if (getenv("ETA_PRINT_CONFIG_DOCS"))
        printf("%s", want);
    const char *src = getenv("ETA_SOURCE_DIR");
    if (!src)
        fail_msg("ETA_SOURCE_DIR (the source tree, set by CTest) is not set");
    char path[4096];
    snprintf(path, sizeof path, "%s/docs/config.md", src);
    char *doc = read_file(path, NULL);
    if (!doc)
        fail_msg("cannot read %s", path);
    const char *begin = "<!-- keys: made from src/train/config_schema.c -->\n", *end = "<!-- end of keys -->";
    char *a = strstr(doc, begin), *b = a ? strstr(a, end) : NULL;
    if (!a || !b)
        fail_msg("%s: no block between \"%s\" and \"%s\"", path, begin, end);
    a += strlen(begin);
    *b = '\0';
    if (strcmp(a, want) != 0)
        fail_msg("%s: the table of keys differs from the schema; run with ETA_PRINT_CONFIG_DOCS=1 for the "
                 "expected table", path);
    /* The page's example is a config that reads. */
    char *ex = strstr(doc, "```ini\n"), *ex_end = ex ? strstr(ex + 7, "```") : NULL;
    if (!ex || !ex_end || ex_end > a)
        fail_msg("%s: no ```ini example before the table", path);
    *ex_end = '\0';
    eta_config *c = read_ok(ex + 7);
    expect(c, "model", "spec", "Sequential(\nLinear(784, 256), ReLU(),\nLinear(256, 128), ReLU(),\nLinear(128, 10))");
    expect(c, "data", "eval_batch_size", "128");
    expect(c, "output", "dir", "runs/fmnist-mlp");
    expect(c, "train", "early_stopping", "true");
    eta_err e;
    assert_int_equal(eta_config_check(c, &e), ETA_OK);
    eta_config_free(c);
    free(doc);
    free(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_error),
        cmocka_unit_test(test_comments_and_quotes),
        cmocka_unit_test(test_line_ends_and_sizes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
