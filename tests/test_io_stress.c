/* tests/test_io_stress.c: TCP streams under load: 1,000 concurrent
 * connections each served by a task, and reads cancelled from a plain
 * thread at random moments, 10,000 times, with exact byte accounting. */
#include "io_tcp_fixture.h"

TestSuite(io_stress, .init = setup, .fini = teardown, .timeout = 600);

/* ---- 1,000 connections --------------------------------------------------------------- */

#define MANY (1000 / STRESS_SCALE)

typedef struct {
    listen_t l;
    unsigned int served, ok;
} many_t;

static void *many_conn_task(void *arg) {
    hop_stream_t *conn = arg;
    char buf[64];
    size_t done;
    if (hop_stream_read_exact(conn, buf, sizeof buf, &done) == 0)
        hop_stream_write(conn, buf, sizeof buf, NULL);
    hop_stream_close(conn);
    return NULL;
}

static void *many_server_task(void *arg) {
    many_t *m = arg;
    for (unsigned int i = 0; i < MANY; i++) {
        hop_stream_t *conn;
        int err = hop_tcp_accept(m->l.listener, &conn);
        if (err)
            return (void *)(intptr_t)err;
        hop_task_t *t;
        if (hop_task_spawn(LOOP_A, many_conn_task, conn, NULL, &t) == 0)
            hop_task_unref(t);
        test_add_uint(&m->served, 1);
    }
    return NULL;
}

static void *many_client_task(void *arg) {
    many_t *m = arg;
    hop_stream_t *conn;
    if (hop_tcp_connect(&loop_b, "127.0.0.1", m->l.port, NULL, &conn) != 0)
        return NULL;
    char out[64], in[64];
    memset(out, (int)(uintptr_t)hop_task_current() & 0x7f, sizeof out);
    size_t done;
    if (hop_stream_write(conn, out, sizeof out, NULL) == 0 &&
        hop_stream_read_exact(conn, in, sizeof in, &done) == 0 && memcmp(out, in, sizeof in) == 0)
        test_add_uint(&m->ok, 1);
    hop_stream_close(conn);
    return NULL;
}

Test(io_stress, a_thousand_concurrent_connections_each_served_by_a_task) {
    static many_t m;
    listen_on(&m.l, "127.0.0.1");
    hop_task_t *server = test_spawn(LOOP_A, many_server_task, &m);
    static hop_task_t *clients[MANY];
    hop_executor_t *executors[] = {POOL, LOOP_B};
    for (int i = 0; i < MANY; i++)
        clients[i] = test_spawn(executors[i % 2], many_client_task, &m);
    for (int i = 0; i < MANY; i++)
        cr_assert_eq(test_join(clients[i]), 0);
    cr_assert_eq(test_join(server), 0);
    cr_assert_eq(test_load_uint(&m.served), MANY);
    cr_assert_eq(test_load_uint(&m.ok), MANY, "every connection echoed");
    run_task(POOL, close_listener_task, m.l.listener);
}

/* ---- interrupts from plain threads, exact accounting ------------------------------------ */

#define CANCEL_ROUNDS (10000 / STRESS_SCALE)

typedef struct {
    listen_t l;
    hop_stream_t *conn;  /* the client's */
    uint64_t received;   /* bytes read by all the readers, in order */
    uint64_t mismatches; /* bytes that were not the next of the sequence */
    unsigned int seed;
    int sender_err;
    uint64_t sent;
    unsigned int stop;        /* atomic: the rounds are over, the sender ends */
    unsigned int started;     /* atomic: the round's reader is running */
    unsigned int interrupted; /* rounds whose read the cancel cut short */
} cancel_t;

static void *cancel_sender_task(void *arg) {
    cancel_t *c = arg;
    hop_stream_t *conn;
    int err = hop_tcp_accept(c->l.listener, &conn);
    if (err)
        return (void *)(intptr_t)err;
    /* A trickle: small writes with a yield between, so that readers often
     * find nothing and wait, and cancels meet waiting reads. */
    static __thread uint8_t chunk[512];
    unsigned int seed = 7;
    uint64_t sent = 0;
    while (!test_load_uint(&c->stop)) {
        size_t n = 1 + (size_t)rand_r(&seed) % sizeof chunk;
        fill_pattern(chunk, n, sent);
        err = hop_stream_write(conn, chunk, n, NULL);
        if (err)
            break;
        sent += n;
        if (rand_r(&seed) % 4 == 0)
            hop_sleep(0);
        else
            hop_yield();
    }
    c->sender_err = err;
    c->sent = sent;
    hop_stream_close(conn);
    return NULL;
}

static void *cancel_reader_task(void *arg) {
    cancel_t *c = arg;
    uint8_t buf[300];
    test_store_uint(&c->started, 1);
    for (;;) {
        int64_t n = hop_stream_read(c->conn, buf, 1 + (size_t)(c->received % sizeof buf));
        if (n == HOP_ECANCELED) {
            c->interrupted++;
            return NULL;
        }
        if (n <= 0)
            return (void *)(intptr_t)(n == 0 ? 1 : n); /* 1: the end */
        for (int64_t i = 0; i < n; i++)
            if (buf[i] != pattern_byte(c->received + (uint64_t)i))
                c->mismatches++;
        c->received += (uint64_t)n;
    }
}

static void *connect_task(void *arg) {
    cancel_t *c = arg;
    return (void *)(intptr_t)hop_tcp_connect(&loop_a, "127.0.0.1", c->l.port, NULL, &c->conn);
}

Test(io_stress, cancels_from_a_plain_thread_at_random_moments_lose_and_duplicate_no_byte, .timeout = 600) {
    static cancel_t c;
    listen_on(&c.l, "127.0.0.1");
    c.seed = 42;
    hop_task_t *sender = test_spawn(LOOP_A, cancel_sender_task, &c);
    cr_assert_eq(run_task(POOL, connect_task, &c), 0);
    hop_executor_t *executors[] = {POOL, LOOP_B, LOOP_A};
    int round = 0;
    intptr_t end = 0;
    for (; round < CANCEL_ROUNDS; round++) {
        test_store_uint(&c.started, 0);
        hop_task_t *reader = test_spawn(executors[round % 3], cancel_reader_task, &c);
        /* This thread is the canceller: once the reader runs, a random
         * pause, then the cancel, at whatever point the reader is (copying,
         * starting a wait, waiting, being woken). */
        while (!test_load_uint(&c.started))
            sched_yield();
        unsigned int spin = (unsigned int)rand_r(&c.seed) % 20000u;
        for (volatile unsigned int i = 0; i < spin; i++)
            ;
        hop_task_cancel(reader);
        void *value = NULL;
        hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &value);
        hop_task_unref(reader);
        end = (intptr_t)value;
        if (end)
            break; /* the stream ended (or failed) before the rounds did */
    }
    /* The rest, without interruptions. */
    test_store_uint(&c.stop, 1);
    while (!end) {
        hop_task_t *reader = test_spawn(POOL, cancel_reader_task, &c);
        void *value = NULL;
        hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &value);
        hop_task_unref(reader);
        end = (intptr_t)value;
    }
    cr_assert_eq(test_join(sender), 0);
    cr_log_info("%d rounds, %u reads interrupted", round, c.interrupted);
    cr_assert_eq(end, 1, "the stream ended cleanly (%s)", hop_err_name((int)end));
    cr_assert_eq(c.sender_err, 0);
    cr_assert_eq(c.received, c.sent, "every byte once (%llu sent)", (unsigned long long)c.sent);
    cr_assert_eq(c.mismatches, 0u, "in order");
    cr_assert_eq(round, CANCEL_ROUNDS, "the stream outlasted the rounds");
    cr_assert_gt(c.sent, 0u);
    cr_assert_gt(c.interrupted, 0u);
    run_task(POOL, close_stream_task, c.conn);
    run_task(POOL, close_listener_task, c.l.listener);
}
