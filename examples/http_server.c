/* examples/http_server.c: a keep-alive HTTP/1.1 server on hop_serve: a task
 * per connection on every loop, each request a blocking call (a 1 ms sleep
 * and a hash of 16 KiB, examples/http_parse.h) offloaded to the blocking
 * pool, and a graceful shutdown on Ctrl-C (SIGINT): no new connections,
 * idle connections closed, requests in flight answered with
 * "Connection: close", then exit 0.
 *
 *     example_http_server [port [loops [sleep_us [hash_bytes [blocking_threads [balance]]]]]]
 *
 * blocking_threads caps the default blocking pool (0 or absent: its default,
 * 512). balance: "reuseport" (the default: a listener per loop) or
 * "round-robin" (one listener handing connections to the loops in turn).
 *
 * Its twin in plain libuv callbacks, bench/peers/uv_http.c, shares the
 * parser and the work function. */
#define _POSIX_C_SOURCE 200809L /* <uv.h> and nanosleep need POSIX */
#include <hop/hop.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "http_server.h"

#define MAX_LOOPS 16

static struct {
    int port;
    unsigned int loops;
    int64_t grace_ms;
    hop_serve_balance_t balance;
} config = {8080, 2, 5000, HOP_SERVE_BALANCE_REUSEPORT};

static uv_signal_t sigint; /* lives until its close callback: static */

static void on_sigint(uv_signal_t *handle, int signum) {
    (void)signum;
    hop_event_set(handle->data);
    uv_signal_stop(handle);
}

static void *run_server(void *arg) {
    (void)arg;
    hop_loop_t *main_loop = hop_loop_current();
    hop_event_t stop;
    hop_event_init(&stop);
    uv_signal_init(hop_loop_uv(main_loop), &sigint);
    sigint.data = &stop;
    uv_signal_start(&sigint, on_sigint, SIGINT);

    static hop_loop_t loops[MAX_LOOPS];
    hop_loop_t *loop_ptrs[MAX_LOOPS];
    unsigned int started = 0;
    int err = 0;
    for (; started < config.loops && !err; started++) {
        err = hop_loop_init(&loops[started], NULL);
        if (!err && (err = hop_loop_start(&loops[started])) != 0)
            hop_loop_close(&loops[started]);
        loop_ptrs[started] = &loops[started];
    }
    if (err)
        started--;
    hop_server_t *server = NULL;
    hop_serve_options_t options = {.idle_timeout_ms = 30000, .balance = config.balance};
    if (!err)
        err =
            hop_serve_start(loop_ptrs, started, "0.0.0.0", config.port, http_handle, NULL, &options, &server);
    if (err) {
        fprintf(stderr, "http server: %s\n", hop_strerror(err));
    } else {
        printf("http server on port %d, %u loops\n", hop_serve_port(server), started);
        fflush(stdout);
        hop_event_wait(&stop);
        fprintf(stderr, "stopping: answering requests in flight\n");
        hop_serve_stats_t stats;
        hop_serve_stats(server, &stats);
        int status = hop_serve_shutdown(server, config.grace_ms);
        fprintf(stderr, "stopped (%s): %" PRIu64 " connections, %" PRIu64 " refused\n",
                status == 0 ? "cleanly" : hop_strerror(status), stats.accepted, stats.refused);
    }
    for (unsigned int i = 0; i < started; i++)
        hop_loop_close(&loops[i]);
    uv_close((uv_handle_t *)&sigint, NULL);
    hop_event_destroy(&stop);
    return err ? (void *)1 : NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        config.port = atoi(argv[1]);
    if (argc > 2)
        config.loops = (unsigned int)atoi(argv[2]);
    if (argc > 3)
        http_work_config.sleep_us = (unsigned int)atoi(argv[3]);
    if (argc > 4)
        http_work_config.hash_bytes = (size_t)atol(argv[4]);
    if (config.loops == 0 || config.loops > MAX_LOOPS)
        config.loops = 2;
    if (argc > 5 && atoi(argv[5]) > 0) {
        hop_blocking_options_t blocking = {.max_threads = (unsigned int)atoi(argv[5])};
        if (hop_blocking_default_configure(&blocking) != 0)
            return 1;
    }
    if (argc > 6)
        config.balance =
            strcmp(argv[6], "round-robin") == 0 ? HOP_SERVE_BALANCE_ROUND_ROBIN : HOP_SERVE_BALANCE_REUSEPORT;
    void *failed = NULL;
    int status = hop_run(run_server, NULL, &failed);
    return status == 0 && !failed ? 0 : 1;
}
