/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the queue's private structures, shared by the files
 * that implement it, and the calls they make into each other. Not
 * installed; nothing outside core/src includes it.
 *
 * May touch: nothing (declarations, and small inline helpers that touch
 * only what their arguments point to).
 *
 * Who writes what (the concurrency boundary the files follow):
 *
 *   devices.c  the device table: attach, detach's two halves, failed
 *              state, report (the producer), credits and answers. Its atomics: state_gen (D0/P0),
 *              credits_in_use and markers_in_use (take at report, X1/X2 at
 *              return), answering (X3/X4), the producer statistics.
 *   groups.c   group assembly: drain of the ring, the hash of partial
 *              groups, the per-device partial lists, the ready FIFO, the
 *              page and group free lists. Consumer side only; no
 *              read-modify-write and no ordering of its own: the ring's
 *              C1/C2 (ring.h) and the device table's credit returns do that.
 *   cookies.c  the response table: claim at read (K0/K1), answer (K2/K3),
 *              revoke (detach, flush, a failed read). Answers run on any
 *              thread; everything else in it on the consumer side.
 *   queue.c    geometry and init, flush and detach (removal everywhere),
 *              aging, the wake-up protocol (W2), the counters.
 *
 * Calls run down only: queue.c -> cookies.c -> groups.c -> devices.c ->
 * this header and ring.h.
 *
 * Every structure is in the caller's queue memory (iopfq_init() lays it
 * out); none of these files allocates.
 */
#ifndef IOPFQ_INTERNAL_H
#define IOPFQ_INTERNAL_H

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

/* What a device's producers count (relaxed); see IOPFQ_PRODUCER_STATS */
struct iopfq_producer_stats {
#define IOPFQ_STAT_FIELD_(type, name) iopfq_##type name;
	IOPFQ_PRODUCER_STATS(IOPFQ_STAT_FIELD_)
#undef IOPFQ_STAT_FIELD_
};

/*
 * A device-table entry, 128 bytes: two 64-byte cache lines (one where the
 * line is 128 bytes). On a 64-bit target (the asserts below) the first line
 * holds what every report of the device reads and writes (state_gen, the
 * credits and their counts, dev_id), what an answer writes (answering
 * and the credit count), dev_ctx, and the three producer statistics
 * counted on a path that has already written a credit count (markers_accepted, refused_over_credit,
 * refused_markers); the second line holds the two statistics counted before
 * any credit is taken (refused_invalid, refused_failed) and the
 * consumer-only lists (partial groups, complete groups, the turn, the
 * issued response slots).
 */
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
	struct iopfq_producer_stats stats;
	/* consumer side only */
	iopfq_u32 partial_head;     /* this device's partial groups */
	iopfq_u32 ready_head;       /* this device's complete groups, oldest first */
	iopfq_u32 ready_tail;
	iopfq_u32 turn_next;        /* the devices with complete groups: a circular */
	iopfq_u32 turn_prev;        /* list, in turn order (NIL: not in it) */
	iopfq_u32 cslot_head;       /* its issued response slots: a circular list, the
				     * reaper's next first (NIL: none; cookies.c) */
} IOPFQ_CACHELINE_ALIGNED;

#define DEV_OFF_(field) __builtin_offsetof(struct iopfq_dev, field)
IOPFQ_STATIC_ASSERT(IOPFQ_CACHELINE != 64 || sizeof(void *) != 8 || sizeof(struct iopfq_dev) == 128,
		    "a device-table entry is two 64-byte lines on a 64-bit machine");
IOPFQ_STATIC_ASSERT(IOPFQ_CACHELINE != 64 || sizeof(void *) != 8 ||
			    (DEV_OFF_(dev_ctx) + sizeof(void *) <= 64 &&
			     DEV_OFF_(stats.markers_accepted) == 40 &&
			     DEV_OFF_(stats.refused_markers) + 8 == 64),
		    "the report's fields and three producer statistics fill the first line");
IOPFQ_STATIC_ASSERT(IOPFQ_CACHELINE != 64 || sizeof(void *) != 8 ||
			    (DEV_OFF_(stats.refused_invalid) == 64 &&
			     DEV_OFF_(stats.refused_failed) == 72 && DEV_OFF_(partial_head) == 80 &&
			     DEV_OFF_(cslot_head) + 4 <= 128),
		    "two producer statistics and the consumer-only lists are in the second line");
#undef DEV_OFF_

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
	iopfq_u32 prev;             /* partial: device list; ready: completion order */
	iopfq_u32 next;             /* partial: device list; ready: completion order;
				     * free: free list */
	iopfq_u32 dev_next;         /* ready: its device's complete groups */
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
 * before it publishes @cookie and read by the owner after its CAS, except
 * the links, which only the consumer side reads or writes (answers never
 * touch them): a slot is on its device's list from its read until the
 * consumer side takes it off (cookies.c), and every busy slot is on it.
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
	iopfq_u32 dev_next;         /* consumer side only: its device's list of */
	iopfq_u32 dev_prev;         /* issued slots (NIL: on none) */
	iopfq_u64 first_ns;
	void *dev_ctx;
} IOPFQ_CACHELINE_ALIGNED;

/* The links fit in the line's padding: iopfq_memsize() did not grow. */
IOPFQ_STATIC_ASSERT(IOPFQ_CACHELINE < 64 || sizeof(struct iopfq_cslot) == IOPFQ_CACHELINE,
		    "a response slot is one cache line");

struct iopfq {
	/* read-only after init */
	struct iopfq_ops ops;       /* copied from iopfq_init()'s table */
	void *ctx;                  /* passed to every hook */
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
	iopfq_u32 ready_head IOPFQ_CACHELINE_ALIGNED; /* every complete group, */
	iopfq_u32 ready_tail;                         /* in completion order */
	iopfq_u32 turn;             /* the device whose turn it is (round robin), or NIL */
	iopfq_u32 delivery;         /* enum iopfq_delivery */
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
	struct iopfq_producer_stats gone;
};

/* Which groups a flush or detach removes */
struct iopfq_victims {
	iopfq_u32 dev_idx;
	int all_pasids;             /* detach: every group of the device */
	iopfq_u32 flags;            /* flush: PASID_VALID or 0 */
	iopfq_u32 pasid;
	iopfq_u32 code;             /* answer for complete groups, or IOPFQ_HW_NONE */
	iopfq_u32 origin;
};

/* ---------------------------------------------------------------------- */
/* small helpers, inline                                                   */

/* A counter only the consumer side writes: a relaxed store, read by iopfq_counters() */
static inline void consumer_add(iopfq_u64 *counter, iopfq_u64 n)
{
	IOPFQ_STORE_RELAXED(counter, *counter + n);
}

static inline void consumer_sub(iopfq_u64 *counter, iopfq_u64 n)
{
	IOPFQ_STORE_RELAXED(counter, *counter - n);
}

static inline iopfq_u32 dev_state(iopfq_u32 state_gen)
{
	return state_gen & DEV_STATE_MASK;
}

static inline iopfq_u32 dev_index(const struct iopfq *q, const struct iopfq_dev *d)
{
	return (iopfq_u32)(d - q->devs);
}

static inline int request_is_marker(const struct iopfq_request *req)
{
	return (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) &&
	       !(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE));
}

static inline int request_is_valid(const struct iopfq_request *req)
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

static inline int victim_matches(const struct iopfq_victims *v, iopfq_u32 dev_idx,
				 iopfq_u32 flags, iopfq_u32 pasid)
{
	if (dev_idx != v->dev_idx)
		return 0;
	if (v->all_pasids)
		return 1;
	return (flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) == v->flags && pasid == v->pasid;
}

/* Wait a little for another thread (ops->relax, or a spin hint). */
static inline void wait_relax(struct iopfq *q)
{
	if (q->ops.relax)
		q->ops.relax(q->ctx);
	else
		IOPFQ_CPU_RELAX();
}

/* ---------------------------------------------------------------------- */
/* the device table's atomics on the answer and drain paths (inline: they  */
/* run once per group; devices.c owns the fields)                          */

/* Give @n credits back to device @dev_idx. */
static inline void credits_return(struct iopfq *q, iopfq_u32 dev_idx, iopfq_u32 n)
{
	/*
	 * X1: fetch-add of credits_in_use (acq_rel); establishes a
	 * synchronizing edge with the fetch-add at X0 and the load-acquire at
	 * X5. No data is published through credits (A1 orders a ring slot's
	 * reuse); the edge makes the producer that takes the credit see
	 * everything before the return.
	 */
	IOPFQ_FETCH_ADD(&q->devs[dev_idx].credits_in_use, -(iopfq_s32)n);
}

/* An answer of device @d starts (before its slot is freed: K3) ... */
static inline void answer_begin(struct iopfq_dev *d)
{
	/*
	 * X3: fetch-add of answering (acq_rel), ordered before K3 by K3's
	 * release; establishes a synchronizing edge with the load-acquire of
	 * answering at X6 (a flush that sees busy == 0 through K0' sees
	 * answering >= 1 until X4).
	 */
	IOPFQ_FETCH_ADD(&d->answering, 1);
}

/* ... and ends once its response has been sent. */
static inline void answer_end(struct iopfq_dev *d)
{
	/*
	 * X4: fetch-add of answering (acq_rel); establishes a synchronizing
	 * edge with the load-acquire of answering at X6 (the answer is
	 * complete, response sent, when this is seen).
	 */
	IOPFQ_FETCH_ADD(&d->answering, -1);
}

/* ---------------------------------------------------------------------- */
/* devices.c                                                               */

struct iopfq_dev *iopfq_dev_of_handle(struct iopfq *q, iopfq_dev_t h);
void iopfq_marker_credit_return(struct iopfq *q, iopfq_u32 dev_idx);
void iopfq_group_answer(struct iopfq *q, iopfq_u32 dev_idx, const struct iopfq_response *r);
void iopfq_wait_answers(struct iopfq *q, struct iopfq_dev *d);
void iopfq_dev_detach_begin(struct iopfq_dev *d);
void iopfq_dev_detach_end(struct iopfq *q, struct iopfq_dev *d);

/* ---------------------------------------------------------------------- */
/* groups.c (consumer side)                                                */

void iopfq_drain(struct iopfq *q);
void iopfq_group_records(const struct iopfq *q, iopfq_u32 gi, struct iopfq_hwpt_pgfault *recs,
			 iopfq_u32 cookie);
iopfq_u32 iopfq_ready_next(const struct iopfq *q);
void iopfq_ready_pop(struct iopfq *q, iopfq_u32 gi);
iopfq_u32 iopfq_group_restore(struct iopfq *q, const struct iopfq_cslot *cs,
			      const struct iopfq_hwpt_pgfault *recs, iopfq_u32 after);
void iopfq_groups_remove(struct iopfq *q, const struct iopfq_victims *v);

/* ---------------------------------------------------------------------- */
/* cookies.c                                                               */

void iopfq_cookies_revoke(struct iopfq *q, const struct iopfq_victims *v);

#endif /* IOPFQ_INTERNAL_H */
