/* tests/test_mpsc_queue.c: the intrusive MPSC queue under the loop's inbox
 * (src/core/mpsc_queue.h), white-box: FIFO order, exactly-once delivery and
 * per-producer order under concurrent pushes. */
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

/* Pops until ITEM or EMPTY; BUSY (a push half done) is retried. */
static hop_job_t *pop_or_null(hop__mpsc_queue_t *q) {
    for (;;) {
        hop_job_t *job;
        hop__mpsc_result_t r = hop__mpsc_queue_pop_spsc(q, &job);
        if (r == HOP__MPSC_ITEM)
            return job;
        if (r == HOP__MPSC_EMPTY)
            return NULL;
    }
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
    /* Emptied and refilled several times: the stub goes round correctly. */
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
}

Test(mpsc_queue, a_half_done_push_reads_as_busy_not_empty) {
    static hop__mpsc_queue_t q;
    hop__mpsc_queue_init(&q);
    item_t a, b;
    hop_job_init(&a.job, never_run);
    hop_job_init(&b.job, never_run);
    /* Stage a push stopped between its exchange and its link, as a
     * preempted producer leaves it. */
    a.job.next = NULL;
    hop_job_t *prev = hop__atomic_fas_ptr(&q.head, &a.job);
    hop_job_t *job;
    cr_assert_eq(hop__mpsc_queue_peek_spsc(&q), HOP__MPSC_BUSY);
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&q, &job), HOP__MPSC_BUSY);
    hop__atomic_store_ptr(&prev->next, &a.job);
    /* Now the last job is linked but another push is half done behind it. */
    b.job.next = NULL;
    prev = hop__atomic_fas_ptr(&q.head, &b.job);
    cr_assert_eq(hop__mpsc_queue_pop_spsc(&q, &job), HOP__MPSC_BUSY, "a's successor is not linked yet");
    hop__atomic_store_ptr(&prev->next, &b.job);
    cr_assert_eq(pop_or_null(&q), &a.job);
    cr_assert_eq(pop_or_null(&q), &b.job);
    cr_assert_null(pop_or_null(&q));
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
    unsigned long received = 0, busy = 0;
    while (received < PRODUCERS * PER_PRODUCER) {
        hop_job_t *job;
        hop__mpsc_result_t r = hop__mpsc_queue_pop_spsc(&stress_queue, &job);
        if (r == HOP__MPSC_BUSY)
            busy++;
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
    free(items);
    free(seen);
}
