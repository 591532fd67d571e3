/* config_read.c - reading a training config's INI file with libinih.
 *
 * libinih (Debian's libinih1, release 55) decides the file's structure: which
 * lines are comments (';' or '#' first), [section] headers, key = value (or
 * key: value) pairs, and continuation lines (indented lines after a key, as
 * Python's configparser), and which lines are syntax errors. It hands back
 * section, key and value but no line number, column or file offset, cuts
 * inline comments without regard to quotes (" ;" inside a spec's string),
 * does not report sections without keys, and keeps only 199 bytes of a line
 * (Debian builds it with INI_MAX_LINE 200 on the stack). So the lines reach
 * it through our own reader, which keeps the whole line and counts lines;
 * the value handed to the handler points into the line buffer, which gives
 * its column, and the value's text is then taken from the whole line by
 * eta_config_piece_ (comments outside quotes only, no length limit). The
 * reader also sees [section] lines (by libinih's rules) to reject unknown,
 * empty or repeated sections at their line. libinih's run-time options
 * (globals in Debian's build) are left as they are.
 */
#include "train/config_impl.h"

#include "core/error.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MAX_SECTION_NAME: libinih keeps 49 bytes of a section's name (its MAX_SECTION, 50). */
enum { MAX_FILE = 1 << 20, MAX_SECTIONS = 16, MAX_SECTION_NAME = 50 };

typedef struct reader {
    eta_config *c;
    const char *base;   /* the file's bytes, as read */
    const char *text;   /* after a UTF-8 byte order mark */
    size_t len, at;     /* text's length, the next line's start */
    int line;           /* the line last handed to libinih, 1-based */
    const char *raw;    /* that line, without its line break */
    size_t rawlen;
    const char *buf;    /* libinih's copy of it */
    size_t bufn;
    int sec;            /* the current section's index, -1 before any */
    int sec_line[MAX_SECTIONS];
    bool have_key;      /* a key since the section header (libinih's prev_name) */
    int row;            /* the key whose value is being read, -1 none */
    bool failed;
    int fail_line;
    eta_err err;
} reader;

/* Fails at byte `byte` of the current line, `len` bytes long. */
static void fail_here(reader *r, size_t byte, size_t len, const char *fmt, ...) CFG_PRINTF(4, 5);
static void fail_here(reader *r, size_t byte, size_t len, const char *fmt, ...)
{
    char msg[sizeof r->err.msg];
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cfg_val v = {0};
    cfg_seg s = {0, r->line, (int)byte, (int)(r->raw - r->base), (char *)r->raw};
    char *line = strndup(r->raw, r->rawlen); /* raw is not NUL-terminated */
    if (line) {
        s.raw = line;
        v.text = (char *)"";
        v.nseg = 1;
        v.seg = &s;
    }
    eta_config_fail_at_(&r->err, ETA_EFORMAT, r->c, line ? &v : NULL, 0, (int)len, "%s", msg);
    if (!line) {
        r->err.code = ETA_ENOMEM;
        snprintf(r->err.msg, sizeof r->err.msg, "out of memory");
    }
    free(line);
    r->failed = true;
    r->fail_line = r->line;
}

/* The value read so far is complete: check it. */
static void finish(reader *r)
{
    if (r->row < 0 || r->failed)
        return;
    cfg_val *v = &r->c->vals[r->row];
    if (eta_config_finish_value_(r->c, r->row, v, ETA_EFORMAT, &r->err)) {
        r->failed = true;
        r->fail_line = v->seg[0].line;
    }
    r->row = -1;
}

/* A [section] line, by libinih's rules (a comment first, then a continuation
 * line, then a '[' with a ']' before any " ;"): check and enter it. */
static void see_header(reader *r, const char *line)
{
    const char *s = line;
    if (r->line == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0)
        s += 3; /* a second byte order mark, which libinih skips as well */
    bool indented = cfg_is_space((unsigned char)s[0]);
    const char *p = s;
    while (cfg_is_space((unsigned char)*p))
        p++;
    if (*p != '[' || (indented && r->have_key))
        return;
    const char *q = p + 1;
    for (bool sp = false; *q && *q != ']' && !(sp && *q == ';'); q++)
        sp = cfg_is_space((unsigned char)*q);
    if (*q != ']')
        return; /* libinih reports it */
    finish(r);
    if (r->failed)
        return;
    if (q - (p + 1) >= MAX_SECTION_NAME) { /* libinih would keep only a part of it */
        fail_here(r, (size_t)(p + 1 - line), (size_t)(q - (p + 1)), "a section name of %d bytes or more",
                  MAX_SECTION_NAME);
        return;
    }
    const char *a = p + 1, *b = q;
    while (a < b && cfg_is_space((unsigned char)*a))
        a++;
    while (b > a && cfg_is_space((unsigned char)b[-1]))
        b--;
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)(b - a), a);
    size_t at = (size_t)(a - line), len = (size_t)(b - a);
    int idx = eta_config_section_index_(name);
    if (idx < 0 || idx >= MAX_SECTIONS) {
        char msg[sizeof r->err.msg];
        snprintf(msg, sizeof msg, "unknown section [%s]", name);
        eta_config_hint_section_(msg, sizeof msg, name);
        fail_here(r, at, len, "%s", msg);
        return;
    }
    if (r->sec_line[idx]) {
        fail_here(r, at, len, "duplicate section [%s] (first at line %d)", name, r->sec_line[idx]);
        return;
    }
    r->sec_line[idx] = r->line;
    r->sec = idx;
    r->have_key = false;
}

/* libinih's fgets: the next line, cut to what its buffer holds. */
static char *next_line(char *str, int num, void *stream)
{
    reader *r = stream;
    if (r->failed || r->at >= r->len || num < 2)
        return NULL;
    const char *s = r->text + r->at;
    size_t rest = r->len - r->at;
    const char *nl = memchr(s, '\n', rest);
    size_t n = nl ? (size_t)(nl - s) : rest;
    r->at += n + (nl != NULL);
    r->line++;
    r->raw = s; /* a CR before the LF is white space at its end, trimmed like any */
    r->rawlen = n;
    const char *nul = memchr(s, '\0', n);
    if (nul) {
        fail_here(r, (size_t)(nul - s), 1, "a NUL byte; a config is text");
        return NULL;
    }
    size_t k = n < (size_t)num - 1 ? n : (size_t)num - 1;
    memcpy(str, s, k);
    str[k] = '\0';
    r->buf = str;
    r->bufn = (size_t)num;
    see_header(r, str);
    return r->failed ? NULL : str;
}

/* The offset of p in libinih's line buffer, or SIZE_MAX when it is not in it. */
static size_t offset_in_buf(const reader *r, const char *p)
{
    uintptr_t b = (uintptr_t)r->buf, x = (uintptr_t)p;
    return x >= b && x < b + r->bufn ? (size_t)(x - b) : SIZE_MAX;
}

static void key_line(reader *r, const char *section, const char *name, size_t koff, size_t voff)
{
    size_t klen = strlen(name);
    if (klen == 0) {
        fail_here(r, voff, 0, "a value without a key");
        return;
    }
    const char *sec = eta_config_section_at(r->sec, NULL);
    /* libinih's section must be the one seen by see_header. */
    size_t sl = strlen(section), s0 = 0;
    while (s0 < sl && cfg_is_space((unsigned char)section[s0]))
        s0++;
    while (sl > s0 && cfg_is_space((unsigned char)section[sl - 1]))
        sl--;
    if (sec ? strlen(sec) != sl - s0 || strncmp(sec, section + s0, sl - s0) != 0 : sl > s0) {
        fail_here(r, koff, klen, "cannot tell the section of this line (libinih says [%s])", section);
        return;
    }
    if (!sec) {
        char msg[sizeof r->err.msg];
        snprintf(msg, sizeof msg, "key '%.60s' comes before any [section] line", name);
        eta_config_hint_key_(msg, sizeof msg, -1, name);
        fail_here(r, koff, klen, "%s", msg);
        return;
    }
    int row = eta_config_row_(sec, name);
    if (row < 0) {
        char msg[sizeof r->err.msg];
        snprintf(msg, sizeof msg, "unknown key '%.60s' in [%s]", name, sec);
        eta_config_hint_key_(msg, sizeof msg, r->sec, name);
        fail_here(r, koff, klen, "%s", msg);
        return;
    }
    cfg_val *v = &r->c->vals[row];
    if (v->text) {
        fail_here(r, koff, klen, "duplicate key '%s' in [%s] (first at line %d)", name, sec, v->seg[0].line);
        return;
    }
    size_t st, len;
    eta_config_piece_(r->raw, r->rawlen, voff, voff > 0 && cfg_is_space((unsigned char)r->raw[voff - 1]), &st, &len);
    if (eta_config_add_piece_(v, r->raw, r->rawlen, st, len, r->line, (int)(r->raw - r->base))) {
        fail_here(r, 0, 0, "out of memory");
        r->err.code = ETA_ENOMEM;
        return;
    }
    r->row = row;
}

static int on_pair(void *user, const char *section, const char *name, const char *value)
{
    reader *r = user;
    if (r->failed || !name || !value)
        return 1;
    size_t koff = offset_in_buf(r, name), voff = offset_in_buf(r, value);
    /* A continuation line's key is libinih's copy, not in the line. */
    bool cont = r->have_key && cfg_is_space((unsigned char)r->raw[0]);
    if (voff == SIZE_MAX || cont != (koff == SIZE_MAX)) {
        fail_here(r, 0, r->rawlen, "cannot tell what this line holds (libinih says [%s] %s)", section, name);
        return 1;
    }
    if (cont) {
        size_t st, len;
        eta_config_piece_(r->raw, r->rawlen, voff, true, &st, &len);
        if (len > 0 && r->row >= 0 &&
            eta_config_add_piece_(&r->c->vals[r->row], r->raw, r->rawlen, st, len, r->line,
                                  (int)(r->raw - r->base))) {
            fail_here(r, 0, 0, "out of memory");
            r->err.code = ETA_ENOMEM;
        }
        return 1;
    }
    finish(r);
    if (r->failed)
        return 1;
    r->have_key = name[0] != '\0';
    key_line(r, section, name, koff, voff);
    return 1;
}

/* libinih's verdict on line `line`: say what is wrong with it. */
static void syntax_error(reader *r, int line)
{
    r->at = 0;
    r->line = 0;
    r->failed = false;
    for (int i = 0; i < line; i++) {
        if (r->at >= r->len) /* cannot happen: libinih counted these lines */
            break;
        const char *s = r->text + r->at, *nl = memchr(s, '\n', r->len - r->at);
        size_t n = nl ? (size_t)(nl - s) : r->len - r->at;
        r->at += n + (nl != NULL);
        r->line++;
        r->raw = s;
        r->rawlen = n;
    }
    size_t i = 0, end = r->rawlen;
    while (i < end && cfg_is_space((unsigned char)r->raw[i]))
        i++;
    while (end > i && cfg_is_space((unsigned char)r->raw[end - 1]))
        end--;
    if (i < end && r->raw[i] == '[')
        fail_here(r, i, end - i, "a [section] line without its ']'");
    else
        fail_here(r, i, end - i, "expected 'key = value', a [section] line or a comment");
}

int eta_config_read_string(eta_config **out, const char *text, size_t len, const char *path, eta_err *err)
{
    if (!out)
        return ETA_EINVAL;
    *out = NULL;
    eta_err_clear(err);
    if (!text)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "no config text");
    reader r;
    memset(&r, 0, sizeof r);
    int rc = eta_config_alloc_(&r.c, path, err);
    if (rc)
        return rc;
    r.base = r.text = text;
    r.len = len;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        r.text += 3;
        r.len -= 3;
    }
    r.sec = -1;
    r.row = -1;
    rc = ini_parse_stream(next_line, &r, on_pair, &r);
    finish(&r);
    if (rc == -2 && !r.failed) {
        r.failed = true;
        r.fail_line = 0;
        eta_spec_fail(&r.err, ETA_ENOMEM, NULL, "out of memory");
    } else if (rc > 0 && (!r.failed || rc < r.fail_line)) {
        syntax_error(&r, rc);
    }
    if (r.failed) {
        if (err)
            *err = r.err;
        eta_config_free(r.c);
        return r.err.code ? r.err.code : ETA_EFORMAT;
    }
    *out = r.c;
    return ETA_OK;
}

int eta_config_read(eta_config **out, const char *path, eta_err *err)
{
    if (!out)
        return ETA_EINVAL;
    *out = NULL;
    eta_err_clear(err);
    if (!path)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "no config file named");
    FILE *f = fopen(path, "rb");
    if (!f)
        return eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(errno));
    char *buf = malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    int e = errno;
    bool bad = ferror(f);
    fclose(f);
    int rc;
    if (bad)
        rc = eta_spec_fail(err, ETA_EIO, NULL, "%s: %s", path, strerror(e));
    else if (n > MAX_FILE)
        rc = eta_spec_fail(err, ETA_EFORMAT, NULL, "%s: larger than %d bytes; is it a config?", path, MAX_FILE);
    else
        rc = eta_config_read_string(out, buf, n, path, err);
    free(buf);
    return rc;
}
