/* tests/test_histogram.c: the log-bucketed histogram (hop/histogram.h):
 * percentiles against a sorted array within the stated precision, exact
 * extremes, merges of equal and of different layouts, bad arguments. */
#include <stdlib.h>

#include "helpers.h"

TestSuite(histogram, .timeout = 60);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_random(void) { /* xorshift64*: reproducible across runs */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static int compare_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The value the histogram must report for percentile p of sorted[0..n). */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double p) {
    double wanted = (double)n * p / 100.0;
    size_t rank = (size_t)wanted;
    if ((double)rank < wanted)
        rank++;
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

/* Values spread over nine decades, like latencies from 1 ns to seconds. */
static void fill_log_spread(uint64_t *values, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint64_t decade = 1;
        for (uint64_t d = next_random() % 10; d > 0; d--)
            decade *= 10;
        values[i] = decade + next_random() % (decade * 9);
    }
}

static void check_percentiles(const hop_histogram_t *h, uint64_t *values, size_t n, double precision) {
    qsort(values, n, sizeof *values, compare_u64);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t want = exact_percentile(values, n, ps[i]);
        uint64_t got = hop_histogram_percentile(h, ps[i]);
        cr_assert_geq(got, want, "p%g: %lu below the true %lu", ps[i], (unsigned long)got,
                      (unsigned long)want);
        cr_assert_leq((double)(got - want), (double)want * precision, "p%g: %lu, true %lu", ps[i],
                      (unsigned long)got, (unsigned long)want);
    }
}

Test(histogram, percentiles_match_a_sorted_array_within_three_significant_digits) {
    enum { N = 100000 };
    uint64_t *values = malloc(N * sizeof *values);
    fill_log_spread(values, N);
    hop_histogram_t *h;
    HOP_OK(hop_histogram_create(NULL, &h));
    for (size_t i = 0; i < N; i++)
        HOP_OK(hop_histogram_record(h, values[i]));
    cr_assert_eq(hop_histogram_count(h), N);
    check_percentiles(h, values, N, 1e-3);
    cr_assert_eq(hop_histogram_min(h), values[0]);
    cr_assert_eq(hop_histogram_max(h), values[N - 1]);
    hop_histogram_destroy(h);
    free(values);
}

Test(histogram, fewer_significant_digits_give_the_coarser_stated_precision) {
    enum { N = 20000 };
    uint64_t *values = malloc(N * sizeof *values);
    fill_log_spread(values, N);
    hop_histogram_t *h;
    HOP_OK(hop_histogram_create(&(hop_histogram_options_t){.significant_digits = 1}, &h));
    for (size_t i = 0; i < N; i++)
        HOP_OK(hop_histogram_record(h, values[i]));
    check_percentiles(h, values, N, 1e-1);
    hop_histogram_destroy(h);
    free(values);
}

Test(histogram, small_values_are_exact) {
    hop_histogram_t *h;
    HOP_OK(hop_histogram_create(NULL, &h));
    for (uint64_t v = 1; v <= 1000; v++)
        HOP_OK(hop_histogram_record(h, v));
    cr_assert_eq(hop_histogram_percentile(h, 50), 500);
    cr_assert_eq(hop_histogram_percentile(h, 99), 990);
    cr_assert_eq(hop_histogram_percentile(h, 99.9), 999);
    cr_assert_eq(hop_histogram_percentile(h, 100), 1000);
    cr_assert_eq(hop_histogram_percentile(h, 0), 1);
    cr_assert_float_eq(hop_histogram_mean(h), 500.5, 1e-9);
    /* The population standard deviation of 1..n is sqrt((n^2 - 1) / 12). */
    cr_assert_float_eq(hop_histogram_stddev(h), 288.6749902572095, 1e-6);
    cr_assert_eq(hop_histogram_count_between(h, 100, 199), 100);
    hop_histogram_destroy(h);
}

Test(histogram, merging_per_thread_histograms_equals_recording_everything_in_one) {
    enum { N = 30000, PARTS = 4 };
    uint64_t *values = malloc(N * sizeof *values);
    fill_log_spread(values, N);
    hop_histogram_t *all, *parts[PARTS], *merged;
    HOP_OK(hop_histogram_create(NULL, &all));
    HOP_OK(hop_histogram_create(NULL, &merged));
    for (int p = 0; p < PARTS; p++)
        HOP_OK(hop_histogram_create(NULL, &parts[p]));
    for (size_t i = 0; i < N; i++) {
        HOP_OK(hop_histogram_record(all, values[i]));
        HOP_OK(hop_histogram_record(parts[i % PARTS], values[i]));
    }
    for (int p = 0; p < PARTS; p++)
        HOP_OK(hop_histogram_merge(merged, parts[p]));
    cr_assert_eq(hop_histogram_count(merged), N);
    cr_assert_eq(hop_histogram_min(merged), hop_histogram_min(all));
    cr_assert_eq(hop_histogram_max(merged), hop_histogram_max(all));
    for (double p = 0; p <= 100; p += 0.5)
        cr_assert_eq(hop_histogram_percentile(merged, p), hop_histogram_percentile(all, p), "p%g", p);
    cr_assert_float_eq(hop_histogram_mean(merged), hop_histogram_mean(all), 1e-6 * hop_histogram_mean(all));
    check_percentiles(merged, values, N, 1e-3);
    for (int p = 0; p < PARTS; p++)
        hop_histogram_destroy(parts[p]);
    hop_histogram_destroy(all);
    hop_histogram_destroy(merged);
    free(values);
}

Test(histogram, merging_a_different_layout_keeps_the_coarser_precision_and_exact_extremes) {
    enum { N = 20000 };
    uint64_t *values = malloc(N * sizeof *values);
    fill_log_spread(values, N);
    hop_histogram_t *fine, *coarse;
    HOP_OK(hop_histogram_create(&(hop_histogram_options_t){.significant_digits = 2}, &coarse));
    HOP_OK(hop_histogram_create(&(hop_histogram_options_t){.significant_digits = 4}, &fine));
    for (size_t i = 0; i < N; i++)
        HOP_OK(hop_histogram_record(coarse, values[i]));
    HOP_OK(hop_histogram_merge(fine, coarse));
    cr_assert_eq(hop_histogram_count(fine), N);
    qsort(values, N, sizeof *values, compare_u64);
    cr_assert_eq(hop_histogram_min(fine), values[0]);
    cr_assert_eq(hop_histogram_max(fine), values[N - 1]);
    for (double p = 1; p < 100; p += 7) {
        uint64_t want = exact_percentile(values, N, p), got = hop_histogram_percentile(fine, p);
        double off = got > want ? (double)(got - want) : (double)(want - got);
        cr_assert_leq(off, (double)want * 1e-2, "p%g: %lu, true %lu", p, (unsigned long)got,
                      (unsigned long)want);
    }
    hop_histogram_destroy(fine);
    hop_histogram_destroy(coarse);
    free(values);
}

Test(histogram, values_above_highest_are_counted_as_highest) {
    hop_histogram_t *h;
    HOP_OK(hop_histogram_create(&(hop_histogram_options_t){.highest = 1000000}, &h));
    HOP_OK(hop_histogram_record(h, 5));
    HOP_OK(hop_histogram_record_n(h, UINT64_MAX, 3));
    cr_assert_eq(hop_histogram_count(h), 4);
    cr_assert_eq(hop_histogram_saturated(h), 3);
    cr_assert_eq(hop_histogram_max(h), 1000000);
    cr_assert_eq(hop_histogram_percentile(h, 50), 1000000);
    hop_histogram_destroy(h);
}

Test(histogram, reset_forgets_every_value) {
    hop_histogram_t *h;
    HOP_OK(hop_histogram_create(NULL, &h));
    HOP_OK(hop_histogram_record_n(h, 123456, 10));
    HOP_OK(hop_histogram_reset(h));
    cr_assert_eq(hop_histogram_count(h), 0);
    cr_assert_eq(hop_histogram_percentile(h, 50), 0);
    cr_assert_eq(hop_histogram_max(h), 0);
    HOP_OK(hop_histogram_record(h, 7));
    cr_assert_eq(hop_histogram_min(h), 7);
    cr_assert_eq(hop_histogram_percentile(h, 99), 7);
    hop_histogram_destroy(h);
}

Test(histogram, bad_arguments_are_refused) {
    hop_histogram_t *h = (hop_histogram_t *)&h;
    HOP_ERR(hop_histogram_create(NULL, NULL), HOP_EINVAL);
    HOP_ERR(hop_histogram_create(&(hop_histogram_options_t){.significant_digits = 6}, &h), HOP_EINVAL);
    cr_assert_null(h);
    HOP_ERR(hop_histogram_create(&(hop_histogram_options_t){.significant_digits = -1}, &h), HOP_EINVAL);
    HOP_ERR(hop_histogram_create(&(hop_histogram_options_t){.highest = 1}, &h), HOP_EINVAL);
    HOP_ERR(hop_histogram_record(NULL, 1), HOP_EINVAL);
    HOP_ERR(hop_histogram_reset(NULL), HOP_EINVAL);
    HOP_OK(hop_histogram_create(NULL, &h));
    HOP_ERR(hop_histogram_merge(h, h), HOP_EINVAL);
    HOP_ERR(hop_histogram_merge(h, NULL), HOP_EINVAL);
    HOP_ERR(hop_histogram_merge(NULL, h), HOP_EINVAL);
    cr_assert_eq(hop_histogram_percentile(NULL, 50), 0);
    cr_assert_eq(hop_histogram_percentile(h, 50), 0);
    cr_assert_eq(hop_histogram_count_between(h, 10, 5), 0);
    hop_histogram_destroy(h);
    hop_histogram_destroy(NULL);
}
