/* examples/pipeline.h: a composable pipeline: a chain of steps, each
 * turning a value into the next, some in the task, some offloaded,
 * stopping at the first error.
 *
 *     pipeline_t p;
 *     pipeline_init(&p, free);                             // values are malloc'd
 *     pipeline_then(&p, "parse", parse, NULL);             // in the task
 *     pipeline_then(&p, "enrich", lookup_user, db);        // in the task, awaits I/O
 *     pipeline_then_offload(&p, "render", pool, render, NULL);  // blocking, on a pool
 *     char *html;
 *     size_t failed;
 *     int err = pipeline_run(&p, request, (void **)&html, &failed);
 *
 * This is a C# Task ContinueWith / LINQ-style chain, or a JavaScript
 * promise's .then().then(), or in asyncio a list of `async def` stages
 * awaited in turn. hop has no function colours: a step is one signature,
 * int step(void *input, void **output, void *arg), whether it computes
 * ("sync") or awaits a future, a sleep, a socket or hop_run_in_executor
 * ("async"): the task's stack suspends wherever it must. Offload steps are
 * plain blocking functions the pipeline runs on another executor for you.
 *
 * Guarantees:
 *   - steps run one after another, in the order added, each given the
 *     previous step's output (the first gets pipeline_run's input);
 *   - in-task steps run on the calling task's stack and executor; offload
 *     steps run as plain jobs on their executor, and the task resumes on its
 *     own executor afterwards (a loop task comes back to its loop);
 *   - the first step that returns an error stops the chain: later steps do
 *     not run, pipeline_run returns that error and the failing step's index;
 *   - ownership, when a destroy function is given: pipeline_run takes the
 *     input; each intermediate value is destroyed exactly once, as soon as
 *     the next step has produced a different one (a step may also return its
 *     input unchanged); on success the caller owns *output; on error nothing
 *     is left over. A step that fails must not hand out an output (it frees
 *     whatever it made). With destroy NULL, values are not owned (numbers);
 *   - cancellation: a cancelled task (or one whose deadline passes) stops at
 *     the step it is in: in-task steps see the error from their awaits; an
 *     offload step returns HOP_ECANCELED at once, and its job either never
 *     calls the function (not started yet) or finishes it on the worker and
 *     destroys its values there: never used after being destroyed, never
 *     leaked. (This is done with a custom awaitable rather than
 *     hop_run_in_executor_ex because the pipeline must know whether the
 *     step's input is still in use when it gives up.)
 *
 * A pipeline is built once and may then be run by many tasks at the same
 * time, on any executors: running only reads it. */
#ifndef EXAMPLES_PIPELINE_H
#define EXAMPLES_PIPELINE_H

#include <hop/hop.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

/* A step: 0 with the next value in *output, or a negative error. */
typedef int (*pipeline_fn)(void *input, void **output, void *arg);
typedef void (*pipeline_destroy_fn)(void *value);

typedef struct {
    const char *name;
    pipeline_fn fn;
    void *arg;
    hop_executor_t *executor; /* NULL: runs in the task */
} pipeline_step_t;

typedef struct {
    pipeline_step_t *steps;
    size_t count;
    size_t capacity;
    pipeline_destroy_fn destroy;
    int error; /* a failed pipeline_then*: running reports it */
} pipeline_t;

/* pipeline_init: an empty pipeline (running it returns its input). destroy
 * frees values (NULL: values are not owned). Returns 0 or HOP_EINVAL. */
static inline int pipeline_init(pipeline_t *p, pipeline_destroy_fn destroy) {
    if (!p)
        return HOP_EINVAL;
    *p = (pipeline_t){.destroy = destroy};
    return 0;
}

static inline int pipeline__add(pipeline_t *p, const char *name, hop_executor_t *executor, pipeline_fn fn,
                                void *arg) {
    if (!p)
        return HOP_EINVAL;
    if (!fn)
        return p->error = HOP_EINVAL;
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 4;
        pipeline_step_t *steps = realloc(p->steps, capacity * sizeof *steps);
        if (!steps)
            return p->error = HOP_ENOMEM;
        p->steps = steps;
        p->capacity = capacity;
    }
    p->steps[p->count++] =
        (pipeline_step_t){.name = name ? name : "", .fn = fn, .arg = arg, .executor = executor};
    return 0;
}

/* pipeline_then: appends a step run in the calling task (it may await).
 * Not thread-safe against running p. Returns 0; HOP_EINVAL (NULL p or fn);
 * HOP_ENOMEM. A failure is remembered: pipeline_run then refuses with it,
 * rather than run a chain with a step missing. */
static inline int pipeline_then(pipeline_t *p, const char *name, pipeline_fn fn, void *arg) {
    return pipeline__add(p, name, NULL, fn, arg);
}

/* pipeline_then_offload: appends a step run as a plain job on executor (a
 * pool for blocking work); fn must not await there (it is not in a task).
 * As pipeline_then, plus HOP_EINVAL for a NULL executor. */
static inline int pipeline_then_offload(pipeline_t *p, const char *name, hop_executor_t *executor,
                                        pipeline_fn fn, void *arg) {
    if (p && !executor)
        return p->error = HOP_EINVAL;
    return pipeline__add(p, name, executor, fn, arg);
}

/* pipeline_destroy: frees the step list. Not while a task runs p. */
static inline void pipeline_destroy(pipeline_t *p) {
    if (p) {
        free(p->steps);
        *p = (pipeline_t){0};
    }
}

static inline void pipeline__drop(pipeline_destroy_fn destroy, void *value) {
    if (destroy)
        destroy(value);
}

/* An offload in flight: shared by the task and the job on the heap, since
 * either may be the last to let go of it. */
enum { PIPELINE__PENDING, PIPELINE__RUNNING, PIPELINE__DONE };

typedef struct {
    hop_job_t job; /* first: the job converts to the offload */
    hop_awaitable_t await;
    pthread_mutex_t lock;
    /* guarded by lock: */
    int refs;
    int state;
    bool gave_up;            /* the task left: the job cleans up */
    hop_awaitable_t *waiter; /* the task, while suspended */
    /* written by the job before DONE, read by whoever owns the outcome: */
    int err;
    void *out;
    /* fixed: */
    pipeline_fn fn;
    void *arg;
    void *in;
    pipeline_destroy_fn destroy;
} pipeline__offload_t;

static inline void pipeline__offload_release(pipeline__offload_t *o, bool last) {
    if (last) {
        pthread_mutex_destroy(&o->lock);
        free(o);
    }
}

/* Destroys the offload's values after the task gave up on it. */
static inline void pipeline__offload_clean(pipeline__offload_t *o, bool ran) {
    if (ran && o->err == 0 && o->out != o->in)
        pipeline__drop(o->destroy, o->out);
    pipeline__drop(o->destroy, o->in);
}

static inline void pipeline__offload_run(hop_job_t *job) {
    pipeline__offload_t *o = (pipeline__offload_t *)job;
    pthread_mutex_lock(&o->lock);
    bool skip = o->gave_up; /* cancelled before it started: do not call fn */
    o->state = skip ? PIPELINE__DONE : PIPELINE__RUNNING;
    pthread_mutex_unlock(&o->lock);
    if (!skip) {
        o->out = NULL;
        o->err = o->fn(o->in, &o->out, o->arg);
        if (o->err > 0)
            o->err = HOP_ESTATE; /* the step broke its contract */
    }
    pthread_mutex_lock(&o->lock);
    o->state = PIPELINE__DONE;
    bool gave_up = o->gave_up;
    hop_awaitable_t *w = o->waiter;
    o->waiter = NULL;
    bool last = --o->refs == 0;
    pthread_mutex_unlock(&o->lock);
    if (gave_up)
        pipeline__offload_clean(o, !skip);
    if (w)
        hop_awaitable_complete(w, 0); /* the task may free o from here on */
    pipeline__offload_release(o, last);
}

static inline bool pipeline__offload_suspend(hop_awaitable_t *aw) {
    pipeline__offload_t *o = (pipeline__offload_t *)((char *)aw - offsetof(pipeline__offload_t, await));
    pthread_mutex_lock(&o->lock);
    bool done = o->state == PIPELINE__DONE;
    if (!done)
        o->waiter = aw;
    pthread_mutex_unlock(&o->lock);
    return !done;
}

static inline int pipeline__offload_cancel(hop_awaitable_t *aw) {
    pipeline__offload_t *o = (pipeline__offload_t *)((char *)aw - offsetof(pipeline__offload_t, await));
    pthread_mutex_lock(&o->lock);
    bool withdrawn = o->waiter == aw;
    if (withdrawn)
        o->waiter = NULL;
    pthread_mutex_unlock(&o->lock);
    return withdrawn ? 0 : HOP_EALREADY; /* the job has finished and is completing us */
}

static const hop_awaitable_ops_t pipeline__offload_ops = {
    .suspend = pipeline__offload_suspend,
    .cancel = pipeline__offload_cancel,
};

/* Runs one offload step from the task and returns its status. *in_taken
 * tells the caller who owns in now: false (the usual case: the caller
 * destroys or keeps it, as after an in-task step), or true when the task
 * was interrupted while the job was queued or running, so the job destroys
 * in (and its own output) when it gets to it. */
static inline int pipeline__offload(const pipeline_step_t *step, pipeline_destroy_fn destroy, void *in,
                                    void **out, bool *in_taken) {
    *in_taken = false;
    pipeline__offload_t *o = calloc(1, sizeof *o);
    if (!o)
        return HOP_ENOMEM;
    pthread_mutex_init(&o->lock, NULL);
    o->refs = 2;
    o->fn = step->fn;
    o->arg = step->arg;
    o->in = in;
    o->destroy = destroy;
    hop_job_init(&o->job, pipeline__offload_run);
    int err = hop_executor_submit(step->executor, &o->job);
    if (err) { /* not accepted: in is still the task's */
        pipeline__offload_release(o, true);
        return err;
    }
    hop_awaitable_init(&o->await, &pipeline__offload_ops);
    err = hop_await(&o->await);
    pthread_mutex_lock(&o->lock);
    bool done = o->state == PIPELINE__DONE;
    if (err && !done)
        o->gave_up = true; /* the job will destroy in (and its output) */
    bool last = --o->refs == 0;
    pthread_mutex_unlock(&o->lock);
    if (!err || done) {
        /* The job finished first: its outcome is the task's. If the task was
         * interrupted anyway, drop the output and report the interrupt. */
        if (err) {
            if (o->err == 0 && o->out != in)
                pipeline__drop(destroy, o->out);
        } else {
            err = o->err;
            *out = o->out;
        }
    } else {
        *in_taken = true;
    }
    pipeline__offload_release(o, last);
    return err;
}

/* pipeline_run: runs p's steps on input (see the guarantees above). Task
 * only (an empty pipeline also works outside a task). On success *output
 * holds the last step's value; on error *output is NULL and *failed_step
 * (if failed_step is not NULL) the index of the step that failed.
 * Returns 0; the failing step's error; HOP_EINVAL (NULL p or output);
 * p's remembered build error; HOP_ENOTTASK; HOP_ENOMEM; HOP_ECLOSED (an
 * offload executor takes no new work); HOP_ECANCELED / HOP_ETIMEDOUT (the
 * task was interrupted). */
static inline int pipeline_run(const pipeline_t *p, void *input, void **output, size_t *failed_step) {
    if (!p || !output)
        return HOP_EINVAL;
    *output = NULL;
    if (p->error)
        return p->error;
    if (p->count > 0 && !hop_task_current())
        return HOP_ENOTTASK;
    void *value = input;
    for (size_t i = 0; i < p->count; i++) {
        const pipeline_step_t *step = &p->steps[i];
        void *next = NULL;
        bool in_taken = false;
        int err;
        if (step->executor) {
            err = pipeline__offload(step, p->destroy, value, &next, &in_taken);
        } else {
            err = step->fn(value, &next, step->arg);
            if (err > 0)
                err = HOP_ESTATE;
        }
        if (err) {
            if (!in_taken)
                pipeline__drop(p->destroy, value);
            if (failed_step)
                *failed_step = i;
            return err;
        }
        if (next != value)
            pipeline__drop(p->destroy, value);
        value = next;
    }
    *output = value;
    return 0;
}

#endif /* EXAMPLES_PIPELINE_H */
