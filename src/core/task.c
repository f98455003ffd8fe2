/* src/core/task.c: task creation, the run/suspend cycle, lifecycle, references.
 *
 * The cycle. An executor runs a task's resume_job; hop__task_run() switches
 * from the executor thread's own stack into the task. The task runs until it
 * awaits or returns, and switches back. Only then, back on the executor
 * thread's stack, does hop__task_run() call the awaitable's suspend(), which
 * may hand the task to another thread. So a task is never published while
 * its stack is still in use, which would let two threads run on one stack:
 * by the time any other thread can resume it, the thread it left has
 * stopped touching the task's stack.
 *
 * Thread-local state. hop__task_run() runs on the executor thread's own
 * stack and never migrates, so it may use this thread's locals freely. Code
 * on the task's stack may continue on another thread after any switch, so it
 * reaches thread-locals only through HOP__TLS_SLOT accessors (arch/tls.h). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "task_internal.h"
#include "trace.h"

HOP__TLS_SLOT(hop__current_task_slot, hop_task_t *)
HOP__TLS_SLOT(hop__current_executor_slot, hop_executor_t *)
/* How many joins are running their child on this thread's stack right now
 * (HOP__SWITCH_RUN_JOB, nested). */
HOP__TLS_SLOT(hop__join_depth_slot, unsigned int)

__attribute__((noinline)) hop_task_t *hop_task_current(void) { return *hop__current_task_slot(); }

hop_task_t *hop__task_running_here(void) { return *hop__current_task_slot(); }

/* The last task id handed out to a thread's batch (atomic); ids start at
 * 1, 0 means "no task". Each thread takes HOP__TASK_ID_BATCH ids at a time
 * and hands them out in order, so that spawns on different threads do not
 * all write one cache line: ids stay unique, and increase on each thread. */
static uint64_t hop__task_last_id;
#define HOP__TASK_ID_BATCH 256u

typedef struct {
    uint64_t next, end; /* the batch left: [next, end) */
} hop__task_ids_t;

HOP__TLS_SLOT(hop__task_ids_slot, hop__task_ids_t)

/* The next id of this thread's batch. Called on task stacks too: the slot
 * is read afresh and nothing here suspends. */
static uint64_t hop__task_next_id(void) {
    hop__task_ids_t *ids = hop__task_ids_slot();
    if (ids->next == ids->end) {
        ids->next = hop__atomic_faa_u64(&hop__task_last_id, HOP__TASK_ID_BATCH) + 1u;
        ids->end = ids->next + HOP__TASK_ID_BATCH;
    }
    return ids->next++;
}

hop_executor_t *hop_executor_current(void) {
    hop_task_t *t = hop_task_current();
    if (t)
        return hop__atomic_load_ptr(&t->executor);
    return *hop__current_executor_slot();
}

static void hop__task_resume_job(hop_job_t *job);

void hop_executor_run_job(hop_executor_t *executor, hop_job_t *job) {
    if (!executor || !job || !job->run)
        return; /* bad input: nothing to run, or nothing to run it as */
    hop_executor_t **slot = hop__current_executor_slot();
    hop_executor_t *outer = *slot;
    *slot = executor;
    if (hop__observing())
        hop__observe_run_job(executor, job,
                             job->run == hop__task_resume_job ? hop__container_of(job, hop_task_t, resume_job) : NULL,
                             outer == NULL);
    else
        job->run(job);
    /* Same thread as above: the job ran to completion here, whatever tasks
     * it resumed switched back before it returned. */
    *slot = outer;
}

/* The registered task hooks (task_internal.h). */
static hop__task_hook_t *hop__task_hooks[HOP__TASK_SLOTS];
static unsigned int hop__task_hook_count; /* atomic; grows only */
static hop__spinlock_t hop__task_hook_lock = HOP__SPINLOCK_INIT;

unsigned int hop__task_hook_register(hop__task_hook_t *hook) {
    hop__spinlock_lock(&hop__task_hook_lock);
    unsigned int slot = hop__atomic_load_uint(&hook->slot);
    if (!slot) {
        unsigned int count = hop__atomic_load_uint(&hop__task_hook_count);
        if (count == HOP__TASK_SLOTS)
            hop__fatal("task hook \"%s\": all %d task slots are taken", hook->name, HOP__TASK_SLOTS);
        hop__atomic_store_ptr(&hop__task_hooks[count], hook);
        /* The table entry before the count, the count before the slot: who
         * sees a slot in use finds its hook. */
        hop__atomic_fence_release();
        hop__atomic_store_uint(&hop__task_hook_count, count + 1);
        hop__atomic_fence_release();
        slot = count + 1;
        hop__atomic_store_uint(&hook->slot, slot);
    }
    hop__spinlock_unlock(&hop__task_hook_lock);
    return slot - 1;
}

/* The spawn calls for a child of parent; on failure the child's values so
 * far are left for hop__task_hooks_exit. */
static int hop__task_hooks_spawn(hop_task_t *child, const hop_task_t *parent) {
    unsigned int count = hop__atomic_load_uint(&hop__task_hook_count);
    hop__atomic_fence_acquire();
    for (unsigned int i = 0; i < count; i++) {
        if (!parent->slots[i])
            continue;
        hop__task_hook_t *hook = hop__atomic_load_ptr(&hop__task_hooks[i]);
        if (hook->spawn) {
            int err = hook->spawn(parent->slots[i], &child->slots[i]);
            if (err)
                return err;
        }
    }
    return 0;
}

static void hop__task_hooks_exit(hop_task_t *t) {
    unsigned int count = hop__atomic_load_uint(&hop__task_hook_count);
    hop__atomic_fence_acquire();
    for (unsigned int i = 0; i < count; i++) {
        void *value = t->slots[i];
        if (!value)
            continue;
        t->slots[i] = NULL;
        hop__task_hook_t *hook = hop__atomic_load_ptr(&hop__task_hooks[i]);
        if (hook->exit)
            hook->exit(t, value);
    }
}

/* A spawn's first writes (the record, the first frames) are on lines the
 * stack cache has already asked for (hop__stack_acquire). Not with the
 * ucontext backend, whose saved context makes the record about 1.7 KiB:
 * there the prefetch covers its top only (the join's lines among them). */
#if !defined(HOP_CONTEXT_UCONTEXT)
_Static_assert(sizeof(hop_task_t) + 256 <= HOP__STACK_WARM_BYTES, "the stack prefetch misses the task record");
#endif

static void hop__task_free(hop_task_t *t) {
    if (t->result_destructor)
        t->result_destructor(t->result);
    /* The record lives in the stack it describes: copy before releasing. */
    hop__stack_t stack = t->stack;
    hop__stack_release(&stack);
}

hop_task_t *hop_task_ref(hop_task_t *task) {
    if (task)
        hop__atomic_faa_uint(&task->refs, 1u);
    return task;
}

void hop_task_unref(hop_task_t *task) {
    if (!task)
        return;
    /* The line hop__task_free reads, asked for before the decrement, which
     * as a locked instruction would otherwise keep its miss from
     * overlapping with that of refs' line (task_internal.h). */
    __builtin_prefetch(&task->stack);
    /* The last reference, most often a joiner's after the task finished,
     * is dropped without a locked instruction: a count of 1 means no other
     * holder is left to drop one concurrently, and none can be added, since
     * only a holder may add one. The acquire load pairs with the other
     * holders' decrements, so their uses of the task happen before the
     * free. 0 is stored so that one unref too many still finds it. */
    if (hop__atomic_load_uint(&task->refs) == 1u) {
        hop__atomic_store_uint(&task->refs, 0u);
        hop__task_free(task);
        return;
    }
    /* The decrement is a full barrier: every use of the task by this
     * reference happens before the free by whoever drops the last one. */
    unsigned int before = hop__atomic_faa_uint(&task->refs, (unsigned int)-1);
    if (before == 1u)
        hop__task_free(task);
    else if (before == 0u)
        hop__fatal("task %p released more often than referenced", (void *)task);
}

void hop__task_switch_out(hop_task_t *t) {
    hop__asan_start_switch(&t->asan_fake_stack, t->caller_stack_bottom, t->caller_stack_size);
    hop__tsan_fiber_switch(t->tsan_caller_fiber);
    hop__context_switch(&t->context, t->caller, NULL);
    /* Resumed, by hop__task_run() on whichever thread: record its stack. */
    hop__asan_finish_switch(t->asan_fake_stack, &t->caller_stack_bottom, &t->caller_stack_size);
}

__attribute__((noreturn)) static void hop__task_entry(void *value) {
    hop_task_t *t = value;
    hop__asan_finish_switch(NULL, &t->caller_stack_bottom, &t->caller_stack_size);
    if (t->status_fn)
        t->status = t->status_fn(t->arg, &t->result);
    else
        t->result = t->fn(t->arg);
    t->switch_reason = HOP__SWITCH_DONE;
    /* NULL: this stack is finished for good, ASan may drop its fake frames. */
    hop__asan_start_switch(NULL, t->caller_stack_bottom, t->caller_stack_size);
    hop__tsan_fiber_switch(t->tsan_caller_fiber);
    hop__context_switch(&t->context, t->caller, NULL);
    hop__fatal("finished task %p (%s) was resumed", (void *)t, t->name);
}

/* Runs on the thread that resumed t, after t returned from its function (or
 * was cancelled before it started). */
static void hop__task_finish(hop_task_t *t) {
    hop__registry_task_retire(t);
    hop__tsan_fiber_destroy(t->tsan_fiber);
    t->tsan_fiber = NULL;
    if (t->shield_expired)
        hop__fatal("task \"%s\" returned without hop_shield_exit() for a shield it entered: the "
                   "shield's timer would outlive the stack it lives on",
                   t->name);
    hop__task_hooks_exit(t);
    /* One atomic step decides between "cancelled" and "done", so that
     * hop_task_cancel() either gets in before this or reports HOP_EALREADY. */
    unsigned int cancel = hop__atomic_fas_uint(&t->cancel, HOP__CANCEL_FINISHED);
    HOP__TRACE(hop__trace_finish(t, cancel == HOP__CANCEL_REQUESTED)); /* before its joiners wake */
    if (cancel == HOP__CANCEL_REQUESTED) {
        hop__atomic_store_uint(&t->state, HOP_TASK_CANCELLED);
        hop_future_set_error(&t->future, HOP_ECANCELED);
    } else {
        hop__atomic_store_uint(&t->state, HOP_TASK_DONE);
        hop__future_complete(&t->future, t->status, t->result);
    }
    hop_executor_t *executor = hop__atomic_load_ptr(&t->executor);
    hop_task_unref(t); /* the running task's own reference */
    /* Last: an executor waiting for its tasks to finish may be freed now. */
    hop__executor_task_leave(executor);
}

/* Runs t until it suspends or finishes, on the calling (executor) thread. */
static void hop__task_run(hop_task_t *t) {
    hop__context_t here;
    hop_task_t **slot = hop__current_task_slot();
    hop_task_t *outer = *slot; /* non-NULL when an inline executor nests tasks */

    /* A thread hop did not start (hop_run's, a manual executor's driver)
     * gets its signal stack here, before a task can overflow on it. */
    hop__overflow_thread_init();

    if (hop__atomic_load_uint(&t->state) == HOP_TASK_CREATED &&
        hop__atomic_load_uint(&t->cancel) == HOP__CANCEL_REQUESTED) {
        hop__task_finish(t); /* cancelled before it ever ran */
        return;
    }
    /* Created at the first run, not at spawn: TSan caps live fibers (8,128,
     * as it caps threads), and tasks that are only queued need none. */
    if (HOP__TSAN && !t->tsan_fiber) {
        t->tsan_fiber = hop__tsan_fiber_create();
        hop__tsan_fiber_name(t->tsan_fiber, t->name);
    }
    for (;;) {
        void *fake_stack = NULL;
        t->caller = &here;
        hop__atomic_store_uint(&t->state, HOP_TASK_RUNNING);
        *slot = t;
        HOP__TRACE(hop__trace_run(t));
        t->tsan_caller_fiber = hop__tsan_fiber_current();
        hop__asan_start_switch(&fake_stack, t->stack.low, t->stack_usable);
        hop__tsan_fiber_switch(t->tsan_fiber);
        hop__context_switch(&here, &t->context, t);
        hop__asan_finish_switch(fake_stack, NULL, NULL);
        *slot = outer;
        HOP__TRACE(hop__trace_switched_out(t));

        if (t->switch_reason == HOP__SWITCH_DONE) {
            hop__task_finish(t);
            return;
        }
        if (t->switch_reason == HOP__SWITCH_RUN_JOB) {
            /* Before the state: a dump that sees t suspended must not take
             * the awaitable of an await that is over for the current one. */
            hop__atomic_store_ptr(&t->await_name, "join"); /* for hop/debug.h */
            hop__atomic_store_ptr(&t->await_current, NULL);
        }
        hop__atomic_store_uint(&t->state, HOP_TASK_SUSPENDED);
        if (t->switch_reason == HOP__SWITCH_RUN_JOB) {
            /* t joins a child whose job it took back from their executor
             * (hop_task_join): the child runs here, on this thread's own
             * stack, until it finishes or suspends; then t continues. t is
             * in no await meanwhile: an interrupt only sets its flag, which
             * the join looks at when t is back. */
            hop_job_t *job = t->run_here;
            t->run_here = NULL;
            unsigned int *depth = hop__join_depth_slot();
            ++*depth;
            hop_executor_run_job(hop__atomic_load_ptr(&t->executor), job);
            --*depth;
            continue;
        }
        if (hop__await_begin_suspension(t, t->awaiting))
            return; /* handed off: t is not touched here any more */
    }
}

/* hop-bench's switch (task_internal.h): what a spawn stores without the
 * registry, for hop_task_id and hop_task_name. */
bool hop__registry_skipped;

static void hop__task_publish_unregistered(hop_task_t *t, uint64_t id, const char *name) {
    __atomic_store_n(&t->id, id, __ATOMIC_RELAXED);
    size_t i = 0;
    if (name)
        for (; name[i] && i < sizeof t->name - 1; i++)
            __atomic_store_n(&t->name[i], name[i], __ATOMIC_RELAXED);
    __atomic_store_n(&t->name[i], '\0', __ATOMIC_RELAXED);
}

static void hop__task_resume_job(hop_job_t *job) { hop__task_run(hop__container_of(job, hop_task_t, resume_job)); }

void hop__task_prefetch_record(const hop_job_t *job) {
    if (job->run != hop__task_resume_job)
        return;
    const hop_task_t *t = hop__container_of(job, hop_task_t, resume_job);
    /* From state up to the interrupt fields: every line of the record that
     * hop__task_run and the next suspension read or write. */
    for (const char *line = (const char *)&t->state; line <= (const char *)&t->cancel; line += HOP__CACHELINE)
        hop__prefetch_for_write(line);
    hop__prefetch_for_write(&t->cancel);
    /* And, for writing, the lines the thread that completed the await wrote
     * last: the resume job's and await word's, and the offload slot's. A
     * task that offloads again rewrites them at once, and the exchange of
     * its next suspension, a full barrier, would wait for each of those
     * stores to take its line back from that thread. */
    hop__prefetch_for_write(job);
    hop__prefetch_for_write((const char *)&t->offload + sizeof t->offload - 1);
    hop__prefetch_for_write((const char *)&t->offload + HOP__CACHELINE);
}

void hop__task_prefetch_stack(const hop_job_t *job) {
#if !defined(HOP_CONTEXT_UCONTEXT)
    if (job->run != hop__task_resume_job)
        return;
    const hop_task_t *t = hop__container_of(job, hop_task_t, resume_job);
    /* The frame the switch pops: the callee-saved registers and the
     * floating-point control words, 64 bytes from sp, on one or two lines. */
    const char *sp = t->context.sp;
    hop__prefetch_for_write(sp);
    hop__prefetch_for_write(sp + 63);
#else
    (void)job;
#endif
}

/* Zeroes n bytes at p (8-byte aligned, n a multiple of 8) with 16-byte
 * stores. gcc makes a memset of this size (a few hundred bytes) rep stosq,
 * whose start-up costs more than the stores themselves, on every spawn.
 * may_alias: the stores cover fields of every type. */
static inline void hop__task_zero(void *p, size_t n) {
    typedef uint64_t hop__u64x2_t __attribute__((vector_size(16), aligned(8), may_alias));
    typedef uint64_t hop__u64_t __attribute__((may_alias));
    hop__u64x2_t *v = p;
    const hop__u64x2_t zero = {0, 0};
#pragma GCC unroll 32
    for (size_t i = 0; i < n / 16; i++)
        v[i] = zero;
    if (n % 16)
        *(hop__u64_t *)((char *)p + n - 8) = 0;
}

/* Spawns a task running fn (hop_task_spawn) or status_fn (hop_task_spawn_ex). */
static int hop__task_spawn(hop_executor_t *executor, hop_task_fn fn, hop_task_status_fn status_fn, void *arg,
                           const hop_task_options_t *options, hop_task_t **task, const char *file, int line) {
    static const hop_task_options_t defaults = {0};
    if (task)
        *task = NULL;
    if (!hop__executor_ops(executor) || (!fn && !status_fn))
        return HOP_EINVAL;
    if (!options)
        options = &defaults;
    if (options->name && strnlen(options->name, HOP_TASK_NAME_MAX + 1) > HOP_TASK_NAME_MAX)
        return HOP_EINVAL; /* refused, not cut: see hop/task.h */
    if (hop__stack_guard_out_of_range(options->guard_size, options->flags))
        return HOP_EINVAL; /* refused, not cut, like a name */

    hop__stack_t stack;
    int err = hop__stack_acquire(options->stack_size, options->guard_size, options->flags, &stack);
    if (err)
        return err;
    hop_task_t *t = hop__task_record(&stack);
    /* The fields before context are the registry's: see task_internal.h. */
    _Static_assert((offsetof(hop_task_t, offload) - offsetof(hop_task_t, context)) % 8 == 0, "hop__task_zero");
    hop__task_zero(&t->context, offsetof(hop_task_t, offload) - offsetof(hop_task_t, context));
    size_t stack_usable = (size_t)((uintptr_t)t - (uintptr_t)stack.low);
    t->stack = stack;
    t->fn = fn;
    t->status_fn = status_fn;
    t->arg = arg;
    t->status = 0;
    t->result = NULL;
    t->result_destructor = options->result_destructor;
    hop__atomic_store_ptr(&t->executor, executor);
    hop__atomic_store_uint(&t->state, HOP_TASK_CREATED);
    hop__atomic_store_ptr(&t->await_name, NULL);
    hop__atomic_store_ptr(&t->await_current, NULL);
    t->refs = task ? 2u : 1u;
    hop_future_init(&t->future);
    t->future.reserved[0] = t; /* a task's future: see hop_future_wait */
    hop_job_init(&t->resume_job, hop__task_resume_job);
    hop_task_t *parent = hop_task_current();
    if (__builtin_expect(!hop__registry_skipped, 1))
        hop__registry_task_publish(t, hop__task_next_id(), options->name, parent, file, line, stack_usable);
    else
        hop__task_publish_unregistered(t, hop__task_next_id(), options->name);
    if (parent) {
        err = hop__task_hooks_spawn(t, parent);
        if (err) {
            hop__task_hooks_exit(t);
            hop__registry_task_retire(t);
            hop__stack_release(&stack);
            return err;
        }
    }
    hop__context_make(&t->context, stack.low, stack_usable, hop__task_entry);

    if (task)
        *task = t; /* before submit: an inline executor may run t to its end in there */
    HOP__TRACE(hop__trace_spawn(t, parent));
    /* The submit is the release that publishes the record to the executor. */
    hop__executor_task_enter(executor);
    err = hop__executor_submit(executor, &t->resume_job, 0);
    if (err) {
        hop__executor_task_leave(executor);
        if (task)
            *task = NULL;
        t->result_destructor = NULL;
        hop__registry_task_retire(t);
        hop__task_hooks_exit(t);
        hop__task_free(t);
        return err;
    }
    return 0;
}

/* Parenthesised: the names are also macros (hop/task.h) that add the site. */
int(hop_task_spawn)(hop_executor_t *executor, hop_task_fn fn, void *arg, const hop_task_options_t *options,
                    hop_task_t **task) {
    return hop__task_spawn(executor, fn, NULL, arg, options, task, NULL, 0);
}

int(hop_task_spawn_ex)(hop_executor_t *executor, hop_task_status_fn fn, void *arg, const hop_task_options_t *options,
                       hop_task_t **task) {
    return hop__task_spawn(executor, NULL, fn, arg, options, task, NULL, 0);
}

int hop_task_spawn_at(hop_executor_t *executor, hop_task_fn fn, void *arg, const hop_task_options_t *options,
                      hop_task_t **task, const char *file, int line) {
    return hop__task_spawn(executor, fn, NULL, arg, options, task, file, line);
}

int hop_task_spawn_ex_at(hop_executor_t *executor, hop_task_status_fn fn, void *arg,
                         const hop_task_options_t *options, hop_task_t **task, const char *file, int line) {
    return hop__task_spawn(executor, NULL, fn, arg, options, task, file, line);
}

int hop_task_cancel(hop_task_t *task) {
    if (!task)
        return HOP_EINVAL;
    /* The CAS is the full barrier that pairs with the run side's exchange
     * of the await word: an await that starts now sees the flag, and one
     * already suspended is interrupted below. */
    if (!hop__atomic_cas_uint(&task->cancel, HOP__CANCEL_NONE, HOP__CANCEL_REQUESTED) &&
        hop__atomic_load_uint(&task->cancel) != HOP__CANCEL_REQUESTED)
        return HOP_EALREADY;
    HOP__TRACE(hop__trace_cancel(task));
    hop__task_interrupt(task, HOP_ECANCELED);
    return 0;
}

bool hop__task_cancel_requested(const hop_task_t *task) {
    return hop__atomic_load_uint((unsigned int *)&task->cancel) == HOP__CANCEL_REQUESTED;
}

hop_future_t *hop_task_future(hop_task_t *task) { return task ? &task->future : NULL; }

hop_task_state_t hop_task_state(const hop_task_t *task) {
    if (!task)
        return HOP_TASK_DONE;
    return (hop_task_state_t)hop__atomic_load_uint((unsigned int *)&task->state);
}

const char *hop_task_state_name(hop_task_state_t state) {
    switch (state) {
    case HOP_TASK_CREATED:
        return "created";
    case HOP_TASK_RUNNING:
        return "running";
    case HOP_TASK_SUSPENDED:
        return "suspended";
    case HOP_TASK_DONE:
        return "done";
    case HOP_TASK_CANCELLED:
        return "cancelled";
    }
    return "?";
}

const char *hop_task_name(const hop_task_t *task) { return task ? task->name : ""; }

uint64_t hop_task_id(const hop_task_t *task) { return task ? task->id : 0; }

hop_executor_t *hop_task_executor(const hop_task_t *task) {
    return task ? hop__atomic_load_ptr((hop_executor_t **)&task->executor) : NULL;
}

/* Joining task, from self: if nobody has started task's pending job yet and
 * their executor hands it back (its withdraw op: the pool's takes it from
 * the joining worker's own LIFO slot or deque bottom, so a child nobody
 * stole), self switches out and its thread runs the child right away
 * instead of leaving it queued while self suspends. Only a job of self's
 * own executor, which is about to run on one of that executor's threads
 * anyway: this one. */
static void hop__task_join_here(hop_task_t *self, hop_task_t *task) {
    hop_executor_t *executor = hop__atomic_load_ptr(&self->executor);
    if (hop__atomic_load_ptr(&task->executor) != executor || *hop__join_depth_slot() >= HOP__JOIN_HERE_MAX_DEPTH)
        return;
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    if (!ops || !ops->withdraw || ops->withdraw(executor, &task->resume_job) != 0)
        return;
    if ((uintptr_t)__builtin_frame_address(0) - (uintptr_t)self->stack.low >= HOP__JOIN_HERE_HEADROOM) {
        /* Room enough: the child runs nested on self's own stack, as an
         * inline executor runs a task it spawns, without the two switches
         * out to this thread's stack and back. Self counts as suspended in
         * the join meanwhile, as on the other path. */
        self->switch_reason = HOP__SWITCH_RUN_JOB;
        HOP__TRACE(hop__trace_switched_out(self));
        hop__atomic_store_ptr(&self->await_name, "join"); /* for hop/debug.h */
        hop__atomic_store_ptr(&self->await_current, NULL);
        hop__atomic_store_uint(&self->state, HOP_TASK_SUSPENDED);
        hop_executor_run_job(executor, &task->resume_job);
        hop__atomic_store_uint(&self->state, HOP_TASK_RUNNING);
        HOP__TRACE(hop__trace_run(self));
        return;
    }
    self->run_here = &task->resume_job;
    self->switch_reason = HOP__SWITCH_RUN_JOB;
    hop__task_switch_out(self);
}

int hop_task_join(hop_task_t *task, void **result) {
    if (!task)
        return HOP_EINVAL;
    hop_task_t *self = hop_task_current();
    if (!self)
        return HOP_ENOTTASK;
    if (self == task)
        return HOP_EDEADLK;
    hop_future_t *future = &task->future;
    /* What hop_future_await would return, without an await when the child
     * is done: an interrupt pending first, then the future's outcome. */
    int err = hop__task_pending_interrupt(self);
    if (!err && !hop_future_is_done(future)) {
        hop__task_join_here(self, task);
        if (!hop_future_is_done(future))
            return hop_future_await(future, result);
        err = hop__task_pending_interrupt(self);
    }
    if (err) {
        if (result)
            *result = NULL;
        return err;
    }
    return hop_future_result(future, result);
}
