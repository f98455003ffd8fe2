/* tests/test_loop.c: libuv loops as executors (executors/loop.c), the
 * dispatch to them, and hop_run.
 *
 * Jobs and tasks on a loop run on the loop's thread; the tests record what
 * they see there (thread, current loop, current executor) and assert on the
 * test's own thread. No test asserts on speed: the wake-up test counts
 * system calls, the idle tests measure CPU time against a generous bound. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "core/spin.h"
#include "helpers.h"
#include <hop/metrics.h>

TestSuite(loop, .timeout = 60);

/* glibc declares pthread_self() const: the compiler may reuse a value read
 * before an await on another thread. Read it through an opaque call. */
__attribute__((noinline)) static pthread_t current_thread(void) {
    pthread_t self = pthread_self();
    __asm__ volatile("" : "+m"(self)::"memory");
    return self;
}

static unsigned int load_uint(const unsigned int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_uint(unsigned int *p, unsigned int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static void add_uint(unsigned int *p, unsigned int v) { __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }

/* ---- probes: what a job on the loop sees ---- */

typedef struct {
    hop_job_t job;
    pthread_t thread;
    hop_loop_t *current;
    hop_executor_t *executor;
    unsigned int done;
} probe_t;

static void probe_run(hop_job_t *job) {
    probe_t *p = (probe_t *)job;
    p->thread = current_thread();
    p->current = hop_loop_current();
    p->executor = hop_executor_current();
    store_uint(&p->done, 1);
}

/* The thread that runs loop's jobs, learnt by posting a probe. */
static pthread_t loop_thread(hop_loop_t *loop) {
    probe_t p = {0};
    hop_job_init(&p.job, probe_run);
    HOP_OK(hop_loop_post(loop, &p.job));
    test_wait_for(&p.done, 1);
    cr_assert_eq(p.current, loop, "hop_loop_current() in a job on the loop");
    cr_assert_eq(p.executor, hop_loop_executor(loop), "hop_executor_current() in a job on the loop");
    return p.thread;
}

/* ---- posts ---- */

#define PRODUCERS 4
#define POSTS 5000

typedef struct {
    hop_job_t job;
    unsigned int producer;
    unsigned int seq;
} post_t;

static hop_loop_t post_loop;
static pthread_t post_loop_thread;
static unsigned int post_next[PRODUCERS]; /* loop thread only */
static unsigned int post_ran, post_misplaced, post_out_of_order;

static void post_run(hop_job_t *job) {
    post_t *p = (post_t *)job;
    if (!pthread_equal(current_thread(), post_loop_thread) || hop_loop_current() != &post_loop)
        add_uint(&post_misplaced, 1);
    if (p->seq != post_next[p->producer])
        add_uint(&post_out_of_order, 1);
    post_next[p->producer] = p->seq + 1;
    add_uint(&post_ran, 1);
}

static void *post_many(void *arg) {
    post_t *posts = arg;
    for (unsigned int i = 0; i < POSTS; i++) {
        CHECK_OK(hop_job_init(&posts[i].job, post_run));
        CHECK_OK(hop_loop_post(&post_loop, &posts[i].job));
        if (i % 512 == 0)
            sched_yield();
    }
    return NULL;
}

Test(loop, posts_from_several_threads_each_run_once_on_the_loop_thread_in_per_producer_order, .timeout = 30) {
    HOP_OK(hop_loop_init(&post_loop, NULL));
    HOP_OK(hop_loop_start(&post_loop));
    post_loop_thread = loop_thread(&post_loop);
    cr_assert_not(pthread_equal(post_loop_thread, current_thread()));
    static post_t posts[PRODUCERS][POSTS];
    pthread_t producers[PRODUCERS];
    for (unsigned int p = 0; p < PRODUCERS; p++) {
        for (unsigned int i = 0; i < POSTS; i++)
            posts[p][i] = (post_t){.producer = p, .seq = i};
        pthread_create(&producers[p], NULL, post_many, posts[p]);
    }
    for (unsigned int p = 0; p < PRODUCERS; p++)
        pthread_join(producers[p], NULL);
    test_wait_for(&post_ran, PRODUCERS * POSTS);
    HOP_OK(hop_loop_close(&post_loop));
    cr_assert_eq(load_uint(&post_ran), PRODUCERS * POSTS, "every post ran exactly once");
    cr_assert_eq(load_uint(&post_misplaced), 0, "every post ran on the loop's thread");
    cr_assert_eq(load_uint(&post_out_of_order), 0, "each producer's posts ran in order");
    test_assert_checks();
}

static void *name_of_thread(hop_loop_t *loop, char *name) {
    pthread_t thread = loop_thread(loop);
    pthread_getname_np(thread, name, 16);
    return NULL;
}

Test(loop, a_started_loop_thread_carries_the_name_from_the_options, .timeout = 30) {
    hop_loop_t a, b;
    char name[16];
    HOP_OK(hop_loop_init(&a, NULL));
    HOP_OK(hop_loop_start(&a));
    name_of_thread(&a, name);
    cr_assert_str_eq(name, "hop-loop");
    hop_loop_options_t options = {.name = "io-17", .batch = 0};
    HOP_OK(hop_loop_init(&b, &options));
    HOP_OK(hop_loop_start(&b));
    name_of_thread(&b, name);
    cr_assert_str_eq(name, "io-17");
    HOP_ERR(hop_loop_start(&b), HOP_EBUSY);
    HOP_OK(hop_loop_close(&a));
    HOP_OK(hop_loop_close(&b));
    test_assert_checks();
}

/* ---- tasks on a loop ---- */

typedef struct {
    hop_loop_t *loop;
    pthread_t expected;
    hop_future_t *future;
    unsigned int misplaced;
    unsigned int suspended;
} where_t;

static void check_where(where_t *w) {
    if (!pthread_equal(current_thread(), w->expected))
        w->misplaced++;
    if (hop_loop_current() != w->loop || hop_executor_current() != hop_loop_executor(w->loop))
        w->misplaced++;
}

static void *stay_on_loop(void *arg) {
    where_t *w = arg;
    check_where(w);
    CHECK_OK(hop_yield());
    check_where(w);
    store_uint(&w->suspended, 1);
    void *value;
    CHECK_OK(hop_future_await(w->future, &value));
    check_where(w);
    return value;
}

Test(loop, tasks_spawned_on_a_loop_run_on_its_thread_and_see_it_as_current_across_awaits, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_future_t future;
    hop_future_init(&future);
    where_t w = {.loop = &loop, .expected = loop_thread(&loop), .future = &future};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), stay_on_loop, &w, NULL, &t));
    test_wait_for(&w.suspended, 1);
    HOP_OK(hop_future_set_result(&future, (void *)7)); /* completed from this thread */
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &result));
    cr_assert_eq(result, (void *)7);
    cr_assert_eq(w.misplaced, 0, "the task ran off the loop's thread, or saw the wrong current loop");
    cr_assert_null(hop_loop_current(), "no loop runs on the test's thread");
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* ---- hopping between loops ---- */

#define LOOPS 3

static hop_loop_t hop_loops[LOOPS];
static pthread_t hop_loop_threads[LOOPS];

typedef struct {
    unsigned int seed;
    int hops;
    long checksum;
    long expected;
    unsigned int misplaced;
} hopper_t;

static void *hop_around(void *arg) {
    hopper_t *h = arg;
    long locals[6] = {1, 2, 3, 4, 5, 6};
    for (int i = 0; i < h->hops; i++) {
        int target = rand_r(&h->seed) % LOOPS;
        CHECK_OK(hop_dispatch_to_loop(&hop_loops[target]));
        if (!pthread_equal(current_thread(), hop_loop_threads[target]) || hop_loop_current() != &hop_loops[target])
            h->misplaced++;
        for (int k = 0; k < 6; k++)
            locals[k] += k;
        h->checksum += target + 1;
    }
    for (int k = 0; k < 6; k++)
        if (locals[k] != (k + 1) + (long)k * h->hops)
            h->misplaced++;
    return NULL;
}

static void run_hoppers(int count, int hops) {
    for (int i = 0; i < LOOPS; i++) {
        HOP_OK(hop_loop_init(&hop_loops[i], NULL));
        HOP_OK(hop_loop_start(&hop_loops[i]));
        hop_loop_threads[i] = loop_thread(&hop_loops[i]);
    }
    hopper_t *hoppers = calloc((size_t)count, sizeof *hoppers);
    hop_task_t **tasks = calloc((size_t)count, sizeof *tasks);
    for (int i = 0; i < count; i++) {
        hoppers[i] = (hopper_t){.seed = (unsigned int)i * 7919u + 1u, .hops = hops};
        unsigned int seed = hoppers[i].seed;
        for (int k = 0; k < hops; k++)
            hoppers[i].expected += rand_r(&seed) % LOOPS + 1;
        HOP_OK(hop_task_spawn(hop_loop_executor(&hop_loops[i % LOOPS]), hop_around, &hoppers[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < count; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        cr_assert_eq(hoppers[i].misplaced, 0, "task %d landed on the wrong thread or lost its locals", i);
        cr_assert_eq(hoppers[i].checksum, hoppers[i].expected, "task %d skipped or repeated a hop", i);
        hop_task_unref(tasks[i]);
    }
    for (int i = 0; i < LOOPS; i++)
        HOP_OK(hop_loop_close(&hop_loops[i]));
    free(hoppers);
    free(tasks);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every task's stack came back");
}

Test(loop, a_task_dispatched_between_loops_lands_on_each_loops_thread_and_keeps_its_locals, .timeout = 30) {
    run_hoppers(1, 2000);
    test_assert_checks();
}

Test(loop, many_tasks_hopping_among_three_loops_all_land_right_and_finish, .timeout = 120) {
    run_hoppers(64, 300);
    test_assert_checks();
}

/* ---- hop_run ---- */

static pthread_t hop_run_caller;

static void *main_returns_42(void *arg) {
    (void)arg;
    CHECK(hop_loop_current() != NULL);
    CHECK(pthread_equal(current_thread(), hop_run_caller), "main runs on hop_run's thread");
    CHECK_OK(hop_yield());
    void *nested = (void *)1;
    CHECK_ERR(hop_run(main_returns_42, NULL, &nested), HOP_EBUSY);
    CHECK(nested == NULL);
    CHECK_ERR(hop_loop_close(hop_loop_current()), HOP_EDEADLK);
    return (void *)42;
}

Test(loop, hop_run_returns_the_result_of_main, .timeout = 30) {
    hop_run_caller = current_thread();
    void *result = NULL;
    HOP_OK(hop_run(main_returns_42, NULL, &result));
    cr_assert_eq(result, (void *)42);
    cr_assert_null(hop_loop_current(), "hop_run's loop is gone once it returns");
    test_assert_checks();
}

static void *main_cancels_itself(void *arg) {
    (void)arg;
    CHECK_OK(hop_task_cancel(hop_task_current()));
    CHECK_ERR(hop_yield(), HOP_ECANCELED);
    return NULL;
}

Test(loop, hop_run_returns_ecanceled_when_main_was_cancelled, .timeout = 30) {
    HOP_ERR(hop_run(main_cancels_itself, NULL, NULL), HOP_ECANCELED);
    test_assert_checks();
}

typedef struct {
    hop_job_t job;
    int status;
    unsigned int done;
} nested_run_t;

static void *main_unused(void *arg) { return arg; }

static void nested_run(hop_job_t *job) {
    nested_run_t *n = (nested_run_t *)job;
    n->status = hop_run(main_unused, NULL, NULL);
    store_uint(&n->done, 1);
}

Test(loop, hop_run_on_a_thread_that_runs_a_loop_returns_ebusy, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    nested_run_t n = {0};
    hop_job_init(&n.job, nested_run);
    HOP_OK(hop_loop_post(&loop, &n.job));
    test_wait_for(&n.done, 1);
    HOP_ERR(n.status, HOP_EBUSY);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

#define CHILDREN 8

static hop_future_t child_futures[CHILDREN];
static hop_task_t *child_tasks[CHILDREN];
static unsigned int children_done, main_returning;
static pthread_t child_completer;

static void *child(void *arg) {
    hop_loop_t *home = hop_loop_current();
    void *value;
    CHECK_OK(hop_future_await(arg, &value));
    if (hop_loop_current() == home)
        add_uint(&children_done, 1);
    return NULL;
}

/* Completes the children's futures once main is returning and every child
 * is suspended: hop_run then has only the children to wait for. */
static void *complete_children_later(void *arg) {
    (void)arg;
    test_wait_for(&main_returning, 1);
    for (int i = 0; i < CHILDREN; i++)
        test_wait_suspended(child_tasks[i]);
    for (int i = 0; i < CHILDREN; i++)
        CHECK_OK(hop_future_set_result(&child_futures[i], NULL));
    return NULL;
}

static void *main_spawns_children(void *arg) {
    (void)arg;
    for (int i = 0; i < CHILDREN; i++) {
        hop_future_init(&child_futures[i]);
        CHECK_OK(hop_task_spawn(hop_executor_current(), child, &child_futures[i], NULL, &child_tasks[i]));
    }
    pthread_create(&child_completer, NULL, complete_children_later, NULL);
    store_uint(&main_returning, 1);
    return (void *)5; /* without joining them */
}

Test(loop, hop_run_waits_for_the_tasks_main_spawned_on_its_loop, .timeout = 30) {
    void *result;
    HOP_OK(hop_run(main_spawns_children, NULL, &result));
    cr_assert_eq(result, (void *)5);
    cr_assert_eq(load_uint(&children_done), CHILDREN, "hop_run returned before main's children finished");
    pthread_join(child_completer, NULL);
    for (int i = 0; i < CHILDREN; i++)
        hop_task_unref(child_tasks[i]);
    test_assert_checks();
}

static hop_loop_t elsewhere;

static void *main_moves_away(void *arg) {
    (void)arg;
    CHECK_OK(hop_dispatch_to_loop(&elsewhere));
    test_sleep_ms(50); /* hop_run's loop owns no task meanwhile */
    CHECK_OK(hop_yield());
    return (void *)(intptr_t)(hop_loop_current() == &elsewhere ? 9 : 0);
}

Test(loop, hop_run_waits_for_main_even_after_main_moved_to_another_loop, .timeout = 30) {
    HOP_OK(hop_loop_init(&elsewhere, NULL));
    HOP_OK(hop_loop_start(&elsewhere));
    void *result = NULL;
    HOP_OK(hop_run(main_moves_away, NULL, &result));
    cr_assert_eq(result, (void *)9, "hop_run returned before main finished on the other loop");
    HOP_OK(hop_loop_close(&elsewhere));
    test_assert_checks();
}

/* ---- libuv on the loop ---- */

typedef struct {
    hop_job_t job;
    hop_loop_t *loop;
    uv_timer_t timer;
    uint64_t timeout_ms;
    uint64_t repeat_ms;
    unsigned int fired;
    pthread_t fired_on;
} timer_job_t;

static void timer_fired(uv_timer_t *timer) {
    timer_job_t *t = timer->data;
    t->fired_on = current_thread();
    add_uint(&t->fired, 1);
    if (!t->repeat_ms)
        uv_close((uv_handle_t *)timer, NULL);
}

static void start_timer(hop_job_t *job) {
    timer_job_t *t = (timer_job_t *)job;
    uv_loop_t *uv = hop_loop_uv(t->loop);
    CHECK(uv != NULL);
    uv_timer_init(uv, &t->timer);
    t->timer.data = t;
    uv_timer_start(&t->timer, timer_fired, t->timeout_ms, t->repeat_ms);
}

Test(loop, a_job_on_the_loop_can_start_a_uv_timer_on_hop_loop_uv_and_it_fires, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    pthread_t thread = loop_thread(&loop);
    timer_job_t t = {.loop = &loop, .timeout_ms = 10};
    hop_job_init(&t.job, start_timer);
    HOP_OK(hop_loop_post(&loop, &t.job));
    test_wait_for(&t.fired, 1);
    cr_assert(pthread_equal(t.fired_on, thread), "the timer fired on the loop's thread");
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

Test(loop, close_closes_a_uv_handle_that_a_user_left_open, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    static timer_job_t t;
    t = (timer_job_t){.loop = &loop, .timeout_ms = 1, .repeat_ms = 1};
    hop_job_init(&t.job, start_timer);
    HOP_OK(hop_loop_post(&loop, &t.job));
    test_wait_for(&t.fired, 2);
    HOP_OK(hop_loop_close(&loop)); /* would fail uv_loop_close, or hang, otherwise */
    cr_assert(uv_is_closing((uv_handle_t *)&t.timer), "the user's repeating timer was closed");
    cr_assert_not(uv_is_active((uv_handle_t *)&t.timer));
    test_assert_checks();
}

/* ---- wake-ups and batches ---- */

typedef struct {
    hop_job_t job;
    unsigned int started;
    unsigned int release;
} blocker_t;

static void block_until_released(hop_job_t *job) {
    blocker_t *b = (blocker_t *)job;
    store_uint(&b->started, 1);
    while (!load_uint(&b->release))
        sched_yield();
}

static unsigned int burst_ran;
static void count_burst(hop_job_t *job) {
    (void)job;
    add_uint(&burst_ran, 1);
}

#define BURST 1000

Test(loop, a_burst_of_posts_while_the_loop_is_busy_costs_a_few_wakeups_not_one_each, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    blocker_t b = {0};
    hop_job_init(&b.job, block_until_released);
    HOP_OK(hop_loop_post(&loop, &b.job));
    test_wait_for(&b.started, 1);
    hop_loop_stats_t before, after;
    HOP_OK(hop_loop_stats(&loop, &before));
    static hop_job_t burst[BURST];
    for (int i = 0; i < BURST; i++) {
        hop_job_init(&burst[i], count_burst);
        HOP_OK(hop_loop_post(&loop, &burst[i]));
    }
    store_uint(&b.release, 1);
    test_wait_for(&burst_ran, BURST);
    HOP_OK(hop_loop_stats(&loop, &after));
    uint64_t wakeups = after.wakeups_sent - before.wakeups_sent;
    cr_assert_lt(wakeups, 100, "%llu uv_async_send calls for %d posts", (unsigned long long)wakeups, BURST);
    cr_assert_geq(after.jobs_run - before.jobs_run, BURST);
    cr_assert_gt(after.batches, before.batches);
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(load_uint(&burst_ran), BURST, "every post ran once");
    test_assert_checks();
}

typedef struct {
    hop_job_t job;
    hop_loop_t *loop;
    unsigned int runs;
    unsigned int *stop;
    unsigned int batch;     /* once it ran this many times and one more... */
    hop_job_t *after_batch; /* ...it posts this (the timer's start) */
} reposter_t;

static void repost_self(hop_job_t *job) {
    reposter_t *r = (reposter_t *)job;
    r->runs++;
    if (r->after_batch && r->runs == r->batch + 1)
        CHECK_OK(hop_loop_post(r->loop, r->after_batch));
    if (!load_uint(r->stop))
        CHECK_OK(hop_loop_post(r->loop, job));
}

Test(loop, a_job_that_reposts_itself_forever_does_not_starve_a_uv_timer, .timeout = 30) {
    hop_loop_t loop;
    hop_loop_options_t options = {.name = NULL, .batch = 64};
    HOP_OK(hop_loop_init(&loop, &options));
    static timer_job_t t;
    t = (timer_job_t){.loop = &loop, .timeout_ms = 20};
    hop_job_init(&t.job, start_timer);
    /* The timer starts once the reposter has kept the inbox busy across a
     * whole batch, however slowly the loop's thread gets the CPU (a timer
     * started first could fire before a preempted loop ran a batch). */
    reposter_t r = {.loop = &loop, .stop = &t.fired, .batch = options.batch, .after_batch = &t.job};
    hop_job_init(&r.job, repost_self);
    HOP_OK(hop_loop_post(&loop, &r.job));
    HOP_OK(hop_loop_start(&loop));
    test_wait_for(&t.fired, 1); /* the suite's timeout fails the test if it never fires */
    HOP_OK(hop_loop_close(&loop));
    cr_assert_gt(r.runs, options.batch, "the re-posting job kept the inbox busy across batches");
    test_assert_checks();
}

/* ---- close ---- */

#define IN_FLIGHT 8

typedef struct {
    hop_future_t future;
    unsigned int suspended;
    unsigned int finished;
} waiter_t;

static void *await_then_finish(void *arg) {
    waiter_t *w = arg;
    store_uint(&w->suspended, 1);
    void *value;
    CHECK_OK(hop_future_await(&w->future, &value));
    CHECK_OK(hop_yield());
    store_uint(&w->finished, 1);
    return value;
}

typedef struct {
    hop_loop_t *loop;
    waiter_t *waiters;
    hop_task_t **tasks;
} completer_t;

/* Completes the futures once the loop's close has begun and every task is
 * suspended on its future: close has tasks to wait for. */
static void *complete_waiters_later(void *arg) {
    completer_t *c = arg;
    CHECK_ERR(test_wait_closing(hop_loop_executor(c->loop)), HOP_ECLOSED);
    for (int i = 0; i < IN_FLIGHT; i++)
        test_wait_suspended(c->tasks[i]);
    for (int i = 0; i < IN_FLIGHT; i++)
        CHECK_OK(hop_future_set_result(&c->waiters[i].future, (void *)(intptr_t)(i + 1)));
    return NULL;
}

Test(loop, close_waits_for_tasks_that_await_futures_another_thread_completes_later, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    static waiter_t ws[IN_FLIGHT];
    hop_task_t *tasks[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++) {
        hop_future_init(&ws[i].future);
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), await_then_finish, &ws[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < IN_FLIGHT; i++)
        test_wait_suspended(tasks[i]);
    completer_t c = {.loop = &loop, .waiters = ws, .tasks = tasks};
    pthread_t completer;
    pthread_create(&completer, NULL, complete_waiters_later, &c);
    HOP_OK(hop_loop_close(&loop));
    for (int i = 0; i < IN_FLIGHT; i++) {
        cr_assert_eq(load_uint(&ws[i].finished), 1, "task %d had not finished when close returned", i);
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE);
        void *value;
        HOP_OK(hop_future_result(hop_task_future(tasks[i]), &value));
        cr_assert_eq(value, (void *)(intptr_t)(i + 1));
        hop_task_unref(tasks[i]);
    }
    pthread_join(completer, NULL);
    test_assert_checks();
}

Test(loop, close_on_a_loop_nobody_runs_drives_it_on_the_closing_thread_until_its_tasks_finish, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    static waiter_t ws[IN_FLIGHT];
    hop_task_t *tasks[IN_FLIGHT];
    for (int i = 0; i < IN_FLIGHT; i++) {
        ws[i] = (waiter_t){0};
        hop_future_init(&ws[i].future);
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), await_then_finish, &ws[i], NULL, &tasks[i]));
    }
    cr_assert_eq(load_uint(&ws[0].suspended), 0, "nothing runs before the loop does");
    completer_t c = {.loop = &loop, .waiters = ws, .tasks = tasks};
    pthread_t completer;
    pthread_create(&completer, NULL, complete_waiters_later, &c);
    HOP_OK(hop_loop_close(&loop)); /* runs the tasks here, then waits for the completions */
    for (int i = 0; i < IN_FLIGHT; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_DONE, "task %d", i);
        hop_task_unref(tasks[i]);
    }
    pthread_join(completer, NULL);
    test_assert_checks();
}

static void never(hop_job_t *job) {
    (void)job;
    CHECK(false, "a refused job ran");
}

Test(loop, after_close_posts_spawns_and_restarts_return_eclosed, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    HOP_OK(hop_loop_close(&loop));
    hop_job_t job;
    hop_job_init(&job, never);
    HOP_ERR(hop_loop_post(&loop, &job), HOP_ECLOSED);
    HOP_ERR(hop_executor_submit(hop_loop_executor(&loop), &job), HOP_ECLOSED);
    hop_task_t *t = (hop_task_t *)1;
    HOP_ERR(hop_task_spawn(hop_loop_executor(&loop), main_unused, NULL, NULL, &t), HOP_ECLOSED);
    cr_assert_null(t);
    HOP_ERR(hop_loop_start(&loop), HOP_ECLOSED);
    HOP_ERR(hop_loop_run(&loop), HOP_ECLOSED);
    HOP_ERR(hop_loop_close(&loop), HOP_EALREADY);
    cr_assert_null(hop_loop_uv(&loop));
    cr_assert_eq(hop_loop_executor(&loop), &loop.executor, "the struct stays valid");
    hop_loop_stats_t stats;
    HOP_ERR(hop_loop_stats(&loop, &stats), HOP_ECLOSED);
    HOP_ERR(hop_loop_stop(&loop), HOP_ECLOSED);
    test_assert_checks();
}

static hop_loop_t closed_loop;
static hop_executor_t *manual_home;

static void *dispatch_to_closed_loop(void *arg) {
    (void)arg;
    CHECK_ERR(hop_dispatch_to_loop(&closed_loop), HOP_ECLOSED);
    CHECK(hop_executor_current() == manual_home, "a refused dispatch leaves the task where it was");
    CHECK(hop_loop_current() == NULL);
    return (void *)1;
}

Test(loop, dispatch_to_a_closed_loop_returns_eclosed_and_the_task_stays_home, .timeout = 30) {
    HOP_OK(hop_manual_executor_create(&manual_home));
    HOP_OK(hop_loop_init(&closed_loop, NULL));
    HOP_OK(hop_loop_close(&closed_loop)); /* never started: closes on this thread */
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual_home, dispatch_to_closed_loop, NULL, NULL, &t));
    test_run_until_finished(manual_home, t);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq(result, (void *)1);
    hop_task_unref(t);
    HOP_OK(hop_manual_executor_destroy(manual_home));
    test_assert_checks();
}

typedef struct {
    hop_job_t job;
    hop_loop_t *loop;
    int status;
    unsigned int done;
} close_from_job_t;

static void close_from_job(hop_job_t *job) {
    close_from_job_t *c = (close_from_job_t *)job;
    c->status = hop_loop_close(c->loop);
    store_uint(&c->done, 1);
}

static void *close_from_task(void *arg) { return (void *)(intptr_t)hop_loop_close(arg); }

Test(loop, close_on_the_loops_own_thread_returns_edeadlk, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    close_from_job_t c = {.loop = &loop};
    hop_job_init(&c.job, close_from_job);
    HOP_OK(hop_loop_post(&loop, &c.job));
    test_wait_for(&c.done, 1);
    HOP_ERR(c.status, HOP_EDEADLK);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), close_from_task, &loop, NULL, &t));
    void *status;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &status));
    HOP_ERR((int)(intptr_t)status, HOP_EDEADLK);
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    HOP_ERR(hop_loop_close(&loop), HOP_EALREADY);
    test_assert_checks();
}

/* Posts racing with close: each is either run or refused, none is lost,
 * and none touches the loop's internals after they are freed (ASan, TSan),
 * including those that still go through the loop's own submit while close
 * switches the executor to its closed table. */
#define RACERS 2
#define RACE_POSTS 20000

static hop_loop_t race_loop;
static unsigned int race_ran;

static void race_count(hop_job_t *job) {
    (void)job;
    add_uint(&race_ran, 1);
}

static void *race_post(void *arg) {
    hop_job_t *jobs = arg;
    unsigned int accepted = 0;
    for (unsigned int i = 0; i < RACE_POSTS; i++) {
        hop_job_init(&jobs[i], race_count);
        int err = hop_loop_post(&race_loop, &jobs[i]);
        if (err == 0)
            accepted++;
        else
            CHECK(err == HOP_ECLOSED);
    }
    return (void *)(uintptr_t)accepted;
}

Test(loop, posts_racing_with_close_are_each_either_run_or_refused, .timeout = 30) {
    HOP_OK(hop_loop_init(&race_loop, NULL));
    HOP_OK(hop_loop_start(&race_loop));
    static hop_job_t jobs[RACERS][RACE_POSTS];
    pthread_t racers[RACERS];
    for (int i = 0; i < RACERS; i++)
        pthread_create(&racers[i], NULL, race_post, jobs[i]);
    test_sleep_ms(2);
    HOP_OK(hop_loop_close(&race_loop));
    unsigned int accepted = 0;
    for (int i = 0; i < RACERS; i++) {
        void *count;
        pthread_join(racers[i], &count);
        accepted += (unsigned int)(uintptr_t)count;
    }
    cr_assert_eq(load_uint(&race_ran), accepted, "accepted %u posts, ran %u", accepted, load_uint(&race_ran));
    test_assert_checks();
}

/* ---- hop_loop_run and hop_loop_stop ---- */

typedef struct {
    hop_loop_t *loop;
    int status;
} runner_t;

static void *run_loop_here(void *arg) {
    runner_t *r = arg;
    r->status = hop_loop_run(r->loop);
    return NULL;
}

static unsigned int counted_runs;
static pthread_t counted_last_thread;
static void count_and_note_thread(hop_job_t *job) {
    (void)job;
    counted_last_thread = current_thread();
    add_uint(&counted_runs, 1);
}

Test(loop, a_loop_run_on_a_test_thread_stops_on_hop_loop_stop_runs_again_and_close_drains_it, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    static hop_job_t jobs[3];
    for (int i = 0; i < 3; i++)
        hop_job_init(&jobs[i], count_and_note_thread);

    runner_t r = {.loop = &loop, .status = 1};
    pthread_t runner;
    pthread_create(&runner, NULL, run_loop_here, &r);
    HOP_OK(hop_loop_post(&loop, &jobs[0]));
    test_wait_for(&counted_runs, 1);
    cr_assert(pthread_equal(counted_last_thread, runner), "the job ran on the thread in hop_loop_run");
    HOP_ERR(hop_loop_start(&loop), HOP_EBUSY);
    HOP_ERR(hop_loop_close(&loop), HOP_EBUSY);
    HOP_OK(hop_loop_stop(&loop));
    pthread_join(runner, NULL);
    HOP_OK(r.status);

    /* Stopped: posts queue up, and run when it runs again. */
    HOP_OK(hop_loop_post(&loop, &jobs[1]));
    test_sleep_ms(20);
    cr_assert_eq(load_uint(&counted_runs), 1, "nothing runs while the loop is stopped");
    r.status = 1;
    pthread_create(&runner, NULL, run_loop_here, &r);
    test_wait_for(&counted_runs, 2);
    cr_assert(pthread_equal(counted_last_thread, runner));
    HOP_OK(hop_loop_stop(&loop));
    pthread_join(runner, NULL);
    HOP_OK(r.status);

    /* Close runs what is still queued, on the closing thread. */
    HOP_OK(hop_loop_post(&loop, &jobs[2]));
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(load_uint(&counted_runs), 3, "close ran the queued job");
    cr_assert(pthread_equal(counted_last_thread, current_thread()));
    test_assert_checks();
}

/* ---- bad input ---- */

Test(loop, bad_input_returns_einval_and_dispatch_outside_a_task_returns_enottask, .timeout = 30) {
    hop_loop_t loop;
    hop_job_t job, no_run = {0};
    hop_job_init(&job, never);
    HOP_ERR(hop_loop_init(NULL, NULL), HOP_EINVAL);
    hop_loop_options_t long_name = {.name = "a-name-longer-than-15"};
    HOP_ERR(hop_loop_init(&loop, &long_name), HOP_EINVAL);
    /* a failed init leaves the loop as if never initialised */
    HOP_ERR(hop_loop_post(&loop, &job), HOP_EINVAL);
    HOP_ERR(hop_loop_close(&loop), HOP_EINVAL);
    hop_loop_options_t bad_spin = {.spin_us = -1};
    HOP_ERR(hop_loop_init(&loop, &bad_spin), HOP_EINVAL);
    hop_loop_options_t bad_busy_poll = {.busy_poll_us = -1};
    HOP_ERR(hop_loop_init(&loop, &bad_busy_poll), HOP_EINVAL);
    hop_loop_options_t bad_nap = {.busy_poll_us = 50, .busy_poll_nap_us = -1};
    HOP_ERR(hop_loop_init(&loop, &bad_nap), HOP_EINVAL);
    HOP_ERR(hop_loop_start(NULL), HOP_EINVAL);
    HOP_ERR(hop_loop_run(NULL), HOP_EINVAL);
    HOP_ERR(hop_loop_stop(NULL), HOP_EINVAL);
    HOP_ERR(hop_loop_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_loop_stats(NULL, NULL), HOP_EINVAL);
    cr_assert_null(hop_loop_executor(NULL));
    cr_assert_null(hop_loop_uv(NULL));
    HOP_ERR(hop_dispatch_to_loop(NULL), HOP_EINVAL);
    HOP_ERR(hop_run(NULL, NULL, NULL), HOP_EINVAL);
    cr_assert_null(hop_loop_current());

    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_ERR(hop_loop_post(NULL, &job), HOP_EINVAL);
    HOP_ERR(hop_loop_post(&loop, NULL), HOP_EINVAL);
    HOP_ERR(hop_loop_post(&loop, &no_run), HOP_EINVAL);
    HOP_ERR(hop_loop_stats(&loop, NULL), HOP_EINVAL);
    HOP_ERR(hop_dispatch_to_loop(&loop), HOP_ENOTTASK);
    cr_assert_not_null(hop_loop_uv(&loop));
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* ---- CPU use while idle ---- */

static double cpu_ms(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
           (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

Test(loop, an_idle_loop_does_not_burn_cpu, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    loop_thread(&loop);
    double before = cpu_ms();
    test_sleep_ms(300);
    double used = cpu_ms() - before;
    cr_assert_lt(used, 30.0, "an idle loop used %.1f ms of CPU in 300 ms", used);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

Test(loop, a_loop_whose_tasks_all_wait_spins_briefly_then_blocks, .timeout = 30) {
    hop_loop_t loop;
    hop_loop_options_t options = {.name = NULL, .batch = 0, .spin_us = 1000};
    HOP_OK(hop_loop_init(&loop, &options));
    HOP_OK(hop_loop_start(&loop));
    static waiter_t w;
    hop_future_init(&w.future);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), await_then_finish, &w, NULL, &t));
    test_wait_for(&w.suspended, 1);
    test_sleep_ms(10);
    double before = cpu_ms();
    test_sleep_ms(300);
    double used = cpu_ms() - before;
    cr_assert_lt(used, 30.0, "a loop waiting for its task used %.1f ms of CPU in 300 ms", used);
    HOP_OK(hop_future_set_result(&w.future, NULL));
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    test_assert_checks();
}

/* A loop whose tasks wait for work that comes back much later than the spin
 * window (a server's idle connections, offloads of milliseconds) must stop
 * paying a spin per idle period. Each post below wakes the loop and leaves it
 * idle again with its task still waiting; posts are a millisecond apart, so
 * the spins that follow them catch nothing. */
#define SPIN_MISS_POSTS 400

static unsigned int spin_miss_ran;

static void count_job(hop_job_t *job) {
    (void)job;
    store_uint(&spin_miss_ran, load_uint(&spin_miss_ran) + 1);
}

Test(loop, a_loop_whose_spins_keep_missing_spins_only_now_and_then, .timeout = 60) {
    HOP_OK(hop_metrics_enable(HOP_METRICS_COUNT));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    static waiter_t w;
    w = (waiter_t){0};
    hop_future_init(&w.future);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), await_then_finish, &w, NULL, &t));
    test_wait_for(&w.suspended, 1);
    static hop_job_t job;
    store_uint(&spin_miss_ran, 0);
    for (unsigned int i = 0; i < SPIN_MISS_POSTS; i++) {
        job = (hop_job_t){.run = count_job};
        HOP_OK(hop_loop_post(&loop, &job));
        test_wait_for(&spin_miss_ran, i + 1);
        test_sleep_ms(1); /* a gap, not a synchronisation: the spin after this post misses */
    }
    uint64_t spins = 0;
    hop_metrics_t *m = hop_metrics_snapshot();
    cr_assert_not_null(m);
    for (size_t i = 0; i < m->executor_count; i++)
        if (m->executors[i].executor == hop_loop_executor(&loop))
            spins = m->executors[i].spins_caught + m->executors[i].spins_wasted;
    hop_metrics_free(m);
    /* Spinning every time would be one spin per post (400); the back-off
     * allows 8 misses, then one spin per 16 idle periods (about 33). */
    cr_assert_leq(spins, SPIN_MISS_POSTS / 4, "%llu spins for %u idle periods", (unsigned long long)spins,
                  SPIN_MISS_POSTS);
    cr_assert_geq(spins, 8, "the loop never spun (%llu): the test measures nothing", (unsigned long long)spins);
    HOP_OK(hop_future_set_result(&w.future, NULL));
    HOP_OK(hop_loop_close(&loop));
    hop_task_unref(t);
    HOP_OK(hop_metrics_enable(0));
    test_assert_checks();
}

/* Two loops that own no task, passing one job back and forth with
 * hop_loop_post: each catches the other's post in the spin that follows
 * the job it ran, so the posts need few wake-ups (measured without the
 * rule: one per post, about 2 * PASSES). The windows are long here (10 ms)
 * and host pauses do not end them, so that a loaded machine, where the
 * other loop may be off its CPU for a time slice, does not turn catches
 * into wake-ups. */
#define PASSES 2000

static hop_loop_t pass_loops[2];
static unsigned int passes_done;

typedef struct {
    hop_job_t job;
    unsigned int passes;
} pass_job_t;

static void pass_on(hop_job_t *job) {
    pass_job_t *p = (pass_job_t *)job; /* job is the first member */
    if (++p->passes == PASSES) {
        test_store_uint(&passes_done, 1);
        return;
    }
    hop_loop_t *other = hop_loop_current() == &pass_loops[0] ? &pass_loops[1] : &pass_loops[0];
    CHECK_OK(hop_loop_post(other, job));
}

Test(loop, two_loops_posting_to_each_other_catch_the_posts_in_their_spins_without_wake_ups, .timeout = 60) {
    hop__atomic_store_u64(&hop__spin_preempted_ns, UINT64_MAX);
    for (int i = 0; i < 2; i++) {
        HOP_OK(hop_loop_init(&pass_loops[i], &(hop_loop_options_t){.spin_us = 10000}));
        HOP_OK(hop_loop_start(&pass_loops[i]));
    }
    static pass_job_t p;
    p.passes = 0;
    hop_job_init(&p.job, pass_on);
    test_store_uint(&passes_done, 0);
    HOP_OK(hop_loop_post(&pass_loops[0], &p.job));
    test_wait_for(&passes_done, 1);
    uint64_t wakeups = 0;
    for (int i = 0; i < 2; i++) {
        hop_loop_stats_t stats;
        HOP_OK(hop_loop_stats(&pass_loops[i], &stats));
        wakeups += stats.wakeups_sent;
        HOP_OK(hop_loop_close(&pass_loops[i]));
    }
    test_assert_checks();
    cr_assert_eq(p.passes, PASSES);
    cr_assert_leq(wakeups, PASSES / 4, "%ju wake-ups for %u posts", (uintmax_t)wakeups, PASSES);
}

/* ---- round trips, with and without spinning ---- */

#define ROUND_TRIPS 2000

typedef struct {
    hop_future_t *futures;
    unsigned int ready; /* index of the future the loop task now awaits, + 1 */
} ping_t;

static void *ping_on_loop(void *arg) {
    ping_t *p = arg;
    pthread_t home = current_thread();
    for (unsigned int i = 0; i < ROUND_TRIPS; i++) {
        store_uint(&p->ready, i + 1);
        void *value;
        CHECK_OK(hop_future_await(&p->futures[i], &value));
        if (!pthread_equal(current_thread(), home) || value != (void *)(uintptr_t)i)
            return (void *)1;
    }
    return NULL;
}

static void *pong(void *arg) {
    ping_t *p = arg;
    for (unsigned int i = 0; i < ROUND_TRIPS; i++) {
        while (load_uint(&p->ready) < i + 1)
            sched_yield();
        CHECK_OK(hop_future_set_result(&p->futures[i], (void *)(uintptr_t)i));
    }
    return NULL;
}

static void round_trips(int spin_us) {
    hop_loop_t loop;
    hop_loop_options_t options = {.name = NULL, .batch = 0, .spin_us = spin_us};
    HOP_OK(hop_loop_init(&loop, &options));
    HOP_OK(hop_loop_start(&loop));
    ping_t p = {.futures = calloc(ROUND_TRIPS, sizeof(hop_future_t))};
    for (unsigned int i = 0; i < ROUND_TRIPS; i++)
        hop_future_init(&p.futures[i]);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), ping_on_loop, &p, NULL, &t));
    pthread_t ponger;
    pthread_create(&ponger, NULL, pong, &p);
    void *failed;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &failed));
    pthread_join(ponger, NULL);
    cr_assert_null(failed, "a completion resumed the task elsewhere or with the wrong value");
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    free(p.futures);
}

Test(loop, round_trips_through_another_thread_complete_without_spinning, .timeout = 30) {
    round_trips(HOP_SPIN_NEVER);
    test_assert_checks();
}

Test(loop, round_trips_through_another_thread_complete_while_spinning, .timeout = 30) {
    round_trips(200);
    test_assert_checks();
}

/* ---- Submissions from the loop thread to a pool go as chains ---- */

/* While the loop drains its inbox, its tasks' submissions to a pool are
 * staged and handed to the pool as one chain per batch (core/internal.h).
 * The chain's push is what wakes a parked worker: with workers that never
 * spin, every chain lands on a pool that may be asleep. */
#define CHAIN_TASKS 64
#define CHAIN_OFFLOADS (2000 / CHAIN_TASKS)

static unsigned int chain_fn_calls;

static void *chain_fn(void *arg) {
    test_add_uint(&chain_fn_calls, 1);
    return (void *)((intptr_t)arg + 1);
}

typedef struct {
    hop_pool_t *pool;
    hop_loop_t *loop;
    unsigned int wrong; /* results or threads that were not what they should be */
} chain_shared_t;

static void *chain_offloader(void *arg) {
    chain_shared_t *s = arg;
    for (intptr_t k = 0; k < CHAIN_OFFLOADS; k++) {
        void *result = NULL;
        int err = hop_run_in_executor(hop_pool_executor(s->pool), chain_fn, (void *)k, &result);
        if (err || (intptr_t)result != k + 1 || hop_loop_current() != s->loop)
            test_add_uint(&s->wrong, 1);
    }
    return NULL;
}

Test(loop, loop_tasks_offloading_to_a_pool_whose_workers_park_at_once_each_get_their_result_once,
     .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2, .spin_us = HOP_SPIN_NEVER};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_loop_t loop;
    hop_loop_options_t loop_options = {.spin_us = HOP_SPIN_NEVER};
    HOP_OK(hop_loop_init(&loop, &loop_options));
    HOP_OK(hop_loop_start(&loop));
    chain_fn_calls = 0;
    for (int round = 0; round < 10; round++) {
        chain_shared_t s = {.pool = &pool, .loop = &loop, .wrong = 0};
        hop_task_t *tasks[CHAIN_TASKS];
        for (int i = 0; i < CHAIN_TASKS; i++)
            tasks[i] = test_spawn(hop_loop_executor(&loop), chain_offloader, &s);
        for (int i = 0; i < CHAIN_TASKS; i++)
            HOP_OK(test_join(tasks[i]));
        cr_assert_eq(test_load_uint(&s.wrong), 0, "round %d: %u offloads went wrong", round, s.wrong);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(test_load_uint(&chain_fn_calls), 10u * CHAIN_TASKS * CHAIN_OFFLOADS);
    test_assert_checks();
}

/* A spin that catches work goes on spinning until its window ends (a poll
 * for I/O is a system call, which costs as much as a round trip where
 * system calls are slow), but a timer that a caught job starts ends the
 * window: the uv timer is not looked at while the loop spins. Here one task
 * keeps round-tripping to a pool, so every window catches work, while
 * another comes back from the pool (caught by a spin) and then sleeps. With
 * a 10 s window, a window that kept going past the sleeper's timer would
 * hold it for seconds; on time, five sleeps of 2 ms take milliseconds. */
static unsigned int busy_stop;

static void *round_trips_until_stopped(void *arg) {
    hop_pool_t *pool = arg;
    uintptr_t done = 0;
    while (!test_load_uint(&busy_stop)) {
        void *result = NULL;
        CHECK_OK(hop_run_in_executor(hop_pool_executor(pool), chain_fn, (void *)done, &result));
        CHECK((uintptr_t)result == done + 1);
        done++;
    }
    return (void *)done;
}

static void *offload_then_sleep_five_times(void *arg) {
    hop_pool_t *pool = arg;
    uint64_t t0 = hop_time_now_ns();
    for (int i = 0; i < 5; i++) {
        void *result = NULL;
        CHECK_OK(hop_run_in_executor(hop_pool_executor(pool), chain_fn, NULL, &result));
        CHECK_OK(hop_sleep(2));
    }
    uint64_t took_ms = (hop_time_now_ns() - t0) / 1000000u;
    test_store_uint(&busy_stop, 1);
    return (void *)(uintptr_t)took_ms;
}

Test(loop, a_timer_started_while_the_spin_keeps_catching_round_trips_fires_on_time, .timeout = 60) {
    /* Only the spin's own rules end its window here, not the host's pauses. */
    hop__atomic_store_u64(&hop__spin_preempted_ns, UINT64_MAX);
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    hop_loop_t loop;
    /* A batch that does not end the turn first. */
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.batch = UINT_MAX, .spin_us = 10 * 1000 * 1000}));
    HOP_OK(hop_loop_start(&loop));
    test_store_uint(&busy_stop, 0);
    hop_task_t *busy = test_spawn(hop_loop_executor(&loop), round_trips_until_stopped, &pool);
    hop_task_t *sleeper = test_spawn(hop_loop_executor(&loop), offload_then_sleep_five_times, &pool);
    void *took_ms = NULL, *round_trips = NULL;
    HOP_OK(hop_future_wait(hop_task_future(sleeper), HOP_WAIT_FOREVER, &took_ms));
    HOP_OK(hop_future_wait(hop_task_future(busy), HOP_WAIT_FOREVER, &round_trips));
    hop_task_unref(sleeper);
    hop_task_unref(busy);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
    cr_assert_gt((uintptr_t)round_trips, 0, "the busy task made no round trip: the test measures nothing");
    /* Generous for a loaded machine, far below the 10 s window. */
    cr_assert_lt((uintptr_t)took_ms, 3000, "five sleeps of 2 ms took %ju ms", (uintmax_t)(uintptr_t)took_ms);
}

/* A loop with a socket waiting polls it after every spin that caught work:
 * a task reading a socketpair gets its byte within milliseconds while
 * another task's round trips to a pool keep every spin window (60 s here)
 * catching work. A window that spun on to its end would hold the byte for
 * the rest of it (measured without the rule: 60 s). Host pauses must not
 * end windows early here, or the test could not tell. */
static int waiting_fds[2];
static unsigned int reader_ready;

static void *read_one_byte(void *arg) {
    (void)arg;
    hop_stream_t *stream = NULL;
    CHECK_OK(hop_stream_open_fd(NULL, waiting_fds[0], NULL, &stream));
    test_store_uint(&reader_ready, 1);
    char byte = 0;
    int64_t n = stream ? hop_stream_read(stream, &byte, 1) : -1;
    test_store_uint(&busy_stop, 1);
    if (stream)
        hop_stream_close(stream);
    return (void *)(intptr_t)(n == 1 ? byte : -1);
}

Test(loop, a_socket_is_polled_after_every_catch_while_the_spin_keeps_catching_round_trips, .timeout = 120) {
    hop__atomic_store_u64(&hop__spin_preempted_ns, UINT64_MAX);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, waiting_fds), 0);
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.batch = UINT_MAX, .spin_us = 60 * 1000 * 1000}));
    HOP_OK(hop_loop_start(&loop));
    test_store_uint(&busy_stop, 0);
    test_store_uint(&reader_ready, 0);
    /* The round trips first, so that the loop is inside its windows when
     * the reader starts waiting. */
    hop_task_t *busy = test_spawn(hop_loop_executor(&loop), round_trips_until_stopped, &pool);
    hop_task_t *reader = test_spawn(hop_loop_executor(&loop), read_one_byte, NULL);
    test_wait_for(&reader_ready, 1);
    while (hop_task_state(reader) != HOP_TASK_SUSPENDED)
        sched_yield(); /* in its read */
    uint64_t t0 = hop_time_now_ns();
    cr_assert_eq(write(waiting_fds[1], "x", 1), 1);
    void *byte = NULL, *round_trips = NULL;
    HOP_OK(hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &byte));
    uint64_t took_ms = (hop_time_now_ns() - t0) / 1000000u;
    HOP_OK(hop_future_wait(hop_task_future(busy), HOP_WAIT_FOREVER, &round_trips));
    hop_task_unref(reader);
    hop_task_unref(busy);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    close(waiting_fds[1]);
    test_assert_checks();
    cr_assert_eq((intptr_t)byte, 'x');
    cr_assert_gt((uintptr_t)round_trips, 0, "the busy task made no round trip: the test measures nothing");
    /* Generous for a loaded machine, far below the 60 s window. */
    cr_assert_lt(took_ms, 3000, "the byte took %ju ms to arrive", (uintmax_t)took_ms);
}

/* ---- busy polling ---- */

/* A task reads bytes from a socketpair one at a time until the end of the
 * stream, counting each; the test writes BUSY_READS of them one by one and
 * watches the loop's busy_polls between them. */
#define BUSY_READS 2

static int busy_fds[2];
static unsigned int busy_bytes_read;

static void *read_bytes_one_by_one(void *arg) {
    (void)arg;
    hop_stream_t *stream = NULL;
    CHECK_OK(hop_stream_open_fd(NULL, busy_fds[0], NULL, &stream));
    intptr_t got = 0;
    while (stream) {
        char byte = 0;
        if (hop_stream_read(stream, &byte, 1) != 1)
            break;
        got++;
        test_store_uint(&busy_bytes_read, (unsigned int)got);
    }
    if (stream)
        hop_stream_close(stream);
    return (void *)got;
}

static uint64_t busy_polls(hop_loop_t *loop) {
    hop_loop_stats_t stats;
    HOP_OK(hop_loop_stats(loop, &stats));
    return stats.busy_polls;
}

static uint64_t busy_poll_naps(hop_loop_t *loop) {
    hop_loop_stats_t stats;
    HOP_OK(hop_loop_stats(loop, &stats));
    return stats.busy_poll_naps;
}

/* Waits until the loop's busy_polls stays the same over 200 ms (the window
 * has ended and the loop sleeps in epoll) and returns it; fails after 30 s
 * of a count that keeps growing. */
static uint64_t busy_polls_once_settled(hop_loop_t *loop) {
    uint64_t deadline = hop_time_now_ns() + 30000000000ull;
    uint64_t before = busy_polls(loop);
    for (;;) {
        test_sleep_ms(200);
        uint64_t now = busy_polls(loop);
        if (now == before)
            return now;
        cr_assert_lt(hop_time_now_ns(), deadline, "busy polls kept coming for 30 s: %ju so far", (uintmax_t)now);
        before = now;
    }
}

/* Starts the reader on a loop with the given busy-poll window and nap, then
 * for each byte: waits until the loop has settled (asleep in epoll), writes
 * the byte, waits until the task has read it and waits again, and records
 * how many busy polls (and naps, if naps is not NULL) that turn started. */
static void busy_poll_reads(unsigned int reads, int busy_poll_us, int nap_us, uint64_t preempted_ns,
                            uint64_t polls_after[], uint64_t naps_after[]) {
    hop__atomic_store_u64(&hop__spin_preempted_ns, preempted_ns);
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, busy_fds), 0);
    test_store_uint(&busy_bytes_read, 0);
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.spin_us = HOP_SPIN_NEVER,
                                                      .busy_poll_us = busy_poll_us,
                                                      .busy_poll_nap_us = nap_us}));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *reader = test_spawn(hop_loop_executor(&loop), read_bytes_one_by_one, NULL);
    for (unsigned int i = 0; i < reads; i++) {
        while (hop_task_state(reader) != HOP_TASK_SUSPENDED)
            sched_yield(); /* in its read */
        uint64_t settled = busy_polls_once_settled(&loop);
        uint64_t naps_before = busy_poll_naps(&loop);
        cr_assert_eq(write(busy_fds[1], "x", 1), 1);
        test_wait_for(&busy_bytes_read, i + 1);
        polls_after[i] = busy_polls_once_settled(&loop) - settled;
        if (naps_after)
            naps_after[i] = busy_poll_naps(&loop) - naps_before;
    }
    close(busy_fds[1]); /* the end of the stream: the reader finishes */
    void *got = NULL;
    HOP_OK(hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, &got));
    hop_task_unref(reader);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
    cr_assert_eq((intptr_t)got, (intptr_t)reads);
}

static void busy_poll_scenario(int busy_poll_us, uint64_t preempted_ns, uint64_t polls_after[BUSY_READS]) {
    busy_poll_reads(BUSY_READS, busy_poll_us, 0, preempted_ns, polls_after, NULL);
}

/* The turn that resumed the reader opens a window (50 ms): the loop polls
 * without blocking, each poll counted, until the window ends, and then
 * sleeps (busy_polls_once_settled fails if it never does). */
Test(loop, a_busy_polling_loop_polls_its_sockets_without_blocking_after_work_then_sleeps, .timeout = 120) {
    uint64_t polls[BUSY_READS];
    busy_poll_scenario(50000, UINT64_MAX /* a host pause must not end a window */, polls);
    for (int i = 0; i < BUSY_READS; i++)
        cr_assert_gt(polls[i], 0, "read %d: the turn that ran the reader opened no busy-poll window", i);
}

/* With every gap counted as a lost CPU, the first empty turn of each window
 * sees one, and the loop rests: a poll or two per byte, not a window's worth
 * (thousands in 50 ms). The rest (20 ms) is over by the next byte, which
 * the test sends once the loop has been quiet for 200 ms. */
Test(loop, a_busy_polling_loop_that_loses_its_cpu_stops_polling, .timeout = 120) {
    uint64_t polls[BUSY_READS];
    busy_poll_scenario(50000, 0, polls);
    for (int i = 0; i < BUSY_READS; i++) {
        cr_assert_gt(polls[i], 0, "read %d: the turn that ran the reader opened no busy-poll window", i);
        cr_assert_leq(polls[i], 3, "read %d: %ju busy polls after a lost CPU", i, (uintmax_t)polls[i]);
    }
}

/* Every byte comes long after its window ended: each window misses. Four
 * misses use up the credit a loop starts with (16, a miss costs 4): the
 * reader's first turn (before any byte) and the first three reads. Then
 * only every 64th turn opens a window: the reads after the third open none. */
#define MISSED_READS 10

Test(loop, a_busy_polling_loop_whose_windows_keep_missing_stops_opening_them, .timeout = 120) {
    uint64_t polls[MISSED_READS];
    busy_poll_reads(MISSED_READS, 10000, 0, UINT64_MAX, polls, NULL);
    for (int i = 0; i < 3; i++)
        cr_assert_gt(polls[i], 0, "read %d: no window while the credit lasted", i);
    for (int i = 3; i < MISSED_READS; i++)
        cr_assert_eq(polls[i], 0, "read %d: %ju busy polls after four windows that missed", i, (uintmax_t)polls[i]);
}

/* A 1 ms nap after each poll that found nothing: a 200 ms window holds at
 * most about 200 polls (back to back it holds tens of thousands), each
 * after the first preceded by a nap. */
Test(loop, a_busy_polling_loop_with_a_nap_sleeps_between_polls_that_found_nothing, .timeout = 120) {
    uint64_t polls[BUSY_READS], naps[BUSY_READS];
    busy_poll_reads(BUSY_READS, 200000, 1000, UINT64_MAX, polls, naps);
    for (int i = 0; i < BUSY_READS; i++) {
        cr_assert_gt(polls[i], 1, "read %d: the window held %ju polls", i, (uintmax_t)polls[i]);
        cr_assert_leq(polls[i], 240, "read %d: %ju polls in a 200 ms window with 1 ms naps", i,
                      (uintmax_t)polls[i]);
        cr_assert_geq(naps[i] + 1, polls[i], "read %d: %ju naps for %ju polls", i, (uintmax_t)naps[i],
                      (uintmax_t)polls[i]);
    }
}

Test(loop, a_busy_polling_loop_without_a_nap_never_naps, .timeout = 120) {
    uint64_t polls[BUSY_READS], naps[BUSY_READS];
    busy_poll_reads(BUSY_READS, 50000, 0, UINT64_MAX, polls, naps);
    for (int i = 0; i < BUSY_READS; i++) {
        cr_assert_gt(polls[i], 0, "read %d: the turn that ran the reader opened no busy-poll window", i);
        cr_assert_eq(naps[i], 0, "read %d: %ju naps with busy_poll_nap_us 0", i, (uintmax_t)naps[i]);
    }
}

Test(loop, a_loop_with_zeroed_options_never_busy_polls, .timeout = 120) {
    uint64_t polls[BUSY_READS];
    busy_poll_scenario(0, UINT64_MAX, polls);
    for (int i = 0; i < BUSY_READS; i++)
        cr_assert_eq(polls[i], 0, "read %d: %ju busy polls with busy polling off", i, (uintmax_t)polls[i]);
}

/* With nothing waiting for I/O, a busy-poll window would only burn CPU:
 * a loop whose jobs ran opens none. */
static unsigned int busy_job_ran;

static void busy_job(hop_job_t *job) {
    (void)job;
    test_store_uint(&busy_job_ran, 1);
}

Test(loop, a_busy_polling_loop_with_no_io_under_way_sleeps_at_once_after_its_jobs, .timeout = 30) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.busy_poll_us = 10 * 1000 * 1000}));
    HOP_OK(hop_loop_start(&loop));
    hop_job_t job;
    hop_job_init(&job, busy_job);
    test_store_uint(&busy_job_ran, 0);
    HOP_OK(hop_loop_post(&loop, &job));
    test_wait_for(&busy_job_ran, 1);
    double before = cpu_ms();
    test_sleep_ms(300);
    double used = cpu_ms() - before;
    cr_assert_eq(busy_polls(&loop), 0);
    cr_assert_lt(used, 30.0, "a loop with no I/O used %.1f ms of CPU in 300 ms after a job", used);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* A busy-polling loop arms its uv timer for whole milliseconds rounded down
 * and polls out the rest (timer_arm in executors/loop.c): its sleeps must
 * still never end early, and must end. */
#define BUSY_SLEEPS 30

static void *sleep_and_measure(void *arg) {
    int64_t *early_by = arg; /* the worst earliness seen, in ns (0: none) */
    for (int i = 0; i < BUSY_SLEEPS; i++) {
        int64_t ms = 1 + i % 3;
        uint64_t start = hop_time_now_ns();
        CHECK_OK(hop_sleep(ms));
        int64_t took = (int64_t)(hop_time_now_ns() - start);
        if (ms * 1000000 - took > *early_by)
            *early_by = ms * 1000000 - took;
    }
    return NULL;
}

Test(loop, a_busy_polling_loops_sleeps_end_and_never_early, .timeout = 60) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.busy_poll_us = 50}));
    HOP_OK(hop_loop_start(&loop));
    int64_t early_by = 0;
    hop_task_t *t = test_spawn(hop_loop_executor(&loop), sleep_and_measure, &early_by);
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
    cr_assert_eq(early_by, 0, "a sleep ended %jd ns before its time", (intmax_t)early_by);
}

/* A nap never starts that would end past a timer's deadline: with naps of a
 * whole second, short sleeps on a loop that busy polls (a reader keeps I/O
 * under way) still end close to their time, not a second late. */
static void *sleep_and_measure_late(void *arg) {
    int64_t *late_by = arg; /* the worst lateness seen, in ns */
    for (int i = 0; i < BUSY_SLEEPS; i++) {
        int64_t ms = 2 + i % 3;
        uint64_t start = hop_time_now_ns();
        CHECK_OK(hop_sleep(ms));
        int64_t took = (int64_t)(hop_time_now_ns() - start);
        if (took - ms * 1000000 > *late_by)
            *late_by = took - ms * 1000000;
    }
    return NULL;
}

Test(loop, a_busy_polling_loops_naps_never_make_its_timers_late, .timeout = 120) {
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, busy_fds), 0);
    test_store_uint(&busy_bytes_read, 0);
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.spin_us = HOP_SPIN_NEVER,
                                                      .busy_poll_us = 1000 * 1000,
                                                      .busy_poll_nap_us = 1000 * 1000}));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *reader = test_spawn(hop_loop_executor(&loop), read_bytes_one_by_one, NULL);
    while (hop_task_state(reader) != HOP_TASK_SUSPENDED)
        sched_yield(); /* in its read: I/O under way */
    int64_t late_by = 0;
    hop_task_t *sleeper = test_spawn(hop_loop_executor(&loop), sleep_and_measure_late, &late_by);
    HOP_OK(hop_future_wait(hop_task_future(sleeper), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(sleeper);
    close(busy_fds[1]);
    HOP_OK(hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(reader);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
    /* A nap would show as a second; 500 ms leaves room for a loaded machine. */
    cr_assert_lt(late_by, 500000000, "a sleep ended %jd ms late", (intmax_t)(late_by / 1000000));
}

/* Producers do not signal a loop that busy polls (it is awake to them), so
 * a napping loop finds their jobs only after its nap: none may be lost. The
 * test posts jobs from two threads, in bursts and one by one, while a
 * reader keeps I/O under way and the loop naps 100 us between polls. */
#define NAP_POSTERS 2
#define NAP_POSTS 3000

static unsigned int nap_jobs_ran;

static void nap_job(hop_job_t *job) {
    (void)job;
    test_store_uint(&nap_jobs_ran, test_load_uint(&nap_jobs_ran) + 1u);
}

typedef struct {
    hop_loop_t *loop;
    hop_job_t jobs[NAP_POSTS];
} nap_poster_t;

static void *post_with_gaps(void *arg) {
    nap_poster_t *p = arg;
    for (int i = 0; i < NAP_POSTS; i++) {
        hop_job_init(&p->jobs[i], nap_job);
        CHECK_OK(hop_loop_post(p->loop, &p->jobs[i]));
        if (i % 64 == 63)
            test_sleep_ms(1); /* a gap: the loop's window runs on into naps */
        else if (i % 7 == 0)
            sched_yield();
    }
    return NULL;
}

Test(loop, a_napping_loop_runs_every_job_posted_during_its_naps, .timeout = 120) {
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, busy_fds), 0);
    test_store_uint(&busy_bytes_read, 0);
    test_store_uint(&nap_jobs_ran, 0);
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, &(hop_loop_options_t){.busy_poll_us = 1000 * 1000, .busy_poll_nap_us = 100}));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *reader = test_spawn(hop_loop_executor(&loop), read_bytes_one_by_one, NULL);
    while (hop_task_state(reader) != HOP_TASK_SUSPENDED)
        sched_yield();
    static nap_poster_t posters[NAP_POSTERS];
    pthread_t threads[NAP_POSTERS];
    for (int i = 0; i < NAP_POSTERS; i++) {
        posters[i].loop = &loop;
        cr_assert_eq(pthread_create(&threads[i], NULL, post_with_gaps, &posters[i]), 0);
    }
    for (int i = 0; i < NAP_POSTERS; i++)
        pthread_join(threads[i], NULL);
    test_wait_for(&nap_jobs_ran, NAP_POSTERS * NAP_POSTS);
    cr_assert_gt(busy_poll_naps(&loop), 0, "the loop never napped: the test tested nothing");
    close(busy_fds[1]);
    HOP_OK(hop_future_wait(hop_task_future(reader), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(reader);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* A job on the loop that closes the pool, in the same batch as tasks whose
 * offloads are staged: close hands the staged chain to the pool first (it
 * would otherwise wait for that chain's registration for ever), and those
 * jobs, accepted before the close, run. */
static hop_pool_t closing_pool;
static int closing_status = -1;

static void close_pool_job(hop_job_t *job) {
    (void)job;
    closing_status = hop_pool_close(&closing_pool);
}

static void *offload_once(void *arg) {
    void *result = NULL;
    int err = hop_run_in_executor(hop_pool_executor(&closing_pool), chain_fn, arg, &result);
    return err ? NULL : result;
}

Test(loop, a_job_on_the_loop_that_closes_a_pool_first_hands_it_the_offloads_staged_before_it, .timeout = 60) {
    HOP_OK(hop_pool_init(&closing_pool, NULL));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    /* Queued before the loop runs: the tasks' first steps and the close job
     * are drained in one batch, so the offloads are staged when close runs. */
    hop_task_t *tasks[8];
    for (intptr_t i = 0; i < 8; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), offload_once, (void *)i, NULL, &tasks[i]));
    hop_job_t close_job;
    hop_job_init(&close_job, close_pool_job);
    HOP_OK(hop_loop_post(&loop, &close_job));
    HOP_OK(hop_loop_start(&loop));
    for (intptr_t i = 0; i < 8; i++) {
        void *result = NULL;
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &result));
        cr_assert_eq((intptr_t)result, i + 1, "task %ld: its offload did not run", (long)i);
        hop_task_unref(tasks[i]);
    }
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(closing_status, 0);
    test_assert_checks();
}

/* Order survives the staging: a plain submit from a job on the loop, after
 * offloads staged in the same batch, joins their chain behind them. With one
 * worker, held until everything is queued, jobs start in queue order. */
#define ORDER_OFFLOADS 40
static unsigned int order_gate, order_next;
static unsigned int order_of[ORDER_OFFLOADS + 1];

static void order_hold_job(hop_job_t *job) {
    (void)job;
    test_wait_for(&order_gate, 1);
}

static void *order_fn(void *arg) {
    order_of[(intptr_t)arg] = order_next++; /* one worker: no race */
    return NULL;
}

static void order_plain_job(hop_job_t *job) {
    (void)job;
    order_of[ORDER_OFFLOADS] = order_next++;
}

static hop_pool_t order_pool;
static hop_job_t order_plain;
static int order_submit_status = -1;

static void order_submit_job(hop_job_t *job) {
    (void)job;
    hop_job_init(&order_plain, order_plain_job);
    order_submit_status = hop_pool_submit(&order_pool, &order_plain);
}

static void *order_offloader(void *arg) {
    return (void *)(intptr_t)hop_run_in_executor(hop_pool_executor(&order_pool), order_fn, arg, NULL);
}

Test(loop, a_plain_submit_from_the_loop_starts_after_the_offloads_its_tasks_submitted_before_it,
     .timeout = 60) {
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_pool_init(&order_pool, &options));
    hop_job_t hold;
    hop_job_init(&hold, order_hold_job);
    HOP_OK(hop_pool_submit(&order_pool, &hold));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    /* Queued before the loop runs: one batch runs the tasks' first steps
     * (each stages its offload), then the plain submit. */
    hop_task_t *tasks[ORDER_OFFLOADS];
    for (intptr_t i = 0; i < ORDER_OFFLOADS; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), order_offloader, (void *)i, NULL, &tasks[i]));
    hop_job_t submit;
    hop_job_init(&submit, order_submit_job);
    HOP_OK(hop_loop_post(&loop, &submit));
    HOP_OK(hop_loop_start(&loop));
    for (int i = 0; i < ORDER_OFFLOADS; i++)
        test_wait_suspended(tasks[i]);
    test_store_uint(&order_gate, 1);
    for (int i = 0; i < ORDER_OFFLOADS; i++) {
        void *status = NULL;
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, &status));
        cr_assert_eq((intptr_t)status, 0, "offload %d: %s", i, hop_err_name((int)(intptr_t)status));
        hop_task_unref(tasks[i]);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&order_pool));
    cr_assert_eq(order_submit_status, 0);
    for (int i = 0; i <= ORDER_OFFLOADS; i++)
        cr_assert_eq(order_of[i], (unsigned int)i, "job %d started %u-th", i, order_of[i]);
    test_assert_checks();
}

/* A cancel that reaches a task while its offload is still staged on the loop
 * (same batch, not yet handed to the pool): the task gets HOP_ECANCELED at
 * once, and the job, handed over at the end of the batch, is dropped unrun
 * when a worker reaches it. */
#define STAGED_CANCELS 16
static hop_pool_t staged_pool;
static hop_task_t *staged_tasks[STAGED_CANCELS];
static unsigned int staged_fn_calls;

static void *staged_fn(void *arg) {
    test_add_uint(&staged_fn_calls, 1);
    return arg;
}

static void *staged_offloader(void *arg) {
    return (void *)(intptr_t)hop_run_in_executor(hop_pool_executor(&staged_pool), staged_fn, arg, NULL);
}

static int staged_cancel_status[STAGED_CANCELS];

static void staged_cancel_job(hop_job_t *job) {
    (void)job;
    for (int i = 0; i < STAGED_CANCELS; i++)
        staged_cancel_status[i] = hop_task_cancel(staged_tasks[i]);
}

Test(loop, cancelling_tasks_whose_offloads_are_still_staged_returns_ecanceled_and_fn_never_runs,
     .timeout = 60) {
    HOP_OK(hop_pool_init(&staged_pool, NULL));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    /* Queued before the loop runs: one batch runs the tasks' first steps
     * (each stages its offload and suspends), then the cancels. */
    for (intptr_t i = 0; i < STAGED_CANCELS; i++)
        HOP_OK(hop_task_spawn(hop_loop_executor(&loop), staged_offloader, (void *)i, NULL, &staged_tasks[i]));
    hop_job_t cancel;
    hop_job_init(&cancel, staged_cancel_job);
    HOP_OK(hop_loop_post(&loop, &cancel));
    HOP_OK(hop_loop_start(&loop));
    for (int i = 0; i < STAGED_CANCELS; i++) {
        void *status = NULL;
        int err = hop_future_wait(hop_task_future(staged_tasks[i]), HOP_WAIT_FOREVER, &status);
        /* The task returned the offload's status, or the cancel stayed
         * pending and finished it: either way the offload was cancelled. */
        cr_assert(err == HOP_ECANCELED || (err == 0 && (intptr_t)status == HOP_ECANCELED),
                  "task %d: %s, offload %s", i, hop_err_name(err), hop_err_name((int)(intptr_t)status));
        cr_assert_eq(staged_cancel_status[i], 0, "task %d: cancel %s", i,
                     hop_err_name(staged_cancel_status[i]));
        hop_task_unref(staged_tasks[i]);
    }
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&staged_pool)); /* every dropped job has been reached */
    cr_assert_eq(test_load_uint(&staged_fn_calls), 0);
    test_assert_checks();
}

/* A plain job on a loop's thread that blocks on hop_future_wait for a task of
 * that same loop would hold the only thread that can run the task: refused
 * with HOP_EDEADLK (before, it blocked the loop for ever). Waiting there for
 * a task elsewhere (the pool) still works. */
typedef struct {
    hop_job_t job;
    hop_task_t *task;
    int status;
    unsigned int done;
} future_wait_job_t;

static void future_wait_job_run(hop_job_t *job) {
    future_wait_job_t *w = (future_wait_job_t *)job;
    w->status = hop_future_wait(hop_task_future(w->task), HOP_WAIT_FOREVER, NULL);
    store_uint(&w->done, 1);
}

static hop_future_t wait_gate;

static void *wait_for_gate(void *arg) {
    CHECK_OK(hop_future_await(&wait_gate, NULL));
    return arg;
}

Test(loop, a_plain_job_waiting_for_a_task_of_its_own_loop_gets_edeadlk) {
    hop_loop_t loop;
    hop_pool_t pool;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 1}));
    hop_future_init(&wait_gate);
    hop_task_t *on_loop, *on_pool;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), wait_for_gate, (void *)1, NULL, &on_loop));
    test_wait_suspended(on_loop);

    future_wait_job_t same = {.task = on_loop};
    hop_job_init(&same.job, future_wait_job_run);
    HOP_OK(hop_executor_submit(hop_loop_executor(&loop), &same.job));
    test_wait_for(&same.done, 1);
    cr_assert_eq(same.status, HOP_EDEADLK, "got %d", same.status);

    /* A task on the pool: the job blocks until it ends, then has its result. */
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), wait_for_gate, (void *)2, NULL, &on_pool));
    test_wait_suspended(on_pool);
    future_wait_job_t other = {.task = on_pool};
    hop_job_init(&other.job, future_wait_job_run);
    HOP_OK(hop_executor_submit(hop_loop_executor(&loop), &other.job));
    HOP_OK(hop_future_set_result(&wait_gate, NULL));
    test_wait_for(&other.done, 1);
    cr_assert_eq(other.status, 0, "got %d", other.status);

    HOP_OK(hop_future_wait(hop_task_future(on_loop), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(on_loop);
    hop_task_unref(on_pool);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- Lagging behind a pool that is behind (LAGGING in executors/loop.c) ---- */

static hop_pool_t lag_pool;
static unsigned int lag_gate;

static void lag_hold_job(hop_job_t *job) {
    (void)job;
    test_wait_for(&lag_gate, 1);
}

static void lag_nothing_job(hop_job_t *job) { (void)job; }

static void *lag_echo_fn(void *arg) { return arg; }

static void *lag_offload_once(void *arg) {
    void *result = NULL;
    int err = hop_run_in_executor(hop_pool_executor(&lag_pool), lag_echo_fn, arg, &result);
    return err ? (void *)(intptr_t)-err : result;
}

static hop_loop_stats_t lag_stats(hop_loop_t *loop) {
    hop_loop_stats_t stats;
    HOP_OK(hop_loop_stats(loop, &stats));
    return stats;
}

static unsigned int lag_posted_ran;

static void lag_posted_job(hop_job_t *job) {
    (void)job;
    test_store_uint(&lag_posted_ran, 1);
}

/* The one worker is held and a job waits behind it, so the task's offload,
 * the only submission of the drain that ran the task, goes in behind queued
 * work: the next drain (a posted job's) lags once, and that drain, which
 * sent nothing, arms no other. */
Test(loop, a_drain_that_sent_an_offload_behind_queued_jobs_makes_the_next_drain_lag_once, .timeout = 60) {
    HOP_OK(hop_pool_init(&lag_pool, &(hop_pool_options_t){.threads = 1}));
    hop_job_t hold, queued;
    hop_job_init(&hold, lag_hold_job);
    hop_job_init(&queued, lag_nothing_job);
    HOP_OK(hop_pool_submit(&lag_pool, &hold));
    HOP_OK(hop_pool_submit(&lag_pool, &queued));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    uint64_t batches = lag_stats(&loop).batches;
    hop_task_t *task = test_spawn(hop_loop_executor(&loop), lag_offload_once, (void *)7);
    /* The drain that ran the task counts itself once its chain is flushed. */
    while (lag_stats(&loop).batches == batches)
        test_sleep_ms(1);
    test_wait_suspended(task);
    cr_assert_eq(lag_stats(&loop).lags, 0, "nothing has lagged yet");

    hop_job_t posted;
    hop_job_init(&posted, lag_posted_job);
    HOP_OK(hop_loop_post(&loop, &posted));
    test_wait_for(&lag_posted_ran, 1);
    cr_assert_eq(lag_stats(&loop).lags, 1, "the drain after the one that went behind lagged");

    test_store_uint(&lag_gate, 1);
    void *result = NULL;
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, &result));
    hop_task_unref(task);
    cr_assert_eq((intptr_t)result, 7);
    cr_assert_eq(lag_stats(&loop).lags, 1, "the drains that sent nothing behind armed no lag");
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&lag_pool));
    test_assert_checks();
}

/* Round trips to an idle pool: each offload finds the injection queue
 * empty (the worker took the last one before answering it), so no drain
 * lags, however many drains run one job each. */
static void *lag_round_trips(void *arg) {
    uintptr_t n = (uintptr_t)arg, sum = 0;
    for (uintptr_t i = 1; i <= n; i++) {
        void *result = NULL;
        CHECK_OK(hop_run_in_executor(hop_pool_executor(&lag_pool), lag_echo_fn, (void *)i, &result));
        sum += (uintptr_t)result;
    }
    return (void *)sum;
}

Test(loop, round_trips_to_an_idle_pool_never_make_the_loop_lag, .timeout = 60) {
    HOP_OK(hop_pool_init(&lag_pool, &(hop_pool_options_t){.threads = 1}));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *task = test_spawn(hop_loop_executor(&loop), lag_round_trips, (void *)2000);
    void *sum = NULL;
    HOP_OK(hop_future_wait(hop_task_future(task), HOP_WAIT_FOREVER, &sum));
    hop_task_unref(task);
    cr_assert_eq((uintptr_t)sum, 2000u * 2001u / 2u);
    hop_loop_stats_t stats = lag_stats(&loop);
    cr_assert_geq(stats.batches, 2000, "a drain per round trip at least");
    cr_assert_eq(stats.lags, 0, "%llu drains lagged", (unsigned long long)stats.lags);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&lag_pool));
    test_assert_checks();
}

/* Many tasks offloading 20 us of work each to one worker: the pool is
 * behind all along and, on an idle machine, its answers come one at a time,
 * so most drains lag (on a loaded one the loop wakes late and finds them
 * gathered already); every task gets each of its results exactly once, in
 * order. */
#define LAG_TASKS 32
#define LAG_OFFLOADS 100

static void *lag_busy_fn(void *arg) {
    uint64_t until = hop_time_now_ns() + 20000u;
    while (hop_time_now_ns() < until)
        ;
    return (void *)((uintptr_t)arg + 1);
}

static void *lag_busy_offloader(void *arg) {
    uintptr_t base = (uintptr_t)arg * 1000000u;
    for (uintptr_t i = 0; i < LAG_OFFLOADS; i++) {
        void *result = NULL;
        CHECK_OK(hop_run_in_executor(hop_pool_executor(&lag_pool), lag_busy_fn, (void *)(base + i), &result));
        CHECK((uintptr_t)result == base + i + 1, "task %lu, offload %lu: got %lu",
              (unsigned long)(base / 1000000u), (unsigned long)i, (unsigned long)(uintptr_t)result);
    }
    return NULL;
}

Test(loop, tasks_offloading_to_a_pool_that_is_behind_get_each_result_once_while_the_loop_lags,
     .timeout = 120) {
    HOP_OK(hop_pool_init(&lag_pool, &(hop_pool_options_t){.threads = 1}));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_task_t *tasks[LAG_TASKS];
    for (uintptr_t i = 0; i < LAG_TASKS; i++)
        tasks[i] = test_spawn(hop_loop_executor(&loop), lag_busy_offloader, (void *)i);
    for (int i = 0; i < LAG_TASKS; i++)
        HOP_OK(test_join(tasks[i]));
    hop_loop_stats_t stats = lag_stats(&loop);
    cr_log_info("%llu of %llu drains lagged", (unsigned long long)stats.lags,
                (unsigned long long)stats.batches);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&lag_pool));
    test_assert_checks();
}
