/* src/core/sanitizer.h: what the build's sanitizers and valgrind need to know
 * about fibers. Each hook compiles to nothing unless the build enables it. */
#ifndef HOP_SRC_SANITIZER_H
#define HOP_SRC_SANITIZER_H

#include <stddef.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HOP__ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define HOP__TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HOP__ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define HOP__TSAN 1
#endif
#ifndef HOP__ASAN
#define HOP__ASAN 0
#endif
#ifndef HOP__TSAN
#define HOP__TSAN 0
#endif

#if HOP__ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if HOP__TSAN
#include <sanitizer/tsan_interface.h>
#endif
#if defined(HOP_VALGRIND) && HOP_VALGRIND
#include <valgrind/valgrind.h>
#endif

/* AddressSanitizer keeps a shadow of "the current stack"; these tell it which
 * stack the thread is about to run on and when it got there. */
static inline void hop__asan_start_switch(void **fake_stack_save, const void *bottom, size_t size) {
#if HOP__ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
    (void)fake_stack_save, (void)bottom, (void)size;
#endif
}

static inline void hop__asan_finish_switch(void *fake_stack_save, const void **old_bottom,
                                           size_t *old_size) {
#if HOP__ASAN
    __sanitizer_finish_switch_fiber(fake_stack_save, old_bottom, old_size);
#else
    (void)fake_stack_save, (void)old_bottom, (void)old_size;
#endif
}

/* Marks memory addressable again: a reused stack carries the poisoned
 * redzones of the frames of the task that last ran on it. */
static inline void hop__asan_unpoison(const void *low, size_t size) {
#if HOP__ASAN
    __asan_unpoison_memory_region(low, size);
#else
    (void)low, (void)size;
#endif
}

/* ThreadSanitizer tracks happens-before per fiber; a task is one fiber that
 * may run on several threads over its life. */
static inline void *hop__tsan_fiber_create(void) {
#if HOP__TSAN
    return __tsan_create_fiber(0);
#else
    return NULL;
#endif
}

static inline void *hop__tsan_fiber_current(void) {
#if HOP__TSAN
    return __tsan_get_current_fiber();
#else
    return NULL;
#endif
}

static inline void hop__tsan_fiber_switch(void *fiber) {
#if HOP__TSAN
    __tsan_switch_to_fiber(fiber, 0);
#else
    (void)fiber;
#endif
}

static inline void hop__tsan_fiber_destroy(void *fiber) {
#if HOP__TSAN
    if (fiber)
        __tsan_destroy_fiber(fiber);
#else
    (void)fiber;
#endif
}

static inline void hop__tsan_fiber_name(void *fiber, const char *name) {
#if HOP__TSAN
    if (fiber && name && name[0])
        __tsan_set_fiber_name(fiber, name);
#else
    (void)fiber, (void)name;
#endif
}

/* Valgrind must be told where stacks are, or it mistakes every switch for a
 * huge stack-pointer jump and reports garbage. */
static inline unsigned hop__valgrind_stack_register(void *low, void *high) {
#if defined(HOP_VALGRIND) && HOP_VALGRIND
    return VALGRIND_STACK_REGISTER(low, high);
#else
    (void)low, (void)high;
    return 0;
#endif
}

static inline void hop__valgrind_stack_deregister(unsigned id) {
#if defined(HOP_VALGRIND) && HOP_VALGRIND
    VALGRIND_STACK_DEREGISTER(id);
#else
    (void)id;
#endif
}

#endif /* HOP_SRC_SANITIZER_H */
