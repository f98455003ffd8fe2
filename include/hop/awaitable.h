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
 * Where the task resumes: hop_awaitable_complete() submits the task to the
 * executor the task belongs to when it completes (hop_executor_current()
 * inside the task; it changes only through hop_dispatch_to_executor()), in the
 * spirit of C#'s SynchronizationContext. The completing thread does not run
 * the task itself, unless the task's executor is the inline executor.
 *
 * cancel: reserved for the toolkit's cancellation and timeouts. When set, it
 * withdraws a pending wait: it returns 0 if it withdrew the wait (the caller
 * then completes the awaitable itself with HOP_ECANCELED) or HOP_EALREADY if
 * completion is already under way. hop does not call it yet. */
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
    int (*cancel)(hop_awaitable_t *awaitable);   /* optional, see above */
};

struct hop_awaitable_s {
    /* public */
    const hop_awaitable_ops_t *ops;
    /* private */
    hop_task_t *task;
    int status;
    unsigned int state;
};

/* hop_awaitable_init: prepares awaitable to be awaited with ops (which must
 * outlive the await; normally a static const table). Any thread.
 * Returns 0, or HOP_EINVAL if awaitable, ops or ops->suspend is NULL. */
HOP_EXTERN int hop_awaitable_init(hop_awaitable_t *awaitable, const hop_awaitable_ops_t *ops);

/* hop_await: suspends the current task until awaitable completes (see the
 * sequence above) and returns resume()'s value, by default the status given
 * to hop_awaitable_complete(). May return on another thread than it was called
 * on if the task's executor has several threads.
 * Errors (returned without suspending): HOP_EINVAL for a NULL or uninitialised
 * awaitable; HOP_ENOTTASK when not called from inside a task; HOP_ECANCELED
 * when the task has been cancelled (hop_task_cancel()). */
HOP_EXTERN int hop_await(hop_awaitable_t *awaitable);

/* hop_awaitable_complete: wakes the task suspended on awaitable, handing it
 * status; the task resumes on its executor. Any thread, once per await; for
 * use by whoever suspend() handed the awaitable to. Never suspends; blocks
 * only as long as the executor's submit.
 * Returns 0; HOP_EINVAL for NULL; HOP_EALREADY if the awaitable is not
 * suspended right now (already completed, or never awaited) and nothing
 * happened. A second completion is therefore harmless, never a double resume. */
HOP_EXTERN int hop_awaitable_complete(hop_awaitable_t *awaitable, int status);

/* hop_awaitable_task: the task awaiting awaitable (set before suspend() runs),
 * or NULL. For awaitable implementations that want the task's executor. */
HOP_EXTERN hop_task_t *hop_awaitable_task(const hop_awaitable_t *awaitable);

#ifdef __cplusplus
}
#endif

#endif /* HOP_AWAITABLE_H */
