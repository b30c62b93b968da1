/* SPDX-License-Identifier: MIT */
/*
 * ring.c - the out-of-line parts of the MPSC ring (ring.h has the protocol).
 * May touch: the ring header and its slot memory only.
 */
#include "ring.h"

iopfq_size_t iopfq_ring_slots_memsize(iopfq_u32 capacity, iopfq_u32 stride)
{
	if (capacity == 0 || capacity > (1u << 31) || (capacity & (capacity - 1)))
		return 0;
	if (stride < sizeof(struct iopfq_ring_slot) || stride % 4)
		return 0;
	return (iopfq_size_t)capacity * stride;
}

int iopfq_ring_init(struct iopfq_ring *r, void *slots, iopfq_u32 capacity,
		    iopfq_u32 stride, iopfq_u32 start)
{
	iopfq_u32 i;

	if (!r || !slots || !iopfq_ring_slots_memsize(capacity, stride))
		return -IOPFQ_EINVAL;
	if (stride % IOPFQ_CACHELINE == 0 && ((iopfq_uptr)slots % IOPFQ_CACHELINE))
		return -IOPFQ_EINVAL;
	r->slots = (iopfq_u8 *)slots;
	r->mask = capacity - 1;
	r->stride = stride;
	r->head = start;
	r->free_reservations = (iopfq_s32)(capacity > 0x7fffffffu ? 0x7fffffff : capacity);
	r->claim_waits = 0;
	/* position start + i is free for its producer: seq == position */
	for (i = 0; i < capacity; i++)
		iopfq_ring_slot_at(r, start + i)->seq = start + i;
	/*
	 * Not a synchronizing access: the caller hands the initialised ring to
	 * other threads through its own synchronization (the lock or thread
	 * creation that publishes the queue), which orders all of the above.
	 */
	IOPFQ_STORE_RELAXED(&r->tail, start);
	return 0;
}

iopfq_u32 iopfq_ring_dequeue_burst(struct iopfq_ring *r, void *out, iopfq_u32 max)
{
	iopfq_u8 *dst = (iopfq_u8 *)out;
	iopfq_u32 n;

	for (n = 0; n < max; n++) {
		struct iopfq_ring_slot *slot = iopfq_ring_peek(r);
		const iopfq_u32 *src;
		iopfq_u32 *to;
		iopfq_u32 w;

		if (!slot)
			break;
		src = (const iopfq_u32 *)slot;
		to = (iopfq_u32 *)(dst + (iopfq_size_t)n * r->stride);
		for (w = 0; w < r->stride / 4; w++)
			to[w] = src[w];
		iopfq_ring_consume(r, slot);
	}
	return n;
}
