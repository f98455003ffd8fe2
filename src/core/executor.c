/* src/core/executor.c: the executor interface's entry points. */
#include "internal.h"

int hop_job_init(hop_job_t *job, hop_job_fn run) {
    if (!job || !run)
        return HOP_EINVAL;
    job->run = run;
    job->next = NULL;
    job->executor_private = NULL;
    job->executor_stamp = 0;
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
    return ops->withdraw ? ops->withdraw(executor, job) : HOP_ENOTSUP;
}

const char *hop_executor_name(const hop_executor_t *executor) {
    const hop_executor_ops_t *ops = hop__executor_ops((hop_executor_t *)executor);
    return ops && ops->name ? ops->name : "?";
}
