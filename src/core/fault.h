/* src/core/fault.h: fault injection, for tests of hop's error paths.
 *
 * Every call hop makes that can fail for want of a resource goes through
 * one of the wrappers below: hop__malloc, hop__calloc, hop__realloc,
 * hop__aligned_alloc, hop__posix_memalign (every allocation hop makes),
 * hop__mmap, hop__mprotect (task and signal stacks), hop__pthread_create
 * (every thread hop starts) and hop__uv_init (the uv_*_init calls whose
 * result hop checks). In an ordinary build they are the plain calls and cost
 * nothing. Built with -DHOP_FAULT_INJECTION=ON (CMake; tests only, never a
 * release), a test can make the Nth of those calls fail the way the real
 * call fails when the resource runs out:
 *
 *   hop__malloc, _calloc, _realloc, _aligned_alloc   NULL, errno ENOMEM
 *   hop__posix_memalign                              ENOMEM
 *   hop__mmap                                        MAP_FAILED, errno ENOMEM
 *   hop__mprotect                                    -1, errno ENOMEM
 *   hop__pthread_create                              EAGAIN
 *   hop__uv_init(call)                               UV_EMFILE (-EMFILE)
 *
 * Only the calls of the thread that armed count, so an operation run on that
 * thread makes the same calls in the same order every time, whatever the
 * threads it starts do meanwhile. */
#ifndef HOP_SRC_FAULT_H
#define HOP_SRC_FAULT_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/mman.h>

/* The kinds of faultable call, for hop__fault_arm's mask. */
#define HOP__FAULT_ALLOC 1u    /* malloc, calloc, realloc, aligned_alloc, posix_memalign */
#define HOP__FAULT_MMAP 2u     /* mmap */
#define HOP__FAULT_MPROTECT 4u /* mprotect */
#define HOP__FAULT_THREAD 8u   /* pthread_create */
#define HOP__FAULT_UV 16u      /* uv_*_init */
#define HOP__FAULT_ALL 31u
/* With the kinds: every call from the nth on fails, not the nth alone (the
 * resource stays exhausted, so a retry or a fallback fails too). */
#define HOP__FAULT_FROM_NTH 0x100u

#ifdef HOP_FAULT_INJECTION

/* hop__fault_arm: from now on, counts the calling thread's faultable calls
 * of the kinds in mask (from 0), and makes the nth of them fail (with
 * HOP__FAULT_FROM_NTH in mask: the nth and every later one); n = 0 only
 * counts. Replaces any earlier arming of this thread. */
void hop__fault_arm(unsigned int mask, unsigned long n);

/* hop__fault_disarm: the calling thread's calls neither count nor fail any
 * more; hop__fault_calls and hop__fault_fired keep their values. */
void hop__fault_disarm(void);

/* hop__fault_calls: how many faultable calls of the armed kinds the calling
 * thread made since it was armed. */
unsigned long hop__fault_calls(void);

/* hop__fault_fired: whether the nth call came (and failed) since arming. */
bool hop__fault_fired(void);

/* hop__fault: counts one call of kind on this thread; true if it must fail. */
bool hop__fault(unsigned int kind);

#define hop__malloc(size) (hop__fault(HOP__FAULT_ALLOC) ? (errno = ENOMEM, (void *)0) : malloc(size))
#define hop__calloc(n, size)                                                                                 \
    (hop__fault(HOP__FAULT_ALLOC) ? (errno = ENOMEM, (void *)0) : calloc((n), (size)))
#define hop__realloc(p, size)                                                                                \
    (hop__fault(HOP__FAULT_ALLOC) ? (errno = ENOMEM, (void *)0) : realloc((p), (size)))
#define hop__aligned_alloc(align, size)                                                                      \
    (hop__fault(HOP__FAULT_ALLOC) ? (errno = ENOMEM, (void *)0) : aligned_alloc((align), (size)))
#define hop__posix_memalign(p, align, size)                                                                  \
    (hop__fault(HOP__FAULT_ALLOC) ? ENOMEM : posix_memalign((p), (align), (size)))
#define hop__mmap(addr, len, prot, flags, fd, off)                                                           \
    (hop__fault(HOP__FAULT_MMAP) ? (errno = ENOMEM, MAP_FAILED)                                              \
                                 : mmap((addr), (len), (prot), (flags), (fd), (off)))
#define hop__mprotect(addr, len, prot)                                                                       \
    (hop__fault(HOP__FAULT_MPROTECT) ? (errno = ENOMEM, -1) : mprotect((addr), (len), (prot)))
#define hop__pthread_create(thread, attr, fn, arg)                                                           \
    (hop__fault(HOP__FAULT_THREAD) ? EAGAIN : pthread_create((thread), (attr), (fn), (arg)))
#define hop__uv_init(call) (hop__fault(HOP__FAULT_UV) ? -EMFILE : (call))

#else

#define hop__malloc(size) malloc(size)
#define hop__calloc(n, size) calloc((n), (size))
#define hop__realloc(p, size) realloc((p), (size))
#define hop__aligned_alloc(align, size) aligned_alloc((align), (size))
#define hop__posix_memalign(p, align, size) posix_memalign((p), (align), (size))
#define hop__mmap(addr, len, prot, flags, fd, off) mmap((addr), (len), (prot), (flags), (fd), (off))
#define hop__mprotect(addr, len, prot) mprotect((addr), (len), (prot))
#define hop__pthread_create(thread, attr, fn, arg) pthread_create((thread), (attr), (fn), (arg))
#define hop__uv_init(call) (call)

#endif /* HOP_FAULT_INJECTION */

#endif /* HOP_SRC_FAULT_H */
