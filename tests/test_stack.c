/* tests/test_stack.c: task stacks: guard pages, caching, bounds, limits. */

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack.h"
#include "helpers.h"

__attribute__((noinline)) static long overflow(long depth) {
    if (depth < 0) /* never: keeps the compiler from calling this infinite recursion */
        return 0;
    volatile char frame[1024];
    frame[0] = (char)depth;
    return overflow(depth + 1) + frame[0];
}

static void *overflow_task(void *arg) {
    (void)arg;
    return (void *)overflow(0);
}

Test(stack, overflowing_a_guarded_stack_faults_instead_of_corrupting_memory, .timeout = 60) {
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        hop_task_options_t options = {.stack_size = 64 * 1024};
        hop_task_spawn(hop_inline_executor(), overflow_task, NULL, &options, NULL);
        _exit(0); /* reached only if the overflow went unnoticed */
    }
    int status;
    waitpid(child, &status, 0);
    /* A plain build dies of SIGSEGV; under ASan the sanitizer catches the
     * fault and exits non-zero. Either way the child must not exit cleanly. */
    cr_assert(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0),
              "the overflow went unnoticed");
    test_assert_checks();
}

static void *empty(void *arg) { return arg; }

Test(stack, unguarded_stacks_work_and_are_cached_separately) {
    hop_task_options_t options = {.flags = HOP_TASK_UNGUARDED_STACK};
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    for (int i = 0; i < 100; i++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_inline_executor(), empty, (void *)1, &options, &t));
        cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
        hop_task_unref(t);
    }
    hop_stack_stats(&after);
    cr_assert_eq(after.map_calls - before.map_calls, 1);
    cr_assert_eq(after.in_use, before.in_use);
    test_assert_checks();
}

static hop_executor_t *manual;

static void *spawn_and_finish_many(void *arg) {
    int n = (int)(intptr_t)arg;
    hop_task_t *tasks[64];
    for (int i = 0; i < n; i++)
        CHECK_OK(hop_task_spawn(manual, empty, NULL, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < n; i++)
        hop_task_unref(tasks[i]);
    return NULL;
}

Test(stack, a_thread_caches_a_bounded_number_and_hands_the_rest_to_the_shared_pool_at_exit) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t thread;
    pthread_create(&thread, NULL, spawn_and_finish_many, (void *)40);
    pthread_join(thread, NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0);
    cr_assert_eq(stats.mapped, 40);
    cr_assert_eq(stats.cached_shared, 40, "the exited thread's cache must go to the shared pool");
    /* Another thread reuses them without mapping new stacks. */
    size_t calls = stats.map_calls;
    pthread_create(&thread, NULL, spawn_and_finish_many, (void *)40);
    pthread_join(thread, NULL);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, calls, "shared stacks should have been reused");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    cr_assert_eq(stats.cached_shared, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, a_stack_finished_on_another_thread_returns_to_that_threads_cache_within_bounds) {
    enum { SPAWNED = 4 * HOP__STACK_THREAD_CACHE_MAX };
    HOP_OK(hop_manual_executor_create(&manual));
    static hop_task_t *tasks[SPAWNED];
    for (int i = 0; i < SPAWNED; i++)
        HOP_OK(hop_task_spawn(manual, empty, NULL, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < SPAWNED; i++)
        hop_task_unref(tasks[i]);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    /* The thread keeps between MAX - BATCH and MAX (a full cache spills a
     * batch plus the stack being released), the rest go to the shared pool. */
    cr_assert_eq(stats.mapped, SPAWNED);
    cr_assert_eq(stats.in_use, 0);
    cr_assert_geq(stats.cached_shared, SPAWNED - HOP__STACK_THREAD_CACHE_MAX);
    cr_assert_leq(stats.cached_shared, SPAWNED - (HOP__STACK_THREAD_CACHE_MAX - HOP__STACK_BATCH));
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* Stacks of two shapes, cached side by side, are each reused for their own
 * shape: the shared pool keeps one list per shape. */
static const hop_task_options_t small_unguarded = {.stack_size = 16 * 1024,
                                                   .flags = HOP_TASK_UNGUARDED_STACK};
static void *spawn_and_finish_shape(void *arg) {
    const hop_task_options_t *options = arg;
    hop_task_t *tasks[60];
    for (int i = 0; i < 60; i++)
        CHECK_OK(hop_task_spawn(manual, empty, NULL, options, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 60; i++)
        hop_task_unref(tasks[i]);
    return NULL;
}

Test(stack, cached_stacks_of_different_shapes_are_each_reused_for_their_own_shape) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t thread;
    /* Threads that exit hand their caches to the shared pool. */
    pthread_create(&thread, NULL, spawn_and_finish_shape, (void *)&small_unguarded);
    pthread_join(thread, NULL);
    pthread_create(&thread, NULL, spawn_and_finish_shape, NULL);
    pthread_join(thread, NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.cached_shared, 120);
    size_t calls = stats.map_calls;
    pthread_create(&thread, NULL, spawn_and_finish_shape, NULL);
    pthread_join(thread, NULL);
    pthread_create(&thread, NULL, spawn_and_finish_shape, (void *)&small_unguarded);
    pthread_join(thread, NULL);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, calls, "each shape found its own cached stacks");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

#include "core/sanitizer.h"
/* Not under TSan: its runtime maps memory for every new object it tracks, so
 * exhausting the process's mappings kills TSan before hop can report. The
 * plain and ASan builds run it. */
#if !HOP__TSAN
Test(stack, running_out_of_memory_mappings_is_reported_as_enomem, .timeout = 120) {
    /* Each guarded stack costs two mappings; vm.max_map_count (65,530 by
     * default) runs out near 32,000 stacks. The failure must be an error
     * code, never a crash. */
    HOP_OK(hop_manual_executor_create(&manual));
    size_t capacity = 1 << 17, count = 0;
    hop_task_t **tasks = malloc(capacity * sizeof *tasks);
    cr_assert_not_null(tasks);
    hop_task_options_t options = {.stack_size = HOP_STACK_SIZE_MIN};
    int err = 0;
    while (count < capacity) {
        err = hop_task_spawn(manual, empty, NULL, &options, &tasks[count]);
        if (err)
            break;
        count++;
    }
    /* Cancelled before they start, the tasks finish without running, so
     * cleaning up needs no further mappings (a sanitizer runtime would want
     * some to run them). */
    for (size_t i = 0; i < count; i++)
        HOP_OK(hop_task_cancel(tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (size_t i = 0; i < count; i++)
        hop_task_unref(tasks[i]);
    free(tasks);
    hop_stack_cache_flush();
    HOP_ERR(err, HOP_ENOMEM);
    cr_assert_gt(count, 1000, "only %zu stacks before ENOMEM", count);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* The documented way past the mapping limit: unguarded stacks, which the
 * kernel merges into a few mappings. 100,000 tasks suspended at once. */
static hop_future_t gate;
static void *wait_at_gate(void *arg) {
    CHECK_OK(hop_future_await(&gate, NULL));
    return arg;
}

Test(stack, a_hundred_thousand_suspended_tasks_fit_with_unguarded_stacks, .timeout = 120) {
    enum { COUNT = 100000 };
    HOP_OK(hop_manual_executor_create(&manual));
    hop_future_init(&gate);
    hop_task_t **tasks = malloc(COUNT * sizeof *tasks);
    cr_assert_not_null(tasks);
    hop_task_options_t options = {.stack_size = HOP_STACK_SIZE_MIN, .flags = HOP_TASK_UNGUARDED_STACK};
    for (int i = 0; i < COUNT; i++)
        HOP_OK(hop_task_spawn(manual, wait_at_gate, NULL, &options, &tasks[i]));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), COUNT);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, COUNT);
    cr_assert_eq(hop_task_state(tasks[COUNT - 1]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), COUNT);
    for (int i = 0; i < COUNT; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE);
        hop_task_unref(tasks[i]);
    }
    free(tasks);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}
#endif

/* ---- a named stack overflow -------------------------------------------- */

/* What a child process printed on stderr and how it ended. */
typedef struct {
    int status;
    char err[8192];
} child_run_t;

/* Runs body in a child process with stderr captured. */
static child_run_t run_in_child(void (*body)(void)) {
    child_run_t run = {0};
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        body();
        _exit(0); /* reached only if the overflow went unnoticed */
    }
    close(fds[1]);
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fds[0], run.err + got, sizeof run.err - 1 - got);
        if (n > 0 && got + (size_t)n < sizeof run.err - 1)
            got += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else if (n <= 0)
            break;
    }
    close(fds[0]);
    waitpid(child, &run.status, 0);
    return run;
}

static void assert_died_of_named_overflow(const child_run_t *run, const char *expected,
                                          const char *executor) {
    cr_assert(WIFSIGNALED(run->status) && WTERMSIG(run->status) == SIGSEGV,
              "the child should die of SIGSEGV (status %#x); stderr: %s", run->status, run->err);
    cr_assert_not_null(strstr(run->err, expected), "stderr lacks \"%s\": %s", expected, run->err);
    char where[64];
    snprintf(where, sizeof where, "(executor \"%s\")", executor);
    cr_assert_not_null(strstr(run->err, where), "stderr lacks \"%s\": %s", where, run->err);
}

static const hop_task_options_t deep_options = {.stack_size = 64 * 1024, .name = "deep"};

static void overflow_inline(void) {
    hop_task_spawn(hop_inline_executor(), overflow_task, NULL, &deep_options, NULL);
}

Test(stack, an_inline_tasks_overflow_names_the_task_and_dies_of_sigsegv, .timeout = 60) {
    child_run_t run = run_in_child(overflow_inline);
    /* The child's first task: id 1. */
    assert_died_of_named_overflow(&run, "hop: task \"deep\" (1) overflowed its 64 KiB stack", "inline");
    test_assert_checks();
}

static void overflow_on_pool(void) {
    hop_pool_t pool;
    if (hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}) != 0)
        _exit(3);
    hop_task_t *t;
    if (hop_task_spawn(hop_pool_executor(&pool), overflow_task, NULL, &deep_options, &t) != 0)
        _exit(4);
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
}

Test(stack, a_pool_tasks_overflow_names_the_task_and_dies_of_sigsegv, .timeout = 60) {
    child_run_t run = run_in_child(overflow_on_pool);
    assert_died_of_named_overflow(&run, "hop: task \"deep\" (1) overflowed its 64 KiB stack", "pool");
    test_assert_checks();
}

static void overflow_on_loop(void) {
    hop_loop_t loop;
    if (hop_loop_init(&loop, NULL) != 0 || hop_loop_start(&loop) != 0)
        _exit(3);
    hop_task_t *t;
    if (hop_task_spawn(hop_loop_executor(&loop), overflow_task, NULL, &deep_options, &t) != 0)
        _exit(4);
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
}

Test(stack, a_loop_tasks_overflow_names_the_task_and_dies_of_sigsegv, .timeout = 60) {
    child_run_t run = run_in_child(overflow_on_loop);
    assert_died_of_named_overflow(&run, "hop: task \"deep\" (1) overflowed its 64 KiB stack", "loop");
    test_assert_checks();
}

/* Frames of 40 KiB, each touched at its lowest byte first: with a one-page
 * guard the first frame past the stack's end would land below the guard. */
__attribute__((noinline)) static long overflow_big_frames(long depth) {
    if (depth < 0)
        return 0;
    volatile char frame[40 * 1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    return overflow_big_frames(depth + 1) + frame[0];
}

static void *overflow_big_frames_task(void *arg) {
    (void)arg;
    return (void *)overflow_big_frames(0);
}

static void overflow_big_frames_inline(void) {
    hop_task_options_t options = {.stack_size = 64 * 1024, .name = "big"};
    hop_task_spawn(hop_inline_executor(), overflow_big_frames_task, NULL, &options, NULL);
}

Test(stack, the_default_guard_catches_a_frame_much_larger_than_a_page, .timeout = 60) {
    child_run_t run = run_in_child(overflow_big_frames_inline);
    assert_died_of_named_overflow(&run, "hop: task \"big\" (1) overflowed its 64 KiB stack", "inline");
    test_assert_checks();
}

/* Frames of 200 KiB, beyond the default guard: a guard_size of 1 MiB
 * still catches them. */
__attribute__((noinline)) static long overflow_huge_frames(long depth) {
    if (depth < 0)
        return 0;
    volatile char frame[200 * 1024];
    frame[0] = (char)depth;
    frame[sizeof frame - 1] = (char)depth;
    return overflow_huge_frames(depth + 1) + frame[0];
}

static void *overflow_huge_frames_task(void *arg) {
    (void)arg;
    return (void *)overflow_huge_frames(0);
}

static void overflow_huge_frames_inline(void) {
    hop_task_options_t options = {.stack_size = 256 * 1024, .name = "huge", .guard_size = 1024 * 1024};
    hop_task_spawn(hop_inline_executor(), overflow_huge_frames_task, NULL, &options, NULL);
}

Test(stack, a_larger_guard_size_catches_frames_larger_than_the_default_guard, .timeout = 60) {
    child_run_t run = run_in_child(overflow_huge_frames_inline);
    assert_died_of_named_overflow(&run, "hop: task \"huge\" (1) overflowed its 256 KiB stack", "inline");
    test_assert_checks();
}

/* An application's handler, installed before hop's, still gets the faults
 * that are not a task's overflow: here an access to a PROT_NONE page on a
 * pool thread and on the main thread, which the handler repairs. */
static void *protected_page;
static volatile sig_atomic_t app_faults;

static void app_segv_handler(int sig, siginfo_t *info, void *context) {
    (void)sig;
    (void)context;
    if (info->si_addr == protected_page) {
        app_faults++;
        mprotect(protected_page, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE);
    } else {
        _exit(7);
    }
}

typedef struct {
    hop_job_t job;
    hop_future_t done;
} touch_job_t;

static void touch_protected_page(hop_job_t *job) {
    *(volatile char *)protected_page = 1;
    hop_future_set_result(&((touch_job_t *)job)->done, NULL);
}

static void fault_outside_tasks(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    protected_page = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa = {0};
    sa.sa_sigaction = app_segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    /* hop's handler goes in now, chained to the application's. */
    hop_pool_t pool;
    if (hop_pool_init(&pool, &(hop_pool_options_t){.threads = 1}) != 0)
        _exit(3);
    touch_job_t touch;
    hop_future_init(&touch.done);
    hop_job_init(&touch.job, touch_protected_page);
    if (hop_executor_submit(hop_pool_executor(&pool), &touch.job) != 0 ||
        hop_future_wait(&touch.done, HOP_WAIT_FOREVER, NULL) != 0)
        _exit(4);
    if (app_faults != 1)
        _exit(5);
    mprotect(protected_page, page, PROT_NONE);
    *(volatile char *)protected_page = 2; /* the main thread, outside tasks */
    if (app_faults != 2)
        _exit(6);
    hop_pool_close(&pool);
    _exit(0);
}

Test(stack, an_applications_own_fault_handler_still_gets_faults_outside_tasks, .timeout = 60) {
    child_run_t run = run_in_child(fault_outside_tasks);
    cr_assert(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0, "status %#x; stderr: %s", run.status,
              run.err);
    test_assert_checks();
}

static void *install_and_report(void *arg) {
    (void)arg;
    stack_t before, after;
    sigaltstack(NULL, &before);
    int err = hop_stack_overflow_install();
    sigaltstack(NULL, &after);
    int again = hop_stack_overflow_install();
    /* Bit 0: had none before; bit 1: has one now; bit 2: both calls said 0. */
    return (void *)(intptr_t)(((before.ss_flags & SS_DISABLE) ? 1 : 0) |
                              (!(after.ss_flags & SS_DISABLE) ? 2 : 0) | (err == 0 && again == 0 ? 4 : 0));
}

Test(stack, overflow_install_gives_a_plain_thread_a_signal_stack_once) {
    pthread_t thread;
    void *result;
    cr_assert_eq(pthread_create(&thread, NULL, install_and_report, NULL), 0);
    pthread_join(thread, &result);
    int bits = (int)(intptr_t)result;
    /* Under ASan every thread has the sanitizer's signal stack already:
     * hop keeps it, and the thread still ends up with one. */
    cr_assert(bits & 2, "no signal stack after the call (%d)", bits);
    cr_assert(bits & 4, "the calls failed (%d)", bits);
    test_assert_checks();
}

/* ---- caches that follow the working set --------------------------------- */

#include <sys/resource.h>

/* Spawns n tasks on the manual executor, all alive at once, then finishes
 * them: a working set of n stacks. */
static void run_working_set(size_t n, const hop_task_options_t *options) {
    hop_task_t **tasks = malloc(n * sizeof *tasks);
    CHECK(tasks != NULL);
    for (size_t i = 0; i < n; i++)
        CHECK_OK(hop_task_spawn(manual, empty, NULL, options, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    for (size_t i = 0; i < n; i++)
        hop_task_unref(tasks[i]);
    free(tasks);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *run_working_set_on_thread(void *arg) {
    run_working_set((size_t)(intptr_t)arg, NULL);
    return NULL;
}

Test(stack, a_working_set_of_thousands_of_stacks_is_reused_without_mapping_or_unmapping) {
    /* More than the 1,024 + 16 the caches used to keep. */
    enum { WORKING_SET = 3000 };
    hop__stack_set_decay_period(0); /* steps only when the test asks */
    HOP_OK(hop_manual_executor_create(&manual));
    run_working_set(WORKING_SET, NULL);
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    cr_assert_eq(before.mapped, WORKING_SET);
    cr_assert_eq(before.in_use, 0);
    for (int round = 0; round < 5; round++)
        run_working_set(WORKING_SET, NULL);
    hop_stack_stats(&after);
    cr_assert_eq(after.map_calls, before.map_calls, "%zu stacks mapped again",
                 after.map_calls - before.map_calls);
    cr_assert_eq(after.unmap_calls, before.unmap_calls, "%zu stacks unmapped",
                 after.unmap_calls - before.unmap_calls);
    /* Another thread takes its stacks from the shared pool: it maps only
     * those that sit in this thread's cache, out of its reach... */
    pthread_t thread;
    pthread_create(&thread, NULL, run_working_set_on_thread, (void *)(intptr_t)WORKING_SET);
    pthread_join(thread, NULL);
    hop_stack_stats(&after);
    cr_assert_leq(after.map_calls - before.map_calls, HOP__STACK_THREAD_CACHE_MAX);
    cr_assert_eq(after.unmap_calls, before.unmap_calls);
    /* ...and a third one maps nothing: the second one's cache went to the
     * shared pool when it exited. */
    hop_stack_stats(&before);
    pthread_create(&thread, NULL, run_working_set_on_thread, (void *)(intptr_t)WORKING_SET);
    pthread_join(thread, NULL);
    hop_stack_stats(&after);
    cr_assert_eq(after.map_calls, before.map_calls);
    cr_assert_eq(after.unmap_calls, before.unmap_calls);
    hop_stack_cache_flush();
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, a_thread_takes_back_the_stack_it_released_last_even_past_its_own_cache) {
    /* Four cachefuls: most of them pass through the shared pool. */
    enum { N = 4 * HOP__STACK_THREAD_CACHE_MAX + 5 };
    hop__stack_set_decay_period(0); /* a step would reorder the caches */
    hop_stack_cache_flush();
    static hop__stack_t stacks[N];
    /* A shape of its own (three pages, unguarded), so nothing else in the
     * process takes or gives these. */
    size_t size = hop__stack_round_size(3 * (size_t)sysconf(_SC_PAGESIZE));
    for (int i = 0; i < N; i++)
        HOP_OK(hop__stack_acquire(size, 0, HOP_TASK_UNGUARDED_STACK, &stacks[i]));
    for (int i = 0; i < N; i++)
        hop__stack_release(&stacks[i]);
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    for (int i = N - 1; i >= 0; i--) {
        hop__stack_t again;
        HOP_OK(hop__stack_acquire(size, 0, HOP_TASK_UNGUARDED_STACK, &again));
        CHECK(again.low == stacks[i].low, "acquire %d took %p, released %d-th was %p", N - 1 - i, again.low,
              i, stacks[i].low);
        stacks[i] = again;
    }
    hop_stack_stats(&after);
    cr_assert_eq(after.map_calls, before.map_calls);
    for (int i = 0; i < N; i++)
        hop__stack_release(&stacks[i]);
    hop_stack_cache_flush();
    hop__stack_set_decay_period(HOP__STACK_DECAY_NS);
    test_assert_checks();
}

enum { FULL_OF_A_N = 3 * HOP__STACK_THREAD_CACHE_MAX };

static size_t full_of_a_size(int pages) {
    return hop__stack_round_size((size_t)pages * (size_t)sysconf(_SC_PAGESIZE));
}

/* Maps FULL_OF_A_N stacks of shape b and releases them on a thread of its
 * own, whose exit hands them all to the shared pool. */
static void *full_of_a_shape_b_elsewhere(void *unused) {
    (void)unused;
    static hop__stack_t b[FULL_OF_A_N];
    for (int i = 0; i < FULL_OF_A_N; i++)
        CHECK_OK(hop__stack_acquire(full_of_a_size(5), 0, HOP_TASK_UNGUARDED_STACK, &b[i]));
    for (int i = 0; i < FULL_OF_A_N; i++)
        hop__stack_release(&b[i]);
    return NULL;
}

Test(stack, a_cache_full_of_another_shape_takes_a_whole_batch_of_the_shape_in_use) {
    hop__stack_set_decay_period(0);
    hop_stack_cache_flush();
    pthread_t thread;
    cr_assert_eq(pthread_create(&thread, NULL, full_of_a_shape_b_elsewhere, NULL), 0);
    pthread_join(thread, NULL);
    /* This thread's cache fills up with shape a. */
    static hop__stack_t a[HOP__STACK_THREAD_CACHE_MAX], b[HOP__STACK_BATCH];
    for (int i = 0; i < HOP__STACK_THREAD_CACHE_MAX; i++)
        HOP_OK(hop__stack_acquire(full_of_a_size(3), 0, HOP_TASK_UNGUARDED_STACK, &a[i]));
    for (int i = 0; i < HOP__STACK_THREAD_CACHE_MAX; i++)
        hop__stack_release(&a[i]);
    hop__stack_counts_t before, after;
    hop__stack_counts(&before);
    cr_assert_eq(before.cached_shared, FULL_OF_A_N);
    /* The first take of shape b moves a batch of them into the cache (and
     * as many of a out to the shared pool); the rest of the batch comes
     * from the cache, without the shared pool. */
    for (unsigned int i = 0; i < HOP__STACK_BATCH; i++) {
        HOP_OK(hop__stack_acquire(full_of_a_size(5), 0, HOP_TASK_UNGUARDED_STACK, &b[i]));
        hop__stack_counts(&after);
        cr_assert_eq(after.cached_shared, before.cached_shared,
                     "take %u: %zu stacks in the shared pool, were %zu", i, after.cached_shared,
                     before.cached_shared);
    }
    cr_assert_eq(after.map_calls, before.map_calls);
    for (unsigned int i = 0; i < HOP__STACK_BATCH; i++)
        hop__stack_release(&b[i]);
    hop_stack_cache_flush();
    hop__stack_set_decay_period(HOP__STACK_DECAY_NS);
    test_assert_checks();
}

Test(stack, stacks_that_stay_unused_are_given_back_while_the_working_set_is_kept) {
    enum { PEAK = 400, WORKING_SET = 10 };
    hop__stack_set_decay_period(0);
    HOP_OK(hop_manual_executor_create(&manual));
    run_working_set(PEAK, NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, PEAK);
    size_t map_calls = stats.map_calls;
    /* Each period the working set shrinks to 10 stacks; each decay step
     * gives back half of what stayed cached all along. */
    size_t last = stats.mapped;
    for (int step = 0; step < 16; step++) {
        run_working_set(WORKING_SET, NULL);
        hop__stack_decay();
        hop_stack_stats(&stats);
        cr_assert_leq(stats.mapped, last, "the cache grew at step %d", step);
        last = stats.mapped;
    }
    cr_assert_leq(stats.mapped, 2 * WORKING_SET, "%zu stacks still mapped", stats.mapped);
    cr_assert_geq(stats.mapped, WORKING_SET);
    cr_assert_eq(stats.map_calls, map_calls, "the working set itself was trimmed and mapped again");
    run_working_set(WORKING_SET, NULL);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, map_calls);
    hop_stack_cache_flush();
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, ordinary_spawning_drives_the_decay_without_a_thread_of_its_own, .timeout = 60) {
    HOP_OK(hop_manual_executor_create(&manual));
    run_working_set(300, NULL);
    hop__stack_set_decay_period(1000 * 1000); /* a millisecond */
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 300);
    /* One task at a time, from this thread's cache: only the clock check
     * every few acquires can start the steps that trim the shared pool. */
    double deadline = now_s() + 30;
    while (stats.mapped > 20) {
        cr_assert(now_s() < deadline, "still %zu stacks mapped", stats.mapped);
        run_working_set(1, NULL);
        hop_stack_stats(&stats);
    }
    hop__stack_set_decay_period(HOP__STACK_DECAY_NS);
    hop_stack_cache_flush();
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* A thread that keeps its cache full, then waits. */
static pthread_mutex_t holder_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t holder_cond = PTHREAD_COND_INITIALIZER;
static int holder_stage;

static void *fill_cache_and_wait(void *arg) {
    run_working_set((size_t)(intptr_t)arg, NULL);
    pthread_mutex_lock(&holder_lock);
    holder_stage = 1;
    pthread_cond_broadcast(&holder_cond);
    while (holder_stage != 2)
        pthread_cond_wait(&holder_cond, &holder_lock);
    pthread_mutex_unlock(&holder_lock);
    return NULL;
}

static pthread_t start_holder(size_t stacks) {
    pthread_t thread;
    holder_stage = 0;
    cr_assert_eq(pthread_create(&thread, NULL, fill_cache_and_wait, (void *)(intptr_t)stacks), 0);
    pthread_mutex_lock(&holder_lock);
    while (holder_stage != 1)
        pthread_cond_wait(&holder_cond, &holder_lock);
    pthread_mutex_unlock(&holder_lock);
    return thread;
}

static void stop_holder(pthread_t thread) {
    pthread_mutex_lock(&holder_lock);
    holder_stage = 2;
    pthread_cond_broadcast(&holder_cond);
    pthread_mutex_unlock(&holder_lock);
    pthread_join(thread, NULL);
}

Test(stack, a_flush_reaches_the_caches_of_other_living_threads) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t holder = start_holder(HOP__STACK_THREAD_CACHE_MAX);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, HOP__STACK_THREAD_CACHE_MAX);
    cr_assert_eq(stats.cached_shared, 0, "the stacks should sit in the other thread's cache");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    stop_holder(holder);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

/* In a fork's child only the forking thread lives: the stacks cached by the
 * others must come back into use there, not stay mapped for nobody. */
Test(stack, a_forks_child_reuses_the_stacks_cached_by_threads_that_did_not_survive, .timeout = 60) {
    HOP_OK(hop_manual_executor_create(&manual));
    pthread_t holder = start_holder(HOP__STACK_THREAD_CACHE_MAX);
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        hop_stack_stats_t stats;
        hop_stack_stats(&stats);
        if (stats.cached_shared != HOP__STACK_THREAD_CACHE_MAX || stats.in_use != 0)
            _exit(2);
        run_working_set(HOP__STACK_THREAD_CACHE_MAX, NULL);
        hop_stack_stats_t after;
        hop_stack_stats(&after);
        if (after.map_calls != stats.map_calls)
            _exit(3);
        hop_stack_cache_flush();
        hop_stack_stats(&after);
        _exit(after.mapped == 0 ? 0 : 4);
    }
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    stop_holder(holder);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.cached_shared, HOP__STACK_THREAD_CACHE_MAX,
                 "the exited thread's cache goes to the pool");
    hop_stack_cache_flush();
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

static const hop_task_options_t reserved_shape = {.stack_size = 32 * 1024};

Test(stack, reserved_stacks_are_spawned_without_mapping_and_survive_the_decay) {
    enum { RESERVED = 200 };
    hop__stack_set_decay_period(0);
    HOP_OK(hop_manual_executor_create(&manual));
    HOP_OK(hop_stack_reserve(&reserved_shape, RESERVED));
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, RESERVED);
    cr_assert_eq(stats.cached_shared, RESERVED);
    cr_assert_eq(stats.reserved, RESERVED);
    size_t map_calls = stats.map_calls;
    run_working_set(RESERVED, &reserved_shape);
    for (int step = 0; step < 20; step++)
        hop__stack_decay();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, map_calls, "reserved stacks should have been used");
    cr_assert_geq(stats.mapped, RESERVED, "the decay trimmed below the reservation");
    run_working_set(RESERVED, &reserved_shape);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, map_calls);
    /* Asking again for what is cached maps nothing. */
    HOP_OK(hop_stack_reserve(&reserved_shape, RESERVED));
    hop_stack_stats(&stats);
    cr_assert_eq(stats.map_calls, map_calls);
    /* Without the reservation the unused stacks go. */
    HOP_OK(hop_stack_reserve(&reserved_shape, 0));
    for (int step = 0; step < 20; step++)
        hop__stack_decay();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.reserved, 0);
    cr_assert_eq(stats.mapped, 0, "%zu stacks still mapped", stats.mapped);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, reserve_refuses_a_ninth_shape_with_EBUSY_and_an_impossible_count_with_ENOMEM) {
    for (size_t i = 0; i < 8; i++)
        HOP_OK(hop_stack_reserve(&(hop_task_options_t){.stack_size = (16 + 4 * i) * 1024}, 1));
    HOP_ERR(hop_stack_reserve(&(hop_task_options_t){.stack_size = 1024 * 1024}, 1), HOP_EBUSY);
    /* Removing a reservation that does not exist is not an error. */
    HOP_OK(hop_stack_reserve(&(hop_task_options_t){.stack_size = 1024 * 1024}, 0));
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    size_t mapped = stats.mapped;
    HOP_ERR(hop_stack_reserve(NULL, (size_t)-1), HOP_ENOMEM);
    HOP_ERR(hop_stack_reserve(&(hop_task_options_t){.stack_size = (size_t)-1}, 1), HOP_ENOMEM);
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, mapped);
    for (size_t i = 0; i < 8; i++)
        HOP_OK(hop_stack_reserve(&(hop_task_options_t){.stack_size = (16 + 4 * i) * 1024}, 0));
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    cr_assert_eq(stats.reserved, 0);
    test_assert_checks();
}

/* Owners use their caches while another thread flushes and decays them. */
static volatile int churn_stop;
static unsigned int churn_rounds; /* atomic: rounds done by all churn threads */
static void *churn(void *arg) {
    (void)arg;
    while (!__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&churn_rounds, 1u, __ATOMIC_RELAXED);
        hop_task_t *tasks[40];
        for (int i = 0; i < 40; i++)
            CHECK_OK(hop_task_spawn(hop_inline_executor(), empty, NULL, NULL, &tasks[i]));
        /* A stack handed out twice (a flush or a decay step taking it out
         * of this thread's cache while this thread takes it too) would give
         * two live tasks one record. */
        for (int i = 0; i < 40; i++)
            for (int j = 0; j < i; j++)
                CHECK(tasks[i] != tasks[j]);
        for (int i = 0; i < 40; i++)
            hop_task_unref(tasks[i]);
    }
    return NULL;
}

Test(stack, flushes_and_decay_steps_racing_with_spawning_threads_lose_no_stack, .timeout = 60) {
    pthread_t threads[3];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, churn, NULL), 0);
    /* Until the owners have used their caches many times over, each use a
     * chance to meet a flush or a decay step halfway (fewer under TSan,
     * where a round that maps its stacks anew takes a tenth of a second). */
    unsigned int rounds = HOP__TSAN ? 30u : 6000u;
    for (int i = 0; i < 2000 || __atomic_load_n(&churn_rounds, __ATOMIC_RELAXED) < rounds; i++) {
        if (i % 2)
            hop_stack_cache_flush();
        else
            hop__stack_decay();
    }
    __atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0);
    cr_assert_eq(stats.mapped, stats.cached_shared, "every exited thread's stacks are in the shared pool");
    hop_stack_cache_flush();
    hop_stack_stats(&stats);
    cr_assert_eq(stats.mapped, 0);
    test_assert_checks();
}

#if !HOP__TSAN && !HOP__ASAN
/* The address space this process has mapped now, in bytes. */
static size_t vm_size(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib * 1024;
}

/* Under RLIMIT_AS the cached stacks are what stands between a new mapping
 * and the limit: hop flushes them and tries again instead of failing. */
static int enomem_child(void) {
    run_working_set(200, NULL); /* 200 x 320 KiB of cached address space */
    hop_stack_stats_t before, after;
    hop_stack_stats(&before);
    if (before.mapped != 200 || before.in_use != 0)
        return 2;
    size_t used = vm_size();
    if (used == 0)
        return 3;
    struct rlimit limit = {.rlim_cur = used + 1024 * 1024, .rlim_max = RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        return 4;
    /* A stack of another shape must be mapped: 8 MiB does not fit. */
    hop_task_t *task;
    hop_task_options_t big = {.stack_size = 8 * 1024 * 1024};
    if (hop_task_spawn(manual, empty, NULL, &big, &task) != 0)
        return 5;
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(task);
    hop_stack_stats(&after);
    if (after.mapped != 1)
        return 6; /* the 200 cached ones were given back */
    /* With nothing cached left to give, an impossible stack is ENOMEM and a
     * reservation that does not fit maps nothing. */
    hop_task_options_t huge = {.stack_size = 64 * 1024 * 1024};
    if (hop_task_spawn(manual, empty, NULL, &huge, &task) != HOP_ENOMEM)
        return 7;
    hop_stack_cache_flush();
    if (hop_stack_reserve(NULL, 1000) != HOP_ENOMEM)
        return 8;
    hop_stack_stats(&after);
    if (after.mapped != 0 || after.reserved != 0)
        return 9;
    return 0;
}

static void run_child_expecting_0(int (*body)(void)) {
    HOP_OK(hop_manual_executor_create(&manual));
    fflush(NULL);
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0)
        _exit(body());
    int status;
    cr_assert_eq(waitpid(child, &status, 0), child);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    HOP_OK(hop_manual_executor_destroy(manual));
    test_assert_checks();
}

Test(stack, a_mapping_refused_for_lack_of_memory_is_retried_after_flushing_the_caches, .timeout = 60) {
    run_child_expecting_0(enomem_child);
}

static void note_fired(hop_timer_t *timer, void *arg) {
    (void)timer;
    hop_future_set_result(arg, NULL);
}

/* The timer service's thread needs address space for its stack (8 MiB by
 * default): the cached stacks give theirs back when it is lacking. */
static int block_pipe[2];
static void *block_on_pipe(void *arg) {
    char byte;
    (void)arg;
    (void)read(block_pipe[0], &byte, 1);
    return NULL;
}

static int timer_thread_child(void) {
    run_working_set(200, NULL);
    /* glibc keeps the stacks of exited threads (up to 40 MiB) for new ones:
     * living threads take them, so the timer's thread must map its own. */
    if (pipe(block_pipe) != 0)
        return 6;
    for (int i = 0; i < 8; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, block_on_pipe, NULL) != 0)
            return 7;
    }
    size_t used = vm_size();
    struct rlimit limit = {.rlim_cur = used + 1024 * 1024, .rlim_max = RLIM_INFINITY};
    if (used == 0 || setrlimit(RLIMIT_AS, &limit) != 0)
        return 2;
    hop_timer_t timer;
    hop_future_t fired;
    hop_timer_init(&timer);
    hop_future_init(&fired);
    if (hop_timer_start(&timer, 1, note_fired, &fired) != 0)
        return 3;
    if (hop_future_wait(&fired, HOP_WAIT_FOREVER, NULL) != 0)
        return 4;
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    return stats.mapped == 0 ? 0 : 5;
}

Test(stack, the_timer_thread_starts_under_an_address_space_limit_by_flushing_the_caches, .timeout = 60) {
    run_child_expecting_0(timer_thread_child);
}
#endif
