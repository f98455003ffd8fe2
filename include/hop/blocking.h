/* hop/blocking.h: the blocking pool, for calls that block their thread.
 *
 * An elastic FIFO thread pool, like Tokio's spawn_blocking pool or asyncio's
 * default executor, for work that blocks (file I/O, DNS, a C library with
 * no asynchronous API, a long computation a loop must not run):
 *
 *   - FIFO: one shared queue; a job submitted before another (as seen by
 *     the pool: the earlier submit returned first) starts no later than it.
 *   - Elastic: a job that finds every thread busy starts a new thread, up to
 *     max_threads; beyond that jobs wait in the queue. A job that finds a
 *     thread idle takes it. The submitter wakes or creates at most the first
 *     of a burst's threads: each thread it wakes or creates wakes or creates
 *     up to two more for the jobs still without one before it takes its
 *     own, so the wake-ups and creations fan out over the pool's threads
 *     and the submitting thread (often a loop) does not make one system
 *     call per job. A thread idle for keep_alive_ms retires, down to
 *     min_threads. An idle pool has no thread running: they sleep (each on
 *     a word of its own, woken with one system call), or have retired.
 *   - Withdrawable: a queued job can be taken back (hop_blocking_withdraw,
 *     hop_executor_withdraw) in O(1), so a cancelled hop_run_in_executor or
 *     hop_run_blocking neither waits in the queue nor takes a thread.
 *
 * Use hop_run_blocking() (hop/offload.h) to offload to the process-wide
 * default pool below, or hop_run_in_executor(hop_blocking_executor(&b), ...)
 * for a pool of your own. Jobs are plain hop_job_t records; tasks may also
 * be spawned onto a blocking pool (each then holds a thread while it runs,
 * not while it is suspended).
 *
 * The pool is caller-allocated like hop_pool_t: after hop_blocking_close()
 * the struct stays valid, and every submit to it returns HOP_ECLOSED. */
#ifndef HOP_BLOCKING_H
#define HOP_BLOCKING_H

#include "hop/common.h"
#include "hop/executor.h"
#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_blocking_s hop_blocking_t;
typedef struct hop_blocking_options_s hop_blocking_options_t;
typedef struct hop_blocking_stats_s hop_blocking_stats_t;

/* Bounds and defaults. */
#define HOP_BLOCKING_MAX_THREADS_DEFAULT 512u /* Tokio's max_blocking_threads */
#define HOP_BLOCKING_MAX_THREADS_LIMIT 65536u
#define HOP_BLOCKING_KEEP_ALIVE_MS_DEFAULT 10000u /* Tokio's thread_keep_alive */
/* Buckets of hop_blocking_stats_t.queue_wait_histogram. */
#define HOP_BLOCKING_WAIT_BUCKETS 32

/* A zeroed struct (or NULL) means the defaults. */
struct hop_blocking_options_s {
    unsigned int max_threads;   /* 0: HOP_BLOCKING_MAX_THREADS_DEFAULT (512) */
    unsigned int min_threads;   /* threads kept even when idle (started at init); 0: none */
    unsigned int keep_alive_ms; /* idle time after which a thread above min_threads
                                   retires; 0: HOP_BLOCKING_KEEP_ALIVE_MS_DEFAULT (10 s) */
    size_t stack_size;          /* per thread, in bytes; 0: the system's default */
    const char *name;           /* thread name prefix, at most 10 bytes (longer: HOP_EINVAL);
                                   NULL: "hop-block" */
    hop_thread_hook_fn on_thread_start; /* NULL: none; see hop_thread_hook_fn (a thread that
                                           retires after keep_alive_ms calls on_thread_stop) */
    hop_thread_hook_fn on_thread_stop;  /* NULL: none */
    void *hook_arg;                     /* passed to both */
};

struct hop_blocking_s {
    /* public: the pool as an executor (same as hop_blocking_executor()) */
    hop_executor_t executor;
    /* private */
    void *internal;
    unsigned int state;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

struct hop_blocking_stats_s {
    unsigned int threads;       /* threads now (running a job, or idle) */
    unsigned int threads_idle;  /* of those, waiting for a job */
    unsigned int threads_peak;  /* most threads at once since init */
    unsigned int queued;        /* jobs waiting for a thread now */
    uint64_t jobs_run;          /* jobs (and task resumptions) run */
    uint64_t jobs_withdrawn;    /* jobs taken back out of the queue */
    uint64_t threads_started;   /* threads created since init */
    uint64_t threads_retired;   /* threads that left after keep_alive_ms idle */
    uint64_t thread_failures;   /* thread creations the system refused */
    uint64_t queue_wait_ns_sum; /* time in queue of the jobs run, summed... */
    uint64_t queue_wait_ns_max; /* ...and the longest */
    /* queue_wait_histogram[i]: jobs run that waited less than 2^i us
     * (and at least 2^(i-1) us, for i > 0); the last bucket takes the rest. */
    uint64_t queue_wait_histogram[HOP_BLOCKING_WAIT_BUCKETS];
};

/* hop_blocking_init: prepares the pool and starts min_threads threads.
 * options may be NULL (defaults). Any thread; pool must not be in use (a
 * closed pool may be initialised again). The threads take no asynchronous
 * signals (blocked there, faults excepted).
 * Returns 0; HOP_EINVAL (NULL pool, max_threads above
 * HOP_BLOCKING_MAX_THREADS_LIMIT, min_threads above the maximum, a name
 * longer than 10 bytes); HOP_ENOMEM;
 * HOP_EAGAIN (the system refused one of the min_threads threads: nothing is
 * left running). */
HOP_EXTERN int hop_blocking_init(hop_blocking_t *pool, const hop_blocking_options_t *options);

/* hop_blocking_executor: the pool as an executor, for hop_run_in_executor,
 * hop_task_spawn, hop_dispatch_to_executor. NULL for NULL. */
HOP_EXTERN hop_executor_t *hop_blocking_executor(hop_blocking_t *pool);

/* hop_blocking_submit: queues job; a thread runs it. Any thread; never
 * suspends; never allocates (a new thread's record aside); takes the pool's
 * lock for a few instructions, and when every thread is busy and there are
 * fewer than max_threads, creates a thread (a system call of some tens of
 * microseconds, made after the lock is released).
 * If the system refuses the thread (EAGAIN: memory, RLIMIT_NPROC, a cgroup's
 * pids.max), the job waits for the threads the pool has. If it has none at
 * all, the submitting thread retries the creation 4 times, 1, 2, 4 and 8 ms
 * apart, and if it is still refused runs the queued jobs itself before
 * returning 0 (as Java's CallerRunsPolicy): a degraded mode in which submit
 * blocks, chosen so that an accepted job is never stranded in a queue that
 * no thread serves.
 * Returns 0 (job will run exactly once, unless withdrawn), HOP_EINVAL (NULL
 * pool, job or job->run, or pool never initialised), HOP_ECLOSED (closing or
 * closed: job will not run). */
HOP_EXTERN int hop_blocking_submit(hop_blocking_t *pool, hop_job_t *job);

/* hop_blocking_withdraw: takes job back out of the queue if no thread has
 * started it yet, in O(1). Any thread; never suspends; takes the pool's lock
 * briefly. The caller keeps job alive during the call. Returns 0 (job will
 * never run and is the caller's again), HOP_EALREADY (job is not queued
 * here: started, run, or never submitted; nothing is queued in a closed
 * pool), HOP_EINVAL (NULL argument, or a pool never initialised). A closing
 * pool still withdraws. */
HOP_EXTERN int hop_blocking_withdraw(hop_blocking_t *pool, hop_job_t *job);

/* hop_blocking_close: shuts the pool down in this order: refuses new work
 * (HOP_ECLOSED; spawns and dispatches onto it too) while still accepting
 * continuations of the tasks it owns; runs every job already queued (none is
 * dropped; jobs may still be withdrawn meanwhile) and waits until every task
 * that belongs to the pool has finished; joins the threads; frees its
 * memory. Blocks the calling thread for as long as the running and queued
 * jobs take (and polls, at most every millisecond, while tasks of the pool
 * are suspended); must not be called from one of the pool's own threads.
 * Returns 0; HOP_EINVAL (NULL or never initialised); HOP_EDEADLK (called
 * from the pool itself: nothing changed); HOP_EALREADY (already closed, or
 * being closed by another thread). */
HOP_EXTERN int hop_blocking_close(hop_blocking_t *pool);

/* hop_blocking_stats: a snapshot of the pool's counters, taken under its
 * lock. Any thread, also while another thread closes the pool. Returns 0;
 * HOP_EINVAL (NULL argument, a pool never initialised); HOP_ECLOSED (the
 * counters went with the pool: *stats is zeroed). */
HOP_EXTERN int hop_blocking_stats(hop_blocking_t *pool, hop_blocking_stats_t *stats);

/* ---- The process-wide default pool --------------------------------------- */

/* hop_blocking_default: the process-wide blocking pool that hop_run_blocking
 * uses, created on the first call (thread-safe, once) with the options given
 * to hop_blocking_default_configure, else the defaults (up to 512 threads,
 * none kept, 10 s keep-alive, threads named "hop-block"). Any thread.
 * Returns NULL only if creating it failed (out of memory; the next call
 * tries again). After hop_blocking_default_shutdown it returns the closed
 * pool, whose submits return HOP_ECLOSED: the default is not re-created.
 *
 * At process exit (atexit), the default pool stops taking work and its idle
 * threads leave; jobs still queued or running are not waited for (a job
 * blocked for ever would hang the exit), so the threads running them end
 * with the process, and the pool's memory stays reachable. For an orderly
 * end that runs every queued job, call hop_blocking_default_shutdown.
 * In a child process after fork() the default pool is closed (its threads
 * did not come along): submits there return HOP_ECLOSED. */
HOP_EXTERN hop_blocking_t *hop_blocking_default(void);

/* hop_blocking_default_configure: options for the default pool, to call
 * before its first use. Any thread. Returns 0; HOP_EINVAL (as for
 * hop_blocking_init; options NULL); HOP_EALREADY (the default pool exists
 * already, or was shut down: nothing changed). The name string is copied. */
HOP_EXTERN int hop_blocking_default_configure(const hop_blocking_options_t *options);

/* hop_blocking_default_shutdown: closes the default pool as
 * hop_blocking_close does (runs every queued job, joins the threads); later
 * hop_run_blocking calls return HOP_ECLOSED. Any thread but the default
 * pool's own. Returns 0; HOP_EALREADY (already shut down; if the pool was
 * never created, it is now marked shut down and 0 is returned);
 * HOP_EDEADLK (called from one of its threads). */
HOP_EXTERN int hop_blocking_default_shutdown(void);

/* ---- Offloading to the default pool -------------------------------------- */

/* hop_run_blocking: runs fn(arg) on the default blocking pool and suspends
 * the current task until it returns; the task then resumes on its own
 * executor with fn's return value in *result (if result is not NULL). The
 * one-liner for a blocking call in a task, like asyncio's to_thread: it is
 * hop_run_in_executor(hop_blocking_executor(hop_blocking_default()), ...),
 * and follows its rules (hop/offload.h), the ownership contract included.
 * Task only; suspends. Returns 0; HOP_EINVAL (fn NULL); HOP_ENOTTASK;
 * HOP_ENOMEM (the default pool could not be created); HOP_ECLOSED (after
 * hop_blocking_default_shutdown or at exit); HOP_ECANCELED / HOP_ETIMEDOUT
 * (fn never runs); HOP_EINPROGRESS (the task stopped waiting while fn ran:
 * fn still owns arg; a result is dropped, use _ex to free it). */
HOP_EXTERN int hop_run_blocking(void *(*fn)(void *arg), void *arg, void **result);

/* hop_run_blocking_ex: hop_run_blocking with a result_destructor, as
 * hop_run_in_executor_ex. */
HOP_EXTERN int hop_run_blocking_ex(void *(*fn)(void *arg), void *arg, void **result,
                                   hop_result_destructor_fn result_destructor);

/* ---- Blocking regions ----------------------------------------------------- */

/* A blocking region: code of a task that blocks its thread (a driver call, a
 * lock held by a thread, a long computation) between hop_blocking_begin and
 * hop_blocking_end, like Go's entersyscall/exitsyscall or Tokio's
 * block_in_place. The region records where the task came from; zero it
 * (= {0}) before hop_blocking_begin. */
typedef struct {
    hop_executor_t *home; /* the task's executor before the region; NULL: not in one */
} hop_blocking_region_t;

/* hop_blocking_begin: starts a blocking region: the current task moves to a
 * thread of the default blocking pool (hop_blocking_default), so the thread
 * it leaves (a pool worker, a loop) goes on with the work queued behind it
 * instead of stalling while the task blocks; the blocking pool grows a
 * thread for it when all of its threads are busy. Where a whole function
 * blocks, hop_run_blocking is the simpler tool; a region suits blocking code
 * interleaved with the task's own state. A region is begun once and ended
 * once; one begun inside another (with a record of its own) leaves the task
 * where it is, and its end too. Task only; suspends (the task continues on
 * another thread: thread-locals read before it are not this thread's).
 * Returns 0 (*region records the task's executor); HOP_EINVAL (region NULL,
 * or *region begun already and not ended); HOP_ENOTTASK; HOP_ENOMEM (the default pool could
 * not be created); HOP_ECLOSED (the default pool is shut down). With an
 * error the task stays where it was and *region is not in a region. */
HOP_EXTERN int hop_blocking_begin(hop_blocking_region_t *region);

/* hop_blocking_end: ends the region hop_blocking_begin started: the task
 * goes back to the executor it came from, and continues there. Task only
 * (the task that began the region); suspends. Returns 0; HOP_EINVAL (region
 * NULL or not in a region); HOP_ENOTTASK; HOP_ECLOSED (that executor takes
 * no new work: the task stays on the blocking pool's thread). Either way
 * the region is over. */
HOP_EXTERN int hop_blocking_end(hop_blocking_region_t *region);

#ifdef __cplusplus
}
#endif

#endif /* HOP_BLOCKING_H */
