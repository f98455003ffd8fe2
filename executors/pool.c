/* executors/pool.c: the work-stealing thread pool (hop/pool.h).
 *
 * Where jobs wait. Each worker has a Chase-Lev deque (src/core/deque.h) and
 * a one-job LIFO slot. A job submitted by a worker goes into that worker's
 * LIFO slot, pushing the slot's previous job into the deque: the newest job
 * runs next, on a warm cache (a task handing a message to another task, the
 * child of a fork). Everything else enters through the injection queue
 * (src/core/inject_queue.h), a lock-free FIFO: a submission from outside is
 * one exchange, wait-free, and never waits for a worker; a worker takes one
 * job at a time under a try-lock that only workers use (a worker that finds
 * it taken goes stealing instead of waiting) and runs it. A full deque moves
 * its older half to the injection queue in one exchange.
 *
 * ORDER. Outside jobs start in submission order: the injection queue is a
 * FIFO and its jobs are taken one at a time, each by a worker that runs it
 * next, never parked in a deque. (Earlier a worker moved up to 64 of them
 * into its deque, where it ran them newest first and where they waited
 * behind its current job, however long, while other workers ran later ones:
 * right for fork-join, wrong for blocking calls, whose tail latency it
 * about tripled.) So of jobs submitted from one thread, one submitted
 * earlier starts no later than one submitted after it, except that with N
 * workers a job may start while at most N - 1 earlier ones are taken but
 * not yet started (each worker holds at most one taken job). LIFO stays
 * where it pays: a worker's own submissions (its spawns, its tasks'
 * continuations) go to its LIFO slot and deque.
 *
 * In which order a worker takes jobs (hop__pool_next_local): its LIFO slot,
 * but at most HOP__POOL_LIFO_MAX times in a row, so that two tasks passing a
 * message back and forth cannot starve the deque; then its deque, newest
 * first; then the injection queue, which it also looks at every
 * HOP__POOL_INJECT_INTERVAL jobs however busy it is, so that outside
 * submissions are not starved by local work. A job that resubmits itself
 * while running (a task yielding) goes to the injection queue, as Go's
 * Gosched does: the deque and the LIFO slot would run it again at once. With
 * nothing local, the worker searches (hop__pool_search): it steals the
 * oldest job of random victims, with up to half of the rest of that
 * victim's deque into its own (hop__pool_steal_more), and at the end of its
 * search their LIFO slots too.
 *
 * RESTING. A stolen job's lines (a task's record and stack, a job's fields)
 * were written on the victim's CPU, and the thief pulls each of them over:
 * for a job that runs in a few hundred nanoseconds that costs more than the
 * job (hop-bench's spawn+join rows with two workers ran at a third of one
 * worker's rate while the second stole most jobs, bench/RESULTS.md, "A
 * thief that rests"). So a thief times the job it stole, and if it ran in
 * under HOP__POOL_TINY_STEAL_NS, it takes nothing from other workers for a
 * while: HOP__POOL_REST_MIN_NS after the first such steal, twice as long
 * after each next one in a row, up to HOP__POOL_REST_MAX_NS; a stolen job
 * that runs longer (a fork-join subtree) ends the streak. A resting worker
 * still takes from the injection queue and its own queues, and goes on
 * searching rather than parking (a parked one would cost the next spawn a
 * wake-up), past its search window if need be: on a spare CPU. One that
 * may not spin (spin_us HOP_SPIN_NEVER, no spare CPU, its CPU wanted
 * elsewhere) does not rest at all, since resting would keep it spinning.
 * So a worker stuck in a long job has its queued jobs taken within
 * HOP__POOL_REST_MAX_NS, or within the search window where nobody rests.
 * (Ending the rest with the search window instead cost spawn+join 10-15%.)
 *
 * Searching and parking, after Tokio's idle.rs and Go's proc.go. The hazard
 * is the lost wake-up: a worker that finds every queue empty and goes to
 * sleep races with a producer that pushes, sees nobody asleep yet and wakes
 * nobody, and the job then waits with every worker asleep. One word, idle,
 * counts searchers (low 16 bits) and unparked workers (high 16 bits). At
 * most half of the workers search at once. A submission wakes a parked
 * worker only if nobody is searching, and the woken worker counts as a
 * searcher from that moment; a searcher that finds work, was the last one,
 * and sees more work queued wakes the next, so a burst fans out while a
 * single job wakes one worker. Without lost wake-ups:
 *
 *   producer: push the job (the injection queue's exchange, or a deque
 *             push or LIFO FAS); full barrier (that exchange is one); read
 *             idle; wake if needed.
 *   worker:   announce (RMW on idle, join the sleepers); re-check every
 *             queue; sleep only if the injection queue is empty and the
 *             other queues are too, or a searcher is there to look.
 *
 * Either the producer sees the announcement and wakes someone, or the worker
 * sees the job (for the injection queue: its head no longer the stub, even
 * while the job is not linked yet). A producer that skipped the wake-up
 * because a searcher existed relies on this: the searcher that takes the
 * count of searchers to zero re-checks every queue after doing so (it is
 * itself a parking worker announcing, or a finder that wakes the next if
 * work is left), and a parking searcher whose re-check finds work goes on
 * as a searcher, so that it too wakes the next when it takes a job. Each
 * worker sleeps on its own futex word (HOP__SLEEP_*): the waker never takes
 * a lock the sleeper holds, as a condition variable's mutex would make it
 * (the fallback where there is no futex).
 *
 * SPINNING. A worker with nothing to do searches for spin_us, pausing
 * between rounds, before it parks. A searching worker picks a job up in
 * about 0.3 us; waking a parked one costs 1-2 us while its idle CPU still
 * polls, 35-45 us once it has halted (on a VM). Spinning pays when the next
 * job comes within the window and costs up to spin_us of CPU per idle
 * period: the default, 50 us, is about one wake-up, the competitive choice
 * (never worse than twice the better of spinning and parking). The price:
 * with no spare CPU, a spinning worker may share a CPU with a thread that
 * keeps computing, and a job then waits for the scheduler's next tick
 * (milliseconds at p99); such programs want spinning off. hop-bench's
 * roundtrip.hop_run_in_executor row shows the effect (a parked worker would
 * cost a wake-up per round trip); the measurements behind the default are
 * in bench/RESULTS.md, "Design measurements behind the pool's and the
 * loop's constants".
 *
 * DRAINING. A loop whose tasks hand the pool tiny jobs (hop_run_in_executor
 * of a call that returns at once) and resume when they come back is a
 * pipeline in which the loop is often the slower side: one worker keeps up
 * with it, and waking a second one for the jobs the loop queues meanwhile
 * puts three threads on the CPUs where two would do. With no CPU to spare,
 * the loop then shares one, and the whole pipeline runs at about half speed,
 * or not, depending on where the scheduler puts the threads
 * (bench/RESULTS.md, "Offload with two pool threads"). So a worker times the
 * injected jobs it runs straight one after another, in groups of
 * HOP__POOL_DRAIN_GROUP (one clock read a group: a read a job was a
 * measurable share of such a job), and a group that averaged under
 * HOP__POOL_DRAIN_TINY_NS a job opens a drain window of
 * HOP__POOL_DRAIN_WINDOW_NS, or keeps it open. In that window, a wake-up for
 * a loop's chain (and a searcher's hand-over while the latest outside
 * submission was one) is held back when a worker is up and no CPU is spare
 * for another one (the workers up and the submitter are as many as the
 * CPUs), and a worker that finds nothing to do beside more threads than CPUs
 * parks without spinning. Plain submissions never hold a wake-up back: their
 * submitter may stop and leave a CPU idle, with the jobs queued for one
 * worker. The hazard is a job stranded behind a drainer that has just begun
 * a long job (a blocking call), with the other workers asleep and nobody
 * submitting. Two rules bound it. A worker that parks in a drain window
 * sleeps with a deadline, HOP__POOL_DRAIN_CHECK_NS at first; when that runs
 * out and work is queued with no injected job taken since its previous
 * look, or none caught up with the queue while the drainer's jobs are slow
 * enough to leave a CPU spare (a burst that one worker cannot keep up with,
 * whose submitter may have gone idle), or the window closed, it gets up as
 * a searcher and takes it; with nothing queued and the window closed it
 * sleeps without a deadline from then on. And a wake-up is held back only
 * while every parked worker sleeps with a deadline (deep_sleepers == 0): the
 * decision, the parking worker's choice of sleep and the change from one
 * sleep to the other are all made under idle_lock, so no job is left on a
 * hold-back that only a worker sleeping without a deadline could take. A
 * queued job therefore waits at most about HOP__POOL_DRAIN_CHECK_MAX_NS +
 * HOP__POOL_DRAIN_CHECK_NS beyond the moment its drainer stops taking jobs
 * (see below), and a pool that goes idle has every worker asleep without a
 * deadline within a window and a check period of its last job
 * (model/pool.pml checks the protocol).
 *
 * Two refinements keep the sleepers out of the way of a loop and its
 * drainer. "Nobody caught up" is also what they look like when they keep
 * each other busy, the loop resubmitting as fast as the worker answers: a
 * second worker up then only takes a CPU from them (1,024 loop tasks
 * offloading empty jobs ran 2.1-2.4 M jobs/s with two workers against
 * 3.0-3.5 M with one; bench/RESULTS.md). So a sleeper gets up for that
 * reason only if a drainer's latest group of jobs took
 * HOP__POOL_DRAIN_HELP_NS a job or longer: jobs for which the loop's part
 * of the pipeline is small. (The process's CPU time cannot tell the two
 * apart: a loop whose answers come every few microseconds spins between
 * them, and looks as busy as one that works.) And a check is a wake-up,
 * which on a machine without a spare CPU takes the CPU of the loop or of
 * the drainer: so while the drainer's jobs are fast and it keeps its pace
 * from one check to the next, the period doubles, up to
 * HOP__POOL_DRAIN_CHECK_MAX_NS, and it is HOP__POOL_DRAIN_CHECK_NS again as
 * soon as the pace halves. A drainer that stops taking jobs early in a long
 * period is seen at the next check and got up for at the short one after
 * it; one that stops at its very end, a long period later. Beside slow
 * drainers the period stays short: the next check may be the one to get up
 * for a burst, and over a long period the drainer is likelier to catch up
 * once (when load takes the loop's CPU for a while), which hides the burst.
 *
 * Closing, in an order that loses no job in flight and leaves no task
 * behind: see hop_pool_close(). Every field shared between threads is
 * touched only through src/core/atomic.h, or under a lock. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/deque.h"
#include "core/fault.h"
#include "core/fork.h"
#include "core/futex.h"
#include "core/gate.h"
#include "core/inject_queue.h"
#include "core/internal.h"
#include "core/observe.h"
#include "core/signals.h"
#include "core/spin.h"

#define HOP__POOL_MAX_THREADS 1024u
#define HOP__POOL_NAME_MAX 10
/* LIFO-slot jobs a worker runs in a row before its deque gets a turn. */
#define HOP__POOL_LIFO_MAX 3u
/* Local jobs between two looks at the injection queue; prime, as Go's. */
#define HOP__POOL_INJECT_INTERVAL 61u
/* Default search window before parking, in microseconds: measured, see
 * SPINNING in the comment at the top. */
#define HOP__POOL_SPIN_US_DEFAULT 50
/* pause instructions between two search rounds (a round costs about as
 * much again): the searcher notices a submission within a microsecond. */
#define HOP__POOL_SPIN_PAUSES 4
/* At most this many jobs a thief takes beyond the one it runs at once
 * (half of what it saw, up to this): 8, 16, 32 and 64 measured alike in
 * hop-bench's spawn+join rows, 8 a little ahead (bench/RESULTS.md). */
#define HOP__POOL_STEAL_BATCH 8u
/* RESTING (see the top): a stolen job that ran shorter than this was not
 * worth its lines' transfer; the rest after the first of them in a row, and
 * the longest. */
#define HOP__POOL_TINY_STEAL_NS 2000
#define HOP__POOL_REST_MIN_NS 5000
#define HOP__POOL_REST_MAX_NS 200000
/* DRAINING (see the top): an injected job that ran shorter than this on
 * average was cheaper than waking a worker for it (1-45 us); jobs timed
 * together; how long a worker parked in a drain sleeps at a time, at first
 * and at most (Go's sysmon backs off to 10 ms the same way); how long a
 * tiny group keeps the drain on. */
#define HOP__POOL_DRAIN_TINY_NS 2000
#define HOP__POOL_DRAIN_GROUP 8u
#define HOP__POOL_DRAIN_CHECK_NS 1000000
#define HOP__POOL_DRAIN_CHECK_MAX_NS 8000000
/* DRAINING: a drainer's jobs that take this long or longer (with the
 * pool's own work around each) leave their loop idle most of the time:
 * resuming the task and queueing its next job costs the loop a few hundred
 * ns. Below it, a loop and one worker keep each other busy. */
#define HOP__POOL_DRAIN_HELP_NS 1000
#define HOP__POOL_DRAIN_WINDOW_NS 1000000

/* hop_pool_t.state is the pool's close gate (core/gate.h): threads that
 * are not workers pin it inside submit, task_enter, task_leave and
 * hop_pool_stats, since they touch pool->internal; workers need no pin. */

/* hop__pool_internal_t.idle */
#define HOP__IDLE_SEARCHING_ONE 1u
#define HOP__IDLE_UNPARKED_ONE (1u << 16)
#define HOP__IDLE_SEARCHING(s) ((s)&0xffffu)
#define HOP__IDLE_UNPARKED(s) ((s) >> 16)

/* hop__pool_worker_t.sleep: a futex word with a uv_async_send-like
 * protocol, so that a wake-up makes a system call only when the worker is
 * really asleep:
 *   AWAKE -> PARKING   the worker, announcing itself (under idle_lock);
 *   PARKING -> ASLEEP  the worker, by CAS, once its re-check found nothing;
 *                      then it waits in the kernel while the word is ASLEEP;
 *   any -> AWAKE       a waker, by FAS; only if it replaced ASLEEP does it
 *                      call FUTEX_WAKE. A worker still PARKING sees AWAKE,
 *                      its CAS fails, and it does not sleep at all. */
#define HOP__SLEEP_AWAKE 0u
#define HOP__SLEEP_PARKING 1u
#define HOP__SLEEP_ASLEEP 2u

#define HOP__POOL_NOT_SLEEPING UINT32_MAX

typedef struct hop__pool_internal_s hop__pool_internal_t;

typedef struct hop__pool_worker_s {
    hop__deque_t deque;

    /* Written by other threads too: stealers and wakers. */
    _Alignas(HOP__CACHELINE) hop_job_t *lifo; /* FAS in and out, by owner and thieves */
    unsigned int sleep;                        /* HOP__SLEEP_* */

    /* Written by the owner only (atomic stores), read by hop_pool_stats and
     * hop_pool_close. */
    _Alignas(HOP__CACHELINE) uint64_t tasks; /* task_enter minus task_leave on this thread, mod 2^64 */
    uint64_t jobs_run;
    uint64_t steals;
    uint64_t parks;
    uint64_t wakeups;
    uint64_t injected;  /* jobs this worker took from the injection queue */
    uint64_t rests;     /* RESTING periods begun */
    uint64_t searches;  /* DRAINING: times this worker found nothing of its own and searched */
    unsigned int acked; /* 1 once this worker has seen closing */

    /* The owner's own. */
    hop__pool_internal_t *pool;
    /* pool->pool, copied here: hop__pool_worker_of (every submit, task_enter
     * and task_leave) and hop__pool_run read it once per job, and through
     * pool it would be one more dependent load, from a line the worker does
     * not otherwise touch between jobs: a stall that forkjoin.hop_task_per_call
     * shows (bench/RESULTS.md). Set at init, never changed. */
    hop_pool_t *pool_public;
    hop_job_t *running; /* the job being run: compared, never dereferenced */
    unsigned int index;
    unsigned int rng;
    unsigned int tick;
    unsigned int lifo_streak;
    unsigned int tiny_steals; /* RESTING: stolen jobs in a row that ran shorter than their transfer */
    int64_t rest_until;       /* RESTING: no stealing before (hop__pool_now_ns) */
    bool ran_stolen;          /* the job about to run was stolen */
    bool ran_injected;        /* the job about to run came from the injection queue */
    /* DRAINING: when (hop__pool_now_ns) the group of injected jobs being
     * timed began, or 0 (a search's last look can start one: that spares a
     * clock read on the way to a job someone waits for); and how many of
     * them ran. A group ends when w does anything but go straight on to
     * the next injected job. */
    int64_t group_since;
    unsigned int group_jobs;
    /* DRAINING, guarded by idle_lock: parked with a deadline, and the
     * pool's progress (injected jobs taken) and searches at its last look. */
    bool timed_sleep;
    uint64_t looked_progress, looked_searches;
    /* DRAINING, w's own while it sleeps with a deadline: its period; the
     * time of its last look (hop__pool_now_ns); the injected jobs taken in
     * the period before it (0: not known) and how long that was, for the
     * pace. */
    int64_t check_ns, looked_at;
    uint64_t paced_jobs;
    int64_t paced_ns;
    /* DRAINING: w's latest timed group took HOP__POOL_DRAIN_HELP_NS a job
     * or longer; written by w when it changes, read by sleepers at their
     * checks. */
    unsigned int group_slow;
    bool searching;
    bool saw_closing;
    uint32_t sleeper_slot; /* place in pool->sleepers, or NOT_SLEEPING; guarded by idle_lock */
    pthread_t thread;
    char name[16];
} hop__pool_worker_t;

struct hop__pool_internal_s {
    hop_pool_t *pool;
    hop__fork_entry_t fork_entry; /* tracked from init until close (fork.h) */
    hop__pool_worker_t *workers;
    uint32_t *sleepers; /* indices of parked workers, a stack; guarded by idle_lock */
    unsigned int nworkers;
    unsigned int ncpus; /* CPUs this process may run on, at init */
    int64_t spin_ns;
    hop_thread_hook_fn on_thread_start, on_thread_stop;
    void *hook_arg;

    /* Read by every worker between jobs; written once each. */
    _Alignas(HOP__CACHELINE) unsigned int closing; /* workers refuse new work from now on */
    unsigned int exiting;                          /* nothing is left to wait for: leave when idle */

    hop__inject_queue_t inject; /* aligned: its head and its consumers' side on lines of their own */

    _Alignas(HOP__CACHELINE) unsigned int idle; /* HOP__IDLE_* */

    _Alignas(HOP__CACHELINE) hop__spinlock_t idle_lock;
    unsigned int nsleepers;     /* guarded by idle_lock */
    unsigned int deep_sleepers; /* of those, parked without a deadline (DRAINING); guarded by idle_lock */
    uint64_t held;              /* wake-ups held back; written under idle_lock, read by hop_pool_stats */
    /* DRAINING: until when (hop__pool_now_ns) the pool counts as drained:
     * set HOP__POOL_DRAIN_WINDOW_NS ahead, at most every half window, by a
     * drainer after a tiny injected job. */
    _Alignas(HOP__CACHELINE) uint64_t drain_until;
    unsigned int from_loops; /* hop__pool_note_source */

    /* task_enter minus task_leave by threads that are not workers, mod 2^64. */
    _Alignas(HOP__CACHELINE) uint64_t outside_tasks;
};

static int hop__pool_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags);
static void hop__pool_task_enter(hop_executor_t *executor);
static void hop__pool_task_leave(hop_executor_t *executor);
static int hop__pool_withdraw(hop_executor_t *executor, hop_job_t *job);

static const hop_executor_ops_t hop__pool_ops = {.name = "pool",
                                                 .submit = hop__pool_submit,
                                                 .task_enter = hop__pool_task_enter,
                                                 .task_leave = hop__pool_task_leave,
                                                 .withdraw = hop__pool_withdraw};

/* What a closed pool's executor points at: it refuses everything. */
static const hop_executor_ops_t hop__pool_closed_ops = {.name = "pool (closed)", .submit = hop__gate_closed_submit};

/* What a pool inherited by a child process of fork() points at: it refuses
 * everything, and its close only frees its memory (its threads do not exist
 * in the child). */
static const hop_executor_ops_t hop__pool_forked_ops = {.name = "pool (forked)", .submit = hop__gate_closed_submit};

/* HOP__POOL_DRAIN_WINDOW_NS and HOP__POOL_DRAIN_TINY_NS, as variables:
 * tests widen both, so that a drain they set up neither ends while their
 * thread has lost its CPU nor fails to begin where everything runs slower
 * (sanitizers, a loaded machine). */
uint64_t hop__pool_drain_window_ns = HOP__POOL_DRAIN_WINDOW_NS;
uint64_t hop__pool_drain_tiny_ns = HOP__POOL_DRAIN_TINY_NS;
/* HOP__POOL_DRAIN_HELP_NS, as a variable for the same reason: tests that
 * need jobs of many microseconds to count as fast raise it. And, for tests
 * only (written at checks, never on a job's path): the checks that found
 * nobody caught up with the queue while it was being drained, and those of
 * them that got up for it. */
uint64_t hop__pool_drain_help_ns = HOP__POOL_DRAIN_HELP_NS;
uint64_t hop__pool_burst_checks, hop__pool_burst_getups;

/* The worker this thread is, if any: submit and the task hooks run on task
 * stacks too. */
HOP__TLS_SLOT(hop__pool_self_slot, hop__pool_worker_t *)

/* This thread's worker if it is one of pool's, else NULL. */
static hop__pool_worker_t *hop__pool_worker_of(const hop_pool_t *pool) {
    hop__pool_worker_t *w = *hop__pool_self_slot();
    return w && w->pool_public == pool ? w : NULL;
}

static int64_t hop__pool_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Owner-only counters: a load and a store, no locked instruction. */
static inline void hop__pool_count(uint64_t *counter, uint64_t delta) {
    hop__atomic_store_u64(counter, hop__atomic_load_u64(counter) + delta);
}

/* ---- Sleeping and waking one worker ------------------------------------ */

static bool hop__pool_get_up(hop__pool_worker_t *w, int64_t now);

/* Sleeps until a waker has moved w->sleep from ASLEEP to AWAKE, or until w
 * gets up by itself at one of its checks (a timed sleep, DRAINING). */
static void hop__pool_sleep(hop__pool_worker_t *w) {
    int64_t deadline = w->timed_sleep ? w->looked_at + w->check_ns : 0;
    while (hop__atomic_load_uint(&w->sleep) == HOP__SLEEP_ASLEEP) {
        /* Only w writes timed_sleep (under idle_lock), so its own read needs
         * no lock. */
        if (!w->timed_sleep) {
            hop__futex_wait(&w->sleep, HOP__SLEEP_ASLEEP, 0);
            continue;
        }
        int64_t now = hop__pool_now_ns();
        if (now < deadline) {
            hop__futex_wait(&w->sleep, HOP__SLEEP_ASLEEP, (uint64_t)deadline);
            continue;
        }
        if (hop__pool_get_up(w, now))
            return;
        deadline = now + w->check_ns;
    }
}

/* Any thread. */
static void hop__pool_wake(hop__pool_worker_t *w) {
    if (hop__atomic_fas_uint(&w->sleep, HOP__SLEEP_AWAKE) != HOP__SLEEP_ASLEEP)
        return; /* awake, or still re-checking: it will see AWAKE */
    HOP__OBSERVE(hop__observe_wakeup(&w->pool_public->executor));
    hop__futex_wake(&w->sleep);
}

/* ---- The injection queue ------------------------------------------------ */

/* Appends first..last (jobs linked by next). Any thread; wait-free.
 * Returns whether jobs were queued ahead of them. */
static bool hop__pool_inject(hop__pool_internal_t *p, hop_job_t *first, hop_job_t *last) {
    return hop__inject_queue_push_chain_mpmc(&p->inject, first, last);
}

/* Takes the oldest job of the injection queue, for w to run next: one at
 * a time, so that outside jobs start in their order (ORDER above). A worker
 * that finds the consumers' turn taken does not wait (*contended: work is
 * there, look again). Owner only. */
static hop_job_t *hop__pool_inject_pop(hop__pool_worker_t *w, bool *contended) {
    hop__pool_internal_t *p = w->pool;
    if (!hop__inject_queue_nonempty_hint(&p->inject))
        return NULL;
    if (!hop__inject_queue_try_turn(&p->inject)) {
        *contended = true;
        return NULL;
    }
    hop_job_t *job;
    hop__inject_result_t got = hop__inject_queue_pop_turn(&p->inject, &job);
    hop__inject_queue_end_turn(&p->inject);
    if (got == HOP__INJECT_BUSY)
        *contended = true; /* a push is half done: its job is coming */
    if (got != HOP__INJECT_ITEM)
        return NULL;
    hop__pool_count(&w->injected, 1);
    w->ran_injected = true;
    return job;
}

/* ---- Searching and parking ------------------------------------------------ */

/* DRAINING: within the drain window at now (hop__pool_now_ns, or 0: read
 * the clock if it matters)? Any thread. */
static bool hop__pool_draining(hop__pool_internal_t *p, int64_t now) {
    uint64_t until = hop__atomic_load_u64(&p->drain_until);
    return until != 0 && (uint64_t)(now ? now : hop__pool_now_ns()) < until;
}

/* DRAINING: a drain of a loop's jobs is on at now, and the workers up plus
 * the loop are more threads than CPUs. Any thread. */
static bool hop__pool_crowded(hop__pool_internal_t *p, int64_t now) {
    return HOP__IDLE_UNPARKED(hop__atomic_load_uint(&p->idle)) + 1 > p->ncpus &&
           hop__atomic_load_uint(&p->from_loops) != 0 && hop__pool_draining(p, now);
}

/* DRAINING: injected jobs taken so far, over all workers, and the times a
 * worker caught up (found nothing of its own and searched). Any thread. */
static uint64_t hop__pool_progress(hop__pool_internal_t *p, uint64_t *searches) {
    uint64_t sum = 0, caught_up = 0;
    for (unsigned int i = 0; i < p->nworkers; i++) {
        sum += hop__atomic_load_u64(&p->workers[i].injected);
        caught_up += hop__atomic_load_u64(&p->workers[i].searches);
    }
    *searches = caught_up;
    return sum;
}

/* DRAINING: whether notify holds its wake-up back, the pool being drained
 * (the caller looked): only while a worker is up to take the job (idle is
 * s), no CPU is spare for another one, and every sleeper checks back by
 * itself. Under idle_lock. */
static bool hop__pool_hold_wakeup(hop__pool_internal_t *p, unsigned int s) {
    /* The workers up and one submitter (which may be asleep by now: then a
     * CPU is spare, and the hold-back costs two check periods at most). */
    if (p->deep_sleepers != 0 || HOP__IDLE_UNPARKED(s) == 0 || HOP__IDLE_UNPARKED(s) + 1 < p->ncpus)
        return false;
    hop__atomic_store_u64(&p->held, p->held + 1);
    return true;
}

/* Wakes one parked worker, as a searcher, if nobody is searching and
 * somebody is parked, unless may_hold_back (the job is a loop's suspending
 * task's) and DRAINING says to leave it to a worker up. The caller pushed,
 * then passed a full barrier: this read of idle must not be older than the
 * push, or it could miss a worker that parks after missing the push (the
 * other half of hop__pool_park). */
static void hop__pool_notify(hop__pool_internal_t *p, bool may_hold_back) {
    unsigned int s = hop__atomic_load_uint(&p->idle);
    if (HOP__IDLE_SEARCHING(s) != 0 || HOP__IDLE_UNPARKED(s) == p->nworkers)
        return;
    /* DRAINING: the clock is read before the lock, and only while a worker
     * is up. */
    bool may_hold = may_hold_back && HOP__IDLE_UNPARKED(s) != 0 && hop__pool_draining(p, 0);
    hop__spinlock_lock(&p->idle_lock);
    s = hop__atomic_load_uint(&p->idle);
    if (HOP__IDLE_SEARCHING(s) != 0 || p->nsleepers == 0 || (may_hold && hop__pool_hold_wakeup(p, s))) {
        hop__spinlock_unlock(&p->idle_lock);
        return;
    }
    /* The most recently parked: its cache is the warmest. */
    hop__pool_worker_t *w = &p->workers[p->sleepers[--p->nsleepers]];
    w->sleeper_slot = HOP__POOL_NOT_SLEEPING;
    if (!w->timed_sleep)
        p->deep_sleepers--;
    /* Counted as unparked and searching before it even wakes, so that the
     * next submissions do not wake another one. */
    hop__atomic_faa_uint(&p->idle, HOP__IDLE_SEARCHING_ONE + HOP__IDLE_UNPARKED_ONE);
    hop__spinlock_unlock(&p->idle_lock);
    hop__pool_wake(w);
}

/* Wakes every worker, parked or not, without touching the sleepers: each
 * one takes itself off the list when it finds itself still on it. Each wake
 * starts with a FAS, a full barrier, so a flag stored before this call is
 * visible to a worker that this call finds parking (see hop__pool_park). */
static void hop__pool_wake_all(hop__pool_internal_t *p) {
    for (unsigned int i = 0; i < p->nworkers; i++)
        hop__pool_wake(&p->workers[i]);
}

/* Takes w off the sleepers if it is still there. Under idle_lock. */
static bool hop__pool_unlist(hop__pool_internal_t *p, hop__pool_worker_t *w) {
    uint32_t slot = w->sleeper_slot;
    if (slot == HOP__POOL_NOT_SLEEPING)
        return false;
    uint32_t moved = p->sleepers[--p->nsleepers];
    p->sleepers[slot] = moved;
    p->workers[moved].sleeper_slot = slot;
    w->sleeper_slot = HOP__POOL_NOT_SLEEPING;
    if (!w->timed_sleep)
        p->deep_sleepers--;
    return true;
}

/* Anything queued anywhere? Any thread; exact only after a full barrier
 * that follows the pushes one wants to see. */
static bool hop__pool_work_visible(hop__pool_internal_t *p) {
    if (hop__inject_queue_nonempty_hint(&p->inject))
        return true;
    for (unsigned int i = 0; i < p->nworkers; i++) {
        hop__pool_worker_t *v = &p->workers[i];
        if (hop__deque_size_hint(&v->deque) != 0 || hop__atomic_load_ptr(&v->lifo) != NULL)
            return true;
    }
    return false;
}

/* At most half of the workers search at once: more would only fight over
 * the same few jobs (Tokio's idle.rs). */
static bool hop__pool_start_searching(hop__pool_worker_t *w) {
    hop__pool_internal_t *p = w->pool;
    unsigned int s = hop__atomic_load_uint(&p->idle);
    if (2 * HOP__IDLE_SEARCHING(s) >= p->nworkers)
        return false;
    hop__atomic_faa_uint(&p->idle, HOP__IDLE_SEARCHING_ONE);
    w->searching = true;
    return true;
}

/* w found work. The last searcher to stop hands searching over to a
 * parked worker if more work is queued: producers that saw a searcher woke
 * nobody, so their jobs are its to pass on (Go's resetspinning, Tokio's
 * transition_worker_from_searching). Unlike them, it looks first: for a
 * lone job, waking a second worker only for it to search in vain costs a
 * futex round trip, and on small machines the CPU the submitter needs. The
 * FAA is a full barrier, so the look sees every push made before a producer
 * read the old count (as hop__pool_park's re-check does). */
static void hop__pool_stop_searching(hop__pool_worker_t *w) {
    w->searching = false;
    unsigned int before = hop__atomic_faa_uint(&w->pool->idle, 0u - HOP__IDLE_SEARCHING_ONE);
    if (HOP__IDLE_SEARCHING(before) == 1 && hop__pool_work_visible(w->pool))
        hop__pool_notify(w->pool, hop__atomic_load_uint(&w->pool->from_loops) != 0);
}

static unsigned int hop__pool_random(hop__pool_worker_t *w) {
    /* xorshift32: victims need spreading, not quality. */
    unsigned int x = w->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    w->rng = x;
    return x;
}

static hop_job_t *hop__pool_take_lifo(hop__pool_worker_t *w) {
    /* Look before the FAS: the slot is often empty, and a load costs no
     * locked instruction. */
    if (!hop__atomic_load_ptr(&w->lifo))
        return NULL;
    return hop__atomic_fas_ptr(&w->lifo, NULL);
}

static void hop__pool_push_local(hop__pool_worker_t *w, hop_job_t *job);

/* After a steal from v that saw `seen` jobs there, takes up to half of them
 * more into w's own deque (Go's runqsteal, Tokio's steal_into take half).
 * Stealing one job per pass made a thief and a busy owner trade the deque's
 * lines for every job (each steal moves top; the owner's next push reads
 * it); a batch pays that once and then runs locally. Each one is a plain
 * steal (one CAS on top), so the deque's algorithm is unchanged: a batch
 * claimed in one CAS could race with the owner's fence-only take of the
 * bottom job. w found nothing of its own, so its deque is empty; when w
 * searches, hop__pool_stop_searching then wakes a parked worker if more is
 * queued, these jobs included. Returns how many it took. */
static uint64_t hop__pool_steal_more(hop__pool_worker_t *w, hop__pool_worker_t *v, uint64_t want) {
    if (want > HOP__POOL_STEAL_BATCH)
        want = HOP__POOL_STEAL_BATCH;
    uint64_t got = 0;
    while (got < want) {
        void *item;
        if (hop__deque_steal(&v->deque, &item) != HOP__DEQUE_STOLEN)
            break;
        hop__pool_push_local(w, item);
        got++;
    }
    return got;
}

/* One look at the injection queue and at every other worker, from a random
 * one on. Their LIFO slots only if lifo_too. *contended: a steal lost a race,
 * so some deque was not empty. may_rest: the caller may spin, so a resting
 * worker skips the other workers (RESTING). */
static hop_job_t *hop__pool_steal_pass(hop__pool_worker_t *w, bool lifo_too, bool may_rest, bool *contended) {
    hop__pool_internal_t *p = w->pool;
    hop_job_t *job = hop__pool_inject_pop(w, contended);
    if (job || p->nworkers == 1)
        return job;
    if (may_rest && w->tiny_steals && hop__pool_now_ns() < w->rest_until) {
        /* RESTING: other workers' lines are not even looked at (a look at
         * a deque reads what its owner writes at every push). Work may be
         * there, so the search goes on rather than park. */
        *contended = true;
        return NULL;
    }
    unsigned int i = hop__pool_random(w) % p->nworkers;
    for (unsigned int k = 0; k < p->nworkers; k++, i = i + 1 == p->nworkers ? 0 : i + 1) {
        hop__pool_worker_t *v = &p->workers[i];
        if (v == w)
            continue;
        /* The hint spares empty deques the full fence of a real steal. */
        uint64_t seen = hop__deque_size_hint(&v->deque);
        if (seen != 0) {
            void *item;
            hop__deque_steal_t got = hop__deque_steal(&v->deque, &item);
            if (got == HOP__DEQUE_STOLEN) {
                hop__pool_count(&w->steals, 1 + hop__pool_steal_more(w, v, seen / 2));
                w->ran_stolen = true;
                return item;
            }
            if (got == HOP__DEQUE_LOST)
                *contended = true;
        }
        if (lifo_too && (job = hop__pool_take_lifo(v)) != NULL) {
            hop__pool_count(&w->steals, 1);
            w->ran_stolen = true;
            return job;
        }
    }
    return NULL;
}

static void hop__pool_check_closing(hop__pool_worker_t *w);

/* Searches for spin_ns (at least one pass), then gives up. w is searching. */
static hop_job_t *hop__pool_search(hop__pool_worker_t *w) {
    hop__pool_internal_t *p = w->pool;
    hop__pool_count(&w->searches, 1);
    int64_t deadline = 0, looked = 0;
    if (p->spin_ns > 0) {
        looked = hop__pool_now_ns();
        /* Not on a machine without a spare CPU, nor beside a drainer that
         * keeps up with a loop while more threads are up than CPUs
         * (DRAINING): this worker's spin would only take the CPU the loop
         * needs, and it parks with a deadline. */
        if (hop__spin_allowed((uint64_t)looked) && !hop__pool_crowded(p, looked))
            deadline = looked + p->spin_ns;
    }
    /* A worker that may not spin (no spare CPU, or its CPU is wanted) does
     * not rest either: resting would keep it spinning (RESTING). */
    bool may_rest = deadline != 0;
    for (;;) {
        /* The LIFO slots of others only in the last round: a busy worker
         * gets the time to run its own next job, and one stuck in a
         * blocking call does not strand the job parked in its slot (which
         * nobody else would take) until the call returns. */
        bool last = deadline == 0;
        if (!last) {
            int64_t now = hop__pool_now_ns();
            if (hop__spin_preempted((uint64_t)looked, (uint64_t)now)) {
                deadline = now; /* this CPU is wanted elsewhere: one last look */
                may_rest = false;
            }
            last = now >= deadline;
            looked = now;
        }
        bool contended = false;
        hop_job_t *job = hop__pool_steal_pass(w, last, may_rest, &contended);
        if (job) {
            w->group_since = looked; /* before this pass: under a microsecond ago */
            w->group_jobs = 0;
            return job;
        }
        if (last && !contended)
            return NULL;
        hop__pool_check_closing(w);
        if (hop__atomic_load_uint(&p->exiting))
            return NULL;
        for (int i = 0; i < HOP__POOL_SPIN_PAUSES; i++)
            hop__atomic_pause();
    }
}

/* The re-check of a parking worker, made after its announcement. */
static bool hop__pool_should_stay_up(hop__pool_worker_t *w) {
    hop__pool_internal_t *p = w->pool;
    if (hop__atomic_load_uint(&p->exiting))
        return true;
    if (!w->saw_closing && hop__atomic_load_uint(&p->closing))
        return true; /* close waits for this worker to acknowledge */
    /* The injection queue is anyone's to take from without searching (Go's
     * findRunnable looks at its global queue before spinning). A worker
     * that has just finished a job takes what was submitted meanwhile,
     * rather than leave it to a searcher that may still be waking up. This
     * also covers a push half done (exchanged, not yet linked): its producer
     * reads idle only after its exchange, and may have seen this worker
     * still up, so the worker stays up until the job can be taken. */
    if (hop__inject_queue_nonempty_hint(&p->inject))
        return true;
    if (!hop__pool_work_visible(p))
        return false;
    /* Work is there. A searcher will find it, or re-check when it stops;
     * with none, this worker goes to get it. */
    return HOP__IDLE_SEARCHING(hop__atomic_load_uint(&p->idle)) == 0;
}

/* Parks w until a submission (or close) wakes it. Returns early, without
 * sleeping, when the re-check finds a reason to stay up. On return
 * w->searching says whether the worker goes on as a searcher: woken as
 * one, or one that stayed up. */
static void hop__pool_park(hop__pool_worker_t *w) {
    hop__pool_internal_t *p = w->pool;
    bool was_searching = w->searching;
    unsigned int leaving = HOP__IDLE_UNPARKED_ONE + (was_searching ? HOP__IDLE_SEARCHING_ONE : 0);
    w->searching = false;
    w->group_since = 0; /* the sleep's time is no job's */
    /* The clock only while a drain window may be open: a timed sleep's
     * first deadline counts from here. */
    int64_t now = hop__atomic_load_u64(&p->drain_until) != 0 ? hop__pool_now_ns() : 0;
    bool draining = now != 0 && hop__pool_draining(p, now);
    uint64_t searches = 0, progress = draining ? hop__pool_progress(p, &searches) : 0;
    hop__spinlock_lock(&p->idle_lock);
    w->sleeper_slot = p->nsleepers;
    p->sleepers[p->nsleepers++] = w->index;
    /* DRAINING: in a drain window, hold-backs may leave jobs queued for w
     * to find at its checks; outside one, nothing will. */
    w->timed_sleep = draining;
    w->looked_progress = progress;
    w->looked_searches = searches;
    w->looked_at = now;
    w->check_ns = HOP__POOL_DRAIN_CHECK_NS;
    w->paced_jobs = 0;
    if (!w->timed_sleep)
        p->deep_sleepers++;
    hop__atomic_store_uint(&w->sleep, HOP__SLEEP_PARKING);
    /* The announcement. The FAA is a full barrier: it is visible before the
     * re-check below reads a queue, which pairs with producers' push,
     * barrier, read of idle (hop__pool_notify). A last searcher leaving
     * here re-checks after it too, as the searching rule requires. */
    hop__atomic_faa_uint(&p->idle, 0u - leaving);
    hop__spinlock_unlock(&p->idle_lock);

    if (hop__pool_should_stay_up(w)) {
        /* A searcher that stays up goes on as one (Go's findRunnable does
         * the same when its last look finds work). Producers that saw it
         * searching woke nobody; as a searcher it wakes the next worker
         * when it takes a job and more are queued (stop_searching). Were
         * it back as a plain worker, it would take one job and leave the
         * rest queued with every other worker asleep: for as long as that
         * job runs, which for a blocking call may be for ever. */
        hop__spinlock_lock(&p->idle_lock);
        bool listed = hop__pool_unlist(p, w);
        if (listed)
            hop__atomic_faa_uint(&p->idle, leaving);
        hop__spinlock_unlock(&p->idle_lock);
        if (listed) {
            w->searching = was_searching;
            hop__atomic_store_uint(&w->sleep, HOP__SLEEP_AWAKE);
            return;
        }
        /* A waker took w off the list first: w is a searcher now, and the
         * wake-up is on its way; take it like any other. */
    }
    hop__pool_count(&w->parks, 1);
    if (hop__atomic_cas_uint(&w->sleep, HOP__SLEEP_PARKING, HOP__SLEEP_ASLEEP))
        hop__pool_sleep(w);
    hop__pool_count(&w->wakeups, 1);
    hop__spinlock_lock(&p->idle_lock);
    if (hop__pool_unlist(p, w)) {
        /* Still listed: close woke it, not a submission; not a searcher. */
        hop__atomic_faa_uint(&p->idle, HOP__IDLE_UNPARKED_ONE);
    } else {
        w->searching = true; /* notify counted it as one */
    }
    hop__spinlock_unlock(&p->idle_lock);
}

/* DRAINING: whether a worker other than w ran its latest group of
 * injected jobs at HOP__POOL_DRAIN_HELP_NS a job or slower: jobs that leave
 * their loop idle most of the time, a CPU spare for w. Any worker. */
static bool hop__pool_drainers_slow(hop__pool_worker_t *w) {
    hop__pool_internal_t *p = w->pool;
    for (unsigned int i = 0; i < p->nworkers; i++)
        if (i != w->index && hop__atomic_load_uint(&p->workers[i].group_slow) != 0)
            return true;
    return false;
}

/* DRAINING: the period after a check that found jobs taken in elapsed ns
 * since the one before, which found paced_jobs in paced_ns (0: not known),
 * the period having been check_ns: at least half the pace of the period
 * before doubles it, up to HOP__POOL_DRAIN_CHECK_MAX_NS; anything less, or
 * no pace known, makes it HOP__POOL_DRAIN_CHECK_NS again. Not static: a
 * test checks the rule. */
int64_t hop__pool_next_check_ns(int64_t check_ns, uint64_t jobs, int64_t elapsed, uint64_t paced_jobs,
                                int64_t paced_ns);
int64_t hop__pool_next_check_ns(int64_t check_ns, uint64_t jobs, int64_t elapsed, uint64_t paced_jobs,
                                int64_t paced_ns) {
    if (paced_jobs == 0 || paced_ns <= 0 || elapsed <= 0 ||
        jobs * 2u * (uint64_t)paced_ns < paced_jobs * (uint64_t)elapsed)
        return HOP__POOL_DRAIN_CHECK_NS;
    return check_ns * 2 < HOP__POOL_DRAIN_CHECK_MAX_NS ? check_ns * 2 : HOP__POOL_DRAIN_CHECK_MAX_NS;
}

/* DRAINING: a check of w's timed sleep at now, its deadline passed. w gets
 * up as a searcher (returns true) when work is queued and either no
 * injected job was taken since its previous look (the worker it was left
 * to has stopped taking jobs: a long one, a blocking call), or no worker
 * caught up since then and a drainer's jobs are slow enough to leave a CPU
 * spare (work keeps coming faster than it is taken: a burst, whose
 * submitter may have left its CPU idle by now), or the pool no longer
 * counts as drained (the jobs are not tiny). With
 * nothing queued and the pool not drained, w goes on sleeping without a
 * deadline. The decision is made under idle_lock, where notify decides
 * whether to hold a wake-up back; otherwise w sets its next period by the
 * drainers' pace (see the top). */
static bool hop__pool_get_up(hop__pool_worker_t *w, int64_t now) {
    hop__pool_internal_t *p = w->pool;
    hop__spinlock_lock(&p->idle_lock);
    if (w->sleeper_slot == HOP__POOL_NOT_SLEEPING) {
        /* A waker took w off the list: its wake-up is on the way. */
        hop__spinlock_unlock(&p->idle_lock);
        return false;
    }
    uint64_t searches, progress = hop__pool_progress(p, &searches);
    bool visible = hop__pool_work_visible(p);
    bool draining = hop__pool_draining(p, 0);
    bool burst = visible && draining && progress != w->looked_progress && searches == w->looked_searches;
    bool slow = hop__pool_drainers_slow(w), help = burst && slow;
    if (burst) {
        hop__atomic_faa_u64(&hop__pool_burst_checks, 1);
        if (help)
            hop__atomic_faa_u64(&hop__pool_burst_getups, 1);
    }
    if (visible && (progress == w->looked_progress || help || !draining)) {
        (void)hop__pool_unlist(p, w);
        /* Counted as notify counts a worker it wakes. */
        hop__atomic_faa_uint(&p->idle, HOP__IDLE_SEARCHING_ONE + HOP__IDLE_UNPARKED_ONE);
        hop__spinlock_unlock(&p->idle_lock);
        hop__atomic_store_uint(&w->sleep, HOP__SLEEP_AWAKE);
        return true;
    }
    uint64_t jobs = progress - w->looked_progress;
    int64_t elapsed = now - w->looked_at;
    /* Short beside slow drainers (see the top). */
    w->check_ns = slow ? HOP__POOL_DRAIN_CHECK_NS
                       : hop__pool_next_check_ns(w->check_ns, jobs, elapsed, w->paced_jobs, w->paced_ns);
    w->paced_jobs = jobs;
    w->paced_ns = elapsed;
    w->looked_at = now;
    w->looked_progress = progress;
    w->looked_searches = searches;
    if (!visible && !draining) {
        w->timed_sleep = false;
        p->deep_sleepers++;
    }
    hop__spinlock_unlock(&p->idle_lock);
    return false;
}

/* ---- The worker ------------------------------------------------------------- */

/* Between jobs: the first time w sees closing, it says so. From then on every
 * read of closing on this thread sees it too (reads of one location do not
 * go back in time), so w refuses new work from that point. */
static void hop__pool_check_closing(hop__pool_worker_t *w) {
    if (w->saw_closing || !hop__atomic_load_uint(&w->pool->closing))
        return;
    w->saw_closing = true;
    /* Task counts and jobs this worker accepted before are visible to the
     * closer once it sees the acknowledgement. */
    hop__atomic_fence_release();
    hop__atomic_store_uint(&w->acked, 1u);
}

/* The next job of w's own, in the order the file comment describes. */
static hop_job_t *hop__pool_next_local(hop__pool_worker_t *w) {
    hop_job_t *job;
    bool contended = false; /* nothing to do with it here: the search looks again */
    if (++w->tick % HOP__POOL_INJECT_INTERVAL == 0 && (job = hop__pool_inject_pop(w, &contended)) != NULL) {
        w->lifo_streak = 0;
        return job;
    }
    if (w->lifo_streak < HOP__POOL_LIFO_MAX && (job = hop__pool_take_lifo(w)) != NULL) {
        w->lifo_streak++;
        return job;
    }
    w->lifo_streak = 0;
    if ((job = hop__deque_take(&w->deque)) != NULL)
        return job;
    if ((job = hop__pool_take_lifo(w)) != NULL) {
        w->lifo_streak = 1;
        return job;
    }
    return hop__pool_inject_pop(w, &contended);
}

/* RESTING: after a stolen job ran (from started on), extends or ends the
 * streak of tiny steals. */
static void hop__pool_timed_steal(hop__pool_worker_t *w, int64_t started) {
    if (w->pool->spin_ns == 0)
        return; /* never searches long enough to rest */
    int64_t now = hop__pool_now_ns();
    if (now - started >= HOP__POOL_TINY_STEAL_NS) {
        w->tiny_steals = 0;
        return;
    }
    /* 5 us doubled six times passes the 200 us cap: the streak need not
     * count further. */
    int64_t rest = (int64_t)HOP__POOL_REST_MIN_NS << w->tiny_steals;
    if (w->tiny_steals < 6)
        w->tiny_steals++;
    w->rest_until = now + (rest < HOP__POOL_REST_MAX_NS ? rest : HOP__POOL_REST_MAX_NS);
    hop__pool_count(&w->rests, 1);
}

/* DRAINING: an injected job of w's group ran. At the end of a group that
 * averaged a tiny job, opens the drain window or keeps it open. */
static void hop__pool_timed_injected(hop__pool_worker_t *w) {
    if (++w->group_jobs < HOP__POOL_DRAIN_GROUP)
        return;
    hop__pool_internal_t *p = w->pool;
    int64_t now = hop__pool_now_ns();
    int64_t took = now - w->group_since;
    bool tiny =
        took < (int64_t)HOP__POOL_DRAIN_GROUP * (int64_t)hop__atomic_load_u64(&hop__pool_drain_tiny_ns);
    unsigned int slow =
        took >= (int64_t)HOP__POOL_DRAIN_GROUP * (int64_t)hop__atomic_load_u64(&hop__pool_drain_help_ns);
    if (hop__atomic_load_uint(&w->group_slow) != slow)
        hop__atomic_store_uint(&w->group_slow, slow);
    w->group_since = now;
    w->group_jobs = 0;
    if (!tiny)
        return;
    /* Refreshed every half window, not at every group: the line is read by
     * every notify that finds a worker parked. */
    int64_t window = (int64_t)hop__atomic_load_u64(&hop__pool_drain_window_ns);
    if ((int64_t)hop__atomic_load_u64(&p->drain_until) - now < window / 2)
        hop__atomic_store_u64(&p->drain_until, (uint64_t)(now + window));
}

static void hop__pool_run(hop__pool_worker_t *w, hop_job_t *job) {
    w->running = job;
    bool stolen = w->ran_stolen, injected = w->ran_injected && w->pool->nworkers > 1;
    int64_t started = stolen ? hop__pool_now_ns() : 0;
    if (!injected) {
        w->group_since = 0;
    } else if (w->group_since == 0) {
        w->group_since = hop__pool_now_ns();
        w->group_jobs = 0;
    }
    w->ran_stolen = w->ran_injected = false;
    hop_executor_run_job(&w->pool_public->executor, job);
    /* The job may be gone now: running is only compared from here. */
    w->running = NULL;
    if (stolen)
        hop__pool_timed_steal(w, started);
    else if (injected)
        hop__pool_timed_injected(w);
    hop__pool_count(&w->jobs_run, 1);
}

static void *hop__pool_worker_main(void *arg) {
    hop__pool_worker_t *w = arg;
    hop__pool_internal_t *p = w->pool;
    *hop__pool_self_slot() = w;
    pthread_setname_np(pthread_self(), w->name);
    hop__overflow_thread_init(); /* a signal stack, to name a task that overflows here */
    if (p->on_thread_start)
        p->on_thread_start(&w->pool_public->executor, p->hook_arg);
    for (;;) {
        hop__pool_check_closing(w);
        unsigned int exiting = hop__atomic_load_uint(&p->exiting);
        /* The queues are read after exiting: see hop_pool_close. */
        hop__atomic_fence_acquire();
        hop_job_t *job = hop__pool_next_local(w);
        if (!job && exiting) {
            /* Nothing can be queued any more, so once every queue is empty
             * w is done. Until then it steals, searcher or not: a job that
             * waits for another one still queued must not wait for ever. */
            bool contended = false;
            job = hop__pool_steal_pass(w, true, false, &contended);
            if (!job && !contended && !hop__pool_work_visible(p))
                break;
        }
        if (!job && !exiting && (w->searching || hop__pool_start_searching(w))) {
            job = hop__pool_search(w);
            HOP__OBSERVE(hop__observe_spin(&w->pool_public->executor, job != NULL));
        }
        if (job) {
            if (w->searching)
                hop__pool_stop_searching(w);
            hop__pool_run(w, job);
            continue;
        }
        if (!exiting)
            hop__pool_park(w);
    }
    if (p->on_thread_stop)
        p->on_thread_stop(&w->pool_public->executor, p->hook_arg);
    *hop__pool_self_slot() = NULL;
    return NULL;
}

/* ---- Submitting --------------------------------------------------------------- */

/* Pushes job onto w's deque; when full, moves the older half plus job to
 * the injection queue in one batch. Owner only. */
static void hop__pool_push_local(hop__pool_worker_t *w, hop_job_t *job) {
    while (!hop__deque_push(&w->deque, job)) {
        uint64_t first;
        uint32_t n = HOP__DEQUE_CAPACITY / 2;
        if (!hop__deque_claim_oldest(&w->deque, n, &first))
            continue; /* thieves made room */
        hop_job_t *head = hop__deque_claimed(&w->deque, first), *tail = head;
        for (uint32_t i = 1; i < n; i++) {
            hop_job_t *next = hop__deque_claimed(&w->deque, first + i);
            hop__atomic_store_ptr(&tail->next, next);
            tail = next;
        }
        hop__atomic_store_ptr(&tail->next, job);
        (void)hop__pool_inject(w->pool, head, job);
        return;
    }
}

/* From a worker of this pool: its LIFO slot; yields to the injection queue. */
static int hop__pool_submit_local(hop__pool_worker_t *w, hop_job_t *job, unsigned int flags) {
    hop__pool_internal_t *p = w->pool;
    /* A plain load: after w acknowledged closing it sees it (see
     * hop__pool_check_closing); before, close waits for the acknowledgement. */
    if (!(flags & HOP_SUBMIT_CONTINUATION) && hop__atomic_load_uint(&p->closing))
        return HOP_ECLOSED;
    if (job == w->running || (flags & HOP__SUBMIT_YIELD)) {
        /* A task yielding: behind the rest (see the file comment). The
         * push's exchange is the full barrier before notify reads idle. */
        (void)hop__pool_inject(p, job, job);
        hop__pool_notify(p, false);
        return 0;
    }
    /* The FAS is the full barrier between the push and notify's read. */
    hop_job_t *displaced = hop__atomic_fas_ptr(&w->lifo, job);
    if (displaced) {
        hop__pool_push_local(w, displaced);
        /* The displaced job too is visible before notify reads idle. */
        hop__atomic_fence_full();
    }
    hop__pool_notify(p, false);
    return 0;
}

/* DRAINING: whether the latest outside submission was a loop's chain of
 * suspending tasks' jobs: a worker that hands searching over holds its
 * wake-up back only for those (see hop__pool_notify). Written only when it
 * changes. */
static void hop__pool_note_source(hop__pool_internal_t *p, unsigned int from_loops) {
    if (hop__atomic_load_uint(&p->from_loops) != from_loops)
        hop__atomic_store_uint(&p->from_loops, from_loops);
}

/* Queues a chain staged by hop__pool_submit_outside, and drops the pin
 * its first job took. Returns whether jobs were queued ahead of it. */
static bool hop__pool_flush_chain(hop_executor_t *executor, hop_job_t *first, hop_job_t *last,
                                  unsigned int count) {
    (void)count;
    hop_pool_t *pool = hop__container_of(executor, hop_pool_t, executor);
    hop__pool_internal_t *p = hop__atomic_load_ptr(&pool->internal);
    /* The push's exchange is the full barrier before notify reads idle. */
    bool behind = hop__pool_inject(p, first, last);
    hop__pool_note_source(p, 1u);
    hop__pool_notify(p, true);
    hop__gate_leave(&pool->state);
    return behind;
}

/* From any other thread: through the injection queue, with the gate pinned
 * so that close cannot free the pool under it.
 *
 * With a submission batch open on this thread (a loop draining its inbox,
 * see core/internal.h), a suspending task's submission is staged in the
 * thread's chain for this pool instead, and goes to the injection queue
 * with the rest of the chain. The chain's first job pins the gate and the
 * flush unpins it: close waits for the chain as for any submit under way,
 * so a staged job is accepted work. Any other submission that finds a chain
 * joins it and flushes it, keeping this thread's submissions in order. */
static int hop__pool_submit_outside(hop_pool_t *pool, hop_job_t *job, unsigned int flags) {
    hop__batch_chain_t *chain = hop__batch_chain(&pool->executor, flags & HOP__SUBMIT_BATCHABLE);
    if (chain) {
        bool first = chain->count == 0;
        /* Once pinned, CLOSED cannot come before the flush, and a load sees
         * CLOSING as the pin's add would. */
        unsigned int state = first ? hop__gate_enter(&pool->state) : hop__gate_peek(&pool->state);
        int err = hop__gate_admit(state, flags);
        if (err) {
            if (first)
                hop__gate_leave(&pool->state);
            return err;
        }
        chain->flush = hop__pool_flush_chain;
        hop__batch_stage(chain, job);
        if (!(flags & HOP__SUBMIT_BATCHABLE))
            hop__batch_flush_chain(chain);
        return 0;
    }
    int err = hop__gate_admit(hop__gate_enter(&pool->state), flags);
    if (!err) {
        hop__pool_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        /* The push's exchange is the full barrier before notify reads idle. */
        (void)hop__pool_inject(p, job, job);
        hop__pool_note_source(p, 0u);
        hop__pool_notify(p, false);
    }
    hop__gate_leave(&pool->state);
    return err;
}

static int hop__pool_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    hop_pool_t *pool = hop__container_of(executor, hop_pool_t, executor);
    hop__pool_worker_t *w = hop__pool_worker_of(pool);
    return w ? hop__pool_submit_local(w, job, flags) : hop__pool_submit_outside(pool, job, flags);
}

/* Takes job back if it waits where the calling worker can take it without
 * searching: its own LIFO slot, or the bottom of its own deque (the places
 * its own recent submissions wait; a task joining a child it spawned finds
 * it there unless a thief got it first). Exactly one of this and a thief
 * gets the job: the LIFO slot by a CAS against the thieves' FAS, the deque
 * bottom by the owner's take, which settles the last element with thieves
 * through their own CAS (core/deque.h). Anything else (another worker's
 * queues, the injection queue, a caller that is not a worker of this
 * pool) is HOP_EALREADY: the job stays queued and will run. */
static int hop__pool_withdraw(hop_executor_t *executor, hop_job_t *job) {
    hop_pool_t *pool = hop__container_of(executor, hop_pool_t, executor);
    hop__pool_worker_t *w = hop__pool_worker_of(pool);
    if (!w)
        return HOP_EALREADY;
    if (hop__atomic_load_ptr(&w->lifo) == job) {
        if (!hop__atomic_cas_ptr(&w->lifo, job, NULL))
            return HOP_EALREADY;
        hop__pool_count(&w->jobs_run, 1); /* see hop_pool_stats_t */
        return 0;
    }
    /* Only this thread pushes to its deque and writes its slots, so the
     * bottom slot still holds job when the take below settles it: the take
     * returns job, or NULL when a thief won it. */
    hop__deque_t *d = &w->deque;
    uint64_t b = hop__atomic_load_u64(&d->bottom);
    if (hop__deque_size_hint(d) == 0 || hop__atomic_load_ptr(&d->buffer[(b - 1) & HOP__DEQUE_MASK]) != job)
        return HOP_EALREADY;
    hop_job_t *taken = hop__deque_take(d);
    if (taken && taken != job)
        hop__fatal("pool: the bottom of a worker's deque changed under its owner");
    if (!taken)
        return HOP_EALREADY;
    hop__pool_count(&w->jobs_run, 1);
    return 0;
}

/* task_enter and task_leave: a worker counts on its own shard with a load
 * and a store; other threads on outside_tasks, with the gate pinned. */
static void hop__pool_count_task(hop_executor_t *executor, uint64_t delta) {
    hop_pool_t *pool = hop__container_of(executor, hop_pool_t, executor);
    hop__pool_worker_t *w = hop__pool_worker_of(pool);
    if (w) {
        hop__pool_count(&w->tasks, delta);
        return;
    }
    if (!(hop__gate_enter(&pool->state) & HOP__GATE_CLOSED)) {
        hop__pool_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        hop__atomic_faa_u64(&p->outside_tasks, delta);
    }
    hop__gate_leave(&pool->state);
}

static void hop__pool_task_enter(hop_executor_t *executor) { hop__pool_count_task(executor, 1); }

static void hop__pool_task_leave(hop_executor_t *executor) { hop__pool_count_task(executor, (uint64_t)-1); }

/* ---- Life cycle ------------------------------------------------------------------ */

static unsigned int hop__pool_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned int)CPU_COUNT(&set);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? (unsigned int)online : 1u;
}

/* Lets workers [0, started) leave once their queues are empty, and joins
 * them. The release fence: what this thread saw before (outside callers'
 * pushes, in close) is visible to a worker that sees exiting. */
static void hop__pool_join(hop__pool_internal_t *p, unsigned int started) {
    hop__atomic_fence_release();
    hop__atomic_store_uint(&p->exiting, 1u);
    /* Each wake-up begins with a FAS: exiting is visible to a worker that
     * this finds parking, and its re-check sees it. */
    hop__pool_wake_all(p);
    for (unsigned int i = 0; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
}

static void hop__pool_free(hop__pool_internal_t *p) { free(p); }

/* In a child process after fork(), on the forking thread: the workers are
 * gone, so the pool refuses everything from now on; pins held by the
 * parent's threads are forgotten with them. */
static void hop__pool_forked(hop__fork_entry_t *entry) {
    hop__pool_internal_t *p = hop__container_of(entry, hop__pool_internal_t, fork_entry);
    hop_pool_t *pool = p->pool;
    hop__atomic_store_ptr(&pool->executor.ops, &hop__pool_forked_ops);
    hop__atomic_store_uint(&pool->threads, 0u);
    hop__atomic_store_uint(&pool->state, HOP__GATE_CLOSING | HOP__GATE_CLOSED);
}

int hop_pool_init(hop_pool_t *pool, const hop_pool_options_t *options) {
    if (!pool)
        return HOP_EINVAL;
    static const hop_pool_options_t defaults = {0};
    /* Never initialised until it succeeds: every call but init refuses it. */
    hop__atomic_store_ptr(&pool->executor.ops, NULL);
    hop__atomic_store_ptr(&pool->internal, NULL);
    hop__atomic_store_uint(&pool->state, 0u);
    hop__atomic_store_uint(&pool->threads, 0u);
    if (!options)
        options = &defaults;
    const char *prefix = options->name ? options->name : "hop-pool";
    if (options->threads > HOP__POOL_MAX_THREADS || (options->spin_us < 0 && options->spin_us != HOP_SPIN_NEVER) ||
        strlen(prefix) > HOP__POOL_NAME_MAX)
        return HOP_EINVAL;
    unsigned int n = options->threads;
    if (n == 0) {
        n = hop__pool_cpus();
        if (n > HOP__POOL_MAX_THREADS)
            n = HOP__POOL_MAX_THREADS;
    }
    int spin_us = options->spin_us == 0 ? HOP__POOL_SPIN_US_DEFAULT
                  : options->spin_us == HOP_SPIN_NEVER ? 0
                                                      : options->spin_us;

    /* One allocation: the pool, then its workers, then the sleepers' stack. */
    size_t workers_at = (sizeof(hop__pool_internal_t) + HOP__CACHELINE - 1) / HOP__CACHELINE * HOP__CACHELINE;
    size_t sleepers_at = workers_at + (size_t)n * sizeof(hop__pool_worker_t);
    void *memory = NULL;
    if (hop__posix_memalign(&memory, HOP__CACHELINE, sleepers_at + (size_t)n * sizeof(uint32_t)) != 0)
        return HOP_ENOMEM;
    memset(memory, 0, sleepers_at + (size_t)n * sizeof(uint32_t));
    hop__pool_internal_t *p = memory;
    p->pool = pool;
    p->workers = (hop__pool_worker_t *)((char *)memory + workers_at);
    p->sleepers = (uint32_t *)((char *)memory + sleepers_at);
    p->nworkers = n;
    p->ncpus = hop__pool_cpus();
    p->spin_ns = (int64_t)spin_us * 1000;
    p->on_thread_start = options->on_thread_start;
    p->on_thread_stop = options->on_thread_stop;
    p->hook_arg = options->hook_arg;
    hop__atomic_store_uint(&p->idle, n * HOP__IDLE_UNPARKED_ONE);
    hop__inject_queue_init(&p->inject);
    for (unsigned int i = 0; i < n; i++) {
        hop__pool_worker_t *w = &p->workers[i];
        hop__deque_init(&w->deque);
        w->pool = p;
        w->pool_public = pool;
        w->index = i;
        w->rng = 0x9e3779b9u * (i + 1);
        w->sleeper_slot = HOP__POOL_NOT_SLEEPING;
        /* Thread names hold 15 bytes: a long prefix with many workers is cut. */
        if (snprintf(w->name, sizeof w->name, "%s-%u", prefix, i) >= (int)sizeof w->name)
            w->name[sizeof w->name - 1] = '\0';
    }

    hop__atomic_store_ptr(&pool->executor.ops, &hop__pool_ops);
    pool->executor.reserved[0] = pool->executor.reserved[1] = NULL;
    hop__atomic_store_ptr(&pool->internal, p);
    hop__atomic_store_uint(&pool->state, 0u);
    hop__atomic_store_uint(&pool->threads, n);

    sigset_t old;
    hop__signals_block_async(&old);
    unsigned int started = 0;
    while (started < n && hop__pthread_create(&p->workers[started].thread, NULL, hop__pool_worker_main,
                                              &p->workers[started]) == 0)
        started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (started < n) {
        hop__pool_join(p, started);
        hop__pool_free(p);
        hop__atomic_store_ptr(&pool->executor.ops, NULL);
        hop__atomic_store_ptr(&pool->internal, NULL);
        hop__atomic_store_uint(&pool->threads, 0u);
        return HOP_EAGAIN;
    }
    hop__fork_track(&p->fork_entry, hop__pool_forked);
    return 0;
}

hop_executor_t *hop_pool_executor(hop_pool_t *pool) { return pool ? &pool->executor : NULL; }

int hop_pool_submit(hop_pool_t *pool, hop_job_t *job) {
    if (!pool || !job || !job->run)
        return HOP_EINVAL;
    const hop_executor_ops_t *ops = hop__atomic_load_ptr(&pool->executor.ops);
    if (ops != &hop__pool_ops && ops != &hop__pool_closed_ops && ops != &hop__pool_forked_ops)
        return HOP_EINVAL;
    return hop__executor_submit_via(ops, &pool->executor, job, 0);
}

unsigned int hop_pool_size(const hop_pool_t *pool) {
    return pool ? hop__atomic_load_uint((unsigned int *)&pool->threads) : 0u;
}

int hop_pool_stats(const hop_pool_t *pool, hop_pool_stats_t *stats) {
    if (!pool || !stats)
        return HOP_EINVAL;
    const hop_executor_ops_t *ops = hop__atomic_load_ptr((const hop_executor_ops_t **)&pool->executor.ops);
    if (ops != &hop__pool_ops && ops != &hop__pool_closed_ops && ops != &hop__pool_forked_ops)
        return HOP_EINVAL;
    memset(stats, 0, sizeof *stats);
    /* Pinned, so that a close racing this call does not free the counters
     * under it. */
    unsigned int *gate = (unsigned int *)&pool->state;
    if (hop__gate_enter(gate) & HOP__GATE_CLOSED) {
        hop__gate_leave(gate);
        return HOP_ECLOSED;
    }
    hop__pool_internal_t *p = hop__atomic_load_ptr((void **)&pool->internal);
    for (unsigned int i = 0; i < p->nworkers; i++) {
        hop__pool_worker_t *w = &p->workers[i];
        stats->jobs_run += hop__atomic_load_u64(&w->jobs_run);
        stats->steals += hop__atomic_load_u64(&w->steals);
        stats->steal_rests += hop__atomic_load_u64(&w->rests);
        stats->parks += hop__atomic_load_u64(&w->parks);
        stats->wakeups += hop__atomic_load_u64(&w->wakeups);
        stats->injected += hop__atomic_load_u64(&w->injected);
    }
    stats->wakeups_held = hop__atomic_load_u64(&p->held);
    hop__gate_leave(gate);
    return 0;
}

/* Sleeps a little longer each time, up to 1 ms: close waits for other
 * threads, for microseconds (a worker between two jobs) or for as long as a
 * task stays suspended; at most a thousand cheap polls a second. */
static void hop__pool_backoff(long *ns) {
    struct timespec ts = {0, *ns};
    nanosleep(&ts, NULL);
    if (*ns < 1000000)
        *ns *= 2;
}

/* The number of tasks the pool owns, summed over the shards one at a time.
 * Sound only once hop_pool_close has passed its steps 1 and 2: from then on
 * no task can join the pool (spawns and dispatches to it are refused, by
 * workers that acknowledged closing and by outside callers that saw
 * CLOSING), so the only increments left are those of a refused spawn or
 * dispatch, which its own thread undoes on the same shard right after
 * (task_enter, refused submit, task_leave). Every other change is a task
 * leaving: a decrement. Each shard, such pairs aside, only decreases, so
 * what the scan reads from it is at least its value when the scan ends, and
 * a pair can only add to what is read. A sum of 0 therefore means that when
 * the scan ended the pool owned no task, and none can come after. Were
 * other increments possible, the scan could miss a task: one entering on a
 * shard already read while another left on a shard not yet read. */
static uint64_t hop__pool_tasks(hop__pool_internal_t *p) {
    uint64_t sum = hop__atomic_load_u64(&p->outside_tasks);
    for (unsigned int i = 0; i < p->nworkers; i++)
        sum += hop__atomic_load_u64(&p->workers[i].tasks);
    return sum;
}

int hop_pool_close(hop_pool_t *pool) {
    if (!pool)
        return HOP_EINVAL;
    const hop_executor_ops_t *ops = hop__atomic_load_ptr(&pool->executor.ops);
    if (ops == &hop__pool_forked_ops) {
        /* Inherited through fork(): nothing runs it any more. Only the
         * memory goes: the workers' locks and condition variables are left
         * undestroyed (a worker may have held one), and tasks it owned stay
         * suspended for ever. */
        hop__pool_internal_t *p = hop__atomic_load_ptr(&pool->internal);
        hop__atomic_store_ptr(&pool->executor.ops, &hop__pool_closed_ops);
        hop__atomic_store_ptr(&pool->internal, NULL);
        free(p);
        return 0;
    }
    if (ops == &hop__pool_closed_ops)
        return HOP_EALREADY;
    if (ops != &hop__pool_ops)
        return HOP_EINVAL;
    if (hop__pool_worker_of(pool))
        return HOP_EDEADLK; /* it would wait for itself */
    /* Jobs this thread staged for the pool hold a pin that step 2 below
     * would wait for. */
    hop__batch_flush();
    int err = hop__gate_close_begin(&pool->state, 0u, 0u, 0u, NULL);
    if (err)
        return err; /* HOP_EALREADY: another close is under way */
    hop__pool_internal_t *p = hop__atomic_load_ptr(&pool->internal);
    long pause_ns = 20000;

    /* 1. Workers refuse new work. Each acknowledges between two jobs (the
     * parked ones are woken for it); after that, all it accepted is queued
     * and counted. Outside callers have refused since the CAS above. */
    hop__atomic_store_uint(&p->closing, 1u);
    hop__pool_wake_all(p);
    for (unsigned int i = 0; i < p->nworkers; i++)
        while (!hop__atomic_load_uint(&p->workers[i].acked))
            hop__pool_backoff(&pause_ns);
    /* Reads of the workers' task shards come after their acknowledgements. */
    hop__atomic_fence_acquire();

    /* 2. Outside callers that got in before CLOSING have queued their jobs
     * and counted their tasks. */
    hop__gate_wait_unpinned(&pool->state);
    /* The task counts are read after the callers left. */
    hop__atomic_fence_acquire();

    /* 3. Every task the pool owns finishes, suspended ones included: their
     * continuations are still accepted, and the workers keep running
     * everything queued meanwhile. */
    while (hop__pool_tasks(p) != 0)
        hop__pool_backoff(&pause_ns);

    /* 4. Nothing can be added any more: workers drain the queues and leave. */
    hop__pool_join(p, p->nworkers);

    /* 5. The struct stays valid and refuses everything. p goes once no
     * outside caller is inside, in the same CAS that sets CLOSED. */
    hop__atomic_store_ptr(&pool->executor.ops, &hop__pool_closed_ops);
    hop__atomic_store_uint(&pool->threads, 0u);
    hop__gate_seal(&pool->state);
    hop__atomic_store_ptr(&pool->internal, NULL);
    hop__fork_untrack(&p->fork_entry);
    hop__pool_free(p);
    hop__observe_executor_closed(&pool->executor);
    return 0;
}
