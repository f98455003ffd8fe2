/* src/core/atomic.h: the atomics hop's core uses, on ConcurrencyKit's ck_pr.
 *
 * Why a layer at all: ck_pr is inline assembly on x86_64 and aarch64, which
 * ThreadSanitizer cannot see, so a TSan build would report every lock-free
 * hand-off as a race (and miss real ones). Under HOP_TSAN the same names map
 * to the compiler's __atomic builtins, which TSan instruments; loads are then
 * acquire, stores release and read-modify-writes sequentially consistent, a
 * superset of the orderings the ck_pr code gets from its explicit fences
 * (TSan does not model standalone fences, so they become no-ops there).
 * Never mix these with plain accesses or C11 atomics on the same object.
 *
 * Contract, in both builds: read-modify-writes (cas, fas, faa) are full
 * barriers; plain loads and stores are atomic but order nothing (ck_pr), so
 * code that needs acquire or release on them says so with the fences below. */
#ifndef HOP_SRC_ATOMIC_H
#define HOP_SRC_ATOMIC_H

#include <stdbool.h>
#include <stdint.h>

#include "sanitizer.h"

/* The unit of coherence: data written by different threads goes on
 * different lines of this size, so that one thread's writes do not take
 * the line from under the other. */
#define HOP__CACHELINE 64

/* Asks for the line at p for writing: a hint that never faults, even where
 * nothing is mapped. On x86_64 that is prefetchw, which gcc emits only when
 * told the CPU has it; otherwise __builtin_prefetch(p, 1) becomes prefetcht0,
 * which brings a line another CPU wrote in shared state, and the write then
 * waits for a second transfer. Every x86_64 CPU can run prefetchw: AMD's have
 * it, Intel's since Broadwell, and older ones decode it as a NOP. */
static inline void hop__prefetch_for_write(const void *p) {
#if defined(__x86_64__) && defined(__GNUC__)
    __asm__("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

#if HOP__TSAN

#define hop__atomic_load_uint(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define hop__atomic_load_ptr(p) __atomic_load_n((void **)(p), __ATOMIC_ACQUIRE)
#define hop__atomic_store_uint(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define hop__atomic_store_ptr(p, v) __atomic_store_n((void **)(p), (void *)(v), __ATOMIC_RELEASE)
static inline bool hop__atomic_cas_uint(unsigned int *p, unsigned int expected, unsigned int desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static inline bool hop__atomic_cas_ptr(void *p, void *expected, void *desired) {
    return __atomic_compare_exchange_n((void **)p, &expected, desired, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}
static inline void *hop__atomic_cas_ptr_value(void *p, void *expected, void *desired) {
    __atomic_compare_exchange_n((void **)p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    return expected;
}
#define hop__atomic_fas_uint(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define hop__atomic_fas_ptr(p, v) __atomic_exchange_n((void **)(p), (void *)(v), __ATOMIC_SEQ_CST)
#define hop__atomic_faa_uint(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define hop__atomic_load_u64(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define hop__atomic_store_u64(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
static inline bool hop__atomic_cas_u64(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
#define hop__atomic_faa_u64(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define hop__atomic_fas_u64(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define hop__atomic_fence_acquire() ((void)0)
#define hop__atomic_fence_release() ((void)0)
/* TSan does not model standalone fences (gcc says so with -Wtsan): the fence
 * still orders the hardware, TSan just cannot use it to prove an order. */
static inline void hop__atomic_fence_full(void) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wunknown-warning-option"
#pragma GCC diagnostic ignored "-Wtsan"
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#pragma GCC diagnostic pop
}
#define hop__atomic_pause() ((void)0)

#else /* ck_pr */

#include <ck_pr.h>

/* ck_pr's CAS that returns the value it found (expected when it succeeded). */
static inline void *hop__ck_cas_ptr_value(void *p, void *expected, void *desired) {
    void *found;
    ck_pr_cas_ptr_value(p, expected, desired, &found);
    return found;
}

/* ck_pr's read-modify-writes order nothing by themselves on weakly ordered
 * CPUs (plain ldxr/stxr on aarch64). hop's RMWs are full barriers, as the
 * TSan mapping's are: a release fence before, an acquire fence after. Under
 * ck's TSO model (x86_64) both fences are compiler barriers only, since a
 * locked instruction already orders everything. */
#define HOP__ATOMIC_RMW(type, suffix, op_args, call)                                  \
    static inline type hop__atomic_##suffix op_args {                              \
        ck_pr_fence_release();                                                     \
        type result = call;                                                        \
        ck_pr_fence_acquire();                                                     \
        return result;                                                             \
    }
HOP__ATOMIC_RMW(bool, cas_uint, (unsigned int *p, unsigned int e, unsigned int d), ck_pr_cas_uint(p, e, d))
HOP__ATOMIC_RMW(bool, cas_ptr, (void *p, void *e, void *d), ck_pr_cas_ptr(p, e, d))
HOP__ATOMIC_RMW(void *, cas_ptr_value, (void *p, void *e, void *d), hop__ck_cas_ptr_value(p, e, d))
HOP__ATOMIC_RMW(bool, cas_u64, (uint64_t *p, uint64_t e, uint64_t d), ck_pr_cas_64(p, e, d))
HOP__ATOMIC_RMW(unsigned int, fas_uint, (unsigned int *p, unsigned int v), ck_pr_fas_uint(p, v))
HOP__ATOMIC_RMW(void *, fas_ptr, (void *p, void *v), ck_pr_fas_ptr(p, v))
HOP__ATOMIC_RMW(unsigned int, faa_uint, (unsigned int *p, unsigned int v), ck_pr_faa_uint(p, v))
HOP__ATOMIC_RMW(uint64_t, faa_u64, (uint64_t *p, uint64_t v), ck_pr_faa_64(p, v))
HOP__ATOMIC_RMW(uint64_t, fas_u64, (uint64_t *p, uint64_t v), ck_pr_fas_64(p, v))
#undef HOP__ATOMIC_RMW

#define hop__atomic_load_uint(p) ck_pr_load_uint(p)
#define hop__atomic_load_ptr(p) ck_pr_load_ptr(p)
#define hop__atomic_load_u64(p) ck_pr_load_64(p)
#define hop__atomic_store_uint(p, v) ck_pr_store_uint((p), (v))
#define hop__atomic_store_ptr(p, v) ck_pr_store_ptr((p), (v))
#define hop__atomic_store_u64(p, v) ck_pr_store_64((p), (v))
#define hop__atomic_fence_acquire() ck_pr_fence_acquire()
#define hop__atomic_fence_release() ck_pr_fence_release()
#if defined(__x86_64__)
/* A locked read-modify-write is a full barrier for ordinary memory, as
 * mfence is, and costs a quarter of it where hop is measured (AMD EPYC:
 * 5.7 against 22 ns, bench/RESULTS.md); Linux's smp_mb() made the same
 * choice. mfence also orders non-temporal stores, which hop never issues.
 * The OR of 0 into the word at the top of the stack changes nothing. */
static inline void hop__atomic_fence_full(void) { __asm__ __volatile__("lock; orq $0, (%%rsp)" ::: "memory", "cc"); }
#else
#define hop__atomic_fence_full() ck_pr_fence_memory()
#endif
#define hop__atomic_pause() ck_pr_stall()

#endif

/* A test-and-test-and-set spin lock for critical sections of a few pointer
 * writes that never suspend. Built on the layer above (not ck_spinlock) so
 * that TSan builds see its acquire/release. */
typedef struct {
    unsigned int locked;
} hop__spinlock_t;

#define HOP__SPINLOCK_INIT {0}

static inline void hop__spinlock_lock(hop__spinlock_t *lock) {
    for (;;) {
        /* The CAS is a full barrier: the critical section cannot move above it. */
        if (hop__atomic_cas_uint(&lock->locked, 0u, 1u))
            return;
        while (hop__atomic_load_uint(&lock->locked) != 0u)
            hop__atomic_pause();
    }
}

static inline void hop__spinlock_unlock(hop__spinlock_t *lock) {
    /* Writes inside the critical section become visible before the release. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&lock->locked, 0u);
}

#endif /* HOP_SRC_ATOMIC_H */
