/* src/sync/mutex.c: the FIFO async mutex.
 *
 * Invariant, under the spin lock: owner == NULL implies an empty queue. An
 * unlock with waiters never sets owner to NULL: it moves ownership to the
 * head waiter (owner = its task) in the same critical section that unlinks
 * it, so the mutex is never free while someone waits, and try_lock cannot
 * barge.
 *
 * The wait queue (core/waitq.h), under the spin lock, decides the race
 * between a hand-off and an interrupt (hop_task_cancel, deadlines):
 *   - cancel finds the waiter still queued: it withdraws it and returns 0;
 *     nobody will complete it, and the task resumes with the interrupt's
 *     status.
 *   - cancel finds it dequeued: unlock has already made the task the owner
 *     and will (or did) complete the await; cancel returns HOP_EALREADY, and
 *     the task resumes with 0, owning the mutex. Ownership is never dropped.
 * After its critical section the unlocking thread touches only the waiter,
 * which stays valid until hop_awaitable_complete() because the task cannot
 * leave the await before that. */
#include <stdio.h>

#include "hop/mutex.h"

#include "core/waitq.h"

typedef struct {
    hop__waiter_t waiter; /* first: the awaitable converts to the record */
    hop_mutex_t *mutex;
} hop__mutex_waiter_t;

/* The public struct keeps the spin lock as a bare word (src/core/atomic.h is not
 * public); hop__spinlock_t is exactly that word. */
static hop__spinlock_t *hop__mutex_spin(hop_mutex_t *m) { return (hop__spinlock_t *)(void *)&m->lock; }

static bool hop__mutex_valid(const hop_mutex_t *m) { return m && m->magic == HOP__MUTEX_MAGIC; }

static hop_task_t *hop__mutex_owner(const hop_mutex_t *m) {
    return hop__atomic_load_ptr((hop_task_t **)&m->owner);
}

/* Whether task owns m. By id as well as by record: a task that finished
 * holding the mutex leaves its record pointer in owner, and the record is
 * reused for the next task spawned (same address, new id), which must not
 * count as the owner. */
static bool hop__mutex_owned_by(const hop_mutex_t *m, hop_task_t *task) {
    return hop__mutex_owner(m) == task && hop__atomic_load_u64((uint64_t *)&m->owner_id) == hop_task_id(task);
}

static void hop__mutex_set_owner(hop_mutex_t *m, hop_task_t *task) {
    hop__atomic_store_u64(&m->owner_id, hop_task_id(task));
    hop__atomic_store_ptr(&m->owner, task);
}

/* The checks every call on a mutex makes: 0 with *self the calling task,
 * HOP_EINVAL or HOP_ENOTTASK. */
static int hop__mutex_caller(const hop_mutex_t *m, hop_task_t **self) {
    if (!hop__mutex_valid(m))
        return HOP_EINVAL;
    *self = hop_task_current();
    return *self ? 0 : HOP_ENOTTASK;
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
    hop__mutex_set_owner(m, task);
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

/* Under the spin lock: unlocked since ready() looked, with nobody waiting,
 * so take it. */
static bool hop__mutex_lock_ready_locked(hop__waiter_t *w) {
    return hop__mutex_take_if_free(((hop__mutex_waiter_t *)w)->mutex, hop_awaitable_task(&w->base));
}

/* cancel's HOP_EALREADY: the mutex is already this task's, its completion
 * under way. */
static void hop__mutex_lock_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "mutex %p", (void *)((const hop__mutex_waiter_t *)aw)->mutex);
}

static const hop_awaitable_ops_t hop__mutex_lock_ops = {.name = "mutex lock", 
    .ready = hop__mutex_lock_ready,
    .suspend = hop__waiter_suspend,
    .cancel = hop__waiter_cancel,
    .describe = hop__mutex_lock_describe,
    .describe_size = sizeof(hop__mutex_waiter_t),
};

int hop_mutex_lock(hop_mutex_t *mutex) {
    hop_task_t *self;
    int err = hop__mutex_caller(mutex, &self);
    if (err)
        return err;
    /* Only this task can make itself the owner or stop being it, so this
     * read cannot be overtaken. */
    if (hop__mutex_owned_by(mutex, self))
        return HOP_EDEADLK;
    hop__mutex_waiter_t w = {.mutex = mutex};
    hop__waiter_init(&w.waiter, &hop__mutex_lock_ops, hop__mutex_spin(mutex), &mutex->waiters,
                     hop__mutex_lock_ready_locked);
    return hop_await(&w.waiter.base);
}

int hop_mutex_try_lock(hop_mutex_t *mutex) {
    hop_task_t *self;
    int err = hop__mutex_caller(mutex, &self);
    if (err)
        return err;
    hop__spinlock_lock(hop__mutex_spin(mutex));
    bool taken = hop__mutex_take_if_free(mutex, self);
    hop__spinlock_unlock(hop__mutex_spin(mutex));
    return taken ? 0 : HOP_EAGAIN;
}

int hop_mutex_unlock(hop_mutex_t *mutex) {
    hop_task_t *self;
    int err = hop__mutex_caller(mutex, &self);
    if (err)
        return err;
    hop__spinlock_lock(hop__mutex_spin(mutex));
    if (!hop__mutex_owned_by(mutex, self)) {
        hop__spinlock_unlock(hop__mutex_spin(mutex));
        return HOP_EPERM;
    }
    hop__waiter_t *next = hop__waiter_of(hop__waitq_pop(&mutex->waiters));
    if (next) {
        /* Direct hand-off: next's task owns the mutex before it runs. */
        hop__mutex_set_owner(mutex, hop_awaitable_task(&next->base));
    } else {
        hop__mutex_set_owner(mutex, NULL);
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
    bool busy = hop__mutex_owner(mutex) != NULL || !hop__waitq_empty(&mutex->waiters);
    if (!busy)
        mutex->magic = 0;
    hop__spinlock_unlock(hop__mutex_spin(mutex));
    return busy ? HOP_EBUSY : 0;
}
