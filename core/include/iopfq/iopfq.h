/* SPDX-License-Identifier: MIT */
/*
 * iopfq/iopfq.h - the I/O page-fault queue: a wait-free multi-producer fault
 * ring, consumer-side group assembly and a cookie-indexed response table,
 * with the semantics of iommufd's fault FD (Linux 6.11+).
 *
 * The queue lives in one block of caller memory sized by iopfq_memsize();
 * every internal size derives from the configured PRI credit budget and
 * nothing is allocated after iopfq_init().
 *
 * Who may call what, concurrently (the synchronization table):
 *
 *   iopfq_report()              any thread, any context including hard IRQ;
 *                               inside a read-side section of the
 *                               synchronize hook (see iopfq_report())
 *   iopfq_respond()             any thread, any number at once (process or
 *                               softirq context: calls ops->page_response)
 *   iopfq_counters()            any thread
 *   iopfq_config_geometry(),    anyone: they touch no queue
 *   iopfq_memsize()
 *   everything else             "consumer side": one caller at a time; the
 *                               adapter serializes them with its own lock
 *                               (a mutex in the kernel adapter): init, the
 *                               device table (iopfq_dev_*), read, restore,
 *                               next_group_size, flush, age_scan, and the
 *                               wake-up calls (prepare/finish_sleep,
 *                               poll_ready)
 *
 * Errors are negative Linux errno values (iopfq/errno.h). A call that fails
 * changes no state. A NULL queue: every call that returns int returns
 * -EINVAL; iopfq_counters() and iopfq_finish_sleep(), which return nothing,
 * do nothing.
 *
 * Ordering: each function's "Ordering:" line says what its caller gets; the
 * edge labels (R1, K2, ...) are those of docs/memory-ordering.md. The
 * consumer-side calls get nothing from one another beyond what the
 * adapter's lock that serializes them gives. Every function has such a
 * line; "none" means the call orders nothing for its caller.
 */
#ifndef IOPFQ_IOPFQ_H
#define IOPFQ_IOPFQ_H

#include "abi.h"
#include "errno.h"
#include "types.h"

#ifdef __cplusplus
extern "C" {
#endif

struct iopfq;

/*
 * A device handle from iopfq_dev_attach(): generation << 12 | slot index.
 * 0 is never valid. A detached handle is stale forever: a device-table slot
 * issues generations 1 .. 2^dev_gen_bits - 1 (1 048 575 by default), one
 * per attach, and is retired once its last is detached, so a queue admits
 * at most max_devices * (2^dev_gen_bits - 1) attaches in its lifetime
 * (struct iopfq_config).
 */
typedef iopfq_u32 iopfq_dev_t;

/* Hardware Page Group Response codes (PCIe), as passed to ops->page_response */
enum iopfq_hw_code {
	IOPFQ_HW_SUCCESS = 0x0,  /* retry the access */
	IOPFQ_HW_INVALID = 0x1,  /* do not retry */
	IOPFQ_HW_FAILURE = 0xf,  /* disables PRI for the function; never from user space */
	IOPFQ_HW_NONE = 0xff,    /* no response is to be sent */
};

/* Why a group was answered (struct iopfq_response.origin) */
enum iopfq_answer_origin {
	IOPFQ_ANSWER_USER = 0,   /* iopfq_respond() */
	IOPFQ_ANSWER_DETACH = 1, /* iopfq_dev_detach(): INVALID, like iommufd_auto_response_faults */
	IOPFQ_ANSWER_FLUSH = 2,  /* iopfq_flush(): INVALID */
};

/**
 * struct iopfq_response - one Page Group Response for the hardware
 * @dev_id: device to answer
 * @pasid: PASID of the group (meaningful when @flags has PASID_VALID)
 * @grpid: Page Request Group Index
 * @flags: IOPFQ_PGFAULT_FLAGS_PASID_VALID or 0
 * @code: enum iopfq_hw_code
 * @npages: page requests in the group: the credits it gives back
 * @origin: enum iopfq_answer_origin
 * @dev_ctx: the pointer given to iopfq_dev_attach() for this device
 */
struct iopfq_response {
	iopfq_u32 dev_id;
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 flags;
	iopfq_u32 code;
	iopfq_u32 npages;
	iopfq_u32 origin;
	void *dev_ctx;
};

/* Where an aged group was found (struct iopfq_aged.where) */
enum iopfq_group_where {
	IOPFQ_GROUP_PARTIAL = 1,   /* last page not yet received */
	IOPFQ_GROUP_READY = 2,     /* complete, not yet read */
	IOPFQ_GROUP_DELIVERED = 3, /* read, not yet answered */
};

/**
 * struct iopfq_aged - a group pending longer than the aging threshold
 * @cookie: its cookie if delivered, else 0
 */
struct iopfq_aged {
	iopfq_u32 dev_id;
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 flags;
	iopfq_u32 where;
	iopfq_u32 npages;
	iopfq_u32 cookie;
	iopfq_u64 age_ns;
};

/**
 * struct iopfq_ops - what the adapter provides; all but @aged and @relax
 * are required. Every hook gets the @ctx given to iopfq_init(), so a table
 * can be static const; iopfq_init() copies it.
 * @page_response: send a Page Group Response to the device. Called once per
 *	answered group, by whoever answered it (an iopfq_respond() caller, or
 *	the consumer side for detach/flush). It may call iopfq_report(),
 *	iopfq_respond() and iopfq_counters(). It must not call a consumer-side
 *	function of the same queue, on any path: the core cannot tell one
 *	thread from another, so it does not refuse such a call, and a detach
 *	or flush of the answered device made from an answer that
 *	iopfq_respond() runs would wait forever for the answer it runs inside.
 *	An adapter whose callbacks may call back keeps a per-thread mark and
 *	refuses those calls itself (libiopfq returns -EDEADLK: iopfq/user.h).
 * @synchronize: wait until every iopfq_report() that began before the call
 *	has returned (synchronize_rcu() in the kernel, liburcu's in userspace).
 * @notify: wake the consumer. Context: any, including hard IRQ; called
 *	only after iopfq_prepare_sleep() allowed the consumer to sleep.
 * @now_ns: a monotonic clock in nanoseconds (consumer side only).
 * @aged: optional (NULL: the scan only counts, in aged_warnings); told
 *	once per group that iopfq_age_scan() finds too old; runs on the
 *	consumer side, with the same rule as @page_response.
 * @relax: optional; called while the consumer side waits for an answer in
 *	progress on another thread to finish (detach); NULL spins.
 */
struct iopfq_ops {
	void (*page_response)(void *ctx, const struct iopfq_response *resp);
	void (*synchronize)(void *ctx);
	void (*notify)(void *ctx);
	iopfq_u64 (*now_ns)(void *ctx);
	void (*aged)(void *ctx, const struct iopfq_aged *aged);
	void (*relax)(void *ctx);
};

/**
 * struct iopfq_config - sizes of a queue, fixed for its lifetime
 * @max_devices: devices attached at once, 1 .. IOPFQ_MAX_DEVICES
 * @credit_budget: sum of the PRI allocations of all attached devices,
 *	1 .. IOPFQ_MAX_CREDITS; every internal table is sized from it
 * @marker_credits: Stop Markers a device may have queued at once (0: default 2)
 * @cookie_gen_bits: generation bits in a cookie, 2 .. 32 - index bits
 *	(0: all the bits the slot index leaves). Small values are for tests.
 * @ring_start: first ring position; tests start near 2^32 (default 0)
 * @dev_gen_bits: generation bits in a device handle, 1 .. 20 (0: 20).
 *	Small values are for tests. A device-table slot issues generations
 *	1 .. 2^@dev_gen_bits - 1, one per attach; when its last generation is
 *	detached the slot is retired for the queue's lifetime, so that a
 *	detached handle is stale forever. The cost: a queue admits at most
 *	max_devices * (2^@dev_gen_bits - 1) attaches in its lifetime
 *	(max_devices * 1 048 575 by default: 1 048 575 for one device), after
 *	which iopfq_dev_attach() returns -ENOSPC.
 * @delivery: enum iopfq_delivery, the order iopfq_read() delivers complete
 *	groups in (0: IOPFQ_DELIVER_COMPLETION); iopfq_set_delivery() changes
 *	it later
 */
struct iopfq_config {
	iopfq_u32 max_devices;
	iopfq_u32 credit_budget;
	iopfq_u32 marker_credits;
	iopfq_u32 cookie_gen_bits;
	iopfq_u32 ring_start;
	iopfq_u32 dev_gen_bits;
	iopfq_u32 delivery;
};

/**
 * enum iopfq_delivery - which complete group iopfq_read() delivers next
 * @IOPFQ_DELIVER_COMPLETION: the oldest completion, whatever its device:
 *	iommufd's order (and VT-d PRQ's and AMD PPR's). A device with a large
 *	allocation that floods puts its whole backlog ahead of another
 *	device's single fault.
 * @IOPFQ_DELIVER_ROUND_ROBIN: the devices that have complete groups take
 *	turns, one group each (deficit round robin with a quantum of one
 *	group); a device's groups keep their completion order. A device that
 *	had no complete group and gets one takes the next turn, then the round
 *	goes on where it was: a device that faults now and then waits for no
 *	other device's backlog, and one that keeps groups queued waits for at
 *	most one group of each other device with complete groups (plus one per
 *	device that newly got one). Reads in completion order do not pass the
 *	turn; a group iopfq_read_restore() queues first takes the turn for its
 *	device.
 * Queueing and delivering a group cost O(1) under both, and no memory
 * beyond the device table.
 */
enum iopfq_delivery {
	IOPFQ_DELIVER_COMPLETION = 0,
	IOPFQ_DELIVER_ROUND_ROBIN = 1,
};

#define IOPFQ_MAX_DEVICES 4096u
#define IOPFQ_MAX_CREDITS (1u << 20)
#define IOPFQ_DEFAULT_MARKER_CREDITS 2u
#define IOPFQ_MAX_MARKER_CREDITS 64u
#define IOPFQ_DEV_GEN_BITS 20u /* handle = generation << 12 | slot index */
/* Alignment that iopfq_init()'s memory always satisfies: the largest cache line supported */
#define IOPFQ_MEM_ALIGN 128u

/**
 * struct iopfq_request - one page request as the IOMMU decoded it
 * @flags: IOPFQ_PGFAULT_FLAGS_* (PASID_VALID, LAST_PAGE)
 * @pasid: < 2^20 when PASID_VALID, else 0
 * @grpid: Page Request Group Index, < 512
 * @perm: IOPFQ_PGFAULT_PERM_*; LAST_PAGE with neither READ nor WRITE is a
 *	Stop Marker (which requires PASID_VALID)
 * @addr: faulting address
 */
struct iopfq_request {
	iopfq_u32 flags;
	iopfq_u32 pasid;
	iopfq_u32 grpid;
	iopfq_u32 perm;
	iopfq_u64 addr;
};

/*
 * IOPFQ_PRODUCER_STATS(X) - what each device's producers count, relaxed, in
 * the device's own table entry; iopfq_counters() sums them over the
 * attached devices and those gone. X(type, name), type u64.
 */
#define IOPFQ_PRODUCER_STATS(X)                                                \
	X(u64, markers_accepted)    /* Stop Markers taken */                   \
	X(u64, refused_over_credit) /* -EDQUOT: beyond the device's credits */ \
	X(u64, refused_markers)     /* -EDQUOT: beyond the marker credits */   \
	X(u64, refused_invalid)     /* -EINVAL: malformed request */           \
	X(u64, refused_failed)      /* -EIO: device in the failed state */

/*
 * IOPFQ_COUNTERS(X) - every field of struct iopfq_counters, in order, as
 * X(type, name) with type u64 or u32: the one list that the struct, the
 * kernel adapter's ioctl copy and the tests expand. A counter is added here
 * and nowhere else.
 */
#define IOPFQ_COUNTERS(X)                                                      \
	/* producer side */                                                    \
	X(u64, accepted)            /* page requests taken (a credit each) */  \
	IOPFQ_PRODUCER_STATS(X)                                                \
	X(u64, refused_nodev)       /* -ENODEV: unknown or detached handle */  \
	/* where accepted page requests are now (pages) */                     \
	X(u64, in_ring)                                                        \
	X(u64, partial)                                                        \
	X(u64, ready)                                                          \
	X(u64, delivered)           /* read, not yet answered */               \
	X(u64, answered)            /* answered through iopfq_respond() */     \
	X(u64, auto_answered)       /* answered INVALID by detach or flush */  \
	X(u64, discarded)           /* dropped without answer (marker, flush, detach) */ \
	X(u64, discarded_by_marker) /* part of discarded */                    \
	/* groups and cookies */                                               \
	X(u64, groups_delivered)                                               \
	X(u64, groups_answered)     /* by iopfq_respond() */                   \
	X(u64, groups_auto_answered)                                           \
	X(u64, bad_answers)         /* -EINVAL answers: unknown/stale/answered cookie or bad code */ \
	X(u64, aged_warnings)                                                  \
	X(u64, ring_claim_waits)    /* must be 0 while credits are honoured */ \
	X(u32, credits_attached)    /* sum of attached devices' credits */     \
	X(u32, devices_attached)

/**
 * struct iopfq_counters - a snapshot; exact at a quiescent point
 *
 * Conservation law (page requests; tests assert it at quiescent points):
 *   accepted == in_ring + partial + ready + delivered
 *             + answered + auto_answered + discarded
 */
struct iopfq_counters {
#define IOPFQ_COUNTER_FIELD_(type, name) iopfq_##type name;
	IOPFQ_COUNTERS(IOPFQ_COUNTER_FIELD_)
#undef IOPFQ_COUNTER_FIELD_
};

/* Derived sizes, for memsize planning and documentation */
struct iopfq_geometry {
	iopfq_u32 ring_slots;     /* power of two >= budget + max_devices * marker_credits */
	iopfq_u32 cookie_slots;   /* power of two >= 2 * budget */
	iopfq_u32 cookie_index_bits;
	iopfq_u32 cookie_gen_bits;
	iopfq_u32 group_slots;    /* == budget */
	iopfq_u32 page_slots;     /* == budget */
	iopfq_u32 hash_buckets;   /* power of two >= budget */
	iopfq_u32 dev_gen_bits;   /* generations a device slot issues before it retires */
};

/**
 * iopfq_config_geometry - what a configuration derives.
 * Ordering: none (touches no queue).
 * Context: any. Return: 0, or -EINVAL for a configuration out of range.
 */
int iopfq_config_geometry(const struct iopfq_config *cfg, struct iopfq_geometry *geo);

/**
 * iopfq_memsize - bytes of memory iopfq_init() needs for @cfg.
 * Ordering: none (touches no queue).
 * Context: any. Return: the size, or 0 if @cfg is invalid.
 */
iopfq_size_t iopfq_memsize(const struct iopfq_config *cfg);

/**
 * iopfq_init - build a queue in @mem.
 * @mem: iopfq_memsize(@cfg) bytes aligned to IOPFQ_MEM_ALIGN (the core
 *	checks its platform's cache line, which divides it); owned by the
 *	queue until the caller stops using it (there is no destroy: detach
 *	every device, then free the memory)
 * @ops: hooks, copied (a static const table is the usual one)
 * @ctx: passed to every hook
 * @qp: set to the queue (== @mem) on success, untouched on error
 * Ordering: none; publish the queue to other threads with your own
 * synchronization (a lock, thread creation) before they use it.
 * Context: process. Return: 0, or -EINVAL for a NULL @qp, a bad config,
 * bad alignment, a missing required hook or @memsize too small.
 */
int iopfq_init(void *mem, iopfq_size_t memsize, const struct iopfq_config *cfg,
	       const struct iopfq_ops *ops, void *ctx, struct iopfq **qp);

/**
 * iopfq_dev_attach - admit a device with @credits page requests outstanding
 * (its PRI Outstanding Page Request Allocation).
 * @dev_ctx: given back in every struct iopfq_response for this device
 * @handle: set to the device's handle for iopfq_report(); stale forever
 *	once the device is detached (see iopfq_dev_t)
 * Ordering: the attach happens before every report that finds the device
 * attached (D0 with P0); hand @handle to the reporting threads as you like.
 * Context: consumer side.
 * Return: 0; -EINVAL for 0 credits or a NULL @handle; -EEXIST if @dev_id is
 * attached; -ENOSPC if the credit budget is spent (admission control: what
 * keeps the ring from ever overflowing) or no device-table slot is free (a
 * slot retires after 2^dev_gen_bits - 1 attaches, 1 048 575 by default:
 * see iopfq_dev_t).
 */
int iopfq_dev_attach(struct iopfq *q, iopfq_u32 dev_id, iopfq_u32 credits, void *dev_ctx,
		 iopfq_dev_t *handle);

/**
 * iopfq_dev_detach - remove a device: refuse its new reports, wait (synchronize
 * hook) for reports in flight, answer INVALID to each of its complete groups,
 * queued or delivered, revoke their cookies, drop its partial pages, wait for
 * answers of its groups running on other threads, return its credits.
 * Ordering: every report of the device that began before the call has
 * returned (synchronize), and every answer of it has returned its credits
 * and sent its response (X6), before the call returns: their effects
 * happen before it, and dev_ctx is no longer used by the queue.
 * Context: consumer side; sleeps (synchronize).
 * Return: 0, or -ENODEV for an unknown or stale handle.
 */
int iopfq_dev_detach(struct iopfq *q, iopfq_dev_t dev);

/* Look up an attached device's handle by dev_id. Ordering: none.
 * Context: consumer side. Return: 0; -ENOENT; -EINVAL for a NULL @handle. */
int iopfq_dev_lookup(struct iopfq *q, iopfq_u32 dev_id, iopfq_dev_t *handle);

/* iopfq_dev_set_flags() flags */
#define IOPFQ_DEV_FAILED (1u << 0) /* PRI disabled or Response Failure sent: refuse reports */

/**
 * iopfq_dev_set_flags - set a device's flags: IOPFQ_DEV_FAILED when the
 * platform sent Response Failure to the device or found its PRI disabled,
 * 0 when it re-enabled it. While failed, its reports are refused with -EIO
 * and counted; its queued groups stay until answered, flushed or detached.
 * Ordering: reports that see the new state (D1 with P0) act on it; a
 * report already past its check of the state may still be accepted.
 * Context: consumer side. Return: 0; -ENODEV; -EINVAL for an unknown flag.
 */
int iopfq_dev_set_flags(struct iopfq *q, iopfq_dev_t dev, iopfq_u32 flags);

/**
 * iopfq_report - queue one page request or Stop Marker (producer side).
 * @answer: set to the response the hardware convention calls for when the
 *	request is refused (IOPFQ_HW_SUCCESS for an over-credit last page,
 *	so the device retries, as VT-d does on PRQ overflow), else IOPFQ_HW_NONE.
 *	May be NULL.
 * Context: any, including hard IRQ. Wait-free: one credit fetch-add, one
 * ring fetch-add, no lock, no allocation, never waits for another producer.
 * Must run inside a read-side section of ops->synchronize (rcu_read_lock(),
 * which hard-IRQ and preempt-disabled regions already are in the kernel).
 * Ordering: what the caller wrote before an accepted report happens before
 * the consumer's drain of it (R1 with C1), so before the iopfq_read() that
 * delivers it; the call ends with a full fence (W1) once the request is
 * published. A refused report orders nothing.
 * Return: 0; -ENODEV unknown or detached handle; -EIO device failed;
 * -EINVAL bad flags, perm, PASID or group index, or a Stop Marker without
 * PASID; -EDQUOT beyond the device's credits (or marker credits).
 */
int iopfq_report(struct iopfq *q, iopfq_dev_t dev, const struct iopfq_request *req,
		 iopfq_u32 *answer);

/**
 * iopfq_read - move whole complete groups, in the order of the queue's
 * delivery policy (enum iopfq_delivery; by default oldest completion
 * first), into @recs, one cookie per group written into each of its records.
 * A group that does not fit stays queued for the next read. The call first
 * drains the ring: the requests reported before it began, and at most the
 * ones claimed by the time it finds its second request; a later one waits
 * for the next consumer-side call (as in every call below that drains).
 * Ordering: each delivered request's reporter's writes before its report
 * happen before the call returns (C1). The slot of each cookie is
 * published to its answerer (K1 with K2).
 * Context: consumer side. Never blocks.
 * Return: records written (0 if there is none, or the first group does not
 * fit: see iopfq_next_group_size()); -EINVAL for NULL @recs with @max > 0.
 */
int iopfq_read(struct iopfq *q, struct iopfq_hwpt_pgfault *recs, iopfq_u32 max);

/**
 * iopfq_read_restore - undo the delivery of groups whose records a read
 * could not hand on (a copy_to_user() that failed part-way), as iommufd
 * does: each group's cookie is revoked (an answer with it is -EINVAL from
 * now on) and the group is queued again ahead of every other complete
 * group, in the order of @recs (under IOPFQ_DELIVER_ROUND_ROBIN: ahead of
 * its device's other groups, and the first group's device takes the turn);
 * the next iopfq_read() delivers it with a new cookie. A group whose
 * cookie an answer won meanwhile (its writer saw the part of the buffer
 * that did arrive) is answered and is not queued.
 * @recs: whole groups, each record as iopfq_read() wrote it, of groups
 *	delivered and neither answered, revoked nor restored since
 * @n: records in @recs
 * Ordering: the revoke is the compare-and-swap an answer uses (K2): of it
 * and a racing answer exactly one wins.
 * Context: consumer side.
 * Return: groups queued again (>= 0); -EINVAL for a NULL @q, a NULL @recs
 * with @n > 0, or records that are not whole delivered groups with live
 * cookies (nothing changed).
 */
int iopfq_read_restore(struct iopfq *q, const struct iopfq_hwpt_pgfault *recs, iopfq_u32 n);

/* Records in the next complete group (0 if none). Ordering: as iopfq_read()
 * for the requests it drains (C1). Context: consumer side. */
int iopfq_next_group_size(struct iopfq *q);

/**
 * iopfq_set_delivery - deliver complete groups in the order of @policy
 * (enum iopfq_delivery) from now on, the groups already queued included.
 * Ordering: none. Context: consumer side. O(1).
 * Return: 0; -EINVAL for a NULL @q or an unknown @policy (nothing changed).
 */
int iopfq_set_delivery(struct iopfq *q, iopfq_u32 policy);

/**
 * iopfq_respond - answer delivered groups by cookie, in order.
 * Each answer: code must be SUCCESS or INVALID and the cookie must name a
 * delivered, unanswered, unrevoked group; its claim is one compare-and-swap,
 * so of two racing answers to one cookie exactly one wins. The winner frees
 * the response slot, gives the group's credits back to its device, then calls
 * ops->page_response (credits first: a device that reissues the moment it
 * sees the response must find them back).
 * Ordering: a successful answer's compare-and-swap (K2) acquires the
 * read that issued the cookie (K1): the reader's writes before that
 * iopfq_read() happen before ops->page_response runs. The credits are back
 * (X1) before page_response runs, and a flush or detach that returns
 * afterwards has waited for this call's page_response (X4 with X6).
 * Context: any thread; many at once. Does not sleep unless page_response does.
 * Return: the number of answers consumed if at least one was; else -EINVAL
 * (bad code or cookie; nothing changed).
 */
int iopfq_respond(struct iopfq *q, const struct iopfq_hwpt_page_response *resp,
		  iopfq_u32 n);

/* iopfq_flush() flags */
#define IOPFQ_FLUSH_NO_RESPONSE (1u << 0) /* Stop Marker path: the device waits for nothing */
#define IOPFQ_FLUSH_PASID_VALID (1u << 1) /* @pasid names a PASID; without it: no PASID */

/**
 * iopfq_flush - remove every trace of (@dev, @pasid): waits (synchronize
 * hook) for reports in flight, drains the ring, drops partial pages, answers
 * INVALID to complete and delivered groups (or answers nothing with
 * IOPFQ_FLUSH_NO_RESPONSE), revokes their cookies and returns their credits.
 * An answer to one of them already running on another thread is waited for.
 * @pasid: the PASID with IOPFQ_FLUSH_PASID_VALID; 0 without it (the
 *	device's requests without PASID)
 * @flags: IOPFQ_FLUSH_PASID_VALID, IOPFQ_FLUSH_NO_RESPONSE
 * Ordering: as iopfq_dev_detach(), for the reports and answers of (@dev,
 * @pasid).
 * Context: consumer side; sleeps.
 * Return: 0; -ENODEV; -EINVAL for a bad PASID or flag.
 */
int iopfq_flush(struct iopfq *q, iopfq_dev_t dev, iopfq_u32 pasid, iopfq_u32 flags);

/**
 * iopfq_age_scan - report through ops->aged, once per group, every group
 * (partial, ready or delivered) pending for at least @threshold_ns. Groups
 * are never completed on age: PCIe has no page-request timeout.
 * Ordering: the call first drains the ring, as iopfq_read() does: each
 * drained request's reporter's writes before its report happen before the
 * scan and its ops->aged calls (C1). It orders nothing for delivered groups'
 * answers: a group answered on another thread meanwhile may still be
 * reported.
 * Context: consumer side. Return: the number of groups newly reported.
 */
int iopfq_age_scan(struct iopfq *q, iopfq_u64 threshold_ns);

/**
 * iopfq_prepare_sleep - the consumer is about to sleep. Announces it, then
 * re-checks the queue (Dekker: full fence between the announcement and the
 * check; producers fence between publish and their check of it).
 * Return: 1 if the consumer may sleep (ops->notify will be called on the
 * next report), 0 if work arrived: do not sleep.
 * Ordering: a full fence between the announcement and the re-check (W2,
 * with W1): a report that the re-check missed sees the announcement.
 * Context: consumer side.
 */
int iopfq_prepare_sleep(struct iopfq *q);

/* The consumer woke up (or decided not to sleep). Ordering: none (a
 * relaxed store of the announcement). Context: consumer side. */
void iopfq_finish_sleep(struct iopfq *q);

/**
 * iopfq_poll_ready - drain the ring and tell whether a complete group is
 * queued (what makes a fault FD readable). Ordering: as iopfq_read() for
 * the requests it drains (C1). Context: consumer side.
 */
int iopfq_poll_ready(struct iopfq *q);

/* Context: any. Exact at a quiescent point. Ordering: none (relaxed loads). */
void iopfq_counters(struct iopfq *q, struct iopfq_counters *c);

#ifdef __cplusplus
}
#endif

#endif /* IOPFQ_IOPFQ_H */
