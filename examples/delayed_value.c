/* examples/delayed_value.c: a value that arrives after a delay, a timeout
 * around it, and a cancelled one (see delayed_value.h). Everything runs on
 * one loop, started by hop_run(), like asyncio.run(). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdint.h>
#include <stdio.h>

#include "delayed_value.h"

/* 0 or the error's name, for printing. */
static const char *status_name(int err) { return err ? hop_err_name(err) : "ok"; }

static double ms_since(uint64_t start_ns) { return (double)(hop_time_now_ns() - start_ns) / 1e6; }

static void *sleeper(void *arg) {
    void *value = NULL;
    int err = delayed_value_await(10000, arg, &value);
    printf("  the cancelled task's await returned %s, value %p\n", status_name(err), value);
    return NULL;
}

static void *main_task(void *arg) {
    (void)arg;
    int failures = 0;

    uint64_t start = hop_time_now_ns();
    void *value = NULL;
    int err = delayed_value_await(100, (void *)42, &value);
    printf("delayed_value_await(100 ms, 42): %s, value %ld after %.0f ms\n", status_name(err),
           (long)(intptr_t)value, ms_since(start));
    failures += err != 0 || value != (void *)42 || ms_since(start) < 100;

    /* The same awaitable under hop_await_timeout: its cancel op stops the
     * timer, so the slow value never lands. */
    delayed_value_t slow;
    value = NULL;
    delayed_value_init(&slow, 1000, (void *)7, &value);
    start = hop_time_now_ns();
    err = hop_await_timeout(&slow.base, 30);
    printf("a 1000 ms value under a 30 ms timeout: %s after %.0f ms, value %p\n", status_name(err),
           ms_since(start), value);
    failures += err != HOP_ETIMEDOUT || value != NULL;

    /* Cancelling a task that waits for a value ten seconds away. */
    hop_task_t *child;
    hop_task_spawn(hop_executor_current(), sleeper, (void *)1, NULL, &child);
    hop_sleep(20);
    start = hop_time_now_ns();
    hop_task_cancel(child);
    err = hop_task_join(child, NULL);
    printf("cancelled the 10 s wait: join returned %s after %.0f ms, task %s\n", status_name(err),
           ms_since(start), hop_task_state_name(hop_task_state(child)));
    failures += err != HOP_ECANCELED;
    hop_task_unref(child);
    return (void *)(intptr_t)failures;
}

int main(void) {
    void *failures = (void *)1;
    int err = hop_run(main_task, NULL, &failures);
    if (err || failures) {
        printf("FAILED: %s, %ld failures\n", status_name(err), (long)(intptr_t)failures);
        return 1;
    }
    return 0;
}
