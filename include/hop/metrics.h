/* hop/metrics.h: runtime metrics, per executor and process-wide.
 *
 *     hop_metrics_enable(HOP_METRICS_TIMING);   // before creating executors
 *     ...
 *     hop_metrics_t *m = hop_metrics_snapshot();
 *     for (size_t i = 0; i < m->executor_count; i++)
 *         printf("%s %p ran %llu jobs\n", m->executors[i].kind, ...);
 *     hop_metrics_free(m);
 *
 * Off by default: one predictable branch per job and per submit. Enabled,
 * each thread counts the jobs it runs in counters of its own (plain stores,
 * read with relaxed atomics and summed by the snapshot), and a submit adds
 * to its executor's shared submitted/queued counts; HOP_METRICS_TIMING adds
 * two clock reads per job for the time histograms and busy time.
 * Counting starts when metrics are enabled: jobs queued before were not seen
 * being submitted. examples/metrics_prometheus.c prints a snapshot in
 * Prometheus' text format. */
#ifndef HOP_METRICS_H
#define HOP_METRICS_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Histogram buckets: bucket i counts durations below 2^i microseconds (and
 * at least 2^(i-1), for i > 0); the last bucket takes the rest. */
#define HOP_METRICS_BUCKETS 32

/* Flags for hop_metrics_enable. */
enum {
    HOP_METRICS_COUNT = 1u << 0,  /* counters only */
    HOP_METRICS_TIMING = 1u << 1, /* counters, and the time histograms (implies COUNT) */
};

typedef struct hop_executor_metrics_s hop_executor_metrics_t;
typedef struct hop_metrics_s hop_metrics_t;

struct hop_executor_metrics_s {
    hop_executor_t *executor; /* identification only */
    const char *kind;         /* its ops' name when first seen: "pool", "loop"... */
    unsigned int threads;     /* threads that have run its jobs */
    uint64_t jobs_submitted;  /* submits accepted (refused ones are not counted) */
    uint64_t jobs_run;        /* jobs (and task slices) run */
    uint64_t jobs_withdrawn;  /* taken back out with hop_executor_withdraw */
    uint64_t queued;          /* submitted, not yet run nor withdrawn, now */
    uint64_t queued_peak;     /* the most at once */
    uint64_t wakeups_sent;    /* sleeping threads woken by submitters */
    uint64_t spins_caught;    /* idle spins that found work before sleeping... */
    uint64_t spins_wasted;    /* ...and those that did not */
    /* HOP_METRICS_TIMING only (zero without): */
    uint64_t busy_ns;         /* time its threads spent running its jobs */
    uint64_t idle_ns;         /* the rest of their time since they first ran one */
    uint64_t queue_time_histogram[HOP_METRICS_BUCKETS]; /* submit to start of run */
    uint64_t run_time_histogram[HOP_METRICS_BUCKETS];   /* one job's run */
    /* loops only: */
    uint64_t turns;           /* loop turns (poll to poll) */
    uint64_t turn_time_histogram[HOP_METRICS_BUCKETS]; /* HOP_METRICS_TIMING only */
    uint64_t tasks_alive;     /* live tasks that belong to it now (hop_task_snapshot) */
};

struct hop_metrics_s {
    uint64_t taken_ns;        /* CLOCK_MONOTONIC when the snapshot was taken */
    uint64_t tasks_alive;     /* live tasks now */
    uint64_t tasks_alive_peak; /* the most seen by any snapshot so far */
    uint64_t stacks_mapped;   /* task stacks mapped (hop_stack_stats) */
    uint64_t stacks_cached;   /* of those, cached for reuse */
    size_t executor_count;
    hop_executor_metrics_t *executors; /* executor_count entries */
};

/* hop_metrics_enable: starts (flags: HOP_METRICS_*) or stops (0) counting.
 * Any thread; counts already made stay. Returns 0 or HOP_EINVAL (unknown
 * flags). */
HOP_EXTERN int hop_metrics_enable(unsigned int flags);

/* hop_metrics_snapshot: the metrics of every executor that has run or been
 * submitted a job since metrics were enabled and is not closed, and the
 * process-wide ones. Any thread; never suspends; takes a short internal lock
 * and allocates the result, which the caller frees with hop_metrics_free.
 * NULL when out of memory. */
HOP_EXTERN hop_metrics_t *hop_metrics_snapshot(void);

/* hop_metrics_free: frees a snapshot; NULL is fine. */
HOP_EXTERN void hop_metrics_free(hop_metrics_t *metrics);

#ifdef __cplusplus
}
#endif

#endif /* HOP_METRICS_H */
