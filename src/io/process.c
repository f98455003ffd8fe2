/* src/io/process.c: child processes (hop/process.h) over uv_spawn.
 *
 * The process handle and the pipes' streams are made on the loop thread in
 * one go (uv_spawn initialises the pipes it is given). libuv notices the
 * child's exit on the loop thread (its SIGCHLD handling reaps the loop's
 * children there) and calls the exit callback, which records the status and
 * wakes every waiting task. A wait is a node in the process's list of
 * waiters; cancelling it unlinks the node, and the child runs on. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "hop/process.h"
#include "io/stream_internal.h"

typedef struct hop__process_wait_s hop__process_wait_t;

struct hop__process_wait_s {
    hop__io_op_t op;
    hop_process_t *p;
    hop__process_wait_t *prev, *next; /* loop thread: the process's waiters */
};

struct hop_process_s {
    hop__io_handle_t h;
    uv_process_t uv;
    int pid;
    hop_stream_t *pipes[3];
    /* Loop thread; read by a task once its wait completed (the completion
     * publishes them). */
    bool exited;
    int64_t exit_status;
    int term_signal;
    hop__process_wait_t *waiters;
};

/* ---- exit and waits ------------------------------------------------------------ */

static void hop__process_unlink(hop_process_t *p, hop__process_wait_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        p->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->prev = w->next = NULL;
}

/* Loop thread: completes every waiter with status. */
static void hop__process_wake_all(hop_process_t *p, int status) {
    while (p->waiters) {
        hop__process_wait_t *w = p->waiters;
        hop__process_unlink(p, w);
        hop__io_op_complete(&w->op, status); /* w may be gone from here */
    }
}

static void hop__process_exit_cb(uv_process_t *uv, int64_t exit_status, int term_signal) {
    hop_process_t *p = (hop_process_t *)uv->data;
    p->exited = true;
    p->exit_status = exit_status;
    p->term_signal = term_signal;
    hop__process_wake_all(p, 0);
}

static void hop__process_wake(hop__io_handle_t *h, int status) {
    hop__process_wake_all((hop_process_t *)h, status);
}

static void hop__process_destroy(hop__io_handle_t *h) { free(h); }

static int hop__process_wait_start(hop__io_op_t *op) {
    hop__process_wait_t *w = (hop__process_wait_t *)op;
    hop_process_t *p = w->p;
    if (hop__atomic_load_uint(&p->h.closing))
        return HOP_ECLOSED;
    if (p->exited)
        return 0;
    w->prev = NULL;
    w->next = p->waiters;
    if (p->waiters)
        p->waiters->prev = w;
    p->waiters = w;
    return HOP__IO_PENDING;
}

static int hop__process_wait_cancel(hop__io_op_t *op) {
    hop__process_wait_t *w = (hop__process_wait_t *)op;
    hop_process_t *p = w->p;
    /* Pending means linked: the exit and close take a waiter off the list
     * as they complete it, and cancel only sees pending operations. */
    hop__process_unlink(p, w);
    return 0;
}

int hop_process_wait(hop_process_t *process, int64_t *exit_status, int *term_signal) {
    if (!process)
        return HOP_EINVAL;
    int err = hop__io_handle_enter(&process->h);
    if (err)
        return err;
    hop__process_wait_t w = {.p = process};
    hop__io_op_describe_as(&w.op, "process wait", "pid", process->pid, NULL);
    err = hop__io_op_run(&w.op, process->h.loop, hop__process_wait_start, hop__process_wait_cancel);
    if (err == 0) {
        if (exit_status)
            *exit_status = process->exit_status;
        if (term_signal)
            *term_signal = process->term_signal;
    }
    hop__io_handle_leave(&process->h);
    return err;
}

/* ---- kill -------------------------------------------------------------------- */

typedef struct {
    hop_process_t *p;
    int signum;
} hop__process_kill_t;

static int hop__process_kill_on_loop(void *arg) {
    hop__process_kill_t *k = arg;
    if (hop__atomic_load_uint(&k->p->h.closing))
        return HOP_ECLOSED;
    if (k->p->exited)
        return HOP_EALREADY; /* reaped: its pid may be someone else's now */
    int err = uv_process_kill(&k->p->uv, k->signum);
    return err == UV_ESRCH ? HOP_EALREADY : hop__io_error(err);
}

int hop_process_kill(hop_process_t *process, int signum) {
    if (!process || signum < 0 || signum >= NSIG)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    int err = hop__io_handle_enter(&process->h);
    if (err)
        return err;
    hop__process_kill_t k = {.p = process, .signum = signum};
    err = hop__io_call_on_loop(process->h.loop, hop__process_kill_on_loop, &k);
    hop__io_handle_leave(&process->h);
    return err;
}

/* ---- spawn -------------------------------------------------------------------- */

typedef struct {
    hop_process_t *p;
    const char *const *argv;
    const hop_process_options_t *options;
    bool ran;
} hop__process_spawn_t;

/* Loop thread. On failure the process and its pipes are gone (freed, or
 * closing: libuv's close callbacks free them). */
static int hop__process_spawn_on_loop(void *arg) {
    hop__process_spawn_t *a = arg;
    hop_process_t *p = a->p;
    a->ran = true;
    uv_loop_t *uv = hop_loop_uv(p->h.loop);
    int err = uv ? 0 : HOP_ECLOSED;
    int opened = 0; /* pipes[0..opened) have uv handles */
    uv_stdio_container_t stdio[3];
    for (int fd = 0; fd < 3 && !err; fd++) {
        memset(&stdio[fd], 0, sizeof stdio[fd]);
        switch (a->options->stdio[fd]) {
        case HOP_STDIO_INHERIT:
            stdio[fd].flags = UV_INHERIT_FD;
            stdio[fd].data.fd = fd;
            break;
        case HOP_STDIO_IGNORE:
            stdio[fd].flags = UV_IGNORE;
            break;
        case HOP_STDIO_PIPE:
            err = hop__io_error(hop__uv_init(uv_pipe_init(uv, &p->pipes[fd]->uv.pipe, 0)));
            if (err)
                break;
            hop__stream_opened(p->pipes[fd]);
            opened = fd + 1;
            /* Readable and writable as the child sees them. */
            stdio[fd].flags = UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
            stdio[fd].data.stream = &p->pipes[fd]->uv.stream;
            break;
        }
    }
    bool spawned = false;
    if (!err) {
        uv_process_options_t o;
        memset(&o, 0, sizeof o);
        o.exit_cb = hop__process_exit_cb;
        o.file = a->argv[0];
        o.args = (char **)a->argv;
        o.env = (char **)a->options->env;
        o.cwd = a->options->cwd;
        o.stdio_count = 3;
        o.stdio = stdio;
        /* uv_spawn initialises the handle even when it fails: from here on it
         * is closed with uv_close, which frees p. */
        err = hop__io_error(uv_spawn(uv, &p->uv, &o));
        hop__io_handle_opened(&p->h);
        spawned = true;
        if (!err)
            p->pid = p->uv.pid;
    }
    if (!err) {
        /* Handed out: the caller owns the process handle and each pipe. */
        hop__io_handle_adopt(&p->h);
        for (int fd = 0; fd < 3; fd++)
            if (p->pipes[fd])
                hop__io_handle_adopt(&p->pipes[fd]->h);
        return 0;
    }
    for (int fd = 0; fd < 3; fd++) {
        if (!p->pipes[fd])
            continue;
        if (fd < opened)
            hop__io_handle_close_now(&p->pipes[fd]->h);
        else
            hop__stream_free(p->pipes[fd]);
    }
    if (spawned)
        hop__io_handle_close_now(&p->h);
    else
        free(p);
    return err;
}

int hop_process_spawn(hop_loop_t *loop, const char *const argv[], const hop_process_options_t *options,
                      hop_process_t **process) {
    static const hop_process_options_t defaults = {0};
    if (process)
        *process = NULL;
    loop = loop ? loop : hop_loop_current();
    if (!options)
        options = &defaults;
    if (!process || !loop || !argv || !argv[0] || !argv[0][0])
        return HOP_EINVAL;
    for (int fd = 0; fd < 3; fd++)
        if ((unsigned int)options->stdio[fd] > HOP_STDIO_PIPE)
            return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_process_t *p = hop__calloc(1, sizeof *p);
    if (!p)
        return HOP_ENOMEM;
    for (int fd = 0; fd < 3; fd++) {
        if (options->stdio[fd] != HOP_STDIO_PIPE)
            continue;
        p->pipes[fd] = hop__stream_new(loop, &options->pipe_options);
        if (!p->pipes[fd]) {
            for (int i = 0; i < fd; i++)
                if (p->pipes[i])
                    hop__stream_free(p->pipes[i]);
            free(p);
            return HOP_ENOMEM;
        }
    }
    hop__io_handle_init(&p->h, loop, (uv_handle_t *)&p->uv, hop__process_wake, hop__process_destroy);
    hop__process_spawn_t a = {.p = p, .argv = argv, .options = options};
    int err = hop__io_call_on_loop(loop, hop__process_spawn_on_loop, &a);
    if (err && !a.ran) { /* the loop refused the job */
        for (int fd = 0; fd < 3; fd++)
            if (p->pipes[fd])
                hop__stream_free(p->pipes[fd]);
        free(p);
    }
    if (err)
        return err;
    *process = p;
    return 0;
}

hop_stream_t *hop_process_pipe(const hop_process_t *process, int fd) {
    return process && fd >= 0 && fd < 3 ? process->pipes[fd] : NULL;
}

int hop_process_pid(const hop_process_t *process) { return process ? process->pid : 0; }

int hop_process_close(hop_process_t *process) {
    if (!process)
        return HOP_EINVAL;
    return hop__io_handle_close(&process->h);
}
