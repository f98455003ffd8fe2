/* bench/workloads/timers.c: the timers workload: re-arming one of N pending
 * timers, as a server re-arms a connection's read timeout at every request
 * (hop_serve_read does it through hop_deadline_enter and _leave): a stop and
 * a start of the same timer, 30 s ahead, picked at random among N that stay
 * pending. Each timer sits on a page of its own, as a deadline sits on its
 * task's stack, so a large N spreads them over as many pages as a server has
 * connection tasks.
 *
 *   timers.hop_N      hop_timer_stop + hop_timer_start on a hop loop's clock,
 *                     from a task on that loop
 *   timers.libuv_N    uv_timer_stop + uv_timer_start on a uv loop of the
 *                     calling thread (not running: only the heap is timed)
 *
 * N is 100 (a small server: the timers stay in the caches) and 10,000 (most
 * of them do not). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <uv.h>

#include "../bench_env.h"

#define TIMERS_SPACING 4096u
#define TIMERS_TIMEOUT_MS 30000

static void *timers_pages(size_t n) {
    void *p = mmap(NULL, n * TIMERS_SPACING, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        bench_die("timers: mmap of %zu pages: %s", n, strerror(errno));
    return p;
}

/* The same sequence of picks for both rows. */
static size_t timers_pick(uint32_t *seed, size_t n) {
    *seed = *seed * 1103515245u + 12345u;
    return (size_t)(*seed >> 8) % n;
}

static void timers_hop_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    (void)arg;
    bench_die("timers: a timer 30 s ahead fired during the run");
}

typedef struct {
    size_t n;
    uint64_t iters;
    uint64_t ns;
} timers_hop_run_t;

static void *timers_hop_task(void *arg) {
    timers_hop_run_t *r = arg;
    char *pages = timers_pages(r->n);
    for (size_t i = 0; i < r->n; i++) {
        hop_timer_t *t = (hop_timer_t *)(pages + i * TIMERS_SPACING);
        hop_timer_init(t);
        int err = hop_timer_start(t, TIMERS_TIMEOUT_MS, timers_hop_fire, NULL);
        if (err)
            bench_die("timers: hop_timer_start: %s", hop_strerror(err));
    }
    uint32_t seed = 1;
    bench_window_begin();
    uint64_t start = bench_now_ns();
    for (uint64_t k = 0; k < r->iters; k++) {
        hop_timer_t *t = (hop_timer_t *)(pages + timers_pick(&seed, r->n) * TIMERS_SPACING);
        hop_timer_stop(t);
        if (hop_timer_start(t, TIMERS_TIMEOUT_MS, timers_hop_fire, NULL) != 0)
            bench_die("timers: hop_timer_start failed during the run");
    }
    r->ns = bench_now_ns() - start;
    bench_window_end();
    for (size_t i = 0; i < r->n; i++)
        hop_timer_stop((hop_timer_t *)(pages + i * TIMERS_SPACING));
    munmap(pages, r->n * TIMERS_SPACING);
    return NULL;
}

static uint64_t timers_hop_run(void *state, uint64_t iters) {
    timers_hop_run_t r = {.n = (size_t)(uintptr_t)state, .iters = iters};
    hop_task_t *t;
    if (hop_task_spawn(hop_loop_executor(&bench_env.loop), timers_hop_task, &r, NULL, &t) != 0)
        bench_die("timers: spawn");
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    return r.ns;
}

static void timers_uv_fire(uv_timer_t *timer) {
    (void)timer;
    bench_die("timers: a uv timer 30 s ahead fired during the run");
}

static uint64_t timers_uv_run(void *state, uint64_t iters) {
    size_t n = (size_t)(uintptr_t)state;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        bench_die("timers: uv_loop_init");
    char *pages = timers_pages(n);
    for (size_t i = 0; i < n; i++) {
        uv_timer_t *t = (uv_timer_t *)(pages + i * TIMERS_SPACING);
        uv_timer_init(&loop, t);
        uv_timer_start(t, timers_uv_fire, TIMERS_TIMEOUT_MS, 0);
    }
    uint32_t seed = 1;
    bench_window_begin();
    uint64_t start = bench_now_ns();
    for (uint64_t k = 0; k < iters; k++) {
        uv_timer_t *t = (uv_timer_t *)(pages + timers_pick(&seed, n) * TIMERS_SPACING);
        uv_timer_stop(t);
        uv_timer_start(t, timers_uv_fire, TIMERS_TIMEOUT_MS, 0);
    }
    uint64_t ns = bench_now_ns() - start;
    bench_window_end();
    for (size_t i = 0; i < n; i++)
        uv_close((uv_handle_t *)(pages + i * TIMERS_SPACING), NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        bench_die("timers: uv_loop_close");
    munmap(pages, n * TIMERS_SPACING);
    return ns;
}

void bench_timers_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    static const size_t counts[] = {100, 10000};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        size_t n = counts[i];
        const char *label = n >= 1000 ? bench_strf("%zu,%03zu", n / 1000, n % 1000) : bench_strf("%zu", n);
        /* A family per count: each hop row is compared with libuv's at the same count. */
        const char *w = n >= 1000 ? bench_strf("timers-%zuk", n / 1000) : bench_strf("timers-%zu", n);
        const char *hop_name = bench_strf("timers.hop_%zu", n);
        const char *uv_name = bench_strf("timers.libuv_%zu", n);
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = bench_strf("hop_timer_stop + _start, %s pending", label),
                                     .name = hop_name,
                                     .unit = "ns/re-arm",
                                     .role = BENCH_HOP,
                                     .units_per_iter = 1,
                                     .needs = BENCH_NEED_LOOP,
                                     .state = (void *)(uintptr_t)n,
                                     .run = timers_hop_run});
        bench_list_add(l, &(bench_t){.workload = w,
                                     .peer = bench_strf("uv_timer_stop + _start, %s pending", label),
                                     .name = uv_name,
                                     .unit = "ns/re-arm",
                                     .role = BENCH_PEER,
                                     .units_per_iter = 1,
                                     .state = (void *)(uintptr_t)n,
                                     .run = timers_uv_run});
    }
}
