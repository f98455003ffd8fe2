/* src/sync/once.c: one-time async initialisation.
 *
 * States (atomic, changed under the spin lock):
 *   IDLE --(a caller becomes the runner)--> RUNNING
 *   RUNNING --(init succeeded: value stored, waiters woken)--> DONE, for good
 *   RUNNING --(init failed, nobody waiting)--> IDLE
 *   RUNNING --(init failed, waiters)--> RUNNING, with the head waiter as the
 *                                       new runner (handed the turn, FIFO)
 *   DONE --(hop_once_reset)--> IDLE
 * DONE lasts until a reset. value is read without the lock (the fast path),
 * so it is only ever replaced, never cleared, and always atomically: a
 * caller racing a reset and a new init gets one of the two values.
 * DONE is stored after value, with release order, so the lock-free fast path
 * that sees DONE reads the value written before it (or a later one).
 *
 * The wait queue (core/waitq.h), under the spin lock, decides a hand-off
 * racing an interrupt: a waiter still queued is withdrawn (cancel returns 0);
 * one dequeued has been given the value or the runner's turn, and its
 * completion is on its way (HOP_EALREADY): a turn handed to a waiter is
 * never dropped, because that waiter resumes normally and, if it was
 * cancelled meanwhile, passes the turn on itself. */
#include <stdio.h>

#include "hop/once.h"

#include "core/task_internal.h"
#include "core/waitq.h"

enum { HOP__ONCE_IDLE = 0, HOP__ONCE_RUNNING = 1, HOP__ONCE_DONE = 2 };

/* What a waiter was given. */
enum { HOP__ONCE_ROLE_NONE = 0, HOP__ONCE_ROLE_DONE, HOP__ONCE_ROLE_RUN };

typedef struct {
    hop__waiter_t waiter; /* first: the awaitable converts to the record */
    hop_once_t *once;
    int role; /* DONE unless it was handed the turn (RUN) */
} hop__once_waiter_t;

/* The public struct keeps the spin lock as a bare word, which is all a
 * hop__spinlock_t is. */
static hop__spinlock_t *hop__once_spin(hop_once_t *o) { return (hop__spinlock_t *)(void *)&o->lock; }

static unsigned int hop__once_state(const hop_once_t *o) {
    return hop__atomic_load_uint((unsigned int *)&o->state);
}

int hop_once_init(hop_once_t *once) {
    if (!once)
        return HOP_EINVAL;
    *once = (hop_once_t)HOP_ONCE_INIT;
    return 0;
}

bool hop_once_is_done(const hop_once_t *once) { return once && hop__once_state(once) == HOP__ONCE_DONE; }

/* The runner gives up its turn after a failed init: to the head waiter, or
 * back to IDLE. */
static void hop__once_pass_turn(hop_once_t *o) {
    hop__spinlock_lock(hop__once_spin(o));
    hop__once_waiter_t *w = (hop__once_waiter_t *)hop__waiter_of(hop__waitq_pop(&o->waiters));
    if (w) {
        w->role = HOP__ONCE_ROLE_RUN;
        o->runner = hop_awaitable_task(&w->waiter.base);
    } else {
        o->runner = NULL;
        hop__atomic_store_uint(&o->state, HOP__ONCE_IDLE);
    }
    hop__spinlock_unlock(hop__once_spin(o));
    if (w)
        hop_awaitable_complete(&w->waiter.base, 0);
}

/* Runs init as the runner (state RUNNING, runner == this task). */
static int hop__once_run(hop_once_t *o, hop_once_fn init, void *arg, void **value) {
    void *v = NULL;
    int rc = init(arg, &v);
    if (rc < 0) {
        hop__once_pass_turn(o);
        return rc;
    }
    hop__spinlock_lock(hop__once_spin(o));
    hop__atomic_store_ptr(&o->value, v);
    o->runner = NULL;
    /* Each keeps its role DONE: it is given the value. */
    hop__waitq_node_t *woken = hop__waitq_take_all(&o->waiters);
    /* value is written before DONE is seen (the fast path takes no lock). */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&o->state, HOP__ONCE_DONE);
    hop__spinlock_unlock(hop__once_spin(o));
    hop__waitq_complete_all(woken, 0);
    if (value)
        *value = v;
    return 0;
}

/* Under the spin lock: what a caller arriving now gets, if it need not
 * wait: the value (DONE) or the turn to run init (IDLE). */
static int hop__once_arrive_locked(hop_once_t *o, hop_task_t *task) {
    unsigned int state = hop__once_state(o);
    if (state == HOP__ONCE_DONE)
        return HOP__ONCE_ROLE_DONE;
    if (state == HOP__ONCE_IDLE) {
        hop__atomic_store_uint(&o->state, HOP__ONCE_RUNNING);
        o->runner = task;
        return HOP__ONCE_ROLE_RUN;
    }
    return HOP__ONCE_ROLE_NONE;
}

/* Under the spin lock: finished, or failed with nobody waiting, since the
 * caller looked: no need to wait. */
static bool hop__once_wait_ready_locked(hop__waiter_t *waiter) {
    hop__once_waiter_t *w = (hop__once_waiter_t *)waiter;
    int role = hop__once_arrive_locked(w->once, hop_awaitable_task(&waiter->base));
    if (role == HOP__ONCE_ROLE_NONE)
        return false;
    w->role = role;
    return true;
}

static void hop__once_wait_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "once %p", (void *)((const hop__once_waiter_t *)aw)->once);
}

static const hop_awaitable_ops_t hop__once_wait_ops = {.name = "once", 
    .suspend = hop__waiter_suspend,
    .cancel = hop__waiter_cancel,
    .describe = hop__once_wait_describe,
    .describe_size = sizeof(hop__once_waiter_t),
};

static int hop__once_value(hop_once_t *o, void **value) {
    /* Pairs with the release before DONE was stored. */
    hop__atomic_fence_acquire();
    if (value)
        *value = hop__atomic_load_ptr(&o->value);
    return 0;
}

int hop_once_reset(hop_once_t *once, void **old_value) {
    if (!once)
        return HOP_EINVAL;
    hop__spinlock_lock(hop__once_spin(once));
    unsigned int state = hop__once_state(once);
    if (state == HOP__ONCE_DONE)
        hop__atomic_store_uint(&once->state, HOP__ONCE_IDLE);
    void *old = hop__atomic_load_ptr(&once->value);
    hop__spinlock_unlock(hop__once_spin(once));
    if (state == HOP__ONCE_RUNNING)
        return HOP_EBUSY;
    if (state == HOP__ONCE_IDLE)
        return HOP_EALREADY;
    if (old_value)
        *old_value = old;
    return 0;
}

int hop_once_call(hop_once_t *once, hop_once_fn init, void *arg, void **value) {
    if (!once || !init)
        return HOP_EINVAL;
    if (hop__once_state(once) == HOP__ONCE_DONE)
        return hop__once_value(once, value);
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;

    hop__spinlock_lock(hop__once_spin(once));
    int role = hop__once_arrive_locked(once, self);
    bool deadlock = role == HOP__ONCE_ROLE_NONE && once->runner == self;
    hop__spinlock_unlock(hop__once_spin(once));
    if (deadlock)
        return HOP_EDEADLK;

    if (role == HOP__ONCE_ROLE_NONE) {
        hop__once_waiter_t w = {.once = once, .role = HOP__ONCE_ROLE_DONE};
        hop__waiter_init(&w.waiter, &hop__once_wait_ops, hop__once_spin(once), &once->waiters,
                         hop__once_wait_ready_locked);
        int rc = hop_await(&w.waiter.base);
        if (rc < 0)
            return rc; /* interrupted, or cancelled before waiting: nothing was given */
        role = w.role;
        /* Handed the turn after being cancelled: do not start init in a
         * task that is unwinding; the next waiter gets it. */
        if (role == HOP__ONCE_ROLE_RUN && hop__task_cancel_requested(self)) {
            hop__once_pass_turn(once);
            return HOP_ECANCELED;
        }
    }
    if (role == HOP__ONCE_ROLE_DONE)
        return hop__once_value(once, value);
    return hop__once_run(once, init, arg, value);
}
