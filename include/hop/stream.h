/* hop/stream.h: byte streams (TCP connections, pipes and Unix sockets, TTYs)
 * read and written by tasks, over libuv's uv_stream_t.
 *
 *     hop_stream_t *conn;
 *     hop_tcp_connect(loop, "example.org", 80, &conn);          // hop/tcp.h
 *     hop_stream_write(conn, request, request_len, NULL);
 *     char line[1024];
 *     int64_t n = hop_stream_read_line(conn, line, sizeof line); // "...\n"
 *     hop_stream_close(conn);
 *
 * THE RULES EVERY I/O CALL FOLLOWS (streams, TCP, DNS, and hop's other I/O):
 *
 * Where it runs. A handle belongs to the hop loop it was opened on (libuv may
 *   only be called on its loop's thread). Any task may call I/O on it: a task
 *   on that loop starts the operation directly; a task on a pool worker or on
 *   another loop has the operation started on the handle's loop for it and
 *   resumes afterwards on its own executor, as every hop await does. No user
 *   code ever calls libuv off the loop's thread. The calls suspend the task
 *   (they are for tasks only: HOP_ENOTTASK elsewhere), never block a thread.
 *
 * Interrupts. Every wait honours hop_task_cancel (HOP_ECANCELED), deadlines
 *   (hop_deadline_enter: HOP_ETIMEDOUT) and interrupts from any thread: the
 *   operation is withdrawn on the loop's thread (hop/awaitable.h, "cancel
 *   on the awaitable's own thread") before the task resumes. A task already
 *   cancelled or past its deadline gets that status from a call that would
 *   wait, without starting anything.
 *
 * Nothing lost. A stream reads ahead into its own buffer (the reader,
 *   hop_stream_options_t.read_buffer): bytes that arrived are never dropped.
 *   A cancelled or timed-out read leaves them for the next read;
 *   read_until/read_line consume a line only when they return it. A
 *   cancelled write reports through *written how many bytes the stream
 *   accepted (handed to the kernel, or copied into the stream's own small
 *   queue: they go out unless the connection fails); if that is not all of
 *   them, the stream is closed for writing (later writes: HOP_ECLOSED; the
 *   peer sees end of stream once the accepted bytes are out), since the
 *   peer would otherwise see a message cut in the middle.
 *   A handle closed while tasks wait on it wakes them with HOP_ECLOSED.
 *
 * Errors. libuv's errors come back as hop codes (hop/error.h): HOP_EOF,
 *   HOP_ECONNRESET, HOP_EPIPE, HOP_ECONNREFUSED, HOP_EADDRINUSE,
 *   HOP_EHOSTUNREACH, HOP_ENAMELOOKUP, HOP_EMFILE; anything without a code
 *   of its own is HOP_EIO. A write to a peer that went away returns
 *   HOP_EPIPE or HOP_ECONNRESET and never kills the process: opening the
 *   first handle sets SIGPIPE to "ignore" if it still has its default action
 *   (a handler of the application's is left alone). An error a stream
 *   reported for writing sticks: later writes return it too.
 *
 * No allocation per operation. Reads and writes allocate nothing: requests
 *   live on the task's stack, bytes go through the caller's buffers and the
 *   stream's reader. Opening a handle allocates it (freed when it is closed).
 *
 * One reader and one writer at a time: a stream may be read by one task
 * while another writes it, but a second concurrent read (or write) returns
 * HOP_EBUSY. Close a handle exactly once; no call may start on it after
 * hop_stream_close began (calls already waiting get HOP_ECLOSED).
 *
 * Loop close. hop_loop_close closes every hop I/O handle still open on the
 * loop (streams, listeners, UDP sockets, ...) as soon as it begins, before it
 * waits for the loop's tasks: tasks waiting on them (on any executor) wake
 * with HOP_ECLOSED, the handles are closed through libuv before the loop
 * is, and every later call on them returns HOP_ECLOSED. Their memory stays
 * until the owner closes them as usual (hop_stream_close...), which then
 * only frees it, returns 0 and may be called from any thread (a task is not
 * needed: no loop is involved any more). */
#ifndef HOP_STREAM_H
#define HOP_STREAM_H

#include "hop/common.h"
#include "hop/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_stream_s hop_stream_t;
typedef struct hop_stream_options_s hop_stream_options_t;

struct hop_stream_options_s {
    size_t read_buffer; /* bytes read ahead (rounded up to a power of two); also the
                           longest line read_until can return. 0: 64 KiB. Reading
                           starts again at its beginning whenever it is empty, so
                           a reader that keeps up keeps only its first pages
                           resident */
};

/* hop_stream_open_fd: wraps an open descriptor (a connected socket, a pipe,
 * a terminal) as a stream on loop (NULL: the loop the calling task runs on);
 * the stream owns fd from then on and closes it. Task only; suspends.
 * Returns 0 and *stream; HOP_EINVAL (NULL stream, bad fd, not a stream
 * descriptor: a regular file, a UDP socket); HOP_ENOMEM; HOP_EMFILE (a
 * terminal that libuv reopens, with no descriptor left); HOP_ECLOSED (loop
 * closed); HOP_ENOTTASK. On error fd is still the caller's, open. */
HOP_EXTERN int hop_stream_open_fd(hop_loop_t *loop, int fd, const hop_stream_options_t *options,
                                  hop_stream_t **stream);

/* hop_stream_read: reads at least 1 and at most len bytes into buf, waiting
 * until some are there. Returns the count; 0 at end of stream (the peer
 * shut its side down, after every byte it sent); HOP_EINVAL; HOP_EBUSY
 * (another task is reading); HOP_ECLOSED; HOP_ECONNRESET and other errors;
 * HOP_ECANCELED / HOP_ETIMEDOUT (nothing was consumed). len 0 returns 0. */
HOP_EXTERN int64_t hop_stream_read(hop_stream_t *stream, void *buf, size_t len);

/* hop_stream_read_exact: reads exactly len bytes into buf. Returns 0;
 * HOP_EOF when the stream ends first; the errors of hop_stream_read. When
 * len fits in the reader, nothing is consumed unless all len bytes are
 * there, so on any error the bytes stay in the stream; a longer read
 * consumes as it goes, and *done (if not NULL) always says how many bytes
 * were put into buf. */
HOP_EXTERN int hop_stream_read_exact(hop_stream_t *stream, void *buf, size_t len, size_t *done);

/* hop_stream_read_until: reads up to and including the first byte equal
 * to delim, into buf (at most max bytes, delim included), and returns the
 * count. The bytes after delim stay in the stream for the next read.
 * Returns HOP_EMSGSIZE when max bytes came without delim, HOP_EOF when the
 * stream ended before a delim (in both cases nothing is consumed: read them
 * with hop_stream_read); HOP_EINVAL when max is 0 or larger than the
 * reader (hop_stream_options_t.read_buffer); the errors of hop_stream_read. */
HOP_EXTERN int64_t hop_stream_read_until(hop_stream_t *stream, int delim, void *buf, size_t max);

/* hop_stream_read_line: hop_stream_read_until(stream, '\n', buf, max). */
HOP_EXTERN int64_t hop_stream_read_line(hop_stream_t *stream, void *buf, size_t max);

/* hop_stream_buffered: bytes already read ahead, which a read returns
 * without waiting. Any thread. 0 for NULL. */
HOP_EXTERN size_t hop_stream_buffered(const hop_stream_t *stream);

/* hop_stream_write: writes all len bytes of buf, waiting while the kernel's
 * buffer is full (so a slow peer slows the writer down). buf must stay
 * valid until it returns. *written (if not NULL) receives the bytes the
 * stream accepted, also on error. Returns 0; HOP_EINVAL; HOP_EBUSY
 * (another task is writing); HOP_ECLOSED (closed, or closed for writing by
 * hop_stream_shutdown or a cancelled write); HOP_EPIPE / HOP_ECONNRESET
 * (the peer went away); HOP_ECANCELED / HOP_ETIMEDOUT (see "Nothing lost"). */
HOP_EXTERN int hop_stream_write(hop_stream_t *stream, const void *buf, size_t len, size_t *written);

/* hop_stream_shutdown: half-close: waits until every byte written is out,
 * then shuts the writing side (the peer reads end of stream) while reading
 * goes on. Returns 0; HOP_EBUSY (a write is in progress); HOP_ECLOSED;
 * HOP_EALREADY (shut down already); libuv errors; HOP_ECANCELED /
 * HOP_ETIMEDOUT (the shutdown still happens). */
HOP_EXTERN int hop_stream_shutdown(hop_stream_t *stream);

/* hop_stream_close: closes the stream: tasks waiting on it wake with
 * HOP_ECLOSED, the descriptor is closed, and the call returns when libuv
 * has closed the handle; the memory goes once the last call on it has
 * returned. Not interruptible (a cancelled task's close still closes).
 * Task only. Returns 0; HOP_EINVAL; HOP_EALREADY (closed already, or being
 * closed); HOP_ENOTTASK. */
HOP_EXTERN int hop_stream_close(hop_stream_t *stream);

/* hop_stream_loop: the loop the stream belongs to. Any thread. NULL for NULL. */
HOP_EXTERN hop_loop_t *hop_stream_loop(const hop_stream_t *stream);

#ifdef __cplusplus
}
#endif

#endif /* HOP_STREAM_H */
