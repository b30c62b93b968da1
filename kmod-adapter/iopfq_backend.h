/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * iopfq_backend.h - the fault-queue implementation table of iopfq.ko: the
 * kernel's counterpart of the benchmarks' struct qimpl (bench/bench.h:
 * create, destroy, report, read, respond, wait), with the calls a fault FD
 * adds (attach, detach, flush, poll). Two tables implement it:
 *
 *   iopfq_backend_core      iopfq_fault.c: the adapter, the iopfq core
 *                           behind iommufd's fault-FD rules
 *   iopfq_backend_baseline  iopfq_baseline.c: a model of the merged
 *                           iommufd + io-pgfault path
 *
 * The simulated IOMMU (iopfq_main.c, iopfq_sim.c) holds one pointer to one
 * table per open file: that pointer is the mode.
 *
 * May touch: nothing; declarations only. Depends on the core's public
 * header and kernel types, on nothing else of this module.
 *
 * Context and locking each implementation keeps (the callers rely on it):
 *   create, destroy                  process; sleep
 *   attach, detach, flush, age_scan  process; sleep; take the queue's own
 *                                    consumer mutex (core: iopfq_fault.lock;
 *                                    baseline: its fault mutex)
 *   read                             process; takes the consumer mutex
 *   poll                             process; core: takes the consumer
 *                                    mutex; baseline: its deliver-list
 *                                    spinlock only
 *   write                            process; any number of threads; core:
 *                                    no lock; baseline: its fault mutex
 *   report                           any context the implementation names,
 *                                    between report_begin() and report_end()
 *   stats, allocs                    any
 * No call takes a lock of its caller. page_response (the creator's
 * callback) runs with whatever the caller of the answering call holds (the
 * simulated IOMMU holds iopfq_file.lock around detach and flush, and in
 * release) plus the implementation's own locks at that point:
 *   core      detach, flush: iopfq_fault.lock; write(): none
 *   baseline  detach, flush, write(): its fault mutex; report: none of its
 *             locks, but in the report's context (hard IRQ for the hrtimer
 *             generator), when a last page finds no memory (Response
 *             Failure, as merged)
 * So the callback takes no lock of the queue or of the simulated IOMMU's
 * file (iopfq_kmod.h gives the order), must not sleep, and does not call
 * back into the queue (the core adapter refuses that with -EDEADLK,
 * iopfq_fault.h; the baseline would deadlock on its mutex).
 */
#ifndef IOPFQ_BACKEND_H
#define IOPFQ_BACKEND_H

#include <linux/fs.h>
#include <linux/poll.h>
#include <linux/types.h>
#include <linux/wait.h>

#include <iopfq/iopfq.h>

/**
 * typedef iopfq_respond_fn - a Page Group Response for the creator of a
 * queue to send to its device (resp->dev_ctx is what the device was
 * attached with)
 *
 * Context: the answering write() thread or the detach/flush caller
 * (process), with the locks listed above; and, baseline only, a report's
 * context, hard IRQ included. May be called by many threads at once; must
 * not sleep; must not call back into the queue.
 */
typedef void (*iopfq_respond_fn)(void *owner, const struct iopfq_response *resp);

/**
 * struct iopfq_backend_stats - a queue's counters
 * @c: the core's counters; the baseline fills the ones it keeps
 * @allocs/@frees/@alloc_failures: the baseline's per-fault allocations
 * @mem_bytes: memory the queue holds now, as the allocator rounded it (the
 *	baseline: its own structures plus what its per-fault allocations
 *	asked for)
 * @mem_requested: what the queue asked the allocator for (the core:
 *	iopfq_fault_memsize(); the baseline: as @mem_bytes)
 */
struct iopfq_backend_stats {
	struct iopfq_counters c;
	u64 allocs;
	u64 frees;
	u64 alloc_failures;
	u64 mem_bytes;
	u64 mem_requested;
};

struct iopfq_backend {
	const char *name;
	/*
	 * ERR_PTR(-EINVAL or -ENOMEM) on failure; charged with GFP_KERNEL_ACCOUNT.
	 * @wq: where readers and pollers of the queue wait, the creator's: it
	 * must outlive the queue (a poll() or epoll entry on it may)
	 */
	void *(*create)(const struct iopfq_config *cfg, iopfq_respond_fn page_response,
			void *owner, wait_queue_head_t *wq);
	/* every device detached */
	void (*destroy)(void *q);
	/* 0; -EEXIST, -ENOSPC, -ENOMEM, -EINVAL */
	int (*attach)(void *q, u32 dev_id, u32 credits, void *dev_ctx, iopfq_dev_t *handle);
	/* answers INVALID to every group of the device; 0 or -ENODEV */
	int (*detach)(void *q, iopfq_dev_t dev);
	/* 0, -ENODEV or -EINVAL */
	int (*flush)(void *q, iopfq_dev_t dev, bool pasid_valid, u32 pasid, bool no_response);
	/* the read-side section detach and flush wait for; returns a cookie for end */
	int (*report_begin)(void *q);
	void (*report_end)(void *q, int cookie);
	/*
	 * 0, -EDQUOT, -EINVAL, -ENODEV, -EIO, -ENOMEM (a refusal changes
	 * nothing); *answer as iopfq_report(), and IOPFQ_HW_FAILURE with 0 when
	 * the baseline answered a last page's group itself for want of memory
	 */
	int (*report)(void *q, iopfq_dev_t dev, const struct iopfq_request *req, u32 *answer);
	/* the fault FD's read(), write() and poll(), offset and size rules included */
	ssize_t (*read)(void *q, char __user *buf, size_t count, loff_t *ppos);
	ssize_t (*write)(void *q, const char __user *buf, size_t count, loff_t *ppos);
	__poll_t (*poll)(void *q, struct file *file, poll_table *wait);
	/* groups newly reported as aged, or -EOPNOTSUPP */
	long (*age_scan)(void *q, u64 threshold_ns);
	void (*stats)(void *q, struct iopfq_backend_stats *st);
	/* module-wide allocation counts of this implementation, for leak checks */
	void (*allocs)(u64 *allocs, u64 *frees);
};

extern const struct iopfq_backend iopfq_backend_core;
extern const struct iopfq_backend iopfq_backend_baseline;

/*
 * The fault FD's offset and size rule, for read() (@unit = 40) and write()
 * (@unit = 8): iommufd returns -ESPIPE for a non-zero offset or a count that
 * is not a multiple of the record.
 */
static inline bool iopfq_fd_io_ok(size_t count, const loff_t *ppos, size_t unit)
{
	return !*ppos && !(count % unit);
}

#endif /* IOPFQ_BACKEND_H */
