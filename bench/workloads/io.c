/* bench/workloads/io.c: the io workload: a TCP echo of 64-byte messages
 * over 100 connections on 127.0.0.1, each connection sending its next
 * message when the previous one came back. Two servers, driven by the same
 * load generator (plain libuv, a thread of its own, bench/peers/uv_echo.c):
 *
 *   io.hop_tasks          hop: a task per connection on a hop loop, reading
 *                         with hop_stream_read_exact and answering with
 *                         hop_stream_write (hop/stream.h)
 *   io.libuv_callbacks    the same server on plain libuv callbacks (read
 *                         callback, uv_try_write, uv_write for what is left)
 *
 * Messages per second, over the time from the first send to the last echo;
 * CPU per message is the whole process's (load generator included, the same
 * for both rows). Each run prints the round trip's p50 and p99 on stderr. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "../bench_env.h"
#include "../peers/uv_echo.h"

/* Messages per iteration of a run: a round of the load generator costs a
 * hundred connects, so one iteration is many messages. */
#define IO_BATCH 2000

typedef struct {
    hop_tcp_listener_t *listener;
    int port;
    int error;
} io_server_t;

static void *io_serve_task(void *arg) {
    hop_stream_t *conn = arg;
    char buf[UV_ECHO_MESSAGE];
    hop_tcp_set_nodelay(conn, true);
    for (;;) {
        if (hop_stream_read_exact(conn, buf, sizeof buf, NULL) != 0)
            break;
        if (hop_stream_write(conn, buf, sizeof buf, NULL) != 0)
            break;
    }
    hop_stream_close(conn);
    return NULL;
}

static void *io_listen_task(void *arg) {
    io_server_t *s = arg;
    s->error = hop_tcp_listen(&bench_env.loop, "127.0.0.1", 0, NULL, &s->listener);
    if (!s->error)
        s->port = hop_tcp_listener_port(s->listener);
    return NULL;
}

static void *io_accept_task(void *arg) {
    io_server_t *s = arg;
    hop_executor_t *loop = hop_loop_executor(&bench_env.loop);
    for (;;) {
        hop_stream_t *conn;
        if (hop_tcp_accept(s->listener, &conn) != 0)
            break; /* cancelled after the run */
        hop_task_t *t;
        if (hop_task_spawn(loop, io_serve_task, conn, NULL, &t) == 0)
            hop_task_unref(t);
        else
            hop_stream_close(conn);
    }
    hop_tcp_listener_close(s->listener);
    return NULL;
}

static void io_report(const char *row, uint64_t iters, const uv_echo_latency_t *lat) {
    if (iters >= 20000)
        fprintf(stderr, "[io] %s: %llu messages, round trip p50 %.1f us, p99 %.1f us\n", row,
                (unsigned long long)iters, lat->p50_ns / 1e3, lat->p99_ns / 1e3);
}

static uint64_t io_hop_run(void *state, uint64_t iters) {
    (void)state;
    io_server_t s = {0};
    hop_executor_t *loop = hop_loop_executor(&bench_env.loop);
    hop_task_t *t;
    if (hop_task_spawn(loop, io_listen_task, &s, NULL, &t) != 0)
        bench_die("io: spawn");
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    if (s.error)
        bench_die("io: hop_tcp_listen: %s", hop_strerror(s.error));
    hop_task_t *acceptor;
    hop_task_spawn(loop, io_accept_task, &s, NULL, &acceptor);
    uv_echo_latency_t lat;
    bench_window_begin();
    uint64_t ns = uv_echo_load(s.port, iters * IO_BATCH, &lat);
    bench_window_end();
    hop_task_cancel(acceptor);
    hop_future_wait(hop_task_future(acceptor), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(acceptor);
    io_report("hop tasks", iters * IO_BATCH, &lat);
    return ns;
}

static uint64_t io_uv_run(void *state, uint64_t iters) {
    (void)state;
    int port = uv_echo_server_start();
    uv_echo_latency_t lat;
    bench_window_begin();
    uint64_t ns = uv_echo_load(port, iters * IO_BATCH, &lat);
    bench_window_end();
    io_report("libuv callbacks", iters * IO_BATCH, &lat);
    return ns;
}

void bench_io_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    const char *w = "io";
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop: task per connection (hop_stream_*)",
                                 .name = "io.hop_tasks",
                                 .unit = "msgs/s",
                                 .rate = true,
                                 .units_per_iter = IO_BATCH,
                                 .role = BENCH_HOP,
                                 .needs = BENCH_NEED_LOOP,
                                 .isolate = true,
                                 .run = io_hop_run});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "libuv callbacks (same server)",
                                 .name = "io.libuv_callbacks",
                                 .unit = "msgs/s",
                                 .rate = true,
                                 .units_per_iter = IO_BATCH,
                                 .role = BENCH_PEER,
                                 .isolate = true,
                                 .run = io_uv_run});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop echo msgs/s >= 0.9x libuv callbacks",
                                       .hop = "io.hop_tasks",
                                       .other = "io.libuv_callbacks",
                                       .min_speedup = 0.9});
}
