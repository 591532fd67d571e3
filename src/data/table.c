/* data/table.c - numeric tables from CSV or whitespace-separated text, plain
 * or gzip (zlib's gzread reads both), and column standardisation.
 * A NUL byte in a line read is an error: gzgets would cut the line short
 * there without a word (it cannot tell a NUL from the end of the line). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "eta/data.h"

/* Appends one line's worth of fields; grows the buffer as needed. */
typedef struct grow_buf {
    double *v;
    size_t n, cap;
} grow_buf;

static int push(grow_buf *b, double x)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        double *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return ETA_ENOMEM;
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = x;
    return ETA_OK;
}

/* gzgets that returns the length read, so a NUL byte inside the line shows:
 * the next line of f, its '\n' included, into line (at most cap - 1 bytes,
 * then a NUL). Returns 0 at the end of the file or on an error (gzerror
 * tells). */
static size_t get_line(gzFile f, char *line, size_t cap)
{
    size_t n = 0;
    int c;
    while (n < cap - 1 && (c = gzgetc(f)) != -1) {
        line[n++] = (char)c;
        if (c == '\n')
            break;
    }
    line[n] = '\0';
    return n;
}

/* Parses one line into b; returns the field count or a negative error. */
static int parse_line(char *line, grow_buf *b, const char *path, long lineno, eta_err *err)
{
    int fields = 0;
    char *s = line;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (!*s || *s == '\n')
            break;
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || !isfinite(x)) {
            char tok[32];
            size_t k = strcspn(s, ", \t\r\n");
            snprintf(tok, sizeof tok, "%.*s", (int)(k < 24 ? k : 24), s);
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: field %d: expected a finite number, got '%s'", path,
                                 lineno, fields + 1, tok);
        }
        if (push(b, x))
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", path);
        fields++;
        s = end;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (*s == ',')
            s++;
    }
    return fields;
}

int eta_table_read(eta_table *out, const char *path, const eta_table_options *opts, eta_err *err)
{
    eta_err_clear(err);
    memset(out, 0, sizeof *out);
    eta_table_options o = {0, 0};
    if (opts)
        o = *opts;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    grow_buf b = {0};
    char line[65536];
    long lineno = 0;
    int64_t rows = 0, cols = -1;
    int rc = ETA_OK;
    size_t len;
    while ((len = get_line(f, line, sizeof line)) > 0) {
        lineno++;
        const char *nul = memchr(line, '\0', len);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: line longer than %zu bytes", path, lineno,
                               sizeof line - 2);
            break;
        }
        if (nul) {
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: NUL byte at column %zu (not a text file?)", path,
                               lineno, (size_t)(nul - line) + 1);
            break;
        }
        if (lineno <= o.skip_lines || line[0] == '#' || strspn(line, " \t\r\n") == len)
            continue;
        int n = parse_line(line, &b, path, lineno, err);
        if (n < 0) {
            rc = n;
            break;
        }
        if (cols >= 0 && n != cols) {
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%ld: expected %lld fields like the lines above, got %d",
                               path, lineno, (long long)cols, n);
            break;
        }
        cols = n;
        if (++rows == o.max_rows && o.max_rows > 0)
            break;
    }
    int zerr;
    const char *zmsg = gzerror(f, &zerr);
    if (!rc && zerr != Z_OK && zerr != Z_STREAM_END)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: %s", path, zmsg);
    gzclose(f);
    if (!rc && rows == 0)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: no data rows", path);
    if (rc) {
        free(b.v);
        return rc;
    }
    out->data = b.v;
    out->rows = rows;
    out->cols = cols;
    return ETA_OK;
}

void eta_table_free(eta_table *t)
{
    if (!t)
        return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

void eta_table_standardize(eta_table *t, double *mean, double *std)
{
    for (int64_t c = 0; c < t->cols; c++) {
        /* Two passes (mean, then squared deviations) as numpy does; columns
         * of huge magnitude are first divided by their largest value so the
         * sums cannot overflow. */
        double big = 0;
        for (int64_t r = 0; r < t->rows; r++)
            big = fmax(big, fabs(t->data[r * t->cols + c]));
        double k = big > 1e150 ? big : 1.0;
        double m = 0, v = 0;
        for (int64_t r = 0; r < t->rows; r++)
            m += t->data[r * t->cols + c] / k;
        m /= (double)t->rows;
        for (int64_t r = 0; r < t->rows; r++) {
            double d = t->data[r * t->cols + c] / k - m;
            v += d * d;
        }
        double s = sqrt(v / (double)t->rows);
        for (int64_t r = 0; r < t->rows; r++)
            t->data[r * t->cols + c] = s > 0 ? (t->data[r * t->cols + c] / k - m) / s : 0;
        if (mean)
            mean[c] = m * k;
        if (std)
            std[c] = s * k;
    }
}
