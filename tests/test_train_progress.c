/* test_train_progress.c - the progress display: plain lines into a file, and the bar on a pseudo-terminal. labels: unit full
 *
 * Plain mode (a file, or TERM=dumb on a terminal): a line every log_every
 * steps and at each epoch's end, exact texts, no control characters. Bar
 * mode: a child process writes to a pty's slave as its stderr and the parent
 * reads the master: carriage returns, one newline per epoch, the throttle
 * (with the clock at step/1024 s and 0.1 s between redraws the bar is drawn
 * at steps 1, 104, 207, 310, 413, at the epoch's end (500), then 501, 604,
 * ... : 12 times in 1000 steps), lines that never reach the terminal's last
 * column (TIOCSWINSZ 60 and 120), colour unless NO_COLOR, and messages
 * printed above the bar, which is drawn again after them.
 */
#define _XOPEN_SOURCE 700
#include "pty_harness.h"

#include <sys/wait.h>

#include "train/progress.h"

static eta_progress_info info_at(int64_t step, int64_t per_epoch)
{
    return (eta_progress_info){.step = step, .epoch = (step - 1) / per_epoch,
                               .epoch_step = (step - 1) % per_epoch + 1, .loss = 0.5, .lr = 1e-3,
                               .grad_norm = 1.5, .samples_per_s = 12800, .time = (double)step / 100};
}

/* Feeds steps 1..n (epochs of per_epoch steps) to a progress; a message at step msg_at. */
static void feed(eta_progress *p, int64_t n, int64_t per_epoch, double tick, int64_t msg_at)
{
    for (int64_t s = 1; s <= n; s++) {
        eta_progress_info in = info_at(s, per_epoch);
        in.time = (double)s * tick;
        eta_progress_update(p, &in);
        if (s == msg_at)
            eta_progress_message(p, "warning: a\tmessage\n");
        if (s % per_epoch == 0)
            eta_progress_epoch_end(p, &in);
    }
}

static char *file_output(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    rewind(f);
    char *buf = calloc(1, (size_t)n + 1);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    return buf;
}

static void no_control_chars(const char *s)
{
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\n')
            fail_msg("control character 0x%02x at offset %ld", *c, (long)(c - s));
}

static void test_plain_lines(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    eta_progress_config c = eta_progress_defaults();
    assert_int_equal(c.log_every, 100);
    assert_int_equal(c.fd, 2);
    c.fd = fileno(f);
    c.epochs = 2;
    c.steps_per_epoch = 125;
    eta_progress *p;
    assert_int_equal(eta_progress_new(&p, &c, NULL), 0);
    assert_false(eta_progress_is_bar(p));
    feed(p, 250, 125, 0.01, 130);
    eta_progress_free(p);
    char *out = file_output(f);
    no_control_chars(out);
    const char *want =
        "epoch 1/2 step 100/250 loss 0.5 lr 0.001 grad_norm 1.5 samples/s 12800 elapsed 0:01 left 0:02\n"
        "epoch 1/2 done: step 125/250 loss 0.5 lr 0.001 grad_norm 1.5 samples/s 12800 elapsed 0:01 left 0:01\n"
        "warning: a message\n"
        "epoch 2/2 step 200/250 loss 0.5 lr 0.001 grad_norm 1.5 samples/s 12800 elapsed 0:02 left 0:01\n"
        "epoch 2/2 done: step 250/250 loss 0.5 lr 0.001 grad_norm 1.5 samples/s 12800 elapsed 0:03 left 0:00\n";
    assert_string_equal(out, want);
    free(out);
    fclose(f);

    /* Unknown sizes and no samples/s: fields left out. */
    f = tmpfile();
    c = eta_progress_defaults();
    c.fd = fileno(f);
    c.log_every = 3;
    assert_int_equal(eta_progress_new(&p, &c, NULL), 0);
    eta_progress_info in = info_at(3, 1000);
    in.samples_per_s = NAN;
    in.time = 3725;
    eta_progress_update(p, &in);
    in.step = 4; /* not a multiple of 3: nothing */
    eta_progress_update(p, &in);
    eta_progress_free(p);
    out = file_output(f);
    assert_string_equal(out, "epoch 1 step 3 loss 0.5 lr 0.001 grad_norm 1.5 elapsed 1:02:05\n");
    free(out);
    fclose(f);

    /* Off: nothing at all; a bad config is refused. */
    f = tmpfile();
    c = eta_progress_defaults();
    c.fd = fileno(f);
    c.mode = ETA_PROGRESS_OFF;
    assert_int_equal(eta_progress_new(&p, &c, NULL), 0);
    feed(p, 200, 100, 0.01, 50);
    eta_progress_free(p);
    out = file_output(f);
    assert_string_equal(out, "");
    free(out);
    fclose(f);
    c.log_every = 0;
    eta_err err;
    assert_int_equal(eta_progress_new(&p, &c, &err), ETA_EINVAL);
    assert_non_null(strstr(err.msg, "log_every"));
}

/* The bar's layout at fixed widths, drawn into a file (mode BAR forced). */
static char *bar_at(int width, int color)
{
    FILE *f = tmpfile();
    eta_progress_config c = eta_progress_defaults();
    c.fd = fileno(f);
    c.mode = ETA_PROGRESS_BAR;
    c.width = width;
    c.color = color;
    c.epochs = 2;
    c.steps_per_epoch = 500;
    eta_progress *p;
    assert_int_equal(eta_progress_new(&p, &c, NULL), 0);
    eta_progress_info in = info_at(250, 500);
    eta_progress_update(p, &in);
    eta_progress_free(p);
    char *out = file_output(f);
    fclose(f);
    return out;
}

static void test_bar_layout(void **state)
{
    (void)state;
    char *s = bar_at(100, 0);
    /* The first step seen (250) took 2.5 s: 750 more take 31:15. The fields
     * take 65 columns, so the bar 99 - 65 - 3 = 31, 15 of them full. */
    assert_string_equal(s, "\repoch 1/2 [###############................] 250/1000 loss 0.5 lr 1.0e-03 |g| 1.5 "
                           "12.8k/s 0:03<31:15\n");
    free(s);
    s = bar_at(78, 0); /* one column short: samples/s goes first */
    assert_string_equal(s, "\repoch 1/2 [########.........] 250/1000 loss 0.5 lr 1.0e-03 |g| 1.5 0:03<31:15\n");
    free(s);
    s = bar_at(60, 0); /* samples/s, grad norm and time go, in that order */
    assert_string_equal(s, "\repoch 1/2 [#########.........] 250/1000 loss 0.5 lr 1.0e-03\n");
    free(s);
    s = bar_at(30, 0); /* no room for a bar: the essential fields, cut */
    assert_string_equal(s, "\repoch 1/2 250/1000 loss 0.5\n");
    free(s);
    /* No sizes known: no bar; a shorter line is padded over the longer one. */
    FILE *f = tmpfile();
    eta_progress_config c = eta_progress_defaults();
    c.fd = fileno(f);
    c.mode = ETA_PROGRESS_BAR;
    c.width = 100;
    c.redraw_interval = 0;
    eta_progress *p;
    assert_int_equal(eta_progress_new(&p, &c, NULL), 0);
    eta_progress_info in = info_at(7, 500);
    in.loss = 0.123456;
    eta_progress_update(p, &in);
    in.loss = 0.5;
    in.step = 8;
    eta_progress_update(p, &in);
    eta_progress_free(p);
    s = file_output(f);
    fclose(f);
    assert_string_equal(s, "\repoch 1 7 loss 0.1235 lr 1.0e-03 |g| 1.5 12.8k/s 0:00"
                           "\repoch 1 8 loss 0.5 lr 1.0e-03 |g| 1.5 12.8k/s 0:00   \n");
    free(s);

    s = bar_at(100, 1);
    assert_non_null(strstr(s, "[\x1b[32m###############\x1b[0m................]"));
    free(s);
}

/* Runs feed() in a child whose stderr is a pty of `cols` columns, with the
 * given environment; returns what the master read. */
static char *through_pty(int cols, const char *term, const char *no_color, int64_t msg_at)
{
    int slave, master = pty_open(cols, &slave);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(master);
        dup2(slave, 2);
        close(slave);
        setenv("TERM", term, 1);
        if (no_color)
            setenv("NO_COLOR", no_color, 1);
        else
            unsetenv("NO_COLOR");
        eta_progress_config c = eta_progress_defaults();
        c.epochs = 2;
        c.steps_per_epoch = 500;
        eta_progress *p;
        if (eta_progress_new(&p, &c, NULL))
            _exit(3);
        feed(p, 1000, 500, 1.0 / 1024, msg_at);
        eta_progress_free(p);
        _exit(0);
    }
    close(slave);
    char *buf = pty_read_all(master);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    return buf;
}

static int count_char(const char *s, char c)
{
    int k = 0;
    for (; *s; s++)
        k += *s == c;
    return k;
}

/* The widest line drawn, escape sequences left out. */
static int widest(const char *s)
{
    int w = 0, cur = 0;
    for (; *s; s++) {
        if (*s == '\r' || *s == '\n') {
            cur = 0;
        } else if (*s == '\x1b') {
            while (*s && *s != 'm')
                s++;
        } else if (++cur > w) {
            w = cur;
        }
    }
    return w;
}

static void test_bar_on_pty(void **state)
{
    (void)state;
    char *s = through_pty(120, "xterm", NULL, 0);
    assert_int_equal(count_char(s, '\r'), 12); /* the throttle: 12 drawings */
    assert_int_equal(count_char(s, '\n'), 2);  /* one per epoch */
    assert_true(widest(s) <= 119);
    assert_non_null(strstr(s, "\x1b[32m"));
    assert_non_null(strstr(s, "\repoch 1/2 ["));
    assert_non_null(strstr(s, "] 500/1000 loss 0.5 lr 1.0e-03 |g| 1.5 12.8k/s 0:00<0:00\n"));
    assert_non_null(strstr(s, "] 104/1000 "));
    assert_null(strstr(s, "] 105/1000 "));
    free(s);

    s = through_pty(60, "xterm", "1", 0);
    assert_null(strchr(s, '\x1b'));
    assert_true(widest(s) <= 59);
    assert_true(widest(s) >= 50);
    assert_null(strstr(s, "|g|"));
    free(s);

    /* A message: the bar cleared, the line, the bar again. */
    s = through_pty(80, "xterm", "1", 600);
    const char *m = strstr(s, "\rwarning: a message\n\repoch 2/2 [");
    assert_non_null(m);
    assert_true(m > s && m[-1] == ' '); /* spaces over the old bar */
    assert_int_equal(count_char(s, '\n'), 3);
    free(s);

    /* TERM=dumb: plain lines even on a terminal. */
    s = through_pty(80, "dumb", NULL, 0);
    no_control_chars(s);
    assert_non_null(strstr(s, "epoch 1/2 step 100/1000 loss 0.5"));
    assert_int_equal(count_char(s, '\n'), 12); /* steps 100, 200, ..., 1000 and two epoch ends */
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lines),
        cmocka_unit_test(test_bar_layout),
        cmocka_unit_test(test_bar_on_pty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
