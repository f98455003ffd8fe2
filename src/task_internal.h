/* src/task_internal.h: the task record, shared by task.c and awaitable.c. */
#ifndef HOP_SRC_TASK_INTERNAL_H
#define HOP_SRC_TASK_INTERNAL_H

#include "context.h"
#include "internal.h"
#include "stack.h"

#define HOP__TASK_NAME_MAX 32

/* Why a task switched back to the thread that resumed it. */
enum { HOP__SWITCH_SUSPEND = 1, HOP__SWITCH_DONE = 2 };

/* hop_awaitable_t.state */
enum {
    HOP__AWAIT_IDLE = 0,      /* not suspended on this awaitable */
    HOP__AWAIT_SUSPENDED = 1, /* suspend() ran or is running: one completion may win */
    HOP__AWAIT_COMPLETED = 2  /* a completion won; the task is (being) resumed */
};

/* hop_task_t.cancel */
enum { HOP__CANCEL_NONE = 0, HOP__CANCEL_REQUESTED = 1, HOP__CANCEL_FINISHED = 2 };

/* The record sits at the top of the task's own stack mapping, so spawning
 * allocates nothing beyond the (cached) stack. */
struct hop_task_s {
    hop__context_t context;  /* the task's saved registers, while it is not running */
    hop__context_t *caller;  /* where the task switches back to: in hop__task_run's frame */
    hop_job_t resume_job;    /* submitted to the executor to run or resume the task */
    hop_executor_t *executor; /* the task's executor (atomic: completers read it) */
    hop_awaitable_t *awaiting; /* the await in progress, for the resumer */
    int switch_reason;       /* HOP__SWITCH_*, written by the task before switching back */
    unsigned int state;      /* hop_task_state_t (atomic) */
    unsigned int refs;       /* atomic */
    unsigned int cancel;     /* HOP__CANCEL_* (atomic) */
    hop_task_fn fn;
    void *arg;
    void *result;
    hop_result_destructor_fn result_destructor;
    hop_future_t future;     /* completes when the task finishes */
    hop__stack_t stack;      /* the whole mapping, this record included */
    size_t stack_usable;     /* bytes below this record */
    /* sanitizer state */
    void *asan_fake_stack;
    const void *caller_stack_bottom;
    size_t caller_stack_size;
    void *tsan_fiber;
    void *tsan_caller_fiber;
    char name[HOP__TASK_NAME_MAX];
};

/* hop__task_switch_out: from inside task t (its stack), switches back to
 * the thread that resumed it; returns when t is resumed, maybe elsewhere. */
void hop__task_switch_out(hop_task_t *t);

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

/* hop__awaitable_complete_on: the one winning completion of aw: submits its
 * task to executor with flags. On a refused submit, aw is put back as it was
 * (still suspended) and the error returned. */
int hop__awaitable_complete_on(hop_awaitable_t *aw, int status, hop_executor_t *executor, unsigned int flags);

#endif /* HOP_SRC_TASK_INTERNAL_H */
