/* train/runplot_read.c - what the run plots are drawn from: metrics.csv
 * read into columns (with the file and line of anything malformed), and
 * the legend labels of several runs, found by comparing their config.ini
 * files (a plain reading of sections and key = value lines: these files are
 * written by eta, resolved, one value per key).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train/runplot.h"

/* The whole file, NUL-terminated; NULL with errno set on failure. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n - 1, f);
        if (ferror(f) || n < cap - 1)
            break;
        char *b = realloc(buf, cap *= 2);
        if (!b) {
            free(buf);
            buf = NULL;
            errno = ENOMEM;
        }
        buf = b;
    }
    bool bad = !buf || ferror(f);
    int e = errno;
    fclose(f);
    if (bad) {
        free(buf);
        errno = e ? e : EIO;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

void eta_run_table_free(eta_run_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->ncols; i++) {
        free(t->names ? t->names[i] : NULL);
        free(t->cols ? t->cols[i] : NULL);
    }
    free(t->names);
    free(t->cols);
    free(t->path);
    free(t);
}

static int col_index(const eta_run_table *t, const char *name)
{
    for (int i = 0; i < t->ncols; i++)
        if (!strcmp(t->names[i], name))
            return i;
    return -1;
}

const double *eta_run_table_col(const eta_run_table *t, const char *name)
{
    int i = col_index(t, name);
    return i < 0 ? NULL : t->cols[i];
}

/* Counts the fields of line [s, e): commas + 1. */
static int nfields(const char *s, const char *e)
{
    int n = 1;
    for (; s < e; s++)
        n += *s == ',';
    return n;
}

enum { HEADER_CAP = 1024 };

static int header(eta_run_table *t, const char *s, const char *e, eta_err *err)
{
    t->ncols = nfields(s, e);
    t->names = calloc((size_t)t->ncols, sizeof *t->names);
    t->cols = calloc((size_t)t->ncols, sizeof *t->cols);
    if (!t->names || !t->cols)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", t->path);
    for (int i = 0; i < t->ncols; i++) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        if (!c)
            c = e;
        if (!(t->names[i] = malloc((size_t)(c - s) + 1)))
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", t->path);
        memcpy(t->names[i], s, (size_t)(c - s));
        t->names[i][c - s] = 0;
        if (!(t->cols[i] = malloc(HEADER_CAP * sizeof *t->cols[i]))) /* never NULL, even with no rows */
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", t->path);
        s = c + 1;
    }
    if (col_index(t, "step") < 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:1: no step column (is it a metrics.csv?)", t->path);
    return ETA_OK;
}

/* Parses row [s, e) (line `line`) into row index r. */
static int row(eta_run_table *t, int64_t r, const char *s, const char *e, long line, eta_err *err)
{
    for (int i = 0; i < t->ncols; i++) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        if (!c)
            c = e;
        double v = NAN;
        if (c > s) {
            char tmp[64];
            size_t k = (size_t)(c - s);
            char *end = NULL;
            if (k < sizeof tmp) {
                memcpy(tmp, s, k);
                tmp[k] = 0;
                v = strtod(tmp, &end);
            }
            if (!end || *end || end == tmp)
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: field %d (%s): '%.*s' is not a number",
                                     t->path, line, i + 1, t->names[i], (int)(k > 40 ? 40 : k), s);
        }
        t->cols[i][r] = v;
        s = c + 1;
    }
    return ETA_OK;
}

static int parse(eta_run_table *t, const char *buf, size_t len, eta_err *err)
{
    const char *end = buf + len, *s = buf;
    if (len == 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: empty file", t->path);
    int64_t cap = HEADER_CAP;
    long line = 0;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        bool complete = nl != NULL;
        const char *e = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (e > s && e[-1] == '\r')
            e--;
        line++;
        if (line == 1) {
            int rc = header(t, s, e, err);
            if (rc)
                return rc;
            s = next;
            continue;
        }
        if (e == s && !complete)
            break;
        int nf = nfields(s, e);
        if (nf != t->ncols) {
            if (!complete && nf < t->ncols)
                break; /* a row being written */
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: %d fields, the header has %d", t->path, line, nf,
                                 t->ncols);
        }
        if (t->nrows == cap) {
            cap *= 2;
            for (int i = 0; i < t->ncols; i++) {
                double *c = realloc(t->cols[i], (size_t)cap * sizeof *c);
                if (!c)
                    return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", t->path);
                t->cols[i] = c;
            }
        }
        int rc = row(t, t->nrows, s, e, line, err);
        if (rc)
            return rc;
        t->nrows++;
        s = next;
    }
    return ETA_OK;
}

int eta_run_table_read(eta_run_table **out, const char *path, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    eta_run_table *t = calloc(1, sizeof *t);
    if (!t || !(t->path = malloc(strlen(path) + 1))) {
        free(t);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
    }
    strcpy(t->path, path);
    size_t len = 0;
    errno = 0;
    char *buf = slurp(path, &len);
    if (!buf) {
        int rc = eta_spec_fail(err, errno == ENOMEM ? ETA_ENOMEM : ETA_EIO, NULL, "%s: %s", path,
                               strerror(errno ? errno : EIO));
        eta_run_table_free(t);
        return rc;
    }
    int rc = parse(t, buf, len, err);
    free(buf);
    if (rc) {
        eta_run_table_free(t);
        return rc;
    }
    *out = t;
    return ETA_OK;
}

/* ---- labels --------------------------------------------------------------- */

/* A config.ini as "section.key" = value pairs, in file order. */
typedef struct ini {
    int n;
    char **key, **val;
} ini;

static void ini_free(ini *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->key[i]);
        free(c->val[i]);
    }
    free(c->key);
    free(c->val);
    *c = (ini){0};
}

static char *trimmed(const char *s, const char *e)
{
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        e--;
    char *r = malloc((size_t)(e - s) + 1);
    if (r) {
        memcpy(r, s, (size_t)(e - s));
        r[e - s] = 0;
    }
    return r;
}

/* Reads dir/config.ini; false when it is missing or memory ran out. */
static bool ini_read(ini *c, const char *dir)
{
    *c = (ini){0};
    char path[4096];
    snprintf(path, sizeof path, "%s/config.ini", dir);
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return false;
    char section[256] = "";
    bool ok = true;
    for (char *s = buf; ok && *s;) {
        char *nl = strchr(s, '\n'), *e = nl ? nl : s + strlen(s);
        char *line = trimmed(s, e);
        s = nl ? nl + 1 : e;
        if (!line) {
            ok = false;
            break;
        }
        char *eq = strchr(line, '=');
        if (line[0] == '[') {
            char *close = strchr(line, ']');
            snprintf(section, sizeof section, "%.*s", close ? (int)(close - line - 1) : 0, line + 1);
        } else if (line[0] && line[0] != ';' && line[0] != '#' && eq) {
            char **k = realloc(c->key, (size_t)(c->n + 1) * sizeof *k);
            if (k)
                c->key = k;
            char **v = k ? realloc(c->val, (size_t)(c->n + 1) * sizeof *v) : NULL;
            if (v)
                c->val = v;
            char *name = trimmed(line, eq), *full = name ? malloc(strlen(section) + strlen(name) + 2) : NULL;
            char *val = trimmed(eq + 1, eq + strlen(eq));
            if (!k || !v || !full || !val) {
                free(name);
                free(full);
                free(val);
                ok = false;
            } else {
                sprintf(full, "%s.%s", section, name);
                free(name);
                c->key[c->n] = full;
                c->val[c->n++] = val;
            }
        }
        free(line);
    }
    free(buf);
    if (!ok)
        ini_free(c);
    return ok;
}

static const char *ini_get(const ini *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->key[i], key))
            return c->val[i];
    return NULL;
}

static bool ignored(const char *key)
{
    return !strncmp(key, "output.", 7);
}

/* The one key whose value differs between the configs, or NULL (none, or
 * several, or a config without it). */
static const char *the_difference(const ini *c, int n)
{
    const char *diff = NULL;
    for (int r = 0; r < n; r++)
        for (int i = 0; i < c[r].n; i++) {
            const char *k = c[r].key[i];
            if (ignored(k) || (diff && !strcmp(diff, k)))
                continue;
            for (int q = 0; q < n; q++) {
                const char *v = ini_get(&c[q], k);
                if (!v || strcmp(v, c[r].val[i])) {
                    if (diff || !v)
                        return NULL;
                    diff = k;
                    break;
                }
            }
        }
    for (int q = 0; diff && q < n; q++)
        if (!ini_get(&c[q], diff))
            return NULL;
    return diff;
}

/* The part of each value that differs, widened to a whole argument:
 * "lr=0.003" out of "AdamW(lr=0.003, weight_decay=0.01)"; a plain value, or
 * a callee's name, gets the key's name: "epochs=3", "spec=AdamW". */
static bool snippets(const ini *c, int n, const char *key, char **labels)
{
    const char *v0 = ini_get(&c[0], key);
    size_t pre = strlen(v0), suf = strlen(v0);
    for (int q = 1; q < n; q++) {
        const char *v = ini_get(&c[q], key);
        size_t a = 0, lv = strlen(v), l0 = strlen(v0), b = 0;
        while (a < pre && v[a] && v[a] == v0[a])
            a++;
        pre = a;
        while (b < suf && b < lv && b < l0 && v[lv - 1 - b] == v0[l0 - 1 - b])
            b++;
        suf = b;
    }
    while (pre > 0 && !strchr("(,[ ", v0[pre - 1]))
        pre--;
    const char *name = strrchr(key, '.') ? strrchr(key, '.') + 1 : key;
    for (int q = 0; q < n; q++) {
        const char *v = ini_get(&c[q], key);
        size_t lv = strlen(v), s = pre, e = lv - (suf < lv - pre ? suf : lv - pre);
        while (e < lv && !strchr(",)](", v[e])) /* '(': the callee differs, "Adam" and "AdamW" */
            e++;
        while (s < e && v[s] == ' ')
            s++;
        bool arg = memchr(v + s, '=', e - s) != NULL;
        size_t k = e - s;
        labels[q] = malloc(k + strlen(name) + 2);
        if (!labels[q])
            return false;
        if (arg)
            snprintf(labels[q], k + 1, "%s", v + s);
        else
            sprintf(labels[q], "%s=%.*s", name, (int)k, v + s);
    }
    return true;
}

static char *base_name(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t s = n;
    while (s > 0 && dir[s - 1] != '/')
        s--;
    char *r = malloc(n - s + 1);
    if (r) {
        memcpy(r, dir + s, n - s);
        r[n - s] = 0;
    }
    return r;
}

int eta_runplot_labels(const char *const *dirs, int n, char **labels)
{
    for (int i = 0; i < n; i++)
        labels[i] = NULL;
    ini *c = n > 1 ? calloc((size_t)n, sizeof *c) : NULL;
    bool all = c != NULL;
    for (int i = 0; all && i < n; i++)
        all = ini_read(&c[i], dirs[i]);
    const char *diff = all ? the_difference(c, n) : NULL;
    bool done = diff && snippets(c, n, diff, labels);
    for (int i = 0; c && i < n; i++)
        ini_free(&c[i]);
    free(c);
    if (done)
        return ETA_OK;
    bool same = false;
    for (int i = 0; i < n; i++) {
        free(labels[i]);
        if (!(labels[i] = base_name(dirs[i])))
            return ETA_ENOMEM;
        for (int j = 0; j < i; j++)
            same = same || !strcmp(labels[i], labels[j]);
    }
    for (int i = 0; same && i < n; i++) {
        free(labels[i]);
        if (!(labels[i] = malloc(strlen(dirs[i]) + 1)))
            return ETA_ENOMEM;
        strcpy(labels[i], dirs[i]);
    }
    return ETA_OK;
}
