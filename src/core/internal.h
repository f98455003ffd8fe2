/* src/core/internal.h: what the core shares with executors/ and its own files.
 * Executors include this and the public headers, nothing else of src/. */
#ifndef HOP_SRC_INTERNAL_H
#define HOP_SRC_INTERNAL_H

#include <stddef.h>

#include "arch/tls.h"
#include "atomic.h"
#include "hop/hop.h"

#define hop__container_of(pointer, type, member) ((type *)((char *)(pointer)-offsetof(type, member)))

/* hop__executor_ops: an executor's table, read atomically: an executor may
 * swap it (to a "closed" table whose submit refuses) while other threads
 * submit, and hop reads it only through here. NULL when not usable. */
static inline const hop_executor_ops_t *hop__executor_ops(hop_executor_t *executor) {
    if (!executor)
        return NULL;
    const hop_executor_ops_t *ops = hop__atomic_load_ptr(&executor->ops);
    return ops && ops->submit ? ops : NULL;
}

/* hop__executor_submit_via: ops->submit(executor, job, flags), counted by
 * the metrics while they are on (core/observe.h). */
extern unsigned int hop__observe_flags;
int hop__observe_submit(const hop_executor_ops_t *ops, hop_executor_t *executor, hop_job_t *job,
                        unsigned int flags);
static inline int hop__executor_submit_via(const hop_executor_ops_t *ops, hop_executor_t *executor, hop_job_t *job,
                                           unsigned int flags) {
    if (__builtin_expect(hop__atomic_load_uint(&hop__observe_flags) != 0u, 0))
        return hop__observe_submit(ops, executor, job, flags);
    return ops->submit(executor, job, flags);
}

/* hop__executor_submit: submits through the current table. */
static inline int hop__executor_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    return ops ? hop__executor_submit_via(ops, executor, job, flags) : HOP_ECLOSED;
}

/* Submission batches. A thread that runs many short jobs in a row (a loop
 * draining its inbox) opens a batch around them; while it is open, an
 * executor that can take a chain of jobs at once (the pool) stages the
 * submissions of tasks that are suspending (HOP__SUBMIT_BATCHABLE: the
 * submit of an offload or a dispatch) instead of queueing each one, and
 * queues them as one chain when the batch ends or the chain holds
 * HOP__BATCH_CHAIN_MAX jobs: one exchange, one wake-up check and one close
 * pin per chain instead of per job (the offload row of hop-bench: 1,024
 * loop tasks each awaiting a pool job). The executor decides at staging
 * time whether it accepts a job, and keeps whatever its close waits for (a
 * pin) until the flush, so a staged job is accepted work like any other: it
 * runs exactly once.
 *
 * Only suspending tasks' submissions are staged: their submitter runs no
 * more code until the job is done, so nothing on the thread can be waiting
 * for them but other jobs of the batch, and those may block only in hop's
 * own blocking calls (hop_future_wait, hop_pool_close, hop_loop_close,
 * hop_blocking_close), which flush first. A submission that is not staged
 * but finds a chain for its executor joins it and flushes it, so that one
 * thread's submissions keep their order. Everything here is the calling
 * thread's own: no atomics, no locks. */
#define HOP__BATCH_TARGETS 4u
#define HOP__BATCH_CHAIN_MAX 32u

/* A submit flag for hop's own awaitables (never a user's): the submitting
 * task is suspending, its submission may be staged. Executors that do not
 * stage ignore it. */
#define HOP__SUBMIT_BATCHABLE (1u << 31)

/* A submit flag for hop's own awaitables: the task yields (hop_yield, a
 * dispatch to its own executor), and wants to go behind what is queued. An
 * executor cannot always tell by the job alone: a task run by a joining
 * task (hop_task_join) is not the job its thread took. */
#define HOP__SUBMIT_YIELD (1u << 30)

typedef struct hop__batch_chain_s hop__batch_chain_t;
/* Queues first..last (count jobs, linked through next) on executor.
 * Returns whether other jobs were queued there ahead of them. */
typedef bool (*hop__batch_flush_fn)(hop_executor_t *executor, hop_job_t *first, hop_job_t *last,
                                    unsigned int count);

struct hop__batch_chain_s {
    hop_executor_t *executor;  /* the executor this entry stages for */
    hop__batch_flush_fn flush; /* the executor's */
    hop_job_t *first, *last;   /* linked through next with atomic stores */
    unsigned int count;
};

/* hop__batch_open / _close: brackets a run of jobs on this thread; they
 * nest. Close flushes every chain, and returns whether any chain flushed
 * since the outermost open found jobs queued ahead of it: the executor is
 * behind, and its answers will come at its pace, not at once. */
void hop__batch_open(void);
bool hop__batch_close(void);

/* hop__batch_flush: queues every chain staged on this thread now (before
 * blocking; at the end of a batch). The batch stays open. */
void hop__batch_flush(void);

/* hop__batch_chain: the chain this thread stages for executor, or NULL when
 * no batch is open here, or when none is staged for executor and create is
 * false (or every entry holds another executor's chain): then submit
 * directly. A chain with count 0 is new: the caller sets flush and takes
 * what close waits for before staging the first job. */
hop__batch_chain_t *hop__batch_chain(hop_executor_t *executor, bool create);

/* hop__batch_stage: appends job to chain (the caller accepted it), and
 * flushes the chain once it holds HOP__BATCH_CHAIN_MAX jobs. */
void hop__batch_stage(hop__batch_chain_t *chain, hop_job_t *job);

/* hop__batch_flush_chain: queues chain now (a submission that keeps its
 * place behind the chain's jobs). */
void hop__batch_flush_chain(hop__batch_chain_t *chain);
/* hop__overflow_thread_init: installs the fault handler (once per process)
 * and gives the calling thread an alternate signal stack (once per thread,
 * unless it has one already), so that a task's stack overflow on this
 * thread is reported by name. Every thread hop starts calls it first; a
 * thread that runs tasks gets it when it first switches into one. Safe to
 * call again (cheap: one thread-local read). */
void hop__overflow_thread_init(void);

/* hop__run_in_executor_as: hop_run_in_executor_ex whose wait hop_task_dump
 * shows as what (a literal: "run_blocking"). Task only; suspends. */
int hop__run_in_executor_as(hop_executor_t *executor, void *(*fn)(void *arg), void *arg, void **result,
                            hop_result_destructor_fn result_destructor, const char *what);

/* hop__fatal: reports a broken internal invariant and aborts. Never used for
 * bad input, which gets an error code. */
__attribute__((noreturn, format(printf, 1, 2))) void hop__fatal(const char *format, ...);

#endif /* HOP_SRC_INTERNAL_H */
