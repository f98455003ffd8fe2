/* tests/tsan_runner/criterion/criterion.h: the subset of Criterion's API
 * that hop's tests use, for ThreadSanitizer builds only.
 *
 * Why: Criterion cannot start under TSan ("Could not initialize inheritable
 * arena", Snaipe/Criterion#274, open since 2018): its shared arena is mapped
 * where TSan keeps its shadow memory. Rather than test the threaded code
 * without TSan, TSan builds put this directory ahead of the system headers.
 * Like Criterion, it runs every test in a child process of its own (so a
 * crash or a TSan report fails one test), applies the suite's and test's
 * init, fini and timeout, and ends with Criterion's synthesis line plus the
 * plain "N passed, N failed" line. */
#ifndef HOP_TSAN_RUNNER_CRITERION_H
#define HOP_TSAN_RUNNER_CRITERION_H

#include <math.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

struct hop_runner_options {
    int unused_; /* lets the option list start with a designator of its own */
    void (*init)(void);
    void (*fini)(void);
    double timeout;
    int signal;
    int exit_code;
    bool disabled;
    const char *description;
};

struct hop_runner_test {
    const char *suite;
    const char *name;
    void (*fn)(void);
    struct hop_runner_options options;
    struct hop_runner_test *next;
};

struct hop_runner_suite {
    const char *name;
    struct hop_runner_options options;
    struct hop_runner_suite *next;
};

void hop_runner_register_test(struct hop_runner_test *test);
void hop_runner_register_suite(struct hop_runner_suite *suite);
/* No format attribute: "" __VA_ARGS__ makes an empty format for messageless
 * assertions, which -Wformat would flag at every call. */
void hop_runner_check(bool ok, const char *expression, const char *file, int line, const char *format, ...);

#define Test(suite_, name_, ...)                                                                      \
    static void suite_##_##name_##_impl(void);                                                        \
    static struct hop_runner_test suite_##_##name_##_test = {                                         \
        #suite_, #name_, suite_##_##name_##_impl, {.unused_ = 0, __VA_ARGS__}, 0};                    \
    __attribute__((constructor)) static void suite_##_##name_##_register(void) {                      \
        hop_runner_register_test(&suite_##_##name_##_test);                                           \
    }                                                                                                 \
    static void suite_##_##name_##_impl(void)

#define TestSuite(suite_, ...)                                                                        \
    static struct hop_runner_suite suite_##_suite = {#suite_, {.unused_ = 0, __VA_ARGS__}, 0};        \
    __attribute__((constructor)) static void suite_##_suite_register(void) {                          \
        hop_runner_register_suite(&suite_##_suite);                                                   \
    }

#define cr_assert(condition, ...) hop_runner_check((condition) ? true : false, #condition, __FILE__, __LINE__, "" __VA_ARGS__)
#define cr_assert_not(condition, ...) cr_assert(!(condition), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_neq(a, b, ...) cr_assert((a) != (b), __VA_ARGS__)
#define cr_assert_lt(a, b, ...) cr_assert((a) < (b), __VA_ARGS__)
#define cr_assert_leq(a, b, ...) cr_assert((a) <= (b), __VA_ARGS__)
#define cr_assert_gt(a, b, ...) cr_assert((a) > (b), __VA_ARGS__)
#define cr_assert_geq(a, b, ...) cr_assert((a) >= (b), __VA_ARGS__)
#define cr_assert_null(p, ...) cr_assert((p) == NULL, __VA_ARGS__)
#define cr_assert_not_null(p, ...) cr_assert((p) != NULL, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) cr_assert(strcmp((a), (b)) == 0, __VA_ARGS__)
#define cr_assert_str_neq(a, b, ...) cr_assert(strcmp((a), (b)) != 0, __VA_ARGS__)
#define cr_assert_float_eq(a, b, epsilon, ...) cr_assert(fabs((double)(a) - (double)(b)) <= (epsilon), __VA_ARGS__)
#define cr_assert_arr_eq(a, b, size, ...) cr_assert(memcmp((a), (b), (size)) == 0, __VA_ARGS__)
#define cr_fatal(...) cr_assert(false, __VA_ARGS__)
#define cr_assert_fail(...) cr_assert(false, __VA_ARGS__)

/* Expectations: the stand-in stops at the first failure, like an assert. */
#define cr_expect(condition, ...) cr_assert(condition, __VA_ARGS__)
#define cr_expect_not(condition, ...) cr_assert_not(condition, __VA_ARGS__)
#define cr_expect_eq(a, b, ...) cr_assert_eq(a, b, __VA_ARGS__)
#define cr_expect_neq(a, b, ...) cr_assert_neq(a, b, __VA_ARGS__)
#define cr_expect_lt(a, b, ...) cr_assert_lt(a, b, __VA_ARGS__)
#define cr_expect_leq(a, b, ...) cr_assert_leq(a, b, __VA_ARGS__)
#define cr_expect_gt(a, b, ...) cr_assert_gt(a, b, __VA_ARGS__)
#define cr_expect_geq(a, b, ...) cr_assert_geq(a, b, __VA_ARGS__)
#define cr_expect_null(p, ...) cr_assert_null(p, __VA_ARGS__)
#define cr_expect_not_null(p, ...) cr_assert_not_null(p, __VA_ARGS__)
#define cr_expect_str_eq(a, b, ...) cr_assert_str_eq(a, b, __VA_ARGS__)

/* Logging: to stderr, one line each. */
#define cr_log_info(...) (fprintf(stderr, "[----] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_warn(...) (fprintf(stderr, "[WARN] " __VA_ARGS__), fputc('\n', stderr))
#define cr_log_error(...) (fprintf(stderr, "[ERR ] " __VA_ARGS__), fputc('\n', stderr))

#endif /* HOP_TSAN_RUNNER_CRITERION_H */
