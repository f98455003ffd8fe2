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
 *   | 0x38 | return address (rip), where the switch jumps to     |
 *   +------+-------------------------------------------------+
 *
 * Saved: everything the ABI makes callee-saved: rbx, rbp, r12-r15, rsp, and
 * the control bits of MXCSR and the x87 control word (rounding, precision,
 * exception masks, DAZ/FZ), each written back only if it differs. Not saved:
 * scratch registers (the caller expects them clobbered by any call), the
 * status flags of MXCSR and the x87 status word (caller-owned), the signal
 * mask (per thread), and the x87 register stack, which the ABI requires to
 * be empty at a call.
 *
 * Why it ends with jmp, not ret: a ret is predicted from the CPU's return
 * stack, which holds the return address of *this* context's call, so every
 * switch would mispredict (measured: 10.7 ns per switch with ret, 3 ns with
 * jmp on an Intel Xeon; 11.6 against 4.7 ns on an AMD EPYC, Zen 5, without
 * the floating-point words; bench/RESULTS.md). Boost.Context does the same.
 *
 * The floating-point words cost more than the rest of the switch together,
 * and differently per CPU: on Intel writing MXCSR with a new value is slow,
 * on AMD Zen 5 reading it (stmxcsr) is, and a load of what it stored waits
 * for it. So MXCSR is read once per switch, as the first instruction, and
 * compared with to's at the very end, after the registers are restored
 * (bench/RESULTS.md, "The context switch on AMD").
 *
 * Unwind information: the frame has the same shape on both stacks, so the
 * CFI below, which follows the pushes, stays true across the stack swap.
 * Not compatible with CET shadow stacks (the return lands on another stack),
 * which Debian does not enable.
 *
 * A fresh context starts in hop__context_start (below), which calls the
 * entry function kept in r12. Its CFI says the return address is undefined,
 * the DWARF way to mark the outermost frame (glibc's thread start does the
 * same), so gdb, perf and libgcc's unwinder stop there instead of walking
 * past the top of the task's stack into a made-up caller.
 */
        .file   "switch_x86_64_sysv_elf_gas.S"
        .text
        .globl  hop__context_switch
        .hidden hop__context_switch
        .type   hop__context_switch, @function
        .align  16
hop__context_switch:
        .cfi_startproc
        /* The floating-point control words first, into the frame's slot
         * 0x00 below (the red zone until the pushes reach it), as far as
         * possible from their read-back at the end. */
        stmxcsr -0x38(%rsp)             /* MXCSR at 0x00 */
        fnstcw  -0x34(%rsp)             /* x87 control word at 0x04 */
        pushq   %rbp                    /* callee-saved registers, 0x30 .. 0x08 */
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbp, 0
        pushq   %rbx
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %rbx, 0
        pushq   %r15
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r15, 0
        pushq   %r14
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r14, 0
        pushq   %r13
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r13, 0
        pushq   %r12
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset %r12, 0
        leaq    -0x8(%rsp), %rsp        /* the control words, stored above */
        .cfi_adjust_cfa_offset 8

        movq    %rsp, (%rdi)            /* from->sp = this frame */
        movq    %rsp, %r8               /* kept for the comparison below */
        movq    (%rsi), %rsp            /* continue on to's stack */

        leaq    0x8(%rsp), %rsp
        .cfi_adjust_cfa_offset -8
        popq    %r12                    /* restore to's callee-saved registers */
        .cfi_adjust_cfa_offset -8
        popq    %r13
        .cfi_adjust_cfa_offset -8
        popq    %r14
        .cfi_adjust_cfa_offset -8
        popq    %r15
        .cfi_adjust_cfa_offset -8
        popq    %rbx
        .cfi_adjust_cfa_offset -8
        popq    %rbp
        .cfi_adjust_cfa_offset -8
        movq    %rdx, %rax              /* value: the return value of to's switch ... */
        movq    %rdx, %rdi              /* ... and the argument of a fresh entry */
        popq    %rcx                    /* to's return address */
        .cfi_adjust_cfa_offset -8
        .cfi_register %rip, %rcx

        /* Floating-point control: only the control bits of MXCSR
         * (rounding, masks, DAZ, FZ) and the x87 control word belong to
         * the context; the status flags stay with the thread, as the ABI
         * leaves them to the caller. The thread's words are the ones saved
         * into from's frame above (%r8); to's frame now lies just below
         * %rsp, in the red zone, which signal handlers leave alone. Each
         * word is written only when it differs (see the note above). */
        movl    (%r8), %r9d             /* this thread's MXCSR */
        xorl    -0x40(%rsp), %r9d       /* ^ to's */
        testl   $0xffc0, %r9d           /* any control bit different? */
        jnz     3f
        movzwl  0x4(%r8), %r9d          /* this thread's x87 control word */
        cmpw    -0x3c(%rsp), %r9w       /* = to's? */
        jne     4f
        jmp     *%rcx                   /* not ret: see the note above */
3:
        andl    $0xffc0, %r9d
        xorl    (%r8), %r9d             /* to's control bits, the thread's status flags */
        movl    %r9d, -0x48(%rsp)
        ldmxcsr -0x48(%rsp)
        movzwl  0x4(%r8), %r9d
        cmpw    -0x3c(%rsp), %r9w
        je      5f
4:
        fldcw   -0x3c(%rsp)
5:
        jmp     *%rcx
        .cfi_endproc
        .size   hop__context_switch, .-hop__context_switch

/* hop__context_start: where a fresh context's first switch lands, with %rsp
 * 16-byte aligned, the entry function in %r12 and its argument in %rdi. */
        .globl  hop__context_start
        .hidden hop__context_start
        .type   hop__context_start, @function
        .align  16
hop__context_start:
        .cfi_startproc
        .cfi_undefined %rip             /* the outermost frame: unwinding ends here */
        xorl    %ebp, %ebp              /* and frame-pointer walks end here too */
        callq   *%r12                   /* entry(value); it never returns ... */
        ud2                             /* ... and if it did, trap at once */
        .cfi_endproc
        .size   hop__context_start, .-hop__context_start

        .section .note.GNU-stack, "", %progbits
