/* hop/future.h: one-shot futures that complete from any thread.
 *
 * A future is completed exactly once, with a result pointer (status 0) or an
 * error code. Tasks await it (several may); plain code registers a callback
 * with hop_future_then() or blocks a thread in hop_future_wait().
 *
 * The caller allocates the future and keeps it alive until every waiter has
 * been woken and no thread will complete it any more. Completion and the
 * ready checks are lock-free (ck_pr atomics); the list of waiters is guarded
 * by a spin lock held only for a few pointer writes, so that a waiter can
 * withdraw (a timed-out hop_future_wait) without a use-after-free. Waiters
 * are woken in the order they arrived, on the completing thread (tasks are
 * resumed on their own executor, see hop/awaitable.h). */
#ifndef HOP_FUTURE_H
#define HOP_FUTURE_H

#include "hop/awaitable.h"
#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once the future is complete, on the completing thread (or on the
 * registering thread, if it was already complete). */
typedef void (*hop_future_cb)(hop_future_t *future, void *arg);

struct hop_future_waiter_s {
    /* private: caller-allocated, kept alive until the callback has run */
    hop__waitq_node_t node;
    void (*notify)(hop_future_waiter_t *waiter, hop_future_t *future);
    hop_future_cb cb;
    void *arg;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

struct hop_future_s {
    /* private */
    unsigned int state;   /* HOP__FUTURE_* bits: lock, done, claimed */
    unsigned int claimed; /* unused (the completer claims state) */
    int status;
    void *result;
    hop__waitq_t waiters;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* Wait forever, for hop_future_wait(). */
#define HOP_WAIT_FOREVER ((int64_t)-1)

/* hop_future_init: makes future pending. Not thread-safe against other use of
 * the same future. Returns 0 or HOP_EINVAL. */
HOP_EXTERN int hop_future_init(hop_future_t *future);

/* hop_future_set_result: completes future with status 0 and result and wakes
 * every waiter. Any thread; lock-free claim, then O(waiters) wake-ups; never
 * suspends. Returns 0; HOP_EINVAL (NULL); HOP_EALREADY (already completed,
 * or being completed by another thread: nothing changed). */
HOP_EXTERN int hop_future_set_result(hop_future_t *future, void *result);

/* hop_future_set_error: completes future with error, a negative code (the
 * result is NULL). As hop_future_set_result, plus HOP_EINVAL for error >= 0. */
HOP_EXTERN int hop_future_set_error(hop_future_t *future, int error);

/* hop_future_is_done: true once the future is complete. Any thread, lock-free.
 * false for NULL. */
HOP_EXTERN bool hop_future_is_done(const hop_future_t *future);

/* hop_future_result: without waiting: HOP_EAGAIN while pending; else the
 * future's status (0 or its error), with the result in *result if result is
 * not NULL. Any thread. HOP_EINVAL for a NULL future. */
HOP_EXTERN int hop_future_result(const hop_future_t *future, void **result);

/* hop_future_await: suspends the current task until future completes and
 * returns as hop_future_result() (the task resumes on its own executor).
 * Task only. Extra errors: HOP_ENOTTASK, HOP_ECANCELED (the task was
 * cancelled; the future is left as it is), the interrupt's status; *result
 * (if result is not NULL) is NULL after any of those. Built on the awaitable
 * protocol's value-carrying completion (hop_await_value). */
HOP_EXTERN int hop_future_await(hop_future_t *future, void **result);

/* hop_future_wait: blocks the calling thread until future completes or
 * timeout_ms passes (HOP_WAIT_FOREVER: no limit; 0: just check). For plain
 * threads: inside a task it would block the executor's thread (and deadlock
 * if the completion needs that thread), so it returns HOP_EDEADLK there: use
 * hop_future_await. So it does in a plain job that an executor runs (a job
 * posted to a loop) when future is a task's (hop_task_future) and that
 * executor owns the task right now: the job would hold the thread that must
 * run it. Returns as hop_future_result(), or HOP_ETIMEDOUT, HOP_EDEADLK,
 * HOP_EINVAL (NULL future, timeout below -1). */
HOP_EXTERN int hop_future_wait(hop_future_t *future, int64_t timeout_ms, void **result);

/* hop_future_then: arranges for cb(future, arg) to run once future is
 * complete: on the completing thread, or right now on the calling thread if
 * it already is. waiter is caller-allocated storage that must stay alive and
 * untouched until cb has run. Any thread.
 * Returns 0, or HOP_EINVAL (NULL future, waiter or cb). */
HOP_EXTERN int hop_future_then(hop_future_t *future, hop_future_waiter_t *waiter,
                               hop_future_cb cb, void *arg);

/* hop_future_then_cancel: withdraws a waiter registered with
 * hop_future_then() before its callback runs. Any thread. Returns 0 if the
 * waiter was withdrawn (cb will never run; the waiter's storage is the
 * caller's again); HOP_EALREADY if cb has run or is running on the
 * completing thread (the caller must not reuse the storage before cb has
 * returned), or was withdrawn before; HOP_EINVAL for NULL, or for a waiter
 * that is waiting on another future (nothing is changed). */
HOP_EXTERN int hop_future_then_cancel(hop_future_t *future, hop_future_waiter_t *waiter);

#ifdef __cplusplus
}
#endif

#endif /* HOP_FUTURE_H */
