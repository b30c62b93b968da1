/* SPDX-License-Identifier: MIT */
/*
 * test_ring.c - single-threaded unit tests of the bounded MPSC ring
 * (core/src/ring.h, ring.c).
 *
 * The ring is the only path from a producer to the consumer, so every rule
 * of its contract is checked on its own here, where a failure points at one
 * operation rather than at a stress run:
 *
 *   - init and slots_memsize reject a capacity that is not a power of two in
 *     1 .. 2^31, a stride that is not a multiple of 4 (>= 4), and slot memory
 *     that is not cache-line aligned when the stride is a multiple of a
 *     cache line; a rejected init touches neither the ring nor the memory;
 *   - init writes only each slot's seq (seq == position);
 *   - an empty ring: peek is NULL, dequeue_burst returns 0 and writes nothing;
 *   - exactly `capacity` reservations; the next one is -ENOSPC and changes
 *     nothing; consume + unreserve gives exactly one back;
 *   - dequeue_burst with max 0, 1, capacity - 1, capacity, capacity + 1
 *     returns what it should, in position order, and writes no further;
 *   - capacities 1, 2, 4 and 1024, started at 0xffffffff - k so that the
 *     free-running u32 positions wrap while the ring is in use, over several
 *     laps: FIFO order, slot addresses and iopfq_ring_count stay right;
 *   - a claimed but unpublished slot stops the consumer at its position while
 *     later published slots wait; once published, all come out in order;
 *   - claim_waits stays 0 throughout (reservations were always honoured);
 *   - the same with an 8-byte stride and slot memory that is only 8-byte
 *     aligned, with guard bytes around it.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "test_platform.h" /* tp_mem_alloc() */

#define POISON 0xa5
#define EINVAL_RC (-22)
#define ENOSPC_RC (-28)

/* A 64-byte slot, as the queue uses: header, then the record. */
struct rec {
	struct iopfq_ring_slot hdr;
	uint32_t producer;
	uint32_t seqno;
	uint32_t pos;           /* the position its producer claimed */
	uint32_t pad[12];
} __attribute__((aligned(64)));

_Static_assert(sizeof(struct rec) == 64, "struct rec must be one cache line");
_Static_assert(IOPFQ_CACHELINE == 64, "tests assume 64-byte cache lines");

/* An 8-byte slot: header and one word. */
struct rec8 {
	struct iopfq_ring_slot hdr;
	uint32_t val;
};

_Static_assert(sizeof(struct rec8) == 8, "struct rec8 must be 8 bytes");

static const uint32_t capacities[] = { 1, 2, 4, 1024 };
#define NCAPS (sizeof(capacities) / sizeof(capacities[0]))

/* Ring memory, aligned as the ring requires (IOPFQ_MEM_ALIGN covers the cache line) */
static void *alloc_ring(size_t size)
{
	void *p = tp_mem_alloc(size);

	assert_non_null(p);
	memset(p, POISON, size);
	return p;
}

static int all_poison(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != POISON)
			return 0;
	return 1;
}

static int32_t free_reservations(const struct iopfq_ring *r)
{
	return __atomic_load_n(&r->free_reservations, __ATOMIC_RELAXED);
}

static uint32_t claim_waits(const struct iopfq_ring *r)
{
	return __atomic_load_n(&r->claim_waits, __ATOMIC_RELAXED);
}

static uint32_t ring_tail(const struct iopfq_ring *r)
{
	return __atomic_load_n(&r->tail, __ATOMIC_RELAXED);
}

/*
 * Claim, after checking that the slot the next position maps to is free for
 * it: a broken ring then fails here instead of spinning in claim forever.
 */
static struct iopfq_ring_slot *claim_checked(struct iopfq_ring *r, uint32_t *pos)
{
	uint32_t tail = ring_tail(r);
	struct iopfq_ring_slot *s;

	assert_int_equal(__atomic_load_n(&iopfq_ring_slot_at(r, tail)->seq, __ATOMIC_RELAXED),
			 tail);
	s = iopfq_ring_claim(r, pos);
	assert_int_equal(*pos, tail);
	assert_int_equal(claim_waits(r), 0);
	return s;
}

/* Poisoned slot memory with a ring of 64-byte slots over it. */
static struct rec *ring_new(struct iopfq_ring *r, uint32_t cap, uint32_t start)
{
	size_t size = iopfq_ring_slots_memsize(cap, sizeof(struct rec));
	struct rec *slots;

	assert_int_equal(size, (size_t)cap * sizeof(struct rec));
	slots = alloc_ring(size);
	memset(r, 0x5a, sizeof(*r));
	assert_int_equal(iopfq_ring_init(r, slots, cap, sizeof(struct rec), start), 0);
	assert_int_equal(iopfq_ring_capacity(r), cap);
	assert_int_equal(iopfq_ring_count(r), 0);
	assert_int_equal(free_reservations(r), (int32_t)cap);
	assert_int_equal(claim_waits(r), 0);
	return slots;
}

/* Reserve and claim one position; fill the record but do not publish it. */
static struct rec *claim_one(struct iopfq_ring *r, struct rec *slots, uint32_t producer,
			     uint32_t seqno, uint32_t *pos)
{
	struct iopfq_ring_slot *s;
	struct rec *rec;

	assert_int_equal(iopfq_ring_reserve(r), 0);
	s = claim_checked(r, pos);
	assert_non_null(s);
	rec = (struct rec *)s;
	/* position p lives in slot p & mask */
	assert_ptr_equal(rec, &slots[*pos & (iopfq_ring_capacity(r) - 1)]);
	assert_ptr_equal(s, iopfq_ring_slot_at(r, *pos));
	/* a claimed slot is free for exactly this position */
	assert_int_equal(__atomic_load_n(&s->seq, __ATOMIC_RELAXED), *pos);
	rec->producer = producer;
	rec->seqno = seqno;
	rec->pos = *pos;
	return rec;
}

static uint32_t produce_one(struct iopfq_ring *r, struct rec *slots, uint32_t producer,
			    uint32_t seqno)
{
	uint32_t pos;
	struct rec *rec = claim_one(r, slots, producer, seqno, &pos);

	iopfq_ring_publish(&rec->hdr, pos);
	assert_int_equal(__atomic_load_n(&rec->hdr.seq, __ATOMIC_RELAXED), pos + 1);
	return pos;
}

/* peek + consume + unreserve one record and check it is the expected one. */
static void consume_one(struct iopfq_ring *r, uint32_t seqno, uint32_t pos)
{
	struct iopfq_ring_slot *s = iopfq_ring_peek(r);
	struct rec *rec = (struct rec *)s;
	uint32_t cap = iopfq_ring_capacity(r);

	assert_non_null(s);
	assert_ptr_equal(s, iopfq_ring_slot_at(r, pos));
	assert_int_equal(rec->hdr.seq, pos + 1);
	assert_int_equal(rec->seqno, seqno);
	assert_int_equal(rec->pos, pos);
	/* peek is idempotent */
	assert_ptr_equal(iopfq_ring_peek(r), s);
	iopfq_ring_consume(r, s);
	/* released for the position one lap later */
	assert_int_equal(__atomic_load_n(&s->seq, __ATOMIC_RELAXED), pos + cap);
	iopfq_ring_unreserve(r);
}

/* ---------------------------------------------------------------- init */

static void test_memsize(void **state)
{
	(void)state;
	assert_int_equal(iopfq_ring_slots_memsize(1, 4), 4);
	assert_int_equal(iopfq_ring_slots_memsize(1, 64), 64);
	assert_int_equal(iopfq_ring_slots_memsize(2, 8), 16);
	assert_int_equal(iopfq_ring_slots_memsize(1024, 64), 65536);
	assert_int_equal(iopfq_ring_slots_memsize(4, 12), 48);
	/* the largest capacity, computed without 32-bit overflow */
	assert_true(iopfq_ring_slots_memsize(1u << 31, 4) == (size_t)1 << 33);
	assert_true(iopfq_ring_slots_memsize(1u << 31, 64) == (size_t)1 << 37);
	assert_true(iopfq_ring_slots_memsize(1u << 31, 0xfffffffcu) ==
		    ((size_t)1 << 31) * 0xfffffffcu);
	/* invalid capacity or stride: 0 */
	assert_int_equal(iopfq_ring_slots_memsize(0, 64), 0);
	assert_int_equal(iopfq_ring_slots_memsize(3, 64), 0);
	assert_int_equal(iopfq_ring_slots_memsize((1u << 31) + 1, 64), 0);
	assert_int_equal(iopfq_ring_slots_memsize(0xffffffffu, 64), 0);
	assert_int_equal(iopfq_ring_slots_memsize(4, 0), 0);
	assert_int_equal(iopfq_ring_slots_memsize(4, 2), 0);
	assert_int_equal(iopfq_ring_slots_memsize(4, 6), 0);
	assert_int_equal(iopfq_ring_slots_memsize(4, 0xffffffffu), 0);
}

/* Calls init with bad arguments; the ring and the memory must stay as they were. */
static void expect_init_einval(void *slots, size_t slots_size, uint32_t cap, uint32_t stride)
{
	struct iopfq_ring r, before;

	memset(&r, 0x5a, sizeof(r));
	memcpy(&before, &r, sizeof(r));
	assert_int_equal(iopfq_ring_init(&r, slots, cap, stride, 0xfffffff0u), EINVAL_RC);
	assert_memory_equal(&r, &before, sizeof(r));
	if (slots)
		assert_true(all_poison(slots, slots_size));
}

static void test_init_rejects_bad_capacity(void **state)
{
	static const uint32_t bad[] = {
		0, 3, 5, 6, 7, 9, 12, 100, 1000, 1023, 1025, 0x7fffffffu,
		(1u << 31) + 1, (1u << 31) + 2, 0xc0000000u, 0xfffffffeu, 0xffffffffu,
	};
	size_t size = 16 * sizeof(struct rec);
	void *mem = alloc_ring(size);
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(iopfq_ring_slots_memsize(bad[i], sizeof(struct rec)), 0);
		expect_init_einval(mem, size, bad[i], sizeof(struct rec));
		expect_init_einval(mem, size, bad[i], 8);
	}
	free(mem);
}

static void test_init_rejects_bad_stride(void **state)
{
	static const uint32_t bad[] = { 0, 1, 2, 3, 5, 6, 7, 10, 62, 65, 66, 0xffffffffu };
	static const uint32_t good[] = { 4, 8, 12, 60, 64, 68, 128 };
	size_t size = 4 * 128;
	void *mem = alloc_ring(size);
	struct iopfq_ring r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(iopfq_ring_slots_memsize(4, bad[i]), 0);
		expect_init_einval(mem, size, 4, bad[i]);
	}
	/* and the NULL cases */
	expect_init_einval(NULL, 0, 4, 64);
	assert_int_equal(iopfq_ring_init(NULL, mem, 4, 64, 0), EINVAL_RC);
	assert_true(all_poison(mem, size));

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(iopfq_ring_slots_memsize(4, good[i]), 4 * good[i]);
		assert_int_equal(iopfq_ring_init(&r, mem, 4, good[i], 7), 0);
		assert_int_equal(r.stride, good[i]);
		assert_ptr_equal(iopfq_ring_slot_at(&r, 9), (uint8_t *)mem + 1 * good[i]);
		memset(mem, POISON, size);
	}
	free(mem);
}

static void test_init_rejects_misaligned(void **state)
{
	static const size_t bad_off[] = { 4, 8, 16, 32, 60 };
	size_t size = 9 * 128;
	uint8_t *mem = alloc_ring(size);
	struct iopfq_ring r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_off) / sizeof(bad_off[0]); i++) {
		/* stride a multiple of the cache line: slots must be line-aligned */
		expect_init_einval(mem + bad_off[i], 4 * 64, 4, 64);
		expect_init_einval(mem + bad_off[i], 4 * 128, 4, 128);
		expect_init_einval(mem + bad_off[i], 2 * 192, 2, 192);
		assert_true(all_poison(mem, size));
	}
	/* line-aligned: accepted */
	assert_int_equal(iopfq_ring_init(&r, mem, 4, 64, 0), 0);
	memset(mem, POISON, size);
	assert_int_equal(iopfq_ring_init(&r, mem + 64, 4, 128, 0), 0);
	memset(mem, POISON, size);
	/* other strides only need 4-byte alignment */
	assert_int_equal(iopfq_ring_init(&r, mem + 4, 4, 8, 0), 0);
	memset(mem, POISON, size);
	assert_int_equal(iopfq_ring_init(&r, mem + 4, 4, 4, 0), 0);
	memset(mem, POISON, size);
	assert_int_equal(iopfq_ring_init(&r, mem + 36, 4, 60, 0), 0);
	free(mem);
}

/* init writes seq == position into each slot and nothing else */
static void test_init_state(void **state)
{
	static const uint32_t starts[] = { 0, 1, 0x80000000u, 0xfffffffeu, 0xffffffffu };
	size_t c, s, i;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		for (s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
			uint32_t cap = capacities[c], start = starts[s];
			struct iopfq_ring r;
			struct rec *slots = ring_new(&r, cap, start);

			assert_int_equal(ring_tail(&r), start);
			assert_int_equal(r.head, start);
			assert_int_equal(r.mask, cap - 1);
			for (i = 0; i < cap; i++) {
				struct iopfq_ring_slot *sl = iopfq_ring_slot_at(&r, start + (uint32_t)i);

				assert_int_equal(sl->seq, start + (uint32_t)i);
				assert_true(all_poison((uint8_t *)sl + 4, sizeof(struct rec) - 4));
			}
			assert_null(iopfq_ring_peek(&r));
			free(slots);
		}
	}
}

/* --------------------------------------------------------------- empty */

static void test_empty(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		uint32_t cap = capacities[c], start = 0xffffffffu;
		struct iopfq_ring r;
		struct rec *slots = ring_new(&r, cap, start);
		size_t out_size = (cap + 1) * sizeof(struct rec);
		struct rec *out = alloc_ring(out_size);
		uint32_t lap;

		/* fresh, and again after each full lap has gone through */
		for (lap = 0; lap < 3; lap++) {
			uint32_t i;

			assert_null(iopfq_ring_peek(&r));
			assert_int_equal(iopfq_ring_dequeue_burst(&r, out, 0), 0);
			assert_int_equal(iopfq_ring_dequeue_burst(&r, out, 1), 0);
			assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap), 0);
			assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap + 1), 0);
			assert_true(all_poison(out, out_size));
			assert_int_equal(iopfq_ring_count(&r), 0);
			assert_int_equal(r.head, start + lap * cap);
			assert_int_equal(ring_tail(&r), start + lap * cap);
			assert_int_equal(free_reservations(&r), (int32_t)cap);

			for (i = 0; i < cap; i++)
				produce_one(&r, slots, 0, lap * cap + i);
			for (i = 0; i < cap; i++)
				consume_one(&r, lap * cap + i, start + lap * cap + i);
		}
		assert_int_equal(claim_waits(&r), 0);
		free(out);
		free(slots);
	}
}

/* ---------------------------------------------------------------- full */

static void test_full(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		uint32_t cap = capacities[c];
		/* the full ring straddles the wrap of the positions */
		uint32_t start = 0xffffffffu - cap / 2;
		struct iopfq_ring r, before;
		struct rec *slots = ring_new(&r, cap, start);
		uint32_t i, pos, next_seqno = 0, next_consume = 0;

		for (i = 0; i < cap; i++)
			assert_int_equal(iopfq_ring_reserve(&r), 0);
		assert_int_equal(free_reservations(&r), 0);

		/* capacity + 1st: -ENOSPC, and nothing changed, however often */
		memcpy(&before, &r, sizeof(r));
		for (i = 0; i < 3; i++) {
			assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
			assert_memory_equal(&r, &before, sizeof(r));
		}

		/* use the reservations: claim and publish every slot */
		for (i = 0; i < cap; i++) {
			struct iopfq_ring_slot *s = claim_checked(&r, &pos);

			assert_int_equal(pos, start + i);
			((struct rec *)s)->seqno = next_seqno++;
			((struct rec *)s)->pos = pos;
			iopfq_ring_publish(s, pos);
		}
		assert_int_equal(iopfq_ring_count(&r), cap);
		assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
		assert_int_equal(free_reservations(&r), 0);

		/* consumed but not yet unreserved: still no reservation */
		{
			struct iopfq_ring_slot *s = iopfq_ring_peek(&r);

			assert_non_null(s);
			assert_int_equal(((struct rec *)s)->seqno, next_consume);
			iopfq_ring_consume(&r, s);
			next_consume++;
		}
		assert_int_equal(iopfq_ring_count(&r), cap - 1);
		assert_int_equal(free_reservations(&r), 0);
		assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
		/* unreserve gives exactly one back */
		iopfq_ring_unreserve(&r);
		assert_int_equal(free_reservations(&r), 1);
		assert_int_equal(iopfq_ring_reserve(&r), 0);
		assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
		/* it claims the next lap's first position, in the consumed slot */
		{
			struct iopfq_ring_slot *s = claim_checked(&r, &pos);

			assert_int_equal(pos, start + cap);
			assert_ptr_equal(s, &slots[start & (cap - 1)]);
			((struct rec *)s)->seqno = next_seqno++;
			((struct rec *)s)->pos = pos;
			iopfq_ring_publish(s, pos);
		}
		assert_int_equal(iopfq_ring_count(&r), cap);

		/* drain; each consume + unreserve frees exactly one */
		for (i = 1; next_consume < next_seqno; i++) {
			consume_one(&r, next_consume, start + next_consume);
			next_consume++;
			assert_int_equal(free_reservations(&r), (int32_t)i);
			assert_int_equal(iopfq_ring_count(&r), next_seqno - next_consume);
		}
		assert_int_equal(free_reservations(&r), (int32_t)cap);
		assert_int_equal(iopfq_ring_count(&r), 0);
		assert_null(iopfq_ring_peek(&r));
		assert_int_equal(claim_waits(&r), 0);
		free(slots);
	}
}

/* ------------------------------------------------------- batch boundaries */

static void fill(struct iopfq_ring *r, struct rec *slots, uint32_t n, uint32_t *seqno)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		produce_one(r, slots, 1, *seqno);
		(*seqno)++;
	}
}

/* dequeue_burst(max) must return `expect` records, seqno and pos in order. */
static void burst(struct iopfq_ring *r, struct rec *out, size_t out_n, uint32_t max,
		  uint32_t expect, uint32_t *seqno, uint32_t start)
{
	uint32_t head = r->head, n, i;

	memset(out, POISON, out_n * sizeof(*out));
	n = iopfq_ring_dequeue_burst(r, out, max);
	assert_int_equal(n, expect);
	assert_int_equal(r->head, head + n);
	for (i = 0; i < n; i++) {
		/* the whole slot is copied, seq included */
		assert_int_equal(out[i].hdr.seq, head + i + 1);
		assert_int_equal(out[i].producer, 1);
		assert_int_equal(out[i].seqno, *seqno);
		assert_int_equal(out[i].pos, start + *seqno);
		assert_int_equal(out[i].pos, head + i);
		(*seqno)++;
		iopfq_ring_unreserve(r);
	}
	/* nothing written past the last record returned */
	assert_true(all_poison(&out[n], (out_n - n) * sizeof(*out)));
}

static void test_burst_boundaries(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		uint32_t cap = capacities[c], start = 0xffffffffu - 1;
		struct iopfq_ring r;
		struct rec *slots = ring_new(&r, cap, start);
		size_t out_n = cap + 2;
		struct rec *out = alloc_ring(out_n * sizeof(*out));
		uint32_t produced = 0, consumed = 0, n;

		/* full ring: max 0 takes nothing */
		fill(&r, slots, cap, &produced);
		burst(&r, out, out_n, 0, 0, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), cap);
		assert_non_null(iopfq_ring_peek(&r));
		assert_int_equal(((struct rec *)iopfq_ring_peek(&r))->seqno, 0);
		/* max 1: the oldest one */
		burst(&r, out, out_n, 1, 1, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), cap - 1);
		/* max capacity - 1: the rest */
		burst(&r, out, out_n, cap - 1, cap - 1, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), 0);
		assert_null(iopfq_ring_peek(&r));

		/* full ring, max capacity: all of it */
		fill(&r, slots, cap, &produced);
		burst(&r, out, out_n, cap, cap, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), 0);

		/* full ring, max capacity + 1: all of it, not one more */
		fill(&r, slots, cap, &produced);
		burst(&r, out, out_n, cap + 1, cap, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), 0);

		/* full ring, max capacity - 1: one is left */
		fill(&r, slots, cap, &produced);
		burst(&r, out, out_n, cap - 1, cap - 1, &consumed, start);
		assert_int_equal(iopfq_ring_count(&r), 1);
		/* refill behind it; then max capacity + 1 takes exactly capacity */
		fill(&r, slots, cap - 1, &produced);
		burst(&r, out, out_n, cap + 1, cap, &consumed, start);

		/* partly full (but for capacity 1): max capacity + 1 takes what is there */
		n = (cap + 1) / 2;
		fill(&r, slots, n, &produced);
		burst(&r, out, out_n, cap + 1, n, &consumed, start);
		burst(&r, out, out_n, cap + 1, 0, &consumed, start);

		/* UINT32_MAX as max, one record */
		fill(&r, slots, 1, &produced);
		burst(&r, out, out_n, 0xffffffffu, 1, &consumed, start);

		assert_int_equal(consumed, produced);
		assert_int_equal(free_reservations(&r), (int32_t)cap);
		assert_int_equal(claim_waits(&r), 0);
		free(out);
		free(slots);
	}
}

/* ------------------------------------------------------------ wrap-around */

static uint32_t lcg(uint32_t *x)
{
	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

/*
 * Several laps from start = 0xffffffff - k: random-sized bursts of produce
 * and consume (alternately peek/consume and dequeue_burst), checking FIFO
 * order, positions, slot addresses and count at every step.
 */
static void run_laps(uint32_t cap, uint32_t start)
{
	struct iopfq_ring r;
	struct rec *slots = ring_new(&r, cap, start);
	struct rec *out = alloc_ring((cap + 1) * sizeof(*out));
	uint32_t total = 5 * cap + 3, produced = 0, consumed = 0;
	uint32_t rnd = start ^ cap, step = 0;
	int saw_zero = 0;

	while (consumed < total) {
		uint32_t inflight = produced - consumed;
		uint32_t room = cap - inflight, want, i;

		want = room ? lcg(&rnd) % room + 1 : 0;
		if (want > total - produced)
			want = total - produced;
		for (i = 0; i < want; i++) {
			uint32_t pos = produce_one(&r, slots, 2, produced);

			assert_int_equal(pos, start + produced);
			if (pos == 0)
				saw_zero = 1;
			produced++;
			assert_int_equal(iopfq_ring_count(&r), produced - consumed);
		}
		if (iopfq_ring_reserve(&r) == 0) {
			/* not full: undo */
			assert_true(produced - consumed < cap);
			iopfq_ring_unreserve(&r);
		} else {
			assert_int_equal(produced - consumed, cap);
		}

		inflight = produced - consumed;
		want = inflight ? lcg(&rnd) % inflight + 1 : 0;
		if (step++ & 1) {
			for (i = 0; i < want; i++) {
				consume_one(&r, consumed, start + consumed);
				consumed++;
				assert_int_equal(iopfq_ring_count(&r), produced - consumed);
			}
		} else {
			uint32_t n = iopfq_ring_dequeue_burst(&r, out, want);

			assert_int_equal(n, want);
			for (i = 0; i < n; i++) {
				assert_int_equal(out[i].seqno, consumed);
				assert_int_equal(out[i].pos, start + consumed);
				assert_int_equal(out[i].hdr.seq, start + consumed + 1);
				consumed++;
				iopfq_ring_unreserve(&r);
			}
			assert_int_equal(iopfq_ring_count(&r), produced - consumed);
		}
		assert_int_equal(r.head, start + consumed);
		assert_int_equal(ring_tail(&r), start + produced);
	}
	/* the positions did wrap through 0 while the ring was in use */
	assert_true(saw_zero);
	assert_true(r.head < start);
	assert_null(iopfq_ring_peek(&r));
	assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap), 0);
	assert_int_equal(free_reservations(&r), (int32_t)cap);
	assert_int_equal(claim_waits(&r), 0);
	free(out);
	free(slots);
}

static void test_wraparound(void **state)
{
	size_t c, i;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		uint32_t cap = capacities[c];
		const uint32_t ks[] = { 0, 1, 2, 3, cap - 1, cap, cap + 1, 2 * cap + 1, 3 * cap + 2 };

		for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++)
			run_laps(cap, 0xffffffffu - ks[i]);
	}
}

/* Lock-step, one record at a time, exactly across 0xffffffff -> 0. */
static void test_wrap_lockstep(void **state)
{
	size_t c;

	(void)state;
	for (c = 0; c < NCAPS; c++) {
		uint32_t cap = capacities[c], start = 0xffffffffu - 2, i;
		struct iopfq_ring r;
		struct rec *slots = ring_new(&r, cap, start);

		for (i = 0; i < 3 * cap + 6; i++) {
			uint32_t pos = produce_one(&r, slots, 3, i);

			assert_int_equal(pos, start + i);
			assert_int_equal(iopfq_ring_count(&r), 1);
			consume_one(&r, i, pos);
			assert_int_equal(iopfq_ring_count(&r), 0);
			assert_null(iopfq_ring_peek(&r));
		}
		assert_int_equal(r.head, start + 3 * cap + 6);
		assert_int_equal(claim_waits(&r), 0);
		free(slots);
	}
}

/* ----------------------------------------------------- unpublished slots */

static void test_unpublished_blocks_head(void **state)
{
	/* positions 0xfffffffe, 0xffffffff, 0, 1, 2: the block spans the wrap */
	const uint32_t cap = 8, start = 0xfffffffeu;
	struct iopfq_ring r;
	struct rec *slots = ring_new(&r, cap, start);
	struct rec *out = alloc_ring((cap + 1) * sizeof(*out));
	struct rec *a, *b, *c, *d;
	uint32_t pa, pb, pc, pd, n;

	(void)state;
	/* A claims first and stalls; B, C publish behind it */
	a = claim_one(&r, slots, 0, 100, &pa);
	b = claim_one(&r, slots, 1, 101, &pb);
	c = claim_one(&r, slots, 2, 102, &pc);
	assert_int_equal(pa, start);
	assert_int_equal(pb, start + 1);
	assert_int_equal(pc, 0);
	iopfq_ring_publish(&c->hdr, pc);
	iopfq_ring_publish(&b->hdr, pb);
	assert_null(iopfq_ring_peek(&r));
	assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap), 0);
	assert_true(all_poison(out, (cap + 1) * sizeof(*out)));
	assert_int_equal(iopfq_ring_count(&r), 3);
	assert_int_equal(r.head, start);

	/* other producers go on while A is stalled */
	d = claim_one(&r, slots, 3, 103, &pd);
	assert_int_equal(pd, 1);
	iopfq_ring_publish(&d->hdr, pd);
	assert_null(iopfq_ring_peek(&r));
	assert_int_equal(iopfq_ring_count(&r), 4);

	/* A publishes: all four come out in position order */
	iopfq_ring_publish(&a->hdr, pa);
	n = iopfq_ring_dequeue_burst(&r, out, cap);
	assert_int_equal(n, 4);
	assert_int_equal(out[0].seqno, 100);
	assert_int_equal(out[0].pos, pa);
	assert_int_equal(out[1].seqno, 101);
	assert_int_equal(out[1].pos, pb);
	assert_int_equal(out[2].seqno, 102);
	assert_int_equal(out[2].pos, pc);
	assert_int_equal(out[3].seqno, 103);
	assert_int_equal(out[3].pos, pd);
	assert_true(all_poison(&out[4], (cap - 3) * sizeof(*out)));
	for (n = 0; n < 4; n++)
		iopfq_ring_unreserve(&r);
	assert_null(iopfq_ring_peek(&r));
	assert_int_equal(iopfq_ring_count(&r), 0);

	/* a hole in the middle: 2 published, 3 stalled, 4 and 5 published */
	a = claim_one(&r, slots, 0, 200, &pa);
	b = claim_one(&r, slots, 0, 201, &pb);
	c = claim_one(&r, slots, 0, 202, &pc);
	d = claim_one(&r, slots, 0, 203, &pd);
	assert_int_equal(pa, 2);
	iopfq_ring_publish(&d->hdr, pd);
	iopfq_ring_publish(&a->hdr, pa);
	iopfq_ring_publish(&c->hdr, pc);
	memset(out, POISON, (cap + 1) * sizeof(*out));
	/* the burst stops at the hole */
	assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap), 1);
	assert_int_equal(out[0].seqno, 200);
	assert_true(all_poison(&out[1], cap * sizeof(*out)));
	iopfq_ring_unreserve(&r);
	assert_null(iopfq_ring_peek(&r));
	assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap), 0);
	assert_int_equal(r.head, pb);
	assert_int_equal(iopfq_ring_count(&r), 3);
	iopfq_ring_publish(&b->hdr, pb);
	consume_one(&r, 201, pb);
	consume_one(&r, 202, pc);
	consume_one(&r, 203, pd);
	assert_null(iopfq_ring_peek(&r));

	/* full ring whose oldest slot is unpublished: blocked and full */
	{
		struct rec *first;
		uint32_t pfirst, i;

		first = claim_one(&r, slots, 5, 300, &pfirst);
		for (i = 1; i < cap; i++)
			produce_one(&r, slots, 5, 300 + i);
		assert_int_equal(iopfq_ring_count(&r), cap);
		assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
		assert_null(iopfq_ring_peek(&r));
		assert_int_equal(iopfq_ring_dequeue_burst(&r, out, cap + 1), 0);
		iopfq_ring_publish(&first->hdr, pfirst);
		for (i = 0; i < cap; i++)
			consume_one(&r, 300 + i, pfirst + i);
	}
	assert_int_equal(iopfq_ring_count(&r), 0);
	assert_int_equal(free_reservations(&r), (int32_t)cap);
	assert_int_equal(claim_waits(&r), 0);
	free(out);
	free(slots);
}

/*
 * Every publish order of four claimed slots: after each publish the consumer
 * gets exactly the published prefix, in position order, and then NULL.
 */
static void test_publish_order_permutations(void **state)
{
	const uint32_t cap = 4, start = 0xfffffffeu;
	struct iopfq_ring r;
	struct rec *slots = ring_new(&r, cap, start);
	uint32_t code, seq = 0, rounds = 0;

	(void)state;
	for (code = 0; code < 256; code++) {
		uint32_t perm[4], pos[4], i, next = 0;
		int published[4] = { 0, 0, 0, 0 }, seen = 0;
		struct rec *recs[4];

		for (i = 0; i < 4; i++) {
			perm[i] = (code >> (2 * i)) & 3;
			seen |= 1 << perm[i];
		}
		if (seen != 0xf)
			continue; /* not a permutation */
		rounds++;

		for (i = 0; i < 4; i++)
			recs[i] = claim_one(&r, slots, 9, seq + i, &pos[i]);
		assert_null(iopfq_ring_peek(&r));
		for (i = 0; i < 4; i++) {
			iopfq_ring_publish(&recs[perm[i]]->hdr, pos[perm[i]]);
			published[perm[i]] = 1;
			while (next < 4 && published[next]) {
				consume_one(&r, seq + next, pos[next]);
				next++;
			}
			assert_null(iopfq_ring_peek(&r));
			assert_int_equal(iopfq_ring_count(&r), 4 - next);
		}
		assert_int_equal(next, 4);
		seq += 4;
	}
	assert_int_equal(rounds, 24);
	assert_int_equal(r.head, start + seq);
	assert_int_equal(claim_waits(&r), 0);
	free(slots);
}

/* --------------------------------------------------------- 8-byte stride */

static void test_stride8(void **state)
{
	const uint32_t cap = 16, start = 0xffffffffu - 5;
	const size_t guard = 56, size = cap * sizeof(struct rec8);
	uint8_t *mem = alloc_ring(guard + size + guard);
	/* only 8-byte aligned: allowed, the stride is not a cache-line multiple */
	struct rec8 *slots = (struct rec8 *)(mem + guard);
	struct rec8 out[17];
	struct iopfq_ring r;
	uint32_t produced = 0, consumed = 0, rnd = 12345, i;

	(void)state;
	assert_int_equal(iopfq_ring_slots_memsize(cap, 8), size);
	assert_int_equal(iopfq_ring_init(&r, slots, cap, 8, start), 0);
	assert_int_equal(free_reservations(&r), (int32_t)cap);
	/* init wrote only the seq words */
	for (i = 0; i < cap; i++) {
		assert_int_equal(slots[i].hdr.seq, start + ((i - start) & (cap - 1)));
		assert_true(all_poison(&slots[i].val, 4));
	}

	while (consumed < 6 * cap) {
		uint32_t room = cap - (produced - consumed);
		uint32_t want = room ? lcg(&rnd) % room + 1 : 0, n, max;

		for (i = 0; i < want; i++) {
			struct iopfq_ring_slot *s;
			uint32_t pos;

			assert_int_equal(iopfq_ring_reserve(&r), 0);
			s = claim_checked(&r, &pos);
			assert_int_equal(pos, start + produced);
			assert_ptr_equal(s, &slots[pos & (cap - 1)]);
			((struct rec8 *)s)->val = produced ^ 0x5eed0000u;
			iopfq_ring_publish(s, pos);
			produced++;
		}
		if (want == room)
			assert_int_equal(iopfq_ring_reserve(&r), ENOSPC_RC);
		assert_int_equal(iopfq_ring_count(&r), produced - consumed);

		memset(out, POISON, sizeof(out));
		max = lcg(&rnd) % (cap + 1) + 1;
		n = iopfq_ring_dequeue_burst(&r, out, max);
		/* everything is published: min(max, in flight) */
		assert_int_equal(n, max < produced - consumed ? max : produced - consumed);
		for (i = 0; i < n; i++) {
			assert_int_equal(out[i].hdr.seq, start + consumed + 1);
			assert_int_equal(out[i].val, consumed ^ 0x5eed0000u);
			consumed++;
			iopfq_ring_unreserve(&r);
		}
		/* 8-byte stride in the output too: nothing beyond n */
		assert_true(all_poison(&out[n], sizeof(out) - n * sizeof(out[0])));
		assert_int_equal(iopfq_ring_count(&r), produced - consumed);
	}
	assert_true(r.head < start); /* wrapped */
	assert_true(all_poison(mem, guard));
	assert_true(all_poison(mem + guard + size, guard));
	assert_int_equal(claim_waits(&r), 0);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_memsize),
		cmocka_unit_test(test_init_rejects_bad_capacity),
		cmocka_unit_test(test_init_rejects_bad_stride),
		cmocka_unit_test(test_init_rejects_misaligned),
		cmocka_unit_test(test_init_state),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_burst_boundaries),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_wrap_lockstep),
		cmocka_unit_test(test_unpublished_blocks_head),
		cmocka_unit_test(test_publish_order_permutations),
		cmocka_unit_test(test_stride8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
