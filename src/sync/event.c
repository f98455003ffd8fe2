/* src/sync/event.c: the async event.
 *
 * hop_event_set() sets the flag and takes the whole wait queue in one
 * critical section, then completes the taken waiters outside the lock. The
 * queue (core/waitq.h) decides the race between a set and an interrupt: a
 * waiter still queued is withdrawn (cancel returns 0); one a set has taken is
 * completed by that set (cancel returns HOP_EALREADY, and the wait returns
 * 0). After the critical section, set touches only the taken waiters, each
 * valid until its own completion; so an event may be destroyed as soon as
 * hop_event_set() has been entered and left the lock. */
#include <stdio.h>

#include "hop/event.h"

#include "core/waitq.h"

typedef struct {
    hop__waiter_t waiter; /* first: the awaitable converts to the record */
    hop_event_t *event;
} hop__event_waiter_t;

/* The public struct keeps the spin lock as a bare word, which is all a
 * hop__spinlock_t is. */
static hop__spinlock_t *hop__event_spin(hop_event_t *e) { return (hop__spinlock_t *)(void *)&e->lock; }

static bool hop__event_valid(const hop_event_t *e) { return e && e->magic == HOP__EVENT_MAGIC; }

static bool hop__event_flag(const hop_event_t *e) {
    return hop__atomic_load_uint((unsigned int *)&e->set) != 0;
}

int hop_event_init(hop_event_t *event) {
    if (!event)
        return HOP_EINVAL;
    *event = (hop_event_t)HOP_EVENT_INIT;
    return 0;
}

int hop_event_set(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__event_spin(event));
    hop__atomic_store_uint(&event->set, 1u);
    hop__waitq_node_t *woken = hop__waitq_take_all(&event->waiters);
    hop__spinlock_unlock(hop__event_spin(event));
    hop__waitq_complete_all(woken, 0);
    return 0;
}

int hop_event_clear(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    /* Under the lock, so that a waiter's suspend sees either the set that
     * preceded this clear or neither. */
    hop__spinlock_lock(hop__event_spin(event));
    hop__atomic_store_uint(&event->set, 0u);
    hop__spinlock_unlock(hop__event_spin(event));
    return 0;
}

bool hop_event_is_set(const hop_event_t *event) { return hop__event_valid(event) && hop__event_flag(event); }

static bool hop__event_wait_ready(hop_awaitable_t *aw) {
    return hop__event_flag(((hop__event_waiter_t *)aw)->event);
}

/* Under the spin lock: set since ready() looked, so no need to wait. */
static bool hop__event_wait_ready_locked(hop__waiter_t *w) {
    return hop__event_flag(((hop__event_waiter_t *)w)->event);
}

static void hop__event_wait_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "event %p", (void *)((const hop__event_waiter_t *)aw)->event);
}

static const hop_awaitable_ops_t hop__event_wait_ops = {.name = "event wait", 
    .ready = hop__event_wait_ready,
    .suspend = hop__waiter_suspend,
    .cancel = hop__waiter_cancel,
    .describe = hop__event_wait_describe,
    .describe_size = sizeof(hop__event_waiter_t),
};

int hop_event_wait(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    hop__event_waiter_t w = {.event = event};
    hop__waiter_init(&w.waiter, &hop__event_wait_ops, hop__event_spin(event), &event->waiters,
                     hop__event_wait_ready_locked);
    return hop_await(&w.waiter.base);
}

int hop_event_destroy(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__event_spin(event));
    bool busy = !hop__waitq_empty(&event->waiters);
    if (!busy)
        event->magic = 0;
    hop__spinlock_unlock(hop__event_spin(event));
    return busy ? HOP_EBUSY : 0;
}
