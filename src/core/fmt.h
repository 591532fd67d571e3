/* core/fmt.h - internal: numbers printed as Python prints them. */
#ifndef ETA_CORE_FMT_H
#define ETA_CORE_FMT_H

#include <stddef.h>

/* Writes x as Python's repr(float) would: the shortest text that reads back
 * to the same double ("0.1", "1e-08", "1000000.0", "inf", "nan"). */
int eta_fmt_real(char *buf, size_t n, double x);

#endif
