/* tests/test_group.c: task groups: waiting for every child on the pool, on a
 * loop and on the manual executor; the first failure cancelling suspended
 * siblings; cancelling the waiting task; spawning into a closed group; and a
 * stress of failures and cancellations racing children on a pool. */
#include <hop/group.h>
#include <pthread.h>
#include <stdlib.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(group, .init = setup, .fini = teardown, .timeout = 120);

/* Children. */
static int child_returns_arg(void *arg, void **result) {
    hop_yield();
    *result = arg;
    return 0;
}

static int child_fails_with_arg(void *arg, void **result) {
    (void)result;
    hop_yield();
    return (int)(intptr_t)arg;
}

/* Awaits a future nobody completes, so only a cancel ends it. */
static int child_awaits_forever(void *arg, void **result) {
    hop_future_t *never = arg;
    int rc = hop_future_await(never, result);
    return rc;
}

static unsigned int release_cleanup;
static unsigned int cleanup_started;
/* After being cancelled, "cleans up" for as long as the test says. */
static int child_slow_cleanup(void *arg, void **result) {
    (void)result;
    int rc = hop_future_await(arg, NULL);
    __atomic_store_n(&cleanup_started, 1u, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&release_cleanup, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    return rc;
}

typedef struct {
    hop_group_t group;
    hop_executor_t *executor;
    hop_future_t never;
    int children;
    int rc;
    bool returned;
    hop_task_t *tasks[8];
    hop_task_state_t states_at_return[8];
} parent_t;

static void record_states(parent_t *p) {
    for (int i = 0; i < p->children; i++)
        p->states_at_return[i] = hop_task_state(p->tasks[i]);
}

static void *parent_ok_children(void *arg) {
    parent_t *p = arg;
    CHECK_OK(hop_group_init(&p->group));
    for (int i = 0; i < p->children; i++)
        CHECK_OK(hop_group_spawn(&p->group, p->executor, child_returns_arg, (void *)(intptr_t)(i + 1), NULL,
                                 &p->tasks[i]));
    p->rc = hop_group_wait(&p->group);
    record_states(p);
    p->returned = true;
    return NULL;
}

static void check_ok_children(parent_t *p) {
    cr_assert(p->returned);
    HOP_OK(p->rc);
    cr_assert_eq(hop_group_size(&p->group), (size_t)p->children);
    for (int i = 0; i < p->children; i++) {
        cr_assert_eq(p->states_at_return[i], HOP_TASK_DONE, "child %d was %s when wait returned", i,
                     hop_task_state_name(p->states_at_return[i]));
        void *result;
        hop_task_t *task;
        HOP_OK(hop_group_status(&p->group, (size_t)i, &result, &task));
        cr_assert_eq(result, (void *)(intptr_t)(i + 1));
        cr_assert_eq(task, p->tasks[i]);
        hop_task_unref(p->tasks[i]);
    }
    HOP_OK(hop_group_destroy(&p->group));
}

Test(group, wait_returns_once_every_child_on_the_manual_executor_has_finished) {
    parent_t p = {.executor = manual, .children = 5};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_ok_children, &p, NULL, &t));
    test_run_until_finished(manual, t);
    check_ok_children(&p);
    hop_task_unref(t);
    test_assert_checks();
}

Test(group, wait_returns_once_every_child_on_a_pool_has_finished) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    parent_t p = {.executor = hop_pool_executor(&pool), .children = 8};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), parent_ok_children, &p, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    check_ok_children(&p);
    hop_task_unref(t);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

Test(group, wait_returns_once_every_child_on_a_loop_has_finished) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    parent_t p = {.executor = hop_loop_executor(&loop), .children = 6};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), parent_ok_children, &p, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    check_ok_children(&p);
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

static void *parent_one_fails(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    hop_future_init(&p->never);
    for (int i = 0; i < 3; i++)
        CHECK_OK(
            hop_group_spawn(&p->group, p->executor, child_awaits_forever, &p->never, NULL, &p->tasks[i]));
    CHECK_OK(hop_group_spawn(&p->group, p->executor, child_fails_with_arg, (void *)(intptr_t)HOP_EBUSY, NULL,
                             &p->tasks[3]));
    p->children = 4;
    p->rc = hop_group_wait(&p->group);
    record_states(p);
    p->returned = true;
    return NULL;
}

Test(group, the_first_failure_cancels_suspended_siblings_and_wait_returns_that_error) {
    parent_t p = {.executor = manual};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_one_fails, &p, NULL, &t));
    test_run_until_finished(manual, t);
    cr_assert(p.returned);
    HOP_ERR(p.rc, HOP_EBUSY);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(p.states_at_return[i], HOP_TASK_CANCELLED, "sibling %d: %s", i,
                     hop_task_state_name(p.states_at_return[i]));
        HOP_ERR(hop_group_status(&p.group, (size_t)i, NULL, NULL), HOP_ECANCELED);
    }
    HOP_ERR(hop_group_status(&p.group, 3, NULL, NULL), HOP_EBUSY);
    cr_assert_null(p.never.waiters.head, "the cancelled siblings withdrew from the future");
    HOP_ERR(hop_group_spawn(&p.group, manual, child_returns_arg, NULL, NULL, NULL), HOP_ECLOSED);
    for (int i = 0; i < 4; i++)
        hop_task_unref(p.tasks[i]);
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

static int child_fails_later(void *arg, void **result) {
    (void)result;
    hop_future_t *go = arg;
    hop_future_await(go, NULL);
    return HOP_ETIMEDOUT;
}

static void *parent_several_fail(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    CHECK_OK(hop_group_spawn(&p->group, p->executor, child_fails_with_arg, (void *)(intptr_t)HOP_EBUSY, NULL,
                             NULL));
    p->rc = hop_group_wait(&p->group);
    p->returned = true;
    return NULL;
}

Test(group, a_child_that_fails_after_the_first_keeps_its_own_error) {
    hop_future_t go;
    hop_future_init(&go);
    parent_t p = {.executor = manual};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_several_fail, &p, NULL, &t));
    hop_manual_executor_run_one(manual); /* the parent spawns the first child and waits */
    /* A second child, spawned from outside before the failure is seen. */
    HOP_OK(hop_group_spawn(&p.group, manual, child_fails_later, &go, NULL, NULL));
    test_run_until_finished(manual, t);
    HOP_ERR(p.rc, HOP_EBUSY);
    cr_assert_eq(hop_group_size(&p.group), 2);
    HOP_ERR(hop_group_status(&p.group, 0, NULL, NULL), HOP_EBUSY);
    /* Cancelled by the first failure, it still returned an error of its own. */
    HOP_ERR(hop_group_status(&p.group, 1, NULL, NULL), HOP_ETIMEDOUT);
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

static void *parent_waits_on_slow_children(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    hop_future_init(&p->never);
    for (int i = 0; i < p->children; i++)
        CHECK_OK(hop_group_spawn(&p->group, p->executor, child_slow_cleanup, &p->never, NULL, &p->tasks[i]));
    p->rc = hop_group_wait(&p->group);
    record_states(p);
    __atomic_store_n(&p->returned, true, __ATOMIC_RELEASE);
    return NULL;
}

Test(group, cancelling_the_waiting_task_cancels_the_children_and_still_waits_for_them) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 3};
    HOP_OK(hop_pool_init(&pool, &options));
    parent_t p = {.executor = hop_pool_executor(&pool), .children = 2};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), parent_waits_on_slow_children, &p, NULL, &t));
    while (hop_task_state(t) != HOP_TASK_SUSPENDED || hop_group_size(&p.group) < 2 ||
           hop_task_state(p.tasks[0]) != HOP_TASK_SUSPENDED ||
           hop_task_state(p.tasks[1]) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
    HOP_OK(hop_task_cancel(t));
    while (!__atomic_load_n(&cleanup_started, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    test_sleep_ms(20);
    cr_assert_not(__atomic_load_n(&p.returned, __ATOMIC_ACQUIRE), "wait returned while a child still ran");
    __atomic_store_n(&release_cleanup, 1u, __ATOMIC_RELEASE);
    int finished = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    HOP_ERR(finished, HOP_ECANCELED);
    cr_assert(p.returned);
    HOP_ERR(p.rc, HOP_ECANCELED);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(p.states_at_return[i], HOP_TASK_CANCELLED);
        hop_task_unref(p.tasks[i]);
    }
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

static void *parent_cancelled_before_wait(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    hop_future_init(&p->never);
    for (int i = 0; i < p->children; i++)
        CHECK_OK(
            hop_group_spawn(&p->group, p->executor, child_awaits_forever, &p->never, NULL, &p->tasks[i]));
    hop_task_cancel(hop_task_current()); /* as if cancelled while busy before the wait */
    p->rc = hop_group_wait(&p->group);
    record_states(p);
    p->returned = true;
    return NULL;
}

Test(group, a_task_cancelled_before_it_waits_still_waits_for_its_cancelled_children) {
    parent_t p = {.executor = manual, .children = 3};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_cancelled_before_wait, &p, NULL, &t));
    test_run_until_finished(manual, t);
    cr_assert(p.returned);
    HOP_ERR(p.rc, HOP_ECANCELED);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(p.states_at_return[i], HOP_TASK_CANCELLED);
        hop_task_unref(p.tasks[i]);
    }
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

static void *parent_cancels_group(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    hop_future_init(&p->never);
    CHECK_OK(hop_group_spawn(&p->group, p->executor, child_awaits_forever, &p->never, NULL, &p->tasks[0]));
    CHECK_OK(hop_group_spawn(&p->group, p->executor, child_returns_arg, (void *)5, NULL, &p->tasks[1]));
    p->children = 2;
    hop_yield();
    CHECK_OK(hop_group_cancel(&p->group));
    p->rc = hop_group_wait(&p->group);
    record_states(p);
    p->returned = true;
    return NULL;
}

Test(group, group_cancel_cancels_the_children_and_wait_returns_zero) {
    parent_t p = {.executor = manual};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_cancels_group, &p, NULL, &t));
    test_run_until_finished(manual, t);
    HOP_OK(p.rc);
    cr_assert_eq(p.states_at_return[0], HOP_TASK_CANCELLED);
    HOP_ERR(hop_group_spawn(&p.group, manual, child_returns_arg, NULL, NULL, NULL), HOP_ECLOSED);
    for (int i = 0; i < 2; i++)
        hop_task_unref(p.tasks[i]);
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

static void *parent_empty(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    p->rc = hop_group_wait(&p->group);
    p->returned = true;
    return NULL;
}

Test(group, an_empty_group_returns_zero_at_once_and_then_refuses_children) {
    parent_t p = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_empty, &p, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert(p.returned);
    HOP_OK(p.rc);
    HOP_ERR(hop_group_spawn(&p.group, manual, child_returns_arg, NULL, NULL, NULL), HOP_ECLOSED);
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

/* A child that spawns a sibling into its own group while the parent waits. */
static hop_group_t *shared_group;
static int child_spawns_sibling(void *arg, void **result) {
    (void)result;
    int depth = (int)(intptr_t)arg;
    if (depth > 0)
        return hop_group_spawn(shared_group, hop_executor_current(), child_spawns_sibling,
                               (void *)(intptr_t)(depth - 1), NULL, NULL);
    return 0;
}

static void *parent_of_spawners(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    shared_group = &p->group;
    CHECK_OK(hop_group_spawn(&p->group, p->executor, child_spawns_sibling, (void *)(intptr_t)5, NULL, NULL));
    p->rc = hop_group_wait(&p->group);
    p->returned = true;
    return NULL;
}

Test(group, children_may_spawn_siblings_while_the_parent_waits) {
    parent_t p = {.executor = manual};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_of_spawners, &p, NULL, &t));
    test_run_until_finished(manual, t);
    HOP_OK(p.rc);
    cr_assert_eq(hop_group_size(&p.group), 6);
    for (size_t i = 0; i < 6; i++)
        HOP_OK(hop_group_status(&p.group, i, NULL, NULL));
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(t);
    test_assert_checks();
}

static unsigned int destroyed;
static void count_destroy(void *result) {
    (void)result;
    __atomic_fetch_add(&destroyed, 1u, __ATOMIC_ACQ_REL);
}

static void *parent_with_destructor(void *arg) {
    parent_t *p = arg;
    hop_group_init(&p->group);
    hop_task_options_t options = {.result_destructor = count_destroy, .name = "child"};
    for (int i = 0; i < 3; i++)
        CHECK_OK(hop_group_spawn(&p->group, p->executor, child_returns_arg, (void *)(intptr_t)(i + 1),
                                 &options, NULL));
    p->rc = hop_group_wait(&p->group);
    return NULL;
}

Test(group, destroy_releases_every_child_task_and_its_result) {
    parent_t p = {.executor = manual};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_with_destructor, &p, NULL, &t));
    test_run_until_finished(manual, t);
    HOP_OK(p.rc);
    cr_assert_eq(__atomic_load_n(&destroyed, __ATOMIC_ACQUIRE), 0u, "results live until destroy");
    void *result;
    HOP_OK(hop_group_status(&p.group, 2, &result, NULL));
    cr_assert_eq(result, (void *)3);
    HOP_OK(hop_group_destroy(&p.group));
    cr_assert_eq(__atomic_load_n(&destroyed, __ATOMIC_ACQUIRE), 3u);
    hop_task_unref(t);
    test_assert_checks();
}

static int child_waits_own_group(void *arg, void **result) {
    (void)result;
    return hop_group_wait(arg);
}

static void *second_waiter(void *arg) {
    parent_t *p = arg;
    p->rc = hop_group_wait(&p->group);
    return NULL;
}

Test(group, bad_calls_are_rejected) {
    HOP_ERR(hop_group_init(NULL), HOP_EINVAL);
    hop_group_t g;
    HOP_OK(hop_group_init(&g));
    HOP_ERR(hop_group_spawn(NULL, manual, child_returns_arg, NULL, NULL, NULL), HOP_EINVAL);
    hop_task_t *task = (hop_task_t *)1;
    HOP_ERR(hop_group_spawn(&g, NULL, child_returns_arg, NULL, NULL, &task), HOP_EINVAL);
    cr_assert_null(task);
    HOP_ERR(hop_group_spawn(&g, manual, NULL, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_group_wait(NULL), HOP_EINVAL);
    HOP_ERR(hop_group_wait(&g), HOP_ENOTTASK);
    HOP_ERR(hop_group_status(NULL, 0, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_group_status(&g, 0, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_group_cancel(NULL), HOP_EINVAL);
    HOP_ERR(hop_group_destroy(NULL), HOP_EINVAL);
    cr_assert_eq(hop_group_size(NULL), 0);

    /* A child waiting for its own group would wait for itself. */
    HOP_OK(hop_group_spawn(&g, manual, child_waits_own_group, &g, NULL, &task));
    hop_manual_executor_run_all(manual, 0);
    void *unused;
    HOP_ERR(hop_group_status(&g, 0, &unused, NULL), HOP_EDEADLK);
    hop_task_unref(task);
    HOP_OK(hop_group_destroy(&g));
    test_assert_checks();
}

Test(group, a_second_concurrent_waiter_and_an_early_destroy_are_refused) {
    parent_t p = {.executor = manual, .children = 1};
    hop_group_init(&p.group);
    hop_future_init(&p.never);
    HOP_OK(hop_group_spawn(&p.group, manual, child_awaits_forever, &p.never, NULL, NULL));
    hop_task_t *first, *second;
    HOP_OK(hop_task_spawn(manual, second_waiter, &p, NULL, &first));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(first), HOP_TASK_SUSPENDED);
    HOP_OK(hop_task_spawn(manual, second_waiter, &p, NULL, &second));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(p.rc, HOP_EBUSY);
    HOP_ERR(hop_group_destroy(&p.group), HOP_EBUSY);
    HOP_OK(hop_future_set_result(&p.never, NULL));
    test_run_until_finished(manual, first);
    HOP_OK(p.rc);
    HOP_OK(hop_group_destroy(&p.group));
    hop_task_unref(first);
    hop_task_unref(second);
    test_assert_checks();
}

/* The stress: rounds of a pool parent with children that succeed, fail or
 * await forever, while the test thread may cancel the parent. Each round
 * checks that the wait returned only after every child had finished, with
 * the right answer, and that nothing leaked (the stack counters). */
enum { STRESS_CHILDREN = 6 };

typedef struct {
    hop_group_t group;
    hop_executor_t *executor;
    hop_future_t never;
    int fail_at; /* child index that fails, or -1 */
    int rc;
    bool returned;
    bool all_finished_at_return;
} stress_parent_t;

static int stress_child(void *arg, void **result) {
    (void)result;
    intptr_t kind = (intptr_t)arg;
    if (kind == 0)
        return hop_yield() == HOP_ECANCELED ? HOP_ECANCELED : 0;
    return HOP_EBUSY;
}

static hop_future_t *stress_never;
static int stress_child_forever(void *arg, void **result) {
    (void)arg;
    return hop_future_await(stress_never, result);
}

static void *stress_parent(void *arg) {
    stress_parent_t *p = arg;
    hop_group_init(&p->group);
    for (int i = 0; i < STRESS_CHILDREN; i++) {
        int err;
        if (i == p->fail_at)
            err = hop_group_spawn(&p->group, p->executor, stress_child, (void *)(intptr_t)1, NULL, NULL);
        else if (i % 2 && p->fail_at >= 0)
            err = hop_group_spawn(&p->group, p->executor, stress_child_forever, NULL, NULL, NULL);
        else
            err = hop_group_spawn(&p->group, p->executor, stress_child, (void *)(intptr_t)0, NULL, NULL);
        if (err != 0 && err != HOP_ECLOSED)
            return (void *)(intptr_t)err;
    }
    p->rc = hop_group_wait(&p->group);
    bool all = true;
    for (size_t i = 0; i < hop_group_size(&p->group); i++) {
        hop_task_t *task;
        hop_group_status(&p->group, i, NULL, &task);
        hop_task_state_t s = hop_task_state(task);
        all = all && (s == HOP_TASK_DONE || s == HOP_TASK_CANCELLED);
    }
    p->all_finished_at_return = all;
    p->returned = true;
    hop_group_destroy(&p->group);
    return NULL;
}

Test(group, failures_and_cancels_racing_children_on_a_pool_never_leave_a_child_behind, .timeout = 280) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_future_t never;
    hop_future_init(&never);
    stress_never = &never;
    unsigned int seed = 777;
    int cancelled = 0, failed = 0;
    for (int n = 0; n < 3000; n++) {
        stress_parent_t *p = calloc(1, sizeof *p);
        p->executor = hop_pool_executor(&pool);
        p->fail_at = (int)(rand_r(&seed) % (STRESS_CHILDREN + 2)) - 2; /* -2, -1: no failure */
        if (p->fail_at < 0)
            p->fail_at = -1;
        bool cancel = p->fail_at < 0 ? false : (rand_r(&seed) % 2) == 0;
        if (p->fail_at < 0 && rand_r(&seed) % 3 == 0)
            cancel = true;
        hop_task_t *t;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), stress_parent, p, NULL, &t));
        if (cancel) {
            /* Half the time, once the parent is (probably) in its wait. */
            for (int spin = 0; rand_r(&seed) % 2 && spin < 2000 && hop_task_state(t) != HOP_TASK_SUSPENDED;
                 spin++)
                test_sleep_ms(0);
            hop_task_cancel(t);
        }
        int finished = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        cr_assert(finished == 0 || finished == HOP_ECANCELED);
        void *err = NULL;
        if (finished == 0) {
            hop_future_result(hop_task_future(t), &err);
            cr_assert_null(err, "round %d: a spawn failed with %s", n, hop_err_name((int)(intptr_t)err));
            cr_assert(p->returned);
        }
        if (p->returned) {
            cr_assert(p->all_finished_at_return, "round %d: wait returned with a child running", n);
            if (p->rc == HOP_ECANCELED)
                cancelled++;
            else if (p->fail_at >= 0) {
                HOP_ERR(p->rc, HOP_EBUSY);
                failed++;
            } else {
                HOP_OK(p->rc);
            }
        }
        if (!cancel)
            cr_assert_eq(finished, 0);
        hop_task_unref(t);
        free(p);
    }
    HOP_OK(hop_pool_close(&pool));
    cr_assert_gt(failed, 0);
    cr_assert_gt(cancelled, 0);
    hop_stack_stats_t stats;
    hop_stack_stats(&stats);
    cr_assert_eq(stats.in_use, 0, "every child task was released");
    test_assert_checks();
}
