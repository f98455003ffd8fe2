/* bench/bench_env.c: the environment hop-bench's workloads share (see
 * bench_env.h): hop's pool and loops opened on demand for a thread count,
 * the list of rows, hop's counters, and the Go and Python peers. */
#define _GNU_SOURCE
#include "bench_env.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

volatile uintptr_t bench_sink;

__attribute__((noinline)) static void *bench_empty_job(void *arg) { return arg; }
void *(*volatile bench_job_fn)(void *arg) = bench_empty_job;

bench_env_t bench_env;
unsigned int bench_current_threads = 2;

char bench_python_version[64], bench_go_version[64];

bench_target_t bench_targets[64];
int bench_ntargets;

void bench_target_add(const bench_target_t *t) {
    if (bench_ntargets == (int)(sizeof bench_targets / sizeof bench_targets[0]))
        bench_die("too many targets");
    bench_targets[bench_ntargets++] = *t;
}

void bench_env_require(unsigned int needs, unsigned int threads) {
    if ((needs & BENCH_NEED_POOL) && bench_env.pool_threads && bench_env.pool_threads != threads) {
        int err = hop_pool_close(&bench_env.pool);
        if (err)
            bench_die("hop_pool_close: %s", hop_strerror(err));
        bench_env.pool_threads = 0;
    }
    if ((needs & BENCH_NEED_POOL) && !bench_env.pool_threads) {
        hop_pool_options_t options = {.threads = threads, .name = NULL};
        int err = hop_pool_init(&bench_env.pool, &options);
        if (err)
            bench_die("hop_pool_init (%u threads): %s", threads, hop_strerror(err));
        bench_env.pool_threads = threads;
    }
    hop_loop_t *loops[2] = {&bench_env.loop, &bench_env.loop2};
    unsigned int flags[2] = {BENCH_NEED_LOOP, BENCH_NEED_LOOP2};
    for (int i = 0; i < 2; i++) {
        if (!(needs & flags[i]) || (bench_env.ready & flags[i]))
            continue;
        hop_loop_options_t options = {.name = i ? "hop-loop-b" : "hop-loop-a", .batch = 0};
        int err = hop_loop_init(loops[i], &options);
        if (!err)
            err = hop_loop_start(loops[i]);
        if (err)
            bench_die("hop_loop_init/start: %s", hop_strerror(err));
        bench_env.ready |= flags[i];
    }
    if ((needs & BENCH_NEED_NAIVE) && bench_env.naive_threads != threads) {
        if (bench_env.naive_threads)
            naive_pool_stop();
        naive_pool_start(threads);
        bench_env.naive_threads = threads;
    }
}

void bench_env_release(void) {
    hop_loop_t *loops[2] = {&bench_env.loop, &bench_env.loop2};
    unsigned int flags[2] = {BENCH_NEED_LOOP, BENCH_NEED_LOOP2};
    for (int i = 0; i < 2; i++) {
        if (!(bench_env.ready & flags[i]))
            continue;
        int err = hop_loop_close(loops[i]);
        if (err)
            bench_die("hop_loop_close: %s", hop_strerror(err));
        bench_env.ready &= ~flags[i];
    }
    if (bench_env.pool_threads) {
        int err = hop_pool_close(&bench_env.pool);
        if (err)
            bench_die("hop_pool_close: %s", hop_strerror(err));
        bench_env.pool_threads = 0;
    }
    if (bench_env.naive_threads) {
        naive_pool_stop();
        bench_env.naive_threads = 0;
    }
}

/* hop's switch for the registry rows (src/core/task_internal.h). */
extern bool hop__registry_skipped;

uint64_t bench_variant_run(void *state, uint64_t iters) {
    const bench_variant_t *v = state;
    /* Set before the row spawns anything; its first submit publishes it to
     * the workers. */
    if (v->variant == BENCH_NO_REGISTRY) {
        hop__registry_skipped = true;
    } else {
        int err = hop_trace_start(NULL);
        if (err)
            bench_die("hop_trace_start: %s", hop_strerror(err));
    }
    uint64_t ns = v->run(v->state, iters);
    if (v->variant == BENCH_NO_REGISTRY)
        hop__registry_skipped = false;
    else
        hop_trace_stop();
    return ns;
}

void bench_variant_print(FILE *f, const bench_t *benches, int count) {
    bool header = false;
    for (int i = 0; i < count; i++) {
        const bench_t *v = &benches[i];
        if (!v->measured || v->run != bench_variant_run)
            continue;
        const char *suffix = ((const bench_variant_t *)v->state)->variant == BENCH_NO_REGISTRY ? "_noregistry"
                                                                                               : "_traced";
        char base[128];
        size_t len = strlen(v->name) - strlen(suffix);
        snprintf(base, sizeof base, "%.*s", (int)len, v->name);
        const bench_t *plain = bench_find(benches, count, base, v->threads);
        if (!plain || !plain->measured)
            continue;
        if (!header) {
            fprintf(f, "\nregistry and trace: each variant against its plain row (cost per operation)\n");
            header = true;
        }
        /* ns per operation: rows are rates (ops/s) or times in their unit. */
        double unit_ns = v->rate ? 1e9 : (v->unit_ns > 0 ? v->unit_ns : 1);
        double plain_ns = bench_cost(plain) * unit_ns, variant_ns = bench_cost(v) * unit_ns;
        char thr[32] = "";
        if (v->threads)
            snprintf(thr, sizeof thr, " [%u thr]", v->threads);
        if (((const bench_variant_t *)v->state)->variant == BENCH_NO_REGISTRY)
            fprintf(f, "  %-44s registry costs %+8.1f ns/op (%+.1f%%): %.1f ns with, %.1f without\n",
                    bench_strf("%s%s", base, thr), plain_ns - variant_ns, 100 * (plain_ns / variant_ns - 1),
                    plain_ns, variant_ns);
        else
            fprintf(f, "  %-44s tracing costs  %+8.1f ns/op (%+.1f%%): %.1f ns on, %.1f off\n",
                    bench_strf("%s%s", base, thr), variant_ns - plain_ns, 100 * (variant_ns / plain_ns - 1),
                    variant_ns, plain_ns);
    }
}

void bench_hop_run_task(hop_executor_t *executor, hop_task_fn fn, void *arg, const char *what) {
    hop_task_t *t;
    int err = hop_task_spawn(executor, fn, arg, NULL, &t);
    if (err)
        bench_die("hop_task_spawn (%s): %s", what, hop_strerror(err));
    err = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    if (err)
        bench_die("%s: the task failed: %s", what, hop_strerror(err));
}

/* ---------------------------------------------------------------------------
 * Rows. */

bench_t *bench_list_add(bench_list_t *l, const bench_t *row) {
    if (l->count == l->capacity) {
        l->capacity = l->capacity ? 2 * l->capacity : 64;
        l->rows = realloc(l->rows, sizeof *l->rows * (size_t)l->capacity);
        if (!l->rows)
            bench_die("out of memory");
    }
    bench_t *b = &l->rows[l->count++];
    *b = *row;
    if (b->units_per_iter == 0)
        b->units_per_iter = 1.0;
    return b;
}

const char *bench_strf(const char *format, ...) {
    va_list ap;
    va_start(ap, format);
    char *s;
    if (vasprintf(&s, format, ap) < 0)
        bench_die("out of memory");
    va_end(ap);
    return s;
}

/* ---------------------------------------------------------------------------
 * hop's own counters (hop_pool_stats, hop_loop_stats) around every run of a
 * hop row, calibration included, divided by the operations run: how often
 * per round trip or job a worker parked or was woken, the loop was
 * signalled, and so on. They say where the time goes when a figure is off. */

typedef struct {
    bench_run_fn inner;
    void *inner_state;
    double units_per_iter;
    uint64_t ops;
    hop_pool_stats_t pool;
    hop_loop_stats_t loop;
} hop_counted_t;

static uint64_t hop_counted_run(void *state, uint64_t iters) {
    hop_counted_t *c = state;
    hop_pool_stats_t p0 = {0}, p1 = {0};
    hop_loop_stats_t l0 = {0}, l1 = {0};
    bool pool = bench_env.pool_threads != 0, loop = (bench_env.ready & BENCH_NEED_LOOP) != 0;
    if (pool)
        hop_pool_stats(&bench_env.pool, &p0);
    if (loop)
        hop_loop_stats(&bench_env.loop, &l0);
    uint64_t ns = c->inner(c->inner_state, iters);
    if (pool)
        hop_pool_stats(&bench_env.pool, &p1);
    if (loop)
        hop_loop_stats(&bench_env.loop, &l1);
    c->ops += (uint64_t)((double)iters * c->units_per_iter);
    c->pool.jobs_run += p1.jobs_run - p0.jobs_run;
    c->pool.steals += p1.steals - p0.steals;
    c->pool.parks += p1.parks - p0.parks;
    c->pool.wakeups += p1.wakeups - p0.wakeups;
    c->pool.injected += p1.injected - p0.injected;
    c->pool.steal_rests += p1.steal_rests - p0.steal_rests;
    c->loop.jobs_run += l1.jobs_run - l0.jobs_run;
    c->loop.wakeups_sent += l1.wakeups_sent - l0.wakeups_sent;
    c->loop.batches += l1.batches - l0.batches;
    c->loop.lags += l1.lags - l0.lags;
    return ns;
}

void bench_count_hop(bench_t *b) {
    hop_counted_t *c = calloc(1, sizeof *c);
    if (!c)
        bench_die("out of memory");
    c->inner = b->run;
    c->inner_state = b->state;
    c->units_per_iter = b->units_per_iter;
    b->run = hop_counted_run;
    b->state = c;
}

static const hop_counted_t *counted(const bench_t *b) {
    return b->run == hop_counted_run && b->measured ? b->state : NULL;
}

void bench_print_counters(FILE *f, const bench_t *benches, int count) {
    bool header = false;
    for (int i = 0; i < count; i++) {
        const hop_counted_t *c = counted(&benches[i]);
        if (!c || !c->ops)
            continue;
        double n = (double)c->ops;
        if (!header) {
            fprintf(f, "hop's counters per operation (round trip, job, task or fib), all runs of the row:\n");
            fprintf(f, "  %-34s %3s %9s %9s %9s %9s %9s %9s %9s\n", "row", "thr", "pool.jobs", "injected",
                    "steals", "parks", "wakeups", "loop.jobs", "loop.wake");
            header = true;
        }
        fprintf(f, "  %-34s %3u %9.3f %9.3f %9.3f %9.4f %9.4f %9.3f %9.4f\n", benches[i].name,
                benches[i].threads, c->pool.jobs_run / n, c->pool.injected / n, c->pool.steals / n,
                c->pool.parks / n, c->pool.wakeups / n, c->loop.jobs_run / n, c->loop.wakeups_sent / n);
    }
}

void bench_json_counters(FILE *f, const bench_t *benches, int count) {
    fprintf(f, ",\n  \"hop_counters_per_op\": [");
    const char *sep = "";
    for (int i = 0; i < count; i++) {
        const hop_counted_t *c = counted(&benches[i]);
        if (!c || !c->ops)
            continue;
        double n = (double)c->ops;
        fprintf(f, "%s\n    {\"name\": ", sep);
        bench_json_write_string(f, benches[i].name);
        fprintf(f,
                ", \"threads\": %u, \"pool_jobs_run\": %.4f, \"pool_injected\": %.4f, \"pool_steals\": %.4f, "
                "\"pool_steal_rests\": %.5f, \"pool_parks\": %.5f, \"pool_wakeups\": %.5f, "
                "\"loop_jobs_run\": %.4f, "
                "\"loop_wakeups_sent\": %.5f, \"loop_batches\": %.5f, \"loop_lags\": %.5f}",
                benches[i].threads, c->pool.jobs_run / n, c->pool.injected / n, c->pool.steals / n,
                c->pool.steal_rests / n, c->pool.parks / n, c->pool.wakeups / n, c->loop.jobs_run / n,
                c->loop.wakeups_sent / n, c->loop.batches / n, c->loop.lags / n);
        sep = ",";
    }
    fprintf(f, "\n  ]");
}

/* ---------------------------------------------------------------------------
 * Peers in other processes. Both get the same calibration target, the same
 * --repeat and the same thread count as the C rows, and print
 *   <prefix> version=V iterations=N median_ns=X min_ns=X max_ns=X cpu_ns=X cores=X
 * (nanoseconds per operation; their own process's CPU time). */

static void peer_args(const bench_t *b, const bench_options_t *o, char bufs[7][32]) {
    snprintf(bufs[0], 32, "%u", b->threads ? b->threads : o->threads[0]);
    snprintf(bufs[1], 32, "%d", o->repeat);
    snprintf(bufs[2], 32, "%.3f", (double)o->target_ns / 1e6);
    snprintf(bufs[3], 32, "%d", BENCH_INFLIGHT);
    snprintf(bufs[4], 32, "%d", BENCH_SPAWN_BATCH);
    snprintf(bufs[5], 32, "%d", BENCH_FANOUT);
    snprintf(bufs[6], 32, "%d", BENCH_FIB_N);
}

const char *bench_python_external(bench_t *b, const bench_options_t *o) {
    static char why[1280];
    const char *python = getenv("HOP_BENCH_PYTHON");
    if (!python || !*python)
        python = "python3";
    char script[1024];
    snprintf(script, sizeof script, "%s/asyncio_peer.py", HOP_BENCH_PEERS_DIR);
    if (access(script, R_OK) != 0) {
        snprintf(why, sizeof why, "no %s", script);
        return why;
    }
    char a[7][32];
    peer_args(b, o, a);
    char *argv[] = {(char *)python, script,       "--mode",      (char *)b->state, "--threads", a[0],
                    "--repeat",     a[1],         "--target-ms", a[2],             "--inflight", a[3],
                    "--fanout",     a[5],         NULL};
    char out[4096];
    const char *err = bench_run_process(argv, NULL, out, sizeof out);
    if (err)
        return err;
    return bench_parse_result_line(b, out, "asyncio_peer ", bench_python_version, sizeof bench_python_version);
}

/* The Go peer is built on first use, into the build folder, with its caches
 * there too (HOME may not be writable). */
const char *bench_go_binary(void) {
    static char path[1024];
    static const char *state; /* NULL: not tried; "": built; else why not */
    if (state)
        return *state ? state : path;
    snprintf(path, sizeof path, "%s/hop-bench-go", HOP_BENCH_BUILD_DIR);
    char source[1024], cache[1100], gopath[1100], out[4096];
    snprintf(source, sizeof source, "%s/go/main.go", HOP_BENCH_PEERS_DIR);
    snprintf(cache, sizeof cache, "GOCACHE=%s/go-cache", HOP_BENCH_BUILD_DIR);
    snprintf(gopath, sizeof gopath, "GOPATH=%s/go-path", HOP_BENCH_BUILD_DIR);
    char *env[] = {cache, gopath, "GO111MODULE=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0", NULL};
    char *argv[] = {"go", "build", "-o", path, source, NULL};
    fprintf(stderr, "building the Go peer: go build -o %s %s\n", path, source);
    state = bench_run_process(argv, env, out, sizeof out);
    if (state) {
        static char why[256];
        snprintf(why, sizeof why, "%s", strcmp(state, "not installed") == 0 ? "not installed" : state);
        state = why;
        return state;
    }
    state = "";
    return path;
}

const char *bench_go_external(bench_t *b, const bench_options_t *o) {
    const char *go = bench_go_binary();
    if (access(go, X_OK) != 0)
        return go;
    char a[7][32];
    peer_args(b, o, a);
    char gomaxprocs[48];
    snprintf(gomaxprocs, sizeof gomaxprocs, "GOMAXPROCS=%s", a[0]);
    char *env[] = {gomaxprocs, NULL};
    char *argv[] = {(char *)go, "-mode",    (char *)b->state, "-threads", a[0], "-repeat", a[1],
                    "-target-ms", a[2],     "-inflight",      a[3],       "-batch", a[4], "-fanout",
                    a[5],       "-fib",     a[6],             NULL};
    char out[4096];
    const char *err = bench_run_process(argv, env, out, sizeof out);
    if (err)
        return err;
    return bench_parse_result_line(b, out, "go_peer ", bench_go_version, sizeof bench_go_version);
}

const char *bench_self_path(void) {
    static char path[4096];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            bench_die("readlink /proc/self/exe: %s", strerror(errno));
        path[n] = '\0';
    }
    return path;
}
