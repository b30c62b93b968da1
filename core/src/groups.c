/* SPDX-License-Identifier: MIT */
/*
 * groups.c - group assembly: the drain of the ring into pages and groups,
 * the hash of partial groups, each device's list of partial groups, the
 * complete (ready) groups and the order they are delivered in (the
 * delivery policy), and the free lists of page and group slots; plus the
 * records a ready group becomes at read.
 *
 * May touch: the page and group tables, the hash buckets, the ready lists,
 * each device's consumer-only fields (partial and ready lists, turn links)
 * and the turn, the consumer-side counters; the ring
 * through ring.h (peek and consume, the consumer's side: C1, C2). Credits go
 * back through the device table (devices.c, inline X1; X2).
 *
 * Concurrency role: consumer side only, one caller at a time (the adapter's
 * lock). No read-modify-write atomic and no ordering of its own: the only
 * atomic accesses here are relaxed stores of counters that iopfq_counters()
 * reads from any thread, and the relaxed loads (ring.h) of the next slot's
 * seq and of tail that bound a drain pass.
 */
#include "internal.h"

static iopfq_u32 group_hash(const struct iopfq *q, iopfq_u32 dev_idx, iopfq_u32 flags,
			    iopfq_u32 pasid, iopfq_u32 grpid)
{
	iopfq_u32 h = dev_idx * 0x9e3779b1u;

	h ^= (pasid | ((flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) << 20)) * 0x85ebca77u;
	h ^= grpid * 0xc2b2ae3du;
	h ^= h >> 15;
	return h & (q->geo.hash_buckets - 1);
}

static int group_matches(const struct iopfq_group *g, iopfq_u32 dev_idx, iopfq_u32 flags,
			 iopfq_u32 pasid, iopfq_u32 grpid)
{
	return g->dev_idx == dev_idx && g->pasid == pasid && g->grpid == grpid &&
	       (g->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) ==
		       (flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID);
}

static void group_unhash(struct iopfq *q, iopfq_u32 gi)
{
	struct iopfq_group *g = &q->groups[gi];
	iopfq_u32 *link = &q->hash[group_hash(q, g->dev_idx, g->flags, g->pasid, g->grpid)];

	while (*link != gi)
		link = &q->groups[*link].hash_next;
	*link = g->hash_next;
}

static void partial_unlink(struct iopfq *q, iopfq_u32 gi)
{
	struct iopfq_group *g = &q->groups[gi];

	if (g->prev != NIL)
		q->groups[g->prev].next = g->next;
	else
		q->devs[g->dev_idx].partial_head = g->next;
	if (g->next != NIL)
		q->groups[g->next].prev = g->prev;
}

static void group_free_pages(struct iopfq *q, struct iopfq_group *g)
{
	/* the group's pages are a chain; splice it onto the free list */
	q->pages[g->last_page].next = q->page_free;
	q->page_free = g->first_page;
}

static void group_release(struct iopfq *q, iopfq_u32 gi)
{
	struct iopfq_group *g = &q->groups[gi];

	group_free_pages(q, g);
	g->where = WHERE_FREE;
	g->next = q->group_free;
	q->group_free = gi;
}


/* Drop a partial group without answer (marker, flush, detach). */
static void partial_discard(struct iopfq *q, iopfq_u32 gi, int by_marker)
{
	struct iopfq_group *g = &q->groups[gi];
	iopfq_u32 n = g->npages;

	group_unhash(q, gi);
	partial_unlink(q, gi);
	consumer_sub(&q->partial, n);
	consumer_add(&q->discarded, n);
	if (by_marker)
		consumer_add(&q->discarded_by_marker, n);
	credits_return(q, g->dev_idx, n); /* X1 */
	group_release(q, gi);
}

static void drain_marker(struct iopfq *q, iopfq_u32 dev_idx, iopfq_u32 pasid)
{
	struct iopfq_dev *d = &q->devs[dev_idx];
	iopfq_u32 gi = d->partial_head;

	/* pages of this PASID queued before the marker are stale */
	while (gi != NIL) {
		iopfq_u32 next = q->groups[gi].next;

		if ((q->groups[gi].flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) &&
		    q->groups[gi].pasid == pasid)
			partial_discard(q, gi, 1);
		gi = next;
	}
	iopfq_marker_credit_return(q, dev_idx); /* X2 */
}

/*
 * The complete groups and the delivery order (docs/design.md, "Delivery
 * order"). Each complete group is on two lists: all devices' in completion
 * order (doubly linked: what IOPFQ_DELIVER_COMPLETION reads, and where a
 * restored group is inserted) and its device's (singly linked, the same
 * order restricted to the device: what flush and detach walk). The devices
 * whose list is not empty form a circular list, the turn, with q->turn at
 * the device whose turn it is: what IOPFQ_DELIVER_ROUND_ROBIN reads. Both
 * are kept under either policy, so the policy can change at any time; queueing
 * and delivering a group are O(1) under both, in the group and device tables.
 */

/*
 * Device @di gets a complete group when it had none: it is linked in just
 * before the device whose turn it is and takes the turn, so its group is
 * the next one read and the round then goes on where it was. A device that
 * faults now and then never waits behind another's backlog; one that keeps
 * groups queued takes its turns in the round like the others. (fq_codel
 * serves new flows first for the same reason.)
 */
static void turn_join(struct iopfq *q, iopfq_u32 di)
{
	struct iopfq_dev *d = &q->devs[di];

	if (q->turn == NIL) {
		d->turn_next = d->turn_prev = di;
	} else {
		d->turn_next = q->turn;
		d->turn_prev = q->devs[q->turn].turn_prev;
		q->devs[d->turn_prev].turn_next = di;
		q->devs[q->turn].turn_prev = di;
	}
	q->turn = di;
}

/* device @di has no complete group left; if it was its turn, the next one's begins */
static void turn_leave(struct iopfq *q, iopfq_u32 di)
{
	struct iopfq_dev *d = &q->devs[di];

	if (d->turn_next == di) {
		q->turn = NIL;
	} else {
		q->devs[d->turn_prev].turn_next = d->turn_next;
		q->devs[d->turn_next].turn_prev = d->turn_prev;
		if (q->turn == di)
			q->turn = d->turn_next;
	}
	d->turn_next = d->turn_prev = NIL;
}

/*
 * Link @gi, whose link field is @link, into a list (@head, @tail) after the
 * element whose link field is @after_link (null: at the head).
 */
static void link_after(iopfq_u32 *head, iopfq_u32 *tail, iopfq_u32 *after_link, iopfq_u32 *link,
		       iopfq_u32 gi)
{
	iopfq_u32 *at = after_link ? after_link : head;

	*link = *at;
	*at = gi;
	if (*link == NIL)
		*tail = gi;
}

/*
 * Queue group @gi ready right after group @after in completion order (NIL:
 * at the head), and in its device's list after the last of that device's
 * groups before it. Appending (@after is the tail) is O(1); an insert
 * elsewhere (restore, at the head) walks back over the groups inserted
 * ahead of it. A group queued at the head takes the turn for its device.
 */
static void ready_insert(struct iopfq *q, iopfq_u32 gi, iopfq_u32 after)
{
	struct iopfq_group *g = &q->groups[gi];
	struct iopfq_dev *d = &q->devs[g->dev_idx];
	iopfq_u32 dev_prev;

	g->where = IOPFQ_GROUP_READY;
	g->prev = after;
	link_after(&q->ready_head, &q->ready_tail,
		   after == NIL ? (iopfq_u32 *)0 : &q->groups[after].next, &g->next, gi);
	if (g->next != NIL)
		q->groups[g->next].prev = gi;

	if (g->next == NIL) {
		dev_prev = d->ready_tail;  /* appended: all the device's groups are before it */
	} else {
		dev_prev = after;
		while (dev_prev != NIL && q->groups[dev_prev].dev_idx != g->dev_idx)
			dev_prev = q->groups[dev_prev].prev;
	}
	link_after(&d->ready_head, &d->ready_tail,
		   dev_prev == NIL ? (iopfq_u32 *)0 : &q->groups[dev_prev].dev_next, &g->dev_next, gi);
	if (d->turn_next == NIL)
		turn_join(q, g->dev_idx);
	/* ahead of every other group (restore): its device's turn is now */
	if (after == NIL)
		q->turn = g->dev_idx;
}

static void ready_push(struct iopfq *q, iopfq_u32 gi)
{
	ready_insert(q, gi, q->ready_tail);
}

/*
 * Take complete group @gi off both lists; @dev_prev is the group before it
 * in its device's list (NIL: it is the first). The caller releases it.
 */
static void ready_unlink(struct iopfq *q, iopfq_u32 gi, iopfq_u32 dev_prev)
{
	struct iopfq_group *g = &q->groups[gi];
	struct iopfq_dev *d = &q->devs[g->dev_idx];

	if (g->prev == NIL)
		q->ready_head = g->next;
	else
		q->groups[g->prev].next = g->next;
	if (g->next == NIL)
		q->ready_tail = g->prev;
	else
		q->groups[g->next].prev = g->prev;

	if (dev_prev == NIL)
		d->ready_head = g->dev_next;
	else
		q->groups[dev_prev].dev_next = g->dev_next;
	if (d->ready_tail == gi)
		d->ready_tail = dev_prev;
	if (d->ready_head == NIL)
		turn_leave(q, g->dev_idx);
}

/* The group iopfq_read() delivers next under the queue's policy, or NIL */
iopfq_u32 iopfq_ready_next(const struct iopfq *q)
{
	if (q->delivery == IOPFQ_DELIVER_ROUND_ROBIN)
		return q->turn == NIL ? NIL : q->devs[q->turn].ready_head;
	return q->ready_head;
}

int iopfq_set_delivery(struct iopfq *q, iopfq_u32 policy)
{
	if (!q || (policy != IOPFQ_DELIVER_COMPLETION && policy != IOPFQ_DELIVER_ROUND_ROBIN))
		return -IOPFQ_EINVAL;
	q->delivery = policy;
	return 0;
}

/* A free page holding one request; the caller made sure there is one. */
static iopfq_u32 page_take(struct iopfq *q, iopfq_u64 addr, iopfq_u32 flags, iopfq_u32 perm)
{
	iopfq_u32 pi = q->page_free;
	struct iopfq_page *p = &q->pages[pi];

	q->page_free = p->next;
	p->addr = addr;
	p->flags = flags;
	p->perm = perm;
	p->next = NIL;
	return pi;
}

static void drain_page(struct iopfq *q, iopfq_u32 dev_idx, const struct iopfq_request *e,
		       iopfq_u64 now)
{
	iopfq_u32 *bucket = &q->hash[group_hash(q, dev_idx, e->flags, e->pasid, e->grpid)];
	struct iopfq_dev *d = &q->devs[dev_idx];
	struct iopfq_group *g;
	iopfq_u32 gi = *bucket, pi;

	while (gi != NIL && !group_matches(&q->groups[gi], dev_idx, e->flags, e->pasid, e->grpid))
		gi = q->groups[gi].hash_next;

	/* never fails while credits are honoured: pages and groups <= budget */
	if (IOPFQ_WARN_ON(q->page_free == NIL || (gi == NIL && q->group_free == NIL)))
		return;
	pi = page_take(q, e->addr, e->flags, e->perm);

	if (gi == NIL) {
		gi = q->group_free;
		g = &q->groups[gi];
		q->group_free = g->next;
		g->dev_idx = dev_idx;
		g->flags = e->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID;
		g->pasid = e->pasid;
		g->grpid = e->grpid;
		g->first_page = g->last_page = pi;
		g->npages = 1;
		g->warned = 0;
		g->first_ns = now;
		g->where = IOPFQ_GROUP_PARTIAL;
		g->hash_next = *bucket;
		*bucket = gi;
		g->prev = NIL;
		g->next = d->partial_head;
		if (g->next != NIL)
			q->groups[g->next].prev = gi;
		d->partial_head = gi;
	} else {
		g = &q->groups[gi];
		q->pages[g->last_page].next = pi;
		g->last_page = pi;
		g->npages++;
	}
	consumer_add(&q->partial, 1);

	if (e->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
		group_unhash(q, gi);
		partial_unlink(q, gi);
		consumer_sub(&q->partial, g->npages);
		consumer_add(&q->ready, g->npages);
		ready_push(q, gi);
	}
}

/*
 * Move what the ring holds into the consumer's structures, in ring order,
 * up to the first position that is not yet published, and at most the
 * positions claimed when the pass finds its second request: a request
 * claimed after that waits for the next pass. A pass that followed
 * producers that keep reporting would not return to deliver the groups it
 * has completed (and would take each slot's line while its producer is
 * still writing the next ones): bounded, a group's wait for its read is the
 * backlog ahead of it, not what arrives after it. The bound is taken at the
 * second request, not at the first, so that a pass that finds one request
 * (a busy-polling consumer's usual pass) does not read tail, the
 * producers' line: every claim would then miss on it.
 */
void iopfq_drain(struct iopfq *q)
{
	struct iopfq_ring_slot *slot = iopfq_ring_peek(&q->ring); /* C1 */
	iopfq_u32 left = 0;         /* 0: no bound yet */
	iopfq_u64 now;

	if (!slot)
		return;
	/* two requests already: bound the pass now (before the clock hook runs) */
	if (iopfq_ring_published_at(&q->ring, q->ring.head + 1))
		left = iopfq_ring_count(&q->ring);
	now = q->ops.now_ns(q->ctx);
	for (;;) {
		const struct iopfq_entry *e = (const struct iopfq_entry *)slot;
		iopfq_u32 dev_idx = e->dev_idx;
		struct iopfq_request req = e->req;

		iopfq_ring_consume(&q->ring, slot); /* C2 */
		if (request_is_marker(&req)) {
			consumer_add(&q->drained_markers, 1);
			drain_marker(q, dev_idx, req.pasid);
		} else {
			consumer_add(&q->drained, 1);
			drain_page(q, dev_idx, &req, now);
		}
		if (left && --left == 0)
			break;
		slot = iopfq_ring_peek(&q->ring); /* C1 */
		if (!slot)
			break;
		/*
		 * At least 1: the claim of the slot just seen published happens
		 * before this read (its publish, R1, with C1), and claims only
		 * move tail on.
		 */
		if (!left)
			left = iopfq_ring_count(&q->ring);
	}
}

int iopfq_next_group_size(struct iopfq *q)
{
	iopfq_u32 gi;

	if (!q)
		return -IOPFQ_EINVAL;
	iopfq_drain(q);
	gi = iopfq_ready_next(q);
	return gi == NIL ? 0 : (int)q->groups[gi].npages;
}

int iopfq_poll_ready(struct iopfq *q)
{
	if (!q)
		return -IOPFQ_EINVAL;
	iopfq_drain(q);
	return q->ready_head != NIL;
}

/* Write the records of ready group @gi into @recs, each with @cookie. */
void iopfq_group_records(const struct iopfq *q, iopfq_u32 gi, struct iopfq_hwpt_pgfault *recs,
			 iopfq_u32 cookie)
{
	const struct iopfq_group *g = &q->groups[gi];
	iopfq_u32 dev_id = q->devs[g->dev_idx].dev_id, pi;

	for (pi = g->first_page; pi != NIL; pi = q->pages[pi].next) {
		struct iopfq_hwpt_pgfault *r = recs++;

		r->flags = q->pages[pi].flags;
		r->dev_id = dev_id;
		r->pasid = g->pasid;
		r->grpid = g->grpid;
		r->perm = q->pages[pi].perm;
		r->__reserved = 0;
		r->addr = q->pages[pi].addr;
		r->length = 0;
		r->cookie = cookie;
	}
}

/* Group @gi, the one iopfq_ready_next() named, has been delivered: it leaves. */
void iopfq_ready_pop(struct iopfq *q, iopfq_u32 gi)
{
	struct iopfq_group *g = &q->groups[gi];
	iopfq_u32 di = g->dev_idx;

	consumer_sub(&q->ready, g->npages);
	consumer_add(&q->delivered_total, g->npages);
	consumer_add(&q->groups_delivered, 1);
	ready_unlink(q, gi, NIL);
	/* its device has had its turn (if it left, turn_leave() passed it on) */
	if (q->delivery == IOPFQ_DELIVER_ROUND_ROBIN && q->turn == di)
		q->turn = q->devs[di].turn_next;
	group_release(q, gi);
}

/*
 * The partial and ready groups of a flush or detach: partial pages are
 * dropped (the device waits for no answer to them), complete unread groups
 * are answered (or dropped), never delivered.
 */
void iopfq_groups_remove(struct iopfq *q, const struct iopfq_victims *v)
{
	struct iopfq_dev *d = &q->devs[v->dev_idx];
	iopfq_u32 gi, prev, next;

	for (gi = d->partial_head; gi != NIL; gi = next) {
		next = q->groups[gi].next;
		if (victim_matches(v, q->groups[gi].dev_idx, q->groups[gi].flags,
				   q->groups[gi].pasid))
			partial_discard(q, gi, 0);
	}

	prev = NIL;
	for (gi = d->ready_head; gi != NIL; gi = next) {
		struct iopfq_group *g = &q->groups[gi];
		struct iopfq_response r;

		next = g->dev_next;
		if (!victim_matches(v, g->dev_idx, g->flags, g->pasid)) {
			prev = gi;
			continue;
		}
		ready_unlink(q, gi, prev);
		consumer_sub(&q->ready, g->npages);
		r.dev_id = d->dev_id;
		r.pasid = g->pasid;
		r.grpid = g->grpid;
		r.flags = g->flags;
		r.code = v->code;
		r.npages = g->npages;
		r.origin = v->origin;
		r.dev_ctx = d->dev_ctx;
		iopfq_group_answer(q, g->dev_idx, &r);
		group_release(q, gi);
	}
}

/* Rebuild a revoked group from its records and queue it ready after @after (NIL: first). */
iopfq_u32 iopfq_group_restore(struct iopfq *q, const struct iopfq_cslot *cs,
			      const struct iopfq_hwpt_pgfault *r, iopfq_u32 after)
{
	iopfq_u32 gi = q->group_free, k;
	struct iopfq_group *g;

	/* never fails: the group still held its credits, so its slots are free */
	if (IOPFQ_WARN_ON(gi == NIL))
		return after;
	g = &q->groups[gi];
	q->group_free = g->next;
	g->dev_idx = cs->dev_idx;
	g->flags = cs->flags;
	g->pasid = cs->pasid;
	g->grpid = cs->grpid;
	g->npages = 0;
	g->warned = cs->warned;
	g->first_ns = cs->first_ns;
	g->first_page = g->last_page = NIL;
	for (k = 0; k < cs->npages; k++) {
		iopfq_u32 pi;

		if (IOPFQ_WARN_ON(q->page_free == NIL))
			break;
		pi = page_take(q, r[k].addr, r[k].flags, r[k].perm);
		if (g->first_page == NIL)
			g->first_page = pi;
		else
			q->pages[g->last_page].next = pi;
		g->last_page = pi;
		g->npages++;
	}
	ready_insert(q, gi, after);
	return gi;
}
