/* tests/test_awaitable.c: the public awaitable protocol, used the way a user
 * writes an awaitable of their own. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(awaitable, .init = setup, .fini = teardown, .timeout = 60);

/* A user's awaitable: "wait for a value from another thread". suspend()
 * starts a thread that computes the value and completes the awaitable. */
typedef struct {
    hop_awaitable_t base;
    int input;
    int output;
    pthread_t thread;
    hop_task_t *task; /* the awaiting task */
    int ready_calls, suspend_calls, resume_calls;
} compute_t;

/* Completes once the task is suspended: the resume path. */
static void *compute_thread(void *arg) {
    compute_t *c = arg;
    test_wait_suspended(c->task);
    c->output = c->input * 2;
    hop_awaitable_complete(&c->base, 0);
    return NULL;
}

static bool compute_ready(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->ready_calls++;
    return false;
}

static bool compute_suspend(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->suspend_calls++;
    /* The task has already left its stack: handing c to a thread is safe. */
    pthread_create(&c->thread, NULL, compute_thread, c);
    return true;
}

static int compute_resume(hop_awaitable_t *aw) {
    compute_t *c = (compute_t *)aw;
    c->resume_calls++;
    return c->output;
}

static const hop_awaitable_ops_t compute_ops = {
    .ready = compute_ready, .suspend = compute_suspend, .resume = compute_resume};

static void *compute_task(void *arg) {
    compute_t c = {.input = (int)(intptr_t)arg, .task = hop_task_current()};
    CHECK_OK(hop_awaitable_init(&c.base, &compute_ops));
    int result = hop_await(&c.base);
    pthread_join(c.thread, NULL);
    CHECK(c.ready_calls == 1);
    CHECK(c.suspend_calls == 1);
    CHECK(c.resume_calls == 1);
    return (void *)(intptr_t)result;
}

Test(awaitable, a_user_written_awaitable_completed_from_another_thread_resumes_the_task) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, compute_task, (void *)21, NULL, &t));
    test_run_until_finished(manual, t);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, 42);
    hop_task_unref(t);
    test_assert_checks();
}

/* ready() returning true: no suspension at all. */
static int suspend_called;
static bool always_ready(hop_awaitable_t *aw) {
    (void)aw;
    return true;
}
static bool count_suspend(hop_awaitable_t *aw) {
    (void)aw;
    suspend_called++;
    return true;
}
static const hop_awaitable_ops_t ready_ops = {.ready = always_ready, .suspend = count_suspend};

static void *ready_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &ready_ops);
    CHECK(hop_await(&aw) == 0);
    return NULL;
}

Test(awaitable, a_ready_awaitable_does_not_suspend) {
    suspend_called = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, ready_task, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "finished in one step: never suspended");
    cr_assert_eq(suspend_called, 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* suspend() returning false: resumes at once, without the executor. */
static bool refuse_suspend(hop_awaitable_t *aw) {
    (void)aw;
    return false;
}
static int status_minus_one(hop_awaitable_t *aw) {
    (void)aw;
    return -1;
}
static const hop_awaitable_ops_t refuse_ops = {.suspend = refuse_suspend, .resume = status_minus_one};

static void *refuse_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &refuse_ops);
    for (int i = 0; i < 1000; i++)
        CHECK(hop_await(&aw) == -1);
    /* Completing it now is a misuse that must be refused, not a resume. */
    CHECK_ERR(hop_awaitable_complete(&aw, 0), HOP_EALREADY);
    return NULL;
}

Test(awaitable, suspend_returning_false_resumes_the_task_immediately) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, refuse_task, NULL, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* The awaitable stored by suspend(), for the test to complete by hand. */
static hop_awaitable_t *parked;
static bool park_suspend(hop_awaitable_t *aw) {
    parked = aw;
    return true;
}
static const hop_awaitable_ops_t park_ops = {.suspend = park_suspend};

static void *park_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &park_ops);
    int status = hop_await(&aw);
    return (void *)(intptr_t)status;
}

Test(awaitable, completing_twice_resumes_once_and_reports_ealready) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, park_task, NULL, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    cr_assert_eq(hop_awaitable_task(parked), t);
    HOP_OK(hop_awaitable_complete(parked, -77));
    HOP_ERR(hop_awaitable_complete(parked, -88), HOP_EALREADY);
    cr_assert_eq(hop_manual_executor_pending(manual), 1, "exactly one resume queued");
    hop_manual_executor_run_all(manual, 0);
    void *result;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((intptr_t)result, -77, "the status of the first completion wins");
    hop_task_unref(t);
    test_assert_checks();
}

/* Many threads race to complete the same awaitable: one wins. */
typedef struct {
    hop_awaitable_t *aw;
    int wins;
    pthread_barrier_t *barrier;
} racer_t;

static void *racer(void *arg) {
    racer_t *r = arg;
    pthread_barrier_wait(r->barrier);
    r->wins = hop_awaitable_complete(r->aw, 0) == 0;
    return NULL;
}

Test(awaitable, racing_completions_from_many_threads_resume_exactly_once) {
    for (int round = 0; round < 200; round++) {
        hop_task_t *t;
        HOP_OK(hop_task_spawn(manual, park_task, NULL, NULL, &t));
        hop_manual_executor_run_all(manual, 0);
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 4);
        racer_t racers[4];
        pthread_t threads[4];
        for (int i = 0; i < 4; i++) {
            racers[i] = (racer_t){.aw = parked, .barrier = &barrier};
            pthread_create(&threads[i], NULL, racer, &racers[i]);
        }
        int wins = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(threads[i], NULL);
            wins += racers[i].wins;
        }
        pthread_barrier_destroy(&barrier);
        cr_assert_eq(wins, 1);
        cr_assert_eq(hop_manual_executor_pending(manual), 1);
        hop_manual_executor_run_all(manual, 0);
        cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
        hop_task_unref(t);
    }
    test_assert_checks();
}

Test(awaitable, awaiting_outside_a_task_returns_enottask) {
    hop_awaitable_t aw;
    HOP_OK(hop_awaitable_init(&aw, &park_ops));
    HOP_ERR(hop_await(&aw), HOP_ENOTTASK);
    HOP_ERR(hop_yield(), HOP_ENOTTASK);
    HOP_ERR(hop_dispatch_to_executor(manual), HOP_ENOTTASK);
    hop_future_t f;
    hop_future_init(&f);
    HOP_ERR(hop_future_await(&f, NULL), HOP_ENOTTASK);
    test_assert_checks();
}

Test(awaitable, bad_awaitables_are_rejected) {
    hop_awaitable_t aw;
    static const hop_awaitable_ops_t no_suspend = {.ready = always_ready};
    HOP_ERR(hop_awaitable_init(NULL, &park_ops), HOP_EINVAL);
    HOP_ERR(hop_awaitable_init(&aw, NULL), HOP_EINVAL);
    HOP_ERR(hop_awaitable_init(&aw, &no_suspend), HOP_EINVAL);
    HOP_ERR(hop_await(NULL), HOP_EINVAL);
    HOP_ERR(hop_awaitable_complete(NULL, 0), HOP_EINVAL);
    hop_awaitable_init(&aw, &park_ops);
    HOP_ERR(hop_awaitable_complete(&aw, 0), HOP_EALREADY); /* never awaited */
    cr_assert_null(hop_awaitable_task(&aw));
    test_assert_checks();
}

/* ---- Interrupting a wait: the cancel op ---------------------------------
 *
 * A "mailbox" awaitable: suspend() registers the waiter in a slot under a
 * lock; whoever delivers takes the waiter out of the slot under the lock and
 * completes it; cancel() takes it out of the slot if it is still there. This
 * is the shape every interruptible awaitable has. */
typedef struct mailbox_waiter mailbox_waiter_t;
typedef struct {
    pthread_mutex_t lock;
    mailbox_waiter_t *waiter;
    int cancel_calls;
    int suspend_done; /* set at the end of suspend(), read by cancel() */
    int cancel_saw_suspend_done;
} mailbox_t;

struct mailbox_waiter {
    hop_awaitable_t base;
    mailbox_t *box;
    int value;
    int resume_calls;
    void (*during_suspend)(mailbox_waiter_t *w);
};

static bool mailbox_suspend(hop_awaitable_t *aw) {
    mailbox_waiter_t *w = (mailbox_waiter_t *)aw;
    mailbox_t *box = w->box;
    pthread_mutex_lock(&box->lock);
    box->waiter = w;
    pthread_mutex_unlock(&box->lock);
    if (w->during_suspend)
        w->during_suspend(w);
    __atomic_store_n(&box->suspend_done, 1, __ATOMIC_RELEASE);
    return true;
}

static int mailbox_cancel(hop_awaitable_t *aw) {
    mailbox_waiter_t *w = (mailbox_waiter_t *)aw;
    mailbox_t *box = w->box;
    box->cancel_calls++;
    box->cancel_saw_suspend_done = __atomic_load_n(&box->suspend_done, __ATOMIC_ACQUIRE);
    pthread_mutex_lock(&box->lock);
    bool withdrawn = box->waiter == w;
    if (withdrawn)
        box->waiter = NULL;
    pthread_mutex_unlock(&box->lock);
    return withdrawn ? 0 : HOP_EALREADY;
}

static int mailbox_resume(hop_awaitable_t *aw) {
    mailbox_waiter_t *w = (mailbox_waiter_t *)aw;
    w->resume_calls++;
    return hop_awaitable_status(aw) < 0 ? hop_awaitable_status(aw) : w->value;
}

static const hop_awaitable_ops_t mailbox_ops = {
    .suspend = mailbox_suspend, .resume = mailbox_resume, .cancel = mailbox_cancel};

/* Delivers value to the waiting task, if one is there; returns true if so. */
static bool mailbox_deliver(mailbox_t *box, int value) {
    pthread_mutex_lock(&box->lock);
    mailbox_waiter_t *w = box->waiter;
    box->waiter = NULL;
    pthread_mutex_unlock(&box->lock);
    if (!w)
        return false;
    w->value = value;
    CHECK_OK(hop_awaitable_complete(&w->base, 0));
    return true;
}

static mailbox_t box = {.lock = PTHREAD_MUTEX_INITIALIZER};
static mailbox_waiter_t *current_waiter;
static int mailbox_status;
static int mailbox_resumes;

static void *mailbox_task(void *arg) {
    mailbox_waiter_t w = {.box = &box, .during_suspend = arg};
    CHECK_OK(hop_awaitable_init(&w.base, &mailbox_ops));
    __atomic_store_n(&current_waiter, &w, __ATOMIC_RELEASE);
    mailbox_status = hop_await(&w.base);
    __atomic_store_n(&current_waiter, NULL, __ATOMIC_RELEASE);
    mailbox_resumes = w.resume_calls;
    return NULL;
}

Test(awaitable, an_interrupted_wait_is_withdrawn_and_returns_the_interrupt_status) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, mailbox_task, NULL, NULL, &t));
    hop_manual_executor_run_one(manual);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_awaitable_interrupt(&current_waiter->base, HOP_ETIMEDOUT));
    cr_assert_eq(box.cancel_calls, 1);
    cr_assert_null(box.waiter, "cancel withdrew the waiter");
    cr_assert_not(mailbox_deliver(&box, 5), "nobody is waiting any more");
    test_run_until_finished(manual, t);
    cr_assert_eq(mailbox_status, HOP_ETIMEDOUT);
    cr_assert_eq(mailbox_resumes, 1, "resume still runs, to clean up");
    hop_task_unref(t);
    test_assert_checks();
}

Test(awaitable, interrupting_a_wait_that_is_over_or_not_interruptible_is_refused) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, mailbox_task, NULL, NULL, &t));
    hop_manual_executor_run_one(manual);
    mailbox_waiter_t *w = current_waiter;
    cr_assert(mailbox_deliver(&box, 9));
    HOP_ERR(hop_awaitable_interrupt(&w->base, HOP_ECANCELED), HOP_EALREADY);
    test_run_until_finished(manual, t);
    cr_assert_eq(mailbox_status, 9);
    cr_assert_eq(box.cancel_calls, 0);
    hop_task_unref(t);

    hop_awaitable_t plain;
    HOP_OK(hop_awaitable_init(&plain, &compute_ops));
    HOP_ERR(hop_awaitable_interrupt(&plain, HOP_ECANCELED), HOP_ENOTSUP);
    mailbox_waiter_t idle = {.box = &box};
    HOP_OK(hop_awaitable_init(&idle.base, &mailbox_ops));
    HOP_ERR(hop_awaitable_interrupt(&idle.base, HOP_ECANCELED), HOP_EALREADY);
    HOP_ERR(hop_awaitable_interrupt(&idle.base, 0), HOP_EINVAL);
    HOP_ERR(hop_awaitable_interrupt(NULL, HOP_ECANCELED), HOP_EINVAL);
    test_assert_checks();
}

/* An interrupt that arrives while suspend() is still running (here: from
 * inside it, the earliest possible moment) waits until suspend() returns. */
static void interrupt_from_suspend(mailbox_waiter_t *w) {
    CHECK_OK(hop_awaitable_interrupt(&w->base, HOP_ECANCELED));
}

Test(awaitable, an_interrupt_during_suspend_is_delivered_after_suspend_returns) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, mailbox_task, (void *)interrupt_from_suspend, NULL, &t));
    test_run_until_finished(manual, t);
    cr_assert_eq(box.cancel_calls, 1);
    cr_assert(box.cancel_saw_suspend_done, "cancel must not run before suspend() returned");
    cr_assert_eq(mailbox_status, HOP_ECANCELED);
    hop_task_unref(t);
    test_assert_checks();
}

/* cancel() that cannot withdraw while a completion is on its way: the
 * completion arrives from another thread while cancel runs, is held back,
 * and resumes the task once cancel returns. */
static void *deliver_later(void *arg) {
    (void)arg;
    CHECK(mailbox_deliver(&box, 42));
    return NULL;
}

static int slow_cancel(hop_awaitable_t *aw) {
    mailbox_waiter_t *w = (mailbox_waiter_t *)aw;
    /* Let the deliverer take the waiter and complete, while we are pinned. */
    pthread_t thread;
    pthread_create(&thread, NULL, deliver_later, NULL);
    pthread_join(thread, NULL);
    return mailbox_cancel(&w->base);
}

static const hop_awaitable_ops_t slow_cancel_ops = {
    .suspend = mailbox_suspend, .resume = mailbox_resume, .cancel = slow_cancel};

static void *slow_cancel_task(void *arg) {
    (void)arg;
    mailbox_waiter_t w = {.box = &box};
    CHECK_OK(hop_awaitable_init(&w.base, &slow_cancel_ops));
    __atomic_store_n(&current_waiter, &w, __ATOMIC_RELEASE);
    mailbox_status = hop_await(&w.base);
    return NULL;
}

Test(awaitable, a_completion_that_arrives_while_cancel_runs_wins_and_resumes_once) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, slow_cancel_task, NULL, NULL, &t));
    hop_manual_executor_run_one(manual);
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
    HOP_OK(hop_awaitable_interrupt(&current_waiter->base, HOP_ECANCELED));
    cr_assert_eq(hop_manual_executor_pending(manual), 1, "held back, then submitted exactly once");
    test_run_until_finished(manual, t);
    cr_assert_eq(mailbox_status, 42);
    cr_assert_eq(hop_manual_executor_pending(manual), 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* Stress: interrupts race deliveries, across threads, on a pool. Every await
 * must end exactly once, either delivered (and the value not lost) or
 * interrupted (and then no delivery was made to it). */
#define RACE_ROUNDS 3000
typedef struct {
    mailbox_t box;
    mailbox_waiter_t *waiter; /* __atomic builtins only */
    int delivered, interrupted, finished;
} race_t;

static void *race_task(void *arg) {
    race_t *r = arg;
    for (int i = 0; i < RACE_ROUNDS; i++) {
        mailbox_waiter_t w = {.box = &r->box, .value = -1};
        CHECK_OK(hop_awaitable_init(&w.base, &mailbox_ops));
        __atomic_store_n(&r->waiter, &w, __ATOMIC_RELEASE);
        int status = hop_await(&w.base);
        /* The racers are told to stop touching w before it goes away. */
        while (__atomic_load_n(&r->waiter, __ATOMIC_ACQUIRE) != NULL)
            sched_yield();
        if (status == HOP_ECANCELED)
            r->interrupted++;
        else {
            /* The deliverer sends 0, 1, 2...: one value per delivery made,
             * so an interrupted round must not have swallowed one. */
            CHECK(status == r->delivered, "delivered value %d, expected %d", status, r->delivered);
            r->delivered++;
        }
    }
    __atomic_store_n(&r->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *race_deliverer(void *arg) {
    race_t *r = arg;
    int round = 0;
    while (!__atomic_load_n(&r->finished, __ATOMIC_ACQUIRE)) {
        if (mailbox_deliver(&r->box, round))
            round++;
        sched_yield();
    }
    return NULL;
}

static void *race_interrupter(void *arg) {
    race_t *r = arg;
    while (!__atomic_load_n(&r->finished, __ATOMIC_ACQUIRE)) {
        mailbox_waiter_t *w = __atomic_load_n(&r->waiter, __ATOMIC_ACQUIRE);
        if (w) {
            hop_awaitable_interrupt(&w->base, HOP_ECANCELED);
            /* Release w to the task: it waits for this before moving on. */
            __atomic_store_n(&r->waiter, NULL, __ATOMIC_RELEASE);
        }
        sched_yield();
    }
    return NULL;
}

Test(awaitable, interrupts_racing_completions_end_every_wait_exactly_once, .timeout = 120) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    race_t r = {.box = {.lock = PTHREAD_MUTEX_INITIALIZER}};
    pthread_t deliverer, interrupter;
    pthread_create(&deliverer, NULL, race_deliverer, &r);
    pthread_create(&interrupter, NULL, race_interrupter, &r);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), race_task, &r, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL));
    pthread_join(deliverer, NULL);
    pthread_join(interrupter, NULL);
    cr_assert_eq(r.delivered + r.interrupted, RACE_ROUNDS);
    cr_log_info("delivered %d, interrupted %d", r.delivered, r.interrupted);
    hop_task_unref(t);
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* A completion that arrives while suspend() is still running (here: from
 * another thread, joined inside suspend) is held back until the run side has
 * finished with the task, which then continues it at once: resumed exactly
 * once, without a trip through the executor's queue. */
static void complete_from_thread(mailbox_waiter_t *w) {
    (void)w;
    pthread_t thread;
    pthread_create(&thread, NULL, deliver_later, NULL);
    pthread_join(thread, NULL);
}

Test(awaitable, a_completion_during_suspend_resumes_the_task_once_without_a_round_trip) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, mailbox_task, (void *)complete_from_thread, NULL, &t));
    cr_assert_eq(hop_manual_executor_run_one(manual), 1);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE, "continued on the run side");
    cr_assert_eq(hop_manual_executor_pending(manual), 0, "and never queued a second time");
    cr_assert_eq(mailbox_status, 42);
    cr_assert_eq(mailbox_resumes, 1);
    hop_task_unref(t);
    test_assert_checks();
}

/* ---- cancel on the awaitable's own executor ------------------------------
 *
 * A user's awaitable over a libuv timer on a hop loop: libuv may only be
 * called on the loop's thread, so suspend() starts the timer there (directly
 * when the task runs on the loop, through a posted job otherwise) and the
 * awaitable names the loop as its cancel executor, so that cancel (which
 * stops the timer) runs there too, whoever interrupts. */
typedef struct uvtimer_wait uvtimer_wait_t;
typedef struct {
    hop_loop_t *loop;
    uv_timer_t timer;       /* initialised on the loop thread */
    uvtimer_wait_t *armed;  /* loop thread only: the wait the timer runs for */
    unsigned int off_loop;  /* start, fire or cancel ran off the loop thread */
    unsigned int late;      /* the timer fired with no wait armed */
    unsigned int fired, withdrawn, cancel_late; /* fires that completed, cancels that withdrew, that found it over */
} uvtimer_t;

struct uvtimer_wait {
    hop_awaitable_t base;
    uvtimer_t *u;
    uint64_t ms;
    hop_job_t start_job;
};

static void uvtimer_fire(uv_timer_t *timer) {
    uvtimer_t *u = timer->data;
    if (hop_loop_current() != u->loop)
        u->off_loop++;
    uvtimer_wait_t *w = u->armed;
    u->armed = NULL;
    if (!w) {
        u->late++;
        return;
    }
    u->fired++;
    hop_awaitable_complete(&w->base, 0);
}

static void uvtimer_start(uvtimer_wait_t *w) {
    uvtimer_t *u = w->u;
    if (hop_loop_current() != u->loop)
        u->off_loop++;
    u->armed = w;
    uv_timer_start(&u->timer, uvtimer_fire, w->ms, 0);
}

static void uvtimer_start_job(hop_job_t *job) {
    uvtimer_start((uvtimer_wait_t *)((char *)job - offsetof(uvtimer_wait_t, start_job)));
}

static bool uvtimer_suspend(hop_awaitable_t *aw) {
    uvtimer_wait_t *w = (uvtimer_wait_t *)aw;
    hop_loop_t *loop = w->u->loop;
    CHECK_OK(hop_awaitable_set_cancel_executor(aw, hop_loop_executor(loop)));
    if (hop_loop_current() == loop) {
        uvtimer_start(w);
    } else {
        hop_job_init(&w->start_job, uvtimer_start_job);
        CHECK_OK(hop_loop_post(loop, &w->start_job));
    }
    return true;
}

static int uvtimer_cancel(hop_awaitable_t *aw) {
    uvtimer_wait_t *w = (uvtimer_wait_t *)aw;
    uvtimer_t *u = w->u;
    if (hop_loop_current() != u->loop)
        u->off_loop++;
    /* The start job ran before this one (a loop runs its jobs in order), so
     * the timer is either still armed for w or has fired and completed w. */
    if (u->armed != w) {
        u->cancel_late++;
        return HOP_EALREADY;
    }
    uv_timer_stop(&u->timer);
    u->armed = NULL;
    u->withdrawn++;
    return 0;
}

static const hop_awaitable_ops_t uvtimer_ops = {.suspend = uvtimer_suspend, .cancel = uvtimer_cancel};

typedef struct {
    hop_job_t job;
    uvtimer_t *u;
    unsigned int done;
} uvtimer_init_t;

static void uvtimer_init_job(hop_job_t *job) {
    uvtimer_init_t *init = (uvtimer_init_t *)job;
    uv_timer_init(hop_loop_uv(init->u->loop), &init->u->timer);
    init->u->timer.data = init->u;
    test_store_uint(&init->done, 1);
}

/* Initialises u's timer on loop's thread and waits for it. */
static void uvtimer_setup(uvtimer_t *u, hop_loop_t *loop) {
    memset(u, 0, sizeof *u);
    u->loop = loop;
    uvtimer_init_t init = {.u = u};
    hop_job_init(&init.job, uvtimer_init_job);
    HOP_OK(hop_loop_post(loop, &init.job));
    while (!test_load_uint(&init.done))
        test_sleep_ms(1);
}

static uvtimer_t single_timer;
static uvtimer_wait_t *single_wait; /* __atomic builtins only */
static int single_status;

static void *uvtimer_wait_forever(void *arg) {
    (void)arg;
    uvtimer_wait_t w = {.u = &single_timer, .ms = 3600u * 1000u};
    CHECK_OK(hop_awaitable_init(&w.base, &uvtimer_ops));
    __atomic_store_n(&single_wait, &w, __ATOMIC_RELEASE);
    single_status = hop_await(&w.base);
    return NULL;
}

Test(awaitable, an_interrupt_from_a_plain_thread_runs_cancel_on_the_cancel_executor_and_resumes_the_task) {
    hop_loop_t loop;
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 1};
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    HOP_OK(hop_pool_init(&pool, &options));
    uvtimer_setup(&single_timer, &loop);
    hop_task_t *t = test_spawn(hop_pool_executor(&pool), uvtimer_wait_forever, NULL);
    while (hop_task_state(t) != HOP_TASK_SUSPENDED || !__atomic_load_n(&single_wait, __ATOMIC_ACQUIRE))
        test_sleep_ms(1);
    HOP_OK(hop_awaitable_interrupt(&single_wait->base, HOP_ETIMEDOUT));
    cr_assert_eq(test_join(t), 0);
    cr_assert_eq(single_status, HOP_ETIMEDOUT);
    cr_assert_eq(single_timer.withdrawn, 1u, "cancel stopped the timer");
    cr_assert_eq(single_timer.off_loop, 0u, "start and cancel ran on the loop thread");
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* Stress: tasks on the pool and on the loop itself wait on timers of 0 or
 * 1 ms, which race with interrupts from plain threads made after a random
 * spin. Every wait ends exactly once: either its timer fired and completed
 * it (status 0) or cancel withdrew it on the loop (the interrupt's status),
 * and the counts on both sides agree. */
#define UVTIMER_ROUNDS 5000
typedef struct {
    uvtimer_t u;
    uvtimer_wait_t *waiter; /* __atomic builtins only */
    unsigned int seed;
    int ok, interrupted, other, finished;
} uvtimer_race_t;

static void *uvtimer_race_task(void *arg) {
    uvtimer_race_t *r = arg;
    for (int i = 0; i < UVTIMER_ROUNDS; i++) {
        uvtimer_wait_t w = {.u = &r->u, .ms = (uint64_t)(i % 2)};
        CHECK_OK(hop_awaitable_init(&w.base, &uvtimer_ops));
        __atomic_store_n(&r->waiter, &w, __ATOMIC_RELEASE);
        int status = hop_await(&w.base);
        /* The interrupter lets go of w before it goes away. */
        while (__atomic_load_n(&r->waiter, __ATOMIC_ACQUIRE) != NULL)
            sched_yield();
        if (status == 0)
            r->ok++;
        else if (status == HOP_ECANCELED)
            r->interrupted++;
        else
            r->other++;
    }
    __atomic_store_n(&r->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *uvtimer_race_interrupter(void *arg) {
    uvtimer_race_t *r = arg;
    while (!__atomic_load_n(&r->finished, __ATOMIC_ACQUIRE)) {
        uvtimer_wait_t *w = __atomic_load_n(&r->waiter, __ATOMIC_ACQUIRE);
        if (!w) {
            sched_yield();
            continue;
        }
        unsigned int spin = (unsigned int)rand_r(&r->seed) % 4000u;
        for (volatile unsigned int i = 0; i < spin; i++)
            ;
        if (rand_r(&r->seed) % 8 == 0)
            sched_yield();
        hop_awaitable_interrupt(&w->base, HOP_ECANCELED);
        __atomic_store_n(&r->waiter, NULL, __ATOMIC_RELEASE);
    }
    return NULL;
}

Test(awaitable, interrupts_from_plain_threads_of_waits_on_a_loop_end_each_wait_exactly_once, .timeout = 240) {
    hop_loop_t loop;
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    HOP_OK(hop_pool_init(&pool, &options));
    static uvtimer_race_t races[2];
    pthread_t interrupters[2];
    hop_task_t *tasks[2];
    for (int i = 0; i < 2; i++) {
        memset(&races[i], 0, sizeof races[i]);
        uvtimer_setup(&races[i].u, &loop);
        races[i].seed = 1234u + (unsigned int)i;
        pthread_create(&interrupters[i], NULL, uvtimer_race_interrupter, &races[i]);
    }
    tasks[0] = test_spawn(hop_pool_executor(&pool), uvtimer_race_task, &races[0]);
    tasks[1] = test_spawn(hop_loop_executor(&loop), uvtimer_race_task, &races[1]);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(test_join(tasks[i]), 0);
        pthread_join(interrupters[i], NULL);
    }
    HOP_OK(hop_pool_close(&pool));
    HOP_OK(hop_loop_close(&loop));
    for (int i = 0; i < 2; i++) {
        uvtimer_race_t *r = &races[i];
        cr_log_info("%s task: fired %d, interrupted %d", i ? "loop" : "pool", r->ok, r->interrupted);
        cr_assert_eq(r->other, 0, "only 0 or HOP_ECANCELED");
        cr_assert_eq(r->ok + r->interrupted, UVTIMER_ROUNDS, "every wait ended once");
        cr_assert_eq((int)r->u.fired, r->ok, "each fire resumed one wait with 0");
        cr_assert_eq((int)r->u.withdrawn, r->interrupted, "each withdrawal resumed one wait interrupted");
        cr_assert_eq(r->u.late, 0u, "no timer fired for a withdrawn wait");
        cr_assert_eq(r->u.off_loop, 0u, "libuv was only called on the loop thread");
    }
    test_assert_checks();
}

/* A closed cancel executor cannot withdraw anything: the interrupt is
 * dropped with HOP_ECLOSED and the wait goes on until it completes. */
static int refused_cancel_calls;
static hop_awaitable_t *refused_parked;
static bool refused_suspend(hop_awaitable_t *aw) {
    refused_parked = aw;
    return true;
}
static int refused_cancel(hop_awaitable_t *aw) {
    (void)aw;
    refused_cancel_calls++;
    return 0;
}
static const hop_awaitable_ops_t refused_ops = {.suspend = refused_suspend, .cancel = refused_cancel};
static hop_loop_t refused_loop;
static int refused_status = 1;

static void *refused_task(void *arg) {
    (void)arg;
    hop_awaitable_t aw;
    CHECK_OK(hop_awaitable_init(&aw, &refused_ops));
    CHECK_OK(hop_awaitable_set_cancel_executor(&aw, hop_loop_executor(&refused_loop)));
    refused_status = hop_await(&aw);
    return NULL;
}

Test(awaitable, an_interrupt_refused_by_a_closed_cancel_executor_is_dropped_and_the_wait_goes_on) {
    HOP_OK(hop_loop_init(&refused_loop, NULL));
    HOP_OK(hop_loop_close(&refused_loop));
    hop_task_t *t = test_spawn(manual, refused_task, NULL);
    hop_manual_executor_run_one(manual);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_ERR(hop_awaitable_interrupt(refused_parked, HOP_ECANCELED), HOP_ECLOSED);
    cr_assert_eq(refused_cancel_calls, 0, "cancel never ran");
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED, "still waiting");
    HOP_OK(hop_awaitable_complete(refused_parked, 7));
    hop_manual_executor_run_one(manual);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(refused_status, 7);
    hop_task_unref(t);
    test_assert_checks();
}

Test(awaitable, set_cancel_executor_rejects_bad_arguments) {
    hop_awaitable_t aw;
    hop_executor_t no_ops = {0};
    HOP_OK(hop_awaitable_init(&aw, &refused_ops));
    HOP_ERR(hop_awaitable_set_cancel_executor(NULL, manual), HOP_EINVAL);
    HOP_ERR(hop_awaitable_set_cancel_executor(&aw, &no_ops), HOP_EINVAL);
    HOP_OK(hop_awaitable_set_cancel_executor(&aw, manual));
    HOP_OK(hop_awaitable_set_cancel_executor(&aw, NULL));
    test_assert_checks();
}

/* ---- Awaiting a value ------------------------------------------------------
 *
 * A "slot" awaitable: suspend() parks it where the test thread (which drives
 * the manual executor) completes it; interruptible, so that the test can also
 * interrupt it. ready and suspend can instead finish it with set_result. */
typedef struct {
    hop_awaitable_t base;
    int ready_status;     /* ready_status/ready_value: finish in ready() */
    void *ready_value;
    bool finish_in_ready;
    bool finish_in_suspend;
} slot_wait_t;

static slot_wait_t *slot_parked;

static bool slot_ready(hop_awaitable_t *aw) {
    slot_wait_t *w = (slot_wait_t *)aw;
    if (w->finish_in_ready)
        hop_awaitable_set_result(aw, w->ready_status, w->ready_value);
    return w->finish_in_ready;
}

static bool slot_suspend(hop_awaitable_t *aw) {
    slot_wait_t *w = (slot_wait_t *)aw;
    if (w->finish_in_suspend) {
        hop_awaitable_set_result(aw, w->ready_status, w->ready_value);
        return false;
    }
    __atomic_store_n(&slot_parked, w, __ATOMIC_RELEASE);
    return true;
}

static int slot_cancel(hop_awaitable_t *aw) {
    return __atomic_compare_exchange_n(&slot_parked, &(slot_wait_t *){(slot_wait_t *)aw}, NULL, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE)
               ? 0
               : HOP_EALREADY;
}

static const hop_awaitable_ops_t slot_ops = {.ready = slot_ready, .suspend = slot_suspend, .cancel = slot_cancel};

static slot_wait_t *take_slot_parked(void) { return __atomic_exchange_n(&slot_parked, NULL, __ATOMIC_ACQ_REL); }

static int value_a, value_b;
static int awaits_status[3];
static void *awaits_value[3];

/* Three awaits of one awaitable, initialised once. */
static void *await_three_times(void *arg) {
    slot_wait_t *w = arg;
    hop_awaitable_init(&w->base, &slot_ops);
    for (int i = 0; i < 3; i++) {
        awaits_value[i] = (void *)&awaits_status; /* must be overwritten */
        awaits_status[i] = hop_await_value(&w->base, &awaits_value[i]);
    }
    return NULL;
}

Test(awaitable, await_value_returns_the_status_and_the_value_of_the_completion_and_the_awaitable_can_be_awaited_again) {
    slot_wait_t w = {0};
    hop_task_t *t = test_spawn(manual, await_three_times, &w);
    hop_manual_executor_run_all(manual, 0);
    slot_wait_t *first = take_slot_parked();
    cr_assert_eq(first, &w);
    /* A value never has to share the int with an error code. */
    HOP_OK(hop_awaitable_complete_value(&first->base, HOP_ECLOSED, &value_a));
    HOP_ERR(hop_awaitable_complete_value(&first->base, 0, &value_b), HOP_EALREADY);
    hop_manual_executor_run_all(manual, 0);
    /* Second await of the same awaitable, without hop_awaitable_init: it
     * starts clean, so a plain completion gives 0 and no value. */
    slot_wait_t *second = take_slot_parked();
    cr_assert_eq(second, &w);
    HOP_OK(hop_awaitable_complete(&second->base, 0));
    hop_manual_executor_run_all(manual, 0);
    /* Third: interrupted, so no value. */
    slot_wait_t *third = __atomic_load_n(&slot_parked, __ATOMIC_ACQUIRE);
    cr_assert_eq(third, &w);
    HOP_OK(hop_awaitable_interrupt(&third->base, HOP_ETIMEDOUT));
    test_run_until_finished(manual, t);
    HOP_ERR(awaits_status[0], HOP_ECLOSED);
    cr_assert_eq(awaits_value[0], &value_a, "the winning completion's value, not the late one's");
    HOP_OK(awaits_status[1]);
    cr_assert_null(awaits_value[1]);
    HOP_ERR(awaits_status[2], HOP_ETIMEDOUT);
    cr_assert_null(awaits_value[2]);
    hop_task_unref(t);
    test_assert_checks();
}

static int finished_status[2];
static void *finished_value[2];

static void *await_finished_early(void *arg) {
    slot_wait_t *w = arg;
    hop_awaitable_init(&w->base, &slot_ops);
    w->finish_in_ready = true, w->ready_status = HOP_ENOMEM, w->ready_value = &value_a;
    finished_status[0] = hop_await_value(&w->base, &finished_value[0]);
    w->finish_in_ready = false, w->finish_in_suspend = true, w->ready_status = 0, w->ready_value = &value_b;
    finished_status[1] = hop_await_value(&w->base, &finished_value[1]);
    return NULL;
}

Test(awaitable, ready_and_a_suspend_that_returns_false_give_the_outcome_with_set_result) {
    slot_wait_t w = {0};
    hop_task_t *t = test_spawn(manual, await_finished_early, &w);
    test_run_until_finished(manual, t);
    cr_assert_null(__atomic_load_n(&slot_parked, __ATOMIC_ACQUIRE), "it never waited");
    HOP_ERR(finished_status[0], HOP_ENOMEM);
    cr_assert_eq(finished_value[0], &value_a);
    HOP_OK(finished_status[1]);
    cr_assert_eq(finished_value[1], &value_b);
    hop_task_unref(t);
    test_assert_checks();
}

Test(awaitable, value_calls_reject_bad_arguments) {
    void *value = &value_a;
    HOP_ERR(hop_await_value(NULL, &value), HOP_EINVAL);
    cr_assert_null(value);
    slot_wait_t w = {0};
    hop_awaitable_init(&w.base, &slot_ops);
    value = &value_a;
    HOP_ERR(hop_await_value(&w.base, &value), HOP_ENOTTASK);
    cr_assert_null(value);
    HOP_ERR(hop_awaitable_complete_value(NULL, 0, NULL), HOP_EINVAL);
    HOP_ERR(hop_awaitable_complete_value(&w.base, 0, &value_a), HOP_EALREADY);
    HOP_ERR(hop_awaitable_set_result(NULL, 0, NULL), HOP_EINVAL);
    cr_assert_null(hop_awaitable_value(NULL));
    cr_assert_null(hop_awaitable_value(&w.base));
    test_assert_checks();
}
