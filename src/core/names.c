/* names.c - hints for a name that is in no catalogue: "did you mean ...?".
 *
 * Every "unknown X" message (schedules, optimizers, modules, losses, keyword
 * arguments, problems, the CLI's commands and options) ends with the hint
 * written here, so they all suggest alike and none cuts a list silently:
 *
 *     unknown schedule 'CosineAnealingLR'; did you mean CosineAnnealingLR?
 *         (eta schedule --list shows all 45)
 *     unknown optimizer 'Adamm'; did you mean Adam or AdamW? valid
 *         optimizers: SGD, Adam, AdamW, ...      (the whole list: it fits)
 *
 * Closeness is the optimal-string-alignment distance (Levenshtein plus swaps
 * of neighbours, as in "Linera") ignoring ASCII case, or a prefix of at least
 * three characters ("mom" for momentum). The names at the smallest distance
 * are suggested (at most three), so "relu" gets ReLU and not also GELU.
 * The hint is appended to the text already in the caller's buffer, in the
 * first of these forms that fits: close names and the whole list; close
 * names and where to see the list; the nearest few, "..." and where to see
 * them all (fewer of them while they do not fit); the close names alone;
 * where to see the list alone; nothing.
 */
#include "eta/core.h"

#include <stdio.h>
#include <string.h>

enum { MAX_LEN = 128, MAX_CLOSE = 3, MAX_NEAR = 5 };

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

int eta_name_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > MAX_LEN || lb > MAX_LEN)
        return (int)(la > lb ? la : lb);
    /* Three rows of the dynamic programme: i-2, i-1, i. */
    int rows[3][MAX_LEN + 1];
    for (size_t j = 0; j <= lb; j++)
        rows[0][j] = rows[1][j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        int *pp = rows[(i + 1) % 3], *p = rows[(i + 2) % 3], *c = rows[i % 3];
        c[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int ca = lower((unsigned char)a[i - 1]), cb = lower((unsigned char)b[j - 1]);
            int best = p[j - 1] + (ca != cb);
            if (p[j] + 1 < best)
                best = p[j] + 1;
            if (c[j - 1] + 1 < best)
                best = c[j - 1] + 1;
            if (i > 1 && j > 1 && ca == lower((unsigned char)b[j - 2]) && lower((unsigned char)a[i - 2]) == cb &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            c[j] = best;
        }
    }
    return rows[la % 3][lb];
}

/* How close `cand` is to `name` for a suggestion: its distance, or -1 when
 * it is not close (too many edits for the name's length). A prefix of three
 * characters or more counts as one edit away. */
static int closeness(const char *name, const char *cand)
{
    size_t n = strlen(name);
    int d = eta_name_distance(name, cand);
    int most = n <= 2 ? 0 : n <= 4 ? 1 : n <= 8 ? 2 : 3; /* "c" is not close to "a" */
    if (d <= most)
        return d;
    if (n >= 3 && strlen(cand) > n) {
        size_t i = 0;
        while (i < n && lower((unsigned char)name[i]) == lower((unsigned char)cand[i]))
            i++;
        if (i == n)
            return most;
    }
    return -1;
}

/* The order of the names by closeness (then catalogue order): idx[0..k). */
typedef struct ranked {
    int idx[MAX_NEAR];
    int dist[MAX_NEAR];
    int n;       /* how many ranked (at most MAX_NEAR) */
    int nclose;  /* of them, how many are close */
} ranked;

static void rank(ranked *r, const char *name, eta_name_fn name_at, const void *ctx, int count)
{
    r->n = r->nclose = 0;
    for (int i = 0; i < count; i++) {
        const char *cand = name_at(ctx, i);
        if (!cand)
            continue;
        int c = closeness(name, cand);
        /* Far names sort after close ones, by distance. */
        int key = c >= 0 ? c : 1000 + eta_name_distance(name, cand);
        int at = r->n;
        while (at > 0 && r->dist[at - 1] > key)
            at--;
        if (at >= MAX_NEAR)
            continue;
        int last = r->n < MAX_NEAR ? r->n : MAX_NEAR - 1;
        for (int k = last; k > at; k--) {
            r->idx[k] = r->idx[k - 1];
            r->dist[k] = r->dist[k - 1];
        }
        r->idx[at] = i;
        r->dist[at] = key;
        if (r->n < MAX_NEAR)
            r->n++;
    }
    /* The closest tier only: "relu" is ReLU, not also GELU (one edit). */
    for (int k = 0; k < r->n && k < MAX_CLOSE; k++)
        r->nclose += r->dist[k] < 1000 && r->dist[k] == r->dist[0];
}

/* A bounded writer that knows whether everything fitted. */
typedef struct out {
    char *buf;
    size_t cap, len;
    bool full;
} out;

static void put(out *o, const char *s)
{
    size_t n = strlen(s);
    if (o->len + n >= o->cap) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n + 1);
    o->len += n;
}

/* "A", "A or B", "A, B or C". */
static void put_close(out *o, const ranked *r, eta_name_fn name_at, const void *ctx)
{
    put(o, "did you mean ");
    for (int k = 0; k < r->nclose; k++) {
        if (k)
            put(o, k == r->nclose - 1 ? " or " : ", ");
        put(o, name_at(ctx, r->idx[k]));
    }
    put(o, "?");
}

/* Where to see every name: " (eta schedule --list shows all 57)", or
 * " (14 arguments in all)" when the caller names no place. */
static void put_see(out *o, int count, const char *what, const char *see)
{
    char num[32];
    snprintf(num, sizeof num, "%d", count);
    put(o, " (");
    if (see) {
        put(o, see);
        put(o, " shows all ");
        put(o, num);
    } else {
        put(o, num);
        put(o, " ");
        put(o, what);
        put(o, " in all");
    }
    put(o, ")");
}

/* The forms of a hint, longest first. */
enum form {
    FORM_ALL,      /* [did you mean A? ]valid WHAT: every name */
    FORM_CLOSE_SEE, /* did you mean A? (SEE shows all N) */
    FORM_NEAR,     /* valid WHAT include the `near` nearest, ... (SEE shows all N) */
    FORM_CLOSE,    /* did you mean A? */
    FORM_SEE,      /* (SEE shows all N) */
};

/* Appends form f of the hint to the text in buf; false when it does not fit
 * or does not apply (buf is then left as it was). */
static bool try_form(char *buf, size_t n, enum form f, int near, const ranked *r, eta_name_fn name_at,
                     const void *ctx, int count, const char *what, const char *see)
{
    size_t start = strlen(buf);
    out o = {buf, n, start, false};
    bool close = r->nclose > 0;
    if ((f == FORM_CLOSE_SEE || f == FORM_CLOSE) && !close)
        return false;
    put(&o, ";");
    if (close && f != FORM_NEAR && f != FORM_SEE) {
        put(&o, " ");
        put_close(&o, r, name_at, ctx);
    }
    switch (f) {
    case FORM_ALL:
        put(&o, " valid ");
        put(&o, what);
        put(&o, ":");
        for (int i = 0, k = 0; i < count; i++) {
            const char *s = name_at(ctx, i);
            if (s) {
                put(&o, k++ ? ", " : " ");
                put(&o, s);
            }
        }
        if (count == 0)
            put(&o, " none");
        break;
    case FORM_CLOSE_SEE:
    case FORM_SEE:
        put_see(&o, count, what, see);
        break;
    case FORM_NEAR:
        put(&o, " valid ");
        put(&o, what);
        put(&o, " include ");
        for (int k = 0; k < near && k < r->n; k++) {
            put(&o, name_at(ctx, r->idx[k]));
            put(&o, ", ");
        }
        put(&o, "...");
        put_see(&o, count, what, see);
        break;
    case FORM_CLOSE:
        break;
    }
    if (o.full) {
        buf[start] = '\0';
        return false;
    }
    return true;
}

size_t eta_names_hint(char *buf, size_t n, const char *name, eta_name_fn name_at, const void *ctx, int count,
                      const char *what, const char *see)
{
    if (!buf || n == 0)
        return 0;
    size_t start = strnlen(buf, n);
    if (start >= n) /* not a string: leave it */
        return 0;
    if (!name || !name_at || count < 0)
        return start;
    ranked r;
    rank(&r, name, name_at, ctx, count);
    bool done = try_form(buf, n, FORM_ALL, 0, &r, name_at, ctx, count, what, see) ||
                try_form(buf, n, FORM_CLOSE_SEE, 0, &r, name_at, ctx, count, what, see);
    /* With a close name, the nearest others add little: "did you mean" is enough. */
    for (int k = r.nclose > 0 ? 0 : r.n; !done && k > 0; k--)
        done = try_form(buf, n, FORM_NEAR, k, &r, name_at, ctx, count, what, see);
    if (!done && !try_form(buf, n, FORM_CLOSE, 0, &r, name_at, ctx, count, what, see))
        try_form(buf, n, FORM_SEE, 0, &r, name_at, ctx, count, what, see);
    return strlen(buf);
}
