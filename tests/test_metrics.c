/* tests/test_metrics.c: runtime metrics (hop/metrics.h) add up: jobs
 * submitted = run + queued (+ withdrawn), every histogram counts each job
 * run once, loops count their turns, live tasks are counted. */

#include <stdlib.h>

#include "helpers.h"

TestSuite(metrics, .timeout = 120);

static const hop_executor_metrics_t *find(const hop_metrics_t *m, const hop_executor_t *executor) {
    for (size_t i = 0; i < m->executor_count; i++)
        if (m->executors[i].executor == executor)
            return &m->executors[i];
    return NULL;
}

static uint64_t sum(const uint64_t *buckets) {
    uint64_t total = 0;
    for (int i = 0; i < HOP_METRICS_BUCKETS; i++)
        total += buckets[i];
    return total;
}

static void count_job(hop_job_t *job) { (void)job; }

Test(metrics, a_manual_executor_counts_submitted_run_and_queued_jobs) {
    HOP_OK(hop_metrics_enable(HOP_METRICS_TIMING));
    hop_executor_t *manual;
    HOP_OK(hop_manual_executor_create(&manual));
    hop_job_t jobs[10];
    for (int i = 0; i < 10; i++) {
        HOP_OK(hop_job_init(&jobs[i], count_job));
        HOP_OK(hop_executor_submit(manual, &jobs[i]));
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    hop_metrics_t *m = hop_metrics_snapshot();
    cr_assert_not_null(m);
    const hop_executor_metrics_t *x = find(m, manual);
    cr_assert_not_null(x);
    cr_assert_str_eq(x->kind, "manual");
    cr_assert_eq(x->jobs_submitted, 10u);
    cr_assert_eq(x->jobs_run, 4u);
    cr_assert_eq(x->queued, 6u);
    cr_assert_eq(x->queued_peak, 10u);
    cr_assert_eq(x->threads, 1u);
    cr_assert_eq(sum(x->run_time_histogram), 4u);
    cr_assert_eq(sum(x->queue_time_histogram), 4u);
    hop_metrics_free(m);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
    /* A destroyed executor leaves the metrics. */
    m = hop_metrics_snapshot();
    cr_assert_null(find(m, manual));
    hop_metrics_free(m);
    HOP_OK(hop_metrics_enable(0));
}

typedef struct {
    hop_job_t job;
    unsigned int *ran;
} pool_job_t;

static void pool_job(hop_job_t *job) { __atomic_fetch_add(((pool_job_t *)job)->ran, 1u, __ATOMIC_RELEASE); }

static void *yield_a_few_times(void *arg) {
    (void)arg;
    for (int i = 0; i < 3; i++)
        CHECK_OK(hop_yield());
    return NULL;
}

Test(metrics, a_pools_jobs_and_task_slices_add_up_once_it_is_idle) {
    HOP_OK(hop_metrics_enable(HOP_METRICS_TIMING));
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    enum { N = 2000, T = 50 };
    pool_job_t *jobs = calloc(N, sizeof *jobs);
    unsigned int ran = 0;
    for (int i = 0; i < N; i++) {
        jobs[i].ran = &ran;
        HOP_OK(hop_job_init(&jobs[i].job, pool_job));
        HOP_OK(hop_pool_submit(&pool, &jobs[i].job));
    }
    hop_task_t *tasks[T];
    for (int i = 0; i < T; i++)
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), yield_a_few_times, NULL, NULL, &tasks[i]));
    for (int i = 0; i < T; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(tasks[i]);
    }
    test_wait_for(&ran, N);
    /* A job's run is counted right after it returns, and a submission right
     * after its submit returns, by which time the job may have run: a
     * snapshot can miss one of each and still add up. So wait until the
     * counts say every submission is in (N jobs, and each task's first
     * slice plus one per yield at least); a deadline far past any delay. */
    hop_metrics_t *m;
    const hop_executor_metrics_t *x;
    uint64_t until = hop_time_now_ns() + 60ull * 1000000000u;
    for (;;) {
        m = hop_metrics_snapshot();
        x = find(m, hop_pool_executor(&pool));
        cr_assert_not_null(x);
        if (x->queued == 0 && x->jobs_run == x->jobs_submitted && x->jobs_submitted >= (uint64_t)N + T * 4u)
            break;
        if (hop_time_now_ns() > until)
            break; /* the assertions below say which count is off */
        hop_metrics_free(m);
        test_sleep_ms(1);
    }
    cr_assert_str_eq(x->kind, "pool");
    cr_assert_geq(x->jobs_submitted, (uint64_t)N + T * 4u);
    cr_assert_eq(x->jobs_submitted, x->jobs_run + x->queued + x->jobs_withdrawn);
    cr_assert_eq(sum(x->run_time_histogram), x->jobs_run);
    cr_assert_eq(sum(x->queue_time_histogram), x->jobs_run);
    cr_assert_geq(x->queued_peak, 1u);
    cr_assert_leq(x->threads, 2u);
    cr_assert_gt(x->busy_ns, 0u);
    hop_metrics_free(m);
    HOP_OK(hop_pool_close(&pool));
    free(jobs);
    HOP_OK(hop_metrics_enable(0));
}

static hop_event_t parked;

static void *park(void *arg) {
    (void)arg;
    CHECK_OK(hop_event_wait(&parked));
    return NULL;
}

Test(metrics, a_loop_counts_its_turns_and_the_tasks_it_owns) {
    HOP_OK(hop_metrics_enable(HOP_METRICS_TIMING));
    HOP_OK(hop_event_init(&parked));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *tasks[3];
    for (int i = 0; i < 3; i++) {
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), park, NULL, NULL, &tasks[i]));
        test_wait_suspended(tasks[i]);
    }
    hop_metrics_t *m = hop_metrics_snapshot();
    const hop_executor_metrics_t *x = find(m, hop_loop_executor(&loop));
    cr_assert_not_null(x);
    cr_assert_str_eq(x->kind, "loop");
    cr_assert_eq(x->tasks_alive, 3u);
    cr_assert_geq(m->tasks_alive, 3u);
    cr_assert_geq(m->tasks_alive_peak, 3u);
    cr_assert_geq(m->stacks_mapped, 3u);
    cr_assert_gt(x->turns, 0u);
    cr_assert_eq(sum(x->turn_time_histogram), x->turns);
    cr_assert_eq(x->jobs_run, 3u); /* each task's first slice */
    hop_metrics_free(m);
    HOP_OK(hop_event_set(&parked));
    for (int i = 0; i < 3; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(tasks[i]);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_metrics_enable(0));
}

Test(metrics, unknown_flags_are_refused) { HOP_ERR(hop_metrics_enable(1u << 7), HOP_EINVAL); }
