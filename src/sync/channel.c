/* src/sync/channel.c: bounded MPMC channels.
 *
 * Everything (ring buffer, both waiter queues, closed) is guarded by one
 * short spin lock; no path holds it across a completion or an await.
 * Invariants under the lock:
 *   - receivers wait only while the buffer is empty and the channel open;
 *   - senders wait only while the buffer is full (always, for capacity 0)
 *     and the channel open;
 * so an item never waits in the buffer while a receiver waits for one.
 *
 * Items move under the lock, straight to their new owner: a send with a
 * receiver waiting writes the item into the receiver's record; a receive
 * that frees a slot (or, with capacity 0, finds a sender waiting) moves the
 * head sender's item in. The moved-to waiter is dequeued in the same
 * critical section, and completed after it. Its wait queue (core/waitq.h),
 * under the lock, decides each race between an exchange and an interrupt
 * (hop_task_cancel, deadlines): a waiter still queued is withdrawn and no
 * item moved (cancel returns 0); a dequeued one has its item moved already
 * and its completion on the way (HOP_EALREADY, and the call returns 0). So
 * an item is never lost to an interrupt nor delivered twice. */
#include "hop/channel.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/fault.h"
#include "core/waitq.h"

#define HOP__CHANNEL_MAGIC 0x6368616eu /* "chan" */

typedef struct {
    hop__waiter_t waiter; /* first: the awaitable converts to the record */
    hop_channel_t *channel;
    void *item; /* a sender's item; a receiver's, once given */
    int result; /* 0 or HOP_ECLOSED, set by whoever dequeues the waiter */
    bool sender;
} hop__channel_waiter_t;

/* The public struct keeps the spin lock as a bare word, which is all a
 * hop__spinlock_t is. */
static hop__spinlock_t *hop__channel_spin(hop_channel_t *c) { return (hop__spinlock_t *)(void *)&c->lock; }

static bool hop__channel_valid(const hop_channel_t *c) { return c && c->magic == HOP__CHANNEL_MAGIC; }

/* Dequeues the longest-waiting sender or receiver of q, or returns NULL;
 * under the spin lock. */
static hop__channel_waiter_t *hop__channel_pop_waiter(hop__waitq_t *q) {
    return (hop__channel_waiter_t *)hop__waiter_of(hop__waitq_pop(q));
}

/* count is read without the lock by hop_channel_size(), hence atomic. */
static size_t hop__channel_count(const hop_channel_t *c) {
    return (size_t)hop__atomic_load_u64((uint64_t *)&c->count);
}

static void hop__channel_set_count(hop_channel_t *c, size_t count) {
    hop__atomic_store_u64(&c->count, count);
}

static bool hop__channel_closed(const hop_channel_t *c) {
    return hop__atomic_load_uint((unsigned int *)&c->closed) != 0;
}

static void hop__channel_push(hop_channel_t *c, void *item) {
    size_t count = hop__channel_count(c);
    size_t slot = c->first + count;
    if (slot >= c->capacity)
        slot -= c->capacity;
    c->buffer[slot] = item;
    hop__channel_set_count(c, count + 1);
}

static void *hop__channel_pop(hop_channel_t *c) {
    void *item = c->buffer[c->first];
    c->first = c->first + 1 == c->capacity ? 0 : c->first + 1;
    hop__channel_set_count(c, hop__channel_count(c) - 1);
    return item;
}

/* The send step, under the spin lock: 0 (sent; *wake is a receiver to
 * complete after unlocking, or NULL), HOP_ECLOSED, or HOP_EAGAIN (full). */
static int hop__channel_send_locked(hop_channel_t *c, void *item, hop__channel_waiter_t **wake) {
    *wake = NULL;
    if (hop__channel_closed(c))
        return HOP_ECLOSED;
    hop__channel_waiter_t *r = hop__channel_pop_waiter(&c->receivers);
    if (r) {
        r->item = item;
        r->result = 0;
        *wake = r;
        return 0;
    }
    if (hop__channel_count(c) < c->capacity) {
        hop__channel_push(c, item);
        return 0;
    }
    return HOP_EAGAIN;
}

/* The receive step, under the spin lock: 0 (*item set; *wake is a sender to
 * complete after unlocking, or NULL), HOP_ECLOSED (closed and drained), or
 * HOP_EAGAIN (empty). */
static int hop__channel_receive_locked(hop_channel_t *c, void **item, hop__channel_waiter_t **wake) {
    *wake = NULL;
    hop__channel_waiter_t *s = hop__channel_pop_waiter(&c->senders);
    if (hop__channel_count(c) > 0) {
        *item = hop__channel_pop(c);
        if (s) {
            /* The freed slot goes to the longest waiting sender. */
            hop__channel_push(c, s->item);
            s->result = 0;
            *wake = s;
        }
        return 0;
    }
    if (s) {
        /* Capacity 0: take the item from the sender's hand. */
        *item = s->item;
        s->result = 0;
        *wake = s;
        return 0;
    }
    return hop__channel_closed(c) ? HOP_ECLOSED : HOP_EAGAIN;
}

/* One exchange step for waiter w, under the spin lock. */
static int hop__channel_step_locked(hop__channel_waiter_t *w, hop__channel_waiter_t **wake) {
    if (w->sender)
        return hop__channel_send_locked(w->channel, w->item, wake);
    return hop__channel_receive_locked(w->channel, &w->item, wake);
}

static void hop__channel_wake(hop__channel_waiter_t *w) {
    if (w)
        hop_awaitable_complete(&w->waiter.base, w->result);
}

int hop_channel_init(hop_channel_t *channel, size_t capacity, void **buffer) {
    if (!channel)
        return HOP_EINVAL;
    channel->magic = 0; /* a failed init leaves it uninitialised */
    if (capacity > HOP_CHANNEL_CAPACITY_MAX)
        return HOP_EINVAL;
    bool owns = false;
    if (capacity == 0) {
        buffer = NULL;
    } else if (!buffer) {
        buffer = hop__malloc(capacity * sizeof *buffer);
        if (!buffer)
            return HOP_ENOMEM;
        owns = true;
    }
    *channel = (hop_channel_t){
        .magic = HOP__CHANNEL_MAGIC, .owns_buffer = owns, .buffer = buffer, .capacity = capacity};
    return 0;
}

/* ready: the path that needs no waiting, on the task's stack. */
static bool hop__channel_ready(hop_awaitable_t *aw) {
    hop__channel_waiter_t *w = (hop__channel_waiter_t *)aw;
    hop__channel_waiter_t *wake;
    hop__spinlock_lock(hop__channel_spin(w->channel));
    int rc = hop__channel_step_locked(w, &wake);
    hop__spinlock_unlock(hop__channel_spin(w->channel));
    hop__channel_wake(wake);
    if (rc == HOP_EAGAIN)
        return false;
    w->result = rc;
    return true;
}

static bool hop__channel_suspend(hop_awaitable_t *aw) {
    hop__channel_waiter_t *w = (hop__channel_waiter_t *)aw;
    hop__channel_waiter_t *wake;
    hop__spinlock_lock(hop__channel_spin(w->channel));
    int rc = hop__channel_step_locked(w, &wake);
    if (rc == HOP_EAGAIN) {
        hop__waitq_push(w->waiter.queue, &w->waiter.node);
        /* From here another thread may move an item for w and complete it. */
        hop__spinlock_unlock(hop__channel_spin(w->channel));
        return true;
    }
    hop__spinlock_unlock(hop__channel_spin(w->channel));
    /* Things changed since ready() looked: done without waiting. */
    w->result = rc;
    hop__channel_wake(wake);
    return false;
}

static int hop__channel_resume(hop_awaitable_t *aw) { return ((hop__channel_waiter_t *)aw)->result; }

/* cancel's HOP_EALREADY: an item moved for the waiter (or close woke it)
 * under the lock, and the completion is on its way: it must win. */
static void hop__channel_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    const hop__channel_waiter_t *w = (const hop__channel_waiter_t *)aw;
    snprintf(buf, size, "channel %s %p", w->sender ? "send" : "recv", (void *)w->channel);
}

static const hop_awaitable_ops_t hop__channel_ops = {.name = "channel", 
    .ready = hop__channel_ready,
    .suspend = hop__channel_suspend,
    .resume = hop__channel_resume,
    .cancel = hop__waiter_cancel,
    .describe = hop__channel_describe,
    .describe_size = sizeof(hop__channel_waiter_t),
};

int hop_channel_send(hop_channel_t *channel, void *item) {
    if (!hop__channel_valid(channel))
        return HOP_EINVAL;
    hop__channel_waiter_t w = {.channel = channel, .item = item, .sender = true};
    hop__waiter_init(&w.waiter, &hop__channel_ops, hop__channel_spin(channel), &channel->senders, NULL);
    return hop_await(&w.waiter.base);
}

int hop_channel_receive(hop_channel_t *channel, void **item) {
    if (!hop__channel_valid(channel) || !item)
        return HOP_EINVAL;
    hop__channel_waiter_t w = {.channel = channel, .sender = false};
    hop__waiter_init(&w.waiter, &hop__channel_ops, hop__channel_spin(channel), &channel->receivers, NULL);
    int rc = hop_await(&w.waiter.base);
    if (rc == 0)
        *item = w.item;
    return rc;
}

int hop_channel_try_send(hop_channel_t *channel, void *item) {
    if (!hop__channel_valid(channel))
        return HOP_EINVAL;
    hop__channel_waiter_t *wake;
    hop__spinlock_lock(hop__channel_spin(channel));
    int rc = hop__channel_send_locked(channel, item, &wake);
    hop__spinlock_unlock(hop__channel_spin(channel));
    hop__channel_wake(wake);
    return rc;
}

int hop_channel_try_receive(hop_channel_t *channel, void **item) {
    if (!hop__channel_valid(channel) || !item)
        return HOP_EINVAL;
    hop__channel_waiter_t *wake;
    hop__spinlock_lock(hop__channel_spin(channel));
    int rc = hop__channel_receive_locked(channel, item, &wake);
    hop__spinlock_unlock(hop__channel_spin(channel));
    hop__channel_wake(wake);
    return rc;
}

int hop_channel_close(hop_channel_t *channel) {
    if (!hop__channel_valid(channel))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__channel_spin(channel));
    if (hop__channel_closed(channel)) {
        hop__spinlock_unlock(hop__channel_spin(channel));
        return HOP_EALREADY;
    }
    hop__atomic_store_uint(&channel->closed, 1u);
    /* Waiting receivers imply an empty buffer: nothing left for them. */
    hop__waitq_node_t *senders = hop__waitq_take_all(&channel->senders);
    hop__waitq_node_t *receivers = hop__waitq_take_all(&channel->receivers);
    hop__spinlock_unlock(hop__channel_spin(channel));
    /* The channel is not touched again: only the taken waiters, whose
     * result the resume op reports. */
    hop__waitq_node_t *lists[2] = {senders, receivers};
    for (int i = 0; i < 2; i++) {
        for (hop__waitq_node_t *n = lists[i]; n;) {
            hop__waitq_node_t *next = n->next; /* n may be gone after the wake */
            hop__channel_waiter_t *w = (hop__channel_waiter_t *)hop__waiter_of(n);
            w->result = HOP_ECLOSED;
            hop__channel_wake(w);
            n = next;
        }
    }
    return 0;
}

bool hop_channel_is_closed(const hop_channel_t *channel) {
    return hop__channel_valid(channel) && hop__channel_closed(channel);
}

size_t hop_channel_size(const hop_channel_t *channel) {
    return hop__channel_valid(channel) ? hop__channel_count(channel) : 0;
}

size_t hop_channel_capacity(const hop_channel_t *channel) {
    return hop__channel_valid(channel) ? channel->capacity : 0;
}

int hop_channel_destroy(hop_channel_t *channel) {
    if (!hop__channel_valid(channel))
        return HOP_EINVAL;
    hop__spinlock_lock(hop__channel_spin(channel));
    bool busy = !hop__waitq_empty(&channel->senders) || !hop__waitq_empty(&channel->receivers);
    if (!busy)
        channel->magic = 0;
    hop__spinlock_unlock(hop__channel_spin(channel));
    if (busy)
        return HOP_EBUSY;
    if (channel->owns_buffer)
        free(channel->buffer);
    channel->buffer = NULL;
    channel->owns_buffer = false;
    return 0;
}
