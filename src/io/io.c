/* src/io/io.c: running libuv operations for tasks on their handle's loop
 * (see io_internal.h), handles' lifetime, and libuv's errors as hop's. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types (pthread_rwlock_t), sigaction */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/task_internal.h"
#include "io/io_internal.h"

bool hop__io_on_loop(hop_loop_t *loop) { return hop_loop_current() == loop; }

/* ---- operations ---------------------------------------------------------- */

static void hop__io_op_begin(hop__io_op_t *op) {
    op->pending = true;
    int status = op->start(op);
    if (status != HOP__IO_PENDING)
        hop__io_op_complete(op, status);
}

static void hop__io_op_start_job(hop_job_t *job) {
    hop__io_op_begin(hop__container_of(job, hop__io_op_t, start_job));
}

static bool hop__io_op_suspend(hop_awaitable_t *aw) {
    hop__io_op_t *op = (hop__io_op_t *)aw;
    if (hop__io_on_loop(op->loop)) {
        /* A completion from start is held until this returns, then the task
         * continues here at once (the core's run side). */
        hop__io_op_begin(op);
        return true;
    }
    hop_job_init(&op->start_job, hop__io_op_start_job);
    int err = hop_loop_post(op->loop, &op->start_job);
    if (err != 0) /* start never runs: HOP_ECLOSED, or HOP_EINVAL for a loop never initialised */
        hop_awaitable_complete(aw, err);
    return true;
}

/* On the loop thread (the awaitable's cancel executor), after start. */
static int hop__io_op_cancel(hop_awaitable_t *aw) {
    hop__io_op_t *op = (hop__io_op_t *)aw;
    if (!op->pending)
        return HOP_EALREADY; /* completed: its completion is held, and wins */
    op->interrupted = true;
    op->interrupt_status = hop_awaitable_task(aw)->cancel_status; /* set before this job was posted */
    int err = op->cancel(op);
    if (err == 0)
        op->pending = false;
    return err;
}

/* For hop_task_dump, on the dump's copy of op (hop/awaitable.h): its own
 * values, and the literals what and label point to. */
static void hop__io_op_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    const hop__io_op_t *op = (const hop__io_op_t *)aw;
    if (!op->what)
        return; /* not described: the static name */
    int n = snprintf(buf, size, "%s", op->what);
    if (op->label && n >= 0 && (size_t)n < size)
        n += snprintf(buf + n, size - (size_t)n, " %s %ld", op->label, op->number);
    if (op->text[0] && n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, " %.*s", (int)sizeof op->text, op->text);
}

static const hop_awaitable_ops_t hop__io_op_ops = {.name = "io", .suspend = hop__io_op_suspend,
                                                   .cancel = hop__io_op_cancel, .describe = hop__io_op_describe,
                                                   .describe_size = sizeof(hop__io_op_t)};
static const hop_awaitable_ops_t hop__io_op_shielded_ops = {.name = "io (shielded)", .suspend = hop__io_op_suspend,
                                                            .describe = hop__io_op_describe,
                                                            .describe_size = sizeof(hop__io_op_t)};

int hop__io_op_run(hop__io_op_t *op, hop_loop_t *loop, hop__io_op_fn start, hop__io_op_fn cancel) {
    op->loop = loop;
    op->start = start;
    op->cancel = cancel;
    op->pending = false;
    op->interrupted = false;
    op->interrupt_status = 0;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    if (!cancel) {
        /* Uninterruptible (closing a handle, opening one): it runs even for a
         * cancelled task, which must not leak the handle. */
        hop_awaitable_init(&op->base, &hop__io_op_shielded_ops);
        return hop__await_shielded(&op->base);
    }
    hop_awaitable_init(&op->base, &hop__io_op_ops);
    hop_awaitable_set_cancel_executor(&op->base, hop_loop_executor(loop));
    return hop_await(&op->base);
}

void hop__io_op_complete(hop__io_op_t *op, int status) {
    op->pending = false;
    hop_awaitable_complete(&op->base, status);
}

/* ---- running a function on the loop -------------------------------------- */

typedef struct {
    hop__io_op_t op;
    int (*fn)(void *arg);
    void *arg;
} hop__io_call_t;

static int hop__io_call_start(hop__io_op_t *op) {
    hop__io_call_t *call = (hop__io_call_t *)op;
    return call->fn(call->arg);
}

int hop__io_call_on_loop(hop_loop_t *loop, int (*fn)(void *arg), void *arg) {
    if (hop__io_on_loop(loop))
        return fn(arg);
    hop__io_call_t call = {.fn = fn, .arg = arg};
    return hop__io_op_run(&call.op, loop, hop__io_call_start, NULL);
}

/* ---- handles ---------------------------------------------------------------- */

void hop__io_handle_init(hop__io_handle_t *h, hop_loop_t *loop, uv_handle_t *uv,
                         void (*wake)(hop__io_handle_t *h, int status),
                         void (*destroy)(hop__io_handle_t *h)) {
    h->loop = loop;
    h->uv = uv;
    h->wake = wake;
    h->destroy = destroy;
    h->fd = -1;
    h->refs = 1;
    h->closing = 0;
    h->owned = 0;
    h->uv_closed = false;
    h->closer = NULL;
    h->link = (hop__loop_handle_t){0};
    hop__io_ignore_sigpipe();
}

int hop__io_handle_enter(hop__io_handle_t *h) {
    hop__atomic_faa_uint(&h->refs, 1u);
    if (hop__atomic_load_uint(&h->closing)) {
        hop__io_handle_leave(h);
        return HOP_ECLOSED;
    }
    return 0;
}

void hop__io_handle_leave(hop__io_handle_t *h) {
    if (hop__atomic_faa_uint(&h->refs, (unsigned int)-1) == 1u)
        h->destroy(h);
}

static void hop__io_handle_close_cb(uv_handle_t *uv) {
    hop__io_handle_t *h = uv->data;
    hop__io_op_t *closer = h->closer;
    h->closer = NULL;
    if (closer)
        hop__io_op_complete(closer, 0);
    hop__io_handle_leave(h); /* the open reference: the uv handle is done */
}

/* Loop thread: refuses new calls, wakes the waiters, closes the uv handle;
 * false when the uv handle was closed already (by its loop's close, or
 * another close). Whoever gets here first closes it. */
static bool hop__io_handle_shut(hop__io_handle_t *h) {
    hop__atomic_store_uint(&h->closing, 1u);
    if (h->uv_closed)
        return false;
    h->uv_closed = true;
    hop__loop_handle_unlink(h->loop, &h->link);
    /* Waiters first: their operations end with HOP_ECLOSED before the
     * handle goes (uv_close would end some of them silently). */
    h->wake(h, HOP_ECLOSED);
    uv_close(h->uv, hop__io_handle_close_cb);
    return true;
}

/* The closing loop's close function for an open handle (loop thread). */
static void hop__io_handle_loop_close(hop__loop_handle_t *lh) {
    hop__io_handle_shut(hop__container_of(lh, hop__io_handle_t, link));
}

void hop__io_handle_opened(hop__io_handle_t *h) {
    h->uv->data = h;
    h->link.close = hop__io_handle_loop_close;
    hop__loop_handle_link(h->loop, &h->link);
}

void hop__io_handle_adopt(hop__io_handle_t *h) {
    uv_os_fd_t fd;
    /* Known by now (a TCP socket exists once bound, connected or accepted). */
    h->fd = uv_fileno(h->uv, &fd) == 0 ? (int)fd : -1;
    hop__atomic_faa_uint(&h->refs, 1u);
    hop__atomic_store_uint(&h->owned, 1u);
}

void hop__io_handle_close_now(hop__io_handle_t *h) {
    if (!hop__atomic_cas_uint(&h->closing, 0u, 1u))
        return;
    hop__io_handle_shut(h);
}

typedef struct {
    hop__io_op_t op;
    hop__io_handle_t *h;
} hop__io_close_t;

static int hop__io_close_start(hop__io_op_t *op) {
    hop__io_handle_t *h = ((hop__io_close_t *)op)->h;
    if (h->uv_closed)
        return 0; /* the loop's close came first: its callback needs no waiter */
    h->closer = op;
    hop__io_handle_shut(h);
    return HOP__IO_PENDING;
}

int hop__io_handle_close(hop__io_handle_t *h) {
    bool task = hop_task_current() != NULL;
    /* A handle its closing loop has closed needs no loop any more: only
     * its memory is left to release, which any thread may do. */
    if (!task && !hop__atomic_load_uint(&h->closing))
        return HOP_ENOTTASK;
    hop__atomic_faa_uint(&h->refs, 1u); /* ours until close returns */
    bool owner = hop__atomic_cas_uint(&h->owned, 1u, 0u);
    int err = 0;
    if (hop__atomic_cas_uint(&h->closing, 0u, 1u)) {
        /* A task (see above). HOP_ECLOSED: the loop is closing and refused
         * the job; it closes the handle itself (it is on its list). */
        hop__io_close_t close = {.h = h};
        err = hop__io_op_run(&close.op, h->loop, hop__io_close_start, NULL);
        if (err == HOP_ECLOSED)
            err = 0;
    } else if (!owner) {
        err = HOP_EALREADY;
    }
    if (owner)
        hop__io_handle_leave(h); /* the owner's reference */
    hop__io_handle_leave(h);
    return err;
}

/* ---- SIGPIPE ----------------------------------------------------------------- */

static pthread_once_t hop__io_sigpipe_once = PTHREAD_ONCE_INIT;

static void hop__io_sigpipe_setup(void) {
    struct sigaction current;
    if (sigaction(SIGPIPE, NULL, &current) != 0)
        return;
    if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_DFL) {
        struct sigaction ignore = {0};
        ignore.sa_handler = SIG_IGN;
        sigemptyset(&ignore.sa_mask);
        sigaction(SIGPIPE, &ignore, NULL);
    }
}

void hop__io_ignore_sigpipe(void) { pthread_once(&hop__io_sigpipe_once, hop__io_sigpipe_setup); }

/* ---- errors -------------------------------------------------------------- */

int hop__io_error(int uv_error) {
    switch (uv_error) {
    case 0:
        return 0;
    case UV_EOF:
        return HOP_EOF;
    case UV_ECONNRESET:
    case UV_ECONNABORTED:
        return HOP_ECONNRESET;
    case UV_EPIPE:
    case UV_ESHUTDOWN:
        return HOP_EPIPE;
    case UV_ECONNREFUSED:
        return HOP_ECONNREFUSED;
    case UV_EADDRINUSE:
        return HOP_EADDRINUSE;
    case UV_EHOSTUNREACH:
    case UV_ENETUNREACH:
    case UV_ENETDOWN:
    case UV_EHOSTDOWN:
        return HOP_EHOSTUNREACH;
    case UV_EAI_NONAME:
    case UV_EAI_NODATA:
    case UV_EAI_FAIL:
    case UV_EAI_AGAIN:
    case UV_EAI_SERVICE:
    case UV_EAI_ADDRFAMILY:
        return HOP_ENAMELOOKUP;
    case UV_EAI_MEMORY:
    case UV_ENOMEM:
    case UV_ENOBUFS:
        return HOP_ENOMEM;
    case UV_EAI_FAMILY:
    case UV_EAI_SOCKTYPE:
    case UV_EAI_BADFLAGS:
    case UV_EAI_BADHINTS:
    case UV_EAI_PROTOCOL:
    case UV_EINVAL:
    case UV_EAFNOSUPPORT:
    case UV_EADDRNOTAVAIL:
    case UV_ENAMETOOLONG:
        return HOP_EINVAL;
    case UV_EAI_CANCELED:
    case UV_ECANCELED:
        return HOP_ECANCELED;
    case UV_ETIMEDOUT:
        return HOP_ETIMEDOUT;
    case UV_EAGAIN:
        return HOP_EAGAIN;
    case UV_EBUSY:
        return HOP_EBUSY;
    case UV_EALREADY:
        return HOP_EALREADY;
    case UV_EMFILE:
    case UV_ENFILE:
        return HOP_EMFILE;
    case UV_ENOENT:
        return HOP_ENOENT;
    case UV_EEXIST:
        return HOP_EEXIST;
    case UV_EACCES:
    case UV_EPERM:
        return HOP_EACCES;
    case UV_ENOTSUP:
        return HOP_ENOTSUP;
    case UV_EMSGSIZE:
        return HOP_EMSGSIZE;
    case UV_EBADF:
        return HOP_ECLOSED;
    case UV_ENOTCONN:
        return HOP_ESTATE;
    default:
        return HOP_EIO;
    }
}
