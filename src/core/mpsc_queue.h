/* src/core/mpsc_queue.h: an intrusive, unbounded, lock-free multi-producer
 * single-consumer FIFO of jobs: the loop's inbox.
 *
 * Two parts. A ring of HOP__MPSC_RING_SLOTS slots that producers fill in
 * order, and, for when the ring is full, a stack the consumer takes whole:
 *
 *   tail (producers): the next ring position to claim, and the OVERFLOW bit
 *   ring:  [... next (consumer) ... tail ...]     jobs in claim order
 *   head (stack):      newest -> ... -> oldest     linked through next
 *   taken (consumer):  [newest, ..., oldest]      the last stack taken
 *
 * Why a ring first. The stack alone costs the consumer a walk down the
 * chain it takes: one dependent load per job, each from a line the
 * producer just wrote, so the misses come one after the other (more than
 * half of the loop thread's time when a loop resumes a stream of offloaded
 * tasks). A ring's slots are at known addresses: the consumer reads them in
 * order, several jobs' lines can be on their way at once, and it can look
 * ahead for prefetching without following any link.
 *
 * push (any thread, lock-free): if the OVERFLOW bit is clear and the ring
 * has room (tail is less than a ring's length ahead of the positions the
 * consumer has popped, which it tells a cache line at a time), claim the
 * position with a CAS on tail, then publish the job with an exchange into
 * its slot. The exchange is a full barrier, so a load after the push (the
 * loop's wake word) is not performed before the job is visible; and it is
 * the producer's only access to the slot's line, which a consumer waiting
 * for the job holds: the line moves once per job, as the stack's head did.
 * If the ring is full, set OVERFLOW and push onto the stack (one CAS, also
 * a full barrier). A producer preempted between its claim and its publish
 * holds up the jobs claimed after it until it runs again; it then wakes the
 * consumer like any other push.
 *
 * pop (the consumer): the taken stack's jobs first, then the ring in
 * position order. With OVERFLOW set and the stack not empty, the consumer
 * pops the ring up to the position where the bit was set, clears the bit,
 * then takes the stack. (The bit may stay set over an empty stack for a
 * while: pushes then go to the stack, and the consumer takes them.)
 *
 * Order: each producer's jobs come out in the order it pushed them.
 *   - ring then ring: positions follow claims.
 *   - ring then stack: the stack push found OVERFLOW set at a position
 *     past the ring job's, and the stack is taken only once the ring is
 *     popped up to there.
 *   - stack then ring: the ring claim came after the bit was cleared, and
 *     the consumer clears it and takes the stack in one step of its own,
 *     then pops what it took before any ring job. One case needs the
 *     producer's help: a push that saw OVERFLOW set but whose CAS on the
 *     stack lands after that take would be left behind while the same
 *     producer's next push went to the ring. So after a stack push the
 *     producer looks at tail again, and if the bit is clear sets it: its
 *     later pushes then go to the stack too until the consumer takes it.
 *   - stack then stack: a taken chain is popped oldest first.
 *
 * Memory: a job is owned by the queue from push until pop returns it; the
 * consumer may then reuse or free it, and push it again. The stack's push
 * only links to the head it saw and succeeds only if head is still that
 * job, and the consumer takes the whole stack, never one item: no ABA. The
 * consumer clears the slots of a cache line once it has popped all of
 * them, then moves popped past them: producers read that word once per
 * line, and their publishes into a line are not interleaved with the
 * consumer's writes to it. */
#ifndef HOP_SRC_MPSC_QUEUE_H
#define HOP_SRC_MPSC_QUEUE_H

#include <stdlib.h>

#include "fault.h"
#include "internal.h"

/* Ring slots: a power of two. 1,024 covers a loop with a thousand tasks
 * waiting on offloads, hop-bench's offload row, without the stack. */
#define HOP__MPSC_RING_SLOTS 1024u
/* Slots per cache line: the consumer tells producers about free slots a
 * line at a time. */
#define HOP__MPSC_SLOTS_PER_LINE (HOP__CACHELINE / sizeof(hop_job_t *))
/* In tail: producers must use the stack until the consumer takes it. */
#define HOP__MPSC_OVERFLOW ((uint64_t)1 << 63)

typedef struct {
    /* Producers: the next position to claim, and HOP__MPSC_OVERFLOW. */
    _Alignas(HOP__CACHELINE) uint64_t tail;
    /* Producers: the most recently pushed job on the stack, or NULL.
     * Written by their CASes and by the consumer's take. */
    _Alignas(HOP__CACHELINE) hop_job_t *head;
    /* Written by the consumer, read by producers: every position below it
     * is popped and its slot empty again, so a producer may claim up to
     * popped + HOP__MPSC_RING_SLOTS - 1. */
    _Alignas(HOP__CACHELINE) uint64_t popped;
    /* The consumer's own. */
    _Alignas(HOP__CACHELINE) uint64_t next; /* the ring position it pops next */
    /* Taken stack jobs, newest first: pop takes taken[ntaken - 1]. */
    hop_job_t **taken;
    size_t ntaken, capacity;
    /* Taken jobs that did not fit in taken (it could not grow), oldest first. */
    hop_job_t *overflow;
    /* The job at each position, NULL until published and again once the
     * consumer has popped its whole line. */
    _Alignas(HOP__CACHELINE) hop_job_t *ring[HOP__MPSC_RING_SLOTS];
} hop__mpsc_queue_t;

/* What pop and peek found. */
typedef enum {
    HOP__MPSC_EMPTY = 0, /* nothing the consumer can pop now */
    HOP__MPSC_ITEM = 1   /* a job is there (pop: returned) */
} hop__mpsc_result_t;

/* hop__mpsc_queue_init: an empty queue. Not thread-safe: before any use. */
static inline void hop__mpsc_queue_init(hop__mpsc_queue_t *q) {
    hop__atomic_store_u64(&q->tail, 0);
    hop__atomic_store_ptr(&q->head, NULL);
    hop__atomic_store_u64(&q->popped, 0);
    q->next = 0;
    q->taken = NULL;
    q->ntaken = q->capacity = 0;
    q->overflow = NULL;
    for (uint64_t i = 0; i < HOP__MPSC_RING_SLOTS; i++)
        hop__atomic_store_ptr(&q->ring[i], NULL);
}

/* hop__mpsc_queue_destroy: frees what the consumer allocated. The queue
 * must be empty and no longer used. */
static inline void hop__mpsc_queue_destroy(hop__mpsc_queue_t *q) {
    free(q->taken);
    q->taken = NULL;
    q->capacity = 0;
}

/* A claim of the slot at tail; false when OVERFLOW is set or the ring is
 * full (the bit is then set). The producer never reads a slot: a consumer
 * polling for the next job holds that line, and the publish's write then
 * takes it over once. */
static inline bool hop__mpsc_queue_push_ring(hop__mpsc_queue_t *q, hop_job_t *job) {
    uint64_t pos = hop__atomic_load_u64(&q->tail);
    for (;;) {
        if (pos & HOP__MPSC_OVERFLOW)
            return false;
        if (pos - hop__atomic_load_u64(&q->popped) >= HOP__MPSC_RING_SLOTS) {
            /* The slot's job of the last lap is not popped and cleared yet: full. */
            if (hop__atomic_cas_u64(&q->tail, pos, pos | HOP__MPSC_OVERFLOW))
                return false;
        } else if (hop__atomic_cas_u64(&q->tail, pos, pos + 1)) {
            /* The publish, and the push's full barrier. */
            (void)hop__atomic_fas_ptr(&q->ring[pos & (HOP__MPSC_RING_SLOTS - 1)], job);
            return true;
        }
        /* Another producer moved tail: look again. */
        pos = hop__atomic_load_u64(&q->tail);
    }
}

/* A push onto the stack, for a producer that found OVERFLOW set or the
 * ring full (and set the bit). */
static inline void hop__mpsc_queue_push_stack(hop__mpsc_queue_t *q, hop_job_t *job) {
    hop_job_t *seen = NULL;
    for (;;) {
        /* job is not reachable yet: published by the CAS. */
        hop__atomic_store_ptr(&job->next, seen);
        hop_job_t *now = hop__atomic_cas_ptr_value(&q->head, seen, job);
        if (now == seen)
            break;
        seen = now;
    }
    /* If the consumer cleared OVERFLOW before this push landed, the job may
     * have missed its take: set the bit again, so that this producer's
     * next pushes stay behind it (see "Order" above). */
    uint64_t pos = hop__atomic_load_u64(&q->tail);
    while (!(pos & HOP__MPSC_OVERFLOW) && !hop__atomic_cas_u64(&q->tail, pos, pos | HOP__MPSC_OVERFLOW))
        pos = hop__atomic_load_u64(&q->tail);
}

/* hop__mpsc_queue_push_mpsc: appends job. Any thread, concurrently with other
 * pushes and with the consumer; lock-free. A full barrier: the job's fields
 * written before the call are visible to the consumer that pops it, and a
 * load after the call is not performed before the push is visible. */
static inline void hop__mpsc_queue_push_mpsc(hop__mpsc_queue_t *q, hop_job_t *job) {
    if (!hop__mpsc_queue_push_ring(q, job))
        hop__mpsc_queue_push_stack(q, job);
}

/* Takes the stack into taken; returns whether it got anything. The
 * consumer only, with nothing taken left and the ring popped up to tail,
 * whose OVERFLOW bit it clears first. The chain is newest first: its jobs
 * are recorded in that order and popped from the end, so the walk only
 * reads them. */
static inline bool hop__mpsc_queue_take(hop__mpsc_queue_t *q) {
    /* tail does not move while the bit is set: no claim succeeds then, and
     * producers only set the bit. */
    hop__atomic_store_u64(&q->tail, q->next);
    hop__atomic_fence_full(); /* the clear before the take */
    /* The exchange is a full barrier: the fields of every job it takes,
     * written before their pushes' CASes, are visible from here. */
    hop_job_t *job = hop__atomic_fas_ptr(&q->head, NULL);
    size_t n = 0;
    while (job) {
        if (n == q->capacity) {
            size_t capacity = q->capacity ? 2 * q->capacity : 64;
            hop_job_t **grown = hop__realloc(q->taken, capacity * sizeof *grown);
            if (!grown)
                break;
            q->taken = grown;
            q->capacity = capacity;
        }
        q->taken[n++] = job;
        job = hop__atomic_load_ptr(&job->next);
    }
    /* Out of memory: the older rest is reversed in place, to be popped
     * after the ones recorded. */
    hop_job_t *reversed = NULL;
    while (job) {
        hop_job_t *older = hop__atomic_load_ptr(&job->next);
        hop__atomic_store_ptr(&job->next, reversed);
        reversed = job;
        job = older;
    }
    q->overflow = reversed;
    q->ntaken = n;
    return true;
}

/* The published job at ring position pos (pos >= next), or NULL. The
 * slot's last job was that of pos - HOP__MPSC_RING_SLOTS, whose line was
 * popped and cleared, so a job there is pos's. The consumer only. */
static inline hop_job_t *hop__mpsc_queue_ring_at(hop__mpsc_queue_t *q, uint64_t pos) {
    hop_job_t *job = hop__atomic_load_ptr(&q->ring[pos & (HOP__MPSC_RING_SLOTS - 1)]);
    hop__atomic_fence_acquire(); /* the job's fields, written before its publish */
    return job;
}

/* Whether the stack is the consumer's to take now: not empty, OVERFLOW set
 * and the ring popped up to where it was set. head is read first: it is
 * rarely written, so the read stays in cache, where tail changes with every
 * claim. The consumer only. */
static inline bool hop__mpsc_queue_stack_due(hop__mpsc_queue_t *q) {
    return hop__atomic_load_ptr(&q->head) && hop__atomic_load_u64(&q->tail) == (q->next | HOP__MPSC_OVERFLOW);
}

/* hop__mpsc_queue_pop_spsc: takes the oldest job into *job (HOP__MPSC_ITEM),
 * or reports HOP__MPSC_EMPTY (*job = NULL). The single consumer only;
 * lock-free. */
static inline hop__mpsc_result_t hop__mpsc_queue_pop_spsc(hop__mpsc_queue_t *q, hop_job_t **job) {
    for (;;) {
        if (q->overflow) {
            *job = q->overflow;
            q->overflow = hop__atomic_load_ptr(&(*job)->next);
            return HOP__MPSC_ITEM;
        }
        if (q->ntaken) {
            *job = q->taken[--q->ntaken];
            return HOP__MPSC_ITEM;
        }
        uint64_t pos = q->next;
        if ((*job = hop__mpsc_queue_ring_at(q, pos)) != NULL) {
            q->next = pos + 1;
            if ((pos + 1) % HOP__MPSC_SLOTS_PER_LINE == 0) {
                /* The line is all popped: cleared at once (a producer
                 * publishing into the line meanwhile would otherwise see
                 * it taken back after every pop), and free for the next
                 * lap once the clears are visible. */
                hop_job_t **line = &q->ring[(pos + 1 - HOP__MPSC_SLOTS_PER_LINE) & (HOP__MPSC_RING_SLOTS - 1)];
                for (size_t i = 0; i < HOP__MPSC_SLOTS_PER_LINE; i++)
                    hop__atomic_store_ptr(&line[i], NULL);
                hop__atomic_fence_release();
                hop__atomic_store_u64(&q->popped, pos + 1);
            }
            return HOP__MPSC_ITEM;
        }
        if (!hop__mpsc_queue_stack_due(q) || !hop__mpsc_queue_take(q)) {
            *job = NULL;
            return HOP__MPSC_EMPTY;
        }
    }
}

/* hop__mpsc_queue_ahead_spsc: the job that the (i+1)-th pop from now will
 * return, among those the consumer can see, or NULL (it does not look past
 * the ring into a stack not yet taken). For a consumer that prefetches what
 * those jobs will touch: reading a slot or the taken array reads no job.
 * Changes nothing. The consumer only. */
static inline hop_job_t *hop__mpsc_queue_ahead_spsc(hop__mpsc_queue_t *q, size_t i) {
    size_t skipped = 0;
    for (hop_job_t *job = q->overflow; job; job = hop__atomic_load_ptr(&job->next), skipped++)
        if (skipped == i)
            return job;
    i -= skipped;
    if (i < q->ntaken)
        return q->taken[q->ntaken - 1 - i];
    i -= q->ntaken;
    return hop__mpsc_queue_ring_at(q, q->next + i);
}

/* hop__mpsc_queue_peek_spsc: whether pop would return a job right now,
 * without taking anything. The single consumer only. */
static inline hop__mpsc_result_t hop__mpsc_queue_peek_spsc(hop__mpsc_queue_t *q) {
    if (q->overflow || q->ntaken || hop__mpsc_queue_ring_at(q, q->next))
        return HOP__MPSC_ITEM;
    return hop__mpsc_queue_stack_due(q) ? HOP__MPSC_ITEM : HOP__MPSC_EMPTY;
}

#endif /* HOP_SRC_MPSC_QUEUE_H */
