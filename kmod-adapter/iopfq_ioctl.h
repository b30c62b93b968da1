/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR MIT */
/*
 * iopfq_ioctl.h - the user-space interface of /dev/iopfq (iopfq.ko).
 *
 * Each open file of /dev/iopfq is one fault queue with iommufd fault-FD
 * semantics: read() returns struct iopfq_hwpt_pgfault records (40 bytes),
 * write() takes struct iopfq_hwpt_page_response records (8 bytes), poll()
 * is always writable and readable while a complete group is queued. The
 * records are layout-identical to iommufd's (core/include/iopfq/abi.h).
 *
 * The ioctls below stand in for an IOMMU: they configure the queue, attach
 * simulated PRI devices, inject page requests, run fault generators (a
 * kthread, the threaded-IRQ path, or an hrtimer callback in hard-IRQ
 * context) and read the devices' counters and latency histograms.
 *
 * Usable from the kernel and from user space (includes only linux/types.h,
 * linux/ioctl.h and iopfq/iopfq.h, which includes no system header). Every struct is made of naturally aligned __u32/__u64
 * fields, so 32-bit and 64-bit callers share the layout. Every ioctl checks
 * its input and fails with nothing changed; an ioctl that changed something
 * returns success (INJECT says in its answer what the queue did).
 */
#ifndef IOPFQ_IOCTL_H
#define IOPFQ_IOCTL_H

#include <linux/ioctl.h>
#include <linux/types.h>

#include <iopfq/iopfq.h>

#define IOPFQ_DEVICE_PATH "/dev/iopfq"

/* Which queue implementation an open file uses (struct iopfq_ioc_config.mode) */
enum iopfq_ioc_mode {
	IOPFQ_MODE_CORE = 0,     /* the iopfq core: fixed memory, wait-free report */
	IOPFQ_MODE_BASELINE = 1, /* a model of iommufd + io-pgfault as merged */
};

/**
 * struct iopfq_ioc_config - IOPFQ_IOC_CONFIG: mode and sizes of the queue
 * @mode: enum iopfq_ioc_mode
 * @max_devices: devices attached at once, 1 .. 4096
 * @credit_budget: sum of the devices' PRI allocations, 1 .. 65536
 * @flags: must be 0
 *
 * Allowed until the first device is attached (-EBUSY after). An open file
 * starts as IOPFQ_MODE_CORE, 16 devices, 1024 credits.
 */
struct iopfq_ioc_config {
	__u32 mode;
	__u32 max_devices;
	__u32 credit_budget;
	__u32 flags;
};

#define IOPFQ_IOC_MAX_BUDGET 65536u
#define IOPFQ_IOC_MAX_PASIDS 64u
/* Page requests in one generated group (struct iopfq_ioc_attach.group_size) */
#define IOPFQ_IOC_MAX_GROUP 512u
/* Groups in one generator burst (struct iopfq_ioc_gen.burst): the group indexes */
#define IOPFQ_IOC_MAX_BURST 512u
/*
 * Page requests one hrtimer callback (hard IRQ) may report: burst *
 * group_size <= min(credits, this). 512 is what one page-request interrupt
 * can find in the smallest hardware queue (AMD's PPR log: 512 entries).
 */
#define IOPFQ_IOC_MAX_IRQ_PAGES 512u

/* struct iopfq_ioc_attach.flags */
#define IOPFQ_ATTACH_NO_PASID (1u << 0) /* requests carry no PASID */
/*
 * Test only: the device's page_response callback calls back into the
 * consumer side of its own queue (IOPFQ_IOC_AGE_SCAN's call) and keeps what
 * that returned in struct iopfq_ioc_dev_stats.test_reenter_rc. The kernel
 * adapter refuses such a call with -EDEADLK (iopfq_fault.h); the test of
 * that promise uses this flag, in core mode only (the baseline's write()
 * holds its mutex across the callback).
 */
#define IOPFQ_ATTACH_TEST_REENTER (1u << 1)

/**
 * struct iopfq_ioc_attach - IOPFQ_IOC_ATTACH: admit a simulated device
 * @dev_id: its id in the fault records; unique in the file
 * @credits: its PRI Outstanding Page Request Allocation, >= 1
 * @pasid_base: first PASID it uses (0 with IOPFQ_ATTACH_NO_PASID)
 * @npasids: PASIDs it uses, 1 .. IOPFQ_IOC_MAX_PASIDS (1 without PASID)
 * @group_size: page requests per generated group, 1 .. @credits
 * @flags: IOPFQ_ATTACH_*
 *
 * Errors: -EINVAL bad field; -EEXIST dev_id in use; -ENOSPC budget or
 * device table spent; -ENOMEM.
 */
struct iopfq_ioc_attach {
	__u32 dev_id;
	__u32 credits;
	__u32 pasid_base;
	__u32 npasids;
	__u32 group_size;
	__u32 flags;
};

/* struct iopfq_ioc_flush.flags */
#define IOPFQ_IOC_FLUSH_PASID_VALID (1u << 0) /* flush @pasid, else no-PASID requests */
#define IOPFQ_IOC_FLUSH_NO_RESPONSE (1u << 1) /* Stop Marker semantics: answer nothing */

/**
 * struct iopfq_ioc_flush - IOPFQ_IOC_FLUSH: remove every trace of (dev, PASID)
 * @dev_id: device
 * @pasid: PASID (0 without IOPFQ_IOC_FLUSH_PASID_VALID)
 * @flags: IOPFQ_IOC_FLUSH_*
 */
struct iopfq_ioc_flush {
	__u32 dev_id;
	__u32 pasid;
	__u32 flags;
	__u32 __reserved; /* must be 0 */
};

/**
 * struct iopfq_ioc_inject - IOPFQ_IOC_INJECT: report one page request now,
 * from process context, as the device @dev_id (bypasses the device's own
 * credit accounting: over-credit requests are possible and are refused by
 * the queue)
 * @flags: IOPFQ_PGFAULT_FLAGS_* (PASID_VALID, LAST_PAGE)
 * @pasid: one of the device's (pasid_base .. pasid_base + npasids - 1) with
 *	IOPFQ_PGFAULT_FLAGS_PASID_VALID; 0 without it, which only a device
 *	attached with IOPFQ_ATTACH_NO_PASID may use (it may use nothing else)
 * @answer: out: on a refusal, the hardware answer it calls for (0 Success
 *	for an over-credit last page, 0xff none), see iopfq_report(); on
 *	success 0xff, or 0xf (Response Failure) when baseline mode had no
 *	memory for the group of a last page and answered the whole group
 *	Response Failure at once, as the merged path does (the device got it,
 *	and every page's credit back). Checked writable before the report (its
 *	own value is written back), so a read-only argument fails with -EFAULT
 *	and nothing reported.
 *
 * A Stop Marker (last page, neither read nor write permission) takes no
 * device credit; the core drops the PASID's partial groups unanswered and
 * the device takes their credits back.
 *
 * Return of the ioctl: 0; -ENOENT unknown @dev_id; -EBUSY the device's
 * generator runs; -EINVAL bad flags, permission, group index or PASID (see
 * @pasid), or a Stop Marker in baseline mode or without PASID; -EDQUOT
 * beyond the device's credits (or the core's marker credits); -ENOMEM
 * baseline mode without memory for a partial page; -EFAULT. On every error
 * nothing was reported and nothing changed.
 */
struct iopfq_ioc_inject {
	__u32 dev_id;
	__u32 flags;
	__u32 pasid;
	__u32 grpid;
	__u32 perm;
	__u32 answer;
	__u64 addr;
};

/* struct iopfq_ioc_gen.kind */
enum iopfq_gen_kind {
	IOPFQ_GEN_KTHREAD = 1, /* a kernel thread: the threaded-IRQ path */
	IOPFQ_GEN_HRTIMER = 2, /* an hrtimer callback in hard-IRQ context */
};

/**
 * struct iopfq_ioc_gen - IOPFQ_IOC_GEN_START: start the device's generator
 * @dev_id: device (one generator per device; -EBUSY if one runs)
 * @kind: enum iopfq_gen_kind
 * @period_ns: time between bursts; 0 (kthread only): as fast as credits
 *	allow, sleeping until an answer returns credits. hrtimer: >= 1000.
 * @burst: groups per burst, >= 1; a group is sent only when the device
 *	has the credits for it (else counted as throttled)
 * @max_groups: stop after this many groups (0: until GEN_STOP)
 */
struct iopfq_ioc_gen {
	__u32 dev_id;
	__u32 kind;
	__u64 period_ns;
	__u32 burst;
	__u32 max_groups;
};

#define IOPFQ_HIST_SUB_BITS 3
#define IOPFQ_HIST_SUB (1u << IOPFQ_HIST_SUB_BITS)
#define IOPFQ_HIST_BUCKETS 512u

/**
 * struct iopfq_ioc_dev_stats - IOPFQ_IOC_DEV_STATS: a simulated device's view
 * @dev_id: in
 * @hist_len: in: __u64 entries at @hist_ptr (0: none wanted); out: entries
 *	written (min of in and IOPFQ_HIST_BUCKETS)
 * @hist_ptr: in: user address of the latency histogram's destination
 * @sent_groups/@sent_pages: page requests the device issued (accepted)
 * @answered_*: responses the device received, by code
 * @duplicates: responses for a group that was not outstanding
 * @refused: page requests the queue refused
 * @throttled: groups the generator did not send for lack of credits
 * @credits_outstanding: credits the device thinks are in use
 * @lat_count/@lat_sum_ns/@lat_max_ns: fault-to-response latency, from the
 *	report of a group's first page to its response reaching the device
 * @test_reenter_rc: IOPFQ_ATTACH_TEST_REENTER only: what the last call
 *	back into the queue from the device's callback returned (0 if none ran)
 * @test_reenter_calls: how many such calls ran
 */
struct iopfq_ioc_dev_stats {
	__u32 dev_id;
	__u32 hist_len;
	__u64 hist_ptr;
	__u64 sent_groups;
	__u64 sent_pages;
	__u64 answered_groups;
	__u64 answered_pages;
	__u64 answered_success;
	__u64 answered_invalid;
	__u64 answered_failure;
	__u64 duplicates;
	__u64 refused;
	__u64 throttled;
	__u64 credits_outstanding;
	__u64 lat_count;
	__u64 lat_sum_ns;
	__u64 lat_max_ns;
	__s64 test_reenter_rc;
	__u64 test_reenter_calls;
};

/**
 * struct iopfq_ioc_queue_stats - IOPFQ_IOC_QUEUE_STATS: the queue's counters
 * Core mode fills every field of struct iopfq_counters (the same list,
 * IOPFQ_COUNTERS, each widened to __u64); baseline mode fills what it can
 * and its allocation counts.
 */
struct iopfq_ioc_queue_stats {
	__u32 mode;
	__u32 __reserved;        /* zero */
#define IOPFQ_IOC_COUNTER_(type, name) __u64 name;
	IOPFQ_COUNTERS(IOPFQ_IOC_COUNTER_)
#undef IOPFQ_IOC_COUNTER_
	__u64 base_allocs;       /* baseline: kzalloc of groups and partial pages */
	__u64 base_frees;
	__u64 base_alloc_failures;
	__u64 mem_bytes;         /* what the open file holds now for itself and its
				  * queue, simulated devices not counted (core: all
				  * of it allocated by open or CONFIG; baseline:
				  * grows with the faults queued) */
	__u64 mem_requested;     /* what the open file and its queue asked the
				  * allocator for (mem_bytes is after its
				  * rounding) */
};

/**
 * struct iopfq_ioc_global_stats - IOPFQ_IOC_GLOBAL_STATS: module-wide
 * counters, for leak checks across close(). The sim_* counters are folded
 * in when a simulated device is freed (detach or close).
 */
struct iopfq_ioc_global_stats {
	__u64 files_open;
	__u64 qmem_allocs;       /* kvzalloc of queue memory and read buffers */
	__u64 qmem_frees;
	__u64 base_allocs;       /* baseline per-fault allocations */
	__u64 base_frees;
	__u64 simdev_allocs;
	__u64 simdev_frees;
	__u64 sim_sent_groups;
	__u64 sim_sent_pages;
	__u64 sim_answered_groups;
	__u64 sim_answered_pages;
	__u64 sim_answered_invalid;
	__u64 sim_duplicates;
	__u64 sim_credits_leaked; /* credits_outstanding of freed devices */
};

#define IOPFQ_IOC_MAGIC 0xb7

#define IOPFQ_IOC_CONFIG _IOW(IOPFQ_IOC_MAGIC, 0x00, struct iopfq_ioc_config)
#define IOPFQ_IOC_ATTACH _IOW(IOPFQ_IOC_MAGIC, 0x01, struct iopfq_ioc_attach)
#define IOPFQ_IOC_DETACH _IOW(IOPFQ_IOC_MAGIC, 0x02, __u32)
#define IOPFQ_IOC_FLUSH _IOW(IOPFQ_IOC_MAGIC, 0x03, struct iopfq_ioc_flush)
#define IOPFQ_IOC_INJECT _IOWR(IOPFQ_IOC_MAGIC, 0x04, struct iopfq_ioc_inject)
#define IOPFQ_IOC_GEN_START _IOW(IOPFQ_IOC_MAGIC, 0x05, struct iopfq_ioc_gen)
#define IOPFQ_IOC_GEN_STOP _IOW(IOPFQ_IOC_MAGIC, 0x06, __u32)
#define IOPFQ_IOC_DEV_STATS _IOWR(IOPFQ_IOC_MAGIC, 0x07, struct iopfq_ioc_dev_stats)
#define IOPFQ_IOC_QUEUE_STATS _IOR(IOPFQ_IOC_MAGIC, 0x08, struct iopfq_ioc_queue_stats)
#define IOPFQ_IOC_GLOBAL_STATS _IOR(IOPFQ_IOC_MAGIC, 0x09, struct iopfq_ioc_global_stats)
#define IOPFQ_IOC_AGE_SCAN _IOW(IOPFQ_IOC_MAGIC, 0x0a, __u64)

/*
 * The latency histogram is log-linear: values below IOPFQ_HIST_SUB have a
 * bucket each; above, each power of two is split into IOPFQ_HIST_SUB
 * linear buckets (12.5% resolution).
 */
static inline __u32 iopfq_hist_index(__u64 v)
{
	__u32 msb;

	if (v < IOPFQ_HIST_SUB)
		return (__u32)v;
	msb = 63 - (__u32)__builtin_clzll(v);
	return (msb - IOPFQ_HIST_SUB_BITS + 1) * IOPFQ_HIST_SUB +
	       (__u32)((v >> (msb - IOPFQ_HIST_SUB_BITS)) & (IOPFQ_HIST_SUB - 1));
}

/* The smallest value that lands in bucket @idx. */
static inline __u64 iopfq_hist_lower(__u32 idx)
{
	__u32 msb;

	if (idx < IOPFQ_HIST_SUB)
		return idx;
	msb = idx / IOPFQ_HIST_SUB - 1 + IOPFQ_HIST_SUB_BITS;
	return (__u64)(IOPFQ_HIST_SUB + idx % IOPFQ_HIST_SUB) << (msb - IOPFQ_HIST_SUB_BITS);
}

#endif /* IOPFQ_IOCTL_H */
