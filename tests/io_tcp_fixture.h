/* tests/io_tcp_fixture.h: what the TCP test modules share: two started
 * loops and a pool, a listener helper, a byte pattern to check streams by. */
#ifndef HOP_TESTS_IO_TCP_FIXTURE_H
#define HOP_TESTS_IO_TCP_FIXTURE_H
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

/* ThreadSanitizer slows every memory access down: the stress and volume
 * tests do fewer rounds and bytes there (the full counts run in the other
 * builds). */
#if defined(__SANITIZE_THREAD__)
#define STRESS_SCALE 10
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_SCALE 10
#endif
#endif
#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif

static hop_loop_t loop_a, loop_b;
static hop_pool_t pool;

__attribute__((unused)) static void setup(void) {
    HOP_OK(hop_loop_init(&loop_a, NULL));
    HOP_OK(hop_loop_start(&loop_a));
    HOP_OK(hop_loop_init(&loop_b, NULL));
    HOP_OK(hop_loop_start(&loop_b));
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
}

__attribute__((unused)) static void teardown(void) {
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop_b));
    HOP_OK(hop_loop_close(&loop_a));
}

#define POOL hop_pool_executor(&pool)
#define LOOP_A hop_loop_executor(&loop_a)
#define LOOP_B hop_loop_executor(&loop_b)

/* Runs fn(arg) as a task on executor and returns its result as an int. */
__attribute__((unused)) static intptr_t run_task(hop_executor_t *executor, hop_task_fn fn, void *arg) {
    hop_task_t *t = test_spawn(executor, fn, arg);
    void *value = NULL;
    int status = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &value);
    hop_task_unref(t);
    cr_assert_eq(status, 0, "task ended with %s", hop_err_name(status));
    return (intptr_t)value;
}

__attribute__((unused)) static uint8_t pattern_byte(uint64_t i) {
    return (uint8_t)(i * 7u + (i >> 8) + (i >> 16));
}

__attribute__((unused)) static void fill_pattern(uint8_t *buf, size_t len, uint64_t from) {
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern_byte(from + i);
}

/* ---- a listener ---------------------------------------------------------------- */

typedef struct {
    const char *host;
    hop_tcp_listener_t *listener;
    int port;
} listen_t;

__attribute__((unused)) static void *listen_task(void *arg) {
    listen_t *l = arg;
    int err = hop_tcp_listen(&loop_a, l->host, 0, NULL, &l->listener);
    if (err)
        return (void *)(intptr_t)err;
    l->port = hop_tcp_listener_port(l->listener);
    return (void *)(intptr_t)(l->port > 0 ? 0 : l->port);
}

__attribute__((unused)) static void listen_on(listen_t *l, const char *host) {
    memset(l, 0, sizeof *l);
    l->host = host;
    intptr_t err = run_task(POOL, listen_task, l);
    cr_assert_eq(err, 0, "listen on %s: %s", host, hop_err_name((int)err));
}

__attribute__((unused)) static void *close_listener_task(void *arg) {
    return (void *)(intptr_t)hop_tcp_listener_close(arg);
}
__attribute__((unused)) static void *close_stream_task(void *arg) {
    return (void *)(intptr_t)hop_stream_close(arg);
}

#endif /* HOP_TESTS_IO_TCP_FIXTURE_H */
