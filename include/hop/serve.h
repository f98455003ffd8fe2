/* hop/serve.h: a TCP server in a few lines: a task per connection on every
 * loop, a connection limit, an idle timeout, stats, and a graceful shutdown
 * through a nursery (hop/nursery.h).
 *
 *     static int handle(hop_serve_conn_t *conn, void *arg) {
 *         char buf[4096];
 *         for (;;) {
 *             int64_t n = hop_serve_read(conn, buf, sizeof buf, true);  // between requests
 *             if (n <= 0) return 0;            // EOF, idle timeout, shutdown
 *             ...answer on hop_serve_conn_stream(conn)...
 *         }
 *     }
 *     hop_loop_t *loops[4] = ...;               // started loops
 *     hop_server_t *server;
 *     hop_serve_start(loops, 4, "127.0.0.1", 8080, handle, NULL, NULL, &server);
 *     ...
 *     hop_serve_shutdown(server, 5000);         // then it is freed
 *
 * Accepting (options.balance): by default one acceptor task per loop, each
 * on a listener of its own bound to the same port with SO_REUSEPORT, so the
 * kernel spreads connections over the loops by a hash of their addresses and
 * a connection's handler runs on the loop that accepted it: no connection
 * crosses threads, and no single acceptor is a bottleneck. The alternative,
 * HOP_SERVE_BALANCE_ROUND_ROBIN, is one acceptor on the first loop handing
 * connections to the loops in turn: exact counts per loop, at the price of
 * moving each connection's socket to its loop (a dup and a close on the
 * first loop, an open on the other) and of every accept on one loop.
 * bench/RESULTS.md ("http: SO_REUSEPORT or round robin") has the
 * measurement behind the default.
 *
 * Accepted connections have TCP_NODELAY on: a response written in more than
 * one part would otherwise wait for the client's delayed ACK.
 *
 * Connection limit: at most max_connections handlers run at once. At the
 * limit the acceptors stop accepting (back-pressure: new connections wait in
 * each listener's queue, up to 256 (see hop_tcp_accept in hop/tcp.h), then in
 * the kernel's backlog, whose overflow the clients see as a slow connect) and
 * accept again as handlers finish. Each acceptor may hold one accepted
 * connection while it waits for a place, so at the limit up to one
 * connection per loop is accepted but not yet served (counted in accepted,
 * not in active); a place that frees goes to the longest waiting of them.
 *
 * Idle timeout and shutdown work through hop_serve_read(): a handler reads
 * its requests with it, saying whether it is between requests (idle). An
 * idle read waits at most idle_timeout_ms for the next request's first
 * bytes, and the rest of that request must arrive within idle_timeout_ms of
 * that read's start (a client sending one byte every 100 ms is cut off all
 * the same); the read then returns HOP_ETIMEDOUT. Shutdown (hop_serve_shutdown)
 * closes the listeners, cancels the handlers that are idle (waiting for a
 * next request), lets busy ones finish up to the grace period (they see
 * hop_serve_closing() and should answer the request in flight and close,
 * as HTTP's "Connection: close" does), then cancels the rest. A handler that
 * must still write after a cancel (an answer in flight) does it in a shield
 * (hop_shield_enter, hop/timer.h). */
#ifndef HOP_SERVE_H
#define HOP_SERVE_H

#include "hop/common.h"
#include "hop/loop.h"
#include "hop/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_server_s hop_server_t;
typedef struct hop_serve_conn_s hop_serve_conn_t;
typedef struct hop_serve_options_s hop_serve_options_t;
typedef struct hop_serve_stats_s hop_serve_stats_t;

/* A connection's handler: runs as a task on the loop that accepted it;
 * returns 0 or a negative HOP_E* code (counted, nothing else). The stream is
 * closed after it returns: the handler must not close it. */
typedef int (*hop_serve_handler_fn)(hop_serve_conn_t *conn, void *arg);

#define HOP_SERVE_MAX_CONNECTIONS_DEFAULT 10000u

/* How connections are spread over the loops (see the top of this file). */
typedef enum {
    HOP_SERVE_BALANCE_REUSEPORT = 0,   /* a listener per loop, SO_REUSEPORT (the default) */
    HOP_SERVE_BALANCE_ROUND_ROBIN = 1, /* one listener, connections handed out in turn */
} hop_serve_balance_t;
#define HOP_SERVE_IDLE_TIMEOUT_MS_DEFAULT 60000

/* Zeroed (or NULL): the defaults. */
struct hop_serve_options_s {
    unsigned int max_connections; /* handlers at once; 0: HOP_SERVE_MAX_CONNECTIONS_DEFAULT */
    int64_t idle_timeout_ms;      /* see hop_serve_read; 0: HOP_SERVE_IDLE_TIMEOUT_MS_DEFAULT;
                                     HOP_WAIT_FOREVER: none */
    int backlog;                  /* listen(2)'s; 0: 511 */
    size_t read_buffer;           /* each connection's (hop_stream_options_t); 0: 64 KiB */
    size_t stack_size;            /* each handler task's; 0: HOP_STACK_SIZE_DEFAULT */
    hop_serve_balance_t balance;  /* 0: HOP_SERVE_BALANCE_REUSEPORT */
};

struct hop_serve_stats_s {
    uint64_t accepted;  /* connections accepted */
    uint64_t active;    /* handlers running now (each holds a place until its last step) */
    uint64_t peak;      /* most handlers at once */
    uint64_t refused;   /* accepted, then closed at once: no handler could be started
                           (no memory, or the server was shutting down) */
    uint64_t timed_out; /* hop_serve_read calls that hit the idle timeout */
    uint64_t failed;    /* handlers that returned an error (HOP_ECANCELED aside) */
};

/* hop_serve_start: listens on host (numeric; NULL: every IPv4 address) and
 * port (0: a free one, see hop_serve_port) with one listener per loop (the
 * loops must be started, hop_loop_start), and from then on runs
 * handler(conn, arg) as a task per accepted connection. options may be NULL.
 * Task only; suspends. Returns 0 and *server; HOP_EINVAL (NULL loops,
 * nloops 0, NULL handler or server, a bad address or option); hop_tcp_listen's
 * errors (HOP_EADDRINUSE...); HOP_ENOMEM. On error nothing is left running. */
HOP_EXTERN int hop_serve_start(hop_loop_t *const *loops, unsigned int nloops, const char *host, int port,
                               hop_serve_handler_fn handler, void *arg, const hop_serve_options_t *options,
                               hop_server_t **server);

/* hop_serve_port: the port the server listens on. Any thread. HOP_EINVAL for
 * NULL. */
HOP_EXTERN int hop_serve_port(const hop_server_t *server);

/* hop_serve_closing: whether the server's shutdown has begun. Any thread.
 * false for NULL. */
HOP_EXTERN bool hop_serve_closing(const hop_server_t *server);

/* hop_serve_stats: a snapshot of the counters. Any thread. Returns 0 or HOP_EINVAL. */
HOP_EXTERN int hop_serve_stats(const hop_server_t *server, hop_serve_stats_t *stats);

/* hop_serve_shutdown: stops accepting (the listeners close), cancels idle
 * handlers, waits up to grace_ms for the busy ones, cancels those still
 * running and waits for them, then frees the server. Task only (not a
 * handler of this server); suspends; a cancel of the caller cuts the grace
 * short but never the final wait. Returns 0 (all handlers finished within
 * grace), HOP_ETIMEDOUT (some were cancelled), HOP_ECANCELED (the caller was
 * cancelled meanwhile), HOP_EINVAL (NULL, negative grace_ms), HOP_ENOTTASK,
 * HOP_EDEADLK (called from one of this server's handlers, which it would
 * wait for: nothing changed). The server is gone after any return but
 * HOP_EINVAL, HOP_ENOTTASK and HOP_EDEADLK. */
HOP_EXTERN int hop_serve_shutdown(hop_server_t *server, int64_t grace_ms);

/* hop_serve_conn_stream: the connection's stream (closed by the server once
 * the handler returns). NULL for NULL. */
HOP_EXTERN hop_stream_t *hop_serve_conn_stream(hop_serve_conn_t *conn);

/* hop_serve_conn_server: the server the connection belongs to (valid while
 * its handler runs). NULL for NULL. */
HOP_EXTERN hop_server_t *hop_serve_conn_server(hop_serve_conn_t *conn);

/* hop_serve_read: hop_stream_read on the connection, under the server's
 * rules. idle: the handler is between requests (nothing of the next one read
 * yet): the read waits at most the idle timeout, the shutdown may cancel the
 * handler while it waits, and it returns HOP_ECLOSED at once if the shutdown
 * has begun. Not idle (the rest of a request): the read ends by the request's
 * deadline, the idle timeout counted from the idle read that began the
 * request. Task only (the handler); suspends. Returns bytes read (> 0);
 * HOP_EOF; HOP_ETIMEDOUT (idle timeout); HOP_ECLOSED; HOP_ECANCELED;
 * hop_stream_read's errors. */
HOP_EXTERN int64_t hop_serve_read(hop_serve_conn_t *conn, void *buf, size_t len, bool idle);

#ifdef __cplusplus
}
#endif

#endif /* HOP_SERVE_H */
