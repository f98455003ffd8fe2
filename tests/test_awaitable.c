/* tests/test_awaitable.c: the public awaitable protocol, used the way a user
 * writes an awaitable of their own. */
#include <pthread.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(awaitable, .init = setup, .fini = teardown, .timeout = 60);

/* A user's awaitable: "wait for a value from another thread". suspend()
 * starts a thread that computes the value and completes the awaitable. */
typedef struct {
    hop_awaitable_t base;
    int input;
    int output;
    pthread_t thread;
    int ready_calls, suspend_calls, resume_calls;
} compute_t;

static void *compute_thread(void *arg) {
    compute_t *c = arg;
    test_sleep_ms(5);
    c->output = c->input * 2;
    hop_awaitable_complete(&c->base, 0);
    return NULL;
}

static bool compute_ready(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->ready_calls++;
    return false;
}

static bool compute_suspend(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->suspend_calls++;
    /* The task has already left its stack: handing c to a thread is safe. */
    pthread_create(&c->thread, NULL, compute_thread, c);
    return true;
}

static int compute_resume(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->resume_calls++;
    return c->output;
}

static const hop_awaitable_ops_t compute_ops = {
    .ready = compute_ready, .suspend = compute_suspend, .resume = compute_resume};

static void *compute_task(void *arg) {
    compute_t c = {.input = (int)(intptr_t)arg};
    HOP_OK(hop_awaitable_init(&c.base, &compute_ops));
    int result = hop_await(&c.base);
    pthread_join(c.thread, NULL);
    cr_assert_eq(c.ready_calls, 1);
    cr_assert_eq(c.suspend_calls, 1);
    cr_assert_eq(c.resume_calls, 1);
    return (void *)(intptr_t)result;
}

Test(awaitable, a_user_written_awaitable_completed_from_another_thread_resumes_the_task) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, compute_task, (void *)21, NULL, &t));
    test_run_until_finished(manual, t);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 42);
    hop_task_unref(t);
}

/* ready() returning true: no suspension at all. */
static int suspend_called;
static bool always_ready(hop_awaitable_t *aw) {
    (void)aw;
    return true;
}
static bool count_suspend(hop_awaitable_t *aw) {
    (void)aw;
    suspend_called++;
    return true;
}
static const hop_awaitable_ops_t ready_ops = {.ready = always_ready, .suspend = count_suspend};

static void *ready_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &ready_ops);
    cr_assert_eq(hop_await(&aw), 0);
    return NULL;
}

Test(awaitable, a_ready_awaitable_does_not_suspend) {
    suspend_called = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, ready_task, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "finished in one step: never suspended");
    cr_assert_eq(suspend_called, 0);
    hop_task_unref(t);
}

/* suspend() returning false: resumes at once, without the executor. */
static bool refuse_suspend(hop_awaitable_t *aw) {
    (void)aw;
    return false;
}
static int status_minus_one(hop_awaitable_t *aw) {
    (void)aw;
    return -1;
}
static const hop_awaitable_ops_t refuse_ops = {.suspend = refuse_suspend, .resume = status_minus_one};

static void *refuse_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &refuse_ops);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(hop_await(&aw), -1);
    /* Completing it now is a misuse that must be refused, not a resume. */
    HOP_ERR(hop_awaitable_complete(&aw, 0), HOP_EALREADY);
    return NULL;
}

Test(awaitable, suspend_returning_false_resumes_the_task_immediately) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, refuse_task, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
    hop_task_unref(t);
}

/* The awaitable stored by suspend(), for the test to complete by hand. */
static hop_awaitable_t *parked;
static bool park_suspend(hop_awaitable_t *aw) {
    parked = aw;
    return true;
}
static const hop_awaitable_ops_t park_ops = {.suspend = park_suspend};

static void *park_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &park_ops);
    int status = hop_await(&aw);
    return (void *)(intptr_t)status;
}

Test(awaitable, completing_twice_resumes_once_and_reports_ealready) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, park_task, NULL, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_awaitable_task(parked), t);
    HOP_OK(hop_awaitable_complete(parked, -77));
    HOP_ERR(hop_awaitable_complete(parked, -88), HOP_EALREADY);
    cr_assert_eq(hop_manual_executor_pending(manual), 1, "exactly one resume queued");
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, -77, "the status of the first completion wins");
    hop_task_unref(t);
}

/* Many threads race to complete the same awaitable: one wins. */
typedef struct {
    hop_awaitable_t *aw;
    int wins;
    pthread_barrier_t *barrier;
} racer_t;

static void *racer(void *arg) {
    racer_t *r = arg;
    pthread_barrier_wait(r->barrier);
    r->wins = hop_awaitable_complete(r->aw, 0) == 0;
    return NULL;
}

Test(awaitable, racing_completions_from_many_threads_resume_exactly_once) {
    for (int round = 0; round < 200; round++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(manual, park_task, NULL, NULL, &t));
        hop_manual_executor_run_all(manual, 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 4);
        racer_t racers[4];
        pthread_t threads[4];
        for (int i = 0; i < 4; i++) {
            racers[i] = (racer_t){.aw = parked, .barrier = &barrier};
            pthread_create(&threads[i], NULL, racer, &racers[i]);
        }
        int wins = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(threads[i], NULL);
            wins += racers[i].wins;
        }
        pthread_barrier_destroy(&barrier);
        cr_assert_eq(wins, 1);
        cr_assert_eq(hop_manual_executor_pending(manual), 1);
        hop_manual_executor_run_all(manual, 0);
        cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
        hop_task_unref(t);
    }
}

Test(awaitable, awaiting_outside_a_task_returns_enottask) {
    hop_awaitable_t aw;
    HOP_OK(hop_awaitable_init(&aw, &park_ops));
    HOP_ERR(hop_await(&aw), HOP_ENOTTASK);
    HOP_ERR(hop_yield(), HOP_ENOTTASK);
    HOP_ERR(hop_dispatch_to_executor(manual), HOP_ENOTTASK);
    hop_future_t f;
    hop_future_init(&f);
    HOP_ERR(hop_future_await(&f, NULL), HOP_ENOTTASK);
}

Test(awaitable, bad_awaitables_are_rejected) {
    hop_awaitable_t aw;
    static const hop_awaitable_ops_t no_suspend = {.ready = always_ready};
    HOP_ERR(hop_awaitable_init(NULL, &park_ops), HOP_EINVAL);
    HOP_ERR(hop_awaitable_init(&aw, NULL), HOP_EINVAL);
    HOP_ERR(hop_awaitable_init(&aw, &no_suspend), HOP_EINVAL);
    HOP_ERR(hop_await(NULL), HOP_EINVAL);
    HOP_ERR(hop_awaitable_complete(NULL, 0), HOP_EINVAL);
    hop_awaitable_init(&aw, &park_ops);
    HOP_ERR(hop_awaitable_complete(&aw, 0), HOP_EALREADY); /* never awaited */
    cr_assert_null(hop_awaitable_task(&aw));
}
