/* src/core/fatal.c: the one way hop dies, for broken invariants only. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

void hop__fatal(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("hop: fatal: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    abort();
}
