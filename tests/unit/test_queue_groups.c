/* SPDX-License-Identifier: MIT */
/*
 * test_queue_groups.c - the consumer side of the queue:
 *
 *   group assembly: pages of one (device, PASID-or-none, group index) held
 *	until the last page; interleaved groups of different group indexes,
 *	PASIDs and devices; with and without PASID are different groups.
 *   iopfq_read: whole groups in completion order, a group that does not fit
 *	stays (and iopfq_next_group_size tells its size), several groups per
 *	read, one cookie per group, every record field, -EINVAL for a NULL
 *	buffer.
 *   Stop Markers: drop only the partial pages of their (device, PASID)
 *	queued before them, count them, return their credits; later pages
 *	start a fresh group.
 *   iopfq_flush: partial pages dropped, ready and delivered groups answered
 *	INVALID (origin FLUSH) and their cookies revoked, the rest untouched;
 *	IOPFQ_FLUSH_NO_RESPONSE; requests without PASID; bad arguments.
 *   iopfq_age_scan: each pending group reported once, with where/cookie/age,
 *	never completed.
 *   Wake-up: iopfq_prepare_sleep / notify / iopfq_finish_sleep.
 *   The counters through a group's life, the ring across 2^32 positions,
 *	conservation at every quiescent point; a drain pass takes at most the
 *	requests claimed when it finds its second one.
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

/* ---------------------------------------------------------------------- */
/* more helpers                                                            */

static int ctx_a, ctx_b;

static void rep_nopasid_ok(struct fx *f, iopfq_dev_t d, iopfq_u32 grpid, int last,
			   iopfq_u64 addr)
{
	struct iopfq_request r = req_nopasid(grpid, last, addr);

	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
}

static void rep_marker_ok(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid)
{
	struct iopfq_request m = tp_marker(pasid);

	assert_int_equal(tp_report(f->q, d, &m, NULL), 0);
}

/* Check one group of @n records at @recs: common fields, addresses in order */
static void assert_group(const struct iopfq_hwpt_pgfault *recs, iopfq_u32 n, iopfq_u32 dev_id,
			 int pasid_valid, iopfq_u32 pasid, iopfq_u32 grpid,
			 const iopfq_u64 *addrs)
{
	iopfq_u32 i, pv = pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0;

	for (i = 0; i < n; i++) {
		assert_int_equal(recs[i].dev_id, dev_id);
		assert_int_equal(recs[i].pasid, pasid);
		assert_int_equal(recs[i].grpid, grpid);
		assert_int_equal(recs[i].flags,
				 pv | (i + 1 == n ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0));
		assert_int_equal(recs[i].__reserved, 0);
		assert_int_equal(recs[i].length, 0);
		assert_int_not_equal(recs[i].cookie, 0);
		assert_int_equal(recs[i].cookie, recs[0].cookie);
		if (addrs)
			assert_int_equal(recs[i].addr, addrs[i]);
	}
}

/* The cookie of the group (dev_id, pasid, grpid) among @n records */
static iopfq_u32 cookie_of(const struct iopfq_hwpt_pgfault *recs, int n, iopfq_u32 dev_id,
			   iopfq_u32 pasid, iopfq_u32 grpid)
{
	int i;

	for (i = 0; i < n; i++)
		if (recs[i].dev_id == dev_id && recs[i].pasid == pasid && recs[i].grpid == grpid)
			return recs[i].cookie;
	fail_msg("no record for dev %u pasid %u grp %u", dev_id, pasid, grpid);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* group assembly                                                          */

static void test_group_held_until_last_page(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 addrs[] = { 0x1000, 0x2000, 0x3000, 0x4000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;
	int i;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	for (i = 0; i < 3; i++) {
		rep_ok(f, d, 9, 17, 0, addrs[i]);
		assert_int_equal(iopfq_next_group_size(f->q), 0);
		assert_int_equal(iopfq_read(f->q, recs, 8), 0);
		assert_int_equal(iopfq_poll_ready(f->q), 0);
		assert_int_equal(cnt(f).partial, (iopfq_u64)i + 1);
		assert_int_equal(cnt(f).ready, 0);
		assert_conserved(f);
	}
	rep_ok(f, d, 9, 17, 1, addrs[3]);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	assert_int_equal(cnt(f).partial, 0);
	assert_int_equal(cnt(f).ready, 4);
	assert_int_equal(iopfq_next_group_size(f->q), 4);
	assert_int_equal(iopfq_read(f->q, recs, 8), 4);
	assert_group(recs, 4, 100, 1, 9, 17, addrs);
	assert_int_equal(iopfq_read(f->q, recs, 8), 0);
	assert_int_equal(cnt(f).delivered, 4);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_conserved(f);
}

/* Every field of every record: perm and addr per page, zeroed reserved/length */
static void test_read_record_fields(void **state)
{
	struct fx *f = *state;
	static const iopfq_u32 perms[] = {
		IOPFQ_PGFAULT_PERM_READ,
		IOPFQ_PGFAULT_PERM_WRITE | IOPFQ_PGFAULT_PERM_PRIV,
		IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_EXEC,
	};
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_request r;
	iopfq_dev_t d;
	int i;

	fx_open(f, 2, 4, 0, 2);
	att(f, 5, 1, NULL);
	d = att(f, 0xabcdef01u, 3, NULL);
	for (i = 0; i < 3; i++) {
		r = tp_req(IOPFQ_PASID_MAX, IOPFQ_GRPID_MAX, i == 2,
			   0xfedcba9876543000ull + (iopfq_u64)i * 0x1000);
		r.perm = perms[i];
		assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	}
	memset(recs, 0xff, sizeof(recs));
	assert_int_equal(iopfq_read(f->q, recs, 4), 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(recs[i].dev_id, 0xabcdef01u);
		assert_int_equal(recs[i].pasid, IOPFQ_PASID_MAX);
		assert_int_equal(recs[i].grpid, IOPFQ_GRPID_MAX);
		assert_int_equal(recs[i].perm, perms[i]);
		assert_int_equal(recs[i].addr, 0xfedcba9876543000ull + (iopfq_u64)i * 0x1000);
		assert_int_equal(recs[i].__reserved, 0);
		assert_int_equal(recs[i].length, 0);
		assert_int_equal(recs[i].cookie, recs[0].cookie);
		assert_int_equal(recs[i].flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID |
				 (i == 2 ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0));
	}
	assert_int_not_equal(recs[0].cookie, 0);
	/* the slot after the group was not written */
	assert_int_equal(recs[3].flags, 0xffffffffu);
	assert_int_equal(recs[3].cookie, 0xffffffffu);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_conserved(f);
}

/* A group without PASID reads with pasid 0 and no PASID_VALID */
static void test_read_record_no_pasid(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 addrs[] = { 0x7000, 0x8000 };
	struct iopfq_hwpt_pgfault recs[2];
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 42, 2, NULL);
	rep_nopasid_ok(f, d, 3, 0, addrs[0]);
	rep_nopasid_ok(f, d, 3, 1, addrs[1]);
	assert_int_equal(iopfq_read(f->q, recs, 2), 2);
	assert_group(recs, 2, 42, 0, 0, 3, addrs);
	assert_int_equal(recs[0].flags, 0);
	assert_int_equal(recs[1].flags, IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_conserved(f);
}

static void test_groups_interleaved_grpid(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 a1[] = { 0x1000, 0x3000, 0x5000 }, a2[] = { 0x2000, 0x4000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 100, 8, NULL);
	rep_ok(f, d, 1, 10, 0, 0x1000);
	rep_ok(f, d, 1, 20, 0, 0x2000);
	rep_ok(f, d, 1, 10, 0, 0x3000);
	rep_ok(f, d, 1, 20, 1, 0x4000); /* grp 20 completes first */
	assert_int_equal(iopfq_next_group_size(f->q), 2);
	rep_ok(f, d, 1, 10, 1, 0x5000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 5);
	assert_group(&recs[0], 2, 100, 1, 1, 20, a2);
	assert_group(&recs[2], 3, 100, 1, 1, 10, a1);
	assert_int_not_equal(recs[0].cookie, recs[2].cookie);
	assert_int_equal(drain_all(f), 0);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_conserved(f);
}

static void test_groups_interleaved_pasid(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 p1[] = { 0x1000, 0x3000, 0x5000 }, p2[] = { 0x2000, 0x4000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 100, 8, NULL);
	rep_ok(f, d, 1, 5, 0, 0x1000);
	rep_ok(f, d, 2, 5, 0, 0x2000);
	rep_ok(f, d, 1, 5, 0, 0x3000);
	rep_ok(f, d, 2, 5, 1, 0x4000);
	rep_ok(f, d, 1, 5, 1, 0x5000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 5);
	assert_group(&recs[0], 2, 100, 1, 2, 5, p2);
	assert_group(&recs[2], 3, 100, 1, 1, 5, p1);
	assert_int_not_equal(recs[0].cookie, recs[2].cookie);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_conserved(f);
}

static void test_groups_interleaved_devices(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 aa[] = { 0x1000, 0x3000 }, ab[] = { 0x2000, 0x4000, 0x5000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t a, b;

	fx_open(f, 2, 8, 0, 2);
	a = att(f, 100, 4, NULL);
	b = att(f, 200, 4, NULL);
	rep_ok(f, a, 1, 5, 0, 0x1000);
	rep_ok(f, b, 1, 5, 0, 0x2000);
	rep_ok(f, a, 1, 5, 1, 0x3000);
	rep_ok(f, b, 1, 5, 0, 0x4000);
	rep_ok(f, b, 1, 5, 1, 0x5000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 5);
	assert_group(&recs[0], 2, 100, 1, 1, 5, aa);
	assert_group(&recs[2], 3, 200, 1, 1, 5, ab);
	assert_int_not_equal(recs[0].cookie, recs[2].cookie);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_conserved(f);
}

/* (grp 5, no PASID) and (grp 5, PASID 0) are two groups */
static void test_group_pasid_vs_no_pasid(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 np[] = { 0x1000, 0x4000 }, wp[] = { 0x2000, 0x3000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_nopasid_ok(f, d, 5, 0, 0x1000);
	rep_ok(f, d, 0, 5, 0, 0x2000);
	rep_ok(f, d, 0, 5, 1, 0x3000);
	assert_int_equal(iopfq_next_group_size(f->q), 2);
	assert_int_equal(cnt(f).partial, 1);
	assert_int_equal(iopfq_read(f->q, recs, 8), 2);
	assert_group(recs, 2, 100, 1, 0, 5, wp);
	rep_nopasid_ok(f, d, 5, 1, 0x4000);
	assert_int_equal(iopfq_read(f->q, &recs[2], 6), 2);
	assert_group(&recs[2], 2, 100, 0, 0, 5, np);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* read                                                                    */

static void test_read_completion_order(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 100, 8, NULL);
	rep_ok(f, d, 1, 1, 0, 0xa000); /* A starts first */
	rep_ok(f, d, 1, 2, 0, 0xb000); /* then B */
	rep_ok(f, d, 1, 3, 1, 0xc000); /* C completes first */
	rep_ok(f, d, 1, 1, 1, 0xa001); /* then A */
	rep_ok(f, d, 1, 2, 1, 0xb001); /* then B */
	assert_int_equal(iopfq_read(f->q, recs, 8), 5);
	assert_int_equal(recs[0].grpid, 3);
	assert_int_equal(recs[1].grpid, 1);
	assert_int_equal(recs[2].grpid, 1);
	assert_int_equal(recs[3].grpid, 2);
	assert_int_equal(recs[4].grpid, 2);
	assert_int_equal(recs[1].addr, 0xa000);
	assert_int_equal(recs[2].addr, 0xa001);
	assert_int_equal(drain_all(f), 0);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[3].cookie, 0), 1);
	assert_conserved(f);
}

static void test_read_group_does_not_fit(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 addrs[] = { 0x1000, 0x2000, 0x3000 };
	struct iopfq_hwpt_pgfault recs[4];
	struct snap s;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	rep_ok(f, d, 1, 1, 1, 0x3000);
	snap_take(f, &s);
	assert_int_equal(s.next_size, 3);
	memset(recs, 0xee, sizeof(recs));
	assert_int_equal(iopfq_read(f->q, recs, 2), 0);
	assert_int_equal(iopfq_read(f->q, recs, 1), 0);
	assert_int_equal(recs[0].cookie, 0xeeeeeeeeu); /* nothing written */
	assert_int_equal(recs[0].flags, 0xeeeeeeeeu);
	snap_check(f, &s);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	assert_int_equal(iopfq_read(f->q, recs, 3), 3);
	assert_group(recs, 3, 100, 1, 1, 1, addrs);
	assert_int_equal(iopfq_next_group_size(f->q), 0);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_conserved(f);
}

/* Sizes 1, 2, 1: room for 2 takes only the first; whole groups, in order */
static void test_read_several_groups(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 100, 8, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	rep_ok(f, d, 1, 2, 0, 0x2000);
	rep_ok(f, d, 1, 2, 1, 0x2001);
	rep_ok(f, d, 1, 3, 1, 0x3000);
	assert_int_equal(iopfq_read(f->q, recs, 2), 1);
	assert_int_equal(recs[0].grpid, 1);
	assert_int_equal(cnt(f).groups_delivered, 1);
	assert_int_equal(iopfq_next_group_size(f->q), 2);
	assert_int_equal(iopfq_read(f->q, &recs[1], 7), 3);
	assert_int_equal(recs[1].grpid, 2);
	assert_int_equal(recs[2].grpid, 2);
	assert_int_equal(recs[3].grpid, 3);
	assert_int_equal(cnt(f).groups_delivered, 3);
	assert_int_equal(cnt(f).delivered, 4);
	/* one cookie per group, distinct */
	assert_int_equal(recs[1].cookie, recs[2].cookie);
	assert_int_not_equal(recs[0].cookie, recs[1].cookie);
	assert_int_not_equal(recs[0].cookie, recs[3].cookie);
	assert_int_not_equal(recs[1].cookie, recs[3].cookie);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[3].cookie, 0), 1);
	assert_conserved(f);
}

static void test_read_null_buffer(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	snap_take(f, &s);
	assert_int_equal(iopfq_read(f->q, NULL, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_read(f->q, NULL, 40), -IOPFQ_EINVAL);
	snap_check(f, &s);
	assert_int_equal(iopfq_read(f->q, NULL, 0), 0);
	snap_check(f, &s);
	assert_int_equal(drain_all(f), 1);
	assert_conserved(f);
}

static void test_read_max_zero(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault rec;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	snap_take(f, &s);
	assert_int_equal(iopfq_read(f->q, &rec, 0), 0);
	snap_check(f, &s);
	assert_int_equal(drain_all(f), 1);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* Stop Markers                                                            */

/*
 * Device A (6 credits): pasid 1 grp 1 partial x2 (stale), pasid 2 partial,
 * a no-PASID partial, a complete pasid 1 group; device B: pasid 1 partial.
 * A marker for (A, pasid 1) drops exactly the two stale pages.
 */
static void test_marker_discards_partial_of_pasid(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	struct iopfq_counters before, c;
	iopfq_dev_t a, b;

	fx_open(f, 2, 10, 0, 2);
	a = att(f, 100, 6, NULL);
	b = att(f, 200, 4, NULL);
	rep_ok(f, a, 1, 1, 0, 0x1000);
	rep_ok(f, a, 1, 1, 0, 0x2000);
	rep_ok(f, a, 2, 1, 0, 0x3000);
	rep_nopasid_ok(f, a, 1, 0, 0x4000);
	rep_ok(f, a, 1, 2, 1, 0x5000);
	rep_ok(f, b, 1, 1, 0, 0x6000);
	assert_int_equal(rep(f, a, 1, 9, 0, 0x7000), 0); /* A's last credit */
	assert_int_equal(rep(f, a, 1, 9, 0, 0x7001), -IOPFQ_EDQUOT);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	before = cnt(f);
	assert_int_equal(before.partial, 6);

	rep_marker_ok(f, a, 1);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	c = cnt(f);
	before.markers_accepted++;
	before.partial -= 3;
	before.discarded += 3;
	before.discarded_by_marker += 3;
	assert_counters_eq(&c, &before);
	assert_int_equal(f->tp.nresp, 0);
	assert_conserved(f);

	/* their credits are back: A takes 3 more pages */
	rep_ok(f, a, 3, 7, 0, 0x8000);
	rep_ok(f, a, 3, 7, 0, 0x9000);
	rep_ok(f, a, 3, 7, 1, 0xa000);
	assert_int_equal(rep(f, a, 3, 8, 1, 0xb000), -IOPFQ_EDQUOT);

	/* the complete pasid 1 group survived, then the new pasid 3 one */
	assert_int_equal(iopfq_read(f->q, recs, 8), 4);
	assert_int_equal(recs[0].pasid, 1);
	assert_int_equal(recs[0].grpid, 2);
	assert_int_equal(recs[1].pasid, 3);
	assert_int_equal(cnt(f).partial, 3); /* A pasid 2, A no-PASID, B pasid 1 */
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);

	/* the survivors complete with their earlier pages */
	rep_ok(f, a, 2, 1, 1, 0x3001);
	rep_nopasid_ok(f, a, 1, 1, 0x4001);
	rep_ok(f, b, 1, 1, 1, 0x6001);
	assert_int_equal(iopfq_read(f->q, recs, 8), 6);
	assert_int_equal(recs[0].addr, 0x3000);
	assert_int_equal(recs[2].addr, 0x4000);
	assert_int_equal(recs[4].addr, 0x6000);
	assert_int_equal(recs[4].dev_id, 200);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[4].cookie, 0), 1);
	assert_int_equal(cnt(f).discarded_by_marker, 3);
	assert_conserved(f);
}

/* Pages after the marker (same pasid, same group index) start a new group */
static void test_marker_later_pages_start_fresh(void **state)
{
	struct fx *f = *state;
	static const iopfq_u64 fresh[] = { 0x3000, 0x4000 };
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	rep_marker_ok(f, d, 1);    /* all three in the ring, not yet drained */
	rep_ok(f, d, 1, 1, 0, 0x3000);
	rep_ok(f, d, 1, 1, 1, 0x4000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 2);
	assert_group(recs, 2, 100, 1, 1, 1, fresh);
	assert_int_equal(cnt(f).discarded_by_marker, 2);
	assert_int_equal(cnt(f).discarded, 2);
	assert_int_equal(cnt(f).markers_accepted, 1);
	assert_int_equal(f->tp.nresp, 0);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(f->tp.resp[0].npages, 2);
	assert_conserved(f);
}

/* A marker for PASID 0 does not touch requests without PASID */
static void test_marker_pasid0_spares_no_pasid(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[4];
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_nopasid_ok(f, d, 4, 0, 0x1000);
	rep_ok(f, d, 0, 4, 0, 0x2000);
	rep_marker_ok(f, d, 0);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(cnt(f).discarded_by_marker, 1);
	assert_int_equal(cnt(f).partial, 1);
	rep_nopasid_ok(f, d, 4, 1, 0x3000);
	assert_int_equal(iopfq_read(f->q, recs, 4), 2);
	assert_int_equal(recs[0].addr, 0x1000);
	assert_int_equal(recs[0].flags, 0);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_conserved(f);
}

/* Delivered groups of the PASID are not the marker's business either */
static void test_marker_spares_delivered(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	iopfq_u32 cookie;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	cookie = read_group(f, 1);
	rep_marker_ok(f, d, 1);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(cnt(f).discarded, 0);
	assert_int_equal(cnt(f).delivered, 1);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_INVALID), 1);
	assert_int_equal(f->tp.resp[0].code, IOPFQ_HW_INVALID);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* flush                                                                   */

/*
 * A (id 10): delivered (p1 g1, 2 pages), (p2 g1), (no PASID g1); ready
 * (p1 g2), (p2 g2); partial (p1 g3), (p2 g3), (no PASID g2).
 * B (id 20): delivered (p1 g1), ready (p1 g2), partial (p1 g3).
 * flush(A, pasid 1) answers A's p1 g1 and p1 g2, drops p1 g3, nothing else.
 */
static void test_flush_pasid(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[16];
	const struct iopfq_response *r;
	struct iopfq_counters before, c;
	iopfq_u32 ca_p1, ca_p2, ca_np, cb_p1;
	iopfq_dev_t a, b;
	unsigned long syncs;
	int n, i;

	fx_open(f, 2, 16, 0, 2);
	a = att(f, 10, 12, &ctx_a);
	b = att(f, 20, 4, &ctx_b);
	rep_ok(f, a, 1, 1, 0, 0x1000);
	rep_ok(f, a, 1, 1, 1, 0x1001);
	rep_ok(f, a, 2, 1, 1, 0x2000);
	rep_nopasid_ok(f, a, 1, 1, 0x3000);
	rep_ok(f, b, 1, 1, 1, 0x4000);
	n = iopfq_read(f->q, recs, 16);
	assert_int_equal(n, 5);
	ca_p1 = cookie_of(recs, n, 10, 1, 1);
	ca_p2 = cookie_of(recs, n, 10, 2, 1);
	ca_np = recs[3].cookie;
	assert_int_equal(recs[3].flags, IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	cb_p1 = cookie_of(recs, n, 20, 1, 1);
	rep_ok(f, a, 1, 2, 1, 0x5000);
	rep_ok(f, a, 1, 3, 0, 0x6000);
	rep_ok(f, a, 2, 2, 1, 0x7000);
	rep_ok(f, a, 2, 3, 0, 0x8000);
	rep_nopasid_ok(f, a, 2, 0, 0x9000);
	rep_ok(f, b, 1, 2, 1, 0xa000);
	rep_ok(f, b, 1, 3, 0, 0xb000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	before = cnt(f);
	syncs = f->tp.synchronizes;

	assert_int_equal(iopfq_flush(f->q, a, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_true(f->tp.synchronizes > syncs);
	assert_int_equal(f->tp.nresp, 2);
	assert_int_equal(count_resp(f, 0, 20), 0);
	r = find_resp(f, 0, 10, 1, 1);
	assert_non_null(r);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(r->origin, IOPFQ_ANSWER_FLUSH);
	assert_int_equal(r->npages, 2);
	assert_int_equal(r->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	assert_ptr_equal(r->dev_ctx, &ctx_a);
	r = find_resp(f, 0, 10, 1, 2);
	assert_non_null(r);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(r->origin, IOPFQ_ANSWER_FLUSH);
	assert_int_equal(r->npages, 1);
	assert_ptr_equal(r->dev_ctx, &ctx_a);

	c = cnt(f);
	before.auto_answered += 3;
	before.groups_auto_answered += 2;
	before.discarded += 1;
	before.partial -= 1;
	before.ready -= 1;
	before.delivered -= 2;
	assert_counters_eq(&c, &before);
	assert_conserved(f);

	/* the flushed cookie is revoked; the others still answer */
	assert_int_equal(respond1(f, ca_p1, 0), -IOPFQ_EINVAL);
	assert_int_equal(respond1(f, ca_p2, 0), 1);
	assert_int_equal(respond1(f, ca_np, 0), 1);
	assert_int_equal(respond1(f, cb_p1, 0), 1);
	assert_int_equal(f->tp.nresp, 5);
	for (i = 2; i < 5; i++)
		assert_int_equal(f->tp.resp[i].origin, IOPFQ_ANSWER_USER);

	/* the other ready groups read; the other partial pages complete */
	rep_ok(f, a, 2, 3, 1, 0x8001);
	rep_nopasid_ok(f, a, 2, 1, 0x9001);
	rep_ok(f, b, 1, 3, 1, 0xb001);
	n = iopfq_read(f->q, recs, 16);
	assert_int_equal(n, 8);
	assert_int_equal(recs[0].pasid, 2);
	assert_int_equal(recs[0].grpid, 2);
	assert_int_equal(recs[1].dev_id, 20);
	assert_int_equal(recs[1].grpid, 2);
	assert_int_equal(recs[2].addr, 0x8000);
	assert_int_equal(recs[4].addr, 0x9000);
	assert_int_equal(recs[6].addr, 0xb000);
	for (i = 0; i < n; i++)
		assert_false(recs[i].dev_id == 10 && recs[i].pasid == 1 &&
			     (recs[i].flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID));
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[4].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[6].cookie, 0), 1);
	assert_conserved(f);

	/* A's 12 credits are all free again */
	for (i = 0; i < 11; i++)
		rep_ok(f, a, 1, 3, 0, 0x10000 + (iopfq_u64)i);
	rep_ok(f, a, 1, 3, 1, 0x20000);
	assert_int_equal(rep(f, a, 1, 4, 1, 0x30000), -IOPFQ_EDQUOT);
	assert_int_equal(iopfq_next_group_size(f->q), 12);
}

/*
 * Victims at the head, in the middle and at the tail of the ready FIFO and
 * of the device's partial list: the survivors keep their order and both
 * lists take new groups afterwards.
 */
static void test_flush_keeps_lists_intact(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[16];
	iopfq_dev_t d;
	iopfq_u32 i;

	fx_open(f, 1, 16, 0, 2);
	d = att(f, 10, 16, NULL);
	/* ready: 1 2 1 2 1 (pasid), grp = position */
	for (i = 0; i < 5; i++)
		rep_ok(f, d, 1 + (i & 1), i, 1, 0x1000 + i);
	/* partial: same pattern, grp 10 + position */
	for (i = 0; i < 5; i++)
		rep_ok(f, d, 1 + (i & 1), 10 + i, 0, 0x2000 + i);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_int_equal(f->tp.nresp, 3);
	assert_int_equal(cnt(f).discarded, 3);
	assert_int_equal(cnt(f).ready, 2);
	assert_int_equal(cnt(f).partial, 2);
	assert_conserved(f);

	/* new groups append behind the survivors; partial survivors complete */
	rep_ok(f, d, 3, 20, 1, 0x3000);
	rep_ok(f, d, 2, 11, 1, 0x2100);
	rep_ok(f, d, 2, 13, 1, 0x2300);
	rep_ok(f, d, 3, 21, 0, 0x3100);
	rep_ok(f, d, 1, 10, 1, 0x2400); /* pasid 1 grp 10 starts fresh: 1 page */
	assert_int_equal(iopfq_read(f->q, recs, 16), 8);
	assert_int_equal(recs[0].grpid, 1);
	assert_int_equal(recs[1].grpid, 3);
	assert_int_equal(recs[2].grpid, 20);
	assert_int_equal(recs[3].grpid, 11);
	assert_int_equal(recs[3].addr, 0x2001);
	assert_int_equal(recs[5].grpid, 13);
	assert_int_equal(recs[5].addr, 0x2003);
	assert_int_equal(recs[7].grpid, 10);
	assert_int_equal(recs[7].addr, 0x2400);
	assert_int_equal(recs[7].flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID |
			 IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	for (i = 0; i < 8; i++)
		if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
			assert_int_equal(respond1(f, recs[i].cookie, 0), 1);
	assert_int_equal(cnt(f).partial, 1);
	assert_conserved(f);
}

/* The same for a marker and the device's partial list */
static void test_marker_keeps_partial_list_intact(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[16];
	iopfq_dev_t d;
	iopfq_u32 i;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 10, 8, NULL);
	for (i = 0; i < 5; i++)
		rep_ok(f, d, 1 + (i & 1), i, 0, 0x1000 + i);
	rep_marker_ok(f, d, 1);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(cnt(f).discarded_by_marker, 3);
	assert_int_equal(cnt(f).partial, 2);
	rep_ok(f, d, 1, 7, 0, 0x4000);
	rep_ok(f, d, 2, 3, 1, 0x3100);
	rep_ok(f, d, 2, 1, 1, 0x1100);
	rep_ok(f, d, 1, 7, 1, 0x4100);
	assert_int_equal(iopfq_read(f->q, recs, 16), 6);
	assert_int_equal(recs[0].addr, 0x1003);
	assert_int_equal(recs[2].addr, 0x1001);
	assert_int_equal(recs[4].addr, 0x4000);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[2].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[4].cookie, 0), 1);
	assert_int_equal(cnt(f).partial, 0);
	assert_conserved(f);
}

/* Requests still in the ring are flushed too */
static void test_flush_drains_ring(void **state)
{
	struct fx *f = *state;
	const struct iopfq_response *r;
	struct iopfq_counters c;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, &ctx_a);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	rep_ok(f, d, 1, 2, 1, 0x3000);
	rep_ok(f, d, 2, 2, 1, 0x4000);
	assert_int_equal(cnt(f).in_ring, 4);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	c = cnt(f);
	assert_int_equal(c.in_ring, 0);
	assert_int_equal(c.discarded, 2);
	assert_int_equal(c.auto_answered, 1);
	assert_int_equal(c.ready, 1);
	assert_int_equal(f->tp.nresp, 1);
	r = find_resp(f, 0, 10, 1, 2);
	assert_non_null(r);
	assert_int_equal(r->origin, IOPFQ_ANSWER_FLUSH);
	assert_conserved(f);
	/* 3 credits came back */
	rep_ok(f, d, 1, 1, 0, 0x5000);
	rep_ok(f, d, 1, 1, 0, 0x6000);
	rep_ok(f, d, 1, 1, 1, 0x7000);
	assert_int_equal(rep(f, d, 1, 1, 1, 0x8000), -IOPFQ_EDQUOT);
	assert_int_equal(drain_all(f), 4);
	assert_conserved(f);
}

static void test_flush_no_response(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_counters before, c;
	iopfq_u32 cookie;
	iopfq_dev_t d;
	unsigned long syncs;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 10, 6, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 1, 0x2000);
	cookie = read_group(f, 2);          /* delivered, 2 pages */
	rep_ok(f, d, 1, 2, 1, 0x3000);      /* ready */
	rep_ok(f, d, 1, 3, 0, 0x4000);      /* partial */
	rep_ok(f, d, 2, 2, 1, 0x5000);      /* another PASID */
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	before = cnt(f);
	syncs = f->tp.synchronizes;
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE), 0);
	assert_true(f->tp.synchronizes > syncs);
	assert_int_equal(f->tp.nresp, 0);
	c = cnt(f);
	before.discarded += 4;
	before.delivered -= 2;
	before.ready -= 1;
	before.partial -= 1;
	assert_counters_eq(&c, &before);
	assert_conserved(f);
	assert_int_equal(respond1(f, cookie, 0), -IOPFQ_EINVAL);
	assert_int_equal(f->tp.nresp, 0);
	assert_int_equal(iopfq_read(f->q, recs, 4), 1);
	assert_int_equal(recs[0].pasid, 2);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	/* all 6 credits free again */
	rep_ok(f, d, 1, 3, 0, 0x6000);
	rep_ok(f, d, 1, 3, 0, 0x6001);
	rep_ok(f, d, 1, 3, 0, 0x6002);
	rep_ok(f, d, 1, 3, 0, 0x6003);
	rep_ok(f, d, 1, 3, 0, 0x6004);
	rep_ok(f, d, 1, 3, 1, 0x6005);
	assert_int_equal(rep(f, d, 1, 4, 1, 0x7000), -IOPFQ_EDQUOT);
	assert_int_equal(drain_all(f), 6);
	assert_conserved(f);
}

/* pasid_valid 0: only the requests without PASID */
static void test_flush_no_pasid(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[4];
	const struct iopfq_response *r;
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 10, 8, NULL);
	rep_nopasid_ok(f, d, 1, 1, 0x1000);  /* ready, no PASID */
	rep_nopasid_ok(f, d, 2, 0, 0x2000);  /* partial, no PASID */
	rep_ok(f, d, 0, 1, 1, 0x3000);       /* ready, PASID 0 */
	rep_ok(f, d, 0, 2, 0, 0x4000);       /* partial, PASID 0 */
	assert_int_equal(iopfq_flush(f->q, d, 0, 0), 0);
	assert_int_equal(f->tp.nresp, 1);
	r = &f->tp.resp[0];
	assert_int_equal(r->flags, 0);
	assert_int_equal(r->pasid, 0);
	assert_int_equal(r->grpid, 1);
	assert_int_equal(r->origin, IOPFQ_ANSWER_FLUSH);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(cnt(f).discarded, 1);
	assert_int_equal(cnt(f).partial, 1);
	rep_ok(f, d, 0, 2, 1, 0x4001);
	assert_int_equal(iopfq_read(f->q, recs, 4), 3);
	assert_int_equal(recs[0].addr, 0x3000);
	assert_int_equal(recs[0].flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID |
			 IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	assert_int_equal(recs[1].addr, 0x4000);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);
	assert_conserved(f);
}

/* Flushing a PASID with nothing queued is a no-op that still succeeds */
static void test_flush_nothing(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	snap_take(f, &s);
	assert_int_equal(iopfq_flush(f->q, d, 2, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_int_equal(iopfq_flush(f->q, d, IOPFQ_PASID_MAX, IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE), 0);
	assert_int_equal(iopfq_flush(f->q, d, 0, 0), 0);
	snap_check(f, &s);
	assert_int_equal(drain_all(f), 1);
}

static void test_flush_bad_flags(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	iopfq_u32 cookie;
	struct snap s;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	cookie = read_group(f, 1);
	rep_ok(f, d, 1, 2, 1, 0x2000);
	rep_ok(f, d, 1, 3, 0, 0x3000);
	snap_take(f, &s);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID | 1u << 2), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE | (1u << 31)),
			 -IOPFQ_EINVAL);
	assert_int_equal(f->tp.synchronizes, s.synchronizes);
	snap_check(f, &s);
	assert_int_equal(respond1(f, cookie, 0), 1);
	assert_int_equal(drain_all(f), 1);
}

static void test_flush_bad_pasid(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	iopfq_u32 cookie;
	struct snap s;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	rep_nopasid_ok(f, d, 1, 1, 0x1000);
	cookie = read_group(f, 1);
	rep_ok(f, d, 1, 2, 1, 0x2000);
	rep_nopasid_ok(f, d, 3, 0, 0x3000);
	snap_take(f, &s);
	assert_int_equal(iopfq_flush(f->q, d, IOPFQ_PASID_MAX + 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_flush(f->q, d, 0xffffffffu, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_flush(f->q, d, 1, 0), -IOPFQ_EINVAL); /* no PASID: pasid 0 */
	assert_int_equal(f->tp.synchronizes, s.synchronizes);
	snap_check(f, &s);
	assert_int_equal(respond1(f, cookie, 0), 1);
	assert_int_equal(drain_all(f), 1);
}

static void test_flush_bad_handle(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 2, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	rep_ok(f, d, 1, 2, 0, 0x2000);
	snap_take(f, &s);
	assert_int_equal(iopfq_flush(f->q, 0, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_flush(f->q, d + 1, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_flush(f->q, d ^ (1u << 12), 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_flush(f->q, 0xffffffffu, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(f->tp.synchronizes, s.synchronizes);
	snap_check(f, &s);
	assert_int_equal(drain_all(f), 1);
}

/* ---------------------------------------------------------------------- */
/* aging                                                                   */

static const struct iopfq_aged *find_aged(struct fx *f, size_t from, iopfq_u32 grpid)
{
	const struct iopfq_aged *hit = NULL;
	size_t i;

	for (i = from; i < f->tp.naged; i++) {
		if (f->tp.aged[i].grpid == grpid) {
			assert_null(hit); /* once per group */
			hit = &f->tp.aged[i];
		}
	}
	return hit;
}

/*
 * At t = 1000: a delivered group (grp 1), a ready group of 2 (grp 2) and a
 * partial page (grp 3), all drained at 1000. Threshold 500.
 */
static iopfq_u32 aging_setup(struct fx *f, iopfq_dev_t *dp)
{
	iopfq_dev_t d;
	iopfq_u32 cookie;

	fx_open(f, 1, 8, 0, 2);
	d = att(f, 77, 8, NULL);
	tp_set_now(&f->tp, 1000);
	rep_ok(f, d, 4, 1, 1, 0x1000);
	cookie = read_group(f, 1);
	rep_ok(f, d, 4, 2, 0, 0x2000);
	rep_ok(f, d, 4, 2, 1, 0x2001);
	rep_ok(f, d, 4, 3, 0, 0x3000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	*dp = d;
	return cookie;
}

static void test_age_scan_reports_each_once(void **state)
{
	struct fx *f = *state;
	const struct iopfq_aged *a;
	struct iopfq_counters before, c;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	cookie = aging_setup(f, &d);
	before = cnt(f);
	tp_set_now(&f->tp, 1499);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	assert_int_equal(f->tp.naged, 0);

	tp_set_now(&f->tp, 1500);
	assert_int_equal(iopfq_age_scan(f->q, 500), 3);
	assert_int_equal(f->tp.naged, 3);
	a = find_aged(f, 0, 1);
	assert_non_null(a);
	assert_int_equal(a->where, IOPFQ_GROUP_DELIVERED);
	assert_int_equal(a->cookie, cookie);
	assert_int_equal(a->npages, 1);
	assert_int_equal(a->age_ns, 500);
	assert_int_equal(a->dev_id, 77);
	assert_int_equal(a->pasid, 4);
	assert_int_equal(a->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	a = find_aged(f, 0, 2);
	assert_non_null(a);
	assert_int_equal(a->where, IOPFQ_GROUP_READY);
	assert_int_equal(a->cookie, 0);
	assert_int_equal(a->npages, 2);
	assert_int_equal(a->age_ns, 500);
	assert_int_equal(a->dev_id, 77);
	assert_int_equal(a->pasid, 4);
	assert_int_equal(a->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	a = find_aged(f, 0, 3);
	assert_non_null(a);
	assert_int_equal(a->where, IOPFQ_GROUP_PARTIAL);
	assert_int_equal(a->cookie, 0);
	assert_int_equal(a->npages, 1);
	assert_int_equal(a->age_ns, 500);

	c = cnt(f);
	before.aged_warnings += 3;
	assert_counters_eq(&c, &before);

	/* once each: not again, however old they get */
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	tp_set_now(&f->tp, 1000000000);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	assert_int_equal(iopfq_age_scan(f->q, 0), 0);
	assert_int_equal(f->tp.naged, 3);
	c = cnt(f);
	assert_counters_eq(&c, &before);
	assert_int_equal(f->tp.nresp, 0);
	assert_conserved(f);
}

/* Aging never completes a group: all three still read / answer afterwards */
static void test_age_scan_never_completes(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[4];
	iopfq_u32 cookie;
	iopfq_dev_t d;

	cookie = aging_setup(f, &d);
	tp_set_now(&f->tp, 1000000);
	assert_int_equal(iopfq_age_scan(f->q, 1), 3);
	assert_int_equal(f->tp.nresp, 0);
	assert_int_equal(cnt(f).delivered, 1);
	assert_int_equal(cnt(f).ready, 2);
	assert_int_equal(cnt(f).partial, 1);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.resp[0].origin, IOPFQ_ANSWER_USER);
	assert_int_equal(iopfq_read(f->q, recs, 4), 2);
	assert_int_equal(recs[0].grpid, 2);
	assert_int_equal(respond1(f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	rep_ok(f, d, 4, 3, 1, 0x3001);
	assert_int_equal(iopfq_read(f->q, recs, 4), 2);
	assert_int_equal(recs[0].addr, 0x3000);
	assert_int_equal(respond1(f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.nresp, 3);
	assert_conserved(f);
}

/*
 * A group warned while partial is not warned again once ready or delivered;
 * a group warned while ready is not warned again once delivered; a new
 * group in a reused slot is warned on its own.
 */
static void test_age_scan_once_across_states(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	const struct iopfq_aged *a;
	iopfq_u32 cookie;
	iopfq_dev_t d;
	int n, i;

	cookie = aging_setup(f, &d);
	tp_set_now(&f->tp, 2000);
	assert_int_equal(iopfq_age_scan(f->q, 500), 3);
	rep_ok(f, d, 4, 3, 1, 0x3001); /* partial -> ready */
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	tp_set_now(&f->tp, 3000);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	n = iopfq_read(f->q, recs, 8); /* ready -> delivered */
	assert_int_equal(n, 4);
	tp_set_now(&f->tp, 4000);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	assert_int_equal(f->tp.naged, 3);
	assert_int_equal(respond1(f, cookie, 0), 1);
	for (i = 0; i < n; i++)
		if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
			assert_int_equal(respond1(f, recs[i].cookie, 0), 1);

	/* new groups at t = 4000 are warned on their own, once */
	rep_ok(f, d, 5, 9, 1, 0x9000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	tp_set_now(&f->tp, 4499);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	tp_set_now(&f->tp, 4600);
	assert_int_equal(iopfq_age_scan(f->q, 500), 1);
	a = find_aged(f, 3, 9);
	assert_non_null(a);
	assert_int_equal(a->where, IOPFQ_GROUP_READY);
	assert_int_equal(a->age_ns, 600);
	cookie = read_group(f, 1);
	assert_int_equal(iopfq_age_scan(f->q, 500), 0);
	assert_int_equal(respond1(f, cookie, 0), 1);
	assert_int_equal(cnt(f).aged_warnings, 4);
	assert_conserved(f);
}

/* Only groups at least threshold old: a younger one waits for a later scan */
static void test_age_scan_threshold_per_group(void **state)
{
	struct fx *f = *state;
	const struct iopfq_aged *a;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 77, 4, NULL);
	tp_set_now(&f->tp, 100);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	tp_set_now(&f->tp, 400);
	rep_ok(f, d, 1, 2, 0, 0x2000);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	tp_set_now(&f->tp, 600);
	assert_int_equal(iopfq_age_scan(f->q, 500), 1);
	a = find_aged(f, 0, 1);
	assert_non_null(a);
	assert_int_equal(a->age_ns, 500);
	assert_null(find_aged(f, 0, 2));
	tp_set_now(&f->tp, 900);
	assert_int_equal(iopfq_age_scan(f->q, 500), 1);
	a = find_aged(f, 1, 2);
	assert_non_null(a);
	assert_int_equal(a->where, IOPFQ_GROUP_PARTIAL);
	assert_int_equal(a->age_ns, 500);
	assert_int_equal(cnt(f).aged_warnings, 2);
	assert_int_equal(f->tp.nresp, 0);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* wake-up                                                                 */

static void test_wake_sleep_on_empty(void **state)
{
	struct fx *f = *state;

	fx_open(f, 1, 4, 0, 2);
	att(f, 10, 4, NULL);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	assert_int_equal(f->tp.notifies, 0);
	iopfq_finish_sleep(f->q);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	iopfq_finish_sleep(f->q);
	assert_int_equal(f->tp.notifies, 0);
}

static void test_wake_notify_once(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	assert_int_equal(f->tp.notifies, 1);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	rep_ok(f, d, 1, 1, 1, 0x3000);
	assert_int_equal(f->tp.notifies, 1);
	iopfq_finish_sleep(f->q);
	rep_ok(f, d, 1, 2, 1, 0x4000);
	assert_int_equal(f->tp.notifies, 1);
	/* it sleeps again with work queued: not allowed, and no notify follows */
	assert_int_equal(iopfq_prepare_sleep(f->q), 0);
	assert_int_equal(drain_all(f), 4);
	/* empty again: the next sleep is woken once more */
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	rep_ok(f, d, 1, 3, 1, 0x5000);
	assert_int_equal(f->tp.notifies, 2);
	iopfq_finish_sleep(f->q);
	assert_int_equal(drain_all(f), 1);
	assert_conserved(f);
}

/* prepare_sleep 0: something in the ring, or a complete group queued */
static void test_wake_prepare_sleep_busy(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);         /* undrained, in the ring */
	assert_int_equal(iopfq_prepare_sleep(f->q), 0);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	assert_int_equal(f->tp.notifies, 0); /* no sleep was announced */
	iopfq_finish_sleep(f->q);

	/* drained into a partial group: nothing readable, the consumer may sleep */
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	rep_ok(f, d, 1, 1, 1, 0x3000);
	assert_int_equal(f->tp.notifies, 1);
	iopfq_finish_sleep(f->q);

	/* a complete group, already drained, is queued work */
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	assert_int_equal(iopfq_prepare_sleep(f->q), 0);
	rep_ok(f, d, 1, 2, 0, 0x4000);
	assert_int_equal(f->tp.notifies, 1);
	iopfq_finish_sleep(f->q);
	assert_int_equal(drain_all(f), 3);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1); /* only a partial page left */
	iopfq_finish_sleep(f->q);
	assert_conserved(f);
}

/* Refused reports neither notify nor use up the sleep announcement */
static void test_wake_refused_report_no_notify(void **state)
{
	struct fx *f = *state;
	struct iopfq_request bad = tp_req(1, 1000, 1, 0);
	iopfq_dev_t d;

	fx_open(f, 1, 1, 0, 2);
	d = att(f, 10, 1, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(iopfq_prepare_sleep(f->q), 1);
	assert_int_equal(tp_report(f->q, d, &bad, NULL), -IOPFQ_EINVAL);
	assert_int_equal(rep(f, d, 1, 2, 1, 0x2000), -IOPFQ_EDQUOT);
	assert_int_equal(rep(f, 0, 1, 2, 1, 0x2000), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, d, IOPFQ_DEV_FAILED), 0);
	assert_int_equal(rep(f, d, 1, 2, 1, 0x2000), -IOPFQ_EIO);
	assert_int_equal(iopfq_dev_set_flags(f->q, d, 0), 0);
	assert_int_equal(f->tp.notifies, 0);
	rep_marker_ok(f, d, 7);
	assert_int_equal(f->tp.notifies, 1);
	iopfq_finish_sleep(f->q);
	assert_conserved(f);
}

static void test_poll_ready(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(cnt(f).in_ring, 0);
	rep_ok(f, d, 1, 1, 1, 0x2000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	assert_int_equal(drain_all(f), 2);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* counters and the ring                                                   */

/* Each counter moves as documented, one step of a group's life at a time */
static void test_counters_follow_a_group(void **state)
{
	struct fx *f = *state;
	struct iopfq_counters want, c;
	struct iopfq_hwpt_pgfault recs[2];
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	want = cnt(f);
	assert_int_equal(want.credits_attached, 2);
	assert_int_equal(want.devices_attached, 1);

	rep_ok(f, d, 1, 1, 0, 0x1000);
	want.accepted++;
	want.in_ring++;
	c = cnt(f);
	assert_counters_eq(&c, &want);
	assert_conserved(f);

	assert_int_equal(iopfq_poll_ready(f->q), 0);
	want.in_ring--;
	want.partial++;
	c = cnt(f);
	assert_counters_eq(&c, &want);

	rep_ok(f, d, 1, 1, 1, 0x2000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	want.accepted++;
	want.partial--;
	want.ready += 2;
	c = cnt(f);
	assert_counters_eq(&c, &want);
	assert_conserved(f);

	assert_int_equal(iopfq_read(f->q, recs, 2), 2);
	want.ready -= 2;
	want.delivered += 2;
	want.groups_delivered++;
	c = cnt(f);
	assert_counters_eq(&c, &want);
	assert_conserved(f);

	rep_marker_ok(f, d, 9);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	want.markers_accepted++;
	c = cnt(f);
	assert_counters_eq(&c, &want);

	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	want.delivered -= 2;
	want.answered += 2;
	want.groups_answered++;
	c = cnt(f);
	assert_counters_eq(&c, &want);
	assert_conserved(f);

	assert_int_equal(respond1(f, recs[0].cookie, 0), -IOPFQ_EINVAL);
	want.bad_answers++;
	c = cnt(f);
	assert_counters_eq(&c, &want);
	assert_conserved(f);
}

/* Positions cross 2^32 on a 4-slot ring: groups stay whole and ordered */
static void test_ring_wraps(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[2];
	iopfq_dev_t d;
	iopfq_u32 i;
	int err = 1;

	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.max_devices = 1;
	f->cfg.credit_budget = 2;
	f->cfg.cookie_gen_bits = 2;
	f->cfg.ring_start = 0xfffffff5u;
	f->q = tp_queue_new(&f->cfg, &f->tp, &err);
	assert_non_null(f->q);
	assert_int_equal(err, 0);
	d = att(f, 10, 2, NULL);
	for (i = 0; i < 40; i++) {
		rep_ok(f, d, i, i % 512, 0, 0x1000 + i);
		if (i % 3 == 0)
			rep_marker_ok(f, d, 0xfffff); /* another PASID: harmless */
		rep_ok(f, d, i, i % 512, 1, 0x2000 + i);
		assert_int_equal(iopfq_read(f->q, recs, 2), 2);
		assert_int_equal(recs[0].pasid, i);
		assert_int_equal(recs[0].addr, 0x1000 + i);
		assert_int_equal(recs[1].addr, 0x2000 + i);
		assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
		assert_conserved(f);
	}
	assert_int_equal(cnt(f).accepted, 80);
	assert_int_equal(cnt(f).answered, 80);
	assert_int_equal(cnt(f).ring_claim_waits, 0);
}

/*
 * The clock hook of test_drain_takes_what_was_claimed: the drain reads the
 * clock once per pass, after it has seen the ring; a device reports there,
 * as a producer on another CPU would while the pass runs.
 */
static struct fx *during_fx;
static iopfq_dev_t during_dev;
static iopfq_u32 during_grpid;
static int during_reports;

static iopfq_u64 now_reporting(void *ctx)
{
	(void)ctx;
	if (during_reports) {
		during_reports--;
		rep_ok(during_fx, during_dev, 1, during_grpid, 1, 0x1000 * during_grpid);
	}
	return 0;
}

/*
 * A drain pass takes at most the requests claimed when it finds its
 * second one (a consumer that followed producers that keep reporting would
 * never return to deliver); a later one stays in the ring for the next
 * pass, and the consumer may not sleep on it. With 3 single-page groups
 * queued, the pass is bounded before the clock hook reports a 4th: the read
 * delivers 3. With 1 queued, the bound comes when the pass finds the
 * hook's request published, and takes it: the read delivers both.
 */
static void drain_takes_what_was_claimed(struct fx *f, iopfq_u32 ahead, int late_taken)
{
	struct iopfq_ops ops = tp_ops;
	struct iopfq_hwpt_pgfault recs[8];
	iopfq_u32 i, late = ahead + 1, first = late_taken ? late : ahead;
	size_t size;
	void *mem;

	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.max_devices = 1;
	f->cfg.credit_budget = 8;
	ops.now_ns = now_reporting;
	size = iopfq_memsize(&f->cfg);
	mem = tp_mem_alloc(size);
	assert_non_null(mem);
	assert_int_equal(iopfq_init(mem, size, &f->cfg, &ops, &f->tp, &f->q), 0);
	during_fx = f;
	during_dev = att(f, 10, 8, NULL);
	during_grpid = late;
	for (i = 1; i <= ahead; i++)
		rep_ok(f, during_dev, 1, i, 1, 0x1000 * i);

	during_reports = 1;
	assert_int_equal(iopfq_read(f->q, recs, 8), (int)first);
	assert_int_equal(during_reports, 0);
	assert_int_equal(cnt(f).in_ring, late - first);
	if (!late_taken) {
		assert_int_equal(iopfq_prepare_sleep(f->q), 0);
		assert_int_equal(iopfq_read(f->q, recs + ahead, 8 - ahead), 1);
	}
	assert_int_equal(iopfq_read(f->q, recs + late, 8 - late), 0);
	for (i = 0; i < late; i++) {
		assert_int_equal(recs[i].grpid, i + 1);
		assert_int_equal(recs[i].addr, 0x1000 * (i + 1));
		assert_int_equal(respond1(f, recs[i].cookie, 0), 1);
	}
	assert_int_equal(cnt(f).in_ring, 0);
	assert_conserved(f);
}

static void test_drain_bounded_before_late_request(void **state)
{
	drain_takes_what_was_claimed(*state, 3, 0);
}

static void test_drain_bounded_at_second_request(void **state)
{
	drain_takes_what_was_claimed(*state, 1, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_group_held_until_last_page),
		T(test_read_record_fields),
		T(test_read_record_no_pasid),
		T(test_groups_interleaved_grpid),
		T(test_groups_interleaved_pasid),
		T(test_groups_interleaved_devices),
		T(test_group_pasid_vs_no_pasid),
		T(test_read_completion_order),
		T(test_read_group_does_not_fit),
		T(test_read_several_groups),
		T(test_read_null_buffer),
		T(test_read_max_zero),
		T(test_marker_discards_partial_of_pasid),
		T(test_marker_later_pages_start_fresh),
		T(test_marker_pasid0_spares_no_pasid),
		T(test_marker_spares_delivered),
		T(test_flush_pasid),
		T(test_flush_keeps_lists_intact),
		T(test_marker_keeps_partial_list_intact),
		T(test_flush_drains_ring),
		T(test_flush_no_response),
		T(test_flush_no_pasid),
		T(test_flush_nothing),
		T(test_flush_bad_flags),
		T(test_flush_bad_pasid),
		T(test_flush_bad_handle),
		T(test_age_scan_reports_each_once),
		T(test_age_scan_never_completes),
		T(test_age_scan_once_across_states),
		T(test_age_scan_threshold_per_group),
		T(test_wake_sleep_on_empty),
		T(test_wake_notify_once),
		T(test_wake_prepare_sleep_busy),
		T(test_wake_refused_report_no_notify),
		T(test_poll_ready),
		T(test_counters_follow_a_group),
		T(test_ring_wraps),
		T(test_drain_bounded_before_late_request),
		T(test_drain_bounded_at_second_request),
#undef T
	};

	tp_thread_online();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
