/* src/arch/tls.h: thread-locals that code on a task's stack may read.
 *
 * In arch/, the bottom layer, because the hazard comes from the context
 * switch and the ucontext switch needs the accessor too; the other layers
 * get it through core/internal.h. */
#ifndef HOP_SRC_ARCH_TLS_H
#define HOP_SRC_ARCH_TLS_H

/* HOP__TLS_SLOT(accessor, type): defines a thread-local of type and
 * `static type *accessor(void)`, which returns its address on the calling
 * thread; code that may run on a task's stack reaches the thread-local only
 * through it. It is a non-inlined call whose result passes through an empty
 * asm because a task can migrate between threads across an await, and the
 * compiler may otherwise keep using the thread-local's address it computed
 * on the thread the task ran on before. */
#define HOP__TLS_SLOT(accessor, type)                                                                        \
    static _Thread_local type accessor##_tls;                                                                \
    __attribute__((noinline)) static type *accessor(void) {                                                  \
        type *slot = &accessor##_tls;                                                                        \
        __asm__ volatile("" : "+r"(slot)::"memory");                                                         \
        return slot;                                                                                         \
    }

#endif /* HOP_SRC_ARCH_TLS_H */
