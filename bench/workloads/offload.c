/* bench/workloads/offload.c: workloads 3, 4 and 5, moving blocking work
 * from an event loop to a thread pool and back, against libuv's
 * uv_queue_work, the pthread baseline pool, Python's asyncio and Go:
 *
 *   roundtrip  one blocking job at a time, loop -> pool -> loop: latency
 *   offload    one loop keeping 1,024 tiny jobs in flight: jobs per second
 *   fan-out    a loop task fans out 10,000 jobs and awaits them all
 *   idle       CPU burnt by an open, idle pool and loop (after the rest)
 *
 * bench/README.md says exactly what each row includes. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "../bench_env.h"

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

/* roundtrip, hop run_in_executor: one task on the loop offloads the empty
 * job to the pool and waits for it, iters times. */
static void *rt_hop_offload_task(void *arg) {
    hop_run_t *r = arg;
    hop_executor_t *pool = hop_pool_executor(&bench_env.pool);
    uintptr_t acc = 0;
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        void *result;
        int err = hop_run_in_executor(pool, bench_job_fn, (void *)(uintptr_t)i, &result);
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

static void *check_task(void *arg);

static uint64_t rt_hop_offload_run(void *state, uint64_t iters) {
    (void)state;
    static bool checked;
    if (!checked) {
        checked = true;
        hop_run_task(hop_loop_executor(&bench_env.loop), check_task, 1, "check");
    }
    return hop_run_task(hop_loop_executor(&bench_env.loop), rt_hop_offload_task, iters,
                        "roundtrip, hop run_in_executor");
}

/* roundtrip, hop dispatch: the task itself moves to the pool, calls the
 * empty job there, and moves back to the loop. */
static void *rt_hop_dispatch_task(void *arg) {
    hop_run_t *r = arg;
    hop_executor_t *pool = hop_pool_executor(&bench_env.pool);
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
        acc += (uintptr_t)bench_job_fn((void *)(uintptr_t)i);
        err = hop_dispatch_to_loop(&bench_env.loop);
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
    return hop_run_task(hop_loop_executor(&bench_env.loop), rt_hop_dispatch_task, iters, "roundtrip, hop dispatch");
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
    r->error = hop_run_in_executor(hop_pool_executor(&bench_env.pool), check_job, r, &result);
    if (r->error)
        return NULL;
    if (result != r || check_job_thread == loop_thread || gettid() != loop_thread ||
        hop_loop_current() != &bench_env.loop) {
        r->error = HOP_ESTATE;
        r->what = "the job did not run on another thread, or the task did not come back to the loop";
        return NULL;
    }
    r->what = "dispatch";
    if ((r->error = hop_dispatch_to_executor(hop_pool_executor(&bench_env.pool))) != 0)
        return NULL;
    bool moved = gettid() != loop_thread && hop_loop_current() == NULL;
    if ((r->error = hop_dispatch_to_loop(&bench_env.loop)) != 0)
        return NULL;
    if (!moved || gettid() != loop_thread || hop_loop_current() != &bench_env.loop) {
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
    hop_executor_t *pool = hop_pool_executor(&bench_env.pool);
    uintptr_t acc = 0;
    for (uint64_t k = 0; k < c->count && !err; k++) {
        void *result;
        err = hop_run_in_executor(pool, bench_job_fn, (void *)(uintptr_t)k, &result);
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
        int err = hop_task_spawn(hop_loop_executor(&bench_env.loop), tp_child_task, &children[k], NULL, &tasks[k]);
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
    return hop_run_task(hop_loop_executor(&bench_env.loop), tp_hop_driver_task, iters, "offload, hop");
}

/* Fan-out, hop: a task on the loop submits BENCH_FANOUT plain jobs to the
 * pool (hop_pool_submit, no stack each), and awaits a future that the last
 * job to finish completes. */
typedef struct {
    hop_job_t job;
    void *arg;
} fan_job_t;

static struct {
    fan_job_t jobs[BENCH_FANOUT];
    hop_future_t done;
    unsigned int remaining;
} fan;

static void fan_job_run(hop_job_t *job) {
    fan_job_t *j = (fan_job_t *)job;
    bench_sink = (uintptr_t)bench_job_fn(j->arg);
    if (__atomic_sub_fetch(&fan.remaining, 1, __ATOMIC_ACQ_REL) == 0)
        hop_future_set_result(&fan.done, NULL);
}

static void *fan_hop_task(void *arg) {
    hop_run_t *r = arg;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        hop_future_init(&fan.done);
        fan.remaining = BENCH_FANOUT;
        for (unsigned int k = 0; k < BENCH_FANOUT; k++) {
            hop_job_init(&fan.jobs[k].job, fan_job_run);
            fan.jobs[k].arg = (void *)(uintptr_t)k;
            int err = hop_pool_submit(&bench_env.pool, &fan.jobs[k].job);
            if (err) {
                r->error = err;
                r->what = "hop_pool_submit";
                return NULL;
            }
        }
        int err = hop_future_await(&fan.done, NULL);
        if (err) {
            r->error = err;
            r->what = "hop_future_await";
            return NULL;
        }
    }
    r->ns = bench_now_ns() - t0;
    return NULL;
}

static uint64_t fan_hop_run(void *state, uint64_t iters) {
    (void)state;
    return hop_run_task(hop_loop_executor(&bench_env.loop), fan_hop_task, iters, "fan-out, hop");
}

/* Fan-out, hop tasks: BENCH_FANOUT tasks on the loop, each calling
 * hop_run_in_executor once, all joined by the driver task: the asyncio
 * gather shape, with a stack per request. */
typedef struct {
    uint64_t k;
} fan_task_arg_t;

static void *fan_child_task(void *arg) {
    void *result = NULL;
    int err = hop_run_in_executor(hop_pool_executor(&bench_env.pool), bench_job_fn, arg, &result);
    if (err)
        bench_die("fan-out, hop tasks: hop_run_in_executor: %s", hop_strerror(err));
    return result;
}

static void *fan_tasks_driver(void *arg) {
    hop_run_t *r = arg;
    static hop_task_t *tasks[BENCH_FANOUT];
    static const hop_task_options_t small = {.stack_size = 16 * 1024, .flags = HOP_TASK_UNGUARDED_STACK};
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < r->iters; i++) {
        for (unsigned int k = 0; k < BENCH_FANOUT; k++) {
            int err = hop_task_spawn(hop_loop_executor(&bench_env.loop), fan_child_task, (void *)(uintptr_t)k,
                                     &small, &tasks[k]);
            if (err)
                bench_die("fan-out, hop tasks: hop_task_spawn: %s", hop_strerror(err));
        }
        for (unsigned int k = 0; k < BENCH_FANOUT; k++) {
            void *result;
            hop_task_join(tasks[k], &result);
            hop_task_unref(tasks[k]);
            acc += (uintptr_t)result;
        }
    }
    r->ns = bench_now_ns() - t0;
    bench_sink = acc;
    return NULL;
}

static uint64_t fan_tasks_run(void *state, uint64_t iters) {
    (void)state;
    return hop_run_task(hop_loop_executor(&bench_env.loop), fan_tasks_driver, iters, "fan-out, hop tasks");
}

/* ---------------------------------------------------------------------------
 * libuv: uv_queue_work on libuv's own threadpool (UV_THREADPOOL_SIZE threads,
 * set by main before the pool starts), from a uv loop running on the main
 * thread. Each after_work callback (on the loop thread) submits the next job
 * until iters have been submitted; the run ends when uv_run finds no more
 * requests. state: the number of requests in flight (1 or BENCH_INFLIGHT). */

static struct {
    uv_loop_t loop;
    uv_work_t reqs[BENCH_FANOUT > BENCH_INFLIGHT ? BENCH_FANOUT : BENCH_INFLIGHT];
    uint64_t target, submitted, completed;
    uintptr_t acc;
} uvp;

static void uvp_work(uv_work_t *req) { req->data = bench_job_fn(req->data); }

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

/* libuv reads UV_THREADPOOL_SIZE once, when its threadpool starts (the
 * first uv_queue_work); uv rows run in a process of their own (isolate), so
 * each gets a threadpool of its row's size. */
static void uvp_init(unsigned int threads) {
    static bool ready;
    if (ready)
        return;
    ready = true;
    char value[16];
    snprintf(value, sizeof value, "%u", threads);
    setenv("UV_THREADPOOL_SIZE", value, 1);
    int err = uv_loop_init(&uvp.loop);
    if (err)
        bench_die("uv_loop_init: %s", uv_strerror(err));
}

static uint64_t uvp_run(void *state, uint64_t iters) {
    uint64_t inflight = (uint64_t)(uintptr_t)state;
    uvp_init(bench_current_threads);
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

static uint64_t fanout_uv_run(void *state, uint64_t iters) {
    (void)state;
    uint64_t ns = 0;
    for (uint64_t i = 0; i < iters; i++)
        ns += uvp_run((void *)(uintptr_t)BENCH_FANOUT, BENCH_FANOUT);
    return ns;
}

static naive_job_t naive_jobs[BENCH_FANOUT > BENCH_INFLIGHT ? BENCH_FANOUT : BENCH_INFLIGHT];

/* The pthread baseline: inflight jobs submitted at once, each finished one
 * resubmitted (like after_work) until iters have run. state: the number in
 * flight. */
static uint64_t naive_run(void *state, uint64_t iters) {
    uint64_t inflight = (uint64_t)(uintptr_t)state;
    uint64_t submitted = 0, completed = 0;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (; submitted < inflight && submitted < iters; submitted++) {
        naive_jobs[submitted].arg = (void *)(uintptr_t)submitted;
        naive_pool_submit(&naive_jobs[submitted]);
    }
    while (completed < iters) {
        naive_job_t *list = naive_pool_wait();
        while (list) {
            naive_job_t *job = list;
            list = job->next;
            completed++;
            acc += (uintptr_t)job->result;
            if (submitted < iters) {
                job->arg = (void *)(uintptr_t)submitted++;
                naive_pool_submit(job);
            }
        }
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* Fan-out: BENCH_FANOUT jobs submitted at once, all collected. */
static uint64_t fanout_naive_run(void *state, uint64_t iters) {
    (void)state;
    uint64_t ns = 0;
    for (uint64_t i = 0; i < iters; i++)
        ns += naive_run((void *)(uintptr_t)BENCH_FANOUT, BENCH_FANOUT);
    return ns;
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
            bench_cpu_relax();
        if (r == UINT_FAST64_MAX)
            return NULL;
        bench_job_fn((void *)(uintptr_t)r);
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
        bench_cpu_relax();
    bench_window_begin();
    uint64_t t0 = bench_now_ns();
    for (uint_fast64_t i = 1; i <= iters; i++) {
        atomic_store_explicit(&spin.req, i, memory_order_release);
        while (atomic_load_explicit(&spin.resp, memory_order_acquire) != i)
            bench_cpu_relax();
    }
    uint64_t t1 = bench_now_ns();
    bench_window_end();
    atomic_store_explicit(&spin.req, UINT_FAST64_MAX, memory_order_release);
    pthread_join(partner, NULL);
    return t1 - t0;
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
 * The rows. */

void bench_offload_add(bench_list_t *l, const bench_options_t *o) {
    const unsigned int pool_loop = BENCH_NEED_POOL | BENCH_NEED_LOOP;
    /* The trace's cost (bench_env.h). The round trip spawns nothing, so the
     * registry's switch (which skips a spawn's publish) changes nothing
     * here: the registry's part of it is one pointer store per await. */
    static bench_variant_t offload_traced = {rt_hop_offload_run, NULL, BENCH_TRACED};
    static bench_variant_t dispatch_traced = {rt_hop_dispatch_run, NULL, BENCH_TRACED};
    for (int i = 0; i < o->nthreads; i++) {
        unsigned int t = o->threads[i];
        const char *w = "roundtrip";
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop_run_in_executor (loop->pool->loop)",
                                                     .name = "roundtrip.hop_run_in_executor",
                                                     .unit = "us/roundtrip",
                                                     .unit_ns = 1e3,
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = pool_loop,
                                                     .run = rt_hop_offload_run}));
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop_dispatch_to_executor + _to_loop",
                                                     .name = "roundtrip.hop_dispatch",
                                                     .unit = "us/roundtrip",
                                                     .unit_ns = 1e3,
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = pool_loop,
                                                     .run = rt_hop_dispatch_run}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "hop_run_in_executor, tracing on",
                                     .name = "roundtrip.hop_run_in_executor_traced",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_HOP,
                                     .threads = t,
                                     .needs = pool_loop,
                                     .run = bench_variant_run,
                                     .state = &offload_traced});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "hop_dispatch_to_executor + _to_loop, tracing on",
                                     .name = "roundtrip.hop_dispatch_traced",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_HOP,
                                     .threads = t,
                                     .needs = pool_loop,
                                     .run = bench_variant_run,
                                     .state = &dispatch_traced});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "libuv uv_queue_work",
                                     .name = "roundtrip.uv_queue_work",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .isolate = true,
                                     .run = uvp_run,
                                     .state = (void *)(uintptr_t)1});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "pthread mutex+condvar pool",
                                     .name = "roundtrip.pthread_pool",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .needs = BENCH_NEED_NAIVE,
                                     .run = naive_run,
                                     .state = (void *)(uintptr_t)1});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Python asyncio loop.run_in_executor",
                                     .name = "roundtrip.asyncio_run_in_executor",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_python_external,
                                     .state = "run_in_executor"});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Python asyncio.to_thread",
                                     .name = "roundtrip.asyncio_to_thread",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_python_external,
                                     .state = "to_thread"});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Go worker goroutines over channels",
                                     .name = "roundtrip.go_channels",
                                     .unit = "us/roundtrip",
                                     .unit_ns = 1e3,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_go_external,
                                     .state = "roundtrip"});
    }
    bench_list_add(l, &(bench_t){.workload = "roundtrip",
                                 .peer = "REFERENCE: busy-wait handoff, 2 spinning threads",
                                 .name = "roundtrip.spin_reference",
                                 .unit = "us/roundtrip",
                                 .unit_ns = 1e3,
                                 .role = BENCH_REFERENCE,
                                 .run = spin_run});
    for (int i = 0; i < o->nthreads; i++) {
        unsigned int t = o->threads[i];
        const char *w = "offload";
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop, 1024 loop tasks x hop_run_in_executor",
                                                     .name = "offload.hop_run_in_executor",
                                                     .unit = "jobs/s",
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = pool_loop,
                                                     .run = tp_hop_run,
                                                     .rate = true}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "libuv uv_queue_work, 1024 in flight",
                                     .name = "offload.uv_queue_work",
                                     .unit = "jobs/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .isolate = true,
                                     .run = uvp_run,
                                     .state = (void *)(uintptr_t)BENCH_INFLIGHT,
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "pthread pool, 1024 in flight",
                                     .name = "offload.pthread_pool",
                                     .unit = "jobs/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .needs = BENCH_NEED_NAIVE,
                                     .run = naive_run,
                                     .state = (void *)(uintptr_t)BENCH_INFLIGHT,
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Python asyncio run_in_executor, 1024 in flight",
                                     .name = "offload.asyncio_run_in_executor",
                                     .unit = "jobs/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_python_external,
                                     .state = "throughput",
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Go worker goroutines, 1024 in flight",
                                     .name = "offload.go_workers",
                                     .unit = "jobs/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_go_external,
                                     .state = "offload",
                                     .rate = true});
    }
    for (int i = 0; i < o->nthreads; i++) {
        unsigned int t = o->threads[i];
        const char *w = "fan-out";
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop, 10,000 hop_pool_submit + one future",
                                                     .name = "fanout.hop_pool_jobs",
                                                     .unit = "ms/fan-out",
                                                     .unit_ns = 1e6,
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = pool_loop,
                                                     .run = fan_hop_run}));
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop, 10,000 loop tasks x run_in_executor",
                                                     .name = "fanout.hop_tasks",
                                                     .unit = "ms/fan-out",
                                                     .unit_ns = 1e6,
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = pool_loop,
                                                     .run = fan_tasks_run}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "libuv 10,000 uv_queue_work",
                                     .name = "fanout.uv_queue_work",
                                     .unit = "ms/fan-out",
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .isolate = true,
                                     .run = fanout_uv_run});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "pthread pool, 10,000 jobs",
                                     .name = "fanout.pthread_pool",
                                     .unit = "ms/fan-out",
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .needs = BENCH_NEED_NAIVE,
                                     .run = fanout_naive_run});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Python asyncio gather(10,000 run_in_executor)",
                                     .name = "fanout.asyncio_gather",
                                     .unit = "ms/fan-out",
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_python_external,
                                     .state = "fanout"});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Go 10,000 goroutines + WaitGroup",
                                     .name = "fanout.go_goroutines",
                                     .unit = "ms/fan-out",
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_go_external,
                                     .state = "fanout"});
    }
    bench_target_add(&(bench_target_t){.workload = "roundtrip",
                                       .text = "hop round trip <= 1/10 of uv_queue_work",
                                       .hop = "roundtrip.hop_run_in_executor",
                                       .other = "roundtrip.uv_queue_work",
                                       .min_speedup = 10});
    bench_target_add(&(bench_target_t){.workload = "roundtrip",
                                       .text = "hop round trip <= 1/50 of asyncio run_in_executor",
                                       .hop = "roundtrip.hop_run_in_executor",
                                       .other = "roundtrip.asyncio_run_in_executor",
                                       .min_speedup = 50});
    bench_target_add(&(bench_target_t){.workload = "offload",
                                       .text = "hop offload >= 2x uv_queue_work",
                                       .hop = "offload.hop_run_in_executor",
                                       .other = "offload.uv_queue_work",
                                       .min_speedup = 2});
    bench_target_add(&(bench_target_t){.workload = "offload",
                                       .text = "hop offload >= Go worker goroutines",
                                       .hop = "offload.hop_run_in_executor",
                                       .other = "offload.go_workers",
                                       .min_speedup = 1});
}

void bench_idle_add(bench_list_t *l, const bench_options_t *o) {
    for (int i = 0; i < o->nthreads; i++)
        bench_list_add(l, &(bench_t){.workload = "idle",
                                     .peer = "hop pool + loop open, idle for 0.5 s",
                                     .name = "idle.hop",
                                     .unit = "cpu ms/0.5 s",
                                     .unit_ns = 1e6,
                                     .role = BENCH_HOP,
                                     .threads = o->threads[i],
                                     .needs = BENCH_NEED_POOL | BENCH_NEED_LOOP,
                                     .external = idle_external});
    bench_target_add(&(bench_target_t){.workload = "idle",
                                       .text = "idle pool + loop burn < 1% of one core (5 ms per 0.5 s)",
                                       .hop = "idle.hop",
                                       .max_value = 5});
}
