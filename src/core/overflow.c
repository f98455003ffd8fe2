/* src/core/overflow.c: naming the task whose stack overflowed.
 *
 * An overflowing task touches the PROT_NONE guard below its stack and the
 * thread gets SIGSEGV (SIGBUS on some systems) with its stack pointer in the
 * guard: no handler can run on that stack, so every thread that runs tasks
 * needs an alternate signal stack, and the handler runs there with
 * SA_ONSTACK. It recognises the fault by its address: inside the guard of
 * the task this thread is running. Then it writes one line with write(2)
 * (nothing else is async-signal-safe), restores the default action and
 * returns, so the faulting instruction runs again and the process dies of
 * the original signal, with a core dump where those are enabled. Any other
 * fault goes to the handler that was installed before hop's, as if hop's
 * were not there. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fault.h"
#include "task_internal.h"

/* Room for the handler below, and for a chained one (the sanitizers' reports
 * need tens of KiB). Only the pages it touches become resident. */
#define HOP__SIGNAL_STACK_SIZE ((size_t)64 * 1024)

static pthread_once_t hop__overflow_once = PTHREAD_ONCE_INIT;
static pthread_key_t hop__overflow_key;
/* The handlers before hop's, for SIGSEGV [0] and SIGBUS [1]: written once,
 * under hop__overflow_once, before hop's handler is installed. */
static struct sigaction hop__overflow_previous[2];
/* 1: this thread has a signal stack (its own, or one hop gave it); 2: hop
 * could not map one. Read and
 * written only off task stacks (hop__task_run, threads' main functions) or
 * by code that does not suspend, so the thread-local is never stale. */
static _Thread_local unsigned char hop__overflow_thread_ready;

/* Async-signal-safe output: a string, a decimal number. */
static size_t hop__overflow_put(char *buffer, size_t at, size_t cap, const char *text) {
    while (*text && at < cap)
        buffer[at++] = *text++;
    return at;
}

static size_t hop__overflow_put_u64(char *buffer, size_t at, size_t cap, uint64_t value) {
    char digits[24];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n && at < cap)
        buffer[at++] = digits[--n];
    return at;
}

static void hop__overflow_report(const hop_task_t *t) {
    char line[256];
    size_t cap = sizeof line - 1, at = 0;
    at = hop__overflow_put(line, at, cap, "hop: task \"");
    at = hop__overflow_put(line, at, cap, t->name);
    at = hop__overflow_put(line, at, cap, "\" (");
    at = hop__overflow_put_u64(line, at, cap, t->id);
    at = hop__overflow_put(line, at, cap, ") overflowed its ");
    at = hop__overflow_put_u64(line, at, cap, (uint64_t)(t->stack.size / 1024));
    at = hop__overflow_put(line, at, cap, " KiB stack (executor \"");
    at = hop__overflow_put(line, at, cap,
                           hop_executor_name(hop__atomic_load_ptr((hop_executor_t **)&t->executor)));
    at = hop__overflow_put(line, at, cap, "\")\n");
    for (size_t done = 0; done < at;) {
        ssize_t n = write(STDERR_FILENO, line + done, at - done);
        if (n > 0)
            done += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break;
    }
}

/* The default action for sig from now on; a signal another process sent
 * (no faulting instruction to run again) is raised again: it stays pending
 * while this handler runs and is delivered, fatally, when it returns. */
static void hop__overflow_die_by(int sig, const siginfo_t *info) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    sigaction(sig, &dfl, NULL);
    if (!info || info->si_code <= 0)
        raise(sig);
}

static void hop__overflow_handler(int sig, siginfo_t *info, void *context) {
    int saved_errno = errno;
    hop_task_t *t = hop__task_running_here();
    if (t && info && info->si_code > 0 && t->stack.guard) {
        uintptr_t address = (uintptr_t)info->si_addr;
        uintptr_t low = (uintptr_t)t->stack.low;
        if (address < low && address >= low - t->stack.guard) {
            hop__overflow_report(t);
            hop__overflow_die_by(sig, info);
            errno = saved_errno;
            return;
        }
    }
    /* Not hop's: the previous handler's turn, as if hop's did not exist. */
    const struct sigaction *previous = &hop__overflow_previous[sig == SIGBUS];
    if (previous->sa_flags & SA_SIGINFO) {
        errno = saved_errno;
        previous->sa_sigaction(sig, info, context);
    } else if (previous->sa_handler == SIG_DFL) {
        hop__overflow_die_by(sig, info);
    } else if (previous->sa_handler != SIG_IGN) {
        errno = saved_errno;
        previous->sa_handler(sig);
    }
    errno = saved_errno;
}

/* Thread exit: gives the signal stack hop mapped back, if it is still the
 * thread's (the application may have replaced it). */
static void hop__overflow_thread_exit(void *mapping) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && current.ss_sp == (char *)mapping + page) {
        stack_t off;
        memset(&off, 0, sizeof off);
        off.ss_flags = SS_DISABLE;
        sigaltstack(&off, NULL);
    }
    munmap(mapping, HOP__SIGNAL_STACK_SIZE + page);
}

static void hop__overflow_install_once(void) {
    pthread_key_create(&hop__overflow_key, hop__overflow_thread_exit);
    struct sigaction ours;
    memset(&ours, 0, sizeof ours);
    ours.sa_sigaction = hop__overflow_handler;
    ours.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&ours.sa_mask);
    const int signals[2] = {SIGSEGV, SIGBUS};
    for (int i = 0; i < 2; i++)
        sigaction(signals[i], &ours, &hop__overflow_previous[i]);
}

static int hop__overflow_thread_setup(void) {
    pthread_once(&hop__overflow_once, hop__overflow_install_once);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE)) {
        hop__overflow_thread_ready = 1; /* the application's, or a sanitizer's */
        return 0;
    }
    /* One PROT_NONE page below: an overflowing handler faults too, and the
     * kernel then kills the thread instead of letting it write on. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *mapping = hop__mmap(NULL, HOP__SIGNAL_STACK_SIZE + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED)
        return HOP_ENOMEM;
    if (hop__mprotect(mapping, page, PROT_NONE) != 0) {
        munmap(mapping, HOP__SIGNAL_STACK_SIZE + page);
        return HOP_ENOMEM;
    }
    stack_t ss;
    memset(&ss, 0, sizeof ss);
    ss.ss_sp = (char *)mapping + page;
    ss.ss_size = HOP__SIGNAL_STACK_SIZE;
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mapping, HOP__SIGNAL_STACK_SIZE + page);
        return HOP_ENOMEM;
    }
    pthread_setspecific(hop__overflow_key, mapping);
    hop__overflow_thread_ready = 1;
    return 0;
}

void hop__overflow_thread_init(void) {
    /* Without memory for the stack: a bare fault, as before, and no retry
     * on every task switch (2 marks the failure). */
    if (!hop__overflow_thread_ready && hop__overflow_thread_setup() != 0)
        hop__overflow_thread_ready = 2;
}

int hop_stack_overflow_install(void) {
    return hop__overflow_thread_ready == 1 ? 0 : hop__overflow_thread_setup();
}
