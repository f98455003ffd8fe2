/* hop/executor.h: the executor interface.
 *
 * An executor runs jobs. A job is an intrusive record (hop_job_t) that the
 * submitter owns and keeps alive until the job runs, so submitting never
 * allocates. Tasks are resumed by submitting the job embedded in the task to
 * the task's executor; plain work is a job like any other.
 *
 * hop ships the inline and manual executors (hop/inline_executor.h,
 * hop/manual_executor.h); the thread pool and libuv loops fill the same table.
 * Users can write their own executor: embed hop_executor_t first in a struct,
 * point .ops at a static hop_executor_ops_t, and run each accepted job with
 * hop_executor_run_job(). */
#ifndef HOP_EXECUTOR_H
#define HOP_EXECUTOR_H

#include <limits.h>

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* For the spin_us option of hop's executors (hop_pool_options_t,
 * hop_loop_options_t): an idle thread never spins, it blocks at once (best
 * when other threads keep every CPU busy). 0 there means the default, as in
 * every options struct; -1 is not "never" (hop's -1 elsewhere means
 * "forever"), it is refused with HOP_EINVAL. */
#define HOP_SPIN_NEVER INT_MIN

typedef void (*hop_job_fn)(hop_job_t *job);

/* A job belongs to its submitter. Once an executor has called job->run(job)
 * it must not touch the job again: run may end the job's lifetime (a job on
 * an awaiting task's stack is gone as soon as that task resumes). */
struct hop_job_s {
    /* public */
    hop_job_fn run;
    /* private: the link executors use for their queues; free while the job
     * is not submitted. */
    hop_job_t *next;
    void *executor_private;
    uint64_t executor_stamp; /* a second word for the executor's bookkeeping
                                (the blocking pool: when the job was queued) */
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* Flags for the submit operation. */
enum {
    /* The job continues work the executor already accepted (a task of this
     * executor resuming after an await). An executor that is closing must
     * still run it: refusing would lose a continuation. */
    HOP_SUBMIT_CONTINUATION = 1u << 0
};

struct hop_executor_ops_s {
    /* For logs and debuggers: "inline", "manual", "pool", "loop", ... */
    const char *name;
    /* submit: queue or run job. Called from any thread, concurrently. Must not
     * allocate on the common path and must not block for long. Returns 0 once
     * the job is accepted (it will run exactly once), or HOP_ECLOSED if the
     * executor no longer takes new work (never for HOP_SUBMIT_CONTINUATION).
     * flags may carry bits for hop's own executors besides HOP_SUBMIT_*:
     * ignore the ones you do not know. */
    int (*submit)(hop_executor_t *executor, hop_job_t *job, unsigned int flags);
    /* task_enter, task_leave (optional): a task now belongs to executor
     * (spawned onto it, or dispatched to it; called on the submitting thread
     * just before the submit), or no longer does (it finished there, or was
     * dispatched away; called after the last use of executor for that task).
     * Together they let an executor know how many tasks it owns, suspended
     * ones included, so that shutting down can wait for them instead of
     * stranding a continuation. Called from any thread, concurrently; keep
     * them cheap (per-thread counters), they sit on every spawn and hop. */
    void (*task_enter)(hop_executor_t *executor);
    void (*task_leave)(hop_executor_t *executor);
    /* withdraw (optional): takes job back out of the executor's queue if no
     * thread has taken it to run yet. Returns 0 when it did (the executor
     * will never touch job again: it is the caller's), or HOP_EALREADY when
     * job is not queued there (taken to run, already run, or never
     * submitted). Called from any thread, concurrently with submit; the
     * caller keeps job alive during the call. Executors without it keep a
     * cancelled job queued until they reach it (hop_run_in_executor then
     * drops it without running fn). */
    int (*withdraw)(hop_executor_t *executor, hop_job_t *job);
};

struct hop_executor_s {
    /* public. hop reads ops atomically, so an executor may swap the table
     * while others submit (hop's pool and loop point it at a "closed" table
     * whose submit returns HOP_ECLOSED once they shut down); write it with
     * an atomic store (__atomic_store_n) if you do. */
    const hop_executor_ops_t *ops;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_job_init: prepares job to call run(job) when an executor runs it.
 * Any thread. Returns 0, or HOP_EINVAL for a NULL job or run. */
HOP_EXTERN int hop_job_init(hop_job_t *job, hop_job_fn run);

/* hop_executor_submit: hands job to executor as new work. Any thread; does not
 * suspend; blocks only as long as the executor's submit does (never, for the
 * executors hop ships). The caller keeps job alive until it runs.
 * Returns 0, HOP_EINVAL (NULL argument, job without run function, executor
 * without ops), or HOP_ECLOSED (the executor no longer accepts work; the job
 * will not run). */
HOP_EXTERN int hop_executor_submit(hop_executor_t *executor, hop_job_t *job);

/* hop_executor_withdraw: takes job, submitted to executor and not yet
 * started, back out of its queue (see the withdraw op above). Any thread;
 * never suspends; blocks only as long as the executor's withdraw does (a
 * short lock, for hop's blocking pool). Returns 0 (withdrawn: job will not
 * run and is the caller's again), HOP_EALREADY (job is not queued there: it
 * is running or has run, or was never submitted to executor), HOP_ENOTSUP
 * (executor cannot withdraw jobs: it will run job, or drop it if closing
 * refused it), HOP_EINVAL (NULL argument, executor without ops). */
HOP_EXTERN int hop_executor_withdraw(hop_executor_t *executor, hop_job_t *job);

/* hop_executor_current: inside a task, the executor the task belongs to (it
 * changes when the task dispatches elsewhere); outside a task, the executor
 * whose job this thread is running, or NULL. Any thread. Read it again after
 * every await: never keep it across a suspension (see hop/task.h). */
HOP_EXTERN hop_executor_t *hop_executor_current(void);

/* hop_executor_name: ops->name, or "?" when executor or its name is NULL. */
HOP_EXTERN const char *hop_executor_name(const hop_executor_t *executor);

/* hop_executor_run_job: for executor implementations. Runs job->run(job) on
 * the calling thread with executor as the thread's current executor for the
 * duration. Nested calls are allowed (an inline executor inside another).
 * A NULL executor, a NULL job or a job without run: nothing runs. */
HOP_EXTERN void hop_executor_run_job(hop_executor_t *executor, hop_job_t *job);

#ifdef __cplusplus
}
#endif

#endif /* HOP_EXECUTOR_H */
