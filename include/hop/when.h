/* hop/when.h: waiting for several futures or tasks at once.
 *
 * hop_when_all() is asyncio.gather(): it waits until every future of an
 * array has completed and hands back their results in array order.
 * hop_when_any() is asyncio.wait(..., FIRST_COMPLETED): it waits until one
 * of them has completed and says which. Both have a variant for tasks
 * (hop_when_all_tasks(), hop_when_any_tasks()), which waits on the tasks'
 * futures and can also cancel the tasks it stops waiting for.
 *
 *     hop_future_t *fs[3] = {&a, &b, &c};
 *     void *results[3];
 *     int statuses[3];
 *     int err = hop_when_all(fs, 3, 0, results, statuses, NULL);
 *
 * How the wait works: one hop_future_then() waiter per future, all on the
 * awaiting task's stack, and one awaitable (hop/awaitable.h) that the
 * waiters' callbacks complete. When the wait is decided early (a first error,
 * a first completion, hop_task_cancel() of the waiting task), the waiters
 * that have not fired are withdrawn with hop_future_then_cancel(); a callback
 * that is already running on another thread is counted, and the task resumes
 * only after the last such callback has returned, so nothing ever touches the
 * task's stack after the call returns.
 *
 * Waiter storage: n <= HOP_WHEN_INLINE_WAITERS needs no allocation (the
 * records live in the call's own frame). For larger n, pass an array of n
 * hop_when_waiter_t (usually on the task's stack too) or NULL, in which case
 * the call allocates one array of n records for its duration (HOP_ENOMEM if
 * it cannot).
 *
 * Every wait here is interruptible: hop_task_cancel() of the waiting task
 * returns HOP_ECANCELED from it at once (a deadline, HOP_ETIMEDOUT), with the
 * futures left as they are and no callback left behind. */
#ifndef HOP_WHEN_H
#define HOP_WHEN_H

#include "hop/common.h"
#include "hop/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_when_waiter_s hop_when_waiter_t;

/* One per future being waited on. Caller-allocated when n is large (see
 * above); opaque, and owned by hop for the duration of the call only. */
struct hop_when_waiter_s {
    /* private */
    hop_future_waiter_t node;
    void *when;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* How many waiter records hop keeps in the call's own frame. */
#define HOP_WHEN_INLINE_WAITERS 16

enum {
    /* hop_when_all*: wait for every future, whatever they complete with, like
     * gather(return_exceptions=True); the call returns 0 and statuses[] says
     * how each one ended. Without it, the first error ends the wait. */
    HOP_WHEN_ALL_SETTLED = 1u << 0,
    /* hop_when_all_tasks / hop_when_any_tasks only: when the call returns,
     * every task of the array that has not finished is cancelled
     * (hop_task_cancel()): the losers of hop_when_any_tasks, the tasks still
     * running after a first error, or all of them if the waiting task was
     * itself cancelled. The call does not wait for them to wind down: join
     * them, or hop_when_all_tasks(..., HOP_WHEN_ALL_SETTLED, ...), for that.
     * Cancelling means nothing for a plain future (whoever completes it is
     * unknown to hop), so hop_when_all / hop_when_any reject it. */
    HOP_WHEN_CANCEL_REST = 1u << 1
};

/* hop_when_all: suspends the current task until all n futures have
 * completed, or until the first of them fails (see flags).
 *   flags 0 (like asyncio.gather): returns 0 once every future has completed
 *     successfully. As soon as one completes with an error, returns that
 *     error at once: the other futures are left as they are (still pending
 *     ones keep running and may complete later; nothing of this call is
 *     attached to them any more). With several failures, the one whose
 *     completion was seen first wins; futures already failed when the call
 *     starts are seen in array order.
 *   HOP_WHEN_ALL_SETTLED: returns 0 once every future has completed, whatever
 *     with; statuses[] tells each outcome.
 * On return (whatever it returns, once the arguments were accepted),
 * statuses[i] holds hop_future_result(futures[i]) as of that moment: 0, the
 * future's error, or HOP_EAGAIN for a future that had not completed; and
 * results[i] its result (NULL unless statuses[i] is 0; borrowed from the
 * future). results and statuses may each be NULL.
 * waiters: NULL, or n records of storage for the call (see above).
 * n == 0: nothing to wait for: returns 0 without suspending (futures may be
 * NULL), unless the task has been cancelled, as any await would.
 * The same future may appear several times. The futures must stay valid
 * until the call returns; afterwards hop keeps no reference to them.
 * Task only; suspends. Returns 0, the first error, or: HOP_EINVAL (futures
 * NULL with n > 0, a NULL element, unknown flags or HOP_WHEN_CANCEL_REST, n
 * above UINT_MAX - 1); HOP_ENOTTASK; HOP_ENOMEM (waiters NULL, n above
 * HOP_WHEN_INLINE_WAITERS and no memory); HOP_ECANCELED (the waiting task
 * was cancelled) or HOP_ETIMEDOUT (its deadline passed). */
HOP_EXTERN int hop_when_all(hop_future_t *const futures[], size_t n, unsigned int flags, void *results[],
                            int statuses[], hop_when_waiter_t waiters[]);

/* hop_when_any: suspends the current task until one of the n futures has
 * completed, and returns its index (>= 0): the first completion hop saw, or,
 * among futures already complete when the call starts, the lowest index.
 * *status (if status is not NULL) receives that future's status (0 or its
 * error: a failed future counts as completed) and *result (if not NULL) its
 * result (NULL unless *status is 0). The other futures are left as they are;
 * nothing of this call stays attached to them. On an error return, *status
 * and *result are not touched.
 * Task only; suspends. Returns the index, or HOP_EINVAL (n == 0: waiting for
 * the first of nothing would never end; futures NULL, a NULL element,
 * unknown flags or HOP_WHEN_CANCEL_REST, n above INT_MAX); HOP_ENOTTASK;
 * HOP_ENOMEM (as hop_when_all); HOP_ECANCELED; HOP_ETIMEDOUT. */
HOP_EXTERN int hop_when_any(hop_future_t *const futures[], size_t n, unsigned int flags, int *status,
                            void **result, hop_when_waiter_t waiters[]);

/* hop_when_all_tasks: hop_when_all() on the tasks' futures
 * (hop_task_future()): results[i] is task i's result (borrowed from the task,
 * see hop/task.h), statuses[i] 0, HOP_ECANCELED for a cancelled task, or
 * HOP_EAGAIN for one still running. Accepts HOP_WHEN_CANCEL_REST: if the
 * call returns before every task has finished (first error, or the waiting
 * task cancelled), the unfinished tasks are cancelled. The caller holds a
 * reference to every task for the duration of the call. Same errors as
 * hop_when_all; a NULL task is HOP_EINVAL; a task waiting for itself is
 * HOP_EDEADLK. */
HOP_EXTERN int hop_when_all_tasks(hop_task_t *const tasks[], size_t n, unsigned int flags, void *results[],
                                  int statuses[], hop_when_waiter_t waiters[]);

/* hop_when_any_tasks: hop_when_any() on the tasks' futures. Returns the index
 * of the first task to finish, with its status (0, or HOP_ECANCELED if it was
 * cancelled) and result. With HOP_WHEN_CANCEL_REST, every other task that
 * has not finished is cancelled before the call returns (all of them if the
 * wait itself failed, e.g. the waiting task was cancelled). Same errors as
 * hop_when_any, plus HOP_EDEADLK (a task waiting for itself). */
HOP_EXTERN int hop_when_any_tasks(hop_task_t *const tasks[], size_t n, unsigned int flags, int *status,
                                  void **result, hop_when_waiter_t waiters[]);

#ifdef __cplusplus
}
#endif

#endif /* HOP_WHEN_H */
