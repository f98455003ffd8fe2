/* examples/lazy_service.h: a service created lazily by an async init on
 * first use, cleaned up when its scope ends, with stats.
 *
 *     lazy_service_t db;
 *     lazy_service_begin(&db, connect_db, close_db, &config);   // nothing runs yet
 *     ...in any number of tasks, on any executors:
 *         void *conn;
 *         if (lazy_service_acquire(&db, &conn) == 0) {   // the first caller connects
 *             query(conn, ...);
 *             lazy_service_release(&db);
 *         }
 *     ...
 *     lazy_service_end(&db);      // waits for users, then close_db(conn) once
 *     lazy_service_stats(&db, &stats);
 *
 * The idioms: C#'s Lazy<Task<T>> (or AsyncLazy<T>) for the one-time async
 * init, `await using` / IAsyncDisposable for the cleanup at scope end; in
 * asyncio an `async with` around an object whose `async def get()` starts
 * one init task that every other caller awaits. begin/end is the `with`
 * block: call them from the code that owns the service's lifetime.
 *
 * Guarantees:
 *   - init runs at most once at a time and, once it succeeds, never again:
 *     the first acquire runs it in its own task (so it may await: connect,
 *     hop_run_in_executor...); every acquire that arrives meanwhile, from any
 *     executor or thread, suspends on a waiter list (its record on its own
 *     stack) and resumes on its own executor when init finishes;
 *   - a failed init is not remembered: its waiters get its error, the next
 *     acquire tries again. If the initialising task is cancelled, its
 *     waiters are not: one of them runs init instead;
 *   - a waiter that is cancelled (or times out) leaves the list at once,
 *     through the awaitable's cancel op; init goes on for the others;
 *   - lazy_service_end refuses new acquires (HOP_ECLOSED; so do acquires
 *     still waiting for an init when the end begins: only the initialising
 *     task gets that service), waits for an init in progress and for every
 *     acquire to be released, then runs cleanup once, in the ending task (it
 *     may await), only if init ever succeeded;
 *   - stats are readable from any thread at any time, also after the end
 *     (which is why the end does not destroy the struct's mutex: a glibc
 *     mutex holds no resources).
 *
 * Threads: init runs in the first acquiring task, cleanup in the ending
 * task, each on that task's executor; the lock is a pthread mutex held for a
 * few pointer writes, never across an await or a callback. */
#ifndef EXAMPLES_LAZY_SERVICE_H
#define EXAMPLES_LAZY_SERVICE_H

#include <hop/hop.h>
#include <pthread.h>

/* Creates the service: runs in a task, may await. Returns 0 with the
 * service in *service, or a negative error. */
typedef int (*lazy_init_fn)(void *arg, void **service);
/* Disposes of it: runs in the task that ends the scope, may await. */
typedef void (*lazy_cleanup_fn)(void *service, void *arg);

typedef enum {
    LAZY_EMPTY,        /* not initialised (yet, or the last init failed) */
    LAZY_INITIALIZING, /* an init is running */
    LAZY_READY,        /* the service exists */
    LAZY_CLOSED        /* the scope has ended */
} lazy_state_t;

typedef struct lazy_waiter_s lazy_waiter_t;
struct lazy_waiter_s {
    hop_awaitable_t base; /* first */
    struct lazy_service_s *svc;
    lazy_waiter_t *next, *prev;
    bool linked; /* on the init waiter list */
    bool woken;  /* init finished and set init_status */
    int init_status;
};

typedef struct {
    uint64_t inits;         /* init calls made */
    uint64_t init_failures; /* of which failed */
    uint64_t init_ns;       /* how long the successful init took; 0 before */
    uint64_t ready_at_ns;   /* when it succeeded (hop_time_now_ns clock); 0 before */
    uint64_t accesses;      /* successful acquires */
    long users;             /* acquired and not yet released, now */
    lazy_state_t state;
} lazy_service_stats_t;

typedef struct lazy_service_s {
    pthread_mutex_t lock;
    /* guarded by lock: */
    lazy_state_t state;
    bool ending;              /* lazy_service_end has started */
    bool ending_task_present; /* a task is inside lazy_service_end */
    void *service;
    lazy_waiter_t *head, *tail; /* tasks waiting for the init */
    lazy_waiter_t *closer;      /* the ending task, while it waits */
    lazy_service_stats_t stats;
    /* fixed: */
    lazy_init_fn init;
    lazy_cleanup_fn cleanup;
    void *arg;
} lazy_service_t;

/* lazy_service_begin: opens the scope: nothing runs until the first
 * acquire. cleanup may be NULL. Not thread-safe against other use of svc.
 * Returns 0, or HOP_EINVAL (NULL svc or init). */
static inline int lazy_service_begin(lazy_service_t *svc, lazy_init_fn init, lazy_cleanup_fn cleanup,
                                     void *arg) {
    if (!svc || !init)
        return HOP_EINVAL;
    *svc = (lazy_service_t){.state = LAZY_EMPTY, .init = init, .cleanup = cleanup, .arg = arg};
    pthread_mutex_init(&svc->lock, NULL);
    return 0;
}

/* Init waiters: suspend links the record, the finishing init unlinks it. */
static inline void lazy__unlink(lazy_service_t *svc, lazy_waiter_t *w) {
    if (w->prev)
        w->prev->next = w->next;
    else
        svc->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        svc->tail = w->prev;
    w->next = w->prev = NULL;
    w->linked = false;
}

static inline bool lazy__init_wait_suspend(hop_awaitable_t *aw) {
    lazy_waiter_t *w = (lazy_waiter_t *)aw;
    lazy_service_t *svc = w->svc;
    pthread_mutex_lock(&svc->lock);
    if (svc->state != LAZY_INITIALIZING) {
        pthread_mutex_unlock(&svc->lock);
        return false; /* finished since we looked: look again */
    }
    w->next = NULL;
    w->prev = svc->tail;
    if (svc->tail)
        svc->tail->next = w;
    else
        svc->head = w;
    svc->tail = w;
    w->linked = true;
    pthread_mutex_unlock(&svc->lock);
    return true;
}

static inline int lazy__init_wait_cancel(hop_awaitable_t *aw) {
    lazy_waiter_t *w = (lazy_waiter_t *)aw;
    lazy_service_t *svc = w->svc;
    pthread_mutex_lock(&svc->lock);
    bool withdrawn = w->linked;
    if (withdrawn)
        lazy__unlink(svc, w);
    pthread_mutex_unlock(&svc->lock);
    return withdrawn ? 0 : HOP_EALREADY; /* the init's end is waking us */
}

static const hop_awaitable_ops_t lazy__init_wait_ops = {
    .suspend = lazy__init_wait_suspend,
    .cancel = lazy__init_wait_cancel,
};

/* The ending task waits in svc->closer until nothing is in flight. */
static inline bool lazy__busy(const lazy_service_t *svc) {
    return svc->state == LAZY_INITIALIZING || svc->stats.users > 0;
}

static inline bool lazy__close_wait_suspend(hop_awaitable_t *aw) {
    lazy_waiter_t *w = (lazy_waiter_t *)aw;
    lazy_service_t *svc = w->svc;
    pthread_mutex_lock(&svc->lock);
    bool busy = lazy__busy(svc);
    if (busy)
        svc->closer = w;
    pthread_mutex_unlock(&svc->lock);
    return busy;
}

static inline int lazy__close_wait_cancel(hop_awaitable_t *aw) {
    lazy_waiter_t *w = (lazy_waiter_t *)aw;
    lazy_service_t *svc = w->svc;
    pthread_mutex_lock(&svc->lock);
    bool withdrawn = svc->closer == w;
    if (withdrawn)
        svc->closer = NULL;
    pthread_mutex_unlock(&svc->lock);
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t lazy__close_wait_ops = {
    .suspend = lazy__close_wait_suspend,
    .cancel = lazy__close_wait_cancel,
};

/* Under the lock: takes the ending task if nothing is in flight any more. */
static inline lazy_waiter_t *lazy__take_closer_if_idle(lazy_service_t *svc) {
    lazy_waiter_t *c = NULL;
    if (svc->closer && !lazy__busy(svc)) {
        c = svc->closer;
        svc->closer = NULL;
    }
    return c;
}

/* lazy_service_acquire: the service, initialising it first if needed (see
 * above), counted as one access and one user until lazy_service_release.
 * Task only; suspends while an init runs. Returns 0 with the service in
 * *service; init's error (nothing stored); HOP_EINVAL (NULL argument);
 * HOP_ENOTTASK; HOP_ECLOSED (the scope is ending or has ended);
 * HOP_ECANCELED / HOP_ETIMEDOUT (this task was interrupted while waiting). */
static inline int lazy_service_acquire(lazy_service_t *svc, void **service) {
    if (!svc || !service)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    for (;;) {
        pthread_mutex_lock(&svc->lock);
        if (svc->ending || svc->state == LAZY_CLOSED) {
            pthread_mutex_unlock(&svc->lock);
            return HOP_ECLOSED;
        }
        if (svc->state == LAZY_READY) {
            svc->stats.users++;
            svc->stats.accesses++;
            *service = svc->service;
            pthread_mutex_unlock(&svc->lock);
            return 0;
        }
        if (svc->state == LAZY_INITIALIZING) {
            pthread_mutex_unlock(&svc->lock);
            lazy_waiter_t w = {.svc = svc};
            hop_awaitable_init(&w.base, &lazy__init_wait_ops);
            int err = hop_await(&w.base);
            if (!w.woken) {
                if (err)
                    return err; /* this task was interrupted: it left the list */
                continue;       /* init finished before we were linked */
            }
            /* The initialiser being cancelled is its business: try again. */
            if (w.init_status < 0 && w.init_status != HOP_ECANCELED)
                return w.init_status;
            continue;
        }

        /* LAZY_EMPTY: this task initialises. */
        svc->state = LAZY_INITIALIZING;
        svc->stats.inits++;
        pthread_mutex_unlock(&svc->lock);
        uint64_t start = hop_time_now_ns();
        void *made = NULL;
        int err = svc->init(svc->arg, &made);
        if (err > 0)
            err = HOP_ESTATE; /* init broke its contract */
        uint64_t end = hop_time_now_ns();

        pthread_mutex_lock(&svc->lock);
        if (err == 0) {
            svc->state = LAZY_READY;
            svc->service = made;
            svc->stats.init_ns = end - start;
            svc->stats.ready_at_ns = end;
            svc->stats.users++;
            svc->stats.accesses++;
            *service = made;
        } else {
            svc->state = LAZY_EMPTY;
            svc->stats.init_failures++;
        }
        /* Detach every waiter and tell each the outcome, under the lock, so
         * a cancel op that finds a record no longer linked knows the wake-up
         * is coming. */
        lazy_waiter_t *wake = svc->head;
        svc->head = svc->tail = NULL;
        for (lazy_waiter_t *w = wake; w; w = w->next) {
            w->linked = false;
            w->woken = true;
            w->init_status = err;
        }
        lazy_waiter_t *closer = lazy__take_closer_if_idle(svc);
        pthread_mutex_unlock(&svc->lock);
        while (wake) {
            lazy_waiter_t *next = wake->next; /* read first: the task may run at once */
            hop_awaitable_complete(&wake->base, 0);
            wake = next;
        }
        if (closer)
            hop_awaitable_complete(&closer->base, 0);
        return err;
    }
}

/* lazy_service_release: ends one acquire. Any thread (normally the
 * acquiring task's). Returns 0; HOP_EINVAL (NULL); HOP_ESTATE (more
 * releases than acquires). */
static inline int lazy_service_release(lazy_service_t *svc) {
    if (!svc)
        return HOP_EINVAL;
    pthread_mutex_lock(&svc->lock);
    if (svc->stats.users <= 0) {
        pthread_mutex_unlock(&svc->lock);
        return HOP_ESTATE;
    }
    svc->stats.users--;
    lazy_waiter_t *closer = lazy__take_closer_if_idle(svc);
    pthread_mutex_unlock(&svc->lock);
    if (closer)
        hop_awaitable_complete(&closer->base, 0); /* the last user left */
    return 0;
}

/* lazy_service_end: ends the scope (see above): refuses new acquires, waits
 * for an init in progress and for every user to release, then runs cleanup
 * (if the service exists) in this task. Task only; suspends.
 * Returns 0; HOP_EINVAL (NULL); HOP_ENOTTASK; HOP_EALREADY (already ended);
 * HOP_EBUSY (another task is ending it right now); HOP_ECANCELED /
 * HOP_ETIMEDOUT (interrupted while waiting for users: the scope stays
 * closed to new acquires and cleanup has not run; call lazy_service_end
 * again, from another task if this one was cancelled, to finish). */
static inline int lazy_service_end(lazy_service_t *svc) {
    if (!svc)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    pthread_mutex_lock(&svc->lock);
    if (svc->state == LAZY_CLOSED) {
        pthread_mutex_unlock(&svc->lock);
        return HOP_EALREADY;
    }
    if (svc->ending_task_present) {
        pthread_mutex_unlock(&svc->lock);
        return HOP_EBUSY;
    }
    svc->ending = true;
    svc->ending_task_present = true;
    pthread_mutex_unlock(&svc->lock);

    for (;;) {
        lazy_waiter_t w = {.svc = svc};
        hop_awaitable_init(&w.base, &lazy__close_wait_ops);
        int err = hop_await(&w.base); /* does not suspend when already idle */
        pthread_mutex_lock(&svc->lock);
        bool busy = lazy__busy(svc);
        if (err || busy) {
            if (err)
                svc->ending_task_present = false;
            pthread_mutex_unlock(&svc->lock);
            if (err)
                return err;
            continue;
        }
        bool had_service = svc->state == LAZY_READY;
        void *service = svc->service;
        svc->state = LAZY_CLOSED;
        svc->service = NULL;
        svc->ending_task_present = false;
        pthread_mutex_unlock(&svc->lock);
        if (had_service && svc->cleanup)
            svc->cleanup(service, svc->arg);
        return 0;
    }
}

/* lazy_service_stats: a snapshot of the counters. Any thread, any time
 * after lazy_service_begin (also after the end). Returns 0 or HOP_EINVAL. */
static inline int lazy_service_stats(lazy_service_t *svc, lazy_service_stats_t *stats) {
    if (!svc || !stats)
        return HOP_EINVAL;
    pthread_mutex_lock(&svc->lock);
    *stats = svc->stats;
    stats->state = svc->state;
    pthread_mutex_unlock(&svc->lock);
    return 0;
}

#endif /* EXAMPLES_LAZY_SERVICE_H */
