/* src/core/deque.h: a fixed-capacity Chase-Lev work-stealing deque of pointers.
 *
 * One owner thread pushes and takes at the bottom, newest first (the job it
 * just made, whose data is still in its cache); any number of thieves steal
 * at the top, oldest first (in fork-join, the biggest piece of work left).
 * Push and take are wait-free; steal is lock-free (one CAS, which fails only
 * when another thief or the owner got that element first).
 *
 * The algorithm and its memory orderings are those of Figure 1 of Lê, Pop,
 * Cohen and Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak
 * Memory Models" (PPoPP 2013), minus resizing: the capacity is fixed and a
 * push to a full deque fails, so that the caller can move work elsewhere
 * (the pool moves half of it to its injection queue). Each C11 operation of
 * the paper maps onto src/core/atomic.h as follows, and every fence below says
 * which of the paper's it is:
 *
 *   load/store(relaxed)           hop__atomic_load/store_u64, _ptr
 *   load(acquire)                 hop__atomic_load_u64, then hop__atomic_fence_acquire()
 *   atomic_thread_fence(release)  hop__atomic_fence_release()
 *   atomic_thread_fence(seq_cst)  hop__atomic_fence_full()
 *   compare_exchange(seq_cst)     hop__atomic_cas_u64 (a full barrier)
 *
 * The paper's consume load of the array pointer in steal has nothing to map
 * to: the array is fixed, so no pointer is loaded. (Under ThreadSanitizer the
 * layer's loads are acquire and its stores release, which is stronger.)
 *
 * Indices are 64-bit and only grow; they are compared through signed
 * differences, so "empty" is right even for the take that briefly moves
 * bottom below top, and at any wrap-around. */
#ifndef HOP_SRC_DEQUE_H
#define HOP_SRC_DEQUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomic.h"

/* A power of two, so an index maps to its slot with a mask. 256 jobs cover
 * a deep fork-join recursion; beyond that the pool spills to its injection
 * queue, and the cost of the array (2 KiB per worker) stays small. */
#define HOP__DEQUE_CAPACITY 256u
#define HOP__DEQUE_MASK (HOP__DEQUE_CAPACITY - 1u)

/* top and bottom sit on lines of their own: thieves hammer top with CAS
 * while the owner writes bottom at every push and take. */
typedef struct hop__deque_s {
    _Alignas(HOP__CACHELINE) uint64_t top; /* oldest element; CAS by thieves, and by the owner
                                              for the last element */
    _Alignas(HOP__CACHELINE) uint64_t bottom; /* one past the newest; written by the owner only */
    _Alignas(HOP__CACHELINE) void *buffer[HOP__DEQUE_CAPACITY];
} hop__deque_t;

/* What a steal found. */
typedef enum {
    HOP__DEQUE_EMPTY = 0, /* nothing to steal */
    HOP__DEQUE_LOST = 1,  /* there was an element, but another thread took it first */
    HOP__DEQUE_STOLEN = 2 /* *item is ours */
} hop__deque_steal_t;

/* hop__deque_init: an empty deque. Not thread-safe: before any sharing. */
static inline void hop__deque_init(hop__deque_t *d) {
    hop__atomic_store_u64(&d->top, 0);
    hop__atomic_store_u64(&d->bottom, 0);
    for (unsigned int i = 0; i < HOP__DEQUE_CAPACITY; i++)
        hop__atomic_store_ptr(&d->buffer[i], NULL);
}

/* hop__deque_push: the owner adds item at the bottom. Owner only; wait-free.
 * Returns false, changing nothing, when the deque is full. */
static inline bool hop__deque_push(hop__deque_t *d, void *item) {
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    uint64_t t = hop__atomic_load_u64(&d->top);
    /* load(top, acquire): a thief's read of the slot we may reuse happened
     * before the CAS that moved top past it, so before our write below. */
    hop__atomic_fence_acquire();
    if ((int64_t)(b - t) >= (int64_t)HOP__DEQUE_CAPACITY)
        return false;
    hop__atomic_store_ptr(&d->buffer[b & HOP__DEQUE_MASK], item);
    /* fence(release): the slot (and whatever item points to) is visible
     * before the bottom that makes it stealable. */
    hop__atomic_fence_release();
    hop__atomic_store_u64(&d->bottom, b + 1);
    return true;
}

/* hop__deque_take: the owner removes the newest item, or returns NULL when
 * the deque is empty (or a thief won the last element). Owner only;
 * wait-free. */
static inline void *hop__deque_take(hop__deque_t *d) {
    /* Empty for certain when even a stale top reaches bottom (top only
     * grows, and only the owner moves bottom): no claim and no fence, which
     * an idle worker would otherwise pay on every look at its own deque. */
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    if ((int64_t)(b - hop__atomic_load_u64(&d->top)) <= 0)
        return NULL;
    b--;
    hop__atomic_store_u64(&d->bottom, b);
    /* fence(seq_cst): our claim on slot b (the lowered bottom) is visible
     * before we read top, and pairs with the thieves' fence: an owner and a
     * thief racing for the last element cannot both miss each other. */
    hop__atomic_fence_full();
    uint64_t t = hop__atomic_load_u64(&d->top);
    int64_t left = (int64_t)(b - t);
    if (left < 0) {
        /* Empty: undo the claim. */
        hop__atomic_store_u64(&d->bottom, b + 1);
        return NULL;
    }
    void *item = hop__atomic_load_ptr(&d->buffer[b & HOP__DEQUE_MASK]);
    if (left > 0)
        return item; /* more than one left: no thief can reach slot b */
    /* The last element: settle it with thieves through the CAS they use. */
    if (!hop__atomic_cas_u64(&d->top, t, t + 1))
        item = NULL;
    hop__atomic_store_u64(&d->bottom, b + 1);
    return item;
}

/* hop__deque_steal: takes the oldest item into *item. Any thread but the
 * owner, concurrently with everyone; lock-free. HOP__DEQUE_LOST means the
 * deque was not empty: worth another try. */
static inline hop__deque_steal_t hop__deque_steal(hop__deque_t *d, void **item) {
    uint64_t t = hop__atomic_load_u64(&d->top);
    /* load(top, acquire) and then fence(seq_cst): the full fence also gives
     * the acquire. It orders our read of top before our read of bottom
     * against the owner's lowered bottom in take (the store-load pair). */
    hop__atomic_fence_full();
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    /* load(bottom, acquire): the slot's contents are read after the bottom
     * that published them. */
    hop__atomic_fence_acquire();
    if ((int64_t)(b - t) <= 0)
        return HOP__DEQUE_EMPTY;
    void *candidate = hop__atomic_load_ptr(&d->buffer[t & HOP__DEQUE_MASK]);
    if (!hop__atomic_cas_u64(&d->top, t, t + 1))
        return HOP__DEQUE_LOST;
    *item = candidate;
    return HOP__DEQUE_STOLEN;
}

/* hop__deque_claim_oldest: the owner takes the n oldest items at once, as n
 * steals in one CAS (for moving half of a full deque elsewhere). Owner only.
 * On success, *first is the index of the first claimed item; read them with
 * hop__deque_claimed(d, *first + i) before pushing again. Returns false when
 * fewer than n are left or a thief moved top meanwhile: either way the
 * deque is no longer full. */
static inline bool hop__deque_claim_oldest(hop__deque_t *d, uint32_t n, uint64_t *first) {
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    uint64_t t = hop__atomic_load_u64(&d->top);
    if ((int64_t)(b - t) < (int64_t)n)
        return false;
    /* Full barrier: after it no thief can take [t, t + n), and only the
     * owner (us) writes slots, so they hold what we pushed. */
    if (!hop__atomic_cas_u64(&d->top, t, t + n))
        return false;
    *first = t;
    return true;
}

/* hop__deque_claimed: the item at index, claimed by hop__deque_claim_oldest. */
static inline void *hop__deque_claimed(hop__deque_t *d, uint64_t index) {
    return hop__atomic_load_ptr(&d->buffer[index & HOP__DEQUE_MASK]);
}

/* hop__deque_size_hint: how many items the deque held at some moment during
 * the call (0 when empty). Any thread. Exact only for the owner while no
 * thief is active; others use it to skip empty deques without a fence, and
 * the pool's parking re-check uses it after a full barrier of its own. */
static inline uint64_t hop__deque_size_hint(hop__deque_t *d) {
    uint64_t t = hop__atomic_load_u64(&d->top);
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    int64_t n = (int64_t)(b - t);
    return n > 0 ? (uint64_t)n : 0;
}

#endif /* HOP_SRC_DEQUE_H */
