/* src/core/gate.c: the close gate's slow paths (see gate.h). */
#define _GNU_SOURCE
#include "core/gate.h"

#include <sched.h>
#include <time.h>

/* Pins are held for a few instructions, unless their thread is preempted:
 * yield first, then sleep a little longer each time, up to 1 ms. */
static void hop__gate_backoff(unsigned int *round) {
    if (*round < 64u) {
        sched_yield();
    } else {
        unsigned int shift = *round - 64u < 10u ? *round - 64u : 10u;
        struct timespec ts = {0, 1000L << shift};
        nanosleep(&ts, NULL);
    }
    (*round)++;
}

unsigned int hop__gate_update(unsigned int *gate, unsigned int set, unsigned int clear) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(gate);
        if (hop__atomic_cas_uint(gate, state, (state | set) & ~clear))
            return state;
    }
}

int hop__gate_close_begin(unsigned int *gate, unsigned int also, unsigned int busy_mask, unsigned int busy,
                          unsigned int *before) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(gate);
        if (state & HOP__GATE_CLOSING)
            return HOP_EALREADY;
        if (busy_mask && (state & busy_mask) == busy)
            return HOP_EBUSY;
        if (hop__atomic_cas_uint(gate, state, state | HOP__GATE_CLOSING | also)) {
            if (before)
                *before = state;
            return 0;
        }
    }
}

void hop__gate_wait_unpinned(unsigned int *gate) {
    unsigned int round = 0;
    while (hop__atomic_load_uint(gate) >= HOP__GATE_PIN)
        hop__gate_backoff(&round);
}

void hop__gate_seal(unsigned int *gate) {
    unsigned int round = 0;
    for (;;) {
        unsigned int state = hop__atomic_load_uint(gate);
        if (state < HOP__GATE_PIN && hop__atomic_cas_uint(gate, state, state | HOP__GATE_CLOSED))
            return;
        hop__gate_backoff(&round);
    }
}

int hop__gate_closed_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    (void)executor, (void)job, (void)flags;
    return HOP_ECLOSED;
}
