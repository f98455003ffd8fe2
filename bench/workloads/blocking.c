/* bench/workloads/blocking.c: workload "blocking", offloading calls that
 * really block: BLOCKING_JOBS tasks (coroutines, goroutines, requests) on an
 * event loop each offload one BLOCKING_SLEEP_US usleep, all at once, with the
 * default settings of each implementation:
 *
 *   hop      hop_run_blocking: the default blocking pool (up to 512 threads),
 *            and the same pool configured to 64 and to 4 threads
 *   libuv    uv_queue_work: its threadpool of 4 (the default) and of 64
 *            (UV_THREADPOOL_SIZE, read once per process: each row runs in a
 *            process of its own)
 *   asyncio  loop.run_in_executor(None, ...): the default executor,
 *            min(32, CPUs + 4) threads (peers/asyncio_peer.py --mode blocking)
 *   Go       one goroutine per call, syscall.Nanosleep: the runtime hands a
 *            thread blocked in a system call's P to another thread
 *            (peers/go --mode blocking)
 *   REFERENCE  the machine's floor for the default pool's cap: 512 bare
 *            threads, started before the batch, woken by one futex call,
 *            taking calls from an atomic counter (no queue, no loop, no
 *            completion but a count): what 1,000 sleeps on 512 threads cost
 *            this machine with nothing else in the way
 *
 * One operation is one batch of BLOCKING_JOBS calls, from the first submit to
 * the last completion back on the loop: the main figure (ms per batch) and
 * the CPU time per batch. Besides, each row reports the 99th percentile of
 * the time in queue (submit to the start of the call, median over the
 * repetitions), the most threads the implementation used, and the first,
 * cold batch (threads not yet started). Every row runs one warm-up batch
 * (that cold one) and then --repeat batches, with no calibration: a batch
 * lasts milliseconds at least. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#endif

#include "../bench_env.h"

#define BLOCKING_JOBS 1000
#define BLOCKING_SLEEP_US 1000

/* One call: when it was submitted and when it started (CLOCK_MONOTONIC). */
typedef struct {
    uint64_t submitted, started;
} blk_call_t;

static blk_call_t blk_calls[BLOCKING_JOBS];

static void blk_call(blk_call_t *c) {
    c->started = bench_now_ns();
    usleep(BLOCKING_SLEEP_US);
}

static int blk_compare(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The 99th percentile (nearest rank) of this batch's times in queue. */
static double blk_p99_wait_ns(void) {
    static uint64_t waits[BLOCKING_JOBS];
    for (int i = 0; i < BLOCKING_JOBS; i++)
        waits[i] = blk_calls[i].started - blk_calls[i].submitted;
    qsort(waits, BLOCKING_JOBS, sizeof waits[0], blk_compare);
    return (double)waits[(BLOCKING_JOBS * 99 + 99) / 100 - 1];
}

/* Runs one batch, returns its wall-clock nanoseconds. */
typedef uint64_t (*blk_batch_fn)(void);

/* The row's figures from a cold batch and --repeat warm ones. */
static void blk_measure(bench_t *b, const bench_options_t *o, blk_batch_fn batch,
                        unsigned int (*peak)(void)) {
    int n = o->repeat;
    double *wall = malloc(sizeof(double) * (size_t)n * 4);
    if (!wall)
        bench_die("out of memory");
    double *cpu = wall + n, *cores = wall + 2 * n, *p99 = wall + 3 * n;
    uint64_t cold = batch();
    for (int r = 0; r < n; r++) {
        uint64_t cpu0 = bench_cpu_ns();
        uint64_t ns = batch();
        cpu[r] = (double)(bench_cpu_ns() - cpu0);
        wall[r] = (double)ns;
        cores[r] = cpu[r] / (double)ns;
        p99[r] = blk_p99_wait_ns();
    }
    double min = wall[0], max = wall[0];
    for (int r = 1; r < n; r++) {
        min = wall[r] < min ? wall[r] : min;
        max = wall[r] > max ? wall[r] : max;
    }
    double median = bench_median(wall, n);
    bench_set_result(b, 1, median, min, max, bench_median(cpu, n), bench_median(cores, n));
    bench_extra_set(b->name, "p99_wait_us", bench_median(p99, n) / 1e3);
    bench_extra_set(b->name, "peak_threads", peak());
    bench_extra_set(b->name, "cold_ms", (double)cold / 1e6);
    free(wall);
}

/* ---------------------------------------------------------------------------
 * hop: BLOCKING_JOBS tasks on a loop, each hop_run_blocking(one usleep). */

static hop_loop_t blk_loop;

static void *blk_hop_fn(void *arg) {
    blk_call(arg);
    return NULL;
}

static void *blk_hop_task(void *arg) {
    blk_call_t *c = arg;
    c->submitted = bench_now_ns();
    int err = hop_run_blocking(blk_hop_fn, c, NULL);
    if (err)
        bench_die("blocking, hop: hop_run_blocking: %s", hop_strerror(err));
    return NULL;
}

static void *blk_hop_driver(void *arg) {
    uint64_t *ns = arg;
    static hop_task_t *tasks[BLOCKING_JOBS];
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < BLOCKING_JOBS; i++) {
        int err = hop_task_spawn(hop_loop_executor(&blk_loop), blk_hop_task, &blk_calls[i], NULL, &tasks[i]);
        if (err)
            bench_die("blocking, hop: hop_task_spawn: %s", hop_strerror(err));
    }
    for (int i = 0; i < BLOCKING_JOBS; i++) {
        hop_task_join(tasks[i], NULL);
        hop_task_unref(tasks[i]);
    }
    *ns = bench_now_ns() - t0;
    return NULL;
}

static uint64_t blk_hop_batch(void) {
    uint64_t ns = 0;
    bench_hop_run_task(hop_loop_executor(&blk_loop), blk_hop_driver, &ns, "blocking, hop");
    return ns;
}

static unsigned int blk_hop_peak(void) {
    hop_blocking_stats_t s;
    if (hop_blocking_stats(hop_blocking_default(), &s) != 0)
        bench_die("blocking, hop: hop_blocking_stats failed");
    return s.threads_peak;
}

/* state: the default pool's max_threads (0: the default, 512). */
static const char *blk_hop_external(bench_t *b, const bench_options_t *o) {
    unsigned int max = (unsigned int)(uintptr_t)b->state;
    if (max) {
        int err = hop_blocking_default_configure(&(hop_blocking_options_t){.max_threads = max});
        if (err)
            bench_die("blocking, hop: hop_blocking_default_configure: %s", hop_strerror(err));
    }
    int err = hop_loop_init(&blk_loop, NULL);
    if (!err)
        err = hop_loop_start(&blk_loop);
    if (err)
        bench_die("blocking, hop: the loop: %s", hop_strerror(err));
    blk_measure(b, o, blk_hop_batch, blk_hop_peak);
    hop_loop_close(&blk_loop);
    hop_blocking_default_shutdown();
    return NULL;
}

/* ---------------------------------------------------------------------------
 * libuv: BLOCKING_JOBS uv_queue_work requests from a loop on this thread. */

static uv_loop_t blk_uv_loop;
static uv_work_t blk_uv_reqs[BLOCKING_JOBS];
static unsigned int blk_uv_threads, blk_uv_done;

static void blk_uv_work(uv_work_t *req) { blk_call(req->data); }

static void blk_uv_after(uv_work_t *req, int status) {
    (void)req;
    if (status != 0)
        bench_die("uv_queue_work: %s", uv_strerror(status));
    blk_uv_done++;
}

static uint64_t blk_uv_batch(void) {
    blk_uv_done = 0;
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < BLOCKING_JOBS; i++) {
        blk_uv_reqs[i].data = &blk_calls[i];
        blk_calls[i].submitted = bench_now_ns();
        int err = uv_queue_work(&blk_uv_loop, &blk_uv_reqs[i], blk_uv_work, blk_uv_after);
        if (err)
            bench_die("uv_queue_work: %s", uv_strerror(err));
    }
    uv_run(&blk_uv_loop, UV_RUN_DEFAULT);
    uint64_t ns = bench_now_ns() - t0;
    if (blk_uv_done != BLOCKING_JOBS)
        bench_die("uv_queue_work: %u of %d completed", blk_uv_done, BLOCKING_JOBS);
    return ns;
}

static unsigned int blk_uv_peak(void) { return blk_uv_threads; }

/* state: UV_THREADPOOL_SIZE (this process is the row's own: isolate). */
static const char *blk_uv_external(bench_t *b, const bench_options_t *o) {
    blk_uv_threads = (unsigned int)(uintptr_t)b->state;
    char value[16];
    snprintf(value, sizeof value, "%u", blk_uv_threads);
    setenv("UV_THREADPOOL_SIZE", value, 1);
    int err = uv_loop_init(&blk_uv_loop);
    if (err)
        bench_die("uv_loop_init: %s", uv_strerror(err));
    blk_measure(b, o, blk_uv_batch, blk_uv_peak);
    uv_loop_close(&blk_uv_loop);
    return NULL;
}

/* ---------------------------------------------------------------------------
 * REFERENCE: BLK_BARE_THREADS bare threads woken by one futex call. */

#if defined(__linux__)
#define BLK_BARE_THREADS 512

static unsigned int blk_bare_round;                   /* futex word: the batch the threads may start */
static unsigned int blk_bare_next, blk_bare_finished; /* calls taken, calls done (the latter a futex word) */
static bool blk_bare_exit;

static void blk_futex_wait(unsigned int *word, unsigned int value) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0);
}

static void blk_futex_wake(unsigned int *word, int n) {
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, n, NULL, NULL, 0);
}

static void *blk_bare_thread(void *arg) {
    (void)arg;
    unsigned int seen = 0;
    for (;;) {
        unsigned int round;
        while ((round = __atomic_load_n(&blk_bare_round, __ATOMIC_ACQUIRE)) == seen)
            blk_futex_wait(&blk_bare_round, seen);
        seen = round;
        if (__atomic_load_n(&blk_bare_exit, __ATOMIC_ACQUIRE))
            return NULL;
        unsigned int i;
        while ((i = __atomic_fetch_add(&blk_bare_next, 1, __ATOMIC_ACQ_REL)) < BLOCKING_JOBS) {
            blk_call(&blk_calls[i]);
            if (__atomic_add_fetch(&blk_bare_finished, 1, __ATOMIC_ACQ_REL) == BLOCKING_JOBS)
                blk_futex_wake(&blk_bare_finished, 1);
        }
    }
}

static uint64_t blk_bare_batch(void) {
    __atomic_store_n(&blk_bare_next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&blk_bare_finished, 0, __ATOMIC_RELAXED);
    uint64_t t0 = bench_now_ns();
    for (int i = 0; i < BLOCKING_JOBS; i++)
        blk_calls[i].submitted = t0;
    __atomic_add_fetch(&blk_bare_round, 1, __ATOMIC_RELEASE);
    blk_futex_wake(&blk_bare_round, INT_MAX);
    unsigned int done;
    while ((done = __atomic_load_n(&blk_bare_finished, __ATOMIC_ACQUIRE)) < BLOCKING_JOBS)
        blk_futex_wait(&blk_bare_finished, done);
    return bench_now_ns() - t0;
}

static unsigned int blk_bare_peak(void) { return BLK_BARE_THREADS; }

/* This process is the row's own (isolate): the threads end with it. */
static const char *blk_bare_external(bench_t *b, const bench_options_t *o) {
    static pthread_t threads[BLK_BARE_THREADS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < BLK_BARE_THREADS; i++)
        if (pthread_create(&threads[i], &attr, blk_bare_thread, NULL) != 0)
            bench_die("blocking, bare threads: pthread_create failed at %d", i);
    pthread_attr_destroy(&attr);
    blk_measure(b, o, blk_bare_batch, blk_bare_peak);
    __atomic_store_n(&blk_bare_exit, true, __ATOMIC_RELEASE);
    __atomic_add_fetch(&blk_bare_round, 1, __ATOMIC_RELEASE);
    blk_futex_wake(&blk_bare_round, INT_MAX);
    for (int i = 0; i < BLK_BARE_THREADS; i++)
        pthread_join(threads[i], NULL);
    return NULL;
}
#endif

/* ---------------------------------------------------------------------------
 * The rows, the targets, and the extra figures after the table. */

static const struct {
    const char *name, *peer;
    unsigned int cap; /* the thread cap, for "ideal": ceil(BLOCKING_JOBS / cap) sleeps */
} blk_hop_rows[] = {
    {"blocking.hop_default", "hop_run_blocking, default pool (<= 512 thr)", 512},
    {"blocking.hop_64", "hop_run_blocking, pool configured to 64 thr", 64},
    {"blocking.hop_4", "hop_run_blocking, pool configured to 4 thr", 4},
};

void bench_blocking_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    const char *w = "blocking";
    for (size_t i = 0; i < sizeof blk_hop_rows / sizeof blk_hop_rows[0]; i++)
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = blk_hop_rows[i].peer,
                                     .name = blk_hop_rows[i].name,
                                     .unit = "ms/1000 calls",
                                     .unit_ns = 1e6,
                                     .role = BENCH_HOP,
                                     .isolate = true,
                                     .external = blk_hop_external,
                                     .state = (void *)(uintptr_t)(i == 0 ? 0 : blk_hop_rows[i].cap)});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "libuv uv_queue_work, default 4 thr",
                                 .name = "blocking.uv_4",
                                 .unit = "ms/1000 calls",
                                 .unit_ns = 1e6,
                                 .role = BENCH_PEER,
                                 .isolate = true,
                                 .external = blk_uv_external,
                                 .state = (void *)(uintptr_t)4});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "libuv uv_queue_work, UV_THREADPOOL_SIZE=64",
                                 .name = "blocking.uv_64",
                                 .unit = "ms/1000 calls",
                                 .unit_ns = 1e6,
                                 .role = BENCH_PEER,
                                 .isolate = true,
                                 .external = blk_uv_external,
                                 .state = (void *)(uintptr_t)64});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "Python asyncio run_in_executor(None), default executor",
                                 .name = "blocking.asyncio_default",
                                 .unit = "ms/1000 calls",
                                 .unit_ns = 1e6,
                                 .role = BENCH_PEER,
                                 .external = bench_python_external,
                                 .state = "blocking"});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "Go goroutines in syscall.Nanosleep",
                                 .name = "blocking.go_syscall",
                                 .unit = "ms/1000 calls",
                                 .unit_ns = 1e6,
                                 .role = BENCH_PEER,
                                 .external = bench_go_external,
                                 .state = "blocking"});
#if defined(__linux__)
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "REFERENCE: 512 bare threads, one futex wake-up",
                                 .name = "blocking.bare_512",
                                 .unit = "ms/1000 calls",
                                 .unit_ns = 1e6,
                                 .role = BENCH_REFERENCE,
                                 .isolate = true,
                                 .external = blk_bare_external});
#endif
    /* Within 1.5x of the ideal for the thread cap: ceil(1000 / cap) x 1 ms. */
    bench_target_add(
        &(bench_target_t){.workload = w,
                          .text = "hop default pool: 1000 x 1 ms within 1.5x of ideal for 512 thr (3 ms)",
                          .hop = "blocking.hop_default",
                          .max_value = 1.5 * 2});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop pool of 64: within 1.5x of ideal for 64 thr (24 ms)",
                                       .hop = "blocking.hop_64",
                                       .max_value = 1.5 * 16});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop pool of 4: within 1.5x of ideal for 4 thr (375 ms)",
                                       .hop = "blocking.hop_4",
                                       .max_value = 1.5 * 250});
}

static void blk_print_row(FILE *f, const bench_t *b) {
    double p99, peak, cold;
    if (!b->measured || !bench_extra_get(b->name, "p99_wait_us", &p99) ||
        !bench_extra_get(b->name, "peak_threads", &peak) || !bench_extra_get(b->name, "cold_ms", &cold))
        return;
    fprintf(f, "  %-58s %9.3f %12.1f %8.0f %9.3f %11.3f\n", b->peer, b->median, p99 / 1e3, peak, cold,
            b->cpu_ns / 1e6);
}

/* "met" / "MISSED" for hop's p99 time in queue against libuv's, same cap. */
static void blk_print_wait_target(FILE *f, const char *hop, const char *uv, unsigned int threads) {
    double h, u;
    if (!bench_extra_get(hop, "p99_wait_us", &h) || !bench_extra_get(uv, "p99_wait_us", &u)) {
        fprintf(f, "  not measured  hop p99 time in queue <= libuv's at %u thr\n", threads);
        return;
    }
    fprintf(f, "  %-12s  hop p99 time in queue <= libuv's at %u thr: %.3f ms against %.3f ms\n",
            h <= u ? "met" : "MISSED", threads, h / 1e3, u / 1e3);
}

void bench_blocking_print(FILE *f, const bench_t *benches, int count) {
    bool any = false;
    for (int i = 0; i < count; i++)
        any |= strcmp(benches[i].workload, "blocking") == 0 && benches[i].measured;
    if (!any)
        return;
    fprintf(f,
            "\nblocking: %d calls of usleep(%d), all submitted at once from one loop (warm: after one cold "
            "batch)\n",
            BLOCKING_JOBS, BLOCKING_SLEEP_US);
    fprintf(f, "  %-58s %9s %12s %8s %9s %11s\n", "implementation", "total ms", "p99 queue ms", "threads",
            "cold ms", "cpu ms");
    for (int i = 0; i < count; i++)
        if (strcmp(benches[i].workload, "blocking") == 0)
            blk_print_row(f, &benches[i]);
    blk_print_wait_target(f, "blocking.hop_4", "blocking.uv_4", 4);
    blk_print_wait_target(f, "blocking.hop_64", "blocking.uv_64", 64);
}
