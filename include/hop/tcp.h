/* hop/tcp.h: TCP servers and clients for tasks.
 *
 *     hop_tcp_listener_t *server;
 *     hop_tcp_listen(loop, "127.0.0.1", 8080, NULL, &server);
 *     for (;;) {
 *         hop_stream_t *conn;
 *         if (hop_tcp_accept(server, &conn) != 0) break;
 *         hop_task_spawn(executor, serve, conn, NULL, NULL);  // a task per connection
 *     }
 *
 * Connections are streams (hop/stream.h), and every rule written there holds
 * here: any task may call these on any executor; the handle belongs to the
 * loop it was opened on; waits are interruptible from any thread; errors are
 * hop codes. Accepting when the process is out of descriptors does not spin:
 * libuv keeps a spare descriptor and uses it to accept and drop the waiting
 * connections (their clients see the connection closed), and a
 * hop_tcp_accept waiting meanwhile just goes on waiting (its deadline, if
 * any, still ends it); once descriptors are free again it accepts again.
 * Once a task has called hop_tcp_accept on it, the listener's loop takes
 * every connection the kernel has ready, up to 256 not yet returned by
 * hop_tcp_accept, so that a burst of connections is accepted in a few loop
 * turns rather than one per turn; beyond those (and before the first
 * accept), connections wait in the kernel's backlog. Closing the listener
 * closes the ones it holds. */
#ifndef HOP_TCP_H
#define HOP_TCP_H

#include "hop/common.h"
#include "hop/loop.h"
#include "hop/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr; /* <sys/socket.h> */
struct sockaddr_storage;

typedef struct hop_tcp_listener_s hop_tcp_listener_t;
typedef struct hop_tcp_listen_options_s hop_tcp_listen_options_t;

struct hop_tcp_listen_options_s {
    int backlog;     /* listen(2)'s backlog; 0: 511 */
    bool reuse_port; /* SO_REUSEPORT: several listeners share the port (SO_REUSEADDR is always on) */
    bool ipv6_only;  /* an IPv6 listener takes no IPv4 connections */
    hop_stream_options_t stream; /* for the accepted connections */
};

/* hop_tcp_listen: listens on host (a numeric IPv4 or IPv6 address; NULL:
 * every IPv4 address, "0.0.0.0") and port (0: any free port, see
 * hop_tcp_listener_address) on loop (NULL: the loop the calling task runs
 * on). options may be NULL. Task only; suspends briefly. Returns 0 and
 * *listener; HOP_EINVAL (not a numeric address, port out of range, no
 * loop); HOP_EADDRINUSE; HOP_EACCES; HOP_EMFILE; HOP_ENOMEM; HOP_ECLOSED;
 * HOP_ENOTTASK. */
HOP_EXTERN int hop_tcp_listen(hop_loop_t *loop, const char *host, int port,
                              const hop_tcp_listen_options_t *options, hop_tcp_listener_t **listener);

/* hop_tcp_listen_addr: the same for a sockaddr_in / sockaddr_in6. */
HOP_EXTERN int hop_tcp_listen_addr(hop_loop_t *loop, const struct sockaddr *addr,
                                   const hop_tcp_listen_options_t *options, hop_tcp_listener_t **listener);

/* hop_tcp_accept: waits for the next connection and returns it as a stream
 * on the listener's loop. One task accepts at a time. Task only; suspends.
 * Returns 0 and *stream; HOP_EINVAL; HOP_EBUSY (another task is accepting);
 * HOP_ECLOSED (the listener was closed, also while waiting); HOP_ENOMEM;
 * HOP_ECANCELED / HOP_ETIMEDOUT (no connection is lost: it waits for the
 * next accept). */
HOP_EXTERN int hop_tcp_accept(hop_tcp_listener_t *listener, hop_stream_t **stream);

/* hop_tcp_listener_address: the address the listener is bound to (the port
 * chosen for port 0). Task only. Returns 0; HOP_EINVAL; HOP_ECLOSED. */
HOP_EXTERN int hop_tcp_listener_address(hop_tcp_listener_t *listener, struct sockaddr_storage *addr);

/* hop_tcp_listener_port: the bound port, or a negative HOP_E* code. Task only. */
HOP_EXTERN int hop_tcp_listener_port(hop_tcp_listener_t *listener);

/* hop_tcp_listener_dropped: how many times libuv reported to the listener
 * that accepting failed for want of descriptors (EMFILE, ENFILE). libuv
 * sheds the waiting connections with its spare descriptor and reports only
 * when that trick fails, so 0 does not mean nothing was dropped. Any thread.
 * 0 for NULL. */
HOP_EXTERN uint64_t hop_tcp_listener_dropped(const hop_tcp_listener_t *listener);

/* hop_tcp_listener_close: stops listening; a task waiting in accept wakes
 * with HOP_ECLOSED. Connections accepted before stay open. Not
 * interruptible. Task only. Returns 0; HOP_EINVAL; HOP_EALREADY. */
HOP_EXTERN int hop_tcp_listener_close(hop_tcp_listener_t *listener);

/* hop_tcp_connect: connects to host (a name, resolved through
 * hop_getaddrinfo, or a numeric address) and port, trying each address the
 * resolver returns in turn, like Go's dialer, until one accepts; the stream
 * belongs to loop (NULL: the calling task's loop). options may be NULL.
 * Task only; suspends. Returns 0 and *stream; HOP_EINVAL; HOP_ENAMELOOKUP;
 * the first address's error when none accepts (HOP_ECONNREFUSED,
 * HOP_EHOSTUNREACH, HOP_ETIMEDOUT, HOP_EMFILE: no descriptor left for the
 * socket...); HOP_ENOMEM; HOP_ECLOSED;
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (interrupted: no stream is
 * left behind). */
HOP_EXTERN int hop_tcp_connect(hop_loop_t *loop, const char *host, int port,
                               const hop_stream_options_t *options, hop_stream_t **stream);

/* hop_tcp_connect_addr: the same for one sockaddr_in / sockaddr_in6. */
HOP_EXTERN int hop_tcp_connect_addr(hop_loop_t *loop, const struct sockaddr *addr,
                                    const hop_stream_options_t *options, hop_stream_t **stream);

/* hop_tcp_set_nodelay: TCP_NODELAY on (true: small writes go out at once)
 * or off. Task only. Returns 0; HOP_EINVAL (NULL, not a TCP stream);
 * HOP_ECLOSED; libuv errors. */
HOP_EXTERN int hop_tcp_set_nodelay(hop_stream_t *stream, bool enable);

/* hop_tcp_set_keepalive: TCP keep-alive on, first probe after delay_s
 * seconds of silence (at least 1), or off. Task only. Errors as above. */
HOP_EXTERN int hop_tcp_set_keepalive(hop_stream_t *stream, bool enable, unsigned int delay_s);

/* hop_tcp_local_address / hop_tcp_peer_address: the connection's own
 * address and its peer's. Task only. Errors as above; HOP_ESTATE (not
 * connected). */
HOP_EXTERN int hop_tcp_local_address(hop_stream_t *stream, struct sockaddr_storage *addr);
HOP_EXTERN int hop_tcp_peer_address(hop_stream_t *stream, struct sockaddr_storage *addr);

#ifdef __cplusplus
}
#endif

#endif /* HOP_TCP_H */
