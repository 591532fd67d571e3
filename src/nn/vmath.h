/* nn/vmath.h - internal: float math that vectorises, for the nn kernels. */
#ifndef ETA_NN_VMATH_H
#define ETA_NN_VMATH_H

#include <stdint.h>

typedef union nn_bits32 {
    int32_t i;
    float f;
} nn_bits32;

/* exp(x), branch-free so that loops vectorise (Cephes' expf): |x| clamped
 * to 87 on its bits (integer selects vectorise where float compares do not,
 * -ftrapping-math), x = n ln2 + r (Cody-Waite), a degree-6 polynomial for
 * exp(r), times 2^n built in the exponent bits; x < -87 gives 0 (so exp(-inf)
 * = 0 for masked scores). Under 1 ulp on [-87, 87]; NaN gives NaN. */
static inline float nn_exp_vec(float x)
{
    nn_bits32 b = {.f = x};
    int32_t a = b.i & 0x7fffffff;
    int32_t big = (a > 0x42ae0000) & (a <= 0x7f800000), neg = b.i < 0;
    b.i = big ? (int32_t)((uint32_t)b.i & 0x80000000u) | 0x42ae0000 : b.i;
    x = b.f;
    float fn = (x * 1.44269504088896341f + 0x1.8p23f) - 0x1.8p23f; /* round to nearest */
    int32_t n = (int32_t)fn;
    float r = x - fn * 0.693359375f - fn * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    nn_bits32 scale = {.i = (n + 127) * (1 << 23)}, out = {.f = p * scale.f};
    out.i &= ~(-(big & neg));
    return out.f;
}

#endif
