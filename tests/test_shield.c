/* tests/test_shield.c: shields (hop_shield_enter / hop_shield_exit,
 * hop_await_shielded): a cancel or an outer deadline does not cut a shielded
 * await short and is delivered once the shield ends; the shield's own
 * deadline, and deadlines entered inside it, still interrupt. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"

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

TestSuite(shield, .init = setup, .fini = teardown, .timeout = 120);

/* ---- a cancel during a shield ------------------------------------------- */

typedef struct {
    hop_event_t event;
    int shielded_status; /* the event wait inside the shield */
    int exit_status;     /* hop_shield_exit */
    int after_status;    /* the first await after the shield */
} shield_wait_t;

static void *wait_in_a_shield(void *arg) {
    shield_wait_t *w = arg;
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 60000));
    w->shielded_status = hop_event_wait(&w->event);
    w->exit_status = hop_shield_exit(&shield);
    w->after_status = hop_sleep(1);
    return NULL;
}

static void run_cancel_during_a_shield(hop_executor_t *executor) {
    shield_wait_t w = {0};
    HOP_OK(hop_event_init(&w.event));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(executor, wait_in_a_shield, &w, NULL, &t));
    test_wait_suspended(t); /* in the event wait, inside the shield */
    /* An interrupt of an event wait runs inside hop_task_cancel: had the
     * shield let it through, the task would already be resumed with
     * HOP_ECANCELED before the event is set. */
    HOP_OK(hop_task_cancel(t));
    HOP_OK(hop_event_set(&w.event));
    hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    hop_task_unref(t);
    cr_assert_eq(w.shielded_status, 0, "the shielded wait returned %s", hop_err_name(w.shielded_status));
    cr_assert_eq(w.exit_status, 0);
    cr_assert_eq(w.after_status, HOP_ECANCELED, "after the shield: %s", hop_err_name(w.after_status));
    HOP_OK(hop_event_destroy(&w.event));
}

Test(shield, a_cancel_during_a_shield_neither_interrupts_its_await_nor_is_lost_on_a_loop) {
    run_cancel_during_a_shield(hop_loop_executor(&loop));
    test_assert_checks();
}

Test(shield, a_cancel_during_a_shield_neither_interrupts_its_await_nor_is_lost_on_the_pool) {
    run_cancel_during_a_shield(hop_pool_executor(&pool));
    test_assert_checks();
}

/* ---- a cancel before the shield ----------------------------------------- */

typedef struct {
    int before; /* an await after the cancel, before the shield */
    int inside; /* an interruptible await inside the shield */
    int exit;   /* hop_shield_exit */
    int after;  /* an await after the shield */
} cancelled_first_t;

static void *cancel_self_then_shield(void *arg) {
    cancelled_first_t *r = arg;
    hop_task_cancel(hop_task_current());
    r->before = hop_sleep(1);
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 60000));
    r->inside = hop_sleep(1);
    r->exit = hop_shield_exit(&shield);
    r->after = hop_yield();
    return NULL;
}

Test(shield, a_task_cancelled_before_its_shield_still_awaits_inside_it_and_ends_cancelled) {
    cancelled_first_t r = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), cancel_self_then_shield, &r, NULL, &t));
    HOP_ERR(test_join(t), HOP_ECANCELED);
    cr_assert_eq(r.before, HOP_ECANCELED);
    cr_assert_eq(r.inside, 0, "inside the shield: %s", hop_err_name(r.inside));
    cr_assert_eq(r.exit, 0);
    cr_assert_eq(r.after, HOP_ECANCELED);
    test_assert_checks();
}

/* ---- the shield's own deadline ------------------------------------------ */

typedef struct {
    hop_event_t never;
    int wait;
    int later;
    int exit;
    int after;
} shield_deadline_t;

static void *outlive_the_shield_deadline(void *arg) {
    shield_deadline_t *r = arg;
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 20));
    r->wait = hop_event_wait(&r->never);
    r->later = hop_sleep(1);
    r->exit = hop_shield_exit(&shield);
    r->after = hop_sleep(1);
    return NULL;
}

Test(shield, the_shield_deadline_interrupts_its_await_and_every_later_one_inside_it) {
    shield_deadline_t r = {0};
    HOP_OK(hop_event_init(&r.never));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), outlive_the_shield_deadline, &r, NULL, &t));
    HOP_OK(test_join(t));
    cr_assert_eq(r.wait, HOP_ETIMEDOUT);
    cr_assert_eq(r.later, HOP_ETIMEDOUT);
    cr_assert_eq(r.exit, HOP_ETIMEDOUT);
    cr_assert_eq(r.after, 0, "after the shield: %s", hop_err_name(r.after));
    HOP_OK(hop_event_destroy(&r.never));
    test_assert_checks();
}

/* ---- deadlines and shields ---------------------------------------------- */

typedef struct {
    int inside;
    int exit;
    int after;
    int leave;
} outer_deadline_t;

/* On a loop, both timers are the loop's: the 1 ms deadline fires before the
 * 100 ms sleep's timer, so it has expired by the time the sleep ends. */
static void *outer_deadline_expires_in_a_shield(void *arg) {
    outer_deadline_t *r = arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 1));
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 60000));
    r->inside = hop_sleep(100);
    r->exit = hop_shield_exit(&shield);
    r->after = hop_sleep(1);
    r->leave = hop_deadline_leave(&deadline);
    return NULL;
}

Test(shield, an_outer_deadline_expiring_inside_a_shield_is_delivered_after_it) {
    outer_deadline_t r = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), outer_deadline_expires_in_a_shield, &r, NULL, &t));
    HOP_OK(test_join(t));
    cr_assert_eq(r.inside, 0, "inside the shield: %s", hop_err_name(r.inside));
    cr_assert_eq(r.exit, 0);
    cr_assert_eq(r.after, HOP_ETIMEDOUT);
    cr_assert_eq(r.leave, HOP_ETIMEDOUT);
    test_assert_checks();
}

typedef struct {
    hop_event_t never;
    int wait;
    int leave;
    int exit;
    int after;
} inner_deadline_t;

static void *deadline_inside_a_shield(void *arg) {
    inner_deadline_t *r = arg;
    hop_task_cancel(hop_task_current());
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 60000));
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 10));
    r->wait = hop_event_wait(&r->never);
    r->leave = hop_deadline_leave(&deadline);
    r->exit = hop_shield_exit(&shield);
    r->after = hop_sleep(1);
    return NULL;
}

Test(shield, a_deadline_entered_inside_a_shield_interrupts_as_usual) {
    inner_deadline_t r = {0};
    HOP_OK(hop_event_init(&r.never));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), deadline_inside_a_shield, &r, NULL, &t));
    HOP_ERR(test_join(t), HOP_ECANCELED);
    cr_assert_eq(r.wait, HOP_ETIMEDOUT);
    cr_assert_eq(r.leave, HOP_ETIMEDOUT);
    cr_assert_eq(r.exit, 0);
    cr_assert_eq(r.after, HOP_ECANCELED);
    HOP_OK(hop_event_destroy(&r.never));
    test_assert_checks();
}

typedef struct {
    int inner_sleep;
    int inner_exit;
    int outer_after;
    int outer_exit;
} nested_t;

/* The outer shield's 1 ms deadline fires (same loop clock) before the
 * 100 ms sleep inside the inner shield ends. */
static void *nested_shields(void *arg) {
    nested_t *r = arg;
    hop_shield_t outer, inner;
    CHECK_OK(hop_shield_enter(&outer, 1));
    CHECK_OK(hop_shield_enter(&inner, 60000));
    r->inner_sleep = hop_sleep(100);
    r->inner_exit = hop_shield_exit(&inner);
    r->outer_after = hop_sleep(1);
    r->outer_exit = hop_shield_exit(&outer);
    return NULL;
}

Test(shield, an_inner_shield_masks_the_outer_shields_deadline_until_it_ends) {
    nested_t r = {0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), nested_shields, &r, NULL, &t));
    HOP_OK(test_join(t));
    cr_assert_eq(r.inner_sleep, 0);
    cr_assert_eq(r.inner_exit, 0);
    cr_assert_eq(r.outer_after, HOP_ETIMEDOUT);
    cr_assert_eq(r.outer_exit, HOP_ETIMEDOUT);
    test_assert_checks();
}

/* ---- hop_await_shielded -------------------------------------------------- */

typedef struct {
    hop_awaitable_t base;
    hop_timer_t timer;
} timer_wait_t;

static void timer_wait_fire(hop_timer_t *timer, void *arg) {
    (void)timer;
    hop_awaitable_complete(arg, 7);
}
static bool timer_wait_suspend(hop_awaitable_t *aw) {
    timer_wait_t *w = (timer_wait_t *)aw;
    return hop_timer_start(&w->timer, 5, timer_wait_fire, aw) == 0;
}
static int timer_wait_cancel(hop_awaitable_t *aw) {
    return hop_timer_stop(&((timer_wait_t *)aw)->timer) == 0 ? 0 : HOP_EALREADY;
}
static const hop_awaitable_ops_t timer_wait_ops = {.suspend = timer_wait_suspend,
                                                   .cancel = timer_wait_cancel};

static void *cancelled_task_awaits_shielded(void *arg) {
    int *status = arg;
    hop_task_cancel(hop_task_current());
    timer_wait_t w = {0};
    hop_awaitable_init(&w.base, &timer_wait_ops);
    status[0] = hop_await(&w.base);
    status[1] = hop_await_shielded(&w.base, 60000);
    return NULL;
}

Test(shield, await_shielded_completes_an_await_of_a_cancelled_task) {
    int status[2] = {0, 0};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), cancelled_task_awaits_shielded, status, NULL, &t));
    HOP_ERR(test_join(t), HOP_ECANCELED);
    cr_assert_eq(status[0], HOP_ECANCELED);
    cr_assert_eq(status[1], 7, "hop_await_shielded returned %d", status[1]);
    test_assert_checks();
}

static void *shielded_await_times_out(void *arg) {
    int *status = arg;
    hop_event_t never;
    CHECK_OK(hop_event_init(&never));
    hop_task_cancel(hop_task_current());
    hop_shield_t shield;
    CHECK_OK(hop_shield_enter(&shield, 10));
    *status = hop_event_wait(&never);
    CHECK_ERR(hop_shield_exit(&shield), HOP_ETIMEDOUT);
    CHECK_OK(hop_event_destroy(&never));
    return NULL;
}

Test(shield, a_cancelled_tasks_cleanup_is_still_bounded_by_the_shield_deadline) {
    int status = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), shielded_await_times_out, &status, NULL, &t));
    HOP_ERR(test_join(t), HOP_ECANCELED);
    cr_assert_eq(status, HOP_ETIMEDOUT);
    test_assert_checks();
}

/* ---- bad input ------------------------------------------------------------ */

static void *misuse(void *arg) {
    (void)arg;
    hop_shield_t a, b;
    CHECK_ERR(hop_shield_enter(NULL, 10), HOP_EINVAL);
    CHECK_ERR(hop_shield_enter(&a, -1), HOP_EINVAL);
    CHECK_ERR(hop_shield_exit(NULL), HOP_EINVAL);
    CHECK_OK(hop_shield_enter(&a, 60000));
    CHECK_OK(hop_shield_enter(&b, 60000));
    CHECK_ERR(hop_shield_exit(&a), HOP_EINVAL); /* not the innermost */
    hop_deadline_t d;
    CHECK_OK(hop_deadline_enter(&d, 60000));
    CHECK_ERR(hop_shield_exit(&b), HOP_EINVAL); /* a deadline inside is still entered */
    CHECK_OK(hop_deadline_leave(&d));
    CHECK_OK(hop_shield_exit(&b));
    /* A deadline entered outside a shield is left after it, not inside. */
    CHECK_OK(hop_deadline_enter(&d, 60000));
    CHECK_OK(hop_shield_enter(&b, 60000));
    CHECK_ERR(hop_deadline_leave(&d), HOP_EINVAL);
    CHECK_OK(hop_shield_exit(&b));
    CHECK_OK(hop_deadline_leave(&d));
    CHECK_OK(hop_shield_exit(&a));
    CHECK_ERR(hop_await_shielded(NULL, 10), HOP_EINVAL);
    return NULL;
}

Test(shield, shields_refuse_bad_input_and_misnesting_without_changing_anything) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), misuse, NULL, NULL, &t));
    HOP_OK(test_join(t));
    hop_shield_t s;
    HOP_ERR(hop_shield_enter(&s, 10), HOP_ENOTTASK);
    HOP_ERR(hop_shield_exit(&s), HOP_ENOTTASK);
    test_assert_checks();
}

static void *return_inside_a_shield(void *arg) {
    static hop_shield_t shield; /* static: the abort must come from hop, not from a dead stack */
    (void)arg;
    hop_shield_enter(&shield, 60000);
    return NULL;
}

static void no_setup(void) {}

Test(shield, a_task_that_returns_inside_a_shield_aborts_the_process, .init = no_setup, .fini = no_setup) {
    pid_t child = fork();
    cr_assert_neq(child, -1);
    if (child == 0) {
        hop_task_spawn(hop_inline_executor(), return_inside_a_shield, NULL, NULL, NULL);
        _exit(0); /* reached only if the forgotten shield went unnoticed */
    }
    int status;
    waitpid(child, &status, 0);
    cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the forgotten shield went unnoticed");
    test_assert_checks();
}

/* ---- stress: cancels racing shield entry and exit ------------------------ */

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifdef UNDER_TSAN
enum { STRESS_TASKS = 16, STRESS_MIN_ROUNDS = 3 };
#else
enum { STRESS_TASKS = 64, STRESS_MIN_ROUNDS = 5 };
#endif

typedef struct {
    unsigned int rounds;        /* atomic */
    unsigned int shielded_cuts; /* shielded awaits that returned an error */
    unsigned int ended_by_cancel;
} churn_t;

/* Alternates a shielded sleep with an unshielded one until a cancel stops
 * it: the cancel may land anywhere, but never inside a shield. */
static void *shield_churn(void *arg) {
    churn_t *c = arg;
    for (;;) {
        hop_shield_t shield;
        CHECK_OK(hop_shield_enter(&shield, 60000));
        if (hop_sleep(1) != 0 || hop_yield() != 0)
            c->shielded_cuts++;
        CHECK_OK(hop_shield_exit(&shield));
        __atomic_fetch_add(&c->rounds, 1u, __ATOMIC_RELEASE);
        int status = hop_sleep(1);
        if (status == HOP_ECANCELED) {
            c->ended_by_cancel = 1;
            return NULL;
        }
        CHECK_OK(status);
    }
}

Test(shield, cancels_racing_shield_entry_and_exit_never_cut_a_shielded_await) {
    churn_t churn[STRESS_TASKS];
    hop_task_t *tasks[STRESS_TASKS];
    memset(churn, 0, sizeof churn);
    for (int i = 0; i < STRESS_TASKS; i++) {
        hop_executor_t *executor = i % 2 ? hop_pool_executor(&pool) : hop_loop_executor(&loop);
        HOP_OK(hop_task_spawn(executor, shield_churn, &churn[i], NULL, &tasks[i]));
    }
    for (int i = 0; i < STRESS_TASKS; i++) {
        test_wait_for(&churn[i].rounds, STRESS_MIN_ROUNDS + (unsigned int)i % 3);
        HOP_OK(hop_task_cancel(tasks[i]));
    }
    for (int i = 0; i < STRESS_TASKS; i++) {
        HOP_ERR(test_join(tasks[i]), HOP_ECANCELED);
        cr_assert_eq(churn[i].shielded_cuts, 0, "task %d: a shielded await was cut short", i);
        cr_assert_eq(churn[i].ended_by_cancel, 1, "task %d", i);
    }
    test_assert_checks();
}
