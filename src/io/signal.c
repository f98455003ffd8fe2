/* src/io/signal.c: signal watchers (hop/signal.h) over uv_signal_t.
 *
 * libuv's own handler turns a delivery into a callback on the loop thread,
 * where the watcher counts it. The count is the watcher's state: a wait
 * takes whatever has accumulated (at once, or when the next delivery comes),
 * so deliveries between two waits are never lost, and a cancelled wait only
 * forgets the waiter. */
#define _GNU_SOURCE /* <uv.h> needs POSIX types */
#include <signal.h>
#include <stdlib.h>

#include "core/fault.h"
#include "hop/signal.h"
#include "io/io_internal.h"

struct hop_signal_s {
    hop__io_handle_t h;
    uv_signal_t uv;
    int signum;
    uint64_t pending;          /* atomic: written on the loop thread only */
    hop__io_op_t *waiter;      /* loop thread: the wait for the next delivery */
    unsigned int waiting_task; /* atomic: a task is inside hop_signal_wait */
};

typedef struct {
    hop__io_op_t op;
    hop_signal_t *w;
    uint64_t taken; /* the deliveries this wait consumed */
} hop__signal_wait_t;

/* Loop thread: hands every counted delivery to wait. */
static void hop__signal_take(hop_signal_t *w, hop__signal_wait_t *wait) {
    wait->taken = hop__atomic_load_u64(&w->pending);
    hop__atomic_store_u64(&w->pending, 0);
}

static void hop__signal_cb(uv_signal_t *uv, int signum) {
    (void)signum;
    hop_signal_t *w = (hop_signal_t *)uv->data;
    hop__atomic_store_u64(&w->pending, hop__atomic_load_u64(&w->pending) + 1);
    hop__io_op_t *op = w->waiter;
    if (op) {
        w->waiter = NULL;
        hop__signal_take(w, (hop__signal_wait_t *)op);
        hop__io_op_complete(op, 0);
    }
}

static void hop__signal_wake(hop__io_handle_t *h, int status) {
    hop_signal_t *w = (hop_signal_t *)h;
    hop__io_op_t *op = w->waiter;
    if (op) {
        w->waiter = NULL;
        hop__io_op_complete(op, status);
    }
}

static void hop__signal_destroy(hop__io_handle_t *h) { free(h); }

typedef struct {
    hop_signal_t *w;
    bool ran;
} hop__signal_open_t;

/* Loop thread. On failure the watcher is gone (freed, or closing). */
static int hop__signal_open_on_loop(void *arg) {
    hop__signal_open_t *a = arg;
    hop_signal_t *w = a->w;
    a->ran = true;
    uv_loop_t *uv = hop_loop_uv(w->h.loop);
    if (!uv) {
        free(w);
        return HOP_ECLOSED;
    }
    int err = hop__uv_init(uv_signal_init(uv, &w->uv));
    if (err) {
        free(w);
        return hop__io_error(err);
    }
    hop__io_handle_opened(&w->h);
    err = uv_signal_start(&w->uv, hop__signal_cb, w->signum);
    if (err) {
        hop__io_handle_close_now(&w->h);
        return hop__io_error(err);
    }
    hop__io_handle_adopt(&w->h);
    return 0;
}

int hop_signal_open(hop_loop_t *loop, int signum, hop_signal_t **watcher) {
    if (watcher)
        *watcher = NULL;
    loop = loop ? loop : hop_loop_current();
    if (!watcher || !loop || signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_signal_t *w = hop__calloc(1, sizeof *w);
    if (!w)
        return HOP_ENOMEM;
    w->signum = signum;
    hop__io_handle_init(&w->h, loop, (uv_handle_t *)&w->uv, hop__signal_wake, hop__signal_destroy);
    hop__signal_open_t a = {.w = w};
    int err = hop__io_call_on_loop(loop, hop__signal_open_on_loop, &a);
    if (err && !a.ran)
        free(w);
    if (err)
        return err;
    *watcher = w;
    return 0;
}

static int hop__signal_wait_start(hop__io_op_t *op) {
    hop__signal_wait_t *wait = (hop__signal_wait_t *)op;
    hop_signal_t *w = wait->w;
    if (hop__atomic_load_uint(&w->h.closing))
        return HOP_ECLOSED;
    if (hop__atomic_load_u64(&w->pending)) {
        hop__signal_take(w, wait);
        return 0;
    }
    w->waiter = op;
    return HOP__IO_PENDING;
}

static int hop__signal_wait_cancel(hop__io_op_t *op) {
    hop_signal_t *w = ((hop__signal_wait_t *)op)->w;
    if (w->waiter != op)
        return HOP_EALREADY;
    w->waiter = NULL; /* deliveries from now on wait in the count */
    return 0;
}

int64_t hop_signal_wait(hop_signal_t *watcher) {
    if (!watcher)
        return HOP_EINVAL;
    int err = hop__io_handle_enter(&watcher->h);
    if (err)
        return err;
    if (!hop__atomic_cas_uint(&watcher->waiting_task, 0u, 1u)) {
        hop__io_handle_leave(&watcher->h);
        return HOP_EBUSY;
    }
    hop__signal_wait_t wait = {.w = watcher};
    hop__io_op_describe_as(&wait.op, "signal wait", "signal", watcher->signum, NULL);
    err = hop__io_op_run(&wait.op, watcher->h.loop, hop__signal_wait_start, hop__signal_wait_cancel);
    hop__atomic_store_uint(&watcher->waiting_task, 0u);
    hop__io_handle_leave(&watcher->h);
    return err ? err : (int64_t)wait.taken;
}

uint64_t hop_signal_pending(const hop_signal_t *watcher) {
    return watcher ? hop__atomic_load_u64((uint64_t *)&watcher->pending) : 0;
}

int hop_signal_number(const hop_signal_t *watcher) { return watcher ? watcher->signum : 0; }

int hop_signal_close(hop_signal_t *watcher) {
    if (!watcher)
        return HOP_EINVAL;
    return hop__io_handle_close(&watcher->h);
}
