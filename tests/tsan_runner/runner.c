/* tests/tsan_runner/runner.c: main() for the Criterion stand-in used by
 * ThreadSanitizer builds (see criterion/criterion.h beside this file). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

static struct hop_runner_test *tests;
static struct hop_runner_suite *suites;

void hop_runner_register_test(struct hop_runner_test *test) {
    test->next = tests;
    tests = test;
}

void hop_runner_register_suite(struct hop_runner_suite *suite) {
    suite->next = suites;
    suites = suite;
}

void hop_runner_check(bool ok, const char *expression, const char *file, int line, const char *format, ...) {
    if (ok)
        return;
    fprintf(stderr, "[FAIL] %s:%d: assertion failed: %s", file, line, expression);
    if (format[0]) {
        va_list args;
        va_start(args, format);
        fputs(": ", stderr);
        vfprintf(stderr, format, args);
        va_end(args);
    }
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

static const struct hop_runner_options *suite_options(const char *name) {
    for (struct hop_runner_suite *s = suites; s; s = s->next)
        if (strcmp(s->name, name) == 0)
            return &s->options;
    return NULL;
}

/* Registration order is reversed by the list; run in source order. */
static struct hop_runner_test *reverse(struct hop_runner_test *list) {
    struct hop_runner_test *out = NULL;
    while (list) {
        struct hop_runner_test *next = list->next;
        list->next = out;
        out = list;
        list = next;
    }
    return out;
}

int main(int argc, char **argv) {
    const char *filter = NULL;
    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--filter=", 9) == 0)
            filter = argv[i] + 9;
    int passed = 0, failed = 0;
    for (struct hop_runner_test *t = reverse(tests); t; t = t->next) {
        if (filter && !strstr(t->name, filter))
            continue;
        const struct hop_runner_options *s = suite_options(t->suite);
        if (t->options.disabled || (s && s->disabled))
            continue;
        double timeout = t->options.timeout ? t->options.timeout : (s && s->timeout ? s->timeout : 600);
        /* A soak (HOP_SOAK_SECONDS, see tests/README.md) runs that much longer. */
        const char *soak = getenv("HOP_SOAK_SECONDS");
        if (soak)
            timeout += atoi(soak);
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            alarm((unsigned)timeout + 1);
            void (*init)(void) = t->options.init ? t->options.init : (s ? s->init : NULL);
            void (*fini)(void) = t->options.fini ? t->options.fini : (s ? s->fini : NULL);
            if (init)
                init();
            t->fn();
            if (fini)
                fini();
            exit(0); /* exit, not _exit: sanitizer reports at exit count */
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            passed++;
        } else {
            failed++;
            if (WIFSIGNALED(status))
                fprintf(stderr, "[FAIL] %s::%s: %s%s\n", t->suite, t->name, strsignal(WTERMSIG(status)),
                        WTERMSIG(status) == SIGALRM ? " (timed out)" : "");
            else
                fprintf(stderr, "[FAIL] %s::%s: exit status %d\n", t->suite, t->name, WEXITSTATUS(status));
        }
    }
    printf("[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Crashing: 0\n", passed + failed, passed,
           failed);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
