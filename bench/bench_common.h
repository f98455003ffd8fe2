/* bench/bench_common.h: the machinery of hop-bench.
 *
 * A run is a table of rows (bench_t), one per (workload, implementation,
 * thread count). Each row either has a run function, which the harness
 * calibrates and repeats, or an external function that measures the row by
 * other means (a peer in another process, a memory probe). For every row the
 * harness reports the median, the fastest and the slowest of --repeat
 * repetitions, the process CPU time (getrusage RUSAGE_SELF, user + system,
 * all threads) per operation and the cores busy, and the ratio of its cost
 * to the best peer's in the same workload and thread count.
 *
 * Rows have a role: hop's own rows, peers (what hop is compared with), and
 * references (a floor or a ceiling shown for scale, never "the best peer":
 * serial fib, two spinning threads).
 *
 * Not thread-safe: the harness runs on the main thread; run functions may
 * start threads of their own. */
#ifndef HOP_BENCH_COMMON_H
#define HOP_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#if defined(__clang__)
#define BENCH_COMPILER __VERSION__ /* already says "clang" */
#elif defined(__GNUC__)
#define BENCH_COMPILER "gcc " __VERSION__
#else
#define BENCH_COMPILER "unknown"
#endif

typedef struct bench_s bench_t;
typedef struct bench_options_s bench_options_t;
typedef struct bench_machine_s bench_machine_t;
typedef struct bench_target_s bench_target_t;

/* Runs iters iterations and returns the wall-clock nanoseconds they took
 * (the function may time a narrower window than the call itself, e.g. a task
 * timing its own loop; see bench_window_begin for the CPU time). */
typedef uint64_t (*bench_run_fn)(void *state, uint64_t iters);

/* Measures row b by other means and fills it (bench_set_result or
 * bench_set_values). Returns NULL, or why the row could not be measured
 * ("not installed"), which the table then shows as skipped. */
typedef const char *(*bench_external_fn)(bench_t *b, const bench_options_t *o);

typedef enum {
    BENCH_HOP,      /* one of hop's own rows */
    BENCH_PEER,     /* what hop is compared with */
    BENCH_REFERENCE /* shown for scale: never the best peer */
} bench_role_t;

/* What a row needs set up before it runs (bench/bench_env.c). */
enum {
    BENCH_NEED_POOL = 1u << 0,  /* hop pool of the row's thread count */
    BENCH_NEED_LOOP = 1u << 1,  /* hop loop A, started on its own thread */
    BENCH_NEED_LOOP2 = 1u << 2, /* hop loop B, on a second thread */
    BENCH_NEED_NAIVE = 1u << 3  /* the pthread baseline pool */
};

struct bench_s {
    const char *workload; /* the family: "switch", "spawn+join", ...; rows of one family are compared */
    const char *peer;     /* the table's label */
    const char *name;     /* the JSON name, also what --filter matches; unique per thread count */
    const char *unit;     /* "ns/switch", "us/roundtrip", "jobs/s", "bytes/task", ... */
    bench_role_t role;
    unsigned int threads; /* worker threads the row uses; 0: not thread-dependent */
    bench_run_fn run;     /* NULL and no external: skipped (not installed) */
    bench_external_fn external;
    void *state;
    double units_per_iter; /* operations per iteration of run */
    bool rate;             /* report operations per second rather than time per operation */
    bool value;            /* the external function gives values in unit directly, lower is better */
    double unit_ns;        /* time rows: nanoseconds per displayed unit (1, 1e3, 1e6); 0 means 1 */
    unsigned int needs;    /* BENCH_NEED_* */
    bool isolate;          /* measured in a child process of its own (hop-bench --child) */
    const char *skipped;   /* why the row was not measured; "filtered out" rows are not printed */
    /* filled in by the harness (or the external function) */
    bool measured;
    uint64_t iters;
    double median, min, max; /* in unit */
    double cpu_ns;           /* median process CPU nanoseconds per operation (all threads); <0: n/a */
    double cores;            /* median CPU time / wall time: 1.0 = one core busy throughout; <0: n/a */
    double ratio;            /* cost / the best peer's cost in the same workload and threads; 0: n/a */
};

struct bench_options_s {
    int repeat;         /* repetitions per row; 0 until bench_options_finish */
    uint64_t target_ns; /* how long one repetition should last */
    bool quick;
    bool full;
    const char *json_path;
    const char *plot_dir;
    const char *filter;
    uint64_t iterations; /* --iterations: fixed count, no calibration or warm-up (for profilers); 0: calibrate */
    unsigned int threads[8]; /* --threads 1,2,4 */
    int nthreads;
    int load; /* --load N: N CPU-bound processes run beside every row (0: none) */
};

struct bench_machine_s {
    char cpu[256];
    long nproc;
    char kernel[512];
    double load1; /* 1-minute load average when the program started; -1: unknown */
};

/* A target from the issue: cost(other) / cost(hop) >= min_speedup, both
 * rows of the same thread count (or thread-independent), or, with
 * max_value > 0, hop's value <= max_value. */
struct bench_target_s {
    const char *workload;
    const char *text;  /* "within 1.2x of Boost.Context" */
    const char *hop;   /* row name */
    const char *other; /* row name; NULL for a value target */
    double min_speedup;
    double max_value;
    bool under_load; /* judged only in a run with --load (and only there) */
};

/* bench_init: the program's name, for messages. Call first. */
void bench_init(const char *program);

/* bench_die: prints "program: message" on stderr and exits with 1. */
__attribute__((noreturn, format(printf, 1, 2))) void bench_die(const char *format, ...);

/* bench_now_ns: CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);

/* bench_cpu_ns: the process's CPU time so far (getrusage RUSAGE_SELF,
 * user + system, every thread), in nanoseconds; microsecond resolution. */
uint64_t bench_cpu_ns(void);

/* bench_window_begin, bench_window_end: for a run function whose timed
 * window is narrower than the call (setup and teardown excluded): called
 * at the window's two ends (from any thread, one at a time), they make the
 * harness measure CPU time over the same window instead of around the whole
 * call. */
void bench_window_begin(void);
void bench_window_end(void);

/* bench_options_init: the defaults (--quick off, threads = online CPUs). */
void bench_options_init(bench_options_t *o);

/* bench_parse_option: if argv[*i] is one of the common options (--quick,
 * --full, --repeat N, --json FILE, --plot DIR, --filter S, --threads LIST,
 * --iterations N), consumes it (and its value, advancing *i) and returns
 * true; dies on a bad value; returns false for anything else. */
bool bench_parse_option(bench_options_t *o, int argc, char **argv, int *i);

/* bench_options_finish: repetitions of ~20 ms (--quick) or ~75 ms, and the
 * default --repeat (5 or 11). */
void bench_options_finish(bench_options_t *o);

/* bench_filter_match: whether name contains one of the comma-separated
 * substrings of filter (NULL filter: yes). */
bool bench_filter_match(const char *name, const char *filter);

/* bench_filtered_out: the row was left out by --filter. */
bool bench_filtered_out(const bench_t *b);

/* bench_measure: measures one row (calibration, repetitions), with progress
 * on stderr as "[index/count] workload, peer: ...". */
void bench_measure(bench_t *b, const bench_options_t *o, int index, int count);

/* bench_set_result: for external functions: fills b from per-operation
 * nanosecond figures (median, fastest, slowest) and the CPU nanoseconds
 * per operation, converting to b's unit (a rate for rate rows). */
void bench_set_result(bench_t *b, uint64_t iters, double median_ns, double min_ns, double max_ns,
                      double cpu_ns, double cores);

/* bench_set_values: for value rows: median, min, max in b's unit; no CPU
 * figures. */
void bench_set_values(bench_t *b, uint64_t iters, double median, double min, double max);

/* bench_median: sorts v (n values) and returns its median. */
double bench_median(double *v, int n);

/* bench_machine: CPU model, online CPUs, kernel, load average (other
 * processes running next to the benchmark make every figure suspect). */
void bench_machine(bench_machine_t *m);

/* bench_compute_ratios: each measured row's cost relative to the best
 * (cheapest) measured peer of its workload and thread count (peers without
 * a thread count count for every thread count). */
void bench_compute_ratios(bench_t *benches, int count);

/* bench_find: the row named name for threads (or thread-independent), or
 * NULL. */
const bench_t *bench_find(const bench_t *benches, int count, const char *name, unsigned int threads);

/* bench_cost: time per operation in the row's unit for time and value rows,
 * 1 / rate for rate rows: lower is better. */
double bench_cost(const bench_t *b);

/* bench_print_table: the table on f, one line per row (filtered rows left
 * out), grouped by workload. */
void bench_print_table(FILE *f, const bench_t *benches, int count);

/* bench_format_cpu: "123 ns", "4.56 us" or "7.89 ms" for a CPU time per
 * operation, into buf. Returns buf. */
const char *bench_format_cpu(char *buf, size_t size, double ns);

/* bench_format_figure: v with three significant digits at least and no
 * exponent ("1234567", "12.35", "0.2790"); bench_format_short: three
 * significant digits with k, M or G ("1.23 M"). Return buf. */
const char *bench_format_figure(char *buf, size_t size, double v);
const char *bench_format_short(char *buf, size_t size, double v);

/* bench_json_write_string: s as a JSON string literal. */
void bench_json_write_string(FILE *f, const char *s);

/* bench_run_process: runs argv (argv[0] looked up on PATH) with extra_env
 * ("NAME=value" strings, NULL-terminated, may be NULL) added to the
 * environment, stdout captured into out (NUL-terminated, at most size - 1
 * bytes), stderr passed through. Returns NULL on success, "not installed"
 * if the program is missing, or why it failed (a static buffer). */
const char *bench_run_process(char *const argv[], char *const extra_env[], char *out, size_t size);

/* Extra figures a row reports besides its main one (the blocking workload:
 * p99 time in queue, peak threads), by row name and key. Set by the row's
 * run function, or read from a peer's or a child's result line, where they
 * are "extra.KEY=VALUE" fields; the workload prints them after the table. */
void bench_extra_set(const char *row, const char *key, double value);
bool bench_extra_get(const char *row, const char *key, double *value);
/* bench_extras_format: " extra.KEY=VALUE ..." for row's extras ("" if none). */
void bench_extras_format(const char *row, char *buf, size_t size);

/* bench_parse_result_line: finds the line starting with prefix in out and
 * reads its key=value fields into b: iterations, median_ns, min_ns, max_ns,
 * cpu_ns, cores (time and rate rows) or median, min, max (value rows; and
 * for child processes of hop-bench, which print in the row's unit). The
 * field "version" is copied into version (if not NULL). Returns NULL or
 * why the line was unreadable. */
const char *bench_parse_result_line(bench_t *b, const char *out, const char *prefix, char *version,
                                    size_t version_size);

#endif /* HOP_BENCH_COMMON_H */
