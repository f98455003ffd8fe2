/* tests/test_task_local.c: task-local storage: values that follow a task
 * across threads, inheritance at spawn, destructors. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static hop_executor_t *manual;
static void setup(void) { HOP_OK(hop_manual_executor_create(&manual)); }
static void teardown(void) {
    hop_manual_executor_run_all(manual, 0);
    HOP_OK(hop_manual_executor_destroy(manual));
}
TestSuite(task_local, .init = setup, .fini = teardown, .timeout = 60);

static int destroyed;
static void destroy_string(void *value) {
    destroyed++;
    free(value);
}
static void *copy_string(void *value) { return strdup(value); }

static hop_task_local_t request_id;   /* copied into children */
static hop_task_local_t scratch;      /* not inherited */

static void create_keys(void) {
    HOP_OK(hop_task_local_create(&request_id, copy_string, destroy_string));
    HOP_OK(hop_task_local_create(&scratch, NULL, destroy_string));
}

/* The value set on one thread is the one read after hopping to others. */
static void *hop_around(void *arg) {
    hop_executor_t **executors = arg;
    CHECK_OK(hop_task_local_set(&request_id, strdup("req-42")));
    /* gettid, not pthread_self: glibc declares pthread_self const, so the
     * compiler may reuse its value across the hops, from the thread before. */
    long first = syscall(SYS_gettid);
    int moved = 0;
    for (int i = 0; i < 50; i++) {
        CHECK_OK(hop_dispatch_to_executor(executors[i % 2]));
        moved |= syscall(SYS_gettid) != first;
        CHECK(test_str_eq(hop_task_local_get(&request_id), "req-42"));
    }
    CHECK(moved, "the task really changed threads");
    return NULL;
}

Test(task_local, a_value_follows_its_task_across_threads) {
    create_keys();
    destroyed = 0;
    hop_pool_t pool;
    hop_pool_options_t options = {.threads = 2};
    HOP_OK(hop_pool_init(&pool, &options));
    hop_loop_t loop;
    HOP_OK(hop_loop_init(&loop, NULL));
    HOP_OK(hop_loop_start(&loop));
    hop_executor_t *executors[2] = {hop_pool_executor(&pool), hop_loop_executor(&loop)};
    hop_task_t *t;
    HOP_OK(hop_task_spawn(executors[1], hop_around, executors, NULL, &t));
    HOP_OK(hop_future_wait(hop_task_future(t), 10000, NULL));
    hop_task_unref(t);
    HOP_OK(hop_loop_close(&loop));
    HOP_OK(hop_pool_close(&pool));
    cr_assert_eq(destroyed, 1, "the value was destroyed when the task finished");
    test_assert_checks();
}

static void *child_reads(void *arg) {
    (void)arg;
    CHECK(test_str_eq(hop_task_local_get(&request_id), "parent-id"), "inherited through copy_string");
    CHECK(hop_task_local_get(&scratch) == NULL, "a key without inherit starts empty");
    CHECK_OK(hop_task_local_set(&request_id, strdup("child-id"))); /* replaces the copy: destroys it */
    return NULL;
}

static void *parent_spawns(void *arg) {
    (void)arg;
    CHECK_OK(hop_task_local_set(&request_id, strdup("parent-id")));
    CHECK_OK(hop_task_local_set(&scratch, strdup("parent-scratch")));
    hop_task_t *child;
    CHECK_OK(hop_task_spawn(manual, child_reads, NULL, NULL, &child));
    CHECK_OK(hop_task_join(child, NULL));
    hop_task_unref(child);
    CHECK(test_str_eq(hop_task_local_get(&request_id), "parent-id"), "values never flow back");
    return NULL;
}

Test(task_local, a_child_inherits_copies_of_inheritable_values_only) {
    create_keys();
    destroyed = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, parent_spawns, NULL, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    /* child: its copy (replaced) + "child-id"; parent: two values. */
    cr_assert_eq(destroyed, 4);
    test_assert_checks();
}

static void *set_same_twice(void *arg) {
    (void)arg;
    char *value = strdup("same");
    CHECK_OK(hop_task_local_set(&scratch, value));
    CHECK_OK(hop_task_local_set(&scratch, value)); /* same pointer: not destroyed */
    CHECK(destroyed == 0);
    CHECK_OK(hop_task_local_set(&scratch, NULL));
    CHECK(destroyed == 1);
    return NULL;
}

Test(task_local, replacing_a_value_destroys_the_old_one_unless_it_is_the_same) {
    create_keys();
    destroyed = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, set_same_twice, NULL, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    cr_assert_eq(destroyed, 1);
    test_assert_checks();
}

Test(task_local, bad_input_and_use_outside_a_task_are_refused) {
    hop_task_local_t never_created = {0};
    create_keys();
    HOP_ERR(hop_task_local_create(NULL, NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_task_local_create(&request_id, NULL, NULL), HOP_EBUSY);
    HOP_ERR(hop_task_local_set(&request_id, "x"), HOP_ENOTTASK);
    HOP_ERR(hop_task_local_set(&never_created, "x"), HOP_EINVAL);
    HOP_ERR(hop_task_local_set(NULL, "x"), HOP_EINVAL);
    cr_assert_null(hop_task_local_get(&request_id));
    cr_assert_null(hop_task_local_get(NULL));
    test_assert_checks();
}

Test(task_local, keys_run_out_with_enomem) {
    static hop_task_local_t keys[HOP_TASK_LOCAL_KEYS_MAX + 1];
    int created = 0;
    for (int i = 0; i <= HOP_TASK_LOCAL_KEYS_MAX; i++) {
        int err = hop_task_local_create(&keys[i], NULL, NULL);
        if (err) {
            HOP_ERR(err, HOP_ENOMEM);
            break;
        }
        created++;
    }
    cr_assert_eq(created, HOP_TASK_LOCAL_KEYS_MAX);
    test_assert_checks();
}
