/* src/io/dns.c: hop_getaddrinfo / hop_getnameinfo over libuv's resolver.
 *
 * The libuv request is allocated (not on the task's stack): a lookup runs on
 * libuv's thread pool and cannot be withdrawn once it started there, and a
 * task must not wait for a stuck resolver after being cancelled. Cancel
 * detaches the task from the request; the callback frees it. */
#define _GNU_SOURCE /* <uv.h> and <netdb.h> need POSIX types */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/fault.h"
#include "hop/dns.h"
#include "io/io_internal.h"

typedef struct hop__dns_op_s hop__dns_op_t;

typedef struct {
    union {
        uv_getaddrinfo_t addr;
        uv_getnameinfo_t name;
    } req;
    hop__dns_op_t *op; /* loop thread: the waiting task's operation, or NULL once detached */
} hop__dns_req_t;

struct hop__dns_op_s {
    hop__io_op_t op;
    hop__dns_req_t *req;
    /* getaddrinfo */
    const char *node, *service;
    const struct addrinfo *hints;
    struct addrinfo *result;
    /* getnameinfo */
    const struct sockaddr *addr;
    int flags;
    char *host, *serv;
    size_t host_len, serv_len;
};

static int hop__dns_error(int status) {
    if (status == UV_EAI_CANCELED)
        return HOP_ECANCELED;
    return hop__io_error(status);
}

static int hop__dns_cancel(hop__io_op_t *op) {
    hop__dns_op_t *d = (hop__dns_op_t *)op;
    d->req->op = NULL;
    uv_cancel((uv_req_t *)&d->req->req); /* if not started yet; the callback frees */
    return 0;
}

static void hop__dns_addr_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *result) {
    hop__dns_req_t *r = (hop__dns_req_t *)req;
    hop__dns_op_t *d = r->op;
    free(r);
    if (!d) {
        uv_freeaddrinfo(result);
        return;
    }
    d->result = result;
    hop__io_op_complete(&d->op, hop__dns_error(status));
}

/* Starts a lookup on the loop: allocates the request (a cancel detaches from
 * it, so it cannot live on the task's stack) and issues it. */
static int hop__dns_start(hop__io_op_t *op, int (*issue)(uv_loop_t *uv, hop__dns_op_t *d)) {
    hop__dns_op_t *d = (hop__dns_op_t *)op;
    uv_loop_t *uv = hop_loop_uv(op->loop);
    if (!uv)
        return HOP_ECLOSED;
    d->req = hop__calloc(1, sizeof *d->req);
    if (!d->req)
        return HOP_ENOMEM;
    d->req->op = d;
    int err = issue(uv, d);
    if (err) {
        free(d->req);
        return hop__dns_error(err);
    }
    return HOP__IO_PENDING;
}

static int hop__dns_addr_issue(uv_loop_t *uv, hop__dns_op_t *d) {
    return uv_getaddrinfo(uv, &d->req->req.addr, hop__dns_addr_cb, d->node, d->service, d->hints);
}

static int hop__dns_addr_start(hop__io_op_t *op) { return hop__dns_start(op, hop__dns_addr_issue); }

int hop_getaddrinfo(hop_loop_t *loop, const char *node, const char *service, const struct addrinfo *hints,
                    struct addrinfo **result) {
    if (result)
        *result = NULL;
    loop = loop ? loop : hop_loop_current();
    if (!result || (!node && !service) || !loop)
        return HOP_EINVAL;
    hop__dns_op_t d = {.node = node, .service = service, .hints = hints};
    hop__io_op_describe_as(&d.op, "dns getaddrinfo", NULL, 0, node ? node : service);
    int err = hop__io_op_run(&d.op, loop, hop__dns_addr_start, hop__dns_cancel);
    if (err) {
        uv_freeaddrinfo(d.result);
        return err;
    }
    *result = d.result;
    return 0;
}

void hop_freeaddrinfo(struct addrinfo *result) { uv_freeaddrinfo(result); }

static void hop__dns_copy(char *to, size_t to_len, const char *from) {
    if (!to || to_len == 0)
        return;
    size_t n = strlen(from);
    if (n >= to_len)
        n = to_len - 1;
    memcpy(to, from, n);
    to[n] = '\0';
}

static void hop__dns_name_cb(uv_getnameinfo_t *req, int status, const char *host, const char *service) {
    hop__dns_req_t *r = (hop__dns_req_t *)req;
    hop__dns_op_t *d = r->op;
    if (d && status == 0) {
        hop__dns_copy(d->host, d->host_len, host ? host : "");
        hop__dns_copy(d->serv, d->serv_len, service ? service : "");
    }
    free(r);
    if (d)
        hop__io_op_complete(&d->op, hop__dns_error(status));
}

static int hop__dns_name_issue(uv_loop_t *uv, hop__dns_op_t *d) {
    return uv_getnameinfo(uv, &d->req->req.name, hop__dns_name_cb, d->addr, d->flags);
}

static int hop__dns_name_start(hop__io_op_t *op) { return hop__dns_start(op, hop__dns_name_issue); }

int hop_getnameinfo(hop_loop_t *loop, const struct sockaddr *addr, int flags, char *host, size_t host_len,
                    char *service, size_t service_len) {
    loop = loop ? loop : hop_loop_current();
    if (!addr || !loop || (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
        return HOP_EINVAL;
    hop__dns_op_t d = {.addr = addr,
                       .flags = flags,
                       .host = host,
                       .host_len = host_len,
                       .serv = service,
                       .serv_len = service_len};
    /* The address as a number: formatting it is the lookup's own job. */
    hop__io_op_describe_as(&d.op, "dns getnameinfo", "port", ntohs(((const struct sockaddr_in *)addr)->sin_port), NULL);
    return hop__io_op_run(&d.op, loop, hop__dns_name_start, hop__dns_cancel);
}
