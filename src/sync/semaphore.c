/* src/sync/semaphore.c: the bounded FIFO semaphore.
 *
 * Invariant, under the spin lock: a non-empty queue implies count == 0. A
 * release with waiters does not raise the count: it unlinks the head waiter
 * and hands it the permit in the same critical section, so no try_acquire
 * can take a permit a waiter is owed.
 *
 * The wait queue (core/waitq.h) decides the race between a release and an
 * interrupt: a waiter still queued is withdrawn (cancel returns 0, the count
 * untouched); one a release has dequeued already holds its permit and is
 * being completed (HOP_EALREADY: the acquire returns 0 with the permit). */
#include <stdio.h>

#include "hop/semaphore.h"

#include "core/waitq.h"

#define HOP__SEMAPHORE_MAGIC 0x73656d61u /* "sema" */

typedef struct {
    hop__waiter_t waiter; /* first: the awaitable converts to the record */
    hop_semaphore_t *semaphore;
} hop__semaphore_waiter_t;

/* The public struct keeps the spin lock as a bare word, which is all a
 * hop__spinlock_t is. */
static hop__spinlock_t *hop__semaphore_spin(hop_semaphore_t *s) {
    return (hop__spinlock_t *)(void *)&s->lock;
}

static bool hop__semaphore_valid(const hop_semaphore_t *s) { return s && s->magic == HOP__SEMAPHORE_MAGIC; }

static unsigned int hop__semaphore_count(const hop_semaphore_t *s) {
    return hop__atomic_load_uint((unsigned int *)&s->count);
}

/* Takes a free permit; under the spin lock. */
static bool hop__semaphore_take(hop_semaphore_t *s) {
    unsigned int count = hop__semaphore_count(s);
    if (count == 0)
        return false;
    hop__atomic_store_uint(&s->count, count - 1);
    return true;
}

int hop_semaphore_init(hop_semaphore_t *semaphore, unsigned int initial, unsigned int max) {
    if (!semaphore)
        return HOP_EINVAL;
    semaphore->magic = 0; /* a failed init leaves it uninitialised */
    if (max == 0 || initial > max)
        return HOP_EINVAL;
    semaphore->lock = 0;
    semaphore->count = initial;
    semaphore->max = max;
    hop__waitq_init(&semaphore->waiters);
    semaphore->magic = HOP__SEMAPHORE_MAGIC;
    return 0;
}

static bool hop__semaphore_acquire_ready(hop_awaitable_t *aw) {
    hop_semaphore_t *s = ((hop__semaphore_waiter_t *)aw)->semaphore;
    hop__spinlock_lock(hop__semaphore_spin(s));
    bool taken = hop__semaphore_take(s);
    hop__spinlock_unlock(hop__semaphore_spin(s));
    return taken;
}

/* Under the spin lock: released since ready() looked (so nobody waits), so
 * take it. */
static bool hop__semaphore_acquire_ready_locked(hop__waiter_t *w) {
    return hop__semaphore_take(((hop__semaphore_waiter_t *)w)->semaphore);
}

static void hop__semaphore_acquire_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "semaphore %p", (void *)((const hop__semaphore_waiter_t *)aw)->semaphore);
}

static const hop_awaitable_ops_t hop__semaphore_acquire_ops = {.name = "semaphore acquire", 
    .ready = hop__semaphore_acquire_ready,
    .suspend = hop__waiter_suspend,
    .cancel = hop__waiter_cancel,
    .describe = hop__semaphore_acquire_describe,
    .describe_size = sizeof(hop__semaphore_waiter_t),
};

int hop_semaphore_acquire(hop_semaphore_t *semaphore) {
    if (!hop__semaphore_valid(semaphore))
        return HOP_EINVAL;
    hop__semaphore_waiter_t w = {.semaphore = semaphore};
    hop__waiter_init(&w.waiter, &hop__semaphore_acquire_ops, hop__semaphore_spin(semaphore),
                     &semaphore->waiters, hop__semaphore_acquire_ready_locked);
    return hop_await(&w.waiter.base);
}

int hop_semaphore_try_acquire(hop_semaphore_t *semaphore) {
    if (!hop__semaphore_valid(semaphore))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__semaphore_spin(semaphore));
    bool taken = hop__semaphore_take(semaphore);
    hop__spinlock_unlock(hop__semaphore_spin(semaphore));
    return taken ? 0 : HOP_EAGAIN;
}

int hop_semaphore_release(hop_semaphore_t *semaphore) {
    if (!hop__semaphore_valid(semaphore))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__semaphore_spin(semaphore));
    hop__waiter_t *w = hop__waiter_of(hop__waitq_pop(&semaphore->waiters)); /* w now holds the permit */
    int err = 0;
    if (!w) {
        unsigned int count = hop__semaphore_count(semaphore);
        if (count >= semaphore->max)
            err = HOP_ESTATE;
        else
            hop__atomic_store_uint(&semaphore->count, count + 1);
    }
    hop__spinlock_unlock(hop__semaphore_spin(semaphore));
    if (w)
        hop_awaitable_complete(&w->base, 0);
    return err;
}

unsigned int hop_semaphore_value(const hop_semaphore_t *semaphore) {
    return hop__semaphore_valid(semaphore) ? hop__semaphore_count(semaphore) : 0;
}

int hop_semaphore_destroy(hop_semaphore_t *semaphore) {
    if (!hop__semaphore_valid(semaphore))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__semaphore_spin(semaphore));
    bool busy = !hop__waitq_empty(&semaphore->waiters);
    if (!busy)
        semaphore->magic = 0;
    hop__spinlock_unlock(hop__semaphore_spin(semaphore));
    return busy ? HOP_EBUSY : 0;
}
