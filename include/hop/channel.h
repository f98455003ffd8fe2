/* hop/channel.h: bounded multi-producer, multi-consumer channels of void *.
 *
 * A channel carries void * items (NULL is an item like any other; the
 * channel never looks at them) through a ring buffer of capacity slots, in
 * FIFO order. Tasks send and receive, suspending (never blocking their
 * thread) while the channel is full or empty; any code at all (plain
 * threads, libuv callbacks, pool jobs) can use the non-suspending
 * hop_channel_try_send() / hop_channel_try_receive() and hop_channel_close().
 * Senders and receivers may be on different executors and threads.
 *
 * Capacity 0 is a rendezvous channel, like Go's unbuffered channels: a send
 * completes only when a receiver takes the item, and try_send succeeds only
 * if a receiver is already waiting.
 *
 * Waiters are served in FIFO order, and an item goes straight from a sender
 * to a waiting receiver (or from a waiting sender into the slot a receiver
 * just freed), so the order items are received in is the order they were
 * sent in, for each sender, and nobody barges past a waiter.
 *
 * Closing: hop_channel_close() stops further sends (HOP_ECLOSED), wakes the
 * senders waiting at that moment with HOP_ECLOSED (their items were not
 * sent and are still theirs), and lets receivers drain what is buffered;
 * once it is empty, receives return HOP_ECLOSED. So a consumer loop is
 *
 *     void *item;
 *     while (hop_channel_receive(ch, &item) == 0) {
 *         ... use item ...
 *     }
 *     // HOP_ECLOSED: closed and drained; HOP_ECANCELED / HOP_ETIMEDOUT: interrupted
 *
 * or, with the macro below, HOP_CHANNEL_FOREACH(ch, item) { ... }.
 *
 * Interrupts (hop_task_cancel: HOP_ECANCELED; deadlines: HOP_ETIMEDOUT) cut
 * a waiting send or receive short. No item is ever lost or duplicated by
 * this: an interrupted send did not send (the caller still owns its item);
 * an interrupted receive took nothing. If the item exchange had already
 * happened when the interrupt came, it wins: the call returns 0 (the item
 * was sent, or was received into *item).
 *
 * Buffer: hop_channel_init() either uses the caller's array of capacity
 * void * slots (which must outlive the channel) or, given NULL, allocates
 * one that hop_channel_destroy() frees. Sends and receives never allocate:
 * waiter records live on the waiting task's stack. A short spin lock guards
 * the buffer and the waiter queues. */
#ifndef HOP_CHANNEL_H
#define HOP_CHANNEL_H

#include <stdint.h>

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_channel_s hop_channel_t;

/* The largest capacity: the buffer's size in bytes must fit in a size_t.
 * (A negative int converted to size_t is always above it.) */
#define HOP_CHANNEL_CAPACITY_MAX (SIZE_MAX / sizeof(void *))

struct hop_channel_s {
    /* private: caller-allocated; initialise with hop_channel_init() */
    unsigned int lock;   /* spin lock word guarding everything below */
    unsigned int magic;  /* set by init, cleared by destroy */
    unsigned int closed; /* atomic */
    bool owns_buffer;
    void **buffer;
    size_t capacity;
    size_t first;   /* index of the oldest buffered item */
    uint64_t count; /* items buffered (atomic) */
    hop__waitq_t senders;
    hop__waitq_t receivers;
    void *reserved[2]; /* room to grow: see "Layout" in hop/common.h */
};

/* hop_channel_init: makes channel open and empty, holding up to capacity
 * items (0: rendezvous). buffer is an array of capacity slots, owned by the
 * caller and kept alive until hop_channel_destroy(); NULL lets the channel
 * allocate its own (nothing for capacity 0; buffer is then ignored). Any
 * thread; not concurrently with other use of the same channel.
 * Returns 0; HOP_EINVAL (NULL channel; capacity above
 * HOP_CHANNEL_CAPACITY_MAX, such as a negative number converted); HOP_ENOMEM
 * (the buffer could not be allocated). On failure channel is left
 * uninitialised: later calls on it return HOP_EINVAL. */
HOP_EXTERN int hop_channel_init(hop_channel_t *channel, size_t capacity, void **buffer);

/* hop_channel_send: sends item, suspending the current task while the
 * channel is full (with capacity 0: until a receiver takes it). Senders
 * waiting on a full channel go in FIFO order. Task only. A cancelled task
 * gets HOP_ECANCELED at once, without sending.
 * Returns 0 (item is in the channel, or with a receiver); HOP_ECLOSED (the
 * channel is closed, or was closed while this send waited: item was not
 * sent); HOP_ECANCELED, HOP_ETIMEDOUT (interrupted: item was not sent);
 * HOP_EINVAL (NULL, uninitialised or destroyed channel); HOP_ENOTTASK. */
HOP_EXTERN int hop_channel_send(hop_channel_t *channel, void *item);

/* hop_channel_receive: takes the oldest item into *item, suspending the
 * current task while the channel is empty and open. Receivers waiting on an
 * empty channel go in FIFO order. Task only.
 * Returns 0 (*item set); HOP_ECLOSED (closed and drained: *item untouched);
 * HOP_ECANCELED, HOP_ETIMEDOUT (interrupted: nothing taken); HOP_EINVAL
 * (NULL channel or item, uninitialised or destroyed channel); HOP_ENOTTASK. */
HOP_EXTERN int hop_channel_receive(hop_channel_t *channel, void **item);

/* hop_channel_try_send: sends item if that needs no waiting: there is a
 * free slot, or (any capacity) a receiver waiting. Any thread, including
 * plain threads and libuv callbacks; never suspends or blocks.
 * Returns 0; HOP_EAGAIN (full, or capacity 0 and no receiver waiting: item
 * not sent); HOP_ECLOSED; HOP_EINVAL. */
HOP_EXTERN int hop_channel_try_send(hop_channel_t *channel, void *item);

/* hop_channel_try_receive: takes the oldest item into *item if there is one
 * (buffered, or held by a waiting sender). Any thread; never suspends.
 * Returns 0; HOP_EAGAIN (empty, still open); HOP_ECLOSED (closed and
 * drained); HOP_EINVAL (NULL channel or item, uninitialised channel). */
HOP_EXTERN int hop_channel_try_receive(hop_channel_t *channel, void **item);

/* hop_channel_close: closes channel (see the top of this header): later and
 * waiting sends fail with HOP_ECLOSED, receives drain the buffer, then fail
 * with HOP_ECLOSED. Any thread; never suspends (O(waiters)).
 * Returns 0; HOP_EALREADY (already closed: nothing changed; a second close
 * of any hop object reports this); HOP_EINVAL. */
HOP_EXTERN int hop_channel_close(hop_channel_t *channel);

/* hop_channel_is_closed: whether hop_channel_close() has been called (items
 * may still be buffered). Any thread. false for NULL or uninitialised. */
HOP_EXTERN bool hop_channel_is_closed(const hop_channel_t *channel);

/* hop_channel_size: items buffered right now: a snapshot. Any thread. 0 for
 * NULL or uninitialised. */
HOP_EXTERN size_t hop_channel_size(const hop_channel_t *channel);

/* hop_channel_capacity: the capacity given at init. Any thread. 0 for NULL
 * or uninitialised. */
HOP_EXTERN size_t hop_channel_capacity(const hop_channel_t *channel);

/* hop_channel_destroy: ends channel's life, freeing the buffer if the
 * channel allocated it; later calls on it return HOP_EINVAL until it is
 * initialised again. Items still buffered are dropped, not freed (drain
 * with hop_channel_try_receive() first if they own memory). Any thread.
 * Returns 0; HOP_EBUSY (tasks wait on it: nothing changed); HOP_EINVAL. */
HOP_EXTERN int hop_channel_destroy(hop_channel_t *channel);

/* HOP_CHANNEL_FOREACH: for (each item received from channel) { body }:
 * receives until hop_channel_receive() fails (the channel is closed and
 * drained, or the task was interrupted), with item a void * local to the
 * loop. Task only.
 *     HOP_CHANNEL_FOREACH(&jobs, job) { handle(job); } */
#define HOP_CHANNEL_FOREACH(channel, item)                                                                   \
    for (void *item = NULL; hop_channel_receive((channel), &item) == 0;)

#ifdef __cplusplus
}
#endif

#endif /* HOP_CHANNEL_H */
