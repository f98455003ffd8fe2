/* src/io/stream.c: hop_stream_t, byte streams over uv_stream_t.
 *
 * READING. Once a task first waits for bytes, the stream reads ahead on the
 * loop thread into its reader, a ring of read_buffer bytes, until the ring
 * is full (then reading stops, the kernel's buffer fills and the peer is
 * slowed down) or the stream ends. The loop thread is the only producer and
 * the one reading task the only consumer, so the ring needs no lock: the
 * producer publishes its tail after writing the bytes, the consumer its head
 * after copying them out. A read that finds bytes returns them at once, on
 * whatever thread the task runs; only an empty ring makes it wait, as an
 * operation on the loop that completes when the loop thread has appended.
 * Cancelling that wait only forgets the waiter: reading ahead goes on, and
 * nothing that arrived is lost.
 *
 * WRITING. A write goes straight to the kernel with uv_try_write (on the
 * loop thread: directly from a task running there, in the operation's start
 * otherwise). When the kernel's buffer is full, the stream copies the next
 * few bytes (up to HOP__STREAM_STASH) into its own stash and queues them
 * with uv_write: its callback says the socket took them, and the write goes
 * on from there. libuv therefore never holds a pointer into the caller's
 * buffer across a wait, so a cancelled write can be withdrawn at once: it
 * reports what was accepted, and closes the stream for writing unless that
 * was everything. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "io/stream_internal.h"

#define HOP__STREAM_READ_BUFFER_DEFAULT (64u * 1024u)

/* ---- lifetime -------------------------------------------------------------- */

static void hop__stream_wake(hop__io_handle_t *h, int status);

static void hop__stream_destroy(hop__io_handle_t *h) {
    hop_stream_t *s = (hop_stream_t *)h;
    free(s->rbuf);
    free(s);
}

hop_stream_t *hop__stream_new(hop_loop_t *loop, const hop_stream_options_t *options) {
    uint64_t want = options && options->read_buffer ? options->read_buffer : HOP__STREAM_READ_BUFFER_DEFAULT;
    uint64_t cap = 1024;
    while (cap < want)
        cap <<= 1;
    hop_stream_t *s = hop__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->rbuf = hop__malloc(cap);
    if (!s->rbuf) {
        free(s);
        return NULL;
    }
    s->rcap = cap;
    hop__io_handle_init(&s->h, loop, &s->uv.handle, hop__stream_wake, hop__stream_destroy);
    return s;
}

void hop__stream_opened(hop_stream_t *s) { hop__io_handle_opened(&s->h); }

void hop__stream_free(hop_stream_t *s) { hop__stream_destroy(&s->h); }

hop_loop_t *hop__stream_loop_or_current(hop_loop_t *loop) { return loop ? loop : hop_loop_current(); }

hop_loop_t *hop_stream_loop(const hop_stream_t *stream) { return stream ? stream->h.loop : NULL; }

int hop_stream_close(hop_stream_t *stream) {
    if (!stream)
        return HOP_EINVAL;
    return hop__io_handle_close(&stream->h);
}

/* ---- reading: the loop side ------------------------------------------------- */

/* The positions from rskip up to the ring's next start carry no bytes (the
 * loop skipped them, below), so a head that stands at rskip stands at that
 * start. Any thread, with a head that is behind a tail it loaded after it
 * (or the loop thread, which writes rskip): that tail was stored after the
 * rskip that concerns this head. */
static uint64_t hop__stream_head_past_skip(const hop_stream_t *s, uint64_t head) {
    if (head == hop__atomic_load_u64(&s->rskip))
        head = (head + s->rcap - 1) & ~(s->rcap - 1);
    return head;
}

static uint64_t hop__stream_buffered_loop(hop_stream_t *s) {
    uint64_t head = hop__atomic_load_u64(&s->rhead);
    hop__atomic_fence_acquire(); /* the consumer is done with what it freed */
    return s->rtail - hop__stream_head_past_skip(s, head);
}

static void hop__stream_alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf) {
    (void)suggested;
    hop_stream_t *s = (hop_stream_t *)handle->data;
    uint64_t used = hop__stream_buffered_loop(s);
    if (used == 0 && (s->rtail & (s->rcap - 1)) != 0) {
        /* Nothing buffered: the next bytes go to the ring's start. Otherwise
         * a connection whose reader keeps up would walk through the whole
         * ring, request after request, until every page of it is resident
         * (64 KiB per connection by default, where its first page would do).
         * The skip is stored before the tail that passes it, so a reader
         * that sees that tail sees the skip too. */
        uint64_t start = (s->rtail + s->rcap - 1) & ~(s->rcap - 1);
        hop__atomic_store_u64(&s->rskip, s->rtail);
        hop__atomic_fence_release();
        hop__atomic_store_u64(&s->rtail, start);
    }
    uint64_t at = s->rtail & (s->rcap - 1);
    uint64_t room = s->rcap - used;
    if (room > s->rcap - at)
        room = s->rcap - at;
    *buf = uv_buf_init(s->rbuf + at, (unsigned int)room); /* 0: libuv reports UV_ENOBUFS */
}

static void hop__stream_stop_reading(hop_stream_t *s) {
    if (s->reading) {
        uv_read_stop(&s->uv.stream);
        s->reading = false;
    }
}

static void hop__stream_read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf) {
    (void)buf;
    hop_stream_t *s = (hop_stream_t *)stream->data;
    if (nread > 0) {
        hop__atomic_fence_release(); /* the bytes before the tail that shows them */
        hop__atomic_store_u64(&s->rtail, s->rtail + (uint64_t)nread);
        if (hop__stream_buffered_loop(s) == s->rcap)
            hop__stream_stop_reading(s); /* full: the kernel buffers, then the peer waits */
    } else if (nread == UV_ENOBUFS) {
        hop__stream_stop_reading(s);
    } else if (nread < 0) {
        hop__atomic_fence_release();
        hop__atomic_store_uint(&s->rerror, (unsigned int)hop__io_error((int)nread));
        hop__stream_stop_reading(s);
    }
    hop__io_op_t *reader = s->reader;
    if (reader && (hop__stream_buffered_loop(s) > s->reader_want || hop__atomic_load_uint(&s->rerror))) {
        s->reader = NULL;
        hop__io_op_complete(reader, 0);
    }
}

typedef struct {
    hop__io_op_t op;
    hop_stream_t *s;
    uint64_t want;
} hop__stream_wait_t;

static int hop__stream_wait_start(hop__io_op_t *op) {
    hop__stream_wait_t *w = (hop__stream_wait_t *)op;
    hop_stream_t *s = w->s;
    if (hop__atomic_load_uint(&s->h.closing))
        return HOP_ECLOSED;
    if (hop__stream_buffered_loop(s) > w->want || hop__atomic_load_uint(&s->rerror))
        return 0;
    if (!s->reading) {
        int err = uv_read_start(&s->uv.stream, hop__stream_alloc_cb, hop__stream_read_cb);
        if (err)
            return hop__io_error(err);
        s->reading = true;
    }
    s->reader = op;
    s->reader_want = w->want;
    return HOP__IO_PENDING;
}

static int hop__stream_wait_cancel(hop__io_op_t *op) {
    hop_stream_t *s = ((hop__stream_wait_t *)op)->s;
    if (s->reader != op)
        return HOP_EALREADY;
    s->reader = NULL; /* reading ahead goes on: the bytes wait in the ring */
    return 0;
}

const char *hop__stream_what(const uv_handle_t *uv, unsigned int verb) {
    static const char *const what[4][4] = {
        {"tcp read", "pipe read", "tty read", "stream read"},
        {"tcp write", "pipe write", "tty write", "stream write"},
        {"tcp shutdown", "pipe shutdown", "tty shutdown", "stream shutdown"},
        {"tcp accept", "pipe accept", "tty accept", "stream accept"},
    };
    unsigned int kind = uv->type == UV_TCP ? 0u : uv->type == UV_NAMED_PIPE ? 1u : uv->type == UV_TTY ? 2u : 3u;
    return what[verb & 3u][kind];
}

/* Waits until more than want bytes are buffered, or the stream ended. */
static int hop__stream_wait_bytes(hop_stream_t *s, uint64_t want) {
    hop__stream_wait_t w = {.s = s, .want = want};
    hop__io_op_describe_as(&w.op, hop__stream_what(&s->uv.handle, 0), "fd", s->h.fd, NULL);
    return hop__io_op_run(&w.op, s->h.loop, hop__stream_wait_start, hop__stream_wait_cancel);
}

/* ---- reading: the task side ------------------------------------------------- */

/* The stream's end or error (0: none yet), then the bytes buffered: in this
 * order, so that bytes that came before the end are seen with it. */
static uint64_t hop__stream_available(hop_stream_t *s, int *end) {
    *end = (int)hop__atomic_load_uint(&s->rerror);
    hop__atomic_fence_acquire();
    uint64_t tail = hop__atomic_load_u64(&s->rtail);
    hop__atomic_fence_acquire(); /* the bytes below tail are written */
    if (tail != s->rhead) {
        uint64_t head = hop__stream_head_past_skip(s, s->rhead);
        if (head != s->rhead)
            hop__atomic_store_u64(&s->rhead, head); /* no bytes were there to copy out */
    }
    return tail - s->rhead;
}

static void hop__stream_copy_out(hop_stream_t *s, void *buf, uint64_t n) {
    uint64_t at = s->rhead & (s->rcap - 1);
    uint64_t first = s->rcap - at < n ? s->rcap - at : n;
    memcpy(buf, s->rbuf + at, first);
    memcpy((char *)buf + first, s->rbuf, n - first);
}

static void hop__stream_consume(hop_stream_t *s, uint64_t n) {
    hop__atomic_fence_release(); /* copied out before the producer reuses it */
    hop__atomic_store_u64(&s->rhead, s->rhead + n);
}

static const void *hop__stream_find(hop_stream_t *s, uint64_t from, uint64_t to, int delim, uint64_t *found) {
    for (uint64_t i = from; i < to; i++) {
        if ((unsigned char)s->rbuf[(s->rhead + i) & (s->rcap - 1)] == (unsigned char)delim) {
            *found = i;
            return s;
        }
    }
    return NULL;
}

/* Claims one side of s (side: &s->reading_task or &s->writing_task) for a
 * call: a handle reference and that side's one-caller slot. */
static int hop__stream_enter_side(hop_stream_t *s, unsigned int *side) {
    int err = hop__io_handle_enter(&s->h);
    if (err)
        return err;
    if (!hop__atomic_cas_uint(side, 0u, 1u)) {
        hop__io_handle_leave(&s->h);
        return HOP_EBUSY;
    }
    return 0;
}

static void hop__stream_leave_side(hop_stream_t *s, unsigned int *side) {
    hop__atomic_store_uint(side, 0u);
    hop__io_handle_leave(&s->h);
}

static int hop__stream_enter_reader(hop_stream_t *s) { return hop__stream_enter_side(s, &s->reading_task); }
static void hop__stream_leave_reader(hop_stream_t *s) { hop__stream_leave_side(s, &s->reading_task); }

int64_t hop_stream_read(hop_stream_t *stream, void *buf, size_t len) {
    if (!stream || (!buf && len))
        return HOP_EINVAL;
    if (len == 0)
        return 0;
    int err = hop__stream_enter_reader(stream);
    if (err)
        return err;
    int64_t result;
    for (;;) {
        int end;
        uint64_t n = hop__stream_available(stream, &end);
        if (n > 0) {
            if (n > len)
                n = len;
            hop__stream_copy_out(stream, buf, n);
            hop__stream_consume(stream, n);
            result = (int64_t)n;
            break;
        }
        if (end) {
            result = end == HOP_EOF ? 0 : end;
            break;
        }
        err = hop__stream_wait_bytes(stream, 0);
        if (err) {
            result = err;
            break;
        }
    }
    hop__stream_leave_reader(stream);
    return result;
}

int hop_stream_read_exact(hop_stream_t *stream, void *buf, size_t len, size_t *done) {
    if (done)
        *done = 0;
    if (!stream || (!buf && len))
        return HOP_EINVAL;
    int err = hop__stream_enter_reader(stream);
    if (err)
        return err;
    size_t got = 0;
    while (got < len) {
        int end;
        uint64_t n = hop__stream_available(stream, &end);
        uint64_t need = len - got;
        if (n >= need || (need > stream->rcap && n > 0)) {
            /* All of it, or (too long for the reader) what there is. */
            if (n > need)
                n = need;
            hop__stream_copy_out(stream, (char *)buf + got, n);
            hop__stream_consume(stream, n);
            got += n;
            if (done)
                *done = got;
            continue;
        }
        if (end) {
            err = end;
            break;
        }
        err = hop__stream_wait_bytes(stream, need > stream->rcap ? 0 : n);
        if (err)
            break;
    }
    hop__stream_leave_reader(stream);
    return got == len ? 0 : err;
}

int64_t hop_stream_read_until(hop_stream_t *stream, int delim, void *buf, size_t max) {
    if (!stream || !buf || max == 0 || max > stream->rcap)
        return HOP_EINVAL;
    int err = hop__stream_enter_reader(stream);
    if (err)
        return err;
    int64_t result;
    uint64_t scanned = 0;
    for (;;) {
        int end;
        uint64_t n = hop__stream_available(stream, &end);
        uint64_t limit = n < max ? n : max;
        uint64_t at;
        if (hop__stream_find(stream, scanned, limit, delim, &at)) {
            hop__stream_copy_out(stream, buf, at + 1);
            hop__stream_consume(stream, at + 1);
            result = (int64_t)(at + 1);
            break;
        }
        scanned = limit;
        if (n >= max) {
            result = HOP_EMSGSIZE;
            break;
        }
        if (end) {
            result = end;
            break;
        }
        err = hop__stream_wait_bytes(stream, n);
        if (err) {
            result = err;
            break;
        }
    }
    hop__stream_leave_reader(stream);
    return result;
}

int64_t hop_stream_read_line(hop_stream_t *stream, void *buf, size_t max) {
    return hop_stream_read_until(stream, '\n', buf, max);
}

size_t hop_stream_buffered(const hop_stream_t *stream) {
    if (!stream)
        return 0;
    hop_stream_t *s = (hop_stream_t *)stream;
    uint64_t tail = hop__atomic_load_u64(&s->rtail);
    hop__atomic_fence_acquire(); /* the skip stored before this tail */
    uint64_t head = hop__stream_head_past_skip(s, hop__atomic_load_u64(&s->rhead));
    return tail >= head ? (size_t)(tail - head) : 0;
}

/* ---- writing -------------------------------------------------------------------- */

typedef struct {
    hop__io_op_t op;
    hop_stream_t *s;
    const char *buf;
    size_t len;
    size_t done; /* accepted so far */
} hop__stream_write_t;

static void hop__stream_shutdown_done(hop_stream_t *s, int status);
static void hop__stream_stash_cb(uv_write_t *req, int status);

static void hop__stream_shutdown_cb(uv_shutdown_t *req, int status) {
    hop__stream_shutdown_done((hop_stream_t *)req->handle->data, status);
}

static void hop__stream_shutdown_now(hop_stream_t *s) {
    int err = uv_shutdown(&s->shutdown_req, &s->uv.stream, hop__stream_shutdown_cb);
    if (err)
        hop__stream_shutdown_done(s, err); /* reported as the shutdown's result */
}

/* Loop thread: writes what the kernel takes; queues the stash when it takes
 * nothing more. 0: all written; HOP__IO_PENDING: waiting for the stash;
 * or the stream's write error. */
static int hop__stream_write_some(hop__stream_write_t *w) {
    hop_stream_t *s = w->s;
    while (w->done < w->len) {
        if (s->werror)
            return s->werror;
        if (s->stash_busy)
            return HOP__IO_PENDING;
        uv_buf_t buf =
            uv_buf_init((char *)w->buf + w->done,
                        (unsigned int)(w->len - w->done > (1u << 30) ? (1u << 30) : w->len - w->done));
        int n = uv_try_write(&s->uv.stream, &buf, 1);
        if (n > 0) {
            w->done += (size_t)n;
            continue;
        }
        if (n != UV_EAGAIN && n != UV_ENOSYS) {
            s->werror = hop__io_error(n);
            return s->werror;
        }
        size_t k = w->len - w->done < HOP__STREAM_STASH ? w->len - w->done : HOP__STREAM_STASH;
        memcpy(s->stash, w->buf + w->done, k);
        uv_buf_t stash = uv_buf_init(s->stash, (unsigned int)k);
        int err = uv_write(&s->stash_req, &s->uv.stream, &stash, 1, hop__stream_stash_cb);
        if (err) {
            s->werror = hop__io_error(err);
            return s->werror;
        }
        s->stash_busy = true;
        w->done += k;
    }
    /* Everything accepted; a stash still queued is the next write's wait. */
    return s->werror && !s->stash_busy ? s->werror : 0;
}

static void hop__stream_stash_cb(uv_write_t *req, int status) {
    hop_stream_t *s = (hop_stream_t *)req->handle->data;
    s->stash_busy = false;
    if (status < 0 && !s->werror)
        s->werror = status == UV_ECANCELED ? HOP_ECLOSED : hop__io_error(status);
    if (s->shutdown_after_stash) {
        s->shutdown_after_stash = false;
        if (!hop__atomic_load_uint(&s->h.closing))
            hop__stream_shutdown_now(s);
    }
    hop__io_op_t *op = s->writer;
    if (!op)
        return;
    int r = s->werror ? s->werror : hop__stream_write_some((hop__stream_write_t *)op);
    if (r != HOP__IO_PENDING) {
        s->writer = NULL;
        hop__io_op_complete(op, r);
    }
}

static int hop__stream_write_start(hop__io_op_t *op) {
    hop__stream_write_t *w = (hop__stream_write_t *)op;
    if (hop__atomic_load_uint(&w->s->h.closing))
        return HOP_ECLOSED;
    int r = hop__stream_write_some(w);
    if (r == HOP__IO_PENDING)
        w->s->writer = op;
    return r;
}

static int hop__stream_write_cancel(hop__io_op_t *op) {
    hop__stream_write_t *w = (hop__stream_write_t *)op;
    hop_stream_t *s = w->s;
    if (s->writer != op)
        return HOP_EALREADY;
    s->writer = NULL;
    if (w->done < w->len && !s->werror) {
        /* Part of a message went: the peer must not take what follows for
         * its rest. Closed for writing; the peer sees the end once the
         * stash is out. */
        s->werror = HOP_ECLOSED;
        if (!s->shutdown_started) {
            s->shutdown_started = true;
            if (s->stash_busy)
                s->shutdown_after_stash = true;
            else
                hop__stream_shutdown_now(s);
        }
    }
    return 0;
}

int hop_stream_write(hop_stream_t *stream, const void *buf, size_t len, size_t *written) {
    if (written)
        *written = 0;
    if (!stream || (!buf && len))
        return HOP_EINVAL;
    int err = hop__stream_enter_side(stream, &stream->writing_task);
    if (err)
        return err;
    hop__stream_write_t w = {.s = stream, .buf = buf, .len = len};
    if (hop__io_on_loop(stream->h.loop)) {
        /* On the loop already: straight to the kernel; an operation only if
         * it must wait. */
        err = hop__stream_write_some(&w);
        if (err == HOP__IO_PENDING) {
            hop__io_op_describe_as(&w.op, hop__stream_what(&stream->uv.handle, 1), "fd", stream->h.fd, NULL);
            err = hop__io_op_run(&w.op, stream->h.loop, hop__stream_write_start, hop__stream_write_cancel);
        }
    } else {
        hop__io_op_describe_as(&w.op, hop__stream_what(&stream->uv.handle, 1), "fd", stream->h.fd, NULL);
        err = hop__io_op_run(&w.op, stream->h.loop, hop__stream_write_start, hop__stream_write_cancel);
    }
    if (written)
        *written = w.done;
    hop__stream_leave_side(stream, &stream->writing_task);
    return err;
}

/* ---- shutdown --------------------------------------------------------------------- */

static void hop__stream_shutdown_done(hop_stream_t *s, int status) {
    if (!s->werror)
        s->werror = HOP_ECLOSED; /* closed for writing */
    hop__io_op_t *op = s->shutdowner;
    if (op) {
        s->shutdowner = NULL;
        hop__io_op_complete(op, status == UV_ECANCELED ? HOP_ECLOSED : hop__io_error(status));
    }
}

typedef struct {
    hop__io_op_t op;
    hop_stream_t *s;
} hop__stream_shutdown_t;

static int hop__stream_shutdown_start(hop__io_op_t *op) {
    hop_stream_t *s = ((hop__stream_shutdown_t *)op)->s;
    if (hop__atomic_load_uint(&s->h.closing))
        return HOP_ECLOSED;
    if (s->shutdown_started)
        return HOP_EALREADY;
    s->shutdown_started = true;
    s->shutdowner = op;
    if (s->stash_busy)
        s->shutdown_after_stash = true; /* after the bytes already accepted */
    else
        hop__stream_shutdown_now(s); /* may complete op already */
    return HOP__IO_PENDING;
}

static int hop__stream_shutdown_cancel(hop__io_op_t *op) {
    hop_stream_t *s = ((hop__stream_shutdown_t *)op)->s;
    if (s->shutdowner != op)
        return HOP_EALREADY;
    s->shutdowner = NULL; /* the shutdown itself goes on */
    return 0;
}

int hop_stream_shutdown(hop_stream_t *stream) {
    if (!stream)
        return HOP_EINVAL;
    int err = hop__stream_enter_side(stream, &stream->writing_task);
    if (err)
        return err;
    hop__stream_shutdown_t sd = {.s = stream};
    hop__io_op_describe_as(&sd.op, hop__stream_what(&stream->uv.handle, 2), "fd", stream->h.fd, NULL);
    err = hop__io_op_run(&sd.op, stream->h.loop, hop__stream_shutdown_start, hop__stream_shutdown_cancel);
    hop__stream_leave_side(stream, &stream->writing_task);
    return err;
}

/* ---- closing ----------------------------------------------------------------------- */

/* Loop thread, before uv_close: every waiter ends with status. */
static void hop__stream_wake(hop__io_handle_t *h, int status) {
    hop_stream_t *s = (hop_stream_t *)h;
    hop__io_op_t **waiters[] = {&s->reader, &s->writer, &s->shutdowner, &s->connector};
    for (size_t i = 0; i < sizeof waiters / sizeof waiters[0]; i++) {
        hop__io_op_t *op = *waiters[i];
        if (op) {
            *waiters[i] = NULL;
            hop__io_op_complete(op, status);
        }
    }
    hop__stream_stop_reading(s);
    if (!s->werror)
        s->werror = HOP_ECLOSED;
}

/* ---- opening a descriptor ------------------------------------------------------------ */

typedef struct {
    hop_stream_t *s;
    int fd;
    bool ran; /* the function ran on the loop (and owns s's fate) */
} hop__stream_open_t;

/* Loop thread. On failure the stream is gone (freed, or closing and freed
 * by libuv's close callback): the caller must not touch it. */
static int hop__stream_open_on_loop(void *arg) {
    hop__stream_open_t *o = arg;
    hop_stream_t *s = o->s;
    o->ran = true;
    uv_loop_t *uv = hop_loop_uv(s->h.loop);
    int err = HOP_EINVAL;
    uv_handle_type type = uv ? uv_guess_handle(o->fd) : UV_UNKNOWN_HANDLE;
    if (!uv)
        err = HOP_ECLOSED;
    else if (type == UV_TCP)
        err = hop__uv_init(uv_tcp_init(uv, &s->uv.tcp));
    else if (type == UV_NAMED_PIPE)
        err = hop__uv_init(uv_pipe_init(uv, &s->uv.pipe, 0));
    else if (type == UV_TTY)
        err = hop__uv_init(uv_tty_init(uv, &s->uv.tty, o->fd, 0));
    if (err) {
        hop__stream_free(s); /* no uv handle was made */
        return err < 0 && err != HOP_EINVAL && err != HOP_ECLOSED ? hop__io_error(err) : err;
    }
    hop__stream_opened(s);
    if (type == UV_TCP)
        err = uv_tcp_open(&s->uv.tcp, o->fd);
    else if (type == UV_NAMED_PIPE)
        err = uv_pipe_open(&s->uv.pipe, o->fd);
    if (err) {
        /* The handle exists but does not own fd: close it, not fd. */
        hop__io_handle_close_now(&s->h);
        return hop__io_error(err);
    }
    hop__io_handle_adopt(&s->h);
    return 0;
}

int hop_stream_open_fd(hop_loop_t *loop, int fd, const hop_stream_options_t *options, hop_stream_t **stream) {
    if (stream)
        *stream = NULL;
    loop = hop__stream_loop_or_current(loop);
    if (!stream || fd < 0 || !loop)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_stream_t *s = hop__stream_new(loop, options);
    if (!s)
        return HOP_ENOMEM;
    hop__stream_open_t o = {.s = s, .fd = fd};
    int err = hop__io_call_on_loop(loop, hop__stream_open_on_loop, &o);
    if (err && !o.ran)
        hop__stream_free(s); /* the loop refused the call */
    if (err)
        return err;
    *stream = s;
    return 0;
}
