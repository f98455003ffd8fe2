/* executors/run.c: hop_run and hop_run_ex, asyncio.run for C: a program's
 * entry point, built on a loop driven on the calling thread. */
#include "core/task_internal.h"
#include "loop_internal.h"

/* main's future completed (wherever main ran last): drops the hold hop_run
 * took for it, exactly like a task leaving the loop, waking the loop if that
 * was the last. The waiter and the loop live in hop_run_ex's frame: this is
 * their last use, and hop_run_ex cannot return before it (the loop does not
 * stop while the hold is there, and close waits for the pin). */
static void hop__run_main_done(hop_future_t *future, void *arg) {
    (void)future;
    hop__executor_task_leave(arg);
}

int hop_run_ex(hop_task_fn main, void *arg, const hop_run_options_t *options, void **result) {
    static const hop_task_options_t main_defaults = {.name = "main"};
    if (result)
        *result = NULL;
    if (!main)
        return HOP_EINVAL;
    if (hop_loop_current())
        return HOP_EBUSY;
    const hop_task_options_t *main_options = options && options->main ? options->main : &main_defaults;
    hop_loop_t loop;
    int err = hop_loop_init(&loop, options ? options->loop : NULL);
    if (err)
        return err;
    hop_task_t *task;
    err = hop_task_spawn(&loop.executor, main, arg, main_options, &task);
    if (err) {
        hop_loop_close(&loop);
        return err;
    }
    /* main may dispatch itself to another executor and finish there: the
     * loop then owns no task while main still runs. Hold the loop open for
     * main as if it were still here until its future completes. */
    hop_future_waiter_t main_done;
    hop__executor_task_enter(&loop.executor);
    hop_future_then(hop_task_future(task), &main_done, hop__run_main_done, &loop.executor);
    /* Not hop_loop_run: a hop_loop_stop (or a user's uv_stop) must not end
     * hop_run before its tasks have. Nobody else can know the loop yet, so
     * it cannot be running elsewhere. */
    err = hop__loop_run_main(&loop);
    if (err)
        hop__fatal("hop_run: running its loop failed (%s)", hop_err_name(err));
    void *value = NULL;
    int status = hop_future_result(hop_task_future(task), &value);
    hop_task_unref(task);
    err = hop_loop_close(&loop);
    if (err)
        hop__fatal("hop_run: closing its loop failed (%s)", hop_err_name(err));
    if (result && !main_options->result_destructor)
        *result = value; /* otherwise the task's unref above destroyed it */
    return status;
}

int hop_run(hop_task_fn main, void *arg, void **result) { return hop_run_ex(main, arg, NULL, result); }
