/* tests/test_example_lazy_service.c: the lazy service of
 * examples/lazy_service.h: one init however many tasks arrive together (on
 * one thread and across threads), failures and cancellations around it,
 * cleanup once at the end of the scope, and the stats. */
#include <pthread.h>
#include <stdatomic.h>

#include "../examples/lazy_service.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(example_lazy_service, .init = setup, .fini = teardown, .timeout = 60);

/* A service factory the test controls. */
typedef struct {
    atomic_int inits;
    atomic_int cleanups;
    hop_future_t *gate; /* init awaits it, if set */
    int64_t sleep_ms;
    int fail_with;
    void *cleaned;
} factory_t;

static int make_service(void *arg, void **service) {
    factory_t *f = arg;
    int n = atomic_fetch_add(&f->inits, 1) + 1;
    if (f->gate) {
        int err = hop_future_await(f->gate, NULL);
        if (err)
            return err;
    }
    if (f->sleep_ms) {
        int err = hop_sleep(f->sleep_ms);
        if (err)
            return err;
    }
    if (f->fail_with)
        return f->fail_with;
    *service = (void *)(intptr_t)(1000 + n);
    return 0;
}

static void drop_service(void *service, void *arg) {
    factory_t *f = arg;
    f->cleaned = service;
    atomic_fetch_add(&f->cleanups, 1);
}

static factory_t make_factory(void) {
    factory_t f = {.fail_with = 0};
    atomic_init(&f.inits, 0);
    atomic_init(&f.cleanups, 0);
    return f;
}

/* A user: acquire, optionally hold until a future completes, release. */
typedef struct {
    lazy_service_t *svc;
    hop_future_t *hold; /* await before releasing, if set */
    int status;
    void *service;
} user_t;

static void *user_task(void *arg) {
    user_t *u = arg;
    u->status = lazy_service_acquire(u->svc, &u->service);
    if (u->status == 0) {
        if (u->hold)
            hop_future_await(u->hold, NULL);
        lazy_service_release(u->svc);
    }
    return NULL;
}

static void spawn_users(lazy_service_t *svc, user_t *users, hop_task_t **tasks, int n) {
    for (int i = 0; i < n; i++) {
        users[i] = (user_t){.svc = svc, .status = 1};
        HOP_OK(hop_task_spawn(manual, user_task, &users[i], NULL, &tasks[i]));
    }
    hop_manual_executor_run_all(manual, 0);
}

static void finish_all(hop_task_t **tasks, int n) {
    for (int i = 0; i < n; i++) {
        test_run_until_finished(manual, tasks[i]);
        hop_task_unref(tasks[i]);
    }
}

typedef struct {
    lazy_service_t *svc;
    int status;
} end_t;

static void *end_task(void *arg) {
    end_t *e = arg;
    e->status = lazy_service_end(e->svc);
    return NULL;
}

static int end_now(lazy_service_t *svc) {
    end_t e = {.svc = svc, .status = 1};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, end_task, &e, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    return e.status;
}

static lazy_service_stats_t stats_of(lazy_service_t *svc) {
    lazy_service_stats_t s;
    HOP_OK(lazy_service_stats(svc, &s));
    return s;
}

Test(example_lazy_service, nothing_is_initialised_before_the_first_acquire) {
    factory_t f = make_factory();
    lazy_service_t svc;
    HOP_OK(lazy_service_begin(&svc, make_service, drop_service, &f));
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.state, LAZY_EMPTY);
    cr_assert_eq(s.inits, 0);
    cr_assert_eq(atomic_load(&f.inits), 0);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, the_first_acquire_initialises_and_later_ones_reuse_the_service) {
    factory_t f = make_factory();
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    user_t users[3];
    hop_task_t *tasks[3];
    for (int i = 0; i < 3; i++) {
        spawn_users(&svc, &users[i], &tasks[i], 1);
        finish_all(&tasks[i], 1);
        HOP_OK(users[i].status);
        cr_assert_eq(users[i].service, (void *)1001);
    }
    cr_assert_eq(atomic_load(&f.inits), 1);
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.accesses, 3);
    cr_assert_eq(s.users, 0);
    cr_assert_eq(s.state, LAZY_READY);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, init_runs_once_while_many_tasks_acquire_together) {
    factory_t f = make_factory();
    hop_future_t gate;
    hop_future_init(&gate);
    f.gate = &gate;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    enum { N = 6 };
    user_t users[N];
    hop_task_t *tasks[N];
    spawn_users(&svc, users, tasks, N);
    cr_assert_eq(atomic_load(&f.inits), 1);
    for (int i = 0; i < N; i++)
        cr_assert_eq(hop_task_state(tasks[i]), HOP_TASK_SUSPENDED);
    cr_assert_eq(stats_of(&svc).state, LAZY_INITIALIZING);
    HOP_OK(hop_future_set_result(&gate, NULL));
    finish_all(tasks, N);
    for (int i = 0; i < N; i++) {
        HOP_OK(users[i].status);
        cr_assert_eq(users[i].service, (void *)1001);
    }
    cr_assert_eq(atomic_load(&f.inits), 1);
    cr_assert_eq(stats_of(&svc).accesses, N);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, a_failed_init_reaches_its_waiters_and_the_next_acquire_tries_again) {
    factory_t f = make_factory();
    hop_future_t gate;
    hop_future_init(&gate);
    f.gate = &gate;
    f.fail_with = HOP_EAGAIN;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    enum { N = 3 };
    user_t users[N];
    hop_task_t *tasks[N];
    spawn_users(&svc, users, tasks, N);
    HOP_OK(hop_future_set_result(&gate, NULL));
    finish_all(tasks, N);
    for (int i = 0; i < N; i++)
        HOP_ERR(users[i].status, HOP_EAGAIN);
    cr_assert_eq(stats_of(&svc).state, LAZY_EMPTY);
    f.fail_with = 0;
    spawn_users(&svc, users, tasks, 1);
    finish_all(tasks, 1);
    HOP_OK(users[0].status);
    cr_assert_eq(users[0].service, (void *)1002);
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.inits, 2);
    cr_assert_eq(s.init_failures, 1);
    cr_assert_eq(s.accesses, 1);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, a_cancelled_waiter_leaves_while_init_completes_for_the_others) {
    factory_t f = make_factory();
    hop_future_t gate;
    hop_future_init(&gate);
    f.gate = &gate;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    enum { N = 3 };
    user_t users[N];
    hop_task_t *tasks[N];
    spawn_users(&svc, users, tasks, N);
    HOP_OK(hop_task_cancel(tasks[1]));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(tasks[1]), HOP_TASK_CANCELLED);
    HOP_ERR(users[1].status, HOP_ECANCELED);
    cr_assert_eq(hop_task_state(tasks[2]), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    finish_all(tasks, N);
    HOP_OK(users[0].status);
    HOP_OK(users[2].status);
    cr_assert_eq(stats_of(&svc).accesses, 2);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, when_the_initialising_task_is_cancelled_a_waiter_initialises_instead) {
    factory_t f = make_factory();
    hop_future_t gate;
    hop_future_init(&gate);
    f.gate = &gate;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    enum { N = 3 };
    user_t users[N];
    hop_task_t *tasks[N];
    spawn_users(&svc, users, tasks, N);
    HOP_OK(hop_task_cancel(tasks[0])); /* the initialiser */
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(users[0].status, HOP_ECANCELED);
    cr_assert_eq(atomic_load(&f.inits), 2, "a waiter took over the init");
    HOP_OK(hop_future_set_result(&gate, NULL));
    finish_all(tasks, N);
    HOP_OK(users[1].status);
    HOP_OK(users[2].status);
    cr_assert_eq(users[1].service, users[2].service);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, the_end_runs_cleanup_once_after_the_last_user_releases) {
    factory_t f = make_factory();
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    hop_future_t hold;
    hop_future_init(&hold);
    user_t holder = {.svc = &svc, .hold = &hold};
    hop_task_t *ut;
    HOP_OK(hop_task_spawn(manual, user_task, &holder, NULL, &ut));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(holder.status);
    cr_assert_eq(stats_of(&svc).users, 1);

    end_t e = {.svc = &svc, .status = 1};
    hop_task_t *et;
    HOP_OK(hop_task_spawn(manual, end_task, &e, NULL, &et));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(et), HOP_TASK_SUSPENDED, "the end must wait for the user");
    cr_assert_eq(atomic_load(&f.cleanups), 0);

    HOP_OK(hop_future_set_result(&hold, NULL)); /* the user releases */
    test_run_until_finished(manual, ut);
    test_run_until_finished(manual, et);
    HOP_OK(e.status);
    cr_assert_eq(atomic_load(&f.cleanups), 1);
    cr_assert_eq(f.cleaned, (void *)1001);
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.state, LAZY_CLOSED);
    cr_assert_eq(s.accesses, 1, "stats stay readable after the end");
    HOP_ERR(end_now(&svc), HOP_EALREADY);
    cr_assert_eq(atomic_load(&f.cleanups), 1);
    hop_task_unref(ut);
    hop_task_unref(et);
}

Test(example_lazy_service, an_end_without_any_acquire_runs_no_init_and_no_cleanup) {
    factory_t f = make_factory();
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    HOP_OK(end_now(&svc));
    cr_assert_eq(atomic_load(&f.inits), 0);
    cr_assert_eq(atomic_load(&f.cleanups), 0);
}

Test(example_lazy_service, acquires_after_the_end_began_are_refused_with_eclosed) {
    factory_t f = make_factory();
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    hop_future_t hold;
    hop_future_init(&hold);
    user_t holder = {.svc = &svc, .hold = &hold};
    hop_task_t *ut, *et, *late_t;
    HOP_OK(hop_task_spawn(manual, user_task, &holder, NULL, &ut));
    hop_manual_executor_run_all(manual, 0);
    end_t e = {.svc = &svc};
    HOP_OK(hop_task_spawn(manual, end_task, &e, NULL, &et));
    hop_manual_executor_run_all(manual, 0);
    user_t late = {.svc = &svc};
    HOP_OK(hop_task_spawn(manual, user_task, &late, NULL, &late_t));
    test_run_until_finished(manual, late_t);
    HOP_ERR(late.status, HOP_ECLOSED);
    HOP_OK(hop_future_set_result(&hold, NULL));
    test_run_until_finished(manual, et);
    HOP_OK(e.status);
    user_t after = {.svc = &svc};
    hop_task_t *at;
    HOP_OK(hop_task_spawn(manual, user_task, &after, NULL, &at));
    test_run_until_finished(manual, at);
    HOP_ERR(after.status, HOP_ECLOSED);
    hop_task_unref(ut);
    hop_task_unref(et);
    hop_task_unref(late_t);
    hop_task_unref(at);
}

Test(example_lazy_service, the_end_waits_for_an_init_in_progress_then_cleans_up) {
    factory_t f = make_factory();
    hop_future_t gate;
    hop_future_init(&gate);
    f.gate = &gate;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    user_t users[2];
    hop_task_t *tasks[2];
    spawn_users(&svc, users, tasks, 2); /* [0] initialises, [1] waits */
    end_t e = {.svc = &svc, .status = 1};
    hop_task_t *et;
    HOP_OK(hop_task_spawn(manual, end_task, &e, NULL, &et));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(et), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&gate, NULL));
    finish_all(tasks, 2);
    test_run_until_finished(manual, et);
    HOP_OK(users[0].status);
    HOP_ERR(users[1].status, HOP_ECLOSED);
    HOP_OK(e.status);
    cr_assert_eq(atomic_load(&f.cleanups), 1);
    hop_task_unref(et);
}

Test(example_lazy_service, a_second_end_while_one_waits_is_busy_and_a_cancelled_end_can_be_finished_later) {
    factory_t f = make_factory();
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    hop_future_t hold;
    hop_future_init(&hold);
    user_t holder = {.svc = &svc, .hold = &hold};
    hop_task_t *ut, *et;
    HOP_OK(hop_task_spawn(manual, user_task, &holder, NULL, &ut));
    hop_manual_executor_run_all(manual, 0);
    end_t e = {.svc = &svc, .status = 1};
    HOP_OK(hop_task_spawn(manual, end_task, &e, NULL, &et));
    hop_manual_executor_run_all(manual, 0);
    HOP_ERR(end_now(&svc), HOP_EBUSY);
    HOP_OK(hop_task_cancel(et));
    test_run_until_finished(manual, et);
    HOP_ERR(e.status, HOP_ECANCELED);
    cr_assert_eq(atomic_load(&f.cleanups), 0);
    HOP_OK(hop_future_set_result(&hold, NULL));
    test_run_until_finished(manual, ut);
    HOP_OK(end_now(&svc));
    cr_assert_eq(atomic_load(&f.cleanups), 1);
    hop_task_unref(ut);
    hop_task_unref(et);
}

Test(example_lazy_service, the_stats_give_the_init_time_and_the_access_count) {
    factory_t f = make_factory();
    f.sleep_ms = 30;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    uint64_t before = hop_time_now_ns();
    user_t users[4];
    hop_task_t *tasks[4];
    spawn_users(&svc, users, tasks, 4);
    finish_all(tasks, 4);
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.inits, 1);
    cr_assert_eq(s.accesses, 4);
    cr_assert_geq(s.init_ns, 30u * 1000000u, "init took %llu ns", (unsigned long long)s.init_ns);
    cr_assert_lt(s.init_ns, 5000ull * 1000000u);
    cr_assert_geq(s.ready_at_ns, before + 30u * 1000000u);
    HOP_OK(end_now(&svc));
}

Test(example_lazy_service, bad_arguments_and_unbalanced_releases_are_rejected) {
    factory_t f = make_factory();
    lazy_service_t svc;
    HOP_ERR(lazy_service_begin(NULL, make_service, NULL, NULL), HOP_EINVAL);
    HOP_ERR(lazy_service_begin(&svc, NULL, NULL, NULL), HOP_EINVAL);
    HOP_OK(lazy_service_begin(&svc, make_service, drop_service, &f));
    void *s;
    HOP_ERR(lazy_service_acquire(&svc, &s), HOP_ENOTTASK);
    HOP_ERR(lazy_service_acquire(NULL, &s), HOP_EINVAL);
    HOP_ERR(lazy_service_acquire(&svc, NULL), HOP_EINVAL);
    HOP_ERR(lazy_service_release(&svc), HOP_ESTATE);
    HOP_ERR(lazy_service_release(NULL), HOP_EINVAL);
    HOP_ERR(lazy_service_end(&svc), HOP_ENOTTASK);
    HOP_ERR(lazy_service_end(NULL), HOP_EINVAL);
    HOP_ERR(lazy_service_stats(&svc, NULL), HOP_EINVAL);
    HOP_OK(end_now(&svc));
}

/* Across threads: tasks on a pool and a loop arrive together. */
static void *busy_user(void *arg) {
    user_t *u = arg;
    u->status = lazy_service_acquire(u->svc, &u->service);
    if (u->status == 0) {
        hop_yield();
        lazy_service_release(u->svc);
    }
    return NULL;
}

Test(example_lazy_service, fifty_tasks_on_a_pool_and_a_loop_share_one_init, .timeout = 120) {
    hop_pool_t pool;
    hop_loop_t loop;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    factory_t f = make_factory();
    f.sleep_ms = 50;
    lazy_service_t svc;
    lazy_service_begin(&svc, make_service, drop_service, &f);
    enum { N = 50 };
    user_t users[N];
    hop_task_t *tasks[N];
    for (int i = 0; i < N; i++) {
        users[i] = (user_t){.svc = &svc, .status = 1};
        hop_executor_t *e = i % 3 ? hop_pool_executor(&pool) : hop_loop_executor(&loop);
        HOP_OK(hop_task_spawn(e, busy_user, &users[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < N; i++) {
        HOP_OK(hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL));
        HOP_OK(users[i].status);
        cr_assert_eq(users[i].service, (void *)1001);
        hop_task_unref(tasks[i]);
    }
    cr_assert_eq(atomic_load(&f.inits), 1);
    end_t e = {.svc = &svc, .status = 1};
    hop_task_t *et;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), end_task, &e, NULL, &et));
    HOP_OK(hop_future_wait(hop_task_future(et), HOP_WAIT_FOREVER, NULL));
    hop_task_unref(et);
    HOP_OK(e.status);
    lazy_service_stats_t s = stats_of(&svc);
    cr_assert_eq(s.accesses, N);
    cr_assert_eq(s.users, 0);
    cr_assert_eq(atomic_load(&f.cleanups), 1);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
}

/* Many scopes, each with users on two threads, an end racing the users and
 * random cancels: init at most once per scope, cleanup exactly once when
 * init succeeded, and nobody holds the service after the end. */
Test(example_lazy_service, ends_racing_users_and_cancels_clean_up_exactly_once, .timeout = 240) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    enum { ROUNDS = 60, N = 16 };
    for (int round = 0; round < ROUNDS; round++) {
        factory_t f = make_factory();
        f.sleep_ms = round % 2;
        lazy_service_t svc;
        lazy_service_begin(&svc, make_service, drop_service, &f);
        user_t users[N];
        hop_task_t *tasks[N];
        for (int i = 0; i < N; i++) {
            users[i] = (user_t){.svc = &svc, .status = 1};
            HOP_OK(hop_task_spawn(hop_pool_executor(&pool), busy_user, &users[i], NULL, &tasks[i]));
            if ((i + round) % 5 == 0)
                hop_task_cancel(tasks[i]);
        }
        end_t e = {.svc = &svc, .status = 1};
        hop_task_t *et;
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), end_task, &e, NULL, &et));
        for (int i = 0; i < N; i++) {
            hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
            cr_assert(users[i].status == 0 || users[i].status == 1 || users[i].status == HOP_ECLOSED ||
                          users[i].status == HOP_ECANCELED,
                      "round %d user %d: %s", round, i, hop_err_name(users[i].status));
            hop_task_unref(tasks[i]);
        }
        HOP_OK(hop_future_wait(hop_task_future(et), HOP_WAIT_FOREVER, NULL));
        hop_task_unref(et);
        HOP_OK(e.status);
        lazy_service_stats_t s = stats_of(&svc);
        cr_assert_eq(s.state, LAZY_CLOSED);
        cr_assert_eq(s.users, 0);
        cr_assert_leq(s.inits - s.init_failures, 1, "round %d: %llu successful inits", round,
                      (unsigned long long)(s.inits - s.init_failures));
        cr_assert_eq((uint64_t)atomic_load(&f.cleanups), s.inits - s.init_failures, "round %d", round);
    }
    HOP_OK(hop_pool_close(&pool));
}
