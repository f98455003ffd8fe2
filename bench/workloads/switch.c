/* bench/workloads/switch.c: workload 1, the context switch: one suspend and
 * resume pair on one thread, hop against glibc's swapcontext and
 * Boost.Context's jump_fcontext (bench/README.md says what each row
 * includes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "../bench_env.h"
#include "arch/context.h"

#define BENCH_STACK_SIZE ((size_t)64 * 1024)

#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
const char *bench_boost_context = HOP_BENCH_BOOST_CONTEXT_LINK;
#else
const char *bench_boost_context = "not installed";
#endif

#if defined(HOP_CONTEXT_UCONTEXT)
#define BENCH_HOP_BACKEND "ucontext"
#else
#define BENCH_HOP_BACKEND "asm"
#endif

#define BENCH_STACK_SIZE ((size_t)64 * 1024)


/* --fp-flags-differ. Every switch measured here saves and restores MXCSR
 * whole, sticky exception flags included, and on Intel an LDMXCSR that
 * changes the register's value costs an order of magnitude more than one
 * that does not (bench/README.md has the figures). The harness's own
 * arithmetic sets the inexact flag in the main context while the other side,
 * made earlier, keeps it clear, so without care a figure would depend on
 * whether the harness happened to divide before the run. By default both sides run
 * with clear flags (the fair, canonical case); this option makes them differ
 * on purpose, as they do in a program where only one side does floating
 * point. */
bool bench_fp_flags_differ;

static void bench_fp_flags_clear(void) { feclearexcept(FE_ALL_EXCEPT); }

static void bench_fp_flags_set_if_asked(void) {
    if (bench_fp_flags_differ) {
        /* An SSE division (VFP on aarch64): feraiseexcept() may only touch
         * the x87 status word. */
        volatile double x = 1.0;
        x = x / 3.0;
        (void)x;
    }
}

/* Called right before a timed ping-pong loop; the contexts themselves were
 * made with clear flags. */
static void bench_fp_flags_prepare(void) {
    bench_fp_flags_clear();
    bench_fp_flags_set_if_asked();
}

/* A private stack for the raw ping-pong peers. Not freed: the contexts that
 * live on it stay suspended until the process exits. */
static void *bench_stack_alloc(size_t size) {
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED)
        bench_die("mmap of a %zu-byte stack: %s", size, strerror(errno));
    return p;
}

/* ---------------------------------------------------------------------------
 * The workloads. Each runs iters iterations and returns the nanoseconds they
 * took; the harness divides by iters * units_per_iter. */

/* hop raw: the bare hop__context_switch, main <-> one context, no task. */
static hop__context_t raw_main, raw_co;

__attribute__((noreturn)) static void raw_entry(void *value) {
    for (;;)
        value = hop__context_switch(&raw_co, &raw_main, value);
}

static void raw_setup(void) {
    bench_fp_flags_clear();
    void *stack = bench_stack_alloc(BENCH_STACK_SIZE);
    hop__context_make(&raw_co, stack, BENCH_STACK_SIZE, raw_entry);
}

static uint64_t raw_run(void *state, uint64_t iters) {
    (void)state;
    uintptr_t acc = 0;
    bench_fp_flags_prepare();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        acc += (uintptr_t)hop__context_switch(&raw_main, &raw_co, (void *)(uintptr_t)i);
    uint64_t t1 = bench_now_ns();
    bench_sink = (uintptr_t)acc;
    return t1 - t0;
}

/* hop task: hop_await() on an awaitable whose suspend() says "already done",
 * so each await is the whole protocol (switch out, suspend(), CAS, switch
 * back in) without any executor queueing. The task times its own loop, so
 * spawning and finishing it are not counted. */
static bool ready_suspend(hop_awaitable_t *aw) {
    (void)aw;
    return false;
}

static const hop_awaitable_ops_t ready_ops = {.suspend = ready_suspend};

typedef struct {
    uint64_t iters;
    uint64_t ns;
    int error;
} task_loop_t;

static void *task_loop(void *arg) {
    task_loop_t *loop = arg;
    hop_awaitable_t aw;
    /* Initialised once: each await leaves it idle again, and the point is
     * the await, not hop_awaitable_init(). */
    hop_awaitable_init(&aw, &ready_ops);
    int error = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < loop->iters; i++)
        error |= hop_await(&aw);
    loop->ns = bench_now_ns() - t0;
    loop->error = error;
    return NULL;
}

static uint64_t task_run(void *state, uint64_t iters) {
    hop_executor_t *ex = state;
    task_loop_t loop = {.iters = iters};
    hop_task_t *t;
    /* The task's context takes the spawning thread's MXCSR: clear it first. */
    bench_fp_flags_clear();
    int err = hop_task_spawn(ex, task_loop, &loop, NULL, &t);
    if (err)
        bench_die("hop_task_spawn: %s", hop_strerror(err));
    bench_fp_flags_set_if_asked();
    hop_manual_executor_run_all(ex, 0);
    err = hop_future_result(hop_task_future(t), NULL);
    hop_task_unref(t);
    if (err)
        bench_die("await loop task did not finish: %s", hop_strerror(err));
    if (loop.error)
        bench_die("hop_await failed in the loop: %s", hop_strerror(loop.error));
    return loop.ns;
}

/* glibc swapcontext: the reference hop must stay far below. */
static ucontext_t uc_main, uc_co;
static uintptr_t uc_count;

static void uc_entry(void) {
    for (;;) {
        uc_count++;
        swapcontext(&uc_co, &uc_main);
    }
}

static void uc_setup(void) {
    bench_fp_flags_clear();
    if (getcontext(&uc_co) != 0)
        bench_die("getcontext: %s", strerror(errno));
    uc_co.uc_stack.ss_sp = bench_stack_alloc(BENCH_STACK_SIZE);
    uc_co.uc_stack.ss_size = BENCH_STACK_SIZE;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_entry, 0);
}

static uint64_t uc_run(void *state, uint64_t iters) {
    (void)state;
    bench_fp_flags_prepare();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        swapcontext(&uc_main, &uc_co);
    uint64_t t1 = bench_now_ns();
    bench_sink = (uintptr_t)uc_count;
    return t1 - t0;
}

#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
/* Boost.Context's fcontext API is extern "C" inside a C++ header; these are
 * its exact prototypes (boost/context/detail/fcontext.hpp, Boost 1.61+). */
typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static fcontext_t boost_co;

__attribute__((noreturn)) static void boost_entry(transfer_t t) {
    for (;;)
        t = jump_fcontext(t.fctx, t.data);
}

static void boost_setup(void) {
    bench_fp_flags_clear();
    char *stack = bench_stack_alloc(BENCH_STACK_SIZE);
    boost_co = make_fcontext(stack + BENCH_STACK_SIZE, BENCH_STACK_SIZE, boost_entry);
}

static uint64_t boost_run(void *state, uint64_t iters) {
    (void)state;
    uintptr_t acc = 0;
    bench_fp_flags_prepare();
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        transfer_t t = jump_fcontext(boost_co, (void *)(uintptr_t)i);
        boost_co = t.fctx;
        acc += (uintptr_t)t.data;
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = (uintptr_t)acc;
    return t1 - t0;
}
#endif

const char *bench_hop_backend = BENCH_HOP_BACKEND;

static bool switch_ready;

static void switch_setup(void) {
    if (switch_ready)
        return;
    switch_ready = true;
    raw_setup();
    uc_setup();
#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
    boost_setup();
#endif
}

static uint64_t raw_run_first(void *state, uint64_t iters) {
    switch_setup();
    return raw_run(state, iters);
}

static uint64_t uc_run_first(void *state, uint64_t iters) {
    switch_setup();
    return uc_run(state, iters);
}

#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
static uint64_t boost_run_first(void *state, uint64_t iters) {
    switch_setup();
    return boost_run(state, iters);
}
#endif

static uint64_t task_run_first(void *state, uint64_t iters) {
    static hop_executor_t *manual;
    (void)state;
    if (!manual) {
        int err = hop_manual_executor_create(&manual);
        if (err)
            bench_die("hop_manual_executor_create: %s", hop_strerror(err));
    }
    return task_run(manual, iters);
}

void bench_switch_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    const char *w = "switch";
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop raw switch (hop__context_switch)",
                                 .name = "switch.hop_raw",
                                 .unit = "ns/switch",
                                 .role = BENCH_HOP,
                                 .run = raw_run_first,
                                 .units_per_iter = 2.0});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop task await (no queueing)",
                                 .name = "switch.hop_task_await",
                                 .unit = "ns/switch",
                                 .role = BENCH_HOP,
                                 .run = task_run_first,
                                 .units_per_iter = 2.0});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "glibc swapcontext",
                                 .name = "switch.swapcontext",
                                 .unit = "ns/switch",
                                 .role = BENCH_PEER,
                                 .run = uc_run_first,
                                 .units_per_iter = 2.0});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "Boost.Context jump_fcontext",
                                 .name = "switch.boost_fcontext",
                                 .unit = "ns/switch",
                                 .role = BENCH_PEER,
#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
                                 .run = boost_run_first,
#endif
                                 .units_per_iter = 2.0});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop raw switch within 1.2x of Boost.Context",
                                       .hop = "switch.hop_raw",
                                       .other = "switch.boost_fcontext",
                                       .min_speedup = 1 / 1.2});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "hop raw switch >= 30x faster than swapcontext",
                                       .hop = "switch.hop_raw",
                                       .other = "switch.swapcontext",
                                       .min_speedup = 30});
}
