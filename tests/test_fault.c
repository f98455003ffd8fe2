/* tests/test_fault.c: hop's error paths for want of a resource, walked one
 * call at a time. Built only with -DHOP_FAULT_INJECTION=ON (src/core/fault.h),
 * which can make the Nth allocation, mapping, mprotect, thread start or
 * uv_*_init of a thread fail the way the real call fails.
 *
 * A case is an operation (a pool's init, a spawn, a timer start, an I/O
 * open...), whose faultable calls are counted in the sections marked ARMED,
 * followed by a use of what it made and its close. A walk runs the case once
 * with nothing failing, to count those calls, then once for each N from 1 to
 * that count with the Nth call failing, and again with every call from the
 * Nth on failing (a resource that stays exhausted: retries and fallbacks
 * fail too), and checks each time that:
 *   - the operation returned one of the codes its header documents (or 0:
 *     hop got over the failure, as a stack mapping does by flushing the
 *     caches and trying once more, or a thread does without an alternate
 *     signal stack);
 *   - the same case run again right after, with nothing failing, succeeds:
 *     the object can be initialised again, the executor runs the next spawn;
 *   - in an ASan build, nothing leaked (LeakSanitizer, after both runs).
 * Every run is a child process forked from a parent that has not used hop,
 * so each starts from the same cold state (no timer thread yet, no cached
 * stack, no signal stack on the thread) and the Nth call is the same call
 * every time. A child reports through a pipe; an alarm catches a hang.
 * (Under ASan each child's leak check prints "Running thread ... was not
 * suspended": the thread is the test runner's, which a forked child lacks.) */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/mpsc_queue.h"
#include "core/sanitizer.h"
#include "helpers.h"

#if HOP__ASAN
#include <sanitizer/lsan_interface.h>
#endif

/* ---- the child's side ---------------------------------------------------- */

static unsigned long fault_n;     /* the call to fail, counted over the run's ARMED sections; 0: none */
static unsigned long fault_calls; /* calls counted so far in this run */
static bool fault_fired;          /* the Nth call came */
static bool fault_from_nth;       /* every call from the Nth on fails, not the Nth alone */

/* Only one thread runs an ARMED section at a time (the next one starts
 * after the last has ended and been joined or awaited). */
static void armed_begin(void) {
    unsigned long n = fault_n > fault_calls ? fault_n - fault_calls : fault_n && fault_from_nth ? 1 : 0;
    hop__fault_arm(HOP__FAULT_ALL | (fault_from_nth ? HOP__FAULT_FROM_NTH : 0u), n);
}

static void armed_end(void) {
    fault_calls += hop__fault_calls();
    fault_fired |= hop__fault_fired();
    hop__fault_disarm();
}

/* ARMED(call): call, with the faultable calls it makes on this thread
 * counted, the run's Nth failing. */
#define ARMED(call)                                                                                          \
    __extension__({                                                                                          \
        armed_begin();                                                                                       \
        int armed_err_ = (call);                                                                             \
        armed_end();                                                                                         \
        armed_err_;                                                                                          \
    })

typedef struct {
    const char *name;
    int (*run)(void);  /* the case; returns the first error of an ARMED call, or 0 */
    int documented[4]; /* the codes the header documents for these failures (0 ends the list) */
} fault_case_t;

typedef struct {
    unsigned long calls; /* faultable calls in the ARMED sections */
    int fired;           /* the Nth of them came */
    int err;             /* what the case returned */
    int again;           /* what it returned when run again, with nothing failing */
    int leaked;          /* LeakSanitizer found a leak */
    unsigned int failed; /* CHECKs that failed in the child */
    char first[512];     /* the first of them */
} fault_report_t;

static void child_main(const fault_case_t *c, unsigned long n, bool from_nth, int fd) {
    fault_report_t report;
    memset(&report, 0, sizeof report);
    fault_n = n;
    fault_from_nth = from_nth;
    report.err = c->run();
    report.calls = fault_calls;
    report.fired = fault_fired;
    if (n) {
        fault_n = fault_calls = 0;
        fault_from_nth = false;
        report.again = c->run();
    }
#if HOP__ASAN
    report.leaked = __lsan_do_recoverable_leak_check() != 0;
#endif
    report.failed = test_checks.failed;
    memcpy(report.first, test_checks.first, sizeof report.first);
    ssize_t wrote = write(fd, &report, sizeof report);
    _exit(wrote == (ssize_t)sizeof report ? 0 : 1);
}

/* ---- the parent's side --------------------------------------------------- */

static fault_report_t run_child(const fault_case_t *c, unsigned long n, bool from_nth) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        close(fds[0]);
        alarm(60);
        child_main(c, n, from_nth, fds[1]);
    }
    close(fds[1]);
    fault_report_t report;
    memset(&report, 0, sizeof report);
    size_t got = 0;
    while (got < sizeof report) {
        ssize_t k = read(fds[0], (char *)&report + got, sizeof report - got);
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fds[0]);
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0 && got == sizeof report,
              "%s, failing call %lu: the child %s %d%s", c->name, n,
              WIFSIGNALED(status) ? "died of signal" : "exited with",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
              WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM ? " (it hung)" : "");
    return report;
}

static bool documented(const fault_case_t *c, int err) {
    for (int i = 0; i < 4 && c->documented[i]; i++)
        if (c->documented[i] == err)
            return true;
    return false;
}

/* Fails each call in turn: the Nth alone, or (from_nth) the Nth and every
 * later one, as when a resource stays exhausted and retries and fallbacks
 * fail too. */
static void walk_failing(const fault_case_t *c, unsigned long calls, bool from_nth, bool varies) {
    const char *how = from_nth ? "calls from" : "call";
    unsigned long reported = 0;
    char seen[256] = "";
    for (unsigned long n = 1; n <= calls; n++) {
        fault_report_t r = run_child(c, n, from_nth);
        if (!r.fired && varies)
            break;
        cr_assert(r.fired, "%s: call %lu of %lu never came (the run is not the same each time)", c->name, n,
                  calls);
        cr_assert(r.err == 0 || documented(c, r.err),
                  "%s, failing %s %lu of %lu: returned %s, not documented", c->name, how, n, calls,
                  hop_err_name(r.err));
        cr_assert_eq(r.failed, 0, "%s, failing %s %lu of %lu: %s", c->name, how, n, calls, r.first);
        cr_assert_eq(r.again, 0, "%s, failing %s %lu of %lu: run again, it returned %s", c->name, how, n,
                     calls, hop_err_name(r.again));
        cr_assert(!r.leaked, "%s, failing %s %lu of %lu (%s): leaked (see LeakSanitizer's report above)",
                  c->name, how, n, calls, hop_err_name(r.err));
        reported += r.err != 0;
        if (r.err && !strstr(seen, hop_err_name(r.err)))
            snprintf(seen + strlen(seen), sizeof seen - strlen(seen), " %s", hop_err_name(r.err));
    }
    cr_log_info("%s, failing each %s N: %lu faultable calls, %lu failures reported (%s ), %lu got over",
                c->name, how, calls, reported, seen, calls - reported);
}

/* varies: the calls after the Nth depend on timing (a retry after a
 * sleep), so a run may make fewer than the count: the walk then ends there. */
static void walk_ex(const fault_case_t *c, bool varies) {
    fault_report_t first = run_child(c, 0, false);
    cr_assert_eq(first.failed, 0, "%s, nothing failing: %s", c->name, first.first);
    cr_assert_eq(first.err, 0, "%s, nothing failing: returned %s", c->name, hop_err_name(first.err));
    cr_assert(!first.leaked, "%s, nothing failing: leaked (see LeakSanitizer's report above)", c->name);
    cr_assert_gt(first.calls, 0, "%s makes no faultable call", c->name);
    walk_failing(c, first.calls, false, varies);
    walk_failing(c, first.calls, true, varies);
}

static void walk(const fault_case_t *c) { walk_ex(c, false); }

/* ---- what the cases share ------------------------------------------------ */

static void *return_arg(void *arg) { return arg; }

static int return_zero(void *arg, void **result) {
    *result = arg;
    return 0;
}

/* executor runs a task to its end (from a plain thread). */
static void check_runs_task(hop_executor_t *executor) {
    hop_task_t *t = NULL;
    int err = hop_task_spawn(executor, return_arg, (void *)7, NULL, &t);
    CHECK(err == 0, "spawn returned %s", hop_err_name(err));
    if (err)
        return;
    void *value = NULL;
    CHECK_OK(hop_future_wait(hop_task_future(t), 20000, &value));
    CHECK(value == (void *)7);
    hop_task_unref(t);
}

/* Runs fn as hop_run's main and returns what fn returned. */
static int (*main_fn)(void);

static void *main_calls_fn(void *arg) {
    (void)arg;
    return (void *)(intptr_t)main_fn();
}

static int in_hop_run(int (*fn)(void)) {
    main_fn = fn;
    void *result = NULL;
    int err = hop_run(main_calls_fn, NULL, &result);
    CHECK(err == 0, "hop_run returned %s", hop_err_name(err));
    return (int)(intptr_t)result;
}

/* Runs fn as a task on executor, from a plain thread, and returns what fn
 * returned. */
static int in_task_on(hop_executor_t *executor, int (*fn)(void)) {
    main_fn = fn;
    hop_task_t *t = NULL;
    int err = hop_task_spawn(executor, main_calls_fn, NULL, NULL, &t);
    CHECK(err == 0, "spawn returned %s", hop_err_name(err));
    if (err)
        return 0;
    void *result = NULL;
    CHECK_OK(hop_future_wait(hop_task_future(t), 20000, &result));
    hop_task_unref(t);
    return (int)(intptr_t)result;
}

/* ---- executors ----------------------------------------------------------- */

static int pool_init(void) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    int err = ARMED(hop_pool_init(&pool, &options));
    if (err)
        return err;
    check_runs_task(hop_pool_executor(&pool));
    CHECK_OK(hop_pool_close(&pool));
    return 0;
}

static const fault_case_t pool_init_case = {"pool init", pool_init, {HOP_ENOMEM, HOP_EAGAIN}};

Test(fault, a_pool_init_that_runs_out_reports_it_and_the_pool_can_be_initialised_again) {
    walk(&pool_init_case);
}

static int loop_init_start(void) {
    hop_loop_t loop;
    int err = ARMED(hop_loop_init(&loop, NULL));
    if (err)
        return err;
    err = ARMED(hop_loop_start(&loop));
    if (!err)
        check_runs_task(hop_loop_executor(&loop));
    CHECK_OK(hop_loop_close(&loop));
    return err;
}

static const fault_case_t loop_init_start_case = {
    "loop init and start", loop_init_start, {HOP_ENOMEM, HOP_EAGAIN}};

Test(fault, a_loop_init_or_start_that_runs_out_reports_it_and_the_loop_closes) {
    walk(&loop_init_start_case);
}

static int run_main(void) {
    void *result = NULL;
    int err = ARMED(hop_run(return_arg, (void *)7, &result));
    CHECK(err != 0 || result == (void *)7);
    CHECK(err == 0 || result == NULL);
    return err;
}

static const fault_case_t run_case = {"hop_run", run_main, {HOP_ENOMEM, HOP_EAGAIN}};

Test(fault, a_hop_run_that_runs_out_reports_it) { walk(&run_case); }

typedef struct {
    hop_job_t job;
    unsigned int ran;
} note_job_t;

static void note_job_run(hop_job_t *job) { test_store_uint(&((note_job_t *)job)->ran, 1u); }

/* A blocking pool with threads from the start. */
static int blocking_init(void) {
    hop_blocking_t pool;
    hop_blocking_options_t options = {.min_threads = 2};
    int err = ARMED(hop_blocking_init(&pool, &options));
    if (err)
        return err;
    check_runs_task(hop_blocking_executor(&pool));
    CHECK_OK(hop_blocking_close(&pool));
    return 0;
}

static const fault_case_t blocking_init_case = {
    "blocking pool init", blocking_init, {HOP_ENOMEM, HOP_EAGAIN}};

Test(fault, a_blocking_pool_init_that_runs_out_reports_it) { walk(&blocking_init_case); }

/* A blocking pool with no thread yet: the submit creates the first. When
 * the system refuses it, submit tries again, and in the end runs the job
 * itself: it never fails for want of a thread. */
static int blocking_submit(void) {
    hop_blocking_t pool;
    CHECK_OK(hop_blocking_init(&pool, NULL));
    note_job_t job = {0};
    hop_job_init(&job.job, note_job_run);
    int err = ARMED(hop_blocking_submit(&pool, &job.job));
    if (!err)
        CHECK(test_wait_for_ms(&job.ran, 1u, 20000), "the job never ran");
    CHECK_OK(hop_blocking_close(&pool));
    return err;
}

static const fault_case_t blocking_submit_case = {"blocking pool submit", blocking_submit, {0}};

Test(fault, a_blocking_submit_whose_thread_is_refused_still_runs_the_job) { walk(&blocking_submit_case); }

/* ---- spawns -------------------------------------------------------------- */

static int spawn_on(hop_executor_t *executor) {
    hop_task_t *t = (hop_task_t *)&t;
    int err = ARMED(hop_task_spawn(executor, return_arg, (void *)7, NULL, &t));
    if (err) {
        CHECK(t == NULL);
    } else {
        void *value = NULL;
        CHECK_OK(hop_future_wait(hop_task_future(t), 20000, &value));
        CHECK(value == (void *)7);
        hop_task_unref(t);
    }
    check_runs_task(executor); /* the next spawn runs */
    return err;
}

static int spawn_pool(void) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    CHECK_OK(hop_pool_init(&pool, &options));
    int err = spawn_on(hop_pool_executor(&pool));
    CHECK_OK(hop_pool_close(&pool));
    return err;
}

static const fault_case_t spawn_pool_case = {"spawn on a pool", spawn_pool, {HOP_ENOMEM}};

Test(fault, a_spawn_on_a_pool_that_runs_out_reports_it_and_the_pool_runs_the_next) { walk(&spawn_pool_case); }

static int spawn_loop(void) {
    hop_loop_t loop;
    CHECK_OK(hop_loop_init(&loop, NULL));
    CHECK_OK(hop_loop_start(&loop));
    int err = spawn_on(hop_loop_executor(&loop));
    CHECK_OK(hop_loop_close(&loop));
    return err;
}

static const fault_case_t spawn_loop_case = {"spawn on a loop", spawn_loop, {HOP_ENOMEM}};

Test(fault, a_spawn_on_a_loop_that_runs_out_reports_it_and_the_loop_runs_the_next) { walk(&spawn_loop_case); }

/* A spawn from a task that has a task-local value to pass on: the child's
 * table is allocated at spawn (the core's task hooks). */
static void *same_value(void *value) { return value; }

static hop_task_local_t inherited_key;

static void *read_inherited(void *arg) {
    (void)arg;
    return hop_task_local_get(&inherited_key);
}

static int spawn_inheriting_here(void) {
    CHECK_OK(hop_task_local_create(&inherited_key, same_value, NULL));
    int err = ARMED(hop_task_local_set(&inherited_key, (void *)7));
    if (err)
        return err;
    hop_executor_t *here = hop_loop_executor(hop_loop_current());
    hop_task_t *t = (hop_task_t *)&t;
    err = ARMED(hop_task_spawn(here, read_inherited, NULL, NULL, &t));
    if (err) {
        CHECK(t == NULL);
        return err;
    }
    void *value = NULL;
    CHECK_OK(hop_task_join(t, &value));
    CHECK(value == (void *)7);
    hop_task_unref(t);
    return 0;
}

static int spawn_inheriting(void) {
    memset(&inherited_key, 0, sizeof inherited_key);
    return in_hop_run(spawn_inheriting_here);
}

static const fault_case_t spawn_inheriting_case = {
    "task-local set and a spawn that inherits it", spawn_inheriting, {HOP_ENOMEM}};

Test(fault, a_spawn_that_inherits_task_locals_and_runs_out_reports_it) { walk(&spawn_inheriting_case); }

/* ---- timers -------------------------------------------------------------- */

static int sleep_once(void) {
    int err = ARMED(hop_sleep(1));
    CHECK_OK(hop_sleep(1)); /* the next sleep works */
    return err;
}

static int sleep_on_loop(void) { return in_hop_run(sleep_once); }

static const fault_case_t sleep_loop_case = {"hop_sleep on a loop", sleep_on_loop, {HOP_ENOMEM}};

Test(fault, a_sleep_on_a_loop_that_runs_out_reports_it) { walk(&sleep_loop_case); }

/* One worker: the task resumes on the thread it was armed on. */
static int in_one_worker_pool(int (*fn)(void)) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 1};
    CHECK_OK(hop_pool_init(&pool, &options));
    int err = in_task_on(hop_pool_executor(&pool), fn);
    CHECK_OK(hop_pool_close(&pool));
    return err;
}

static int sleep_on_pool(void) { return in_one_worker_pool(sleep_once); }

static const fault_case_t sleep_pool_case = {
    "hop_sleep on a pool (the timer service)", sleep_on_pool, {HOP_ENOMEM}};

Test(fault, a_sleep_on_a_pool_that_runs_out_reports_it_and_the_timer_service_starts_later) {
    walk(&sleep_pool_case);
}

static int deadline_once(void) {
    hop_deadline_t deadline;
    int err = ARMED(hop_deadline_enter(&deadline, 60000));
    if (!err) {
        CHECK_OK(hop_sleep(1));
        CHECK_OK(hop_deadline_leave(&deadline));
    }
    CHECK_OK(hop_deadline_enter(&deadline, 60000));
    CHECK_OK(hop_deadline_leave(&deadline));
    return err;
}

static int deadline_on_pool(void) { return in_one_worker_pool(deadline_once); }

static const fault_case_t deadline_pool_case = {
    "hop_deadline_enter on a pool", deadline_on_pool, {HOP_ENOMEM}};

Test(fault, a_deadline_on_a_pool_that_runs_out_reports_it) { walk(&deadline_pool_case); }

static void note_fired(hop_timer_t *timer, void *arg) {
    (void)timer;
    test_store_uint(arg, 1u);
}

static int timer_from_thread(void) {
    hop_timer_t timer;
    CHECK_OK(hop_timer_init(&timer));
    unsigned int fired = 0;
    int err = ARMED(hop_timer_start(&timer, 1, note_fired, &fired));
    if (err) {
        CHECK_ERR(hop_timer_stop(&timer), HOP_EALREADY); /* never started */
        CHECK_OK(hop_timer_start(&timer, 1, note_fired, &fired));
    }
    CHECK(test_wait_for_ms(&fired, 1u, 20000), "the timer never fired");
    return err;
}

static const fault_case_t timer_case = {
    "hop_timer_start from a plain thread", timer_from_thread, {HOP_ENOMEM}};

Test(fault, a_timer_start_that_runs_out_reports_it_and_the_timer_can_start_again) { walk(&timer_case); }

/* ---- the toolkit --------------------------------------------------------- */

static int channel_init(void) {
    hop_channel_t channel;
    int err = ARMED(hop_channel_init(&channel, 4, NULL));
    if (err)
        return err;
    void *item = NULL;
    CHECK_OK(hop_channel_try_send(&channel, (void *)7));
    CHECK_OK(hop_channel_try_receive(&channel, &item));
    CHECK(item == (void *)7);
    CHECK_OK(hop_channel_destroy(&channel));
    return 0;
}

static const fault_case_t channel_case = {"channel init", channel_init, {HOP_ENOMEM}};

Test(fault, a_channel_init_that_runs_out_reports_it) { walk(&channel_case); }

static int group_spawn_here(void) {
    hop_group_t group;
    CHECK_OK(hop_group_init(&group));
    hop_executor_t *here = hop_loop_executor(hop_loop_current());
    hop_task_t *t = (hop_task_t *)&t;
    int err = ARMED(hop_group_spawn(&group, here, return_zero, (void *)7, NULL, &t));
    if (err)
        CHECK(t == NULL);
    else
        hop_task_unref(t);
    CHECK_OK(hop_group_spawn(&group, here, return_zero, (void *)8, NULL, NULL)); /* the group goes on */
    CHECK_OK(hop_group_wait(&group));
    CHECK(hop_group_size(&group) == (err ? 1u : 2u));
    CHECK_OK(hop_group_destroy(&group));
    return err;
}

static int group_spawn(void) { return in_hop_run(group_spawn_here); }

static const fault_case_t group_case = {"group spawn", group_spawn, {HOP_ENOMEM}};

Test(fault, a_group_spawn_that_runs_out_reports_it_and_the_group_goes_on) { walk(&group_case); }

static int nursery_spawn_here(void) {
    hop_nursery_t nursery;
    CHECK_OK(hop_nursery_init(&nursery));
    hop_executor_t *here = hop_loop_executor(hop_loop_current());
    hop_task_t *t = (hop_task_t *)&t;
    int err = ARMED(hop_nursery_spawn(&nursery, here, return_zero, (void *)7, NULL, &t));
    if (err)
        CHECK(t == NULL);
    else
        hop_task_unref(t);
    CHECK_OK(hop_nursery_spawn(&nursery, here, return_zero, (void *)8, NULL, NULL));
    CHECK_OK(hop_nursery_shutdown(&nursery, 10000));
    hop_nursery_stats_t stats;
    CHECK_OK(hop_nursery_stats(&nursery, &stats));
    CHECK(stats.total == (err ? 1u : 2u) && stats.live == 0);
    CHECK_OK(hop_nursery_destroy(&nursery));
    return err;
}

static int nursery_spawn(void) { return in_hop_run(nursery_spawn_here); }

static const fault_case_t nursery_case = {"nursery spawn", nursery_spawn, {HOP_ENOMEM}};

Test(fault, a_nursery_spawn_that_runs_out_reports_it_and_the_nursery_goes_on) { walk(&nursery_case); }

/* ---- I/O opens (each from hop_run's main) --------------------------------- */

static int echo_handler(hop_serve_conn_t *conn, void *arg) {
    (void)arg;
    char c;
    int64_t n = hop_serve_read(conn, &c, 1, true);
    if (n == 1)
        hop_stream_write(hop_serve_conn_stream(conn), &c, 1, NULL);
    return 0;
}

static hop_loop_t *serve_loops[2];
static hop_serve_options_t serve_options;

/* A connection to the server, answered. */
static void check_echo(int port) {
    hop_stream_t *s = NULL;
    int err = hop_tcp_connect(NULL, "127.0.0.1", port, NULL, &s);
    CHECK(err == 0, "connect returned %s", hop_err_name(err));
    if (err)
        return;
    char c = 'x';
    CHECK_OK(hop_stream_write(s, &c, 1, NULL));
    c = 0;
    CHECK(hop_stream_read(s, &c, 1) == 1 && c == 'x');
    CHECK_OK(hop_stream_close(s));
}

static int serve_here(void) {
    hop_server_t *server = (hop_server_t *)&server;
    unsigned int nloops = serve_options.balance == HOP_SERVE_BALANCE_ROUND_ROBIN ? 2u : 1u;
    int err = ARMED(
        hop_serve_start(serve_loops, nloops, "127.0.0.1", 0, echo_handler, NULL, &serve_options, &server));
    if (err) {
        CHECK(server == NULL);
        return err;
    }
    check_echo(hop_serve_port(server));
    CHECK_OK(hop_serve_shutdown(server, 10000));
    return 0;
}

/* hop_serve_start wants started loops: the case runs on the first, whose
 * thread then makes every call of the start (one loop, or round robin: the
 * one acceptor is on the first loop; the second only runs handlers). */
static int serve_start_with(hop_serve_balance_t balance) {
    hop_loop_t loops[2];
    for (int i = 0; i < 2; i++) {
        CHECK_OK(hop_loop_init(&loops[i], NULL));
        CHECK_OK(hop_loop_start(&loops[i]));
        serve_loops[i] = &loops[i];
    }
    memset(&serve_options, 0, sizeof serve_options);
    serve_options.balance = balance;
    int err = in_task_on(hop_loop_executor(&loops[0]), serve_here);
    for (int i = 0; i < 2; i++)
        CHECK_OK(hop_loop_close(&loops[i]));
    return err;
}

static int serve_start(void) { return serve_start_with(HOP_SERVE_BALANCE_REUSEPORT); }

static const fault_case_t serve_case = {"hop_serve_start", serve_start, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_serve_start_that_runs_out_reports_it_and_leaves_nothing_running) { walk(&serve_case); }

static int serve_start_round_robin(void) { return serve_start_with(HOP_SERVE_BALANCE_ROUND_ROBIN); }

static const fault_case_t serve_round_robin_case = {
    "hop_serve_start, round robin over two loops", serve_start_round_robin, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_round_robin_serve_start_that_runs_out_reports_it_and_leaves_nothing_running) {
    walk(&serve_round_robin_case);
}

/* A connection the server accepts while its loop's thread runs out: the
 * server's own calls for it (the accepted stream, the handler's record,
 * task and stack) fail in turn. The client, a plain blocking socket on the
 * test's thread, sees its echo or a closed connection, never a hang; the
 * server serves the next connection. */
static hop_future_t armed_until;
static unsigned int armed_ready;

static void *arm_loop_thread(void *arg) {
    (void)arg;
    armed_begin();
    test_store_uint(&armed_ready, 1u);
    CHECK_OK(hop_future_await(&armed_until, NULL)); /* allocates nothing */
    armed_end();
    return NULL;
}

/* One round trip as a client; true if the byte came back. */
static bool echo_from(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = fault_n ? 2 : 20}; /* failing: refused, or served after the failures */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c = 'x';
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && write(fd, &c, 1) == 1 &&
              read(fd, &c, 1) == 1 && c == 'x';
    close(fd);
    return ok;
}

static hop_server_t *conn_server;

static void *start_conn_server(void *arg) {
    CHECK_OK(hop_serve_start(serve_loops, 1, "127.0.0.1", 0, echo_handler, NULL, NULL, &conn_server));
    return arg;
}

static void *stop_conn_server(void *arg) {
    if (conn_server)
        CHECK_OK(hop_serve_shutdown(conn_server, 10000));
    return arg;
}

static void run_on(hop_executor_t *executor, hop_task_fn fn) {
    hop_task_t *t = NULL;
    CHECK_OK(hop_task_spawn(executor, fn, NULL, NULL, &t));
    if (t) {
        CHECK_OK(hop_future_wait(hop_task_future(t), 20000, NULL));
        hop_task_unref(t);
    }
}

static int serve_connection(void) {
    hop_loop_t loop;
    CHECK_OK(hop_loop_init(&loop, NULL));
    CHECK_OK(hop_loop_start(&loop));
    serve_loops[0] = &loop;
    conn_server = NULL;
    run_on(hop_loop_executor(&loop), start_conn_server);
    if (!conn_server) {
        CHECK_OK(hop_loop_close(&loop));
        return 0;
    }
    int port = hop_serve_port(conn_server);
    /* The first connection, with the loop's thread armed. */
    CHECK_OK(hop_future_init(&armed_until));
    test_store_uint(&armed_ready, 0u);
    hop_task_t *armer = NULL;
    CHECK_OK(hop_task_spawn(hop_loop_executor(&loop), arm_loop_thread, NULL, NULL, &armer));
    test_wait_for(&armed_ready, 1u);
    bool echoed = echo_from(port);
    hop_serve_stats_t stats;
    uint64_t until = hop_time_now_ns() + 20000000000ull;
    do {
        CHECK_OK(hop_serve_stats(conn_server, &stats));
        if (stats.active == 0 && (stats.accepted + stats.refused >= 1 || fault_n))
            break;
        test_sleep_ms(1);
    } while (hop_time_now_ns() < until);
    CHECK(stats.active == 0, "the handler never finished");
    CHECK(echoed || fault_n, "nothing failing, yet no echo");
    CHECK_OK(hop_future_set_result(&armed_until, NULL));
    if (armer) {
        CHECK_OK(hop_future_wait(hop_task_future(armer), 20000, NULL));
        hop_task_unref(armer);
    }
    /* The next connection is served. */
    CHECK(echo_from(port), "the server did not serve the next connection");
    run_on(hop_loop_executor(&loop), stop_conn_server);
    CHECK_OK(hop_loop_close(&loop));
    return 0;
}

static const fault_case_t serve_connection_case = {"a connection to hop_serve", serve_connection, {0}};

Test(fault, a_connection_the_server_runs_out_for_is_closed_and_the_next_is_served) {
    walk_ex(&serve_connection_case, true);
}

static int tcp_listen_here(void) {
    hop_tcp_listener_t *l = (hop_tcp_listener_t *)&l;
    int err = ARMED(hop_tcp_listen(NULL, "127.0.0.1", 0, NULL, &l));
    if (err) {
        CHECK(l == NULL);
        return err;
    }
    CHECK(hop_tcp_listener_port(l) > 0);
    CHECK_OK(hop_tcp_listener_close(l));
    return 0;
}

static int tcp_listen(void) { return in_hop_run(tcp_listen_here); }

static const fault_case_t tcp_listen_case = {"hop_tcp_listen", tcp_listen, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_tcp_listen_that_runs_out_reports_it) { walk(&tcp_listen_case); }

static int tcp_connect_here(void) {
    hop_tcp_listener_t *l = NULL;
    CHECK_OK(hop_tcp_listen(NULL, "127.0.0.1", 0, NULL, &l));
    if (!l)
        return 0;
    hop_stream_t *s = (hop_stream_t *)&s;
    int err = ARMED(hop_tcp_connect(NULL, "127.0.0.1", hop_tcp_listener_port(l), NULL, &s));
    if (err) {
        CHECK(s == NULL);
    } else {
        hop_stream_t *peer = NULL;
        CHECK_OK(hop_tcp_accept(l, &peer));
        if (peer)
            CHECK_OK(hop_stream_close(peer));
        CHECK_OK(hop_stream_close(s));
    }
    CHECK_OK(hop_tcp_listener_close(l));
    return err;
}

static int tcp_connect(void) { return in_hop_run(tcp_connect_here); }

static const fault_case_t tcp_connect_case = {"hop_tcp_connect", tcp_connect, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_tcp_connect_that_runs_out_reports_it) { walk(&tcp_connect_case); }

static int udp_bind_here(void) {
    hop_udp_t *u = (hop_udp_t *)&u;
    int err = ARMED(hop_udp_bind(NULL, "127.0.0.1", 0, NULL, &u));
    if (err) {
        CHECK(u == NULL);
        return err;
    }
    CHECK_OK(hop_udp_close(u));
    return 0;
}

static int udp_bind(void) { return in_hop_run(udp_bind_here); }

static const fault_case_t udp_case = {"hop_udp_bind", udp_bind, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_udp_bind_that_runs_out_reports_it) { walk(&udp_case); }

static char temp_path[64];

static int file_open_here(void) {
    hop_file_t *f = (hop_file_t *)&f;
    int err = ARMED(hop_file_open(NULL, temp_path, O_RDONLY, 0, &f));
    if (err) {
        CHECK(f == NULL);
        return err;
    }
    CHECK_OK(hop_file_close(f));
    return 0;
}

static int file_open(void) {
    snprintf(temp_path, sizeof temp_path, "/tmp/hop-fault-%d", (int)getpid());
    int fd = open(temp_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0);
    close(fd);
    int err = in_hop_run(file_open_here);
    unlink(temp_path);
    return err;
}

static const fault_case_t file_case = {"hop_file_open", file_open, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_file_open_that_runs_out_reports_it) { walk(&file_case); }

static int pipe_listen_here(void) {
    hop_pipe_listener_t *l = (hop_pipe_listener_t *)&l;
    int err = ARMED(hop_pipe_listen(NULL, temp_path, NULL, &l));
    if (err) {
        CHECK(l == NULL);
        return err;
    }
    CHECK_OK(hop_pipe_listener_close(l));
    return 0;
}

static int pipe_connect_here(void) {
    hop_pipe_listener_t *l = NULL;
    CHECK_OK(hop_pipe_listen(NULL, temp_path, NULL, &l));
    if (!l)
        return 0;
    hop_stream_t *s = (hop_stream_t *)&s;
    int err = ARMED(hop_pipe_connect(NULL, temp_path, NULL, &s));
    if (err) {
        CHECK(s == NULL);
    } else {
        hop_stream_t *peer = NULL;
        CHECK_OK(hop_pipe_accept(l, &peer));
        if (peer)
            CHECK_OK(hop_stream_close(peer));
        CHECK_OK(hop_stream_close(s));
    }
    CHECK_OK(hop_pipe_listener_close(l));
    return err;
}

static int in_hop_run_with_socket_path(int (*fn)(void)) {
    snprintf(temp_path, sizeof temp_path, "/tmp/hop-fault-%d.sock", (int)getpid());
    unlink(temp_path);
    int err = in_hop_run(fn);
    unlink(temp_path);
    return err;
}

static int pipe_listen(void) { return in_hop_run_with_socket_path(pipe_listen_here); }

static const fault_case_t pipe_listen_case = {"hop_pipe_listen", pipe_listen, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_pipe_listen_that_runs_out_reports_it) { walk(&pipe_listen_case); }

static int pipe_connect(void) { return in_hop_run_with_socket_path(pipe_connect_here); }

static const fault_case_t pipe_connect_case = {"hop_pipe_connect", pipe_connect, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_pipe_connect_that_runs_out_reports_it) { walk(&pipe_connect_case); }

static int process_here(void) {
    static const char *const argv[] = {"true", NULL};
    hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_PIPE, HOP_STDIO_PIPE}};
    hop_process_t *p = (hop_process_t *)&p;
    int err = ARMED(hop_process_spawn(NULL, argv, &options, &p));
    if (err) {
        CHECK(p == NULL);
        return err;
    }
    for (int fd = 0; fd < 3; fd++)
        CHECK_OK(hop_stream_close(hop_process_pipe(p, fd)));
    int64_t status = -1;
    int term = -1;
    CHECK_OK(hop_process_wait(p, &status, &term));
    CHECK(status == 0 && term == 0);
    CHECK_OK(hop_process_close(p));
    return 0;
}

static int process_spawn(void) { return in_hop_run(process_here); }

static const fault_case_t process_case = {"hop_process_spawn", process_spawn, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_process_spawn_that_runs_out_reports_it) { walk(&process_case); }

static int signal_here(void) {
    hop_signal_t *w = (hop_signal_t *)&w;
    int err = ARMED(hop_signal_open(NULL, SIGUSR1, &w));
    if (err) {
        CHECK(w == NULL);
        return err;
    }
    CHECK_OK(hop_signal_close(w));
    return 0;
}

static int signal_open(void) { return in_hop_run(signal_here); }

static const fault_case_t signal_case = {"hop_signal_open", signal_open, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_signal_open_that_runs_out_reports_it) { walk(&signal_case); }

/* ---- more awaits and I/O from a loop task -------------------------------- */

#define WHEN_N 40 /* above HOP_WHEN_INLINE_WAITERS: the waiters are allocated */

static int when_all_here(void) {
    hop_future_t futures[WHEN_N];
    hop_future_t *list[WHEN_N];
    for (int i = 0; i < WHEN_N; i++) {
        CHECK_OK(hop_future_init(&futures[i]));
        CHECK_OK(hop_future_set_result(&futures[i], (void *)(intptr_t)(i + 1)));
        list[i] = &futures[i];
    }
    void *results[WHEN_N] = {0};
    int err = ARMED(hop_when_all(list, WHEN_N, 0, results, NULL, NULL));
    if (!err)
        CHECK(results[WHEN_N - 1] == (void *)(intptr_t)WHEN_N);
    return err;
}

static int when_all(void) { return in_hop_run(when_all_here); }

static const fault_case_t when_case = {"hop_when_all over 40 futures", when_all, {HOP_ENOMEM}};

Test(fault, a_when_all_that_runs_out_reports_it) { walk(&when_case); }

static int dns_here(void) {
    struct addrinfo *result = (struct addrinfo *)&result;
    int err = ARMED(hop_getaddrinfo(NULL, "127.0.0.1", "80", NULL, &result));
    if (!err)
        hop_freeaddrinfo(result);
    return err;
}

static int dns(void) { return in_hop_run(dns_here); }

static const fault_case_t dns_case = {"hop_getaddrinfo", dns, {HOP_ENOMEM}};

Test(fault, a_getaddrinfo_that_runs_out_reports_it) { walk(&dns_case); }

static int read_file_here(void) {
    char *data = (char *)&data;
    size_t len = 1;
    int err = ARMED(hop_fs_read_file(NULL, temp_path, 1 << 20, &data, &len));
    if (err) {
        CHECK(data == NULL && len == 0);
        return err;
    }
    CHECK(len == 5 && memcmp(data, "hello", 6) == 0);
    free(data);
    return 0;
}

static int read_file(void) {
    snprintf(temp_path, sizeof temp_path, "/tmp/hop-fault-%d", (int)getpid());
    int fd = open(temp_path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    CHECK(fd >= 0 && write(fd, "hello", 5) == 5);
    close(fd);
    int err = in_hop_run(read_file_here);
    unlink(temp_path);
    return err;
}

static const fault_case_t read_file_case = {"hop_fs_read_file", read_file, {HOP_ENOMEM}};

Test(fault, a_read_file_that_runs_out_reports_it) { walk(&read_file_case); }

static int readdir_here(void) {
    hop_fs_dir_t *dir = (hop_fs_dir_t *)&dir;
    int err = ARMED(hop_fs_readdir(NULL, "/", &dir));
    if (err) {
        CHECK(dir == NULL);
        return err;
    }
    hop_fs_dir_free(dir);
    return 0;
}

static int readdir_root(void) { return in_hop_run(readdir_here); }

static const fault_case_t readdir_case = {"hop_fs_readdir", readdir_root, {HOP_ENOMEM}};

Test(fault, a_readdir_that_runs_out_reports_it) { walk(&readdir_case); }

/* A failed accept loses no connection: the next accept gets it. */
static int tcp_accept_here(void) {
    hop_tcp_listener_t *l = NULL;
    CHECK_OK(hop_tcp_listen(NULL, "127.0.0.1", 0, NULL, &l));
    if (!l)
        return 0;
    hop_stream_t *s = NULL;
    CHECK_OK(hop_tcp_connect(NULL, "127.0.0.1", hop_tcp_listener_port(l), NULL, &s));
    hop_stream_t *peer = (hop_stream_t *)&peer;
    int err = ARMED(hop_tcp_accept(l, &peer));
    if (err) {
        CHECK(peer == NULL);
        CHECK_OK(hop_tcp_accept(l, &peer));
    }
    if (peer && s) {
        char c = 'x';
        CHECK_OK(hop_stream_write(s, &c, 1, NULL));
        c = 0;
        CHECK(hop_stream_read(peer, &c, 1) == 1 && c == 'x', "the accepted stream is not the connection");
        CHECK_OK(hop_stream_close(peer));
    }
    if (s)
        CHECK_OK(hop_stream_close(s));
    CHECK_OK(hop_tcp_listener_close(l));
    return err;
}

static int tcp_accept(void) { return in_hop_run(tcp_accept_here); }

static const fault_case_t tcp_accept_case = {"hop_tcp_accept", tcp_accept, {HOP_ENOMEM}};

Test(fault, an_accept_that_runs_out_reports_it_and_the_next_accept_gets_the_connection) {
    walk(&tcp_accept_case);
}

static int open_fd_here(void) {
    int fds[2];
    CHECK(pipe(fds) == 0);
    hop_stream_t *s = (hop_stream_t *)&s;
    int err = ARMED(hop_stream_open_fd(NULL, fds[0], NULL, &s));
    if (err) {
        CHECK(s == NULL);
        CHECK(fcntl(fds[0], F_GETFD) != -1, "a failed open closed the caller's descriptor");
        close(fds[0]);
    } else {
        CHECK(write(fds[1], "x", 1) == 1);
        char c = 0;
        CHECK(hop_stream_read(s, &c, 1) == 1 && c == 'x');
        CHECK_OK(hop_stream_close(s));
    }
    close(fds[1]);
    return err;
}

static int open_fd(void) { return in_hop_run(open_fd_here); }

static const fault_case_t open_fd_case = {"hop_stream_open_fd on a pipe", open_fd, {HOP_ENOMEM, HOP_EMFILE}};

Test(fault, a_stream_open_fd_that_runs_out_reports_it_and_leaves_the_descriptor_open) { walk(&open_fd_case); }

/* ---- the loop's inbox -------------------------------------------------------- */

typedef struct {
    hop_job_t job;
    unsigned int seq;
} inbox_item_t;

static void inbox_never_run(hop_job_t *job) { (void)job; }

/* Pushes n items (seq first..first+n-1), then pops them all with the
 * allocation made from the nth_alloc-th on failing (0: none), and checks
 * they come out in push order. Past the ring's slots the pushes go to the
 * stack, whose take records them in the array that may not grow. */
static void inbox_round(hop__mpsc_queue_t *q, inbox_item_t *items, unsigned int first, unsigned int n,
                        unsigned long nth_alloc) {
    for (unsigned int i = 0; i < n; i++) {
        items[i].seq = first + i;
        hop_job_init(&items[i].job, inbox_never_run);
        hop__mpsc_queue_push_mpsc(q, &items[i].job);
    }
    if (nth_alloc)
        hop__fault_arm(HOP__FAULT_ALLOC | HOP__FAULT_FROM_NTH, nth_alloc);
    unsigned int blind = 0; /* look-aheads that stopped where the ring ends */
    for (unsigned int i = 0; i < n; i++) {
        hop_job_t *job;
        hop_job_t *ahead0 = hop__mpsc_queue_ahead_spsc(q, 0), *ahead1 = hop__mpsc_queue_ahead_spsc(q, 1);
        cr_assert_eq(hop__mpsc_queue_pop_spsc(q, &job), HOP__MPSC_ITEM, "job %u of %u lost", i, n);
        /* The look-ahead names the jobs the next pops return, or nothing
         * where the ring ends and the stack is not taken yet: never a
         * wrong one. */
        if (ahead0)
            cr_assert_eq(ahead0, job, "ahead(0) was not job %u", i);
        if (i + 1 < n && ahead1)
            cr_assert_eq(ahead1, &items[i + 1].job, "ahead(1) was not job %u", i + 1);
        blind += i + 1 < n && !ahead1;
        cr_assert_eq(((inbox_item_t *)job)->seq, first + i, "got %u, expected %u", ((inbox_item_t *)job)->seq,
                     first + i);
    }
    cr_assert_leq(blind, 2u, "the look-ahead was blind for %u jobs", blind);
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_pop_spsc(q, &job), HOP__MPSC_EMPTY);
    if (nth_alloc) {
        cr_assert(hop__fault_fired());
        hop__fault_disarm();
    }
}

Test(fault, an_inbox_that_cannot_grow_its_array_still_delivers_every_job_in_order) {
    static hop__mpsc_queue_t q;
    enum { RING = HOP__MPSC_RING_SLOTS };
    static inbox_item_t items[RING + 300];
    hop__mpsc_queue_init(&q);
    /* The ring takes the first RING jobs (a few less once it has wrapped:
     * slots come back a line at a time); the stack the rest. */
    inbox_round(&q, items, 0, RING + 300, 1);                 /* no array at all: the stack by the fallback */
    inbox_round(&q, items, RING + 300, RING + 100, 2);        /* 64 recorded, the rest by the fallback */
    inbox_round(&q, items, 2 * RING + 400, RING + 300, 0);    /* and it grows again once memory is back */
    hop__mpsc_queue_destroy(&q);
}

/* ---- the injection itself ------------------------------------------------ */

Test(fault, the_armed_call_fails_once_and_only_on_the_arming_thread) {
    hop__fault_arm(HOP__FAULT_ALLOC, 2);
    void *a = hop__malloc(16);
    void *b = hop__malloc(16);
    int saved = errno;
    void *c = hop__calloc(1, 16);
    cr_assert(hop__fault_fired());
    cr_assert_eq(hop__fault_calls(), 3);
    hop__fault_disarm();
    cr_assert(a && !b && c);
    cr_assert_eq(saved, ENOMEM);
    free(a);
    free(c);
    hop__fault_arm(HOP__FAULT_THREAD, 1);
    void *m = hop__malloc(16); /* not a kind that was armed */
    cr_assert_not_null(m);
    cr_assert_eq(hop__fault_calls(), 0);
    free(m);
    pthread_t thread;
    cr_assert_eq(hop__pthread_create(&thread, NULL, return_arg, NULL), EAGAIN);
    hop__fault_disarm();
}
