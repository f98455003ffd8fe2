/* src/core/mpsc_queue.h: an intrusive, unbounded, lock-free multi-producer
 * single-consumer FIFO of jobs (Dmitry Vyukov's node-based MPSC queue).
 *
 * The queue is a singly linked list threaded through hop_job_t.next, plus a
 * stub job that the queue owns so that the list is never empty:
 *
 *   tail (consumer) -> job -> job -> ... -> job <- head (producers)
 *
 * push (any thread, wait-free): clear job->next, exchange head with job,
 * then link the previous head to job. One exchange, no loop, no allocation,
 * never full: a producer never waits for another producer or the consumer.
 *
 * pop (one consumer thread at a time): follow tail->next. Between a
 * producer's exchange and its link the list is briefly cut: head already
 * names the new job, but the consumer cannot reach it yet. pop then reports
 * HOP__MPSC_BUSY ("not yet") rather than spinning: the producer may have been
 * preempted between its two steps. Whoever waits for the queue must make the
 * producer wake it after the link (the loop executor does: its producers
 * check the loop's sleep flag only after linking, see executors/loop.c).
 *
 * Jobs come out in the order their exchanges on head happened, so each
 * producer's jobs come out in the order it pushed them.
 *
 * Memory: a job is owned by the queue from push until pop returns it; the
 * consumer may then reuse or free it. The stub is re-pushed by the consumer
 * whenever it would otherwise take the last real job, so head never points
 * at a job the consumer has handed out. */
#ifndef HOP_SRC_MPSC_QUEUE_H
#define HOP_SRC_MPSC_QUEUE_H

#include "internal.h"

typedef struct {
    /* Producers: the most recently pushed job (or the stub). Written only by
     * the exchange in push; alone on its cache line so that producers
     * hammering it do not steal the consumer's line. */
    hop_job_t *head;
    char pad_head[HOP__CACHELINE - sizeof(hop_job_t *)];
    /* Consumer only: the oldest job not yet popped (or the stub). */
    hop_job_t *tail;
    /* Owned by the queue; its next is written by producers like any job's. */
    hop_job_t stub;
    char pad_tail[HOP__CACHELINE - sizeof(hop_job_t *) - sizeof(hop_job_t)];
} hop__mpsc_queue_t;

/* What pop and peek found. */
typedef enum {
    HOP__MPSC_EMPTY = 0, /* nothing pushed that the consumer has not taken */
    HOP__MPSC_ITEM = 1,  /* a job is there (pop: returned) */
    HOP__MPSC_BUSY = 2   /* a push is half done (exchanged, not linked): not yet */
} hop__mpsc_result_t;

/* hop__mpsc_queue_init: an empty queue. Not thread-safe: before any use. */
static inline void hop__mpsc_queue_init(hop__mpsc_queue_t *q) {
    q->stub.run = NULL;
    q->stub.next = NULL;
    q->stub.executor_private = NULL;
    q->head = &q->stub;
    q->tail = &q->stub;
}

/* hop__mpsc_queue_push_mpsc: appends job. Any thread, concurrently with other
 * pushes and with the consumer; wait-free (one exchange). The job's fields
 * written before the call are visible to the consumer that pops it. */
static inline void hop__mpsc_queue_push_mpsc(hop__mpsc_queue_t *q, hop_job_t *job) {
    hop__atomic_store_ptr(&job->next, NULL);
    /* The exchange is a full barrier: job's fields and its NULL next are
     * visible before anyone can reach job through head. It is also the
     * point that orders this push among all pushes (FIFO). */
    hop_job_t *prev = hop__atomic_fas_ptr(&q->head, job);
    /* From here to the store below the list is cut at prev (pop: BUSY).
     * The store publishes job to the consumer; it needs no fence of its own,
     * the exchange above already ordered everything before it. */
    hop__atomic_store_ptr(&prev->next, job);
}

/* Loads node->next for the consumer; the acquire makes the fields of the job
 * it names (written before its push) visible before the consumer reads them. */
static inline hop_job_t *hop__mpsc_queue_next(hop_job_t *node) {
    hop_job_t *next = hop__atomic_load_ptr(&node->next);
    /* The link above before any read of the linked job's fields. */
    hop__atomic_fence_acquire();
    return next;
}

/* hop__mpsc_queue_pop_spsc: takes the oldest job into *job (HOP__MPSC_ITEM),
 * or reports HOP__MPSC_EMPTY or HOP__MPSC_BUSY (*job = NULL). The single
 * consumer only; lock-free, never waits for a producer. */
static inline hop__mpsc_result_t hop__mpsc_queue_pop_spsc(hop__mpsc_queue_t *q, hop_job_t **job) {
    hop_job_t *tail = q->tail;
    hop_job_t *next = hop__mpsc_queue_next(tail);
    *job = NULL;
    if (tail == &q->stub) {
        if (!next) {
            /* Empty, unless a producer has swung head off the stub and not
             * linked stub.next yet. */
            return hop__atomic_load_ptr(&q->head) == &q->stub ? HOP__MPSC_EMPTY : HOP__MPSC_BUSY;
        }
        /* Skip the stub: it is not a job. */
        q->tail = next;
        tail = next;
        next = hop__mpsc_queue_next(tail);
    }
    if (next) {
        q->tail = next;
        *job = tail;
        return HOP__MPSC_ITEM;
    }
    /* tail is the last linked job. If head is elsewhere, a producer has
     * exchanged past tail and will link tail->next shortly: not yet. */
    if (hop__atomic_load_ptr(&q->head) != tail)
        return HOP__MPSC_BUSY;
    /* tail is the last job of all. Handing it out would leave head naming a
     * job the caller may reuse, so put the stub behind it first. */
    hop__mpsc_queue_push_mpsc(q, &q->stub);
    next = hop__mpsc_queue_next(tail);
    if (next) {
        q->tail = next;
        *job = tail;
        return HOP__MPSC_ITEM;
    }
    /* A producer exchanged between the head check and the stub's push; its
     * link to tail->next is pending (the stub now sits behind its job). */
    return HOP__MPSC_BUSY;
}

/* hop__mpsc_queue_prefetch_spsc: asks the CPU to fetch the line of the
 * oldest queued job, whose next the following pop reads. A producer on
 * another CPU wrote that link: without this the pop waits for the line,
 * with it the transfer overlaps whatever the consumer does meanwhile (the
 * job it just popped). A hint: no memory access, nothing changes. The
 * single consumer only. */
static inline void hop__mpsc_queue_prefetch_spsc(hop__mpsc_queue_t *q) { __builtin_prefetch(q->tail); }

/* hop__mpsc_queue_peek_spsc: what pop would find right now, without taking
 * anything (it follows pop's steps). The single consumer only. */
static inline hop__mpsc_result_t hop__mpsc_queue_peek_spsc(hop__mpsc_queue_t *q) {
    hop_job_t *tail = q->tail;
    hop_job_t *next = hop__atomic_load_ptr(&tail->next);
    if (tail == &q->stub) {
        if (!next)
            return hop__atomic_load_ptr(&q->head) == &q->stub ? HOP__MPSC_EMPTY : HOP__MPSC_BUSY;
        tail = next;
        next = hop__atomic_load_ptr(&tail->next);
    }
    if (next)
        return HOP__MPSC_ITEM;
    /* As in pop: the last linked job can be taken only once head is on it. */
    return hop__atomic_load_ptr(&q->head) == tail ? HOP__MPSC_ITEM : HOP__MPSC_BUSY;
}

#endif /* HOP_SRC_MPSC_QUEUE_H */
