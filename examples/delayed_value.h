/* examples/delayed_value.h: an awaitable that yields a value after a delay.
 *
 * The smallest interruptible awaitable worth writing: asyncio's
 *     await asyncio.sleep(delay, result=value)
 * or C#'s
 *     await Task.Delay(delay, token); return value;
 * built on hop's public protocol (hop/awaitable.h) and a timer
 * (hop/timer.h), the way hop_sleep() itself is built.
 *
 *     delayed_value_t dv;
 *     void *value;
 *     delayed_value_init(&dv, 200, (void *)42, &value);
 *     int err = hop_await(&dv.base);                 // 0 after >= 200 ms, value == 42
 *     int err = hop_await_timeout(&dv.base, 50);     // or: HOP_ETIMEDOUT after 50 ms
 *     int err = delayed_value_await(200, (void *)42, &value);  // the one-call form
 *
 * Guarantees:
 *   - the awaiting task resumes no earlier than delay_ms after suspending,
 *     on its own executor (a loop task on its loop thread, a pool task on a
 *     pool thread), whichever thread the timer fires on;
 *   - *out is written only when the wait succeeds (status 0);
 *   - the wait is interruptible: hop_task_cancel() (HOP_ECANCELED),
 *     hop_await_timeout() (HOP_ETIMEDOUT) and hop_awaitable_interrupt() stop
 *     the timer through the cancel op, so the timer never fires into a record
 *     that has left the task's stack. A timer that has already fired wins:
 *     cancel returns HOP_EALREADY and the task gets the value, exactly once.
 *
 * Threads: ready(), resume() and the caller's code run on the task's stack;
 * suspend() runs on the thread the task just left, after the switch; the
 * timer callback runs on the loop thread (loop tasks) or hop's timer thread
 * (everything else); cancel() runs on the interrupting thread.
 *
 * Nothing is allocated: the record, timer included, lives on the awaiting
 * task's stack. */
#ifndef EXAMPLES_DELAYED_VALUE_H
#define EXAMPLES_DELAYED_VALUE_H

#include <hop/hop.h>

typedef struct {
    hop_awaitable_t base; /* first: the awaitable converts to the record */
    hop_timer_t timer;
    int64_t delay_ms;
    void *value;
    void **out;
    int start_error; /* hop_timer_start's error, reported by resume */
} delayed_value_t;

static inline bool delayed_value_ready(hop_awaitable_t *aw) {
    /* No delay: do not suspend at all (and hop_await_timeout(aw, 0) succeeds). */
    return ((delayed_value_t *)aw)->delay_ms == 0;
}

static inline void delayed_value_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    /* The last touch of the record from this thread: once complete has
     * submitted the task, the record may be gone. */
    hop_awaitable_complete(arg, 0);
}

static inline bool delayed_value_suspend(hop_awaitable_t *aw) {
    delayed_value_t *dv = (delayed_value_t *)aw;
    dv->start_error = 0;
    int err = hop_timer_start(&dv->timer, dv->delay_ms, delayed_value_fire, aw);
    if (err) {
        /* Nobody else has the record: report the error from resume. */
        dv->start_error = err;
        return false;
    }
    /* From here the timer may already have fired and the task run on
     * another thread: dv must not be touched again. */
    return true;
}

static inline int delayed_value_cancel(hop_awaitable_t *aw) {
    delayed_value_t *dv = (delayed_value_t *)aw;
    /* 0: stopped before firing, so nobody will complete this await.
     * HOP_EALREADY: the callback ran (or is running: stop waits for it), its
     * completion is the one that counts. */
    return hop_timer_stop(&dv->timer) == 0 ? 0 : HOP_EALREADY;
}

static inline int delayed_value_resume(hop_awaitable_t *aw) {
    delayed_value_t *dv = (delayed_value_t *)aw;
    if (dv->start_error)
        return dv->start_error;
    int status = hop_awaitable_status(aw);
    if (status == 0 && dv->out)
        *dv->out = dv->value;
    return status;
}

static const hop_awaitable_ops_t delayed_value_ops = {
    .ready = delayed_value_ready,
    .suspend = delayed_value_suspend,
    .resume = delayed_value_resume,
    .cancel = delayed_value_cancel,
};

/* delayed_value_init: prepares dv to yield value into *out (if out is not
 * NULL) delay_ms after it is awaited with hop_await() or
 * hop_await_timeout(). dv must stay valid until the await returns; it may
 * be awaited again after that (each await restarts the delay).
 * Returns 0, or HOP_EINVAL (NULL dv, negative delay_ms). */
static inline int delayed_value_init(delayed_value_t *dv, int64_t delay_ms, void *value, void **out) {
    if (!dv || delay_ms < 0)
        return HOP_EINVAL;
    dv->timer = (hop_timer_t){0}; /* a zeroed timer is "never started" */
    dv->delay_ms = delay_ms;
    dv->value = value;
    dv->out = out;
    dv->start_error = 0;
    return hop_awaitable_init(&dv->base, &delayed_value_ops);
}

/* delayed_value_await: suspends the current task for delay_ms, then stores
 * value in *out (if out is not NULL) and returns 0. Task only.
 * Errors: HOP_EINVAL (negative delay_ms), HOP_ENOTTASK, HOP_ECANCELED (the
 * task was cancelled: *out untouched), HOP_ETIMEDOUT (a deadline passed),
 * HOP_ENOMEM (the timer could not start). */
static inline int delayed_value_await(int64_t delay_ms, void *value, void **out) {
    delayed_value_t dv;
    int err = delayed_value_init(&dv, delay_ms, value, out);
    if (err)
        return err;
    return hop_await(&dv.base);
}

#endif /* EXAMPLES_DELAYED_VALUE_H */
