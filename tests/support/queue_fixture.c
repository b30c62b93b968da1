/* SPDX-License-Identifier: MIT */
/* queue_fixture.c - see queue_fixture.h */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue_fixture.h"

int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	tp_init(&f->tp);
	*state = f;
	return 0;
}

int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->q)
		tp_queue_free(f->q);
	tp_destroy(&f->tp);
	free(f);
	return 0;
}

void fx_open(struct fx *f, iopfq_u32 max_devices, iopfq_u32 budget, iopfq_u32 marker_credits,
	     iopfq_u32 gen_bits)
{
	int err = 1;

	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.max_devices = max_devices;
	f->cfg.credit_budget = budget;
	f->cfg.marker_credits = marker_credits;
	f->cfg.cookie_gen_bits = gen_bits;
	f->q = tp_queue_new(&f->cfg, &f->tp, &err);
	assert_non_null(f->q);
	assert_int_equal(err, 0);
}

iopfq_dev_t att(struct fx *f, iopfq_u32 dev_id, iopfq_u32 credits, void *ctx)
{
	iopfq_dev_t h = 0;

	assert_int_equal(iopfq_dev_attach(f->q, dev_id, credits, ctx, &h), 0);
	assert_int_not_equal(h, 0);
	return h;
}

struct iopfq_request req_nopasid(iopfq_u32 grpid, int last, iopfq_u64 addr)
{
	struct iopfq_request r = tp_req(0, grpid, last, addr);

	r.flags &= ~IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	return r;
}

int rep(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid, iopfq_u32 grpid, int last, iopfq_u64 addr)
{
	struct iopfq_request r = tp_req(pasid, grpid, last, addr);

	return tp_report(f->q, d, &r, NULL);
}

void rep_ok(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid, iopfq_u32 grpid, int last, iopfq_u64 addr)
{
	assert_int_equal(rep(f, d, pasid, grpid, last, addr), 0);
}

struct iopfq_counters cnt(struct fx *f)
{
	struct iopfq_counters c;

	memset(&c, 0x5a, sizeof(c));
	iopfq_counters(f->q, &c);
	return c;
}

void assert_counters_eq(const struct iopfq_counters *got, const struct iopfq_counters *want)
{
	int bad = 0;

#define X(type, fld)                                                                               \
	if (got->fld != want->fld) {                                                               \
		print_error("counter %s: got %llu, want %llu\n", #fld,                             \
			    (unsigned long long)got->fld, (unsigned long long)want->fld);          \
		bad = 1;                                                                           \
	}
	IOPFQ_COUNTERS(X)
#undef X
	if (bad)
		fail_msg("counters differ");
}

void assert_conserved(struct fx *f)
{
	struct iopfq_counters c = cnt(f);

	if (!tp_conserved(&c))
		fail_msg("conservation broken: accepted %llu in_ring %llu partial %llu ready %llu "
			 "delivered %llu answered %llu auto %llu discarded %llu",
			 (unsigned long long)c.accepted, (unsigned long long)c.in_ring,
			 (unsigned long long)c.partial, (unsigned long long)c.ready,
			 (unsigned long long)c.delivered, (unsigned long long)c.answered,
			 (unsigned long long)c.auto_answered, (unsigned long long)c.discarded);
	assert_int_equal(c.ring_claim_waits, 0);
}

void snap_take(struct fx *f, struct snap *s)
{
	s->next_size = iopfq_next_group_size(f->q); /* drains the ring first */
	s->c = cnt(f);
	s->nresp = f->tp.nresp;
	s->naged = f->tp.naged;
	s->notifies = f->tp.notifies;
	s->synchronizes = f->tp.synchronizes;
}

/* @s: the snapshot, with the documented refusal counter already bumped */
void snap_check(struct fx *f, const struct snap *s)
{
	struct iopfq_counters c = cnt(f);

	assert_counters_eq(&c, &s->c);
	assert_int_equal(f->tp.nresp, s->nresp);
	assert_int_equal(f->tp.naged, s->naged);
	assert_int_equal(f->tp.notifies, s->notifies);
	assert_int_equal(iopfq_next_group_size(f->q), s->next_size);
	c = cnt(f);
	assert_counters_eq(&c, &s->c);
	assert_conserved(f);
}

size_t count_resp(struct fx *f, size_t from, iopfq_u32 dev_id)
{
	size_t i, n = 0;

	for (i = from; i < f->tp.nresp; i++)
		n += f->tp.resp[i].dev_id == dev_id;
	return n;
}

const struct iopfq_response *find_resp(struct fx *f, size_t from, iopfq_u32 dev_id, iopfq_u32 pasid,
				       iopfq_u32 grpid)
{
	const struct iopfq_response *hit = NULL;
	size_t i;

	for (i = from; i < f->tp.nresp; i++) {
		const struct iopfq_response *r = &f->tp.resp[i];

		if (r->dev_id == dev_id && r->pasid == pasid && r->grpid == grpid) {
			assert_null(hit); /* at most one answer per group */
			hit = r;
		}
	}
	return hit;
}

/* Read exactly one group of @npages records; return its cookie. */
iopfq_u32 read_group(struct fx *f, iopfq_u32 npages)
{
	struct iopfq_hwpt_pgfault recs[16];

	assert_true(npages <= 16);
	assert_int_equal(iopfq_next_group_size(f->q), npages);
	assert_int_equal(iopfq_read(f->q, recs, npages), (int)npages);
	assert_int_not_equal(recs[0].cookie, 0);
	return recs[0].cookie;
}

int respond1(struct fx *f, iopfq_u32 cookie, iopfq_u32 code)
{
	struct iopfq_hwpt_page_response r = {.cookie = cookie, .code = code};

	return iopfq_respond(f->q, &r, 1);
}

/* Read and answer SUCCESS every queued group; return the records read. */
int drain_all(struct fx *f)
{
	struct iopfq_hwpt_pgfault recs[64];
	int n, i, total = 0;

	while ((n = iopfq_read(f->q, recs, 64)) > 0) {
		total += n;
		for (i = 0; i < n; i++)
			if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
				assert_int_equal(respond1(f, recs[i].cookie, 0), 1);
	}
	assert_int_equal(n, 0);
	return total;
}
