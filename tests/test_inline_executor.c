/* tests/test_inline_executor.c: the inline executor. */
#include <pthread.h>

#include "helpers.h"

TestSuite(inline_executor, .timeout = 60);

static int ran;
static hop_executor_t *seen_executor;
static void mark(hop_job_t *job) {
    (void)job;
    ran++;
    seen_executor = hop_executor_current();
}

Test(inline_executor, a_job_runs_before_submit_returns_with_inline_as_current_executor) {
    hop_job_t job;
    HOP_OK(hop_job_init(&job, mark));
    ran = 0;
    HOP_OK(hop_executor_submit(hop_inline_executor(), &job));
    cr_assert_eq(ran, 1);
    cr_assert_eq(seen_executor, hop_inline_executor());
    cr_assert_null(hop_executor_current(), "restored after the job");
    cr_assert_str_eq(hop_executor_name(hop_inline_executor()), "inline");
    test_assert_checks();
}

static int order[3], order_count;
static hop_job_t inner_job;
static void record_inner(hop_job_t *job) {
    (void)job;
    order[order_count++] = 2;
}
static void submit_nested(hop_job_t *job) {
    (void)job;
    order[order_count++] = 1;
    CHECK_OK(hop_executor_submit(hop_inline_executor(), &inner_job));
    order[order_count++] = 3; /* the nested job waits for this one to return */
}

Test(inline_executor, a_job_submitted_from_an_inline_job_runs_after_it_not_inside_it) {
    hop_job_t outer;
    hop_job_init(&outer, submit_nested);
    hop_job_init(&inner_job, record_inner);
    order_count = 0;
    HOP_OK(hop_executor_submit(hop_inline_executor(), &outer));
    cr_assert_eq(order_count, 3);
    cr_assert_eq(order[0], 1);
    cr_assert_eq(order[1], 3);
    cr_assert_eq(order[2], 2);
    test_assert_checks();
}

static void *yield_a_lot(void *arg) {
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        CHECK_OK(hop_yield());
    return (void *)(intptr_t)n;
}

Test(inline_executor, a_million_yields_do_not_grow_the_threads_stack) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_inline_executor(), yield_a_lot, (void *)(intptr_t)1000000, NULL, &t));
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "the task ran to its end inside spawn");
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 1000000);
    hop_task_unref(t);
    test_assert_checks();
}

static pthread_t thread_after_await;
static void *await_then_record_thread(void *arg) {
    CHECK_OK(hop_future_await(arg, NULL));
    thread_after_await = pthread_self();
    return NULL;
}

static void *complete_future(void *arg) {
    hop_future_set_result(arg, NULL);
    return NULL;
}

Test(inline_executor, a_task_resumes_on_the_thread_that_completes_its_future) {
    hop_future_t f;
    hop_future_init(&f);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_inline_executor(), await_then_record_thread, &f, NULL, &t));
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    pthread_t completer;
    pthread_create(&completer, NULL, complete_future, &f);
    pthread_join(completer, NULL);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert(pthread_equal(thread_after_await, completer), "resumed on the completing thread");
    hop_task_unref(t);
    test_assert_checks();
}
