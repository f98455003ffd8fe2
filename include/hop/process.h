/* hop/process.h: child processes for tasks, over libuv's uv_spawn.
 *
 *     const char *argv[] = {"wc", "-c", NULL};
 *     hop_process_options_t options = {.stdio = {HOP_STDIO_PIPE, HOP_STDIO_PIPE}};
 *     hop_process_t *child;
 *     hop_process_spawn(loop, argv, &options, &child);
 *     hop_stream_t *in = hop_process_pipe(child, 0), *out = hop_process_pipe(child, 1);
 *     hop_stream_write(in, "hello\n", 6, NULL);
 *     hop_stream_close(in);                          // the child reads end of file
 *     int64_t n = hop_stream_read(out, buf, sizeof buf);   // "6\n"
 *     hop_stream_close(out);
 *     int64_t status; int signal;
 *     hop_process_wait(child, &status, &signal);     // 0, 0
 *     hop_process_close(child);
 *
 * The rules of hop/stream.h hold: the process handle belongs to the loop it
 * was spawned on; any task on any executor may wait for it or kill it and
 * resumes on its own executor; a wait honours hop_task_cancel, deadlines and
 * interrupts from any thread (the child keeps running, and a later wait
 * still works). The pipes are ordinary hop streams (hop/stream.h) of the
 * same loop. A closing loop closes the process handle and the pipes as
 * hop/stream.h says under "Loop close" (waiters wake with HOP_ECLOSED, the
 * owner's close then only frees them, from any thread); the child is not
 * killed. */
#ifndef HOP_PROCESS_H
#define HOP_PROCESS_H

#include "hop/common.h"
#include "hop/loop.h"
#include "hop/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_process_s hop_process_t;

/* What a child's descriptor 0, 1 or 2 is. */
typedef enum {
    HOP_STDIO_INHERIT = 0, /* the parent's own (the default) */
    HOP_STDIO_IGNORE,      /* /dev/null */
    HOP_STDIO_PIPE,        /* a pipe whose other end the parent gets as a stream (hop_process_pipe) */
} hop_stdio_t;

typedef struct {
    const char *const *env; /* "NAME=value" strings ending in NULL; NULL: the parent's environment */
    const char *cwd;        /* the child's working directory; NULL: the parent's */
    hop_stdio_t stdio[3];   /* stdin, stdout, stderr; zeroed: all inherited */
    hop_stream_options_t pipe_options; /* for the pipes' streams; zeroed: the defaults */
    void *reserved[2];                 /* zero */
} hop_process_options_t;

/* hop_process_spawn: starts the program argv[0] (searched for in PATH when
 * it has no '/', as execvp) with the arguments argv (ending in NULL) and
 * options (NULL: all defaults), as a child of loop (NULL: the loop the
 * calling task runs on). Task only; suspends. Returns 0 and *process (close
 * it with hop_process_close); HOP_EINVAL (NULL or empty argv, NULL process,
 * no loop, a stdio value out of range); HOP_ENOENT (no such program, or no
 * such cwd); HOP_EACCES (not executable); HOP_ENOMEM; HOP_EMFILE; HOP_EIO
 * (other spawn failures); HOP_ECLOSED (loop closed); HOP_ENOTTASK. Not
 * interruptible: a child, once started, is handed back. */
HOP_EXTERN int hop_process_spawn(hop_loop_t *loop, const char *const argv[],
                                 const hop_process_options_t *options, hop_process_t **process);

/* hop_process_pipe: the parent's end of the pipe to the child's descriptor
 * fd (0: write to it, the child's stdin; 1 and 2: read from it), or NULL
 * when that descriptor is not HOP_STDIO_PIPE (and for a NULL process or an
 * fd other than 0, 1 and 2). The stream belongs to the
 * caller from the spawn on, whatever this returns: close it with
 * hop_stream_close (closing stdin's pipe is how the child sees end of
 * file); hop_process_close does not close it. Any thread; never suspends. */
HOP_EXTERN hop_stream_t *hop_process_pipe(const hop_process_t *process, int fd);

/* hop_process_wait: waits until the child has exited (at once if it has)
 * and gives *exit_status (its exit code; 0 when a signal ended it) and
 * *term_signal (the signal that ended it, 0 when it exited); either may be
 * NULL. Several tasks may wait at once; every wait after the exit returns
 * at once. Task only; suspends. Returns 0; HOP_EINVAL (NULL process);
 * HOP_ECLOSED (closed before or during the wait); HOP_ENOTTASK;
 * HOP_ECANCELED / HOP_ETIMEDOUT (the child runs on; wait again later). */
HOP_EXTERN int hop_process_wait(hop_process_t *process, int64_t *exit_status, int *term_signal);

/* hop_process_kill: sends signum (SIGTERM, SIGKILL...; 0 checks that the
 * child is there) to the child, on the loop's thread, where its exit is
 * noticed, so the signal never reaches another process that was given its
 * pid. Task only; suspends briefly (not interruptible). Returns 0;
 * HOP_EINVAL (NULL, or a bad signal number); HOP_EALREADY (the child has
 * exited already: nothing sent); HOP_ECLOSED; HOP_ENOTTASK. */
HOP_EXTERN int hop_process_kill(hop_process_t *process, int signum);

/* hop_process_pid: the child's process id; 0 for NULL. Any thread. */
HOP_EXTERN int hop_process_pid(const hop_process_t *process);

/* hop_process_close: closes the process handle: tasks waiting on it wake
 * with HOP_ECLOSED, and the memory goes once the last call on it has
 * returned. It does not kill the child: close after the child has exited
 * (wait for it, or kill then wait), since libuv no longer reaps a child
 * whose handle is closed. Not interruptible. Task only (any thread once the
 * loop has closed the handle); suspends. Returns 0; HOP_EINVAL (NULL);
 * HOP_EALREADY (another close began first: the handle stays valid until
 * the last call on it, that close included, returns; a close after that is
 * a use after free); HOP_ENOTTASK. */
HOP_EXTERN int hop_process_close(hop_process_t *process);

#ifdef __cplusplus
}
#endif

#endif /* HOP_PROCESS_H */
