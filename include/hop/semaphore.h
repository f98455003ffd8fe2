/* hop/semaphore.h: a bounded counting semaphore for tasks, like asyncio's
 * BoundedSemaphore.
 *
 * The semaphore holds a count of permits between 0 and a maximum fixed at
 * init. hop_semaphore_acquire() takes one, suspending the task (not its
 * thread) while there are none; hop_semaphore_release() gives one back, from
 * any thread. Releasing more than the maximum is an error (HOP_ESTATE), which
 * catches a release without a matching acquire; pass
 * HOP_SEMAPHORE_UNBOUNDED as the maximum for a plain counting semaphore.
 *
 * Fairness: strict FIFO. A release with waiters hands its permit straight to
 * the task that has waited longest (the count stays 0), so
 * hop_semaphore_try_acquire() never takes a permit ahead of a waiter.
 *
 * Waiting is interruptible (hop_task_cancel: HOP_ECANCELED; deadlines:
 * HOP_ETIMEDOUT); an interrupted acquire took nothing and the count is
 * unchanged. A permit already handed to the task when the interrupt came is
 * never lost: the acquire then returns 0 and the task holds the permit.
 *
 * The waiter record lives on the waiting task's stack (no allocation); a
 * short spin lock guards the count and the queue. */
#ifndef HOP_SEMAPHORE_H
#define HOP_SEMAPHORE_H

#include <limits.h>

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_semaphore_s hop_semaphore_t;

/* The largest maximum: in effect no bound. */
#define HOP_SEMAPHORE_UNBOUNDED UINT_MAX

struct hop_semaphore_s {
    /* private: caller-allocated; initialise with hop_semaphore_init() */
    unsigned int lock;  /* spin lock word guarding the fields below */
    unsigned int magic; /* set by init, cleared by destroy */
    unsigned int count; /* permits available (atomic); 0 while tasks wait */
    unsigned int max;
    hop__waitq_t waiters;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_semaphore_init: makes semaphore hold initial permits, at most max
 * (HOP_SEMAPHORE_UNBOUNDED: no bound). Any thread; not concurrently with
 * other use of the same semaphore.
 * Returns 0, or HOP_EINVAL (NULL; max 0; initial above max: semaphore is
 * then left uninitialised, and later calls on it return HOP_EINVAL). */
HOP_EXTERN int hop_semaphore_init(hop_semaphore_t *semaphore, unsigned int initial, unsigned int max);

/* hop_semaphore_acquire: takes a permit, suspending the current task until
 * one is released to it if there is none (FIFO). Task only. A cancelled task
 * gets HOP_ECANCELED at once, even if a permit is free.
 * Returns 0 (the task holds a permit); HOP_EINVAL (NULL, uninitialised or
 * destroyed); HOP_ENOTTASK; HOP_ECANCELED, HOP_ETIMEDOUT (interrupted:
 * no permit taken). */
HOP_EXTERN int hop_semaphore_acquire(hop_semaphore_t *semaphore);

/* hop_semaphore_try_acquire: takes a permit if one is free; never suspends.
 * Any thread (plain threads and libuv callbacks too).
 * Returns 0; HOP_EAGAIN (none free); HOP_EINVAL. */
HOP_EXTERN int hop_semaphore_try_acquire(hop_semaphore_t *semaphore);

/* hop_semaphore_release: gives a permit back: to the longest waiting task
 * if there is one (it resumes on its own executor), else to the count. Any
 * thread; never suspends.
 * Returns 0; HOP_ESTATE (the count is already at its maximum: nothing
 * changed; a release without an acquire); HOP_EINVAL. */
HOP_EXTERN int hop_semaphore_release(hop_semaphore_t *semaphore);

/* hop_semaphore_value: the permits free right now (a snapshot). Any thread.
 * 0 for NULL or an uninitialised semaphore. */
HOP_EXTERN unsigned int hop_semaphore_value(const hop_semaphore_t *semaphore);

/* hop_semaphore_destroy: ends semaphore's life; later calls on it return
 * HOP_EINVAL until it is initialised again. Any thread.
 * Returns 0; HOP_EBUSY (tasks wait on it: nothing changed); HOP_EINVAL. */
HOP_EXTERN int hop_semaphore_destroy(hop_semaphore_t *semaphore);

#ifdef __cplusplus
}
#endif

#endif /* HOP_SEMAPHORE_H */
