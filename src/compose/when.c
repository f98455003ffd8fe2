/* src/compose/when.c: hop_when_all / hop_when_any, on futures' then-waiters and one
 * awaitable, all on the awaiting task's stack.
 *
 * The hard part is the end of the wait: the waiter records live on the
 * task's stack, and the task may leave the call only once no callback can
 * touch them any more. Three counters and one state word make that exact:
 *
 *   state      REGISTERING while suspend() is still handing waiters to
 *              hop_future_then(); DECIDED once the outcome is known (the
 *              first error or first completion, every completion, or an
 *              interrupt). One CAS decides, so there is exactly one decider.
 *   refs       1 for the decision still to come, plus 1 per registered
 *              callback that may still run. A callback drops its own when it
 *              returns; the decision's is dropped after the withdrawal pass
 *              (hop_future_then_cancel() on every registered waiter, which
 *              drops the reference of each one it withdrew). Whoever drops
 *              the last reference ends the wait: a callback by completing
 *              the awaitable, suspend() by returning false, the cancel op by
 *              returning 0 (withdrawn). A callback that then_cancel could not
 *              stop (HOP_EALREADY: its future is being completed on another
 *              thread) still holds its reference, so the task stays
 *              suspended until that callback has returned.
 *   remaining  completions still needed before "all" is decided.
 *
 * The withdrawal pass needs to know which waiters were registered, so it
 * runs only after suspend() has finished registering: a decider that finds
 * REGISTERING still set leaves the pass to suspend(), which sees DECIDED when
 * it clears REGISTERING. suspend() stops registering once DECIDED is set. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/fault.h"
#include "core/task_internal.h"
#include "hop/when.h"

enum { HOP__WHEN_ALL = 0, HOP__WHEN_ANY = 1 };
enum { HOP__WHEN_REGISTERING = 1u, HOP__WHEN_DECIDED = 2u };

#define HOP__WHEN_NO_WINNER SIZE_MAX

typedef struct {
    hop_awaitable_t base;
    hop_future_t *const *futures; /* or NULL, and then: */
    hop_task_t *const *tasks;
    hop_when_waiter_t *waiters;
    size_t n;
    size_t registered; /* waiters handed to hop_future_then(); suspend() only */
    unsigned int kind; /* HOP__WHEN_ALL or HOP__WHEN_ANY */
    unsigned int flags;
    unsigned int state;     /* HOP__WHEN_* (atomic) */
    unsigned int refs;      /* see above (atomic) */
    unsigned int remaining; /* atomic */
    /* Written by the one decider before it drops a reference; read by the
     * task after the last reference is gone. */
    size_t winner;
    int outcome;
    bool interrupted;
} hop__when_t;

static hop_future_t *hop__when_future(const hop__when_t *w, size_t i) {
    return w->futures ? w->futures[i] : hop_task_future(w->tasks[i]);
}

/* Drops one reference; true if it was the last. The decrement is a full
 * barrier, so every write made while holding a reference is visible to
 * whoever drops the last one (and, through the completion, to the task). */
static bool hop__when_release(hop__when_t *w) {
    return hop__atomic_faa_uint(&w->refs, (unsigned int)-1) == 1u;
}

/* The withdrawal pass; drops the decision's reference at the end. True if
 * that was the last reference. */
static bool hop__when_withdraw(hop__when_t *w) {
    for (size_t i = 0; i < w->registered; i++) {
        if (hop_future_then_cancel(hop__when_future(w, i), &w->waiters[i].node) == 0)
            (void)hop__when_release(w); /* never the last: the decision's is still held */
    }
    return hop__when_release(w);
}

/* Claims the decision. Returns false if someone else decided first.
 * *registering tells whether suspend() was still registering (it then does
 * the withdrawal pass itself). */
static bool hop__when_claim(hop__when_t *w, bool *registering) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(&w->state);
        if (state & HOP__WHEN_DECIDED)
            return false;
        if (hop__atomic_cas_uint(&w->state, state, state | HOP__WHEN_DECIDED)) {
            *registering = (state & HOP__WHEN_REGISTERING) != 0;
            return true;
        }
        hop__atomic_pause();
    }
}

/* Decides from a callback, which holds a reference of its own, so the pass
 * can never drop the last one here. */
static void hop__when_decide(hop__when_t *w, size_t winner, int outcome) {
    bool registering;
    if (!hop__when_claim(w, &registering))
        return;
    w->winner = winner;
    w->outcome = outcome;
    if (!registering)
        (void)hop__when_withdraw(w);
}

static void hop__when_on_complete(hop_future_t *future, void *arg) {
    hop_when_waiter_t *waiter = arg;
    hop__when_t *w = waiter->when;
    size_t i = (size_t)(waiter - w->waiters);
    int status = hop_future_result(future, NULL);
    if (w->kind == HOP__WHEN_ANY || (status < 0 && !(w->flags & HOP_WHEN_ALL_SETTLED)))
        hop__when_decide(w, i, status);
    else if (hop__atomic_faa_uint(&w->remaining, (unsigned int)-1) == 1u)
        hop__when_decide(w, HOP__WHEN_NO_WINNER, 0);
    /* Last touch of w unless this was the last reference; then only the
     * completion, which hands the task (and its stack) back. */
    if (hop__when_release(w))
        hop_awaitable_complete(&w->base, 0);
}

static bool hop__when_ready(hop_awaitable_t *aw) { return ((hop__when_t *)aw)->n == 0; }

static bool hop__when_suspend(hop_awaitable_t *aw) {
    hop__when_t *w = (hop__when_t *)aw;
    for (size_t i = 0; i < w->n; i++) {
        if (hop__atomic_load_uint(&w->state) & HOP__WHEN_DECIDED)
            break; /* no need to watch the rest */
        hop__atomic_faa_uint(&w->refs, 1u);
        w->registered = i + 1;
        w->waiters[i].when = w;
        /* Runs the callback right here if the future is already complete. */
        hop_future_then(hop__when_future(w, i), &w->waiters[i].node, hop__when_on_complete, &w->waiters[i]);
    }
    unsigned int state;
    for (;;) {
        state = hop__atomic_load_uint(&w->state);
        if (hop__atomic_cas_uint(&w->state, state, state & ~HOP__WHEN_REGISTERING))
            break;
        hop__atomic_pause();
    }
    if (!(state & HOP__WHEN_DECIDED))
        return true; /* the decider will do the pass: w is not ours to touch any more */
    /* Decided during registration: the pass is ours. If callbacks are still
     * running elsewhere, the last of them completes the await. */
    return !hop__when_withdraw(w);
}

/* The wait's own interrupt status. The cancel op is not told it, and it
 * matters only when a callback in flight made the cancel op answer
 * HOP_EALREADY: then the wait reports the task's pending interrupt. */
static int hop__when_pending_interrupt(void) {
    int status = hop__task_pending_interrupt(hop_task_current());
    /* Only hop_task_cancel() and deadlines interrupt this private awaitable. */
    return status < 0 ? status : HOP_ECANCELED;
}

static int hop__when_resume(hop_awaitable_t *aw) {
    hop__when_t *w = (hop__when_t *)aw;
    if (w->interrupted)
        return hop__when_pending_interrupt();
    return w->kind == HOP__WHEN_ALL ? w->outcome : (int)w->winner;
}

/* Runs on the interrupting thread, after suspend() returned true. */
static int hop__when_cancel(hop_awaitable_t *aw) {
    hop__when_t *w = (hop__when_t *)aw;
    bool registering;
    if (!hop__when_claim(w, &registering))
        return HOP_EALREADY; /* decided by a completion: that outcome stands */
    w->interrupted = true;
    w->winner = HOP__WHEN_NO_WINNER;
    return hop__when_withdraw(w) ? 0 : HOP_EALREADY;
}

/* On the dump's copy (hop/awaitable.h): remaining as it was a moment ago. */
static void hop__when_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    const hop__when_t *w = (const hop__when_t *)aw;
    snprintf(buf, size, "%s of %zu %s, %u pending", w->kind == HOP__WHEN_ALL ? "when_all" : "when_any", w->n,
             w->futures ? "futures" : "tasks", w->remaining);
}

static const hop_awaitable_ops_t hop__when_ops = {
    .name = "when",
    .ready = hop__when_ready,
    .suspend = hop__when_suspend,
    .resume = hop__when_resume,
    .cancel = hop__when_cancel,
    .describe = hop__when_describe,
    .describe_size = sizeof(hop__when_t),
};

/* Checks the arguments, finds storage, waits. Returns hop_await()'s value;
 * *accepted tells whether the arguments were accepted (and the wait tried),
 * since a future's own error may be any code, HOP_EINVAL included. */
static int hop__when_wait(unsigned int kind, hop_future_t *const futures[], hop_task_t *const tasks[],
                          size_t n, unsigned int flags, hop_when_waiter_t waiters[], bool *accepted) {
    *accepted = false;
    unsigned int allowed = kind == HOP__WHEN_ALL ? HOP_WHEN_ALL_SETTLED : 0u;
    if (tasks)
        allowed |= HOP_WHEN_CANCEL_REST;
    if (flags & ~allowed)
        return HOP_EINVAL;
    if (kind == HOP__WHEN_ANY ? (n == 0 || n > (size_t)INT_MAX) : n >= (size_t)UINT_MAX)
        return HOP_EINVAL;
    if (n > 0 && !futures && !tasks)
        return HOP_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (futures ? !futures[i] : !tasks[i])
            return HOP_EINVAL;
    }
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    for (size_t i = 0; tasks && i < n; i++) {
        if (tasks[i] == self)
            return HOP_EDEADLK;
    }

    hop_when_waiter_t inline_waiters[HOP_WHEN_INLINE_WAITERS];
    hop_when_waiter_t *allocated = NULL;
    if (!waiters) {
        if (n <= HOP_WHEN_INLINE_WAITERS) {
            waiters = inline_waiters;
        } else {
            allocated = hop__malloc(n * sizeof *allocated);
            if (!allocated)
                return HOP_ENOMEM;
            waiters = allocated;
        }
    }
    *accepted = true;
    hop__when_t w = {
        .futures = futures,
        .tasks = futures ? NULL : tasks,
        .waiters = waiters,
        .n = n,
        .kind = kind,
        .flags = flags,
        .state = HOP__WHEN_REGISTERING,
        .refs = 1u,
        .remaining = (unsigned int)n,
        .winner = HOP__WHEN_NO_WINNER,
    };
    hop_awaitable_init(&w.base, &hop__when_ops);
    int status = hop_await(&w.base);
    /* Every callback has returned or was withdrawn: the storage is free. */
    free(allocated);
    return status;
}

static void hop__when_snapshot(hop_future_t *future, int *status, void **result) {
    void *value = NULL;
    int st = hop_future_result(future, &value);
    if (status)
        *status = st;
    if (result)
        *result = st == 0 ? value : NULL;
}

static void hop__when_cancel_rest(hop_task_t *const tasks[], size_t n, size_t keep) {
    for (size_t i = 0; i < n; i++) {
        if (i != keep && !hop_future_is_done(hop_task_future(tasks[i])))
            (void)hop_task_cancel(tasks[i]); /* HOP_EALREADY if it finished meanwhile */
    }
}

static int hop__when_all(hop_future_t *const futures[], hop_task_t *const tasks[], size_t n,
                         unsigned int flags, void *results[], int statuses[], hop_when_waiter_t waiters[]) {
    bool accepted;
    int status = hop__when_wait(HOP__WHEN_ALL, futures, tasks, n, flags, waiters, &accepted);
    if (!accepted)
        return status;
    for (size_t i = 0; i < n; i++) {
        hop_future_t *future = futures ? futures[i] : hop_task_future(tasks[i]);
        hop__when_snapshot(future, statuses ? &statuses[i] : NULL, results ? &results[i] : NULL);
    }
    if (status != 0 && tasks && (flags & HOP_WHEN_CANCEL_REST))
        hop__when_cancel_rest(tasks, n, HOP__WHEN_NO_WINNER);
    return status;
}

static int hop__when_any(hop_future_t *const futures[], hop_task_t *const tasks[], size_t n,
                         unsigned int flags, int *status, void **result, hop_when_waiter_t waiters[]) {
    bool accepted;
    int index = hop__when_wait(HOP__WHEN_ANY, futures, tasks, n, flags, waiters, &accepted);
    if (!accepted)
        return index;
    if (index >= 0)
        hop__when_snapshot(futures ? futures[index] : hop_task_future(tasks[index]), status, result);
    if (tasks && (flags & HOP_WHEN_CANCEL_REST))
        hop__when_cancel_rest(tasks, n, index >= 0 ? (size_t)index : HOP__WHEN_NO_WINNER);
    return index;
}

int hop_when_all(hop_future_t *const futures[], size_t n, unsigned int flags, void *results[], int statuses[],
                 hop_when_waiter_t waiters[]) {
    if (n > 0 && !futures)
        return HOP_EINVAL;
    return hop__when_all(futures, NULL, n, flags, results, statuses, waiters);
}

int hop_when_any(hop_future_t *const futures[], size_t n, unsigned int flags, int *status, void **result,
                 hop_when_waiter_t waiters[]) {
    if (!futures)
        return HOP_EINVAL;
    return hop__when_any(futures, NULL, n, flags, status, result, waiters);
}

int hop_when_all_tasks(hop_task_t *const tasks[], size_t n, unsigned int flags, void *results[],
                       int statuses[], hop_when_waiter_t waiters[]) {
    if (n > 0 && !tasks)
        return HOP_EINVAL;
    /* An empty array still marks the call as a tasks call for the flags. */
    static hop_task_t *const none[1] = {NULL};
    return hop__when_all(NULL, tasks ? tasks : none, n, flags, results, statuses, waiters);
}

int hop_when_any_tasks(hop_task_t *const tasks[], size_t n, unsigned int flags, int *status, void **result,
                       hop_when_waiter_t waiters[]) {
    if (!tasks)
        return HOP_EINVAL;
    return hop__when_any(NULL, tasks, n, flags, status, result, waiters);
}
