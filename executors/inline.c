/* executors/inline.c: runs each job on the submitting thread.
 *
 * A job submitted while this thread is already inside an inline job is
 * queued on the thread and run by the outermost submit once the current job
 * returns. Without that, a task that awaits something completing inline
 * (yield, an already-completed hand-off) would resume one frame deeper each
 * time and eventually overflow the thread's stack. */
#include "core/job_fifo.h"

typedef struct {
    hop__job_fifo_t jobs;
    int running;
} hop__inline_queue_t;

/* submit never suspends, so this thread-local is never reached from a task
 * that could have migrated between two uses of it. */
static _Thread_local hop__inline_queue_t hop__inline_queue;

static int hop__inline_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    (void)flags;
    hop__inline_queue_t *q = &hop__inline_queue;
    if (q->running) {
        hop__job_fifo_push(&q->jobs, job);
        return 0;
    }
    q->running = 1;
    hop_executor_run_job(executor, job);
    while ((job = hop__job_fifo_pop(&q->jobs)) != NULL)
        hop_executor_run_job(executor, job);
    q->running = 0;
    return 0;
}

static const hop_executor_ops_t hop__inline_ops = {.name = "inline", .submit = hop__inline_submit};

static hop_executor_t hop__inline_executor = {.ops = &hop__inline_ops};

hop_executor_t *hop_inline_executor(void) { return &hop__inline_executor; }
