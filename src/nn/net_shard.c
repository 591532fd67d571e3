/* nn/net_shard.c - what a data-parallel step needs of a network besides
 * forward and backward: the count of train-mode passes set by hand and the
 * random streams set from a key (eta_net_reseed). The gradient hook lives
 * in net.c, inside the backward pass it reports on. */
#include "nn/graph.h"

int64_t eta_net_forward_count(const eta_net *net)
{
    return nn_net_graph(net)->batches_tracked;
}

void eta_net_set_forward_count(eta_net *net, int64_t count)
{
    nn_net_graph(net)->batches_tracked = count;
}

/* splitmix64's finaliser: keys that differ in one bit give unrelated streams. */
static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void eta_net_reseed(eta_net *net, uint64_t key)
{
    nn_net *g = nn_net_graph(net);
    uint64_t s = mix(key + 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < g->nops; i++)
        g->ops[i].rng = mix(s + (uint64_t)i * 0x9e3779b97f4a7c15ull);
}
