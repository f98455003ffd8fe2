/* src/awaitable.c: hop_await and the completion protocol, plus the two
 * awaitables every executor supports: yield and dispatch.
 *
 * An awaitable's state makes "resumed exactly once" a single CAS:
 *
 *   IDLE --(hop__task_run, before suspend())--> SUSPENDED
 *   SUSPENDED --(a completion wins the CAS)--> COMPLETED   task submitted
 *   SUSPENDED --(suspend() returned false, CAS)--> IDLE    task continues at once
 *
 * Whoever loses a CAS out of SUSPENDED does nothing: a second completion
 * returns HOP_EALREADY, and a suspend() that returned false after handing
 * the awaitable to a completer that already won leaves the task to it. */
#include "task_internal.h"

int hop_awaitable_init(hop_awaitable_t *awaitable, const hop_awaitable_ops_t *ops) {
    if (!awaitable || !ops || !ops->suspend)
        return HOP_EINVAL;
    awaitable->ops = ops;
    awaitable->task = NULL;
    awaitable->status = 0;
    awaitable->state = HOP__AWAIT_IDLE;
    return 0;
}

hop_task_t *hop_awaitable_task(const hop_awaitable_t *awaitable) { return awaitable ? awaitable->task : NULL; }

int hop_await(hop_awaitable_t *awaitable) {
    if (!awaitable || !awaitable->ops || !awaitable->ops->suspend)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    if (hop__task_cancel_requested(t))
        return HOP_ECANCELED;
    awaitable->task = t;
    awaitable->status = 0;
    if (!(awaitable->ops->ready && awaitable->ops->ready(awaitable))) {
        t->awaiting = awaitable;
        t->switch_reason = HOP__SWITCH_SUSPEND;
        hop__task_switch_out(t);
        /* Maybe on another thread now: only t and awaitable from here. */
    }
    return awaitable->ops->resume ? awaitable->ops->resume(awaitable) : awaitable->status;
}

int hop__awaitable_complete_on(hop_awaitable_t *aw, int status, hop_executor_t *executor, unsigned int flags) {
    if (!hop__atomic_cas_uint(&aw->state, HOP__AWAIT_SUSPENDED, HOP__AWAIT_COMPLETED))
        return HOP_EALREADY;
    hop_task_t *t = aw->task;
    aw->status = status;
    /* The submit publishes status and the task to the executor's thread. */
    int err = hop__executor_submit(executor, &t->resume_job, flags);
    if (err) {
        /* Nothing was handed over: the task is still suspended on aw. */
        hop__atomic_store_uint(&aw->state, HOP__AWAIT_SUSPENDED);
    }
    return err;
}

int hop_awaitable_complete(hop_awaitable_t *awaitable, int status) {
    if (!awaitable || !awaitable->task)
        return awaitable ? HOP_EALREADY : HOP_EINVAL;
    hop_task_t *t = awaitable->task;
    hop_executor_t *executor = hop__atomic_load_ptr(&t->executor);
    int err = hop__awaitable_complete_on(awaitable, status, executor, HOP_SUBMIT_CONTINUATION);
    if (err && err != HOP_EALREADY)
        hop__fatal("executor \"%s\" refused to resume its task \"%s\" (%s): the task would be lost",
                   hop_executor_name(executor), t->name, hop_err_name(err));
    return err;
}

/* yield: resubmit the task to its own executor, behind what is queued. */
static bool hop__yield_suspend(hop_awaitable_t *aw) {
    hop_awaitable_complete(aw, 0);
    return true;
}

static const hop_awaitable_ops_t hop__yield_ops = {.suspend = hop__yield_suspend};

int hop_yield(void) {
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &hop__yield_ops);
    return hop_await(&aw);
}

/* dispatch: the task becomes the target executor's, as new work there. */
typedef struct {
    hop_awaitable_t base;
    hop_executor_t *target;
    int error;
} hop__dispatch_t;

static bool hop__dispatch_suspend(hop_awaitable_t *aw) {
    hop__dispatch_t *d = (hop__dispatch_t *)aw;
    hop_task_t *t = aw->task;
    if (d->target == hop__atomic_load_ptr(&t->executor)) {
        /* Already home: a dispatch there is a yield, and keeps the count. */
        hop_awaitable_complete(aw, 0);
        return true;
    }
    hop_executor_t *home = hop__atomic_load_ptr(&t->executor);
    /* Set before the submit: the target may resume t (and t may read its
     * executor, or await again) before submit returns. */
    hop__atomic_store_ptr(&t->executor, d->target);
    hop__executor_task_enter(d->target);
    int err = hop__awaitable_complete_on(aw, 0, d->target, 0);
    if (err == 0) {
        /* t may already be running on the target: hands off t and aw. */
        hop__executor_task_leave(home);
        return true;
    }
    hop__executor_task_leave(d->target);
    hop__atomic_store_ptr(&t->executor, home);
    d->error = err;
    return false; /* refused: continue at home, reporting why */
}

static int hop__dispatch_resume(hop_awaitable_t *aw) { return ((hop__dispatch_t *)aw)->error; }

static const hop_awaitable_ops_t hop__dispatch_ops = {.suspend = hop__dispatch_suspend,
                                                      .resume = hop__dispatch_resume};

int hop_dispatch_to_executor(hop_executor_t *executor) {
    if (!hop__executor_ops(executor))
        return HOP_EINVAL;
    hop__dispatch_t d = {.target = executor, .error = 0};
    hop_awaitable_init(&d.base, &hop__dispatch_ops);
    return hop_await(&d.base);
}
