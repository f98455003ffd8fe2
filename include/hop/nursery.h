/* hop/nursery.h: a registry of live tasks with graceful shutdown, for
 * servers (a task per connection), in the spirit of Tokio's TaskTracker
 * with a CancellationToken and Go's http.Server.Shutdown(ctx):
 *
 *     hop_nursery_t conns;
 *     hop_nursery_init(&conns);
 *     for (;;) {                                       // the accept loop
 *         ...accept...
 *         hop_nursery_spawn(&conns, loop, handle, stream, NULL, NULL);
 *     }
 *     ...
 *     hop_nursery_shutdown(&conns, 5000);              // 5 s of grace
 *     hop_nursery_destroy(&conns);
 *
 * Unlike a task group (hop/group.h) a nursery keeps nothing of a task once
 * it has finished: its record is freed as the task ends, so memory follows
 * the number of live tasks, not the number ever spawned. A member's failure
 * (a status other than 0 and HOP_ECANCELED) is counted and touches nobody
 * else; its result belongs to the task as always (options' result_destructor
 * frees it).
 *
 * Shutdown, in three steps: (1) the nursery closes: hop_nursery_spawn
 * returns HOP_ECLOSED from then on, and members can see it
 * (hop_nursery_closing) to finish what they are doing and stop, as an HTTP
 * server answers its request in flight with "Connection: close"; (2) it
 * waits for the live tasks, up to a grace period; (3) it cancels the tasks
 * still running (hop_task_cancel: their awaits return HOP_ECANCELED; a
 * shield, hop/timer.h, lets their cleanup still await) and waits for them
 * to finish. */
#ifndef HOP_NURSERY_H
#define HOP_NURSERY_H

#include "hop/common.h"
#include "hop/future.h"
#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_nursery_s hop_nursery_t;
typedef struct hop_nursery_stats_s hop_nursery_stats_t;

struct hop_nursery_s {
    /* private: caller-allocated, from hop_nursery_init() to hop_nursery_destroy() */
    unsigned int lock;
    unsigned int state; /* open, closed, cancelling */
    void *live;         /* members whose tasks have not finished (not yet cancelled) */
    void *cancelled;    /* ...and those the shutdown has cancelled */
    uint64_t count;     /* live members */
    uint64_t peak;
    uint64_t total;
    uint64_t failed;
    uint64_t cancelled_count;
    unsigned int drain_set; /* drained is being set, then set (atomic) */
    hop_future_t drained;   /* completes once closed and empty */
    void *reserved[2];      /* room to grow: see "Layout" in hop/common.h */
};

struct hop_nursery_stats_s {
    uint64_t live;      /* tasks spawned into it that have not finished */
    uint64_t peak;      /* most live tasks at once */
    uint64_t total;     /* tasks spawned into it since init */
    uint64_t failed;    /* finished with a status other than 0 and HOP_ECANCELED */
    uint64_t cancelled; /* finished cancelled (by the shutdown or anyone) */
};

/* hop_nursery_init: makes nursery empty and open; all-zero memory is the
 * same (a zeroed nursery is an initialised one). Not thread-safe against
 * other use of the same nursery. Returns 0 or HOP_EINVAL (NULL). */
HOP_EXTERN int hop_nursery_init(hop_nursery_t *nursery);

/* hop_nursery_spawn: spawns fn(arg, &result) as a task on executor
 * (hop_task_spawn_ex; options may be NULL) and adds it to nursery until it
 * finishes. If task is not NULL it receives a reference of its own
 * (hop_task_unref() it). Any thread, from members too; does not suspend.
 * Returns 0; HOP_EINVAL (NULL nursery, executor or fn; a destroyed
 * nursery); HOP_ECLOSED (the
 * nursery is shutting down: nothing was spawned); hop_task_spawn's errors
 * (HOP_ENOMEM...). On error *task is NULL. */
HOP_EXTERN int hop_nursery_spawn(hop_nursery_t *nursery, hop_executor_t *executor, hop_task_status_fn fn,
                                 void *arg, const hop_task_options_t *options, hop_task_t **task);

/* hop_nursery_close: step 1 alone: refuses new tasks from now on (the live
 * ones go on). Any thread; does not suspend. Returns 0; HOP_EINVAL (NULL,
 * destroyed); HOP_EALREADY (closed already). */
HOP_EXTERN int hop_nursery_close(hop_nursery_t *nursery);

/* hop_nursery_closing: whether the nursery refuses new tasks (shutdown has
 * begun). Any thread; members poll it to wind down. false for NULL. */
HOP_EXTERN bool hop_nursery_closing(const hop_nursery_t *nursery);

/* hop_nursery_shutdown: the three steps above: closes, waits up to grace_ms
 * (0: not at all) for the live tasks, cancels the rest and waits for them.
 * Returns once every task spawned into the nursery has finished. From a
 * task it suspends (a cancel of the caller cuts the grace short, never the
 * last wait: no member outlives the call); from a plain thread it blocks.
 * Returns 0 (all finished within grace); HOP_ETIMEDOUT (some had to be
 * cancelled; they have finished too); HOP_ECANCELED (the caller was
 * cancelled meanwhile; all have finished); HOP_EINVAL (NULL, destroyed,
 * negative grace_ms); HOP_EDEADLK (called from one of the nursery's own
 * tasks, which it would wait for: nothing changed); HOP_ENOMEM (no memory
 * for the timer of the wait: tasks may still be live, call it again).
 * Several shutdowns may run at once: each returns once all members have
 * finished; a shutdown after one returned returns 0 at once. */
HOP_EXTERN int hop_nursery_shutdown(hop_nursery_t *nursery, int64_t grace_ms);

/* hop_nursery_stats: a snapshot of the counters. Any thread. Returns 0 or
 * HOP_EINVAL (NULL argument, destroyed nursery). */
HOP_EXTERN int hop_nursery_stats(const hop_nursery_t *nursery, hop_nursery_stats_t *stats);

/* hop_nursery_destroy: releases nursery; later calls on it return
 * HOP_EINVAL until it is initialised again. Returns 0; HOP_EINVAL (NULL,
 * destroyed already); HOP_EBUSY (tasks still live: nothing changed; shut it
 * down first). */
HOP_EXTERN int hop_nursery_destroy(hop_nursery_t *nursery);

#ifdef __cplusplus
}
#endif

#endif /* HOP_NURSERY_H */
