/* tests/test_migration.c: tasks that move between threads.
 *
 * Three manual executors, each driven by a thread of its own, stand in for
 * the pool and the loops: a task that dispatches to one of them continues on
 * that executor's thread. This exercises what migration breaks first:
 * publishing a task before it has left its stack (two threads then run on
 * one stack, which TSan and ASan see), and thread-local state read across a
 * suspension (a compiler may reuse the address it computed on the thread
 * before). Set HOP_SOAK_SECONDS for a longer run by hand. */
#include <pthread.h>
#include <stdlib.h>

#include "helpers.h"

#define EXECUTORS 3

static hop_executor_t *executors[EXECUTORS];
static pthread_t drivers[EXECUTORS];
static int stop;

/* glibc declares pthread_self() const, so the compiler may reuse a value
 * from before a suspension: exactly the caching hop warns users about. Read
 * it through an opaque call. */
__attribute__((noinline)) static pthread_t current_thread(void) {
    pthread_t self = pthread_self();
    __asm__ volatile("" : "+m"(self)::"memory");
    return self;
}

static void *drive(void *arg) {
    hop_executor_t *ex = arg;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
        if (hop_manual_executor_run_one(ex) == 0)
            sched_yield();
    return NULL;
}

typedef struct {
    unsigned int seed;
    int hops;
    long checksum;
    int misplaced;
} walker_t;

static unsigned int finished_walkers;

static void *walk(void *arg) {
    walker_t *w = arg;
    hop_task_t *self = hop_task_current();
    long locals[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int i = 0; i < w->hops; i++) {
        int target = rand_r(&w->seed) % EXECUTORS;
        CHECK_OK(hop_dispatch_to_executor(executors[target]));
        if (!pthread_equal(current_thread(), drivers[target]))
            w->misplaced++;
        if (hop_executor_current() != executors[target] || hop_task_current() != self)
            w->misplaced++;
        if (i % 7 == 0)
            CHECK_OK(hop_yield());
        for (int k = 0; k < 8; k++)
            locals[k] += k;
        w->checksum += target + 1;
    }
    for (int k = 0; k < 8; k++)
        if (locals[k] != (k + 1) + (long)k * w->hops)
            w->misplaced++;
    __atomic_fetch_add(&finished_walkers, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

static void run_walkers(int walkers, int hops, int seconds) {
    stop = 0;
    for (int i = 0; i < EXECUTORS; i++) {
        HOP_OK(hop_manual_executor_create(&executors[i]));
        pthread_create(&drivers[i], NULL, drive, executors[i]);
    }
    time_t deadline = time(NULL) + seconds;
    long rounds = 0;
    do {
        walker_t *ws = calloc((size_t)walkers, sizeof *ws);
        hop_task_t **tasks = calloc((size_t)walkers, sizeof *tasks);
        long expected[1024] = {0};
        finished_walkers = 0;
        for (int i = 0; i < walkers; i++) {
            ws[i] = (walker_t){.seed = (unsigned)(i * 7919 + rounds), .hops = hops};
            unsigned int seed = ws[i].seed;
            for (int h = 0; h < hops; h++)
                expected[i] += rand_r(&seed) % EXECUTORS + 1;
            HOP_OK(hop_task_spawn(executors[i % EXECUTORS], walk, &ws[i], NULL, &tasks[i]));
        }
        while (__atomic_load_n(&finished_walkers, __ATOMIC_ACQUIRE) < (unsigned)walkers)
            test_sleep_ms(1);
        for (int i = 0; i < walkers; i++) {
            HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
            cr_assert_eq(ws[i].misplaced, 0, "walker %d landed on the wrong thread or executor", i);
            cr_assert_eq(ws[i].checksum, expected[i], "walker %d skipped or repeated a hop", i);
            hop_task_unref(tasks[i]);
        }
        free(ws);
        free(tasks);
        rounds++;
    } while (time(NULL) < deadline);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < EXECUTORS; i++) {
        pthread_join(drivers[i], NULL);
        cr_assert_eq(hop_manual_executor_pending(executors[i]), 0);
        HOP_OK(hop_manual_executor_destroy(executors[i]));
    }
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
}

Test(migration, every_hop_lands_on_the_target_thread_and_every_task_finishes_once, .timeout = 300) {
    const char *soak = getenv("HOP_SOAK_SECONDS");
    run_walkers(256, 200, soak ? atoi(soak) : 0);
    test_assert_checks();
}

Test(migration, single_task_ping_pong_between_threads_keeps_its_state, .timeout = 120) {
    run_walkers(1, 20000, 0);
    test_assert_checks();
}
