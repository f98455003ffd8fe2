/* hop/udp.h: UDP sockets for tasks: datagrams sent and received.
 *
 *     hop_udp_t *sock;
 *     hop_udp_bind(loop, "127.0.0.1", 9000, NULL, &sock);
 *     char buf[1500];
 *     struct sockaddr_storage from;
 *     int64_t n = hop_udp_recv_from(sock, buf, sizeof buf, &from);
 *     hop_udp_send_to(sock, buf, (size_t)n, (struct sockaddr *)&from);  // echo
 *     hop_udp_close(sock);
 *
 * Every rule of hop/stream.h holds here: any task may call these on any
 * executor; the socket belongs to the loop it was bound on; waits are
 * interruptible from any thread (hop_task_cancel, deadlines); errors are hop
 * codes; a closed socket (or one whose loop closed) wakes its waiting task
 * with HOP_ECLOSED.
 *
 * No allocation per datagram. hop_udp_recv_from hands the caller's buffer
 * to libuv (its alloc callback returns it), and the datagram is read
 * straight into it. hop reads from the socket only while a recv_from
 * waits: a datagram that arrives while no task waits stays in the kernel's
 * receive buffer (SO_RCVBUF) for the next recv_from, in order; hop drops
 * none. When that buffer is full the kernel drops further datagrams, as for
 * any UDP socket (options.recv_buffer makes it larger). hop_udp_send_to
 * sends from the caller's buffer: straight to the kernel when it takes the
 * datagram at once, otherwise queued in libuv (the request lives on the
 * task's stack) until it is sent.
 *
 * One receiving task at a time (a second concurrent recv_from returns
 * HOP_EBUSY); several tasks may send at once. */
#ifndef HOP_UDP_H
#define HOP_UDP_H

#include "hop/common.h"
#include "hop/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr; /* <sys/socket.h> */
struct sockaddr_storage;

typedef struct hop_udp_s hop_udp_t;
typedef struct hop_udp_options_s hop_udp_options_t;

struct hop_udp_options_s {
    bool reuse_addr;   /* SO_REUSEADDR: several sockets may bind the same address and port */
    bool ipv6_only;    /* an IPv6 socket takes no IPv4 datagrams */
    bool broadcast;    /* SO_BROADCAST: may send to a broadcast address */
    int ttl;           /* IP_TTL / IPV6_UNICAST_HOPS, 1 to 255; 0: the system's */
    int multicast_ttl; /* IP_MULTICAST_TTL, 1 to 255; 0: the system's (1) */
    int recv_buffer;   /* SO_RCVBUF in bytes; 0: the system's */
};

/* hop_udp_bind: a UDP socket bound to host (a numeric IPv4 or IPv6
 * address; NULL: every IPv4 address, "0.0.0.0") and port (0: any free
 * port, see hop_udp_local_address) on loop (NULL: the loop the calling
 * task runs on). options may be NULL. Task only; suspends briefly.
 * Returns 0 and *udp; HOP_EINVAL (not a numeric address, port out of
 * range, an option out of range, no loop); HOP_EADDRINUSE; HOP_EACCES;
 * HOP_EMFILE; HOP_ENOMEM; HOP_ECLOSED (loop closed); HOP_ENOTTASK. */
HOP_EXTERN int hop_udp_bind(hop_loop_t *loop, const char *host, int port, const hop_udp_options_t *options,
                            hop_udp_t **udp);

/* hop_udp_bind_addr: the same for a sockaddr_in / sockaddr_in6. */
HOP_EXTERN int hop_udp_bind_addr(hop_loop_t *loop, const struct sockaddr *addr,
                                 const hop_udp_options_t *options, hop_udp_t **udp);

/* hop_udp_send_to: sends the len bytes of buf as one datagram to addr
 * (NULL: the peer set by hop_udp_connect) and returns once the kernel has
 * it (UDP does not wait for the peer: sent is not received). buf must stay
 * valid until it returns. Task only; suspends (briefly: only when the
 * kernel's send buffer is full). Returns 0; HOP_EINVAL (NULL udp, NULL buf
 * with len, not an IPv4/IPv6 address, or one of the other family);
 * HOP_ESTATE (addr NULL and no peer set; or addr given while a peer is
 * set); HOP_EMSGSIZE (longer than a datagram can be); HOP_EHOSTUNREACH;
 * HOP_ECONNREFUSED (a connected socket whose peer sent "port
 * unreachable" for an earlier datagram); HOP_ECLOSED. An interrupt
 * (cancel, deadline) cannot withdraw a datagram libuv has queued: the
 * call then returns the send's own result when it is done. */
HOP_EXTERN int hop_udp_send_to(hop_udp_t *udp, const void *buf, size_t len, const struct sockaddr *addr);

/* hop_udp_recv_from: waits for the next datagram and reads it into buf
 * (len bytes at most); *from (if not NULL) receives the sender's address.
 * Returns the datagram's length (0 for an empty datagram); HOP_EMSGSIZE
 * when the datagram was longer than len: buf holds its first len bytes,
 * *from its sender, and the rest of it is lost (the kernel discards it);
 * HOP_EINVAL (NULL udp or buf, len 0); HOP_EBUSY (another task is
 * receiving); HOP_ECLOSED; HOP_ECONNREFUSED (a connected socket whose
 * peer is not listening); HOP_ECANCELED / HOP_ETIMEDOUT (no datagram was
 * taken: the next recv_from gets it). Task only; suspends. */
HOP_EXTERN int64_t hop_udp_recv_from(hop_udp_t *udp, void *buf, size_t len, struct sockaddr_storage *from);

/* hop_udp_connect: sets the socket's default peer (addr), the one
 * send_to with a NULL address sends to; datagrams from other addresses are
 * no longer received. NULL addr removes the peer. Task only. Returns 0;
 * HOP_EINVAL; HOP_EALREADY (a peer is set already: remove it first);
 * HOP_ESTATE (no peer to remove); HOP_ECLOSED. */
HOP_EXTERN int hop_udp_connect(hop_udp_t *udp, const struct sockaddr *addr);

/* hop_udp_local_address: the address the socket is bound to (the port
 * chosen for port 0). Task only. Returns 0; HOP_EINVAL; HOP_ECLOSED. */
HOP_EXTERN int hop_udp_local_address(hop_udp_t *udp, struct sockaddr_storage *addr);

/* hop_udp_close: closes the socket: a task waiting in recv_from or
 * send_to wakes with HOP_ECLOSED; returns when libuv has closed it.
 * Not interruptible. Task only, except on a socket whose loop has closed
 * it already (any thread: it then only frees it). Returns 0; HOP_EINVAL;
 * HOP_EALREADY (being closed by another call); HOP_ENOTTASK. Close a
 * socket exactly once. */
HOP_EXTERN int hop_udp_close(hop_udp_t *udp);

/* hop_udp_loop: the loop the socket belongs to. Any thread. NULL for NULL. */
HOP_EXTERN hop_loop_t *hop_udp_loop(const hop_udp_t *udp);

#ifdef __cplusplus
}
#endif

#endif /* HOP_UDP_H */
