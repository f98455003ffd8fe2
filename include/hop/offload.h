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
 * HOP_ENOTTASK; HOP_ECANCELED (the task was cancelled before: fn does not
 * run); HOP_ECLOSED (executor takes no new work: fn does not run). */
HOP_EXTERN int hop_run_in_executor(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result);

#ifdef __cplusplus
}
#endif

#endif /* HOP_OFFLOAD_H */
