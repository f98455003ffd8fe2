/* bench/workloads/forkjoin.c: workload 7, fork-join fib(30) with a task per
 * call on the pool, against serial fib(30) (a reference), TBB's task_group
 * and Go's goroutines, each also a task (goroutine) per call. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>

#include "../bench_env.h"

/* fork-join: fib(n) where every call with n >= 2 spawns fib(n-1) and
 * fib(n-2) as tasks on the pool (default task options) and joins them; the
 * leaves (n < 2) are tasks too. With a cutoff, calls at or below it compute
 * serially. */
__attribute__((noinline)) static long fib_serial(long n) {
    return n < 2 ? n : fib_serial(n - 1) + fib_serial(n - 2);
}

#define BENCH_FIB_CUTOFF 20

static long fib_cutoff; /* read-only while a fork-join run is in progress */

static void *fib_task(void *arg) {
    long n = (long)(intptr_t)arg;
    if (n < 2)
        return arg;
    if (n <= fib_cutoff)
        return (void *)(intptr_t)fib_serial(n);
    hop_executor_t *pool = hop_pool_executor(&bench_env.pool);
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
    long expected = fib_serial(BENCH_FIB_N);
    uint64_t ns = 0;
    for (uint64_t i = 0; i < iters; i++) {
        hop_task_t *t;
        uint64_t t0 = bench_now_ns();
        int err =
            hop_task_spawn(hop_pool_executor(&bench_env.pool), fib_task, (void *)(intptr_t)BENCH_FIB_N, NULL, &t);
        if (err)
            bench_die("fork-join: hop_task_spawn: %s", hop_strerror(err));
        void *result;
        err = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result);
        ns += bench_now_ns() - t0;
        hop_task_unref(t);
        if (err)
            bench_die("fork-join: the root task failed: %s", hop_strerror(err));
        if ((long)(intptr_t)result != expected)
            bench_die("fork-join: fib(%d) = %ld, expected %ld", BENCH_FIB_N, (long)(intptr_t)result, expected);
    }
    return ns;
}

static uint64_t fj_serial_run(void *state, uint64_t iters) {
    (void)state;
    volatile int n = BENCH_FIB_N; /* not a constant the compiler could fold */
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        acc += (uintptr_t)fib_serial(n);
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

#if defined(HOP_BENCH_HAVE_TBB)
static uint64_t fj_tbb_run(void *state, uint64_t iters) {
    unsigned int threads = (unsigned int)(uintptr_t)state;
    long expected = fib_serial(BENCH_FIB_N);
    uint64_t ns = 0;
    for (uint64_t i = 0; i < iters; i++) {
        long result = 0;
        ns += bench_tbb_fib(threads, BENCH_FIB_N, &result);
        if (result != expected)
            bench_die("fork-join, TBB: fib(%d) = %ld, expected %ld", BENCH_FIB_N, result, expected);
    }
    return ns;
}
#endif

void bench_forkjoin_add(bench_list_t *l, const bench_options_t *o) {
    const char *w = "fork-join";
    const char *unit = bench_strf("ms/fib(%d)", BENCH_FIB_N);
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = bench_strf("REFERENCE: serial fib(%d), one thread", BENCH_FIB_N),
                                 .name = "forkjoin.serial",
                                 .unit = unit,
                                 .unit_ns = 1e6,
                                 .role = BENCH_REFERENCE,
                                 .run = fj_serial_run});
    for (int i = 0; i < o->nthreads; i++) {
        unsigned int t = o->threads[i];
        bench_count_hop(bench_list_add(
            l, &(bench_t){.workload = w,
                          .peer = bench_strf("hop, a task per call (%llu tasks)",
                                             (unsigned long long)fib_calls(BENCH_FIB_N)),
                          .name = "forkjoin.hop_task_per_call",
                          .unit = unit,
                          .unit_ns = 1e6,
                          .role = BENCH_HOP,
                          .threads = t,
                          .needs = BENCH_NEED_POOL,
                          .run = fj_hop_run,
                          .state = (void *)(intptr_t)1}));
        bench_count_hop(bench_list_add(l, &(bench_t){.workload = w,
                                                     .peer = bench_strf("hop, tasks above n=%d, serial below",
                                                                        BENCH_FIB_CUTOFF),
                                                     .name = "forkjoin.hop_cutoff",
                                                     .unit = unit,
                                                     .unit_ns = 1e6,
                                                     .role = BENCH_HOP,
                                                     .threads = t,
                                                     .needs = BENCH_NEED_POOL,
                                                     .run = fj_hop_run,
                                                     .state = (void *)(intptr_t)BENCH_FIB_CUTOFF}));
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "TBB task_group, a task per call",
                                     .name = "forkjoin.tbb_task_group",
                                     .unit = unit,
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
#if defined(HOP_BENCH_HAVE_TBB)
                                     .run = fj_tbb_run,
                                     .state = (void *)(uintptr_t)t
#endif
                                     });
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = "Go, a goroutine per call + WaitGroup",
                                     .name = "forkjoin.go_goroutines",
                                     .unit = unit,
                                     .unit_ns = 1e6,
                                     .role = BENCH_PEER,
                                     .threads = t,
                                     .external = bench_go_external,
                                     .state = "fib"});
    }
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop fib, a task per call, within 2x of TBB",
                                       .hop = "forkjoin.hop_task_per_call",
                                       .other = "forkjoin.tbb_task_group",
                                       .min_speedup = 0.5});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop fib, a task per call, faster than Go",
                                       .hop = "forkjoin.hop_task_per_call",
                                       .other = "forkjoin.go_goroutines",
                                       .min_speedup = 1});
}
