/* src/core/owner_lock.c: the foreign side of owner locks (owner_lock.h). */
#define _GNU_SOURCE
#include "core/owner_lock.h"

#include <pthread.h>
#include <unistd.h>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

#include <errno.h>
#include <string.h>

#include "core/internal.h"
#include "core/sanitizer.h"

bool hop__owner_lock_asymmetric;

static pthread_once_t hop__owner_lock_once = PTHREAD_ONCE_INIT;

static void hop__owner_lock_register(void) {
#if defined(__linux__) && defined(SYS_membarrier) && !HOP__TSAN
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) ||
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
        return; /* owners keep their full barrier */
    __atomic_store_n(&hop__owner_lock_asymmetric, true, __ATOMIC_RELEASE);
    /* Visible to every thread before this one's next owner section skips
     * its barrier: a foreign holder that still reads false then entered
     * before, and that owner sees it (owner_lock.h). */
    hop__atomic_fence_full();
#endif
}

void hop__owner_lock_fork_child(void) {
#if defined(__linux__) && defined(SYS_membarrier)
    /* One thread: no owner is inside a section that skipped its barrier. */
    if (__atomic_load_n(&hop__owner_lock_asymmetric, __ATOMIC_RELAXED) &&
        syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) != 0)
        __atomic_store_n(&hop__owner_lock_asymmetric, false, __ATOMIC_RELAXED);
#endif
}

void hop__owner_lock_setup(void) { pthread_once(&hop__owner_lock_once, hop__owner_lock_register); }

void hop__owner_lock_heavy_fence(void) {
#if defined(__linux__) && defined(SYS_membarrier)
    /* Registered, so it cannot fail; if it did, the handshake would have a
     * hole, and stopping is better than a stack handed out twice. */
    if (syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0)
        return;
    hop__fatal("membarrier failed after registering: %s", strerror(errno));
#else
    hop__fatal("membarrier is not available here");
#endif
}
