/* tests/io_fixture.h: what the I/O test modules share: two loops and a
 * pool (started by io_fixture_start, closed by io_fixture_stop), the
 * executors' shorthands, run_task, and the TSan scale of stress tests. */
#ifndef HOP_TESTS_IO_FIXTURE_H
#define HOP_TESTS_IO_FIXTURE_H
#include <stdint.h>

#include "helpers.h"

/* ThreadSanitizer slows every memory access down: the stress and volume
 * tests do fewer rounds and bytes there (the full counts run in the other
 * builds). */
#if defined(__SANITIZE_THREAD__)
#define STRESS_SCALE 10
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_SCALE 10
#endif
#endif
#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif

static hop_loop_t loop_a, loop_b;
static hop_pool_t pool;

#define POOL hop_pool_executor(&pool)
#define LOOP_A hop_loop_executor(&loop_a)
#define LOOP_B hop_loop_executor(&loop_b)

__attribute__((unused)) static void io_fixture_start(void) {
    HOP_OK(hop_loop_init(&loop_a, NULL));
    HOP_OK(hop_loop_start(&loop_a));
    HOP_OK(hop_loop_init(&loop_b, NULL));
    HOP_OK(hop_loop_start(&loop_b));
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
}

__attribute__((unused)) static void io_fixture_stop(void) {
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop_b));
    HOP_OK(hop_loop_close(&loop_a));
}

/* Runs fn(arg) as a task on executor and returns its result as an int; the
 * task's CHECKs must all have held. */
__attribute__((unused)) static intptr_t run_task(hop_executor_t *executor, hop_task_fn fn, void *arg) {
    hop_task_t *t = test_spawn(executor, fn, arg);
    void *value = NULL;
    int status = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &value);
    hop_task_unref(t);
    cr_assert_eq(status, 0, "task ended with %s", hop_err_name(status));
    test_assert_checks();
    return (intptr_t)value;
}

#endif /* HOP_TESTS_IO_FIXTURE_H */
