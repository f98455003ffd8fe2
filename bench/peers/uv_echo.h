/* bench/peers/uv_echo.h: the io workload's libuv echo server and the load
 * generator both echo servers are driven by (bench/peers/uv_echo.c). */
#ifndef HOP_BENCH_UV_ECHO_H
#define HOP_BENCH_UV_ECHO_H

#include <stdint.h>

#define UV_ECHO_CONNECTIONS 100
#define UV_ECHO_MESSAGE 64

typedef struct {
    uint64_t p50_ns, p99_ns;
} uv_echo_latency_t;

/* Starts the libuv echo server on 127.0.0.1 in a thread of its own (once);
 * returns its port. */
int uv_echo_server_start(void);
void uv_echo_server_stop(void);

/* Opens UV_ECHO_CONNECTIONS connections to port, then sends messages
 * UV_ECHO_MESSAGE-byte messages in all (each connection waits for its echo
 * before sending again) and returns the nanoseconds from the first send to
 * the last echo; fills *latency (round trip, p50 and p99) if not NULL. */
uint64_t uv_echo_load(int port, uint64_t messages, uv_echo_latency_t *latency);

#endif /* HOP_BENCH_UV_ECHO_H */
