/* src/internal.h: what the core shares with executors/ and its own files.
 * Executors include this and the public headers, nothing else of src/. */
#ifndef HOP_SRC_INTERNAL_H
#define HOP_SRC_INTERNAL_H

#include <stddef.h>

#include "atomic.h"
#include "hop/hop.h"

#define hop__container_of(pointer, type, member) ((type *)((char *)(pointer)-offsetof(type, member)))

/* hop__fatal: reports a broken internal invariant and aborts. Never used for
 * bad input, which gets an error code. */
__attribute__((noreturn, format(printf, 1, 2))) void hop__fatal(const char *format, ...);

#endif /* HOP_SRC_INTERNAL_H */
