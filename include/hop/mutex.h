/* hop/mutex.h: an async mutex for tasks.
 *
 * A task that finds the mutex held suspends (its thread goes on running
 * other tasks) and resumes, on its own executor, once the mutex is its own.
 * Tasks on any executors and threads may share one mutex.
 *
 * Fairness: strict FIFO. hop_mutex_unlock() hands the mutex straight to the
 * task that has waited longest, which owns it from that moment, before it
 * even runs again; nobody can barge in between (not even hop_mutex_try_lock
 * or the unlocking task locking again at once). The cost is a hand-off per
 * contended unlock: no lock convoy is broken by barging, but no waiter
 * starves either.
 *
 * The owner is a task, not a thread: tasks migrate between threads, and a
 * task may lock on one thread and unlock on another. Only the owning task may
 * unlock. A task that finishes while holding the mutex leaves it locked.
 *
 * Waiting is interruptible: hop_task_cancel(), hop_await_timeout-style
 * deadlines (hop_deadline_enter) cut a waiting hop_mutex_lock() short with
 * HOP_ECANCELED / HOP_ETIMEDOUT, and the task then does not hold the mutex.
 * If the mutex had already been handed to the task when the interrupt came,
 * the hand-off wins: hop_mutex_lock() returns 0 and the task owns the mutex
 * (it must unlock it), so ownership is never lost.
 *
 * Cost: the waiter record lives on the waiting task's stack, so locking never
 * allocates; a short spin lock inside the mutex guards the queue for a few
 * pointer writes. */
#ifndef HOP_MUTEX_H
#define HOP_MUTEX_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_mutex_s hop_mutex_t;

struct hop_mutex_s {
    /* private: caller-allocated; initialise with hop_mutex_init() or
     * HOP_MUTEX_INIT */
    unsigned int lock;  /* spin lock word guarding the fields below */
    unsigned int magic; /* set by init, cleared by destroy */
    hop_task_t *owner;  /* NULL when unlocked (atomic) */
    hop__waitq_t waiters;
    uint64_t owner_id; /* hop_task_id(owner): records are reused, ids never (atomic) */
    void *reserved[1]; /* room to grow: see "Layout" in hop/common.h */
};

#define HOP__MUTEX_MAGIC 0x6d757478u /* "mutx" */

/* HOP_MUTEX_INIT: a static initialiser, same as hop_mutex_init():
 *     static hop_mutex_t table_lock = HOP_MUTEX_INIT; */
#define HOP_MUTEX_INIT                                                                                       \
    { 0u, HOP__MUTEX_MAGIC, NULL, HOP__WAITQ_INIT, 0u, {NULL} }

/* hop_mutex_init: makes mutex unlocked with no waiters. Any thread; not
 * concurrently with other use of the same mutex.
 * Returns 0, or HOP_EINVAL (NULL). */
HOP_EXTERN int hop_mutex_init(hop_mutex_t *mutex);

/* hop_mutex_lock: takes mutex for the current task, suspending the task (not
 * its thread) while another task holds it; waiters are served in arrival
 * order. Task only. A cancelled task (or one whose deadline has passed) gets
 * HOP_ECANCELED (HOP_ETIMEDOUT) at once, even if the mutex is free: cleanup
 * code that must lock anyway can use hop_mutex_try_lock().
 * Returns 0 (the task owns mutex); HOP_EINVAL (NULL, or not initialised or
 * destroyed); HOP_ENOTTASK (not in a task); HOP_EDEADLK (the task already
 * holds mutex: it is not recursive); HOP_ECANCELED, HOP_ETIMEDOUT (the wait
 * was interrupted: the task does not own mutex). */
HOP_EXTERN int hop_mutex_lock(hop_mutex_t *mutex);

/* hop_mutex_try_lock: takes mutex for the current task if nobody holds it
 * and nobody waits; never suspends. Task only (the owner is a task).
 * Returns 0 (the task owns mutex); HOP_EAGAIN (held, by another task or by
 * this one, or handed to a waiter: like every hop try-operation that would
 * have to wait); HOP_EINVAL; HOP_ENOTTASK. */
HOP_EXTERN int hop_mutex_try_lock(hop_mutex_t *mutex);

/* hop_mutex_unlock: releases mutex, handing it to the longest waiting task
 * if there is one (that task is resumed on its own executor, and owns mutex
 * from now on). Task only, by the owning task; never suspends.
 * Returns 0; HOP_EPERM (the current task does not hold mutex: nothing
 * changed); HOP_EINVAL; HOP_ENOTTASK. */
HOP_EXTERN int hop_mutex_unlock(hop_mutex_t *mutex);

/* hop_mutex_is_locked: whether some task holds mutex: a snapshot, which may
 * change at once. Any thread. false for NULL or an uninitialised mutex. */
HOP_EXTERN bool hop_mutex_is_locked(const hop_mutex_t *mutex);

/* hop_mutex_destroy: ends mutex's life; later calls on it return HOP_EINVAL
 * until it is initialised again. Any thread.
 * Returns 0; HOP_EBUSY (held, or tasks wait on it: nothing changed);
 * HOP_EINVAL (NULL, not initialised, or destroyed already). */
HOP_EXTERN int hop_mutex_destroy(hop_mutex_t *mutex);

#ifdef __cplusplus
}
#endif

#endif /* HOP_MUTEX_H */
