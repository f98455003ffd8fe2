/* tests/test_example_delayed_value.c: the delayed-value awaitable of
 * examples/delayed_value.h: its delay, its value, and its cancel op under
 * hop_task_cancel and hop_await_timeout. */
#include <pthread.h>

#include "../examples/delayed_value.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_delayed_value, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    int64_t delay_ms;
    int64_t timeout_ms; /* < 0: plain hop_await */
    void *value;
    void *out;
    int status;
    uint64_t elapsed_ns;
} wait_t;

static void *wait_task(void *arg) {
    wait_t *w = arg;
    delayed_value_t dv;
    int err = delayed_value_init(&dv, w->delay_ms, w->value, &w->out);
    if (err) {
        w->status = err;
        return NULL;
    }
    uint64_t start = hop_time_now_ns();
    w->status = w->timeout_ms < 0 ? hop_await(&dv.base) : hop_await_timeout(&dv.base, w->timeout_ms);
    w->elapsed_ns = hop_time_now_ns() - start;
    return NULL;
}

static void run_on_manual(wait_t *w) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_task, w, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
}

Test(example_delayed_value, the_value_arrives_no_earlier_than_the_delay) {
    wait_t w = {.delay_ms = 50, .timeout_ms = -1, .value = (void *)42};
    run_on_manual(&w);
    HOP_OK(w.status);
    cr_assert_eq(w.out, (void *)42);
    cr_assert_geq(w.elapsed_ns, 50u * 1000000u, "resumed after %llu ns", (unsigned long long)w.elapsed_ns);
    cr_assert_lt(w.elapsed_ns, 5000u * 1000000ull);
}

Test(example_delayed_value, a_zero_delay_yields_the_value_without_suspending) {
    wait_t w = {.delay_ms = 0, .timeout_ms = -1, .value = (void *)5};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_task, &w, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    HOP_OK(w.status);
    cr_assert_eq(w.out, (void *)5);
    hop_task_unref(t);
}

Test(example_delayed_value, a_negative_delay_or_null_record_is_rejected) {
    delayed_value_t dv;
    HOP_ERR(delayed_value_init(&dv, -1, NULL, NULL), HOP_EINVAL);
    HOP_ERR(delayed_value_init(NULL, 10, NULL, NULL), HOP_EINVAL);
    wait_t w = {.delay_ms = -5, .timeout_ms = -1};
    run_on_manual(&w);
    HOP_ERR(w.status, HOP_EINVAL);
    HOP_ERR(delayed_value_await(10, NULL, NULL), HOP_ENOTTASK);
}

Test(example_delayed_value, the_task_resumes_on_its_own_executor_not_on_the_timer_thread) {
    wait_t w = {.delay_ms = 20, .timeout_ms = -1, .value = (void *)1};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_task, &w, NULL, &t));
    /* One job, the task's first run: run_all would also run the task again
     * if the timer fired before it returned (a preempted test thread). */
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    /* The timer fires on another thread, which only queues the task. */
    while (hop_manual_executor_pending(manual) == 0)
        test_sleep_ms(1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_null(w.out);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(w.out, (void *)1);
    hop_task_unref(t);
}

Test(example_delayed_value,
     cancelling_the_task_during_the_delay_returns_ecanceled_and_leaves_the_value_unset) {
    wait_t w = {.delay_ms = 10000, .timeout_ms = -1, .value = (void *)9};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_task, &w, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    uint64_t start = hop_time_now_ns();
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    cr_assert_lt(hop_time_now_ns() - start, 5000ull * 1000000u, "the 10 s timer held the task");
    HOP_ERR(w.status, HOP_ECANCELED);
    cr_assert_null(w.out);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    hop_task_unref(t);
}

Test(example_delayed_value, a_timeout_shorter_than_the_delay_withdraws_the_wait_with_etimedout) {
    wait_t w = {.delay_ms = 10000, .timeout_ms = 20, .value = (void *)9};
    run_on_manual(&w);
    HOP_ERR(w.status, HOP_ETIMEDOUT);
    cr_assert_null(w.out);
    cr_assert_geq(w.elapsed_ns, 20u * 1000000u);
    cr_assert_lt(w.elapsed_ns, 5000ull * 1000000u);
}

Test(example_delayed_value, a_timeout_longer_than_the_delay_returns_the_value) {
    wait_t w = {.delay_ms = 20, .timeout_ms = 5000, .value = (void *)3};
    run_on_manual(&w);
    HOP_OK(w.status);
    cr_assert_eq(w.out, (void *)3);
}

Test(example_delayed_value, a_zero_timeout_on_a_zero_delay_succeeds) {
    wait_t w = {.delay_ms = 0, .timeout_ms = 0, .value = (void *)4};
    run_on_manual(&w);
    HOP_OK(w.status);
    cr_assert_eq(w.out, (void *)4);
}

static void *await_twice(void *arg) {
    wait_t *w = arg;
    delayed_value_t dv;
    delayed_value_init(&dv, w->delay_ms, w->value, &w->out);
    uint64_t start = hop_time_now_ns();
    int a = hop_await(&dv.base);
    int b = hop_await(&dv.base);
    w->elapsed_ns = hop_time_now_ns() - start;
    w->status = a ? a : b;
    return NULL;
}

Test(example_delayed_value, awaiting_the_same_record_again_restarts_the_delay) {
    wait_t w = {.delay_ms = 30, .value = (void *)8};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_twice, &w, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    HOP_OK(w.status);
    cr_assert_eq(w.out, (void *)8);
    cr_assert_geq(w.elapsed_ns, 60u * 1000000u);
}

static hop_loop_t loop;

static void *loop_wait(void *arg) {
    (void)arg;
    void *out = NULL;
    int err = delayed_value_await(20, (void *)11, &out);
    /* A loop task's timer runs on its loop, and it resumes there. */
    bool on_loop = hop_loop_current() == &loop;
    return (void *)(intptr_t)(err == 0 && out == (void *)11 && on_loop);
}

Test(example_delayed_value, a_loop_task_gets_its_value_on_its_loop_thread) {
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), loop_wait, NULL, NULL, &t));
    void *ok = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &ok));
    cr_assert_eq(ok, (void *)1);
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
}

/* Timeouts and timers firing at the same moment, on many threads: every
 * await ends exactly once, with either the value or HOP_ETIMEDOUT, never
 * both and never a late write into a record that has left the stack. */
typedef struct {
    int iterations;
    int got_value;
    int timed_out;
    int wrong;
} race_t;

static void *race_task(void *arg) {
    race_t *r = arg;
    for (int i = 0; i < r->iterations; i++) {
        void *out = NULL;
        delayed_value_t dv;
        delayed_value_init(&dv, 1, (void *)(intptr_t)(i + 1), &out);
        int err = hop_await_timeout(&dv.base, 1);
        if (err == 0 && out == (void *)(intptr_t)(i + 1))
            r->got_value++;
        else if (err == HOP_ETIMEDOUT && out == NULL)
            r->timed_out++;
        else
            r->wrong++;
    }
    return NULL;
}

Test(example_delayed_value, timeouts_racing_the_timer_end_each_wait_exactly_once, .timeout = 240) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    enum { TASKS = 40, ITERATIONS = 50 };
    race_t races[TASKS];
    hop_task_t *tasks[TASKS];
    for (int i = 0; i < TASKS; i++) {
        races[i] = (race_t){.iterations = ITERATIONS};
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), race_task, &races[i], NULL, &tasks[i]));
    }
    int got = 0, timed_out = 0;
    for (int i = 0; i < TASKS; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(tasks[i]);
        cr_assert_eq(races[i].wrong, 0);
        got += races[i].got_value;
        timed_out += races[i].timed_out;
    }
    cr_assert_eq(got + timed_out, TASKS * ITERATIONS);
    HOP_OK(hop_pool_close(&pool));
}

static void *cancel_race_task(void *arg) {
    void **out = arg;
    return (void *)(intptr_t)delayed_value_await(1, (void *)1, out);
}

Test(example_delayed_value, cancels_racing_the_timer_end_each_task_exactly_once, .timeout = 240) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    enum { ROUNDS = 400 };
    int done = 0, cancelled = 0;
    for (int i = 0; i < ROUNDS; i++) {
        void *out = NULL;
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), cancel_race_task, &out, NULL, &t));
        if (i % 4)
            test_sleep_ms(i % 3);
        hop_task_cancel(t);
        void *status = NULL;
        int err = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &status);
        if (err == 0) {
            cr_assert_eq(status, (void *)0);
            cr_assert_eq(out, (void *)1);
            done++;
        } else {
            HOP_ERR(err, HOP_ECANCELED);
            cancelled++;
        }
        hop_task_unref(t);
    }
    cr_assert_eq(done + cancelled, ROUNDS);
    HOP_OK(hop_pool_close(&pool));
}
