/* nn/safetensors.c - a network's parameters and buffers as a safetensors
 * file, the format PyTorch users exchange weights in (Hugging Face's
 * safetensors; torch loads it with safetensors.torch.load_file, or with the
 * few lines of tools/check_safetensors.py, then model.load_state_dict).
 *
 * Writing: every array eta_net_param_info lists, in that (state_dict) order,
 * as F32 under its state_dict name; after each BatchNorm's running_var, its
 * num_batches_tracked as an I64 scalar (the network's count of train-mode
 * forward passes), so load_state_dict(strict=True) takes the file as torch
 * would have written it. The header is {"__metadata__": {"format": "pt"},
 * ...} (what Hugging Face's loaders look for), padded with spaces to a
 * multiple of 8 bytes as the reference writer does; the data follow in
 * header order, contiguous. A NaN or Inf anywhere is refused: no such file
 * is written.
 *
 * Reading (the header: safetensors_header.c) checks the whole file before
 * the network changes: every tensor of the network present, nothing else
 * (torch's strict load, listing the missing and unexpected names), shapes
 * equal (naming both), dtypes: F32; F16 and BF16 widened (exact); F64 only
 * where every value is exactly a float32 (else refused, naming the element).
 * num_batches_tracked is optional, I64, a scalar >= 0; the largest becomes
 * the network's count. NaN and Inf are refused unless the caller passes
 * ETA_LOAD_ALLOW_NONFINITE. On any error the network is unchanged.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/le.h"
#include "nn/graph.h"
#include "nn/safetensors.h"

#define NBT ".num_batches_tracked"
#define RV ".running_var"

static bool little_endian(void)
{
    const uint16_t one = 1;
    unsigned char c;
    memcpy(&c, &one, 1);
    return c == 1;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

static const char *path_name(const char *path, char *buf, size_t n)
{
    return eta_path_short_(path, buf, n);
}

static int need_params(const nn_net *g, const char *what, eta_err *err)
{
    if (!g->pbuf)
        return eta_spec_fail(err, ETA_ESTATE, NULL, "%s: call eta_net_prepare first (it allocates the parameters)",
                             what);
    return ETA_OK;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct plan {
    st_buf head;               /* the 8-byte length and the JSON */
    const void **parts;
    size_t *lens;
    int np;
    unsigned char nbt[8];      /* num_batches_tracked, little-endian */
    float *swapped;            /* big-endian hosts: the parameters in file order */
} plan;

static void plan_free(plan *pl)
{
    free(pl->head.p);
    free(pl->parts);
    free(pl->lens);
    free(pl->swapped);
}

/* Appends s (n bytes; 0: strlen(s)). */
static int put_str(st_buf *b, const char *s, size_t n)
{
    return st_buf_put(b, s, n ? n : strlen(s));
}

/* The file as parts (head, then the tensors' bytes in header order). */
static int build(nn_net *g, plan *pl, const char *what, eta_err *err)
{
    memset(pl, 0, sizeof *pl);
    int rc = need_params(g, what, err);
    for (int i = 0; i < g->nparams && !rc; i++) {
        const nn_param *p = &g->params[i];
        for (size_t k = 0; k < p->n; k++)
            if (!isfinite(g->pbuf[p->offset + k]))
                return eta_spec_fail(err, ETA_ENONFINITE, NULL,
                                     "%s: tensor '%s' element %zu is %g: a file with NaN or Inf is not written",
                                     what, p->name, k, (double)g->pbuf[p->offset + k]);
    }
    if (rc)
        return rc;
    eta_put_le(pl->nbt, (uint64_t)g->batches_tracked, 8);
    pl->parts = malloc(((size_t)2 * g->nparams + 1) * sizeof *pl->parts);
    pl->lens = malloc(((size_t)2 * g->nparams + 1) * sizeof *pl->lens);
    if (!little_endian())
        pl->swapped = malloc((g->ptotal ? g->ptotal : 1) * sizeof(float));
    rc = !pl->parts || !pl->lens || (!little_endian() && !pl->swapped) ? ETA_ENOMEM : ETA_OK;
    if (!rc)
        rc = put_str(&pl->head, "\0\0\0\0\0\0\0\0", 8);
    if (!rc)
        rc = put_str(&pl->head, "{\"__metadata__\":{\"format\":\"pt\"}", 0);
    pl->np = 1;
    uint64_t at = 0;
    for (int i = 0; i < g->nparams && !rc; i++) {
        const nn_param *p = &g->params[i];
        rc = st_buf_put(&pl->head, ",", 1);
        rc = rc ? rc : st_buf_json_string(&pl->head, p->name);
        rc = rc ? rc : put_str(&pl->head, ":{\"dtype\":\"F32\",\"shape\":[", 0);
        for (int d = 0; d < p->ndim && !rc; d++)
            rc = st_buf_printf(&pl->head, "%s%lld", d ? "," : "", (long long)p->shape[d]);
        rc = rc ? rc : st_buf_printf(&pl->head, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                                     (unsigned long long)(at + 4 * p->n));
        at += 4 * p->n;
        const float *x = g->pbuf + p->offset;
        if (pl->swapped) { /* big-endian host: bytes reversed into a copy */
            for (size_t k = 0; k < p->n; k++) {
                unsigned char *o = (unsigned char *)(pl->swapped + p->offset + k), t[4];
                memcpy(t, x + k, 4);
                for (int j = 0; j < 4; j++)
                    o[j] = t[3 - j];
            }
            x = pl->swapped + p->offset;
        }
        pl->parts[pl->np] = x;
        pl->lens[pl->np++] = 4 * p->n;
        if (!rc && p->buffer && ends_with(p->name, RV)) {
            size_t stem = strlen(p->name) - strlen(RV);
            char name[NN_NAME + 32];
            snprintf(name, sizeof name, "%.*s%s", (int)stem, p->name, NBT);
            rc = st_buf_put(&pl->head, ",", 1);
            rc = rc ? rc : st_buf_json_string(&pl->head, name);
            rc = rc ? rc : st_buf_printf(&pl->head, ":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[%llu,%llu]}",
                                         (unsigned long long)at, (unsigned long long)(at + 8));
            at += 8;
            pl->parts[pl->np] = pl->nbt;
            pl->lens[pl->np++] = 8;
        }
    }
    rc = rc ? rc : st_buf_put(&pl->head, "}", 1);
    while (!rc && (pl->head.len - 8) % 8) /* the reference pads with spaces */
        rc = st_buf_put(&pl->head, " ", 1);
    if (rc)
        return eta_spec_fail(err, rc, NULL, "%s: out of memory", what);
    eta_put_le((unsigned char *)pl->head.p, pl->head.len - 8, 8);
    pl->parts[0] = pl->head.p;
    pl->lens[0] = pl->head.len;
    return ETA_OK;
}

int eta_net_save_safetensors(eta_net *net, const char *path, eta_err *err)
{
    eta_err_clear(err);
    char pb[120];
    const char *what = path_name(path, pb, sizeof pb);
    plan pl;
    int rc = build(nn_net_graph(net), &pl, what, err);
    if (!rc)
        rc = eta_file_write_atomic(path, pl.parts, pl.lens, pl.np, err);
    plan_free(&pl);
    return rc;
}

int eta_net_safetensors_bytes(eta_net *net, void **buf, size_t *len, eta_err *err)
{
    eta_err_clear(err);
    *buf = NULL;
    *len = 0;
    plan pl;
    int rc = build(nn_net_graph(net), &pl, "safetensors", err);
    size_t total = 0;
    for (int i = 0; !rc && i < pl.np; i++)
        total += pl.lens[i];
    unsigned char *out = rc ? NULL : malloc(total);
    if (!rc && !out)
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory for %zu bytes", total);
    if (!rc) {
        size_t at = 0;
        for (int i = 0; i < pl.np; i++) {
            memcpy(out + at, pl.parts[i], pl.lens[i]);
            at += pl.lens[i];
        }
        *buf = out;
        *len = total;
    }
    plan_free(&pl);
    return rc;
}

/* ---- reading ------------------------------------------------------------ */

/* Appends up to 4 quoted names of `list` (count in all) to msg. */
static void name_list(st_buf *msg, const char *label, const char *const *list, int count)
{
    if (!count)
        return;
    st_buf_printf(msg, "%s%s (%d): ", msg->len ? "; " : "", label, count);
    for (int i = 0; i < count && i < 4; i++) {
        st_buf_put(msg, i ? ", " : "", i ? 2 : 0);
        st_buf_json_string(msg, list[i]);
    }
    if (count > 4)
        st_buf_printf(msg, " and %d more", count - 4);
}

/* Every network tensor in the file and every file tensor in the network
 * (num_batches_tracked of the network's BatchNorms allowed): torch's strict
 * load_state_dict. used[e] is set for the entries matched. */
static int match_names(const nn_net *g, const st_header *h, bool *used, const char *what, eta_err *err)
{
    const char **missing = malloc((size_t)(g->nparams + 1) * sizeof *missing);
    const char **extra = malloc((size_t)(h->n + 1) * sizeof *extra);
    if (!missing || !extra) {
        free(missing);
        free(extra);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", what);
    }
    int nmissing = 0, nextra = 0;
    for (int i = 0; i < g->nparams; i++) {
        const st_entry *e = st_header_find(h, g->params[i].name);
        if (e)
            used[e - h->e] = true;
        else
            missing[nmissing++] = g->params[i].name;
    }
    for (int i = 0; i < h->n; i++) {
        if (used[i])
            continue;
        const char *name = h->e[i].name;
        bool nbt = false;
        if (ends_with(name, NBT)) { /* a BatchNorm of the network with running statistics */
            size_t stem = strlen(name) - strlen(NBT);
            for (int k = 0; k < g->nparams && !nbt; k++)
                nbt = g->params[k].buffer && ends_with(g->params[k].name, RV) &&
                      strlen(g->params[k].name) == stem + strlen(RV) && !strncmp(g->params[k].name, name, stem);
        }
        if (nbt)
            used[i] = true;
        else
            extra[nextra++] = name;
    }
    int rc = ETA_OK;
    if (nmissing || nextra) {
        st_buf msg = {0};
        name_list(&msg, "missing tensors", missing, nmissing);
        name_list(&msg, "unexpected tensors", extra, nextra);
        rc = eta_spec_fail(err, ETA_EINVAL, NULL, "%s: does not fit the network: %s", what, msg.p ? msg.p : "");
        free(msg.p);
    }
    free(missing);
    free(extra);
    return rc;
}

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) { /* zero or subnormal: mant * 2^-24, exact in float */
        float f = (float)mant * 0x1p-24f;
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* Decodes entry e (shape already checked) into out[0..n). */
static int decode(const st_entry *e, const unsigned char *src, float *out, size_t n, unsigned flags,
                  const char *what, eta_err *err)
{
    for (size_t k = 0; k < n; k++) {
        float f;
        if (e->dtype == ST_F32) {
            uint32_t u = (uint32_t)eta_get_le(src + 4 * k, 4);
            memcpy(&f, &u, 4);
        } else if (e->dtype == ST_BF16) {
            uint32_t u = (uint32_t)eta_get_le(src + 2 * k, 2) << 16;
            memcpy(&f, &u, 4);
        } else if (e->dtype == ST_F16) {
            f = half_to_float((uint16_t)eta_get_le(src + 2 * k, 2));
        } else {
            uint64_t u = eta_get_le(src + 8 * k, 8);
            double d;
            memcpy(&d, &u, 8);
            if (isfinite(d) && (fabs(d) > FLT_MAX || (double)(float)d != d))
                return eta_spec_fail(err, ETA_EINVAL, NULL,
                                     "%s: tensor '%s' element %zu: the F64 value %.17g is not exactly a float32 "
                                     "(save the model after model.float())",
                                     what, e->name, k, d);
            f = (float)d;
        }
        if (!isfinite(f) && !(flags & ETA_LOAD_ALLOW_NONFINITE))
            return eta_spec_fail(err, ETA_ENONFINITE, NULL,
                                 "%s: tensor '%s' element %zu is %g (ETA_LOAD_ALLOW_NONFINITE accepts it)", what,
                                 e->name, k, (double)f);
        out[k] = f;
    }
    return ETA_OK;
}

/* Shapes, dtypes and values of the matched entries into tmp; the largest
 * num_batches_tracked into *nbt (-1: none). */
static int check_and_decode(const nn_net *g, const st_header *h, const unsigned char *data, float *tmp,
                            unsigned flags, int64_t *nbt, const char *what, eta_err *err)
{
    char s1[96], s2[96];
    for (int i = 0; i < g->nparams; i++) {
        const nn_param *p = &g->params[i];
        const st_entry *e = st_header_find(h, p->name);
        bool same = e->ndim == p->ndim;
        for (int d = 0; d < p->ndim && same; d++)
            same = e->shape[d] == (uint64_t)p->shape[d];
        if (!same) {
            int64_t shape[ST_MAX_DIMS];
            for (int d = 0; d < e->ndim; d++)
                shape[d] = e->shape[d] > INT64_MAX ? -1 : (int64_t)e->shape[d];
            return eta_spec_fail(err, ETA_EINVAL, NULL,
                                 "%s: size mismatch for %s: the file has shape %s, the network %s", what, p->name,
                                 nn_shape_str(s1, sizeof s1, e->ndim, shape),
                                 nn_shape_str(s2, sizeof s2, p->ndim, p->shape));
        }
        if (e->dtype != ST_F32 && e->dtype != ST_F16 && e->dtype != ST_BF16 && e->dtype != ST_F64)
            return eta_spec_fail(err, ETA_EINVAL, NULL,
                                 "%s: tensor '%s' has dtype %s; eta reads F32 parameters (F16 and BF16 widened, F64 "
                                 "when exactly float32)",
                                 what, p->name, st_dtype_name(e->dtype));
        int rc = decode(e, data + e->begin, tmp + p->offset, p->n, flags, what, err);
        if (rc)
            return rc;
    }
    *nbt = -1;
    for (int i = 0; i < h->n; i++) {
        const st_entry *e = &h->e[i];
        if (!ends_with(e->name, NBT))
            continue;
        bool net_param = false;
        for (int k = 0; k < g->nparams && !net_param; k++)
            net_param = !strcmp(g->params[k].name, e->name);
        if (net_param)
            continue;
        if (e->dtype != ST_I64 || e->ndim != 0)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: tensor '%s' must be an I64 scalar (shape []), as torch "
                                 "writes it", what, e->name);
        int64_t v = (int64_t)eta_get_le(data + e->begin, 8);
        if (v < 0)
            return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: tensor '%s' is %lld, a count must be >= 0", what,
                                 e->name, (long long)v);
        *nbt = v > *nbt ? v : *nbt;
    }
    return ETA_OK;
}

int eta_net_load_safetensors_bytes(eta_net *net, const void *data, size_t len, const char *what, unsigned flags,
                                   eta_err *err)
{
    eta_err_clear(err);
    nn_net *g = nn_net_graph(net);
    what = what ? what : "safetensors";
    int rc = need_params(g, what, err);
    if (rc)
        return rc;
    if (!data && len)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: data is NULL", what);
    st_header h;
    const unsigned char *body;
    rc = st_header_read(&h, len ? data : (const void *)"", len, what, &body, err);
    bool *used = rc ? NULL : calloc((size_t)h.n + 1, sizeof *used);
    float *tmp = rc ? NULL : malloc((g->ptotal ? g->ptotal : 1) * sizeof *tmp);
    if (!rc && (!used || !tmp))
        rc = eta_spec_fail(err, ETA_ENOMEM, NULL, "%s: out of memory", what);
    int64_t nbt = -1;
    if (!rc)
        rc = match_names(g, &h, used, what, err);
    if (!rc)
        rc = check_and_decode(g, &h, body, tmp, flags, &nbt, what, err);
    if (!rc) { /* everything checked: now the network changes */
        memcpy(g->pbuf, tmp, g->ptotal * sizeof *tmp);
        if (nbt >= 0)
            g->batches_tracked = nbt;
    }
    free(used);
    free(tmp);
    st_header_free(&h);
    return rc;
}

int eta_net_load_safetensors_ex(eta_net *net, const char *path, unsigned flags, eta_err *err)
{
    eta_err_clear(err);
    char pb[120];
    const char *what = path_name(path, pb, sizeof pb);
    int rc = need_params(nn_net_graph(net), what, err);
    void *b = NULL;
    size_t n = 0;
    if (!rc)
        rc = eta_file_read_all(path, &b, &n, err);
    if (!rc)
        rc = eta_net_load_safetensors_bytes(net, b, n, what, flags, err);
    free(b);
    return rc;
}

int eta_net_load_safetensors(eta_net *net, const char *path, eta_err *err)
{
    return eta_net_load_safetensors_ex(net, path, 0, err);
}
