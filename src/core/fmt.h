/* core/fmt.h - internal: numbers printed as Python prints them, and CSV
 * fields quoted as Python's csv module quotes them. */
#ifndef ETA_CORE_FMT_H
#define ETA_CORE_FMT_H

#include <stddef.h>
#include <stdio.h>

/* Writes x as Python's repr(float) would: the shortest text that reads back
 * to the same double ("0.1", "1e-08", "1000000.0", "inf", "nan"). */
int eta_fmt_real(char *buf, size_t n, double x);

/* Writes text as one CSV field: as it is, or in double quotes (quotes
 * doubled) when it holds a comma, a quote or a line break. */
void eta_fmt_csv_field(FILE *f, const char *text);

#endif
