/* src/io/tcp.c: TCP listeners, accept, connect, and socket options, on the
 * stream record (stream_internal.h). */
#define _GNU_SOURCE /* <uv.h> needs POSIX types; SO_REUSEPORT */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/fault.h"
#include "hop/dns.h"
#include "hop/tcp.h"
#include "io/stream_internal.h"

#define HOP__TCP_BACKLOG_DEFAULT 511

struct hop_tcp_listener_s {
    hop__listener_t l; /* l.uv.tcp */
};

static socklen_t hop__tcp_addr_len(const struct sockaddr *addr) {
    if (addr->sa_family == AF_INET)
        return sizeof(struct sockaddr_in);
    if (addr->sa_family == AF_INET6)
        return sizeof(struct sockaddr_in6);
    return 0;
}

/* ---- listening (shared with pipes, stream_internal.h) ----------------------- */

typedef struct {
    hop__io_op_t op;
    hop__listener_t *l;
    hop_stream_t *s; /* the connection handed out (adopted) */
} hop__listener_accept_t;

/* Loop thread: takes the connection libuv holds into a new stream, open but
 * not adopted (closing it frees it); NULL and *err when it cannot. Out of
 * memory, the connection stays with libuv (ready) for a later try; so it
 * does when the new handle cannot be initialised (it makes no descriptor:
 * only a lack of memory could refuse it), reported as HOP_ENOMEM too, not
 * as libuv's code, which could read as the descriptor shortage that accept
 * waits out instead of reporting. */
static hop_stream_t *hop__listener_take(hop__listener_t *l, int *err) {
    hop_stream_t *s = hop__stream_new(l->h.loop, &l->stream_options);
    if (!s) {
        *err = HOP_ENOMEM;
        return NULL;
    }
    int uv_err = l->init_stream(l->uv.handle.loop, s);
    if (uv_err) {
        hop__stream_free(s);
        *err = HOP_ENOMEM;
        return NULL;
    }
    hop__stream_opened(s);
    l->ready = false;
    uv_err = uv_accept(&l->uv.stream, &s->uv.stream);
    if (uv_err) { /* libuv closed the connection */
        hop__io_handle_close_now(&s->h);
        *err = hop__io_error(uv_err);
        return NULL;
    }
    return s;
}

/* Loop thread: takes the connection libuv holds onto the queue. The queue's
 * reference keeps the record alive if the closing loop closes the stream
 * while it waits there. */
static void hop__listener_queue_take(hop__listener_t *l) {
    int err;
    hop_stream_t *s = hop__listener_take(l, &err);
    if (!s)
        return;
    (void)hop__io_handle_enter(&s->h); /* open: cannot fail */
    s->accept_next = NULL;
    if (l->queue_last)
        l->queue_last->accept_next = s;
    else
        l->queue_first = s;
    l->queue_last = s;
    l->queued++;
}

/* Loop thread: the oldest queued connection still open, adopted; or NULL. */
static hop_stream_t *hop__listener_queue_pop(hop__listener_t *l) {
    hop_stream_t *s;
    while ((s = l->queue_first) != NULL) {
        l->queue_first = s->accept_next;
        if (!l->queue_first)
            l->queue_last = NULL;
        l->queued--;
        s->accept_next = NULL;
        bool open = !hop__atomic_load_uint(&s->h.closing); /* the closing loop's doing */
        if (open)
            hop__io_handle_adopt(&s->h);
        hop__io_handle_leave(&s->h); /* the queue's reference */
        if (open)
            return s;
    }
    return NULL;
}

/* Loop thread: closes the queued connections (the listener is closing). */
static void hop__listener_queue_close(hop__listener_t *l) {
    hop_stream_t *s;
    while ((s = l->queue_first) != NULL) {
        l->queue_first = s->accept_next;
        hop__io_handle_close_now(&s->h);
        hop__io_handle_leave(&s->h);
    }
    l->queue_last = NULL;
    l->queued = 0;
}

static void hop__listener_connection_cb(uv_stream_t *server, int status) {
    hop__listener_t *l = (hop__listener_t *)server->data;
    if (status < 0) {
        /* Out of descriptors (libuv has shed the waiting connections with
         * its spare one) or a connection that died on the way: nothing to
         * hand out, the accept keeps waiting. */
        if (status == UV_EMFILE || status == UV_ENFILE)
            hop__atomic_faa_u64(&l->dropped, 1u);
        return;
    }
    l->ready = true;
    hop__io_op_t *op = l->acceptor;
    if (op) { /* the queue is empty: the accept would have taken from it */
        l->acceptor = NULL;
        hop__listener_accept_t *a = (hop__listener_accept_t *)op;
        int err = 0;
        a->s = hop__listener_take(l, &err);
        if (a->s)
            hop__io_handle_adopt(&a->s->h);
        hop__io_op_complete(op, a->s ? 0 : err);
        return;
    }
    /* Taken now, libuv goes on accepting in this callback; left with libuv
     * (queue full), it stops watching the socket until an accept takes it:
     * the kernel's backlog holds the rest, which is the back-pressure. */
    if (l->taking && l->queued < HOP__LISTENER_QUEUE_MAX && !hop__atomic_load_uint(&l->h.closing))
        hop__listener_queue_take(l);
}

static int hop__listener_accept_start(hop__io_op_t *op) {
    hop__listener_accept_t *a = (hop__listener_accept_t *)op;
    hop__listener_t *l = a->l;
    if (hop__atomic_load_uint(&l->h.closing))
        return HOP_ECLOSED;
    l->taking = true;
    a->s = hop__listener_queue_pop(l);
    if (a->s) {
        if (l->ready) /* the one libuv held while the queue was full: watch again */
            hop__listener_queue_take(l);
        return 0;
    }
    if (l->ready) {
        int err = 0;
        a->s = hop__listener_take(l, &err);
        if (!a->s)
            return err;
        hop__io_handle_adopt(&a->s->h);
        return 0;
    }
    l->acceptor = op;
    return HOP__IO_PENDING;
}

static int hop__listener_accept_cancel(hop__io_op_t *op) {
    hop__listener_t *l = ((hop__listener_accept_t *)op)->l;
    if (l->acceptor != op)
        return HOP_EALREADY;
    l->acceptor = NULL; /* a connection that comes now waits on the queue for the next accept */
    return 0;
}

int hop__listener_accept(hop__listener_t *listener, hop_stream_t **stream) {
    int err = hop__io_handle_enter(&listener->h);
    if (err)
        return err;
    if (!hop__atomic_cas_uint(&listener->accepting_task, 0u, 1u)) {
        hop__io_handle_leave(&listener->h);
        return HOP_EBUSY;
    }
    hop__listener_accept_t a = {.l = listener};
    hop__io_op_describe_as(&a.op, hop__stream_what(&listener->uv.handle, 3), "fd", listener->h.fd, NULL);
    err = hop__io_op_run(&a.op, listener->h.loop, hop__listener_accept_start, hop__listener_accept_cancel);
    if (err == 0)
        *stream = a.s;
    hop__atomic_store_uint(&listener->accepting_task, 0u);
    hop__io_handle_leave(&listener->h);
    return err;
}

int hop_tcp_accept(hop_tcp_listener_t *listener, hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    if (!listener || !stream)
        return HOP_EINVAL;
    return hop__listener_accept(&listener->l, stream);
}

static void hop__listener_wake(hop__io_handle_t *h, int status) {
    hop__listener_t *l = (hop__listener_t *)h;
    hop__io_op_t *op = l->acceptor;
    if (op) {
        l->acceptor = NULL;
        hop__io_op_complete(op, status);
    }
    hop__listener_queue_close(l); /* wake comes only from the close */
}

static void hop__listener_destroy(hop__io_handle_t *h) { free(h); }

void hop__listener_init(hop__listener_t *l, hop_loop_t *loop, hop__stream_init_fn init_stream,
                        const hop_stream_options_t *stream_options) {
    l->init_stream = init_stream;
    if (stream_options)
        l->stream_options = *stream_options;
    hop__io_handle_init(&l->h, loop, &l->uv.handle, hop__listener_wake, hop__listener_destroy);
}

int hop__listener_listen(hop__listener_t *l, int backlog) {
    int err = uv_listen(&l->uv.stream, backlog > 0 ? backlog : HOP__TCP_BACKLOG_DEFAULT,
                        hop__listener_connection_cb);
    if (err) {
        hop__io_handle_close_now(&l->h);
        return hop__io_error(err);
    }
    hop__io_handle_adopt(&l->h);
    return 0;
}

static int hop__tcp_init_stream(uv_loop_t *uv, hop_stream_t *s) {
    return hop__uv_init(uv_tcp_init(uv, &s->uv.tcp));
}

typedef struct {
    hop_tcp_listener_t *l;
    const struct sockaddr *addr;
    const hop_tcp_listen_options_t *options;
    bool ran;
} hop__tcp_listen_t;

/* Loop thread. On failure the listener is gone (freed or closing). */
static int hop__tcp_listen_on_loop(void *arg) {
    hop__tcp_listen_t *a = arg;
    hop__listener_t *l = &a->l->l;
    a->ran = true;
    uv_loop_t *uv = hop_loop_uv(l->h.loop);
    int err = uv ? hop__uv_init(uv_tcp_init_ex(uv, &l->uv.tcp, a->addr->sa_family)) : UV_EBADF;
    if (err) {
        free(l);
        return uv ? hop__io_error(err) : HOP_ECLOSED;
    }
    hop__io_handle_opened(&l->h);
    if (a->options->reuse_port) {
        uv_os_fd_t fd;
        int on = 1;
        if (uv_fileno(&l->uv.handle, &fd) == 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0)
            err = UV_EINVAL;
    }
    unsigned int flags = a->options->ipv6_only && a->addr->sa_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0;
    if (!err)
        err = uv_tcp_bind(&l->uv.tcp, a->addr, flags); /* libuv sets SO_REUSEADDR */
    if (err) {
        hop__io_handle_close_now(&l->h);
        return hop__io_error(err);
    }
    return hop__listener_listen(l, a->options->backlog);
}

int hop_tcp_listen_addr(hop_loop_t *loop, const struct sockaddr *addr,
                        const hop_tcp_listen_options_t *options, hop_tcp_listener_t **listener) {
    static const hop_tcp_listen_options_t defaults = {0};
    if (listener)
        *listener = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!listener || !addr || !loop || !hop__tcp_addr_len(addr))
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_tcp_listener_t *l = hop__calloc(1, sizeof *l);
    if (!l)
        return HOP_ENOMEM;
    if (!options)
        options = &defaults;
    hop__listener_init(&l->l, loop, hop__tcp_init_stream, &options->stream);
    hop__tcp_listen_t a = {.l = l, .addr = addr, .options = options};
    int err = hop__io_call_on_loop(loop, hop__tcp_listen_on_loop, &a);
    if (err && !a.ran)
        free(l);
    if (err)
        return err;
    *listener = l;
    return 0;
}

/* A numeric host and a port as a sockaddr; HOP_EINVAL otherwise. */
static int hop__tcp_numeric_addr(const char *host, int port, struct sockaddr_storage *addr) {
    if (port < 0 || port > 65535)
        return HOP_EINVAL;
    memset(addr, 0, sizeof *addr);
    if (!host)
        host = "0.0.0.0";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0)
        return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) == 0)
        return 0;
    return HOP_EINVAL;
}

int hop_tcp_listen(hop_loop_t *loop, const char *host, int port, const hop_tcp_listen_options_t *options,
                   hop_tcp_listener_t **listener) {
    if (listener)
        *listener = NULL;
    struct sockaddr_storage addr;
    int err = hop__tcp_numeric_addr(host, port, &addr);
    if (err)
        return err;
    return hop_tcp_listen_addr(loop, (struct sockaddr *)&addr, options, listener);
}

int hop_tcp_listener_close(hop_tcp_listener_t *listener) {
    if (!listener)
        return HOP_EINVAL;
    return hop__io_handle_close(&listener->l.h);
}

uint64_t hop_tcp_listener_dropped(const hop_tcp_listener_t *listener) {
    return listener ? hop__atomic_load_u64((uint64_t *)&listener->l.dropped) : 0;
}

typedef struct {
    uv_tcp_t *tcp;
    struct sockaddr_storage *addr;
    int which; /* 0 local, 1 peer */
} hop__tcp_name_t;

static int hop__tcp_name_on_loop(void *arg) {
    hop__tcp_name_t *n = arg;
    int len = (int)sizeof *n->addr;
    memset(n->addr, 0, sizeof *n->addr);
    int err = n->which ? uv_tcp_getpeername(n->tcp, (struct sockaddr *)n->addr, &len)
                       : uv_tcp_getsockname(n->tcp, (struct sockaddr *)n->addr, &len);
    return hop__io_error(err);
}

/* Runs fn on h's loop with a reference on h. */
static int hop__tcp_call(hop__io_handle_t *h, int (*fn)(void *), void *arg) {
    int err = hop__io_handle_enter(h);
    if (err)
        return err;
    err = hop__io_call_on_loop(h->loop, fn, arg);
    hop__io_handle_leave(h);
    return err;
}

int hop_tcp_listener_address(hop_tcp_listener_t *listener, struct sockaddr_storage *addr) {
    if (!listener || !addr)
        return HOP_EINVAL;
    hop__tcp_name_t n = {.tcp = &listener->l.uv.tcp, .addr = addr, .which = 0};
    return hop__tcp_call(&listener->l.h, hop__tcp_name_on_loop, &n);
}

int hop_tcp_listener_port(hop_tcp_listener_t *listener) {
    struct sockaddr_storage addr;
    int err = hop_tcp_listener_address(listener, &addr);
    if (err)
        return err;
    if (addr.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&addr)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

/* ---- connecting (shared with pipes, stream_internal.h) -------------------------- */

typedef struct {
    hop__io_op_t op;
    hop_stream_t *s;
    hop__stream_init_fn init;
    hop__stream_connect_fn connect;
    const void *target;
    bool ran;
} hop__stream_connect_t;

void hop__stream_connect_cb(uv_connect_t *req, int status) {
    hop_stream_t *s = (hop_stream_t *)req->handle->data;
    hop__io_op_t *op = s->connector;
    if (!op)
        return; /* withdrawn (the handle is closing) */
    s->connector = NULL;
    if (status < 0)
        hop__io_handle_close_now(&s->h); /* never handed out: close it here */
    else
        hop__io_handle_adopt(&s->h);
    hop__io_op_complete(op, status == UV_ECANCELED ? HOP_ECLOSED : hop__io_error(status));
}

/* Loop thread. On failure the stream is gone (freed or closing). */
static int hop__stream_connect_start(hop__io_op_t *op) {
    hop__stream_connect_t *c = (hop__stream_connect_t *)op;
    hop_stream_t *s = c->s;
    c->ran = true;
    uv_loop_t *uv = hop_loop_uv(op->loop);
    int err = uv ? c->init(uv, s) : UV_EBADF;
    if (err) {
        hop__stream_free(s);
        return uv ? hop__io_error(err) : HOP_ECLOSED;
    }
    hop__stream_opened(s);
    err = c->connect(s, c->target);
    if (err) {
        hop__io_handle_close_now(&s->h);
        return hop__io_error(err);
    }
    s->connector = op;
    return HOP__IO_PENDING;
}

static int hop__stream_connect_cancel(hop__io_op_t *op) {
    hop_stream_t *s = ((hop__stream_connect_t *)op)->s;
    if (s->connector != op)
        return HOP_EALREADY;
    /* A uv_connect_t cannot be withdrawn, but closing the handle ends it
     * (its callback comes with UV_ECANCELED and finds no connector); the
     * request lives in the stream, which lives until the close callback. */
    s->connector = NULL;
    hop__io_handle_close_now(&s->h);
    return 0;
}

int hop__stream_connect(hop_loop_t *loop, const hop_stream_options_t *options, hop__stream_init_fn init,
                        hop__stream_connect_fn connect, const void *target, const char *what, long port,
                        const char *path, hop_stream_t **stream) {
    hop__stream_connect_t c = {.s = hop__stream_new(loop, options), .init = init, .connect = connect, .target = target};
    if (!c.s)
        return HOP_ENOMEM;
    hop__io_op_describe_as(&c.op, what, port >= 0 ? "port" : NULL, port, path);
    int err = hop__io_op_run(&c.op, loop, hop__stream_connect_start, hop__stream_connect_cancel);
    if (err) {
        /* Started: the loop side closed (and frees) the stream. Not
         * started (refused, or interrupted before): ours to free. */
        if (!c.ran)
            hop__stream_free(c.s);
        return err;
    }
    *stream = c.s;
    return 0;
}

static int hop__tcp_connect_now(hop_stream_t *s, const void *addr) {
    return uv_tcp_connect(&s->connect_req, &s->uv.tcp, addr, hop__stream_connect_cb);
}

int hop_tcp_connect_addr(hop_loop_t *loop, const struct sockaddr *addr, const hop_stream_options_t *options,
                         hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!stream || !addr || !loop || !hop__tcp_addr_len(addr))
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    /* sin_port and sin6_port sit at the same place. */
    long port = ntohs(((const struct sockaddr_in *)addr)->sin_port);
    return hop__stream_connect(loop, options, hop__tcp_init_stream, hop__tcp_connect_now, addr, "tcp connect", port,
                               NULL, stream);
}

int hop_tcp_connect(hop_loop_t *loop, const char *host, int port, const hop_stream_options_t *options,
                    hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!host || !stream || !loop || port < 0 || port > 65535)
        return HOP_EINVAL;
    char service[8];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    struct addrinfo *addrs;
    int err = hop_getaddrinfo(loop, host, service, &hints, &addrs);
    if (err)
        return err;
    int first = 0;
    for (struct addrinfo *ai = addrs; ai; ai = ai->ai_next) {
        err = hop_tcp_connect_addr(loop, ai->ai_addr, options, stream);
        if (err == 0 || err == HOP_ECANCELED || err == HOP_ETIMEDOUT || err == HOP_ECLOSED ||
            err == HOP_ENOMEM) {
            first = err; /* connected, or interrupted: no further address */
            break;
        }
        if (!first)
            first = err;
    }
    hop_freeaddrinfo(addrs);
    return first ? first : (*stream ? 0 : HOP_ENAMELOOKUP);
}

/* ---- options ---------------------------------------------------------------- */

typedef struct {
    hop_stream_t *s;
    int what; /* 0 nodelay, 1 keepalive */
    bool enable;
    unsigned int delay;
} hop__tcp_option_t;

static int hop__tcp_option_on_loop(void *arg) {
    hop__tcp_option_t *o = arg;
    if (o->s->uv.handle.type != UV_TCP)
        return HOP_EINVAL;
    int err = o->what == 0 ? uv_tcp_nodelay(&o->s->uv.tcp, o->enable)
                           : uv_tcp_keepalive(&o->s->uv.tcp, o->enable, o->delay ? o->delay : 1);
    return hop__io_error(err);
}

int hop_tcp_set_nodelay(hop_stream_t *stream, bool enable) {
    if (!stream)
        return HOP_EINVAL;
    hop__tcp_option_t o = {.s = stream, .what = 0, .enable = enable};
    return hop__tcp_call(&stream->h, hop__tcp_option_on_loop, &o);
}

int hop_tcp_set_keepalive(hop_stream_t *stream, bool enable, unsigned int delay_s) {
    if (!stream)
        return HOP_EINVAL;
    hop__tcp_option_t o = {.s = stream, .what = 1, .enable = enable, .delay = delay_s};
    return hop__tcp_call(&stream->h, hop__tcp_option_on_loop, &o);
}

static int hop__tcp_stream_name(hop_stream_t *stream, struct sockaddr_storage *addr, int which) {
    if (!stream || !addr)
        return HOP_EINVAL;
    if (stream->uv.handle.type != UV_TCP)
        return HOP_EINVAL;
    hop__tcp_name_t n = {.tcp = &stream->uv.tcp, .addr = addr, .which = which};
    return hop__tcp_call(&stream->h, hop__tcp_name_on_loop, &n);
}

int hop_tcp_local_address(hop_stream_t *stream, struct sockaddr_storage *addr) {
    return hop__tcp_stream_name(stream, addr, 0);
}

int hop_tcp_peer_address(hop_stream_t *stream, struct sockaddr_storage *addr) {
    return hop__tcp_stream_name(stream, addr, 1);
}
