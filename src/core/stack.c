/* src/core/stack.c: task stacks. See stack.h for the policy. */
#define _GNU_SOURCE
#include "stack.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "atomic.h"
#include "fork.h"
#include "hop/error.h"
#include "hop/task.h"
#include "sanitizer.h"
#include "waitq.h"

/* The task registry's side (registry.c); declared here so that the stack
 * module does not need the task record's definition. */
int hop__registry_stack_mapped(hop__stack_t *stack);
void hop__registry_stack_unmapped(const hop__stack_t *stack);

/* A cached stack stores its own bookkeeping in its top bytes: nothing is
 * allocated to cache it. */
typedef struct hop__cached_stack_s {
    struct hop__cached_stack_s *next;
    hop__stack_t stack;
} hop__cached_stack_t;

/* count is written only by the owning thread (shared pool: under the lock)
 * and read by hop_stack_stats() from any thread, hence atomic. */
typedef struct hop__stack_cache_s {
    hop__cached_stack_t *head;
    unsigned int count;
    int registered;                  /* in the registry, with its thread-exit destructor armed */
    hop__waitq_node_t registry_node; /* guarded by hop__shared_lock */
} hop__stack_cache_t;

static _Thread_local hop__stack_cache_t hop__thread_cache;

static pthread_mutex_t hop__shared_lock = PTHREAD_MUTEX_INITIALIZER;
/* The shared pool, one list per stack shape (size and flags), so taking a
 * stack is O(1) however many stacks of other shapes it holds. A shape whose
 * list is empty gives its slot up to a new one; with every slot taken by
 * another shape, a released stack goes back to the system. */
#define HOP__STACK_SHAPES 8
typedef struct {
    size_t size;
    size_t guard;
    unsigned int flags;
    hop__stack_cache_t stacks;
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
    if (size > SIZE_MAX - page * 2)
        return 0;
    return (size + page - 1) & ~(page - 1);
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

static int hop__stack_map(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack) {
    /* MAP_NORESERVE: only touched pages count, as for thread stacks.
     * MAP_STACK: a hint some kernels and tools use. */
    void *base = mmap(NULL, size + guard, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK,
                      -1, 0);
    if (base == MAP_FAILED)
        return HOP_ENOMEM;
    /* The guard costs a second mapping; when vm.max_map_count is reached
     * mprotect fails with ENOMEM, reported the same way. */
    if (guard && mprotect(base, guard, PROT_NONE) != 0) {
        munmap(base, size + guard);
        return HOP_ENOMEM;
    }
    stack->low = (char *)base + guard;
    stack->size = size;
    stack->guard = guard;
    stack->flags = flags & HOP_TASK_UNGUARDED_STACK;
    /* The registry reads the task records of mapped stacks: it learns of the
     * mapping before any task can use it. */
    if (hop__registry_stack_mapped(stack) != 0) {
        munmap(base, size + guard);
        return HOP_ENOMEM;
    }
    stack->valgrind_id = hop__valgrind_stack_register(stack->low, (char *)stack->low + size);
    hop__atomic_faa_uint(&hop__stats_mapped, 1u);
    hop__atomic_faa_uint(&hop__stats_map_calls, 1u);
    return 0;
}

static void hop__stack_unmap(hop__stack_t *stack) {
    size_t guard = stack->guard;
    hop__valgrind_stack_deregister(stack->valgrind_id);
    hop__registry_stack_unmapped(stack); /* no snapshot reads it after this */
    munmap((char *)stack->low - guard, stack->size + guard);
    hop__atomic_faa_uint(&hop__stats_mapped, (unsigned int)-1);
}

static hop__cached_stack_t *hop__stack_record(const hop__stack_t *stack) {
    uintptr_t top = (uintptr_t)stack->low + stack->size;
    return (hop__cached_stack_t *)((top - sizeof(hop__cached_stack_t)) & ~(uintptr_t)15);
}

/* Takes a stack of exactly size, guard and flags out of cache, or returns 0. */
static int hop__stack_cache_take(hop__stack_cache_t *cache, size_t size, size_t guard, unsigned int flags,
                                 hop__stack_t *out) {
    hop__cached_stack_t **link = &cache->head;
    for (hop__cached_stack_t *c = cache->head; c; link = &c->next, c = c->next) {
        if (c->stack.size == size && c->stack.guard == guard && c->stack.flags == flags) {
            *link = c->next;
            hop__atomic_store_uint(&cache->count, cache->count - 1);
            *out = c->stack;
            return 1;
        }
    }
    return 0;
}

static void hop__stack_cache_put(hop__stack_cache_t *cache, const hop__stack_t *stack) {
    /* A finished task's frames may still be poisoned in ASan's shadow. */
    hop__asan_unpoison(stack->low, stack->size);
    hop__cached_stack_t *c = hop__stack_record(stack);
    c->stack = *stack;
    c->next = cache->head;
    cache->head = c;
    hop__atomic_store_uint(&cache->count, cache->count + 1);
}

/* Takes any stack out of cache, or returns 0. */
static int hop__stack_cache_pop(hop__stack_cache_t *cache, hop__stack_t *out) {
    hop__cached_stack_t *c = cache->head;
    if (!c)
        return 0;
    cache->head = c->next;
    hop__atomic_store_uint(&cache->count, cache->count - 1);
    *out = c->stack;
    return 1;
}

/* The shared pool's list for a shape; with create, claims a free slot. */
static hop__stack_cache_t *hop__shared_list(size_t size, size_t guard, unsigned int flags, int create) {
    hop__stack_shape_t *free_slot = NULL;
    for (int i = 0; i < HOP__STACK_SHAPES; i++) {
        hop__stack_shape_t *shape = &hop__shared_shapes[i];
        if (shape->stacks.count != 0 && shape->size == size && shape->guard == guard && shape->flags == flags)
            return &shape->stacks;
        if (shape->stacks.count == 0 && !free_slot)
            free_slot = shape;
    }
    if (!create || !free_slot)
        return NULL;
    free_slot->size = size;
    free_slot->guard = guard;
    free_slot->flags = flags;
    return &free_slot->stacks;
}

/* Under the lock: keeps stack in the shared pool, or returns 0 (full). */
static int hop__shared_put(const hop__stack_t *stack) {
    if (hop__shared_count >= HOP__STACK_SHARED_POOL_MAX)
        return 0;
    hop__stack_cache_t *list = hop__shared_list(stack->size, stack->guard, stack->flags, 1);
    if (!list)
        return 0;
    hop__stack_cache_put(list, stack);
    hop__shared_count++;
    hop__atomic_store_uint(&hop__stats_shared, hop__shared_count);
    return 1;
}

/* Under the lock: a stack of that shape (any shape if size is 0), or 0. */
static int hop__shared_take(size_t size, size_t guard, unsigned int flags, hop__stack_t *out) {
    hop__stack_cache_t *list = NULL;
    if (size) {
        list = hop__shared_list(size, guard, flags, 0);
    } else {
        for (int i = 0; i < HOP__STACK_SHAPES && !list; i++)
            if (hop__shared_shapes[i].stacks.count)
                list = &hop__shared_shapes[i].stacks;
    }
    if (!list || !hop__stack_cache_pop(list, out))
        return 0;
    hop__shared_count--;
    hop__atomic_store_uint(&hop__stats_shared, hop__shared_count);
    return 1;
}

/* Stacks move between a thread's cache and the shared pool in batches, so a
 * thread that only spawns and one that only finishes tasks (a loop feeding a
 * pool) take the shared lock once per batch, not once per task. */
#define HOP__STACK_BATCH (HOP__STACK_THREAD_CACHE_MAX / 2)

int hop__stack_acquire(size_t size, size_t guard, unsigned int flags, hop__stack_t *stack) {
    size = hop__stack_round_size(size);
    if (size == 0)
        return HOP_ENOMEM;
    flags &= HOP_TASK_UNGUARDED_STACK;
    guard = hop__stack_round_guard(guard, flags);
    int found = hop__stack_cache_take(&hop__thread_cache, size, guard, flags, stack);
    if (!found && hop__atomic_load_uint(&hop__stats_shared) != 0) {
        hop__stack_t refill[HOP__STACK_BATCH];
        unsigned int refills = 0;
        pthread_mutex_lock(&hop__shared_lock);
        found = hop__shared_take(size, guard, flags, stack);
        while (found && refills < HOP__STACK_BATCH && hop__shared_take(size, guard, flags, &refill[refills]))
            refills++;
        pthread_mutex_unlock(&hop__shared_lock);
        if (refills) {
            hop__stack_register_thread();
            for (unsigned int i = 0; i < refills; i++)
                hop__stack_cache_put(&hop__thread_cache, &refill[i]);
        }
    }
    if (!found) {
        int err = hop__stack_map(size, guard, flags, stack);
        if (err)
            return err;
    }
    hop__asan_unpoison(stack->low, stack->size);
    return 0;
}

void hop__stack_fork_prepare(void) { pthread_mutex_lock(&hop__shared_lock); }

void hop__stack_fork_parent(void) { pthread_mutex_unlock(&hop__shared_lock); }

/* The other threads' caches stay on the registry (their stacks count as
 * cached, and are never used again: no memory is touched to free them). */
void hop__stack_fork_child(void) {
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    hop__shared_lock = fresh;
}

static void hop__stack_register_thread(void) {
    if (!hop__thread_cache.registered) {
        hop__fork_register(); /* so that a fork never finds the shared lock held */
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
    if (hop__thread_cache.count < HOP__STACK_THREAD_CACHE_MAX) {
        hop__stack_cache_put(&hop__thread_cache, stack);
        return;
    }
    /* Full: this stack and a batch of the cache go to the shared pool under
     * one lock; what does not fit there goes back to the system. */
    hop__stack_t spill[HOP__STACK_BATCH + 1];
    unsigned int spills = 0;
    spill[spills++] = *stack;
    while (spills < HOP__STACK_BATCH + 1 && hop__stack_cache_pop(&hop__thread_cache, &spill[spills]))
        spills++;
    hop__stack_t unmap[HOP__STACK_BATCH + 1];
    unsigned int unmaps = 0;
    pthread_mutex_lock(&hop__shared_lock);
    for (unsigned int i = 0; i < spills; i++)
        if (!hop__shared_put(&spill[i]))
            unmap[unmaps++] = spill[i];
    pthread_mutex_unlock(&hop__shared_lock);
    for (unsigned int i = 0; i < unmaps; i++)
        hop__stack_unmap(&unmap[i]);
}

/* Moves a thread's cache to the shared pool (unmapping what does not fit),
 * at thread exit. */
static void hop__stack_thread_exit(void *unused) {
    (void)unused;
    hop__stack_t stack;
    while (hop__stack_cache_pop(&hop__thread_cache, &stack)) {
        int kept = 0;
        pthread_mutex_lock(&hop__shared_lock);
        kept = hop__shared_put(&stack);
        pthread_mutex_unlock(&hop__shared_lock);
        if (!kept)
            hop__stack_unmap(&stack);
    }
    pthread_mutex_lock(&hop__shared_lock);
    hop__waitq_cancel(&hop__cache_registry, &hop__thread_cache.registry_node);
    pthread_mutex_unlock(&hop__shared_lock);
    hop__thread_cache.registered = 0;
}

void hop_stack_cache_flush(void) {
    hop__stack_t stack;
    while (hop__stack_cache_pop(&hop__thread_cache, &stack))
        hop__stack_unmap(&stack);
    for (;;) {
        pthread_mutex_lock(&hop__shared_lock);
        int found = hop__shared_take(0, 0, 0, &stack);
        pthread_mutex_unlock(&hop__shared_lock);
        if (!found)
            break;
        hop__stack_unmap(&stack);
    }
}

void hop_stack_stats(hop_stack_stats_t *stats) {
    if (!stats)
        return;
    unsigned int cached = 0;
    pthread_mutex_lock(&hop__shared_lock);
    for (hop__waitq_node_t *n = hop__cache_registry.head; n; n = n->next)
        cached += hop__atomic_load_uint(&hop__container_of(n, hop__stack_cache_t, registry_node)->count);
    pthread_mutex_unlock(&hop__shared_lock);
    stats->mapped = hop__atomic_load_uint(&hop__stats_mapped);
    stats->cached_shared = hop__atomic_load_uint(&hop__stats_shared);
    cached += (unsigned int)stats->cached_shared;
    stats->in_use = stats->mapped > cached ? stats->mapped - cached : 0;
    stats->map_calls = hop__atomic_load_uint(&hop__stats_map_calls);
}
