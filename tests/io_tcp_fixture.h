/* tests/io_tcp_fixture.h: what the TCP test modules share: io_fixture.h's
 * loops and pool as the suite's setup, a listener helper, a byte pattern to
 * check streams by. */
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

#include "io_fixture.h"

__attribute__((unused)) static void setup(void) { io_fixture_start(); }

__attribute__((unused)) static void teardown(void) { io_fixture_stop(); }

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
