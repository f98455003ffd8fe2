/* tests/test_future.c: futures completed from any thread, awaited by tasks,
 * watched by callbacks, and waited on by plain threads. */
#include <pthread.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(future, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    hop_future_t *future;
    long delay_ms;
    void *result;
} completer_t;

static void *complete_later(void *arg) {
    completer_t *c = arg;
    test_sleep_ms(c->delay_ms);
    hop_future_set_result(c->future, c->result);
    return NULL;
}

static void *await_future(void *arg) {
    void *result = NULL;
    int status = hop_future_await(arg, &result);
    CHECK(status == 0, "await: %s", hop_strerror(status));
    return result;
}

Test(future, a_future_completed_from_another_pthread_wakes_the_awaiting_task) {
    hop_future_t f;
    HOP_OK(hop_future_init(&f));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_future, &f, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    pthread_t thread;
    completer_t c = {.future = &f, .delay_ms = 10, .result = (void *)0xbeef};
    pthread_create(&thread, NULL, complete_later, &c);
    test_run_until_finished(manual, t);
    pthread_join(thread, NULL);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq(result, (void *)0xbeef);
    hop_task_unref(t);
    test_assert_checks();
}

Test(future, several_tasks_awaiting_one_future_all_wake_with_the_result) {
    hop_future_t f;
    hop_future_init(&f);
    hop_task_t *tasks[8];
    for (int i = 0; i < 8; i++)
        HOP_OK(hop_task_spawn(manual, await_future, &f, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&f, (void *)99));
    cr_assert_eq(hop_manual_executor_pending(manual), 8);
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 8; i++) {
        void *result;
        HOP_OK(hop_future_result(hop_task_future(tasks[i]), &result));
        cr_assert_eq(result, (void *)99);
        hop_task_unref(tasks[i]);
    }
    test_assert_checks();
}

Test(future, awaiting_a_completed_future_does_not_suspend) {
    hop_future_t f;
    hop_future_init(&f);
    HOP_OK(hop_future_set_result(&f, (void *)3));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_future, &f, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    test_assert_checks();
}

Test(future, completing_twice_is_rejected_and_keeps_the_first_outcome) {
    hop_future_t f;
    hop_future_init(&f);
    HOP_OK(hop_future_set_result(&f, (void *)1));
    HOP_ERR(hop_future_set_result(&f, (void *)2), HOP_EALREADY);
    HOP_ERR(hop_future_set_error(&f, HOP_ECANCELED), HOP_EALREADY);
    void *result;
    HOP_OK(hop_future_result(&f, &result));
    cr_assert_eq(result, (void *)1);
    test_assert_checks();
}

Test(future, an_error_completion_is_reported_to_the_awaiter) {
    hop_future_t f;
    hop_future_init(&f);
    HOP_OK(hop_future_set_error(&f, HOP_ETIMEDOUT));
    void *result = (void *)1;
    HOP_ERR(hop_future_result(&f, &result), HOP_ETIMEDOUT);
    cr_assert_null(result);
    test_assert_checks();
}

Test(future, bad_arguments_are_rejected) {
    hop_future_t f;
    hop_future_init(&f);
    hop_future_waiter_t w;
    HOP_ERR(hop_future_init(NULL), HOP_EINVAL);
    HOP_ERR(hop_future_set_result(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_future_set_error(&f, 0), HOP_EINVAL);
    HOP_ERR(hop_future_set_error(&f, 5), HOP_EINVAL);
    HOP_ERR(hop_future_result(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_future_result(&f, NULL), HOP_EAGAIN);
    HOP_ERR(hop_future_wait(NULL, 0, NULL), HOP_EINVAL);
    HOP_ERR(hop_future_wait(&f, -5, NULL), HOP_EINVAL);
    HOP_ERR(hop_future_then(&f, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_future_then(&f, &w, NULL, NULL), HOP_EINVAL);
    cr_assert_not(hop_future_is_done(NULL));
    cr_assert_not(hop_future_is_done(&f));
    test_assert_checks();
}

static void add_result(hop_future_t *f, void *arg) {
    void *result;
    hop_future_result(f, &result);
    *(intptr_t *)arg += (intptr_t)result;
}

Test(future, then_callbacks_run_in_order_on_completion_or_at_once_if_done) {
    hop_future_t f;
    hop_future_init(&f);
    intptr_t sum = 0;
    hop_future_waiter_t w1, w2, w3;
    HOP_OK(hop_future_then(&f, &w1, add_result, &sum));
    HOP_OK(hop_future_then(&f, &w2, add_result, &sum));
    cr_assert_eq(sum, 0);
    HOP_OK(hop_future_set_result(&f, (void *)10));
    cr_assert_eq(sum, 20);
    HOP_OK(hop_future_then(&f, &w3, add_result, &sum));
    cr_assert_eq(sum, 30, "registering on a done future runs the callback at once");
    test_assert_checks();
}

Test(future, a_plain_thread_blocks_until_another_thread_completes) {
    hop_future_t f;
    hop_future_init(&f);
    pthread_t thread;
    completer_t c = {.future = &f, .delay_ms = 20, .result = (void *)5};
    pthread_create(&thread, NULL, complete_later, &c);
    void *result;
    HOP_OK(hop_future_wait(&f, HOP_WAIT_FOREVER, &result));
    cr_assert_eq(result, (void *)5);
    pthread_join(thread, NULL);
    test_assert_checks();
}

Test(future, a_blocking_wait_times_out_and_leaves_the_future_usable) {
    hop_future_t f;
    hop_future_init(&f);
    HOP_ERR(hop_future_wait(&f, 0, NULL), HOP_ETIMEDOUT);
    HOP_ERR(hop_future_wait(&f, 20, NULL), HOP_ETIMEDOUT);
    /* The timed-out waiter was withdrawn: completing must not touch it. */
    HOP_OK(hop_future_set_result(&f, (void *)8));
    void *result;
    HOP_OK(hop_future_wait(&f, 0, &result));
    cr_assert_eq(result, (void *)8);
    test_assert_checks();
}

static void *blocking_wait_in_task(void *arg) {
    return (void *)(intptr_t)hop_future_wait(arg, 10, NULL);
}

Test(future, blocking_wait_inside_a_task_is_refused_with_edeadlk) {
    hop_future_t f;
    hop_future_init(&f);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, blocking_wait_in_task, &f, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, HOP_EDEADLK);
    hop_task_unref(t);
    test_assert_checks();
}

/* Timeouts racing completion: the waiter's node is either withdrawn or
 * notified, never both and never touched after wait returns (ASan/TSan). */
static void *complete_now(void *arg) {
    hop_future_set_result(arg, (void *)1);
    return NULL;
}

Test(future, timeouts_racing_completion_resolve_to_one_outcome, .timeout = 120) {
    int completed = 0, timed_out = 0;
    for (int i = 0; i < 2000; i++) {
        hop_future_t f;
        hop_future_init(&f);
        pthread_t thread;
        pthread_create(&thread, NULL, complete_now, &f);
        int status = hop_future_wait(&f, 1, NULL);
        cr_assert(status == 0 || status == HOP_ETIMEDOUT, "status %s", hop_err_name(status));
        if (status == 0)
            completed++;
        else
            timed_out++;
        pthread_join(thread, NULL);
        cr_assert(hop_future_is_done(&f));
    }
    cr_assert_eq(completed + timed_out, 2000);
    test_assert_checks();
}

/* Stress: many tasks on two manual executors, each driven by its own
 * thread, await futures completed by a third thread. Every task must finish
 * exactly once. */
#define STRESS_TASKS 64
#define STRESS_ROUNDS 200

typedef struct {
    hop_future_t futures[STRESS_ROUNDS];
    long sum;
} stress_slot_t;

static stress_slot_t slots[STRESS_TASKS];
static unsigned int finished;
static int stop_drivers;

static void *stress_task(void *arg) {
    stress_slot_t *slot = arg;
    for (int r = 0; r < STRESS_ROUNDS; r++) {
        void *value;
        CHECK_OK(hop_future_await(&slot->futures[r], &value));
        slot->sum += (intptr_t)value;
    }
    __atomic_fetch_add(&finished, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

static void *drive(void *arg) {
    while (!__atomic_load_n(&stop_drivers, __ATOMIC_SEQ_CST))
        if (hop_manual_executor_run_one(arg) == 0)
            sched_yield();
    return NULL;
}

static void *complete_all(void *arg) {
    (void)arg;
    for (int r = 0; r < STRESS_ROUNDS; r++)
        for (int i = 0; i < STRESS_TASKS; i++)
            hop_future_set_result(&slots[i].futures[r], (void *)(intptr_t)(r + 1));
    return NULL;
}

Test(future, stress_many_tasks_on_two_threads_awaiting_futures_completed_by_a_third, .timeout = 120) {
    hop_executor_t *second;
    HOP_OK(hop_manual_executor_create(&second));
    finished = 0;
    stop_drivers = 0;
    hop_task_t *tasks[STRESS_TASKS];
    for (int i = 0; i < STRESS_TASKS; i++) {
        slots[i].sum = 0;
        for (int r = 0; r < STRESS_ROUNDS; r++)
            hop_future_init(&slots[i].futures[r]);
        HOP_OK(hop_task_spawn(i % 2 ? second : manual, stress_task, &slots[i], NULL, &tasks[i]));
    }
    pthread_t d1, d2, c;
    pthread_create(&d1, NULL, drive, manual);
    pthread_create(&d2, NULL, drive, second);
    pthread_create(&c, NULL, complete_all, NULL);
    pthread_join(c, NULL);
    while (__atomic_load_n(&finished, __ATOMIC_SEQ_CST) < STRESS_TASKS)
        test_sleep_ms(1);
    __atomic_store_n(&stop_drivers, 1, __ATOMIC_SEQ_CST);
    pthread_join(d1, NULL);
    pthread_join(d2, NULL);
    long expected = (long)STRESS_ROUNDS * (STRESS_ROUNDS + 1) / 2;
    for (int i = 0; i < STRESS_TASKS; i++) {
        cr_assert_eq(slots[i].sum, expected);
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE);
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(hop_manual_executor_pending(second), 0);
    HOP_OK(hop_manual_executor_destroy(second));
    test_assert_checks();
}

static int then_calls;
static void count_then(hop_future_t *future, void *arg) {
    (void)future;
    (void)arg;
    then_calls++;
}

Test(future, a_withdrawn_then_callback_never_runs) {
    then_calls = 0;
    hop_future_t f;
    HOP_OK(hop_future_init(&f));
    hop_future_waiter_t first, second;
    HOP_OK(hop_future_then(&f, &first, count_then, NULL));
    HOP_OK(hop_future_then(&f, &second, count_then, NULL));
    HOP_OK(hop_future_then_cancel(&f, &first));
    HOP_ERR(hop_future_then_cancel(&f, &first), HOP_EALREADY); /* twice is harmless */
    HOP_OK(hop_future_set_result(&f, NULL));
    cr_assert_eq(then_calls, 1, "only the waiter still registered runs");
    HOP_ERR(hop_future_then_cancel(&f, &second), HOP_EALREADY);
    HOP_ERR(hop_future_then_cancel(NULL, &second), HOP_EINVAL);
    HOP_ERR(hop_future_then_cancel(&f, NULL), HOP_EINVAL);
    test_assert_checks();
}

static hop_future_t cancelled_future;
static int cancelled_await;
static void *await_cancelled_future(void *arg) {
    (void)arg;
    cancelled_await = hop_future_await(&cancelled_future, NULL);
    return NULL;
}

Test(future, a_cancelled_awaiter_leaves_the_future_and_the_other_waiters_intact) {
    then_calls = 0;
    HOP_OK(hop_future_init(&cancelled_future));
    hop_future_waiter_t waiter;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_cancelled_future, NULL, NULL, &t));
    hop_manual_executor_run_one(manual);
    HOP_OK(hop_future_then(&cancelled_future, &waiter, count_then, NULL));
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(cancelled_await, HOP_ECANCELED);
    HOP_OK(hop_future_set_result(&cancelled_future, NULL));
    cr_assert_eq(then_calls, 1);
    hop_task_unref(t);
    test_assert_checks();
}

static void count_then_runs(hop_future_t *future, void *arg) {
    (void)future;
    __atomic_fetch_add((int *)arg, 1, __ATOMIC_RELAXED);
}

Test(future, cancelling_a_waiter_that_waits_on_another_future_changes_nothing) {
    hop_future_t mine, other;
    hop_future_init(&mine);
    hop_future_init(&other);
    hop_future_waiter_t real, elsewhere;
    int real_runs = 0, elsewhere_runs = 0;
    HOP_OK(hop_future_then(&mine, &real, count_then_runs, &real_runs));
    HOP_OK(hop_future_then(&other, &elsewhere, count_then_runs, &elsewhere_runs));
    HOP_ERR(hop_future_then_cancel(&mine, &elsewhere), HOP_EINVAL);
    HOP_OK(hop_future_set_result(&mine, NULL));
    cr_assert_eq(real_runs, 1, "the future's own waiter was dropped");
    HOP_OK(hop_future_set_result(&other, NULL));
    cr_assert_eq(elsewhere_runs, 1);
    test_assert_checks();
}

Test(future, cancelling_a_zeroed_waiter_that_was_never_registered_returns_ealready) {
    hop_future_t f;
    hop_future_init(&f);
    hop_future_waiter_t real, never = {0};
    int runs = 0;
    HOP_OK(hop_future_then(&f, &real, count_then_runs, &runs));
    HOP_ERR(hop_future_then_cancel(&f, &never), HOP_EALREADY);
    HOP_OK(hop_future_set_result(&f, NULL));
    cr_assert_eq(runs, 1);
    test_assert_checks();
}
