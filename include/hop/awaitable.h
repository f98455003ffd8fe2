/* hop/awaitable.h: the awaitable protocol.
 *
 * Every suspension point in hop (futures, dispatching to an executor,
 * yielding, and everything the toolkit adds) is an awaitable built on this one
 * protocol, and user code writes its own awaitables exactly the same way:
 *
 *     struct my_wait { hop_awaitable_t base; ...own state... };
 *     static bool my_suspend(hop_awaitable_t *aw) {
 *         struct my_wait *w = (struct my_wait *)aw;
 *         start_something(w, on_done);   // on_done calls hop_awaitable_complete(aw, status)
 *         return true;                   // stay suspended until then
 *     }
 *     static const hop_awaitable_ops_t my_ops = { .suspend = my_suspend };
 *
 *     struct my_wait w;                  // lives on the task's stack
 *     hop_awaitable_init(&w.base, &my_ops);
 *     int status = hop_await(&w.base);
 *
 * The sequence hop_await() follows:
 *   1. ready(aw), on the task's stack: if it returns true the task does not
 *      suspend and goes straight to step 4.
 *   2. The task switches off its stack to the thread that resumed it.
 *   3. suspend(aw) runs there, on that thread's own stack, after the task has
 *      left its stack. Only now is it safe to publish the task to another
 *      thread: from the moment suspend hands the awaitable to anyone who may
 *      call hop_awaitable_complete(), the task may be running elsewhere, so
 *      suspend must not touch the task, and should not touch aw, after that
 *      hand-off. Returning true keeps the task suspended until
 *      hop_awaitable_complete(aw, status) is called (exactly once, from any
 *      thread); returning false resumes it at once on the same thread without
 *      going through its executor (the awaited thing turned out to be ready).
 *   4. resume(aw), on the task's stack, possibly on another thread: its return
 *      value is hop_await()'s. Without a resume op, hop_await() returns the
 *      status given to hop_awaitable_complete() (0 if it never ran).
 *
 * Awaiting a value: a completion may carry a pointer beside its status,
 * hop_awaitable_complete_value(aw, status, value), and hop_await_value(aw,
 * &value) returns both, so an awaitable that yields a value needs no output
 * field of its own, and a value never has to share the int with error codes.
 * ready(), and a suspend() that returns false, finish the await without a
 * completion: they give its outcome with hop_awaitable_set_result(). Futures
 * (hop_future_await) are built this way.
 *
 * Awaiting again: an awaitable may be awaited again, by the same task or
 * another, once the hop_await() before has returned: hop_awaitable_init() is
 * needed only once. Every await starts from status 0 and value NULL with no
 * interrupt pending; the ops and the cancel executor stay. Its own fields are
 * the awaitable's business (reset them before the next await if it needs
 * to). A completion names the awaitable, not one await of it: whoever
 * suspend() handed it to must be done with it (completed, or withdrawn by
 * cancel) before it is awaited again. Two tasks must never await the same
 * awaitable at the same time.
 *
 * Where the task resumes: hop_awaitable_complete() submits the task to the
 * executor the task belongs to when it completes (hop_executor_current()
 * inside the task; it changes only through hop_dispatch_to_executor()), in the
 * spirit of C#'s SynchronizationContext. The completing thread does not run
 * the task itself, unless the task's executor is the inline executor.
 *
 * Interrupting a wait: cancel. An await can be cut short by
 * hop_task_cancel() (status HOP_ECANCELED), by hop_await_timeout()
 * (HOP_ETIMEDOUT) or by anyone calling hop_awaitable_interrupt(). hop then
 * calls the awaitable's cancel op, which must withdraw the pending wait so
 * that nobody completes it later:
 *   - cancel returns 0 if it withdrew the wait: nobody will call
 *     hop_awaitable_complete() for this await any more. hop resumes the task
 *     and hop_await() returns the interrupt's status.
 *   - cancel returns HOP_EALREADY if a completion is already under way and
 *     cannot be stopped (a future already being set, a job already running
 *     whose result must not be lost...). The task then resumes normally
 *     with that completion's status.
 * hop calls cancel at most once per await, on the interrupting thread (or on the
 * awaitable's cancel executor, see below), and
 * only after suspend() returned true. It never runs at the same time as
 * suspend(), and it never runs once a completion has resumed the task.
 * While cancel runs, the awaitable stays valid and the task stays suspended:
 * a hop_awaitable_complete() that arrives meanwhile is held back and takes
 * effect when cancel returns. cancel must not block for long and must not
 * await. An awaitable without a cancel op cannot be interrupted: its task
 * finishes the wait (and then sees HOP_ECANCELED from its next await if it
 * was cancelled).
 * When an await is interrupted after suspend() ran, hop still calls resume
 * (if set) on the task's stack so the awaitable can clean up, but hop_await()
 * returns the interrupt's status, not resume's value. (An interrupt pending
 * before suspend() would run, a cancel or an expired deadline, makes
 * hop_await() return at once: neither suspend nor resume runs.) hop_awaitable_status() tells resume
 * which case it is in.
 *
 * Cancel on the awaitable's own thread: some waits can only be withdrawn on
 * one thread (libuv may be called only on its loop's thread, so a uv read or
 * timer can only be stopped there). Such an awaitable names the executor its
 * cancel op must run on with hop_awaitable_set_cancel_executor() (before
 * hop_await(), or in suspend()); for a wait on a hop loop that is the loop's
 * executor (hop_loop_executor()). An interrupt from any other thread then
 * pins the await exactly as above (the task stays suspended, a completion
 * that arrives meanwhile is held back), hands the rest of the interrupt to
 * that executor as a job (kept in the task's record: nothing is allocated)
 * and returns; the job calls cancel there and finishes the interrupt as an
 * interrupting thread would have: the task resumes with the interrupt's
 * status once cancel has withdrawn the wait, or with the completion's. The
 * job goes through the executor even when the interrupt is made on its own
 * thread, so on a loop (which runs jobs in the order they were posted) it
 * runs after any job suspend() posted there to start the operation: cancel
 * never sees an operation that is still to start. The job is submitted as a continuation, so a loop
 * that is closing still runs it; if the executor refuses it (closed), cancel
 * is not called, the interrupt is dropped (hop_awaitable_interrupt() returns
 * HOP_ECLOSED) and the task keeps waiting for its completion: an awaitable
 * whose executor may close under it must complete its waits when that
 * happens (hop's own I/O does: a closed handle completes with HOP_ECLOSED).
 *
 *     static bool timer_suspend(hop_awaitable_t *aw) {   // runs on the loop
 *         struct timer_wait *w = (struct timer_wait *)aw;
 *         hop_awaitable_set_cancel_executor(aw, hop_loop_executor(w->loop));
 *         uv_timer_start(&w->timer, on_fire, w->ms, 0);  // on_fire completes aw
 *         return true;
 *     }
 *     static int timer_cancel(hop_awaitable_t *aw) {     // runs on the loop too
 *         uv_timer_stop(&((struct timer_wait *)aw)->timer);
 *         return 0;  // on this thread on_fire cannot be half-way: withdrawn
 *     }
 *
 * Describing a wait. name is a static kind, read on every suspension (by
 * hop_task_dump, debuggers, the trace); describe adds what only this await
 * knows (a duration, a file descriptor, an address) and costs nothing on
 * the await path: the awaitable keeps plain values in its own fields, set
 * before hop_await(), and hop formats them only when someone dumps the
 * tasks. The dump runs on its own thread while the task may be resuming on
 * another, so it never hands describe the live awaitable: it copies
 * describe_size bytes of it, checks that the task was suspended in that
 * one await all along (else it shows name), and calls describe on the
 * copy. So describe reads the copy's fields as values: print a pointer,
 * never follow one (what it points to may be gone by now; a string
 * literal the awaitable keeps a pointer to is fine); fields that
 * change during the wait may be a moment old. It must not block, lock or
 * await; snprintf into buf is fine. The copy is read from where the
 * awaitable is: give describe only to an awaitable that lives on the
 * awaiting task's stack (as every one of hop's does) or as long as its
 * task, never one freed as soon as its await returns.
 *
 *     static void timer_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
 *         snprintf(buf, size, "my timer %lld ms", (long long)((const struct timer_wait *)aw)->ms);
 *     }
 *     static const hop_awaitable_ops_t timer_ops = {.name = "my timer", .suspend = timer_suspend,
 *         .cancel = timer_cancel, .describe = timer_describe, .describe_size = sizeof(struct timer_wait)}; */
#ifndef HOP_AWAITABLE_H
#define HOP_AWAITABLE_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

struct hop_awaitable_ops_s {
    bool (*ready)(hop_awaitable_t *awaitable);   /* optional: NULL = never ready */
    bool (*suspend)(hop_awaitable_t *awaitable); /* required */
    int (*resume)(hop_awaitable_t *awaitable);   /* optional: NULL = return status */
    int (*cancel)(hop_awaitable_t *awaitable);   /* optional: NULL = not interruptible */
    /* optional: what a task waits on while suspended here, for hop_task_dump
     * and debuggers ("future", "sleep", "io"...): a string that lives
     * as long as the program (a literal); NULL shows as "awaitable". */
    const char *name;
    /* optional: the specifics of this one wait, for hop_task_dump only
     * ("sleep 250 ms", "tcp read fd 7", "mutex 0x55d0c2a3e2a0"): writes a
     * NUL-terminated text of at most size bytes (size >= 1) into buf, or
     * leaves buf[0] '\0' to show name. awaitable is a copy of the first
     * describe_size bytes of the real one. See "Describing a wait" above. */
    void (*describe)(const hop_awaitable_t *awaitable, char *buf, size_t size);
    /* with describe: how much of the awaitable describe reads, normally
     * sizeof the struct that embeds hop_awaitable_t first; between
     * sizeof(hop_awaitable_t) and 1024, else describe is not called. */
    size_t describe_size;
};

struct hop_awaitable_s {
    /* public */
    const hop_awaitable_ops_t *ops;
    /* private */
    hop_task_t *task;
    int status;
    void *value; /* hop_awaitable_complete_value's, or hop_awaitable_set_result's */
    unsigned int state;
    uint64_t generation; /* which await of the task this is */
    hop_executor_t *cancel_executor; /* where cancel runs; NULL: the interrupter */
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_awaitable_init: prepares awaitable to be awaited with ops (which must
 * outlive the await; normally a static const table). Any thread.
 * Returns 0, or HOP_EINVAL if awaitable, ops or ops->suspend is NULL. */
HOP_EXTERN int hop_awaitable_init(hop_awaitable_t *awaitable, const hop_awaitable_ops_t *ops);

/* hop_awaitable_set_cancel_executor: makes awaitable's cancel op run on
 * executor (see "Cancel on the awaitable's own thread" above); NULL (the
 * default after hop_awaitable_init) runs it on the interrupting thread. Call
 * it before hop_await() or from suspend(), on the thread that owns awaitable;
 * it stays set for later awaits of the same awaitable. Never suspends.
 * Returns 0, or HOP_EINVAL for a NULL awaitable or an executor without ops. */
HOP_EXTERN int hop_awaitable_set_cancel_executor(hop_awaitable_t *awaitable, hop_executor_t *executor);

/* hop_await: suspends the current task until awaitable completes (see the
 * sequence above) and returns resume()'s value, by default the status given
 * to hop_awaitable_complete(). May return on another thread than it was called
 * on if the task's executor has several threads.
 * Errors (returned without suspending): HOP_EINVAL for a NULL or uninitialised
 * awaitable; HOP_ENOTTASK when not called from inside a task; HOP_ECANCELED
 * when the task has been cancelled (hop_task_cancel()). If the wait is
 * interrupted (see above): the interrupt's status, HOP_ECANCELED, or
 * HOP_ETIMEDOUT from hop_await_timeout(). */
HOP_EXTERN int hop_await(hop_awaitable_t *awaitable);

/* hop_await_value: hop_await(awaitable), and *value (if value is not NULL)
 * receives the value of the completion (hop_awaitable_complete_value(), or
 * hop_awaitable_set_result() from ready(), suspend() or resume()). *value is
 * NULL when the await completed without one (hop_awaitable_complete()), was
 * interrupted, or failed before suspending. Ownership of the value is the
 * awaitable's contract (hop passes the pointer through). Task only; suspends
 * as hop_await(); returns what hop_await() would. */
HOP_EXTERN int hop_await_value(hop_awaitable_t *awaitable, void **value);

/* hop_awaitable_complete: wakes the task suspended on awaitable, handing it
 * status; the task resumes on its executor. Any thread, once per await; for
 * use by whoever suspend() handed the awaitable to. Never suspends; blocks
 * only as long as the executor's submit.
 * Returns 0; HOP_EINVAL for NULL; HOP_EALREADY if the awaitable is not
 * suspended right now (already completed, or never awaited) and nothing
 * happened. A second completion is therefore harmless, never a double resume. */
HOP_EXTERN int hop_awaitable_complete(hop_awaitable_t *awaitable, int status);

/* hop_awaitable_complete_value: hop_awaitable_complete() that also hands the
 * task value, which hop_await_value() returns (hop_awaitable_value() for a
 * resume op). Only the completion that wins stores anything: a late one
 * (HOP_EALREADY) leaves the value it brought with its caller. Any thread,
 * once per await; never suspends. Returns as hop_awaitable_complete(). */
HOP_EXTERN int hop_awaitable_complete_value(hop_awaitable_t *awaitable, int status, void *value);

/* hop_awaitable_set_result: gives the outcome of an await that finishes
 * without a completion: from ready() when it returns true, from suspend()
 * when it returns false (and handed awaitable to nobody), or from resume().
 * hop_await() then returns status (without a resume op) and hop_await_value()
 * value. On the awaiting task's side only (those ops); never suspends.
 * Returns 0, or HOP_EINVAL for NULL. */
HOP_EXTERN int hop_awaitable_set_result(hop_awaitable_t *awaitable, int status, void *value);

/* hop_awaitable_interrupt: cuts short the wait on awaitable: if its task is
 * suspended on it right now, hop calls awaitable's cancel op and, if that
 * withdraws the wait, resumes the task with status (see "Interrupting a wait"
 * above). For awaitables that wrap others (a timeout) and for services that
 * must stop a waiter. Any thread, but the caller must keep awaitable valid
 * during the call (it normally owns it, or knows the task cannot leave the
 * await yet). If suspend() is still running, the interrupt is remembered and
 * delivered as soon as it returns.
 * Returns 0 when the interrupt was delivered (the task will resume with
 * status, unless a completion that cancel could not stop beats it);
 * HOP_EALREADY when the task is not suspended on awaitable (not yet awaited,
 * already completed, or already interrupted); HOP_ECLOSED when awaitable's
 * cancel executor refused the cancel (closed: the interrupt is dropped, the
 * task keeps waiting); HOP_ENOTSUP when awaitable has
 * no cancel op; HOP_EINVAL for NULL or a status that is not a negative
 * error code. */
HOP_EXTERN int hop_awaitable_interrupt(hop_awaitable_t *awaitable, int status);

/* hop_awaitable_status: the status the await completed with so far: the one
 * given to hop_awaitable_complete(), or the interrupt's status. For resume
 * ops, which run on the task's stack. 0 before completion; HOP_EINVAL for
 * NULL. */
HOP_EXTERN int hop_awaitable_status(const hop_awaitable_t *awaitable);

/* hop_awaitable_value: the value the await completed with so far
 * (hop_awaitable_complete_value() or hop_awaitable_set_result()), NULL
 * before, without one, or for NULL. For resume ops, like
 * hop_awaitable_status(). */
HOP_EXTERN void *hop_awaitable_value(const hop_awaitable_t *awaitable);

/* hop_awaitable_task: the task awaiting awaitable (set before suspend() runs),
 * or NULL. For awaitable implementations that want the task's executor. */
HOP_EXTERN hop_task_t *hop_awaitable_task(const hop_awaitable_t *awaitable);

#ifdef __cplusplus
}
#endif

#endif /* HOP_AWAITABLE_H */
