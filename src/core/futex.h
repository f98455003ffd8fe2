/* src/core/futex.h: sleeping on a word until another thread changes it.
 *
 * The one way hop's threads that have no work block, and are woken: a pool
 * worker on its sleep word, the idle threads of a blocking pool on their
 * pool's word. A word per sleeper means a waker wakes exactly the thread it
 * chose, with one system call on each side; a word shared by sleepers that
 * any one of them can answer lets one system call wake many of them. Either
 * way, where a condition variable shared by a pool's threads costs the
 * woken thread a second call (it must take the mutex back, which glibc then
 * marks contended, so the next unlock wakes nobody with a call of its own),
 * a woken thread here takes no lock it was not already going to take.
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

/* hop__futex_wake_many: wakes up to n threads sleeping on word, the ones
 * that have slept longest first (Linux); as hop__futex_wake otherwise. */
void hop__futex_wake_many(unsigned int *word, unsigned int n);

#endif /* HOP_SRC_CORE_FUTEX_H */
