/* tests/test_task.c: tasks: switching, locals, registers, floating point,
 * stacks, lifecycle, references, cancellation, and leaks. */

#include <fenv.h>
#include <pthread.h>
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sanitizer.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(task, .init = setup, .fini = teardown, .timeout = 60);

/* Values computed from a volatile so the compiler cannot fold them, and so
 * many that several must live in callee-saved registers across the yield. */
static volatile long seed = 7;

static void *many_locals_task(void *arg) {
    (void)arg;
    long a = seed * 3, b = seed * 5, c = seed * 7, d = seed * 11, e = seed * 13, f = seed * 17;
    long g = seed * 19, h = seed * 23, i = seed * 29, j = seed * 31, k = seed * 37, l = seed * 41;
    double x = (double)seed * 1.5, y = (double)seed * 2.25, z = (double)seed / 3.0;
    for (int round = 0; round < 100; round++) {
        CHECK_OK(hop_yield());
        a += 1, b += 2, c += 3, d += 4, e += 5, f += 6, g += 7, h += 8, i += 9, j += 10, k += 11, l += 12;
        x += 0.5, y *= 1.0, z -= 0.25;
    }
    long sum = a + b + c + d + e + f + g + h + i + j + k + l;
    long expected = seed * (3 + 5 + 7 + 11 + 13 + 17 + 19 + 23 + 29 + 31 + 37 + 41) + 100 * 78;
    CHECK(sum == expected);
    CHECK(fabs(x - ((double)seed * 1.5 + 50.0)) <= 1e-9, "x = %f", x);
    CHECK(fabs(y - (double)seed * 2.25) <= 1e-9, "y = %f", y);
    CHECK(fabs(z - ((double)seed / 3.0 - 25.0)) <= 1e-9, "z = %f", z);
    return (void *)sum;
}

Test(task, a_task_that_suspends_and_resumes_keeps_its_locals_and_registers) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, many_locals_task, NULL, NULL, &t));
    /* Interleave a second task so the registers really get reused. */
    hop_task_t *other;
    HOP_OK(hop_task_spawn(manual, many_locals_task, NULL, NULL, &other));
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((long)result, seed * 236 + 7800);
    hop_task_unref(t);
    hop_task_unref(other);
    test_assert_checks();
}

static void *rounding_task(void *arg) {
    int mode = (int)(intptr_t)arg;
    fesetround(mode);
    volatile double one = 1.0, three = 3.0;
    double before = one / three;
    for (int i = 0; i < 10; i++) {
        CHECK_OK(hop_yield());
        CHECK(fegetround() == mode, "rounding mode leaked across a switch");
    }
    CHECK(one / three == before);
    return NULL;
}

Test(task, each_task_keeps_its_own_floating_point_rounding_mode) {
    int outer = fegetround();
    hop_task_t *up, *down;
    HOP_OK(hop_task_spawn(manual, rounding_task, (void *)(intptr_t)FE_UPWARD, NULL, &up));
    HOP_OK(hop_task_spawn(manual, rounding_task, (void *)(intptr_t)FE_DOWNWARD, NULL, &down));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(fegetround(), outer, "a task's rounding mode leaked into the thread");
    cr_assert_eq(hop_task_state(up), HOP_TASK_DONE);
    cr_assert_eq(hop_task_state(down), HOP_TASK_DONE);
    hop_task_unref(up);
    hop_task_unref(down);
    test_assert_checks();
}

static long recurse(int depth) {
    volatile char frame[512];
    frame[0] = (char)depth;
    if (depth == 0)
        return frame[0];
    return recurse(depth - 1) + 1 + frame[0] - (char)depth;
}

static void *deep_task(void *arg) {
    int depth = (int)(intptr_t)arg;
    CHECK_OK(hop_yield());
    return (void *)recurse(depth);
}

Test(task, deep_recursion_within_the_stack_size_works) {
    /* ~600 bytes a frame, 300 frames: ~180 KiB of a 256 KiB default stack. */
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, deep_task, (void *)(intptr_t)300, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((long)result, 300);
    hop_task_unref(t);
    test_assert_checks();
}

static void *libc_task(void *arg) {
    (void)arg;
    char buffer[256];
    snprintf(buffer, sizeof buffer, "%f %e %g %Lf %s %d", 3.14159, 2.5e100, 1e-300, (long double)1.5, "x", 42);
    CHECK(strstr(buffer, "3.141590") != NULL);
    CHECK_OK(hop_yield());
    struct addrinfo *info = NULL;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int rc = getaddrinfo("localhost", "80", &hints, &info);
    CHECK(rc == 0, "getaddrinfo: %s", gai_strerror(rc));
    freeaddrinfo(info);
    double sum = 0;
    for (int i = 0; i < 64; i++)
        sum += sin(i) * pow(1.5, i % 7);
    CHECK(isfinite(sum));
    return NULL;
}

Test(task, the_default_stack_is_enough_for_printf_and_getaddrinfo) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, libc_task, NULL, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    test_assert_checks();
}

static hop_task_state_t seen_state_inside;
static void *state_task(void *arg) {
    (void)arg;
    seen_state_inside = hop_task_state(hop_task_current());
    CHECK_OK(hop_yield());
    return (void *)1;
}

Test(task, lifecycle_goes_created_running_suspended_done) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, state_task, NULL, NULL, &t));
    cr_assert_eq(hop_task_state(t), HOP_TASK_CREATED);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(seen_state_inside, HOP_TASK_RUNNING);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_str_eq(hop_task_state_name(HOP_TASK_SUSPENDED), "suspended");
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, a_task_has_its_name_and_its_executor) {
    hop_task_options_t options = {.name = "a-task-name-of-exactly-31-bytes"};
    cr_assert_eq(strlen(options.name), HOP_TASK_NAME_MAX);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, state_task, NULL, &options, &t));
    cr_assert_str_eq(hop_task_name(t), options.name);
    cr_assert_eq(hop_task_executor(t), manual);
    hop_task_t *unnamed;
    HOP_OK(hop_task_spawn(manual, state_task, NULL, NULL, &unnamed));
    cr_assert_str_eq(hop_task_name(unnamed), "");
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(t);
    hop_task_unref(unnamed);
    test_assert_checks();
}

Test(task, a_name_longer_than_hop_task_name_max_is_refused_not_cut) {
    hop_task_options_t options = {.name = "a-task-name-of-exactly-32-bytes!"};
    cr_assert_eq(strlen(options.name), HOP_TASK_NAME_MAX + 1);
    hop_task_t *t = (hop_task_t *)1;
    HOP_ERR(hop_task_spawn(manual, state_task, NULL, &options, &t), HOP_EINVAL);
    cr_assert_null(t);
    cr_assert_eq(hop_manual_executor_pending(manual), 0, "nothing was spawned");
    test_assert_checks();
}

static hop_executor_t *executor_seen_inside;
static hop_task_t *task_seen_inside;
static void *introspect_task(void *arg) {
    (void)arg;
    executor_seen_inside = hop_executor_current();
    task_seen_inside = hop_task_current();
    return NULL;
}

Test(task, current_task_and_executor_are_visible_inside_and_null_outside) {
    cr_assert_null(hop_task_current());
    cr_assert_null(hop_executor_current());
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, introspect_task, NULL, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(executor_seen_inside, manual);
    cr_assert_eq(task_seen_inside, t);
    cr_assert_null(hop_task_current());
    hop_task_unref(t);
    test_assert_checks();
}

static int destroyed_count;
static void count_destroy(void *result) { destroyed_count += (int)(intptr_t)result; }
static void *return_five(void *arg) {
    (void)arg;
    return (void *)5;
}

Test(task, the_result_destructor_runs_once_when_the_last_reference_goes) {
    destroyed_count = 0;
    hop_task_options_t options = {.result_destructor = count_destroy};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, return_five, NULL, &options, &t));
    hop_task_ref(t);
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 5);
    hop_task_unref(t);
    cr_assert_eq(destroyed_count, 0, "freed while a reference remained");
    hop_task_unref(t);
    cr_assert_eq(destroyed_count, 5);
    test_assert_checks();
}

Test(task, a_detached_task_runs_and_frees_its_result) {
    destroyed_count = 0;
    hop_task_options_t options = {.result_destructor = count_destroy};
    HOP_OK(hop_task_spawn(manual, return_five, NULL, &options, NULL));
    cr_assert_eq(hop_manual_executor_pending(manual), 1);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(destroyed_count, 5);
    test_assert_checks();
}

static void *joiner_task(void *arg) {
    hop_task_t *child;
    CHECK_OK(hop_task_spawn(hop_executor_current(), return_five, NULL, NULL, &child));
    void *result = NULL;
    CHECK_OK(hop_task_join(child, &result));
    hop_task_unref(child);
    CHECK_ERR(hop_task_join(hop_task_current(), NULL), HOP_EDEADLK);
    return (void *)((intptr_t)result + (intptr_t)arg);
}

Test(task, a_task_joins_a_child_and_gets_its_result) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, joiner_task, (void *)10, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result));
    cr_assert_eq((intptr_t)result, 15);
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, joining_outside_a_task_returns_enottask) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, return_five, NULL, NULL, &t));
    HOP_ERR(hop_task_join(t, NULL), HOP_ENOTTASK);
    HOP_ERR(hop_task_join(NULL, NULL), HOP_EINVAL);
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, spawn_rejects_bad_arguments) {
    hop_task_t *t = (hop_task_t *)0x1;
    HOP_ERR(hop_task_spawn(NULL, return_five, NULL, NULL, &t), HOP_EINVAL);
    cr_assert_null(t);
    HOP_ERR(hop_task_spawn(manual, NULL, NULL, NULL, &t), HOP_EINVAL);
    hop_executor_t no_ops = {0};
    HOP_ERR(hop_task_spawn(&no_ops, return_five, NULL, NULL, &t), HOP_EINVAL);
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
    test_assert_checks();
}

static int body_ran;
static void *mark_ran(void *arg) {
    (void)arg;
    body_ran = 1;
    return NULL;
}

Test(task, a_task_cancelled_before_it_starts_never_runs_its_function) {
    body_ran = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, mark_ran, NULL, NULL, &t));
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(body_ran, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    HOP_ERR(hop_future_result(hop_task_future(t), NULL), HOP_ECANCELED);
    HOP_ERR(hop_task_cancel(t), HOP_EALREADY);
    hop_task_unref(t);
    test_assert_checks();
}

static int awaits_after_cancel;
static void *cleanup_after_cancel(void *arg) {
    (void)arg;
    CHECK_OK(hop_yield()); /* suspended here when the cancel arrives */
    awaits_after_cancel = hop_yield();
    CHECK(hop_yield() == HOP_ECANCELED, "cancellation must stick");
    return (void *)7;
}

Test(task, a_running_task_sees_ecanceled_from_later_awaits_and_finishes_cancelled) {
    destroyed_count = 0;
    hop_task_options_t options = {.result_destructor = count_destroy};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, cleanup_after_cancel, NULL, &options, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_task_cancel(t));
    HOP_OK(hop_task_cancel(t)); /* asking twice is fine */
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(awaits_after_cancel, HOP_ECANCELED);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    HOP_ERR(hop_future_result(hop_task_future(t), NULL), HOP_ECANCELED);
    hop_task_unref(t);
    cr_assert_eq(destroyed_count, 7, "a cancelled task's result must still be released");
    test_assert_checks();
}

static void *empty_task(void *arg) { return arg; }

/* 100,000 rounds; ThreadSanitizer runs them some ten times slower, and a
 * loaded machine slower still: there 10,000 check the same reuse within the
 * test's timeout. */
#define SPAWN_JOIN_ROUNDS (HOP__TSAN ? 10000 : 100000)

Test(task, spawn_run_join_many_times_leaks_no_stack, .timeout = 120) {
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    for (int i = 0; i < SPAWN_JOIN_ROUNDS; i++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(manual, empty_task, (void *)(intptr_t)i, NULL, &t));
        cr_assert_eq(hop_manual_executor_run_one(manual), 1);
        void *result;
        HOP_OK(hop_future_result(hop_task_future(t), &result));
        cr_assert_eq((intptr_t)result, i);
        hop_task_unref(t);
    }
    hop_stack_stats(&after);
    cr_assert_eq(after.in_use, before.in_use, "stacks still in use: %zu -> %zu", before.in_use, after.in_use);
    cr_assert_leq(after.map_calls - before.map_calls, 1, "steady state should reuse one cached stack, mapped %zu",
                  after.map_calls - before.map_calls);
    cr_assert_leq(after.mapped, before.mapped + 1);
    test_assert_checks();
}

Test(task, a_custom_stack_size_is_honoured) {
    hop_task_options_t options = {.stack_size = 1024 * 1024};
    hop_task_t *t;
    /* 1,500 frames of ~600 bytes: ~900 KiB, more than the default stack. */
    HOP_OK(hop_task_spawn(manual, deep_task, (void *)(intptr_t)1500, &options, &t));
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((long)result, 1500);
    hop_task_unref(t);
    test_assert_checks();
}

/* ---- Cancellation of a suspended task ----------------------------------- */

static hop_future_t never_completed;
static int cancelled_await_status;
static void *await_forever(void *arg) {
    (void)arg;
    cancelled_await_status = hop_future_await(&never_completed, NULL);
    /* Cleanup code runs, and every later await keeps saying so. */
    CHECK(hop_yield() == HOP_ECANCELED);
    return (void *)7;
}

static void *cancel_from_thread(void *arg) {
    CHECK_OK(hop_task_cancel(arg));
    return NULL;
}

Test(task, cancel_from_a_plain_thread_wakes_a_task_suspended_on_a_future) {
    destroyed_count = 0;
    HOP_OK(hop_future_init(&never_completed));
    hop_task_options_t options = {.result_destructor = count_destroy};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_forever, NULL, &options, &t));
    hop_manual_executor_run_one(manual);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_from_thread, t);
    pthread_join(thread, NULL);
    test_run_until_finished(manual, t);
    cr_assert_eq(cancelled_await_status, HOP_ECANCELED);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    cr_assert_not(hop_future_is_done(&never_completed), "the future itself is left alone");
    /* The withdrawn waiter is gone: completing the future now touches no
     * dead stack (ASan would see it). */
    HOP_OK(hop_future_set_result(&never_completed, NULL));
    hop_task_unref(t);
    cr_assert_eq(destroyed_count, 7);
    test_assert_checks();
}

/* Cancels arriving at every point of a task's life on a pool (before it
 * starts, while it is about to await, while it waits) never get lost: every
 * task ends, cancelled, although its future is never completed. */
static void *await_then_finish(void *arg) {
    (void)hop_yield(); /* the cancel may land here, or in the await below */
    int status = hop_future_await(arg, NULL);
    CHECK(status == HOP_ECANCELED);
    return NULL;
}

Test(task, cancels_racing_the_start_of_an_await_are_never_lost, .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    static hop_future_t forever;
    HOP_OK(hop_future_init(&forever));
    for (int i = 0; i < 3000; i++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), await_then_finish, &forever, NULL, &t));
        for (volatile int spin = 0; spin < (i % 64) * 50; spin++)
            ;
        HOP_OK(hop_task_cancel(t));
        cr_assert_eq(hop_future_wait(hop_task_future(t), 10000, NULL), HOP_ECANCELED, "round %d", i);
        cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
        hop_task_unref(t);
    }
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* Cancel from a plain thread while the task hops between a loop and a pool:
 * hops cannot be interrupted, so the cancel lands on one of the awaits, and
 * the task ends cancelled on some thread, once. */
static void *hopping(void *arg) {
    hop_executor_t **executors = arg;
    for (int i = 0;; i++) {
        int err = hop_dispatch_to_executor(executors[i % 2]);
        if (err == HOP_ECANCELED)
            return NULL;
        CHECK_OK(err);
    }
}

Test(task, cancel_from_a_plain_thread_while_the_task_is_mid_hop_ends_it_once, .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_executor_t *executors[2] = {hop_loop_executor(&loop), hop_pool_executor(&pool)};
    for (int i = 0; i < 200; i++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(executors[i % 2], hopping, executors, NULL, &t));
        test_sleep_ms(i % 3);
        pthread_t thread;
        pthread_create(&thread, NULL, cancel_from_thread, t);
        pthread_join(thread, NULL);
        cr_assert_eq(hop_future_wait(hop_task_future(t), 10000, NULL), HOP_ECANCELED);
        hop_task_unref(t);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- tasks that report a status of their own (hop_task_spawn_ex) ---- */

static int status_result_target;
static unsigned int status_results_destroyed;
static void destroy_status_result(void *result) {
    if (result == &status_result_target)
        __atomic_fetch_add(&status_results_destroyed, 1u, __ATOMIC_ACQ_REL);
}

static int fails_with_a_result(void *arg, void **result) {
    *result = &status_result_target;
    return (int)(intptr_t)arg;
}

static int joined_status;
static void *joined_result;

static void *join_status_task(void *arg) {
    joined_result = (void *)1;
    joined_status = hop_task_join(arg, &joined_result);
    return NULL;
}

Test(task, a_status_task_reports_its_error_and_result_to_joiners_and_its_future) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn_ex(manual, fails_with_a_result, (void *)(intptr_t)HOP_EBUSY, NULL, &t));
    hop_task_t *joiner;
    HOP_OK(hop_task_spawn(manual, join_status_task, t, NULL, &joiner));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    HOP_ERR(joined_status, HOP_EBUSY);
    cr_assert_eq(joined_result, &status_result_target, "an error may come with a result");
    void *result = NULL;
    HOP_ERR(hop_future_result(hop_task_future(t), &result), HOP_EBUSY);
    cr_assert_eq(result, &status_result_target);
    hop_task_unref(joiner);
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, a_status_task_that_returns_0_completes_like_a_plain_task) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn_ex(manual, fails_with_a_result, (void *)0, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    void *result = NULL;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq(result, &status_result_target);
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, the_result_destructor_frees_a_status_task_result_whatever_its_status) {
    hop_task_options_t options = {.result_destructor = destroy_status_result};
    hop_task_t *t;
    HOP_OK(hop_task_spawn_ex(manual, fails_with_a_result, (void *)(intptr_t)HOP_ENOMEM, &options, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(__atomic_load_n(&status_results_destroyed, __ATOMIC_ACQUIRE), 0u, "still referenced");
    hop_task_unref(t);
    cr_assert_eq(__atomic_load_n(&status_results_destroyed, __ATOMIC_ACQUIRE), 1u);
    test_assert_checks();
}

Test(task, a_status_task_cancelled_before_it_ran_completes_with_ecanceled) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn_ex(manual, fails_with_a_result, (void *)(intptr_t)HOP_EBUSY, NULL, &t));
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    void *result = (void *)1;
    HOP_ERR(hop_future_result(hop_task_future(t), &result), HOP_ECANCELED);
    cr_assert_null(result);
    hop_task_unref(t);
    test_assert_checks();
}

Test(task, spawn_ex_rejects_a_null_function_or_executor) {
    hop_task_t *t = (hop_task_t *)1;
    HOP_ERR(hop_task_spawn_ex(manual, NULL, NULL, NULL, &t), HOP_EINVAL);
    cr_assert_null(t);
    HOP_ERR(hop_task_spawn_ex(NULL, fails_with_a_result, NULL, NULL, NULL), HOP_EINVAL);
    test_assert_checks();
}

static void *return_arg(void *arg) { return arg; }

Test(task, ids_are_never_reused_even_when_a_record_is) {
    hop_task_t *first;
    HOP_OK(hop_task_spawn(hop_inline_executor(), return_arg, NULL, NULL, &first));
    uint64_t first_id = hop_task_id(first);
    uintptr_t first_address = (uintptr_t)first;
    cr_assert_neq(first_id, 0u);
    hop_task_unref(first); /* its stack, and the record in it, go to this thread's cache */
    hop_task_t *second;
    HOP_OK(hop_task_spawn(hop_inline_executor(), return_arg, NULL, NULL, &second));
    cr_assert_eq((uintptr_t)second, first_address, "the cached record was expected to be reused");
    cr_assert_gt(hop_task_id(second), first_id);
    hop_task_unref(second);
    cr_assert_eq(hop_task_id(NULL), 0u);
    test_assert_checks();
}
