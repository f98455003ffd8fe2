/* hop/loop.h: libuv event loops as executors, and hop_run / hop_run_ex.
 *
 * A hop loop owns a uv_loop_t and runs it on one thread: a thread it starts
 * (hop_loop_start) or the thread that calls hop_loop_run. Everything
 * submitted to the loop (task resumptions, plain jobs, completions of
 * hop_run_in_executor) runs on that thread. Work from other threads arrives
 * through a lock-free multi-producer inbox that never blocks a producer and
 * never fills; a uv_async_t wakes the loop, and wake-ups are coalesced: a
 * producer signals only when the loop has announced that it drained its
 * inbox, so a burst of completions costs one wake-up, not one per job. The
 * loop drains its inbox in bounded batches so that I/O callbacks are not
 * starved.
 *
 * libuv is not thread-safe: only the loop's own thread may call uv_* on its
 * uv_loop_t and handles. Existing libuv code can adopt hop gradually: get the
 * uv_loop_t with hop_loop_uv() and create handles from a job or task running
 * on the loop (hop_loop_post, hop_dispatch_to_loop).
 *
 * The struct is caller-allocated like libuv's handles: after hop_loop_close()
 * it stays valid and every submit to it returns HOP_ECLOSED. A loop that was
 * never initialised (zeroed, or its init failed) is refused with HOP_EINVAL
 * by every call but hop_loop_init. The README's "Errors" section has the
 * rules every hop type follows. */
#ifndef HOP_LOOP_H
#define HOP_LOOP_H

#include "hop/common.h"
#include "hop/executor.h"
#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* libuv's loop type (uv_loop_t), declared rather than included so that
 * <hop/hop.h> does not need <uv.h>'s feature macros; include <uv.h> to use it. */
struct uv_loop_s;

typedef struct hop_loop_s hop_loop_t;
typedef struct hop_loop_options_s hop_loop_options_t;
typedef struct hop_loop_stats_s hop_loop_stats_t;
typedef struct hop_run_options_s hop_run_options_t;

struct hop_loop_options_s {
    const char *name;       /* thread name for hop_loop_start, at most 15 bytes; NULL: "hop-loop" */
    unsigned int batch;     /* inbox jobs run per wake-up before I/O gets a turn; 0: 256 */
    int spin_us;            /* how long the loop thread polls its inbox before blocking in
                               libuv while it waits for offloaded work (it owns tasks and
                               has nothing to run) or after running posted jobs (an answer
                               may follow), in microseconds; 0: the default, 50
                               (about what waking a thread blocked in epoll costs where
                               idle CPUs halt, as on VMs: about 40 us); HOP_SPIN_NEVER:
                               block at once */
    hop_thread_hook_fn on_thread_start; /* on the thread hop_loop_start creates (not on a
                                           thread that runs the loop itself, hop_loop_run or
                                           hop_run's caller); NULL: none; see hop_thread_hook_fn */
    hop_thread_hook_fn on_thread_stop;  /* NULL: none */
    void *hook_arg;                     /* passed to both */
    int busy_poll_us;       /* how long the loop keeps polling its sockets without blocking
                               after a turn that ran tasks, while I/O is under way, in
                               microseconds; 0: never (the default). Each poll is an
                               epoll_wait that returns at once: the thread keeps its CPU
                               for up to this long after each burst of work, and a peer
                               that answers within it does not pay the wake-up of a
                               thread blocked in epoll (tens of microseconds where idle
                               CPUs halt, as on VMs). A loop that finds it lost its
                               CPU while polling rests from it for 20 ms; one whose
                               windows end without a catch more than once in five
                               opens one only every 64th turn until one catches
                               again. Such a loop also polls out the last millisecond
                               before each of its timers, which then fire within
                               microseconds of their time rather than up to a
                               millisecond late (at the price of a busy thread while a
                               timer is always due within one).
                               Negative: HOP_EINVAL */
    int busy_poll_nap_us;   /* while busy polling, how long the loop sleeps after a poll
                               that found nothing before it polls again, in microseconds;
                               0: it polls again at once (the default). Asleep, the
                               thread waits on no socket, so a peer that answers
                               meanwhile still wakes nobody: its data waits for the
                               next poll, which takes it as a batch. The loop gives back
                               most of the CPU that busy polling costs, for up to the
                               nap (plus the thread's timer slack, 50 us by default on
                               Linux) of added delay for I/O and for jobs posted from
                               other threads. No nap starts that could end within a
                               millisecond of a timer's deadline: timers are not made
                               late. No effect without busy_poll_us.
                               Negative: HOP_EINVAL */
};

struct hop_loop_s {
    /* public: the loop as an executor (same as hop_loop_executor()) */
    hop_executor_t executor;
    /* private */
    void *internal;
    unsigned int state;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

struct hop_loop_stats_s {
    uint64_t jobs_run;      /* inbox jobs run on the loop thread */
    uint64_t wakeups_sent;  /* uv_async_send calls made by producers */
    uint64_t batches;       /* times the loop drained its inbox */
    uint64_t busy_polls;    /* polls made without blocking because of busy_poll_us */
    uint64_t busy_poll_naps; /* naps taken between them (busy_poll_nap_us) */
    uint64_t lags;           /* drains that first waited for a busy executor's answers to
                                gather, rather than taking them one at a time */
};

/* hop_loop_init: creates the loop (its uv_loop_t, inbox and async handle);
 * nothing runs until hop_loop_start or hop_loop_run, but jobs may be posted
 * and tasks spawned onto it already. options may be NULL; a zeroed options
 * struct gives the same defaults. Not thread-safe against other use of the
 * same loop. Returns 0; HOP_EINVAL (NULL loop, a name longer than 15 bytes,
 * a negative spin_us other than HOP_SPIN_NEVER, a negative busy_poll_us or
 * busy_poll_nap_us); HOP_ENOMEM; HOP_EAGAIN
 * (libuv could not create the loop). On failure the loop is left as if never
 * initialised: every call on it but init returns HOP_EINVAL. */
HOP_EXTERN int hop_loop_init(hop_loop_t *loop, const hop_loop_options_t *options);

/* hop_loop_start: runs the loop on a new thread until hop_loop_close.
 * Any thread. Returns 0; HOP_EINVAL; HOP_EBUSY (already running);
 * HOP_ECLOSED; HOP_EAGAIN (no thread). */
HOP_EXTERN int hop_loop_start(hop_loop_t *loop);

/* hop_loop_run: runs the loop on the calling thread, which becomes the
 * loop's thread, until hop_loop_stop is called (from any thread, or from a
 * job on the loop). Blocks. Successive runs may use different threads.
 * Returns 0; HOP_EINVAL; HOP_EBUSY (running elsewhere already, or this
 * thread is running a loop: loops do not nest); HOP_ECLOSED. */
HOP_EXTERN int hop_loop_run(hop_loop_t *loop);

/* hop_loop_stop: makes hop_loop_run return after the job in progress; queued
 * work stays queued for the next run (tasks on the loop stay suspended).
 * A stop requested while no hop_loop_run is running makes the next one
 * return at once. Any thread; never blocks. Returns 0, HOP_EINVAL (NULL or
 * never initialised) or HOP_ECLOSED (the loop is closed).
 * A started loop (hop_loop_start) ignores it: hop_loop_close stops it, and
 * so does hop_run's loop, which ends when its tasks have. */
HOP_EXTERN int hop_loop_stop(hop_loop_t *loop);

/* hop_loop_close: shuts the loop down: refuses new work (HOP_ECLOSED) while
 * still accepting continuations of its tasks; runs everything already
 * accepted and waits until every task that belongs to the loop has finished;
 * stops the loop and joins its thread (if started); closes every handle left
 * on the uv_loop_t (uv_close, handles of users included) and closes it.
 * Blocks, for as long as the loop's tasks take: a task suspended on
 * something that never completes keeps close waiting. hop's I/O handles
 * (streams, listeners, UDP sockets...) still open on the loop are closed as
 * soon as close begins, so a task waiting on one wakes with HOP_ECLOSED
 * rather than holding close forever (hop/stream.h, "Loop close"). Call it from a thread
 * other than the loop's, or, for a loop driven by hop_loop_run, after that
 * returned (it then runs the loop on the calling thread to drain it).
 * Handles left open are closed without a close callback, on the calling
 * thread: close handles that need one (to free them) yourself first. A post
 * racing with close is either run or refused with HOP_ECLOSED, never lost.
 * Returns 0; HOP_EINVAL; HOP_EDEADLK (called on the loop's own thread while
 * it runs, from a job or task on it); HOP_EBUSY (hop_loop_run is running on
 * another thread); HOP_EALREADY (closed, or being closed by another call). */
HOP_EXTERN int hop_loop_close(hop_loop_t *loop);

/* hop_loop_executor: the loop as an executor. NULL for NULL. */
HOP_EXTERN hop_executor_t *hop_loop_executor(hop_loop_t *loop);

/* hop_loop_uv: the loop's uv_loop_t, for the loop's own thread (libuv is
 * not thread-safe). NULL for NULL, a closed loop or one never initialised. */
HOP_EXTERN struct uv_loop_s *hop_loop_uv(hop_loop_t *loop);

/* hop_loop_post: runs job on the loop's thread, like asyncio's
 * call_soon_threadsafe. Jobs from one thread run in the order posted. Any
 * thread; never blocks, never allocates: a few atomic operations, plus one
 * uv_async_send (a write to an eventfd) when the loop is asleep. Returns 0,
 * HOP_EINVAL (NULL loop or job, job without run function), HOP_ECLOSED.
 * Same as hop_executor_submit on the loop. */
HOP_EXTERN int hop_loop_post(hop_loop_t *loop, hop_job_t *job);

/* hop_loop_current: the loop running on the calling thread (in a job or a
 * task on it, or in a uv callback), or NULL. An opaque call: inside a task,
 * call it again after every await rather than keeping its value (the task
 * may have moved to another thread, see hop/task.h). */
HOP_EXTERN hop_loop_t *hop_loop_current(void);

/* hop_loop_stats: counters since hop_loop_init, each read atomically (not
 * one snapshot). Any thread, also while another thread closes the loop.
 * Returns 0; HOP_EINVAL (NULL argument, a loop never initialised);
 * HOP_ECLOSED (the counters went with the loop: *stats is zeroed). */
HOP_EXTERN int hop_loop_stats(const hop_loop_t *loop, hop_loop_stats_t *stats);

/* hop_dispatch_to_loop: the rest of the current task runs on loop's thread
 * (hop_dispatch_to_executor on the loop). Task only; suspends. Returns 0,
 * HOP_EINVAL, HOP_ENOTTASK, HOP_ECANCELED, HOP_ECLOSED (the task stays
 * where it was). */
HOP_EXTERN int hop_dispatch_to_loop(hop_loop_t *loop);

/* hop_run: like asyncio.run: creates a loop on the calling thread, runs
 * main(arg) as a task on it, and returns when main has finished and every
 * other task on that loop has too (tasks that dispatched elsewhere are not
 * waited for); then closes the loop. *result (if not NULL) receives main's
 * result (NULL on error). Inside, hop_loop_current() is that loop; it is gone
 * once hop_run returns, so other threads must not post to it after. Blocks.
 * Returns main's status: 0 or HOP_ECANCELED; HOP_EINVAL (NULL main);
 * HOP_EBUSY (called on a thread that is already running a loop); HOP_ENOMEM;
 * HOP_EAGAIN (libuv could not create the loop). */
HOP_EXTERN int hop_run(hop_task_fn main, void *arg, void **result);

/* hop_run_ex's options. Zeroed (or a NULL options pointer): the defaults. */
struct hop_run_options_s {
    const hop_loop_options_t *loop; /* the loop's (name, batch, spin); NULL: hop_loop_init's defaults */
    const hop_task_options_t *main; /* main's task (name, stack); NULL: defaults, named "main" */
};

/* hop_run_ex: hop_run with options for its loop and for main's task, read
 * during the call only. Same threads, blocking and results as hop_run, plus
 * the errors of hop_loop_init and hop_task_spawn for options they reject
 * (HOP_EINVAL for a loop name longer than 15 bytes, ...), *result NULL then.
 * main's result_destructor, if set, owns main's result: it destroys it
 * before hop_run_ex returns, and *result is left NULL. */
HOP_EXTERN int hop_run_ex(hop_task_fn main, void *arg, const hop_run_options_t *options, void **result);

#ifdef __cplusplus
}
#endif

#endif /* HOP_LOOP_H */
