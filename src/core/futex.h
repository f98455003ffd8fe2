/* src/core/futex.h: sleeping on a word until another thread changes it.
 *
 * The one way hop's threads that have no work block, and are woken: a pool
 * worker on its sleep word, a blocking-pool thread on its own word. A word
 * per sleeper means a waker wakes exactly the thread it chose, with one
 * system call on each side, where a condition variable shared by a pool's
 * threads costs the woken thread a second one (it must take the mutex back,
 * which glibc then marks contended, so the next unlock wakes nobody with a
 * system call of its own).
 *
 * On Linux these are the futex system calls on a process-private word.
 * Elsewhere a table of mutexes and condition variables, hashed by the
 * word's address, stands in for the kernel's: a wake-up may then also wake
 * the other sleepers of the same bucket, which every caller tolerates, as
 * it tolerates a spurious wake-up. */
#ifndef HOP_SRC_CORE_FUTEX_H
#define HOP_SRC_CORE_FUTEX_H

#include <stdint.h>

/* hop__futex_wait: sleeps while *word == expected, until a
 * hop__futex_wake(word), until deadline_ns (CLOCK_MONOTONIC, in ns; 0: no
 * deadline), or spuriously. Returns at once if *word != expected. Callers
 * re-check what they wait for in a loop: a return says nothing. The store
 * that changes *word must be an atomic one (core/atomic.h), made before
 * the wake. */
void hop__futex_wait(unsigned int *word, unsigned int expected, uint64_t deadline_ns);

/* hop__futex_wake: wakes a thread sleeping on word, if any. word may
 * already be freed when this runs (its sleeper was woken by other means and
 * went on): a wake touches no memory at word, and at worst wakes a sleeper
 * on reused memory spuriously. */
void hop__futex_wake(unsigned int *word);

#endif /* HOP_SRC_CORE_FUTEX_H */
