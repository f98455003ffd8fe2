/* src/core/task_internal.h: the task record, shared by the core's files, and
 * the task hooks through which the layers above the core attach state to a
 * task (the core itself knows nothing of deadlines or task-locals). */
#ifndef HOP_SRC_TASK_INTERNAL_H
#define HOP_SRC_TASK_INTERNAL_H

#include "arch/context.h"
#include "internal.h"
#include "stack.h"

#define HOP__TASK_NAME_MAX (HOP_TASK_NAME_MAX + 1)

/* How many hop__task_hook_t's may be registered (hop's own layers use two:
 * deadlines and task-locals). */
#define HOP__TASK_SLOTS 4

/* Why a task switched back to the thread that resumed it: it awaits, it
 * finished, or it joins a child whose job it took back from their executor
 * (run_here), which that thread runs before it resumes the task. */
enum { HOP__SWITCH_SUSPEND = 1, HOP__SWITCH_DONE = 2, HOP__SWITCH_RUN_JOB = 3 };

/* How many joins may each run their child on one thread's stack, nested
 * (a child that itself joins its own child, and so on): each level costs
 * that stack a few hundred bytes, and a deeper chain of joins suspends as
 * before. */
#define HOP__JOIN_HERE_MAX_DEPTH 64u

/* A join runs its child on the joiner's own stack instead (no switch out
 * and back) when at least this much of that stack is left: the child's
 * finish runs there, task-local destructors (user code) included, so ask
 * for what a small thread stack would give them. */
#define HOP__JOIN_HERE_HEADROOM (32u * 1024u)

/* hop_task_t.await_word: the state of the task's current await, one word so
 * that every transition is a single CAS. The bits below sit under the await's
 * generation (hop_awaitable_t.generation, counted per task), so a stale
 * completion or interrupt (for an await that is over) can never match.
 *
 *   SUSPENDED      the run side set it before suspend(): one completion may win
 *   COMPLETED      a completion won; the task is (or will be) resumed once
 *   INTERRUPTIBLE  the awaitable has a cancel op
 *   ARMED          suspend() returned true: an interrupter may call cancel now
 *   PINNED         an interrupter is inside cancel(): a completion that comes
 *                  meanwhile records itself (COMPLETED) and leaves the submit
 *                  to whichever of the two finishes last
 *   STATUS_READY   that held-back completer has stored its status and executor
 *   INTERRUPT_WAITING  an interrupt came before ARMED: the run side delivers
 *                  it as soon as suspend() returns (status in pending_interrupt)
 *   RUN_SIDE       the run side still uses the task (until it arms the
 *                  await): a completion is held back as while PINNED
 */
enum {
    HOP__AWAIT_SUSPENDED = 1u << 0,
    HOP__AWAIT_COMPLETED = 1u << 1,
    HOP__AWAIT_INTERRUPTIBLE = 1u << 2,
    HOP__AWAIT_ARMED = 1u << 3,
    HOP__AWAIT_PINNED = 1u << 4,
    HOP__AWAIT_STATUS_READY = 1u << 5,
    HOP__AWAIT_INTERRUPT_WAITING = 1u << 6,
    HOP__AWAIT_RUN_SIDE = 1u << 7,
    HOP__AWAIT_GENERATION_SHIFT = 8
};
#define HOP__AWAIT_WORD(generation) ((uint64_t)(generation) << HOP__AWAIT_GENERATION_SHIFT)
#define HOP__AWAIT_GENERATION(word) ((word) >> HOP__AWAIT_GENERATION_SHIFT)

/* hop_awaitable_t.state: set (before the task is resumed) when the await was
 * interrupted, so hop_await() returns the interrupt's status; NOT_SUSPENDED
 * when that happened before suspend() ran, so there is nothing to clean up. */
enum { HOP__AWAITABLE_INTERRUPTED = 1u, HOP__AWAITABLE_NOT_SUSPENDED = 2u };

/* hop_task_t.cancel */
enum { HOP__CANCEL_NONE = 0, HOP__CANCEL_REQUESTED = 1, HOP__CANCEL_FINISHED = 2 };

/* A hop_run_in_executor job (src/core/offload.c). It normally sits in its task's
 * record (one slot per task: a task awaits one job at a time), and is
 * allocated only when the slot is still held by an earlier job that the task
 * stopped waiting for and that has not finished yet.
 *
 * The job's thread writes state and result and nothing else of it, so they
 * come first: in the task record they share the cache lines of the task's
 * await word and resume job, the only other lines that thread writes when it
 * completes the await. Every line a completion writes is one the task's own
 * thread then misses, and on a loop resuming thousands of such tasks those
 * misses are most of the cost of an offload. */
typedef struct hop__offload_s {
    unsigned int state; /* HOP__OFFLOAD_* (atomic) */
    bool in_task_slot;  /* false: malloc'd */
    void *result;
    hop_job_t job;
    hop_task_t *task;
    hop_executor_t *home; /* the task's executor when it offloaded: where it resumes */
    uint64_t generation;  /* the await the job completes */
    void *(*fn)(void *arg);
    void *arg;
    hop_result_destructor_fn result_destructor;
} hop__offload_t;

/* The record sits at the top of the task's own stack mapping, so spawning
 * allocates nothing beyond the (cached) stack. */
struct hop_task_s {
    /* What hop_task_snapshot reads from another thread at any moment, even
     * while the record is being reused for a new task (registry.c): never
     * cleared by the spawn's memset, written only by atomic stores, and the
     * fields a spawn sets are published under registry_seq, a sequence
     * lock (odd while a spawn writes them). */
    unsigned int registry_seq;
    unsigned int registry_live; /* 1 from spawn until the task finishes */
    uint64_t id;              /* hop_task_id: set at spawn, never reused */
    unsigned int state;       /* hop_task_state_t */
    hop_executor_t *executor; /* the task's executor (completers read it too) */
    const char *await_name;   /* the current await's ops->name */
    const hop_awaitable_t *await_current; /* ...and its awaitable, for ops->describe;
                                             NULL for a wait without one (a join) */
    const hop_task_t *parent; /* for identification only */
    uint64_t parent_id;       /* 0: spawned from a plain thread */
    const char *spawn_file;
    int spawn_line;
    size_t stack_usable;      /* bytes below this record */
    char name[HOP__TASK_NAME_MAX];
    /* Everything below is cleared at spawn, up to offload. */
    hop__context_t context;  /* the task's saved registers, while it is not running */
    hop__context_t *caller;  /* where the task switches back to: in hop__task_run's frame */
    hop_awaitable_t *awaiting; /* the await in progress, for the resumer */
    uint64_t await_generation; /* awaits so far; written by the task only */
    int pending_interrupt;   /* status of an INTERRUPT_WAITING interrupt (atomic) */
    hop_executor_t *held_executor; /* a held-back completion's target... */
    unsigned int held_flags;       /* ...and submit flags (see PINNED) */
    hop_job_t cancel_job;          /* a pinned interrupt handed to the awaitable's
                                      cancel executor (one at a time: PINNED)... */
    hop_awaitable_t *cancel_awaitable; /* ...for this await... */
    int cancel_status;             /* ...with this status */
    unsigned int expired;    /* time limits of the task that expired and still hold (atomic) */
    unsigned int *shield_expired; /* the innermost shield's count of expired limits, NULL
                                     outside shields (atomic; written by the task only) */
    void *slots[HOP__TASK_SLOTS]; /* one per registered hop__task_hook_t; task only */
    unsigned int offload_busy; /* hop_run_in_executor's job slot (offload, below) is
                                  held until its job lets go (atomic) */
    int switch_reason;       /* HOP__SWITCH_*, written by the task before switching back */
    int trace_tid;           /* the thread it last ran on while tracing (core/trace.c) */
    hop_job_t *run_here;     /* for HOP__SWITCH_RUN_JOB: the job to run */
    unsigned int cancel;     /* HOP__CANCEL_* (atomic) */
    hop_task_fn fn;          /* or, for hop_task_spawn_ex... */
    hop_task_status_fn status_fn;
    void *arg;
    /* sanitizer state */
    void *asan_fake_stack;
    const void *caller_stack_bottom;
    size_t caller_stack_size;
    void *tsan_fiber;
    void *tsan_caller_fiber;
    /* What another thread writes to complete an await, together on their own
     * cache lines (see hop__offload_t): the resume job (its link, by the
     * executor's queue), the await word, then the offload slot's state and
     * result. */
    _Alignas(HOP__CACHELINE) hop_job_t resume_job; /* submitted to the executor to run or
                                                      resume the task */
    uint64_t await_word;     /* HOP__AWAIT_* (atomic), see above */
    /* Not cleared at spawn: every offload sets all of it. */
    hop__offload_t offload;  /* hop_run_in_executor's job slot (see offload_busy) */
    /* What a join and the last unref touch, last, on two lines of their
     * own: a loop that joins thousands of finished tasks (a fan-out) takes
     * a miss on every line of each record it reads, serialised by the
     * unref's locked decrement. Set at spawn, not by its memset. */
    _Alignas(HOP__CACHELINE) hop_future_t future; /* completes when the task finishes */
    unsigned int refs;       /* atomic */
    int status;              /* status_fn's status (hop_task_spawn_ex) */
    void *result;
    hop_result_destructor_fn result_destructor;
    hop__stack_t stack;      /* the whole mapping, this record included */
};

/* hop__future_complete: completes future with status and result, as
 * hop_future_set_result/_set_error do but with any status (a task's own,
 * hop_task_spawn_ex). Returns 0 or HOP_EALREADY. */
int hop__future_complete(hop_future_t *future, int status, void *result);

/* hop__task_record: where the task record of a task on stack sits: at the
 * top of the stack's mapping, so spawning allocates nothing beyond the
 * (cached) stack, and the registry finds records from mappings alone. */
static inline hop_task_t *hop__task_record(const hop__stack_t *stack) {
    uintptr_t top = (uintptr_t)stack->low + stack->size;
    return (hop_task_t *)((top - sizeof(hop_task_t)) & ~(uintptr_t)63);
}

/* hop__registry_task_publish: at spawn, before t can run, sets the fields
 * hop_task_snapshot reads and marks t live. hop__registry_task_retire: t has
 * finished. Any thread; no locks (registry.c). */
void hop__registry_task_publish(hop_task_t *t, uint64_t id, const char *name, const hop_task_t *parent,
                                const char *file, int line, size_t stack_usable);
static inline void hop__registry_task_retire(hop_task_t *t) { hop__atomic_store_uint(&t->registry_live, 0u); }

/* hop__registry_skipped: for hop-bench's registry rows only (never set by
 * hop itself): while true, a spawn stores the task's id and name but skips
 * the rest of hop__registry_task_publish, so the task is not in the
 * registry (hop_task_snapshot and the dump miss it). Set it only while no
 * task is being spawned. */
extern bool hop__registry_skipped;

/* hop__registry_find: copies task's entry into info if task is a live task
 * (its stack still mapped: only a pointer is needed, the task may have
 * finished). Any thread; takes the registry's lock. */
bool hop__registry_find(const hop_task_t *task, hop_task_info_t *info);

/* hop__registry_stack_mapped / _unmapped: the stack module reports every
 * mapping it makes and, before unmapping it, its end (registry.c). A
 * snapshot reads the task records of mapped stacks only. mapped returns 0
 * or HOP_ENOMEM. */
int hop__registry_stack_mapped(hop__stack_t *stack);
void hop__registry_stack_unmapped(const hop__stack_t *stack);

/* hop__task_switch_out: from inside task t (its stack), switches back to
 * the thread that resumed it; returns when t is resumed, maybe elsewhere. */
void hop__task_switch_out(hop_task_t *t);

/* Hints for an executor that knows which jobs it runs next (the loop's
 * drain), so that the misses of resuming a task whose record and stack are
 * cold (another thread completed its await, or thousands of tasks take
 * turns) overlap with the jobs before it. Each asks the CPU to fetch, if
 * job resumes a task: _record, the task record's lines its resume touches
 * (its state, context, await and interrupt fields, its await word);
 * _stack, the top of its saved stack, whose address is in the record (so
 * call it a job later than _record, for the same job). Neither changes
 * anything. The caller's thread only, for a job queued on its executor
 * (the task cannot end before that job runs). */
void hop__task_prefetch_record(const hop_job_t *job);
void hop__task_prefetch_stack(const hop_job_t *job);

/* hop__task_running_here: the task this thread is running right now (NULL
 * outside tasks), read without the opaque call, for the fault handler
 * (overflow.c), which runs on this thread's own signal stack. */
hop_task_t *hop__task_running_here(void);

/* hop__task_cancel_requested: hop_task_cancel() was called on task and
 * the task has not finished. Any thread. */
bool hop__task_cancel_requested(const hop_task_t *task);

/* hop__executor_task_enter / _leave: call the executor's optional hooks. */
static inline void hop__executor_task_enter(hop_executor_t *executor) {
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    if (ops && ops->task_enter)
        ops->task_enter(executor);
}
static inline void hop__executor_task_leave(hop_executor_t *executor) {
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    if (ops && ops->task_leave)
        ops->task_leave(executor);
}

/* hop__awaitable_complete_on: the one winning completion of aw (status and
 * value, as hop_awaitable_complete_value): submits its task to executor with
 * flags. On a refused submit, aw is put back as it was
 * (still suspended) and the error returned. */
int hop__awaitable_complete_on(hop_awaitable_t *aw, int status, void *value, hop_executor_t *executor,
                               unsigned int flags);

/* hop__await_complete_task: completes task t's await of generation without
 * touching its awaitable (status 0, no value; for awaitables whose resume op
 * gives the answer: the offload's), submitting t to executor as a
 * continuation. Returns 0, or HOP_EALREADY if that await was already
 * completed or interrupted. Any thread. */
int hop__await_complete_task(hop_task_t *t, uint64_t generation, hop_executor_t *executor);

/* hop__await_begin_suspension: run side of an await, on the resumer's
 * stack after the task switched out (src/core/awaitable.c). Returns true if the
 * task is handed off, false if it must continue at once on this thread. */
bool hop__await_begin_suspension(hop_task_t *t, hop_awaitable_t *aw);

/* hop__await_task: hop_await() for hop's own awaitables on their hot paths
 * (hop_run_in_executor), for a caller that has made hop__await_begin's
 * checks itself and passes the task they returned: no second lookup of the
 * current task, no second interrupt check (the run side checks again once
 * the await is published, hop__await_begin_suspension: the check that
 * decides). awaitable needs only ops and cancel_executor set; the await
 * sets the rest. Returns the await's status; its value stays in
 * awaitable->value. Task only. */
int hop__await_task(hop_task_t *t, hop_awaitable_t *awaitable);

/* hop__await_shielded: hop_await() that suspends even when the task has an
 * interrupt pending (cancelled, or past a deadline), for the few waits a
 * cancelled task must still make to finish cleanly (a task group waiting
 * for its cancelled children). awaitable must have no cancel op: nothing
 * interrupts it. Task only. */
int hop__await_shielded(hop_awaitable_t *awaitable);

/* hop__task_interrupt: interrupts whatever interruptible await task is
 * suspended in right now with status (task-level: cancellation, and
 * deadlines entered outside any shield), unless the task is inside a shield
 * (hop_shield_enter), which masks task-level interrupts. The caller has
 * already made the reason visible (the cancel flag, an expired deadline)
 * with a full barrier, so an await that is just starting sees it instead.
 * Any thread; the caller keeps task alive. */
void hop__task_interrupt(hop_task_t *task, int status);

/* hop__task_pending_interrupt: the status an await of t must return at once
 * (HOP_ECANCELED, HOP_ETIMEDOUT), or 0. Inside a shield only the shield's
 * own count of expired limits counts (HOP_ETIMEDOUT): a cancel or an outer
 * deadline waits until the task leaves the shield. */
static inline int hop__task_pending_interrupt(const hop_task_t *t) {
    unsigned int *shield = hop__atomic_load_ptr((unsigned int **)&t->shield_expired);
    if (shield)
        return hop__atomic_load_uint(shield) != 0 ? HOP_ETIMEDOUT : 0;
    if (hop__atomic_load_uint((unsigned int *)&t->cancel) == HOP__CANCEL_REQUESTED)
        return HOP_ECANCELED;
    if (hop__atomic_load_uint((unsigned int *)&t->expired) != 0)
        return HOP_ETIMEDOUT;
    return 0;
}

/* hop__await_begin: the checks every await makes before it starts: sets *t
 * to the current task and returns 0, or returns HOP_ENOTTASK outside a task,
 * or the interrupt already pending (HOP_ECANCELED, HOP_ETIMEDOUT). */
int hop__await_begin(hop_task_t **t);

/* hop__task_expire / _unexpire: one more (one fewer) of t's time limits has
 * expired and still holds. A limit counts in the domain it was entered in:
 * counter is the innermost shield's count (t->shield_expired as it was when
 * the limit started), or NULL for the task's own (t->expired). While any
 * holds in the domain the task is in, every interruptible await of t returns
 * HOP_ETIMEDOUT at once; hop__task_expire also interrupts the await t is
 * suspended in right now, if the task is in that domain. The count is
 * raised with a full barrier before the interrupt, paired with the one the
 * run side takes when it marks an await suspended: an await that starts
 * meanwhile either sees the count or is interrupted. Any thread; the caller
 * keeps t alive. */
void hop__task_expire(hop_task_t *t, unsigned int *counter);
void hop__task_unexpire(hop_task_t *t, unsigned int *counter);

/* ---- task hooks ---------------------------------------------------------
 *
 * A layer above the core that keeps per-task state (deadlines, task-locals)
 * registers a hook: it gets one pointer-sized slot in every task record,
 * NULL at spawn, and the core calls the hook's functions at the two points
 * of a task's life it cannot see from outside. Both are called only for a
 * task whose slot is non-NULL, so a task that never touches the layer pays
 * nothing for it (no indirect call, no allocation). Registration happens on
 * the layer's first use (hop__task_slot), from any thread. */
typedef struct hop__task_hook_s hop__task_hook_t;
struct hop__task_hook_s {
    const char *name; /* for error messages */
    /* spawn (optional): the spawning task's slot is parent_value (non-NULL);
     * stores the child's first value in *child_value (left NULL: none).
     * Returns 0, or an error that fails the spawn (the child never runs;
     * values already stored for it get their exit call). Runs on the
     * spawning task, inside hop_task_spawn(). */
    int (*spawn)(void *parent_value, void **child_value);
    /* exit (optional): t is over (its function returned, it was cancelled
     * before it ran, or its spawn failed after the spawn calls) and its slot
     * holds value, which exit must release; the slot is NULL again when it
     * is called. Runs on the thread that finishes t, off t's stack, before
     * t's future completes. */
    void (*exit)(hop_task_t *t, void *value);
    /* private */
    unsigned int slot; /* index + 1 once registered (atomic), 0 before */
};

/* hop__task_hook_register: registers hook if it is not yet, and returns its
 * slot index. Thread-safe: concurrent first calls for one hook agree. Aborts
 * if more than HOP__TASK_SLOTS hooks exist (a hop bug, not bad input). */
unsigned int hop__task_hook_register(hop__task_hook_t *hook);

/* hop__task_slot: t's slot for hook, registering hook on first use. Only t
 * itself (on its stack) reads and writes it, and the core when it calls the
 * hook: a task runs on one thread at a time, and every migration goes
 * through an executor's submit, which orders its writes before the next
 * thread's reads. */
static inline void **hop__task_slot(hop_task_t *t, hop__task_hook_t *hook) {
    unsigned int slot = hop__atomic_load_uint(&hook->slot);
    return &t->slots[slot ? slot - 1 : hop__task_hook_register(hook)];
}

#endif /* HOP_SRC_TASK_INTERNAL_H */
