/* src/core/awaitable.c: hop_await, the completion and interrupt protocol, plus
 * the two awaitables every executor supports: yield and dispatch.
 *
 * The state of a task's current await is one word, hop_task_t.await_word
 * (see task_internal.h), tagged with the await's generation so that nothing
 * aimed at an earlier await can match. "Resumed exactly once" is a CAS on it:
 *
 *   run side, before suspend():     SUSPENDED (| INTERRUPTIBLE)
 *   a completion wins:              | COMPLETED, then submits the task
 *   suspend() returned false:       CAS back to idle; the task continues here
 *   suspend() returned true:        | ARMED (interruptible awaits only)
 *
 * Interrupts (hop_task_cancel, deadlines, hop_awaitable_interrupt) call the
 * awaitable's cancel op, which needs the awaitable alive and not completing
 * under it. So an interrupter first PINs the word (ARMED, not COMPLETED):
 * while it is pinned the task cannot be resumed, because a completion that
 * comes meanwhile only records itself (COMPLETED, then STATUS_READY once its
 * status and target are stored) and leaves the submit to whichever of the two
 * finishes last. If cancel withdraws the wait, the interrupter completes the
 * await itself with the interrupt's status. An interrupt that arrives before
 * ARMED (suspend() still running) is parked as INTERRUPT_WAITING and
 * delivered by the run side when suspend() returns, so cancel never runs at
 * the same time as suspend().
 *
 * An awaitable with a cancel executor (hop_awaitable_set_cancel_executor)
 * has its cancel op run there, not on the interrupting thread: the
 * interrupter pins the word as usual, then hands the rest of the interrupt
 * (cancel, then complete or let the held completion through) to that
 * executor as a job kept in the task record. The pin keeps the task, its
 * record and the awaitable alive until the job has run. */
#include <stdio.h>

#include "task_internal.h"
#include "trace.h"

int hop_awaitable_init(hop_awaitable_t *awaitable, const hop_awaitable_ops_t *ops) {
    if (!awaitable || !ops || !ops->suspend)
        return HOP_EINVAL;
    awaitable->ops = ops;
    awaitable->task = NULL;
    awaitable->status = 0;
    awaitable->value = NULL;
    awaitable->state = 0;
    awaitable->generation = 0;
    awaitable->cancel_executor = NULL;
    return 0;
}

int hop_awaitable_set_cancel_executor(hop_awaitable_t *awaitable, hop_executor_t *executor) {
    if (!awaitable || (executor && !hop__executor_ops(executor)))
        return HOP_EINVAL;
    /* Read by an interrupter only once it has pinned the await, which needs
     * ARMED, which the run side sets (a full barrier) after suspend(). */
    awaitable->cancel_executor = executor;
    return 0;
}

hop_task_t *hop_awaitable_task(const hop_awaitable_t *awaitable) { return awaitable ? awaitable->task : NULL; }

int hop_awaitable_status(const hop_awaitable_t *awaitable) { return awaitable ? awaitable->status : HOP_EINVAL; }

void *hop_awaitable_value(const hop_awaitable_t *awaitable) { return awaitable ? awaitable->value : NULL; }

int hop_awaitable_set_result(hop_awaitable_t *awaitable, int status, void *value) {
    if (!awaitable)
        return HOP_EINVAL;
    awaitable->status = status;
    awaitable->value = value;
    return 0;
}

static int hop__await_interrupt(hop_task_t *t, hop_awaitable_t *aw, uint64_t generation, int status,
                                unsigned int *domain);

void hop__task_expire(hop_task_t *t, unsigned int *counter) {
    hop__atomic_faa_uint(counter ? counter : &t->expired, 1u);
    (void)hop__await_interrupt(t, NULL, 0, HOP_ETIMEDOUT, counter);
}

void hop__task_unexpire(hop_task_t *t, unsigned int *counter) {
    hop__atomic_faa_uint(counter ? counter : &t->expired, (unsigned int)-1);
}

/* The await itself, once hop_await() has decided the task may suspend. */
static int hop__await(hop_task_t *t, hop_awaitable_t *awaitable) {
    awaitable->status = 0;
    awaitable->value = NULL;
    awaitable->state = 0;
    /* Atomic, task first: hop_awaitable_interrupt() may read them while
     * this await is only starting (it then finds nothing to interrupt). */
    hop__atomic_store_ptr(&awaitable->task, t);
    hop__atomic_fence_release();
    hop__atomic_store_u64(&awaitable->generation, ++t->await_generation);
    if (!(awaitable->ops->ready && awaitable->ops->ready(awaitable))) {
        t->awaiting = awaitable;
        hop__atomic_store_ptr(&t->await_name, awaitable->ops->name); /* for hop/debug.h */
        hop__atomic_store_ptr(&t->await_current, awaitable);
        t->switch_reason = HOP__SWITCH_SUSPEND;
        hop__task_switch_out(t);
        /* Maybe on another thread now: only t and awaitable from here. */
        if (awaitable->state & HOP__AWAITABLE_INTERRUPTED) {
            /* resume cleans up after a suspend() that ran; its value is not
             * the answer any more. */
            if (awaitable->ops->resume && !(awaitable->state & HOP__AWAITABLE_NOT_SUSPENDED))
                (void)awaitable->ops->resume(awaitable);
            return awaitable->status;
        }
    }
    return awaitable->ops->resume ? awaitable->ops->resume(awaitable) : awaitable->status;
}

int hop__await_begin(hop_task_t **t) {
    *t = hop_task_current();
    if (!*t)
        return HOP_ENOTTASK;
    return hop__task_pending_interrupt(*t);
}

int hop_await_value(hop_awaitable_t *awaitable, void **value) {
    if (value)
        *value = NULL;
    if (!awaitable || !awaitable->ops || !awaitable->ops->suspend)
        return HOP_EINVAL;
    hop_task_t *t;
    int err = hop__await_begin(&t);
    if (err)
        return err;
    int status = hop__await(t, awaitable);
    /* An interrupted await has no value: nobody completed it. */
    if (value && !(awaitable->state & HOP__AWAITABLE_INTERRUPTED))
        *value = awaitable->value;
    return status;
}

int hop_await(hop_awaitable_t *awaitable) { return hop_await_value(awaitable, NULL); }

int hop__await_task(hop_task_t *t, hop_awaitable_t *awaitable) { return hop__await(t, awaitable); }

int hop__await_shielded(hop_awaitable_t *awaitable) {
    hop_task_t *t = hop_task_current();
    if (!t || awaitable->ops->cancel)
        hop__fatal("hop__await_shielded: needs a task and an awaitable without a cancel op");
    return hop__await(t, awaitable);
}

/* Sets bits in t's await word for generation, or fails if the await is over
 * or any of the refuse bits is set. Returns the word before, or 0. */
static uint64_t hop__await_word_set(hop_task_t *t, uint64_t generation, uint64_t need, uint64_t refuse,
                                    uint64_t set) {
    for (;;) {
        uint64_t word = hop__atomic_load_u64(&t->await_word);
        if (HOP__AWAIT_GENERATION(word) != generation || (word & need) != need || (word & refuse))
            return 0;
        if (hop__atomic_cas_u64(&t->await_word, word, word | set))
            return word;
        hop__atomic_pause();
    }
}

static void hop__await_submit_or_die(hop_task_t *t, hop_executor_t *executor, unsigned int flags) {
    int err = hop__executor_submit(executor, &t->resume_job, flags);
    if (err)
        hop__fatal("executor \"%s\" refused to resume its task \"%s\" (%s): the task would be lost",
                   hop_executor_name(executor), t->name, hop_err_name(err));
}

/* Completes t's await of generation (the awaitable aw, whose status and
 * value it sets; NULL: an awaitable whose resume op makes the answer, so the
 * completer writes nothing of it and need not touch its cache line). */
static int hop__await_complete(hop_task_t *t, uint64_t generation, hop_awaitable_t *aw, int status, void *value,
                               hop_executor_t *executor, unsigned int flags) {
    uint64_t before = hop__await_word_set(t, generation, HOP__AWAIT_SUSPENDED, HOP__AWAIT_COMPLETED,
                                          HOP__AWAIT_COMPLETED);
    if (!before)
        return HOP_EALREADY;
    HOP__TRACE(hop__trace_resume(t));
    /* Only the winner writes them, before the submit or STATUS_READY below
     * that publishes them. */
    if (aw) {
        aw->status = status;
        aw->value = value;
    }
    if (!(before & (HOP__AWAIT_PINNED | HOP__AWAIT_RUN_SIDE))) {
        /* The submit publishes status and the task to the executor's thread. */
        int err = hop__executor_submit(executor, &t->resume_job, flags);
        if (err) {
            /* Nothing was handed over: the task is still suspended on aw.
             * Only non-interruptible awaits (dispatch) can see a refusal, and
             * nobody else writes their word meanwhile. */
            hop__atomic_store_u64(&t->await_word, before);
        }
        return err;
    }
    /* An interrupter is inside cancel(), or the run side has not armed the
     * await yet: record where the task goes, then whichever of us finishes
     * last submits it (the run side may instead continue it at once). */
    t->held_executor = executor;
    t->held_flags = flags;
    uint64_t word = hop__await_word_set(t, generation, 0, 0, HOP__AWAIT_STATUS_READY);
    if (!(word & (HOP__AWAIT_PINNED | HOP__AWAIT_RUN_SIDE)))
        hop__await_submit_or_die(t, executor, flags);
    return 0;
}

int hop__awaitable_complete_on(hop_awaitable_t *aw, int status, void *value, hop_executor_t *executor,
                               unsigned int flags) {
    return hop__await_complete(aw->task, aw->generation, aw, status, value, executor, flags);
}

int hop__await_complete_task(hop_task_t *t, uint64_t generation, hop_executor_t *executor) {
    int err = hop__await_complete(t, generation, NULL, 0, NULL, executor, HOP_SUBMIT_CONTINUATION);
    if (err && err != HOP_EALREADY)
        hop__fatal("executor \"%s\" refused to resume its task \"%s\" (%s): the task would be lost",
                   hop_executor_name(executor), t->name, hop_err_name(err));
    return err;
}

int hop_awaitable_complete_value(hop_awaitable_t *awaitable, int status, void *value) {
    if (!awaitable || !awaitable->task)
        return awaitable ? HOP_EALREADY : HOP_EINVAL;
    hop_task_t *t = awaitable->task;
    hop_executor_t *executor = hop__atomic_load_ptr(&t->executor);
    int err = hop__awaitable_complete_on(awaitable, status, value, executor, HOP_SUBMIT_CONTINUATION);
    if (err && err != HOP_EALREADY)
        hop__fatal("executor \"%s\" refused to resume its task \"%s\" (%s): the task would be lost",
                   hop_executor_name(executor), t->name, hop_err_name(err));
    return err;
}

int hop_awaitable_complete(hop_awaitable_t *awaitable, int status) {
    return hop_awaitable_complete_value(awaitable, status, NULL);
}

/* Drops the interrupter's pin on t's await without completing it. */
static void hop__await_unpin(hop_task_t *t) {
    uint64_t before;
    for (;;) {
        before = hop__atomic_load_u64(&t->await_word);
        if (hop__atomic_cas_u64(&t->await_word, before, before & ~(uint64_t)HOP__AWAIT_PINNED))
            break;
    }
    /* A completion held back while we were pinned, with its status stored:
     * ours to submit. Without STATUS_READY its completer will see the pin
     * gone and submit itself. */
    if ((before & HOP__AWAIT_COMPLETED) && (before & HOP__AWAIT_STATUS_READY))
        hop__await_submit_or_die(t, t->held_executor, t->held_flags);
}

/* With t's word PINNED for aw's generation, on the thread cancel may run on:
 * asks aw to withdraw, then either completes the await with status or lets
 * the completion that beat it through. */
static void hop__await_cancel_pinned(hop_task_t *t, hop_awaitable_t *aw, int status) {
    uint64_t generation = aw->generation;
    if (aw->ops->cancel(aw) == 0) {
        /* Withdrawn: no completer will come, so this is the completion. One
         * step takes COMPLETED and drops the pin; only this thread resumes t. */
        for (;;) {
            uint64_t word = hop__atomic_load_u64(&t->await_word);
            if (HOP__AWAIT_GENERATION(word) != generation || (word & HOP__AWAIT_COMPLETED))
                break; /* a completer won although cancel said it withdrew:
                          trust the completer (never resume twice) */
            uint64_t completed = (word | HOP__AWAIT_COMPLETED) & ~(uint64_t)HOP__AWAIT_PINNED;
            if (hop__atomic_cas_u64(&t->await_word, word, completed)) {
                aw->status = status;
                aw->state |= HOP__AWAITABLE_INTERRUPTED;
                HOP__TRACE(hop__trace_resume(t));
                hop__await_submit_or_die(t, hop__atomic_load_ptr(&t->executor), HOP_SUBMIT_CONTINUATION);
                return;
            }
        }
    }
    hop__await_unpin(t);
}

/* The cancel executor's job: the rest of a pinned interrupt. The task cannot
 * resume (so its record stays) before hop__await_cancel_pinned unpins it. */
static void hop__await_cancel_job(hop_job_t *job) {
    hop_task_t *t = hop__container_of(job, hop_task_t, cancel_job);
    hop__await_cancel_pinned(t, t->cancel_awaitable, t->cancel_status);
}

/* With t's word PINNED for aw's generation: runs the cancel here, or hands it
 * to aw's cancel executor. Returns 0, or HOP_ECLOSED when that executor
 * refused the job: the interrupt is then dropped (the pin released as if
 * cancel had found a completion under way), and the task keeps waiting. */
static int hop__await_interrupt_pinned(hop_task_t *t, hop_awaitable_t *aw, int status) {
    hop_executor_t *executor = aw->cancel_executor;
    if (!executor) {
        hop__await_cancel_pinned(t, aw, status);
        return 0;
    }
    /* Always through the executor, even from its own thread: on a loop the
     * job then runs after every job suspend() posted there before the await
     * was armed (the one that starts the operation), so cancel never finds
     * an operation that has not started yet but will. */
    t->cancel_awaitable = aw;
    t->cancel_status = status;
    hop_job_init(&t->cancel_job, hop__await_cancel_job);
    /* A continuation: a closing loop still runs it (its handles are still
     * open and their operations still pending). */
    int err = hop__executor_submit(executor, &t->cancel_job, HOP_SUBMIT_CONTINUATION);
    if (err == 0)
        return 0; /* t and aw are the job's now */
    hop__await_unpin(t);
    return HOP_ECLOSED;
}

/* Interrupts t's await of generation (0: whatever await is current). A
 * task-level interrupt (aw NULL) reaches only an await made in its domain:
 * NULL outside shields, or the innermost shield's counter. The domain is
 * read after the word: the task sets it before it starts an await and
 * changes it only between awaits, so if the CAS below succeeds on this word,
 * the domain read belongs to this await. */
static int hop__await_interrupt(hop_task_t *t, hop_awaitable_t *aw, uint64_t generation, int status,
                                unsigned int *domain) {
    for (;;) {
        uint64_t word = hop__atomic_load_u64(&t->await_word);
        if (generation && HOP__AWAIT_GENERATION(word) != generation)
            return HOP_EALREADY;
        if (!aw && hop__atomic_load_ptr(&t->shield_expired) != (void *)domain)
            return HOP_EALREADY; /* shielded from it: delivered when the task leaves the shield */
        if (!(word & HOP__AWAIT_SUSPENDED) || !(word & HOP__AWAIT_INTERRUPTIBLE) ||
            (word & (HOP__AWAIT_COMPLETED | HOP__AWAIT_PINNED | HOP__AWAIT_INTERRUPT_WAITING)))
            return HOP_EALREADY;
        if (word & HOP__AWAIT_ARMED) {
            if (hop__atomic_cas_u64(&t->await_word, word, word | HOP__AWAIT_PINNED)) {
                /* Pinned: the task stays suspended on this await, so the
                 * awaitable it published before switching out is alive. */
                return hop__await_interrupt_pinned(t, aw ? aw : t->awaiting, status);
            }
        } else {
            /* suspend() still running: park it for the run side. */
            hop__atomic_store_uint((unsigned int *)&t->pending_interrupt, (unsigned int)status);
            if (hop__atomic_cas_u64(&t->await_word, word, word | HOP__AWAIT_INTERRUPT_WAITING))
                return 0;
        }
        hop__atomic_pause();
    }
}

int hop_awaitable_interrupt(hop_awaitable_t *awaitable, int status) {
    if (!awaitable || !awaitable->ops || status >= 0)
        return HOP_EINVAL;
    if (!awaitable->ops->cancel)
        return HOP_ENOTSUP;
    uint64_t generation = hop__atomic_load_u64(&awaitable->generation);
    hop__atomic_fence_acquire();
    hop_task_t *t = hop__atomic_load_ptr(&awaitable->task);
    if (!t || !generation)
        return HOP_EALREADY; /* never awaited */
    return hop__await_interrupt(t, awaitable, generation, status, NULL);
}

void hop__task_interrupt(hop_task_t *task, int status) { (void)hop__await_interrupt(task, NULL, 0, status, NULL); }

/* Called by hop__task_run() on the resumer's stack once the task has switched
 * out to await aw. Returns true if the task is handed off (suspended, or
 * already resumed elsewhere), false if it must continue at once here. */
bool hop__await_begin_suspension(hop_task_t *t, hop_awaitable_t *aw) {
    uint64_t generation = aw->generation;
    uint64_t suspended = HOP__AWAIT_WORD(generation) | HOP__AWAIT_SUSPENDED;
    if (!aw->ops->cancel) {
        /* From here a completion may win: before suspend() runs nobody can
         * have been handed aw, so a premature completion fails harmlessly. */
        hop__atomic_store_u64(&t->await_word, suspended);
        if (aw->ops->suspend(aw))
            return true; /* t now belongs to whoever completes aw: hands off */
        /* suspend() says the wait is already over. Unless a completion raced
         * in (which then resumes t through the executor), continue here. */
        return !hop__atomic_cas_u64(&t->await_word, suspended, HOP__AWAIT_WORD(generation));
    }
    /* RUN_SIDE: this thread still uses t after suspend() (to arm the word),
     * so a completion that comes first is held back, as while PINNED, and
     * whichever side finishes last resumes t. t cannot end under us. */
    suspended |= HOP__AWAIT_INTERRUPTIBLE | HOP__AWAIT_RUN_SIDE;
    /* The exchange is a full barrier, paired with the one interrupters make
     * when they set the cancel flag or expire a deadline: either this reads
     * their reason below, or they see SUSPENDED and interrupt the await. */
    hop__atomic_fas_u64(&t->await_word, suspended);
    int interrupt = hop__task_pending_interrupt(t);
    bool handed_off = interrupt ? false : aw->ops->suspend(aw);
    for (;;) {
        uint64_t word = hop__atomic_load_u64(&t->await_word);
        /* A held-back completer's held_executor is read after its STATUS_READY. */
        hop__atomic_fence_acquire();
        uint64_t next;
        if (word & HOP__AWAIT_COMPLETED) {
            /* Completed while suspend() ran (or suspend() said so). With its
             * status stored, the completion is ours to carry out: continue
             * t right here, on its executor's thread, without a round trip
             * through the queue. Otherwise its completer, seeing RUN_SIDE
             * gone, submits t itself. */
            bool ours = (word & HOP__AWAIT_STATUS_READY) && t->held_executor == hop__atomic_load_ptr(&t->executor);
            next = ours ? HOP__AWAIT_WORD(generation) : word & ~(uint64_t)HOP__AWAIT_RUN_SIDE;
            if (hop__atomic_cas_u64(&t->await_word, word, next)) {
                if (ours)
                    return false;
                if (word & HOP__AWAIT_STATUS_READY)
                    hop__await_submit_or_die(t, t->held_executor, t->held_flags);
                return true;
            }
        } else if (!handed_off) {
            /* Not suspending after all (an interrupt was pending, or
             * suspend() found the wait over): back to idle. A parked
             * interrupt is dropped, since this await is over. */
            if (hop__atomic_cas_u64(&t->await_word, word, HOP__AWAIT_WORD(generation))) {
                if (interrupt) {
                    aw->status = interrupt;
                    aw->state |= HOP__AWAITABLE_INTERRUPTED | HOP__AWAITABLE_NOT_SUSPENDED;
                }
                return false;
            }
        } else if (word & HOP__AWAIT_INTERRUPT_WAITING) {
            next = (word & ~(uint64_t)(HOP__AWAIT_INTERRUPT_WAITING | HOP__AWAIT_RUN_SIDE)) | HOP__AWAIT_ARMED |
                   HOP__AWAIT_PINNED;
            if (hop__atomic_cas_u64(&t->await_word, word, next)) {
                int status = (int)hop__atomic_load_uint((unsigned int *)&t->pending_interrupt);
                (void)hop__await_interrupt_pinned(t, aw, status);
                return true;
            }
        } else {
            next = (word & ~(uint64_t)HOP__AWAIT_RUN_SIDE) | HOP__AWAIT_ARMED;
            if (hop__atomic_cas_u64(&t->await_word, word, next))
                return true; /* armed: t belongs to its completer or interrupter now */
        }
        hop__atomic_pause();
    }
}

/* Completes a yield: the task goes back to its own executor, behind what
 * is queued there. */
static void hop__yield_complete(hop_awaitable_t *aw) {
    hop_task_t *t = aw->task;
    hop_executor_t *executor = hop__atomic_load_ptr(&t->executor);
    int err = hop__awaitable_complete_on(aw, 0, NULL, executor, HOP_SUBMIT_CONTINUATION | HOP__SUBMIT_YIELD);
    if (err && err != HOP_EALREADY)
        hop__fatal("executor \"%s\" refused to resume its task \"%s\" (%s): the task would be lost",
                   hop_executor_name(executor), t->name, hop_err_name(err));
}

/* yield: resubmit the task to its own executor, behind what is queued. */
static bool hop__yield_suspend(hop_awaitable_t *aw) {
    hop__yield_complete(aw);
    return true;
}

static const hop_awaitable_ops_t hop__yield_ops = {.name = "yield", .suspend = hop__yield_suspend};

int hop_yield(void) {
    hop_awaitable_t aw;
    hop_awaitable_init(&aw, &hop__yield_ops);
    return hop_await(&aw);
}

/* dispatch: the task becomes the target executor's, as new work there. */
typedef struct {
    hop_awaitable_t base;
    hop_executor_t *target;
    int error;
} hop__dispatch_t;

static bool hop__dispatch_suspend(hop_awaitable_t *aw) {
    hop__dispatch_t *d = (hop__dispatch_t *)aw;
    hop_task_t *t = aw->task;
    if (d->target == hop__atomic_load_ptr(&t->executor)) {
        /* Already home: a dispatch there is a yield, and keeps the count. */
        hop__yield_complete(aw);
        return true;
    }
    hop_executor_t *home = hop__atomic_load_ptr(&t->executor);
    /* Set before the submit: the target may resume t (and t may read its
     * executor, or await again) before submit returns. */
    hop__atomic_store_ptr(&t->executor, d->target);
    hop__executor_task_enter(d->target);
    /* Batchable: t is suspending (core/internal.h). */
    int err = hop__awaitable_complete_on(aw, 0, NULL, d->target, HOP__SUBMIT_BATCHABLE);
    if (err == 0) {
        /* t may already be running on the target: hands off t and aw. */
        hop__executor_task_leave(home);
        return true;
    }
    hop__executor_task_leave(d->target);
    hop__atomic_store_ptr(&t->executor, home);
    d->error = err;
    return false; /* refused: continue at home, reporting why */
}

static int hop__dispatch_resume(hop_awaitable_t *aw) { return ((hop__dispatch_t *)aw)->error; }

static void hop__dispatch_describe(const hop_awaitable_t *aw, char *buf, size_t size) {
    snprintf(buf, size, "dispatch to %p", (void *)((const hop__dispatch_t *)aw)->target);
}

static const hop_awaitable_ops_t hop__dispatch_ops = {.name = "dispatch", .suspend = hop__dispatch_suspend,
                                                      .resume = hop__dispatch_resume,
                                                      .describe = hop__dispatch_describe,
                                                      .describe_size = sizeof(hop__dispatch_t)};

int hop_dispatch_to_executor(hop_executor_t *executor) {
    if (!hop__executor_ops(executor))
        return HOP_EINVAL;
    hop__dispatch_t d = {.target = executor, .error = 0};
    hop_awaitable_init(&d.base, &hop__dispatch_ops);
    return hop_await(&d.base);
}
