/* core/fmt.c - numbers printed as Python prints them (repr of a float). */
#include "core/fmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int eta_fmt_real(char *buf, size_t n, double x)
{
    if (isnan(x))
        return snprintf(buf, n, "nan");
    if (isinf(x))
        return snprintf(buf, n, x < 0 ? "-inf" : "inf");
    if (x == 0)
        return snprintf(buf, n, signbit(x) ? "-0.0" : "0.0");
    /* The shortest %.Ng that reads back exactly. */
    char tmp[40];
    int p = 1;
    for (; p <= 17; p++) {
        snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    int e = (int)floor(log10(fabs(x)));
    snprintf(tmp, sizeof tmp, "%.*e", p - 1, x);
    const char *ep = strchr(tmp, 'e');
    if (ep)
        e = atoi(ep + 1); /* the exponent as printed, after rounding */
    if (e < -4 || e >= 16) {
        /* Python: mantissa without trailing zeros, exponent with at least 2 digits. */
        char mant[32];
        size_t m = (size_t)(ep - tmp);
        memcpy(mant, tmp, m);
        mant[m] = 0;
        return snprintf(buf, n, "%se%c%02d", mant, e < 0 ? '-' : '+', abs(e));
    }
    int decimals = p - 1 - e;
    if (decimals < 1)
        return snprintf(buf, n, "%.0f.0", x);
    return snprintf(buf, n, "%.*f", decimals, x);
}
