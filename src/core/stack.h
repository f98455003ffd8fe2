/* src/core/stack.h: task stacks: mmap'd, guarded, recycled.
 *
 * A stack is [low, low + size) with, unless unguarded, a PROT_NONE guard
 * region [low - guard, low) so an overflow faults instead of corrupting the
 * heap (or the stack mapped below); the fault handler (overflow.c) names the
 * task whose guard was hit.
 * Released stacks go to the releasing thread's cache (bounded), then to a
 * shared pool, one list per stack shape: a task created on one thread may
 * finish on another, whose cache would otherwise keep growing with the
 * stacks of tasks it never created. A thread's cache and the shared pool
 * together act as one LIFO: a spawn takes the stack released last, whose
 * lines are the likeliest to still be cached.
 * Nothing bounds the shared pool but use: it holds what was mapped for the
 * recent high-water mark of live stacks, so a working set that stays within
 * it takes and returns stacks with no system call. What stays unused gives
 * itself back slowly: once per HOP__STACK_DECAY_NS (a second; checked from
 * ordinary acquires: no thread of its own), half of the stacks that stayed
 * cached through the whole period are unmapped, oldest first, from the
 * shared pool (hop_stack_reserve() keeps a floor per shape), and half of
 * those in each thread's cache move to the shared pool. Under memory pressure (ENOMEM from mmap or mprotect) every cache is
 * flushed at once and the mapping tried once more.
 * Each thread's cache has a spin lock that only its owner takes, except for
 * a flush, a decay step or a fork: so those reach every thread's cache, and
 * a fork's child takes the dead threads' cached stacks into the shared pool
 * instead of leaking them. */
#ifndef HOP_SRC_STACK_H
#define HOP_SRC_STACK_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct hop__stack_s {
    void *low;          /* lowest usable byte */
    size_t size;        /* usable bytes */
    size_t guard;       /* PROT_NONE bytes right below low (0: unguarded) */
    unsigned int flags; /* HOP_TASK_UNGUARDED_STACK or 0 */
    unsigned int valgrind_id;
    void *registry_node; /* the task registry's note of this mapping (registry.c) */
} hop__stack_t;

/* Per-thread cache bound, in stacks; beyond it stacks move to and from the
 * shared pool in batches (stack.c). It covers the working set of a worker
 * running recursive fork-join (fib(30), a task per call, keeps 30-40 tasks
 * alive per worker): at 16, every spawn and finish went through the shared
 * pool's mutex, which two workers then fought over (futex waits and wakes). */
#define HOP__STACK_THREAD_CACHE_MAX 64
/* Stacks move between a thread's cache and the shared pool in batches of
 * this many (the oldest half of a full cache; the newest of the shared
 * pool into an empty one), so a thread that only spawns and one that only
 * finishes tasks (a loop feeding a pool) take the shared lock once per
 * batch, not once per task, and one that oscillates around a full cache
 * takes it once per half cache. */
#define HOP__STACK_BATCH (HOP__STACK_THREAD_CACHE_MAX / 2)

/* The top of a stack that a spawn writes first: the task record (its top
 * 704 bytes on x86_64 with the assembly switch, task_internal.h; task.c
 * checks that it fits; with ucontext only its top fits) and the frames of
 * the task's first run below it. hop__stack_acquire prefetches this much
 * of the stack it will hand out next. */
#define HOP__STACK_WARM_BYTES 1024u

/* hop__stack_acquire: a stack of at least size usable bytes (rounded up to
 * pages) with a guard of guard bytes (hop__stack_round_guard). Any thread.
 * Returns 0 or HOP_ENOMEM. */
int hop__stack_acquire(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack);

/* hop__stack_release: gives the stack back; nothing may run on it any more.
 * Any thread. */
void hop__stack_release(hop__stack_t *stack);

/* hop__stack_round_size: the usable size hop__stack_acquire gives for size. */
size_t hop__stack_round_size(size_t size);

/* hop__stack_guard_out_of_range: whether a task's guard_size is above
 * HOP_STACK_GUARD_MAX (and counts: not HOP_TASK_UNGUARDED_STACK), which
 * hop_task_spawn and hop_stack_reserve refuse with HOP_EINVAL. */
bool hop__stack_guard_out_of_range(size_t guard, unsigned int flags);

/* hop__stack_round_guard: the guard hop__stack_acquire maps for a requested
 * guard (0: HOP_STACK_GUARD_DEFAULT, at most HOP_STACK_GUARD_MAX, rounded up
 * to pages; 0 for HOP_TASK_UNGUARDED_STACK). */
size_t hop__stack_round_guard(size_t guard, unsigned int flags);

/* hop__stack_reclaim: unmaps every cached stack (the shared pool and every
 * thread's cache, reservations included); what a caller does on ENOMEM
 * before trying once more. Any thread; never holds a lock of the caller's.
 * Returns how many stacks were unmapped. */
unsigned int hop__stack_reclaim(void);

/* hop__stack_decay: runs one decay step now (tests; the library runs them
 * on its own, once per period). Returns how many stacks it unmapped. */
unsigned int hop__stack_decay(void);

/* The decay period, in nanoseconds; 0: steps only through
 * hop__stack_decay() (tests). */
#define HOP__STACK_DECAY_NS ((uint64_t)1000 * 1000 * 1000)
void hop__stack_set_decay_period(uint64_t ns);

/* Counters for hop_stack_stats() and the debug metrics. */
typedef struct {
    size_t mapped;        /* stacks mapped now (in use + cached) */
    size_t cached;        /* of which cached (shared pool and threads' caches) */
    size_t cached_shared; /* of which in the shared pool */
    size_t reserved;      /* the sum of the shapes' hop_stack_reserve() floors */
    size_t map_calls;     /* mmap calls that succeeded, in all */
    size_t unmap_calls;   /* munmap calls, in all */
    size_t reclaims;      /* ENOMEM flushes that gave something back */
} hop__stack_counts_t;
void hop__stack_counts(hop__stack_counts_t *counts);

/* hop__stack_fork_prepare / _parent / _child: fork.c's handlers call them
 * so that the child finds the shared pool's lock free and every thread's
 * cache consistent, and takes the dead threads' stacks into its pool. */
void hop__stack_fork_prepare(void);
void hop__stack_fork_parent(void);
void hop__stack_fork_child(void);

#endif /* HOP_SRC_STACK_H */
