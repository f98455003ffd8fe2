/* tests/test_debug_names.c: what hop_task_dump says each of hop's own
 * awaitables waits on (their describe ops, hop/awaitable.h): a task is
 * parked on each kind in turn and the dump's line for it must name the
 * wait with its specifics (a duration, an address, a descriptor, a path). */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io_tcp_fixture.h"

TestSuite(debug_names, .init = setup, .fini = teardown, .timeout = 120);

/* The whole dump, as text (the caller frees it). */
static char *dump_text(void) {
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cr_assert_not_null(out);
    cr_assert_geq(hop_task_dump(out, 0), 0);
    fclose(out);
    return text;
}

/* Copies t's line of text (without its newline) to line; false if t has none. */
static bool task_line(const char *text, hop_task_t *t, char *line, size_t size) {
    char head[48];
    snprintf(head, sizeof head, "task %llu \"", (unsigned long long)hop_task_id(t));
    for (const char *at = text; at && *at; at = strchr(at, '\n') ? strchr(at, '\n') + 1 : NULL) {
        if (strncmp(at, head, strlen(head)) == 0) {
            size_t n = strcspn(at, "\n");
            snprintf(line, size, "%.*s", (int)n, at);
            return true;
        }
    }
    return false;
}

/* Polls the dump until t's line says it waits on want ("waiting on
 * \"<want>\""; with a number, want is a prefix that a number must follow).
 * The task may still be on its way to that wait, or in an earlier one
 * (opening a handle): the deadline is generous and never a measure. */
static void expect_waiting_on(hop_task_t *t, const char *want, bool number) {
    char quoted[160];
    snprintf(quoted, sizeof quoted, number ? "waiting on \"%s" : "waiting on \"%s\"", want);
    uint64_t until = hop_time_now_ns() + 60ull * 1000000000u;
    for (;;) {
        char *text = dump_text();
        char line[512];
        bool found = false;
        if (hop_task_state(t) == HOP_TASK_SUSPENDED && task_line(text, t, line, sizeof line)) {
            const char *at = strstr(line, quoted);
            found = at && (!number || (at[strlen(quoted)] >= '0' && at[strlen(quoted)] <= '9'));
        }
        if (!found && hop_time_now_ns() > until)
            cr_assert_fail("task %llu never showed %s%s; the dump:\n%s", (unsigned long long)hop_task_id(t), quoted,
                           number ? "<number>\"" : "", text);
        free(text);
        if (found)
            return;
        test_sleep_ms(1);
    }
}

static char *fmt(const char *format, const void *p) {
    static char buf[160];
    snprintf(buf, sizeof buf, format, p);
    return buf;
}

/* ---- the core and the toolkit ------------------------------------------------------------ */

static hop_future_t gate;

static void *await_gate(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&gate, NULL));
    return NULL;
}

Test(debug_names, a_task_awaiting_a_future_shows_the_future_s_address) {
    HOP_OK(hop_future_init(&gate));
    hop_task_t *t = test_spawn(POOL, await_gate, NULL);
    expect_waiting_on(t, fmt("future %p", &gate), false);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

static void *sleep_long(void *arg) {
    (void)arg;
    CHECK_ERR(hop_sleep(600000), HOP_ECANCELED);
    return NULL;
}

Test(debug_names, a_sleeping_task_shows_how_long_it_sleeps) {
    hop_task_t *t = test_spawn(POOL, sleep_long, NULL);
    expect_waiting_on(t, "sleep 600000 ms", false);
    HOP_OK(hop_task_cancel(t));
    cr_assert_eq(test_join(t), HOP_ECANCELED, "a cancelled task's status");
    test_assert_checks();
}

static hop_mutex_t mutex;

static void *hold_mutex_until_gate(void *arg) {
    (void)arg;
    CHECK_OK(hop_mutex_lock(&mutex));
    CHECK_OK(hop_future_await(&gate, NULL));
    CHECK_OK(hop_mutex_unlock(&mutex));
    return NULL;
}

static void *lock_mutex(void *arg) {
    (void)arg;
    CHECK_OK(hop_mutex_lock(&mutex));
    CHECK_OK(hop_mutex_unlock(&mutex));
    return NULL;
}

Test(debug_names, a_task_waiting_for_a_mutex_shows_the_mutex_s_address) {
    HOP_OK(hop_future_init(&gate));
    HOP_OK(hop_mutex_init(&mutex));
    hop_task_t *holder = test_spawn(POOL, hold_mutex_until_gate, NULL);
    expect_waiting_on(holder, fmt("future %p", &gate), false);
    hop_task_t *t = test_spawn(POOL, lock_mutex, NULL);
    expect_waiting_on(t, fmt("mutex %p", &mutex), false);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(test_join(holder), 0);
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_mutex_destroy(&mutex));
    test_assert_checks();
}

static hop_event_t event;

static void *wait_event(void *arg) {
    (void)arg;
    CHECK_OK(hop_event_wait(&event));
    return NULL;
}

Test(debug_names, a_task_waiting_for_an_event_shows_the_event_s_address) {
    HOP_OK(hop_event_init(&event));
    hop_task_t *t = test_spawn(POOL, wait_event, NULL);
    expect_waiting_on(t, fmt("event %p", &event), false);
    HOP_OK(hop_event_set(&event));
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_event_destroy(&event));
    test_assert_checks();
}

static hop_semaphore_t semaphore;

static void *acquire_semaphore(void *arg) {
    (void)arg;
    CHECK_OK(hop_semaphore_acquire(&semaphore));
    return NULL;
}

Test(debug_names, a_task_waiting_on_a_semaphore_shows_the_semaphore_s_address) {
    HOP_OK(hop_semaphore_init(&semaphore, 0, 1));
    hop_task_t *t = test_spawn(POOL, acquire_semaphore, NULL);
    expect_waiting_on(t, fmt("semaphore %p", &semaphore), false);
    HOP_OK(hop_semaphore_release(&semaphore));
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_semaphore_destroy(&semaphore));
    test_assert_checks();
}

static hop_once_t once;

static int once_init_waits_for_gate(void *arg, void **value) {
    (void)arg;
    *value = NULL;
    return hop_future_await(&gate, NULL);
}

static void *call_once(void *arg) {
    (void)arg;
    CHECK_OK(hop_once_call(&once, once_init_waits_for_gate, NULL, NULL));
    return NULL;
}

Test(debug_names, a_task_waiting_for_a_once_shows_the_once_s_address) {
    HOP_OK(hop_future_init(&gate));
    HOP_OK(hop_once_init(&once));
    hop_task_t *runner = test_spawn(POOL, call_once, NULL);
    expect_waiting_on(runner, fmt("future %p", &gate), false);
    hop_task_t *t = test_spawn(POOL, call_once, NULL);
    expect_waiting_on(t, fmt("once %p", &once), false);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(test_join(runner), 0);
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

static hop_channel_t channel;
static void *channel_buffer[1];

static void *receive(void *arg) {
    (void)arg;
    void *item;
    CHECK_OK(hop_channel_receive(&channel, &item));
    return NULL;
}

static void *send_one(void *arg) {
    CHECK_OK(hop_channel_send(&channel, arg));
    return NULL;
}

Test(debug_names, a_task_receiving_from_an_empty_channel_shows_channel_recv_and_its_address) {
    HOP_OK(hop_channel_init(&channel, 1, channel_buffer));
    hop_task_t *t = test_spawn(POOL, receive, NULL);
    expect_waiting_on(t, fmt("channel recv %p", &channel), false);
    HOP_OK(hop_channel_try_send(&channel, NULL));
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_channel_destroy(&channel));
    test_assert_checks();
}

Test(debug_names, a_task_sending_to_a_full_channel_shows_channel_send_and_its_address) {
    HOP_OK(hop_channel_init(&channel, 1, channel_buffer));
    HOP_OK(hop_channel_try_send(&channel, NULL));
    hop_task_t *t = test_spawn(POOL, send_one, NULL);
    expect_waiting_on(t, fmt("channel send %p", &channel), false);
    void *item;
    HOP_OK(hop_channel_try_receive(&channel, &item));
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_channel_try_receive(&channel, &item));
    HOP_OK(hop_channel_destroy(&channel));
    test_assert_checks();
}

static hop_future_t gate_b;

static void *when_all_gates(void *arg) {
    (void)arg;
    hop_future_t *futures[] = {&gate, &gate_b};
    CHECK_OK(hop_when_all(futures, 2, 0, NULL, NULL, NULL));
    return NULL;
}

static void *when_any_gate(void *arg) {
    (void)arg;
    hop_future_t *futures[] = {&gate, &gate_b};
    CHECK(hop_when_any(futures, 2, 0, NULL, NULL, NULL) == 1, "the second completed");
    return NULL;
}

Test(debug_names, a_task_in_when_all_shows_how_many_of_how_many_are_pending) {
    HOP_OK(hop_future_init(&gate));
    HOP_OK(hop_future_init(&gate_b));
    hop_task_t *t = test_spawn(POOL, when_all_gates, NULL);
    expect_waiting_on(t, "when_all of 2 futures, 2 pending", false);
    HOP_OK(hop_future_set_result(&gate, NULL));
    expect_waiting_on(t, "when_all of 2 futures, 1 pending", false);
    HOP_OK(hop_future_set_result(&gate_b, NULL));
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

Test(debug_names, a_task_in_when_any_says_when_any) {
    HOP_OK(hop_future_init(&gate));
    HOP_OK(hop_future_init(&gate_b));
    hop_task_t *t = test_spawn(POOL, when_any_gate, NULL);
    expect_waiting_on(t, "when_any of 2 futures, 2 pending", false);
    HOP_OK(hop_future_set_result(&gate_b, NULL));
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

static hop_group_t group;

static int group_child(void *arg, void **result) {
    (void)arg;
    *result = NULL;
    return hop_future_await(&gate, NULL);
}

static void *group_parent(void *arg) {
    (void)arg;
    CHECK_OK(hop_group_spawn(&group, POOL, group_child, NULL, NULL, NULL));
    CHECK_OK(hop_group_wait(&group));
    return NULL;
}

Test(debug_names, a_task_waiting_for_its_group_shows_the_group_s_address) {
    HOP_OK(hop_future_init(&gate));
    HOP_OK(hop_group_init(&group));
    hop_task_t *t = test_spawn(POOL, group_parent, NULL);
    expect_waiting_on(t, fmt("group wait %p", &group), false);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_group_destroy(&group));
    test_assert_checks();
}

static unsigned int job_may_return;

static void *job_waits_for_flag(void *arg) {
    (void)arg;
    test_wait_for(&job_may_return, 1u);
    return NULL;
}

static void *offload_to(void *arg) {
    CHECK_OK(hop_run_in_executor(arg, job_waits_for_flag, NULL, NULL));
    return NULL;
}

static void *offload_blocking(void *arg) {
    (void)arg;
    CHECK_OK(hop_run_blocking(job_waits_for_flag, NULL, NULL));
    return NULL;
}

Test(debug_names, a_task_in_run_in_executor_shows_the_executor) {
    hop_blocking_t blocking;
    HOP_OK(hop_blocking_init(&blocking, NULL));
    hop_executor_t *executor = hop_blocking_executor(&blocking);
    test_store_uint(&job_may_return, 0u);
    hop_task_t *t = test_spawn(POOL, offload_to, executor);
    expect_waiting_on(t, fmt("run_in_executor on %p", executor), false);
    test_store_uint(&job_may_return, 1u);
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_blocking_close(&blocking));
    test_assert_checks();
}

Test(debug_names, a_task_in_run_blocking_says_run_blocking) {
    test_store_uint(&job_may_return, 0u);
    hop_task_t *t = test_spawn(POOL, offload_blocking, NULL);
    expect_waiting_on(t, fmt("run_blocking on %p", hop_blocking_executor(hop_blocking_default())), false);
    test_store_uint(&job_may_return, 1u);
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_blocking_default_shutdown()); /* its threads are joined before the test ends */
    test_assert_checks();
}

/* ---- I/O ---------------------------------------------------------------------------------- */

static int pipe_fds[2];

static void *read_pipe(void *arg) {
    (void)arg;
    hop_stream_t *s;
    CHECK_OK(hop_stream_open_fd(&loop_a, pipe_fds[0], NULL, &s));
    char byte;
    CHECK(hop_stream_read(s, &byte, 1) == 1, "read a byte");
    CHECK_OK(hop_stream_close(s));
    return NULL;
}

Test(debug_names, a_task_reading_a_pipe_shows_pipe_read_and_its_descriptor) {
    cr_assert_eq(pipe(pipe_fds), 0);
    hop_task_t *t = test_spawn(POOL, read_pipe, NULL);
    char want[64];
    snprintf(want, sizeof want, "pipe read fd %d", pipe_fds[0]);
    expect_waiting_on(t, want, false);
    cr_assert_eq(write(pipe_fds[1], "x", 1), 1);
    cr_assert_eq(test_join(t), 0);
    close(pipe_fds[1]);
    test_assert_checks();
}

#define PIPE_WRITE_BYTES (4u << 20) /* far more than a pipe holds */

static void *write_pipe(void *arg) {
    hop_stream_t *s;
    CHECK_OK(hop_stream_open_fd(&loop_a, pipe_fds[1], NULL, &s));
    size_t written = 0;
    CHECK_OK(hop_stream_write(s, arg, PIPE_WRITE_BYTES, &written));
    CHECK_OK(hop_stream_close(s));
    return NULL;
}

Test(debug_names, a_task_writing_to_a_full_pipe_shows_pipe_write_and_its_descriptor) {
    cr_assert_eq(pipe(pipe_fds), 0);
    char *data = calloc(1, PIPE_WRITE_BYTES);
    cr_assert_not_null(data);
    hop_task_t *t = test_spawn(POOL, write_pipe, data);
    char want[64];
    snprintf(want, sizeof want, "pipe write fd %d", pipe_fds[1]);
    expect_waiting_on(t, want, false);
    char sink[65536];
    size_t got = 0;
    while (got < PIPE_WRITE_BYTES) {
        ssize_t n = read(pipe_fds[0], sink, sizeof sink);
        cr_assert_gt(n, 0);
        got += (size_t)n;
    }
    cr_assert_eq(test_join(t), 0);
    close(pipe_fds[0]);
    free(data);
    test_assert_checks();
}

static hop_tcp_listener_t *listener;
static hop_stream_t *accepted;

static void *accept_one(void *arg) {
    (void)arg;
    CHECK_OK(hop_tcp_accept(listener, &accepted));
    return NULL;
}

static void *read_accepted(void *arg) {
    (void)arg;
    char byte;
    CHECK(hop_stream_read(accepted, &byte, 1) == 1, "read a byte");
    CHECK_OK(hop_stream_close(accepted));
    CHECK_OK(hop_tcp_listener_close(listener));
    return NULL;
}

/* Connects, then writes one byte once the gate opens. */
static void *connect_then_send(void *arg) {
    hop_stream_t *s;
    CHECK_OK(hop_tcp_connect(&loop_b, "127.0.0.1", *(int *)arg, NULL, &s));
    CHECK_OK(hop_future_await(&gate, NULL));
    CHECK_OK(hop_stream_write(s, "x", 1, NULL));
    CHECK_OK(hop_stream_close(s));
    return NULL;
}

Test(debug_names, tasks_accepting_and_reading_tcp_show_tcp_accept_and_tcp_read_with_a_descriptor) {
    HOP_OK(hop_future_init(&gate));
    listen_t l = {.host = "127.0.0.1"};
    listen_on(&l, "127.0.0.1");
    listener = l.listener;
    hop_task_t *acceptor = test_spawn(POOL, accept_one, NULL);
    expect_waiting_on(acceptor, "tcp accept fd ", true);
    int port = l.port;
    hop_task_t *client = test_spawn(LOOP_B, connect_then_send, &port);
    cr_assert_eq(test_join(acceptor), 0);
    hop_task_t *reader = test_spawn(POOL, read_accepted, NULL);
    expect_waiting_on(reader, "tcp read fd ", true);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(test_join(client), 0);
    cr_assert_eq(test_join(reader), 0);
    test_assert_checks();
}

static hop_udp_t *udp;

static void *recv_udp(void *arg) {
    (void)arg;
    char buf[16];
    CHECK(hop_udp_recv_from(udp, buf, sizeof buf, NULL) == HOP_ECANCELED, "cancelled");
    return NULL;
}

static void *bind_udp(void *arg) {
    (void)arg;
    CHECK_OK(hop_udp_bind(&loop_a, "127.0.0.1", 0, NULL, &udp));
    return NULL;
}

static void *close_udp(void *arg) {
    (void)arg;
    CHECK_OK(hop_udp_close(udp));
    return NULL;
}

Test(debug_names, a_task_receiving_udp_shows_udp_recv_and_its_descriptor) {
    run_task(POOL, bind_udp, NULL);
    hop_task_t *t = test_spawn(POOL, recv_udp, NULL);
    expect_waiting_on(t, "udp recv fd ", true);
    HOP_OK(hop_task_cancel(t));
    cr_assert_eq(test_join(t), HOP_ECANCELED, "a cancelled task's status");
    run_task(POOL, close_udp, NULL);
    test_assert_checks();
}

static char fifo_path[128];

static void make_fifo(void) {
    snprintf(fifo_path, sizeof fifo_path, "/tmp/hop-debug-names-%d.fifo", (int)getpid());
    unlink(fifo_path);
    cr_assert_eq(mkfifo(fifo_path, 0600), 0);
}

static void *open_fifo(void *arg) {
    (void)arg;
    hop_file_t *f;
    CHECK_OK(hop_file_open(&loop_a, fifo_path, O_RDONLY, 0, &f));
    CHECK_OK(hop_file_close(f));
    return NULL;
}

Test(debug_names, a_task_opening_a_file_shows_fs_open_and_the_path) {
    make_fifo();
    /* Opening a FIFO for reading waits for a writer, in libuv's pool. */
    hop_task_t *t = test_spawn(POOL, open_fifo, NULL);
    char want[192];
    snprintf(want, sizeof want, "fs open %s", fifo_path);
    expect_waiting_on(t, want, false);
    int writer = open(fifo_path, O_WRONLY);
    cr_assert_geq(writer, 0);
    cr_assert_eq(test_join(t), 0);
    close(writer);
    unlink(fifo_path);
    test_assert_checks();
}

static hop_file_t *fifo_file;

static void *read_fifo(void *arg) {
    (void)arg;
    char byte;
    CHECK(hop_file_read(fifo_file, &byte, 1, HOP_FILE_CURRENT) == 1, "read a byte");
    return NULL;
}

static void *open_fifo_rdwr(void *arg) {
    (void)arg;
    CHECK_OK(hop_file_open(&loop_a, fifo_path, O_RDWR, 0, &fifo_file));
    return NULL;
}

static void *close_fifo(void *arg) {
    (void)arg;
    CHECK_OK(hop_file_close(fifo_file));
    return NULL;
}

Test(debug_names, a_task_reading_a_file_shows_fs_read_and_its_descriptor) {
    make_fifo();
    run_task(POOL, open_fifo_rdwr, NULL); /* O_RDWR: a FIFO opens at once */
    hop_task_t *t = test_spawn(POOL, read_fifo, NULL);
    char want[64];
    snprintf(want, sizeof want, "fs read fd %d", hop_file_fd(fifo_file));
    expect_waiting_on(t, want, false);
    int writer = open(fifo_path, O_WRONLY);
    cr_assert_geq(writer, 0);
    cr_assert_eq(write(writer, "x", 1), 1);
    cr_assert_eq(test_join(t), 0);
    close(writer);
    run_task(POOL, close_fifo, NULL);
    unlink(fifo_path);
    test_assert_checks();
}

#define BLOCKERS 8 /* twice libuv's pool (set to 4 below): what comes next waits in its queue */

static void *lookup_localhost(void *arg) {
    (void)arg;
    struct addrinfo *result = NULL;
    CHECK_OK(hop_getaddrinfo(&loop_a, "localhost", NULL, NULL, &result));
    hop_freeaddrinfo(result);
    return NULL;
}

Test(debug_names, a_task_in_a_dns_lookup_shows_the_host) {
    setenv("UV_THREADPOOL_SIZE", "4", 1); /* read at libuv's first request, in this test's process */
    make_fifo();
    hop_task_t *blockers[BLOCKERS];
    for (int i = 0; i < BLOCKERS; i++)
        blockers[i] = test_spawn(LOOP_A, open_fifo, NULL);
    for (int i = 0; i < BLOCKERS; i++)
        test_wait_suspended(blockers[i]);
    hop_task_t *t = test_spawn(LOOP_A, lookup_localhost, NULL);
    expect_waiting_on(t, "dns getaddrinfo localhost", false);
    int writer = open(fifo_path, O_WRONLY);
    cr_assert_geq(writer, 0);
    for (int i = 0; i < BLOCKERS; i++)
        cr_assert_eq(test_join(blockers[i]), 0);
    cr_assert_eq(test_join(t), 0);
    close(writer);
    unlink(fifo_path);
    test_assert_checks();
}

static hop_process_t *process;

static void *spawn_sleeper(void *arg) {
    (void)arg;
    const char *argv[] = {"/bin/sleep", "600", NULL};
    CHECK_OK(hop_process_spawn(&loop_a, argv, NULL, &process));
    return NULL;
}

static void *wait_process(void *arg) {
    (void)arg;
    int64_t status;
    int signal;
    CHECK_OK(hop_process_wait(process, &status, &signal));
    CHECK(signal == SIGKILL, "killed, not %d", signal);
    CHECK_OK(hop_process_close(process));
    return NULL;
}

Test(debug_names, a_task_waiting_for_a_process_shows_its_pid) {
    run_task(POOL, spawn_sleeper, NULL);
    int pid = hop_process_pid(process);
    hop_task_t *t = test_spawn(POOL, wait_process, NULL);
    char want[64];
    snprintf(want, sizeof want, "process wait pid %d", pid);
    expect_waiting_on(t, want, false);
    cr_assert_eq(kill(pid, SIGKILL), 0); /* not reaped before the wait returns: still its pid */
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

static void *wait_signal(void *arg) {
    (void)arg;
    hop_signal_t *watcher;
    CHECK_OK(hop_signal_open(&loop_a, SIGUSR2, &watcher));
    CHECK(hop_signal_wait(watcher) == HOP_ECANCELED, "cancelled");
    CHECK_OK(hop_signal_close(watcher));
    return NULL;
}

Test(debug_names, a_task_waiting_for_a_signal_shows_the_signal_number) {
    hop_task_t *t = test_spawn(POOL, wait_signal, NULL);
    char want[64];
    snprintf(want, sizeof want, "signal wait signal %d", SIGUSR2);
    expect_waiting_on(t, want, false);
    HOP_OK(hop_task_cancel(t));
    cr_assert_eq(test_join(t), HOP_ECANCELED, "a cancelled task's status");
    test_assert_checks();
}

/* ---- awaitables without describe ---------------------------------------------------------- */

static bool plain_suspend(hop_awaitable_t *aw) {
    (void)aw;
    return true; /* completed by the test */
}

static const hop_awaitable_ops_t plain_ops = {.name = "plain wait", .suspend = plain_suspend};
static hop_awaitable_t plain;

static void *await_plain(void *arg) {
    (void)arg;
    CHECK_OK(hop_await(&plain));
    return NULL;
}

Test(debug_names, an_awaitable_without_describe_shows_its_static_name) {
    HOP_OK(hop_awaitable_init(&plain, &plain_ops));
    hop_task_t *t = test_spawn(POOL, await_plain, NULL);
    expect_waiting_on(t, "plain wait", false);
    hop_task_info_t info[256];
    size_t count;
    HOP_OK(hop_task_snapshot(info, 256, &count));
    for (size_t i = 0; i < count && i < 256; i++)
        if (info[i].task == t)
            cr_assert_str_eq(info[i].waiting_on, "plain wait", "the snapshot keeps the static name");
    HOP_OK(hop_awaitable_complete(&plain, 0));
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

/* A user's awaitable with a describe op, as hop/awaitable.h shows one. */
typedef struct {
    hop_awaitable_t base;
    int ticket;
} counter_wait_t;

static void counter_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "ticket %d", ((const counter_wait_t *)aw)->ticket);
}

static const hop_awaitable_ops_t counter_ops = {.name = "ticket",
                                                .suspend = plain_suspend,
                                                .describe = counter_describe,
                                                .describe_size = sizeof(counter_wait_t)};
static const hop_awaitable_ops_t counter_unsized_ops = {.name = "ticket (unsized)",
                                                        .suspend = plain_suspend,
                                                        .describe = counter_describe};
static counter_wait_t *counter_parked;

static void *await_counter(void *arg) {
    counter_wait_t w = {.ticket = 42};
    CHECK_OK(hop_awaitable_init(&w.base, arg));
    __atomic_store_n(&counter_parked, &w, __ATOMIC_RELEASE);
    CHECK_OK(hop_await(&w.base));
    return NULL;
}

static void complete_counter(hop_task_t *t) {
    counter_wait_t *w = __atomic_load_n(&counter_parked, __ATOMIC_ACQUIRE);
    HOP_OK(hop_awaitable_complete(&w->base, 0));
    cr_assert_eq(test_join(t), 0);
    test_assert_checks();
}

Test(debug_names, a_user_awaitable_with_describe_shows_its_own_text) {
    hop_task_t *t = test_spawn(POOL, await_counter, (void *)&counter_ops);
    expect_waiting_on(t, "ticket 42", false);
    complete_counter(t);
}

Test(debug_names, a_describe_without_a_describe_size_is_not_called_and_the_name_shows) {
    hop_task_t *t = test_spawn(POOL, await_counter, (void *)&counter_unsized_ops);
    expect_waiting_on(t, "ticket (unsized)", false);
    complete_counter(t);
}

/* ---- dumps racing tasks that move ------------------------------------------------------------ */

static hop_mutex_t churn_mutex;

static void *churn(void *arg) {
    (void)arg;
    int rounds = STRESS_SCALE > 1 ? 200 : 2000;
    for (int i = 0; i < rounds; i++) {
        CHECK_OK(hop_mutex_lock(&churn_mutex));
        CHECK_OK(hop_yield());
        CHECK_OK(hop_mutex_unlock(&churn_mutex));
    }
    return NULL;
}

/* Each "waiting on" of text is one of the waits the churn makes, whole:
 * described ("mutex <its address>"), or by its static name when the task
 * moved on while the dump looked ("mutex lock"), or a yield. */
static void check_churn_dump(const char *text, const char *mutex) {
    for (const char *at = strstr(text, "waiting on \""); at; at = strstr(at + 1, "waiting on \"")) {
        const char *wait = at + strlen("waiting on \"");
        size_t n = strcspn(wait, "\"");
        bool known = (n == strlen(mutex) && strncmp(wait, mutex, n) == 0) ||
                     (n == strlen("mutex lock") && strncmp(wait, "mutex lock", n) == 0) ||
                     (n == strlen("yield") && strncmp(wait, "yield", n) == 0) || strncmp(wait, "future ", 7) == 0;
        cr_assert(known, "an unexpected or torn wait: %.*s", (int)n, wait);
    }
}

Test(debug_names, dumps_racing_tasks_that_lock_and_yield_show_only_whole_waits) {
    HOP_OK(hop_mutex_init(&churn_mutex));
    char mutex[64];
    snprintf(mutex, sizeof mutex, "mutex %p", (void *)&churn_mutex);
    hop_task_t *tasks[4];
    for (int i = 0; i < 4; i++)
        tasks[i] = test_spawn(POOL, churn, NULL);
    long dumps = 0;
    for (;;) {
        bool all_done = true;
        for (int i = 0; i < 4; i++)
            all_done = all_done && hop_future_is_done(hop_task_future(tasks[i]));
        char *text = dump_text();
        check_churn_dump(text, mutex);
        free(text);
        dumps++;
        if (all_done)
            break;
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(test_join(tasks[i]), 0);
    HOP_OK(hop_mutex_destroy(&churn_mutex));
    cr_log_info("%ld dumps", dumps);
    test_assert_checks();
}
