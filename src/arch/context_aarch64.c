/* hop__context_make for aarch64 AAPCS64: builds the first frame that
 * switch_aarch64_aapcs_elf_gas.S restores (see the table there). */
#include <stddef.h>
#include <stdint.h>

#include "context.h"

/* The frame exactly as the assembly stores it. */
struct hop__aarch64_frame {
    uint64_t d[8];   /* d8-d15 */
    uint64_t x[10];  /* x19-x28 */
    uint64_t x29;    /* frame pointer */
    uint64_t x30;    /* link register: where the switch returns to */
    uint64_t fpcr;
    uint64_t pad;
};

_Static_assert(offsetof(struct hop__aarch64_frame, x) == 0x40, "frame layout");
_Static_assert(offsetof(struct hop__aarch64_frame, x29) == 0x90, "frame layout");
_Static_assert(offsetof(struct hop__aarch64_frame, x30) == 0x98, "frame layout");
_Static_assert(offsetof(struct hop__aarch64_frame, fpcr) == 0xa0, "frame layout");
_Static_assert(sizeof(struct hop__aarch64_frame) == 0xb0, "frame layout");

void hop__context_make(hop__context_t *ctx, void *stack_low, size_t size, hop__context_entry_fn entry) {
    uintptr_t top = ((uintptr_t)stack_low + size) & ~(uintptr_t)15;
    /* After the switch pops the frame, sp == top, 16-byte aligned as entry
     * expects, and it returns into hop__context_start, which calls entry
     * (kept in x19) from a frame marked as the outermost one. */
    struct hop__aarch64_frame *frame = (struct hop__aarch64_frame *)(top - sizeof(struct hop__aarch64_frame));
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    *frame = (struct hop__aarch64_frame){
        .x = {(uint64_t)(uintptr_t)entry},
        .x29 = 0,
        .x30 = (uint64_t)(uintptr_t)hop__context_start,
        .fpcr = fpcr,
    };
    ctx->sp = frame;
}
