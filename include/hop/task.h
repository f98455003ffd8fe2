/* hop/task.h: stackful tasks.
 *
 * A task runs a void *(*)(void *) function on a stack of its own, so any C
 * function it calls, however deep, may await: there are no "async" colours.
 * A task belongs to one executor at a time, which runs it whenever it is
 * resumed; hop_dispatch_to_executor() moves it to another.
 *
 * Lifecycle: HOP_TASK_CREATED -> HOP_TASK_RUNNING <-> HOP_TASK_SUSPENDED ->
 * HOP_TASK_DONE, or HOP_TASK_CANCELLED when hop_task_cancel() was called
 * before the task finished (the task's future then holds HOP_ECANCELED).
 *
 * Where a task resumes. A task belongs to one executor at a time: the one it
 * was spawned on, until it calls hop_dispatch_to_executor() (or
 * hop_dispatch_to_loop()), which moves it. Whatever it awaits, and whichever
 * thread completes that (a future set on a plain thread, a job finished on a
 * pool worker), the task resumes on the executor it belongs to, in the
 * spirit of C#'s SynchronizationContext: a loop task always resumes on its
 * loop's thread, a pool task on some pool thread. Only the inline executor
 * resumes a task on the completing thread itself.
 *
 * Handles are reference counted. hop_task_spawn() hands the caller one
 * reference (or none, if it passes NULL: a detached task); the running task
 * holds its own until it finishes. The task's result belongs to the task:
 * joiners borrow it, and the result destructor given at spawn, if any, is
 * called with it when the last reference is dropped.
 *
 * THREAD-LOCAL STORAGE AND MIGRATION. A task may resume on another thread
 * after any await (any hop call documented to suspend). Compilers may compute
 * the address of a thread-local variable once and reuse it after a call, and
 * errno is thread-local. So, inside a task:
 *   - do not keep a pointer to thread-local data (including &errno) across an
 *     await, and do not assume a _Thread_local read before an await is the
 *     same variable after it;
 *   - read errno right after the call that sets it, before any await;
 *   - read hop's own per-thread state only through hop_task_current() and
 *     hop_executor_current(), which are opaque calls the compiler cannot
 *     cache across a suspension.
 * Task-local state belongs in the task's own stack or in the argument. */
#ifndef HOP_TASK_H
#define HOP_TASK_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void *(*hop_task_fn)(void *arg);
/* A task that reports a status of its own (hop_task_spawn_ex): 0 or a
 * negative HOP_E* code, with its result in *result. */
typedef int (*hop_task_status_fn)(void *arg, void **result);
typedef void (*hop_result_destructor_fn)(void *result);

typedef enum {
    HOP_TASK_CREATED = 0, /* spawned, not yet run */
    HOP_TASK_RUNNING,     /* on a thread right now */
    HOP_TASK_SUSPENDED,   /* waiting in hop_await() */
    HOP_TASK_DONE,        /* returned; its future holds the result */
    HOP_TASK_CANCELLED    /* finished after hop_task_cancel(); future holds HOP_ECANCELED */
} hop_task_state_t;

/* Default stack size: 256 KiB of address space. Only the pages a task touches
 * become resident (a task that awaits right away costs about two pages), and
 * 256 KiB leaves room for the deepest ordinary libc calls (getaddrinfo,
 * printf with floating point, qsort) with a margin. The tests check both. */
#define HOP_STACK_SIZE_DEFAULT ((size_t)256 * 1024)
/* The longest task name, in bytes: a longer one is refused (HOP_EINVAL),
 * never cut, like every name hop is given. */
#define HOP_TASK_NAME_MAX 31
/* Smallest stack hop accepts; smaller requests are rounded up. */
#define HOP_STACK_SIZE_MIN ((size_t)16 * 1024)
/* Default guard below a task's stack: 64 KiB of PROT_NONE address space (no
 * memory), so that a frame with a large local array (up to 64 KiB) that
 * overflows faults in the guard, where hop can name the task, instead of
 * writing into whatever is mapped below. A single page would let any frame
 * larger than 4 KiB jump over it. Compile code that runs in tasks with
 * -fstack-clash-protection to make even larger frames touch the guard. */
#define HOP_STACK_GUARD_DEFAULT ((size_t)64 * 1024)
/* Largest guard hop maps; larger requests are cut to it. */
#define HOP_STACK_GUARD_MAX ((size_t)16 * 1024 * 1024)

enum {
    /* No PROT_NONE guard page below the stack. A guarded stack costs two of
     * the kernel's memory mappings (vm.max_map_count, 65,530 by default, so
     * about 30,000 guarded stacks per process); unguarded ones cost one at
     * most, and adjacent ones merge. An overflow then corrupts memory silently
     * instead of faulting: use only with stacks you have measured. */
    HOP_TASK_UNGUARDED_STACK = 1u << 0
};

struct hop_task_options_s {
    size_t stack_size;      /* 0: HOP_STACK_SIZE_DEFAULT; rounded up to pages */
    const char *name;       /* copied; at most HOP_TASK_NAME_MAX bytes; NULL: unnamed */
    hop_result_destructor_fn result_destructor; /* NULL: the result is not freed */
    unsigned int flags;     /* HOP_TASK_* */
    size_t guard_size;      /* PROT_NONE bytes below the stack; 0: HOP_STACK_GUARD_DEFAULT;
                               rounded up to pages, at most HOP_STACK_GUARD_MAX
                               (above: HOP_EINVAL, refused, not cut); ignored
                               with HOP_TASK_UNGUARDED_STACK */
};

/* hop_task_spawn: creates a task running fn(arg) and submits it to executor.
 * Any thread; does not suspend. options may be NULL for the defaults. If task
 * is not NULL it receives a new reference, released with hop_task_unref();
 * if it is NULL the task is detached. With the inline executor the task runs
 * right away, inside this call, until its first suspension.
 * Returns 0; HOP_EINVAL (NULL executor or fn, a name longer than
 * HOP_TASK_NAME_MAX, a guard_size above HOP_STACK_GUARD_MAX); HOP_ENOMEM (no memory or no
 * memory mappings left for the stack); HOP_ECLOSED (the executor takes no new
 * work: nothing was created). On error *task is set to NULL. */
HOP_EXTERN int hop_task_spawn(hop_executor_t *executor, hop_task_fn fn, void *arg,
                              const hop_task_options_t *options, hop_task_t **task);

/* hop_task_spawn_ex: hop_task_spawn for a task that reports an error of its
 * own: fn(arg, &result) returns a status (0 or a negative HOP_E* code) and
 * the task's future completes with that status and result (both: an error
 * may come with a result, unlike hop_future_set_error), so hop_task_join()
 * and hop_future_result() return fn's status. *result starts NULL; the
 * result belongs to the task as hop_task_spawn's does (options'
 * result_destructor frees it), whatever the status. A task cancelled before
 * it ran, or cancelled and returning, completes with HOP_ECANCELED as any
 * task does. Threads, suspension and errors as hop_task_spawn. */
HOP_EXTERN int hop_task_spawn_ex(hop_executor_t *executor, hop_task_status_fn fn, void *arg,
                                 const hop_task_options_t *options, hop_task_t **task);

/* hop_task_spawn_at / hop_task_spawn_ex_at: hop_task_spawn and
 * hop_task_spawn_ex that record where they were called (file must live as
 * long as the program, as __FILE__ does), for hop_task_dump (hop/debug.h).
 * The two macros below make every hop_task_spawn / hop_task_spawn_ex call
 * record its site; the functions remain (taking their address, or
 * (hop_task_spawn)(...), calls them without a site). A NULL file records
 * no site. */
HOP_EXTERN int hop_task_spawn_at(hop_executor_t *executor, hop_task_fn fn, void *arg,
                                 const hop_task_options_t *options, hop_task_t **task, const char *file, int line);
HOP_EXTERN int hop_task_spawn_ex_at(hop_executor_t *executor, hop_task_status_fn fn, void *arg,
                                    const hop_task_options_t *options, hop_task_t **task, const char *file,
                                    int line);
#define hop_task_spawn(executor, fn, arg, options, task)                                                     \
    hop_task_spawn_at((executor), (fn), (arg), (options), (task), __FILE__, __LINE__)
#define hop_task_spawn_ex(executor, fn, arg, options, task)                                                  \
    hop_task_spawn_ex_at((executor), (fn), (arg), (options), (task), __FILE__, __LINE__)

/* hop_task_current: the task running on this thread, or NULL outside tasks.
 * An opaque call: safe to use again after an await. */
HOP_EXTERN hop_task_t *hop_task_current(void);

/* hop_task_join: suspends the current task until task finishes; then stores
 * the task's result in *result (if result is not NULL; borrowed, see above)
 * and returns 0, HOP_ECANCELED if task was cancelled, or the status its
 * function returned (hop_task_spawn_ex). When task has not started and its
 * executor (the joiner's own) hands its job back (hop_executor_withdraw: the
 * pool does for a child still in the joining worker's own queues), this
 * thread runs task right away until it finishes or suspends, instead of
 * suspending the joiner; an interrupt of the joiner meanwhile (cancel,
 * deadline) is reported once task is back. Task only: from a
 * plain thread, use hop_future_wait(hop_task_future(task), ...).
 * Errors: HOP_EINVAL (NULL task), HOP_ENOTTASK (not in a task), HOP_EDEADLK
 * (a task joining itself), HOP_ECANCELED (the joiner itself was cancelled). */
HOP_EXTERN int hop_task_join(hop_task_t *task, void **result);

/* hop_task_future: the future that completes when task finishes, valid while
 * the caller holds a reference to task. Any thread. NULL for a NULL task. */
HOP_EXTERN hop_future_t *hop_task_future(hop_task_t *task);

/* hop_task_cancel: asks task to stop, in the spirit of asyncio's
 * Task.cancel() with C error codes instead of CancelledError:
 *   - a task that has not started never runs its function;
 *   - a task suspended in an interruptible await (futures, joins,
 *     hop_run_in_executor, hop_sleep, hop's mutexes, semaphores, events,
 *     channels, hop_once_call, hop_when_*; any awaitable with a cancel op)
 *     resumes at once, on its own executor, with HOP_ECANCELED from that
 *     await (hop_group_wait is the exception by design: it cancels the
 *     group's children and returns HOP_ECANCELED once they have all ended);
 *   - a task that is running, or in an await that cannot be interrupted
 *     (hop_yield, hop_dispatch_to_executor), gets HOP_ECANCELED from its next
 *     await;
 *   - from then on every await of the task returns HOP_ECANCELED at once,
 *     without suspending, so the task's cleanup code runs and it finishes.
 * Either way the task ends as HOP_TASK_CANCELLED and its future holds
 * HOP_ECANCELED; a result it returns is still passed to the result
 * destructor. Cancelling twice is harmless. Inside a shield
 * (hop_shield_enter, hop/timer.h) the cancel is held: it takes effect at the
 * task's first await after the shield ends.
 * Any thread. Returns 0, HOP_EINVAL (NULL), or HOP_EALREADY (already finished). */
HOP_EXTERN int hop_task_cancel(hop_task_t *task);

/* hop_task_state: a snapshot of task's state; it may change right after if
 * other threads run the task. Any thread. HOP_TASK_DONE for NULL. */
HOP_EXTERN hop_task_state_t hop_task_state(const hop_task_t *task);

/* hop_task_state_name: "created", "running", ... for logs; "?" for a value
 * that is not a state. */
HOP_EXTERN const char *hop_task_state_name(hop_task_state_t state);

/* hop_task_name: the name given at spawn, or "" (never NULL). Any thread. */
HOP_EXTERN const char *hop_task_name(const hop_task_t *task);

/* hop_task_id: task's id, a number from 1 up that no other task of the
 * process has or will have (task records are reused, their ids never), for
 * logs and for telling tasks apart after they finished; 0 for NULL. The ids
 * of tasks spawned from one thread increase; across threads they are not in
 * spawn order (each thread takes them in batches). Any
 * thread; valid while the caller holds a reference to task. */
HOP_EXTERN uint64_t hop_task_id(const hop_task_t *task);

/* hop_task_executor: the executor task belongs to now. Any thread; a snapshot.
 * NULL for NULL. */
HOP_EXTERN hop_executor_t *hop_task_executor(const hop_task_t *task);

/* hop_task_ref: adds a reference to task and returns task. Any thread. NULL
 * for NULL. */
HOP_EXTERN hop_task_t *hop_task_ref(hop_task_t *task);

/* hop_task_unref: drops a reference (detaching the task if it is still
 * running). The last one frees the task: the result destructor runs on the
 * calling thread. Any thread; NULL is ignored. */
HOP_EXTERN void hop_task_unref(hop_task_t *task);

/* hop_yield: lets the task's executor run other work, then resumes the task
 * on the same executor. Task only; suspends. Returns 0, HOP_ENOTTASK or
 * HOP_ECANCELED. */
HOP_EXTERN int hop_yield(void);

/* hop_dispatch_to_executor: the rest of the current task runs on executor:
 * the task suspends, is submitted there, and returns from this call on one of
 * executor's threads; executor becomes the task's executor. Task only.
 * Returns 0; HOP_EINVAL (NULL executor); HOP_ENOTTASK; HOP_ECANCELED;
 * HOP_ECLOSED (executor takes no new work: the task stays where it was). */
HOP_EXTERN int hop_dispatch_to_executor(hop_executor_t *executor);

struct hop_stack_stats_s {
    size_t mapped;        /* stacks currently mapped (in use + cached) */
    size_t in_use;        /* stacks held by live tasks */
    size_t cached_shared; /* stacks in the shared pool (the rest of the cached ones
                             sit in per-thread caches) */
    size_t map_calls;     /* mmap calls made so far, in all */
    size_t unmap_calls;   /* munmap calls made so far, in all */
    size_t reserved;      /* stacks promised by hop_stack_reserve(), all shapes */
};

/* hop_stack_stats: process-wide counters of task stacks, for leak checks and
 * monitoring. Any thread; each counter is read atomically, but the set is not
 * a single snapshot while other threads spawn or finish tasks. NULL is
 * ignored. */
HOP_EXTERN void hop_stack_stats(hop_stack_stats_t *stats);

/* hop_stack_overflow_install: makes a task's stack overflow on the calling
 * thread die with a message instead of a bare SIGSEGV:
 *   hop: task "name" (id 42) overflowed its 256 KiB stack on executor "pool"
 * then the process dies of the original signal (SIGSEGV or SIGBUS), so core
 * dumps work as before. It installs, once per process, a SIGSEGV/SIGBUS
 * handler chained to the one installed before it (saved at that moment):
 * a fault that is not in the guard region of the task running on the
 * faulting thread goes to that handler untouched (SIG_DFL: the process dies
 * as it would have). And it gives the calling thread an alternate signal
 * stack (sigaltstack) unless it has one, without which no handler can run
 * after an overflow; it is freed when the thread exits.
 * You rarely need to call it: every thread hop starts (pool, loop, blocking
 * and timer threads) does it first, and any other thread gets it the first
 * time it switches into a task (the thread of hop_run, a manual executor's
 * driver, an inline executor's caller). Call it on such a thread if your own
 * SA_ONSTACK handler must also run there for faults outside tasks. A handler
 * installed after hop's replaces it (chain to it to keep the message).
 * Any thread; idempotent; never suspends. Returns 0, or HOP_ENOMEM (no
 * memory for the signal stack: the thread runs without one). */
HOP_EXTERN int hop_stack_overflow_install(void);

/* hop_stack_cache_flush: returns every cached stack (the shared pool's and
 * every thread's cache) to the system. hop does this by itself when a
 * mapping fails for lack of memory, and gives back stacks that stay unused
 * (half of them per second), so few programs need it. Reservations
 * (hop_stack_reserve) stay: stacks released later are kept up to them again.
 * Any thread; never suspends; stacks in use are not affected. */
HOP_EXTERN void hop_stack_cache_flush(void);

/* hop_stack_reserve: maps stacks of the shape options gives (stack_size,
 * guard_size, HOP_TASK_UNGUARDED_STACK; the other fields are ignored; NULL:
 * the defaults) until count of them are cached (in the shared pool or in
 * threads' caches), and keeps at least count of
 * that shape cached from then on: the slow decay of unused stacks never
 * trims below it (an ENOMEM flush and hop_stack_cache_flush() do). A server
 * that knows its connection count spawns that many tasks without a system
 * call for stacks. count replaces the shape's previous reservation; 0
 * removes it. At most 8 shapes are cached at a time.
 * Any thread; blocks while it maps (no task is suspended).
 * Returns 0; HOP_EINVAL (a guard_size above HOP_STACK_GUARD_MAX);
 * HOP_ENOMEM (no memory or memory mappings for count stacks:
 * nothing was mapped and the previous reservation stands; each guarded stack
 * costs two of vm.max_map_count's mappings); HOP_EBUSY (8 other shapes are
 * cached or reserved already). */
HOP_EXTERN int hop_stack_reserve(const hop_task_options_t *options, size_t count);

#ifdef __cplusplus
}
#endif

#endif /* HOP_TASK_H */
