/* tests/test_nursery.c: nurseries: finished members are forgotten at once,
 * failures stay isolated, and shutdown closes, waits out the grace period,
 * then cancels the rest and waits for them. */
#include <pthread.h>

#include "helpers.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif

static hop_pool_t pool;
static hop_loop_t loop;

static void setup(void) {
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
}
static void teardown(void) {
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
}

TestSuite(nursery, .init = setup, .fini = teardown, .timeout = 120);

static hop_nursery_stats_t stats_of(hop_nursery_t *n) {
    hop_nursery_stats_t s;
    HOP_OK(hop_nursery_stats(n, &s));
    return s;
}

/* ---- churn --------------------------------------------------------------- */

#ifdef UNDER_TSAN
enum { CHURN_TASKS = 2000 };
#else
enum { CHURN_TASKS = 100000 };
#endif
enum { CHURN_BOUND = 256 };

static unsigned int churn_ran;

static int short_member(void *arg, void **result) {
    (void)arg;
    (void)result;
    __atomic_fetch_add(&churn_ran, 1u, __ATOMIC_RELAXED);
    return 0;
}

Test(nursery, finished_members_are_forgotten_at_once_so_memory_follows_the_live_count) {
    hop_nursery_t n;
    HOP_OK(hop_nursery_init(&n));
    /* At most CHURN_BOUND live at once: only this thread spawns, so the live
     * count it reads can only have dropped since. */
    for (unsigned int i = 0; i < CHURN_TASKS; i++) {
        while (stats_of(&n).live >= CHURN_BOUND)
            sched_yield();
        HOP_OK(hop_nursery_spawn(&n, hop_pool_executor(&pool), short_member, NULL, NULL, NULL));
    }
    HOP_OK(hop_nursery_shutdown(&n, 60000));
    hop_nursery_stats_t s = stats_of(&n);
    cr_assert_eq(s.live, 0);
    cr_assert_eq(s.total, CHURN_TASKS);
    cr_assert_leq(s.peak, CHURN_BOUND, "%llu member records were alive at once", (unsigned long long)s.peak);
    cr_assert_eq(__atomic_load_n(&churn_ran, __ATOMIC_RELAXED), CHURN_TASKS);
    cr_assert_eq(s.failed, 0);
    HOP_OK(hop_nursery_destroy(&n));
}

/* ---- shutdown ------------------------------------------------------------ */

typedef struct {
    hop_nursery_t nursery;
    hop_event_t release;
    unsigned int started;  /* atomic */
    unsigned int finished; /* atomic */
    unsigned int cleaned;  /* atomic: shielded cleanups that completed */
    int64_t grace_ms;
    int shutdown_status;
} shutdown_case_t;

static int wait_for_release(void *arg, void **result) {
    shutdown_case_t *c = arg;
    (void)result;
    __atomic_fetch_add(&c->started, 1u, __ATOMIC_RELEASE);
    int err = hop_event_wait(&c->release);
    __atomic_fetch_add(&c->finished, 1u, __ATOMIC_RELEASE);
    return err;
}

static int sleep_then_clean_up(void *arg, void **result) {
    shutdown_case_t *c = arg;
    (void)result;
    __atomic_fetch_add(&c->started, 1u, __ATOMIC_RELEASE);
    int err = hop_sleep(600000);
    /* Cancelled: the cleanup still awaits, inside a shield. */
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 60000));
    if (hop_sleep(2) == 0)
        __atomic_fetch_add(&c->cleaned, 1u, __ATOMIC_RELEASE);
    CHECK_OK(hop_shield_exit(&shield));
    __atomic_fetch_add(&c->finished, 1u, __ATOMIC_RELEASE);
    return err;
}

static void *shut_down(void *arg) {
    shutdown_case_t *c = arg;
    c->shutdown_status = hop_nursery_shutdown(&c->nursery, c->grace_ms);
    return NULL;
}

enum { MEMBERS = 8 };

Test(nursery, shutdown_waits_for_members_that_finish_within_the_grace_period) {
    shutdown_case_t c = {.grace_ms = 60000};
    HOP_OK(hop_nursery_init(&c.nursery));
    HOP_OK(hop_event_init(&c.release));
    for (int i = 0; i < MEMBERS; i++)
        HOP_OK(hop_nursery_spawn(&c.nursery, i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop),
                                 wait_for_release, &c, NULL, NULL));
    test_wait_for(&c.started, MEMBERS);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), shut_down, &c, NULL, &t));
    while (!hop_nursery_closing(&c.nursery))
        test_sleep_ms(1);
    cr_assert_eq(__atomic_load_n(&c.finished, __ATOMIC_ACQUIRE), 0);
    HOP_OK(hop_event_set(&c.release));
    HOP_OK(test_join(t));
    cr_assert_eq(c.shutdown_status, 0, "shutdown returned %s", hop_err_name(c.shutdown_status));
    cr_assert_eq(c.finished, MEMBERS);
    hop_nursery_stats_t s = stats_of(&c.nursery);
    cr_assert_eq(s.live, 0);
    cr_assert_eq(s.cancelled, 0);
    HOP_OK(hop_nursery_destroy(&c.nursery));
    HOP_OK(hop_event_destroy(&c.release));
    test_assert_checks();
}

Test(nursery, shutdown_cancels_members_that_outlive_the_grace_and_waits_for_their_shielded_cleanup) {
    shutdown_case_t c = {.grace_ms = 20};
    HOP_OK(hop_nursery_init(&c.nursery));
    for (int i = 0; i < MEMBERS; i++)
        HOP_OK(hop_nursery_spawn(&c.nursery, i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop),
                                 sleep_then_clean_up, &c, NULL, NULL));
    test_wait_for(&c.started, MEMBERS);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), shut_down, &c, NULL, &t));
    HOP_OK(test_join(t));
    cr_assert_eq(c.shutdown_status, HOP_ETIMEDOUT, "shutdown returned %s", hop_err_name(c.shutdown_status));
    /* Returned only once every member had finished, cleanup included. */
    cr_assert_eq(__atomic_load_n(&c.finished, __ATOMIC_ACQUIRE), MEMBERS);
    cr_assert_eq(__atomic_load_n(&c.cleaned, __ATOMIC_ACQUIRE), MEMBERS);
    hop_nursery_stats_t s = stats_of(&c.nursery);
    cr_assert_eq(s.live, 0);
    cr_assert_eq(s.cancelled, MEMBERS);
    cr_assert_eq(s.failed, 0);
    HOP_OK(hop_nursery_destroy(&c.nursery));
    test_assert_checks();
}

Test(nursery, shutdown_from_a_plain_thread_blocks_until_the_cancelled_members_finish) {
    shutdown_case_t c = {0};
    HOP_OK(hop_nursery_init(&c.nursery));
    for (int i = 0; i < MEMBERS; i++)
        HOP_OK(hop_nursery_spawn(&c.nursery, hop_pool_executor(&pool), sleep_then_clean_up, &c, NULL, NULL));
    test_wait_for(&c.started, MEMBERS);
    HOP_ERR(hop_nursery_shutdown(&c.nursery, 10), HOP_ETIMEDOUT);
    cr_assert_eq(__atomic_load_n(&c.finished, __ATOMIC_ACQUIRE), MEMBERS);
    cr_assert_eq(stats_of(&c.nursery).live, 0);
    HOP_OK(hop_nursery_destroy(&c.nursery));
    test_assert_checks();
}

static void *cancelled_shut_down(void *arg) {
    shutdown_case_t *c = arg;
    hop_task_cancel(hop_task_current());
    c->shutdown_status = hop_nursery_shutdown(&c->nursery, 600000);
    /* Whatever the caller's cancel, no member outlives the shutdown. */
    CHECK(__atomic_load_n(&c->finished, __ATOMIC_ACQUIRE) == MEMBERS);
    return NULL;
}

Test(nursery, a_cancelled_caller_cuts_the_grace_short_but_still_waits_for_every_member) {
    shutdown_case_t c = {0};
    HOP_OK(hop_nursery_init(&c.nursery));
    for (int i = 0; i < MEMBERS; i++)
        HOP_OK(hop_nursery_spawn(&c.nursery, hop_loop_executor(&loop), sleep_then_clean_up, &c, NULL, NULL));
    test_wait_for(&c.started, MEMBERS);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), cancelled_shut_down, &c, NULL, &t));
    HOP_ERR(test_join(t), HOP_ECANCELED);
    cr_assert_eq(c.shutdown_status, HOP_ECANCELED);
    cr_assert_eq(__atomic_load_n(&c.cleaned, __ATOMIC_ACQUIRE), MEMBERS);
    HOP_OK(hop_nursery_destroy(&c.nursery));
    test_assert_checks();
}

/* ---- isolation, refusal, bad input ---------------------------------------- */

static int fail_at_once(void *arg, void **result) {
    (void)arg;
    (void)result;
    return HOP_EIO;
}

Test(nursery, a_members_failure_does_not_touch_the_others) {
    shutdown_case_t c = {.grace_ms = 60000};
    HOP_OK(hop_nursery_init(&c.nursery));
    HOP_OK(hop_event_init(&c.release));
    for (int i = 0; i < MEMBERS; i++)
        HOP_OK(hop_nursery_spawn(&c.nursery, hop_pool_executor(&pool), wait_for_release, &c, NULL, NULL));
    test_wait_for(&c.started, MEMBERS);
    hop_task_t *failing;
    HOP_OK(hop_nursery_spawn(&c.nursery, hop_pool_executor(&pool), fail_at_once, NULL, NULL, &failing));
    HOP_ERR(test_join(failing), HOP_EIO);
    while (stats_of(&c.nursery).failed == 0) /* its record goes just after its future */
        test_sleep_ms(1);
    hop_nursery_stats_t s = stats_of(&c.nursery);
    cr_assert_eq(s.live, MEMBERS, "the failure took others with it");
    cr_assert_eq(s.cancelled, 0);
    cr_assert(!hop_nursery_closing(&c.nursery));
    HOP_OK(hop_event_set(&c.release));
    HOP_OK(hop_nursery_shutdown(&c.nursery, 60000));
    s = stats_of(&c.nursery);
    cr_assert_eq(s.failed, 1);
    cr_assert_eq(s.total, MEMBERS + 1);
    cr_assert_eq(c.finished, MEMBERS);
    HOP_OK(hop_nursery_destroy(&c.nursery));
    HOP_OK(hop_event_destroy(&c.release));
}

Test(nursery, spawning_after_shutdown_began_is_refused_with_eclosed) {
    hop_nursery_t n;
    HOP_OK(hop_nursery_init(&n));
    HOP_OK(hop_nursery_close(&n));
    HOP_ERR(hop_nursery_close(&n), HOP_EALREADY);
    hop_task_t *t = (hop_task_t *)&n;
    HOP_ERR(hop_nursery_spawn(&n, hop_pool_executor(&pool), short_member, NULL, NULL, &t), HOP_ECLOSED);
    cr_assert_null(t);
    HOP_OK(hop_nursery_shutdown(&n, 0));
    HOP_ERR(hop_nursery_spawn(&n, hop_pool_executor(&pool), short_member, NULL, NULL, NULL), HOP_ECLOSED);
    cr_assert_eq(stats_of(&n).total, 0);
    HOP_OK(hop_nursery_destroy(&n));
}

Test(nursery, destroying_a_nursery_with_live_members_is_refused_with_ebusy) {
    shutdown_case_t c = {0};
    HOP_OK(hop_nursery_init(&c.nursery));
    HOP_OK(hop_event_init(&c.release));
    HOP_OK(hop_nursery_spawn(&c.nursery, hop_pool_executor(&pool), wait_for_release, &c, NULL, NULL));
    HOP_ERR(hop_nursery_destroy(&c.nursery), HOP_EBUSY);
    HOP_OK(hop_event_set(&c.release));
    HOP_OK(hop_nursery_shutdown(&c.nursery, 60000));
    HOP_OK(hop_nursery_destroy(&c.nursery));
    HOP_OK(hop_event_destroy(&c.release));
}

Test(nursery, bad_input_is_refused_with_einval) {
    hop_nursery_t n;
    HOP_ERR(hop_nursery_init(NULL), HOP_EINVAL);
    HOP_OK(hop_nursery_init(&n));
    HOP_ERR(hop_nursery_spawn(NULL, hop_pool_executor(&pool), short_member, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_nursery_spawn(&n, NULL, short_member, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_nursery_spawn(&n, hop_pool_executor(&pool), NULL, NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_nursery_shutdown(NULL, 0), HOP_EINVAL);
    HOP_ERR(hop_nursery_shutdown(&n, -1), HOP_EINVAL);
    HOP_ERR(hop_nursery_stats(&n, NULL), HOP_EINVAL);
    HOP_ERR(hop_nursery_close(NULL), HOP_EINVAL);
    HOP_ERR(hop_nursery_destroy(NULL), HOP_EINVAL);
    cr_assert(!hop_nursery_closing(NULL));
    HOP_OK(hop_nursery_destroy(&n));
}

/* ---- stress: spawns and finishes racing the shutdown ---------------------- */

#ifdef UNDER_TSAN
enum { RACE_ROUNDS = 10, RACE_SPAWNERS = 3 };
#else
enum { RACE_ROUNDS = 60, RACE_SPAWNERS = 4 };
#endif

typedef struct {
    hop_nursery_t nursery;
    unsigned int spawned; /* atomic: spawns that returned 0 */
    unsigned int ran;     /* atomic: members that ran to their end */
    unsigned int refused; /* atomic: spawners that saw HOP_ECLOSED */
} race_t;

static int race_member(void *arg, void **result) {
    race_t *r = arg;
    (void)result;
    /* A mix: some finish at once, some wait and are cancelled. */
    int err = (__atomic_load_n(&r->spawned, __ATOMIC_RELAXED) % 3 == 0) ? hop_sleep(1) : hop_yield();
    __atomic_fetch_add(&r->ran, 1u, __ATOMIC_RELEASE);
    return err;
}

static int race_spawner(void *arg, void **result) {
    race_t *r = arg;
    (void)result;
    for (unsigned int i = 0;; i++) {
        hop_executor_t *executor = i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop);
        int err = hop_nursery_spawn(&r->nursery, executor, race_member, r, NULL, NULL);
        if (err == HOP_ECLOSED) {
            __atomic_fetch_add(&r->refused, 1u, __ATOMIC_RELEASE);
            return 0;
        }
        CHECK_OK(err);
        __atomic_fetch_add(&r->spawned, 1u, __ATOMIC_RELEASE);
        if (i % 8 == 7 && hop_yield() == HOP_ECANCELED) {
            /* The shutdown cancelled this spawner (a member too): one more
             * spawn shows whether it is refused. */
            err = hop_nursery_spawn(&r->nursery, executor, race_member, r, NULL, NULL);
            CHECK_ERR(err, HOP_ECLOSED);
            __atomic_fetch_add(&r->refused, 1u, __ATOMIC_RELEASE);
            return HOP_ECANCELED;
        }
    }
}

Test(nursery, spawns_and_finishes_racing_the_shutdown_lose_no_member) {
    for (int round = 0; round < RACE_ROUNDS; round++) {
        race_t r;
        memset(&r, 0, sizeof r);
        HOP_OK(hop_nursery_init(&r.nursery));
        for (int i = 0; i < RACE_SPAWNERS; i++)
            HOP_OK(hop_nursery_spawn(&r.nursery, i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop),
                                     race_spawner, &r, NULL, NULL));
        test_wait_for(&r.spawned, 20u + (unsigned int)round % 50);
        int status = hop_nursery_shutdown(&r.nursery, round % 2 ? 0 : 1);
        cr_assert(status == 0 || status == HOP_ETIMEDOUT, "round %d: %s", round, hop_err_name(status));
        hop_nursery_stats_t s = stats_of(&r.nursery);
        cr_assert_eq(s.live, 0, "round %d", round);
        cr_assert_eq(s.total, RACE_SPAWNERS + __atomic_load_n(&r.spawned, __ATOMIC_ACQUIRE), "round %d",
                     round);
        /* A spawner cancelled before it ran never sees the refusal. */
        cr_assert_leq(__atomic_load_n(&r.refused, __ATOMIC_ACQUIRE), RACE_SPAWNERS, "round %d", round);
        /* Every member that started ran to its end (a cancelled one too:
         * its await returns early); one cancelled before it started never runs. */
        cr_assert_leq(__atomic_load_n(&r.ran, __ATOMIC_ACQUIRE),
                      __atomic_load_n(&r.spawned, __ATOMIC_ACQUIRE));
        cr_assert_eq(s.failed, 0, "round %d", round);
        HOP_OK(hop_nursery_destroy(&r.nursery));
    }
    test_assert_checks();
}
