/* tests/test_hop.c: tasks hopping between the pool and libuv loops, the
 * product end to end: every awaitable lands on the right thread, keeps the
 * task's locals and returns the right result; thousands of tasks hopping at
 * random all finish exactly once; shutting down with tasks in flight loses
 * nothing. HOP_SOAK_SECONDS=N runs the random-hop stress, and the soak of
 * random hops, cancels and shutdowns, for N seconds each. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "helpers.h"

/* glibc declares pthread_self() const: a compiler may reuse a value read
 * before an await, which is the very caching hop warns about. */
__attribute__((noinline)) static pthread_t current_thread(void) {
    pthread_t self = pthread_self();
    __asm__ volatile("" : "+m"(self)::"memory");
    return self;
}

static hop_pool_t pool;
static bool pool_closed_by_test;
static hop_loop_t loops[2];
static pthread_t loop_threads[2];

/* Learns each loop's thread by asking it. */
static void *which_thread(void *out) {
    *(pthread_t *)out = current_thread();
    return NULL;
}

static void setup(void) {
    pool_closed_by_test = false;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    for (int i = 0; i < 2; i++) {
        HOP_OK(hop_loop_init(&loops[i], NULL));
        HOP_OK(hop_loop_start(&loops[i]));
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_loop_executor(&loops[i]), which_thread, &loop_threads[i], NULL, &t));
        HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(t);
    }
}

static void teardown(void) {
    for (int i = 0; i < 2; i++)
        HOP_OK(hop_loop_close(&loops[i]));
    if (!pool_closed_by_test)
        HOP_OK(hop_pool_close(&pool));
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "a task's stack was never released");
}

TestSuite(hop, .init = setup, .fini = teardown, .timeout = 120);

static bool on_pool_thread(void) {
    pthread_t self = current_thread();
    return !pthread_equal(self, loop_threads[0]) && !pthread_equal(self, loop_threads[1]);
}

/* The example from the issue: start on a loop, yield, move to the pool,
 * come back, and the value survives every hop. */
static void *method(void *arg) {
    (void)arg;
    int value = 10;
    pthread_t original = current_thread();
    CHECK(pthread_equal(original, loop_threads[0]));
    CHECK_OK(hop_yield());
    CHECK(pthread_equal(original, current_thread()), "a yield on a loop stays on its thread");
    CHECK_OK(hop_dispatch_to_executor(hop_pool_executor(&pool)));
    CHECK(!pthread_equal(original, current_thread()), "dispatch to the pool changes threads");
    CHECK(on_pool_thread());
    CHECK(hop_executor_current() == hop_pool_executor(&pool));
    value += 5;
    CHECK_OK(hop_dispatch_to_loop(&loops[0]));
    CHECK(pthread_equal(original, current_thread()), "back on that loop's thread");
    CHECK(hop_executor_current() == hop_loop_executor(&loops[0]));
    CHECK(hop_loop_current() == &loops[0]);
    return (void *)(intptr_t)value;
}

Test(hop, the_issue_example_returns_15_and_really_changes_threads) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[0]), method, NULL, NULL, &t));
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result));
    cr_assert_eq((intptr_t)result, 15);
    hop_task_unref(t);
    test_assert_checks();
}

static void *blocking_square(void *arg) {
    CHECK(on_pool_thread(), "the blocking function runs on a pool thread");
    CHECK(hop_task_current() == NULL, "as a plain job, not a task");
    CHECK(hop_executor_current() == hop_pool_executor(&pool));
    intptr_t x = (intptr_t)arg;
    return (void *)(x * x);
}

static void *offload_from_loop(void *arg) {
    int loop = (int)(intptr_t)arg;
    long locals[4] = {1, 2, 3, 4};
    intptr_t sum = 0;
    for (intptr_t i = 0; i < 100; i++) {
        void *square;
        CHECK_OK(hop_run_in_executor(hop_pool_executor(&pool), blocking_square, (void *)i, &square));
        CHECK(pthread_equal(current_thread(), loop_threads[loop]), "resumed on its own loop thread");
        CHECK(hop_executor_current() == hop_loop_executor(&loops[loop]));
        sum += (intptr_t)square;
        locals[i % 4] += i;
    }
    CHECK(locals[0] + locals[1] + locals[2] + locals[3] == 10 + 4950);
    return (void *)sum;
}

Test(hop, run_in_executor_runs_on_the_pool_and_resumes_on_the_loop_with_the_result) {
    hop_task_t *t[2];
    for (int i = 0; i < 2; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loops[i]), offload_from_loop, (void *)(intptr_t)i, NULL, &t[i]));
    for (int i = 0; i < 2; i++) {
        void *result;
        HOP_OK(hop_future_wait(hop_task_future(t[i]), HOP_WAIT_FOREVER, &result));
        cr_assert_eq((intptr_t)result, 328350); /* sum of squares below 100 */
        hop_task_unref(t[i]);
    }
    test_assert_checks();
}

static void *offload_from_pool(void *arg) {
    (void)arg;
    pthread_t ran_on;
    CHECK_OK(hop_run_in_executor(hop_loop_executor(&loops[1]), which_thread, &ran_on, NULL));
    CHECK(pthread_equal(ran_on, loop_threads[1]), "the job ran on the loop");
    CHECK(on_pool_thread(), "a pool task comes back to the pool");
    CHECK_OK(hop_yield());
    CHECK(on_pool_thread(), "a yield on the pool stays on the pool");
    return NULL;
}

Test(hop, a_pool_task_can_offload_to_a_loop_and_comes_back_to_the_pool) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), offload_from_pool, NULL, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    test_assert_checks();
}

/* A future completed on a plain thread: the task resumes on the executor it
 * belongs to at that moment, not on the completing thread. */
static hop_future_t later;
static void *await_on_loop(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&later, NULL));
    CHECK(pthread_equal(current_thread(), loop_threads[1]));
    return NULL;
}

/* Completes later once the task is suspended on it: the resume path. */
static void *complete_later(void *arg) {
    test_wait_suspended(arg);
    CHECK_OK(hop_future_set_result(&later, NULL));
    return NULL;
}

Test(hop, a_future_completed_on_a_plain_thread_resumes_the_task_on_its_loop) {
    hop_future_init(&later);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[1]), await_on_loop, NULL, NULL, &t));
    pthread_t completer;
    pthread_create(&completer, NULL, complete_later, t);
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    pthread_join(completer, NULL);
    hop_task_unref(t);
    test_assert_checks();
}

/* The stress: many tasks, each making hundreds of random hops among the two
 * loops and the pool (dispatches, offloads and yields), checking after every
 * hop that it landed on the thread asked for. A checksum proves each task
 * ran every hop exactly once; the finished count proves each finished once. */
#define WALKERS 2000
#define HOPS 200

typedef struct {
    unsigned int seed;
    long checksum;
    long expected;
    int misplaced;
} walker_t;

static walker_t walkers[WALKERS];
static unsigned int finished;

static void *empty_job(void *arg) { return arg; }

static void *walk(void *arg) {
    walker_t *w = arg;
    for (int i = 0; i < HOPS; i++) {
        int move = rand_r(&w->seed) % 5;
        if (move < 2) {
            CHECK_OK(hop_dispatch_to_loop(&loops[move]));
            if (!pthread_equal(current_thread(), loop_threads[move]) ||
                hop_executor_current() != hop_loop_executor(&loops[move]))
                w->misplaced++;
        } else if (move == 2) {
            CHECK_OK(hop_dispatch_to_executor(hop_pool_executor(&pool)));
            if (!on_pool_thread() || hop_executor_current() != hop_pool_executor(&pool))
                w->misplaced++;
        } else {
            hop_executor_t *home = hop_executor_current();
            if (move == 3)
                CHECK_OK(hop_run_in_executor(hop_pool_executor(&pool), empty_job, NULL, NULL));
            else
                CHECK_OK(hop_yield());
            if (hop_executor_current() != home)
                w->misplaced++;
        }
        w->checksum += move + 1;
    }
    __atomic_fetch_add(&finished, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

static void run_walkers(int count) {
    hop_task_t **tasks = calloc((size_t)count, sizeof *tasks);
    finished = 0;
    for (int i = 0; i < count; i++) {
        walkers[i] = (walker_t){.seed = (unsigned)i * 2654435761u};
        unsigned int seed = walkers[i].seed;
        for (int h = 0; h < HOPS; h++)
            walkers[i].expected += rand_r(&seed) % 5 + 1;
        hop_executor_t *start = i % 3 == 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loops[i % 3]);
        HOP_OK(hop_task_spawn(start, walk, &walkers[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < count; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        cr_assert_eq(walkers[i].misplaced, 0, "walker %d landed on the wrong thread", i);
        cr_assert_eq(walkers[i].checksum, walkers[i].expected, "walker %d lost or repeated a hop", i);
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(__atomic_load_n(&finished, __ATOMIC_ACQUIRE), (unsigned)count, "a task finished twice");
    free(tasks);
}

Test(hop, thousands_of_tasks_hopping_at_random_all_land_where_asked_and_finish_once, .timeout = 600) {
    const char *soak = getenv("HOP_SOAK_SECONDS");
    time_t deadline = time(NULL) + (soak ? atoi(soak) : 0);
    do
        run_walkers(WALKERS);
    while (time(NULL) < deadline);
    test_assert_checks();
}

/* Shutdown while tasks are in flight: loop tasks keep offloading slow jobs
 * to the pool while it closes. Each offload either ran (accepted before the
 * close) or was refused with HOP_ECLOSED; every task completes. */
static void *slow_job(void *arg) {
    test_sleep_ms(1);
    return arg;
}

static unsigned int offloads_ran, offloads_refused;

static void never_runs(hop_job_t *job) {
    (void)job;
    CHECK(false, "a job refused at submit ran");
}

static void *offload_until_refused(void *arg) {
    (void)arg;
    for (;;) {
        int status = hop_run_in_executor(hop_pool_executor(&pool), slow_job, NULL, NULL);
        if (status == HOP_ECLOSED) {
            __atomic_fetch_add(&offloads_refused, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        CHECK_OK(status);
        __atomic_fetch_add(&offloads_ran, 1, __ATOMIC_RELAXED);
    }
}

Test(hop, closing_the_pool_with_offloads_in_flight_completes_or_refuses_each_one) {
    hop_task_t *tasks[64];
    offloads_ran = offloads_refused = 0;
    for (int i = 0; i < 64; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loops[i % 2]), offload_until_refused, NULL, NULL, &tasks[i]));
    /* Close once offloads are flowing: some have completed, more are in flight. */
    while (__atomic_load_n(&offloads_ran, __ATOMIC_RELAXED) < 64)
        test_sleep_ms(1);
    HOP_OK(hop_pool_close(&pool));
    pool_closed_by_test = true;
    hop_job_t job;
    hop_job_init(&job, never_runs);
    HOP_ERR(hop_pool_submit(&pool, &job), HOP_ECLOSED);
    for (int i = 0; i < 64; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(offloads_refused, 64, "every task saw the close exactly once");
    cr_assert_gt(offloads_ran, 0);
    test_assert_checks();
}

/* Tasks suspended on the pool when it is asked to close: the close waits for
 * them, and they resume and finish on the pool. */
static hop_future_t gate;
static void *wait_on_pool(void *arg) {
    CHECK_OK(hop_future_await(&gate, NULL));
    CHECK(on_pool_thread());
    return arg;
}

/* Opens the gate once the pool's close has begun. */
static void *open_gate(void *arg) {
    (void)arg;
    CHECK_ERR(test_wait_closing(hop_pool_executor(&pool)), HOP_ECLOSED);
    CHECK_OK(hop_future_set_result(&gate, NULL));
    return NULL;
}

Test(hop, closing_the_pool_waits_for_its_suspended_tasks_to_finish) {
    hop_future_init(&gate);
    hop_task_t *tasks[32];
    for (int i = 0; i < 32; i++)
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), wait_on_pool, (void *)(intptr_t)i, NULL, &tasks[i]));
    for (int i = 0; i < 32; i++)
        test_wait_suspended(tasks[i]);
    pthread_t opener;
    pthread_create(&opener, NULL, open_gate, NULL);
    HOP_OK(hop_pool_close(&pool));
    pool_closed_by_test = true;
    for (int i = 0; i < 32; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE, "close returned before task %d finished", i);
        hop_task_unref(tasks[i]);
    }
    pthread_join(opener, NULL);
    test_assert_checks();
}

/* The soak: random hops, cancels at random moments and shutdowns with work
 * in flight, round after round. One round in CI; HOP_SOAK_SECONDS=N repeats
 * rounds for N seconds (the TSan runner stretches its alarm by as much). */
#define CANCEL_WALKERS 128

typedef struct {
    unsigned int seed;
    long hops;
    int misplaced;
} cancel_walker_t;

static cancel_walker_t cancel_walkers[CANCEL_WALKERS];
static unsigned int cancel_started, cancel_finished;

/* Like walk, but any await may answer HOP_ECANCELED, or HOP_EINPROGRESS
 * for an offload whose job was already running when the cancel came: the
 * walker stops there, on the executor it awaited from. */
static void *walk_until_cancelled(void *arg) {
    cancel_walker_t *w = arg;
    __atomic_fetch_add(&cancel_started, 1, __ATOMIC_ACQ_REL);
    for (int i = 0; i < HOPS; i++) {
        int move = rand_r(&w->seed) % 5, status;
        hop_executor_t *home = hop_executor_current();
        if (move < 2)
            status = hop_dispatch_to_loop(&loops[move]);
        else if (move == 2)
            status = hop_dispatch_to_executor(hop_pool_executor(&pool));
        else if (move == 3)
            status = hop_run_in_executor(hop_pool_executor(&pool), empty_job, NULL, NULL);
        else
            status = hop_yield();
        if (status == HOP_ECANCELED || (move == 3 && status == HOP_EINPROGRESS)) {
            if (hop_executor_current() != home)
                w->misplaced++;
            break;
        }
        CHECK_OK(status);
        hop_executor_t *want = move < 2 ? hop_loop_executor(&loops[move])
                               : move == 2 ? hop_pool_executor(&pool)
                                           : home;
        if (hop_executor_current() != want)
            w->misplaced++;
        w->hops++;
    }
    __atomic_fetch_add(&cancel_finished, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

/* Spawns walkers and cancels each after a random number of yields of this
 * thread: every one finishes once, cancelled or complete, never misplaced. */
static void run_cancel_round(unsigned int round) {
    hop_task_t *tasks[CANCEL_WALKERS];
    unsigned int seed = round * 2246822519u + 1;
    cancel_started = cancel_finished = 0;
    for (int i = 0; i < CANCEL_WALKERS; i++) {
        cancel_walkers[i] = (cancel_walker_t){.seed = seed + (unsigned)i};
        hop_executor_t *start = i % 3 == 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loops[i % 3]);
        HOP_OK(hop_task_spawn(start, walk_until_cancelled, &cancel_walkers[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < CANCEL_WALKERS; i++) {
        for (int spin = rand_r(&seed) % 64; spin > 0; spin--)
            sched_yield();
        int status = hop_task_cancel(tasks[i]);
        cr_assert(status == 0 || status == HOP_EALREADY, "cancel returned %d", status);
    }
    for (int i = 0; i < CANCEL_WALKERS; i++) {
        int status = hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
        cr_assert(status == 0 || status == HOP_ECANCELED, "walker %d ended with %d", i, status);
        cr_assert_eq(cancel_walkers[i].misplaced, 0, "walker %d landed on the wrong executor", i);
        if (status == 0)
            cr_assert_eq(cancel_walkers[i].hops, HOPS, "walker %d completed without every hop", i);
        hop_task_unref(tasks[i]);
    }
    /* A walker cancelled before it started never ran (and counted nothing). */
    cr_assert_eq(__atomic_load_n(&cancel_finished, __ATOMIC_ACQUIRE), __atomic_load_n(&cancel_started, __ATOMIC_ACQUIRE),
                 "a walker finished twice or never");
}

/* A fresh pool closed while loop tasks keep offloading to it: each offload
 * ran or was refused, every task ends, nothing stays in use. */
static hop_pool_t shutdown_pool;
static unsigned int shutdown_ran, shutdown_refused;

static void *offload_to_shutdown_pool(void *arg) {
    (void)arg;
    for (;;) {
        int status = hop_run_in_executor(hop_pool_executor(&shutdown_pool), empty_job, NULL, NULL);
        if (status == HOP_ECLOSED) {
            __atomic_fetch_add(&shutdown_refused, 1, __ATOMIC_RELAXED);
            return NULL;
        }
        CHECK_OK(status);
        __atomic_fetch_add(&shutdown_ran, 1, __ATOMIC_RELAXED);
    }
}

static void run_shutdown_round(void) {
    hop_task_t *tasks[32];
    shutdown_ran = shutdown_refused = 0;
    HOP_OK(hop_pool_init(&shutdown_pool, &(hop_pool_options_t){.threads = 2}));
    for (int i = 0; i < 32; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loops[i % 2]), offload_to_shutdown_pool, NULL, NULL, &tasks[i]));
    while (__atomic_load_n(&shutdown_ran, __ATOMIC_RELAXED) < 32)
        sched_yield();
    HOP_OK(hop_pool_close(&shutdown_pool));
    for (int i = 0; i < 32; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(__atomic_load_n(&shutdown_refused, __ATOMIC_RELAXED), 32u, "every task saw the close once");
}

Test(hop, soak_of_random_hops_cancels_and_shutdowns_loses_nothing, .timeout = 600) {
    const char *soak = getenv("HOP_SOAK_SECONDS");
    time_t start = time(NULL), deadline = start + (soak ? atoi(soak) : 0);
    unsigned int rounds = 0;
    do {
        run_walkers(WALKERS / 8);
        run_cancel_round(rounds);
        run_shutdown_round();
        rounds++;
    } while (time(NULL) < deadline);
    if (soak)
        fprintf(stderr, "soak: %u rounds in %ld s\n", rounds, (long)(time(NULL) - start));
    test_assert_checks();
}

/* Bad input: each returns its documented error and nothing crashes. */
static void *bad_input_in_task(void *arg) {
    (void)arg;
    CHECK_ERR(hop_dispatch_to_loop(NULL), HOP_EINVAL);
    CHECK_ERR(hop_dispatch_to_executor(NULL), HOP_EINVAL);
    CHECK_ERR(hop_run_in_executor(NULL, empty_job, NULL, NULL), HOP_EINVAL);
    CHECK_ERR(hop_run_in_executor(hop_pool_executor(&pool), NULL, NULL, NULL), HOP_EINVAL);
    return NULL;
}

Test(hop, bad_input_gets_documented_errors) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[0]), bad_input_in_task, NULL, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(t);
    /* from a plain thread */
    HOP_ERR(hop_dispatch_to_loop(&loops[0]), HOP_ENOTTASK);
    HOP_ERR(hop_run_in_executor(hop_pool_executor(&pool), empty_job, NULL, NULL), HOP_ENOTTASK);
    HOP_ERR(hop_yield(), HOP_ENOTTASK);
    HOP_ERR(hop_task_spawn(hop_pool_executor(NULL), empty_job, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_task_spawn(hop_loop_executor(NULL), empty_job, NULL, NULL, NULL), HOP_EINVAL);
    test_assert_checks();
}

/* Dispatch to a closed (destroyed) loop or pool: the structs stay valid and
 * refuse, and the task stays where it was. */
static hop_loop_t closed_loop;
static hop_pool_t closed_pool;
static void *dispatch_to_closed(void *arg) {
    (void)arg;
    CHECK_ERR(hop_dispatch_to_loop(&closed_loop), HOP_ECLOSED);
    CHECK(pthread_equal(current_thread(), loop_threads[0]));
    CHECK_ERR(hop_dispatch_to_executor(hop_pool_executor(&closed_pool)), HOP_ECLOSED);
    CHECK_ERR(hop_run_in_executor(hop_pool_executor(&closed_pool), empty_job, NULL, NULL), HOP_ECLOSED);
    CHECK(pthread_equal(current_thread(), loop_threads[0]));
    return NULL;
}

Test(hop, dispatch_to_a_closed_loop_or_pool_returns_eclosed_and_the_task_stays) {
    HOP_OK(hop_loop_init(&closed_loop, NULL));
    HOP_OK(hop_loop_start(&closed_loop));
    HOP_OK(hop_loop_close(&closed_loop));
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_pool_init(&closed_pool, &options));
    HOP_OK(hop_pool_close(&closed_pool));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loops[0]), dispatch_to_closed, NULL, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(t);
    test_assert_checks();
}

/* hop_run: asyncio.run for C. */
static hop_pool_t *run_pool;
static void *main_task(void *arg) {
    hop_loop_t *loop = hop_loop_current();
    CHECK(loop != NULL);
    pthread_t home = current_thread();
    CHECK_OK(hop_dispatch_to_executor(hop_pool_executor(run_pool)));
    CHECK(!pthread_equal(home, current_thread()));
    CHECK_OK(hop_dispatch_to_loop(loop));
    CHECK(pthread_equal(home, current_thread()));
    return (void *)((intptr_t)arg + 1);
}

Test(hop, hop_run_runs_main_on_a_loop_on_this_thread_and_returns_its_result) {
    run_pool = &pool;
    void *result;
    HOP_OK(hop_run(main_task, (void *)41, &result));
    cr_assert_eq((intptr_t)result, 42);
    HOP_ERR(hop_run(NULL, NULL, NULL), HOP_EINVAL);
    test_assert_checks();
}
