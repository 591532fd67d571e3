/* tests/pty_harness.h - a pseudo-terminal for the tests of what eta draws
 * on a terminal (test_train_progress.c, test_cli_train.c): the parent
 * keeps the master, a child writes to the slave (as its stderr), and the
 * parent reads everything the child wrote once it closes the slave.
 * Output processing is off on the slave, so "\n" arrives as "\n", not
 * "\r\n". The file including this defines _XOPEN_SOURCE 700 before any
 * header (posix_openpt, grantpt, unlockpt, ptsname).
 */
#ifndef ETA_TEST_PTY_HARNESS_H
#define ETA_TEST_PTY_HARNESS_H

#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>

/* Opens a pseudo-terminal of `cols` columns and 24 rows: returns the
 * master, the slave in *slave. */
static inline int pty_open(int cols, int *slave)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(master >= 0);
    assert_int_equal(grantpt(master), 0);
    assert_int_equal(unlockpt(master), 0);
    *slave = open(ptsname(master), O_RDWR | O_NOCTTY);
    assert_true(*slave >= 0);
    struct termios t;
    assert_int_equal(tcgetattr(*slave, &t), 0);
    t.c_oflag &= ~(tcflag_t)OPOST; /* "\n" stays "\n" */
    assert_int_equal(tcsetattr(*slave, TCSANOW, &t), 0);
    struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
    assert_int_equal(ioctl(master, TIOCSWINSZ, &ws), 0);
    return master;
}

/* Reads the master until every writer closed the slave (the parent closes
 * its own copy first), closes it; returns the text (malloc'd). */
static inline char *pty_read_all(int master)
{
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n + 4096 > cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = read(master, buf + n, 4096);
        if (k > 0)
            n += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else
            break; /* EIO: the child closed the slave */
    }
    buf[n] = 0;
    close(master);
    return buf;
}

#endif
