/* src/core/waitq.h: the intrusive wait queue under every hop primitive that
 * makes something wait (futures, mutex, event, semaphore, channel, once).
 *
 * A FIFO, doubly linked through nodes that live inside the waiters (on the
 * waiting task's or thread's stack), in the spirit of libuv's queue.h but
 * NULL-terminated instead of circular, so that all-zero storage is an empty
 * queue and the public static initialisers need no address. Nothing here
 * allocates or synchronises: the owner guards each queue with its own lock
 * and calls every operation below under it.
 *
 * The one rule that makes a cancel racing a wake-up come out exactly one way:
 * a node's queued flag says whether the queue still holds it, and only two
 * things clear it, both under the owner's lock:
 *   - a waker dequeues it (hop__waitq_pop, hop__waitq_take_all) and thereby
 *     owns its wake-up, which it delivers after dropping the lock;
 *   - a canceller withdraws it (hop__waitq_cancel), and then nobody wakes it.
 * Whichever comes first wins and the other sees the flag clear. */
#ifndef HOP_SRC_WAITQ_H
#define HOP_SRC_WAITQ_H

#include "internal.h"

static inline void hop__waitq_init(hop__waitq_t *q) { q->head = q->tail = NULL; }

static inline bool hop__waitq_empty(const hop__waitq_t *q) { return q->head == NULL; }

/* hop__waitq_push: appends n at the tail; n is queued. */
static inline void hop__waitq_push(hop__waitq_t *q, hop__waitq_node_t *n) {
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    n->queued = true;
}

/* Unlinks queued node n. */
static inline void hop__waitq_unlink(hop__waitq_t *q, hop__waitq_node_t *n) {
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->next = n->prev = NULL;
    n->queued = false;
}

/* hop__waitq_pop: dequeues the longest-waiting node, or returns NULL if the
 * queue is empty. The caller now owns that node's wake-up. */
static inline hop__waitq_node_t *hop__waitq_pop(hop__waitq_t *q) {
    hop__waitq_node_t *n = q->head;
    if (n)
        hop__waitq_unlink(q, n);
    return n;
}

/* hop__waitq_take_all: empties the queue and returns its nodes in arrival
 * order, linked through next (the last one's is NULL), none queued any
 * more. O(nodes). The caller owns every wake-up; it must read a node's next
 * before waking it, since the wake-up may end the node's lifetime. */
static inline hop__waitq_node_t *hop__waitq_take_all(hop__waitq_t *q) {
    hop__waitq_node_t *list = q->head;
    for (hop__waitq_node_t *n = list; n; n = n->next)
        n->queued = false;
    q->head = q->tail = NULL;
    return list;
}

/* hop__waitq_cancel: the one cancel path. Unlinks n and returns true if q
 * still holds it; returns false, touching nothing, if a waker has dequeued
 * it (its wake-up is under way and must win) or it was withdrawn before. */
static inline bool hop__waitq_cancel(hop__waitq_t *q, hop__waitq_node_t *n) {
    if (!n->queued)
        return false;
    hop__waitq_unlink(q, n);
    return true;
}

/* ---- tasks waiting in a queue, behind a spin lock ----------------------- */

/* A task's wait in a queue: the awaitable it suspends on, its node, and
 * where and when it waits. Primitives put it first in their own waiter
 * records, so an awaitable pointer converts to the record. */
typedef struct hop__waiter_s hop__waiter_t;
struct hop__waiter_s {
    hop_awaitable_t base;
    hop__waitq_node_t node;
    hop__spinlock_t *lock; /* guards queue, and the state ready_locked reads */
    hop__waitq_t *queue;
    /* Under lock: true if w need not wait after all (it took what it waits
     * for), false to queue it. */
    bool (*ready_locked)(hop__waiter_t *w);
};

/* hop__waiter_init: prepares w to be awaited with ops, waiting in queue. */
static inline void hop__waiter_init(hop__waiter_t *w, const hop_awaitable_ops_t *ops, hop__spinlock_t *lock,
                                    hop__waitq_t *queue, bool (*ready_locked)(hop__waiter_t *w)) {
    hop_awaitable_init(&w->base, ops);
    w->lock = lock;
    w->queue = queue;
    w->ready_locked = ready_locked;
}

/* The waiter that n belongs to, or NULL for NULL. */
static inline hop__waiter_t *hop__waiter_of(hop__waitq_node_t *n) {
    return n ? hop__container_of(n, hop__waiter_t, node) : NULL;
}

/* hop__waiter_suspend: the suspend op of a hop__waiter_t. Returns false if
 * ready_locked took what the task waits for since ready() looked; otherwise
 * queues the waiter and returns true: from the unlock on, a waker on another
 * thread may complete it. */
static inline bool hop__waiter_suspend(hop_awaitable_t *aw) {
    hop__waiter_t *w = (hop__waiter_t *)aw;
    hop__spinlock_lock(w->lock);
    bool ready = w->ready_locked(w);
    if (!ready)
        hop__waitq_push(w->queue, &w->node);
    hop__spinlock_unlock(w->lock);
    return !ready;
}

/* hop__waiter_cancel: the cancel op of a hop__waiter_t: 0 if it withdrew the
 * waiter (nobody will complete it), or HOP_EALREADY if a waker dequeued it
 * first: that waker has already given it what it waited for and will
 * complete it, so the task resumes with that. */
static inline int hop__waiter_cancel(hop_awaitable_t *aw) {
    hop__waiter_t *w = (hop__waiter_t *)aw;
    hop__spinlock_lock(w->lock);
    bool withdrawn = hop__waitq_cancel(w->queue, &w->node);
    hop__spinlock_unlock(w->lock);
    return withdrawn ? 0 : HOP_EALREADY;
}

/* hop__waitq_complete_all: completes, with status, every waiter of a list
 * from hop__waitq_take_all(), in arrival order. Outside the lock. */
static inline void hop__waitq_complete_all(hop__waitq_node_t *list, int status) {
    while (list) {
        hop__waitq_node_t *next = list->next; /* the completion may end list's lifetime */
        hop_awaitable_complete(&hop__waiter_of(list)->base, status);
        list = next;
    }
}

#endif /* HOP_SRC_WAITQ_H */
