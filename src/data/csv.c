/* data/csv.c - CSV text into rows of fields: the reader under the CSV data
 * set (tabular.c), which turns fields into numbers and labels.
 *
 * Fields are separated by one character (',', ';' or tab; a field may be
 * double-quoted, "" inside quotes is a quote, and blanks around a field are
 * dropped) or, for files like scikit-learn's diabetes data, by runs of
 * blanks. A quoted field cannot span lines. Blank lines and lines starting
 * with '#' are skipped; "\r\n" ends a line too.
 *
 * The first line is a header or data. With header 'auto' it is:
 * - scikit-learn's header, when it starts with two whole numbers N and F
 *   and the next line has F + 1 fields (iris.csv: "150,4,setosa,
 *   versicolor,virginica": 150 rows of 4 features and a label; the rest
 *   names the classes), or it is just "N,F" and a line of names follows
 *   (boston_house_prices.csv); N and F are then checked against the data;
 * - data, when every field in it is a number (digits.csv.gz, diabetes);
 * - column names otherwise.
 * The fields are cut in place in the file's text: no copy per field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"
#include "data/data_impl.h"

#define CSV_MAX ((size_t)1 << 30) /* the largest CSV eta reads: 1 GiB */

const char *const data_csv_headers[DATA_CSV_HEADER_COUNT] = {"auto", "none", "names", "sklearn"};

bool data_csv_number(const char *s, double *out)
{
    while (*s == ' ' || *s == '\t')
        s++;
    if (!*s)
        return false;
    char *end;
    double x = strtod(s, &end);
    if (end == s)
        return false;
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end)
        return false;
    *out = x;
    return true;
}

/* A growing array of pointers. */
typedef struct ptrs {
    char **p;
    size_t n, cap;
} ptrs;

static int push(ptrs *a, char *s)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        char **p = realloc(a->p, cap * sizeof *p);
        if (!p)
            return ETA_ENOMEM;
        a->p = p;
        a->cap = cap;
    }
    a->p[a->n++] = s;
    return ETA_OK;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Reads the quoted field at *ps (its '"'), writing its text from w on
 * ("" is one quote); moves *ps past the closing quote and returns the end
 * of the text written, or NULL when the line ends inside the quotes. */
static char *unquote(char **ps, char *w)
{
    char *s = *ps + 1;
    for (;;) {
        if (!*s)
            return NULL;
        if (*s == '"' && s[1] == '"') {
            *w++ = '"';
            s += 2;
        } else if (*s == '"') {
            *ps = s + 1;
            return w;
        } else
            *w++ = *s++;
    }
}

/* Splits the line s (NUL-terminated, no newline) into fields in place,
 * appending them to f. sep ' ' means runs of blanks, with no empty fields.
 * Returns the field count or a negative error. */
static int split_line(char *s, char sep, ptrs *f, const char *name, int64_t lineno, eta_err *err)
{
    bool runs = sep == ' ';
    int count = 0;
    for (;;) {
        while (blank(*s) && (runs || *s != sep))
            s++;
        if (runs && !*s)
            return count;
        char *start = s, *w;
        if (*s == '"') {
            if (!(w = unquote(&s, s)))
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: field %d: unterminated quote", name,
                                     (long long)lineno, count + 1);
            while (!runs && blank(*s) && *s != sep)
                s++;
            if (*s && (runs ? !blank(*s) : *s != sep))
                return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: field %d: text after the closing quote", name,
                                     (long long)lineno, count + 1);
        } else {
            while (*s && (runs ? !blank(*s) : *s != sep))
                s++;
            w = s;
            while (!runs && w > start && blank(w[-1]) && w[-1] != sep)
                w--;
        }
        bool end = !*s;
        *w = '\0';
        if (push(f, start))
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
        count++;
        if (end)
            return count;
        s++;
    }
}

static bool all_numbers(char **f, int n)
{
    double x;
    for (int i = 0; i < n; i++)
        if (!data_csv_number(f[i], &x))
            return false;
    return true;
}

/* A whole number >= 0 written plainly ("150"). */
static bool count_field(const char *s, int64_t *out)
{
    double x;
    if (!data_csv_number(s, &x) || !(x >= 0 && x <= 1e15) || x != floor(x) || strpbrk(s, ".eE"))
        return false;
    *out = (int64_t)x;
    return true;
}

/* The first of ',', ';', tab outside quotes in line, else ' ' (blanks). */
static char guess_sep(const char *line)
{
    static const char seps[] = ",;\t";
    for (int k = 0; k < 3; k++) {
        bool quoted = false;
        for (const char *s = line; *s; s++) {
            if (*s == '"')
                quoted = !quoted;
            else if (*s == seps[k] && !quoted)
                return seps[k];
        }
    }
    return ' ';
}

/* What a line holds, seen on a copy: its field count (-1: out of memory),
 * whether every field is a number, and its first two fields as counts. */
typedef struct line_peek {
    int n;
    bool numeric, counts;
    int64_t a, b;
} line_peek;

static line_peek peek(const char *line, char sep)
{
    line_peek p = {-1, false, false, 0, 0};
    size_t len = strlen(line);
    char *copy = malloc(len + 1);
    ptrs g = {0};
    if (!copy)
        return p;
    memcpy(copy, line, len + 1);
    p.n = split_line(copy, sep, &g, "", 0, NULL);
    if (p.n == ETA_ENOMEM)
        p.n = -1;
    else if (p.n < 0)
        p.n = 0; /* a bad quote: not numbers, not counts; the real split reports it */
    p.numeric = p.n > 0 && all_numbers(g.p, p.n);
    p.counts = p.n >= 2 && count_field(g.p[0], &p.a) && count_field(g.p[1], &p.b);
    free(copy);
    free(g.p);
    return p;
}

void data_csv_free(data_csv *c)
{
    if (!c)
        return;
    free(c->names);
    free(c->cells);
    free(c->line);
    free(c->class_names);
    free(c->text);
    memset(c, 0, sizeof *c);
}

int data_csv_parse(data_csv *out, const char *name, char *text, size_t len, data_csv_header header, char sep,
                   eta_err *err)
{
    memset(out, 0, sizeof *out);
    out->text = text;
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int64_t ln = 1;
        for (const char *p = text; p < nul; p++)
            ln += *p == '\n';
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: NUL byte at byte %zu (not a text file?)", name,
                             (long long)ln, (size_t)(nul - text));
    }
    /* the non-skipped lines, cut in place */
    ptrs lines = {0};
    int64_t *lineno = NULL;
    size_t lcap = 0;
    int rc = ETA_OK;
    int64_t ln = 0;
    for (char *s = text; *s && !rc;) {
        char *e = strchr(s, '\n');
        char *next = e ? e + 1 : s + strlen(s);
        if (e)
            *e = '\0';
        else
            e = next;
        if (e > s && e[-1] == '\r')
            e[-1] = '\0';
        ln++;
        char *t = s;
        while (blank(*t))
            t++;
        if (*t && *t != '#' && *t != '\r') {
            if (lines.n == lcap) {
                lcap = lcap ? lcap * 2 : 256;
                int64_t *nl = realloc(lineno, lcap * sizeof *nl);
                if (!nl)
                    rc = ETA_ENOMEM;
                else
                    lineno = nl;
            }
            if (!rc && push(&lines, s))
                rc = ETA_ENOMEM;
            if (!rc)
                lineno[lines.n - 1] = ln;
        }
        s = next;
    }
    if (rc) {
        free(lines.p);
        free(lineno);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
    }
    if (lines.n == 0) {
        free(lines.p);
        free(lineno);
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: empty file (no lines of data)", name);
    }
    if (!sep)
        sep = guess_sep(lines.p[0]);
    out->sep = sep;

    /* What line 1 is; splitting cuts in place, so look at copies first. */
    line_peek p0 = peek(lines.p[0], sep), p1 = {0};
    if (lines.n > 1)
        p1 = peek(lines.p[1], sep);
    if (p0.n < 0 || p1.n < 0) {
        free(lines.p);
        free(lineno);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
    }
    if (header == DATA_CSV_AUTO) {
        /* "150,4,setosa,..." then 5 fields; or "506,13" then a line of names */
        if (p0.counts && lines.n > 1 && (p1.n == p0.b + 1 || (p0.n == 2 && !p1.numeric)))
            header = DATA_CSV_SKLEARN;
        else if (p0.numeric)
            header = DATA_CSV_NONE;
        else
            header = DATA_CSV_NAMES;
    }
    out->header = header;
    ptrs f = {0};
    size_t first = 0; /* the first data line */
    int64_t ncols = -1, line_of_cols = 0;
    int names_at = -1; /* the line of column names */
    if (header == DATA_CSV_SKLEARN) {
        if (!p0.counts)
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL,
                               "%s:%lld: a scikit-learn header starts with the counts of rows and features", name,
                               (long long)lineno[0]);
        int n0 = rc ? 0 : split_line(lines.p[0], sep, &f, name, lineno[0], err);
        if (n0 < 0)
            rc = n0;
        else if (n0 > 2) {
            out->nclass = n0 - 2;
            out->class_names = malloc((size_t)out->nclass * sizeof *out->class_names);
            if (!out->class_names)
                rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
            else
                memcpy(out->class_names, f.p + 2, (size_t)out->nclass * sizeof *f.p);
        }
        first = 1;
        f.n = 0;
        /* a line of names may follow (boston_house_prices.csv) */
        if (!rc && lines.n > 1 && !p1.numeric)
            names_at = 1;
    } else if (header == DATA_CSV_NAMES) {
        names_at = 0;
    }
    if (!rc && names_at >= 0) {
        int k = split_line(lines.p[names_at], sep, &f, name, lineno[names_at], err);
        if (k < 0)
            rc = k;
        ncols = k;
        line_of_cols = lineno[names_at];
        first = (size_t)names_at + 1;
    }
    if (!rc && ncols >= 0) {
        out->names = malloc((size_t)(ncols ? ncols : 1) * sizeof *out->names);
        if (!out->names)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
        else
            memcpy(out->names, f.p, (size_t)ncols * sizeof *f.p);
    }
    if (!rc && lines.n <= first)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: no data rows after the header", name);
    /* the data rows */
    f.n = 0;
    if (!rc) {
        out->line = malloc((lines.n - first) * sizeof *out->line);
        if (!out->line)
            rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", name);
    }
    for (size_t i = first; i < lines.n && !rc; i++) {
        int k = split_line(lines.p[i], sep, &f, name, lineno[i], err);
        if (k < 0) {
            rc = k;
            break;
        }
        if (ncols < 0) {
            ncols = k;
            line_of_cols = lineno[i];
        }
        if (k != ncols) {
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: %d fields, expected %lld as on line %lld", name,
                               (long long)lineno[i], k, (long long)ncols, (long long)line_of_cols);
            break;
        }
        out->line[out->rows++] = lineno[i];
    }
    if (!rc && header == DATA_CSV_SKLEARN) {
        int64_t sk_rows = p0.a, sk_feat = p0.b;
        if (sk_rows != out->rows)
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s:%lld: the header promises %lld rows, the file has %lld "
                               "(header='none' reads line 1 as data)",
                               name, (long long)lineno[0], (long long)sk_rows, (long long)out->rows);
        else if (sk_feat + 1 != ncols && sk_feat != ncols)
            rc = eta_spec_fail(err, ETA_EFORMAT, NULL,
                               "%s:%lld: the header promises %lld features, the rows have %lld fields", name,
                               (long long)lineno[0], (long long)sk_feat, (long long)ncols);
    }
    free(lines.p);
    free(lineno);
    if (rc) {
        free(f.p);
        return rc;
    }
    out->cols = ncols;
    out->cells = f.p;
    return ETA_OK;
}

int data_csv_read(data_csv *out, const char *path, data_csv_header header, char sep, eta_err *err)
{
    memset(out, 0, sizeof *out);
    char *text;
    size_t len;
    int rc = data_read_all(path, CSV_MAX, &text, &len, err);
    if (rc)
        return rc;
    rc = data_csv_parse(out, path, text, len, header, sep, err);
    if (rc)
        data_csv_free(out);
    return rc;
}
