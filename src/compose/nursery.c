/* src/compose/nursery.c: nurseries, a registry of live tasks with graceful
 * shutdown.
 *
 * Each member has a record, malloc'd at spawn and freed by the callback that
 * its task's future runs when the task finishes (hop_future_then), so only
 * live members cost memory. Records sit on one of two doubly linked lists
 * under the nursery's spin lock: live (not yet cancelled by a shutdown) and
 * cancelled. A record is linked before its task is spawned, so the finish
 * callback always finds it; its task pointer is set under the lock right
 * after the spawn, and a shutdown that reaches a record without one leaves
 * the cancel to the spawner (cancel_on_set).
 *
 * The shutdown cancels members one at a time, outside the lock: a cancel
 * may run the member at once (the inline executor) and its finish callback
 * takes the lock. */
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "core/task_internal.h"
#include "hop/nursery.h"

/* state. A zeroed nursery is an open one (init is a memset); destroy
 * marks it, so that every later call but init returns HOP_EINVAL, as for
 * the other caller-allocated types. */
enum { HOP__NURSERY_OPEN = 0, HOP__NURSERY_CLOSED = 1, HOP__NURSERY_CANCELLING = 2, HOP__NURSERY_DESTROYED = 3 };
/* drain_set */
enum { HOP__DRAIN_NONE = 0, HOP__DRAIN_SETTING = 1, HOP__DRAIN_SET = 2 };

typedef struct hop__member_s hop__member_t;
struct hop__member_s {
    hop__member_t *prev, *next;
    hop_nursery_t *nursery;
    hop_task_t *task; /* the record's reference; NULL until the spawn returned */
    hop_future_waiter_t waiter;
    bool in_cancelled;  /* on the cancelled list */
    bool cancel_on_set; /* a shutdown passed it before its task was set */
};

static void hop__nursery_lock(hop_nursery_t *n) {
    for (;;) {
        /* The CAS is a full barrier: the critical section cannot move above it. */
        if (hop__atomic_cas_uint(&n->lock, 0u, 1u))
            return;
        while (hop__atomic_load_uint(&n->lock) != 0u)
            hop__atomic_pause();
    }
}

static void hop__nursery_unlock(hop_nursery_t *n) {
    hop__atomic_fence_release();
    hop__atomic_store_uint(&n->lock, 0u);
}

static void hop__list_push(hop__member_t **head, hop__member_t *m) {
    m->prev = NULL;
    m->next = *head;
    if (*head)
        (*head)->prev = m;
    *head = m;
}

static void hop__list_remove(hop__member_t **head, hop__member_t *m) {
    if (m->prev)
        m->prev->next = m->next;
    else
        *head = m->next;
    if (m->next)
        m->next->prev = m->prev;
}

static hop__member_t **hop__member_list(hop_nursery_t *n, hop__member_t *m) {
    return (hop__member_t **)(m->in_cancelled ? &n->cancelled : &n->live);
}

/* Under the lock: whether this change emptied a closed nursery, so that the
 * caller (once unlocked) must complete drained. */
static bool hop__nursery_claim_drain(hop_nursery_t *n) {
    if (n->state == HOP__NURSERY_OPEN || n->count != 0 || n->drain_set != HOP__DRAIN_NONE)
        return false;
    hop__atomic_store_uint(&n->drain_set, HOP__DRAIN_SETTING);
    return true;
}

static void hop__nursery_set_drained(hop_nursery_t *n) {
    hop_future_set_result(&n->drained, NULL);
    /* Last touch of n: a shutdown waits for this before it returns, so the
     * nursery cannot be destroyed under hop_future_set_result. */
    hop__atomic_store_uint(&n->drain_set, HOP__DRAIN_SET);
}

/* The member's task finished: forget it. Runs on the finishing thread. */
static void hop__member_done(hop_future_t *future, void *arg) {
    hop__member_t *m = arg;
    hop_nursery_t *n = m->nursery;
    int status = hop_future_result(future, NULL);
    hop__nursery_lock(n);
    hop__list_remove(hop__member_list(n, m), m);
    n->count--;
    if (status == HOP_ECANCELED)
        n->cancelled_count++;
    else if (status < 0)
        n->failed++;
    bool drained = hop__nursery_claim_drain(n);
    hop__nursery_unlock(n);
    hop_task_unref(m->task);
    free(m);
    if (drained)
        hop__nursery_set_drained(n);
}

int hop_nursery_init(hop_nursery_t *nursery) {
    if (!nursery)
        return HOP_EINVAL;
    memset(nursery, 0, sizeof *nursery);
    return hop_future_init(&nursery->drained);
}

int hop_nursery_spawn(hop_nursery_t *nursery, hop_executor_t *executor, hop_task_status_fn fn, void *arg,
                      const hop_task_options_t *options, hop_task_t **task) {
    if (task)
        *task = NULL;
    if (!nursery || !executor || !fn)
        return HOP_EINVAL;
    hop__member_t *m = hop__calloc(1, sizeof *m);
    if (!m)
        return HOP_ENOMEM;
    m->nursery = nursery;
    hop__nursery_lock(nursery);
    if (nursery->state != HOP__NURSERY_OPEN) {
        bool destroyed = nursery->state == HOP__NURSERY_DESTROYED;
        hop__nursery_unlock(nursery);
        free(m);
        return destroyed ? HOP_EINVAL : HOP_ECLOSED;
    }
    hop__list_push((hop__member_t **)&nursery->live, m);
    nursery->count++;
    nursery->total++;
    if (nursery->count > nursery->peak)
        nursery->peak = nursery->count;
    hop__nursery_unlock(nursery);

    hop_task_t *t = NULL;
    int err = hop_task_spawn_ex(executor, fn, arg, options, &t);
    hop__nursery_lock(nursery);
    if (err) {
        /* Never ran: as if it had not been spawned. */
        hop__list_remove(hop__member_list(nursery, m), m);
        nursery->count--;
        nursery->total--;
        bool drained = hop__nursery_claim_drain(nursery);
        hop__nursery_unlock(nursery);
        free(m);
        if (drained)
            hop__nursery_set_drained(nursery);
        return err;
    }
    m->task = t;
    bool cancel = m->cancel_on_set;
    if (task)
        *task = hop_task_ref(t);
    /* Our own reference keeps t alive for the cancel below even if it
     * finishes right after the then(). */
    hop_task_ref(t);
    hop__nursery_unlock(nursery);
    /* Runs hop__member_done at once if t has already finished. */
    hop_future_then(hop_task_future(t), &m->waiter, hop__member_done, m);
    if (cancel)
        hop_task_cancel(t);
    hop_task_unref(t);
    return 0;
}

int hop_nursery_close(hop_nursery_t *nursery) {
    if (!nursery)
        return HOP_EINVAL;
    hop__nursery_lock(nursery);
    if (nursery->state != HOP__NURSERY_OPEN) {
        bool destroyed = nursery->state == HOP__NURSERY_DESTROYED;
        hop__nursery_unlock(nursery);
        return destroyed ? HOP_EINVAL : HOP_EALREADY;
    }
    hop__atomic_store_uint(&nursery->state, HOP__NURSERY_CLOSED);
    bool drained = hop__nursery_claim_drain(nursery);
    hop__nursery_unlock(nursery);
    if (drained)
        hop__nursery_set_drained(nursery);
    return 0;
}

bool hop_nursery_closing(const hop_nursery_t *nursery) {
    return nursery && hop__atomic_load_uint((unsigned int *)&nursery->state) != HOP__NURSERY_OPEN;
}

/* Step 3: cancels every live member, one at a time outside the lock. */
static void hop__nursery_cancel_all(hop_nursery_t *n) {
    hop__nursery_lock(n);
    hop__atomic_store_uint(&n->state, HOP__NURSERY_CANCELLING);
    for (;;) {
        hop__member_t *m = n->live;
        if (!m)
            break;
        hop__list_remove((hop__member_t **)&n->live, m);
        m->in_cancelled = true;
        hop__list_push((hop__member_t **)&n->cancelled, m);
        if (!m->task) {
            m->cancel_on_set = true; /* its spawner cancels it */
            continue;
        }
        hop_task_t *t = hop_task_ref(m->task);
        hop__nursery_unlock(n);
        hop_task_cancel(t);
        hop_task_unref(t);
        hop__nursery_lock(n);
    }
    hop__nursery_unlock(n);
}

/* Waits for drained: up to timeout_ms (-1: for ever, shielded from the
 * caller's own cancel). Returns 0, HOP_ETIMEDOUT, or HOP_ECANCELED. */
static int hop__nursery_wait(hop_nursery_t *n, int64_t timeout_ms) {
    if (!hop_task_current())
        return hop_future_wait(&n->drained, timeout_ms < 0 ? HOP_WAIT_FOREVER : timeout_ms, NULL);
    if (timeout_ms < 0) {
        /* No member may outlive the shutdown: the last wait ignores a cancel
         * of the caller (it still returns HOP_ECANCELED afterwards). */
        hop_shield_t shield;
        int err = hop_shield_enter(&shield, INT64_MAX);
        if (err)
            return err;
        err = hop_future_await(&n->drained, NULL);
        hop_shield_exit(&shield);
        return err;
    }
    if (timeout_ms == 0)
        return hop_future_is_done(&n->drained) ? 0 : HOP_ETIMEDOUT;
    hop_deadline_t deadline;
    int err = hop_deadline_enter(&deadline, timeout_ms);
    if (err)
        return err;
    err = hop_future_await(&n->drained, NULL);
    hop_deadline_leave(&deadline);
    return err;
}

/* Whether the calling task is one of n's members: its shutdown would wait
 * for itself. O(members), once per shutdown. A member whose spawn has not
 * returned yet (it runs inside the spawn, on the inline executor) is not
 * seen: its task is not recorded yet. */
static bool hop__nursery_is_member(hop_nursery_t *n, hop_task_t *self) {
    if (!self)
        return false;
    bool found = false;
    hop__nursery_lock(n);
    for (int list = 0; list < 2 && !found; list++)
        for (hop__member_t *m = list ? n->cancelled : n->live; m && !found; m = m->next)
            found = m->task == self;
    hop__nursery_unlock(n);
    return found;
}

int hop_nursery_shutdown(hop_nursery_t *nursery, int64_t grace_ms) {
    if (!nursery || grace_ms < 0 || hop__atomic_load_uint(&nursery->state) == HOP__NURSERY_DESTROYED)
        return HOP_EINVAL;
    if (hop__nursery_is_member(nursery, hop_task_current()))
        return HOP_EDEADLK;
    (void)hop_nursery_close(nursery);
    int status = hop__nursery_wait(nursery, grace_ms);
    bool cancelled_caller = status == HOP_ECANCELED;
    if (status != 0) {
        hop__nursery_cancel_all(nursery);
        int err = hop__nursery_wait(nursery, -1);
        if (err == HOP_ECANCELED)
            cancelled_caller = true;
        else if (err)
            return err; /* no memory for the shield's timer: members may still run */
        status = HOP_ETIMEDOUT;
    }
    /* hop__nursery_set_drained may still be inside hop_future_set_result. */
    while (hop__atomic_load_uint(&nursery->drain_set) != HOP__DRAIN_SET)
        hop__atomic_pause();
    return cancelled_caller ? HOP_ECANCELED : status;
}

int hop_nursery_stats(const hop_nursery_t *nursery, hop_nursery_stats_t *stats) {
    if (!nursery || !stats)
        return HOP_EINVAL;
    hop_nursery_t *n = (hop_nursery_t *)nursery;
    hop__nursery_lock(n);
    if (n->state == HOP__NURSERY_DESTROYED) {
        hop__nursery_unlock(n);
        return HOP_EINVAL;
    }
    stats->live = n->count;
    stats->peak = n->peak;
    stats->total = n->total;
    stats->failed = n->failed;
    stats->cancelled = n->cancelled_count;
    hop__nursery_unlock(n);
    return 0;
}

int hop_nursery_destroy(hop_nursery_t *nursery) {
    if (!nursery)
        return HOP_EINVAL;
    hop__nursery_lock(nursery);
    int err = 0;
    if (nursery->state == HOP__NURSERY_DESTROYED)
        err = HOP_EINVAL;
    else if (nursery->count != 0 || hop__atomic_load_uint(&nursery->drain_set) == HOP__DRAIN_SETTING)
        err = HOP_EBUSY;
    else
        hop__atomic_store_uint(&nursery->state, HOP__NURSERY_DESTROYED);
    hop__nursery_unlock(nursery);
    return err;
}
