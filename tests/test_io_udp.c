/* tests/test_io_udp.c: UDP sockets (hop/udp.h) on 127.0.0.1 and ::1: round
 * trips, truncation, datagrams that come while nobody waits, the default
 * peer, interrupts, closes (by the owner and by the loop), and recvs
 * cancelled from a plain thread at random moments with every datagram
 * accounted for. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io_tcp_fixture.h"

TestSuite(io_udp, .init = setup, .fini = teardown, .timeout = 120);

static int udp_port(hop_udp_t *u) {
    struct sockaddr_storage addr;
    int err = hop_udp_local_address(u, &addr);
    if (err)
        return err;
    return addr.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&addr)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
}

/* addr for host:port */
static void make_addr(struct sockaddr_storage *addr, const char *host, int port) {
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *in4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else {
        inet_pton(AF_INET6, host, &in6->sin6_addr);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
    }
}

/* Two sockets on host: a on loop_a, b on loop_b. */
typedef struct {
    const char *host;
    hop_udp_t *a, *b;
    struct sockaddr_storage a_addr, b_addr;
} pair_t;

static void *pair_open_task(void *arg) {
    pair_t *p = arg;
    int err = hop_udp_bind(&loop_a, p->host, 0, NULL, &p->a);
    if (!err)
        err = hop_udp_bind(&loop_b, p->host, 0, NULL, &p->b);
    if (err)
        return (void *)(intptr_t)err;
    make_addr(&p->a_addr, p->host, udp_port(p->a));
    make_addr(&p->b_addr, p->host, udp_port(p->b));
    return NULL;
}

static void pair_open(pair_t *p, const char *host) {
    memset(p, 0, sizeof *p);
    p->host = host;
    intptr_t err = run_task(POOL, pair_open_task, p);
    cr_assert_eq(err, 0, "bind on %s: %s", host, hop_err_name((int)err));
}

static void *pair_close_task(void *arg) {
    pair_t *p = arg;
    CHECK_OK(hop_udp_close(p->a));
    CHECK_OK(hop_udp_close(p->b));
    return NULL;
}

static void pair_close(pair_t *p) {
    run_task(POOL, pair_close_task, p);
    test_assert_checks();
}

/* ---- round trips -------------------------------------------------------------------- */

static void *echo_task(void *arg) {
    pair_t *p = arg;
    /* b echoes one datagram back to its sender; a sends and reads it. */
    char out[1000], in[1000], back[1000];
    fill_pattern((uint8_t *)out, sizeof out, 3);
    CHECK_OK(hop_udp_send_to(p->a, out, sizeof out, (struct sockaddr *)&p->b_addr));
    struct sockaddr_storage from;
    int64_t n = hop_udp_recv_from(p->b, in, sizeof in, &from);
    CHECK(n == (int64_t)sizeof in, "got %lld", (long long)n);
    CHECK(from.ss_family == p->a_addr.ss_family);
    CHECK_OK(hop_udp_send_to(p->b, in, (size_t)n, (struct sockaddr *)&from));
    struct sockaddr_storage from_b;
    n = hop_udp_recv_from(p->a, back, sizeof back, &from_b);
    CHECK(n == (int64_t)sizeof back && memcmp(out, back, sizeof back) == 0);
    CHECK(udp_port(p->b) == (from_b.ss_family == AF_INET
                                 ? ntohs(((struct sockaddr_in *)&from_b)->sin_port)
                                 : ntohs(((struct sockaddr_in6 *)&from_b)->sin6_port)));
    return NULL;
}

Test(io_udp, a_datagram_makes_a_round_trip_over_ipv4) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    run_task(LOOP_A, echo_task, &p);
    pair_close(&p);
}

Test(io_udp, a_datagram_makes_a_round_trip_over_ipv6) {
    static pair_t p;
    pair_open(&p, "::1");
    run_task(POOL, echo_task, &p);
    pair_close(&p);
}

static void *empty_task(void *arg) {
    pair_t *p = arg;
    char buf[8];
    CHECK_OK(hop_udp_send_to(p->a, "", 0, (struct sockaddr *)&p->b_addr));
    CHECK((int)hop_udp_recv_from(p->b, buf, sizeof buf, NULL) == 0);
    return NULL;
}

Test(io_udp, an_empty_datagram_is_received_with_length_0) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    run_task(POOL, empty_task, &p);
    pair_close(&p);
}

static void *truncate_task(void *arg) {
    pair_t *p = arg;
    char out[100], in[10];
    fill_pattern((uint8_t *)out, sizeof out, 0);
    CHECK_OK(hop_udp_send_to(p->a, out, sizeof out, (struct sockaddr *)&p->b_addr));
    CHECK_OK(hop_udp_send_to(p->a, "next", 4, (struct sockaddr *)&p->b_addr));
    struct sockaddr_storage from;
    from.ss_family = AF_UNSPEC;
    CHECK_ERR((int)hop_udp_recv_from(p->b, in, sizeof in, &from), HOP_EMSGSIZE);
    CHECK(memcmp(in, out, sizeof in) == 0, "the first bytes are there");
    CHECK(from.ss_family == AF_INET, "and the sender");
    /* The rest of the long one is gone: the next datagram is the next one. */
    CHECK((int)hop_udp_recv_from(p->b, in, sizeof in, NULL) == 4 && memcmp(in, "next", 4) == 0);
    return NULL;
}

Test(io_udp, a_datagram_longer_than_the_buffer_gives_emsgsize_and_its_first_bytes) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    run_task(LOOP_B, truncate_task, &p);
    pair_close(&p);
}

#define QUEUED 20

static void *queued_task(void *arg) {
    pair_t *p = arg;
    /* Nobody receives on b while these are sent. */
    for (uint32_t i = 0; i < QUEUED; i++)
        CHECK_OK(hop_udp_send_to(p->a, &i, sizeof i, (struct sockaddr *)&p->b_addr));
    hop_sleep(20); /* let them all arrive, still with nobody waiting */
    for (uint32_t i = 0; i < QUEUED; i++) {
        uint32_t got = ~0u;
        CHECK((int)hop_udp_recv_from(p->b, &got, sizeof got, NULL) == (int)sizeof got);
        CHECK(got == i, "datagram %u came as %u", i, got);
    }
    return NULL;
}

Test(io_udp, datagrams_that_arrive_while_nobody_waits_are_kept_in_order_for_the_next_receives) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    run_task(POOL, queued_task, &p);
    pair_close(&p);
}

static void *peer_task(void *arg) {
    pair_t *p = arg;
    char buf[8];
    CHECK_ERR(hop_udp_send_to(p->a, "x", 1, NULL), HOP_ESTATE); /* no peer yet */
    CHECK_OK(hop_udp_connect(p->a, (struct sockaddr *)&p->b_addr));
    CHECK_ERR(hop_udp_connect(p->a, (struct sockaddr *)&p->b_addr), HOP_EALREADY);
    CHECK_OK(hop_udp_send_to(p->a, "peer", 4, NULL));
    CHECK((int)hop_udp_recv_from(p->b, buf, sizeof buf, NULL) == 4 && memcmp(buf, "peer", 4) == 0);
    CHECK_ERR(hop_udp_send_to(p->a, "x", 1, (struct sockaddr *)&p->b_addr), HOP_ESTATE);
    CHECK_OK(hop_udp_connect(p->a, NULL));
    CHECK_ERR(hop_udp_connect(p->a, NULL), HOP_ESTATE);
    CHECK_OK(hop_udp_send_to(p->a, "free", 4, (struct sockaddr *)&p->b_addr));
    CHECK((int)hop_udp_recv_from(p->b, buf, sizeof buf, NULL) == 4 && memcmp(buf, "free", 4) == 0);
    return NULL;
}

Test(io_udp, a_connected_socket_sends_to_its_default_peer_without_an_address) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    run_task(POOL, peer_task, &p);
    pair_close(&p);
}

/* ---- waiting, interrupts, closes ------------------------------------------------------- */

typedef struct {
    pair_t *p;
    int64_t got;
    uint32_t value;
} waiter_t;

static void *recv_task(void *arg) {
    waiter_t *w = arg;
    w->got = hop_udp_recv_from(w->p->b, &w->value, sizeof w->value, NULL);
    return NULL;
}

static void *recv_deadline_task(void *arg) {
    waiter_t *w = arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 20));
    w->got = hop_udp_recv_from(w->p->b, &w->value, sizeof w->value, NULL);
    hop_deadline_leave(&deadline);
    return NULL;
}

static void *send_one_task(void *arg) {
    pair_t *p = arg;
    uint32_t v = 77;
    return (void *)(intptr_t)hop_udp_send_to(p->a, &v, sizeof v, (struct sockaddr *)&p->b_addr);
}

Test(io_udp, a_deadline_ends_a_receive_and_the_next_datagram_waits_for_the_next_receive) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    static waiter_t w;
    w.p = &p;
    run_task(POOL, recv_deadline_task, &w);
    cr_assert_eq(w.got, HOP_ETIMEDOUT);
    cr_assert_eq(run_task(LOOP_B, send_one_task, &p), 0);
    run_task(LOOP_B, recv_task, &w);
    cr_assert_eq(w.got, 4);
    cr_assert_eq(w.value, 77u);
    pair_close(&p);
}

Test(io_udp, a_receive_cancelled_from_a_plain_thread_takes_no_datagram) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    static waiter_t w;
    w.p = &p;
    hop_task_t *t = test_spawn(LOOP_A, recv_task, &w); /* the socket is loop_b's */
    test_wait_suspended(t);
    HOP_OK(hop_task_cancel(t));
    test_join(t); /* its status is the cancel's */
    cr_assert_eq(w.got, HOP_ECANCELED);
    cr_assert_eq(run_task(POOL, send_one_task, &p), 0);
    run_task(POOL, recv_task, &w);
    cr_assert_eq(w.got, 4);
    cr_assert_eq(w.value, 77u);
    pair_close(&p);
}

static void *second_recv_task(void *arg) {
    waiter_t *w = arg;
    uint32_t v;
    return (void *)(intptr_t)hop_udp_recv_from(w->p->b, &v, sizeof v, NULL);
}

static void *close_a_task(void *arg) {
    pair_t *p = arg;
    return (void *)(intptr_t)hop_udp_close(p->a);
}

static void *close_b_task(void *arg) {
    pair_t *p = arg;
    int first = hop_udp_close(p->b);
    return (void *)(intptr_t)first;
}

Test(io_udp, closing_a_socket_under_a_waiting_receive_wakes_it_with_eclosed) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    static waiter_t w;
    w.p = &p;
    hop_task_t *t = test_spawn(POOL, recv_task, &w);
    test_wait_suspended(t);
    cr_assert_eq(run_task(POOL, second_recv_task, &w), HOP_EBUSY, "one receiver at a time");
    cr_assert_eq(run_task(LOOP_A, close_b_task, &p), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(w.got, HOP_ECLOSED);
    cr_assert_eq(run_task(POOL, close_a_task, &p), 0);
}

static void *sender_blocked_task(void *arg) {
    pair_t *p = arg;
    /* Sends made while the kernel takes them: from a loop task and a pool
     * task at once, none lost (b reads them all below). */
    for (uint32_t i = 0; i < 50; i++)
        CHECK_OK(hop_udp_send_to(p->a, &i, sizeof i, (struct sockaddr *)&p->b_addr));
    return NULL;
}

Test(io_udp, tasks_on_two_executors_may_send_on_one_socket_at_once) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    hop_task_t *s1 = test_spawn(POOL, sender_blocked_task, &p);
    hop_task_t *s2 = test_spawn(LOOP_B, sender_blocked_task, &p);
    cr_assert_eq(test_join(s1), 0);
    cr_assert_eq(test_join(s2), 0);
    static waiter_t w;
    w.p = &p;
    unsigned int seen[50] = {0};
    for (int i = 0; i < 100; i++) {
        run_task(POOL, recv_task, &w);
        cr_assert_eq(w.got, 4);
        cr_assert_lt(w.value, 50u);
        seen[w.value]++;
    }
    for (int i = 0; i < 50; i++)
        cr_assert_eq(seen[i], 2u);
    pair_close(&p);
    test_assert_checks();
}

static void *bad_udp_calls_task(void *arg) {
    pair_t *p = arg;
    hop_udp_t *u = NULL;
    char buf[4];
    int bad = 0;
    bad += hop_udp_bind(&loop_a, "not-an-address", 0, NULL, &u) != HOP_EINVAL;
    bad += hop_udp_bind(&loop_a, "127.0.0.1", 65536, NULL, &u) != HOP_EINVAL;
    bad += hop_udp_bind(&loop_a, "127.0.0.1", 0, &(hop_udp_options_t){.ttl = 256}, &u) != HOP_EINVAL;
    bad += hop_udp_recv_from(p->a, buf, 0, NULL) != HOP_EINVAL;
    bad += hop_udp_recv_from(NULL, buf, sizeof buf, NULL) != HOP_EINVAL;
    bad += hop_udp_send_to(NULL, buf, 1, NULL) != HOP_EINVAL;
    bad += hop_udp_send_to(p->a, NULL, 1, (struct sockaddr *)&p->b_addr) != HOP_EINVAL;
    struct sockaddr_storage unix_addr = {.ss_family = AF_UNIX};
    bad += hop_udp_send_to(p->a, buf, 1, (struct sockaddr *)&unix_addr) != HOP_EINVAL;
    /* Bound by another socket already, without reuse_addr on both. */
    bad += hop_udp_bind_addr(&loop_a, (struct sockaddr *)&p->b_addr, NULL, &u) != HOP_EADDRINUSE;
    bad += u != NULL;
    return (void *)(intptr_t)bad;
}

Test(io_udp, bad_arguments_get_einval_and_calls_outside_tasks_get_enottask) {
    static pair_t p;
    pair_open(&p, "127.0.0.1");
    cr_assert_eq(run_task(POOL, bad_udp_calls_task, &p), 0);
    hop_udp_t *u;
    HOP_ERR(hop_udp_bind(&loop_a, "127.0.0.1", 0, NULL, &u), HOP_ENOTTASK);
    HOP_ERR(hop_udp_close(p.a), HOP_ENOTTASK);
    pair_close(&p);
}

static void *reuse_task(void *arg) {
    (void)arg;
    hop_udp_options_t reuse = {.reuse_addr = true};
    hop_udp_t *one, *two;
    int err = hop_udp_bind(&loop_a, "127.0.0.1", 0, &reuse, &one);
    if (err)
        return (void *)(intptr_t)err;
    err = hop_udp_bind(&loop_b, "127.0.0.1", udp_port(one), &reuse, &two);
    if (!err)
        CHECK_OK(hop_udp_close(two));
    CHECK_OK(hop_udp_close(one));
    return (void *)(intptr_t)err;
}

Test(io_udp, reuse_addr_lets_two_sockets_bind_one_port) {
    cr_assert_eq(run_task(POOL, reuse_task, NULL), 0);
    test_assert_checks();
}

/* ---- the loop closes ------------------------------------------------------------------ */

static hop_loop_t doomed;

static void *doomed_recv_task(void *arg) {
    waiter_t *w = arg;
    hop_udp_t *u;
    int err = hop_udp_bind(&doomed, "127.0.0.1", 0, NULL, &u);
    if (err)
        return (void *)(intptr_t)err;
    __atomic_store_n(&w->p->b, u, __ATOMIC_RELEASE);
    w->got = hop_udp_recv_from(u, &w->value, sizeof w->value, NULL);
    return NULL;
}

Test(io_udp, closing_the_loop_wakes_a_receive_waiting_on_its_socket_with_eclosed) {
    HOP_OK(hop_loop_init(&doomed, NULL));
    HOP_OK(hop_loop_start(&doomed));
    static pair_t p;
    static waiter_t w;
    w.p = &p;
    hop_task_t *t = test_spawn(POOL, doomed_recv_task, &w);
    test_wait_suspended(t);
    while (!__atomic_load_n(&p.b, __ATOMIC_ACQUIRE) || hop_task_state(t) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1); /* suspended in the receive, not in the bind */
    HOP_OK(hop_loop_close(&doomed));
    void *err = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &err));
    hop_task_unref(t);
    HOP_OK((int)(intptr_t)err);
    cr_assert_eq(w.got, HOP_ECLOSED);
    HOP_OK(hop_udp_close(p.b)); /* closed by the loop: this only frees it */
}

/* ---- stress: cancels from a plain thread, exact accounting -------------------------------- */

#define UDP_ROUNDS (1000 / STRESS_SCALE)
#define UDP_WINDOW 16u

typedef struct {
    pair_t p;
    uint64_t received;   /* atomic: datagrams taken, in order */
    uint64_t sent;       /* atomic */
    uint64_t mismatches; /* datagrams that were not the next of the sequence */
    unsigned int stop;   /* atomic */
    unsigned int started;
    unsigned int interrupted;
    int sender_err;
} udp_stress_t;

#define UDP_END UINT64_MAX

static void *udp_stress_sender_task(void *arg) {
    udp_stress_t *s = arg;
    uint64_t seq = 0;
    int err = 0;
    /* A window: never more than UDP_WINDOW datagrams in the kernel's
     * buffer, so the kernel drops none and every loss would be hop's. */
    while (!test_load_uint(&s->stop)) {
        if (seq - __atomic_load_n(&s->received, __ATOMIC_ACQUIRE) >= UDP_WINDOW) {
            hop_sleep(0);
            continue;
        }
        err = hop_udp_send_to(s->p.a, &seq, sizeof seq, (struct sockaddr *)&s->p.b_addr);
        if (err)
            break;
        seq++;
        __atomic_store_n(&s->sent, seq, __ATOMIC_RELEASE);
        if (seq % 3 == 0)
            hop_yield();
    }
    uint64_t end = UDP_END;
    if (!err)
        err = hop_udp_send_to(s->p.a, &end, sizeof end, (struct sockaddr *)&s->p.b_addr);
    s->sender_err = err;
    return NULL;
}

static void *udp_stress_reader_task(void *arg) {
    udp_stress_t *s = arg;
    test_store_uint(&s->started, 1);
    for (;;) {
        uint64_t seq;
        int64_t n = hop_udp_recv_from(s->p.b, &seq, sizeof seq, NULL);
        if (n == HOP_ECANCELED) {
            s->interrupted++;
            return NULL;
        }
        if (n != (int64_t)sizeof seq)
            return (void *)(intptr_t)(n < 0 ? n : -1000);
        if (seq == UDP_END)
            return (void *)1;
        uint64_t expected = __atomic_load_n(&s->received, __ATOMIC_RELAXED);
        if (seq != expected)
            s->mismatches++;
        __atomic_store_n(&s->received, expected + 1, __ATOMIC_RELEASE);
    }
}

Test(io_udp, receives_cancelled_from_a_plain_thread_at_random_moments_lose_and_duplicate_no_datagram,
     .timeout = 300) {
    static udp_stress_t s;
    pair_open(&s.p, "127.0.0.1");
    hop_task_t *sender = test_spawn(LOOP_A, udp_stress_sender_task, &s);
    hop_executor_t *executors[] = {POOL, LOOP_A, LOOP_B};
    unsigned int seed = 42;
    intptr_t end = 0;
    int round = 0;
    for (; round < UDP_ROUNDS && !end; round++) {
        test_store_uint(&s.started, 0);
        hop_task_t *reader = test_spawn(executors[round % 3], udp_stress_reader_task, &s);
        while (!test_load_uint(&s.started))
            sched_yield();
        unsigned int spin = (unsigned int)rand_r(&seed) % 20000u;
        for (volatile unsigned int i = 0; i < spin; i++)
            ;
        hop_task_cancel(reader);
        void *value = NULL;
        hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &value);
        hop_task_unref(reader);
        end = (intptr_t)value;
    }
    test_store_uint(&s.stop, 1);
    while (!end) {
        hop_task_t *reader = test_spawn(POOL, udp_stress_reader_task, &s);
        void *value = NULL;
        hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &value);
        hop_task_unref(reader);
        end = (intptr_t)value;
    }
    cr_assert_eq(test_join(sender), 0);
    cr_log_info("%d rounds, %u receives interrupted, %llu datagrams", round, s.interrupted,
                (unsigned long long)s.received);
    cr_assert_eq(end, 1, "the end came (%s)", hop_err_name((int)end));
    cr_assert_eq(round, UDP_ROUNDS, "the stream of datagrams outlasted the rounds");
    HOP_OK(s.sender_err);
    cr_assert_eq(s.received, s.sent, "every datagram once");
    cr_assert_eq(s.mismatches, 0u, "in order");
    cr_assert_gt(s.sent, 0u);
    cr_assert_gt(s.interrupted, 0u);
    pair_close(&s.p);
}
