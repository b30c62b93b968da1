// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_fault.c - the kernel adapter: a fault-FD object over the iopfq core
 * (the part an iommufd integration reuses; see docs/kernel-integration.md).
 *
 * Lock order: the caller's locks, then flt->lock (a mutex: the core's
 * consumer side), then the wait queue's spinlock (notify). Nothing here
 * takes a lock of the caller; write() and report take no lock.
 *
 * Callback re-entry: the creator's page_response runs on the thread that
 * answered, with flt->lock held (detach, flush) or none (write()). From it,
 * a consumer-side call on the same object (read, poll, attach, detach,
 * flush, age scan) would deadlock: on flt->lock, or, from write(), in a
 * detach or flush waiting for the answer it runs inside. Each such call
 * therefore checks whether its thread is inside a callback of this object
 * (a mark on the thread's stack, listed per CPU: see fault_cb_mark) and
 * returns -EDEADLK (poll: EPOLLERR) with nothing changed; destroy from
 * there warns and does nothing. write() and report stay allowed.
 *
 * May touch: struct iopfq_fault and the core, through the core's API (this
 * file and iopfq_selftest.c are the only callers of the core in the module;
 * core_ring.c, core_devices.c, core_groups.c, core_cookies.c and
 * core_queue.c compile the core's five files in, unchanged, with the
 * kernel mapping of core/platform/iopfq_platform_kernel.h).
 *
 * One object is one queue, in one kvzalloc'd block sized by
 * iopfq_memsize(), plus a read bounce buffer with room for the largest
 * group. The core's hooks map onto the kernel as:
 *
 *   page_response  -> the creator's callback (iopfq_fault_create())
 *   synchronize    -> synchronize_rcu(): reports run under rcu_read_lock()
 *                     (an hrtimer callback in hard IRQ already is a
 *                     read-side critical section)
 *   notify         -> wake_up_interruptible() on the creator's wait queue
 *   now_ns         -> ktime_get_ns()
 *   aged           -> pr_warn_ratelimited()
 *   relax          -> cond_resched()
 *
 * read() and a failing copy_to_user(): iopfq_read() moves whole groups into
 * the bounce buffer flt->recs, then they are copied to the user. If the copy
 * fails part-way, the groups that reached the user whole stay delivered;
 * the others are given back with iopfq_read_restore(), which revokes their
 * cookies (the user may have seen one in the part that was written) and
 * queues them again ahead of everything else, so the next read() delivers
 * them with new cookies, as iommufd does. read() returns -EFAULT only if
 * nothing was copied, else the bytes of the whole groups copied.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include "iopfq_fault.h"

#define REC_SIZE sizeof(struct iopfq_hwpt_pgfault)
#define RESP_SIZE sizeof(struct iopfq_hwpt_page_response)
/* the core wants IOPFQ_MEM_ALIGN; kvzalloc promises less */
#define FAULT_ALIGN IOPFQ_MEM_ALIGN

/**
 * struct iopfq_fault - one fault queue
 * @lock: the core's consumer side: read, poll, attach, detach, flush, aging
 * @wq: the creator's: readers and pollers wait there; woken by notify
 * @page_response: the creator's callback, with @owner
 * @cfg: the core's configuration
 * @mem_raw: the core's memory as allocated; @q is in it, aligned
 * @recs: the read bounce buffer: room for the largest group (credit_budget)
 */
struct iopfq_fault {
	struct mutex lock;
	wait_queue_head_t *wq;
	iopfq_respond_fn page_response;
	void *owner;
	struct iopfq_config cfg;
	void *mem_raw;
	struct iopfq *q;
	struct iopfq_hwpt_pgfault *recs;
};

/* kvzalloc'd blocks (queue memory, read buffers) of all fault objects */
static atomic64_t fault_blocks_allocated, fault_blocks_freed;

/* ---------------------------------------------------------------------- */
/* callback re-entry                                                       */

/*
 * A thread inside the creator's page_response callback of object @flt: the
 * mark lives on that thread's stack, on the list of the CPU it runs on, and
 * the thread cannot leave that CPU while the mark is there
 * (migrate_disable(); the callback may still sleep and be preempted). A
 * consumer-side call looks for a mark of its own thread and object on its
 * CPU: a thread inside a callback finds it, and no other thread has one to
 * find. The lists are touched with interrupts off, so another thread on the
 * same CPU never sees one half-changed.
 */
struct fault_cb_mark {
	struct hlist_node node;
	struct task_struct *task;
	const struct iopfq_fault *flt;
};

static DEFINE_PER_CPU(struct hlist_head, fault_cb_marks);

static bool in_own_callback(const struct iopfq_fault *flt)
{
	struct fault_cb_mark *m;
	unsigned long irqflags;
	bool found = false;

	local_irq_save(irqflags);
	hlist_for_each_entry(m, this_cpu_ptr(&fault_cb_marks), node)
		if (m->task == current && m->flt == flt)
			found = true;
	local_irq_restore(irqflags);
	return found;
}

/* ---------------------------------------------------------------------- */
/* core hooks                                                              */

static void hook_page_response(void *ctx, const struct iopfq_response *resp)
{
	struct iopfq_fault *flt = ctx;
	struct fault_cb_mark mark = { .task = current, .flt = flt };
	unsigned long irqflags;

	migrate_disable();
	local_irq_save(irqflags);
	hlist_add_head(&mark.node, this_cpu_ptr(&fault_cb_marks));
	local_irq_restore(irqflags);
	flt->page_response(flt->owner, resp);
	local_irq_save(irqflags);
	hlist_del(&mark.node);
	local_irq_restore(irqflags);
	migrate_enable();
}

static void hook_synchronize(void *ctx)
{
	synchronize_rcu();
}

static void hook_notify(void *ctx)
{
	struct iopfq_fault *flt = ctx;

	wake_up_interruptible(flt->wq);
}

static iopfq_u64 hook_now_ns(void *ctx)
{
	return ktime_get_ns();
}

static void hook_aged(void *ctx, const struct iopfq_aged *a)
{
	pr_warn_ratelimited("group pending %llu ns: dev %u pasid %u grpid %u where %u pages %u cookie %#x\n",
			    (unsigned long long)a->age_ns, a->dev_id, a->pasid, a->grpid,
			    a->where, a->npages, a->cookie);
}

static void hook_relax(void *ctx)
{
	cond_resched();
}

static const struct iopfq_ops fault_ops = {
	.page_response = hook_page_response,
	.synchronize = hook_synchronize,
	.notify = hook_notify,
	.now_ns = hook_now_ns,
	.aged = hook_aged,
	.relax = hook_relax,
};

/* ---------------------------------------------------------------------- */
/* lifetime                                                                */

size_t iopfq_fault_memsize(const struct iopfq_config *cfg)
{
	size_t core = iopfq_memsize(cfg);

	if (!core)
		return 0;
	return sizeof(struct iopfq_fault) + core + FAULT_ALIGN +
	       (size_t)cfg->credit_budget * REC_SIZE;
}

struct iopfq_fault *iopfq_fault_create(const struct iopfq_config *cfg,
				       iopfq_respond_fn page_response, void *owner,
				       wait_queue_head_t *wq)
{
	size_t size = iopfq_memsize(cfg);
	struct iopfq_fault *flt;
	int err = -ENOMEM;

	if (!size || !page_response || !wq)
		return ERR_PTR(-EINVAL);
	flt = kzalloc(sizeof(*flt), GFP_KERNEL_ACCOUNT);
	if (!flt)
		return ERR_PTR(-ENOMEM);
	flt->mem_raw = kvzalloc(size + FAULT_ALIGN, GFP_KERNEL_ACCOUNT);
	flt->recs = kvcalloc(cfg->credit_budget, REC_SIZE, GFP_KERNEL_ACCOUNT);
	if (!flt->mem_raw || !flt->recs)
		goto fail;
	mutex_init(&flt->lock);
	flt->wq = wq;
	flt->page_response = page_response;
	flt->owner = owner;
	flt->cfg = *cfg;
	err = iopfq_init(PTR_ALIGN(flt->mem_raw, FAULT_ALIGN), size, cfg, &fault_ops, flt, &flt->q);
	if (err) {
		mutex_destroy(&flt->lock);
		goto fail;
	}
	atomic64_add(2, &fault_blocks_allocated);
	return flt;
fail:
	kvfree(flt->recs);
	kvfree(flt->mem_raw);
	kfree(flt);
	return ERR_PTR(err);
}

void iopfq_fault_destroy(struct iopfq_fault *flt)
{
	if (WARN_ON_ONCE(in_own_callback(flt)))
		return;
	kvfree(flt->mem_raw);
	kvfree(flt->recs);
	atomic64_add(2, &fault_blocks_freed);
	mutex_destroy(&flt->lock);
	kfree(flt);
}

/* ---------------------------------------------------------------------- */
/* devices                                                                 */

int iopfq_fault_dev_attach(struct iopfq_fault *flt, u32 dev_id, u32 credits, void *dev_ctx,
			   iopfq_dev_t *handle)
{
	int rc;

	if (in_own_callback(flt))
		return -EDEADLK;
	mutex_lock(&flt->lock);
	rc = iopfq_dev_attach(flt->q, dev_id, credits, dev_ctx, handle);
	mutex_unlock(&flt->lock);
	return rc;
}

int iopfq_fault_dev_detach(struct iopfq_fault *flt, iopfq_dev_t dev)
{
	int rc;

	if (in_own_callback(flt))
		return -EDEADLK;
	mutex_lock(&flt->lock);
	rc = iopfq_dev_detach(flt->q, dev);
	mutex_unlock(&flt->lock);
	return rc;
}

int iopfq_fault_flush(struct iopfq_fault *flt, iopfq_dev_t dev, u32 pasid, u32 flags)
{
	int rc;

	if (in_own_callback(flt))
		return -EDEADLK;
	mutex_lock(&flt->lock);
	rc = iopfq_flush(flt->q, dev, pasid, flags);
	mutex_unlock(&flt->lock);
	return rc;
}

int iopfq_fault_age_scan(struct iopfq_fault *flt, u64 threshold_ns)
{
	int n;

	if (in_own_callback(flt))
		return -EDEADLK;
	mutex_lock(&flt->lock);
	n = iopfq_age_scan(flt->q, threshold_ns);
	mutex_unlock(&flt->lock);
	return n;
}

int iopfq_fault_report(struct iopfq_fault *flt, iopfq_dev_t dev,
		       const struct iopfq_request *req, u32 *answer)
{
	return iopfq_report(flt->q, dev, req, answer);
}

/* ---------------------------------------------------------------------- */
/* read, write, poll                                                       */

/*
 * Records of the whole groups at the start of @r (@got records from one
 * iopfq_read()) that fit in @n: each group's records are consecutive and
 * share a cookie no other live group has, so a change of cookie is a group
 * boundary.
 */
static u32 whole_groups(const struct iopfq_hwpt_pgfault *r, u32 got, u32 n)
{
	u32 whole = 0;

	while (whole < n) {
		u32 g = 1;

		while (whole + g < got && r[whole + g].cookie == r[whole].cookie)
			g++;
		if (whole + g > n)
			break;
		whole += g;
	}
	return whole;
}

static ssize_t fault_read_locked(struct iopfq_fault *flt, char __user *buf, size_t count)
{
	u32 room = min_t(size_t, count / REC_SIZE, U32_MAX), whole;
	size_t done = 0, left;
	int got, rc = 0;

	while (room) {
		got = iopfq_read(flt->q, flt->recs, min(room, flt->cfg.credit_budget));
		if (got <= 0)
			break; /* none, or the first group does not fit: 0 */
		/* every byte of these records was written by iopfq_read() */
		left = copy_to_user(buf + done, flt->recs, (size_t)got * REC_SIZE);
		whole = left ? whole_groups(flt->recs, got, ((size_t)got * REC_SIZE - left) / REC_SIZE)
			     : got;
		done += (size_t)whole * REC_SIZE;
		room -= whole;
		if (left) {
			/* the rest: cookies revoked, queued again first */
			WARN_ON(iopfq_read_restore(flt->q, flt->recs + whole, got - whole) < 0);
			rc = -EFAULT;
			break;
		}
	}
	return done ? done : rc;
}

ssize_t iopfq_fault_read(struct iopfq_fault *flt, char __user *buf, size_t count, loff_t *ppos)
{
	ssize_t rc;

	if (!iopfq_fd_io_ok(count, ppos, REC_SIZE))
		return -ESPIPE;
	if (in_own_callback(flt))
		return -EDEADLK;
	mutex_lock(&flt->lock);
	rc = fault_read_locked(flt, buf, count);
	mutex_unlock(&flt->lock);
	return rc;
}

ssize_t iopfq_fault_write(struct iopfq_fault *flt, const char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct iopfq_hwpt_page_response resp[32];
	size_t done = 0;
	int rc = 0;

	if (!iopfq_fd_io_ok(count, ppos, RESP_SIZE))
		return -ESPIPE;
	while (done < count) {
		size_t chunk = min(count - done, sizeof(resp));
		size_t left = copy_from_user(resp, buf + done, chunk);
		u32 n = (chunk - left) / RESP_SIZE;
		int answered = 0;

		if (n) {
			answered = iopfq_respond(flt->q, resp, n);
			if (answered < 0) {
				rc = answered;
				break;
			}
			done += (size_t)answered * RESP_SIZE;
			if ((u32)answered < n) {
				rc = -EINVAL;
				break;
			}
		}
		if (left) {
			rc = -EFAULT;
			break;
		}
	}
	return done ? done : rc;
}

__poll_t iopfq_fault_poll(struct iopfq_fault *flt, struct file *file, poll_table *wait)
{
	__poll_t mask = EPOLLOUT;
	bool ready;

	if (in_own_callback(flt))
		return EPOLLERR;
	poll_wait(file, flt->wq, wait);
	mutex_lock(&flt->lock);
	ready = iopfq_poll_ready(flt->q);
	/*
	 * Announce the sleep, then re-check (Dekker with the producers'
	 * publish-then-check): either a producer sees the announcement and
	 * calls notify, or we see its entry here.
	 */
	while (!ready && !iopfq_prepare_sleep(flt->q))
		ready = iopfq_poll_ready(flt->q);
	mutex_unlock(&flt->lock);
	if (ready)
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/*
 * What a kv*alloc'd block of @size bytes really holds: kvmalloc() takes it
 * from kmalloc() when it can, which rounds a large block up to a power of
 * two pages; from vmalloc() it is whole pages.
 */
static size_t kv_held(const void *p, size_t size)
{
	return is_vmalloc_addr(p) ? PAGE_ALIGN(size) : ksize(p);
}

void iopfq_fault_stats(struct iopfq_fault *flt, struct iopfq_backend_stats *st)
{
	memset(st, 0, sizeof(*st));
	iopfq_counters(flt->q, &st->c);
	st->mem_requested = iopfq_fault_memsize(&flt->cfg);
	st->mem_bytes = ksize(flt) +
			kv_held(flt->mem_raw, iopfq_memsize(&flt->cfg) + FAULT_ALIGN) +
			kv_held(flt->recs, (size_t)flt->cfg.credit_budget * REC_SIZE);
}

/* ---------------------------------------------------------------------- */
/* the backend table (iopfq_backend.h)                                     */

static void *be_create(const struct iopfq_config *cfg, iopfq_respond_fn page_response,
		       void *owner, wait_queue_head_t *wq)
{
	return iopfq_fault_create(cfg, page_response, owner, wq);
}

static void be_destroy(void *q)
{
	iopfq_fault_destroy(q);
}

static int be_attach(void *q, u32 dev_id, u32 credits, void *dev_ctx, iopfq_dev_t *handle)
{
	return iopfq_fault_dev_attach(q, dev_id, credits, dev_ctx, handle);
}

static int be_detach(void *q, iopfq_dev_t dev)
{
	return iopfq_fault_dev_detach(q, dev);
}

static int be_flush(void *q, iopfq_dev_t dev, bool pasid_valid, u32 pasid, bool no_response)
{
	return iopfq_fault_flush(q, dev, pasid,
				 (pasid_valid ? IOPFQ_FLUSH_PASID_VALID : 0) |
				 (no_response ? IOPFQ_FLUSH_NO_RESPONSE : 0));
}

/* reports run under rcu_read_lock(): what the synchronize hook waits for */
static int be_report_begin(void *q)
	__acquires(RCU)
{
	rcu_read_lock();
	return 0;
}

static void be_report_end(void *q, int cookie)
	__releases(RCU)
{
	rcu_read_unlock();
}

static int be_report(void *q, iopfq_dev_t dev, const struct iopfq_request *req, u32 *answer)
{
	return iopfq_fault_report(q, dev, req, answer);
}

static ssize_t be_read(void *q, char __user *buf, size_t count, loff_t *ppos)
{
	return iopfq_fault_read(q, buf, count, ppos);
}

static ssize_t be_write(void *q, const char __user *buf, size_t count, loff_t *ppos)
{
	return iopfq_fault_write(q, buf, count, ppos);
}

static __poll_t be_poll(void *q, struct file *file, poll_table *wait)
{
	return iopfq_fault_poll(q, file, wait);
}

static long be_age_scan(void *q, u64 threshold_ns)
{
	return iopfq_fault_age_scan(q, threshold_ns);
}

static void be_stats(void *q, struct iopfq_backend_stats *st)
{
	iopfq_fault_stats(q, st);
}

static void be_allocs(u64 *allocs, u64 *frees)
{
	*allocs = atomic64_read(&fault_blocks_allocated);
	*frees = atomic64_read(&fault_blocks_freed);
}

const struct iopfq_backend iopfq_backend_core = {
	.name = "core",
	.create = be_create,
	.destroy = be_destroy,
	.attach = be_attach,
	.detach = be_detach,
	.flush = be_flush,
	.report_begin = be_report_begin,
	.report_end = be_report_end,
	.report = be_report,
	.read = be_read,
	.write = be_write,
	.poll = be_poll,
	.age_scan = be_age_scan,
	.stats = be_stats,
	.allocs = be_allocs,
};
