/* tests/test_io_signal.c: signal watchers (hop/signal.h): a raised signal
 * wakes a waiting task, deliveries between waits are counted, waits are
 * cancellable, close wakes a waiter and gives the default action back.
 * SIGUSR1 and SIGUSR2 only; each test runs in a process of its own, and the
 * default dispositions are put back at the end. */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "io_fixture.h"

static void setup(void) {
    io_fixture_start();
}

static void teardown(void) {
    io_fixture_stop();
    signal(SIGUSR1, SIG_DFL);
    signal(SIGUSR2, SIG_DFL);
}

TestSuite(io_signal, .init = setup, .fini = teardown, .timeout = 60);

typedef struct {
    hop_loop_t *loop;
    int signum;
    hop_signal_t *watcher;
} open_t;

static void *open_task(void *arg) {
    open_t *o = arg;
    return (void *)(intptr_t)hop_signal_open(o->loop, o->signum, &o->watcher);
}

static hop_signal_t *open_watcher(hop_loop_t *loop, int signum) {
    open_t o = {loop, signum, NULL};
    intptr_t err = run_task(POOL, open_task, &o);
    cr_assert_eq(err, 0, "hop_signal_open: %s", hop_err_name((int)err));
    return o.watcher;
}

static void *close_task(void *arg) { return (void *)(intptr_t)hop_signal_close(arg); }

static void close_watcher(hop_signal_t *w) { cr_assert_eq(run_task(POOL, close_task, w), 0); }

typedef struct {
    hop_signal_t *watcher;
    int64_t got;
    hop_executor_t *before, *after;
} wait_t;

static void *wait_task(void *arg) {
    wait_t *w = arg;
    w->before = hop_executor_current();
    w->got = hop_signal_wait(w->watcher);
    w->after = hop_executor_current();
    return NULL;
}

/* Polls until the watcher has counted n deliveries not yet consumed. */
static void wait_pending(hop_signal_t *w, uint64_t n) {
    uint64_t until = hop_time_now_ns() + 30ull * 1000000000u;
    while (hop_signal_pending(w) < n) {
        cr_assert(hop_time_now_ns() < until, "%llu of %llu deliveries counted",
                  (unsigned long long)hop_signal_pending(w), (unsigned long long)n);
        test_sleep_ms(1);
    }
}

Test(io_signal, a_raised_signal_wakes_a_waiting_pool_task_which_resumes_on_the_pool) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(POOL, wait_task, &wait);
    test_wait_suspended(t);
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(wait.got, 1, "%lld", (long long)wait.got);
    cr_assert_eq(wait.after, POOL);
    cr_assert_eq(hop_signal_pending(w), 0u, "consumed");
    close_watcher(w);
}

Test(io_signal, a_task_on_another_loop_is_woken_and_resumes_on_its_own_loop) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR2);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(LOOP_B, wait_task, &wait);
    test_wait_suspended(t);
    cr_assert_eq(raise(SIGUSR2), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(wait.got, 1);
    cr_assert_eq(wait.before, LOOP_B);
    cr_assert_eq(wait.after, LOOP_B);
    close_watcher(w);
}

Test(io_signal, two_signals_before_a_wait_are_both_counted_and_returned_by_it) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(raise(SIGUSR1), 0);
    wait_pending(w, 2);
    wait_t wait = {.watcher = w};
    run_task(LOOP_A, wait_task, &wait);
    cr_assert_eq(wait.got, 2, "%lld", (long long)wait.got);
    cr_assert_eq(hop_signal_pending(w), 0u);
    close_watcher(w);
}

Test(io_signal, every_watcher_of_a_signal_counts_every_delivery) {
    hop_signal_t *a = open_watcher(&loop_a, SIGUSR1);
    hop_signal_t *b = open_watcher(&loop_b, SIGUSR1);
    cr_assert_eq(raise(SIGUSR1), 0);
    wait_pending(a, 1);
    wait_pending(b, 1);
    close_watcher(a);
    cr_assert_eq(raise(SIGUSR1), 0); /* b still holds the signal: the process lives */
    wait_pending(b, 2);
    close_watcher(b);
}

Test(io_signal, a_cancelled_wait_returns_ecanceled_and_the_next_delivery_waits_for_the_next_call) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(POOL, wait_task, &wait);
    test_wait_suspended(t);
    HOP_OK(hop_task_cancel(t));
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    cr_assert_eq(wait.got, HOP_ECANCELED, "%s", hop_err_name((int)wait.got));
    cr_assert_eq(wait.after, POOL);
    cr_assert_eq(raise(SIGUSR1), 0);
    wait_pending(w, 1);
    wait_t again = {.watcher = w};
    run_task(LOOP_B, wait_task, &again);
    cr_assert_eq(again.got, 1);
    close_watcher(w);
}

static void *deadline_wait_task(void *arg) {
    wait_t *w = arg;
    hop_deadline_t deadline;
    hop_deadline_enter(&deadline, 20);
    w->got = hop_signal_wait(w->watcher);
    hop_deadline_leave(&deadline);
    return NULL;
}

Test(io_signal, a_wait_past_its_deadline_returns_etimedout) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR2);
    wait_t wait = {.watcher = w};
    run_task(POOL, deadline_wait_task, &wait);
    cr_assert_eq(wait.got, HOP_ETIMEDOUT, "%s", hop_err_name((int)wait.got));
    close_watcher(w);
}

Test(io_signal, closing_the_watcher_wakes_its_waiting_task_with_eclosed) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(LOOP_B, wait_task, &wait);
    test_wait_suspended(t);
    close_watcher(w);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(wait.got, HOP_ECLOSED, "%s", hop_err_name((int)wait.got));
}

Test(io_signal, closing_the_last_watcher_gives_the_signal_its_default_action_back) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR2);
    struct sigaction now;
    cr_assert_eq(sigaction(SIGUSR2, NULL, &now), 0);
    cr_assert((now.sa_flags & SA_SIGINFO) || now.sa_handler != SIG_DFL, "caught while open");
    close_watcher(w);
    cr_assert_eq(sigaction(SIGUSR2, NULL, &now), 0);
    cr_assert(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL, "default after close");
}

Test(io_signal, a_watcher_whose_loop_closed_wakes_its_waiter_with_eclosed_and_close_releases_it) {
    static hop_loop_t loop_c;
    HOP_OK(hop_loop_init(&loop_c, NULL));
    HOP_OK(hop_loop_start(&loop_c));
    hop_signal_t *w = open_watcher(&loop_c, SIGUSR2);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(POOL, wait_task, &wait);
    test_wait_suspended(t);
    HOP_OK(hop_loop_close(&loop_c));
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(wait.got, HOP_ECLOSED, "%s", hop_err_name((int)wait.got));
    HOP_OK(hop_signal_close(w)); /* only releases it now: from any thread */
    struct sigaction now;
    cr_assert_eq(sigaction(SIGUSR2, NULL, &now), 0);
    cr_assert(!(now.sa_flags & SA_SIGINFO) && now.sa_handler == SIG_DFL, "default after the loop closed it");
}

static void *second_waiter_task(void *arg) {
    hop_signal_t *w = arg;
    return (void *)(intptr_t)hop_signal_wait(w);
}

Test(io_signal, a_second_concurrent_waiter_gets_ebusy) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    wait_t wait = {.watcher = w};
    hop_task_t *t = test_spawn(POOL, wait_task, &wait);
    test_wait_suspended(t);
    cr_assert_eq(run_task(LOOP_B, second_waiter_task, w), HOP_EBUSY);
    cr_assert_eq(raise(SIGUSR1), 0);
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(wait.got, 1);
    close_watcher(w);
}

static void *bad_open_task(void *arg) {
    (void)arg;
    hop_signal_t *w;
    CHECK_ERR(hop_signal_open(&loop_a, SIGKILL, &w), HOP_EINVAL);
    CHECK_ERR(hop_signal_open(&loop_a, SIGSTOP, &w), HOP_EINVAL);
    CHECK_ERR(hop_signal_open(&loop_a, 0, &w), HOP_EINVAL);
    CHECK_ERR(hop_signal_open(&loop_a, 100000, &w), HOP_EINVAL);
    CHECK_ERR(hop_signal_open(&loop_a, SIGUSR1, NULL), HOP_EINVAL);
    CHECK_ERR(hop_signal_open(NULL, SIGUSR1, &w), HOP_EINVAL); /* a pool task has no loop */
    CHECK_ERR((int)hop_signal_wait(NULL), HOP_EINVAL);
    CHECK_ERR(hop_signal_close(NULL), HOP_EINVAL);
    return NULL;
}

Test(io_signal, bad_arguments_get_einval) {
    run_task(POOL, bad_open_task, NULL);
    hop_signal_t *w;
    HOP_ERR(hop_signal_open(&loop_a, SIGUSR1, &w), HOP_ENOTTASK);
}

/* ---- deliveries and cancels from a plain thread at random moments ------------------------ */

#define STRESS_ROUNDS (1000 / STRESS_SCALE)

typedef struct {
    hop_signal_t *watcher;
    unsigned int started; /* atomic: the round's waiter runs */
    int64_t got;
    unsigned int resumed;
} stress_round_t;

static void *stress_wait_task(void *arg) {
    stress_round_t *r = arg;
    test_store_uint(&r->started, 1);
    r->got = hop_signal_wait(r->watcher);
    r->resumed++;
    return NULL;
}

Test(io_signal, deliveries_and_cancels_at_random_moments_lose_and_duplicate_no_delivery, .timeout = 300) {
    hop_signal_t *w = open_watcher(&loop_a, SIGUSR1);
    hop_executor_t *executors[] = {POOL, LOOP_B, LOOP_A};
    unsigned int seed = 7;
    uint64_t raised = 0, taken = 0, cancelled = 0;
    for (int i = 0; i < STRESS_ROUNDS; i++) {
        stress_round_t r = {.watcher = w};
        hop_task_t *t = test_spawn(executors[i % 3], stress_wait_task, &r);
        while (!test_load_uint(&r.started))
            sched_yield();
        /* This thread raises the signal (its handler runs right here, so
         * each raise is one delivery), cancels the waiter, or both, in
         * either order, after a random pause. */
        unsigned int choice = (unsigned int)rand_r(&seed) % 4u;
        unsigned int spin = (unsigned int)rand_r(&seed) % 5000u;
        for (volatile unsigned int k = 0; k < spin; k++)
            ;
        if (choice != 1) {
            cr_assert_eq(raise(SIGUSR1), 0);
            raised++;
        }
        if (choice != 0)
            hop_task_cancel(t);
        if (choice == 3) {
            cr_assert_eq(raise(SIGUSR1), 0);
            raised++;
        }
        hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(t);
        cr_assert_eq(r.resumed, 1u, "round %d: resumed once", i);
        cr_assert(r.got > 0 || r.got == HOP_ECANCELED, "round %d: %s", i, hop_err_name((int)r.got));
        if (r.got > 0)
            taken += (uint64_t)r.got;
        else
            cancelled++;
        cr_assert_leq(taken, raised, "round %d: never more than delivered", i);
    }
    /* What no wait took is still counted: one last wait takes all of it. */
    uint64_t left = raised - taken;
    if (left) {
        wait_pending(w, left);
        stress_round_t r = {.watcher = w};
        run_task(POOL, stress_wait_task, &r);
        cr_assert_eq(r.got, (int64_t)left, "the rest at once");
    }
    cr_assert_eq(hop_signal_pending(w), 0u);
    cr_log_info("%d rounds: %llu raised, %llu cancelled waits", STRESS_ROUNDS, (unsigned long long)raised,
                (unsigned long long)cancelled);
    cr_assert_gt(cancelled, 0u);
    close_watcher(w);
}
