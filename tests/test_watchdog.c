/* tests/test_watchdog.c: the stalled-loop watchdog (hop/debug.h): a long job,
 * a long task slice and a pool worker stuck in one job are each reported
 * once; a loop busy with many short jobs is not. */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

TestSuite(watchdog, .timeout = 120);

#define MAX_STALLS 8

static pthread_mutex_t stalls_lock = PTHREAD_MUTEX_INITIALIZER;
static hop_stall_t stalls[MAX_STALLS];
static unsigned int nstalls;

static void on_stall(const hop_stall_t *stall, void *arg) {
    (void)arg;
    pthread_mutex_lock(&stalls_lock);
    if (nstalls < MAX_STALLS)
        stalls[nstalls] = *stall;
    nstalls++;
    pthread_mutex_unlock(&stalls_lock);
}

static unsigned int stall_count(void) {
    pthread_mutex_lock(&stalls_lock);
    unsigned int n = nstalls;
    pthread_mutex_unlock(&stalls_lock);
    return n;
}

static void start_watchdog(void) {
    nstalls = 0;
    hop_watchdog_options_t options = {.threshold_ns = 100000000u, .on_stall = on_stall};
    HOP_OK(hop_debug_watchdog_start(&options));
}

typedef struct {
    hop_job_t job;
    unsigned int done;
} sleepy_job_t;

static void sleep_200ms(hop_job_t *job) {
    test_sleep_ms(200);
    __atomic_store_n(&((sleepy_job_t *)job)->done, 1u, __ATOMIC_RELEASE);
}

Test(watchdog, a_job_that_sleeps_200_ms_on_a_loop_is_reported_once) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    start_watchdog();
    sleepy_job_t job = {0};
    HOP_OK(hop_job_init(&job.job, sleep_200ms));
    HOP_OK(hop_loop_post(&loop, &job.job));
    test_wait_for(&job.done, 1u);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_debug_watchdog_stop()); /* no report after this */
    cr_assert_eq(stall_count(), 1u);
    cr_assert(!stalls[0].turn);
    cr_assert(!stalls[0].has_task);
    cr_assert_eq(stalls[0].executor, hop_loop_executor(&loop));
    cr_assert_str_eq(stalls[0].executor_kind, "loop");
    cr_assert(stalls[0].job_fn == sleep_200ms);
    cr_assert_geq(stalls[0].running_ns, 100000000u);
}

typedef struct {
    hop_job_t job;
    hop_loop_t *loop;
    uint64_t until_ns;
    unsigned int done;
} busy_job_t;

static void short_job(hop_job_t *job) {
    busy_job_t *b = (busy_job_t *)job;
    if (hop_time_now_ns() >= b->until_ns) {
        __atomic_store_n(&b->done, 1u, __ATOMIC_RELEASE);
        return;
    }
    CHECK_OK(hop_loop_post(b->loop, job));
}

/* Busy for three thresholds in a row, in turns of 16 short jobs: a watchdog
 * that took the busy stretch (or a turn that never ends) for one stall
 * reports it. The threshold is 500 ms so that a loaded machine (TSan, CPU
 * hogs) does not stretch one turn of 16 jobs past it. */
Test(watchdog, a_loop_busy_with_many_short_jobs_is_not_reported) {
    hop_loop_t loop;
    hop_loop_options_t loop_options = {.batch = 16};
    HOP_OK(hop_loop_init(&loop, &loop_options));
    HOP_OK(hop_loop_start(&loop));
    nstalls = 0;
    hop_watchdog_options_t options = {.threshold_ns = 500000000u, .on_stall = on_stall};
    HOP_OK(hop_debug_watchdog_start(&options));
    busy_job_t job = {.loop = &loop, .until_ns = hop_time_now_ns() + 1500000000u};
    HOP_OK(hop_job_init(&job.job, short_job));
    HOP_OK(hop_loop_post(&loop, &job.job));
    test_wait_for(&job.done, 1u);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_debug_watchdog_stop());
    cr_assert_eq(stall_count(), 0u, "reported: turn %d, %llu ns", stalls[0].turn,
                 (unsigned long long)stalls[0].running_ns);
}

static void *spin_without_awaiting(void *arg) {
    (void)arg;
    test_sleep_ms(200); /* a blocking call inside a task: the bug the watchdog finds */
    return NULL;
}

Test(watchdog, a_task_that_runs_200_ms_without_suspending_is_reported_with_its_name_and_spawn_site) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    start_watchdog();
    hop_task_options_t options = {.name = "sleeper"};
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), spin_without_awaiting, NULL, &options, &task));
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, NULL));
    uint64_t id = hop_task_id(task);
    hop_task_unref(task);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_debug_watchdog_stop());
    cr_assert_eq(stall_count(), 1u);
    cr_assert(stalls[0].has_task);
    cr_assert_eq(stalls[0].task.id, id);
    cr_assert_str_eq(stalls[0].task.name, "sleeper");
    cr_assert_not_null(stalls[0].task.spawn_file);
    cr_assert(strstr(stalls[0].task.spawn_file, "test_watchdog.c") != NULL);
}

Test(watchdog, a_pool_worker_stuck_in_one_job_is_reported) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    start_watchdog();
    sleepy_job_t job = {0};
    HOP_OK(hop_job_init(&job.job, sleep_200ms));
    HOP_OK(hop_pool_submit(&pool, &job.job));
    test_wait_for(&job.done, 1u);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_debug_watchdog_stop());
    cr_assert_eq(stall_count(), 1u);
    cr_assert_eq(stalls[0].executor, hop_pool_executor(&pool));
    cr_assert_str_eq(stalls[0].executor_kind, "pool");
}

Test(watchdog, a_second_start_is_refused_and_a_stop_without_start_says_ealready) {
    HOP_ERR(hop_debug_watchdog_stop(), HOP_EALREADY);
    start_watchdog();
    HOP_ERR(hop_debug_watchdog_start(NULL), HOP_EBUSY);
    HOP_OK(hop_debug_watchdog_stop());
    HOP_ERR(hop_debug_watchdog_stop(), HOP_EALREADY);
}

Test(watchdog, the_default_report_names_the_task_and_where_it_was_spawned) {
    hop_stall_t stall = {.running_ns = 250000000u, .executor_kind = "loop", .thread_name = "hop-loop",
                         .has_task = true};
    stall.task.id = 7;
    strcpy(stall.task.name, "conn");
    stall.task.spawn_file = "server.c";
    stall.task.spawn_line = 88;
    char buf[512] = {0};
    FILE *out = fmemopen(buf, sizeof buf - 1, "w");
    cr_assert_not_null(out);
    hop_stall_print(out, &stall);
    fclose(out);
    cr_assert(strstr(buf, "task 7 \"conn\" has run 250 ms") != NULL, "%s", buf);
    cr_assert(strstr(buf, "spawned at server.c:88") != NULL, "%s", buf);
}
