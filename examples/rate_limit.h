/* examples/rate_limit.h: a rate-limited call: at most one call start per
 * interval, shared by every task on every executor and thread.
 *
 *     rate_limiter_t limiter;
 *     rate_limiter_init(&limiter, 100);          // one call per 100 ms
 *     ...in any task, on any executor:
 *     int err = rate_limited_call(&limiter, send_request, req, &reply);
 *
 * The asyncio idiom is a limiter object holding the time of the next free
 * slot behind an asyncio.Lock, with `await asyncio.sleep(slot - now)`; in C#,
 * System.Threading.RateLimiting's FixedWindow/TokenBucket limiters with
 * `await limiter.AcquireAsync()`. Here:
 *
 *   1. Reserve. Under a short lock, the caller takes the next free slot,
 *      max(now, next_slot), and moves next_slot one interval on. Callers
 *      queue up in reservation order without waking each other.
 *   2. Sleep with hop_sleep() until the slot (the task suspends; its thread
 *      runs other work).
 *   3. Grant. Under the lock again: if an interval has passed since the last
 *      grant, this caller's grant time is now and the call may start. If not
 *      (another caller's slot was reserved earlier but granted late, so this
 *      one woke too soon), it sleeps again until last grant + interval. This
 *      second check is what makes the guarantee hold even when tasks resume
 *      late under load, which slot arithmetic alone does not.
 *
 * Guarantee: any two grants are at least interval apart, measured with
 * hop_time_now_ns() under the limiter's lock, whichever tasks, executors
 * and threads they come from (rate_limiter_acquire reports each grant's
 * time). A call starts right after its grant. The limiter spaces the starts
 * of calls; it does not wait for calls to finish (that would be a
 * semaphore).
 *
 * Cancellation: a task cancelled while it waits for its slot returns
 * HOP_ECANCELED without calling; if nobody reserved after it, its slot is
 * given back (next_slot moves back), so a cancelled caller does not delay
 * the next one. A slot reserved behind it stays where it is: the limit is
 * still respected, the next caller is just not moved earlier.
 *
 * Threads: everything runs in the calling task on its executor; the lock is
 * a pthread mutex held for a few arithmetic operations, never across an
 * await. Nothing is allocated. */
#ifndef EXAMPLES_RATE_LIMIT_H
#define EXAMPLES_RATE_LIMIT_H

#include <hop/hop.h>
#include <pthread.h>

typedef struct {
    pthread_mutex_t lock;
    /* guarded by lock: */
    uint64_t next_slot_ns;  /* the earliest slot not reserved yet */
    uint64_t last_grant_ns; /* when the last call was let through */
    bool granted_any;
    uint64_t grants;
    /* fixed at init: */
    uint64_t interval_ns;
} rate_limiter_t;

/* rate_limiter_init: a limiter letting one call start per interval_ms.
 * Returns 0, or HOP_EINVAL (NULL, interval_ms < 0). */
static inline int rate_limiter_init(rate_limiter_t *limiter, int64_t interval_ms) {
    if (!limiter || interval_ms < 0)
        return HOP_EINVAL;
    *limiter = (rate_limiter_t){.interval_ns = (uint64_t)interval_ms * 1000000u};
    pthread_mutex_init(&limiter->lock, NULL);
    return 0;
}

/* rate_limiter_destroy: frees the lock; no task may be using the limiter. */
static inline int rate_limiter_destroy(rate_limiter_t *limiter) {
    if (!limiter)
        return HOP_EINVAL;
    pthread_mutex_destroy(&limiter->lock);
    return 0;
}

/* Sleeps until hop_time_now_ns() >= when_ns. hop_sleep takes whole
 * milliseconds: round up, and check again in case a clock ticked coarsely. */
static inline int rate_limiter__sleep_until(uint64_t when_ns) {
    for (;;) {
        uint64_t now = hop_time_now_ns();
        if (now >= when_ns)
            return 0;
        int err = hop_sleep((int64_t)((when_ns - now + 999999u) / 1000000u));
        if (err)
            return err;
    }
}

/* rate_limiter_acquire: waits (suspending the task) until this caller may
 * start a call, and stores the grant time (hop_time_now_ns() clock) in
 * *granted_ns if it is not NULL. Task only.
 * Returns 0; HOP_EINVAL (NULL limiter); HOP_ENOTTASK; HOP_ECANCELED (the
 * task was cancelled while waiting: no grant); HOP_ETIMEDOUT (a deadline
 * passed while waiting); HOP_ENOMEM (timer). */
static inline int rate_limiter_acquire(rate_limiter_t *limiter, uint64_t *granted_ns) {
    if (!limiter)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;

    pthread_mutex_lock(&limiter->lock);
    uint64_t now = hop_time_now_ns();
    uint64_t slot = now > limiter->next_slot_ns ? now : limiter->next_slot_ns;
    limiter->next_slot_ns = slot + limiter->interval_ns;
    pthread_mutex_unlock(&limiter->lock);

    for (uint64_t wake = slot;;) {
        int err = rate_limiter__sleep_until(wake);
        if (err) {
            pthread_mutex_lock(&limiter->lock);
            if (limiter->next_slot_ns == slot + limiter->interval_ns)
                limiter->next_slot_ns = slot; /* nobody queued behind: give it back */
            pthread_mutex_unlock(&limiter->lock);
            return err;
        }
        pthread_mutex_lock(&limiter->lock);
        now = hop_time_now_ns();
        uint64_t earliest = limiter->last_grant_ns + limiter->interval_ns;
        if (!limiter->granted_any || now >= earliest) {
            limiter->granted_any = true;
            limiter->last_grant_ns = now;
            limiter->grants++;
            /* Granted after the slot and nobody queued behind: the next
             * free slot is an interval after the real grant. */
            if (limiter->next_slot_ns == slot + limiter->interval_ns && now > slot)
                limiter->next_slot_ns = now + limiter->interval_ns;
            pthread_mutex_unlock(&limiter->lock);
            if (granted_ns)
                *granted_ns = now;
            return 0;
        }
        pthread_mutex_unlock(&limiter->lock);
        wake = earliest;
    }
}

/* rate_limiter_next_slot_ns: the earliest slot not reserved yet, on the
 * hop_time_now_ns() clock (0 before the first call). For monitoring and
 * tests. Any thread. */
static inline uint64_t rate_limiter_next_slot_ns(rate_limiter_t *limiter) {
    pthread_mutex_lock(&limiter->lock);
    uint64_t slot = limiter->next_slot_ns;
    pthread_mutex_unlock(&limiter->lock);
    return slot;
}

/* rate_limited_call: rate_limiter_acquire, then fn(arg) in the calling
 * task (fn may await). Returns fn's return value, with acquire's errors
 * (fn not called). */
static inline int rate_limited_call(rate_limiter_t *limiter, int (*fn)(void *arg, void **result), void *arg,
                                    void **result) {
    if (!fn)
        return HOP_EINVAL;
    int err = rate_limiter_acquire(limiter, NULL);
    if (err)
        return err;
    return fn(arg, result);
}

#endif /* EXAMPLES_RATE_LIMIT_H */
