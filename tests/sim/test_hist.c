/* SPDX-License-Identifier: MIT */
/*
 * test_hist.c - cmocka tests of the log-linear histogram
 * (user-adapter/sim/hist.h): bucket arithmetic over the whole u64 range,
 * precision, percentiles against exact answers, merge, bad input.
 *
 * May touch: only its own histograms.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "hist.h"

static struct iopfq_hist *new_hist(void)
{
	struct iopfq_hist *h = malloc(sizeof(*h));

	assert_non_null(h);
	assert_int_equal(iopfq_hist_init(h), 0);
	return h;
}

/* Every bucket's bounds are contiguous, contain their values, and are narrow. */
static void test_buckets(void **state)
{
	unsigned int i;

	(void)state;
	assert_int_equal(iopfq_hist_bucket(0), 0);
	assert_int_equal(iopfq_hist_bucket(255), 255);
	assert_int_equal(iopfq_hist_bucket(UINT64_MAX), IOPFQ_HIST_BUCKETS - 1);
	assert_int_equal(iopfq_hist_bucket_high(IOPFQ_HIST_BUCKETS - 1), UINT64_MAX);
	for (i = 0; i < IOPFQ_HIST_BUCKETS; i++) {
		uint64_t lo = iopfq_hist_bucket_low(i), hi = iopfq_hist_bucket_high(i);

		assert_true(lo <= hi);
		assert_int_equal(iopfq_hist_bucket(lo), i);
		assert_int_equal(iopfq_hist_bucket(hi), i);
		if (i + 1 < IOPFQ_HIST_BUCKETS)
			assert_true(iopfq_hist_bucket_low(i + 1) == hi + 1);
		/* width <= value / 128 above the exact range */
		if (lo >= 256)
			assert_true(hi - lo + 1 <= lo / 128);
	}
	assert_int_equal(iopfq_hist_bucket_low(IOPFQ_HIST_BUCKETS), 0);
	assert_true(iopfq_hist_bucket_high(IOPFQ_HIST_BUCKETS) == UINT64_MAX);
}

static void test_percentiles(void **state)
{
	struct iopfq_hist *h = new_hist();
	uint64_t v;

	(void)state;
	assert_true(iopfq_hist_percentile(h, 50.0) == 0); /* empty */
	assert_true(iopfq_hist_max(h) == 0 && iopfq_hist_min(h) == 0);
	for (v = 1; v <= 100000; v++)
		assert_int_equal(iopfq_hist_record(h, v * 10), 0);
	assert_true(iopfq_hist_count(h) == 100000);
	assert_true(iopfq_hist_min(h) == 10);
	assert_true(iopfq_hist_max(h) == 1000000);
	assert_true(iopfq_hist_percentile(h, 0.0) == 10);
	assert_true(iopfq_hist_percentile(h, 100.0) == 1000000);
	/* exact answer p% of 1..100000 (x10), within the bucket precision */
	{
		static const double ps[] = { 50.0, 90.0, 99.0, 99.9 };
		unsigned int i;

		for (i = 0; i < 4; i++) {
			double exact = ps[i] / 100.0 * 1000000.0;
			double got = (double)iopfq_hist_percentile(h, ps[i]);

			assert_true(got >= exact && got <= exact * (1.0 + 1.0 / 128.0) + 1.0);
		}
	}
	assert_true(iopfq_hist_mean(h) > 500004.0 && iopfq_hist_mean(h) < 500006.0);
	/* small values are exact */
	iopfq_hist_init(h);
	iopfq_hist_record_n(h, 7, 99);
	iopfq_hist_record(h, 200);
	assert_true(iopfq_hist_percentile(h, 99.0) == 7);
	assert_true(iopfq_hist_percentile(h, 99.5) == 200);
	free(h);
}

static void test_merge(void **state)
{
	struct iopfq_hist *a = new_hist(), *b = new_hist(), *all = new_hist();
	uint64_t x = 88172645463325252ull;
	unsigned int i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		uint64_t v;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (x & 63);
		iopfq_hist_record(i & 1 ? a : b, v);
		iopfq_hist_record(all, v);
	}
	assert_int_equal(iopfq_hist_merge(a, b), 0);
	assert_true(a->count == all->count && a->min == all->min && a->max == all->max);
	for (i = 0; i < IOPFQ_HIST_BUCKETS; i++)
		assert_true(a->counts[i] == all->counts[i]);
	assert_true(iopfq_hist_percentile(a, 99.0) == iopfq_hist_percentile(all, 99.0));
	/* merging an empty one changes nothing; self-merge refused */
	iopfq_hist_init(b);
	assert_int_equal(iopfq_hist_merge(a, b), 0);
	assert_true(a->count == all->count);
	assert_int_equal(iopfq_hist_merge(a, a), -EINVAL);
	free(a);
	free(b);
	free(all);
}

static void test_bad_input(void **state)
{
	struct iopfq_hist *h = new_hist();

	(void)state;
	assert_int_equal(iopfq_hist_init(NULL), -EINVAL);
	assert_int_equal(iopfq_hist_record(NULL, 1), -EINVAL);
	assert_int_equal(iopfq_hist_record_n(NULL, 1, 2), -EINVAL);
	assert_int_equal(iopfq_hist_merge(NULL, h), -EINVAL);
	assert_int_equal(iopfq_hist_merge(h, NULL), -EINVAL);
	iopfq_hist_record(h, 5);
	assert_true(iopfq_hist_percentile(NULL, 50.0) == 0);
	assert_true(iopfq_hist_percentile(h, -1.0) == 0);
	assert_true(iopfq_hist_percentile(h, 100.5) == 0);
	assert_true(iopfq_hist_percentile(h, 0.0 / 0.0) == 0);
	assert_true(iopfq_hist_max(NULL) == 0 && iopfq_hist_count(NULL) == 0);
	assert_true(iopfq_hist_mean(NULL) == 0.0);
	/* record_n of 0 records nothing; saturating sum */
	assert_int_equal(iopfq_hist_record_n(h, 9, 0), 0);
	assert_true(iopfq_hist_count(h) == 1);
	iopfq_hist_record_n(h, UINT64_MAX, 3);
	assert_true(h->sum == UINT64_MAX && iopfq_hist_max(h) == UINT64_MAX);
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
