/* tests/test_io_tcp.c: TCP streams (hop/tcp.h, hop/stream.h) on real sockets
 * over 127.0.0.1 and ::1: echo, lines, back-pressure, half-close, one socket
 * used from three executors, deadlines, faults, EMFILE. The stress tests
 * (1,000 connections, 10,000 cancels) are in test_io_stress.c. */
#include "io_tcp_fixture.h"

#include <inttypes.h>

#include "io/stream_internal.h"

TestSuite(io_tcp, .init = setup, .fini = teardown, .timeout = 240);
/* ---- echo ------------------------------------------------------------------------ */

/* Echoes every connection it accepts until the peer ends, one at a time,
 * until it is cancelled; then it closes the listener itself (another task
 * must not close a handle that this one may still call). */
static void *echo_server_task(void *arg) {
    listen_t *l = arg;
    static __thread char buf[65536];
    for (;;) {
        hop_stream_t *conn;
        int err = hop_tcp_accept(l->listener, &conn);
        if (err) {
            hop_tcp_listener_close(l->listener);
            return (void *)(intptr_t)(err == HOP_ECANCELED ? 0 : err);
        }
        for (;;) {
            int64_t n = hop_stream_read(conn, buf, sizeof buf);
            if (n <= 0)
                break;
            if (hop_stream_write(conn, buf, (size_t)n, NULL) != 0)
                break;
        }
        hop_stream_close(conn);
    }
}

typedef struct {
    hop_stream_t *conn;
    const uint8_t *data;
    size_t len;
    int err;
} writer_t;

static void *writer_task(void *arg) {
    writer_t *w = arg;
    w->err = hop_stream_write(w->conn, w->data, w->len, NULL);
    if (!w->err)
        w->err = hop_stream_shutdown(w->conn);
    return NULL;
}

typedef struct {
    const char *host;
    int port;
    size_t len;
    int err;
    bool same;
} echo_client_t;

static void *echo_client_task(void *arg) {
    echo_client_t *c = arg;
    uint8_t *out = malloc(c->len), *in = malloc(c->len + 1);
    fill_pattern(out, c->len, c->len);
    hop_stream_t *conn;
    c->err = hop_tcp_connect(&loop_b, c->host, c->port, NULL, &conn);
    if (c->err) {
        free(out), free(in);
        return NULL;
    }
    /* Write from another task while this one reads: a large echo fills both
     * directions' buffers, so one task doing both in turn would deadlock. */
    writer_t w = {.conn = conn, .data = out, .len = c->len};
    hop_task_t *writer = test_spawn(POOL, writer_task, &w);
    size_t done = 0;
    c->err = hop_stream_read_exact(conn, in, c->len, &done);
    if (!c->err && hop_stream_read(conn, in + c->len, 1) != 0)
        c->err = HOP_ESTATE; /* more than was sent, or no end */
    hop_future_await(hop_task_future(writer), NULL);
    hop_task_unref(writer);
    if (!c->err)
        c->err = w.err;
    c->same = c->err == 0 && memcmp(out, in, c->len) == 0;
    hop_stream_close(conn);
    free(out), free(in);
    return NULL;
}

static void echo_sizes(const char *host) {
    listen_t l;
    listen_on(&l, host);
    hop_task_t *server = test_spawn(LOOP_A, echo_server_task, &l);
    static const size_t sizes[] = {1, 2, 100, 4096, 65536, 65537, 1u << 20, (16u << 20) / STRESS_SCALE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        echo_client_t c = {.host = host, .port = l.port, .len = sizes[i]};
        /* Clients alternately on the pool and on the other loop. */
        run_task(i % 2 ? POOL : LOOP_B, echo_client_task, &c);
        cr_assert_eq(c.err, 0, "%s, %zu bytes: %s", host, sizes[i], hop_err_name(c.err));
        cr_assert(c.same, "%s, %zu bytes: the echo differs", host, sizes[i]);
    }
    HOP_OK(hop_task_cancel(server));
    cr_assert_eq(test_join(server), HOP_ECANCELED);
}

Test(io_tcp, echo_round_trips_from_1_byte_to_16_mib_over_ipv4) { echo_sizes("127.0.0.1"); }

Test(io_tcp, echo_round_trips_from_1_byte_to_16_mib_over_ipv6) { echo_sizes("::1"); }

/* ---- lines ----------------------------------------------------------------------- */

typedef struct {
    listen_t l;
    int err;
    char lines[4][64];
    int64_t lens[4];
    char rest[64];
    int64_t rest_len;
    int64_t too_long;
} lines_t;

static void *lines_server_task(void *arg) {
    lines_t *t = arg;
    hop_stream_t *conn;
    int err = hop_tcp_accept(t->l.listener, &conn);
    if (err)
        return (void *)(intptr_t)err;
    hop_tcp_set_nodelay(conn, true);
    /* Pieces that split lines anywhere, each sent and given time to arrive
     * on its own. */
    static const char *pieces[] = {"hel", "lo\nwor", "ld\n", "\n", "0123456789abcdef", "XYZ\nrest"};
    for (size_t i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        hop_stream_write(conn, pieces[i], strlen(pieces[i]), NULL);
        hop_sleep(5);
    }
    hop_stream_close(conn);
    return NULL;
}

static void *lines_client_task(void *arg) {
    lines_t *t = arg;
    hop_stream_t *conn;
    t->err = hop_tcp_connect(&loop_b, "127.0.0.1", t->l.port, NULL, &conn);
    if (t->err)
        return NULL;
    for (int i = 0; i < 3; i++)
        t->lens[i] = hop_stream_read_line(conn, t->lines[i], sizeof t->lines[i]);
    /* A line longer than the maximum: refused, and nothing consumed. */
    t->too_long = hop_stream_read_line(conn, t->lines[3], 8);
    t->lens[3] = hop_stream_read_line(conn, t->lines[3], sizeof t->lines[3]);
    /* "rest" has no newline: at the end, read_line says HOP_EOF and leaves it. */
    int64_t eof = hop_stream_read_line(conn, t->rest, sizeof t->rest);
    t->rest_len = eof == HOP_EOF ? hop_stream_read(conn, t->rest, sizeof t->rest) : eof;
    hop_stream_close(conn);
    return NULL;
}

Test(io_tcp, read_line_assembles_lines_across_packets_and_keeps_the_bytes_after_them) {
    static lines_t t;
    listen_on(&t.l, "127.0.0.1");
    hop_task_t *server = test_spawn(LOOP_A, lines_server_task, &t);
    run_task(POOL, lines_client_task, &t);
    cr_assert_eq(test_join(server), 0);
    cr_assert_eq(t.err, 0);
    cr_assert_eq(t.lens[0], 6);
    cr_assert_eq(memcmp(t.lines[0], "hello\n", 6), 0);
    cr_assert_eq(t.lens[1], 6);
    cr_assert_eq(memcmp(t.lines[1], "world\n", 6), 0);
    cr_assert_eq(t.lens[2], 1, "an empty line is its newline");
    cr_assert_eq(t.too_long, HOP_EMSGSIZE);
    cr_assert_eq(t.lens[3], 20);
    cr_assert_eq(memcmp(t.lines[3], "0123456789abcdefXYZ\n", 20), 0);
    cr_assert_eq(t.rest_len, 4);
    cr_assert_eq(memcmp(t.rest, "rest", 4), 0);
    run_task(POOL, close_listener_task, t.l.listener);
}

/* ---- the read-ahead ring ----------------------------------------------------------- */

#define KEEPUP_MESSAGES 2000u
#define KEEPUP_SIZE 100u

typedef struct {
    listen_t l;
    int err;
    bool in_order;
    uint64_t ring_offset; /* the furthest into its ring the server's bytes reached */
    uint64_t ring_capacity;
} keepup_t;

/* Reads KEEPUP_MESSAGES messages of KEEPUP_SIZE bytes, answering each with
 * one byte, so that its ring is empty whenever the next one arrives. */
static void *keepup_server_task(void *arg) {
    keepup_t *k = arg;
    hop_stream_t *conn;
    int err = hop_tcp_accept(k->l.listener, &conn);
    if (err)
        return (void *)(intptr_t)err;
    k->in_order = true;
    uint8_t buf[KEEPUP_SIZE];
    for (uint64_t m = 0; m < KEEPUP_MESSAGES && !err; m++) {
        size_t got = 0;
        while (got < KEEPUP_SIZE && !err) {
            int64_t n = hop_stream_read(conn, buf + got, KEEPUP_SIZE - got);
            if (n <= 0)
                err = n ? (int)n : HOP_EOF;
            else
                got += (size_t)n;
        }
        for (size_t i = 0; i < got; i++)
            if (buf[i] != pattern_byte(m * KEEPUP_SIZE + i))
                k->in_order = false;
        const struct hop_stream_s *s = (const struct hop_stream_s *)conn;
        uint64_t offset = __atomic_load_n(&s->rtail, __ATOMIC_ACQUIRE) & (s->rcap - 1);
        if (offset > k->ring_offset)
            k->ring_offset = offset;
        k->ring_capacity = s->rcap;
        if (!err)
            err = hop_stream_write(conn, "k", 1, NULL);
    }
    hop_stream_close(conn);
    return (void *)(intptr_t)err;
}

static void *keepup_client_task(void *arg) {
    keepup_t *k = arg;
    hop_stream_t *conn;
    k->err = hop_tcp_connect(&loop_b, "127.0.0.1", k->l.port, NULL, &conn);
    if (k->err)
        return NULL;
    uint8_t msg[KEEPUP_SIZE];
    char ack;
    for (uint64_t m = 0; m < KEEPUP_MESSAGES && !k->err; m++) {
        fill_pattern(msg, KEEPUP_SIZE, m * KEEPUP_SIZE);
        k->err = hop_stream_write(conn, msg, KEEPUP_SIZE, NULL);
        if (!k->err && hop_stream_read(conn, &ack, 1) != 1)
            k->err = HOP_EOF;
    }
    hop_stream_close(conn);
    return NULL;
}

Test(io_tcp, a_reader_that_keeps_up_gets_each_message_at_the_start_of_its_read_buffer) {
    /* 200 KB through a 64 KiB ring, its reader on the pool and its loop
     * another thread: the bytes come in order, and each message lands at
     * the ring's start, so the ring's later pages are never touched. */
    static keepup_t k;
    listen_on(&k.l, "127.0.0.1");
    hop_task_t *server = test_spawn(POOL, keepup_server_task, &k);
    run_task(LOOP_B, keepup_client_task, &k);
    cr_assert_eq(test_join(server), 0);
    cr_assert_eq(k.err, 0, "%s", hop_err_name(k.err));
    cr_assert(k.in_order);
    cr_assert_gt(KEEPUP_MESSAGES * KEEPUP_SIZE, 2 * k.ring_capacity, "the messages would wrap the ring");
    cr_assert_lt(k.ring_offset, 4096u, "the bytes reached %" PRIu64 " bytes into the ring", k.ring_offset);
    run_task(POOL, close_listener_task, k.l.listener);
}

/* ---- back-pressure, half-close ------------------------------------------------------- */

#define PRESSURE_BYTES (48u << 20)

typedef struct {
    listen_t l;
    hop_stream_t *server_conn;
    unsigned int accepted, write_done, start_reading;
    int write_err;
    size_t written;
    uint64_t received;
    bool in_order;
} pressure_t;

static void *pressure_server_task(void *arg) {
    pressure_t *p = arg;
    int err = hop_tcp_accept(p->l.listener, &p->server_conn);
    test_store_uint(&p->accepted, 1);
    if (err)
        return (void *)(intptr_t)err;
    /* Reads nothing until told to. */
    while (!test_load_uint(&p->start_reading))
        hop_sleep(2);
    static __thread uint8_t buf[65536];
    p->in_order = true;
    for (;;) {
        int64_t n = hop_stream_read(p->server_conn, buf, sizeof buf);
        if (n <= 0)
            break;
        for (int64_t i = 0; i < n; i++)
            if (buf[i] != pattern_byte(p->received + (uint64_t)i))
                p->in_order = false;
        p->received += (uint64_t)n;
    }
    hop_stream_close(p->server_conn);
    return NULL;
}

static void *pressure_client_task(void *arg) {
    pressure_t *p = arg;
    uint8_t *data = malloc(PRESSURE_BYTES);
    fill_pattern(data, PRESSURE_BYTES, 0);
    hop_stream_t *conn;
    p->write_err = hop_tcp_connect(&loop_b, "127.0.0.1", p->l.port, NULL, &conn);
    if (!p->write_err) {
        p->write_err = hop_stream_write(conn, data, PRESSURE_BYTES, &p->written);
        hop_stream_close(conn);
    }
    test_store_uint(&p->write_done, 1);
    free(data);
    return NULL;
}

Test(io_tcp, a_peer_that_does_not_read_holds_the_writer_until_it_reads) {
    static pressure_t p;
    listen_on(&p.l, "127.0.0.1");
    hop_task_t *server = test_spawn(LOOP_A, pressure_server_task, &p);
    hop_task_t *client = test_spawn(POOL, pressure_client_task, &p);
    /* The writer is suspended in its write: the kernel buffers (a few MiB
     * at most) cannot hold 48 MiB while the peer reads nothing. */
    while (!test_load_uint(&p.accepted) || hop_task_state(client) != HOP_TASK_SUSPENDED)
        test_sleep_ms(5);
    test_sleep_ms(100);
    cr_assert_eq(test_load_uint(&p.write_done), 0, "the write waits for the peer");
    cr_assert_eq(hop_task_state(client), HOP_TASK_SUSPENDED);
    test_store_uint(&p.start_reading, 1);
    cr_assert_eq(test_join(client), 0);
    cr_assert_eq(test_join(server), 0);
    cr_assert_eq(p.write_err, 0, "%s", hop_err_name(p.write_err));
    cr_assert_eq(p.written, PRESSURE_BYTES);
    cr_assert_eq(p.received, PRESSURE_BYTES);
    cr_assert(p.in_order);
    run_task(POOL, close_listener_task, p.l.listener);
}

typedef struct {
    listen_t l;
    char got[16];
    int64_t got_len, end_after, reply_len, client_end;
    char reply[16];
    int err;
} half_t;

static void *half_server_task(void *arg) {
    half_t *h = arg;
    hop_stream_t *conn;
    int err = hop_tcp_accept(h->l.listener, &conn);
    if (err)
        return (void *)(intptr_t)err;
    size_t done = 0;
    h->err = hop_stream_read_exact(conn, h->got, 4, &done);
    h->got_len = (int64_t)done;
    h->end_after = hop_stream_read(conn, h->got + 4, sizeof h->got - 4); /* 0: the client shut down */
    /* Its writing side is shut; ours is open: reply. */
    hop_stream_write(conn, "pong", 4, NULL);
    hop_stream_close(conn);
    return NULL;
}

static void *half_client_task(void *arg) {
    half_t *h = arg;
    hop_stream_t *conn;
    int err = hop_tcp_connect(&loop_b, "::1", h->l.port, NULL, &conn);
    if (err)
        return (void *)(intptr_t)err;
    hop_stream_write(conn, "ping", 4, NULL);
    err = hop_stream_shutdown(conn);
    int after = hop_stream_write(conn, "x", 1, NULL);
    size_t done = 0;
    hop_stream_read_exact(conn, h->reply, 4, &done);
    h->reply_len = (int64_t)done;
    h->client_end = hop_stream_read(conn, h->reply + 4, 4);
    hop_stream_close(conn);
    return (void *)(intptr_t)(err == 0 && after == HOP_ECLOSED ? 0 : -1);
}

Test(io_tcp, shutdown_half_closes_and_the_peer_can_still_answer) {
    static half_t h;
    listen_on(&h.l, "::1");
    hop_task_t *server = test_spawn(LOOP_A, half_server_task, &h);
    cr_assert_eq(run_task(LOOP_B, half_client_task, &h), 0, "shutdown, then writes refused with HOP_ECLOSED");
    cr_assert_eq(test_join(server), 0);
    cr_assert_eq(h.err, 0);
    cr_assert_eq(h.got_len, 4);
    cr_assert_eq(memcmp(h.got, "ping", 4), 0);
    cr_assert_eq(h.end_after, 0, "the server read the end of the client's stream");
    cr_assert_eq(h.reply_len, 4);
    cr_assert_eq(memcmp(h.reply, "pong", 4), 0);
    cr_assert_eq(h.client_end, 0);
    run_task(POOL, close_listener_task, h.l.listener);
}

/* ---- one socket, three executors ------------------------------------------------------- */

static void *hopping_client_task(void *arg) {
    listen_t *l = arg;
    hop_stream_t *conn;
    int err = hop_tcp_connect(&loop_a, "127.0.0.1", l->port, NULL, &conn);
    if (err)
        return (void *)(intptr_t)err;
    hop_executor_t *route[] = {LOOP_A, POOL, LOOP_B};
    intptr_t bad = 0;
    for (int round = 0; round < 300; round++) {
        hop_executor_t *here = route[round % 3];
        hop_dispatch_to_executor(here);
        char out[32], in[32];
        memset(out, 'a' + round % 26, sizeof out);
        size_t done;
        if (hop_stream_write(conn, out, sizeof out, NULL) != 0 ||
            hop_stream_read_exact(conn, in, sizeof in, &done) != 0 || memcmp(in, out, sizeof in) != 0)
            bad++;
        if (hop_executor_current() != here)
            bad++; /* resumed somewhere else than it called from */
    }
    hop_dispatch_to_executor(POOL);
    hop_stream_close(conn);
    return (void *)bad;
}

Test(io_tcp, one_socket_is_used_from_its_loop_a_pool_and_another_loop) {
    listen_t l;
    listen_on(&l, "127.0.0.1");
    hop_task_t *server = test_spawn(LOOP_B, echo_server_task, &l);
    cr_assert_eq(run_task(LOOP_A, hopping_client_task, &l), 0);
    HOP_OK(hop_task_cancel(server));
    cr_assert_eq(test_join(server), HOP_ECANCELED);
}

/* ---- deadlines ------------------------------------------------------------------------ */

typedef struct {
    listen_t l;
    int accept_err, read_err, read_after, write_err, write_after;
    size_t written;
    int64_t late_read;
    hop_stream_t *peer;
    unsigned int peer_ready;
} deadline_t;

static void *deadline_accept_task(void *arg) {
    deadline_t *d = arg;
    hop_deadline_t deadline;
    hop_deadline_enter(&deadline, 30);
    hop_stream_t *conn = NULL;
    d->accept_err = hop_tcp_accept(d->l.listener, &conn);
    hop_deadline_leave(&deadline);
    /* Nothing was lost: the next accept takes the connection. */
    int err = hop_tcp_accept(d->l.listener, &d->peer);
    test_store_uint(&d->peer_ready, 1);
    return (void *)(intptr_t)err;
}

static void *deadline_client_task(void *arg) {
    deadline_t *d = arg;
    hop_sleep(60); /* after the first accept's deadline */
    hop_stream_t *conn;
    int err = hop_tcp_connect(&loop_b, "127.0.0.1", d->l.port, NULL, &conn);
    if (err)
        return (void *)(intptr_t)err;
    while (!test_load_uint(&d->peer_ready))
        hop_sleep(1);
    char buf[8];
    hop_deadline_t deadline;
    hop_deadline_enter(&deadline, 20);
    d->read_err = (int)hop_stream_read(conn, buf, sizeof buf);
    hop_deadline_leave(&deadline);
    /* Timed out; what arrives later is read normally. */
    hop_stream_write(d->peer, "late", 4, NULL);
    d->late_read = hop_stream_read(conn, buf, sizeof buf);
    /* A write the peer never reads: the deadline cuts it short, and *written
     * tells how much went. */
    size_t big = 64u << 20;
    char *data = calloc(1, big);
    hop_deadline_enter(&deadline, 200);
    d->write_err = hop_stream_write(conn, data, big, &d->written);
    hop_deadline_leave(&deadline);
    d->write_after = hop_stream_write(conn, data, 1, NULL); /* closed for writing now */
    free(data);
    hop_stream_close(conn);
    hop_stream_close(d->peer);
    return NULL;
}

Test(io_tcp, deadlines_cut_accept_read_and_write_short_and_nothing_is_lost) {
    static deadline_t d;
    listen_on(&d.l, "127.0.0.1");
    hop_task_t *acceptor = test_spawn(LOOP_A, deadline_accept_task, &d);
    cr_assert_eq(run_task(POOL, deadline_client_task, &d), 0);
    cr_assert_eq(test_join(acceptor), 0);
    cr_assert_eq(d.accept_err, HOP_ETIMEDOUT);
    cr_assert_eq(d.read_err, HOP_ETIMEDOUT);
    cr_assert_eq(d.late_read, 4);
    cr_assert_eq(d.write_err, HOP_ETIMEDOUT, "%s", hop_err_name(d.write_err));
    cr_assert_gt(d.written, 0u);
    cr_assert_lt(d.written, 64u << 20);
    cr_assert_eq(d.write_after, HOP_ECLOSED);
    run_task(POOL, close_listener_task, d.l.listener);
}

typedef struct {
    listen_t l;
    int timed_out, connected;
    hop_stream_t *conns[64];
} connect_deadline_t;

static void *connect_deadline_task(void *arg) {
    connect_deadline_t *c = arg;
    /* The listener never accepts: once its backlog is full the kernel drops
     * further SYNs and a connect waits (retrying) until its deadline. */
    for (int i = 0; i < 64 && !c->timed_out; i++) {
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, 300);
        int err = hop_tcp_connect(&loop_b, "127.0.0.1", c->l.port, NULL, &c->conns[c->connected]);
        hop_deadline_leave(&deadline);
        if (err == HOP_ETIMEDOUT)
            c->timed_out = 1;
        else if (err == 0)
            c->connected++;
        else
            return (void *)(intptr_t)err;
    }
    for (int i = 0; i < c->connected; i++)
        hop_stream_close(c->conns[i]);
    return NULL;
}

static void *listen_backlog_task(void *arg) {
    listen_t *l = arg;
    hop_tcp_listen_options_t options = {.backlog = 1};
    int err = hop_tcp_listen(&loop_a, "127.0.0.1", 0, &options, &l->listener);
    if (err)
        return (void *)(intptr_t)err;
    l->port = hop_tcp_listener_port(l->listener);
    return NULL;
}

Test(io_tcp, a_deadline_cuts_a_connect_short) {
    static connect_deadline_t c;
    cr_assert_eq(run_task(POOL, listen_backlog_task, &c.l), 0);
    cr_assert_eq(run_task(LOOP_B, connect_deadline_task, &c), 0);
    cr_assert_eq(c.timed_out, 1, "a connect timed out (after %d connected)", c.connected);
    run_task(POOL, close_listener_task, c.l.listener);
}

/* ---- faults ------------------------------------------------------------------------------ */

/* A plain-socket peer that resets the connection (SO_LINGER 0) once it has
 * read want bytes. */
typedef struct {
    int listen_fd, port;
    size_t want;
} reset_peer_t;

static void reset_peer_listen(reset_peer_t *p) {
    p->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(p->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    cr_assert_eq(listen(p->listen_fd, 4), 0);
    socklen_t len = sizeof addr;
    getsockname(p->listen_fd, (struct sockaddr *)&addr, &len);
    p->port = ntohs(addr.sin_port);
}

static void *reset_peer_thread(void *arg) {
    reset_peer_t *p = arg;
    int fd = accept(p->listen_fd, NULL, NULL);
    char buf[4096];
    size_t got = 0;
    while (got < p->want) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    struct linger linger = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, sizeof linger);
    close(fd);
    close(p->listen_fd);
    return NULL;
}

typedef struct {
    int port;
    int read_err, write_err;
} reset_client_t;

static void *reset_reader_task(void *arg) {
    reset_client_t *r = arg;
    hop_stream_t *conn;
    int err = hop_tcp_connect(&loop_b, "127.0.0.1", r->port, NULL, &conn);
    if (err)
        return (void *)(intptr_t)err;
    hop_stream_write(conn, "x", 1, NULL); /* the peer resets after this byte */
    char buf[16];
    r->read_err = (int)hop_stream_read(conn, buf, sizeof buf);
    hop_stream_close(conn);
    return NULL;
}

Test(io_tcp, a_peer_reset_during_a_read_gives_econnreset) {
    reset_peer_t p = {.want = 1};
    reset_peer_listen(&p);
    pthread_t peer;
    pthread_create(&peer, NULL, reset_peer_thread, &p);
    reset_client_t r = {.port = p.port};
    cr_assert_eq(run_task(POOL, reset_reader_task, &r), 0);
    pthread_join(peer, NULL);
    cr_assert_eq(r.read_err, HOP_ECONNRESET, "%s", hop_err_name(r.read_err));
}

static void *reset_writer_task(void *arg) {
    reset_client_t *r = arg;
    hop_stream_t *conn;
    int err = hop_tcp_connect(&loop_b, "127.0.0.1", r->port, NULL, &conn);
    if (err)
        return (void *)(intptr_t)err;
    size_t big = 64u << 20;
    char *data = calloc(1, big);
    /* The peer resets after 1 MiB: the write fails, SIGPIPE kills nobody, and
     * every later write says the same. */
    r->write_err = hop_stream_write(conn, data, big, NULL);
    int again = hop_stream_write(conn, data, 10, NULL);
    free(data);
    hop_stream_close(conn);
    return (void *)(intptr_t)(again == r->write_err ? 0 : again);
}

Test(io_tcp, a_peer_reset_during_a_write_gives_an_error_and_no_sigpipe) {
    reset_peer_t p = {.want = 1u << 20};
    reset_peer_listen(&p);
    pthread_t peer;
    pthread_create(&peer, NULL, reset_peer_thread, &p);
    reset_client_t r = {.port = p.port};
    cr_assert_eq(run_task(POOL, reset_writer_task, &r), 0, "the error sticks");
    pthread_join(peer, NULL);
    cr_assert(r.write_err == HOP_ECONNRESET || r.write_err == HOP_EPIPE, "%s", hop_err_name(r.write_err));
}

static void *connect_closed_task(void *arg) {
    int port = (int)(intptr_t)arg;
    hop_stream_t *conn;
    return (void *)(intptr_t)hop_tcp_connect(&loop_b, "127.0.0.1", port, NULL, &conn);
}

Test(io_tcp, connecting_to_a_closed_port_gives_econnrefused) {
    /* A port that was free a moment ago and that nothing listens on. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&addr, sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    close(fd);
    intptr_t err = run_task(LOOP_A, connect_closed_task, (void *)(intptr_t)ntohs(addr.sin_port));
    cr_assert_eq(err, HOP_ECONNREFUSED, "%s", hop_err_name((int)err));
}

typedef struct {
    listen_t l;
    hop_stream_t *conn;
    int read_err, accept_err;
} closing_t;

static void *closing_reader_task(void *arg) {
    closing_t *c = arg;
    char buf[8];
    c->read_err = (int)hop_stream_read(c->conn, buf, sizeof buf);
    return NULL;
}

static void *closing_accept_task(void *arg) {
    closing_t *c = arg;
    hop_stream_t *conn;
    c->accept_err = hop_tcp_accept(c->l.listener, &conn);
    return NULL;
}

static void *closing_connect_task(void *arg) {
    closing_t *c = arg;
    return (void *)(intptr_t)hop_tcp_connect(&loop_a, "127.0.0.1", c->l.port, NULL, &c->conn);
}

Test(io_tcp, closing_a_handle_under_a_waiting_task_wakes_it_with_eclosed) {
    static closing_t c;
    listen_on(&c.l, "127.0.0.1");
    hop_task_t *acceptor = test_spawn(LOOP_B, closing_accept_task, &c);
    cr_assert_eq(run_task(POOL, closing_connect_task, &c), 0);
    cr_assert_eq(test_join(acceptor), 0); /* took the connection... */
    cr_assert_eq(c.accept_err, 0);
    acceptor = test_spawn(LOOP_B, closing_accept_task, &c); /* ...and waits for another */
    hop_task_t *reader = test_spawn(POOL, closing_reader_task, &c);
    while (hop_task_state(reader) != HOP_TASK_SUSPENDED || hop_task_state(acceptor) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
    cr_assert_eq(run_task(LOOP_B, close_stream_task, c.conn), 0);
    cr_assert_eq(run_task(POOL, close_listener_task, c.l.listener), 0);
    cr_assert_eq(test_join(reader), 0);
    cr_assert_eq(test_join(acceptor), 0);
    cr_assert_eq(c.read_err, HOP_ECLOSED);
    cr_assert_eq(c.accept_err, HOP_ECLOSED);
}

static void *bad_calls_task(void *arg) {
    (void)arg;
    hop_stream_t *s = NULL;
    hop_tcp_listener_t *l = NULL;
    int bad = 0;
    bad += hop_tcp_listen(&loop_a, "not-an-address", 0, NULL, &l) != HOP_EINVAL;
    bad += hop_tcp_listen(&loop_a, "127.0.0.1", 70000, NULL, &l) != HOP_EINVAL;
    bad += hop_tcp_connect(&loop_a, NULL, 80, NULL, &s) != HOP_EINVAL;
    bad += hop_tcp_connect(&loop_a, "127.0.0.1", -1, NULL, &s) != HOP_EINVAL;
    bad += hop_stream_read(NULL, NULL, 1) != HOP_EINVAL;
    bad += hop_stream_write(NULL, "x", 1, NULL) != HOP_EINVAL;
    bad += hop_stream_open_fd(&loop_a, -1, NULL, &s) != HOP_EINVAL;
    return (void *)(intptr_t)bad;
}

Test(io_tcp, bad_arguments_get_einval_and_calls_outside_tasks_get_enottask) {
    cr_assert_eq(run_task(POOL, bad_calls_task, NULL), 0);
    hop_stream_t *s;
    hop_tcp_listener_t *l;
    HOP_ERR(hop_tcp_listen(&loop_a, "127.0.0.1", 0, NULL, &l), HOP_ENOTTASK);
    HOP_ERR(hop_tcp_connect_addr(&loop_a, (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET},
                                 NULL, &s),
            HOP_ENOTTASK);
}

/* ---- streams over other descriptors ---------------------------------------------------- */

static void *socketpair_task(void *arg) {
    int *fds = arg;
    hop_stream_t *a, *b;
    int err = hop_stream_open_fd(&loop_a, fds[0], NULL, &a);
    if (err)
        return (void *)(intptr_t)err;
    err = hop_stream_open_fd(&loop_b, fds[1], NULL, &b);
    if (err)
        return (void *)(intptr_t)err;
    char line[32];
    hop_stream_write(a, "over a unix socket\n", 19, NULL);
    int64_t n = hop_stream_read_line(b, line, sizeof line);
    hop_stream_close(a);
    int64_t end = hop_stream_read(b, line, sizeof line);
    hop_stream_close(b);
    return (void *)(intptr_t)(n == 19 && memcmp(line, "over a unix socket\n", 19) == 0 && end == 0 ? 0 : -1);
}

Test(io_tcp, a_unix_socket_pair_opened_by_descriptor_is_a_stream) {
    int fds[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    cr_assert_eq(run_task(POOL, socketpair_task, fds), 0);
}

/* ---- EMFILE ------------------------------------------------------------------------------ */

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

static int open_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 4096; fd++)
        n += fcntl(fd, F_GETFD) != -1;
    return n;
}

static int plain_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* In a child process of its own (the descriptor limit is per process). */
static void *emfile_main(void *arg) {
    (void)arg;
    hop_tcp_listener_t *listener;
    if (hop_tcp_listen(hop_loop_current(), "127.0.0.1", 0, NULL, &listener) != 0)
        return (void *)1;
    int port = hop_tcp_listener_port(listener);
    int clients[8];
    for (int i = 0; i < 8; i++)
        clients[i] = plain_connect(port); /* completed in the backlog, not accepted yet */
    /* Room for two accepted connections, no more. */
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = (rlim_t)open_fds() + 2;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0)
        return (void *)2;
    hop_stream_t *accepted[8];
    int n = 0, err = 0;
    while (n < 8) {
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, 500);
        err = hop_tcp_accept(listener, &accepted[n]);
        hop_deadline_leave(&deadline);
        if (err)
            break;
        n++;
    }
    /* Out of descriptors, accept neither spins nor fails: it waits, and its
     * deadline (a timer on this very loop) ends it, so the loop was not
     * stuck in an accept loop. */
    if (err != HOP_ETIMEDOUT || n >= 8)
        return (void *)3;
    /* With descriptors back, connections are accepted again. */
    for (int i = 0; i < n; i++)
        hop_stream_close(accepted[i]);
    for (int i = 0; i < 8; i++)
        if (clients[i] >= 0)
            close(clients[i]);
    int again = plain_connect(port);
    hop_stream_t *conn;
    hop_deadline_t deadline;
    hop_deadline_enter(&deadline, 5000);
    err = hop_tcp_accept(listener, &conn);
    hop_deadline_leave(&deadline);
    if (err)
        return (void *)4;
    hop_stream_close(conn);
    close(again);
    hop_tcp_listener_close(listener);
    return NULL;
}

Test(io_tcp, accept_out_of_descriptors_waits_without_spinning_and_recovers) {
    pid_t child = fork();
    if (child == 0) {
        alarm(60);
        void *result = (void *)99;
        hop_run(emfile_main, NULL, &result);
        _exit((int)(intptr_t)result);
    }
    int status = 0;
    waitpid(child, &status, 0);
    cr_assert(WIFEXITED(status), "the child died (signal %d)", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    cr_assert_eq(WEXITSTATUS(status), 0, "step %d failed", WEXITSTATUS(status));
}

/* ---- a burst of connections ----------------------------------------------------- */

#include <errno.h>
#include <inttypes.h>
#include <uv.h>

enum { BURST = 200 };

typedef struct {
    hop_tcp_listener_t *listener;
    hop_stream_t *accepted[BURST];
    int n;
    int err;
    uint64_t turns; /* loop turns (polls for I/O) the accepts took */
} burst_t;

static uv_check_t burst_check;
static uint64_t burst_polls;

static void burst_check_cb(uv_check_t *handle) {
    (void)handle;
    burst_polls++;
}

/* On the listener's loop: counts that loop's polls for I/O while it accepts
 * the burst, then keeps the connections open until the count is taken (a
 * close waits for libuv's callback: a turn of its own). */
static void *burst_accept_task(void *arg) {
    burst_t *b = arg;
    uv_check_init(hop_loop_uv(hop_loop_current()), &burst_check);
    uv_check_start(&burst_check, burst_check_cb);
    uint64_t before = burst_polls;
    for (b->n = 0; b->n < BURST; b->n++) {
        hop_deadline_t deadline;
        hop_deadline_enter(&deadline, 10000);
        b->err = hop_tcp_accept(b->listener, &b->accepted[b->n]);
        hop_deadline_leave(&deadline);
        if (b->err)
            break;
    }
    b->turns = burst_polls - before;
    uv_close((uv_handle_t *)&burst_check, NULL);
    for (int i = 0; i < b->n; i++)
        hop_stream_close(b->accepted[i]);
    return NULL;
}

/* A server that accepted one connection per turn of its loop would, on a
 * loop busy with other work, leave the last of a burst waiting in the
 * kernel's queue for as many turns as came before it: with 1,000 clients
 * connecting at once, seconds for some while the others are served. */
Test(io_tcp, a_burst_of_waiting_connections_is_accepted_in_a_few_loop_turns) {
    listen_t l;
    listen_on(&l, "127.0.0.1");
    static int clients[BURST];
    for (int i = 0; i < BURST; i++) { /* each completed in the backlog (511) before any accept */
        clients[i] = plain_connect(l.port);
        cr_assert_geq(clients[i], 0, "connect %d: %s", i, strerror(errno));
    }
    static burst_t b;
    b = (burst_t){.listener = l.listener};
    HOP_OK(run_task(LOOP_A, burst_accept_task, &b));
    cr_assert_eq(b.err, 0, "accept %d: %s", b.n, hop_err_name(b.err));
    cr_assert_eq(b.n, BURST);
    cr_assert_leq(b.turns, BURST / 8, "%d connections took %" PRIu64 " loop turns", BURST, b.turns);
    for (int i = 0; i < BURST; i++)
        close(clients[i]);
    HOP_OK(run_task(POOL, close_listener_task, l.listener));
}
