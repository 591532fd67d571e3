/* train/config_impl.h - internal to config*.c: how a configuration keeps its
 * values and where each was written, shared by the schema's checks
 * (config_schema.c), the INI reader (config_read.c) and the rest (config.c).
 *
 * A value is the text of one or more pieces: the right-hand side of a
 * `key = value` line, then each continuation line, joined with '\n'. A piece
 * remembers its line, so an offset anywhere in the value maps back to a line
 * and column of the file (or of the --set assignment).
 */
#ifndef ETA_TRAIN_CONFIG_IMPL_H
#define ETA_TRAIN_CONFIG_IMPL_H

#include "train/config.h"

#if defined(__GNUC__)
#define CFG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CFG_PRINTF(f, a)
#endif

/* White space as libinih trims it (isspace in the C locale); a CR before a
 * line's LF is white space at its end. */
static inline bool cfg_is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

typedef struct cfg_seg {
    int off;      /* byte offset in the value where this piece starts */
    int line;     /* 1-based line of the file; 0 for an override */
    int raw_off;  /* byte offset of the piece in raw */
    int file_off; /* byte offset of raw in the text parsed (the file; 0 for an override) */
    char *raw;    /* the whole line (no line break), or the whole assignment */
} cfg_seg;

typedef struct cfg_val {
    char *text;   /* NULL: not given, the default applies */
    bool set;     /* given by eta_config_set */
    int nseg;
    cfg_seg *seg;
} cfg_val;

struct eta_config {
    char *path;        /* the file read, or NULL */
    char *default_dir; /* output.dir's default: runs/<base name> */
    cfg_val *vals;     /* one per schema row */
};

/* ---- schema (config_schema.c) ---- */

/* The row of section.key / the index of a section, or -1. */
int eta_config_row_(const char *section, const char *key);
int eta_config_section_index_(const char *name);
/* Whether section i has a `spec` key (the shorthand "optimizer=..."). */
bool eta_config_section_has_spec_(int i);
/* Appends to the message in buf (n bytes) a hint for an unknown section, or
 * for an unknown key of section `sec` (the section it belongs in, or the
 * nearest keys). */
void eta_config_hint_section_(char *buf, size_t n, const char *name);
void eta_config_hint_key_(char *buf, size_t n, int sec, const char *key);
/* Checks the value of `row` (*text, not NULL, malloc'd), writing bools and
 * enums as the schema does (*text may be replaced). On error: e->pos/len in
 * the value, the message names the key ("train.epochs must be an integer,
 * got 'x'"); ETA_EINVAL or ETA_ENOMEM. */
int eta_config_check_value_(int row, char **text, eta_err *e);
/* Parses an int the way INT values are written; false if it is not one
 * (*overflow set when it is one but does not fit int64). */
bool eta_config_parse_int_(const char *s, int64_t *out, bool *overflow);

/* ---- values (config.c) ---- */

/* Reads one line of a value: from s[from] (after the key's '=' or the
 * indentation) to n, white space trimmed and cut at a comment: ';' or '#'
 * at the start or after white space, outside '...' and "..." strings.
 * `space_before`: s[from - 1] is white space. Gives the piece's start and
 * length in s. */
void eta_config_piece_(const char *s, size_t n, size_t from, bool space_before, size_t *start, size_t *len);
/* Appends a piece (raw[at..at+n)) to v: joined with '\n', or in place of an
 * empty value. raw (rawlen bytes, copied) is the line; line/file_off as in
 * cfg_seg. ETA_ENOMEM on failure. */
int eta_config_add_piece_(cfg_val *v, const char *raw, size_t rawlen, size_t at, size_t n, int line, int file_off);
void eta_config_val_clear_(cfg_val *v);
/* Completes a value given for `row`: a non-spec value must be one line and
 * loses its quotes ('...' or "..." around the whole of it); an empty value
 * must be allowed; then eta_config_check_value_. Errors (`code`) located as
 * eta_config_fail_at_ does. */
int eta_config_finish_value_(const eta_config *c, int row, cfg_val *v, int code, eta_err *err);
/* Sets err: code, pos/len the culprit (value offset `pos`, `len` bytes) in the
 * parsed text, and the message prefixed by where it is ("PATH:L:C: ",
 * "--set ASSIGNMENT: "). Returns code. */
int eta_config_fail_at_(eta_err *err, int code, const eta_config *c, const cfg_val *v, int pos, int len,
                        const char *fmt, ...) CFG_PRINTF(7, 8);
/* A configuration with no values; path (may be NULL) copied. */
int eta_config_alloc_(eta_config **out, const char *path, eta_err *err);

#endif
