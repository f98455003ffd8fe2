/* examples/progress.c: a blocking job on a pool reports its progress to a
 * loop task, which draws a progress bar on its own thread; then a job whose
 * waiter is cancelled notices and stops (see progress.h). */
#define _POSIX_C_SOURCE 200809L /* nanosleep, strdup */
#include <hop/hop.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "progress.h"

/* 0 or the error's name, for printing. */
static const char *status_name(int err) { return err ? hop_err_name(err) : "ok"; }

static hop_pool_t blocking_pool;
static hop_loop_t *main_loop;
static atomic_int steps_after_cancel;

static void pause_ms(long ms) {
    struct timespec t = {0, ms * 1000000L};
    nanosleep(&t, NULL);
}

/* 20 blocking steps of 4 ms, on a pool thread. */
static int crunch(progress_reporter_t *reporter, void *arg, void **result) {
    int steps = (int)(intptr_t)arg;
    for (int i = 1; i <= steps; i++) {
        pause_ms(4);
        if (progress_report(reporter, 100 * i / steps) == HOP_ECANCELED) {
            atomic_store(&steps_after_cancel, steps - i);
            return HOP_ECANCELED;
        }
    }
    *result = (void *)(intptr_t)steps;
    return 0;
}

typedef struct {
    int calls;
    int last;
    int wrong_thread;
} bar_t;

static void draw(int percent, void *arg) {
    bar_t *bar = arg;
    bar->calls++;
    bar->last = percent;
    bar->wrong_thread += hop_loop_current() != main_loop; /* always the loop thread */
    printf("\r  [%-20.*s] %3d%%", percent / 5, "####################", percent);
    fflush(stdout);
}

static void *cancelled_job(void *arg) {
    (void)arg;
    void *result;
    return (void *)(intptr_t)progress_run(hop_pool_executor(&blocking_pool), crunch, (void *)(intptr_t)2500,
                                          NULL, NULL, &result, NULL);
}

static void *main_task(void *arg) {
    (void)arg;
    main_loop = hop_loop_current();
    int failures = 0;

    printf("a 20-step job on the pool, its progress drawn on the loop:\n");
    bar_t bar = {0};
    void *result = NULL;
    int err = progress_run(hop_pool_executor(&blocking_pool), crunch, (void *)(intptr_t)20, draw, &bar,
                           &result, NULL);
    printf("\n  -> %s, result %ld, %d progress calls on the loop thread, last %d%%\n", status_name(err),
           (long)(intptr_t)result, bar.calls, bar.last);
    failures += err != 0 || bar.last != 100 || bar.wrong_thread != 0 || result != (void *)20;

    printf("a 10 s job whose waiting task is cancelled after 30 ms:\n");
    hop_task_t *t;
    hop_task_spawn(hop_executor_current(), cancelled_job, NULL, NULL, &t);
    hop_sleep(30);
    uint64_t start = hop_time_now_ns();
    hop_task_cancel(t);
    err = hop_task_join(t, NULL);
    printf("  -> the task ended with %s after %.1f ms;", status_name(err),
           (double)(hop_time_now_ns() - start) / 1e6);
    hop_task_unref(t);
    failures += err != HOP_ECANCELED;
    return (void *)(intptr_t)failures;
}

int main(void) {
    if (hop_pool_init(&blocking_pool, &(hop_pool_options_t){.threads = 2}) != 0)
        return 1;
    atomic_store(&steps_after_cancel, -1);
    void *failures = (void *)1;
    int err = hop_run(main_task, NULL, &failures);
    hop_pool_close(&blocking_pool); /* waits for the cancelled job to stop */
    printf(" the job stopped with %d of its steps left\n", atomic_load(&steps_after_cancel));
    if (err || failures || atomic_load(&steps_after_cancel) <= 0) {
        printf("FAILED\n");
        return 1;
    }
    return 0;
}
