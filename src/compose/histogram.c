/* src/compose/histogram.c: the log-bucketed histogram (hop/histogram.h).
 *
 * With sub = 2^k counters for the values below 2^k and half = 2^(k-1)
 * buckets per power of two above, a value v >= 2^k with m = floor(log2 v)
 * has shift b = m - k + 1 (its bucket width is 2^b) and lands at
 * sub + (b - 1) * half + (v >> b) - half: the index is an add, a shift
 * and a count of leading zeros, and bucket widths never exceed v / half.
 * It needs nothing of hop but its error codes; it sits in compose/ with
 * the rest of the toolkit that tools built on hop reuse. */
#include <stdlib.h>
#include <string.h>

#include "core/fault.h"
#include "hop/error.h"
#include "hop/histogram.h"

#define HOP__HISTOGRAM_HIGHEST_DEFAULT 3600000000000ull /* an hour in ns */

struct hop_histogram_s {
    uint64_t highest;
    int digits;
    unsigned int sub_bits; /* k above */
    uint64_t sub;          /* 2^k */
    uint64_t half;         /* 2^(k-1) */
    size_t buckets;        /* counters in counts[] */
    uint64_t count, saturated, min, max;
    double sum, sum_squares;
    uint64_t counts[];
};

/* Newton's iteration from above, which only decreases, so it stops when
 * a step no longer does: hop links no libm for one square root. */
static double hop__sqrt(double x) {
    if (!(x > 0))
        return 0;
    double r = x > 1 ? x : 1;
    for (int i = 0; i < 256; i++) {
        double next = 0.5 * (r + x / r);
        if (!(next < r))
            break;
        r = next;
    }
    return r;
}

static unsigned int hop__log2_floor(uint64_t v) { return 63u - (unsigned int)__builtin_clzll(v); }

static size_t hop__histogram_index(const hop_histogram_t *h, uint64_t v) {
    if (v < h->sub)
        return (size_t)v;
    unsigned int b = hop__log2_floor(v) - h->sub_bits + 1;
    return (size_t)(h->sub + (b - 1) * h->half + (v >> b) - h->half);
}

/* The smallest value of bucket index, and its width. */
static uint64_t hop__histogram_lowest(const hop_histogram_t *h, size_t index, uint64_t *width) {
    if (index < h->sub) {
        *width = 1;
        return index;
    }
    uint64_t k = index - h->sub;
    unsigned int b = (unsigned int)(k / h->half) + 1;
    *width = 1ull << b;
    return (k % h->half + h->half) << b;
}

int hop_histogram_create(const hop_histogram_options_t *options, hop_histogram_t **histogram) {
    if (!histogram)
        return HOP_EINVAL;
    *histogram = NULL;
    uint64_t highest = options && options->highest ? options->highest : HOP__HISTOGRAM_HIGHEST_DEFAULT;
    int digits = options && options->significant_digits ? options->significant_digits : 3;
    if (digits < 1 || digits > 5 || highest < 2)
        return HOP_EINVAL;
    uint64_t span = 2;
    for (int i = 0; i < digits; i++)
        span *= 10;
    unsigned int sub_bits = 0;
    while ((1ull << sub_bits) < span)
        sub_bits++;
    uint64_t sub = 1ull << sub_bits, half = sub / 2;
    size_t buckets = (size_t)sub;
    unsigned int top = hop__log2_floor(highest);
    if (top >= sub_bits)
        buckets += (size_t)(top - sub_bits + 1) * (size_t)half;
    hop_histogram_t *h = hop__calloc(1, sizeof *h + buckets * sizeof h->counts[0]);
    if (!h)
        return HOP_ENOMEM;
    h->highest = highest;
    h->digits = digits;
    h->sub_bits = sub_bits;
    h->sub = sub;
    h->half = half;
    h->buckets = buckets;
    *histogram = h;
    return 0;
}

void hop_histogram_destroy(hop_histogram_t *histogram) { free(histogram); }

int hop_histogram_record_n(hop_histogram_t *h, uint64_t value, uint64_t count) {
    if (!h)
        return HOP_EINVAL;
    if (count == 0)
        return 0;
    if (value > h->highest) {
        value = h->highest;
        h->saturated += count;
    }
    h->counts[hop__histogram_index(h, value)] += count;
    if (h->count == 0 || value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
    h->count += count;
    double v = (double)value, n = (double)count;
    h->sum += v * n;
    h->sum_squares += v * v * n;
    return 0;
}

int hop_histogram_record(hop_histogram_t *h, uint64_t value) { return hop_histogram_record_n(h, value, 1); }

int hop_histogram_merge(hop_histogram_t *into, const hop_histogram_t *from) {
    if (!into || !from || into == from)
        return HOP_EINVAL;
    if (from->count == 0)
        return 0;
    if (into->highest == from->highest && into->digits == from->digits) {
        for (size_t i = 0; i < from->buckets; i++)
            into->counts[i] += from->counts[i];
        if (into->count == 0 || from->min < into->min)
            into->min = from->min;
        if (from->max > into->max)
            into->max = from->max;
        into->count += from->count;
        into->saturated += from->saturated;
        into->sum += from->sum;
        into->sum_squares += from->sum_squares;
        return 0;
    }
    /* Different layouts: re-record each bucket at its middle, then put back
     * the exact extremes and sums, which re-recording would blur. */
    uint64_t count = into->count, min = into->min, max = into->max;
    double sum = into->sum, sum_squares = into->sum_squares;
    for (size_t i = 0; i < from->buckets; i++) {
        if (!from->counts[i])
            continue;
        uint64_t width, low = hop__histogram_lowest(from, i, &width);
        hop_histogram_record_n(into, low + (width - 1) / 2, from->counts[i]);
    }
    uint64_t from_min = from->min > into->highest ? into->highest : from->min;
    uint64_t from_max = from->max > into->highest ? into->highest : from->max;
    into->min = count == 0 || from_min < min ? from_min : min;
    into->max = from_max > max ? from_max : max;
    into->count = count + from->count;
    /* Re-recording counted the values above into's highest; values from
     * had capped already stay capped if into's highest is not below it. */
    if (from->highest <= into->highest)
        into->saturated += from->saturated;
    into->sum = sum + from->sum;
    into->sum_squares = sum_squares + from->sum_squares;
    return 0;
}

int hop_histogram_reset(hop_histogram_t *h) {
    if (!h)
        return HOP_EINVAL;
    memset(h->counts, 0, h->buckets * sizeof h->counts[0]);
    h->count = h->saturated = h->min = h->max = 0;
    h->sum = h->sum_squares = 0;
    return 0;
}

uint64_t hop_histogram_percentile(const hop_histogram_t *h, double percentile) {
    if (!h || h->count == 0)
        return 0;
    if (!(percentile <= 100.0)) /* also NaN */
        percentile = 100.0;
    if (percentile < 0)
        percentile = 0;
    double wanted = (double)h->count * percentile / 100.0;
    uint64_t rank = wanted >= (double)h->count ? h->count : (uint64_t)wanted;
    if ((double)rank < wanted)
        rank++; /* ceil, without libm */
    if (rank == 0)
        rank = 1;
    if (rank == h->count)
        return h->max;
    uint64_t seen = 0;
    for (size_t i = 0; i < h->buckets; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t width, top = hop__histogram_lowest(h, i, &width) + (width - 1);
            return top < h->max ? top : h->max;
        }
    }
    return h->max;
}

uint64_t hop_histogram_count(const hop_histogram_t *h) { return h ? h->count : 0; }
uint64_t hop_histogram_saturated(const hop_histogram_t *h) { return h ? h->saturated : 0; }
uint64_t hop_histogram_min(const hop_histogram_t *h) { return h ? h->min : 0; }
uint64_t hop_histogram_max(const hop_histogram_t *h) { return h ? h->max : 0; }

double hop_histogram_mean(const hop_histogram_t *h) { return h && h->count ? h->sum / (double)h->count : 0; }

double hop_histogram_stddev(const hop_histogram_t *h) {
    if (!h || h->count == 0)
        return 0;
    double mean = h->sum / (double)h->count;
    double variance = h->sum_squares / (double)h->count - mean * mean;
    return hop__sqrt(variance);
}

uint64_t hop_histogram_count_between(const hop_histogram_t *h, uint64_t low, uint64_t high) {
    if (!h || low > high)
        return 0;
    size_t first = hop__histogram_index(h, low > h->highest ? h->highest : low);
    size_t last = hop__histogram_index(h, high > h->highest ? h->highest : high);
    uint64_t n = 0;
    for (size_t i = first; i <= last; i++)
        n += h->counts[i];
    return n;
}
