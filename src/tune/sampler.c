/* tune/sampler.c - where trial n samples the search space: a point u in
 * [0, 1)^d, mapped to values by sweep_space_value. Every sampler is a pure
 * function of (seed, n), so any process of a study, or a restarted one,
 * proposes the same trial n, and the study keeps no sampler state.
 *
 *   grid    the grid's points in an order shuffled by the seed (Optuna's
 *           GridSampler visits unvisited points at random); n < grid size
 *   random  independent uniform numbers from splitmix64(seed, n, dim)
 *   sobol   the Sobol sequence, Joe and Kuo's direction numbers
 *           (new-joe-kuo-6.21201), point n in Gray-code order, unscrambled:
 *           scipy.stats.qmc.Sobol(scramble=False), which Optuna's
 *           QMCSampler(qmc_type="sobol") uses (scramble=False by default)
 *   halton  the radical inverse of n in the dim-th prime base:
 *           scipy.stats.qmc.Halton(scramble=False)
 * Sobol and Halton are unscrambled with seed 0 (as scipy's); a seed > 0
 * shifts them (qmc_shift), which scipy's Owen scrambling does differently.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tune/sweep.h"

static const char *const NAMES[SWEEP_SAMPLER_COUNT] = {"grid", "random", "sobol", "halton"};

const char *sweep_sampler_name(sweep_sampler k)
{
    return (unsigned)k < SWEEP_SAMPLER_COUNT ? NAMES[k] : "?";
}

int sweep_sampler_parse(const char *s, sweep_sampler *out, eta_err *err)
{
    for (int i = 0; i < SWEEP_SAMPLER_COUNT; i++)
        if (!strcmp(s, NAMES[i])) {
            *out = (sweep_sampler)i;
            return ETA_OK;
        }
    eta_err_clear(err);
    if (err) {
        err->code = ETA_EINVAL;
        snprintf(err->msg, sizeof err->msg, "unknown sampler '%s' (grid, random, sobol, halton)", s);
    }
    return ETA_EINVAL;
}

/* ---- Sobol ---------------------------------------------------------------- */

/* Dimensions 2..16 of new-joe-kuo-6.21201: degree s, coefficients a, initial m. */
static const struct {
    int s, a, m[6];
} JOE_KUO[SWEEP_SOBOL_DIMS - 1] = {
    {1, 0, {1}},           {2, 1, {1, 3}},          {3, 1, {1, 3, 1}},         {3, 2, {1, 1, 1}},
    {4, 1, {1, 1, 3, 3}},  {4, 4, {1, 3, 5, 13}},   {5, 2, {1, 1, 5, 5, 17}},  {5, 4, {1, 1, 5, 5, 5}},
    {5, 7, {1, 1, 7, 11, 19}}, {5, 11, {1, 1, 5, 1, 1}}, {5, 13, {1, 1, 1, 3, 11}}, {5, 14, {1, 3, 5, 5, 31}},
    {6, 1, {1, 3, 3, 9, 7, 49}}, {6, 13, {1, 1, 1, 15, 21, 21}}, {6, 16, {1, 3, 1, 13, 27, 49}},
};

enum { SOBOL_BITS = 32 };

static void sobol_directions(int dim, uint32_t v[SOBOL_BITS])
{
    if (dim == 0) {
        for (int k = 0; k < SOBOL_BITS; k++)
            v[k] = 1u << (SOBOL_BITS - 1 - k);
        return;
    }
    int s = JOE_KUO[dim - 1].s, a = JOE_KUO[dim - 1].a;
    for (int k = 0; k < s; k++)
        v[k] = (uint32_t)JOE_KUO[dim - 1].m[k] << (SOBOL_BITS - 1 - k);
    for (int k = s; k < SOBOL_BITS; k++) {
        v[k] = v[k - s] ^ (v[k - s] >> s);
        for (int j = 1; j < s; j++)
            if ((a >> (s - 1 - j)) & 1)
                v[k] ^= v[k - j];
    }
}

double sweep_sobol(uint64_t n, int dim)
{
    uint32_t v[SOBOL_BITS], x = 0;
    sobol_directions(dim, v);
    uint64_t g = n ^ (n >> 1); /* the Gray code: the order the recurrence x ^= v[lowest zero bit] gives */
    for (int k = 0; g && k < SOBOL_BITS; k++, g >>= 1)
        if (g & 1)
            x ^= v[k];
    return x / 4294967296.0;
}

/* ---- Halton --------------------------------------------------------------- */

static const int PRIMES[16] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};

double sweep_halton(uint64_t n, int dim)
{
    uint64_t b = (uint64_t)PRIMES[dim];
    double x = 0, f = 1.0 / (double)b;
    for (; n; n /= b, f /= (double)b)
        x += (double)(n % b) * f;
    return x;
}

/* ---- random and the grid's order ------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

/* Seed > 0 randomizes a low-discrepancy sequence and keeps its structure:
 * Sobol by a random digital shift (the 32-bit fraction XORed with a mask),
 * so the first 2^k points still fill every dyadic box of side 2^-k once;
 * Halton by a Cranley-Patterson rotation (u + shift mod 1). */
static double qmc_shift(sweep_sampler k, double u, uint64_t seed, int dim)
{
    uint64_t s = seed ^ (0xD1B54A32D192ED03ull * (uint64_t)(dim + 1));
    uint64_t r = splitmix64(&s);
    if (k == SWEEP_SAMPLER_SOBOL)
        return (double)((uint32_t)(u * 4294967296.0) ^ (uint32_t)(r >> 32)) / 4294967296.0;
    double x = u + (double)(r >> 11) * 0x1.0p-53;
    return x >= 1 ? x - 1 : x;
}

/* The grid point of trial n: a Fisher-Yates shuffle of 0..size from the seed. */
static int64_t grid_index(uint64_t seed, int64_t size, int64_t n)
{
    int64_t *perm = malloc((size_t)size * sizeof *perm), idx;
    if (!perm)
        return -1;
    for (int64_t i = 0; i < size; i++)
        perm[i] = i;
    uint64_t s = seed;
    for (int64_t i = size - 1; i > 0; i--) {
        int64_t j = (int64_t)(splitmix64(&s) % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    idx = perm[n];
    free(perm);
    return idx;
}

int sweep_sample(const sweep_space *sp, sweep_sampler k, uint64_t seed, int64_t number, char texts[][SWEEP_VALUE_LEN],
                 double *nums, eta_err *err)
{
    double u[SWEEP_MAX_DIMS];
    eta_err_clear(err);
    if (k == SWEEP_SAMPLER_GRID) {
        int64_t size = sweep_space_grid_size(sp);
        if (size <= 0 || size > 10000000 || number >= size) {
            if (err) {
                err->code = ETA_EINVAL;
                snprintf(err->msg, sizeof err->msg, "the grid sampler needs --grid keys only, at most 1e7 points, "
                                                    "and a trial number below their count");
            }
            return ETA_EINVAL;
        }
        int64_t idx = grid_index(seed, size, number);
        if (idx < 0)
            return ETA_ENOMEM;
        for (int d = sp->n - 1; d >= 0; d--) { /* the last key varies fastest */
            u[d] = ((double)(idx % sp->dims[d].n) + 0.5) / sp->dims[d].n;
            idx /= sp->dims[d].n;
        }
    } else {
        uint64_t s = seed * 0x100000001B3ull ^ (uint64_t)number;
        for (int d = 0; d < sp->n; d++) {
            if (k == SWEEP_SAMPLER_RANDOM)
                u[d] = uniform(&s);
            else if (d >= SWEEP_SOBOL_DIMS) {
                if (err) {
                    err->code = ETA_EINVAL;
                    snprintf(err->msg, sizeof err->msg, "%s samples at most %d keys", NAMES[k], SWEEP_SOBOL_DIMS);
                }
                return ETA_EINVAL;
            } else {
                u[d] = k == SWEEP_SAMPLER_SOBOL ? sweep_sobol((uint64_t)number, d) : sweep_halton((uint64_t)number, d);
                if (seed) /* a shift the same for every trial, drawn from the seed and the dimension */
                    u[d] = qmc_shift(k, u[d], seed, d);
            }
        }
    }
    for (int d = 0; d < sp->n; d++)
        sweep_space_value(&sp->dims[d], u[d], texts[d], SWEEP_VALUE_LEN, &nums[d]);
    return ETA_OK;
}
