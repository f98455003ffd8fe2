/* bench/peers/uv_echo.c: the io workload's libuv side: the same TCP echo
 * server written on plain libuv callbacks (the twin hop's task-per-
 * connection server is measured against), and the load generator both rows
 * share: C connections, each sending a 64-byte message and waiting for its
 * echo before sending the next, on plain libuv in a thread of its own. */
#define _GNU_SOURCE
#include "uv_echo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "../bench_common.h"

/* ---- the libuv echo server --------------------------------------------------------- */

typedef struct {
    uv_tcp_t tcp;
    char buf[65536];
} uv_echo_conn_t;

typedef struct {
    uv_write_t req;
    char data[];
} uv_echo_write_t;

static uv_loop_t server_loop;
static uv_tcp_t server_listener;
static uv_async_t server_stop;
static pthread_t server_thread;
static int server_port;

static void server_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    uv_echo_conn_t *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void server_closed(uv_handle_t *h) { free(h->data); }

static void server_written(uv_write_t *req, int status) {
    (void)status;
    free(req);
}

static void server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    if (n < 0) {
        uv_close((uv_handle_t *)s, server_closed);
        return;
    }
    if (n == 0)
        return;
    uv_buf_t out = uv_buf_init(buf->base, (unsigned int)n);
    int w = uv_try_write(s, &out, 1);
    if (w == n)
        return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, server_closed);
        return;
    }
    size_t done = w > 0 ? (size_t)w : 0;
    uv_echo_write_t *wr = malloc(sizeof *wr + (size_t)n - done);
    memcpy(wr->data, buf->base + done, (size_t)n - done);
    out = uv_buf_init(wr->data, (unsigned int)((size_t)n - done));
    uv_write(&wr->req, s, &out, 1, server_written);
}

static void server_connection(uv_stream_t *server, int status) {
    if (status < 0)
        return;
    uv_echo_conn_t *c = malloc(sizeof *c);
    uv_tcp_init(&server_loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, server_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, server_alloc, server_read);
}

static void server_close_all(uv_handle_t *h, void *arg) {
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, h->type == UV_TCP && h != (uv_handle_t *)&server_listener ? server_closed : NULL);
}

static void server_stop_cb(uv_async_t *a) {
    (void)a;
    uv_walk(&server_loop, server_close_all, NULL);
}

static void *server_main(void *arg) {
    (void)arg;
    uv_run(&server_loop, UV_RUN_DEFAULT);
    return NULL;
}

int uv_echo_server_start(void) {
    if (server_port)
        return server_port;
    uv_loop_init(&server_loop);
    uv_tcp_init(&server_loop, &server_listener);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server_listener, (struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server_listener, 511, server_connection) != 0)
        bench_die("uv echo server: cannot listen");
    int len = sizeof addr;
    uv_tcp_getsockname(&server_listener, (struct sockaddr *)&addr, &len);
    server_port = ntohs(addr.sin_port);
    uv_async_init(&server_loop, &server_stop, server_stop_cb);
    pthread_create(&server_thread, NULL, server_main, NULL);
    return server_port;
}

void uv_echo_server_stop(void) {
    if (!server_port)
        return;
    uv_async_send(&server_stop);
    pthread_join(server_thread, NULL);
    uv_loop_close(&server_loop);
    server_port = 0;
}

/* ---- the load generator ---------------------------------------------------------------- */

typedef struct load_s load_t;

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char out[UV_ECHO_MESSAGE];
    char in[UV_ECHO_MESSAGE];
    size_t got;
    uint64_t sent_at;
    load_t *load;
} load_conn_t;

struct load_s {
    uv_loop_t loop;
    load_conn_t conns[UV_ECHO_CONNECTIONS];
    int connected, closed;
    uint64_t to_send, sent, received;
    uint64_t t0, t1;
    uint64_t *samples; /* round-trip nanoseconds, one per message (up to cap) */
    uint64_t nsamples, cap;
};

static void load_send(load_conn_t *c);

static void load_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    load_conn_t *c = h->data;
    *buf = uv_buf_init(c->in + c->got, (unsigned int)(sizeof c->in - c->got));
}

static void load_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
    (void)buf;
    load_conn_t *c = s->data;
    if (n < 0)
        bench_die("io load: read: %s", uv_strerror((int)n));
    c->got += (size_t)n;
    if (c->got < sizeof c->in)
        return;
    c->got = 0;
    load_t *l = c->load;
    uint64_t now = bench_now_ns();
    if (l->nsamples < l->cap)
        l->samples[l->nsamples++] = now - c->sent_at;
    l->received++;
    if (l->sent < l->to_send)
        load_send(c);
    else if (l->received == l->to_send)
        l->t1 = now, uv_stop(&l->loop);
}

static void load_written(uv_write_t *req, int status) {
    (void)req;
    if (status < 0)
        bench_die("io load: write: %s", uv_strerror(status));
}

static void load_send(load_conn_t *c) {
    c->load->sent++;
    c->sent_at = bench_now_ns();
    uv_buf_t buf = uv_buf_init(c->out, sizeof c->out);
    if (uv_try_write((uv_stream_t *)&c->tcp, &buf, 1) == (int)sizeof c->out)
        return;
    uv_write(&c->write, (uv_stream_t *)&c->tcp, &buf, 1, load_written); /* rare: 64 bytes */
}

static void load_connected(uv_connect_t *req, int status) {
    load_conn_t *c = req->data;
    if (status < 0)
        bench_die("io load: connect: %s", uv_strerror(status));
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, load_alloc, load_read);
    load_t *l = c->load;
    if (++l->connected < UV_ECHO_CONNECTIONS)
        return;
    l->t0 = bench_now_ns();
    for (int i = 0; i < UV_ECHO_CONNECTIONS && l->sent < l->to_send; i++)
        load_send(&l->conns[i]);
}

static void load_closed(uv_handle_t *h) { ((load_conn_t *)h->data)->load->closed++; }

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t uv_echo_load(int port, uint64_t messages, uv_echo_latency_t *latency) {
    load_t *l = calloc(1, sizeof *l);
    uv_loop_init(&l->loop);
    l->to_send = messages ? messages : 1;
    l->cap = l->to_send < 2000000 ? l->to_send : 2000000;
    l->samples = malloc(l->cap * sizeof *l->samples);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    for (int i = 0; i < UV_ECHO_CONNECTIONS; i++) {
        load_conn_t *c = &l->conns[i];
        c->load = l;
        memset(c->out, 'a' + i % 26, sizeof c->out);
        uv_tcp_init(&l->loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        uv_tcp_connect(&c->connect, &c->tcp, (struct sockaddr *)&addr, load_connected);
    }
    uv_run(&l->loop, UV_RUN_DEFAULT);
    for (int i = 0; i < UV_ECHO_CONNECTIONS; i++)
        uv_close((uv_handle_t *)&l->conns[i].tcp, load_closed);
    while (l->closed < UV_ECHO_CONNECTIONS)
        uv_run(&l->loop, UV_RUN_ONCE);
    uv_loop_close(&l->loop);
    if (latency) {
        qsort(l->samples, l->nsamples, sizeof *l->samples, cmp_u64);
        latency->p50_ns = l->nsamples ? l->samples[l->nsamples / 2] : 0;
        latency->p99_ns = l->nsamples ? l->samples[l->nsamples * 99 / 100] : 0;
    }
    uint64_t ns = l->t1 - l->t0;
    free(l->samples);
    free(l);
    return ns;
}
