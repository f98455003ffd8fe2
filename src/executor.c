/* src/executor.c: the executor interface's entry points. */
#include "internal.h"

int hop_job_init(hop_job_t *job, hop_job_fn run) {
    if (!job || !run)
        return HOP_EINVAL;
    job->run = run;
    job->next = NULL;
    job->executor_private = NULL;
    return 0;
}

int hop_executor_submit(hop_executor_t *executor, hop_job_t *job) {
    if (!executor || !executor->ops || !executor->ops->submit || !job || !job->run)
        return HOP_EINVAL;
    return executor->ops->submit(executor, job, 0);
}

const char *hop_executor_name(const hop_executor_t *executor) {
    if (!executor || !executor->ops || !executor->ops->name)
        return "?";
    return executor->ops->name;
}
