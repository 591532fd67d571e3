/* tests/train_config_test.h - shared by test_train_config.c and
 * test_train_config_file.c: reading a config from text or failing with an
 * exact message and place, overrides, and checks of values and places. */
#ifndef ETA_TEST_TRAIN_CONFIG_H
#define ETA_TEST_TRAIN_CONFIG_H

#include "harness.h"

#include "train/config.h"

/* Reads text as "fmnist.ini"; fails the test on an error. */
static inline eta_config *read_ok(const char *text)
{
    eta_config *c = NULL;
    eta_err e;
    int rc = eta_config_read_string(&c, text, strlen(text), "fmnist.ini", &e);
    if (rc)
        fail_msg("read failed (%d): %s\n%s", rc, e.msg, text);
    assert_non_null(c);
    return c;
}

/* Reading text must fail with `msg` (exactly) and the culprit at byte pos (len bytes). */
static inline void read_fails(const char *text, int pos, int len, const char *msg)
{
    eta_config *c = (eta_config *)&c;
    eta_err e;
    int rc = eta_config_read_string(&c, text, strlen(text), "fmnist.ini", &e);
    assert_null(c);
    if (rc != ETA_EFORMAT || strcmp(e.msg, msg) != 0)
        fail_msg("%s\nexpected: %s\ngot (%d): %s", text, msg, rc, e.msg);
    assert_int_equal(e.code, ETA_EFORMAT);
    if (e.pos != pos || e.len != len)
        fail_msg("%s\nexpected at %d+%d, got %d+%d (%s)", text, pos, len, e.pos, e.len, e.msg);
}

static inline void set_ok(eta_config *c, const char *a)
{
    eta_err e;
    if (eta_config_set(c, a, &e))
        fail_msg("set %s: %s", a, e.msg);
}

static inline void set_fails(eta_config *c, const char *a, int pos, int len, const char *msg)
{
    eta_err e;
    int rc = eta_config_set(c, a, &e);
    if (rc != ETA_EINVAL || strcmp(e.msg, msg) != 0)
        fail_msg("set %s\nexpected: %s\ngot (%d): %s", a, msg, rc, e.msg);
    if (e.pos != pos || e.len != len)
        fail_msg("set %s: expected at %d+%d, got %d+%d", a, pos, len, e.pos, e.len);
}

static inline void expect(const eta_config *c, const char *sec, const char *key, const char *want)
{
    const char *got = eta_config_get(c, sec, key);
    if (!got || strcmp(got, want) != 0)
        fail_msg("%s.%s: expected <%s>, got <%s>", sec, key, want, got ? got : "NULL");
}

static inline void expect_where(const eta_config *c, const char *sec, const char *key, int pos, const char *src,
                                int line, int col)
{
    int l = -1, k = -1;
    const char *s = eta_config_locate(c, sec, key, pos, &l, &k);
    if (!src ? s != NULL : !s || strcmp(s, src) != 0 || l != line || k != col)
        fail_msg("%s.%s@%d: expected %s:%d:%d, got %s:%d:%d", sec, key, pos, src ? src : "NULL", line, col,
                 s ? s : "NULL", l, k);
}

/* A config giving a value to a key of every section. */
static const char FULL[] = "; a whole config\n"
                           "[data]\n"
                           "spec = CSV('data/wine.csv', target='target', val=0.2)\n"
                           "batch_size = 1_000\n"
                           "shuffle = No\n"
                           "[model]\n"
                           "spec = Sequential(Linear(13, 32), ReLU(), Linear(32, 3))\n"
                           "loss = CrossEntropyLoss(label_smoothing=0.1)\n"
                           "init = 'weights/start.safetensors'\n"
                           "[optimizer]\n"
                           "spec = SGD(lr=0.1, momentum=0.9)\n"
                           "no_decay = *.bias, *norm*  *.ln.weight\n"
                           "[schedule]\n"
                           "spec = StepLR(step_size=3)\n"
                           "interval = EPOCH\n"
                           "monitor = val_acc\n"
                           "[train]\n"
                           "epochs = 7\n"
                           "seed = 12_345_678_901_234_567\n"
                           "clip_grad_norm = 1e-1\n"
                           "mode = max\n"
                           "[guard]\n"
                           "action = stop\n"
                           "lr_factor = .25\n"
                           "enabled = off\n"
                           "[output]\n"
                           "dir = \"runs/wine ; 1\"\n"
                           "progress = lines\n";

#endif
