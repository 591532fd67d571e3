/* config.c - a training config's values: overrides ("--set train.epochs=3"),
 * the typed getters, where each value was written (so an error inside a spec
 * points at its line and column), and the resolved config.ini.
 *
 * A value is read the same way from a file and from an override: each line
 * trimmed and cut at a comment (';' or '#' after white space, outside quoted
 * strings), lines joined with '\n'; a non-spec value is one line and may be
 * quoted as a whole. eta_config_to_string writes every value so that this
 * reading gives it back unchanged. The schema lives in config_schema.c and
 * the INI reader (libinih) in config_read.c.
 */
#include "train/config_impl.h"

#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 1-based column of byte b of s: characters (not UTF-8 continuation
 * bytes) before the one holding it on its line, plus one. */
static int column(const char *s, size_t b)
{
    while (b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80)
        b--;
    size_t i = b;
    while (i > 0 && s[i - 1] != '\n')
        i--;
    int k = 1;
    for (; i < b; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

/* ---- life cycle ------------------------------------------------------------ */

int eta_config_alloc_(eta_config **out, const char *path, eta_err *err)
{
    eta_config *c = calloc(1, sizeof *c);
    if (c)
        c->vals = calloc((size_t)eta_config_key_count(), sizeof *c->vals);
    /* output.dir's default: runs/ and the file's base name without its extension. */
    const char *base = path ? strrchr(path, '/') : NULL;
    base = base ? base + 1 : path ? path : "";
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot > base ? (size_t)(dot - base) : strlen(base);
    if (n == 0)
        base = "default", n = strlen(base);
    if (c && c->vals) {
        c->default_dir = malloc(n + 6);
        if (c->default_dir)
            snprintf(c->default_dir, n + 6, "runs/%.*s", (int)n, base);
    }
    if (c && path)
        c->path = strdup(path);
    if (!c || !c->vals || !c->default_dir || (path && !c->path)) {
        eta_config_free(c);
        *out = NULL;
        if (err) {
            eta_err_clear(err);
            err->code = ETA_ENOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        return ETA_ENOMEM;
    }
    *out = c;
    return ETA_OK;
}

int eta_config_new(eta_config **out, const char *path, eta_err *err)
{
    if (!out)
        return ETA_EINVAL;
    eta_err_clear(err);
    return eta_config_alloc_(out, path, err);
}

void eta_config_val_clear_(cfg_val *v)
{
    for (int i = 0; i < v->nseg; i++)
        free(v->seg[i].raw);
    free(v->seg);
    free(v->text);
    memset(v, 0, sizeof *v);
}

void eta_config_free(eta_config *c)
{
    if (!c)
        return;
    for (int i = 0; c->vals && i < eta_config_key_count(); i++)
        eta_config_val_clear_(&c->vals[i]);
    free(c->vals);
    free(c->default_dir);
    free(c->path);
    free(c);
}

const char *eta_config_path(const eta_config *c)
{
    return c ? c->path : NULL;
}

/* ---- pieces and places --------------------------------------------------- */

void eta_config_piece_(const char *s, size_t n, size_t from, bool space_before, size_t *start, size_t *len)
{
    size_t i = from;
    while (i < n && cfg_is_space((unsigned char)s[i])) {
        i++;
        space_before = true;
    }
    size_t st = i, end = i;
    char quote = 0;
    bool sp = space_before;
    for (; i < n; i++) {
        char ch = s[i];
        if (quote) {
            if (ch == '\\' && i + 1 < n)
                i++; /* an escaped character, maybe the quote itself */
            else if (ch == quote)
                quote = 0;
            if (!cfg_is_space((unsigned char)s[i])) /* an unclosed string is trimmed too */
                end = i + 1;
            sp = false;
            continue;
        }
        if ((ch == ';' || ch == '#') && sp)
            break;
        if (ch == '\'' || ch == '"')
            quote = ch;
        sp = cfg_is_space((unsigned char)ch);
        if (!sp)
            end = i + 1;
    }
    *start = st;
    *len = end - st;
}

int eta_config_add_piece_(cfg_val *v, const char *raw, size_t rawlen, size_t at, size_t n, int line, int file_off)
{
    size_t old = v->text ? strlen(v->text) : 0;
    bool join = old > 0;
    if (!join) { /* an empty value gives way to the next line's text */
        bool set = v->set;
        eta_config_val_clear_(v);
        v->set = set;
    }
    char *text = realloc(v->text, old + join + n + 1);
    if (!text)
        return ETA_ENOMEM;
    v->text = text;
    cfg_seg *seg = realloc(v->seg, (size_t)(v->nseg + 1) * sizeof *seg);
    if (!seg)
        return ETA_ENOMEM;
    v->seg = seg;
    char *copy = strndup(raw, rawlen);
    if (!copy)
        return ETA_ENOMEM;
    if (join)
        text[old] = '\n';
    memcpy(text + old + join, raw + at, n);
    text[old + join + n] = '\0';
    seg[v->nseg++] = (cfg_seg){(int)(old + join), line, (int)at, file_off, copy};
    return ETA_OK;
}

/* The piece holding byte `pos` of the value, and that byte's offset in its raw
 * line (*byte); the end of the piece in the value in *piece_end. */
static const cfg_seg *seg_at(const cfg_val *v, int pos, size_t *byte, int *piece_end)
{
    if (!v || v->nseg == 0)
        return NULL;
    int len = (int)strlen(v->text);
    if (pos < 0)
        pos = 0;
    if (pos > len)
        pos = len;
    int k = 0;
    while (k + 1 < v->nseg && v->seg[k + 1].off <= pos)
        k++;
    const cfg_seg *s = &v->seg[k];
    *piece_end = k + 1 < v->nseg ? v->seg[k + 1].off - 1 : len;
    size_t b = (size_t)s->raw_off + (size_t)(pos - s->off), rl = strlen(s->raw);
    *byte = b < rl ? b : rl;
    return s;
}

static const char *label(const eta_config *c)
{
    return c->path ? c->path : "config";
}

/* "PATH:LINE:COL" or "--set ASSIGNMENT" (line breaks shown as spaces). */
static void where_text(const eta_config *c, const cfg_seg *s, size_t byte, char *buf, size_t n)
{
    if (s->line > 0) {
        snprintf(buf, n, "%s:%d:%d", label(c), s->line, column(s->raw, byte));
        return;
    }
    size_t k = 0;
    const char *p = s->raw;
    for (const char *q = "--set "; *q && k + 1 < n; q++)
        buf[k++] = *q;
    for (; *p && k + 1 < n; p++)
        buf[k++] = cfg_is_space((unsigned char)*p) ? ' ' : *p;
    buf[k] = '\0';
    if (*p) /* cut short */
        eta_msg_mark_cut_(buf, n);
}

int eta_config_fail_at_(eta_err *err, int code, const eta_config *c, const cfg_val *v, int pos, int len,
                        const char *fmt, ...)
{
    if (!err)
        return code;
    eta_err_clear(err);
    err->code = code;
    size_t byte = 0;
    int piece_end;
    const cfg_seg *s = seg_at(v, pos, &byte, &piece_end);
    char where[160] = "";
    if (s) {
        where_text(c, s, byte, where, sizeof where);
        err->pos = s->file_off + (int)byte;
        err->len = len;
    }
    int k = snprintf(err->msg, sizeof err->msg, "%s%s", where, where[0] ? ": " : "");
    if (k >= (int)sizeof err->msg) {
        eta_msg_mark_cut_(err->msg, sizeof err->msg);
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(err->msg + k, sizeof err->msg - (size_t)k, fmt, ap);
    va_end(ap);
    return code;
}

int eta_config_finish_value_(const eta_config *c, int row, cfg_val *v, int code, eta_err *err)
{
    const eta_config_key *k = eta_config_key_at(row);
    size_t len = strlen(v->text);
    if (k->type != ETA_CONFIG_SPEC) {
        if (v->nseg > 1)
            return eta_config_fail_at_(err, code, c, v, v->seg[1].off, (int)len - v->seg[1].off,
                                       "%s.%s: only a spec may go on over several lines", k->section, k->key);
        char q = v->text[0];
        if (len >= 2 && (q == '\'' || q == '"') && v->text[len - 1] == q) {
            memmove(v->text, v->text + 1, len - 2);
            v->text[len - 2] = '\0';
            v->seg[0].raw_off++;
            len -= 2;
        }
    }
    if (len == 0) {
        if (k->flags & ETA_CONFIG_EMPTY_OK)
            return ETA_OK;
        if (k->flags & ETA_CONFIG_REQUIRED)
            return eta_config_fail_at_(err, code, c, v, 0, 0, "%s.%s is empty; it is required: %s", k->section,
                                       k->key, k->doc);
        return eta_config_fail_at_(err, code, c, v, 0, 0, "%s.%s is empty; leave it out for the default (%s)",
                                   k->section, k->key, k->def);
    }
    eta_err e;
    int rc = eta_config_check_value_(row, &v->text, &e);
    if (rc == ETA_ENOMEM)
        return eta_config_fail_at_(err, rc, c, v, 0, 0, "out of memory");
    if (rc)
        return eta_config_fail_at_(err, code, c, v, e.pos, e.len, "%s", e.msg);
    return ETA_OK;
}

/* ---- overrides ----------------------------------------------------------- */

static int set_fail(eta_err *err, const char *a, size_t pos, size_t len, const char *fmt, ...) CFG_PRINTF(5, 6);
static int set_fail(eta_err *err, const char *a, size_t pos, size_t len, const char *fmt, ...)
{
    cfg_val v = {0};
    cfg_seg s = {0, 0, 0, 0, (char *)a};
    v.text = (char *)"";
    v.nseg = 1;
    v.seg = &s;
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(msg, sizeof msg, fmt, ap);
    va_end(ap);
    eta_config c = {0};
    int rc = eta_config_fail_at_(err, ETA_EINVAL, &c, &v, 0, (int)len, "%s", msg);
    if (err)
        err->pos = (int)pos;
    return rc;
}

int eta_config_set(eta_config *c, const char *a, eta_err *err)
{
    eta_err_clear(err);
    if (!c || !a)
        return ETA_EINVAL;
    const char *eq = strchr(a, '=');
    size_t an = strlen(a);
    if (!eq)
        return set_fail(err, a, 0, an, "expected section.key=value, or data=, model=, optimizer=, schedule= "
                                       "and a spec");
    size_t ns = 0, ne = (size_t)(eq - a);
    while (ns < ne && cfg_is_space((unsigned char)a[ns]))
        ns++;
    while (ne > ns && cfg_is_space((unsigned char)a[ne - 1]))
        ne--;
    char name[128];
    if (ne - ns >= sizeof name)
        return set_fail(err, a, ns, ne - ns, "'%.40s...' is no section.key", a + ns);
    memcpy(name, a + ns, ne - ns);
    name[ne - ns] = '\0';
    char *dot = strchr(name, '.');
    const char *key = dot ? dot + 1 : "spec";
    if (dot)
        *dot = '\0';
    int sec = eta_config_section_index_(name);
    size_t sec_len = strlen(name);
    if (sec < 0) {
        if (!dot && eta_config_row_("train", name) >= 0)
            return set_fail(err, a, ns, sec_len, "'%s' is no section; write train.%s=...", name, name);
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "unknown section '%s'", name);
        if (!dot)
            eta_config_hint_key_(msg, sizeof msg, -1, name);
        if (!strstr(msg, "belongs"))
            eta_config_hint_section_(msg, sizeof msg, name);
        return set_fail(err, a, ns, sec_len, "%s", msg);
    }
    if (!dot && !eta_config_section_has_spec_(sec))
        return set_fail(err, a, ns, sec_len, "[%s] has no spec; write %s.KEY=VALUE", name, name);
    int row = eta_config_row_(name, key);
    if (row < 0) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "unknown key '%s' in [%s]", key, name);
        eta_config_hint_key_(msg, sizeof msg, sec, key);
        return set_fail(err, a, ns + sec_len + 1, strlen(key), "%s", msg);
    }
    /* The value, line by line as a file's continuation lines. */
    cfg_val nv = {0};
    nv.set = true;
    size_t i = (size_t)(eq - a) + 1;
    for (bool first = true;; first = false) {
        const char *nl = memchr(a + i, '\n', an - i);
        size_t end = nl ? (size_t)(nl - a) : an, st, len;
        eta_config_piece_(a, end, i, !first || cfg_is_space((unsigned char)a[i - 1]), &st, &len);
        if ((first || len > 0) && eta_config_add_piece_(&nv, a, an, st, len, 0, 0)) {
            eta_config_val_clear_(&nv);
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
        }
        if (!nl)
            break;
        i = end + 1;
    }
    int rc = eta_config_finish_value_(c, row, &nv, ETA_EINVAL, err);
    if (rc) {
        eta_config_val_clear_(&nv);
        return rc;
    }
    eta_config_val_clear_(&c->vals[row]);
    c->vals[row] = nv;
    return ETA_OK;
}

int eta_config_check(const eta_config *c, eta_err *err)
{
    eta_err_clear(err);
    if (!c)
        return ETA_EINVAL;
    for (int r = 0; r < eta_config_key_count(); r++) {
        const eta_config_key *k = eta_config_key_at(r);
        if ((k->flags & ETA_CONFIG_REQUIRED) && !c->vals[r].text) {
            return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: [%s] %s is required: %s", label(c), k->section,
                                 k->key, k->doc);
        }
    }
    return ETA_OK;
}

/* ---- getters --------------------------------------------------------------- */

const char *eta_config_get(const eta_config *c, const char *section, const char *key)
{
    int row = eta_config_row_(section, key);
    if (!c || row < 0)
        return NULL;
    if (c->vals[row].text)
        return c->vals[row].text;
    const eta_config_key *k = eta_config_key_at(row);
    if (!(k->flags & ETA_CONFIG_DERIVED))
        return k->def;
    if (strcmp(k->section, "output") == 0 && strcmp(k->key, "dir") == 0)
        return c->default_dir;
    /* The value of the key named by def ("data.batch_size"). */
    char ref[64];
    snprintf(ref, sizeof ref, "%s", k->def);
    char *dot = strchr(ref, '.');
    if (!dot)
        return k->def;
    *dot = '\0';
    return eta_config_get(c, ref, dot + 1);
}

bool eta_config_is_set(const eta_config *c, const char *section, const char *key)
{
    int row = eta_config_row_(section, key);
    return c && row >= 0 && c->vals[row].text;
}

static int typed(const eta_config *c, const char *section, const char *key, eta_config_type type,
                 const char **text, const eta_config_key **k, eta_err *err)
{
    eta_err_clear(err);
    *text = eta_config_get(c, section, key);
    *k = eta_config_key_find(section, key);
    const char *msg = NULL;
    char buf[160];
    if (!*text) {
        snprintf(buf, sizeof buf, "unknown config key %s.%s", section ? section : "(null)", key ? key : "(null)");
        msg = buf;
    } else if ((*k)->type != type) {
        snprintf(buf, sizeof buf, "%s.%s is a%s %s, not a%s %s", section, key,
                 (*k)->type == ETA_CONFIG_INT || (*k)->type == ETA_CONFIG_ENUM ? "n" : "",
                 eta_config_type_name((*k)->type),
                 type == ETA_CONFIG_INT || type == ETA_CONFIG_ENUM ? "n" : "", eta_config_type_name(type));
        msg = buf;
    }
    if (!msg)
        return ETA_OK;
    if (err) {
        err->code = ETA_EINVAL;
        snprintf(err->msg, sizeof err->msg, "%s", msg);
    }
    return ETA_EINVAL;
}

int eta_config_get_int(const eta_config *c, const char *section, const char *key, int64_t *out, eta_err *err)
{
    const char *t;
    const eta_config_key *k;
    int rc = typed(c, section, key, ETA_CONFIG_INT, &t, &k, err);
    bool over;
    if (!rc && (!eta_config_parse_int_(t, out, &over) || over))
        rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s.%s: '%s' is not an int64", section, key, t);
    return rc;
}

int eta_config_get_real(const eta_config *c, const char *section, const char *key, double *out, eta_err *err)
{
    const char *t;
    const eta_config_key *k;
    int rc = typed(c, section, key, ETA_CONFIG_REAL, &t, &k, err);
    if (rc)
        return rc;
    eta_spec *s = NULL;
    rc = eta_spec_parse(&s, t, err);
    if (!rc && s->kind != ETA_SPEC_NUMBER)
        rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s.%s: '%s' is not a number", section, key, t);
    if (!rc)
        *out = s->num;
    eta_spec_free(s);
    return rc;
}

int eta_config_get_bool(const eta_config *c, const char *section, const char *key, bool *out, eta_err *err)
{
    const char *t;
    const eta_config_key *k;
    int rc = typed(c, section, key, ETA_CONFIG_BOOL, &t, &k, err);
    if (!rc)
        *out = strcmp(t, "true") == 0;
    return rc;
}

int eta_config_get_enum(const eta_config *c, const char *section, const char *key, int *out, eta_err *err)
{
    const char *t;
    const eta_config_key *k;
    int rc = typed(c, section, key, ETA_CONFIG_ENUM, &t, &k, err);
    if (rc)
        return rc;
    size_t tl = strlen(t);
    int i = 0;
    for (const char *p = k->values; *p; i++) {
        size_t l = strcspn(p, "|");
        if (l == tl && strncmp(p, t, l) == 0) {
            *out = i;
            return ETA_OK;
        }
        p += l + (p[l] == '|');
    }
    return eta_spec_fail(err, ETA_EINVAL, NULL, "%s.%s: '%s' is not one of %s", section, key, t, k->values);
}

int eta_config_get_list(const eta_config *c, const char *section, const char *key, char ***items, int *count,
                        eta_err *err)
{
    const char *t;
    const eta_config_key *k;
    int rc = typed(c, section, key, ETA_CONFIG_LIST, &t, &k, err);
    if (rc)
        return rc;
    static const char seps[] = ", \t\n\r\v\f";
    int n = 0;
    for (const char *p = t + strspn(t, seps); *p; p += strspn(p, seps)) {
        p += strcspn(p, seps);
        n++;
    }
    size_t tl = strlen(t);
    char **v = malloc((size_t)(n + 1) * sizeof *v + tl + 1);
    if (!v)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    char *dst = (char *)(v + n + 1);
    memcpy(dst, t, tl + 1);
    int i = 0;
    for (char *p = dst + strspn(dst, seps); *p; p += strspn(p, seps)) {
        v[i++] = p;
        p += strcspn(p, seps);
        if (*p)
            *p++ = '\0';
    }
    v[n] = NULL;
    *items = v;
    *count = n;
    return ETA_OK;
}

/* ---- locations ------------------------------------------------------------- */

const char *eta_config_locate(const eta_config *c, const char *section, const char *key, int pos, int *line,
                              int *col)
{
    int row = eta_config_row_(section, key), l = 0, k = 0;
    const char *src = NULL;
    size_t byte;
    int piece_end;
    const cfg_seg *s = c && row >= 0 ? seg_at(&c->vals[row], pos, &byte, &piece_end) : NULL;
    if (s) {
        l = s->line;
        k = column(s->raw, byte);
        src = s->line > 0 ? label(c) : "--set";
    }
    if (line)
        *line = l;
    if (col)
        *col = k;
    return src;
}

const char *eta_config_where(const eta_config *c, const char *section, const char *key, int *line, int *col)
{
    return eta_config_locate(c, section, key, 0, line, col);
}

int eta_config_format_error(const eta_config *c, const char *section, const char *key, const eta_err *e,
                            char *buf, size_t n)
{
    int row = eta_config_row_(section, key);
    if (!c || row < 0 || !e)
        return eta_err_format(e, NULL, buf, n);
    const cfg_val *v = &c->vals[row];
    eta_err tmp = *e;
    char where[160];
    const char *text;
    size_t byte;
    int piece_end;
    const cfg_seg *s = seg_at(v, e->pos, &byte, &piece_end);
    if (s) {
        where_text(c, s, e->pos >= 0 ? byte : (size_t)s->raw_off, where, sizeof where);
        text = s->raw;
        int pos = e->pos < 0 ? 0 : e->pos > (int)strlen(v->text) ? (int)strlen(v->text) : e->pos;
        tmp.pos = e->pos < 0 ? -1 : (int)byte;
        tmp.len = e->len < piece_end - pos ? e->len : piece_end - pos;
    } else {
        snprintf(where, sizeof where, "%s.%s (default)", section, key);
        text = eta_config_get(c, section, key);
    }
    int k = snprintf(buf, n, "%s: ", where);
    if (k < 0)
        return k;
    if ((size_t)k >= n) {
        if (n > 0)
            eta_msg_mark_cut_(buf, n);
        return k + eta_err_format(&tmp, text, NULL, 0);
    }
    return k + eta_err_format(&tmp, text, buf + k, n - (size_t)k);
}
