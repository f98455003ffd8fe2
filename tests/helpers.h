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

#endif /* HOP_TESTS_HELPERS_H */
