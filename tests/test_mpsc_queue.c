/* tests/test_mpsc_queue.c: the intrusive MPSC queue under the loop's inbox
 * (src/core/mpsc_queue.h), white-box: FIFO order, exactly-once delivery and
 * per-producer order under concurrent pushes, across the ring and the stack
 * it overflows to, and with jobs pushed again as soon as they come out. */
#include <pthread.h>
#include <stdlib.h>

#include "helpers.h"
#include "core/mpsc_queue.h"

TestSuite(mpsc_queue, .timeout = 120);

typedef struct {
    hop_job_t job;
    unsigned int producer;
    unsigned int seq;
} item_t;

static void never_run(hop_job_t *job) { (void)job; }

/* The job pop returns, or NULL when it says EMPTY (checked to agree). */
static hop_job_t *pop_or_null(hop__mpsc_queue_t *q) {
    hop_job_t *job;
    hop__mpsc_result_t r = hop__mpsc_queue_pop_spsc(q, &job);
    cr_assert_eq(r == HOP__MPSC_ITEM, job != NULL);
    return job;
}

Test(mpsc_queue, a_single_thread_gets_its_jobs_back_in_push_order) {
    static hop__mpsc_queue_t q;
    hop__mpsc_queue_init(&q);
    item_t items[10];
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&q, &job), HOP__MPSC_EMPTY);
    cr_assert_null(job);
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_EMPTY);
    for (unsigned int i = 0; i < 10; i++) {
        items[i].seq = i;
        hop_job_init(&items[i].job, never_run);
        hop__mpsc_queue_push_mpsc(&q, &items[i].job);
    }
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_ITEM);
    for (unsigned int i = 0; i < 10; i++) {
        cr_assert_eq(hop__mpsc_queue_pop_spsc(&q, &job), HOP__MPSC_ITEM);
        cr_assert_eq(((item_t *)job)->seq, i);
    }
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&q, &job), HOP__MPSC_EMPTY);
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_EMPTY);
    /* Emptied and refilled several times. */
    for (int round = 0; round < 3; round++) {
        hop__mpsc_queue_push_mpsc(&q, &items[0].job);
        cr_assert_eq(pop_or_null(&q), &items[0].job);
        cr_assert_null(pop_or_null(&q));
        hop__mpsc_queue_push_mpsc(&q, &items[1].job);
        hop__mpsc_queue_push_mpsc(&q, &items[2].job);
        cr_assert_eq(pop_or_null(&q), &items[1].job);
        hop__mpsc_queue_push_mpsc(&q, &items[3].job);
        cr_assert_eq(pop_or_null(&q), &items[2].job);
        cr_assert_eq(pop_or_null(&q), &items[3].job);
        cr_assert_null(pop_or_null(&q));
    }
    hop__mpsc_queue_destroy(&q);
}

/* n items whose jobs never run. */
static void init_items(item_t *items, unsigned int n) {
    for (unsigned int i = 0; i < n; i++)
        hop_job_init(&items[i].job, never_run);
}

Test(mpsc_queue, jobs_pushed_while_the_consumer_holds_a_batch_come_after_it) {
    static hop__mpsc_queue_t q;
    hop__mpsc_queue_init(&q);
    item_t items[6];
    init_items(items, 6);
    for (unsigned int i = 0; i < 3; i++)
        hop__mpsc_queue_push_mpsc(&q, &items[i].job);
    /* The first pop returns the oldest; the other two wait, already visible
     * to the consumer, while more are pushed. */
    cr_assert_eq(pop_or_null(&q), &items[0].job);
    /* What the next pops will return. */
    cr_assert_eq(hop__mpsc_queue_ahead_spsc(&q, 0), &items[1].job);
    cr_assert_eq(hop__mpsc_queue_ahead_spsc(&q, 1), &items[2].job);
    hop__mpsc_queue_push_mpsc(&q, &items[3].job);
    hop__mpsc_queue_push_mpsc(&q, &items[4].job);
    cr_assert_eq(pop_or_null(&q), &items[1].job);
    cr_assert_eq(pop_or_null(&q), &items[2].job);
    hop__mpsc_queue_push_mpsc(&q, &items[5].job);
    for (unsigned int i = 3; i < 6; i++) {
        cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_ITEM);
        cr_assert_eq(pop_or_null(&q), &items[i].job);
    }
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_EMPTY);
    /* A popped job may be pushed again at once. */
    hop__mpsc_queue_push_mpsc(&q, &items[0].job);
    cr_assert_eq(pop_or_null(&q), &items[0].job);
    cr_assert_null(pop_or_null(&q));
    hop__mpsc_queue_destroy(&q);
}

enum { RING = HOP__MPSC_RING_SLOTS };

Test(mpsc_queue, jobs_past_a_full_ring_come_out_after_the_rings_jobs_in_push_order) {
    static hop__mpsc_queue_t q;
    static item_t items[3 * RING];
    hop__mpsc_queue_init(&q);
    for (unsigned int i = 0; i < 3 * RING; i++) {
        items[i].seq = i;
        hop_job_init(&items[i].job, never_run);
    }
    /* Three rounds: all at once, then pops and pushes interleaved so that
     * the ring fills, overflows and empties with jobs on both sides. */
    for (unsigned int i = 0; i < 3 * RING; i++)
        hop__mpsc_queue_push_mpsc(&q, &items[i].job);
    cr_assert_not_null(hop__atomic_load_ptr(&q.head), "the ring never overflowed");
    for (unsigned int i = 0; i < 3 * RING; i++)
        cr_assert_eq(pop_or_null(&q), &items[i].job, "expected job %u", i);
    cr_assert_null(pop_or_null(&q));
    unsigned int pushed = 0, popped = 0;
    for (unsigned int round = 0; round < 4000; round++) {
        for (unsigned int k = 0; k < 7 && pushed < popped + 3 * RING; k++)
            hop__mpsc_queue_push_mpsc(&q, &items[pushed++ % (3 * RING)].job);
        for (unsigned int k = 0; k < 5 && popped < pushed; k++, popped++)
            cr_assert_eq(pop_or_null(&q), &items[popped % (3 * RING)].job, "expected job %u", popped);
    }
    while (popped < pushed) {
        cr_assert_eq(pop_or_null(&q), &items[popped % (3 * RING)].job, "expected job %u", popped);
        popped++;
    }
    cr_assert_null(pop_or_null(&q));
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_EMPTY);
    hop__mpsc_queue_destroy(&q);
}

/* A producer that saw the ring overflowing pushes onto the stack, but its
 * CAS lands only after the consumer has taken the stack and cleared the
 * overflow: its job would sit alone on the stack while its next push went
 * to the ring and came out first. The push sets the overflow again. */
Test(mpsc_queue, a_stack_push_that_lands_after_the_take_keeps_the_producers_next_push_behind_it) {
    static hop__mpsc_queue_t q;
    hop__mpsc_queue_init(&q);
    item_t items[3];
    init_items(items, 3);
    hop__mpsc_queue_push_mpsc(&q, &items[0].job);  /* another producer's, in the ring */
    hop__mpsc_queue_push_stack(&q, &items[1].job); /* the late one: the overflow is clear by now */
    hop__mpsc_queue_push_mpsc(&q, &items[2].job);  /* the same producer's next */
    for (unsigned int i = 0; i < 3; i++)
        cr_assert_eq(pop_or_null(&q), &items[i].job, "expected job %u", i);
    cr_assert_null(pop_or_null(&q));
    /* And the ring is used again once the stack is taken. */
    hop__mpsc_queue_push_mpsc(&q, &items[0].job);
    cr_assert_null(hop__atomic_load_ptr(&q.head));
    cr_assert_eq(pop_or_null(&q), &items[0].job);
    hop__mpsc_queue_destroy(&q);
}

#define PRODUCERS 4
#define PER_PRODUCER 50000

/* One job out of total pushed in items: pushed, never delivered before
 * (seen), and the next of its producer's (next_seq). */
static void check_delivered(item_t *items, size_t total, unsigned char *seen, unsigned int *next_seq,
                            hop_job_t *job) {
    item_t *item = (item_t *)job;
    size_t index = (size_t)(item - items);
    cr_assert_lt(index, total, "a job that was never pushed");
    cr_assert_eq(seen[index], 0, "job %u of producer %u delivered twice", item->seq, item->producer);
    seen[index] = 1;
    cr_assert_eq(item->seq, next_seq[item->producer], "producer %u: got job %u, expected %u", item->producer,
                 item->seq, next_seq[item->producer]);
    next_seq[item->producer]++;
}

static hop__mpsc_queue_t stress_queue;

static void *produce(void *arg) {
    item_t *items = arg;
    for (unsigned int i = 0; i < PER_PRODUCER; i++) {
        hop_job_init(&items[i].job, never_run);
        hop__mpsc_queue_push_mpsc(&stress_queue, &items[i].job);
        if (i % 1024 == 0)
            sched_yield(); /* vary the interleavings on two cores */
    }
    return NULL;
}

Test(mpsc_queue, concurrent_producers_deliver_every_job_exactly_once_in_per_producer_order) {
    hop__mpsc_queue_init(&stress_queue);
    item_t *items = calloc(PRODUCERS * PER_PRODUCER, sizeof *items);
    unsigned char *seen = calloc(PRODUCERS * PER_PRODUCER, 1);
    pthread_t threads[PRODUCERS];
    for (unsigned int p = 0; p < PRODUCERS; p++) {
        for (unsigned int i = 0; i < PER_PRODUCER; i++)
            items[p * PER_PRODUCER + i] = (item_t){.producer = p, .seq = i};
        pthread_create(&threads[p], NULL, produce, &items[p * PER_PRODUCER]);
    }
    unsigned int next_seq[PRODUCERS] = {0};
    unsigned long received = 0;
    while (received < PRODUCERS * PER_PRODUCER) {
        hop_job_t *job;
        hop__mpsc_result_t r = hop__mpsc_queue_pop_spsc(&stress_queue, &job);
        if (r != HOP__MPSC_ITEM)
            continue;
        check_delivered(items, (size_t)PRODUCERS * PER_PRODUCER, seen, next_seq, job);
        received++;
    }
    for (unsigned int p = 0; p < PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&stress_queue, &job), HOP__MPSC_EMPTY, "nothing extra came out");
    hop__mpsc_queue_destroy(&stress_queue);
    free(items);
    free(seen);
}

/* Jobs go round: the consumer hands each popped job back to its producer,
 * which pushes it again at once, so pushes race with takes that just
 * returned the very job being pushed (the reuse that breaks lock-free
 * stacks that pop one item at a time). */
#define RECYCLED_PER_PRODUCER 8
#define RECYCLE_ROUNDS 40000

typedef struct {
    item_t item;
    unsigned int free; /* atomic: 1 once the consumer has popped it */
} recycled_t;

static hop__mpsc_queue_t recycle_queue;
static recycled_t recycled[PRODUCERS][RECYCLED_PER_PRODUCER];

static void *produce_recycled(void *arg) {
    unsigned int p = (unsigned int)(uintptr_t)arg;
    unsigned int seq = 0;
    while (seq < RECYCLE_ROUNDS) {
        bool pushed = false;
        for (unsigned int k = 0; k < RECYCLED_PER_PRODUCER && seq < RECYCLE_ROUNDS; k++) {
            recycled_t *r = &recycled[p][k];
            if (!hop__atomic_load_uint(&r->free))
                continue;
            hop__atomic_store_uint(&r->free, 0u);
            r->item.seq = seq++;
            hop__mpsc_queue_push_mpsc(&recycle_queue, &r->item.job);
            pushed = true;
        }
        if (!pushed)
            sched_yield();
    }
    return NULL;
}

Test(mpsc_queue, jobs_pushed_again_right_after_their_pop_are_each_delivered_once_in_order) {
    hop__mpsc_queue_init(&recycle_queue);
    pthread_t threads[PRODUCERS];
    for (unsigned int p = 0; p < PRODUCERS; p++) {
        for (unsigned int k = 0; k < RECYCLED_PER_PRODUCER; k++) {
            recycled[p][k] = (recycled_t){.item = {.producer = p}};
            hop_job_init(&recycled[p][k].item.job, never_run);
            hop__atomic_store_uint(&recycled[p][k].free, 1u);
        }
        pthread_create(&threads[p], NULL, produce_recycled, (void *)(uintptr_t)p);
    }
    unsigned int next_seq[PRODUCERS] = {0};
    unsigned long received = 0;
    while (received < (unsigned long)PRODUCERS * RECYCLE_ROUNDS) {
        hop_job_t *job;
        if (hop__mpsc_queue_pop_spsc(&recycle_queue, &job) != HOP__MPSC_ITEM) {
            sched_yield();
            continue;
        }
        recycled_t *r = (recycled_t *)job;
        unsigned int p = r->item.producer;
        cr_assert_lt(p, PRODUCERS, "a job that was never pushed");
        cr_assert_eq(r->item.seq, next_seq[p], "producer %u: got job %u, expected %u", p, r->item.seq, next_seq[p]);
        cr_assert_eq(hop__atomic_load_uint(&r->free), 0u, "a job delivered while its producer still had it");
        next_seq[p]++;
        received++;
        hop__atomic_store_uint(&r->free, 1u);
    }
    for (unsigned int p = 0; p < PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&recycle_queue, &job), HOP__MPSC_EMPTY, "nothing extra came out");
    hop__mpsc_queue_destroy(&recycle_queue);
}

/* Producers that keep outrunning the consumer: it pauses until the ring has
 * overflowed, again and again, so that jobs move between the ring and the
 * stack while pushes race with the takes that clear the overflow. The
 * producers push in rounds that the consumer opens one at a time, and it
 * pauses before taking the first job of each: a round holds more jobs than
 * the ring, so every round overflows it, even where the producers ran their
 * round to the end while the consumer was not scheduled (a loaded machine),
 * which would leave pauses within the round nothing to wait for. */
#define OUTRUN_ROUNDS 20
#define OUTRUN_PER_ROUND 10000 /* per producer: PRODUCERS times as many as the ring holds, and more */
#define OUTRUN_PER_PRODUCER (OUTRUN_ROUNDS * OUTRUN_PER_ROUND)

static hop__mpsc_queue_t outrun_queue;
static unsigned int outrun_round; /* atomic: rounds the consumer has opened */
static unsigned int outrun_done;  /* atomic: producers that finished the round open */

static void *produce_outrun(void *arg) {
    item_t *items = arg;
    for (unsigned int round = 0; round < OUTRUN_ROUNDS; round++) {
        while (hop__atomic_load_uint(&outrun_round) <= round)
            sched_yield();
        for (unsigned int i = round * OUTRUN_PER_ROUND; i < (round + 1) * OUTRUN_PER_ROUND; i++) {
            hop_job_init(&items[i].job, never_run);
            hop__mpsc_queue_push_mpsc(&outrun_queue, &items[i].job);
        }
        hop__atomic_faa_uint(&outrun_done, 1u);
    }
    return NULL;
}

Test(mpsc_queue, producers_outrunning_the_consumer_lose_and_reorder_nothing_across_ring_and_stack) {
    hop__mpsc_queue_init(&outrun_queue);
    hop__atomic_store_uint(&outrun_round, 0u);
    hop__atomic_store_uint(&outrun_done, 0u);
    item_t *items = calloc((size_t)PRODUCERS * OUTRUN_PER_PRODUCER, sizeof *items);
    unsigned char *seen = calloc((size_t)PRODUCERS * OUTRUN_PER_PRODUCER, 1);
    pthread_t threads[PRODUCERS];
    for (unsigned int p = 0; p < PRODUCERS; p++) {
        for (unsigned int i = 0; i < OUTRUN_PER_PRODUCER; i++)
            items[(size_t)p * OUTRUN_PER_PRODUCER + i] = (item_t){.producer = p, .seq = i};
        pthread_create(&threads[p], NULL, produce_outrun, &items[(size_t)p * OUTRUN_PER_PRODUCER]);
    }
    unsigned int next_seq[PRODUCERS] = {0};
    unsigned long received = 0, overflows = 0;
    const unsigned long total = (unsigned long)PRODUCERS * OUTRUN_PER_PRODUCER;
    const unsigned long per_round = (unsigned long)PRODUCERS * OUTRUN_PER_ROUND;
    for (unsigned int round = 0; round < OUTRUN_ROUNDS; round++) {
        hop__atomic_store_uint(&outrun_done, 0u);
        hop__atomic_store_uint(&outrun_round, round + 1);
        unsigned long end = received + per_round, paused_at = received + 1;
        while (received < end) {
            if (received % 5000 == 0 && received != paused_at) {
                /* Wait for the stack to hold something, unless the
                 * producers are done with the round. */
                paused_at = received;
                while (!hop__atomic_load_ptr(&outrun_queue.head) &&
                       hop__atomic_load_uint(&outrun_done) < PRODUCERS)
                    sched_yield();
                overflows += hop__atomic_load_ptr(&outrun_queue.head) != NULL;
            }
            hop_job_t *job;
            if (hop__mpsc_queue_pop_spsc(&outrun_queue, &job) != HOP__MPSC_ITEM)
                continue;
            check_delivered(items, total, seen, next_seq, job);
            received++;
        }
        /* Every producer is done with the round before the next opens. */
        while (hop__atomic_load_uint(&outrun_done) < PRODUCERS)
            sched_yield();
    }
    for (unsigned int p = 0; p < PRODUCERS; p++)
        pthread_join(threads[p], NULL);
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&outrun_queue, &job), HOP__MPSC_EMPTY, "nothing extra came out");
    cr_assert_geq(overflows, (unsigned long)OUTRUN_ROUNDS, "the ring overflowed only %lu times", overflows);
    hop__mpsc_queue_destroy(&outrun_queue);
    free(items);
    free(seen);
}
