/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * iopfq_fault.h - the kernel adapter of the iopfq core: a fault-FD object
 * (struct iopfq_fault) with iommufd's read/write/poll rules over one core
 * queue, and the core's hooks implemented with the kernel's RCU, wait queues
 * and clocks. Page Group Responses go to whoever created the fault, through
 * the callback it gave iopfq_fault_create(): an IOMMU driver's page_response
 * in an iommufd integration, the simulated devices in this module.
 *
 * May touch: its own struct iopfq_fault and the core through the core's
 * API; nothing of the simulated IOMMU or of the baseline.
 *
 * Lock order: the caller's locks, then iopfq_fault.lock (the core's
 * consumer side), then the wait queue's lock (notify hook). page_response
 * is called with iopfq_fault.lock held by detach and flush, and with no
 * lock by write(); always in process context, on the answering thread.
 *
 * Callback re-entry: from inside the page_response callback of an object,
 * on any path, iopfq_fault_write() and iopfq_fault_report() of that object
 * and anything of another object may be called. A consumer-side call on
 * the same object (iopfq_fault_read(), _poll(), _dev_attach(),
 * _dev_detach(), _flush(), _age_scan()) returns -EDEADLK (poll: EPOLLERR)
 * and changes nothing: it would wait for flt->lock held by the detach or
 * flush it runs inside, or, from write(), detach or flush would wait for
 * the answer it runs inside. iopfq_fault_destroy() from there is a bug: it
 * warns and does nothing. The same rule as the core's (iopfq/iopfq.h) and
 * libiopfq's (iopfq/user.h).
 */
#ifndef IOPFQ_FAULT_H
#define IOPFQ_FAULT_H

#include "iopfq_backend.h"

struct iopfq_fault;

/**
 * iopfq_fault_memsize - bytes a fault object for @cfg asks the allocator
 * for, all of it at create time (nothing later, nothing per fault); what it
 * holds is more when kvzalloc() serves a block from kmalloc(), which rounds
 * a large block up to a power of two pages (iopfq_fault_stats() says)
 * @cfg: the configuration
 *
 * Context: any. Return: the size, or 0 for an invalid @cfg.
 */
size_t iopfq_fault_memsize(const struct iopfq_config *cfg);

/**
 * iopfq_fault_create - a fault object with a core queue for @cfg
 * @cfg: sizes (devices, sum of their PRI allocations)
 * @page_response: where answered groups go; called with @owner
 * @owner: the creator
 * @wq: where readers and pollers wait (the notify hook wakes it): the
 *	creator's, alive as long as the file whose poll() uses it, which may
 *	be longer than the object (a poll or epoll entry outlives the call)
 *
 * Allocates iopfq_fault_memsize(@cfg) bytes with GFP_KERNEL_ACCOUNT (charged
 * to the caller's memory cgroup, as iommufd charges its objects).
 * Context: process; sleeps. Return: the object or ERR_PTR(-EINVAL, -ENOMEM).
 */
struct iopfq_fault *iopfq_fault_create(const struct iopfq_config *cfg,
				       iopfq_respond_fn page_response, void *owner,
				       wait_queue_head_t *wq);

/**
 * iopfq_fault_destroy - free a fault object with no device attached
 * @flt: the object
 *
 * Context: process; not from a callback of @flt (warns, does nothing).
 */
void iopfq_fault_destroy(struct iopfq_fault *flt);

/* iopfq_dev_attach(), iopfq_dev_detach(), iopfq_flush() (@flags:
 * IOPFQ_FLUSH_PASID_VALID, IOPFQ_FLUSH_NO_RESPONSE) and iopfq_age_scan()
 * under the consumer mutex. Context: process; sleep. Errors: the core's,
 * and -EDEADLK from a callback of the object (see above). */
int iopfq_fault_dev_attach(struct iopfq_fault *flt, u32 dev_id, u32 credits, void *dev_ctx,
			   iopfq_dev_t *handle);
int iopfq_fault_dev_detach(struct iopfq_fault *flt, iopfq_dev_t dev);
int iopfq_fault_flush(struct iopfq_fault *flt, iopfq_dev_t dev, u32 pasid, u32 flags);
int iopfq_fault_age_scan(struct iopfq_fault *flt, u64 threshold_ns);

/**
 * iopfq_fault_report - one page request or Stop Marker from device @dev
 * @flt: the object
 * @dev: from iopfq_fault_dev_attach()
 * @req: the request
 * @answer: out (may be NULL): what a refusal calls for, see iopfq_report()
 *
 * Context: any, including hard IRQ; inside rcu_read_lock() (a hard-IRQ
 * handler already is). Wait-free; allocates nothing.
 * Return: as iopfq_report().
 */
int iopfq_fault_report(struct iopfq_fault *flt, iopfq_dev_t dev,
		       const struct iopfq_request *req, u32 *answer);

/*
 * The fault FD's file operations. read(): whole groups only, -ESPIPE for an
 * offset or a count not a multiple of 40, 0 if the first group does not fit,
 * never blocks. write(): -ESPIPE unless a multiple of 8; bytes consumed if
 * any, else -EINVAL or -EFAULT; no lock, any number of writers. poll():
 * always writable, readable while a group is queued. From a callback of
 * the object, read() is -EDEADLK and poll() EPOLLERR (see above).
 * Context: process.
 */
ssize_t iopfq_fault_read(struct iopfq_fault *flt, char __user *buf, size_t count, loff_t *ppos);
ssize_t iopfq_fault_write(struct iopfq_fault *flt, const char __user *buf, size_t count,
			  loff_t *ppos);
__poll_t iopfq_fault_poll(struct iopfq_fault *flt, struct file *file, poll_table *wait);

/* Counters, and the bytes the object holds. Context: any. */
void iopfq_fault_stats(struct iopfq_fault *flt, struct iopfq_backend_stats *st);

/*
 * iopfq_selftest - the core's self-test in kernel space (iopfq_selftest.c),
 * with the kernel's RCU, clocks and hard IRQ. Context: process; sleeps.
 * Return: 0 if every check passed, -EINVAL if one failed, -ENOMEM.
 */
int iopfq_selftest(void);

#endif /* IOPFQ_FAULT_H */
