/* SPDX-License-Identifier: MIT */
/*
 * hist.h - a log-linear (HDR-style) histogram of 64-bit values with fixed
 * memory: latencies in nanoseconds for the simulator and the benchmarks.
 *
 * Values below 2^IOPFQ_HIST_SUB_BITS are counted exactly; above, each power
 * of two is split into 2^(IOPFQ_HIST_SUB_BITS - 1) equal buckets, so a
 * value's bucket is never wider than 1/128 of the value (< 0.8 % error).
 * The whole range of u64 fits in IOPFQ_HIST_BUCKETS counters (58 KiB):
 * nothing is allocated, recording is a few instructions and never fails for
 * a valid histogram.
 *
 * May touch: only the struct iopfq_hist it is given. Not thread-safe: one
 * writer per histogram (give each thread its own, merge them when the
 * writers are done). Includes only <stdint.h>.
 */
#ifndef IOPFQ_SIM_HIST_H
#define IOPFQ_SIM_HIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOPFQ_HIST_SUB_BITS 8
#define IOPFQ_HIST_SUB_HALF (1u << (IOPFQ_HIST_SUB_BITS - 1))
#define IOPFQ_HIST_BUCKETS \
	((1u << IOPFQ_HIST_SUB_BITS) + (64u - IOPFQ_HIST_SUB_BITS) * IOPFQ_HIST_SUB_HALF)

/**
 * struct iopfq_hist - counts per bucket, plus exact count, min, max and sum
 * @count: values recorded
 * @min: smallest value recorded (UINT64_MAX while empty)
 * @max: largest value recorded (0 while empty)
 * @sum: sum of the values, saturating at UINT64_MAX (for the mean)
 * @counts: per bucket
 */
struct iopfq_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	uint64_t sum;
	uint64_t counts[IOPFQ_HIST_BUCKETS];
};

/* Empty @h. Context: any. Return: 0, or -EINVAL for a NULL @h. */
int iopfq_hist_init(struct iopfq_hist *h);

/* Record @v once. Context: the histogram's one writer. Return: 0 or -EINVAL. */
int iopfq_hist_record(struct iopfq_hist *h, uint64_t v);

/* Record @v @n times. Context and Return: as iopfq_hist_record(). */
int iopfq_hist_record_n(struct iopfq_hist *h, uint64_t v, uint64_t n);

/*
 * Add every value of @src into @dst (@src unchanged; @dst == @src is
 * refused). Context: neither is being written. Return: 0 or -EINVAL.
 */
int iopfq_hist_merge(struct iopfq_hist *dst, const struct iopfq_hist *src);

/*
 * The value at percentile @p (0..100): the highest value equivalent to the
 * bucket holding the ceil(@p% of count)-th smallest value, clamped to
 * [min, max]; so p = 100 is the exact max and p = 0 the exact min.
 * Return: the value; 0 for an empty or NULL @h or @p outside 0..100 (or NaN).
 */
uint64_t iopfq_hist_percentile(const struct iopfq_hist *h, double p);

/* Exact maximum, minimum, count; mean (sum / count). 0 when empty or NULL. */
uint64_t iopfq_hist_max(const struct iopfq_hist *h);
uint64_t iopfq_hist_min(const struct iopfq_hist *h);
uint64_t iopfq_hist_count(const struct iopfq_hist *h);
double iopfq_hist_mean(const struct iopfq_hist *h);

/* Bucket arithmetic, exposed for tests and for exporters:
 * the bucket of @v, and the lowest and highest value of bucket @idx
 * (idx >= IOPFQ_HIST_BUCKETS: returns 0 and UINT64_MAX). */
unsigned int iopfq_hist_bucket(uint64_t v);
uint64_t iopfq_hist_bucket_low(unsigned int idx);
uint64_t iopfq_hist_bucket_high(unsigned int idx);

#ifdef __cplusplus
}
#endif

#endif /* IOPFQ_SIM_HIST_H */
