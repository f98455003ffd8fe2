/* src/core/executor.c: the executor interface's entry points. */
#include "core/spin.h"
#include "internal.h"
#include "observe.h"

int hop_job_init(hop_job_t *job, hop_job_fn run) {
    if (!job || !run)
        return HOP_EINVAL;
    job->run = run;
    job->next = NULL;
    job->executor_private = NULL;
    job->executor_stamp = 0;
    job->reserved[0] = job->reserved[1] = NULL; /* reserved[0]: the metrics' submit time */
    return 0;
}

int hop_executor_submit(hop_executor_t *executor, hop_job_t *job) {
    if (!hop__executor_ops(executor) || !job || !job->run)
        return HOP_EINVAL;
    return hop__executor_submit(executor, job, 0);
}

int hop_executor_withdraw(hop_executor_t *executor, hop_job_t *job) {
    const hop_executor_ops_t *ops = hop__executor_ops(executor);
    if (!ops || !job)
        return HOP_EINVAL;
    if (!ops->withdraw)
        return HOP_ENOTSUP;
    int err = ops->withdraw(executor, job);
    if (!err)
        HOP__OBSERVE(hop__observe_withdrawn(executor));
    return err;
}

const char *hop_executor_name(const hop_executor_t *executor) {
    const hop_executor_ops_t *ops = hop__executor_ops((hop_executor_t *)executor);
    return ops && ops->name ? ops->name : "?";
}

/* ---- Submission batches (see internal.h) ----------------------------------- */

typedef struct {
    unsigned int depth;   /* open batches on this thread */
    unsigned int nchains; /* entries in use: chains[0..nchains) */
    bool behind;          /* a flush since the outermost open went behind queued jobs */
    hop__batch_chain_t chains[HOP__BATCH_TARGETS];
} hop__batch_t;

/* Submits run on task stacks too (a task may continue on another thread
 * after any await): the slot's address is computed afresh each time. */
HOP__TLS_SLOT(hop__batch_slot, hop__batch_t)

void hop__batch_open(void) {
    hop__batch_t *b = hop__batch_slot();
    if (b->depth++ == 0)
        b->behind = false;
}

void hop__batch_flush_chain(hop__batch_chain_t *c) {
    hop_job_t *first = c->first, *last = c->last;
    unsigned int count = c->count;
    if (!count)
        return;
    c->first = c->last = NULL;
    c->count = 0;
    /* Cleared first: the flush may submit, and stage, again on this thread. */
    if (c->flush(c->executor, first, last, count))
        hop__batch_slot()->behind = true;
}

void hop__batch_flush(void) {
    hop__batch_t *b = hop__batch_slot();
    /* Entries stay assigned while the batch is open: the same few executors
     * come back job after job. */
    for (unsigned int i = 0; i < b->nchains; i++)
        hop__batch_flush_chain(&b->chains[i]);
}

bool hop__batch_close(void) {
    hop__batch_t *b = hop__batch_slot();
    if (b->depth == 0)
        hop__fatal("hop__batch_close without hop__batch_open");
    hop__batch_flush();
    if (--b->depth == 0)
        b->nchains = 0;
    return b->behind;
}

hop__batch_chain_t *hop__batch_chain(hop_executor_t *executor, bool create) {
    hop__batch_t *b = hop__batch_slot();
    if (b->depth == 0)
        return NULL;
    for (unsigned int i = 0; i < b->nchains; i++)
        if (b->chains[i].executor == executor)
            return create || b->chains[i].count ? &b->chains[i] : NULL;
    if (!create || b->nchains == HOP__BATCH_TARGETS)
        return NULL;
    hop__batch_chain_t *c = &b->chains[b->nchains++];
    *c = (hop__batch_chain_t){.executor = executor};
    return c;
}

void hop__batch_stage(hop__batch_chain_t *c, hop_job_t *job) {
    if (c->count++ == 0)
        c->first = job;
    else
        hop__atomic_store_ptr(&c->last->next, job);
    c->last = job;
    if (c->count == HOP__BATCH_CHAIN_MAX)
        hop__batch_flush_chain(c);
}

/* core/spin.h: written only when a spinner lost its CPU; the threshold,
 * only by tests. */
uint64_t hop__spin_rest_until_ns;
uint64_t hop__spin_preempted_ns = HOP__SPIN_PREEMPTED_NS;
