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
    /* The shortest %.Ng that reads back exactly (17 digits always do). The
     * decimal nearest x with p + 1 digits is at least as near as the one
     * with p, so when the doubles that read back as x lie symmetrically
     * around it, reading back holds from some p on and a binary search
     * finds the least. Not so for a power of two, whose lower neighbour
     * is twice as near as its upper one: those count up from 1. */
    char tmp[40];
    int mexp, lo = 1, hi = 17;
    if (frexp(x, &mexp) == (x < 0 ? -0.5 : 0.5)) {
        while (lo < hi) {
            snprintf(tmp, sizeof tmp, "%.*e", lo - 1, x);
            if (strtod(tmp, NULL) == x)
                break;
            lo++;
        }
    } else {
        /* most numbers a run prints need 16 or 17 digits: look there first */
        snprintf(tmp, sizeof tmp, "%.*e", 15, x);
        if (strtod(tmp, NULL) != x)
            lo = 17;
        else
            hi = 16;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            snprintf(tmp, sizeof tmp, "%.*e", mid - 1, x);
            if (strtod(tmp, NULL) == x)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    int p = lo;
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

void eta_fmt_csv_field(FILE *f, const char *text)
{
    if (!strpbrk(text, ",\"\n\r")) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (const char *c = text; *c; c++) {
        if (*c == '"')
            fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}
