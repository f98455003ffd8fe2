/* tests/test_io_loop_close.c: what happens to I/O handles when their loop
 * closes under them (src/io/io_internal.h, "WHEN THE LOOP CLOSES"): the
 * closing loop closes every handle still open, tasks waiting on them wake
 * with HOP_ECLOSED (so hop_loop_close does not hang on them), later calls
 * get HOP_ECLOSED, and the owner's close then only releases the memory,
 * from any thread. ASan's leak check is the proof that nothing is left. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helpers.h"

TestSuite(io_loop_close, .timeout = 120);

static hop_loop_t doomed; /* the loop each test closes under its handles */
static hop_pool_t pool;

static void setup(void) {
    HOP_OK(hop_loop_init(&doomed, NULL));
    HOP_OK(hop_loop_start(&doomed));
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
}

#define POOL hop_pool_executor(&pool)
#define DOOMED hop_loop_executor(&doomed)

/* A listener on doomed, a client connected to it and the server's side. */
typedef struct {
    hop_tcp_listener_t *listener;
    hop_stream_t *client, *server;
} conn_t;

static void *connect_task(void *arg) {
    conn_t *c = arg;
    int err = hop_tcp_listen(&doomed, "127.0.0.1", 0, NULL, &c->listener);
    if (err)
        return (void *)(intptr_t)err;
    err = hop_tcp_connect(&doomed, "127.0.0.1", hop_tcp_listener_port(c->listener), NULL, &c->client);
    if (err)
        return (void *)(intptr_t)err;
    return (void *)(intptr_t)hop_tcp_accept(c->listener, &c->server);
}

static void connect_pair(conn_t *c) {
    memset(c, 0, sizeof *c);
    hop_task_t *t = test_spawn(POOL, connect_task, c);
    void *err = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &err));
    hop_task_unref(t);
    HOP_OK((int)(intptr_t)err);
}

typedef struct {
    conn_t *c;
    int read_err, close_err;
    int64_t got;
} reader_t;

static void *read_task(void *arg) {
    reader_t *r = arg;
    char buf[16];
    r->got = hop_stream_read(r->c->server, buf, sizeof buf);
    return NULL;
}

Test(io_loop_close, closing_a_loop_wakes_its_task_waiting_on_a_read_with_eclosed) {
    setup();
    static conn_t c;
    connect_pair(&c);
    static reader_t r;
    r.c = &c;
    hop_task_t *reader = test_spawn(DOOMED, read_task, &r);
    test_wait_suspended(reader);
    HOP_OK(hop_loop_close(&doomed)); /* returns: the read was woken */
    cr_assert_eq(test_join(reader), 0);
    cr_assert_eq(r.got, HOP_ECLOSED);
    HOP_OK(hop_stream_close(c.server));
    HOP_OK(hop_stream_close(c.client));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
}

static void *accept_task(void *arg) {
    conn_t *c = arg;
    hop_stream_t *s = NULL;
    return (void *)(intptr_t)hop_tcp_accept(c->listener, &s);
}

Test(io_loop_close, closing_a_loop_wakes_a_pool_task_waiting_to_accept_on_its_listener) {
    setup();
    static conn_t c;
    connect_pair(&c);
    hop_task_t *acceptor = test_spawn(POOL, accept_task, &c);
    test_wait_suspended(acceptor);
    HOP_OK(hop_loop_close(&doomed));
    void *err = NULL;
    HOP_OK(hop_future_wait(hop_task_future(acceptor), HOP_WAIT_FOREVER, &err));
    hop_task_unref(acceptor);
    HOP_ERR((int)(intptr_t)err, HOP_ECLOSED);
    HOP_OK(hop_stream_close(c.server));
    HOP_OK(hop_stream_close(c.client));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
}

static void *calls_after_close_task(void *arg) {
    conn_t *c = arg;
    char buf[8];
    CHECK_ERR((int)hop_stream_read(c->server, buf, sizeof buf), HOP_ECLOSED);
    CHECK_ERR(hop_stream_write(c->client, "x", 1, NULL), HOP_ECLOSED);
    CHECK_ERR(hop_stream_shutdown(c->client), HOP_ECLOSED);
    CHECK_ERR(hop_tcp_listener_port(c->listener), HOP_ECLOSED);
    CHECK_ERR(hop_tcp_set_nodelay(c->client, true), HOP_ECLOSED);
    /* From a task the owner's close releases it just the same. */
    CHECK_OK(hop_stream_close(c->server));
    CHECK_OK(hop_stream_close(c->client));
    CHECK_OK(hop_tcp_listener_close(c->listener));
    return NULL;
}

Test(io_loop_close, calls_on_handles_of_a_closed_loop_get_eclosed_and_their_close_releases_them) {
    setup();
    static conn_t c;
    connect_pair(&c);
    HOP_OK(hop_loop_close(&doomed));
    hop_task_t *t = test_spawn(POOL, calls_after_close_task, &c);
    cr_assert_eq(test_join(t), 0);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

static void *read_then_close_task(void *arg) {
    reader_t *r = arg;
    char buf[16];
    r->got = hop_stream_read(r->c->server, buf, sizeof buf);
    /* Still on the closing loop: its own close of the stream finds it
     * closed by the loop and releases it. */
    r->close_err = hop_stream_close(r->c->server);
    return NULL;
}

Test(io_loop_close, a_task_of_the_closing_loop_may_close_the_handle_it_was_woken_from) {
    setup();
    static conn_t c;
    connect_pair(&c);
    static reader_t r;
    r.c = &c;
    hop_task_t *reader = test_spawn(DOOMED, read_then_close_task, &r);
    test_wait_suspended(reader);
    HOP_OK(hop_loop_close(&doomed));
    cr_assert_eq(test_join(reader), 0);
    cr_assert_eq(r.got, HOP_ECLOSED);
    HOP_OK(r.close_err);
    HOP_OK(hop_stream_close(c.client));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
}

typedef struct {
    reader_t *r;
    int fds[2];
    int64_t late_read;
    int open_err;
} late_open_t;

static void *open_while_closing_task(void *arg) {
    late_open_t *o = arg;
    char buf[16];
    o->r->got = hop_stream_read(o->r->c->server, buf, sizeof buf);
    /* The loop is closing (that is what woke the read): a stream opened on
     * it now is closed at its next turn, and a read on it ends. */
    hop_stream_t *late = NULL;
    o->open_err = hop_stream_open_fd(&doomed, o->fds[0], NULL, &late);
    if (o->open_err)
        return NULL;
    o->late_read = hop_stream_read(late, buf, sizeof buf);
    CHECK_OK(hop_stream_close(late));
    return NULL;
}

Test(io_loop_close, a_handle_opened_on_a_closing_loop_is_closed_too) {
    setup();
    static conn_t c;
    connect_pair(&c);
    static reader_t r;
    static late_open_t o;
    r.c = &c;
    o.r = &r;
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, o.fds), 0);
    hop_task_t *t = test_spawn(DOOMED, open_while_closing_task, &o);
    test_wait_suspended(t);
    HOP_OK(hop_loop_close(&doomed));
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(r.got, HOP_ECLOSED);
    HOP_OK(o.open_err);
    cr_assert_eq(o.late_read, HOP_ECLOSED);
    close(o.fds[1]);
    HOP_OK(hop_stream_close(c.server));
    HOP_OK(hop_stream_close(c.client));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

static void *close_stream_task(void *arg) { return (void *)(intptr_t)hop_stream_close(arg); }

Test(io_loop_close, a_handle_closed_by_its_owner_before_the_loop_closes_is_not_closed_again) {
    setup();
    static conn_t c;
    connect_pair(&c);
    hop_task_t *t = test_spawn(POOL, close_stream_task, c.server);
    void *err = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &err));
    hop_task_unref(t);
    HOP_OK((int)(intptr_t)err);
    HOP_OK(hop_loop_close(&doomed));
    HOP_OK(hop_stream_close(c.client));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
}

Test(io_loop_close, an_open_handle_outside_a_task_still_needs_one_to_close) {
    setup();
    static conn_t c;
    connect_pair(&c);
    HOP_ERR(hop_stream_close(c.client), HOP_ENOTTASK); /* still open: closing needs a task */
    HOP_OK(hop_loop_close(&doomed));
    HOP_OK(hop_stream_close(c.client)); /* closed by the loop: any thread releases it */
    HOP_OK(hop_stream_close(c.server));
    HOP_OK(hop_tcp_listener_close(c.listener));
    HOP_OK(hop_pool_close(&pool));
}

/* ---- stress: loop closes racing tasks that start and wait on its handles ----------- */

#if defined(__SANITIZE_THREAD__)
#define CLOSE_ROUNDS 30
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CLOSE_ROUNDS 30
#endif
#endif
#ifndef CLOSE_ROUNDS
#define CLOSE_ROUNDS 300
#endif

typedef struct {
    hop_stream_t *stream;
    hop_udp_t *udp;
    int64_t got;
} racer_t;

static void *race_read_task(void *arg) {
    racer_t *r = arg;
    char buf[8];
    r->got = hop_stream_read(r->stream, buf, sizeof buf);
    return NULL;
}

static void *race_recv_task(void *arg) {
    racer_t *r = arg;
    char buf[8];
    r->got = hop_udp_recv_from(r->udp, buf, sizeof buf, NULL);
    return NULL;
}

static void *udp_bind_task(void *arg) {
    return (void *)(intptr_t)hop_udp_bind(&doomed, "127.0.0.1", 0, NULL, (hop_udp_t **)arg);
}

Test(io_loop_close, loop_closes_at_random_moments_wake_every_waiting_task_once_with_eclosed, .timeout = 300) {
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    unsigned int seed = 7, woken_waiting = 0;
    for (int round = 0; round < CLOSE_ROUNDS; round++) {
        HOP_OK(hop_loop_init(&doomed, NULL));
        HOP_OK(hop_loop_start(&doomed));
        static conn_t c;
        connect_pair(&c);
        static hop_udp_t *udp;
        hop_task_t *b = test_spawn(POOL, udp_bind_task, &udp);
        void *err = NULL;
        HOP_OK(hop_future_wait(hop_task_future(b), HOP_WAIT_FOREVER, &err));
        hop_task_unref(b);
        HOP_OK((int)(intptr_t)err);
        /* Readers on the loop and on the pool, at whatever point of
         * starting or waiting they are when the close comes. */
        static racer_t r[3];
        r[0] = (racer_t){.stream = c.server, .got = 1};
        r[1] = (racer_t){.stream = c.client, .got = 1};
        r[2] = (racer_t){.udp = udp, .got = 1};
        hop_task_t *t[3] = {test_spawn(DOOMED, race_read_task, &r[0]), test_spawn(POOL, race_read_task, &r[1]),
                            test_spawn(round % 2 ? POOL : DOOMED, race_recv_task, &r[2])};
        if (round % 4 == 0) {
            for (int i = 0; i < 3; i++) /* every fourth round: all of them waiting */
                test_wait_suspended(t[i]);
        } else {
            unsigned int spin = (unsigned int)rand_r(&seed) % 200000u;
            for (volatile unsigned int i = 0; i < spin; i++)
                ;
        }
        for (int i = 0; i < 3; i++)
            woken_waiting += hop_task_state(t[i]) == HOP_TASK_SUSPENDED;
        HOP_OK(hop_loop_close(&doomed));
        for (int i = 0; i < 3; i++) {
            HOP_OK(hop_future_wait(hop_task_future(t[i]), HOP_WAIT_FOREVER, NULL));
            hop_task_unref(t[i]);
            cr_assert_eq(r[i].got, HOP_ECLOSED, "round %d, task %d: %s", round, i, hop_err_name((int)r[i].got));
        }
        HOP_OK(hop_udp_close(udp));
        HOP_OK(hop_stream_close(c.server));
        HOP_OK(hop_stream_close(c.client));
        HOP_OK(hop_tcp_listener_close(c.listener));
    }
    cr_log_info("%d rounds, %u tasks were waiting when the close came", CLOSE_ROUNDS, woken_waiting);
    cr_assert_geq(woken_waiting, 3u * ((CLOSE_ROUNDS + 3) / 4));
    HOP_OK(hop_pool_close(&pool));
}
