/* cli/util.c - helpers shared by the subcommands: messages, option values,
 * numbers for CSV. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <eta/plot.h>

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
    if (flag)
        fprintf(stderr, "eta %s: %s: %s\n", cmd, flag, buf);
    else
        fprintf(stderr, "eta %s: %s\n", cmd, buf);
    return EXIT_USAGE;
}

bool cli_check_plot(const char *cmd, const char *path)
{
    eta_err err;
    if (!path || eta_plot_check_path(path, &err) == ETA_OK)
        return true;
    cli_usage_error(cmd, "--plot: %s", err.msg);
    return false;
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

/* The fewest significant digits that read back as x, written as Python's
 * repr writes them: positional from 1e-4 to 1e16 (100, not 1e+02; 0.001),
 * scientific outside (4e-07), but integers without ".0". */
void cli_print_real(FILE *f, double x)
{
    char buf[400];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, x);
        if (strtod(buf, NULL) == x || !isfinite(x))
            break;
    }
    int exp10 = isfinite(x) && x != 0 ? atoi(strchr(buf, 'e') + 1) : 0;
    if (!isfinite(x))
        snprintf(buf, sizeof buf, "%g", x);
    else if (exp10 >= -4 && exp10 < 16)
        snprintf(buf, sizeof buf, "%.*f", p - 1 - exp10 > 0 ? p - 1 - exp10 : 0, x);
    else
        snprintf(buf, sizeof buf, "%.*g", p, x);
    fputs(buf, f);
}

enum { MAX_OPTS = 32 };

static const char *opt_name_at(const void *ctx, int i)
{
    return ((const char (*)[40])ctx)[i];
}

/* "unknown option '--x'; did you mean --y? valid options: ..." */
static int unknown_option(const char *cmd, const char *name, size_t len, const cli_opt *opts, int nopts)
{
    char msg[1024], given[256], names[MAX_OPTS + 1][40];
    int n = 0;
    for (; n < nopts && n < MAX_OPTS; n++)
        snprintf(names[n], sizeof names[n], "--%s", opts[n].name);
    snprintf(names[n++], sizeof names[0], "--help");
    snprintf(given, sizeof given, "--%.*s", (int)len, name);
    snprintf(msg, sizeof msg, "unknown option '%s'", given);
    eta_names_hint(msg, sizeof msg, given, opt_name_at, names, n, "options", NULL);
    return cli_usage_error(cmd, "%s", msg);
}

int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts, void (*help)(void),
                   const char **pos, int maxpos, int *npos)
{
    int np = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return EXIT_OK;
        }
        if (a[0] != '-' || a[1] != '-' || !a[2]) {
            if (np >= maxpos) {
                return cli_usage_error(cmd, "unexpected argument '%s' (see 'eta %s --help')", a, cmd);
            }
            pos[np++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len))
                o = &opts[k];
        if (!o)
            return unknown_option(cmd, name, len, opts, nopts);
        if (!o->has_arg) {
            if (eq)
                return cli_usage_error(cmd, "--%s takes no value", o->name);
            *o->set = true;
            continue;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            return cli_usage_error(cmd, "--%s needs a value", o->name);
        }
        if (o->set)
            *o->set = true;
    }
    if (npos)
        *npos = np;
    return CLI_CONTINUE;
}

bool cli_take_repeated(const char *cmd, const char *name, int *argc, char **argv, const char **values, int max,
                       int *n)
{
    size_t len = strlen(name);
    int out = 0;
    *n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        if (a[0] == '-' && a[1] == '-' && !strncmp(a + 2, name, len) && (a[2 + len] == '=' || !a[2 + len])) {
            if (*n >= max) {
                cli_usage_error(cmd, "--%s: at most %d of them", name, max);
                return false;
            }
            if (a[2 + len] == '=') {
                values[(*n)++] = a + 3 + len;
            } else if (i + 1 < *argc) {
                values[(*n)++] = argv[++i];
            } else {
                cli_usage_error(cmd, "--%s needs a value, such as --%s train.epochs=3", name, name);
                return false;
            }
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    return true;
}
