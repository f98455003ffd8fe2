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
 * For the blocking calls themselves, hop_run_blocking (hop/blocking.h)
 * offloads to the process-wide blocking pool.
 * Task only; suspends. Returns 0; HOP_EINVAL (NULL executor or fn);
 * HOP_ENOTTASK; HOP_ENOMEM; HOP_ECLOSED (executor takes no new work);
 * HOP_ECANCELED (the task was cancelled) or HOP_ETIMEDOUT (a
 * deadline passed): with all of these fn never runs; HOP_EINPROGRESS (the
 * task stopped waiting while fn ran): the rules and the ownership contract
 * of hop_run_in_executor_ex below; a result fn returns after the task
 * stopped waiting is dropped (use the _ex form to free it). */
HOP_EXTERN int hop_run_in_executor(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result);

/* hop_run_in_executor_ex: hop_run_in_executor, plus what happens to the
 * result when the awaiting task stops waiting early: hop_task_cancel(), or a
 * deadline (hop_deadline_enter() in hop/timer.h).
 *
 * The ownership contract: when it returns, the return code says for certain
 * whether fn ran, is running, or never will, and so who owns arg:
 *   - 0: fn ran and returned; its result is in *result. arg is the caller's.
 *   - HOP_ECANCELED (cancelled) or HOP_ETIMEDOUT (a deadline passed), and
 *     every other error: fn never ran and never will run. A job that had
 *     not started is withdrawn: taken out of the executor's queue at once
 *     when the executor can (hop_executor_withdraw: the blocking pool), or
 *     else left there and dropped, fn unrun, when the executor reaches it.
 *     arg is the caller's again: free or reuse it.
 *   - HOP_EINPROGRESS: the task was cancelled or passed a deadline while fn
 *     was running. The task does not wait for it: fn runs to its end on its
 *     thread and its return value is then passed to result_destructor on
 *     that thread (if not NULL), so it is never leaked. fn may still be
 *     using arg: arg belongs to fn until it returns (have fn free it, or
 *     return it inside its result for the destructor). Nothing of the task's
 *     stack is used by then, and the task's interrupt stays pending (its
 *     next await returns HOP_ECANCELED or HOP_ETIMEDOUT).
 *   - completion beat the cancel (fn had already returned): 0, as if no
 *     cancel had come.
 * Task only; suspends. Same errors as hop_run_in_executor, plus
 * HOP_EINPROGRESS. */
HOP_EXTERN int hop_run_in_executor_ex(hop_executor_t *executor, void *(*fn)(void *arg), void *arg,
                                      void **result, hop_result_destructor_fn result_destructor);

#ifdef __cplusplus
}
#endif

#endif /* HOP_OFFLOAD_H */
