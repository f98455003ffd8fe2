/* executors/manual.c: a FIFO of jobs that runs only when told to.
 *
 * A mutex guards the queue: this executor exists to make tests exact, not
 * fast, and a lock makes submissions from other threads trivially ordered. */
#include <pthread.h>
#include <stdlib.h>

#include "core/fault.h"
#include "core/job_fifo.h"
#include "core/observe.h"

typedef struct {
    hop_executor_t base;
    pthread_mutex_t lock;
    hop__job_fifo_t jobs; /* guarded by lock, as are the fields below */
    long pending;
    int closed;
} hop__manual_t;

static int hop__manual_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags);

static const hop_executor_ops_t hop__manual_ops = {.name = "manual", .submit = hop__manual_submit};

static hop__manual_t *hop__manual_from(hop_executor_t *executor) {
    if (!executor || executor->ops != &hop__manual_ops)
        return NULL;
    return (hop__manual_t *)executor;
}

static int hop__manual_submit(hop_executor_t *executor, hop_job_t *job, unsigned int flags) {
    hop__manual_t *m = (hop__manual_t *)executor;
    pthread_mutex_lock(&m->lock);
    if (m->closed && !(flags & HOP_SUBMIT_CONTINUATION)) {
        pthread_mutex_unlock(&m->lock);
        return HOP_ECLOSED;
    }
    hop__job_fifo_push(&m->jobs, job);
    m->pending++;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

int hop_manual_executor_create(hop_executor_t **executor) {
    if (!executor)
        return HOP_EINVAL;
    *executor = NULL;
    hop__manual_t *m = hop__calloc(1, sizeof *m);
    if (!m)
        return HOP_ENOMEM;
    m->base.ops = &hop__manual_ops;
    pthread_mutex_init(&m->lock, NULL);
    *executor = &m->base;
    return 0;
}

int hop_manual_executor_run_one(hop_executor_t *executor) {
    hop__manual_t *m = hop__manual_from(executor);
    if (!m)
        return HOP_EINVAL;
    pthread_mutex_lock(&m->lock);
    hop_job_t *job = hop__job_fifo_pop(&m->jobs);
    if (job)
        m->pending--;
    pthread_mutex_unlock(&m->lock);
    if (!job)
        return 0;
    hop_executor_run_job(executor, job);
    return 1;
}

int hop_manual_executor_run_all(hop_executor_t *executor, size_t max_jobs) {
    if (!hop__manual_from(executor))
        return HOP_EINVAL;
    int ran = 0;
    while ((max_jobs == 0 || (size_t)ran < max_jobs) && hop_manual_executor_run_one(executor) == 1)
        ran++;
    return ran;
}

long hop_manual_executor_pending(hop_executor_t *executor) {
    hop__manual_t *m = hop__manual_from(executor);
    if (!m)
        return HOP_EINVAL;
    pthread_mutex_lock(&m->lock);
    long pending = m->pending;
    pthread_mutex_unlock(&m->lock);
    return pending;
}

int hop_manual_executor_close(hop_executor_t *executor) {
    hop__manual_t *m = hop__manual_from(executor);
    if (!m)
        return HOP_EINVAL;
    pthread_mutex_lock(&m->lock);
    int was_closed = m->closed;
    m->closed = 1;
    pthread_mutex_unlock(&m->lock);
    return was_closed ? HOP_EALREADY : 0;
}

int hop_manual_executor_destroy(hop_executor_t *executor) {
    long pending = hop_manual_executor_pending(executor);
    if (pending < 0)
        return (int)pending;
    if (pending)
        return HOP_EBUSY;
    hop__manual_t *m = hop__manual_from(executor);
    pthread_mutex_destroy(&m->lock);
    free(m);
    hop__observe_executor_closed(executor);
    return 0;
}
