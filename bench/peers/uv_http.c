/* bench/peers/uv_http.c: the twin of examples/http_server.c in plain libuv
 * callbacks: the same keep-alive HTTP/1.1 server, the same parser and work
 * function (examples/http_parse.h), each request's blocking call on libuv's
 * thread pool (uv_queue_work; its size is UV_THREADPOOL_SIZE), one loop, and
 * the same graceful shutdown on SIGINT (no new connections, idle ones
 * closed, requests in flight answered with "Connection: close", exit 0).
 *
 *     uv-http [port [sleep_us [hash_bytes]]] */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

#include "../../examples/http_parse.h"

static http_work_config_t work_config = {1000, 16384};
static uv_loop_t *loop;
static uv_tcp_t listener;
static uv_signal_t sigint;
static bool closing;

typedef struct conn_s conn_t;
struct conn_s {
    uv_tcp_t tcp;
    conn_t *prev, *next;
    uv_work_t work;
    uint64_t seed, hash;
    bool busy; /* a request's work or write is in flight */
    bool close_after;
    bool closed;
    size_t used, need;
    uint64_t requests;
    char buf[HTTP_MAX_HEAD + 4096];
};

typedef struct {
    uv_write_t req;
    conn_t *conn;
    bool close;
    size_t len;
    char data[256];
} reply_t;

static conn_t *conns;

static void on_closed(uv_handle_t *h) {
    conn_t *c = h->data;
    if (c->prev)
        c->prev->next = c->next;
    else
        conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void conn_close(conn_t *c) {
    if (c->closed)
        return;
    c->closed = true;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void process(conn_t *c);

static void on_written(uv_write_t *req, int status) {
    reply_t *r = (reply_t *)req;
    conn_t *c = r->conn;
    bool close = r->close || status < 0;
    free(r);
    c->busy = false;
    if (close || c->closed) {
        conn_close(c);
        return;
    }
    memmove(c->buf, c->buf + c->need, c->used - c->need);
    c->used -= c->need;
    process(c); /* a pipelined request, or read on */
}

static void reply(conn_t *c, int status, const char *body, size_t body_len, bool close) {
    reply_t *r = malloc(sizeof *r);
    if (!r) {
        conn_close(c);
        return;
    }
    r->conn = c;
    r->close = close;
    r->len = http_format_head(r->data, sizeof r->data - 32, status, body_len, close);
    memcpy(r->data + r->len, body, body_len);
    r->len += body_len;
    uv_buf_t b = uv_buf_init(r->data, (unsigned int)r->len);
    c->busy = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    if (uv_write(&r->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(r);
        c->busy = false;
        conn_close(c);
    }
}

static void work_run(uv_work_t *w) {
    conn_t *c = w->data;
    c->hash = http_work(&work_config, c->seed);
}

static void work_done(uv_work_t *w, int status) {
    conn_t *c = w->data;
    if (c->closed) {
        c->busy = false;
        return;
    }
    if (status < 0) {
        reply(c, 503, "", 0, true);
        return;
    }
    char body[32];
    size_t n = (size_t)snprintf(body, sizeof body, "%016" PRIx64 "\n", c->hash);
    /* Once the shutdown has begun, the connection ends with this answer. */
    reply(c, 200, body, n, c->close_after || closing);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init(c->buf + c->used, (unsigned int)(sizeof c->buf - c->used));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    conn_t *c = s->data;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->used += (size_t)n;
    process(c);
}

/* Parses what is buffered: starts a request's work, answers an error, or
 * reads on. */
static void process(conn_t *c) {
    http_request_t req;
    int parsed = http_parse_request(c->buf, c->used, &req);
    if (parsed == HTTP_INCOMPLETE) {
        if (closing && c->used == 0) { /* idle at shutdown */
            conn_close(c);
            return;
        }
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        return;
    }
    if (parsed != HTTP_OK) {
        reply(c, parsed, "", 0, true);
        return;
    }
    c->need = req.head_len + req.content_length;
    if (c->need > sizeof c->buf) {
        reply(c, 431, "", 0, true);
        return;
    }
    if (c->used < c->need) {
        uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        return;
    }
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->busy = true;
    c->close_after = !req.keep_alive;
    c->seed = ++c->requests;
    c->work.data = c;
    if (uv_queue_work(loop, &c->work, work_run, work_done) != 0)
        reply(c, 503, "", 0, true);
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->next = conns;
    if (conns)
        conns->prev = c;
    conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_sigint(uv_signal_t *h, int signum) {
    (void)signum;
    fprintf(stderr, "stopping: answering requests in flight\n");
    closing = true;
    uv_close((uv_handle_t *)&listener, NULL);
    uv_close((uv_handle_t *)h, NULL);
    for (conn_t *c = conns, *next; c; c = next) {
        next = c->next;
        if (!c->busy && c->used == 0)
            conn_close(c); /* idle */
    }
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8081;
    if (argc > 2)
        work_config.sleep_us = (unsigned int)atoi(argv[2]);
    if (argc > 3)
        work_config.hash_bytes = (size_t)atol(argv[3]);
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("0.0.0.0", port, &addr);
    uv_tcp_init(loop, &listener);
    int err = uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0);
    if (!err)
        err = uv_listen((uv_stream_t *)&listener, 511, on_connection);
    if (err) {
        fprintf(stderr, "uv-http: %s\n", uv_strerror(err));
        return 1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
    printf("uv http server on port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_sigint, SIGINT);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    fprintf(stderr, "stopped\n");
    return 0;
}
