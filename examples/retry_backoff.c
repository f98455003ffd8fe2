/* examples/retry_backoff.c: a flaky blocking call, retried with exponential
 * backoff from a loop task (see retry_backoff.h). The call runs on a pool
 * through hop_run_in_executor; the retries sleep on the loop without blocking
 * it. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "retry_backoff.h"

/* 0 or the error's name, for printing. */
static const char *status_name(int err) { return err ? hop_err_name(err) : "ok"; }

static hop_pool_t blocking_pool;

typedef struct {
    int calls;         /* touched only by the one job running at a time */
    int failures_left; /* calls that fail with HOP_EAGAIN before one succeeds */
    int error;         /* what a failing call returns */
} flaky_t;

/* The blocking part, on a pool thread: a value > 0, or an error code. */
static void *flaky_fetch(void *arg) {
    flaky_t *f = arg;
    struct timespec pause = {0, 2 * 1000000L}; /* pretend to talk to a server */
    nanosleep(&pause, NULL);
    f->calls++;
    if (f->failures_left > 0) {
        f->failures_left--;
        return (void *)(intptr_t)f->error;
    }
    return (void *)(intptr_t)1234;
}

/* One attempt, in the task: offload, then decode. */
static int fetch_once(void *arg, void **result) {
    void *r = NULL;
    int err = hop_run_in_executor(hop_pool_executor(&blocking_pool), flaky_fetch, arg, &r);
    if (err)
        return err;
    if ((intptr_t)r < 0)
        return (int)(intptr_t)r;
    *result = r;
    return 0;
}

static void print_retry(int attempt, int error, int64_t delay_ms, void *arg) {
    (void)arg;
    printf("  attempt %d failed with %s: retrying in %lld ms\n", attempt, hop_err_name(error),
           (long long)delay_ms);
}

static const int transient[] = {HOP_EAGAIN, HOP_ETIMEDOUT, HOP_EBUSY};

static const retry_policy_t policy = {
    .max_attempts = 5,
    .base_delay_ms = 10,
    .factor = 2.0,
    .max_delay_ms = 40,
    .jitter = 0.25,
    .retryable = transient,
    .retryable_count = sizeof transient / sizeof transient[0],
    .on_retry = print_retry,
};

static void *retry_forever(void *arg) {
    void *value;
    retry_policy_t slow = policy;
    slow.base_delay_ms = slow.max_delay_ms = 10000;
    return (void *)(intptr_t)retry_call(&slow, fetch_once, arg, &value);
}

static void *main_task(void *arg) {
    (void)arg;
    int failures = 0;
    void *value = NULL;

    printf("a call that fails twice with HOP_EAGAIN:\n");
    flaky_t twice = {.failures_left = 2, .error = HOP_EAGAIN};
    int err = retry_call(&policy, fetch_once, &twice, &value);
    printf("  -> %s, value %ld, after %d calls\n", status_name(err), (long)(intptr_t)value, twice.calls);
    failures += err != 0 || twice.calls != 3 || value != (void *)1234;

    printf("a call that fails with HOP_EPERM (not retryable):\n");
    flaky_t denied = {.failures_left = 100, .error = HOP_EPERM};
    err = retry_call(&policy, fetch_once, &denied, &value);
    printf("  -> %s after %d call\n", status_name(err), denied.calls);
    failures += err != HOP_EPERM || denied.calls != 1;

    printf("a call that never stops failing:\n");
    flaky_t broken = {.failures_left = 100, .error = HOP_ETIMEDOUT};
    err = retry_call(&policy, fetch_once, &broken, &value);
    printf("  -> %s after %d calls\n", status_name(err), broken.calls);
    failures += err != HOP_ETIMEDOUT || broken.calls != policy.max_attempts;

    printf("cancelling a task during its 10 s backoff:\n");
    flaky_t stuck = {.failures_left = 100, .error = HOP_EBUSY};
    hop_task_t *t;
    hop_task_spawn(hop_executor_current(), retry_forever, &stuck, NULL, &t);
    hop_sleep(50);
    uint64_t start = hop_time_now_ns();
    hop_task_cancel(t);
    err = hop_task_join(t, NULL);
    printf("  -> join returned %s after %.0f ms, %d call(s) made\n", status_name(err),
           (double)(hop_time_now_ns() - start) / 1e6, stuck.calls);
    failures += err != HOP_ECANCELED || stuck.calls != 1;
    hop_task_unref(t);
    return (void *)(intptr_t)failures;
}

int main(void) {
    if (hop_pool_init(&blocking_pool, &(hop_pool_options_t){.threads = 2}) != 0)
        return 1;
    void *failures = (void *)1;
    int err = hop_run(main_task, NULL, &failures);
    hop_pool_close(&blocking_pool);
    if (err || failures) {
        printf("FAILED: %s, %ld failures\n", status_name(err), (long)(intptr_t)failures);
        return 1;
    }
    return 0;
}
