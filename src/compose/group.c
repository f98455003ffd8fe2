/* src/compose/group.c: task groups.
 *
 * Bookkeeping. Each child has a record (malloc'd at spawn, freed by
 * hop_group_destroy()) on a list in spawn order. The list only grows while
 * the group lives, and appends happen under the group's lock with atomic
 * pointer stores, so anyone may walk it without the lock (cancelling the
 * children) and sees every child appended before it looked.
 *
 * "running" counts children whose task has not finished. It goes up under
 * the lock before the task is spawned, and down when the task's future
 * completes (hop_future_then() on it: by then the task has left its stack for
 * good). The one who brings it to zero takes the waiting task's awaitable, if
 * any, under the lock and completes it, and touches the group no more; so a
 * waiter that finds running == 0 under the lock may return and the group may
 * be destroyed at once.
 *
 * States: OPEN (takes children) -> CLOSED (a child failed, the group was
 * cancelled, or the waiter was interrupted: every child has been asked to
 * cancel, no new ones) -> DONE (hop_group_wait() returned). The transition
 * to CLOSED happens under the lock and makes the one thread that did it
 * cancel the children, outside the lock (hop_task_cancel() runs the children's
 * cancel ops, which must not nest inside our lock). A spawn that raced with
 * it rechecks the state under the lock after appending its child and cancels
 * the child itself, so no child escapes the cancellation.
 *
 * The waiter. hop_group_wait() awaits an interruptible awaitable whose cancel
 * op does not withdraw the wait: it closes the group (cancelling every child)
 * and answers HOP_EALREADY, so the task stays suspended until the last child
 * has finished. If the task was already cancelled (or past a deadline) when it
 * called hop_group_wait(), hop_await() refuses to suspend it at all; the
 * group then cancels the children and waits with an uninterruptible await
 * (hop__await_shielded()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/task_internal.h"
#include "hop/group.h"

/* DESTROYED: after hop_group_destroy, every call but init refuses the group
 * (HOP_EINVAL), as for a destroyed mutex: all zero is OPEN, not it. */
enum { HOP__GROUP_OPEN = 0, HOP__GROUP_CLOSED = 1, HOP__GROUP_DONE = 2, HOP__GROUP_DESTROYED = 3 };

typedef struct hop__group_child_s hop__group_child_t;
struct hop__group_child_s {
    hop_future_waiter_t done; /* on the task's future */
    hop__group_child_t *next; /* atomic: walked without the lock */
    hop_group_t *group;
    hop_group_fn fn;
    void *arg;
    hop_task_t *task; /* the group's reference (atomic: set after the spawn) */
    void *result;     /* written by the child's task... */
    int status;
    bool ran;              /* ...before it finishes */
    unsigned int finished; /* atomic: status and result are final */
};

static void hop__group_lock(hop_group_t *g) {
    for (;;) {
        /* The CAS is a full barrier: the critical section cannot move above it. */
        if (hop__atomic_cas_uint(&g->lock, 0u, 1u))
            return;
        while (hop__atomic_load_uint(&g->lock) != 0u)
            hop__atomic_pause();
    }
}

static void hop__group_unlock(hop_group_t *g) {
    /* Writes inside the critical section become visible before the release. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&g->lock, 0u);
}

int hop_group_init(hop_group_t *group) {
    if (!group)
        return HOP_EINVAL;
    memset(group, 0, sizeof *group);
    return 0;
}

/* Asks every child that has not finished to cancel. Any thread, no lock. */
static void hop__group_cancel_children(hop_group_t *g) {
    for (hop__group_child_t *c = hop__atomic_load_ptr(&g->head); c; c = hop__atomic_load_ptr(&c->next)) {
        hop_task_t *task = hop__atomic_load_ptr(&c->task);
        if (task && !hop__atomic_load_uint(&c->finished))
            (void)hop_task_cancel(task); /* HOP_EALREADY if it just finished */
    }
}

/* Closes g (first caller cancels the children) and records error as the
 * group's failure if it is the first. */
static void hop__group_close(hop_group_t *g, int error) {
    hop__group_lock(g);
    bool first = g->state == HOP__GROUP_OPEN;
    if (first)
        g->state = HOP__GROUP_CLOSED;
    if (error && !g->error && g->state != HOP__GROUP_DONE)
        g->error = error;
    hop__group_unlock(g);
    if (first)
        hop__group_cancel_children(g);
}

/* One child fewer; the last one wakes the waiter. Touches g no more after. */
static void hop__group_child_gone(hop_group_t *g) {
    hop_awaitable_t *waiter = NULL;
    hop__group_lock(g);
    if (--g->running == 0 && g->waiter) {
        waiter = g->waiter;
        g->waiter = NULL;
    }
    hop__group_unlock(g);
    if (waiter)
        hop_awaitable_complete(waiter, 0);
}

static void *hop__group_child_main(void *arg) {
    hop__group_child_t *c = arg;
    void *result = NULL;
    c->ran = true;
    c->status = c->fn(c->arg, &result);
    c->result = result;
    return result; /* the task's result too: its result destructor applies */
}

/* The child's task has finished (its future completed): on that thread. */
static void hop__group_on_child_done(hop_future_t *future, void *arg) {
    (void)future;
    hop__group_child_t *c = arg;
    hop_group_t *g = c->group;
    /* The child's writes (ran, status, result) came before the future's
     * completion; this callback may run on the thread that registered it. */
    hop__atomic_fence_acquire();
    if (!c->ran) {
        c->status = HOP_ECANCELED; /* cancelled before it started */
        c->result = NULL;
    }
    int status = c->status;
    /* status and result are read by hop_group_status() after this store. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&c->finished, 1u);
    if (status < 0 && status != HOP_ECANCELED)
        hop__group_close(g, status);
    hop__group_child_gone(g);
}

int hop_group_spawn(hop_group_t *group, hop_executor_t *executor, hop_group_fn fn, void *arg,
                    const hop_task_options_t *options, hop_task_t **task) {
    if (task)
        *task = NULL;
    if (!group || !executor || !fn)
        return HOP_EINVAL;
    hop__group_child_t *c = hop__calloc(1, sizeof *c);
    if (!c)
        return HOP_ENOMEM;
    c->group = group;
    c->fn = fn;
    c->arg = arg;

    hop__group_lock(group);
    if (group->state != HOP__GROUP_OPEN) {
        int err = group->state == HOP__GROUP_DESTROYED ? HOP_EINVAL : HOP_ECLOSED;
        hop__group_unlock(group);
        free(c);
        return err;
    }
    /* Counted before it exists: the group cannot finish under this spawn. */
    group->running++;
    hop__group_unlock(group);

    hop_task_t *t;
    int err = hop_task_spawn(executor, hop__group_child_main, c, options, &t);
    if (err) {
        free(c);
        hop__group_child_gone(group);
        return err;
    }
    if (task)
        *task = hop_task_ref(t);

    hop__group_lock(group);
    hop__atomic_store_ptr(&c->task, t);
    if (group->tail)
        hop__atomic_store_ptr(&((hop__group_child_t *)group->tail)->next, c);
    else
        hop__atomic_store_ptr(&group->head, c);
    group->tail = c;
    hop__atomic_store_u64(&group->count, group->count + 1);
    bool closed = group->state != HOP__GROUP_OPEN;
    hop__group_unlock(group);
    /* Closed since the check above: the closer's walk may have missed c. */
    if (closed)
        (void)hop_task_cancel(t);
    /* Runs the callback right here if the child has already finished. */
    hop_future_then(hop_task_future(t), &c->done, hop__group_on_child_done, c);
    return 0;
}

int hop_group_cancel(hop_group_t *group) {
    if (!group)
        return HOP_EINVAL;
    hop__group_lock(group);
    bool destroyed = group->state == HOP__GROUP_DESTROYED;
    hop__group_unlock(group);
    if (destroyed)
        return HOP_EINVAL;
    hop__group_close(group, 0);
    return 0;
}

size_t hop_group_size(const hop_group_t *group) {
    if (!group)
        return 0;
    return (size_t)hop__atomic_load_u64((uint64_t *)&group->count);
}

int hop_group_status(const hop_group_t *group, size_t index, void **result, hop_task_t **task) {
    if (!group || index >= hop_group_size(group))
        return HOP_EINVAL;
    hop__group_child_t *c = hop__atomic_load_ptr((void **)&group->head);
    for (size_t i = 0; i < index; i++)
        c = hop__atomic_load_ptr(&c->next);
    if (task)
        *task = hop__atomic_load_ptr(&c->task);
    if (!hop__atomic_load_uint(&c->finished)) {
        if (result)
            *result = NULL;
        return HOP_EAGAIN;
    }
    /* Reads of status and result come after the finished they depend on. */
    hop__atomic_fence_acquire();
    if (result)
        *result = c->result;
    return c->status;
}

/* Waiting. */
typedef struct {
    hop_awaitable_t base;
    hop_group_t *group;
    bool suspend_ran;
    bool interrupted; /* the cancel op ran */
} hop__group_wait_t;

static bool hop__group_wait_ready(hop_awaitable_t *aw) {
    hop_group_t *g = ((hop__group_wait_t *)aw)->group;
    hop__group_lock(g);
    bool none = g->running == 0;
    hop__group_unlock(g);
    return none;
}

static bool hop__group_wait_suspend(hop_awaitable_t *aw) {
    hop__group_wait_t *a = (hop__group_wait_t *)aw;
    hop_group_t *g = a->group;
    a->suspend_ran = true;
    hop__group_lock(g);
    bool wait = g->running > 0;
    if (wait)
        g->waiter = aw; /* from the unlock on, the last child may complete aw */
    hop__group_unlock(g);
    return wait;
}

/* Interrupted: the children go, the wait stays (see the top). */
static int hop__group_wait_cancel(hop_awaitable_t *aw) {
    hop__group_wait_t *a = (hop__group_wait_t *)aw;
    a->interrupted = true;
    hop__group_close(a->group, 0);
    return HOP_EALREADY;
}

static void hop__group_wait_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "group wait %p", (void *)((const hop__group_wait_t *)aw)->group);
}

static const hop_awaitable_ops_t hop__group_wait_ops = {
    .name = "group wait",
    .ready = hop__group_wait_ready,
    .suspend = hop__group_wait_suspend,
    .cancel = hop__group_wait_cancel,
    .describe = hop__group_wait_describe,
    .describe_size = sizeof(hop__group_wait_t),
};

static const hop_awaitable_ops_t hop__group_shielded_ops = {
    .name = "group wait (shielded)",
    .ready = hop__group_wait_ready,
    .suspend = hop__group_wait_suspend,
    .describe = hop__group_wait_describe,
    .describe_size = sizeof(hop__group_wait_t),
};

/* The interrupt the task has pending (it was cancelled, or a deadline
 * passed): what the wait reports once its children are gone. */
static int hop__group_pending_interrupt(void) {
    int status = hop__task_pending_interrupt(hop_task_current());
    return status < 0 ? status : HOP_ECANCELED;
}

static bool hop__group_has_child(hop_group_t *g, hop_task_t *task) {
    for (hop__group_child_t *c = hop__atomic_load_ptr(&g->head); c; c = hop__atomic_load_ptr(&c->next)) {
        if (hop__atomic_load_ptr(&c->task) == task)
            return true;
    }
    return false;
}

int hop_group_wait(hop_group_t *group) {
    if (!group)
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    if (hop__group_has_child(group, self))
        return HOP_EDEADLK;
    hop__group_lock(group);
    if (group->state == HOP__GROUP_DESTROYED) {
        hop__group_unlock(group);
        return HOP_EINVAL;
    }
    if (group->state == HOP__GROUP_DONE) {
        int answer = group->error;
        hop__group_unlock(group);
        return answer;
    }
    if (group->waiting) {
        hop__group_unlock(group);
        return HOP_EBUSY;
    }
    group->waiting = 1;
    hop__group_unlock(group);

    hop__group_wait_t a = {.group = group};
    hop_awaitable_init(&a.base, &hop__group_wait_ops);
    int status = hop_await(&a.base);
    int interrupt = 0;
    if (a.interrupted) {
        /* Completed by the last child after the cancel op closed the group. */
        interrupt = hop__group_pending_interrupt();
    } else if (status < 0 && !a.suspend_ran) {
        /* Refused to suspend: an interrupt was pending before the wait. */
        interrupt = status;
        hop__group_close(group, 0);
        hop_awaitable_init(&a.base, &hop__group_shielded_ops);
        a.suspend_ran = false;
        (void)hop__await_shielded(&a.base);
    }

    hop__group_lock(group);
    if (group->running != 0)
        hop__fatal("group %p: wait ended with %u children running", (void *)group, group->running);
    group->state = HOP__GROUP_DONE;
    group->waiting = 0;
    if (interrupt)
        group->error = interrupt;
    int answer = group->error;
    hop__group_unlock(group);
    return answer;
}

int hop_group_destroy(hop_group_t *group) {
    if (!group)
        return HOP_EINVAL;
    hop__group_lock(group);
    if (group->state == HOP__GROUP_DESTROYED) {
        hop__group_unlock(group);
        return HOP_EINVAL;
    }
    bool busy = group->running != 0 || group->waiting;
    if (!busy)
        group->state = HOP__GROUP_DESTROYED; /* no spawn gets in any more */
    hop__group_unlock(group);
    if (busy)
        return HOP_EBUSY;
    hop__group_child_t *c = group->head;
    while (c) {
        hop__group_child_t *next = c->next;
        hop_task_unref(c->task);
        free(c);
        c = next;
    }
    group->head = group->tail = NULL;
    group->count = 0;
    return 0;
}
