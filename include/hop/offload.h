/* hop/offload.h: running blocking work elsewhere and coming back. */
#ifndef HOP_OFFLOAD_H
#define HOP_OFFLOAD_H

#include "hop/common.h"
#include "hop/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hop_run_in_executor: runs fn(arg) on executor as a plain job (no task, no
 * stack of its own) and suspends the current task until it returns; the task
 * then resumes on its own executor (where it was: a loop task comes back to
 * its loop thread through the loop's inbox) with fn's return value in
 * *result (if result is not NULL). Like asyncio's loop.run_in_executor.
 * Nothing is allocated: the job lives on the task's stack.
 * Task only; suspends. Returns 0; HOP_EINVAL (NULL executor or fn);
 * HOP_ENOTTASK; HOP_ECLOSED (executor takes no new work: fn does not run);
 * HOP_ECANCELED (the task was cancelled) or HOP_ETIMEDOUT (a deadline
 * passed), with the rules of hop_run_in_executor_ex below: a result fn
 * returns after the task stopped waiting is dropped (use the _ex form to
 * free it). */
HOP_EXTERN int hop_run_in_executor(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result);

/* hop_run_in_executor_ex: hop_run_in_executor, plus what happens to the
 * result when the awaiting task stops waiting early: hop_task_cancel(), or a
 * deadline (hop_deadline_enter() in hop/timer.h, which returns HOP_ETIMEDOUT
 * instead of HOP_ECANCELED). The rules:
 *   - fn has not started: the job is withdrawn and fn never runs;
 *     HOP_ECANCELED is returned at once.
 *   - fn is running: HOP_ECANCELED is returned at once (the task does not
 *     wait for fn); fn runs to its end on its thread, and its return value is
 *     then passed to result_destructor on that thread (if not NULL), so it is
 *     never leaked. Nothing of the task's stack is used by then.
 *   - fn has returned: the result is the task's, as if no cancel had come.
 * The caller cannot tell the first two cases apart, so after HOP_ECANCELED or
 * HOP_ETIMEDOUT fn may still be using arg: give fn an arg that outlives it
 * (or that fn owns and frees, or returns inside its result for the
 * destructor), never one on the task's stack that the task frees or reuses.
 * Same errors as hop_run_in_executor. */
HOP_EXTERN int hop_run_in_executor_ex(hop_executor_t *executor, void *(*fn)(void *arg), void *arg,
                                      void **result, hop_result_destructor_fn result_destructor);

#ifdef __cplusplus
}
#endif

#endif /* HOP_OFFLOAD_H */
