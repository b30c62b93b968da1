/* SPDX-License-Identifier: MIT */
/*
 * cookies.c - the response table: a cookie is claimed for each group at
 * read, answered by iopfq_respond(), or revoked (detach, flush, a read whose
 * records did not reach the user).
 *
 * May touch: the response-table slots (struct iopfq_cslot), the cursor
 * that allocates them, the answer statistics; the ready FIFO and the group
 * tables only through groups.c; credits and the answering count through the
 * device table's inline helpers (X1, X3, X4).
 *
 * Concurrency role: iopfq_respond() runs on any number of threads at once
 * and takes a group's answer with one CAS on its slot's cookie (K2); the
 * reader (consumer side) fills a slot before it publishes the cookie (K1)
 * and reuses it only after the answer's release of busy (K0/K3). Revokes run
 * on the consumer side and race answers through the same CAS. Each device's
 * list of issued slots, which lets a revoke visit only that device's slots,
 * is the consumer side's alone: answers never touch it.
 */
#include "internal.h"

/* ---------------------------------------------------------------------- */
/* each device's issued slots (consumer side only)                         */

/*
 * The reader links every slot it issues onto its device's list (circular,
 * doubly linked through dev_next/dev_prev, from devs[].cslot_head). An
 * answer cannot unlink it (the links are not the answerers'), so an
 * answered slot stays on the list, dead (busy == 0), until the consumer
 * side takes it off: a revoke walking the list, iopfq_read_restore(), the
 * slot's reuse by the reader, or the reaper. The invariant a revoke needs:
 *
 *	busy == 1  implies  the slot is on the list of devs[dev_idx]
 *
 * holds whenever a revoke can look, because busy goes from 0 to 1 only in
 * iopfq_read(), which links the slot before it moves on to the next group
 * (a revoke runs on the consumer side, never inside a read), and a slot
 * leaves the list only when the consumer side saw busy == 0 (K0 or K0'),
 * or when it owns the slot's answer (its own K2), or waited for the answer
 * that did (K0').
 *
 * The reaper keeps the dead from piling up: each delivery (one group that
 * iopfq_read() hands out) looks at the list's head twice, then links its
 * slot at the tail; a dead head is unlinked, a live one becomes the tail
 * (the head moves on). Looking before linking is the cheap order: with one
 * fault at a time, the list is the one answered slot, which goes, and the
 * new slot is linked into an empty list (linking first made each delivery
 * splice into a list of two and unlink from it again; docs/perf.md has the
 * measured difference). Bound, with C the device's credits (a busy slot's
 * group holds credits until after K3, so at most C of its slots are busy):
 * take a pass of the reaper over the Q slots on the list at some instant.
 * It takes at most ceil(Q/2) deliveries, which link at most that many new
 * slots, and the slots it passes live were busy since the pass began: at
 * most C. So a pass ends with at most C + ceil(Q/2) slots, and from an
 * empty list every pass ends with at most 2C + 1. Within a pass, the r-th
 * delivery has added r slots and dropped all but C of the 2r it looked at:
 * at most C/2 more, plus the one just linked. A device's list never holds
 * more than 3C + 2 slots, whatever the size of the table (unit_test_revoke
 * checks it under adversarial answer orders).
 */

static void cslot_link(struct iopfq *q, iopfq_u32 si)
{
	struct iopfq_cslot *cs = &q->cslots[si];
	struct iopfq_dev *d = &q->devs[cs->dev_idx];
	iopfq_u32 head = d->cslot_head;

	if (head == NIL) {
		cs->dev_next = cs->dev_prev = si;
		d->cslot_head = si;
		return;
	}
	/* at the tail: just before the head, the last the reaper reaches */
	cs->dev_next = head;
	cs->dev_prev = q->cslots[head].dev_prev;
	q->cslots[cs->dev_prev].dev_next = si;
	q->cslots[head].dev_prev = si;
}

static void cslot_unlink(struct iopfq *q, iopfq_u32 si)
{
	struct iopfq_cslot *cs = &q->cslots[si];
	struct iopfq_dev *d = &q->devs[cs->dev_idx];

	if (cs->dev_next == si) {
		d->cslot_head = NIL;
	} else {
		q->cslots[cs->dev_prev].dev_next = cs->dev_next;
		q->cslots[cs->dev_next].dev_prev = cs->dev_prev;
		if (d->cslot_head == si)
			d->cslot_head = cs->dev_next;
	}
	cs->dev_next = cs->dev_prev = NIL;
}

/* The reaper: look at the head of @d's list twice (see above). */
static void cslots_reap(struct iopfq *q, struct iopfq_dev *d)
{
	int step;

	for (step = 0; step < 2 && d->cslot_head != NIL; step++) {
		iopfq_u32 si = d->cslot_head;

		/*
		 * K0': load-acquire of busy; establishes a synchronizing edge
		 * with the store-release of busy at K3 (a slot seen free has
		 * counted its answer in answering, X3: detach still waits for
		 * it at X6 once the slot is off the list).
		 */
		if (!IOPFQ_LOAD_ACQUIRE(&q->cslots[si].busy))
			cslot_unlink(q, si);
		else
			d->cslot_head = q->cslots[si].dev_next;
	}
}

/* ---------------------------------------------------------------------- */
/* read: complete groups out, cookies in                                   */

/*
 * The next reusable response slot, round-robin from the last one issued:
 * the free slot whose previous use is oldest. At most budget slots are busy
 * (each busy slot's group holds a credit, returned before the slot is freed)
 * and there are >= 2 * budget slots, so the scan finds one, after at most
 * 2 probes on average.
 */
static iopfq_u32 cookie_slot_alloc(struct iopfq *q)
{
	iopfq_u32 n;

	for (n = 0; n <= q->cookie_index_mask; n++) {
		iopfq_u32 s = q->cookie_cursor;

		q->cookie_cursor = (s + 1) & q->cookie_index_mask;
		/*
		 * K0: load-acquire of busy; establishes a synchronizing edge with
		 * the store-release of busy at K3.
		 */
		if (!IOPFQ_LOAD_ACQUIRE(&q->cslots[s].busy))
			return s;
	}
	return NIL;
}

int iopfq_read(struct iopfq *q, struct iopfq_hwpt_pgfault *recs, iopfq_u32 max)
{
	iopfq_u32 written = 0;

	if (!q || (!recs && max))
		return -IOPFQ_EINVAL;
	iopfq_drain(q);
	for (;;) {
		iopfq_u32 gi = iopfq_ready_next(q);
		struct iopfq_group *g;
		struct iopfq_dev *d;
		struct iopfq_cslot *cs;
		iopfq_u32 si, gen, cookie;

		if (gi == NIL)
			break;
		g = &q->groups[gi];
		d = &q->devs[g->dev_idx];
		if (g->npages > max - written)
			break;
		si = cookie_slot_alloc(q);
		if (IOPFQ_WARN_ON(si == NIL))
			break;
		cs = &q->cslots[si];
		if (cs->dev_next != NIL) /* answered, still on its old device's list */
			cslot_unlink(q, si);
		gen = cs->gen + 1;
		if (gen > q->cookie_gen_max)
			gen = 1;
		cs->gen = gen;
		cookie = (gen << q->geo.cookie_index_bits) | si;

		iopfq_group_records(q, gi, recs + written, cookie);
		written += g->npages;

		cs->dev_idx = g->dev_idx;
		cs->dev_id = d->dev_id;
		cs->dev_ctx = d->dev_ctx;
		cs->pasid = g->pasid;
		cs->grpid = g->grpid;
		cs->flags = g->flags;
		cs->npages = g->npages;
		cs->first_ns = g->first_ns;
		cs->warned = g->warned;
		IOPFQ_STORE_RELAXED(&cs->busy, 1); /* relaxed: K1 below publishes it */
		/*
		 * K1: store-release of cookie; establishes a synchronizing edge
		 * with the compare-and-swap of cookie at K2 (the winner of the
		 * cookie sees the slot written above).
		 */
		IOPFQ_STORE_RELEASE(&cs->cookie, cookie);
		IOPFQ_PROBE(deliver, d->dev_id, cookie, g->npages, g->pasid);
		cslots_reap(q, d);
		cslot_link(q, si);

		iopfq_ready_pop(q, gi);
	}
	return (int)written;
}

/*
 * The records of one delivered group at @r (at most @n of them), checked
 * against its response slot: the cookie is live, and every record is one
 * of that group's, as iopfq_read() wrote it. Return: the group's record
 * count, or 0 if @r does not start a whole delivered group.
 */
static iopfq_u32 restore_group_len(struct iopfq *q, const struct iopfq_hwpt_pgfault *r,
				   iopfq_u32 n)
{
	iopfq_u32 cookie = r->cookie, si = cookie & q->cookie_index_mask, k;
	const struct iopfq_cslot *cs = &q->cslots[si];

	/*
	 * Relaxed: a check only. The consumer side wrote the slot itself; an
	 * answer can only move the cookie to 0, and the restore's CAS (K2)
	 * decides that race.
	 */
	if ((cookie >> q->geo.cookie_index_bits) == 0 ||
	    IOPFQ_LOAD_RELAXED(&cs->cookie) != cookie || cs->npages > n)
		return 0;
	for (k = 0; k < cs->npages; k++) {
		struct iopfq_request req;

		req.flags = r[k].flags;
		req.pasid = r[k].pasid;
		req.grpid = r[k].grpid;
		req.perm = r[k].perm;
		req.addr = r[k].addr;
		if (r[k].cookie != cookie || r[k].dev_id != cs->dev_id || r[k].pasid != cs->pasid ||
		    r[k].grpid != cs->grpid ||
		    (r[k].flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) != cs->flags ||
		    !(r[k].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) != (k + 1 < cs->npages) ||
		    !request_is_valid(&req) || request_is_marker(&req))
			return 0;
	}
	return cs->npages;
}

int iopfq_read_restore(struct iopfq *q, const struct iopfq_hwpt_pgfault *recs, iopfq_u32 n)
{
	iopfq_u32 i, len, after = NIL;
	int restored = 0;

	if (!q || (!recs && n))
		return -IOPFQ_EINVAL;
	/* all or nothing: every group is checked before any is touched */
	for (i = 0; i < n; i += len) {
		len = restore_group_len(q, recs + i, n - i);
		if (!len)
			return -IOPFQ_EINVAL;
	}
	for (i = 0; i < n; i += len) {
		iopfq_u32 cookie = recs[i].cookie;
		struct iopfq_cslot *cs = &q->cslots[cookie & q->cookie_index_mask];

		len = cs->npages;
		/*
		 * K2: compare-and-swap of cookie (acq_rel); establishes a
		 * synchronizing edge with the store-release of cookie at K1.
		 * The revoke, as detach's: if an answer won the cookie meanwhile
		 * (its writer saw the part of the buffer that reached it), the
		 * group is answered and gone: nothing to queue again.
		 */
		if (IOPFQ_CAS_ACQ_REL(&cs->cookie, cookie, 0u) != cookie)
			continue;
		after = iopfq_group_restore(q, cs, recs + i, after);
		cslot_unlink(q, (iopfq_u32)(cs - q->cslots));
		consumer_add(&q->ready, len);
		consumer_sub(&q->delivered_total, len);
		consumer_sub(&q->groups_delivered, 1);
		/*
		 * K3: store-release of busy; establishes a synchronizing edge with
		 * the load-acquire of busy at K0 or K0'.
		 */
		IOPFQ_STORE_RELEASE(&cs->busy, 0u);
		restored++;
	}
	return restored;
}

/* ---------------------------------------------------------------------- */
/* answers and revokes                                                     */

/*
 * We own the answer of response slot @cs (our CAS took its cookie): free the
 * slot, then answer the group with @code (IOPFQ_HW_NONE: nothing), which
 * gives its credits back first (iopfq_group_answer()).
 *
 * Order: the slot is freed while the group still holds its credits, so at
 * most budget slots are ever busy and the reader always finds a free one.
 * The device's `answering` count covers the whole window, so flush and
 * detach can wait for answers still sending (X3/X4).
 */
static void cslot_finish(struct iopfq *q, struct iopfq_cslot *cs, iopfq_u32 code,
			 iopfq_u32 origin)
{
	iopfq_u32 dev_idx = cs->dev_idx;
	struct iopfq_dev *d = &q->devs[dev_idx];
	struct iopfq_response r;

	/* the slot is the reader's again after K3: copy the group out first */
	r.dev_id = cs->dev_id;
	r.pasid = cs->pasid;
	r.grpid = cs->grpid;
	r.flags = cs->flags;
	r.code = code;
	r.npages = cs->npages;
	r.origin = origin;
	r.dev_ctx = cs->dev_ctx;

	answer_begin(d); /* X3 */
	/*
	 * K3: store-release of busy; establishes a synchronizing edge with the
	 * load-acquire of busy at K0 or K0'.
	 */
	IOPFQ_STORE_RELEASE(&cs->busy, 0u);
	if (origin != IOPFQ_ANSWER_USER)
		consumer_add(&q->delivered_revoked, r.npages); /* consumer side: detach or flush */
	iopfq_group_answer(q, dev_idx, &r);
	answer_end(d); /* X4 */
}

static int answer_one(struct iopfq *q, iopfq_u32 cookie, iopfq_u32 code)
{
	iopfq_u32 si = cookie & q->cookie_index_mask;
	iopfq_u32 gen = cookie >> q->geo.cookie_index_bits;

	if (code != IOPFQ_PAGE_RESP_SUCCESS && code != IOPFQ_PAGE_RESP_INVALID)
		goto bad;
	if (gen == 0 || gen > q->cookie_gen_max)
		goto bad;
	/*
	 * K2: compare-and-swap of cookie (acq_rel); establishes a
	 * synchronizing edge with the store-release of cookie at K1. The
	 * claim: exactly one of racing answers and revokes (detach, flush)
	 * moves the slot off the cookie, and its acquire on success is what
	 * makes the winner see the slot's group (not only its atomicity).
	 */
	if (IOPFQ_CAS_ACQ_REL(&q->cslots[si].cookie, cookie, 0u) != cookie)
		goto bad;
	if (IOPFQ_PROBE_ENABLED(answer))
		IOPFQ_PROBE(answer, q->cslots[si].dev_id, cookie, code,
			    q->ops.now_ns(q->ctx) - q->cslots[si].first_ns);
	cslot_finish(q, &q->cslots[si],
		     code == IOPFQ_PAGE_RESP_SUCCESS ? IOPFQ_HW_SUCCESS : IOPFQ_HW_INVALID,
		     IOPFQ_ANSWER_USER);
	return 0;
bad:
	IOPFQ_STAT_ADD(&q->bad_answers, 1);
	return -IOPFQ_EINVAL;
}

int iopfq_respond(struct iopfq *q, const struct iopfq_hwpt_page_response *resp, iopfq_u32 n)
{
	iopfq_u32 done;
	int rc = 0;

	if (!q || (!resp && n))
		return -IOPFQ_EINVAL;
	for (done = 0; done < n; done++) {
		rc = answer_one(q, resp[done].cookie, resp[done].code);
		if (rc)
			break;
	}
	return done ? (int)done : rc;
}

/*
 * Delivered groups of a flush or detach: revoke the cookie, or wait for the
 * answer that won it. Walks only the victim device's list (at most 3 x
 * its credits + 2 slots, see above), never the table: every busy slot of the
 * device is on it. The list is taken whole and rebuilt from the slots that
 * stay (a flush's other PASIDs, still busy); dead slots are dropped.
 */
void iopfq_cookies_revoke(struct iopfq *q, const struct iopfq_victims *v)
{
	struct iopfq_dev *d = &q->devs[v->dev_idx];
	iopfq_u32 si = d->cslot_head, n;

	if (si == NIL)
		return;
	/* open the circle: the walk ends at NIL */
	q->cslots[q->cslots[si].dev_prev].dev_next = NIL;
	d->cslot_head = NIL;
	for (; si != NIL; si = n) {
		struct iopfq_cslot *cs = &q->cslots[si];
		iopfq_u32 cookie;

		n = cs->dev_next;
		cs->dev_next = cs->dev_prev = NIL;
		/*
		 * K0': load-acquire of busy; establishes a synchronizing edge with
		 * the store-release of busy at K3.
		 */
		if (!IOPFQ_LOAD_ACQUIRE(&cs->busy))
			continue; /* answered: X3 is counted, X6 waits for X4 */
		if (!victim_matches(v, cs->dev_idx, cs->flags, cs->pasid)) {
			cslot_link(q, si);
			continue;
		}
		/* relaxed: only the expected value of the CAS below, which decides */
		cookie = IOPFQ_LOAD_RELAXED(&cs->cookie);
		/*
		 * K2: compare-and-swap of cookie (acq_rel); establishes a
		 * synchronizing edge with the store-release of cookie at K1.
		 */
		if (cookie && IOPFQ_CAS_ACQ_REL(&cs->cookie, cookie, 0u) == cookie) {
			cslot_finish(q, cs, v->code, v->origin);
			continue;
		}
		/* an answer on another thread owns it; X3 is counted before busy clears */
		while (IOPFQ_LOAD_ACQUIRE(&cs->busy)) /* K0' */
			wait_relax(q);
	}
}
