/* SPDX-License-Identifier: MIT */
/*
 * test_delivery.c - the order in which iopfq_read() delivers complete
 * groups (struct iopfq_config.delivery, iopfq_set_delivery()):
 *
 *   IOPFQ_DELIVER_COMPLETION (the default, iommufd's): oldest completion
 *	first, whatever the device.
 *   IOPFQ_DELIVER_ROUND_ROBIN: one group per device with complete groups,
 *	in turn; a device that had none and gets one takes the next turn, then
 *	the round goes on. A quiet device's group is the next one read,
 *	however many the others have queued.
 *   A group that does not fit stays next (iopfq_next_group_size says its
 *	size) in both policies; the policy can change at any time and applies
 *	to the groups already queued; flush and detach leave the other
 *	devices' turn intact; iopfq_read_restore() gives the next reads the
 *	order the undone read had.
 *   Bad input: an unknown policy is -EINVAL from iopfq_config_geometry,
 *	iopfq_memsize (0), iopfq_init (memory untouched) and
 *	iopfq_set_delivery (nothing changes; a NULL queue too).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue_fixture.h"

static void open_policy(struct fx *f, iopfq_u32 max_devices, iopfq_u32 budget, iopfq_u32 policy)
{
	int err = 1;

	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.max_devices = max_devices;
	f->cfg.credit_budget = budget;
	f->cfg.delivery = policy;
	f->q = tp_queue_new(&f->cfg, &f->tp, &err);
	assert_non_null(f->q);
	assert_int_equal(err, 0);
}

/* one complete group of @npages pages of device @d (PASID 1) */
static void group_ok(struct fx *f, iopfq_dev_t d, iopfq_u32 grpid, iopfq_u32 npages)
{
	iopfq_u32 i;

	for (i = 0; i < npages; i++)
		rep_ok(f, d, 1, grpid, i + 1 == npages, ((iopfq_u64)grpid << 16) | ((iopfq_u64)i << 12));
}

/*
 * Read every queued group one at a time; write "dev_id:grpid" of each into
 * @out, space-separated, and answer each SUCCESS.
 */
static void read_order(struct fx *f, char *out, size_t len)
{
	struct iopfq_hwpt_pgfault recs[16];
	size_t at = 0;
	iopfq_u32 n;

	out[0] = 0;
	while ((n = iopfq_next_group_size(f->q)) != 0) {
		assert_true(n <= 16);
		assert_int_equal(iopfq_read(f->q, recs, n), (int)n);
		at += (size_t)snprintf(out + at, len - at, "%s%u:%u", at ? " " : "", recs[0].dev_id,
				       recs[0].grpid);
		assert_int_equal(respond1(f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	}
	assert_conserved(f);
}

/* A: 3 groups, B: 1, A: 1 more, C: 1; the order each policy reads them in */
static void queue_three_devices(struct fx *f)
{
	iopfq_dev_t a = att(f, 10, 16, NULL), b = att(f, 20, 16, NULL), c = att(f, 30, 16, NULL);

	group_ok(f, a, 1, 2);
	group_ok(f, a, 2, 1);
	group_ok(f, a, 3, 3);
	group_ok(f, b, 1, 1);
	group_ok(f, a, 4, 1);
	group_ok(f, c, 1, 2);
}

static void test_default_is_completion_order(void **state)
{
	struct fx *f = *state;
	char order[256];

	fx_open(f, 4, 64, 0, 0);
	queue_three_devices(f);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "10:1 10:2 10:3 20:1 10:4 30:1");
}

static void test_round_robin_takes_turns(void **state)
{
	struct fx *f = *state;
	char order[256];

	open_policy(f, 4, 64, IOPFQ_DELIVER_ROUND_ROBIN);
	queue_three_devices(f);
	/* B, then C, each took the next turn when it got its group; then A's */
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "30:1 20:1 10:1 10:2 10:3 10:4");
}

/*
 * A device that floods (255 credits) has 15 groups of 16 queued when a quiet
 * device's single fault completes. Read them one group per read, the way a
 * handler that resolves a group at a time does: return after how many
 * flood groups the quiet one came, checking that every group came whole
 * and the flood's in its own order.
 */
static iopfq_u32 flood_groups_before_quiet(struct fx *f, iopfq_u32 policy)
{
	struct iopfq_hwpt_pgfault recs[16];
	iopfq_dev_t flood, quiet;
	iopfq_u32 g, next = 0, before = 0, quiet_seen = 0, n;

	open_policy(f, 2, 256, policy);
	flood = att(f, 1, 255, NULL);
	quiet = att(f, 2, 1, NULL);
	for (g = 0; g < 15; g++)
		group_ok(f, flood, g, 16);
	group_ok(f, quiet, 0, 1);
	while ((n = iopfq_next_group_size(f->q)) != 0) {
		assert_int_equal(iopfq_read(f->q, recs, 16), (int)n);
		if (recs[0].dev_id == 2) {
			assert_int_equal(n, 1);
			quiet_seen = 1;
		} else {
			assert_int_equal(n, 16);
			assert_int_equal(recs[0].grpid, next++);
			before += !quiet_seen;
		}
		assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	}
	assert_true(quiet_seen);
	assert_int_equal(next, 15);
	assert_conserved(f);
	return before;
}

/* round robin: the quiet fault is the first group read, not the sixteenth */
static void test_round_robin_bounds_quiet_device(void **state)
{
	assert_int_equal(flood_groups_before_quiet(*state, IOPFQ_DELIVER_ROUND_ROBIN), 0);
}

/* completion order: the same quiet fault waits behind the whole flood */
static void test_completion_order_quiet_device_waits(void **state)
{
	assert_int_equal(flood_groups_before_quiet(*state, IOPFQ_DELIVER_COMPLETION), 15);
}

/* the device whose turn it is keeps it while its group does not fit */
static void test_round_robin_group_that_does_not_fit(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t a, b;
	struct snap s;

	open_policy(f, 2, 32, IOPFQ_DELIVER_ROUND_ROBIN);
	a = att(f, 1, 16, NULL);
	b = att(f, 2, 16, NULL);
	group_ok(f, b, 1, 1);
	group_ok(f, a, 1, 4);          /* A's turn now */
	snap_take(f, &s);
	assert_int_equal(s.next_size, 4);
	assert_int_equal(iopfq_read(f->q, recs, 3), 0);
	snap_check(f, &s);
	/* one read: A's 4, then B's 1, in turn */
	assert_int_equal(iopfq_read(f->q, recs, 5), 5);
	assert_int_equal(recs[0].dev_id, 1);
	assert_int_equal(recs[4].dev_id, 2);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[4].cookie, 0), 1);
	assert_conserved(f);
}

/*
 * Read the first group under @from (@first names it), switch to @to, read
 * the rest: the new policy applies to the groups already queued.
 */
static void switch_after_one_group(struct fx *f, iopfq_u32 from, iopfq_u32 to, const char *first,
				   const char *want)
{
	struct iopfq_hwpt_pgfault recs[16];
	char order[256];
	iopfq_u32 n;

	open_policy(f, 4, 64, from);
	queue_three_devices(f);
	n = iopfq_next_group_size(f->q);
	assert_int_equal(iopfq_read(f->q, recs, n), (int)n);
	snprintf(order, sizeof(order), "%u:%u", recs[0].dev_id, recs[0].grpid);
	assert_string_equal(order, first);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(iopfq_set_delivery(f->q, to), 0);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, want);
}

static void test_set_delivery_applies_to_queued_groups(void **state)
{
	/* reads in completion order do not pass the turn: it is still C's */
	switch_after_one_group(*state, IOPFQ_DELIVER_COMPLETION, IOPFQ_DELIVER_ROUND_ROBIN, "10:1",
			       "30:1 20:1 10:2 10:3 10:4");
}

static void test_set_delivery_back_to_completion(void **state)
{
	switch_after_one_group(*state, IOPFQ_DELIVER_ROUND_ROBIN, IOPFQ_DELIVER_COMPLETION, "30:1",
			       "10:1 10:2 10:3 20:1 10:4");
}

static void test_bad_policy_init(void **state)
{
	static const iopfq_u32 bad[] = { 2, 3, 0x80000000u, 0xffffffffu };
	static unsigned char mem[1 << 16] __attribute__((aligned(IOPFQ_MEM_ALIGN)));
	struct fx *f = *state;
	struct iopfq_config cfg = { .max_devices = 2, .credit_budget = 16 };
	struct iopfq_geometry geo, keep;
	struct iopfq *q;
	size_t i, k;

	assert_true(iopfq_memsize(&cfg) <= sizeof(mem));
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		cfg.delivery = bad[k];
		memset(&geo, 0x5a, sizeof(geo));
		keep = geo;
		assert_int_equal(iopfq_config_geometry(&cfg, &geo), -IOPFQ_EINVAL);
		assert_memory_equal(&geo, &keep, sizeof(geo));
		assert_int_equal(iopfq_memsize(&cfg), 0);
		memset(mem, 0xa5, sizeof(mem));
		q = (struct iopfq *)0x1;
		assert_int_equal(iopfq_init(mem, sizeof(mem), &cfg, &tp_ops, &f->tp, &q), -IOPFQ_EINVAL);
		assert_ptr_equal(q, (struct iopfq *)0x1);
		for (i = 0; i < sizeof(mem); i++)
			if (mem[i] != 0xa5)
				fail_msg("iopfq_init wrote byte %zu for policy %u", i, bad[k]);
	}
	/* the same configuration with a known policy is good */
	cfg.delivery = IOPFQ_DELIVER_ROUND_ROBIN;
	assert_int_equal(iopfq_config_geometry(&cfg, &geo), 0);
	assert_int_equal(iopfq_init(mem, sizeof(mem), &cfg, &tp_ops, &f->tp, &q), 0);
	assert_non_null(q);
}

static void test_bad_policy_set(void **state)
{
	struct fx *f = *state;
	struct snap s;
	char order[256];

	fx_open(f, 4, 64, 0, 0);
	queue_three_devices(f);
	snap_take(f, &s);
	assert_int_equal(iopfq_set_delivery(f->q, 2), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_set_delivery(f->q, 0xffffffffu), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_set_delivery(NULL, IOPFQ_DELIVER_ROUND_ROBIN), -IOPFQ_EINVAL);
	snap_check(f, &s);
	/* still completion order */
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "10:1 10:2 10:3 20:1 10:4 30:1");
}

/* detach of the device whose turn it is, and of one behind it */
static void test_round_robin_detach(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b, c;
	char order[256];
	size_t r0;

	open_policy(f, 4, 64, IOPFQ_DELIVER_ROUND_ROBIN);
	a = att(f, 10, 16, NULL);
	b = att(f, 20, 16, NULL);
	c = att(f, 30, 16, NULL);
	group_ok(f, a, 1, 1);
	group_ok(f, b, 1, 1);
	group_ok(f, c, 1, 1);
	group_ok(f, a, 2, 1);
	group_ok(f, b, 2, 1);
	group_ok(f, c, 2, 1);
	r0 = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	assert_int_equal(count_resp(f, r0, 10), 2);
	assert_conserved(f);
	assert_int_equal(iopfq_dev_detach(f->q, c), 0);
	assert_int_equal(count_resp(f, r0, 30), 2);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "20:1 20:2");
	/* a device attached into the freed slot takes turns as a new one */
	a = att(f, 11, 16, NULL);
	group_ok(f, a, 5, 1);
	group_ok(f, b, 3, 1);
	group_ok(f, a, 6, 1);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "20:3 11:5 11:6");
}

/* flush of one PASID of a device removes its groups from the turn, not the device's others */
static void test_round_robin_flush(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b;
	char order[256];

	open_policy(f, 2, 64, IOPFQ_DELIVER_ROUND_ROBIN);
	a = att(f, 10, 32, NULL);
	b = att(f, 20, 32, NULL);
	rep_ok(f, a, 7, 1, 1, 0x1000);
	group_ok(f, a, 2, 1);          /* PASID 1 */
	group_ok(f, b, 1, 1);
	rep_ok(f, a, 7, 3, 1, 0x3000);
	group_ok(f, b, 2, 1);
	assert_int_equal(iopfq_flush(f->q, a, 7, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_conserved(f);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "20:1 10:2 20:2");
	/* flushing every group of the device whose turn it is */
	group_ok(f, a, 4, 1);
	group_ok(f, b, 3, 1);
	assert_int_equal(iopfq_flush(f->q, a, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, "20:3");
}

/*
 * A read whose records could not be handed on is undone: under either
 * policy the next reads deliver the same groups in the same order again.
 */
static void restore_in(struct fx *f, iopfq_u32 policy)
{
	struct iopfq_hwpt_pgfault recs[16];
	iopfq_dev_t a, b;
	char order[256];

	open_policy(f, 2, 32, policy);
	a = att(f, 10, 16, NULL);
	b = att(f, 20, 16, NULL);
	group_ok(f, a, 1, 2);
	group_ok(f, a, 2, 1);
	group_ok(f, b, 1, 1);
	/* completion order reads A's two groups, round robin B's then A's first */
	assert_int_equal(iopfq_read(f->q, recs, 3), 3);
	assert_int_equal(iopfq_read_restore(f->q, recs, 3), 2);
	assert_conserved(f);
	read_order(f, order, sizeof(order));
	assert_string_equal(order, policy == IOPFQ_DELIVER_ROUND_ROBIN ? "20:1 10:1 10:2"
								       : "10:1 10:2 20:1");
}

static void test_restore_completion_order(void **state)
{
	restore_in(*state, IOPFQ_DELIVER_COMPLETION);
}

static void test_restore_round_robin(void **state)
{
	restore_in(*state, IOPFQ_DELIVER_ROUND_ROBIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_default_is_completion_order),
		T(test_round_robin_takes_turns),
		T(test_round_robin_bounds_quiet_device),
		T(test_completion_order_quiet_device_waits),
		T(test_round_robin_group_that_does_not_fit),
		T(test_set_delivery_applies_to_queued_groups),
		T(test_set_delivery_back_to_completion),
		T(test_bad_policy_init),
		T(test_bad_policy_set),
		T(test_round_robin_detach),
		T(test_round_robin_flush),
		T(test_restore_completion_order),
		T(test_restore_round_robin),
#undef T
	};

	tp_thread_online();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
