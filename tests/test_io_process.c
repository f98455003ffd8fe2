/* tests/test_io_process.c: child processes (hop/process.h): exit status,
 * death by a signal, pipes for stdin and stdout, kill, a missing program,
 * cancellable waits, and where tasks resume. The children are /bin/sh,
 * cat and wc. */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io_fixture.h"

static void setup(void) {
    io_fixture_start();
}

static void teardown(void) {
    io_fixture_stop();
}

TestSuite(io_process, .init = setup, .fini = teardown, .timeout = 120);

/* Reads s to its end into buf (at most max - 1 bytes, then a '\0'); returns
 * the count or an error. */
static int64_t read_all(hop_stream_t *s, char *buf, size_t max) {
    size_t used = 0;
    for (;;) {
        int64_t n = hop_stream_read(s, buf + used, max - 1 - used);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        used += (size_t)n;
        if (used == max - 1)
            break;
    }
    buf[used] = '\0';
    return (int64_t)used;
}

typedef struct {
    const char *const *argv;
    hop_process_options_t options;
    int spawn_err;
    int wait_err;
    int64_t exit_status;
    int term_signal;
    char out[256];
    hop_executor_t *home, *after;
} child_t;

/* Spawns c's child on loop_a, reads its stdout to the end if it is a pipe,
 * waits for its exit and closes everything. */
static void *child_task(void *arg) {
    child_t *c = arg;
    c->home = hop_executor_current();
    hop_process_t *p;
    c->spawn_err = hop_process_spawn(&loop_a, c->argv, &c->options, &p);
    if (c->spawn_err)
        return NULL;
    hop_stream_t *out = hop_process_pipe(p, 1);
    if (out) {
        CHECK(read_all(out, c->out, sizeof c->out) >= 0);
        CHECK_OK(hop_stream_close(out));
    }
    c->wait_err = hop_process_wait(p, &c->exit_status, &c->term_signal);
    c->after = hop_executor_current();
    CHECK_OK(hop_process_close(p));
    return NULL;
}

Test(io_process, a_child_exit_status_comes_back_to_a_pool_task_which_resumes_on_the_pool) {
    const char *argv[] = {"/bin/sh", "-c", "exit 3", NULL};
    child_t c = {.argv = argv};
    run_task(POOL, child_task, &c);
    cr_assert_eq(c.spawn_err, 0, "%s", hop_err_name(c.spawn_err));
    cr_assert_eq(c.wait_err, 0);
    cr_assert_eq(c.exit_status, 3);
    cr_assert_eq(c.term_signal, 0);
    cr_assert_eq(c.after, POOL);
}

Test(io_process, a_task_on_another_loop_waits_for_a_child_and_resumes_on_its_own_loop) {
    const char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    child_t c = {.argv = argv};
    run_task(LOOP_B, child_task, &c);
    cr_assert_eq(c.wait_err, 0);
    cr_assert_eq(c.exit_status, 0);
    cr_assert_eq(c.home, LOOP_B);
    cr_assert_eq(c.after, LOOP_B);
}

Test(io_process, a_child_killed_by_a_signal_reports_the_signal) {
    const char *argv[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
    child_t c = {.argv = argv};
    run_task(LOOP_A, child_task, &c);
    cr_assert_eq(c.wait_err, 0);
    cr_assert_eq(c.term_signal, SIGTERM, "signal %d", c.term_signal);
    cr_assert_eq(c.exit_status, 0);
}

Test(io_process, stdout_as_a_pipe_is_read_to_its_end) {
    const char *argv[] = {"/bin/sh", "-c", "printf hello; printf ' world'", NULL};
    child_t c = {.argv = argv, .options = {.stdio = {HOP_STDIO_INHERIT, HOP_STDIO_PIPE}}};
    run_task(POOL, child_task, &c);
    cr_assert_eq(c.spawn_err, 0);
    cr_assert_str_eq(c.out, "hello world");
    cr_assert_eq(c.exit_status, 0);
}

Test(io_process, env_and_cwd_reach_the_child) {
    const char *argv[] = {"/bin/sh", "-c", "printf '%s %s' \"$GREETING\" \"$(pwd)\"", NULL};
    const char *env[] = {"GREETING=hi", "PATH=/usr/bin:/bin", NULL};
    child_t c = {.argv = argv, .options = {.env = env, .cwd = "/", .stdio = {0, HOP_STDIO_PIPE}}};
    run_task(LOOP_B, child_task, &c);
    cr_assert_str_eq(c.out, "hi /");
}

Test(io_process, an_ignored_stdout_gives_the_child_somewhere_to_write) {
    const char *argv[] = {"/bin/sh", "-c", "echo lost || exit 9", NULL};
    child_t c = {.argv = argv, .options = {.stdio = {HOP_STDIO_IGNORE, HOP_STDIO_IGNORE, HOP_STDIO_IGNORE}}};
    run_task(POOL, child_task, &c);
    cr_assert_eq(c.exit_status, 0);
}

static void *stdin_task(void *arg) {
    (void)arg;
    const char *argv[] = {"wc", "-c", NULL};
    hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_PIPE}};
    hop_process_t *p;
    int err = hop_process_spawn(&loop_a, argv, &options, &p);
    if (err)
        return (void *)(intptr_t)err;
    /* More than a pipe holds: the write waits for wc to read. */
    static char data[200000];
    memset(data, 'x', sizeof data);
    hop_stream_t *in = hop_process_pipe(p, 0), *out = hop_process_pipe(p, 1);
    CHECK(in && out && hop_process_pipe(p, 2) == NULL);
    CHECK_OK(hop_stream_write(in, data, sizeof data, NULL));
    CHECK_OK(hop_stream_close(in)); /* wc sees the end of its input */
    char text[64];
    CHECK(read_all(out, text, sizeof text) > 0);
    CHECK(strtol(text, NULL, 10) == (long)sizeof data, "wc counted \"%s\"", text);
    CHECK_OK(hop_stream_close(out));
    int64_t status = -1;
    CHECK_OK(hop_process_wait(p, &status, NULL));
    CHECK(status == 0);
    CHECK_OK(hop_process_close(p));
    return NULL;
}

Test(io_process, stdin_as_a_pipe_is_written_then_closed_and_the_child_reads_it_all) {
    cr_assert_eq(run_task(POOL, stdin_task, NULL), 0);
}

static void *kill_task(void *arg) {
    (void)arg;
    /* cat on a pipe nobody writes: it runs until something stops it. */
    const char *argv[] = {"cat", NULL};
    hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_IGNORE}};
    hop_process_t *p;
    int err = hop_process_spawn(&loop_a, argv, &options, &p);
    if (err)
        return (void *)(intptr_t)err;
    CHECK(hop_process_pid(p) > 0);
    CHECK_OK(hop_process_kill(p, 0));
    CHECK_OK(hop_process_kill(p, SIGKILL));
    int64_t status = -1;
    int sig = -1;
    CHECK_OK(hop_process_wait(p, &status, &sig));
    CHECK(sig == SIGKILL && status == 0, "signal %d status %lld", sig, (long long)status);
    CHECK_ERR(hop_process_kill(p, SIGKILL), HOP_EALREADY);
    CHECK_OK(hop_process_wait(p, &status, &sig)); /* again, at once */
    CHECK(sig == SIGKILL);
    CHECK_ERR(hop_process_kill(p, -1), HOP_EINVAL);
    CHECK_OK(hop_stream_close(hop_process_pipe(p, 0)));
    CHECK_OK(hop_process_close(p));
    return NULL;
}

Test(io_process, kill_ends_the_child_with_the_signal_and_a_kill_after_the_exit_gives_ealready) {
    cr_assert_eq(run_task(LOOP_B, kill_task, NULL), 0);
}

static void *missing_task(void *arg) {
    (void)arg;
    hop_process_t *p = (hop_process_t *)1;
    const char *argv[] = {"/nonexistent/hop-no-such-program", NULL};
    CHECK_ERR(hop_process_spawn(&loop_a, argv, NULL, &p), HOP_ENOENT);
    CHECK(p == NULL);
    const char *in_path[] = {"hop-no-such-program-in-path", NULL};
    hop_process_options_t pipes = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_PIPE, HOP_STDIO_PIPE}};
    CHECK_ERR(hop_process_spawn(&loop_a, in_path, &pipes, &p),
              HOP_ENOENT); /* the pipes are not leaked (ASan) */
    const char *sh[] = {"/bin/sh", "-c", "true", NULL};
    hop_process_options_t nowhere = {.cwd = "/nonexistent/hop-no-such-dir"};
    CHECK_ERR(hop_process_spawn(&loop_a, sh, &nowhere, &p), HOP_ENOENT);
    return NULL;
}

Test(io_process, spawning_a_missing_program_gives_enoent) {
    cr_assert_eq(run_task(POOL, missing_task, NULL), 0);
}

typedef struct {
    hop_process_t *p;
    int err;
    int64_t status;
} waiter_t;

static void *waiter_task(void *arg) {
    waiter_t *w = arg;
    w->err = hop_process_wait(w->p, &w->status, NULL);
    return NULL;
}

static void *spawn_cat_task(void *arg) {
    const char *argv[] = {"cat", NULL};
    hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_IGNORE}};
    return (void *)(intptr_t)hop_process_spawn(&loop_a, argv, &options, arg);
}

static void *close_stream_task(void *arg) { return (void *)(intptr_t)hop_stream_close(arg); }

static void *close_process_task(void *arg) { return (void *)(intptr_t)hop_process_close(arg); }

Test(io_process, a_cancelled_wait_leaves_the_child_running_and_a_later_wait_gets_its_exit) {
    hop_process_t *p;
    cr_assert_eq(run_task(POOL, spawn_cat_task, &p), 0);
    waiter_t w = {.p = p};
    hop_task_t *t = test_spawn(POOL, waiter_task, &w);
    test_wait_suspended(t);
    HOP_OK(hop_task_cancel(t));
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    cr_assert_eq(w.err, HOP_ECANCELED, "%s", hop_err_name(w.err));
    cr_assert_eq(kill(hop_process_pid(p), 0), 0, "cat still runs");
    /* A second wait, from another loop; closing cat's stdin ends it. */
    waiter_t again = {.p = p, .status = -1};
    t = test_spawn(LOOP_B, waiter_task, &again);
    test_wait_suspended(t);
    cr_assert_eq(run_task(POOL, close_stream_task, hop_process_pipe(p, 0)), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(again.err, 0, "%s", hop_err_name(again.err));
    cr_assert_eq(again.status, 0);
    cr_assert_eq(run_task(POOL, close_process_task, p), 0);
}

Test(io_process, several_tasks_wait_for_one_child_and_all_see_its_exit) {
    hop_process_t *p;
    cr_assert_eq(run_task(POOL, spawn_cat_task, &p), 0);
    waiter_t w[3] = {{.p = p}, {.p = p}, {.p = p}};
    hop_executor_t *executors[] = {POOL, LOOP_A, LOOP_B};
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = test_spawn(executors[i], waiter_task, &w[i]);
    for (int i = 0; i < 3; i++)
        test_wait_suspended(t[i]);
    cr_assert_eq(run_task(POOL, close_stream_task, hop_process_pipe(p, 0)), 0);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(test_join(t[i]), 0);
        cr_assert_eq(w[i].err, 0);
    }
    cr_assert_eq(run_task(POOL, close_process_task, p), 0);
}

Test(io_process, closing_the_handle_wakes_a_waiting_task_with_eclosed) {
    hop_process_t *p;
    cr_assert_eq(run_task(POOL, spawn_cat_task, &p), 0);
    int pid = hop_process_pid(p);
    hop_stream_t *in = hop_process_pipe(p, 0);
    waiter_t w = {.p = p};
    hop_task_t *t = test_spawn(LOOP_B, waiter_task, &w);
    test_wait_suspended(t);
    cr_assert_eq(run_task(POOL, close_process_task, p), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(w.err, HOP_ECLOSED, "%s", hop_err_name(w.err));
    /* libuv no longer reaps it: end it and reap it here. */
    cr_assert_eq(run_task(POOL, close_stream_task, in), 0);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
}

static void *bad_arguments_task(void *arg) {
    (void)arg;
    hop_process_t *p;
    const char *empty[] = {NULL};
    const char *sh[] = {"/bin/sh", NULL};
    hop_process_options_t bad = {.stdio = {HOP_STDIO_INHERIT, (hop_stdio_t)7}};
    CHECK_ERR(hop_process_spawn(&loop_a, NULL, NULL, &p), HOP_EINVAL);
    CHECK_ERR(hop_process_spawn(&loop_a, empty, NULL, &p), HOP_EINVAL);
    CHECK_ERR(hop_process_spawn(&loop_a, sh, NULL, NULL), HOP_EINVAL);
    CHECK_ERR(hop_process_spawn(&loop_a, sh, &bad, &p), HOP_EINVAL);
    CHECK_ERR(hop_process_spawn(NULL, sh, NULL, &p), HOP_EINVAL); /* a pool task has no loop */
    CHECK_ERR(hop_process_wait(NULL, NULL, NULL), HOP_EINVAL);
    CHECK_ERR(hop_process_kill(NULL, SIGTERM), HOP_EINVAL);
    CHECK_ERR(hop_process_close(NULL), HOP_EINVAL);
    CHECK(hop_process_pipe(NULL, 0) == NULL && hop_process_pid(NULL) == 0);
    return NULL;
}

Test(io_process, bad_arguments_get_einval) { cr_assert_eq(run_task(POOL, bad_arguments_task, NULL), 0); }

/* ---- exits and cancels at random moments ------------------------------------------------ */

#define STRESS_ROUNDS (300 / STRESS_SCALE)

typedef struct {
    hop_process_t *p;
    unsigned int started; /* atomic: spawned, about to wait */
    int spawn_err, wait_err;
    int64_t status;
    unsigned int resumed;
} exit_round_t;

static void *exit_round_task(void *arg) {
    exit_round_t *r = arg;
    const char *argv[] = {"/bin/sh", "-c", "exit 5", NULL};
    r->spawn_err = hop_process_spawn(&loop_a, argv, NULL, &r->p);
    test_store_uint(&r->started, 1);
    if (r->spawn_err)
        return NULL;
    r->status = -1;
    r->wait_err = hop_process_wait(r->p, &r->status, NULL);
    r->resumed++;
    return NULL;
}

static void *finish_round_task(void *arg) {
    exit_round_t *r = arg;
    if (r->wait_err == HOP_ECANCELED) /* the child ran on: its exit is still to come, or came */
        r->wait_err = hop_process_wait(r->p, &r->status, NULL);
    return (void *)(intptr_t)hop_process_close(r->p);
}

Test(io_process, exits_and_cancels_at_random_moments_resume_each_waiter_once_and_lose_no_exit,
     .timeout = 300) {
#if STRESS_SCALE != 1
    /* Not under ThreadSanitizer: there, one run in 15 to 30 on a loaded
     * machine leaves the last child a zombie and its waiter waiting. In that
     * state (gdb on the hung process) no SIGCHLD is pending at the kernel,
     * the process is still in libuv's list of the loop's children, and
     * libuv's SIGCHLD handle has dispatched every signal its handler caught
     * (caught_signals == dispatched_signals): the handler never ran for that
     * exit. The signal was taken off the kernel by TSan's own handler, which
     * defers asynchronous signals to the thread's next intercepted call, and
     * never handed on; hop is not on that path (it installs no SIGCHLD
     * handler). Blocking SIGCHLD in the test's thread did not help. The gcc,
     * clang, ucontext and ASan builds run all 300 rounds. */
    cr_log_info("skipped under ThreadSanitizer");
    return;
#endif
    hop_executor_t *executors[] = {POOL, LOOP_B, LOOP_A};
    unsigned int seed = 11, cancelled = 0;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        exit_round_t r = {0};
        hop_task_t *t = test_spawn(executors[i % 3], exit_round_task, &r);
        while (!test_load_uint(&r.started))
            sched_yield();
        unsigned int spin = (unsigned int)rand_r(&seed) % 200000u;
        for (volatile unsigned int k = 0; k < spin; k++)
            ;
        hop_task_cancel(t);
        hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(t);
        cr_assert_eq(r.spawn_err, 0, "round %d: %s", i, hop_err_name(r.spawn_err));
        cr_assert_eq(r.resumed, 1u, "round %d: resumed once", i);
        cr_assert(r.wait_err == 0 || r.wait_err == HOP_ECANCELED, "round %d: %s", i,
                  hop_err_name(r.wait_err));
        cancelled += r.wait_err == HOP_ECANCELED;
        cr_assert_eq(run_task(POOL, finish_round_task, &r), 0);
        cr_assert_eq(r.wait_err, 0, "round %d: the exit is seen", i);
        cr_assert_eq(r.status, 5, "round %d", i);
    }
    cr_log_info("%d rounds, %u waits cancelled", STRESS_ROUNDS, cancelled);
    cr_assert_gt(cancelled, 0u);
}
