/* hop__context_switch for aarch64, AAPCS64, ELF, GNU as.
 *
 *   void *hop__context_switch(hop__context_t *from,   x0
 *                             hop__context_t *to,     x1
 *                             void *value);           x2
 *
 * Saves the callee-saved state on the current stack, stores sp in from->sp,
 * loads to->sp, restores the same frame from there and returns through the
 * saved x30 with value in x0 (the return value, and the first argument of a
 * fresh context's entry function).
 *
 * The frame, at the saved stack pointer (offsets in bytes; 16-byte aligned as
 * AAPCS64 requires of sp; src/arch/context_aarch64.c builds the first one):
 *
 *   +------+------------+------------+
 *   | 0x00 | d8         | d9         |
 *   | 0x10 | d10        | d11        |
 *   | 0x20 | d12        | d13        |
 *   | 0x30 | d14        | d15        |
 *   | 0x40 | x19        | x20        |
 *   | 0x50 | x21        | x22        |
 *   | 0x60 | x23        | x24        |
 *   | 0x70 | x25        | x26        |
 *   | 0x80 | x27        | x28        |
 *   | 0x90 | x29 (fp)   | x30 (lr)   |
 *   | 0xa0 | FPCR       | pad        |
 *   +------+------------+------------+   size 0xb0
 *
 * Saved: x19-x29, x30 (where to continue), sp, the low 64 bits of v8-v15
 * (all AAPCS64 preserves of them), and FPCR (rounding mode and traps, which
 * a function must not leave changed). FPCR is written back only when it
 * differs, because writing it can stall the pipeline. Not saved: x0-x18
 * (scratch; x18 is the platform register, unused by Linux user code), the
 * upper halves of v8-v15 and v0-v7, v16-v31 (caller-saved), FPSR's sticky
 * flags (caller-owned), the signal mask (per thread). No BTI or PAC marking:
 * Debian does not enable branch protection by default.
 */
        .file   "switch_aarch64_aapcs_elf_gas.S"
        .text
        .globl  hop__context_switch
        .hidden hop__context_switch
        .type   hop__context_switch, %function
        .align  4
hop__context_switch:
        .cfi_startproc
        sub     sp, sp, #0xb0           /* the frame */
        .cfi_def_cfa_offset 0xb0        /* same shape on both stacks: stays true across the swap */
        stp     d8, d9, [sp, #0x00]     /* callee-saved floating point */
        stp     d10, d11, [sp, #0x10]
        stp     d12, d13, [sp, #0x20]
        stp     d14, d15, [sp, #0x30]
        stp     x19, x20, [sp, #0x40]   /* callee-saved general purpose */
        stp     x21, x22, [sp, #0x50]
        stp     x23, x24, [sp, #0x60]
        stp     x25, x26, [sp, #0x70]
        stp     x27, x28, [sp, #0x80]
        stp     x29, x30, [sp, #0x90]   /* frame pointer and return address */
        .cfi_offset x29, -0x20
        .cfi_offset x30, -0x18
        mrs     x9, fpcr
        str     x9, [sp, #0xa0]         /* floating-point control */

        mov     x9, sp
        str     x9, [x0]                /* from->sp = this frame */
        ldr     x9, [x1]
        mov     sp, x9                  /* continue on to's stack */

        ldr     x9, [sp, #0xa0]         /* to's floating-point control ... */
        mrs     x10, fpcr
        cmp     x9, x10
        b.eq    1f
        msr     fpcr, x9                /* ... written only if it differs */
1:
        ldp     d8, d9, [sp, #0x00]     /* restore to's registers */
        ldp     d10, d11, [sp, #0x10]
        ldp     d12, d13, [sp, #0x20]
        ldp     d14, d15, [sp, #0x30]
        ldp     x19, x20, [sp, #0x40]
        ldp     x21, x22, [sp, #0x50]
        ldp     x23, x24, [sp, #0x60]
        ldp     x25, x26, [sp, #0x70]
        ldp     x27, x28, [sp, #0x80]
        ldp     x29, x30, [sp, #0x90]
        add     sp, sp, #0xb0
        .cfi_def_cfa_offset 0
        mov     x0, x2                  /* value: return value, or entry's argument */
        ret                             /* through x30 */
        .cfi_endproc
        .size   hop__context_switch, .-hop__context_switch

/* hop__context_start: where a fresh context's first switch returns, with sp
 * 16-byte aligned, the entry function in x19 and its argument in x0. The
 * switch returns here through x30, so without this frame entry would find
 * itself as its own caller and unwinders would loop; the CFI marks the
 * outermost frame instead (glibc's thread start does the same), and x29 == 0
 * ends frame-pointer walks. */
        .globl  hop__context_start
        .hidden hop__context_start
        .type   hop__context_start, %function
        .align  4
hop__context_start:
        .cfi_startproc
        .cfi_undefined x30              /* the outermost frame: unwinding ends here */
        mov     x29, #0
        blr     x19                     /* entry(value); it never returns ... */
        brk     #0                      /* ... and if it did, trap at once */
        .cfi_endproc
        .size   hop__context_start, .-hop__context_start

        .section .note.GNU-stack, "", %progbits
