/* bench/workloads/spawn.c: workload 2, spawn + join of empty tasks: tasks
 * per second on the pool, against the pthread baseline pool, TBB's
 * task_group and Go's goroutines with a WaitGroup. Every pool row spawns
 * batches of BENCH_SPAWN_BATCH tasks and then joins the whole batch. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "../bench_env.h"

static void *empty_task(void *arg) { return arg; }

/* hop inline executor: one thread, spawn and join one at a time: the whole
 * life of a task without any queue (hop_task_spawn runs it to its end). */
static uint64_t spawn_inline_run(void *state, uint64_t iters) {
    (void)state;
    hop_executor_t *ex = hop_inline_executor();
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        hop_task_t *t;
        int err = hop_task_spawn(ex, empty_task, (void *)(uintptr_t)i, NULL, &t);
        if (err)
            bench_die("hop_task_spawn (inline): %s", hop_strerror(err));
        void *result;
        err = hop_future_result(hop_task_future(t), &result);
        if (err)
            bench_die("empty task did not finish: %s", hop_strerror(err));
        hop_task_unref(t);
        acc += (uintptr_t)result;
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* hop pool, tasks: a driver task on the pool spawns a batch of tasks on the
 * pool (options: the row's state), then joins and releases each. */
typedef struct {
    uint64_t iters, ns;
    const hop_task_options_t *options;
} spawn_run_t;

static void *spawn_pool_driver(void *arg) {
    spawn_run_t *r = arg;
    hop_executor_t *pool = hop_pool_executor(&bench_env.pool);
    hop_task_t *tasks[BENCH_SPAWN_BATCH];
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t done = 0; done < r->iters;) {
        uint64_t n = r->iters - done < BENCH_SPAWN_BATCH ? r->iters - done : BENCH_SPAWN_BATCH;
        for (uint64_t k = 0; k < n; k++) {
            int err = hop_task_spawn(pool, empty_task, (void *)(uintptr_t)k, r->options, &tasks[k]);
            if (err)
                bench_die("hop_task_spawn (pool): %s", hop_strerror(err));
        }
        for (uint64_t k = 0; k < n; k++) {
            void *result;
            int err = hop_task_join(tasks[k], &result);
            if (err)
                bench_die("hop_task_join: %s", hop_strerror(err));
            hop_task_unref(tasks[k]);
            acc += (uintptr_t)result;
        }
        done += n;
    }
    r->ns = bench_now_ns() - t0;
    bench_sink = acc;
    return NULL;
}

static uint64_t spawn_pool_run(void *state, uint64_t iters) {
    spawn_run_t r = {.iters = iters, .options = state};
    bench_hop_run_task(hop_pool_executor(&bench_env.pool), spawn_pool_driver, &r, "spawn+join, pool");
    return r.ns;
}

/* hop pool, plain jobs: the driver task submits a batch of hop_job_t (no
 * stack) with hop_pool_submit; each decrements a counter and the last one
 * completes a future the driver awaits. */
typedef struct {
    hop_job_t job;
    struct jobs_batch_s *batch;
} spawn_job_t;

typedef struct jobs_batch_s {
    hop_future_t done;
    unsigned int remaining; /* atomically decremented by the jobs */
} jobs_batch_t;

static void spawn_job_run(hop_job_t *job) {
    spawn_job_t *j = (spawn_job_t *)job;
    jobs_batch_t *batch = j->batch;
    bench_job_fn(j);
    if (__atomic_sub_fetch(&batch->remaining, 1, __ATOMIC_ACQ_REL) == 0)
        hop_future_set_result(&batch->done, NULL);
}

static void *spawn_jobs_driver(void *arg) {
    spawn_run_t *r = arg;
    spawn_job_t jobs[BENCH_SPAWN_BATCH];
    jobs_batch_t batch;
    uint64_t t0 = bench_now_ns();
    for (uint64_t done = 0; done < r->iters;) {
        unsigned int n =
            (unsigned int)(r->iters - done < BENCH_SPAWN_BATCH ? r->iters - done : BENCH_SPAWN_BATCH);
        hop_future_init(&batch.done);
        batch.remaining = n;
        for (unsigned int k = 0; k < n; k++) {
            hop_job_init(&jobs[k].job, spawn_job_run);
            jobs[k].batch = &batch;
            int err = hop_pool_submit(&bench_env.pool, &jobs[k].job);
            if (err)
                bench_die("hop_pool_submit: %s", hop_strerror(err));
        }
        int err = hop_future_await(&batch.done, NULL);
        if (err)
            bench_die("hop_future_await: %s", hop_strerror(err));
        done += n;
    }
    r->ns = bench_now_ns() - t0;
    return NULL;
}

static uint64_t spawn_jobs_run(void *state, uint64_t iters) {
    (void)state;
    spawn_run_t r = {.iters = iters};
    bench_hop_run_task(hop_pool_executor(&bench_env.pool), spawn_jobs_driver, &r, "spawn+join, jobs");
    return r.ns;
}

/* The pthread baseline: the main thread allocates a job (malloc), submits
 * a batch, collects the batch's completions and frees the jobs. */
static uint64_t spawn_naive_run(void *state, uint64_t iters) {
    (void)state;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t done = 0; done < iters;) {
        uint64_t n = iters - done < BENCH_SPAWN_BATCH ? iters - done : BENCH_SPAWN_BATCH;
        for (uint64_t k = 0; k < n; k++) {
            naive_job_t *job = malloc(sizeof *job);
            if (!job)
                bench_die("out of memory");
            job->arg = (void *)(uintptr_t)k;
            naive_pool_submit(job);
        }
        for (uint64_t got = 0; got < n;) {
            naive_job_t *list = naive_pool_wait();
            while (list) {
                naive_job_t *next = list->next;
                acc += (uintptr_t)list->result;
                free(list);
                list = next;
                got++;
            }
        }
        done += n;
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

#if defined(HOP_BENCH_HAVE_TBB)
static uint64_t spawn_tbb_run(void *state, uint64_t iters) {
    return bench_tbb_spawn_join((unsigned int)(uintptr_t)state, iters, BENCH_SPAWN_BATCH);
}
#endif

void bench_spawn_add(bench_list_t *l, const bench_options_t *o) {
    static const hop_task_options_t small = {.stack_size = 16 * 1024, .flags = HOP_TASK_UNGUARDED_STACK};
    /* The registry's and the trace's cost (bench_env.h): the plain rows with
     * the registry's publish skipped, and with a trace recording. */
    static bench_variant_t inline_noregistry = {spawn_inline_run, NULL, BENCH_NO_REGISTRY};
    static bench_variant_t inline_traced = {spawn_inline_run, NULL, BENCH_TRACED};
    static bench_variant_t pool_noregistry = {spawn_pool_run, NULL, BENCH_NO_REGISTRY};
    static bench_variant_t pool_traced = {spawn_pool_run, NULL, BENCH_TRACED};
    const char *w = "spawn+join";
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop task, inline executor, one at a time",
                                 .name = "spawn_join.hop_inline",
                                 .unit = "tasks/s",
                                 .role = BENCH_HOP,
                                 .run = spawn_inline_run,
                                 .rate = true});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop task, inline executor, registry skipped",
                                 .name = "spawn_join.hop_inline_noregistry",
                                 .unit = "tasks/s",
                                 .role = BENCH_HOP,
                                 .run = bench_variant_run,
                                 .state = &inline_noregistry,
                                 .rate = true});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop task, inline executor, tracing on",
                                 .name = "spawn_join.hop_inline_traced",
                                 .unit = "tasks/s",
                                 .role = BENCH_HOP,
                                 .run = bench_variant_run,
                                 .state = &inline_traced,
                                 .rate = true});
    for (int i = 0; i < o->nthreads; i++) {
        unsigned int t = o->threads[i];
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop tasks on the pool (256 KiB guarded stacks)",
                                                     .name = "spawn_join.hop_pool_tasks",
                                                     .unit = "tasks/s",
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = BENCH_NEED_POOL,
                                                     .run = spawn_pool_run,
                                                     .rate = true}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "hop tasks on the pool (256 KiB), registry skipped",
                                     .name = "spawn_join.hop_pool_tasks_noregistry",
                                     .unit = "tasks/s",
                                     .role = BENCH_HOP,
                                     .threads = t,
                                     .needs = BENCH_NEED_POOL,
                                     .run = bench_variant_run,
                                     .state = &pool_noregistry,
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "hop tasks on the pool (256 KiB), tracing on",
                                     .name = "spawn_join.hop_pool_tasks_traced",
                                     .unit = "tasks/s",
                                     .role = BENCH_HOP,
                                     .threads = t,
                                     .needs = BENCH_NEED_POOL,
                                     .run = bench_variant_run,
                                     .state = &pool_traced,
                                     .rate = true});
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop tasks on the pool (16 KiB unguarded stacks)",
                                                     .name = "spawn_join.hop_pool_tasks_16k",
                                                     .unit = "tasks/s",
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = BENCH_NEED_POOL,
                                                     .run = spawn_pool_run,
                                                     .state = (void *)&small,
                                                     .rate = true}));
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = "hop plain jobs on the pool (hop_pool_submit)",
                                                     .name = "spawn_join.hop_pool_jobs",
                                                     .unit = "jobs/s",
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = BENCH_NEED_POOL,
                                                     .run = spawn_jobs_run,
                                                     .rate = true}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "pthread mutex+condvar pool (malloc'd jobs)",
                                     .name = "spawn_join.pthread_pool",
                                     .unit = "jobs/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .needs = BENCH_NEED_NAIVE,
                                     .run = spawn_naive_run,
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "TBB task_group::run + wait",
                                     .name = "spawn_join.tbb_task_group",
                                     .unit = "tasks/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
#if defined(HOP_BENCH_HAVE_TBB)
                                     .run = spawn_tbb_run,
                                     .state = (void *)(uintptr_t)t,
#endif
                                     .rate = true});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Go goroutines + sync.WaitGroup",
                                     .name = "spawn_join.go_goroutines",
                                     .unit = "tasks/s",
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_go_external,
                                     .state = "spawn",
                                     .rate = true});
    }
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop stackful tasks on the pool >= Go goroutines",
                                       .hop = "spawn_join.hop_pool_tasks",
                                       .other = "spawn_join.go_goroutines",
                                       .min_speedup = 1});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop stackful tasks on the pool >= Boost.Fiber, pooled stacks",
                                       .hop = "spawn_join.hop_pool_tasks",
                                       .other = "spawn_join.boost_fiber",
                                       .min_speedup = 1});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop plain jobs on the pool >= TBB task_group",
                                       .hop = "spawn_join.hop_pool_jobs",
                                       .other = "spawn_join.tbb_task_group",
                                       .min_speedup = 1});
}
