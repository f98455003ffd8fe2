/* bench/bench_switch.c: hop-bench-switch, the cost of a context switch and of
 * spawning and joining an empty task, next to the peers hop is judged by.
 *
 * Every figure is the median of --repeat repetitions (after a calibration
 * that doubles as warm-up), each long enough (~75 ms) that the clock's
 * resolution and a stray interrupt do not matter. The median rather than the mean: on a shared 2-core VM the
 * noise is one-sided (a repetition can only be slowed down), and the median ignores a few slowed repetitions
 * where the mean would absorb them. bench/README.md says what each figure includes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "context.h"
#include "hop/hop.h"

#if defined(HOP_CONTEXT_UCONTEXT)
#define BENCH_HOP_BACKEND "ucontext"
#else
#define BENCH_HOP_BACKEND "asm"
#endif

#if defined(__clang__)
#define BENCH_COMPILER __VERSION__ /* already says "clang" */
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "unknown"
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

__attribute__((noreturn, format(printf, 1, 2))) static void bench_die(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    fputs("hop-bench-switch: ", stderr);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static uint64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

typedef uint64_t (*bench_run_fn)(void *state, uint64_t iters);

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
 * The harness. */

typedef struct {
    const char *workload; /* "switch" or "spawn+join" */
    const char *peer;     /* the table's label */
    const char *name;     /* the JSON name */
    const char *unit;     /* "ns/transfer" or "tasks/s" */
    bench_run_fn run;     /* NULL: skipped */
    void *state;
    double units_per_iter; /* transfers (or tasks) per iteration of run */
    bool rate;             /* report units per second rather than ns per unit */
    /* filled in by bench_measure */
    uint64_t iters;
    double median, min, max; /* in unit */
} bench_t;

/* The rows, in the table's order. */
enum { RAW, TASK, SWAPCONTEXT, BOOST, SPAWN_MANUAL, SPAWN_INLINE, PTHREAD, COUNT };

typedef struct {
    int repeat;
    uint64_t target_ns; /* how long one repetition should last */
    bool quick;
    bool fp_flags_differ;
    const char *json_path;
} bench_options_t;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint64_t bench_scale(uint64_t iters, uint64_t ns, uint64_t target_ns) {
    double scaled = (double)iters * (double)target_ns / (double)(ns ? ns : 1);
    return scaled < 1.0 ? 1 : (uint64_t)scaled;
}

static uint64_t bench_calibrate(const bench_t *b, uint64_t target_ns) {
    /* Grow until a run is long enough to extrapolate from, then scale. The
     * runs on the way are the warm-up: they fault in the stacks, fill hop's
     * and glibc's stack caches and train the branch predictors. A quarter of
     * the target, not less: the very first pthread_create can take a
     * millisecond, and extrapolating from it would give a tiny count. */
    uint64_t iters = 1, ns;
    for (;;) {
        ns = b->run(b->state, iters);
        if (ns >= target_ns / 4 || iters >= ((uint64_t)1 << 40))
            break;
        iters *= ns < target_ns / 256 ? 16 : 2;
    }
    iters = bench_scale(iters, ns, target_ns);
    /* Warm up at the final size, and correct the count if the first
     * extrapolation was off by more than a factor of two. */
    for (int i = 0; i < 3; i++) {
        ns = b->run(b->state, iters);
        if (ns >= target_ns / 2 && ns <= target_ns * 2)
            break;
        iters = bench_scale(iters, ns, target_ns);
    }
    return iters;
}

static void bench_measure(bench_t *b, const bench_options_t *o, int index, int count) {
    fprintf(stderr, "[%d/%d] %s, %s: calibrating\n", index, count, b->workload, b->peer);
    b->iters = bench_calibrate(b, o->target_ns);
    fprintf(stderr, "[%d/%d] %s, %s: %d x %llu iterations\n", index, count, b->workload, b->peer, o->repeat,
            (unsigned long long)b->iters);

    double *ns_per_unit = malloc(sizeof(double) * (size_t)o->repeat);
    if (!ns_per_unit)
        bench_die("out of memory");
    for (int r = 0; r < o->repeat; r++)
        ns_per_unit[r] = (double)b->run(b->state, b->iters) / ((double)b->iters * b->units_per_iter);
    qsort(ns_per_unit, (size_t)o->repeat, sizeof(double), cmp_double);
    int n = o->repeat;
    double median = n % 2 ? ns_per_unit[n / 2] : (ns_per_unit[n / 2 - 1] + ns_per_unit[n / 2]) / 2.0;
    if (b->rate) {
        /* A rate is a decreasing function of time: the slowest repetition
         * gives the minimum. */
        b->median = 1e9 / median;
        b->min = 1e9 / ns_per_unit[n - 1];
        b->max = 1e9 / ns_per_unit[0];
    } else {
        b->median = median;
        b->min = ns_per_unit[0];
        b->max = ns_per_unit[n - 1];
    }
    free(ns_per_unit);
}

/* Cost relative to ref, > 1 meaning slower, whichever way the unit runs. */
static double bench_ratio(const bench_t *b, const bench_t *ref) {
    if (!b->run || !ref->run)
        return 0.0;
    return b->rate ? ref->median / b->median : b->median / ref->median;
}

typedef struct {
    char cpu[256];
    long nproc;
    char kernel[512];
} bench_machine_t;

static void bench_machine(bench_machine_t *m) {
    snprintf(m->cpu, sizeof m->cpu, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) != 0)
                continue;
            char *v = strchr(line, ':');
            if (!v)
                continue;
            v++;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(m->cpu, sizeof m->cpu, "%s", v);
            break;
        }
        fclose(f);
    }
    m->nproc = sysconf(_SC_NPROCESSORS_ONLN);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    else
        snprintf(m->kernel, sizeof m->kernel, "unknown");
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void bench_write_json(const char *path, const bench_options_t *o, const bench_machine_t *m,
                             const bench_t *benches, const char *boost_link) {
    FILE *f = fopen(path, "w");
    if (!f)
        bench_die("cannot write %s: %s", path, strerror(errno));
    fprintf(f, "{\n  \"benchmark\": \"hop-bench-switch\",\n  \"hop_version\": ");
    json_string(f, hop_version_string());
    fprintf(f, ",\n  \"hop_context_backend\": \"%s\",\n  \"boost_context\": ", BENCH_HOP_BACKEND);
    json_string(f, boost_link);
    fprintf(f, ",\n  \"fp_flags_differ\": %s", o->fp_flags_differ ? "true" : "false");
    fprintf(f, ",\n  \"repeat\": %d,\n  \"target_ms_per_repetition\": %.0f,\n  \"quick\": %s,\n", o->repeat,
            (double)o->target_ns / 1e6, o->quick ? "true" : "false");
    fprintf(f, "  \"machine\": {\n    \"cpu_model\": ");
    json_string(f, m->cpu);
    fprintf(f, ",\n    \"nproc\": %ld,\n    \"kernel\": ", m->nproc);
    json_string(f, m->kernel);
    fprintf(f, ",\n    \"compiler\": ");
    json_string(f, BENCH_COMPILER);
    fprintf(f, "\n  },\n  \"results\": [\n");
    for (int i = 0; i < COUNT; i++) {
        const bench_t *b = &benches[i];
        fprintf(f, "    {\"name\": \"%s\", \"unit\": \"%s\", ", b->name, b->unit);
        if (b->run)
            fprintf(f, "\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"iterations\": %llu}", b->median,
                    b->min, b->max, (unsigned long long)b->iters);
        else
            fprintf(f, "\"median\": null, \"min\": null, \"max\": null, \"skipped\": \"not installed\"}");
        fprintf(f, "%s\n", i + 1 < COUNT ? "," : "");
    }
    fprintf(f, "  ],\n  \"summary\": {\n");
    const bench_t *raw = &benches[RAW], *uc = &benches[SWAPCONTEXT], *boost = &benches[BOOST];
    if (boost->run)
        fprintf(f, "    \"hop_raw_over_boost\": %.4f, \"hop_raw_over_boost_target_max\": 1.2,\n",
                raw->median / boost->median);
    else
        fprintf(f, "    \"hop_raw_over_boost\": null, \"hop_raw_over_boost_target_max\": 1.2,\n");
    fprintf(f,
            "    \"swapcontext_over_hop_raw\": %.4f, \"swapcontext_over_hop_raw_target_min\": 30\n  }\n}\n",
            uc->median / raw->median);
    if (fclose(f) != 0)
        bench_die("writing %s failed", path);
}

static void usage(FILE *f) {
    fprintf(f, "usage: hop-bench-switch [--repeat N] [--quick] [--json FILE] [--fp-flags-differ]\n"
               "  --repeat N   repetitions per figure, the median is reported (default 11; 5 with --quick)\n"
               "  --quick      shorter repetitions (~20 ms instead of ~75 ms) and fewer of them\n"
               "  --json FILE  also write the figures and the machine's description to FILE\n"
               "  --fp-flags-differ  switch between contexts whose MXCSR exception flags differ\n"
               "               (default: both clear; see bench/README.md)\n");
}

int main(int argc, char **argv) {
    bench_options_t o = {.repeat = 0, .target_ns = 75000000u};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) {
            o.quick = true;
        } else if (strcmp(argv[i], "--fp-flags-differ") == 0) {
            o.fp_flags_differ = true;
        } else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n < 1 || n > 1000)
                bench_die("--repeat wants a count from 1 to 1000, not \"%s\"", argv[i]);
            o.repeat = (int)n;
        } else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc) {
            o.json_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.quick)
        o.target_ns = 20000000u;
    bench_fp_flags_differ = o.fp_flags_differ;
    if (o.repeat == 0)
        o.repeat = o.quick ? 5 : 11;
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

    int to_run = 0;
    for (int i = 0; i < COUNT; i++)
        to_run += benches[i].run != NULL;
    int index = 0;
    for (int i = 0; i < COUNT; i++) {
        if (benches[i].run)
            bench_measure(&benches[i], &o, ++index, to_run);
        else
            fprintf(stderr, "[-] %s, %s: skipped (not installed)\n", benches[i].workload, benches[i].peer);
    }

    printf("hop-bench-switch: hop %s (%s context switch), %d repetitions of ~%.0f ms, median reported\n",
           hop_version_string(), BENCH_HOP_BACKEND, o.repeat, (double)o.target_ns / 1e6);
    printf("machine: %s, %ld cores online, %s, %s\n", machine.cpu, machine.nproc, machine.kernel,
           BENCH_COMPILER);
    printf("switch peers run with MXCSR exception flags %s\n\n",
           o.fp_flags_differ ? "DIFFERING between the two contexts (--fp-flags-differ)"
                             : "clear on both sides");
    printf("%-11s %-32s %13s %13s %13s  %-12s %7s\n", "workload", "peer", "median", "min", "max", "unit",
           "ratio");
    for (int i = 0; i < COUNT; i++) {
        const bench_t *b = &benches[i];
        const bench_t *ref = b->rate ? &benches[SPAWN_MANUAL] : &benches[RAW];
        if (!b->run) {
            printf("%-11s %-32s %41s  %-12s %7s\n", b->workload, b->peer, "skipped (not installed)", b->unit,
                   "-");
            continue;
        }
        if (b->rate)
            printf("%-11s %-32s %13.0f %13.0f %13.0f  %-12s %7.2f\n", b->workload, b->peer, b->median, b->min,
                   b->max, b->unit, bench_ratio(b, ref));
        else
            printf("%-11s %-32s %13.2f %13.2f %13.2f  %-12s %7.2f\n", b->workload, b->peer, b->median, b->min,
                   b->max, b->unit, bench_ratio(b, ref));
    }
    printf("(ratio: cost relative to hop raw for switch, to hop manual for spawn+join; > 1 is slower)\n\n");

    const bench_t *raw = &benches[RAW], *boost = &benches[BOOST], *uc = &benches[SWAPCONTEXT];
    if (boost->run) {
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
        bench_write_json(o.json_path, &o, &machine, benches, boost_link);
        fprintf(stderr, "wrote %s\n", o.json_path);
    }
    return 0;
}
