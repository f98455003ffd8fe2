/* src/core/dump_signal.c: hop_debug_install_dump_signal, Go's SIGQUIT dump
 * for hop (hop/debug.h).
 *
 * A signal handler may call only async-signal-safe functions, and a task
 * dump takes the registry's lock, formats with stdio and allocates: none of
 * that is safe in a handler (the signal may have interrupted a thread
 * holding that very lock, or inside malloc). So the handler does one
 * thing, write(2) one byte to a pipe (safe, and non-blocking: a full pipe
 * means a dump is due already), and a dedicated thread, which reads the
 * pipe, writes the dump as any thread may. The dump shows the program as it
 * is a moment after the signal, not frozen at it.
 *
 * The pipe is made on the first install and never closed: a handler that
 * started before an uninstall restored the previous disposition may still
 * write its byte afterwards, and must never write into a descriptor that
 * was closed and reused for something else. A later install drains it. */
#define _GNU_SOURCE /* pthread_setname_np, pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"
#include "hop/debug.h"
#include "internal.h"

enum { HOP__DUMP_BYTE = 'd', HOP__QUIT_BYTE = 'q' };

static struct {
    pthread_mutex_t lock;       /* install / uninstall */
    int pipe[2];                /* -1 until the first install; never closed */
    int signal;                 /* the installed one; 0: none */
    int out;                    /* where dumps go */
    pid_t pid;                  /* the process that installed it (see fork below) */
    pthread_t thread;
    struct sigaction previous;  /* restored by uninstall */
} hop__dumpsig = {.lock = PTHREAD_MUTEX_INITIALIZER, .pipe = {-1, -1}, .out = -1};

/* What the handler reads: the pipe's write end (atomic; set before the
 * handler is installed). */
static int hop__dumpsig_wake_fd = -1;

static void hop__dumpsig_handler(int sig) {
    (void)sig;
    int saved = errno; /* the interrupted code's errno must survive */
    char byte = HOP__DUMP_BYTE;
    ssize_t rc = write(__atomic_load_n(&hop__dumpsig_wake_fd, __ATOMIC_RELAXED), &byte, 1);
    (void)rc; /* EAGAIN: the pipe is full, a dump is due already */
    errno = saved;
}

/* Writes one dump to fd, through a stdio stream of its own (a dup, so that
 * closing the stream leaves fd open). */
static void hop__dumpsig_write(int fd, int sig) {
    int copy = dup(fd);
    if (copy < 0)
        return;
    FILE *out = fdopen(copy, "w");
    if (!out) {
        close(copy);
        return;
    }
    fprintf(out, "hop: task dump on signal %d\n", sig);
    (void)hop_task_dump(out, 0);
    fclose(out);
}

static void *hop__dumpsig_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "hop-dump");
    /* Set before the thread started, changed only after it is joined. */
    int in = hop__dumpsig.pipe[0], out = hop__dumpsig.out, sig = hop__dumpsig.signal;
    for (;;) {
        struct pollfd p = {.fd = in, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        char bytes[64];
        ssize_t n = read(in, bytes, sizeof bytes);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            return NULL;
        /* Signals that came together make one dump. */
        bool dump = memchr(bytes, HOP__DUMP_BYTE, (size_t)n) != NULL;
        bool quit = memchr(bytes, HOP__QUIT_BYTE, (size_t)n) != NULL;
        if (dump && !quit)
            hop__dumpsig_write(out, sig);
        if (quit)
            return NULL;
    }
}

/* Tells the dump thread to finish. The pipe may be full of dump bytes (a
 * burst of signals): wait for the thread to make room. */
static void hop__dumpsig_send_quit(void) {
    char quit = HOP__QUIT_BYTE;
    while (write(hop__dumpsig.pipe[1], &quit, 1) != 1) {
        if (errno == EAGAIN) {
            struct pollfd p = {.fd = hop__dumpsig.pipe[1], .events = POLLOUT};
            (void)poll(&p, 1, -1);
        } else if (errno != EINTR) {
            return;
        }
    }
}

/* Signals whose handler cannot simply return (a fault re-faults), that
 * cannot be caught, or that hop's own fault handler owns. */
static bool hop__dumpsig_refused(int sig) {
    return sig == SIGKILL || sig == SIGSTOP || sig == SIGSEGV || sig == SIGBUS || sig == SIGILL ||
           sig == SIGFPE || sig == SIGTRAP || sig == SIGSYS || sig == SIGABRT;
}

int hop_debug_install_dump_signal_fd(int sig, int fd) {
    if (sig <= 0 || sig >= NSIG || hop__dumpsig_refused(sig) || fd < 0 || fcntl(fd, F_GETFD) < 0)
        return HOP_EINVAL;
    pthread_mutex_lock(&hop__dumpsig.lock);
    if (hop__dumpsig.signal) {
        pthread_mutex_unlock(&hop__dumpsig.lock);
        return HOP_EBUSY;
    }
    if (hop__dumpsig.pipe[0] < 0 && pipe2(hop__dumpsig.pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        int err = errno == EMFILE || errno == ENFILE ? HOP_EMFILE : HOP_EAGAIN;
        hop__dumpsig.pipe[0] = hop__dumpsig.pipe[1] = -1;
        pthread_mutex_unlock(&hop__dumpsig.lock);
        return err;
    }
    /* Bytes of an earlier install's last signals: not this one's. */
    char drain[64];
    while (read(hop__dumpsig.pipe[0], drain, sizeof drain) > 0) {
    }
    __atomic_store_n(&hop__dumpsig_wake_fd, hop__dumpsig.pipe[1], __ATOMIC_RELAXED);
    hop__dumpsig.signal = sig;
    hop__dumpsig.out = fd;
    hop__dumpsig.pid = getpid();
    /* The dump thread takes no signals: they are the application's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = hop__pthread_create(&hop__dumpsig.thread, NULL, hop__dumpsig_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        hop__dumpsig.signal = 0;
        pthread_mutex_unlock(&hop__dumpsig.lock);
        return HOP_EAGAIN;
    }
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = hop__dumpsig_handler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART; /* the interrupted program's calls go on */
    if (sigaction(sig, &action, &hop__dumpsig.previous) != 0) {
        hop__dumpsig_send_quit();
        pthread_join(hop__dumpsig.thread, NULL);
        hop__dumpsig.signal = 0;
        pthread_mutex_unlock(&hop__dumpsig.lock);
        return HOP_EINVAL;
    }
    pthread_mutex_unlock(&hop__dumpsig.lock);
    return 0;
}

int hop_debug_install_dump_signal(int sig) { return hop_debug_install_dump_signal_fd(sig, STDERR_FILENO); }

int hop_debug_uninstall_dump_signal(void) {
    pthread_mutex_lock(&hop__dumpsig.lock);
    int sig = hop__dumpsig.signal;
    if (!sig) {
        pthread_mutex_unlock(&hop__dumpsig.lock);
        return HOP_EALREADY;
    }
    /* First no new handler runs, then the thread goes. */
    sigaction(sig, &hop__dumpsig.previous, NULL);
    if (hop__dumpsig.pid == getpid()) {
        hop__dumpsig_send_quit();
        pthread_join(hop__dumpsig.thread, NULL);
    }
    /* else: a child of fork(), where the dump thread does not exist. */
    hop__dumpsig.signal = 0;
    pthread_mutex_unlock(&hop__dumpsig.lock);
    return 0;
}
