/* src/sync/semaphore.c: the bounded FIFO semaphore.
 *
 * Invariant, under the spin lock: a non-empty queue implies count == 0. A
 * release with waiters does not raise the count: it unlinks the head waiter
 * and hands it the permit in the same critical section, so no try_acquire
 * can take a permit a waiter is owed.
 *
 * A waiter's queued flag, under the spin lock, decides the race between a
 * release and an interrupt: queued means cancel withdraws the waiter (0, the
 * count untouched); !queued means a release already gave it a permit and
 * will complete it (HOP_EALREADY: the acquire returns 0 with the permit). */
#include "hop/semaphore.h"

#include "core/internal.h"

#define HOP__SEMAPHORE_MAGIC 0x73656d61u /* "sema" */

typedef struct hop__semaphore_waiter_s {
    hop_awaitable_t base;
    hop_semaphore_t *semaphore;
    struct hop__semaphore_waiter_s *next;
    struct hop__semaphore_waiter_s *prev;
    bool queued;
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
    semaphore->head = semaphore->tail = NULL;
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

static bool hop__semaphore_acquire_suspend(hop_awaitable_t *aw) {
    hop__semaphore_waiter_t *w = (hop__semaphore_waiter_t *)aw;
    hop_semaphore_t *s = w->semaphore;
    hop__spinlock_lock(hop__semaphore_spin(s));
    /* Released since ready() looked (so nobody waits): take it. */
    if (hop__semaphore_take(s)) {
        hop__spinlock_unlock(hop__semaphore_spin(s));
        return false;
    }
    w->next = NULL;
    w->prev = s->tail;
    if (s->tail)
        s->tail->next = w;
    else
        s->head = w;
    s->tail = w;
    w->queued = true;
    hop__spinlock_unlock(hop__semaphore_spin(s));
    return true;
}

/* Under the spin lock. */
static void hop__semaphore_unlink(hop_semaphore_t *s, hop__semaphore_waiter_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        s->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        s->tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
}

static int hop__semaphore_acquire_cancel(hop_awaitable_t *aw) {
    hop__semaphore_waiter_t *w = (hop__semaphore_waiter_t *)aw;
    hop_semaphore_t *s = w->semaphore;
    hop__spinlock_lock(hop__semaphore_spin(s));
    bool withdrawn = w->queued;
    if (withdrawn)
        hop__semaphore_unlink(s, w);
    hop__spinlock_unlock(hop__semaphore_spin(s));
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t hop__semaphore_acquire_ops = {
    .ready = hop__semaphore_acquire_ready,
    .suspend = hop__semaphore_acquire_suspend,
    .cancel = hop__semaphore_acquire_cancel,
};

int hop_semaphore_acquire(hop_semaphore_t *semaphore) {
    if (!hop__semaphore_valid(semaphore))
        return HOP_EINVAL;
    hop__semaphore_waiter_t w = {.semaphore = semaphore};
    hop_awaitable_init(&w.base, &hop__semaphore_acquire_ops);
    return hop_await(&w.base);
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
    hop__semaphore_waiter_t *w = semaphore->head;
    int err = 0;
    if (w) {
        hop__semaphore_unlink(semaphore, w); /* w now holds the permit */
    } else {
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
    bool busy = semaphore->head != NULL;
    if (!busy)
        semaphore->magic = 0;
    hop__spinlock_unlock(hop__semaphore_spin(semaphore));
    return busy ? HOP_EBUSY : 0;
}
