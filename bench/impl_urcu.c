/* SPDX-License-Identifier: MIT */
/*
 * impl_urcu.c - baseline: liburcu's wait-free concurrent queue
 * (urcu/wfcqueue.h) carries the page requests, the consumer assembles
 * groups (bench/common.c), and cookies live in liburcu's RCU lock-free hash
 * table (urcu/rculfhash.h, liburcu-cds, urcu-memb flavour).
 *
 * Fault path: a preallocated node per credit (no allocation); enqueue is
 * wait-free (one xchg on the tail) but a dequeuer that meets a node whose
 * predecessor link is not yet written busy-waits for it (the "blocking" in
 * __cds_wfcq_*_blocking).
 * Cookies: a counter; a node from a fixed pool is added to the hash table at
 * read; an answer looks the cookie up and deletes the node under
 * rcu_read_lock (of racing deletes exactly one succeeds), then hands it to
 * a retire queue; the reader recycles retired nodes after
 * synchronize_rcu(), in batches, when its free pool runs dry.
 *
 * May touch: its own objects.
 */
#define _GNU_SOURCE
#define _LGPL_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>
#include <urcu/rculfhash.h>
#include <urcu/wfcqueue.h>

#include "bench.h"

struct u_entry {
	struct cds_wfcq_node node;
	uint32_t dev;
	uint32_t busy;                /* sanity: the slot's previous use is consumed */
	struct iopfq_request req;
};

struct u_cookie {
	struct cds_lfht_node hnode;
	struct cds_wfcq_node retire;
	struct u_cookie *free_next;
	uint32_t cookie;
	uint32_t dev;
	uint32_t grpid;
	uint32_t npages;
};

struct u_dev {
	struct u_entry *entries;      /* credits entries, used round robin */
	uint32_t next;
} __attribute__((aligned(BENCH_CACHELINE)));

struct u_queue {
	struct cds_wfcq_head head;
	struct cds_wfcq_tail tail __attribute__((aligned(BENCH_CACHELINE)));
	struct cds_wfcq_head retire_head __attribute__((aligned(BENCH_CACHELINE)));
	struct cds_wfcq_tail retire_tail __attribute__((aligned(BENCH_CACHELINE)));
	struct u_dev *devs;
	struct bdev *bdevs;
	uint32_t credits;
	struct assembler as;
	struct cds_lfht *ht;
	struct u_cookie *pool;
	struct u_cookie *free_list;
	uint32_t cookie_next;
	uint64_t slot_reuse_errors;
	struct waker waker;
};

static unsigned long cookie_hash(uint32_t c)
{
	return (unsigned long)c * 0x9e3779b97f4a7c15ull;
}

static int cookie_match(struct cds_lfht_node *node, const void *key)
{
	return caa_container_of(node, struct u_cookie, hnode)->cookie == *(const uint32_t *)key;
}

static void *u_create(const struct qcfg *cfg)
{
	struct u_queue *q;
	uint32_t budget = cfg->ndev * cfg->credits, npool = 4 * budget + 256, i;
	unsigned long buckets = 1;

	if (posix_memalign((void **)&q, BENCH_CACHELINE, sizeof(*q)))
		abort();
	memset(q, 0, sizeof(*q));
	cds_wfcq_init(&q->head, &q->tail);
	cds_wfcq_init(&q->retire_head, &q->retire_tail);
	q->credits = cfg->credits;
	q->bdevs = cfg->devs;
	if (posix_memalign((void **)&q->devs, BENCH_CACHELINE, sizeof(*q->devs) * cfg->ndev))
		abort();
	for (i = 0; i < cfg->ndev; i++) {
		uint32_t k;

		q->devs[i].entries = calloc(cfg->credits, sizeof(struct u_entry));
		q->devs[i].next = 0;
		for (k = 0; k < cfg->credits; k++)
			cds_wfcq_node_init(&q->devs[i].entries[k].node);
		cfg->devs[i].qdev = i;
	}
	if (asm_init(&q->as, cfg->ndev, budget))
		abort();
	while (buckets < 2 * (unsigned long)budget)
		buckets <<= 1;
	/* fixed size, no resize: nothing is allocated after init */
	q->ht = cds_lfht_new_flavor(buckets, buckets, buckets, 0, &urcu_memb_flavor, NULL);
	q->pool = calloc(npool, sizeof(*q->pool));
	if (!q->ht || !q->pool)
		abort();
	for (i = 0; i < npool; i++) {
		cds_lfht_node_init(&q->pool[i].hnode);
		cds_wfcq_node_init(&q->pool[i].retire);
		q->pool[i].free_next = i + 1 < npool ? &q->pool[i + 1] : NULL;
	}
	q->free_list = &q->pool[0];
	q->cookie_next = 1;
	if (waker_init(&q->waker))
		abort();
	return q;
}

static void u_destroy(void *vq)
{
	struct u_queue *q = vq;
	uint32_t i;

	waker_fini(&q->waker);
	cds_lfht_destroy(q->ht, NULL);
	for (i = 0; i < q->as.ndev; i++)
		free(q->devs[i].entries);
	asm_fini(&q->as);
	free(q->devs);
	free(q->pool);
	free(q);
}

static void u_thread_enter(void *q)
{
	(void)q;
	urcu_memb_register_thread();
}

static void u_thread_exit(void *q)
{
	(void)q;
	urcu_memb_unregister_thread();
}

static int u_report(void *vq, struct bdev *d, const struct iopfq_request *req)
{
	struct u_queue *q = vq;
	struct u_dev *ud = &q->devs[d->qdev];
	struct u_entry *e = &ud->entries[ud->next];

	/*
	 * The device holds a credit for this page; its pages are answered in
	 * issue order (one producer per device, one FIFO queue, one reader), so
	 * entry next - credits was consumed: checked, never relied upon.
	 */
	ud->next = ud->next + 1 == q->credits ? 0 : ud->next + 1;
	if (__atomic_load_n(&e->busy, __ATOMIC_ACQUIRE)) {
		__atomic_fetch_add(&q->slot_reuse_errors, 1, __ATOMIC_RELAXED);
		return -EBUSY;
	}
	e->busy = 1;
	e->dev = (uint32_t)d->qdev;
	e->req = *req;
	cds_wfcq_node_init(&e->node);
	cds_wfcq_enqueue(&q->head, &q->tail, &e->node);
	waker_after_publish(&q->waker);
	return 0;
}

static void u_drain(struct u_queue *q)
{
	struct __cds_wfcq_head h;
	struct cds_wfcq_tail t;
	struct cds_wfcq_node *node, *next;

	if (cds_wfcq_empty(&q->head, &q->tail))
		return;
	__cds_wfcq_init(&h, &t);
	__cds_wfcq_splice_blocking(&h, &t, &q->head, &q->tail);
	__cds_wfcq_for_each_blocking_safe(&h, &t, node, next) {
		struct u_entry *e = caa_container_of(node, struct u_entry, node);

		asm_add(&q->as, e->dev, &e->req);
		__atomic_store_n(&e->busy, 0, __ATOMIC_RELEASE);
	}
}

static struct u_cookie *u_cookie_get(struct u_queue *q)
{
	struct u_cookie *c = q->free_list;

	if (!c) {
		struct __cds_wfcq_head h;
		struct cds_wfcq_tail t;
		struct cds_wfcq_node *node, *next;

		/* recycle retired nodes once no reader can still see them */
		__cds_wfcq_init(&h, &t);
		__cds_wfcq_splice_blocking(&h, &t, &q->retire_head, &q->retire_tail);
		urcu_memb_synchronize_rcu();
		__cds_wfcq_for_each_blocking_safe(&h, &t, node, next) {
			struct u_cookie *r = caa_container_of(node, struct u_cookie, retire);

			cds_wfcq_node_init(&r->retire);
			r->free_next = q->free_list;
			q->free_list = r;
		}
		c = q->free_list;
		if (!c)
			return NULL;
	}
	q->free_list = c->free_next;
	return c;
}

static int u_read(void *vq, struct iopfq_hwpt_pgfault *recs, unsigned max)
{
	struct u_queue *q = vq;
	unsigned done = 0;

	u_drain(q);
	while (asm_ready(&q->as)) {
		struct asm_group *g = asm_peek(&q->as);
		struct u_cookie *c;

		if (g->npages > max - done)
			break;
		c = u_cookie_get(q);
		if (!c)
			break;
		c->cookie = q->cookie_next++;
		if (!q->cookie_next)
			q->cookie_next = 1;
		c->dev = g->dev;
		c->grpid = g->grpid;
		c->npages = g->npages;
		urcu_memb_read_lock();
		cds_lfht_add(q->ht, cookie_hash(c->cookie), &c->hnode);
		urcu_memb_read_unlock();
		done += asm_pop(&q->as, recs + done, q->bdevs[c->dev].dev_id, c->cookie);
	}
	return (int)done;
}

static int u_respond(void *vq, const struct iopfq_hwpt_page_response *resp, unsigned n)
{
	struct u_queue *q = vq;
	unsigned done;
	int rc = 0;

	for (done = 0; done < n; done++) {
		struct cds_lfht_iter iter;
		struct cds_lfht_node *node;
		struct u_cookie *c;
		uint32_t key = resp[done].cookie, dev, grpid, npages;

		if (resp[done].code != IOPFQ_PAGE_RESP_SUCCESS &&
		    resp[done].code != IOPFQ_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		urcu_memb_read_lock();
		cds_lfht_lookup(q->ht, cookie_hash(key), cookie_match, &key, &iter);
		node = cds_lfht_iter_get_node(&iter);
		if (!node || cds_lfht_del(q->ht, node)) {
			urcu_memb_read_unlock();
			rc = -EINVAL;
			break;
		}
		c = caa_container_of(node, struct u_cookie, hnode);
		dev = c->dev;
		grpid = c->grpid;
		npages = c->npages;
		urcu_memb_read_unlock();
		cds_wfcq_enqueue(&q->retire_head, &q->retire_tail, &c->retire);
		bench_response(&q->bdevs[dev], grpid, npages);
	}
	return done ? (int)done : rc;
}

static int u_nonempty(void *vq)
{
	struct u_queue *q = vq;

	return !cds_wfcq_empty(&q->head, &q->tail) || asm_ready(&q->as);
}

static void u_wait(void *vq)
{
	struct u_queue *q = vq;

	waker_wait(&q->waker, u_nonempty, q);
}

static void u_kick(void *vq)
{
	waker_kick(&((struct u_queue *)vq)->waker);
}

const struct qimpl impl_urcu = {
	.name = "urcu-wfcq+lfht",
	.what = "liburcu wfcqueue (fault path) + rculfhash cookies (urcu-memb), consumer-side groups",
	.create = u_create,
	.destroy = u_destroy,
	.thread_enter = u_thread_enter,
	.thread_exit = u_thread_exit,
	.report = u_report,
	.read = u_read,
	.respond = u_respond,
	.wait = u_wait,
	.kick = u_kick,
};
