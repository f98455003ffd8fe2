/* src/core/future.c: one-shot futures.
 *
 * state holds three bits. LOCKED guards the wait queue (waitq.h) for a few
 * pointer writes. CLAIMED marks the one completer, and is taken in the same
 * CAS as the lock (one locked instruction per completion). DONE is set by
 * the completer in the same store that drops the lock, and after that store
 * the completer never touches the future again (only the waiters it took),
 * so a thread that sees DONE may free the future.
 *
 *   complete:  CAS 0 -> CLAIMED | LOCKED (a state with CLAIMED already:
 *              another completer won), write status and result, take every
 *              waiter, store CLAIMED | DONE (release), then notify the taken
 *              waiters in arrival order. A waiter that finds CLAIMED without
 *              DONE waits the few stores until DONE.
 *   wait:      take LOCKED unless DONE; queue; unlock.  DONE instead means
 *              the result is there: no waiting at all.
 *   withdraw:  take LOCKED unless DONE; cancel the node if still queued;
 *              unlock.  DONE, or a node no longer queued, instead means the
 *              completer owns the node and will notify it: wait for that. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "internal.h"
#include "task_internal.h"
#include "waitq.h"

#define HOP__FUTURE_LOCKED 1u
#define HOP__FUTURE_DONE 2u
#define HOP__FUTURE_CLAIMED 4u

int hop_future_init(hop_future_t *future) {
    if (!future)
        return HOP_EINVAL;
    future->state = 0;
    future->claimed = 0;
    future->status = 0;
    future->result = NULL;
    future->reserved[0] = NULL; /* not a task's (hop_task_spawn sets it for its own) */
    hop__waitq_init(&future->waiters);
    return 0;
}

/* Takes the list lock and returns true, or returns false once DONE. */
static bool hop__future_lock_unless_done(hop_future_t *f) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(&f->state);
        if (state & HOP__FUTURE_DONE)
            return false;
        if (state == 0 && hop__atomic_cas_uint(&f->state, 0u, HOP__FUTURE_LOCKED))
            return true;
        hop__atomic_pause();
    }
}

static void hop__future_unlock(hop_future_t *f) {
    /* The list writes happen before the next locker reads them. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&f->state, 0u);
}

/* Appends w unless f is done; returns false (w not added) if it is. */
static bool hop__future_add_waiter(hop_future_t *f, hop_future_waiter_t *w) {
    if (!hop__future_lock_unless_done(f))
        return false;
    hop__waitq_push(&f->waiters, &w->node);
    hop__future_unlock(f);
    return true;
}

/* Unlinks w; returns false if f completed first (w will be notified) or w
 * is not queued any more (withdrawn before). */
static bool hop__future_remove_waiter(hop_future_t *f, hop_future_waiter_t *w) {
    if (!hop__future_lock_unless_done(f))
        return false;
    bool removed = hop__waitq_cancel(&f->waiters, &w->node);
    hop__future_unlock(f);
    return removed;
}

int hop__future_complete(hop_future_t *f, int status, void *result) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(&f->state);
        if (state & HOP__FUTURE_CLAIMED)
            return HOP_EALREADY;
        /* LOCKED: a waiter is queueing; it lets go after a few stores. */
        if (state == 0 && hop__atomic_cas_uint(&f->state, 0u, HOP__FUTURE_CLAIMED | HOP__FUTURE_LOCKED))
            break;
        hop__atomic_pause();
    }
    f->status = status;
    f->result = result;
    hop__waitq_node_t *n = hop__waitq_take_all(&f->waiters);
    /* status, result and the emptied queue are visible to whoever sees DONE;
     * this store also releases the lock. The future is not touched again. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&f->state, HOP__FUTURE_CLAIMED | HOP__FUTURE_DONE);
    while (n) {
        /* Read next first: notify may end the node's lifetime. */
        hop__waitq_node_t *next = n->next;
        hop_future_waiter_t *w = hop__container_of(n, hop_future_waiter_t, node);
        w->notify(w, f);
        n = next;
    }
    return 0;
}

int hop_future_set_result(hop_future_t *future, void *result) {
    if (!future)
        return HOP_EINVAL;
    return hop__future_complete(future, 0, result);
}

int hop_future_set_error(hop_future_t *future, int error) {
    if (!future || error >= 0)
        return HOP_EINVAL;
    return hop__future_complete(future, error, NULL);
}

bool hop_future_is_done(const hop_future_t *future) {
    if (!future)
        return false;
    bool done = (hop__atomic_load_uint((unsigned int *)&future->state) & HOP__FUTURE_DONE) != 0;
    /* Reads of status and result come after the DONE they depend on. */
    hop__atomic_fence_acquire();
    return done;
}

int hop_future_result(const hop_future_t *future, void **result) {
    if (!future)
        return HOP_EINVAL;
    if (!hop_future_is_done(future))
        return HOP_EAGAIN;
    if (result)
        *result = future->result;
    return future->status;
}

/* Awaiting from a task: an awaitable with a waiter node, on the task's
 * stack. The future's status and result travel in the await's outcome
 * (hop_awaitable_complete_value, or set_result when it is done already), so
 * hop_await_value hands them back with no resume op. */
typedef struct {
    hop_awaitable_t base;
    hop_future_waiter_t waiter;
    hop_future_t *future;
} hop__future_await_t;

static void hop__future_notify_task(hop_future_waiter_t *w, hop_future_t *f) {
    hop__future_await_t *a = hop__container_of(w, hop__future_await_t, waiter);
    /* f is done: its status and result are final, read before the await
     * completes (after which the task may free the future). */
    hop_awaitable_complete_value(&a->base, f->status, f->result);
}

/* Done already: the await's outcome is the future's. */
static bool hop__future_await_take(hop__future_await_t *a) {
    void *result = NULL;
    int status = hop_future_result(a->future, &result);
    if (status == HOP_EAGAIN)
        return false;
    hop_awaitable_set_result(&a->base, status, result);
    return true;
}

static bool hop__future_await_ready(hop_awaitable_t *aw) { return hop__future_await_take((hop__future_await_t *)aw); }

static bool hop__future_await_suspend(hop_awaitable_t *aw) {
    hop__future_await_t *a = (hop__future_await_t *)aw;
    a->waiter.notify = hop__future_notify_task;
    if (hop__future_add_waiter(a->future, &a->waiter))
        return true;
    /* Completed since ready() looked: carry on without a round trip. */
    hop__future_await_take(a);
    return false;
}

/* Withdrawn while still on the list; once the completer has detached the
 * list it will notify this waiter, so the completion stands. */
static int hop__future_await_cancel(hop_awaitable_t *aw) {
    hop__future_await_t *a = (hop__future_await_t *)aw;
    return hop__future_remove_waiter(a->future, &a->waiter) ? 0 : HOP_EALREADY;
}

static void hop__future_await_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "future %p", (void *)((const hop__future_await_t *)aw)->future);
}

static const hop_awaitable_ops_t hop__future_await_ops = {.name = "future", 
    .ready = hop__future_await_ready,
    .suspend = hop__future_await_suspend,
    .cancel = hop__future_await_cancel,
    .describe = hop__future_await_describe,
    .describe_size = sizeof(hop__future_await_t),
};

int hop_future_await(hop_future_t *future, void **result) {
    if (!future)
        return HOP_EINVAL;
    hop__future_await_t a = {.future = future};
    hop_awaitable_init(&a.base, &hop__future_await_ops);
    return hop_await_value(&a.base, result);
}

/* Blocking a plain thread. */
typedef struct {
    hop_future_waiter_t waiter;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;
} hop__future_blocking_t;

static void hop__future_notify_thread(hop_future_waiter_t *w, hop_future_t *f) {
    (void)f;
    hop__future_blocking_t *b = hop__container_of(w, hop__future_blocking_t, waiter);
    /* Signal under the lock: once it is released the waiter may return and
     * end b's lifetime, and this thread no longer touches b. */
    pthread_mutex_lock(&b->lock);
    b->notified = 1;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
}

static void hop__deadline_after_ms(struct timespec *deadline, int64_t ms) {
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += (time_t)(ms / 1000);
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

/* Whether future is the future of a task that the executor running the
 * calling thread's current job owns: a plain job on a loop's thread waiting
 * for a task of that loop would block the only thread that can run it.
 * hop_task_spawn marks a task's future with the task (reserved[0]); the
 * comparison checks the mark before anything is read through it. */
static bool hop__future_of_task_here(hop_future_t *future) {
    hop_executor_t *here = hop_executor_current(); /* not in a task: the job's executor */
    hop_task_t *t = future->reserved[0];
    if (!here || !t || &t->future != future)
        return false;
    return hop__atomic_load_ptr(&t->executor) == here;
}

int hop_future_wait(hop_future_t *future, int64_t timeout_ms, void **result) {
    if (!future || timeout_ms < HOP_WAIT_FOREVER)
        return HOP_EINVAL;
    if (hop_future_is_done(future))
        return hop_future_result(future, result);
    if (hop_task_current() || hop__future_of_task_here(future))
        return HOP_EDEADLK;
    if (timeout_ms == 0)
        return HOP_ETIMEDOUT;
    /* The future may wait for work this thread staged (a job on a loop). */
    hop__batch_flush();

    hop__future_blocking_t b = {.notified = 0};
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b.cond, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&b.lock, NULL);
    b.waiter.notify = hop__future_notify_thread;

    int status;
    if (!hop__future_add_waiter(future, &b.waiter)) {
        status = hop_future_result(future, result);
        goto out;
    }
    struct timespec deadline;
    if (timeout_ms > 0)
        hop__deadline_after_ms(&deadline, timeout_ms);
    pthread_mutex_lock(&b.lock);
    int timed_out = 0;
    while (!b.notified && !timed_out) {
        if (timeout_ms < 0)
            pthread_cond_wait(&b.cond, &b.lock);
        else if (pthread_cond_timedwait(&b.cond, &b.lock, &deadline) == ETIMEDOUT)
            timed_out = 1;
    }
    /* Read under the lock: a completer may be setting it right now. */
    int notified = b.notified;
    pthread_mutex_unlock(&b.lock);
    if (timed_out && !notified && hop__future_remove_waiter(future, &b.waiter)) {
        status = HOP_ETIMEDOUT;
        goto out;
    }
    /* Notified, or the completer took the node just as time ran out: it
     * will signal, and b must outlive that, so wait for it. */
    pthread_mutex_lock(&b.lock);
    while (!b.notified)
        pthread_cond_wait(&b.cond, &b.lock);
    pthread_mutex_unlock(&b.lock);
    status = hop_future_result(future, result);
out:
    pthread_cond_destroy(&b.cond);
    pthread_mutex_destroy(&b.lock);
    return status;
}

static void hop__future_notify_callback(hop_future_waiter_t *w, hop_future_t *f) { w->cb(f, w->arg); }

int hop_future_then(hop_future_t *future, hop_future_waiter_t *waiter, hop_future_cb cb, void *arg) {
    if (!future || !waiter || !cb)
        return HOP_EINVAL;
    waiter->cb = cb;
    waiter->arg = arg;
    waiter->notify = hop__future_notify_callback;
    if (!hop__future_add_waiter(future, waiter))
        cb(future, arg); /* already complete: run now, on this thread */
    return 0;
}

int hop_future_then_cancel(hop_future_t *future, hop_future_waiter_t *waiter) {
    if (!future || !waiter)
        return HOP_EINVAL;
    if (!hop__future_lock_unless_done(future))
        return HOP_EALREADY;
    /* The caller's waiter may be queued on another future (or be storage
     * that was never registered): unlinking it from this queue by its own
     * links would cut this future's real waiters off. So it must be found
     * here first; a walk, but only on this public path (hop's own cancels
     * know where their waiter is). */
    int err = HOP_EALREADY;
    if (waiter->node.queued) {
        err = HOP_EINVAL;
        for (hop__waitq_node_t *n = future->waiters.head; n; n = n->next) {
            if (n == &waiter->node) {
                hop__waitq_unlink(&future->waiters, n);
                err = 0;
                break;
            }
        }
    }
    hop__future_unlock(future);
    return err;
}
