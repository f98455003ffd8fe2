/* tests/test_manual_executor.c: the manual executor, and dispatching tasks
 * between executors. */
#include <pthread.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    if (manual) {
        hop_manual_executor_run_all(manual, 0);
        HOP_OK(hop_manual_executor_destroy(manual));
    }
}

TestSuite(manual_executor, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    hop_job_t job;
    int id;
    int *log;
    int *log_count;
} logged_job_t;

static void log_job(hop_job_t *job) {
    logged_job_t *j = (logged_job_t *)job;
    j->log[(*j->log_count)++] = j->id;
}

Test(manual_executor, jobs_run_one_at_a_time_in_submission_order) {
    int log[5], count = 0;
    logged_job_t jobs[5];
    for (int i = 0; i < 5; i++) {
        jobs[i] = (logged_job_t){.id = i, .log = log, .log_count = &count};
        hop_job_init(&jobs[i].job, log_job);
        HOP_OK(hop_executor_submit(manual, &jobs[i].job));
    }
    cr_assert_eq(count, 0, "nothing runs until asked");
    cr_assert_eq(hop_manual_executor_pending(manual), 5);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(count, 1);
    cr_assert_eq(hop_manual_executor_run_all(manual, 2), 2);
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), 2);
    cr_assert_eq(hop_manual_executor_run_one(manual), 0);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(log[i], i);
    test_assert_checks();
}

static void *yield_twice(void *arg) {
    CHECK_OK(hop_yield());
    CHECK_OK(hop_yield());
    return arg;
}

Test(manual_executor, after_close_new_work_is_refused_but_accepted_tasks_finish) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, yield_twice, (void *)4, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    HOP_OK(hop_manual_executor_close(manual));
    HOP_ERR(hop_manual_executor_close(manual), HOP_EALREADY);
    hop_job_t job;
    hop_job_init(&job, log_job);
    HOP_ERR(hop_executor_submit(manual, &job), HOP_ECLOSED);
    hop_task_t *refused = (hop_task_t *)0x1;
    HOP_ERR(hop_task_spawn(manual, yield_twice, NULL, NULL, &refused), HOP_ECLOSED);
    cr_assert_null(refused);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 1, "the refused task's stack was released");
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "continuations of an accepted task still ran");
    hop_task_unref(t);
    test_assert_checks();
}

Test(manual_executor, destroy_refuses_while_jobs_are_queued) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, yield_twice, NULL, NULL, &t));
    HOP_ERR(hop_manual_executor_destroy(manual), HOP_EBUSY);
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(t);
    test_assert_checks();
}

Test(manual_executor, calls_on_something_that_is_not_a_manual_executor_return_einval) {
    HOP_ERR(hop_manual_executor_create(NULL), HOP_EINVAL);
    HOP_ERR(hop_manual_executor_run_one(NULL), HOP_EINVAL);
    HOP_ERR(hop_manual_executor_run_one(hop_inline_executor()), HOP_EINVAL);
    HOP_ERR(hop_manual_executor_run_all(hop_inline_executor(), 0), HOP_EINVAL);
    HOP_ERR((int)hop_manual_executor_pending(hop_inline_executor()), HOP_EINVAL);
    HOP_ERR(hop_manual_executor_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_manual_executor_destroy(hop_inline_executor()), HOP_EINVAL);
    hop_job_t job;
    HOP_ERR(hop_job_init(NULL, log_job), HOP_EINVAL);
    HOP_ERR(hop_job_init(&job, NULL), HOP_EINVAL);
    HOP_ERR(hop_executor_submit(NULL, &job), HOP_EINVAL);
    HOP_ERR(hop_executor_submit(manual, NULL), HOP_EINVAL);
    cr_assert_str_eq(hop_executor_name(NULL), "?");
    test_assert_checks();
}

static unsigned int counted;
static void count_job(hop_job_t *job) {
    (void)job;
    __atomic_fetch_add(&counted, 1, __ATOMIC_RELAXED);
}

static void *submit_many(void *arg) {
    hop_job_t *jobs = arg;
    for (int i = 0; i < 10000; i++)
        CHECK_OK(hop_executor_submit(manual, &jobs[i]));
    return NULL;
}

Test(manual_executor, submissions_from_many_threads_each_run_exactly_once) {
    static hop_job_t jobs[4][10000];
    counted = 0;
    pthread_t threads[4];
    for (int t = 0; t < 4; t++) {
        for (int i = 0; i < 10000; i++)
            hop_job_init(&jobs[t][i], count_job);
        pthread_create(&threads[t], NULL, submit_many, jobs[t]);
    }
    int ran = 0;
    while (ran < 40000)
        ran += hop_manual_executor_run_all(manual, 0);
    for (int t = 0; t < 4; t++)
        pthread_join(threads[t], NULL);
    cr_assert_eq(ran, 40000);
    cr_assert_eq(counted, 40000);
    test_assert_checks();
}

/* Dispatching between executors. */
static hop_executor_t *other;
static hop_executor_t *where[3];

static void *dispatch_round_trip(void *arg) {
    (void)arg;
    int local = 10;
    where[0] = hop_executor_current();
    CHECK_OK(hop_dispatch_to_executor(other));
    where[1] = hop_executor_current();
    local += 5;
    CHECK_OK(hop_dispatch_to_executor(manual));
    where[2] = hop_executor_current();
    return (void *)(intptr_t)local;
}

Test(manual_executor, dispatch_moves_the_rest_of_the_task_to_the_other_executor) {
    HOP_OK(hop_manual_executor_create(&other));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, dispatch_round_trip, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), 1);
    cr_assert_eq(hop_manual_executor_pending(other), 1, "the task is queued on the other executor");
    cr_assert_eq(hop_task_executor(t), other);
    cr_assert_eq(hop_manual_executor_run_all(other, 0), 1);
    cr_assert_eq(hop_manual_executor_pending(manual), 1);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(where[0], manual);
    cr_assert_eq(where[1], other);
    cr_assert_eq(where[2], manual);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 15);
    hop_task_unref(t);
    HOP_OK(hop_manual_executor_destroy(other));
    test_assert_checks();
}

static void *dispatch_to_closed(void *arg) {
    (void)arg;
    CHECK_ERR(hop_dispatch_to_executor(other), HOP_ECLOSED);
    CHECK(hop_executor_current() == manual, "a refused dispatch leaves the task where it was");
    CHECK_ERR(hop_dispatch_to_executor(NULL), HOP_EINVAL);
    return (void *)1;
}

Test(manual_executor, dispatch_to_a_closed_executor_returns_eclosed_and_stays_home) {
    HOP_OK(hop_manual_executor_create(&other));
    HOP_OK(hop_manual_executor_close(other));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, dispatch_to_closed, NULL, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(hop_manual_executor_pending(other), 0);
    hop_task_unref(t);
    HOP_OK(hop_manual_executor_destroy(other));
    test_assert_checks();
}
