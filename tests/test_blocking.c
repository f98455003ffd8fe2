/* tests/test_blocking.c: the blocking pool (hop/blocking.h), its default
 * instance and hop_run_blocking. Tests synchronise on the pool's stats and
 * on gates the jobs wait at, never on sleeps; deadlines are generous. */
#include <dirent.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* executors/blocking.c's test hook: the next n thread creations of any
 * blocking pool fail with EAGAIN, as if the system refused them. The
 * kernel's own refusal (RLIMIT_NPROC) is tested too, in a child process
 * that gives up root first (root is exempt from RLIMIT_NPROC). */
void hop__blocking_fail_thread_creates(unsigned int n);

TestSuite(blocking, .timeout = 120);

/* ---- Helpers ------------------------------------------------------------------ */

/* A job record: the job, then what the test wants to know about its run. */
typedef struct {
    hop_job_t job;
    unsigned int ran;       /* times run (atomic) */
    unsigned int order;     /* run order, from 1 (atomic) */
    pthread_t thread;       /* where it ran */
    unsigned int submitter; /* FIFO test: who submitted it, and its number there */
    unsigned int number;
    unsigned int before;   /* FIFO test: submits returned before this one began */
    unsigned int returned; /* FIFO test: this one's rank among returned submits */
} test_job_t;

static unsigned int run_counter;
static unsigned int gate_open; /* jobs with a gate wait here until it opens */

static void wait_gate(void) {
    while (!test_load_uint(&gate_open))
        test_sleep_ms(1);
}

static void record_run(test_job_t *j) {
    j->thread = pthread_self();
    __atomic_store_n(&j->order, __atomic_add_fetch(&run_counter, 1, __ATOMIC_ACQ_REL), __ATOMIC_RELEASE);
    test_add_uint(&j->ran, 1);
}

static void plain_job(hop_job_t *job) { record_run((test_job_t *)job); }

static void gated_job(hop_job_t *job) {
    wait_gate();
    record_run((test_job_t *)job);
}

static void sleeping_gated_job(hop_job_t *job) {
    wait_gate();
    test_sleep_ms(1);
    record_run((test_job_t *)job);
}

static hop_blocking_stats_t stats_of(hop_blocking_t *b) {
    hop_blocking_stats_t s;
    HOP_OK(hop_blocking_stats(b, &s));
    return s;
}

/* Polls until cond(stats) holds, for up to 60 s; returns whether it did. */
#define WAIT_STATS(b, s, cond)                                                                               \
    ({                                                                                                       \
        bool held_ = false;                                                                                  \
        for (int i_ = 0; i_ < 60000 && !held_; i_++) {                                                       \
            s = stats_of(b);                                                                                 \
            held_ = (cond);                                                                                  \
            if (!held_)                                                                                      \
                test_sleep_ms(1);                                                                            \
        }                                                                                                    \
        held_;                                                                                               \
    })

/* How many of this process's threads whose name starts with prefix are
 * asleep (state S in /proc): an idle pool thread sleeps only on its pool's
 * word, so this tells a thread that went to sleep from one about to. */
static unsigned int threads_asleep(const char *prefix) {
    unsigned int n = 0;
    DIR *dir = opendir("/proc/self/task");
    cr_assert_not_null(dir);
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], comm[32] = "", stat[256] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* the thread has gone */
        bool named = fgets(comm, sizeof comm, f) && strncmp(comm, prefix, strlen(prefix)) == 0;
        fclose(f);
        snprintf(path, sizeof path, "/proc/self/task/%s/stat", e->d_name);
        if (!named || !(f = fopen(path, "r")))
            continue;
        /* "tid (comm) S ...": the state follows the last ')'. */
        char *close_paren = fgets(stat, sizeof stat, f) ? strrchr(stat, ')') : NULL;
        fclose(f);
        if (close_paren && close_paren[1] == ' ' && close_paren[2] == 'S')
            n++;
    }
    closedir(dir);
    return n;
}

/* ---- Options and errors ---------------------------------------------------------- */

Test(blocking, a_zeroed_options_struct_means_the_defaults_and_starts_no_thread) {
    hop_blocking_t b;
    hop_blocking_options_t options = {0};
    HOP_OK(hop_blocking_init(&b, &options));
    hop_blocking_stats_t s = stats_of(&b);
    cr_assert_eq(s.threads, 0, "min_threads 0: no thread until there is work");
    test_job_t j = {0};
    hop_job_init(&j.job, plain_job);
    HOP_OK(hop_blocking_submit(&b, &j.job));
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 1));
    cr_assert_eq(s.threads, 1);
    cr_assert_eq(s.threads_started, 1);
    cr_assert(!pthread_equal(j.thread, pthread_self()));
    HOP_OK(hop_blocking_close(&b));
    cr_assert_eq(test_load_uint(&j.ran), 1);
    test_assert_checks();
}

Test(blocking, bad_arguments_get_einval_and_nothing_starts) {
    hop_blocking_t b;
    HOP_ERR(hop_blocking_init(NULL, NULL), HOP_EINVAL);
    hop_blocking_options_t too_many = {.max_threads = HOP_BLOCKING_MAX_THREADS_LIMIT + 1};
    HOP_ERR(hop_blocking_init(&b, &too_many), HOP_EINVAL);
    hop_blocking_options_t min_above_max = {.max_threads = 2, .min_threads = 3};
    HOP_ERR(hop_blocking_init(&b, &min_above_max), HOP_EINVAL);
    hop_blocking_options_t min_above_default = {.min_threads = HOP_BLOCKING_MAX_THREADS_DEFAULT + 1};
    HOP_ERR(hop_blocking_init(&b, &min_above_default), HOP_EINVAL);
    hop_blocking_options_t tiny_stack = {.stack_size = 1};
    HOP_ERR(hop_blocking_init(&b, &tiny_stack), HOP_EINVAL);
    HOP_OK(hop_blocking_init(&b, NULL));
    hop_job_t job;
    hop_job_init(&job, plain_job);
    job.run = NULL;
    HOP_ERR(hop_blocking_submit(&b, &job), HOP_EINVAL);
    HOP_ERR(hop_blocking_submit(&b, NULL), HOP_EINVAL);
    HOP_ERR(hop_blocking_submit(NULL, &job), HOP_EINVAL);
    HOP_ERR(hop_blocking_withdraw(&b, NULL), HOP_EINVAL);
    HOP_ERR(hop_blocking_stats(&b, NULL), HOP_EINVAL);
    HOP_ERR(hop_blocking_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_executor_withdraw(NULL, &job), HOP_EINVAL);
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

/* ---- FIFO ------------------------------------------------------------------------ */

#define FIFO_SUBMITTERS 4
#define FIFO_JOBS 1000
static test_job_t fifo_jobs[FIFO_SUBMITTERS][FIFO_JOBS];
static unsigned int fifo_returned;
static unsigned int fifo_start;

typedef struct {
    hop_blocking_t *pool;
    unsigned int index;
} fifo_submitter_t;

static void *fifo_submit(void *arg) {
    fifo_submitter_t *s = arg;
    while (!test_load_uint(&fifo_start))
        ;
    for (unsigned int i = 0; i < FIFO_JOBS; i++) {
        test_job_t *j = &fifo_jobs[s->index][i];
        hop_job_init(&j->job, i == 0 && s->index == 0 ? gated_job : plain_job);
        j->submitter = s->index;
        j->number = i;
        j->before = __atomic_load_n(&fifo_returned, __ATOMIC_ACQUIRE);
        if (hop_blocking_submit(s->pool, &j->job) != 0)
            abort();
        j->returned = __atomic_add_fetch(&fifo_returned, 1, __ATOMIC_ACQ_REL);
    }
    return NULL;
}

Test(blocking, jobs_start_in_submission_order_under_concurrent_submitters) {
    /* One thread, so the order jobs start in is the order they leave the
     * queue; the first job holds it for a while, so the queue fills up. */
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 1};
    HOP_OK(hop_blocking_init(&b, &options));
    pthread_t threads[FIFO_SUBMITTERS];
    fifo_submitter_t submitters[FIFO_SUBMITTERS];
    for (unsigned int i = 0; i < FIFO_SUBMITTERS; i++) {
        submitters[i] = (fifo_submitter_t){&b, i};
        pthread_create(&threads[i], NULL, fifo_submit, &submitters[i]);
    }
    test_store_uint(&fifo_start, 1);
    for (unsigned int i = 0; i < FIFO_SUBMITTERS; i++)
        pthread_join(threads[i], NULL);
    test_store_uint(&gate_open, 1);
    HOP_OK(hop_blocking_close(&b)); /* runs everything queued */
    /* Order by run: order[r] is the job that ran r-th. */
    static test_job_t *by_run[FIFO_SUBMITTERS * FIFO_JOBS + 1];
    for (unsigned int s = 0; s < FIFO_SUBMITTERS; s++)
        for (unsigned int i = 0; i < FIFO_JOBS; i++) {
            test_job_t *j = &fifo_jobs[s][i];
            cr_assert_eq(j->ran, 1);
            by_run[j->order] = j;
            if (i > 0)
                cr_assert_lt(fifo_jobs[s][i - 1].order, j->order, "submitter %u: job %u ran before job %u", s,
                             i, i - 1);
        }
    /* Across submitters: if A's submit returned before B's began (A.returned
     * <= B.before), A ran first. So for the job that ran r-th, every job that
     * ran later returned from its submit only after this one's began. */
    unsigned int total = FIFO_SUBMITTERS * FIFO_JOBS;
    static unsigned int min_returned_after[FIFO_SUBMITTERS * FIFO_JOBS + 2];
    min_returned_after[total + 1] = UINT32_MAX;
    for (unsigned int r = total; r >= 1; r--)
        min_returned_after[r] =
            by_run[r]->returned < min_returned_after[r + 1] ? by_run[r]->returned : min_returned_after[r + 1];
    for (unsigned int r = 1; r < total; r++)
        cr_assert_lt(by_run[r]->before, min_returned_after[r + 1],
                     "job %u/%u ran before a job whose submit had returned before its own began",
                     by_run[r]->submitter, by_run[r]->number);
    test_assert_checks();
}

/* ---- Growth and shrinking ------------------------------------------------------ */

#define GROWTH_JOBS 1000
static test_job_t growth_jobs[GROWTH_JOBS];

Test(blocking,
     grows_to_the_maximum_under_a_thousand_sleeping_jobs_and_shrinks_to_the_minimum_after_the_keep_alive) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 64, .min_threads = 2, .keep_alive_ms = 50};
    HOP_OK(hop_blocking_init(&b, &options));
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.threads == 2 && s.threads_idle == 2), "min_threads start at init");
    for (int i = 0; i < GROWTH_JOBS; i++) {
        hop_job_init(&growth_jobs[i].job, sleeping_gated_job);
        HOP_OK(hop_blocking_submit(&b, &growth_jobs[i].job));
    }
    /* Every job waits at the gate: the pool grows to its maximum, no further. */
    cr_assert(WAIT_STATS(&b, s, s.threads == 64 && s.queued == GROWTH_JOBS - 64), "threads %u, queued %u",
              s.threads, s.queued);
    cr_assert_eq(s.threads_idle, 0);
    test_store_uint(&gate_open, 1);
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == GROWTH_JOBS), "jobs run %llu", (unsigned long long)s.jobs_run);
    cr_assert_eq(s.threads_peak, 64);
    /* Idle for 50 ms, every thread above the minimum retires. */
    cr_assert(WAIT_STATS(&b, s, s.threads == 2), "threads %u", s.threads);
    cr_assert_eq(s.threads_retired, s.threads_started - 2);
    cr_assert_eq(s.threads_started, 64);
    cr_assert_eq(s.queued, 0);
    uint64_t histogram_total = 0;
    for (int i = 0; i < HOP_BLOCKING_WAIT_BUCKETS; i++)
        histogram_total += s.queue_wait_histogram[i];
    cr_assert_eq(histogram_total, GROWTH_JOBS);
    cr_assert_geq(s.queue_wait_ns_sum, s.queue_wait_ns_max);
    HOP_OK(hop_blocking_close(&b));
    for (int i = 0; i < GROWTH_JOBS; i++)
        cr_assert_eq(growth_jobs[i].ran, 1);
    test_assert_checks();
}

/* The first thread the pool starts waits in its start hook until released,
 * so that the test can queue work while a creation is under way. */
static unsigned int hook_calls, hook_entered, hook_release;

static void hold_first_thread(hop_executor_t *executor, void *arg) {
    (void)executor;
    (void)arg;
    if (__atomic_fetch_add(&hook_calls, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    test_store_uint(&hook_entered, 1);
    while (!test_load_uint(&hook_release))
        test_sleep_ms(1);
}

#define FAN_JOBS 100
static test_job_t fan_jobs[FAN_JOBS];

Test(blocking, while_a_thread_is_being_created_submits_create_none_and_the_new_threads_create_the_rest) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 8, .on_thread_start = hold_first_thread};
    HOP_OK(hop_blocking_init(&b, &options));
    hop_job_init(&fan_jobs[0].job, gated_job);
    HOP_OK(hop_blocking_submit(&b, &fan_jobs[0].job)); /* creates the first thread */
    while (!test_load_uint(&hook_entered))
        test_sleep_ms(1);
    for (int i = 1; i < FAN_JOBS; i++) {
        hop_job_init(&fan_jobs[i].job, gated_job);
        HOP_OK(hop_blocking_submit(&b, &fan_jobs[i].job));
    }
    hop_blocking_stats_t s = stats_of(&b);
    cr_assert_eq(s.threads_started, 1, "the submits left the growth to the thread being created");
    cr_assert_eq(s.threads_peak, 1);
    cr_assert_eq(s.queued, FAN_JOBS);
    test_store_uint(&hook_release, 1);
    /* Every job waits at the gate: the started threads create the others. */
    cr_assert(WAIT_STATS(&b, s, s.threads == 8 && s.queued == FAN_JOBS - 8), "threads %u, queued %u", s.threads,
              s.queued);
    cr_assert_eq(s.threads_started, 8);
    cr_assert_eq(s.threads_peak, 8);
    test_store_uint(&gate_open, 1);
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == FAN_JOBS));
    HOP_OK(hop_blocking_close(&b));
    for (int i = 0; i < FAN_JOBS; i++)
        cr_assert_eq(fan_jobs[i].ran, 1);
    test_assert_checks();
}

Test(blocking, when_the_threads_a_new_thread_creates_are_refused_it_serves_the_queue_alone_in_order) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 8, .on_thread_start = hold_first_thread};
    HOP_OK(hop_blocking_init(&b, &options));
    for (int i = 0; i < FAN_JOBS; i++) {
        hop_job_init(&fan_jobs[i].job, plain_job);
        HOP_OK(hop_blocking_submit(&b, &fan_jobs[i].job));
        if (i == 0) {
            while (!test_load_uint(&hook_entered))
                test_sleep_ms(1);
        }
    }
    hop__blocking_fail_thread_creates(2); /* both threads the first one tries */
    test_store_uint(&hook_release, 1);
    hop_blocking_stats_t s = {0};
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == FAN_JOBS));
    cr_assert_eq(s.thread_failures, 2);
    cr_assert_eq(s.threads_started, 1);
    HOP_OK(hop_blocking_close(&b));
    for (int i = 0; i < FAN_JOBS; i++) {
        cr_assert_eq(fan_jobs[i].ran, 1);
        cr_assert(pthread_equal(fan_jobs[i].thread, fan_jobs[0].thread), "all on the one thread");
        if (i > 0)
            cr_assert_lt(fan_jobs[i - 1].order, fan_jobs[i].order);
    }
    test_assert_checks();
}

/* Bursts from several threads while idle threads retire after 1 ms: growth,
 * claims and retirement race; every job runs exactly once, the pool never
 * passes its maximum, and it shrinks back to its minimum. */
#define RACE_SUBMITTERS 4
#define RACE_ROUNDS 100
#define RACE_BURST 32
#define RACE_MAX 16
static test_job_t race_jobs[RACE_SUBMITTERS][RACE_BURST];
static unsigned int race_ran[RACE_SUBMITTERS][RACE_ROUNDS * RACE_BURST];

typedef struct {
    hop_blocking_t *pool;
    unsigned int index;
    unsigned int seed;
    unsigned int submitted;
} race_submitter_t;

static void race_job(hop_job_t *job) {
    test_job_t *j = (test_job_t *)job;
    if (j->number % 7 == 0)
        sched_yield(); /* some jobs take a little longer, so that threads pile up */
    test_add_uint(&race_ran[j->submitter][j->number], 1);
    test_add_uint(&j->ran, 1);
}

static void *race_submit(void *arg) {
    race_submitter_t *r = arg;
    for (unsigned int round = 0; round < RACE_ROUNDS; round++) {
        unsigned int n = 1 + (unsigned int)rand_r(&r->seed) % RACE_BURST;
        for (unsigned int i = 0; i < n; i++) {
            test_job_t *j = &race_jobs[r->index][i];
            memset(j, 0, sizeof *j);
            hop_job_init(&j->job, race_job);
            j->submitter = r->index;
            j->number = r->submitted++;
            if (hop_blocking_submit(r->pool, &j->job) != 0)
                abort();
        }
        /* The records are reused next round: wait for this burst. */
        for (unsigned int i = 0; i < n; i++)
            while (!test_load_uint(&race_jobs[r->index][i].ran))
                sched_yield();
        if (rand_r(&r->seed) % 8 == 0) {
            struct timespec pause = {0, (long)(rand_r(&r->seed) % 3000) * 1000L}; /* let threads retire */
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

Test(blocking, bursts_from_several_threads_racing_with_retirement_run_every_job_once_within_the_maximum) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = RACE_MAX, .min_threads = 1, .keep_alive_ms = 1};
    HOP_OK(hop_blocking_init(&b, &options));
    unsigned int seed = (unsigned int)time(NULL);
    cr_log_info("seed %u", seed);
    pthread_t threads[RACE_SUBMITTERS];
    race_submitter_t submitters[RACE_SUBMITTERS];
    for (unsigned int i = 0; i < RACE_SUBMITTERS; i++) {
        submitters[i] = (race_submitter_t){.pool = &b, .index = i, .seed = seed + i};
        cr_assert_eq(pthread_create(&threads[i], NULL, race_submit, &submitters[i]), 0);
    }
    uint64_t total = 0;
    for (unsigned int i = 0; i < RACE_SUBMITTERS; i++) {
        cr_assert_eq(pthread_join(threads[i], NULL), 0);
        total += submitters[i].submitted;
    }
    hop_blocking_stats_t s = {0};
    /* threads counts no thread still starting: those are started - retired. */
    cr_assert(WAIT_STATS(&b, s,
                         s.jobs_run == total && s.threads == 1 && s.threads_idle == 1 &&
                             s.threads_started - s.threads_retired == 1),
              "jobs run %llu of %llu, threads %u", (unsigned long long)s.jobs_run, (unsigned long long)total,
              s.threads);
    cr_assert_leq(s.threads_peak, RACE_MAX);
    cr_assert_eq(s.queued, 0);
    HOP_OK(hop_blocking_close(&b));
    for (unsigned int i = 0; i < RACE_SUBMITTERS; i++)
        for (unsigned int n = 0; n < submitters[i].submitted; n++)
            cr_assert_eq(race_ran[i][n], 1, "job %u of submitter %u ran %u times", n, i, race_ran[i][n]);
    cr_log_info("%llu jobs, %llu threads started, peak %u", (unsigned long long)total,
                (unsigned long long)s.threads_started, s.threads_peak);
    test_assert_checks();
}

Test(blocking, a_job_submitted_while_a_thread_is_idle_takes_that_thread_instead_of_a_new_one) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 8};
    HOP_OK(hop_blocking_init(&b, &options));
    hop_blocking_stats_t s;
    for (int i = 0; i < 100; i++) {
        test_job_t j = {0};
        hop_job_init(&j.job, plain_job);
        HOP_OK(hop_blocking_submit(&b, &j.job));
        cr_assert(WAIT_STATS(&b, s, s.jobs_run == (uint64_t)i + 1 && s.threads_idle == s.threads));
    }
    cr_assert_eq(s.threads_started, 1, "one job at a time needs one thread");
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

/* Two threads go idle one after the other; the next job must wake the one
 * idle the longest (when the CPUs are busy the kernel runs it sooner). The
 * claim goes to whichever idle thread looks first, so the test waits until
 * both are asleep: a thread still on its way to sleep may take it. */
typedef struct {
    hop_job_t job;
    unsigned int open; /* atomic: the job may finish */
    unsigned int ran;  /* atomic */
    pthread_t thread;
} gated_own_job_t;

static void gated_own_run(hop_job_t *job) {
    gated_own_job_t *j = (gated_own_job_t *)job;
    j->thread = pthread_self();
    while (!test_load_uint(&j->open))
        test_sleep_ms(1);
    test_add_uint(&j->ran, 1);
}

Test(blocking, a_job_wakes_the_thread_idle_the_longest) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 2, .name = "idlelong"};
    HOP_OK(hop_blocking_init(&b, &options));
    gated_own_job_t first = {0}, second = {0}, third = {0};
    hop_job_init(&first.job, gated_own_run);
    hop_job_init(&second.job, gated_own_run);
    hop_job_init(&third.job, gated_own_run);
    HOP_OK(hop_blocking_submit(&b, &first.job));
    HOP_OK(hop_blocking_submit(&b, &second.job));
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.threads == 2 && s.threads_idle == 0 && s.queued == 0));
    test_store_uint(&first.open, 1);
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 1 && s.threads_idle == 1));
    test_store_uint(&second.open, 1);
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 2 && s.threads_idle == 2));
    cr_assert(!pthread_equal(first.thread, second.thread));
    for (int i = 0; i < 60000 && threads_asleep("idlelong") < 2; i++)
        test_sleep_ms(1);
    cr_assert_eq(threads_asleep("idlelong"), 2);
    test_store_uint(&third.open, 1);
    HOP_OK(hop_blocking_submit(&b, &third.job));
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 3));
    cr_assert(pthread_equal(third.thread, first.thread), "the job went to the thread idle the shortest");
    cr_assert_eq(s.threads_started, 2);
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

/* The wake-up of an idle thread, under stress: submitters that each submit
 * a job and wait for it before the next, so that nearly every submit finds
 * the threads asleep or about to sleep. Every job must run exactly once. */
#define WAKE_SUBMITTERS 3
#define WAKE_ROUNDS 20000

typedef struct {
    hop_blocking_t *pool;
    unsigned int seed;
    unsigned int ran[WAKE_ROUNDS];
} wake_submitter_t;

typedef struct {
    hop_job_t job;
    unsigned int *ran;
} wake_job_t;

static void wake_job_run(hop_job_t *job) { test_add_uint(((wake_job_t *)job)->ran, 1); }

static void *wake_submit(void *arg) {
    wake_submitter_t *w = arg;
    for (unsigned int n = 0; n < WAKE_ROUNDS; n++) {
        wake_job_t j = {.ran = &w->ran[n]};
        hop_job_init(&j.job, wake_job_run);
        if (hop_blocking_submit(w->pool, &j.job) != 0)
            return (void *)1;
        while (!test_load_uint(&w->ran[n]))
            sched_yield();
        /* Now and then a pause about as long as the keep-alive, so that
         * submits meet threads that are timing out and retiring. */
        if (rand_r(&w->seed) % 128 == 0) {
            struct timespec pause = {0, (long)(rand_r(&w->seed) % 1500) * 1000L};
            nanosleep(&pause, NULL);
        }
    }
    return NULL;
}

static void wake_stress(const hop_blocking_options_t *options) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, options));
    unsigned int seed = (unsigned int)time(NULL);
    cr_log_info("seed %u", seed);
    static wake_submitter_t submitters[WAKE_SUBMITTERS];
    pthread_t threads[WAKE_SUBMITTERS];
    for (unsigned int i = 0; i < WAKE_SUBMITTERS; i++) {
        memset(&submitters[i], 0, sizeof submitters[i]);
        submitters[i].pool = &b;
        submitters[i].seed = seed + i;
        cr_assert_eq(pthread_create(&threads[i], NULL, wake_submit, &submitters[i]), 0);
    }
    for (unsigned int i = 0; i < WAKE_SUBMITTERS; i++) {
        void *result;
        cr_assert_eq(pthread_join(threads[i], &result), 0);
        cr_assert_null(result, "a submit failed");
    }
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == (uint64_t)WAKE_SUBMITTERS * WAKE_ROUNDS));
    HOP_OK(hop_blocking_close(&b));
    for (unsigned int i = 0; i < WAKE_SUBMITTERS; i++)
        for (unsigned int n = 0; n < WAKE_ROUNDS; n++)
            cr_assert_eq(submitters[i].ran[n], 1, "job %u of submitter %u ran %u times", n, i,
                         submitters[i].ran[n]);
    cr_log_info("%llu threads started, %llu retired, peak %u", (unsigned long long)s.threads_started,
                (unsigned long long)s.threads_retired, s.threads_peak);
    cr_assert_leq(s.threads_peak, options->max_threads);
    test_assert_checks();
}

/* Threads kept by min_threads sleep without a timeout: a lost wake-up
 * leaves a job queued for ever, and the test hangs until the suite's
 * timeout fails it. */
Test(blocking, submit_and_wait_loops_never_lose_the_wake_up_of_a_thread_that_sleeps_without_timeout) {
    wake_stress(&(hop_blocking_options_t){.max_threads = 2, .min_threads = 2});
}

/* With a keep-alive of 1 ms, threads time out, retire and are created
 * again all along, racing with the submits that claim them. */
Test(blocking, submit_and_wait_loops_run_every_job_once_while_threads_retire_and_come_back) {
    wake_stress(&(hop_blocking_options_t){.max_threads = 2, .keep_alive_ms = 1});
}

/* Bursts of jobs that each wait until every job of their burst runs: a
 * burst of k needs k threads at once. The submitter wakes or creates one
 * thread per burst at most, and the woken and new threads wake or create
 * the rest (Growth, in executors/blocking.c): a job left to wait for a busy
 * thread while an idle one sleeps, or while the pool is below its maximum,
 * never runs, and its burst fails at the deadline. */
#define BURST_MAX 8
#if defined(__SANITIZE_THREAD__)
#define BURST_ROUNDS 150
#else
#define BURST_ROUNDS 1500
#endif

typedef struct {
    hop_job_t job;
    unsigned int *arrived; /* atomic: jobs of this burst that are running */
    unsigned int size;
    unsigned int ran; /* atomic */
    unsigned int met; /* the whole burst ran at once */
} burst_job_t;

/* Each job sleeps this long first (the test of long jobs below): jobs
 * longer than a wake-up, for which a thread that takes a claim wakes an
 * idle thread for every queued job at once instead of two. */
static unsigned int burst_sleep_us;

static void burst_job_run(hop_job_t *job) {
    burst_job_t *j = (burst_job_t *)job;
    if (burst_sleep_us) {
        struct timespec pause = {0, (long)burst_sleep_us * 1000L};
        nanosleep(&pause, NULL);
    }
    test_add_uint(j->arrived, 1);
    j->met = test_wait_for_ms(j->arrived, j->size, 30000);
    test_add_uint(&j->ran, 1);
}

static void burst_stress(const hop_blocking_options_t *options) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, options));
    unsigned int seed = (unsigned int)time(NULL);
    cr_log_info("seed %u", seed);
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.threads_idle == options->min_threads));
    uint64_t jobs = 0;
    for (unsigned int round = 0; round < BURST_ROUNDS; round++) {
        static burst_job_t burst[BURST_MAX];
        unsigned int arrived = 0, size = 1 + (unsigned int)rand_r(&seed) % BURST_MAX;
        for (unsigned int i = 0; i < size; i++) {
            burst[i] = (burst_job_t){.arrived = &arrived, .size = size};
            hop_job_init(&burst[i].job, burst_job_run);
        }
        for (unsigned int i = 0; i < size; i++)
            HOP_OK(hop_blocking_submit(&b, &burst[i].job));
        jobs += size;
        cr_assert(WAIT_STATS(&b, s, s.jobs_run == jobs));
        for (unsigned int i = 0; i < size; i++) {
            cr_assert_eq(burst[i].ran, 1);
            cr_assert(burst[i].met, "round %u: %u of a burst of %u ran at once", round, arrived, size);
        }
        /* Now and then a pause about as long as the keep-alive, so that
         * bursts meet threads that are timing out and retiring. */
        if (rand_r(&seed) % 8 == 0) {
            struct timespec pause = {0, (long)(rand_r(&seed) % 1500) * 1000L};
            nanosleep(&pause, NULL);
        }
    }
    cr_assert_leq(s.threads_peak, BURST_MAX);
    cr_log_info("%llu threads started, %llu retired", (unsigned long long)s.threads_started,
                (unsigned long long)s.threads_retired);
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

Test(blocking, every_job_of_a_burst_gets_an_idle_thread_though_the_submitter_wakes_one) {
    burst_stress(&(hop_blocking_options_t){.max_threads = BURST_MAX, .min_threads = BURST_MAX});
}

Test(blocking, every_job_of_a_burst_gets_a_thread_while_threads_retire_and_are_created) {
    burst_stress(&(hop_blocking_options_t){.max_threads = BURST_MAX, .keep_alive_ms = 1});
}

Test(blocking, every_job_of_a_burst_of_long_jobs_gets_an_idle_thread_woken_with_the_others) {
    burst_sleep_us = 200;
    burst_stress(&(hop_blocking_options_t){.max_threads = BURST_MAX, .min_threads = BURST_MAX});
}

/* ---- Withdrawing --------------------------------------------------------------- */

Test(blocking, a_withdrawn_job_leaves_the_queue_at_once_and_never_runs) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 1};
    HOP_OK(hop_blocking_init(&b, &options));
    test_job_t blocker = {0}, jobs[3];
    memset(jobs, 0, sizeof jobs);
    hop_job_init(&blocker.job, gated_job);
    HOP_OK(hop_blocking_submit(&b, &blocker.job));
    for (int i = 0; i < 3; i++) {
        hop_job_init(&jobs[i].job, plain_job);
        HOP_OK(hop_blocking_submit(&b, &jobs[i].job));
    }
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.queued == 3));
    HOP_OK(hop_executor_withdraw(hop_blocking_executor(&b), &jobs[1].job));
    HOP_ERR(hop_blocking_withdraw(&b, &jobs[1].job), HOP_EALREADY);
    HOP_ERR(hop_blocking_withdraw(&b, &blocker.job), HOP_EALREADY); /* running */
    s = stats_of(&b);
    cr_assert_eq(s.queued, 2);
    cr_assert_eq(s.jobs_withdrawn, 1);
    test_store_uint(&gate_open, 1);
    HOP_OK(hop_blocking_close(&b));
    cr_assert_eq(jobs[0].ran, 1);
    cr_assert_eq(jobs[1].ran, 0);
    cr_assert_eq(jobs[2].ran, 1);
    cr_assert_lt(jobs[0].order, jobs[2].order);
    HOP_ERR(hop_blocking_withdraw(&b, &jobs[0].job), HOP_EALREADY); /* closed: nothing queued */
    test_assert_checks();
}

/* Offloads cancelled at random moments: each argument is a record that
 * says whether fn ran, and counts how often it was freed. The contract of
 * hop_run_in_executor_ex says who frees it: the task after 0, HOP_ECANCELED
 * (fn never ran), the destructor after HOP_EINPROGRESS (fn got it). */
#define CANCEL_TASKS 400
typedef struct {
    unsigned int ran;   /* fn calls (atomic) */
    unsigned int freed; /* frees (atomic) */
    int status;         /* what the task's offload returned */
} cancel_arg_t;
static cancel_arg_t cancel_args[CANCEL_TASKS];

static void *cancel_fn(void *arg) {
    cancel_arg_t *a = arg;
    test_add_uint(&a->ran, 1);
    struct timespec pause = {0, (long)((a - cancel_args) % 5) * 200000L};
    nanosleep(&pause, NULL);
    return a;
}
static void cancel_free(void *result) { test_add_uint(&((cancel_arg_t *)result)->freed, 1); }

static hop_blocking_t *cancel_pool;

static void *cancel_task(void *arg) {
    cancel_arg_t *a = arg;
    void *result = NULL;
    int status =
        hop_run_in_executor_ex(hop_blocking_executor(cancel_pool), cancel_fn, a, &result, cancel_free);
    a->status = status;
    if (status == 0 || status == HOP_ECANCELED)
        cancel_free(a); /* the task owns it */
    return NULL;
}

Test(blocking,
     cancels_of_queued_offloads_at_random_moments_withdraw_or_run_each_job_and_free_each_argument_once) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 3};
    HOP_OK(hop_blocking_init(&b, &options));
    cancel_pool = &b;
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    unsigned int seed = (unsigned int)time(NULL);
    cr_log_info("seed %u", seed);
    /* The threads are held at first, so that the jobs queue up. */
    test_job_t holders[3];
    memset(holders, 0, sizeof holders);
    for (int i = 0; i < 3; i++) {
        hop_job_init(&holders[i].job, gated_job);
        HOP_OK(hop_blocking_submit(&b, &holders[i].job));
    }
    static hop_task_t *tasks[CANCEL_TASKS];
    for (int i = 0; i < CANCEL_TASKS; i++) {
        cancel_args[i].status = 1; /* stays so if the task is cancelled before it starts */
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), cancel_task, &cancel_args[i], NULL, &tasks[i]));
    }
    /* A few cancels land at once: before the task starts, or before or just
     * after it submits. */
    for (int i = 0; i < CANCEL_TASKS / 20; i++)
        hop_task_cancel(tasks[rand_r(&seed) % CANCEL_TASKS]);
    for (int i = 0; i < CANCEL_TASKS; i++) {
        hop_task_state_t st;
        while ((st = hop_task_state(tasks[i])) != HOP_TASK_SUSPENDED && st != HOP_TASK_CANCELLED &&
               st != HOP_TASK_DONE)
            test_sleep_ms(1);
    }
    /* Then the threads go, and two thirds of the tasks are cancelled in a
     * random order at random moments while the queue drains: queued jobs are
     * withdrawn, running ones abandoned, others have completed. */
    test_store_uint(&gate_open, 1);
    for (int i = 0; i < CANCEL_TASKS; i++) {
        int victim = rand_r(&seed) % CANCEL_TASKS;
        if (rand_r(&seed) % 3 == 0)
            continue;
        hop_task_cancel(tasks[victim]);
        if (rand_r(&seed) % 4 == 0) {
            struct timespec pause = {0, (long)(rand_r(&seed) % 300) * 1000L};
            nanosleep(&pause, NULL);
        }
    }
    for (int i = 0; i < CANCEL_TASKS; i++)
        (void)test_join(tasks[i]);
    HOP_OK(hop_loop_close(&loop));
    hop_blocking_stats_t s = stats_of(&b);
    HOP_OK(hop_blocking_close(&b)); /* every abandoned fn has finished now */
    unsigned int ran = 0, completed = 0, withdrawn = 0, abandoned = 0, refused_early = 0;
    unsigned int never_started = 0;
    for (int i = 0; i < CANCEL_TASKS; i++) {
        cancel_arg_t *a = &cancel_args[i];
        if (a->status == 1) {
            /* Cancelled before it started: never offloaded, still ours. */
            cr_assert_eq(a->ran, 0);
            cancel_free(a);
            never_started++;
        }
        cr_assert_eq(a->freed, 1, "argument %d freed %u times (status %s)", i, a->freed,
                     hop_err_name(a->status));
        if (a->status == 0) {
            cr_assert_eq(a->ran, 1);
            completed++;
        } else if (a->status == HOP_EINPROGRESS) {
            cr_assert_eq(a->ran, 1);
            abandoned++;
        } else if (a->status != 1) {
            cr_assert_eq(a->status, HOP_ECANCELED, "argument %d: %s", i, hop_err_name(a->status));
            cr_assert_eq(a->ran, 0, "fn ran for argument %d although the offload said it never would", i);
            withdrawn++;
        }
        ran += a->ran;
    }
    /* Every job the pool took back was one whose task got HOP_ECANCELED;
     * the other HOP_ECANCELED tasks were cancelled before submitting, or
     * their job was dropped unrun when a thread reached it. */
    cr_assert_leq(s.jobs_withdrawn, withdrawn);
    refused_early = withdrawn - (unsigned int)s.jobs_withdrawn;
    cr_assert_eq(ran, completed + abandoned);
    cr_assert_gt(s.jobs_withdrawn, 0, "some cancels must have found their job queued");
    cr_log_info(
        "completed %u, abandoned while running %u, never ran %u (withdrawn from the queue %llu, other %u), "
        "task never started %u",
        completed, abandoned, withdrawn, (unsigned long long)s.jobs_withdrawn, refused_early, never_started);
    test_assert_checks();
}

/* ---- Closing ------------------------------------------------------------------- */

typedef struct {
    hop_blocking_t *pool;
    int status;
} closer_t;

static void *close_pool(void *arg) {
    closer_t *c = arg;
    c->status = hop_blocking_close(c->pool);
    return NULL;
}

static void never_runs(hop_job_t *job) {
    (void)job;
    abort();
}

Test(blocking, closing_with_jobs_queued_and_running_runs_every_accepted_job_and_refuses_later_ones) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 2};
    HOP_OK(hop_blocking_init(&b, &options));
    test_job_t jobs[10];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 10; i++) {
        hop_job_init(&jobs[i].job, gated_job);
        HOP_OK(hop_blocking_submit(&b, &jobs[i].job));
    }
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.threads == 2 && s.queued == 8), "two run, eight wait");
    closer_t closer = {&b, 1};
    pthread_t thread;
    pthread_create(&thread, NULL, close_pool, &closer);
    /* Once close has begun, submits are refused; close itself waits for the
     * jobs, which wait at the gate. */
    static test_job_t probes[60000];
    int status = 0, accepted = 0;
    while (accepted < 60000) {
        hop_job_init(&probes[accepted].job, plain_job);
        if ((status = hop_blocking_submit(&b, &probes[accepted].job)) != 0)
            break;
        accepted++; /* submitted before close began: it must run */
        test_sleep_ms(1);
    }
    cr_assert_eq(status, HOP_ECLOSED);
    hop_job_t late;
    hop_job_init(&late, never_runs);
    HOP_ERR(hop_blocking_close(&b), HOP_EALREADY);   /* being closed by the other thread */
    HOP_OK(hop_blocking_withdraw(&b, &jobs[9].job)); /* a closing pool still withdraws */
    test_store_uint(&gate_open, 1);
    pthread_join(thread, NULL);
    HOP_OK(closer.status);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(jobs[i].ran, 1, "accepted job %d ran %u times", i, jobs[i].ran);
    for (int i = 0; i < accepted; i++)
        cr_assert_eq(probes[i].ran, 1, "job %d, accepted before close began, ran %u times", i, probes[i].ran);
    cr_assert_eq(jobs[9].ran, 0);
    HOP_ERR(hop_blocking_submit(&b, &late), HOP_ECLOSED);
    HOP_ERR(hop_executor_submit(hop_blocking_executor(&b), &late), HOP_ECLOSED);
    HOP_ERR(hop_blocking_close(&b), HOP_EALREADY);
    HOP_ERR(hop_blocking_stats(&b, &s), HOP_ECLOSED);
    HOP_OK(hop_blocking_init(&b, &options)); /* a closed pool may be initialised again */
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

static void *close_self(void *arg) { return (void *)(intptr_t)hop_blocking_close(arg); }

Test(blocking, close_from_one_of_its_own_threads_returns_edeadlk) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, NULL));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_blocking_executor(&b), close_self, &b, NULL, &t));
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result));
    cr_assert_eq((int)(intptr_t)result, HOP_EDEADLK);
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

/* A task spawned onto the pool keeps close waiting until it finishes, and
 * its continuations are still accepted meanwhile. */
static hop_future_t task_gate;
static void *task_on_pool(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&task_gate, NULL));
    return (void *)(intptr_t)(hop_executor_current() != NULL);
}

Test(blocking, close_waits_for_the_pools_suspended_tasks_and_still_resumes_them) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, NULL));
    HOP_OK(hop_future_init(&task_gate));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_blocking_executor(&b), task_on_pool, NULL, NULL, &t));
    while (hop_task_state(t) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
    closer_t closer = {&b, 1};
    pthread_t thread;
    pthread_create(&thread, NULL, close_pool, &closer);
    static test_job_t probes[60000];
    int accepted = 0;
    while (accepted < 60000) {
        hop_job_init(&probes[accepted].job, plain_job);
        if (hop_blocking_submit(&b, &probes[accepted].job) != 0)
            break;
        accepted++;
        test_sleep_ms(1);
    }
    HOP_OK(hop_future_set_result(&task_gate, NULL));
    pthread_join(thread, NULL);
    HOP_OK(closer.status);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    for (int i = 0; i < accepted; i++)
        cr_assert_eq(probes[i].ran, 1);
    hop_task_unref(t);
    test_assert_checks();
}

/* ---- When the system refuses threads ------------------------------------------------ */

Test(blocking, a_refused_thread_leaves_the_job_to_the_threads_the_pool_has) {
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 8, .min_threads = 1};
    HOP_OK(hop_blocking_init(&b, &options));
    test_job_t jobs[5];
    memset(jobs, 0, sizeof jobs);
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.threads_idle == 1));
    hop_job_init(&jobs[0].job, gated_job);
    HOP_OK(hop_blocking_submit(&b, &jobs[0].job)); /* takes the one thread */
    /* Once the thread has taken its claim, no thread is on its way to the
     * next jobs: each submit tries to create one. */
    cr_assert(WAIT_STATS(&b, s, s.threads_idle == 0));
    hop__blocking_fail_thread_creates(1000);
    for (int i = 1; i < 5; i++) {
        hop_job_init(&jobs[i].job, plain_job);
        HOP_OK(hop_blocking_submit(&b, &jobs[i].job));
    }
    cr_assert(WAIT_STATS(&b, s, s.queued == 4), "the jobs wait for the thread there is");
    cr_assert_eq(s.thread_failures, 4);
    cr_assert_eq(s.threads, 1);
    test_store_uint(&gate_open, 1);
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 5));
    hop__blocking_fail_thread_creates(0);
    HOP_OK(hop_blocking_close(&b));
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(jobs[i].ran, 1);
        cr_assert(pthread_equal(jobs[i].thread, jobs[0].thread), "all on the one thread");
        if (i > 0)
            cr_assert_lt(jobs[i - 1].order, jobs[i].order);
    }
    test_assert_checks();
}

Test(blocking, with_no_thread_at_all_a_refused_creation_is_retried_and_the_job_runs_on_the_new_thread) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, NULL));
    hop__blocking_fail_thread_creates(2);
    test_job_t j = {0};
    hop_job_init(&j.job, plain_job);
    HOP_OK(hop_blocking_submit(&b, &j.job));
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(&b, s, s.jobs_run == 1));
    cr_assert_eq(s.thread_failures, 2);
    cr_assert_eq(s.threads_started, 1);
    cr_assert(!pthread_equal(j.thread, pthread_self()));
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

Test(blocking, with_no_thread_at_all_and_every_creation_refused_the_submitter_runs_the_job_itself) {
    hop_blocking_t b;
    HOP_OK(hop_blocking_init(&b, NULL));
    hop__blocking_fail_thread_creates(1000);
    test_job_t j = {0};
    hop_job_init(&j.job, plain_job);
    HOP_OK(hop_blocking_submit(&b, &j.job));
    cr_assert_eq(j.ran, 1, "run before submit returned");
    cr_assert(pthread_equal(j.thread, pthread_self()));
    hop_blocking_stats_t s = stats_of(&b);
    cr_assert_eq(s.thread_failures, 5, "the first try and four retries");
    cr_assert_eq(s.threads, 0);
    cr_assert_eq(s.jobs_run, 1);
    hop__blocking_fail_thread_creates(0);
    HOP_OK(hop_blocking_close(&b));
    test_assert_checks();
}

/* The kernel's own refusal: a child process gives up root (root ignores
 * RLIMIT_NPROC), then allows its user `limit` tasks. Exit codes: 0 pass,
 * 77 could not drop privileges, others a failed check. */
static pthread_t rlimit_submitter;

static void rlimit_job(hop_job_t *job) {
    if (!pthread_equal(pthread_self(), rlimit_submitter))
        wait_gate();
    test_sleep_ms(1);
    record_run((test_job_t *)job);
}

static int rlimit_child(rlim_t limit) {
    if (getuid() == 0) {
        if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
            return 77;
    }
    /* Threads of this user elsewhere count too: allow exactly ours. */
    struct rlimit r = {limit, limit};
    if (setrlimit(RLIMIT_NPROC, &r) != 0)
        return 77;
    hop_blocking_t b;
    hop_blocking_options_t options = {.max_threads = 8};
    if (hop_blocking_init(&b, &options) != 0)
        return 2;
    static test_job_t jobs[8];
    /* The jobs wait at the gate until a creation has been refused, so that
     * the threads there are cannot serve the queue first (on a loaded
     * machine they could, and no creation would be tried); except on this
     * thread, which runs them itself when it gets no thread at all (the
     * limit may be used up by the sanitizer's own threads). */
    rlimit_submitter = pthread_self();
    for (int i = 0; i < 8; i++) {
        hop_job_init(&jobs[i].job, rlimit_job);
        if (hop_blocking_submit(&b, &jobs[i].job) != 0)
            return 3;
    }
    hop_blocking_stats_t s;
    for (int i = 0; i < 60000; i++) {
        if (hop_blocking_stats(&b, &s) != 0)
            return 4;
        if (s.thread_failures > 0)
            test_store_uint(&gate_open, 1);
        if (s.jobs_run == 8)
            break;
        test_sleep_ms(1);
    }
    if (s.jobs_run != 8)
        return 5;
    if (s.thread_failures == 0)
        return 8;
    if (hop_blocking_close(&b) != 0)
        return 6;
    for (int i = 0; i < 8; i++)
        if (jobs[i].ran != 1)
            return 7;
    return 0;
}

static int run_in_child(int (*fn)(rlim_t), rlim_t arg) {
    fflush(NULL);
    pid_t child = fork();
    if (child == 0)
        _exit(fn(arg));
    int status = 0;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status), "child died of signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return WEXITSTATUS(status);
}

Test(blocking, under_a_real_rlimit_nproc_the_pool_degrades_to_the_threads_it_gets_and_loses_no_job) {
    /* 1 task: the child itself, no thread at all; 3: two threads. */
    for (rlim_t limit = 1; limit <= 3; limit += 2) {
        int code = run_in_child(rlimit_child, limit);
        if (code == 77) {
            cr_log_warn("could not drop privileges to test RLIMIT_NPROC: covered by the hook tests only");
            return;
        }
        cr_assert_eq(code, 0, "limit %d: child check %d failed", (int)limit, code);
    }
    test_assert_checks();
}

/* ---- The default pool and hop_run_blocking ------------------------------------------- */

typedef struct {
    hop_executor_t *fn_executor;
    pthread_t fn_thread;
    hop_executor_t *resumed_on;
    pthread_t resumed_thread;
    pthread_t task_thread;
    int status;
    void *result;
} run_blocking_t;

static void *blocking_double(void *arg) {
    run_blocking_t *r = arg;
    r->fn_executor = hop_executor_current();
    r->fn_thread = pthread_self();
    test_sleep_ms(1);
    return (void *)(intptr_t)42;
}

static void *run_blocking_task(void *arg) {
    run_blocking_t *r = arg;
    r->task_thread = pthread_self();
    r->status = hop_run_blocking(blocking_double, r, &r->result);
    r->resumed_on = hop_executor_current();
    r->resumed_thread = pthread_self();
    return NULL;
}

Test(blocking, hop_run_blocking_runs_fn_on_the_default_pool_and_resumes_the_task_on_its_loop) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    run_blocking_t r = {0};
    hop_task_t *t = test_spawn(hop_loop_executor(&loop), run_blocking_task, &r);
    HOP_OK(test_join(t));
    HOP_OK(r.status);
    cr_assert_eq((intptr_t)r.result, 42);
    cr_assert_eq(r.fn_executor, hop_blocking_executor(hop_blocking_default()));
    cr_assert(!pthread_equal(r.fn_thread, r.task_thread));
    cr_assert_eq(r.resumed_on, hop_loop_executor(&loop));
    cr_assert(pthread_equal(r.resumed_thread, r.task_thread), "back on the loop's thread");
    HOP_OK(hop_loop_close(&loop));
    HOP_ERR(hop_run_blocking(blocking_double, &r, NULL), HOP_ENOTTASK);
    HOP_ERR(hop_run_blocking(NULL, NULL, NULL), HOP_EINVAL);
    HOP_OK(hop_blocking_default_shutdown());
    test_assert_checks();
}

static hop_blocking_t *seen_default[8];
static unsigned int default_go;
static void *get_default(void *arg) {
    while (!test_load_uint(&default_go))
        ;
    seen_default[(intptr_t)arg] = hop_blocking_default();
    return NULL;
}

Test(blocking, the_default_pool_is_created_once_under_concurrent_first_use_and_shut_down_on_request) {
    hop_blocking_options_t options = {.max_threads = 3, .name = "dflt"};
    HOP_OK(hop_blocking_default_configure(&options));
    pthread_t threads[8];
    for (intptr_t i = 0; i < 8; i++)
        pthread_create(&threads[i], NULL, get_default, (void *)i);
    test_store_uint(&default_go, 1);
    for (int i = 0; i < 8; i++)
        pthread_join(threads[i], NULL);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(seen_default[i], seen_default[0]);
    cr_assert_not_null(seen_default[0]);
    HOP_ERR(hop_blocking_default_configure(&options), HOP_EALREADY);
    test_job_t jobs[6];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 6; i++) {
        hop_job_init(&jobs[i].job, gated_job);
        HOP_OK(hop_blocking_submit(hop_blocking_default(), &jobs[i].job));
    }
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(hop_blocking_default(), s, s.threads == 3 && s.queued == 3),
              "configured: 3 threads");
    test_store_uint(&gate_open, 1);
    HOP_OK(hop_blocking_default_shutdown()); /* runs the queued jobs */
    for (int i = 0; i < 6; i++)
        cr_assert_eq(jobs[i].ran, 1);
    HOP_ERR(hop_blocking_default_shutdown(), HOP_EALREADY);
    hop_job_t late;
    hop_job_init(&late, never_runs);
    cr_assert_eq(hop_blocking_default(), seen_default[0], "not re-created");
    HOP_ERR(hop_blocking_submit(hop_blocking_default(), &late), HOP_ECLOSED);
    test_assert_checks();
}

/* At exit, a default pool with a job blocked for ever and jobs queued
 * behind it must not hang the process. */
static void blocked_for_ever(hop_job_t *job) {
    (void)job;
    for (;;)
        pause();
}

static int exit_with_blocked_jobs(rlim_t unused) {
    (void)unused;
    hop_blocking_options_t options = {.max_threads = 1};
    hop_blocking_default_configure(&options);
    static hop_job_t jobs[4];
    for (int i = 0; i < 4; i++) {
        hop_job_init(&jobs[i], blocked_for_ever);
        if (hop_blocking_submit(hop_blocking_default(), &jobs[i]) != 0)
            return 2;
    }
    hop_blocking_stats_t s;
    do
        hop_blocking_stats(hop_blocking_default(), &s);
    while (s.threads != 1 || s.queued != 3);
    exit(0); /* runs the atexit handler */
}

Test(blocking, the_process_exits_cleanly_with_default_pool_jobs_running_and_queued) {
    cr_assert_eq(run_in_child(exit_with_blocked_jobs, 0), 0);
    test_assert_checks();
}

Test(blocking, shutting_down_a_default_pool_never_used_leaves_it_closed) {
    HOP_OK(hop_blocking_default_shutdown());
    hop_job_t late;
    hop_job_init(&late, never_runs);
    HOP_ERR(hop_blocking_submit(hop_blocking_default(), &late), HOP_ECLOSED);
    HOP_ERR(hop_blocking_default_shutdown(), HOP_EALREADY);
    test_assert_checks();
}

static int child_finds_default_closed(rlim_t unused) {
    (void)unused;
    hop_job_t late;
    hop_job_init(&late, never_runs);
    if (hop_blocking_submit(hop_blocking_default(), &late) != HOP_ECLOSED)
        return 2;
    exit(0); /* the exit handler must not touch the parent's threads */
}

Test(blocking, after_fork_the_childs_default_pool_refuses_work_instead_of_hanging) {
    test_job_t j = {0};
    hop_job_init(&j.job, plain_job);
    HOP_OK(hop_blocking_submit(hop_blocking_default(), &j.job));
    hop_blocking_stats_t s;
    cr_assert(WAIT_STATS(hop_blocking_default(), s, s.jobs_run == 1));
    cr_assert_eq(run_in_child(child_finds_default_closed, 0), 0);
    HOP_OK(hop_blocking_default_shutdown());
    test_assert_checks();
}

/* ---- Blocking regions ------------------------------------------------------------ */

/* A pool task blocks its thread inside a region; a task queued behind it on
 * the pool's only worker must still run. Without the region it would wait
 * until the blocking task is done (the test would time out). */
static hop_pool_t region_pool;
static unsigned int region_blocked, region_gate, region_other_ran;
/* Threads told apart by gettid(): glibc declares pthread_self() const, so
 * the compiler may reuse one call's value across the task's moves. */
static pid_t region_worker_thread;

static void *region_task(void *arg) {
    (void)arg;
    region_worker_thread = gettid();
    hop_blocking_region_t region = {0};
    CHECK_OK(hop_blocking_begin(&region));
    CHECK(region.home == hop_pool_executor(&region_pool));
    CHECK(gettid() != region_worker_thread, "the task must leave the worker");
    CHECK(hop_executor_current() == hop_blocking_executor(hop_blocking_default()));
    CHECK_ERR(hop_blocking_begin(&region), HOP_EINVAL); /* regions do not nest */
    test_store_uint(&region_blocked, 1);
    while (!test_load_uint(&region_gate))
        test_sleep_ms(1); /* blocks this thread, as a driver call would */
    CHECK(test_load_uint(&region_other_ran) == 1);
    CHECK_OK(hop_blocking_end(&region));
    CHECK(region.home == NULL);
    CHECK(hop_executor_current() == hop_pool_executor(&region_pool), "the task must be back on its pool");
    CHECK(gettid() == region_worker_thread, "one worker: back on it");
    CHECK_ERR(hop_blocking_end(&region), HOP_EINVAL); /* over */
    return NULL;
}

static void *region_other_task(void *arg) {
    (void)arg;
    test_add_uint(&region_other_ran, 1);
    return NULL;
}

Test(blocking, a_pool_task_in_a_blocking_region_does_not_stall_the_tasks_queued_behind_it) {
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_pool_init(&region_pool, &options));
    hop_task_t *blocker = test_spawn(hop_pool_executor(&region_pool), region_task, NULL);
    test_wait_for(&region_blocked, 1);
    /* The pool's one worker is free again: this one runs while the first
     * task still blocks. */
    hop_task_t *other = test_spawn(hop_pool_executor(&region_pool), region_other_task, NULL);
    HOP_OK(test_join(other));
    cr_assert_eq(test_load_uint(&region_other_ran), 1);
    test_store_uint(&region_gate, 1);
    HOP_OK(test_join(blocker));
    HOP_OK(hop_pool_close(&region_pool));
    HOP_OK(hop_blocking_default_shutdown()); /* joins its threads */
    test_assert_checks();
}

static void *region_bad_task(void *arg) {
    (void)arg;
    CHECK_ERR(hop_blocking_begin(NULL), HOP_EINVAL);
    CHECK_ERR(hop_blocking_end(NULL), HOP_EINVAL);
    hop_blocking_region_t region = {0};
    CHECK_ERR(hop_blocking_end(&region), HOP_EINVAL); /* not in a region */
    CHECK_OK(hop_blocking_default_shutdown());
    CHECK_ERR(hop_blocking_begin(&region), HOP_ECLOSED);
    CHECK(region.home == NULL, "a refused begin leaves no region");
    return NULL;
}

Test(blocking, blocking_regions_refuse_bad_arguments_outside_tasks_and_after_the_default_pool_shut_down) {
    hop_blocking_region_t region = {0};
    HOP_ERR(hop_blocking_begin(&region), HOP_ENOTTASK);
    region.home = hop_blocking_executor(hop_blocking_default());
    HOP_ERR(hop_blocking_end(&region), HOP_ENOTTASK);
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 1}));
    HOP_OK(test_join(test_spawn(hop_pool_executor(&pool), region_bad_task, NULL)));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* A loop task's region: the loop goes on running its other tasks. */
static hop_loop_t region_loop;
static unsigned int region_loop_blocked, region_loop_gate, region_loop_other_ran;

static void *region_loop_task(void *arg) {
    (void)arg;
    hop_blocking_region_t region = {0};
    CHECK_OK(hop_blocking_begin(&region));
    test_store_uint(&region_loop_blocked, 1);
    while (!test_load_uint(&region_loop_gate))
        test_sleep_ms(1);
    CHECK_OK(hop_blocking_end(&region));
    CHECK(hop_loop_current() == &region_loop, "the task must be back on its loop");
    return NULL;
}

static void *region_loop_other(void *arg) {
    (void)arg;
    test_add_uint(&region_loop_other_ran, 1);
    return NULL;
}

Test(blocking, a_loop_task_in_a_blocking_region_leaves_the_loop_running_and_comes_back_to_it) {
    HOP_OK(hop_loop_init(&region_loop, NULL));
    HOP_OK(hop_loop_start(&region_loop));
    hop_task_t *blocker = test_spawn(hop_loop_executor(&region_loop), region_loop_task, NULL);
    test_wait_for(&region_loop_blocked, 1);
    HOP_OK(test_join(test_spawn(hop_loop_executor(&region_loop), region_loop_other, NULL)));
    cr_assert_eq(test_load_uint(&region_loop_other_ran), 1);
    test_store_uint(&region_loop_gate, 1);
    HOP_OK(test_join(blocker));
    HOP_OK(hop_loop_close(&region_loop));
    HOP_OK(hop_blocking_default_shutdown()); /* joins its threads */
    test_assert_checks();
}
