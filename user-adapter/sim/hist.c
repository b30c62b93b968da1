/* SPDX-License-Identifier: MIT */
/*
 * hist.c - the log-linear histogram of hist.h.
 *
 * Bucket layout, with S = IOPFQ_HIST_SUB_BITS and H = 2^(S-1):
 *   v < 2^S:   bucket v (exact)
 *   v >= 2^S:  e = floor(log2 v), shift = e - (S - 1), m = v >> shift
 *              (H <= m < 2H), bucket 2^S + (shift - 1) * H + (m - H)
 * The last bucket (e = 63) is 2^S + (64 - S) * H - 1.
 *
 * May touch: only the histograms it is given.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "hist.h"

#define SUB_BITS IOPFQ_HIST_SUB_BITS
#define SUB_HALF ((uint64_t)IOPFQ_HIST_SUB_HALF)
#define LINEAR (1ull << SUB_BITS)

_Static_assert(IOPFQ_HIST_SUB_BITS >= 2 && IOPFQ_HIST_SUB_BITS <= 16, "sub-bucket bits");

unsigned int iopfq_hist_bucket(uint64_t v)
{
	unsigned int e, shift;

	if (v < LINEAR)
		return (unsigned int)v;
	e = 63u - (unsigned int)__builtin_clzll(v);
	shift = e - (SUB_BITS - 1);
	return (unsigned int)(LINEAR + (shift - 1) * SUB_HALF + ((v >> shift) - SUB_HALF));
}

uint64_t iopfq_hist_bucket_low(unsigned int idx)
{
	unsigned int shift;

	if (idx >= IOPFQ_HIST_BUCKETS)
		return 0;
	if (idx < LINEAR)
		return idx;
	shift = (unsigned int)((idx - LINEAR) / SUB_HALF) + 1;
	return (SUB_HALF + (idx - LINEAR) % SUB_HALF) << shift;
}

uint64_t iopfq_hist_bucket_high(unsigned int idx)
{
	unsigned int shift;

	if (idx >= IOPFQ_HIST_BUCKETS)
		return UINT64_MAX;
	if (idx < LINEAR)
		return idx;
	shift = (unsigned int)((idx - LINEAR) / SUB_HALF) + 1;
	return iopfq_hist_bucket_low(idx) + ((1ull << shift) - 1);
}

int iopfq_hist_init(struct iopfq_hist *h)
{
	unsigned int i;

	if (!h)
		return -EINVAL;
	h->count = 0;
	h->min = UINT64_MAX;
	h->max = 0;
	h->sum = 0;
	for (i = 0; i < IOPFQ_HIST_BUCKETS; i++)
		h->counts[i] = 0;
	return 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
	uint64_t r;

	return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

int iopfq_hist_record_n(struct iopfq_hist *h, uint64_t v, uint64_t n)
{
	if (!h)
		return -EINVAL;
	if (!n)
		return 0;
	h->counts[iopfq_hist_bucket(v)] += n;
	h->count += n;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum = sat_add(h->sum, sat_mul(v, n));
	return 0;
}

int iopfq_hist_record(struct iopfq_hist *h, uint64_t v)
{
	return iopfq_hist_record_n(h, v, 1);
}

int iopfq_hist_merge(struct iopfq_hist *dst, const struct iopfq_hist *src)
{
	unsigned int i;

	if (!dst || !src || dst == src)
		return -EINVAL;
	if (!src->count)
		return 0;
	for (i = 0; i < IOPFQ_HIST_BUCKETS; i++)
		dst->counts[i] += src->counts[i];
	dst->count += src->count;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->sum = sat_add(dst->sum, src->sum);
	return 0;
}

uint64_t iopfq_hist_percentile(const struct iopfq_hist *h, double p)
{
	uint64_t rank, seen = 0;
	unsigned int i;

	if (!h || !h->count || !(p >= 0.0 && p <= 100.0))
		return 0;
	if (p == 0.0)
		return h->min;
	if (p == 100.0)
		return h->max;
	rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
	if (rank < 1)
		rank = 1;
	if (rank > h->count)
		rank = h->count;
	for (i = 0; i < IOPFQ_HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = iopfq_hist_bucket_high(i);

			if (v > h->max)
				v = h->max;
			if (v < h->min)
				v = h->min;
			return v;
		}
	}
	return h->max; /* counts disagree with count: only after a corrupted merge */
}

uint64_t iopfq_hist_max(const struct iopfq_hist *h)
{
	return h && h->count ? h->max : 0;
}

uint64_t iopfq_hist_min(const struct iopfq_hist *h)
{
	return h && h->count ? h->min : 0;
}

uint64_t iopfq_hist_count(const struct iopfq_hist *h)
{
	return h ? h->count : 0;
}

double iopfq_hist_mean(const struct iopfq_hist *h)
{
	return h && h->count ? (double)h->sum / (double)h->count : 0.0;
}
