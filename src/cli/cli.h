/* cli/cli.h - shared by the `eta` subcommands: exit codes, the subcommand
 * signature, and small helpers for options and messages. */
#ifndef ETA_CLI_H
#define ETA_CLI_H

#include <eta/eta.h>
#include <stdbool.h>
#include <stdio.h>

enum { EXIT_OK = 0, EXIT_RUN = 1, EXIT_USAGE = 2 };

typedef int (*cli_cmd_fn)(int argc, char **argv);

int cmd_optimize(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_demo_lr(int argc, char **argv);
int cmd_schedule(int argc, char **argv);
int cmd_model(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_lrfind(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_data(int argc, char **argv);
int cmd_rl(int argc, char **argv);

/* Takes every "--NAME VALUE" / "--NAME=VALUE" out of argv (in place; *argc
 * shrinks) into values[0..*n), for options given several times (--set).
 * Returns false (after a usage message) when one lacks its value or there
 * are more than max. */
bool cli_take_repeated(const char *cmd, const char *name, int *argc, char **argv, const char **values, int max,
                       int *n);

/* Prints "eta CMD: message" to stderr; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints a spec error with the spec and a caret under the culprit, prefixed
 * by "eta CMD: --flag: ", or by "eta CMD: " alone when flag is NULL (the
 * command's own argument: "eta schedule: unknown schedule ..."); returns
 * EXIT_USAGE. */
int cli_spec_error(const char *cmd, const char *flag, const char *spec, const eta_err *err);

/* Checks a --plot file before the command runs (eta_plot_check_path: a .png
 * or .svg name, a file that can be written); on failure prints
 * "eta CMD: --plot: PATH: reason" and returns false. NULL (no --plot): true. */
bool cli_check_plot(const char *cmd, const char *path);

/* Parses a finite double / a positive int64 option value, with a message on
 * failure naming the flag. */
bool cli_parse_double(const char *cmd, const char *flag, const char *s, double *out);
bool cli_parse_int(const char *cmd, const char *flag, const char *s, long long lo, long long hi, long long *out);

/* Command-line options: "--name value", "--name=value", or a bare "--name"
 * for switches (has_arg false). "--help" prints help() and ends the command.
 * Unknown options and missing values are usage errors naming the valid
 * options. Positional arguments are stored in order into pos[0..*npos) (at
 * most maxpos). Returns CLI_CONTINUE, or the exit code to return now. */
#define CLI_CONTINUE (-1)
typedef struct cli_opt {
    const char *name;   /* without the dashes */
    bool has_arg;
    const char **value; /* has_arg: where the value goes */
    bool *set;          /* switches: set to true; may be NULL for has_arg */
} cli_opt;

int cli_parse_opts(const char *cmd, int argc, char **argv, const cli_opt *opts, int nopts, void (*help)(void),
                   const char **pos, int maxpos, int *npos);

/* Prints a number for CSV output: the shortest text that reads back exactly. */
void cli_print_real(FILE *f, double x);

#endif
