/* bench/stack_cost.c: what a task stack costs, split into its parts:
 * mapping (mmap + mprotect of the guard, munmap), first touch (the page
 * faults of the pages a task writes), and hop's cache (spawn and finish of
 * tasks whose stacks are cached, reserved, or mapped anew).
 *
 *   ./out/rel/bench/hop-stack-cost [stacks]      (default 10,000)
 *
 * Each figure is the median of 5 runs, in ns per stack (or per page). */
#define _GNU_SOURCE
#include <hop/hop.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum { RUNS = 5, TOUCHED = 3 };
static size_t n;
static void **maps;
static hop_task_t **tasks;
static const size_t size = HOP_STACK_SIZE_DEFAULT, guard = HOP_STACK_GUARD_DEFAULT;

static void *empty(void *arg) { return arg; }

/* Spawns n inline tasks (each runs to its end at once, touching its top
 * pages), then releases them all: n stacks in use at the peak. */
static double spawn_all(void) {
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++)
        if (hop_task_spawn(hop_inline_executor(), empty, NULL, NULL, &tasks[i]) != 0)
            abort();
    for (size_t i = 0; i < n; i++)
        hop_task_unref(tasks[i]);
    return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv) {
    n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
    if (n == 0)
        return 2;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    maps = calloc(n, sizeof *maps);
    tasks = calloc(n, sizeof *tasks);
    double map[RUNS], touch[RUNS], retouch[RUNS], unmap[RUNS], cold[RUNS], warm[RUNS], reserve[RUNS],
        reserved[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (size_t i = 0; i < n; i++) {
            maps[i] = mmap(NULL, size + guard, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
            if (maps[i] == MAP_FAILED || mprotect(maps[i], guard, PROT_NONE) != 0)
                return 1;
        }
        double t1 = now_ns();
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < n; i++)
                for (size_t p = 1; p <= TOUCHED; p++)
                    ((volatile char *)maps[i])[size + guard - p * page] = 1;
        double t2 = now_ns();
        for (size_t i = 0; i < n; i++)
            for (size_t p = 1; p <= TOUCHED; p++)
                ((volatile char *)maps[i])[size + guard - p * page] = 2;
        double t3 = now_ns();
        for (size_t i = 0; i < n; i++)
            munmap(maps[i], size + guard);
        double t4 = now_ns();
        map[r] = (t1 - t0) / (double)n;
        retouch[r] = (t3 - t2) / (double)n;
        /* The two passes: the first faults, the second is a re-touch. */
        touch[r] = (t2 - t1) / (double)n - retouch[r];
        unmap[r] = (t4 - t3) / (double)n;

        hop_stack_cache_flush();
        cold[r] = spawn_all(); /* every stack mapped and touched */
        warm[r] = spawn_all(); /* every stack from the cache */
        hop_stack_cache_flush();
        t0 = now_ns();
        if (hop_stack_reserve(NULL, n) != 0)
            return 1;
        reserve[r] = (now_ns() - t0) / (double)n;
        reserved[r] = spawn_all(); /* mapped already, but not yet touched */
        hop_stack_reserve(NULL, 0);
        hop_stack_cache_flush();
    }
    double *rows[] = {map, unmap, touch, retouch, cold, warm, reserve, reserved};
    const char *names[] = {
        "mmap + mprotect (guard), per stack",
        "munmap, per stack",
        "first touch of 3 pages (3 page faults), per stack",
        "touching the same 3 resident pages, per stack",
        "hop spawn+finish, stack mapped and touched anew",
        "hop spawn+finish, stack from the cache",
        "hop_stack_reserve, per stack",
        "hop spawn+finish, reserved stack (first touch)",
    };
    printf("%zu stacks of %zu KiB + %zu KiB guard, median of %d runs, ns\n", n, size / 1024, guard / 1024, RUNS);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        qsort(rows[i], RUNS, sizeof(double), compare);
        printf("  %-52s %9.0f\n", names[i], rows[i][RUNS / 2]);
    }
    return 0;
}
