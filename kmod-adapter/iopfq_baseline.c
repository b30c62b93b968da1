// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_baseline.c - the baseline mode: a model of the merged kernel path,
 * drivers/iommu/io-pgfault.c (partial list, group assembly) feeding
 * drivers/iommu/iommufd/eventq.c (deliver list, response xarray), written
 * from their description, behind the backend table (iopfq_backend.h) the
 * core's adapter implements too, so both are measured with the same
 * generators in one boot.
 *
 * Lock order: the caller's locks, then b->mutex (the fault's mutex: read,
 * write, attach, detach, flush), then bd->partial_lock, then b->lock (the
 * deliver list; never both spinlocks at once in fact), then the wait
 * queue's lock. The SRCU read side (reports) nests in nothing of these.
 *
 * May touch: one baseline queue and this file's module-wide counters.
 *
 * What is modelled, as merged:
 *   - a kzalloc per partial page request, kept on a per-device list;
 *   - a kzalloc per group when its last page arrives, the partial pages
 *     moved into it;
 *   - a spinlock-protected deliver list, a wake-up per group;
 *   - read() under the fault's mutex: a cookie per group from xa_alloc()
 *     on an XA_FLAGS_ALLOC1 xarray (lowest free id, no generation);
 *   - write() under the same mutex: xa_erase() the cookie, answer, free;
 *   - detach: every queued or delivered group of the device answered
 *     INVALID (iommufd_auto_response_faults()).
 * Where the model must differ to run under the same generators:
 *   - io-pgfault takes a mutex and allocates with GFP_KERNEL, so it cannot
 *     be called from hard IRQ at all. Here the partial lists are under a
 *     spinlock (irqsave) and a report from hard IRQ allocates GFP_ATOMIC;
 *     in-flight reports are waited for with SRCU, which allows the sleeping
 *     GFP_KERNEL allocation of the kthread path inside the read-side
 *     section. Both choices flatter the baseline, if anything.
 *   - partial pages are matched to their group by (PASID, group index),
 *     not by group index alone.
 *   - a read whose copy_to_user() fails gives the cookie back and puts the
 *     group back at the head of the list before counting any of its bytes
 *     (whole groups only, as the core adapter does).
 *   - write() refuses cookie 0 before xa_erase(): the merged code erases
 *     the user's value, so a refused {cookie 0} releases the index that
 *     XA_FLAGS_ALLOC1 reserves and the next group gets cookie 0.
 *   - each device's outstanding page requests are counted and a report
 *     beyond its PRI allocation is refused (-EDQUOT), as the core does; the
 *     merged path counts nothing and would grow its lists without bound.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/xarray.h>

#include "iopfq_backend.h"

struct iopfq_base_dev {
	u32 dev_id;
	void *dev_ctx;                  /* given back in each response */
	u32 credits;                    /* its PRI allocation */
	atomic_t outstanding;           /* page requests taken, not yet given back */
	spinlock_t partial_lock;        /* iommu_fault_param.lock (a mutex there) */
	struct list_head partial;
};

struct iopfq_base_fault {
	struct list_head list;
	struct iopfq_request req;
};

struct iopfq_base_group {
	struct list_head node;          /* on the deliver list */
	struct list_head faults;
	struct iopfq_base_fault last;   /* embedded, as iopf_group.last_fault */
	struct iopfq_base_dev *bdev;
	u32 fault_count;
	u32 cookie;
};

struct iopfq_base {
	struct mutex mutex;             /* the fault's mutex */
	wait_queue_head_t *wq;          /* the creator's */
	iopfq_respond_fn page_response;
	void *owner;
	spinlock_t lock;                /* the deliver list */
	struct list_head deliver;
	struct xarray response;         /* cookie -> delivered group */
	struct srcu_struct srcu;        /* in-flight reports */
	u32 max_devices;
	u32 ndevs;
	struct iopfq_base_dev **devs;   /* [max_devices]; handle = index + 1 */
	atomic64_t bytes;               /* held now, this struct included */
	atomic64_t allocs;
	atomic64_t frees;
	atomic64_t alloc_failures;
	atomic64_t accepted;
	atomic64_t refused_over_credit;
	atomic64_t groups_delivered;
	atomic64_t groups_answered;
	atomic64_t pages_answered;
	atomic64_t groups_auto_answered;
	atomic64_t pages_auto_answered;
	atomic64_t discarded;
	atomic64_t bad_answers;
};

/* per-fault allocations of all baseline queues, for leak checks */
static atomic64_t base_allocs_total, base_frees_total;

/*
 * Test only: the next test_fail_allocs per-fault allocations of any
 * baseline queue fail as if memory had run out (Debian's 6.1 kernel has no
 * fault injection; tests/kernel/iopfq_ktest.c sets it through sysfs).
 */
static int test_fail_allocs;
module_param(test_fail_allocs, int, 0600);
MODULE_PARM_DESC(test_fail_allocs, "test only: fail the next N baseline per-fault allocations");

static bool test_alloc_fails(void)
{
	int n = READ_ONCE(test_fail_allocs);

	while (n > 0) {
		int seen = cmpxchg(&test_fail_allocs, n, n - 1);

		if (seen == n)
			return true;
		n = seen;
	}
	return false;
}

/* The merged path allocates per fault with plain GFP_KERNEL: not accounted. */
static void *base_alloc(struct iopfq_base *b, size_t size, gfp_t gfp)
{
	void *p = test_alloc_fails() ? NULL : kzalloc(size, gfp);

	if (!p) {
		atomic64_inc(&b->alloc_failures);
		return NULL;
	}
	atomic64_inc(&b->allocs);
	atomic64_add(size, &b->bytes);
	atomic64_inc(&base_allocs_total);
	return p;
}

static void base_free(struct iopfq_base *b, void *p, size_t size)
{
	kfree(p);
	atomic64_inc(&b->frees);
	atomic64_sub(size, &b->bytes);
	atomic64_inc(&base_frees_total);
}

/*
 * A baseline queue for @cfg (its max_devices; the merged path has no
 * budget). The queue's own memory is charged to the caller's cgroup.
 * Context: process; sleeps. Return: the queue or an ERR_PTR.
 */
static void *base_create(const struct iopfq_config *cfg, iopfq_respond_fn page_response,
			 void *owner, wait_queue_head_t *wq)
{
	struct iopfq_base *b;
	int rc;

	if (!cfg->max_devices || cfg->max_devices > IOPFQ_MAX_DEVICES || !page_response || !wq)
		return ERR_PTR(-EINVAL);
	b = kzalloc(sizeof(*b), GFP_KERNEL_ACCOUNT);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->devs = kvcalloc(cfg->max_devices, sizeof(*b->devs), GFP_KERNEL_ACCOUNT);
	if (!b->devs) {
		kfree(b);
		return ERR_PTR(-ENOMEM);
	}
	rc = init_srcu_struct(&b->srcu);
	if (rc) {
		kvfree(b->devs);
		kfree(b);
		return ERR_PTR(rc);
	}
	mutex_init(&b->mutex);
	b->wq = wq;
	b->page_response = page_response;
	b->owner = owner;
	spin_lock_init(&b->lock);
	INIT_LIST_HEAD(&b->deliver);
	xa_init_flags(&b->response, XA_FLAGS_ALLOC1);
	b->max_devices = cfg->max_devices;
	atomic64_set(&b->bytes, sizeof(*b) + cfg->max_devices * sizeof(*b->devs));
	return b;
}

/* Free a queue with no device attached. Context: process; sleeps. */
static void base_destroy(void *q)
{
	struct iopfq_base *b = q;

	WARN_ON_ONCE(b->ndevs || !list_empty(&b->deliver) || !xa_empty(&b->response));
	xa_destroy(&b->response);
	cleanup_srcu_struct(&b->srcu);
	mutex_destroy(&b->mutex);
	kvfree(b->devs);
	kfree(b);
}

/* Admit a device. Context: process. Return: 0, -EEXIST, -ENOSPC, -EINVAL or -ENOMEM. */
static int base_attach(void *q, u32 dev_id, u32 credits, void *dev_ctx, iopfq_dev_t *handle)
{
	struct iopfq_base *b = q;
	struct iopfq_base_dev *bd;
	u32 i, slot = U32_MAX;
	int rc = 0;

	if (!credits || !handle)
		return -EINVAL;
	mutex_lock(&b->mutex);
	for (i = 0; i < b->max_devices; i++) {
		if (!b->devs[i]) {
			slot = min(slot, i);
		} else if (b->devs[i]->dev_id == dev_id) {
			rc = -EEXIST;
			goto out;
		}
	}
	if (slot == U32_MAX) {
		rc = -ENOSPC;
		goto out;
	}
	bd = kzalloc(sizeof(*bd), GFP_KERNEL_ACCOUNT);
	if (!bd) {
		rc = -ENOMEM;
		goto out;
	}
	bd->dev_id = dev_id;
	bd->dev_ctx = dev_ctx;
	bd->credits = credits;
	spin_lock_init(&bd->partial_lock);
	INIT_LIST_HEAD(&bd->partial);
	/* published to reports, which read it inside the SRCU section */
	smp_store_release(&b->devs[slot], bd);
	atomic64_add(sizeof(*bd), &b->bytes);
	b->ndevs++;
	*handle = slot + 1;
out:
	mutex_unlock(&b->mutex);
	return rc;
}

/* The device of handle @h: under b->mutex, or inside the SRCU section. */
static struct iopfq_base_dev *base_dev(struct iopfq_base *b, iopfq_dev_t h)
{
	if (!h || h > b->max_devices)
		return NULL;
	return smp_load_acquire(&b->devs[h - 1]);
}

/* reports run inside the SRCU read side, which the kthread path may sleep in */
static int base_report_begin(void *q)
	__acquires(&b->srcu)
{
	struct iopfq_base *b = q;

	return srcu_read_lock(&b->srcu);
}

static void base_report_end(void *q, int idx)
	__releases(&b->srcu)
{
	struct iopfq_base *b = q;

	srcu_read_unlock(&b->srcu, idx);
}

static bool same_key(const struct iopfq_request *a, const struct iopfq_request *b)
{
	return a->grpid == b->grpid && a->pasid == b->pasid &&
	       (a->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) ==
		       (b->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID);
}

static void base_respond(struct iopfq_base *b, struct iopfq_base_dev *bd,
			 const struct iopfq_request *req, u32 npages, u32 code)
{
	struct iopfq_response resp = {
		.dev_id = bd->dev_id,
		.pasid = req->pasid,
		.grpid = req->grpid,
		.flags = req->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID,
		.code = code,
		.npages = npages,
		.dev_ctx = bd->dev_ctx,
	};

	b->page_response(b->owner, &resp);
}

static void base_answer(struct iopfq_base *b, struct iopfq_base_group *g, u32 code)
{
	base_respond(b, g->bdev, &g->last.req, g->fault_count, code);
}

static void base_free_group(struct iopfq_base *b, struct iopfq_base_group *g)
{
	struct iopfq_base_fault *fl, *next;

	list_for_each_entry_safe(fl, next, &g->faults, list)
		if (fl != &g->last)
			base_free(b, fl, sizeof(*fl));
	base_free(b, g, sizeof(*g));
}

/*
 * A group leaves the queue: its credits come back first (a device that
 * reissues the moment it sees the response must find them), then the
 * answer @code (IOPFQ_HW_NONE: none), then its memory.
 */
static void base_retire(struct iopfq_base *b, struct iopfq_base_group *g, u32 code)
{
	atomic_sub(g->fault_count, &g->bdev->outstanding);
	if (code != IOPFQ_HW_NONE)
		base_answer(b, g, code);
	base_free_group(b, g);
}

/**
 * base_report - one page request, as iommu_report_device_fault() and
 * iommufd_fault_iopf_handler() would take it
 * @q: the queue
 * @dev: the reporting device's handle
 * @req: the request
 *
 * @answer: out (may be NULL): IOPFQ_HW_SUCCESS for a refused last page
 *	beyond the credits (the device retries); IOPFQ_HW_FAILURE for a last
 *	page taken and answered at once for want of memory (below); else
 *	IOPFQ_HW_NONE
 *
 * Context: any but NMI, between base_report_begin() and base_report_end();
 * allocates (GFP_ATOMIC in hard IRQ, GFP_KERNEL otherwise). A last page
 * whose group cannot be allocated is handled as the merged code does: the
 * group's partial pages are freed and the whole group answered Response
 * Failure through page_response, from this call's context (hard IRQ for
 * the hrtimer generator); the call returns 0 and sets *answer to
 * IOPFQ_HW_FAILURE to say so.
 * Return: 0 taken; -ENODEV unknown handle; -EINVAL for a Stop Marker
 * (io-pgfault does not take them); -EDQUOT beyond the device's credits (as
 * the core; the merged path counts no credits); -ENOMEM for a partial page
 * without memory. A refusal changes nothing.
 */
static int base_report(void *q, iopfq_dev_t dev, const struct iopfq_request *req, u32 *answer)
{
	gfp_t gfp = in_hardirq() ? GFP_ATOMIC : GFP_KERNEL;
	struct iopfq_base *b = q;
	struct iopfq_base_dev *bd = base_dev(b, dev);
	struct iopfq_base_fault *fl, *next;
	struct iopfq_base_group *g;
	unsigned long irqflags;

	if (answer)
		*answer = IOPFQ_HW_NONE;
	if (!bd)
		return -ENODEV;
	if (!(req->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE)))
		return -EINVAL;
	if (atomic_inc_return(&bd->outstanding) > bd->credits) {
		atomic_dec(&bd->outstanding);
		atomic64_inc(&b->refused_over_credit);
		if (answer && (req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
			*answer = IOPFQ_HW_SUCCESS;
		return -EDQUOT;
	}
	if (!(req->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)) {
		fl = base_alloc(b, sizeof(*fl), gfp);
		if (!fl) {
			atomic_dec(&bd->outstanding);
			return -ENOMEM;
		}
		fl->req = *req;
		spin_lock_irqsave(&bd->partial_lock, irqflags);
		list_add_tail(&fl->list, &bd->partial);
		spin_unlock_irqrestore(&bd->partial_lock, irqflags);
		atomic64_inc(&b->accepted);
		return 0;
	}

	g = base_alloc(b, sizeof(*g), gfp);
	if (!g) {
		/*
		 * As merged: the group is aborted, its partial pages freed and
		 * the whole group answered Response Failure now. The request was
		 * taken and answered, so this is no refusal: credits of every
		 * page come back first (as base_retire()), then the answer.
		 */
		u32 npages = 1;

		spin_lock_irqsave(&bd->partial_lock, irqflags);
		list_for_each_entry_safe(fl, next, &bd->partial, list) {
			if (same_key(&fl->req, req)) {
				list_del(&fl->list);
				base_free(b, fl, sizeof(*fl));
				npages++;
			}
		}
		spin_unlock_irqrestore(&bd->partial_lock, irqflags);
		atomic64_inc(&b->accepted);
		atomic64_inc(&b->groups_auto_answered);
		atomic64_add(npages, &b->pages_auto_answered);
		atomic_sub(npages, &bd->outstanding);
		base_respond(b, bd, req, npages, IOPFQ_HW_FAILURE);
		if (answer)
			*answer = IOPFQ_HW_FAILURE;
		return 0;
	}
	INIT_LIST_HEAD(&g->faults);
	g->bdev = bd;
	g->last.req = *req;
	spin_lock_irqsave(&bd->partial_lock, irqflags);
	list_for_each_entry_safe(fl, next, &bd->partial, list) {
		if (same_key(&fl->req, req)) {
			list_move_tail(&fl->list, &g->faults);
			g->fault_count++;
		}
	}
	spin_unlock_irqrestore(&bd->partial_lock, irqflags);
	list_add_tail(&g->last.list, &g->faults);
	g->fault_count++;
	atomic64_inc(&b->accepted);

	spin_lock_irqsave(&b->lock, irqflags);
	list_add_tail(&g->node, &b->deliver);
	spin_unlock_irqrestore(&b->lock, irqflags);
	wake_up_interruptible(b->wq);
	return 0;
}

static struct iopfq_base_group *deliver_fetch(struct iopfq_base *b)
{
	struct iopfq_base_group *g = NULL;
	unsigned long irqflags;

	spin_lock_irqsave(&b->lock, irqflags);
	if (!list_empty(&b->deliver)) {
		g = list_first_entry(&b->deliver, struct iopfq_base_group, node);
		list_del(&g->node);
	}
	spin_unlock_irqrestore(&b->lock, irqflags);
	return g;
}

static void deliver_restore(struct iopfq_base *b, struct iopfq_base_group *g)
{
	unsigned long irqflags;

	spin_lock_irqsave(&b->lock, irqflags);
	list_add(&g->node, &b->deliver);
	spin_unlock_irqrestore(&b->lock, irqflags);
}

/* read() under the fault's mutex. Return: bytes of whole groups copied; 0
 * if none fits; -EFAULT or -ENOMEM if nothing was copied. */
static ssize_t base_read_locked(struct iopfq_base *b, char __user *buf, size_t count)
{
	const size_t rec_size = sizeof(struct iopfq_hwpt_pgfault);
	struct iopfq_hwpt_pgfault rec;
	struct iopfq_base_group *g;
	struct iopfq_base_fault *fl;
	size_t done = 0;
	int rc = 0;

	while ((g = deliver_fetch(b))) {
		size_t off = done;
		bool copied = true;

		if (done >= count || g->fault_count * rec_size > count - done) {
			deliver_restore(b, g);
			break;
		}
		rc = xa_alloc(&b->response, &g->cookie, g, xa_limit_32b, GFP_KERNEL);
		if (rc) {
			deliver_restore(b, g);
			break;
		}
		list_for_each_entry(fl, &g->faults, list) {
			memset(&rec, 0, sizeof(rec));
			rec.flags = fl->req.flags;
			rec.dev_id = g->bdev->dev_id;
			rec.pasid = fl->req.pasid;
			rec.grpid = fl->req.grpid;
			rec.perm = fl->req.perm;
			rec.addr = fl->req.addr;
			rec.cookie = g->cookie;
			if (copy_to_user(buf + off, &rec, rec_size)) {
				copied = false;
				break;
			}
			off += rec_size;
		}
		if (!copied) {
			xa_erase(&b->response, g->cookie);
			deliver_restore(b, g);
			rc = -EFAULT;
			break;
		}
		done = off;
		atomic64_inc(&b->groups_delivered);
	}
	return done ? done : rc;
}

static ssize_t base_read(void *q, char __user *buf, size_t count, loff_t *ppos)
{
	struct iopfq_base *b = q;
	ssize_t rc;

	if (!iopfq_fd_io_ok(count, ppos, sizeof(struct iopfq_hwpt_pgfault)))
		return -ESPIPE;
	mutex_lock(&b->mutex);
	rc = base_read_locked(b, buf, count);
	mutex_unlock(&b->mutex);
	return rc;
}

/* write() under the fault's mutex: answers are serialized.
 * Return: bytes consumed if any, else -EFAULT or -EINVAL. */
static ssize_t base_write_locked(struct iopfq_base *b, const char __user *buf, size_t count)
{
	struct iopfq_hwpt_page_response resp;
	struct iopfq_base_group *g;
	size_t done = 0;
	int rc = 0;

	while (done < count) {
		if (copy_from_user(&resp, buf + done, sizeof(resp))) {
			rc = -EFAULT;
			break;
		}
		if (resp.code != IOPFQ_PAGE_RESP_SUCCESS && resp.code != IOPFQ_PAGE_RESP_INVALID) {
			atomic64_inc(&b->bad_answers);
			rc = -EINVAL;
			break;
		}
		/*
		 * Cookie 0 is never issued (XA_FLAGS_ALLOC1 reserves index 0):
		 * xa_erase() of it would release the reservation, and the next
		 * xa_alloc() would hand out 0. The merged write() has that bug.
		 */
		g = resp.cookie ? xa_erase(&b->response, resp.cookie) : NULL;
		if (!g) {
			atomic64_inc(&b->bad_answers);
			rc = -EINVAL;
			break;
		}
		atomic64_inc(&b->groups_answered);
		atomic64_add(g->fault_count, &b->pages_answered);
		base_retire(b, g, resp.code == IOPFQ_PAGE_RESP_SUCCESS ? IOPFQ_HW_SUCCESS
								       : IOPFQ_HW_INVALID);
		done += sizeof(resp);
	}
	return done ? done : rc;
}

static ssize_t base_write(void *q, const char __user *buf, size_t count, loff_t *ppos)
{
	struct iopfq_base *b = q;
	ssize_t rc;

	if (!iopfq_fd_io_ok(count, ppos, sizeof(struct iopfq_hwpt_page_response)))
		return -ESPIPE;
	mutex_lock(&b->mutex);
	rc = base_write_locked(b, buf, count);
	mutex_unlock(&b->mutex);
	return rc;
}

/* poll(): readable while a group is on the deliver list (under its spinlock) */
static __poll_t base_poll(void *q, struct file *file, poll_table *wait)
{
	struct iopfq_base *b = q;
	unsigned long irqflags;
	__poll_t mask = EPOLLOUT;

	poll_wait(file, b->wq, wait);
	spin_lock_irqsave(&b->lock, irqflags);
	if (!list_empty(&b->deliver))
		mask |= EPOLLIN | EPOLLRDNORM;
	spin_unlock_irqrestore(&b->lock, irqflags);
	return mask;
}

/* Remove the groups of @bd (all, or those of one PASID); answer or drop them. */
static void base_remove(struct iopfq_base *b, struct iopfq_base_dev *bd, bool all,
			bool pasid_valid, u32 pasid, bool respond)
{
	struct iopfq_base_group *g, *gnext;
	struct iopfq_base_fault *fl, *fnext;
	unsigned long irqflags, index;
	LIST_HEAD(victims);

	/* reports in flight finish first */
	synchronize_srcu(&b->srcu);

#define BASE_MATCH(r) (all || (!!((r)->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) == pasid_valid && \
			       (r)->pasid == pasid))
	spin_lock_irqsave(&bd->partial_lock, irqflags);
	list_for_each_entry_safe(fl, fnext, &bd->partial, list)
		if (BASE_MATCH(&fl->req))
			list_move_tail(&fl->list, &victims);
	spin_unlock_irqrestore(&bd->partial_lock, irqflags);
	list_for_each_entry_safe(fl, fnext, &victims, list) {
		list_del(&fl->list);
		atomic64_inc(&b->discarded);
		atomic_dec(&bd->outstanding);
		base_free(b, fl, sizeof(*fl));
	}

	spin_lock_irqsave(&b->lock, irqflags);
	list_for_each_entry_safe(g, gnext, &b->deliver, node)
		if (g->bdev == bd && BASE_MATCH(&g->last.req))
			list_move_tail(&g->node, &victims);
	spin_unlock_irqrestore(&b->lock, irqflags);
	list_for_each_entry_safe(g, gnext, &victims, node) {
		list_del(&g->node);
		if (respond) {
			atomic64_inc(&b->groups_auto_answered);
			atomic64_add(g->fault_count, &b->pages_auto_answered);
		} else {
			atomic64_add(g->fault_count, &b->discarded);
		}
		base_retire(b, g, respond ? IOPFQ_HW_INVALID : IOPFQ_HW_NONE);
	}

	xa_for_each(&b->response, index, g) {
		if (g->bdev != bd || !BASE_MATCH(&g->last.req))
			continue;
		xa_erase(&b->response, index);
		if (respond) {
			atomic64_inc(&b->groups_auto_answered);
			atomic64_add(g->fault_count, &b->pages_auto_answered);
		} else {
			atomic64_add(g->fault_count, &b->discarded);
		}
		base_retire(b, g, respond ? IOPFQ_HW_INVALID : IOPFQ_HW_NONE);
	}
#undef BASE_MATCH
}

/*
 * Remove a device, answering INVALID to its groups (its reports are
 * refused from the moment its slot is cleared; base_remove() waits for
 * those in flight). Context: process; sleeps. Return: 0 or -ENODEV.
 */
static int base_detach(void *q, iopfq_dev_t dev)
{
	struct iopfq_base *b = q;
	struct iopfq_base_dev *bd;

	mutex_lock(&b->mutex);
	bd = base_dev(b, dev);
	if (!bd) {
		mutex_unlock(&b->mutex);
		return -ENODEV;
	}
	WRITE_ONCE(b->devs[dev - 1], NULL);
	base_remove(b, bd, true, false, 0, true);
	b->ndevs--;
	mutex_unlock(&b->mutex);
	kfree(bd);
	atomic64_sub(sizeof(*bd), &b->bytes);
	return 0;
}

/*
 * Remove the groups of (device, PASID); @no_response drops complete groups
 * without an answer (Stop Marker). Context: process; sleeps.
 * Return: 0, -ENODEV or -EINVAL.
 */
static int base_flush(void *q, iopfq_dev_t dev, bool pasid_valid, u32 pasid, bool no_response)
{
	struct iopfq_base *b = q;
	struct iopfq_base_dev *bd;

	if (pasid_valid ? pasid > IOPFQ_PASID_MAX : pasid != 0)
		return -EINVAL;
	mutex_lock(&b->mutex);
	bd = base_dev(b, dev);
	if (bd)
		base_remove(b, bd, false, pasid_valid, pasid, !no_response);
	mutex_unlock(&b->mutex);
	return bd ? 0 : -ENODEV;
}

static long base_age_scan(void *q, u64 threshold_ns)
{
	return -EOPNOTSUPP; /* the merged path has no aging */
}

static void base_stats(void *q, struct iopfq_backend_stats *st)
{
	struct iopfq_base *b = q;

	memset(st, 0, sizeof(*st));
	st->c.devices_attached = READ_ONCE(b->ndevs);
	st->c.accepted = atomic64_read(&b->accepted);
	st->c.refused_over_credit = atomic64_read(&b->refused_over_credit);
	st->c.groups_delivered = atomic64_read(&b->groups_delivered);
	st->c.groups_answered = atomic64_read(&b->groups_answered);
	st->c.answered = atomic64_read(&b->pages_answered);
	st->c.groups_auto_answered = atomic64_read(&b->groups_auto_answered);
	st->c.auto_answered = atomic64_read(&b->pages_auto_answered);
	st->c.discarded = atomic64_read(&b->discarded);
	st->c.bad_answers = atomic64_read(&b->bad_answers);
	st->allocs = atomic64_read(&b->allocs);
	st->frees = atomic64_read(&b->frees);
	st->alloc_failures = atomic64_read(&b->alloc_failures);
	st->mem_bytes = atomic64_read(&b->bytes);
	st->mem_requested = st->mem_bytes;
}

static void base_allocs(u64 *allocs, u64 *frees)
{
	*allocs = atomic64_read(&base_allocs_total);
	*frees = atomic64_read(&base_frees_total);
}

const struct iopfq_backend iopfq_backend_baseline = {
	.name = "baseline",
	.create = base_create,
	.destroy = base_destroy,
	.attach = base_attach,
	.detach = base_detach,
	.flush = base_flush,
	.report_begin = base_report_begin,
	.report_end = base_report_end,
	.report = base_report,
	.read = base_read,
	.write = base_write,
	.poll = base_poll,
	.age_scan = base_age_scan,
	.stats = base_stats,
	.allocs = base_allocs,
};
