/* hop/manual_executor.h: the manual (deterministic) executor.
 *
 * Queues jobs in submission order and runs them only when its owner says so,
 * one at a time, on the owner's thread. Tests and simulations use it to step
 * through interleavings exactly. Jobs may be submitted from any thread; run
 * calls must come from one thread at a time. */
#ifndef HOP_MANUAL_EXECUTOR_H
#define HOP_MANUAL_EXECUTOR_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* hop_manual_executor_create: a new, empty manual executor in *executor.
 * Any thread. Returns 0, HOP_EINVAL (NULL), HOP_ENOMEM. */
HOP_EXTERN int hop_manual_executor_create(hop_executor_t **executor);

/* hop_manual_executor_run_one: runs the oldest queued job, if any, on the
 * calling thread. Returns 1 if a job ran, 0 if none was queued, HOP_EINVAL if
 * executor is NULL or not a manual executor. */
HOP_EXTERN int hop_manual_executor_run_one(hop_executor_t *executor);

/* hop_manual_executor_run_all: runs jobs until the queue is empty, including
 * jobs those jobs submit, but at most max_jobs of them (0: no limit). Returns
 * how many ran, or HOP_EINVAL. */
HOP_EXTERN int hop_manual_executor_run_all(hop_executor_t *executor, size_t max_jobs);

/* hop_manual_executor_pending: how many jobs are queued. Any thread;
 * HOP_EINVAL if not a manual executor. */
HOP_EXTERN long hop_manual_executor_pending(hop_executor_t *executor);

/* hop_manual_executor_close: stops accepting new work: later submits and
 * spawns return HOP_ECLOSED. Continuations of tasks already on it are still
 * accepted, so nothing accepted is lost; run them to drain. Any thread.
 * Returns 0, HOP_EINVAL, or HOP_EALREADY (already closed). */
HOP_EXTERN int hop_manual_executor_close(hop_executor_t *executor);

/* hop_manual_executor_destroy: frees executor. Refuses with HOP_EBUSY while
 * jobs are queued (run or drain them first: a queued job is never dropped
 * silently). The caller guarantees that no task still belongs to it and no
 * thread will submit to it again. Returns 0, HOP_EINVAL, HOP_EBUSY. */
HOP_EXTERN int hop_manual_executor_destroy(hop_executor_t *executor);

#ifdef __cplusplus
}
#endif

#endif /* HOP_MANUAL_EXECUTOR_H */
