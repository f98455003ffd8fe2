/* bench/bench_switch.c: hop-bench-switch, the cost of a context switch and of
 * spawning and joining an empty task, next to the peers hop is judged by.
 *
 * The harness (calibration, repetitions, median/min/max, CPU time per
 * operation, table, JSON) is bench_common.c; bench/README.md says what each
 * figure includes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "bench_common.h"
#include "context.h"
#include "hop/hop.h"

#if defined(HOP_CONTEXT_UCONTEXT)
#define BENCH_HOP_BACKEND "ucontext"
#else
#define BENCH_HOP_BACKEND "asm"
#endif

#define BENCH_STACK_SIZE ((size_t)64 * 1024)

/* Results go here so that no measured loop is dead code: the compiler must
 * produce every value that reaches a volatile store. */
static volatile uintptr_t bench_sink;

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
static bool bench_fp_flags_differ;

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
    bench_sink = acc;
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
    bench_sink = uc_count;
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
    bench_sink = acc;
    return t1 - t0;
}
#endif

/* spawn+join: the whole life of an empty task, from hop_task_spawn() to the
 * last hop_task_unref(), which returns its stack to the thread's cache. */
static void *empty_task(void *arg) { return arg; }

static uintptr_t join_result(hop_task_t *t) {
    void *result;
    int err = hop_future_result(hop_task_future(t), &result);
    if (err)
        bench_die("empty task did not finish: %s", hop_strerror(err));
    hop_task_unref(t);
    return (uintptr_t)result;
}

static uint64_t spawn_manual_run(void *state, uint64_t iters) {
    hop_executor_t *ex = state;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        hop_task_t *t;
        int err = hop_task_spawn(ex, empty_task, (void *)(uintptr_t)i, NULL, &t);
        if (err)
            bench_die("hop_task_spawn (manual): %s", hop_strerror(err));
        hop_manual_executor_run_all(ex, 0);
        acc += join_result(t);
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

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
        acc += join_result(t);
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

static void *empty_thread(void *arg) { return arg; }

static uint64_t pthread_run(void *state, uint64_t iters) {
    (void)state;
    uintptr_t acc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        pthread_t th;
        void *result;
        int err = pthread_create(&th, NULL, empty_thread, (void *)(uintptr_t)i);
        if (err)
            bench_die("pthread_create: %s", strerror(err));
        pthread_join(th, &result);
        acc += (uintptr_t)result;
    }
    uint64_t t1 = bench_now_ns();
    bench_sink = acc;
    return t1 - t0;
}

/* ---------------------------------------------------------------------------
 * The table. */

/* The rows, in the table's order. */
enum { RAW, TASK, SWAPCONTEXT, BOOST, SPAWN_MANUAL, SPAWN_INLINE, PTHREAD, COUNT };

static void write_json(const char *path, const bench_options_t *o, bool fp_flags_differ,
                       const bench_machine_t *m, const bench_t *benches, const char *boost_link) {
    FILE *f = bench_json_begin(path, "hop-bench-switch");
    bench_json_string(f, "hop_context_backend", BENCH_HOP_BACKEND);
    bench_json_string(f, "boost_context", boost_link);
    bench_json_raw(f, "fp_flags_differ", "%s", fp_flags_differ ? "true" : "false");
    bench_json_common(f, o, m);
    bench_json_results(f, benches, COUNT);
    bench_json_summary_begin(f);
    const bench_t *raw = &benches[RAW], *uc = &benches[SWAPCONTEXT], *boost = &benches[BOOST];
    if (boost->measured)
        fprintf(f, "    \"hop_raw_over_boost\": %.4f, \"hop_raw_over_boost_target_max\": 1.2,\n",
                raw->median / boost->median);
    else
        fprintf(f, "    \"hop_raw_over_boost\": null, \"hop_raw_over_boost_target_max\": 1.2,\n");
    fprintf(f, "    \"swapcontext_over_hop_raw\": %.4f, \"swapcontext_over_hop_raw_target_min\": 30",
            uc->median / raw->median);
    bench_json_end(f, path);
}

static void usage(FILE *f) {
    fprintf(f, "usage: hop-bench-switch [--repeat N] [--quick] [--json FILE] [--fp-flags-differ]\n"
               "  --repeat N   repetitions per figure, the median is reported (default 11; 5 with --quick)\n"
               "  --quick      shorter repetitions (~20 ms instead of ~75 ms) and fewer of them\n"
               "  --json FILE  also write the figures and the machine's description to FILE\n"
               "  --fp-flags-differ  switch between contexts whose MXCSR exception flags differ\n"
               "               (default: both clear; see bench/README.md)\n"
               "  --iterations N  run every row N iterations per repetition, without calibration or\n"
               "               warm-up (for valgrind --tool=callgrind)\n");
}

int main(int argc, char **argv) {
    bench_init("hop-bench-switch");
    bench_options_t o;
    bench_options_init(&o);
    for (int i = 1; i < argc; i++) {
        if (bench_parse_option(&o, argc, argv, &i)) {
            continue;
        } else if (strcmp(argv[i], "--fp-flags-differ") == 0) {
            bench_fp_flags_differ = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    bench_options_finish(&o, 11, 5);
#if !defined(__OPTIMIZE__)
    fprintf(stderr, "hop-bench-switch: warning: built without optimisation; use a Release build\n");
#endif

    raw_setup();
    uc_setup();
    hop_executor_t *manual;
    int err = hop_manual_executor_create(&manual);
    if (err)
        bench_die("hop_manual_executor_create: %s", hop_strerror(err));

#if defined(HOP_BENCH_HAVE_BOOST_CONTEXT)
    boost_setup();
    bench_run_fn boost_fn = boost_run;
    const char *boost_link = HOP_BENCH_BOOST_CONTEXT_LINK;
#else
    bench_run_fn boost_fn = NULL;
    const char *boost_link = "not installed";
#endif

    bench_t benches[COUNT] = {
        [RAW] = {.workload = "switch",
                 .peer = "hop raw (hop__context_switch)",
                 .name = "switch.hop_raw",
                 .unit = "ns/transfer",
                 .run = raw_run,
                 .units_per_iter = 2.0},
        [TASK] = {.workload = "switch",
                  .peer = "hop task (await, no queueing)",
                  .name = "switch.hop_task",
                  .unit = "ns/transfer",
                  .run = task_run,
                  .state = manual,
                  .units_per_iter = 2.0},
        [SWAPCONTEXT] = {.workload = "switch",
                         .peer = "glibc swapcontext",
                         .name = "switch.swapcontext",
                         .unit = "ns/transfer",
                         .run = uc_run,
                         .units_per_iter = 2.0},
        [BOOST] = {.workload = "switch",
                   .peer = "Boost.Context jump_fcontext",
                   .name = "switch.boost_fcontext",
                   .unit = "ns/transfer",
                   .run = boost_fn,
                   .units_per_iter = 2.0},
        [SPAWN_MANUAL] = {.workload = "spawn+join",
                          .peer = "hop manual executor",
                          .name = "spawn_join.hop_manual",
                          .unit = "tasks/s",
                          .run = spawn_manual_run,
                          .state = manual,
                          .units_per_iter = 1.0,
                          .rate = true},
        [SPAWN_INLINE] = {.workload = "spawn+join",
                          .peer = "hop inline executor",
                          .name = "spawn_join.hop_inline",
                          .unit = "tasks/s",
                          .run = spawn_inline_run,
                          .units_per_iter = 1.0,
                          .rate = true},
        [PTHREAD] = {.workload = "spawn+join",
                     .peer = "pthread_create + pthread_join",
                     .name = "spawn_join.pthread",
                     .unit = "threads/s",
                     .run = pthread_run,
                     .units_per_iter = 1.0,
                     .rate = true},
    };

    bench_machine_t machine;
    bench_machine(&machine);
    bench_run_all(benches, COUNT, &o);

    printf("hop-bench-switch: hop %s (%s context switch), %d repetitions of ~%.0f ms, median reported\n",
           hop_version_string(), BENCH_HOP_BACKEND, o.repeat, (double)o.target_ns / 1e6);
    printf("machine: %s, %ld cores online, %s, %s, load average %.2f at start\n", machine.cpu, machine.nproc,
           machine.kernel, BENCH_COMPILER, machine.load1);
    printf("switch peers run with MXCSR exception flags %s\n\n",
           bench_fp_flags_differ ? "DIFFERING between the two contexts (--fp-flags-differ)"
                                 : "clear on both sides");
    bench_print_table(stdout, benches, COUNT);
    printf(
        "(ratio: cost relative to hop raw for switch, to hop manual for spawn+join; > 1 is slower;\n"
        " cpu/op: process CPU time, user + system, per transfer or task; cores: CPU time / wall time)\n\n");

    const bench_t *raw = &benches[RAW], *boost = &benches[BOOST], *uc = &benches[SWAPCONTEXT];
    if (boost->measured) {
        double ratio = raw->median / boost->median;
        printf("switch: hop raw %.2f ns vs boost %.2f ns -> ratio %.2f (target <= 1.2): %s\n", raw->median,
               boost->median, ratio, ratio <= 1.2 ? "met" : "NOT met");
    } else {
        printf("switch: hop raw %.2f ns vs boost skipped (not installed) -> ratio n/a (target <= 1.2)\n",
               raw->median);
    }
    double uc_ratio = uc->median / raw->median;
    printf("switch: swapcontext / hop raw = %.1f (target >= 30): %s\n", uc_ratio,
           uc_ratio >= 30.0 ? "met" : "NOT met");

    if (o.json_path) {
        write_json(o.json_path, &o, bench_fp_flags_differ, &machine, benches, boost_link);
        fprintf(stderr, "wrote %s\n", o.json_path);
    }
    return 0;
}
