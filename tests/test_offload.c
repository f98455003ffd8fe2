/* tests/test_offload.c: hop_run_in_executor on the deterministic
 * executors; tests/test_hop.c covers it on the pool and loops. */
#include <pthread.h>

#include "helpers.h"

static hop_executor_t *home, *workers;

static void setup(void) {
    HOP_OK(hop_manual_executor_create(&home));
    HOP_OK(hop_manual_executor_create(&workers));
}
static void teardown(void) {
    hop_manual_executor_run_all(home, 0);
    hop_manual_executor_run_all(workers, 0);
    HOP_OK(hop_manual_executor_destroy(home));
    HOP_OK(hop_manual_executor_destroy(workers));
}

TestSuite(offload, .init = setup, .fini = teardown, .timeout = 60);

static hop_executor_t *ran_on;
static void *triple(void *arg) {
    ran_on = hop_executor_current();
    CHECK(hop_task_current() == NULL, "fn runs as a plain job, not in a task");
    return (void *)((intptr_t)arg * 3);
}

static hop_executor_t *resumed_on;
static void *offload_task(void *arg) {
    int local = 7;
    void *result = NULL;
    CHECK_OK(hop_run_in_executor(workers, triple, arg, &result));
    resumed_on = hop_executor_current();
    return (void *)((intptr_t)result + local);
}

Test(offload, fn_runs_on_the_target_and_the_task_resumes_at_home_with_the_result) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_task, (void *)5, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_all(home, 0), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_manual_executor_pending(workers), 1, "the job waits on the target");
    cr_assert_eq(hop_manual_executor_run_all(workers, 0), 1);
    cr_assert_eq(ran_on, workers);
    cr_assert_eq(hop_manual_executor_pending(home), 1, "the completion went home");
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(resumed_on, home);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 22);
    cr_assert_eq(hop_task_executor(t), home, "the task never moved");
    hop_task_unref(t);
    test_assert_checks();
}

static void *offload_to_closed(void *arg) {
    (void)arg;
    void *result = (void *)1;
    CHECK_ERR(hop_run_in_executor(workers, triple, NULL, &result), HOP_ECLOSED);
    CHECK(result == (void *)1, "result untouched on error");
    CHECK_ERR(hop_run_in_executor(NULL, triple, NULL, NULL), HOP_EINVAL);
    CHECK_ERR(hop_run_in_executor(workers, NULL, NULL, NULL), HOP_EINVAL);
    return NULL;
}

Test(offload, a_closed_target_refuses_and_fn_never_runs) {
    HOP_OK(hop_manual_executor_close(workers));
    ran_on = NULL;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_to_closed, NULL, NULL, &t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_null(ran_on);
    hop_task_unref(t);
    test_assert_checks();
}

Test(offload, outside_a_task_it_returns_enottask) {
    HOP_ERR(hop_run_in_executor(workers, triple, NULL, NULL), HOP_ENOTTASK);
    cr_assert_eq(hop_manual_executor_pending(workers), 0);
    test_assert_checks();
}

static int fn_calls;
static void *count_call(void *arg) {
    fn_calls++;
    return arg;
}
static int destroyed_results;
static void count_destroy_result(void *result) { destroyed_results += (int)(intptr_t)result; }

static int cancelled_status;
static void *cancelled_offload(void *arg) {
    (void)arg;
    CHECK_OK(hop_yield());
    cancelled_status = hop_run_in_executor(workers, count_call, NULL, NULL);
    return NULL;
}

Test(offload, a_cancelled_task_does_not_start_the_job) {
    fn_calls = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, cancelled_offload, NULL, NULL, &t));
    hop_manual_executor_run_one(home);
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(fn_calls, 0);
    cr_assert_eq(hop_manual_executor_pending(workers), 0);
    cr_assert_eq(cancelled_status, HOP_ECANCELED);
    HOP_ERR(hop_future_result(hop_task_future(t), NULL), HOP_ECANCELED);
    hop_task_unref(t);
    test_assert_checks();
}

/* The target is driven by another thread: the completion crosses threads. */
static int stop_driver;
static void *drive(void *arg) {
    while (!__atomic_load_n(&stop_driver, __ATOMIC_ACQUIRE))
        if (hop_manual_executor_run_one(arg) == 0)
            sched_yield();
    return NULL;
}

static void *many_offloads(void *arg) {
    (void)arg;
    intptr_t sum = 0;
    for (intptr_t i = 0; i < 2000; i++) {
        void *r;
        CHECK_OK(hop_run_in_executor(workers, count_call, (void *)i, &r));
        sum += (intptr_t)r;
        CHECK(hop_executor_current() == home);
    }
    return (void *)sum;
}

Test(offload, thousands_of_round_trips_through_another_thread_each_return_once) {
    stop_driver = 0;
    fn_calls = 0;
    pthread_t driver;
    pthread_create(&driver, NULL, drive, workers);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, many_offloads, NULL, NULL, &t));
    test_run_until_finished(home, t);
    __atomic_store_n(&stop_driver, 1, __ATOMIC_RELEASE);
    pthread_join(driver, NULL);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 2000 * 1999 / 2);
    cr_assert_eq(fn_calls, 2000);
    hop_task_unref(t);
    test_assert_checks();
}

/* ---- Cancellation of an offloaded job ----------------------------------- */

static int offload_status;
static void *result_or_null;
static void *offload_and_record(void *arg) {
    (void)arg;
    result_or_null = (void *)1;
    offload_status = hop_run_in_executor_ex(workers, count_call, (void *)5, &result_or_null, count_destroy_result);
    return NULL;
}

Test(offload, cancelling_a_job_that_has_not_started_withdraws_it_and_fn_never_runs) {
    fn_calls = 0;
    destroyed_results = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_and_record, NULL, NULL, &t));
    hop_manual_executor_run_one(home);
    cr_assert_eq(hop_manual_executor_pending(workers), 1, "the job is queued");
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED, "the task did not wait for the job");
    cr_assert_eq(offload_status, HOP_ECANCELED);
    cr_assert_eq(result_or_null, (void *)1, "*result is untouched");
    /* The executor still holds the job: running it releases it, fn unrun. */
    hop_manual_executor_run_all(workers, 0);
    cr_assert_eq(fn_calls, 0);
    cr_assert_eq(destroyed_results, 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* fn blocks until told to go, so the cancel lands while it runs. */
static int release_fn;
static int fn_started;
static void *blocking_fn(void *arg) {
    __atomic_store_n(&fn_started, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&release_fn, __ATOMIC_ACQUIRE))
        sched_yield();
    return arg;
}

static void *offload_blocking(void *arg) {
    (void)arg;
    offload_status = hop_run_in_executor_ex(workers, blocking_fn, (void *)9, &result_or_null, count_destroy_result);
    return NULL;
}

static void *run_one_worker_job(void *arg) {
    hop_manual_executor_run_one(arg);
    return NULL;
}

Test(offload, cancelling_a_running_job_returns_at_once_and_its_result_goes_to_the_destructor) {
    destroyed_results = 0;
    release_fn = 0;
    fn_started = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_blocking, NULL, NULL, &t));
    hop_manual_executor_run_one(home);
    pthread_t worker;
    pthread_create(&worker, NULL, run_one_worker_job, workers);
    while (!__atomic_load_n(&fn_started, __ATOMIC_ACQUIRE))
        sched_yield();
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED, "the task finished while fn still runs");
    cr_assert_eq(offload_status, HOP_EINPROGRESS, "fn is still running: the code says so");
    cr_assert_eq(destroyed_results, 0);
    hop_task_unref(t); /* the job keeps what it needs alive by itself */
    __atomic_store_n(&release_fn, 1, __ATOMIC_RELEASE);
    pthread_join(worker, NULL);
    cr_assert_eq(destroyed_results, 9, "the late result went to the destructor");
    test_assert_checks();
}

/* Stress: cancels race jobs on a real pool. Every fn that runs hands its
 * result either to the task or to the destructor, exactly once. */
static long stress_runs, stress_returned, stress_destroyed;
/* Gated rounds: the task's first job (a long one) waits inside fn until the
 * test has cancelled the task, so those cancels land mid-job however the
 * threads are scheduled; the other rounds cancel at random moments. The gate
 * is numbered by round and the release only grows, so a job that sees its
 * release late (it polls) is never trapped by the next round's reset. */
static unsigned int stress_gate_round, stress_gate_entered, stress_gate_released;
static void *stress_fn(void *arg) {
    __atomic_fetch_add(&stress_runs, 1, __ATOMIC_RELAXED);
    if ((intptr_t)arg == 0) {
        /* Every seventh job is long, so that cancels also land mid-job. */
        struct timespec pause = {0, 300000L};
        nanosleep(&pause, NULL);
        unsigned int gate = test_load_uint(&stress_gate_round);
        if (gate != 0 && test_load_uint(&stress_gate_entered) < gate) {
            test_store_uint(&stress_gate_entered, gate);
            test_wait_for(&stress_gate_released, gate);
        }
    }
    for (volatile int i = 0; i < (int)(intptr_t)arg; i++)
        ;
    return (void *)1;
}
static void stress_destroy(void *result) { __atomic_fetch_add(&stress_destroyed, (long)(intptr_t)result, __ATOMIC_RELAXED); }

static void *stress_offloader(void *arg) {
    hop_executor_t *pool = arg;
    for (int i = 0;; i++) {
        void *result = NULL;
        int err = hop_run_in_executor_ex(pool, stress_fn, (void *)(intptr_t)(i % 7 * 300), &result, stress_destroy);
        if (err == HOP_ECANCELED || err == HOP_EINPROGRESS)
            return NULL;
        CHECK_OK(err);
        __atomic_fetch_add(&stress_returned, (long)(intptr_t)result, __ATOMIC_RELAXED);
    }
}

Test(offload, cancels_racing_jobs_on_a_pool_never_lose_or_duplicate_a_result, .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    for (int round = 0; round < 300; round++) {
        hop_task_t *t;
        unsigned int gate = round % 10 == 0 ? (unsigned int)round + 1 : 0;
        test_store_uint(&stress_gate_round, gate);
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), stress_offloader, hop_pool_executor(&pool), NULL, &t));
        if (gate != 0) {
            test_wait_for(&stress_gate_entered, gate); /* the task's first job is running */
        } else {
            /* 0 to 1 ms: before the task starts, between jobs, mid-job. */
            struct timespec pause = {0, (round % 21) * 50000L};
            nanosleep(&pause, NULL);
        }
        HOP_OK(hop_task_cancel(t));
        test_store_uint(&stress_gate_round, 0);
        if (gate != 0)
            test_store_uint(&stress_gate_released, gate);
        cr_assert_eq(hop_future_wait(hop_task_future(t), 10000, NULL), HOP_ECANCELED);
        hop_task_unref(t);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool)); /* finishes every job still queued */
    long runs = __atomic_load_n(&stress_runs, __ATOMIC_RELAXED);
    cr_assert_eq(stress_returned + stress_destroyed, runs, "runs %ld, returned %ld, destroyed %ld", runs,
                 stress_returned, stress_destroyed);
    cr_assert_gt(stress_destroyed, 0, "some cancels must have landed while a job ran");
    cr_log_info("runs %ld, returned %ld, destroyed %ld", runs, stress_returned, stress_destroyed);
    test_assert_checks();
}

/* ---- The ownership contract: each outcome, told apart by the code ------------ */

static void *offload_and_complete(void *arg) {
    (void)arg;
    result_or_null = (void *)1;
    offload_status = hop_run_in_executor_ex(workers, count_call, (void *)6, &result_or_null, count_destroy_result);
    return NULL;
}

Test(offload, a_cancel_that_comes_after_fn_returned_leaves_the_result_to_the_task) {
    fn_calls = 0;
    destroyed_results = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_and_complete, NULL, NULL, &t));
    hop_manual_executor_run_one(home);
    cr_assert_eq(hop_manual_executor_run_all(workers, 0), 1, "fn ran, its completion is queued at home");
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(fn_calls, 1);
    HOP_OK(offload_status);
    cr_assert_eq(result_or_null, (void *)6, "the result is the task's");
    cr_assert_eq(destroyed_results, 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* On a blocking pool, whose queue can withdraw: one thread, held by a gate
 * job, so the offloaded job waits in the queue when the cancel comes. */
static unsigned int gate;
static void gate_job(hop_job_t *job) {
    (void)job;
    while (!__atomic_load_n(&gate, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
}

typedef struct {
    unsigned int ran;   /* fn calls */
    unsigned int freed; /* by the task or by the destructor */
} owned_arg_t;

static void *use_owned(void *arg) {
    owned_arg_t *a = arg;
    __atomic_fetch_add(&a->ran, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&release_fn, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    return a;
}
static void free_owned(void *result) { __atomic_fetch_add(&((owned_arg_t *)result)->freed, 1, __ATOMIC_ACQ_REL); }

static hop_blocking_t blocking_pool;
static int owned_status;
static void *offload_owned(void *arg) {
    void *result = NULL;
    owned_status = hop_run_in_executor_ex(hop_blocking_executor(&blocking_pool), use_owned, arg, &result, free_owned);
    if (owned_status == 0 || owned_status == HOP_ECANCELED)
        free_owned(arg); /* the contract: the task owns arg again */
    return NULL;
}

Test(offload, a_cancelled_job_queued_on_a_blocking_pool_is_withdrawn_at_once_and_arg_is_the_tasks_again) {
    hop_blocking_options_t options = {.max_threads = 1};
    HOP_OK(hop_blocking_init(&blocking_pool, &options));
    gate = 0;
    hop_job_t blocker;
    hop_job_init(&blocker, gate_job);
    HOP_OK(hop_blocking_submit(&blocking_pool, &blocker));
    owned_arg_t arg = {0, 0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_owned, &arg, NULL, &t));
    hop_manual_executor_run_one(home);
    hop_blocking_stats_t s;
    for (int i = 0; i < 60000; i++) { /* until the thread has taken the gate job */
        HOP_OK(hop_blocking_stats(&blocking_pool, &s));
        if (s.queued == 1 && s.threads == 1 && s.threads_idle == 0)
            break;
        test_sleep_ms(1);
    }
    cr_assert_eq(s.queued, 1, "the job waits behind the gate");
    HOP_OK(hop_task_cancel(t));
    /* Withdrawn by the cancel itself: out of the queue before the task even
     * resumes, so it never waits for a thread. */
    HOP_OK(hop_blocking_stats(&blocking_pool, &s));
    cr_assert_eq(s.queued, 0);
    cr_assert_eq(s.jobs_withdrawn, 1);
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    cr_assert_eq(owned_status, HOP_ECANCELED);
    cr_assert_eq(arg.freed, 1, "freed by the task");
    __atomic_store_n(&gate, 1, __ATOMIC_RELEASE);
    HOP_OK(hop_blocking_close(&blocking_pool));
    cr_assert_eq(arg.ran, 0, "fn never ran");
    cr_assert_eq(arg.freed, 1);
    hop_task_unref(t);
    test_assert_checks();
}

Test(offload, a_job_cancelled_while_fn_runs_on_a_blocking_pool_returns_einprogress_and_fn_keeps_arg) {
    HOP_OK(hop_blocking_init(&blocking_pool, NULL));
    release_fn = 0;
    owned_arg_t arg = {0, 0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_owned, &arg, NULL, &t));
    hop_manual_executor_run_one(home);
    while (!__atomic_load_n(&arg.ran, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(home, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    cr_assert_eq(owned_status, HOP_EINPROGRESS);
    cr_assert_eq(__atomic_load_n(&arg.freed, __ATOMIC_ACQUIRE), 0, "fn still uses arg: nobody freed it");
    __atomic_store_n(&release_fn, 1, __ATOMIC_RELEASE);
    HOP_OK(hop_blocking_close(&blocking_pool)); /* fn has returned and the destructor run */
    cr_assert_eq(arg.ran, 1);
    cr_assert_eq(arg.freed, 1, "freed by the destructor");
    hop_task_unref(t);
    test_assert_checks();
}

Test(offload, a_job_that_completes_on_a_blocking_pool_returns_0_with_the_result) {
    HOP_OK(hop_blocking_init(&blocking_pool, NULL));
    release_fn = 1;
    owned_arg_t arg = {0, 0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(home, offload_owned, &arg, NULL, &t));
    test_run_until_finished(home, t);
    HOP_OK(owned_status);
    HOP_OK(hop_blocking_close(&blocking_pool));
    cr_assert_eq(arg.ran, 1);
    cr_assert_eq(arg.freed, 1, "freed by the task");
    hop_task_unref(t);
    test_assert_checks();
}
