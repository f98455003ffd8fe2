/* src/io/stream_internal.h: hop_stream_t's record, for the modules that make
 * streams (tcp.c; child processes' pipes). A maker allocates the stream with
 * hop__stream_new on any thread, initialises the uv handle in s->uv on the
 * loop thread (uv_tcp_init, uv_pipe_init, uv_tty_init, or uv_spawn's
 * stdio pipes), then calls hop__stream_opened there (which puts it on the
 * loop's list of open handles: a closing loop closes it), and
 * hop__io_handle_adopt there when it hands the stream out (the owner's
 * reference: see io_internal.h, HANDLES); from then on the stream is closed
 * with hop_stream_close (or, never handed out, on the loop thread, with
 * hop__io_handle_close_now). A stream whose uv handle was never initialised
 * is freed with hop__stream_free. */
#ifndef HOP_SRC_IO_STREAM_INTERNAL_H
#define HOP_SRC_IO_STREAM_INTERNAL_H

#include "hop/stream.h"
#include "io/io_internal.h"

/* Bytes of a blocked write the stream copies and queues itself, so that a
 * cancelled write leaves libuv nothing that points into the caller's buffer. */
#define HOP__STREAM_STASH 512

struct hop_stream_s {
    hop__io_handle_t h;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
        uv_tty_t tty;
    } uv;
    /* The reader: a ring the loop thread fills (tail) and the reading task
     * empties (head). Positions only grow; capacity is a power of two. */
    char *rbuf;
    uint64_t rcap;
    uint64_t rhead;            /* atomic: written by the reading task */
    uint64_t rtail;            /* atomic: written by the loop thread */
    uint64_t rskip;            /* atomic, written by the loop thread: the last position from
                                  which it skipped to the ring's start (hop__stream_alloc_cb) */
    unsigned int rerror;       /* atomic: end of stream (HOP_EOF) or an error, after the bytes */
    unsigned int reading_task; /* atomic: a task is inside a read call */
    bool reading;              /* loop thread: uv_read_start is on */
    hop__io_op_t *reader;      /* loop thread: the read waiting for bytes... */
    uint64_t reader_want;      /* ...until more than this many are buffered */
    /* The writer (loop thread, except writing_task). */
    unsigned int writing_task; /* atomic: a task is inside a write call */
    int werror;                /* sticky: the stream's writing side failed or was closed */
    hop__io_op_t *writer;      /* the write waiting for the kernel */
    bool stash_busy;           /* stash_req is queued in libuv */
    bool shutdown_started;     /* uv_shutdown was called (or is due after the stash) */
    bool shutdown_after_stash;
    uv_write_t stash_req;
    char stash[HOP__STREAM_STASH];
    uv_shutdown_t shutdown_req;
    hop__io_op_t *shutdowner;
    /* Connecting (tcp.c). */
    uv_connect_t connect_req;
    hop__io_op_t *connector;
    /* Accepted (tcp.c): the next connection on its listener's queue. */
    hop_stream_t *accept_next;
};

/* hop__stream_new: allocates a stream for loop (read_buffer 0: the default)
 * with its uv handle not yet initialised. Any thread. NULL when out of memory. */
hop_stream_t *hop__stream_new(hop_loop_t *loop, const hop_stream_options_t *options);

/* hop__stream_opened: the uv handle in s->uv is initialised (loop thread):
 * hop__io_handle_opened on it. Until adopted, libuv's close callback frees
 * the stream. */
void hop__stream_opened(hop_stream_t *s);

/* hop__stream_free: frees a stream whose uv handle was never initialised. */
void hop__stream_free(hop_stream_t *s);

/* hop__stream_loop_or_current: loop, or the calling task's loop when NULL;
 * NULL when neither. */
hop_loop_t *hop__stream_loop_or_current(hop_loop_t *loop);

/* ---- listeners and connects (tcp.c), shared by TCP and pipes ---------------- */

/* Initialises s->uv as the module's kind of stream (uv_tcp_init,
 * uv_pipe_init) on the loop thread; a libuv error. */
typedef int (*hop__stream_init_fn)(uv_loop_t *uv, hop_stream_t *s);

/* Starts connecting s (initialised) to target: uv_tcp_connect /
 * uv_pipe_connect with &s->connect_req and hop__stream_connect_cb. Loop
 * thread; a libuv error. */
typedef int (*hop__stream_connect_fn)(hop_stream_t *s, const void *target);

/* Connections a listener accepts ahead of its task's accept calls. libuv
 * hands a listener one connection and then stops watching the socket until
 * that one is taken; taken one at a time by a task (which the loop resumes
 * behind every job queued before it), a burst of connections would be
 * accepted at one per loop turn, and the last ones would wait in the kernel's
 * queue for seconds under load. Once a task has accepted from it, the
 * listener therefore takes every connection libuv reports, up to this many
 * waiting, as libuv's own servers do in their connection callback (before
 * that, connections wait in the kernel's backlog). */
#define HOP__LISTENER_QUEUE_MAX 256u

/* A listener: the module embeds it first in its public listener struct,
 * initialises it (hop__listener_init), then on the loop thread initialises
 * and binds l->uv (hop__io_handle_opened right after the init) and calls
 * hop__listener_listen. Closed with hop__io_handle_close(&l->h). */
typedef struct hop__listener_s {
    hop__io_handle_t h;
    union {
        uv_handle_t handle;
        uv_stream_t stream;
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } uv;
    hop__stream_init_fn init_stream; /* for the accepted connections */
    hop_stream_options_t stream_options;
    bool ready;                  /* loop thread: libuv holds an accepted connection for us */
    hop__io_op_t *acceptor;      /* loop thread: the accept waiting for one */
    /* Loop thread: connections taken from libuv that no accept has returned
     * yet, oldest first (through accept_next); each holds a reference of the
     * queue's, and none is adopted. */
    hop_stream_t *queue_first, *queue_last;
    unsigned int queued;
    bool taking; /* loop thread: a task has accepted here: the queue may fill */
    unsigned int accepting_task; /* atomic: a task is inside an accept */
    uint64_t dropped;            /* atomic: EMFILE / ENFILE reports */
} hop__listener_t;

/* hop__listener_init: l (zeroed, allocated with malloc: destroy frees it)
 * belongs to loop; stream_options (may be NULL) for its connections. */
void hop__listener_init(hop__listener_t *l, hop_loop_t *loop, hop__stream_init_fn init_stream,
                        const hop_stream_options_t *stream_options);

/* hop__listener_listen: loop thread, l bound: uv_listen (backlog 0: 511)
 * and adopts l. On failure l is closed (the caller must not touch it). */
int hop__listener_listen(hop__listener_t *l, int backlog);

/* hop__listener_accept: hop_tcp_accept's body (stream not NULL). */
int hop__listener_accept(hop__listener_t *l, hop_stream_t **stream);

/* hop__stream_connect: a new stream on loop connected by init and connect
 * to target, as hop_tcp_connect_addr (interruptible: an interrupted
 * connect leaves no stream). what ("tcp connect"), port (-1: none) and path
 * (NULL: none) describe the wait to hop_task_dump. Task only. */
int hop__stream_connect(hop_loop_t *loop, const hop_stream_options_t *options, hop__stream_init_fn init,
                        hop__stream_connect_fn connect, const void *target, const char *what, long port,
                        const char *path, hop_stream_t **stream);

/* hop__stream_what: "tcp read", "pipe write", "tty shutdown"... for
 * hop_task_dump: verb 0 read, 1 write, 2 shutdown, 3 accept, of s's kind
 * of handle (uv, a uv_handle_t set up on its loop before s was handed out). */
const char *hop__stream_what(const uv_handle_t *uv, unsigned int verb);

/* hop__stream_connect_cb: the uv_connect_cb a hop__stream_connect_fn passes. */
void hop__stream_connect_cb(uv_connect_t *req, int status);

#endif /* HOP_SRC_IO_STREAM_INTERNAL_H */
