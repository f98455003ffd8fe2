/* src/core/owner_lock.h: a lock that one thread, its owner, takes on every
 * use without a locked instruction, and other threads take rarely.
 *
 * A thread's stack cache is used by its thread at every spawn and every
 * finish, and by other threads only for a decay step, a flush, a
 * reservation's count or a fork. A spin lock made the owner pay two full
 * barriers per task (a locked instruction each), for a contention that
 * almost never happens.
 * Here the owner announces itself (busy) and then checks for a foreign
 * holder (foreign), and a foreign thread does the mirror image: Dekker's
 * handshake, where each side's store must be visible before its load. The
 * owner's side keeps only a compiler barrier there; the foreign side pays
 * for both with membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which makes
 * every running thread of the process execute a full barrier (and a thread
 * not running has passed through one in its context switch) before it
 * returns. Where the kernel refuses membarrier (older kernels, seccomp, a
 * sanitizer or valgrind that does not model it), both sides use a full
 * barrier: the cost of the spin lock, no more.
 *
 * Foreign holders exclude each other with a CAS on foreign; the owner never
 * waits while it holds the lock, so a foreign holder's wait for busy to
 * drop ends within one owner critical section, and an owner that stepped
 * back for a foreign holder goes before the next one. */
#ifndef HOP_SRC_CORE_OWNER_LOCK_H
#define HOP_SRC_CORE_OWNER_LOCK_H

#include <stdbool.h>

#include "core/atomic.h"

typedef struct {
    unsigned int busy;    /* the owner is inside (written by the owner only) */
    unsigned int foreign; /* another thread is inside, or entering */
    unsigned int waiting; /* the owner stepped back for a foreign holder and goes first next */
} hop__owner_lock_t;

#define HOP__OWNER_LOCK_INIT                                                                                 \
    { 0, 0, 0 }

/* Set once, by hop__owner_lock_setup(), when membarrier's expedited
 * command is registered for this process: owners may then skip their full
 * barrier. Never set in TSan builds, whose model does not know membarrier.
 * Read with acquire, before foreign: an owner that sees it set sees a
 * foreign holder that entered without a membarrier (before it was set). */
extern bool hop__owner_lock_asymmetric;

/* hop__owner_lock_setup: registers for membarrier once per process (later
 * calls return at once). Any thread, before or while owner locks are in
 * use: until it returns they cost a full barrier, as a spin lock's would. */
void hop__owner_lock_setup(void);

/* hop__owner_lock_fork_child: in a child of fork(), while it has one
 * thread: registers the child's own address space too, or goes back to
 * full barriers on both sides. */
void hop__owner_lock_fork_child(void);

/* hop__owner_lock_heavy_fence: the foreign side's barrier (owner_lock.c). */
void hop__owner_lock_heavy_fence(void);

/* Owner thread only; never nested. */
static inline void hop__owner_lock_enter(hop__owner_lock_t *lock) {
    for (;;) {
        hop__atomic_store_uint(&lock->busy, 1u);
        if (__builtin_expect(__atomic_load_n(&hop__owner_lock_asymmetric, __ATOMIC_ACQUIRE), 1))
            __atomic_signal_fence(__ATOMIC_SEQ_CST); /* the foreign side's membarrier orders the CPU */
        else
            hop__atomic_fence_full();
        if (hop__atomic_load_uint(&lock->foreign) == 0u) {
            hop__atomic_fence_acquire(); /* a foreign holder's writes, before its release */
            if (hop__atomic_load_uint(&lock->waiting) != 0u)
                hop__atomic_store_uint(&lock->waiting, 0u);
            return;
        }
        /* A foreign holder is in: step back out of its way until it leaves,
         * and ahead of the next one (a thread flushing in a loop would
         * otherwise keep this one out for good). */
        hop__atomic_fence_release();
        hop__atomic_store_uint(&lock->busy, 0u);
        hop__atomic_store_uint(&lock->waiting, 1u);
        while (hop__atomic_load_uint(&lock->foreign) != 0u)
            hop__atomic_pause();
    }
}

static inline void hop__owner_lock_exit(hop__owner_lock_t *lock) {
    hop__atomic_fence_release(); /* the critical section's writes, before a foreign holder's reads */
    hop__atomic_store_uint(&lock->busy, 0u);
}

/* Any thread but the owner (an owner that holds the lock must not). Spins
 * until the owner is out. */
static inline void hop__owner_lock_seize(hop__owner_lock_t *lock) {
    for (;;) {
        while (hop__atomic_load_uint(&lock->waiting) != 0u)
            hop__atomic_pause(); /* the owner goes first */
        if (hop__atomic_cas_uint(&lock->foreign, 0u, 1u))
            break;
        while (hop__atomic_load_uint(&lock->foreign) != 0u)
            hop__atomic_pause();
    }
    /* The CAS is a full barrier; with an owner that skips its own, a
     * barrier on the owner's CPU too. */
    if (__atomic_load_n(&hop__owner_lock_asymmetric, __ATOMIC_ACQUIRE))
        hop__owner_lock_heavy_fence();
    while (hop__atomic_load_uint(&lock->busy) != 0u)
        hop__atomic_pause();
    hop__atomic_fence_acquire(); /* the owner's writes, before its exit */
}

static inline void hop__owner_lock_release(hop__owner_lock_t *lock) {
    hop__atomic_fence_release();
    hop__atomic_store_uint(&lock->foreign, 0u);
}

#endif /* HOP_SRC_CORE_OWNER_LOCK_H */
