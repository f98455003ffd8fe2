/* src/sync/once.c: one-time async initialisation.
 *
 * States (atomic, changed under the spin lock):
 *   IDLE --(a caller becomes the runner)--> RUNNING
 *   RUNNING --(init succeeded: value stored, waiters woken)--> DONE, for good
 *   RUNNING --(init failed, nobody waiting)--> IDLE
 *   RUNNING --(init failed, waiters)--> RUNNING, with the head waiter as the
 *                                       new runner (handed the turn, FIFO)
 * DONE is stored after value, with release order, so the lock-free fast path
 * that sees DONE reads the value written before it.
 *
 * A waiter's queued flag, under the spin lock, decides a hand-off racing an
 * interrupt: queued means cancel withdraws it (0); !queued means it has been
 * given the value or the runner's turn, and its completion is on its way
 * (HOP_EALREADY): a turn handed to a waiter is never dropped, because that
 * waiter resumes normally and, if it was cancelled meanwhile, passes the
 * turn on itself. */
#include "hop/once.h"

#include "core/task_internal.h"

enum { HOP__ONCE_IDLE = 0, HOP__ONCE_RUNNING = 1, HOP__ONCE_DONE = 2 };

/* What a waiter was given. */
enum { HOP__ONCE_ROLE_NONE = 0, HOP__ONCE_ROLE_DONE, HOP__ONCE_ROLE_RUN };

typedef struct hop__once_waiter_s {
    hop_awaitable_t base;
    hop_once_t *once;
    struct hop__once_waiter_s *next;
    struct hop__once_waiter_s *prev;
    int role;
    bool queued;
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

/* Under the spin lock. */
static void hop__once_unlink(hop_once_t *o, hop__once_waiter_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        o->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        o->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

/* The runner gives up its turn after a failed init: to the head waiter, or
 * back to IDLE. */
static void hop__once_pass_turn(hop_once_t *o) {
    hop__spinlock_lock(hop__once_spin(o));
    hop__once_waiter_t *w = o->head;
    if (w) {
        hop__once_unlink(o, w);
        w->role = HOP__ONCE_ROLE_RUN;
        o->runner = hop_awaitable_task(&w->base);
    } else {
        o->runner = NULL;
        hop__atomic_store_uint(&o->state, HOP__ONCE_IDLE);
    }
    hop__spinlock_unlock(hop__once_spin(o));
    if (w)
        hop_awaitable_complete(&w->base, 0);
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
    o->value = v;
    o->runner = NULL;
    hop__once_waiter_t *list = o->head;
    o->head = o->tail = NULL;
    for (hop__once_waiter_t *w = list; w; w = w->next) {
        w->queued = false;
        w->role = HOP__ONCE_ROLE_DONE;
    }
    /* value is written before DONE is seen (the fast path takes no lock). */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&o->state, HOP__ONCE_DONE);
    hop__spinlock_unlock(hop__once_spin(o));
    while (list) {
        hop__once_waiter_t *next = list->next; /* list may be gone after the wake */
        hop_awaitable_complete(&list->base, 0);
        list = next;
    }
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

static bool hop__once_wait_suspend(hop_awaitable_t *aw) {
    hop__once_waiter_t *w = (hop__once_waiter_t *)aw;
    hop_once_t *o = w->once;
    hop__spinlock_lock(hop__once_spin(o));
    w->role = hop__once_arrive_locked(o, hop_awaitable_task(aw));
    if (w->role != HOP__ONCE_ROLE_NONE) {
        /* Finished, or failed with nobody waiting, since the caller looked. */
        hop__spinlock_unlock(hop__once_spin(o));
        return false;
    }
    w->next = NULL;
    w->prev = o->tail;
    if (o->tail)
        o->tail->next = w;
    else
        o->head = w;
    o->tail = w;
    w->queued = true;
    hop__spinlock_unlock(hop__once_spin(o));
    return true;
}

static int hop__once_wait_cancel(hop_awaitable_t *aw) {
    hop__once_waiter_t *w = (hop__once_waiter_t *)aw;
    hop_once_t *o = w->once;
    hop__spinlock_lock(hop__once_spin(o));
    bool withdrawn = w->queued;
    if (withdrawn)
        hop__once_unlink(o, w);
    hop__spinlock_unlock(hop__once_spin(o));
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t hop__once_wait_ops = {
    .suspend = hop__once_wait_suspend,
    .cancel = hop__once_wait_cancel,
};

static int hop__once_value(hop_once_t *o, void **value) {
    /* Pairs with the release before DONE was stored. */
    hop__atomic_fence_acquire();
    if (value)
        *value = o->value;
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
        hop__once_waiter_t w = {.once = once};
        hop_awaitable_init(&w.base, &hop__once_wait_ops);
        int rc = hop_await(&w.base);
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
