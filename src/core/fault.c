/* src/core/fault.c: fault injection (fault.h); empty unless the build has
 * HOP_FAULT_INJECTION. */
#include "fault.h"

#ifdef HOP_FAULT_INJECTION

/* The calling thread's arming. Thread-local, and reached only through these
 * out-of-line functions: a task that moves to another thread reads the new
 * thread's state, never a cached address of the old one's. */
typedef struct {
    unsigned int mask;
    unsigned long n;
    unsigned long calls;
    bool fired;
} hop__fault_state_t;

static _Thread_local hop__fault_state_t hop__fault_state;

__attribute__((noinline)) void hop__fault_arm(unsigned int mask, unsigned long n) {
    hop__fault_state_t *s = &hop__fault_state;
    s->mask = mask;
    s->n = n;
    s->calls = 0;
    s->fired = false;
}

__attribute__((noinline)) void hop__fault_disarm(void) { hop__fault_state.mask = 0; }

__attribute__((noinline)) unsigned long hop__fault_calls(void) { return hop__fault_state.calls; }

__attribute__((noinline)) bool hop__fault_fired(void) { return hop__fault_state.fired; }

__attribute__((noinline)) bool hop__fault(unsigned int kind) {
    hop__fault_state_t *s = &hop__fault_state;
    if (!(s->mask & kind))
        return false;
    ++s->calls;
    if (s->n == 0 || s->calls < s->n || (s->calls > s->n && !(s->mask & HOP__FAULT_FROM_NTH)))
        return false;
    s->fired = true;
    return true;
}

#else

/* ISO C wants at least one declaration in a translation unit. */
typedef int hop__fault_unused_t;

#endif /* HOP_FAULT_INJECTION */
