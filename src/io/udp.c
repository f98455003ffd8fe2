/* src/io/udp.c: UDP sockets (hop/udp.h) on the I/O contract (io_internal.h).
 *
 * RECEIVING. uv_udp_recv_start is on only while a recv_from waits: its
 * alloc callback hands libuv the waiting task's own buffer, the read
 * callback completes the wait with the first datagram and stops receiving
 * (uv_udp_recv_stop inside the callback also ends libuv's batch of reads
 * for this readiness, so no second datagram is read with nobody to take
 * it). A datagram that comes while nobody waits stays in the kernel. A
 * cancelled wait stops receiving: libuv then holds no pointer into the
 * buffer and no datagram was taken.
 *
 * SENDING. uv_udp_try_send first (on the loop thread); when the kernel's
 * buffer is full (or earlier sends are queued: libuv then refuses to try,
 * which keeps datagrams in order), uv_udp_send with the request and the
 * buffer on the task's stack. Such a request cannot be withdrawn, so the
 * send's cancel says HOP_EALREADY and the task waits for the callback
 * (which a close brings at once, with UV_ECANCELED). */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/fault.h"
#include "hop/udp.h"
#include "io/io_internal.h"

struct hop_udp_s {
    hop__io_handle_t h;
    uv_udp_t udp;
    unsigned int receiving_task; /* atomic: a task is inside hop_udp_recv_from */
    hop__io_op_t *receiver;      /* loop thread: the recv_from waiting for a datagram */
    bool connected;              /* loop thread: a default peer is set */
};

static socklen_t hop__udp_addr_len(const struct sockaddr *addr) {
    if (addr->sa_family == AF_INET)
        return sizeof(struct sockaddr_in);
    if (addr->sa_family == AF_INET6)
        return sizeof(struct sockaddr_in6);
    return 0;
}

/* ---- lifetime ----------------------------------------------------------- */

/* Loop thread, before uv_close: the waiting recv_from ends with status.
 * Queued sends end through their own callbacks (UV_ECANCELED). */
static void hop__udp_wake(hop__io_handle_t *h, int status) {
    hop_udp_t *u = (hop_udp_t *)h;
    hop__io_op_t *op = u->receiver;
    if (op) {
        u->receiver = NULL;
        uv_udp_recv_stop(&u->udp);
        hop__io_op_complete(op, status);
    }
}

static void hop__udp_destroy(hop__io_handle_t *h) { free(h); }

int hop_udp_close(hop_udp_t *udp) {
    if (!udp)
        return HOP_EINVAL;
    return hop__io_handle_close(&udp->h);
}

hop_loop_t *hop_udp_loop(const hop_udp_t *udp) { return udp ? udp->h.loop : NULL; }

/* ---- binding ---------------------------------------------------------------- */

typedef struct {
    hop_udp_t *u;
    const struct sockaddr *addr;
    const hop_udp_options_t *options;
    bool ran;
} hop__udp_bind_t;

/* Loop thread. On failure the socket is gone (freed or closing). */
static int hop__udp_bind_on_loop(void *arg) {
    hop__udp_bind_t *b = arg;
    hop_udp_t *u = b->u;
    const hop_udp_options_t *o = b->options;
    b->ran = true;
    uv_loop_t *uv = hop_loop_uv(u->h.loop);
    int err = uv ? hop__uv_init(uv_udp_init_ex(uv, &u->udp, b->addr->sa_family)) : UV_EBADF;
    if (err) {
        free(u);
        return uv ? hop__io_error(err) : HOP_ECLOSED;
    }
    hop__io_handle_opened(&u->h);
    unsigned int flags = (o->reuse_addr ? UV_UDP_REUSEADDR : 0) |
                         (o->ipv6_only && b->addr->sa_family == AF_INET6 ? UV_UDP_IPV6ONLY : 0);
    err = uv_udp_bind(&u->udp, b->addr, flags);
    if (!err && o->broadcast)
        err = uv_udp_set_broadcast(&u->udp, 1);
    if (!err && o->ttl)
        err = uv_udp_set_ttl(&u->udp, o->ttl);
    if (!err && o->multicast_ttl)
        err = uv_udp_set_multicast_ttl(&u->udp, o->multicast_ttl);
    if (!err && o->recv_buffer) {
        int size = o->recv_buffer;
        err = uv_recv_buffer_size((uv_handle_t *)&u->udp, &size);
    }
    if (err) {
        hop__io_handle_close_now(&u->h);
        return hop__io_error(err);
    }
    hop__io_handle_adopt(&u->h);
    return 0;
}

int hop_udp_bind_addr(hop_loop_t *loop, const struct sockaddr *addr, const hop_udp_options_t *options,
                      hop_udp_t **udp) {
    static const hop_udp_options_t defaults = {0};
    if (udp)
        *udp = NULL;
    if (!loop)
        loop = hop_loop_current();
    if (!options)
        options = &defaults;
    if (!udp || !addr || !loop || !hop__udp_addr_len(addr) || options->ttl < 0 || options->ttl > 255 ||
        options->multicast_ttl < 0 || options->multicast_ttl > 255 || options->recv_buffer < 0)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_udp_t *u = hop__calloc(1, sizeof *u);
    if (!u)
        return HOP_ENOMEM;
    hop__io_handle_init(&u->h, loop, (uv_handle_t *)&u->udp, hop__udp_wake, hop__udp_destroy);
    hop__udp_bind_t b = {.u = u, .addr = addr, .options = options};
    int err = hop__io_call_on_loop(loop, hop__udp_bind_on_loop, &b);
    if (err && !b.ran)
        free(u); /* the loop refused the call */
    if (err)
        return err;
    *udp = u;
    return 0;
}

int hop_udp_bind(hop_loop_t *loop, const char *host, int port, const hop_udp_options_t *options,
                 hop_udp_t **udp) {
    if (udp)
        *udp = NULL;
    if (port < 0 || port > 65535)
        return HOP_EINVAL;
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof addr);
    if (!host)
        host = "0.0.0.0";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&addr) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr) != 0)
        return HOP_EINVAL;
    return hop_udp_bind_addr(loop, (struct sockaddr *)&addr, options, udp);
}

/* ---- receiving ---------------------------------------------------------------- */

typedef struct {
    hop__io_op_t op;
    hop_udp_t *u;
    char *buf;
    size_t len;
    struct sockaddr_storage *from;
    int64_t got; /* the datagram's length, or HOP_EMSGSIZE */
} hop__udp_recv_t;

static void hop__udp_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    hop_udp_t *u = (hop_udp_t *)handle->data;
    hop__udp_recv_t *r = (hop__udp_recv_t *)u->receiver;
    /* Receiving is on only while a recv_from waits, and stops when it ends. */
    *buf = r ? uv_buf_init(r->buf, (unsigned int)(r->len > (1u << 30) ? (1u << 30) : r->len))
             : uv_buf_init(NULL, 0);
}

static void hop__udp_recv_cb(uv_udp_t *handle, ssize_t nread, const uv_buf_t *buf,
                             const struct sockaddr *addr, unsigned flags) {
    (void)buf;
    hop_udp_t *u = (hop_udp_t *)handle->data;
    hop__udp_recv_t *r = (hop__udp_recv_t *)u->receiver;
    if (!r || (nread == 0 && !addr))
        return; /* nothing (more) to read: go on waiting */
    int status = 0;
    if (nread < 0) {
        if (nread == UV_ENOBUFS)
            return;
        status = hop__io_error((int)nread);
    } else {
        r->got = (flags & UV_UDP_PARTIAL) ? HOP_EMSGSIZE : (int64_t)nread;
        if (r->from) {
            memset(r->from, 0, sizeof *r->from);
            memcpy(r->from, addr, hop__udp_addr_len(addr));
        }
    }
    u->receiver = NULL;
    uv_udp_recv_stop(&u->udp); /* also ends libuv's batch: the next datagram stays in the kernel */
    hop__io_op_complete(&r->op, status);
}

static int hop__udp_recv_start(hop__io_op_t *op) {
    hop__udp_recv_t *r = (hop__udp_recv_t *)op;
    hop_udp_t *u = r->u;
    if (hop__atomic_load_uint(&u->h.closing))
        return HOP_ECLOSED;
    u->receiver = op;
    int err = uv_udp_recv_start(&u->udp, hop__udp_alloc_cb, hop__udp_recv_cb);
    if (err) {
        u->receiver = NULL;
        return hop__io_error(err);
    }
    return HOP__IO_PENDING;
}

static int hop__udp_recv_cancel(hop__io_op_t *op) {
    hop_udp_t *u = ((hop__udp_recv_t *)op)->u;
    if (u->receiver != op)
        return HOP_EALREADY;
    u->receiver = NULL;
    uv_udp_recv_stop(&u->udp); /* libuv lets go of the buffer; no datagram was taken */
    return 0;
}

int64_t hop_udp_recv_from(hop_udp_t *udp, void *buf, size_t len, struct sockaddr_storage *from) {
    if (!udp || !buf || len == 0)
        return HOP_EINVAL;
    int err = hop__io_handle_enter(&udp->h);
    if (err)
        return err;
    if (!hop__atomic_cas_uint(&udp->receiving_task, 0u, 1u)) {
        hop__io_handle_leave(&udp->h);
        return HOP_EBUSY;
    }
    hop__udp_recv_t r = {.u = udp, .buf = buf, .len = len, .from = from};
    hop__io_op_describe_as(&r.op, "udp recv", "fd", udp->h.fd, NULL);
    err = hop__io_op_run(&r.op, udp->h.loop, hop__udp_recv_start, hop__udp_recv_cancel);
    hop__atomic_store_uint(&udp->receiving_task, 0u);
    hop__io_handle_leave(&udp->h);
    return err ? err : r.got;
}

/* ---- sending ------------------------------------------------------------------- */

typedef struct {
    hop__io_op_t op;
    hop_udp_t *u;
    uv_buf_t buf;
    const struct sockaddr *addr;
    uv_udp_send_t req;
} hop__udp_send_t;

static void hop__udp_send_cb(uv_udp_send_t *req, int status) {
    hop__udp_send_t *s = hop__container_of(req, hop__udp_send_t, req);
    hop__io_op_complete(&s->op, status == UV_ECANCELED ? HOP_ECLOSED : hop__io_error(status));
}

static int hop__udp_send_start(hop__io_op_t *op) {
    hop__udp_send_t *s = (hop__udp_send_t *)op;
    hop_udp_t *u = s->u;
    if (hop__atomic_load_uint(&u->h.closing))
        return HOP_ECLOSED;
    if (!s->addr && !u->connected)
        return HOP_ESTATE;
    if (s->addr && u->connected)
        return HOP_ESTATE;
    int n = uv_udp_try_send(&u->udp, &s->buf, 1, s->addr);
    if (n >= 0)
        return 0;
    if (n != UV_EAGAIN && n != UV_ENOSYS)
        return hop__io_error(n);
    int err = uv_udp_send(&s->req, &u->udp, &s->buf, 1, s->addr, hop__udp_send_cb);
    return err ? hop__io_error(err) : HOP__IO_PENDING;
}

/* A queued uv_udp_send_t cannot be withdrawn: its callback finishes it. */
static int hop__udp_send_cancel(hop__io_op_t *op) {
    (void)op;
    return HOP_EALREADY;
}

int hop_udp_send_to(hop_udp_t *udp, const void *buf, size_t len, const struct sockaddr *addr) {
    if (!udp || (!buf && len) || len > (1u << 30) || (addr && !hop__udp_addr_len(addr)))
        return HOP_EINVAL;
    int err = hop__io_handle_enter(&udp->h);
    if (err)
        return err;
    hop__udp_send_t s = {.u = udp, .buf = uv_buf_init((char *)buf, (unsigned int)len), .addr = addr};
    hop__io_op_describe_as(&s.op, "udp send", "fd", udp->h.fd, NULL);
    err = hop__io_op_run(&s.op, udp->h.loop, hop__udp_send_start, hop__udp_send_cancel);
    hop__io_handle_leave(&udp->h);
    return err;
}

/* ---- peer and address ------------------------------------------------------------ */

typedef struct {
    hop_udp_t *u;
    const struct sockaddr *addr;
    struct sockaddr_storage *out;
} hop__udp_call_t;

static int hop__udp_connect_on_loop(void *arg) {
    hop__udp_call_t *c = arg;
    hop_udp_t *u = c->u;
    if (hop__atomic_load_uint(&u->h.closing))
        return HOP_ECLOSED;
    if (c->addr && u->connected)
        return HOP_EALREADY;
    if (!c->addr && !u->connected)
        return HOP_ESTATE;
    int err = uv_udp_connect(&u->udp, c->addr);
    if (err)
        return hop__io_error(err);
    u->connected = c->addr != NULL;
    return 0;
}

static int hop__udp_name_on_loop(void *arg) {
    hop__udp_call_t *c = arg;
    if (hop__atomic_load_uint(&c->u->h.closing))
        return HOP_ECLOSED;
    int len = (int)sizeof *c->out;
    memset(c->out, 0, sizeof *c->out);
    return hop__io_error(uv_udp_getsockname(&c->u->udp, (struct sockaddr *)c->out, &len));
}

/* Runs fn on udp's loop with a reference on it. */
static int hop__udp_call(hop_udp_t *udp, int (*fn)(void *), hop__udp_call_t *c) {
    if (!hop_task_current())
        return HOP_ENOTTASK;
    int err = hop__io_handle_enter(&udp->h);
    if (err)
        return err;
    err = hop__io_call_on_loop(udp->h.loop, fn, c);
    hop__io_handle_leave(&udp->h);
    return err;
}

int hop_udp_connect(hop_udp_t *udp, const struct sockaddr *addr) {
    if (!udp || (addr && !hop__udp_addr_len(addr)))
        return HOP_EINVAL;
    hop__udp_call_t c = {.u = udp, .addr = addr};
    return hop__udp_call(udp, hop__udp_connect_on_loop, &c);
}

int hop_udp_local_address(hop_udp_t *udp, struct sockaddr_storage *addr) {
    if (!udp || !addr)
        return HOP_EINVAL;
    hop__udp_call_t c = {.u = udp, .out = addr};
    return hop__udp_call(udp, hop__udp_name_on_loop, &c);
}
