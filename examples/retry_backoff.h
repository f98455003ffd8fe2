/* examples/retry_backoff.h: retrying an async operation with exponential
 * backoff, on a set of retryable errors.
 *
 *     static const int transient[] = {HOP_ETIMEDOUT, HOP_EAGAIN, HOP_EBUSY};
 *     retry_policy_t policy = {
 *         .max_attempts = 5, .base_delay_ms = 10, .factor = 2.0, .max_delay_ms = 200,
 *         .jitter = 0.5, .retryable = transient, .retryable_count = 3,
 *     };
 *     void *row;
 *     int err = retry_call(&policy, query_once, conn, &row);
 *
 * where query_once(conn, &row) is any function that runs in the calling task
 * and may await: hop_run_in_executor() to a blocking pool, a future, a
 * socket. This is what Polly's WaitAndRetryAsync does in C#, or the usual
 * asyncio loop around `await asyncio.sleep(delay)`; in hop the operation is
 * a plain function because the task's stack can suspend anywhere.
 *
 * Guarantees:
 *   - the operation runs at most max_attempts times, one after the other,
 *     always in the calling task (so on the task's executor; what it offloads
 *     runs wherever it sends it);
 *   - an error that is not in the retryable set is returned at once, after
 *     one call; 0 is returned at once with the operation's result;
 *   - between attempts the task sleeps with hop_sleep() (it does not block
 *     its thread): delay n (n = 1 after the first failure) is
 *     min(max_delay_ms, base_delay_ms * factor^(n-1)), then, with jitter j
 *     in [0, 1], reduced by a random fraction of at most j of itself
 *     ("equal jitter" when j = 0.5, "full jitter" when j = 1), so that many
 *     clients failing together do not retry in lockstep;
 *   - HOP_ECANCELED is never retried, even if listed: cancelling the task
 *     during an attempt or during a backoff sleep stops retrying, and
 *     retry_call returns HOP_ECANCELED; HOP_ETIMEDOUT from a deadline the
 *     task entered (hop_deadline_enter) during a sleep stops it too;
 *   - when attempts run out, the last attempt's error is returned.
 * The jitter's random numbers come from a small xorshift generator seeded by
 * policy->seed (0: from the clock), so a test can make it deterministic. */
#ifndef EXAMPLES_RETRY_BACKOFF_H
#define EXAMPLES_RETRY_BACKOFF_H

#include <hop/hop.h>
#include <stddef.h>

/* One attempt: runs in the calling task and may await. Returns 0 with a
 * result in *result, or a negative error code. */
typedef int (*retry_op_fn)(void *arg, void **result);

/* Observer called before each backoff sleep, in the calling task: attempt is
 * the attempt that just failed (1-based), error its error. Optional. */
typedef void (*retry_observer_fn)(int attempt, int error, int64_t delay_ms, void *arg);

typedef struct {
    int max_attempts;      /* >= 1: calls in all, the first included */
    int64_t base_delay_ms; /* >= 0: the delay after the first failure */
    double factor;         /* >= 1.0: growth per retry */
    int64_t max_delay_ms;  /* >= base_delay_ms: the cap */
    double jitter;         /* 0..1: the largest fraction taken off a delay at random */
    const int *retryable;  /* the errors worth retrying; may be NULL if count is 0 */
    size_t retryable_count;
    uint64_t seed; /* jitter generator seed; 0: seeded from the clock */
    retry_observer_fn on_retry;
    void *observer_arg;
} retry_policy_t;

/* retry_policy_check: 0 if policy is usable, else HOP_EINVAL. */
static inline int retry_policy_check(const retry_policy_t *p) {
    if (!p || p->max_attempts < 1 || p->base_delay_ms < 0 || !(p->factor >= 1.0) ||
        p->max_delay_ms < p->base_delay_ms || !(p->jitter >= 0.0 && p->jitter <= 1.0) ||
        (p->retryable_count > 0 && !p->retryable))
        return HOP_EINVAL;
    return 0;
}

/* retry_is_retryable: true if error is in policy's set (never for 0 or
 * HOP_ECANCELED). */
static inline bool retry_is_retryable(const retry_policy_t *p, int error) {
    if (error >= 0 || error == HOP_ECANCELED)
        return false;
    for (size_t i = 0; i < p->retryable_count; i++)
        if (p->retryable[i] == error)
            return true;
    return false;
}

/* xorshift64*: plenty for spreading retries; not for anything secret. */
static inline uint64_t retry_random_next(uint64_t *state) {
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

/* retry_backoff_delay_ms: the delay before retry number n (1-based: n = 1
 * follows the first failure), with jitter drawn from *rng. Pure apart from
 * *rng; any thread. */
static inline int64_t retry_backoff_delay_ms(const retry_policy_t *p, int n, uint64_t *rng) {
    double delay = (double)p->base_delay_ms;
    for (int i = 1; i < n && delay < (double)p->max_delay_ms; i++)
        delay *= p->factor;
    if (delay > (double)p->max_delay_ms)
        delay = (double)p->max_delay_ms;
    if (p->jitter > 0.0) {
        /* 53 random bits as a fraction in [0, 1). */
        double u = (double)(retry_random_next(rng) >> 11) / 9007199254740992.0;
        delay -= delay * p->jitter * u;
    }
    return (int64_t)delay;
}

/* retry_call: calls op(arg, result) until it succeeds, fails with an error
 * that is not retryable, or max_attempts calls have failed; sleeps between
 * attempts as described above. Task only (it sleeps with hop_sleep).
 * Returns 0 (with op's result in *result, if result is not NULL); op's last
 * error; HOP_EINVAL (bad policy or NULL op, nothing called); HOP_ENOTTASK;
 * HOP_ECANCELED (the task was cancelled: no more attempts);
 * HOP_ETIMEDOUT or HOP_ENOMEM if the backoff sleep itself failed so. */
static inline int retry_call(const retry_policy_t *policy, retry_op_fn op, void *arg, void **result) {
    if (retry_policy_check(policy) != 0 || !op)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    uint64_t rng = policy->seed ? policy->seed : hop_time_now_ns() | 1;
    int err = 0;
    for (int attempt = 1;; attempt++) {
        void *value = NULL;
        err = op(arg, &value);
        if (err == 0) {
            if (result)
                *result = value;
            return 0;
        }
        if (!retry_is_retryable(policy, err) || attempt == policy->max_attempts)
            return err;
        int64_t delay = retry_backoff_delay_ms(policy, attempt, &rng);
        if (policy->on_retry)
            policy->on_retry(attempt, err, delay, policy->observer_arg);
        int slept = hop_sleep(delay);
        if (slept != 0)
            return slept; /* cancelled (or a deadline passed): stop retrying */
    }
}

#endif /* EXAMPLES_RETRY_BACKOFF_H */
