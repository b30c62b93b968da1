/* SPDX-License-Identifier: MIT */
/*
 * queue.c - the I/O page-fault queue: devices and credits, the producer
 * (report), consumer-side group assembly, read, the cookie-indexed response
 * table, flush, detach, aging, the wake-up protocol and the counters.
 *
 * May touch: the caller's queue memory only. Freestanding: includes nothing
 * but iopfq headers and the platform contract; calls the world only through
 * struct iopfq_ops.
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
 *   cookies live  <= budget < cookie_slots / 2
 * and every table is sized from exactly that.
 *
 * Synchronization edges are labelled (A1, R1, C1, C2, D0, P0, K0-K3, W1,
 * W2, X1-X4) at each access and listed in docs/memory-ordering.md.
 */
#include "../include/iopfq/iopfq.h"
#include "ring.h"

#define NIL 0xffffffffu

#define DEV_FREE 0u
#define DEV_ATTACHED 1u
#define DEV_FAILED 2u
#define DEV_DETACHING 3u
#define DEV_STATE_MASK 3u
#define DEV_IDX_BITS 12

IOPFQ_STATIC_ASSERT(IOPFQ_MAX_DEVICES == (1u << DEV_IDX_BITS), "device index bits");
IOPFQ_STATIC_ASSERT(DEV_IDX_BITS + IOPFQ_DEV_GEN_BITS == 32, "a handle is index and generation");

/* One cache line per device: its producers and answerers share it. */
struct iopfq_dev {
	/* (generation << 2) | state; written by the consumer side only */
	iopfq_u32 state_gen;
	iopfq_u32 credits;          /* PRI allocation; fixed while attached */
	iopfq_s32 credits_in_use;   /* producers take, answers give back */
	iopfq_u32 marker_credits;
	iopfq_s32 markers_in_use;   /* producers take, drain gives back */
	iopfq_s32 answering;        /* answers between claim and response sent */
	iopfq_u32 dev_id;
	void *dev_ctx;
	/*
	 * producer statistics (relaxed). Accepted page requests are not counted
	 * here: they are the ring positions claimed minus the markers, which
	 * spares every report one atomic add (see iopfq_counters()).
	 */
	iopfq_u64 markers_accepted;
	iopfq_u64 refused_over_credit;
	iopfq_u64 refused_markers;
	iopfq_u64 refused_invalid;
	iopfq_u64 refused_failed;
	/* consumer side only */
	iopfq_u32 partial_head;     /* this device's partial groups */
} IOPFQ_CACHELINE_ALIGNED;

/* A ring slot: one page request or Stop Marker, one cache line. */
struct iopfq_entry {
	struct iopfq_ring_slot hdr;
	iopfq_u32 dev_idx;
	struct iopfq_request req;
} IOPFQ_CACHELINE_ALIGNED;

/* A page held on the consumer side (partial or ready group). */
struct iopfq_page {
	iopfq_u64 addr;
	iopfq_u32 flags;
	iopfq_u32 perm;
	iopfq_u32 next;
};

#define WHERE_FREE 0u

/* A group on the consumer side: partial (hashed, on its device's list) or ready. */
struct iopfq_group {
	iopfq_u32 dev_idx;
	iopfq_u32 flags;            /* PASID_VALID or 0: part of the key */
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 first_page;
	iopfq_u32 last_page;
	iopfq_u32 npages;
	iopfq_u32 hash_next;        /* partial: bucket chain */
	iopfq_u32 prev;             /* partial: device list */
	iopfq_u32 next;             /* partial: device list; ready: FIFO; free: free list */
	iopfq_u32 where;            /* WHERE_FREE or enum iopfq_group_where */
	iopfq_u32 warned;
	iopfq_u64 first_ns;
};

/*
 * A response-table slot. @cookie is the claim word: the live cookie while
 * the group is delivered and unanswered, 0 otherwise; whoever changes it
 * from the cookie to 0 with a CAS owns the group's answer. @busy is 1 from
 * delivery until that owner has answered and returned the credits; only then
 * may the reader reuse the slot. The other fields are written by the reader
 * before it publishes @cookie and read by the owner after its CAS.
 */
struct iopfq_cslot {
	iopfq_u32 cookie;
	iopfq_u32 busy;
	iopfq_u32 gen;              /* reader only: generation last issued */
	iopfq_u32 warned;           /* consumer side only */
	iopfq_u32 dev_idx;
	iopfq_u32 dev_id;
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 flags;
	iopfq_u32 npages;
	iopfq_u64 first_ns;
	void *dev_ctx;
} IOPFQ_CACHELINE_ALIGNED;

struct iopfq {
	/* read-only after init */
	struct iopfq_ops ops;
	struct iopfq_config cfg;
	struct iopfq_geometry geo;
	struct iopfq_dev *devs;
	struct iopfq_cslot *cslots;
	struct iopfq_group *groups;
	struct iopfq_page *pages;
	iopfq_u32 *hash;
	iopfq_u32 cookie_index_mask;
	iopfq_u32 cookie_gen_max;
	iopfq_u32 dev_gen_max;      /* a free slot at this generation is retired */

	struct iopfq_ring ring;

	/* the consumer's sleep announcement: read by every producer */
	iopfq_u32 sleeping IOPFQ_CACHELINE_ALIGNED;

	/* written by any thread (relaxed statistics) */
	iopfq_u64 refused_nodev IOPFQ_CACHELINE_ALIGNED;
	iopfq_u64 answered_pages;
	iopfq_u64 answered_groups;
	iopfq_u64 bad_answers;

	/* consumer side only (read relaxed by iopfq_counters) */
	iopfq_u32 ready_head IOPFQ_CACHELINE_ALIGNED;
	iopfq_u32 ready_tail;
	iopfq_u32 group_free;
	iopfq_u32 page_free;
	iopfq_u32 cookie_cursor;
	iopfq_u32 credits_attached;
	iopfq_u32 devices_attached;
	iopfq_u64 drained;          /* page requests taken out of the ring */
	iopfq_u64 drained_markers;  /* Stop Markers taken out of the ring */
	iopfq_u64 partial;
	iopfq_u64 ready;
	iopfq_u64 delivered_total;
	iopfq_u64 delivered_revoked; /* delivered pages answered/discarded by detach or flush */
	iopfq_u64 auto_answered;
	iopfq_u64 discarded;
	iopfq_u64 discarded_by_marker;
	iopfq_u64 groups_delivered;
	iopfq_u64 groups_auto_answered;
	iopfq_u64 aged_warnings;
	/* statistics of detached devices, folded in at detach */
	iopfq_u64 gone_markers_accepted;
	iopfq_u64 gone_refused_over_credit;
	iopfq_u64 gone_refused_markers;
	iopfq_u64 gone_refused_invalid;
	iopfq_u64 gone_refused_failed;
};

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

int iopfq_geometry(const struct iopfq_config *cfg, struct iopfq_geometry *geo)
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

	if (iopfq_geometry(cfg, &geo))
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

struct iopfq *iopfq_init(void *mem, iopfq_size_t memsize, const struct iopfq_config *cfg,
			 const struct iopfq_ops *ops, int *err)
{
	struct iopfq_geometry geo;
	struct layout l;
	struct iopfq *q = (struct iopfq *)mem;
	iopfq_u8 *base = (iopfq_u8 *)mem;
	iopfq_u32 i;
	int rc;

	rc = iopfq_geometry(cfg, &geo);
	if (!rc && (!mem || ((iopfq_uptr)mem % IOPFQ_CACHELINE)))
		rc = -IOPFQ_EINVAL;
	if (!rc && (!ops || !ops->page_response || !ops->synchronize || !ops->notify ||
		    !ops->now_ns || !ops->aged))
		rc = -IOPFQ_EINVAL;
	if (!rc) {
		layout_of(cfg, &geo, &l);
		if (memsize < l.total)
			rc = -IOPFQ_EINVAL;
	}
	if (rc) {
		if (err)
			*err = rc;
		return (struct iopfq *)0;
	}

	zero_bytes(mem, l.total);
	q->ops = *ops;
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

	for (i = 0; i < cfg->max_devices; i++)
		q->devs[i].partial_head = NIL;
	for (i = 0; i < geo.hash_buckets; i++)
		q->hash[i] = NIL;
	for (i = 0; i < geo.group_slots; i++)
		q->groups[i].next = i + 1 < geo.group_slots ? i + 1 : NIL;
	for (i = 0; i < geo.page_slots; i++)
		q->pages[i].next = i + 1 < geo.page_slots ? i + 1 : NIL;
	q->group_free = 0;
	q->page_free = 0;
	q->ready_head = q->ready_tail = NIL;

	rc = iopfq_ring_init(&q->ring, base + l.ring, geo.ring_slots, sizeof(struct iopfq_entry),
			     cfg->ring_start);
	if (IOPFQ_WARN_ON(rc)) {
		if (err)
			*err = rc;
		return (struct iopfq *)0;
	}
	if (err)
		*err = 0;
	return q;
}

/* ---------------------------------------------------------------------- */
/* devices                                                                 */

static iopfq_u32 dev_state(iopfq_u32 state_gen)
{
	return state_gen & DEV_STATE_MASK;
}

/* The device a handle names, if it is attached or failed; else NULL. */
static struct iopfq_dev *dev_of_handle(struct iopfq *q, iopfq_dev_t h)
{
	iopfq_u32 idx = h & (IOPFQ_MAX_DEVICES - 1);
	iopfq_u32 sg;

	if (!q || idx >= q->cfg.max_devices)
		return (struct iopfq_dev *)0;
	sg = IOPFQ_LOAD_RELAXED(&q->devs[idx].state_gen);
	if ((sg >> 2) != (h >> DEV_IDX_BITS) ||
	    (dev_state(sg) != DEV_ATTACHED && dev_state(sg) != DEV_FAILED))
		return (struct iopfq_dev *)0;
	return &q->devs[idx];
}

static iopfq_u32 dev_index(const struct iopfq *q, const struct iopfq_dev *d)
{
	return (iopfq_u32)(d - q->devs);
}

int iopfq_dev_lookup(struct iopfq *q, iopfq_u32 dev_id, iopfq_dev_t *handle)
{
	iopfq_u32 i;

	if (!q || !handle)
		return -IOPFQ_EINVAL;
	for (i = 0; i < q->cfg.max_devices; i++) {
		struct iopfq_dev *d = &q->devs[i];
		iopfq_u32 sg = d->state_gen;

		if ((dev_state(sg) == DEV_ATTACHED || dev_state(sg) == DEV_FAILED) &&
		    d->dev_id == dev_id) {
			*handle = ((sg >> 2) << DEV_IDX_BITS) | i;
			return 0;
		}
	}
	return -IOPFQ_ENOENT;
}

int iopfq_attach(struct iopfq *q, iopfq_u32 dev_id, iopfq_u32 credits, void *dev_ctx,
		 iopfq_dev_t *handle)
{
	struct iopfq_dev *d = (struct iopfq_dev *)0;
	iopfq_dev_t existing;
	iopfq_u32 i, gen;

	if (!q || !handle || credits == 0)
		return -IOPFQ_EINVAL;
	if (iopfq_dev_lookup(q, dev_id, &existing) == 0)
		return -IOPFQ_EEXIST;
	if (credits > q->cfg.credit_budget - q->credits_attached)
		return -IOPFQ_ENOSPC;
	/*
	 * A free slot whose last generation was issued is retired: reusing it
	 * would have to start the generations again, and a handle detached
	 * long ago would name the new device.
	 */
	for (i = 0; i < q->cfg.max_devices && !d; i++)
		if (dev_state(q->devs[i].state_gen) == DEV_FREE &&
		    (q->devs[i].state_gen >> 2) < q->dev_gen_max)
			d = &q->devs[i];
	if (!d)
		return -IOPFQ_ENOSPC;

	gen = (d->state_gen >> 2) + 1;
	d->credits = credits;
	d->marker_credits = q->cfg.marker_credits;
	d->dev_id = dev_id;
	d->dev_ctx = dev_ctx;
	d->partial_head = NIL;
	IOPFQ_STORE_RELAXED(&d->credits_in_use, 0);
	IOPFQ_STORE_RELAXED(&d->markers_in_use, 0);
	/*
	 * D0: release; pairs with the producer's acquire at P0, so a report
	 * that sees ATTACHED also sees credits and dev_id.
	 */
	IOPFQ_STORE_RELEASE(&d->state_gen, (gen << 2) | DEV_ATTACHED);
	IOPFQ_STORE_RELAXED(&q->credits_attached, q->credits_attached + credits);
	IOPFQ_STORE_RELAXED(&q->devices_attached, q->devices_attached + 1);
	*handle = (gen << DEV_IDX_BITS) | dev_index(q, d);
	return 0;
}

int iopfq_dev_set_failed(struct iopfq *q, iopfq_dev_t dev, int failed)
{
	struct iopfq_dev *d = dev_of_handle(q, dev);

	if (!d)
		return -IOPFQ_ENODEV;
	IOPFQ_STORE_RELEASE(&d->state_gen,
			    (d->state_gen & ~DEV_STATE_MASK) | (failed ? DEV_FAILED : DEV_ATTACHED));
	return 0;
}

/* ---------------------------------------------------------------------- */
/* producer                                                                */

static int request_is_marker(const struct iopfq_request *req)
{
	return (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) &&
	       !(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE));
}

static int request_is_valid(const struct iopfq_request *req)
{
	int pasid_valid = !!(req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID);

	if (req->flags & ~IOPFQ_PGFAULT_FLAGS_ALL)
		return 0;
	if (req->perm & ~IOPFQ_PGFAULT_PERM_ALL)
		return 0;
	if (req->grpid > IOPFQ_GRPID_MAX)
		return 0;
	if (pasid_valid ? req->pasid > IOPFQ_PASID_MAX : req->pasid != 0)
		return 0;
	if (request_is_marker(req))
		return pasid_valid; /* a Stop Marker names the PASID it stops */
	/* a page request asks for read or write access */
	return !!(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE));
}

/* Take one unit of @limit from @in_use; wait-free (no CAS loop). */
static int take_credit(iopfq_s32 *in_use, iopfq_u32 limit)
{
	if (IOPFQ_FETCH_ADD(in_use, 1) >= (iopfq_s32)limit) {
		IOPFQ_FETCH_ADD(in_use, -1);
		return 0;
	}
	return 1;
}

int iopfq_report(struct iopfq *q, iopfq_dev_t dev, const struct iopfq_request *req,
		 iopfq_u32 *answer)
{
	iopfq_u32 idx = dev & (IOPFQ_MAX_DEVICES - 1);
	struct iopfq_ring_slot *slot;
	struct iopfq_entry *e;
	struct iopfq_dev *d;
	iopfq_u32 sg, pos;
	int marker;

	if (answer)
		*answer = IOPFQ_HW_NONE;
	if (IOPFQ_UNLIKELY(!q))
		return -IOPFQ_EINVAL;
	if (IOPFQ_UNLIKELY(idx >= q->cfg.max_devices))
		goto nodev;
	d = &q->devs[idx];
	/* P0: acquire; pairs with D0 (attach) and D0' (detach) */
	sg = IOPFQ_LOAD_ACQUIRE(&d->state_gen);
	if (IOPFQ_UNLIKELY((sg >> 2) != (dev >> DEV_IDX_BITS)))
		goto nodev;
	if (IOPFQ_UNLIKELY(dev_state(sg) != DEV_ATTACHED)) {
		if (dev_state(sg) != DEV_FAILED)
			goto nodev;
		IOPFQ_STAT_ADD(&d->refused_failed, 1);
		return -IOPFQ_EIO;
	}
	if (IOPFQ_UNLIKELY(!req || !request_is_valid(req))) {
		IOPFQ_STAT_ADD(&d->refused_invalid, 1);
		return -IOPFQ_EINVAL;
	}

	marker = request_is_marker(req);
	if (IOPFQ_UNLIKELY(marker)) {
		if (!take_credit(&d->markers_in_use, d->marker_credits)) {
			IOPFQ_STAT_ADD(&d->refused_markers, 1);
			return -IOPFQ_EDQUOT;
		}
	} else if (IOPFQ_UNLIKELY(!take_credit(&d->credits_in_use, d->credits))) {
		IOPFQ_STAT_ADD(&d->refused_over_credit, 1);
		/* VT-d convention: a dropped last page is answered Success, so the device retries */
		if (answer && (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
			*answer = IOPFQ_HW_SUCCESS;
		return -IOPFQ_EDQUOT;
	}

	/* A credit is held, so the slot is already free: one fetch-add claims it. */
	slot = iopfq_ring_claim(&q->ring, &pos);
	e = (struct iopfq_entry *)slot;
	e->dev_idx = idx;
	e->req = *req;
	iopfq_ring_publish(slot, pos); /* R1 */
	if (IOPFQ_UNLIKELY(marker))
		IOPFQ_STAT_ADD(&d->markers_accepted, 1);

	/*
	 * W1: full fence between publishing (store) and reading `sleeping`
	 * (load); pairs with W2 in iopfq_prepare_sleep(). Either the consumer
	 * sees our entry, or we see its announcement and wake it.
	 */
	IOPFQ_SMP_MB();
	if (IOPFQ_UNLIKELY(IOPFQ_LOAD_RELAXED(&q->sleeping)) && IOPFQ_XCHG(&q->sleeping, 0))
		q->ops.notify(q->ops.ctx);
	return 0;

nodev:
	IOPFQ_STAT_ADD(&q->refused_nodev, 1);
	return -IOPFQ_ENODEV;
}

/* ---------------------------------------------------------------------- */
/* consumer side: pages and groups                                         */

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

/* Give @n credits back to device @dev_idx. */
static void credits_return(struct iopfq *q, iopfq_u32 dev_idx, iopfq_u32 n)
{
	/*
	 * X1: counting only; no data is published through credits (A1 in
	 * ring.h orders a ring slot's reuse). acq_rel all the same: the
	 * producer that takes the credit sees everything before the return.
	 */
	IOPFQ_FETCH_ADD(&q->devs[dev_idx].credits_in_use, -(iopfq_s32)n);
}

static void consumer_add(iopfq_u64 *counter, iopfq_u64 n)
{
	IOPFQ_STORE_RELAXED(counter, *counter + n);
}

static void consumer_sub(iopfq_u64 *counter, iopfq_u64 n)
{
	IOPFQ_STORE_RELAXED(counter, *counter - n);
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
	credits_return(q, g->dev_idx, n);
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
	/* X2: release; the marker's slot is consumed before its credit returns */
	IOPFQ_FETCH_ADD(&d->markers_in_use, -1);
}

/* Queue group @gi ready right after group @after (NIL: at the head). */
static void ready_insert(struct iopfq *q, iopfq_u32 gi, iopfq_u32 after)
{
	struct iopfq_group *g = &q->groups[gi];

	g->where = IOPFQ_GROUP_READY;
	if (after == NIL) {
		g->next = q->ready_head;
		q->ready_head = gi;
	} else {
		g->next = q->groups[after].next;
		q->groups[after].next = gi;
	}
	if (g->next == NIL)
		q->ready_tail = gi;
}

static void ready_push(struct iopfq *q, iopfq_u32 gi)
{
	ready_insert(q, gi, q->ready_tail);
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

/* Move everything published in the ring into the consumer's structures. */
static void drain(struct iopfq *q)
{
	struct iopfq_ring_slot *slot = iopfq_ring_peek(&q->ring); /* C1 */
	iopfq_u64 now;

	if (!slot)
		return;
	now = q->ops.now_ns(q->ops.ctx);
	do {
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
		slot = iopfq_ring_peek(&q->ring); /* C1 */
	} while (slot);
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
		/* K0: acquire; pairs with K3, the answer's release of busy */
		if (!IOPFQ_LOAD_ACQUIRE(&q->cslots[s].busy))
			return s;
	}
	return NIL;
}

iopfq_u32 iopfq_next_group_size(struct iopfq *q)
{
	if (!q)
		return 0;
	drain(q);
	return q->ready_head == NIL ? 0 : q->groups[q->ready_head].npages;
}

int iopfq_read(struct iopfq *q, struct iopfq_hwpt_pgfault *recs, iopfq_u32 max)
{
	iopfq_u32 written = 0;

	if (!q || (!recs && max))
		return -IOPFQ_EINVAL;
	drain(q);
	while (q->ready_head != NIL) {
		iopfq_u32 gi = q->ready_head;
		struct iopfq_group *g = &q->groups[gi];
		struct iopfq_dev *d = &q->devs[g->dev_idx];
		struct iopfq_cslot *cs;
		iopfq_u32 si, gen, cookie, pi;

		if (g->npages > max - written)
			break;
		si = cookie_slot_alloc(q);
		if (IOPFQ_WARN_ON(si == NIL))
			break;
		cs = &q->cslots[si];
		gen = cs->gen + 1;
		if (gen > q->cookie_gen_max)
			gen = 1;
		cs->gen = gen;
		cookie = (gen << q->geo.cookie_index_bits) | si;

		for (pi = g->first_page; pi != NIL; pi = q->pages[pi].next) {
			struct iopfq_hwpt_pgfault *r = &recs[written++];

			r->flags = q->pages[pi].flags;
			r->dev_id = d->dev_id;
			r->pasid = g->pasid;
			r->grpid = g->grpid;
			r->perm = q->pages[pi].perm;
			r->__reserved = 0;
			r->addr = q->pages[pi].addr;
			r->length = 0;
			r->cookie = cookie;
		}

		cs->dev_idx = g->dev_idx;
		cs->dev_id = d->dev_id;
		cs->dev_ctx = d->dev_ctx;
		cs->pasid = g->pasid;
		cs->grpid = g->grpid;
		cs->flags = g->flags;
		cs->npages = g->npages;
		cs->first_ns = g->first_ns;
		cs->warned = g->warned;
		IOPFQ_STORE_RELAXED(&cs->busy, 1);
		/* K1: release; pairs with K2, so the winner of the cookie sees the slot */
		IOPFQ_STORE_RELEASE(&cs->cookie, cookie);

		consumer_sub(&q->ready, g->npages);
		consumer_add(&q->delivered_total, g->npages);
		consumer_add(&q->groups_delivered, 1);
		q->ready_head = g->next;
		if (q->ready_head == NIL)
			q->ready_tail = NIL;
		group_release(q, gi);
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

/* Rebuild a revoked group from its records and queue it ready after @after (NIL: first). */
static iopfq_u32 restore_group(struct iopfq *q, const struct iopfq_cslot *cs,
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
		 * K2: the revoke, as detach's. If an answer won the cookie
		 * meanwhile (its writer saw the part of the buffer that reached
		 * it), the group is answered and gone: nothing to queue again.
		 */
		if (IOPFQ_CAS_ACQ_REL(&cs->cookie, cookie, 0u) != cookie)
			continue;
		after = restore_group(q, cs, recs + i, after);
		consumer_add(&q->ready, len);
		consumer_sub(&q->delivered_total, len);
		consumer_sub(&q->groups_delivered, 1);
		/* K3': release; the slot is free for the reader (which is us) */
		IOPFQ_STORE_RELEASE(&cs->busy, 0u);
		restored++;
	}
	return restored;
}

/* ---------------------------------------------------------------------- */
/* answers                                                                 */

static void wait_relax(struct iopfq *q)
{
	if (q->ops.relax)
		q->ops.relax(q->ops.ctx);
	else
		IOPFQ_CPU_RELAX();
}

static void send_response(struct iopfq *q, iopfq_u32 dev_id, void *dev_ctx, iopfq_u32 flags,
			  iopfq_u32 pasid, iopfq_u32 grpid, iopfq_u32 npages, iopfq_u32 code,
			  iopfq_u32 origin)
{
	struct iopfq_response r;

	r.dev_id = dev_id;
	r.pasid = pasid;
	r.grpid = grpid;
	r.flags = flags;
	r.code = code;
	r.npages = npages;
	r.origin = origin;
	r.dev_ctx = dev_ctx;
	q->ops.page_response(q->ops.ctx, &r);
}

/*
 * We own the answer of response slot @cs (our CAS took its cookie): free the
 * slot, give the credits back, then send @code (IOPFQ_HW_NONE: nothing).
 *
 * Order: the slot is freed while the group still holds its credits, so at
 * most budget slots are ever busy and the reader always finds a free one.
 * Credits come back before the response goes out, so a device that reissues
 * the instant it sees the response never meets a stale full count (the
 * hardware cannot be that fast; a simulator or a VMM on another CPU can).
 * The device's `answering` count covers the whole window, so flush and
 * detach can wait for answers still sending (X3/X4).
 */
static void cslot_finish(struct iopfq *q, struct iopfq_cslot *cs, iopfq_u32 code,
			 iopfq_u32 origin)
{
	struct iopfq_dev *d = &q->devs[cs->dev_idx];
	iopfq_u32 dev_id = cs->dev_id, flags = cs->flags, pasid = cs->pasid;
	iopfq_u32 grpid = cs->grpid, npages = cs->npages;
	void *dev_ctx = cs->dev_ctx;

	/* X3: ordered before K3 by K3's release; pairs with the wait in wait_answers() */
	IOPFQ_FETCH_ADD(&d->answering, 1);
	/* K3: release; pairs with K0, the reader's check before reuse */
	IOPFQ_STORE_RELEASE(&cs->busy, 0u);

	if (origin == IOPFQ_ANSWER_USER) {
		IOPFQ_STAT_ADD(&q->answered_pages, npages);
		IOPFQ_STAT_ADD(&q->answered_groups, 1);
	} else {
		/* consumer side: detach or flush */
		consumer_add(&q->delivered_revoked, npages);
		if (code == IOPFQ_HW_NONE) {
			consumer_add(&q->discarded, npages);
		} else {
			consumer_add(&q->auto_answered, npages);
			consumer_add(&q->groups_auto_answered, 1);
		}
	}
	credits_return(q, dev_index(q, d), npages); /* X1 */
	if (code != IOPFQ_HW_NONE)
		send_response(q, dev_id, dev_ctx, flags, pasid, grpid, npages, code, origin);
	/* X4: release; the answer is complete when this is seen */
	IOPFQ_FETCH_ADD(&d->answering, -1);
}

/* Wait until no answer of device @d is between its claim and its end (X4). */
static void wait_answers(struct iopfq *q, struct iopfq_dev *d)
{
	while (IOPFQ_LOAD_ACQUIRE(&d->answering) != 0)
		wait_relax(q);
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
	 * K2: the claim. Acquire on success pairs with K1. Exactly one of
	 * racing answers and revokes (detach, flush) moves it off the cookie.
	 */
	if (IOPFQ_CAS_ACQ_REL(&q->cslots[si].cookie, cookie, 0u) != cookie)
		goto bad;
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

/* ---------------------------------------------------------------------- */
/* flush and detach                                                        */

/* Which groups a flush or detach removes */
struct victim {
	iopfq_u32 dev_idx;
	int all_pasids;             /* detach: every group of the device */
	iopfq_u32 flags;            /* flush: PASID_VALID or 0 */
	iopfq_u32 pasid;
	iopfq_u32 code;             /* answer for complete groups, or IOPFQ_HW_NONE */
	iopfq_u32 origin;
};

static int victim_matches(const struct victim *v, iopfq_u32 dev_idx, iopfq_u32 flags,
			  iopfq_u32 pasid)
{
	if (dev_idx != v->dev_idx)
		return 0;
	if (v->all_pasids)
		return 1;
	return (flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) == v->flags && pasid == v->pasid;
}

static void remove_victims(struct iopfq *q, const struct victim *v)
{
	struct iopfq_dev *d = &q->devs[v->dev_idx];
	iopfq_u32 gi, prev, next, si;

	/* reports in flight finish and are drained first: nothing hides in the ring */
	q->ops.synchronize(q->ops.ctx);
	drain(q);

	/* partial pages: dropped, the device waits for no answer to them */
	for (gi = d->partial_head; gi != NIL; gi = next) {
		next = q->groups[gi].next;
		if (victim_matches(v, q->groups[gi].dev_idx, q->groups[gi].flags,
				   q->groups[gi].pasid))
			partial_discard(q, gi, 0);
	}

	/* complete, unread groups: answered (or dropped), never delivered */
	prev = NIL;
	for (gi = q->ready_head; gi != NIL; gi = next) {
		struct iopfq_group *g = &q->groups[gi];

		next = g->next;
		if (!victim_matches(v, g->dev_idx, g->flags, g->pasid)) {
			prev = gi;
			continue;
		}
		if (prev == NIL)
			q->ready_head = next;
		else
			q->groups[prev].next = next;
		if (q->ready_tail == gi)
			q->ready_tail = prev;
		consumer_sub(&q->ready, g->npages);
		credits_return(q, g->dev_idx, g->npages); /* credits first, as in cslot_finish() */
		if (v->code == IOPFQ_HW_NONE) {
			consumer_add(&q->discarded, g->npages);
		} else {
			send_response(q, d->dev_id, d->dev_ctx, g->flags, g->pasid, g->grpid,
				      g->npages, v->code, v->origin);
			consumer_add(&q->auto_answered, g->npages);
			consumer_add(&q->groups_auto_answered, 1);
		}
		group_release(q, gi);
	}

	/* delivered groups: revoke the cookie, or wait for the answer that won it */
	for (si = 0; si <= q->cookie_index_mask; si++) {
		struct iopfq_cslot *cs = &q->cslots[si];
		iopfq_u32 cookie;

		/* K0': acquire; pairs with K3 */
		if (!IOPFQ_LOAD_ACQUIRE(&cs->busy) ||
		    !victim_matches(v, cs->dev_idx, cs->flags, cs->pasid))
			continue;
		cookie = IOPFQ_LOAD_RELAXED(&cs->cookie);
		if (cookie && IOPFQ_CAS_ACQ_REL(&cs->cookie, cookie, 0u) == cookie) { /* K2 */
			cslot_finish(q, cs, v->code, v->origin);
			continue;
		}
		/* an answer on another thread owns it; X3 is counted before busy clears */
		while (IOPFQ_LOAD_ACQUIRE(&cs->busy)) /* K0' */
			wait_relax(q);
	}
	/* answers of the device that already freed their slot may still be sending */
	wait_answers(q, d);
}

int iopfq_flush(struct iopfq *q, iopfq_dev_t dev, int pasid_valid, iopfq_u32 pasid,
		iopfq_u32 flags)
{
	struct iopfq_dev *d = dev_of_handle(q, dev);
	struct victim v;

	if (!d)
		return -IOPFQ_ENODEV;
	if (flags & ~IOPFQ_FLUSH_NO_RESPONSE)
		return -IOPFQ_EINVAL;
	if (pasid_valid ? pasid > IOPFQ_PASID_MAX : pasid != 0)
		return -IOPFQ_EINVAL;
	v.dev_idx = dev_index(q, d);
	v.all_pasids = 0;
	v.flags = pasid_valid ? IOPFQ_PGFAULT_FLAGS_PASID_VALID : 0;
	v.pasid = pasid;
	v.code = (flags & IOPFQ_FLUSH_NO_RESPONSE) ? IOPFQ_HW_NONE : IOPFQ_HW_INVALID;
	v.origin = IOPFQ_ANSWER_FLUSH;
	remove_victims(q, &v);
	return 0;
}

int iopfq_detach(struct iopfq *q, iopfq_dev_t dev)
{
	struct iopfq_dev *d = dev_of_handle(q, dev);
	struct victim v;

	if (!d)
		return -IOPFQ_ENODEV;
	/* D0': release; reports that see DETACHING refuse with -ENODEV */
	IOPFQ_STORE_RELEASE(&d->state_gen, (d->state_gen & ~DEV_STATE_MASK) | DEV_DETACHING);
	v.dev_idx = dev_index(q, d);
	v.all_pasids = 1;
	v.flags = 0;
	v.pasid = 0;
	v.code = IOPFQ_HW_INVALID;
	v.origin = IOPFQ_ANSWER_DETACH;
	remove_victims(q, &v);

	/* everything of the device is gone and every answer has returned its credits */
	IOPFQ_WARN_ON(IOPFQ_LOAD_ACQUIRE(&d->credits_in_use) != 0);
	IOPFQ_WARN_ON(IOPFQ_LOAD_ACQUIRE(&d->markers_in_use) != 0);
	IOPFQ_WARN_ON(d->partial_head != NIL);

	consumer_add(&q->gone_markers_accepted, IOPFQ_LOAD_RELAXED(&d->markers_accepted));
	consumer_add(&q->gone_refused_over_credit, IOPFQ_LOAD_RELAXED(&d->refused_over_credit));
	consumer_add(&q->gone_refused_markers, IOPFQ_LOAD_RELAXED(&d->refused_markers));
	consumer_add(&q->gone_refused_invalid, IOPFQ_LOAD_RELAXED(&d->refused_invalid));
	consumer_add(&q->gone_refused_failed, IOPFQ_LOAD_RELAXED(&d->refused_failed));
	IOPFQ_STORE_RELAXED(&d->markers_accepted, 0);
	IOPFQ_STORE_RELAXED(&d->refused_over_credit, 0);
	IOPFQ_STORE_RELAXED(&d->refused_markers, 0);
	IOPFQ_STORE_RELAXED(&d->refused_invalid, 0);
	IOPFQ_STORE_RELAXED(&d->refused_failed, 0);

	IOPFQ_STORE_RELAXED(&q->credits_attached, q->credits_attached - d->credits);
	IOPFQ_STORE_RELAXED(&q->devices_attached, q->devices_attached - 1);
	IOPFQ_STORE_RELEASE(&d->state_gen, (d->state_gen & ~DEV_STATE_MASK) | DEV_FREE);
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
	q->ops.aged(q->ops.ctx, a);
	consumer_add(&q->aged_warnings, 1);
	return 1;
}

iopfq_u32 iopfq_age_scan(struct iopfq *q, iopfq_u64 threshold_ns)
{
	iopfq_u32 i, reported = 0;
	struct iopfq_aged a;
	iopfq_u64 now;

	if (!q)
		return 0;
	drain(q);
	now = q->ops.now_ns(q->ops.ctx);
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
		iopfq_u32 cookie = IOPFQ_LOAD_ACQUIRE(&cs->cookie);

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

int iopfq_poll_ready(struct iopfq *q)
{
	if (!q)
		return 0;
	drain(q);
	return q->ready_head != NIL;
}

int iopfq_prepare_sleep(struct iopfq *q)
{
	if (!q)
		return 0;
	IOPFQ_STORE_RELAXED(&q->sleeping, 1u);
	/* W2: full fence between the announcement and the re-check; pairs with W1 */
	IOPFQ_SMP_MB();
	if (q->ready_head != NIL || iopfq_ring_peek(&q->ring)) {
		IOPFQ_STORE_RELAXED(&q->sleeping, 0u);
		return 0;
	}
	return 1;
}

void iopfq_finish_sleep(struct iopfq *q)
{
	if (q)
		IOPFQ_STORE_RELAXED(&q->sleeping, 0u);
}

void iopfq_counters(struct iopfq *q, struct iopfq_counters *c)
{
	iopfq_u64 markers, over, mrefused, invalid, failed, claimed;
	iopfq_u32 i;

	if (!q || !c)
		return;
	markers = IOPFQ_LOAD_RELAXED(&q->gone_markers_accepted);
	over = IOPFQ_LOAD_RELAXED(&q->gone_refused_over_credit);
	mrefused = IOPFQ_LOAD_RELAXED(&q->gone_refused_markers);
	invalid = IOPFQ_LOAD_RELAXED(&q->gone_refused_invalid);
	failed = IOPFQ_LOAD_RELAXED(&q->gone_refused_failed);
	for (i = 0; i < q->cfg.max_devices; i++) {
		struct iopfq_dev *d = &q->devs[i];

		markers += IOPFQ_LOAD_RELAXED(&d->markers_accepted);
		over += IOPFQ_LOAD_RELAXED(&d->refused_over_credit);
		mrefused += IOPFQ_LOAD_RELAXED(&d->refused_markers);
		invalid += IOPFQ_LOAD_RELAXED(&d->refused_invalid);
		failed += IOPFQ_LOAD_RELAXED(&d->refused_failed);
	}
	/*
	 * Every ring position ever claimed is a page request or a marker that
	 * was accepted: the ones drained plus the ones still between head and
	 * tail (claimed, maybe not yet published).
	 */
	claimed = IOPFQ_LOAD_RELAXED(&q->drained) + IOPFQ_LOAD_RELAXED(&q->drained_markers) +
		  (iopfq_u32)(IOPFQ_LOAD_RELAXED(&q->ring.tail) - IOPFQ_LOAD_RELAXED(&q->ring.head));
	c->accepted = claimed - markers;
	c->markers_accepted = markers;
	c->refused_over_credit = over;
	c->refused_markers = mrefused;
	c->refused_invalid = invalid;
	c->refused_failed = failed;
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
