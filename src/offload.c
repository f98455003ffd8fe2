/* src/offload.c: hop_run_in_executor.
 *
 * The job and the result live in one record on the awaiting task's stack.
 * suspend() submits the job (the task has already left its stack, so the
 * executor may run the job at once, on any thread); the job runs fn, stores
 * the result and completes the awaitable, which sends the task home through
 * its executor's own queue (a loop's inbox for a loop task). The job must not
 * touch the record after completing it: the task may already be running and
 * popping that stack. */
#include "task_internal.h"

typedef struct {
    hop_awaitable_t base;
    hop_job_t job;
    hop_executor_t *target;
    void *(*fn)(void *arg);
    void *arg;
    void *result;
    int error;
} hop__offload_t;

static void hop__offload_run(hop_job_t *job) {
    hop__offload_t *o = hop__container_of(job, hop__offload_t, job);
    o->result = o->fn(o->arg);
    /* Publishes result (the submit inside is the release) and hands the
     * record back to the task: o is not touched after this. */
    hop_awaitable_complete(&o->base, 0);
}

static bool hop__offload_suspend(hop_awaitable_t *aw) {
    hop__offload_t *o = (hop__offload_t *)aw;
    int err = hop__executor_submit(o->target, &o->job, 0);
    if (err == 0)
        return true; /* the job owns o until it completes the awaitable */
    o->error = err;
    return false;
}

static int hop__offload_resume(hop_awaitable_t *aw) { return ((hop__offload_t *)aw)->error; }

static const hop_awaitable_ops_t hop__offload_ops = {.suspend = hop__offload_suspend,
                                                     .resume = hop__offload_resume};

int hop_run_in_executor(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result) {
    if (!hop__executor_ops(executor) || !fn)
        return HOP_EINVAL;
    hop__offload_t o = {.target = executor, .fn = fn, .arg = arg};
    hop_job_init(&o.job, hop__offload_run);
    hop_awaitable_init(&o.base, &hop__offload_ops);
    int status = hop_await(&o.base);
    if (status == 0 && result)
        *result = o.result;
    return status;
}
