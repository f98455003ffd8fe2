/* hop/signal.h: POSIX signals delivered to tasks, over libuv's uv_signal_t.
 *
 *     hop_signal_t *sigint;
 *     hop_signal_open(loop, SIGINT, &sigint);   // counting starts here
 *     hop_signal_wait(sigint);                  // suspends until Ctrl-C
 *     ... stop accepting, drain, exit ...
 *     hop_signal_close(sigint);
 *
 * A watcher is like Go's signal.Notify channel: from the moment it is open,
 * every delivery of its signal is counted, whether a task is waiting or not,
 * and hop_signal_wait hands back all the deliveries since the last wait, so
 * none is lost between two waits. (The kernel itself merges a signal that
 * arrives while the same one is still pending: two quick kill()s may be one
 * delivery.) Several watchers, on one loop or several, may watch the same
 * signal: each counts every delivery. While a watcher of a signal is open,
 * the signal's default action (ending the process for SIGINT, SIGTERM...)
 * does not happen; when the last watcher of that signal closes, libuv puts
 * the default action back (SIG_DFL, not a handler the application had set
 * before).
 *
 * The rules of hop/stream.h hold: the watcher belongs to the loop it was
 * opened on; any task on any executor may wait on it and resumes on its own
 * executor; a wait honours hop_task_cancel, deadlines and interrupts from any
 * thread; close a watcher once. A closing loop closes its watchers as
 * hop/stream.h says under "Loop close" (a waiter wakes with HOP_ECLOSED;
 * hop_signal_close then only frees the watcher, from any thread). */
#ifndef HOP_SIGNAL_H
#define HOP_SIGNAL_H

#include "hop/common.h"
#include "hop/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_signal_s hop_signal_t;

/* hop_signal_open: starts counting deliveries of signum on loop (NULL: the
 * loop the calling task runs on). Task only; suspends (the watcher is set up
 * on the loop's thread). Returns 0 and *watcher (close it with
 * hop_signal_close); HOP_EINVAL (NULL watcher, no loop, a signal number that
 * is out of range or cannot be caught: SIGKILL, SIGSTOP); HOP_ENOMEM;
 * HOP_EMFILE (no descriptor left for libuv's signal pipe, made on a loop's
 * first watcher); HOP_ECLOSED (loop closed); HOP_ENOTTASK. */
HOP_EXTERN int hop_signal_open(hop_loop_t *loop, int signum, hop_signal_t **watcher);

/* hop_signal_wait: waits until the signal has been delivered at least once
 * since the watcher opened or since the last wait returned, and returns how
 * many times (those deliveries are then consumed). Returns at once when
 * deliveries are waiting. Task only; suspends. One waiter at a time.
 * Returns the count (>= 1); HOP_EINVAL (NULL); HOP_EBUSY (another task is
 * waiting on this watcher); HOP_ECLOSED (closed before or while waiting);
 * HOP_ENOTTASK; HOP_ECANCELED / HOP_ETIMEDOUT (nothing consumed: a
 * delivery that comes meanwhile waits for the next call). */
HOP_EXTERN int64_t hop_signal_wait(hop_signal_t *watcher);

/* hop_signal_pending: deliveries counted and not yet consumed by a wait.
 * Any thread; never suspends; 0 for NULL. */
HOP_EXTERN uint64_t hop_signal_pending(const hop_signal_t *watcher);

/* hop_signal_number: the signal the watcher counts; 0 for NULL. Any thread. */
HOP_EXTERN int hop_signal_number(const hop_signal_t *watcher);

/* hop_signal_close: stops counting (a task waiting on the watcher wakes
 * with HOP_ECLOSED) and frees the watcher once the last call on it has
 * returned. Not interruptible. Task only (any thread once the loop has
 * closed the watcher); suspends. Returns 0; HOP_EINVAL (NULL); HOP_EALREADY
 * (being closed already); HOP_ENOTTASK. */
HOP_EXTERN int hop_signal_close(hop_signal_t *watcher);

#ifdef __cplusplus
}
#endif

#endif /* HOP_SIGNAL_H */
