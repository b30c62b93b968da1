// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_baseline.c - the baseline mode: a model of the merged kernel path,
 * drivers/iommu/io-pgfault.c (partial list, group assembly) feeding
 * drivers/iommu/iommufd/eventq.c (deliver list, response xarray), written
 * from their description, behind the same /dev/iopfq file operations, so
 * both are measured with the same generators in one boot.
 *
 * May touch: the baseline queue of one file and the module-wide counters.
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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/srcu.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "iopfq_kmod.h"

struct iopfq_base_dev {
	struct iopfq_simdev *sd;
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
	struct iopfq_file *f;
	spinlock_t lock;                /* the deliver list */
	struct list_head deliver;
	struct xarray response;         /* cookie -> delivered group */
	struct srcu_struct srcu;        /* in-flight reports */
	u32 max_devices;
	u32 ndevs;
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

static void *base_alloc(struct iopfq_base *b, size_t size, gfp_t gfp)
{
	void *p = kzalloc(size, gfp);

	if (!p) {
		atomic64_inc(&b->alloc_failures);
		return NULL;
	}
	atomic64_inc(&b->allocs);
	atomic64_inc(&iopfq_global.base_allocs);
	return p;
}

static void base_free(struct iopfq_base *b, void *p)
{
	kfree(p);
	atomic64_inc(&b->frees);
	atomic64_inc(&iopfq_global.base_frees);
}

/**
 * iopfq_base_create - a baseline queue for file @f
 * @f: the file
 * @max_devices: devices attached at once
 *
 * Context: process; sleeps. Return: the queue or an ERR_PTR.
 */
struct iopfq_base *iopfq_base_create(struct iopfq_file *f, u32 max_devices)
{
	struct iopfq_base *b;
	int rc;

	b = kzalloc(sizeof(*b), GFP_KERNEL);
	if (!b)
		return ERR_PTR(-ENOMEM);
	rc = init_srcu_struct(&b->srcu);
	if (rc) {
		kfree(b);
		return ERR_PTR(rc);
	}
	b->f = f;
	spin_lock_init(&b->lock);
	INIT_LIST_HEAD(&b->deliver);
	xa_init_flags(&b->response, XA_FLAGS_ALLOC1);
	b->max_devices = max_devices;
	return b;
}

/**
 * iopfq_base_destroy - free a baseline queue with no device attached
 * @b: the queue
 *
 * Context: process; sleeps.
 */
void iopfq_base_destroy(struct iopfq_base *b)
{
	WARN_ON_ONCE(b->ndevs || !list_empty(&b->deliver) || !xa_empty(&b->response));
	xa_destroy(&b->response);
	cleanup_srcu_struct(&b->srcu);
	kfree(b);
}

/**
 * iopfq_base_attach - admit simulated device @sd
 * @b: the queue
 * @sd: the device; sd->bdev is set
 *
 * Context: f->lock held. Return: 0, -ENOSPC or -ENOMEM.
 */
int iopfq_base_attach(struct iopfq_base *b, struct iopfq_simdev *sd)
{
	struct iopfq_base_dev *bd;

	if (b->ndevs >= b->max_devices)
		return -ENOSPC;
	bd = kzalloc(sizeof(*bd), GFP_KERNEL);
	if (!bd)
		return -ENOMEM;
	bd->sd = sd;
	bd->credits = sd->credits;
	spin_lock_init(&bd->partial_lock);
	INIT_LIST_HEAD(&bd->partial);
	sd->bdev = bd;
	b->ndevs++;
	return 0;
}

/**
 * iopfq_base_srcu - the SRCU that in-flight reports hold
 * @b: the queue
 *
 * Context: any. Return: its srcu_struct.
 */
struct srcu_struct *iopfq_base_srcu(struct iopfq_base *b)
{
	return &b->srcu;
}

static bool same_key(const struct iopfq_request *a, const struct iopfq_request *b)
{
	return a->grpid == b->grpid && a->pasid == b->pasid &&
	       (a->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID) ==
		       (b->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID);
}

static void base_answer(struct iopfq_base_group *g, u32 code)
{
	iopfq_sim_response(g->bdev->sd, g->last.req.pasid, g->last.req.grpid, g->fault_count,
			   code);
}

static void base_free_group(struct iopfq_base *b, struct iopfq_base_group *g)
{
	struct iopfq_base_fault *fl, *next;

	list_for_each_entry_safe(fl, next, &g->faults, list)
		if (fl != &g->last)
			base_free(b, fl);
	base_free(b, g);
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
		base_answer(g, code);
	base_free_group(b, g);
}

/**
 * iopfq_base_report - one page request, as iommu_report_device_fault() and
 * iommufd_fault_iopf_handler() would take it
 * @b: the queue
 * @sd: the reporting device
 * @req: the request
 *
 * @answer: out (may be NULL): IOPFQ_HW_SUCCESS for a refused last page (the
 *	device retries), else IOPFQ_HW_NONE
 *
 * Context: any but NMI, inside srcu_read_lock(iopfq_base_srcu()); allocates
 * (GFP_ATOMIC in hard IRQ, GFP_KERNEL otherwise).
 * Return: 0; -EINVAL for a Stop Marker (io-pgfault does not take them);
 * -EDQUOT beyond the device's credits (as the core; the merged path counts
 * no credits); -ENOMEM (a partial page is then lost; a last page is answered
 * Response Failure, as the merged code does).
 */
int iopfq_base_report(struct iopfq_base *b, struct iopfq_simdev *sd,
		      const struct iopfq_request *req, u32 *answer)
{
	gfp_t gfp = in_hardirq() ? GFP_ATOMIC : GFP_KERNEL;
	struct iopfq_base_dev *bd = sd->bdev;
	struct iopfq_base_fault *fl, *next;
	struct iopfq_base_group *g;
	unsigned long irqflags;

	if (answer)
		*answer = IOPFQ_HW_NONE;
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
		spin_lock_irqsave(&bd->partial_lock, irqflags);
		list_for_each_entry_safe(fl, next, &bd->partial, list) {
			if (same_key(&fl->req, req)) {
				list_del(&fl->list);
				base_free(b, fl);
				atomic_dec(&bd->outstanding);
			}
		}
		spin_unlock_irqrestore(&bd->partial_lock, irqflags);
		atomic_dec(&bd->outstanding);
		iopfq_sim_response(sd, req->pasid, req->grpid, 1, IOPFQ_HW_FAILURE);
		return -ENOMEM;
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
	wake_up_interruptible(&b->f->wq);
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

/**
 * iopfq_base_read - the fault FD's read() in baseline mode
 * @b: the queue
 * @buf: user buffer
 * @count: a multiple of the record size (checked by the caller)
 *
 * Context: f->lock held (the fault's mutex). Return: bytes of whole groups
 * copied; 0 if none fits; -EFAULT or -ENOMEM if nothing was copied.
 */
ssize_t iopfq_base_read(struct iopfq_base *b, char __user *buf, size_t count)
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
			rec.dev_id = g->bdev->sd->dev_id;
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

/**
 * iopfq_base_write - the fault FD's write() in baseline mode
 * @b: the queue
 * @buf: user buffer of responses
 * @count: a multiple of the response size (checked by the caller)
 *
 * Context: f->lock held (the fault's mutex: answers are serialized).
 * Return: bytes consumed if any, else -EFAULT or -EINVAL.
 */
ssize_t iopfq_base_write(struct iopfq_base *b, const char __user *buf, size_t count)
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

/**
 * iopfq_base_ready - a group is queued (poll readable)
 * @b: the queue
 *
 * Context: any.
 */
bool iopfq_base_ready(struct iopfq_base *b)
{
	unsigned long irqflags;
	bool ready;

	spin_lock_irqsave(&b->lock, irqflags);
	ready = !list_empty(&b->deliver);
	spin_unlock_irqrestore(&b->lock, irqflags);
	return ready;
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
		base_free(b, fl);
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

/**
 * iopfq_base_detach - remove device @sd, answering INVALID to its groups
 * @b: the queue
 * @sd: the device; its generator stopped
 *
 * Context: f->lock held; sleeps.
 */
void iopfq_base_detach(struct iopfq_base *b, struct iopfq_simdev *sd)
{
	struct iopfq_base_dev *bd = sd->bdev;

	base_remove(b, bd, true, false, 0, true);
	kfree(bd);
	sd->bdev = NULL;
	b->ndevs--;
}

/**
 * iopfq_base_flush - remove the groups of (device, PASID)
 * @b: the queue
 * @sd: the device
 * @pasid_valid: false: its requests without PASID
 * @pasid: the PASID
 * @no_response: drop complete groups without answer (Stop Marker)
 *
 * Context: f->lock held; sleeps.
 */
void iopfq_base_flush(struct iopfq_base *b, struct iopfq_simdev *sd, bool pasid_valid,
		      u32 pasid, bool no_response)
{
	base_remove(b, sd->bdev, false, pasid_valid, pasid, !no_response);
}

/**
 * iopfq_base_stats - the baseline's counters
 * @b: the queue
 * @st: out
 *
 * Context: any.
 */
void iopfq_base_stats(struct iopfq_base *b, struct iopfq_ioc_queue_stats *st)
{
	st->accepted = atomic64_read(&b->accepted);
	st->refused_over_credit = atomic64_read(&b->refused_over_credit);
	st->groups_delivered = atomic64_read(&b->groups_delivered);
	st->groups_answered = atomic64_read(&b->groups_answered);
	st->answered = atomic64_read(&b->pages_answered);
	st->groups_auto_answered = atomic64_read(&b->groups_auto_answered);
	st->auto_answered = atomic64_read(&b->pages_auto_answered);
	st->discarded = atomic64_read(&b->discarded);
	st->bad_answers = atomic64_read(&b->bad_answers);
	st->base_allocs = atomic64_read(&b->allocs);
	st->base_frees = atomic64_read(&b->frees);
	st->base_alloc_failures = atomic64_read(&b->alloc_failures);
}
