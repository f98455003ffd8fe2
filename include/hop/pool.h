/* hop/pool.h: the work-stealing thread pool.
 *
 * N worker threads (named "hop-pool-<i>" unless options say otherwise), each
 * with its own lock-free work-stealing deque (Chase-Lev) and a one-job LIFO
 * slot that other workers may steal; jobs submitted from outside the pool
 * enter through a shared lock-free injection queue, from which workers take
 * them one at a time, in submission order. Idle workers steal from random
 * victims (the oldest job, and up to half of the rest of that deque, at
 * most 8 more, into their own), spin briefly, then park without burning CPU; a submission wakes
 * at most one parked worker, and only when no worker is already searching.
 *
 * Jobs are plain (hop_job_t: a function and the caller's record, no stack)
 * or tasks (hop_task_spawn onto hop_pool_executor(pool)); both are
 * first-class. The pool is caller-allocated like libuv's handles: after
 * hop_pool_close() the struct stays valid, and every submit to it returns
 * HOP_ECLOSED, so a stale pointer to a closed pool fails cleanly. A pool
 * that was never initialised (zeroed, or its init failed) is refused with
 * HOP_EINVAL by every call but hop_pool_init. The README's "Errors" section
 * has the rules every hop type follows.
 *
 * Blocking calls stall the worker that makes them and every job queued
 * behind it: give blocking work its own pool (hop_run_in_executor). */
#ifndef HOP_POOL_H
#define HOP_POOL_H

#include "hop/common.h"
#include "hop/executor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_pool_s hop_pool_t;
typedef struct hop_pool_options_s hop_pool_options_t;
typedef struct hop_pool_stats_s hop_pool_stats_t;

struct hop_pool_options_s {
    unsigned int threads;   /* 0: one per CPU this process may run on (its affinity mask) */
    const char *name;       /* thread name prefix, at most 10 bytes (threads are named
                               "<prefix>-<index>", and the system allows 15 bytes);
                               NULL: "hop-pool" */
    int spin_us;            /* how long an idle worker searches before parking, in
                               microseconds; 0: the default, 50 (about what waking a
                               parked worker costs where idle CPUs halt, as on VMs: up
                               to 45 us); HOP_SPIN_NEVER: park at once (best when other
                               threads keep every CPU busy) */
    hop_thread_hook_fn on_thread_start; /* NULL: none; see hop_thread_hook_fn */
    hop_thread_hook_fn on_thread_stop;  /* NULL: none */
    void *hook_arg;                     /* passed to both */
};

struct hop_pool_s {
    /* public: the pool as an executor (same as hop_pool_executor()) */
    hop_executor_t executor;
    /* private */
    void *internal;
    unsigned int state;
    unsigned int threads;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

struct hop_pool_stats_s {
    uint64_t jobs_run;      /* jobs and task resumptions run; a job a worker took back from
                               its own queue (hop_executor_withdraw, which hop_task_join
                               uses to run a child nobody stole) counts when taken back */
    uint64_t steals;        /* jobs taken from another worker */
    uint64_t steal_rests;   /* rests from stealing begun because the jobs a worker stole ran
                               shorter than moving them to it cost; a worker rests only while
                               it may spin (not with HOP_SPIN_NEVER, where none begin, nor on
                               a machine without a spare CPU) */
    uint64_t parks;         /* times a worker went to sleep */
    uint64_t wakeups;       /* times a worker woke up again (woken by a submission, or by
                               close); parks - wakeups: workers asleep right now */
    uint64_t injected;      /* jobs taken from the injection queue (outside submissions,
                               yielding tasks, overflowing deques), counted when a
                               worker takes them: jobs still queued are not yet */
    uint64_t wakeups_held;  /* wake-ups of a parked worker left out because a worker up keeps
                               taking a loop's tiny jobs and no CPU is spare ("Waking a
                               second worker" at hop_pool_submit) */
};

/* hop_pool_init: starts the pool's threads. options may be NULL; a zeroed
 * options struct gives the same defaults.
 * Any thread; pool must not be in use (a closed pool may be initialised
 * again). The threads take no asynchronous signals (they are blocked there,
 * faults excepted), so those reach the application's own threads.
 * Returns 0; HOP_EINVAL (NULL pool, threads above 1024, a negative spin_us
 * other than HOP_SPIN_NEVER, a name longer than 10 bytes);
 * HOP_ENOMEM; HOP_EAGAIN (the system refused a thread: nothing is left
 * running). On failure the pool is left as if never initialised. */
HOP_EXTERN int hop_pool_init(hop_pool_t *pool, const hop_pool_options_t *options);

/* hop_pool_executor: the pool as an executor, for hop_task_spawn,
 * hop_dispatch_to_executor, hop_run_in_executor. NULL for NULL. */
HOP_EXTERN hop_executor_t *hop_pool_executor(hop_pool_t *pool);

/* hop_pool_submit: runs job on one of the pool's threads. Any thread; never
 * blocks, never allocates. From a worker of this pool the job goes to that
 * worker's own queue (LIFO slot first), otherwise through the injection
 * queue, in a few atomic instructions that never wait for the workers
 * taking jobs or for other submitters; only when some worker is parked and
 * none is looking for work does it take a short lock to pick one and make
 * one wake-up system call. Order: jobs submitted from outside the pool
 * start in the order of their submissions (for one submitting thread: a job
 * submitted earlier starts no later than one submitted after it, except that
 * with N workers a job may start while up to N - 1 earlier ones, already
 * taken by other workers, have not started yet); a worker's own submissions
 * run newest first. (A loop hands the pool jobs of its suspending tasks,
 * hop_run_in_executor's and dispatches', in chains of up to 32 at the end of
 * each batch of inbox jobs it runs: they start then, in order.)
 * Waking a second worker: for the jobs of tasks suspending on a loop
 * (hop_run_in_executor, dispatches), while a worker keeps taking outside
 * jobs that each run in under 2 us, and no CPU is spare for another worker
 * (the workers up plus the submitting loop are as many as the CPUs the
 * process may use), the wake-up is left out and the job is left to that
 * worker: on such a machine a second worker would only share a CPU with
 * the loop. Plain submissions always wake a parked worker. A worker
 * parked meanwhile checks after a millisecond, then at periods that double
 * up to 8 ms while that worker keeps a steady pace, and takes queued jobs
 * itself once that worker stops taking them (a long job, a blocking call),
 * the jobs keep coming faster than it takes them and take 1 us or more
 * each (so that the loop leaves a CPU spare), or they stop being tiny; so
 * a job waits at most about 9 ms longer than it would have, and about 2
 * ms when the jobs before it were not a steady stream.
 * hop_pool_stats counts these (wakeups_held).
 * Returns 0 (the job will run exactly once),
 * HOP_EINVAL (NULL pool, job or job->run), HOP_ECLOSED (the pool is closing
 * or closed: it will not run). */
HOP_EXTERN int hop_pool_submit(hop_pool_t *pool, hop_job_t *job);

/* hop_executor_withdraw() on the pool (hop/executor.h) takes a job back
 * only from where the calling worker itself can reach it without a search:
 * its own LIFO slot, or the bottom of its own deque (a job it submitted
 * last). Anything else (a job further down a deque, in another worker's
 * queues or the injection queue, a caller that is not a worker of this
 * pool) gets HOP_EALREADY and stays queued: it will run. hop_task_join
 * uses it to run a child nobody stole on the joining worker. */

/* hop_pool_close: shuts the pool down in this order: refuses new work
 * (HOP_ECLOSED; spawns and dispatches onto the pool too) while still
 * accepting continuations of the tasks it owns; runs every job already
 * accepted and waits until every task that belongs to the pool has finished
 * (tasks suspended on something that never completes keep it waiting:
 * finish or move them first); joins the threads; frees its memory. Blocks
 * the calling thread (polling, at most every millisecond, while tasks are
 * suspended); must not be called from one of the pool's own threads or from
 * a task on the pool.
 * Returns 0; HOP_EINVAL (NULL or never initialised); HOP_EDEADLK (called
 * from the pool itself: nothing changed); HOP_EALREADY (already closed, or
 * being closed by another thread). */
HOP_EXTERN int hop_pool_close(hop_pool_t *pool);

/* hop_pool_size: the number of worker threads; 0 once closed, and for NULL
 * or a pool never initialised. Any thread. */
HOP_EXTERN unsigned int hop_pool_size(const hop_pool_t *pool);

/* hop_pool_stats: counters since hop_pool_init, summed over the workers
 * (not one snapshot). Any thread, also while another thread closes the pool.
 * Returns 0; HOP_EINVAL (NULL argument, a pool never initialised);
 * HOP_ECLOSED (the counters went with the pool: *stats is zeroed). */
HOP_EXTERN int hop_pool_stats(const hop_pool_t *pool, hop_pool_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif /* HOP_POOL_H */
