/* SPDX-License-Identifier: MIT */
/*
 * test_revoke.c - detach and flush revoke exactly the victims' cookies, by
 * walking the victim device's list of issued response slots
 * (core/src/cookies.c), never the table:
 *
 *   detach answers INVALID (origin DETACH) each delivered, unanswered
 *	group of its device, once, and no other: the device's groups already
 *	answered are not answered again, other devices' live cookies stay
 *	live and answerable;
 *   flush with a PASID answers only that PASID's groups of that device
 *	(not its other PASIDs, not its requests without PASID, not another
 *	device's groups on the same PASID); flush without PASID only the
 *	requests without PASID; NO_RESPONSE sends nothing and counts discards;
 *   the lists (white box, through internal.h): every busy slot is on its
 *	device's list, every listed slot names that device, links are
 *	consistent; after a detach the device's list is empty, after a flush
 *	it holds exactly the device's busy slots; iopfq_read_restore() takes
 *	its slots off;
 *   answered slots do not pile up: however many groups a device has had
 *	answered, its list holds at most 3 x credits + 2 slots (the bound in
 *	cookies.c), under random and adversarial answer orders, in a table of
 *	1024 slots where, without the reaper, it would hold hundreds.
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
#include "internal.h"

/* ---------------------------------------------------------------------- */
/* white-box checks of the lists                                           */

static iopfq_u32 dev_idx_of(iopfq_dev_t h)
{
	return h & (IOPFQ_MAX_DEVICES - 1);
}

/* Slots on device @di's list; checks the links and that each names @di. */
static iopfq_u32 list_len(struct iopfq *q, iopfq_u32 di)
{
	iopfq_u32 head = q->devs[di].cslot_head, si = head, n = 0;

	if (head == NIL)
		return 0;
	do {
		const struct iopfq_cslot *cs = &q->cslots[si];

		assert_int_equal(cs->dev_idx, di);
		assert_int_equal(q->cslots[cs->dev_next].dev_prev, si);
		assert_int_equal(q->cslots[cs->dev_prev].dev_next, si);
		n++;
		assert_true(n <= q->cookie_index_mask + 1);
		si = cs->dev_next;
	} while (si != head);
	return n;
}

/* Busy slots of device @di in the whole table */
static iopfq_u32 busy_of(struct iopfq *q, iopfq_u32 di)
{
	iopfq_u32 si, n = 0;

	for (si = 0; si <= q->cookie_index_mask; si++)
		n += q->cslots[si].busy && q->cslots[si].dev_idx == di;
	return n;
}

/*
 * Every list well formed, no slot on two lists, every busy slot on its
 * device's list, every slot on no list unlinked (dev_next == NIL).
 */
static void check_lists(struct fx *f)
{
	struct iopfq *q = f->q;
	iopfq_u32 slots = q->cookie_index_mask + 1, di, si;
	unsigned char *on = calloc(slots, 1);

	assert_non_null(on);
	for (di = 0; di < f->cfg.max_devices; di++) {
		iopfq_u32 head = q->devs[di].cslot_head, n = list_len(q, di);

		for (si = head; n--; si = q->cslots[si].dev_next) {
			assert_int_equal(on[si], 0);
			on[si] = 1;
		}
	}
	for (si = 0; si < slots; si++) {
		if (q->cslots[si].busy)
			assert_int_equal(on[si], 1);
		if (!on[si])
			assert_int_equal(q->cslots[si].dev_next, NIL);
	}
	free(on);
}

/* ---------------------------------------------------------------------- */
/* helpers                                                                 */

/* Report and read one group of @npages pages (@pasid, or none if @nopasid); its cookie */
static iopfq_u32 deliver(struct fx *f, iopfq_dev_t d, int nopasid, iopfq_u32 pasid,
			 iopfq_u32 grpid, iopfq_u32 npages)
{
	iopfq_u32 i;

	for (i = 0; i < npages; i++) {
		struct iopfq_request r = nopasid ? req_nopasid(grpid, i + 1 == npages, 0x1000 * i)
						 : tp_req(pasid, grpid, i + 1 == npages, 0x1000 * i);

		assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	}
	return read_group(f, npages);
}

struct delivered {
	iopfq_u32 dev_id, pasid, grpid, npages, cookie;
	int nopasid, answered;
};

/* The responses from @from on: exactly the groups of @want (count @n) whose
 * @answered is 0, each once, with @origin, @code and their page count. */
static void expect_answers(struct fx *f, size_t from, const struct delivered *want, size_t n,
			   iopfq_u32 origin, iopfq_u32 code)
{
	size_t i, expected = 0;

	for (i = 0; i < n; i++) {
		const struct iopfq_response *r =
			find_resp(f, from, want[i].dev_id, want[i].nopasid ? 0 : want[i].pasid,
				  want[i].grpid);

		if (want[i].answered) {
			assert_null(r);
			continue;
		}
		assert_non_null(r);
		assert_int_equal(r->origin, origin);
		assert_int_equal(r->code, code);
		assert_int_equal(r->npages, want[i].npages);
		assert_int_equal(r->flags, want[i].nopasid ? 0 : IOPFQ_PGFAULT_FLAGS_PASID_VALID);
		expected++;
	}
	assert_int_equal(f->tp.nresp - from, expected);
}

/* ---------------------------------------------------------------------- */
/* detach                                                                  */

static void test_detach_revokes_only_its_cookies(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h[3];
	struct delivered g[18];
	size_t n = 0, i, from;
	iopfq_u32 k;

	fx_open(f, 3, 3 * 9, 0, 0);
	for (k = 0; k < 3; k++)
		h[k] = att(f, 10 * (k + 1), 9, NULL); /* 6 groups: 9 pages */
	/* interleaved across devices, so each device's slots are scattered */
	for (k = 0; k < 6; k++) {
		iopfq_u32 dv;

		for (dv = 0; dv < 3; dv++) {
			struct delivered *x = &g[n++];

			x->dev_id = 10 * (dv + 1);
			x->nopasid = k == 5;
			x->pasid = 1 + k % 2;
			x->grpid = k;
			x->npages = 1 + k % 2;
			x->answered = 0;
			x->cookie = deliver(f, h[dv], x->nopasid, x->pasid, x->grpid, x->npages);
		}
	}
	check_lists(f);
	/* device 20 had two groups answered: dead slots on its list */
	for (i = 0; i < n; i++)
		if (g[i].dev_id == 20 && (g[i].grpid == 0 || g[i].grpid == 3)) {
			assert_int_equal(respond1(f, g[i].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
			g[i].answered = 1;
		}
	check_lists(f);
	assert_int_equal(busy_of(f->q, dev_idx_of(h[1])), 4);

	from = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, h[1]), 0);
	check_lists(f);
	assert_int_equal(f->q->devs[dev_idx_of(h[1])].cslot_head, NIL);
	{
		struct delivered mine[6];
		size_t m = 0;

		for (i = 0; i < n; i++)
			if (g[i].dev_id == 20)
				mine[m++] = g[i];
		expect_answers(f, from, mine, m, IOPFQ_ANSWER_DETACH, IOPFQ_HW_INVALID);
	}
	assert_int_equal(cnt(f).groups_auto_answered, 4);
	assert_conserved(f);
	/* its cookies are dead; the other devices' are live, each answered once */
	for (i = 0; i < n; i++) {
		if (g[i].dev_id == 20) {
			assert_int_equal(respond1(f, g[i].cookie, IOPFQ_PAGE_RESP_SUCCESS),
					 -IOPFQ_EINVAL);
			continue;
		}
		from = f->tp.nresp;
		assert_int_equal(respond1(f, g[i].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
		assert_int_equal(f->tp.nresp, from + 1);
		assert_int_equal(f->tp.resp[from].origin, IOPFQ_ANSWER_USER);
		assert_int_equal(f->tp.resp[from].dev_id, g[i].dev_id);
		assert_int_equal(f->tp.resp[from].grpid, g[i].grpid);
	}
	check_lists(f);
	assert_int_equal(cnt(f).delivered, 0);
	assert_conserved(f);
	/* the other two detach with nothing left to answer */
	from = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, h[0]), 0);
	assert_int_equal(iopfq_dev_detach(f->q, h[2]), 0);
	assert_int_equal(f->tp.nresp, from);
	check_lists(f);
	assert_conserved(f);
}

/* A device with every delivered group answered: detach answers nothing */
static void test_detach_after_all_answered(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d, other;
	iopfq_u32 live, k;
	size_t from;

	fx_open(f, 2, 8, 0, 0);
	d = att(f, 10, 4, NULL);
	other = att(f, 20, 4, NULL);
	live = deliver(f, other, 0, 1, 1, 1);
	for (k = 0; k < 40; k++)
		assert_int_equal(respond1(f, deliver(f, d, 0, 1 + k % 3, k, 1),
					  IOPFQ_PAGE_RESP_SUCCESS), 1);
	check_lists(f);
	from = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, d), 0);
	assert_int_equal(f->tp.nresp, from);
	check_lists(f);
	assert_int_equal(respond1(f, live, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.resp[from].dev_id, 20);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* flush with and without a PASID                                          */

static void test_flush_revokes_only_its_pasid(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b;
	struct delivered g[16];
	size_t n = 0, i, from;
	iopfq_u32 k, ai = 0;
	struct delivered sel[16];
	size_t m;

	fx_open(f, 2, 32, 0, 0);
	a = att(f, 10, 16, NULL);
	b = att(f, 20, 16, NULL);
	ai = dev_idx_of(a);
	/* device 10: PASID 1 x3, PASID 2 x2, no PASID x2; device 20: PASID 1 x2 */
	for (k = 0; k < 9; k++) {
		struct delivered *x = &g[n++];
		static const struct {
			iopfq_u32 dev, pasid;
			int nopasid;
		} plan[9] = { { 10, 1, 0 }, { 20, 1, 0 }, { 10, 2, 0 }, { 10, 0, 1 }, { 10, 1, 0 },
			      { 20, 1, 0 }, { 10, 2, 0 }, { 10, 0, 1 }, { 10, 1, 0 } };

		x->dev_id = plan[k].dev;
		x->pasid = plan[k].pasid;
		x->nopasid = plan[k].nopasid;
		x->grpid = 100 + k;
		x->npages = 1 + k % 3;
		x->answered = 0;
		x->cookie = deliver(f, x->dev_id == 10 ? a : b, x->nopasid, x->pasid, x->grpid,
				    x->npages);
	}
	/* one of device 10's PASID 1 groups is answered before the flush */
	assert_int_equal(respond1(f, g[4].cookie, IOPFQ_PAGE_RESP_INVALID), 1);
	g[4].answered = 1;
	check_lists(f);

#define SELECT(cond)                                                                               \
	do {                                                                                       \
		m = 0;                                                                             \
		for (i = 0; i < n; i++)                                                            \
			if (cond)                                                                  \
				sel[m++] = g[i];                                                   \
	} while (0)

	/* PASID 1 of device 10 */
	from = f->tp.nresp;
	assert_int_equal(iopfq_flush(f->q, a, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	SELECT(g[i].dev_id == 10 && !g[i].nopasid && g[i].pasid == 1);
	expect_answers(f, from, sel, m, IOPFQ_ANSWER_FLUSH, IOPFQ_HW_INVALID);
	check_lists(f);
	/* the list is rebuilt from what stays: exactly the device's busy slots */
	assert_int_equal(busy_of(f->q, ai), 4);
	assert_int_equal(list_len(f->q, ai), 4);
	for (i = 0; i < m; i++)
		assert_int_equal(respond1(f, sel[i].cookie, 0), -IOPFQ_EINVAL);

	/* no PASID: the two requests without one, nothing on PASID 2 */
	from = f->tp.nresp;
	assert_int_equal(iopfq_flush(f->q, a, 0, 0), 0);
	SELECT(g[i].dev_id == 10 && g[i].nopasid);
	expect_answers(f, from, sel, m, IOPFQ_ANSWER_FLUSH, IOPFQ_HW_INVALID);
	check_lists(f);
	assert_int_equal(list_len(f->q, ai), 2);

	/* PASID 2 without response: nothing sent, pages discarded */
	{
		iopfq_u64 discarded = cnt(f).discarded;

		from = f->tp.nresp;
		assert_int_equal(iopfq_flush(f->q, a, 2,
					     IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE), 0);
		assert_int_equal(f->tp.nresp, from);
		assert_int_equal(cnt(f).discarded, discarded + g[2].npages + g[6].npages);
		assert_int_equal(respond1(f, g[2].cookie, 0), -IOPFQ_EINVAL);
		assert_int_equal(respond1(f, g[6].cookie, 0), -IOPFQ_EINVAL);
	}
	check_lists(f);
	assert_int_equal(list_len(f->q, ai), 0);

	/* device 20's PASID 1 groups were never touched */
	SELECT(g[i].dev_id == 20);
	assert_int_equal(m, 2);
	for (i = 0; i < m; i++) {
		from = f->tp.nresp;
		assert_int_equal(respond1(f, sel[i].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
		assert_int_equal(f->tp.resp[from].origin, IOPFQ_ANSWER_USER);
		assert_int_equal(f->tp.resp[from].grpid, sel[i].grpid);
	}
#undef SELECT
	check_lists(f);
	assert_int_equal(cnt(f).delivered, 0);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* restore                                                                 */

static void test_restore_unlinks(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[4];
	iopfq_dev_t d;
	size_t from;

	fx_open(f, 1, 4, 0, 0);
	d = att(f, 10, 4, NULL);
	rep_ok(f, d, 1, 1, 1, 0x1000);
	rep_ok(f, d, 1, 2, 1, 0x2000);
	assert_int_equal(iopfq_read(f->q, recs, 4), 2);
	assert_int_equal(list_len(f->q, dev_idx_of(d)), 2);
	assert_int_equal(iopfq_read_restore(f->q, recs, 2), 2);
	check_lists(f);
	assert_int_equal(list_len(f->q, dev_idx_of(d)), 0);
	assert_int_equal(iopfq_read(f->q, recs, 4), 2);
	check_lists(f);
	assert_int_equal(list_len(f->q, dev_idx_of(d)), 2);
	from = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, d), 0);
	assert_int_equal(f->tp.nresp, from + 2);
	check_lists(f);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* answered slots do not pile up                                           */

/*
 * Device 10 (@credits) delivers @rounds single-page groups in a table of
 * 1024 slots; another device holds most of the budget and one live cookie.
 * @policy picks which live group to answer after each read:
 *   0: each with probability 1 / (2 x @seed);
 *   1: when out of credits, one the reaper has just passed live (it stays
 *      on the list, dead, until the reaper comes round again);
 *   2: when out of credits, the oldest (answers in delivery order).
 * After every read the list holds at most 3 x credits + 2 slots.
 */
static void pile_up(struct fx *f, iopfq_u32 credits, int policy, unsigned seed, iopfq_u32 rounds)
{
	iopfq_u32 cookie_of[1024], nlive = 0, r, most = 0, di, bound = 3 * credits + 2;
	iopfq_dev_t d, other;
	size_t from;

	tp_clear(&f->tp);
	fx_open(f, 2, 512, 0, 0);
	d = att(f, 10, credits, NULL);
	other = att(f, 20, 512 - credits, NULL);
	(void)deliver(f, other, 0, 9, 9, 1);
	di = dev_idx_of(d);
	srand(seed);
	for (r = 0; r < rounds; r++) {
		iopfq_u32 k, len;

		if (nlive == credits && policy == 1 && f->q->devs[di].cslot_head != NIL) {
			/* the tail's predecessor: a slot the reaper just passed live */
			iopfq_u32 head = f->q->devs[di].cslot_head;
			iopfq_u32 si = f->q->cslots[f->q->cslots[head].dev_prev].dev_prev;
			iopfq_u32 c = f->q->cslots[si].cookie;

			for (k = 0; c && k < nlive; k++)
				if (cookie_of[k] == c) {
					assert_int_equal(respond1(f, c, 0), 1);
					memmove(cookie_of + k, cookie_of + k + 1,
						(--nlive - k) * sizeof(cookie_of[0]));
					break;
				}
		}
		if (nlive == credits) { /* out of credits: answer the oldest */
			assert_int_equal(respond1(f, cookie_of[0], 0), 1);
			memmove(cookie_of, cookie_of + 1, --nlive * sizeof(cookie_of[0]));
		}
		cookie_of[nlive++] = deliver(f, d, 0, 1, r % 512, 1);
		len = list_len(f->q, di);
		if (len > most)
			most = len;
		if (len > bound)
			fail_msg("credits %u policy %d round %u: %u slots on the list", credits,
				 policy, r, len);
		if (policy == 0) {
			for (k = 0; k < nlive;) {
				if (rand() % (int)(2 * seed) == 0) {
					assert_int_equal(respond1(f, cookie_of[k], 0), 1);
					memmove(cookie_of + k, cookie_of + k + 1,
						(--nlive - k) * sizeof(cookie_of[0]));
				} else {
					k++;
				}
			}
		}
	}
	check_lists(f);
	/* the table's 1024 slots went round 4 times (4096 rounds); the list stayed short */
	print_message("credits %u policy %d seed %u: at most %u slots on the list (bound %u)\n",
		      credits, policy, seed, most, bound);
	/* detach answers exactly the live ones */
	from = f->tp.nresp;
	assert_int_equal(iopfq_dev_detach(f->q, d), 0);
	assert_int_equal(f->tp.nresp - from, nlive);
	check_lists(f);
	assert_conserved(f);
	tp_queue_free(f->q);
	f->q = NULL;
}

static void test_answered_slots_do_not_pile_up(void **state)
{
	struct fx *f = *state;
	static const iopfq_u32 credits[] = { 1, 2, 3, 5, 8, 32 };
	unsigned i, seed;

	for (i = 0; i < sizeof(credits) / sizeof(credits[0]); i++) {
		for (seed = 1; seed <= 3; seed++)
			pile_up(f, credits[i], 0, seed, 4 * 1024);
		pile_up(f, credits[i], 1, 0, 4 * 1024);
		pile_up(f, credits[i], 2, 0, 4 * 1024);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_detach_revokes_only_its_cookies),
		T(test_detach_after_all_answered),
		T(test_flush_revokes_only_its_pasid),
		T(test_restore_unlinks),
		T(test_answered_slots_do_not_pile_up),
#undef T
	};

	tp_thread_online();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
