/* bench/workloads/memory.c: workload 8, resident memory per suspended task:
 * 100,000 tasks suspended at once, the growth of the process's resident set
 * divided by their number. Every figure comes from a fresh process (one per
 * repetition), so that no memory freed earlier is reused: hop's probe is
 * this executable (hop-bench --memory-probe), Go's and Python's are their
 * peer programs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../bench_env.h"

/* Resident bytes of this process (/proc/self/statm, second field). */
static long resident_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        bench_die("/proc/self/statm: %s", strerror(errno));
    long size = 0, resident = 0;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        bench_die("/proc/self/statm: unreadable");
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void *suspended_task(void *arg) {
    hop_future_await(arg, NULL);
    return NULL;
}

int bench_memory_probe(const char *kind, long tasks) {
    hop_task_options_t options = {0};
    if (strcmp(kind, "hop16k") == 0)
        options = (hop_task_options_t){.stack_size = 16 * 1024, .flags = HOP_TASK_UNGUARDED_STACK};
    else if (strcmp(kind, "hop256k") != 0)
        bench_die("--memory-probe: hop16k or hop256k, not \"%s\"", kind);
    hop_task_t **handles = calloc((size_t)tasks, sizeof *handles);
    if (!handles)
        bench_die("out of memory");
    memset(handles, 1, (size_t)tasks * sizeof *handles); /* resident before the baseline */
    hop_executor_t *ex;
    int err = hop_manual_executor_create(&ex);
    if (err)
        bench_die("hop_manual_executor_create: %s", hop_strerror(err));
    hop_future_t gate;
    hop_future_init(&gate);
    /* One task first, so that hop's one-time state and the executor are set
     * up before the baseline. */
    hop_future_t warm;
    hop_future_init(&warm);
    hop_task_t *w;
    if ((err = hop_task_spawn(ex, suspended_task, &warm, &options, &w)) != 0)
        bench_die("hop_task_spawn: %s", hop_strerror(err));
    hop_manual_executor_run_all(ex, 0);
    hop_future_set_result(&warm, NULL);
    hop_manual_executor_run_all(ex, 0);
    hop_task_unref(w);

    long before = resident_bytes();
    for (long i = 0; i < tasks; i++) {
        err = hop_task_spawn(ex, suspended_task, &gate, &options, &handles[i]);
        if (err)
            bench_die("hop_task_spawn of task %ld: %s", i, hop_strerror(err));
    }
    hop_manual_executor_run_all(ex, 0);
    for (long i = 0; i < tasks; i++)
        if (hop_task_state(handles[i]) != HOP_TASK_SUSPENDED)
            bench_die("task %ld is not suspended", i);
    long after = resident_bytes();
    printf("hop-bench-memory bytes_per_task=%.1f tasks=%ld\n", (double)(after - before) / (double)tasks, tasks);
    fflush(stdout);
    hop_future_set_result(&gate, NULL);
    hop_manual_executor_run_all(ex, 0);
    for (long i = 0; i < tasks; i++)
        hop_task_unref(handles[i]);
    free(handles);
    return 0;
}

static const char *memory_external(bench_t *b, const bench_options_t *o) {
    static char why[512];
    const char *kind = b->state;
    long tasks = strncmp(kind, "hop256k", 7) == 0 ? BENCH_MEMORY_TASKS_GUARDED : BENCH_MEMORY_TASKS;
    char count[32], script[1024];
    snprintf(count, sizeof count, "%ld", tasks);
    snprintf(script, sizeof script, "%s/asyncio_peer.py", HOP_BENCH_PEERS_DIR);
    const char *python = getenv("HOP_BENCH_PYTHON");
    if (!python || !*python)
        python = "python3";
    char *argv[8] = {NULL};
    if (strncmp(kind, "hop", 3) == 0) {
        argv[0] = (char *)bench_self_path();
        argv[1] = "--memory-probe";
        argv[2] = (char *)kind;
        argv[3] = count;
    } else if (strcmp(kind, "go") == 0) {
        const char *go = bench_go_binary();
        if (access(go, X_OK) != 0)
            return go;
        argv[0] = (char *)go;
        argv[1] = "-mode";
        argv[2] = "memory";
        argv[3] = "-tasks";
        argv[4] = count;
    } else {
        argv[0] = (char *)python;
        argv[1] = script;
        argv[2] = "--mode";
        argv[3] = "memory";
        argv[4] = "--tasks";
        argv[5] = count;
    }
    /* One process per repetition; fewer than the time rows: the figure
     * hardly moves. */
    int n = o->quick ? (o->repeat < 3 ? o->repeat : 3) : (o->repeat < 5 ? o->repeat : 5);
    double v[16];
    for (int r = 0; r < n; r++) {
        char out[4096];
        const char *err = bench_run_process(argv, NULL, out, sizeof out);
        if (err)
            return err;
        const char *p = strstr(out, "bytes_per_task=");
        if (!p) {
            snprintf(why, sizeof why, "no bytes_per_task= in the output of %s", argv[0]);
            return why;
        }
        v[r] = strtod(p + strlen("bytes_per_task="), NULL);
        const char *ver = strstr(out, "version=");
        if (ver && strcmp(kind, "go") == 0 && !bench_go_version[0])
            sscanf(ver + 8, "%63s", bench_go_version);
        if (ver && strcmp(kind, "asyncio") == 0 && !bench_python_version[0])
            sscanf(ver + 8, "%63s", bench_python_version);
    }
    double median = bench_median(v, n);
    bench_set_values(b, (uint64_t)tasks, median, v[0], v[n - 1]);
    return NULL;
}

void bench_memory_add(bench_list_t *l, const bench_options_t *o) {
    (void)o;
    const char *w = "memory";
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop, 16 KiB unguarded stacks (100,000 tasks)",
                                 .name = "memory.hop_16k_unguarded",
                                 .unit = "bytes/task",
                                 .role = BENCH_HOP,
                                 .value = true,
                                 .external = memory_external,
                                 .state = "hop16k"});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "hop, default 256 KiB guarded stacks (20,000 tasks)",
                                 .name = "memory.hop_256k_guarded",
                                 .unit = "bytes/task",
                                 .role = BENCH_HOP,
                                 .value = true,
                                 .external = memory_external,
                                 .state = "hop256k"});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "Go goroutines blocked on a channel (100,000)",
                                 .name = "memory.go_goroutines",
                                 .unit = "bytes/task",
                                 .role = BENCH_PEER,
                                 .value = true,
                                 .external = memory_external,
                                 .state = "go"});
    bench_list_add(l, &(bench_t){.workload = w,
                                 .peer = "Python asyncio tasks awaiting a future (100,000)",
                                 .name = "memory.asyncio_tasks",
                                 .unit = "bytes/task",
                                 .role = BENCH_PEER,
                                 .value = true,
                                 .external = memory_external,
                                 .state = "asyncio"});
    bench_target_add(&(bench_target_t){.workload = w,
                                       .text = "resident bytes per suspended hop task <= 8 KiB (16 KiB stacks)",
                                       .hop = "memory.hop_16k_unguarded",
                                       .max_value = 8192});
}
