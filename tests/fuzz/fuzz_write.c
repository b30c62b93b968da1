/* SPDX-License-Identifier: MIT */
/*
 * fuzz_write.c - libFuzzer target for the answer path (what a fault FD's
 * write() feeds the core): arbitrary bytes become batches of
 * iommu_hwpt_page_response records against a queue holding delivered
 * groups.
 *
 * Input layout: byte 0 picks how many groups to deliver (1..8, sizes from
 * the following bytes); the rest is cut into batches (a length byte, then
 * that many 8-byte records). A record's cookie is used raw, or, when its top
 * byte is 0xc0..0xff, replaced by one of the cookies actually issued (so the
 * fuzzer reaches live, answered and revoked cookies, not only garbage).
 * Between batches, a flush or a re-read may run (also chosen by input).
 *
 * Checked on every call, against a shadow of which cookies are live:
 *   - the result is exactly what the kernel's write() rule predicts: the
 *     number of leading entries that are valid, or -EINVAL if the first is
 *     not; a batch never consumes an entry after a bad one;
 *   - the page_response hook ran once per consumed entry, for the group the
 *     cookie was issued for, with the code asked for;
 *   - a rejected entry changed nothing: counters equal before and after but
 *     for bad_answers + 1 (and the consumed entries' own counts);
 *   - no group is ever answered twice (user or flush);
 *   - the conservation law holds after every step, and after the final
 *     detach every delivered group has been answered exactly once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_platform.h"

#define MAXG 8

struct shadow_group {
	uint32_t cookie;
	uint32_t dev_id, pasid, grpid, npages;
	int answered;           /* times answered: user + flush + detach */
};

static struct shadow_group groups[MAXG];
static int ngroups;

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_write: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			abort();                                               \
		}                                                              \
	} while (0)

static struct shadow_group *group_of(uint32_t dev_id, uint32_t grpid)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i].dev_id == dev_id && groups[i].grpid == grpid)
			return &groups[i];
	return NULL;
}

static struct shadow_group *group_by_cookie(uint32_t cookie)
{
	for (int i = 0; i < ngroups; i++)
		if (groups[i].cookie == cookie && cookie)
			return &groups[i];
	return NULL;
}

/* Account the responses recorded since @from; return how many. */
static size_t take_responses(struct tp_ctx *tp, size_t from, uint32_t origin_expected)
{
	for (size_t i = from; i < tp->nresp; i++) {
		const struct iopfq_response *r = &tp->resp[i];
		struct shadow_group *g = group_of(r->dev_id, r->grpid);

		FUZZ_CHECK(g != NULL);
		FUZZ_CHECK(r->origin == origin_expected);
		FUZZ_CHECK(r->npages == g->npages);
		g->answered++;
		FUZZ_CHECK(g->answered == 1);   /* never answered twice */
	}
	return tp->nresp - from;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iopfq_config cfg = { .max_devices = 2, .credit_budget = 16, .cookie_gen_bits = 3 };
	struct iopfq_hwpt_pgfault recs[64];
	struct iopfq_counters before, after;
	iopfq_dev_t dev[2];
	struct tp_ctx tp;
	struct iopfq *q;
	size_t off = 0;
	int err, n, i;

	tp_init(&tp);
	q = tp_queue_new(&cfg, &tp, &err);
	FUZZ_CHECK(q != NULL);
	FUZZ_CHECK(iopfq_dev_attach(q, 10, 8, NULL, &dev[0]) == 0);
	FUZZ_CHECK(iopfq_dev_attach(q, 11, 8, NULL, &dev[1]) == 0);

	/* deliver 1..8 groups of 1..2 pages, alternating devices and PASIDs */
	ngroups = 1 + (size > 0 ? data[off++] % MAXG : 0);
	for (i = 0; i < ngroups; i++) {
		uint32_t pages = 1 + (off < size ? data[off++] % 2 : 0);
		struct shadow_group *g = &groups[i];

		memset(g, 0, sizeof(*g));
		g->dev_id = 10 + (uint32_t)(i & 1);
		g->pasid = 1 + (uint32_t)(i % 3);
		g->grpid = (uint32_t)i;
		g->npages = pages;
		for (uint32_t p = 0; p < pages; p++) {
			struct iopfq_request req = tp_req(g->pasid, g->grpid, p + 1 == pages, p);

			FUZZ_CHECK(iopfq_report(q, dev[i & 1], &req, NULL) == 0);
		}
	}
	n = iopfq_read(q, recs, 64);
	FUZZ_CHECK(n > 0);
	for (i = 0; i < n; i++) {
		struct shadow_group *g = group_of(recs[i].dev_id, recs[i].grpid);

		FUZZ_CHECK(g && recs[i].cookie);
		g->cookie = recs[i].cookie;
	}

	while (off < size) {
		uint8_t op = data[off++];

		if (op >= 0xf8) {
			/* a flush of one (device, PASID) between batches */
			uint32_t d = op & 1, pasid = 1 + (uint32_t)((op >> 1) % 3);
			size_t from = tp.nresp;

			FUZZ_CHECK(iopfq_flush(q, dev[d], pasid, IOPFQ_FLUSH_PASID_VALID) == 0);
			take_responses(&tp, from, IOPFQ_ANSWER_FLUSH);
			for (i = 0; i < ngroups; i++)
				if (groups[i].dev_id == 10 + d && groups[i].pasid == pasid)
					FUZZ_CHECK(groups[i].answered == 1);
			continue;
		}

		/* a batch of up to 16 records */
		uint32_t count = op % 17, k, expect = 0;
		struct iopfq_hwpt_page_response resp[16];
		int bad_seen = 0, rc;
		size_t from = tp.nresp;

		for (k = 0; k < count; k++) {
			uint8_t raw[8] = { 0 };
			struct shadow_group *g;

			for (int b = 0; b < 8 && off < size; b++)
				raw[b] = data[off++];
			memcpy(&resp[k].cookie, raw, 4);
			memcpy(&resp[k].code, raw + 4, 4);
			if (raw[3] >= 0xc0)
				resp[k].cookie = groups[raw[3] % ngroups].cookie;
			if (raw[7] >= 0x80)
				resp[k].code &= 1; /* mostly valid codes */
			g = group_by_cookie(resp[k].cookie);
			/* the kernel's rule: valid code and a live cookie, and no bad entry before */
			if (!bad_seen && g && !g->answered && resp[k].code <= 1) {
				/* a cookie repeated inside the batch is live only the first time */
				int repeated = 0;

				for (uint32_t j = 0; j < k; j++)
					repeated |= resp[j].cookie == resp[k].cookie;
				if (!repeated)
					expect++;
				else
					bad_seen = 1;
			} else {
				bad_seen = 1;
			}
		}
		iopfq_counters(q, &before);
		rc = iopfq_respond(q, resp, count);
		iopfq_counters(q, &after);
		if (count == 0) {
			FUZZ_CHECK(rc == 0);
		} else if (expect == 0) {
			FUZZ_CHECK(rc == -IOPFQ_EINVAL);
		} else {
			FUZZ_CHECK(rc == (int)expect);
		}
		FUZZ_CHECK(take_responses(&tp, from, IOPFQ_ANSWER_USER) == expect);
		for (k = 0; k < expect; k++) {
			const struct iopfq_response *r = &tp.resp[from + k];

			FUZZ_CHECK(r->code == resp[k].code);
			FUZZ_CHECK(group_by_cookie(resp[k].cookie) == group_of(r->dev_id, r->grpid));
		}
		/* everything else unchanged; one bad answer counted if the batch stopped early */
		FUZZ_CHECK(after.groups_answered == before.groups_answered + expect);
		FUZZ_CHECK(after.bad_answers == before.bad_answers + (count && expect < count ? 1 : 0));
		FUZZ_CHECK(after.accepted == before.accepted && after.partial == before.partial &&
			   after.ready == before.ready && after.groups_delivered == before.groups_delivered &&
			   after.auto_answered == before.auto_answered);
		FUZZ_CHECK(tp_conserved(&after));
	}

	/* detach answers everything left, exactly once */
	{
		size_t from = tp.nresp;

		FUZZ_CHECK(iopfq_dev_detach(q, dev[0]) == 0);
		FUZZ_CHECK(iopfq_dev_detach(q, dev[1]) == 0);
		take_responses(&tp, from, IOPFQ_ANSWER_DETACH);
	}
	for (i = 0; i < ngroups; i++)
		FUZZ_CHECK(groups[i].answered == 1);
	iopfq_counters(q, &after);
	FUZZ_CHECK(tp_conserved(&after));
	FUZZ_CHECK(after.delivered == 0 && after.credits_attached == 0);

	tp_queue_free(q);
	tp_destroy(&tp);
	return 0;
}
