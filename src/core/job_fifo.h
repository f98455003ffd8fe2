/* src/core/job_fifo.h: a plain FIFO of jobs, linked through hop_job_t.next,
 * for executors that serialise access themselves (a lock, or a single
 * thread). No synchronisation and no allocation; the lock-free queues are
 * mpsc_queue.h and inject_queue.h. */
#ifndef HOP_SRC_JOB_FIFO_H
#define HOP_SRC_JOB_FIFO_H

#include "internal.h"

typedef struct {
    hop_job_t *head;
    hop_job_t *tail;
} hop__job_fifo_t;

/* hop__job_fifo_push: appends job; the FIFO owns it until popped. */
static inline void hop__job_fifo_push(hop__job_fifo_t *q, hop_job_t *job) {
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
}

/* hop__job_fifo_pop: removes and returns the oldest job, or NULL if empty. */
static inline hop_job_t *hop__job_fifo_pop(hop__job_fifo_t *q) {
    hop_job_t *job = q->head;
    if (job) {
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
    }
    return job;
}

#endif /* HOP_SRC_JOB_FIFO_H */
