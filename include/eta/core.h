/* eta/core.h - errors, element types, checksums, files, checkpoints and the
 * spec language.
 *
 * The core layer needs only libc (POSIX for files) and libm. It holds what
 * every other layer shares: the error codes and the error record, the float
 * types eta computes in, CRC-32, atomic file writes, the checkpoint
 * container, and the parser for specs: optimizers,
 * schedules and models written as Python constructor calls, such as
 * `AdamW(lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)`.
 */
#ifndef ETA_CORE_H
#define ETA_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ETA_VERSION_MAJOR 0
#define ETA_VERSION_MINOR 1
#define ETA_VERSION_PATCH 0
#define ETA_VERSION_STRING "0.1.0"

/* Error codes. Functions that can fail return ETA_OK or one of these. */
enum {
    ETA_OK = 0,
    ETA_EINVAL = -1,      /* a bad argument or hyperparameter */
    ETA_ENOMEM = -2,      /* an allocation failed */
    ETA_EFORMAT = -3,     /* a file or text that does not parse */
    ETA_EIO = -4,         /* reading or writing a file failed */
    ETA_ENONFINITE = -5,  /* a NaN or Inf where finite numbers are required */
    ETA_ESTATE = -6,      /* a call out of order (for example a step before any parameter) */
    ETA_ENOTFOUND = -7,   /* a name looked up is absent (a checkpoint section) */
    ETA_ECOUNT_ = 8
};

/* A static text for an error code ("invalid argument", ...). Never NULL. */
const char *eta_strerror(int code);

/* The error record filled by functions that have no object to keep a
 * message on (constructors, parsers). Every such function accepts NULL.
 * `pos`/`len` locate the error in the text that was parsed (byte offset and
 * length), or are -1/0 when the error has no location. */
typedef struct eta_err {
    int code;
    int pos;
    int len;
    char msg[256];
} eta_err;

/* Clears `e` (code ETA_OK, pos -1, empty message). NULL is allowed. */
void eta_err_clear(eta_err *e);

/* Formats `e` for a person: the message, then, when the error has a location
 * in `text`, the text on its own line and a caret line under the culprit:
 *
 *     betas[1] must be in [0, 1), got 1.5
 *       AdamW(lr=0.1, betas=(0.9, 1.5))
 *                                 ^^^
 * Writes at most `n` bytes including the NUL, ending with "..." when the
 * text does not fit; returns what snprintf would (the untruncated length). */
int eta_err_format(const eta_err *e, const char *text, char *buf, size_t n);

/* Names: hints for a name that is in no catalogue ("did you mean ...?").
 *
 * eta_name_distance: the fewest insertions, deletions, substitutions and
 * swaps of neighbouring characters that turn a into b, ignoring ASCII case
 * (optimal string alignment; "Linera" is 1 from "Linear", "relu" 0 from
 * "ReLU"). Names longer than 128 bytes count as max(strlen(a), strlen(b)).
 *
 * eta_names_hint appends to the NUL-terminated text in buf (n bytes in all,
 * the NUL included) a hint for `name`, which none of the `count` names
 * name_at(ctx, 0..count) is: first the close names (a few edits away, or
 * starting with `name` when it has three characters or more), then the list,
 * in the first of these forms that fits:
 *   "; did you mean Adam or AdamW? valid optimizers: SGD, Adam, AdamW, ..."
 *                                                 (every name: nothing is cut)
 *   "; did you mean CosineAnnealingLR? (eta schedule --list shows all 57)"
 *   "; valid schedules include StepLR, WSD, ... (eta schedule --list shows all 57)"
 *                                                 (no close name: the nearest few)
 *   "; did you mean X?"                           (the close names alone)
 *   "; (eta schedule --list shows all 57)"
 * `what` is the plural noun ("schedules"); `see` says where every name is
 * listed, or NULL ("(14 arguments in all)"). Nothing is appended if not even the last
 * form fits; a list is never cut without "...". name_at may return NULL for
 * an index to skip; the name it returns need only stay valid until its next
 * call. Returns the length of the text in buf. */
typedef const char *(*eta_name_fn)(const void *ctx, int i);
int eta_name_distance(const char *a, const char *b);
size_t eta_names_hint(char *buf, size_t n, const char *name, eta_name_fn name_at, const void *ctx, int count,
                      const char *what, const char *see);

/* The element types eta computes in. */
typedef enum eta_dtype {
    ETA_F32 = 0,
    ETA_F64 = 1,
    ETA_DTYPE_COUNT
} eta_dtype;

/* Bytes per element of `t` (4 or 8). */
size_t eta_dtype_size(eta_dtype t);

/* A caller-supplied allocator (Lua's lua_Alloc, split in two). Objects that
 * take one in their config use it for every allocation they make; NULL
 * means malloc/free. `free` may be called with NULL. */
typedef struct eta_allocator {
    void *(*alloc)(void *ud, size_t size);
    void (*free)(void *ud, void *ptr);
    void *ud;
} eta_allocator;

/* CRC-32 (IEEE 802.3, the zlib polynomial). Start with crc = 0. */
uint32_t eta_crc32(uint32_t crc, const void *data, size_t n);

/* ---------------------------------------------------------------------------
 * Whole files (POSIX).
 *
 * eta_file_write_atomic writes the concatenation of parts[0..nparts)
 * (lens[i] bytes each; a part of 0 bytes may be NULL) to a new temporary file
 * "<path>.tmp.<pid>.<n>" in path's folder, fsyncs it, renames it over path
 * and fsyncs the folder. path is never left partial: a reader, or a process
 * after a crash, sees the previous file or the new one. On failure before the
 * rename the temporary file is removed and path is untouched; the message
 * names the path, the step and the system's reason ("runs/a/ckpt.bin:
 * writing: No space left on device"). A process killed mid-write leaves its
 * temporary file behind (nothing reads it; it may be deleted). A symbolic
 * link at path is replaced, not followed. The new file gets mode 0666 less
 * the umask. Errors: ETA_EINVAL (arguments), ETA_ENOMEM, ETA_EIO.
 *
 * eta_file_read_all reads a whole file (or pipe) into *data, a malloc'd
 * buffer the caller free()s, holding *len bytes and one NUL after them (so
 * text may be read as a string). eta_file_read_max refuses files larger
 * than max bytes (ETA_EINVAL, saying both sizes) before allocating them.
 * Errors name the path: ETA_EIO (with the system's reason: a missing file, a
 * folder, permissions), ETA_ENOMEM. On failure *data is NULL, *len 0.
 * ------------------------------------------------------------------------ */
int eta_file_write_atomic(const char *path, const void *const *parts, const size_t *lens, int nparts,
                          eta_err *err);
int eta_file_read_all(const char *path, void **data, size_t *len, eta_err *err);
int eta_file_read_max(const char *path, size_t max, void **data, size_t *len, eta_err *err);

/* ---------------------------------------------------------------------------
 * The checkpoint container: named binary sections in one checksummed,
 * versioned file (ckpt.c has the byte layout). Sections hold what the saved
 * objects give as bytes (eta_optim_save, eta_net_save_state, ...); the
 * container knows nothing of their content.
 *
 * Writing: eta_ckpt_new, eta_ckpt_add for each section (the bytes are
 * copied), eta_ckpt_write (atomic, eta_file_write_atomic). Reading:
 * eta_ckpt_read checks everything before returning a container: the magic,
 * the format version, every section's bounds, name and CRC-32, that no name
 * repeats, the zero padding, and the CRC-32 of the whole file; a truncated or
 * corrupted file is ETA_EFORMAT with a message naming the file, the section
 * and the byte offset ("ckpt.bin: section 'optim' (data at offset 4120,
 * 9000 bytes): CRC-32 mismatch: stored 0x1c291ca3, computed 0x8f0e4d12").
 * eta_ckpt_get gives a section's bytes (valid until eta_ckpt_free, aligned
 * to 8 bytes) or ETA_ENOTFOUND.
 * Names: 1 to 255 printable ASCII characters (space to '~'), unique.
 * ------------------------------------------------------------------------ */
typedef struct eta_ckpt eta_ckpt;
/* An empty container. ETA_ENOMEM. */
int eta_ckpt_new(eta_ckpt **out);
/* Adds a copy of data[0..len) as section `name`. ETA_EINVAL for a bad or
 * repeated name or NULL data with len > 0; ETA_ENOMEM. */
int eta_ckpt_add(eta_ckpt *c, const char *name, const void *data, size_t len);
/* Writes the container to path atomically. */
int eta_ckpt_write(eta_ckpt *c, const char *path, eta_err *err);
/* Reads and checks the file at path; *out is NULL on error. */
int eta_ckpt_read(eta_ckpt **out, const char *path, eta_err *err);
/* The same in memory: the bytes a write would put in a file (a malloc'd
 * buffer to free()), and a container checked and copied from such bytes,
 * `what` naming them in messages ("snapshot"; NULL: "checkpoint"). For
 * in-memory snapshots. */
int eta_ckpt_to_bytes(const eta_ckpt *c, void **buf, size_t *len);
int eta_ckpt_from_bytes(eta_ckpt **out, const void *data, size_t len, const char *what, eta_err *err);
/* Section `name`: ETA_OK, or ETA_ENOTFOUND (then *data NULL, *len 0). */
int eta_ckpt_get(const eta_ckpt *c, const char *name, const void **data, size_t *len);
/* The sections in file order: their number, and the name of section i
 * (NULL out of range). */
int eta_ckpt_count(const eta_ckpt *c);
const char *eta_ckpt_name(const eta_ckpt *c, int i);
void eta_ckpt_free(eta_ckpt *c);

/* ---------------------------------------------------------------------------
 * The spec language: a Python call or literal.
 *
 *   value := number | True | False | None | 'str' | "str" | name
 *          | ( value , ... ) | [ value , ... ] | { value : value , ... }
 *          | name ( [value , ...] [name = value , ...] )
 *
 * Numbers follow Python (1, -2, 3e-4, 1_000, .5, inf and nan are names that
 * denote floats, as float('inf') would). A one-element tuple needs its comma
 * "(0.9,)" as in Python; "(x)" is just x. Dict keys are string or number
 * literals: {'init_value': 0.1}, where a repeated string key is an error, or
 * {100: 0.1}, where a repeated number key stays in the tree for the reader,
 * which lets the last one win as Python does. dict(a=1, b=2) is the dict
 * {'a': 1, 'b': 2}. Dotted names such as `torch.optim.AdamW` are allowed;
 * the last component is the call's name.
 * The tree is read-only after parsing and owned by its root.
 * ------------------------------------------------------------------------ */

typedef enum eta_spec_kind {
    ETA_SPEC_NUMBER = 0,  /* num, is_int */
    ETA_SPEC_BOOL,        /* num is 0 or 1 */
    ETA_SPEC_NONE,
    ETA_SPEC_STRING,      /* str (unescaped, NUL-terminated) */
    ETA_SPEC_NAME,        /* a bare identifier: str */
    ETA_SPEC_TUPLE,       /* items[0..n) */
    ETA_SPEC_LIST,        /* items[0..n) */
    ETA_SPEC_DICT,        /* n pairs: items[2i] key, items[2i+1] value */
    ETA_SPEC_CALL,        /* str = callee name, items[0..n) arguments, keys[i] keyword or NULL */
    ETA_SPEC_KIND_COUNT
} eta_spec_kind;

typedef struct eta_spec eta_spec;
struct eta_spec {
    eta_spec_kind kind;
    int pos;             /* byte offset of the value's first character in the text */
    int len;             /* its length in bytes */
    double num;          /* NUMBER, BOOL */
    bool is_int;         /* NUMBER written without '.', 'e' (and not inf/nan) */
    const char *str;     /* STRING, NAME, CALL */
    int n;               /* TUPLE, LIST, CALL: items; DICT: pairs */
    eta_spec **items;
    const char **keys;   /* CALL only: keys[i] is the keyword of items[i], or NULL */
    const int *key_pos;  /* CALL only: byte offset of keys[i] (-1 for positional) */
};

/* Parses `text` (one value, surrounded by optional white space) into a tree.
 * On error returns ETA_EFORMAT with err->pos at the offending character and a
 * message such as "expected ')' or ',' after argument". */
int eta_spec_parse(eta_spec **out, const char *text, eta_err *err);
void eta_spec_free(eta_spec *s);

/* A short name for a kind, for messages: "number", "tuple", "call", ... */
const char *eta_spec_kind_name(eta_spec_kind k);

/* One parameter of a signature to bind a call against, in declaration order.
 * Parameters with `kw_only` set cannot be given by position (those after `*`
 * in a Python signature). */
typedef struct eta_spec_param {
    const char *name;
    bool required;
    bool kw_only;
} eta_spec_param;

/* Binds the arguments of `call` (kind CALL) to `sig` as Python does:
 * positional arguments fill the non-keyword-only parameters in order, then
 * keywords by name. out[i] receives the value bound to sig[i] or NULL.
 * Errors (ETA_EINVAL, located at the culprit):
 *   "AdamW() got an unexpected keyword argument 'betas1'; valid arguments: lr, betas, ..."
 *   "AdamW() got multiple values for argument 'lr'"
 *   "AdamW() takes at most 5 positional arguments (6 given)"
 *   "OneCycleLR() missing required argument 'max_lr'"
 *   "positional argument follows keyword argument" */
int eta_spec_bind(const eta_spec *call, const eta_spec_param *sig, int nsig,
                  const eta_spec **out, eta_err *err);

/* Typed readers. `name` is the argument's name for messages ("betas[1]").
 * Each checks the kind (an int is accepted where a real is wanted; a bool is
 * not a number) and fills err with the location of `v` on failure. */
int eta_spec_get_real(const eta_spec *v, const char *name, double *out, eta_err *err);
int eta_spec_get_int(const eta_spec *v, const char *name, int64_t *out, eta_err *err);
int eta_spec_get_bool(const eta_spec *v, const char *name, bool *out, eta_err *err);
int eta_spec_get_string(const eta_spec *v, const char *name, const char **out, eta_err *err);

/* A tuple or list of exactly `n` reals (n = -1: any length up to `cap`).
 * Writes the count to *count when not NULL. */
int eta_spec_get_reals(const eta_spec *v, const char *name, double *out, int n, int cap,
                       int *count, eta_err *err);

/* Range check with the message "NAME must be in [lo, hi), got X": `lo_open`
 * and `hi_open` choose the brackets; +-INFINITY leaves a side unbounded (the
 * message then reads "must be >= 0" or "must be < 1"). NaN is always out of
 * range. `v` (may be NULL) locates the error. */
int eta_spec_check_range(const eta_spec *v, const char *name, double x, double lo, bool lo_open,
                         double hi, bool hi_open, eta_err *err);

/* Sets err (when not NULL) to code, location of `v` (or none if NULL) and a
 * printf-style message; a message longer than err->msg ends with "...".
 * Returns code. For binders built on this parser. */
int eta_spec_fail(eta_err *err, int code, const eta_spec *v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
