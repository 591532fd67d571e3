/* bench/proc.h - what the benchmarks that run each row in a child process
 * share (bench/proc.c): the process's own memory figures, the path of this
 * program, a child started with its thread counts in the environment, and
 * comma lists on the command line. */
#ifndef ETA_BENCH_PROC_H
#define ETA_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* A field of /proc/self/status in MB ("VmHWM", "VmRSS"), or NAN. */
double bench_status_mb(const char *field);

/* The path of this program (/proc/self/exe survives a relative argv[0]). */
void bench_self(char *path, size_t cap, const char *argv0);

/* Runs argv[0] with argv and OMP_NUM_THREADS = OPENBLAS_NUM_THREADS =
 * threads in its environment, and copies the lines of its standard output
 * that start with `prefix` into out (cap bytes, NUL-terminated). Returns 0
 * when the child exited with 0 and printed at least one such line; else
 * says what failed on stderr, naming it `who`, and returns 1. */
int bench_run_child(const char *who, char *const argv[], int threads, const char *prefix, char *out, size_t cap);

/* The options every benchmark with child processes takes: --csv,
 * --runs N (1 to max_runs) and --threads LIST (at most 8). Returns 1 when
 * argv[*i] is one of them (*i then at its last word), 0 when it is not, -1
 * when its value is bad. */
int bench_common_arg(int argc, char **argv, int *i, bool *csv, int *runs, int max_runs, long threads[8],
                     int *nthreads);

/* "1,2,4" into out (positive numbers, at most cap); the count, or -1. */
int bench_parse_list(const char *s, long *out, int cap);

#endif
