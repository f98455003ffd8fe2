/* tests/test_once.c: one-time async initialisation (src/sync/once.c).
 *
 * Who runs init and who waits, on a manual executor run by the test thread
 * (init awaits a future the test completes, so waiters can pile up at
 * will); a hundred pool tasks at once; failures and retries; cancellation
 * of waiters and of the task running init; and a stress mixing all three. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include <hop/once.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(once, .init = setup, .fini = teardown, .timeout = 60);


#define VALUE(i) ((void *)(uintptr_t)(i))

/* ---- callers ---- */

typedef struct caller_s caller_t;
struct caller_s {
    hop_once_t *once;
    int id;
    unsigned int *runs; /* init runs, all callers together (atomic) */
    hop_future_t *gate; /* if set, init awaits it: its error fails init */
    int fail_with;      /* if negative, init fails with it (after the gate) */
    int init_await_rc;  /* what init's await of the gate returned */
    bool ran_init;
    int rc;
    void *value;
};

static int caller_init(void *arg, void **value) {
    caller_t *c = arg;
    c->ran_init = true;
    test_add_uint(c->runs, 1);
    if (c->gate) {
        void *v = NULL;
        c->init_await_rc = hop_future_await(c->gate, &v);
        if (c->init_await_rc < 0)
            return c->init_await_rc;
    }
    if (c->fail_with < 0)
        return c->fail_with;
    *value = VALUE(1000 + c->id);
    return 0;
}

static void *call_task(void *arg) {
    caller_t *c = arg;
    c->rc = hop_once_call(c->once, caller_init, c, &c->value);
    return NULL;
}

static void caller_setup(caller_t *c, hop_once_t *once, int id, unsigned int *runs) {
    *c = (caller_t){.once = once, .id = id, .runs = runs, .rc = 1};
}

Test(once, the_first_caller_runs_init_in_its_own_task_and_gets_its_value) {
    hop_once_t o;
    HOP_OK(hop_once_init(&o));
    cr_assert_not(hop_once_is_done(&o));
    unsigned int runs = 0;
    caller_t c;
    caller_setup(&c, &o, 1, &runs);
    hop_task_t *t = test_spawn(manual, call_task, &c);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(c.rc);
    cr_assert(c.ran_init);
    cr_assert_eq(c.value, VALUE(1001));
    cr_assert_eq(runs, 1);
    cr_assert(hop_once_is_done(&o));
    hop_task_unref(t);
}

Test(once, later_calls_return_the_value_without_running_init_even_from_a_plain_thread) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    caller_t a, b;
    caller_setup(&a, &o, 1, &runs);
    caller_setup(&b, &o, 2, &runs);
    hop_task_t *ta = test_spawn(manual, call_task, &a);
    hop_manual_executor_run_all(manual, 0);
    hop_task_t *tb = test_spawn(manual, call_task, &b);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(b.rc);
    cr_assert_not(b.ran_init);
    cr_assert_eq(b.value, VALUE(1001), "the first caller's value");
    void *v = NULL;
    HOP_OK(hop_once_call(&o, caller_init, &b, &v)); /* the test thread: no task */
    cr_assert_eq(v, VALUE(1001));
    HOP_OK(hop_once_call(&o, caller_init, &b, NULL));
    cr_assert_eq(runs, 1);
    hop_task_unref(ta);
    hop_task_unref(tb);
}

Test(once, tasks_arriving_while_init_runs_wait_for_it_and_all_get_its_value) {
    enum { N = 6 };
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        caller_setup(&c[i], &o, i, &runs);
        c[i].gate = &gate;
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(runs, 1, "init started once");
    for (int i = 0; i < N; i++)
        cr_assert_eq(hop_task_state(t[i]), HOP_TASK_SUSPENDED, "caller %d waits", i);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        HOP_OK(c[i].rc);
        cr_assert_eq(c[i].value, VALUE(1000), "caller %d got the value of caller 0's init", i);
        cr_assert_eq(c[i].ran_init, i == 0);
        hop_task_unref(t[i]);
    }
    cr_assert_eq(runs, 1);
}

/* ---- a hundred pool tasks ---- */

static void *slow_blocking_work(void *arg) {
    test_sleep_ms(20);
    return arg;
}

typedef struct {
    hop_executor_t *blocking;
    unsigned int runs;
} offload_init_t;

static int init_with_offload(void *arg, void **value) {
    offload_init_t *o = arg;
    test_add_uint(&o->runs, 1);
    return hop_run_in_executor(o->blocking, slow_blocking_work, VALUE(77), value);
}

typedef struct {
    hop_once_t *once;
    offload_init_t *init;
    unsigned int *start; /* all callers spin here, then call together */
    int rc;
    void *value;
} pool_caller_t;

static void *pool_call(void *arg) {
    pool_caller_t *c = arg;
    while (!test_load_uint(c->start))
        hop_yield();
    c->rc = hop_once_call(c->once, init_with_offload, c->init, &c->value);
    return NULL;
}

Test(once, a_hundred_pool_tasks_calling_at_once_run_an_awaiting_init_exactly_once, .timeout = 120) {
    enum { N = 100 };
    hop_pool_t pool, blocking;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_pool_options_t blocking_options = {.threads = 1, .spin_us = HOP_SPIN_NEVER};
    HOP_OK(hop_pool_init(&blocking, &blocking_options));
    hop_once_t o = HOP_ONCE_INIT;
    offload_init_t init = {.blocking = hop_pool_executor(&blocking)};
    unsigned int start = 0;
    pool_caller_t *c = calloc(N, sizeof *c);
    hop_task_t **t = calloc(N, sizeof *t);
    for (int i = 0; i < N; i++) {
        c[i] = (pool_caller_t){.once = &o, .init = &init, .start = &start, .rc = 1};
        t[i] = test_spawn(hop_pool_executor(&pool), pool_call, &c[i]);
    }
    test_store_uint(&start, 1);
    for (int i = 0; i < N; i++) {
        HOP_OK(test_join(t[i]));
        EXPECT_RC(c[i].rc, 0, "caller %d", i);
        cr_assert_eq(c[i].value, VALUE(77), "caller %d", i);
    }
    cr_assert_eq(init.runs, 1, "init ran %u times", init.runs);
    free(c);
    free(t);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_pool_close(&blocking));
}

/* ---- failure and retry ---- */

Test(once, a_failed_init_returns_its_error_to_its_caller_only_and_the_longest_waiter_runs_its_own_init) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[3];
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++) {
        caller_setup(&c[i], &o, i, &runs);
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    c[0].gate = &gate;
    c[0].fail_with = HOP_EAGAIN;
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(runs, 1);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c[0].rc, HOP_EAGAIN);
    cr_assert(c[1].ran_init, "the longest waiter took the turn");
    HOP_OK(c[1].rc);
    cr_assert_eq(c[1].value, VALUE(1001));
    cr_assert_not(c[2].ran_init);
    HOP_OK(c[2].rc);
    cr_assert_eq(c[2].value, VALUE(1001), "the others got the retry's value");
    cr_assert_eq(runs, 2);
    cr_assert(hop_once_is_done(&o));
    for (int i = 0; i < 3; i++)
        hop_task_unref(t[i]);
}

Test(once, a_failed_init_with_nobody_waiting_is_retried_by_the_next_call) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    caller_t a, b;
    caller_setup(&a, &o, 1, &runs);
    a.fail_with = HOP_ENOMEM;
    caller_setup(&b, &o, 2, &runs);
    hop_task_t *ta = test_spawn(manual, call_task, &a);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(a.rc, HOP_ENOMEM);
    cr_assert_null(a.value, "untouched on failure");
    cr_assert_not(hop_once_is_done(&o));
    hop_task_t *tb = test_spawn(manual, call_task, &b);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(b.rc);
    cr_assert(b.ran_init);
    cr_assert_eq(b.value, VALUE(1002));
    cr_assert_eq(runs, 2);
    hop_task_unref(ta);
    hop_task_unref(tb);
}

Test(once, when_init_keeps_failing_each_waiter_tries_once_and_gets_its_own_error) {
    enum { N = 5 };
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        caller_setup(&c[i], &o, i, &runs);
        c[i].fail_with = -100 - i; /* each caller's own error */
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    c[0].gate = &gate;
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        cr_assert(c[i].ran_init);
        cr_assert_eq(c[i].rc, -100 - i, "caller %d got %d", i, c[i].rc);
        hop_task_unref(t[i]);
    }
    cr_assert_eq(runs, N);
    cr_assert_not(hop_once_is_done(&o));
}

/* ---- errors ---- */

static int reenter_init(void *arg, void **value) {
    caller_t *c = arg;
    c->init_await_rc = hop_once_call(c->once, reenter_init, c, value);
    return c->init_await_rc;
}

static void *call_reentrant(void *arg) {
    caller_t *c = arg;
    c->rc = hop_once_call(c->once, reenter_init, c, &c->value);
    return NULL;
}

Test(once, calling_from_inside_init_on_the_same_once_returns_edeadlk) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    caller_t c;
    caller_setup(&c, &o, 1, &runs);
    hop_task_t *t = test_spawn(manual, call_reentrant, &c);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "no self-deadlock");
    HOP_ERR(c.init_await_rc, HOP_EDEADLK);
    HOP_ERR(c.rc, HOP_EDEADLK);
    cr_assert_not(hop_once_is_done(&o), "the failed init left it free to retry");
    hop_task_unref(t);
}

Test(once, bad_arguments_return_einval_and_a_plain_thread_before_init_gets_enottask) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    caller_t c;
    caller_setup(&c, &o, 1, &runs);
    HOP_ERR(hop_once_init(NULL), HOP_EINVAL);
    HOP_ERR(hop_once_call(NULL, caller_init, &c, NULL), HOP_EINVAL);
    HOP_ERR(hop_once_call(&o, NULL, &c, NULL), HOP_EINVAL);
    cr_assert_not(hop_once_is_done(NULL));
    HOP_ERR(hop_once_call(&o, caller_init, &c, NULL), HOP_ENOTTASK);
    cr_assert_eq(runs, 0, "init did not run on the plain thread");
}

Test(once, zero_filled_storage_is_a_fresh_once) {
    static hop_once_t o; /* static storage: all zero */
    unsigned int runs = 0;
    caller_t c;
    caller_setup(&c, &o, 3, &runs);
    hop_task_t *t = test_spawn(manual, call_task, &c);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(c.rc);
    cr_assert_eq(c.value, VALUE(1003));
    hop_task_unref(t);
}

/* ---- cancellation ---- */

static void *cancel_thread(void *arg) {
    hop_task_cancel(arg);
    return NULL;
}

static void cancel_on_plain_thread(hop_task_t *task) {
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_thread, task);
    pthread_join(thread, NULL);
}

Test(once, a_waiter_cancelled_from_a_plain_thread_gets_ecanceled_and_the_others_still_get_the_value) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[3];
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++) {
        caller_setup(&c[i], &o, i, &runs);
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    c[0].gate = &gate;
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(t[1]);
    test_run_until_finished(manual, t[1]);
    HOP_ERR(c[1].rc, HOP_ECANCELED);
    cr_assert_null(c[1].value);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(c[0].rc);
    HOP_OK(c[2].rc);
    cr_assert_eq(c[2].value, VALUE(1000));
    cr_assert_eq(runs, 1);
    for (int i = 0; i < 3; i++)
        hop_task_unref(t[i]);
}

Test(once, cancelling_the_task_running_init_fails_it_with_ecanceled_and_the_next_waiter_takes_over) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[3];
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++) {
        caller_setup(&c[i], &o, i, &runs);
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    c[0].gate = &gate; /* the runner waits here when it is cancelled */
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(t[0]);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c[0].init_await_rc, HOP_ECANCELED);
    HOP_ERR(c[0].rc, HOP_ECANCELED);
    cr_assert(c[1].ran_init, "the longest waiter ran init next");
    HOP_OK(c[1].rc);
    HOP_OK(c[2].rc);
    cr_assert_eq(c[2].value, VALUE(1001));
    cr_assert_eq(runs, 2);
    for (int i = 0; i < 3; i++)
        hop_task_unref(t[i]);
}

Test(once, a_waiter_handed_the_turn_after_it_was_cancelled_passes_it_on_without_running_init) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    HOP_OK(hop_future_init(&gate));
    caller_t c[3];
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++) {
        caller_setup(&c[i], &o, i, &runs);
        t[i] = test_spawn(manual, call_task, &c[i]);
    }
    c[0].gate = &gate;
    c[0].fail_with = HOP_EAGAIN;
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&gate, NULL));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1, "the runner fails and hands the turn to caller 1");
    HOP_ERR(c[0].rc, HOP_EAGAIN);
    cancel_on_plain_thread(t[1]); /* caller 1 has the turn but has not run yet */
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c[1].rc, HOP_ECANCELED);
    cr_assert_not(c[1].ran_init, "a cancelled task does not start init");
    cr_assert(c[2].ran_init, "the turn went on to caller 2");
    HOP_OK(c[2].rc);
    cr_assert_eq(c[2].value, VALUE(1002));
    for (int i = 0; i < 3; i++)
        hop_task_unref(t[i]);
}

/* ---- stress: failures and cancels mixed ---- */

typedef struct {
    hop_once_t *once;
    unsigned int *successes; /* inits that succeeded (atomic) */
    unsigned int *start;
    int id;
    bool fail;
    int rc;
    void *value;
} mixed_t;

static int mixed_init(void *arg, void **value) {
    mixed_t *m = arg;
    for (int i = 0; i < 10; i++) {
        int rc = hop_yield(); /* awaits inside init: cancels land here */
        if (rc < 0)
            return rc;
    }
    if (m->fail)
        return -1000 - m->id;
    test_add_uint(m->successes, 1);
    *value = VALUE(5000 + m->id);
    return 0;
}

static void *mixed_call(void *arg) {
    mixed_t *m = arg;
    while (!test_load_uint(m->start))
        hop_yield();
    m->rc = hop_once_call(m->once, mixed_init, m, &m->value);
    return NULL;
}

Test(once, many_rounds_of_callers_with_failing_inits_and_cancels_each_end_consistently, .timeout = 240) {
    enum { ROUNDS = 200, N = 24 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    unsigned int seed = 5, total_cancelled = 0, total_failed = 0;
    for (int round = 0; round < ROUNDS; round++) {
        hop_once_t o = HOP_ONCE_INIT;
        unsigned int successes = 0, start = 0;
        mixed_t m[N];
        hop_task_t *t[N];
        for (int i = 0; i < N; i++) {
            m[i] = (mixed_t){.once = &o,
                             .successes = &successes,
                             .start = &start,
                             .id = i,
                             .rc = 1,
                             .fail = rand_r(&seed) % 3 == 0};
            t[i] = test_spawn(hop_pool_executor(&pool), mixed_call, &m[i]);
        }
        test_store_uint(&start, 1);
        /* Let most callers get into hop_once_call first: then the cancels
         * hit the runner inside init and waiters in the queue. */
        for (int i = 0; i < N; i++)
            while (hop_task_state(t[i]) == HOP_TASK_CREATED)
                sched_yield();
        for (int i = 0; i < N; i += 5)
            hop_task_cancel(t[i]);
        void *winner = NULL;
        for (int i = 0; i < N; i++) {
            test_join(t[i]);
            if (m[i].rc == 0) {
                if (!winner)
                    winner = m[i].value;
                cr_assert_eq(m[i].value, winner, "round %d: caller %d saw another value", round, i);
            } else if (m[i].rc == 1) {
                cr_assert_eq(i % 5, 0, "round %d: caller %d never ran but was not cancelled", round, i);
            } else if (m[i].rc == HOP_ECANCELED) {
                total_cancelled++;
                cr_assert_eq(i % 5, 0, "round %d: caller %d was not cancelled", round, i);
            } else {
                total_failed++;
                cr_assert_eq(m[i].rc, -1000 - i, "round %d: caller %d got %d, not its own error", round, i,
                             m[i].rc);
            }
        }
        cr_assert_leq(successes, 1, "round %d: init succeeded %u times", round, successes);
        cr_assert_eq(winner != NULL, successes == 1, "round %d: a value without a success, or the reverse",
                     round);
        cr_assert_eq(hop_once_is_done(&o), successes == 1);
    }
    HOP_OK(hop_pool_close(&pool));
    cr_log_info("once stress: %u cancelled calls, %u failed inits", total_cancelled, total_failed);
}

Test(once, a_reset_hands_back_the_value_and_the_next_call_runs_init_again) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    caller_t a, b;
    caller_setup(&a, &o, 1, &runs);
    caller_setup(&b, &o, 2, &runs);
    void *old = VALUE(7);
    HOP_ERR(hop_once_reset(&o, &old), HOP_EALREADY);
    cr_assert_eq(old, VALUE(7), "a refused reset leaves *old_value alone");
    hop_task_t *ta = test_spawn(manual, call_task, &a);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(a.rc);
    HOP_OK(hop_once_reset(&o, &old));
    cr_assert_eq(old, VALUE(1001), "the value of the init that had succeeded");
    cr_assert_not(hop_once_is_done(&o));
    HOP_ERR(hop_once_reset(&o, NULL), HOP_EALREADY);
    hop_task_t *tb = test_spawn(manual, call_task, &b);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(b.rc);
    cr_assert(b.ran_init, "init ran again after the reset");
    cr_assert_eq(b.value, VALUE(1002));
    cr_assert_eq(runs, 2);
    cr_assert(hop_once_is_done(&o));
    HOP_ERR(hop_once_reset(NULL, NULL), HOP_EINVAL);
    hop_task_unref(ta);
    hop_task_unref(tb);
}

Test(once, a_reset_while_init_runs_is_refused_with_ebusy_and_the_init_stands) {
    hop_once_t o = HOP_ONCE_INIT;
    unsigned int runs = 0;
    hop_future_t gate;
    hop_future_init(&gate);
    caller_t a;
    caller_setup(&a, &o, 1, &runs);
    a.gate = &gate;
    hop_task_t *ta = test_spawn(manual, call_task, &a);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(ta), HOP_TASK_SUSPENDED, "init waits at its gate");
    HOP_ERR(hop_once_reset(&o, NULL), HOP_EBUSY);
    HOP_OK(hop_future_set_result(&gate, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(a.rc);
    cr_assert(hop_once_is_done(&o));
    hop_task_unref(ta);
}
