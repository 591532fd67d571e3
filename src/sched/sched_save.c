/* sched/sched_save.c - C-callback schedules and exact save/restore of the
 * stateful parts of a schedule (plateau rules). Pure parts are rebuilt from
 * the spec; the file holds every node's state in depth-first order:
 *   "ETASCHED" | u32 version | u32 nodes | i64 observed |
 *   per node: u32 kind-name hash | SCHED_MAX_STATE x f64 | u32 CRC-32
 * all little-endian. */
#include <stdlib.h>
#include <string.h>

#include "sched/sched_impl.h"

#define MAGIC "ETASCHED"
#define VERSION 1u

void sched_visit(sched_node *n, sched_visit_fn fn, void *ctx)
{
    fn(n, ctx);
    for (int i = 0; i < n->nkids; i++)
        sched_visit(n->kids[i], fn, ctx);
}

int eta_sched_new_lambda(eta_sched **out, eta_sched_fn fn, void *ud, bool multiplicative, eta_err *err)
{
    extern const sched_kind sched_lambda_lr, sched_multiplicative_lr;
    eta_err_clear(err);
    *out = NULL;
    if (!fn)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "%s: fn must not be NULL",
                             multiplicative ? "MultiplicativeLR" : "LambdaLR");
    eta_sched *s = calloc(1, sizeof *s);
    sched_node *n = calloc(1, sizeof *n);
    if (!s || !n) {
        free(s);
        free(n);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    }
    n->kind = multiplicative ? &sched_multiplicative_lr : &sched_lambda_lr;
    n->fn = fn;
    n->ud = ud;
    s->root = n;
    *out = s;
    return ETA_OK;
}

static uint32_t name_hash(const char *s)
{
    return eta_crc32(0, s, strlen(s));
}

typedef struct walk {
    unsigned char *p;  /* write or read position */
    const unsigned char *end;
    int nodes;
    bool bad, apply;
} walk;

static void put(walk *w, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *w->p++ = (unsigned char)(v >> (8 * i));
}

static uint64_t get(walk *w, int bytes)
{
    if (w->bad || w->end - w->p < bytes) {
        w->bad = true;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)*w->p++ << (8 * i);
    return v;
}

static void count_node(sched_node *n, void *ctx)
{
    (void)n;
    ((walk *)ctx)->nodes++;
}

static void put_node(sched_node *n, void *ctx)
{
    walk *w = ctx;
    put(w, name_hash(n->kind->name), 4);
    for (int i = 0; i < SCHED_MAX_STATE; i++) {
        uint64_t u;
        memcpy(&u, &n->st[i], 8);
        put(w, u, 8);
    }
}

static void get_node(sched_node *n, void *ctx)
{
    walk *w = ctx;
    if (get(w, 4) != name_hash(n->kind->name))
        w->bad = true;
    for (int i = 0; i < SCHED_MAX_STATE; i++) {
        uint64_t u = get(w, 8);
        if (w->apply && !w->bad)
            memcpy(&n->st[i], &u, 8);
    }
}

int eta_sched_save(const eta_sched *s, void **buf, size_t *len)
{
    walk w = {0};
    sched_visit(s->root, count_node, &w);
    size_t n = 8 + 4 + 4 + 8 + (size_t)w.nodes * (4 + 8 * SCHED_MAX_STATE) + 4;
    unsigned char *b = malloc(n);
    if (!b)
        return ETA_ENOMEM;
    memcpy(b, MAGIC, 8);
    w.p = b + 8;
    put(&w, VERSION, 4);
    put(&w, (uint32_t)w.nodes, 4);
    put(&w, (uint64_t)s->observed, 8);
    sched_visit(s->root, put_node, &w);
    put(&w, eta_crc32(0, b, n - 4), 4);
    *buf = b;
    *len = n;
    return ETA_OK;
}

int eta_sched_load(eta_sched *s, const void *buf, size_t len, eta_err *err)
{
    eta_err_clear(err);
    const unsigned char *b = buf;
    if (len < 8 + 4 + 4 + 8 + 4 || memcmp(b, MAGIC, 8) != 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "not an eta schedule state (bad magic or too short)");
    uint32_t crc = 0;
    for (int i = 0; i < 4; i++)
        crc |= (uint32_t)b[len - 4 + (size_t)i] << (8 * i);
    if (eta_crc32(0, b, len - 4) != crc)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "schedule state is corrupt (checksum mismatch)");
    walk count = {0};
    sched_visit(s->root, count_node, &count);
    for (int pass = 0; pass < 2; pass++) {
        walk w = {(unsigned char *)(uintptr_t)b + 8, b + len - 4, 0, false, pass == 1};
        uint32_t version = (uint32_t)get(&w, 4), nodes = (uint32_t)get(&w, 4);
        int64_t observed = (int64_t)get(&w, 8);
        if (version != VERSION)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "schedule state version %u, this eta reads %u", version,
                                 VERSION);
        if (nodes != (uint32_t)count.nodes)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "schedule state has %u nodes, the schedule %d", nodes,
                                 count.nodes);
        sched_visit(s->root, get_node, &w);
        if (w.bad || w.p != w.end)
            return eta_spec_fail(err, ETA_EFORMAT, NULL, "schedule state does not match this schedule's spec");
        if (pass == 1)
            s->observed = observed;
    }
    sched_cursors_reset(s->root);
    return ETA_OK;
}
