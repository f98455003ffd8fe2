/* tests/helpers.h: small shared helpers for the Criterion tests. */
#ifndef HOP_TESTS_HELPERS_H
#define HOP_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <hop/hop.h>
#include <time.h>

/* Asserts that a hop call returned 0, naming the error otherwise. */
#define HOP_OK(call)                                                                                    \
    do {                                                                                                \
        int hop_ok_err_ = (call);                                                                       \
        cr_assert_eq(hop_ok_err_, 0, "%s returned %s (%s)", #call, hop_err_name(hop_ok_err_),           \
                     hop_strerror(hop_ok_err_));                                                        \
    } while (0)

/* Asserts that a hop call returned exactly the error code expected. */
#define HOP_ERR(call, expected)                                                                         \
    do {                                                                                                \
        int hop_err_got_ = (call);                                                                      \
        cr_assert_eq(hop_err_got_, (expected), "%s returned %s (%s), expected %s", #call,               \
                     hop_err_name(hop_err_got_), hop_strerror(hop_err_got_), hop_err_name(expected));   \
    } while (0)

static inline void test_sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Drives a manual executor on this thread until task is finished. */
static inline void test_run_until_finished(hop_executor_t *manual, hop_task_t *task) {
    while (hop_task_state(task) != HOP_TASK_DONE && hop_task_state(task) != HOP_TASK_CANCELLED) {
        if (hop_manual_executor_run_one(manual) == 0)
            test_sleep_ms(1);
    }
}

/* Like HOP_ERR, but logs the code names first (the toolkit's tests). */
#define EXPECT_RC(call, expected, ...)                                                                       \
    do {                                                                                                     \
        int expect_rc_ = (call);                                                                             \
        if (expect_rc_ != (expected))                                                                        \
            cr_log_error("%s returned %s, expected %s", #call, hop_err_name(expect_rc_),                     \
                         hop_err_name(expected));                                                            \
        cr_assert_eq(expect_rc_, (expected), __VA_ARGS__);                                                   \
    } while (0)

/* Shared counters between tasks and threads, with the orderings the tests need. */
static inline unsigned int test_load_uint(const unsigned int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void test_store_uint(unsigned int *p, unsigned int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void test_add_uint(unsigned int *p, unsigned int v) { __atomic_fetch_add(p, v, __ATOMIC_ACQ_REL); }

/* Spawns fn(arg) on executor and returns the handle. */
static inline hop_task_t *test_spawn(hop_executor_t *executor, hop_task_fn fn, void *arg) {
    hop_task_t *t;
    HOP_OK(hop_task_spawn(executor, fn, arg, NULL, &t));
    return t;
}

/* Waits for t from a plain thread, releases it, and returns its status. */
static inline int test_join(hop_task_t *t) {
    int status = hop_future_wait(hop_task_future(t), HOP_WAIT_FOREVER, NULL);
    hop_task_unref(t);
    return status;
}

#endif /* HOP_TESTS_HELPERS_H */
