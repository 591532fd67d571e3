/* train/config.h - internal to train and cli: a training run's configuration,
 * an INI file (read with Debian's libinih) checked against one schema.
 *
 *     [optimizer]
 *     spec = AdamW(lr=3e-3, weight_decay=0.05)   ; a comment
 *     [train]
 *     epochs = 5
 *
 * The schema (config_schema.c) is one table with a row per key: section, key,
 * type, default, allowed range or values and a line of documentation; the
 * docs (docs/config.md) and `eta train --list-keys` are made from it. Reading
 * (config_read.c) rejects what the schema does not know with the nearest
 * valid name, and every value remembers where it was written, so an error
 * found later inside a spec (eta_err.pos, a byte offset in the value) is
 * shown as `fmnist.ini:12:7: ...` with the line and a caret under it.
 * The values, overrides ("--set train.epochs=3"), typed getters and the
 * resolved config.ini live in config.c. docs/config.md describes the format.
 */
#ifndef ETA_TRAIN_CONFIG_H
#define ETA_TRAIN_CONFIG_H

#include "eta/core.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the schema ----------------------------------------------------------- */

typedef enum eta_config_type {
    ETA_CONFIG_STRING = 0, /* free text, such as a metric name */
    ETA_CONFIG_SPEC,       /* text in the spec language, checked by eta_spec_parse when read */
    ETA_CONFIG_INT,        /* a decimal int64 (1_000 allowed), within [lo, hi] */
    ETA_CONFIG_REAL,       /* a finite number in Python syntax, within lo..hi */
    ETA_CONFIG_BOOL,       /* true/false, yes/no, on/off, 1/0 (any case); kept as true/false */
    ETA_CONFIG_ENUM,       /* one of `values` (any case); kept as written there */
    ETA_CONFIG_PATH,       /* a file or folder name, as written */
    ETA_CONFIG_LIST,       /* words separated by commas or white space (eta_config_get_list) */
    ETA_CONFIG_TYPE_COUNT
} eta_config_type;

enum {
    ETA_CONFIG_REQUIRED = 1, /* must be given, not empty (eta_config_check) */
    ETA_CONFIG_EMPTY_OK = 2, /* an empty value is allowed and means "none"; else it is an error */
    ETA_CONFIG_DERIVED = 4   /* the default is computed (`def` says from what) */
};

/* A row of the schema. Read-only, static storage. */
typedef struct eta_config_key {
    const char *section;
    const char *key;
    eta_config_type type;
    const char *def;     /* the default as a file would hold it ("" none); for a
                            DERIVED key, how it is computed ("data.batch_size") */
    double lo, hi;       /* INT, REAL: the allowed range (+-INFINITY: open-ended) */
    bool lo_open, hi_open; /* REAL: whether the range excludes lo, hi */
    const char *values;  /* ENUM: the allowed values, "step|epoch" */
    unsigned flags;      /* ETA_CONFIG_REQUIRED, _EMPTY_OK, _DERIVED */
    const char *doc;     /* one line */
} eta_config_key;

/* The rows in file order (sections data, model, optimizer, schedule, train,
 * guard, lr_find, output), i in [0, count); NULL out of range. */
int eta_config_key_count(void);
const eta_config_key *eta_config_key_at(int i);
/* The row of section.key, or NULL. Names are case-sensitive. */
const eta_config_key *eta_config_key_find(const char *section, const char *key);
/* The sections in file order with a line saying what each holds. */
int eta_config_section_count(void);
const char *eta_config_section_at(int i, const char **doc);
/* "string", "spec", "int", ... */
const char *eta_config_type_name(eta_config_type t);

/* ---- a configuration ------------------------------------------------------- */

typedef struct eta_config eta_config;

/* Reads an INI file against the schema. Fails (ETA_EIO: the file cannot be
 * read; ETA_EFORMAT: its content) with a message located as
 * "PATH:LINE[:COL]: ...", and err->pos/len the byte offset and length of the
 * culprit in the file:
 *   a syntax error, a NUL byte;
 *   an unknown section or key, a key before any section, with the nearest
 *     valid name ("did you mean epochs?") or the section the key belongs in;
 *   a duplicate section or key (naming the first line);
 *   a bad value: not an int, out of range, an unknown enum value (with the
 *     valid ones), a spec that does not parse, an empty value (except for
 *     EMPTY_OK keys), a non-spec value on several lines.
 * Required keys may be missing here (an override may give them): see
 * eta_config_check. The format (comments, quotes, continuation lines) is in
 * docs/config.md. *out is NULL on failure. */
int eta_config_read(eta_config **out, const char *path, eta_err *err);
/* The same from memory: `text` (len bytes, NULs are errors) read as if it
 * were the file `path` (used in messages and for output.dir's default; NULL:
 * "config"). */
int eta_config_read_string(eta_config **out, const char *text, size_t len, const char *path, eta_err *err);
/* An empty configuration: every key at its default (output.dir's default is
 * runs/<base name of path without extension>, runs/default for NULL). */
int eta_config_new(eta_config **out, const char *path, eta_err *err);
void eta_config_free(eta_config *c);

/* Overrides one key: "train.epochs=3", or "optimizer=AdamW(lr=3e-3)" for a
 * section's spec (data, model, optimizer, schedule). The value is read as the
 * right-hand side of a line of the file (comments cut, quotes removed, each
 * line of a multi-line spec trimmed) and checked the same way; errors
 * (ETA_EINVAL) are located as "--set train.epochs=x: ..." with err->pos/len
 * the culprit's byte offset in `assignment`. Replaces any earlier value. */
int eta_config_set(eta_config *c, const char *assignment, eta_err *err);

/* Fails (ETA_EINVAL) when a REQUIRED key has no value, naming the key and the
 * file: "fmnist.ini: [model] spec is required: ...". Call after the overrides. */
int eta_config_check(const eta_config *c, eta_err *err);

/* The resolved value of section.key: as given, else its default ("" when
 * none; a DERIVED default computed: data.eval_batch_size is batch_size's
 * value, output.dir runs/<config name>). NULL for a key not in the schema.
 * Valid until the key is set again or c is freed. */
const char *eta_config_get(const eta_config *c, const char *section, const char *key);
/* Whether section.key was given (in the file or by eta_config_set). */
bool eta_config_is_set(const eta_config *c, const char *section, const char *key);

/* Typed getters of the resolved value. ETA_EINVAL for a key not in the
 * schema or of another type ("train.epochs is an int, not a bool"). */
int eta_config_get_int(const eta_config *c, const char *section, const char *key, int64_t *out, eta_err *err);
int eta_config_get_real(const eta_config *c, const char *section, const char *key, double *out, eta_err *err);
int eta_config_get_bool(const eta_config *c, const char *section, const char *key, bool *out, eta_err *err);
/* ENUM: the index of the value in the row's `values` (0 for "step" in "step|epoch"). */
int eta_config_get_enum(const eta_config *c, const char *section, const char *key, int *out, eta_err *err);
/* LIST: *items (one malloc'd block; free(*items)) holds *count strings. */
int eta_config_get_list(const eta_config *c, const char *section, const char *key, char ***items, int *count,
                        eta_err *err);

/* Where the value of section.key was written: the file's path (with *line and
 * *col, 1-based, of its first character; the column counts UTF-8
 * characters), "--set" for an override (*line 0, *col its column in the
 * assignment), or NULL for a default (*line = *col = 0). line, col may be NULL. */
const char *eta_config_where(const eta_config *c, const char *section, const char *key, int *line, int *col);
/* Locates byte `pos` of section.key's value (a spec error's eta_err.pos) as
 * above: *line, *col of that character. Returns the same as eta_config_where. */
const char *eta_config_locate(const eta_config *c, const char *section, const char *key, int pos, int *line,
                              int *col);

/* Formats `e`, an error whose pos/len lie in the value of section.key (for
 * example eta_spec_bind's on the optimizer spec), as the place it was written,
 * the message, and that line with a caret under the culprit:
 *
 *     fmnist.ini:12:14: AdamW() got an unexpected keyword argument 'betas1'; ...
 *       spec = AdamW(betas1=0.9)
 *                    ^^^^^^
 * An override reads "--set optimizer=AdamW(betas1=0.9): ..." over the
 * assignment, a default "optimizer.spec (default): ..." over the value. With
 * e->pos < 0 the message alone, after the value's location. No trailing
 * newline. snprintf's contract: at most n bytes with the NUL (a cut text
 * ends with "..."), returns the untruncated length. */
int eta_config_format_error(const eta_config *c, const char *section, const char *key, const eta_err *e,
                            char *buf, size_t n);

/* The file read, or NULL (eta_config_new without a path, read_string with NULL). */
const char *eta_config_path(const eta_config *c);

/* The resolved configuration as INI text: every key in schema order, with its
 * value or default, and a comment line per section; eta_config_read gives the
 * same values back. *text is malloc'd, NUL-terminated, *len bytes (len may be
 * NULL). ETA_EINVAL if a value cannot be written so that it reads back the
 * same (a value needing quotes that holds both ' and "). */
int eta_config_to_string(const eta_config *c, char **text, size_t *len, eta_err *err);
/* Writes that text to `path` atomically (a temporary file in the same folder,
 * flushed and renamed over path); ETA_EIO naming the path on failure. */
int eta_config_write(const eta_config *c, const char *path, eta_err *err);

#endif
