/* src/time/timeout.c: hop_sleep, deadlines and hop_await_timeout, built on
 * the timers (time/timer.c) and the public awaitable protocol.
 *
 * A sleep is an awaitable whose suspend() starts a timer. suspend() runs on
 * the thread the task was running on, so hop_timer_start() picks that
 * thread's clock: a loop task's sleep is one of its loop's timers; a pool
 * task's goes to the timer service. Its cancel op stops the timer.
 *
 * A deadline is a timer that, when it fires, marks itself expired and
 * expires the task (hop__task_expire: every await of the task returns
 * HOP_ETIMEDOUT until the deadline is left, and the await in progress, if
 * any, is interrupted). A task's entered deadlines form a stack whose top
 * sits in the task's slot of the deadline hook, so a task that never enters
 * one pays nothing; the hook's exit call catches a task that returns inside
 * a deadline. */
#include <stdio.h>

#include "core/task_internal.h"
#include "time/timer_internal.h"

/* ---- hop_sleep ----------------------------------------------------------- */

typedef struct {
    hop_awaitable_t base;
    hop_timer_t timer;
    int64_t milliseconds;
    int error;
} hop__sleep_t;

static void hop__sleep_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    /* The task may run (and its stack move on) once this returns: nothing
     * of the sleep is touched after it. */
    hop_awaitable_complete(arg, 0);
}

static bool hop__sleep_suspend(hop_awaitable_t *aw) {
    hop__sleep_t *s = (hop__sleep_t *)aw;
    int err = hop_timer_start(&s->timer, s->milliseconds, hop__sleep_fire, aw);
    if (err == 0)
        return true;
    s->error = err;
    return false;
}

/* Runs pinned: the timer is still ours to stop. If it already fired, its
 * callback's completion is held back until we return, so stopping (which
 * waits for the callback) cannot deadlock. */
static int hop__sleep_cancel(hop_awaitable_t *aw) {
    return hop_timer_stop(&((hop__sleep_t *)aw)->timer) == 0 ? 0 : HOP_EALREADY;
}

static int hop__sleep_resume(hop_awaitable_t *aw) { return ((hop__sleep_t *)aw)->error; }

static void hop__sleep_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "sleep %lld ms", (long long)((const hop__sleep_t *)aw)->milliseconds);
}

static const hop_awaitable_ops_t hop__sleep_ops = {.name = "sleep", 
    .suspend = hop__sleep_suspend, .resume = hop__sleep_resume, .cancel = hop__sleep_cancel,
    .describe = hop__sleep_describe, .describe_size = sizeof(hop__sleep_t)};

int hop_sleep(int64_t milliseconds) {
    if (milliseconds < 0)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    if (milliseconds == 0)
        return hop_yield();
    hop__sleep_t s = {.milliseconds = milliseconds, .timer = {0}};
    hop_awaitable_init(&s.base, &hop__sleep_ops);
    return hop_await(&s.base);
}

/* ---- deadlines ----------------------------------------------------------- */

static void hop__deadline_task_exit(hop_task_t *t, void *innermost) {
    (void)innermost;
    hop__fatal("task \"%s\" returned without hop_deadline_leave() for a deadline it entered: the "
               "deadline's timer would outlive the stack it lives on",
               hop_task_name(t));
}

static hop__task_hook_t hop__deadline_hook = {.name = "deadline", .exit = hop__deadline_task_exit};

static void hop__deadline_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    hop_deadline_t *d = arg;
    hop_task_t *t = d->task;
    /* d and t are alive: hop_deadline_leave() stops this timer (waiting for
     * this callback) before the task can move on. */
    hop__atomic_store_uint(&d->expired, 1u);
    hop__task_expire(t, d->domain);
}

int hop_deadline_enter(hop_deadline_t *deadline, int64_t timeout_ms) {
    if (!deadline || timeout_ms < 0)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    void **innermost = hop__task_slot(t, &hop__deadline_hook);
    deadline->task = t;
    deadline->outer = *innermost;
    deadline->expired = 0;
    deadline->domain = t->shield_expired;
    deadline->timer = (hop_timer_t){0};
    /* Following its task: a loop task that enters a deadline and moves on
     * keeps it when that loop closes. */
    int err = hop__timer_start_following(&deadline->timer, timeout_ms, hop__deadline_fire, deadline);
    if (err)
        return err;
    *innermost = deadline;
    return 0;
}

int hop_deadline_leave(hop_deadline_t *deadline) {
    if (!deadline)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    void **innermost = hop__task_slot(t, &hop__deadline_hook);
    if (*innermost != deadline || deadline->domain != t->shield_expired)
        return HOP_EINVAL; /* not this task's innermost deadline, or a shield entered since */
    /* Waits for a callback that is running right now: after this, nothing
     * else touches deadline. */
    hop_timer_stop(&deadline->timer);
    *innermost = deadline->outer;
    if (!hop__atomic_load_uint(&deadline->expired))
        return 0;
    hop__task_unexpire(t, deadline->domain);
    return HOP_ETIMEDOUT;
}

/* ---- shields -------------------------------------------------------------
 *
 * A shield is a domain of time limits: the task's shield_expired points at
 * the innermost shield's count, and while it does, only that count decides
 * whether an await returns at once (HOP_ETIMEDOUT), and only interrupts
 * aimed at that domain reach the task's awaits (core/awaitable.c). The
 * shield's own deadline is one limit of its domain; deadlines entered inside
 * record the domain and count there. Leaving restores the outer domain, where
 * a cancel or an outer deadline that came meanwhile is still recorded (the
 * cancel flag, the task's or the outer shield's count) and so takes effect
 * at the next await. */

static void hop__shield_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    hop_shield_t *s = arg;
    /* s and its task are alive: hop_shield_exit() stops this timer (waiting
     * for this callback) before the task can move on. */
    hop__atomic_store_uint(&s->fired, 1u);
    hop__task_expire(s->task, &s->expired);
}

int hop_shield_enter(hop_shield_t *shield, int64_t timeout_ms) {
    if (!shield || timeout_ms < 0)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    shield->task = t;
    shield->outer = t->shield_expired;
    shield->expired = 0;
    shield->fired = 0;
    shield->timer = (hop_timer_t){0};
    /* The domain first: a deadline that fires at once finds the task in it. */
    hop__atomic_store_ptr(&t->shield_expired, &shield->expired);
    int err = hop_timer_start(&shield->timer, timeout_ms, hop__shield_fire, shield);
    if (err) {
        hop__atomic_store_ptr(&t->shield_expired, shield->outer);
        return err;
    }
    return 0;
}

int hop_shield_exit(hop_shield_t *shield) {
    if (!shield)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    if (t->shield_expired != &shield->expired)
        return HOP_EINVAL; /* not this task's innermost shield */
    hop_deadline_t *innermost = *hop__task_slot(t, &hop__deadline_hook);
    if (innermost && innermost->domain == &shield->expired)
        return HOP_EINVAL; /* a deadline entered inside is still entered */
    hop_timer_stop(&shield->timer);
    hop__atomic_store_ptr(&t->shield_expired, shield->outer);
    return hop__atomic_load_uint(&shield->fired) ? HOP_ETIMEDOUT : 0;
}

int hop_await_shielded(hop_awaitable_t *awaitable, int64_t timeout_ms) {
    if (!awaitable || !awaitable->ops || !awaitable->ops->suspend)
        return HOP_EINVAL;
    hop_shield_t shield;
    int err = hop_shield_enter(&shield, timeout_ms);
    if (err)
        return err;
    int status = hop_await(awaitable);
    hop_shield_exit(&shield);
    return status;
}

/* ---- hop_await_timeout --------------------------------------------------- */

int hop_await_timeout(hop_awaitable_t *awaitable, int64_t timeout_ms) {
    if (!awaitable || !awaitable->ops || !awaitable->ops->suspend || timeout_ms < 0)
        return HOP_EINVAL;
    if (!awaitable->ops->cancel)
        return HOP_ENOTSUP;
    /* Ready now: no deadline, so even a zero timeout cannot fire (on the
     * timer thread, before hop_await looks) and beat a ready awaitable. */
    if (awaitable->ops->ready && awaitable->ops->ready(awaitable))
        return hop_await(awaitable);
    hop_deadline_t deadline;
    int err = hop_deadline_enter(&deadline, timeout_ms);
    if (err)
        return err;
    int status = hop_await(awaitable);
    hop_deadline_leave(&deadline);
    /* A completion that beat the timer keeps its status; an interrupted
     * await (this deadline or an enclosing one) says HOP_ETIMEDOUT. */
    return status;
}
