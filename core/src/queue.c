/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the I/O page-fault queue as a whole: geometry and init, flush
 * and detach (the removal of groups everywhere), aging, the consumer's side
 * of the wake-up protocol and the counters. The rest lives
 * in devices.c (device table, report, credits), groups.c (group assembly)
 * and cookies.c (response table); internal.h says who writes what.
 *
 * May touch: the caller's queue memory only: at init all of it; later the
 * sleep announcement, the aging marks of groups and response slots, and
 * (reading) every counter. Freestanding: includes nothing but iopfq headers
 * and the platform contract; calls the world only through struct iopfq_ops.
 *
 * Concurrency role: consumer side (one caller at a time), except
 * iopfq_counters(), which any thread may call (relaxed loads), and the
 * geometry and memsize calls, which touch no queue.
 *
 * Life of a page request (docs/design.md has the diagram):
 *
 *   report ──► RING ──drain──► PARTIAL ──last page──► READY ──read──► DELIVERED
 *                                 │                      │                │
 *                         marker/flush/detach     flush/detach     respond / revoke
 *                                 ▼                      ▼                ▼
 *                             DISCARDED            AUTO-ANSWERED   ANSWERED / AUTO-ANSWERED
 *
 * Memory bound: a page request holds one of its device's credits from
 * report until its group leaves the queue, and the attached devices' credits
 * never exceed the budget (attach refuses with -ENOSPC). So at any time:
 *   ring entries  <= budget + max_devices * marker_credits  (ring_slots)
 *   pages held    <= budget                                  (page_slots)
 *   groups held   <= budget                                  (group_slots)
 *   cookies live  <= budget <= cookie_slots / 2
 * and every table is sized from exactly that.
 *
 * Synchronization edges are labelled (R1, C1, C2, A1, V1, V2, D0, D0', D1,
 * D2, P0, X0-X6, K0, K0', K1-K3, W1-W3) at each access and listed in
 * docs/memory-ordering.md.
 */
#include "internal.h"

IOPFQ_STATIC_ASSERT(IOPFQ_MEM_ALIGN % IOPFQ_CACHELINE == 0, "IOPFQ_MEM_ALIGN covers the cache line");

/* ---------------------------------------------------------------------- */
/* geometry and init                                                       */

static iopfq_u32 pow2_at_least(iopfq_u32 v)
{
	iopfq_u32 p = 1;

	while (p < v)
		p <<= 1;
	return p;
}

static iopfq_u32 log2_exact(iopfq_u32 pow2)
{
	iopfq_u32 bits = 0;

	while ((1u << bits) < pow2)
		bits++;
	return bits;
}

static iopfq_size_t align_up(iopfq_size_t v)
{
	return (v + IOPFQ_CACHELINE - 1) & ~(iopfq_size_t)(IOPFQ_CACHELINE - 1);
}

int iopfq_config_geometry(const struct iopfq_config *cfg, struct iopfq_geometry *geo)
{
	struct iopfq_geometry g;
	iopfq_u32 markers;

	if (!cfg || !geo)
		return -IOPFQ_EINVAL;
	if (cfg->max_devices == 0 || cfg->max_devices > IOPFQ_MAX_DEVICES)
		return -IOPFQ_EINVAL;
	if (cfg->credit_budget == 0 || cfg->credit_budget > IOPFQ_MAX_CREDITS)
		return -IOPFQ_EINVAL;
	markers = cfg->marker_credits ? cfg->marker_credits : IOPFQ_DEFAULT_MARKER_CREDITS;
	if (markers > IOPFQ_MAX_MARKER_CREDITS)
		return -IOPFQ_EINVAL;
	if (cfg->delivery != IOPFQ_DELIVER_COMPLETION && cfg->delivery != IOPFQ_DELIVER_ROUND_ROBIN)
		return -IOPFQ_EINVAL;

	g.ring_slots = pow2_at_least(cfg->credit_budget + cfg->max_devices * markers);
	g.cookie_slots = pow2_at_least(2 * cfg->credit_budget);
	g.cookie_index_bits = log2_exact(g.cookie_slots);
	if (cfg->cookie_gen_bits == 0)
		g.cookie_gen_bits = 32 - g.cookie_index_bits;
	else if (cfg->cookie_gen_bits < 2 || cfg->cookie_gen_bits > 32 - g.cookie_index_bits)
		return -IOPFQ_EINVAL;
	else
		g.cookie_gen_bits = cfg->cookie_gen_bits;
	g.group_slots = cfg->credit_budget;
	g.page_slots = cfg->credit_budget;
	g.hash_buckets = pow2_at_least(cfg->credit_budget);
	if (cfg->dev_gen_bits > IOPFQ_DEV_GEN_BITS)
		return -IOPFQ_EINVAL;
	g.dev_gen_bits = cfg->dev_gen_bits ? cfg->dev_gen_bits : IOPFQ_DEV_GEN_BITS;
	*geo = g; /* only on success: a failed call changes nothing */
	return 0;
}

struct layout {
	iopfq_size_t devs, ring, cslots, groups, pages, hash, total;
};

static void layout_of(const struct iopfq_config *cfg, const struct iopfq_geometry *geo,
		      struct layout *l)
{
	iopfq_size_t off = align_up(sizeof(struct iopfq));

	l->devs = off;
	off = align_up(off + (iopfq_size_t)cfg->max_devices * sizeof(struct iopfq_dev));
	l->ring = off;
	off = align_up(off + (iopfq_size_t)geo->ring_slots * sizeof(struct iopfq_entry));
	l->cslots = off;
	off = align_up(off + (iopfq_size_t)geo->cookie_slots * sizeof(struct iopfq_cslot));
	l->groups = off;
	off = align_up(off + (iopfq_size_t)geo->group_slots * sizeof(struct iopfq_group));
	l->pages = off;
	off = align_up(off + (iopfq_size_t)geo->page_slots * sizeof(struct iopfq_page));
	l->hash = off;
	off = align_up(off + (iopfq_size_t)geo->hash_buckets * sizeof(iopfq_u32));
	l->total = off;
}

iopfq_size_t iopfq_memsize(const struct iopfq_config *cfg)
{
	struct iopfq_geometry geo;
	struct layout l;

	if (iopfq_config_geometry(cfg, &geo))
		return 0;
	layout_of(cfg, &geo, &l);
	return l.total;
}

static void zero_bytes(void *p, iopfq_size_t n)
{
	volatile iopfq_u8 *b = (volatile iopfq_u8 *)p;

	/* volatile: keeps the compiler from turning this into a memset call */
	while (n--)
		*b++ = 0;
}

int iopfq_init(void *mem, iopfq_size_t memsize, const struct iopfq_config *cfg,
	       const struct iopfq_ops *ops, void *ctx, struct iopfq **qp)
{
	struct iopfq_geometry geo;
	struct layout l;
	struct iopfq *q = (struct iopfq *)mem;
	iopfq_u8 *base = (iopfq_u8 *)mem;
	iopfq_u32 i;
	int rc;

	if (!qp)
		return -IOPFQ_EINVAL;
	rc = iopfq_config_geometry(cfg, &geo);
	if (rc)
		return rc;
	if (!mem || ((iopfq_uptr)mem % IOPFQ_CACHELINE))
		return -IOPFQ_EINVAL;
	if (!ops || !ops->page_response || !ops->synchronize || !ops->notify || !ops->now_ns)
		return -IOPFQ_EINVAL;
	layout_of(cfg, &geo, &l);
	if (memsize < l.total)
		return -IOPFQ_EINVAL;

	zero_bytes(mem, l.total);
	q->ops = *ops;
	q->ctx = ctx;
	q->cfg = *cfg;
	if (!q->cfg.marker_credits)
		q->cfg.marker_credits = IOPFQ_DEFAULT_MARKER_CREDITS;
	q->geo = geo;
	q->devs = (struct iopfq_dev *)(base + l.devs);
	q->cslots = (struct iopfq_cslot *)(base + l.cslots);
	q->groups = (struct iopfq_group *)(base + l.groups);
	q->pages = (struct iopfq_page *)(base + l.pages);
	q->hash = (iopfq_u32 *)(base + l.hash);
	q->cookie_index_mask = geo.cookie_slots - 1;
	q->cookie_gen_max = geo.cookie_gen_bits >= 32 ? IOPFQ_U32_MAX
						      : (1u << geo.cookie_gen_bits) - 1;
	q->dev_gen_max = (1u << geo.dev_gen_bits) - 1;

	for (i = 0; i < cfg->max_devices; i++) {
		q->devs[i].partial_head = NIL;
		q->devs[i].ready_head = q->devs[i].ready_tail = NIL;
		q->devs[i].turn_next = q->devs[i].turn_prev = NIL;
		q->devs[i].cslot_head = NIL;
	}
	for (i = 0; i <= q->cookie_index_mask; i++)
		q->cslots[i].dev_next = q->cslots[i].dev_prev = NIL;
	for (i = 0; i < geo.hash_buckets; i++)
		q->hash[i] = NIL;
	for (i = 0; i < geo.group_slots; i++)
		q->groups[i].next = i + 1 < geo.group_slots ? i + 1 : NIL;
	for (i = 0; i < geo.page_slots; i++)
		q->pages[i].next = i + 1 < geo.page_slots ? i + 1 : NIL;
	q->group_free = 0;
	q->page_free = 0;
	q->ready_head = q->ready_tail = NIL;
	q->turn = NIL;
	q->delivery = cfg->delivery;

	rc = iopfq_ring_init(&q->ring, base + l.ring, geo.ring_slots, sizeof(struct iopfq_entry),
			     cfg->ring_start);
	if (IOPFQ_WARN_ON(rc))
		return rc;
	*qp = q;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* flush and detach                                                        */

/*
 * Remove the groups @v names, everywhere: reports in flight finish and are
 * drained first (nothing hides in the ring), then partial and ready groups
 * (groups.c), then delivered ones (cookies.c); last, answers of the device
 * that already freed their slot may still be sending: wait for them (X4).
 */
static void victims_remove(struct iopfq *q, const struct iopfq_victims *v)
{
	q->ops.synchronize(q->ctx);
	iopfq_drain(q);
	iopfq_groups_remove(q, v);
	iopfq_cookies_revoke(q, v);
	iopfq_wait_answers(q, &q->devs[v->dev_idx]);
}

int iopfq_flush(struct iopfq *q, iopfq_dev_t dev, iopfq_u32 pasid, iopfq_u32 flags)
{
	struct iopfq_dev *d;
	struct iopfq_victims v;
	int pasid_valid = !!(flags & IOPFQ_FLUSH_PASID_VALID);

	if (!q)
		return -IOPFQ_EINVAL;
	d = iopfq_dev_of_handle(q, dev);
	if (!d)
		return -IOPFQ_ENODEV;
	if (flags & ~(IOPFQ_FLUSH_NO_RESPONSE | IOPFQ_FLUSH_PASID_VALID))
		return -IOPFQ_EINVAL;
	if (pasid_valid ? pasid > IOPFQ_PASID_MAX : pasid != 0)
		return -IOPFQ_EINVAL;
	v.dev_idx = dev_index(q, d);
	v.all_pasids = 0;
	v.flags = pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0;
	v.pasid = pasid;
	v.code = (flags & IOPFQ_FLUSH_NO_RESPONSE) ? IOPFQ_HW_NONE : IOPFQ_HW_INVALID;
	v.origin = IOPFQ_ANSWER_FLUSH;
	victims_remove(q, &v);
	return 0;
}

int iopfq_dev_detach(struct iopfq *q, iopfq_dev_t dev)
{
	struct iopfq_dev *d;
	struct iopfq_victims v;

	if (!q)
		return -IOPFQ_EINVAL;
	d = iopfq_dev_of_handle(q, dev);
	if (!d)
		return -IOPFQ_ENODEV;
	iopfq_dev_detach_begin(d); /* D0' */
	v.dev_idx = dev_index(q, d);
	v.all_pasids = 1;
	v.flags = 0;
	v.pasid = 0;
	v.code = IOPFQ_HW_INVALID;
	v.origin = IOPFQ_ANSWER_DETACH;
	victims_remove(q, &v);
	iopfq_dev_detach_end(q, d);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* aging, wake-up, counters                                                */

static int aged_report(struct iopfq *q, iopfq_u64 now, iopfq_u64 first_ns,
		       iopfq_u64 threshold_ns, struct iopfq_aged *a)
{
	if (now - first_ns < threshold_ns)
		return 0;
	a->age_ns = now - first_ns;
	if (q->ops.aged)
		q->ops.aged(q->ctx, a);
	consumer_add(&q->aged_warnings, 1);
	return 1;
}

int iopfq_age_scan(struct iopfq *q, iopfq_u64 threshold_ns)
{
	iopfq_u32 i;
	int reported = 0;
	struct iopfq_aged a;
	iopfq_u64 now;

	if (!q)
		return -IOPFQ_EINVAL;
	iopfq_drain(q);
	now = q->ops.now_ns(q->ctx);
	for (i = 0; i < q->geo.group_slots; i++) {
		struct iopfq_group *g = &q->groups[i];

		if (g->where == WHERE_FREE || g->warned)
			continue;
		a.dev_id = q->devs[g->dev_idx].dev_id;
		a.pasid = g->pasid;
		a.grpid = g->grpid;
		a.flags = g->flags;
		a.where = g->where;
		a.npages = g->npages;
		a.cookie = 0;
		if (aged_report(q, now, g->first_ns, threshold_ns, &a)) {
			g->warned = 1;
			reported++;
		}
	}
	for (i = 0; i <= q->cookie_index_mask; i++) {
		struct iopfq_cslot *cs = &q->cslots[i];
		/*
		 * Relaxed: not a synchronizing access. The consumer side wrote
		 * the slot itself (K1); a racing answer only moves the cookie to
		 * 0, and the fields read below stay as the reader left them.
		 */
		iopfq_u32 cookie = IOPFQ_LOAD_RELAXED(&cs->cookie);

		/* only live cookies: a slot being answered is leaving anyway */
		if (!cookie || cs->warned)
			continue;
		a.dev_id = cs->dev_id;
		a.pasid = cs->pasid;
		a.grpid = cs->grpid;
		a.flags = cs->flags;
		a.where = IOPFQ_GROUP_DELIVERED;
		a.npages = cs->npages;
		a.cookie = cookie;
		if (aged_report(q, now, cs->first_ns, threshold_ns, &a)) {
			cs->warned = 1;
			reported++;
		}
	}
	return reported;
}

int iopfq_prepare_sleep(struct iopfq *q)
{
	if (!q)
		return -IOPFQ_EINVAL;
	/* relaxed: W2 below orders it before the re-check */
	IOPFQ_STORE_RELAXED(&q->sleeping, 1u);
	/*
	 * W2: full fence between the store of sleeping and the re-check of
	 * the ring (C1) and the ready FIFO; establishes a synchronizing edge
	 * with the full fence at W1.
	 */
	IOPFQ_SMP_MB();
	if (q->ready_head != NIL || iopfq_ring_peek(&q->ring)) {
		/* relaxed: orders nothing; a producer that still sees 1 notifies once, harmlessly */
		IOPFQ_STORE_RELAXED(&q->sleeping, 0u);
		return 0;
	}
	return 1;
}

void iopfq_finish_sleep(struct iopfq *q)
{
	if (q)
		IOPFQ_STORE_RELAXED(&q->sleeping, 0u); /* relaxed: as in iopfq_prepare_sleep() */
}

void iopfq_counters(struct iopfq *q, struct iopfq_counters *c)
{
	struct iopfq_producer_stats sum;
	iopfq_u64 claimed;
	iopfq_u32 i;

	if (!q || !c)
		return;
	/* every load below is relaxed: a snapshot of statistics orders nothing */
#define GONE_(type, name) sum.name = IOPFQ_LOAD_RELAXED(&q->gone.name);
	IOPFQ_PRODUCER_STATS(GONE_)
#undef GONE_
	for (i = 0; i < q->cfg.max_devices; i++) {
		struct iopfq_dev *d = &q->devs[i];

#define ADD_(type, name) sum.name += IOPFQ_LOAD_RELAXED(&d->stats.name);
		IOPFQ_PRODUCER_STATS(ADD_)
#undef ADD_
	}
	/*
	 * Every ring position ever claimed is a page request or a marker that
	 * was accepted: the ones drained plus the ones still between head and
	 * tail (claimed, maybe not yet published).
	 */
	claimed = IOPFQ_LOAD_RELAXED(&q->drained) + IOPFQ_LOAD_RELAXED(&q->drained_markers) +
		  (iopfq_u32)(IOPFQ_LOAD_RELAXED(&q->ring.tail) - IOPFQ_LOAD_RELAXED(&q->ring.head));
	c->accepted = claimed - sum.markers_accepted;
#define COPY_(type, name) c->name = sum.name;
	IOPFQ_PRODUCER_STATS(COPY_)
#undef COPY_
	c->refused_nodev = IOPFQ_LOAD_RELAXED(&q->refused_nodev);
	c->in_ring = c->accepted - IOPFQ_LOAD_RELAXED(&q->drained);
	c->partial = IOPFQ_LOAD_RELAXED(&q->partial);
	c->ready = IOPFQ_LOAD_RELAXED(&q->ready);
	c->answered = IOPFQ_LOAD_RELAXED(&q->answered_pages);
	c->delivered = IOPFQ_LOAD_RELAXED(&q->delivered_total) - c->answered -
		       IOPFQ_LOAD_RELAXED(&q->delivered_revoked);
	c->auto_answered = IOPFQ_LOAD_RELAXED(&q->auto_answered);
	c->discarded = IOPFQ_LOAD_RELAXED(&q->discarded);
	c->discarded_by_marker = IOPFQ_LOAD_RELAXED(&q->discarded_by_marker);
	c->groups_delivered = IOPFQ_LOAD_RELAXED(&q->groups_delivered);
	c->groups_answered = IOPFQ_LOAD_RELAXED(&q->answered_groups);
	c->groups_auto_answered = IOPFQ_LOAD_RELAXED(&q->groups_auto_answered);
	c->bad_answers = IOPFQ_LOAD_RELAXED(&q->bad_answers);
	c->aged_warnings = IOPFQ_LOAD_RELAXED(&q->aged_warnings);
	c->ring_claim_waits = IOPFQ_LOAD_RELAXED(&q->ring.claim_waits);
	c->credits_attached = IOPFQ_LOAD_RELAXED(&q->credits_attached);
	c->devices_attached = IOPFQ_LOAD_RELAXED(&q->devices_attached);
}
