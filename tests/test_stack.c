/* tests/test_stack.c: task stacks: guard pages, caching, bounds, limits. */

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

__attribute__((noinline)) static long overflow(long depth) {
    if (depth < 0) /* never: keeps the compiler from calling this infinite recursion */
        return 0;
    volatile char frame[1024];
    frame[0] = (char)depth;
    return overflow(depth + 1) + frame[0];
}

static void *overflow_task(void *arg) {
    (void)arg;
    return (void *)overflow(0);
}

Test(stack, overflowing_a_guarded_stack_faults_instead_of_corrupting_memory, .timeout = 60) {
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        hop_task_options_t options = {.stack_size = 64 * 1024};
        hop_task_spawn(hop_inline_executor(), overflow_task, NULL, &options, NULL);
        _exit(0); /* reached only if the overflow went unnoticed */
    }
    int status;
    waitpid(child, &status, 0);
    /* A plain build dies of SIGSEGV; under ASan the sanitizer catches the
     * fault and exits non-zero. Either way the child must not exit cleanly. */
    cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0),
              "the overflow went unnoticed");
    test_assert_checks();
}

static void *empty(void *arg) { return arg; }

Test(stack, unguarded_stacks_work_and_are_cached_separately) {
    hop_task_options_t options = {.flags = HOP_TASK_UNGUARDED_STACK};
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    for (int i = 0; i < 100; i++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_inline_executor(), empty, (void *)1, &options, &t));
        cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
        hop_task_unref(t);
    }
    hop_stack_stats(&after);
    cr_assert_eq(after.map_calls - before.map_calls, 1);
    cr_assert_eq(after.in_use, before.in_use);
    test_assert_checks();
}

static hop_executor_t *manual;

static void *spawn_and_finish_many(void *arg) {
    int n = (int)(intptr_t)arg;
    hop_task_t *tasks[64];
    for (int i = 0; i < n; i++)
        CHECK_OK(hop_task_spawn(manual, empty, NULL, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < n; i++)
        hop_task_unref(tasks[i]);
    return NULL;
}

Test(stack, a_thread_caches_a_bounded_number_and_hands_the_rest_to_the_shared_pool_at_exit) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t thread;
    pthread_create(&thread, NULL, spawn_and_finish_many, (void *)40);
    pthread_join(thread, NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0);
    cr_assert_eq(stats.mapped, 40);
    cr_assert_eq(stats.cached_shared, 40, "the exited thread's cache must go to the shared pool");
    /* Another thread reuses them without mapping new stacks. */
    size_t calls = stats.map_calls;
    pthread_create(&thread, NULL, spawn_and_finish_many, (void *)40);
    pthread_join(thread, NULL);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, calls, "shared stacks should have been reused");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    cr_assert_eq(stats.cached_shared, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, a_stack_finished_on_another_thread_returns_to_that_threads_cache_within_bounds) {
    HOP_OK(hop_manual_executor_create(&manual));
    hop_task_t *tasks[64];
    for (int i = 0; i < 64; i++)
        HOP_OK(hop_task_spawn(manual, empty, NULL, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 64; i++)
        hop_task_unref(tasks[i]);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    /* The thread keeps between 8 and 16 (a full cache spills a batch of 8
     * plus the stack being released), the rest go to the shared pool. */
    cr_assert_eq(stats.mapped, 64);
    cr_assert_eq(stats.in_use, 0);
    cr_assert_geq(stats.cached_shared, 64 - 16);
    cr_assert_leq(stats.cached_shared, 64 - 8);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* Stacks of two shapes, cached side by side, are each reused for their own
 * shape: the shared pool keeps one list per shape. */
static const hop_task_options_t small_unguarded = {.stack_size = 16 * 1024, .flags = HOP_TASK_UNGUARDED_STACK};
static void *spawn_and_finish_shape(void *arg) {
    const hop_task_options_t *options = arg;
    hop_task_t *tasks[60];
    for (int i = 0; i < 60; i++)
        CHECK_OK(hop_task_spawn(manual, empty, NULL, options, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 60; i++)
        hop_task_unref(tasks[i]);
    return NULL;
}

Test(stack, cached_stacks_of_different_shapes_are_each_reused_for_their_own_shape) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t thread;
    /* Threads that exit hand their caches to the shared pool. */
    pthread_create(&thread, NULL, spawn_and_finish_shape, (void *)&small_unguarded);
    pthread_join(thread, NULL);
    pthread_create(&thread, NULL, spawn_and_finish_shape, NULL);
    pthread_join(thread, NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.cached_shared, 120);
    size_t calls = stats.map_calls;
    pthread_create(&thread, NULL, spawn_and_finish_shape, NULL);
    pthread_join(thread, NULL);
    pthread_create(&thread, NULL, spawn_and_finish_shape, (void *)&small_unguarded);
    pthread_join(thread, NULL);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, calls, "each shape found its own cached stacks");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

#include "core/sanitizer.h"
/* Not under TSan: its runtime maps memory for every new object it tracks, so
 * exhausting the process's mappings kills TSan before hop can report. The
 * plain and ASan builds run it. */
#if !HOP__TSAN
Test(stack, running_out_of_memory_mappings_is_reported_as_enomem, .timeout = 120) {
    /* Each guarded stack costs two mappings; vm.max_map_count (65,530 by
     * default) runs out near 32,000 stacks. The failure must be an error
     * code, never a crash. */
    HOP_OK(hop_manual_executor_create(&manual));
    size_t capacity = 1 << 17, count = 0;
    hop_task_t **tasks = malloc(capacity * sizeof *tasks);
    cr_assert_not_null(tasks);
    hop_task_options_t options = {.stack_size = HOP_STACK_SIZE_MIN};
    int err = 0;
    while (count < capacity) {
        err = hop_task_spawn(manual, empty, NULL, &options, &tasks[count]);
        if (err)
            break;
        count++;
    }
    /* Cancelled before they start, the tasks finish without running, so
     * cleaning up needs no further mappings (a sanitizer runtime would want
     * some to run them). */
    for (size_t i = 0; i < count; i++)
        HOP_OK(hop_task_cancel(tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (size_t i = 0; i < count; i++)
        hop_task_unref(tasks[i]);
    free(tasks);
    hop_stack_cache_flush();
    HOP_ERR(err, HOP_ENOMEM);
    cr_assert_gt(count, 1000, "only %zu stacks before ENOMEM", count);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* The documented way past the mapping limit: unguarded stacks, which the
 * kernel merges into a few mappings. 100,000 tasks suspended at once. */
static hop_future_t gate;
static void *wait_at_gate(void *arg) {
    CHECK_OK(hop_future_await(&gate, NULL));
    return arg;
}

Test(stack, a_hundred_thousand_suspended_tasks_fit_with_unguarded_stacks, .timeout = 120) {
    enum { COUNT = 100000 };
    HOP_OK(hop_manual_executor_create(&manual));
    hop_future_init(&gate);
    hop_task_t **tasks = malloc(COUNT * sizeof *tasks);
    cr_assert_not_null(tasks);
    hop_task_options_t options = {.stack_size = HOP_STACK_SIZE_MIN, .flags = HOP_TASK_UNGUARDED_STACK};
    for (int i = 0; i < COUNT; i++)
        HOP_OK(hop_task_spawn(manual, wait_at_gate, NULL, &options, &tasks[i]));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), COUNT);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, COUNT);
    cr_assert_eq(hop_task_state(tasks[COUNT - 1]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), COUNT);
    for (int i = 0; i < COUNT; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE);
        hop_task_unref(tasks[i]);
    }
    free(tasks);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}
#endif
