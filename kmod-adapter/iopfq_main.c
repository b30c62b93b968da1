// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_main.c - the simulated IOMMU of iopfq.ko: the module, the
 * /dev/iopfq misc device (one fault queue per open file) and its ioctls,
 * which configure the queue, attach simulated PRI devices (iopfq_sim.c),
 * inject page requests and run generators.
 *
 * Lock order (the whole module): f->lock, then f->cfg_sem, then a queue's
 * own consumer mutex (inside the backend), then the baseline's spinlocks,
 * then wait-queue locks. Never the other way round: no call below takes a
 * lock of this file, and the page_response callback takes none but a
 * device's wait-queue lock.
 *
 *   f->lock    every ioctl, close; held while CONFIG replaces the queue
 *   f->cfg_sem read(), write() and poll() hold it for reading (alone: they
 *              never take f->lock); CONFIG takes it for writing, under
 *              f->lock, for the moment it swaps the queue pointers
 *
 * May touch: the open files (struct iopfq_file), the simulated devices
 * through iopfq_sim.c, the queue only through its backend table
 * (iopfq_backend.h): f->be is the mode, one pointer. The creator of a
 * queue is this file: it gives the queue iopfq_sim_page_response() as the
 * place answers go.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "iopfq_kmod.h"

static bool selftest;
module_param(selftest, bool, 0444);
MODULE_PARM_DESC(selftest, "run the core's self-test at load");

static atomic64_t files_open;

static const struct iopfq_backend *const backends[] = {
	[IOPFQ_MODE_CORE] = &iopfq_backend_core,
	[IOPFQ_MODE_BASELINE] = &iopfq_backend_baseline,
};

/* ---------------------------------------------------------------------- */
/* read, write, poll: the queue's own, with the configuration held still   */

static ssize_t iopfq_fop_read(struct file *file, char __user *buf, size_t count, loff_t *ppos)
{
	struct iopfq_file *f = file->private_data;
	ssize_t rc;

	down_read(&f->cfg_sem);
	rc = f->be->read(f->q, buf, count, ppos);
	up_read(&f->cfg_sem);
	return rc;
}

static ssize_t iopfq_fop_write(struct file *file, const char __user *buf, size_t count,
			       loff_t *ppos)
{
	struct iopfq_file *f = file->private_data;
	ssize_t rc;

	down_read(&f->cfg_sem);
	rc = f->be->write(f->q, buf, count, ppos);
	up_read(&f->cfg_sem);
	return rc;
}

static __poll_t iopfq_fop_poll(struct file *file, struct poll_table_struct *wait)
{
	struct iopfq_file *f = file->private_data;
	__poll_t mask;

	down_read(&f->cfg_sem);
	mask = f->be->poll(f->q, file, wait);
	up_read(&f->cfg_sem);
	return mask;
}

/* ---------------------------------------------------------------------- */
/* open and release                                                        */

static int iopfq_fop_open(struct inode *inode, struct file *file)
{
	struct iopfq_config cfg = { .max_devices = 16, .credit_budget = 1024 };
	struct iopfq_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	init_waitqueue_head(&f->wq);
	init_rwsem(&f->cfg_sem);
	INIT_LIST_HEAD(&f->devs);
	f->mode = IOPFQ_MODE_CORE;
	f->be = backends[f->mode];
	f->q = f->be->create(&cfg, iopfq_sim_page_response, f, &f->wq);
	if (IS_ERR(f->q)) {
		int rc = PTR_ERR(f->q);

		mutex_destroy(&f->lock);
		kfree(f);
		return rc;
	}
	file->private_data = f;
	atomic64_inc(&files_open);
	return 0;
}

/* Stop, detach and free one simulated device. Context: f->lock held; sleeps. */
static void dev_remove(struct iopfq_file *f, struct iopfq_simdev *sd)
{
	iopfq_sim_gen_stop(sd);
	WARN_ON_ONCE(f->be->detach(f->q, sd->handle));
	list_del(&sd->node);
	f->ndevs--;
	iopfq_sim_free(sd);
}

static int iopfq_fop_release(struct inode *inode, struct file *file)
{
	struct iopfq_file *f = file->private_data;
	struct iopfq_simdev *sd, *next;

	mutex_lock(&f->lock);
	/* stop every producer first: detaching one device must not race its generator */
	list_for_each_entry(sd, &f->devs, node)
		iopfq_sim_gen_stop(sd);
	list_for_each_entry_safe(sd, next, &f->devs, node)
		dev_remove(f, sd);
	mutex_unlock(&f->lock);
	f->be->destroy(f->q);
	mutex_destroy(&f->lock);
	kfree(f);
	atomic64_dec(&files_open);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* ioctls; each validates everything before it changes anything           */

static long ioc_config(struct iopfq_file *f, void __user *argp)
{
	const struct iopfq_backend *be, *old_be;
	struct iopfq_ioc_config c;
	struct iopfq_config cfg = {};
	void *q, *old_q;

	if (copy_from_user(&c, argp, sizeof(c)))
		return -EFAULT;
	if (c.flags || c.mode >= ARRAY_SIZE(backends))
		return -EINVAL;
	if (!c.max_devices || c.max_devices > IOPFQ_MAX_DEVICES ||
	    !c.credit_budget || c.credit_budget > IOPFQ_IOC_MAX_BUDGET)
		return -EINVAL;
	if (f->used)
		return -EBUSY;
	cfg.max_devices = c.max_devices;
	cfg.credit_budget = c.credit_budget;
	be = backends[c.mode];
	/* no device is attached: nothing reports into the old queue */
	q = be->create(&cfg, iopfq_sim_page_response, f, &f->wq);
	if (IS_ERR(q))
		return PTR_ERR(q);
	down_write(&f->cfg_sem);
	old_be = f->be;
	old_q = f->q;
	f->be = be;
	f->q = q;
	f->mode = c.mode;
	up_write(&f->cfg_sem);
	/*
	 * A poller asleep announced its sleep to the old queue only (the core
	 * notifies only then): wake it to poll the new one, which is where
	 * it announces itself again.
	 */
	wake_up_interruptible_all(&f->wq);
	old_be->destroy(old_q);
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
	rc = f->be->attach(f->q, a.dev_id, a.credits, sd, &sd->handle);
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
	int rc;

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
	rc = f->be->flush(f->q, sd->handle, pasid_valid, fl.pasid, no_resp);
	if (rc)
		return rc;
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
	u32 __user *uanswer;
	struct iopfq_request req;
	struct iopfq_simdev *sd;
	u32 answer = IOPFQ_HW_NONE;
	struct inject_arg one;
	bool first = false, marker;
	int rc;

	if (copy_from_user(&in, argp, sizeof(in)))
		return -EFAULT;
	/*
	 * The answer is written back after the report, which cannot be undone:
	 * make sure now that it can be written (the same value goes there
	 * again), so that a call that fails has reported nothing.
	 */
	uanswer = &((struct iopfq_ioc_inject __user *)argp)->answer;
	if (put_user(in.answer, uanswer))
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
	rc = iopfq_sim_check_request(sd, &req);
	if (rc)
		return rc;

	/* a Stop Marker is never answered: no credit, no outstanding group */
	marker = iopfq_sim_is_marker(&req);
	if (!marker) {
		first = iopfq_sim_page_begin(sd, &req);
		atomic_inc(&sd->credits_used);
	}
	one.sd = sd;
	one.req = &req;
	one.answer = &answer;
	rc = iopfq_file_report_section(f, inject_one, &one);
	if (rc) {
		/* refused: the queue changed nothing, nor does the device */
		atomic64_inc(&sd->refused);
		if (!marker) {
			atomic_dec(&sd->credits_used);
			iopfq_sim_page_undo(sd, &req, first);
		}
	} else if (marker) {
		/* the queue dropped the PASID's partial groups unanswered */
		iopfq_sim_marker(sd, in.pasid);
	} else {
		/*
		 * Taken; a group the baseline could not allocate was answered
		 * Response Failure inside the report (answer says so), which
		 * gave the device its pages' credits back already.
		 */
		atomic64_inc(&sd->sent_pages);
		if (in.flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
			atomic64_inc(&sd->sent_groups);
	}
	/*
	 * Only a caller that unmaps or write-protects its argument during the
	 * call makes this fail; the report has happened, so its result stands.
	 */
	if (put_user(answer, uanswer))
		pr_debug("INJECT: answer not written back\n");
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
	struct iopfq_backend_stats bs;

	f->be->stats(f->q, &bs);
	st.mode = f->mode;
#define COPY_(type, name) st.name = bs.c.name;
	IOPFQ_COUNTERS(COPY_)
#undef COPY_
	st.base_allocs = bs.allocs;
	st.base_frees = bs.frees;
	st.base_alloc_failures = bs.alloc_failures;
	st.mem_bytes = ksize(f) + bs.mem_bytes;
	st.mem_requested = sizeof(*f) + bs.mem_requested;
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long ioc_global_stats(void __user *argp)
{
	struct iopfq_ioc_global_stats st = {
		.files_open = atomic64_read(&files_open),
		.simdev_allocs = atomic64_read(&iopfq_sim_global.simdev_allocs),
		.simdev_frees = atomic64_read(&iopfq_sim_global.simdev_frees),
		.sim_sent_groups = atomic64_read(&iopfq_sim_global.sim_sent_groups),
		.sim_sent_pages = atomic64_read(&iopfq_sim_global.sim_sent_pages),
		.sim_answered_groups = atomic64_read(&iopfq_sim_global.sim_answered_groups),
		.sim_answered_pages = atomic64_read(&iopfq_sim_global.sim_answered_pages),
		.sim_answered_invalid = atomic64_read(&iopfq_sim_global.sim_answered_invalid),
		.sim_duplicates = atomic64_read(&iopfq_sim_global.sim_duplicates),
		.sim_credits_leaked = atomic64_read(&iopfq_sim_global.sim_credits_leaked),
	};

	iopfq_backend_core.allocs(&st.qmem_allocs, &st.qmem_frees);
	iopfq_backend_baseline.allocs(&st.base_allocs, &st.base_frees);
	if (copy_to_user(argp, &st, sizeof(st)))
		return -EFAULT;
	return 0;
}

static long ioc_age_scan(struct iopfq_file *f, void __user *argp)
{
	u64 threshold;

	if (copy_from_user(&threshold, argp, sizeof(threshold)))
		return -EFAULT;
	return f->be->age_scan(f->q, threshold);
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
	/* no .llseek: lseek() is -ESPIPE (6.1 and 6.12 alike; 6.12 has no no_llseek) */
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
