/* tests/test_mutex.c: the FIFO async mutex (src/sync/mutex.c).
 *
 * Deterministic behaviour (order, hand-off, errors, cancellation) is checked
 * with tasks on a manual executor run by the test thread; mutual exclusion
 * and the cancel-versus-unlock race with pool tasks on several workers,
 * which record what they see for the test thread to assert on. */
#include <pthread.h>
#include <stdlib.h>

#include <hop/mutex.h>

#include "helpers.h"

/* HOP_OK / HOP_ERR with a message saying which case failed. */
static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(mutex, .init = setup, .fini = teardown, .timeout = 60);


/* Waits for t from the test thread, drops the reference, returns its status. */
/* ---- a holder: locks, waits for a future, unlocks, tries to lock again ---- */

typedef struct {
    hop_mutex_t *mutex;
    hop_future_t release; /* set to make the holder unlock */
    int lock_rc;
    int unlock_rc;
    int relock_rc; /* try_lock right after the unlock */
    bool locked_after_unlock;
} holder_t;

static void *hold_until_released(void *arg) {
    holder_t *h = arg;
    h->lock_rc = hop_mutex_lock(h->mutex);
    hop_future_await(&h->release, NULL);
    h->unlock_rc = hop_mutex_unlock(h->mutex);
    h->locked_after_unlock = hop_mutex_is_locked(h->mutex);
    h->relock_rc = hop_mutex_try_lock(h->mutex);
    if (h->relock_rc == 0)
        hop_mutex_unlock(h->mutex);
    return NULL;
}

static void holder_init(holder_t *h, hop_mutex_t *mutex) {
    *h = (holder_t){.mutex = mutex, .lock_rc = 1, .unlock_rc = 1, .relock_rc = 1};
    HOP_OK(hop_future_init(&h->release));
}

/* ---- a locker: locks, records, unlocks ---- */

typedef struct {
    hop_mutex_t *mutex;
    int id;
    int *order; /* appended to while holding the mutex */
    int *order_len;
    int lock_rc;
    int unlock_rc;
    bool owned_after_lock;
} locker_t;

static void *lock_record_unlock(void *arg) {
    locker_t *l = arg;
    l->lock_rc = hop_mutex_lock(l->mutex);
    if (l->lock_rc == 0) {
        l->owned_after_lock = hop_mutex_is_locked(l->mutex);
        if (l->order)
            l->order[(*l->order_len)++] = l->id;
    }
    /* After an interrupted lock this must be HOP_EPERM: the task owns nothing. */
    l->unlock_rc = hop_mutex_unlock(l->mutex);
    return NULL;
}

static void locker_init(locker_t *l, hop_mutex_t *mutex) {
    *l = (locker_t){.mutex = mutex, .lock_rc = 1, .unlock_rc = 1};
}

Test(mutex, an_uncontended_lock_succeeds_without_suspending) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    locker_t l;
    locker_init(&l, &m);
    hop_task_t *t = test_spawn(manual, lock_record_unlock, &l);
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "one run, no suspension");
    HOP_OK(l.lock_rc);
    HOP_OK(l.unlock_rc);
    cr_assert(l.owned_after_lock);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(t);
    HOP_OK(hop_mutex_destroy(&m));
}

Test(mutex, a_task_that_finds_the_mutex_held_suspends_until_the_owner_unlocks) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t l;
    locker_init(&l, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_task_t *tl = test_spawn(manual, lock_record_unlock, &l);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(h.lock_rc);
    cr_assert_eq(hop_task_state(tl), HOP_TASK_SUSPENDED, "the locker waits while the holder holds");
    cr_assert_eq(l.lock_rc, 1, "the locker's lock has not returned");
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(h.unlock_rc);
    HOP_OK(l.lock_rc);
    HOP_OK(l.unlock_rc);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(th);
    hop_task_unref(tl);
    HOP_OK(hop_mutex_destroy(&m));
}

Test(mutex, waiters_get_the_mutex_in_the_order_they_asked_for_it) {
    enum { N = 16 };
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_manual_executor_run_all(manual, 0);
    int order[N], len = 0;
    locker_t l[N];
    hop_task_t *t[N];
    for (int i = 0; i < N; i++) {
        locker_init(&l[i], &m);
        l[i].id = i;
        l[i].order = order;
        l[i].order_len = &len;
        t[i] = test_spawn(manual, lock_record_unlock, &l[i]);
        hop_manual_executor_run_all(manual, 0); /* i is queued before i + 1 asks */
    }
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(len, N);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(order[i], i, "turn %d went to waiter %d", i, order[i]);
        HOP_OK(l[i].lock_rc);
        HOP_OK(l[i].unlock_rc);
        hop_task_unref(t[i]);
    }
    hop_task_unref(th);
    HOP_OK(hop_mutex_destroy(&m));
}

Test(mutex, unlock_hands_the_mutex_to_the_head_waiter_so_even_the_unlocking_task_cannot_take_it_back) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t l;
    locker_init(&l, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_task_t *tl = test_spawn(manual, lock_record_unlock, &l);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&h.release, NULL));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1, "the holder resumes, unlocks, tries again");
    HOP_OK(h.unlock_rc);
    cr_assert(h.locked_after_unlock, "ownership moved to the waiter at the unlock");
    HOP_ERR(h.relock_rc, HOP_EAGAIN);
    cr_assert_eq(hop_task_state(tl), HOP_TASK_SUSPENDED, "the new owner has not run yet");
    cr_assert(hop_mutex_is_locked(&m));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(l.lock_rc);
    HOP_OK(l.unlock_rc);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(th);
    hop_task_unref(tl);
}

Test(mutex, unlock_without_waiters_leaves_the_mutex_free_for_anyone) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_manual_executor_run_all(manual, 0);
    cr_assert(hop_mutex_is_locked(&m));
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(h.unlock_rc);
    cr_assert_not(h.locked_after_unlock);
    HOP_OK(h.relock_rc);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(th);
}

/* ---- errors ---- */

typedef struct {
    hop_mutex_t *mutex;
    int rc[4];
} calls_t;

static void *unlock_unowned(void *arg) {
    calls_t *c = arg;
    c->rc[0] = hop_mutex_unlock(c->mutex); /* free: nobody's */
    return NULL;
}

Test(mutex, unlocking_a_free_mutex_returns_eperm) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    calls_t c = {.mutex = &m};
    hop_task_t *t = test_spawn(manual, unlock_unowned, &c);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c.rc[0], HOP_EPERM);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(t);
}

Test(mutex, unlocking_a_mutex_another_task_holds_returns_eperm_and_changes_nothing) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_manual_executor_run_all(manual, 0);
    calls_t c = {.mutex = &m};
    hop_task_t *t = test_spawn(manual, unlock_unowned, &c);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c.rc[0], HOP_EPERM);
    cr_assert(hop_mutex_is_locked(&m), "still the holder's");
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(h.unlock_rc, 0, "the holder can still unlock");
    hop_task_unref(th);
    hop_task_unref(t);
}

static void *lock_twice(void *arg) {
    calls_t *c = arg;
    c->rc[0] = hop_mutex_lock(c->mutex);
    c->rc[1] = hop_mutex_lock(c->mutex);
    c->rc[2] = hop_mutex_try_lock(c->mutex);
    c->rc[3] = hop_mutex_unlock(c->mutex);
    return NULL;
}

Test(mutex, locking_a_mutex_the_task_already_holds_returns_edeadlk_and_try_lock_eagain) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    calls_t c = {.mutex = &m};
    hop_task_t *t = test_spawn(manual, lock_twice, &c);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "no self-deadlock");
    HOP_OK(c.rc[0]);
    HOP_ERR(c.rc[1], HOP_EDEADLK);
    HOP_ERR(c.rc[2], HOP_EAGAIN);
    HOP_OK(c.rc[3]);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(t);
}

Test(mutex, calls_outside_a_task_return_enottask) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    HOP_ERR(hop_mutex_lock(&m), HOP_ENOTTASK);
    HOP_ERR(hop_mutex_try_lock(&m), HOP_ENOTTASK);
    HOP_ERR(hop_mutex_unlock(&m), HOP_ENOTTASK);
    cr_assert_not(hop_mutex_is_locked(&m));
    HOP_OK(hop_mutex_destroy(&m));
}

Test(mutex, null_uninitialised_and_destroyed_mutexes_return_einval) {
    HOP_ERR(hop_mutex_init(NULL), HOP_EINVAL);
    HOP_ERR(hop_mutex_lock(NULL), HOP_EINVAL);
    HOP_ERR(hop_mutex_try_lock(NULL), HOP_EINVAL);
    HOP_ERR(hop_mutex_unlock(NULL), HOP_EINVAL);
    HOP_ERR(hop_mutex_destroy(NULL), HOP_EINVAL);
    cr_assert_not(hop_mutex_is_locked(NULL));
    hop_mutex_t zeroed = {0};
    HOP_ERR(hop_mutex_lock(&zeroed), HOP_EINVAL);
    HOP_ERR(hop_mutex_destroy(&zeroed), HOP_EINVAL);
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    HOP_OK(hop_mutex_destroy(&m));
    HOP_ERR(hop_mutex_destroy(&m), HOP_EINVAL);
    HOP_ERR(hop_mutex_lock(&m), HOP_EINVAL);
    HOP_ERR(hop_mutex_unlock(&m), HOP_EINVAL);
}

Test(mutex, destroy_returns_ebusy_while_the_mutex_is_held_or_awaited) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t l;
    locker_init(&l, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(hop_mutex_destroy(&m), HOP_EBUSY);
    hop_task_t *tl = test_spawn(manual, lock_record_unlock, &l);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(hop_mutex_destroy(&m), HOP_EBUSY);
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(l.unlock_rc, 0, "the mutex still worked after the refused destroys");
    HOP_OK(hop_mutex_destroy(&m));
    hop_task_unref(th);
    hop_task_unref(tl);
}

static hop_mutex_t static_mutex = HOP_MUTEX_INIT;

Test(mutex, a_mutex_from_the_static_initialiser_works_without_init) {
    locker_t l;
    locker_init(&l, &static_mutex);
    hop_task_t *t = test_spawn(manual, lock_record_unlock, &l);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(l.lock_rc);
    HOP_OK(l.unlock_rc);
    hop_task_unref(t);
}

/* ---- mutual exclusion across pool workers ---- */

typedef struct {
    hop_mutex_t mutex;
    long counter;        /* plain: only the mutex protects it */
    unsigned int inside; /* atomic: tasks in the critical section */
    unsigned int overlaps;
    unsigned int errors;
    int rounds;
} shared_t;

static void *increment_many(void *arg) {
    shared_t *s = arg;
    for (int i = 0; i < s->rounds; i++) {
        if (hop_mutex_lock(&s->mutex) != 0) {
            __atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (__atomic_fetch_add(&s->inside, 1, __ATOMIC_ACQ_REL) != 0)
            __atomic_fetch_add(&s->overlaps, 1, __ATOMIC_RELAXED);
        long v = s->counter;
        if (i % 16 == 0)
            hop_yield(); /* hold it across an await: the task may even move */
        s->counter = v + 1;
        __atomic_fetch_sub(&s->inside, 1, __ATOMIC_ACQ_REL);
        if (hop_mutex_unlock(&s->mutex) != 0)
            __atomic_fetch_add(&s->errors, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void mutual_exclusion_on_pool(unsigned int threads) {
    enum { TASKS = 8, ROUNDS = 2000 };
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = threads};
    HOP_OK(hop_pool_init(&pool, &options));
    shared_t s = {.rounds = ROUNDS};
    HOP_OK(hop_mutex_init(&s.mutex));
    hop_task_t *t[TASKS];
    for (int i = 0; i < TASKS; i++)
        t[i] = test_spawn(hop_pool_executor(&pool), increment_many, &s);
    for (int i = 0; i < TASKS; i++)
        HOP_OK(test_join(t[i]));
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(s.errors, 0, "every lock and unlock succeeded");
    cr_assert_eq(s.overlaps, 0, "two tasks were inside at once");
    cr_assert_eq(s.counter, (long)TASKS * ROUNDS, "lost updates: %ld", s.counter);
    HOP_OK(hop_mutex_destroy(&s.mutex));
}

Test(mutex, pool_tasks_on_two_workers_never_overlap_and_lose_no_plain_counter_updates, .timeout = 120) {
    mutual_exclusion_on_pool(2);
}

Test(mutex, pool_tasks_on_four_workers_never_overlap_and_lose_no_plain_counter_updates, .timeout = 120) {
    mutual_exclusion_on_pool(4);
}

/* ---- interrupts ---- */

typedef struct {
    hop_task_t *task;
    long delay_us;
} canceller_t;

static void *cancel_from_thread(void *arg) {
    canceller_t *c = arg;
    if (c->delay_us)
        test_sleep_ms(c->delay_us / 1000);
    hop_task_cancel(c->task);
    return NULL;
}

static void cancel_on_plain_thread(hop_task_t *task) {
    pthread_t thread;
    canceller_t c = {.task = task};
    pthread_create(&thread, NULL, cancel_from_thread, &c);
    pthread_join(thread, NULL);
}

Test(mutex, a_waiter_cancelled_from_a_plain_thread_resumes_with_ecanceled_and_the_mutex_stays_usable) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t w, later;
    locker_init(&w, &m);
    locker_init(&later, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_task_t *tw = test_spawn(manual, lock_record_unlock, &w);
    hop_task_t *tlater = test_spawn(manual, lock_record_unlock, &later);
    hop_manual_executor_run_all(manual, 0);
    cancel_on_plain_thread(tw);
    test_run_until_finished(manual, tw);
    HOP_ERR(w.lock_rc, HOP_ECANCELED);
    EXPECT_RC(w.unlock_rc, HOP_EPERM, "the cancelled waiter owns nothing");
    cr_assert_eq(hop_task_state(tlater), HOP_TASK_SUSPENDED, "the other waiter still waits");
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(later.lock_rc, 0, "the unlock skipped the withdrawn waiter");
    HOP_OK(later.unlock_rc);
    cr_assert_not(hop_mutex_is_locked(&m));
    EXPECT_RC(hop_mutex_destroy(&m), 0, "no waiter record left behind");
    hop_task_unref(th);
    hop_task_unref(tw);
    hop_task_unref(tlater);
}

Test(mutex, a_waiter_cancelled_after_the_mutex_was_handed_to_it_gets_the_mutex) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t w;
    locker_init(&w, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_task_t *tw = test_spawn(manual, lock_record_unlock, &w);
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_future_set_result(&h.release, NULL));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1, "the holder unlocks: hand-off to the waiter");
    HOP_OK(h.unlock_rc);
    cancel_on_plain_thread(tw); /* too late: the mutex is already the waiter's */
    hop_manual_executor_run_all(manual, 0);
    EXPECT_RC(w.lock_rc, 0, "the hand-off wins over the cancel");
    cr_assert(w.owned_after_lock);
    EXPECT_RC(w.unlock_rc, 0, "and the waiter could unlock what it owned");
    cr_assert_eq(hop_task_state(tw), HOP_TASK_CANCELLED);
    cr_assert_not(hop_mutex_is_locked(&m), "ownership was not lost");
    hop_task_unref(th);
    hop_task_unref(tw);
}

static void *cancel_self_then_lock(void *arg) {
    calls_t *c = arg;
    hop_task_cancel(hop_task_current());
    c->rc[0] = hop_mutex_lock(c->mutex);
    c->rc[1] = hop_mutex_try_lock(c->mutex); /* cleanup code's way in */
    c->rc[2] = hop_mutex_unlock(c->mutex);
    return NULL;
}

Test(mutex, a_cancelled_task_gets_ecanceled_from_lock_even_when_free_but_try_lock_still_works) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    calls_t c = {.mutex = &m, .rc = {1, 1, 1, 1}};
    hop_task_t *t = test_spawn(manual, cancel_self_then_lock, &c);
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(c.rc[0], HOP_ECANCELED);
    HOP_OK(c.rc[1]);
    HOP_OK(c.rc[2]);
    cr_assert_not(hop_mutex_is_locked(&m));
    hop_task_unref(t);
}

static void *lock_under_deadline(void *arg) {
    locker_t *l = arg;
    hop_deadline_t deadline;
    if (hop_deadline_enter(&deadline, 30) != 0)
        return NULL;
    l->lock_rc = hop_mutex_lock(l->mutex);
    l->unlock_rc = hop_deadline_leave(&deadline); /* reused: the deadline's verdict */
    return NULL;
}

Test(mutex, a_deadline_cuts_a_waiting_lock_short_with_etimedout) {
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    holder_t h;
    holder_init(&h, &m);
    locker_t w;
    locker_init(&w, &m);
    hop_task_t *th = test_spawn(manual, hold_until_released, &h);
    hop_task_t *tw = test_spawn(manual, lock_under_deadline, &w);
    test_run_until_finished(manual, tw);
    HOP_ERR(w.lock_rc, HOP_ETIMEDOUT);
    HOP_ERR(w.unlock_rc, HOP_ETIMEDOUT);
    cr_assert(hop_mutex_is_locked(&m), "still the holder's");
    HOP_OK(hop_future_set_result(&h.release, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(h.unlock_rc);
    cr_assert_not(hop_mutex_is_locked(&m), "the timed-out waiter was not handed the mutex");
    HOP_OK(hop_mutex_destroy(&m));
    hop_task_unref(th);
    hop_task_unref(tw);
}

/* ---- cancel racing unlock ----
 *
 * Both racers are plain threads, so their timing is precise: the holder is
 * a task on the manual executor, parked with its resumption queued, and the
 * "unlocker" thread runs that resumption (the holder then unlocks, on that
 * thread) while the canceller thread cancels the waiter. */

typedef struct {
    hop_task_t *task;    /* the canceller's target */
    unsigned int *ready; /* each racer checks in before go */
    unsigned int *go;
    unsigned int spin;
    bool unlocker;
} racer_t;

static void *race_on_go(void *arg) {
    racer_t *r = arg;
    __atomic_fetch_add(r->ready, 1, __ATOMIC_ACQ_REL);
    while (!test_load_uint(r->go))
        ;
    for (volatile unsigned int i = 0; i < r->spin; i++)
        ;
    if (r->unlocker)
        hop_manual_executor_run_one(manual);
    else
        hop_task_cancel(r->task);
    return NULL;
}

Test(mutex, cancel_racing_unlock_never_loses_the_mutex_nor_resumes_the_waiter_twice, .timeout = 240) {
    enum { ITERATIONS = 4000 };
    hop_mutex_t m;
    HOP_OK(hop_mutex_init(&m));
    unsigned int got = 0, cancelled = 0, seed = 1;
    /* The head start of one racer over the other adapts toward the point
     * where the two outcomes flip: that boundary is where a hand-off and a
     * cancel overlap. offset > 0 delays the canceller, < 0 the unlocker. */
    int offset = 0;
    for (int i = 0; i < ITERATIONS; i++) {
        holder_t h;
        holder_init(&h, &m);
        locker_t w;
        locker_init(&w, &m);
        hop_task_t *th = test_spawn(manual, hold_until_released, &h);
        hop_task_t *tw = test_spawn(manual, lock_record_unlock, &w);
        hop_manual_executor_run_all(manual, 0);
        cr_assert_eq(hop_task_state(tw), HOP_TASK_SUSPENDED);
        HOP_OK(hop_future_set_result(&h.release, NULL)); /* queues the holder's resumption */
        unsigned int go = 0, ready = 0;
        unsigned int jitter = (unsigned int)rand_r(&seed) % 100;
        racer_t unlocker = {.ready = &ready,
                            .go = &go,
                            .spin = (offset < 0 ? (unsigned int)-offset : 0) + jitter,
                            .unlocker = true};
        racer_t canceller = {
            .task = tw, .ready = &ready, .go = &go, .spin = (offset > 0 ? (unsigned int)offset : 0) + 50};
        pthread_t x, y;
        pthread_create(&x, NULL, race_on_go, &unlocker);
        pthread_create(&y, NULL, race_on_go, &canceller);
        while (test_load_uint(&ready) < 2)
            sched_yield();
        test_store_uint(&go, 1);
        pthread_join(x, NULL);
        pthread_join(y, NULL);
        hop_manual_executor_run_all(manual, 0); /* the waiter resumes, whichever way */
        cr_assert_eq(hop_task_state(tw), HOP_TASK_CANCELLED, "iteration %d: the waiter finished once", i);
        HOP_OK(h.unlock_rc);
        if (w.lock_rc == 0) {
            got++;
            offset -= 10;
            EXPECT_RC(w.unlock_rc, 0, "iteration %d: the waiter got the mutex and must own it", i);
        } else {
            cancelled++;
            offset += 10;
            EXPECT_RC(w.lock_rc, HOP_ECANCELED, "iteration %d", i);
            EXPECT_RC(w.unlock_rc, HOP_EPERM, "iteration %d: a cancelled lock owns nothing", i);
        }
        cr_assert_not(hop_mutex_is_locked(&m), "iteration %d: the mutex was lost", i);
        hop_task_unref(th);
        hop_task_unref(tw);
    }
    EXPECT_RC(hop_mutex_destroy(&m), 0, "no waiter left queued");
    cr_assert_eq(got + cancelled, ITERATIONS);
    cr_log_info("cancel vs unlock: %u handed off, %u withdrawn (final offset %d)", got, cancelled, offset);
}

/* A task that finishes holding the mutex leaves it locked; its record is
 * reused for the next task (same address), which still does not own it. */
static hop_mutex_t orphaned;
static int reused_unlock, reused_lock_again;

static void *lock_and_finish(void *arg) {
    CHECK_OK(hop_mutex_lock(&orphaned));
    return arg;
}

static void *unlock_someone_elses(void *arg) {
    reused_unlock = hop_mutex_unlock(&orphaned);
    reused_lock_again = hop_mutex_try_lock(&orphaned);
    return arg;
}

Test(mutex, a_new_task_in_a_finished_owners_reused_record_does_not_own_the_mutex) {
    HOP_OK(hop_mutex_init(&orphaned));
    hop_task_t *first, *second;
    HOP_OK(hop_task_spawn(hop_inline_executor(), lock_and_finish, NULL, NULL, &first));
    uintptr_t first_record = (uintptr_t)first;
    hop_task_unref(first); /* its stack and record go back to this thread's cache */
    HOP_OK(hop_task_spawn(hop_inline_executor(), unlock_someone_elses, NULL, NULL, &second));
    cr_assert_eq((uintptr_t)second, first_record, "the record was expected to be reused");
    hop_task_unref(second);
    HOP_ERR(reused_unlock, HOP_EPERM);
    HOP_ERR(reused_lock_again, HOP_EAGAIN);
    cr_assert(hop_mutex_is_locked(&orphaned));
    test_assert_checks();
}
