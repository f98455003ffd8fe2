/* hop__context_switch for x86_64, System V ABI, ELF, GNU as.
 *
 *   void *hop__context_switch(hop__context_t *from,   %rdi
 *                             hop__context_t *to,     %rsi
 *                             void *value);           %rdx
 *
 * Saves the callee-saved state on the current stack, stores the stack
 * pointer in from->sp, loads to->sp, restores the same frame from there and
 * returns into it with value in %rax (the return value) and in %rdi (the
 * first argument, for a fresh context's entry function).
 *
 * The frame, at the saved stack pointer (offsets in bytes, hop__context_t.sp
 * points at +0x00; src/arch/context_x86_64.c builds the first one):
 *
 *   +------+-------------------------------------------------+
 *   | 0x00 | MXCSR (4 bytes) | x87 control word (2) | pad (2) |
 *   | 0x08 | r12                                              |
 *   | 0x10 | r13                                              |
 *   | 0x18 | r14                                              |
 *   | 0x20 | r15                                              |
 *   | 0x28 | rbx                                              |
 *   | 0x30 | rbp                                              |
 *   | 0x38 | return address (rip)                             |
 *   +------+-------------------------------------------------+
 *
 * Saved: everything the ABI makes callee-saved: rbx, rbp, r12-r15, rsp, and
 * the control bits of MXCSR and the x87 control word (rounding, precision,
 * exception masks). Not saved: scratch registers (the caller expects them
 * clobbered by any call), status flags of MXCSR and x87 (caller-owned), the
 * signal mask (per thread), and the x87 register stack, which the ABI
 * requires to be empty at a call.
 */
        .file   "switch_x86_64_sysv_elf_gas.S"
        .text
        .globl  hop__context_switch
        .hidden hop__context_switch
        .type   hop__context_switch, @function
        .align  16
hop__context_switch:
        .cfi_startproc
        pushq   %rbp                    /* callee-saved registers, 0x30 .. 0x08 */
        pushq   %rbx
        pushq   %r15
        pushq   %r14
        pushq   %r13
        pushq   %r12
        leaq    -0x8(%rsp), %rsp        /* room for the floating-point control words */
        stmxcsr (%rsp)                  /* MXCSR at 0x00 */
        fnstcw  0x4(%rsp)               /* x87 control word at 0x04 */

        movq    %rsp, (%rdi)            /* from->sp = this frame */
        movq    (%rsi), %rsp            /* continue on to's stack */

        ldmxcsr (%rsp)                  /* restore to's floating-point control */
        fldcw   0x4(%rsp)
        leaq    0x8(%rsp), %rsp
        popq    %r12                    /* restore to's callee-saved registers */
        popq    %r13
        popq    %r14
        popq    %r15
        popq    %rbx
        popq    %rbp
        movq    %rdx, %rax              /* value: the return value of to's switch ... */
        movq    %rdx, %rdi              /* ... and the argument of a fresh entry */
        ret                             /* into to's saved return address */
        .cfi_endproc
        .size   hop__context_switch, .-hop__context_switch

        .section .note.GNU-stack, "", %progbits
