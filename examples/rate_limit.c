/* examples/rate_limit.c: one limiter shared by tasks on a loop and on a
 * pool: call starts come out at least 40 ms apart, whoever makes them (see
 * rate_limit.h). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rate_limit.h"

enum { INTERVAL_MS = 40, TASKS = 4, CALLS_PER_TASK = 3, CALLS = TASKS * CALLS_PER_TASK };

static rate_limiter_t limiter;
static uint64_t start_ns;
static uint64_t grants[CALLS];
static int grant_count;
static pthread_mutex_t grants_lock = PTHREAD_MUTEX_INITIALIZER;

/* The rate-limited work: here it only notes when it was let through. */
static int call_api(void *arg, void **result) {
    (void)result;
    uint64_t now = hop_time_now_ns();
    printf("  %6.1f ms  call from %s task %ld\n", (double)(now - start_ns) / 1e6,
           hop_loop_current() ? "loop" : "pool", (long)(intptr_t)arg);
    return 0;
}

static void *caller(void *arg) {
    for (int i = 0; i < CALLS_PER_TASK; i++) {
        uint64_t granted;
        if (rate_limiter_acquire(&limiter, &granted) != 0)
            return (void *)1;
        pthread_mutex_lock(&grants_lock);
        grants[grant_count++] = granted;
        pthread_mutex_unlock(&grants_lock);
        call_api(arg, NULL);
    }
    return NULL;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    hop_pool_t pool;
    hop_loop_t loop;
    if (hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}) ||
        hop_loop_init(&loop, NULL) || hop_loop_start(&loop))
        return 1;
    rate_limiter_init(&limiter, INTERVAL_MS);
    start_ns = hop_time_now_ns();
    printf("%d tasks, %d calls each, one call per %d ms:\n", TASKS, CALLS_PER_TASK, INTERVAL_MS);

    hop_task_t *tasks[TASKS];
    for (intptr_t i = 0; i < TASKS; i++) {
        hop_executor_t *e = i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop);
        hop_task_spawn(e, caller, (void *)i, NULL, &tasks[i]);
    }
    int failures = 0;
    for (int i = 0; i < TASKS; i++) {
        void *failed = NULL;
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &failed);
        failures += failed != NULL;
        hop_task_unref(tasks[i]);
    }
    hop_loop_close(&loop);
    hop_pool_close(&pool);

    qsort(grants, (size_t)grant_count, sizeof grants[0], compare_u64);
    uint64_t closest = UINT64_MAX;
    for (int i = 1; i < grant_count; i++)
        if (grants[i] - grants[i - 1] < closest)
            closest = grants[i] - grants[i - 1];
    printf("%d calls in %.0f ms; the closest two started %.1f ms apart\n", grant_count,
           (double)(hop_time_now_ns() - start_ns) / 1e6, (double)closest / 1e6);
    failures += grant_count != CALLS || closest < (uint64_t)INTERVAL_MS * 1000000u;
    rate_limiter_destroy(&limiter);
    if (failures)
        printf("FAILED\n");
    return failures ? 1 : 0;
}
