/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * iopfq_kmod.h - the simulated IOMMU of iopfq.ko: declarations shared by
 * its two files, the top of the module:
 *
 *   iopfq_main.c      module, /dev/iopfq (one fault queue per open file:
 *                     file operations and ioctls), the mode switch
 *   iopfq_sim.c       simulated PRI devices, generators, latency histogram
 *
 * Below them, reached through the backend table (iopfq_backend.h) only,
 * but for iopfq_selftest() at load:
 *
 *   iopfq_fault.c     the adapter: a fault FD over the iopfq core, the
 *                     core's hooks in the kernel (reused by an iommufd
 *                     integration); core_ring.c, core_devices.c,
 *                     core_groups.c, core_cookies.c and core_queue.c
 *                     compile the core in; iopfq_selftest.c tests it at
 *                     load
 *   iopfq_baseline.c  a model of iommufd's fault FD and io-pgfault as
 *                     merged (lists, kzalloc, xarray, mutex)
 *
 * Lock order (the whole module; each file's first comment repeats its
 * part): iopfq_file.lock, then iopfq_file.cfg_sem, then a queue's own
 * consumer mutex (struct iopfq_fault.lock or the baseline's), then the
 * baseline's spinlocks, then wait-queue locks. Reports (any context) take
 * none of them but the baseline's spinlocks and the file's wait-queue lock
 * (a wake-up); page_response callbacks take none but a device's wait-queue
 * lock.
 */
#ifndef IOPFQ_KMOD_H
#define IOPFQ_KMOD_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/srcu.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <linux/rwsem.h>

#include <iopfq/iopfq.h>
#include "iopfq_backend.h"
#include "iopfq_fault.h"
#include "iopfq_ioctl.h"

struct iopfq_simdev;

/* Module-wide counters of the simulated devices (IOPFQ_IOC_GLOBAL_STATS) */
struct iopfq_sim_global {
	atomic64_t simdev_allocs;
	atomic64_t simdev_frees;
	atomic64_t sim_sent_groups;
	atomic64_t sim_sent_pages;
	atomic64_t sim_answered_groups;
	atomic64_t sim_answered_pages;
	atomic64_t sim_answered_invalid;
	atomic64_t sim_duplicates;
	atomic64_t sim_credits_leaked;
};

extern struct iopfq_sim_global iopfq_sim_global;

/**
 * struct iopfq_file - one open /dev/iopfq: one fault queue
 * @lock: the ioctls (the simulated IOMMU's side)
 * @wq: readers and pollers wait here, whatever queue the file has now:
 *	a poll() asleep or an epoll entry outlives a CONFIG that replaces
 *	the queue, so the wait queue is the file's, lent to each queue
 * @cfg_sem: read(), write() and poll() hold it for reading, IOPFQ_IOC_CONFIG
 *	for writing while it replaces @be and @q (under @lock)
 * @be: the queue's implementation (the mode)
 * @q: the queue
 * @mode: enum iopfq_ioc_mode
 * @used: a device has been attached: the configuration is frozen, so @be
 *	and @q no longer change (what lets the generators use them unlocked)
 * @devs: simulated devices (struct iopfq_simdev), under @lock
 * @ndevs: number of them
 */
struct iopfq_file {
	struct mutex lock;
	wait_queue_head_t wq;
	struct rw_semaphore cfg_sem;
	const struct iopfq_backend *be;
	void *q;
	u32 mode;
	bool used;
	struct list_head devs;
	u32 ndevs;
};

/**
 * struct iopfq_simdev - a simulated PRI device attached to one file
 * @node: on iopfq_file.devs
 * @file: its queue
 * @handle: its handle in the file's queue
 * @grp_ts: per (PASID, group index): report time of the group's first page,
 *	0 while no group with that key is outstanding
 * @grp_pages: per (PASID, group index): pages reported and not yet answered
 * @grp_last: per (PASID, group index): the outstanding group's last page was
 *	reported (it is complete: a Stop Marker does not drop it)
 * @nslots: entries in @grp_ts and @grp_pages (npasids * 512)
 */
struct iopfq_simdev {
	struct list_head node;
	struct iopfq_file *file;
	u32 dev_id;
	u32 credits;
	u32 pasid_base;
	u32 npasids;
	u32 group_size;
	u32 flags;
	iopfq_dev_t handle;
	atomic_t credits_used;
	atomic64_t *grp_ts;
	atomic_t *grp_pages;
	unsigned long *grp_last;
	u32 nslots;
	u32 gen_cursor;

	/* generator */
	u32 gen_kind;
	u64 gen_period_ns;
	u32 gen_burst;
	u32 gen_max_groups;
	u32 gen_sent;
	bool gen_running;
	struct task_struct *gen_task;
	struct hrtimer gen_timer;
	wait_queue_head_t credit_wq;

	/* statistics: updated by the response hook from any thread */
	atomic64_t sent_groups;
	atomic64_t sent_pages;
	atomic64_t answered_groups;
	atomic64_t answered_pages;
	atomic64_t answered_success;
	atomic64_t answered_invalid;
	atomic64_t answered_failure;
	atomic64_t duplicates;
	atomic64_t refused;
	atomic64_t throttled;
	atomic64_t lat_count;
	atomic64_t lat_sum;
	atomic64_t lat_max;
	atomic64_t hist[IOPFQ_HIST_BUCKETS];
	/* IOPFQ_ATTACH_TEST_REENTER */
	atomic64_t test_reenter_rc;
	atomic64_t test_reenter_calls;
};


/* iopfq_sim.c */
struct iopfq_simdev *iopfq_sim_alloc(struct iopfq_file *f, const struct iopfq_ioc_attach *a);
void iopfq_sim_free(struct iopfq_simdev *sd);
struct iopfq_simdev *iopfq_sim_find(struct iopfq_file *f, u32 dev_id);
void iopfq_sim_page_response(void *owner, const struct iopfq_response *resp);
bool iopfq_sim_page_begin(struct iopfq_simdev *sd, const struct iopfq_request *r);
void iopfq_sim_page_undo(struct iopfq_simdev *sd, const struct iopfq_request *r, bool first);
void iopfq_sim_marker(struct iopfq_simdev *sd, u32 pasid);
void iopfq_sim_forget_pasid(struct iopfq_simdev *sd, bool pasid_valid, u32 pasid);
int iopfq_sim_gen_start(struct iopfq_simdev *sd, const struct iopfq_ioc_gen *g);
void iopfq_sim_gen_stop(struct iopfq_simdev *sd);
void iopfq_sim_stats(struct iopfq_simdev *sd, struct iopfq_ioc_dev_stats *st);
int iopfq_sim_check_attach(const struct iopfq_ioc_attach *a);
int iopfq_sim_check_request(const struct iopfq_simdev *sd, const struct iopfq_request *r);
bool iopfq_sim_is_marker(const struct iopfq_request *r);

/**
 * iopfq_file_report - one page request of simulated device @sd
 * @sd: the device
 * @req: the request
 * @answer: out (may be NULL): the answer a refusal calls for
 *
 * Context: inside iopfq_file_report_section(). Core: wait-free, no
 * allocation. Baseline: allocates (GFP_ATOMIC in hard IRQ, else GFP_KERNEL).
 * Return: 0 or the queue's negative errno.
 */
static inline int iopfq_file_report(struct iopfq_simdev *sd, const struct iopfq_request *req,
				    u32 *answer)
{
	return sd->file->be->report(sd->file->q, sd->handle, req, answer);
}

/**
 * iopfq_file_report_section - run @fn inside the read-side section that
 * detach and flush of @f's queue wait for (RCU for the core, whose hard-IRQ
 * callers already are in one; SRCU for the baseline, whose kthread path may
 * sleep in GFP_KERNEL allocations)
 * @f: the file, configuration frozen (a device is attached)
 * @fn: reports page requests with iopfq_file_report()
 * @arg: passed to @fn
 *
 * Context: any the queue's report allows, including hard IRQ.
 * Return: what @fn returns.
 */
static inline int iopfq_file_report_section(struct iopfq_file *f, int (*fn)(void *arg), void *arg)
{
	int cookie = f->be->report_begin(f->q);
	int rc = fn(arg);

	f->be->report_end(f->q, cookie);
	return rc;
}

#endif /* IOPFQ_KMOD_H */
