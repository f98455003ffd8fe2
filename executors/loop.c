/* executors/loop.c: a libuv event loop as an executor (hop_run, which runs
 * one on the calling thread, is in run.c).
 *
 * One thread runs the uv_loop_t (the loop thread: the thread hop_loop_start
 * made, or the caller of hop_loop_run, or of hop_loop_close while it drains).
 * Every other thread reaches it only through the inbox, an intrusive MPSC
 * queue (src/core/mpsc_queue.h), and uv_async_send: libuv is not
 * thread-safe, and that is the one call another thread may make on a loop's
 * handles. Sends coalesce (several may run the callback once), so whoever
 * looks at the inbox drains it, in bounded batches (TURNS).
 *
 * WAKE-UPS. l->wake tells producers whether the loop could block without
 * looking at the inbox again:
 *
 *   AWAKE     the loop thread will look at the inbox before it next blocks in
 *             libuv (it is running jobs, I/O callbacks or spinning): a
 *             producer pushes and is done, no system call.
 *   SLEEPING  the loop found the inbox empty and may block in epoll: the
 *             first producer to move it back to AWAKE (CAS) calls
 *             uv_async_send; the others see AWAKE and do nothing.
 *
 *   AWAKE --(prepare: inbox empty, store; then re-check the inbox)--> SLEEPING
 *   SLEEPING --(a producer wins the CAS, then uv_async_send)--> AWAKE
 *   SLEEPING --(the re-check found work: exchange)--> AWAKE
 *   SLEEPING --(check, right after the poll: store)--> AWAKE
 *
 * Like uv_async_send itself: a cheap read first, then the CAS, then the
 * syscall only for the one winner. A burst of completions costs one wake-up.
 *
 * No lost wake-up (a loop blocked in epoll over a job whose producer saw it
 * awake and did not signal): a producer pushes its job (the push is a full
 * barrier), then reads wake; the loop stores SLEEPING, then a full fence,
 * then re-reads the inbox. Dekker's pattern: one of the two sees the other's
 * store. If the loop's re-check misses the job, the producer's read, which
 * comes after its push, sees SLEEPING and it signals.
 *
 * TURNS. Each turn (from one poll for I/O to the next) runs at most
 * options.batch inbox jobs: the async callback, an idle handle and the
 * prepare callback share the budget. When it runs out with jobs left, the
 * idle handle is started, which makes the next poll return at once (libuv
 * polls with timeout 0 while an idle handle is active): I/O and timers get
 * their turn, then the idle callback drains the next batch. A job that
 * re-posts itself forever therefore cannot starve a timer.
 *
 * SPINNING. Waking a thread blocked in epoll costs tens of microseconds
 * where idle CPUs halt (a VM). When the loop owns tasks (so some are
 * suspended, waiting for work elsewhere), or the turn ran jobs (another
 * thread posted them, and the answer to what they posted back may come as
 * quickly), and its inbox is empty, the prepare callback polls the inbox for
 * up to spin_us before letting libuv block, with wake left AWAKE so that
 * producers skip the syscall. It spins at most once per turn, never past the
 * next timer's due time, and never when the loop owns no tasks and ran
 * nothing: an idle loop blocks at once. I/O readiness is not looked at while
 * it spins, so I/O waits at most spin_us longer. A spin that catches work
 * runs it and, while nothing else waits for the poll (no socket, no
 * request under way), spins on until its window (spin_us from its start)
 * ends, a job starts an earlier timer, or the turn's batch is spent; a
 * window that caught anything then ends the turn with a poll that does not
 * block, and the next turn opens a new window. So a loop whose round trips
 * keep coming back polls once per window, not once per round trip: that
 * poll is a system call, as expensive as a whole round trip where system
 * calls are slow (bench/RESULTS.md, "Round trip: where the time went"). A
 * loop with I/O waiting (a server) polls after every catch instead, so its
 * sockets wait one round trip at most. While it spins the loop yields its
 * CPU between rounds of looks, never once it has seen work.
 *
 * Spinning pays when the work comes back within spin_us and wastes up to
 * spin_us of CPU per idle period when it does not. The default, 50 us, is
 * about one wake-up's cost, the competitive choice (never more than twice
 * the best of "spin" and "block"), and covers short offloads (a cached file
 * read, a hash) without burning a core on long ones. A loop whose spins keep
 * missing (its tasks wait for I/O or for offloads of milliseconds, as in a
 * server) stops paying that per idle period: after HOP__LOOP_SPIN_MISSES
 * misses in a row it spins only every HOP__LOOP_SPIN_PROBE-th time, and a
 * catch restores spinning every time. hop-bench's
 * roundtrip.hop_dispatch row shows it (the loop's side of each round trip
 * is caught by the spin), pingpong.hop_loop_post two loops that own no task
 * posting to each other (each catches the other's answer in the spin that
 * follows the job; 27 us a round trip when only loops with tasks spun, 1.1
 * us since, bench/RESULTS.md); the measurements behind
 * the default are in bench/RESULTS.md, "Design measurements behind the
 * pool's and the loop's constants".
 *
 * LAGGING. A consumer that takes each job the moment it is published reads
 * the line its producer writes next, so every push then waits for that line
 * to come back: a loop with nothing else to do, answering completions one by
 * one from a pool that is behind, makes the pool slower still, and stays
 * the faster side. Two steady states result for the same work (hop-bench's
 * offload row: 1,024 tasks, one pool thread): the loop behind and taking
 * 256 jobs a drain, or the pool behind and the loop taking one or two, at a
 * quarter of the throughput (bench/RESULTS.md, "a loop that lags"). Which
 * one a run settled in depended on little more than code layout. So when a
 * drain ran at most HOP__LOOP_LAG_JOBS jobs and one of its submissions went
 * behind jobs already queued (hop__batch_close: the executor is behind, its
 * answers come at its pace), the next drain first waits for
 * HOP__LOOP_LAG_FILL jobs to gather, looking only at the slot the last of
 * them will fill, and gives up after 2 us if the next job but one has not
 * come by then. A lone round trip never lags (its pool had nothing queued),
 * and a loop whose answers come far apart waits 2 us at most.
 * hop_loop_stats counts the drains that lagged.
 *
 * BUSY POLLING (busy_poll_us, off by default). The inbox spin helps tasks
 * waiting for offloaded work; a loop whose tasks wait for sockets (a load
 * generator, a proxy) blocks in epoll between bursts, and then whoever
 * answers pays the wake-up: the peer's write does the cross-CPU wake-up of
 * this thread, which on VMs costs the peer more than the write itself. With
 * busy_poll_us set, a turn that ran jobs opens a window of that length in
 * which the prepare callback keeps the idle handle active, so that libuv
 * polls with timeout 0 (one epoll_wait that returns at once per turn) until
 * a turn runs work again (which renews the window) or the window ends. Only
 * while I/O is under way (hop__loop_io_waits). A gap between two empty polls
 * long enough to be a lost CPU (core/spin.h) says another thread wanted this
 * CPU: that loop then stops busy polling for HOP__SPIN_REST_NS. The rest is
 * the loop's own, not the process-wide one of the spins: with two loops and
 * a server on two CPUs, the process-wide rest stopped every loop's polling
 * and gave back none of its gain, where one loop resting leaves CPU enough.
 * A window that ends without a catch cost its polls (and naps) for nothing;
 * where answers come back later than the window (a server that takes
 * milliseconds, bursts of answers that each end in a miss) that is a good
 * part of the loop's CPU. So windows stay open only while they catch work
 * at least HOP__LOOP_BUSY_MISS_COST times as often as they miss; otherwise
 * only every HOP__LOOP_BUSY_PROBE-th turn opens one (the wait gate, shared
 * with the spin). Against a server answering at once they catch 95-99.9%
 * of the time.
 * With busy_poll_nap_us set, a busy poll that found nothing is followed by
 * a nap (nanosleep) before the next one rather than by another poll at
 * once. Asleep in nanosleep the thread is on no socket's wait queue, so a
 * peer that answers meanwhile only queues its data, wakes nobody, and the
 * next poll takes what arrived as a batch: the peer keeps the speed that
 * busy polling gave it, and the loop gives its CPU back between polls. A
 * job posted meanwhile waits out the nap (the loop is AWAKE to producers
 * while it busy polls: they do not signal), and no nap starts that could
 * end within a millisecond of a timer's deadline, so timers keep their
 * precision.
 * A busy-polling loop also polls out the last millisecond before a timer
 * (timer_arm), so its timers fire within microseconds of their deadline.
 * bench/RESULTS.md, "hop-load busy-polls its sockets", has what it changed
 * for a load generator.
 *
 * TIMERS. Timers started on the loop thread belong to the loop's clock
 * (src/time/timer_internal.h), made current on whichever thread drives the loop.
 * One uv_timer_t is armed for the clock's earliest deadline; its callback
 * runs the due timer callbacks and re-arms it. A start that makes a new
 * earliest deadline calls the clock's rearm, which only sets timer_rearm
 * (and, off the loop thread, wakes the loop as a producer would): the
 * prepare callback re-arms the uv timer before libuv computes its poll
 * timeout, and re-checks the flag after announcing SLEEPING, so a rearm is
 * no more lost than a job. A closing loop keeps firing timers while it
 * waits for its tasks (a sleeping task must be able to finish); once it owns
 * none, its clock is closed: pending timers are dropped, and starting one
 * there returns HOP_ECLOSED.
 *
 * LIFETIME. The hop_loop_t outlives its internals (struct hop__loop_s), which
 * hop_loop_close frees. loop->state is the loop's close gate (core/gate.h):
 * threads other than the loop thread pin it while they touch the internals;
 * the loop thread needs no pin (close frees only once the loop stopped
 * running there), so its own submits read the state with a plain load. The
 * number of tasks the loop owns (task_enter/leave) is counted in the
 * internals. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "core/fault.h"
#include "core/fork.h"
#include "core/gate.h"
#include "core/loop_handles.h"
#include "core/mpsc_queue.h"
#include "core/observe.h"
#include "core/spin.h"
#include "core/task_internal.h"
#include "loop_internal.h"
#include "time/timer_internal.h"

/* Default spin before blocking, in microseconds: measured, see SPINNING above. */
#define HOP__LOOP_SPIN_US_DEFAULT 50
/* Whether the inbox spin and busy-poll windows pay (hop__loop_wait_gate_t):
 * the spin stops after 8 misses in a row, and then only every 16th idle
 * period spins; busy-poll windows, which cost more per miss (system calls),
 * stop unless they catch work at least 4 times as often as they miss, and
 * then only every 64th turn opens one. */
#define HOP__LOOP_SPIN_MISSES 8
#define HOP__LOOP_SPIN_PROBE 16
#define HOP__LOOP_BUSY_CREDIT 16
#define HOP__LOOP_BUSY_MISS_COST 4
#define HOP__LOOP_BUSY_PROBE 64
#define HOP__LOOP_BATCH_DEFAULT 256u
/* LAGGING: a drain that ran at most HOP__LOOP_LAG_JOBS jobs and sent work
 * to an executor already behind makes the next drain wait for
 * HOP__LOOP_LAG_FILL jobs, for at most HOP__LOOP_LAG_MAX_NS. */
#define HOP__LOOP_LAG_JOBS 2u
#define HOP__LOOP_LAG_FILL 64u
#define HOP__LOOP_LAG_LOOK_NS 500u
#define HOP__LOOP_LAG_SLOW_NS 2000u
#define HOP__LOOP_LAG_MAX_NS 20000u
#define HOP__LOOP_NAME_DEFAULT "hop-loop"

/* hop_loop_t.state: the gate's flags and pins, and the loop's own two flags. */
enum {
    HOP__LOOP_RUNNING = HOP__GATE_OWN_0, /* a thread runs (or is about to run) the uv loop */
    HOP__LOOP_STARTED = HOP__GATE_OWN_1, /* that thread is ours (hop_loop_start): close joins it */
    HOP__LOOP_CLOSING = HOP__GATE_CLOSING,
    HOP__LOOP_CLOSED = HOP__GATE_CLOSED
};

/* l->wake, see above. */
enum { HOP__WAKE_AWAKE = 0, HOP__WAKE_SLEEPING = 1 };

/* Who is running the uv loop, which decides when it stops. */
enum {
    HOP__MODE_RUN = 0,    /* hop_loop_run: until hop_loop_stop */
    HOP__MODE_THREAD = 1, /* hop_loop_start's thread: until closing and idle */
    HOP__MODE_CLOSE = 2,  /* hop_loop_close on a loop nobody runs: until idle */
    HOP__MODE_MAIN = 3    /* hop_run: until idle (no task, no job), stops ignored */
};

/* Whether waiting actively (the inbox spin, a busy-poll window) pays. Each
 * wait either catches work, which earns gain credit (up to cap), or misses,
 * which costs cost; while the credit is 0 only every probe-th wait goes
 * ahead, to notice when that changes. Loop thread only. */
typedef struct {
    unsigned int credit; /* waits allowed while > 0 */
    unsigned int skips;  /* waits refused since the last probe */
    unsigned int cap, gain, cost, probe;
} hop__loop_wait_gate_t;

static void hop__loop_wait_gate_init(hop__loop_wait_gate_t *gate, unsigned int cap, unsigned int gain,
                                     unsigned int cost, unsigned int probe) {
    *gate = (hop__loop_wait_gate_t){.credit = cap, .cap = cap, .gain = gain, .cost = cost, .probe = probe};
}

static bool hop__loop_wait_gate_allows(hop__loop_wait_gate_t *gate) {
    if (gate->credit > 0)
        return true;
    if (++gate->skips < gate->probe)
        return false;
    gate->skips = 0;
    return true;
}

static void hop__loop_wait_gate_caught(hop__loop_wait_gate_t *gate) {
    gate->credit = gate->credit + gate->gain < gate->cap ? gate->credit + gate->gain : gate->cap;
}

static void hop__loop_wait_gate_missed(hop__loop_wait_gate_t *gate) {
    gate->credit = gate->credit > gate->cost ? gate->credit - gate->cost : 0;
}

typedef struct hop__loop_s {
    hop__mpsc_queue_t inbox;
    /* Read by every producer, written by the loop thread and the one winning
     * producer: a line of its own. */
    unsigned int wake;
    char pad_wake[HOP__CACHELINE - sizeof(unsigned int)];
    /* Counters written from any thread (atomic). */
    unsigned int tasks;          /* tasks the loop owns, suspended ones included */
    unsigned int stop_requested; /* hop_loop_stop was called */
    uint64_t wakeups_sent;
    char pad_shared[HOP__CACHELINE - 2 * sizeof(unsigned int) - sizeof(uint64_t)];
    /* Written by the loop thread only; read by hop_loop_stats (atomic). */
    uint64_t jobs_run;
    uint64_t batches;
    uint64_t busy_polls;
    uint64_t busy_poll_naps;
    uint64_t lags;
    /* The loop thread's own (plain). */
    unsigned int turn_ran; /* inbox jobs run since the last poll */
    int mode;              /* HOP__MODE_* */
    int finished;          /* the stop condition of mode held: leave uv_run for good */
    unsigned int batch;
    uint64_t spin_ns;
    hop_thread_hook_fn on_thread_start, on_thread_stop; /* hop_loop_start's thread */
    void *hook_arg;
    bool lag;             /* loop thread only: wait before the next drain (LAGGING) */
    bool task_left;       /* loop thread only: a task left (dispatched away or
                             finished) since the last spin; see spin_budget */
    hop__loop_wait_gate_t spin_gate; /* loop thread only: whether the inbox spin pays */
    hop__loop_wait_gate_t busy_gate; /* loop thread only: whether busy-poll windows pay */
    uint64_t busy_poll_ns;    /* options.busy_poll_us, in ns; 0: off */
    uint64_t busy_nap_ns;     /* options.busy_poll_nap_us, in ns; 0: poll back to back */
    uint64_t busy_until;      /* loop thread only: end of the busy-poll window (uv_hrtime) */
    uint64_t busy_looked;     /* loop thread only: when the last busy poll was decided */
    uint64_t busy_rest_until; /* loop thread only: no busy poll before (a lost CPU was seen) */
    bool busy_polled;         /* loop thread only: the last turn's poll was a busy one */
    uint64_t timer_poll_at;   /* loop thread only: a clock deadline under 1 ms away that
                                 prepare polls for (busy polling; 0: none) */
    unsigned int timer_rearm; /* atomic: the clock has a new earliest deadline */
    /* atomic: CLOSING is set in loop->state. The copy the loop thread reads
     * at every turn, as the pool's workers read theirs: other threads pin
     * and unpin the gate word at every submit, and a read here between the
     * two would pull its line away from them each time. */
    unsigned int closing;
    hop__timer_clock_t *clock; /* timers started on the loop thread */
    hop__loop_handle_t *handles; /* open I/O handles, closed when the loop closes (core/loop_handles.h) */
    hop_loop_t *loop;
    uv_loop_t uv;
    uv_async_t async;     /* producers' wake-ups */
    uv_prepare_t prepare; /* before each poll: drain, spin, announce SLEEPING */
    uv_check_t check;     /* after each poll: back to AWAKE */
    uv_idle_t idle;       /* active while a batch was cut short: the poll must not block */
    uv_timer_t timer;     /* armed for the clock's earliest deadline */
    pthread_t thread;     /* hop_loop_start's */
    char name[16];
    hop__fork_entry_t fork_entry; /* tracked from init until close (fork.h) */
} hop__loop_t;

static int hop__loop_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags);
static void hop__loop_task_enter(hop_executor_t *executor);
static void hop__loop_task_leave(hop_executor_t *executor);

static const hop_executor_ops_t hop__loop_ops = {.name = "loop",
                                                 .submit = hop__loop_submit,
                                                 .task_enter = hop__loop_task_enter,
                                                 .task_leave = hop__loop_task_leave};

/* What a closed loop's executor points at: it refuses everything and never
 * touches the freed internals. (A loop whose init failed has no ops: it was
 * never initialised.) */
static const hop_executor_ops_t hop__loop_closed_ops = {.name = "loop (closed)",
                                                        .submit = hop__gate_closed_submit};

/* What a loop inherited by a child process of fork() points at: it refuses
 * everything, and its close only frees hop's memory (the loop's thread does
 * not exist in the child). */
static const hop_executor_ops_t hop__loop_forked_ops = {.name = "loop (forked)",
                                                        .submit = hop__gate_closed_submit};

/* ---- the current loop ------------------------------------------------- */

HOP__TLS_SLOT(hop__loop_current_slot, hop_loop_t *)

__attribute__((noinline)) hop_loop_t *hop_loop_current(void) { return *hop__loop_current_slot(); }

/* ---- pins -------------------------------------------------------------- */

static unsigned int hop__loop_pin(hop_loop_t *loop) { return hop__gate_enter(&loop->state); }

static void hop__loop_unpin(hop_loop_t *loop) { hop__gate_leave(&loop->state); }

/* Whether loop was initialised (open or closed since): a zeroed or failed
 * one was not, and has no internals to look at. */
static bool hop__loop_valid(const hop_loop_t *loop) {
    const hop_executor_ops_t *ops = hop__atomic_load_ptr((const hop_executor_ops_t **)&loop->executor.ops);
    return ops == &hop__loop_ops || ops == &hop__loop_closed_ops || ops == &hop__loop_forked_ops;
}

static hop__loop_t *hop__loop_internal(hop_loop_t *loop) { return hop__atomic_load_ptr(&loop->internal); }

/* ---- waking the loop thread -------------------------------------------- */

static void hop__loop_signal(hop__loop_t *l) {
    hop__atomic_faa_u64(&l->wakeups_sent, 1);
    HOP__OBSERVE(hop__observe_wakeup(&l->loop->executor));
    uv_async_send(&l->async);
}

/* After a push from another thread, or a store followed by a full fence:
 * wake the loop if it announced SLEEPING. The caller's write must be
 * visible before this read of wake (Dekker with the loop's announcement):
 * the inbox's push is a full barrier itself. */
static void hop__loop_wake_if_sleeping(hop__loop_t *l) {
    if (hop__atomic_load_uint(&l->wake) != HOP__WAKE_SLEEPING)
        return; /* it will look at the inbox again: nothing to do */
    if (!hop__atomic_cas_uint(&l->wake, HOP__WAKE_SLEEPING, HOP__WAKE_AWAKE))
        return; /* another producer won and signals, or the loop woke up */
    hop__loop_signal(l);
}

/* ---- executor ops -------------------------------------------------------- */

static int hop__loop_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    hop_loop_t *loop = (hop_loop_t *)executor;
    /* On the loop thread the loop cannot be freed under us, and it reaches
     * its prepare callback (which looks at the inbox) before it blocks. */
    bool here = *hop__loop_current_slot() == loop;
    unsigned int state = here ? hop__gate_peek(&loop->state) : hop__loop_pin(loop);
    int err = hop__gate_admit(state, flags);
    if (!err) {
        hop__loop_t *l = hop__loop_internal(loop);
        hop__mpsc_queue_push_mpsc(&l->inbox, job);
        if (!here)
            hop__loop_wake_if_sleeping(l);
    }
    if (!here)
        hop__loop_unpin(loop);
    return err;
}

static void hop__loop_task_enter(hop_executor_t *executor) {
    hop_loop_t *loop = (hop_loop_t *)executor;
    bool here = *hop__loop_current_slot() == loop;
    unsigned int state = here ? hop__gate_peek(&loop->state) : hop__loop_pin(loop);
    if (!(state & HOP__LOOP_CLOSED))
        hop__atomic_faa_uint(&hop__loop_internal(loop)->tasks, 1u);
    if (!here)
        hop__loop_unpin(loop);
}

static void hop__loop_task_leave(hop_executor_t *executor) {
    hop_loop_t *loop = (hop_loop_t *)executor;
    bool here = *hop__loop_current_slot() == loop;
    unsigned int state = here ? hop__gate_peek(&loop->state) : hop__loop_pin(loop);
    /* CLOSED: this task's submit was refused after close had counted no task
     * left; the count no longer exists. */
    if (!(state & HOP__LOOP_CLOSED)) {
        hop__loop_t *l = hop__loop_internal(loop);
        unsigned int before = hop__atomic_faa_uint(&l->tasks, (unsigned int)-1);
        if (before == 0u)
            hop__fatal("loop %p: a task left it more often than it entered", (void *)loop);
        /* The loop may be waiting for its last task to go (closing, hop_run).
         * On its own thread it re-checks before blocking anyway. */
        if (before == 1u && !here)
            hop__loop_signal(l);
        if (here)
            l->task_left = true;
    }
    if (!here)
        hop__loop_unpin(loop);
}

/* ---- open handles (core/loop_handles.h) ------------------------------------ */

void hop__loop_handle_link(hop_loop_t *loop, hop__loop_handle_t *lh) {
    hop__loop_t *l = hop__loop_internal(loop);
    if (lh->linked)
        return;
    lh->prev = NULL;
    lh->next = l->handles;
    if (l->handles)
        l->handles->prev = lh;
    l->handles = lh;
    lh->linked = true;
}

void hop__loop_handle_unlink(hop_loop_t *loop, hop__loop_handle_t *lh) {
    if (!lh->linked)
        return;
    hop__loop_t *l = hop__loop_internal(loop);
    if (lh->prev)
        lh->prev->next = lh->next;
    else
        l->handles = lh->next;
    if (lh->next)
        lh->next->prev = lh->prev;
    lh->prev = lh->next = NULL;
    lh->linked = false;
}

/* Closes every open handle (loop thread, closing loop): their waiters wake
 * with HOP_ECLOSED, which is what lets tasks waiting on I/O finish, so close
 * does not wait for them forever. Each close unlinks its handle. */
static void hop__loop_close_handles(hop__loop_t *l) {
    while (l->handles) {
        hop__loop_handle_t *lh = l->handles;
        lh->close(lh);
        if (l->handles == lh)
            hop__loop_handle_unlink(l->loop, lh); /* a close that forgot: no endless loop */
    }
}

/* ---- the loop thread ------------------------------------------------------ */

static bool hop__loop_should_stop(hop__loop_t *l) {
    if (l->mode == HOP__MODE_RUN && hop__atomic_load_uint(&l->stop_requested))
        return true;
    bool closing = hop__atomic_load_uint(&l->closing);
    if (closing)
        hop__loop_close_handles(l);
    bool until_idle = l->mode == HOP__MODE_CLOSE || l->mode == HOP__MODE_MAIN || closing;
    if (!until_idle)
        return false;
    if (hop__atomic_load_uint(&l->tasks) != 0u || hop__mpsc_queue_peek_spsc(&l->inbox) != HOP__MPSC_EMPTY)
        return false;
    l->finished = 1;
    return true;
}

/* LAGGING: waits until the job HOP__LOOP_LAG_FILL pops ahead is published,
 * looking at that one slot every HOP__LOOP_LAG_LOOK_NS (producers write it
 * last of all, so until then the look costs them nothing), for at most
 * HOP__LOOP_LAG_MAX_NS; gives up at HOP__LOOP_LAG_SLOW_NS if the job two
 * pops ahead has not come by then (producers are not busy: take what is
 * there). Loop thread. */
static void hop__loop_lag(hop__loop_t *l) {
    uint64_t start = hop_time_now_ns(), now = start;
    bool slow_checked = false;
    while (!hop__mpsc_queue_ahead_spsc(&l->inbox, HOP__LOOP_LAG_FILL - 1) &&
           now - start < HOP__LOOP_LAG_MAX_NS) {
        if (!slow_checked && now - start >= HOP__LOOP_LAG_SLOW_NS) {
            if (!hop__mpsc_queue_ahead_spsc(&l->inbox, 1))
                break;
            slow_checked = true;
        }
        uint64_t look = now + HOP__LOOP_LAG_LOOK_NS;
        while ((now = hop_time_now_ns()) < look)
            hop__atomic_pause();
    }
    hop__atomic_store_u64(&l->lags, hop__atomic_load_u64(&l->lags) + 1u);
}

/* Runs inbox jobs until the inbox has nothing ready or the turn's budget is
 * spent. Returns true when it stopped for the budget (jobs may be left). */
static bool hop__loop_drain(hop__loop_t *l) {
    hop_executor_t *executor = &l->loop->executor;
    unsigned int ran = 0;
    bool spent = false;
    if (l->lag) {
        l->lag = false;
        hop__loop_lag(l);
    }
    /* The jobs' submissions to a pool (a task's hop_run_in_executor, a
     * dispatch) go to it as one chain per batch: see internal.h. */
    hop__batch_open();
    for (;;) {
        if (l->turn_ran + ran >= l->batch) {
            spent = true;
            break;
        }
        if (l->mode == HOP__MODE_RUN && hop__atomic_load_uint(&l->stop_requested)) {
            uv_stop(&l->uv); /* "after the job in progress": the rest stays queued */
            break;
        }
        hop_job_t *job;
        if (hop__mpsc_queue_pop_spsc(&l->inbox, &job) != HOP__MPSC_ITEM)
            break;
        /* The next jobs are known: their lines start coming while this job
         * runs, in three steps two jobs apart, each reading only what the
         * step before brought: the job's own line four jobs ahead; if it
         * resumes a task, the task's record two ahead (which the job's
         * function pointer tells); the top of its stack next (whose
         * address the record holds). Reading any of them before it has
         * arrived would stall the loop on one miss after another. */
        hop_job_t *ahead;
        if ((ahead = hop__mpsc_queue_ahead_spsc(&l->inbox, 0)) != NULL)
            hop__task_prefetch_stack(ahead);
        if ((ahead = hop__mpsc_queue_ahead_spsc(&l->inbox, 2)) != NULL)
            hop__task_prefetch_record(ahead);
        if ((ahead = hop__mpsc_queue_ahead_spsc(&l->inbox, 4)) != NULL)
            hop__prefetch_for_write(ahead);
        hop_executor_run_job(executor, job);
        ran++;
        /* Counted as each job returns, so that a thread that saw the job's
         * effect sees it counted. Single writer: load and store, no RMW. */
        hop__atomic_store_u64(&l->jobs_run, hop__atomic_load_u64(&l->jobs_run) + 1u);
    }
    bool behind = hop__batch_close();
    if (ran) {
        l->lag = !spent && ran <= HOP__LOOP_LAG_JOBS && behind; /* LAGGING; an empty drain changes nothing */
        l->turn_ran += ran;
        hop__atomic_store_u64(&l->batches, hop__atomic_load_u64(&l->batches) + 1u);
    }
    return spent;
}

static void hop__loop_keep_polling(hop__loop_t *l);

static void hop__loop_idle_cb(uv_idle_t *handle) {
    hop__loop_t *l = handle->data;
    if (!hop__loop_drain(l))
        uv_idle_stop(&l->idle); /* caught up: prepare decides whether to block */
}

static void hop__loop_keep_polling(hop__loop_t *l) {
    if (!uv_is_active((uv_handle_t *)&l->idle))
        uv_idle_start(&l->idle, hop__loop_idle_cb);
}

static void hop__loop_async_cb(uv_async_t *handle) {
    hop__loop_t *l = handle->data;
    if (hop__loop_drain(l))
        hop__loop_keep_polling(l);
}

/* ---- timers ------------------------------------------------------------ */

static void hop__loop_timer_cb(uv_timer_t *handle);

/* Arms the uv timer for deadline next (HOP__TIMER_NEVER: none), rounded up
 * to libuv's milliseconds. If libuv's clock rounds it a little early, the
 * callback finds nothing due and arms again for the rest. A busy-polling
 * loop rounds down instead, and polls out the last fraction of a
 * millisecond (timer_poll_at, looked at in prepare): its timers fire within
 * microseconds of their deadline, not up to a millisecond after it. Loop
 * thread. */
static void hop__loop_timer_arm(hop__loop_t *l, uint64_t next) {
    l->timer_poll_at = 0;
    if (next == HOP__TIMER_NEVER) {
        uv_timer_stop(&l->timer);
        return;
    }
    /* libuv's cached time may be stale by the callbacks run since the poll. */
    uv_update_time(&l->uv);
    uint64_t now = hop_time_now_ns();
    uint64_t ms;
    if (l->busy_poll_ns) {
        ms = next > now ? (next - now) / 1000000u : 0u;
        if (ms == 0) {
            /* Not a 0 ms uv timer: prepare polls for it, between polls for I/O. */
            uv_timer_stop(&l->timer);
            l->timer_poll_at = next;
            hop__loop_keep_polling(l);
            return;
        }
    } else {
        ms = next > now ? (next - now + 999999u) / 1000000u : 0u;
    }
    uv_timer_start(&l->timer, hop__loop_timer_cb, ms, 0);
}

static void hop__loop_timer_cb(uv_timer_t *handle) {
    hop__loop_t *l = handle->data;
    hop__loop_timer_arm(l, hop__timer_clock_run_due(l->clock));
}

/* Re-arms the uv timer if the clock asked for it since the last time.
 * Returns whether it did. */
static bool hop__loop_timer_rearm_if_asked(hop__loop_t *l) {
    if (!hop__atomic_load_uint(&l->timer_rearm) || !hop__atomic_fas_uint(&l->timer_rearm, 0u))
        return false;
    hop__loop_timer_arm(l, hop__timer_clock_next(l->clock));
    return true;
}

/* The clock's rearm: any thread, under the clock's lock, so only a flag and
 * the wake-up (no uv_* call but uv_async_send). The clock never calls it
 * once hop_loop_close has closed it, so l is alive here. */
static void hop__loop_timer_rearm(void *ctx) {
    hop__loop_t *l = ctx;
    hop__atomic_store_uint(&l->timer_rearm, 1u);
    /* On the loop thread, prepare looks at the flag before the next poll. */
    if (*hop__loop_current_slot() != l->loop) {
        hop__atomic_fence_full(); /* the flag before the read of wake */
        hop__loop_wake_if_sleeping(l);
    }
}

static const hop__timer_clock_ops_t hop__loop_timer_ops = {.rearm = hop__loop_timer_rearm};

static void hop__loop_check_cb(uv_check_t *handle) {
    hop__loop_t *l = handle->data;
    HOP__OBSERVE(hop__observe_turn(&l->loop->executor, true));
    /* Awake again after the poll: producers need not signal until the next
     * prepare re-checks the inbox. A cheap read first: the line is shared. */
    if (hop__atomic_load_uint(&l->wake) == HOP__WAKE_SLEEPING)
        hop__atomic_store_uint(&l->wake, HOP__WAKE_AWAKE);
}

/* How long this turn may spin, in ns: 0 unless the loop owns tasks, or a
 * task left it since the last spin (a task that dispatched itself to the
 * pool usually comes back within microseconds, as in dispatch_to_executor +
 * dispatch_to_loop; one spin window per departure, then the loop blocks),
 * or this turn ran jobs (two loops posting to each other: the answer to
 * what this turn posted comes back within microseconds); never past the
 * next timer (libuv's own poll timeout, in ms). */
static uint64_t hop__loop_spin_budget(hop__loop_t *l) {
    bool departed = l->task_left;
    l->task_left = false;
    if (!l->spin_ns || (hop__atomic_load_uint(&l->tasks) == 0u && !departed && !l->turn_ran))
        return 0;
    if (!hop__spin_allowed(uv_hrtime())) /* the machine has no spare CPU: see core/spin.h */
        return 0;
    /* Spins that keep missing say this loop's work comes back later than the
     * window (a server whose offloads take milliseconds): then only every
     * HOP__LOOP_SPIN_PROBE-th idle period spins, to notice when that changes. */
    if (!hop__loop_wait_gate_allows(&l->spin_gate))
        return 0;
    int timeout_ms = uv_backend_timeout(&l->uv);
    if (timeout_ms >= 0 && (uint64_t)timeout_ms * 1000000u < l->spin_ns)
        return (uint64_t)timeout_ms * 1000000u;
    return l->spin_ns;
}

/* Whether anything besides the loop's own machinery waits for the poll:
 * an active handle that keeps the loop alive (a socket reading, a listener,
 * a user's timer; of the loop's own handles only the async one counts) or
 * a libuv request under way (fs, DNS, connect, write). */
static bool hop__loop_io_waits(const hop__loop_t *l) {
    return l->uv.active_handles > 1u || l->uv.active_reqs.count != 0u;
}

/* Between two busy polls, the first of which found nothing: sleeps
 * busy_nap_ns (BUSY POLLING above), unless a timer is due before the nap
 * plus a millisecond is over: the kernel may lengthen a sleep by the
 * thread's timer slack (50 us by default), and the last millisecond before
 * a timer is polled out (timer_arm). Returns the time after it (uv_hrtime). */
static uint64_t hop__loop_busy_nap(hop__loop_t *l, uint64_t now) {
    if (l->timer_poll_at)
        return now;
    uint64_t next = hop__timer_clock_next(l->clock);
    if (next != HOP__TIMER_NEVER && next < hop_time_now_ns() + l->busy_nap_ns + 1000000u)
        return now;
    struct timespec nap = {.tv_sec = (time_t)(l->busy_nap_ns / 1000000000u),
                           .tv_nsec = (long)(l->busy_nap_ns % 1000000000u)};
    nanosleep(&nap, NULL); /* EINTR: a shorter nap, harmless */
    hop__atomic_store_u64(&l->busy_poll_naps, hop__atomic_load_u64(&l->busy_poll_naps) + 1u);
    return uv_hrtime();
}

/* Prepare, inbox empty and no spin window open: whether the coming poll is
 * a busy one (BUSY POLLING above). If so, the idle handle is started. */
static bool hop__loop_busy_poll(hop__loop_t *l) {
    if (!l->busy_poll_ns || !hop__loop_io_waits(l))
        return false;
    uint64_t now = uv_hrtime();
    bool found_nothing = l->busy_polled && !l->turn_ran;
    if (found_nothing && now - l->busy_looked >= hop__atomic_load_u64(&hop__spin_preempted_ns)) {
        l->busy_rest_until = now + HOP__SPIN_REST_NS; /* an empty turn took a time slice: CPU taken away */
    } else if (l->turn_ran) {
        if (l->busy_polled)
            hop__loop_wait_gate_caught(&l->busy_gate); /* the last busy poll found this work */
        if (hop__loop_wait_gate_allows(&l->busy_gate))
            l->busy_until = now + l->busy_poll_ns;
    }
    l->busy_polled = false;
    if (now >= l->busy_until || now < l->busy_rest_until) {
        if (found_nothing)
            hop__loop_wait_gate_missed(&l->busy_gate); /* the window ended without a catch */
        return false;
    }
    if (found_nothing && l->busy_nap_ns)
        now = hop__loop_busy_nap(l, now);
    l->busy_looked = now;
    l->busy_polled = true;
    hop__atomic_store_u64(&l->busy_polls, hop__atomic_load_u64(&l->busy_polls) + 1u);
    hop__loop_keep_polling(l);
    return true;
}

/* Right before libuv polls for I/O: run what is queued (within the turn's
 * budget), spin if that pays, then announce SLEEPING so that the poll may
 * block. On return either the poll will not block (idle handle active, or
 * uv_stop), or SLEEPING was stored and the inbox re-checked after it. */
static void hop__loop_prepare_cb(uv_prepare_t *handle) {
    hop__loop_t *l = handle->data;
    /* The spin window (0: none open): it ends at spin_until, however much it
     * catches, so that I/O waits at most one window. */
    uint64_t spin_until = 0, looked = 0;
    bool spun = false, for_departure = false, caught_any = false;
    for (;;) {
        if (hop__loop_should_stop(l)) {
            uv_stop(&l->uv);
            break;
        }
        if (l->timer_poll_at && hop_time_now_ns() >= l->timer_poll_at) /* see timer_arm */
            hop__loop_timer_arm(l, hop__timer_clock_run_due(l->clock));
        if (uv_is_active((uv_handle_t *)&l->idle))
            break; /* a batch was cut short: poll without blocking, then drain on */
        hop__mpsc_result_t found = hop__mpsc_queue_peek_spsc(&l->inbox);
        if (found == HOP__MPSC_ITEM) {
            bool caught = spin_until != 0;
            if (caught) {
                hop__loop_wait_gate_caught(&l->spin_gate);
                caught_any = true;
                HOP__OBSERVE(hop__observe_spin(&l->loop->executor, true));
            }
            /* Budget spent: I/O's turn. A catch ends the turn too while
             * anything waits for the poll (a socket, a request: a server's
             * next request must not wait out the window); otherwise it does
             * not end the window: a poll is a system call, which costs as
             * much as the round trip the spin just caught where system
             * calls are slow (about 1.2 us on the AMD VMs of
             * bench/RESULTS.md), and the next round trip would come back
             * while the loop is inside it. */
            if (hop__loop_drain(l) || (caught && hop__loop_io_waits(l))) {
                hop__loop_keep_polling(l);
                break;
            }
            if (caught)
                looked = uv_hrtime(); /* the drain is no gap in the spin */
            continue;
        }
        /* Empty. The timer is re-armed before the spin budget and the poll
         * timeout are computed. A job that started an earlier timer ends the
         * window: the uv timer it re-arms is not looked at while spinning. */
        if (hop__loop_timer_rearm_if_asked(l) && spin_until)
            spin_until = looked;
        if (!spun) {
            for_departure = hop__atomic_load_uint(&l->tasks) == 0u;
            uint64_t budget = hop__loop_spin_budget(l);
            spun = true;
            if (budget) {
                looked = uv_hrtime();
                spin_until = looked + budget;
            }
        }
        if (spin_until) {
            int i = 0;
            while (i < 64 && hop__mpsc_queue_peek_spsc(&l->inbox) != HOP__MPSC_ITEM) {
                hop__atomic_pause();
                i++;
            }
            if (i < 64)
                continue; /* work: run it now, not after a yield */
            /* On a loaded machine the thread we wait for may be runnable on
             * this very CPU (two loops passing a task back and forth often
             * share one): spinning through our time slice would delay it by
             * the whole spin. So each round of looks that found nothing
             * ends with a yield. A yield that returns only after others
             * ran, or a gap between two looks, says the machine has no
             * spare CPU, and spinning stops (core/spin.h). Yielding less
             * often (only after 10 us without work, or every 2nd to 8th
             * round while yields returned at once) made round trips between
             * two loops 2-3x slower on the shared VMs of bench/RESULTS.md. */
            sched_yield();
            uint64_t now = uv_hrtime();
            if (hop__spin_preempted(looked, now))
                now = spin_until;
            looked = now;
            /* A task that finished elsewhere ends the reason to spin, unless
             * the spin is for a departed task that may come back. */
            if (now < spin_until &&
                (for_departure || l->task_left || hop__atomic_load_uint(&l->tasks) != 0u))
                continue;
            spin_until = 0;
            if (caught_any) {
                /* The window caught work: poll I/O without blocking, and the
                 * next turn opens a window again. */
                hop__loop_keep_polling(l);
                break;
            }
            hop__loop_wait_gate_missed(&l->spin_gate);
            HOP__OBSERVE(hop__observe_spin(&l->loop->executor, false));
            continue; /* one last look before announcing */
        }
        if (hop__loop_busy_poll(l))
            break; /* the poll returns at once, and the next prepare looks again */
        if (l->timer_poll_at) {
            hop__loop_keep_polling(l); /* a timer due within a millisecond: see timer_arm */
            break;
        }
        hop__atomic_store_uint(&l->wake, HOP__WAKE_SLEEPING);
        /* The store above before the re-check below (Dekker with producers,
         * and with a rearm from another thread). */
        hop__atomic_fence_full();
        if (hop__mpsc_queue_peek_spsc(&l->inbox) != HOP__MPSC_ITEM && !hop__atomic_load_uint(&l->timer_rearm))
            break; /* empty: a producer that pushes now reads SLEEPING after its push */
        /* Work (or a rearm) came in between the drain and the announcement:
         * take the announcement back. If a producer already took it (and signals),
         * the extra async callback finds little or nothing: harmless. */
        hop__atomic_fas_uint(&l->wake, HOP__WAKE_AWAKE);
    }
    l->turn_ran = 0; /* the poll that follows is I/O's turn */
    HOP__OBSERVE(hop__observe_turn(&l->loop->executor, false));
}

static void *hop__loop_thread_main(void *arg) {
    hop__loop_t *l = arg;
    pthread_setname_np(pthread_self(), l->name);
    hop__overflow_thread_init(); /* a signal stack, to name a task that overflows here */
    *hop__loop_current_slot() = l->loop;
    hop__timer_clock_set_current(l->clock);
    if (l->on_thread_start)
        l->on_thread_start(&l->loop->executor, l->hook_arg);
    /* uv_run also returns if a user calls uv_stop: keep going until close. */
    while (!l->finished)
        uv_run(&l->uv, UV_RUN_DEFAULT);
    if (l->on_thread_stop)
        l->on_thread_stop(&l->loop->executor, l->hook_arg);
    hop__timer_clock_set_current(NULL);
    *hop__loop_current_slot() = NULL;
    return NULL;
}

/* Runs the uv loop on this thread in mode until its stop condition. */
static void hop__loop_drive(hop_loop_t *loop, hop__loop_t *l, int mode, bool until_finished) {
    hop_loop_t **slot = hop__loop_current_slot();
    hop_loop_t *outer = *slot;
    l->mode = mode;
    l->finished = 0;
    *slot = loop;
    hop__timer_clock_t *outer_clock = hop__timer_clock_set_current(l->clock);
    do
        uv_run(&l->uv, UV_RUN_DEFAULT);
    while (until_finished && !l->finished);
    hop__timer_clock_set_current(outer_clock);
    *slot = outer;
}

/* ---- state word helpers -------------------------------------------------- */

static unsigned int hop__loop_update_flags(hop_loop_t *loop, unsigned int set, unsigned int clear) {
    return hop__gate_update(&loop->state, set, clear);
}

/* ---- public API ------------------------------------------------------------ */

/* In a child process after fork(), on the forking thread: the loop refuses
 * everything from now on (every call but close sees it CLOSED), whether it
 * ran in the parent or not; pins of the parent's threads are forgotten. */
static void hop__loop_forked(hop__fork_entry_t *entry) {
    hop__loop_t *l = hop__container_of(entry, hop__loop_t, fork_entry);
    hop_loop_t *loop = l->loop;
    hop__atomic_store_ptr(&loop->executor.ops, &hop__loop_forked_ops);
    hop__atomic_store_uint(&loop->state, HOP__LOOP_CLOSING | HOP__LOOP_CLOSED);
}

int hop_loop_init(hop_loop_t *loop, const hop_loop_options_t *options) {
    static const hop_loop_options_t defaults = {0};
    if (!loop)
        return HOP_EINVAL;
    /* Never initialised until it succeeds: every call but init refuses it. */
    memset(loop, 0, sizeof *loop);
    if (!options)
        options = &defaults;
    const char *name = options->name ? options->name : HOP__LOOP_NAME_DEFAULT;
    if (strlen(name) > 15 || (options->spin_us < 0 && options->spin_us != HOP_SPIN_NEVER) ||
        options->busy_poll_us < 0 || options->busy_poll_nap_us < 0)
        return HOP_EINVAL;

    size_t size = (sizeof(hop__loop_t) + HOP__CACHELINE - 1) / HOP__CACHELINE * HOP__CACHELINE;
    hop__loop_t *l = hop__aligned_alloc(HOP__CACHELINE, size);
    if (!l)
        return HOP_ENOMEM;
    memset(l, 0, sizeof *l);
    hop__mpsc_queue_init(&l->inbox);
    l->wake = HOP__WAKE_AWAKE;
    l->batch = options->batch ? options->batch : HOP__LOOP_BATCH_DEFAULT;
    l->spin_ns = options->spin_us == HOP_SPIN_NEVER ? 0u
                 : (uint64_t)(options->spin_us ? options->spin_us : HOP__LOOP_SPIN_US_DEFAULT) * 1000u;
    l->busy_poll_ns = (uint64_t)options->busy_poll_us * 1000u;
    l->busy_nap_ns = (uint64_t)options->busy_poll_nap_us * 1000u;
    /* The spin: 8 misses in a row close it, a catch opens it again. */
    hop__loop_wait_gate_init(&l->spin_gate, HOP__LOOP_SPIN_MISSES, HOP__LOOP_SPIN_MISSES, 1, HOP__LOOP_SPIN_PROBE);
    hop__loop_wait_gate_init(&l->busy_gate, HOP__LOOP_BUSY_CREDIT, 1, HOP__LOOP_BUSY_MISS_COST,
                             HOP__LOOP_BUSY_PROBE);
    l->loop = loop;
    l->on_thread_start = options->on_thread_start;
    l->on_thread_stop = options->on_thread_stop;
    l->hook_arg = options->hook_arg;
    strcpy(l->name, name);
    l->clock = hop__timer_clock_create(&hop__loop_timer_ops, l);
    if (!l->clock) {
        free(l);
        return HOP_ENOMEM;
    }
    if (hop__uv_init(uv_loop_init(&l->uv)) != 0) {
        hop__timer_clock_free(l->clock);
        free(l);
        return HOP_EAGAIN;
    }
    if (hop__uv_init(uv_async_init(&l->uv, &l->async, hop__loop_async_cb)) != 0) {
        uv_loop_close(&l->uv);
        hop__timer_clock_free(l->clock);
        free(l);
        return HOP_EAGAIN;
    }
    /* These cannot fail: they only link the handle into the loop. */
    uv_prepare_init(&l->uv, &l->prepare);
    uv_check_init(&l->uv, &l->check);
    uv_idle_init(&l->uv, &l->idle);
    uv_timer_init(&l->uv, &l->timer);
    l->async.data = l->prepare.data = l->check.data = l->idle.data = l->timer.data = l;
    uv_prepare_start(&l->prepare, hop__loop_prepare_cb);
    uv_check_start(&l->check, hop__loop_check_cb);
    /* The prepare, check and timer handles alone must not keep uv_run
     * going; the async handle does (the loop runs until stopped, like a
     * server). Pending timers do not keep a closing loop open: its tasks do. */
    uv_unref((uv_handle_t *)&l->prepare);
    uv_unref((uv_handle_t *)&l->check);
    uv_unref((uv_handle_t *)&l->timer);

    loop->internal = l;
    loop->state = 0;
    loop->executor.ops = &hop__loop_ops;
    hop__fork_track(&l->fork_entry, hop__loop_forked);
    return 0;
}

/* Marks the loop RUNNING (plus flags) unless it is closing or already
 * running somewhere: the one claim shared by hop_loop_start and run. */
static int hop__loop_claim_running(hop_loop_t *loop, unsigned int flags) {
    for (;;) {
        unsigned int state = hop__atomic_load_uint(&loop->state);
        if (state & HOP__LOOP_CLOSING)
            return HOP_ECLOSED;
        if (state & HOP__LOOP_RUNNING)
            return HOP_EBUSY;
        if (hop__atomic_cas_uint(&loop->state, state, state | HOP__LOOP_RUNNING | flags))
            return 0;
    }
}

int hop_loop_start(hop_loop_t *loop) {
    if (!loop || !hop__loop_valid(loop))
        return HOP_EINVAL;
    int err = hop__loop_claim_running(loop, HOP__LOOP_STARTED);
    if (err)
        return err;
    hop__loop_t *l = hop__loop_internal(loop);
    l->mode = HOP__MODE_THREAD;
    l->finished = 0;
    if (hop__pthread_create(&l->thread, NULL, hop__loop_thread_main, l) != 0) {
        hop__loop_update_flags(loop, 0, HOP__LOOP_RUNNING | HOP__LOOP_STARTED);
        return HOP_EAGAIN;
    }
    return 0;
}

int hop_loop_run(hop_loop_t *loop) {
    if (!loop || !hop__loop_valid(loop))
        return HOP_EINVAL;
    if (*hop__loop_current_slot())
        return HOP_EBUSY; /* this thread runs a loop already: uv_run does not nest */
    int err = hop__loop_claim_running(loop, 0);
    if (err)
        return err;
    hop__loop_t *l = hop__loop_internal(loop);
    hop__loop_drive(loop, l, HOP__MODE_RUN, false);
    /* Consumed: a stop that arrives from now on stops the next run. */
    hop__atomic_store_uint(&l->stop_requested, 0u);
    hop__loop_update_flags(loop, 0, HOP__LOOP_RUNNING);
    return 0;
}

int hop_loop_stop(hop_loop_t *loop) {
    if (!loop || !hop__loop_valid(loop))
        return HOP_EINVAL;
    bool here = *hop__loop_current_slot() == loop;
    unsigned int state = here ? hop__gate_peek(&loop->state) : hop__loop_pin(loop);
    int err = HOP_ECLOSED;
    if (!(state & HOP__LOOP_CLOSED)) {
        err = 0;
        hop__loop_t *l = hop__loop_internal(loop);
        hop__atomic_store_uint(&l->stop_requested, 1u);
        if (!here)
            hop__loop_signal(l); /* it may be blocked in epoll */
    }
    if (!here)
        hop__loop_unpin(loop);
    return err;
}

static void hop__loop_close_handle(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (!uv_is_closing(handle))
        uv_close(handle, NULL);
}

int hop_loop_close(hop_loop_t *loop) {
    if (!loop || !hop__loop_valid(loop))
        return HOP_EINVAL;
    if (hop__atomic_load_ptr(&loop->executor.ops) == &hop__loop_forked_ops) {
        /* Inherited through fork(): nothing is freed. libuv's descriptors
         * and handles, I/O handles still open on it and the timer clock all
         * point into the internals, and closing them needs the loop run and
         * locks the parent's loop thread may have held; a few KiB left
         * behind is the safe answer. */
        hop__atomic_store_ptr(&loop->executor.ops, &hop__loop_closed_ops);
        return 0;
    }
    if (*hop__loop_current_slot() == loop)
        return HOP_EDEADLK;
    /* This loop's tasks may wait for work this thread staged. */
    hop__batch_flush();
    /* HOP_EALREADY: closed or closing; HOP_EBUSY: hop_loop_run is running it
     * on another thread. RUNNING is set also for a loop nobody runs: this
     * thread drains it below. */
    unsigned int state;
    int err = hop__gate_close_begin(&loop->state, HOP__LOOP_RUNNING, HOP__LOOP_RUNNING | HOP__LOOP_STARTED,
                                    HOP__LOOP_RUNNING, &state);
    if (err)
        return err;
    hop__loop_t *l = hop__loop_internal(loop);
    hop__atomic_store_uint(&l->closing, 1u); /* before the wake-up or the drive below */
    if (state & HOP__LOOP_STARTED) {
        /* From now on the loop thread stops once it owns no task and its
         * inbox is empty; wake it in case it is blocked already. */
        hop__loop_signal(l);
        pthread_join(l->thread, NULL);
    } else {
        hop__loop_drive(loop, l, HOP__MODE_CLOSE, true);
    }
    /* A producer that pinned before CLOSING was set saw the loop open and
     * may still be pushing: its job was accepted and must run. Pins taken
     * after CLOSING never push (only continuations are accepted, and no
     * task is left to continue), so once the pin count has been zero, the
     * inbox holds everything it will ever hold. */
    hop__gate_wait_unpinned(&loop->state);
    if (hop__mpsc_queue_peek_spsc(&l->inbox) != HOP__MPSC_EMPTY || hop__atomic_load_uint(&l->tasks) != 0u)
        hop__loop_drive(loop, l, HOP__MODE_CLOSE, true); /* on this thread: the loop thread is gone */

    /* Wait out the threads still inside a submit, enter or leave (they saw
     * CLOSING and are backing off), then retire the internals in the same
     * step: CLOSED is set only when no pin is held. */
    hop__gate_seal(&loop->state);
    if (hop__mpsc_queue_peek_spsc(&l->inbox) != HOP__MPSC_EMPTY)
        hop__fatal("loop %p: a job was accepted after close drained the inbox", (void *)loop);
    hop__atomic_store_ptr(&loop->executor.ops, &hop__loop_closed_ops);

    /* No task is left to wait for a timer: the clock's pending timers are
     * dropped, and from now on starting one on this loop (say, from a
     * handle's close callback below) returns HOP_ECLOSED. Nothing calls its
     * rearm (which touches l) any more. */
    hop__timer_clock_close(l->clock);
    uv_close((uv_handle_t *)&l->timer, NULL);

    /* Every handle left (ours and users'), then the loop itself. Close
     * callbacks of users' handles run here, on this thread. */
    hop_loop_t **slot = hop__loop_current_slot();
    hop_loop_t *outer = *slot;
    *slot = loop;
    hop__timer_clock_t *outer_clock = hop__timer_clock_set_current(l->clock);
    hop__loop_close_handles(l); /* with their close callbacks, before the walk */
    uv_walk(&l->uv, hop__loop_close_handle, NULL);
    while (uv_loop_close(&l->uv) == UV_EBUSY) {
        uv_run(&l->uv, UV_RUN_DEFAULT);
        hop__loop_close_handles(l);
        uv_walk(&l->uv, hop__loop_close_handle, NULL);
    }
    hop__timer_clock_set_current(outer_clock);
    *slot = outer;
    hop__timer_clock_free(l->clock);
    hop__mpsc_queue_destroy(&l->inbox);
    hop__fork_untrack(&l->fork_entry);
    hop__atomic_store_ptr(&loop->internal, NULL);
    hop__loop_update_flags(loop, 0, HOP__LOOP_RUNNING | HOP__LOOP_STARTED);
    free(l);
    hop__observe_executor_closed(&loop->executor);
    return 0;
}

hop_executor_t *hop_loop_executor(hop_loop_t *loop) { return loop ? &loop->executor : NULL; }

struct uv_loop_s *hop_loop_uv(hop_loop_t *loop) {
    if (!loop || !hop__loop_valid(loop) || (hop__atomic_load_uint(&loop->state) & HOP__LOOP_CLOSED))
        return NULL;
    hop__loop_t *l = hop__loop_internal(loop);
    return l ? &l->uv : NULL;
}

int hop_loop_post(hop_loop_t *loop, hop_job_t *job) {
    if (!loop || !job || !job->run)
        return HOP_EINVAL;
    return hop_executor_submit(&loop->executor, job);
}

int hop_loop_stats(const hop_loop_t *loop, hop_loop_stats_t *stats) {
    if (!loop || !stats || !hop__loop_valid(loop))
        return HOP_EINVAL;
    hop_loop_t *mutable_loop = (hop_loop_t *)loop;
    memset(stats, 0, sizeof *stats);
    unsigned int state = hop__loop_pin(mutable_loop);
    int err = HOP_ECLOSED;
    if (!(state & HOP__LOOP_CLOSED)) {
        hop__loop_t *l = hop__loop_internal(mutable_loop);
        stats->jobs_run = hop__atomic_load_u64(&l->jobs_run);
        stats->wakeups_sent = hop__atomic_load_u64(&l->wakeups_sent);
        stats->batches = hop__atomic_load_u64(&l->batches);
        stats->busy_polls = hop__atomic_load_u64(&l->busy_polls);
        stats->busy_poll_naps = hop__atomic_load_u64(&l->busy_poll_naps);
        stats->lags = hop__atomic_load_u64(&l->lags);
        err = 0;
    }
    hop__loop_unpin(mutable_loop);
    return err;
}

int hop_dispatch_to_loop(hop_loop_t *loop) {
    if (!loop)
        return HOP_EINVAL;
    return hop_dispatch_to_executor(&loop->executor);
}

int hop__loop_run_main(hop_loop_t *loop) {
    if (*hop__loop_current_slot())
        return HOP_EBUSY;
    int err = hop__loop_claim_running(loop, 0);
    if (err)
        return err;
    hop__loop_drive(loop, hop__loop_internal(loop), HOP__MODE_MAIN, true);
    hop__loop_update_flags(loop, 0, HOP__LOOP_RUNNING);
    return 0;
}
