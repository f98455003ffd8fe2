/* bench/bench_env.h: what hop-bench's workloads share: hop's pool and two
 * loops set up for a thread count on demand, the pthread baseline pool, the
 * empty job every offloading peer runs, hop's counters around a row, the
 * compiled-in paths of the peers, and the list of rows being built. */
#ifndef HOP_BENCH_ENV_H
#define HOP_BENCH_ENV_H

#include <stdint.h>

#include "bench_common.h"
#include "hop/hop.h"

/* Jobs kept in flight by the offload workload. */
#define BENCH_INFLIGHT 1024
/* Jobs of one fan-out. */
#define BENCH_FANOUT 10000
/* Tasks spawned before they are joined, in spawn+join. */
#define BENCH_SPAWN_BATCH 100
/* The fork-join workload computes fib(BENCH_FIB_N). */
#define BENCH_FIB_N 30
/* Suspended tasks held at once by the memory workload (guarded hop stacks:
 * fewer, see workloads/memory.c). */
#define BENCH_MEMORY_TASKS 100000
#define BENCH_MEMORY_TASKS_GUARDED 20000
#define BENCH_MAX_THREADS 256

#ifndef HOP_BENCH_PEERS_DIR
#define HOP_BENCH_PEERS_DIR "bench/peers"
#endif
#ifndef HOP_BENCH_BUILD_DIR
#define HOP_BENCH_BUILD_DIR "."
#endif
#ifndef HOP_BENCH_GIT_REVISION
#define HOP_BENCH_GIT_REVISION "unknown"
#endif

/* Results go here so that no measured loop is dead code. */
extern volatile uintptr_t bench_sink;

/* The blocking job every offloading peer runs: returns its argument. Called
 * through this volatile pointer by every peer, so that none can inline it. */
extern void *(*volatile bench_job_fn)(void *arg);

static inline void bench_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

typedef struct {
    unsigned int pool_threads; /* 0: no pool open */
    unsigned int ready;        /* BENCH_NEED_* set up */
    unsigned int naive_threads;
    /* Each on its own cache lines: outside threads take a locked add on their
     * state words on every submission, and two side by side in one line
     * would make the loop's submissions to the pool and the workers' to the
     * loop fight over it. */
    _Alignas(128) hop_pool_t pool;
    _Alignas(128) hop_loop_t loop;
    _Alignas(128) hop_loop_t loop2;
} bench_env_t;

extern bench_env_t bench_env;

/* The thread count of the row being measured (its threads, or the first
 * --threads count for thread-independent rows). */
extern unsigned int bench_current_threads;

/* bench_env_require: sets up what needs asks for, with a pool (and a
 * pthread pool) of threads workers, closing one of another size first. */
void bench_env_require(unsigned int needs, unsigned int threads);

/* bench_env_release: closes everything bench_env_require opened. */
void bench_env_release(void);

/* bench_hop_run_task: spawns fn(arg) on executor, blocks the main thread
 * until it has finished (hop_future_wait), dies if it failed. */
void bench_hop_run_task(hop_executor_t *executor, hop_task_fn fn, void *arg, const char *what);

/* The pthread baseline (peers/naive_pool.c): --threads workers, one FIFO
 * under one mutex, one condition variable signalled per submission; the
 * submitter has its own mutex, condition variable and completion list. */
typedef struct naive_job_s {
    struct naive_job_s *next;
    void *arg;
    void *result;
} naive_job_t;
void naive_pool_start(unsigned int threads);
void naive_pool_stop(void);
void naive_pool_submit(naive_job_t *job);
/* Blocks until at least one job completed; returns the completed jobs. */
naive_job_t *naive_pool_wait(void);

/* Rows being built. */
typedef struct {
    bench_t *rows;
    int count, capacity;
} bench_list_t;

/* bench_list_add: appends a copy of row; returns it. */
bench_t *bench_list_add(bench_list_t *l, const bench_t *row);

/* bench_strf: a formatted string that lives until exit. */
__attribute__((format(printf, 1, 2))) const char *bench_strf(const char *format, ...);

/* bench_count_hop: makes row b (a hop row using the pool and/or loops)
 * count hop's pool and loop statistics over its runs; bench_print_counters
 * prints them per operation. */
void bench_count_hop(bench_t *b);
void bench_print_counters(FILE *f, const bench_t *benches, int count);
void bench_json_counters(FILE *f, const bench_t *benches, int count);

/* Variants of a hop row, for what the task registry and the trace cost
 * (issue 15's "Measured"): the same run function with the registry's publish
 * skipped at spawn (an internal switch of hop's, for this bench only), or
 * with a trace recording (hop_trace_start with the default rings, stopped
 * after the run; the rings wrap, as in a long trace). A row's state is a
 * bench_variant_t; bench_variant_run is its run function. */
enum { BENCH_NO_REGISTRY = 1, BENCH_TRACED = 2 };
typedef struct {
    bench_run_fn run;
    void *state;
    int variant; /* BENCH_NO_REGISTRY or BENCH_TRACED */
} bench_variant_t;
uint64_t bench_variant_run(void *state, uint64_t iters);
/* bench_variant_print: each measured variant row beside the plain row it
 * varies ("<name>_noregistry", "<name>_traced"): the difference per
 * operation, in ns and in percent. Nothing if none was measured. */
void bench_variant_print(FILE *f, const bench_t *benches, int count);

/* The external peers. Each runs a program (a Go binary built from
 * peers/go, python3 on a script in peers/) that calibrates and repeats
 * like this harness and prints one result line. */
const char *bench_python_external(bench_t *b, const bench_options_t *o);
const char *bench_go_external(bench_t *b, const bench_options_t *o);
/* bench_go_binary: the Go peer's executable, built on first use; if it
 * could not be built, why not (the path is then not executable). */
const char *bench_go_binary(void);
/* The versions the peers reported ("" until they ran). */
extern char bench_python_version[64], bench_go_version[64];

/* The workloads: each adds its rows (for every --threads count where the
 * row depends on it) and its targets. */
void bench_switch_add(bench_list_t *l, const bench_options_t *o);
void bench_spawn_add(bench_list_t *l, const bench_options_t *o);
void bench_offload_add(bench_list_t *l, const bench_options_t *o); /* roundtrip, offload, fan-out */
void bench_pingpong_add(bench_list_t *l, const bench_options_t *o);
void bench_forkjoin_add(bench_list_t *l, const bench_options_t *o);
void bench_memory_add(bench_list_t *l, const bench_options_t *o);
void bench_idle_add(bench_list_t *l, const bench_options_t *o);
void bench_blocking_add(bench_list_t *l, const bench_options_t *o);
/* bench_blocking_print: the blocking rows' extra figures (p99 time in
 * queue, peak threads), after the table; nothing if none was measured. */
void bench_blocking_print(FILE *f, const bench_t *benches, int count);
void bench_io_add(bench_list_t *l, const bench_options_t *o); /* TCP echo (workloads/io.c) */
void bench_timers_add(bench_list_t *l, const bench_options_t *o); /* timer re-arms (workloads/timers.c) */
/* The Boost.Context linkage ("static", "shared" or "not installed"). */
extern const char *bench_boost_context;
extern const char *bench_tbb_version; /* "oneTBB 2021.8" or "not installed" */
extern const char *bench_hop_backend; /* "asm" or "ucontext" */
/* --fp-flags-differ (workloads/switch.c). */
extern bool bench_fp_flags_differ;

/* Targets, added by the workloads, evaluated after the run. */
void bench_target_add(const bench_target_t *t);
extern bench_target_t bench_targets[64];
extern int bench_ntargets;

#if defined(HOP_BENCH_HAVE_TBB)
/* peers/tbb_peer.cpp: both return the nanoseconds their work took. */
uint64_t bench_tbb_spawn_join(unsigned int threads, uint64_t tasks, unsigned int batch);
uint64_t bench_tbb_fib(unsigned int threads, int n, long *result);
const char *bench_tbb_version_string(void);
#endif

/* bench_memory_probe: the child side of the memory workload (hop-bench
 * --memory-probe KIND N): prints "hop-bench-memory bytes_per_task=X". */
int bench_memory_probe(const char *kind, long tasks);

/* bench_self_path: this executable, for child processes. */
const char *bench_self_path(void);

#endif /* HOP_BENCH_ENV_H */
