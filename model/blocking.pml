/* model/blocking.pml: the blocking pool's claims (executors/blocking.c,
 * "Waiting" and "Growth"), checked for lost wake-ups: no interleaving ends
 * with a job queued and every thread asleep, and every job runs once.
 *
 * What is modelled, faithfully: the pool's lock (every step under it is one
 * atomic block), the queue as a count, idle and notified; the shared word
 * idle_word, read under the lock before the sleep; the futex: a wait sleeps
 * only if the word still holds the value read (checked atomically with
 * going to sleep), a wake of n wakes as many sleepers as there are up to n,
 * any of them (the kernel's order, oldest first, is one of the choices);
 * submit (push; leave the job to a claim on its way, or claim one idle
 * thread and wake one after unlocking); a thread's loop (pop while there
 * are jobs, else wait: take a claim if notified > 0, else sleep again);
 * the fan-out after a claim (claim an idle thread for every queued job no
 * thread is on its way to, wake them with one call after unlocking).
 *
 * The fan-out claims at most HOP__BLOCKING_FAN_OUT (2) threads when the
 * latest jobs were short; with three jobs, at most two are ever unserved,
 * so the model's fan-out covers both cases.
 *
 * Abstracted: thread creation and retirement (THREADS threads exist from
 * the start: min_threads = max_threads, so no sleep has a timeout; a
 * timeout would only hide a lost wake-up for keep_alive), closing, the
 * stats. A job's run is a step outside the lock.
 *
 * Mutants: NO_BUMP, a claim that leaves the word as it is (a thread on its
 * way to sleep then sleeps through the claim); READ_UNLOCKED, a thread that
 * reads the word after releasing the lock (a claim made in between is
 * missed the same way). */

#define THREADS 3
#define JOBS 3

byte queued = 0;
byte idle = 0;
byte notified = 0;
byte word = 0;
bool asleep[THREADS];
byte ran = 0;
byte submitted = 0;
bool locked = false;

inline lock() {
    atomic { !locked -> locked = true }
}

inline unlock() {
    locked = false
}

/* FUTEX_WAKE: wakes min(n, sleepers) of the sleepers, any of them. */
inline futex_wake(n) {
    atomic {
        k = n;
        do
        :: k > 0 && asleep[0] -> asleep[0] = false; k--
        :: k > 0 && asleep[1] -> asleep[1] = false; k--
        :: k > 0 && asleep[2] -> asleep[2] = false; k--
        :: k == 0 || (!asleep[0] && !asleep[1] && !asleep[2]) -> break
        od
    }
}

/* hop__blocking_claim: n idle threads, the word changed (lock held). */
inline claim(n) {
    idle = idle - n;
    notified = notified + n;
#ifndef NO_BUMP
    word++ /* 32 bits in C: no thread sleeps through 2^32 claims */
#endif
}

proctype Submitter(byte count) {
    byte k;
    bool wake;
    do
    :: count > 0 ->
        wake = false;
        lock();
        queued++;
        submitted++;
        if
        :: notified > 0 -> skip /* a claimed thread on its way counts it */
        :: notified == 0 && idle > 0 -> claim(1); wake = true
        :: notified == 0 && idle == 0 -> skip /* the busy threads pop it */
        fi;
        unlock();
        if
        :: wake -> futex_wake(1)
        :: else -> skip
        fi;
        count--
    :: count == 0 -> break
    od
}

proctype Thread(byte me) {
    byte seen, k, n;
    short unserved;
    lock();
    do
    :: queued > 0 ->
        queued--; /* hop__blocking_pop */
        unlock();
        ran++; /* the job */
        lock()
    :: queued == 0 ->
        /* hop__blocking_wait */
        idle++;
wait:
#ifndef READ_UNLOCKED
        seen = word;
        unlock();
#else
        unlock();
        seen = word;
#endif
        atomic {
            if
            :: word == seen -> asleep[me] = true
            :: else -> skip /* the word changed: returns at once */
            fi
        }
end_sleep:
        !asleep[me];
        lock();
        if
        :: notified > 0 -> notified-- /* a claim, this thread's or not */
        :: else -> goto wait
        fi;
        /* hop__blocking_fan_out */
        unserved = queued - notified - 1;
        if
        :: unserved > 0 && idle > 0 ->
            if
            :: idle < unserved -> n = idle
            :: else -> n = unserved
            fi;
            claim(n);
            unlock();
            futex_wake(n);
            lock()
        :: else -> skip
        fi
    od
}

init {
    atomic {
        run Thread(0);
        run Thread(1);
        run Thread(2);
        run Submitter(2);
        run Submitter(JOBS - 2)
    }
    /* timeout: nothing else can move. Every job was submitted and has run,
     * and the counts are back where they started. */
    timeout -> assert(submitted == JOBS && ran == JOBS && queued == 0 && notified == 0)
}
