/* src/core/signals.h: the signal mask of the threads hop starts. */
#ifndef HOP_SRC_SIGNALS_H
#define HOP_SRC_SIGNALS_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

/* hop__signals_block_async: blocks every asynchronous signal in the calling
 * thread and stores the mask before in *old, so that threads created now
 * inherit the block: asynchronous signals go to the application's own
 * threads. Faults still reach their handlers (a task's stack overflow, the
 * sanitizers). The caller restores *old with pthread_sigmask afterwards. */
static inline void hop__signals_block_async(sigset_t *old) {
    sigset_t blocked;
    sigfillset(&blocked);
    int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&blocked, faults[i]);
    pthread_sigmask(SIG_SETMASK, &blocked, old);
}

#endif /* HOP_SRC_SIGNALS_H */
