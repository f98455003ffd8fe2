/* tests/arch/test_context_switch.c: the raw context switch, alone.
 *
 * A plain program (no Criterion, libuv or ck) so that the same file runs
 * natively and cross-compiled under qemu-user; tests/arch/run.sh builds it
 * for every backend. It links one backend directly:
 *
 *   x86_64 asm:  src/arch/switch_x86_64_sysv_elf_gas.S src/arch/context_x86_64.c
 *   aarch64 asm: src/arch/switch_aarch64_aapcs_elf_gas.S src/arch/context_aarch64.c
 *   ucontext:    src/arch/switch_ucontext.c, with -DHOP_CONTEXT_UCONTEXT=1
 *
 * Output: one "PASS name" or "FAIL name: why" per test, then "N passed, M
 * failed"; the exit status is 0 only if every test passed. A crash or a hang
 * inside a test is reported as that test's failure (see the signal handler).
 *
 * The register tests need registers the compiler does not let C name, so a
 * few helpers below are written in file-scope assembly, one per architecture.
 * They do not depend on compiler flags: in particular the frame-pointer
 * register (rbp, x29) cannot be listed as an inline-asm clobber when frame
 * pointers are on (-fno-omit-frame-pointer, sanitizer builds), but an
 * assembly function may use it freely as long as it restores it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fenv.h>
#include <signal.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "../../src/arch/context.h"

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "test_context_switch.c: only x86_64 and aarch64 are covered (the register tests are per architecture)"
#endif

/* ---- Reporting ------------------------------------------------------------ */

static const char *volatile current_test = "(startup)";
static volatile int tests_passed, tests_failed;
static char why_buffer[256];

/* Formats a failure reason into one static buffer: a test stops at its first
 * failure, so one buffer is enough. */
__attribute__((format(printf, 1, 2))) static const char *why(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(why_buffer, sizeof why_buffer, format, args);
    va_end(args);
    return why_buffer;
}

static void write_str(const char *s) {
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void write_int(int value) {
    char digits[16];
    int i = (int)sizeof digits;
    digits[--i] = '\0';
    unsigned v = value < 0 ? 0u : (unsigned)value;
    do {
        digits[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && i > 0);
    write_str(&digits[i]);
}

/* A broken switch shows up as a crash (a bad stack pointer or return
 * address), a misaligned stack (SIGSEGV from movaps on x86_64, SIGBUS on
 * aarch64), or a hang. Each is turned into a FAIL line for the running test
 * and a final summary, so that CI logs say which test broke. It runs on an
 * alternate stack because the fault may be an overflow into a guard page. */
static void on_fatal_signal(int signo) {
    /* Only write(2) here; stdout is unbuffered (main), so nothing printed
     * before is lost. */
    const char *name = signo == SIGSEGV   ? "SIGSEGV"
                       : signo == SIGBUS  ? "SIGBUS"
                       : signo == SIGILL  ? "SIGILL"
                       : signo == SIGFPE  ? "SIGFPE"
                       : signo == SIGABRT ? "SIGABRT"
                                          : "?";
    write_str("FAIL ");
    write_str(current_test);
    if (signo == SIGALRM) {
        write_str(": timed out (hang?)\n");
    } else {
        write_str(": caught ");
        write_str(name);
        write_str("\n");
    }
    write_int(tests_passed);
    write_str(" passed, ");
    write_int(tests_failed + 1);
    write_str(" failed\n");
    _exit(1);
}

static void install_fatal_handlers(void) {
    static char altstack[64 * 1024];
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGALRM};
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++)
        sigaction(signals[i], &sa, NULL);
}

/* Called where a context that has finished its work would be resumed again:
 * an entry function must never return, so each parks itself here. */
static void park_forever(hop__context_t *self, hop__context_t *resumer, void *value) {
    hop__context_switch(self, resumer, value);
    fprintf(stderr, "test_context_switch: a finished context was resumed (%s)\n", current_test);
    abort();
}

/* ---- Stacks ----------------------------------------------------------------- */

/* A context stack as hop allocates it: mmap'd, with a PROT_NONE page below it
 * so that an overflow faults instead of silently overwriting memory. */
struct test_stack {
    void *map;
    size_t map_size;
    void *low;
    size_t size;
};

static int test_stack_alloc(struct test_stack *s, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + page - 1) / page * page;
    s->map_size = size + page;
    s->map = mmap(NULL, s->map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s->map == MAP_FAILED)
        return -1;
    if (mprotect(s->map, page, PROT_NONE) != 0) {
        munmap(s->map, s->map_size);
        return -1;
    }
    s->low = (char *)s->map + page;
    s->size = size;
    return 0;
}

static void test_stack_free(struct test_stack *s) { munmap(s->map, s->map_size); }

/* Large enough for snprintf and for sanitizer-inflated frames; the deep
 * recursion test uses its own 64 KiB stack. */
#define TEST_STACK_SIZE (256 * 1024)

/* ---- Assembly helpers ------------------------------------------------------- */

/* hop__test_switch_with_pattern: loads a distinct known value into every
 * callee-saved register (including the frame pointer and, on aarch64,
 * d8-d15), calls hop__context_switch(from, to, value), and stores what those
 * registers hold after it returns into out[], in the order of
 * expected_pattern[]. Any register the switch fails to restore shows up as a
 * mismatch, whatever the compiler would have kept in it. Returns what the
 * switch returned. Its own callers' registers are saved and restored around
 * all of this, as the ABI requires. */
void *hop__test_switch_with_pattern(hop__context_t *from, hop__context_t *to, void *value, uint64_t *out);

/* hop__test_clobber_all_and_switch: overwrites every callee-saved register
 * (including the frame pointer and, on aarch64, d8-d15) with garbage, then
 * calls hop__context_switch(from, to, value). The registers are restored from
 * this function's own frame only when it returns, that is after the context
 * is resumed; at the switch they hold garbage, so the other side sees its own
 * values again only if the switch restored them. */
void *hop__test_clobber_all_and_switch(hop__context_t *from, hop__context_t *to, void *value);

/* hop__test_caller_sp: the stack pointer at the call instruction that called
 * it. x86_64 requires it to be 16-byte aligned at every call, aarch64 at all
 * times. A compiler assumes this and never checks it, so only a helper that
 * reads the register itself can see a misaligned context stack directly. */
uintptr_t hop__test_caller_sp(void);

#if defined(__x86_64__)

#define CALLEE_SAVED_COUNT 6
static const char *const callee_saved_names[CALLEE_SAVED_COUNT] = {"rbx", "rbp", "r12", "r13", "r14", "r15"};
static const uint64_t expected_pattern[CALLEE_SAVED_COUNT] = {
    0xa503000000005a03, 0xa505000000005a05, 0xa50c000000005a0c,
    0xa50d000000005a0d, 0xa50e000000005a0e, 0xa50f000000005a0f,
};

/* Entry alignment: %rsp is 8 mod 16 at a function's first instruction. Seven
 * pushes in the first helper and six plus 8 bytes in the second make it 0 mod
 * 16 at their calls, as the callee expects. @PLT lets the same text link
 * against either backend, in PIE or static builds. */
__asm__(".pushsection .text\n"
        ".globl hop__test_switch_with_pattern\n"
        ".hidden hop__test_switch_with_pattern\n"
        ".type hop__test_switch_with_pattern, @function\n"
        ".p2align 4\n"
        "hop__test_switch_with_pattern:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    pushq %rcx\n" /* out: %rcx is scratch across the call */
        "    movabsq $0xa503000000005a03, %rbx\n"
        "    movabsq $0xa505000000005a05, %rbp\n"
        "    movabsq $0xa50c000000005a0c, %r12\n"
        "    movabsq $0xa50d000000005a0d, %r13\n"
        "    movabsq $0xa50e000000005a0e, %r14\n"
        "    movabsq $0xa50f000000005a0f, %r15\n"
        "    call hop__context_switch@PLT\n"
        "    popq %rcx\n"
        "    movq %rbx, 0x00(%rcx)\n"
        "    movq %rbp, 0x08(%rcx)\n"
        "    movq %r12, 0x10(%rcx)\n"
        "    movq %r13, 0x18(%rcx)\n"
        "    movq %r14, 0x20(%rcx)\n"
        "    movq %r15, 0x28(%rcx)\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size hop__test_switch_with_pattern, .-hop__test_switch_with_pattern\n"
        "\n"
        ".globl hop__test_clobber_all_and_switch\n"
        ".hidden hop__test_clobber_all_and_switch\n"
        ".type hop__test_clobber_all_and_switch, @function\n"
        ".p2align 4\n"
        "hop__test_clobber_all_and_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    subq $8, %rsp\n"
        "    movq $-3, %rbx\n"
        "    movq $-5, %rbp\n"
        "    movq $-12, %r12\n"
        "    movq $-13, %r13\n"
        "    movq $-14, %r14\n"
        "    movq $-15, %r15\n"
        "    call hop__context_switch@PLT\n"
        "    addq $8, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size hop__test_clobber_all_and_switch, .-hop__test_clobber_all_and_switch\n"
        "\n"
        ".globl hop__test_caller_sp\n"
        ".hidden hop__test_caller_sp\n"
        ".type hop__test_caller_sp, @function\n"
        ".p2align 4\n"
        "hop__test_caller_sp:\n"
        "    leaq 8(%rsp), %rax\n" /* above the return address: %rsp at the call */
        "    ret\n"
        ".size hop__test_caller_sp, .-hop__test_caller_sp\n"
        ".popsection\n");

#elif defined(__aarch64__)

#define CALLEE_SAVED_COUNT 19
static const char *const callee_saved_names[CALLEE_SAVED_COUNT] = {
    "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28",
    "x29", "d8",  "d9",  "d10", "d11", "d12", "d13", "d14", "d15",
};
/* Pattern for register tag t: (0xa500|t) << 48 | (0x5a00|t), two instructions
 * (movz, movk) each; t is the register number, or 0xd0+n for dn. */
static const uint64_t expected_pattern[CALLEE_SAVED_COUNT] = {
    0xa513000000005a13, 0xa514000000005a14, 0xa515000000005a15, 0xa516000000005a16, 0xa517000000005a17,
    0xa518000000005a18, 0xa519000000005a19, 0xa51a000000005a1a, 0xa51b000000005a1b, 0xa51c000000005a1c,
    0xa51d000000005a1d, 0xa5d8000000005ad8, 0xa5d9000000005ad9, 0xa5da000000005ada, 0xa5db000000005adb,
    0xa5dc000000005adc, 0xa5dd000000005add, 0xa5de000000005ade, 0xa5df000000005adf,
};

/* Frames: x29/x30 at 0, x19-x28 at 0x10, d8-d15 at 0x60, and (first helper)
 * out at 0xa0; sizes keep sp 16-byte aligned. bl links against either
 * backend; the static linker adds a veneer or PLT entry if one is needed. */
__asm__(".pushsection .text\n"
        ".globl hop__test_switch_with_pattern\n"
        ".hidden hop__test_switch_with_pattern\n"
        ".type hop__test_switch_with_pattern, %function\n"
        ".p2align 4\n"
        "hop__test_switch_with_pattern:\n"
        "    stp x29, x30, [sp, #-0xb0]!\n"
        "    stp x19, x20, [sp, #0x10]\n"
        "    stp x21, x22, [sp, #0x20]\n"
        "    stp x23, x24, [sp, #0x30]\n"
        "    stp x25, x26, [sp, #0x40]\n"
        "    stp x27, x28, [sp, #0x50]\n"
        "    stp d8, d9, [sp, #0x60]\n"
        "    stp d10, d11, [sp, #0x70]\n"
        "    stp d12, d13, [sp, #0x80]\n"
        "    stp d14, d15, [sp, #0x90]\n"
        "    str x3, [sp, #0xa0]\n" /* out: x3 is scratch across the call */
        "    movz x19, #0xa513, lsl #48\n    movk x19, #0x5a13\n"
        "    movz x20, #0xa514, lsl #48\n    movk x20, #0x5a14\n"
        "    movz x21, #0xa515, lsl #48\n    movk x21, #0x5a15\n"
        "    movz x22, #0xa516, lsl #48\n    movk x22, #0x5a16\n"
        "    movz x23, #0xa517, lsl #48\n    movk x23, #0x5a17\n"
        "    movz x24, #0xa518, lsl #48\n    movk x24, #0x5a18\n"
        "    movz x25, #0xa519, lsl #48\n    movk x25, #0x5a19\n"
        "    movz x26, #0xa51a, lsl #48\n    movk x26, #0x5a1a\n"
        "    movz x27, #0xa51b, lsl #48\n    movk x27, #0x5a1b\n"
        "    movz x28, #0xa51c, lsl #48\n    movk x28, #0x5a1c\n"
        "    movz x29, #0xa51d, lsl #48\n    movk x29, #0x5a1d\n"
        "    movz x9, #0xa5d8, lsl #48\n    movk x9, #0x5ad8\n    fmov d8, x9\n"
        "    movz x9, #0xa5d9, lsl #48\n    movk x9, #0x5ad9\n    fmov d9, x9\n"
        "    movz x9, #0xa5da, lsl #48\n    movk x9, #0x5ada\n    fmov d10, x9\n"
        "    movz x9, #0xa5db, lsl #48\n    movk x9, #0x5adb\n    fmov d11, x9\n"
        "    movz x9, #0xa5dc, lsl #48\n    movk x9, #0x5adc\n    fmov d12, x9\n"
        "    movz x9, #0xa5dd, lsl #48\n    movk x9, #0x5add\n    fmov d13, x9\n"
        "    movz x9, #0xa5de, lsl #48\n    movk x9, #0x5ade\n    fmov d14, x9\n"
        "    movz x9, #0xa5df, lsl #48\n    movk x9, #0x5adf\n    fmov d15, x9\n"
        "    bl hop__context_switch\n"
        "    ldr x3, [sp, #0xa0]\n"
        "    stp x19, x20, [x3, #0x00]\n"
        "    stp x21, x22, [x3, #0x10]\n"
        "    stp x23, x24, [x3, #0x20]\n"
        "    stp x25, x26, [x3, #0x30]\n"
        "    stp x27, x28, [x3, #0x40]\n"
        "    str x29, [x3, #0x50]\n"
        "    stp d8, d9, [x3, #0x58]\n"
        "    stp d10, d11, [x3, #0x68]\n"
        "    stp d12, d13, [x3, #0x78]\n"
        "    stp d14, d15, [x3, #0x88]\n"
        "    ldp x19, x20, [sp, #0x10]\n"
        "    ldp x21, x22, [sp, #0x20]\n"
        "    ldp x23, x24, [sp, #0x30]\n"
        "    ldp x25, x26, [sp, #0x40]\n"
        "    ldp x27, x28, [sp, #0x50]\n"
        "    ldp d8, d9, [sp, #0x60]\n"
        "    ldp d10, d11, [sp, #0x70]\n"
        "    ldp d12, d13, [sp, #0x80]\n"
        "    ldp d14, d15, [sp, #0x90]\n"
        "    ldp x29, x30, [sp], #0xb0\n"
        "    ret\n"
        ".size hop__test_switch_with_pattern, .-hop__test_switch_with_pattern\n"
        "\n"
        ".globl hop__test_clobber_all_and_switch\n"
        ".hidden hop__test_clobber_all_and_switch\n"
        ".type hop__test_clobber_all_and_switch, %function\n"
        ".p2align 4\n"
        "hop__test_clobber_all_and_switch:\n"
        "    stp x29, x30, [sp, #-0xa0]!\n"
        "    stp x19, x20, [sp, #0x10]\n"
        "    stp x21, x22, [sp, #0x20]\n"
        "    stp x23, x24, [sp, #0x30]\n"
        "    stp x25, x26, [sp, #0x40]\n"
        "    stp x27, x28, [sp, #0x50]\n"
        "    stp d8, d9, [sp, #0x60]\n"
        "    stp d10, d11, [sp, #0x70]\n"
        "    stp d12, d13, [sp, #0x80]\n"
        "    stp d14, d15, [sp, #0x90]\n"
        "    mov x19, #-19\n"
        "    mov x20, #-20\n"
        "    mov x21, #-21\n"
        "    mov x22, #-22\n"
        "    mov x23, #-23\n"
        "    mov x24, #-24\n"
        "    mov x25, #-25\n"
        "    mov x26, #-26\n"
        "    mov x27, #-27\n"
        "    mov x28, #-28\n"
        "    mov x29, #-29\n"
        "    fmov d8, #-8.0\n"
        "    fmov d9, #-9.0\n"
        "    fmov d10, #-10.0\n"
        "    fmov d11, #-11.0\n"
        "    fmov d12, #-12.0\n"
        "    fmov d13, #-13.0\n"
        "    fmov d14, #-14.0\n"
        "    fmov d15, #-15.0\n"
        "    bl hop__context_switch\n"
        "    ldp x19, x20, [sp, #0x10]\n"
        "    ldp x21, x22, [sp, #0x20]\n"
        "    ldp x23, x24, [sp, #0x30]\n"
        "    ldp x25, x26, [sp, #0x40]\n"
        "    ldp x27, x28, [sp, #0x50]\n"
        "    ldp d8, d9, [sp, #0x60]\n"
        "    ldp d10, d11, [sp, #0x70]\n"
        "    ldp d12, d13, [sp, #0x80]\n"
        "    ldp d14, d15, [sp, #0x90]\n"
        "    ldp x29, x30, [sp], #0xa0\n"
        "    ret\n"
        ".size hop__test_clobber_all_and_switch, .-hop__test_clobber_all_and_switch\n"
        "\n"
        ".globl hop__test_caller_sp\n"
        ".hidden hop__test_caller_sp\n"
        ".type hop__test_caller_sp, %function\n"
        ".p2align 4\n"
        "hop__test_caller_sp:\n"
        "    mov x0, sp\n" /* bl does not touch sp: this is sp at the call */
        "    ret\n"
        ".size hop__test_caller_sp, .-hop__test_caller_sp\n"
        ".popsection\n");

#endif

/* ---- Inline-asm clobbers ------------------------------------------------------ */

/* The same idea as hop__test_clobber_all_and_switch, in C: the asm statement
 * overwrites the callee-saved registers and says so in its clobber list, so
 * the compiler saves them in this function's prologue and restores them in
 * its epilogue. The switch happens between the two: the epilogue, which would
 * hide a switch that failed to restore them, has not run when the other
 * context resumes. The empty asm after the call keeps the call from becoming
 * a tail call, which would run the epilogue first. (The frame pointer is not
 * in the lists: see the file comment; the assembly helper covers it.) */
__attribute__((noinline)) static void *clobber_gprs_and_switch(hop__context_t *from, hop__context_t *to,
                                                               void *value) {
#if defined(__x86_64__)
    __asm__ volatile("movq $-1, %%rbx\n\t"
                     "movq $-1, %%r12\n\t"
                     "movq $-1, %%r13\n\t"
                     "movq $-1, %%r14\n\t"
                     "movq $-1, %%r15\n\t" ::
                         : "rbx", "r12", "r13", "r14", "r15", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("mov x19, #-1\n\t"
                     "mov x20, #-1\n\t"
                     "mov x21, #-1\n\t"
                     "mov x22, #-1\n\t"
                     "mov x23, #-1\n\t"
                     "mov x24, #-1\n\t"
                     "mov x25, #-1\n\t"
                     "mov x26, #-1\n\t"
                     "mov x27, #-1\n\t"
                     "mov x28, #-1\n\t" ::
                         : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "memory");
#endif
    void *back = hop__context_switch(from, to, value);
    __asm__ volatile("" : "+r"(back));
    return back;
}

/* Floating-point registers, the same way. aarch64 preserves d8-d15 (the low
 * halves of v8-v15). x86_64 preserves no vector register: the other side's
 * doubles cross a call only in the caller's stack spills, and the clobber
 * checks that those, on the switched-away stack, are left alone. */
__attribute__((noinline)) static void *clobber_fp_and_switch(hop__context_t *from, hop__context_t *to,
                                                             void *value) {
#if defined(__x86_64__)
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\t"
                     "movdqa %%xmm0, %%xmm1\n\t"
                     "movdqa %%xmm0, %%xmm2\n\t"
                     "movdqa %%xmm0, %%xmm3\n\t"
                     "movdqa %%xmm0, %%xmm4\n\t"
                     "movdqa %%xmm0, %%xmm5\n\t"
                     "movdqa %%xmm0, %%xmm6\n\t"
                     "movdqa %%xmm0, %%xmm7\n\t"
                     "movdqa %%xmm0, %%xmm8\n\t"
                     "movdqa %%xmm0, %%xmm9\n\t"
                     "movdqa %%xmm0, %%xmm10\n\t"
                     "movdqa %%xmm0, %%xmm11\n\t"
                     "movdqa %%xmm0, %%xmm12\n\t"
                     "movdqa %%xmm0, %%xmm13\n\t"
                     "movdqa %%xmm0, %%xmm14\n\t"
                     "movdqa %%xmm0, %%xmm15\n\t" ::
                         : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                           "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory");
#elif defined(__aarch64__)
    __asm__ volatile("fmov d8, #-1.0\n\t"
                     "fmov d9, #-1.0\n\t"
                     "fmov d10, #-1.0\n\t"
                     "fmov d11, #-1.0\n\t"
                     "fmov d12, #-1.0\n\t"
                     "fmov d13, #-1.0\n\t"
                     "fmov d14, #-1.0\n\t"
                     "fmov d15, #-1.0\n\t" ::
                         : "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", "memory");
#endif
    void *back = hop__context_switch(from, to, value);
    __asm__ volatile("" : "+r"(back));
    return back;
}

/* ---- a. Value passing ---------------------------------------------------------- */

#define VALUE_FIRST ((void *)(uintptr_t)0x0123456789abcdefu)
#define VALUE_ROUNDS 10000
#define VALUE_REPLY_MASK ((uintptr_t)0xf0f0f0f0f0f0f0f0u)

static struct {
    hop__context_t main, other;
    void *first_seen;
    const char *failure;
} value_state;

static void value_entry(void *value) {
    value_state.first_seen = value;
    /* Echo each value back transformed, so that a switch returning its own
     * argument instead of the other side's would be caught. */
    void *received = hop__context_switch(&value_state.other, &value_state.main, (void *)~(uintptr_t)value);
    for (uintptr_t i = 0; i < VALUE_ROUNDS; i++) {
        uintptr_t want = i * 0x9e3779b97f4a7c15u;
        if ((uintptr_t)received != want && value_state.failure == NULL)
            value_state.failure = why("round %lu: context received %#lx, want %#lx", (unsigned long)i,
                                      (unsigned long)(uintptr_t)received, (unsigned long)want);
        received = hop__context_switch(&value_state.other, &value_state.main,
                                       (void *)((uintptr_t)received ^ VALUE_REPLY_MASK));
    }
    /* Extremes: NULL and all bits set must pass unchanged. */
    received = hop__context_switch(&value_state.other, &value_state.main, received);
    park_forever(&value_state.other, &value_state.main, received);
}

static const char *test_value_passing(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    memset(&value_state, 0, sizeof value_state);
    const char *failure = NULL;

    hop__context_make(&value_state.other, stack.low, stack.size, value_entry);
    void *back = hop__context_switch(&value_state.main, &value_state.other, VALUE_FIRST);
    if (value_state.first_seen != VALUE_FIRST) {
        failure = why("entry received %p, want %p", value_state.first_seen, VALUE_FIRST);
        goto out;
    }
    if ((uintptr_t)back != ~(uintptr_t)VALUE_FIRST) {
        failure = why("first switch returned %p, want %#lx", back, (unsigned long)~(uintptr_t)VALUE_FIRST);
        goto out;
    }
    for (uintptr_t i = 0; i < VALUE_ROUNDS; i++) {
        uintptr_t sent = i * 0x9e3779b97f4a7c15u;
        back = hop__context_switch(&value_state.main, &value_state.other, (void *)sent);
        if ((uintptr_t)back != (sent ^ VALUE_REPLY_MASK)) {
            failure = why("round %lu: switch returned %p, want %#lx", (unsigned long)i, back,
                          (unsigned long)(sent ^ VALUE_REPLY_MASK));
            goto out;
        }
        if (value_state.failure != NULL) {
            failure = value_state.failure;
            goto out;
        }
    }
    back = hop__context_switch(&value_state.main, &value_state.other, NULL);
    if (back != NULL) {
        failure = why("NULL came back as %p", back);
        goto out;
    }
    back = hop__context_switch(&value_state.main, &value_state.other, (void *)UINTPTR_MAX);
    if ((uintptr_t)back != UINTPTR_MAX)
        failure = why("all-ones came back as %p", back);
out:
    test_stack_free(&stack);
    return failure;
}

/* ---- b. Callee-saved integer registers ---------------------------------------- */

static struct { hop__context_t main, other; } gpr_state;

static void gpr_entry(void *value) {
    (void)value;
    /* First through the compiler's own clobber, then through the assembly
     * one that also overwrites the frame pointer. */
    clobber_gprs_and_switch(&gpr_state.other, &gpr_state.main, (void *)1);
    hop__test_clobber_all_and_switch(&gpr_state.other, &gpr_state.main, (void *)2);
    park_forever(&gpr_state.other, &gpr_state.main, (void *)3);
}

/* Inputs the compiler cannot see through, so each local below needs its own
 * register or stack slot across the switch: it cannot recompute one after
 * the call without a second volatile read. A value live across a call goes
 * to a callee-saved register, or to the stack when those run out; twelve
 * values, more than either architecture has callee-saved registers (x86_64
 * 5-6, aarch64 10-11, depending on the frame pointer), so every one of them
 * holds a value here. */
#define GPR_LIVE 12
static volatile uint64_t gpr_seed[GPR_LIVE] = {
    0x0101010101010101u, 0x0202020202020202u, 0x0303030303030303u, 0x0404040404040404u,
    0x0505050505050505u, 0x0606060606060606u, 0x0707070707070707u, 0x0808080808080808u,
    0x0909090909090909u, 0x0a0a0a0a0a0a0a0au, 0x0b0b0b0b0b0b0b0bu, 0x0c0c0c0c0c0c0c0cu,
};
#define GPR_MIX(i) (gpr_seed[i] ^ ((uint64_t)(i) << 56))

/* One switch with GPR_LIVE values live across it. Its own function, without
 * a loop around the switch, so that nothing else competes for the
 * callee-saved registers. */
__attribute__((noinline)) static const char *gprs_live_across_switch(uintptr_t round) {
    uint64_t v0 = GPR_MIX(0), v1 = GPR_MIX(1), v2 = GPR_MIX(2), v3 = GPR_MIX(3), v4 = GPR_MIX(4),
             v5 = GPR_MIX(5), v6 = GPR_MIX(6), v7 = GPR_MIX(7), v8 = GPR_MIX(8), v9 = GPR_MIX(9),
             v10 = GPR_MIX(10), v11 = GPR_MIX(11);
    void *back = hop__context_switch(&gpr_state.main, &gpr_state.other, NULL);
    const uint64_t got[GPR_LIVE] = {v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11};
    if ((uintptr_t)back != round)
        return why("round %lu: switch returned %p", (unsigned long)round, back);
    for (int i = 0; i < GPR_LIVE; i++)
        if (got[i] != GPR_MIX(i))
            return why("round %lu: local %d differs after the switch (kept %#llx, recomputed %#llx)",
                       (unsigned long)round, i, (unsigned long long)got[i], (unsigned long long)GPR_MIX(i));
    return NULL;
}

static const char *test_callee_saved_gprs_survive_switch(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    hop__context_make(&gpr_state.other, stack.low, stack.size, gpr_entry);
    const char *failure = gprs_live_across_switch(1);
    if (failure == NULL)
        failure = gprs_live_across_switch(2);
    test_stack_free(&stack);
    return failure;
}

/* The exact check: every callee-saved register, by name, with the frame
 * pointer and (aarch64) d8-d15 included. The other side overwrites all of
 * them between the two halves of each round trip. */
static struct { hop__context_t main, other; } exact_state;

static void exact_entry(void *value) {
    for (;;)
        value = hop__test_clobber_all_and_switch(&exact_state.other, &exact_state.main,
                                                 (void *)((uintptr_t)value + 1));
}

static const char *test_callee_saved_registers_exact(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    const char *failure = NULL;
    hop__context_make(&exact_state.other, stack.low, stack.size, exact_entry);

    for (uintptr_t round = 0; round < 3 && failure == NULL; round++) {
        uint64_t out[CALLEE_SAVED_COUNT];
        memset(out, 0, sizeof out);
        void *back =
            hop__test_switch_with_pattern(&exact_state.main, &exact_state.other, (void *)(round * 10), out);
        if ((uintptr_t)back != round * 10 + 1) {
            failure = why("round %lu: switch returned %p", (unsigned long)round, back);
            break;
        }
        for (int i = 0; i < CALLEE_SAVED_COUNT; i++)
            if (out[i] != expected_pattern[i]) {
                failure = why("round %lu: %s is %#llx after the switch, want %#llx", (unsigned long)round,
                              callee_saved_names[i], (unsigned long long)out[i],
                              (unsigned long long)expected_pattern[i]);
                break;
            }
    }
    test_stack_free(&stack);
    return failure;
}

/* ---- c. Callee-saved floating-point registers ---------------------------------- */

static struct { hop__context_t main, other; } fp_state;

static void fp_entry(void *value) {
    (void)value;
    clobber_fp_and_switch(&fp_state.other, &fp_state.main, (void *)1);
    hop__test_clobber_all_and_switch(&fp_state.other, &fp_state.main, (void *)2);
    park_forever(&fp_state.other, &fp_state.main, (void *)3);
}

/* Ten doubles, more than the eight aarch64 registers that survive a call, so
 * that all of d8-d15 hold live values there; on x86_64 they live in stack
 * spills, which must survive too. */
#define FP_LIVE 10
static volatile double fp_seed[FP_LIVE] = {1.5, -2.25, 3.125,     1e300,  -1e-300,
                                           0.1, 7.0,   1.0 / 3.0, 2.5e10, -0.0};
#define FP_MIX(i) (fp_seed[i] * 0.5)

__attribute__((noinline)) static const char *fps_live_across_switch(uintptr_t round) {
    double f0 = FP_MIX(0), f1 = FP_MIX(1), f2 = FP_MIX(2), f3 = FP_MIX(3), f4 = FP_MIX(4), f5 = FP_MIX(5),
           f6 = FP_MIX(6), f7 = FP_MIX(7), f8 = FP_MIX(8), f9 = FP_MIX(9);
    void *back = hop__context_switch(&fp_state.main, &fp_state.other, NULL);
    const double got[FP_LIVE] = {f0, f1, f2, f3, f4, f5, f6, f7, f8, f9};
    if ((uintptr_t)back != round)
        return why("round %lu: switch returned %p", (unsigned long)round, back);
    for (int i = 0; i < FP_LIVE; i++) {
        double want = FP_MIX(i);
        /* Compare bits: -0.0 == 0.0 would hide a lost sign. */
        if (memcmp(&got[i], &want, sizeof want) != 0)
            return why("round %lu: double %d differs after the switch (kept %a, recomputed %a)",
                       (unsigned long)round, i, got[i], want);
    }
    return NULL;
}

static const char *test_callee_saved_fp_registers_survive_switch(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    hop__context_make(&fp_state.other, stack.low, stack.size, fp_entry);
    const char *failure = fps_live_across_switch(1);
    if (failure == NULL)
        failure = fps_live_across_switch(2);
    test_stack_free(&stack);
    return failure;
}

/* ---- d. Floating-point control state ------------------------------------------ */

/* What the hardware does with the rounding mode, read three ways: fegetround
 * (libm's view), the raw control registers, and actual divisions, so that a
 * switch that restored one control register but not another is caught. On
 * x86_64 double arithmetic obeys MXCSR and long double obeys the x87 control
 * word; the switch must keep both. */
struct rounding_view {
    int fenv;         /* fegetround() */
    int raw;          /* MXCSR.RC (x86_64) or FPCR.RMode (aarch64) */
    int x87;          /* x87 control word RC (x86_64), else -1 */
    int double_mode;  /* the FE_* mode that double division showed */
    int ldouble_mode; /* the same for long double (x86_64: the x87 unit) */
};

/* -1 is a separate volatile: from -(1.0) the compiler would compute -1/10 as
 * -(1/10), which is the same division only in round-to-nearest. */
static volatile double fp_one = 1.0, fp_minus_one = -1.0, fp_ten = 10.0;
static volatile long double fp_lone = 1.0L, fp_lminus_one = -1.0L, fp_lten = 10.0L;

/* Which mode rounded pos = 1/10 and neg = -1/10. 1/10 is not representable
 * and its nearest neighbour lies above it (in double and in x87 extended),
 * so the four modes give four different pairs: only upward rounds the two
 * magnitudes differently one way, only downward the other way, and
 * toward-zero differs from nearest (the literal 0.1, rounded by the
 * compiler) in the last bit. */
static int division_mode(double pos, double neg) {
    if (pos != -neg)
        return pos > -neg ? FE_UPWARD : FE_DOWNWARD;
    return pos == 0.1 ? FE_TONEAREST : FE_TOWARDZERO;
}

static int ldivision_mode(long double pos, long double neg) {
    if (pos != -neg)
        return pos > -neg ? FE_UPWARD : FE_DOWNWARD;
    return pos == 0.1L ? FE_TONEAREST : FE_TOWARDZERO;
}

__attribute__((noinline)) static struct rounding_view read_rounding(void) {
    struct rounding_view v;
    v.fenv = fegetround();
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    v.raw = (int)((mxcsr >> 13) & 3);
    v.x87 = (int)((cw >> 10) & 3);
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    v.raw = (int)((fpcr >> 22) & 3);
    v.x87 = -1;
#endif
    /* Volatile operands and results: the divisions happen here, at run time,
     * in the current rounding mode, and the comparisons cannot be rewritten
     * (clang turns pos != -neg into pos != (-(-1))/10 otherwise). Both
     * rewrites are exact only in round-to-nearest, the only mode a compiler
     * assumes without -frounding-math. */
    volatile double pos = fp_one / fp_ten, neg = fp_minus_one / fp_ten;
    v.double_mode = division_mode(pos, neg);
    volatile long double lpos = fp_lone / fp_lten, lneg = fp_lminus_one / fp_lten;
    v.ldouble_mode = ldivision_mode(lpos, lneg);
    return v;
}

#if defined(__x86_64__)
#define RAW_TOWARDZERO 3 /* RC = 11b in both MXCSR and the x87 control word */
#define RAW_UPWARD 2     /* RC = 10b */
#define RAW_NAME "MXCSR"
#elif defined(__aarch64__)
#define RAW_TOWARDZERO 3 /* FPCR.RMode = RZ */
#define RAW_UPWARD 1     /* FPCR.RMode = RP */
#define RAW_NAME "FPCR"
#endif

/* Whether arithmetic obeys the rounding mode at all here, probed once
 * without any switch. Valgrind, for one, keeps MXCSR and the x87 control
 * word but computes in round-to-nearest whatever they say; there only the
 * control registers can be checked, which is what the switch saves. */
static int double_arithmetic_rounds = 1, ldouble_arithmetic_rounds = 1;

static void probe_rounding_arithmetic(void) {
    struct rounding_view tz, up;
    fesetround(FE_TOWARDZERO);
    tz = read_rounding();
    fesetround(FE_UPWARD);
    up = read_rounding();
    double_arithmetic_rounds = tz.double_mode == FE_TOWARDZERO && up.double_mode == FE_UPWARD;
    ldouble_arithmetic_rounds = tz.ldouble_mode == FE_TOWARDZERO && up.ldouble_mode == FE_UPWARD;
    if (!double_arithmetic_rounds)
        fprintf(stderr, "note: double arithmetic ignores the rounding mode here (valgrind?): not checked\n");
#if defined(__x86_64__)
    if (!ldouble_arithmetic_rounds)
        fprintf(stderr, "note: x87 arithmetic ignores the rounding mode here (valgrind?): not checked\n");
#endif
}

/* Returns NULL if v shows mode (FE_TOWARDZERO or FE_UPWARD) everywhere. */
static const char *check_rounding(const char *side, int round, struct rounding_view v, int mode) {
    int raw = mode == FE_TOWARDZERO ? RAW_TOWARDZERO : RAW_UPWARD;
    const char *name = mode == FE_TOWARDZERO ? "FE_TOWARDZERO" : "FE_UPWARD";
    if (v.fenv != mode)
        return why("%s, round %d: fegetround() is %#x, want %s", side, round, (unsigned)v.fenv, name);
    if (v.raw != raw)
        return why("%s, round %d: " RAW_NAME " rounding bits are %d, want %d (%s)", side, round, v.raw, raw,
                   name);
    if (double_arithmetic_rounds && v.double_mode != mode)
        return why("%s, round %d: double division rounds as mode %#x, want %s", side, round,
                   (unsigned)v.double_mode, name);
#if defined(__x86_64__)
    if (v.x87 != raw)
        return why("%s, round %d: x87 control word rounding bits are %d, want %d (%s)", side, round, v.x87,
                   raw, name);
    /* aarch64 long double is software (libgcc soft-fp), so only x86_64 has
     * a second hardware unit to check this way. */
    if (ldouble_arithmetic_rounds && v.ldouble_mode != mode)
        return why("%s, round %d: long double (x87) division rounds as mode %#x, want %s", side, round,
                   (unsigned)v.ldouble_mode, name);
#endif
    return NULL;
}

#define FENV_ROUNDS 4

static struct {
    hop__context_t main, other;
    const char *failure;
} fenv_state;

static void fenv_entry(void *value) {
    (void)value;
    /* A fresh context starts with the control state of the thread that made
     * it (context.h); main set FE_TOWARDZERO before hop__context_make. */
    fenv_state.failure = check_rounding("new context", 0, read_rounding(), FE_TOWARDZERO);
    fesetround(FE_UPWARD);
    for (int round = 1;; round++) {
        hop__context_switch(&fenv_state.other, &fenv_state.main, NULL);
        if (fenv_state.failure == NULL)
            fenv_state.failure = check_rounding("context after resume", round, read_rounding(), FE_UPWARD);
    }
}

static const char *test_fp_control_state_is_per_context(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    fenv_t saved;
    fegetenv(&saved);
    const char *failure = NULL;
    fenv_state.failure = NULL;

    probe_rounding_arithmetic();
    if (fesetround(FE_TOWARDZERO) != 0 || fegetround() != FE_TOWARDZERO) {
        failure = why("fesetround(FE_TOWARDZERO) failed");
        goto out;
    }
    hop__context_make(&fenv_state.other, stack.low, stack.size, fenv_entry);
    for (int round = 0; round < FENV_ROUNDS; round++) {
        hop__context_switch(&fenv_state.main, &fenv_state.other, NULL);
        if (fenv_state.failure != NULL) {
            failure = fenv_state.failure;
            break;
        }
        failure = check_rounding("main after switch back", round, read_rounding(), FE_TOWARDZERO);
        if (failure != NULL)
            break;
    }
out:
    /* Restore before any other test makes a context, which would inherit it. */
    fesetenv(&saved);
    test_stack_free(&stack);
    return failure;
}

#if !defined(HOP_CONTEXT_UCONTEXT)
/* The exception flags (MXCSR's status bits on x86_64, FPSR on aarch64) are
 * not part of a context in the assembly backends: they stay with the thread,
 * so what one side raised the other sees after the switch, whether the
 * switch had to write the control state (the two sides' rounding modes
 * differ) or not. (glibc's swapcontext restores them per context instead,
 * which the ABI equally allows: the ucontext backend is not tested here.)
 * The helpers are noinline: the context never returns, and a local whose
 * address the asm takes would leave ASan's poison on its stack. */
#if defined(__x86_64__)
#define STATUS_MASK 0x3fu /* IE DE ZE OE UE PE */
__attribute__((noinline)) static uint32_t status_flags(void) {
    uint32_t mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    return mxcsr & STATUS_MASK;
}
__attribute__((noinline)) static void set_status_flags(uint32_t flags) {
    uint32_t mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr = (mxcsr & ~STATUS_MASK) | flags;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
}
#elif defined(__aarch64__)
#define STATUS_MASK 0x9fu /* IOC DZC OFC UFC IXC IDC */
__attribute__((noinline)) static uint32_t status_flags(void) {
    uint64_t fpsr;
    __asm__ volatile("mrs %0, fpsr" : "=r"(fpsr));
    return (uint32_t)fpsr & STATUS_MASK;
}
__attribute__((noinline)) static void set_status_flags(uint32_t flags) {
    uint64_t fpsr;
    __asm__ volatile("mrs %0, fpsr" : "=r"(fpsr));
    fpsr = (fpsr & ~(uint64_t)STATUS_MASK) | flags;
    __asm__ volatile("msr fpsr, %0" : : "r"(fpsr));
}
#endif

#define FLAGS_ROUNDS 8

/* Round r: main raises main_flags(r) and switches in, the context records
 * what it sees, raises context_flags(r), picks its rounding mode (main's on
 * odd rounds, a different one on even rounds, so both paths of the switch
 * run in both directions) and switches back. */
static uint32_t main_flags(int round) { return (1u << (round % 5)) & STATUS_MASK; }
static uint32_t context_flags(int round) { return (1u << ((round + 2) % 5)) & STATUS_MASK; }

static struct {
    hop__context_t main, other;
    uint32_t seen[FLAGS_ROUNDS];
} flags_state;

static void flags_entry(void *value) {
    (void)value;
    for (int round = 0;; round++) {
        if (round < FLAGS_ROUNDS)
            flags_state.seen[round] = status_flags();
        set_status_flags(context_flags(round));
        fesetround(round % 2 == 0 ? FE_UPWARD : FE_TOWARDZERO);
        hop__context_switch(&flags_state.other, &flags_state.main, NULL);
    }
}

static const char *test_fp_status_flags_stay_with_the_thread(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    fenv_t saved;
    fegetenv(&saved);
    const char *failure = NULL;
    if (fesetround(FE_TOWARDZERO) != 0) {
        failure = why("fesetround(FE_TOWARDZERO) failed");
        goto out;
    }
    hop__context_make(&flags_state.other, stack.low, stack.size, flags_entry);
    for (int round = 0; round < FLAGS_ROUNDS && failure == NULL; round++) {
        set_status_flags(main_flags(round));
        hop__context_switch(&flags_state.main, &flags_state.other, NULL);
        uint32_t back = status_flags();
        int mode = fegetround();
        if (flags_state.seen[round] != main_flags(round))
            failure = why("round %d: the context saw flags %#x, main had raised %#x", round,
                          (unsigned)flags_state.seen[round], (unsigned)main_flags(round));
        else if (back != context_flags(round))
            failure = why("round %d: main sees flags %#x after the switch back, the context had left %#x",
                          round, (unsigned)back, (unsigned)context_flags(round));
        else if (mode != FE_TOWARDZERO)
            failure = why("round %d: main's rounding mode is %d after the switch back, want %d", round, mode,
                          FE_TOWARDZERO);
    }
out:
    fesetenv(&saved);
    test_stack_free(&stack);
    return failure;
}
#endif

/* ---- e. Deep recursion -------------------------------------------------------- */

#define RECURSION_STACK_SIZE (64 * 1024)
#define RECURSION_TARGET (40 * 1024) /* deep into the stack, with room for a frame or two */
#define RECURSION_FRAME_BYTES 256

struct recursion {
    uintptr_t top;                  /* highest address of the stack in use */
    size_t deepest;                 /* most bytes below top reached */
    unsigned max_depth;             /* depth of the innermost call */
    hop__context_t *self, *resumer; /* non-NULL: switch away at the innermost call */
};

/* Each level fills a buffer, recurses until RECURSION_TARGET bytes of stack
 * are in use (measured, so the depth adapts to the compiler's frame size),
 * then sums its buffer: a stack that was overwritten while deeper calls ran
 * gives a wrong sum. */
__attribute__((noinline)) static uint64_t recurse(unsigned depth, struct recursion *r) {
    volatile unsigned char buf[RECURSION_FRAME_BYTES];
    for (unsigned i = 0; i < RECURSION_FRAME_BYTES; i++)
        buf[i] = (unsigned char)(depth * 31u + i);
    size_t used = r->top - (uintptr_t)buf;
    if (used > r->deepest)
        r->deepest = used;
    uint64_t sum = 0;
    if (used < RECURSION_TARGET) {
        sum = recurse(depth + 1, r);
    } else {
        r->max_depth = depth;
        /* Leave the innermost frame suspended for a while, to check that
         * the whole deep stack is kept as it is while main runs. */
        if (r->self != NULL)
            hop__context_switch(r->self, r->resumer, (void *)(uintptr_t)depth);
    }
    for (unsigned i = 0; i < RECURSION_FRAME_BYTES; i++)
        sum += buf[i];
    return sum + depth;
}

static uint64_t recursion_expected(unsigned max_depth) {
    uint64_t sum = 0;
    for (unsigned depth = 0; depth <= max_depth; depth++) {
        for (unsigned i = 0; i < RECURSION_FRAME_BYTES; i++)
            sum += (unsigned char)(depth * 31u + i);
        sum += depth;
    }
    return sum;
}

static struct {
    hop__context_t main, other;
    struct recursion r;
    uint64_t result;
} recursion_state;

static void recursion_entry(void *value) {
    (void)value;
    recursion_state.result = recurse(0, &recursion_state.r);
    park_forever(&recursion_state.other, &recursion_state.main, (void *)(uintptr_t)UINTPTR_MAX);
}

static const char *test_deep_recursion_in_context(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, RECURSION_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    const char *failure = NULL;
    memset(&recursion_state, 0, sizeof recursion_state);
    recursion_state.r.top = (uintptr_t)stack.low + stack.size;
    recursion_state.r.self = &recursion_state.other;
    recursion_state.r.resumer = &recursion_state.main;
    hop__context_make(&recursion_state.other, stack.low, stack.size, recursion_entry);

    void *back = hop__context_switch(&recursion_state.main, &recursion_state.other, NULL);
    unsigned depth = (unsigned)(uintptr_t)back;
    if (depth != recursion_state.r.max_depth || depth < 16) {
        failure = why("innermost call reported depth %u (recorded %u)", depth, recursion_state.r.max_depth);
        goto out;
    }
    /* While the context sits at its deepest, recurse as deep on this stack,
     * which must not disturb it. */
    struct recursion mine = {.top = (uintptr_t)__builtin_frame_address(0)};
    uint64_t main_result = recurse(0, &mine);
    if (main_result != recursion_expected(mine.max_depth)) {
        failure = why("recursion on the main stack gave %llu", (unsigned long long)main_result);
        goto out;
    }
    back = hop__context_switch(&recursion_state.main, &recursion_state.other, NULL);
    if ((uintptr_t)back != UINTPTR_MAX) {
        failure = why("context did not finish its recursion (switch returned %p)", back);
        goto out;
    }
    uint64_t want = recursion_expected(depth);
    if (recursion_state.result != want) {
        failure = why("recursion to depth %u returned %llu, want %llu", depth,
                      (unsigned long long)recursion_state.result, (unsigned long long)want);
        goto out;
    }
    if (recursion_state.r.deepest < RECURSION_TARGET || recursion_state.r.deepest >= RECURSION_STACK_SIZE)
        failure = why("recursion used %zu bytes of the stack, want at least %d", recursion_state.r.deepest,
                      RECURSION_TARGET);
out:
    test_stack_free(&stack);
    return failure;
}

/* ---- f. Stack alignment ------------------------------------------------------- */

static struct {
    hop__context_t main, other;
    const char *failure;
} align_state;

/* Checks the stack where it is called from: the stack pointer at a call,
 * a 16-byte aligned local (the compiler places it relative to the stack
 * pointer assuming the ABI alignment; it realigns only for larger
 * alignments), and a varargs call with doubles, whose prologue on x86_64
 * saves xmm registers with movaps and faults on a misaligned stack. */
__attribute__((noinline)) static const char *check_alignment(const char *where) {
    uintptr_t sp = hop__test_caller_sp();
    if (sp % 16 != 0)
        return why("%s: stack pointer at a call is %#lx, not 16-byte aligned", where, (unsigned long)sp);
    _Alignas(16) unsigned char local[16];
    uintptr_t address = (uintptr_t)local;
    __asm__ volatile("" : "+r"(address)::"memory"); /* make the address real */
    if (address % 16 != 0)
        return why("%s: _Alignas(16) local at %#lx", where, (unsigned long)address);
    _Alignas(max_align_t) unsigned char widest[sizeof(max_align_t)];
    address = (uintptr_t)widest;
    __asm__ volatile("" : "+r"(address)::"memory");
    if (address % alignof(max_align_t) != 0)
        return why("%s: _Alignas(max_align_t) local at %#lx", where, (unsigned long)address);
    static volatile double quarter = 3.25, half = -0.5;
    char text[64];
    snprintf(text, sizeof text, "%f %f", quarter, half);
    if (strcmp(text, "3.250000 -0.500000") != 0)
        return why("%s: snprintf(\"%%f\") gave \"%s\"", where, text);
    return NULL;
}

/* The same checks one call further down, below a frame the compiler laid
 * out on the assumption that the entry's stack was aligned. */
__attribute__((noinline)) static const char *check_alignment_nested(const char *where) {
    volatile char odd[24]; /* a frame that is not a multiple of 16 by itself */
    odd[0] = 1;
    const char *failure = check_alignment(where);
    return failure != NULL || odd[0] == 1 ? failure : why("%s: a local was overwritten", where);
}

static void align_entry(void *value) {
    (void)value;
    const char *failure = check_alignment("entry");
    if (failure == NULL)
        failure = check_alignment_nested("function called from entry");
    align_state.failure = failure;
    hop__context_switch(&align_state.other, &align_state.main, NULL);
    if (align_state.failure == NULL)
        align_state.failure = check_alignment_nested("entry after resume");
    park_forever(&align_state.other, &align_state.main, NULL);
}

static const char *test_stack_alignment_in_context(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    const char *failure = NULL;
    /* Give make a stack whose top is only 8-byte aligned: aligning it is
     * hop__context_make's job, not the caller's. */
    for (size_t trim = 0; trim <= 24 && failure == NULL; trim += 8) {
        align_state.failure = NULL;
        hop__context_make(&align_state.other, stack.low, stack.size - trim, align_entry);
        hop__context_switch(&align_state.main, &align_state.other, NULL);
        if (align_state.failure == NULL)
            hop__context_switch(&align_state.main, &align_state.other, NULL);
        if (align_state.failure != NULL) {
            char inner[sizeof why_buffer]; /* the failure may live in why_buffer */
            snprintf(inner, sizeof inner, "%s", align_state.failure);
            failure = why("stack size - %zu: %s", trim, inner);
        } else {
            failure = check_alignment("main after switching back");
        }
    }
    test_stack_free(&stack);
    return failure;
}

/* ---- g. Ping-pong --------------------------------------------------------------- */

#define PING_PONG_SWITCHES 1000000

static struct {
    hop__context_t main, other;
    const char *failure;
    volatile uint64_t other_count; /* switches the other side has seen */
} ping_state;

static void ping_entry(void *value) {
    uintptr_t expected = 0;
    for (;;) {
        if ((uintptr_t)value != expected && ping_state.failure == NULL)
            ping_state.failure = why("context received %lu, want %lu", (unsigned long)(uintptr_t)value,
                                     (unsigned long)expected);
        ping_state.other_count++;
        expected = (uintptr_t)value + 2;
        value = hop__context_switch(&ping_state.other, &ping_state.main, (void *)((uintptr_t)value + 1));
    }
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *test_ping_pong(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    const char *failure = NULL;
    ping_state.failure = NULL;
    ping_state.other_count = 0;
    hop__context_make(&ping_state.other, stack.low, stack.size, ping_entry);

    /* Each round trip is two switches: main sends n, the context answers n+1
     * and expects n+2 next. */
    double start = now_seconds();
    uintptr_t counter = 0;
    for (uintptr_t trip = 0; trip < PING_PONG_SWITCHES / 2; trip++) {
        uintptr_t back = (uintptr_t)hop__context_switch(&ping_state.main, &ping_state.other, (void *)counter);
        if (back != counter + 1) {
            failure = why("round trip %lu: got %lu back, want %lu", (unsigned long)trip, (unsigned long)back,
                          (unsigned long)(counter + 1));
            break;
        }
        counter = back + 1;
    }
    double elapsed = now_seconds() - start;
    if (failure == NULL && ping_state.failure != NULL)
        failure = ping_state.failure;
    if (failure == NULL &&
        (counter != PING_PONG_SWITCHES || ping_state.other_count != PING_PONG_SWITCHES / 2))
        failure = why("counter %lu and context count %llu after %d switches", (unsigned long)counter,
                      (unsigned long long)ping_state.other_count, PING_PONG_SWITCHES);
    if (failure == NULL)
        fprintf(stderr, "note: ping_pong: %.1f ns per switch\n", elapsed * 1e9 / PING_PONG_SWITCHES);
    test_stack_free(&stack);
    return failure;
}

/* ---- h. Backtraces end at the context's first frame ------------------------- */

/* A debugger, a profiler or a crash reporter unwinding a task's stack must
 * stop at the task's first frame: past it lies the top of the stack, and a
 * made-up caller there (a zero return address, or entry as its own caller)
 * shows as a bogus frame in perf and makes unwinders loop or read past the
 * mapping. libgcc's unwinder stands in for them. */
#define BACKTRACE_MAX 32

static struct {
    hop__context_t main, other;
    int frames;
    uintptr_t ips[BACKTRACE_MAX];
    _Unwind_Reason_Code reason;
} backtrace_state;

static _Unwind_Reason_Code backtrace_step(struct _Unwind_Context *ctx, void *arg) {
    (void)arg;
    if (backtrace_state.frames == BACKTRACE_MAX)
        return _URC_NORMAL_STOP;
    backtrace_state.ips[backtrace_state.frames++] = (uintptr_t)_Unwind_GetIP(ctx);
    return _URC_NO_REASON;
}

__attribute__((noinline)) static void backtrace_entry(void *value) {
    backtrace_state.reason = _Unwind_Backtrace(backtrace_step, NULL);
    park_forever(&backtrace_state.other, &backtrace_state.main, value);
}

static const char *test_backtrace_ends_at_the_first_frame(void) {
    struct test_stack stack;
    if (test_stack_alloc(&stack, TEST_STACK_SIZE) != 0)
        return why("mmap: %s", strerror(errno));
    memset(&backtrace_state, 0, sizeof backtrace_state);
    hop__context_make(&backtrace_state.other, stack.low, stack.size, backtrace_entry);
    hop__context_switch(&backtrace_state.main, &backtrace_state.other, NULL);
    test_stack_free(&stack);
    /* Frames: backtrace_step's caller chain from backtrace_entry outwards:
     * backtrace_entry, then the backend's start frame (hop__context_start,
     * or glibc's __start_context under ucontext, which may add one). */
    if (backtrace_state.reason != _URC_END_OF_STACK)
        return why("the unwinder stopped with reason %d after %d frames, not at the end of the stack",
                   (int)backtrace_state.reason, backtrace_state.frames);
    /* libgcc reports the end as one last frame at address 0 (glibc's
     * backtrace() drops it the same way). */
    if (backtrace_state.frames > 0 && backtrace_state.ips[backtrace_state.frames - 1] == 0)
        backtrace_state.frames--;
    if (backtrace_state.frames < 2 || backtrace_state.frames > 5)
        return why("%d frames from the entry function to the end of the stack, want 2 to 5", backtrace_state.frames);
    for (int i = 0; i < backtrace_state.frames; i++)
        if (backtrace_state.ips[i] == 0 || backtrace_state.ips[i] == UINTPTR_MAX)
            return why("frame %d has the made-up address %#lx", i, (unsigned long)backtrace_state.ips[i]);
#if !defined(HOP_CONTEXT_UCONTEXT)
    uintptr_t start = (uintptr_t)hop__context_start, last = backtrace_state.ips[backtrace_state.frames - 1];
    if (last < start || last > start + 64)
        return why("the outermost frame is at %#lx, not in hop__context_start (%#lx)", (unsigned long)last,
                   (unsigned long)start);
#endif
    return NULL;
}

/* ---- Runner ------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *(*run)(void);
} tests[] = {
    /* Ordered so that the first failure names the cause: a switch that loses
     * a register or misaligns the stack crashes the C-level tests in ways
     * that do not point at it, while the first two check it from assembly
     * and report exactly what is wrong. */
    {"callee_saved_registers_exact", test_callee_saved_registers_exact},
    {"stack_alignment_in_context", test_stack_alignment_in_context},
    {"value_passing", test_value_passing},
    {"callee_saved_gprs_survive_switch", test_callee_saved_gprs_survive_switch},
    {"callee_saved_fp_registers_survive_switch", test_callee_saved_fp_registers_survive_switch},
    {"fp_control_state_is_per_context", test_fp_control_state_is_per_context},
#if !defined(HOP_CONTEXT_UCONTEXT)
    {"fp_status_flags_stay_with_the_thread", test_fp_status_flags_stay_with_the_thread},
#endif
    {"deep_recursion_in_context", test_deep_recursion_in_context},
    {"ping_pong_1000000_switches", test_ping_pong},
    {"backtrace_ends_at_the_first_frame", test_backtrace_ends_at_the_first_frame},
};

/* Per test: generous for qemu, where the ucontext backend's signal-mask
 * system call on every switch is emulated. */
#define TEST_TIMEOUT_SECONDS 120

int main(void) {
    /* Unbuffered, so that the lines before a crash are not lost with it. */
    setvbuf(stdout, NULL, _IONBF, 0);
    install_fatal_handlers();
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        current_test = tests[i].name;
        alarm(TEST_TIMEOUT_SECONDS);
        const char *failure = tests[i].run();
        alarm(0);
        if (failure == NULL) {
            tests_passed++;
            printf("PASS %s\n", tests[i].name);
        } else {
            tests_failed++;
            printf("FAIL %s: %s\n", tests[i].name, failure);
        }
    }
    printf("%d passed, %d failed\n", tests_passed, tests_failed);
    return tests_failed == 0 ? 0 : 1;
}
