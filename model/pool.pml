/* model/pool.pml: the pool's searching and parking protocol (executors/pool.c),
 * checked for lost wake-ups: no interleaving ends with every worker asleep
 * and a job still queued.
 *
 * Line numbers are those of executors/pool.c at commit 31a2f11; the
 * function names are the stable reference.
 *
 * What is modelled, faithfully: the word idle (searchers and unparked
 * workers), idle_lock and the sleepers list, each worker's sleep word
 * (AWAKE / PARKING / ASLEEP, its CAS and the wakers' FAS), notify's cheap
 * read and locked re-read, start/stop searching with the last searcher's
 * look, park with its announcement and its re-check (should_stay_up), and
 * the wake of a worker the re-check kept up that a waker unlisted first,
 * and DRAINING: notify's hold-back (only with a worker up and no sleeper
 * without a deadline), the parking worker's choice of a timed sleep, and a
 * timed sleeper's checks (get up, note the progress, or sleep for good).
 * One outside producer pushes JOBS jobs through the injection queue, each
 * push in its two steps (the exchange, visible to nonempty_hint, then the
 * link, which makes the job poppable); the first job run submits one more
 * from its worker through the LIFO slot (submit_local's FAS), which others
 * steal in a search's last round.
 *
 * Abstracted: the queues are counters (model/inject_queue.pml checks the
 * injection queue itself); deques are not modelled (a deque push is, for
 * this protocol, one more queue that work_visible reads after the same
 * barrier); the search's time window is a nondeterministic number of
 * passes; close and exit are left out; notify picks any listed sleeper (C
 * picks the most recent: a subset of these behaviours). The drain window is
 * a flag that a worker may set after any injected job it ran (C: after a
 * tiny one, its streak long enough) and that may lapse at any moment (C: by
 * the clock); whether a CPU is spare is a free choice at each hold-back.
 * A timed sleeper's deadline is abstracted away: it may check whenever the
 * check would change something, so that a state where nothing can move is
 * still a final one.
 *
 * Memory: sequentially consistent, except in the mutant NO_FENCE, where the
 * producer's push is a plain store that waits in its store buffer (TSO) and
 * may become visible after the producer reads idle: that is the full barrier
 * of the push's exchange (inject_queue.h:83) taken away. NO_RECHECK takes
 * the parking worker's re-check away instead (pool.c:517). NO_GETUP takes
 * the timed sleeper's getting up away, NO_DEEP_COUNT notify's rule that no
 * sleeper may be without a deadline (both for pool_blocking.pml). */

#define W 2        /* workers */
#ifndef JOBS
#define JOBS 1     /* outside submissions; spin -DJOBS=2 checks 7.2 million states */
#endif
#ifdef BLOCKING
/* The first job run never returns (a blocking call), and submits nothing:
 * the other worker must run every other job (model/pool_blocking.pml). */
#define TOTAL JOBS
#else
#define TOTAL (JOBS + 1) /* plus the one the first job submits locally */
#endif

#define AWAKE 0
#define PARKING 1
#define ASLEEP 2

/* The injection queue: pushes exchanged (what nonempty_hint sees: head is
 * not the stub) and, of those, linked (what a pop can take). */
byte xchg = 0;
byte linked = 0;
byte sb = 0;           /* NO_FENCE: pushes still in the producer's store buffer */
byte lifo[W];          /* each worker's LIFO slot: 0 or 1 job */
#ifdef BLOCKING
byte local_left = 0;
#else
byte local_left = 1;   /* the one local submission still to make */
#endif

/* idle (pool.c:129-132): searchers and unparked workers, one word. */
byte searching_n = 0;
byte unparked_n = W;

/* Under idle_lock (an atomic block: its sections never block). */
bool listed[W];
byte nsleepers = 0;

byte sleep[W];         /* the futex word, HOP__SLEEP_* */

/* DRAINING. */
bool draining = false; /* the drain window is open */
byte taken = 0;        /* injected jobs taken (hop__pool_progress) */
bool timed[W];         /* under idle_lock: asleep with a deadline */
byte deep = 0;         /* under idle_lock: listed sleepers without one */
byte looked[W];        /* under idle_lock: taken at the last look */
bool searching[W];     /* w->searching, the worker's own */
byte ran = 0;          /* jobs run */

/* Anything queued anywhere? (hop__pool_work_visible, pool.c:363-372) */
#define work_visible (xchg > 0 || lifo[0] > 0 || lifo[1] > 0)

/* hop__pool_notify (pool.c:320-338); pick and old are the caller's locals. */
inline notify() {
    /* The cheap read (pool.c:321-323). */
    if
    :: searching_n != 0 || unparked_n == W -> skip
    :: else ->
        /* DRAINING: the window is read before the lock. */
        may_hold = (unparked_n != 0 && draining);
        atomic {
            /* Under idle_lock (pool.c:324-336). */
            if
            :: searching_n != 0 || nsleepers == 0 -> pick = W
#ifdef NO_DEEP_COUNT
            :: may_hold && unparked_n != 0 -> pick = W /* held back */
#else
            :: may_hold && deep == 0 && unparked_n != 0 -> pick = W /* held back (no CPU spare) */
#endif
            :: else ->
                if
                :: listed[0] -> pick = 0
                :: listed[1] -> pick = 1
                fi;
                listed[pick] = false;
                nsleepers--;
                if :: !timed[pick] -> deep-- :: else -> skip fi;
                /* Counted as unparked and searching before it wakes (pool.c:335). */
                searching_n++;
                unparked_n++
            fi
        };
        if
        :: pick < W ->
            /* hop__pool_wake (pool.c:271-282): FAS to AWAKE; the futex
             * wake only if it replaced ASLEEP (the sleeper's wait below
             * ends when the word leaves ASLEEP either way). */
            atomic { old = sleep[pick]; sleep[pick] = AWAKE }
        :: else -> skip
        fi
    fi
}

proctype producer() {
    byte pick, old, n = 0;
    bool may_hold;
    do
    :: n < JOBS ->
#ifdef NO_FENCE
        /* The mutant: the push waits in the store buffer (drained by
         * drain() below at any later moment) while idle is read. */
        sb++;
#else
        /* hop__pool_submit_outside -> hop__pool_inject (pool.c:701-705):
         * the exchange (a full barrier), then the link. */
        xchg++;
        linked++;
#endif
        /* The exchange is the barrier before notify reads idle (pool.c:703-704). */
        notify();
        atomic { pick = 0; old = 0; n++ }
    :: else -> break
    od
}

#ifdef NO_FENCE
/* TSO's store buffer drains in order, at any moment. */
active proctype drain() {
end_drain:
    do
    :: atomic { sb > 0 -> sb--; xchg++; linked++ }
    od
}
#endif

proctype worker(byte w) {
    byte pick, old;
    bool got, contended, last, stay, was_listed, mine, may_hold, was_draining;
    sleep[w] = AWAKE;
loop:
    /* Locals reset each round, so that stale values do not multiply states. */
    atomic { pick = 0; old = 0; got = false; contended = false; last = false; stay = false; was_listed = false; mine = false; may_hold = false; was_draining = false };
    /* hop__pool_next_local (pool.c:561-580): the LIFO slot, then the
     * injection queue (a pop under the turn takes a linked job). */
    atomic { if :: lifo[w] > 0 -> lifo[w]--; got = true :: else -> skip fi };
    if
    :: !got -> atomic { if :: linked > 0 -> linked--; xchg--; taken++; got = true :: else -> skip fi }
    :: else -> skip
    fi;
    /* pool.c:613-614: search if searching, or if it may start
     * (hop__pool_start_searching, pool.c:376-384: a read, then the FAA). */
    if
    :: !got && !searching[w] ->
        if
        :: 2 * searching_n >= W -> skip
        :: else -> searching_n++; searching[w] = true
        fi
    :: else -> skip
    fi;
    if
    :: !got && searching[w] ->
        /* hop__pool_search (pool.c:454-476): passes until one finds a job,
         * or a last pass finds nothing and no contention. */
        do
        :: true ->
            contended = false;
            if :: last = true :: last = false fi;
            /* hop__pool_steal_pass (pool.c:414-447): the injection queue
             * (BUSY, a push exchanged and not linked, is contention), then
             * the other worker's LIFO slot in the last pass. */
            atomic {
                if
                :: linked > 0 -> linked--; xchg--; taken++; got = true
                :: else -> contended = (xchg > linked)
                fi
            };
            if
            :: !got && last -> atomic { if :: lifo[1 - w] > 0 -> lifo[1 - w]--; got = true :: else -> skip fi }
            :: else -> skip
            fi;
            if
            :: got -> break
            :: !got && last && !contended -> break
            :: else -> skip
            fi
        od
    :: else -> skip
    fi;
    if
    :: got ->
        /* pool.c:615-618. */
        if
        :: searching[w] ->
            /* hop__pool_stop_searching (pool.c:394-399): the FAA (a full
             * barrier), then the last searcher's look. */
            searching[w] = false;
            atomic { old = searching_n; searching_n-- };
            if
            :: old == 1 && work_visible -> notify()
            :: else -> skip
            fi
        :: else -> skip
        fi;
        /* hop__pool_run: the job. The first one submits another from this
         * worker (hop__pool_submit_local, pool.c:669-682): the FAS into the
         * LIFO slot is the full barrier before notify. */
        ran++;
#ifdef BLOCKING
        if
        :: ran == 1 ->
            if :: draining = true :: skip fi; /* by tiny jobs it ran before */
end_blocked:
            false /* the blocking job: its worker never comes back */
        :: else -> skip
        fi;
#endif
        if
        :: local_left > 0 -> local_left--; lifo[w] = 1; notify()
        :: else -> skip
        fi;
        /* hop__pool_timed_injected: a tiny job may open the window. */
        if :: draining = true :: skip fi;
        goto loop
    :: else -> skip
    fi;

    /* hop__pool_park (pool.c:503-543). */
    mine = searching[w];
    searching[w] = false;
    was_draining = draining; /* read before the lock, as in C */
    atomic {
        /* Under idle_lock: join the sleepers, PARKING, and the announcement
         * FAA (a full barrier) on idle (pool.c:507-516). */
        listed[w] = true;
        nsleepers++;
        timed[w] = was_draining;
        looked[w] = taken;
        if :: !was_draining -> deep++ :: else -> skip fi;
        sleep[w] = PARKING;
        unparked_n--;
        if :: mine -> searching_n-- :: else -> skip fi
    };
    /* The re-check, hop__pool_should_stay_up (pool.c:478-500). */
#ifdef NO_RECHECK
    stay = false;
#else
    if
    :: xchg > 0 -> stay = true               /* nonempty_hint (pool.c:493) */
    :: else ->
        if
        :: !work_visible -> stay = false    /* pool.c:495-496 */
        :: else -> stay = (searching_n == 0) /* pool.c:499 */
        fi
    fi;
#endif
    if
    :: stay ->
        atomic {
            /* Off the list, unless a waker was first; a searcher goes on as
             * one (hop__pool_park's stay-up path). NO_RESUME removes that:
             * it comes back as a plain worker, takes one job, and wakes
             * nobody for the rest. */
            was_listed = listed[w];
            if
            :: was_listed -> listed[w] = false; nsleepers--; unparked_n++;
                if :: !timed[w] -> deep-- :: else -> skip fi;
#ifndef NO_RESUME
                if :: mine -> searching_n++; searching[w] = true :: else -> skip fi
#endif
            :: else -> skip
            fi
        };
        if
        :: was_listed -> sleep[w] = AWAKE; goto loop /* pool.c:524-527 */
        :: else -> skip /* a waker took it: the wake-up is on its way */
        fi
    :: else -> skip
    fi;
    /* pool.c:532-533: the CAS PARKING -> ASLEEP, then the futex wait while
     * the word is ASLEEP. A worker blocked here is a valid end state. */
    atomic {
        if
        :: sleep[w] == PARKING -> sleep[w] = ASLEEP
        :: else -> skip
        fi
    };
end_asleep:
    do
    :: sleep[w] != ASLEEP -> break
#ifndef NO_GETUP
    /* hop__pool_get_up, under idle_lock: work queued and no progress
     * since the last look, or the window closed: up, as a searcher. (C
     * also gets up when no worker searched since the last look; the model
     * leaves that reason out, which only takes get-ups away: a job left
     * stranded in C would be stranded here too.) */
    :: atomic { timed[w] && listed[w] && sleep[w] == ASLEEP && work_visible && (taken == looked[w] || !draining) ->
           listed[w] = false; nsleepers--;
           searching_n++; unparked_n++;
           sleep[w] = AWAKE }
#endif
    /* Progress since the last look: note it, sleep on. */
    :: atomic { timed[w] && listed[w] && sleep[w] == ASLEEP && work_visible && taken != looked[w] && draining ->
           looked[w] = taken }
    /* Nothing queued and the window closed: sleep without a deadline. */
    :: atomic { timed[w] && listed[w] && sleep[w] == ASLEEP && !work_visible && !draining ->
           timed[w] = false; deep++ }
    od;
    atomic {
        /* pool.c:535-542: still listed means close woke it (not modelled
         * here, so never); otherwise notify (or its own check) counted it
         * as a searcher. */
        if
        :: listed[w] -> listed[w] = false; nsleepers--; unparked_n++;
            if :: !timed[w] -> deep-- :: else -> skip fi
        :: else -> searching[w] = true
        fi
    };
    goto loop
}

/* The clock: the drain window lapses at any moment. */
active proctype clock() {
end_clock:
    do
    :: atomic { draining -> draining = false }
    od
}

init {
    atomic {
        run producer();
        run worker(0);
        run worker(1)
    }
}

/* No lost wake-up: once nothing can move (the producer finished, every
 * worker asleep), every job has run. */
active proctype monitor() {
    timeout -> assert(ran == TOTAL)
}
/* The counts in idle stay within their meaning. */
active proctype bounds() {
end_bounds:
    do
    :: atomic { !(searching_n <= W && unparked_n <= W && searching_n <= unparked_n && nsleepers <= W && deep <= nsleepers) -> assert(false) }
    od
}
