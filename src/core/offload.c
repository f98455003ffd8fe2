/* src/core/offload.c: hop_run_in_executor.
 *
 * The awaitable lives on the awaiting task's stack; the job and its result
 * live in the task's record (hop_task_t.offload), so nothing is allocated.
 * suspend() submits the job (the task has already left its stack, so the
 * executor may run it at once, on any thread); the job runs fn, stores the
 * result and completes the awaitable, which sends the task home through its
 * executor's own queue (a loop's inbox for a loop task).
 *
 * Cancellation (hop_task_cancel, deadlines) may make the task stop waiting
 * before the job is over. One CAS on the job's state decides who owns it:
 *
 *   PENDING --job starts--> RUNNING --fn returned--> DONE (result to the task)
 *   PENDING --cancel--> CANCELLED: the job, when the executor gets to it,
 *                       releases itself without running fn
 *   RUNNING --cancel--> ABANDONED: fn finishes; its result goes to the
 *                       caller's destructor on the job's thread
 *
 * Before that CAS, cancel asks the executor to withdraw the job
 * (hop_executor_withdraw: the blocking pool can). Withdrawn, the job is out
 * of every queue, so nothing else can touch the record: the state stays
 * PENDING and the task releases the record itself, and a cancelled job
 * neither waits in a queue nor takes a thread there.
 *
 * The task learns which of these happened from the awaitable (cancel writes
 * it there while the task is pinned), and says so in its return code: the
 * ownership contract of hop/offload.h.
 *
 * An executor still holds the job after a cancel, so the record must outlive
 * the task's frame: it is in the task record, and cancel takes a task
 * reference that the job drops when it lets go of the slot. If the task
 * offloads again before that, the new job gets a malloc'd record. */
#include <stdio.h>
#include <stdlib.h>

#include "fault.h"
#include "task_internal.h"

enum { HOP__OFFLOAD_PENDING = 0, HOP__OFFLOAD_RUNNING, HOP__OFFLOAD_DONE, HOP__OFFLOAD_CANCELLED,
       HOP__OFFLOAD_ABANDONED, HOP__OFFLOAD_WITHDRAWN };

typedef struct {
    hop_awaitable_t base;
    hop__offload_t *job;
    hop_executor_t *target;
    const char *what; /* "run_in_executor" or "run_blocking", for hop_task_dump */
    int error;
    bool submitted;       /* the executor holds the job */
    unsigned int outcome; /* what cancel did: CANCELLED, ABANDONED or WITHDRAWN */
} hop__offload_await_t;

/* Gives the record back: to the task's slot, or to the heap. */
static void hop__offload_release(hop__offload_t *o) {
    if (o->in_task_slot)
        hop__atomic_store_uint(&o->task->offload_busy, 0u);
    else
        free(o);
}

static void hop__offload_run(hop_job_t *job) {
    hop__offload_t *o = hop__container_of(job, hop__offload_t, job);
    hop_task_t *t = o->task;
    if (!hop__atomic_cas_uint(&o->state, HOP__OFFLOAD_PENDING, HOP__OFFLOAD_RUNNING)) {
        /* Cancelled before it started: fn never runs. */
        hop__offload_release(o);
        hop_task_unref(t); /* the reference cancel took */
        return;
    }
    void *result = o->fn(o->arg);
    o->result = result;
    /* Read before the CAS: after it, o may be the task's again. */
    uint64_t generation = o->generation;
    hop_executor_t *home = o->home;
    if (hop__atomic_cas_uint(&o->state, HOP__OFFLOAD_RUNNING, HOP__OFFLOAD_DONE)) {
        /* Publishes result (the submit inside is the release) and hands the
         * record back to the task: o is not touched after this. The
         * awaitable on the task's stack is not touched at all (its resume op
         * gives the answer): one cache line fewer for the task's thread to
         * miss. */
        (void)hop__await_complete_task(t, generation, home);
        return;
    }
    /* The task stopped waiting while fn ran: the result is nobody's but the
     * destructor's. */
    if (o->result_destructor)
        o->result_destructor(result);
    hop__offload_release(o);
    hop_task_unref(t);
}

static bool hop__offload_suspend(hop_awaitable_t *aw) {
    hop__offload_await_t *a = (hop__offload_await_t *)aw;
    /* Set before the submit: after it, a belongs to the job's completion. */
    a->submitted = true;
    a->job->generation = aw->generation;
    /* Batchable: the task is suspending, and on a loop the job may go to a
     * pool with the batch's other submissions (core/internal.h). */
    int err = hop__executor_submit(a->target, &a->job->job, HOP__SUBMIT_BATCHABLE);
    if (err == 0)
        return true; /* the job owns the record until it completes the awaitable */
    a->submitted = false;
    a->error = err;
    return false;
}

static int hop__offload_resume(hop_awaitable_t *aw) { return ((hop__offload_await_t *)aw)->error; }

/* Runs pinned: the task is still waiting, so a->job is still the task's. */
static int hop__offload_cancel(hop_awaitable_t *aw) {
    hop__offload_await_t *a = (hop__offload_await_t *)aw;
    hop__offload_t *o = a->job;
    if (hop_executor_withdraw(a->target, &o->job) == 0) {
        /* Out of the executor's queue before anyone took it: the record is
         * the task's alone again, and fn never runs. */
        a->outcome = HOP__OFFLOAD_WITHDRAWN;
        return 0;
    }
    /* The job will drop this reference when it lets go of the record. */
    hop_task_ref(o->task);
    if (hop__atomic_cas_uint(&o->state, HOP__OFFLOAD_PENDING, HOP__OFFLOAD_CANCELLED)) {
        a->outcome = HOP__OFFLOAD_CANCELLED;
        return 0;
    }
    if (hop__atomic_cas_uint(&o->state, HOP__OFFLOAD_RUNNING, HOP__OFFLOAD_ABANDONED)) {
        a->outcome = HOP__OFFLOAD_ABANDONED;
        return 0;
    }
    hop_task_unref(o->task); /* DONE: the completion is already on its way */
    return HOP_EALREADY;
}

static void hop__offload_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    const hop__offload_await_t *a = (const hop__offload_await_t *)aw;
    snprintf(buf, size, "%s on %p", a->what, (void *)a->target);
}

static const hop_awaitable_ops_t hop__offload_ops = {.name = "run_in_executor", .suspend = hop__offload_suspend,
                                                     .resume = hop__offload_resume,
                                                     .cancel = hop__offload_cancel,
                                                     .describe = hop__offload_describe,
                                                     .describe_size = sizeof(hop__offload_await_t)};

int hop_run_in_executor_ex(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result,
                           hop_result_destructor_fn result_destructor) {
    return hop__run_in_executor_as(executor, fn, arg, result, result_destructor, "run_in_executor");
}

int hop__run_in_executor_as(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result,
                            hop_result_destructor_fn result_destructor, const char *what) {
    if (!hop__executor_ops(executor) || !fn)
        return HOP_EINVAL;
    hop_task_t *t;
    int err = hop__await_begin(&t);
    if (err)
        return err;
    hop__offload_t *o;
    if (hop__atomic_load_uint(&t->offload_busy) == 0) {
        o = &t->offload;
        o->in_task_slot = true;
        hop__atomic_store_uint(&t->offload_busy, 1u);
    } else {
        o = hop__malloc(sizeof *o);
        if (!o)
            return HOP_ENOMEM;
        o->in_task_slot = false;
    }
    o->task = t;
    o->home = hop__atomic_load_ptr(&t->executor); /* fixed while t waits */
    o->fn = fn;
    o->arg = arg;
    o->result = NULL;
    o->result_destructor = result_destructor;
    o->state = HOP__OFFLOAD_PENDING;
    o->job.run = hop__offload_run; /* hop_job_init's fields, without the call */
    o->job.next = NULL;
    o->job.executor_private = NULL;
    o->job.executor_stamp = 0;

    /* Field by field: an initializer would clear the whole struct (a
     * rep stos, measurable once per offload); the await sets the rest of
     * base (hop__await_task). */
    hop__offload_await_t a;
    a.job = o;
    a.target = executor;
    a.what = what;
    a.error = 0;
    a.submitted = false;
    a.outcome = 0;
    a.base.ops = &hop__offload_ops;
    a.base.cancel_executor = NULL;
    /* The checks are made (hop__await_begin above): straight to the await. */
    int status = hop__await_task(t, &a.base);
    if (a.submitted && (a.base.state & HOP__AWAITABLE_INTERRUPTED) && a.outcome != HOP__OFFLOAD_WITHDRAWN) {
        /* The job owns the record now and will release it: without running
         * fn (CANCELLED), or after fn, whose result goes to the destructor
         * (ABANDONED). */
        return a.outcome == HOP__OFFLOAD_ABANDONED ? HOP_EINPROGRESS : status;
    }
    if (status == 0 && result)
        *result = o->result;
    hop__offload_release(o);
    return status;
}

int hop_run_in_executor(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result) {
    return hop_run_in_executor_ex(executor, fn, arg, result, NULL);
}
