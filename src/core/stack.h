/* src/core/stack.h: task stacks: mmap'd, guarded, recycled.
 *
 * A stack is [low, low + size) with, unless unguarded, a PROT_NONE guard
 * region [low - guard, low) so an overflow faults instead of corrupting the
 * heap (or the stack mapped below); the fault handler (overflow.c) names the
 * task whose guard was hit.
 * Released stacks go to the releasing thread's cache (bounded), then to a
 * shared pool (bounded), then back to the system: a task created on one
 * thread may finish on another, whose cache would otherwise keep growing
 * with the stacks of tasks it never created; and steady spawn/finish on one
 * thread makes no system call. */
#ifndef HOP_SRC_STACK_H
#define HOP_SRC_STACK_H

#include <stddef.h>

typedef struct hop__stack_s {
    void *low;          /* lowest usable byte */
    size_t size;        /* usable bytes */
    size_t guard;       /* PROT_NONE bytes right below low (0: unguarded) */
    unsigned int flags; /* HOP_TASK_UNGUARDED_STACK or 0 */
    unsigned int valgrind_id;
    void *registry_node; /* the task registry's note of this mapping (registry.c) */
} hop__stack_t;

/* Per-thread cache bound, and shared pool bound, in stacks. A cached stack
 * keeps the pages its last task touched (two or three for most tasks), so
 * the pool holds at most about 12 MiB resident when full. */
#define HOP__STACK_THREAD_CACHE_MAX 16
#define HOP__STACK_SHARED_POOL_MAX 1024

/* hop__stack_acquire: a stack of at least size usable bytes (rounded up to
 * pages) with a guard of guard bytes (hop__stack_round_guard). Any thread.
 * Returns 0 or HOP_ENOMEM. */
int hop__stack_acquire(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack);

/* hop__stack_release: gives the stack back; nothing may run on it any more.
 * Any thread. */
void hop__stack_release(hop__stack_t *stack);

/* hop__stack_round_size: the usable size hop__stack_acquire gives for size. */
size_t hop__stack_round_size(size_t size);

/* hop__stack_round_guard: the guard hop__stack_acquire maps for a requested
 * guard (0: HOP_STACK_GUARD_DEFAULT, at most HOP_STACK_GUARD_MAX, rounded up
 * to pages; 0 for HOP_TASK_UNGUARDED_STACK). */
size_t hop__stack_round_guard(size_t guard, unsigned int flags);

/* hop__stack_fork_prepare / _parent / _child: fork.c's handlers call them
 * so that the child finds the shared pool's lock free. */
void hop__stack_fork_prepare(void);
void hop__stack_fork_parent(void);
void hop__stack_fork_child(void);

#endif /* HOP_SRC_STACK_H */
