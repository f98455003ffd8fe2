/* tests/test_io_dns.c: hop_getaddrinfo / hop_getnameinfo from tasks on a
 * loop and on a pool, failures, and interrupts. */
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "helpers.h"

static hop_loop_t loop;
static hop_pool_t pool;

static void setup(void) {
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_pool_init(&pool, &options));
}

static void teardown(void) {
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
}

TestSuite(io_dns, .init = setup, .fini = teardown, .timeout = 120);

static intptr_t run_task(hop_executor_t *executor, hop_task_fn fn, void *arg) {
    hop_task_t *t = test_spawn(executor, fn, arg);
    void *value = NULL;
    int status = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &value);
    hop_task_unref(t);
    cr_assert_eq(status, 0, "task ended with %s", hop_err_name(status));
    return (intptr_t)value;
}

static void *resolve_localhost_task(void *arg) {
    (void)arg;
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *result;
    int err = hop_getaddrinfo(&loop, "localhost", "80", &hints, &result);
    if (err)
        return (void *)(intptr_t)err;
    struct sockaddr_in *in = (struct sockaddr_in *)result->ai_addr;
    int ok = result->ai_family == AF_INET && in->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
             ntohs(in->sin_port) == 80;
    char host[64], service[16];
    err = hop_getnameinfo(&loop, result->ai_addr, NI_NUMERICHOST | NI_NUMERICSERV, host, sizeof host, service,
                          sizeof service);
    hop_freeaddrinfo(result);
    if (err)
        return (void *)(intptr_t)err;
    ok = ok && strcmp(host, "127.0.0.1") == 0 && strcmp(service, "80") == 0;
    return (void *)(intptr_t)(ok ? 0 : -1);
}

Test(io_dns, localhost_resolves_from_a_loop_task_and_from_a_pool_task) {
    cr_assert_eq(run_task(hop_loop_executor(&loop), resolve_localhost_task, NULL), 0);
    cr_assert_eq(run_task(hop_pool_executor(&pool), resolve_localhost_task, NULL), 0);
}

static void *resolve_invalid_task(void *arg) {
    (void)arg;
    struct addrinfo *result = NULL;
    int err = hop_getaddrinfo(&loop, "x.invalid", "80", NULL, &result);
    return (void *)(intptr_t)(result == NULL ? err : -1);
}

Test(io_dns, a_name_under_invalid_fails_with_enamelookup) {
    intptr_t err = run_task(hop_pool_executor(&pool), resolve_invalid_task, NULL);
    cr_assert_eq(err, HOP_ENAMELOOKUP, "%s", hop_err_name((int)err));
}

static void *connect_invalid_task(void *arg) {
    (void)arg;
    hop_stream_t *s = NULL;
    return (void *)(intptr_t)hop_tcp_connect(&loop, "x.invalid", 80, NULL, &s);
}

Test(io_dns, connecting_to_a_name_that_does_not_resolve_fails_with_enamelookup) {
    intptr_t err = run_task(hop_loop_executor(&loop), connect_invalid_task, NULL);
    cr_assert_eq(err, HOP_ENAMELOOKUP, "%s", hop_err_name((int)err));
}

static void *cancelled_lookup_task(void *arg) {
    int *status = arg;
    /* Cancelled first: the lookup never starts. */
    hop_task_cancel(hop_task_current());
    struct addrinfo *result = NULL;
    *status = hop_getaddrinfo(&loop, "localhost", NULL, NULL, &result);
    return NULL;
}

Test(io_dns, a_cancelled_task_gets_ecanceled_from_a_lookup) {
    int status = 1;
    hop_task_t *t = test_spawn(hop_pool_executor(&pool), cancelled_lookup_task, &status);
    cr_assert_eq(test_join(t), HOP_ECANCELED);
    cr_assert_eq(status, HOP_ECANCELED);
}

static void *many_cancelled_lookups_task(void *arg) {
    (void)arg;
    /* Lookups cut short by deadlines at every point: each returns at once
     * with its own result or HOP_ETIMEDOUT, and none leaks (ASan). */
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, i % 3);
        struct addrinfo *result = NULL;
        int err = hop_getaddrinfo(&loop, "localhost", "443", NULL, &result);
        hop_deadline_leave(&deadline);
        if (err == 0)
            hop_freeaddrinfo(result);
        else if (err != HOP_ETIMEDOUT)
            bad++;
    }
    return (void *)(intptr_t)bad;
}

Test(io_dns, lookups_interrupted_by_deadlines_return_at_once_and_leak_nothing) {
    cr_assert_eq(run_task(hop_pool_executor(&pool), many_cancelled_lookups_task, NULL), 0);
}

static void *bad_dns_task(void *arg) {
    (void)arg;
    struct addrinfo *result;
    char host[8];
    struct sockaddr_storage unknown = {.ss_family = AF_UNIX};
    int bad = 0;
    bad += hop_getaddrinfo(&loop, NULL, NULL, NULL, &result) != HOP_EINVAL;
    bad += hop_getaddrinfo(&loop, "localhost", NULL, NULL, NULL) != HOP_EINVAL;
    bad += hop_getnameinfo(&loop, (struct sockaddr *)&unknown, 0, host, sizeof host, NULL, 0) != HOP_EINVAL;
    return (void *)(intptr_t)bad;
}

Test(io_dns, bad_arguments_get_einval) {
    cr_assert_eq(run_task(hop_pool_executor(&pool), bad_dns_task, NULL), 0);
}
