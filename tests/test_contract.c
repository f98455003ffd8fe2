/* tests/test_contract.c: the rules every hop type follows, as written in the
 * README's "Errors" section: one table of (situation, type, call, expected
 * code), walked one situation per test. Each row runs its scenario from
 * scratch and returns the code of the one call the rule is about. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

typedef enum {
    CLOSE_TWICE,
    USE_WHEN_CLOSED,
    TRY_WOULD_WAIT,
    STATS_WHEN_CLOSED,
    NAME_TOO_LONG,
    NAME_AT_THE_LIMIT,
    AFTER_FAILED_INIT,
    ZEROED_NEVER_INITIALISED,
    ZEROED_IS_INITIALISED,
    AFTER_DESTROY,
    ZEROED_OPTIONS,
} situation_t;

typedef struct {
    situation_t situation;
    const char *type;
    const char *call;
    int (*run)(void);
    int expected;
} rule_t;

/* A code no hop call returns: a scenario's own setup went wrong. */
#define SETUP_FAILED 0x5e7

#define TRY(call)                                                                                            \
    do {                                                                                                     \
        if ((call) != 0)                                                                                     \
            return SETUP_FAILED;                                                                             \
    } while (0)

static void never(hop_job_t *job) { (void)job; }

static void *noop_task(void *arg) { return arg; }

static int noop_child(void *arg, void **result) {
    (void)arg, (void)result;
    return 0;
}

static const hop_pool_options_t one_thread = {.threads = 1};

/* ---- closing twice: HOP_EALREADY ---- */

static int pool_close_twice(void) {
    hop_pool_t pool;
    TRY(hop_pool_init(&pool, &one_thread));
    TRY(hop_pool_close(&pool));
    return hop_pool_close(&pool);
}

static int loop_close_twice(void) {
    hop_loop_t loop;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    return hop_loop_close(&loop);
}

static int started_loop_close_twice(void) {
    hop_loop_t loop;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_start(&loop));
    TRY(hop_loop_close(&loop));
    return hop_loop_close(&loop);
}

static int manual_close_twice(void) {
    hop_executor_t *manual;
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_manual_executor_close(manual));
    int rc = hop_manual_executor_close(manual);
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

static int channel_close_twice(void) {
    hop_channel_t channel;
    TRY(hop_channel_init(&channel, 1, NULL));
    TRY(hop_channel_close(&channel));
    int rc = hop_channel_close(&channel);
    TRY(hop_channel_destroy(&channel));
    return rc;
}

static int blocking_close_twice(void) {
    hop_blocking_t pool;
    TRY(hop_blocking_init(&pool, NULL));
    TRY(hop_blocking_close(&pool));
    return hop_blocking_close(&pool);
}

/* ---- using a closed object: HOP_ECLOSED ---- */

static int pool_submit_when_closed(void) {
    hop_pool_t pool;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_pool_init(&pool, &one_thread));
    TRY(hop_pool_close(&pool));
    return hop_pool_submit(&pool, &job);
}

static int pool_spawn_when_closed(void) {
    hop_pool_t pool;
    TRY(hop_pool_init(&pool, &one_thread));
    TRY(hop_pool_close(&pool));
    return hop_task_spawn(hop_pool_executor(&pool), noop_task, NULL, NULL, NULL);
}

static int blocking_submit_when_closed(void) {
    hop_blocking_t pool;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_blocking_init(&pool, NULL));
    TRY(hop_blocking_close(&pool));
    return hop_blocking_submit(&pool, &job);
}

static int loop_post_when_closed(void) {
    hop_loop_t loop;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    return hop_loop_post(&loop, &job);
}

static int loop_start_when_closed(void) {
    hop_loop_t loop;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    return hop_loop_start(&loop);
}

static int loop_run_when_closed(void) {
    hop_loop_t loop;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    return hop_loop_run(&loop);
}

static int loop_stop_when_closed(void) {
    hop_loop_t loop;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    return hop_loop_stop(&loop);
}

static int manual_submit_when_closed(void) {
    hop_executor_t *manual;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_manual_executor_close(manual));
    int rc = hop_executor_submit(manual, &job);
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

static int channel_send_when_closed(void) {
    hop_channel_t channel;
    TRY(hop_channel_init(&channel, 1, NULL));
    TRY(hop_channel_close(&channel));
    int rc = hop_channel_try_send(&channel, NULL);
    TRY(hop_channel_destroy(&channel));
    return rc;
}

static int channel_receive_when_closed_and_drained(void) {
    hop_channel_t channel;
    void *item;
    TRY(hop_channel_init(&channel, 1, NULL));
    TRY(hop_channel_close(&channel));
    int rc = hop_channel_try_receive(&channel, &item);
    TRY(hop_channel_destroy(&channel));
    return rc;
}

static int group_spawn_when_closed(void) {
    hop_executor_t *manual;
    hop_group_t group;
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_group_init(&group));
    TRY(hop_group_cancel(&group));
    int rc = hop_group_spawn(&group, manual, noop_child, NULL, NULL, NULL);
    TRY(hop_group_destroy(&group));
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

/* ---- try-operations that would have to wait: HOP_EAGAIN ---- */

typedef struct {
    hop_mutex_t *mutex;
    int rc;
} try_lock_t;

static void *lock_and_keep(void *arg) {
    try_lock_t *t = arg;
    t->rc = hop_mutex_lock(t->mutex); /* finishing while holding it leaves it locked */
    return NULL;
}

static void *try_lock(void *arg) {
    try_lock_t *t = arg;
    t->rc = hop_mutex_try_lock(t->mutex);
    return NULL;
}

static int mutex_try_lock_when_held(void) {
    hop_executor_t *manual;
    hop_mutex_t mutex;
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_mutex_init(&mutex));
    try_lock_t holder = {.mutex = &mutex, .rc = SETUP_FAILED};
    try_lock_t trier = {.mutex = &mutex, .rc = SETUP_FAILED};
    TRY(hop_task_spawn(manual, lock_and_keep, &holder, NULL, NULL));
    hop_manual_executor_run_all(manual, 0);
    TRY(holder.rc);
    TRY(hop_task_spawn(manual, try_lock, &trier, NULL, NULL));
    hop_manual_executor_run_all(manual, 0);
    TRY(hop_manual_executor_destroy(manual));
    return trier.rc;
}

static int semaphore_try_acquire_when_empty(void) {
    hop_semaphore_t semaphore;
    TRY(hop_semaphore_init(&semaphore, 0, 1));
    int rc = hop_semaphore_try_acquire(&semaphore);
    TRY(hop_semaphore_destroy(&semaphore));
    return rc;
}

static int channel_try_send_when_full(void) {
    hop_channel_t channel;
    TRY(hop_channel_init(&channel, 1, NULL));
    TRY(hop_channel_try_send(&channel, NULL));
    int rc = hop_channel_try_send(&channel, NULL);
    TRY(hop_channel_destroy(&channel));
    return rc;
}

static int channel_try_receive_when_empty(void) {
    hop_channel_t channel;
    void *item;
    TRY(hop_channel_init(&channel, 1, NULL));
    int rc = hop_channel_try_receive(&channel, &item);
    TRY(hop_channel_destroy(&channel));
    return rc;
}

static int future_result_when_pending(void) {
    hop_future_t future;
    TRY(hop_future_init(&future));
    return hop_future_result(&future, NULL);
}

static int group_status_when_running(void) {
    hop_executor_t *manual;
    hop_group_t group;
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_group_init(&group));
    TRY(hop_group_spawn(&group, manual, noop_child, NULL, NULL, NULL));
    int rc = hop_group_status(&group, 0, NULL, NULL); /* the child has not run yet */
    hop_manual_executor_run_all(manual, 0);
    TRY(hop_group_destroy(&group));
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

/* ---- stats of a closed object: HOP_ECLOSED, counters zeroed ---- */

static int pool_stats_when_closed(void) {
    hop_pool_t pool;
    hop_pool_stats_t stats;
    TRY(hop_pool_init(&pool, &one_thread));
    TRY(hop_pool_close(&pool));
    memset(&stats, 0xff, sizeof stats);
    int rc = hop_pool_stats(&pool, &stats);
    if (stats.jobs_run || stats.steals || stats.parks || stats.wakeups || stats.injected)
        return SETUP_FAILED; /* not zeroed */
    return rc;
}

static int loop_stats_when_closed(void) {
    hop_loop_t loop;
    hop_loop_stats_t stats;
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    memset(&stats, 0xff, sizeof stats);
    int rc = hop_loop_stats(&loop, &stats);
    if (stats.jobs_run || stats.wakeups_sent || stats.batches)
        return SETUP_FAILED;
    return rc;
}

static int blocking_stats_when_closed(void) {
    hop_blocking_t pool;
    hop_blocking_stats_t stats;
    TRY(hop_blocking_init(&pool, NULL));
    TRY(hop_blocking_close(&pool));
    memset(&stats, 0xff, sizeof stats);
    int rc = hop_blocking_stats(&pool, &stats);
    if (stats.threads || stats.jobs_run || stats.queued)
        return SETUP_FAILED;
    return rc;
}

/* ---- names: refused when too long (HOP_EINVAL), never cut ---- */

static int pool_with_name(const char *name) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 1, .name = name};
    int rc = hop_pool_init(&pool, &options);
    if (rc == 0)
        TRY(hop_pool_close(&pool));
    return rc;
}

static int loop_with_name(const char *name) {
    hop_loop_t loop;
    hop_loop_options_t options = {.name = name};
    int rc = hop_loop_init(&loop, &options);
    if (rc == 0)
        TRY(hop_loop_close(&loop));
    return rc;
}

static int task_with_name(const char *name) {
    hop_executor_t *manual;
    hop_task_options_t options = {.name = name};
    hop_task_t *task = NULL;
    TRY(hop_manual_executor_create(&manual));
    int rc = hop_task_spawn(manual, noop_task, NULL, &options, &task);
    if (rc == 0 && strcmp(hop_task_name(task), name) != 0)
        rc = SETUP_FAILED; /* cut */
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(task);
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

static int blocking_with_name(const char *name) {
    hop_blocking_t pool;
    hop_blocking_options_t options = {.name = name};
    int rc = hop_blocking_init(&pool, &options);
    if (rc == 0)
        TRY(hop_blocking_close(&pool));
    return rc;
}

static int pool_name_of_11_bytes(void) { return pool_with_name("0123456789a"); }
static int pool_name_of_10_bytes(void) { return pool_with_name("0123456789"); }
static int blocking_name_of_11_bytes(void) { return blocking_with_name("0123456789a"); }
static int blocking_name_of_10_bytes(void) { return blocking_with_name("0123456789"); }
static int loop_name_of_16_bytes(void) { return loop_with_name("0123456789abcdef"); }
static int loop_name_of_15_bytes(void) { return loop_with_name("0123456789abcde"); }
static int task_name_of_32_bytes(void) { return task_with_name("0123456789abcdef0123456789abcdef"); }
static int task_name_of_31_bytes(void) { return task_with_name("0123456789abcdef0123456789abcde"); }

/* ---- after a failed init: never initialised (HOP_EINVAL), even if the
 * object was a closed one before ---- */

static int pool_submit_after_failed_init(void) {
    hop_pool_t pool;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_pool_init(&pool, &one_thread));
    TRY(hop_pool_close(&pool));
    hop_pool_options_t bad = {.threads = 1025};
    if (hop_pool_init(&pool, &bad) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_pool_submit(&pool, &job);
}

static int pool_close_after_failed_init(void) {
    hop_pool_t pool;
    hop_pool_options_t bad = {.spin_us = -1};
    memset(&pool, 0xa5, sizeof pool);
    if (hop_pool_init(&pool, &bad) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_pool_close(&pool);
}

static int loop_post_after_failed_init(void) {
    hop_loop_t loop;
    hop_job_t job;
    hop_job_init(&job, never);
    TRY(hop_loop_init(&loop, NULL));
    TRY(hop_loop_close(&loop));
    hop_loop_options_t bad = {.spin_us = -1};
    if (hop_loop_init(&loop, &bad) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_loop_post(&loop, &job);
}

static int loop_close_after_failed_init(void) {
    hop_loop_t loop;
    hop_loop_options_t bad = {.name = "0123456789abcdef"};
    memset(&loop, 0xa5, sizeof loop);
    if (hop_loop_init(&loop, &bad) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_loop_close(&loop);
}

static int semaphore_after_failed_init(void) {
    hop_semaphore_t semaphore;
    TRY(hop_semaphore_init(&semaphore, 1, 1));
    if (hop_semaphore_init(&semaphore, 2, 1) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_semaphore_try_acquire(&semaphore);
}

static int channel_after_failed_init(void) {
    hop_channel_t channel;
    void *slots[1];
    TRY(hop_channel_init(&channel, 1, slots));
    if (hop_channel_init(&channel, HOP_CHANNEL_CAPACITY_MAX + 1, NULL) != HOP_EINVAL)
        return SETUP_FAILED;
    return hop_channel_try_send(&channel, NULL);
}

/* ---- zeroed memory never initialised: HOP_EINVAL, never a crash ---- */

static int zeroed_pool_close(void) {
    hop_pool_t pool = {0};
    return hop_pool_close(&pool);
}

static int zeroed_pool_submit(void) {
    hop_pool_t pool = {0};
    hop_job_t job;
    hop_job_init(&job, never);
    return hop_pool_submit(&pool, &job);
}

static int zeroed_pool_stats(void) {
    hop_pool_t pool = {0};
    hop_pool_stats_t stats;
    return hop_pool_stats(&pool, &stats);
}

static int zeroed_blocking_close(void) {
    hop_blocking_t pool = {0};
    return hop_blocking_close(&pool);
}

static int zeroed_blocking_submit(void) {
    hop_blocking_t pool = {0};
    hop_job_t job;
    hop_job_init(&job, never);
    return hop_blocking_submit(&pool, &job);
}

static int zeroed_loop_close(void) {
    hop_loop_t loop = {0};
    return hop_loop_close(&loop);
}

static int zeroed_loop_start(void) {
    hop_loop_t loop = {0};
    return hop_loop_start(&loop);
}

static int zeroed_loop_run(void) {
    hop_loop_t loop = {0};
    return hop_loop_run(&loop);
}

static int zeroed_loop_stop(void) {
    hop_loop_t loop = {0};
    return hop_loop_stop(&loop);
}

static int zeroed_loop_stats(void) {
    hop_loop_t loop = {0};
    hop_loop_stats_t stats;
    return hop_loop_stats(&loop, &stats);
}

static int zeroed_loop_post(void) {
    hop_loop_t loop = {0};
    hop_job_t job;
    hop_job_init(&job, never);
    return hop_loop_post(&loop, &job);
}

static int zeroed_mutex_destroy(void) {
    hop_mutex_t mutex = {0};
    return hop_mutex_destroy(&mutex);
}

static int zeroed_event_set(void) {
    hop_event_t event = {0};
    return hop_event_set(&event);
}

static int zeroed_semaphore_release(void) {
    hop_semaphore_t semaphore = {0};
    return hop_semaphore_release(&semaphore);
}

static int zeroed_channel_try_send(void) {
    hop_channel_t channel = {0};
    return hop_channel_try_send(&channel, NULL);
}

static int zeroed_channel_close(void) {
    hop_channel_t channel = {0};
    return hop_channel_close(&channel);
}

typedef struct {
    int rc;
} await_zeroed_t;

static void *await_zeroed(void *arg) {
    hop_awaitable_t awaitable;
    memset(&awaitable, 0, sizeof awaitable);
    ((await_zeroed_t *)arg)->rc = hop_await(&awaitable);
    return NULL;
}

static int zeroed_awaitable_await(void) {
    hop_executor_t *manual;
    await_zeroed_t a = {.rc = SETUP_FAILED};
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_task_spawn(manual, await_zeroed, &a, NULL, NULL));
    hop_manual_executor_run_all(manual, 0);
    TRY(hop_manual_executor_destroy(manual));
    return a.rc;
}

/* ---- zeroed memory that is an initialised object: once, timer, future,
 * group (their init is the same as zeroing) ---- */

static int make_value(void *arg, void **value) {
    *value = arg;
    return 0;
}

typedef struct {
    hop_once_t *once;
    int rc;
} once_call_t;

static void *call_once(void *arg) {
    once_call_t *c = arg;
    void *value = NULL;
    c->rc = hop_once_call(c->once, make_value, (void *)7, &value);
    if (c->rc == 0 && value != (void *)7)
        c->rc = SETUP_FAILED;
    return NULL;
}

static int zeroed_once_call(void) {
    hop_executor_t *manual;
    hop_once_t once;
    memset(&once, 0, sizeof once);
    once_call_t c = {.once = &once, .rc = SETUP_FAILED};
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_task_spawn(manual, call_once, &c, NULL, NULL));
    hop_manual_executor_run_all(manual, 0);
    TRY(hop_manual_executor_destroy(manual));
    return c.rc;
}

static void timer_fn(hop_timer_t *timer, void *arg) { (void)timer, (void)arg; }

static int zeroed_timer_start(void) {
    hop_timer_t timer;
    memset(&timer, 0, sizeof timer);
    int rc = hop_timer_start(&timer, 3600 * 1000, timer_fn, NULL);
    if (rc == 0)
        TRY(hop_timer_stop(&timer));
    return rc;
}

static int zeroed_future_set_result(void) {
    hop_future_t future;
    memset(&future, 0, sizeof future);
    int rc = hop_future_set_result(&future, (void *)3);
    void *result = NULL;
    if (rc == 0 && (hop_future_result(&future, &result) != 0 || result != (void *)3))
        return SETUP_FAILED;
    return rc;
}

static int zeroed_group_spawn(void) {
    hop_executor_t *manual;
    hop_group_t group;
    memset(&group, 0, sizeof group);
    TRY(hop_manual_executor_create(&manual));
    int rc = hop_group_spawn(&group, manual, noop_child, NULL, NULL, NULL);
    hop_manual_executor_run_all(manual, 0);
    TRY(hop_group_destroy(&group));
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

/* ---- destroyed: HOP_EINVAL until initialised again ---- */

static int mutex_destroy_twice(void) {
    hop_mutex_t mutex;
    TRY(hop_mutex_init(&mutex));
    TRY(hop_mutex_destroy(&mutex));
    return hop_mutex_destroy(&mutex);
}

static int event_destroy_twice(void) {
    hop_event_t event;
    TRY(hop_event_init(&event));
    TRY(hop_event_destroy(&event));
    return hop_event_destroy(&event);
}

static int semaphore_destroy_twice(void) {
    hop_semaphore_t semaphore;
    TRY(hop_semaphore_init(&semaphore, 1, 1));
    TRY(hop_semaphore_destroy(&semaphore));
    return hop_semaphore_destroy(&semaphore);
}

static int channel_destroy_twice(void) {
    hop_channel_t channel;
    TRY(hop_channel_init(&channel, 1, NULL));
    TRY(hop_channel_destroy(&channel));
    return hop_channel_destroy(&channel);
}

static int group_destroy_twice(void) {
    hop_group_t group;
    TRY(hop_group_init(&group));
    TRY(hop_group_destroy(&group));
    return hop_group_destroy(&group);
}

static int group_spawn_after_destroy(void) {
    hop_executor_t *manual;
    hop_group_t group;
    TRY(hop_manual_executor_create(&manual));
    TRY(hop_group_init(&group));
    TRY(hop_group_destroy(&group));
    int rc = hop_group_spawn(&group, manual, noop_child, NULL, NULL, NULL);
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

/* ---- zeroed options: the defaults ---- */

static int pool_zeroed_options(void) {
    hop_pool_t pool;
    hop_pool_options_t options;
    memset(&options, 0, sizeof options);
    TRY(hop_pool_init(&pool, NULL));
    unsigned int by_default = hop_pool_size(&pool);
    TRY(hop_pool_close(&pool));
    int rc = hop_pool_init(&pool, &options);
    if (rc)
        return rc;
    unsigned int zeroed = hop_pool_size(&pool);
    TRY(hop_pool_close(&pool));
    return zeroed == by_default ? 0 : SETUP_FAILED;
}

static int pool_spin_never(void) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 1, .spin_us = HOP_SPIN_NEVER};
    int rc = hop_pool_init(&pool, &options);
    if (rc == 0)
        TRY(hop_pool_close(&pool));
    return rc;
}

static int blocking_zeroed_options(void) {
    hop_blocking_t pool;
    hop_blocking_options_t options;
    memset(&options, 0, sizeof options);
    int rc = hop_blocking_init(&pool, &options);
    if (rc == 0)
        TRY(hop_blocking_close(&pool));
    return rc;
}

static int loop_zeroed_options(void) {
    hop_loop_t loop;
    hop_loop_options_t options;
    memset(&options, 0, sizeof options);
    int rc = hop_loop_init(&loop, &options);
    if (rc == 0)
        TRY(hop_loop_close(&loop));
    return rc;
}

static int loop_spin_never(void) {
    hop_loop_t loop;
    hop_loop_options_t options = {.spin_us = HOP_SPIN_NEVER};
    int rc = hop_loop_init(&loop, &options);
    if (rc == 0)
        TRY(hop_loop_close(&loop));
    return rc;
}

static int task_zeroed_options(void) {
    hop_executor_t *manual;
    hop_task_options_t options;
    memset(&options, 0, sizeof options);
    hop_task_t *task = NULL;
    TRY(hop_manual_executor_create(&manual));
    int rc = hop_task_spawn(manual, noop_task, NULL, &options, &task);
    hop_manual_executor_run_all(manual, 0);
    if (rc == 0 && (strcmp(hop_task_name(task), "") != 0 || hop_task_state(task) != HOP_TASK_DONE))
        rc = SETUP_FAILED;
    hop_task_unref(task);
    TRY(hop_manual_executor_destroy(manual));
    return rc;
}

/* ---- the table ---- */

static const rule_t rules[] = {
    {CLOSE_TWICE, "pool", "hop_pool_close", pool_close_twice, HOP_EALREADY},
    {CLOSE_TWICE, "loop", "hop_loop_close", loop_close_twice, HOP_EALREADY},
    {CLOSE_TWICE, "blocking pool", "hop_blocking_close", blocking_close_twice, HOP_EALREADY},
    {CLOSE_TWICE, "loop (started)", "hop_loop_close", started_loop_close_twice, HOP_EALREADY},
    {CLOSE_TWICE, "manual executor", "hop_manual_executor_close", manual_close_twice, HOP_EALREADY},
    {CLOSE_TWICE, "channel", "hop_channel_close", channel_close_twice, HOP_EALREADY},

    {USE_WHEN_CLOSED, "pool", "hop_pool_submit", pool_submit_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "pool", "hop_task_spawn", pool_spawn_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "loop", "hop_loop_post", loop_post_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "blocking pool", "hop_blocking_submit", blocking_submit_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "loop", "hop_loop_start", loop_start_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "loop", "hop_loop_run", loop_run_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "loop", "hop_loop_stop", loop_stop_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "manual executor", "hop_executor_submit", manual_submit_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "channel", "hop_channel_try_send", channel_send_when_closed, HOP_ECLOSED},
    {USE_WHEN_CLOSED, "channel", "hop_channel_try_receive (drained)", channel_receive_when_closed_and_drained,
     HOP_ECLOSED},
    {USE_WHEN_CLOSED, "group", "hop_group_spawn", group_spawn_when_closed, HOP_ECLOSED},

    {TRY_WOULD_WAIT, "mutex", "hop_mutex_try_lock", mutex_try_lock_when_held, HOP_EAGAIN},
    {TRY_WOULD_WAIT, "semaphore", "hop_semaphore_try_acquire", semaphore_try_acquire_when_empty, HOP_EAGAIN},
    {TRY_WOULD_WAIT, "channel", "hop_channel_try_send", channel_try_send_when_full, HOP_EAGAIN},
    {TRY_WOULD_WAIT, "channel", "hop_channel_try_receive", channel_try_receive_when_empty, HOP_EAGAIN},
    {TRY_WOULD_WAIT, "future", "hop_future_result", future_result_when_pending, HOP_EAGAIN},
    {TRY_WOULD_WAIT, "group", "hop_group_status", group_status_when_running, HOP_EAGAIN},

    {STATS_WHEN_CLOSED, "pool", "hop_pool_stats", pool_stats_when_closed, HOP_ECLOSED},
    {STATS_WHEN_CLOSED, "loop", "hop_loop_stats", loop_stats_when_closed, HOP_ECLOSED},
    {STATS_WHEN_CLOSED, "blocking pool", "hop_blocking_stats", blocking_stats_when_closed, HOP_ECLOSED},

    {NAME_TOO_LONG, "pool", "hop_pool_init (11-byte prefix)", pool_name_of_11_bytes, HOP_EINVAL},
    {NAME_TOO_LONG, "loop", "hop_loop_init (16-byte name)", loop_name_of_16_bytes, HOP_EINVAL},
    {NAME_TOO_LONG, "blocking pool", "hop_blocking_init (11-byte prefix)", blocking_name_of_11_bytes,
     HOP_EINVAL},
    {NAME_TOO_LONG, "task", "hop_task_spawn (32-byte name)", task_name_of_32_bytes, HOP_EINVAL},
    {NAME_AT_THE_LIMIT, "pool", "hop_pool_init (10-byte prefix)", pool_name_of_10_bytes, 0},
    {NAME_AT_THE_LIMIT, "loop", "hop_loop_init (15-byte name)", loop_name_of_15_bytes, 0},
    {NAME_AT_THE_LIMIT, "blocking pool", "hop_blocking_init (10-byte prefix)", blocking_name_of_10_bytes, 0},
    {NAME_AT_THE_LIMIT, "task", "hop_task_spawn (31-byte name)", task_name_of_31_bytes, 0},

    {AFTER_FAILED_INIT, "pool", "hop_pool_submit", pool_submit_after_failed_init, HOP_EINVAL},
    {AFTER_FAILED_INIT, "pool", "hop_pool_close", pool_close_after_failed_init, HOP_EINVAL},
    {AFTER_FAILED_INIT, "loop", "hop_loop_post", loop_post_after_failed_init, HOP_EINVAL},
    {AFTER_FAILED_INIT, "loop", "hop_loop_close", loop_close_after_failed_init, HOP_EINVAL},
    {AFTER_FAILED_INIT, "semaphore", "hop_semaphore_try_acquire", semaphore_after_failed_init, HOP_EINVAL},
    {AFTER_FAILED_INIT, "channel", "hop_channel_try_send", channel_after_failed_init, HOP_EINVAL},

    {ZEROED_NEVER_INITIALISED, "pool", "hop_pool_close", zeroed_pool_close, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "pool", "hop_pool_submit", zeroed_pool_submit, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "pool", "hop_pool_stats", zeroed_pool_stats, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_close", zeroed_loop_close, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "blocking pool", "hop_blocking_close", zeroed_blocking_close, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "blocking pool", "hop_blocking_submit", zeroed_blocking_submit, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_start", zeroed_loop_start, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_run", zeroed_loop_run, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_stop", zeroed_loop_stop, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_stats", zeroed_loop_stats, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "loop", "hop_loop_post", zeroed_loop_post, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "mutex", "hop_mutex_destroy", zeroed_mutex_destroy, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "event", "hop_event_set", zeroed_event_set, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "semaphore", "hop_semaphore_release", zeroed_semaphore_release, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "channel", "hop_channel_try_send", zeroed_channel_try_send, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "channel", "hop_channel_close", zeroed_channel_close, HOP_EINVAL},
    {ZEROED_NEVER_INITIALISED, "awaitable", "hop_await", zeroed_awaitable_await, HOP_EINVAL},

    {ZEROED_IS_INITIALISED, "once", "hop_once_call", zeroed_once_call, 0},
    {ZEROED_IS_INITIALISED, "timer", "hop_timer_start", zeroed_timer_start, 0},
    {ZEROED_IS_INITIALISED, "future", "hop_future_set_result", zeroed_future_set_result, 0},
    {ZEROED_IS_INITIALISED, "group", "hop_group_spawn", zeroed_group_spawn, 0},

    {AFTER_DESTROY, "mutex", "hop_mutex_destroy", mutex_destroy_twice, HOP_EINVAL},
    {AFTER_DESTROY, "event", "hop_event_destroy", event_destroy_twice, HOP_EINVAL},
    {AFTER_DESTROY, "semaphore", "hop_semaphore_destroy", semaphore_destroy_twice, HOP_EINVAL},
    {AFTER_DESTROY, "channel", "hop_channel_destroy", channel_destroy_twice, HOP_EINVAL},
    {AFTER_DESTROY, "group", "hop_group_destroy", group_destroy_twice, HOP_EINVAL},
    {AFTER_DESTROY, "group", "hop_group_spawn", group_spawn_after_destroy, HOP_EINVAL},

    {ZEROED_OPTIONS, "pool", "hop_pool_init ({0} = NULL)", pool_zeroed_options, 0},
    {ZEROED_OPTIONS, "pool", "hop_pool_init (HOP_SPIN_NEVER)", pool_spin_never, 0},
    {ZEROED_OPTIONS, "loop", "hop_loop_init ({0})", loop_zeroed_options, 0},
    {ZEROED_OPTIONS, "blocking pool", "hop_blocking_init ({0})", blocking_zeroed_options, 0},
    {ZEROED_OPTIONS, "loop", "hop_loop_init (HOP_SPIN_NEVER)", loop_spin_never, 0},
    {ZEROED_OPTIONS, "task", "hop_task_spawn ({0})", task_zeroed_options, 0},
};

/* Runs every row of situation; asserts once, listing every row that broke
 * its rule, so one run shows all of them. */
static void walk(situation_t situation) {
    char failures[4096] = "";
    size_t used = 0;
    int rows = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const rule_t *r = &rules[i];
        if (r->situation != situation)
            continue;
        rows++;
        int got = r->run();
        if (got != r->expected && used < sizeof failures)
            used += (size_t)snprintf(failures + used, sizeof failures - used,
                                     "\n  %s: %s returned %s, expected %s", r->type, r->call,
                                     got == SETUP_FAILED ? "(scenario failed)" : hop_err_name(got),
                                     hop_err_name(r->expected));
    }
    cr_assert_gt(rows, 0, "no rule for this situation");
    cr_assert_eq(used, 0, "%s", failures);
}

TestSuite(contract, .timeout = 120);

Test(contract, closing_an_object_twice_returns_ealready_for_every_type) { walk(CLOSE_TWICE); }

Test(contract, using_a_closed_object_returns_eclosed_for_every_type) { walk(USE_WHEN_CLOSED); }

Test(contract, a_try_operation_that_would_wait_returns_eagain_for_every_type) { walk(TRY_WOULD_WAIT); }

Test(contract, stats_of_a_closed_executor_return_eclosed_with_zeroed_counters) { walk(STATS_WHEN_CLOSED); }

Test(contract, a_name_too_long_is_refused_with_einval_for_every_type) { walk(NAME_TOO_LONG); }

Test(contract, a_name_of_exactly_the_limit_is_accepted_whole_for_every_type) { walk(NAME_AT_THE_LIMIT); }

Test(contract, after_a_failed_init_every_call_returns_einval_for_every_type) { walk(AFTER_FAILED_INIT); }

Test(contract, zeroed_objects_that_need_init_are_refused_with_einval_not_a_crash) {
    walk(ZEROED_NEVER_INITIALISED);
}

Test(contract, zeroed_once_timer_future_and_group_are_initialised_ones) { walk(ZEROED_IS_INITIALISED); }

Test(contract, a_destroyed_object_is_refused_with_einval_for_every_type) { walk(AFTER_DESTROY); }

Test(contract, zeroed_options_give_the_defaults_for_every_type) { walk(ZEROED_OPTIONS); }

Test(contract, success_has_a_name_and_a_message) {
    cr_assert_str_eq(hop_err_name(0), "HOP_OK");
    cr_assert_str_eq(hop_strerror(0), "success");
}

/* Closing from a second thread while others read the stats: each read is
 * 0 or HOP_ECLOSED, never a read of freed counters (ASan and TSan builds
 * check the latter). */
typedef struct {
    hop_pool_t *pool;
    hop_loop_t *loop;
    unsigned int stop;
    unsigned int bad;
    unsigned int reads;
} stats_reader_t;

static void *read_stats(void *arg) {
    stats_reader_t *r = arg;
    while (!test_load_uint(&r->stop)) {
        hop_pool_stats_t ps;
        hop_loop_stats_t ls;
        int rc = r->pool ? hop_pool_stats(r->pool, &ps) : hop_loop_stats(r->loop, &ls);
        if (rc != 0 && rc != HOP_ECLOSED)
            test_add_uint(&r->bad, 1);
        test_add_uint(&r->reads, 1);
        if (rc == HOP_ECLOSED)
            break;
    }
    return NULL;
}

static void close_while_reading_stats(bool pool_not_loop) {
    for (int round = 0; round < 20; round++) {
        hop_pool_t pool;
        hop_loop_t loop;
        stats_reader_t r = {0};
        if (pool_not_loop) {
            HOP_OK(hop_pool_init(&pool, &(hop_pool_options_t){.threads = 2}));
            r.pool = &pool;
        } else {
            HOP_OK(hop_loop_init(&loop, NULL));
            HOP_OK(hop_loop_start(&loop));
            r.loop = &loop;
        }
        pthread_t readers[2];
        for (int i = 0; i < 2; i++)
            cr_assert_eq(pthread_create(&readers[i], NULL, read_stats, &r), 0);
        while (test_load_uint(&r.reads) < 2)
            sched_yield();
        if (pool_not_loop)
            HOP_OK(hop_pool_close(&pool));
        else
            HOP_OK(hop_loop_close(&loop));
        test_store_uint(&r.stop, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(readers[i], NULL);
        cr_assert_eq(r.bad, 0, "a stats call returned neither 0 nor HOP_ECLOSED");
    }
}

Test(contract, pool_stats_racing_close_return_zero_or_eclosed) { close_while_reading_stats(true); }

Test(contract, loop_stats_racing_close_return_zero_or_eclosed) { close_while_reading_stats(false); }
