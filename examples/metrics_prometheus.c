/* examples/metrics_prometheus.c: hop's runtime metrics (hop/metrics.h) in
 * Prometheus' text exposition format. A pool runs a burst of jobs and a loop
 * a few tasks that sleep, then one snapshot is printed; a server would serve
 * the same text on /metrics. */
#include <hop/hop.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

static void histogram(const char *name, const hop_executor_metrics_t *x, const uint64_t *buckets) {
    uint64_t cumulative = 0;
    double sum_s = 0;
    for (int i = 0; i < HOP_METRICS_BUCKETS; i++) {
        cumulative += buckets[i];
        /* Bucket i holds durations below 2^i us; its midpoint stands in for the sum. */
        sum_s += (double)buckets[i] * (i ? 1.5 * (double)(1ull << (i - 1)) : 0.5) / 1e6;
        if (i < HOP_METRICS_BUCKETS - 1)
            printf("hop_%s_seconds_bucket{executor=\"%s@%p\",le=\"%g\"} %" PRIu64 "\n", name, x->kind,
                   (void *)x->executor, (double)(1ull << i) / 1e6, cumulative);
    }
    printf("hop_%s_seconds_bucket{executor=\"%s@%p\",le=\"+Inf\"} %" PRIu64 "\n", name, x->kind,
           (void *)x->executor, cumulative);
    printf("hop_%s_seconds_sum{executor=\"%s@%p\"} %g\n", name, x->kind, (void *)x->executor, sum_s);
    printf("hop_%s_seconds_count{executor=\"%s@%p\"} %" PRIu64 "\n", name, x->kind, (void *)x->executor,
           cumulative);
}

static void print_prometheus(const hop_metrics_t *m) {
    printf("# TYPE hop_tasks_alive gauge\nhop_tasks_alive %" PRIu64 "\n", m->tasks_alive);
    printf("# TYPE hop_tasks_alive_peak gauge\nhop_tasks_alive_peak %" PRIu64 "\n", m->tasks_alive_peak);
    printf("# TYPE hop_stacks_mapped gauge\nhop_stacks_mapped %" PRIu64 "\n", m->stacks_mapped);
    printf("# TYPE hop_stacks_cached gauge\nhop_stacks_cached %" PRIu64 "\n", m->stacks_cached);
    static const struct {
        const char *name, *type;
        size_t offset;
    } fields[] = {
        {"jobs_submitted_total", "counter", offsetof(hop_executor_metrics_t, jobs_submitted)},
        {"jobs_run_total", "counter", offsetof(hop_executor_metrics_t, jobs_run)},
        {"jobs_withdrawn_total", "counter", offsetof(hop_executor_metrics_t, jobs_withdrawn)},
        {"queue_depth", "gauge", offsetof(hop_executor_metrics_t, queued)},
        {"queue_depth_peak", "gauge", offsetof(hop_executor_metrics_t, queued_peak)},
        {"wakeups_sent_total", "counter", offsetof(hop_executor_metrics_t, wakeups_sent)},
        {"spins_caught_total", "counter", offsetof(hop_executor_metrics_t, spins_caught)},
        {"spins_wasted_total", "counter", offsetof(hop_executor_metrics_t, spins_wasted)},
        {"busy_nanoseconds_total", "counter", offsetof(hop_executor_metrics_t, busy_ns)},
        {"idle_nanoseconds_total", "counter", offsetof(hop_executor_metrics_t, idle_ns)},
        {"loop_turns_total", "counter", offsetof(hop_executor_metrics_t, turns)},
        {"executor_tasks_alive", "gauge", offsetof(hop_executor_metrics_t, tasks_alive)},
    };
    for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
        printf("# TYPE hop_%s %s\n", fields[f].name, fields[f].type);
        for (size_t i = 0; i < m->executor_count; i++) {
            const hop_executor_metrics_t *x = &m->executors[i];
            printf("hop_%s{executor=\"%s@%p\"} %" PRIu64 "\n", fields[f].name, x->kind, (void *)x->executor,
                   *(const uint64_t *)((const char *)x + fields[f].offset));
        }
    }
    printf("# TYPE hop_queue_time_seconds histogram\n");
    for (size_t i = 0; i < m->executor_count; i++)
        histogram("queue_time", &m->executors[i], m->executors[i].queue_time_histogram);
    printf("# TYPE hop_run_time_seconds histogram\n");
    for (size_t i = 0; i < m->executor_count; i++)
        histogram("run_time", &m->executors[i], m->executors[i].run_time_histogram);
    printf("# TYPE hop_loop_turn_seconds histogram\n");
    for (size_t i = 0; i < m->executor_count; i++)
        if (m->executors[i].turns)
            histogram("loop_turn", &m->executors[i], m->executors[i].turn_time_histogram);
}

typedef struct {
    hop_job_t job;
    unsigned int *done;
} work_t;

static void work(hop_job_t *job) {
    volatile double x = 1;
    for (int i = 0; i < 10000; i++)
        x = x * 1.000001;
    __atomic_fetch_add(((work_t *)job)->done, 1u, __ATOMIC_RELEASE);
}

static void *nap(void *arg) {
    (void)arg;
    for (int i = 0; i < 5; i++)
        hop_sleep(2);
    return NULL;
}

int main(void) {
    hop_metrics_enable(HOP_METRICS_TIMING); /* before the executors: every job is seen submitted */
    hop_pool_t pool;
    hop_loop_t loop;
    if (hop_pool_init(&pool, NULL) != 0 || hop_loop_init(&loop, NULL) != 0 || hop_loop_start(&loop) != 0)
        return 1;
    enum { JOBS = 1000, TASKS = 8 };
    work_t *jobs = calloc(JOBS, sizeof *jobs);
    unsigned int done = 0;
    for (int i = 0; i < JOBS; i++) {
        jobs[i].done = &done;
        hop_job_init(&jobs[i].job, work);
        hop_pool_submit(&pool, &jobs[i].job);
    }
    hop_task_t *tasks[TASKS];
    for (int i = 0; i < TASKS; i++)
        hop_task_spawn(hop_loop_executor(&loop), nap, NULL, NULL, &tasks[i]);
    for (int i = 0; i < TASKS; i++) {
        hop_future_wait(hop_task_future(tasks[i]), HOP_WAIT_FOREVER, NULL);
        hop_task_unref(tasks[i]);
    }
    while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) < JOBS)
        ;
    hop_metrics_t *m = hop_metrics_snapshot();
    if (!m)
        return 1;
    print_prometheus(m);
    hop_metrics_free(m);
    hop_loop_close(&loop);
    hop_pool_close(&pool);
    free(jobs);
    return 0;
}
