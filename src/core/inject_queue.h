/* src/core/inject_queue.h: the pool's injection queue, an intrusive, unbounded
 * FIFO of jobs with lock-free producers and consumers that take turns.
 *
 * The list is Dmitry Vyukov's node-based MPSC queue, threaded through
 * hop_job_t.next, with a stub job owned by the queue:
 *
 *   tail (consumer) -> job -> job -> ... -> job <- head (producers)
 *
 * Producers (any thread, wait-free): one exchange on head, then one store
 * that links the previous head to the new job. A chain of jobs already
 * linked by the producer goes in with the same two steps, so a batch costs
 * one atomic read-modify-write, whatever its length. Producers never wait
 * for each other or for a consumer, and never take a lock.
 *
 * Consumers (the pool's workers) take turns through a try-lock: the worker
 * that gets it pops with plain loads (one CAS more when it takes the last
 * job, to put the stub back), and the others do not wait for it: they go
 * and steal, or look again. A turn costs one CAS and one store on the
 * consumer side, and producers are never stalled by a consumer.
 *
 * Between a producer's exchange and its link the list is cut: the consumer
 * sees HOP__INJECT_BUSY ("a job is coming") and does not spin for it. The
 * exchange is a full barrier, so once it is done the queue is visibly not
 * empty (hop__inject_queue_nonempty_hint), which is what the pool's parking
 * protocol reads.
 *
 * Order: jobs come out in the order their exchanges happened, so each
 * producer's jobs come out in the order it pushed them, a chain in its own
 * order.
 *
 * Memory: a job is the queue's from its push until a pop returns it. The
 * consumer swings head back to the stub (a CAS) before taking the last job,
 * so head never names a job that has been handed out (it may be gone by
 * then), and head is the stub exactly when nothing is queued. */
#ifndef HOP_SRC_INJECT_QUEUE_H
#define HOP_SRC_INJECT_QUEUE_H

#include "internal.h"

typedef struct {
    /* Producers: the most recently pushed job, or the stub when empty.
     * Written only by exchanges. The stub shares its line: a push to an
     * empty queue (the latency case: one job at a time) writes both, and
     * the consumer that takes the job reads both, one line transfer. */
    _Alignas(HOP__CACHELINE) hop_job_t *head;
    hop_job_t stub; /* its next is written by producers like any job's */
    /* Consumers: the turn (0 free, 1 taken), and what it guards. */
    _Alignas(HOP__CACHELINE) unsigned int consumer;
    hop_job_t *tail; /* the oldest job not yet popped, or the stub; under the turn */
} hop__inject_queue_t;

/* What a pop found. */
typedef enum {
    HOP__INJECT_EMPTY = 0, /* nothing pushed that has not been popped */
    HOP__INJECT_ITEM = 1,  /* *job is the caller's now */
    HOP__INJECT_BUSY = 2   /* a push is half done (exchanged, not linked yet) */
} hop__inject_result_t;

/* hop__inject_queue_init: an empty queue. Not thread-safe: before any use. */
static inline void hop__inject_queue_init(hop__inject_queue_t *q) {
    q->stub.run = NULL;
    q->stub.executor_private = NULL;
    hop__atomic_store_ptr(&q->stub.next, NULL);
    hop__atomic_store_ptr(&q->head, &q->stub);
    hop__atomic_store_uint(&q->consumer, 0u);
    q->tail = &q->stub;
}

/* hop__inject_queue_push_chain_mpmc: appends first..last, linked through
 * next (first == last for one job; last->next need not be set). Any thread,
 * concurrently with every other call; wait-free. What the caller wrote to
 * the jobs before the call is visible to whoever pops them. Returns whether
 * jobs were queued ahead of the chain (not yet popped, or a pop under way). */
static inline bool hop__inject_queue_push_chain_mpmc(hop__inject_queue_t *q, hop_job_t *first,
                                                     hop_job_t *last) {
    hop__atomic_store_ptr(&last->next, NULL);
    /* A full barrier: the jobs' fields and links, and last's NULL next, are
     * visible before anyone can reach last through head. Also the point
     * that orders this push among all pushes. */
    hop_job_t *prev = hop__atomic_fas_ptr(&q->head, last);
    /* Until this store the list is cut at prev (pop: BUSY). No fence: the
     * exchange already ordered everything before it. */
    hop__atomic_store_ptr(&prev->next, first);
    return prev != &q->stub;
}

/* hop__inject_queue_nonempty_hint: true if a job was pushed and not yet
 * popped at some moment during the call (head is the stub only when the
 * queue is empty: see pop). Any thread. After a full barrier that follows a
 * push, it sees that push or a later state. */
static inline bool hop__inject_queue_nonempty_hint(hop__inject_queue_t *q) {
    return hop__atomic_load_ptr(&q->head) != (void *)&q->stub;
}

/* hop__inject_queue_try_turn: takes the consumers' turn, or returns false
 * at once if another consumer has it. Any thread. The CAS is a full barrier:
 * what the previous holder did under the turn is visible. */
static inline bool hop__inject_queue_try_turn(hop__inject_queue_t *q) {
    /* Look first: a taken turn costs a load, not a locked instruction. */
    return hop__atomic_load_uint(&q->consumer) == 0u && hop__atomic_cas_uint(&q->consumer, 0u, 1u);
}

/* hop__inject_queue_end_turn: gives the turn back. Its holder only. */
static inline void hop__inject_queue_end_turn(hop__inject_queue_t *q) {
    /* The pops made under the turn (tail) are visible before the release. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&q->consumer, 0u);
}

/* Loads node->next for the consumer, with the acquire that makes the fields
 * of the job it names (written before its push) visible. */
static inline hop_job_t *hop__inject_queue_next(hop_job_t *node) {
    hop_job_t *next = hop__atomic_load_ptr(&node->next);
    /* The link before any read of the linked job's fields. */
    hop__atomic_fence_acquire();
    return next;
}

/* hop__inject_queue_pop_turn: takes the oldest job into *job. The holder of
 * the turn only; lock-free, never waits for a producer (BUSY instead). */
static inline hop__inject_result_t hop__inject_queue_pop_turn(hop__inject_queue_t *q, hop_job_t **job) {
    hop_job_t *tail = q->tail;
    hop_job_t *next = hop__inject_queue_next(tail);
    *job = NULL;
    if (tail == &q->stub) {
        if (!next)
            return hop__atomic_load_ptr(&q->head) == (void *)&q->stub ? HOP__INJECT_EMPTY : HOP__INJECT_BUSY;
        /* Skip the stub: it is not a job. */
        q->tail = next;
        tail = next;
        next = hop__inject_queue_next(tail);
    }
    if (next) {
        q->tail = next;
        *job = tail;
        return HOP__INJECT_ITEM;
    }
    /* tail is the last linked job. If head is elsewhere, a producer has
     * exchanged past it and is about to link tail->next. */
    if (hop__atomic_load_ptr(&q->head) != tail)
        return HOP__INJECT_BUSY;
    /* tail is the last job of all: swing head from it back to the stub
     * before handing it out, so that head does not name a job that may be
     * gone. A CAS, not the exchange of a push of the stub (Vyukov's way): if
     * a producer exchanged past tail meanwhile, an exchange would put the
     * stub behind that producer's job, leaving head on the stub while jobs
     * wait, and hop__inject_queue_nonempty_hint, which parking workers
     * trust, would call the queue empty. The stub is out of the list here
     * (tail is a job), so nobody else writes its next. */
    hop__atomic_store_ptr(&q->stub.next, NULL);
    if (!hop__atomic_cas_ptr(&q->head, tail, &q->stub))
        return HOP__INJECT_BUSY; /* a producer's link to tail->next is coming */
    q->tail = &q->stub;
    *job = tail;
    return HOP__INJECT_ITEM;
}

#endif /* HOP_SRC_INJECT_QUEUE_H */
