/* tune/study.c - a sweep's study in SQLite (Debian's libsqlite3), in the
 * tables Optuna's RDB storage keeps: the study (name, direction) and its
 * settings, trials (state, result, steps, seconds, the process running it),
 * their params, intermediate values and the rungs the pruners recorded
 * (Optuna's "completed_rung_k" system attributes).
 *
 * Several processes share one file: each change is one transaction begun
 * IMMEDIATE (the write lock taken first, so two workers never both claim
 * trial n), in WAL mode, with a busy timeout. NaN is stored as NULL (SQLite
 * keeps no NaN). A RUNNING trial whose process is gone (no process with
 * its pid, or one that started at another time: /proc/PID/stat's starttime)
 * is claimed again: an interrupted sweep resumes there.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune/sweep.h"

struct sweep_study {
    sqlite3 *db;
    char path[1100];
};

static const char *const SCHEMA =
    "CREATE TABLE IF NOT EXISTS studies(study_id INTEGER PRIMARY KEY, study_name TEXT NOT NULL, "
    "  direction TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS study_settings(name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS trials(number INTEGER PRIMARY KEY, state TEXT NOT NULL, pid INTEGER, "
    "  pid_start INTEGER, datetime_start TEXT, datetime_complete TEXT, steps INTEGER, seconds REAL, note TEXT);"
    "CREATE TABLE IF NOT EXISTS trial_params(number INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
    "  num REAL, PRIMARY KEY(number, name));"
    "CREATE TABLE IF NOT EXISTS trial_values(number INTEGER PRIMARY KEY, value REAL);"
    "CREATE TABLE IF NOT EXISTS trial_intermediate_values(number INTEGER NOT NULL, step INTEGER NOT NULL, "
    "  value REAL, PRIMARY KEY(number, step));"
    "CREATE TABLE IF NOT EXISTS trial_rungs(number INTEGER NOT NULL, rung INTEGER NOT NULL, value REAL, "
    "  PRIMARY KEY(number, rung));";

static int db_fail(sweep_study *st, eta_err *err, const char *what)
{
    eta_err_clear(err);
    if (err) {
        err->code = ETA_EIO;
        snprintf(err->msg, sizeof err->msg, "%.100s: %.60s: %.80s", st->path, what, sqlite3_errmsg(st->db));
    }
    return ETA_EIO;
}

static int exec(sweep_study *st, const char *sql, eta_err *err)
{
    return sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK ? ETA_OK : db_fail(st, err, sql);
}

static int begin(sweep_study *st, eta_err *err)
{
    return exec(st, "BEGIN IMMEDIATE", err);
}

static int end(sweep_study *st, int rc, eta_err *err)
{
    if (rc) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return exec(st, "COMMIT", err);
}

static sqlite3_stmt *prep(sweep_study *st, const char *sql)
{
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
        return NULL;
    return s;
}

static void bind_real(sqlite3_stmt *s, int i, double x)
{
    if (isnan(x))
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_double(s, i, x);
}

static double col_real(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
}

/* Runs a prepared statement to its end and finalizes it. */
static int run(sweep_study *st, sqlite3_stmt *s, eta_err *err, const char *what)
{
    if (!s)
        return db_fail(st, err, what);
    int r = sqlite3_step(s);
    sqlite3_finalize(s);
    return r == SQLITE_DONE || r == SQLITE_ROW ? ETA_OK : db_fail(st, err, what);
}

int sweep_study_open(sweep_study **out, const char *path, eta_err *err)
{
    *out = NULL;
    sweep_study *st = calloc(1, sizeof *st);
    if (!st)
        return ETA_ENOMEM;
    snprintf(st->path, sizeof st->path, "%s", path);
    int rc = ETA_OK;
    if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        rc = db_fail(st, err, "cannot open the study");
    else {
        sqlite3_busy_timeout(st->db, 600000);
        if (sqlite3_exec(st->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)
            rc = db_fail(st, err, "cannot use WAL mode");
        else if (!(rc = begin(st, err)))
            rc = end(st, exec(st, SCHEMA, err), err);
    }
    if (rc) {
        sweep_study_close(st);
        return rc;
    }
    *out = st;
    return ETA_OK;
}

void sweep_study_close(sweep_study *st)
{
    if (!st)
        return;
    sqlite3_close(st->db);
    free(st);
}

int sweep_study_init(sweep_study *st, const char *const *names, const char *const *values, int n, eta_err *err)
{
    int rc = begin(st, err), had = 0;
    if (rc)
        return rc;
    sqlite3_stmt *s = prep(st, "SELECT COUNT(*) FROM study_settings");
    if (s && sqlite3_step(s) == SQLITE_ROW)
        had = sqlite3_column_int(s, 0) > 0;
    sqlite3_finalize(s);
    for (int i = 0; i < n && !had && !rc; i++) {
        s = prep(st, "INSERT INTO study_settings(name, value) VALUES(?, ?)");
        if (s) {
            sqlite3_bind_text(s, 1, names[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, values[i], -1, SQLITE_TRANSIENT);
        }
        rc = run(st, s, err, "writing the settings");
        if (!rc && !strcmp(names[i], "name")) {
            const char *dir = NULL;
            for (int j = 0; j < n; j++)
                if (!strcmp(names[j], "direction"))
                    dir = values[j];
            s = prep(st, "INSERT INTO studies(study_id, study_name, direction) VALUES(1, ?, ?)");
            if (s) {
                sqlite3_bind_text(s, 1, values[i], -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(s, 2, dir ? dir : "minimize", -1, SQLITE_TRANSIENT);
            }
            rc = run(st, s, err, "writing the study");
        }
    }
    rc = end(st, rc, err);
    return rc ? rc : had;
}

char *sweep_study_setting(sweep_study *st, const char *name)
{
    char *v = NULL;
    sqlite3_stmt *s = prep(st, "SELECT value FROM study_settings WHERE name = ?");
    if (!s)
        return NULL;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(s) == SQLITE_ROW)
        v = strdup((const char *)sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    return v;
}

/* When process pid started (clock ticks after boot: /proc/PID/stat's 22nd
 * field), or -1 when it cannot be read; *zombie: it has ended and waits for
 * its parent (a worker whose sweep was killed, until init reaps it). */
static int64_t process_start(int64_t pid, bool *zombie)
{
    char path[64], buf[1024];
    *zombie = false;
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
    long long start = -1;
    if (p && p[1] == ' ')
        *zombie = p[2] == 'Z' || p[2] == 'X';
    for (int field = 2; p && *p && field < 22; field++)
        p = strchr(p + 1, ' ');
    if (p && sscanf(p, " %lld", &start) != 1)
        start = -1;
    return start;
}

/* Whether the process that claimed a trial still runs (not another that got its pid, nor its zombie). */
static bool process_alive(int64_t pid, int64_t start)
{
    if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno != EPERM))
        return false;
    bool zombie;
    int64_t now = process_start(pid, &zombie);
    return !zombie && (now < 0 || start < 0 || now == start);
}

static int write_params(sweep_study *st, int64_t number, int nparams, const char *const *names,
                        char texts[][SWEEP_VALUE_LEN], const double *nums, eta_err *err)
{
    int rc = ETA_OK;
    for (int i = 0; i < nparams && !rc; i++) {
        sqlite3_stmt *s = prep(st, "INSERT INTO trial_params(number, name, value, num) VALUES(?, ?, ?, ?)");
        if (s) {
            sqlite3_bind_int64(s, 1, number);
            sqlite3_bind_text(s, 2, names[i], -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, texts[i], -1, SQLITE_TRANSIENT);
            bind_real(s, 4, nums[i]);
        }
        rc = run(st, s, err, "writing a trial's params");
    }
    return rc;
}

int sweep_study_claim(sweep_study *st, int64_t n_trials, int nparams, const char *const *names, sweep_sample_fn sample,
                      void *ctx, int64_t *number, bool *rerun, eta_err *err)
{
    int rc = begin(st, err), found = 0;
    if (rc)
        return rc;
    int64_t me = (int64_t)getpid(), count = 0;
    /* first a trial whose process is gone (an interrupted sweep), then a new one */
    bool zombie;
    int64_t me_start = process_start(me, &zombie);
    sqlite3_stmt *s = prep(st, "SELECT number, pid, pid_start FROM trials WHERE state = 'running' ORDER BY number");
    while (s && !found && sqlite3_step(s) == SQLITE_ROW)
        if (!process_alive(sqlite3_column_int64(s, 1), sqlite3_column_type(s, 2) == SQLITE_NULL
                                                            ? -1
                                                            : sqlite3_column_int64(s, 2))) {
            *number = sqlite3_column_int64(s, 0);
            found = 1;
        }
    sqlite3_finalize(s);
    if (found) {
        *rerun = true;
        s = prep(st, "UPDATE trials SET pid = ?, pid_start = ? WHERE number = ?");
        if (s) {
            sqlite3_bind_int64(s, 1, me);
            sqlite3_bind_int64(s, 2, me_start);
            sqlite3_bind_int64(s, 3, *number);
        }
        return end(st, run(st, s, err, "claiming a trial"), err);
    }
    s = prep(st, "SELECT COUNT(*) FROM trials");
    if (s && sqlite3_step(s) == SQLITE_ROW)
        count = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    if (count >= n_trials)
        return end(st, ETA_OK, err) ? ETA_EIO : 1;
    *number = count;
    *rerun = false;
    char texts[SWEEP_MAX_DIMS][SWEEP_VALUE_LEN];
    double nums[SWEEP_MAX_DIMS];
    if ((rc = sample(ctx, count, texts, nums, err)))
        return end(st, rc, err);
    s = prep(st, "INSERT INTO trials(number, state, pid, pid_start, datetime_start) "
                 "VALUES(?, 'running', ?, ?, datetime('now'))");
    if (s) {
        sqlite3_bind_int64(s, 1, count);
        sqlite3_bind_int64(s, 2, me);
        sqlite3_bind_int64(s, 3, me_start);
    }
    if (!(rc = run(st, s, err, "adding a trial")))
        rc = write_params(st, count, nparams, names, texts, nums, err);
    return end(st, rc, err);
}

int sweep_study_params(sweep_study *st, int64_t number, int nparams, const char *const *names,
                       char texts[][SWEEP_VALUE_LEN], double *nums, eta_err *err)
{
    for (int i = 0; i < nparams; i++) {
        sqlite3_stmt *s = prep(st, "SELECT value, num FROM trial_params WHERE number = ? AND name = ?");
        if (!s)
            return db_fail(st, err, "reading a trial's params");
        sqlite3_bind_int64(s, 1, number);
        sqlite3_bind_text(s, 2, names[i], -1, SQLITE_TRANSIENT);
        int r = sqlite3_step(s);
        if (r == SQLITE_ROW) {
            snprintf(texts[i], SWEEP_VALUE_LEN, "%s", (const char *)sqlite3_column_text(s, 0));
            nums[i] = col_real(s, 1);
        }
        sqlite3_finalize(s);
        if (r != SQLITE_ROW) {
            eta_err_clear(err);
            if (err) {
                err->code = ETA_EFORMAT;
                snprintf(err->msg, sizeof err->msg, "%.100s: trial %lld has no param %.100s", st->path, (long long)number,
                         names[i]);
            }
            return ETA_EFORMAT;
        }
    }
    return ETA_OK;
}

void sweep_study_view_free(sweep_study_view *v)
{
    for (int i = 0; i < v->ntrials; i++) {
        free(v->trials[i].steps);
        free(v->trials[i].vals);
    }
    free(v->trials);
    free((char *)v->name);
    memset(v, 0, sizeof *v);
}

static sweep_state state_parse(const char *s)
{
    for (int i = 0; i < SWEEP_STATE_COUNT; i++)
        if (s && !strcmp(s, sweep_state_name((sweep_state)i)))
            return (sweep_state)i;
    return SWEEP_FAIL;
}

int sweep_study_load(sweep_study *st, sweep_study_view *v, sweep_trial_row **rows, eta_err *err)
{
    memset(v, 0, sizeof *v);
    if (rows)
        *rows = NULL;
    sqlite3_stmt *s = prep(st, "SELECT study_name, direction FROM studies WHERE study_id = 1");
    if (s && sqlite3_step(s) == SQLITE_ROW) {
        v->name = strdup((const char *)sqlite3_column_text(s, 0));
        v->maximize = !strcmp((const char *)sqlite3_column_text(s, 1), "maximize");
    }
    sqlite3_finalize(s);
    s = prep(st, "SELECT COUNT(*) FROM trials");
    int64_t n = s && sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    v->trials = calloc((size_t)n + 1, sizeof *v->trials);
    sweep_trial_row *r = rows ? calloc((size_t)n + 1, sizeof *r) : NULL;
    if (!v->trials || (rows && !r)) {
        free(r);
        sweep_study_view_free(v);
        return ETA_ENOMEM;
    }
    s = prep(st, "SELECT t.number, t.state, v.value, t.steps, t.seconds, t.note FROM trials t "
                 "LEFT JOIN trial_values v ON v.number = t.number ORDER BY t.number");
    while (s && sqlite3_step(s) == SQLITE_ROW && v->ntrials < n) {
        int i = v->ntrials++;
        sweep_trial_view *t = &v->trials[i];
        t->number = sqlite3_column_int64(s, 0);
        t->state = state_parse((const char *)sqlite3_column_text(s, 1));
        for (int k = 0; k < SWEEP_MAX_RUNGS; k++)
            t->rungs[k] = NAN;
        if (r) {
            r[i].value = col_real(s, 2);
            r[i].steps = sqlite3_column_int64(s, 3);
            r[i].seconds = col_real(s, 4);
            const unsigned char *note = sqlite3_column_text(s, 5);
            snprintf(r[i].note, sizeof r[i].note, "%s", note ? (const char *)note : "");
        }
    }
    sqlite3_finalize(s);
    int rc = ETA_OK;
    /* numbers are 0..n-1 (claims hand them out in order): index = number */
    s = prep(st, "SELECT number, step, value FROM trial_intermediate_values ORDER BY number, step");
    while (!rc && s && sqlite3_step(s) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(s, 0);
        if (i < 0 || i >= v->ntrials)
            continue;
        sweep_trial_view *t = &v->trials[i];
        int64_t *steps = realloc(t->steps, (size_t)(t->nvals + 1) * sizeof *steps);
        double *vals = steps ? realloc(t->vals, (size_t)(t->nvals + 1) * sizeof *vals) : NULL;
        if (steps)
            t->steps = steps;
        if (!vals) {
            rc = ETA_ENOMEM;
            break;
        }
        t->vals = vals;
        t->steps[t->nvals] = sqlite3_column_int64(s, 1);
        t->vals[t->nvals++] = col_real(s, 2);
    }
    sqlite3_finalize(s);
    s = prep(st, "SELECT number, rung, value FROM trial_rungs");
    while (!rc && s && sqlite3_step(s) == SQLITE_ROW) {
        int64_t i = sqlite3_column_int64(s, 0), k = sqlite3_column_int64(s, 1);
        if (i >= 0 && i < v->ntrials && k >= 0 && k < SWEEP_MAX_RUNGS)
            v->trials[i].rungs[k] = col_real(s, 2);
    }
    sqlite3_finalize(s);
    if (rc) {
        free(r);
        sweep_study_view_free(v);
        return rc;
    }
    if (rows)
        *rows = r;
    (void)err;
    return ETA_OK;
}

/* Hides the trials after `keep` (a one-process sweep had not begun them). */
static void view_truncate(sweep_study_view *v, int keep)
{
    for (int i = keep; i < v->ntrials; i++) {
        free(v->trials[i].steps);
        free(v->trials[i].vals);
    }
    if (keep < v->ntrials)
        v->ntrials = keep;
}

/* sweep_study_report, and with `ordered` sweep_study_report_ordered. */
static int report(sweep_study *st, int64_t number, int64_t step, double value, const sweep_pruner *p, bool ordered,
                  sweep_decision *out, eta_err *err)
{
    *out = SWEEP_GO;
    static const sweep_pruner NONE = {.kind = SWEEP_PRUNER_NONE};
    if (!isfinite(value)) /* diverged: pruned at once, whatever the pruner */
        p = &NONE;
    int rc = begin(st, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = prep(st, "INSERT OR REPLACE INTO trial_intermediate_values(number, step, value) VALUES(?, ?, ?)");
    if (s) {
        sqlite3_bind_int64(s, 1, number);
        sqlite3_bind_int64(s, 2, step);
        bind_real(s, 3, value);
    }
    if ((rc = run(st, s, err, "writing an intermediate value")))
        return end(st, rc, err);
    sweep_study_view v;
    if ((rc = sweep_study_load(st, &v, NULL, err)))
        return end(st, rc, err);
    if (number < 0 || number >= v.ntrials) {
        sweep_study_view_free(&v);
        eta_err_clear(err);
        if (err) {
            err->code = ETA_EINVAL;
            snprintf(err->msg, sizeof err->msg, "%.100s: a report for trial %lld, which the study does not hold",
                     st->path, (long long)number);
        }
        return end(st, ETA_EINVAL, err);
    }
    double before[SWEEP_MAX_RUNGS];
    memcpy(before, v.trials[number].rungs, sizeof before);
    if (ordered) {
        view_truncate(&v, (int)number + 1);
        if (!sweep_pruner_decide_ordered(p, &v, (int)number, out)) { /* not yet: as if never reported */
            sweep_study_view_free(&v);
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return 1;
        }
    } else {
        *out = sweep_pruner_decide(p, &v, (int)number);
    }
    if (!isfinite(value))
        *out = SWEEP_PRUNE;
    for (int k = 0; k < SWEEP_MAX_RUNGS && !rc; k++) {
        double x = v.trials[number].rungs[k];
        if (isnan(x) || x == before[k])
            continue;
        s = prep(st, "INSERT OR REPLACE INTO trial_rungs(number, rung, value) VALUES(?, ?, ?)");
        if (s) {
            sqlite3_bind_int64(s, 1, number);
            sqlite3_bind_int64(s, 2, k);
            bind_real(s, 3, x);
        }
        rc = run(st, s, err, "writing a rung");
    }
    sweep_study_view_free(&v);
    return end(st, rc, err);
}

int sweep_study_report(sweep_study *st, int64_t number, int64_t step, double value, const sweep_pruner *p,
                       sweep_decision *out, eta_err *err)
{
    return report(st, number, step, value, p, false, out, err);
}

int sweep_study_report_ordered(sweep_study *st, int64_t number, int64_t step, double value, const sweep_pruner *p,
                               sweep_decision *out, eta_err *err)
{
    return report(st, number, step, value, p, true, out, err);
}

double sweep_study_last_value(sweep_study *st, int64_t number)
{
    double x = NAN;
    sqlite3_stmt *s = prep(st, "SELECT value FROM trial_intermediate_values WHERE number = ? ORDER BY step DESC "
                               "LIMIT 1");
    if (!s)
        return NAN;
    sqlite3_bind_int64(s, 1, number);
    if (sqlite3_step(s) == SQLITE_ROW)
        x = col_real(s, 0);
    sqlite3_finalize(s);
    return x;
}

int sweep_study_finish(sweep_study *st, int64_t number, sweep_state state, double value, int64_t steps,
                       double seconds, const char *note, eta_err *err)
{
    int rc = begin(st, err);
    if (rc)
        return rc;
    sqlite3_stmt *s = prep(st, "UPDATE trials SET state = ?, steps = ?, seconds = ?, note = ?, "
                               "datetime_complete = datetime('now') WHERE number = ?");
    if (s) {
        sqlite3_bind_text(s, 1, sweep_state_name(state), -1, SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, steps);
        bind_real(s, 3, seconds);
        if (note)
            sqlite3_bind_text(s, 4, note, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null(s, 4);
        sqlite3_bind_int64(s, 5, number);
    }
    if (!(rc = run(st, s, err, "ending a trial"))) {
        s = prep(st, "INSERT OR REPLACE INTO trial_values(number, value) VALUES(?, ?)");
        if (s) {
            sqlite3_bind_int64(s, 1, number);
            bind_real(s, 2, value);
        }
        rc = run(st, s, err, "writing a trial's value");
    }
    return end(st, rc, err);
}
