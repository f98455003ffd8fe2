/* src/core/mpsc_queue.h: an intrusive, unbounded, lock-free multi-producer
 * single-consumer FIFO of jobs: the loop's inbox.
 *
 * Producers push onto a stack; the consumer takes the whole stack at once
 * and pops its jobs oldest first:
 *
 *   head (producers) -> newest -> ... -> oldest        (linked through next)
 *   taken (consumer):  [newest, ..., oldest]           (pop from the end)
 *
 * push (any thread, lock-free): link job to the head seen, then one CAS on
 * head. The CAS is the only step, so a push is never half done: the
 * consumer never finds the list cut, and a producer preempted anywhere
 * leaves nothing for the consumer to wait for. A CAS fails only when
 * another push (or the consumer's take) came in between; the first try
 * expects an empty stack, which is what a producer finds when the consumer
 * keeps up, so the common push costs one locked instruction and no read
 * before it.
 *
 * take (the consumer, when it has popped everything taken before): one
 * exchange of head with NULL, then a walk down the chain that records each
 * job in an array (which grows to the largest batch seen and is kept until
 * the queue is destroyed). Everything pushed so far comes in one step, so a
 * burst of pushes costs the consumer one atomic operation.
 *
 * Why not Vyukov's node-based queue (an exchange, then a link from the
 * previous node), used here before: when the consumer keeps up, each pop
 * takes the last node, and to do so re-pushes the queue's stub (an exchange
 * on head) and writes the stub's link. The next push then writes both head
 * and the stub's link, two lines the consumer had just written, plus a
 * fence for the link: four line transfers per job, where this queue needs
 * one (head) besides the job's own. bench/RESULTS.md measures it.
 *
 * Order: jobs come out in the order their CASes succeeded, so each
 * producer's jobs come out in the order it pushed them.
 *
 * Memory: a job is owned by the queue from push until pop returns it; the
 * consumer may then reuse or free it, and push it again. A push only links
 * to the head it saw and succeeds only if head is still that job, so a job
 * taken and pushed again meanwhile cannot corrupt the list (the ABA hazard
 * of lock-free stacks is in popping one item, which this queue never does:
 * the consumer takes all of them). */
#ifndef HOP_SRC_MPSC_QUEUE_H
#define HOP_SRC_MPSC_QUEUE_H

#include <stdlib.h>

#include "fault.h"
#include "internal.h"

typedef struct {
    /* Producers: the most recently pushed job not yet taken, or NULL.
     * Written by their CASes and by the consumer's take; alone on its line. */
    _Alignas(HOP__CACHELINE) hop_job_t *head;
    /* The consumer's own. Taken jobs, newest first: pop takes taken[ntaken - 1]. */
    _Alignas(HOP__CACHELINE) hop_job_t **taken;
    size_t ntaken, capacity;
    /* Taken jobs that did not fit in taken (it could not grow), oldest first. */
    hop_job_t *overflow;
} hop__mpsc_queue_t;

/* What pop and peek found. */
typedef enum {
    HOP__MPSC_EMPTY = 0, /* nothing pushed that the consumer has not popped */
    HOP__MPSC_ITEM = 1   /* a job is there (pop: returned) */
} hop__mpsc_result_t;

/* hop__mpsc_queue_init: an empty queue. Not thread-safe: before any use. */
static inline void hop__mpsc_queue_init(hop__mpsc_queue_t *q) {
    hop__atomic_store_ptr(&q->head, NULL);
    q->taken = NULL;
    q->ntaken = q->capacity = 0;
    q->overflow = NULL;
}

/* hop__mpsc_queue_destroy: frees what the consumer allocated. The queue
 * must be empty and no longer used. */
static inline void hop__mpsc_queue_destroy(hop__mpsc_queue_t *q) {
    free(q->taken);
    q->taken = NULL;
    q->capacity = 0;
}

/* hop__mpsc_queue_push_mpsc: appends job. Any thread, concurrently with other
 * pushes and with the consumer; lock-free. A full barrier: the job's fields
 * written before the call are visible to the consumer that pops it, and a
 * load after the call is not performed before the push is visible. */
static inline void hop__mpsc_queue_push_mpsc(hop__mpsc_queue_t *q, hop_job_t *job) {
    hop_job_t *seen = NULL;
    for (;;) {
        /* job is not reachable yet: published by the CAS. */
        hop__atomic_store_ptr(&job->next, seen);
        hop_job_t *now = hop__atomic_cas_ptr_value(&q->head, seen, job);
        if (now == seen)
            return;
        seen = now;
    }
}

/* Takes everything pushed so far; returns whether it got anything. The
 * consumer only, with nothing taken left. The chain is newest first: its
 * jobs are recorded in taken in that order and popped from the end, so the
 * walk only reads them. Writing each job's link to reverse the chain would
 * make every store wait for the line the producer still holds, and the
 * next full barrier wait for all of them. */
static inline bool hop__mpsc_queue_take(hop__mpsc_queue_t *q) {
    if (!hop__atomic_load_ptr(&q->head))
        return false; /* a plain read first: the line stays shared */
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

/* hop__mpsc_queue_pop_spsc: takes the oldest job into *job (HOP__MPSC_ITEM),
 * or reports HOP__MPSC_EMPTY (*job = NULL). The single consumer only;
 * lock-free. */
static inline hop__mpsc_result_t hop__mpsc_queue_pop_spsc(hop__mpsc_queue_t *q, hop_job_t **job) {
    if (!q->overflow && !q->ntaken && !hop__mpsc_queue_take(q)) {
        *job = NULL;
        return HOP__MPSC_EMPTY;
    }
    if (q->overflow) {
        *job = q->overflow;
        q->overflow = hop__atomic_load_ptr(&(*job)->next);
    } else {
        *job = q->taken[--q->ntaken];
    }
    return HOP__MPSC_ITEM;
}

/* hop__mpsc_queue_ahead_spsc: the job that the (i+1)-th pop from now will
 * return, among those already taken, or NULL; i < 2. For a consumer that
 * prefetches what those jobs will touch. Changes nothing. The consumer
 * only. */
static inline hop_job_t *hop__mpsc_queue_ahead_spsc(hop__mpsc_queue_t *q, size_t i) {
    size_t skipped = 0;
    for (hop_job_t *job = q->overflow; job; job = hop__atomic_load_ptr(&job->next), skipped++)
        if (skipped == i)
            return job;
    i -= skipped;
    return i < q->ntaken ? q->taken[q->ntaken - 1 - i] : NULL;
}

/* hop__mpsc_queue_peek_spsc: whether pop would return a job right now,
 * without taking anything. The single consumer only. */
static inline hop__mpsc_result_t hop__mpsc_queue_peek_spsc(hop__mpsc_queue_t *q) {
    return q->overflow || q->ntaken || hop__atomic_load_ptr(&q->head) ? HOP__MPSC_ITEM : HOP__MPSC_EMPTY;
}

#endif /* HOP_SRC_MPSC_QUEUE_H */
