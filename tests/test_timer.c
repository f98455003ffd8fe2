/* tests/test_timer.c: hop_timer_start/stop and hop_time_now_ns (src/time/timer.c),
 * on the timer service and on loops' own clocks (executors/loop.c).
 *
 * Timing bounds are one-sided or generous (the machine is shared): a timer
 * fires no earlier than its timeout, and "soon" means within seconds. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "helpers.h"
#include "time/timer_internal.h"

TestSuite(timer, .timeout = 120);

/* glibc declares pthread_self() const: read it through an opaque call. */
__attribute__((noinline)) static pthread_t current_thread(void) {
    pthread_t self = pthread_self();
    __asm__ volatile("" : "+m"(self)::"memory");
    return self;
}

static unsigned int load_uint(const unsigned int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void store_uint(unsigned int *p, unsigned int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static unsigned int add_uint(unsigned int *p, unsigned int v) {
    return __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL);
}

#define MS 1000000ull

/* ---- what a callback records ---- */

typedef struct {
    hop_timer_t timer;
    unsigned int fired;     /* times fn ran */
    uint64_t fired_at;      /* hop_time_now_ns() in fn */
    pthread_t thread;       /* where fn ran */
    char thread_name[16];
    hop_loop_t *loop;       /* hop_loop_current() in fn */
    unsigned int *order;    /* shared counter: this timer's place among several */
    unsigned int place;
} probe_t;

static void probe_fn(hop_timer_t *timer, void *arg) {
    probe_t *p = arg;
    CHECK(timer == &p->timer, "fn was given another timer");
    p->fired_at = hop_time_now_ns();
    p->thread = current_thread();
    pthread_getname_np(p->thread, p->thread_name, sizeof p->thread_name);
    p->loop = hop_loop_current();
    if (p->order)
        p->place = add_uint(p->order, 1u);
    add_uint(&p->fired, 1u);
}

/* ---- the timer service ---- */

Test(timer, the_monotonic_clock_moves_forward) {
    uint64_t a = hop_time_now_ns();
    test_sleep_ms(5);
    uint64_t b = hop_time_now_ns();
    cr_assert_geq(b - a, 5 * MS, "5 ms of sleep measured as %llu ns", (unsigned long long)(b - a));
    test_assert_checks();
}

Test(timer, fires_once_no_earlier_than_its_timeout) {
    probe_t p = {0};
    uint64_t start = hop_time_now_ns();
    HOP_OK(hop_timer_start(&p.timer, 50, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000), "the timer did not fire within 5 s");
    cr_assert_geq(p.fired_at - start, 50 * MS, "fired after %llu ns", (unsigned long long)(p.fired_at - start));
    test_sleep_ms(100);
    cr_assert_eq(load_uint(&p.fired), 1u, "fired %u times", load_uint(&p.fired));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
    test_assert_checks();
}

/* The timers are started one after another, so a test thread descheduled
 * between two starts moves the later ones' deadlines on: the order checked
 * is that of the deadlines each start computed (read back from the timer,
 * and checked to lie between the clock before and after the start, plus the
 * timeout), not that of the timeouts. */
Test(timer, timers_fire_in_deadline_order) {
    static const int64_t timeouts[] = {80, 20, 60, 0, 40, 100, 10};
    enum { N = sizeof timeouts / sizeof timeouts[0] };
    probe_t p[N];
    memset(p, 0, sizeof p);
    uint64_t deadlines[N];
    unsigned int order = 0;
    for (int i = 0; i < N; i++) {
        p[i].order = &order;
        uint64_t before = hop_time_now_ns();
        HOP_OK(hop_timer_start(&p[i].timer, timeouts[i], probe_fn, &p[i]));
        uint64_t after = hop_time_now_ns();
        deadlines[i] = p[i].timer.deadline_ns;
        cr_assert(deadlines[i] >= before + (uint64_t)timeouts[i] * MS &&
                      deadlines[i] <= after + (uint64_t)timeouts[i] * MS,
                  "the %lld ms timer's deadline is not its start plus its timeout", (long long)timeouts[i]);
    }
    for (int i = 0; i < N; i++)
        cr_assert(test_wait_for_ms(&p[i].fired, 1, 5000), "the %lld ms timer did not fire",
                  (long long)timeouts[i]);
    test_assert_checks();
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (deadlines[i] < deadlines[j])
                cr_assert_lt(p[i].place, p[j].place,
                             "the %lld ms timer fired after the %lld ms one, due later",
                             (long long)timeouts[i], (long long)timeouts[j]);
}

/* A test thread descheduled for 50 ms between the start and the stop finds
 * the timer fired (stop says HOP_EALREADY, rightly): that round checks that
 * much and the test tries again, so a stop that is in time is always checked. */
Test(timer, a_timer_stopped_before_firing_never_runs) {
    for (int round = 0;; round++) {
        cr_assert_lt(round, 100, "the test thread never managed a stop within 50 ms");
        probe_t p = {0};
        uint64_t start = hop_time_now_ns();
        HOP_OK(hop_timer_start(&p.timer, 50, probe_fn, &p));
        int err = hop_timer_stop(&p.timer);
        uint64_t stopped = hop_time_now_ns();
        if (err == HOP_EALREADY) {
            cr_assert_geq(stopped - start, 50 * MS, "stop said fired %llu ns after a 50 ms start",
                          (unsigned long long)(stopped - start));
            cr_assert_eq(load_uint(&p.fired), 1u, "stop returned, so fn has returned");
            continue;
        }
        HOP_OK(err);
        test_sleep_ms(150);
        cr_assert_eq(load_uint(&p.fired), 0u);
        HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
        break;
    }
    test_assert_checks();
}

Test(timer, stopping_after_it_fired_returns_ealready) {
    probe_t p = {0};
    HOP_OK(hop_timer_start(&p.timer, 0, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
    test_assert_checks();
}

Test(timer, stopping_a_timer_never_started_returns_ealready) {
    hop_timer_t timer = {0};
    HOP_ERR(hop_timer_stop(&timer), HOP_EALREADY);
    test_assert_checks();
}

Test(timer, an_initialised_timer_fires_and_init_makes_a_fired_timer_never_started_again) {
    probe_t p;
    memset(&p, 0xa5, sizeof p); /* garbage, as from malloc: init must not need zeroed memory */
    p.fired = 0;
    p.order = NULL;
    HOP_OK(hop_timer_init(&p.timer));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
    HOP_OK(hop_timer_start(&p.timer, 0, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
    HOP_OK(hop_timer_init(&p.timer));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY); /* never started */
    HOP_ERR(hop_timer_init(NULL), HOP_EINVAL);
    test_assert_checks();
}

Test(timer, bad_arguments_return_einval) {
    hop_timer_t timer = {0};
    probe_t p = {0};
    HOP_ERR(hop_timer_start(NULL, 10, probe_fn, &p), HOP_EINVAL);
    HOP_ERR(hop_timer_start(&timer, 10, NULL, &p), HOP_EINVAL);
    HOP_ERR(hop_timer_start(&timer, -1, probe_fn, &p), HOP_EINVAL);
    HOP_ERR(hop_timer_stop(NULL), HOP_EINVAL);
    HOP_ERR(hop_timer_stop(&timer), HOP_EALREADY); /* none of the above started it */
    test_assert_checks();
}

Test(timer, starting_a_pending_timer_again_returns_ebusy) {
    probe_t p = {0};
    HOP_OK(hop_timer_start(&p.timer, 10000, probe_fn, &p));
    HOP_ERR(hop_timer_start(&p.timer, 10, probe_fn, &p), HOP_EBUSY);
    HOP_OK(hop_timer_stop(&p.timer));
    cr_assert_eq(load_uint(&p.fired), 0u);
    test_assert_checks();
}

Test(timer, a_huge_timeout_is_accepted_and_stoppable) {
    probe_t p = {0};
    HOP_OK(hop_timer_start(&p.timer, INT64_MAX, probe_fn, &p));
    HOP_OK(hop_timer_stop(&p.timer));
    test_assert_checks();
}

Test(timer, a_timer_can_be_restarted_after_it_fired_or_was_stopped) {
    probe_t p = {0};
    HOP_OK(hop_timer_start(&p.timer, 0, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    HOP_OK(hop_timer_start(&p.timer, 0, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 2, 5000));
    HOP_OK(hop_timer_start(&p.timer, 10000, probe_fn, &p));
    HOP_OK(hop_timer_stop(&p.timer));
    HOP_OK(hop_timer_start(&p.timer, 0, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 3, 5000));
    test_sleep_ms(20);
    cr_assert_eq(load_uint(&p.fired), 3u);
    test_assert_checks();
}

/* fn stops its own timer: it fired, and waiting for fn to return would
 * never end. */
typedef struct {
    hop_timer_t timer;
    int stop_result;
    unsigned int done;
} self_stop_t;

static void self_stop_fn(hop_timer_t *timer, void *arg) {
    self_stop_t *s = arg;
    s->stop_result = hop_timer_stop(timer);
    store_uint(&s->done, 1u);
}

Test(timer, stopping_a_timer_from_its_own_callback_returns_without_waiting) {
    self_stop_t s = {0};
    HOP_OK(hop_timer_start(&s.timer, 0, self_stop_fn, &s));
    cr_assert(test_wait_for_ms(&s.done, 1, 5000), "the callback is stuck (deadlock?)");
    cr_assert_eq(s.stop_result, HOP_EALREADY, "got %s", hop_err_name(s.stop_result));
    test_assert_checks();
}

/* fn takes a while: a stopper on another thread must wait for it. */
typedef struct {
    hop_timer_t timer;
    unsigned int entered;
    unsigned int left;
} slow_t;

static void slow_fn(hop_timer_t *timer, void *arg) {
    (void)timer;
    slow_t *s = arg;
    store_uint(&s->entered, 1u);
    test_sleep_ms(100);
    store_uint(&s->left, 1u);
}

Test(timer, stopping_from_another_thread_waits_for_a_running_callback) {
    slow_t *s = calloc(1, sizeof *s);
    HOP_OK(hop_timer_start(&s->timer, 0, slow_fn, s));
    cr_assert(test_wait_for_ms(&s->entered, 1, 5000));
    HOP_ERR(hop_timer_stop(&s->timer), HOP_EALREADY);
    cr_assert_eq(load_uint(&s->left), 1u, "hop_timer_stop returned while the callback still ran");
    free(s); /* ASan: nothing touches the timer after stop returned */
    test_assert_checks();
}

/* A callback that restarts its own timer: periodic, until stopped. */
typedef struct {
    hop_timer_t timer;
    unsigned int fired;
    unsigned int limit;
    int restart_result;
} periodic_t;

static void periodic_fn(hop_timer_t *timer, void *arg) {
    periodic_t *p = arg;
    if (add_uint(&p->fired, 1u) + 1u < p->limit)
        p->restart_result = hop_timer_start(timer, 1, periodic_fn, p);
}

Test(timer, a_callback_may_restart_its_own_timer) {
    periodic_t p = {.limit = 5};
    HOP_OK(hop_timer_start(&p.timer, 1, periodic_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 5, 5000), "fired %u times", load_uint(&p.fired));
    cr_assert_eq(p.restart_result, 0, "%s", hop_err_name(p.restart_result));
    test_sleep_ms(30);
    cr_assert_eq(load_uint(&p.fired), 5u);
    test_assert_checks();
}

Test(timer, stop_ends_a_timer_that_restarts_itself) {
    periodic_t *p = calloc(1, sizeof *p);
    p->limit = UINT32_MAX;
    HOP_OK(hop_timer_start(&p->timer, 1, periodic_fn, p));
    cr_assert(test_wait_for_ms(&p->fired, 3, 5000));
    int err = hop_timer_stop(&p->timer);
    cr_assert(err == 0 || err == HOP_EALREADY, "%s", hop_err_name(err));
    unsigned int fired = load_uint(&p->fired);
    test_sleep_ms(30);
    cr_assert_eq(load_uint(&p->fired), fired, "it fired again after hop_timer_stop returned");
    free(p);
    test_assert_checks();
}

Test(timer, a_plain_thread_timer_fires_on_the_hop_timer_thread) {
    probe_t p = {0};
    HOP_OK(hop_timer_start(&p.timer, 1, probe_fn, &p));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    cr_assert_str_eq(p.thread_name, "hop-timer");
    cr_assert_null(p.loop);
    cr_assert_not(pthread_equal(p.thread, current_thread()));
    test_assert_checks();
}

/* ---- from a pool task ---- */

static void *pool_task_starts_timer(void *arg) {
    probe_t *p = arg;
    int err = hop_timer_start(&p->timer, 1, probe_fn, p);
    return (void *)(intptr_t)err;
}

Test(timer, a_pool_task_timer_fires_on_the_hop_timer_thread) {
    hop_pool_t pool;
    HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
    probe_t p = {0};
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_pool_executor(&pool), pool_task_starts_timer, &p, NULL, &task));
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(task), 10000, &result));
    hop_task_unref(task);
    cr_assert_eq((int)(intptr_t)result, 0, "hop_timer_start in the task: %s", hop_err_name((int)(intptr_t)result));
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    cr_assert_str_eq(p.thread_name, "hop-timer");
    HOP_OK(hop_pool_close(&pool));
    test_assert_checks();
}

/* ---- stress: start and stop racing the firing ---- */

enum { STRESS_THREADS = 4, STRESS_TIMERS = 3000 };

typedef struct {
    hop_timer_t timer;
    unsigned int fired;
    unsigned int stopped; /* hop_timer_stop returned 0 */
} counted_t;

static void counted_fn(hop_timer_t *timer, void *arg) {
    (void)timer;
    counted_t *c = arg;
    add_uint(&c->fired, 1u);
}

typedef struct {
    counted_t *timers;
    unsigned int seed;
    unsigned int fired_at_stop_mismatch;
    int error;
} stress_thread_t;

static void *stress_thread(void *arg) {
    stress_thread_t *st = arg;
    for (unsigned int i = 0; i < STRESS_TIMERS; i++) {
        counted_t *c = &st->timers[i];
        int err = hop_timer_start(&c->timer, rand_r(&st->seed) % 3, counted_fn, c);
        if (err) {
            st->error = err;
            return NULL;
        }
        /* Stop at once, after a moment, or around the deadline. */
        unsigned int wait = rand_r(&st->seed) % 4;
        if (wait == 1)
            sched_yield();
        else if (wait >= 2)
            test_sleep_ms(wait - 1);
        err = hop_timer_stop(&c->timer);
        if (err == 0) {
            store_uint(&c->stopped, 1u);
        } else if (err == HOP_EALREADY) {
            /* Stop waits for fn: it has run exactly once by now. */
            if (load_uint(&c->fired) != 1u)
                st->fired_at_stop_mismatch++;
        } else {
            st->error = err;
            return NULL;
        }
    }
    return NULL;
}

Test(timer, racing_stops_and_firings_resolve_each_timer_exactly_once) {
    pthread_t threads[STRESS_THREADS];
    stress_thread_t st[STRESS_THREADS];
    for (int t = 0; t < STRESS_THREADS; t++) {
        st[t] = (stress_thread_t){.timers = calloc(STRESS_TIMERS, sizeof(counted_t)), .seed = 17u + (unsigned)t};
        cr_assert_not_null(st[t].timers);
        cr_assert_eq(pthread_create(&threads[t], NULL, stress_thread, &st[t]), 0);
    }
    for (int t = 0; t < STRESS_THREADS; t++)
        pthread_join(threads[t], NULL);
    unsigned int fired = 0, stopped = 0;
    for (int t = 0; t < STRESS_THREADS; t++) {
        cr_assert_eq(st[t].error, 0, "thread %d: %s", t, hop_err_name(st[t].error));
        cr_assert_eq(st[t].fired_at_stop_mismatch, 0u, "thread %d: stop said fired, fn had not run once", t);
        for (unsigned int i = 0; i < STRESS_TIMERS; i++) {
            counted_t *c = &st[t].timers[i];
            unsigned int f = load_uint(&c->fired), s = load_uint(&c->stopped);
            cr_assert_eq(f + s, 1u, "timer %d/%u: fired %u times, stopped %u", t, i, f, s);
            fired += f;
            stopped += s;
        }
        free(st[t].timers);
    }
    /* Both outcomes happened, or the race was not exercised. */
    cr_assert_gt(fired, 0u);
    cr_assert_gt(stopped, 0u);
    test_assert_checks();
}

/* ---- loops' own clocks ---- */

typedef struct {
    hop_job_t job;
    probe_t *probes;
    const int64_t *timeouts;
    int count;
    unsigned int *order;
    pthread_t thread;
    int result;
    unsigned int done;
} starter_t;

/* A job on the loop that starts count probes' timers. */
static void starter_run(hop_job_t *job) {
    starter_t *s = (starter_t *)job;
    s->thread = current_thread();
    s->result = 0;
    for (int i = 0; i < s->count && !s->result; i++) {
        s->probes[i].order = s->order;
        s->result = hop_timer_start(&s->probes[i].timer, s->timeouts[i], probe_fn, &s->probes[i]);
    }
    store_uint(&s->done, 1u);
}

static void start_on_loop(hop_loop_t *loop, starter_t *s, probe_t *probes, const int64_t *timeouts, int count,
                          unsigned int *order) {
    *s = (starter_t){.probes = probes, .timeouts = timeouts, .count = count, .order = order};
    hop_job_init(&s->job, starter_run);
    HOP_OK(hop_loop_post(loop, &s->job));
    cr_assert(test_wait_for_ms(&s->done, 1, 5000));
    HOP_OK(s->result);
}

Test(timer, a_timer_started_in_a_loop_job_fires_on_the_loop_thread) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    probe_t p = {0};
    starter_t s;
    static const int64_t timeout = 20;
    uint64_t start = hop_time_now_ns();
    start_on_loop(&loop, &s, &p, &timeout, 1, NULL);
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    cr_assert_geq(p.fired_at - start, 20 * MS);
    cr_assert(pthread_equal(p.thread, s.thread), "fired on another thread than the loop's");
    cr_assert_eq(p.loop, &loop);
    cr_assert_str_eq(p.thread_name, "hop-loop");
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(load_uint(&p.fired), 1u);
    test_assert_checks();
}

typedef struct {
    hop_job_t job;
    periodic_t *periodic;
    int result;
    unsigned int done;
} periodic_starter_t;

static void start_periodic(hop_job_t *job) {
    periodic_starter_t *s = (periodic_starter_t *)job;
    s->result = hop_timer_start(&s->periodic->timer, 1, periodic_fn, s->periodic);
    store_uint(&s->done, 1u);
}

Test(timer, a_loop_timer_callback_may_restart_its_own_timer) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    periodic_t p = {.limit = 5};
    periodic_starter_t s = {.periodic = &p};
    hop_job_init(&s.job, start_periodic);
    HOP_OK(hop_loop_post(&loop, &s.job));
    cr_assert(test_wait_for_ms(&s.done, 1, 5000));
    HOP_OK(s.result);
    cr_assert(test_wait_for_ms(&p.fired, 5, 5000), "fired %u times", load_uint(&p.fired));
    cr_assert_eq(p.restart_result, 0, "%s", hop_err_name(p.restart_result));
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(load_uint(&p.fired), 5u);
    test_assert_checks();
}

static void *loop_task_starts_timer(void *arg) {
    probe_t *p = arg;
    int err = hop_timer_start(&p->timer, 1, probe_fn, p);
    return (void *)(intptr_t)err;
}

Test(timer, a_timer_started_in_a_loop_task_fires_on_the_loop_thread) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    probe_t p = {0};
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), loop_task_starts_timer, &p, NULL, &task));
    void *result;
    HOP_OK(hop_future_wait(hop_task_future(task), 10000, &result));
    hop_task_unref(task);
    HOP_OK((int)(intptr_t)result);
    cr_assert(test_wait_for_ms(&p.fired, 1, 5000));
    cr_assert_eq(p.loop, &loop);
    cr_assert_str_eq(p.thread_name, "hop-loop");
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

Test(timer, loop_timers_fire_in_deadline_order_even_when_a_later_start_comes_due_first) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    static const int64_t first[] = {300, 150};
    static const int64_t second[] = {20, 0, 60};
    probe_t a[2], b[3];
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    unsigned int order = 0;
    starter_t s;
    start_on_loop(&loop, &s, a, first, 2, &order);
    /* The uv timer is armed for 150 ms now: these must re-arm it. */
    uint64_t start = hop_time_now_ns();
    start_on_loop(&loop, &s, b, second, 3, &order);
    cr_assert(test_wait_for_ms(&b[2].fired, 1, 5000));
    cr_assert_geq(b[2].fired_at - start, 60 * MS);
    cr_assert(test_wait_for_ms(&a[0].fired, 1, 5000));
    cr_assert(test_wait_for_ms(&a[1].fired, 1, 5000));
    cr_assert(test_wait_for_ms(&b[0].fired, 1, 5000));
    cr_assert(test_wait_for_ms(&b[1].fired, 1, 5000));
    cr_assert_eq(b[1].place, 0u);
    cr_assert_eq(b[0].place, 1u);
    cr_assert_eq(b[2].place, 2u);
    cr_assert_eq(a[1].place, 3u);
    cr_assert_eq(a[0].place, 4u);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

Test(timer, a_loop_timer_can_be_stopped_from_another_thread) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    probe_t p = {0};
    starter_t s;
    static const int64_t timeout = 10000;
    start_on_loop(&loop, &s, &p, &timeout, 1, NULL);
    HOP_ERR(hop_timer_start(&p.timer, 1, probe_fn, &p), HOP_EBUSY); /* pending on the loop's clock */
    HOP_OK(hop_timer_stop(&p.timer));
    HOP_ERR(hop_timer_stop(&p.timer), HOP_EALREADY);
    HOP_OK(hop_loop_close(&loop));
    cr_assert_eq(load_uint(&p.fired), 0u);
    test_assert_checks();
}

typedef struct {
    hop_job_t job;
    slow_t *slow;
    int result;
    unsigned int done;
} slow_starter_t;

static void slow_starter_run(hop_job_t *job) {
    slow_starter_t *s = (slow_starter_t *)job;
    s->result = hop_timer_start(&s->slow->timer, 0, slow_fn, s->slow);
    store_uint(&s->done, 1u);
}

Test(timer, stopping_a_loop_timer_from_another_thread_waits_for_its_running_callback) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    slow_t *slow = calloc(1, sizeof *slow);
    slow_starter_t s = {.slow = slow};
    hop_job_init(&s.job, slow_starter_run);
    HOP_OK(hop_loop_post(&loop, &s.job));
    cr_assert(test_wait_for_ms(&s.done, 1, 5000));
    HOP_OK(s.result);
    cr_assert(test_wait_for_ms(&slow->entered, 1, 5000));
    HOP_ERR(hop_timer_stop(&slow->timer), HOP_EALREADY);
    cr_assert_eq(load_uint(&slow->left), 1u, "hop_timer_stop returned while the callback still ran");
    free(slow);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* A task that naps on a loop timer: a future completed by the callback. */
typedef struct {
    hop_timer_t timer;
    hop_future_t done;
    int64_t ms;
    hop_loop_t *loop_seen;
} nap_t;

static void nap_fn(hop_timer_t *timer, void *arg) {
    (void)timer;
    nap_t *n = arg;
    n->loop_seen = hop_loop_current();
    hop_future_set_result(&n->done, NULL);
}

static void *napping_task(void *arg) {
    nap_t *n = arg;
    CHECK_OK(hop_future_init(&n->done));
    int err = hop_timer_start(&n->timer, n->ms, nap_fn, n);
    if (err)
        return (void *)(intptr_t)err;
    err = hop_future_await(&n->done, NULL);
    int stop = hop_timer_stop(&n->timer);
    if (!err && stop != HOP_EALREADY)
        err = stop == 0 ? HOP_EINVAL : stop;
    return (void *)(intptr_t)err;
}

static void close_loop_with_a_napping_task(bool started) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    if (started)
        HOP_OK(hop_loop_start(&loop));
    nap_t n = {.ms = 50};
    hop_task_t *task;
    HOP_OK(hop_task_spawn(hop_loop_executor(&loop), napping_task, &n, NULL, &task));
    uint64_t start = hop_time_now_ns();
    HOP_OK(hop_loop_close(&loop)); /* waits for the task, which waits for its timer */
    cr_assert_geq(hop_time_now_ns() - start, 50 * MS);
    void *result = NULL;
    HOP_OK(hop_future_result(hop_task_future(task), &result));
    HOP_OK((int)(intptr_t)result);
    cr_assert_eq(n.loop_seen, &loop);
    hop_task_unref(task);
}

Test(timer, a_closing_loop_fires_the_timer_its_last_task_waits_for) {
    close_loop_with_a_napping_task(true);
    test_assert_checks();
}

Test(timer, closing_a_loop_nobody_runs_fires_the_timer_its_task_waits_for) {
    close_loop_with_a_napping_task(false);
    test_assert_checks();
}

Test(timer, a_closing_loop_drops_its_pending_timers) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    probe_t p[2];
    memset(p, 0, sizeof p);
    static const int64_t timeouts[] = {60000, 30000};
    starter_t s;
    start_on_loop(&loop, &s, p, timeouts, 2, NULL);
    uint64_t start = hop_time_now_ns();
    HOP_OK(hop_loop_close(&loop));
    cr_assert_lt(hop_time_now_ns() - start, 5000 * MS, "close waited for a timer");
    cr_assert_eq(load_uint(&p[0].fired), 0u);
    /* Dropped: "stopped before firing", once; the memory is the caller's. */
    HOP_OK(hop_timer_stop(&p[0].timer));
    HOP_ERR(hop_timer_stop(&p[0].timer), HOP_EALREADY);
    /* And it may be started again (here on the timer service). */
    HOP_OK(hop_timer_start(&p[1].timer, 0, probe_fn, &p[1]));
    cr_assert(test_wait_for_ms(&p[1].fired, 1, 5000));
    cr_assert_str_eq(p[1].thread_name, "hop-timer");
    test_assert_checks();
}

/* Stress on a loop's clock: a job on the loop starts timers, other threads
 * stop them while the loop thread fires them. */
enum { LOOP_STRESS_ROUNDS = 8, LOOP_STRESS_TIMERS = 600, LOOP_STRESS_STOPPERS = 3 };

typedef struct {
    hop_job_t job;
    counted_t *timers;
    unsigned int *started;
    unsigned int seed;
    int error;
} loop_stress_starter_t;

static void loop_stress_start(hop_job_t *job) {
    loop_stress_starter_t *s = (loop_stress_starter_t *)job;
    for (unsigned int i = 0; i < LOOP_STRESS_TIMERS; i++) {
        int err = hop_timer_start(&s->timers[i].timer, rand_r(&s->seed) % 3, counted_fn, &s->timers[i]);
        if (err && !s->error)
            s->error = err;
        store_uint(&s->started[i], err ? 2u : 1u); /* published after the start */
    }
}

typedef struct {
    loop_stress_starter_t *starter;
    unsigned int first;
    unsigned int seed;
    unsigned int mismatches;
    int error;
} loop_stopper_t;

static void *loop_stopper(void *arg) {
    loop_stopper_t *st = arg;
    for (unsigned int i = st->first; i < LOOP_STRESS_TIMERS; i += LOOP_STRESS_STOPPERS) {
        if (i % 5 == 4)
            continue; /* left to fire */
        while (load_uint(&st->starter->started[i]) == 0u)
            sched_yield();
        if (load_uint(&st->starter->started[i]) != 1u)
            continue;
        if (rand_r(&st->seed) % 3 == 0)
            test_sleep_ms(1);
        counted_t *c = &st->starter->timers[i];
        int err = hop_timer_stop(&c->timer);
        if (err == 0)
            store_uint(&c->stopped, 1u);
        else if (err == HOP_EALREADY && load_uint(&c->fired) != 1u)
            st->mismatches++;
        else if (err != HOP_EALREADY && !st->error)
            st->error = err;
    }
    return NULL;
}

Test(timer, loop_timers_stopped_from_other_threads_resolve_exactly_once) {
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    unsigned int fired = 0, stopped = 0;
    for (unsigned int round = 0; round < LOOP_STRESS_ROUNDS; round++) {
        loop_stress_starter_t s = {.timers = calloc(LOOP_STRESS_TIMERS, sizeof(counted_t)),
                                   .started = calloc(LOOP_STRESS_TIMERS, sizeof(unsigned int)),
                                   .seed = 7u + round};
        cr_assert(s.timers && s.started);
        hop_job_init(&s.job, loop_stress_start);
        pthread_t threads[LOOP_STRESS_STOPPERS];
        loop_stopper_t st[LOOP_STRESS_STOPPERS];
        for (unsigned int t = 0; t < LOOP_STRESS_STOPPERS; t++) {
            st[t] = (loop_stopper_t){.starter = &s, .first = t, .seed = 31u * round + t};
            cr_assert_eq(pthread_create(&threads[t], NULL, loop_stopper, &st[t]), 0);
        }
        HOP_OK(hop_loop_post(&loop, &s.job));
        for (unsigned int t = 0; t < LOOP_STRESS_STOPPERS; t++) {
            pthread_join(threads[t], NULL);
            cr_assert_eq(st[t].error, 0, "%s", hop_err_name(st[t].error));
            cr_assert_eq(st[t].mismatches, 0u, "stop said fired, fn had not run once");
        }
        for (unsigned int i = 0; i < LOOP_STRESS_TIMERS; i++) {
            while (load_uint(&s.started[i]) == 0u)
                test_sleep_ms(1);
            counted_t *c = &s.timers[i];
            if (!load_uint(&c->stopped))
                cr_assert(test_wait_for_ms(&c->fired, 1, 5000), "round %u timer %u never fired", round, i);
        }
        cr_assert_eq(s.error, 0, "hop_timer_start on the loop: %s", hop_err_name(s.error));
        test_sleep_ms(5); /* a second firing would show up now */
        for (unsigned int i = 0; i < LOOP_STRESS_TIMERS; i++) {
            counted_t *c = &s.timers[i];
            unsigned int f = load_uint(&c->fired), x = load_uint(&c->stopped);
            cr_assert_eq(f + x, 1u, "round %u timer %u: fired %u times, stopped %u", round, i, f, x);
            fired += f;
            stopped += x;
        }
        free(s.timers);
        free(s.started);
    }
    cr_assert_gt(fired, 0u);
    cr_assert_gt(stopped, 0u);
    HOP_OK(hop_loop_close(&loop));
    test_assert_checks();
}

/* ---- a clock driven by hand (white-box: src/time/timer_internal.h) ---- */

static unsigned int rearms;
static void count_rearm(void *ctx) {
    CHECK(ctx == &rearms);
    rearms++;
}

Test(timer, a_clock_asks_to_rearm_only_for_a_new_earliest_deadline_and_refuses_starts_once_closed) {
    static const hop__timer_clock_ops_t ops = {.rearm = count_rearm};
    hop__timer_clock_t *clock = hop__timer_clock_create(&ops, &rearms);
    cr_assert_not_null(clock);
    hop__timer_clock_t *outer = hop__timer_clock_set_current(clock);
    probe_t p[4];
    memset(p, 0, sizeof p);
    uint64_t before = hop_time_now_ns();
    HOP_OK(hop_timer_start(&p[0].timer, 100000, probe_fn, &p[0]));
    HOP_OK(hop_timer_start(&p[1].timer, 50000, probe_fn, &p[1]));
    HOP_OK(hop_timer_start(&p[2].timer, 200000, probe_fn, &p[2]));
    cr_assert_eq(rearms, 2u, "rearm called %u times", rearms);
    uint64_t next = hop__timer_clock_next(clock);
    cr_assert(next >= before + 50000 * MS && next <= hop_time_now_ns() + 50000 * MS);
    cr_assert_eq(hop__timer_clock_run_due(clock), next, "nothing is due yet");
    /* Due at once: runs here, on the driver's thread, when run_due is called. */
    HOP_OK(hop_timer_start(&p[3].timer, 0, probe_fn, &p[3]));
    cr_assert_eq(rearms, 3u);
    cr_assert_eq(load_uint(&p[3].fired), 0u, "nothing runs a clock's callbacks but its driver");
    cr_assert_eq(hop__timer_clock_run_due(clock), next);
    cr_assert_eq(load_uint(&p[3].fired), 1u);
    cr_assert(pthread_equal(p[3].thread, current_thread()));
    HOP_OK(hop_timer_stop(&p[1].timer));
    cr_assert_eq(hop__timer_clock_next(clock), p[0].timer.deadline_ns);

    hop__timer_clock_close(clock);
    cr_assert_eq(rearms, 3u);
    HOP_ERR(hop_timer_start(&p[1].timer, 0, probe_fn, &p[1]), HOP_ECLOSED);
    HOP_OK(hop_timer_stop(&p[0].timer)); /* dropped by the close: never ran */
    HOP_OK(hop_timer_stop(&p[2].timer));
    cr_assert_eq(hop__timer_clock_next(clock), HOP__TIMER_NEVER);
    hop__timer_clock_set_current(outer);
    hop__timer_clock_free(clock);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(load_uint(&p[i].fired), 0u);
    HOP_ERR(hop_timer_stop(&p[3].timer), HOP_EALREADY); /* its clock was recycled: still safe */
    test_assert_checks();
}
