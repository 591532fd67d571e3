/* config_write.c - the resolved configuration as INI text (a run's
 * config.ini): every key of the schema in order, as given or its default,
 * a comment line per section (a required key not given is a comment too, so
 * the text reads back); and writing it atomically.
 *
 * Each value is written so that config_read.c reads it back unchanged: a
 * spec's lines as continuation lines, a plain value bare when that reads
 * back the same, else in quotes (a value with " ;", leading spaces, or quotes
 * of its own at both ends).
 */
#include "train/config_impl.h"

#include "core/error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sb {
    char *s;
    size_t len, cap;
    bool oom;
} sb;

static void put_n(sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

static void put(sb *b, const char *s)
{
    put_n(b, s, strlen(s));
}

/* Whether t[0..n), written after "key = " (or as a continuation line), is
 * read back as itself: one piece, and for a plain value no quotes to remove. */
static bool reads_back(const char *t, size_t n, bool plain)
{
    size_t st, len;
    eta_config_piece_(t, n, 0, true, &st, &len);
    if (st != 0 || len != n || memchr(t, '\n', n))
        return false;
    return !(plain && n >= 2 && (t[0] == '\'' || t[0] == '"') && t[n - 1] == t[0]);
}

/* Appends "key = value\n"; false when the value cannot be written. */
static bool put_value(sb *b, const eta_config_key *k, const char *v)
{
    put(b, k->key);
    put(b, v[0] ? " = " : " =");
    size_t n = strlen(v);
    if (k->type == ETA_CONFIG_SPEC) {
        for (const char *p = v; *p;) {
            size_t l = strcspn(p, "\n");
            if (!reads_back(p, l, false))
                return false;
            if (p != v)
                put(b, "\n    ");
            put_n(b, p, l);
            p += l + (p[l] == '\n');
        }
    } else if (reads_back(v, n, true) || n == 0) {
        put(b, v);
    } else {
        bool done = false;
        for (const char *q = "'\""; *q && !done; q++) {
            if (memchr(v, *q, n))
                continue;
            char *t = malloc(n + 3);
            if (!t) {
                b->oom = true;
                return true;
            }
            t[0] = t[n + 1] = *q;
            memcpy(t + 1, v, n);
            t[n + 2] = '\0';
            if (reads_back(t, n + 2, false)) {
                put(b, t);
                done = true;
            }
            free(t);
        }
        if (!done)
            return false;
    }
    put(b, "\n");
    return true;
}

int eta_config_to_string(const eta_config *c, char **text, size_t *len, eta_err *err)
{
    eta_err_clear(err);
    if (!c || !text)
        return ETA_EINVAL;
    *text = NULL;
    sb b = {0};
    put(&b, "; The resolved configuration of a run: every key, as given or its default.\n");
    if (c->path) {
        put(&b, "; Read from ");
        for (const char *p = c->path; *p; p++) /* keep it on one line */
            put_n(&b, (unsigned char)*p < 0x20 ? "?" : p, 1);
        put(&b, ".\n");
    }
    for (int s = 0; s < eta_config_section_count(); s++) {
        const char *doc, *sec = eta_config_section_at(s, &doc);
        put(&b, "\n[");
        put(&b, sec);
        put(&b, "]\n; ");
        put(&b, doc);
        put(&b, "\n");
        for (int r = 0; r < eta_config_key_count(); r++) {
            const eta_config_key *k = eta_config_key_at(r);
            if (strcmp(k->section, sec) != 0)
                continue;
            if ((k->flags & ETA_CONFIG_REQUIRED) && !eta_config_is_set(c, k->section, k->key)) {
                put(&b, "; ");
                put(&b, k->key);
                put(&b, " = (required, not given)\n");
                continue;
            }
            if (!put_value(&b, k, eta_config_get(c, k->section, k->key))) {
                free(b.s);
                return eta_spec_fail(err, ETA_EINVAL, NULL,
                                     "%s.%s: this value cannot be written to a config file so that it "
                                     "reads back the same", k->section, k->key);
            }
        }
    }
    if (b.oom) {
        free(b.s);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    *text = b.s;
    if (len)
        *len = b.len;
    return ETA_OK;
}

int eta_config_write(const eta_config *c, const char *path, eta_err *err)
{
    eta_err_clear(err);
    if (!c || !path)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "no config or path");
    char *text;
    size_t len;
    int rc = eta_config_to_string(c, &text, &len, err);
    if (rc)
        return rc;
    const void *parts[1] = {text};
    rc = eta_file_write_atomic(path, parts, &len, 1, err);
    free(text);
    return rc;
}
