/* tests/test_example_http.c: the HTTP request parser shared by
 * examples/http_server.c and its libuv twin (examples/http_parse.h): what it
 * accepts, and the malformed (400) and oversized (431) heads it refuses; and
 * the example's handler (examples/http_server.h) on hop_serve, shut down
 * with requests in flight. */
#include "../examples/http_server.h"
#include "helpers.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

TestSuite(example_http, .timeout = 120);

static int parse(const char *text, http_request_t *req) {
    return http_parse_request(text, strlen(text), req);
}

Test(example_http, a_complete_keep_alive_request_is_parsed_with_its_head_length) {
    http_request_t req;
    const char *text = "GET /hash?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\nGET / HTTP/1.1\r\n";
    cr_assert_eq(parse(text, &req), HTTP_OK);
    cr_assert_str_eq(req.method, "GET");
    cr_assert_str_eq(req.target, "/hash?x=1");
    cr_assert_eq(req.minor, 1);
    cr_assert(req.keep_alive);
    cr_assert_eq(req.content_length, 0);
    cr_assert_eq(req.head_len, strlen("GET /hash?x=1 HTTP/1.1\r\nHost: a\r\nUser-Agent: t\r\n\r\n"));
}

Test(example_http, connection_headers_and_the_version_decide_keep_alive) {
    http_request_t req;
    cr_assert_eq(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &req), HTTP_OK);
    cr_assert(!req.keep_alive);
    cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n", &req), HTTP_OK);
    cr_assert(!req.keep_alive);
    cr_assert_eq(parse("GET / HTTP/1.0\r\nconnection: Keep-Alive\r\n\r\n", &req), HTTP_OK);
    cr_assert(req.keep_alive);
}

Test(example_http, a_body_is_announced_by_content_length) {
    http_request_t req;
    cr_assert_eq(parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", &req), HTTP_OK);
    cr_assert_eq(req.content_length, 5);
    cr_assert_eq(parse("POST /x HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", &req), HTTP_OK);
}

Test(example_http, a_head_cut_anywhere_is_incomplete_not_an_error) {
    const char *text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    http_request_t req;
    for (size_t len = 0; len < strlen(text); len++)
        cr_assert_eq(http_parse_request(text, len, &req), HTTP_INCOMPLETE, "cut at %zu", len);
}

Test(example_http, malformed_heads_are_refused_with_400) {
    static const char *const bad[] = {
        "GET / HTTP/1.1\nHost: a\n\n",                                       /* bare LF */
        "GET  / HTTP/1.1\r\n\r\n",                                           /* two spaces */
        "GET /\r\n\r\n",                                                     /* no version */
        "GET / HTTP/2.0\r\n\r\n",                                            /* not HTTP/1.x */
        "GET / HTTP/1.1 \r\n\r\n",                                           /* trailing space */
        "G@T / HTTP/1.1\r\n\r\n",                                            /* not a token */
        "\r\nGET / HTTP/1.1\r\n\r\n",                                        /* no method */
        "GET / HTTP/1.1\r\nHost a\r\n\r\n",                                  /* no colon */
        "GET / HTTP/1.1\r\nHost : a\r\n\r\n",                                /* space before the colon */
        "GET / HTTP/1.1\r\nX: a\r\n  folded\r\n\r\n",                        /* obsolete folding */
        "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",                                /* a control character */
        "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",                     /* not a number */
        "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",                       /* empty */
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", /* conflicting */
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",   /* overflow */
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",             /* unsupported */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        http_request_t req;
        cr_assert_eq(parse(bad[i], &req), HTTP_BAD, "case %zu: %s", i, bad[i]);
    }
}

Test(example_http, a_head_longer_than_the_limit_is_refused_with_431) {
    static char text[HTTP_MAX_HEAD * 2];
    size_t n = (size_t)snprintf(text, sizeof text, "GET / HTTP/1.1\r\n");
    while (n < HTTP_MAX_HEAD + 100)
        n += (size_t)snprintf(text + n, sizeof text - n, "X-Filler: %s\r\n",
                              "0123456789abcdef0123456789abcdef");
    http_request_t req;
    /* Refused as soon as the limit is passed, finished or not. */
    cr_assert_eq(http_parse_request(text, n, &req), HTTP_TOO_LARGE);
    snprintf(text + n, sizeof text - n, "\r\n");
    cr_assert_eq(parse(text, &req), HTTP_TOO_LARGE);
    /* Just under the limit is fine. */
    n = (size_t)snprintf(text, sizeof text, "GET / HTTP/1.1\r\nX: ");
    while (n < HTTP_MAX_HEAD - 4)
        text[n++] = 'a';
    memcpy(text + n, "\r\n\r\n", 5);
    cr_assert_eq(parse(text, &req), HTTP_OK);
}

Test(example_http, the_work_function_is_deterministic_and_depends_on_its_seed) {
    http_work_config_t config = {.sleep_us = 0, .hash_bytes = 16384};
    cr_assert_eq(http_work(&config, 1), http_work(&config, 1));
    cr_assert_neq(http_work(&config, 1), http_work(&config, 2));
}

/* ---- the server, shut down with requests in flight ------------------------ */

enum { LOOPS = 2 };
#ifdef UNDER_TSAN
enum { CLIENTS = 8 };
#else
enum { CLIENTS = 32 };
#endif

static hop_loop_t loops[LOOPS + 1]; /* the last one runs the clients */

typedef struct {
    int port;
    unsigned int answered;   /* responses received */
    unsigned int closes;     /* ...of which said "Connection: close" */
    unsigned int unanswered; /* requests sent that got no response */
    int end;                 /* how the connection ended */
} http_client_t;

static unsigned int total_answered;  /* atomic, over all clients */
static unsigned int total_connects;  /* atomic: clients whose connect has returned */

/* Keep-alive requests one after another until the server ends the
 * connection. */
static void *http_client(void *arg) {
    http_client_t *c = arg;
    hop_stream_t *s;
    int err = hop_tcp_connect(NULL, "127.0.0.1", c->port, NULL, &s);
    CHECK(err == 0, "connect: %s", hop_err_name(err));
    __atomic_fetch_add(&total_connects, 1u, __ATOMIC_RELEASE);
    if (err) {
        c->end = err;
        return NULL;
    }
    char reply[512];
    for (;;) {
        static const char request[] = "GET /work HTTP/1.1\r\nHost: test\r\n\r\n";
        err = hop_stream_write(s, request, sizeof request - 1, NULL);
        if (err) { /* the server closed the idle connection first */
            c->unanswered++;
            c->end = err;
            break;
        }
        /* A response is one segment: its head, then a 17-byte body. */
        int64_t n = hop_stream_read_until(s, '\n', reply, sizeof reply);
        bool close = false;
        while (n > 2) {
            if (strncmp(reply, "Connection: close", 17) == 0)
                close = true;
            n = hop_stream_read_until(s, '\n', reply, sizeof reply);
        }
        if (n != 2) { /* no blank line: no response */
            c->unanswered++;
            c->end = (int)n;
            break;
        }
        n = hop_stream_read_until(s, '\n', reply, sizeof reply); /* the body */
        CHECK(n == 17, "body: %lld", (long long)n);
        c->answered++;
        __atomic_fetch_add(&total_answered, 1u, __ATOMIC_RELEASE);
        if (close) {
            c->closes++;
            c->end = 0;
            break;
        }
    }
    hop_stream_close(s);
    return NULL;
}

typedef struct {
    hop_server_t *server;
    int status;
} http_server_op_t;

static void *start_http(void *arg) {
    http_server_op_t *op = arg;
    hop_loop_t *ptrs[LOOPS] = {&loops[0], &loops[1]};
    op->status = hop_serve_start(ptrs, LOOPS, "127.0.0.1", 0, http_handle, NULL, NULL, &op->server);
    return NULL;
}

static void *stop_http(void *arg) {
    http_server_op_t *op = arg;
    op->status = hop_serve_shutdown(op->server, 10000);
    return NULL;
}

Test(example_http, a_shutdown_with_requests_in_flight_answers_every_request_it_read) {
    for (int i = 0; i <= LOOPS; i++) {
        HOP_OK(hop_loop_init(&loops[i], NULL));
        HOP_OK(hop_loop_start(&loops[i]));
    }
    http_work_config.sleep_us = 2000; /* in flight long enough to be caught */
    http_server_op_t op = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[LOOPS]), start_http, &op, NULL, &t));
    HOP_OK(test_join(t));
    HOP_OK(op.status);
    static http_client_t clients[CLIENTS];
    hop_task_t *tasks[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        clients[i] = (http_client_t){.port = hop_serve_port(op.server)};
        HOP_OK(hop_task_spawn(hop_loop_executor(&loops[LOOPS]), http_client, &clients[i], NULL, &tasks[i]));
    }
    /* Every client connected (a connect still under way when the listeners
     * close is refused: not what this test is about), and requests flowing. */
    test_wait_for(&total_connects, CLIENTS);
    test_wait_for(&total_answered, CLIENTS * 4u);
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[LOOPS]), stop_http, &op, NULL, &t));
    HOP_OK(test_join(t));
    cr_assert_eq(op.status, 0, "shutdown: %s", hop_err_name(op.status));
    unsigned int answered = 0, closes = 0, unanswered = 0;
    for (int i = 0; i < CLIENTS; i++) {
        HOP_OK(test_join(tasks[i]));
        answered += clients[i].answered;
        closes += clients[i].closes;
        unanswered += clients[i].unanswered;
    }
    test_assert_checks();
    /* Every request the server read was answered, and every answer arrived;
     * a request the server never read (sent to an idle connection as the
     * shutdown closed it) is the only kind that may go unanswered. */
    uint64_t parsed = __atomic_load_n(&http_requests_parsed, __ATOMIC_RELAXED);
    uint64_t sent = __atomic_load_n(&http_answers_sent, __ATOMIC_RELAXED);
    cr_assert_eq(parsed, sent, "%llu requests read, %llu answered", (unsigned long long)parsed,
                 (unsigned long long)sent);
    cr_assert_eq(answered, sent, "%u answers received, %llu sent", answered, (unsigned long long)sent);
    cr_assert_eq(closes + unanswered, CLIENTS, "every connection ended with Connection: close or while idle");
    for (int i = 0; i <= LOOPS; i++)
        HOP_OK(hop_loop_close(&loops[i]));
    HOP_OK(hop_blocking_default_shutdown()); /* joins its threads */
}
