/* nn/state.c - a network's state besides its parameters and buffers, as
 * bytes for checkpoints: the random stream of every op (Dropout's masks,
 * attention dropout), train or eval mode, and the count of train-mode
 * forward passes (BatchNorm's num_batches_tracked). With the parameters
 * (eta_net_params, saved by the caller) this restores a network exactly:
 * the next dropout mask after a resume is the one an uninterrupted run draws.
 *
 * Format, version 1, little-endian:
 *   0    8   magic "ETANETST"
 *   8    4   u32 version (1)
 *   12   4   u32 flags: bit 0 train mode (other bits zero)
 *   16   8   i64 train-mode forward passes (>= 0)
 *   24   4   u32 number of ops n (the loss, which draws nothing, left out)
 *   28   4   u32 CRC-32 of the ops' kinds and module paths, in order: the
 *            network's structure, so state is not loaded into another network
 *   32   8n  u64 random stream state of each op
 *   end  4   u32 CRC-32 of every byte before it
 * Loading checks all of it before changing the network.
 */
#include <stdlib.h>
#include <string.h>

#include "core/le.h"
#include "nn/graph.h"

#define MAGIC "ETANETST"
#define VERSION 1u
#define FIXED 36 /* everything but the streams */

/* The ops that carry state (all but the loss) and their structure's CRC. */
static int stateful_ops(const eta_net *net, uint32_t *crc)
{
    const nn_net *g = nn_net_graph(net);
    int loss = nn_net_loss_op(net), n = 0;
    *crc = 0;
    for (int i = 0; i < g->nops; i++) {
        if (i == loss)
            continue;
        *crc = eta_crc32(*crc, g->ops[i].kind->name, strlen(g->ops[i].kind->name) + 1);
        *crc = eta_crc32(*crc, g->ops[i].name, strlen(g->ops[i].name) + 1);
        n++;
    }
    return n;
}

int eta_net_save_state(const eta_net *net, void **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    const nn_net *g = nn_net_graph(net);
    uint32_t scrc;
    int n = stateful_ops(net, &scrc), loss = nn_net_loss_op(net);
    size_t size = FIXED + 8 * (size_t)n;
    unsigned char *b = malloc(size);
    if (!b)
        return ETA_ENOMEM;
    memcpy(b, MAGIC, 8);
    eta_put_le(b + 8, VERSION, 4);
    eta_put_le(b + 12, g->train ? 1 : 0, 4);
    eta_put_le(b + 16, (uint64_t)g->batches_tracked, 8);
    eta_put_le(b + 24, (uint64_t)n, 4);
    eta_put_le(b + 28, scrc, 4);
    unsigned char *p = b + 32;
    for (int i = 0; i < g->nops; i++)
        if (i != loss) {
            eta_put_le(p, g->ops[i].rng, 8);
            p += 8;
        }
    eta_put_le(p, eta_crc32(0, b, size - 4), 4);
    *buf = b;
    *len = size;
    return ETA_OK;
}

int eta_net_load_state(eta_net *net, const void *buf, size_t len, eta_err *err)
{
    eta_err_clear(err);
    const unsigned char *b = buf;
    if (!b && len)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "net state: buf is NULL");
    if (len < 8 || memcmp(b, MAGIC, 8))
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: no \"%s\" at offset 0", MAGIC);
    if (len < FIXED)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: truncated: %zu bytes, at least %d needed", len, FIXED);
    uint32_t version = (uint32_t)eta_get_le(b + 8, 4);
    if (version != VERSION)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: version %u (offset 8) is not one this build reads (%u)",
                             version, VERSION);
    uint64_t n = eta_get_le(b + 24, 4);
    if (len != FIXED + 8 * n)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: %zu bytes where %llu ops (offset 24) need %llu", len,
                             (unsigned long long)n, (unsigned long long)(FIXED + 8 * n));
    uint32_t stored = (uint32_t)eta_get_le(b + len - 4, 4), crc = eta_crc32(0, b, len - 4);
    if (stored != crc)
        return eta_spec_fail(err, ETA_EFORMAT, NULL,
                             "net state: CRC-32 mismatch (offset %zu): stored 0x%08x, computed 0x%08x", len - 4,
                             (unsigned)stored, (unsigned)crc);
    uint32_t scrc;
    int ops = stateful_ops(net, &scrc);
    if (n != (uint64_t)ops || eta_get_le(b + 28, 4) != scrc)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "net state: saved from another network (%llu ops, structure 0x%08x; this one: %d ops, "
                             "0x%08x)",
                             (unsigned long long)n, (unsigned)eta_get_le(b + 28, 4), ops, (unsigned)scrc);
    uint64_t flags = eta_get_le(b + 12, 4);
    int64_t tracked = (int64_t)eta_get_le(b + 16, 8);
    if (flags > 1)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: unknown flags 0x%llx (offset 12)",
                             (unsigned long long)flags);
    if (tracked < 0)
        return eta_spec_fail(err, ETA_EFORMAT, NULL, "net state: negative forward count %lld (offset 16)",
                             (long long)tracked);
    nn_net *g = nn_net_graph(net);
    int loss = nn_net_loss_op(net);
    const unsigned char *p = b + 32;
    for (int i = 0; i < g->nops; i++)
        if (i != loss) {
            g->ops[i].rng = eta_get_le(p, 8);
            p += 8;
        }
    g->train = flags & 1;
    g->batches_tracked = tracked;
    return ETA_OK;
}
