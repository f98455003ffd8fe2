/* model/loop.pml: a loop's AWAKE/SLEEPING hand-off with the threads that
 * post to its inbox (executors/loop.c), checked for lost wake-ups: no
 * interleaving ends with the loop blocked in its poll and a job in the inbox.
 *
 * Line numbers are those of executors/loop.c at commit 31a2f11; the function
 * names are the stable reference.
 *
 * What is modelled, faithfully: the producers' push into the inbox's ring
 * (src/core/mpsc_queue.h) in its two steps, the claim of a position (a CAS
 * on tail) and the publish (an exchange on the slot, a full barrier), then
 * the read of wake, the CAS SLEEPING -> AWAKE and uv_async_send
 * (hop__loop_wake_if_sleeping); the loop's turn: the prepare callback's
 * drain, the store of SLEEPING, the fence, the re-check (peek: only ITEM
 * takes the announcement back, with an exchange), the poll that blocks
 * until an async send is pending (sends coalesce), the async callback's
 * drain and the check callback's store of AWAKE; and the timer clock's
 * rearm, which sets a flag, fences and wakes the loop the same way.
 *
 * The loop pops the ring in position order, so a published job behind a
 * claim not yet published stays invisible until that claim is published:
 * the producer that completes the prefix is then the one whose read of
 * wake must find the loop. Abstracted: the stack the ring overflows to
 * (its push is one CAS, a full barrier, followed by the same read of wake:
 * the single step the ring's publish is); the turn's batch budget and
 * the idle handle (a cut-short batch polls without blocking, which cannot
 * lose a job) and the spin before announcing (wake stays AWAKE, so it is
 * one more drain) are left out.
 *
 * Memory: sequentially consistent, except in the mutants. NO_FENCE: the
 * loop's store of SLEEPING waits in its store buffer (TSO) past the
 * re-check's reads (the full fence in hop__loop_prepare_cb taken away).
 * PUSH_BUFFERED: a producer's push waits in its store buffer past its read
 * of wake (a push that is not a full barrier, with no fence after it). */

#define PRODUCERS 2
#define AWAKE 0
#define SLEEPING 1

byte claimed = 0;  /* ring positions claimed (tail) */
bool published[PRODUCERS]; /* each position's slot, once published */
byte next = 0;     /* the loop's next position to pop */
byte wake = AWAKE; /* l->wake, in memory */
bool async = false; /* an uv_async_send not yet seen by the poll */
bool rearm = false; /* l->timer_rearm */
byte ran = 0;
bool armed = false; /* the loop's timer was rearmed after the clock asked */
#ifdef NO_FENCE
bool sb_sleeping = false; /* the loop's SLEEPING store, still in its store buffer */
#endif

/* hop__loop_wake_if_sleeping, after the push (a full barrier). */
inline wake_if_sleeping() {
    if
    :: wake == SLEEPING ->
        atomic {
            if
            :: wake == SLEEPING -> wake = AWAKE; async = true /* won the CAS: uv_async_send */
            :: else -> skip /* another producer won, or the loop woke */
            fi
        }
    :: else -> skip
    fi
}

/* hop__loop_submit from another thread. */
proctype producer() {
    byte pos;
    atomic { pos = claimed; claimed++ }; /* the claim: a CAS on tail */
#ifdef PUSH_BUFFERED
    /* The publish sits in the store buffer while wake is read. */
    wake_if_sleeping();
    published[pos] = true
#else
    published[pos] = true; /* the publish: an exchange, a full barrier */
    wake_if_sleeping()
#endif
}

/* The timer clock's rearm from another thread (hop__loop_timer_rearm):
 * the flag, a full fence, then the read of wake. */
proctype rearmer() {
    rearm = true;
    wake_if_sleeping()
}

#ifdef NO_FENCE
/* What the loop itself reads of wake: its own buffered store first. */
#define loop_wake (sb_sleeping -> SLEEPING : wake)
active proctype drain() {
end_drain:
    do
    :: atomic { sb_sleeping -> sb_sleeping = false; wake = SLEEPING }
    od
}
#else
#define loop_wake wake
#endif

active proctype loop() {
    bool item;
prepare:
    /* hop__loop_prepare_cb (loop.c:461-523): drain while ITEM
     * (hop__loop_drain, loop.c:337-368), then announce. */
    do
    :: atomic { next < PRODUCERS && published[next] -> next++; ran++ }
    :: else -> break
    od;
    /* loop.c:485 (hop__loop_timer_rearm_if_asked): a read, then the FAS. */
    atomic { if :: rearm -> rearm = false; armed = true :: else -> skip fi };
#ifdef NO_FENCE
    sb_sleeping = true;
#else
    wake = SLEEPING; /* loop.c:509, then the fence at loop.c:512 */
#endif
    /* The re-check (peek: ITEM when a job is there). */
    item = ((next < PRODUCERS && published[next]) || rearm);
    if
    :: item ->
        /* loop.c:518: take the announcement back (FAS; drains the buffer). */
#ifdef NO_FENCE
        atomic { sb_sleeping = false; wake = AWAKE };
#else
        wake = AWAKE;
#endif
        goto prepare
    :: else -> skip
    fi;
    /* The poll: blocks until an async send is pending (uv_async_send
     * coalesces: one flag). Blocked here is a valid end state. */
end_poll:
    atomic { async -> async = false };
    /* The async callback drains (loop.c's async_cb, hop__loop_drain). */
    do
    :: atomic { next < PRODUCERS && published[next] -> next++; ran++ }
    :: else -> break
    od;
    /* hop__loop_check_cb (loop.c:432-439): a read, then the store of AWAKE. */
#ifdef NO_FENCE
    atomic { if :: loop_wake == SLEEPING -> sb_sleeping = false; wake = AWAKE :: else -> skip fi };
#else
    if :: wake == SLEEPING -> wake = AWAKE :: else -> skip fi;
#endif
    goto prepare
}

init {
    atomic {
        run producer();
        run producer();
        run rearmer()
    }
}

/* No lost wake-up: once nothing can move, every job ran and the rearm was
 * seen. */
active proctype monitor() {
    timeout -> assert(ran == PRODUCERS && armed && !rearm)
}
