/* src/core/observe.c: the stalled-loop watchdog (hop/debug.h) and the
 * runtime metrics (hop/metrics.h), both fed by the same few hooks
 * (observe.h): hop_executor_run_job, the submit path, a loop's turns, idle
 * spins and wake-ups.
 *
 * Per-thread records. Every thread that runs or submits jobs while something
 * is observed gets a record of its own (kept on a global list, reused by the
 * next thread once it exits, never freed: the watchdog reads them at any
 * moment). What it is running now sits there under a sequence count (odd
 * while a job runs), written by the thread alone and read by the watchdog
 * thread, seqlock style.
 *
 * Metrics. Every executor seen gets a record (submitted, queued and its peak,
 * withdrawn, wake-ups: shared atomics touched by submitters), and every
 * (thread, executor) pair running its jobs a counter block written by that
 * thread only (plain load + store, no RMW) and summed by the snapshot. A
 * thread keeps its last two lookups in its record, so the lookup (under the
 * lock) happens once per thread and executor. An executor that closes
 * marks its record free and bumps an epoch that invalidates those caches;
 * records are reused, never freed, so a late writer never touches freed
 * memory. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "hop/metrics.h"
#include "observe.h"
#include "task_internal.h"

unsigned int hop__observe_flags;

typedef struct hop__obs_thread_s hop__obs_thread_t;

typedef struct hop__obs_rec_s {
    struct hop__obs_rec_s *next;
    hop__obs_thread_t *thread; /* NULL: free (under the lock) */
    /* Written by thread only (load + store), summed by snapshots (atomic). */
    uint64_t born_ns;
    uint64_t jobs_run, busy_ns, spins_caught, spins_wasted, turns;
    uint64_t queue_hist[HOP_METRICS_BUCKETS];
    uint64_t run_hist[HOP_METRICS_BUCKETS];
    uint64_t turn_hist[HOP_METRICS_BUCKETS];
} hop__obs_rec_t;

typedef struct hop__obs_exec_s {
    struct hop__obs_exec_s *next;
    hop_executor_t *executor; /* NULL: free (written under the lock, atomic) */
    const char *kind;
    /* Any thread (atomic RMW). queued is signed in spirit: a job queued
     * before counting started makes it dip below its true value. */
    uint64_t submitted, withdrawn, queued, queued_peak, wakeups;
    hop__obs_rec_t *recs; /* under the lock */
} hop__obs_exec_t;

typedef struct {
    hop_executor_t *executor;
    hop__obs_exec_t *exec;
    hop__obs_rec_t *rec; /* NULL until the thread runs one of its jobs */
    unsigned int epoch;
} hop__obs_cache_t;

struct hop__obs_thread_s {
    hop__obs_thread_t *next;
    unsigned int in_use; /* atomic */
    char name[16];
    /* Written by the owner (atomic stores), read by the watchdog: the job
     * running now while job_seq is odd, the loop turn while turn_seq is. */
    uint64_t job_seq, job_started;
    hop_executor_t *job_executor;
    hop_task_t *job_task;
    hop_job_fn job_fn;
    uint64_t turn_seq, turn_started;
    hop_executor_t *turn_executor;
    /* The watchdog thread's own. */
    uint64_t reported_job_seq, reported_turn_seq;
    /* The owner's own. */
    hop__obs_cache_t cache[2];
};

static pthread_mutex_t hop__obs_lock = PTHREAD_MUTEX_INITIALIZER;
static hop__obs_thread_t *hop__obs_threads; /* under the lock (read atomically) */
static hop__obs_exec_t *hop__obs_execs;     /* under the lock */
static unsigned int hop__obs_epoch;         /* atomic; bumped when an executor closes */
static pthread_once_t hop__obs_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t hop__obs_key;

HOP__TLS_SLOT(hop__obs_self_slot, hop__obs_thread_t *)

static uint64_t hop__obs_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void hop__obs_set_flag(unsigned int flag, bool on) {
    for (;;) {
        unsigned int old = hop__atomic_load_uint(&hop__observe_flags);
        unsigned int next = on ? old | flag : old & ~flag;
        if (old == next || hop__atomic_cas_uint(&hop__observe_flags, old, next))
            return;
    }
}

/* Single writer: no RMW needed. */
static inline void hop__obs_add(uint64_t *counter, uint64_t n) {
    hop__atomic_store_u64(counter, hop__atomic_load_u64(counter) + n);
}

static unsigned int hop__obs_bucket(uint64_t ns) {
    uint64_t us = ns / 1000u;
    unsigned int b = us ? 64u - (unsigned int)__builtin_clzll(us) : 0u;
    return b < HOP_METRICS_BUCKETS ? b : HOP_METRICS_BUCKETS - 1u;
}

/* ---- per-thread records ---------------------------------------------------- */

static void hop__obs_thread_exit(void *value) {
    hop__obs_thread_t *th = value;
    memset(th->cache, 0, sizeof th->cache);
    hop__atomic_store_uint(&th->in_use, 0u);
}

static void hop__obs_key_create(void) {
    if (pthread_key_create(&hop__obs_key, hop__obs_thread_exit) != 0)
        hop__fatal("hop: no thread-specific key left for the watchdog and metrics");
}

static hop__obs_thread_t *hop__obs_self_slow(void) {
    pthread_once(&hop__obs_key_once, hop__obs_key_create);
    pthread_mutex_lock(&hop__obs_lock);
    hop__obs_thread_t *th = hop__obs_threads;
    while (th && hop__atomic_load_uint(&th->in_use))
        th = th->next;
    if (!th) {
        th = hop__calloc(1, sizeof *th);
        if (!th) {
            pthread_mutex_unlock(&hop__obs_lock);
            return NULL;
        }
        th->next = hop__obs_threads;
        hop__atomic_store_ptr(&hop__obs_threads, th);
    }
    hop__atomic_store_uint(&th->in_use, 1u);
    pthread_mutex_unlock(&hop__obs_lock);
    memset(th->cache, 0, sizeof th->cache);
    char name[16] = "?";
    pthread_getname_np(pthread_self(), name, sizeof name);
    for (size_t i = 0; i < sizeof th->name; i++)
        __atomic_store_n(&th->name[i], name[i], __ATOMIC_RELAXED);
    pthread_setspecific(hop__obs_key, th);
    *hop__obs_self_slot() = th;
    return th;
}

static inline hop__obs_thread_t *hop__obs_self(void) {
    hop__obs_thread_t *th = *hop__obs_self_slot();
    return th ? th : hop__obs_self_slow();
}

/* ---- executor records ------------------------------------------------------- */

/* Under the lock: executor's record, made if need be; NULL when out of memory. */
static hop__obs_exec_t *hop__obs_exec_locked(hop_executor_t *executor) {
    hop__obs_exec_t *free_one = NULL;
    for (hop__obs_exec_t *e = hop__obs_execs; e; e = e->next) {
        hop_executor_t *owner = hop__atomic_load_ptr(&e->executor);
        if (owner == executor)
            return e;
        if (!owner && !free_one)
            free_one = e;
    }
    hop__obs_exec_t *e = free_one;
    if (!e) {
        e = hop__calloc(1, sizeof *e);
        if (!e)
            return NULL;
        e->next = hop__obs_execs;
        hop__obs_execs = e;
    }
    e->kind = hop_executor_name(executor);
    hop__atomic_store_u64(&e->submitted, 0);
    hop__atomic_store_u64(&e->withdrawn, 0);
    hop__atomic_store_u64(&e->queued, 0);
    hop__atomic_store_u64(&e->queued_peak, 0);
    hop__atomic_store_u64(&e->wakeups, 0);
    for (hop__obs_rec_t *r = e->recs; r; r = r->next)
        hop__atomic_store_ptr(&r->thread, NULL);
    hop__atomic_store_ptr(&e->executor, executor);
    return e;
}

/* Under the lock: th's counter block in e. */
static hop__obs_rec_t *hop__obs_rec_locked(hop__obs_exec_t *e, hop__obs_thread_t *th) {
    hop__obs_rec_t *free_one = NULL;
    for (hop__obs_rec_t *r = e->recs; r; r = r->next) {
        hop__obs_thread_t *owner = hop__atomic_load_ptr(&r->thread);
        if (owner == th)
            return r;
        if (!owner && !free_one)
            free_one = r;
    }
    hop__obs_rec_t *r = free_one;
    if (!r) {
        r = hop__calloc(1, sizeof *r);
        if (!r)
            return NULL;
        r->next = e->recs;
        e->recs = r;
    } else {
        hop__obs_rec_t *next = r->next;
        memset(r, 0, sizeof *r);
        r->next = next;
    }
    hop__atomic_store_u64(&r->born_ns, hop__obs_now());
    hop__atomic_store_ptr(&r->thread, th);
    return r;
}

/* The records of executor for this thread (*rec only if want_rec). */
static bool hop__obs_lookup(hop__obs_thread_t *th, hop_executor_t *executor, bool want_rec, hop__obs_exec_t **exec,
                            hop__obs_rec_t **rec) {
    unsigned int epoch = hop__atomic_load_uint(&hop__obs_epoch);
    for (int i = 0; i < 2; i++) {
        hop__obs_cache_t *c = &th->cache[i];
        if (c->executor == executor && c->epoch == epoch && (c->rec || !want_rec)) {
            if (i == 1) {
                hop__obs_cache_t hit = *c;
                th->cache[1] = th->cache[0];
                th->cache[0] = hit;
            }
            *exec = th->cache[0].exec;
            *rec = th->cache[0].rec;
            return true;
        }
    }
    pthread_mutex_lock(&hop__obs_lock);
    epoch = hop__atomic_load_uint(&hop__obs_epoch);
    hop__obs_exec_t *e = hop__obs_exec_locked(executor);
    hop__obs_rec_t *r = e && want_rec ? hop__obs_rec_locked(e, th) : NULL;
    pthread_mutex_unlock(&hop__obs_lock);
    if (!e || (want_rec && !r))
        return false;
    if (th->cache[0].executor != executor)
        th->cache[1] = th->cache[0];
    th->cache[0] = (hop__obs_cache_t){.executor = executor, .exec = e, .rec = r, .epoch = epoch};
    *exec = e;
    *rec = r;
    return true;
}

void hop__observe_executor_closed(hop_executor_t *executor) {
    pthread_mutex_lock(&hop__obs_lock);
    for (hop__obs_exec_t *e = hop__obs_execs; e; e = e->next)
        if (hop__atomic_load_ptr(&e->executor) == executor)
            hop__atomic_store_ptr(&e->executor, NULL);
    hop__atomic_faa_uint(&hop__obs_epoch, 1u);
    pthread_mutex_unlock(&hop__obs_lock);
}

/* ---- the hooks ------------------------------------------------------------------ */

void hop__observe_run_job(hop_executor_t *executor, hop_job_t *job, hop_task_t *task, bool outermost) {
    unsigned int flags = hop__atomic_load_uint(&hop__observe_flags);
    hop__obs_thread_t *th = hop__obs_self();
    if (!th) {
        job->run(job);
        return;
    }
    hop__obs_exec_t *e = NULL;
    hop__obs_rec_t *r = NULL;
    uint64_t start = flags & (HOP__OBSERVE_TIMING | HOP__OBSERVE_WATCHDOG) ? hop__obs_now() : 0;
    /* The submit's time stamp (HOP_METRICS_TIMING), read and cleared while
     * the job is still ours. */
    uint64_t stamp = (uint64_t)(uintptr_t)job->reserved[0];
    job->reserved[0] = NULL;
    if ((flags & HOP__OBSERVE_COUNT) && hop__obs_lookup(th, executor, true, &e, &r)) {
        hop__atomic_faa_u64(&e->queued, (uint64_t)-1);
        if ((flags & HOP__OBSERVE_TIMING) && stamp && stamp <= start)
            hop__obs_add(&r->queue_hist[hop__obs_bucket(start - stamp)], 1);
    }
    bool watched = outermost && (flags & HOP__OBSERVE_WATCHDOG);
    uint64_t seq = 0;
    if (watched) {
        seq = hop__atomic_load_u64(&th->job_seq);
        hop__atomic_store_u64(&th->job_started, start);
        hop__atomic_store_ptr(&th->job_executor, executor);
        hop__atomic_store_ptr(&th->job_task, task);
        __atomic_store_n(&th->job_fn, job->run, __ATOMIC_RELAXED);
        hop__atomic_fence_release();
        hop__atomic_store_u64(&th->job_seq, seq + 1u); /* odd: running */
    }
    job->run(job);
    if (watched) {
        hop__atomic_fence_release();
        hop__atomic_store_u64(&th->job_seq, seq + 2u);
    }
    if (r) {
        hop__obs_add(&r->jobs_run, 1);
        if (flags & HOP__OBSERVE_TIMING) {
            uint64_t took = hop__obs_now() - start;
            hop__obs_add(&r->run_hist[hop__obs_bucket(took)], 1);
            if (outermost)
                hop__obs_add(&r->busy_ns, took);
        }
    }
}

int hop__observe_submit(const hop_executor_ops_t *ops, hop_executor_t *executor, hop_job_t *job,
                        unsigned int flags) {
    unsigned int observed = hop__atomic_load_uint(&hop__observe_flags);
    hop__obs_thread_t *th;
    hop__obs_exec_t *e;
    hop__obs_rec_t *r;
    if (!(observed & HOP__OBSERVE_COUNT) || !(th = hop__obs_self()) || !hop__obs_lookup(th, executor, false, &e, &r))
        return ops->submit(executor, job, flags);
    job->reserved[0] = (observed & HOP__OBSERVE_TIMING) ? (void *)(uintptr_t)hop__obs_now() : NULL;
    /* Counted as queued before the submit: the job may run (and count
     * itself out) before the submit returns. */
    uint64_t queued = hop__atomic_faa_u64(&e->queued, 1u) + 1u;
    for (uint64_t peak = hop__atomic_load_u64(&e->queued_peak); (int64_t)queued > (int64_t)peak;
         peak = hop__atomic_load_u64(&e->queued_peak))
        if (hop__atomic_cas_u64(&e->queued_peak, peak, queued))
            break;
    int err = ops->submit(executor, job, flags);
    if (err)
        hop__atomic_faa_u64(&e->queued, (uint64_t)-1);
    else
        hop__atomic_faa_u64(&e->submitted, 1u);
    return err;
}

void hop__observe_withdrawn(hop_executor_t *executor) {
    hop__obs_thread_t *th;
    hop__obs_exec_t *e;
    hop__obs_rec_t *r;
    if (!(hop__atomic_load_uint(&hop__observe_flags) & HOP__OBSERVE_COUNT) || !(th = hop__obs_self()) ||
        !hop__obs_lookup(th, executor, false, &e, &r))
        return;
    hop__atomic_faa_u64(&e->queued, (uint64_t)-1);
    hop__atomic_faa_u64(&e->withdrawn, 1u);
}

void hop__observe_turn(hop_executor_t *executor, bool begin) {
    unsigned int flags = hop__atomic_load_uint(&hop__observe_flags);
    hop__obs_thread_t *th = hop__obs_self();
    if (!th)
        return;
    uint64_t seq = hop__atomic_load_u64(&th->turn_seq);
    if (begin) {
        if (seq & 1u)
            return; /* a turn is open already */
        hop__atomic_store_u64(&th->turn_started, hop__obs_now());
        hop__atomic_store_ptr(&th->turn_executor, executor);
        hop__atomic_fence_release();
        hop__atomic_store_u64(&th->turn_seq, seq + 1u);
        return;
    }
    if (!(seq & 1u))
        return; /* the first turn of a loop, or observing started mid-turn */
    hop__atomic_fence_release();
    hop__atomic_store_u64(&th->turn_seq, seq + 1u);
    hop__obs_exec_t *e;
    hop__obs_rec_t *r;
    if ((flags & HOP__OBSERVE_COUNT) && hop__obs_lookup(th, executor, true, &e, &r)) {
        hop__obs_add(&r->turns, 1);
        if (flags & HOP__OBSERVE_TIMING)
            hop__obs_add(&r->turn_hist[hop__obs_bucket(hop__obs_now() - hop__atomic_load_u64(&th->turn_started))],
                         1);
    }
}

void hop__observe_spin(hop_executor_t *executor, bool caught) {
    hop__obs_thread_t *th;
    hop__obs_exec_t *e;
    hop__obs_rec_t *r;
    if (!(hop__atomic_load_uint(&hop__observe_flags) & HOP__OBSERVE_COUNT) || !(th = hop__obs_self()) ||
        !hop__obs_lookup(th, executor, true, &e, &r))
        return;
    hop__obs_add(caught ? &r->spins_caught : &r->spins_wasted, 1);
}

void hop__observe_wakeup(hop_executor_t *executor) {
    hop__obs_thread_t *th;
    hop__obs_exec_t *e;
    hop__obs_rec_t *r;
    if (!(hop__atomic_load_uint(&hop__observe_flags) & HOP__OBSERVE_COUNT) || !(th = hop__obs_self()) ||
        !hop__obs_lookup(th, executor, false, &e, &r))
        return;
    hop__atomic_faa_u64(&e->wakeups, 1u);
}

/* ---- metrics ------------------------------------------------------------------------ */

static uint64_t hop__obs_tasks_peak; /* atomic */

int hop_metrics_enable(unsigned int flags) {
    if (flags & ~(unsigned int)(HOP_METRICS_COUNT | HOP_METRICS_TIMING))
        return HOP_EINVAL;
    hop__obs_set_flag(HOP__OBSERVE_COUNT, flags != 0);
    hop__obs_set_flag(HOP__OBSERVE_TIMING, (flags & HOP_METRICS_TIMING) != 0);
    return 0;
}

void hop_metrics_free(hop_metrics_t *metrics) {
    if (!metrics)
        return;
    free(metrics->executors);
    free(metrics);
}

hop_metrics_t *hop_metrics_snapshot(void) {
    hop_metrics_t *m = hop__calloc(1, sizeof *m);
    if (!m)
        return NULL;
    /* The live tasks first, without the metrics lock. */
    hop_task_info_t *tasks = NULL;
    size_t ntasks = 0, capacity = 0;
    for (;;) {
        if (hop_task_snapshot(tasks, capacity, &ntasks) != 0 || ntasks <= capacity)
            break;
        free(tasks);
        capacity = ntasks + ntasks / 4 + 16;
        if (!(tasks = hop__malloc(capacity * sizeof *tasks))) {
            free(m);
            return NULL;
        }
    }
    m->tasks_alive = ntasks;
    uint64_t peak = hop__atomic_load_u64(&hop__obs_tasks_peak);
    while (ntasks > peak && !hop__atomic_cas_u64(&hop__obs_tasks_peak, peak, ntasks))
        peak = hop__atomic_load_u64(&hop__obs_tasks_peak);
    m->tasks_alive_peak = ntasks > peak ? ntasks : peak;
    hop_stack_stats_t stacks;
    hop_stack_stats(&stacks);
    m->stacks_mapped = stacks.mapped;
    m->stacks_cached = stacks.mapped > stacks.in_use ? stacks.mapped - stacks.in_use : 0;
    m->taken_ns = hop__obs_now();

    pthread_mutex_lock(&hop__obs_lock);
    size_t n = 0;
    for (hop__obs_exec_t *e = hop__obs_execs; e; e = e->next)
        n += hop__atomic_load_ptr(&e->executor) != NULL;
    m->executors = n ? hop__calloc(n, sizeof *m->executors) : NULL;
    if (n && !m->executors) {
        pthread_mutex_unlock(&hop__obs_lock);
        free(tasks);
        free(m);
        return NULL;
    }
    size_t i = 0;
    for (hop__obs_exec_t *e = hop__obs_execs; e && i < n; e = e->next) {
        hop_executor_t *executor = hop__atomic_load_ptr(&e->executor);
        if (!executor)
            continue;
        hop_executor_metrics_t *x = &m->executors[i++];
        x->executor = executor;
        x->kind = e->kind;
        x->jobs_submitted = hop__atomic_load_u64(&e->submitted);
        x->jobs_withdrawn = hop__atomic_load_u64(&e->withdrawn);
        int64_t queued = (int64_t)hop__atomic_load_u64(&e->queued);
        x->queued = queued > 0 ? (uint64_t)queued : 0;
        x->queued_peak = hop__atomic_load_u64(&e->queued_peak);
        x->wakeups_sent = hop__atomic_load_u64(&e->wakeups);
        for (hop__obs_rec_t *r = e->recs; r; r = r->next) {
            if (!hop__atomic_load_ptr(&r->thread))
                continue;
            x->threads++;
            x->jobs_run += hop__atomic_load_u64(&r->jobs_run);
            x->spins_caught += hop__atomic_load_u64(&r->spins_caught);
            x->spins_wasted += hop__atomic_load_u64(&r->spins_wasted);
            x->turns += hop__atomic_load_u64(&r->turns);
            uint64_t busy = hop__atomic_load_u64(&r->busy_ns), born = hop__atomic_load_u64(&r->born_ns);
            x->busy_ns += busy;
            if (busy && m->taken_ns > born + busy)
                x->idle_ns += m->taken_ns - born - busy;
            for (unsigned int b = 0; b < HOP_METRICS_BUCKETS; b++) {
                x->queue_time_histogram[b] += hop__atomic_load_u64(&r->queue_hist[b]);
                x->run_time_histogram[b] += hop__atomic_load_u64(&r->run_hist[b]);
                x->turn_time_histogram[b] += hop__atomic_load_u64(&r->turn_hist[b]);
            }
        }
        for (size_t t = 0; t < ntasks; t++)
            x->tasks_alive += tasks[t].executor == executor;
    }
    m->executor_count = i;
    pthread_mutex_unlock(&hop__obs_lock);
    free(tasks);
    return m;
}

/* ---- the watchdog ---------------------------------------------------------------------- */

#define HOP__WATCHDOG_THRESHOLD_DEFAULT_NS 100000000u
#define HOP__WATCHDOG_MAX_REPORTS 16

static struct {
    pthread_mutex_t lock; /* guards the fields below, and start/stop */
    pthread_cond_t cond;
    bool running, stopping;
    pthread_t thread;
    hop_watchdog_options_t options;
} hop__watchdog = {.lock = PTHREAD_MUTEX_INITIALIZER};

typedef struct {
    hop_stall_t stall;
    hop_task_t *task;
    char thread_name[16];
} hop__watchdog_report_t;

static void hop__watchdog_default(const hop_stall_t *stall, void *arg) {
    (void)arg;
    hop_stall_print(stderr, stall);
}

void hop_stall_print(FILE *out, const hop_stall_t *stall) {
    if (!out || !stall)
        return;
    unsigned long long ms = (unsigned long long)(stall->running_ns / 1000000u);
    const char *thread = stall->thread_name ? stall->thread_name : "?";
    if (stall->turn) {
        fprintf(out,
                "hop watchdog: a turn of %s %p has run %llu ms (thread %s): many jobs in one turn, or slow "
                "timer or I/O callbacks\n",
                stall->executor_kind, (void *)stall->executor, ms, thread);
    } else if (stall->has_task) {
        fprintf(out, "hop watchdog: task %llu \"%s\" has run %llu ms without suspending on %s %p (thread %s)",
                (unsigned long long)stall->task.id, stall->task.name, ms, stall->executor_kind,
                (void *)stall->executor, thread);
        if (stall->task.spawn_file)
            fprintf(out, ",\n    spawned at %s:%d", stall->task.spawn_file, stall->task.spawn_line);
        fputc('\n', out);
    } else {
        Dl_info info;
        const char *fn = NULL;
        if (stall->job_fn && dladdr((void *)(uintptr_t)stall->job_fn, &info) && info.dli_sname)
            fn = info.dli_sname;
        fprintf(out, "hop watchdog: a job (%s%s%p) has run %llu ms on %s %p (thread %s)\n", fn ? fn : "",
                fn ? " at " : "", (void *)(uintptr_t)stall->job_fn, ms, stall->executor_kind,
                (void *)stall->executor, thread);
    }
    fflush(out);
}

/* The owner writes its name while the watchdog may read it: byte by byte,
 * atomically (a name being written may show torn, never a race). */
static void hop__obs_copy_name(char *out, const hop__obs_thread_t *th) {
    for (size_t i = 0; i < sizeof th->name; i++)
        out[i] = __atomic_load_n(&th->name[i], __ATOMIC_RELAXED);
    out[sizeof th->name - 1] = '\0';
}

/* One look at every thread; fills reports, returns how many. */
static size_t hop__watchdog_scan(uint64_t threshold, hop__watchdog_report_t *reports, size_t max) {
    size_t n = 0;
    uint64_t now = hop__obs_now();
    pthread_mutex_lock(&hop__obs_lock);
    for (hop__obs_thread_t *th = hop__obs_threads; th && n < max; th = th->next) {
        if (!hop__atomic_load_uint(&th->in_use))
            continue;
        uint64_t turn_seq = hop__atomic_load_u64(&th->turn_seq);
        uint64_t seq = hop__atomic_load_u64(&th->job_seq);
        hop__atomic_fence_acquire();
        if ((seq & 1u) && seq != th->reported_job_seq) {
            uint64_t started = hop__atomic_load_u64(&th->job_started);
            hop__watchdog_report_t rep = {0};
            rep.stall.executor = hop__atomic_load_ptr(&th->job_executor);
            rep.task = hop__atomic_load_ptr(&th->job_task);
            rep.stall.job_fn = __atomic_load_n(&th->job_fn, __ATOMIC_RELAXED);
            hop__atomic_fence_acquire();
            if (hop__atomic_load_u64(&th->job_seq) == seq && now > started && now - started >= threshold) {
                th->reported_job_seq = seq;
                if (turn_seq & 1u)
                    th->reported_turn_seq = turn_seq; /* that turn's stall is this job's */
                rep.stall.running_ns = now - started;
                reports[n++] = rep;
                hop__obs_copy_name(reports[n - 1].thread_name, th);
                continue;
            }
        }
        /* A turn is reported only between jobs: a long job in it is the
         * job's report (its turn started a moment earlier). */
        if ((turn_seq & 1u) && turn_seq != th->reported_turn_seq && !(seq & 1u)) {
            uint64_t started = hop__atomic_load_u64(&th->turn_started);
            hop_executor_t *executor = hop__atomic_load_ptr(&th->turn_executor);
            hop__atomic_fence_acquire();
            if (hop__atomic_load_u64(&th->turn_seq) == turn_seq && now > started && now - started >= threshold) {
                th->reported_turn_seq = turn_seq;
                hop__watchdog_report_t rep = {0};
                rep.stall.turn = true;
                rep.stall.executor = executor;
                rep.stall.running_ns = now - started;
                reports[n++] = rep;
                hop__obs_copy_name(reports[n - 1].thread_name, th);
            }
        }
    }
    pthread_mutex_unlock(&hop__obs_lock);
    return n;
}

static void *hop__watchdog_main(void *arg) {
    (void)arg;
    pthread_setname_np(pthread_self(), "hop-watchdog");
    hop__watchdog_report_t reports[HOP__WATCHDOG_MAX_REPORTS];
    pthread_mutex_lock(&hop__watchdog.lock);
    uint64_t threshold = hop__watchdog.options.threshold_ns;
    hop_stall_fn on_stall = hop__watchdog.options.on_stall;
    void *stall_arg = hop__watchdog.options.arg;
    uint64_t period = threshold / 4u;
    if (period < 1000000u)
        period = 1000000u;
    while (!hop__watchdog.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + period;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&hop__watchdog.cond, &hop__watchdog.lock, &until);
        if (hop__watchdog.stopping)
            break;
        pthread_mutex_unlock(&hop__watchdog.lock);
        size_t n = hop__watchdog_scan(threshold, reports, HOP__WATCHDOG_MAX_REPORTS);
        for (size_t i = 0; i < n; i++) {
            hop_stall_t *stall = &reports[i].stall;
            stall->thread_name = reports[i].thread_name;
            stall->executor_kind = hop_executor_name(stall->executor);
            /* The task may have finished since: then the report says only
             * which job it was. */
            stall->has_task = reports[i].task && hop__registry_find(reports[i].task, &stall->task);
            on_stall(stall, stall_arg);
        }
        pthread_mutex_lock(&hop__watchdog.lock);
    }
    pthread_mutex_unlock(&hop__watchdog.lock);
    return NULL;
}

int hop_debug_watchdog_start(const hop_watchdog_options_t *options) {
    hop_watchdog_options_t o = options ? *options : (hop_watchdog_options_t){0};
    if (!o.threshold_ns)
        o.threshold_ns = HOP__WATCHDOG_THRESHOLD_DEFAULT_NS;
    if (!o.on_stall)
        o.on_stall = hop__watchdog_default;
    pthread_mutex_lock(&hop__watchdog.lock);
    if (hop__watchdog.running) {
        pthread_mutex_unlock(&hop__watchdog.lock);
        return HOP_EBUSY;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&hop__watchdog.cond, &attr);
    pthread_condattr_destroy(&attr);
    hop__watchdog.options = o;
    hop__watchdog.stopping = false;
    /* The watchdog takes no signals: they are the application's. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = hop__pthread_create(&hop__watchdog.thread, NULL, hop__watchdog_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&hop__watchdog.cond);
        pthread_mutex_unlock(&hop__watchdog.lock);
        return HOP_EAGAIN;
    }
    hop__watchdog.running = true;
    hop__obs_set_flag(HOP__OBSERVE_WATCHDOG, true);
    pthread_mutex_unlock(&hop__watchdog.lock);
    return 0;
}

int hop_debug_watchdog_stop(void) {
    pthread_mutex_lock(&hop__watchdog.lock);
    if (!hop__watchdog.running || hop__watchdog.stopping) {
        pthread_mutex_unlock(&hop__watchdog.lock);
        return HOP_EALREADY; /* not started, or another stop is under way */
    }
    if (pthread_equal(pthread_self(), hop__watchdog.thread)) {
        pthread_mutex_unlock(&hop__watchdog.lock);
        return HOP_EDEADLK;
    }
    hop__obs_set_flag(HOP__OBSERVE_WATCHDOG, false);
    hop__watchdog.stopping = true;
    pthread_cond_signal(&hop__watchdog.cond);
    pthread_t thread = hop__watchdog.thread;
    pthread_mutex_unlock(&hop__watchdog.lock);
    pthread_join(thread, NULL);
    pthread_mutex_lock(&hop__watchdog.lock);
    pthread_cond_destroy(&hop__watchdog.cond);
    hop__watchdog.running = false;
    pthread_mutex_unlock(&hop__watchdog.lock);
    return 0;
}
