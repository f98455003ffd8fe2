/* hop/timer.h: time for tasks: sleeping, timeouts, and the timers under them.
 *
 * hop has one kind of timer, hop_timer_t, driven by one of two clocks:
 *   - a loop's own timers: a timer started on a hop loop's thread (from a
 *     loop task or a loop callback) belongs to that loop. One uv_timer_t per
 *     loop is armed for the earliest deadline, and the callbacks run on the
 *     loop thread itself: no other thread wakes up, nothing crosses threads.
 *   - hop's timer service: a timer started anywhere else (a pool task, a
 *     plain thread) goes to one process-wide thread, "hop-timer", started on
 *     first use. It sleeps until the earliest deadline and runs the callbacks
 *     there, so a pool task can sleep without a loop of its own.
 * Both keep their timers in a min-heap under a short lock, so a timer can be
 * stopped from any thread, whichever clock drives it.
 *
 * Timer callbacks must be short and must not block: they typically complete
 * an awaitable or set a future, which hands the real work to an executor.
 *
 * hop_sleep() and hop_await_timeout() are built on these timers and on the
 * public awaitable protocol (hop/awaitable.h): anyone can build the same. */
#ifndef HOP_TIMER_H
#define HOP_TIMER_H

#include "hop/awaitable.h"
#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_timer_s hop_timer_t;
typedef void (*hop_timer_fn)(hop_timer_t *timer, void *arg);

struct hop_timer_s {
    /* private: caller-allocated, intrusive (starting a timer allocates only
     * when its clock's heap must grow). Initialise it with hop_timer_init()
     * before its first start, or zero it (hop_timer_t timer = {0}): a zeroed
     * timer is an initialised one, "never started". hop uses the fields
     * under the lock of the clock the timer is bound to. */
    uint64_t deadline_ns;
    uint64_t seq;      /* start order on its clock: equal deadlines fire FIFO */
    size_t heap_index;
    hop_timer_fn fn;
    void *arg;
    void *clock;       /* the clock it was last started on (atomic) */
    unsigned int state; /* hop's own states (atomic) */
    unsigned int follows_task; /* a deadline's: moves to the timer service when its
                                  loop closes (in padding: the size is unchanged) */
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_time_now_ns: CLOCK_MONOTONIC in nanoseconds, the clock every hop
 * deadline uses. Any thread. */
HOP_EXTERN uint64_t hop_time_now_ns(void);

/* hop_timer_init: makes timer "never started", the same as zeroing it.
 * Not while the timer is started and has not fired (stop it first: its clock
 * still holds it). A timer needs no destroy: once it has fired or been
 * stopped, its memory is the caller's again. Any thread.
 * Returns 0, or HOP_EINVAL (NULL). */
HOP_EXTERN int hop_timer_init(hop_timer_t *timer);

/* hop_timer_start: fn(timer, arg) runs once, timeout_ms milliseconds from now
 * or a little later, on the loop thread (if called on a hop loop's thread)
 * or on the timer service's thread (anywhere else). timer is caller-allocated,
 * initialised before its first start (hop_timer_init(), or zeroed), and must stay
 * valid until fn has returned or hop_timer_stop() returned. A start may not
 * race a stop of the same timer. fn may restart its own timer (the timer is
 * no longer pending once fn is called, so the start is accepted, on the
 * clock of the thread fn runs on: a periodic timer), and may stop it.
 * Any thread. Returns 0; HOP_EINVAL (NULL timer or fn, negative timeout);
 * HOP_EBUSY (timer is already started and has not fired); HOP_ENOMEM (the
 * heap could not grow, or the timer thread could not start); HOP_ECLOSED
 * (the loop is closing). */
HOP_EXTERN int hop_timer_start(hop_timer_t *timer, int64_t timeout_ms, hop_timer_fn fn, void *arg);

/* hop_timer_stop: stops timer if it has not fired. Any thread. Returns 0
 * when the timer was stopped before firing (fn will not run); HOP_EALREADY
 * when fn has run or is running (the call then waits until fn has returned,
 * unless it is made from fn itself, so that on return the caller owns timer
 * again), or the timer was never started; HOP_EINVAL for NULL. */
HOP_EXTERN int hop_timer_stop(hop_timer_t *timer);

/* hop_sleep: suspends the current task for at least milliseconds, then
 * resumes it on its own executor. A loop task uses its loop's timers, any
 * other task the timer service (see above). 0 yields (hop_yield()).
 * Interruptible: hop_task_cancel() cuts it short with HOP_ECANCELED.
 * Task only. Returns 0; HOP_EINVAL (negative milliseconds); HOP_ENOTTASK;
 * HOP_ECANCELED; HOP_ENOMEM (as hop_timer_start). */
HOP_EXTERN int hop_sleep(int64_t milliseconds);

/* hop_await_timeout: hop_await(awaitable), giving up after timeout_ms: the
 * wait is then withdrawn through awaitable's cancel op and HOP_ETIMEDOUT is
 * returned; the task is never resumed later by the withdrawn wait. If the
 * awaited thing completes first, its status is returned, as hop_await()
 * would. A completion that cancel cannot stop any more wins over the
 * timeout. timeout_ms 0 gives up at the first chance: unless awaitable is
 * ready (its ready op) or completes before the timer fires.
 * It is a deadline (below) around one hop_await().
 * Task only; suspends. Returns as hop_await(), plus HOP_ETIMEDOUT;
 * HOP_EINVAL (NULL or uninitialised awaitable, negative timeout_ms);
 * HOP_ENOTSUP (awaitable has no cancel op, so it could not be withdrawn:
 * nothing was awaited); HOP_ENOMEM (as hop_timer_start). */
HOP_EXTERN int hop_await_timeout(hop_awaitable_t *awaitable, int64_t timeout_ms);

/* Deadlines: a timeout around any stretch of task code, whatever it awaits
 * (hop_run_in_executor, a future, a mutex, a channel...):
 *
 *     hop_deadline_t deadline;
 *     hop_deadline_enter(&deadline, 500);
 *     int err = hop_run_in_executor(pool, query, conn, &row);  // HOP_ETIMEDOUT after 500 ms
 *     ...
 *     if (hop_deadline_leave(&deadline) == HOP_ETIMEDOUT) ...
 *
 * When the deadline passes, the await in progress (if it is interruptible)
 * is interrupted with HOP_ETIMEDOUT, and every later await until
 * hop_deadline_leave() returns HOP_ETIMEDOUT at once, so the code inside
 * unwinds. Deadlines nest; an outer one expiring expires the inner ones too.
 * Enter and leave in the same task, innermost first, like a block. The task
 * may change executors in between: the deadline follows it. */
typedef struct hop_deadline_s hop_deadline_t;
struct hop_deadline_s {
    /* private */
    hop_timer_t timer;
    hop_task_t *task;
    hop_deadline_t *outer;
    unsigned int expired;
    unsigned int *domain; /* the shield it was entered in (its count), NULL: none */
    void *reserved[1];    /* room to grow: see "Layout" in hop/common.h */
};

/* hop_deadline_enter: starts a deadline timeout_ms from now for the current
 * task. deadline is caller-allocated, normally on the task's stack, and
 * belongs to hop until hop_deadline_leave(). Task only. Returns 0;
 * HOP_EINVAL (NULL, negative timeout_ms); HOP_ENOTTASK; HOP_ENOMEM (as
 * hop_timer_start). */
HOP_EXTERN int hop_deadline_enter(hop_deadline_t *deadline, int64_t timeout_ms);

/* hop_deadline_leave: ends the deadline (the innermost one the task entered)
 * and stops its timer. Task only; does not suspend. Returns 0 if it had not
 * expired, HOP_ETIMEDOUT if it had; HOP_EINVAL (NULL, or not the task's
 * innermost deadline: nothing changed); HOP_ENOTTASK. */
HOP_EXTERN int hop_deadline_leave(hop_deadline_t *deadline);

/* Shields: cleanup that a cancel does not cut short (asyncio's shield,
 * trio's shielded cancel scopes), bounded by a deadline of its own:
 *
 *     void *handler(void *arg) {                 // cancelled at shutdown
 *         ...
 *         hop_shield_t shield;
 *         hop_shield_enter(&shield, 1000);       // at most 1 s of cleanup
 *         hop_stream_write_all(s, bye, n);       // runs although cancelled
 *         hop_stream_close(s);
 *         hop_shield_exit(&shield);
 *         return NULL;                           // the task still ends CANCELLED
 *     }
 *
 * The rules, between hop_shield_enter() and hop_shield_exit():
 *   - hop_task_cancel() does not interrupt the task's awaits, and awaits do
 *     not return HOP_ECANCELED at once, whether the cancel came before the
 *     shield or during it. The cancel is not lost: it stays requested, so
 *     after hop_shield_exit() the task's next await returns HOP_ECANCELED as
 *     it would have without the shield, and the task ends as
 *     HOP_TASK_CANCELLED (its future holding HOP_ECANCELED) whatever it
 *     returns.
 *   - Deadlines entered before the shield are masked the same way: one that
 *     expires (or had expired) is delivered (HOP_ETIMEDOUT) once the shield
 *     is left, if it is still entered then.
 *   - The shield's own deadline, timeout_ms after hop_shield_enter(), is the
 *     one limit: when it passes, the await in progress (if interruptible) is
 *     interrupted with HOP_ETIMEDOUT and every later await inside the shield
 *     returns HOP_ETIMEDOUT at once, so the cleanup unwinds.
 *   - Deadlines, hop_await_timeout() and shields entered inside the shield
 *     work as usual inside it: an inner limit that expires interrupts, and
 *     the shield's own deadline expiring expires the deadlines entered in
 *     it too (not an inner shield, which masks it as any outer limit).
 *   - hop_awaitable_interrupt(), aimed at one awaitable, is not masked.
 * Enter and exit in the same task, like a block: a deadline entered inside
 * must be left before the shield is exited, and a task must not return
 * inside a shield (hop stops the process: the shield's timer lives on the
 * task's stack). The task may change executors in between. */
typedef struct hop_shield_s hop_shield_t;
struct hop_shield_s {
    /* private */
    hop_timer_t timer;
    hop_task_t *task;
    unsigned int *outer;   /* the domain the task was in */
    unsigned int expired;  /* limits of this shield that expired and still hold (atomic) */
    unsigned int fired;    /* the shield's own deadline passed (atomic) */
    void *reserved[2];     /* room to grow: see "Layout" in hop/common.h */
};

/* hop_shield_enter: starts a shield for the current task (the rules above),
 * bounded by a deadline timeout_ms from now. shield is caller-allocated,
 * normally on the task's stack, and belongs to hop until hop_shield_exit().
 * Task only; does not suspend. Returns 0; HOP_EINVAL (NULL, negative
 * timeout_ms); HOP_ENOTTASK; HOP_ENOMEM (as hop_timer_start). On error
 * nothing was entered. */
HOP_EXTERN int hop_shield_enter(hop_shield_t *shield, int64_t timeout_ms);

/* hop_shield_exit: ends the shield (the task's innermost one) and stops its
 * timer; a cancel or outer deadline that came meanwhile takes effect from the
 * task's next await. Task only; does not suspend. Returns 0 if the shield's
 * deadline had not passed, HOP_ETIMEDOUT if it had; HOP_EINVAL (NULL, not
 * the task's innermost shield, or a deadline entered inside it is still
 * entered: nothing changed); HOP_ENOTTASK. */
HOP_EXTERN int hop_shield_exit(hop_shield_t *shield);

/* hop_await_shielded: hop_await(awaitable) inside a shield of timeout_ms:
 * a cancel does not interrupt it, its own deadline does. Returns what
 * hop_await() returns (HOP_ETIMEDOUT if the deadline interrupted it), or
 * hop_shield_enter()'s error (nothing awaited). Task only; suspends. */
HOP_EXTERN int hop_await_shielded(hop_awaitable_t *awaitable, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif /* HOP_TIMER_H */
