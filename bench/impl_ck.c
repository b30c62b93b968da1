/* SPDX-License-Identifier: MIT */
/*
 * impl_ck.c - baseline: Concurrency Kit's ck_ring in multi-producer mode
 * (ck_ring_enqueue_mpsc of a typed 32-byte entry, ck_ring_dequeue_spsc:
 * one consumer), the consumer assembling groups (bench/common.c), and
 * cookies in a flat table claimed with one CAS, as iopfq does (slot index +
 * generation, round-robin reuse).
 *
 * ck_ring's MP enqueue claims a position with a CAS loop on p_head, copies
 * the entry, then waits until every earlier claimant has committed
 * (p_tail == its position) before committing its own: in-order commit. A
 * producer stopped between its claim and its commit therefore stops every
 * later producer (see bench/stall.c).
 *
 * May touch: its own objects.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ck_ring.h>

#include "bench.h"

struct c_entry {
	uint32_t dev;
	uint32_t flags;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t perm;
	uint32_t pad;
	uint64_t addr;
};

CK_RING_PROTOTYPE(cent, c_entry)

#define GEN_SHIFT 16u

struct c_slot {
	uint32_t cookie;              /* claim word: live cookie or 0 */
	uint32_t busy;
	uint32_t gen;
	uint32_t dev;
	uint32_t grpid;
	uint32_t npages;
} __attribute__((aligned(32)));

struct c_queue {
	struct ck_ring ring;
	struct c_entry *buf;
	struct bdev *bdevs;
	struct assembler as;
	struct c_slot *slots;
	uint32_t nslots;              /* power of two >= 2 * budget */
	uint32_t cursor;
	uint64_t full;                /* enqueue refused: must stay 0 */
	struct waker waker;
};

static void *c_create(const struct qcfg *cfg)
{
	struct c_queue *q;
	uint32_t budget = cfg->ndev * cfg->credits, size = 2, i;

	if (posix_memalign((void **)&q, BENCH_CACHELINE, sizeof(*q)))
		abort();
	memset(q, 0, sizeof(*q));
	while (size < budget + 1)            /* ck_ring holds size - 1 entries */
		size <<= 1;
	if (posix_memalign((void **)&q->buf, BENCH_CACHELINE, sizeof(*q->buf) * size))
		abort();
	ck_ring_init(&q->ring, size);
	q->bdevs = cfg->devs;
	for (i = 0; i < cfg->ndev; i++)
		cfg->devs[i].qdev = i;
	if (asm_init(&q->as, cfg->ndev, budget))
		abort();
	q->nslots = 2;
	while (q->nslots < 2 * budget)
		q->nslots <<= 1;
	if (posix_memalign((void **)&q->slots, BENCH_CACHELINE, sizeof(*q->slots) * q->nslots))
		abort();
	memset(q->slots, 0, sizeof(*q->slots) * q->nslots);
	if (waker_init(&q->waker))
		abort();
	return q;
}

static void c_destroy(void *vq)
{
	struct c_queue *q = vq;

	waker_fini(&q->waker);
	asm_fini(&q->as);
	free(q->slots);
	free(q->buf);
	free(q);
}

static void c_thread(void *q)
{
	(void)q;
}

static int c_report(void *vq, struct bdev *d, const struct iopfq_request *req)
{
	struct c_queue *q = vq;
	struct c_entry e = {
		.dev = (uint32_t)d->qdev,
		.flags = req->flags,
		.pasid = req->pasid,
		.grpid = req->grpid,
		.perm = req->perm,
		.addr = req->addr,
	};

	if (!ck_ring_enqueue_mpsc_cent(&q->ring, q->buf, &e)) {
		__atomic_fetch_add(&q->full, 1, __ATOMIC_RELAXED);
		return -ENOSPC;
	}
	waker_after_publish(&q->waker);
	return 0;
}

static int c_read(void *vq, struct iopfq_hwpt_pgfault *recs, unsigned max)
{
	struct c_queue *q = vq;
	struct c_entry e;
	unsigned done = 0;

	while (ck_ring_dequeue_spsc_cent(&q->ring, q->buf, &e)) {
		struct iopfq_request req = {
			.flags = e.flags, .pasid = e.pasid, .grpid = e.grpid,
			.perm = e.perm, .addr = e.addr,
		};

		asm_add(&q->as, e.dev, &req);
	}
	while (asm_ready(&q->as)) {
		struct asm_group *g = asm_peek(&q->as);
		struct c_slot *s = NULL;
		uint32_t n, cookie, gen;

		if (g->npages > max - done)
			break;
		for (n = 0; n < q->nslots; n++) {
			struct c_slot *c = &q->slots[q->cursor];

			q->cursor = (q->cursor + 1) & (q->nslots - 1);
			if (!__atomic_load_n(&c->busy, __ATOMIC_ACQUIRE)) {
				s = c;
				break;
			}
		}
		if (!s)
			break;
		gen = (s->gen + 1) & 0xffffu;
		if (!gen)
			gen = 1;
		s->gen = gen;
		cookie = (gen << GEN_SHIFT) | (uint32_t)(s - q->slots);
		s->dev = g->dev;
		s->grpid = g->grpid;
		s->npages = g->npages;
		s->busy = 1;
		__atomic_store_n(&s->cookie, cookie, __ATOMIC_RELEASE);
		done += asm_pop(&q->as, recs + done, q->bdevs[g->dev].dev_id, cookie);
	}
	return (int)done;
}

static int c_respond(void *vq, const struct iopfq_hwpt_page_response *resp, unsigned n)
{
	struct c_queue *q = vq;
	unsigned done;
	int rc = 0;

	for (done = 0; done < n; done++) {
		uint32_t cookie = resp[done].cookie, idx = cookie & 0xffffu, exp = cookie;
		uint32_t dev, grpid, npages;
		struct c_slot *s;

		if ((resp[done].code != IOPFQ_PAGE_RESP_SUCCESS &&
		     resp[done].code != IOPFQ_PAGE_RESP_INVALID) || !cookie || idx >= q->nslots) {
			rc = -EINVAL;
			break;
		}
		s = &q->slots[idx];
		if (!__atomic_compare_exchange_n(&s->cookie, &exp, 0, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED)) {
			rc = -EINVAL;
			break;
		}
		dev = s->dev;
		grpid = s->grpid;
		npages = s->npages;
		__atomic_store_n(&s->busy, 0, __ATOMIC_RELEASE);
		bench_response(&q->bdevs[dev], grpid, npages);
	}
	return done ? (int)done : rc;
}

static int c_nonempty(void *vq)
{
	struct c_queue *q = vq;

	return ck_ring_size(&q->ring) != 0 || asm_ready(&q->as);
}

static void c_wait(void *vq)
{
	struct c_queue *q = vq;

	waker_wait(&q->waker, c_nonempty, q);
}

static void c_kick(void *vq)
{
	waker_kick(&((struct c_queue *)vq)->waker);
}

const struct qimpl impl_ck = {
	.name = "ck_ring-mpsc",
	.what = "Concurrency Kit ck_ring MP enqueue (in-order commit) + CAS cookie table, consumer-side groups",
	.create = c_create,
	.destroy = c_destroy,
	.thread_enter = c_thread,
	.thread_exit = c_thread,
	.report = c_report,
	.read = c_read,
	.respond = c_respond,
	.wait = c_wait,
	.kick = c_kick,
};
