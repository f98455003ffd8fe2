/* hop/pipe.h: Unix domain socket servers and clients for tasks (libuv's
 * "pipes"), and pipes and terminals opened by descriptor.
 *
 *     hop_pipe_listener_t *server;
 *     hop_pipe_listen(loop, "/run/app.sock", NULL, &server);
 *     hop_stream_t *conn;
 *     hop_pipe_accept(server, &conn);          // a stream: hop/stream.h
 *     hop_stream_read_line(conn, line, sizeof line);
 *
 * Connections are streams (hop/stream.h): read, read_line, write, shutdown
 * and close work on them unchanged, and every rule written there holds here
 * (any task on any executor; the handle belongs to the loop it was opened
 * on; waits interruptible from any thread; errors as hop codes; a closing
 * loop closes them). A pipe end or a terminal already open (a descriptor
 * from pipe(2), socketpair(2), a child's stdio, a TTY) becomes a stream
 * with hop_stream_open_fd (hop/stream.h), which picks libuv's pipe or TTY
 * handle for it.
 *
 * Paths are file system paths (at most 107 bytes on Linux: sun_path's
 * size, HOP_EINVAL beyond). The listener creates the socket file and
 * removes it when it is closed; a stale file left by a process that died
 * makes listen fail with HOP_EADDRINUSE (remove it first). */
#ifndef HOP_PIPE_H
#define HOP_PIPE_H

#include "hop/common.h"
#include "hop/loop.h"
#include "hop/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_pipe_listener_s hop_pipe_listener_t;
typedef struct hop_pipe_listen_options_s hop_pipe_listen_options_t;

struct hop_pipe_listen_options_s {
    int backlog;                 /* listen(2)'s backlog; 0: 511 */
    bool world_accessible;       /* chmod the socket file so every user may connect (0666);
                                    false: the process's umask decides */
    hop_stream_options_t stream; /* for the accepted connections */
};

/* hop_pipe_listen: listens on the Unix socket path on loop (NULL: the loop
 * the calling task runs on). options may be NULL. Task only; suspends
 * briefly. Returns 0 and *listener; HOP_EINVAL (NULL or empty path, too
 * long, no loop); HOP_EADDRINUSE (the path exists); HOP_EACCES (no
 * permission, or no such directory: libuv reports both so); HOP_EMFILE;
 * HOP_ENOMEM; HOP_ECLOSED; HOP_ENOTTASK. */
HOP_EXTERN int hop_pipe_listen(hop_loop_t *loop, const char *path, const hop_pipe_listen_options_t *options,
                               hop_pipe_listener_t **listener);

/* hop_pipe_accept: waits for the next connection and returns it as a
 * stream on the listener's loop. One task accepts at a time. Task only;
 * suspends. Returns 0 and *stream; HOP_EINVAL; HOP_EBUSY (another task is
 * accepting); HOP_ECLOSED (the listener was closed, also while waiting);
 * HOP_ENOMEM; HOP_ECANCELED / HOP_ETIMEDOUT (no connection is lost: it
 * waits for the next accept). Out of descriptors, it waits as
 * hop_tcp_accept does (hop/tcp.h). */
HOP_EXTERN int hop_pipe_accept(hop_pipe_listener_t *listener, hop_stream_t **stream);

/* hop_pipe_listener_close: stops listening and removes the socket file; a
 * task waiting in accept wakes with HOP_ECLOSED. Connections accepted
 * before stay open. Not interruptible. Task only (any thread once its loop
 * closed it). Returns 0; HOP_EINVAL; HOP_EALREADY; HOP_ENOTTASK. */
HOP_EXTERN int hop_pipe_listener_close(hop_pipe_listener_t *listener);

/* hop_pipe_connect: connects to the Unix socket path; the stream belongs
 * to loop (NULL: the calling task's loop). options may be NULL. Task only;
 * suspends. Returns 0 and *stream; HOP_EINVAL (NULL, empty or too long
 * path, no loop); HOP_ENOENT (nothing at path); HOP_ECONNREFUSED (nobody
 * listens there); HOP_EACCES; HOP_EMFILE (no descriptor left for the
 * socket); HOP_ENOMEM; HOP_ECLOSED; HOP_ENOTTASK;
 * HOP_ECANCELED / HOP_ETIMEDOUT (interrupted: no stream is left behind). */
HOP_EXTERN int hop_pipe_connect(hop_loop_t *loop, const char *path, const hop_stream_options_t *options,
                                hop_stream_t **stream);

#ifdef __cplusplus
}
#endif

#endif /* HOP_PIPE_H */
