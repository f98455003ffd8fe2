/* tests/test_task_local.c: task-local storage: values that follow a task
 * across threads, inheritance at spawn, destructors. */
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
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

/* What a task saw at each step of a set_token / reset sequence, checked on
 * the test thread afterwards. */
static char seen[4][8];
static int reset_results[3];
static void note(int i, const char *value) { snprintf(seen[i], sizeof seen[i], "%s", value ? value : "(null)"); }

static void *set_and_reset_nested(void *arg) {
    (void)arg;
    HOP_OK(hop_task_local_set(&scratch, strdup("outer")));
    hop_task_local_token_t first, second;
    HOP_OK(hop_task_local_set_token(&scratch, strdup("middle"), &first));
    note(0, first.previous); /* still alive: the token owns it */
    HOP_OK(hop_task_local_set_token(&scratch, strdup("inner"), &second));
    note(1, hop_task_local_get(&scratch));
    reset_results[0] = hop_task_local_reset(&scratch, &second); /* destroys "inner" */
    note(2, hop_task_local_get(&scratch));
    reset_results[1] = hop_task_local_reset(&scratch, &first); /* destroys "middle" */
    note(3, hop_task_local_get(&scratch));
    reset_results[2] = hop_task_local_reset(&scratch, &first);
    return NULL;
}

Test(task_local, reset_puts_back_the_value_a_token_replaced_and_destroys_the_newer_one) {
    create_keys();
    destroyed = 0;
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, set_and_reset_nested, NULL, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    cr_assert_str_eq(seen[0], "outer");
    cr_assert_str_eq(seen[1], "inner");
    cr_assert_str_eq(seen[2], "middle");
    cr_assert_str_eq(seen[3], "outer");
    HOP_ERR(reset_results[0], 0);
    HOP_ERR(reset_results[1], 0);
    HOP_ERR(reset_results[2], HOP_EALREADY);
    cr_assert_eq(destroyed, 3, "inner and middle at their resets, outer at the task's end");
}

static hop_task_local_token_t foreign_token;
static int foreign_results[4];

static hop_future_t release_holder;

/* Takes a token and stays alive (suspended) while another task misuses it:
 * a finished task's record may be reused by the next one. */
static void *take_token(void *arg) {
    (void)arg;
    HOP_OK(hop_task_local_set_token(&scratch, strdup("taken"), &foreign_token));
    HOP_OK(hop_future_await(&release_holder, NULL));
    HOP_OK(hop_task_local_reset(&scratch, &foreign_token));
    return NULL;
}

static void *misuse_tokens(void *arg) {
    (void)arg;
    hop_task_local_token_t never_set = {0};
    foreign_results[0] = hop_task_local_reset(&scratch, &foreign_token); /* another task's */
    foreign_results[1] = hop_task_local_reset(&request_id, &foreign_token); /* another key's */
    foreign_results[2] = hop_task_local_reset(&scratch, &never_set);
    foreign_results[3] = hop_task_local_set_token(&scratch, "x", NULL);
    return NULL;
}

Test(task_local, a_token_is_refused_by_another_task_another_key_or_unset) {
    create_keys();
    destroyed = 0;
    hop_future_init(&release_holder);
    hop_task_t *holder, *t;
    HOP_OK(hop_task_spawn(manual, take_token, NULL, NULL, &holder));
    while (hop_task_state(holder) != HOP_TASK_SUSPENDED)
        hop_manual_executor_run_one(manual);
    HOP_OK(hop_task_spawn(manual, misuse_tokens, NULL, NULL, &t));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    for (int i = 0; i < 4; i++)
        HOP_ERR(foreign_results[i], HOP_EINVAL);
    HOP_ERR(hop_task_local_reset(&scratch, &foreign_token), HOP_ENOTTASK);
    HOP_OK(hop_future_set_result(&release_holder, NULL));
    test_run_until_finished(manual, holder);
    hop_task_unref(holder);
    cr_assert_eq(destroyed, 1, "the holder's own reset destroyed its value");
}

static hop_future_t proceed;
static const char *after_delete[2];

static void *hold_value_across_delete(void *arg) {
    (void)arg;
    HOP_OK(hop_task_local_set(&request_id, strdup("held")));
    HOP_OK(hop_future_await(&proceed, NULL));
    after_delete[0] = hop_task_local_get(&request_id);
    after_delete[1] = hop_task_local_set(&request_id, "x") == HOP_EINVAL ? "refused" : "accepted";
    return NULL;
}

Test(task_local, a_deleted_key_is_refused_and_values_tasks_hold_are_destroyed_when_they_finish) {
    create_keys();
    destroyed = 0;
    hop_future_init(&proceed);
    hop_task_t *t;
    HOP_OK(hop_task_spawn(manual, hold_value_across_delete, NULL, NULL, &t));
    while (hop_task_state(t) != HOP_TASK_SUSPENDED)
        hop_manual_executor_run_one(manual);
    HOP_OK(hop_task_local_delete(&request_id));
    HOP_ERR(hop_task_local_delete(&request_id), HOP_EINVAL);
    HOP_ERR(hop_task_local_delete(NULL), HOP_EINVAL);
    HOP_OK(hop_future_set_result(&proceed, NULL));
    test_run_until_finished(manual, t);
    hop_task_unref(t);
    cr_assert_null(after_delete[0], "get on a deleted key: NULL");
    cr_assert_str_eq(after_delete[1], "refused");
    cr_assert_eq(destroyed, 1, "the value held for the deleted key was destroyed at the task's end");
    /* The key can be created again, in a new slot. */
    HOP_OK(hop_task_local_create(&request_id, copy_string, destroy_string));
}
