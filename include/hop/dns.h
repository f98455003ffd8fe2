/* hop/dns.h: name resolution for tasks (uv_getaddrinfo, uv_getnameinfo).
 *
 * The rules of hop/stream.h hold (any task, any executor; interruptible from
 * any thread; errors as hop codes). The lookup itself runs on libuv's own
 * thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise, shared
 * with libuv's file operations): a slow resolver queues lookups behind each
 * other there, not on hop's pools. An interrupted lookup returns at once;
 * a lookup already running in libuv's pool finishes there and its result is
 * dropped. Each call allocates its request (freed when libuv is done). */
#ifndef HOP_DNS_H
#define HOP_DNS_H

#include "hop/common.h"
#include "hop/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* From <netdb.h> and <sys/socket.h>: declared, not included, so that
 * <hop/hop.h> needs no feature macros. */
struct addrinfo;
struct sockaddr;

/* hop_getaddrinfo: getaddrinfo(3) for a task: resolves node and/or service
 * with hints (may be NULL) on loop's libuv (NULL: the loop the calling task
 * runs on). Task only; suspends. Returns 0 and *result (free it with
 * hop_freeaddrinfo); HOP_EINVAL (no node and no service, NULL result, no
 * loop); HOP_ENAMELOOKUP (no such name, or the resolver failed);
 * HOP_ENOMEM; HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT. */
HOP_EXTERN int hop_getaddrinfo(hop_loop_t *loop, const char *node, const char *service,
                               const struct addrinfo *hints, struct addrinfo **result);

/* hop_freeaddrinfo: frees a hop_getaddrinfo result. NULL is fine. Any thread. */
HOP_EXTERN void hop_freeaddrinfo(struct addrinfo *result);

/* hop_getnameinfo: getnameinfo(3) for a task: the host and service of addr
 * (a sockaddr_in or sockaddr_in6) into host and service (either may be
 * NULL; each truncated to its length, always terminated), with getnameinfo's
 * flags (NI_NUMERICHOST...). Task only; suspends. Returns 0; HOP_EINVAL;
 * HOP_ENAMELOOKUP; HOP_ENOMEM; HOP_ECLOSED; HOP_ENOTTASK; HOP_ECANCELED /
 * HOP_ETIMEDOUT. */
HOP_EXTERN int hop_getnameinfo(hop_loop_t *loop, const struct sockaddr *addr, int flags, char *host,
                               size_t host_len, char *service, size_t service_len);

#ifdef __cplusplus
}
#endif

#endif /* HOP_DNS_H */
