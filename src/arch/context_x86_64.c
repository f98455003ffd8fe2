/* hop__context_make for x86_64 System V: builds the first frame that
 * switch_x86_64_sysv_elf_gas.S restores (see the table there). */
#include <stddef.h>
#include <stdint.h>

#include "context.h"

/* The frame exactly as the assembly pushes it. */
struct hop__x86_64_frame {
    uint32_t mxcsr;
    uint16_t x87_control;
    uint16_t pad;
    uint64_t r12, r13, r14, r15, rbx, rbp;
    uint64_t rip;
};

_Static_assert(offsetof(struct hop__x86_64_frame, mxcsr) == 0x00, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, x87_control) == 0x04, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, r12) == 0x08, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, rbp) == 0x30, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, rip) == 0x38, "frame layout");
_Static_assert(sizeof(struct hop__x86_64_frame) == 0x40, "frame layout");

void hop__context_make(hop__context_t *ctx, void *stack_low, size_t size, hop__context_entry_fn entry) {
    uintptr_t top = ((uintptr_t)stack_low + size) & ~(uintptr_t)15;
    /* The first switch pops the frame and jumps to hop__context_start with
     * %rsp == top, 16-byte aligned, so that its call gives entry the
     * alignment the ABI promises at a function's first instruction. */
    struct hop__x86_64_frame *frame = (struct hop__x86_64_frame *)(top - sizeof(struct hop__x86_64_frame));
    uint32_t mxcsr;
    uint16_t x87_control;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(x87_control));
    *frame = (struct hop__x86_64_frame){
        .mxcsr = mxcsr,
        .x87_control = x87_control,
        .r12 = (uint64_t)(uintptr_t)entry,
        .rbp = 0,
        .rip = (uint64_t)(uintptr_t)hop__context_start,
    };
    ctx->sp = frame;
}
