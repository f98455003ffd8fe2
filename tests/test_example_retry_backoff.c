/* tests/test_example_retry_backoff.c: retry_call of
 * examples/retry_backoff.h: which errors are retried, how often, how long it
 * sleeps, and that cancellation stops it. */
#include <pthread.h>
#include <stdatomic.h>

#include "../examples/retry_backoff.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_retry_backoff, .init = setup, .fini = teardown, .timeout = 60);

static const int transient[] = {HOP_EAGAIN, HOP_ETIMEDOUT, HOP_ECANCELED};

/* An operation that fails with `error` the first `failures` times. */
typedef struct {
    int failures;
    int error;
    int calls;
    int retries_seen;
    int64_t delays[16];
} flaky_t;

static int flaky_op(void *arg, void **result) {
    flaky_t *f = arg;
    f->calls++;
    if (f->calls <= f->failures)
        return f->error;
    *result = (void *)(intptr_t)(100 + f->calls);
    return 0;
}

static void record_retry(int attempt, int error, int64_t delay_ms, void *arg) {
    flaky_t *f = arg;
    cr_assert_eq(attempt, f->retries_seen + 1);
    cr_assert_eq(error, f->error);
    if (f->retries_seen < 16)
        f->delays[f->retries_seen] = delay_ms;
    f->retries_seen++;
}

typedef struct {
    retry_policy_t policy;
    flaky_t flaky;
    int status;
    void *result;
    uint64_t elapsed_ns;
} run_t;

static void *retry_task(void *arg) {
    run_t *r = arg;
    uint64_t start = hop_time_now_ns();
    r->status = retry_call(&r->policy, flaky_op, &r->flaky, &r->result);
    r->elapsed_ns = hop_time_now_ns() - start;
    return NULL;
}

static run_t make_run(int failures, int error) {
    run_t r = {
        .policy = {.max_attempts = 4,
                   .base_delay_ms = 1,
                   .factor = 2.0,
                   .max_delay_ms = 8,
                   .retryable = transient,
                   .retryable_count = 2,
                   .seed = 7},
        .flaky = {.failures = failures, .error = error},
    };
    r.policy.on_retry = record_retry;
    return r;
}

static void run_on_manual(run_t *r) {
    r->policy.observer_arg = &r->flaky;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, retry_task, r, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
}

Test(example_retry_backoff, a_first_success_calls_the_operation_once_and_never_sleeps) {
    run_t r = make_run(0, HOP_EAGAIN);
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(r.flaky.calls, 1);
    cr_assert_eq(r.flaky.retries_seen, 0);
    cr_assert_eq(r.result, (void *)101);
}

Test(example_retry_backoff, retryable_errors_are_retried_until_the_operation_succeeds) {
    run_t r = make_run(2, HOP_ETIMEDOUT);
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(r.flaky.calls, 3);
    cr_assert_eq(r.flaky.retries_seen, 2);
    cr_assert_eq(r.result, (void *)103);
}

Test(example_retry_backoff, an_error_outside_the_retryable_set_is_returned_after_one_call) {
    run_t r = make_run(10, HOP_EPERM);
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EPERM);
    cr_assert_eq(r.flaky.calls, 1);
    cr_assert_eq(r.flaky.retries_seen, 0);
}

Test(example_retry_backoff, when_attempts_run_out_the_last_error_is_returned) {
    run_t r = make_run(10, HOP_EAGAIN);
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EAGAIN);
    cr_assert_eq(r.flaky.calls, 4);
    cr_assert_eq(r.flaky.retries_seen, 3, "no sleep after the last attempt");
}

Test(example_retry_backoff, ecanceled_from_the_operation_is_never_retried_even_when_listed) {
    run_t r = make_run(10, HOP_ECANCELED);
    r.policy.retryable_count = 3; /* HOP_ECANCELED is in the list */
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_ECANCELED);
    cr_assert_eq(r.flaky.calls, 1);
}

Test(example_retry_backoff, backoff_delays_grow_by_the_factor_and_stop_at_the_cap) {
    retry_policy_t p = {.max_attempts = 10, .base_delay_ms = 10, .factor = 2.0, .max_delay_ms = 50};
    uint64_t rng = 1;
    int64_t expected[] = {10, 20, 40, 50, 50, 50};
    for (int n = 1; n <= 6; n++)
        cr_assert_eq(retry_backoff_delay_ms(&p, n, &rng), expected[n - 1], "delay %d", n);
    p.factor = 1.0; /* constant backoff */
    for (int n = 1; n <= 6; n++)
        cr_assert_eq(retry_backoff_delay_ms(&p, n, &rng), 10);
}

Test(example_retry_backoff, jitter_keeps_each_delay_between_its_floor_and_the_plain_delay) {
    retry_policy_t p = {
        .max_attempts = 10, .base_delay_ms = 1000, .factor = 3.0, .max_delay_ms = 100000, .jitter = 0.5};
    uint64_t rng = 12345;
    int below_plain = 0;
    for (int i = 0; i < 1000; i++) {
        int n = 1 + i % 4;
        int64_t plain = 1000;
        for (int k = 1; k < n; k++)
            plain *= 3;
        int64_t d = retry_backoff_delay_ms(&p, n, &rng);
        cr_assert_geq(d, plain / 2, "delay %lld below half of %lld", (long long)d, (long long)plain);
        cr_assert_leq(d, plain);
        below_plain += d < plain;
    }
    cr_assert_gt(below_plain, 900, "jitter hardly ever applied: %d", below_plain);
}

Test(example_retry_backoff, the_same_seed_gives_the_same_jittered_delays) {
    retry_policy_t p = {
        .max_attempts = 10, .base_delay_ms = 100, .factor = 2.0, .max_delay_ms = 10000, .jitter = 1.0};
    uint64_t a = 99, b = 99, c = 100;
    int differ = 0;
    for (int n = 1; n <= 8; n++) {
        int64_t da = retry_backoff_delay_ms(&p, n, &a), db = retry_backoff_delay_ms(&p, n, &b);
        cr_assert_eq(da, db);
        differ += retry_backoff_delay_ms(&p, n, &c) != da;
    }
    cr_assert_gt(differ, 0, "another seed gave exactly the same delays");
}

Test(example_retry_backoff, the_task_sleeps_at_least_the_sum_of_its_backoff_delays) {
    run_t r = make_run(2, HOP_EAGAIN);
    r.policy.base_delay_ms = 30;
    r.policy.max_delay_ms = 1000; /* 30 + 60 ms */
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(r.flaky.delays[0], 30);
    cr_assert_eq(r.flaky.delays[1], 60);
    cr_assert_geq(r.elapsed_ns, 90u * 1000000u, "took %llu ns", (unsigned long long)r.elapsed_ns);
    cr_assert_lt(r.elapsed_ns, 5000ull * 1000000u);
}

Test(example_retry_backoff, cancelling_the_task_during_a_backoff_sleep_stops_retrying) {
    run_t r = make_run(10, HOP_EAGAIN);
    r.policy.base_delay_ms = r.policy.max_delay_ms = 10000;
    r.policy.observer_arg = &r.flaky;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, retry_task, &r, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED, "the task should be in its 10 s backoff");
    cr_assert_eq(r.flaky.calls, 1);
    uint64_t start = hop_time_now_ns();
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    cr_assert_lt(hop_time_now_ns() - start, 5000ull * 1000000u);
    HOP_ERR(r.status, HOP_ECANCELED);
    cr_assert_eq(r.flaky.calls, 1, "no attempt after the cancel");
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    hop_task_unref(t);
}

Test(example_retry_backoff, a_bad_policy_is_rejected_without_calling_the_operation) {
    retry_policy_t good = {.max_attempts = 3, .base_delay_ms = 1, .factor = 2.0, .max_delay_ms = 4};
    HOP_OK(retry_policy_check(&good));
    retry_policy_t bad[] = {good, good, good, good, good, good, good};
    bad[0].max_attempts = 0;
    bad[1].base_delay_ms = -1;
    bad[2].factor = 0.5;
    bad[3].max_delay_ms = 0;
    bad[4].jitter = 1.5;
    bad[5].retryable_count = 2; /* with a NULL list */
    bad[6].jitter = -0.1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        HOP_ERR(retry_policy_check(&bad[i]), HOP_EINVAL);
    HOP_ERR(retry_policy_check(NULL), HOP_EINVAL);
    run_t r = make_run(0, HOP_EAGAIN);
    r.policy.max_attempts = 0;
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EINVAL);
    cr_assert_eq(r.flaky.calls, 0);
    HOP_ERR(retry_call(&good, flaky_op, &r.flaky, NULL), HOP_ENOTTASK);
}

/* Across threads: loop tasks whose attempts run on a pool. */
static hop_pool_t pool;
static hop_loop_t loop;

typedef struct {
    atomic_int calls;
    int failures;
} shared_flaky_t;

static void *blocking_attempt(void *arg) {
    shared_flaky_t *f = arg;
    int n = atomic_fetch_add(&f->calls, 1) + 1;
    return (void *)(intptr_t)(n <= f->failures ? HOP_EAGAIN : 500 + n);
}

static int offloaded_op(void *arg, void **result) {
    void *r;
    int err = hop_run_in_executor(hop_pool_executor(&pool), blocking_attempt, arg, &r);
    if (err)
        return err;
    if (hop_loop_current() != &loop)
        return HOP_ESTATE; /* not back on the loop: fails the test */
    if ((intptr_t)r < 0)
        return (int)(intptr_t)r;
    *result = r;
    return 0;
}

static void *loop_retry(void *arg) {
    static const retry_policy_t p = {.max_attempts = 5,
                                     .base_delay_ms = 2,
                                     .factor = 2.0,
                                     .max_delay_ms = 10,
                                     .jitter = 0.5,
                                     .retryable = transient,
                                     .retryable_count = 2};
    void *value = NULL;
    int err = retry_call(&p, offloaded_op, arg, &value);
    if (hop_loop_current() != &loop)
        return (void *)(intptr_t)HOP_ESTATE;
    return err ? (void *)(intptr_t)err : value;
}

Test(example_retry_backoff, loop_tasks_retrying_work_offloaded_to_a_pool_stay_on_their_loop, .timeout = 120) {
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    enum { TASKS = 20 };
    shared_flaky_t flaky[TASKS];
    hop_task_t *tasks[TASKS];
    for (int i = 0; i < TASKS; i++) {
        atomic_init(&flaky[i].calls, 0);
        flaky[i].failures = i % 4;
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), loop_retry, &flaky[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < TASKS; i++) {
        void *value;
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &value));
        cr_assert_eq((intptr_t)value, 500 + i % 4 + 1, "task %d got %ld", i, (long)(intptr_t)value);
        cr_assert_eq(atomic_load(&flaky[i].calls), i % 4 + 1);
        hop_task_unref(tasks[i]);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
}
