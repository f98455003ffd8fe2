/* examples/progress.h: a long job on another executor that reports how far
 * it has got, delivered to the task waiting for it.
 *
 *     static int copy_file(progress_reporter_t *r, void *arg, void **result) {
 *         for (size_t done = 0; done < total; done += chunk) {
 *             write_chunk(...);                                // blocking is fine here
 *             if (progress_report(r, (int)(100 * done / total)) == HOP_ECANCELED)
 *                 return HOP_ECANCELED;                        // nobody waits any more
 *         }
 *         return 0;
 *     }
 *     static void show(int percent, void *arg) { update_progress_bar(arg, percent); }
 *
 *     int err = progress_run(hop_pool_executor(&blocking_pool), copy_file, &job,
 *                            show, bar, &result, free);
 *
 * This is C#'s IProgress<T>/Progress<T>: the worker calls Report(), and the
 * handler runs in the awaiting code's SynchronizationContext (its UI
 * thread, its loop), never on the worker. In asyncio, the same is done with
 * loop.call_soon_threadsafe(callback, percent) from the executor thread
 * while the coroutine awaits run_in_executor.
 *
 * Guarantees:
 *   - job runs once, as a plain job (no task, no stack of its own) on
 *     job_executor; it may block (give it a pool meant for blocking work);
 *   - on_progress runs in the awaiting task itself, on the task's stack and
 *     executor (a loop task: on its loop thread), one call at a time, so it
 *     needs no locking against the task; it may even await;
 *   - the percentages it sees strictly increase; a report that is not
 *     higher than the last one is dropped, and reports that arrive faster
 *     than the task wakes are coalesced (the task sees the latest). When the
 *     job succeeds the last call is on_progress(100), reported by the job or
 *     added by progress_run, so a progress bar always completes; a failed
 *     job's percentages end wherever it stopped;
 *   - cancellation: if the task is cancelled (or a deadline passes) while
 *     it waits, progress_run returns HOP_ECANCELED (HOP_ETIMEDOUT) at once;
 *     the job keeps running but every progress_report from then on returns
 *     HOP_ECANCELED so it can stop early, and its result (if it succeeds)
 *     goes to result_destructor on the job's thread, so it is never leaked.
 *     If the job had finished first, the result goes to result_destructor
 *     on the task's thread instead: one owner, always.
 *
 * The state shared by the job and the task is one small heap block (the
 * task may leave before the job ends), reference counted under its lock.
 * Nothing is allocated per report: a report only wakes the task if it is
 * suspended, with hop_awaitable_complete(). */
#ifndef EXAMPLES_PROGRESS_H
#define EXAMPLES_PROGRESS_H

#include <hop/hop.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

typedef struct progress_op_s progress_reporter_t;

/* The job: runs on job_executor's thread. Returns 0 with a result in
 * *result, or a negative error. */
typedef int (*progress_job_fn)(progress_reporter_t *reporter, void *arg, void **result);
/* The handler: runs in the awaiting task (see above). */
typedef void (*progress_cb)(int percent, void *arg);

typedef struct progress_wait_s progress_wait_t;

struct progress_op_s {
    hop_job_t job; /* first: the job converts to the operation */
    pthread_mutex_t lock;
    /* guarded by lock: */
    int refs;       /* the task's and the job's */
    int latest;     /* highest percentage reported; -1: none yet */
    bool finished;  /* the job has returned */
    bool abandoned; /* the task stopped waiting */
    int status;
    void *result;
    progress_wait_t *waiter; /* the task, while it is suspended */
    /* fixed: */
    progress_job_fn fn;
    void *arg;
    hop_result_destructor_fn result_destructor;
};

struct progress_wait_s {
    hop_awaitable_t base;
    struct progress_op_s *op;
    int delivered; /* the highest percentage the task has handled */
};

/* Drops one reference; the last frees the operation. Call without the lock. */
static inline void progress__unref(struct progress_op_s *op, bool last) {
    if (last) {
        pthread_mutex_destroy(&op->lock);
        free(op);
    }
}

/* Takes the suspended task, if any, under the lock; the caller completes it
 * after unlocking. */
static inline progress_wait_t *progress__take_waiter(struct progress_op_s *op) {
    progress_wait_t *w = op->waiter;
    op->waiter = NULL;
    return w;
}

/* progress_report: from the job: the job is percent done (0..100). Any
 * thread (normally the job's); never blocks beyond a short lock.
 * Returns 0; HOP_EINVAL (NULL reporter, percent outside 0..100);
 * HOP_ECANCELED once the awaiting task has stopped waiting: the job should
 * wind down (its result will be destroyed, not delivered). */
static inline int progress_report(progress_reporter_t *reporter, int percent) {
    if (!reporter || percent < 0 || percent > 100)
        return HOP_EINVAL;
    progress_wait_t *w = NULL;
    pthread_mutex_lock(&reporter->lock);
    if (reporter->abandoned) {
        pthread_mutex_unlock(&reporter->lock);
        return HOP_ECANCELED;
    }
    if (percent > reporter->latest) {
        reporter->latest = percent;
        w = progress__take_waiter(reporter);
    }
    pthread_mutex_unlock(&reporter->lock);
    if (w)
        hop_awaitable_complete(&w->base, 0); /* the task reads latest itself */
    return 0;
}

/* progress_cancelled: true once the awaiting task has stopped waiting (for
 * jobs that want to check without reporting). Any thread. */
static inline bool progress_cancelled(progress_reporter_t *reporter) {
    pthread_mutex_lock(&reporter->lock);
    bool abandoned = reporter->abandoned;
    pthread_mutex_unlock(&reporter->lock);
    return abandoned;
}

static inline void progress__run_job(hop_job_t *job) {
    struct progress_op_s *op = (struct progress_op_s *)job;
    void *result = NULL;
    int status = op->fn(op, op->arg, &result);
    if (status > 0)
        status = HOP_ESTATE; /* the job broke its contract */
    pthread_mutex_lock(&op->lock);
    op->finished = true;
    op->status = status;
    op->result = result;
    bool abandoned = op->abandoned;
    progress_wait_t *w = progress__take_waiter(op);
    bool last = --op->refs == 0;
    pthread_mutex_unlock(&op->lock);
    if (abandoned && status == 0 && op->result_destructor)
        op->result_destructor(result); /* nobody will take it */
    if (w)
        hop_awaitable_complete(&w->base, 0); /* the task owns op again; hands off */
    progress__unref(op, last);
}

static inline bool progress__has_news(struct progress_op_s *op, int delivered) {
    return op->finished || op->latest > delivered;
}

static inline bool progress__wait_ready(hop_awaitable_t *aw) {
    progress_wait_t *w = (progress_wait_t *)aw;
    pthread_mutex_lock(&w->op->lock);
    bool ready = progress__has_news(w->op, w->delivered);
    pthread_mutex_unlock(&w->op->lock);
    return ready;
}

static inline bool progress__wait_suspend(hop_awaitable_t *aw) {
    progress_wait_t *w = (progress_wait_t *)aw;
    struct progress_op_s *op = w->op;
    pthread_mutex_lock(&op->lock);
    if (progress__has_news(op, w->delivered)) {
        pthread_mutex_unlock(&op->lock);
        return false; /* news since ready(): carry on */
    }
    op->waiter = w; /* from here a report may resume the task */
    pthread_mutex_unlock(&op->lock);
    return true;
}

static inline int progress__wait_cancel(hop_awaitable_t *aw) {
    progress_wait_t *w = (progress_wait_t *)aw;
    struct progress_op_s *op = w->op;
    pthread_mutex_lock(&op->lock);
    bool withdrawn = op->waiter == w;
    if (withdrawn)
        op->waiter = NULL;
    pthread_mutex_unlock(&op->lock);
    /* Not there: a report or the job's end took it and is completing it. */
    return withdrawn ? 0 : HOP_EALREADY;
}

static const hop_awaitable_ops_t progress__wait_ops = {
    .ready = progress__wait_ready,
    .suspend = progress__wait_suspend,
    .cancel = progress__wait_cancel,
};

/* The task stops waiting early: the job or the task, whichever is last,
 * frees op; a finished job's result goes to the destructor here. */
static inline void progress__abandon(struct progress_op_s *op) {
    pthread_mutex_lock(&op->lock);
    op->abandoned = true;
    bool finished = op->finished;
    int status = op->status;
    void *result = op->result;
    hop_result_destructor_fn destructor = op->result_destructor;
    bool last = --op->refs == 0; /* not last: the job still runs and will free op */
    pthread_mutex_unlock(&op->lock);
    if (finished && status == 0 && destructor)
        destructor(result);
    progress__unref(op, last);
}

/* progress_run: runs job(reporter, job_arg, &result) on job_executor and
 * suspends the current task until it returns, calling on_progress(percent,
 * cb_arg) in the task as reports arrive (on_progress may be NULL). Task
 * only. On success *result (if result is not NULL) receives the job's
 * result; with a NULL result, the result goes to result_destructor.
 * Returns the job's status (0 or its error); HOP_EINVAL (NULL executor or
 * job); HOP_ENOTTASK; HOP_ENOMEM; HOP_ECLOSED (job_executor takes no new
 * work: the job did not run); HOP_ECANCELED or HOP_ETIMEDOUT (the task
 * stopped waiting: see "cancellation" above). */
static inline int progress_run(hop_executor_t *job_executor, progress_job_fn job, void *job_arg,
                               progress_cb on_progress, void *cb_arg, void **result,
                               hop_result_destructor_fn result_destructor) {
    if (!job_executor || !job)
        return HOP_EINVAL;
    if (!hop_task_current())
        return HOP_ENOTTASK;
    struct progress_op_s *op = calloc(1, sizeof *op);
    if (!op)
        return HOP_ENOMEM;
    pthread_mutex_init(&op->lock, NULL);
    op->refs = 2;
    op->latest = -1;
    op->fn = job;
    op->arg = job_arg;
    op->result_destructor = result_destructor;
    hop_job_init(&op->job, progress__run_job);
    int err = hop_executor_submit(job_executor, &op->job);
    if (err) {
        progress__unref(op, true);
        return err;
    }

    progress_wait_t w = {.op = op, .delivered = -1};
    for (;;) {
        pthread_mutex_lock(&op->lock);
        int latest = op->latest;
        bool finished = op->finished;
        pthread_mutex_unlock(&op->lock);
        if (latest > w.delivered) {
            w.delivered = latest;
            if (on_progress)
                on_progress(latest, cb_arg);
        }
        if (finished)
            break;
        hop_awaitable_init(&w.base, &progress__wait_ops);
        err = hop_await(&w.base);
        if (err) {
            progress__abandon(op);
            return err;
        }
    }

    /* The job has finished and dropped its reference: op is the task's. */
    int status = op->status;
    void *value = op->result;
    progress__unref(op, true);
    if (status == 0) {
        if (w.delivered < 100 && on_progress)
            on_progress(100, cb_arg);
        if (result)
            *result = value;
        else if (result_destructor)
            result_destructor(value);
    }
    return status;
}

#endif /* EXAMPLES_PROGRESS_H */
