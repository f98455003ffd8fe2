/* tests/test_semaphore.c: the bounded FIFO semaphore (src/sync/semaphore.c).
 *
 * Counting, order and errors on a manual executor run by the test thread;
 * a concurrency limit held by pool tasks; and release racing cancel, which
 * must conserve permits exactly. */
#include <pthread.h>
#include <stdlib.h>

#include <hop/semaphore.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(semaphore, .init = setup, .fini = teardown, .timeout = 60);


typedef struct {
    hop_semaphore_t *semaphore;
    int id;
    int *order;
    int *order_len;
    int rc;
} acquirer_t;

/* Acquires and keeps the permit (the test releases it). */
static void *acquire_task(void *arg) {
    acquirer_t *a = arg;
    a->rc = hop_semaphore_acquire(a->semaphore);
    if (a->rc == 0 && a->order)
        a->order[(*a->order_len)++] = a->id;
    return NULL;
}

static void acquirer_init(acquirer_t *a, hop_semaphore_t *s) { *a = (acquirer_t){.semaphore = s, .rc = 1}; }

Test(semaphore, acquire_takes_free_permits_without_suspending) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 2, 2));
    cr_assert_eq(hop_semaphore_value(&s), 2);
    acquirer_t a[2];
    for (int i = 0; i < 2; i++) {
        acquirer_init(&a[i], &s);
        hop_task_t *t = test_spawn(manual, acquire_task, &a[i]);
        cr_assert_eq(hop_manual_executor_run_one(manual), 1);
        cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
        HOP_OK(a[i].rc);
        hop_task_unref(t);
    }
    cr_assert_eq(hop_semaphore_value(&s), 0);
}

Test(semaphore, acquire_at_zero_suspends_until_a_plain_thread_releases) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    acquirer_t a;
    acquirer_init(&a, &s);
    hop_task_t *t = test_spawn(manual, acquire_task, &a);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_semaphore_release(&s)); /* the test thread is a plain thread */
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(a.rc);
    cr_assert_eq(hop_semaphore_value(&s), 0, "the permit went to the waiter, not the count");
    hop_task_unref(t);
}

Test(semaphore, waiters_get_permits_in_the_order_they_asked) {
    enum { N = 12 };
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, N));
    int order[N], len = 0;
    acquirer_t a[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        acquirer_init(&a[i], &s);
        a[i].id = i;
        a[i].order = order;
        a[i].order_len = &len;
        t[i] = test_spawn(manual, acquire_task, &a[i]);
        hop_manual_executor_run_all(manual, 0);
    }
    for (int i = 0; i < N; i++) {
        HOP_OK(hop_semaphore_release(&s));
        hop_manual_executor_run_all(manual, 0);
        cr_assert_eq(len, i + 1, "one release, one waiter");
        cr_assert_eq(order[i], i, "permit %d went to waiter %d", i, order[i]);
    }
    for (int i = 0; i < N; i++)
        hop_task_unref(t[i]);
}

Test(semaphore, a_release_with_waiters_hands_over_its_permit_so_try_acquire_cannot_take_it) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    acquirer_t a;
    acquirer_init(&a, &s);
    hop_task_t *t = test_spawn(manual, acquire_task, &a);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_semaphore_release(&s));
    HOP_ERR(hop_semaphore_try_acquire(&s), HOP_EAGAIN);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(a.rc);
    hop_task_unref(t);
}

Test(semaphore, try_acquire_works_from_a_plain_thread_and_returns_eagain_at_zero) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 1, 1));
    HOP_OK(hop_semaphore_try_acquire(&s));
    HOP_ERR(hop_semaphore_try_acquire(&s), HOP_EAGAIN);
    cr_assert_eq(hop_semaphore_value(&s), 0);
    HOP_OK(hop_semaphore_release(&s));
    cr_assert_eq(hop_semaphore_value(&s), 1);
}

Test(semaphore, releasing_beyond_the_maximum_returns_estate_and_keeps_the_count) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 1, 2));
    HOP_OK(hop_semaphore_release(&s));
    HOP_ERR(hop_semaphore_release(&s), HOP_ESTATE);
    cr_assert_eq(hop_semaphore_value(&s), 2);
}

Test(semaphore, an_unbounded_semaphore_counts_far_beyond_small_numbers) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, HOP_SEMAPHORE_UNBOUNDED));
    for (int i = 0; i < 100000; i++)
        HOP_OK(hop_semaphore_release(&s));
    cr_assert_eq(hop_semaphore_value(&s), 100000);
}

Test(semaphore, acquire_outside_a_task_returns_enottask) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 1, 1));
    HOP_ERR(hop_semaphore_acquire(&s), HOP_ENOTTASK);
    cr_assert_eq(hop_semaphore_value(&s), 1, "nothing taken");
}

Test(semaphore, bad_arguments_and_destroyed_semaphores_return_einval) {
    hop_semaphore_t s;
    HOP_ERR(hop_semaphore_init(NULL, 0, 1), HOP_EINVAL);
    HOP_ERR(hop_semaphore_init(&s, 0, 0), HOP_EINVAL);
    HOP_ERR(hop_semaphore_init(&s, 3, 2), HOP_EINVAL);
    HOP_ERR(hop_semaphore_acquire(NULL), HOP_EINVAL);
    HOP_ERR(hop_semaphore_try_acquire(NULL), HOP_EINVAL);
    HOP_ERR(hop_semaphore_release(NULL), HOP_EINVAL);
    HOP_ERR(hop_semaphore_destroy(NULL), HOP_EINVAL);
    cr_assert_eq(hop_semaphore_value(NULL), 0);
    hop_semaphore_t zeroed = {0};
    HOP_ERR(hop_semaphore_release(&zeroed), HOP_EINVAL);
    HOP_OK(hop_semaphore_init(&s, 1, 1));
    HOP_OK(hop_semaphore_destroy(&s));
    HOP_ERR(hop_semaphore_try_acquire(&s), HOP_EINVAL);
    HOP_ERR(hop_semaphore_release(&s), HOP_EINVAL);
    HOP_ERR(hop_semaphore_destroy(&s), HOP_EINVAL);
}

Test(semaphore, destroy_returns_ebusy_while_tasks_wait) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    acquirer_t a;
    acquirer_init(&a, &s);
    hop_task_t *t = test_spawn(manual, acquire_task, &a);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(hop_semaphore_destroy(&s), HOP_EBUSY);
    HOP_OK(hop_semaphore_release(&s));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(a.rc);
    HOP_OK(hop_semaphore_destroy(&s));
    hop_task_unref(t);
}

/* ---- a concurrency limit on the pool ---- */

typedef struct {
    hop_semaphore_t semaphore;
    unsigned int inside; /* atomic */
    unsigned int most_inside;
    unsigned int errors;
    unsigned int done;
    int rounds;
} limit_t;

static void *limited_work(void *arg) {
    limit_t *l = arg;
    for (int i = 0; i < l->rounds; i++) {
        if (hop_semaphore_acquire(&l->semaphore) != 0) {
            __atomic_fetch_add(&l->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        unsigned int now = __atomic_add_fetch(&l->inside, 1, __ATOMIC_ACQ_REL);
        unsigned int most = __atomic_load_n(&l->most_inside, __ATOMIC_RELAXED);
        while (now > most && !__atomic_compare_exchange_n(&l->most_inside, &most, now, false,
                                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        if (i % 8 == 0)
            hop_yield();
        __atomic_fetch_sub(&l->inside, 1, __ATOMIC_ACQ_REL);
        __atomic_fetch_add(&l->done, 1, __ATOMIC_RELAXED);
        if (hop_semaphore_release(&l->semaphore) != 0)
            __atomic_fetch_add(&l->errors, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

Test(semaphore, at_most_three_of_sixteen_pool_tasks_hold_a_permit_at_once, .timeout = 120) {
    enum { TASKS = 16, ROUNDS = 1000, LIMIT = 3 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 4};
    HOP_OK(hop_pool_init(&pool, &options));
    limit_t l = {.rounds = ROUNDS};
    HOP_OK(hop_semaphore_init(&l.semaphore, LIMIT, LIMIT));
    hop_task_t *t[TASKS];
    for (int i = 0; i < TASKS; i++)
        t[i] = test_spawn(hop_pool_executor(&pool), limited_work, &l);
    for (int i = 0; i < TASKS; i++)
        HOP_OK(test_join(t[i]));
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(l.errors, 0);
    cr_assert_eq(l.done, TASKS * ROUNDS);
    cr_assert_leq(l.most_inside, LIMIT, "%u tasks held a permit at once", l.most_inside);
    cr_assert_eq(hop_semaphore_value(&l.semaphore), LIMIT, "every permit came back");
    HOP_OK(hop_semaphore_destroy(&l.semaphore));
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

Test(semaphore, a_waiter_cancelled_from_a_plain_thread_gets_ecanceled_and_the_count_is_unchanged) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 2));
    acquirer_t a, b;
    acquirer_init(&a, &s);
    acquirer_init(&b, &s);
    hop_task_t *ta = test_spawn(manual, acquire_task, &a);
    hop_task_t *tb = test_spawn(manual, acquire_task, &b);
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(ta);
    test_run_until_finished(manual, ta);
    HOP_ERR(a.rc, HOP_ECANCELED);
    cr_assert_eq(hop_semaphore_value(&s), 0, "the cancelled waiter took nothing");
    HOP_OK(hop_semaphore_release(&s));
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(b.rc, 0, "the release skipped the withdrawn waiter");
    HOP_OK(hop_semaphore_release(&s));
    cr_assert_eq(hop_semaphore_value(&s), 1);
    HOP_OK(hop_semaphore_destroy(&s));
    hop_task_unref(ta);
    hop_task_unref(tb);
}

Test(semaphore, a_waiter_cancelled_after_a_release_reached_it_keeps_the_permit) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    acquirer_t a;
    acquirer_init(&a, &s);
    hop_task_t *t = test_spawn(manual, acquire_task, &a);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_semaphore_release(&s));
    cancel_on_plain_thread(t);
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(a.rc, 0, "the hand-off wins");
    cr_assert_eq(hop_semaphore_value(&s), 0, "the permit is the task's");
    HOP_OK(hop_semaphore_release(&s));
    hop_task_unref(t);
}

static void *acquire_under_deadline(void *arg) {
    acquirer_t *a = arg;
    hop_deadline_t deadline;
    if (hop_deadline_enter(&deadline, 30) != 0)
        return NULL;
    a->rc = hop_semaphore_acquire(a->semaphore);
    hop_deadline_leave(&deadline);
    return NULL;
}

Test(semaphore, a_deadline_cuts_a_waiting_acquire_short_with_etimedout) {
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    acquirer_t a;
    acquirer_init(&a, &s);
    hop_task_t *t = test_spawn(manual, acquire_under_deadline, &a);
    test_run_until_finished(manual, t);
    HOP_ERR(a.rc, HOP_ETIMEDOUT);
    HOP_OK(hop_semaphore_release(&s));
    cr_assert_eq(hop_semaphore_value(&s), 1, "the release was not handed to the timed-out waiter");
    HOP_OK(hop_semaphore_destroy(&s));
    hop_task_unref(t);
}

/* ---- release racing cancel ---- */

typedef struct {
    hop_semaphore_t *semaphore;
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
        hop_semaphore_release(r->semaphore);
    return NULL;
}

Test(semaphore, release_racing_cancel_conserves_every_permit, .timeout = 240) {
    enum { ITERATIONS = 3000 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_semaphore_t s;
    HOP_OK(hop_semaphore_init(&s, 0, 1));
    unsigned int seed = 3, got = 0, cancelled = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        acquirer_t a;
        acquirer_init(&a, &s);
        hop_task_t *t = test_spawn(hop_pool_executor(&pool), acquire_task, &a);
        while (hop_task_state(t) != HOP_TASK_SUSPENDED)
            ;
        racer_t releaser = {.semaphore = &s, .spin = (unsigned int)rand_r(&seed) % 1000};
        racer_t canceller = {.task = t, .spin = (unsigned int)rand_r(&seed) % 1000, .canceller = true};
        pthread_t x, y;
        pthread_create(&x, NULL, race_on_go, &releaser);
        pthread_create(&y, NULL, race_on_go, &canceller);
        test_store_uint(&releaser.go, 1);
        test_store_uint(&canceller.go, 1);
        pthread_join(x, NULL);
        pthread_join(y, NULL);
        test_join(t);
        /* One permit was released: the task holds it, or the count does. */
        if (a.rc == 0) {
            got++;
            cr_assert_eq(hop_semaphore_value(&s), 0, "iteration %d: a permit was duplicated", i);
        } else {
            cancelled++;
            EXPECT_RC(a.rc, HOP_ECANCELED, "iteration %d", i);
            cr_assert_eq(hop_semaphore_value(&s), 1, "iteration %d: the permit was lost", i);
            HOP_OK(hop_semaphore_try_acquire(&s));
        }
    }
    EXPECT_RC(hop_semaphore_destroy(&s), 0, "no waiter record left behind");
    HOP_OK(hop_pool_close(&pool));
    cr_log_info("release vs cancel: %u handed over, %u withdrawn", got, cancelled);
}
