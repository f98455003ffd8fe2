/* src/core/stack.c: task stacks. See stack.h for the policy. */
#define _GNU_SOURCE
#include "stack.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "atomic.h"
#include "fault.h"
#include "fork.h"
#include "hop/error.h"
#include "hop/task.h"
#include "owner_lock.h"
#include "sanitizer.h"
#include "waitq.h"

/* The task registry's side (registry.c); declared here so that the stack
 * module does not need the task record's definition. */
int hop__registry_stack_mapped(hop__stack_t *stack);
void hop__registry_stack_unmapped(const hop__stack_t *stack);

/* A stack in the shared pool or on its way back to the system, chained
 * through a node in its own top bytes: nothing is allocated to keep it, and
 * a flush or a decay step unmaps any number of them after dropping the
 * locks. */
typedef struct hop__dropped_stack_s {
    struct hop__dropped_stack_s *next;
    hop__stack_t stack;
} hop__dropped_stack_t;

/* A thread's cache: an array, oldest first, so that the owner takes the
 * newest (the stack whose lines were touched last) and knows the next one
 * without reading cold memory. Together with the shared pool it acts as one
 * LIFO per thread: a full cache sends its oldest half to the top of the
 * shared pool, and an empty one takes the shared pool's newest back, in
 * their order. (Sending the newest, as a list's head, and keeping the
 * oldest made a loop that fans out thousands of tasks reuse its stacks in
 * a scrambled order, and measurably slower.) count is read by
 * hop_stack_stats() from any thread, hence atomic. low is the smallest
 * count since the last decay step: that many stacks stayed unused all
 * along. */
typedef struct hop__stack_cache_s {
    hop__stack_t stacks[HOP__STACK_THREAD_CACHE_MAX];
    unsigned int count;
    unsigned int low;
    /* Taken by its owner on every use, without a locked instruction, and
     * by other threads only for a flush, a decay step, a reservation's count
     * or a fork, which reach every thread's cache (core/owner_lock.h).
     * Whoever also holds hop__shared_lock takes that first. */
    hop__owner_lock_t lock;
    unsigned int uses;               /* owner only: acquires, to pace decay checks */
    int registered;                  /* in the registry, with its thread-exit destructor armed */
    hop__waitq_node_t registry_node; /* guarded by hop__shared_lock */
} hop__stack_cache_t;

static _Thread_local hop__stack_cache_t hop__thread_cache;

/* A cache's lock, by whichever side the calling thread is on: the owner's
 * cheap entry for its own cache, the foreign one for another thread's. */
static void hop__cache_lock(hop__stack_cache_t *cache) {
    if (cache == &hop__thread_cache)
        hop__owner_lock_enter(&cache->lock);
    else
        hop__owner_lock_seize(&cache->lock);
}

static void hop__cache_unlock(hop__stack_cache_t *cache) {
    if (cache == &hop__thread_cache)
        hop__owner_lock_exit(&cache->lock);
    else
        hop__owner_lock_release(&cache->lock);
}

static pthread_mutex_t hop__shared_lock = PTHREAD_MUTEX_INITIALIZER;
/* The shared pool, one list per stack shape (size and flags), so taking a
 * stack is O(1) however many stacks of other shapes it holds. A list through
 * the stacks themselves (their top bytes), newest first: nothing is
 * allocated to keep a stack, so releasing one never fails, even when the
 * process is out of memory or of mappings. A shape whose list is empty and
 * has no reservation gives its slot up to a new one; with every slot taken
 * by another shape, a released stack goes back to the system. */
#define HOP__STACK_SHAPES 8
typedef struct {
    size_t size;
    size_t guard;
    unsigned int flags;
    size_t reserved;              /* hop_stack_reserve(): decay keeps at least this many */
    hop__dropped_stack_t *newest; /* then each one's next is the one released before */
    unsigned int count;
    unsigned int low; /* the smallest count since the last decay step */
} hop__stack_shape_t;
static hop__stack_shape_t hop__shared_shapes[HOP__STACK_SHAPES]; /* guarded by hop__shared_lock */
static unsigned int hop__shared_count;                           /* guarded by hop__shared_lock */
/* Every thread's cache, an intrusive list (a wait queue whose nodes never
 * wait: it only needs the same O(1) unlink); guarded by hop__shared_lock. */
static hop__waitq_t hop__cache_registry;

/* Changed only when a stack is mapped or unmapped, never on the spawn path:
 * "in use" is derived (mapped minus cached), so that spawning and finishing
 * tasks write no cache line that other threads write too. */
static unsigned int hop__stats_mapped;
static unsigned int hop__stats_shared;
static unsigned int hop__stats_map_calls;
static unsigned int hop__stats_unmap_calls;
static unsigned int hop__stats_reclaims;

/* Decay: when the monotonic clock passes hop__decay_next (ns), the next
 * thread to notice runs a step (hop__stack_decay_locked). Atomic: read
 * without the lock to decide whether to take it. */
static uint64_t hop__decay_next;
static uint64_t hop__decay_period = HOP__STACK_DECAY_NS; /* atomic; 0: no automatic steps */
/* A thread looks at the clock once per this many acquires: a working set
 * that lives in one thread's cache never takes the shared lock, yet must
 * still drive the decay of stacks cached elsewhere. */
#define HOP__STACK_DECAY_CHECK_EVERY 64u

static pthread_once_t hop__stack_once = PTHREAD_ONCE_INIT;
static pthread_key_t hop__stack_key;
static uint64_t hop__page_size; /* atomic: 0 until the first use */

static void hop__stack_thread_exit(void *unused);
static void hop__stack_register_thread(void);

static void hop__stack_init_once(void) {
    long page = sysconf(_SC_PAGESIZE);
    pthread_key_create(&hop__stack_key, hop__stack_thread_exit);
    hop__atomic_store_u64(&hop__page_size, page > 0 ? (uint64_t)page : 4096u);
}

static size_t hop__stack_page_size(void) {
    uint64_t page = hop__atomic_load_u64(&hop__page_size);
    if (page == 0) {
        pthread_once(&hop__stack_once, hop__stack_init_once);
        page = hop__atomic_load_u64(&hop__page_size);
    }
    return (size_t)page;
}

size_t hop__stack_round_size(size_t size) {
    size_t page = hop__stack_page_size();
    if (size == 0)
        size = HOP_STACK_SIZE_DEFAULT;
    if (size < HOP_STACK_SIZE_MIN)
        size = HOP_STACK_SIZE_MIN;
    if (size > SIZE_MAX - page * 2 - HOP_STACK_GUARD_MAX)
        return 0;
    return (size + page - 1) & ~(page - 1);
}

bool hop__stack_guard_out_of_range(size_t guard, unsigned int flags) {
    return !(flags & HOP_TASK_UNGUARDED_STACK) && guard > HOP_STACK_GUARD_MAX;
}

size_t hop__stack_round_guard(size_t guard, unsigned int flags) {
    size_t page = hop__stack_page_size();
    if (flags & HOP_TASK_UNGUARDED_STACK)
        return 0;
    if (guard == 0)
        guard = HOP_STACK_GUARD_DEFAULT;
    if (guard > HOP_STACK_GUARD_MAX)
        guard = HOP_STACK_GUARD_MAX;
    return (guard + page - 1) & ~(page - 1);
}

/* The only two places that map and unmap memory (with hop__stack_protect),
 * so that a test build can make them fail. */
static void *hop__stack_mmap(size_t length) {
    /* MAP_NORESERVE: only touched pages count, as for thread stacks.
     * MAP_STACK: a hint some kernels and tools use. */
    return hop__mmap(NULL, length, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
}

static int hop__stack_protect(void *base, size_t guard) { return hop__mprotect(base, guard, PROT_NONE); }

static void hop__stack_munmap(void *base, size_t length) {
    munmap(base, length);
    hop__atomic_faa_uint(&hop__stats_unmap_calls, 1u);
}

/* One attempt: 0, or HOP_ENOMEM with nothing left mapped. */
static int hop__stack_map_once(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack) {
    void *base = hop__stack_mmap(size + guard);
    if (base == MAP_FAILED)
        return HOP_ENOMEM;
    hop__atomic_faa_uint(&hop__stats_map_calls, 1u);
    /* The guard costs a second mapping; when vm.max_map_count is reached
     * mprotect fails with ENOMEM, reported the same way. */
    if (guard && hop__stack_protect(base, guard) != 0) {
        hop__stack_munmap(base, size + guard);
        return HOP_ENOMEM;
    }
    stack->low = (char *)base + guard;
    stack->size = size;
    stack->guard = guard;
    stack->flags = flags & HOP_TASK_UNGUARDED_STACK;
    /* The registry reads the task records of mapped stacks: it learns of the
     * mapping before any task can use it. */
    if (hop__registry_stack_mapped(stack) != 0) {
        hop__stack_munmap(base, size + guard);
        return HOP_ENOMEM;
    }
    stack->valgrind_id = hop__valgrind_stack_register(stack->low, (char *)stack->low + size);
    hop__atomic_faa_uint(&hop__stats_mapped, 1u);
    return 0;
}

/* Memory pressure (RLIMIT_AS, vm.max_map_count, overcommit) shows as
 * ENOMEM: cached stacks are then given back at once and the mapping is
 * tried once more. */
static int hop__stack_map(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack) {
    int err = hop__stack_map_once(size, guard, flags, stack);
    if (err && hop__stack_reclaim() != 0)
        err = hop__stack_map_once(size, guard, flags, stack);
    return err;
}

static void hop__stack_unmap(hop__stack_t *stack) {
    size_t guard = stack->guard;
    hop__valgrind_stack_deregister(stack->valgrind_id);
    hop__registry_stack_unmapped(stack); /* no snapshot reads it after this */
    hop__stack_munmap((char *)stack->low - guard, stack->size + guard);
    hop__atomic_faa_uint(&hop__stats_mapped, (unsigned int)-1);
}

/* Unmaps a chain of cached stacks (detached from every list); returns how
 * many. */
static unsigned int hop__stack_unmap_chain(hop__dropped_stack_t *chain) {
    unsigned int n = 0;
    while (chain) {
        hop__dropped_stack_t *next = chain->next;
        hop__stack_t stack = chain->stack; /* the record lives in the mapping */
        hop__stack_unmap(&stack);
        chain = next;
        n++;
    }
    return n;
}

static hop__dropped_stack_t *hop__stack_record(const hop__stack_t *stack) {
    uintptr_t top = (uintptr_t)stack->low + stack->size;
    return (hop__dropped_stack_t *)((top - sizeof(hop__dropped_stack_t)) & ~(uintptr_t)15);
}

/* Puts the n stacks of stacks on the front of chain (writing each one's
 * node) and returns the new chain. */
static hop__dropped_stack_t *hop__chain_push(hop__dropped_stack_t *chain, const hop__stack_t *stacks,
                                             unsigned int n) {
    for (unsigned int i = 0; i < n; i++) {
        hop__dropped_stack_t *c = hop__stack_record(&stacks[i]);
        c->stack = stacks[i];
        c->next = chain;
        chain = c;
    }
    return chain;
}

static void hop__cache_set_count(hop__stack_cache_t *cache, unsigned int count) {
    hop__atomic_store_uint(&cache->count, count);
    if (count < cache->low)
        cache->low = count;
}

/* The top of the stack that cache hands out next, or NULL: read under the
 * cache's lock, prefetched after it (hop__stack_prefetch_top). */
static const char *hop__stack_cache_next_top(const hop__stack_cache_t *cache) {
    if (cache->count == 0)
        return NULL;
    const hop__stack_t *next = &cache->stacks[cache->count - 1];
    return (const char *)(((uintptr_t)next->low + next->size) & ~(uintptr_t)(HOP__CACHELINE - 1));
}

/* Asks the CPU to fetch, for writing, the HOP__STACK_WARM_BYTES below top:
 * the lines the next spawn on this thread writes first (the task record,
 * the first frames). A thread that spawns many tasks in a row (a loop
 * fanning out requests) otherwise takes a miss on each of those lines, one
 * stack after another, since a cached stack was last touched a whole
 * working set ago. Only a hint: the stack may be unmapped by now (a decay
 * step on another thread), and a prefetch never faults. */
static void hop__stack_prefetch_top(const char *top) {
    /* Unrolled: a loop of 16 costs four times the instructions of the
     * prefetches themselves, on every spawn. */
#pragma GCC unroll 64
    for (unsigned int off = HOP__CACHELINE; off <= HOP__STACK_WARM_BYTES; off += HOP__CACHELINE)
        hop__prefetch_for_write(top - off);
}

/* Takes the newest stack of exactly size, guard and flags out of cache, or
 * returns 0. */
static int hop__stack_cache_take(hop__stack_cache_t *cache, size_t size, size_t guard, unsigned int flags,
                                 hop__stack_t *out) {
    for (unsigned int i = cache->count; i-- > 0;) {
        const hop__stack_t *c = &cache->stacks[i];
        if (c->size == size && c->guard == guard && c->flags == flags) {
            *out = *c;
            if (i + 1 < cache->count) /* the usual case, the newest, moves nothing */
                memmove(&cache->stacks[i], &cache->stacks[i + 1], (cache->count - 1 - i) * sizeof *c);
            hop__cache_set_count(cache, cache->count - 1);
            return 1;
        }
    }
    return 0;
}

/* Keeps stack in cache as its newest; the cache must have room. */
static void hop__stack_cache_put(hop__stack_cache_t *cache, const hop__stack_t *stack) {
    /* A finished task's frames may still be poisoned in ASan's shadow. */
    hop__asan_unpoison(stack->low, stack->size);
    cache->stacks[cache->count] = *stack;
    hop__atomic_store_uint(&cache->count, cache->count + 1);
}

/* Appends chain b to chain a. */
static hop__dropped_stack_t *hop__chain_join(hop__dropped_stack_t *a, hop__dropped_stack_t *b) {
    if (!a)
        return b;
    hop__dropped_stack_t *last = a;
    while (last->next)
        last = last->next;
    last->next = b;
    return a;
}

/* The shared pool's list for a shape; with create, claims a free slot. */
static hop__stack_shape_t *hop__shared_shape(size_t size, size_t guard, unsigned int flags, int create) {
    hop__stack_shape_t *free_slot = NULL;
    for (int i = 0; i < HOP__STACK_SHAPES; i++) {
        hop__stack_shape_t *shape = &hop__shared_shapes[i];
        int used = shape->count != 0 || shape->reserved != 0;
        if (used && shape->size == size && shape->guard == guard && shape->flags == flags)
            return shape;
        if (!used && !free_slot)
            free_slot = shape;
    }
    if (!create || !free_slot)
        return NULL;
    free_slot->size = size;
    free_slot->guard = guard;
    free_slot->flags = flags;
    free_slot->low = 0;
    return free_slot;
}

/* Under the lock: puts n stacks, oldest first, on top of the shared pool;
 * returns chain with those that found no shape slot in front. */
static hop__dropped_stack_t *hop__shared_put_many(const hop__stack_t *stacks, unsigned int n,
                                                  hop__dropped_stack_t *chain) {
    hop__stack_shape_t *shape = NULL;
    for (unsigned int i = 0; i < n; i++) {
        const hop__stack_t *stack = &stacks[i];
        /* One lookup per run of one shape, the usual batch. */
        if (!shape || shape->size != stack->size || shape->guard != stack->guard ||
            shape->flags != stack->flags)
            shape = hop__shared_shape(stack->size, stack->guard, stack->flags, 1);
        if (!shape) {
            chain = hop__chain_push(chain, stack, 1);
            continue;
        }
        /* A finished task's frames may still be poisoned in ASan's shadow,
         * and the node goes into them. */
        hop__asan_unpoison(stack->low, stack->size);
        shape->newest = hop__chain_push(shape->newest, stack, 1);
        shape->count++;
        hop__shared_count++;
    }
    hop__atomic_store_uint(&hop__stats_shared, hop__shared_count);
    return chain;
}

/* Under the shared lock and cache's: moves the oldest n stacks of cache to
 * the top of the shared pool; returns chain with those that found no shape
 * slot in front. */
static hop__dropped_stack_t *hop__stack_cache_move_oldest(hop__stack_cache_t *cache, unsigned int n,
                                                          hop__dropped_stack_t *chain) {
    chain = hop__shared_put_many(cache->stacks, n, chain);
    memmove(&cache->stacks[0], &cache->stacks[n], (cache->count - n) * sizeof cache->stacks[0]);
    hop__cache_set_count(cache, cache->count - n);
    return chain;
}

/* Under the lock: puts a chain into the shared pool; returns the chain of
 * those that found no shape slot. */
static hop__dropped_stack_t *hop__shared_put_chain(hop__dropped_stack_t *chain) {
    hop__dropped_stack_t *rest = NULL;
    while (chain) {
        hop__dropped_stack_t *next = chain->next;
        hop__stack_t stack = chain->stack; /* the node is rewritten in place */
        rest = hop__shared_put_many(&stack, 1, rest);
        chain = next;
    }
    return rest;
}

/* Under the lock: moves the newest stacks of that shape, up to max, into
 * out in their order (oldest first, so the last one is the newest); returns
 * how many. */
static unsigned int hop__shared_take(size_t size, size_t guard, unsigned int flags, hop__stack_t *out,
                                     unsigned int max) {
    hop__stack_shape_t *shape = hop__shared_shape(size, guard, flags, 0);
    if (!shape)
        return 0;
    unsigned int n = shape->count < max ? shape->count : max;
    for (unsigned int i = n; i-- > 0;) {
        out[i] = shape->newest->stack;
        shape->newest = shape->newest->next;
    }
    shape->count -= n;
    if (shape->count < shape->low)
        shape->low = shape->count;
    hop__shared_count -= n;
    hop__atomic_store_uint(&hop__stats_shared, hop__shared_count);
    return n;
}

/* Under the lock: detaches the oldest n stacks of a shape and returns their
 * chain. */
static hop__dropped_stack_t *hop__shared_detach_oldest(hop__stack_shape_t *shape, unsigned int n) {
    if (n > shape->count)
        n = shape->count;
    if (n == 0)
        return NULL;
    hop__dropped_stack_t **link = &shape->newest;
    for (unsigned int i = 0; i < shape->count - n; i++)
        link = &(*link)->next;
    hop__dropped_stack_t *chain = *link;
    *link = NULL;
    shape->count -= n;
    if (shape->count < shape->low)
        shape->low = shape->count;
    hop__shared_count -= n;
    hop__atomic_store_uint(&hop__stats_shared, hop__shared_count);
    return chain;
}

static uint64_t hop__stack_now_ns(void) {
    struct timespec ts;
#ifdef CLOCK_MONOTONIC_COARSE
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
#else
    clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One decay step, under the shared lock: of the stacks that stayed cached
 * through the whole last period (each list's low-water mark), half go back
 * to the system, the oldest first, from the shared pool (a shape's
 * reservation is kept), and half move from each thread's cache to the shared
 * pool. A working set that keeps coming back (the recent high-water mark) is
 * never touched; a pile that stays unused halves each period. Returns the
 * chain to unmap once the lock is released. */
static hop__dropped_stack_t *hop__stack_decay_locked(void) {
    hop__dropped_stack_t *chain = NULL;
    for (int i = 0; i < HOP__STACK_SHAPES; i++) {
        hop__stack_shape_t *shape = &hop__shared_shapes[i];
        unsigned int count = shape->count;
        unsigned int n = (shape->low + 1) / 2;
        unsigned int above = count > shape->reserved ? count - (unsigned int)shape->reserved : 0;
        if (n > above)
            n = above;
        chain = hop__chain_join(hop__shared_detach_oldest(shape, n), chain);
        shape->low = shape->count;
    }
    for (hop__waitq_node_t *node = hop__cache_registry.head; node; node = node->next) {
        hop__stack_cache_t *cache = hop__container_of(node, hop__stack_cache_t, registry_node);
        hop__cache_lock(cache);
        unsigned int n = (cache->low + 1) / 2;
        if (n > cache->count)
            n = cache->count;
        /* To the shared pool, not to the system: there the shape's
         * reservation applies, and another thread may want them; if they
         * stay unused there, the next step gives them back. */
        chain = hop__stack_cache_move_oldest(cache, n, chain);
        cache->low = cache->count;
        hop__cache_unlock(cache);
    }
    return chain;
}

unsigned int hop__stack_decay(void) {
    pthread_mutex_lock(&hop__shared_lock);
    hop__dropped_stack_t *chain = hop__stack_decay_locked();
    hop__atomic_store_u64(&hop__decay_next, hop__stack_now_ns() + hop__atomic_load_u64(&hop__decay_period));
    pthread_mutex_unlock(&hop__shared_lock);
    return hop__stack_unmap_chain(chain);
}

void hop__stack_set_decay_period(uint64_t ns) {
    pthread_mutex_lock(&hop__shared_lock);
    hop__atomic_store_u64(&hop__decay_period, ns);
    hop__atomic_store_u64(&hop__decay_next, hop__stack_now_ns() + ns);
    pthread_mutex_unlock(&hop__shared_lock);
}

/* Runs a decay step if one is due and nobody else runs it. */
static void hop__stack_decay_if_due(void) {
    uint64_t period = hop__atomic_load_u64(&hop__decay_period);
    if (period == 0)
        return;
    uint64_t now = hop__stack_now_ns();
    uint64_t next = hop__atomic_load_u64(&hop__decay_next);
    if (now < next || pthread_mutex_trylock(&hop__shared_lock) != 0)
        return;
    hop__dropped_stack_t *chain = NULL;
    if (now >= hop__atomic_load_u64(&hop__decay_next)) {
        /* The first step only starts the first period. */
        if (next != 0)
            chain = hop__stack_decay_locked();
        hop__atomic_store_u64(&hop__decay_next, now + period);
    }
    pthread_mutex_unlock(&hop__shared_lock);
    hop__stack_unmap_chain(chain);
}

int hop__stack_acquire(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack) {
    size = hop__stack_round_size(size);
    if (size == 0)
        return HOP_ENOMEM;
    flags &= HOP_TASK_UNGUARDED_STACK;
    guard = hop__stack_round_guard(guard, flags);
    hop__stack_cache_t *mine = &hop__thread_cache;
    if (++mine->uses % HOP__STACK_DECAY_CHECK_EVERY == 0)
        hop__stack_decay_if_due();
    hop__owner_lock_enter(&mine->lock);
    int found = hop__stack_cache_take(mine, size, guard, flags, stack);
    const char *next_top = hop__stack_cache_next_top(mine);
    hop__owner_lock_exit(&mine->lock);
    if (!found && hop__atomic_load_uint(&hop__stats_shared) != 0) {
        /* Refilled with the shared pool's newest, in their order: taken
         * first are the stacks released last. Registered first, so that
         * what lands in this cache is never out of the reach of a flush or
         * of the thread's exit. */
        hop__stack_register_thread();
        hop__dropped_stack_t *unmap = NULL;
        pthread_mutex_lock(&hop__shared_lock);
        hop__owner_lock_enter(&mine->lock);
        if (HOP__STACK_THREAD_CACHE_MAX - mine->count < HOP__STACK_BATCH) {
            /* Full of other shapes (a loop that ran tasks of another shape
             * before): their oldest make room, or every spawn of this shape
             * would search the whole cache and take the shared lock. */
            unmap = hop__stack_cache_move_oldest(mine, HOP__STACK_BATCH, NULL);
        }
        unsigned int n = hop__shared_take(size, guard, flags, &mine->stacks[mine->count], HOP__STACK_BATCH);
        hop__atomic_store_uint(&mine->count, mine->count + n);
        found = n != 0 && hop__stack_cache_take(mine, size, guard, flags, stack);
        next_top = hop__stack_cache_next_top(mine);
        hop__owner_lock_exit(&mine->lock);
        pthread_mutex_unlock(&hop__shared_lock);
        hop__stack_unmap_chain(unmap);
    }
    if (next_top)
        hop__stack_prefetch_top(next_top);
    if (!found) {
        int err = hop__stack_map(size, guard, flags, stack);
        if (err)
            return err;
    }
    hop__asan_unpoison(stack->low, stack->size);
    return 0;
}

/* Before a fork: the shared lock and every other thread's cache lock are
 * held, so the child finds every list consistent. The calling thread's own
 * cache needs no lock: it is not in the middle of using it. */
void hop__stack_fork_prepare(void) {
    pthread_mutex_lock(&hop__shared_lock);
    for (hop__waitq_node_t *node = hop__cache_registry.head; node; node = node->next)
        if (node != &hop__thread_cache.registry_node)
            hop__owner_lock_seize(&hop__container_of(node, hop__stack_cache_t, registry_node)->lock);
}

void hop__stack_fork_parent(void) {
    for (hop__waitq_node_t *node = hop__cache_registry.head; node; node = node->next)
        if (node != &hop__thread_cache.registry_node)
            hop__owner_lock_release(&hop__container_of(node, hop__stack_cache_t, registry_node)->lock);
    pthread_mutex_unlock(&hop__shared_lock);
}

/* In the child only the forking thread lives on: the other threads' caches
 * go to the shared pool (so their stacks are used again, not leaked) and off
 * the registry. */
void hop__stack_fork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    hop__shared_lock = fresh;
    hop__owner_lock_fork_child();
    hop__dropped_stack_t *orphans = NULL;
    hop__waitq_node_t *node = hop__cache_registry.head;
    while (node) {
        hop__waitq_node_t *next = node->next;
        if (node != &hop__thread_cache.registry_node) {
            hop__stack_cache_t *cache = hop__container_of(node, hop__stack_cache_t, registry_node);
            orphans = hop__stack_cache_move_oldest(cache, cache->count, orphans);
            hop__waitq_cancel(&hop__cache_registry, node);
            cache->registered = 0;
            hop__owner_lock_t unlocked = HOP__OWNER_LOCK_INIT;
            cache->lock = unlocked;
        }
        node = next;
    }
    hop__stack_unmap_chain(orphans);
}

static void hop__stack_register_thread(void) {
    if (!hop__thread_cache.registered) {
        hop__owner_lock_setup(); /* before a cache of this thread holds stacks */
        hop__fork_register();    /* so that a fork never finds the shared lock held */
        hop__stack_page_size(); /* creates the key */
        /* Any non-NULL value makes pthreads call the destructor at exit. */
        pthread_setspecific(hop__stack_key, &hop__thread_cache);
        pthread_mutex_lock(&hop__shared_lock);
        hop__waitq_push(&hop__cache_registry, &hop__thread_cache.registry_node);
        pthread_mutex_unlock(&hop__shared_lock);
        hop__thread_cache.registered = 1;
    }
}

void hop__stack_release(hop__stack_t *stack) {
    hop__stack_register_thread();
    hop__stack_cache_t *mine = &hop__thread_cache;
    hop__owner_lock_enter(&mine->lock);
    if (mine->count < HOP__STACK_THREAD_CACHE_MAX) {
        hop__stack_cache_put(mine, stack);
        hop__owner_lock_exit(&mine->lock);
        return;
    }
    hop__owner_lock_exit(&mine->lock);
    /* Full: the oldest batch goes to the top of the shared pool (what finds
     * no room there goes back to the system), and this one becomes the
     * newest. The shared lock first, as everywhere. */
    pthread_mutex_lock(&hop__shared_lock);
    hop__owner_lock_enter(&mine->lock);
    unsigned int n = 0;
    if (mine->count == HOP__STACK_THREAD_CACHE_MAX)
        n = HOP__STACK_BATCH; /* else a decay step made room meanwhile */
    hop__dropped_stack_t *unmap = hop__stack_cache_move_oldest(mine, n, NULL);
    hop__stack_cache_put(mine, stack);
    hop__owner_lock_exit(&mine->lock);
    pthread_mutex_unlock(&hop__shared_lock);
    hop__stack_unmap_chain(unmap);
}

/* Moves a thread's cache to the shared pool (unmapping what finds no room)
 * and takes it off the registry, at thread exit. */
static void hop__stack_thread_exit(void *unused) {
    (void)unused;
    hop__stack_cache_t *mine = &hop__thread_cache;
    pthread_mutex_lock(&hop__shared_lock);
    hop__owner_lock_enter(&mine->lock);
    hop__dropped_stack_t *rest = hop__stack_cache_move_oldest(mine, mine->count, NULL);
    hop__owner_lock_exit(&mine->lock);
    hop__waitq_cancel(&hop__cache_registry, &mine->registry_node);
    pthread_mutex_unlock(&hop__shared_lock);
    mine->registered = 0;
    hop__stack_unmap_chain(rest);
}

/* Detaches every cached stack: the shared pool's and every registered
 * thread's cache (the calling thread's included, registered or not). */
static hop__dropped_stack_t *hop__stack_detach_all(void) {
    hop__stack_cache_t *mine = &hop__thread_cache;
    pthread_mutex_lock(&hop__shared_lock);
    hop__dropped_stack_t *chain = NULL;
    for (int i = 0; i < HOP__STACK_SHAPES; i++) {
        hop__stack_shape_t *shape = &hop__shared_shapes[i];
        chain = hop__chain_join(hop__shared_detach_oldest(shape, shape->count), chain);
    }
    for (hop__waitq_node_t *node = hop__cache_registry.head; node; node = node->next) {
        hop__stack_cache_t *cache = hop__container_of(node, hop__stack_cache_t, registry_node);
        if (cache == mine)
            continue;
        hop__cache_lock(cache);
        chain = hop__chain_push(chain, cache->stacks, cache->count);
        hop__cache_set_count(cache, 0);
        hop__cache_unlock(cache);
    }
    pthread_mutex_unlock(&hop__shared_lock);
    hop__owner_lock_enter(&mine->lock);
    chain = hop__chain_push(chain, mine->stacks, mine->count);
    hop__cache_set_count(mine, 0);
    hop__owner_lock_exit(&mine->lock);
    return chain;
}

unsigned int hop__stack_reclaim(void) {
    unsigned int n = hop__stack_unmap_chain(hop__stack_detach_all());
    if (n)
        hop__atomic_faa_uint(&hop__stats_reclaims, 1u);
    return n;
}

void hop_stack_cache_flush(void) { hop__stack_unmap_chain(hop__stack_detach_all()); }

int hop_stack_reserve(const hop_task_options_t *options, size_t count) {
    static const hop_task_options_t defaults = {0};
    if (!options)
        options = &defaults;
    if (hop__stack_guard_out_of_range(options->guard_size, options->flags))
        return HOP_EINVAL;
    size_t size = hop__stack_round_size(options->stack_size);
    if (size == 0)
        return HOP_ENOMEM;
    unsigned int flags = options->flags & HOP_TASK_UNGUARDED_STACK;
    size_t guard = hop__stack_round_guard(options->guard_size, flags);
    if (count > UINT32_MAX / 2)
        return HOP_ENOMEM; /* more than the kernel would ever map */
    pthread_mutex_lock(&hop__shared_lock);
    hop__stack_shape_t *shape = hop__shared_shape(size, guard, flags, count != 0);
    if (!shape) {
        pthread_mutex_unlock(&hop__shared_lock);
        return count ? HOP_EBUSY : 0;
    }
    size_t had = shape->reserved;
    shape->reserved = count; /* pins the slot while the stacks are mapped */
    /* Those in threads' caches count: they go to the shared pool when they
     * stay unused there, and the reservation holds them then. */
    size_t cached = shape->count;
    for (hop__waitq_node_t *node = hop__cache_registry.head; node; node = node->next) {
        hop__stack_cache_t *cache = hop__container_of(node, hop__stack_cache_t, registry_node);
        hop__cache_lock(cache);
        for (unsigned int i = 0; i < cache->count; i++) {
            const hop__stack_t *c = &cache->stacks[i];
            cached += c->size == size && c->guard == guard && c->flags == flags;
        }
        hop__cache_unlock(cache);
    }
    size_t missing = count > cached ? count - cached : 0;
    pthread_mutex_unlock(&hop__shared_lock);

    hop__dropped_stack_t *chain = NULL;
    for (size_t i = 0; i < missing; i++) {
        hop__stack_t stack;
        if (hop__stack_map_once(size, guard, flags, &stack) != 0) {
            /* All or nothing: the reservation is as it was. */
            hop__stack_unmap_chain(chain);
            pthread_mutex_lock(&hop__shared_lock);
            shape = hop__shared_shape(size, guard, flags, 0);
            if (shape)
                shape->reserved = had;
            pthread_mutex_unlock(&hop__shared_lock);
            return HOP_ENOMEM;
        }
        hop__dropped_stack_t *c = hop__stack_record(&stack);
        c->stack = stack;
        c->next = chain;
        chain = c;
    }
    /* Looked up again: a concurrent call may have let the slot go. */
    pthread_mutex_lock(&hop__shared_lock);
    hop__dropped_stack_t *rest = hop__shared_put_chain(chain);
    pthread_mutex_unlock(&hop__shared_lock);
    hop__stack_unmap_chain(rest);
    return 0;
}

void hop__stack_counts(hop__stack_counts_t *counts) {
    unsigned int cached = 0;
    size_t reserved = 0;
    pthread_mutex_lock(&hop__shared_lock);
    for (hop__waitq_node_t *n = hop__cache_registry.head; n; n = n->next)
        cached += hop__atomic_load_uint(&hop__container_of(n, hop__stack_cache_t, registry_node)->count);
    for (int i = 0; i < HOP__STACK_SHAPES; i++)
        reserved += hop__shared_shapes[i].reserved;
    pthread_mutex_unlock(&hop__shared_lock);
    unsigned int shared = hop__atomic_load_uint(&hop__stats_shared);
    counts->mapped = hop__atomic_load_uint(&hop__stats_mapped);
    counts->cached_shared = shared;
    counts->cached = cached + shared;
    counts->reserved = reserved;
    counts->map_calls = hop__atomic_load_uint(&hop__stats_map_calls);
    counts->unmap_calls = hop__atomic_load_uint(&hop__stats_unmap_calls);
    counts->reclaims = hop__atomic_load_uint(&hop__stats_reclaims);
}

void hop_stack_stats(hop_stack_stats_t *stats) {
    if (!stats)
        return;
    hop__stack_counts_t counts;
    hop__stack_counts(&counts);
    stats->mapped = counts.mapped;
    stats->cached_shared = counts.cached_shared;
    stats->in_use = counts.mapped > counts.cached ? counts.mapped - counts.cached : 0;
    stats->map_calls = counts.map_calls;
    stats->unmap_calls = counts.unmap_calls;
    stats->reserved = counts.reserved;
}
