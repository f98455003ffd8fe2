/* tests/test_mpsc_queue.c: the intrusive MPSC queue under the loop's inbox
 * (src/core/mpsc_queue.h), white-box: FIFO order, exactly-once delivery and
 * per-producer order under concurrent pushes, and with jobs pushed again
 * as soon as they come out. */
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

Test(mpsc_queue, jobs_pushed_while_the_consumer_holds_a_batch_come_after_it) {
    static hop__mpsc_queue_t q;
    hop__mpsc_queue_init(&q);
    item_t items[6];
    for (unsigned int i = 0; i < 6; i++)
        hop_job_init(&items[i].job, never_run);
    for (unsigned int i = 0; i < 3; i++)
        hop__mpsc_queue_push_mpsc(&q, &items[i].job);
    /* The first pop takes all three; the rest of them wait on the consumer's
     * side while more are pushed. */
    cr_assert_eq(pop_or_null(&q), &items[0].job);
    /* What the next pops will return, among the jobs taken. */
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

#define PRODUCERS 4
#define PER_PRODUCER 50000

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
        item_t *item = (item_t *)job;
        size_t index = (size_t)(item - items);
        cr_assert_lt(index, (size_t)PRODUCERS * PER_PRODUCER, "a job that was never pushed");
        cr_assert_eq(seen[index], 0, "job %u of producer %u delivered twice", item->seq, item->producer);
        seen[index] = 1;
        cr_assert_eq(item->seq, next_seq[item->producer], "producer %u: got job %u, expected %u", item->producer,
                     item->seq, next_seq[item->producer]);
        next_seq[item->producer]++;
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
