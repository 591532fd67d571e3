/* cli/util.c - helpers shared by the subcommands: messages, option values,
 * numbers for CSV. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "eta %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    return EXIT_USAGE;
}

int cli_spec_error(const char *cmd, const char *flag, const char *spec, const eta_err *err)
{
    char buf[2048];
    eta_err_format(err, spec, buf, sizeof buf);
    fprintf(stderr, "eta %s: %s: %s\n", cmd, flag, buf);
    return EXIT_USAGE;
}

bool cli_parse_double(const char *cmd, const char *flag, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno == ERANGE || !isfinite(v)) {
        cli_usage_error(cmd, "%s: expected a finite number, got '%s'", flag, s);
        return false;
    }
    *out = v;
    return true;
}

bool cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || errno == ERANGE || v < lo || v > hi) {
        cli_usage_error(cmd, "%s: expected an integer in [%lld, %lld], got '%s'", flag, lo, hi, s);
        return false;
    }
    *out = v;
    return true;
}

void cli_print_real(FILE *f, double x)
{
    char buf[40];
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, x);
        if (strtod(buf, NULL) == x || isnan(x))
            break;
    }
    fputs(buf, f);
}
