/* src/core/trace.c: the trace of tasks (hop/trace.h), fed by the hooks of
 * trace.h in the task's life (task.c) and in the await protocol
 * (awaitable.c).
 *
 * Rings. Each thread that records gets a ring of its own on its first event
 * of a trace (registered in the trace's list under a lock, once), and then
 * writes only there, without a lock: events are plain stores, the ring's
 * head an atomic store read by hop_trace_stats. A trace is a session (its
 * number is hop__trace_state while it records): a thread whose ring belongs
 * to an earlier session registers again, and the rings of the previous
 * trace are kept as spares for the next. Rings are never freed: a thread that
 * read the session just before a stop and a start may still touch its old
 * ring's busy count (only that), so the memory must stay valid.
 *
 * Stop waits for writers. A writer adds 1 to its ring's busy count (a full
 * barrier), then checks that its session is still recording; the stop sets
 * the state to 0, takes a full fence and waits for every ring's count to
 * fall to 0. Either the writer sees the stop and backs out, or the stop sees
 * the writer and waits for it (its count's decrement, a full barrier too,
 * publishes its event). After that nobody writes the rings, and the export
 * reads them plainly, under the lock that keeps a new trace from starting
 * meanwhile. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fault.h"
#include "hop/trace.h"
#include "task_internal.h"
#include "trace.h"

enum {
    HOP__TRACE_SPAWN = 1,
    HOP__TRACE_RUN,
    HOP__TRACE_SUSPEND,
    HOP__TRACE_RESUME,
    HOP__TRACE_MIGRATE,
    HOP__TRACE_FINISH,
    HOP__TRACE_CANCEL,
};

typedef struct {
    uint64_t ts;   /* CLOCK_MONOTONIC, ns */
    uint64_t task; /* its id */
    uint64_t arg;  /* SPAWN: the parent's id (0: none); MIGRATE: the thread it ran
                      on before; FINISH: 1 if cancelled */
    uint32_t kind; /* HOP__TRACE_* */
    uint32_t spare;
    /* SPAWN and RUN: the task's name; SUSPEND: the awaitable's, copied
     * because the export comes later than the await. */
    char name[HOP__TASK_NAME_MAX];
} hop__trace_event_t;

_Static_assert(sizeof(hop__trace_event_t) == 64, "a trace event is one cache line");

typedef struct hop__trace_ring_s {
    struct hop__trace_ring_s *next; /* the trace's list, or the spares (under the lock) */
    unsigned int busy;              /* writers inside (atomic): the owner, or a stale one */
    pid_t tid;
    char thread_name[16];
    uint64_t head;     /* events written so far (atomic; written by the owner only) */
    uint64_t mask;     /* this trace's ring size - 1 */
    uint64_t capacity; /* events allocated */
    hop__trace_event_t *events;
} hop__trace_ring_t;

typedef struct {
    hop__trace_ring_t *ring; /* NULL: none (no memory for it) */
    unsigned int session;    /* the trace ring belongs to */
} hop__trace_self_t;

HOP__TLS_SLOT(hop__trace_self_slot, hop__trace_self_t)

unsigned int hop__trace_state;

static pthread_mutex_t hop__trace_lock = PTHREAD_MUTEX_INITIALIZER;
/* Under the lock. */
static unsigned int hop__trace_session;   /* the last trace started */
static uint64_t hop__trace_size;          /* its rings' size, in events */
static hop__trace_ring_t *hop__trace_rings; /* its rings */
static hop__trace_ring_t *hop__trace_spares; /* earlier traces' rings */
static uint64_t hop__trace_start_ns, hop__trace_stop_ns;
/* Events of threads that have no ring (atomic). */
static uint64_t hop__trace_lost;

static uint64_t hop__trace_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- recording ---------------------------------------------------------- */

/* Gives self a ring for session (under the lock), unless it stopped meanwhile. */
static void hop__trace_register(hop__trace_self_t *self, unsigned int session) {
    pthread_mutex_lock(&hop__trace_lock);
    self->ring = NULL;
    self->session = session;
    if (hop__atomic_load_uint(&hop__trace_state) == session) {
        hop__trace_ring_t **p = &hop__trace_spares, *ring;
        while ((ring = *p) && ring->capacity < hop__trace_size)
            p = &ring->next;
        if (ring) {
            *p = ring->next;
        } else if ((ring = hop__calloc(1, sizeof *ring))) {
            ring->events = aligned_alloc(64, hop__trace_size * sizeof *ring->events);
            if (ring->events) {
                ring->capacity = hop__trace_size;
            } else {
                free(ring);
                ring = NULL;
            }
        }
        if (ring) {
            ring->tid = gettid();
            memset(ring->thread_name, 0, sizeof ring->thread_name);
            pthread_getname_np(pthread_self(), ring->thread_name, sizeof ring->thread_name);
            ring->mask = hop__trace_size - 1;
            hop__atomic_store_u64(&ring->head, 0);
            ring->next = hop__trace_rings;
            hop__trace_rings = ring;
        }
        self->ring = ring;
    }
    pthread_mutex_unlock(&hop__trace_lock);
}

/* This thread's ring, entered (busy), or NULL when not recording. */
static hop__trace_ring_t *hop__trace_enter(void) {
    hop__trace_self_t *self = hop__trace_self_slot();
    unsigned int state = hop__atomic_load_uint(&hop__trace_state);
    if (!state)
        return NULL;
    if (self->session != state)
        hop__trace_register(self, state);
    hop__trace_ring_t *ring = self->ring;
    if (!ring) {
        if (self->session == state)
            hop__atomic_faa_u64(&hop__trace_lost, 1u);
        return NULL;
    }
    /* A full barrier, paired with the stop's fence: see the top. */
    hop__atomic_faa_uint(&ring->busy, 1u);
    if (hop__atomic_load_uint(&hop__trace_state) != self->session) {
        hop__atomic_faa_uint(&ring->busy, (unsigned int)-1);
        return NULL;
    }
    return ring;
}

static void hop__trace_leave(hop__trace_ring_t *ring) {
    /* A full barrier: the events are written before the stop sees 0. */
    hop__atomic_faa_uint(&ring->busy, (unsigned int)-1);
}

static hop__trace_event_t *hop__trace_put(hop__trace_ring_t *ring, uint32_t kind, uint64_t ts, uint64_t task,
                                          uint64_t arg) {
    uint64_t head = hop__atomic_load_u64(&ring->head);
    hop__trace_event_t *e = &ring->events[head & ring->mask];
    e->ts = ts;
    e->task = task;
    e->arg = arg;
    e->kind = kind;
    hop__atomic_store_u64(&ring->head, head + 1u);
    return e;
}

static void hop__trace_simple(const hop_task_t *t, uint32_t kind, uint64_t arg) {
    hop__trace_ring_t *ring = hop__trace_enter();
    if (!ring)
        return;
    hop__trace_put(ring, kind, hop__trace_now(), t->id, arg);
    hop__trace_leave(ring);
}

void hop__trace_spawn(const hop_task_t *t, const hop_task_t *parent) {
    hop__trace_ring_t *ring = hop__trace_enter();
    if (!ring)
        return;
    hop__trace_event_t *e = hop__trace_put(ring, HOP__TRACE_SPAWN, hop__trace_now(), t->id, parent ? parent->id : 0);
    memcpy(e->name, t->name, sizeof e->name);
    hop__trace_leave(ring);
}

void hop__trace_run(hop_task_t *t) {
    hop__trace_ring_t *ring = hop__trace_enter();
    if (!ring)
        return;
    uint64_t now = hop__trace_now();
    /* trace_tid is the running thread's: every move of t goes through a
     * submit, which orders it. 0: not run in a trace yet. */
    if (t->trace_tid != ring->tid) {
        if (t->trace_tid)
            hop__trace_put(ring, HOP__TRACE_MIGRATE, now, t->id, (uint64_t)t->trace_tid);
        t->trace_tid = ring->tid;
    }
    hop__trace_event_t *e = hop__trace_put(ring, HOP__TRACE_RUN, now, t->id, 0);
    memcpy(e->name, t->name, sizeof e->name);
    hop__trace_leave(ring);
}

void hop__trace_switched_out(const hop_task_t *t) {
    if (t->switch_reason == HOP__SWITCH_DONE)
        return; /* hop__trace_finish records the end */
    hop__trace_ring_t *ring = hop__trace_enter();
    if (!ring)
        return;
    const char *what = t->switch_reason == HOP__SWITCH_RUN_JOB
                           ? "join"
                           : hop__atomic_load_ptr((const char **)&t->await_name);
    hop__trace_event_t *e = hop__trace_put(ring, HOP__TRACE_SUSPEND, hop__trace_now(), t->id, 0);
    /* The await is still in progress (its suspend() has not run): the name
     * is alive. */
    size_t i = 0;
    if (what)
        for (; i < sizeof e->name - 1 && what[i]; i++)
            e->name[i] = what[i];
    e->name[i] = '\0';
    hop__trace_leave(ring);
}

void hop__trace_finish(const hop_task_t *t, bool cancelled) { hop__trace_simple(t, HOP__TRACE_FINISH, cancelled); }

void hop__trace_resume(const hop_task_t *t) { hop__trace_simple(t, HOP__TRACE_RESUME, 0); }

void hop__trace_cancel(const hop_task_t *t) { hop__trace_simple(t, HOP__TRACE_CANCEL, 0); }

/* ---- control ----------------------------------------------------------- */

/* fork(): the lock is held across it, so the child finds it free and the
 * lists whole. Only the forking thread exists in the child: a writer that
 * was inside an event in the parent left its ring's busy count up for good,
 * so the child clears the counts and stops the trace, keeping its copy of
 * the rings (hop/trace.h). */
static pthread_once_t hop__trace_fork_once = PTHREAD_ONCE_INIT;

static void hop__trace_fork_prepare(void) { pthread_mutex_lock(&hop__trace_lock); }

static void hop__trace_fork_parent(void) { pthread_mutex_unlock(&hop__trace_lock); }

static void hop__trace_fork_child(void) {
    for (hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next)
        hop__atomic_store_uint(&ring->busy, 0u);
    for (hop__trace_ring_t *ring = hop__trace_spares; ring; ring = ring->next)
        hop__atomic_store_uint(&ring->busy, 0u);
    if (hop__atomic_load_uint(&hop__trace_state)) {
        hop__atomic_store_uint(&hop__trace_state, 0u);
        hop__trace_stop_ns = hop__trace_now();
    }
    pthread_mutex_unlock(&hop__trace_lock);
}

static void hop__trace_fork_register(void) {
    (void)pthread_atfork(hop__trace_fork_prepare, hop__trace_fork_parent, hop__trace_fork_child);
}

int hop_trace_start(const hop_trace_options_t *options) {
    static const hop_trace_options_t defaults = {0};
    if (!options)
        options = &defaults;
    if (options->flags || options->events_per_thread > HOP_TRACE_EVENTS_MAX)
        return HOP_EINVAL;
    uint64_t events = options->events_per_thread ? options->events_per_thread : HOP_TRACE_EVENTS_DEFAULT;
    uint64_t size = HOP_TRACE_EVENTS_MIN;
    while (size < events)
        size <<= 1;
    pthread_once(&hop__trace_fork_once, hop__trace_fork_register);
    pthread_mutex_lock(&hop__trace_lock);
    if (hop__atomic_load_uint(&hop__trace_state)) {
        pthread_mutex_unlock(&hop__trace_lock);
        return HOP_EBUSY;
    }
    while (hop__trace_rings) {
        hop__trace_ring_t *ring = hop__trace_rings;
        hop__trace_rings = ring->next;
        ring->next = hop__trace_spares;
        hop__trace_spares = ring;
    }
    hop__atomic_store_u64(&hop__trace_lost, 0);
    hop__trace_size = size;
    hop__trace_start_ns = hop__trace_now();
    hop__trace_stop_ns = 0;
    if (++hop__trace_session == 0)
        hop__trace_session = 1; /* 0 means off */
    hop__atomic_store_uint(&hop__trace_state, hop__trace_session);
    pthread_mutex_unlock(&hop__trace_lock);
    return 0;
}

int hop_trace_stop(void) {
    pthread_mutex_lock(&hop__trace_lock);
    if (!hop__atomic_load_uint(&hop__trace_state)) {
        pthread_mutex_unlock(&hop__trace_lock);
        return HOP_EALREADY;
    }
    hop__atomic_store_uint(&hop__trace_state, 0u);
    hop__atomic_fence_full();
    for (hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next)
        for (unsigned int spins = 0; hop__atomic_load_uint(&ring->busy) != 0u; spins++) {
            if (spins < 64)
                hop__atomic_pause();
            else
                sched_yield(); /* its writer was preempted */
        }
    hop__atomic_fence_acquire();
    hop__trace_stop_ns = hop__trace_now();
    pthread_mutex_unlock(&hop__trace_lock);
    return 0;
}

int hop_trace_stats(hop_trace_stats_t *stats) {
    if (!stats)
        return HOP_EINVAL;
    memset(stats, 0, sizeof *stats);
    pthread_mutex_lock(&hop__trace_lock);
    stats->on = hop__atomic_load_uint(&hop__trace_state) != 0u;
    uint64_t lost = hop__atomic_load_u64(&hop__trace_lost);
    stats->events = lost;
    stats->dropped = lost;
    for (const hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next) {
        uint64_t head = hop__atomic_load_u64((uint64_t *)&ring->head);
        stats->events += head;
        if (head > ring->mask + 1)
            stats->dropped += head - (ring->mask + 1);
        stats->threads++;
    }
    pthread_mutex_unlock(&hop__trace_lock);
    return 0;
}

/* ---- export ------------------------------------------------------------- */

/* One slice per RUN event kept, in the order the export walks them (ring by
 * ring, oldest first), and the flow it takes part in. */
typedef struct {
    uint64_t bind;     /* flow id (0: none) */
    unsigned int flow; /* HOP__TRACE_FLOW_* */
} hop__trace_flow_t;

enum { HOP__TRACE_FLOW_IN = 1u, HOP__TRACE_FLOW_OUT = 2u };

typedef struct {
    uint64_t task, begin;
    size_t slice;
    const hop__trace_ring_t *ring;
} hop__trace_order_t;

static int hop__trace_order_cmp(const void *a, const void *b) {
    const hop__trace_order_t *x = a, *y = b;
    if (x->task != y->task)
        return x->task < y->task ? -1 : 1;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->slice < y->slice ? -1 : x->slice > y->slice;
}

/* The events a ring kept: the last min(head, size). */
static uint64_t hop__trace_kept(const hop__trace_ring_t *ring, uint64_t *first) {
    uint64_t head = ring->head, size = ring->mask + 1;
    uint64_t n = head < size ? head : size;
    *first = head - n;
    return n;
}

static const hop__trace_event_t *hop__trace_at(const hop__trace_ring_t *ring, uint64_t i) {
    return &ring->events[i & ring->mask];
}

typedef struct {
    FILE *out;
    pid_t pid;
    uint64_t base; /* the trace's start: ts 0 */
    bool first;
} hop__trace_writer_t;

static void hop__trace_string(FILE *out, const char *s, size_t max) {
    fputc('"', out);
    for (size_t i = 0; i < max && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\u%04x", c); /* task names are bytes, shown as Latin-1 */
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* Starts an event: separator, phase, ts (in microseconds), pid and tid. */
static void hop__trace_begin_event(hop__trace_writer_t *w, char phase, uint64_t ts, pid_t tid) {
    uint64_t rel = ts > w->base ? ts - w->base : 0;
    fprintf(w->out, "%s{\"ph\":\"%c\",\"ts\":%" PRIu64 ".%03u,\"pid\":%d,\"tid\":%d", w->first ? "" : ",\n", phase,
            rel / 1000u, (unsigned int)(rel % 1000u), (int)w->pid, (int)tid);
    w->first = false;
}

/* A task's display name: its own, or "task N". */
static void hop__trace_task_name(FILE *out, const char *name, uint64_t task) {
    if (name[0]) {
        hop__trace_string(out, name, HOP__TASK_NAME_MAX - 1);
    } else {
        fprintf(out, "\"task %" PRIu64 "\"", task);
    }
}

static void hop__trace_instant(hop__trace_writer_t *w, const hop__trace_ring_t *ring, const hop__trace_event_t *e,
                               const char *what) {
    hop__trace_begin_event(w, 'i', e->ts, ring->tid);
    fprintf(w->out, ",\"s\":\"t\",\"cat\":\"hop\",\"name\":\"%s\",\"args\":{\"task\":%" PRIu64, what, e->task);
    switch (e->kind) {
    case HOP__TRACE_SPAWN:
        fprintf(w->out, ",\"name\":");
        hop__trace_task_name(w->out, e->name, e->task);
        if (e->arg)
            fprintf(w->out, ",\"parent\":%" PRIu64, e->arg);
        break;
    case HOP__TRACE_MIGRATE:
        fprintf(w->out, ",\"from_tid\":%" PRIu64, e->arg);
        break;
    case HOP__TRACE_SUSPEND:
        fprintf(w->out, ",\"suspend\":");
        hop__trace_string(w->out, e->name[0] ? e->name : "awaitable", HOP__TASK_NAME_MAX - 1);
        break;
    default:
        break;
    }
    fprintf(w->out, "}}");
}

/* Ends the innermost open slice at ts, with args (a JSON object's inside). */
static void hop__trace_end(hop__trace_writer_t *w, const hop__trace_ring_t *ring, uint64_t ts, const char *key,
                           const char *value) {
    hop__trace_begin_event(w, 'E', ts, ring->tid);
    fprintf(w->out, ",\"args\":{\"%s\":", key);
    hop__trace_string(w->out, value, HOP__TASK_NAME_MAX - 1);
    fprintf(w->out, "}}");
}

/* Writes one ring's events. slices: its first slice's flow; returns the
 * number of slices written. stack: room for that many open slices. */
static size_t hop__trace_write_ring(hop__trace_writer_t *w, const hop__trace_ring_t *ring,
                                    const hop__trace_flow_t *flows, uint64_t *stack, uint64_t end_ns) {
    hop__trace_begin_event(w, 'M', 0, ring->tid);
    fprintf(w->out, ",\"name\":\"thread_name\",\"args\":{\"name\":");
    char fallback[32];
    snprintf(fallback, sizeof fallback, "thread %d", (int)ring->tid);
    hop__trace_string(w->out, ring->thread_name[0] ? ring->thread_name : fallback, sizeof ring->thread_name);
    fprintf(w->out, "}}");
    uint64_t first, n = hop__trace_kept(ring, &first), last_ts = 0;
    size_t depth = 0, slices = 0;
    for (uint64_t i = first; i < first + n; i++) {
        const hop__trace_event_t *e = hop__trace_at(ring, i);
        last_ts = e->ts;
        switch (e->kind) {
        case HOP__TRACE_RUN: {
            const hop__trace_flow_t *f = &flows[slices++];
            hop__trace_begin_event(w, 'B', e->ts, ring->tid);
            fprintf(w->out, ",\"cat\":\"task\",\"name\":");
            hop__trace_task_name(w->out, e->name, e->task);
            fprintf(w->out, ",\"args\":{\"task\":%" PRIu64 ",\"name\":", e->task);
            hop__trace_string(w->out, e->name, HOP__TASK_NAME_MAX - 1);
            fputc('}', w->out);
            if (f->flow) {
                fprintf(w->out, ",\"bind_id\":%" PRIu64 "%s%s", f->bind,
                        f->flow & HOP__TRACE_FLOW_IN ? ",\"flow_in\":true" : "",
                        f->flow & HOP__TRACE_FLOW_OUT ? ",\"flow_out\":true" : "");
            }
            fputc('}', w->out);
            stack[depth++] = e->task;
            break;
        }
        case HOP__TRACE_SUSPEND:
        case HOP__TRACE_FINISH: {
            /* Its slice is the innermost open one, unless the ring wrapped
             * over its start: then it is not open at all. */
            size_t at = depth;
            while (at > 0 && stack[at - 1] != e->task)
                at--;
            if (at == 0) {
                hop__trace_instant(w, ring, e,
                                   e->kind == HOP__TRACE_SUSPEND ? "suspend"
                                   : e->arg                      ? "cancelled"
                                                                 : "done");
                break;
            }
            while (depth > at) { /* never seen: a slice left open inside it */
                hop__trace_end(w, ring, e->ts, "end", "unknown");
                depth--;
            }
            depth--;
            if (e->kind == HOP__TRACE_SUSPEND)
                hop__trace_end(w, ring, e->ts, "suspend", e->name[0] ? e->name : "awaitable");
            else
                hop__trace_end(w, ring, e->ts, "end", e->arg ? "cancelled" : "done");
            break;
        }
        case HOP__TRACE_SPAWN:
            hop__trace_instant(w, ring, e, "spawn");
            break;
        case HOP__TRACE_RESUME:
            hop__trace_instant(w, ring, e, "resume");
            break;
        case HOP__TRACE_MIGRATE:
            hop__trace_instant(w, ring, e, "migrate");
            break;
        case HOP__TRACE_CANCEL:
            hop__trace_instant(w, ring, e, "cancel");
            break;
        default:
            break;
        }
    }
    /* Slices still open when the trace stopped end there. */
    uint64_t end = end_ns > last_ts ? end_ns : last_ts;
    while (depth > 0) {
        hop__trace_end(w, ring, end, "end", "running when the trace stopped");
        depth--;
    }
    return slices;
}

/* Under the lock, with no trace recording. */
static int hop__trace_export(FILE *out) {
    size_t nslices = 0;
    uint64_t dropped = hop__trace_lost, events = hop__trace_lost;
    size_t threads = 0;
    for (const hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next) {
        uint64_t first, n = hop__trace_kept(ring, &first);
        for (uint64_t i = first; i < first + n; i++)
            nslices += hop__trace_at(ring, i)->kind == HOP__TRACE_RUN;
        events += ring->head;
        dropped += ring->head - n;
        threads++;
    }
    hop__trace_flow_t *flows = calloc(nslices + 1, sizeof *flows);
    hop__trace_order_t *order = malloc((nslices + 1) * sizeof *order);
    uint64_t *stack = hop__malloc((nslices + 1) * sizeof *stack);
    if (!flows || !order || !stack) {
        free(flows);
        free(order);
        free(stack);
        return HOP_ENOMEM;
    }
    /* Flows: the slices of each task in time order; where two in a row are
     * on different threads, an arrow from the first to the second. A slice
     * that is both an arrow's end and the next one's start continues the
     * same flow id (Perfetto's flow_in + flow_out: a step). */
    size_t k = 0;
    for (const hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next) {
        uint64_t first, n = hop__trace_kept(ring, &first);
        for (uint64_t i = first; i < first + n; i++) {
            const hop__trace_event_t *e = hop__trace_at(ring, i);
            if (e->kind == HOP__TRACE_RUN) {
                order[k] = (hop__trace_order_t){.task = e->task, .begin = e->ts, .slice = k, .ring = ring};
                k++;
            }
        }
    }
    qsort(order, nslices, sizeof *order, hop__trace_order_cmp);
    uint64_t next_bind = 0;
    for (size_t i = 1; i < nslices; i++) {
        const hop__trace_order_t *a = &order[i - 1], *b = &order[i];
        if (a->task != b->task || a->ring == b->ring)
            continue;
        hop__trace_flow_t *from = &flows[a->slice], *to = &flows[b->slice];
        if (!(from->flow & HOP__TRACE_FLOW_IN))
            from->bind = ++next_bind;
        from->flow |= HOP__TRACE_FLOW_OUT;
        to->flow |= HOP__TRACE_FLOW_IN;
        to->bind = from->bind;
    }

    hop__trace_writer_t w = {.out = out, .pid = getpid(), .base = hop__trace_start_ns, .first = true};
    fprintf(out, "{\"traceEvents\":[\n");
    hop__trace_begin_event(&w, 'M', 0, w.pid);
    fprintf(out, ",\"name\":\"process_name\",\"args\":{\"name\":");
    hop__trace_string(out, program_invocation_short_name, 64);
    fprintf(out, "}}");
    size_t slice = 0;
    for (const hop__trace_ring_t *ring = hop__trace_rings; ring; ring = ring->next)
        slice += hop__trace_write_ring(&w, ring, &flows[slice], stack, hop__trace_stop_ns);
    fprintf(out,
            "\n],\n\"otherData\":{\"producer\":\"hop\",\"hop_events\":%" PRIu64 ",\"hop_dropped_events\":%" PRIu64
            ",\"hop_threads\":%zu}}\n",
            events, dropped, threads);
    free(flows);
    free(order);
    free(stack);
    if (fflush(out) != 0 || ferror(out))
        return HOP_EIO;
    return 0;
}

int hop_trace_write_json(FILE *out) {
    if (!out)
        return HOP_EINVAL;
    pthread_mutex_lock(&hop__trace_lock);
    int err = hop__atomic_load_uint(&hop__trace_state) ? HOP_EBUSY : hop__trace_export(out);
    pthread_mutex_unlock(&hop__trace_lock);
    return err;
}
