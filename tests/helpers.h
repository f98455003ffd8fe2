/* tests/helpers.h: small shared helpers for the Criterion tests. */
#ifndef HOP_TESTS_HELPERS_H
#define HOP_TESTS_HELPERS_H

#include <criterion/criterion.h>
#include <hop/hop.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
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

/* Polls until *p reaches at least value; the test's timeout catches a hang. */
static inline void test_wait_for(const unsigned int *p, unsigned int value) {
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < value)
        test_sleep_ms(1);
}

/* Polls until *p reaches at least value or timeout_ms passes; returns
 * whether it did. For a check with a message of its own; deadlines are
 * seconds, never a measure of speed. */
static inline bool test_wait_for_ms(const unsigned int *p, unsigned int value, long timeout_ms) {
    uint64_t until = hop_time_now_ns() + (uint64_t)timeout_ms * 1000000u;
    while (__atomic_load_n(p, __ATOMIC_ACQUIRE) < value) {
        if (hop_time_now_ns() > until)
            return false;
        test_sleep_ms(1);
    }
    return true;
}

/* Polls until task is suspended in an await, so that whatever completes that
 * await next takes the suspended path (a resume), not the fast path of an
 * await that finds its result ready. For a task whose next await is known
 * to suspend: the test's timeout catches a task that never does. */
static inline void test_wait_suspended(hop_task_t *task) {
    while (hop_task_state(task) != HOP_TASK_SUSPENDED)
        test_sleep_ms(1);
}

/* A job that notes it ran: test_wait_closing's probe. */
typedef struct {
    hop_job_t job;
    unsigned int ran;
} test_probe_job_t;

static inline void test_probe_job_run_(hop_job_t *job) {
    __atomic_store_n(&((test_probe_job_t *)job)->ran, 1u, __ATOMIC_RELEASE);
}

/* Polls until executor refuses new work, that is until its close has begun
 * (the close itself blocks, so another thread calls this), and returns what
 * the refusing submit returned (HOP_ECLOSED). Each probe it submits before
 * then has run when it returns. Not from the executor's own threads. */
static inline int test_wait_closing(hop_executor_t *executor) {
    for (;;) {
        test_probe_job_t probe = {0};
        hop_job_init(&probe.job, test_probe_job_run_);
        int err = hop_executor_submit(executor, &probe.job);
        if (err)
            return err;
        test_wait_for(&probe.ran, 1);
        test_sleep_ms(1);
    }
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

/* ---- checks off the test's thread ----
 * A failed cr_assert ends the test by jumping into the test's own frame: from
 * a task on a pool or loop thread, a job, a timer callback or a helper
 * thread, that jump crosses threads and crashes, or hangs the test. Code
 * that runs there checks with CHECK, CHECK_OK and CHECK_ERR instead: a
 * failure is printed and recorded (the first one in full) and the code
 * carries on; the test calls test_assert_checks() on its own thread once
 * that code is done (after joining the task or thread), which fails the
 * test with the first failure. Each test runs in a process of its own, so
 * the record starts empty. */
typedef struct {
    unsigned int failed;   /* atomic: failed checks so far */
    unsigned int recorded; /* atomic: first is filled in */
    char first[512];
} test_checks_t;

static test_checks_t test_checks;

__attribute__((format(printf, 5, 6))) static inline void
test_check_(bool ok, const char *file, int line, const char *expression, const char *format, ...) {
    if (ok)
        return;
    char message[256];
    va_list args;
    va_start(args, format);
    vsnprintf(message, sizeof message, format, args);
    va_end(args);
    fprintf(stderr, "%s:%d: check failed: %s%s%s\n", file, line, expression, message[0] ? ": " : "", message);
    if (__atomic_fetch_add(&test_checks.failed, 1u, __ATOMIC_ACQ_REL) == 0) {
        snprintf(test_checks.first, sizeof test_checks.first, "%s:%d: %s%s%s", file, line, expression,
                 message[0] ? ": " : "", message);
        __atomic_store_n(&test_checks.recorded, 1u, __ATOMIC_RELEASE);
    }
}

/* The message is optional, as in cr_assert: CHECK(x > 0) or CHECK(x > 0, "x = %d", x). */
#define CHECK(condition, ...)                                                                                \
    do {                                                                                                     \
        _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wformat-zero-length\"")            \
            test_check_((condition) != 0, __FILE__, __LINE__, #condition, "" __VA_ARGS__);                   \
        _Pragma("GCC diagnostic pop")                                                                        \
    } while (0)

/* CHECK that a hop call returned 0, naming the error otherwise. */
#define CHECK_OK(call)                                                                                       \
    do {                                                                                                     \
        int check_ok_err_ = (call);                                                                          \
        test_check_(check_ok_err_ == 0, __FILE__, __LINE__, #call, "returned %s",                            \
                    hop_err_name(check_ok_err_));                                                            \
    } while (0)

/* CHECK that a hop call returned exactly the error code expected. */
#define CHECK_ERR(call, expected)                                                                            \
    do {                                                                                                     \
        int check_err_got_ = (call);                                                                         \
        test_check_(check_err_got_ == (expected), __FILE__, __LINE__, #call, "returned %s, expected %s",     \
                    hop_err_name(check_err_got_), hop_err_name(expected));                                   \
    } while (0)

/* For CHECK: two strings are equal (NULL equals only NULL). */
static inline bool test_str_eq(const char *a, const char *b) { return a && b ? strcmp(a, b) == 0 : a == b; }

/* Fails the test, on its own thread, if a CHECK failed anywhere. Call it
 * once the code that checks has finished. */
static inline void test_assert_checks(void) {
    unsigned int failed = __atomic_load_n(&test_checks.failed, __ATOMIC_ACQUIRE);
    if (failed)
        while (!__atomic_load_n(&test_checks.recorded, __ATOMIC_ACQUIRE))
            test_sleep_ms(1);
    cr_assert_eq(failed, 0, "%u check(s) failed off the test's thread; the first: %s", failed,
                 test_checks.first);
}

#endif /* HOP_TESTS_HELPERS_H */
