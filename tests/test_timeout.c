/* tests/test_timeout.c: hop_sleep, deadlines and hop_await_timeout, on
 * loops and on the pool, with cancellation and timeouts racing completion.
 * Timing bounds are generous on purpose: the lower bound is the contract,
 * the upper bound only catches "never woke up". */
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

static hop_pool_t pool;
static hop_loop_t loop;

static void setup(void) {
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
}
static void teardown(void) {
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
}

TestSuite(timeout, .init = setup, .fini = teardown, .timeout = 120);

static void *run_and_wait(hop_executor_t *executor, hop_task_fn fn, void *arg, int expected_status) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(executor, fn, arg, NULL, &t));
    void *result = NULL;
    HOP_ERR(hop_future_wait(hop_task_future(t), 30000, &result), expected_status);
    hop_task_unref(t);
    return result;
}

static double elapsed_ms(uint64_t since) { return (double)(hop_time_now_ns() - since) / 1e6; }

/* ---- hop_sleep ----------------------------------------------------------- */

static void *sleep_50(void *arg) {
    (void)arg;
    hop_executor_t *before = hop_executor_current();
    uint64_t start = hop_time_now_ns();
    CHECK_OK(hop_sleep(50));
    double ms = elapsed_ms(start);
    CHECK(ms >= 50.0, "slept %.3f ms", ms);
    CHECK(ms < 5000.0);
    CHECK(hop_executor_current() == before, "a sleep resumes on the task's own executor");
    return NULL;
}

Test(timeout, a_loop_task_sleeps_at_least_the_time_and_resumes_on_its_loop) {
    run_and_wait(hop_loop_executor(&loop), sleep_50, NULL, 0);
    test_assert_checks();
}

Test(timeout, a_pool_task_sleeps_without_a_loop_of_its_own) {
    run_and_wait(hop_pool_executor(&pool), sleep_50, NULL, 0);
    test_assert_checks();
}

static void *sleep_bad_input(void *arg) {
    (void)arg;
    CHECK_ERR(hop_sleep(-1), HOP_EINVAL);
    CHECK_OK(hop_sleep(0)); /* a yield */
    return NULL;
}

Test(timeout, sleep_rejects_bad_input_and_zero_yields) {
    HOP_ERR(hop_sleep(10), HOP_ENOTTASK);
    run_and_wait(hop_pool_executor(&pool), sleep_bad_input, NULL, 0);
    test_assert_checks();
}

static int long_sleep_status;
static void *sleep_long(void *arg) {
    (void)arg;
    long_sleep_status = hop_sleep(60000);
    return NULL;
}

Test(timeout, cancel_from_a_plain_thread_cuts_a_sleep_short) {
    hop_executor_t *executors[2] = {hop_loop_executor(&loop), hop_pool_executor(&pool)};
    for (int i = 0; i < 2; i++) {
        hop_task_t *t;
        uint64_t start = hop_time_now_ns();
        HOP_OK(hop_task_spawn(executors[i], sleep_long, NULL, NULL, &t));
        test_wait_suspended(t); /* in the sleep */
        HOP_OK(hop_task_cancel(t));
        HOP_ERR(hop_future_wait(hop_task_future(t), 30000, NULL), HOP_ECANCELED);
        cr_assert_eq(long_sleep_status, HOP_ECANCELED);
        cr_assert_lt(elapsed_ms(start), 30000.0);
        hop_task_unref(t);
    }
    test_assert_checks();
}

/* ---- hop_await_timeout --------------------------------------------------- */

typedef struct {
    hop_awaitable_t base;
    hop_future_t *future;
    hop_future_waiter_t waiter;
} future_wait_t;

/* A user-written interruptible awaitable over a future, with
 * hop_future_then / hop_future_then_cancel. */
static void future_wait_notify(hop_future_t *future, void *arg) {
    (void)future;
    hop_awaitable_complete(arg, 0);
}
static bool future_wait_suspend(hop_awaitable_t *aw) {
    future_wait_t *w = (future_wait_t *)aw;
    CHECK_OK(hop_future_then(w->future, &w->waiter, future_wait_notify, aw));
    return true;
}
static int future_wait_cancel(hop_awaitable_t *aw) {
    future_wait_t *w = (future_wait_t *)aw;
    return hop_future_then_cancel(w->future, &w->waiter);
}
static int future_wait_resume(hop_awaitable_t *aw) {
    future_wait_t *w = (future_wait_t *)aw;
    return hop_awaitable_status(aw) ? hop_awaitable_status(aw) : hop_future_result(w->future, NULL);
}
static const hop_awaitable_ops_t future_wait_ops = {
    .suspend = future_wait_suspend, .resume = future_wait_resume, .cancel = future_wait_cancel};

static hop_future_t pending;
static void *await_with_timeout(void *arg) {
    future_wait_t w = {.future = &pending};
    CHECK_OK(hop_awaitable_init(&w.base, &future_wait_ops));
    uint64_t start = hop_time_now_ns();
    int status = hop_await_timeout(&w.base, (int64_t)(intptr_t)arg);
    if (status == HOP_ETIMEDOUT)
        CHECK(elapsed_ms(start) >= (double)(intptr_t)arg);
    return (void *)(intptr_t)status;
}

Test(timeout, an_await_that_does_not_finish_in_time_returns_etimedout_and_is_withdrawn) {
    HOP_OK(hop_future_init(&pending));
    intptr_t status = (intptr_t)run_and_wait(hop_loop_executor(&loop), await_with_timeout, (void *)30, 0);
    cr_assert_eq(status, HOP_ETIMEDOUT);
    status = (intptr_t)run_and_wait(hop_pool_executor(&pool), await_with_timeout, (void *)30, 0);
    cr_assert_eq(status, HOP_ETIMEDOUT);
    /* Both waiters were withdrawn: completing now touches no dead stack. */
    HOP_OK(hop_future_set_result(&pending, NULL));
    test_assert_checks();
}

/* Completes the future once the task awaits it: the resume path. */
static void *set_pending_soon(void *arg) {
    test_wait_suspended(arg);
    CHECK_OK(hop_future_set_error(&pending, HOP_EAGAIN));
    return NULL;
}

Test(timeout, an_await_that_finishes_in_time_returns_its_own_status) {
    HOP_OK(hop_future_init(&pending));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), await_with_timeout, (void *)20000, NULL, &t));
    pthread_t setter;
    pthread_create(&setter, NULL, set_pending_soon, t);
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), 30000, &result));
    pthread_join(setter, NULL);
    hop_task_unref(t);
    intptr_t status = (intptr_t)result;
    cr_assert_eq(status, HOP_EAGAIN);
    test_assert_checks();
}

static void *await_timeout_bad_input(void *arg) {
    (void)arg;
    hop_awaitable_t not_interruptible;
    static const hop_awaitable_ops_t no_cancel = {.suspend = future_wait_suspend};
    CHECK_OK(hop_awaitable_init(&not_interruptible, &no_cancel));
    CHECK_ERR(hop_await_timeout(&not_interruptible, 10), HOP_ENOTSUP);
    future_wait_t w = {.future = &pending};
    CHECK_OK(hop_awaitable_init(&w.base, &future_wait_ops));
    CHECK_ERR(hop_await_timeout(&w.base, -1), HOP_EINVAL);
    CHECK_ERR(hop_await_timeout(NULL, 10), HOP_EINVAL);
    return NULL;
}

Test(timeout, await_timeout_rejects_bad_input) {
    HOP_OK(hop_future_init(&pending));
    run_and_wait(hop_pool_executor(&pool), await_timeout_bad_input, NULL, 0);
    test_assert_checks();
}

/* ---- deadlines ----------------------------------------------------------- */

static int release_blocking;
static int late_results_destroyed;
static void destroy_late(void *result) { __atomic_fetch_add(&late_results_destroyed, (int)(intptr_t)result, __ATOMIC_RELAXED); }
static void *blocking_query(void *arg) {
    while (!__atomic_load_n(&release_blocking, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    return arg;
}

static void *query_with_deadline(void *arg) {
    (void)arg;
    hop_deadline_t deadline;
    uint64_t start = hop_time_now_ns();
    CHECK_OK(hop_deadline_enter(&deadline, 40));
    void *row = NULL;
    int err = hop_run_in_executor_ex(hop_pool_executor(&pool), blocking_query, (void *)3, &row, destroy_late);
    CHECK(err == HOP_EINPROGRESS, "the query still runs when the deadline interrupts the wait");
    CHECK(row == NULL);
    CHECK(elapsed_ms(start) >= 40.0);
    /* Until the deadline is left, every await says so at once. */
    CHECK_ERR(hop_yield(), HOP_ETIMEDOUT);
    CHECK_ERR(hop_sleep(1), HOP_ETIMEDOUT);
    CHECK_ERR(hop_deadline_leave(&deadline), HOP_ETIMEDOUT);
    CHECK_OK(hop_yield());
    return NULL;
}

Test(timeout, a_deadline_interrupts_a_blocking_offload_and_the_late_result_is_destroyed) {
    release_blocking = 0;
    late_results_destroyed = 0;
    run_and_wait(hop_loop_executor(&loop), query_with_deadline, NULL, 0);
    __atomic_store_n(&release_blocking, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 5000 && !__atomic_load_n(&late_results_destroyed, __ATOMIC_ACQUIRE); i++)
        test_sleep_ms(1);
    cr_assert_eq(__atomic_load_n(&late_results_destroyed, __ATOMIC_ACQUIRE), 3);
    test_assert_checks();
}

static void *deadline_not_reached(void *arg) {
    (void)arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 60000));
    CHECK_OK(hop_sleep(5));
    CHECK_OK(hop_deadline_leave(&deadline));
    return NULL;
}

Test(timeout, a_deadline_that_is_not_reached_changes_nothing) {
    run_and_wait(hop_pool_executor(&pool), deadline_not_reached, NULL, 0);
    test_assert_checks();
}

static void *nested_deadlines(void *arg) {
    (void)arg;
    hop_deadline_t outer, inner;
    CHECK_OK(hop_deadline_enter(&outer, 20));
    CHECK_OK(hop_deadline_enter(&inner, 60000));
    CHECK_ERR(hop_deadline_leave(&outer), HOP_EINVAL); /* not the innermost */
    CHECK_ERR(hop_sleep(60000), HOP_ETIMEDOUT);        /* the outer one expires it */
    CHECK_OK(hop_deadline_leave(&inner));
    CHECK_ERR(hop_yield(), HOP_ETIMEDOUT); /* still inside the expired outer one */
    CHECK_ERR(hop_deadline_leave(&outer), HOP_ETIMEDOUT);
    CHECK_ERR(hop_deadline_enter(NULL, 5), HOP_EINVAL);
    CHECK_ERR(hop_deadline_enter(&outer, -5), HOP_EINVAL);
    CHECK_ERR(hop_deadline_leave(NULL), HOP_EINVAL);
    return NULL;
}

Test(timeout, an_expiring_outer_deadline_expires_the_inner_ones) {
    run_and_wait(hop_loop_executor(&loop), nested_deadlines, NULL, 0);
    hop_deadline_t d;
    HOP_ERR(hop_deadline_enter(&d, 5), HOP_ENOTTASK);
    test_assert_checks();
}

static void *return_inside_a_deadline(void *arg) {
    static hop_deadline_t deadline; /* static: the abort must come from hop, not from a dead stack */
    (void)arg;
    hop_deadline_enter(&deadline, 60000);
    return NULL;
}

/* Without the suite's pool and loop: the child forks from a process with no
 * threads of hop's, as ThreadSanitizer requires of a child that starts one
 * (the timer service). */
static void no_setup(void) {}

Test(timeout, a_task_that_returns_inside_a_deadline_aborts_the_process, .init = no_setup, .fini = no_setup) {
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        hop_task_spawn(hop_inline_executor(), return_inside_a_deadline, NULL, NULL, NULL);
        _exit(0); /* reached only if the forgotten deadline went unnoticed */
    }
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the forgotten deadline went unnoticed");
    test_assert_checks();
}

/* The deadline's timer runs on the loop (entered there); the task moves to
 * the pool and waits there; the loop's timer interrupts it on the pool. */
static long gettid_now(void) { return syscall(SYS_gettid); }
static void *deadline_follows_the_task(void *arg) {
    (void)arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 30));
    long loop_thread = gettid_now();
    CHECK_OK(hop_dispatch_to_executor(hop_pool_executor(&pool)));
    CHECK(gettid_now() != loop_thread);
    static hop_future_t never;
    CHECK_OK(hop_future_init(&never));
    CHECK_ERR(hop_future_await(&never, NULL), HOP_ETIMEDOUT);
    CHECK(hop_executor_current() == hop_pool_executor(&pool));
    CHECK_ERR(hop_deadline_leave(&deadline), HOP_ETIMEDOUT);
    return NULL;
}

Test(timeout, a_deadline_started_on_a_loop_interrupts_its_task_after_it_moved_to_the_pool) {
    run_and_wait(hop_loop_executor(&loop), deadline_follows_the_task, NULL, 0);
    test_assert_checks();
}

/* The deadline's timer sits on the first loop's clock; that loop closes
 * while the task waits on the pool: the deadline still fires. */
static unsigned int moved_to_pool;

static void *deadline_outlives_its_loop(void *arg) {
    (void)arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 300));
    CHECK_OK(hop_dispatch_to_executor(hop_pool_executor(&pool)));
    static hop_future_t never;
    CHECK_OK(hop_future_init(&never));
    __atomic_store_n(&moved_to_pool, 1u, __ATOMIC_RELEASE);
    CHECK_ERR(hop_future_await(&never, NULL), HOP_ETIMEDOUT);
    CHECK_ERR(hop_deadline_leave(&deadline), HOP_ETIMEDOUT);
    return NULL;
}

Test(timeout, a_deadline_entered_on_a_loop_still_fires_after_that_loop_closed) {
    hop_loop_t first;
    HOP_OK(hop_loop_init(&first, NULL));
    HOP_OK(hop_loop_start(&first));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&first), deadline_outlives_its_loop, NULL, NULL, &t));
    test_wait_for(&moved_to_pool, 1u);
    HOP_OK(hop_loop_close(&first)); /* the loop owns no task now: it closes at once */
    HOP_OK(hop_future_wait(hop_task_future(t), 30000, NULL));
    hop_task_unref(t);
    test_assert_checks();
}

/* Stress: timeouts racing completions from another thread. Each await ends
 * once, with the value or with HOP_ETIMEDOUT, and the future never calls
 * into a withdrawn waiter (ASan) or resumes twice (the count). */
#define RACES 2000
static hop_future_t race_futures[RACES];
static int race_timeouts, race_values;

static void *race_waiter(void *arg) {
    (void)arg;
    for (int i = 0; i < RACES; i++) {
        future_wait_t w = {.future = &race_futures[i]};
        CHECK_OK(hop_awaitable_init(&w.base, &future_wait_ops));
        int status = hop_await_timeout(&w.base, i % 3);
        if (status == HOP_ETIMEDOUT)
            race_timeouts++;
        else {
            CHECK_OK(status);
            race_values++;
        }
    }
    return NULL;
}

static void *race_setter(void *arg) {
    (void)arg;
    for (int i = 0; i < RACES; i++) {
        if (i % 4 == 0)
            sched_yield();
        CHECK_OK(hop_future_set_result(&race_futures[i], NULL));
    }
    return NULL;
}

Test(timeout, timeouts_racing_completions_end_each_await_once) {
    for (int i = 0; i < RACES; i++)
        HOP_OK(hop_future_init(&race_futures[i]));
    pthread_t setter;
    pthread_create(&setter, NULL, race_setter, NULL);
    run_and_wait(hop_pool_executor(&pool), race_waiter, NULL, 0);
    pthread_join(setter, NULL);
    cr_assert_eq(race_timeouts + race_values, RACES);
    cr_log_info("values %d, timeouts %d", race_values, race_timeouts);
    test_assert_checks();
}
