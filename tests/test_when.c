/* tests/test_when.c: hop_when_all / hop_when_any on futures and tasks:
 * results in order, the first error, settled mode, the first completion,
 * cancelling the rest, cancelling the waiter, and completions racing the
 * end of the wait from plain threads and pool workers. */
#include <hop/when.h>
#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdlib.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(when, .init = setup, .fini = teardown, .timeout = 120);

#define N 4

/* What a waiting task saw; filled in by the task, checked by the test. */
typedef struct {
    hop_future_t **futures;
    hop_task_t **tasks;
    size_t n;
    unsigned int flags;
    hop_when_waiter_t *storage;
    int rc;
    int status;
    void *result;
    void *results[64];
    int statuses[64];
    bool returned;
} call_t;

static void *when_all_task(void *arg) {
    call_t *c = arg;
    c->rc = hop_when_all(c->futures, c->n, c->flags, c->results, c->statuses, c->storage);
    c->returned = true;
    return NULL;
}

static void *when_any_task(void *arg) {
    call_t *c = arg;
    c->rc = hop_when_any(c->futures, c->n, c->flags, &c->status, &c->result, c->storage);
    c->returned = true;
    return NULL;
}

static void *when_all_tasks_task(void *arg) {
    call_t *c = arg;
    c->rc = hop_when_all_tasks(c->tasks, c->n, c->flags, c->results, c->statuses, c->storage);
    c->returned = true;
    return NULL;
}

static void *when_any_tasks_task(void *arg) {
    call_t *c = arg;
    c->rc = hop_when_any_tasks(c->tasks, c->n, c->flags, &c->status, &c->result, c->storage);
    c->returned = true;
    return NULL;
}

/* The future's waiter list is empty: nothing of a finished wait is left
 * attached to it (white box: the list head is a private field). */
static bool no_waiters(const hop_future_t *f) { return f->waiters.head == NULL; }

static void init_futures(hop_future_t *fs, hop_future_t **ptrs, size_t n) {
    for (size_t i = 0; i < n; i++) {
        HOP_OK(hop_future_init(&fs[i]));
        ptrs[i] = &fs[i];
    }
}

Test(when, all_returns_the_results_in_array_order_whatever_order_they_complete_in) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    for (int i = N - 1; i >= 0; i--) {
        cr_assert_not(c.returned, "returned before future %d completed", i);
        HOP_OK(hop_future_set_result(&fs[i], (void *)(intptr_t)(100 + i)));
        hop_manual_executor_run_all(manual, 0);
    }
    cr_assert(c.returned);
    HOP_OK(c.rc);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(c.results[i], (void *)(intptr_t)(100 + i));
        cr_assert_eq(c.statuses[i], 0);
    }
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, the_first_error_returns_at_once_and_leaves_nothing_attached_to_the_pending_futures) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&fs[0], (void *)1));
    HOP_OK(hop_future_set_error(&fs[2], HOP_ETIMEDOUT));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_ERR(c.rc, HOP_ETIMEDOUT);
    cr_assert_eq(c.statuses[0], 0);
    cr_assert_eq(c.results[0], (void *)1);
    HOP_ERR(c.statuses[1], HOP_EAGAIN);
    HOP_ERR(c.statuses[2], HOP_ETIMEDOUT);
    HOP_ERR(c.statuses[3], HOP_EAGAIN);
    cr_assert_null(c.results[1]);
    cr_assert_null(c.results[2]);
    cr_assert(no_waiters(&fs[1]) && no_waiters(&fs[3]), "the pending futures' waiters were withdrawn");
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
    /* The task and its stack are gone: these must not reach them (ASan). */
    HOP_OK(hop_future_set_result(&fs[1], NULL));
    HOP_OK(hop_future_set_error(&fs[3], HOP_EINVAL));
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), 0, "nobody was resumed");
    test_assert_checks();
}

Test(when, futures_that_failed_before_the_call_are_reported_in_array_order) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    HOP_OK(hop_future_set_error(&fs[3], HOP_EBUSY));
    HOP_OK(hop_future_set_error(&fs[1], HOP_ETIMEDOUT));
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_ERR(c.rc, HOP_ETIMEDOUT);
    cr_assert(no_waiters(&fs[0]) && no_waiters(&fs[2]));
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, settled_mode_waits_for_every_future_and_reports_each_status) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N, .flags = HOP_WHEN_ALL_SETTLED};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_error(&fs[1], HOP_ETIMEDOUT));
    HOP_OK(hop_future_set_result(&fs[0], (void *)10));
    HOP_OK(hop_future_set_error(&fs[3], HOP_ECANCELED));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_not(c.returned, "settled mode waits for the last one");
    HOP_OK(hop_future_set_result(&fs[2], (void *)12));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_OK(c.rc);
    cr_assert_eq(c.statuses[0], 0);
    HOP_ERR(c.statuses[1], HOP_ETIMEDOUT);
    cr_assert_eq(c.statuses[2], 0);
    HOP_ERR(c.statuses[3], HOP_ECANCELED);
    cr_assert_eq(c.results[0], (void *)10);
    cr_assert_null(c.results[1]);
    cr_assert_eq(c.results[2], (void *)12);
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, all_over_futures_already_complete_does_not_suspend) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    for (int i = 0; i < N; i++)
        HOP_OK(hop_future_set_result(&fs[i], (void *)(intptr_t)i));
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert(c.returned, "finished within its first run");
    HOP_OK(c.rc);
    cr_assert_eq(c.results[3], (void *)3);
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, all_of_nothing_returns_zero_at_once) {
    call_t c = {.futures = NULL, .n = 0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert(c.returned);
    HOP_OK(c.rc);
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, the_same_future_twice_is_waited_for_once_per_entry) {
    hop_future_t f, g;
    hop_future_init(&f);
    hop_future_init(&g);
    hop_future_t *ptrs[3] = {&f, &g, &f};
    call_t c = {.futures = ptrs, .n = 3};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&f, (void *)5));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_not(c.returned);
    HOP_OK(hop_future_set_result(&g, (void *)6));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_OK(c.rc);
    cr_assert_eq(c.results[0], (void *)5);
    cr_assert_eq(c.results[2], (void *)5);
    hop_task_unref(t);
    test_assert_checks();
}

static void more_than_inline(hop_when_waiter_t *storage) {
    enum { MANY = 40 };
    hop_future_t fs[MANY], *ptrs[MANY];
    init_futures(fs, ptrs, MANY);
    call_t c = {.futures = ptrs, .n = MANY, .storage = storage};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < MANY; i++) {
        cr_assert_not(c.returned);
        HOP_OK(hop_future_set_result(&fs[(i * 7) % MANY], (void *)(intptr_t)((i * 7) % MANY)));
        hop_manual_executor_run_all(manual, 0);
    }
    cr_assert(c.returned);
    HOP_OK(c.rc);
    for (int i = 0; i < MANY; i++)
        cr_assert_eq(c.results[i], (void *)(intptr_t)i);
    hop_task_unref(t);
}

Test(when, more_futures_than_the_inline_records_work_with_caller_storage) {
    hop_when_waiter_t storage[40];
    more_than_inline(storage);
    test_assert_checks();
}

Test(when, more_futures_than_the_inline_records_work_with_allocated_storage) {
    more_than_inline(NULL);
    test_assert_checks();
}

Test(when, any_returns_the_index_of_the_first_completion_and_leaves_the_rest_alone) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_not(c.returned);
    HOP_OK(hop_future_set_result(&fs[2], (void *)42));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    cr_assert_eq(c.rc, 2);
    cr_assert_eq(c.status, 0);
    cr_assert_eq(c.result, (void *)42);
    for (int i = 0; i < N; i++) {
        cr_assert(no_waiters(&fs[i]), "future %d still has a waiter", i);
        if (i != 2)
            cr_assert_not(hop_future_is_done(&fs[i]));
    }
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, any_counts_a_failed_future_as_the_first_completion) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N, .result = (void *)1};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_error(&fs[3], HOP_EBUSY));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(c.rc, 3);
    HOP_ERR(c.status, HOP_EBUSY);
    cr_assert_null(c.result);
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, any_over_futures_already_complete_returns_the_lowest_index) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    HOP_OK(hop_future_set_result(&fs[3], (void *)3));
    HOP_OK(hop_future_set_result(&fs[1], (void *)1));
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(c.rc, 1);
    cr_assert_eq(c.result, (void *)1);
    cr_assert(no_waiters(&fs[0]) && no_waiters(&fs[2]));
    hop_task_unref(t);
    test_assert_checks();
}

/* Children for the task variants: each awaits its own future. */
static void *await_arg(void *arg) {
    void *result = NULL;
    int rc = hop_future_await(arg, &result);
    return rc == 0 ? result : (void *)(intptr_t)rc;
}

Test(when, all_tasks_collects_every_task_result_in_order) {
    hop_future_t fs[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        hop_future_init(&fs[i]);
        HOP_OK(hop_task_spawn(manual, await_arg, &fs[i], NULL, &tasks[i]));
    }
    call_t c = {.tasks = tasks, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_tasks_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++)
        HOP_OK(hop_future_set_result(&fs[i], (void *)(intptr_t)(i + 1)));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_OK(c.rc);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(c.results[i], (void *)(intptr_t)(i + 1));
        hop_task_unref(tasks[i]);
    }
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, any_tasks_without_cancel_rest_leaves_the_other_tasks_running) {
    hop_future_t fs[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        hop_future_init(&fs[i]);
        HOP_OK(hop_task_spawn(manual, await_arg, &fs[i], NULL, &tasks[i]));
    }
    call_t c = {.tasks = tasks, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_tasks_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&fs[1], (void *)7));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(c.rc, 1);
    cr_assert_eq(c.result, (void *)7);
    for (int i = 0; i < N; i++) {
        if (i != 1)
            cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_SUSPENDED, "task %d left alone", i);
    }
    for (int i = 0; i < N; i++) {
        hop_future_set_result(&fs[i], NULL);
        hop_manual_executor_run_all(manual, 0);
        hop_task_unref(tasks[i]);
    }
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, any_tasks_with_cancel_rest_cancels_the_other_tasks) {
    hop_future_t fs[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        hop_future_init(&fs[i]);
        HOP_OK(hop_task_spawn(manual, await_arg, &fs[i], NULL, &tasks[i]));
    }
    call_t c = {.tasks = tasks, .n = N, .flags = HOP_WHEN_CANCEL_REST};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_tasks_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&fs[2], (void *)9));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(c.rc, 2);
    cr_assert_eq(c.result, (void *)9);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(hop_task_state(tasks[i]), i == 2 ? HOP_TASK_DONE : HOP_TASK_CANCELLED, "task %d is %s",
                     i, hop_task_state_name(hop_task_state(tasks[i])));
        cr_assert(no_waiters(&fs[i]), "cancelled task %d withdrew from its future", i);
        hop_task_unref(tasks[i]);
    }
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, all_tasks_with_cancel_rest_cancels_the_running_tasks_after_a_first_error) {
    hop_future_t fs[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        hop_future_init(&fs[i]);
        HOP_OK(hop_task_spawn(manual, await_arg, &fs[i], NULL, &tasks[i]));
    }
    call_t c = {.tasks = tasks, .n = N, .flags = HOP_WHEN_CANCEL_REST};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_tasks_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&fs[0], NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_cancel(tasks[1])); /* a task that ends cancelled is a failure here */
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_ERR(c.rc, HOP_ECANCELED);
    cr_assert_eq(c.statuses[0], 0);
    HOP_ERR(c.statuses[1], HOP_ECANCELED);
    HOP_ERR(c.statuses[2], HOP_EAGAIN);
    for (int i = 2; i < N; i++)
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_CANCELLED);
    for (int i = 0; i < N; i++)
        hop_task_unref(tasks[i]);
    hop_task_unref(t);
    test_assert_checks();
}

Test(when, cancelling_the_waiting_task_returns_ecanceled_and_withdraws_every_waiter) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_all_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&fs[1], (void *)1));
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert(c.returned);
    HOP_ERR(c.rc, HOP_ECANCELED);
    cr_assert_eq(c.statuses[1], 0);
    HOP_ERR(c.statuses[0], HOP_EAGAIN);
    for (int i = 0; i < N; i++)
        cr_assert(no_waiters(&fs[i]));
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    hop_task_unref(t);
    for (int i = 0; i < N; i++)
        hop_future_set_result(&fs[i], NULL);
    cr_assert_eq(hop_manual_executor_run_all(manual, 0), 0, "nothing resumed late");
    test_assert_checks();
}

Test(when, cancelling_a_task_waiting_for_any_returns_ecanceled) {
    hop_future_t fs[N], *ptrs[N];
    init_futures(fs, ptrs, N);
    call_t c = {.futures = ptrs, .n = N, .status = 12345};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, when_any_task, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c.rc, HOP_ECANCELED);
    cr_assert_eq(c.status, 12345, "status untouched on error");
    for (int i = 0; i < N; i++)
        cr_assert(no_waiters(&fs[i]));
    hop_task_unref(t);
    test_assert_checks();
}

static void *wait_for_self(void *arg) {
    call_t *c = arg;
    hop_task_t *self = hop_task_current();
    hop_task_t *tasks[1] = {self};
    c->rc = hop_when_all_tasks(tasks, 1, 0, NULL, NULL, NULL);
    c->status = hop_when_any_tasks(tasks, 1, 0, NULL, NULL, NULL);
    return NULL;
}

Test(when, a_task_waiting_for_itself_is_refused) {
    call_t c = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_for_self, &c, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c.rc, HOP_EDEADLK);
    HOP_ERR(c.status, HOP_EDEADLK);
    hop_task_unref(t);
    test_assert_checks();
}

typedef struct {
    int rc[16];
} bad_t;

static void *bad_calls(void *arg) {
    bad_t *b = arg;
    hop_future_t f;
    hop_future_init(&f);
    hop_future_t *one[1] = {&f};
    hop_future_t *with_null[2] = {&f, NULL};
    hop_task_t *no_tasks[1] = {NULL};
    int i = 0;
    b->rc[i++] = hop_when_all(NULL, 1, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_all(with_null, 2, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_all(one, 1, HOP_WHEN_CANCEL_REST, NULL, NULL, NULL);
    b->rc[i++] = hop_when_all(one, 1, 1u << 7, NULL, NULL, NULL);
    b->rc[i++] = hop_when_any(one, 0, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_any(NULL, 1, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_any(one, 1, HOP_WHEN_ALL_SETTLED, NULL, NULL, NULL);
    b->rc[i++] = hop_when_any(one, 1, HOP_WHEN_CANCEL_REST, NULL, NULL, NULL);
    b->rc[i++] = hop_when_all_tasks(no_tasks, 1, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_any_tasks(NULL, 1, 0, NULL, NULL, NULL);
    b->rc[i++] = hop_when_all_tasks(NULL, 0, HOP_WHEN_CANCEL_REST, NULL, NULL, NULL);
    CHECK(!hop_future_is_done(&f));
    CHECK(no_waiters(&f));
    return NULL;
}

Test(when, bad_arguments_are_rejected_without_waiting) {
    bad_t b;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, bad_calls, &b, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "no call suspended");
    for (int i = 0; i < 10; i++)
        HOP_ERR(b.rc[i], HOP_EINVAL);
    HOP_OK(b.rc[10]); /* zero tasks: nothing to wait for */
    hop_task_unref(t);

    hop_future_t f;
    hop_future_init(&f);
    hop_future_t *one[1] = {&f};
    HOP_ERR(hop_when_all(one, 1, 0, NULL, NULL, NULL), HOP_ENOTTASK);
    HOP_ERR(hop_when_any(one, 1, 0, NULL, NULL, NULL), HOP_ENOTTASK);
    cr_assert(no_waiters(&f));
    test_assert_checks();
}

/* The stress: every round a pool task waits on futures completed by a plain
 * thread and by pool jobs, while the test thread may cancel the waiter, and
 * some rounds end early (a first error, a first completion) with a future
 * that is never completed. Exactly-once resumption and the withdrawal of
 * every waiter are checked each round; TSan and ASan check that nothing
 * touches the waiter's stack after it returned (the stack is reused by the
 * next round's task at once). */
enum { STRESS_FUTURES = 5, NEVER = 4 };

typedef struct {
    hop_future_t fs[STRESS_FUTURES];
    hop_future_t *ptrs[STRESS_FUTURES];
    int mode; /* 0 all, 1 all-with-error, 2 settled, 3 any */
    int bad;  /* which future fails in mode 1 */
    call_t call;
    unsigned int jobs_done;
    hop_job_t jobs[2];
} round_t;

static round_t *volatile current_round;
static sem_t round_go, round_done;
static bool stress_over;

static void complete_one(round_t *r, int i) {
    if (r->mode == 1 && i == r->bad)
        hop_future_set_error(&r->fs[i], HOP_EBUSY);
    else
        hop_future_set_result(&r->fs[i], (void *)(intptr_t)(i + 1));
}

static void *completer_thread(void *arg) {
    (void)arg;
    for (;;) {
        sem_wait(&round_go);
        if (__atomic_load_n(&stress_over, __ATOMIC_ACQUIRE))
            return NULL;
        round_t *r = current_round;
        complete_one(r, 0);
        complete_one(r, 1);
        sem_post(&round_done);
    }
}

static void job_complete_2(hop_job_t *job) {
    round_t *r = (round_t *)((char *)job - offsetof(round_t, jobs[0]));
    complete_one(r, 2);
    __atomic_fetch_add(&r->jobs_done, 1, __ATOMIC_ACQ_REL);
}

static void job_complete_3(hop_job_t *job) {
    round_t *r = (round_t *)((char *)job - offsetof(round_t, jobs[1]));
    complete_one(r, 3);
    __atomic_fetch_add(&r->jobs_done, 1, __ATOMIC_ACQ_REL);
}

Test(when, completions_from_threads_and_pool_workers_race_the_end_of_the_wait, .timeout = 280) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    sem_init(&round_go, 0, 0);
    sem_init(&round_done, 0, 0);
    pthread_t thread;
    pthread_create(&thread, NULL, completer_thread, NULL);
    unsigned int seed = 12345;
    int rounds = 20000, cancelled = 0, early = 0;
    for (int n = 0; n < rounds; n++) {
        round_t *r = calloc(1, sizeof *r);
        r->mode = n % 4;
        r->bad = 1 + (int)(rand_r(&seed) % 3);
        for (int i = 0; i < STRESS_FUTURES; i++) {
            hop_future_init(&r->fs[i]);
            r->ptrs[i] = &r->fs[i];
        }
        /* Modes that cannot finish without all futures leave out NEVER. */
        size_t count = (r->mode == 1 || r->mode == 3) ? STRESS_FUTURES : STRESS_FUTURES - 1;
        r->call = (call_t){.futures = r->ptrs, .n = count, .flags = r->mode == 2 ? HOP_WHEN_ALL_SETTLED : 0};
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), r->mode == 3 ? when_any_task : when_all_task,
                              &r->call, NULL, &t));
        int cancel_at = (int)(rand_r(&seed) % 4); /* 3: never */
        if (cancel_at == 0)
            hop_task_cancel(t);
        current_round = r;
        sem_post(&round_go);
        if (cancel_at == 1)
            hop_task_cancel(t);
        hop_job_init(&r->jobs[0], job_complete_2);
        hop_job_init(&r->jobs[1], job_complete_3);
        HOP_OK(hop_pool_submit(&pool, &r->jobs[0]));
        HOP_OK(hop_pool_submit(&pool, &r->jobs[1]));
        if (cancel_at == 2)
            hop_task_cancel(t);
        int finished = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        cr_assert(finished == 0 || finished == HOP_ECANCELED, "round %d: %s", n, hop_err_name(finished));
        sem_wait(&round_done);
        while (__atomic_load_n(&r->jobs_done, __ATOMIC_ACQUIRE) != 2)
            test_sleep_ms(0);

        call_t *c = &r->call;
        bool was_cancelled = hop_task_state(t) == HOP_TASK_CANCELLED;
        if (was_cancelled) {
            cancelled++;
            cr_assert(cancel_at < 3);
        }
        if (c->returned) {
            if (c->rc == HOP_ECANCELED) {
                cr_assert(cancel_at < 3, "round %d: HOP_ECANCELED without a cancel", n);
            } else if (r->mode == 0 || r->mode == 2) {
                HOP_OK(c->rc);
                for (size_t i = 0; i < count; i++)
                    cr_assert(c->statuses[i] != HOP_EAGAIN, "round %d: %zu pending after all", n, i);
            } else if (r->mode == 1) {
                HOP_ERR(c->rc, HOP_EBUSY);
                HOP_ERR(c->statuses[r->bad], HOP_EBUSY);
                HOP_ERR(c->statuses[NEVER], HOP_EAGAIN);
                early++;
            } else {
                cr_assert(c->rc >= 0 && c->rc < NEVER, "round %d: any returned %d", n, c->rc);
                cr_assert_eq(c->result, (void *)(intptr_t)(c->rc + 1));
                early++;
            }
        } else {
            /* Cancelled before a pool thread started it: it never ran. */
            cr_assert(was_cancelled && cancel_at < 3, "round %d: the task never ran its wait", n);
        }
        for (int i = 0; i < STRESS_FUTURES; i++)
            cr_assert(no_waiters(&r->fs[i]), "round %d: a waiter was left on future %d", n, i);
        hop_task_unref(t);
        free(r);
    }
    __atomic_store_n(&stress_over, true, __ATOMIC_RELEASE);
    sem_post(&round_go);
    pthread_join(thread, NULL);
    HOP_OK(hop_pool_close(&pool));
    cr_assert_gt(cancelled, 0, "some rounds were cancelled");
    cr_assert_gt(early, 0, "some rounds ended early");
    test_assert_checks();
}
