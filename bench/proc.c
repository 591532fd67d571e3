/* bench/proc.c - child processes and memory figures for the benchmarks
 * (bench/proc.h says what each function does). */
#define _GNU_SOURCE /* environ */
#include "proc.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

double bench_status_mb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return NAN;
    char line[256];
    size_t n = strlen(field);
    double mb = NAN;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, n) && line[n] == ':') {
            mb = strtod(line + n + 1, NULL) / 1024.0; /* kB */
            break;
        }
    fclose(f);
    return mb;
}

void bench_self(char *path, size_t cap, const char *argv0)
{
    ssize_t len = readlink("/proc/self/exe", path, cap - 1);
    if (len <= 0)
        snprintf(path, cap, "%s", argv0);
    else
        path[len] = '\0';
}

/* environ with OMP_NUM_THREADS and OPENBLAS_NUM_THREADS set to `threads`;
 * the strings live in `store`. NULL when out of memory. */
static char **child_env(int threads, char store[2][48])
{
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = malloc((n + 3) * sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "OMP_NUM_THREADS=", 16) && strncmp(environ[i], "OPENBLAS_NUM_THREADS=", 21))
            env[k++] = environ[i];
    snprintf(store[0], 48, "OMP_NUM_THREADS=%d", threads);
    snprintf(store[1], 48, "OPENBLAS_NUM_THREADS=%d", threads);
    env[k++] = store[0];
    env[k++] = store[1];
    env[k] = NULL;
    return env;
}

int bench_run_child(const char *who, char *const argv[], int threads, const char *prefix, char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd)) {
        fprintf(stderr, "%s: pipe: %s\n", who, strerror(errno));
        return 1;
    }
    char store[2][48];
    char **env = child_env(threads, store);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fd[0]);
    posix_spawn_file_actions_addclose(&fa, fd[1]);
    pid_t pid;
    int rc = env ? posix_spawn(&pid, argv[0], &fa, NULL, argv, env) : ENOMEM;
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fd[1]);
    if (rc) {
        fprintf(stderr, "%s: cannot start %s: %s\n", who, argv[0], strerror(rc));
        close(fd[0]);
        return 1;
    }
    FILE *f = fdopen(fd[0], "r");
    size_t used = 0, np = strlen(prefix);
    out[0] = '\0';
    char buf[1024];
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, prefix, np) && used < cap - 1) {
            snprintf(out + used, cap - used, "%s", buf);
            used += strlen(out + used);
        }
    if (f)
        fclose(f);
    else
        close(fd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out[0]) {
        fprintf(stderr, "%s: the child at %d thread(s) failed:", who, threads);
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
        return 1;
    }
    return 0;
}

int bench_parse_list(const char *s, long *out, int cap)
{
    int n = 0;
    while (*s && n < cap) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v <= 0)
            return -1;
        out[n++] = v;
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int bench_common_arg(int argc, char **argv, int *i, bool *csv, int *runs, int max_runs, long threads[8],
                     int *nthreads)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--csv")) {
        *csv = true;
        return 1;
    }
    if (*i + 1 >= argc || (strcmp(a, "--runs") && strcmp(a, "--threads")))
        return 0;
    const char *v = argv[++*i];
    if (!strcmp(a, "--runs")) {
        *runs = atoi(v);
        return *runs >= 1 && *runs <= max_runs ? 1 : -1;
    }
    *nthreads = bench_parse_list(v, threads, 8);
    return *nthreads > 0 ? 1 : -1;
}
