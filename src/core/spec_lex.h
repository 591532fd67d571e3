/* core/spec_lex.h - internal: what the spec parser (spec.c) and its lexer
 * (spec_lex.c) share: the parser state, error reporting on it, character
 * classes, and the token readers for white space, numbers and strings.
 * Nothing here allocates spec nodes; that is spec.c's job.
 */
#ifndef ETA_CORE_SPEC_LEX_H
#define ETA_CORE_SPEC_LEX_H

#include "eta/core.h"

#include <stdbool.h>

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* The text being parsed, the read position, the bracket depth, and where
 * errors go (may be NULL). */
typedef struct spec_parser {
    const char *s;
    int pos;
    int depth;
    eta_err *err;
} spec_parser;

/* ---- characters (ASCII only, independent of the locale) ----------------- */

static inline bool is_digit(int c) { return c >= '0' && c <= '9'; }
static inline bool is_ident_start(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static inline bool is_ident_char(int c) { return is_ident_start(c) || is_digit(c); }
static inline bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* ---- errors ------------------------------------------------------------- */

/* Fills *err (if not NULL) with code, position, length (0 when pos < 0) and
 * the formatted message; returns code. */
PRINTF_LIKE(5, 6)
int eta_spec_set_err_(eta_err *err, int code, int pos, int len, const char *fmt, ...);

/* ETA_EFORMAT at [pos, pos + len) of the text; returns ETA_EFORMAT. */
PRINTF_LIKE(4, 5)
int eta_spec_fail_at_(spec_parser *p, int pos, int len, const char *fmt, ...);

/* ETA_ENOMEM, no position; returns ETA_ENOMEM. */
int eta_spec_oom_(spec_parser *p);

/* ---- tokens ------------------------------------------------------------- */

/* Skips white space and # comments from p->pos. */
void eta_spec_skip_ws_(spec_parser *p);

/* Whether a string literal (with an optional r/R/u/U prefix) starts at s. */
bool eta_spec_at_string_(const char *s);

/* The number literal at s (a digit, or '.' and a digit): 0x/0o/0b integers or
 * a decimal integer or float. Returns false if there is none; else sets *len
 * (characters read), *val, *is_int and *lead0 (a decimal integer such as "012"
 * that Python rejects). The caller checks what follows s[*len]. */
bool eta_spec_read_number_(const char *s, int *len, double *val, bool *is_int, bool *lead0);

/* float("...") in Python: white space, a sign, then inf/infinity/nan in any
 * case or a decimal literal. Returns false if s is none of these. */
bool eta_spec_float_from_string_(const char *s, double *out);

/* The string literals at p->pos (at_string true), adjacent ones concatenated
 * as in Python. On success *str is the malloc'd NUL-terminated text (caller
 * frees) and p->pos is just past the last literal; on failure returns
 * ETA_EFORMAT or ETA_ENOMEM with p->err set and nothing to free. */
int eta_spec_read_strings_(spec_parser *p, char **str);

#endif
