/* src/core/internal.h: what the core shares with executors/ and its own files.
 * Executors include this and the public headers, nothing else of src/. */
#ifndef HOP_SRC_INTERNAL_H
#define HOP_SRC_INTERNAL_H

#include <stddef.h>

#include "arch/tls.h"
#include "atomic.h"
#include "hop/hop.h"

#define hop__container_of(pointer, type, member) ((type *)((char *)(pointer)-offsetof(type, member)))

/* hop__executor_ops: an executor's table, read atomically: an executor may
 * swap it (to a "closed" table whose submit refuses) while other threads
 * submit, and hop reads it only through here. NULL when not usable. */
static inline const hop_executor_ops_t *hop__executor_ops(hop_executor_t *executor) {
    if (!executor)
        return NULL;
    const hop_executor_ops_t *ops = hop__atomic_load_ptr(&executor->ops);
    return ops && ops->submit ? ops : NULL;
}

/* hop__executor_submit: submits through the current table. */
static inline int hop__executor_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    return ops ? ops->submit(executor, job, flags) : HOP_ECLOSED;
}

/* hop__fatal: reports a broken internal invariant and aborts. Never used for
 * bad input, which gets an error code. */
__attribute__((noreturn, format(printf, 1, 2))) void hop__fatal(const char *format, ...);

#endif /* HOP_SRC_INTERNAL_H */
