/* src/arch/context.h: the raw context switch, one backend per target.
 *
 * A context is a suspended flow of control: a stack pointer whose stack holds
 * the callee-saved registers. hop switches only between a task and the code
 * that resumed it, never task to task, so that every hand-off of a task to
 * another thread happens after the task has left its stack (see task.c).
 *
 * Backends (chosen by CMake, HOP_CONTEXT=asm|ucontext):
 *   src/arch/switch_x86_64_sysv_elf_gas.S     x86_64 System V
 *   src/arch/switch_aarch64_aapcs_elf_gas.S   aarch64 AAPCS64
 *   src/arch/switch_ucontext.c                anything with <ucontext.h>
 *
 * What the switch does not save, and why that is safe: caller-saved
 * (scratch) registers, because the switch is an ordinary call and the
 * compiler already assumes a call destroys them; the x87 status word and
 * on aarch64 FPSR, which the ABI makes caller-owned; the signal
 * mask, which stays per thread (this is what makes it ~50x cheaper than
 * swapcontext, which makes a sigprocmask system call). */
#ifndef HOP_SRC_CONTEXT_H
#define HOP_SRC_CONTEXT_H

#include <stddef.h>

#if defined(HOP_CONTEXT_UCONTEXT)
#include <ucontext.h>
typedef void (*hop__context_entry_fn)(void *value);
typedef struct hop__context_s {
    ucontext_t uc;
    hop__context_entry_fn entry;
} hop__context_t;
#else
typedef struct hop__context_s {
    void *sp; /* the saved frame; layout in the backend's block comment */
} hop__context_t;
#endif

/* hop__context_entry_fn: the entry function of a new context. It receives
 * the value passed to the first hop__context_switch() into the context, and
 * must never return. */
#if !defined(HOP_CONTEXT_UCONTEXT)
typedef void (*hop__context_entry_fn)(void *value);
#endif

/* hop__context_make: prepares ctx to start entry(value) on the stack
 * [stack_low, stack_low + size) at its first switch. The initial floating-
 * point control state is the calling thread's. */
void hop__context_make(hop__context_t *ctx, void *stack_low, size_t size, hop__context_entry_fn entry);

/* hop__context_switch: saves the running context into from, continues to,
 * and passes it value: to's pending hop__context_switch() returns value (or,
 * for a fresh context, entry receives it). Returns when some later switch
 * comes back to from, with that switch's value. from and to must differ. */
void *hop__context_switch(hop__context_t *from, hop__context_t *to, void *value);

#if !defined(HOP_CONTEXT_UCONTEXT)
/* hop__context_start: the assembly frame a fresh context starts in; it calls
 * the entry function and is marked as the outermost frame, so backtraces of
 * a task end there. Not called from C: hop__context_make points the first
 * frame at it. (The ucontext backend gets the same from glibc's
 * makecontext.) */
void hop__context_start(void);
#endif

#endif /* HOP_SRC_CONTEXT_H */
