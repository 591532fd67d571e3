/* fuzz_monitor.c - libFuzzer harness for the train layer's readers:
 * metrics.csv (eta_run_table_read, train/runplot_read.c), the guard's saved
 * state (eta_guard_load_state) and the metrics sink's (eta_metrics_open with
 * a resume state).
 *
 * Not built by CMake; the build, seed and run commands (from the source root)
 * are in the line comments below the header. No OpenMP, no cairo: only the
 * files named there.
 * The first byte picks the reader, the rest is the input:
 *   0  metrics.csv, written to a temporary file and read: an error is
 *      EFORMAT (or ENOMEM) with a message and no table; a table has a step
 *      column and every column non-NULL;
 *   1  a guard state as is (mostly stops at the magic or the CRC);
 *   2  "ETAGUARD" + input + its CRC-32, so the fuzzer reaches the parser;
 *   3  "ETAMETRC" + input + its CRC-32, opened as a sink with no directory.
 * A guard that refuses a state must save the same bytes as before; one that
 * takes it must save, load and save again to the same bytes, and check a
 * few steps (ASan/UBSan watch; a rollback calls the fake run). A sink that
 * opens from a state must save it back, reopen and save to the same bytes,
 * and take a step, an evaluation, layers and a guard event.
 * Seeds: the seed writer (FUZZ_SEEDS) writes real files and states into the
 * corpus directory.
 */
// clang-14 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc src/core/*.c src/train/guard.c src/train/metrics.c src/train/metrics_file.c src/train/metrics_health.c src/train/progress.c src/train/runplot_read.c tests/fuzz/fuzz_monitor.c -lm -o fuzz_monitor
// clang-14 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -DFUZZ_SEEDS -Iinclude -Isrc src/core/*.c src/train/guard.c src/train/metrics.c src/train/metrics_file.c src/train/metrics_health.c src/train/progress.c src/train/runplot_read.c tests/fuzz/fuzz_monitor.c -lm -o fuzz_monitor_seeds && mkdir -p corpus_monitor && ./fuzz_monitor_seeds corpus_monitor && cp tests/fuzz/monitor_seeds/* corpus_monitor/
// ./fuzz_monitor -max_total_time=300 -max_len=4096 corpus_monitor
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eta/core.h"
#include "train/guard.h"
#include "train/metrics.h"
#include "train/runplot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static int fake_save(void *ctx, void **buf, size_t *len)
{
    (void)ctx;
    void *p = realloc(*buf, 8);
    if (!p)
        return ETA_ENOMEM;
    memset(p, 7, 8);
    *buf = p;
    *len = 8;
    return ETA_OK;
}

static int fake_restore(void *ctx, const void *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    (void)len;
    return ETA_OK;
}

static eta_guard *new_guard(void)
{
    eta_guard_config c = eta_guard_defaults();
    c.window = 10;
    c.warmup = 5;
    c.snapshot_every = 10;
    eta_guard_callbacks cb = {fake_save, fake_restore, NULL};
    eta_guard *g = NULL;
    check(eta_guard_new(&g, &c, &cb, NULL) == ETA_OK);
    return g;
}

static void fuzz_table(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_monitor_%d.csv", (int)getpid());
    }
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(data, 1, size, f) == size);
    fclose(f);
    eta_run_table *t = NULL;
    eta_err e;
    int rc = eta_run_table_read(&t, path, &e);
    if (rc) {
        check(rc == ETA_EFORMAT || rc == ETA_ENOMEM);
        check(e.code == rc && e.msg[0] && t == NULL);
    } else {
        check(t && eta_run_table_col(t, "step") != NULL && t->nrows >= 0);
        for (int i = 0; i < t->ncols; i++)
            check(t->cols[i] != NULL && eta_run_table_col(t, t->names[i]) != NULL);
        double sum = 0;
        for (int i = 0; i < t->ncols; i++)
            for (int64_t r = 0; r < t->nrows; r++)
                sum += t->cols[i][r] == t->cols[i][r] ? 0 : 1; /* every cell readable */
        (void)sum;
        eta_run_table_free(t);
    }
    unlink(path);
}

/* A saved state of g, for comparisons. */
static void saved(const eta_guard *g, void **buf, size_t *len)
{
    check(eta_guard_save_state(g, buf, len) == ETA_OK);
}

static void fuzz_guard(const void *buf, size_t len)
{
    eta_guard *g = new_guard();
    void *a, *b;
    size_t la, lb;
    saved(g, &a, &la);
    eta_err e;
    int rc = eta_guard_load_state(g, buf, len, &e);
    if (rc) {
        check((rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENOMEM) && e.msg[0]);
        saved(g, &b, &lb);
        check(la == lb && memcmp(a, b, la) == 0);
    } else {
        saved(g, &b, &lb);
        eta_guard *h = new_guard();
        check(eta_guard_load_state(h, b, lb, NULL) == ETA_OK);
        void *c;
        size_t lc;
        saved(h, &c, &lc);
        check(lb == lc && memcmp(b, c, lb) == 0);
        free(c);
        eta_guard_free(h);
        /* A few steps from a state nobody wrote: decisions, never a crash. */
        eta_guard_event ev;
        double losses[4] = {1.0, NAN, 1e30, 0.5};
        for (int k = 0; k < 4; k++) {
            rc = eta_guard_check(g, INT64_MAX / 2 + k, losses[k], 1.0, 0.1, &ev, NULL);
            check(rc == ETA_OK || rc == ETA_ESTATE);
            char text[1024];
            eta_guard_describe(&ev, text, sizeof text);
        }
    }
    free(a);
    free(b);
    eta_guard_free(g);
}

static eta_metrics_config sink_config(const void *resume, size_t len)
{
    eta_metrics_config c = eta_metrics_defaults();
    c.momentum = true;
    c.accuracy = true;
    c.resume = resume;
    c.resume_len = len;
    return c;
}

static void fuzz_metrics(const void *buf, size_t len)
{
    eta_metrics_config c = sink_config(buf, len);
    eta_metrics *m = NULL;
    eta_err e;
    int rc = eta_metrics_open(&m, &c, &e);
    if (rc) {
        check((rc == ETA_EFORMAT || rc == ETA_EINVAL || rc == ETA_ENOMEM) && e.msg[0] && m == NULL);
        return;
    }
    void *a, *b;
    size_t la, lb;
    check(eta_metrics_save_state(m, &a, &la, NULL) == ETA_OK);
    eta_metrics_config c2 = sink_config(a, la);
    eta_metrics *m2 = NULL;
    check(eta_metrics_open(&m2, &c2, NULL) == ETA_OK);
    check(eta_metrics_save_state(m2, &b, &lb, NULL) == ETA_OK);
    check(la == lb && memcmp(a, b, la) == 0);
    eta_metrics_close(m2, NULL);
    /* Events after a state nobody wrote: errors allowed, crashes not. */
    double lr = 0.1, mom = 0.9;
    eta_train_step st = {.step = INT64_MAX / 2, .lr = &lr, .momentum = &mom, .loss = 1, .grad_norm = 1,
                         .samples = 4, .time = 1};
    eta_metrics_step(m, &st, NULL);
    eta_metrics_eval(m, INT64_MAX / 2, 0, 0.5, 0.5, NULL);
    eta_layer_stats l[2] = {{"fc1.weight", 0.1, 0.5}, {"fc2.weight", 1e-20, 1e-9}};
    eta_metrics_layers(m, INT64_MAX / 2, l, 2, NULL);
    eta_guard_event ev = {.action = ETA_GUARD_ROLLBACK, .step = INT64_MAX / 2, .value = NAN, .threshold = NAN,
                          .z = NAN, .lr = 0.1, .lr_factor = 0.5, .lr_scale = 0.5, .lr_next = 0.05,
                          .lr_snapshot = 0.1, .to_step = 3};
    eta_metrics_guard(m, &ev, NULL);
    free(a);
    free(b);
    eta_metrics_close(m, NULL);
}

/* magic + body + CRC-32 of both. */
static void with_crc(const char *magic, const uint8_t *body, size_t n, void (*fn)(const void *, size_t))
{
    uint8_t *buf = malloc(n + 12);
    check(buf != NULL);
    memcpy(buf, magic, 8);
    memcpy(buf + 8, body, n);
    uint32_t crc = eta_crc32(0, buf, n + 8);
    for (int i = 0; i < 4; i++)
        buf[n + 8 + i] = (uint8_t)(crc >> (8 * i));
    fn(buf, n + 12);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_table(in, n);
        break;
    case 1:
        fuzz_guard(in, n);
        break;
    case 2:
        with_crc("ETAGUARD", in, n, fuzz_guard);
        break;
    default:
        with_crc("ETAMETRC", in, n, fuzz_metrics);
        break;
    }
    return 0;
}

#ifdef FUZZ_SEEDS
/* Writes selector + bytes as DIR/name. */
static void seed(const char *dir, const char *name, int sel, const void *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    fputc(sel, f);
    fwrite(p, 1, n, f);
    fclose(f);
}

int main(int argc, char **argv)
{
    check(argc == 2);
    const char *dir = argv[1];
    /* A guard through snapshots, a rollback and a spike. */
    eta_guard *g = new_guard();
    eta_guard_event ev;
    for (int64_t s = 0; s < 40;) {
        double loss = s == 25 ? NAN : 1.0 + 0.1 * (double)(s % 2);
        check(eta_guard_check(g, s, loss, 1.0, 0.1, &ev, NULL) == ETA_OK);
        s = ev.action == ETA_GUARD_ROLLBACK ? ev.to_step + 1 : s + 1;
    }
    void *buf;
    size_t len;
    check(eta_guard_save_state(g, &buf, &len) == ETA_OK);
    seed(dir, "guard_raw", 1, buf, len);
    seed(dir, "guard_body", 2, (char *)buf + 8, len - 12);
    free(buf);
    eta_guard_free(g);
    /* A sink with a snapshot, layers and warnings (no files). */
    eta_metrics_config c = sink_config(NULL, 0);
    eta_metrics *m = NULL;
    check(eta_metrics_open(&m, &c, NULL) == ETA_OK);
    double lr = 0.1, mom = 0.9;
    for (int64_t s = 1; s <= 12; s++) {
        eta_guard_event ok = {.action = ETA_GUARD_OK, .step = s - 1, .snapshot = (s - 1) % 5 == 0, .to_step = -1};
        check(eta_metrics_guard(m, &ok, NULL) == ETA_OK);
        eta_train_step st = {.step = s, .lr = &lr, .momentum = &mom, .loss = 2.0 / (double)s, .grad_norm = 1,
                             .samples = 4, .time = (double)s};
        check(eta_metrics_step(m, &st, NULL) == ETA_OK);
        eta_layer_stats l[2] = {{"fc1.weight", 0.1, 0.5}, {"fc2,bias", 1e-20, 1e-3}};
        check(eta_metrics_layers(m, s, l, 2, NULL) == ETA_OK);
    }
    check(eta_metrics_save_state(m, &buf, &len, NULL) == ETA_OK);
    seed(dir, "metrics_body", 3, (char *)buf + 8, len - 12);
    free(buf);
    eta_metrics_close(m, NULL);
    const char *csv = "step,epoch,lr,momentum,loss,smooth_loss,grad_norm,samples_per_s,val_loss,val_acc\n"
                      "0,0,,,,,,,2.5,0.125\n"
                      "1,0,0.1,0.9,2.0,2.0,1.0,64.0,,\n"
                      "2,0,0.2,0.85,nan,1.7474747474747456,inf,64.0,,\n"
                      "3,1,1e-08,0.9,1.5,1.7,3.0,,1.25,0.5\n";
    seed(dir, "metrics_csv", 0, csv, strlen(csv));
    seed(dir, "metrics_csv_live", 0, csv, strlen(csv) - 6);
    return 0;
}
#endif
