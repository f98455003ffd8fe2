/* src/time/timer_internal.h: timer clocks, shared by src/time/timer.c and the
 * executors that drive a clock of their own (executors/loop.c).
 *
 * A clock is a min-heap of pending hop_timer_t under a mutex, plus the
 * record of the one callback it is running. Whoever drives the clock runs
 * its due callbacks on one thread (hop__timer_clock_run_due) and sleeps
 * until the deadline it returns; when another thread's start makes a new
 * earliest deadline, the clock calls ops->rearm so that the driver wakes up
 * and sleeps again for the new one.
 *
 * Lifetime: a clock is never given back to the system. A freed clock goes
 * to a free list and may be reused for the next loop, so a timer that still
 * names an old clock (it fired or was stopped, then its loop closed) can
 * always be looked at by hop_timer_stop without a use-after-free. */
#ifndef HOP_SRC_TIMER_INTERNAL_H
#define HOP_SRC_TIMER_INTERNAL_H

#include <stdint.h>

#include "core/internal.h"

typedef struct hop__timer_clock_s hop__timer_clock_t;

/* rearm(ctx): the earliest deadline of the clock moved earlier (a timer was
 * started at the top of the heap). Called from any thread, including the
 * driver's own, with the clock's lock held: it must not call back into the
 * timer API, and must only flag the driver and wake it (for a loop: set a
 * flag and uv_async_send; never another uv_* call off the loop thread).
 * Never called once hop__timer_clock_close has started. */
typedef struct {
    void (*rearm)(void *ctx);
} hop__timer_clock_ops_t;

/* No deadline: the clock has no pending timer. */
#define HOP__TIMER_NEVER UINT64_MAX

/* now + timeout_ms (>= 0) in ns, saturated below HOP__TIMER_NEVER (which
 * means "none"): a timeout of centuries is a deadline that never comes, not
 * one that wrapped around into the past. */
static inline uint64_t hop__timer_deadline(uint64_t now, int64_t timeout_ms) {
    uint64_t room = (HOP__TIMER_NEVER - 1u - now) / 1000000u;
    if ((uint64_t)timeout_ms > room)
        return HOP__TIMER_NEVER - 1u;
    return now + (uint64_t)timeout_ms * 1000000u;
}

/* hop__timer_clock_create: a new (or recycled) open clock whose driver is
 * told about new earliest deadlines through ops->rearm(ctx). Any thread.
 * Returns NULL when out of memory. */
hop__timer_clock_t *hop__timer_clock_create(const hop__timer_clock_ops_t *ops, void *ctx);

/* hop__timer_clock_run_due: runs, one at a time and outside the lock, the
 * callbacks of every timer due by now. The driver's thread only (one thread
 * at a time per clock). Returns the earliest deadline still pending (it may
 * already be due if a callback started a timer with timeout 0), or
 * HOP__TIMER_NEVER. */
uint64_t hop__timer_clock_run_due(hop__timer_clock_t *clock);

/* hop__timer_clock_next: the earliest pending deadline, or HOP__TIMER_NEVER.
 * Any thread; the answer may be stale by the time it is used, which is why
 * rearm exists. */
uint64_t hop__timer_clock_next(hop__timer_clock_t *clock);

/* hop__timer_clock_close: from now on starting a timer on clock returns
 * HOP_ECLOSED and rearm is never called again. Timers still pending are
 * dropped without running (hop_timer_stop on one returns 0, "stopped before
 * firing"), except those started with hop__timer_start_following: they move,
 * still pending with the same deadline, to the timer service (only if the
 * service cannot take one, for want of memory or a thread, is it dropped).
 * The driver's thread, or any thread once no thread drives the clock; not
 * while one of its callbacks runs. Closing twice is harmless. */
void hop__timer_clock_close(hop__timer_clock_t *clock);

/* hop__timer_start_following: hop_timer_start for a timer that belongs to
 * a task rather than to the thread it was started on (a deadline): if it is
 * started on a loop's clock and the loop closes while it is pending (its
 * task has moved to another executor meanwhile), it moves to the timer
 * service and still fires. Same threads and errors as hop_timer_start. */
int hop__timer_start_following(hop_timer_t *timer, int64_t timeout_ms, hop_timer_fn fn, void *arg);

/* hop__timer_clock_here: whether this thread drives a clock (a loop runs
 * here), so that a timer started here has its callback run here, one at a
 * time with everything else this thread does; *pending (if so) tells whether
 * timer waits on that clock now, about to fire here. Exact when no other
 * thread starts or stops the timer: its state then changes only on this
 * thread (start, stop, firing, the clock's close). */
bool hop__timer_clock_here(hop_timer_t *timer, bool *pending);

/* hop__timer_clock_free: gives a closed clock back (to the free list: its
 * memory stays valid for stale stoppers, see above). No thread may have it
 * current any more. */
void hop__timer_clock_free(hop__timer_clock_t *clock);

/* hop__timer_clock_set_current: makes clock (or NULL) the clock that
 * hop_timer_start uses on this thread, and returns the previous one. A loop
 * sets its clock while it runs on a thread and restores the previous one
 * when it stops there. */
hop__timer_clock_t *hop__timer_clock_set_current(hop__timer_clock_t *clock);

#endif /* HOP_SRC_TIMER_INTERNAL_H */
