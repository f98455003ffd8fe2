/* tests/test_thread_hooks.c: on_thread_start / on_thread_stop of the pool,
 * the loop and the blocking pool: each runs exactly once per thread the
 * executor creates, on that thread, and the thread's jobs run in between. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(thread_hooks, .timeout = 120);

enum { MAX_THREADS = 64 };

typedef struct {
    hop_executor_t *executor; /* the one the hooks must be given */
    pthread_mutex_t lock;
    long started[MAX_THREADS];
    unsigned int nstarted;
    long stopped[MAX_THREADS];
    unsigned int nstopped;
    unsigned int wrong_executor;
} hook_log_t;

static long tid(void) { return syscall(SYS_gettid); }

static void on_start(hop_executor_t *executor, void *arg) {
    hook_log_t *log = arg;
    pthread_mutex_lock(&log->lock);
    if (executor != log->executor)
        log->wrong_executor++;
    if (log->nstarted < MAX_THREADS)
        log->started[log->nstarted] = tid();
    log->nstarted++;
    pthread_mutex_unlock(&log->lock);
}

static void on_stop(hop_executor_t *executor, void *arg) {
    hook_log_t *log = arg;
    pthread_mutex_lock(&log->lock);
    if (executor != log->executor)
        log->wrong_executor++;
    if (log->nstopped < MAX_THREADS)
        log->stopped[log->nstopped] = tid();
    log->nstopped++;
    pthread_mutex_unlock(&log->lock);
}

static bool logged(const long *tids, unsigned int n, long t) {
    for (unsigned int i = 0; i < n; i++)
        if (tids[i] == t)
            return true;
    return false;
}

/* Every thread started once and stopped once, itself, and none is the
 * test's own thread. */
static void assert_once_per_thread(hook_log_t *log, unsigned int threads) {
    cr_assert_eq(log->wrong_executor, 0);
    cr_assert_eq(log->nstarted, threads, "%u start hooks for %u threads", log->nstarted, threads);
    cr_assert_eq(log->nstopped, threads, "%u stop hooks for %u threads", log->nstopped, threads);
    for (unsigned int i = 0; i < threads; i++) {
        cr_assert_neq(log->started[i], tid());
        for (unsigned int j = i + 1; j < threads; j++)
            cr_assert_neq(log->started[i], log->started[j], "a thread started twice");
        cr_assert(logged(log->stopped, threads, log->started[i]), "a thread stopped elsewhere");
    }
}

/* A task that notes whether the thread it runs on has had its start hook
 * (and not yet its stop hook). */
typedef struct {
    hook_log_t *log;
    unsigned int outside; /* atomic: ran on a thread without its start hook */
    unsigned int ran;     /* atomic */
} probe_t;

static void *probe_thread(void *arg) {
    probe_t *p = arg;
    for (int i = 0; i < 4; i++) {
        pthread_mutex_lock(&p->log->lock);
        bool ok = logged(p->log->started, p->log->nstarted, tid()) &&
                  !logged(p->log->stopped, p->log->nstopped, tid());
        pthread_mutex_unlock(&p->log->lock);
        if (!ok)
            __atomic_fetch_add(&p->outside, 1u, __ATOMIC_RELAXED);
        hop_yield();
    }
    __atomic_fetch_add(&p->ran, 1u, __ATOMIC_RELEASE);
    return NULL;
}

Test(thread_hooks, each_pool_hook_runs_once_per_worker_on_that_worker) {
    static hook_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    hop_pool_t pool;
    hop_pool_options_t options = {
        .threads = 3, .on_thread_start = on_start, .on_thread_stop = on_stop, .hook_arg = &log};
    log.executor = &pool.executor; /* before the threads start */
    HOP_OK(hop_pool_init(&pool, &options));
    probe_t probe = {.log = &log};
    for (int i = 0; i < 32; i++)
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), probe_thread, &probe, NULL, NULL));
    test_wait_for(&probe.ran, 32);
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(probe.outside, 0, "a job ran on a worker outside its hooks");
    assert_once_per_thread(&log, 3);
}

Test(thread_hooks, each_loop_hook_runs_once_on_the_loop_thread) {
    static hook_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    hop_loop_t loop;
    hop_loop_options_t options = {.on_thread_start = on_start, .on_thread_stop = on_stop, .hook_arg = &log};
    log.executor = &loop.executor;
    HOP_OK(hop_loop_init(&loop, &options));
    HOP_OK(hop_loop_start(&loop));
    probe_t probe = {.log = &log};
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), probe_thread, &probe, NULL, NULL));
    test_wait_for(&probe.ran, 1);
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(probe.outside, 0, "the loop ran a task outside its hooks");
    assert_once_per_thread(&log, 1);
}

static void *blocking_job(void *arg) {
    probe_t *p = arg;
    pthread_mutex_lock(&p->log->lock);
    bool ok = logged(p->log->started, p->log->nstarted < MAX_THREADS ? p->log->nstarted : MAX_THREADS, tid());
    pthread_mutex_unlock(&p->log->lock);
    if (!ok)
        __atomic_fetch_add(&p->outside, 1u, __ATOMIC_RELAXED);
    test_sleep_ms(5); /* overlapping jobs: the pool starts several threads */
    return NULL;
}

static hop_blocking_t blocking;

static void *offload_jobs(void *arg) {
    for (int i = 0; i < 4; i++)
        CHECK_OK(hop_run_in_executor(hop_blocking_executor(&blocking), blocking_job, arg, NULL));
    return NULL;
}

Test(thread_hooks, each_blocking_pool_hook_runs_once_per_thread_also_for_threads_that_retire) {
    static hook_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    hop_blocking_options_t options = {.max_threads = 4,
                                      .keep_alive_ms = 10,
                                      .on_thread_start = on_start,
                                      .on_thread_stop = on_stop,
                                      .hook_arg = &log};
    log.executor = &blocking.executor;
    HOP_OK(hop_blocking_init(&blocking, &options));
    hop_pool_t pool;
    hop_pool_options_t pool_options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &pool_options));
    probe_t probe = {.log = &log};
    hop_task_t *tasks[6];
    for (int i = 0; i < 6; i++)
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), offload_jobs, &probe, NULL, &tasks[i]));
    for (int i = 0; i < 6; i++)
        HOP_OK(test_join(tasks[i]));
    /* Idle threads retire after 10 ms: wait until one has, so a stop hook
     * runs on retirement as well as at close. */
    hop_blocking_stats_t stats;
    do {
        test_sleep_ms(2);
        HOP_OK(hop_blocking_stats(&blocking, &stats));
    } while (stats.threads_retired == 0);
    HOP_OK(hop_blocking_close(&blocking));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
    cr_assert_eq(probe.outside, 0, "a job ran on a thread outside its hooks");
    cr_assert_leq(stats.threads_started, MAX_THREADS);
    assert_once_per_thread(&log, (unsigned int)stats.threads_started);
}

static void *nothing(void *arg) { return arg; }

Test(thread_hooks, hop_run_calls_no_loop_hook_on_the_callers_thread) {
    static hook_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER};
    hop_loop_options_t loop_options = {
        .name = "hooked", .on_thread_start = on_start, .on_thread_stop = on_stop, .hook_arg = &log};
    hop_run_options_t options = {.loop = &loop_options};
    HOP_OK(hop_run_ex(nothing, NULL, &options, NULL));
    cr_assert_eq(log.nstarted, 0);
    cr_assert_eq(log.nstopped, 0);
}
