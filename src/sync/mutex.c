/* src/sync/mutex.c: the FIFO async mutex.
 *
 * Invariant, under the spin lock: owner == NULL implies an empty queue. An
 * unlock with waiters never sets owner to NULL: it moves ownership to the
 * head waiter (owner = its task) in the same critical section that unlinks
 * it, so the mutex is never free while someone waits, and try_lock cannot
 * barge.
 *
 * A waiter's queued flag, read and written only under the spin lock, decides
 * the race between a hand-off and an interrupt (hop_task_cancel, deadlines):
 *   - cancel finds queued: it unlinks the waiter and returns 0; nobody will
 *     complete it, and the task resumes with the interrupt's status.
 *   - cancel finds !queued: unlock has already made the task the owner and
 *     will (or did) complete the await; cancel returns HOP_EALREADY, and the
 *     task resumes with 0, owning the mutex. Ownership is never dropped.
 * After its critical section the unlocking thread touches only the waiter,
 * which stays valid until hop_awaitable_complete() because the task cannot
 * leave the await before that. */
#include "hop/mutex.h"

#include "core/internal.h"

typedef struct hop__mutex_waiter_s {
    hop_awaitable_t base;
    hop_mutex_t *mutex;
    struct hop__mutex_waiter_s *next;
    struct hop__mutex_waiter_s *prev;
    bool queued;
} hop__mutex_waiter_t;

/* The public struct keeps the spin lock as a bare word (src/core/atomic.h is not
 * public); hop__spinlock_t is exactly that word. */
static hop__spinlock_t *hop__mutex_spin(hop_mutex_t *m) { return (hop__spinlock_t *)(void *)&m->lock; }

static bool hop__mutex_valid(const hop_mutex_t *m) { return m && m->magic == HOP__MUTEX_MAGIC; }

static hop_task_t *hop__mutex_owner(const hop_mutex_t *m) {
    return hop__atomic_load_ptr((hop_task_t **)&m->owner);
}

/* Under the spin lock. */
static void hop__mutex_unlink(hop_mutex_t *m, hop__mutex_waiter_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        m->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        m->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

int hop_mutex_init(hop_mutex_t *mutex) {
    if (!mutex)
        return HOP_EINVAL;
    *mutex = (hop_mutex_t)HOP_MUTEX_INIT;
    return 0;
}

/* Takes a free mutex for task; under the spin lock. */
static bool hop__mutex_take_if_free(hop_mutex_t *m, hop_task_t *task) {
    if (hop__mutex_owner(m))
        return false;
    hop__atomic_store_ptr(&m->owner, task);
    return true;
}

/* ready: the uncontended path, on the task's stack, without a switch. */
static bool hop__mutex_lock_ready(hop_awaitable_t *aw) {
    hop__mutex_waiter_t *w = (hop__mutex_waiter_t *)aw;
    hop__spinlock_lock(hop__mutex_spin(w->mutex));
    bool taken = hop__mutex_take_if_free(w->mutex, hop_awaitable_task(aw));
    hop__spinlock_unlock(hop__mutex_spin(w->mutex));
    return taken;
}

static bool hop__mutex_lock_suspend(hop_awaitable_t *aw) {
    hop__mutex_waiter_t *w = (hop__mutex_waiter_t *)aw;
    hop_mutex_t *m = w->mutex;
    hop__spinlock_lock(hop__mutex_spin(m));
    /* Unlocked since ready() looked, with nobody waiting: take it. */
    if (hop__mutex_take_if_free(m, hop_awaitable_task(aw))) {
        hop__spinlock_unlock(hop__mutex_spin(m));
        return false;
    }
    w->next = NULL;
    w->prev = m->tail;
    if (m->tail)
        m->tail->next = w;
    else
        m->head = w;
    m->tail = w;
    w->queued = true;
    /* From here an unlock on another thread may complete aw. */
    hop__spinlock_unlock(hop__mutex_spin(m));
    return true;
}

static int hop__mutex_lock_cancel(hop_awaitable_t *aw) {
    hop__mutex_waiter_t *w = (hop__mutex_waiter_t *)aw;
    hop_mutex_t *m = w->mutex;
    hop__spinlock_lock(hop__mutex_spin(m));
    bool withdrawn = w->queued;
    if (withdrawn)
        hop__mutex_unlink(m, w);
    hop__spinlock_unlock(hop__mutex_spin(m));
    /* Not queued: the mutex is already this task's, its completion under way. */
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t hop__mutex_lock_ops = {
    .ready = hop__mutex_lock_ready,
    .suspend = hop__mutex_lock_suspend,
    .cancel = hop__mutex_lock_cancel,
};

int hop_mutex_lock(hop_mutex_t *mutex) {
    if (!hop__mutex_valid(mutex))
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    /* Only this task can make itself the owner or stop being it, so this
     * read cannot be overtaken. */
    if (hop__mutex_owner(mutex) == self)
        return HOP_EDEADLK;
    hop__mutex_waiter_t w = {.mutex = mutex};
    hop_awaitable_init(&w.base, &hop__mutex_lock_ops);
    return hop_await(&w.base);
}

int hop_mutex_try_lock(hop_mutex_t *mutex) {
    if (!hop__mutex_valid(mutex))
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    hop__spinlock_lock(hop__mutex_spin(mutex));
    bool taken = hop__mutex_take_if_free(mutex, self);
    hop__spinlock_unlock(hop__mutex_spin(mutex));
    return taken ? 0 : HOP_EAGAIN;
}

int hop_mutex_unlock(hop_mutex_t *mutex) {
    if (!hop__mutex_valid(mutex))
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    hop__spinlock_lock(hop__mutex_spin(mutex));
    if (hop__mutex_owner(mutex) != self) {
        hop__spinlock_unlock(hop__mutex_spin(mutex));
        return HOP_EPERM;
    }
    hop__mutex_waiter_t *next = mutex->head;
    if (next) {
        hop__mutex_unlink(mutex, next);
        /* Direct hand-off: next's task owns the mutex before it runs. */
        hop__atomic_store_ptr(&mutex->owner, hop_awaitable_task(&next->base));
    } else {
        hop__atomic_store_ptr(&mutex->owner, NULL);
    }
    hop__spinlock_unlock(hop__mutex_spin(mutex));
    if (next)
        hop_awaitable_complete(&next->base, 0);
    return 0;
}

bool hop_mutex_is_locked(const hop_mutex_t *mutex) {
    return hop__mutex_valid(mutex) && hop__mutex_owner(mutex) != NULL;
}

int hop_mutex_destroy(hop_mutex_t *mutex) {
    if (!hop__mutex_valid(mutex))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__mutex_spin(mutex));
    bool busy = hop__mutex_owner(mutex) != NULL || mutex->head != NULL;
    if (!busy)
        mutex->magic = 0;
    hop__spinlock_unlock(hop__mutex_spin(mutex));
    return busy ? HOP_EBUSY : 0;
}
