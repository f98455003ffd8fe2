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
    /* Above the frame: the slot a call would have pushed for entry. */
    uint64_t entry_return_address;
};

_Static_assert(offsetof(struct hop__x86_64_frame, mxcsr) == 0x00, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, x87_control) == 0x04, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, r12) == 0x08, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, rbp) == 0x30, "frame layout");
_Static_assert(offsetof(struct hop__x86_64_frame, rip) == 0x38, "frame layout");

void hop__context_make(hop__context_t *ctx, void *stack_low, size_t size, hop__context_entry_fn entry) {
    uintptr_t top = ((uintptr_t)stack_low + size) & ~(uintptr_t)15;
    /* entry starts as if called: its return address slot sits at a 16-byte
     * boundary minus 8, which the ABI guarantees at a function's first
     * instruction. The slot holds 0 so that backtraces end there. */
    struct hop__x86_64_frame *frame = (struct hop__x86_64_frame *)(top - 16 - 0x38);
    uint32_t mxcsr;
    uint16_t x87_control;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(x87_control));
    *frame = (struct hop__x86_64_frame){
        .mxcsr = mxcsr,
        .x87_control = x87_control,
        .rip = (uint64_t)(uintptr_t)entry,
        .entry_return_address = 0,
    };
    ctx->sp = frame;
}
