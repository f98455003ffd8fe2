/* tests/test_pool.c: the work-stealing thread pool (hop/pool.h).
 *
 * Most behaviours are checked with 1, 2 and 4 workers: one worker has nobody
 * to steal from and must still get to everything; two and four exercise
 * stealing, searching and parking on this 2-CPU machine. Assertions are
 * made on the test's own thread; code on workers records what it saw. */
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "helpers.h"
#include "core/inject_queue.h"

#if defined(__SANITIZE_THREAD__)
#define STRESS_SCALE 5
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define STRESS_SCALE 5
#endif
#endif
#ifndef STRESS_SCALE
#define STRESS_SCALE 1
#endif

static const unsigned int worker_counts[] = {1, 2, 4};
#define WORKER_COUNTS (sizeof worker_counts / sizeof worker_counts[0])

static hop_pool_t pool;

static void start_pool(unsigned int threads, int spin_us) {
    hop_pool_options_t options = {.threads = threads, .name = NULL, .spin_us = spin_us};
    HOP_OK(hop_pool_init(&pool, &options));
    cr_assert_eq(hop_pool_size(&pool), threads);
}

static unsigned int load(const unsigned int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store(unsigned int *p, unsigned int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static unsigned int add(unsigned int *p, unsigned int v) { return __atomic_add_fetch(p, v, __ATOMIC_ACQ_REL); }
static uint64_t load64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

/* jobs_run counts a job once it has returned, a little after the job
 * itself reported that it ran: polls until the counter catches up. */
static hop_pool_stats_t stats_once_run(uint64_t jobs) {
    hop_pool_stats_t stats;
    for (;;) {
        HOP_OK(hop_pool_stats(&pool, &stats));
        if (stats.jobs_run >= jobs)
            return stats;
        test_sleep_ms(1);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* glibc declares pthread_self() const: read it through an opaque call in
 * code that may run on several threads (see test_migration.c). */
__attribute__((noinline)) static pthread_t current_thread(void) {
    pthread_t self = pthread_self();
    __asm__ volatile("" : "+m"(self)::"memory");
    return self;
}

static bool on_pool_thread(void) {
    char name[16] = "";
    pthread_getname_np(current_thread(), name, sizeof name);
    return strncmp(name, "hop-pool-", 9) == 0;
}

/* ---- Plain jobs ------------------------------------------------------------ */

typedef struct {
    hop_job_t job;
    unsigned int runs;
    unsigned int misplaced;
} counted_job_t;

static unsigned int jobs_done;

static void counted_run(hop_job_t *job) {
    counted_job_t *j = (counted_job_t *)job;
    if (hop_executor_current() != hop_pool_executor(&pool) || !on_pool_thread())
        store(&j->misplaced, 1);
    add(&j->runs, 1);
    add(&jobs_done, 1); /* last: the test may free j once all are done */
}

#define SUBMITTERS 4
#define JOBS_PER_SUBMITTER (20000 / STRESS_SCALE)

static counted_job_t *submitted_jobs;

static void *submit_share(void *arg) {
    size_t first = (size_t)(uintptr_t)arg * JOBS_PER_SUBMITTER;
    for (size_t i = first; i < first + JOBS_PER_SUBMITTER; i++) {
        hop_job_init(&submitted_jobs[i].job, counted_run);
        if (hop_pool_submit(&pool, &submitted_jobs[i].job) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(pool, plain_jobs_submitted_from_several_threads_each_run_exactly_once_on_a_pool_thread, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        size_t total = (size_t)SUBMITTERS * JOBS_PER_SUBMITTER;
        submitted_jobs = calloc(total, sizeof *submitted_jobs);
        jobs_done = 0;
        pthread_t threads[SUBMITTERS];
        for (uintptr_t i = 0; i < SUBMITTERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, submit_share, (void *)i), 0);
        for (int i = 0; i < SUBMITTERS; i++) {
            void *failed;
            pthread_join(threads[i], &failed);
            cr_assert_null(failed, "a submission was refused");
        }
        test_wait_for(&jobs_done, (unsigned int)total);
        for (size_t i = 0; i < total; i++) {
            cr_assert_eq(submitted_jobs[i].runs, 1, "%u workers: job %zu ran %u times", worker_counts[c], i,
                         submitted_jobs[i].runs);
            cr_assert_eq(submitted_jobs[i].misplaced, 0, "job %zu ran outside the pool", i);
        }
        hop_pool_stats_t stats = stats_once_run(total);
        cr_assert_geq(stats.injected, total, "outside submissions go through the injection queue");
        HOP_OK(hop_pool_close(&pool));
        free(submitted_jobs);
    }
    test_assert_checks();
}

/* ---- The injection queue, white-box (src/core/inject_queue.h) ------------------ */

typedef struct {
    hop_job_t job;
    unsigned int producer;
    unsigned int seq;
} queued_t;

static void never_run(hop_job_t *job) { (void)job; }

Test(pool, the_injection_queue_reports_a_half_done_push_as_busy_and_delivers_it_once_linked, .timeout = 30) {
    static hop__inject_queue_t q;
    hop__inject_queue_init(&q);
    queued_t a = {.seq = 1}, b = {.seq = 2};
    hop_job_init(&a.job, never_run);
    hop_job_init(&b.job, never_run);
    hop_job_t *job;
    cr_assert_not(hop__inject_queue_nonempty_hint(&q));
    cr_assert(hop__inject_queue_try_turn(&q));
    cr_assert_not(hop__inject_queue_try_turn(&q), "consumers take turns");
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_EMPTY);

    /* A producer stopped between its two steps, as push does them. */
    hop__atomic_store_ptr(&a.job.next, NULL);
    hop_job_t *prev = hop__atomic_fas_ptr(&q.head, &a.job);
    cr_assert(hop__inject_queue_nonempty_hint(&q), "the exchange alone makes the queue look busy to parkers");
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_BUSY);
    cr_assert_null(job);
    hop__atomic_store_ptr(&prev->next, &a.job);

    /* b behind a, pushed whole; then both come out in order, and the
     * queue is empty again, its head back on the stub. */
    hop__inject_queue_push_chain_mpmc(&q, &b.job, &b.job);
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &a.job);
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &b.job);
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_EMPTY);
    cr_assert_not(hop__inject_queue_nonempty_hint(&q), "taking the last job put the stub back");
    hop__inject_queue_end_turn(&q);
    cr_assert(hop__inject_queue_try_turn(&q));
    hop__inject_queue_end_turn(&q);
    test_assert_checks();
}

/* A push says whether jobs were queued ahead of it: what a loop reads to
 * tell a pool that is behind (LAGGING in executors/loop.c). */
Test(pool, the_injection_queue_push_says_whether_jobs_were_queued_ahead_of_it, .timeout = 30) {
    static hop__inject_queue_t q;
    hop__inject_queue_init(&q);
    queued_t a = {.seq = 1}, b = {.seq = 2}, c = {.seq = 3};
    hop_job_init(&a.job, never_run);
    hop_job_init(&b.job, never_run);
    hop_job_init(&c.job, never_run);
    hop_job_t *job;
    cr_assert_not(hop__inject_queue_push_chain_mpmc(&q, &a.job, &a.job), "an empty queue");
    cr_assert(hop__inject_queue_push_chain_mpmc(&q, &b.job, &b.job), "a waits ahead of b");
    cr_assert(hop__inject_queue_try_turn(&q));
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert(hop__inject_queue_push_chain_mpmc(&q, &c.job, &c.job), "b still waits ahead of c");
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &b.job);
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &c.job);
    hop__inject_queue_end_turn(&q);
    cr_assert_not(hop__inject_queue_push_chain_mpmc(&q, &a.job, &a.job), "all taken: empty again");
    test_assert_checks();
}

Test(pool, the_injection_queue_keeps_the_last_job_while_a_push_behind_it_is_half_done_and_looks_nonempty,
     .timeout = 30) {
    static hop__inject_queue_t q;
    hop__inject_queue_init(&q);
    queued_t a = {.seq = 1}, c = {.seq = 3};
    hop_job_init(&a.job, never_run);
    hop_job_init(&c.job, never_run);
    hop_job_t *job;
    hop__inject_queue_push_chain_mpmc(&q, &a.job, &a.job);
    /* A second producer has exchanged past a, and not linked a to c yet. */
    hop__atomic_store_ptr(&c.job.next, NULL);
    hop_job_t *prev = hop__atomic_fas_ptr(&q.head, &c.job);
    cr_assert_eq(prev, &a.job);
    cr_assert(hop__inject_queue_try_turn(&q));
    /* a is not the last job any more: handing it out now would leave head
     * nowhere safe, so not yet; and the queue must not look empty to a
     * worker deciding whether to sleep. */
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_BUSY);
    cr_assert(hop__inject_queue_nonempty_hint(&q));
    hop__atomic_store_ptr(&prev->next, &c.job);
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &a.job);
    cr_assert(hop__inject_queue_nonempty_hint(&q));
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_ITEM);
    cr_assert_eq(job, &c.job);
    cr_assert_not(hop__inject_queue_nonempty_hint(&q));
    cr_assert_eq(hop__inject_queue_pop_turn(&q, &job), HOP__INJECT_EMPTY);
    hop__inject_queue_end_turn(&q);
    test_assert_checks();
}

#define QUEUE_PRODUCERS 3
#define QUEUE_CONSUMERS 3
#define QUEUE_ITEMS (100000 / STRESS_SCALE)

static hop__inject_queue_t stress_queue;
static queued_t *queue_items;     /* QUEUE_PRODUCERS x QUEUE_ITEMS */
static unsigned int *queue_log;   /* producer * QUEUE_ITEMS + seq, in pop order; under the turn */
static unsigned int queue_logged; /* under the turn */
static unsigned int queue_popped; /* atomic */

static void *queue_produce(void *arg) {
    unsigned int producer = (unsigned int)(uintptr_t)arg;
    queued_t *mine = &queue_items[(size_t)producer * QUEUE_ITEMS];
    unsigned int i = 0;
    while (i < QUEUE_ITEMS) {
        /* Chains of 1 to 4 jobs, as a spilling deque pushes them. */
        unsigned int n = 1 + (i * 7 + producer) % 4;
        if (n > QUEUE_ITEMS - i)
            n = QUEUE_ITEMS - i;
        for (unsigned int k = 0; k < n; k++) {
            mine[i + k].producer = producer;
            mine[i + k].seq = i + k;
            hop_job_init(&mine[i + k].job, never_run);
            if (k > 0)
                hop__atomic_store_ptr(&mine[i + k - 1].job.next, &mine[i + k].job);
        }
        hop__inject_queue_push_chain_mpmc(&stress_queue, &mine[i].job, &mine[i + n - 1].job);
        i += n;
        if (i % 64 == 0)
            sched_yield();
    }
    return NULL;
}

static void *queue_consume(void *arg) {
    (void)arg;
    const unsigned int total = QUEUE_PRODUCERS * QUEUE_ITEMS;
    while (load(&queue_popped) < total) {
        if (!hop__inject_queue_try_turn(&stress_queue)) {
            sched_yield();
            continue;
        }
        hop_job_t *job;
        unsigned int got = 0;
        while (got < 16 && hop__inject_queue_pop_turn(&stress_queue, &job) == HOP__INJECT_ITEM) {
            queued_t *item = (queued_t *)job;
            queue_log[queue_logged++] = item->producer * QUEUE_ITEMS + item->seq;
            got++;
        }
        hop__inject_queue_end_turn(&stress_queue);
        add(&queue_popped, got);
        if (got == 0)
            sched_yield();
    }
    return NULL;
}

Test(pool, the_injection_queue_hands_each_job_to_exactly_one_consumer_in_each_producers_order,
     .timeout = 120) {
    const unsigned int total = QUEUE_PRODUCERS * QUEUE_ITEMS;
    hop__inject_queue_init(&stress_queue);
    queue_items = calloc(total, sizeof *queue_items);
    queue_log = calloc(total, sizeof *queue_log);
    queue_logged = queue_popped = 0;
    pthread_t threads[QUEUE_PRODUCERS + QUEUE_CONSUMERS];
    for (uintptr_t i = 0; i < QUEUE_PRODUCERS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, queue_produce, (void *)i), 0);
    for (uintptr_t i = 0; i < QUEUE_CONSUMERS; i++)
        cr_assert_eq(pthread_create(&threads[QUEUE_PRODUCERS + i], NULL, queue_consume, NULL), 0);
    for (int i = 0; i < QUEUE_PRODUCERS + QUEUE_CONSUMERS; i++)
        pthread_join(threads[i], NULL);
    cr_assert_eq(queue_logged, total);
    unsigned int next[QUEUE_PRODUCERS] = {0};
    for (unsigned int i = 0; i < total; i++) {
        unsigned int producer = queue_log[i] / QUEUE_ITEMS, seq = queue_log[i] % QUEUE_ITEMS;
        cr_assert_eq(seq, next[producer], "pop %u: producer %u's job %u, expected its job %u", i, producer,
                     seq, next[producer]);
        next[producer]++;
    }
    cr_assert_not(hop__inject_queue_nonempty_hint(&stress_queue));
    free(queue_items);
    free(queue_log);
    test_assert_checks();
}

/* ---- Outside submissions under stress ------------------------------------------ */

Test(pool, the_injected_count_is_exactly_the_number_of_outside_jobs_once_they_have_run, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        size_t total = (size_t)SUBMITTERS * JOBS_PER_SUBMITTER;
        submitted_jobs = calloc(total, sizeof *submitted_jobs);
        jobs_done = 0;
        pthread_t threads[SUBMITTERS];
        for (uintptr_t i = 0; i < SUBMITTERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, submit_share, (void *)i), 0);
        for (int i = 0; i < SUBMITTERS; i++)
            pthread_join(threads[i], NULL);
        test_wait_for(&jobs_done, (unsigned int)total);
        hop_pool_stats_t stats = stats_once_run(total);
        /* Plain jobs that submit nothing: no yields, no spills, so every
         * job taken from the injection queue is one of these. */
        cr_assert_eq(stats.injected, total, "%u workers: injected %llu for %zu outside jobs",
                     worker_counts[c], (unsigned long long)stats.injected, total);
        cr_assert_eq(stats.jobs_run, total);
        HOP_OK(hop_pool_close(&pool));
        free(submitted_jobs);
    }
    test_assert_checks();
}

/* Each producer owns a few job records and submits a record again as soon as
 * it has run, so records come back while the workers are still taking the
 * jobs around them, and the queue keeps going empty and back. */
#define REUSE_PRODUCERS 4
#define REUSE_RING 4
#define REUSE_SUBMITS (40000 / STRESS_SCALE)

typedef struct {
    hop_job_t job;
    unsigned int seq;   /* written by the producer before each submit */
    unsigned int last;  /* the seq the previous run saw */
    unsigned int wrong; /* a run saw a seq other than last + 1 */
    unsigned int runs;  /* written last by each run */
} reused_job_t;

static reused_job_t reused[REUSE_PRODUCERS][REUSE_RING];

static void reused_run(hop_job_t *job) {
    reused_job_t *j = (reused_job_t *)job;
    if (j->seq != j->last + 1)
        store(&j->wrong, 1);
    j->last = j->seq;
    add(&j->runs, 1); /* last: the producer may submit j again from here */
}

static void *submit_reused(void *arg) {
    reused_job_t *ring = reused[(uintptr_t)arg];
    for (unsigned int i = 0; i < REUSE_SUBMITS; i++) {
        reused_job_t *j = &ring[i % REUSE_RING];
        unsigned int seq = i / REUSE_RING + 1;
        while (load(&j->runs) != seq - 1)
            sched_yield();
        j->seq = seq;
        hop_job_init(&j->job, reused_run);
        if (hop_pool_submit(&pool, &j->job) != 0)
            return (void *)1;
    }
    return NULL;
}

Test(pool, a_job_record_submitted_again_as_soon_as_it_has_run_runs_once_per_submission, .timeout = 240) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], c == 1 ? HOP_SPIN_NEVER : 0);
        memset(reused, 0, sizeof reused);
        pthread_t threads[REUSE_PRODUCERS];
        for (uintptr_t i = 0; i < REUSE_PRODUCERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, submit_reused, (void *)i), 0);
        for (int i = 0; i < REUSE_PRODUCERS; i++) {
            void *failed;
            pthread_join(threads[i], &failed);
            cr_assert_null(failed, "a submission was refused");
        }
        for (int p = 0; p < REUSE_PRODUCERS; p++) {
            for (int r = 0; r < REUSE_RING; r++) {
                reused_job_t *j = &reused[p][r];
                unsigned int submits = REUSE_SUBMITS / REUSE_RING + (r < REUSE_SUBMITS % REUSE_RING);
                test_wait_for(&j->runs, submits);
                cr_assert_eq(load(&j->runs), submits,
                             "%u workers: record %d/%d ran %u times for %u submissions", worker_counts[c], p,
                             r, load(&j->runs), submits);
                cr_assert_eq(j->wrong, 0, "%u workers: record %d/%d ran out of turn", worker_counts[c], p, r);
            }
        }
        HOP_OK(hop_pool_close(&pool));
    }
    test_assert_checks();
}

/* Outside jobs that each submit more local jobs than a deque holds, so that
 * workers spill chains into the injection queue while outside producers
 * push into it. */
#define SPILL_PRODUCERS 3
#define SPILL_OUTER (40 / STRESS_SCALE)
#define SPILL_CHILDREN 300 /* more than HOP__DEQUE_CAPACITY */

typedef struct {
    hop_job_t job;
    counted_job_t *children;
} spiller_t;

static spiller_t spillers[SPILL_PRODUCERS * SPILL_OUTER];
static counted_job_t *spilled_children;
static unsigned int spill_refused;

static void spill_children(hop_job_t *job) {
    spiller_t *s = (spiller_t *)job;
    for (int i = 0; i < SPILL_CHILDREN; i++) {
        hop_job_init(&s->children[i].job, counted_run);
        if (hop_pool_submit(&pool, &s->children[i].job) != 0)
            add(&spill_refused, 1);
    }
}

static void *submit_spillers(void *arg) {
    size_t first = (size_t)(uintptr_t)arg * SPILL_OUTER;
    for (size_t i = first; i < first + SPILL_OUTER; i++) {
        spillers[i].children = &spilled_children[i * SPILL_CHILDREN];
        hop_job_init(&spillers[i].job, spill_children);
        if (hop_pool_submit(&pool, &spillers[i].job) != 0)
            add(&spill_refused, 1);
    }
    return NULL;
}

Test(pool, chains_spilled_by_full_deques_and_outside_submissions_interleave_without_losing_a_job,
     .timeout = 240) {
    const size_t total = (size_t)SPILL_PRODUCERS * SPILL_OUTER * SPILL_CHILDREN;
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        spilled_children = calloc(total, sizeof *spilled_children);
        jobs_done = spill_refused = 0;
        pthread_t threads[SPILL_PRODUCERS];
        for (uintptr_t i = 0; i < SPILL_PRODUCERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, submit_spillers, (void *)i), 0);
        for (int i = 0; i < SPILL_PRODUCERS; i++)
            pthread_join(threads[i], NULL);
        test_wait_for(&jobs_done, (unsigned int)total);
        cr_assert_eq(spill_refused, 0);
        for (size_t i = 0; i < total; i++)
            cr_assert_eq(spilled_children[i].runs, 1, "%u workers: child %zu ran %u times", worker_counts[c],
                         i, spilled_children[i].runs);
        hop_pool_stats_t stats = stats_once_run(total + SPILL_PRODUCERS * SPILL_OUTER);
        cr_assert_gt(stats.injected, (uint64_t)SPILL_PRODUCERS * SPILL_OUTER, "some deque spilled");
        HOP_OK(hop_pool_close(&pool));
        free(spilled_children);
    }
    test_assert_checks();
}

/* Two local jobs that submit each other for ever keep a worker busy with
 * LIFO-slot work; an outside job must still get its turn. */
static hop_job_t ping, pong;
static unsigned int outside_ran;

static void ping_pong(hop_job_t *job) {
    if (load(&outside_ran))
        return;
    hop_job_t *other = job == &ping ? &pong : &ping;
    hop_job_init(other, ping_pong);
    hop_pool_submit(&pool, other);
}

static void note_outside(hop_job_t *job) {
    (void)job;
    store(&outside_ran, 1);
}

Test(pool, an_outside_job_runs_while_the_only_worker_keeps_making_local_work, .timeout = 60) {
    start_pool(1, 0);
    for (int round = 0; round < 200 / STRESS_SCALE; round++) {
        outside_ran = 0;
        hop_job_init(&ping, ping_pong);
        HOP_OK(hop_pool_submit(&pool, &ping));
        hop_job_t outside;
        hop_job_init(&outside, note_outside);
        HOP_OK(hop_pool_submit(&pool, &outside));
        double deadline = now_s() + 20;
        while (!load(&outside_ran)) {
            cr_assert_lt(now_s(), deadline, "round %d: the outside job starved behind local work", round);
            sched_yield();
        }
        /* The pair stops once it sees outside_ran; wait until it has. */
        stats_once_run(0);
        hop_pool_stats_t before, after;
        do {
            HOP_OK(hop_pool_stats(&pool, &before));
            test_sleep_ms(1);
            HOP_OK(hop_pool_stats(&pool, &after));
        } while (after.jobs_run != before.jobs_run);
    }
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- Parking and waking ---------------------------------------------------------- */

static unsigned int flag;

static void set_flag(hop_job_t *job) {
    (void)job;
    store(&flag, 1);
}

static void wait_until_all_parked(unsigned int workers) {
    for (;;) {
        hop_pool_stats_t stats;
        HOP_OK(hop_pool_stats(&pool, &stats));
        if (stats.parks - stats.wakeups == workers)
            return;
        sched_yield();
    }
}

Test(pool, a_job_submitted_while_every_worker_is_parked_runs, .timeout = 240) {
    const int spins[] = {HOP_SPIN_NEVER, 0};
    for (size_t s = 0; s < 2; s++) {
        for (size_t c = 0; c < WORKER_COUNTS; c++) {
            unsigned int n = worker_counts[c];
            start_pool(n, spins[s]);
            for (int round = 0; round < 300 / STRESS_SCALE; round++) {
                /* Every worker has announced itself asleep: the submission
                 * lands between a worker's announcement and its sleep (where
                 * a lost wake-up would leave it unrun), or after it. */
                wait_until_all_parked(n);
                flag = 0;
                hop_job_t job;
                hop_job_init(&job, set_flag);
                HOP_OK(hop_pool_submit(&pool, &job));
                while (!load(&flag))
                    sched_yield();
            }
            HOP_OK(hop_pool_close(&pool));
        }
    }
    test_assert_checks();
}

/* Busy-waits about n short steps: shifts a submission across the window in
 * which a worker, having run out of work, announces itself and parks. */
static void delay_steps(unsigned int n) {
    for (volatile unsigned int i = 0; i < n * 16; i++)
        ;
}

/* A single worker takes a batch of outside jobs into its deque, newest
 * first, while a producer keeps the injection queue full. The oldest jobs
 * of the batch, at the far end of the deque, must not wait for the flood to
 * end: the worker's periodic look at the injection queue must not keep
 * refilling its deque in front of them. */
#define FLOOD_JOBS (400000 / STRESS_SCALE)
#define FLOOD_BACKLOG 8192
#define FLOOD_WATCHED 64

static counted_job_t *flood_jobs;
static unsigned int flood_watched_done;
static unsigned int flood_done_when_watched; /* jobs run when the last watched one ran */

static void flood_run(hop_job_t *job) {
    counted_job_t *j = (counted_job_t *)job;
    delay_steps(20); /* slower than a submission: the queue stays full */
    if (j - flood_jobs < FLOOD_WATCHED && add(&flood_watched_done, 1) == FLOOD_WATCHED)
        store(&flood_done_when_watched, load(&jobs_done) + 1);
    add(&j->runs, 1);
    add(&jobs_done, 1);
}

Test(pool, a_single_worker_runs_the_oldest_jobs_of_its_batch_while_outside_jobs_keep_coming, .timeout = 120) {
    start_pool(1, 0);
    flood_jobs = calloc(FLOOD_JOBS, sizeof *flood_jobs);
    jobs_done = flood_watched_done = flood_done_when_watched = 0;
    /* At most FLOOD_BACKLOG jobs queued, so that the flood lasts until the
     * worker has run most of it, however the scheduler treats it. */
    size_t submitted = 0;
    while (submitted < FLOOD_JOBS && load(&flood_watched_done) < FLOOD_WATCHED) {
        if (submitted - load(&jobs_done) >= FLOOD_BACKLOG) {
            sched_yield();
            continue;
        }
        hop_job_init(&flood_jobs[submitted].job, flood_run);
        HOP_OK(hop_pool_submit(&pool, &flood_jobs[submitted].job));
        submitted++;
    }
    test_wait_for(&jobs_done, (unsigned int)submitted);
    for (size_t i = 0; i < submitted; i++)
        cr_assert_eq(flood_jobs[i].runs, 1);
    /* The batch is at most a deque's worth: its jobs run within a few
     * hundred, not once the flood is over. */
    cr_assert_lt(load(&flood_done_when_watched), FLOOD_JOBS / 4,
                 "the first %d jobs had all run only after %u jobs: they waited behind newer ones",
                 FLOOD_WATCHED, load(&flood_done_when_watched));
    HOP_OK(hop_pool_close(&pool));
    free(flood_jobs);
    test_assert_checks();
}

/* ---- Order of outside jobs ------------------------------------------------------- */

/* Each job takes a start rank, one atomic increment, as its first action:
 * rank order is start order. */
#define ORDER_JOBS (20000 / STRESS_SCALE)

typedef struct {
    hop_job_t job;
    unsigned int rank;    /* 1 + the number of ordered jobs that started before it */
    unsigned int started; /* atomic */
} ordered_job_t;

static ordered_job_t *ordered;
static unsigned int order_next_rank;
static unsigned int order_blockers_in, order_release;

static void ordered_run(hop_job_t *job) {
    ordered_job_t *j = (ordered_job_t *)job;
    j->rank = add(&order_next_rank, 1);
    store(&j->started, 1);
}

/* Holds its worker until the test releases it. */
static void order_blocker_run(hop_job_t *job) {
    (void)job;
    add(&order_blockers_in, 1);
    while (!load(&order_release))
        test_sleep_ms(1);
}

/* Submits ordered[0..n) from this thread, in index order. */
static void submit_ordered(unsigned int n) {
    for (unsigned int i = 0; i < n; i++) {
        hop_job_init(&ordered[i].job, ordered_run);
        HOP_OK(hop_pool_submit(&pool, &ordered[i].job));
    }
}

/* Waits until every ordered job has started. A job that never starts fails
 * with what the pool saw (60 s: far beyond a run, even under TSan), rather
 * than the test's alarm, which would say nothing about where it stopped. */
static void wait_ordered(unsigned int n) {
    for (unsigned int i = 0; i < n; i++) {
        if (test_wait_for_ms(&ordered[i].started, 1, 60000))
            continue;
        unsigned int started = 0;
        for (unsigned int k = 0; k < n; k++)
            started += load(&ordered[k].started);
        hop_pool_stats_t stats;
        HOP_OK(hop_pool_stats(&pool, &stats));
        cr_assert(false,
                  "job %u of %u never started (%u started, %u blockers in); pool: %llu jobs run, %llu "
                  "injected, %llu parks, %llu wakeups",
                  i, n, started, load(&order_blockers_in), (unsigned long long)stats.jobs_run,
                  (unsigned long long)stats.injected, (unsigned long long)stats.parks,
                  (unsigned long long)stats.wakeups);
    }
}

/* counts[i] = how many jobs of the other side started out of order with
 * ordered[i]: with earlier_too, earlier jobs that started after it; else
 * later jobs that started before it. A Fenwick tree over ranks: O(n log n). */
static void count_overtakes(unsigned int n, bool earlier_too, unsigned int *counts) {
    unsigned int *tree = calloc(n + 1, sizeof *tree);
    cr_assert_not_null(tree);
    for (unsigned int k = 0; k < n; k++) {
        unsigned int i = earlier_too ? k : n - 1 - k; /* the side seen so far is in the tree */
        unsigned int rank = ordered[i].rank, below = 0;
        cr_assert(rank >= 1 && rank <= n, "job %u has rank %u", i, rank);
        for (unsigned int r = rank; r > 0; r -= r & -r)
            below += tree[r]; /* seen jobs that started no later than job i */
        counts[i] = earlier_too ? k - below : below;
        for (unsigned int r = rank; r <= n; r += r & -r)
            tree[r]++;
    }
    free(tree);
}

/* The property ORDER in executors/pool.c states: jobs leave the injection
 * queue in submission order, one at a time, each taken by a worker that runs
 * it next. So when a job starts, every earlier job has been taken, and each
 * earlier one that has not started yet is held by another worker, one per
 * worker: at most N - 1 of them, however the threads are scheduled. Taking
 * injected jobs in batches breaks this by the size of a batch. */
Test(pool, outside_jobs_from_one_thread_start_in_order_but_for_one_taken_job_per_other_worker, .timeout = 120) {
    ordered = calloc(ORDER_JOBS, sizeof *ordered);
    unsigned int *late = calloc(ORDER_JOBS, sizeof *late);
    cr_assert(ordered && late);
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        unsigned int n = worker_counts[c];
        start_pool(n, 0);
        memset(ordered, 0, ORDER_JOBS * sizeof *ordered);
        order_next_rank = 0;
        submit_ordered(ORDER_JOBS);
        wait_ordered(ORDER_JOBS);
        HOP_OK(hop_pool_close(&pool));
        count_overtakes(ORDER_JOBS, true, late);
        for (unsigned int i = 0; i < ORDER_JOBS; i++)
            cr_assert_leq(late[i], n - 1, "%u workers: job %u started while %u earlier jobs had not", n, i,
                          late[i]);
    }
    free(late);
    free(ordered);
    test_assert_checks();
}

/* The bound from the other side: how many later jobs may start before a
 * job. With every worker but one held by a long job, the free worker runs
 * everything queued behind those jobs, so no job may wait behind a later
 * one (K = 0): a worker that took a batch with its long job would strand
 * the rest of the batch behind it while the free worker ran later jobs. */
Test(pool, outside_jobs_queued_behind_long_jobs_start_in_exact_order_on_the_free_worker, .timeout = 120) {
    ordered = calloc(ORDER_JOBS, sizeof *ordered);
    unsigned int *early = calloc(ORDER_JOBS, sizeof *early);
    cr_assert(ordered && early);
    const unsigned int counts[] = {2, 4};
    for (size_t c = 0; c < 2; c++) {
        unsigned int n = counts[c];
        start_pool(n, 0);
        memset(ordered, 0, ORDER_JOBS * sizeof *ordered);
        order_next_rank = order_blockers_in = order_release = 0;
        /* Submitted right before the others, in one stream: each is taken by
         * a worker that then runs it, so they end up on n - 1 workers. */
        hop_job_t blockers[3];
        for (unsigned int b = 0; b < n - 1; b++) {
            hop_job_init(&blockers[b], order_blocker_run);
            HOP_OK(hop_pool_submit(&pool, &blockers[b]));
        }
        submit_ordered(ORDER_JOBS);
        wait_ordered(ORDER_JOBS);
        cr_assert_eq(load(&order_blockers_in), n - 1);
        store(&order_release, 1);
        HOP_OK(hop_pool_close(&pool));
        count_overtakes(ORDER_JOBS, false, early);
        for (unsigned int i = 0; i < ORDER_JOBS; i++)
            cr_assert_eq(early[i], 0, "%u workers: %u later jobs started before job %u", n, early[i], i);
    }
    free(early);
    free(ordered);
    test_assert_checks();
}

/* The bound behind local work: the only worker keeps making local work (a
 * pair of jobs passing the turn through its LIFO slot), and it still looks
 * at the injection queue every 61 local jobs (HOP__POOL_INJECT_INTERVAL),
 * so an outside job waits behind at most that many jobs made after it,
 * plus the one running when it came. Counted in jobs, not time: it holds
 * however the thread is scheduled. */
static hop_job_t local_ping, local_pong;
static unsigned int local_jobs_run, local_stop, local_seen_by_outside;

static void local_ping_pong(hop_job_t *job) {
    add(&local_jobs_run, 1);
    if (load(&local_stop))
        return;
    hop_job_t *other = job == &local_ping ? &local_pong : &local_ping;
    hop_job_init(other, local_ping_pong);
    hop_pool_submit(&pool, other);
}

static void note_local_jobs(hop_job_t *job) {
    (void)job;
    store(&local_seen_by_outside, load(&local_jobs_run));
}

Test(pool, an_outside_job_waits_behind_at_most_62_local_jobs_of_the_only_worker, .timeout = 120) {
    start_pool(1, 0);
    local_jobs_run = local_stop = 0;
    hop_job_init(&local_ping, local_ping_pong);
    HOP_OK(hop_pool_submit(&pool, &local_ping));
    for (int round = 0; round < 2000 / STRESS_SCALE; round++) {
        store(&local_seen_by_outside, UINT32_MAX);
        hop_job_t outside;
        hop_job_init(&outside, note_local_jobs);
        HOP_OK(hop_pool_submit(&pool, &outside));
        /* Read after the submit: the job is queued from here on. */
        unsigned int before = load(&local_jobs_run);
        while (load(&local_seen_by_outside) == UINT32_MAX)
            sched_yield();
        unsigned int seen = load(&local_seen_by_outside);
        cr_assert(seen < before || seen - before <= 62, "round %d: the outside job waited behind %u local jobs",
                  round, seen - before);
    }
    store(&local_stop, 1);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

#define PARK_RACE_ROUNDS (20000 / STRESS_SCALE)

Test(pool, a_submission_racing_a_worker_on_its_way_to_sleep_is_never_lost, .timeout = 240) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        /* No spinning: every worker goes to park right after each job. */
        start_pool(worker_counts[c], HOP_SPIN_NEVER);
        for (unsigned int round = 0; round < PARK_RACE_ROUNDS; round++) {
            flag = 0;
            hop_job_t job;
            hop_job_init(&job, set_flag);
            HOP_OK(hop_pool_submit(&pool, &job));
            double deadline = now_s() + 10;
            while (!load(&flag)) {
                cr_assert_lt(now_s(), deadline,
                             "%u workers, round %u: a submission was lost (no worker woke)", worker_counts[c],
                             round);
                sched_yield();
            }
            delay_steps(round % 97);
        }
        hop_pool_stats_t stats;
        HOP_OK(hop_pool_stats(&pool, &stats));
        cr_assert_gt(stats.parks, 0u, "the workers parked between jobs");
        HOP_OK(hop_pool_close(&pool));
    }
    test_assert_checks();
}

/* Several producers keep the injection queue at zero to a few jobs, so that
 * pushes often race a worker taking the last job, while workers that find
 * nothing park at once. A job left behind with every worker asleep would
 * never run. */
#define TRICKLE_PRODUCERS 3
#define TRICKLE_JOBS (20000 / STRESS_SCALE)

static counted_job_t *trickle_jobs;

static void *submit_trickle(void *arg) {
    size_t first = (size_t)(uintptr_t)arg * TRICKLE_JOBS;
    for (size_t i = first; i < first + TRICKLE_JOBS; i++) {
        hop_job_init(&trickle_jobs[i].job, counted_run);
        if (hop_pool_submit(&pool, &trickle_jobs[i].job) != 0)
            return (void *)1;
        delay_steps((unsigned int)(i * 31 % 53));
    }
    return NULL;
}

Test(pool, outside_jobs_pushed_while_a_worker_takes_the_last_one_are_never_stranded, .timeout = 240) {
    const size_t total = (size_t)TRICKLE_PRODUCERS * TRICKLE_JOBS;
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], HOP_SPIN_NEVER);
        trickle_jobs = calloc(total, sizeof *trickle_jobs);
        jobs_done = 0;
        pthread_t threads[TRICKLE_PRODUCERS];
        for (uintptr_t i = 0; i < TRICKLE_PRODUCERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, submit_trickle, (void *)i), 0);
        for (int i = 0; i < TRICKLE_PRODUCERS; i++) {
            void *failed;
            pthread_join(threads[i], &failed);
            cr_assert_null(failed, "a submission was refused");
        }
        double deadline = now_s() + 10;
        while (load(&jobs_done) < total) {
            cr_assert_lt(now_s(), deadline, "%u workers: %u of %zu jobs ran, the rest are stranded",
                         worker_counts[c], load(&jobs_done), total);
            test_sleep_ms(1);
        }
        for (size_t i = 0; i < total; i++)
            cr_assert_eq(trickle_jobs[i].runs, 1, "%u workers: job %zu ran %u times", worker_counts[c], i,
                         trickle_jobs[i].runs);
        HOP_OK(hop_pool_close(&pool));
        free(trickle_jobs);
    }
    test_assert_checks();
}

Test(pool, one_submission_to_a_parked_pool_wakes_at_most_two_workers, .timeout = 60) {
    start_pool(4, HOP_SPIN_NEVER);
    const int rounds = 100;
    hop_pool_stats_t before, after;
    wait_until_all_parked(4);
    HOP_OK(hop_pool_stats(&pool, &before));
    for (int round = 0; round < rounds; round++) {
        wait_until_all_parked(4);
        flag = 0;
        hop_job_t job;
        hop_job_init(&job, set_flag);
        HOP_OK(hop_pool_submit(&pool, &job));
        while (!load(&flag))
            sched_yield();
    }
    wait_until_all_parked(4);
    HOP_OK(hop_pool_stats(&pool, &after));
    /* The one woken to search, and at most one it hands searching over to
     * (only if it saw more work: here, none). */
    cr_assert_leq(after.wakeups - before.wakeups, 2u * rounds, "%llu wake-ups for %d submissions",
                  (unsigned long long)(after.wakeups - before.wakeups), rounds);
    cr_assert_geq(after.wakeups - before.wakeups, (uint64_t)rounds);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

Test(pool, an_idle_pool_uses_no_cpu_after_its_spin_window, .timeout = 60) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        counted_job_t jobs[64];
        jobs_done = 0;
        for (int i = 0; i < 64; i++) {
            hop_job_init(&jobs[i].job, counted_run);
            jobs[i].runs = jobs[i].misplaced = 0;
            HOP_OK(hop_pool_submit(&pool, &jobs[i].job));
        }
        test_wait_for(&jobs_done, 64);
        wait_until_all_parked(worker_counts[c]);
        struct rusage start, end;
        getrusage(RUSAGE_SELF, &start);
        test_sleep_ms(300);
        getrusage(RUSAGE_SELF, &end);
        double cpu_ms = (end.ru_utime.tv_sec - start.ru_utime.tv_sec) * 1e3 +
                        (end.ru_utime.tv_usec - start.ru_utime.tv_usec) / 1e3 +
                        (end.ru_stime.tv_sec - start.ru_stime.tv_sec) * 1e3 +
                        (end.ru_stime.tv_usec - start.ru_stime.tv_usec) / 1e3;
        cr_assert_lt(cpu_ms, 30.0, "%u idle workers burnt %.1f ms of CPU in 300 ms", worker_counts[c], cpu_ms);
        HOP_OK(hop_pool_close(&pool));
    }
    test_assert_checks();
}

/* ---- Tasks -------------------------------------------------------------------------- */

static unsigned int task_misplaced;

static void *double_after_yields(void *arg) {
    for (int i = 0; i < 3; i++) {
        if (hop_yield() != 0 || hop_executor_current() != hop_pool_executor(&pool) || !on_pool_thread())
            store(&task_misplaced, 1);
    }
    return (void *)((uintptr_t)arg * 2);
}

Test(pool, tasks_spawned_on_the_pool_run_there_and_can_be_joined, .timeout = 60) {
    enum { TASKS = 200 };
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        task_misplaced = 0;
        hop_task_t *tasks[TASKS];
        for (uintptr_t i = 0; i < TASKS; i++)
            HOP_OK(hop_task_spawn(hop_pool_executor(&pool), double_after_yields, (void *)i, NULL, &tasks[i]));
        for (uintptr_t i = 0; i < TASKS; i++) {
            void *result = NULL;
            HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &result));
            cr_assert_eq((uintptr_t)result, i * 2);
            hop_task_unref(tasks[i]);
        }
        cr_assert_eq(task_misplaced, 0, "a task ran outside the pool");
        HOP_OK(hop_pool_close(&pool));
    }
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
    test_assert_checks();
}

static const hop_task_options_t fib_options = {.stack_size = 64 * 1024};
static unsigned int fib_errors;

static void *fib(void *arg) {
    intptr_t n = (intptr_t)arg;
    if (n < 2)
        return arg;
    hop_task_t *a, *b;
    void *ra = NULL, *rb = NULL;
    if (hop_task_spawn(hop_executor_current(), fib, (void *)(n - 1), &fib_options, &a) != 0) {
        add(&fib_errors, 1);
        return NULL;
    }
    if (hop_task_spawn(hop_executor_current(), fib, (void *)(n - 2), &fib_options, &b) != 0) {
        add(&fib_errors, 1);
        b = NULL;
    }
    if (hop_task_join(a, &ra) != 0)
        add(&fib_errors, 1);
    if (b && hop_task_join(b, &rb) != 0)
        add(&fib_errors, 1);
    hop_task_unref(a);
    hop_task_unref(b);
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

/* fib(20) makes 21,891 tasks; ThreadSanitizer runs them some ten times
 * slower, and a loaded machine slower still: there fib(16) (3,193 tasks)
 * checks the same fork-join within the test's timeout. */
#define FIB_N (STRESS_SCALE > 1 ? 16 : 20)

Test(pool, fork_join_fib_with_a_task_per_call_gives_the_right_answer, .timeout = 240) {
    intptr_t expected = 0, next = 1; /* fib(FIB_N), and fib(FIB_N + 1) */
    for (int i = 0; i < FIB_N; i++) {
        intptr_t sum = expected + next;
        expected = next;
        next = sum;
    }
    uint64_t calls = 2 * (uint64_t)next - 1; /* the calls fib(n) makes, itself included */
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        fib_errors = 0;
        hop_task_t *root;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), fib, (void *)(intptr_t)FIB_N, &fib_options, &root));
        void *result = NULL;
        HOP_OK(hop_future_wait(hop_task_future(root), HOP_WAIT_FOREVER, &result));
        hop_task_unref(root);
        cr_assert_eq(fib_errors, 0, "a spawn or join failed");
        cr_assert_eq((intptr_t)result, expected, "%u workers: fib(%d) = %ld", worker_counts[c], FIB_N,
                     (long)(intptr_t)result);
        /* One task per call, each run at least once. */
        hop_pool_stats_t stats = stats_once_run(calls);
        if (worker_counts[c] == 1)
            cr_assert_eq(stats.steals, 0, "nobody to steal from");
        HOP_OK(hop_pool_close(&pool));
    }
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
    test_assert_checks();
}

/* A manual executor driven by a thread of its own, for tasks to hop to. */
static hop_executor_t *manual;
static pthread_t manual_thread;
static unsigned int manual_stop;

static void *drive_manual(void *arg) {
    (void)arg;
    while (!load(&manual_stop))
        if (hop_manual_executor_run_one(manual) == 0)
            sched_yield();
    return NULL;
}

static void start_manual(void) {
    HOP_OK(hop_manual_executor_create(&manual));
    manual_stop = 0;
    cr_assert_eq(pthread_create(&manual_thread, NULL, drive_manual, NULL), 0);
}

static void stop_manual(void) {
    store(&manual_stop, 1);
    pthread_join(manual_thread, NULL);
    HOP_OK(hop_manual_executor_destroy(manual));
}

static void *hop_between_pool_and_manual(void *arg) {
    (void)arg;
    for (int i = 0; i < 50; i++) {
        if (hop_dispatch_to_executor(manual) != 0 || hop_executor_current() != manual ||
            !pthread_equal(current_thread(), manual_thread))
            store(&task_misplaced, 1);
        if (hop_dispatch_to_executor(hop_pool_executor(&pool)) != 0 ||
            hop_executor_current() != hop_pool_executor(&pool) || !on_pool_thread())
            store(&task_misplaced, 1);
    }
    return arg;
}

Test(pool, tasks_move_in_and_out_of_the_pool_with_dispatch, .timeout = 120) {
    enum { TASKS = 16 };
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_manual();
        start_pool(worker_counts[c], 0);
        task_misplaced = 0;
        hop_task_t *tasks[TASKS];
        for (uintptr_t i = 0; i < TASKS; i++) {
            /* Half start on the manual executor and come in by dispatch. */
            hop_executor_t *home = i % 2 ? manual : hop_pool_executor(&pool);
            HOP_OK(hop_task_spawn(home, hop_between_pool_and_manual, (void *)i, NULL, &tasks[i]));
        }
        for (uintptr_t i = 0; i < TASKS; i++) {
            void *result = NULL;
            HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &result));
            cr_assert_eq((uintptr_t)result, i);
            hop_task_unref(tasks[i]);
        }
        cr_assert_eq(task_misplaced, 0, "a task landed on the wrong thread or executor");
        HOP_OK(hop_pool_close(&pool));
        stop_manual();
    }
    test_assert_checks();
}

static unsigned int yielder_spins;

static void *yield_until_flag(void *arg) {
    while (!load(&flag)) {
        hop_yield();
        add(&yielder_spins, 1);
    }
    return arg;
}

Test(pool, a_yielding_task_lets_jobs_queued_behind_it_run_on_a_single_worker, .timeout = 60) {
    start_pool(1, 0);
    flag = 0;
    yielder_spins = 0;
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), yield_until_flag, NULL, NULL, &task));
    while (load(&yielder_spins) == 0)
        sched_yield();
    hop_job_t job;
    hop_job_init(&job, set_flag);
    HOP_OK(hop_pool_submit(&pool, &job));
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(task);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- Joins that run their child on the joiner's thread ---------------------------- */

/* Each child counts its runs and says on which thread it ran; the joiner
 * checks the result of every join. */
typedef struct {
    unsigned int runs;
    unsigned int spins; /* work before returning: varies the race with thieves */
    unsigned int yields;
    pthread_t thread;
} join_child_t;

static unsigned int join_errors;

static void *join_child(void *arg) {
    join_child_t *c = arg;
    add(&c->runs, 1);
    c->thread = current_thread();
    for (volatile unsigned int i = 0; i < c->spins; i++) {
    }
    for (unsigned int i = 0; i < c->yields; i++)
        if (hop_yield() != 0)
            add(&join_errors, 1);
    if (hop_executor_current() != hop_pool_executor(&pool) || !on_pool_thread())
        add(&join_errors, 1);
    return c;
}

/* Under TSan 800 rounds (about 25 s there); the other builds run all 20,000. */
#define JOIN_ROUNDS (20000 / (STRESS_SCALE * STRESS_SCALE))
#define JOIN_BATCH 4

/* Spawns JOIN_BATCH children, keeps the worker busy a little (so idle
 * workers steal some of them), then joins them newest first, the order in
 * which an unstolen child sits at the bottom of the joiner's queues. */
static void *join_racing_thieves(void *arg) {
    (void)arg;
    static const hop_task_options_t small = {.stack_size = 16 * 1024};
    join_child_t children[JOIN_BATCH];
    hop_task_t *tasks[JOIN_BATCH];
    for (unsigned int round = 0; round < JOIN_ROUNDS; round++) {
        for (unsigned int k = 0; k < JOIN_BATCH; k++) {
            children[k] = (join_child_t){.spins = (round * 7 + k * 13) % 200, .yields = (round + k) % 11 == 0};
            if (hop_task_spawn(hop_pool_executor(&pool), join_child, &children[k], &small, &tasks[k]) != 0) {
                add(&join_errors, 1);
                return NULL;
            }
        }
        for (volatile unsigned int i = 0; i < round % 300; i++) {
        }
        for (unsigned int k = JOIN_BATCH; k-- > 0;) {
            void *result = NULL;
            if (hop_task_join(tasks[k], &result) != 0 || result != &children[k] || load(&children[k].runs) != 1)
                add(&join_errors, 1);
            hop_task_unref(tasks[k]);
        }
    }
    return NULL;
}

Test(pool, joins_racing_thieves_for_the_same_children_run_each_child_exactly_once, .timeout = 240) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        join_errors = 0;
        hop_task_t *driver;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_racing_thieves, NULL, NULL, &driver));
        HOP_OK(hop_future_wait(hop_task_future(driver), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(driver);
        cr_assert_eq(load(&join_errors), 0, "%u workers: a child ran twice, not at all, or elsewhere",
                     worker_counts[c]);
        HOP_OK(hop_pool_close(&pool));
    }
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
    test_assert_checks();
}

static pthread_t joiner_thread;

static void *join_one_child(void *arg) {
    join_child_t *c = arg;
    hop_task_t *child;
    if (hop_task_spawn(hop_executor_current(), join_child, c, NULL, &child) != 0)
        return NULL;
    joiner_thread = current_thread();
    void *result = NULL;
    int err = hop_task_join(child, &result);
    hop_task_unref(child);
    return err == 0 && result == c ? c : NULL;
}

Test(pool, a_task_joining_a_child_nobody_stole_runs_it_on_its_own_worker_before_going_on, .timeout = 60) {
    /* One worker: nobody steals, so the child is still in the joiner's LIFO
     * slot when the join comes; the worker runs it there and then. */
    start_pool(1, 0);
    join_errors = 0;
    join_child_t child = {0};
    hop_task_t *parent;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_one_child, &child, NULL, &parent));
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(parent), HOP_WAIT_FOREVER, &result));
    hop_task_unref(parent);
    cr_assert_eq(result, &child);
    cr_assert_eq(child.runs, 1);
    cr_assert(pthread_equal(child.thread, joiner_thread));
    cr_assert_eq(join_errors, 0);
    /* The child's run counts among the pool's jobs: parent and child. */
    hop_pool_stats_t stats = stats_once_run(2);
    cr_assert_eq(stats.jobs_run, 2);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* Whichever stack the joiner's worker runs the child on (the joiner's own
 * when it has room, the thread's otherwise: a 16 KiB stack has not), the
 * child sees its joiner suspended in "join", on the same thread, and the
 * joiner goes on with the child's result. */
typedef struct {
    hop_task_t *joiner;
    hop_task_state_t joiner_state;
    const char *joiner_wait;
    pthread_t thread;
} watch_joiner_t;

static void *watch_my_joiner(void *arg) {
    watch_joiner_t *w = arg;
    w->joiner_state = hop_task_state(w->joiner);
    static hop_task_info_t infos[64];
    size_t count = 0;
    w->joiner_wait = "(not in the snapshot)";
    if (hop_task_snapshot(infos, 64, &count) == 0)
        for (size_t i = 0; i < count && i < 64; i++)
            if (infos[i].task == w->joiner)
                w->joiner_wait = infos[i].waiting_on ? infos[i].waiting_on : "(nothing)";
    w->thread = current_thread();
    return arg;
}

static void *join_a_watching_child(void *arg) {
    watch_joiner_t *w = arg;
    w->joiner = hop_task_current();
    hop_task_t *child;
    if (hop_task_spawn(hop_executor_current(), watch_my_joiner, w, NULL, &child) != 0)
        return NULL;
    joiner_thread = current_thread();
    void *result = NULL;
    int err = hop_task_join(child, &result);
    hop_task_unref(child);
    return err == 0 && result == w && hop_task_state(w->joiner) == HOP_TASK_RUNNING ? w : NULL;
}

Test(pool, a_joiner_whose_worker_runs_the_child_counts_as_suspended_in_join_meanwhile, .timeout = 60) {
    static const size_t stacks[] = {0, 16 * 1024};
    start_pool(1, 0);
    for (size_t i = 0; i < sizeof stacks / sizeof stacks[0]; i++) {
        watch_joiner_t w = {0};
        hop_task_options_t options = {.stack_size = stacks[i]};
        hop_task_t *parent;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_a_watching_child, &w, &options, &parent));
        void *result = NULL;
        HOP_OK(hop_future_wait(hop_task_future(parent), HOP_WAIT_FOREVER, &result));
        hop_task_unref(parent);
        cr_assert_eq(result, &w, "stack %zu: the join failed", stacks[i]);
        cr_assert_eq(w.joiner_state, HOP_TASK_SUSPENDED, "stack %zu: the joiner was %s", stacks[i],
                     hop_task_state_name(w.joiner_state));
        cr_assert_str_eq(w.joiner_wait, "join", "stack %zu", stacks[i]);
        cr_assert(pthread_equal(w.thread, joiner_thread), "stack %zu: the child ran on another thread", stacks[i]);
    }
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* A child that yields while its joiner runs it goes behind what its worker
 * has queued, as any yielding task does: on a single worker, the job the
 * child submitted runs before the child's next turn. */
static void *yield_until_flag_once_submitted(void *arg) {
    unsigned int *yields = arg;
    hop_job_t job;
    hop_job_init(&job, set_flag);
    if (hop_pool_submit(&pool, &job) != 0)
        return NULL;
    while (!load(&flag)) {
        if (hop_yield() != 0)
            return NULL;
        add(yields, 1);
    }
    return arg;
}

static void *join_yielding_child(void *arg) {
    hop_task_t *child;
    if (hop_task_spawn(hop_executor_current(), yield_until_flag_once_submitted, arg, NULL, &child) != 0)
        return NULL;
    void *result = NULL;
    int err = hop_task_join(child, &result);
    hop_task_unref(child);
    return err == 0 ? result : NULL;
}

Test(pool, a_joined_child_that_yields_goes_behind_the_jobs_queued_on_its_worker, .timeout = 60) {
    start_pool(1, 0);
    flag = 0;
    unsigned int yields = 0;
    hop_task_t *parent;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_yielding_child, &yields, NULL, &parent));
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(parent), HOP_WAIT_FOREVER, &result));
    hop_task_unref(parent);
    cr_assert_eq(result, &yields);
    cr_assert_eq(load(&yields), 1, "the child yielded %u times before the queued job ran", load(&yields));
    HOP_OK(hop_pool_close(&pool));
}

/* The child cancels its joiner while the joiner's thread runs it: the
 * join then reports the cancellation, and the child's own result stands. */
static void *cancel_my_joiner(void *arg) {
    hop_task_t **joiner = arg;
    CHECK_OK(hop_task_cancel(*joiner));
    return (void *)(uintptr_t)42;
}

static hop_task_t *cancelled_joiner;
static int cancelled_join_status;
static void *cancelled_join_result;

static void *join_and_get_cancelled(void *arg) {
    hop_task_t **child_out = arg;
    cancelled_joiner = hop_task_current();
    if (hop_task_spawn(hop_executor_current(), cancel_my_joiner, &cancelled_joiner, NULL, child_out) != 0)
        return NULL;
    cancelled_join_result = (void *)1;
    cancelled_join_status = hop_task_join(*child_out, &cancelled_join_result);
    return NULL;
}

Test(pool, a_joiner_cancelled_while_its_thread_runs_the_child_gets_ECANCELED_and_the_child_finishes,
     .timeout = 60) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        hop_task_t *child = NULL;
        hop_task_t *parent;
        cancelled_join_status = 0;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_and_get_cancelled, &child, NULL, &parent));
        cr_assert_eq(hop_future_wait(hop_task_future(parent), HOP_WAIT_FOREVER, NULL), HOP_ECANCELED);
        cr_assert_eq(cancelled_join_status, HOP_ECANCELED, "%u workers: the join returned %s", worker_counts[c],
                     hop_err_name(cancelled_join_status));
        cr_assert_null(cancelled_join_result);
        void *result = NULL;
        HOP_OK(hop_future_wait(hop_task_future(child), HOP_WAIT_FOREVER, &result));
        cr_assert_eq((uintptr_t)result, 42);
        hop_task_unref(child);
        hop_task_unref(parent);
        HOP_OK(hop_pool_close(&pool));
    }
    test_assert_checks();
}

/* Each task of the chain spawns the next and joins it: far deeper than the
 * joins a thread runs nested on its own stack, so the deep end suspends as
 * before; every level still gets its answer. */
#define JOIN_CHAIN 1000

static void *join_chain(void *arg) {
    uintptr_t depth = (uintptr_t)arg;
    if (depth == JOIN_CHAIN)
        return arg;
    static const hop_task_options_t small = {.stack_size = 16 * 1024};
    hop_task_t *next;
    if (hop_task_spawn(hop_executor_current(), join_chain, (void *)(depth + 1), &small, &next) != 0)
        return NULL;
    void *result = NULL;
    if (hop_task_join(next, &result) != 0)
        result = NULL;
    hop_task_unref(next);
    return result;
}

Test(pool, a_chain_of_joins_deeper_than_a_thread_runs_nested_still_completes, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        hop_task_t *root;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), join_chain, (void *)(uintptr_t)0, NULL, &root));
        void *result = NULL;
        HOP_OK(hop_future_wait(hop_task_future(root), HOP_WAIT_FOREVER, &result));
        hop_task_unref(root);
        cr_assert_eq((uintptr_t)result, JOIN_CHAIN, "%u workers", worker_counts[c]);
        HOP_OK(hop_pool_close(&pool));
    }
}

/* hop_executor_withdraw on the pool: a worker takes back a job it has just
 * submitted (its LIFO slot, then its deque's bottom), and that job never
 * runs; from outside the pool nothing is withdrawn. */
static counted_job_t withdrawn_jobs[3];
static int withdraw_results[4];

static void withdraw_own_jobs(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < 3; i++) {
        hop_job_init(&withdrawn_jobs[i].job, counted_run);
        CHECK_OK(hop_pool_submit(&pool, &withdrawn_jobs[i].job));
    }
    /* [2] is in the LIFO slot, [1] at the deque's bottom, [0] above it. */
    withdraw_results[0] = hop_executor_withdraw(hop_pool_executor(&pool), &withdrawn_jobs[2].job);
    withdraw_results[1] = hop_executor_withdraw(hop_pool_executor(&pool), &withdrawn_jobs[1].job);
    withdraw_results[2] = hop_executor_withdraw(hop_pool_executor(&pool), &withdrawn_jobs[1].job);
}

Test(pool, a_worker_withdraws_the_jobs_it_just_queued_and_they_never_run, .timeout = 60) {
    start_pool(1, 0);
    memset(withdrawn_jobs, 0, sizeof withdrawn_jobs);
    jobs_done = 0;
    hop_job_t job;
    hop_job_init(&job, withdraw_own_jobs);
    HOP_OK(hop_pool_submit(&pool, &job));
    stats_once_run(2); /* withdraw_own_jobs and withdrawn_jobs[0] */
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(withdraw_results[0], 0, "the LIFO slot's job");
    cr_assert_eq(withdraw_results[1], 0, "the deque's bottom job");
    cr_assert_eq(withdraw_results[2], HOP_EALREADY, "withdrawn already");
    cr_assert_eq(withdrawn_jobs[0].runs, 1);
    cr_assert_eq(withdrawn_jobs[1].runs, 0);
    cr_assert_eq(withdrawn_jobs[2].runs, 0);
    test_assert_checks();
}

Test(pool, a_thread_outside_the_pool_withdraws_nothing, .timeout = 60) {
    start_pool(1, 0);
    jobs_done = 0;
    counted_job_t job = {0};
    hop_job_init(&job.job, counted_run);
    HOP_OK(hop_pool_submit(&pool, &job.job));
    int err = hop_executor_withdraw(hop_pool_executor(&pool), &job.job);
    cr_assert_eq(err, HOP_EALREADY);
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(job.runs, 1);
}

/* ---- Local queues: overflow, stealing, the LIFO slot ------------------------------ */

#define FANOUT 10000

static counted_job_t fanout_jobs[FANOUT];
static unsigned int fanout_refused;

static void submit_fanout(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < FANOUT; i++) {
        hop_job_init(&fanout_jobs[i].job, counted_run);
        if (hop_pool_submit(&pool, &fanout_jobs[i].job) != 0)
            add(&fanout_refused, 1);
    }
}

Test(pool, a_worker_submitting_10000_jobs_overflows_its_deque_and_every_job_runs_once, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        memset(fanout_jobs, 0, sizeof fanout_jobs);
        jobs_done = fanout_refused = 0;
        hop_job_t outer;
        hop_job_init(&outer, submit_fanout);
        HOP_OK(hop_pool_submit(&pool, &outer));
        test_wait_for(&jobs_done, FANOUT);
        cr_assert_eq(fanout_refused, 0);
        for (int i = 0; i < FANOUT; i++) {
            cr_assert_eq(fanout_jobs[i].runs, 1, "%u workers: job %d ran %u times", worker_counts[c], i,
                         fanout_jobs[i].runs);
            cr_assert_eq(fanout_jobs[i].misplaced, 0);
        }
        hop_pool_stats_t stats = stats_once_run(FANOUT + 1);
        if (worker_counts[c] == 1)
            cr_assert_gt(stats.injected, 1u, "nobody steals, so the deque overflowed into the injection queue");
        HOP_OK(hop_pool_close(&pool));
    }
    test_assert_checks();
}

/* A job that blocks its worker until *until reaches a value, or 30 s pass
 * (then it records that it gave up: the test fails instead of hanging). */
typedef struct {
    hop_job_t job;
    unsigned int *until;
    unsigned int value;
    unsigned int gave_up;
    pthread_t thread;
    unsigned int done; /* set last: thread and gave_up may be read then */
} blocker_t;

static void block(blocker_t *b) {
    b->thread = current_thread();
    double deadline = now_s() + 30;
    while (load(b->until) < b->value) {
        if (now_s() > deadline) {
            b->gave_up = 1;
            break;
        }
        sched_yield();
    }
    store(&b->done, 1);
}

#define QUEUED_BEHIND 100

static counted_job_t behind[QUEUED_BEHIND];
static blocker_t blocker;

static void queue_then_block(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < QUEUED_BEHIND; i++) {
        hop_job_init(&behind[i].job, counted_run);
        CHECK_OK(hop_pool_submit(&pool, &behind[i].job));
    }
    block(&blocker);
}

Test(pool, idle_workers_steal_the_queued_jobs_of_a_blocked_worker, .timeout = 120) {
    for (size_t c = 1; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        memset(behind, 0, sizeof behind);
        jobs_done = 0;
        blocker = (blocker_t){.until = &jobs_done, .value = QUEUED_BEHIND};
        hop_job_init(&blocker.job, queue_then_block);
        HOP_OK(hop_pool_submit(&pool, &blocker.job));
        test_wait_for(&blocker.done, 1);
        cr_assert_eq(blocker.gave_up, 0, "the jobs queued behind a blocked worker did not run elsewhere");
        hop_pool_stats_t stats;
        HOP_OK(hop_pool_stats(&pool, &stats));
        cr_assert_gt(stats.steals, 0);
        HOP_OK(hop_pool_close(&pool));
        for (int i = 0; i < QUEUED_BEHIND; i++)
            cr_assert_eq(behind[i].runs, 1);
    }
    test_assert_checks();
}

static unsigned int lifo_ran;
static pthread_t lifo_thread;

static void note_lifo_run(hop_job_t *job) {
    (void)job;
    lifo_thread = current_thread();
    store(&lifo_ran, 1);
}

static hop_job_t lifo_job;

static void fill_lifo_then_block(hop_job_t *job) {
    (void)job;
    /* The only job this worker submits: it sits in the LIFO slot. */
    hop_job_init(&lifo_job, note_lifo_run);
    CHECK_OK(hop_pool_submit(&pool, &lifo_job));
    block(&blocker);
}

Test(pool, a_job_in_the_lifo_slot_of_a_blocked_worker_runs_on_another_worker, .timeout = 120) {
    const int spins[] = {HOP_SPIN_NEVER, 0, 1000};
    for (size_t s = 0; s < 3; s++) {
        for (size_t c = 1; c < WORKER_COUNTS; c++) {
            start_pool(worker_counts[c], spins[s]);
            for (int round = 0; round < 20; round++) {
                lifo_ran = 0;
                blocker = (blocker_t){.until = &lifo_ran, .value = 1};
                hop_job_init(&blocker.job, fill_lifo_then_block);
                HOP_OK(hop_pool_submit(&pool, &blocker.job));
                /* The blocker returns as soon as the LIFO job has run. */
                test_wait_for(&blocker.done, 1);
                cr_assert_eq(blocker.gave_up, 0, "the LIFO slot was stranded behind a blocked job");
                cr_assert_not(pthread_equal(lifo_thread, blocker.thread), "the LIFO job ran on the blocked worker");
            }
            HOP_OK(hop_pool_close(&pool));
        }
    }
    test_assert_checks();
}

/* ---- Stealing in batches ------------------------------------------------------------------ */

/* One job in the owner's LIFO slot, 16 in its deque. */
#define BATCH_QUEUED 17

static hop_job_t batch_jobs[BATCH_QUEUED], batch_owner, batch_other;
static unsigned int batch_runs[BATCH_QUEUED];
static unsigned int batch_other_started, batch_other_released, batch_queued, batch_owner_released;
static unsigned int batch_oldest_started, batch_oldest_released;

/* The oldest job, the one a thief steals first, holds its thief until
 * released: what else the thief took meanwhile shows in the stats. */
static void batch_job_run(hop_job_t *job) {
    size_t i = (size_t)(job - batch_jobs);
    add(&batch_runs[i], 1);
    if (i == 0) {
        store(&batch_oldest_started, 1);
        test_wait_for(&batch_oldest_released, 1);
    }
}

/* Queues the jobs on its own worker, then keeps that worker busy so that
 * only a thief can run them. */
static void batch_owner_run(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < BATCH_QUEUED; i++) {
        hop_job_init(&batch_jobs[i], batch_job_run);
        CHECK_OK(hop_pool_submit(&pool, &batch_jobs[i]));
    }
    store(&batch_queued, 1);
    test_wait_for(&batch_owner_released, 1);
}

static void batch_other_run(hop_job_t *job) {
    (void)job;
    store(&batch_other_started, 1);
    test_wait_for(&batch_other_released, 1);
}

Test(pool, a_thief_takes_half_of_a_busy_workers_deque_up_to_nine_jobs_in_one_steal, .timeout = 60) {
    start_pool(2, 0);
    /* One worker is held by batch_other while the other queues the jobs. */
    hop_job_init(&batch_other, batch_other_run);
    HOP_OK(hop_pool_submit(&pool, &batch_other));
    test_wait_for(&batch_other_started, 1);
    hop_job_init(&batch_owner, batch_owner_run);
    HOP_OK(hop_pool_submit(&pool, &batch_owner));
    test_wait_for(&batch_queued, 1);
    /* The freed worker finds nothing of its own and steals: the oldest
     * job, which it runs, and 8 more (half of the 16 it saw). */
    store(&batch_other_released, 1);
    test_wait_for(&batch_oldest_started, 1);
    hop_pool_stats_t stats;
    HOP_OK(hop_pool_stats(&pool, &stats));
    cr_assert_eq(stats.steals, 9, "a steal took %llu jobs, not 1 + 8", (unsigned long long)stats.steals);
    store(&batch_oldest_released, 1);
    store(&batch_owner_released, 1);
    stats_once_run(2 + BATCH_QUEUED);
    HOP_OK(hop_pool_close(&pool));
    for (int i = 0; i < BATCH_QUEUED; i++)
        cr_assert_eq(batch_runs[i], 1, "job %d ran %u times", i, batch_runs[i]);
    test_assert_checks();
}

/* ---- Closing ----------------------------------------------------------------------------- */

#define GATED 32

static hop_future_t gates[GATED];
static unsigned int gated_spawn_result[GATED];
static unsigned int gated_child_ran[GATED];
static unsigned int probes_accepted;

static void *note_child(void *arg) {
    store(&gated_child_ran[(uintptr_t)arg], 1);
    return NULL;
}

static void *await_gate(void *arg) {
    uintptr_t i = (uintptr_t)arg;
    void *value = NULL;
    if (hop_future_await(&gates[i], &value) != 0)
        return NULL;
    /* The pool is closing by now: a spawn is refused, or, if this worker
     * had not heard yet, accepted and then waited for by close. */
    int err = hop_task_spawn(hop_pool_executor(&pool), note_child, arg, NULL, NULL);
    store(&gated_spawn_result[i], (unsigned int)-err);
    return (void *)((uintptr_t)value + 1);
}

static hop_job_t probes[1000];

static void *open_gates_once_closing(void *arg) {
    (void)arg;
    /* hop_pool_submit refuses once close has begun. */
    for (int i = 0; i < 1000; i++) {
        hop_job_init(&probes[i], set_flag);
        if (hop_pool_submit(&pool, &probes[i]) == HOP_ECLOSED)
            break;
        add(&probes_accepted, 1);
        test_sleep_ms(1);
    }
    test_sleep_ms(20);
    for (uintptr_t i = 0; i < GATED; i++)
        hop_future_set_result(&gates[i], (void *)i);
    return NULL;
}

Test(pool, close_waits_for_suspended_tasks_and_then_refuses_everything, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        hop_task_t *tasks[GATED];
        for (uintptr_t i = 0; i < GATED; i++) {
            hop_future_init(&gates[i]);
            gated_spawn_result[i] = UINT32_MAX;
            gated_child_ran[i] = 0;
            HOP_OK(hop_task_spawn(hop_pool_executor(&pool), await_gate, (void *)i, NULL, &tasks[i]));
        }
        probes_accepted = 0;
        pthread_t opener;
        cr_assert_eq(pthread_create(&opener, NULL, open_gates_once_closing, NULL), 0);
        test_sleep_ms(10);
        /* Returns only once every task has finished: their continuations
         * come from the opener thread while the pool is closing. */
        HOP_OK(hop_pool_close(&pool));
        for (uintptr_t i = 0; i < GATED; i++) {
            cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE, "task %lu: %s", (unsigned long)i,
                         hop_task_state_name(hop_task_state(tasks[i])));
            void *result = NULL;
            HOP_OK(hop_future_result(hop_task_future(tasks[i]), &result));
            cr_assert_eq((uintptr_t)result, i + 1);
            unsigned int spawned = gated_spawn_result[i];
            cr_assert(spawned == (unsigned int)-HOP_ECLOSED || (spawned == 0 && gated_child_ran[i]),
                      "task %lu: a spawn during close was neither refused nor run (%d)", (unsigned long)i,
                      -(int)spawned);
            hop_task_unref(tasks[i]);
        }
        pthread_join(opener, NULL);

        hop_job_t job;
        hop_job_init(&job, set_flag);
        HOP_ERR(hop_pool_submit(&pool, &job), HOP_ECLOSED);
        HOP_ERR(hop_executor_submit(hop_pool_executor(&pool), &job), HOP_ECLOSED);
        hop_task_t *refused = (hop_task_t *)0x1;
        HOP_ERR(hop_task_spawn(hop_pool_executor(&pool), note_child, NULL, NULL, &refused), HOP_ECLOSED);
        cr_assert_null(refused);
        HOP_ERR(hop_pool_close(&pool), HOP_EALREADY);
        cr_assert_eq(hop_pool_size(&pool), 0);
        hop_pool_stats_t stats;
        HOP_ERR(hop_pool_stats(&pool, &stats), HOP_ECLOSED);
    }
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
    test_assert_checks();
}

#define CLOSE_JOBS (20000 / STRESS_SCALE)

/* A job that, when it runs, tries to submit a follow-up job. */
typedef struct {
    hop_job_t job;
    unsigned int runs;
    hop_job_t follow_up;
    unsigned int follow_up_runs;
    unsigned int follow_up_accepted;
} chained_job_t;

static chained_job_t chained[CLOSE_JOBS];

static void run_follow_up(hop_job_t *job) {
    chained_job_t *j = (chained_job_t *)((char *)job - offsetof(chained_job_t, follow_up));
    add(&j->follow_up_runs, 1);
}

static unsigned int close_begun;

static void run_chained(hop_job_t *job) {
    chained_job_t *j = (chained_job_t *)job;
    /* Every worker holds its first job until close has begun, so that the
     * rest run while the pool is closing. */
    while (!load(&close_begun))
        sched_yield();
    add(&j->runs, 1);
    hop_job_init(&j->follow_up, run_follow_up);
    if (hop_pool_submit(&pool, &j->follow_up) == 0)
        store(&j->follow_up_accepted, 1);
}

/* Sets close_begun once an outside submission is refused, and a while
 * after, so that the workers have been told too. */
static void *notice_close(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        hop_job_init(&probes[i], set_flag);
        if (hop_pool_submit(&pool, &probes[i]) == HOP_ECLOSED)
            break;
        test_sleep_ms(1);
    }
    test_sleep_ms(10);
    store(&close_begun, 1);
    return NULL;
}

Test(pool, close_runs_every_job_it_accepted_and_drops_none, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        memset(chained, 0, sizeof chained);
        close_begun = 0;
        for (int i = 0; i < CLOSE_JOBS; i++) {
            hop_job_init(&chained[i].job, run_chained);
            HOP_OK(hop_pool_submit(&pool, &chained[i].job));
        }
        pthread_t noticer;
        cr_assert_eq(pthread_create(&noticer, NULL, notice_close, NULL), 0);
        HOP_OK(hop_pool_close(&pool));
        pthread_join(noticer, NULL);
        unsigned int accepted = 0;
        for (int i = 0; i < CLOSE_JOBS; i++) {
            cr_assert_eq(chained[i].runs, 1, "%u workers: job %d ran %u times", worker_counts[c], i, chained[i].runs);
            cr_assert_eq(chained[i].follow_up_runs, chained[i].follow_up_accepted,
                         "job %d: follow-up accepted %u, ran %u times", i, chained[i].follow_up_accepted,
                         chained[i].follow_up_runs);
            accepted += chained[i].follow_up_accepted;
        }
        cr_assert_lt(accepted, (unsigned int)CLOSE_JOBS, "no submission from a worker was refused while closing");
    }
    test_assert_checks();
}

#define RACERS 3
#define RACER_JOBS (20000 / STRESS_SCALE)

typedef struct {
    counted_job_t jobs[RACER_JOBS];
    unsigned int accepted; /* jobs[0, accepted) were accepted, the next one refused */
    hop_task_t *tasks[64];
    unsigned int spawned;
} racer_t;

static racer_t racers[RACERS];

static void *note_task(void *arg) { return arg; }

/* Submits jobs, and now and then spawns a task, until the pool refuses. */
static void *race_close(void *arg) {
    racer_t *r = arg;
    for (unsigned int i = 0; i < RACER_JOBS; i++) {
        hop_job_init(&r->jobs[i].job, counted_run);
        if (hop_pool_submit(&pool, &r->jobs[i].job) != 0)
            break;
        r->accepted = i + 1;
        if (i % 512 == 0 && r->spawned < 64 &&
            hop_task_spawn(hop_pool_executor(&pool), note_task, NULL, NULL, &r->tasks[r->spawned]) == 0)
            r->spawned++;
    }
    return NULL;
}

Test(pool, submissions_racing_close_either_run_once_or_are_refused, .timeout = 120) {
    for (size_t c = 0; c < WORKER_COUNTS; c++) {
        start_pool(worker_counts[c], 0);
        memset(racers, 0, sizeof racers);
        jobs_done = 0;
        pthread_t threads[RACERS];
        for (int i = 0; i < RACERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, race_close, &racers[i]), 0);
        test_sleep_ms(2);
        HOP_OK(hop_pool_close(&pool));
        for (int i = 0; i < RACERS; i++)
            pthread_join(threads[i], NULL);
        for (int i = 0; i < RACERS; i++) {
            racer_t *r = &racers[i];
            for (unsigned int k = 0; k < RACER_JOBS; k++)
                cr_assert_eq(r->jobs[k].runs, k < r->accepted ? 1u : 0u,
                             "%u workers, racer %d: job %u (%s) ran %u times", worker_counts[c], i, k,
                             k < r->accepted ? "accepted" : "refused", r->jobs[k].runs);
            for (unsigned int k = 0; k < r->spawned; k++) {
                cr_assert_eq(hop_task_state(r->tasks[k]), HOP_TASK_DONE, "an accepted task did not finish");
                hop_task_unref(r->tasks[k]);
            }
        }
    }
    test_assert_checks();
}

#define CLOSE_ROUNDS (30 / (STRESS_SCALE > 1 ? 3 : 1))
#define CLOSE_RACERS 4

static racer_t close_racers[CLOSE_RACERS];

Test(pool, repeated_closes_racing_many_outside_producers_run_every_accepted_job_once, .timeout = 240) {
    for (int round = 0; round < CLOSE_ROUNDS; round++) {
        unsigned int n = worker_counts[round % WORKER_COUNTS];
        start_pool(n, round % 2 ? HOP_SPIN_NEVER : 0);
        memset(close_racers, 0, sizeof close_racers);
        pthread_t threads[CLOSE_RACERS];
        for (int i = 0; i < CLOSE_RACERS; i++)
            cr_assert_eq(pthread_create(&threads[i], NULL, race_close, &close_racers[i]), 0);
        /* Close at a different point of the burst each round. */
        delay_steps((unsigned int)(round * 997) % 20000);
        HOP_OK(hop_pool_close(&pool));
        for (int i = 0; i < CLOSE_RACERS; i++)
            pthread_join(threads[i], NULL);
        for (int i = 0; i < CLOSE_RACERS; i++) {
            racer_t *r = &close_racers[i];
            for (unsigned int k = 0; k < RACER_JOBS; k++)
                cr_assert_eq(r->jobs[k].runs, k < r->accepted ? 1u : 0u,
                             "round %d, %u workers, racer %d: job %u (%s) ran %u times", round, n, i, k,
                             k < r->accepted ? "accepted" : "refused", r->jobs[k].runs);
            for (unsigned int k = 0; k < r->spawned; k++) {
                cr_assert_eq(hop_task_state(r->tasks[k]), HOP_TASK_DONE, "an accepted task did not finish");
                hop_task_unref(r->tasks[k]);
            }
        }
    }
    test_assert_checks();
}

static int close_result;

static void close_from_job(hop_job_t *job) {
    (void)job;
    close_result = hop_pool_close(&pool);
    store(&flag, 1);
}

static void *close_from_task(void *arg) {
    (void)arg;
    return (void *)(intptr_t)hop_pool_close(&pool);
}

Test(pool, closing_from_a_worker_or_a_task_on_the_pool_is_refused_and_changes_nothing, .timeout = 60) {
    start_pool(2, 0);
    flag = 0;
    hop_job_t job;
    hop_job_init(&job, close_from_job);
    HOP_OK(hop_pool_submit(&pool, &job));
    test_wait_for(&flag, 1);
    HOP_ERR(close_result, HOP_EDEADLK);
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), close_from_task, NULL, NULL, &task));
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, &result));
    hop_task_unref(task);
    HOP_ERR((int)(intptr_t)result, HOP_EDEADLK);
    cr_assert_eq(hop_pool_size(&pool), 2, "the pool is still open");
    flag = 0;
    hop_job_init(&job, set_flag);
    HOP_OK(hop_pool_submit(&pool, &job));
    test_wait_for(&flag, 1);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

static unsigned int returned_home;

static void *leave_then_try_to_return(void *arg) {
    (void)arg;
    if (hop_dispatch_to_executor(manual) != 0)
        return (void *)(intptr_t)-1;
    store(&flag, 1);
    /* Wait on the manual executor (yielding) until the pool is closed. */
    while (hop_pool_size(&pool) != 0)
        hop_yield();
    int err = hop_dispatch_to_executor(hop_pool_executor(&pool));
    if (hop_executor_current() == manual)
        store(&returned_home, 1);
    return (void *)(intptr_t)err;
}

Test(pool, a_task_that_left_the_pool_is_not_waited_for_and_cannot_come_back_after_close, .timeout = 60) {
    start_manual();
    start_pool(2, 0);
    flag = returned_home = 0;
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), leave_then_try_to_return, NULL, NULL, &task));
    test_wait_for(&flag, 1);
    HOP_OK(hop_pool_close(&pool));
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, &result));
    hop_task_unref(task);
    HOP_ERR((int)(intptr_t)result, HOP_ECLOSED);
    cr_assert_eq(returned_home, 1, "the refused task carried on where it was");
    stop_manual();
    test_assert_checks();
}

/* ---- Arguments, names, sizes -------------------------------------------------------------- */

Test(pool, bad_arguments_are_refused_with_einval, .timeout = 30) {
    hop_pool_options_t options = {.threads = 1025};
    HOP_ERR(hop_pool_init(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_pool_init(&pool, &options), HOP_EINVAL);
    options = (hop_pool_options_t){.threads = 1, .spin_us = -1};
    HOP_ERR(hop_pool_init(&pool, &options), HOP_EINVAL);

    hop_pool_t never = {0};
    hop_job_t job;
    hop_job_init(&job, set_flag);
    HOP_ERR(hop_pool_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_pool_close(&never), HOP_EINVAL);
    HOP_ERR(hop_pool_submit(NULL, &job), HOP_EINVAL);
    HOP_ERR(hop_pool_submit(&never, &job), HOP_EINVAL);
    cr_assert_null(hop_pool_executor(NULL));
    cr_assert_eq(hop_pool_size(NULL), 0);
    hop_pool_stats_t stats;
    HOP_ERR(hop_pool_stats(NULL, &stats), HOP_EINVAL);
    HOP_ERR(hop_pool_stats(&never, &stats), HOP_EINVAL);

    start_pool(1, 0);
    HOP_ERR(hop_pool_submit(&pool, NULL), HOP_EINVAL);
    hop_job_t no_run = {0};
    HOP_ERR(hop_pool_submit(&pool, &no_run), HOP_EINVAL);
    HOP_ERR(hop_pool_stats(&pool, NULL), HOP_EINVAL);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

static char names[8][16];
static unsigned int names_seen;

static void note_name(hop_job_t *job) {
    (void)job;
    char name[16] = "";
    pthread_getname_np(current_thread(), name, sizeof name);
    unsigned int slot = add(&names_seen, 1) - 1;
    if (slot < 8)
        memcpy(names[slot], name, sizeof name);
}

static void collect_names(const char *prefix, int jobs) {
    hop_pool_options_t options = {.threads = 4, .name = prefix};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_job_t job[8];
    names_seen = 0;
    for (int i = 0; i < jobs; i++) {
        hop_job_init(&job[i], note_name);
        HOP_OK(hop_pool_submit(&pool, &job[i]));
    }
    test_wait_for(&names_seen, (unsigned int)jobs);
    HOP_OK(hop_pool_close(&pool));
}

Test(pool, workers_are_named_after_the_prefix_and_their_index, .timeout = 30) {
    collect_names(NULL, 8);
    for (int i = 0; i < 8; i++) {
        unsigned int index = 99;
        char rest = 0;
        cr_assert_eq(sscanf(names[i], "hop-pool-%u%c", &index, &rest), 1, "thread name \"%s\"", names[i]);
        cr_assert_lt(index, 4, "thread name \"%s\"", names[i]);
    }
    collect_names("0123456789", 1);
    cr_assert_eq(strncmp(names[0], "0123456789-", 11), 0, "a 10-byte prefix is kept whole: \"%s\"", names[0]);
    cr_assert_leq(strlen(names[0]), 15);
    test_assert_checks();
}

Test(pool, a_name_prefix_longer_than_10_bytes_is_refused_not_cut, .timeout = 30) {
    hop_pool_options_t options = {.threads = 1, .name = "0123456789a"};
    HOP_ERR(hop_pool_init(&pool, &options), HOP_EINVAL);
    cr_assert_eq(hop_pool_size(&pool), 0);
    test_assert_checks();
}

Test(pool, a_closed_pool_can_be_initialised_again, .timeout = 30) {
    for (int round = 0; round < 3; round++) {
        start_pool(2, 0);
        flag = 0;
        hop_job_t job;
        hop_job_init(&job, set_flag);
        HOP_OK(hop_pool_submit(&pool, &job));
        test_wait_for(&flag, 1);
        HOP_OK(hop_pool_close(&pool));
        HOP_ERR(hop_pool_submit(&pool, &job), HOP_ECLOSED);
    }
    test_assert_checks();
}

Test(pool, zero_threads_means_one_per_cpu_the_process_may_use, .timeout = 30) {
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    HOP_OK(hop_pool_init(&pool, NULL));
    cr_assert_eq(hop_pool_size(&pool), (unsigned int)CPU_COUNT(&set));
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(hop_pool_size(&pool), 0);
    test_assert_checks();
}

/* ---- RESTING (executors/pool.c): thieves of tiny jobs steal less ---------- */

#define REST_JOBS 64
static hop_pool_t rest_pool;
static hop_job_t rest_jobs[REST_JOBS];
static unsigned int rest_ran;
static uint64_t rest_job_ns;

static void rest_queued_job(hop_job_t *job) {
    (void)job;
    uint64_t until = hop_time_now_ns() + rest_job_ns;
    while (hop_time_now_ns() < until)
        ;
    test_add_uint(&rest_ran, 1);
}

/* Runs on one worker: queues REST_JOBS jobs on that worker (its LIFO slot
 * and deque), then stays busy until the other worker has run them all. */
static void rest_stuck_job(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < REST_JOBS; i++) {
        hop_job_init(&rest_jobs[i], rest_queued_job);
        CHECK_OK(hop_pool_submit(&rest_pool, &rest_jobs[i]));
    }
    test_wait_for(&rest_ran, REST_JOBS);
}

static hop_pool_stats_t rest_run(uint64_t job_ns, int spin_us) {
    rest_ran = 0;
    rest_job_ns = job_ns;
    HOP_OK(hop_pool_init(&rest_pool, &(hop_pool_options_t){.threads = 2, .spin_us = spin_us}));
    hop_job_t stuck;
    hop_job_init(&stuck, rest_stuck_job);
    HOP_OK(hop_pool_submit(&rest_pool, &stuck));
    test_wait_for(&rest_ran, REST_JOBS);
    hop_pool_stats_t stats;
    HOP_OK(hop_pool_stats(&rest_pool, &stats));
    HOP_OK(hop_pool_close(&rest_pool));
    return stats;
}

Test(pool, a_thief_of_tiny_jobs_rests_and_still_takes_every_job_queued_on_a_worker_stuck_in_a_long_one,
     .timeout = 60) {
    hop_pool_stats_t stats = rest_run(0, 0);
    cr_assert_eq(test_load_uint(&rest_ran), REST_JOBS);
    cr_assert_geq(stats.steals, REST_JOBS, "the stuck worker ran none of them");
    cr_assert_gt(stats.steal_rests, 0, "jobs that do nothing were stolen without a rest");
    test_assert_checks();
}

Test(pool, a_thief_of_long_jobs_never_rests, .timeout = 60) {
    hop_pool_stats_t stats = rest_run(200000, 0); /* 200 us each: worth moving */
    cr_assert_eq(test_load_uint(&rest_ran), REST_JOBS);
    cr_assert_eq(stats.steal_rests, 0, "%llu rests after stealing long jobs",
                 (unsigned long long)stats.steal_rests);
    test_assert_checks();
}

Test(pool, a_thief_that_may_not_spin_never_rests, .timeout = 60) {
    hop_pool_stats_t stats = rest_run(0, HOP_SPIN_NEVER);
    cr_assert_eq(test_load_uint(&rest_ran), REST_JOBS);
    cr_assert_eq(stats.steal_rests, 0, "%llu rests in a pool that parks at once",
                 (unsigned long long)stats.steal_rests);
    test_assert_checks();
}

/* ---- Draining (DRAINING in executors/pool.c) ------------------------------------------- */

/* How long a drainer's last tiny jobs keep the pool drained, and how short a
 * job counts as tiny: widened by the tests that need a drain, so that it
 * neither ends while the test thread has lost its CPU nor fails to begin
 * under a sanitizer or on a loaded machine. */
extern uint64_t hop__pool_drain_window_ns, hop__pool_drain_tiny_ns;

static void widen_drains(void) {
    __atomic_store_n(&hop__pool_drain_window_ns, (uint64_t)600 * 1000000000u, __ATOMIC_RELAXED);
    __atomic_store_n(&hop__pool_drain_tiny_ns, (uint64_t)1000000000u, __ATOMIC_RELAXED);
}

static unsigned int drain_tiny_ran, drain_blocker_in, drain_release, drain_late_ran;

static void *drain_tiny(void *arg) {
    add(&drain_tiny_ran, 1);
    return arg;
}

/* A blocking call: its worker stays away until the test releases it. */
static void *drain_blocker(void *arg) {
    store(&drain_blocker_in, 1);
    while (!load(&drain_release))
        test_sleep_ms(1);
    return arg;
}

static void *drain_late(void *arg) {
    store(&drain_late_ran, 1);
    return arg;
}

/* A task on a loop offloading a function n times, one call after the
 * other, as the offload pattern does. */
typedef struct {
    void *(*fn)(void *);
    uintptr_t n;
} drain_offloads_t;

static void *drain_offload_n(void *arg) {
    const drain_offloads_t *o = arg;
    for (uintptr_t i = 0; i < o->n; i++)
        CHECK_OK(hop_run_in_executor(hop_pool_executor(&pool), o->fn, NULL, NULL));
    return NULL;
}

static void *drain_offload(void *arg) {
    CHECK_OK(hop_run_in_executor(hop_pool_executor(&pool), (void *(*)(void *))arg, NULL, NULL));
    return NULL;
}

static hop_task_t *drain_spawn(hop_loop_t *loop, void *(*fn)(void *), void *arg) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(loop), fn, arg, NULL, &t));
    return t;
}

/* 64 tasks on the loop, each offloading fn per_task times, and waits for
 * them: the loop's chains hold many jobs (a worker times the jobs it runs
 * straight on in groups of 8). */
enum { DRAIN_TASKS = 64 };
static void drain_offload_from(hop_loop_t *loop, void *(*fn)(void *), uintptr_t per_task) {
    drain_offloads_t o = {fn, per_task};
    hop_task_t *t[DRAIN_TASKS];
    for (int i = 0; i < DRAIN_TASKS; i++)
        t[i] = drain_spawn(loop, drain_offload_n, &o);
    for (int i = 0; i < DRAIN_TASKS; i++) {
        HOP_OK(hop_future_wait(hop_task_future(t[i]), 60000, NULL));
        hop_task_unref(t[i]);
    }
}

/* n tiny jobs in all from the loop: both workers take part, and each then
 * parks in the drain window, with a deadline. */
static void drain_offload_tiny_from(hop_loop_t *loop, unsigned int n) {
    drain_tiny_ran = 0;
    drain_offload_from(loop, drain_tiny, n / DRAIN_TASKS);
    cr_assert_eq(load(&drain_tiny_ran), n / DRAIN_TASKS * DRAIN_TASKS);
}

/* A loop and a pool of two workers, after a drain: both workers parked. */
static void drain_start(hop_loop_t *loop) {
    HOP_OK(hop_loop_init(loop, NULL));
    HOP_OK(hop_loop_start(loop));
    start_pool(2, 0);
    drain_offload_tiny_from(loop, 4096);
    wait_until_all_parked(2);
}

/* Hold-backs need a CPU count where a second worker cannot have a CPU of
 * its own (workers up + a submitter >= CPUs): two, or one. */
static void use_at_most_two_cpus(void) {
    cpu_set_t set, two;
    CPU_ZERO(&two);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    int kept = 0;
    for (int c = 0; c < CPU_SETSIZE && kept < 2; c++) {
        if (CPU_ISSET(c, &set)) {
            CPU_SET(c, &two);
            kept++;
        }
    }
    cr_assert_eq(sched_setaffinity(0, sizeof two, &two), 0);
}

/* A worker that has run tiny jobs from a loop's suspending tasks in a row
 * counts as keeping up, and the loop's next submission while it is up
 * leaves its job to it instead of waking the parked worker. If that worker
 * then sits in a blocking call, the parked one, which sleeps with a
 * deadline while a drainer is about, must find the job at its next check:
 * the job runs while the call still blocks. Repeated until the wake-up was
 * held back in some rounds, so the path is known to have been taken. */
Test(pool, a_job_left_to_a_drainer_that_then_blocks_runs_on_the_parked_worker, .timeout = 240) {
    enum { TINY = 4096, ROUNDS = 30, HELD_WANTED = 3 };
    use_at_most_two_cpus();
    widen_drains();
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    int held_rounds = 0;
    for (int round = 0; round < ROUNDS && held_rounds < HELD_WANTED; round++) {
        start_pool(2, 0);
        drain_tiny_ran = drain_blocker_in = drain_release = drain_late_ran = 0;
        drain_offload_tiny_from(&loop, TINY);
        wait_until_all_parked(2);
        hop_task_t *blocked = drain_spawn(&loop, drain_offload, (void *)drain_blocker);
        test_wait_for(&drain_blocker_in, 1);
        wait_until_all_parked(1); /* the other worker */
        hop_pool_stats_t before, after;
        HOP_OK(hop_pool_stats(&pool, &before));
        hop_task_t *late = drain_spawn(&loop, drain_offload, (void *)drain_late);
        bool ran = test_wait_for_ms(&drain_late_ran, 1, 30000);
        HOP_OK(hop_pool_stats(&pool, &after));
        bool held = after.wakeups_held > before.wakeups_held;
        held_rounds += held;
        store(&drain_release, 1);
        cr_assert(ran, "round %d: the job waited 30 s behind a blocked worker (wake-up %s)", round,
                  held ? "held back" : "made");
        HOP_OK(hop_future_wait(hop_task_future(blocked), 60000, NULL));
        HOP_OK(hop_future_wait(hop_task_future(late), 60000, NULL));
        hop_task_unref(blocked);
        hop_task_unref(late);
        HOP_OK(hop_pool_close(&pool));
    }
    HOP_OK(hop_loop_close(&loop));
    cr_assert_geq(held_rounds, HELD_WANTED, "the wake-up was held back in %d rounds only", held_rounds);
    test_assert_checks();
}

/* A burst from a loop that one worker cannot keep up with: jobs of 20 us
 * from 64 tasks, so the queue never runs dry. The wake-ups are held back
 * (the jobs count as tiny here), but the parked worker sees at its check
 * that nobody caught up with the queue since its last look, and joins in:
 * both workers run jobs of the burst. */
/* Keeps the calling worker busy for ns, as a job of that length would. */
static void busy_for_ns(long ns) {
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do
        clock_gettime(CLOCK_MONOTONIC, &now);
    while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < ns);
}

static pthread_t drain_first_thread;
static unsigned int drain_first_set, drain_burst_ran, drain_burst_elsewhere;

static void *drain_burst_job(void *arg) {
    pthread_t self = pthread_self();
    unsigned int expected = 0;
    if (__atomic_compare_exchange_n(&drain_first_set, &expected, 1u, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        drain_first_thread = self, store(&drain_first_set, 2);
    while (load(&drain_first_set) != 2)
        ;
    if (!pthread_equal(self, drain_first_thread))
        add(&drain_burst_elsewhere, 1);
    busy_for_ns(20000);
    add(&drain_burst_ran, 1);
    return arg;
}

Test(pool, a_burst_one_worker_cannot_keep_up_with_brings_the_parked_worker_in, .timeout = 120) {
    enum { PER_TASK = 100 };
    use_at_most_two_cpus();
    widen_drains();
    drain_first_set = drain_burst_ran = drain_burst_elsewhere = 0;
    hop_loop_t loop;
    drain_start(&loop);
    hop_pool_stats_t before, after;
    HOP_OK(hop_pool_stats(&pool, &before));
    drain_offload_from(&loop, drain_burst_job, PER_TASK);
    HOP_OK(hop_pool_stats(&pool, &after));
    cr_assert_eq(load(&drain_burst_ran), DRAIN_TASKS * PER_TASK);
    cr_assert_gt(load(&drain_burst_elsewhere), 0, "one worker ran the whole burst (%llu wake-ups held back)",
                 (unsigned long long)(after.wakeups_held - before.wakeups_held));
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* A burst like the one above, but of jobs counted as fast ones (as empty
 * jobs are): the loop and the one worker up keep each other busy, and
 * nobody catches up with the queue because the loop refills it as fast as
 * it is taken. A second worker would only take a CPU from them, so the
 * parked one, seeing nobody catch up at its checks, stays asleep. The
 * pool's check counters say the situation came up and that no check got
 * up for it. The jobs take 500 us, so that the queue (a job per task) holds
 * 32 ms of work and the worker cannot catch up with it while load keeps
 * the loop off its CPU for a time slice or two; a check may still get up
 * because the worker itself took nothing for a whole period, which is not
 * counted, but with both workers up no check follows: so the burst is
 * repeated until a check saw the situation. */
extern uint64_t hop__pool_drain_help_ns, hop__pool_burst_checks, hop__pool_burst_getups;

static void *drain_fast_job(void *arg) {
    busy_for_ns(500000);
    add(&drain_burst_ran, 1);
    return arg;
}

Test(pool, a_loop_and_a_worker_that_keep_each_other_busy_with_fast_jobs_leave_the_parked_worker_asleep,
     .timeout = 240) {
    enum { PER_TASK = 4, ROUNDS = 20 };
    use_at_most_two_cpus();
    widen_drains();
    __atomic_store_n(&hop__pool_drain_help_ns, (uint64_t)1000000000u, __ATOMIC_RELAXED);
    hop_loop_t loop;
    drain_start(&loop);
    uint64_t checks = 0, getups = 0;
    for (int round = 0; round < ROUNDS && checks == 0; round++) {
        drain_burst_ran = 0;
        wait_until_all_parked(2);
        uint64_t checks0 = load64(&hop__pool_burst_checks), getups0 = load64(&hop__pool_burst_getups);
        drain_offload_from(&loop, drain_fast_job, PER_TASK);
        checks += load64(&hop__pool_burst_checks) - checks0;
        getups += load64(&hop__pool_burst_getups) - getups0;
        cr_assert_eq(load(&drain_burst_ran), DRAIN_TASKS * PER_TASK);
    }
    cr_assert_gt(checks, 0, "in %d bursts, no check found the queue drained with nobody catching up", ROUNDS);
    cr_assert_eq(getups, 0, "%llu of %llu checks got up for a drainer of fast jobs",
                 (unsigned long long)getups, (unsigned long long)checks);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* The period of a sleeper's checks in a drain: it doubles while the jobs
 * taken per unit of time hold at half the previous period's or more, up to
 * 8 ms, and is 1 ms again as soon as they fall below that, or when there is
 * no previous period to compare with. */
int64_t hop__pool_next_check_ns(int64_t check_ns, uint64_t jobs, int64_t elapsed, uint64_t paced_jobs,
                                int64_t paced_ns);

Test(pool, a_drain_sleepers_checks_space_out_while_the_pace_holds_and_come_back_when_it_halves) {
    const int64_t ms = 1000000;
    cr_assert_eq(hop__pool_next_check_ns(1 * ms, 1000, 1 * ms, 0, 0), 1 * ms, "no pace known yet");
    cr_assert_eq(hop__pool_next_check_ns(1 * ms, 1000, 1 * ms, 1000, 1 * ms), 2 * ms, "the same pace");
    cr_assert_eq(hop__pool_next_check_ns(2 * ms, 1000, 2 * ms, 1000, 1 * ms), 4 * ms, "half the pace");
    cr_assert_eq(hop__pool_next_check_ns(4 * ms, 999, 4 * ms, 1000, 2 * ms), 1 * ms, "below half the pace");
    cr_assert_eq(hop__pool_next_check_ns(4 * ms, 8000, 4 * ms, 1000, 2 * ms), 8 * ms, "a faster pace");
    cr_assert_eq(hop__pool_next_check_ns(8 * ms, 8000, 8 * ms, 8000, 8 * ms), 8 * ms, "at most 8 ms");
    cr_assert_eq(hop__pool_next_check_ns(8 * ms, 0, 8 * ms, 8000, 8 * ms), 1 * ms, "the drainer stopped");
    cr_assert_eq(hop__pool_next_check_ns(8 * ms, 8000, 0, 8000, 8 * ms), 1 * ms, "no time passed");
}

/* Plain submissions from a thread are not a loop's suspending tasks: their
 * submitter may stop and leave a CPU idle, so a worker up never keeps a
 * parked one from being woken for them. */
Test(pool, plain_outside_submissions_never_hold_a_wake_up_back, .timeout = 120) {
    enum { JOBS = 20000 };
    use_at_most_two_cpus();
    widen_drains();
    hop_loop_t loop;
    drain_start(&loop);
    hop_pool_stats_t before, after;
    HOP_OK(hop_pool_stats(&pool, &before));
    counted_job_t *jobs = calloc(JOBS, sizeof *jobs);
    cr_assert(jobs);
    jobs_done = 0;
    for (int i = 0; i < JOBS; i++) {
        hop_job_init(&jobs[i].job, counted_run);
        HOP_OK(hop_pool_submit(&pool, &jobs[i].job));
    }
    test_wait_for(&jobs_done, JOBS);
    HOP_OK(hop_pool_stats(&pool, &after));
    cr_assert_eq(after.wakeups_held, before.wakeups_held, "%llu wake-ups held back for plain submissions",
                 (unsigned long long)(after.wakeups_held - before.wakeups_held));
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    free(jobs);
    test_assert_checks();
}

/* A pool whose drainer stopped (every worker parked, nothing queued) ends
 * the timed sleeps within a window and a check: no worker keeps waking up
 * to look. */
Test(pool, workers_parked_after_a_drain_stop_checking_once_the_drain_window_ends, .timeout = 120) {
    use_at_most_two_cpus();
    /* Every job tiny, so that the drain begins under a sanitizer too; the
     * window keeps its length. */
    __atomic_store_n(&hop__pool_drain_tiny_ns, (uint64_t)1000000000u, __ATOMIC_RELAXED);
    hop_loop_t loop;
    drain_start(&loop);
    test_sleep_ms(100); /* the window (1 ms) and a check period (1 ms), many times over */
    struct rusage start, end;
    getrusage(RUSAGE_SELF, &start);
    test_sleep_ms(300);
    getrusage(RUSAGE_SELF, &end);
    long voluntary = end.ru_nvcsw - start.ru_nvcsw;
    /* The test thread's one sleep, the idle loop's few wake-ups, and
     * whatever else the process does; a worker still checking every
     * millisecond would add about 300. */
    cr_assert_lt(voluntary, 100, "%ld voluntary context switches in 300 ms of idleness", voluntary);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}
