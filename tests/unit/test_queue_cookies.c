/* SPDX-License-Identifier: MIT */
/*
 * test_queue_cookies.c - the response table (iopfq_respond and cookies):
 *
 *   cookies are never 0, one per delivered group, distinct while live, and
 *	a delivered group's slot is not reused until it is answered;
 *   an answer calls page_response with (dev_id, pasid, grpid, flags, code,
 *	npages, origin USER, dev_ctx) and gives the group's credits back;
 *   unknown, forged, stale, already answered and revoked (flush, detach)
 *	cookies, and codes other than SUCCESS/INVALID (2, FAILURE 0xf, ...)
 *	are refused with -EINVAL and change nothing but bad_answers;
 *   batches: the number consumed when the first k are good (entry k+1 and
 *	everything after it changed nothing), the error when the first is bad;
 *   iopfq_read_restore: the groups a failed copy did not hand on lose their
 *	cookies and come back first, in order, with new ones; every malformed
 *	or stale restore is refused and changes nothing;
 *   the stale-cookie bound: with 4 slots reused round-robin and 2
 *	generation bits, an old cookie aliases after exactly
 *	4 * (2^2 - 1) = 12 further deliveries, and is refused before that.
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
/* ---------------------------------------------------------------------- */
/* more helpers                                                            */

static int ctx_dev;

/* Report and read one single-page group (pasid @pasid, grp @grpid); its cookie */
static iopfq_u32 deliver1(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid, iopfq_u32 grpid)
{
	rep_ok(f, d, pasid, grpid, 1, 0x1000 + (iopfq_u64)pasid * 0x1000);
	return read_group(f, 1);
}

/* One answer refused with -EINVAL: bad_answers + 1, nothing else changed */
static void expect_bad_answer(struct fx *f, iopfq_u32 cookie, iopfq_u32 code)
{
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(respond1(f, cookie, code), -IOPFQ_EINVAL);
	s.c.bad_answers++;
	snap_check(f, &s);
}

/* ---------------------------------------------------------------------- */
/* cookies                                                                 */

static void test_cookie_never_zero(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[2];
	iopfq_u32 cookie, i;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	/* two live at once: distinct */
	rep_ok(f, d, 1, 1, 1, 0x1000);
	rep_ok(f, d, 1, 2, 1, 0x2000);
	assert_int_equal(iopfq_read(f->q, recs, 2), 2);
	assert_int_not_equal(recs[0].cookie, 0);
	assert_int_not_equal(recs[1].cookie, 0);
	assert_int_not_equal(recs[0].cookie, recs[1].cookie);
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, recs[1].cookie, 0), 1);
	/* many table revolutions and generation wraps: never 0 */
	for (i = 0; i < 100; i++) {
		cookie = deliver1(f, d, i, i % 512);
		assert_int_not_equal(cookie, 0);
		assert_int_not_equal(cookie >> 2, 0);   /* generation 1 .. 3 */
		assert_true((cookie >> 2) <= 3);
		assert_int_equal(respond1(f, cookie, 0), 1);
	}
	assert_conserved(f);
}

/* A delivered group's slot is skipped until it is answered */
static void test_cookie_slot_kept_while_delivered(void **state)
{
	struct fx *f = *state;
	iopfq_u32 held, cookie, i;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, &ctx_dev);
	held = deliver1(f, d, 1000, 1);
	for (i = 0; i < 24; i++) {
		cookie = deliver1(f, d, i, 2);
		assert_int_not_equal(cookie, held);
		assert_int_not_equal(cookie & 3, held & 3);
		assert_int_equal(respond1(f, cookie, 0), 1);
	}
	assert_int_equal(respond1(f, held, IOPFQ_PAGE_RESP_INVALID), 1);
	assert_int_equal(f->tp.resp[f->tp.nresp - 1].pasid, 1000);
	assert_int_equal(f->tp.resp[f->tp.nresp - 1].code, IOPFQ_HW_INVALID);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* answers                                                                 */

static void test_respond_success(void **state)
{
	struct fx *f = *state;
	struct iopfq_counters before, c;
	const struct iopfq_response *r;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 2, 4, 0, 2);
	att(f, 5, 1, NULL);
	d = att(f, 0x12345678u, 3, &ctx_dev);
	rep_ok(f, d, 0xabcde, 0x1ff, 0, 0x1000);
	rep_ok(f, d, 0xabcde, 0x1ff, 0, 0x2000);
	rep_ok(f, d, 0xabcde, 0x1ff, 1, 0x3000);
	cookie = read_group(f, 3);
	before = cnt(f);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.nresp, 1);
	r = &f->tp.resp[0];
	assert_int_equal(r->dev_id, 0x12345678u);
	assert_int_equal(r->pasid, 0xabcde);
	assert_int_equal(r->grpid, 0x1ff);
	assert_int_equal(r->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	assert_int_equal(r->code, IOPFQ_HW_SUCCESS);
	assert_int_equal(r->npages, 3);
	assert_int_equal(r->origin, IOPFQ_ANSWER_USER);
	assert_ptr_equal(r->dev_ctx, &ctx_dev);
	c = cnt(f);
	before.delivered -= 3;
	before.answered += 3;
	before.groups_answered++;
	assert_counters_eq(&c, &before);
	assert_conserved(f);
}

static void test_respond_invalid(void **state)
{
	struct fx *f = *state;
	const struct iopfq_response *r;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, &ctx_dev);
	cookie = deliver1(f, d, 3, 4);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_INVALID), 1);
	r = &f->tp.resp[0];
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(r->origin, IOPFQ_ANSWER_USER);
	assert_int_equal(r->npages, 1);
	assert_int_equal(cnt(f).answered, 1);
	assert_int_equal(cnt(f).groups_answered, 1);
	assert_conserved(f);
}

static void test_respond_no_pasid(void **state)
{
	struct fx *f = *state;
	struct iopfq_request req = req_nopasid(8, 1, 0x1000);
	const struct iopfq_response *r;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, &ctx_dev);
	assert_int_equal(tp_report(f->q, d, &req, NULL), 0);
	cookie = read_group(f, 1);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	r = &f->tp.resp[0];
	assert_int_equal(r->flags, 0);
	assert_int_equal(r->pasid, 0);
	assert_int_equal(r->grpid, 8);
	assert_conserved(f);
}

/* The answer gives the group's credits back: the device reports again */
static void test_respond_returns_credits(void **state)
{
	struct fx *f = *state;
	iopfq_u32 answer, cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 1, 0x2000);
	cookie = read_group(f, 2);
	{
		struct iopfq_request r = tp_req(1, 2, 1, 0x3000);

		assert_int_equal(tp_report(f->q, d, &r, &answer), -IOPFQ_EDQUOT);
		assert_int_equal(answer, IOPFQ_HW_SUCCESS);
	}
	assert_int_equal(respond1(f, cookie, 0), 1);
	rep_ok(f, d, 1, 2, 0, 0x3000);
	rep_ok(f, d, 1, 2, 1, 0x4000);
	assert_int_equal(rep(f, d, 1, 3, 1, 0x5000), -IOPFQ_EDQUOT);
	assert_int_equal(drain_all(f), 2);
	assert_conserved(f);
}

/* Cookies that name no delivered group */
static void test_respond_unknown_cookie(void **state)
{
	struct fx *f = *state;
	static const iopfq_u32 forged[] = {
		0, 1, 2, 3,             /* generation 0: never issued */
		(1u << 2) | 1,          /* generation 1 of slots never used */
		(1u << 2) | 2,
		(1u << 2) | 3,
		(2u << 2) | 0,          /* the live slot, wrong generation */
		(3u << 2) | 0,
		(4u << 2) | 0,          /* beyond 2 generation bits */
		(1u << 31) | (1u << 2), /* generation bits above the configured ones */
		0xffffffffu,
	};
	iopfq_u32 live;
	iopfq_dev_t d;
	size_t i;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	live = deliver1(f, d, 1, 1);
	assert_int_equal(live, (1u << 2) | 0); /* first delivery: slot 0, generation 1 */
	rep_ok(f, d, 1, 2, 0, 0x2000);          /* and a partial page */
	for (i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		expect_bad_answer(f, forged[i], IOPFQ_PAGE_RESP_SUCCESS);
		expect_bad_answer(f, forged[i], IOPFQ_PAGE_RESP_INVALID);
	}
	assert_int_equal(respond1(f, live, 0), 1);
	assert_int_equal(f->tp.nresp, 1);
	assert_conserved(f);
}

static void test_respond_already_answered(void **state)
{
	struct fx *f = *state;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	cookie = deliver1(f, d, 1, 1);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_SUCCESS);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_INVALID);
	/* still refused while other groups come and go (before its slot comes back) */
	rep_ok(f, d, 1, 2, 1, 0x2000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_SUCCESS);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(drain_all(f), 1);
	assert_conserved(f);
}

static void test_respond_revoked_by_flush(void **state)
{
	struct fx *f = *state;
	iopfq_u32 cookie, other;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	cookie = deliver1(f, d, 1, 1);
	other = deliver1(f, d, 2, 1);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].origin, IOPFQ_ANSWER_FLUSH);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_SUCCESS);
	assert_int_equal(respond1(f, other, 0), 1);
	assert_int_equal(f->tp.nresp, 2);
	assert_conserved(f);
}

static void test_respond_revoked_by_flush_no_response(void **state)
{
	struct fx *f = *state;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	cookie = deliver1(f, d, 1, 1);
	assert_int_equal(iopfq_flush(f->q, d, 1, IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE), 0);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_INVALID);
	assert_int_equal(f->tp.nresp, 0);
	assert_int_equal(cnt(f).discarded, 1);
	assert_conserved(f);
}

static void test_respond_revoked_by_detach(void **state)
{
	struct fx *f = *state;
	iopfq_u32 cookie;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	cookie = deliver1(f, d, 1, 1);
	assert_int_equal(iopfq_dev_detach(f->q, d), 0);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].origin, IOPFQ_ANSWER_DETACH);
	expect_bad_answer(f, cookie, IOPFQ_PAGE_RESP_SUCCESS);
	/* a new device in the same slot: its first cookie is not the old one */
	d = att(f, 10, 2, NULL);
	assert_int_not_equal(deliver1(f, d, 1, 1), cookie);
	assert_int_equal(drain_all(f), 0);
	assert_conserved(f);
}

static void test_respond_bad_code(void **state)
{
	struct fx *f = *state;
	static const iopfq_u32 codes[] = { 2, IOPFQ_HW_FAILURE, IOPFQ_HW_NONE, 0x10,
					    0xffffffffu };
	iopfq_u32 cookie;
	iopfq_dev_t d;
	size_t i;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 10, 2, NULL);
	cookie = deliver1(f, d, 1, 1);
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		expect_bad_answer(f, cookie, codes[i]);
	/* the group was not touched: it still takes a good answer */
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_INVALID), 1);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].code, IOPFQ_HW_INVALID);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* batches                                                                 */

/* Four delivered single-page groups (pasid 1..4) on one device */
static void deliver4(struct fx *f, iopfq_u32 cookies[4])
{
	struct iopfq_hwpt_pgfault recs[4];
	iopfq_dev_t d;
	int i;

	fx_open(f, 1, 4, 0, 2);
	d = att(f, 10, 4, NULL);
	for (i = 0; i < 4; i++)
		rep_ok(f, d, (iopfq_u32)i + 1, 1, 1, 0x1000 * ((iopfq_u64)i + 1));
	assert_int_equal(iopfq_read(f->q, recs, 4), 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(recs[i].pasid, (iopfq_u32)i + 1);
		cookies[i] = recs[i].cookie;
	}
}

/* [good, good, unknown, good]: 2 consumed; the unknown and the last changed nothing */
static void test_respond_batch_stops_at_bad_cookie(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_page_response batch[4];
	struct iopfq_counters before, c;
	iopfq_u32 k[4];

	deliver4(f, k);
	batch[0] = (struct iopfq_hwpt_page_response){ k[0], 0 };
	batch[1] = (struct iopfq_hwpt_page_response){ k[1], 1 };
	batch[2] = (struct iopfq_hwpt_page_response){ 0x7fffffffu, 0 };
	batch[3] = (struct iopfq_hwpt_page_response){ k[3], 0 };
	before = cnt(f);
	assert_int_equal(iopfq_respond(f->q, batch, 4), 2);
	assert_int_equal(f->tp.nresp, 2);
	assert_int_equal(f->tp.resp[0].pasid, 1);
	assert_int_equal(f->tp.resp[0].code, IOPFQ_HW_SUCCESS);
	assert_int_equal(f->tp.resp[1].pasid, 2);
	assert_int_equal(f->tp.resp[1].code, IOPFQ_HW_INVALID);
	c = cnt(f);
	before.delivered -= 2;
	before.answered += 2;
	before.groups_answered += 2;
	before.bad_answers += 1;
	assert_counters_eq(&c, &before);
	assert_conserved(f);
	/* entry 4 was not consumed: its group still answers */
	assert_int_equal(respond1(f, k[3], 0), 1);
	assert_int_equal(respond1(f, k[2], 0), 1);
	assert_int_equal(f->tp.nresp, 4);
	assert_conserved(f);
}

/* [good, (good cookie, code 0xf), good]: 1 consumed; entry 2's group untouched */
static void test_respond_batch_stops_at_bad_code(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_page_response batch[3];
	struct iopfq_counters before, c;
	iopfq_u32 k[4];

	deliver4(f, k);
	batch[0] = (struct iopfq_hwpt_page_response){ k[0], 0 };
	batch[1] = (struct iopfq_hwpt_page_response){ k[1], IOPFQ_HW_FAILURE };
	batch[2] = (struct iopfq_hwpt_page_response){ k[2], 0 };
	before = cnt(f);
	assert_int_equal(iopfq_respond(f->q, batch, 3), 1);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].pasid, 1);
	c = cnt(f);
	before.delivered -= 1;
	before.answered += 1;
	before.groups_answered += 1;
	before.bad_answers += 1;
	assert_counters_eq(&c, &before);
	assert_int_equal(respond1(f, k[1], 1), 1);
	assert_int_equal(f->tp.resp[1].pasid, 2);
	assert_int_equal(respond1(f, k[2], 0), 1);
	assert_int_equal(respond1(f, k[3], 0), 1);
	assert_conserved(f);
}

/* The same cookie twice in one batch: the second is already answered */
static void test_respond_batch_duplicate(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_page_response batch[3];
	iopfq_u32 k[4];

	deliver4(f, k);
	batch[0] = (struct iopfq_hwpt_page_response){ k[0], 0 };
	batch[1] = (struct iopfq_hwpt_page_response){ k[0], 1 };
	batch[2] = (struct iopfq_hwpt_page_response){ k[1], 0 };
	assert_int_equal(iopfq_respond(f->q, batch, 3), 1);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].code, IOPFQ_HW_SUCCESS);
	assert_int_equal(cnt(f).bad_answers, 1);
	assert_int_equal(cnt(f).delivered, 3);
	assert_int_equal(respond1(f, k[1], 0), 1);
	assert_int_equal(respond1(f, k[2], 0), 1);
	assert_int_equal(respond1(f, k[3], 0), 1);
	assert_conserved(f);
}

/* The first entry bad: the error, nothing consumed, not even the good ones after */
static void test_respond_batch_first_bad(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_page_response batch[3];
	struct snap s;
	iopfq_u32 k[4];

	deliver4(f, k);
	batch[0] = (struct iopfq_hwpt_page_response){ k[0] ^ (1u << 3), 0 };
	batch[1] = (struct iopfq_hwpt_page_response){ k[1], 0 };
	batch[2] = (struct iopfq_hwpt_page_response){ k[2], 0 };
	snap_take(f, &s);
	assert_int_equal(iopfq_respond(f->q, batch, 3), -IOPFQ_EINVAL);
	s.c.bad_answers++;
	snap_check(f, &s);
	batch[0] = (struct iopfq_hwpt_page_response){ k[0], 2 };
	snap_take(f, &s);
	assert_int_equal(iopfq_respond(f->q, batch, 3), -IOPFQ_EINVAL);
	s.c.bad_answers++;
	snap_check(f, &s);
	batch[0].code = 0;
	assert_int_equal(iopfq_respond(f->q, batch, 3), 3);
	assert_int_equal(respond1(f, k[3], 0), 1);
	assert_int_equal(f->tp.nresp, 4);
	assert_conserved(f);
}

static void test_respond_empty_batch(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_page_response one = { 0, 0 };
	iopfq_u32 k[4];
	struct snap s;

	deliver4(f, k);
	snap_take(f, &s);
	assert_int_equal(iopfq_respond(f->q, NULL, 0), 0);
	assert_int_equal(iopfq_respond(f->q, &one, 0), 0);
	snap_check(f, &s);
	assert_int_equal(iopfq_respond(f->q, NULL, 1), -IOPFQ_EINVAL);
	snap_check(f, &s); /* a NULL buffer is not a bad answer: nothing counted */
	assert_int_equal(drain_all(f), 0);
	assert_int_equal(respond1(f, k[0], 0), 1);
	assert_int_equal(respond1(f, k[1], 0), 1);
	assert_int_equal(respond1(f, k[2], 0), 1);
	assert_int_equal(respond1(f, k[3], 0), 1);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* the stale-cookie bound                                                  */

/*
 * A read whose records could not all be handed on (the kernel adapter's
 * copy_to_user() failing after the first group): the groups that did not
 * arrive are given back; their cookies are dead, and the next read delivers
 * them again first, in order, with new cookies (iommufd's behaviour).
 */
static void test_read_restore(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8], again[8];
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 8, 0, 0);
	d = att(f, 10, 8, &ctx_dev);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 1, 0x2000); /* group A: 2 pages */
	rep_ok(f, d, 1, 2, 1, 0x3000); /* group B */
	rep_ok(f, d, 1, 3, 1, 0x4000); /* group C */
	assert_int_equal(iopfq_read(f->q, recs, 4), 4);
	rep_ok(f, d, 1, 4, 1, 0x5000); /* group D: queued after them */

	/* B and C did not reach the user */
	snap_take(f, &s);
	assert_int_equal(iopfq_read_restore(f->q, recs + 2, 2), 2);
	assert_int_equal(cnt(f).delivered, s.c.delivered - 2);
	assert_int_equal(cnt(f).ready, s.c.ready + 2);
	assert_int_equal(cnt(f).groups_delivered, s.c.groups_delivered - 2);
	assert_conserved(f);
	expect_bad_answer(f, recs[2].cookie, IOPFQ_PAGE_RESP_SUCCESS);
	expect_bad_answer(f, recs[3].cookie, IOPFQ_PAGE_RESP_SUCCESS);
	/* B, C ahead of D, with new cookies and the same content */
	assert_int_equal(iopfq_read(f->q, again, 8), 3);
	assert_int_equal(again[0].grpid, 2);
	assert_int_equal(again[0].addr, 0x3000);
	assert_int_equal(again[1].grpid, 3);
	assert_int_equal(again[2].grpid, 4);
	assert_int_not_equal(again[0].cookie, recs[2].cookie);
	assert_int_not_equal(again[1].cookie, recs[3].cookie);
	assert_int_equal(again[0].flags, recs[2].flags);
	assert_int_equal(again[0].perm, recs[2].perm);
	/* A was delivered whole and stays answerable; the others by their new cookies */
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	assert_int_equal(respond1(f, again[0].cookie, 0), 1);
	assert_int_equal(respond1(f, again[1].cookie, 0), 1);
	assert_int_equal(respond1(f, again[2].cookie, 0), 1);
	assert_int_equal(f->tp.nresp, 4);
	assert_int_equal(cnt(f).credits_attached, 8);
	assert_conserved(f);
}

/* A multi-page group restored keeps its pages in order; restoring all of a read */
static void test_read_restore_whole_read(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8], again[8];
	iopfq_dev_t d;

	fx_open(f, 1, 8, 0, 0);
	d = att(f, 10, 8, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 0, 0x2000);
	rep_ok(f, d, 1, 1, 1, 0x3000);
	rep_ok(f, d, 2, 1, 1, 0x4000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 4);
	assert_int_equal(iopfq_read_restore(f->q, recs, 4), 2);
	assert_int_equal(iopfq_next_group_size(f->q), 3);
	assert_int_equal(iopfq_read(f->q, again, 8), 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(again[i].addr, recs[i].addr);
		assert_int_equal(again[i].flags, recs[i].flags);
		assert_int_equal(again[i].pasid, recs[i].pasid);
	}
	assert_int_equal(again[0].cookie, again[2].cookie);
	assert_int_not_equal(again[0].cookie, recs[0].cookie);
	/* the restored groups are ordinary delivered groups: detach answers them */
	assert_int_equal(iopfq_dev_detach(f->q, d), 0);
	assert_int_equal(f->tp.nresp, 2);
	assert_conserved(f);
}

/* Everything iopfq_read_restore() must refuse, each changing nothing */
static void test_read_restore_refusals(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8], bad[8];
	iopfq_u32 cookie;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 8, 0, 0);
	d = att(f, 10, 8, NULL);
	rep_ok(f, d, 1, 1, 0, 0x1000);
	rep_ok(f, d, 1, 1, 1, 0x2000);
	rep_ok(f, d, 1, 2, 1, 0x3000);
	rep_ok(f, d, 1, 3, 1, 0x4000);
	assert_int_equal(iopfq_read(f->q, recs, 8), 4);
	assert_int_equal(respond1(f, recs[3].cookie, 0), 1); /* C answered */

	snap_take(f, &s);
	assert_int_equal(iopfq_read_restore(NULL, recs, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_read_restore(f->q, NULL, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_read_restore(f->q, NULL, 0), 0);
	assert_int_equal(iopfq_read_restore(f->q, recs, 0), 0);
	/* half a group, at the start or at the end */
	assert_int_equal(iopfq_read_restore(f->q, recs, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_read_restore(f->q, recs + 1, 2), -IOPFQ_EINVAL);
	/* an answered cookie, after a good group: the good one is not restored either */
	assert_int_equal(iopfq_read_restore(f->q, recs + 2, 2), -IOPFQ_EINVAL);
	/* records that are not the group's */
	for (int field = 0; field < 8; field++) {
		memcpy(bad, recs, sizeof(recs));
		switch (field) {
		case 0: bad[0].dev_id++; break;
		case 1: bad[1].pasid++; break;
		case 2: bad[0].grpid++; break;
		case 3: bad[1].cookie ^= 1u << 20; break;
		case 4: bad[0].flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE; break;
		case 5: bad[1].flags &= ~IOPFQ_PGFAULT_FLAGS_LAST_PAGE; break;
		case 6: bad[0].perm = 0x10; break;
		case 7: bad[0].cookie = bad[1].cookie = 0; break;
		}
		if (iopfq_read_restore(f->q, bad, 2) != -IOPFQ_EINVAL)
			fail_msg("a restore with field %d changed was accepted", field);
	}
	snap_check(f, &s);
	/* the good ones are still delivered, answerable by their cookies */
	assert_int_equal(iopfq_read_restore(f->q, recs + 2, 1), 1);
	assert_int_equal(iopfq_read_restore(f->q, recs + 2, 1), -IOPFQ_EINVAL); /* twice */
	assert_int_equal(respond1(f, recs[0].cookie, 0), 1);
	cookie = read_group(f, 1);
	assert_int_not_equal(cookie, recs[2].cookie);
	assert_int_equal(respond1(f, cookie, 0), 1);
	assert_conserved(f);
}

/*
 * credit_budget 2 gives a cookie table of 4 slots (2 index bits); with
 * cookie_gen_bits 2 a slot issues generations 1, 2, 3, 1, ... (0 is never
 * issued, so no cookie is 0).
 *
 * Bound: slots are reused round-robin (the allocation cursor advances one
 * slot per delivery and only skips busy slots), so when groups are
 * delivered and answered one at a time, a slot comes back every
 * cookie_slots deliveries and its generation advances once per table
 * revolution. An old cookie can match again only after (2^gen_bits - 1)
 * reuses of its slot, i.e. after cookie_slots * (2^gen_bits - 1) further
 * deliveries: 4 * 3 = 12 here, so delivery 13 re-issues the cookie of
 * delivery 1. Until then the old cookie is refused with -EINVAL and changes
 * nothing; at delivery 13 it is, by construction, the live cookie of the
 * newer group and answers it: that is the aliasing the generation bits
 * bound (2^30 - 1 revolutions with the default generation bits).
 */
static void test_stale_cookie_bound(void **state)
{
	struct fx *f = *state;
	struct iopfq_geometry geo;
	iopfq_u32 first, cookie, k, alias_after;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 2, 0, 2);
	assert_int_equal(iopfq_config_geometry(&f->cfg, &geo), 0);
	assert_int_equal(geo.cookie_slots, 4);
	assert_int_equal(geo.cookie_gen_bits, 2);
	alias_after = geo.cookie_slots * ((1u << geo.cookie_gen_bits) - 1);
	assert_int_equal(alias_after, 12);

	d = att(f, 10, 2, &ctx_dev);
	first = deliver1(f, d, 1, 0);
	assert_int_equal(respond1(f, first, 0), 1);

	for (k = 2; k <= alias_after; k++) {
		cookie = deliver1(f, d, k, 0);
		assert_int_not_equal(cookie, 0);
		assert_int_not_equal(cookie, first);
		/* round-robin: delivery k uses slot (k - 1) mod 4 */
		assert_int_equal(cookie & (geo.cookie_slots - 1), (k - 1) % geo.cookie_slots);
		snap_take(f, &s);
		assert_int_equal(respond1(f, first, IOPFQ_PAGE_RESP_SUCCESS), -IOPFQ_EINVAL);
		s.c.bad_answers++;
		snap_check(f, &s);
		assert_int_equal(respond1(f, cookie, 0), 1);
		assert_int_equal(f->tp.resp[f->tp.nresp - 1].pasid, k);
	}

	/* delivery alias_after + 1 re-issues the first cookie */
	cookie = deliver1(f, d, alias_after + 1, 0);
	assert_int_equal(cookie, first);
	assert_int_equal(respond1(f, first, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.resp[f->tp.nresp - 1].pasid, alias_after + 1);
	assert_int_equal(cnt(f).bad_answers, alias_after - 1);
	assert_conserved(f);
}

/* With the default generation bits an old cookie stays refused much longer */
static void test_stale_cookie_default_gen_bits(void **state)
{
	struct fx *f = *state;
	iopfq_u32 first, cookie, k;
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 0);
	d = att(f, 10, 2, NULL);
	first = deliver1(f, d, 1, 0);
	assert_int_equal(respond1(f, first, 0), 1);
	for (k = 2; k <= 200; k++) {
		cookie = deliver1(f, d, k, 0);
		assert_int_not_equal(cookie, first);
		assert_int_equal(respond1(f, first, 0), -IOPFQ_EINVAL);
		assert_int_equal(respond1(f, cookie, 0), 1);
	}
	assert_int_equal(cnt(f).bad_answers, 199);
	assert_int_equal(f->tp.nresp, 200);
	assert_conserved(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_cookie_never_zero),
		T(test_cookie_slot_kept_while_delivered),
		T(test_respond_success),
		T(test_respond_invalid),
		T(test_respond_no_pasid),
		T(test_respond_returns_credits),
		T(test_respond_unknown_cookie),
		T(test_respond_already_answered),
		T(test_respond_revoked_by_flush),
		T(test_respond_revoked_by_flush_no_response),
		T(test_respond_revoked_by_detach),
		T(test_respond_bad_code),
		T(test_respond_batch_stops_at_bad_cookie),
		T(test_respond_batch_stops_at_bad_code),
		T(test_respond_batch_duplicate),
		T(test_respond_batch_first_bad),
		T(test_respond_empty_batch),
		T(test_read_restore),
		T(test_read_restore_whole_read),
		T(test_read_restore_refusals),
		T(test_stale_cookie_bound),
		T(test_stale_cookie_default_gen_bits),
#undef T
	};

	tp_thread_online();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
