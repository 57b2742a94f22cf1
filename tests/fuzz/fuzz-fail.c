/* What every fuzz target calls when a check fails (fuzz-target.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz-target.h"

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("fuzz check failed: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
