/* src/core/trace.h: the task lifecycle's hooks for the trace (hop/trace.h;
 * src/core/trace.c). Each hook is one predictable branch on hop__trace_state
 * while no trace is recorded: call them as HOP__TRACE(hop__trace_run(t)). */
#ifndef HOP_SRC_TRACE_H
#define HOP_SRC_TRACE_H

#include "internal.h"

/* The trace being recorded (its session number, never 0), or 0 (atomic). */
extern unsigned int hop__trace_state;

static inline bool hop__tracing(void) {
    return __builtin_expect(hop__atomic_load_uint(&hop__trace_state) != 0u, 0);
}

#define HOP__TRACE(call)                                                                                     \
    do {                                                                                                     \
        if (hop__tracing())                                                                                  \
            call;                                                                                            \
    } while (0)

/* The slow paths, called only while tracing, each on the thread the event
 * happens on (any stack: they reach thread-locals through HOP__TLS_SLOT). */

/* t was spawned by parent (NULL: from a plain thread), before its submit. */
void hop__trace_spawn(const hop_task_t *t, const hop_task_t *parent);
/* t is about to start or resume running on this thread (hop__task_run). */
void hop__trace_run(hop_task_t *t);
/* t switched back to this thread: it suspends, or joins a child here
 * (nothing is recorded for a task that finished: hop__trace_finish is). */
void hop__trace_switched_out(const hop_task_t *t);
/* t is over, cancelled or done, before its future completes. */
void hop__trace_finish(const hop_task_t *t, bool cancelled);
/* A completion (or an interrupt) won t's await and resubmits it. */
void hop__trace_resume(const hop_task_t *t);
/* hop_task_cancel(t) was accepted. */
void hop__trace_cancel(const hop_task_t *t);

#endif /* HOP_SRC_TRACE_H */
