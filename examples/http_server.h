/* examples/http_server.h: the connection handler of examples/http_server.c
 * (keep-alive HTTP/1.1 on hop_serve, each request's blocking call offloaded
 * to the blocking pool), in a header so that tests/test_example_http.c runs
 * the same handler in-process.
 *
 * One handler per connection: it parses requests (examples/http_parse.h),
 * answers each with the hash of the work function, and ends the connection
 * on "Connection: close", on a malformed head (400, 431), at the idle
 * timeout, or at the server's shutdown: an idle connection is closed (the
 * shutdown cancels it), a request in flight is answered with
 * "Connection: close". The answer is written inside a shield, so a cancel
 * that comes while a request is being served (the grace ran out, or the
 * shutdown raced the request's arrival) does not drop it. */
#ifndef HOP_EXAMPLES_HTTP_SERVER_H
#define HOP_EXAMPLES_HTTP_SERVER_H

#include <hop/hop.h>
#include <hop/serve.h>
#include <inttypes.h>
#include <stdio.h>

#include "http_parse.h"

static http_work_config_t http_work_config = {1000, 16384};
/* Requests parsed and answers written, over all connections (atomic): a
 * shutdown drops no request when they end equal. */
static uint64_t http_requests_parsed, http_answers_sent;

typedef struct {
    uint64_t seed;
    uint64_t hash;
} job_t;

static void *run_work(void *arg) {
    job_t *job = arg;
    job->hash = http_work(&http_work_config, job->seed);
    return NULL;
}

/* Writes all of buf; returns 0 or the error. */
static int write_all(hop_stream_t *stream, const void *buf, size_t len) {
    return hop_stream_write(stream, buf, len, NULL);
}

/* Answers one request. Inside a shield: a shutdown that cancels this
 * connection now (the grace ran out, or it raced the request's arrival)
 * still lets the answer go out, within 5 s. */
static int answer(hop_serve_conn_t *conn, hop_server_t *server, int status, uint64_t seed, bool close) {
    hop_shield_t shield;
    int err = hop_shield_enter(&shield, 5000);
    if (err)
        return err;
    char body[32];
    size_t body_len = 0;
    if (status == 200) {
        job_t job = {.seed = seed};
        err = hop_run_blocking(run_work, &job, NULL);
        if (err == 0)
            body_len = (size_t)snprintf(body, sizeof body, "%016" PRIx64 "\n", job.hash);
        else
            status = 503;
    }
    /* Once the shutdown has begun, the connection ends with this answer. */
    close = close || status != 200 || hop_serve_closing(server);
    char out[256 + sizeof body];
    size_t len = http_format_head(out, 256, status, body_len, close);
    memcpy(out + len, body, body_len); /* one write: one segment */
    if (err == 0 || status == 503)
        err = write_all(hop_serve_conn_stream(conn), out, len + body_len);
    if (err == 0)
        __atomic_fetch_add(&http_answers_sent, 1u, __ATOMIC_RELAXED);
    hop_shield_exit(&shield);
    return err ? err : close ? HOP_ECLOSED : 0;
}

static int http_handle(hop_serve_conn_t *conn, void *arg) {
    (void)arg;
    hop_server_t *server = hop_serve_conn_server(conn);
    char buf[HTTP_MAX_HEAD + 4096];
    size_t used = 0;
    uint64_t requests = 0;
    for (;;) {
        http_request_t req;
        int parsed;
        while ((parsed = http_parse_request(buf, used, &req)) == HTTP_INCOMPLETE) {
            /* Idle: nothing of the next request read yet. */
            int64_t n = hop_serve_read(conn, buf + used, sizeof buf - used, used == 0);
            if (n <= 0) {
                /* EOF, the idle timeout, or the shutdown closing an idle
                 * connection: a request cut in the middle is answered. */
                if (used > 0 && n != HOP_EOF) {
                    __atomic_fetch_add(&http_requests_parsed, 1u, __ATOMIC_RELAXED);
                    (void)answer(conn, server, n == HOP_ETIMEDOUT ? 408 : 503, 0, true);
                }
                return n == HOP_EOF || n == HOP_ECLOSED || n == HOP_ECANCELED || n == HOP_ETIMEDOUT ? 0
                                                                                                    : (int)n;
            }
            used += (size_t)n;
        }
        __atomic_fetch_add(&http_requests_parsed, 1u, __ATOMIC_RELAXED);
        if (parsed != HTTP_OK) {
            (void)answer(conn, server, parsed, 0, true);
            return 0;
        }
        /* Skip a body: read what is missing of it, then drop it. */
        size_t need = req.head_len + req.content_length;
        while (used < need) {
            size_t chunk = used;
            if (used >= sizeof buf) { /* drop what is buffered beyond the head */
                need -= used - req.head_len;
                used = req.head_len;
                chunk = used;
            }
            int64_t n = hop_serve_read(conn, buf + chunk, sizeof buf - chunk, false);
            if (n <= 0)
                return 0;
            used += (size_t)n;
        }
        int err = answer(conn, server, 200, ++requests, !req.keep_alive);
        if (err)
            return err == HOP_ECLOSED ? 0 : err;
        memmove(buf, buf + need, used - need);
        used -= need;
    }
}

#endif /* HOP_EXAMPLES_HTTP_SERVER_H */
