/* tests/test_core_fmt.c - eta_fmt_real, numbers as Python's repr(float)
 * writes them: the shortest text that reads back to the same double, in
 * Python's positional or scientific form; also for the powers of two whose
 * neighbours below are nearer than those above (the lengths that read back
 * are not all the ones from the shortest on: 2**149 reads back with 14 and
 * 15 digits, not 16, and with 17), and the shortest length found for many
 * numbers checked against every shorter one.
 * labels: unit
 */
#include "harness.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"

static void expect(double x, const char *want)
{
    char buf[64];
    eta_fmt_real(buf, sizeof buf, x);
    if (strcmp(buf, want))
        fail_msg("%.17g: got %s, want %s", x, buf, want);
}

/* Strings from Python 3's repr. */
static void test_repr(void **state)
{
    (void)state;
    expect(0.1, "0.1");
    expect(1e-08, "1e-08");
    expect(1e16, "1e+16");
    expect(1e-4, "0.0001");
    expect(0.1 + 0.2, "0.30000000000000004");
    expect(5e-324, "5e-324");
    expect(1.7976931348623157e308, "1.7976931348623157e+308");
    expect(2.2250738585072014e-308, "2.2250738585072014e-308");
    expect(1e23, "1e+23");
    expect(123456789012345678.0, "1.2345678901234568e+17");
    expect(1000000.0, "1000000.0");
    expect(0.5, "0.5");
    expect(-2.5, "-2.5");
    expect(1.0 / 3.0, "0.3333333333333333");
    expect((double)0.05f, "0.05000000074505806");
    expect(0.0, "0.0");
    expect(-0.0, "-0.0");
    expect(NAN, "nan");
    expect(-INFINITY, "-inf");
}

/* Powers of two where 16 digits do not read back but fewer do. */
static void test_powers_of_two(void **state)
{
    (void)state;
    static const struct {
        int e;
        const char *want;
    } cases[] = {{-645, "6.84940421565126e-195"}, {-569, "5.17526350329881e-172"}, {-499, "6.10987272699921e-151"},
                 {149, "7.1362384635298e+44"},    {740, "5.78358058743443e+222"},  {890, "8.25460204899477e+267"},
                 {956, "6.090821257125e+287"},    {966, "6.237000967296e+290"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect(ldexp(1.0, cases[i].e), cases[i].want);
}

/* The significant digits in buf: from the first nonzero digit to the last
 * nonzero one before any exponent ("1000000.0" and "1e+16" have 1). The
 * shortest text never ends its digits in a zero (without it, it reads back
 * the same), so this is its length. */
static int digits(const char *buf)
{
    int n = 0, upto = 0;
    bool started = false;
    for (const char *c = buf; *c && *c != 'e'; c++)
        if (*c >= '0' && *c <= '9') {
            started |= *c != '0';
            if (started)
                n++;
            if (*c != '0')
                upto = n;
        }
    return upto;
}

/* For many numbers (every power of two and its neighbours, random bit
 * patterns, decimals): the text reads back exactly and has as many digits
 * as the shortest %.*e that does, found by counting up from 1. */
static void test_shortest(void **state)
{
    (void)state;
    uint64_t s = 88172645463325252ull;
    for (int k = 0; k < 60000; k++) {
        double x;
        if (k < 2098 * 3) {
            double p = ldexp(1.0, k / 3 - 1074);
            x = k % 3 == 0 ? p : k % 3 == 1 ? nextafter(p, 0) : nextafter(p, INFINITY);
        } else {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            if (k % 2)
                memcpy(&x, &s, sizeof x);
            else
                x = (double)(s >> 11) / 9007199254740992.0 * pow(10, (int)(s % 40) - 20);
        }
        if (x == 0 || !isfinite(x))
            continue;
        char buf[64], tmp[40];
        eta_fmt_real(buf, sizeof buf, x);
        if (strtod(buf, NULL) != x)
            fail_msg("%.17g printed as %s, which reads back as %.17g", x, buf, strtod(buf, NULL));
        int q = 1;
        for (; q < 17; q++) {
            snprintf(tmp, sizeof tmp, "%.*e", q - 1, x);
            if (strtod(tmp, NULL) == x)
                break;
        }
        if (digits(buf) != q)
            fail_msg("%.17g printed as %s (%d digits); the shortest that reads back has %d", x, buf, digits(buf), q);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repr),
        cmocka_unit_test(test_powers_of_two),
        cmocka_unit_test(test_shortest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
