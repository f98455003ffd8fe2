/* tests/test_example_rate_limit.c: the rate limiter of
 * examples/rate_limit.h: grants at least an interval apart across tasks,
 * executors and threads, and cancelled callers giving their slot back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../examples/rate_limit.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_rate_limit, .init = setup, .fini = teardown, .timeout = 60);

#define MS 1000000ull

typedef struct {
    rate_limiter_t *limiter;
    hop_event_t *start; /* if not NULL: waited for before the first call */
    int calls;
    int status;
    int granted_n; /* grants received */
    uint64_t granted[64];
    uint64_t returned_ns[64];
} acquirer_t;

static void *acquire_task(void *arg) {
    acquirer_t *a = arg;
    if (a->start && (a->status = hop_event_wait(a->start)) != 0)
        return NULL;
    for (int i = 0; i < a->calls; i++) {
        a->status = rate_limiter_acquire(a->limiter, &a->granted[i]);
        a->returned_ns[i] = hop_time_now_ns();
        if (a->status)
            break;
        a->granted_n++;
    }
    return NULL;
}

static hop_task_t *spawn_acquirer(hop_executor_t *e, acquirer_t *a) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(e, acquire_task, a, NULL, &t));
    return t;
}

static void run_acquirer(acquirer_t *a) {
    hop_task_t *t = spawn_acquirer(manual, a);
    test_run_until_finished(manual, t);
    hop_task_unref(t);
}

Test(example_rate_limit, the_first_call_is_let_through_at_once) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 10000));
    acquirer_t a = {.limiter = &limiter, .calls = 1};
    uint64_t start = hop_time_now_ns();
    run_acquirer(&a);
    HOP_OK(a.status);
    cr_assert_lt(a.returned_ns[0] - start, 5000 * MS, "waited for a 10 s interval");
    cr_assert_geq(a.granted[0], start);
    HOP_OK(rate_limiter_destroy(&limiter));
}

Test(example_rate_limit, a_second_call_waits_at_least_the_interval) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 50));
    acquirer_t a = {.limiter = &limiter, .calls = 3};
    run_acquirer(&a);
    HOP_OK(a.status);
    for (int i = 1; i < 3; i++) {
        cr_assert_geq(a.granted[i] - a.granted[i - 1], 50 * MS, "grants %d and %d: %llu ns apart", i - 1, i,
                      (unsigned long long)(a.granted[i] - a.granted[i - 1]));
        cr_assert_geq(a.returned_ns[i], a.granted[i]);
    }
    HOP_OK(rate_limiter_destroy(&limiter));
}

Test(example_rate_limit, a_zero_interval_never_waits) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 0));
    acquirer_t a = {.limiter = &limiter, .calls = 20};
    hop_task_t *t = spawn_acquirer(manual, &a);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "a call suspended");
    HOP_OK(a.status);
    hop_task_unref(t);
    HOP_OK(rate_limiter_destroy(&limiter));
}

static int double_it(void *arg, void **result) {
    *result = (void *)((intptr_t)arg * 2);
    return (intptr_t)arg < 0 ? HOP_EINVAL : 0;
}

typedef struct {
    rate_limiter_t *limiter;
    intptr_t input;
    int status;
    void *result;
} call_t;

static void *call_task(void *arg) {
    call_t *c = arg;
    c->status = rate_limited_call(c->limiter, double_it, (void *)c->input, &c->result);
    return NULL;
}

Test(example_rate_limit, rate_limited_call_returns_what_the_function_returns) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 1));
    call_t ok = {.limiter = &limiter, .input = 21}, bad = {.limiter = &limiter, .input = -1};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, call_task, &ok, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    HOP_OK(hop_task_spawn(manual, call_task, &bad, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    HOP_OK(ok.status);
    cr_assert_eq(ok.result, (void *)42);
    HOP_ERR(bad.status, HOP_EINVAL);
    HOP_OK(rate_limiter_destroy(&limiter));
}

Test(example_rate_limit, a_caller_cancelled_while_waiting_does_not_get_through_and_gives_its_slot_back) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 10000));
    acquirer_t first = {.limiter = &limiter, .calls = 1}, second = {.limiter = &limiter, .calls = 1};
    run_acquirer(&first);
    HOP_OK(first.status);
    uint64_t free_slot = rate_limiter_next_slot_ns(&limiter);
    cr_assert_eq(free_slot, first.granted[0] + 10000 * MS);

    hop_task_t *t = spawn_acquirer(manual, &second);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED, "the second caller should wait ~10 s");
    cr_assert_eq(rate_limiter_next_slot_ns(&limiter), free_slot + 10000 * MS);
    HOP_OK(hop_task_cancel(t));
    test_run_until_finished(manual, t);
    HOP_ERR(second.status, HOP_ECANCELED);
    cr_assert_eq(rate_limiter_next_slot_ns(&limiter), free_slot, "the slot was not given back");
    cr_assert_eq(limiter.grants, 1);
    hop_task_unref(t);
    HOP_OK(rate_limiter_destroy(&limiter));
}

/* The interval is a second: b must still be waiting for its slot when the
 * test thread cancels it, however slowly that thread runs (under TSan on a
 * loaded machine 60 ms were not enough). */
Test(example_rate_limit, a_slot_reserved_behind_a_cancelled_caller_keeps_its_place) {
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 1000));
    acquirer_t a = {.limiter = &limiter, .calls = 1}, b = {.limiter = &limiter, .calls = 1},
               c = {.limiter = &limiter, .calls = 1};
    run_acquirer(&a);
    hop_task_t *tb = spawn_acquirer(manual, &b), *tc = spawn_acquirer(manual, &c);
    hop_manual_executor_run_all(manual, 0);
    uint64_t after_c = rate_limiter_next_slot_ns(&limiter);
    cr_assert_eq(hop_task_state(tb), HOP_TASK_SUSPENDED, "b should wait a second for its slot");
    HOP_OK(hop_task_cancel(tb));
    test_run_until_finished(manual, tb);
    HOP_ERR(b.status, HOP_ECANCELED);
    cr_assert_eq(rate_limiter_next_slot_ns(&limiter), after_c);
    test_run_until_finished(manual, tc);
    HOP_OK(c.status);
    cr_assert_geq(c.granted[0] - a.granted[0], 1000 * MS);
    hop_task_unref(tb);
    hop_task_unref(tc);
    HOP_OK(rate_limiter_destroy(&limiter));
}

Test(example_rate_limit, bad_arguments_are_rejected) {
    rate_limiter_t limiter;
    HOP_ERR(rate_limiter_init(NULL, 10), HOP_EINVAL);
    HOP_ERR(rate_limiter_init(&limiter, -1), HOP_EINVAL);
    HOP_OK(rate_limiter_init(&limiter, 10));
    HOP_ERR(rate_limiter_acquire(NULL, NULL), HOP_EINVAL);
    HOP_ERR(rate_limiter_acquire(&limiter, NULL), HOP_ENOTTASK);
    HOP_ERR(rate_limited_call(&limiter, NULL, NULL, NULL), HOP_EINVAL);
    HOP_OK(rate_limiter_destroy(&limiter));
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(example_rate_limit, grants_to_tasks_on_a_pool_and_a_loop_are_at_least_the_interval_apart,
     .timeout = 120) {
    hop_pool_t pool;
    hop_loop_t loop;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 15));
    enum { TASKS = 8, CALLS = 5 };
    acquirer_t acquirers[TASKS];
    hop_task_t *tasks[TASKS];
    for (int i = 0; i < TASKS; i++) {
        acquirers[i] = (acquirer_t){.limiter = &limiter, .calls = CALLS};
        tasks[i] = spawn_acquirer(i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop), &acquirers[i]);
    }
    uint64_t all[TASKS * CALLS];
    for (int i = 0; i < TASKS; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        HOP_OK(acquirers[i].status);
        for (int k = 0; k < CALLS; k++)
            all[i * CALLS + k] = acquirers[i].granted[k];
        hop_task_unref(tasks[i]);
    }
    qsort(all, TASKS * CALLS, sizeof all[0], compare_u64);
    for (int i = 1; i < TASKS * CALLS; i++)
        cr_assert_geq(all[i] - all[i - 1], 15 * MS, "grants %d and %d only %llu ns apart", i - 1, i,
                      (unsigned long long)(all[i] - all[i - 1]));
    cr_assert_eq(limiter.grants, TASKS * CALLS);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(rate_limiter_destroy(&limiter));
}

/* Cancels racing slots on several threads: the cancelled never get through,
 * the rest keep their spacing. All callers start together once they are all
 * spawned, and the ones to be cancelled ask for every grant they can hold
 * (64, at one per 5 ms shared with up to 39 other callers: seconds), so the
 * cancel finds each of them unfinished however slowly the test's thread
 * gets to it on a loaded machine. */
Test(example_rate_limit, cancelling_some_of_many_waiting_callers_keeps_the_rest_spaced, .timeout = 120) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    rate_limiter_t limiter;
    HOP_OK(rate_limiter_init(&limiter, 5));
    hop_event_t start;
    HOP_OK(hop_event_init(&start));
    enum { TASKS = 40 };
    acquirer_t acquirers[TASKS];
    hop_task_t *tasks[TASKS];
    for (int i = 0; i < TASKS; i++) {
        int calls = i % 3 ? 2 : (int)(sizeof acquirers[i].granted / sizeof acquirers[i].granted[0]);
        acquirers[i] = (acquirer_t){.limiter = &limiter, .start = &start, .calls = calls, .status = 1};
        tasks[i] = spawn_acquirer(hop_pool_executor(&pool), &acquirers[i]);
    }
    HOP_OK(hop_event_set(&start));
    for (int i = 0; i < TASKS; i += 3)
        HOP_OK(hop_task_cancel(tasks[i]));
    uint64_t all[TASKS * 64];
    int n = 0;
    for (int i = 0; i < TASKS; i++) {
        int err = hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
        if (i % 3) {
            HOP_OK(err);
            HOP_OK(acquirers[i].status);
            cr_assert_eq(acquirers[i].granted_n, 2);
        } else {
            /* Cancelled before it started (status untouched), while waiting
             * for the start, or while waiting for a slot: never a grant to
             * the call that was told HOP_ECANCELED. */
            HOP_ERR(err, HOP_ECANCELED);
            cr_assert(acquirers[i].status == 1 || acquirers[i].status == HOP_ECANCELED, "task %d: %s", i,
                      hop_err_name(acquirers[i].status));
            cr_assert_lt(acquirers[i].granted_n, acquirers[i].calls);
        }
        for (int k = 0; k < acquirers[i].granted_n; k++)
            all[n++] = acquirers[i].granted[k];
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq((uint64_t)n, limiter.grants, "grants handed out but not received");
    qsort(all, (size_t)n, sizeof all[0], compare_u64);
    for (int i = 1; i < n; i++)
        cr_assert_geq(all[i] - all[i - 1], 5 * MS);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(rate_limiter_destroy(&limiter));
    HOP_OK(hop_event_destroy(&start));
}
