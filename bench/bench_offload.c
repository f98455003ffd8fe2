/* bench/bench_offload.c: hop-bench-offload, moving work between a loop and
 * a pool, next to the peers hop is judged by, all measured in one run:
 *
 *   roundtrip  one blocking job at a time, loop -> pool -> loop: latency
 *   offload    one loop keeping 1,024 tiny jobs in flight: jobs per second
 *   fork-join  fib(30) with a task per call on the pool, against serial fib
 *   idle       CPU time burnt by an open, idle pool and loop over 0.5 s
 *
 * The harness (calibration, repetitions, median/min/max, CPU time per
 * operation, table, JSON) is bench_common.c. bench/README.md says exactly
 * what each figure includes and how each peer is configured. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "bench_common.h"
#include "hop/hop.h"

extern char **environ;

/* Jobs kept in flight by the offload workload. */
#define BENCH_INFLIGHT 1024
/* The fork-join variant with a cutoff computes fib(n) serially for n at or
 * below this; only the top of the call tree becomes tasks. */
#define BENCH_FIB_CUTOFF 20
#define BENCH_MAX_THREADS 64

#ifndef HOP_BENCH_PEERS_DIR
#define HOP_BENCH_PEERS_DIR "bench/peers"
#endif

/* Results go here so that no measured loop is dead code. */
static volatile uintptr_t bench_sink;

/* The blocking job every peer offloads: returns its argument. Called through
 * a volatile pointer by every peer, so that none of them can inline it. */
__attribute__((noinline)) static void *empty_job(void *arg) { return arg; }
static void *(*volatile job_fn)(void *arg) = empty_job;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

static struct {
    unsigned int threads; /* --threads: hop's pool, libuv's threadpool, the pthread pool, Python's executor */
    int fib_n;            /* --fib */
    int pool_spin_us;     /* --pool-spin-us: hop_pool_options_t.spin_us (-1: hop's default) */
    int loop_spin_us;     /* --loop-spin-us: hop_loop_options_t.spin_us (-1: hop's default) */
    /* Each on its own cache lines: outside threads pin both with a locked
     * add on every submit (hop_pool_t.state, hop_loop_t.state), and the two
     * side by side in one line would make the loop's submits to the pool and
     * the workers' submits to the loop fight over it (false sharing that
     * hop's headers do not warn about). */
    _Alignas(128) hop_pool_t pool;
    _Alignas(128) hop_loop_t loop;
    _Alignas(128) char python_version[64];
} env;

/* ---------------------------------------------------------------------------
 * hop. Each measured loop runs in a task: on the loop for round trips and
 * offload, on the pool for fork-join. The main thread spawns it and blocks
 * in hop_future_wait (a condition variable) until it finishes; the task
 * times its own loop, so spawning and joining it are not counted. */

typedef struct {
    uint64_t iters;
    uint64_t ns;
    int error;
    const char *what;
} hop_run_t;

static uint64_t hop_run_task(hop_executor_t *executor, hop_task_fn fn, uint64_t iters, const char *what) {
    hop_run_t r = {.iters = iters};
    hop_task_t *t;
    int err = hop_task_spawn(executor, fn, &r, NULL, &t);
    if (err)
        bench_die("hop_task_spawn (%s): %s", what, hop_strerror(err));
    err = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    if (err)
        bench_die("%s: the task failed: %s", what, hop_strerror(err));
    if (r.error)
        bench_die("%s: %s: %s", what, r.what, hop_strerror(r.error));
    return r.ns;
}

/* hop's own counters (hop_pool_stats, hop_loop_stats) around every run of a
 * hop row, calibration included, divided by the operations run: how many
 * times per round trip or job a worker parked or was woken, the loop was
 * signalled, and so on. They say where the time goes when a figure is off. */
typedef struct {
    bench_run_fn inner;
    void *inner_state;
    double units_per_iter;
    uint64_t ops;
    hop_pool_stats_t pool;
    hop_loop_stats_t loop;
} hop_counted_t;

static uint64_t hop_counted_run(void *state, uint64_t iters) {
    hop_counted_t *c = state;
    hop_pool_stats_t p0, p1;
    hop_loop_stats_t l0, l1;
    hop_pool_stats(&env.pool, &p0);
    hop_loop_stats(&env.loop, &l0);
    uint64_t ns = c->inner(c->inner_state, iters);
    hop_pool_stats(&env.pool, &p1);
    hop_loop_stats(&env.loop, &l1);
    c->ops += (uint64_t)((double)iters * c->units_per_iter);
    c->pool.jobs_run += p1.jobs_run - p0.jobs_run;
    c->pool.steals += p1.steals - p0.steals;
    c->pool.parks += p1.parks - p0.parks;
    c->pool.wakeups += p1.wakeups - p0.wakeups;
    c->pool.injected += p1.injected - p0.injected;
    c->loop.jobs_run += l1.jobs_run - l0.jobs_run;
    c->loop.wakeups_sent += l1.wakeups_sent - l0.wakeups_sent;
    c->loop.batches += l1.batches - l0.batches;
    return ns;
}

/* roundtrip, hop run_in_executor: one task on the loop offloads the empty
 * job to the pool and waits for it, iters times. */
static void *rt_hop_offload_task(void *arg) {
    hop_run_t *r = arg;
    hop_executor_t *pool = hop_pool_executor(&env.pool);
    uintptr_t acc = 0;
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        void *result;
        int err = hop_run_in_executor(pool, job_fn, (void *)(uintptr_t)i, &result);
        if (err) {
            r->error = err;
            r->what = "hop_run_in_executor";
            break;
        }
        acc += (uintptr_t)result;
    }
    r->ns = bench_now_ns() - t0;
    bench_window_end();
    bench_sink = acc;
    return NULL;
}

static uint64_t rt_hop_offload_run(void *state, uint64_t iters) {
    (void)state;
    return hop_run_task(hop_loop_executor(&env.loop), rt_hop_offload_task, iters,
                        "roundtrip, hop run_in_executor");
}

/* roundtrip, hop dispatch: the task itself moves to the pool, calls the
 * empty job there, and moves back to the loop. */
static void *rt_hop_dispatch_task(void *arg) {
    hop_run_t *r = arg;
    hop_executor_t *pool = hop_pool_executor(&env.pool);
    uintptr_t acc = 0;
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        int err = hop_dispatch_to_executor(pool);
        if (err) {
            r->error = err;
            r->what = "hop_dispatch_to_executor";
            break;
        }
        acc += (uintptr_t)job_fn((void *)(uintptr_t)i);
        err = hop_dispatch_to_loop(&env.loop);
        if (err) {
            r->error = err;
            r->what = "hop_dispatch_to_loop";
            break;
        }
    }
    r->ns = bench_now_ns() - t0;
    bench_window_end();
    bench_sink = acc;
    return NULL;
}

static uint64_t rt_hop_dispatch_run(void *state, uint64_t iters) {
    (void)state;
    return hop_run_task(hop_loop_executor(&env.loop), rt_hop_dispatch_task, iters, "roundtrip, hop dispatch");
}

/* Before measuring: the work really goes where the rows say. Threads are
 * told apart by gettid(), not pthread_self(), which glibc declares const:
 * the compiler may then reuse one call's value across a migration. */
static pid_t check_job_thread;

static void *check_job(void *arg) {
    check_job_thread = gettid();
    return arg;
}

static void *check_task(void *arg) {
    hop_run_t *r = arg;
    pid_t loop_thread = gettid();
    void *result = NULL;
    r->what = "run_in_executor";
    r->error = hop_run_in_executor(hop_pool_executor(&env.pool), check_job, r, &result);
    if (r->error)
        return NULL;
    if (result != r || check_job_thread == loop_thread || gettid() != loop_thread ||
        hop_loop_current() != &env.loop) {
        r->error = HOP_ESTATE;
        r->what = "the job did not run on another thread, or the task did not come back to the loop";
        return NULL;
    }
    r->what = "dispatch";
    if ((r->error = hop_dispatch_to_executor(hop_pool_executor(&env.pool))) != 0)
        return NULL;
    bool moved = gettid() != loop_thread && hop_loop_current() == NULL;
    if ((r->error = hop_dispatch_to_loop(&env.loop)) != 0)
        return NULL;
    if (!moved || gettid() != loop_thread || hop_loop_current() != &env.loop) {
        r->error = HOP_ESTATE;
        r->what = "dispatch did not move the task to the pool and back";
    }
    return NULL;
}

/* offload, hop: BENCH_INFLIGHT tasks on the loop, each offloading the empty
 * job to the pool again and again; together they keep BENCH_INFLIGHT jobs
 * in flight. The timed window opens once every task has started and waits
 * at a start line, and closes when the last job has come back: creating the
 * tasks and freeing them are outside it, like allocating uv_work_t requests
 * is for libuv. Every counter here is touched on the loop thread only. */
typedef struct {
    hop_future_t ready, start, done, release;
    uint64_t arrived, remaining;
    int error;
} tp_shared_t;

typedef struct {
    tp_shared_t *shared;
    uint64_t count;
    uint64_t tasks;
} tp_child_t;

static void *tp_child_task(void *arg) {
    tp_child_t *c = arg;
    tp_shared_t *s = c->shared;
    if (++s->arrived == c->tasks)
        hop_future_set_result(&s->ready, NULL);
    int err = hop_future_await(&s->start, NULL);
    hop_executor_t *pool = hop_pool_executor(&env.pool);
    uintptr_t acc = 0;
    for (uint64_t k = 0; k < c->count && !err; k++) {
        void *result;
        err = hop_run_in_executor(pool, job_fn, (void *)(uintptr_t)k, &result);
        acc += (uintptr_t)result;
    }
    bench_sink = acc;
    if (err)
        s->error = err;
    if (--s->remaining == 0)
        hop_future_set_result(&s->done, NULL);
    hop_future_await(&s->release, NULL);
    return NULL;
}

static void *tp_hop_driver_task(void *arg) {
    hop_run_t *r = arg;
    static tp_child_t children[BENCH_INFLIGHT];
    static hop_task_t *tasks[BENCH_INFLIGHT];
    tp_shared_t s = {.error = 0};
    hop_future_init(&s.ready);
    hop_future_init(&s.start);
    hop_future_init(&s.done);
    hop_future_init(&s.release);
    uint64_t n = r->iters < BENCH_INFLIGHT ? r->iters : BENCH_INFLIGHT;
    s.remaining = n;
    r->what = "hop_task_spawn";
    for (uint64_t k = 0; k < n; k++) {
        children[k] = (tp_child_t){.shared = &s, .count = r->iters / n + (k < r->iters % n), .tasks = n};
        int err = hop_task_spawn(hop_loop_executor(&env.loop), tp_child_task, &children[k], NULL, &tasks[k]);
        if (err)
            bench_die("offload, hop: hop_task_spawn of child %llu: %s", (unsigned long long)k,
                      hop_strerror(err));
    }
    hop_future_await(&s.ready, NULL);
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    hop_future_set_result(&s.start, NULL);
    hop_future_await(&s.done, NULL);
    r->ns = bench_now_ns() - t0;
    bench_window_end();
    hop_future_set_result(&s.release, NULL);
    for (uint64_t k = 0; k < n; k++) {
        hop_task_join(tasks[k], NULL);
        hop_task_unref(tasks[k]);
    }
    r->error = s.error;
    r->what = "hop_run_in_executor";
    return NULL;
}

static uint64_t tp_hop_run(void *state, uint64_t iters) {
    (void)state;
    return hop_run_task(hop_loop_executor(&env.loop), tp_hop_driver_task, iters, "offload, hop");
}

/* fork-join: fib(n) where every call with n >= 2 spawns fib(n-1) and
 * fib(n-2) as tasks on the pool (default task options) and joins them; the
 * leaves (n < 2) are tasks too. With a cutoff, calls at or below it compute
 * serially. */
__attribute__((noinline)) static long fib_serial(long n) {
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

static long fib_cutoff; /* read-only while a fork-join run is in progress */

static void *fib_task(void *arg) {
    long n = (long)(intptr_t)arg;
    if (n < 2)
        return arg;
    if (n <= fib_cutoff)
        return (void *)(intptr_t)fib_serial(n);
    hop_executor_t *pool = hop_pool_executor(&env.pool);
    hop_task_t *a, *b;
    int err = hop_task_spawn(pool, fib_task, (void *)(intptr_t)(n - 1), NULL, &a);
    if (!err)
        err = hop_task_spawn(pool, fib_task, (void *)(intptr_t)(n - 2), NULL, &b);
    if (err)
        bench_die("fork-join: hop_task_spawn: %s", hop_strerror(err));
    void *ra, *rb;
    err = hop_task_join(a, &ra);
    if (!err)
        err = hop_task_join(b, &rb);
    if (err)
        bench_die("fork-join: hop_task_join: %s", hop_strerror(err));
    hop_task_unref(a);
    hop_task_unref(b);
    return (void *)((intptr_t)ra + (intptr_t)rb);
}

/* The number of calls fib(n) makes, itself included: the tasks spawned by
 * the task-per-call variant. */
static uint64_t fib_calls(int n) {
    uint64_t a = 1, b = 1; /* calls(0), calls(1) */
    for (int i = 2; i <= n; i++) {
        uint64_t c = a + b + 1;
        a = b;
        b = c;
    }
    return n == 0 ? a : b;
}

static uint64_t fj_hop_run(void *state, uint64_t iters) {
    fib_cutoff = (long)(intptr_t)state;
    long expected = fib_serial(env.fib_n);
    uint64_t ns = 0;
    for (uint64_t i = 0; i < iters; i++) {
        hop_task_t *t;
        uint64_t t0 = bench_now_ns();
        int err =
            hop_task_spawn(hop_pool_executor(&env.pool), fib_task, (void *)(intptr_t)env.fib_n, NULL, &t);
        if (err)
            bench_die("fork-join: hop_task_spawn: %s", hop_strerror(err));
        void *result;
        err = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result);
        ns += bench_now_ns() - t0;
        hop_task_unref(t);
        if (err)
            bench_die("fork-join: the root task failed: %s", hop_strerror(err));
        if ((long)(intptr_t)result != expected)
            bench_die("fork-join: fib(%d) = %ld, expected %ld", env.fib_n, (long)(intptr_t)result, expected);
    }
    return ns;
}

static uint64_t fj_serial_run(void *state, uint64_t iters) {
    (void)state;
    volatile int n = env.fib_n; /* not a constant the compiler could fold */
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        acc += (uintptr_t)fib_serial(n);
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* ---------------------------------------------------------------------------
 * libuv: uv_queue_work on libuv's own threadpool (UV_THREADPOOL_SIZE threads,
 * set by main before the pool starts), from a uv loop running on the main
 * thread. Each after_work callback (on the loop thread) submits the next job
 * until iters have been submitted; the run ends when uv_run finds no more
 * requests. state: the number of requests in flight (1 or BENCH_INFLIGHT). */

static struct {
    uv_loop_t loop;
    uv_work_t reqs[BENCH_INFLIGHT];
    uint64_t target, submitted, completed;
    uintptr_t acc;
} uvp;

static void uvp_work(uv_work_t *req) { req->data = job_fn(req->data); }

static void uvp_submit(uv_work_t *req);

static void uvp_after_work(uv_work_t *req, int status) {
    if (status != 0)
        bench_die("uv_queue_work: %s", uv_strerror(status));
    uvp.completed++;
    uvp.acc += (uintptr_t)req->data;
    if (uvp.submitted < uvp.target)
        uvp_submit(req);
}

static void uvp_submit(uv_work_t *req) {
    req->data = (void *)(uintptr_t)uvp.submitted++;
    int err = uv_queue_work(&uvp.loop, req, uvp_work, uvp_after_work);
    if (err)
        bench_die("uv_queue_work: %s", uv_strerror(err));
}

static uint64_t uvp_run(void *state, uint64_t iters) {
    uint64_t inflight = (uint64_t)(uintptr_t)state;
    uvp.target = iters;
    uvp.submitted = uvp.completed = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t k = 0; k < inflight && k < iters; k++)
        uvp_submit(&uvp.reqs[k]);
    uv_run(&uvp.loop, UV_RUN_DEFAULT);
    uint64_t t1 = bench_now_ns();
    if (uvp.completed != iters)
        bench_die("uv_queue_work: %llu of %llu jobs completed", (unsigned long long)uvp.completed,
                  (unsigned long long)iters);
    bench_sink = uvp.acc;
    return t1 - t0;
}

/* ---------------------------------------------------------------------------
 * The baseline: a naive thread pool. One shared FIFO protected by a mutex;
 * workers wait on a condition variable, signalled once per submitted job.
 * The submitting thread (the main thread, standing for a loop) has its own
 * mutex, condition variable and completion list: a worker pushes the
 * finished job there and signals; the submitter drains the list and
 * resubmits, like after_work. The two mutexes are never held together.
 * state: the number of jobs in flight (1 or BENCH_INFLIGHT). */

typedef struct naive_job_s {
    struct naive_job_s *next;
    void *arg;
    void *result;
} naive_job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    naive_job_t *head, *tail;
    bool stop;
    unsigned int started;
    pthread_t workers[BENCH_MAX_THREADS];
    pthread_mutex_t done_lock;
    pthread_cond_t done_cond;
    naive_job_t *done;
    naive_job_t jobs[BENCH_INFLIGHT];
} naive = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .cond = PTHREAD_COND_INITIALIZER,
           .done_lock = PTHREAD_MUTEX_INITIALIZER,
           .done_cond = PTHREAD_COND_INITIALIZER};

static void *naive_worker(void *arg) {
    (void)arg;
    pthread_mutex_lock(&naive.lock);
    for (;;) {
        while (!naive.head && !naive.stop)
            pthread_cond_wait(&naive.cond, &naive.lock);
        naive_job_t *job = naive.head;
        if (!job)
            break; /* stopping, and the queue is empty */
        naive.head = job->next;
        if (!naive.head)
            naive.tail = NULL;
        pthread_mutex_unlock(&naive.lock);
        job->result = job_fn(job->arg);
        pthread_mutex_lock(&naive.done_lock);
        job->next = naive.done;
        naive.done = job;
        pthread_cond_signal(&naive.done_cond);
        pthread_mutex_unlock(&naive.done_lock);
        pthread_mutex_lock(&naive.lock);
    }
    pthread_mutex_unlock(&naive.lock);
    return NULL;
}

static void naive_submit(naive_job_t *job) {
    job->next = NULL;
    pthread_mutex_lock(&naive.lock);
    if (naive.tail)
        naive.tail->next = job;
    else
        naive.head = job;
    naive.tail = job;
    pthread_cond_signal(&naive.cond);
    pthread_mutex_unlock(&naive.lock);
}

static void naive_start(void) {
    for (unsigned int i = 0; i < env.threads; i++) {
        int err = pthread_create(&naive.workers[i], NULL, naive_worker, NULL);
        if (err)
            bench_die("pthread_create: %s", strerror(err));
        naive.started++;
    }
}

static void naive_stop(void) {
    pthread_mutex_lock(&naive.lock);
    naive.stop = true;
    pthread_cond_broadcast(&naive.cond);
    pthread_mutex_unlock(&naive.lock);
    for (unsigned int i = 0; i < naive.started; i++)
        pthread_join(naive.workers[i], NULL);
    naive.started = 0;
}

static uint64_t naive_run(void *state, uint64_t iters) {
    uint64_t inflight = (uint64_t)(uintptr_t)state;
    if (naive.started == 0)
        naive_start();
    uint64_t submitted = 0, completed = 0;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (; submitted < inflight && submitted < iters; submitted++) {
        naive.jobs[submitted].arg = (void *)(uintptr_t)submitted;
        naive_submit(&naive.jobs[submitted]);
    }
    while (completed < iters) {
        pthread_mutex_lock(&naive.done_lock);
        while (!naive.done)
            pthread_cond_wait(&naive.done_cond, &naive.done_lock);
        naive_job_t *list = naive.done;
        naive.done = NULL;
        pthread_mutex_unlock(&naive.done_lock);
        while (list) {
            naive_job_t *job = list;
            list = job->next;
            completed++;
            acc += (uintptr_t)job->result;
            if (submitted < iters) {
                job->arg = (void *)(uintptr_t)submitted++;
                naive_submit(job);
            }
        }
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* ---------------------------------------------------------------------------
 * The reference lower bound: two threads hand a job back and forth through
 * two atomic words, both spinning (with a pause) while they wait, so there
 * is no system call and no sleeping thread to wake. What a round trip costs
 * when two cores are dedicated to it: not a peer, and not a design anyone
 * should ship (it burns two cores). */

static struct {
    _Alignas(64) atomic_uint_fast64_t req;
    _Alignas(64) atomic_uint_fast64_t resp;
} spin;

static void *spin_partner(void *arg) {
    (void)arg;
    uint_fast64_t last = 0;
    /* Running and spinning: the clock may start. */
    atomic_store_explicit(&spin.resp, UINT_FAST64_MAX, memory_order_release);
    for (;;) {
        uint_fast64_t r;
        while ((r = atomic_load_explicit(&spin.req, memory_order_acquire)) == last)
            cpu_relax();
        if (r == UINT_FAST64_MAX)
            return NULL;
        job_fn((void *)(uintptr_t)r);
        atomic_store_explicit(&spin.resp, r, memory_order_release);
        last = r;
    }
}

static uint64_t spin_run(void *state, uint64_t iters) {
    (void)state;
    atomic_store(&spin.req, 0);
    atomic_store(&spin.resp, 0);
    pthread_t partner;
    int err = pthread_create(&partner, NULL, spin_partner, NULL);
    if (err)
        bench_die("pthread_create: %s", strerror(err));
    /* Not timed: a new thread can take milliseconds to get a CPU. */
    while (atomic_load_explicit(&spin.resp, memory_order_acquire) != UINT_FAST64_MAX)
        cpu_relax();
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    for (uint_fast64_t i = 1; i <= iters; i++) {
        atomic_store_explicit(&spin.req, i, memory_order_release);
        while (atomic_load_explicit(&spin.resp, memory_order_acquire) != i)
            cpu_relax();
    }
    uint64_t t1 = bench_now_ns();
    bench_window_end();
    atomic_store_explicit(&spin.req, UINT_FAST64_MAX, memory_order_release);
    pthread_join(partner, NULL);
    return t1 - t0;
}

/* ---------------------------------------------------------------------------
 * Python asyncio: bench/peers/asyncio_offload.py in a subprocess. It
 * calibrates and repeats like this harness (same target and --repeat) and
 * prints one line:
 *   asyncio_offload mode=M python=V iterations=N median_ns=X min_ns=X max_ns=X cpu_ns=X cores=X
 * with nanoseconds per operation and its own process CPU time per operation.
 * state: the mode. */

static const char *python_command(void) {
    const char *python = getenv("HOP_BENCH_PYTHON");
    return python && *python ? python : "python3";
}

static const char *python_external(bench_t *b, const bench_options_t *o) {
    static char why[1280];
    const char *mode = b->state;
    char script[1024], threads[16], repeat[16], target_ms[32], inflight[16];
    snprintf(script, sizeof script, "%s/asyncio_offload.py", HOP_BENCH_PEERS_DIR);
    if (access(script, R_OK) != 0) {
        snprintf(why, sizeof why, "no %s", script);
        return why;
    }
    snprintf(threads, sizeof threads, "%u", env.threads);
    snprintf(repeat, sizeof repeat, "%d", o->repeat);
    snprintf(target_ms, sizeof target_ms, "%.3f", (double)o->target_ns / 1e6);
    snprintf(inflight, sizeof inflight, "%d", BENCH_INFLIGHT);
    char *argv[] = {(char *)python_command(),
                    script,
                    "--mode",
                    (char *)mode,
                    "--threads",
                    threads,
                    "--repeat",
                    repeat,
                    "--target-ms",
                    target_ms,
                    "--inflight",
                    inflight,
                    NULL};

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0)
        bench_die("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[0], &actions, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (err) {
        close(fds[0]);
        return err == ENOENT ? "not installed" : strerror(err);
    }
    char out[4096];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fds[0], out + len, sizeof out - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof out - 1)
            break;
    }
    out[len] = '\0';
    close(fds[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return "not installed";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "%s failed (status %d)", script, status);
        return why;
    }
    char *line = strstr(out, "asyncio_offload ");
    if (!line) {
        snprintf(why, sizeof why, "no result line from %s", script);
        return why;
    }
    line[strcspn(line, "\n")] = '\0';
    double median = 0, min = 0, max = 0, cpu = 0, cores = 0;
    unsigned long long iters = 0;
    int found = 0;
    char *save;
    for (char *tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (strcmp(k, "median_ns") == 0)
            median = strtod(v, NULL), found |= 1;
        else if (strcmp(k, "min_ns") == 0)
            min = strtod(v, NULL), found |= 2;
        else if (strcmp(k, "max_ns") == 0)
            max = strtod(v, NULL), found |= 4;
        else if (strcmp(k, "cpu_ns") == 0)
            cpu = strtod(v, NULL), found |= 8;
        else if (strcmp(k, "cores") == 0)
            cores = strtod(v, NULL), found |= 16;
        else if (strcmp(k, "iterations") == 0)
            iters = strtoull(v, NULL, 10), found |= 32;
        else if (strcmp(k, "python") == 0)
            snprintf(env.python_version, sizeof env.python_version, "%s", v);
    }
    if (found != 63 || median <= 0 || min <= 0 || max <= 0) {
        snprintf(why, sizeof why, "unreadable result line from %s", script);
        return why;
    }
    bench_set_result(b, iters, median, min, max, cpu, cores);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Idle: the process's CPU time over ~0.5 s of sleep on the main thread right
 * after the last workload, with hop's pool and loop still open (and libuv's
 * threadpool and the pthread pool, whose threads block on condition
 * variables). One sample with --quick, three otherwise; the figures are CPU
 * milliseconds per 0.5 s. */

static const char *idle_external(bench_t *b, const bench_options_t *o) {
    enum { MAX_SAMPLES = 3 };
    int samples = o->quick ? 1 : MAX_SAMPLES;
    double cpu[MAX_SAMPLES], cores[MAX_SAMPLES];
    for (int i = 0; i < samples; i++) {
        uint64_t cpu0 = bench_cpu_ns(), t0 = bench_now_ns();
        struct timespec half = {0, 500000000L};
        while (nanosleep(&half, &half) != 0 && errno == EINTR)
            ;
        uint64_t wall = bench_now_ns() - t0;
        cpu[i] = (double)(bench_cpu_ns() - cpu0) * 5e8 / (double)wall; /* per 0.5 s exactly */
        cores[i] = cpu[i] / 5e8;
    }
    /* Few samples: sort by hand. */
    for (int i = 1; i < samples; i++)
        for (int j = i; j > 0 && cpu[j] < cpu[j - 1]; j--) {
            double t = cpu[j];
            cpu[j] = cpu[j - 1];
            cpu[j - 1] = t;
            t = cores[j];
            cores[j] = cores[j - 1];
            cores[j - 1] = t;
        }
    bench_set_result(b, (uint64_t)samples, cpu[samples / 2], cpu[0], cpu[samples - 1], cpu[samples / 2],
                     cores[samples / 2]);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * The table. */

enum {
    RT_HOP,
    RT_HOP_DISPATCH,
    RT_UV,
    RT_NAIVE,
    RT_ASYNCIO,
    RT_ASYNCIO_TO_THREAD,
    RT_SPIN,
    TP_HOP,
    TP_UV,
    TP_NAIVE,
    TP_ASYNCIO,
    FJ_SERIAL,
    FJ_HOP,
    FJ_HOP_CUTOFF,
    IDLE,
    COUNT
};

static void usage(FILE *f) {
    fprintf(
        f,
        "usage: hop-bench-offload [--quick] [--repeat N] [--json FILE] [--filter SUBSTRING] [--threads N]\n"
        "                         [--fib N]\n"
        "  --quick        repetitions of ~20 ms instead of ~75 ms, and 5 of them\n"
        "  --repeat N     repetitions per figure, the median is reported (default 11; 5 with --quick)\n"
        "  --json FILE    also write the figures and the machine's description to FILE\n"
        "  --filter S,..  measure only the rows whose name contains one of the substrings\n"
        "                 (roundtrip, offload, forkjoin, idle, hop, uv_queue_work, asyncio, ...)\n"
        "  --threads N    threads of hop's pool and of every peer's pool (default 2)\n"
        "  --fib N        the fork-join workload computes fib(N) (default 30)\n"
        "  --iterations N run every row N iterations (round trips, jobs, fibs) per repetition,\n"
        "                 without calibration or warm-up (for valgrind --tool=callgrind)\n"
        "  --pool-spin-us N, --loop-spin-us N\n"
        "                 spin_us of hop's pool and loop options (default -1: hop's own default);\n"
        "                 for investigation: the recorded results use the defaults\n"
        "Environment: HOP_BENCH_PYTHON (default python3) runs bench/peers/asyncio_offload.py.\n"
        "UV_THREADPOOL_SIZE is set to --threads for libuv's peer, whatever it was.\n");
}

static bool row_measured(const bench_t *benches, int i) { return bench_measured(&benches[i]); }

static const char *met(bool ok) { return ok ? "met" : "NOT met"; }

int main(int argc, char **argv) {
    bench_init("hop-bench-offload");
    bench_options_t o;
    bench_options_init(&o);
    const char *filter = NULL;
    env.threads = 2;
    env.fib_n = 0;
    env.pool_spin_us = env.loop_spin_us = -1;
    for (int i = 1; i < argc; i++) {
        if (bench_parse_option(&o, argc, argv, &i)) {
            continue;
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > BENCH_MAX_THREADS)
                bench_die("--threads wants a count from 1 to %d, not \"%s\"", BENCH_MAX_THREADS, argv[i]);
            env.threads = (unsigned int)n;
        } else if ((strcmp(argv[i], "--pool-spin-us") == 0 || strcmp(argv[i], "--loop-spin-us") == 0) &&
                   i + 1 < argc) {
            bool pool = argv[i][2] == 'p';
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < -1 || n > 1000000)
                bench_die("%s wants microseconds (-1: hop's default), not \"%s\"", argv[i - 1], argv[i]);
            *(pool ? &env.pool_spin_us : &env.loop_spin_us) = (int)n;
        } else if (strcmp(argv[i], "--fib") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 2 || n > 40)
                bench_die("--fib wants n from 2 to 40, not \"%s\"", argv[i]);
            env.fib_n = (int)n;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    bench_options_finish(&o, 11, 5);
    if (env.fib_n == 0)
        env.fib_n = 30;
#if !defined(__OPTIMIZE__)
    fprintf(stderr, "hop-bench-offload: warning: built without optimisation; use a Release build\n");
#endif

    /* libuv reads it once, when its threadpool starts (the first
     * uv_queue_work), which is after this. */
    char threads[16];
    snprintf(threads, sizeof threads, "%u", env.threads);
    setenv("UV_THREADPOOL_SIZE", threads, 1);

    hop_pool_options_t pool_options = {.threads = env.threads, .name = NULL, .spin_us = env.pool_spin_us};
    int err = hop_pool_init(&env.pool, &pool_options);
    if (err)
        bench_die("hop_pool_init: %s", hop_strerror(err));
    hop_loop_options_t loop_options = {.name = NULL, .batch = 0, .spin_us = env.loop_spin_us};
    err = hop_loop_init(&env.loop, &loop_options);
    if (!err)
        err = hop_loop_start(&env.loop);
    if (err)
        bench_die("hop_loop_init/start: %s", hop_strerror(err));
    err = uv_loop_init(&uvp.loop);
    if (err)
        bench_die("uv_loop_init: %s", uv_strerror(err));
    {
        hop_run_t r = {.iters = 1};
        hop_task_t *t;
        err = hop_task_spawn(hop_loop_executor(&env.loop), check_task, &r, NULL, &t);
        if (err)
            bench_die("hop_task_spawn (check): %s", hop_strerror(err));
        hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(t);
        if (r.error)
            bench_die("check: %s: %s", r.what, hop_strerror(r.error));
    }

    static char uv_rt_label[64], naive_label[64], asyncio_label[64], to_thread_label[64], uv_tp_label[64],
        naive_tp_label[64], asyncio_tp_label[80], fj_unit[32], fj_serial_label[64], fj_hop_label[64],
        fj_cutoff_label[80];
    snprintf(uv_rt_label, sizeof uv_rt_label, "libuv uv_queue_work, %u threads", env.threads);
    snprintf(naive_label, sizeof naive_label, "pthread mutex+condvar pool, %u thr", env.threads);
    snprintf(asyncio_label, sizeof asyncio_label, "asyncio run_in_executor, %u thr", env.threads);
    snprintf(to_thread_label, sizeof to_thread_label, "asyncio.to_thread, %u threads", env.threads);
    snprintf(uv_tp_label, sizeof uv_tp_label, "libuv uv_queue_work, %d in flight", BENCH_INFLIGHT);
    snprintf(naive_tp_label, sizeof naive_tp_label, "pthread pool, %d in flight", BENCH_INFLIGHT);
    snprintf(asyncio_tp_label, sizeof asyncio_tp_label, "asyncio run_in_executor, %d in flight",
             BENCH_INFLIGHT);
    snprintf(fj_unit, sizeof fj_unit, "ms/fib(%d)", env.fib_n);
    snprintf(fj_serial_label, sizeof fj_serial_label, "serial fib(%d), one thread", env.fib_n);
    snprintf(fj_hop_label, sizeof fj_hop_label, "hop, a task per call (%llu tasks)",
             (unsigned long long)fib_calls(env.fib_n));
    snprintf(fj_cutoff_label, sizeof fj_cutoff_label, "hop, tasks above n=%d, serial below",
             BENCH_FIB_CUTOFF);

    bench_t benches[COUNT] = {
        [RT_HOP] = {.workload = "roundtrip",
                    .peer = "hop run_in_executor (loop->pool->loop)",
                    .name = "roundtrip.hop_run_in_executor",
                    .unit = "us/roundtrip",
                    .unit_ns = 1e3,
                    .run = rt_hop_offload_run,
                    .units_per_iter = 1.0},
        [RT_HOP_DISPATCH] = {.workload = "roundtrip",
                             .peer = "hop dispatch_to_executor + _to_loop",
                             .name = "roundtrip.hop_dispatch",
                             .unit = "us/roundtrip",
                             .unit_ns = 1e3,
                             .run = rt_hop_dispatch_run,
                             .units_per_iter = 1.0},
        [RT_UV] = {.workload = "roundtrip",
                   .peer = uv_rt_label,
                   .name = "roundtrip.uv_queue_work",
                   .unit = "us/roundtrip",
                   .unit_ns = 1e3,
                   .run = uvp_run,
                   .state = (void *)(uintptr_t)1,
                   .units_per_iter = 1.0},
        [RT_NAIVE] = {.workload = "roundtrip",
                      .peer = naive_label,
                      .name = "roundtrip.pthread_pool",
                      .unit = "us/roundtrip",
                      .unit_ns = 1e3,
                      .run = naive_run,
                      .state = (void *)(uintptr_t)1,
                      .units_per_iter = 1.0},
        [RT_ASYNCIO] = {.workload = "roundtrip",
                        .peer = asyncio_label,
                        .name = "roundtrip.asyncio_run_in_executor",
                        .unit = "us/roundtrip",
                        .unit_ns = 1e3,
                        .external = python_external,
                        .state = "run_in_executor"},
        [RT_ASYNCIO_TO_THREAD] = {.workload = "roundtrip",
                                  .peer = to_thread_label,
                                  .name = "roundtrip.asyncio_to_thread",
                                  .unit = "us/roundtrip",
                                  .unit_ns = 1e3,
                                  .external = python_external,
                                  .state = "to_thread"},
        [RT_SPIN] = {.workload = "roundtrip",
                     .peer = "REFERENCE, not a peer: 2 threads spin",
                     .name = "roundtrip.spin_reference",
                     .unit = "us/roundtrip",
                     .unit_ns = 1e3,
                     .run = spin_run,
                     .units_per_iter = 1.0},
        [TP_HOP] = {.workload = "offload",
                    .peer = "hop, 1024 loop tasks x run_in_executor",
                    .name = "offload.hop_run_in_executor",
                    .unit = "jobs/s",
                    .run = tp_hop_run,
                    .units_per_iter = 1.0,
                    .rate = true},
        [TP_UV] = {.workload = "offload",
                   .peer = uv_tp_label,
                   .name = "offload.uv_queue_work",
                   .unit = "jobs/s",
                   .run = uvp_run,
                   .state = (void *)(uintptr_t)BENCH_INFLIGHT,
                   .units_per_iter = 1.0,
                   .rate = true},
        [TP_NAIVE] = {.workload = "offload",
                      .peer = naive_tp_label,
                      .name = "offload.pthread_pool",
                      .unit = "jobs/s",
                      .run = naive_run,
                      .state = (void *)(uintptr_t)BENCH_INFLIGHT,
                      .units_per_iter = 1.0,
                      .rate = true},
        [TP_ASYNCIO] = {.workload = "offload",
                        .peer = asyncio_tp_label,
                        .name = "offload.asyncio_run_in_executor",
                        .unit = "jobs/s",
                        .rate = true,
                        .external = python_external,
                        .state = "throughput"},
        [FJ_SERIAL] = {.workload = "fork-join",
                       .peer = fj_serial_label,
                       .name = "forkjoin.serial",
                       .unit = fj_unit,
                       .unit_ns = 1e6,
                       .run = fj_serial_run,
                       .units_per_iter = 1.0},
        [FJ_HOP] = {.workload = "fork-join",
                    .peer = fj_hop_label,
                    .name = "forkjoin.hop_task_per_call",
                    .unit = fj_unit,
                    .unit_ns = 1e6,
                    .run = fj_hop_run,
                    .state = (void *)(intptr_t)1,
                    .units_per_iter = 1.0},
        [FJ_HOP_CUTOFF] = {.workload = "fork-join",
                           .peer = fj_cutoff_label,
                           .name = "forkjoin.hop_cutoff",
                           .unit = fj_unit,
                           .unit_ns = 1e6,
                           .run = fj_hop_run,
                           .state = (void *)(intptr_t)BENCH_FIB_CUTOFF,
                           .units_per_iter = 1.0},
        [IDLE] = {.workload = "idle",
                  .peer = "hop pool + loop open, 0.5 s idle",
                  .name = "idle.hop",
                  .unit = "cpu ms/0.5 s",
                  .unit_ns = 1e6,
                  .external = idle_external},
    };
    static hop_counted_t counted[COUNT];
    static const int hop_rows[] = {RT_HOP, RT_HOP_DISPATCH, TP_HOP, FJ_HOP, FJ_HOP_CUTOFF};
    for (size_t k = 0; k < sizeof hop_rows / sizeof hop_rows[0]; k++) {
        bench_t *b = &benches[hop_rows[k]];
        counted[hop_rows[k]] =
            (hop_counted_t){.inner = b->run, .inner_state = b->state, .units_per_iter = 1.0};
        b->run = hop_counted_run;
        b->state = &counted[hop_rows[k]];
    }
    bench_filter(benches, COUNT, filter);

    bench_machine_t machine;
    bench_machine(&machine);
    bench_run_all(benches, COUNT, &o);

    printf("hop-bench-offload: hop %s, %d repetitions of ~%.0f ms, median reported\n", hop_version_string(),
           o.repeat, (double)o.target_ns / 1e6);
    printf("machine: %s, %ld cores online, %s, %s, load average %.2f at start\n", machine.cpu, machine.nproc,
           machine.kernel, BENCH_COMPILER, machine.load1);
    char pool_spin[32], loop_spin[32];
    snprintf(pool_spin, sizeof pool_spin, env.pool_spin_us < 0 ? "default" : "%d us", env.pool_spin_us);
    snprintf(loop_spin, sizeof loop_spin, env.loop_spin_us < 0 ? "default" : "%d us", env.loop_spin_us);
    printf("hop: pool of %u threads (spin %s) and one loop (hop_loop_start, spin %s); "
           "libuv %s: UV_THREADPOOL_SIZE=%u;\n"
           "pthread pool: %u workers; asyncio: %s, ThreadPoolExecutor(max_workers=%u)\n\n",
           env.threads, pool_spin, loop_spin, uv_version_string(), env.threads, env.threads,
           env.python_version[0] ? env.python_version : "Python (not run)", env.threads);
    bench_print_table(stdout, benches, COUNT);
    printf(
        "(ratio: cost relative to the first row of the workload, > 1 is slower; cpu/op: process CPU time,\n"
        " user + system of every thread, per round trip, job or fib; cores: CPU time / wall time)\n\n");

    /* The summary lines, against the targets. */
    const bench_t *b = benches;
    FILE *json = o.json_path ? bench_json_begin(o.json_path, "hop-bench-offload") : NULL;
    if (json) {
        bench_json_raw(json, "threads", "%u", env.threads);
        bench_json_raw(json, "inflight", "%d", BENCH_INFLIGHT);
        bench_json_raw(json, "fib_n", "%d", env.fib_n);
        bench_json_raw(json, "fib_cutoff", "%d", BENCH_FIB_CUTOFF);
        bench_json_raw(json, "pool_spin_us", "%d", env.pool_spin_us);
        bench_json_raw(json, "loop_spin_us", "%d", env.loop_spin_us);
        bench_json_string(json, "libuv_version", uv_version_string());
        bench_json_string(json, "python", env.python_version[0] ? env.python_version : "not run");
        bench_json_common(json, &o, &machine);
        bench_json_results(json, benches, COUNT);
        bench_json_summary_begin(json);
    }
    const char *sep = "    ";
    char c1[32], c2[32];
    if (row_measured(b, RT_HOP) && row_measured(b, RT_UV)) {
        double r = b[RT_HOP].median / b[RT_UV].median;
        printf("roundtrip: hop %.2f us (cpu %s) vs uv_queue_work %.2f us (cpu %s) -> ratio %.3f (target <= "
               "0.1): %s\n",
               b[RT_HOP].median, bench_format_cpu(c1, sizeof c1, b[RT_HOP].cpu_ns), b[RT_UV].median,
               bench_format_cpu(c2, sizeof c2, b[RT_UV].cpu_ns), r, met(r <= 0.1));
        if (json)
            fprintf(json, "%s\"roundtrip_hop_over_uv\": %.4f, \"roundtrip_hop_over_uv_target_max\": 0.1", sep,
                    r),
                sep = ",\n    ";
    }
    if (row_measured(b, RT_HOP) && row_measured(b, RT_ASYNCIO)) {
        double r = b[RT_HOP].median / b[RT_ASYNCIO].median;
        printf("roundtrip: hop %.2f us vs asyncio run_in_executor %.2f us (cpu %s) -> ratio %.4f (target <= "
               "0.02): "
               "%s\n",
               b[RT_HOP].median, b[RT_ASYNCIO].median, bench_format_cpu(c2, sizeof c2, b[RT_ASYNCIO].cpu_ns),
               r, met(r <= 0.02));
        if (json)
            fprintf(json,
                    "%s\"roundtrip_hop_over_asyncio\": %.5f, \"roundtrip_hop_over_asyncio_target_max\": 0.02",
                    sep, r),
                sep = ",\n    ";
    } else if (row_measured(b, RT_HOP) && !b[RT_ASYNCIO].measured && b[RT_ASYNCIO].skipped &&
               strcmp(b[RT_ASYNCIO].skipped, "filtered out") != 0) {
        printf("roundtrip: hop %.2f us vs asyncio skipped (%s) -> ratio n/a (target <= 0.02)\n",
               b[RT_HOP].median, b[RT_ASYNCIO].skipped);
    }
    if (row_measured(b, RT_HOP_DISPATCH) && row_measured(b, RT_UV)) {
        double r = b[RT_HOP_DISPATCH].median / b[RT_UV].median;
        printf(
            "roundtrip: hop dispatch %.2f us (cpu %s) vs uv_queue_work -> ratio %.3f (target <= 0.1): %s\n",
            b[RT_HOP_DISPATCH].median, bench_format_cpu(c1, sizeof c1, b[RT_HOP_DISPATCH].cpu_ns), r,
            met(r <= 0.1));
        if (json)
            fprintf(json, "%s\"roundtrip_hop_dispatch_over_uv\": %.4f", sep, r), sep = ",\n    ";
    }
    if (row_measured(b, RT_HOP) && row_measured(b, RT_SPIN))
        printf("roundtrip: hop / spinning reference = %.1f (not a target: the reference burns two cores)\n",
               b[RT_HOP].median / b[RT_SPIN].median);
    if (row_measured(b, TP_HOP) && row_measured(b, TP_UV)) {
        double r = b[TP_HOP].median / b[TP_UV].median;
        printf(
            "offload: hop %.0f jobs/s (cpu %s/job) vs uv_queue_work %.0f jobs/s (cpu %s/job) -> ratio %.2f "
            "(target >= 2): %s\n",
            b[TP_HOP].median, bench_format_cpu(c1, sizeof c1, b[TP_HOP].cpu_ns), b[TP_UV].median,
            bench_format_cpu(c2, sizeof c2, b[TP_UV].cpu_ns), r, met(r >= 2.0));
        if (json)
            fprintf(json, "%s\"offload_hop_over_uv\": %.4f, \"offload_hop_over_uv_target_min\": 2", sep, r),
                sep = ",\n    ";
    }
    if (row_measured(b, FJ_HOP) && row_measured(b, FJ_SERIAL)) {
        double r = b[FJ_HOP].median / b[FJ_SERIAL].median;
        double tasks_per_s = (double)fib_calls(env.fib_n) / (b[FJ_HOP].median / 1e3);
        printf("fork-join: hop, a task per call %.1f ms (%.2f M tasks/s) vs serial %.2f ms -> %.0fx (no "
               "target)\n",
               b[FJ_HOP].median, tasks_per_s / 1e6, b[FJ_SERIAL].median, r);
        if (json)
            fprintf(json, "%s\"forkjoin_task_per_call_over_serial\": %.2f, \"forkjoin_tasks_per_s\": %.0f",
                    sep, r, tasks_per_s),
                sep = ",\n    ";
    }
    if (row_measured(b, FJ_HOP_CUTOFF) && row_measured(b, FJ_SERIAL)) {
        double r = b[FJ_SERIAL].median / b[FJ_HOP_CUTOFF].median;
        printf("fork-join: hop with cutoff %.2f ms vs serial %.2f ms -> speedup %.2f on %u threads (no "
               "target)\n",
               b[FJ_HOP_CUTOFF].median, b[FJ_SERIAL].median, r, env.threads);
        if (json)
            fprintf(json, "%s\"forkjoin_cutoff_speedup\": %.3f", sep, r), sep = ",\n    ";
    }
    if (row_measured(b, IDLE)) {
        double pct = b[IDLE].cores * 100.0;
        printf("idle: %.3f ms CPU per 0.5 s with the pool and loop open = %.2f%% of one core (target < 1%%): "
               "%s\n",
               b[IDLE].median, pct, met(pct < 1.0));
        if (json)
            fprintf(json,
                    "%s\"idle_cpu_ms_per_500ms\": %.4f, \"idle_cpu_percent\": %.4f, "
                    "\"idle_target_max_percent\": 1",
                    sep, b[IDLE].median, pct),
                sep = ",\n    ";
    }
    bool header = false;
    for (int i = 0; i < COUNT; i++) {
        const hop_counted_t *c = &counted[i];
        if (!c->inner || !c->ops || !benches[i].measured)
            continue;
        double n = (double)c->ops;
        if (!header) {
            printf("\nhop's counters per operation (round trip, job or fib), all runs of the row:\n");
            printf("  %-30s %9s %9s %9s %9s %9s %9s %9s\n", "row", "pool.jobs", "injected", "steals", "parks",
                   "wakeups", "loop.jobs", "loop.wake");
            header = true;
        }
        printf("  %-30s %9.3f %9.3f %9.3f %9.4f %9.4f %9.3f %9.4f\n", benches[i].name, c->pool.jobs_run / n,
               c->pool.injected / n, c->pool.steals / n, c->pool.parks / n, c->pool.wakeups / n,
               c->loop.jobs_run / n, c->loop.wakeups_sent / n);
        if (json)
            fprintf(json,
                    "%s\"counters_per_op.%s\": {\"pool_jobs_run\": %.4f, \"pool_injected\": %.4f, "
                    "\"pool_steals\": "
                    "%.4f, \"pool_parks\": %.5f, \"pool_wakeups\": %.5f, \"loop_jobs_run\": %.4f, "
                    "\"loop_wakeups_sent\": %.5f, \"loop_batches\": %.5f}",
                    sep, benches[i].name, c->pool.jobs_run / n, c->pool.injected / n, c->pool.steals / n,
                    c->pool.parks / n, c->pool.wakeups / n, c->loop.jobs_run / n, c->loop.wakeups_sent / n,
                    c->loop.batches / n),
                sep = ",\n    ";
    }
    if (json) {
        bench_json_end(json, o.json_path);
        fprintf(stderr, "wrote %s\n", o.json_path);
    }

    naive_stop();
    uv_loop_close(&uvp.loop);
    err = hop_loop_close(&env.loop);
    if (err)
        bench_die("hop_loop_close: %s", hop_strerror(err));
    err = hop_pool_close(&env.pool);
    if (err)
        bench_die("hop_pool_close: %s", hop_strerror(err));
    return 0;
}
