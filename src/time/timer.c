/* src/time/timer.c: hop's timers (hop/timer.h): clocks, the process-wide timer
 * service, hop_timer_start/stop and hop_time_now_ns.
 *
 * CLOCKS. A clock is a binary min-heap of pending timers ordered by
 * (deadline, start sequence), so timers due at the same instant fire in the
 * order they were started. Each timer stores its heap index: stopping one is
 * O(log n), not a search. The heap array doubles when full and never shrinks
 * while the clock lives: starting a timer allocates only when it grows. One
 * mutex per clock guards the heap, every pending timer's private fields and
 * the "firing" record; it is held for a few pointer moves, never while a
 * callback runs. Two kinds of driver run a clock's callbacks:
 *   - a hop loop (executors/loop.c) for timers started on its thread: it
 *     makes its clock current on that thread (hop__timer_clock_set_current),
 *     runs due callbacks from a uv_timer_t and re-arms that uv timer for the
 *     deadline run_due returns, or when told through ops->rearm;
 *   - the timer service: one thread, "hop-timer", started by the first
 *     hop_timer_start that needs it, for timers started anywhere else. It
 *     sleeps on a CLOCK_MONOTONIC condition variable until the earliest
 *     deadline; rearm signals it.
 *
 * TIMER STATES (timer->state, written under its clock's lock, read
 * atomically so that a stopper can look at it before it knows the clock):
 *
 *   IDLE --start--> PENDING --due, taken off the heap--> FIRED (fn runs)
 *   PENDING --stop--> IDLE            FIRED --start--> PENDING (a restart)
 *   PENDING --clock closed--> DROPPED --stop--> IDLE
 *   (a deadline's timer, follows_task, is not dropped: it moves, still
 *   PENDING, to the timer service, whose thread then fires it)
 *
 * A zeroed timer is IDLE with no clock: "never started".
 *
 * FIRING AND OWNERSHIP. A timer whose fn has been called may be freed by fn
 * itself, or by its owner as soon as hop_timer_stop returns: after fn
 * returns, hop never touches the timer again. So "fn is still running" is
 * recorded in the clock (firing, firing_thread), not in the timer, and a
 * stopper on another thread waits on the clock's condition variable until
 * firing no longer names its timer. A stopper on the firing thread is fn
 * itself (callbacks of one clock run on one thread, one at a time): it must
 * not wait for itself.
 *
 * Because a stopper reads timer->clock to find the lock, a clock's memory is
 * never freed: a closed loop clock goes to a free list for the next loop.
 * A stale clock pointer in a fired timer therefore always points at a valid
 * clock, whose firing record cannot name the timer unless the timer really
 * was restarted there.
 *
 * CALLERS' RACES. Stop may race with the timer firing and with other stops
 * of the same timer; start must not race with another start or a stop of the
 * same timer (it is the owner's call, like starting a uv_timer_t). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fault.h"
#include "core/stack.h"
#include "timer_internal.h"

/* hop_timer_t.state, see TIMER STATES above. */
enum { HOP__TIMER_IDLE = 0, HOP__TIMER_PENDING = 1, HOP__TIMER_FIRED = 2, HOP__TIMER_DROPPED = 3 };

#define HOP__TIMER_HEAP_MIN 16u

struct hop__timer_clock_s {
    pthread_mutex_t lock;
    pthread_cond_t fired;     /* broadcast when a callback returns and a stopper waits */
    hop_timer_t **heap;       /* heap[0] is the earliest */
    size_t count;
    size_t capacity;
    uint64_t seq;             /* next start sequence number */
    hop_timer_t *firing;      /* the timer whose fn runs now (NULL: none) */
    pthread_t firing_thread;  /* where it runs (valid while firing is set) */
    unsigned int stop_waiters; /* stoppers waiting on fired */
    bool closed;
    const hop__timer_clock_ops_t *ops;
    void *ctx;
    hop__timer_clock_t *next_free; /* on the free list */
};

/* ---- time -------------------------------------------------------------- */

uint64_t hop_time_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the heap (clock lock held) ---------------------------------------- */

static bool hop__timer_before(const hop_timer_t *a, const hop_timer_t *b) {
    return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void hop__timer_heap_set(hop__timer_clock_t *clock, size_t i, hop_timer_t *timer) {
    clock->heap[i] = timer;
    timer->heap_index = i;
}

static void hop__timer_sift_up(hop__timer_clock_t *clock, size_t i) {
    hop_timer_t *timer = clock->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!hop__timer_before(timer, clock->heap[parent]))
            break;
        hop__timer_heap_set(clock, i, clock->heap[parent]);
        i = parent;
    }
    hop__timer_heap_set(clock, i, timer);
}

static void hop__timer_sift_down(hop__timer_clock_t *clock, size_t i) {
    hop_timer_t *timer = clock->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= clock->count)
            break;
        if (child + 1 < clock->count && hop__timer_before(clock->heap[child + 1], clock->heap[child]))
            child++;
        if (!hop__timer_before(clock->heap[child], timer))
            break;
        hop__timer_heap_set(clock, i, clock->heap[child]);
        i = child;
    }
    hop__timer_heap_set(clock, i, timer);
}

/* Makes room for one more timer: false when the array cannot grow. */
static bool hop__timer_heap_reserve(hop__timer_clock_t *clock) {
    if (clock->count < clock->capacity)
        return true;
    size_t capacity = clock->capacity ? clock->capacity * 2 : HOP__TIMER_HEAP_MIN;
    if (capacity > SIZE_MAX / sizeof(hop_timer_t *))
        return false;
    hop_timer_t **heap = hop__realloc(clock->heap, capacity * sizeof *heap);
    if (!heap)
        return false;
    clock->heap = heap;
    clock->capacity = capacity;
    return true;
}

static void hop__timer_heap_push(hop__timer_clock_t *clock, hop_timer_t *timer) {
    hop__timer_heap_set(clock, clock->count++, timer);
    hop__timer_sift_up(clock, clock->count - 1);
}

static void hop__timer_heap_remove(hop__timer_clock_t *clock, hop_timer_t *timer) {
    size_t i = timer->heap_index;
    if (i >= clock->count || clock->heap[i] != timer)
        hop__fatal("timer %p: pending, but not where its heap index says", (void *)timer);
    hop_timer_t *last = clock->heap[--clock->count];
    if (i == clock->count)
        return;
    hop__timer_heap_set(clock, i, last);
    if (i > 0 && hop__timer_before(last, clock->heap[(i - 1) / 2]))
        hop__timer_sift_up(clock, i);
    else
        hop__timer_sift_down(clock, i);
}

/* ---- clocks -------------------------------------------------------------- */

static pthread_mutex_t hop__timer_free_lock = PTHREAD_MUTEX_INITIALIZER;
static hop__timer_clock_t *hop__timer_free_list;

hop__timer_clock_t *hop__timer_clock_create(const hop__timer_clock_ops_t *ops, void *ctx) {
    pthread_mutex_lock(&hop__timer_free_lock);
    hop__timer_clock_t *clock = hop__timer_free_list;
    if (clock)
        hop__timer_free_list = clock->next_free;
    pthread_mutex_unlock(&hop__timer_free_lock);
    if (!clock) {
        clock = hop__calloc(1, sizeof *clock);
        if (!clock)
            return NULL;
        /* Never destroyed: a clock is recycled, never freed (see above). */
        if (pthread_mutex_init(&clock->lock, NULL) != 0) {
            free(clock);
            return NULL;
        }
        if (pthread_cond_init(&clock->fired, NULL) != 0) {
            pthread_mutex_destroy(&clock->lock);
            free(clock);
            return NULL;
        }
    }
    /* Stale stoppers may lock a recycled clock: write under its lock. */
    pthread_mutex_lock(&clock->lock);
    clock->closed = false;
    clock->ops = ops;
    clock->ctx = ctx;
    clock->next_free = NULL;
    pthread_mutex_unlock(&clock->lock);
    return clock;
}

static hop__timer_clock_t *hop__timer_service_clock(void);
static bool hop__timer_service_adopt_locked(hop_timer_t *timer);

void hop__timer_clock_close(hop__timer_clock_t *clock) {
    /* Initialised before any lock is taken (it may start nothing yet). */
    hop__timer_clock_t *service = hop__timer_service_clock();
    pthread_mutex_lock(&clock->lock);
    if (clock->firing)
        hop__fatal("timer clock %p: closed while a callback runs", (void *)clock);
    clock->closed = true;
    /* The one place that holds two clock locks: a closing clock's, then the
     * service's. Nothing takes them in the other order (the service's
     * thread and every start and stop hold one lock at a time), so this
     * cannot deadlock. A stopper waiting for this clock's lock finds the
     * timer's clock changed when it gets it, and looks again. */
    bool service_locked = false;
    for (size_t i = 0; i < clock->count; i++) {
        hop_timer_t *timer = clock->heap[i];
        if (timer->follows_task && service && service != clock) {
            if (!service_locked) {
                pthread_mutex_lock(&service->lock);
                service_locked = true;
            }
            if (hop__timer_service_adopt_locked(timer))
                continue;
        }
        hop__atomic_store_uint(&timer->state, HOP__TIMER_DROPPED);
    }
    if (service_locked)
        pthread_mutex_unlock(&service->lock);
    clock->count = 0;
    free(clock->heap);
    clock->heap = NULL;
    clock->capacity = 0;
    clock->ops = NULL;
    clock->ctx = NULL;
    pthread_mutex_unlock(&clock->lock);
}

void hop__timer_clock_free(hop__timer_clock_t *clock) {
    if (!clock)
        return;
    hop__timer_clock_close(clock);
    pthread_mutex_lock(&hop__timer_free_lock);
    clock->next_free = hop__timer_free_list;
    hop__timer_free_list = clock;
    pthread_mutex_unlock(&hop__timer_free_lock);
}

uint64_t hop__timer_clock_next(hop__timer_clock_t *clock) {
    pthread_mutex_lock(&clock->lock);
    uint64_t next = clock->count ? clock->heap[0]->deadline_ns : HOP__TIMER_NEVER;
    pthread_mutex_unlock(&clock->lock);
    return next;
}

/* Runs the callbacks of the timers due by now, each outside the lock (held
 * on entry and on return). now is not refreshed: a callback that restarts
 * its timer with timeout 0 runs again on the next call, so a driver always
 * gets back control. Returns the earliest pending deadline. */
static uint64_t hop__timer_clock_run_due_locked(hop__timer_clock_t *clock, uint64_t now) {
    while (clock->count && clock->heap[0]->deadline_ns <= now) {
        hop_timer_t *timer = clock->heap[0];
        hop__timer_heap_remove(clock, timer);
        hop__atomic_store_uint(&timer->state, HOP__TIMER_FIRED);
        /* Read under the lock: once FIRED, another thread may restart the
         * timer with a new fn while this one runs. */
        hop_timer_fn fn = timer->fn;
        void *arg = timer->arg;
        clock->firing = timer;
        clock->firing_thread = pthread_self();
        pthread_mutex_unlock(&clock->lock);
        fn(timer, arg); /* from here on, timer may be freed: never touched again */
        pthread_mutex_lock(&clock->lock);
        clock->firing = NULL;
        if (clock->stop_waiters)
            pthread_cond_broadcast(&clock->fired);
    }
    return clock->count ? clock->heap[0]->deadline_ns : HOP__TIMER_NEVER;
}

uint64_t hop__timer_clock_run_due(hop__timer_clock_t *clock) {
    uint64_t now = hop_time_now_ns();
    pthread_mutex_lock(&clock->lock);
    uint64_t next = hop__timer_clock_run_due_locked(clock, now);
    pthread_mutex_unlock(&clock->lock);
    return next;
}

/* ---- the current clock --------------------------------------------------- */

HOP__TLS_SLOT(hop__timer_current_slot, hop__timer_clock_t *)

hop__timer_clock_t *hop__timer_clock_set_current(hop__timer_clock_t *clock) {
    hop__timer_clock_t **slot = hop__timer_current_slot();
    hop__timer_clock_t *previous = *slot;
    *slot = clock;
    return previous;
}

/* ---- the timer service --------------------------------------------------- */

static struct {
    hop__timer_clock_t clock;
    pthread_cond_t wake; /* on CLOCK_MONOTONIC: the service thread sleeps here */
    bool running;        /* the thread was started (clock lock) */
    int init_error;      /* set once by hop__timer_service_init */
} hop__timer_service;

static pthread_once_t hop__timer_service_once = PTHREAD_ONCE_INIT;

static void hop__timer_service_rearm(void *ctx) {
    (void)ctx;
    pthread_cond_signal(&hop__timer_service.wake); /* lock held: not lost */
}

static const hop__timer_clock_ops_t hop__timer_service_ops = {.rearm = hop__timer_service_rearm};

/* fork(): the child has no service thread, and would otherwise believe one
 * runs (a sleep would never end). The parent's pending timers are dropped in
 * the child (they belong to the parent's threads and tasks; stopping one
 * returns 0, as for a closed loop's) and the service starts afresh, with a
 * new thread, on the child's first timer. Before the fork no other thread
 * holds the service's lock, so the child finds the heap consistent. */
static void hop__timer_service_fork_prepare(void) { pthread_mutex_lock(&hop__timer_service.clock.lock); }

static void hop__timer_service_fork_parent(void) { pthread_mutex_unlock(&hop__timer_service.clock.lock); }

static void hop__timer_service_fork_child(void) {
    hop__timer_clock_t *clock = &hop__timer_service.clock;
    for (size_t i = 0; i < clock->count; i++)
        hop__atomic_store_uint(&clock->heap[i]->state, HOP__TIMER_DROPPED);
    clock->count = 0;
    clock->firing = NULL; /* a callback the service thread was running: gone with it */
    clock->stop_waiters = 0;
    hop__timer_service.running = false;
    pthread_condattr_t attr;
    pthread_mutex_init(&clock->lock, NULL);
    pthread_cond_init(&clock->fired, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hop__timer_service.wake, &attr);
    pthread_condattr_destroy(&attr);
}

static void hop__timer_service_init(void) {
    hop__timer_clock_t *clock = &hop__timer_service.clock;
    pthread_condattr_t attr;
    if (pthread_mutex_init(&clock->lock, NULL) != 0 || pthread_cond_init(&clock->fired, NULL) != 0 ||
        pthread_condattr_init(&attr) != 0) {
        hop__timer_service.init_error = HOP_ENOMEM;
        return;
    }
    if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
        pthread_cond_init(&hop__timer_service.wake, &attr) != 0)
        hop__timer_service.init_error = HOP_ENOMEM;
    pthread_condattr_destroy(&attr);
    clock->ops = &hop__timer_service_ops;
    if (!hop__timer_service.init_error &&
        pthread_atfork(hop__timer_service_fork_prepare, hop__timer_service_fork_parent,
                       hop__timer_service_fork_child) != 0)
        hop__timer_service.init_error = HOP_ENOMEM;
}

static void *hop__timer_service_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "hop-timer");
    hop__overflow_thread_init(); /* a signal stack, to name a task that overflows here */
    hop__timer_clock_t *clock = &hop__timer_service.clock;
    pthread_mutex_lock(&clock->lock);
    for (;;) {
        uint64_t next = hop__timer_clock_run_due_locked(clock, hop_time_now_ns());
        /* Decided under the lock: a start that makes an earlier deadline
         * signals wake with the lock held, so after this thread waits. */
        if (next == HOP__TIMER_NEVER) {
            pthread_cond_wait(&hop__timer_service.wake, &clock->lock);
        } else if (next > hop_time_now_ns()) {
            struct timespec until = {.tv_sec = (time_t)(next / 1000000000u),
                                     .tv_nsec = (long)(next % 1000000000u)};
            pthread_cond_timedwait(&hop__timer_service.wake, &clock->lock, &until);
        }
    }
    return NULL;
}

/* The service's clock, initialised once; NULL if that failed. */
static hop__timer_clock_t *hop__timer_service_clock(void) {
    pthread_once(&hop__timer_service_once, hop__timer_service_init);
    return hop__timer_service.init_error ? NULL : &hop__timer_service.clock;
}

/* Starts the service thread unless it runs (clock lock held). Detached: it
 * lives as long as the process. It blocks every signal, so that signals
 * meant for the application's threads never land on it. */
static int hop__timer_service_start(void) {
    if (hop__timer_service.running)
        return 0;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return HOP_ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t thread;
    int rc = hop__pthread_create(&thread, &attr, hop__timer_service_main, NULL);
    /* Under RLIMIT_AS the address space of cached task stacks can be what
     * the thread's own stack lacks. */
    if (rc != 0 && hop__stack_reclaim() != 0)
        rc = hop__pthread_create(&thread, &attr, hop__timer_service_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return HOP_ENOMEM;
    hop__timer_service.running = true;
    return 0;
}

/* Moves timer, pending on a closing clock whose lock the caller holds, to
 * the service's clock (whose lock the caller holds too), keeping its
 * deadline; false if the service cannot take it (no memory, no thread). */
static bool hop__timer_service_adopt_locked(hop_timer_t *timer) {
    hop__timer_clock_t *service = &hop__timer_service.clock;
    if (!hop__timer_heap_reserve(service) || hop__timer_service_start() != 0)
        return false;
    timer->seq = service->seq++;
    hop__atomic_store_ptr(&timer->clock, service);
    hop__timer_heap_push(service, timer);
    if (timer->heap_index == 0)
        service->ops->rearm(service->ctx);
    return true;
}

/* ---- public API -------------------------------------------------------- */

int hop_timer_init(hop_timer_t *timer) {
    if (!timer)
        return HOP_EINVAL;
    memset(timer, 0, sizeof *timer);
    return 0;
}

static int hop__timer_start(hop_timer_t *timer, int64_t timeout_ms, hop_timer_fn fn, void *arg,
                            unsigned int follows_task) {
    if (!timer || !fn || timeout_ms < 0)
        return HOP_EINVAL;
    hop__timer_clock_t *clock = *hop__timer_current_slot();
    bool service = !clock;
    if (service) {
        clock = hop__timer_service_clock();
        if (!clock)
            return HOP_ENOMEM;
    }
    /* Still pending on the clock it was last started on? Looked at under
     * that clock's lock, never holding two clock locks at once. */
    hop__timer_clock_t *old = hop__atomic_load_ptr(&timer->clock);
    if (old && old != clock) {
        pthread_mutex_lock(&old->lock);
        bool pending = hop__atomic_load_ptr(&timer->clock) == old &&
                       hop__atomic_load_uint(&timer->state) == HOP__TIMER_PENDING;
        pthread_mutex_unlock(&old->lock);
        if (pending)
            return HOP_EBUSY;
    }
    uint64_t deadline = hop__timer_deadline(hop_time_now_ns(), timeout_ms);

    int err = 0;
    pthread_mutex_lock(&clock->lock);
    if (clock->closed)
        err = HOP_ECLOSED;
    else if (old == clock && hop__atomic_load_uint(&timer->state) == HOP__TIMER_PENDING)
        err = HOP_EBUSY;
    else if (!hop__timer_heap_reserve(clock))
        err = HOP_ENOMEM;
    else if (service)
        err = hop__timer_service_start();
    if (!err) {
        timer->deadline_ns = deadline;
        timer->seq = clock->seq++;
        timer->fn = fn;
        timer->arg = arg;
        timer->follows_task = follows_task;
        hop__atomic_store_ptr(&timer->clock, clock);
        hop__atomic_store_uint(&timer->state, HOP__TIMER_PENDING);
        hop__timer_heap_push(clock, timer);
        if (timer->heap_index == 0)
            clock->ops->rearm(clock->ctx); /* a new earliest deadline */
    }
    pthread_mutex_unlock(&clock->lock);
    return err;
}

int hop_timer_start(hop_timer_t *timer, int64_t timeout_ms, hop_timer_fn fn, void *arg) {
    return hop__timer_start(timer, timeout_ms, fn, arg, 0u);
}

int hop__timer_start_following(hop_timer_t *timer, int64_t timeout_ms, hop_timer_fn fn, void *arg) {
    return hop__timer_start(timer, timeout_ms, fn, arg, 1u);
}

bool hop__timer_clock_here(hop_timer_t *timer, bool *pending) {
    hop__timer_clock_t *clock = *hop__timer_current_slot();
    if (!clock)
        return false;
    *pending = hop__atomic_load_ptr(&timer->clock) == clock &&
               hop__atomic_load_uint(&timer->state) == HOP__TIMER_PENDING;
    return true;
}

int hop_timer_stop(hop_timer_t *timer) {
    if (!timer)
        return HOP_EINVAL;
    for (;;) {
        hop__timer_clock_t *clock = hop__atomic_load_ptr(&timer->clock);
        if (!clock)
            return HOP_EALREADY; /* never started */
        pthread_mutex_lock(&clock->lock);
        if (hop__atomic_load_ptr(&timer->clock) != clock) {
            pthread_mutex_unlock(&clock->lock); /* moved meanwhile: look again */
            continue;
        }
        int err = HOP_EALREADY;
        unsigned int state = hop__atomic_load_uint(&timer->state);
        if (state == HOP__TIMER_PENDING) {
            hop__timer_heap_remove(clock, timer);
            hop__atomic_store_uint(&timer->state, HOP__TIMER_IDLE);
            err = 0;
        } else if (state == HOP__TIMER_DROPPED) {
            hop__atomic_store_uint(&timer->state, HOP__TIMER_IDLE);
            err = 0;
        }
        /* fn may still run on the clock's thread (even after a restart):
         * the caller owns the timer only once it has returned. From fn
         * itself, waiting would never end. */
        if (clock->firing == timer && !pthread_equal(clock->firing_thread, pthread_self())) {
            clock->stop_waiters++;
            while (clock->firing == timer)
                pthread_cond_wait(&clock->fired, &clock->lock);
            clock->stop_waiters--;
            /* fn may have restarted its timer: that start is stopped too. */
            if (hop__atomic_load_uint(&timer->state) == HOP__TIMER_PENDING &&
                hop__atomic_load_ptr(&timer->clock) == clock) {
                hop__timer_heap_remove(clock, timer);
                hop__atomic_store_uint(&timer->state, HOP__TIMER_IDLE);
            }
        }
        pthread_mutex_unlock(&clock->lock);
        return err;
    }
}
