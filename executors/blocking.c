/* executors/blocking.c: the blocking pool (hop/blocking.h).
 *
 * One mutex guards everything: the queue, the counters, the stats. Jobs
 * here block for milliseconds, so a lock held for a few instructions per job
 * costs nothing that matters, and it makes the three promises easy to keep:
 *
 * FIFO. The queue is a circular doubly linked list through the jobs
 * themselves (job->next towards the newer end, job->executor_private the
 * older neighbour, a sentinel job in the pool), so a submit pushes at the
 * tail, a thread pops at the head, and a withdraw unlinks in O(1) without
 * allocating. job->executor_private is NULL while the job is not queued here;
 * job->executor_stamp holds when it was queued (time-in-queue stats).
 *
 * Waiting. Idle threads all sleep on one word of the pool's, idle_word
 * (core/futex.h), and a claim names no thread: the claimer moves n from
 * idle to notified and changes the word, under the lock, then wakes n
 * sleepers with one system call after unlocking. Any idle thread that is
 * back under the lock while notified > 0 takes a claim (notified - 1), a
 * woken one or one that had not yet gone to sleep (its sleep returns at
 * once, the word having changed); a thread that finds none waits again.
 * No claim is left untaken: n claims need n idle threads, and each of
 * those either is asleep on the word, where the n wake-ups reach as many
 * sleepers as there are, or has yet to look at notified. One call for n
 * threads matters in a burst that wakes hundreds: a wake-up call costs
 * microseconds on a VM, and with a word per thread, one call each, a burst
 * of 1,000 sleeping jobs was bound by those calls' CPU. The kernel wakes
 * the sleepers of a word in the order they went to sleep, so a claim goes
 * to the thread idle the longest, unless one that has not gone to sleep
 * yet answers first: when the CPUs are busy the kernel runs a thread that
 * slept long sooner than one that has just run, so the job starts sooner
 * (the thread idle the shortest would have the warmer caches, but waits in
 * the run queue, which lengthens the latency tail of a busy server).
 *
 * Growth, after Tokio's blocking pool, and wake-ups that spread. `idle`
 * counts the waiting threads no claim is on. A submit that finds a claimed
 * thread still on its way (notified > 0) leaves its job to that one;
 * otherwise one that finds an idle thread claims it and wakes it;
 * otherwise, below max_threads and with no thread being created, it
 * reserves a thread (threads + 1, starting + 1) and creates it after
 * releasing the lock; otherwise the job waits for a busy thread, which pops
 * the queue after each job, or for a thread being created. A thread that
 * starts, or that takes a claim, fans out: it counts the queued jobs that no
 * thread is on its way to (queued, minus the claims, minus the threads still
 * starting, minus its own), claims idle threads for them (one wake-up call
 * for all) and, with no idle thread left, reserves and creates threads for
 * up to HOP__BLOCKING_FAN_OUT of the rest, before it takes a job; each of
 * those does the same. How many idle threads it claims depends on how long
 * the latest jobs ran (job_ns, averaged by the threads under the lock):
 * jobs that run longer than a wake-up costs (HOP__BLOCKING_LONG_JOB_NS)
 * get a thread each at once; shorter ones at most HOP__BLOCKING_FAN_OUT,
 * since the threads already running will have taken most of them before a
 * woken one arrives (an HTTP server offloading microsecond calls made
 * twice the context switches per request when every queued job woke a
 * thread, bench/RESULTS.md). So a burst costs its submitter one
 * wake-up or one creation, and the rest are made by the threads, creations
 * by 1, 2, 4, ... threads in parallel: a submitter that woke or created a
 * thread per job spent most of its time in those system calls (a wake-up
 * is microseconds, a pthread_create tens of them on a VM), and the
 * submitter is often a loop with tasks to resume. No job is left without
 * a server: a job queued while notified > 0 or starting > 0 is counted by
 * a claimed or starting thread, which looks at the queue under the lock,
 * after that push, when it takes its claim or starts; one queued with
 * neither gets a thread from its submitter, or waits for the busy ones at
 * max_threads. A thread idle for keep_alive retires if that leaves at
 * least min_threads; it only ever decides so with the lock held, no claim
 * pending and the queue empty, so a queued job always has a thread that
 * will come back to the queue. Threads at min_threads wait without a
 * timeout: an idle pool burns no CPU.
 *
 * When the system refuses a thread (pthread_create fails), the reservation is
 * dropped and the job stays queued for the threads the pool has. If it has
 * none at all (nor any still being created), the queue would have no server:
 * the submitting thread then retries the creation a few times, backing off,
 * and if the system still refuses, runs the queued jobs itself (as Java's
 * CallerRunsPolicy), so that no accepted job is ever stranded.
 *
 * Closing: hop_blocking_close. Retired and exiting threads put their record
 * on a list of threads to join, joined by the next creation or by close. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fault.h"
#include "core/fork.h"
#include "core/futex.h"
#include "core/gate.h"
#include "core/internal.h"
#include "core/observe.h"
#include "core/signals.h"

#define HOP__BLOCKING_NAME_MAX 10
/* Attempts (after the first) to create a thread for a pool that has none,
 * the first one 1 ms after the refusal and each one twice as late. */
#define HOP__BLOCKING_CREATE_RETRIES 4
/* Threads a starting thread creates at most (see Growth). */
#define HOP__BLOCKING_FAN_OUT 2u
/* Jobs that ran this long on average get an idle thread each (Growth):
 * about what waking a thread costs where idle CPUs halt (a VM). */
#define HOP__BLOCKING_LONG_JOB_NS 50000u

/* hop_blocking_t.state: CLOSING and CLOSED, and in the rest of the word the
 * number of threads inside a call that touches pool->internal (submit,
 * withdraw, stats, task_enter/leave), so that close frees it only once
 * CLOSED is set with none of them inside (as hop_pool_t.state). */
#define HOP__BLOCKING_CLOSING HOP__GATE_CLOSING
#define HOP__BLOCKING_CLOSED HOP__GATE_CLOSED

typedef struct hop__blocking_internal_s hop__blocking_internal_t;

/* One per thread, from its creation until it is joined. */
typedef struct hop__blocking_thread_s {
    pthread_t thread;
    hop__blocking_internal_t *p;
    struct hop__blocking_thread_s *next; /* on the list of threads to join */
    char name[16];
} hop__blocking_thread_t;

struct hop__blocking_internal_s {
    hop_blocking_t *pool;
    hop__fork_entry_t fork_entry; /* tracked from init until close (fork.h) */
    pthread_mutex_t lock;
    pthread_cond_t gone; /* close waits here for the threads to leave */
    hop_job_t queue;     /* the sentinel: queue.next is the oldest job */
    /* Everything below is guarded by lock. */
    unsigned int queued;
    unsigned int threads;      /* running a job, idle, or being created */
    unsigned int starting;     /* of those, being created */
    unsigned int idle;         /* waiting, less the claims on them (by a submit or a fan-out) */
    unsigned int notified;     /* claims not yet taken by a waiting thread */
    uint64_t job_ns;           /* how long the latest jobs ran, averaged (Growth) */
    unsigned int idle_word;    /* the futex word idle threads sleep on; changed by every claim */
    unsigned int peak;
    unsigned int min, max;
    uint64_t names; /* threads named so far: the next one's number */
    uint64_t keep_alive_ns;
    uint64_t tasks;  /* task_enter minus task_leave */
    bool closing;    /* refuse new work (continuations excepted) */
    bool exiting;    /* threads leave once the queue is empty */
    bool abandoning; /* at process exit: threads leave without taking jobs */
    hop__blocking_thread_t *to_join;
    hop_blocking_stats_t stats;
    /* Read-only after init. */
    hop_thread_hook_fn on_thread_start, on_thread_stop;
    void *hook_arg;
    pthread_attr_t attr;
    char prefix[HOP__BLOCKING_NAME_MAX + 1];
};

static int hop__blocking_submit_op(hop_executor_t *executor, hop_job_t *job, unsigned int flags);
static int hop__blocking_withdraw_op(hop_executor_t *executor, hop_job_t *job);
static void hop__blocking_task_enter(hop_executor_t *executor);
static void hop__blocking_task_leave(hop_executor_t *executor);

static const hop_executor_ops_t hop__blocking_ops = {.name = "blocking",
                                                     .submit = hop__blocking_submit_op,
                                                     .task_enter = hop__blocking_task_enter,
                                                     .task_leave = hop__blocking_task_leave,
                                                     .withdraw = hop__blocking_withdraw_op};

/* A closed pool refuses everything; nothing is queued there to withdraw. */
static const hop_executor_ops_t hop__blocking_closed_ops = {.name = "blocking (closed)",
                                                            .submit = hop__gate_closed_submit};

/* A pool inherited by a child process of fork(): refuses everything; its
 * close only frees its memory (its threads do not exist in the child). */
static const hop_executor_ops_t hop__blocking_forked_ops = {.name = "blocking (forked)",
                                                            .submit = hop__gate_closed_submit};

/* Test hook: the next n thread creations fail with EAGAIN, as if the system
 * refused them (RLIMIT_NPROC is ignored for root, which the tests may be).
 * Not in any header: tests/test_blocking.c declares it. */
HOP_EXTERN void hop__blocking_fail_thread_creates(unsigned int n);
static unsigned int hop__blocking_creates_to_fail;
void hop__blocking_fail_thread_creates(unsigned int n) {
    hop__atomic_store_uint(&hop__blocking_creates_to_fail, n);
}

/* The pool whose thread this is, if any: submit runs on task stacks too. */
HOP__TLS_SLOT(hop__blocking_self_slot, hop__blocking_internal_t *)

static uint64_t hop__blocking_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- The queue (lock held) --------------------------------------------------- */

static void hop__blocking_push(hop__blocking_internal_t *p, hop_job_t *job) {
    hop_job_t *newest = p->queue.executor_private;
    job->next = &p->queue;
    job->executor_private = newest;
    job->executor_stamp = hop__blocking_now_ns();
    newest->next = job;
    p->queue.executor_private = job;
    p->queued++;
}

static void hop__blocking_unlink(hop__blocking_internal_t *p, hop_job_t *job) {
    hop_job_t *older = job->executor_private, *newer = job->next;
    older->next = newer;
    newer->executor_private = older;
    job->executor_private = NULL;
    job->next = NULL;
    p->queued--;
}

/* The oldest job, unlinked, with its time in queue counted; or NULL.
 * *now_ns: when it was taken (hop__blocking_now_ns). */
static hop_job_t *hop__blocking_pop(hop__blocking_internal_t *p, uint64_t *now_ns) {
    hop_job_t *job = p->queue.next;
    if (job == &p->queue)
        return NULL;
    *now_ns = hop__blocking_now_ns();
    uint64_t waited = *now_ns - job->executor_stamp;
    hop__blocking_unlink(p, job);
    p->stats.queue_wait_ns_sum += waited;
    if (waited > p->stats.queue_wait_ns_max)
        p->stats.queue_wait_ns_max = waited;
    uint64_t us = waited / 1000u;
    unsigned int bucket = us == 0 ? 0u : 64u - (unsigned int)__builtin_clzll(us);
    if (bucket >= HOP_BLOCKING_WAIT_BUCKETS)
        bucket = HOP_BLOCKING_WAIT_BUCKETS - 1;
    p->stats.queue_wait_histogram[bucket]++;
    return job;
}

/* ---- Threads ------------------------------------------------------------------ */

static void hop__blocking_run(hop__blocking_internal_t *p, hop_job_t *job) {
    hop_executor_run_job(&p->pool->executor, job);
}

/* Leaves the pool (lock held): the record goes on the list to join. */
static void hop__blocking_leave(hop__blocking_internal_t *p, hop__blocking_thread_t *self) {
    p->threads--;
    self->next = p->to_join;
    p->to_join = self;
    if (p->threads == 0)
        pthread_cond_broadcast(&p->gone);
}

/* Claims n idle threads (lock held, n <= idle); the caller wakes n
 * (hop__futex_wake_many on idle_word) after unlocking, so that they do not
 * wake up only to wait for this lock. */
static void hop__blocking_claim(hop__blocking_internal_t *p, unsigned int n) {
    p->idle -= n;
    p->notified += n;
    hop__atomic_store_uint(&p->idle_word, p->idle_word + 1u);
}

/* Wakes every idle thread (lock held), for exiting. */
static void hop__blocking_wake_all(hop__blocking_internal_t *p) {
    hop__atomic_store_uint(&p->idle_word, p->idle_word + 1u);
    hop__futex_wake_many(&p->idle_word, UINT_MAX);
}

/* Waits for a claim (lock held). Returns true with the claim taken (or
 * with exiting set: leave or drain), false if the thread retires after
 * keep_alive. */
static bool hop__blocking_wait(hop__blocking_internal_t *p) {
    uint64_t deadline_ns = hop__blocking_now_ns() + p->keep_alive_ns;
    p->idle++;
    for (;;) {
        bool timed = p->threads > p->min;
        unsigned int word = p->idle_word;
        pthread_mutex_unlock(&p->lock);
        hop__futex_wait(&p->idle_word, word, timed ? deadline_ns : 0u);
        pthread_mutex_lock(&p->lock);
        if (p->notified > 0) {
            /* A submit or another thread's fan-out claimed a thread: this
             * one answers it, whether its wake-up was that claim's or not. */
            p->notified--;
            return true;
        }
        if (p->exiting) {
            p->idle--;
            return true;
        }
        bool timed_out = timed && hop__blocking_now_ns() >= deadline_ns;
        if (timed_out && p->threads > p->min) {
            p->idle--;
            /* Retire only with the queue empty: a queued job keeps its thread. */
            return p->queue.next != &p->queue;
        }
        if (timed_out || p->threads <= p->min) /* a new idle period from here */
            deadline_ns = hop__blocking_now_ns() + p->keep_alive_ns;
    }
}

static void hop__blocking_fan_out(hop__blocking_internal_t *p);

static void *hop__blocking_thread_main(void *arg) {
    hop__blocking_thread_t *self = arg;
    hop__blocking_internal_t *p = self->p;
    *hop__blocking_self_slot() = p;
    pthread_setname_np(pthread_self(), self->name);
    hop__overflow_thread_init(); /* a signal stack, to name a task that overflows here */
    /* Copied now: once this thread has left (below), close may free p, but
     * it joins the thread first, so the stop hook still runs before that. */
    hop_executor_t *executor = &p->pool->executor;
    hop_thread_hook_fn on_stop = p->on_thread_stop;
    void *hook_arg = p->hook_arg;
    if (p->on_thread_start)
        p->on_thread_start(executor, hook_arg);
    pthread_mutex_lock(&p->lock);
    p->starting--;
    hop__blocking_fan_out(p);
    for (;;) {
        uint64_t started;
        hop_job_t *job = p->abandoning ? NULL : hop__blocking_pop(p, &started);
        if (job) {
            pthread_mutex_unlock(&p->lock);
            hop__blocking_run(p, job);
            uint64_t ran = hop__blocking_now_ns() - started;
            pthread_mutex_lock(&p->lock);
            p->stats.jobs_run++;
            /* A moving average over about the last 8 jobs (Growth). */
            p->job_ns = p->job_ns - p->job_ns / 8u + ran / 8u;
            continue;
        }
        if (p->exiting)
            break;
        if (!hop__blocking_wait(p)) {
            p->stats.threads_retired++;
            break;
        }
        hop__blocking_fan_out(p);
    }
    hop__blocking_leave(p, self);
    pthread_mutex_unlock(&p->lock);
    if (on_stop)
        on_stop(executor, hook_arg);
    *hop__blocking_self_slot() = NULL;
    return NULL;
}

/* Joins the threads that left (lock not held). */
static void hop__blocking_join(hop__blocking_thread_t *list) {
    while (list) {
        hop__blocking_thread_t *next = list->next;
        pthread_join(list->thread, NULL);
        free(list);
        list = next;
    }
}

static hop__blocking_thread_t *hop__blocking_take_to_join(hop__blocking_internal_t *p) {
    pthread_mutex_lock(&p->lock);
    hop__blocking_thread_t *list = p->to_join;
    p->to_join = NULL;
    pthread_mutex_unlock(&p->lock);
    return list;
}

/* Creates the thread reserved by the caller (threads and starting counted).
 * Lock not held. Returns 0 or the pthread error; on error the reservation is
 * still counted (the caller drops it). */
static int hop__blocking_create(hop__blocking_internal_t *p) {
    hop__blocking_join(hop__blocking_take_to_join(p));
    unsigned int fail = hop__atomic_load_uint(&hop__blocking_creates_to_fail);
    while (fail > 0 && !hop__atomic_cas_uint(&hop__blocking_creates_to_fail, fail, fail - 1))
        fail = hop__atomic_load_uint(&hop__blocking_creates_to_fail);
    if (fail > 0)
        return EAGAIN;
    hop__blocking_thread_t *t = hop__malloc(sizeof *t);
    if (!t)
        return EAGAIN;
    t->p = p;
    t->next = NULL;
    pthread_mutex_lock(&p->lock);
    uint64_t number = p->names++;
    pthread_mutex_unlock(&p->lock);
    snprintf(t->name, sizeof t->name, "%s-%llu", p->prefix, (unsigned long long)number);
    sigset_t old;
    hop__signals_block_async(&old);
    int err = hop__pthread_create(&t->thread, &p->attr, hop__blocking_thread_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        free(t);
        return err;
    }
    pthread_mutex_lock(&p->lock);
    p->stats.threads_started++;
    pthread_mutex_unlock(&p->lock);
    return 0;
}

/* Reserves a thread (lock held). */
static void hop__blocking_reserve(hop__blocking_internal_t *p) {
    p->threads++;
    p->starting++;
    if (p->threads > p->peak)
        p->peak = p->threads;
}

/* Runs queued jobs on the calling thread, for a pool the system gives no
 * thread at all: at most as many as are queued now (later ones have their
 * own submitters). Lock held on entry and exit. */
static void hop__blocking_caller_runs(hop__blocking_internal_t *p) {
    unsigned int n = p->queued;
    hop_job_t *job;
    uint64_t taken;
    while (n-- > 0 && (job = hop__blocking_pop(p, &taken)) != NULL) {
        pthread_mutex_unlock(&p->lock);
        hop__blocking_run(p, job);
        pthread_mutex_lock(&p->lock);
        p->stats.jobs_run++;
    }
}

/* After a refused creation (lock not held): the job waits for the threads
 * the pool has; with none at all, retries, then runs the queue here. */
static void hop__blocking_create_failed(hop__blocking_internal_t *p) {
    long backoff_ms = 1;
    pthread_mutex_lock(&p->lock);
    for (int attempt = 0;; attempt++) {
        p->threads--;
        p->starting--;
        p->stats.thread_failures++;
        if (p->threads == 0)
            pthread_cond_broadcast(&p->gone); /* a closing pool waits for that */
        /* A thread that runs (or is being created) comes back to the queue. */
        if (p->threads > 0 || p->queue.next == &p->queue)
            break;
        if (attempt == HOP__BLOCKING_CREATE_RETRIES) {
            hop__blocking_caller_runs(p);
            break;
        }
        hop__blocking_reserve(p);
        pthread_mutex_unlock(&p->lock);
        struct timespec pause = {0, backoff_ms * 1000000L};
        nanosleep(&pause, NULL);
        backoff_ms *= 2;
        int err = hop__blocking_create(p);
        pthread_mutex_lock(&p->lock);
        if (err == 0)
            break;
    }
    pthread_mutex_unlock(&p->lock);
}

/* A thread that has just started, or has just taken a claim (lock held on
 * entry and exit; the thread no longer counted in starting or notified):
 * wakes idle threads for the queued jobs no thread is on its way to, and
 * with none idle creates threads for up to HOP__BLOCKING_FAN_OUT of them
 * (see Growth). A refused creation drops its reservation: the jobs wait
 * for the threads there are, this one included. */
static void hop__blocking_fan_out(hop__blocking_internal_t *p) {
    if (p->exiting)
        return; /* closing: the threads there are drain the queue */
    /* Jobs no thread is on its way to, this thread's own taken out. */
    long unserved = (long)p->queued - (long)p->notified - (long)p->starting - 1;
    if (unserved <= 0)
        return;
    unsigned int n_woken = 0, n_created = 0;
    if (p->idle > 0) {
        /* Jobs shorter than a wake-up are better left to the threads that
         * are running: up to HOP__BLOCKING_FAN_OUT, as for creations. */
        long want = p->job_ns >= HOP__BLOCKING_LONG_JOB_NS || unserved < (long)HOP__BLOCKING_FAN_OUT
                        ? unserved
                        : (long)HOP__BLOCKING_FAN_OUT;
        n_woken = (long)p->idle < want ? p->idle : (unsigned int)want;
        hop__blocking_claim(p, n_woken);
    }
    while (p->idle == 0 && n_woken + n_created < HOP__BLOCKING_FAN_OUT &&
           (long)(n_woken + n_created) < unserved && p->threads < p->max) {
        hop__blocking_reserve(p);
        n_created++;
    }
    if (n_woken + n_created == 0)
        return;
    pthread_mutex_unlock(&p->lock);
    if (n_woken)
        hop__futex_wake_many(&p->idle_word, n_woken);
    for (unsigned int i = 0; i < n_created; i++) {
        if (hop__blocking_create(p) != 0)
            hop__blocking_create_failed(p); /* this thread runs: only drops the reservation */
    }
    pthread_mutex_lock(&p->lock);
}

/* ---- The executor ---------------------------------------------------------- */

static int hop__blocking_submit_op(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    hop_blocking_t *pool = hop__container_of(executor, hop_blocking_t, executor);
    unsigned int state = hop__gate_enter(&pool->state);
    int err = 0;
    if (state & HOP__BLOCKING_CLOSED) {
        err = HOP_ECLOSED;
    } else {
        hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        bool create = false, wake = false;
        pthread_mutex_lock(&p->lock);
        if (p->closing && !(flags & HOP_SUBMIT_CONTINUATION)) {
            err = HOP_ECLOSED;
        } else {
            hop__blocking_push(p, job);
            if (p->notified > 0) {
                /* A claimed thread on its way counts this job (Growth). */
            } else if (p->idle > 0) {
                hop__blocking_claim(p, 1);
                wake = true;
            } else if (p->threads < p->max && p->starting == 0) {
                /* With a thread starting, that one counts this job. */
                hop__blocking_reserve(p);
                create = true;
            }
        }
        pthread_mutex_unlock(&p->lock);
        /* Woken after the unlock, so that it does not wake up only to wait
         * for the lock this thread still holds. Nothing is lost by the
         * delay: the word changed under the lock, so a sleep that begins
         * after that returns at once, and whichever idle thread is next
         * under the lock takes the claim (see Waiting). */
        if (wake)
            hop__futex_wake(&p->idle_word);
        /* From here job may already have run: it is not touched again. */
        if (create && hop__blocking_create(p) != 0)
            hop__blocking_create_failed(p);
    }
    hop__gate_leave(&pool->state);
    return err;
}

static int hop__blocking_withdraw_op(hop_executor_t *executor, hop_job_t *job) {
    hop_blocking_t *pool = hop__container_of(executor, hop_blocking_t, executor);
    unsigned int state = hop__gate_enter(&pool->state);
    int err = HOP_EALREADY; /* a closed pool has nothing queued */
    if (!(state & HOP__BLOCKING_CLOSED)) {
        hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        pthread_mutex_lock(&p->lock);
        if (job->executor_private != NULL) {
            hop__blocking_unlink(p, job);
            p->stats.jobs_withdrawn++;
            err = 0;
        }
        pthread_mutex_unlock(&p->lock);
    }
    hop__gate_leave(&pool->state);
    return err;
}

static void hop__blocking_count_task(hop_executor_t *executor, uint64_t delta) {
    hop_blocking_t *pool = hop__container_of(executor, hop_blocking_t, executor);
    unsigned int state = hop__gate_enter(&pool->state);
    if (!(state & HOP__BLOCKING_CLOSED)) {
        hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        pthread_mutex_lock(&p->lock);
        p->tasks += delta;
        pthread_mutex_unlock(&p->lock);
    }
    hop__gate_leave(&pool->state);
}

static void hop__blocking_task_enter(hop_executor_t *executor) { hop__blocking_count_task(executor, 1); }

static void hop__blocking_task_leave(hop_executor_t *executor) {
    hop__blocking_count_task(executor, (uint64_t)-1);
}

/* ---- Life cycle ------------------------------------------------------------------ */

static void hop__blocking_free(hop__blocking_internal_t *p) {
    pthread_attr_destroy(&p->attr);
    pthread_cond_destroy(&p->gone);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* Lets the threads leave once the queue is empty, waits for them and joins
 * them. Nothing can be queued any more but what the threads still run. */
static void hop__blocking_stop_threads(hop__blocking_internal_t *p) {
    pthread_mutex_lock(&p->lock);
    p->exiting = true;
    hop__blocking_wake_all(p);
    while (p->threads > 0)
        pthread_cond_wait(&p->gone, &p->lock);
    hop__blocking_thread_t *list = p->to_join;
    p->to_join = NULL;
    pthread_mutex_unlock(&p->lock);
    hop__blocking_join(list);
}

static int hop__blocking_check_options(const hop_blocking_options_t *o) {
    unsigned int max = o->max_threads ? o->max_threads : HOP_BLOCKING_MAX_THREADS_DEFAULT;
    if (max > HOP_BLOCKING_MAX_THREADS_LIMIT || o->min_threads > max)
        return HOP_EINVAL;
    if (o->stack_size != 0 && o->stack_size < (size_t)PTHREAD_STACK_MIN)
        return HOP_EINVAL;
    if (o->name && strlen(o->name) > HOP__BLOCKING_NAME_MAX)
        return HOP_EINVAL; /* refused, not cut */
    return 0;
}

/* In a child process after fork(), on the forking thread: the threads are
 * gone, and one may have held the lock; the pool refuses everything. */
static void hop__blocking_forked(hop__fork_entry_t *entry) {
    hop__blocking_internal_t *p = hop__container_of(entry, hop__blocking_internal_t, fork_entry);
    hop__atomic_store_ptr(&p->pool->executor.ops, &hop__blocking_forked_ops);
    hop__atomic_store_uint(&p->pool->state, HOP__BLOCKING_CLOSING | HOP__BLOCKING_CLOSED);
}

int hop_blocking_init(hop_blocking_t *pool, const hop_blocking_options_t *options) {
    if (!pool)
        return HOP_EINVAL;
    static const hop_blocking_options_t defaults = {0};
    if (!options)
        options = &defaults;
    int err = hop__blocking_check_options(options);
    if (err)
        return err;
    hop__blocking_internal_t *p = hop__calloc(1, sizeof *p);
    if (!p)
        return HOP_ENOMEM;
    p->pool = pool;
    p->max = options->max_threads ? options->max_threads : HOP_BLOCKING_MAX_THREADS_DEFAULT;
    p->min = options->min_threads;
    p->keep_alive_ns =
        (uint64_t)(options->keep_alive_ms ? options->keep_alive_ms : HOP_BLOCKING_KEEP_ALIVE_MS_DEFAULT) *
        1000000u;
    snprintf(p->prefix, sizeof p->prefix, "%s", options->name ? options->name : "hop-block");
    p->on_thread_start = options->on_thread_start;
    p->on_thread_stop = options->on_thread_stop;
    p->hook_arg = options->hook_arg;
    p->queue.next = &p->queue;
    p->queue.executor_private = &p->queue;
    /* Adaptive: spins briefly before sleeping, since the lock is held for a
     * few instructions at a time and a hundred threads may want it at once
     * (measured: futex wait/wake on it dominated the profile without). */
    pthread_mutexattr_t mutexattr;
    pthread_mutexattr_init(&mutexattr);
    pthread_mutexattr_settype(&mutexattr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&p->lock, &mutexattr);
    pthread_mutexattr_destroy(&mutexattr);
    pthread_cond_init(&p->gone, NULL);
    pthread_attr_init(&p->attr);
    if (options->stack_size && pthread_attr_setstacksize(&p->attr, options->stack_size) != 0) {
        hop__blocking_free(p);
        return HOP_EINVAL;
    }

    hop__atomic_store_ptr(&pool->executor.ops, &hop__blocking_ops);
    pool->executor.reserved[0] = pool->executor.reserved[1] = NULL;
    hop__atomic_store_ptr(&pool->internal, p);
    hop__atomic_store_uint(&pool->state, 0u);

    for (unsigned int i = 0; i < p->min; i++) {
        pthread_mutex_lock(&p->lock);
        hop__blocking_reserve(p);
        pthread_mutex_unlock(&p->lock);
        if (hop__blocking_create(p) != 0) {
            pthread_mutex_lock(&p->lock);
            p->threads--;
            p->starting--;
            pthread_mutex_unlock(&p->lock);
            hop__blocking_stop_threads(p);
            hop__atomic_store_ptr(&pool->executor.ops, NULL);
            hop__atomic_store_ptr(&pool->internal, NULL);
            hop__blocking_free(p);
            return HOP_EAGAIN;
        }
    }
    hop__fork_track(&p->fork_entry, hop__blocking_forked);
    return 0;
}

hop_executor_t *hop_blocking_executor(hop_blocking_t *pool) { return pool ? &pool->executor : NULL; }

/* The pool's ops if pool was initialised (open or closed), else NULL. */
static const hop_executor_ops_t *hop__blocking_ops_of(hop_blocking_t *pool) {
    const hop_executor_ops_t *ops = pool ? hop__atomic_load_ptr(&pool->executor.ops) : NULL;
    return ops == &hop__blocking_ops || ops == &hop__blocking_closed_ops || ops == &hop__blocking_forked_ops
               ? ops
               : NULL;
}

int hop_blocking_submit(hop_blocking_t *pool, hop_job_t *job) {
    const hop_executor_ops_t *ops = hop__blocking_ops_of(pool);
    if (!ops || !job || !job->run)
        return HOP_EINVAL;
    return hop__executor_submit_via(ops, &pool->executor, job, 0);
}

int hop_blocking_withdraw(hop_blocking_t *pool, hop_job_t *job) {
    const hop_executor_ops_t *ops = hop__blocking_ops_of(pool);
    if (!ops || !job)
        return HOP_EINVAL;
    if (ops != &hop__blocking_ops)
        return HOP_EALREADY;
    int err = hop__blocking_withdraw_op(&pool->executor, job);
    if (!err)
        HOP__OBSERVE(hop__observe_withdrawn(&pool->executor));
    return err;
}

int hop_blocking_stats(hop_blocking_t *pool, hop_blocking_stats_t *stats) {
    const hop_executor_ops_t *ops = hop__blocking_ops_of(pool);
    if (!stats || !ops)
        return HOP_EINVAL;
    memset(stats, 0, sizeof *stats);
    unsigned int state = hop__gate_enter(&pool->state);
    int err = HOP_ECLOSED; /* the counters went with the pool */
    if (!(state & HOP__BLOCKING_CLOSED)) {
        hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        pthread_mutex_lock(&p->lock);
        *stats = p->stats;
        stats->threads = p->threads - p->starting;
        stats->threads_idle = p->idle + p->notified;
        stats->threads_peak = p->peak;
        stats->queued = p->queued;
        pthread_mutex_unlock(&p->lock);
        err = 0;
    }
    hop__gate_leave(&pool->state);
    return err;
}

/* Sleeps a little longer each time, up to 1 ms (as hop_pool_close). */
static void hop__blocking_backoff(long *ns) {
    struct timespec ts = {0, *ns};
    nanosleep(&ts, NULL);
    if (*ns < 1000000)
        *ns *= 2;
}

int hop_blocking_close(hop_blocking_t *pool) {
    const hop_executor_ops_t *ops = hop__blocking_ops_of(pool);
    if (!ops)
        return HOP_EINVAL;
    if (ops == &hop__blocking_forked_ops) {
        /* Inherited through fork(): only the memory goes, its lock and
         * condition variables undestroyed (a thread of the parent's may have
         * held the lock); jobs still queued never run. */
        hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        hop__atomic_store_ptr(&pool->executor.ops, &hop__blocking_closed_ops);
        hop__atomic_store_ptr(&pool->internal, NULL);
        free(p);
        return 0;
    }
    if (ops == &hop__blocking_closed_ops)
        return HOP_EALREADY;
    hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
    if (*hop__blocking_self_slot() == p)
        return HOP_EDEADLK; /* it would wait for itself */
    /* Its tasks may wait for pool jobs this thread staged (core/internal.h). */
    hop__batch_flush();
    for (;;) {
        unsigned int state = hop__atomic_load_uint(&pool->state);
        if (state & (HOP__BLOCKING_CLOSING | HOP__BLOCKING_CLOSED))
            return HOP_EALREADY; /* another close is under way */
        if (hop__atomic_cas_uint(&pool->state, state, state | HOP__BLOCKING_CLOSING))
            break;
    }
    /* 1. Refuse new work; continuations of the pool's tasks still come in. */
    pthread_mutex_lock(&p->lock);
    p->closing = true;
    pthread_mutex_unlock(&p->lock);
    /* 2. Every task of the pool finishes (their continuations keep running). */
    long pause_ns = 20000;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        uint64_t tasks = p->tasks;
        pthread_mutex_unlock(&p->lock);
        if (tasks == 0)
            break;
        hop__blocking_backoff(&pause_ns);
    }
    /* 3. The threads run what is queued, leave, and are joined. */
    hop__blocking_stop_threads(p);
    /* 4. The struct stays valid and refuses everything. p goes once no caller
     * is inside (one that ran queued jobs itself included), in the same CAS
     * that sets CLOSED. */
    hop__atomic_store_ptr(&pool->executor.ops, &hop__blocking_closed_ops);
    pause_ns = 1000;
    while (!hop__atomic_cas_uint(&pool->state, HOP__BLOCKING_CLOSING,
                                 HOP__BLOCKING_CLOSING | HOP__BLOCKING_CLOSED))
        hop__blocking_backoff(&pause_ns);
    hop__atomic_store_ptr(&pool->internal, NULL);
    /* A caller that got a thread only after step 3 (retrying a refused
     * creation) has left now, and nobody can create one any more: that
     * thread drains what is left and leaves too. */
    hop__blocking_stop_threads(p);
    hop__fork_untrack(&p->fork_entry);
    hop__blocking_free(p);
    hop__observe_executor_closed(&pool->executor);
    return 0;
}

/* ---- The default pool ---------------------------------------------------------- */

enum { HOP__DEFAULT_NONE = 0, HOP__DEFAULT_OPEN, HOP__DEFAULT_SHUT };

static pthread_mutex_t hop__default_lock = PTHREAD_MUTEX_INITIALIZER;
static hop_blocking_t hop__default_pool;
static unsigned int hop__default_state; /* HOP__DEFAULT_* (atomic) */
static hop_blocking_options_t hop__default_options;
static char hop__default_name[HOP__BLOCKING_NAME_MAX + 1];
static bool hop__default_hooks_registered;

/* In a child process after fork(), only the forking thread exists: the
 * default pool's threads are gone, and its lock may be held by one of them
 * for ever. The child's copy refuses work from the start (HOP_ECLOSED), and
 * its exit does not touch it. Its memory is left as it is. */
static void hop__blocking_default_atfork_child(void) {
    if (hop__atomic_load_uint(&hop__default_state) == HOP__DEFAULT_OPEN) {
        hop__atomic_store_ptr(&hop__default_pool.executor.ops, &hop__blocking_closed_ops);
        hop__atomic_store_uint(&hop__default_pool.state, HOP__BLOCKING_CLOSING | HOP__BLOCKING_CLOSED);
        hop__atomic_store_uint(&hop__default_state, HOP__DEFAULT_SHUT);
    }
    /* Another thread may have held this lock at the fork: start afresh. */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    hop__default_lock = fresh;
}

/* At exit: stop taking work and let idle threads go, without waiting for
 * running or queued jobs (one blocked for ever would hang the exit). The
 * memory stays, reachable, for the threads still running. */
static void hop__blocking_default_atexit(void) {
    pthread_mutex_lock(&hop__default_lock);
    if (hop__atomic_load_uint(&hop__default_state) == HOP__DEFAULT_OPEN) {
        hop_blocking_t *pool = &hop__default_pool;
        unsigned int state = hop__gate_enter(&pool->state);
        if (!(state & (HOP__BLOCKING_CLOSED | HOP__BLOCKING_CLOSING))) {
            hop__blocking_internal_t *p = hop__atomic_load_ptr(&pool->internal);
            pthread_mutex_lock(&p->lock);
            p->closing = p->exiting = p->abandoning = true;
            hop__blocking_wake_all(p);
            pthread_mutex_unlock(&p->lock);
        }
        /* The caller count stays raised: the pool can never be freed now. */
    }
    pthread_mutex_unlock(&hop__default_lock);
}

hop_blocking_t *hop_blocking_default(void) {
    if (hop__atomic_load_uint(&hop__default_state) != HOP__DEFAULT_NONE)
        return &hop__default_pool;
    pthread_mutex_lock(&hop__default_lock);
    hop_blocking_t *result = &hop__default_pool;
    if (hop__atomic_load_uint(&hop__default_state) == HOP__DEFAULT_NONE) {
        if (!hop__default_hooks_registered) {
            /* Best effort: neither fails short of memory exhaustion. */
            (void)atexit(hop__blocking_default_atexit);
            (void)pthread_atfork(NULL, NULL, hop__blocking_default_atfork_child);
            hop__default_hooks_registered = true;
        }
        if (hop_blocking_init(&hop__default_pool, &hop__default_options) == 0)
            hop__atomic_store_uint(&hop__default_state, HOP__DEFAULT_OPEN); /* release: the pool is set up */
        else
            result = NULL;
    }
    pthread_mutex_unlock(&hop__default_lock);
    return result;
}

int hop_blocking_default_configure(const hop_blocking_options_t *options) {
    if (!options)
        return HOP_EINVAL;
    int err = hop__blocking_check_options(options);
    if (err)
        return err;
    pthread_mutex_lock(&hop__default_lock);
    if (hop__atomic_load_uint(&hop__default_state) != HOP__DEFAULT_NONE) {
        err = HOP_EALREADY;
    } else {
        hop__default_options = *options;
        if (options->name) {
            snprintf(hop__default_name, sizeof hop__default_name, "%s", options->name);
            hop__default_options.name = hop__default_name;
        }
    }
    pthread_mutex_unlock(&hop__default_lock);
    return err;
}

int hop_blocking_default_shutdown(void) {
    pthread_mutex_lock(&hop__default_lock);
    unsigned int state = hop__atomic_load_uint(&hop__default_state);
    int err = 0;
    if (state == HOP__DEFAULT_SHUT) {
        err = HOP_EALREADY;
    } else if (state == HOP__DEFAULT_NONE) {
        /* Never used: later uses find a closed pool. */
        hop__atomic_store_ptr(&hop__default_pool.executor.ops, &hop__blocking_closed_ops);
        hop__atomic_store_uint(&hop__default_pool.state, HOP__BLOCKING_CLOSING | HOP__BLOCKING_CLOSED);
        hop__atomic_store_uint(&hop__default_state, HOP__DEFAULT_SHUT);
    } else {
        err = hop_blocking_close(&hop__default_pool);
        if (err == 0)
            hop__atomic_store_uint(&hop__default_state, HOP__DEFAULT_SHUT);
    }
    pthread_mutex_unlock(&hop__default_lock);
    return err;
}

/* ---- hop_run_blocking -------------------------------------------------------- */

int hop_run_blocking_ex(void *(*fn)(void *arg), void *arg, void **result,
                        hop_result_destructor_fn result_destructor) {
    if (!fn)
        return HOP_EINVAL;
    hop_blocking_t *pool = hop_blocking_default();
    if (!pool)
        return HOP_ENOMEM;
    return hop__run_in_executor_as(&pool->executor, fn, arg, result, result_destructor, "run_blocking");
}

int hop_run_blocking(void *(*fn)(void *arg), void *arg, void **result) {
    return hop_run_blocking_ex(fn, arg, result, NULL);
}

int hop_blocking_begin(hop_blocking_region_t *region) {
    if (!region || region->home)
        return HOP_EINVAL;
    hop_task_t *t = hop_task_current();
    if (!t)
        return HOP_ENOTTASK;
    hop_blocking_t *pool = hop_blocking_default();
    if (!pool)
        return HOP_ENOMEM;
    hop_executor_t *home = hop_task_executor(t);
    /* The move is a dispatch: the thread the task leaves takes its next job
     * at once, and the blocking pool counts the task as its own until it
     * leaves (its close waits for it). */
    int err = hop_dispatch_to_executor(&pool->executor);
    if (err)
        return err;
    region->home = home;
    return 0;
}

int hop_blocking_end(hop_blocking_region_t *region) {
    if (!region || !region->home)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    hop_executor_t *home = region->home;
    region->home = NULL;
    return hop_dispatch_to_executor(home);
}
