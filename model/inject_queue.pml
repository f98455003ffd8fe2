/* model/inject_queue.pml: the pool's injection queue (src/core/inject_queue.h),
 * its pushes and its take, node by node. Checked: every job is popped
 * exactly once, in the order of the pushes' exchanges; a pop never returns
 * EMPTY while a push is complete; head is the stub exactly when nothing is
 * queued (what hop__inject_queue_nonempty_hint, which parking workers trust,
 * reads): never the stub while a pushed job waits; and at the end the queue
 * is empty with head and tail back on the stub.
 *
 * Line numbers are those of src/core/inject_queue.h at commit 31a2f11.
 *
 * Two producers: one pushes a chain of two jobs (push_chain_mpmc with
 * first != last), the other one job; two consumers take turns (try_turn's
 * CAS) and pop until every job is out. Nodes are indices: 0 is the stub,
 * NIL is NULL.
 *
 * Memory: sequentially consistent (the acquire/release fences publish a
 * job's fields, which the model does not have). The mutant EXCHANGE swings
 * head back to the stub with an exchange (a push of the stub, as Vyukov's
 * single-consumer queue does) instead of the CAS at
 * inject_queue.h:150: the header's comment says why that loses a job from
 * nonempty_hint's view. */

#define STUB 0
#define NIL 255
#define JOBS 3

byte head = STUB;
byte next[JOBS + 1];
byte tail = STUB;        /* under the turn */
bool consumer = false;   /* the turn */

byte seq[JOBS + 1];      /* the order of each job's exchange */
byte exchanged = 0;      /* jobs whose exchange is done */
byte popped = 0;
bool out[JOBS + 1];
byte expect = 0;         /* the next exchange order a pop must return */

/* hop__inject_queue_push_chain_mpmc (inject_queue.h:76-86): first..last,
 * already linked by the producer. */
inline push(first, last, count) {
    next[last] = NIL;                      /* :79 */
    atomic {                               /* :83, the exchange */
        prev = head;
        head = last;
        seq[first] = exchanged;
        if :: first != last -> seq[last] = exchanged + 1 :: else -> skip fi;
        exchanged = exchanged + count
    };
    next[prev] = first                     /* :86, the link */
}

proctype chain_producer() {
    byte prev;
    next[1] = 2;                           /* the chain, linked by its producer */
    push(1, 2, 2)
}

proctype producer() {
    byte prev;
    push(3, 3, 1)
}

/* A pop hands job j out. */
inline take(j) {
    assert(j != STUB && j != NIL && !out[j]);
    assert(seq[j] == expect);
    out[j] = true;
    expect++;
    popped++
}

proctype consumer_proc() {
    byte t, n, h, prev;
    do
    :: popped == JOBS -> break
    :: else ->
        /* hop__inject_queue_try_turn (inject_queue.h:101-104). */
        atomic { !consumer -> consumer = true };
        /* hop__inject_queue_pop_turn (inject_queue.h:123-156). */
        t = tail;
        n = next[t];
        if
        :: t == STUB && n == NIL ->
            /* :127: EMPTY (head on the stub) only when every job pushed so
             * far (exchanged) has been popped: the read is the moment. */
            atomic { h = head; assert(h != STUB || popped == exchanged) };
            goto done_turn
        :: t == STUB && n != NIL ->
            tail = n; t = n; n = next[t]   /* :129-131, skip the stub */
        :: else -> skip
        fi;
        if
        :: n != NIL ->
            atomic { tail = n; take(t) }   /* :133-137 */
            goto done_turn
        :: else -> skip
        fi;
        if
        :: head != t -> goto done_turn     /* :140-141, BUSY */
        :: else -> skip
        fi;
        next[STUB] = NIL;                  /* :149 */
#ifdef EXCHANGE
        /* The mutant: Vyukov's way, push the stub (exchange, link),
         * then take t only if its next is linked by now. */
        atomic { prev = head; head = STUB };
        next[prev] = STUB;
        n = next[t];
        if
        :: n != NIL -> atomic { tail = n; take(t) }
        :: else -> skip
        fi;
#else
        atomic {                           /* :150, the CAS */
            if
            /* :152-154 under the turn; the hand-out counted at the CAS, its
             * linearisation point (nobody else can reach t after it). */
            :: head == t -> head = STUB; tail = STUB; take(t)
            :: else -> skip                /* :151, BUSY */
            fi
        };
#endif
done_turn:
        /* hop__inject_queue_end_turn (inject_queue.h:107-111). */
        atomic { consumer = false; t = 0; n = 0; h = 0; prev = 0 }
    od
}

init {
    byte i;
    atomic {
        for (i : 0 .. JOBS) { next[i] = NIL };
        run chain_producer();
        run producer();
        run consumer_proc();
        run consumer_proc()
    }
}

/* head is the stub only when no pushed job waits (nonempty_hint is exact). */
active proctype hint_invariant() {
end_watch:
    do
    :: atomic { head == STUB && exchanged > popped -> assert(false) }
    od
}

/* At the end: everything out, head and tail on the stub. */
active proctype monitor() {
    timeout -> assert(popped == JOBS && head == STUB && tail == STUB && next[STUB] == NIL)
}
