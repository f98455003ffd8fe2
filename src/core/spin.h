/* src/core/spin.h: when spinning stops paying: the machine has no spare CPU.
 *
 * The pool's idle workers and the loops spin a little before they block,
 * because a job that comes within the window is picked up without a
 * wake-up. That bet assumes a spare CPU: on an oversubscribed machine the
 * thread being waited for may be runnable on the very CPU that spins, and
 * every spin delays it. A spinner notices by its own clock: two looks that
 * should be a microsecond apart are a scheduler's time slice apart (it was
 * descheduled), or a sched_yield() returns only after others ran. It then
 * calls hop__spin_preempted(), and for the next HOP__SPIN_REST_NS no thread
 * of the process spins (hop__spin_allowed() is false): they block at once,
 * and a blocked thread that is woken gets the CPU sooner than a yielding
 * one. Process-wide, since oversubscription is the machine's state; one
 * shared word, written only when a preemption is seen. */
#ifndef HOP_SRC_CORE_SPIN_H
#define HOP_SRC_CORE_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/atomic.h"

/* A gap this long between two looks of a spinner (each look is well under a
 * microsecond of work) or inside one sched_yield() means it lost its CPU:
 * ten times the longest wake-up of a halted idle CPU measured on these VMs
 * (about 45 us), far below a time slice (milliseconds). */
#define HOP__SPIN_PREEMPTED_NS 500000u
/* How long nobody spins after that: a few time slices, so that a loaded
 * machine costs one lost spin per thread per rest at most. */
#define HOP__SPIN_REST_NS 20000000u

/* CLOCK_MONOTONIC, ns, until which nobody spins (0: never set). */
extern uint64_t hop__spin_rest_until_ns;

/* The gap that counts as a lost CPU: HOP__SPIN_PREEMPTED_NS. Tests that
 * check a spin's own rules for ending raise it, so that a pause of the
 * host's (a virtual CPU taken away, which the guest cannot tell from a
 * preemption) does not end the spin for them. */
extern uint64_t hop__spin_preempted_ns;

/* May a spin start at now_ns (CLOCK_MONOTONIC, ns)? */
static inline bool hop__spin_allowed(uint64_t now_ns) {
    return now_ns >= hop__atomic_load_u64(&hop__spin_rest_until_ns);
}

/* A spinner saw the gap [before_ns, now_ns]: if it is a lost CPU, nobody
 * spins for a while. Returns whether it was. */
static inline bool hop__spin_preempted(uint64_t before_ns, uint64_t now_ns) {
    if (now_ns - before_ns < hop__atomic_load_u64(&hop__spin_preempted_ns))
        return false;
    hop__atomic_store_u64(&hop__spin_rest_until_ns, now_ns + HOP__SPIN_REST_NS);
    return true;
}

#endif /* HOP_SRC_CORE_SPIN_H */
