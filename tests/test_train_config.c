/* tests/test_train_config.c - training configs (src/train/config*.c): the
 * schema, defaults and explicit values, every error message with its place
 * (file:line:col and the byte offset), nearest-name hints, overrides and the
 * typed getters. The file format itself, formatted errors, the resolved
 * config.ini and docs/config.md: test_train_config_file.c.
 * labels: unit full
 */
#include "train_config_test.h"

/* ---- the schema and defaults -------------------------------------------------- */

static void test_schema(void **state)
{
    (void)state;
    int n = eta_config_key_count();
    assert_int_equal(n, 62);
    assert_null(eta_config_key_at(-1));
    assert_null(eta_config_key_at(n));
    assert_int_equal(eta_config_section_count(), 9);
    const char *doc = NULL;
    assert_string_equal(eta_config_section_at(0, &doc), "data");
    assert_non_null(doc);
    assert_string_equal(eta_config_section_at(6, NULL), "dist");
    assert_string_equal(eta_config_section_at(7, NULL), "lr_find");
    assert_string_equal(eta_config_section_at(8, NULL), "output");
    assert_null(eta_config_section_at(9, NULL));
    assert_string_equal(eta_config_type_name(ETA_CONFIG_SPEC), "spec");
    assert_string_equal(eta_config_type_name(ETA_CONFIG_TYPE_COUNT), "?");
    const eta_config_key *k = eta_config_key_find("train", "epochs");
    assert_non_null(k);
    assert_int_equal(k->type, ETA_CONFIG_INT);
    assert_string_equal(k->def, "10");
    assert_null(eta_config_key_find("train", "Epochs"));
    assert_null(eta_config_key_find("data", "epochs"));
    /* Rows are grouped by section in section order; every default is a
     * value the key accepts (set as an override it reads back unchanged). */
    eta_config *c;
    assert_int_equal(eta_config_new(&c, NULL, NULL), ETA_OK);
    int sec = 0;
    for (int i = 0; i < n; i++) {
        k = eta_config_key_at(i);
        assert_non_null(k->doc);
        while (sec < 9 && strcmp(eta_config_section_at(sec, NULL), k->section) != 0)
            sec++;
        if (sec == 9)
            fail_msg("row %d (%s.%s) is out of section order", i, k->section, k->key);
        assert_ptr_equal(eta_config_key_find(k->section, k->key), k);
        if ((k->flags & (ETA_CONFIG_DERIVED | ETA_CONFIG_REQUIRED)) || !k->def[0])
            continue;
        char a[200];
        snprintf(a, sizeof a, "%s.%s=%s", k->section, k->key, k->def);
        set_ok(c, a);
        expect(c, k->section, k->key, k->def);
    }
    eta_config_free(c);
}

static void test_defaults(void **state)
{
    (void)state;
    eta_config *c = read_ok("");
    for (int i = 0; i < eta_config_key_count(); i++) {
        const eta_config_key *k = eta_config_key_at(i);
        assert_false(eta_config_is_set(c, k->section, k->key));
        expect_where(c, k->section, k->key, 0, NULL, 0, 0);
        if (!(k->flags & ETA_CONFIG_DERIVED))
            expect(c, k->section, k->key, k->def);
    }
    expect(c, "data", "eval_batch_size", "64");
    expect(c, "output", "dir", "runs/fmnist");
    expect(c, "optimizer", "spec", "AdamW()");
    expect(c, "model", "loss", "auto");
    expect(c, "schedule", "spec", "");
    assert_null(eta_config_get(c, "train", "nope"));
    assert_null(eta_config_get(c, NULL, "spec"));
    int64_t i64;
    double d;
    bool b;
    int idx;
    assert_int_equal(eta_config_get_int(c, "train", "epochs", &i64, NULL), ETA_OK);
    assert_int_equal(i64, 10);
    assert_int_equal(eta_config_get_int(c, "data", "eval_batch_size", &i64, NULL), ETA_OK);
    assert_int_equal(i64, 64);
    assert_int_equal(eta_config_get_real(c, "guard", "lr_factor", &d, NULL), ETA_OK);
    assert_true(d == 0.5);
    assert_int_equal(eta_config_get_real(c, "guard", "loss_factor", &d, NULL), ETA_OK);
    assert_true(d == 4.0);
    assert_int_equal(eta_config_get_bool(c, "data", "shuffle", &b, NULL), ETA_OK);
    assert_true(b);
    assert_int_equal(eta_config_get_bool(c, "data", "drop_last", &b, NULL), ETA_OK);
    assert_false(b);
    assert_int_equal(eta_config_get_enum(c, "guard", "action", &idx, NULL), ETA_OK);
    assert_int_equal(idx, 0);
    assert_int_equal(eta_config_get_enum(c, "output", "progress", &idx, NULL), ETA_OK);
    assert_int_equal(idx, 0);
    char **items;
    int count = -1;
    assert_int_equal(eta_config_get_list(c, "optimizer", "no_decay", &items, &count, NULL), ETA_OK);
    assert_int_equal(count, 0);
    assert_null(items[0]);
    free(items);
    /* Required keys are missing until given. */
    eta_err e;
    assert_int_equal(eta_config_check(c, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "fmnist.ini: [data] spec is required: the data set: FashionMNIST(...), "
                               "CSV('wine.csv', target='target'), Sentiment(...), Text(...)");
    set_ok(c, "data=FashionMNIST()");
    assert_int_equal(eta_config_check(c, &e), ETA_EINVAL);
    assert_non_null(strstr(e.msg, "[model] spec is required"));
    set_ok(c, "model.spec=Linear(784, 10)");
    assert_int_equal(eta_config_check(c, &e), ETA_OK);
    eta_config_free(c);
    /* output.dir's default comes from the file's name. */
    const struct {
        const char *path, *dir;
    } names[] = {{"configs/fmnist-mlp.ini", "runs/fmnist-mlp"}, {"a.b/wine", "runs/wine"},
                 {"x/.ini", "runs/.ini"}, {NULL, "runs/default"}, {"dir/", "runs/default"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        assert_int_equal(eta_config_new(&c, names[i].path, NULL), ETA_OK);
        expect(c, "output", "dir", names[i].dir);
        assert_true(eta_config_path(c) ? names[i].path && !strcmp(eta_config_path(c), names[i].path)
                                       : !names[i].path);
        eta_config_free(c);
    }
    eta_config_free(NULL);
}

static void test_explicit(void **state)
{
    (void)state;
    eta_config *c = read_ok(FULL);
    expect(c, "data", "spec", "CSV('data/wine.csv', target='target', val=0.2)");
    expect(c, "data", "batch_size", "1_000");
    expect(c, "data", "eval_batch_size", "1_000");
    expect(c, "data", "shuffle", "false");
    expect(c, "model", "init", "weights/start.safetensors");
    expect(c, "schedule", "interval", "epoch");
    expect(c, "schedule", "monitor", "val_acc");
    expect(c, "guard", "enabled", "false");
    expect(c, "output", "dir", "runs/wine ; 1");
    assert_true(eta_config_is_set(c, "data", "batch_size"));
    assert_false(eta_config_is_set(c, "data", "eval_batch_size"));
    int64_t i64;
    double d;
    bool b = true;
    int idx;
    assert_int_equal(eta_config_get_int(c, "data", "batch_size", &i64, NULL), ETA_OK);
    assert_int_equal(i64, 1000);
    assert_int_equal(eta_config_get_int(c, "data", "eval_batch_size", &i64, NULL), ETA_OK);
    assert_int_equal(i64, 1000);
    assert_int_equal(eta_config_get_int(c, "train", "seed", &i64, NULL), ETA_OK);
    assert_true(i64 == 12345678901234567); /* above 2^53: exact */
    assert_int_equal(eta_config_get_real(c, "train", "clip_grad_norm", &d, NULL), ETA_OK);
    assert_true(d == 0.1);
    assert_int_equal(eta_config_get_real(c, "guard", "lr_factor", &d, NULL), ETA_OK);
    assert_true(d == 0.25);
    assert_int_equal(eta_config_get_bool(c, "guard", "enabled", &b, NULL), ETA_OK);
    assert_false(b);
    assert_int_equal(eta_config_get_enum(c, "schedule", "interval", &idx, NULL), ETA_OK);
    assert_int_equal(idx, 1);
    assert_int_equal(eta_config_get_enum(c, "train", "mode", &idx, NULL), ETA_OK);
    assert_int_equal(idx, 2);
    assert_int_equal(eta_config_get_enum(c, "guard", "action", &idx, NULL), ETA_OK);
    assert_int_equal(idx, 2);
    char **items;
    int count;
    assert_int_equal(eta_config_get_list(c, "optimizer", "no_decay", &items, &count, NULL), ETA_OK);
    assert_int_equal(count, 3);
    assert_string_equal(items[0], "*.bias");
    assert_string_equal(items[1], "*norm*");
    assert_string_equal(items[2], "*.ln.weight");
    assert_null(items[3]);
    free(items);
    /* Where each value was written: line and column (1-based). */
    expect_where(c, "data", "spec", 0, "fmnist.ini", 3, 8);
    expect_where(c, "data", "spec", 4, "fmnist.ini", 3, 12);
    expect_where(c, "model", "init", 0, "fmnist.ini", 9, 9); /* inside the quotes */
    expect_where(c, "output", "dir", 0, "fmnist.ini", 27, 8);
    int line, col;
    assert_string_equal(eta_config_where(c, "train", "epochs", &line, &col), "fmnist.ini");
    assert_int_equal(line, 18);
    assert_int_equal(col, 10);
    eta_config_free(c);
}

/* ---- errors -------------------------------------------------------------------- */

static void test_syntax_errors(void **state)
{
    (void)state;
    read_fails("[train]\nepochs 3\n", 8, 8, "fmnist.ini:2:1: expected 'key = value', a [section] line or a comment");
    read_fails("[train\nepochs = 3\n", 0, 6, "fmnist.ini:1:1: a [section] line without its ']'");
    read_fails("[train ;x]\n", 0, 10, "fmnist.ini:1:1: a [section] line without its ']'");
    /* The first error in the file wins, whichever kind. */
    read_fails("[train]\nepochs = x\nbad line\n", 17, 1, "fmnist.ini:2:10: train.epochs must be an integer, got 'x'");
    read_fails("[train]\nbad line\nepochs = x\n", 8, 8,
               "fmnist.ini:2:1: expected 'key = value', a [section] line or a comment");
    read_fails("[train]\nbad line\n[nope]\n", 8, 8,
               "fmnist.ini:2:1: expected 'key = value', a [section] line or a comment");
    read_fails("[train]\n= 3\n", 10, 0, "fmnist.ini:2:3: a value without a key");
    const char nul[] = "[train]\nepochs = 3\0\n";
    eta_config *c;
    eta_err e;
    assert_int_equal(eta_config_read_string(&c, nul, sizeof nul - 1, "fmnist.ini", &e), ETA_EFORMAT);
    assert_string_equal(e.msg, "fmnist.ini:2:11: a NUL byte; a config is text");
    assert_int_equal(e.pos, 18);
    assert_null(c);
}

static void test_name_errors(void **state)
{
    (void)state;
    read_fails("[data]\nspec = FashionMNIST()\n[trian]\nepochs = 3\n", 30, 5,
               "fmnist.ini:3:2: unknown section [trian]; did you mean train? valid sections: data, model, "
               "optimizer, schedule, train, guard, dist, lr_find, output");
    /* An unknown section with no keys is an error too. */
    read_fails("[train]\n[ Guard ]\n", 10, 5,
               "fmnist.ini:2:3: unknown section [Guard]; did you mean guard? valid sections: data, model, "
               "optimizer, schedule, train, guard, dist, lr_find, output");
    read_fails("[train]\nepoch = 3\n", 8, 5,
               "fmnist.ini:2:1: unknown key 'epoch' in [train]; did you mean epochs? (18 keys in [train] in all)");
    read_fails("[guard]\n  Action = stop\n", 10, 6,
               "fmnist.ini:2:3: unknown key 'Action' in [guard]; did you mean action? valid keys in [guard]: "
               "enabled, action, lr_factor, max_tries, loss_factor, window, z_threshold, snapshot_every, warmup");
    read_fails("[train]\nbatch_size = 3\n", 8, 10,
               "fmnist.ini:2:1: unknown key 'batch_size' in [train]; it belongs in [data]");
    read_fails("[output]\nmonitor = x\n", 9, 7,
               "fmnist.ini:2:1: unknown key 'monitor' in [output]; it belongs in [schedule] and [train]");
    read_fails("epochs = 3\n[train]\n", 0, 6,
               "fmnist.ini:1:1: key 'epochs' comes before any [section] line; it belongs in [train]");
    read_fails("zzz = 3\n", 0, 3, "fmnist.ini:1:1: key 'zzz' comes before any [section] line");
    read_fails("[train]\nepochs = 3\n\nepochs = 5\n", 20, 6,
               "fmnist.ini:4:1: duplicate key 'epochs' in [train] (first at line 2)");
    read_fails("[train]\nepochs = 3\n[guard]\n[train]\n", 28, 5,
               "fmnist.ini:4:2: duplicate section [train] (first at line 1)");
}

static void test_value_errors(void **state)
{
    (void)state;
    read_fails("[train]\nepochs = 3.5\n", 17, 3, "fmnist.ini:2:10: train.epochs must be an integer, got '3.5'");
    read_fails("[train]\nepochs = 0\n", 17, 1, "fmnist.ini:2:10: train.epochs must be >= 1, got 0");
    read_fails("[train]\nthreads = 1025\n", 18, 4, "fmnist.ini:2:11: train.threads must be in [0, 1024], got 1025");
    eta_config *c = read_ok("[train]\nthreads = 1024\n[guard]\nwindow = 2\n"); /* the ends are in */
    expect(c, "train", "threads", "1024");
    eta_config_free(c);
    read_fails("[train]\nepochs = 99999999999999999999\n", 17, 20,
               "fmnist.ini:2:10: train.epochs: 99999999999999999999 does not fit a 64-bit integer");
    read_fails("[train]\nepochs = 1__0\n", 17, 4, "fmnist.ini:2:10: train.epochs must be an integer, got '1__0'");
    read_fails("[guard]\nlr_factor = 1\n", 20, 1, "fmnist.ini:2:13: guard.lr_factor must be in (0, 1), got 1");
    read_fails("[guard]\nloss_factor = 1\n", 22, 1, "fmnist.ini:2:15: guard.loss_factor must be > 1, got 1");
    read_fails("[guard]\nlr_factor = half\n", 20, 4, "fmnist.ini:2:13: guard.lr_factor must be a number, got 'half'");
    read_fails("[guard]\nlr_factor = nan\n", 20, 3, "fmnist.ini:2:13: guard.lr_factor must be a finite number, got nan");
    read_fails("[train]\nmin_delta = inf\n", 20, 3, "fmnist.ini:2:13: train.min_delta must be a finite number, got inf");
    read_fails("[data]\nshuffle = maybe\n", 17, 5, "fmnist.ini:2:11: data.shuffle must be true or false, got 'maybe'");
    read_fails("[guard]\naction = rollbak\n", 17, 7,
               "fmnist.ini:2:10: guard.action: unknown value 'rollbak'; did you mean rollback? valid values: "
               "rollback, skip, stop");
    read_fails("[output]\nprogress = tty\n", 20, 3,
               "fmnist.ini:2:12: output.progress: unknown value 'tty'; valid values: auto, bar, lines, off");
    read_fails("[train]\nepochs =\n", 16, 0, "fmnist.ini:2:9: train.epochs is empty; leave it out for the default (10)");
    read_fails("[train]\nmonitor = ''\n", 19, 0,
               "fmnist.ini:2:12: train.monitor is empty; leave it out for the default (val_loss)");
    read_fails("[model]\nspec = ; none\n", 15, 0,
               "fmnist.ini:2:8: model.spec is empty; it is required: the network: Sequential(Linear(784, 256), "
               "ReLU(), Linear(256, 10)), ...");
    read_fails("[train]\nmonitor = val\n    loss\n", 26, 4,
               "fmnist.ini:3:5: train.monitor: only a spec may go on over several lines");
    /* A spec that does not parse: located in its own line, continuation or not. */
    read_fails("[optimizer]\nspec = AdamW(lr=)\n", 28, 1, "fmnist.ini:2:17: optimizer.spec: expected a value, got ')'");
    read_fails("[model]\nspec = Sequential(\n    Linear(1, 2),  # one\n\n    ReLU(]\n", 62, 1,
               "fmnist.ini:5:10: model.spec: expected a value, got ']'");
    read_fails("[data]\nspec = CSV('a.csv\n", 18, 1,
               "fmnist.ini:2:12: data.spec: unterminated string");
}

/* ---- overrides ------------------------------------------------------------------- */

static void test_set(void **state)
{
    (void)state;
    eta_config *c = read_ok("[train]\nepochs = 3\n[optimizer]\nspec = SGD(lr=0.1)\n");
    set_ok(c, "train.epochs=5");
    expect(c, "train", "epochs", "5");
    set_ok(c, " optimizer = AdamW(lr=3e-3) ");
    expect(c, "optimizer", "spec", "AdamW(lr=3e-3)");
    set_ok(c, "schedule=");
    expect(c, "schedule", "spec", "");
    assert_true(eta_config_is_set(c, "schedule", "spec"));
    set_ok(c, "model=Sequential(\n  Linear(2, 3),  # hidden\n\n  ReLU())");
    expect(c, "model", "spec", "Sequential(\nLinear(2, 3),\nReLU())");
    set_ok(c, "data.spec=CSV('a;b.csv', sep=' ;')  ; a comment");
    expect(c, "data", "spec", "CSV('a;b.csv', sep=' ;')");
    set_ok(c, "output.dir=\"my runs/a\"");
    expect(c, "output", "dir", "my runs/a");
    set_ok(c, "data.shuffle=0");
    expect(c, "data", "shuffle", "false");
    /* Where an override is: "--set" and its column in the assignment. */
    int line, col;
    assert_string_equal(eta_config_where(c, "optimizer", "spec", &line, &col), "--set");
    assert_int_equal(line, 0);
    assert_int_equal(col, 14);
    expect_where(c, "model", "spec", 11, "--set", 0, 18); /* the line break: the end of the first line */
    expect_where(c, "model", "spec", 12, "--set", 0, 3);  /* columns count from the assignment's line */
    expect_where(c, "output", "dir", 0, "--set", 0, 13);

    set_fails(c, "train.epochs", 0, 12, "--set train.epochs: expected section.key=value, or data=, model=, "
                                        "optimizer=, schedule= and a spec");
    set_fails(c, "train.epochs=x", 13, 1, "--set train.epochs=x: train.epochs must be an integer, got 'x'");
    set_fails(c, "guard.action = rollbak", 15, 7,
              "--set guard.action = rollbak: guard.action: unknown value 'rollbak'; did you mean rollback? "
              "valid values: rollback, skip, stop");
    set_fails(c, "trian.epochs=3", 0, 5, "--set trian.epochs=3: unknown section 'trian'; did you mean train? "
                                         "valid sections: data, model, optimizer, schedule, train, guard, dist, lr_find, output");
    set_fails(c, "train.epoch=3", 6, 5, "--set train.epoch=3: unknown key 'epoch' in [train]; did you mean "
                                        "epochs? (18 keys in [train] in all)");
    set_fails(c, "train.batch_size=3", 6, 10,
              "--set train.batch_size=3: unknown key 'batch_size' in [train]; it belongs in [data]");
    set_fails(c, "epochs=3", 0, 6, "--set epochs=3: 'epochs' is no section; write train.epochs=...");
    set_fails(c, "batch_size=3", 0, 10, "--set batch_size=3: unknown section 'batch_size'; it belongs in [data]");
    set_fails(c, "train=3", 0, 5, "--set train=3: [train] has no spec; write train.KEY=VALUE");
    set_fails(c, "optimizer=AdamW(lr=", 19, 1, "--set optimizer=AdamW(lr=: optimizer.spec: expected a value, "
                                              "got end of text");
    set_fails(c, "model.spec=", 11, 0, "--set model.spec=: model.spec is empty; it is required: the network: "
                                       "Sequential(Linear(784, 256), ReLU(), Linear(256, 10)), ...");
    /* A failed override leaves the value as it was. */
    expect(c, "train", "epochs", "5");
    expect(c, "optimizer", "spec", "AdamW(lr=3e-3)");
    assert_int_equal(eta_config_set(NULL, "train.epochs=1", NULL), ETA_EINVAL);
    assert_int_equal(eta_config_set(c, NULL, NULL), ETA_EINVAL);
    eta_config_free(c);
}

/* ---- files and getters ---------------------------------------------------------- */

static void test_getter_errors(void **state)
{
    (void)state;
    eta_config *c = read_ok("");
    int64_t i64;
    double d;
    bool b;
    int idx;
    char **items;
    eta_err e;
    assert_int_equal(eta_config_get_int(c, "train", "nope", &i64, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "unknown config key train.nope");
    assert_int_equal(eta_config_get_bool(c, "train", "epochs", &b, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "train.epochs is an int, not a bool");
    assert_int_equal(eta_config_get_int(c, "guard", "lr_factor", &i64, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "guard.lr_factor is a real, not an int");
    assert_int_equal(eta_config_get_real(c, "guard", "action", &d, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "guard.action is an enum, not a real");
    assert_int_equal(eta_config_get_enum(c, "data", "spec", &idx, &e), ETA_EINVAL);
    assert_string_equal(e.msg, "data.spec is a spec, not an enum");
    assert_int_equal(eta_config_get_list(c, "data", "spec", &items, &idx, &e), ETA_EINVAL);
    assert_int_equal(eta_config_get_int(NULL, "train", "epochs", &i64, &e), ETA_EINVAL);
    assert_null(eta_config_where(NULL, "train", "epochs", NULL, NULL));
    eta_config_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_explicit),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_value_errors),
        cmocka_unit_test(test_set),
        cmocka_unit_test(test_getter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
