/* tests/test_debug_signal.c: the task dump on a signal
 * (hop_debug_install_dump_signal, hop/debug.h): a raised signal writes the
 * dump of the live tasks to the configured descriptor, the uninstall gives
 * the signal back as it was, and bad arguments are refused. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(debug_signal, .init = setup, .fini = teardown, .timeout = 120);

static hop_future_t gate;

static void *await_gate(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&gate, NULL));
    return NULL;
}

/* Reads fd until the text holds a whole dump (its total line after the
 * header), or 60 s pass; returns the text (the caller frees it). poll waits
 * for the dump thread's bytes: no sleeps. */
static char *read_dump(int fd) {
    size_t cap = 1 << 16, len = 0;
    char *text = calloc(1, cap);
    cr_assert_not_null(text);
    uint64_t until = hop_time_now_ns() + 60ull * 1000000000u;
    for (;;) {
        const char *header = strstr(text, "hop: task dump on signal");
        const char *end = header ? strstr(header, " tasks\n") : NULL;
        if (!end && header)
            end = strstr(header, " task\n");
        if (end)
            return text;
        int64_t left_ms = (int64_t)(until - hop_time_now_ns()) / 1000000;
        cr_assert(hop_time_now_ns() < until, "no whole dump within 60 s; read so far:\n%s", text);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int rc = poll(&p, 1, (int)left_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        cr_assert_geq(rc, 0);
        if (rc == 0)
            continue;
        if (len + 4096 + 1 > cap) {
            cap *= 2;
            text = realloc(text, cap);
            cr_assert_not_null(text);
        }
        ssize_t n = read(fd, text + len, cap - len - 1);
        cr_assert_gt(n, 0);
        len += (size_t)n;
        text[len] = '\0';
    }
}

Test(debug_signal, raising_the_installed_signal_writes_a_dump_of_the_live_tasks_to_the_configured_fd) {
    HOP_OK(hop_future_init(&gate));
    hop_task_options_t named = {.name = "parked for the signal"};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_gate, NULL, &named, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);

    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    HOP_OK(hop_debug_install_dump_signal_fd(SIGUSR1, fds[1]));
    cr_assert_eq(raise(SIGUSR1), 0);
    char *text = read_dump(fds[0]);
    HOP_OK(hop_debug_uninstall_dump_signal());

    char want[160];
    snprintf(want, sizeof want, "hop: task dump on signal %d\n", SIGUSR1);
    cr_assert_not_null(strstr(text, want), "the dump:\n%s", text);
    snprintf(want, sizeof want, "task %llu \"parked for the signal\" suspended on %s",
             (unsigned long long)hop_task_id(t), hop_executor_name(manual));
    cr_assert_not_null(strstr(text, want), "the dump:\n%s", text);
    snprintf(want, sizeof want, "waiting on \"future %p\"", (void *)&gate);
    cr_assert_not_null(strstr(text, want), "the dump:\n%s", text);
    free(text);
    close(fds[0]);
    close(fds[1]);

    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    test_assert_checks();
}

Test(debug_signal, each_signal_after_the_first_makes_another_dump) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    HOP_OK(hop_debug_install_dump_signal_fd(SIGUSR1, fds[1]));
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(raise(SIGUSR1), 0);
        char *text = read_dump(fds[0]);
        free(text);
    }
    HOP_OK(hop_debug_uninstall_dump_signal());
    close(fds[0]);
    close(fds[1]);
}

static volatile sig_atomic_t own_handler_calls;
static void own_handler(int sig) {
    (void)sig;
    own_handler_calls++;
}

Test(debug_signal, the_uninstall_gives_back_the_handler_the_signal_had_before) {
    struct sigaction own, seen, before;
    memset(&own, 0, sizeof own);
    own.sa_handler = own_handler;
    sigemptyset(&own.sa_mask);
    cr_assert_eq(sigaction(SIGUSR1, &own, &before), 0);

    HOP_OK(hop_debug_install_dump_signal_fd(SIGUSR1, STDERR_FILENO));
    cr_assert_eq(sigaction(SIGUSR1, NULL, &seen), 0);
    cr_assert_neq((void *)seen.sa_handler, (void *)own_handler, "hop's handler while installed");
    HOP_OK(hop_debug_uninstall_dump_signal());

    cr_assert_eq(sigaction(SIGUSR1, NULL, &seen), 0);
    cr_assert_eq((void *)seen.sa_handler, (void *)own_handler, "the handler from before");
    own_handler_calls = 0;
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(own_handler_calls, 1, "the signal reaches it again");
    cr_assert_eq(sigaction(SIGUSR1, &before, NULL), 0);
}

Test(debug_signal, bad_arguments_and_states_are_refused) {
    HOP_ERR(hop_debug_install_dump_signal(0), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(-1), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(NSIG), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGKILL), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGSTOP), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGSEGV), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGBUS), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGFPE), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGILL), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal(SIGABRT), HOP_EINVAL);
    HOP_ERR(hop_debug_install_dump_signal_fd(SIGUSR1, -1), HOP_EINVAL);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    HOP_ERR(hop_debug_install_dump_signal_fd(SIGUSR1, fds[1]), HOP_EINVAL); /* closed */
    HOP_ERR(hop_debug_uninstall_dump_signal(), HOP_EALREADY);

    HOP_OK(hop_debug_install_dump_signal(SIGUSR1));
    HOP_ERR(hop_debug_install_dump_signal(SIGUSR1), HOP_EBUSY);
    HOP_ERR(hop_debug_install_dump_signal(SIGUSR2), HOP_EBUSY);
    HOP_OK(hop_debug_uninstall_dump_signal());
    HOP_ERR(hop_debug_uninstall_dump_signal(), HOP_EALREADY);
}
