// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_main.c - the module, the /dev/iopfq misc device and the core mode.
 *
 * May touch: the open files' state (struct iopfq_file), the core through its
 * API, the simulated devices and the baseline through their own files.
 *
 * Each open file is one fault queue with iommufd's fault-FD semantics. In
 * core mode the queue is the iopfq core in one kvzalloc'd block sized by
 * iopfq_memsize(); the core's hooks map onto the kernel as:
 *
 *   page_response  -> the simulated device (iopfq_sim_response)
 *   synchronize    -> synchronize_rcu(): reports run under rcu_read_lock()
 *                     (an hrtimer callback in hard IRQ already is a read-side
 *                     critical section)
 *   notify         -> wake_up_interruptible() on the file's waitqueue
 *   now_ns         -> ktime_get_ns()
 *   aged           -> pr_warn_ratelimited()
 *   relax          -> cond_resched()
 *
 * Locking: f->lock (a mutex) serializes the core's consumer side: read,
 * poll and every ioctl. write() answers through iopfq_respond(), which any
 * number of threads may call at once, so in core mode it takes only
 * f->cfg_sem for reading (the queue memory cannot change under it);
 * IOPFQ_IOC_CONFIG takes it for writing.
 *
 * read() and a failing copy_to_user(): iopfq_read() moves whole groups
 * into the bounce buffer f->recs, then they are copied to the user. If the
 * copy fails part-way, the groups that reached the user whole stay
 * delivered; the others are given back with iopfq_read_restore(), which
 * revokes their cookies (the user may have seen one in the part that was
 * written) and queues them again ahead of everything else, so the next
 * read() delivers them with new cookies, as iommufd does. read() returns
 * -EFAULT only if nothing was copied, else the bytes of the whole groups
 * copied.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "iopfq_kmod.h"

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the core's self-test at load");

struct iopfq_global iopfq_global;

#define REC_SIZE sizeof(struct iopfq_hwpt_pgfault)
#define RESP_SIZE sizeof(struct iopfq_hwpt_page_response)

/* The private state of an open file: the queue plus its config lock. */
struct iopfq_fh {
	struct iopfq_file f;
	struct rw_semaphore cfg_sem;
	size_t mem_size;
	void *mem_raw;
};

static struct iopfq_fh *fh_of(struct iopfq_file *f)
{
	return container_of(f, struct iopfq_fh, f);
}

/* ---------------------------------------------------------------------- */
/* core hooks                                                              */

static void hook_page_response(void *ctx, const struct iopfq_response *resp)
{
	iopfq_sim_response(resp->dev_ctx, resp->pasid, resp->grpid, resp->npages, resp->code);
}

static void hook_synchronize(void *ctx)
{
	synchronize_rcu();
}

static void hook_notify(void *ctx)
{
	struct iopfq_file *f = ctx;

	wake_up_interruptible(&f->wq);
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

/* ---------------------------------------------------------------------- */
/* queue memory                                                            */

/*
 * core_alloc - allocate and initialise a core queue for @cfg, with a read
 * buffer for the largest group. On success the old memory of @fh is freed
 * and replaced; on failure nothing changes.
 */
static const struct iopfq_ops core_ops = {
	.page_response = hook_page_response,
	.synchronize = hook_synchronize,
	.notify = hook_notify,
	.now_ns = hook_now_ns,
	.aged = hook_aged,
	.relax = hook_relax,
};

static int core_alloc(struct iopfq_fh *fh, const struct iopfq_config *cfg)
{
	struct iopfq_file *f = &fh->f;
	struct iopfq_hwpt_pgfault *recs;
	size_t size = iopfq_memsize(cfg);
	struct iopfq *q;
	void *raw;
	int err;

	if (!size)
		return -EINVAL;
	/* the core wants cache-line alignment; kvzalloc promises less */
	raw = kvzalloc(size + IOPFQ_KMOD_ALIGN, GFP_KERNEL);
	if (!raw)
		return -ENOMEM;
	recs = kvcalloc(cfg->credit_budget, REC_SIZE, GFP_KERNEL);
	if (!recs) {
		kvfree(raw);
		return -ENOMEM;
	}
	err = iopfq_init(PTR_ALIGN(raw, IOPFQ_KMOD_ALIGN), size, cfg, &core_ops, f, &q);
	if (err) {
		kvfree(recs);
		kvfree(raw);
		return err;
	}
	atomic64_add(2, &iopfq_global.qmem_allocs);
	if (fh->mem_raw) {
		kvfree(fh->mem_raw);
		kvfree(f->recs);
		atomic64_add(2, &iopfq_global.qmem_frees);
	}
	fh->mem_raw = raw;
	fh->mem_size = size;
	f->mem = PTR_ALIGN(raw, IOPFQ_KMOD_ALIGN);
	f->q = q;
	f->recs = recs;
	f->cfg = *cfg;
	return 0;
}

static void core_free(struct iopfq_fh *fh)
{
	if (!fh->mem_raw)
		return;
	kvfree(fh->mem_raw);
	kvfree(fh->f.recs);
	atomic64_add(2, &iopfq_global.qmem_frees);
	fh->mem_raw = NULL;
	fh->f.mem = NULL;
	fh->f.q = NULL;
	fh->f.recs = NULL;
}

/* ---------------------------------------------------------------------- */
/* the report path, for the simulated devices                              */

/**
 * iopfq_file_report_section - run @fn inside the section that detach and
 * flush wait for: rcu_read_lock() in core mode (free in hard IRQ, which
 * already is a read-side section), the baseline's SRCU otherwise (its
 * kthread path may sleep in GFP_KERNEL allocations)
 * @f: the queue
 * @fn: reports page requests with iopfq_file_report()
 * @arg: passed to @fn
 *
 * Context: any, including hard IRQ. Return: what @fn returns.
 */
int iopfq_file_report_section(struct iopfq_file *f, int (*fn)(void *arg), void *arg)
{
	int idx, rc;

	if (f->mode == IOPFQ_MODE_BASELINE) {
		idx = srcu_read_lock(iopfq_base_srcu(f->base));
		rc = fn(arg);
		srcu_read_unlock(iopfq_base_srcu(f->base), idx);
	} else {
		rcu_read_lock();
		rc = fn(arg);
		rcu_read_unlock();
	}
	return rc;
}

/**
 * iopfq_file_report - one page request of simulated device @sd
 * @sd: the device
 * @req: the request
 * @answer: out (may be NULL): the answer a refusal calls for
 *
 * Context: any, including hard IRQ, inside iopfq_file_report_section().
 * Core mode: wait-free, no allocation. Baseline mode: allocates
 * (GFP_ATOMIC in hard IRQ, else GFP_KERNEL).
 * Return: 0 or the queue's negative errno.
 */
int iopfq_file_report(struct iopfq_simdev *sd, const struct iopfq_request *req, u32 *answer)
{
	struct iopfq_file *f = sd->file;

	if (f->mode == IOPFQ_MODE_BASELINE) {
		if (answer)
			*answer = IOPFQ_HW_NONE;
		return iopfq_base_report(f->base, sd, req);
	}
	return iopfq_report(f->q, sd->handle, req, answer);
}

/* ---------------------------------------------------------------------- */
/* read, write, poll                                                       */

/*
 * Records of the whole groups at the start of @r (@n records from one
 * iopfq_read()): each group's records are consecutive and share a cookie no
 * other live group has, so a change of cookie is a group boundary.
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

static ssize_t core_read(struct iopfq_file *f, char __user *buf, size_t count)
{
	u32 room = count / REC_SIZE, whole;
	size_t done = 0, left;
	int got, rc = 0;

	while (room) {
		got = iopfq_read(f->q, f->recs, min(room, f->cfg.credit_budget));
		if (got <= 0)
			break; /* none, or the first group does not fit: 0 */
		/* every byte of these records was written by iopfq_read() */
		left = copy_to_user(buf + done, f->recs, (size_t)got * REC_SIZE);
		whole = left ? whole_groups(f->recs, got, ((size_t)got * REC_SIZE - left) / REC_SIZE)
			     : got;
		done += (size_t)whole * REC_SIZE;
		room -= whole;
		if (left) {
			/* the rest: cookies revoked, queued again first */
			WARN_ON(iopfq_read_restore(f->q, f->recs + whole, got - whole) < 0);
			rc = -EFAULT;
			break;
		}
	}
	return done ? done : rc;
}

static ssize_t iopfq_fop_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct iopfq_file *f = file->private_data;
	ssize_t rc;

	if (*ppos || count % REC_SIZE)
		return -ESPIPE;
	mutex_lock(&f->lock);
	if (f->mode == IOPFQ_MODE_BASELINE)
		rc = iopfq_base_read(f->base, buf, count);
	else
		rc = core_read(f, buf, count);
	mutex_unlock(&f->lock);
	return rc;
}

static ssize_t core_write(struct iopfq_file *f, const char __user *buf, size_t count)
{
	struct iopfq_hwpt_page_response resp[32];
	size_t done = 0;
	int rc = 0;

	while (done < count) {
		size_t chunk = min(count - done, sizeof(resp));
		size_t left = copy_from_user(resp, buf + done, chunk);
		u32 n = (chunk - left) / RESP_SIZE;
		int answered = 0;

		if (n) {
			answered = iopfq_respond(f->q, resp, n);
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

static ssize_t iopfq_fop_write(struct file *file, const char __user *buf, size_t count,
			       loff_t *ppos)
{
	struct iopfq_file *f = file->private_data;
	struct iopfq_fh *fh = fh_of(f);
	ssize_t rc;

	if (*ppos || count % RESP_SIZE)
		return -ESPIPE;
	down_read(&fh->cfg_sem);
	if (f->mode == IOPFQ_MODE_BASELINE) {
		/* iommufd answers under the fault's mutex, the one read holds */
		mutex_lock(&f->lock);
		rc = iopfq_base_write(f->base, buf, count);
		mutex_unlock(&f->lock);
	} else {
		rc = core_write(f, buf, count);
	}
	up_read(&fh->cfg_sem);
	return rc;
}

static __poll_t iopfq_fop_poll(struct file *file, struct poll_table_struct *wait)
{
	struct iopfq_file *f = file->private_data;
	__poll_t mask = EPOLLOUT;
	bool ready;

	poll_wait(file, &f->wq, wait);
	mutex_lock(&f->lock);
	if (f->mode == IOPFQ_MODE_BASELINE) {
		ready = iopfq_base_ready(f->base);
	} else {
		ready = iopfq_poll_ready(f->q);
		/*
		 * Announce the sleep, then re-check (Dekker with the producers'
		 * publish-then-check): either a producer sees the announcement
		 * and calls notify, or we see its entry here.
		 */
		while (!ready && !iopfq_prepare_sleep(f->q))
			ready = iopfq_poll_ready(f->q);
	}
	mutex_unlock(&f->lock);
	if (ready)
		mask |= EPOLLIN | EPOLLRDNORM;
	return mask;
}

/* ---------------------------------------------------------------------- */
/* open and release                                                        */

static int iopfq_fop_open(struct inode *inode, struct file *file)
{
	struct iopfq_config cfg = { .max_devices = 16, .credit_budget = 1024 };
	struct iopfq_fh *fh;
	int rc;

	fh = kzalloc(sizeof(*fh), GFP_KERNEL);
	if (!fh)
		return -ENOMEM;
	mutex_init(&fh->f.lock);
	init_rwsem(&fh->cfg_sem);
	init_waitqueue_head(&fh->f.wq);
	INIT_LIST_HEAD(&fh->f.devs);
	fh->f.mode = IOPFQ_MODE_CORE;
	rc = core_alloc(fh, &cfg);
	if (rc) {
		kfree(fh);
		return rc;
	}
	file->private_data = &fh->f;
	atomic64_inc(&iopfq_global.files_open);
	return 0;
}

/* Stop, detach and free one simulated device. Context: f->lock held; sleeps. */
static void dev_remove(struct iopfq_file *f, struct iopfq_simdev *sd)
{
	iopfq_sim_gen_stop(sd);
	if (f->mode == IOPFQ_MODE_BASELINE) {
		iopfq_base_detach(f->base, sd);
	} else {
		WARN_ON_ONCE(iopfq_dev_detach(f->q, sd->handle));
	}
	list_del(&sd->node);
	f->ndevs--;
	iopfq_sim_free(sd);
}

static int iopfq_fop_release(struct inode *inode, struct file *file)
{
	struct iopfq_file *f = file->private_data;
	struct iopfq_fh *fh = fh_of(f);
	struct iopfq_simdev *sd, *next;

	mutex_lock(&f->lock);
	/* stop every producer first: detaching one device must not race its generator */
	list_for_each_entry(sd, &f->devs, node)
		iopfq_sim_gen_stop(sd);
	list_for_each_entry_safe(sd, next, &f->devs, node)
		dev_remove(f, sd);
	mutex_unlock(&f->lock);
	if (f->base)
		iopfq_base_destroy(f->base);
	core_free(fh);
	mutex_destroy(&f->lock);
	kfree(fh);
	atomic64_dec(&iopfq_global.files_open);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* ioctls; each validates everything before it changes anything           */

static long ioc_config(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_fh *fh = fh_of(f);
	struct iopfq_ioc_config c;
	struct iopfq_config cfg = {};
	struct iopfq_base *base = NULL, *old;
	int rc;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.mode > IOPFQ_MODE_BASELINE)
		return -EINVAL;
	if (!c.max_devices || c.max_devices > IOPFQ_MAX_DEVICES ||
	    !c.credit_budget || c.credit_budget > IOPFQ_IOC_MAX_BUDGET)
		return -EINVAL;
	if (f->used)
		return -EBUSY;
	cfg.max_devices = c.max_devices;
	cfg.credit_budget = c.credit_budget;

	if (c.mode == IOPFQ_MODE_BASELINE) {
		base = iopfq_base_create(f, c.max_devices);
		if (IS_ERR(base))
			return PTR_ERR(base);
	}
	down_write(&fh->cfg_sem);
	rc = core_alloc(fh, &cfg);
	if (rc) {
		up_write(&fh->cfg_sem);
		if (base)
			iopfq_base_destroy(base);
		return rc;
	}
	old = f->base;
	f->base = base;
	f->mode = c.mode;
	up_write(&fh->cfg_sem);
	if (old)
		iopfq_base_destroy(old);
	return 0;
}

static long ioc_attach(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_ioc_attach a;
	struct iopfq_simdev *sd;
	int rc;

	if (copy_from_user(&a, argp, sizeof(a)))
		return -EFAULT;
	rc = iopfq_sim_check_attach(&a);
	if (rc)
		return rc;
	if (iopfq_sim_find(f, a.dev_id))
		return -EEXIST;
	sd = iopfq_sim_alloc(f, &a);
	if (IS_ERR(sd))
		return PTR_ERR(sd);
	if (f->mode == IOPFQ_MODE_BASELINE)
		rc = iopfq_base_attach(f->base, sd);
	else
		rc = iopfq_dev_attach(f->q, a.dev_id, a.credits, sd, &sd->handle);
	if (rc) {
		iopfq_sim_free(sd);
		return rc;
	}
	list_add_tail(&sd->node, &f->devs);
	f->ndevs++;
	f->used = true;
	return 0;
}

static long ioc_detach(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_simdev *sd;
	u32 dev_id;

	if (get_user(dev_id, (u32 __user *)argp))
		return -EFAULT;
	sd = iopfq_sim_find(f, dev_id);
	if (!sd)
		return -ENOENT;
	dev_remove(f, sd);
	return 0;
}

static long ioc_flush(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_ioc_flush fl;
	struct iopfq_simdev *sd;
	bool pasid_valid, no_resp;
	int rc = 0;

	if (copy_from_user(&fl, argp, sizeof(fl)))
		return -EFAULT;
	if (fl.__reserved ||
	    (fl.flags & ~(IOPFQ_IOC_FLUSH_PASID_VALID | IOPFQ_IOC_FLUSH_NO_RESPONSE)))
		return -EINVAL;
	pasid_valid = fl.flags & IOPFQ_IOC_FLUSH_PASID_VALID;
	no_resp = fl.flags & IOPFQ_IOC_FLUSH_NO_RESPONSE;
	if (pasid_valid ? fl.pasid > IOPFQ_PASID_MAX : fl.pasid != 0)
		return -EINVAL;
	sd = iopfq_sim_find(f, fl.dev_id);
	if (!sd)
		return -ENOENT;
	/* the simulated device's bookkeeping of dropped groups needs it quiet */
	if (sd->gen_running)
		return -EBUSY;
	if (f->mode == IOPFQ_MODE_BASELINE) {
		iopfq_base_flush(f->base, sd, pasid_valid, fl.pasid, no_resp);
	} else {
		rc = iopfq_flush(f->q, sd->handle, fl.pasid,
				 (pasid_valid ? IOPFQ_FLUSH_PASID_VALID : 0) |
				 (no_resp ? IOPFQ_FLUSH_NO_RESPONSE : 0));
		if (rc)
			return rc;
	}
	/* what was neither answered nor delivered is gone: the device forgets it */
	iopfq_sim_forget_pasid(sd, pasid_valid, fl.pasid);
	return 0;
}

struct inject_arg {
	struct iopfq_simdev *sd;
	const struct iopfq_request *req;
	u32 *answer;
};

static int inject_one(void *arg)
{
	struct inject_arg *one = arg;

	return iopfq_file_report(one->sd, one->req, one->answer);
}

static long ioc_inject(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_ioc_inject in;
	struct iopfq_request req;
	struct iopfq_simdev *sd;
	u32 answer = IOPFQ_HW_NONE;
	struct inject_arg one;
	bool first;
	int rc;

	if (copy_from_user(&in, argp, sizeof(in)))
		return -EFAULT;
	sd = iopfq_sim_find(f, in.dev_id);
	if (!sd)
		return -ENOENT;
	if (sd->gen_running)
		return -EBUSY;
	req.flags = in.flags;
	req.pasid = in.pasid;
	req.grpid = in.grpid;
	req.perm = in.perm;
	req.addr = in.addr;

	first = iopfq_sim_page_begin(sd, in.pasid, in.grpid);
	atomic_inc(&sd->credits_used);
	one.sd = sd;
	one.req = &req;
	one.answer = &answer;
	rc = iopfq_file_report_section(f, inject_one, &one);
	if (rc) {
		atomic_dec(&sd->credits_used);
		atomic64_inc(&sd->refused);
		iopfq_sim_page_undo(sd, in.pasid, in.grpid, first);
	} else {
		atomic64_inc(&sd->sent_pages);
		if (in.flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
			atomic64_inc(&sd->sent_groups);
	}
	in.answer = answer;
	if (put_user(in.answer, &((struct iopfq_ioc_inject __user *)argp)->answer))
		return rc ? rc : -EFAULT;
	return rc;
}

static long ioc_gen_start(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_simdev *sd;
	struct iopfq_ioc_gen g;

	if (copy_from_user(&g, argp, sizeof(g)))
		return -EFAULT;
	sd = iopfq_sim_find(f, g.dev_id);
	if (!sd)
		return -ENOENT;
	return iopfq_sim_gen_start(sd, &g);
}

static long ioc_gen_stop(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_simdev *sd;
	u32 dev_id;

	if (get_user(dev_id, (u32 __user *)argp))
		return -EFAULT;
	sd = iopfq_sim_find(f, dev_id);
	if (!sd)
		return -ENOENT;
	iopfq_sim_gen_stop(sd);
	return 0;
}

static long ioc_dev_stats(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_ioc_dev_stats st;
	struct iopfq_simdev *sd;
	u64 __user *hist;
	u32 i, n;

	if (copy_from_user(&st, argp, sizeof(st)))
		return -EFAULT;
	sd = iopfq_sim_find(f, st.dev_id);
	if (!sd)
		return -ENOENT;
	n = min(st.hist_len, IOPFQ_HIST_BUCKETS);
	hist = u64_to_user_ptr(st.hist_ptr);
	for (i = 0; i < n; i++)
		if (put_user((u64)atomic64_read(&sd->hist[i]), hist + i))
			return -EFAULT;
	iopfq_sim_stats(sd, &st);
	st.hist_len = n;
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long ioc_queue_stats(struct iopfq_file *f, void __user *argp)
{
	struct iopfq_ioc_queue_stats st = {};
	struct iopfq_counters c;

	st.mode = f->mode;
	st.devices_attached = f->ndevs;
	if (f->mode == IOPFQ_MODE_BASELINE) {
		iopfq_base_stats(f->base, &st);
	} else {
		iopfq_counters(f->q, &c);
#define COPY_(type, name) st.name = c.name;
		IOPFQ_COUNTERS(COPY_)
#undef COPY_
	}
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long ioc_global_stats(void __user *argp)
{
	struct iopfq_ioc_global_stats st = {
		.files_open = atomic64_read(&iopfq_global.files_open),
		.qmem_allocs = atomic64_read(&iopfq_global.qmem_allocs),
		.qmem_frees = atomic64_read(&iopfq_global.qmem_frees),
		.base_allocs = atomic64_read(&iopfq_global.base_allocs),
		.base_frees = atomic64_read(&iopfq_global.base_frees),
		.simdev_allocs = atomic64_read(&iopfq_global.simdev_allocs),
		.simdev_frees = atomic64_read(&iopfq_global.simdev_frees),
		.sim_sent_groups = atomic64_read(&iopfq_global.sim_sent_groups),
		.sim_sent_pages = atomic64_read(&iopfq_global.sim_sent_pages),
		.sim_answered_groups = atomic64_read(&iopfq_global.sim_answered_groups),
		.sim_answered_pages = atomic64_read(&iopfq_global.sim_answered_pages),
		.sim_answered_invalid = atomic64_read(&iopfq_global.sim_answered_invalid),
		.sim_duplicates = atomic64_read(&iopfq_global.sim_duplicates),
		.sim_credits_leaked = atomic64_read(&iopfq_global.sim_credits_leaked),
	};

	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long ioc_age_scan(struct iopfq_file *f, void __user *argp)
{
	u64 threshold;

	if (copy_from_user(&threshold, argp, sizeof(threshold)))
		return -EFAULT;
	if (f->mode != IOPFQ_MODE_CORE)
		return -EOPNOTSUPP;
	return iopfq_age_scan(f->q, threshold);
}

static long iopfq_fop_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct iopfq_file *f = file->private_data;
	void __user *argp = (void __user *)arg;
	long rc;

	if (cmd == IOPFQ_IOC_GLOBAL_STATS)
		return ioc_global_stats(argp);

	mutex_lock(&f->lock);
	switch (cmd) {
	case IOPFQ_IOC_CONFIG:
		rc = ioc_config(f, argp);
		break;
	case IOPFQ_IOC_ATTACH:
		rc = ioc_attach(f, argp);
		break;
	case IOPFQ_IOC_DETACH:
		rc = ioc_detach(f, argp);
		break;
	case IOPFQ_IOC_FLUSH:
		rc = ioc_flush(f, argp);
		break;
	case IOPFQ_IOC_INJECT:
		rc = ioc_inject(f, argp);
		break;
	case IOPFQ_IOC_GEN_START:
		rc = ioc_gen_start(f, argp);
		break;
	case IOPFQ_IOC_GEN_STOP:
		rc = ioc_gen_stop(f, argp);
		break;
	case IOPFQ_IOC_DEV_STATS:
		rc = ioc_dev_stats(f, argp);
		break;
	case IOPFQ_IOC_QUEUE_STATS:
		rc = ioc_queue_stats(f, argp);
		break;
	case IOPFQ_IOC_AGE_SCAN:
		rc = ioc_age_scan(f, argp);
		break;
	default:
		rc = -ENOTTY;
		break;
	}
	mutex_unlock(&f->lock);
	return rc;
}

static const struct file_operations iopfq_fops = {
	.owner = THIS_MODULE,
	.open = iopfq_fop_open,
	.release = iopfq_fop_release,
	.read = iopfq_fop_read,
	.write = iopfq_fop_write,
	.poll = iopfq_fop_poll,
	.unlocked_ioctl = iopfq_fop_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = no_llseek,
};

static struct miscdevice iopfq_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "iopfq",
	.fops = &iopfq_fops,
	.mode = 0600,
};

static int __init iopfq_module_init(void)
{
	int rc;

	if (selftest) {
		rc = iopfq_selftest();
		if (rc)
			return rc;
	}
	rc = misc_register(&iopfq_misc);
	if (rc)
		pr_err("misc_register: %d\n", rc);
	return rc;
}

static void __exit iopfq_module_exit(void)
{
	misc_deregister(&iopfq_misc);
}

module_init(iopfq_module_init);
module_exit(iopfq_module_exit);

MODULE_DESCRIPTION("I/O page-fault queue: iommufd fault-FD semantics over a wait-free core");
MODULE_LICENSE("Dual MIT/GPL");
