/* SPDX-License-Identifier: MIT */
/*
 * ring.h - bounded multi-producer single-consumer ring of fixed-size slots.
 *
 * May touch: only the ring header and the slot memory the caller provides.
 * Freestanding: includes nothing but the platform contract.
 *
 * Protocol (per-slot sequence numbers, after Vyukov's bounded queue, without
 * its CAS loop): positions are free-running u32 values; position p lives in
 * slot p & mask. Each slot starts with a u32 `seq`:
 *
 *   seq == p       slot is free for the producer that claims position p
 *   seq == p + 1   position p is published and may be consumed
 *
 * A producer first holds a *reservation* (a PRI credit in the queue, or
 * iopfq_ring_reserve() for the bare ring): at most `capacity` reservations
 * exist, so the position it claims with one fetch-add on `tail` always names
 * a slot the consumer has already released. It never waits for another
 * producer: there is no in-order tail commit (DPDK, ck_ring MP), so a
 * producer interrupted between claim and publish by a handler that produces
 * on the same CPU cannot deadlock. The only cost of such an interruption is
 * that the consumer stops at the unpublished slot until it is published;
 * the other producers go on.
 *
 * Wrap-around: positions are compared only for equality and subtracted
 * modulo 2^32; with capacity <= 2^31 the difference tail - head is always
 * the true number of claimed, unconsumed positions.
 *
 * Synchronization table:
 *   reserve/claim/publish  any number of threads, any context (hard IRQ too)
 *   peek/consume/dequeue   one consumer at a time (caller serializes)
 *   unreserve              any thread, after the consumer is done with a slot
 *
 * Ordering edges, one sentence each, repeated at the access (the list of
 * every edge of the repository is docs/memory-ordering.md):
 *   R1  publish: store-release of seq; establishes a synchronizing edge
 *       with the load-acquire of seq at C1.
 *   C1  peek: load-acquire of seq; establishes a synchronizing edge with the
 *       store-release of seq at R1.
 *   C2  consume: store-release of seq; establishes a synchronizing edge with
 *       the load-acquire of seq at A1.
 *   A1  claim: load-acquire of seq; establishes a synchronizing edge with
 *       the store-release of seq at C2.
 *   V1  reserve: fetch-add of free_reservations (acq_rel); establishes a
 *       synchronizing edge with the fetch-add at V2.
 *   V2  unreserve: fetch-add of free_reservations (acq_rel); establishes a
 *       synchronizing edge with the fetch-add at V1.
 * The claim's fetch-add on tail is relaxed and synchronizes nothing: no data
 * is published through tail (A1 orders a slot's reuse).
 */
#ifndef IOPFQ_RING_H
#define IOPFQ_RING_H

#include "../platform/iopfq_platform.h"
#include "../include/iopfq/errno.h"

struct iopfq_ring_slot {
	iopfq_u32 seq;
};

struct iopfq_ring {
	/* read-only after init, shared by everyone */
	iopfq_u8 *slots;
	iopfq_u32 mask;
	iopfq_u32 stride;
	/* producers' line: claimed positions */
	iopfq_u32 tail IOPFQ_CACHELINE_ALIGNED;
	/* reservations still available (bare-ring use; the queue uses credits) */
	iopfq_s32 free_reservations IOPFQ_CACHELINE_ALIGNED;
	/* times a producer found its slot not yet released: must stay 0 while
	 * reservations are honoured; counted, never relied upon */
	iopfq_u32 claim_waits;
	/* consumer's line */
	iopfq_u32 head IOPFQ_CACHELINE_ALIGNED;
};

/* Bytes of slot memory for @capacity slots of @stride bytes; 0 if invalid. */
iopfq_size_t iopfq_ring_slots_memsize(iopfq_u32 capacity, iopfq_u32 stride);

/*
 * iopfq_ring_init - set up @r over caller memory @slots (aligned to
 * IOPFQ_CACHELINE when stride is a multiple of it).
 * @capacity: power of two, 1 .. 2^31.  @stride: slot size, >= 4, multiple of 4.
 * @start: first position (tests start near 2^32 to exercise wrap-around).
 * Return: 0, or -EINVAL for a bad capacity, stride or alignment.
 */
int iopfq_ring_init(struct iopfq_ring *r, void *slots, iopfq_u32 capacity,
		    iopfq_u32 stride, iopfq_u32 start);

static inline iopfq_u32 iopfq_ring_capacity(const struct iopfq_ring *r)
{
	return r->mask + 1;
}

static inline struct iopfq_ring_slot *iopfq_ring_slot_at(const struct iopfq_ring *r,
							  iopfq_u32 pos)
{
	return (struct iopfq_ring_slot *)(r->slots + (iopfq_size_t)(pos & r->mask) * r->stride);
}

/*
 * iopfq_ring_reserve - take one of the ring's `capacity` reservations.
 * Context: any. Wait-free.
 * Return: 0, or -ENOSPC when all are held (nothing changed).
 */
static inline int iopfq_ring_reserve(struct iopfq_ring *r)
{
	/*
	 * V1: fetch-add of free_reservations (acq_rel); establishes a
	 * synchronizing edge with the fetch-add at V2. Counting only: a slot's
	 * reuse is ordered by A1 and C2.
	 */
	if (IOPFQ_FETCH_ADD(&r->free_reservations, -1) <= 0) {
		IOPFQ_FETCH_ADD(&r->free_reservations, 1); /* V1: undone, as above */
		return -IOPFQ_ENOSPC;
	}
	return 0;
}

/* Give back a reservation whose slot the consumer has consumed. */
static inline void iopfq_ring_unreserve(struct iopfq_ring *r)
{
	/*
	 * V2: fetch-add of free_reservations (acq_rel); establishes a
	 * synchronizing edge with the fetch-add at V1.
	 */
	IOPFQ_FETCH_ADD(&r->free_reservations, 1);
}

/*
 * iopfq_ring_claim - claim the next position; the caller must hold a
 * reservation. Fill the returned slot after its seq, then publish it.
 * Context: any, including hard IRQ. One fetch-add; never waits for another
 * producer.
 */
static inline struct iopfq_ring_slot *iopfq_ring_claim(struct iopfq_ring *r,
							iopfq_u32 *pos_out)
{
	/* relaxed: synchronizes nothing; the slot's own seq (A1) orders its reuse */
	iopfq_u32 pos = IOPFQ_FETCH_ADD_RELAXED(&r->tail, 1);
	struct iopfq_ring_slot *slot = iopfq_ring_slot_at(r, pos);

	/*
	 * A1: load-acquire of seq; establishes a synchronizing edge with the
	 * store-release of seq at C2. The consumer's reads of this slot's
	 * previous content happen before our writes. Reservations make the
	 * slot free already; the loop is the safety net and is counted, never
	 * expected.
	 */
	if (IOPFQ_UNLIKELY(IOPFQ_LOAD_ACQUIRE(&slot->seq) != pos)) {
		IOPFQ_FETCH_ADD_RELAXED(&r->claim_waits, 1); /* relaxed: a statistic */
		while (IOPFQ_LOAD_ACQUIRE(&slot->seq) != pos) /* A1 */
			IOPFQ_CPU_RELAX();
	}
	*pos_out = pos;
	return slot;
}

/* Context: any. */
static inline void iopfq_ring_publish(struct iopfq_ring_slot *slot, iopfq_u32 pos)
{
	/*
	 * R1: store-release of seq; establishes a synchronizing edge with the
	 * load-acquire of seq at C1.
	 */
	IOPFQ_STORE_RELEASE(&slot->seq, pos + 1);
}

/*
 * iopfq_ring_peek - the slot at the head if it is published, else NULL
 * (empty, or the next producer has claimed but not yet published).
 * Context: the consumer.
 */
static inline struct iopfq_ring_slot *iopfq_ring_peek(const struct iopfq_ring *r)
{
	struct iopfq_ring_slot *slot = iopfq_ring_slot_at(r, r->head);

	/*
	 * C1: load-acquire of seq; establishes a synchronizing edge with the
	 * store-release of seq at R1.
	 */
	if (IOPFQ_LOAD_ACQUIRE(&slot->seq) != r->head + 1)
		return (struct iopfq_ring_slot *)0;
	return slot;
}

/* Context: the consumer, after reading the slot returned by peek. */
static inline void iopfq_ring_consume(struct iopfq_ring *r, struct iopfq_ring_slot *slot)
{
	/*
	 * C2: store-release of seq; establishes a synchronizing edge with the
	 * load-acquire of seq at A1.
	 */
	IOPFQ_STORE_RELEASE(&slot->seq, r->head + r->mask + 1);
	/* relaxed store: statistics (iopfq_counters) read head from any thread */
	IOPFQ_STORE_RELAXED(&r->head, r->head + 1);
}

/*
 * Is position @pos published? Context: the consumer, for a position at or
 * after the head. Not a synchronizing access (relaxed): it only tells the
 * consumer how far to go; a slot is read only after its own peek (C1).
 */
static inline int iopfq_ring_published_at(const struct iopfq_ring *r, iopfq_u32 pos)
{
	return IOPFQ_LOAD_RELAXED(&iopfq_ring_slot_at(r, pos)->seq) == pos + 1;
}

/*
 * Positions claimed but not consumed (an upper bound while producers run).
 * Relaxed: not a synchronizing access; it only bounds how far a drain goes
 * (each slot is still read after its own C1).
 */
static inline iopfq_u32 iopfq_ring_count(const struct iopfq_ring *r)
{
	return IOPFQ_LOAD_RELAXED(&r->tail) - r->head;
}

/*
 * iopfq_ring_dequeue_burst - copy up to @max published slots, in position
 * order, into @out (an array of slots of the ring's stride) and release them.
 * Stops at the first unpublished position. Context: the consumer.
 * Return: the number of slots copied.
 */
iopfq_u32 iopfq_ring_dequeue_burst(struct iopfq_ring *r, void *out, iopfq_u32 max);

#endif /* IOPFQ_RING_H */
