/* SPDX-License-Identifier: MIT */
/*
 * stall.c - the preempted producer: one producer claims a position and is
 * stopped before it publishes (here: it sleeps), as a producer preempted or
 * interrupted between claim and publish would be. What do the others do?
 *
 *   iopfq ring   the benchmark's own copy of the report sequence built from
 *                core/src/ring.h: iopfq_ring_reserve (the credit),
 *                iopfq_ring_claim, fill, iopfq_ring_publish. The stalled
 *                producer runs the same calls with a sleep between claim and
 *                publish. Other producers never wait for it: they keep
 *                claiming and publishing; only the consumer stops at the hole.
 *   ck_ring MP   the stalled producer performs ck_ring's own MP enqueue
 *                steps (CAS on p_head, copy, wait for p_tail, store fence,
 *                p_tail store) with the sleep before the commit: the same
 *                state a producer preempted inside ck_ring_enqueue_mpsc
 *                leaves. Other producers' enqueues claim and copy, then wait
 *                in the in-order commit loop for the stalled one.
 *
 * Other producers report at a paced rate (one report per 2 us each) so that
 * neither ring fills during the stall unless it is blocked.
 *
 * May touch: its own rings and threads.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ck_ring.h>

#include <iopfq/iopfq.h> /* IOPFQ_MEM_ALIGN */
#include "ring.h"
#include "bench.h"
#include "floors.h"

#define STALL_CAPACITY 65536u
#define STALL_MAX_PRODUCERS 8

struct s_entry {
	struct iopfq_ring_slot hdr;
	uint32_t producer;
	uint64_t seqno;
	uint8_t pad[48];
};

struct ck_ent {
	uint64_t producer;
	uint64_t seqno;
};

CK_RING_PROTOTYPE(stall, ck_ent)

struct s_prod {
	uint64_t done[3];               /* per phase */
	uint64_t refused[3];
	uint64_t max_call_ticks;        /* calls that started during the stall */
	int id;
} __attribute__((aligned(BENCH_CACHELINE)));

static struct {
	int which;
	int phase;                      /* atomic: 0 before, 1 stall, 2 after */
	int stop;                       /* atomic */
	uint64_t consumed[3];           /* atomic, consumer-owned */
	struct iopfq_ring ring;
	void *slots;
	struct ck_ring ck;
	struct ck_ent *ckbuf;
	struct s_prod prod[STALL_MAX_PRODUCERS];
} S;

void pin_to_cpu(int cpu);

static void *s_consumer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&S.stop, __ATOMIC_ACQUIRE)) {
		int got = 0;

		if (S.which == 0) {
			struct iopfq_ring_slot *slot = iopfq_ring_peek(&S.ring);

			if (slot) {
				iopfq_ring_consume(&S.ring, slot);
				iopfq_ring_unreserve(&S.ring);
				got = 1;
			}
		} else {
			struct ck_ent e;

			got = ck_ring_dequeue_spsc_stall(&S.ck, S.ckbuf, &e);
		}
		if (got) {
			int ph = __atomic_load_n(&S.phase, __ATOMIC_RELAXED);

			__atomic_store_n(&S.consumed[ph], S.consumed[ph] + 1, __ATOMIC_RELAXED);
		} else {
			cpu_relax();
		}
	}
	return NULL;
}

static void *s_producer(void *arg)
{
	struct s_prod *p = arg;
	uint64_t period = (uint64_t)(2000.0 * tsc_per_ns), next = tsc_now(), seq = 0;

	while (!__atomic_load_n(&S.stop, __ATOMIC_ACQUIRE)) {
		int ph, ok;
		uint64_t t0, t1;

		while (tsc_now() < next)
			cpu_relax();
		next += period;
		ph = __atomic_load_n(&S.phase, __ATOMIC_RELAXED);
		t0 = tsc_now();
		if (S.which == 0) {
			ok = iopfq_ring_reserve(&S.ring) == 0;
			if (ok) {
				iopfq_u32 pos;
				struct s_entry *e = (struct s_entry *)iopfq_ring_claim(&S.ring, &pos);

				e->producer = (uint32_t)p->id;
				e->seqno = seq++;
				iopfq_ring_publish(&e->hdr, pos);
			}
		} else {
			struct ck_ent e = { (uint64_t)p->id, seq++ };

			ok = ck_ring_enqueue_mpsc_stall(&S.ck, S.ckbuf, &e);
		}
		t1 = tsc_now();
		if (ok)
			p->done[ph]++;
		else
			p->refused[ph]++;
		if (ph == 1 && t1 - t0 > p->max_call_ticks)
			p->max_call_ticks = t1 - t0;
		if (__atomic_load_n(&S.phase, __ATOMIC_RELAXED) != ph)
			next = tsc_now();      /* do not catch up after a block */
	}
	return NULL;
}

static void sleep_ms(double ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6) };

	nanosleep(&ts, NULL);
}

int stall_run(int which, double stall_ms, uint32_t producers, struct stall_result *r)
{
	pthread_t cons, prod[STALL_MAX_PRODUCERS];
	const double before_ms = 50;
	uint64_t t_before0, t_before1;
	uint32_t i;

	if (producers > STALL_MAX_PRODUCERS)
		producers = STALL_MAX_PRODUCERS;
	memset(&S, 0, sizeof(S));
	S.which = which;
	if (which == 0) {
		S.slots = aligned_alloc(IOPFQ_MEM_ALIGN,
					(iopfq_ring_slots_memsize(STALL_CAPACITY, sizeof(struct s_entry)) +
					 IOPFQ_MEM_ALIGN - 1) & ~(size_t)(IOPFQ_MEM_ALIGN - 1));
		if (!S.slots || iopfq_ring_init(&S.ring, S.slots, STALL_CAPACITY, sizeof(struct s_entry), 0))
			return -1;
		S.ring.free_reservations = (iopfq_s32)STALL_CAPACITY;
	} else {
		S.ckbuf = aligned_alloc(64, sizeof(struct ck_ent) * STALL_CAPACITY);
		if (!S.ckbuf)
			return -1;
		ck_ring_init(&S.ck, STALL_CAPACITY);
	}
	pthread_create(&cons, NULL, s_consumer, NULL);
	for (i = 0; i < producers; i++) {
		S.prod[i].id = (int)i + 1;
		pthread_create(&prod[i], NULL, s_producer, &S.prod[i]);
	}
	sleep_ms(10);
	t_before0 = tsc_now();
	for (i = 0; i < producers; i++)
		S.prod[i].done[0] = 0;
	sleep_ms(before_ms);
	t_before1 = tsc_now();

	/* the stalled producer: claim, stop, publish */
	if (which == 0) {
		iopfq_u32 pos;
		struct s_entry *e;

		while (iopfq_ring_reserve(&S.ring))
			cpu_relax();
		e = (struct s_entry *)iopfq_ring_claim(&S.ring, &pos);
		e->producer = 0;
		__atomic_store_n(&S.phase, 1, __ATOMIC_RELAXED);
		sleep_ms(stall_ms);
		__atomic_store_n(&S.phase, 2, __ATOMIC_RELAXED);
		iopfq_ring_publish(&e->hdr, pos);
	} else {
		unsigned int producer = ck_pr_load_uint(&S.ck.p_head), consumer;
		struct ck_ent e = { 0, 0 };

		/* ck_ring's MP claim: CAS p_head while the ring is not full */
		for (;;) {
			ck_pr_fence_load();
			consumer = ck_pr_load_uint(&S.ck.c_head);
			if (producer - consumer < S.ck.mask &&
			    ck_pr_cas_uint_value(&S.ck.p_head, producer, producer + 1, &producer))
				break;
			producer = ck_pr_load_uint(&S.ck.p_head);
		}
		memcpy(&S.ckbuf[producer & S.ck.mask], &e, sizeof(e));
		__atomic_store_n(&S.phase, 1, __ATOMIC_RELAXED);
		sleep_ms(stall_ms);
		__atomic_store_n(&S.phase, 2, __ATOMIC_RELAXED);
		/* ck_ring's in-order commit */
		while (ck_pr_load_uint(&S.ck.p_tail) != producer)
			ck_pr_stall();
		ck_pr_fence_store();
		ck_pr_store_uint(&S.ck.p_tail, producer + 1);
	}
	sleep_ms(10);
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < producers; i++)
		pthread_join(prod[i], NULL);
	pthread_join(cons, NULL);

	memset(r, 0, sizeof(*r));
	r->impl = which == 0 ? "iopfq ring (ring.h)" : "ck_ring MP (in-order commit)";
	r->stall_ms = stall_ms;
	r->producers = producers;
	for (i = 0; i < producers; i++) {
		r->before_per_ms += S.prod[i].done[0];
		r->during += S.prod[i].done[1];
		r->refused_during += S.prod[i].refused[1];
		if (S.prod[i].max_call_ticks > r->blocked_max_ns)
			r->blocked_max_ns = S.prod[i].max_call_ticks;
	}
	r->before_per_ms = (uint64_t)((double)r->before_per_ms /
				      ((double)(t_before1 - t_before0) / tsc_per_ns / 1e6));
	r->blocked_max_ns = (uint64_t)((double)r->blocked_max_ns / tsc_per_ns);
	r->consumed_during = S.consumed[1];
	free(S.slots);
	free(S.ckbuf);
	S.slots = NULL;
	S.ckbuf = NULL;
	return 0;
}
