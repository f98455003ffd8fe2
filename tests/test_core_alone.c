/* tests/test_core_alone.c: the core without the toolkit. This program links
 * the core's objects, the inline and the manual executor, and nothing of
 * time/, sync/ or compose/ (tests/CMakeLists.txt): tasks, awaits, futures,
 * offload and the task hooks through which the toolkit attaches to tasks. */
#include <pthread.h>
#include <stdint.h>

#include "core/task_internal.h"
#include "helpers.h"

static hop_executor_t *manual;

static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}

TestSuite(core_alone, .init = setup, .fini = teardown, .timeout = 60);

/* ---- tasks, awaits, futures, offload ------------------------------------- */

static void *twice(void *arg) { return (void *)((uintptr_t)arg * 2); }

static void *await_then_offload(void *arg) {
    void *value = NULL;
    int err = hop_future_await(arg, &value);
    if (err)
        return NULL;
    void *doubled = NULL;
    err = hop_run_in_executor(hop_inline_executor(), twice, value, &doubled);
    return err ? NULL : doubled;
}

Test(core_alone, a_task_awaits_a_future_offloads_and_returns_without_the_toolkit) {
    hop_future_t future;
    HOP_OK(hop_future_init(&future));
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, await_then_offload, &future, NULL, &t));
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_SUSPENDED);
    HOP_OK(hop_future_set_result(&future, (void *)21));
    test_run_until_finished(manual, t);
    void *result = NULL;
    HOP_OK(hop_future_result(hop_task_future(t), &result));
    cr_assert_eq((uintptr_t)result, 42u);
    hop_task_unref(t);
}

/* ---- task hooks -------------------------------------------------------- */

/* A value passed on to a child is its parent's plus one, so each test can
 * tell whose value an exit call released. */
static unsigned int spawn_calls, exit_calls;
static uintptr_t exit_values[8];
static bool future_done_at_exit;

static int counting_spawn(void *parent_value, void **child_value) {
    test_add_uint(&spawn_calls, 1u);
    *child_value = (void *)((uintptr_t)parent_value + 1);
    return 0;
}

static void counting_exit(hop_task_t *t, void *value) {
    unsigned int n = test_load_uint(&exit_calls);
    if (n < 8)
        exit_values[n] = (uintptr_t)value;
    future_done_at_exit = hop_future_is_done(hop_task_future(t));
    test_add_uint(&exit_calls, 1u);
}

static hop__task_hook_t counting_hook = {.name = "counting", .spawn = counting_spawn, .exit = counting_exit};

static int failing_spawn(void *parent_value, void **child_value) {
    (void)parent_value, (void)child_value;
    return HOP_ENOMEM;
}

static hop__task_hook_t failing_hook = {.name = "failing", .spawn = failing_spawn};

static void *set_slot(void *arg) {
    *hop__task_slot(hop_task_current(), &counting_hook) = arg;
    return NULL;
}

static void *read_slot(void *arg) {
    (void)arg;
    return *hop__task_slot(hop_task_current(), &counting_hook);
}

static void *spawn_child(void *arg) {
    hop_task_t **child = arg;
    int err = hop_task_spawn(manual, read_slot, NULL, NULL, child);
    return (void *)(intptr_t)err;
}

static void *set_slot_then_spawn_child(void *arg) {
    *hop__task_slot(hop_task_current(), &counting_hook) = (void *)10;
    return spawn_child(arg);
}

Test(core_alone, a_task_that_never_sets_its_slot_gets_no_hook_call) {
    (void)hop__task_hook_register(&counting_hook);
    hop_task_t *child = NULL;
    hop_task_t *parent = test_spawn(manual, spawn_child, &child);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(parent), HOP_TASK_DONE);
    cr_assert_eq(hop_task_state(child), HOP_TASK_DONE);
    cr_assert_eq(test_load_uint(&spawn_calls), 0u);
    cr_assert_eq(test_load_uint(&exit_calls), 0u);
    hop_task_unref(parent);
    hop_task_unref(child);
}

Test(core_alone, the_exit_hook_releases_the_slot_value_before_the_task_future_completes) {
    hop_task_t *t = test_spawn(manual, set_slot, (void *)42);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_eq(hop_task_state(t), HOP_TASK_DONE);
    cr_assert_eq(test_load_uint(&exit_calls), 1u);
    cr_assert_eq(exit_values[0], 42u);
    cr_assert(!future_done_at_exit, "exit ran after the task's future completed");
    hop_task_unref(t);
}

Test(core_alone, a_child_starts_with_the_value_the_spawn_hook_derives_from_its_parent) {
    hop_task_t *child = NULL;
    hop_task_t *parent = test_spawn(manual, set_slot_then_spawn_child, &child);
    hop_manual_executor_run_all(manual, 0);
    void *spawn_err = NULL, *child_value = NULL;
    HOP_OK(hop_future_result(hop_task_future(parent), &spawn_err));
    HOP_OK((int)(intptr_t)spawn_err);
    HOP_OK(hop_future_result(hop_task_future(child), &child_value));
    cr_assert_eq((uintptr_t)child_value, 11u);
    cr_assert_eq(test_load_uint(&spawn_calls), 1u);
    cr_assert_eq(test_load_uint(&exit_calls), 2u);
    /* Each task's own value, in the order the two finished. */
    cr_assert_eq(exit_values[0], 10u);
    cr_assert_eq(exit_values[1], 11u);
    hop_task_unref(parent);
    hop_task_unref(child);
}

static void *set_both_slots_then_spawn_child(void *arg) {
    *hop__task_slot(hop_task_current(), &failing_hook) = (void *)1;
    return set_slot_then_spawn_child(arg);
}

Test(core_alone, a_failing_spawn_hook_fails_the_spawn_and_releases_what_the_child_got) {
    /* counting's slot comes first, so the child holds its value when
     * failing's spawn call refuses. */
    (void)hop__task_hook_register(&counting_hook);
    (void)hop__task_hook_register(&failing_hook);
    hop_task_t *child = (hop_task_t *)1;
    hop_task_t *parent = test_spawn(manual, set_both_slots_then_spawn_child, &child);
    hop_manual_executor_run_all(manual, 0);
    void *spawn_err = NULL;
    HOP_OK(hop_future_result(hop_task_future(parent), &spawn_err));
    HOP_ERR((int)(intptr_t)spawn_err, HOP_ENOMEM);
    cr_assert_null(child);
    cr_assert_eq(test_load_uint(&spawn_calls), 1u);
    /* The child's 11 at the failed spawn, then the parent's 10. */
    cr_assert_eq(test_load_uint(&exit_calls), 2u);
    cr_assert_eq(exit_values[0], 11u);
    cr_assert_eq(exit_values[1], 10u);
    hop_task_unref(parent);
}

static void *spawn_child_and_cancel_it(void *arg) {
    void *err = set_slot_then_spawn_child(arg);
    if (!err)
        hop_task_cancel(*(hop_task_t **)arg);
    return err;
}

Test(core_alone, a_task_cancelled_before_it_ran_releases_the_value_it_inherited) {
    hop_task_t *child = NULL;
    hop_task_t *parent = test_spawn(manual, spawn_child_and_cancel_it, &child);
    hop_manual_executor_run_all(manual, 0);
    cr_assert_not_null(child);
    cr_assert_eq(hop_task_state(child), HOP_TASK_CANCELLED);
    cr_assert_eq(test_load_uint(&exit_calls), 2u);
    cr_assert_eq(exit_values[0] + exit_values[1], 21u, "the parent's 10 and the child's 11");
    hop_task_unref(parent);
    hop_task_unref(child);
}

/* Concurrent first registrations: every thread gets the same slot. */
enum { REGISTER_THREADS = 4, REGISTER_ROUNDS = 200 };

static hop__task_hook_t race_hooks[3] = {{.name = "race 0"}, {.name = "race 1"}, {.name = "race 2"}};
static unsigned int race_slots[REGISTER_THREADS][REGISTER_ROUNDS];
static pthread_barrier_t race_barrier;

static void *register_all(void *arg) {
    unsigned int *slots = arg;
    for (int round = 0; round < REGISTER_ROUNDS; round++) {
        pthread_barrier_wait(&race_barrier);
        slots[round] = hop__task_hook_register(&race_hooks[round % 3]);
    }
    return NULL;
}

Test(core_alone, concurrent_first_registrations_of_one_hook_agree_on_its_slot) {
    /* Three hooks (the fourth slot stays free): rounds 0..2 race on a first
     * registration each, later rounds on the registered hooks. */
    pthread_barrier_init(&race_barrier, NULL, REGISTER_THREADS);
    pthread_t threads[REGISTER_THREADS];
    for (int i = 0; i < REGISTER_THREADS; i++)
        cr_assert_eq(pthread_create(&threads[i], NULL, register_all, race_slots[i]), 0);
    for (int i = 0; i < REGISTER_THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&race_barrier);
    for (int round = 0; round < REGISTER_ROUNDS; round++)
        for (int i = 1; i < REGISTER_THREADS; i++)
            cr_assert_eq(race_slots[i][round], race_slots[0][round], "round %d: thread %d disagrees", round,
                         i);
    cr_assert_neq(race_slots[0][0], race_slots[0][1]);
    cr_assert_neq(race_slots[0][1], race_slots[0][2]);
    cr_assert_neq(race_slots[0][0], race_slots[0][2]);
    for (int h = 0; h < 3; h++)
        cr_assert_lt(race_slots[0][h], (unsigned int)HOP__TASK_SLOTS);
}
