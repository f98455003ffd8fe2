/* tests/test_owner_lock.c: the lock a thread takes on its own stack cache
 * without a locked instruction (src/core/owner_lock.h).
 *
 * The stress tests check mutual exclusion the way it fails: an owner and
 * foreign threads updating one plain counter with a window between read and
 * write, in both modes (the owner's compiler barrier paired with the foreign
 * side's membarrier where the kernel has it, and full barriers on both
 * sides). A lost update or two holders seen at once is a broken handshake.
 * The last test pins the rule that keeps an owner from being shut out: one
 * that stepped back for a foreign holder enters before the next one. */
#include <pthread.h>
#include <stdint.h>

#include "core/owner_lock.h"
#include "helpers.h"

#if HOP__TSAN
#define ROUNDS 20000u /* ThreadSanitizer runs this code some ten times slower */
#else
#define ROUNDS 200000u
#endif
#define FOREIGN_THREADS 2

static hop__owner_lock_t lock = HOP__OWNER_LOCK_INIT;
static volatile unsigned int holders; /* guarded by lock: 1 inside, or the handshake failed */
static volatile uint64_t counter;     /* guarded by lock */
static unsigned int overlaps;         /* atomic */

/* The critical section: a read, a gap, a write, so that two holders at once
 * lose an update or see each other. */
static void critical_section(void) {
    if (holders != 0u)
        __atomic_fetch_add(&overlaps, 1u, __ATOMIC_RELAXED);
    holders = 1u;
    uint64_t seen = counter;
    for (int i = 0; i < 8; i++)
        hop__atomic_pause();
    counter = seen + 1u;
    holders = 0u;
}

static void *owner_main(void *arg) {
    (void)arg;
    for (unsigned int i = 0; i < ROUNDS; i++) {
        hop__owner_lock_enter(&lock);
        critical_section();
        hop__owner_lock_exit(&lock);
    }
    return NULL;
}

static void *foreign_main(void *arg) {
    (void)arg;
    /* Fewer rounds: each one is a membarrier in the asymmetric mode. */
    for (unsigned int i = 0; i < ROUNDS / 20u; i++) {
        hop__owner_lock_seize(&lock);
        critical_section();
        hop__owner_lock_release(&lock);
    }
    return NULL;
}

static void run_owner_against_foreign_threads(void) {
    counter = 0;
    __atomic_store_n(&overlaps, 0u, __ATOMIC_RELAXED);
    pthread_t owner, foreign[FOREIGN_THREADS];
    cr_assert_eq(pthread_create(&owner, NULL, owner_main, NULL), 0);
    for (int i = 0; i < FOREIGN_THREADS; i++)
        cr_assert_eq(pthread_create(&foreign[i], NULL, foreign_main, NULL), 0);
    pthread_join(owner, NULL);
    for (int i = 0; i < FOREIGN_THREADS; i++)
        pthread_join(foreign[i], NULL);
    cr_assert_eq(__atomic_load_n(&overlaps, __ATOMIC_RELAXED), 0u, "two holders at once");
    cr_assert_eq(counter, (uint64_t)ROUNDS + FOREIGN_THREADS * (uint64_t)(ROUNDS / 20u), "lost updates");
}

Test(owner_lock, the_owner_and_foreign_threads_never_hold_it_at_once, .timeout = 120) {
    hop__owner_lock_setup(); /* the asymmetric mode wherever the kernel has it */
    run_owner_against_foreign_threads();
}

Test(owner_lock, full_barriers_on_both_sides_exclude_as_well, .timeout = 120) {
    hop__owner_lock_setup();
    /* The mode where membarrier is refused. No owner lock is in use in this
     * test's process while the flag changes. */
    bool was = __atomic_load_n(&hop__owner_lock_asymmetric, __ATOMIC_RELAXED);
    __atomic_store_n(&hop__owner_lock_asymmetric, false, __ATOMIC_RELAXED);
    run_owner_against_foreign_threads();
    __atomic_store_n(&hop__owner_lock_asymmetric, was, __ATOMIC_RELAXED);
}

static unsigned int owner_entered; /* atomic */

static void *owner_enter_once(void *arg) {
    (void)arg;
    hop__owner_lock_enter(&lock); /* waits: the test holds it as a foreign thread */
    __atomic_store_n(&owner_entered, 1u, __ATOMIC_RELEASE);
    hop__owner_lock_exit(&lock);
    return NULL;
}

Test(owner_lock, an_owner_that_stepped_back_enters_before_the_next_foreign_holder, .timeout = 60) {
    hop__owner_lock_setup();
    hop__owner_lock_seize(&lock);
    pthread_t owner;
    cr_assert_eq(pthread_create(&owner, NULL, owner_enter_once, NULL), 0);
    /* The owner found a foreign holder and stepped back. */
    cr_assert(test_wait_for_ms(&lock.waiting, 1u, 30000), "the owner never stepped back");
    hop__owner_lock_release(&lock);
    /* At once again, from this thread: the owner goes first. */
    hop__owner_lock_seize(&lock);
    cr_assert_eq(__atomic_load_n(&owner_entered, __ATOMIC_ACQUIRE), 1u,
                 "a foreign holder went before the owner");
    hop__owner_lock_release(&lock);
    pthread_join(owner, NULL);
    cr_assert_eq(__atomic_load_n(&lock.waiting, __ATOMIC_RELAXED), 0u);
}
