/* SPDX-License-Identifier: MIT */
/*
 * impl_iommufd.c - a userspace model of the fault path as merged in Linux
 * (drivers/iommu/io-pgfault.c + drivers/iommu/iommufd/eventq.c, 6.11+),
 * written from a reading of those files, with their locks and allocations:
 *
 * report (iommu_report_device_fault):
 *   - take a reference on the device's fault parameter
 *   - mutex_lock(fault_param->lock) for the whole report
 *   - last page: kmemdup of the event onto fault_param->faults (pending list
 *     that iommu_page_response() matches answers against)
 *   - not last: kzalloc(iopf_fault), list_add on fault_param->partial, done
 *   - last: kzalloc(iopf_group); move every partial with the same grpid into
 *     the group; drop the mutex; call the domain's iopf_handler
 *     (iommufd_fault_iopf_handler: spin_lock(deliver lock), list_add_tail to
 *     the deliver list, spin_unlock, wake_up_interruptible); retake and drop
 *     the mutex.
 * read (iommufd_fault_fops_read): mutex_lock(fault->mutex); repeatedly take
 *   the first group off the deliver list under the spinlock; put it back if
 *   it does not fit; xa_alloc a cookie (XA_FLAGS_ALLOC1: the lowest free id
 *   from 1: a bitmap here); compose one record per fault.
 * write (iommufd_fault_fops_write): mutex_lock(fault->mutex); per answer:
 *   check the code, xa_erase(cookie), iopf_group_response ->
 *   iommu_page_response: mutex_lock(fault_param->lock), find the pending
 *   event with that grpid (and PASID), ops->page_response, list_del + kfree
 *   the event, unlock; iopf_free_group: kfree each partial, drop the param
 *   reference, kfree the group.
 *
 * Simplifications, all in the model's favour: the cookie map is a flat
 * bitmap + array (an xarray walks a radix tree and may allocate nodes);
 * copy_to_user/copy_from_user are plain copies; the wake-up is the shared
 * Dekker waker instead of a wait queue; no domain lookup.
 *
 * May touch: its own objects. No code was copied from Linux.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

struct lnode {
	struct lnode *next, *prev;
};

static void l_init(struct lnode *h)
{
	h->next = h->prev = h;
}

static int l_empty(const struct lnode *h)
{
	return h->next == h;
}

static void l_del(struct lnode *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static void l_add_head(struct lnode *n, struct lnode *h)
{
	n->next = h->next;
	n->prev = h;
	h->next->prev = n;
	h->next = n;
}

static void l_add_tail(struct lnode *n, struct lnode *h)
{
	l_add_head(n, h->prev);
}

#define l_entry(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

struct m_fault {                      /* struct iopf_fault */
	struct lnode list;
	struct iopfq_request req;
};

struct m_param;

struct m_group {                      /* struct iopf_group */
	struct m_fault last_fault;
	struct lnode faults;
	struct lnode node;            /* on the deliver list */
	uint32_t fault_count;
	uint32_t cookie;
	struct m_param *param;
};

struct m_param {                      /* struct iommu_fault_param */
	pthread_mutex_t lock;
	struct lnode faults;          /* pending last-page events */
	struct lnode partial;
	int users;                    /* refcount */
	struct bdev *bdev;
} __attribute__((aligned(BENCH_CACHELINE)));

struct m_queue {                      /* struct iommufd_fault */
	pthread_mutex_t mutex;
	pthread_spinlock_t lock __attribute__((aligned(BENCH_CACHELINE)));
	struct lnode deliver;
	/* the response xarray: lowest free id from 1 */
	uint64_t *idmap;
	struct m_group **groups;
	uint32_t ids;
	struct m_param *params;
	uint32_t ndev;
	struct waker waker;
};

static void *m_create(const struct qcfg *cfg)
{
	struct m_queue *q = calloc(1, sizeof(*q));
	uint32_t i;

	if (!q)
		return NULL;
	pthread_mutex_init(&q->mutex, NULL);
	pthread_spin_init(&q->lock, PTHREAD_PROCESS_PRIVATE);
	l_init(&q->deliver);
	q->ids = cfg->ndev * cfg->credits + 64;     /* delivered groups <= budget */
	q->idmap = calloc((q->ids + 63) / 64, sizeof(uint64_t));
	q->groups = calloc(q->ids, sizeof(*q->groups));
	q->idmap[0] |= 1;                           /* ALLOC1: id 0 is never used */
	q->ndev = cfg->ndev;
	if (posix_memalign((void **)&q->params, BENCH_CACHELINE, sizeof(*q->params) * cfg->ndev))
		abort();
	for (i = 0; i < cfg->ndev; i++) {
		struct m_param *p = &q->params[i];

		memset(p, 0, sizeof(*p));
		pthread_mutex_init(&p->lock, NULL);
		l_init(&p->faults);
		l_init(&p->partial);
		p->users = 1;
		p->bdev = &cfg->devs[i];
		cfg->devs[i].qdev = (uintptr_t)p;
	}
	if (waker_init(&q->waker))
		abort();
	return q;
}

static void m_destroy(void *vq)
{
	struct m_queue *q = vq;

	waker_fini(&q->waker);
	free(q->idmap);
	free(q->groups);
	free(q->params);
	free(q);
}

static void m_thread(void *q)
{
	(void)q;
}

static void m_free_group(struct m_group *g)
{
	struct lnode *n, *next;

	for (n = g->faults.next; n != &g->faults; n = next) {
		struct m_fault *f = l_entry(n, struct m_fault, list);

		next = n->next;
		if (!(f->req.flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
			free(f);
	}
	__atomic_fetch_sub(&g->param->users, 1, __ATOMIC_ACQ_REL);
	free(g);
}

static int m_report(void *vq, struct bdev *d, const struct iopfq_request *req)
{
	struct m_queue *q = vq;
	struct m_param *p = (struct m_param *)d->qdev;
	int last = !!(req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE);
	struct m_fault *pending = NULL, *f;
	struct m_group *g;
	struct lnode *n, *next;

	__atomic_fetch_add(&p->users, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&p->lock);
	if (last) {
		pending = malloc(sizeof(*pending));
		if (!pending)
			goto nomem;
		pending->req = *req;
		l_add_tail(&pending->list, &p->faults);
	}
	if (!last) {
		f = calloc(1, sizeof(*f));
		if (!f)
			goto nomem;
		f->req = *req;
		l_add_head(&f->list, &p->partial);
		pthread_mutex_unlock(&p->lock);
		__atomic_fetch_sub(&p->users, 1, __ATOMIC_ACQ_REL);
		return 0;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		goto nomem;
	g->param = p;
	g->last_fault.req = *req;
	l_init(&g->faults);
	l_add_head(&g->last_fault.list, &g->faults);
	for (n = p->partial.next; n != &p->partial; n = next) {
		next = n->next;
		f = l_entry(n, struct m_fault, list);
		if (f->req.grpid == req->grpid) {
			l_del(n);
			l_add_head(n, &g->faults);
		}
	}
	g->fault_count = 0;
	for (n = g->faults.next; n != &g->faults; n = n->next)
		g->fault_count++;
	pthread_mutex_unlock(&p->lock);

	/* iommufd_fault_iopf_handler */
	pthread_spin_lock(&q->lock);
	l_add_tail(&g->node, &q->deliver);
	pthread_spin_unlock(&q->lock);
	waker_after_publish(&q->waker);

	pthread_mutex_lock(&p->lock);
	pthread_mutex_unlock(&p->lock);
	return 0;
nomem:
	pthread_mutex_unlock(&p->lock);
	__atomic_fetch_sub(&p->users, 1, __ATOMIC_ACQ_REL);
	return -ENOMEM;
}

static uint32_t xa_alloc_lowest(struct m_queue *q)
{
	uint32_t w, words = (q->ids + 63) / 64;

	for (w = 0; w < words; w++)
		if (~q->idmap[w]) {
			uint32_t id = w * 64 + (uint32_t)__builtin_ctzll(~q->idmap[w]);

			if (id >= q->ids)
				break;
			q->idmap[w] |= 1ull << (id % 64);
			return id;
		}
	return 0;
}

static int m_read(void *vq, struct iopfq_hwpt_pgfault *recs, unsigned max)
{
	struct m_queue *q = vq;
	unsigned done = 0;

	pthread_mutex_lock(&q->mutex);
	for (;;) {
		struct m_group *g = NULL;
		struct lnode *n;
		uint32_t id;

		pthread_spin_lock(&q->lock);
		if (!l_empty(&q->deliver)) {
			g = l_entry(q->deliver.next, struct m_group, node);
			l_del(&g->node);
		}
		pthread_spin_unlock(&q->lock);
		if (!g)
			break;
		if (done >= max || g->fault_count > max - done) {
			pthread_spin_lock(&q->lock);
			l_add_head(&g->node, &q->deliver);
			pthread_spin_unlock(&q->lock);
			break;
		}
		id = xa_alloc_lowest(q);
		if (!id) {
			pthread_spin_lock(&q->lock);
			l_add_head(&g->node, &q->deliver);
			pthread_spin_unlock(&q->lock);
			break;
		}
		q->groups[id] = g;
		g->cookie = id;
		for (n = g->faults.next; n != &g->faults; n = n->next) {
			struct m_fault *f = l_entry(n, struct m_fault, list);
			struct iopfq_hwpt_pgfault *r = &recs[done++];

			r->flags = f->req.flags;
			r->dev_id = g->param->bdev->dev_id;
			r->pasid = f->req.pasid;
			r->grpid = f->req.grpid;
			r->perm = f->req.perm;
			r->__reserved = 0;
			r->addr = f->req.addr;
			r->length = 0;
			r->cookie = id;
		}
	}
	pthread_mutex_unlock(&q->mutex);
	return (int)done;
}

/* iommu_page_response: match the pending event, answer, free it */
static void m_group_response(struct m_group *g)
{
	struct m_param *p = g->param;
	struct lnode *n;

	pthread_mutex_lock(&p->lock);
	for (n = p->faults.next; n != &p->faults; n = n->next) {
		struct m_fault *evt = l_entry(n, struct m_fault, list);

		if (evt->req.grpid != g->last_fault.req.grpid ||
		    evt->req.pasid != g->last_fault.req.pasid)
			continue;
		bench_response(p->bdev, g->last_fault.req.grpid, g->fault_count);
		l_del(n);
		free(evt);
		break;
	}
	pthread_mutex_unlock(&p->lock);
}

static int m_respond(void *vq, const struct iopfq_hwpt_page_response *resp, unsigned n)
{
	struct m_queue *q = vq;
	unsigned done;
	int rc = 0;

	pthread_mutex_lock(&q->mutex);
	for (done = 0; done < n; done++) {
		uint32_t c = resp[done].cookie;
		struct m_group *g;

		if (resp[done].code != IOPFQ_PAGE_RESP_SUCCESS &&
		    resp[done].code != IOPFQ_PAGE_RESP_INVALID) {
			rc = -EINVAL;
			break;
		}
		if (c == 0 || c >= q->ids || !q->groups[c]) {
			rc = -EINVAL;
			break;
		}
		g = q->groups[c];
		q->groups[c] = NULL;
		q->idmap[c / 64] &= ~(1ull << (c % 64));
		m_group_response(g);
		m_free_group(g);
	}
	pthread_mutex_unlock(&q->mutex);
	return done ? (int)done : rc;
}

static int m_nonempty(void *vq)
{
	struct m_queue *q = vq;
	int r;

	pthread_spin_lock(&q->lock);
	r = !l_empty(&q->deliver);
	pthread_spin_unlock(&q->lock);
	return r;
}

static void m_wait(void *vq)
{
	struct m_queue *q = vq;

	waker_wait(&q->waker, m_nonempty, q);
}

static void m_kick(void *vq)
{
	waker_kick(&((struct m_queue *)vq)->waker);
}

const struct qimpl impl_iommufd = {
	.name = "iommufd-model",
	.what = "model of io-pgfault.c + iommufd eventq.c: mutexes, malloc per group/partial, lowest-id cookies",
	.create = m_create,
	.destroy = m_destroy,
	.thread_enter = m_thread,
	.thread_exit = m_thread,
	.report = m_report,
	.read = m_read,
	.respond = m_respond,
	.wait = m_wait,
	.kick = m_kick,
};
