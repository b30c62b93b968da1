/* SPDX-License-Identifier: MIT */
/*
 * devices.c - the device table: attach, detach, the failed state, the
 * producer (iopfq_report()) and the credits a device holds.
 *
 * May touch: the device table (struct iopfq_dev), the ring through ring.h
 * (claim and publish, producer side), the queue's sleep announcement and
 * nodev statistic, the answer statistics, and the budget totals. Calls no
 * other file of the queue: detach's removal of the device's groups is done
 * by queue.c between iopfq_dev_detach_begin() and iopfq_dev_detach_end().
 *
 * Concurrency role: iopfq_report() runs on any number of threads at once,
 * in any context, wait-free: it reads state_gen (P0), takes a credit with a
 * fetch-add, claims and publishes a ring slot (A1, R1), then does the Dekker
 * check of the consumer's sleep announcement (W1, and W3 to wake it). Attach, detach and
 * set_flags are consumer side: the only writers of state_gen (D0, D0'). The
 * credits come back from the answer and drain paths (X1, X2), and the
 * answering count (X3/X4) lets detach wait for answers still sending.
 */
#include "internal.h"

/* The device a handle names, if it is attached or failed; else NULL. */
struct iopfq_dev *iopfq_dev_of_handle(struct iopfq *q, iopfq_dev_t h)
{
	iopfq_u32 idx = h & (IOPFQ_MAX_DEVICES - 1);
	iopfq_u32 sg;

	if (!q || idx >= q->cfg.max_devices)
		return (struct iopfq_dev *)0;
	/* relaxed: consumer side, which is the only writer of state_gen */
	sg = IOPFQ_LOAD_RELAXED(&q->devs[idx].state_gen);
	if ((sg >> 2) != (h >> DEV_IDX_BITS) ||
	    (dev_state(sg) != DEV_ATTACHED && dev_state(sg) != DEV_FAILED))
		return (struct iopfq_dev *)0;
	return &q->devs[idx];
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

int iopfq_dev_attach(struct iopfq *q, iopfq_u32 dev_id, iopfq_u32 credits, void *dev_ctx,
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
	d->cslot_head = NIL;
	/* relaxed: D0 below publishes them to the reports that take credits */
	IOPFQ_STORE_RELAXED(&d->credits_in_use, 0);
	IOPFQ_STORE_RELAXED(&d->markers_in_use, 0);
	/*
	 * D0: store-release of state_gen; establishes a synchronizing edge
	 * with the load-acquire of state_gen at P0 (a report that sees
	 * ATTACHED also sees credits and dev_id).
	 */
	IOPFQ_STORE_RELEASE(&d->state_gen, (gen << 2) | DEV_ATTACHED);
	/* relaxed: consumer-side totals, read by iopfq_counters() only */
	IOPFQ_STORE_RELAXED(&q->credits_attached, q->credits_attached + credits);
	IOPFQ_STORE_RELAXED(&q->devices_attached, q->devices_attached + 1);
	*handle = (gen << DEV_IDX_BITS) | dev_index(q, d);
	return 0;
}

int iopfq_dev_set_flags(struct iopfq *q, iopfq_dev_t dev, iopfq_u32 flags)
{
	struct iopfq_dev *d;

	if (!q)
		return -IOPFQ_EINVAL;
	d = iopfq_dev_of_handle(q, dev);
	if (!d)
		return -IOPFQ_ENODEV;
	if (flags & ~IOPFQ_DEV_FAILED)
		return -IOPFQ_EINVAL;
	/*
	 * D1: store-release of state_gen; establishes a synchronizing edge with
	 * the load-acquire of state_gen at P0.
	 */
	IOPFQ_STORE_RELEASE(&d->state_gen,
			    (d->state_gen & ~DEV_STATE_MASK) |
				    ((flags & IOPFQ_DEV_FAILED) ? DEV_FAILED : DEV_ATTACHED));
	return 0;
}


/* ---------------------------------------------------------------------- */
/* producer                                                                */
/* Take one unit of @limit from @in_use; wait-free (no CAS loop). */
static int take_credit(iopfq_s32 *in_use, iopfq_u32 limit)
{
	/*
	 * X0: fetch-add of credits_in_use or markers_in_use (acq_rel);
	 * establishes a synchronizing edge with the fetch-add at X1 or X2.
	 */
	if (IOPFQ_FETCH_ADD(in_use, 1) >= (iopfq_s32)limit) {
		IOPFQ_FETCH_ADD(in_use, -1); /* X0: undone, as above */
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
	/*
	 * P0: load-acquire of state_gen; establishes a synchronizing edge with
	 * the store-release of state_gen at D0, D0', D1 or D2.
	 */
	sg = IOPFQ_LOAD_ACQUIRE(&d->state_gen);
	if (IOPFQ_UNLIKELY((sg >> 2) != (dev >> DEV_IDX_BITS)))
		goto nodev;
	if (IOPFQ_UNLIKELY(dev_state(sg) != DEV_ATTACHED)) {
		if (dev_state(sg) != DEV_FAILED)
			goto nodev;
		IOPFQ_STAT_ADD(&d->stats.refused_failed, 1);
		return -IOPFQ_EIO;
	}
	if (IOPFQ_UNLIKELY(!req || !request_is_valid(req))) {
		IOPFQ_STAT_ADD(&d->stats.refused_invalid, 1);
		return -IOPFQ_EINVAL;
	}

	marker = request_is_marker(req);
	if (IOPFQ_UNLIKELY(marker)) {
		if (!take_credit(&d->markers_in_use, d->marker_credits)) {
			IOPFQ_STAT_ADD(&d->stats.refused_markers, 1);
			return -IOPFQ_EDQUOT;
		}
	} else if (IOPFQ_UNLIKELY(!take_credit(&d->credits_in_use, d->credits))) {
		IOPFQ_STAT_ADD(&d->stats.refused_over_credit, 1);
		/*
		 * VT-d convention: a dropped last page is answered Success, so the
		 * device retries
		 */
		if (answer && (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
			*answer = IOPFQ_HW_SUCCESS;
		return -IOPFQ_EDQUOT;
	}

	/* A credit is held, so the slot is already free: one fetch-add claims it. */
	slot = iopfq_ring_claim(&q->ring, &pos);
	e = (struct iopfq_entry *)slot;
	e->dev_idx = idx;
	e->req = *req;
	/*
	 * The probe reads d->dev_id before R1, so that R1 orders the read
	 * before anything the consumer does after taking the entry, up to a
	 * detach and a re-attach that rewrite dev_id. After R1 only the
	 * detach's grace period would order it, which ThreadSanitizer cannot
	 * see (it reported the read after R1 as a race with attach).
	 */
	IOPFQ_PROBE(report, d->dev_id, req->pasid, req->grpid, req->flags);
	iopfq_ring_publish(slot, pos); /* R1 */
	if (IOPFQ_UNLIKELY(marker))
		IOPFQ_STAT_ADD(&d->stats.markers_accepted, 1);

	/*
	 * W1: full fence between the publish (R1, a store) and the load of
	 * sleeping; establishes a synchronizing edge with the full fence at
	 * W2. Either the consumer sees our entry, or we see its announcement
	 * and wake it. The load itself is relaxed: the fence orders it.
	 *
	 * W3: exchange of sleeping (acq_rel); establishes a synchronizing edge
	 * with the exchange of sleeping at W3 of an earlier producer whose 0
	 * it reads. Nothing depends on that edge (the consumer's
	 * stores of sleeping are relaxed; W1/W2 order the wake-up, R1/C1 the
	 * entry): the exchange is there for its atomicity, so that one
	 * producer only notifies per sleep.
	 */
	IOPFQ_SMP_MB();
	if (IOPFQ_UNLIKELY(IOPFQ_LOAD_RELAXED(&q->sleeping)) && IOPFQ_XCHG(&q->sleeping, 0))
		q->ops.notify(q->ctx);
	return 0;

nodev:
	IOPFQ_STAT_ADD(&q->refused_nodev, 1);
	return -IOPFQ_ENODEV;
}

/* ---------------------------------------------------------------------- */
/* credits and answers                                                     */

/*
 * iopfq_group_answer - a complete group of device @dev_idx leaves the
 * queue: count it, give its credits back, then send @r (nothing for code
 * IOPFQ_HW_NONE). The one place an answer, automatic or not, is made.
 *
 * Order: credits come back before the response goes out, so a device that
 * reissues the instant it sees the response never meets a stale full count
 * (the hardware cannot be that fast; a simulator or a VMM on another CPU
 * can). Context: any thread for origin USER (iopfq_respond()); else the
 * consumer side.
 */
void iopfq_group_answer(struct iopfq *q, iopfq_u32 dev_idx, const struct iopfq_response *r)
{
	if (r->origin == IOPFQ_ANSWER_USER) {
		IOPFQ_STAT_ADD(&q->answered_pages, r->npages);
		IOPFQ_STAT_ADD(&q->answered_groups, 1);
	} else if (r->code == IOPFQ_HW_NONE) {
		consumer_add(&q->discarded, r->npages);
	} else {
		consumer_add(&q->auto_answered, r->npages);
		consumer_add(&q->groups_auto_answered, 1);
	}
	credits_return(q, dev_idx, r->npages); /* X1 */
	if (r->code != IOPFQ_HW_NONE)
		q->ops.page_response(q->ctx, r);
}

/* A Stop Marker of device @dev_idx has been drained: its marker credit comes back. */
void iopfq_marker_credit_return(struct iopfq *q, iopfq_u32 dev_idx)
{
	/*
	 * X2: fetch-add of markers_in_use (acq_rel); establishes a
	 * synchronizing edge with the fetch-add at X0 and the load-acquire at
	 * X5. The marker's slot is consumed (C2) before its credit returns.
	 */
	IOPFQ_FETCH_ADD(&q->devs[dev_idx].markers_in_use, -1);
}

/* Wait until no answer of device @d is between its claim and its end (X4). */
void iopfq_wait_answers(struct iopfq *q, struct iopfq_dev *d)
{
	/*
	 * X6: load-acquire of answering; establishes a synchronizing edge with the
	 * fetch-adds at X3 and X4.
	 */
	while (IOPFQ_LOAD_ACQUIRE(&d->answering) != 0)
		wait_relax(q);
}

/* Detach, first half: new reports of @d are refused. Context: consumer side. */
void iopfq_dev_detach_begin(struct iopfq_dev *d)
{
	/*
	 * D0': store-release of state_gen; establishes a synchronizing edge
	 * with the load-acquire of state_gen at P0 (reports that see
	 * DETACHING refuse with -ENODEV).
	 */
	IOPFQ_STORE_RELEASE(&d->state_gen, (d->state_gen & ~DEV_STATE_MASK) | DEV_DETACHING);
}

/*
 * Detach, last half: nothing of @d is left in the queue and every answer
 * of it has returned its credits; fold its statistics into the queue's,
 * give its allocation back to the budget, free the slot.
 * Context: consumer side.
 */
void iopfq_dev_detach_end(struct iopfq *q, struct iopfq_dev *d)
{
	/*
	 * X5: load-acquire of credits_in_use, markers_in_use; establishes a
	 * synchronizing edge with the fetch-add at X1 or X2.
	 */
	IOPFQ_WARN_ON(IOPFQ_LOAD_ACQUIRE(&d->credits_in_use) != 0);
	IOPFQ_WARN_ON(IOPFQ_LOAD_ACQUIRE(&d->markers_in_use) != 0);
	IOPFQ_WARN_ON(d->partial_head != NIL);
	IOPFQ_WARN_ON(d->cslot_head != NIL);

	/*
	 * Relaxed: statistics. No report of the device runs any more (the
	 * synchronize hook waited for them), so nothing is lost in the fold.
	 */
#define FOLD_(type, name)                                                       \
	consumer_add(&q->gone.name, IOPFQ_LOAD_RELAXED(&d->stats.name));        \
	IOPFQ_STORE_RELAXED(&d->stats.name, 0);
	IOPFQ_PRODUCER_STATS(FOLD_)
#undef FOLD_

	/* relaxed: as at attach */
	IOPFQ_STORE_RELAXED(&q->credits_attached, q->credits_attached - d->credits);
	IOPFQ_STORE_RELAXED(&q->devices_attached, q->devices_attached - 1);
	/*
	 * D2: store-release of state_gen; establishes a synchronizing edge with
	 * the load-acquire of state_gen at P0.
	 */
	IOPFQ_STORE_RELEASE(&d->state_gen, (d->state_gen & ~DEV_STATE_MASK) | DEV_FREE);
}
