/* hop__context_make / hop__context_switch on <ucontext.h>: the portable
 * fallback for targets without a hand-written switch. It is correct but
 * slow: swapcontext saves and restores the signal mask with a system call on
 * every switch. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <ucontext.h>

#include "context.h"
#include "tls.h"

/* ucontext has no way to pass a pointer through a switch, so the value goes
 * through this thread's slot. */
HOP__TLS_SLOT(hop__context_value_slot, void *)
static _Thread_local hop__context_entry_fn hop__context_entry; /* read only at a first switch, before any migration */

static void hop__context_start(void) {
    hop__context_entry_fn entry = hop__context_entry;
    entry(*hop__context_value_slot());
    fprintf(stderr, "hop: a context entry function returned\n");
    abort();
}

void hop__context_make(hop__context_t *ctx, void *stack_low, size_t size, hop__context_entry_fn entry) {
    getcontext(&ctx->uc);
    ctx->uc.uc_stack.ss_sp = stack_low;
    ctx->uc.uc_stack.ss_size = size;
    ctx->uc.uc_link = NULL;
    /* makecontext passes only int arguments, so entry rides in the context
     * and reaches hop__context_start through the switch's thread slot. */
    makecontext(&ctx->uc, hop__context_start, 0);
    ctx->entry = entry;
}

void *hop__context_switch(hop__context_t *from, hop__context_t *to, void *value) {
    *hop__context_value_slot() = value;
    hop__context_entry = to->entry;
    swapcontext(&from->uc, &to->uc);
    return *hop__context_value_slot();
}
