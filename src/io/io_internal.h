/* src/io/io_internal.h: the one way hop's I/O modules run a libuv operation
 * for a task, whatever thread the task is on.
 *
 * THE RULE. A handle belongs to the hop loop it was opened on, and libuv may
 * only be called on that loop's thread. Any task (on a pool worker, on
 * another loop, on the same loop) may start an operation on the handle: it
 * awaits a hop__io_op_t, whose start function runs on the handle's loop and
 * whose completion, from the libuv callback, resumes the task on its own
 * executor. Every module in src/io/ (streams, TCP, DNS, and UDP, files,
 * processes and signals) is built on this and on nothing else that crosses
 * threads.
 *
 * HOW AN OPERATION RUNS (hop__io_op_run):
 *   1. The caller, on the task's stack, fills its operation: a struct that
 *      embeds hop__io_op_t first, plus its request (uv_write_t, uv_fs_t,
 *      uv_getaddrinfo_t, ...) and arguments. It lives on the task's stack:
 *      nothing is allocated per operation.
 *   2. hop__io_op_run(op, loop, start, cancel) awaits it. In suspend(): if
 *      the task is on loop's thread, start(op) runs right there; otherwise a
 *      job (op->start_job) is posted to loop and start(op) runs in it. If the
 *      loop refuses the job (closed), the operation completes at once with
 *      HOP_ECLOSED and start never runs.
 *   3. start(op), on the loop thread, calls libuv. It returns
 *      HOP__IO_PENDING when a libuv callback will finish the operation, or a
 *      status (0 or a HOP_E* code) when it is finished already (an error from
 *      libuv, data that was already buffered...): hop completes the
 *      operation with that status.
 *   4. The libuv callback (loop thread) calls hop__io_op_complete(op, status)
 *      exactly once. From then on op may be gone (the task may have resumed
 *      and left the frame it lives in): touch nothing of op after it, and
 *      make sure no later callback can reach op (stop the watcher first, or
 *      keep the request's memory outside op: see "Requests" below).
 *   5. The task resumes on its own executor (a pool task on the pool, a task
 *      of another loop on that loop) and hop__io_op_run returns the status.
 *
 * INTERRUPTS. The operation is interruptible from any thread (hop_task_cancel,
 * deadlines, hop_await_timeout, hop_awaitable_interrupt) and cancel(op) always
 * runs on the loop thread: hop__io_op_run names the loop as the awaitable's
 * cancel executor (hop/awaitable.h). Because a loop runs its jobs in order,
 * cancel runs after start even when start was posted. cancel(op) is only
 * called while the operation is still pending (started, not completed) and
 * returns:
 *   0             the operation is withdrawn: libuv will never again call
 *                 back for it (uv_read_stop, uv_timer_stop, uv_fs_cancel that
 *                 succeeded...), nothing refers to op any more, and the task
 *                 resumes with the interrupt's status;
 *   HOP_EALREADY  it cannot be withdrawn (a uv_write_t already queued, a
 *                 uv_fs_t already running in libuv's pool): the libuv
 *                 callback will come and call hop__io_op_complete, and the
 *                 task resumes with the status given there (which may be the
 *                 interrupt's: op->interrupted says that cancel was called,
 *                 op->interrupt_status with which status).
 *   A NULL cancel makes the operation uninterruptible once started.
 *   If the loop has closed by the time the interrupt comes, the interrupt is
 *   dropped (the core's rule) and the operation ends as the loop's close
 *   ends it.
 *
 * REQUESTS. A libuv request on the task's stack must not be reachable by
 * libuv once the task resumes: an operation whose request cannot be
 * withdrawn (cancel returns HOP_EALREADY) keeps the task suspended until its
 * callback has run. Where that is unacceptable (a write stuck behind a full
 * kernel buffer), keep the in-flight request in the handle instead (which
 * lives until uv_close's callback) and let cancel detach op from it.
 *
 * HANDLES (hop__io_handle_t). A module's handle struct embeds
 * hop__io_handle_t and its uv handle. It is allocated when opened and
 * initialised with hop__io_handle_init (any thread; refs = 1, the uv
 * handle's reference). Then, on the loop thread:
 *   - right after uv_*_init: hop__io_handle_opened(h), which links h into
 *     its loop's list of open handles (see "WHEN THE LOOP CLOSES");
 *   - when the operation that made it succeeds, before its completion:
 *     hop__io_handle_adopt(h), the owner's reference (the user's, dropped
 *     only by the user's close), so that h's memory outlives a close by
 *     the loop. A module that must give up a handle it never handed out (a
 *     connect that failed or was cancelled) closes it with
 *     hop__io_handle_close_now instead, and libuv's close callback frees it.
 * A public call takes a reference for its duration (hop__io_handle_enter /
 * _leave), so a task woken with HOP_ECLOSED by a close can still look at
 * the handle; the last reference frees it (destroy). Closing
 * (hop__io_handle_close, the user's) wakes every operation waiting on the
 * handle through the module's wake function (which completes them with
 * HOP_ECLOSED), then calls uv_close and waits for its callback.
 *
 * WHEN THE LOOP CLOSES. hop_loop_close does not wait for handles to be
 * closed by their users: as soon as the loop starts closing (before it waits
 * for its tasks), its thread closes every handle still on its list exactly
 * as a close would (waiters wake with HOP_ECLOSED: a task waiting on a read,
 * an accept, a recv_from... finishes instead of holding close forever;
 * then uv_close, whose callback runs before uv_loop_close). A handle opened
 * on a closing loop is closed at the loop's next turn. From then on every
 * call on the handle returns HOP_ECLOSED, and its memory stays until its
 * owner calls the module's close, which then only releases it: it returns
 * 0, from any thread (a task is not needed: no loop is involved any more).
 * The mechanism is the loop's list of open handles (core/loop_handles.h,
 * defined in executors/loop.c); hop__io_handle_opened puts a
 * hop__io_handle_t on it, so a module built on hop__io_handle_t needs
 * nothing else. Something that is not a uv handle (an open file
 * descriptor, a request that must be withdrawn) may link its own
 * hop__loop_handle_t with its own close function, on the loop thread.
 *
 * THREADS. start, cancel, libuv callbacks and hop__io_op_complete: the loop
 * thread only. hop__io_op_run: a task, any executor. The fields the task and
 * the loop thread both touch after the operation started are published by
 * the completion (hop_awaitable_complete is the hand-over). */
#ifndef HOP_SRC_IO_INTERNAL_H
#define HOP_SRC_IO_INTERNAL_H

#include <uv.h>

#include "core/internal.h"
#include "core/loop_handles.h"

/* start's "a callback will finish it". Positive: never a status. */
#define HOP__IO_PENDING 1

/* The room for a path or host name in an operation's description. */
#define HOP__IO_TEXT_MAX 48

typedef struct hop__io_op_s hop__io_op_t;
typedef int (*hop__io_op_fn)(hop__io_op_t *op);

struct hop__io_op_s {
    hop_awaitable_t base;
    hop_loop_t *loop;     /* the handle's loop */
    hop__io_op_fn start;  /* loop thread: starts the operation */
    hop__io_op_fn cancel; /* loop thread: withdraws it (NULL: cannot) */
    hop_job_t start_job;  /* posted when the task is off the loop */
    bool pending;         /* loop thread: started, not yet completed */
    bool interrupted;     /* loop thread: cancel was called... */
    int interrupt_status; /* ...with this status (HOP_ECANCELED, HOP_ETIMEDOUT...), for
                             an operation that ends as cancelled in its own callback */
    /* What hop_task_dump shows for a task waiting on it (hop__io_op_describe_as):
     * plain values, formatted only by a dump. Zero: the static name, "io". */
    const char *what;     /* "tcp read", "fs open"... (a literal) */
    const char *label;    /* "fd", "pid", "signal"... (a literal), NULL: no number */
    long number;
    char text[HOP__IO_TEXT_MAX]; /* a path or host name, cut to fit; "" when none */
};

/* hop__io_op_describe_as: what op is, for hop_task_dump: "<what> <label>
 * <number> <text>" (label NULL: no number; text NULL: none; text is copied,
 * cut at HOP__IO_TEXT_MAX - 1 bytes). The caller's stack, before
 * hop__io_op_run; costs a few stores (and the copy of text). */
static inline void hop__io_op_describe_as(hop__io_op_t *op, const char *what, const char *label, long number,
                                          const char *text) {
    op->what = what;
    op->label = label;
    op->number = number;
    size_t i = 0;
    if (text)
        for (; text[i] && i < HOP__IO_TEXT_MAX - 1; i++)
            op->text[i] = text[i];
    op->text[i] = '\0';
}

/* hop__io_op_run: awaits op on loop as described above and returns its
 * status: start's or hop__io_op_complete's; the interrupt's status when
 * cancel withdrew it; HOP_ECLOSED when loop is closed; HOP_ECANCELED /
 * HOP_ETIMEDOUT before anything started when the task already had an
 * interrupt pending; HOP_ENOTTASK outside a task. Task only; suspends
 * (or not, when start finishes at once on the loop's own thread). */
int hop__io_op_run(hop__io_op_t *op, hop_loop_t *loop, hop__io_op_fn start, hop__io_op_fn cancel);

/* hop__io_op_complete: finishes a pending op with status (loop thread, once;
 * op may be gone when it returns). */
void hop__io_op_complete(hop__io_op_t *op, int status);

/* hop__io_on_loop: true when the caller runs on loop's thread (a task on the
 * loop, a job or a libuv callback there). An opaque call: inside a task, ask
 * again after every await. */
bool hop__io_on_loop(hop_loop_t *loop);

/* hop__io_error: a libuv error (negative) as a HOP_E* code; 0 stays 0.
 * UV_EOF is HOP_EOF; unlisted errors are HOP_EIO. */
int hop__io_error(int uv_error);

/* ---- handles ----------------------------------------------------------- */

typedef struct hop__io_handle_s hop__io_handle_t;

struct hop__io_handle_s {
    hop_loop_t *loop;
    uv_handle_t *uv;                               /* the module's uv handle, inside the same allocation */
    int fd;                                        /* its file descriptor, for hop_task_dump: set on the
                                                      loop thread when adopted (published by that
                                                      operation's completion); -1 when it has none */
    void (*wake)(hop__io_handle_t *h, int status); /* loop thread: complete every
                                                      waiting op with status */
    void (*destroy)(hop__io_handle_t *h);          /* frees the allocation */
    unsigned int refs;    /* atomic: 1 while the uv handle is open, 1 for the owner once
                             adopted, + 1 per call in flight */
    unsigned int closing; /* atomic: close has begun; new calls get HOP_ECLOSED */
    unsigned int owned;   /* atomic: adopted, and the owner's close has not run yet */
    bool uv_closed;       /* loop thread: uv_close was called */
    hop__io_op_t *closer; /* loop thread: the close op waiting for uv_close's callback */
    hop__loop_handle_t link; /* loop thread: on the loop's list of open handles */
};

/* hop__io_handle_init: h belongs to loop; uv is its uv handle (initialised
 * by the caller on the loop thread, its data pointing at h). refs = 1. */
void hop__io_handle_init(hop__io_handle_t *h, hop_loop_t *loop, uv_handle_t *uv,
                         void (*wake)(hop__io_handle_t *h, int status), void (*destroy)(hop__io_handle_t *h));

/* hop__io_handle_opened: loop thread, right after the uv handle's init:
 * sets h->uv->data to h and links h into its loop's list of open handles,
 * so that a closing loop closes it (see "WHEN THE LOOP CLOSES"). */
void hop__io_handle_opened(hop__io_handle_t *h);

/* hop__io_handle_adopt: loop thread, when the operation that made h
 * succeeds (before it completes): the owner's reference, which only the
 * owner's hop__io_handle_close drops. A handle never adopted is freed as
 * soon as its uv handle is closed. */
void hop__io_handle_adopt(hop__io_handle_t *h);

/* hop__io_handle_enter: takes a reference for a public call on h; returns
 * 0, or HOP_ECLOSED (no reference taken) once close has begun. Any thread,
 * while the caller's own right to use h (it has not closed it) holds. */
int hop__io_handle_enter(hop__io_handle_t *h);

/* hop__io_handle_leave: drops it; the last reference frees h. Any thread. */
void hop__io_handle_leave(hop__io_handle_t *h);

/* hop__io_handle_close: the owner's close. From a task: wakes h's waiters
 * with HOP_ECLOSED, uv_close, waits for the close callback; then drops the
 * owner's reference. When h's loop has closed it already, it only drops
 * that reference (any thread). Returns 0; HOP_EALREADY (closed already by
 * another close: only while the caller holds a reference of its own);
 * HOP_ENOTTASK (not a task, and h is still open). Uninterruptible: the
 * handle is closed when it returns (on a closing loop that refused the
 * job: as soon as the loop's thread gets to it). */
int hop__io_handle_close(hop__io_handle_t *h);

/* hop__io_handle_close_now: the same from the loop thread, without
 * waiting: for a module that must give up a handle it never handed out
 * (never adopted: a connect that failed or was cancelled); libuv's close
 * callback frees it. Nothing if closing already. */
void hop__io_handle_close_now(hop__io_handle_t *h);

/* hop__io_call_on_loop: runs fn(arg) on loop's thread for a task and
 * returns its value (a job posted to the loop, or a direct call when the task
 * is there already). For opening handles: uv_*_init must run there.
 * Uninterruptible (it is short). HOP_ECLOSED when the loop is closed. */
int hop__io_call_on_loop(hop_loop_t *loop, int (*fn)(void *arg), void *arg);

/* hop__io_ignore_sigpipe: makes sure a write to a peer that went away fails
 * with EPIPE instead of killing the process: sets SIGPIPE to SIG_IGN if it
 * still has its default action (a handler the application installed is
 * left alone). Called once when the first handle is opened. */
void hop__io_ignore_sigpipe(void);

#endif /* HOP_SRC_IO_INTERNAL_H */
