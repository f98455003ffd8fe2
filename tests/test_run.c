/* tests/test_run.c: hop_run_ex, hop_run with options for its loop and for
 * main's task (hop_run itself is tested in test_loop.c). */
#include <string.h>

#include "helpers.h"

TestSuite(run, .timeout = 60);

static char main_name[32];
static unsigned int main_ran;

static void *main_records_its_name(void *arg) {
    strncpy(main_name, hop_task_name(hop_task_current()), sizeof main_name - 1);
    test_add_uint(&main_ran, 1u);
    /* It runs on hop_run's loop: awaiting there works. */
    return hop_yield() == 0 ? arg : NULL;
}

Test(run, zeroed_options_run_main_like_hop_run) {
    hop_run_options_t options = {0};
    void *result = NULL;
    HOP_OK(hop_run_ex(main_records_its_name, (void *)42, &options, &result));
    cr_assert_eq(result, (void *)42);
    cr_assert_str_eq(main_name, "main");
    cr_assert_null(hop_loop_current(), "the loop is gone once hop_run_ex returns");
}

Test(run, null_options_run_main_like_hop_run) {
    void *result = NULL;
    HOP_OK(hop_run_ex(main_records_its_name, (void *)7, NULL, &result));
    cr_assert_eq(result, (void *)7);
    cr_assert_str_eq(main_name, "main");
}

Test(run, main_gets_the_task_options_given) {
    hop_task_options_t main_options = {.name = "server", .stack_size = 128 * 1024};
    hop_loop_options_t loop_options = {.name = "server-loop", .batch = 16};
    hop_run_options_t options = {.loop = &loop_options, .main = &main_options};
    void *result = NULL;
    HOP_OK(hop_run_ex(main_records_its_name, (void *)1, &options, &result));
    cr_assert_eq(result, (void *)1);
    cr_assert_str_eq(main_name, "server");
}

Test(run, loop_options_the_loop_rejects_fail_before_main_runs) {
    hop_loop_options_t loop_options = {.name = "a-name-of-twenty-bytes"};
    hop_run_options_t options = {.loop = &loop_options};
    void *result = (void *)1;
    HOP_ERR(hop_run_ex(main_records_its_name, NULL, &options, &result), HOP_EINVAL);
    cr_assert_null(result);
    cr_assert_eq(test_load_uint(&main_ran), 0u);
    HOP_ERR(hop_run_ex(NULL, NULL, NULL, &result), HOP_EINVAL);
}

static unsigned int destroyed;
static void destroy_result(void *result) {
    if (result == (void *)&destroyed)
        test_add_uint(&destroyed, 1u);
}

static void *main_returns_owned(void *arg) {
    (void)arg;
    return &destroyed;
}

Test(run, a_result_destructor_for_main_destroys_its_result_and_leaves_result_null) {
    hop_task_options_t main_options = {.result_destructor = destroy_result};
    hop_run_options_t options = {.main = &main_options};
    void *result = (void *)1;
    HOP_OK(hop_run_ex(main_returns_owned, NULL, &options, &result));
    cr_assert_null(result);
    cr_assert_eq(test_load_uint(&destroyed), 1u);
}
