/* src/core/gate.h: the close gate of an executor whose public struct
 * outlives its internals (the pool, the loop).
 *
 * The gate is one word, the public struct's state: two flags, CLOSING and
 * CLOSED, two bits the executor uses for its own flags, and above them the
 * number of pins: threads that are touching the internals right now.
 *
 * A thread that is not one of the executor's own pins the gate before it
 * touches the internals (hop__gate_enter, one atomic add that also returns
 * the flags), and touches them only if CLOSED was not set; it unpins after
 * its last use (hop__gate_leave). Close sets CLOSING (new work is refused
 * from then on, continuations of the executor's tasks are still accepted),
 * waits for what it must wait for, then seals the gate: hop__gate_seal sets
 * CLOSED in the one CAS that sees no pin. A thread pinning after that sees
 * CLOSED and never touches the internals, so close may free them.
 *
 * The executor's own threads (a pool worker, the thread running a loop) need
 * no pin: close frees the internals only after they have stopped. They read
 * the flags with hop__gate_peek, a plain load, so their submit costs no
 * atomic read-modify-write. */
#ifndef HOP_SRC_CORE_GATE_H
#define HOP_SRC_CORE_GATE_H

#include "core/internal.h"

#define HOP__GATE_CLOSING 1u /* new work refused; continuations still accepted */
#define HOP__GATE_CLOSED 2u  /* the internals are gone (or going): everything refused */
#define HOP__GATE_OWN_0 4u   /* free for the executor's own flags */
#define HOP__GATE_OWN_1 8u
#define HOP__GATE_PIN 16u /* one pin; the pins count from here up */

/* Pins gate (a full barrier) and returns the state before: the caller may
 * touch the internals until hop__gate_leave unless it holds CLOSED. */
static inline unsigned int hop__gate_enter(unsigned int *gate) {
    return hop__atomic_faa_uint(gate, HOP__GATE_PIN);
}

/* Unpins gate. A full barrier: every use of the internals happens before it. */
static inline void hop__gate_leave(unsigned int *gate) { hop__atomic_faa_uint(gate, 0u - HOP__GATE_PIN); }

/* The state, for a thread that needs no pin (the executor's own). */
static inline unsigned int hop__gate_peek(const unsigned int *gate) {
    return hop__atomic_load_uint((unsigned int *)gate);
}

/* Whether a submit with flags (HOP_SUBMIT_*) is accepted in state: 0, or
 * HOP_ECLOSED. */
static inline int hop__gate_admit(unsigned int state, unsigned int flags) {
    if ((state & HOP__GATE_CLOSED) || ((state & HOP__GATE_CLOSING) && !(flags & HOP_SUBMIT_CONTINUATION)))
        return HOP_ECLOSED;
    return 0;
}

/* Sets and clears flags with a CAS loop (pins change under it); returns the
 * state before. */
unsigned int hop__gate_update(unsigned int *gate, unsigned int set, unsigned int clear);

/* Begins closing: sets CLOSING | also in one CAS. Refuses, changing
 * nothing, with HOP_EALREADY when CLOSING is set already (closed, or another
 * close is under way), and with HOP_EBUSY when busy_mask is not 0 and
 * (state & busy_mask) == busy. *before (if not NULL) receives the state the
 * CAS replaced. */
int hop__gate_close_begin(unsigned int *gate, unsigned int also, unsigned int busy_mask, unsigned int busy,
                          unsigned int *before);

/* Waits until no thread holds a pin (those that pinned before CLOSING may be
 * queueing accepted work). Later pins may come and go. */
void hop__gate_wait_unpinned(unsigned int *gate);

/* Waits until no thread holds a pin and sets CLOSED in the same CAS: from
 * then on nobody touches the internals. */
void hop__gate_seal(unsigned int *gate);

/* The submit of a closed executor's ops table: refuses everything. */
int hop__gate_closed_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags);

#endif /* HOP_SRC_CORE_GATE_H */
