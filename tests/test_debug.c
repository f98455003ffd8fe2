/* tests/test_debug.c: the registry of live tasks (hop/debug.h): snapshots,
 * the dump, awaitable names, spawn sites, and snapshots racing churn. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sanitizer.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(debug, .init = setup, .fini = teardown, .timeout = 120);

/* The snapshot's entry for task, or NULL. Other tests of the same process
 * (the TSan runner runs them in one) may leave tasks of their own. */
static const hop_task_info_t *find(const hop_task_info_t *infos, size_t count, const hop_task_t *task) {
    for (size_t i = 0; i < count; i++)
        if (infos[i].task == task)
            return &infos[i];
    return NULL;
}

static hop_future_t parked_future;
static hop_event_t parked_event;
static hop_mutex_t parked_mutex;
static void *parked_channel_buffer[1];
static hop_channel_t parked_channel;

static void *wait_future(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&parked_future, NULL));
    return NULL;
}
static void *wait_event(void *arg) {
    (void)arg;
    CHECK_OK(hop_event_wait(&parked_event));
    return NULL;
}
static void *wait_mutex(void *arg) {
    (void)arg;
    CHECK_OK(hop_mutex_lock(&parked_mutex));
    CHECK_OK(hop_mutex_unlock(&parked_mutex));
    return NULL;
}
static void *wait_channel(void *arg) {
    (void)arg;
    void *item;
    CHECK_OK(hop_channel_receive(&parked_channel, &item));
    return NULL;
}
static void *hold_mutex(void *arg) {
    (void)arg;
    CHECK_OK(hop_mutex_lock(&parked_mutex));
    CHECK_OK(hop_future_await(&parked_future, NULL));
    CHECK_OK(hop_mutex_unlock(&parked_mutex));
    return NULL;
}

Test(debug, a_snapshot_lists_each_parked_task_with_its_state_executor_awaitable_and_spawn_site) {
    HOP_OK(hop_future_init(&parked_future));
    HOP_OK(hop_event_init(&parked_event));
    HOP_OK(hop_mutex_init(&parked_mutex));
    HOP_OK(hop_channel_init(&parked_channel, 1, parked_channel_buffer));
    hop_task_options_t named = {.name = "the holder"};
    hop_task_t *holder, *t_future, *t_event, *t_mutex, *t_channel;
    int line = __LINE__ + 1;
    HOP_OK(hop_task_spawn(manual, hold_mutex, NULL, &named, &holder));
    HOP_OK(hop_task_spawn(manual, wait_future, NULL, NULL, &t_future));
    HOP_OK(hop_task_spawn(manual, wait_event, NULL, NULL, &t_event));
    HOP_OK(hop_task_spawn(manual, wait_mutex, NULL, NULL, &t_mutex));
    HOP_OK(hop_task_spawn(manual, wait_channel, NULL, NULL, &t_channel));

    hop_task_info_t infos[64];
    size_t count;
    HOP_OK(hop_task_snapshot(infos, 64, &count));
    const hop_task_info_t *created = find(infos, count, t_future);
    cr_assert_not_null(created, "a task that has not run yet is live");
    cr_assert_eq(created->state, HOP_TASK_CREATED);
    cr_assert_null(created->waiting_on);

    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_snapshot(infos, 64, &count));
    struct {
        hop_task_t *task;
        const char *waiting_on;
    } want[] = {{holder, "future"}, {t_future, "future"}, {t_event, "event wait"}, {t_mutex, "mutex lock"},
                {t_channel, "channel"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const hop_task_info_t *info = find(infos, count, want[i].task);
        cr_assert_not_null(info, "task %zu is in the snapshot", i);
        cr_assert_eq(info->state, HOP_TASK_SUSPENDED, "task %zu", i);
        cr_assert_str_eq(info->waiting_on, want[i].waiting_on, "task %zu", i);
        cr_assert_eq(info->executor, manual);
        cr_assert_str_eq(info->executor_kind, hop_executor_name(manual));
        cr_assert_str_eq(info->spawn_file, __FILE__);
        cr_assert_eq(info->spawn_line, line + (int)i, "task %zu spawned at line %d", i, info->spawn_line);
        cr_assert_null(info->parent, "spawned from a plain thread");
        cr_assert_eq(info->parent_id, 0);
        cr_assert_eq(info->id, hop_task_id(want[i].task));
        cr_assert_gt(info->stack_size, 0);
    }
    cr_assert_str_eq(find(infos, count, holder)->name, "the holder");
    cr_assert_str_eq(find(infos, count, t_event)->name, "");

    HOP_OK(hop_future_set_result(&parked_future, NULL));
    HOP_OK(hop_event_set(&parked_event));
    HOP_OK(hop_channel_try_send(&parked_channel, NULL));
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_task_snapshot(infos, 64, &count));
    hop_task_t *all[] = {holder, t_future, t_event, t_mutex, t_channel};
    for (size_t i = 0; i < 5; i++) {
        cr_assert_eq(hop_task_state(all[i]), HOP_TASK_DONE);
        cr_assert_null(find(infos, count, all[i]), "a finished task has left the registry (task %zu)", i);
        hop_task_unref(all[i]);
    }
    HOP_OK(hop_channel_destroy(&parked_channel));
    HOP_OK(hop_mutex_destroy(&parked_mutex));
    HOP_OK(hop_event_destroy(&parked_event));
    test_assert_checks();
}

static hop_task_t *spawned_child;
static void *child_waits(void *arg) {
    (void)arg;
    CHECK_OK(hop_future_await(&parked_future, NULL));
    return NULL;
}
static void *parent_spawns(void *arg) {
    (void)arg;
    CHECK_OK(hop_task_spawn(manual, child_waits, NULL, NULL, &spawned_child));
    CHECK_OK(hop_future_await(&parked_future, NULL));
    return NULL;
}

Test(debug, a_task_spawned_by_a_task_names_its_parent) {
    HOP_OK(hop_future_init(&parked_future));
    hop_task_t *parent;
    HOP_OK(hop_task_spawn(manual, parent_spawns, NULL, NULL, &parent));
    hop_manual_executor_run_all(manual, 0);
    hop_task_info_t infos[16];
    size_t count;
    HOP_OK(hop_task_snapshot(infos, 16, &count));
    const hop_task_info_t *child = find(infos, count, spawned_child);
    cr_assert_not_null(child);
    cr_assert_eq(child->parent, parent);
    cr_assert_eq(child->parent_id, hop_task_id(parent));
    cr_assert_eq(child->id, hop_task_id(spawned_child));
    HOP_OK(hop_future_set_result(&parked_future, NULL));
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(spawned_child);
    hop_task_unref(parent);
    test_assert_checks();
}

Test(debug, a_task_cancelled_before_it_ran_leaves_the_registry) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_future, NULL, NULL, &t));
    HOP_OK(hop_task_cancel(t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_CANCELLED);
    hop_task_info_t infos[16];
    size_t count;
    HOP_OK(hop_task_snapshot(infos, 16, &count));
    cr_assert_null(find(infos, count, t));
    hop_task_unref(t);
}

Test(debug, a_snapshot_with_too_little_room_still_counts_every_task) {
    HOP_OK(hop_future_init(&parked_future));
    hop_task_t *tasks[5];
    for (int i = 0; i < 5; i++)
        HOP_OK(hop_task_spawn(manual, wait_future, NULL, NULL, &tasks[i]));
    hop_manual_executor_run_all(manual, 0);
    size_t count = 0;
    HOP_OK(hop_task_snapshot(NULL, 0, &count));
    cr_assert_geq(count, 5);
    hop_task_info_t two[2];
    size_t again = 0;
    HOP_OK(hop_task_snapshot(two, 2, &again));
    cr_assert_eq(again, count, "the count does not depend on the room given");
    HOP_OK(hop_future_set_result(&parked_future, NULL));
    hop_manual_executor_run_all(manual, 0);
    for (int i = 0; i < 5; i++)
        hop_task_unref(tasks[i]);
    test_assert_checks();
}

Test(debug, bad_arguments_are_refused_with_einval) {
    hop_task_info_t info;
    size_t count;
    HOP_ERR(hop_task_snapshot(&info, 1, NULL), HOP_EINVAL);
    HOP_ERR(hop_task_snapshot(NULL, 1, &count), HOP_EINVAL);
    HOP_ERR(hop_task_dump(NULL, 0), HOP_EINVAL);
    HOP_ERR(hop_task_dump(stderr, 1u << 30), HOP_EINVAL);
}

Test(debug, the_dump_writes_a_line_per_live_task_and_the_total) {
    HOP_OK(hop_future_init(&parked_future));
    hop_task_options_t named = {.name = "dumped"};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, wait_future, NULL, &named, &t));
    hop_manual_executor_run_all(manual, 0);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    cr_assert_not_null(out);
    int written = hop_task_dump(out, 0);
    fclose(out);
    cr_assert_geq(written, 1);
    char want[128];
    snprintf(want, sizeof want, "task %llu \"dumped\" suspended on %s", (unsigned long long)hop_task_id(t),
             hop_executor_name(manual));
    cr_assert_not_null(strstr(text, want), "the dump:\n%s", text);
    char waiting[64];
    snprintf(waiting, sizeof waiting, "waiting on \"future %p\"", (void *)&parked_future);
    cr_assert_not_null(strstr(text, waiting), "the dump says which future:\n%s", text);
    cr_assert_not_null(strstr(text, "spawned at " __FILE__ ":"), "the dump:\n%s", text);
    char total[32];
    snprintf(total, sizeof total, "%d task%s\n", written, written == 1 ? "" : "s");
    cr_assert_not_null(strstr(text, total), "the dump:\n%s", text);
    free(text);
    HOP_OK(hop_future_set_result(&parked_future, NULL));
    hop_manual_executor_run_all(manual, 0);
    hop_task_unref(t);
    test_assert_checks();
}

/* Stress: snapshots from a plain thread while pool tasks spawn, migrate,
 * suspend and finish. A snapshot never sees a task twice or a torn entry,
 * and once the churn is over no churned task is left. */
static unsigned int churn_done;
static void *churn_leaf(void *arg) {
    (void)arg;
    CHECK_OK(hop_yield());
    return NULL;
}
static void *churn_root(void *arg) {
    hop_executor_t *pool = arg;
    int rounds = HOP__TSAN ? 200 : 2000;
    for (int i = 0; i < rounds; i++) {
        hop_task_t *child;
        hop_task_options_t named = {.name = "churn leaf"};
        CHECK_OK(hop_task_spawn(pool, churn_leaf, NULL, &named, &child));
        CHECK_OK(hop_task_join(child, NULL));
        hop_task_unref(child);
    }
    return NULL;
}

Test(debug, snapshots_racing_spawns_and_finishes_see_each_task_once) {
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_task_t *roots[4];
    for (int i = 0; i < 4; i++)
        HOP_OK(hop_task_spawn(hop_pool_executor(&pool), churn_root, hop_pool_executor(&pool), NULL, &roots[i]));
    hop_task_info_t infos[256];
    long snapshots = 0;
    churn_done = 0;
    for (;;) {
        bool all_done = true;
        for (int i = 0; i < 4; i++)
            all_done = all_done && hop_future_is_done(hop_task_future(roots[i]));
        size_t count;
        HOP_OK(hop_task_snapshot(infos, 256, &count));
        snapshots++;
        size_t n = count < 256 ? count : 256;
        for (size_t i = 0; i < n; i++) {
            cr_assert(infos[i].state == HOP_TASK_CREATED || infos[i].state == HOP_TASK_RUNNING ||
                          infos[i].state == HOP_TASK_SUSPENDED,
                      "a live task's state, not %d", (int)infos[i].state);
            cr_assert(strcmp(infos[i].name, "churn leaf") == 0 || strcmp(infos[i].name, "") == 0);
            for (size_t j = i + 1; j < n; j++)
                cr_assert_neq(infos[i].task, infos[j].task, "a task listed twice");
        }
        if (all_done)
            break;
    }
    for (int i = 0; i < 4; i++) {
        HOP_OK(hop_future_wait(hop_task_future(roots[i]), 60000, NULL));
        hop_task_unref(roots[i]);
    }
    HOP_OK(hop_pool_close(&pool));
    size_t count;
    HOP_OK(hop_task_snapshot(infos, 256, &count));
    for (size_t i = 0; i < count && i < 256; i++)
        cr_assert_str_neq(infos[i].name, "churn leaf", "a finished task is still listed");
    cr_log_info("%ld snapshots", snapshots);
    test_assert_checks();
}
