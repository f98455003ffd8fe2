/* tests/test_event.c: the async event (src/sync/event.c).
 *
 * Ordering and error cases on a manual executor run by the test thread;
 * cross-thread wake-ups between plain threads, a loop and a pool; a
 * ping-pong that hangs on any lost wake-up; and set racing cancel. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include <hop/event.h>

#include "core/sanitizer.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(event, .init = setup, .fini = teardown, .timeout = 60);


typedef struct {
    hop_event_t *event;
    int rc;
    unsigned int returned; /* how many times the wait returned (atomic) */
} waiter_t;

static void *wait_task(void *arg) {
    waiter_t *w = arg;
    w->rc = hop_event_wait(w->event);
    test_add_uint(&w->returned, 1);
    return NULL;
}

static void waiter_init(waiter_t *w, hop_event_t *event) { *w = (waiter_t){.event = event, .rc = 1}; }

Test(event, a_new_event_is_clear) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    cr_assert_not(hop_event_is_set(&e));
    HOP_OK(hop_event_destroy(&e));
}

Test(event, waiting_on_a_set_event_returns_at_once_without_suspending) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    HOP_OK(hop_event_set(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_task, &w);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    HOP_OK(w.rc);
    hop_task_unref(t);
}

Test(event, set_wakes_every_waiting_task_and_the_event_stays_set) {
    enum { N = 10 };
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        waiter_init(&w[i], &e);
        t[i] = test_spawn(manual, wait_task, &w[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++)
        cr_assert_eq(hop_task_state(t[i]), HOP_TASK_SUSPENDED, "waiter %d waits", i);
    HOP_OK(hop_event_set(&e));
    cr_assert_eq(hop_manual_executor_pending(manual), N, "one resumption per waiter");
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < N; i++) {
        HOP_OK(w[i].rc);
        cr_assert_eq(w[i].returned, 1);
        hop_task_unref(t[i]);
    }
    cr_assert(hop_event_is_set(&e));
    HOP_OK(hop_event_destroy(&e));
}

Test(event, setting_a_set_event_again_changes_nothing) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    HOP_OK(hop_event_set(&e));
    HOP_OK(hop_event_set(&e));
    cr_assert(hop_event_is_set(&e));
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
}

Test(event, clear_makes_later_waits_suspend_until_the_next_set) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    HOP_OK(hop_event_set(&e));
    HOP_OK(hop_event_clear(&e));
    cr_assert_not(hop_event_is_set(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_task, &w);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_event_set(&e));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(w.rc);
    hop_task_unref(t);
}

Test(event, a_waiter_woken_by_set_returns_0_even_if_the_event_is_cleared_before_it_runs) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_task, &w);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_event_set(&e));
    HOP_OK(hop_event_clear(&e));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(w.rc);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    hop_task_unref(t);
}

/* Sets the event once every waiter is suspended on it: the wake-up path. */
typedef struct {
    hop_event_t *event;
    hop_task_t **waiters;
    int n;
} setter_t;

static void *set_later(void *arg) {
    setter_t *s = arg;
    for (int i = 0; i < s->n; i++)
        test_wait_suspended(s->waiters[i]);
    CHECK_OK(hop_event_set(s->event));
    return NULL;
}

Test(event, set_from_a_plain_thread_wakes_a_loop_task_and_pool_tasks) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w[5];
    hop_task_t *t[5];
    for (int i = 0; i < 5; i++) {
        waiter_init(&w[i], &e);
        t[i] = test_spawn(i == 0 ? hop_loop_executor(&loop) : hop_pool_executor(&pool), wait_task, &w[i]);
    }
    pthread_t thread;
    setter_t setter = {.event = &e, .waiters = t, .n = 5};
    pthread_create(&thread, NULL, set_later, &setter);
    pthread_join(thread, NULL);
    for (int i = 0; i < 5; i++) {
        HOP_OK(test_join(t[i]));
        HOP_OK(w[i].rc);
    }
    test_assert_checks();
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_event_destroy(&e));
}

Test(event, wait_outside_a_task_returns_enottask_but_set_and_clear_work_anywhere) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    HOP_ERR(hop_event_wait(&e), HOP_ENOTTASK);
    HOP_OK(hop_event_set(&e));
    HOP_ERR(hop_event_wait(&e), HOP_ENOTTASK);
    HOP_OK(hop_event_clear(&e));
}

Test(event, null_uninitialised_and_destroyed_events_return_einval) {
    HOP_ERR(hop_event_init(NULL), HOP_EINVAL);
    HOP_ERR(hop_event_set(NULL), HOP_EINVAL);
    HOP_ERR(hop_event_clear(NULL), HOP_EINVAL);
    HOP_ERR(hop_event_wait(NULL), HOP_EINVAL);
    HOP_ERR(hop_event_destroy(NULL), HOP_EINVAL);
    cr_assert_not(hop_event_is_set(NULL));
    hop_event_t zeroed = {0};
    HOP_ERR(hop_event_set(&zeroed), HOP_EINVAL);
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    HOP_OK(hop_event_destroy(&e));
    HOP_ERR(hop_event_set(&e), HOP_EINVAL);
    HOP_ERR(hop_event_wait(&e), HOP_EINVAL);
    HOP_ERR(hop_event_destroy(&e), HOP_EINVAL);
}

Test(event, destroy_returns_ebusy_while_tasks_wait) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_task, &w);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(hop_event_destroy(&e), HOP_EBUSY);
    HOP_OK(hop_event_set(&e));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(w.rc);
    HOP_OK(hop_event_destroy(&e));
    hop_task_unref(t);
}

static hop_event_t static_event = HOP_EVENT_INIT;

Test(event, an_event_from_the_static_initialiser_is_clear_and_usable) {
    cr_assert_not(hop_event_is_set(&static_event));
    HOP_OK(hop_event_set(&static_event));
    cr_assert(hop_event_is_set(&static_event));
    HOP_OK(hop_event_clear(&static_event));
}

/* ---- ping-pong: any lost wake-up hangs it ---- */

typedef struct {
    hop_event_t ping, pong;
    int rounds;
    unsigned int errors;
} pingpong_t;

static void *pinger(void *arg) {
    pingpong_t *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        if (hop_event_set(&p->ping) || hop_event_wait(&p->pong) || hop_event_clear(&p->pong))
            test_add_uint(&p->errors, 1);
    }
    return NULL;
}

static void *ponger(void *arg) {
    pingpong_t *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        if (hop_event_wait(&p->ping) || hop_event_clear(&p->ping) || hop_event_set(&p->pong))
            test_add_uint(&p->errors, 1);
    }
    return NULL;
}

Test(event, a_loop_task_and_a_pool_task_ping_pong_ten_thousand_times_without_a_lost_wakeup, .timeout = 120) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    pingpong_t p = {.rounds = 10000};
    HOP_OK(hop_event_init(&p.ping));
    HOP_OK(hop_event_init(&p.pong));
    hop_task_t *a = test_spawn(hop_loop_executor(&loop), pinger, &p);
    hop_task_t *b = test_spawn(hop_pool_executor(&pool), ponger, &p);
    HOP_OK(test_join(a));
    HOP_OK(test_join(b));
    cr_assert_eq(p.errors, 0);
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
}

/* ---- interrupts ---- */

static void *cancel_thread(void *arg) {
    hop_task_cancel(arg);
    return NULL;
}

static void cancel_on_plain_thread(hop_task_t *task) {
    pthread_t thread;
    pthread_create(&thread, NULL, cancel_thread, task);
    pthread_join(thread, NULL);
}

Test(event, a_waiter_cancelled_from_a_plain_thread_resumes_with_ecanceled_and_set_still_wakes_the_rest) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w[3];
    hop_task_t *t[3];
    for (int i = 0; i < 3; i++) {
        waiter_init(&w[i], &e);
        t[i] = test_spawn(manual, wait_task, &w[i]);
    }
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(t[1]);
    test_run_until_finished(manual, t[1]);
    HOP_ERR(w[1].rc, HOP_ECANCELED);
    cr_assert_eq(hop_task_state(t[0]), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_task_state(t[2]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_event_set(&e));
    cr_assert_eq(hop_manual_executor_pending(manual), 2, "the withdrawn waiter is not woken again");
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(w[0].rc);
    HOP_OK(w[2].rc);
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(w[i].returned, 1);
        hop_task_unref(t[i]);
    }
    EXPECT_RC(hop_event_destroy(&e), 0, "no waiter record left behind");
}

Test(event, a_waiter_cancelled_after_the_set_reached_it_returns_0) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_task, &w);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_event_set(&e));
    cancel_on_plain_thread(t);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(w.rc);
    cr_assert_eq(w.returned, 1);
    hop_task_unref(t);
}

static void *wait_under_deadline(void *arg) {
    waiter_t *w = arg;
    hop_deadline_t deadline;
    if (hop_deadline_enter(&deadline, 30) != 0)
        return NULL;
    w->rc = hop_event_wait(w->event);
    hop_deadline_leave(&deadline);
    return NULL;
}

Test(event, a_deadline_cuts_a_wait_short_with_etimedout) {
    hop_event_t e;
    HOP_OK(hop_event_init(&e));
    waiter_t w;
    waiter_init(&w, &e);
    hop_task_t *t = test_spawn(manual, wait_under_deadline, &w);
    test_run_until_finished(manual, t);
    HOP_ERR(w.rc, HOP_ETIMEDOUT);
    EXPECT_RC(hop_event_destroy(&e), 0, "the timed-out waiter left the list");
    hop_task_unref(t);
}

/* ---- set racing cancel ---- */

typedef struct {
    hop_event_t *event;
    hop_task_t *task;
    unsigned int go;
    unsigned int spin;
    bool canceller;
} racer_t;

static void *race_on_go(void *arg) {
    racer_t *r = arg;
    while (!test_load_uint(&r->go))
        ;
    for (volatile unsigned int i = 0; i < r->spin; i++)
        ;
    if (r->canceller)
        hop_task_cancel(r->task);
    else
        hop_event_set(r->event);
    return NULL;
}

/* 3,000 rounds; ThreadSanitizer runs them some ten times slower, and with
 * the racers spinning on two cores a loaded machine slower still: there
 * 300 rounds race the same way within the test's timeout. */
#define SET_CANCEL_ROUNDS (HOP__TSAN ? 300 : 3000)

Test(event, set_racing_cancel_resumes_each_waiter_exactly_once_with_0_or_ecanceled, .timeout = 240) {
    enum { ITERATIONS = SET_CANCEL_ROUNDS, WAITERS = 3 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    unsigned int seed = 7, woken = 0, cancelled = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        hop_event_t e;
        HOP_OK(hop_event_init(&e));
        waiter_t w[WAITERS];
        hop_task_t *t[WAITERS];
        for (int k = 0; k < WAITERS; k++) {
            waiter_init(&w[k], &e);
            t[k] = test_spawn(hop_pool_executor(&pool), wait_task, &w[k]);
        }
        for (int k = 0; k < WAITERS; k++)
            while (hop_task_state(t[k]) != HOP_TASK_SUSPENDED)
                sched_yield(); /* the pool's workers may need this core */
        racer_t setter = {.event = &e, .spin = (unsigned int)rand_r(&seed) % 1000};
        racer_t canceller = {.task = t[1], .spin = (unsigned int)rand_r(&seed) % 1000, .canceller = true};
        pthread_t a, b;
        pthread_create(&a, NULL, race_on_go, &setter);
        pthread_create(&b, NULL, race_on_go, &canceller);
        test_store_uint(&setter.go, 1);
        test_store_uint(&canceller.go, 1);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        for (int k = 0; k < WAITERS; k++) {
            test_join(t[k]);
            cr_assert_eq(w[k].returned, 1, "iteration %d: waiter %d returned %u times", i, k, w[k].returned);
        }
        HOP_OK(w[0].rc);
        HOP_OK(w[2].rc);
        cr_assert(w[1].rc == 0 || w[1].rc == HOP_ECANCELED, "iteration %d: %s", i, hop_err_name(w[1].rc));
        if (w[1].rc == 0)
            woken++;
        else
            cancelled++;
        EXPECT_RC(hop_event_destroy(&e), 0, "iteration %d: a waiter record was left in the list", i);
    }
    HOP_OK(hop_pool_close(&pool));
    cr_log_info("set vs cancel: %u woken by the set, %u withdrawn", woken, cancelled);
}
