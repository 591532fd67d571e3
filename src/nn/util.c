/* nn/util.c - the random stream of the nn layer and PyTorch's default
 * initialisations. The stream is SplitMix64 (Steele et al. 2014): fast, with
 * every state a valid seed; values therefore differ from torch.manual_seed's,
 * and tests compare against PyTorch from the same initial weights. */
#include <math.h>

#include "nn/graph.h"

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double nn_rand_uniform(uint64_t *s)
{
    return (double)(next(s) >> 11) * 0x1.0p-53;
}

void nn_rand_fill_uniform(float *x, size_t n, double lo, double hi, uint64_t *s)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * nn_rand_uniform(s));
}

void nn_rand_fill_normal(float *x, size_t n, double mean, double std, uint64_t *s)
{
    for (size_t i = 0; i < n; i += 2) { /* Box-Muller, two values per draw */
        double u = nn_rand_uniform(s), v = nn_rand_uniform(s);
        double r = sqrt(-2 * log(u > 0 ? u : 0x1.0p-53)), a = 2 * 3.14159265358979323846 * v;
        x[i] = (float)(mean + std * r * cos(a));
        if (i + 1 < n)
            x[i + 1] = (float)(mean + std * r * sin(a));
    }
}

/* kaiming_uniform_(w, a=sqrt(5)): bound = gain * sqrt(3 / fan_in) with
 * gain = sqrt(2 / (1 + a^2)) = sqrt(1/3), so bound = 1/sqrt(fan_in). */
void nn_init_kaiming_uniform(float *w, size_t n, int64_t fan_in, uint64_t *s)
{
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0;
    nn_rand_fill_uniform(w, n, -bound, bound, s);
}

void nn_init_bias(float *b, size_t n, int64_t fan_in, uint64_t *s)
{
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0;
    nn_rand_fill_uniform(b, n, -bound, bound, s);
}
