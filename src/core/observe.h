/* src/core/observe.h: the executors' hooks for the watchdog and the metrics
 * (hop/debug.h, hop/metrics.h; src/core/observe.c). Each hook is one
 * predictable branch on hop__observe_flags while both are off. */
#ifndef HOP_SRC_OBSERVE_H
#define HOP_SRC_OBSERVE_H

#include "internal.h"

enum {
    HOP__OBSERVE_WATCHDOG = 1u << 0,
    HOP__OBSERVE_COUNT = 1u << 1,
    HOP__OBSERVE_TIMING = 1u << 2,
};

/* HOP__OBSERVE_* in force (atomic). */
extern unsigned int hop__observe_flags;

static inline bool hop__observing(void) {
    return __builtin_expect(hop__atomic_load_uint(&hop__observe_flags) != 0u, 0);
}

/* The slow paths, called only while observing. */

/* Runs job on this thread for executor (hop_executor_run_job); task: the
 * task whose slice it is, or NULL; outermost: not a job run from inside
 * another one (an inline executor's). */
void hop__observe_run_job(hop_executor_t *executor, hop_job_t *job, hop_task_t *task, bool outermost);
/* Submits job through ops, counting it. */
int hop__observe_submit(const hop_executor_ops_t *ops, hop_executor_t *executor, hop_job_t *job,
                        unsigned int flags);
/* A withdraw of a job from executor succeeded. */
void hop__observe_withdrawn(hop_executor_t *executor);
/* A loop's turn begins (after the poll) or ends (before the next). */
void hop__observe_turn(hop_executor_t *executor, bool begin);
/* An idle thread of executor spun for work and caught some, or not. */
void hop__observe_spin(hop_executor_t *executor, bool caught);
/* A submitter woke a sleeping thread of executor. */
void hop__observe_wakeup(hop_executor_t *executor);

/* hop__observe_executor_closed: executor is gone (its close returned, or is
 * about to, with no thread of its own left): forget its metrics, so that a
 * snapshot never looks at it and a new executor at the same address starts
 * afresh. Called whether or not anything is observed (it is rare). */
void hop__observe_executor_closed(hop_executor_t *executor);

#define HOP__OBSERVE(call)                                                                                   \
    do {                                                                                                     \
        if (hop__observing())                                                                                \
            call;                                                                                            \
    } while (0)

#endif /* HOP_SRC_OBSERVE_H */
