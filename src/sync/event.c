/* src/sync/event.c: the async event.
 *
 * hop_event_set() sets the flag and detaches the whole waiter list in one
 * critical section, clearing each detached waiter's queued flag, then
 * completes the detached waiters outside the lock. A waiter's queued flag,
 * under the spin lock, decides the race between a set and an interrupt:
 * queued means the interrupt withdraws it (cancel returns 0); !queued means
 * a set owns it and will complete it (cancel returns HOP_EALREADY, and the
 * wait returns 0). After the critical section, set touches only the
 * detached waiters, each valid until its own completion; so an event may be
 * destroyed as soon as hop_event_set() has been entered and left the lock. */
#include "hop/event.h"

#include "core/internal.h"

typedef struct hop__event_waiter_s {
    hop_awaitable_t base;
    hop_event_t *event;
    struct hop__event_waiter_s *next;
    struct hop__event_waiter_s *prev;
    bool queued;
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
    hop__event_waiter_t *w = event->head;
    event->head = event->tail = NULL;
    for (hop__event_waiter_t *it = w; it; it = it->next)
        it->queued = false;
    hop__spinlock_unlock(hop__event_spin(event));
    while (w) {
        /* Read next first: the completion may end w's lifetime. */
        hop__event_waiter_t *next = w->next;
        hop_awaitable_complete(&w->base, 0);
        w = next;
    }
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

static bool hop__event_wait_suspend(hop_awaitable_t *aw) {
    hop__event_waiter_t *w = (hop__event_waiter_t *)aw;
    hop_event_t *e = w->event;
    hop__spinlock_lock(hop__event_spin(e));
    if (hop__event_flag(e)) {
        /* Set since ready() looked: no need to wait. */
        hop__spinlock_unlock(hop__event_spin(e));
        return false;
    }
    w->next = NULL;
    w->prev = e->tail;
    if (e->tail)
        e->tail->next = w;
    else
        e->head = w;
    e->tail = w;
    w->queued = true;
    hop__spinlock_unlock(hop__event_spin(e));
    return true;
}

static int hop__event_wait_cancel(hop_awaitable_t *aw) {
    hop__event_waiter_t *w = (hop__event_waiter_t *)aw;
    hop_event_t *e = w->event;
    hop__spinlock_lock(hop__event_spin(e));
    bool withdrawn = w->queued;
    if (withdrawn) {
        if (w->prev)
            w->prev->next = w->next;
        else
            e->head = w->next;
        if (w->next)
            w->next->prev = w->prev;
        else
            e->tail = w->prev;
        w->queued = false;
    }
    hop__spinlock_unlock(hop__event_spin(e));
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t hop__event_wait_ops = {
    .ready = hop__event_wait_ready,
    .suspend = hop__event_wait_suspend,
    .cancel = hop__event_wait_cancel,
};

int hop_event_wait(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    hop__event_waiter_t w = {.event = event};
    hop_awaitable_init(&w.base, &hop__event_wait_ops);
    return hop_await(&w.base);
}

int hop_event_destroy(hop_event_t *event) {
    if (!hop__event_valid(event))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__event_spin(event));
    bool busy = event->head != NULL;
    if (!busy)
        event->magic = 0;
    hop__spinlock_unlock(hop__event_spin(event));
    return busy ? HOP_EBUSY : 0;
}
