/* tests/test_io_op.c: the I/O layer's foundation (src/io/io_internal.h):
 * an operation started on its handle's loop for a task on any executor,
 * cancelled there from any thread, a handle closed under a waiting task, and
 * libuv's errors as hop's. The "handle" here is a one-shot timer written
 * against the internal contract exactly as the I/O modules are. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "helpers.h"
#include "io/io_internal.h"

TestSuite(io_op, .timeout = 120);

typedef struct {
    hop__io_handle_t h;
    uv_timer_t timer;
    hop__io_op_t *waiter;   /* loop thread only */
    unsigned int off_loop;  /* start, fire or cancel ran off the loop thread */
    unsigned int late;      /* fired with nobody waiting */
    unsigned int destroyed; /* atomic */
} iotimer_t;

typedef struct {
    hop__io_op_t op;
    iotimer_t *t;
    uint64_t ms;
} iotimer_wait_t;

static void iotimer_check(iotimer_t *t) {
    if (!hop__io_on_loop(t->h.loop))
        t->off_loop++;
}

static void iotimer_fire(uv_timer_t *timer) {
    iotimer_t *t = timer->data;
    iotimer_check(t);
    hop__io_op_t *op = t->waiter;
    t->waiter = NULL;
    if (!op) {
        t->late++;
        return;
    }
    hop__io_op_complete(op, 0);
}

static int iotimer_start(hop__io_op_t *op) {
    iotimer_wait_t *w = (iotimer_wait_t *)op;
    iotimer_t *t = w->t;
    iotimer_check(t);
    if (t->waiter)
        return HOP_EBUSY;
    t->waiter = op;
    uv_timer_start(&t->timer, iotimer_fire, w->ms, 0);
    return HOP__IO_PENDING;
}

static int iotimer_cancel(hop__io_op_t *op) {
    iotimer_t *t = ((iotimer_wait_t *)op)->t;
    iotimer_check(t);
    if (t->waiter != op)
        return HOP_EALREADY;
    uv_timer_stop(&t->timer);
    t->waiter = NULL;
    return 0;
}

static void iotimer_wake(hop__io_handle_t *h, int status) {
    iotimer_t *t = (iotimer_t *)h;
    if (t->waiter) {
        uv_timer_stop(&t->timer);
        hop__io_op_t *op = t->waiter;
        t->waiter = NULL;
        hop__io_op_complete(op, status);
    }
}

static unsigned int iotimers_destroyed;
static void iotimer_destroy(hop__io_handle_t *h) {
    free(h);
    __atomic_fetch_add(&iotimers_destroyed, 1u, __ATOMIC_ACQ_REL);
}

static int iotimer_open_on_loop(void *arg) {
    iotimer_t *t = arg;
    int err = uv_timer_init(hop_loop_uv(t->h.loop), &t->timer);
    t->timer.data = t;
    return hop__io_error(err);
}

/* Task only: opens a timer handle on loop. */
static iotimer_t *iotimer_open(hop_loop_t *loop) {
    iotimer_t *t = calloc(1, sizeof *t);
    hop__io_handle_init(&t->h, loop, (uv_handle_t *)&t->timer, iotimer_wake, iotimer_destroy);
    if (hop__io_call_on_loop(loop, iotimer_open_on_loop, t) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static int iotimer_wait(iotimer_t *t, uint64_t ms) {
    int err = hop__io_handle_enter(&t->h);
    if (err)
        return err;
    iotimer_wait_t w = {.t = t, .ms = ms};
    err = hop__io_op_run(&w.op, t->h.loop, iotimer_start, iotimer_cancel);
    hop__io_handle_leave(&t->h);
    return err;
}

/* ---- where it runs ---------------------------------------------------------- */

static hop_loop_t home_loop, other_loop;
static hop_pool_t pool;

static void setup_executors(void) {
    HOP_OK(hop_loop_init(&home_loop, NULL));
    HOP_OK(hop_loop_start(&home_loop));
    HOP_OK(hop_loop_init(&other_loop, NULL));
    HOP_OK(hop_loop_start(&other_loop));
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
}

static void close_executors(void) {
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&other_loop));
    HOP_OK(hop_loop_close(&home_loop));
}

typedef struct {
    iotimer_t *timer;
    int status;
    bool same_executor; /* resumed on the executor it awaited from */
} where_t;

static void *where_task(void *arg) {
    where_t *w = arg;
    hop_executor_t *before = hop_executor_current();
    w->status = iotimer_wait(w->timer, 1);
    w->same_executor = hop_executor_current() == before;
    if (before == hop_loop_executor(&home_loop))
        w->same_executor = w->same_executor && hop_loop_current() == &home_loop;
    if (before == hop_loop_executor(&other_loop))
        w->same_executor = w->same_executor && hop_loop_current() == &other_loop;
    return NULL;
}

static void *open_task(void *arg) { return iotimer_open(arg); }
static void *close_task(void *arg) { return (void *)(intptr_t)hop__io_handle_close(arg); }

static iotimer_t *open_from(hop_executor_t *executor, hop_loop_t *loop) {
    hop_task_t *t = test_spawn(executor, open_task, loop);
    void *timer = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &timer));
    hop_task_unref(t);
    cr_assert_not_null(timer);
    return timer;
}

static int close_from(hop_executor_t *executor, iotimer_t *timer) {
    hop_task_t *t = test_spawn(executor, close_task, timer);
    void *value = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &value));
    hop_task_unref(t);
    return (int)(intptr_t)value;
}

Test(io_op, an_operation_runs_on_the_handle_loop_and_resumes_tasks_on_their_own_executor) {
    setup_executors();
    iotimer_t *timer = open_from(hop_pool_executor(&pool), &home_loop);
    hop_executor_t *executors[] = {hop_loop_executor(&home_loop), hop_pool_executor(&pool),
                                   hop_loop_executor(&other_loop)};
    for (int i = 0; i < 3; i++) {
        for (int round = 0; round < 50; round++) {
            where_t w = {.timer = timer, .status = 1};
            hop_task_t *t = test_spawn(executors[i], where_task, &w);
            cr_assert_eq(test_join(t), 0);
            cr_assert_eq(w.status, 0, "executor %d: %s", i, hop_err_name(w.status));
            cr_assert(w.same_executor, "executor %d: resumed on its own executor", i);
        }
    }
    cr_assert_eq(timer->off_loop, 0u, "libuv only on the handle's loop");
    unsigned int destroyed = __atomic_load_n(&iotimers_destroyed, __ATOMIC_ACQUIRE);
    HOP_OK(close_from(hop_loop_executor(&other_loop), timer));
    cr_assert_eq(__atomic_load_n(&iotimers_destroyed, __ATOMIC_ACQUIRE), destroyed + 1, "freed once closed");
    close_executors();
    test_assert_checks();
}

/* ---- interrupts ---------------------------------------------------------------- */

static void *wait_long_task(void *arg) {
    where_t *w = arg;
    w->status = iotimer_wait(w->timer, 3600u * 1000u);
    return NULL;
}

Test(io_op, a_cancel_from_a_plain_thread_withdraws_the_operation_on_its_loop) {
    setup_executors();
    iotimer_t *timer = open_from(hop_pool_executor(&pool), &home_loop);
    where_t w = {.timer = timer, .status = 1};
    hop_task_t *t = test_spawn(hop_pool_executor(&pool), wait_long_task, &w);
    while (hop_task_state(t) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
    HOP_OK(hop_task_cancel(t));
    cr_assert_eq(test_join(t), HOP_ECANCELED);
    cr_assert_eq(w.status, HOP_ECANCELED);
    cr_assert_eq(timer->off_loop, 0u);
    HOP_OK(close_from(hop_pool_executor(&pool), timer));
    close_executors();
    test_assert_checks();
}

static void *deadline_task(void *arg) {
    where_t *w = arg;
    hop_deadline_t deadline;
    CHECK_OK(hop_deadline_enter(&deadline, 20));
    w->status = iotimer_wait(w->timer, 3600u * 1000u);
    hop_deadline_leave(&deadline);
    return NULL;
}

Test(io_op, a_deadline_interrupts_the_operation_with_etimedout) {
    setup_executors();
    iotimer_t *timer = open_from(hop_pool_executor(&pool), &home_loop);
    hop_executor_t *executors[] = {hop_loop_executor(&home_loop), hop_pool_executor(&pool),
                                   hop_loop_executor(&other_loop)};
    for (int i = 0; i < 3; i++) {
        where_t w = {.timer = timer, .status = 1};
        cr_assert_eq(test_join(test_spawn(executors[i], deadline_task, &w)), 0);
        cr_assert_eq(w.status, HOP_ETIMEDOUT, "executor %d: %s", i, hop_err_name(w.status));
    }
    cr_assert_eq(timer->off_loop, 0u);
    HOP_OK(close_from(hop_pool_executor(&pool), timer));
    close_executors();
    test_assert_checks();
}

Test(io_op, closing_a_handle_under_a_waiting_task_wakes_it_with_eclosed) {
    setup_executors();
    iotimer_t *timer = open_from(hop_pool_executor(&pool), &home_loop);
    where_t w = {.timer = timer, .status = 1};
    hop_task_t *t = test_spawn(hop_loop_executor(&other_loop), wait_long_task, &w);
    while (hop_task_state(t) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
    HOP_OK(close_from(hop_pool_executor(&pool), timer));
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(w.status, HOP_ECLOSED);
    close_executors();
    test_assert_checks();
}

static void *close_twice_task(void *arg) {
    iotimer_t *timer = arg;
    /* The second close sees the first one under way (the handle is still
     * alive: this task holds no reference, but the first close's does not
     * end before this task's close returns... so take one). */
    CHECK_OK(hop__io_handle_enter(&timer->h));
    int first = hop__io_handle_close(&timer->h);
    int second = hop__io_handle_close(&timer->h);
    int after = iotimer_wait(timer, 1);
    hop__io_handle_leave(&timer->h);
    return (void *)(intptr_t)(first == 0 && second == HOP_EALREADY && after == HOP_ECLOSED);
}

Test(io_op, a_closed_handle_refuses_operations_and_a_second_close) {
    setup_executors();
    iotimer_t *timer = open_from(hop_pool_executor(&pool), &home_loop);
    hop_task_t *t = test_spawn(hop_pool_executor(&pool), close_twice_task, timer);
    void *ok = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &ok));
    hop_task_unref(t);
    cr_assert(ok != NULL);
    close_executors();
    test_assert_checks();
}

static void *open_on_closed_task(void *arg) {
    iotimer_t t = {0};
    hop__io_handle_init(&t.h, arg, (uv_handle_t *)&t.timer, iotimer_wake, iotimer_destroy);
    return (void *)(intptr_t)hop__io_call_on_loop(arg, iotimer_open_on_loop, &t);
}

Test(io_op, an_operation_on_a_closed_loop_fails_with_eclosed) {
    hop_loop_t closed;
    HOP_OK(hop_loop_init(&closed, NULL));
    HOP_OK(hop_loop_close(&closed));
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_task_t *t = test_spawn(hop_pool_executor(&pool), open_on_closed_task, &closed);
    void *value = NULL;
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, &value));
    hop_task_unref(t);
    cr_assert_eq((int)(intptr_t)value, HOP_ECLOSED);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* Stress: waits of 0 or 1 ms from a pool task and from a task on another
 * loop, interrupted by plain threads after a random spin: every wait ends
 * once, fired or withdrawn, and no timer fires for a withdrawn wait. */
#define IO_RACE_ROUNDS 3000
typedef struct {
    iotimer_t *timer;
    unsigned int seed;
    int ok, interrupted, other;
} io_race_t;

static void *io_race_task(void *arg) {
    io_race_t *r = arg;
    for (int i = 0; i < IO_RACE_ROUNDS; i++) {
        hop_deadline_t deadline;
        /* The interrupt: a deadline of 0 or 1 ms, which expires on the
         * timer service's thread (or the loop's clock) at its own moment. */
        CHECK_OK(hop_deadline_enter(&deadline, (int64_t)(rand_r(&r->seed) % 2)));
        int status = iotimer_wait(r->timer, (uint64_t)(i % 2));
        hop_deadline_leave(&deadline);
        if (status == 0)
            r->ok++;
        else if (status == HOP_ETIMEDOUT)
            r->interrupted++;
        else
            r->other++;
    }
    return NULL;
}

Test(io_op, deadlines_racing_completions_end_every_operation_exactly_once, .timeout = 240) {
    setup_executors();
    static io_race_t races[2];
    hop_executor_t *executors[] = {hop_pool_executor(&pool), hop_loop_executor(&other_loop)};
    hop_task_t *tasks[2];
    for (int i = 0; i < 2; i++) {
        memset(&races[i], 0, sizeof races[i]);
        races[i].timer = open_from(hop_pool_executor(&pool), &home_loop);
        races[i].seed = 99u + (unsigned int)i;
        tasks[i] = test_spawn(executors[i], io_race_task, &races[i]);
    }
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(test_join(tasks[i]), 0);
        io_race_t *r = &races[i];
        cr_log_info("%s: fired %d, timed out %d", i ? "loop task" : "pool task", r->ok, r->interrupted);
        cr_assert_eq(r->other, 0);
        cr_assert_eq(r->ok + r->interrupted, IO_RACE_ROUNDS);
        cr_assert_eq(r->timer->late, 0u, "no fire for a withdrawn wait");
        cr_assert_eq(r->timer->off_loop, 0u);
        HOP_OK(close_from(hop_pool_executor(&pool), r->timer));
    }
    close_executors();
    test_assert_checks();
}

/* ---- errors ------------------------------------------------------------------ */

Test(io_op, libuv_errors_map_onto_the_codes_users_branch_on) {
    cr_assert_eq(hop__io_error(0), 0);
    cr_assert_eq(hop__io_error(UV_EOF), HOP_EOF);
    cr_assert_eq(hop__io_error(UV_ECONNRESET), HOP_ECONNRESET);
    cr_assert_eq(hop__io_error(UV_EPIPE), HOP_EPIPE);
    cr_assert_eq(hop__io_error(UV_ECONNREFUSED), HOP_ECONNREFUSED);
    cr_assert_eq(hop__io_error(UV_EADDRINUSE), HOP_EADDRINUSE);
    cr_assert_eq(hop__io_error(UV_ENETUNREACH), HOP_EHOSTUNREACH);
    cr_assert_eq(hop__io_error(UV_EAI_NONAME), HOP_ENAMELOOKUP);
    cr_assert_eq(hop__io_error(UV_EMFILE), HOP_EMFILE);
    cr_assert_eq(hop__io_error(UV_ECANCELED), HOP_ECANCELED);
    cr_assert_eq(hop__io_error(UV_ETIMEDOUT), HOP_ETIMEDOUT);
    cr_assert_eq(hop__io_error(UV_ENOENT), HOP_ENOENT);
    cr_assert_eq(hop__io_error(UV_EPROTO), HOP_EIO, "anything else is an I/O error");
    cr_assert_str_eq(hop_err_name(HOP_EOF), "HOP_EOF");
    test_assert_checks();
}
