/* hop/histogram.h: a log-bucketed histogram of unsigned 64-bit values
 * (latencies in nanoseconds, sizes), HdrHistogram-style: every value is
 * recorded to a fixed number of significant decimal digits (3 by default:
 * a value is told apart from its neighbours within 0.1% of itself), in
 * constant time and without allocating, and any percentile can be read
 * back at that precision.
 *
 *     hop_histogram_t *h;
 *     hop_histogram_create(NULL, &h);            // 3 digits, up to an hour in ns
 *     hop_histogram_record(h, latency_ns);       // hot path: an index and an add
 *     ...
 *     hop_histogram_merge(total, h);             // per-thread histograms, merged at the end
 *     uint64_t p99 = hop_histogram_percentile(total, 99.0);
 *     hop_histogram_destroy(h);
 *
 * Layout. Values below 2^k (k = ceil(log2(2 * 10^digits)): 2048 for 3
 * digits) have a counter each. Above, each power of two [2^m, 2^(m+1)) is
 * split into 2^(k-1) equal buckets, so a bucket's width is at most 1/2^(k-1)
 * of the values in it. 3 digits up to an hour in nanoseconds take about
 * 33,000 counters (270 KB).
 *
 * Threads. A histogram is plain memory without locks: one thread at a time
 * may record into it or read it (the usual use is one histogram per thread
 * or per loop, merged once the recording threads are done, which is
 * lock-free by construction). Any thread may create, merge and destroy
 * histograms it owns. Nothing here suspends or blocks. */
#ifndef HOP_HISTOGRAM_H
#define HOP_HISTOGRAM_H

#include "hop/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hop_histogram_s hop_histogram_t;
typedef struct hop_histogram_options_s hop_histogram_options_t;

struct hop_histogram_options_s {
    uint64_t highest;       /* the largest value told apart; larger values are recorded as
                               highest (and counted by hop_histogram_saturated). 0: an hour
                               in nanoseconds, 3,600,000,000,000 */
    int significant_digits; /* 1 to 5; 0: 3 */
};

/* hop_histogram_create: allocates an empty histogram. options may be NULL;
 * zeroed fields mean the defaults. Any thread. Returns 0 and *histogram;
 * HOP_EINVAL (NULL histogram, significant_digits outside 0..5, highest
 * below 2); HOP_ENOMEM. */
HOP_EXTERN int hop_histogram_create(const hop_histogram_options_t *options, hop_histogram_t **histogram);

/* hop_histogram_destroy: frees the histogram. NULL is ignored. */
HOP_EXTERN void hop_histogram_destroy(hop_histogram_t *histogram);

/* hop_histogram_record: counts one occurrence of value (a value above the
 * histogram's highest counts as highest). Constant time; never allocates.
 * Returns 0; HOP_EINVAL (NULL). */
HOP_EXTERN int hop_histogram_record(hop_histogram_t *histogram, uint64_t value);

/* hop_histogram_record_n: counts count occurrences of value at once.
 * Returns 0; HOP_EINVAL (NULL). */
HOP_EXTERN int hop_histogram_record_n(hop_histogram_t *histogram, uint64_t value, uint64_t count);

/* hop_histogram_merge: adds every value recorded in from to into. The two
 * may have different options: when they do, each of from's buckets is
 * recorded in into at its middle value (so precision is the coarser of
 * the two). from is unchanged. Neither may be in use by another thread.
 * Returns 0; HOP_EINVAL (NULL, or into == from). */
HOP_EXTERN int hop_histogram_merge(hop_histogram_t *into, const hop_histogram_t *from);

/* hop_histogram_reset: forgets every value; the options stay. Returns 0;
 * HOP_EINVAL (NULL). */
HOP_EXTERN int hop_histogram_reset(hop_histogram_t *histogram);

/* hop_histogram_percentile: the value below or at which percentile percent
 * (0 to 100) of the recorded values lie: the ceil(count * percentile /
 * 100)-th smallest value (the smallest for 0), reported as the highest
 * value of its bucket, capped at the exact maximum. So the answer is never
 * below the true one and exceeds it by at most one bucket width (under
 * 0.1% for 3 digits); percentile 100 is the exact maximum. 0 when the
 * histogram is empty or NULL; percentile is clamped to 0..100 (NaN: 100). */
HOP_EXTERN uint64_t hop_histogram_percentile(const hop_histogram_t *histogram, double percentile);

/* hop_histogram_count: the number of values recorded. 0 for NULL. */
HOP_EXTERN uint64_t hop_histogram_count(const hop_histogram_t *histogram);

/* hop_histogram_saturated: how many of them were above highest (recorded as
 * highest). 0 for NULL. */
HOP_EXTERN uint64_t hop_histogram_saturated(const hop_histogram_t *histogram);

/* hop_histogram_min / hop_histogram_max: the exact smallest and largest
 * values recorded (after capping at highest); 0 when empty or NULL. */
HOP_EXTERN uint64_t hop_histogram_min(const hop_histogram_t *histogram);
HOP_EXTERN uint64_t hop_histogram_max(const hop_histogram_t *histogram);

/* hop_histogram_mean / hop_histogram_stddev: the mean and the population
 * standard deviation of the recorded values, from exact running sums (not
 * from the buckets). 0 when empty or NULL. */
HOP_EXTERN double hop_histogram_mean(const hop_histogram_t *histogram);
HOP_EXTERN double hop_histogram_stddev(const hop_histogram_t *histogram);

/* hop_histogram_count_between: how many recorded values fall in buckets
 * from low's to high's, both included: the values in [low, high] give or
 * take one bucket at each end. 0 for NULL or low > high. */
HOP_EXTERN uint64_t hop_histogram_count_between(const hop_histogram_t *histogram, uint64_t low,
                                                uint64_t high);

#ifdef __cplusplus
}
#endif

#endif /* HOP_HISTOGRAM_H */
