/* core/error.h - internal: messages written into fixed buffers (eta_err.msg,
 * the objects' error texts) that show when they were cut. error.c has them. */
#ifndef ETA_CORE_ERROR_H
#define ETA_CORE_ERROR_H

#include <stdarg.h>
#include <stddef.h>

/* vsnprintf into buf (n bytes with the NUL); when the text does not fit, it
 * ends with "..." (cut at a UTF-8 character boundary) instead of stopping
 * mid-word. Returns vsnprintf's count. */
int eta_msg_vformat_(char *buf, size_t n, const char *fmt, va_list ap);

/* Ends the n-byte buffer buf, full to its last byte, with "...". */
void eta_msg_mark_cut_(char *buf, size_t n);

/* path as is when shorter than n bytes, else "..." and its end, in buf
 * (n >= 8): file names in messages that must fit eta_err.msg. (file.c) */
const char *eta_path_short_(const char *path, char *buf, size_t n);

#endif
