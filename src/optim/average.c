/* optim/average.c - weight averaging as torch.optim.swa_utils.AveragedModel
 * does it (PyTorch 2.x), over caller-owned arrays: SWA and EMA, buffers
 * averaged or copied (use_buffers), the spec ("SWA(start=0.75)"), and exact
 * save and restore. The contract is in eta/optim.h.
 *
 * update_parameters, per averaged array a and model array x:
 *   n_averaged == 0:  a <- x
 *   SWA:              a <- a + (x - a) / (n_averaged + 1)   (get_swa_avg_fn, the CPU path)
 *   EMA:              a <- lerp(a, x, 1 - decay)            (get_ema_multi_avg_fn)
 *   buffers without use_buffers: a <- x; then n_averaged += 1.
 * The SWA division is by the count in the dtype, as torch divides a float
 * tensor by a long one. update_bn (recomputing BatchNorm statistics for
 * the average) needs a network: eta train does it (src/train).
 *
 * Format, version 1, little-endian:
 *   "ETAAVRG1" | u32 version | u32 kind | u32 dtype | f64 decay | u8 use_buffers |
 *   i64 n_averaged | u32 narrays | per array: u64 n | u8 buffer | n elements |
 *   u32 CRC-32 of everything before it
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le.h"
#include "optim/optim_impl.h"

#define MAGIC "ETAAVRG1"
#define VERSION 1u

typedef struct avg_array {
    void *model, *avg;
    size_t n;
    bool buffer;
} avg_array;

struct eta_average {
    eta_average_config cfg;
    eta_allocator alloc;
    avg_array *arr;
    int narr, cap;
    int64_t count;
    char err[256];
};

typedef struct avg_k {
    void *avg, *model;
    int mode;       /* 0 copy, 1 SWA, 2 EMA, 3 swap */
    double w;       /* SWA: n_averaged + 1; EMA: 1 - decay */
} avg_k;

#define ETA_SELF "average.c"
#include "optim/instantiate.h"

static const char *const kind_names[ETA_AVERAGE_COUNT] = {"SWA", "EMA"};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(eta_average *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    eta_msg_vformat_(a->err, sizeof a->err, fmt, ap);
    va_end(ap);
    return code;
}

const char *eta_average_name(eta_average_kind kind)
{
    return (unsigned)kind < ETA_AVERAGE_COUNT ? kind_names[kind] : NULL;
}

eta_average_config eta_average_defaults(eta_average_kind kind)
{
    eta_average_config c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    c.dtype = ETA_F32;
    if (kind == ETA_AVERAGE_EMA) {
        c.decay = 0.999;
        c.every = 1;
    } else {
        c.start = 0.75;
    }
    return c;
}

int eta_average_describe(eta_average_kind kind, char *buf, size_t n)
{
    if (kind == ETA_AVERAGE_EMA)
        return snprintf(buf, n, "EMA(decay=0.999, start=0.0, every=1, use_buffers=False)");
    if (kind == ETA_AVERAGE_SWA)
        return snprintf(buf, n, "SWA(start=0.75, every=0, use_buffers=False)");
    return snprintf(buf, n, "?");
}

/* Checks a configuration; err names the argument. */
static int check_config(const eta_average_config *c, eta_err *err)
{
    if ((unsigned)c->kind >= ETA_AVERAGE_COUNT)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "unknown averaging kind %d", (int)c->kind);
    const char *name = kind_names[c->kind];
    if (c->dtype != ETA_F32 && c->dtype != ETA_F64)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: dtype must be ETA_F32 or ETA_F64", name);
    if (c->kind == ETA_AVERAGE_EMA && !(c->decay >= 0 && c->decay <= 1))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: decay must be in [0, 1], got %g", name, c->decay);
    if (!(c->start >= 0 && c->start < 1))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: start must be in [0, 1), got %g", name, c->start);
    if (c->every < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: every must be >= 0, got %lld", name, (long long)c->every);
    if (c->threads < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: threads must be >= 0, got %d", name, c->threads);
    return ETA_OK;
}

int eta_average_config_from_spec(eta_average_config *cfg, const char *spec, eta_err *err)
{
    eta_err_clear(err);
    eta_spec *t;
    int rc = eta_spec_parse(&t, spec, err);
    if (rc)
        return rc;
    int kind = -1;
    if (t->kind == ETA_SPEC_CALL)
        for (int k = 0; k < ETA_AVERAGE_COUNT; k++)
            if (!strcmp(t->str, kind_names[k]))
                kind = k;
    if (kind < 0) {
        rc = eta_spec_fail(err, ETA_EINVAL, t, "expected SWA(...) or EMA(...), got %s%s%s",
                           t->kind == ETA_SPEC_CALL ? "'" : "",
                           t->kind == ETA_SPEC_CALL ? t->str : eta_spec_kind_name(t->kind),
                           t->kind == ETA_SPEC_CALL ? "'" : "");
        eta_spec_free(t);
        return rc;
    }
    eta_average_config c = eta_average_defaults((eta_average_kind)kind);
    bool ema = kind == ETA_AVERAGE_EMA;
    /* SWA(start, every, use_buffers); EMA(decay, start, every, use_buffers) */
    const eta_spec_param sig[] = {{"decay", false, false},
                                  {"start", false, false},
                                  {"every", false, false},
                                  {"use_buffers", false, false}};
    const eta_spec *v[4] = {NULL};
    rc = eta_spec_bind(t, sig + !ema, 4 - !ema, v + !ema, err);
    if (!rc && v[0] && !(rc = eta_spec_get_real(v[0], "decay", &c.decay, err)))
        rc = eta_spec_check_range(v[0], "decay", c.decay, 0, false, 1, false, err);
    if (!rc && v[1] && !(rc = eta_spec_get_real(v[1], "start", &c.start, err)))
        rc = eta_spec_check_range(v[1], "start", c.start, 0, false, 1, true, err);
    if (!rc && v[2] && !(rc = eta_spec_get_int(v[2], "every", &c.every, err)))
        rc = eta_spec_check_range(v[2], "every", (double)c.every, 0, false, INFINITY, true, err);
    if (!rc && v[3])
        rc = eta_spec_get_bool(v[3], "use_buffers", &c.use_buffers, err);
    eta_spec_free(t);
    if (!rc)
        *cfg = c;
    return rc;
}

int eta_average_new(eta_average **out, const eta_average_config *cfg, eta_err *err)
{
    eta_err_clear(err);
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc)
        return rc;
    eta_allocator al = eta_optim_allocator_(cfg->alloc);
    eta_average *a = al.alloc(al.ud, sizeof *a);
    if (!a)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", kind_names[cfg->kind]);
    memset(a, 0, sizeof *a);
    a->cfg = *cfg;
    a->cfg.alloc = NULL;
    a->alloc = al;
    *out = a;
    return ETA_OK;
}

void eta_average_free(eta_average *a)
{
    if (!a)
        return;
    for (int i = 0; i < a->narr; i++)
        a->alloc.free(a->alloc.ud, a->arr[i].avg);
    if (a->arr)
        a->alloc.free(a->alloc.ud, a->arr);
    a->alloc.free(a->alloc.ud, a);
}

int eta_average_add(eta_average *a, void *model, size_t n, bool buffer)
{
    const char *name = kind_names[a->cfg.kind];
    if (!model || n == 0)
        return fail(a, ETA_EINVAL, "%s: array %d: model must not be NULL and n > 0", name, a->narr);
    size_t es = eta_dtype_size(a->cfg.dtype);
    if (n > SIZE_MAX / es)
        return fail(a, ETA_EINVAL, "%s: array %d: too many elements", name, a->narr);
    if (a->narr == a->cap) {
        int ncap = a->cap ? 2 * a->cap : 8;
        avg_array *arr = a->alloc.alloc(a->alloc.ud, (size_t)ncap * sizeof *arr);
        if (!arr)
            return fail(a, ETA_ENOMEM, "%s: out of memory", name);
        if (a->arr) {
            memcpy(arr, a->arr, (size_t)a->narr * sizeof *arr);
            a->alloc.free(a->alloc.ud, a->arr);
        }
        a->arr = arr;
        a->cap = ncap;
    }
    void *copy = a->alloc.alloc(a->alloc.ud, n * es);
    if (!copy)
        return fail(a, ETA_ENOMEM, "%s: out of memory for array %d (%zu elements)", name, a->narr, n);
    memcpy(copy, model, n * es);
    a->arr[a->narr] = (avg_array){model, copy, n, buffer};
    return a->narr++;
}

static void run(const eta_average *a, const avg_array *x, int mode, double w)
{
    avg_k k = {x->avg, x->model, mode, w};
    eta_parallel_for(x->n, a->cfg.threads, a->cfg.dtype == ETA_F32 ? avg_chunk_float : avg_chunk_double, &k);
}

int eta_average_update(eta_average *a)
{
    if (a->narr == 0)
        return fail(a, ETA_ESTATE, "%s: update called with no arrays", kind_names[a->cfg.kind]);
    int mode = a->count == 0 ? 0 : a->cfg.kind == ETA_AVERAGE_SWA ? 1 : 2;
    double w = a->cfg.kind == ETA_AVERAGE_SWA ? (double)(a->count + 1) : 1 - a->cfg.decay;
    for (int i = 0; i < a->narr; i++) {
        const avg_array *x = &a->arr[i];
        run(a, x, x->buffer && !a->cfg.use_buffers ? 0 : mode, w);
    }
    a->count++;
    return ETA_OK;
}

int64_t eta_average_count(const eta_average *a)
{
    return a->count;
}

const void *eta_average_data(const eta_average *a, int i, size_t *n)
{
    if (i < 0 || i >= a->narr)
        return NULL;
    if (n)
        *n = a->arr[i].n;
    return a->arr[i].avg;
}

int eta_average_swap(eta_average *a)
{
    for (int i = 0; i < a->narr; i++)
        run(a, &a->arr[i], 3, 0);
    return ETA_OK;
}

const char *eta_average_error(const eta_average *a)
{
    return a ? a->err : "";
}

/* ---- save and restore ----------------------------------------------- */

static size_t header_bytes(void)
{
    return 8 + 4 + 4 + 4 + 8 + 1 + 8 + 4;
}

int eta_average_save(eta_average *a, void **out, size_t *out_len)
{
    size_t es = eta_dtype_size(a->cfg.dtype), len = header_bytes() + 4;
    for (int i = 0; i < a->narr; i++)
        len += 9 + a->arr[i].n * es;
    unsigned char *b = a->alloc.alloc(a->alloc.ud, len), *p = b;
    if (!b)
        return fail(a, ETA_ENOMEM, "%s: out of memory saving the average", kind_names[a->cfg.kind]);
    uint64_t u;
    memcpy(p, MAGIC, 8);
    eta_put_le(p + 8, VERSION, 4);
    eta_put_le(p + 12, (uint32_t)a->cfg.kind, 4);
    eta_put_le(p + 16, (uint32_t)a->cfg.dtype, 4);
    memcpy(&u, &a->cfg.decay, 8);
    eta_put_le(p + 20, u, 8);
    p[28] = a->cfg.use_buffers;
    eta_put_le(p + 29, (uint64_t)a->count, 8);
    eta_put_le(p + 37, (uint32_t)a->narr, 4);
    p += header_bytes();
    for (int i = 0; i < a->narr; i++) {
        const avg_array *x = &a->arr[i];
        eta_put_le(p, x->n, 8);
        p[8] = x->buffer;
        p += 9;
        for (size_t j = 0; j < x->n; j++, p += es) {
            if (es == 4) {
                uint32_t v;
                memcpy(&v, (const float *)x->avg + j, 4);
                eta_put_le(p, v, 4);
            } else {
                memcpy(&u, (const double *)x->avg + j, 8);
                eta_put_le(p, u, 8);
            }
        }
    }
    eta_put_le(p, eta_crc32(0, b, (size_t)(p - b)), 4);
    *out = b;
    *out_len = len;
    return ETA_OK;
}

void eta_average_free_buf(eta_average *a, void *buf)
{
    if (buf)
        a->alloc.free(a->alloc.ud, buf);
}

int eta_average_load(eta_average *a, const void *buf, size_t len)
{
    const char *name = kind_names[a->cfg.kind];
    const unsigned char *b = buf;
    size_t es = eta_dtype_size(a->cfg.dtype), want = header_bytes() + 4;
    for (int i = 0; i < a->narr; i++)
        want += 9 + a->arr[i].n * es;
    if (len < header_bytes() + 4 || memcmp(b, MAGIC, 8) != 0)
        return fail(a, ETA_EFORMAT, "%s: not an eta average (bad magic or truncated)", name);
    if (eta_crc32(0, b, len - 4) != (uint32_t)eta_get_le(b + len - 4, 4))
        return fail(a, ETA_EFORMAT, "%s: the saved average is corrupt (checksum mismatch)", name);
    uint32_t version = (uint32_t)eta_get_le(b + 8, 4), kind = (uint32_t)eta_get_le(b + 12, 4);
    uint32_t dtype = (uint32_t)eta_get_le(b + 16, 4), narr = (uint32_t)eta_get_le(b + 37, 4);
    uint64_t u = eta_get_le(b + 20, 8);
    double decay;
    memcpy(&decay, &u, 8);
    int64_t count = (int64_t)eta_get_le(b + 29, 8);
    if (version != VERSION)
        return fail(a, ETA_EFORMAT, "%s: average version %u, this eta reads version %u", name, version, VERSION);
    if (kind != (uint32_t)a->cfg.kind || dtype != (uint32_t)a->cfg.dtype)
        return fail(a, ETA_EFORMAT, "%s: the saved average is %s in %s, this one %s in %s", name,
                    kind < ETA_AVERAGE_COUNT ? kind_names[kind] : "?", dtype == ETA_F64 ? "float64" : "float32",
                    name, a->cfg.dtype == ETA_F64 ? "float64" : "float32");
    if ((a->cfg.kind == ETA_AVERAGE_EMA && memcmp(&decay, &a->cfg.decay, 8)) ||
        (b[28] != 0) != a->cfg.use_buffers)
        return fail(a, ETA_EFORMAT, "%s: the saved average has decay %g and use_buffers %s, this one %g and %s",
                    name, decay, b[28] ? "True" : "False", a->cfg.decay, a->cfg.use_buffers ? "True" : "False");
    if (count < 0 || count == INT64_MAX)
        return fail(a, ETA_EFORMAT, "%s: the saved update count %lld is out of range", name, (long long)count);
    if (narr != (uint32_t)a->narr)
        return fail(a, ETA_EFORMAT, "%s: the saved average has %u arrays, this one %d", name, narr, a->narr);
    const unsigned char *p = b + header_bytes();
    for (int i = 0; i < a->narr; i++) {
        if ((size_t)(p - b) + 9 > len - 4)
            return fail(a, ETA_EFORMAT, "%s: the saved average is truncated at array %d", name, i);
        uint64_t n = eta_get_le(p, 8);
        if (n != a->arr[i].n || (p[8] != 0) != a->arr[i].buffer)
            return fail(a, ETA_EFORMAT, "%s: saved array %d has %llu elements%s, this one %zu%s", name, i,
                        (unsigned long long)n, p[8] ? " (a buffer)" : "", a->arr[i].n,
                        a->arr[i].buffer ? " (a buffer)" : "");
        p += 9 + a->arr[i].n * es;
    }
    if (len != want)
        return fail(a, ETA_EFORMAT, "%s: the saved average has %zu bytes, %zu expected", name, len, want);
    p = b + header_bytes();
    for (int i = 0; i < a->narr; i++) {
        const avg_array *x = &a->arr[i];
        p += 9;
        for (size_t j = 0; j < x->n; j++, p += es) {
            if (es == 4) {
                uint32_t v = (uint32_t)eta_get_le(p, 4);
                memcpy((float *)x->avg + j, &v, 4);
            } else {
                u = eta_get_le(p, 8);
                memcpy((double *)x->avg + j, &u, 8);
            }
        }
    }
    a->count = count;
    return ETA_OK;
}

#else /* ETA_TYPED_PASS */

static void TF(avg_chunk)(void *vk, size_t lo, size_t hi)
{
    const avg_k *k = vk;
    T *restrict a = k->avg, *restrict x = k->model;
    const T w = (T)k->w;
    switch (k->mode) {
    case 0:
        memcpy(a + lo, x + lo, (hi - lo) * sizeof(T));
        break;
    case 1: /* averaged + (current - averaged) / (num_averaged + 1) */
        for (size_t i = lo; i < hi; i++)
            a[i] = a[i] + (x[i] - a[i]) / w;
        break;
    case 2: /* lerp(ema, current, 1 - decay) */
        for (size_t i = lo; i < hi; i++)
            a[i] = LERP(a[i], x[i], w);
        break;
    default:
        for (size_t i = lo; i < hi; i++) {
            T t = a[i];
            a[i] = x[i];
            x[i] = t;
        }
    }
}

#endif
