/* hop/event.h: an async event flag for tasks, like asyncio.Event.
 *
 * An event is set or clear. hop_event_wait() returns at once while it is set
 * and otherwise suspends the task (not its thread) until hop_event_set();
 * setting wakes every task waiting at that moment, each on its own executor.
 * hop_event_set() and hop_event_clear() may be called from any thread: plain
 * threads, libuv callbacks, pool jobs, tasks.
 *
 * A waiter woken by a set returns 0 even if the event was cleared again
 * before the task got to run: it was set while the task waited, which is
 * what the wait was for (asyncio behaves the same).
 *
 * Waiting is interruptible (hop_task_cancel: HOP_ECANCELED; deadlines:
 * HOP_ETIMEDOUT). A set that has already reached the waiter wins over an
 * interrupt: the wait then returns 0.
 *
 * The waiter record lives on the waiting task's stack (no allocation); a
 * short spin lock guards the waiter list. */
#ifndef HOP_EVENT_H
#define HOP_EVENT_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_event_s hop_event_t;

struct hop_event_s {
    /* private: caller-allocated; initialise with hop_event_init() or
     * HOP_EVENT_INIT */
    unsigned int lock;  /* spin lock word guarding the waiter list */
    unsigned int magic; /* set by init, cleared by destroy */
    unsigned int set;   /* 0 or 1 (atomic) */
    hop__waitq_t waiters;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

#define HOP__EVENT_MAGIC 0x65766e74u /* "evnt" */

/* HOP_EVENT_INIT: a static initialiser for a clear event, same as
 * hop_event_init(). */
#define HOP_EVENT_INIT                                                                                       \
    { 0u, HOP__EVENT_MAGIC, 0u, HOP__WAITQ_INIT, {NULL, NULL} }

/* hop_event_init: makes event clear, with no waiters. Any thread; not
 * concurrently with other use of the same event. Returns 0 or HOP_EINVAL. */
HOP_EXTERN int hop_event_init(hop_event_t *event);

/* hop_event_set: sets event and wakes every task waiting on it (in the order
 * they began waiting; each resumes on its own executor). Setting a set event
 * changes nothing. Any thread; never suspends or blocks (O(waiters)).
 * Returns 0, or HOP_EINVAL (NULL, uninitialised or destroyed). */
HOP_EXTERN int hop_event_set(hop_event_t *event);

/* hop_event_clear: clears event: later waits suspend until the next set.
 * Any thread. Returns 0 or HOP_EINVAL. */
HOP_EXTERN int hop_event_clear(hop_event_t *event);

/* hop_event_is_set: whether event is set: a snapshot. Any thread. false for
 * NULL or an uninitialised event. */
HOP_EXTERN bool hop_event_is_set(const hop_event_t *event);

/* hop_event_wait: returns at once if event is set; otherwise suspends the
 * current task until it is. Task only.
 * Returns 0; HOP_EINVAL; HOP_ENOTTASK; HOP_ECANCELED or HOP_ETIMEDOUT (the
 * task was cancelled, or its deadline passed, before the event was set). */
HOP_EXTERN int hop_event_wait(hop_event_t *event);

/* hop_event_destroy: ends event's life; later calls on it return HOP_EINVAL
 * until it is initialised again. Any thread.
 * Returns 0; HOP_EBUSY (tasks wait on it: nothing changed); HOP_EINVAL. */
HOP_EXTERN int hop_event_destroy(hop_event_t *event);

#ifdef __cplusplus
}
#endif

#endif /* HOP_EVENT_H */
