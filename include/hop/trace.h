/* hop/trace.h: a trace of what tasks do, for the Perfetto UI.
 *
 *     hop_trace_start(NULL);               // every thread records from now on
 *     ...                                  // the program runs
 *     hop_trace_stop();
 *     FILE *f = fopen("hop.json", "w");
 *     hop_trace_write_json(f);             // open it in https://ui.perfetto.dev
 *     fclose(f);
 *
 * While tracing, each thread records into a ring of its own (no lock, no
 * shared write; the ring is allocated on the thread's first event): a task
 * spawned, a task running on the thread (from the moment it starts or resumes
 * until it suspends or ends), the awaitable it suspends on (the name in its
 * ops table, hop/awaitable.h), a completion that resumes it, a task running
 * on another thread than the last time (a migration), a cancel request, and
 * the task's end. A full ring overwrites its oldest events and counts them
 * as dropped.
 *
 * The export is Chrome's trace-event JSON, which the Perfetto UI and
 * chrome://tracing open: one track per thread (pid: the process, tid: the
 * thread), one slice per stretch a task ran there (named after the task,
 * with its id and name in the slice's args, and what it suspended on or how
 * it ended in the args of the slice's end), instant events for spawns,
 * resumes, migrations and cancels, and a flow arrow from the last slice of
 * a task on one thread to its next slice on another.
 *
 * Off by default: while off, each place that would record costs one
 * predictable branch on a global flag. On, an event costs a clock read, two
 * atomic adds on the thread's own ring (so that hop_trace_stop can wait for
 * writers to leave) and a 64-byte store. bench/RESULTS.md has the figures.
 *
 * Export after stop: hop_trace_write_json refuses to run while tracing
 * (HOP_EBUSY). hop_trace_stop waits for every thread that is writing an
 * event to finish it, so that the export reads rings nobody writes. The rings
 * stay allocated after a trace (for the process's life) and the next
 * hop_trace_start reuses them; that start forgets the previous trace.
 *
 * fork(): the child starts with tracing off (as if hop_trace_stop had been
 * called at the fork) and a copy of the trace so far, which it may write or
 * replace with a trace of its own. */
#ifndef HOP_TRACE_H
#define HOP_TRACE_H

#include <stdio.h>

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The smallest and largest ring, in events; the default. */
#define HOP_TRACE_EVENTS_MIN 16u
#define HOP_TRACE_EVENTS_MAX (1u << 24)
#define HOP_TRACE_EVENTS_DEFAULT 16384u /* 1 MiB a thread: events are 64 bytes */

typedef struct hop_trace_options_s hop_trace_options_t;
typedef struct hop_trace_stats_s hop_trace_stats_t;

struct hop_trace_options_s {
    /* Events each thread keeps (its ring's size), rounded up to a power of
     * two; 0: HOP_TRACE_EVENTS_DEFAULT. Older events are overwritten. */
    size_t events_per_thread;
    unsigned int flags; /* none yet: 0 */
    void *reserved[2];
};

struct hop_trace_stats_s {
    bool on;          /* a trace is being recorded now */
    uint64_t events;  /* events recorded since hop_trace_start, kept or not */
    uint64_t dropped; /* of those, overwritten by newer ones in a full ring, or
                         lost by a thread that could not allocate its ring */
    size_t threads;   /* threads that recorded events */
};

/* hop_trace_start: starts recording (see above), forgetting the previous
 * trace. options: NULL or zeroed for the defaults. Any thread; never
 * suspends; allocates nothing itself (each thread's ring is allocated, or
 * reused from an earlier trace, on its first event).
 * Returns 0; HOP_EINVAL for unknown flags or events_per_thread above
 * HOP_TRACE_EVENTS_MAX; HOP_EBUSY when a trace is being recorded already. */
HOP_EXTERN int hop_trace_start(const hop_trace_options_t *options);

/* hop_trace_stop: stops recording; returns once no thread is writing an
 * event any more (a writer takes a few hundred nanoseconds). The trace stays
 * for hop_trace_write_json and hop_trace_stats. Any thread, including a
 * task; never suspends; blocks only for those writers.
 * Returns 0, or HOP_EALREADY when no trace is being recorded. */
HOP_EXTERN int hop_trace_stop(void);

/* hop_trace_write_json: writes the trace last recorded (nothing but the
 * process's name if none was) to out as Chrome trace-event JSON (see above).
 * Any thread, after hop_trace_stop; never suspends; blocks on out's writes;
 * allocates working memory for the length of the call. out stays the
 * caller's (not closed, flushed).
 * Returns 0; HOP_EINVAL for a NULL out; HOP_EBUSY while a trace is being
 * recorded; HOP_ENOMEM; HOP_EIO when a write to out failed. */
HOP_EXTERN int hop_trace_write_json(FILE *out);

/* hop_trace_stats: the counts of the trace being recorded, or of the last
 * one (all zero before the first). While tracing, each count is read
 * atomically but they are not one snapshot. Any thread; never suspends.
 * Returns 0, or HOP_EINVAL for NULL. */
HOP_EXTERN int hop_trace_stats(hop_trace_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif /* HOP_TRACE_H */
