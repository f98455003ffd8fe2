/* tests/test_example_progress.c: progress_run of examples/progress.h: the
 * percentages the awaiting task sees, where its handler runs, and what
 * cancelling the task does to the job and its result. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "../examples/progress.h"
#include "helpers.h"

static hop_executor_t *manual;
static hop_pool_t workers; /* where the jobs run */

static void setup(void) {
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_pool_init(&workers, &(hop_pool_options_t){.threads = 2}));
}
static void teardown(void) {
    HOP_OK(hop_pool_close(&workers));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_progress, .init = setup, .fini = teardown, .timeout = 60);

/* What the handler saw. */
typedef struct {
    int seen[256];
    int count;
    int wrong_context;
    hop_loop_t *expect_loop; /* NULL: not checked */
    hop_task_t *expect_task;
    sem_t *ack; /* posted after each call, if set */
} seen_t;

static void record(int percent, void *arg) {
    seen_t *s = arg;
    if (s->count < 256)
        s->seen[s->count] = percent;
    s->count++;
    if (s->expect_task && hop_task_current() != s->expect_task)
        s->wrong_context++;
    if (s->expect_loop && hop_loop_current() != s->expect_loop)
        s->wrong_context++;
    if (s->ack)
        sem_post(s->ack);
}

static void assert_increasing(const seen_t *s) {
    for (int i = 1; i < s->count && i < 256; i++)
        cr_assert_gt(s->seen[i], s->seen[i - 1], "call %d: %d after %d", i, s->seen[i], s->seen[i - 1]);
}

/* A job scripted by the test. */
typedef struct {
    const int *reports;
    int n;
    int status; /* returned at the end */
    sem_t *ack; /* waited on after each report, if set */
    int report_errors;
} script_t;

static int scripted(progress_reporter_t *r, void *arg, void **result) {
    script_t *s = arg;
    for (int i = 0; i < s->n; i++) {
        int err = progress_report(r, s->reports[i]);
        if (err)
            s->report_errors++;
        else if (s->ack)
            sem_wait(s->ack);
    }
    *result = (void *)0x5eed;
    return s->status;
}

typedef struct {
    hop_executor_t *job_executor;
    progress_job_fn job;
    void *job_arg;
    seen_t *seen;
    int status;
    void *result;
    hop_result_destructor_fn destructor;
} run_t;

static void *run_task(void *arg) {
    run_t *r = arg;
    if (r->seen && r->seen->expect_task == (hop_task_t *)1)
        r->seen->expect_task = hop_task_current();
    r->status = progress_run(r->job_executor, r->job, r->job_arg, r->seen ? record : NULL, r->seen,
                             &r->result, r->destructor);
    return NULL;
}

static void run_on_manual(run_t *r) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, r, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
}

Test(example_progress, every_report_reaches_the_task_in_order_when_the_job_waits_for_each) {
    sem_t ack;
    sem_init(&ack, 0, 0);
    static const int reports[] = {0, 25, 50, 75, 100};
    script_t script = {.reports = reports, .n = 5, .ack = &ack};
    seen_t seen = {.ack = &ack, .expect_task = (hop_task_t *)1};
    run_t r = {
        .job_executor = hop_pool_executor(&workers), .job = scripted, .job_arg = &script, .seen = &seen};
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(r.result, (void *)0x5eed);
    cr_assert_eq(seen.count, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(seen.seen[i], reports[i]);
    cr_assert_eq(seen.wrong_context, 0, "the handler ran outside the awaiting task");
    sem_destroy(&ack);
}

static int count_up(progress_reporter_t *r, void *arg, void **result) {
    (void)arg;
    for (int i = 1; i <= 100; i++) {
        progress_report(r, i);
        progress_report(r, i - 1); /* lower: dropped */
    }
    *result = NULL;
    return 0;
}

Test(example_progress, the_percentages_seen_strictly_increase_and_end_at_100) {
    seen_t seen = {0};
    run_t r = {.job_executor = hop_pool_executor(&workers), .job = count_up, .seen = &seen};
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_geq(seen.count, 1);
    cr_assert_leq(seen.count, 100);
    assert_increasing(&seen);
    cr_assert_eq(seen.seen[seen.count - 1], 100);
}

Test(example_progress, a_successful_job_that_never_reports_100_still_ends_at_100) {
    static const int reports[] = {10, 20};
    script_t script = {.reports = reports, .n = 2};
    seen_t seen = {0};
    run_t r = {
        .job_executor = hop_pool_executor(&workers), .job = scripted, .job_arg = &script, .seen = &seen};
    run_on_manual(&r);
    HOP_OK(r.status);
    assert_increasing(&seen);
    cr_assert_eq(seen.seen[seen.count - 1], 100);
}

Test(example_progress, a_failed_job_returns_its_error_and_its_percentages_stop_where_it_failed) {
    static const int reports[] = {10, 30};
    script_t script = {.reports = reports, .n = 2, .status = HOP_EBUSY};
    seen_t seen = {0};
    run_t r = {
        .job_executor = hop_pool_executor(&workers), .job = scripted, .job_arg = &script, .seen = &seen};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EBUSY);
    cr_assert_geq(seen.count, 1);
    cr_assert_eq(seen.seen[seen.count - 1], 30);
    cr_assert_null(r.result);
}

Test(example_progress, out_of_range_reports_are_rejected) {
    static const int reports[] = {-1, 101, 40};
    script_t script = {.reports = reports, .n = 3};
    seen_t seen = {0};
    run_t r = {
        .job_executor = hop_pool_executor(&workers), .job = scripted, .job_arg = &script, .seen = &seen};
    run_on_manual(&r);
    HOP_OK(r.status);
    cr_assert_eq(script.report_errors, 2);
    cr_assert_eq(seen.seen[0], 40);
    HOP_ERR(progress_report(NULL, 5), HOP_EINVAL);
}

static hop_loop_t loop;

Test(example_progress, the_handler_runs_on_the_awaiting_loop_tasks_thread_not_on_the_worker) {
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    seen_t seen = {.expect_loop = &loop, .expect_task = (hop_task_t *)1};
    run_t r = {.job_executor = hop_pool_executor(&workers), .job = count_up, .seen = &seen};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), run_task, &r, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(t);
    HOP_OK(r.status);
    cr_assert_geq(seen.count, 1);
    cr_assert_eq(seen.wrong_context, 0);
    HOP_OK(hop_loop_close(&loop));
}

/* A job that runs until told to stop, or until its reports are refused. */
typedef struct {
    atomic_int saw_cancel;
    atomic_int release; /* set by the test: return now */
    atomic_int started;
    int ignore_cancel;
} endless_t;

static atomic_int destroyed; /* results destroyed; a wrong one counts 1000 */

static void destroy_result(void *result) {
    atomic_fetch_add(&destroyed, result == (void *)0xd00d ? 1 : 1000);
}

static int endless(progress_reporter_t *r, void *arg, void **result) {
    endless_t *e = arg;
    atomic_store(&e->started, 1);
    for (int i = 0; !atomic_load(&e->release); i++) {
        if (progress_report(r, i < 99 ? i : 99) == HOP_ECANCELED) {
            atomic_store(&e->saw_cancel, 1);
            if (!e->ignore_cancel)
                return HOP_ECANCELED;
        }
        test_sleep_ms(1);
    }
    *result = (void *)0xd00d;
    return 0;
}

Test(example_progress, cancelling_the_waiting_task_returns_at_once_and_the_job_sees_ecanceled) {
    endless_t e = {.ignore_cancel = 0};
    atomic_store(&destroyed, 0);
    seen_t seen = {0};
    run_t r = {.job_executor = hop_pool_executor(&workers),
               .job = endless,
               .job_arg = &e,
               .seen = &seen,
               .destructor = destroy_result};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    while (seen.count < 3) { /* a few reports delivered: the task is waiting */
        if (hop_manual_executor_run_one(manual) == 0)
            test_sleep_ms(1);
    }
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    HOP_ERR(r.status, HOP_ECANCELED);
    hop_task_unref(t);
    for (int i = 0; i < 5000 && !atomic_load(&e.saw_cancel); i++)
        test_sleep_ms(1);
    cr_assert(atomic_load(&e.saw_cancel), "the job was never told");
    cr_assert_eq(atomic_load(&destroyed), 0, "a failed job has no result to destroy");
    assert_increasing(&seen);
}

Test(example_progress, a_result_the_task_no_longer_waits_for_goes_to_the_destructor_once) {
    endless_t e = {.ignore_cancel = 1};
    atomic_store(&destroyed, 0);
    run_t r = {.job_executor = hop_pool_executor(&workers),
               .job = endless,
               .job_arg = &e,
               .destructor = destroy_result};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_task, &r, NULL, &t));
    while (!atomic_load(&e.started))
        hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    HOP_ERR(r.status, HOP_ECANCELED);
    cr_assert_null(r.result);
    hop_task_unref(t);
    atomic_store(&e.release, 1);
    HOP_OK(hop_pool_close(&workers)); /* the job has finished after this */
    cr_assert_eq(atomic_load(&destroyed), 1);
    HOP_OK(hop_pool_init(&workers, &(hop_pool_options_t){.threads = 2}));
}

static void *run_without_result(void *arg) {
    run_t *r = arg;
    r->status = progress_run(r->job_executor, r->job, r->job_arg, NULL, NULL, NULL, r->destructor);
    return NULL;
}

Test(example_progress, with_nowhere_to_put_it_the_result_goes_to_the_destructor) {
    endless_t e = {.ignore_cancel = 0};
    atomic_store(&e.release, 1);
    atomic_store(&destroyed, 0);
    run_t r = {.job_executor = hop_pool_executor(&workers),
               .job = endless,
               .job_arg = &e,
               .destructor = destroy_result};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, run_without_result, &r, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    HOP_OK(r.status);
    cr_assert_eq(atomic_load(&destroyed), 1);
}

Test(example_progress, bad_arguments_and_a_closed_executor_are_reported) {
    run_t r = {.job_executor = NULL, .job = count_up};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EINVAL);
    r = (run_t){.job_executor = hop_pool_executor(&workers), .job = NULL};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_EINVAL);
    HOP_ERR(progress_run(hop_pool_executor(&workers), count_up, NULL, NULL, NULL, NULL, NULL), HOP_ENOTTASK);
    hop_executor_t *closed;
    HOP_OK(hop_manual_executor_create(&closed));
    HOP_OK(hop_manual_executor_close(closed));
    r = (run_t){.job_executor = closed, .job = count_up};
    run_on_manual(&r);
    HOP_ERR(r.status, HOP_ECLOSED);
    HOP_OK(hop_manual_executor_destroy(closed));
}

/* Many tasks on a pool, their jobs on another, some cancelled at random
 * moments: every result is owned exactly once (delivered or destroyed),
 * and every handler sees increasing percentages. */
typedef struct {
    run_t run;
    seen_t seen;
} stress_t;

static atomic_int stress_destroyed;

static void destroy_stress_result(void *result) {
    (void)result;
    atomic_fetch_add(&stress_destroyed, 1);
}

static int quick_job(progress_reporter_t *r, void *arg, void **result) {
    (void)arg;
    for (int i = 0; i <= 100; i += 5)
        if (progress_report(r, i) == HOP_ECANCELED)
            break; /* and still return a result: it must be destroyed */
    *result = (void *)1;
    return 0;
}

Test(example_progress, cancels_racing_completions_leave_every_result_with_exactly_one_owner, .timeout = 240) {
    hop_pool_t tasks_pool;
    HOP_OK(hop_pool_init(&tasks_pool, &(hop_pool_options_t){.threads = 2}));
    atomic_store(&stress_destroyed, 0);
    enum { N = 300 };
    static stress_t s[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        s[i] = (stress_t){.run = {.job_executor = hop_pool_executor(&workers),
                                  .job = quick_job,
                                  .destructor = destroy_stress_result}};
        s[i].run.seen = &s[i].seen;
        s[i].run.status = 1;
        HOP_OK(hop_task_spawn(hop_pool_executor(&tasks_pool), run_task, &s[i].run, NULL, &tasks[i]));
        if (i % 2)
            hop_task_cancel(tasks[i]);
    }
    int delivered = 0, not_started = 0;
    for (int i = 0; i < N; i++) {
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(tasks[i]);
        assert_increasing(&s[i].seen);
        if (s[i].run.status == 0) {
            cr_assert_eq(s[i].run.result, (void *)1);
            cr_assert_eq(s[i].seen.seen[s[i].seen.count - 1], 100);
            delivered++;
        } else if (s[i].run.status == 1) {
            not_started++; /* cancelled before it ran: no job at all */
        } else {
            HOP_ERR(s[i].run.status, HOP_ECANCELED);
        }
    }
    HOP_OK(hop_pool_close(&tasks_pool));
    HOP_OK(hop_pool_close(&workers)); /* every job has finished */
    cr_assert_eq(delivered + atomic_load(&stress_destroyed) + not_started, N,
                 "%d delivered, %d destroyed, %d never started", delivered, atomic_load(&stress_destroyed),
                 not_started);
    HOP_OK(hop_pool_init(&workers, &(hop_pool_options_t){.threads = 2}));
}
