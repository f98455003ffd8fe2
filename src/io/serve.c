/* src/io/serve.c: hop_serve, a task per connection on every loop, built on
 * TCP listeners with SO_REUSEPORT, a semaphore for the connection limit, and
 * a nursery for the handlers.
 *
 * Each connection has a record on the server's list (under its spin lock)
 * from accept until its handler has returned, so that the shutdown can find
 * the handlers waiting between requests (idle) and cancel them. The idle
 * flag and the server's closing flag are a pair: a reader sets idle and then
 * reads closing; the shutdown sets closing and then reads idle (both full
 * barriers), so either the reader sees the shutdown and returns HOP_ECLOSED,
 * or the shutdown sees the reader idle and cancels it. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types; F_DUPFD_CLOEXEC */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/task_internal.h"
#include "hop/nursery.h"
#include "hop/semaphore.h"
#include "hop/serve.h"
#include "hop/tcp.h"
#include "io/stream_internal.h"
#include "time/timer_internal.h"

typedef struct hop__acceptor_s {
    hop_server_t *server;
    hop_loop_t *loop;
    hop_tcp_listener_t *listener;
    hop_task_t *task;
    unsigned int closed; /* the acceptor closed its listener (atomic) */
} hop__acceptor_t;

struct hop_serve_conn_s {
    hop_serve_conn_t *prev, *next;
    hop_server_t *server;
    hop_stream_t *stream; /* NULL until the handler opens fd (round robin) */
    int fd;               /* a connection accepted on another loop; -1: none */
    hop_task_t *task;  /* the handler's, once it runs (a reference) */
    unsigned int idle; /* atomic */
    uint64_t request_deadline_ns;
    /* The watchdog (hop_serve_read): touched only on the thread whose clock
     * it waits on, where its callback runs too. */
    hop_timer_t watchdog;
    uint64_t watchdog_due_ns;
    hop_task_t *reader;          /* the task in a watched read, or NULL */
    unsigned int *reader_domain; /* its time-limit domain (hop__task_expire) */
    bool reader_expired;         /* the watchdog interrupted that read */
};

struct hop_server_s {
    hop_serve_handler_fn handler;
    void *arg;
    int64_t idle_timeout_ms; /* -1: none */
    size_t stack_size;
    size_t read_buffer;
    int port;
    unsigned int nloops;
    unsigned int nacceptors; /* nloops, or 1 (round robin) */
    hop_loop_t **loops;      /* round robin: where handlers go, in turn */
    unsigned int next_loop;  /* round robin: the first acceptor's task only */
    hop__acceptor_t *acceptors;
    hop_nursery_t handlers;
    hop_semaphore_t slots;
    unsigned int lock;
    hop_serve_conn_t *conns;
    unsigned int closing; /* atomic */
    uint64_t accepted;    /* atomic */
    uint64_t refused;     /* atomic */
    uint64_t active;      /* atomic: handlers holding a place */
    uint64_t peak;        /* atomic: the most at once */
    uint64_t timed_out;   /* atomic */
};

static void hop__server_lock(hop_server_t *s) {
    for (;;) {
        if (hop__atomic_cas_uint(&s->lock, 0u, 1u))
            return;
        while (hop__atomic_load_uint(&s->lock) != 0u)
            hop__atomic_pause();
    }
}

static void hop__server_unlock(hop_server_t *s) {
    hop__atomic_fence_release();
    hop__atomic_store_uint(&s->lock, 0u);
}

static void hop__conn_unlink(hop_server_t *s, hop_serve_conn_t *c) {
    hop__server_lock(s);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    hop__server_unlock(s);
}

static void hop__conn_refuse(hop_server_t *s, hop_stream_t *stream);

/* The handler's task. */
static int hop__conn_main(void *arg, void **result) {
    (void)result;
    hop_serve_conn_t *c = arg;
    hop_server_t *s = c->server;
    if (!c->stream) { /* accepted on another loop: open it on this one */
        hop_stream_options_t options = {.read_buffer = s->read_buffer};
        int err = hop_stream_open_fd(NULL, c->fd, &options, &c->stream);
        if (err) {
            close(c->fd);
            hop__conn_unlink(s, c);
            free(c);
            hop__conn_refuse(s, NULL);
            return 0;
        }
    }
    hop__server_lock(s);
    c->task = hop_task_ref(hop_task_current());
    hop__server_unlock(s);
    int status = s->handler(c, s->arg);
    hop_timer_stop(&c->watchdog); /* waits for a callback running elsewhere */
    hop_stream_close(c->stream); /* not interruptible: closes even when cancelled */
    hop__conn_unlink(s, c);
    hop_task_unref(c->task);
    free(c);
    /* Counted here, with the place, not by the nursery: the place goes to
     * the next connection before this task has quite finished. */
    hop__atomic_faa_u64(&s->active, UINT64_MAX); /* minus one */
    hop_semaphore_release(&s->slots);
    return status;
}

/* Closes a connection no handler will serve. */
static void hop__conn_refuse(hop_server_t *s, hop_stream_t *stream) {
    if (stream)
        hop_stream_close(stream);
    hop__atomic_faa_u64(&s->refused, 1u);
    hop__atomic_faa_u64(&s->active, UINT64_MAX); /* minus one */
    hop_semaphore_release(&s->slots);
}

/* Starts the handler of a connection on loop: either stream (accepted there)
 * or fd (accepted on another loop; the handler opens it). */
static void hop__conn_start(hop_server_t *s, hop_loop_t *loop, hop_stream_t *stream, int fd) {
    hop_serve_conn_t *c = hop__calloc(1, sizeof *c);
    if (!c) {
        if (fd >= 0)
            close(fd);
        hop__conn_refuse(s, stream);
        return;
    }
    c->server = s;
    c->stream = stream;
    c->fd = fd;
    hop__server_lock(s);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    hop__server_unlock(s);
    hop_task_options_t options = {.name = "hop-conn", .stack_size = s->stack_size};
    int err = hop_nursery_spawn(&s->handlers, hop_loop_executor(loop), hop__conn_main, c, &options, NULL);
    if (err) { /* HOP_ECLOSED (shutting down), HOP_ENOMEM */
        hop__conn_unlink(s, c);
        free(c);
        if (fd >= 0)
            close(fd);
        hop__conn_refuse(s, stream);
    }
}

/* Round robin: the next loop in turn gets the connection. One accepted
 * elsewhere travels as a descriptor: a uv handle belongs to its loop, so the
 * socket is duplicated and the accepting loop's handle closed (it never
 * read, so nothing was taken from the socket nor registered with epoll). */
static void hop__conn_dispatch(hop__acceptor_t *a, hop_stream_t *stream) {
    hop_server_t *s = a->server;
    if (!s->loops) {
        hop__conn_start(s, a->loop, stream, -1);
        return;
    }
    hop_loop_t *loop = s->loops[s->next_loop];
    s->next_loop = (s->next_loop + 1u) % s->nloops;
    if (loop == a->loop) {
        hop__conn_start(s, loop, stream, -1);
        return;
    }
    uv_os_fd_t fd;
    int moved = uv_fileno(&stream->uv.handle, &fd) == 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (moved < 0) {
        hop__conn_refuse(s, stream);
        return;
    }
    hop_stream_close(stream);
    hop__conn_start(s, loop, NULL, moved);
}

static void *hop__acceptor_main(void *arg) {
    hop__acceptor_t *a = arg;
    hop_server_t *s = a->server;
    for (;;) {
        /* The connection first, then a place. The other order let an
         * acceptor hold a place while its own listener had nothing to accept
         * (each SO_REUSEPORT listener has its own backlog), so connections
         * queued on another loop's listener could wait for ever with the
         * server below its limit. This way only handlers hold places, and at
         * the limit each acceptor holds at most one accepted connection;
         * the rest wait in its listener's queue (hop_tcp_accept's, up to
         * 256) and then in the kernel's backlog. */
        hop_stream_t *stream;
        int err = hop_tcp_accept(a->listener, &stream);
        if (err) {
            if (err == HOP_ECANCELED || err == HOP_ECLOSED || err == HOP_ETIMEDOUT)
                break;
            /* HOP_ENOMEM and the like: try again a little later, not in a
             * spin. Short of memory even for the sleep's timer, the acceptor
             * must not end (the server would never accept again): it yields
             * to the loop's other work and tries again. Only a cancel (the
             * shutdown) ends it. */
            int slept = hop_sleep(10);
            if (slept == HOP_ENOMEM)
                slept = hop_yield();
            if (slept != 0)
                break;
            continue;
        }
        hop__atomic_faa_u64(&s->accepted, 1u);
        if (hop_semaphore_acquire(&s->slots) != 0) { /* cancelled: shutting down */
            hop_stream_close(stream);
            hop__atomic_faa_u64(&s->refused, 1u);
            break;
        }
        uint64_t active = hop__atomic_faa_u64(&s->active, 1u) + 1u;
        for (uint64_t peak = hop__atomic_load_u64(&s->peak); active > peak;
             peak = hop__atomic_load_u64(&s->peak))
            if (hop__atomic_cas_u64(&s->peak, peak, active))
                break;
        /* Answers go out at once: with Nagle's algorithm a response written
         * in two parts waits for the client's delayed ACK (40 ms). */
        (void)hop_tcp_set_nodelay(stream, true);
        hop__conn_dispatch(a, stream);
    }
    hop_tcp_listener_close(a->listener);
    hop__atomic_store_uint(&a->closed, 1u);
    return NULL;
}

static void hop__server_free(hop_server_t *s) {
    hop_semaphore_destroy(&s->slots);
    hop_nursery_destroy(&s->handlers);
    free(s->acceptors);
    free(s->loops);
    free(s);
}

/* Stops the acceptors (cancels and joins them, shielded from a cancel of
 * the caller) and closes the listeners they did not. */
static void hop__server_stop_accepting(hop_server_t *s, unsigned int n) {
    for (unsigned int i = 0; i < n; i++)
        hop_task_cancel(s->acceptors[i].task);
    hop_shield_t shield;
    bool shielded = hop_shield_enter(&shield, INT64_MAX) == 0;
    for (unsigned int i = 0; i < n; i++) {
        hop__acceptor_t *a = &s->acceptors[i];
        hop_future_await(hop_task_future(a->task), NULL);
        hop_task_unref(a->task);
        if (!hop__atomic_load_uint(&a->closed)) /* cancelled before it ran */
            hop_tcp_listener_close(a->listener);
    }
    if (shielded)
        hop_shield_exit(&shield);
}

int hop_serve_start(hop_loop_t *const *loops, unsigned int nloops, const char *host, int port,
                    hop_serve_handler_fn handler, void *arg, const hop_serve_options_t *options,
                    hop_server_t **server) {
    static const hop_serve_options_t defaults = {0};
    if (server)
        *server = NULL;
    if (!loops || nloops == 0 || !handler || !server)
        return HOP_EINVAL;
    if (!options)
        options = &defaults;
    if (options->idle_timeout_ms < 0 && options->idle_timeout_ms != HOP_WAIT_FOREVER)
        return HOP_EINVAL;
    if (options->balance != HOP_SERVE_BALANCE_REUSEPORT && options->balance != HOP_SERVE_BALANCE_ROUND_ROBIN)
        return HOP_EINVAL;
    for (unsigned int i = 0; i < nloops; i++)
        if (!loops[i])
            return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    bool round_robin = options->balance == HOP_SERVE_BALANCE_ROUND_ROBIN && nloops > 1;
    unsigned int nacceptors = round_robin ? 1u : nloops;
    hop_server_t *s = hop__calloc(1, sizeof *s);
    hop__acceptor_t *acceptors = hop__calloc(nacceptors, sizeof *acceptors);
    hop_loop_t **spread = round_robin ? hop__malloc(nloops * sizeof *spread) : NULL;
    if (!s || !acceptors || (round_robin && !spread)) {
        free(s);
        free(acceptors);
        free(spread);
        return HOP_ENOMEM;
    }
    if (spread)
        memcpy(spread, loops, nloops * sizeof *spread);
    s->loops = spread;
    s->nacceptors = nacceptors;
    s->read_buffer = options->read_buffer;
    s->handler = handler;
    s->arg = arg;
    s->idle_timeout_ms =
        options->idle_timeout_ms == 0 ? HOP_SERVE_IDLE_TIMEOUT_MS_DEFAULT : options->idle_timeout_ms;
    s->stack_size = options->stack_size;
    s->nloops = nloops;
    s->acceptors = acceptors;
    unsigned int max =
        options->max_connections ? options->max_connections : HOP_SERVE_MAX_CONNECTIONS_DEFAULT;
    int err = hop_semaphore_init(&s->slots, max, max);
    if (!err)
        err = hop_nursery_init(&s->handlers);
    if (err) {
        free(spread);
        free(acceptors);
        free(s);
        return err;
    }
    hop_tcp_listen_options_t listen_options = {
        .backlog = options->backlog, .reuse_port = !round_robin, .stream = {.read_buffer = options->read_buffer}};
    unsigned int listening = 0;
    for (; listening < nacceptors; listening++) {
        err = hop_tcp_listen(loops[listening], host, listening == 0 ? port : s->port, &listen_options,
                             &acceptors[listening].listener);
        if (err)
            break;
        if (listening == 0) {
            s->port = hop_tcp_listener_port(acceptors[0].listener);
            if (s->port < 0) {
                err = s->port;
                hop_tcp_listener_close(acceptors[0].listener);
                break;
            }
        }
    }
    if (err) {
        for (unsigned int i = 0; i < listening; i++)
            hop_tcp_listener_close(acceptors[i].listener);
        hop__server_free(s);
        return err;
    }
    unsigned int started = 0;
    for (; started < nacceptors; started++) {
        hop__acceptor_t *a = &acceptors[started];
        a->server = s;
        a->loop = loops[started];
        hop_task_options_t task_options = {.name = "hop-acceptor"};
        err = hop_task_spawn(hop_loop_executor(a->loop), hop__acceptor_main, a, &task_options, &a->task);
        if (err)
            break;
    }
    if (err) {
        hop__server_stop_accepting(s, started);
        for (unsigned int i = started; i < nacceptors; i++)
            hop_tcp_listener_close(acceptors[i].listener);
        hop__server_free(s);
        return err;
    }
    *server = s;
    return 0;
}

int hop_serve_port(const hop_server_t *server) { return server ? server->port : HOP_EINVAL; }

bool hop_serve_closing(const hop_server_t *server) {
    return server && hop__atomic_load_uint((unsigned int *)&server->closing) != 0;
}

int hop_serve_stats(const hop_server_t *server, hop_serve_stats_t *stats) {
    if (!server || !stats)
        return HOP_EINVAL;
    hop_nursery_stats_t n;
    hop_nursery_stats(&server->handlers, &n);
    stats->accepted = hop__atomic_load_u64((uint64_t *)&server->accepted);
    stats->refused = hop__atomic_load_u64((uint64_t *)&server->refused);
    stats->timed_out = hop__atomic_load_u64((uint64_t *)&server->timed_out);
    stats->active = hop__atomic_load_u64((uint64_t *)&server->active);
    stats->peak = hop__atomic_load_u64((uint64_t *)&server->peak);
    stats->failed = n.failed;
    return 0;
}

/* Cancels the handlers waiting between requests. */
static void hop__server_cancel_idle(hop_server_t *s) {
    hop__server_lock(s);
    size_t n = 0;
    for (hop_serve_conn_t *c = s->conns; c; c = c->next)
        n++;
    hop_task_t **idle = n ? hop__malloc(n * sizeof *idle) : NULL;
    size_t count = 0;
    if (idle)
        for (hop_serve_conn_t *c = s->conns; c; c = c->next)
            if (c->task && hop__atomic_load_uint(&c->idle))
                idle[count++] = hop_task_ref(c->task);
    hop__server_unlock(s);
    /* Without memory for the list they are cancelled after the grace. */
    for (size_t i = 0; i < count; i++) {
        hop_task_cancel(idle[i]);
        hop_task_unref(idle[i]);
    }
    free(idle);
}

/* Whether self is one of s's handlers, whose shutdown would wait for itself
 * (and free the server under the other handlers). O(connections), once. */
static bool hop__server_is_handler(hop_server_t *s, hop_task_t *self) {
    bool found = false;
    hop__server_lock(s);
    for (hop_serve_conn_t *c = s->conns; c && !found; c = c->next)
        found = c->task == self;
    hop__server_unlock(s);
    return found;
}

int hop_serve_shutdown(hop_server_t *server, int64_t grace_ms) {
    if (!server || grace_ms < 0)
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    if (hop__server_is_handler(server, self))
        return HOP_EDEADLK;
    hop_server_t *s = server;
    hop__atomic_fas_uint(&s->closing, 1u); /* a full barrier, paired with hop_serve_read's */
    hop_nursery_close(&s->handlers);
    hop__server_stop_accepting(s, s->nacceptors);
    hop__server_cancel_idle(s);
    int status = hop_nursery_shutdown(&s->handlers, grace_ms);
    hop__server_free(s);
    return status;
}

hop_stream_t *hop_serve_conn_stream(hop_serve_conn_t *conn) { return conn ? conn->stream : NULL; }

hop_server_t *hop_serve_conn_server(hop_serve_conn_t *conn) { return conn ? conn->server : NULL; }

/* ns in whole milliseconds, rounded up: a timer started with it never fires
 * before. */
static int64_t hop__ms_until(uint64_t ns) { return (int64_t)(ns / 1000000u + (ns % 1000000u != 0)); }

/* The watchdog's callback: the read it watches ends at the request's
 * deadline, which later idle reads have moved on since the watchdog was
 * started; it starts again for the rest, or interrupts the read. */
static void hop__conn_watchdog_fire(hop_timer_t *timer, void *arg) {
    hop_serve_conn_t *c = arg;
    if (!c->reader)
        return; /* between reads: the next one starts it again */
    uint64_t now = hop_time_now_ns();
    if (now < c->request_deadline_ns && hop_timer_start(timer, hop__ms_until(c->request_deadline_ns - now),
                                                        hop__conn_watchdog_fire, c) == 0) {
        c->watchdog_due_ns = c->request_deadline_ns;
        return;
    }
    /* Due, or no timer to wait with (the loop is closing): the read ends
     * now rather than never. */
    c->reader_expired = true;
    hop__task_expire(c->reader, c->reader_domain);
}

/* Sets the read about to start up under the watchdog, and returns true; or
 * returns false when the read must use a deadline of its own instead.
 *
 * A deadline costs a timer start and stop per read, on a heap shared by the
 * loop's connections, and keep-alive connections read once per request. The
 * watchdog is one timer per connection that stays started between reads at
 * the deadline it was started with: a read that ends sooner leaves it, the
 * next read only records its task, and when it fires while the deadline has
 * moved on it starts again for the rest (once per idle timeout at most). It
 * works on a thread that drives a clock (a loop), where the callback runs one
 * at a time with the task's own steps, so reader needs no atomics; a task
 * that moved to another loop takes the watchdog along, and on a thread
 * without a clock (a pool) the read falls back. */
static bool hop__conn_watch(hop_serve_conn_t *c, uint64_t now) {
    bool pending;
    if (c->reader || !hop__timer_clock_here(&c->watchdog, &pending))
        return false; /* off a loop thread, or another read under way here */
    hop_task_t *t = hop_task_current();
    if (!t)
        return false; /* the deadline path says HOP_ENOTTASK */
    if (pending && c->watchdog_due_ns > c->request_deadline_ns)
        pending = false; /* due too late: cannot happen while deadlines only grow */
    if (!pending) {
        /* Stopped first: it may be pending too late, or on another loop's
         * clock (the stop waits for its callback if that runs there now). */
        hop_timer_stop(&c->watchdog);
        if (hop_timer_start(&c->watchdog, hop__ms_until(c->request_deadline_ns - now),
                            hop__conn_watchdog_fire, c) != 0)
            return false;
        c->watchdog_due_ns = c->request_deadline_ns;
    }
    c->reader = t;
    c->reader_domain = hop__atomic_load_ptr(&t->shield_expired);
    c->reader_expired = false;
    return true;
}

int64_t hop_serve_read(hop_serve_conn_t *conn, void *buf, size_t len, bool idle) {
    if (!conn || (!buf && len))
        return HOP_EINVAL;
    hop_server_t *s = conn->server;
    uint64_t now = hop_time_now_ns();
    int64_t timeout_ms = s->idle_timeout_ms;
    if (idle) {
        hop__atomic_fas_uint(&conn->idle, 1u); /* a full barrier, paired with the shutdown's */
        if (hop__atomic_load_uint(&s->closing)) {
            hop__atomic_store_uint(&conn->idle, 0u);
            return HOP_ECLOSED;
        }
        conn->request_deadline_ns = timeout_ms < 0 ? UINT64_MAX : hop__timer_deadline(now, timeout_ms);
    } else if (timeout_ms >= 0) {
        if (now >= conn->request_deadline_ns) {
            hop__atomic_faa_u64(&s->timed_out, 1u);
            return HOP_ETIMEDOUT;
        }
        timeout_ms = hop__ms_until(conn->request_deadline_ns - now);
    }
    int64_t n;
    if (timeout_ms < 0) {
        n = hop_stream_read(conn->stream, buf, len);
    } else if (hop__conn_watch(conn, now)) {
        hop_task_t *t = conn->reader;
        n = hop_stream_read(conn->stream, buf, len);
        conn->reader = NULL;
        if (conn->reader_expired) {
            hop__task_unexpire(t, conn->reader_domain);
            if (n == HOP_ETIMEDOUT)
                hop__atomic_faa_u64(&s->timed_out, 1u);
        }
    } else {
        hop_deadline_t deadline;
        int err = hop_deadline_enter(&deadline, timeout_ms);
        if (err) {
            hop__atomic_store_uint(&conn->idle, 0u);
            return err;
        }
        n = hop_stream_read(conn->stream, buf, len);
        if (hop_deadline_leave(&deadline) == HOP_ETIMEDOUT && n == HOP_ETIMEDOUT)
            hop__atomic_faa_u64(&s->timed_out, 1u);
    }
    if (idle)
        hop__atomic_store_uint(&conn->idle, 0u);
    return n;
}
