/* bench/bench_common.h: the machinery every hop benchmark shares.
 *
 * A benchmark is a table of rows (bench_t). Each row either has a run
 * function, which the harness calibrates and repeats, or an external
 * function that measures the row itself (a peer in another process, a
 * one-off measurement). For every row the harness reports the median, the
 * fastest and the slowest of --repeat repetitions, and the process CPU time
 * (getrusage RUSAGE_SELF, user + system, all threads) per unit next to the
 * wall-clock figure, so that a row that spins or keeps threads busy shows it.
 *
 * Not thread-safe: the harness runs on the main thread; run functions may
 * start threads of their own. */
#ifndef HOP_BENCH_COMMON_H
#define HOP_BENCH_COMMON_H

#include <stdbool.h>
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

/* Runs iters iterations and returns the wall-clock nanoseconds they took
 * (the function may time a narrower window than the call itself, e.g. a task
 * timing its own loop; the CPU time is always measured around the call). */
typedef uint64_t (*bench_run_fn)(void *state, uint64_t iters);

/* Measures row b by other means and fills iters, median, min, max, cpu_ns
 * and cores (bench_set_result helps). Returns NULL, or why the row could
 * not be measured ("not installed"), which the table then shows. */
typedef const char *(*bench_external_fn)(bench_t *b, const bench_options_t *o);

struct bench_s {
    const char *workload; /* the table's first column; rows of one workload are compared */
    const char *peer;     /* the table's label */
    const char *name;     /* the JSON name, also what --filter matches */
    const char *unit;     /* "ns/transfer", "us/roundtrip", "jobs/s", ... */
    bench_run_fn run;     /* NULL and no external: skipped */
    bench_external_fn external;
    void *state;
    double units_per_iter; /* operations per iteration of run */
    bool rate;             /* report units per second rather than time per unit */
    double unit_ns;        /* time rows: nanoseconds per displayed unit (1, 1e3, 1e6); 0 means 1 */
    const char *skipped;   /* why the row was not measured; "filtered out" rows are not printed */
    /* filled in by the harness (or the external function) */
    bool measured;
    uint64_t iters;
    double median, min, max; /* in unit */
    double cpu_ns;           /* median process CPU nanoseconds per operation (all threads) */
    double cores;            /* median CPU time / wall time: 1.0 = one core busy throughout */
};

struct bench_options_s {
    int repeat;         /* repetitions per row; 0 until bench_options_finish */
    uint64_t target_ns; /* how long one repetition should last */
    bool quick;
    const char *json_path;
    uint64_t
        iterations; /* --iterations: fixed count, no calibration or warm-up (for profilers); 0: calibrate */
};

struct bench_machine_s {
    char cpu[256];
    long nproc;
    char kernel[512];
    double load1; /* 1-minute load average when the program started; -1: unknown */
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

/* bench_options_init: the defaults (~75 ms repetitions; --repeat decided by
 * bench_options_finish). */
void bench_options_init(bench_options_t *o);

/* bench_parse_option: if argv[*i] is --quick, --repeat N, --json FILE or
 * --iterations N,
 * consumes it (and its value, advancing *i) and returns true; dies on a bad
 * value; returns false for anything else. */
bool bench_parse_option(bench_options_t *o, int argc, char **argv, int *i);

/* bench_options_finish: applies --quick (repetitions of ~20 ms) and the
 * default repeat (default_repeat, or quick_repeat with --quick). */
void bench_options_finish(bench_options_t *o, int default_repeat, int quick_repeat);

/* bench_filter: filter is one or more substrings separated by commas; marks
 * every row whose name contains none of them as skipped "filtered out" (not
 * printed, not in the JSON). NULL: keeps all. */
void bench_filter(bench_t *benches, int count, const char *filter);

/* bench_measured: true if row b was measured (skipped and filtered rows
 * are not). */
bool bench_measured(const bench_t *b);

/* bench_run_all: measures every row that is neither skipped nor lacks a
 * run/external function, in order, with progress on stderr. */
void bench_run_all(bench_t *benches, int count, const bench_options_t *o);

/* bench_set_result: for external functions: fills b from per-operation
 * nanosecond figures (median, fastest, slowest) and the CPU nanoseconds
 * per operation, converting to b's unit (a rate for rate rows). */
void bench_set_result(bench_t *b, uint64_t iters, double median_ns, double min_ns, double max_ns,
                      double cpu_ns, double cores);

/* bench_machine: CPU model, online CPUs, kernel, load average (other
 * processes running next to the benchmark make every figure suspect). */
void bench_machine(bench_machine_t *m);

/* bench_print_table: the table on f: one line per row (filtered rows left
 * out), with median, min, max, unit, CPU per operation, cores busy and the
 * ratio to the first measured row of the same workload (> 1 is slower).
 * Column widths follow the longest label. */
void bench_print_table(FILE *f, const bench_t *benches, int count);

/* bench_format_cpu: "123 ns", "4.56 us" or "7.89 ms" for a CPU time per
 * operation, into buf. Returns buf. */
const char *bench_format_cpu(char *buf, size_t size, double ns);

/* bench_ratio: cost of b relative to ref, > 1 meaning slower, whichever way
 * the unit runs; 0 if either was not measured. */
double bench_ratio(const bench_t *b, const bench_t *ref);

/* JSON output:
 *   f = bench_json_begin(path, "hop-bench-x");  "benchmark", "hop_version"
 *   bench_json_string(f, "key", "value"); bench_json_raw(f, "key", "%d", 3);
 *   bench_json_common(f, o, m);                 "repeat", "target_ms_per_repetition", "quick", "machine"
 *   bench_json_results(f, benches, count);      "results": [...]
 *   bench_json_summary_begin(f); fprintf(f, "    \"a\": 1"); ...
 *   bench_json_end(f, path);                    closes "summary" and the object */
FILE *bench_json_begin(const char *path, const char *benchmark);
void bench_json_write_string(FILE *f, const char *s);
void bench_json_string(FILE *f, const char *key, const char *value);
__attribute__((format(printf, 3, 4))) void bench_json_raw(FILE *f, const char *key, const char *format, ...);
void bench_json_common(FILE *f, const bench_options_t *o, const bench_machine_t *m);
void bench_json_results(FILE *f, const bench_t *benches, int count);
void bench_json_summary_begin(FILE *f);
void bench_json_end(FILE *f, const char *path);

#endif /* HOP_BENCH_COMMON_H */
