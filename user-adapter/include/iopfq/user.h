/* SPDX-License-Identifier: MIT */
/*
 * iopfq/user.h - libiopfq, the Linux userspace adapter: a fault FD object
 * with the read()/write()/poll() semantics of iommufd's fault FD (Linux
 * 6.11+, drivers/iommu/iommufd/eventq.c), built on the wait-free queue of
 * iopfq/iopfq.h.
 *
 *   struct iopfq_fault *f;
 *   iopfq_fault_create(&cfg, &ops, &f);            ops.page_response gets the answers
 *   iopfq_fault_dev_attach(f, dev_id, credits, dev_ctx, &dev);
 *   iopfq_fault_report(f, dev, &req, &answer);      any thread, wait-free, no lock
 *   epoll on iopfq_fault_fd(f);                    readable iff a whole group is queued
 *   n = iopfq_fault_read(f, buf, sizeof(buf));     40-byte iommu_hwpt_pgfault records
 *   iopfq_fault_write(f, resp, n * 8);             8-byte iommu_hwpt_page_response
 *
 * A VMM's code for iommufd's fault FD works on this object with only its
 * read(fd, ...) and write(fd, ...) calls replaced (examples/vmm_loop.c).
 *
 * Return convention: like a kernel file operation, every call returns a
 * negative errno value on error (-ESPIPE, -EINVAL, ...; never -1 with
 * errno set) and a call that fails changes no state. errno is not touched.
 *
 * Who may call what, concurrently (the synchronization table):
 *
 *   iopfq_fault_report()          any thread, any number at once; wait-free
 *                                 in the core; takes no lock unless it must
 *                                 wake a sleeping consumer (then a trylock,
 *                                 never a wait: see iopfq_fault_report())
 *   iopfq_fault_write()           any thread, any number at once; no lock
 *   iopfq_fault_counters(),       any thread; no lock
 *   iopfq_fault_fd()
 *   iopfq_fault_read(),           "consumer side": serialized by a mutex
 *   _dev_attach(), _dev_detach(), inside the object; any thread may call
 *   _dev_set_flags(),             them, they take turns
 *   _dev_lookup(), _flush(),
 *   _age_scan()
 *   iopfq_fault_destroy()         alone: no other call on the object may
 *                                 run or start
 *
 * Ordering: each function's "Ordering:" line says what its caller gets,
 * what happens before what (the edge labels, R1, K2, ..., are those of
 * docs/memory-ordering.md and of iopfq/iopfq.h); "none" means the call
 * orders nothing for its caller. The consumer-side calls take the object's
 * mutex, so each of them happens before every consumer-side call that
 * takes the mutex after it, on any thread; the other calls take no lock
 * and get only what their own line says.
 *
 * Callbacks (struct iopfq_fault_ops) and re-entry: page_response runs on
 * the thread that answered (a iopfq_fault_write() caller, holding no lock;
 * or the caller of detach, flush or destroy, holding the consumer mutex);
 * aged runs on the iopfq_fault_age_scan() caller, holding the mutex. From
 * any of them, on any of these paths, the callback may call
 * iopfq_fault_report(), iopfq_fault_write(), iopfq_fault_counters() and
 * iopfq_fault_fd() of the same object, and anything of another object. A
 * consumer-side call on the same object (read, pread, next_group_size,
 * dev_attach, dev_detach, flush, dev_set_flags, dev_lookup, age_scan) returns -EDEADLK
 * and changes nothing: each thread keeps a mark of the objects whose
 * callback it is inside, and every consumer-side call checks it (after its
 * argument checks) before it takes the mutex. Without the mark, a detach or
 * flush of the answered device from a write's callback would wait forever
 * for the answer it runs inside. iopfq_fault_destroy() from a callback of
 * the object it destroys is a bug: it warns (iopfq_warnings()) and does
 * nothing.
 *
 * Threads that report (RCU): iopfq_fault_report() runs the core's report
 * inside a liburcu (urcu-memb flavour) read-side section, and detach and
 * flush wait for reports in flight with synchronize_rcu(), exactly as the
 * kernel adapter does with kernel RCU. urcu-memb requires every reader
 * thread to be registered. iopfq_fault_report() registers the calling thread
 * lazily on its first call (a thread-local flag test per call afterwards)
 * and unregisters it when the thread exits (a pthread key destructor). The
 * first report of a thread therefore takes liburcu's registry mutex once;
 * call iopfq_thread_register() beforehand to keep that off a latency-critical
 * path. A thread the application itself registers with urcu-memb before its
 * first report is left to the application (iopfq sees it registered and
 * neither registers nor unregisters it); a thread must not call
 * urcu_memb_register_thread() after iopfq registered it (liburcu would abort
 * on the double registration): call iopfq_thread_unregister() first.
 */
#ifndef IOPFQ_USER_H
#define IOPFQ_USER_H

#include <sys/types.h>

#include <iopfq/iopfq.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(IOPFQ_BUILDING_LIBRARY)
#define IOPFQ_API __attribute__((visibility("default")))
#else
#define IOPFQ_API
#endif

/* Record sizes of the fault FD: what read() and write() sizes must be multiples of */
#define IOPFQ_FAULT_RECORD_SIZE ((size_t)sizeof(struct iopfq_hwpt_pgfault))       /* 40 */
#define IOPFQ_FAULT_RESPONSE_SIZE ((size_t)sizeof(struct iopfq_hwpt_page_response)) /* 8 */

struct iopfq_fault;

/**
 * struct iopfq_fault_ops - what the application hears back; every member
 * is optional (NULL: not told)
 * @page_response: one Page Group Response for the device (a simulator
 *	returns @resp->npages credits to @resp->dev_ctx's device model and lets
 *	it retry or abort the access). Called once per answered group, on the
 *	thread that answered it: a iopfq_fault_write() caller (origin USER), or
 *	the consumer-side caller of detach/flush/destroy (origin DETACH or
 *	FLUSH, code INVALID). A consumer-side call on this object from it
 *	returns -EDEADLK (see "Callbacks and re-entry" above).
 * @aged: a group pending longer than the iopfq_fault_age_scan() threshold;
 *	called once per group, on the scanning thread, under the consumer mutex;
 *	the same re-entry rule.
 * @arg: passed to both
 */
struct iopfq_fault_ops {
	void (*page_response)(void *arg, const struct iopfq_response *resp);
	void (*aged)(void *arg, const struct iopfq_aged *aged);
	void *arg;
};

/**
 * struct iopfq_fault_stats - what the adapter itself did (not the queue)
 * @wakeups: times the fd went from not readable to readable
 * @sleeps: times it went from readable to not readable
 * @kicks: producer reports that found the consumer asleep and woke it
 *	(the core's notify hook)
 * @kick_syncs: readiness re-evaluations done by a producer (its trylock won)
 */
struct iopfq_fault_stats {
	iopfq_u64 wakeups;
	iopfq_u64 sleeps;
	iopfq_u64 kicks;
	iopfq_u64 kick_syncs;
};

/**
 * iopfq_fault_create - allocate a queue sized by @cfg and its fault FD
 * @cfg: sizes (struct iopfq_config): max_devices and credit_budget are
 *	required, the rest may be 0
 * @ops: callbacks, copied; may be NULL
 * @faultp: set to the new object on success, untouched on error
 *
 * All memory the queue ever uses is allocated here (the queue, a bounce
 * buffer of credit_budget records for unaligned read buffers, and the
 * device table). The fd starts not readable.
 *
 * Ordering: none; hand the object to other threads with your own
 * synchronization (a lock, thread creation) before they use it.
 * Context: process; allocates, opens an eventfd.
 * Return: 0; -EINVAL for a NULL @cfg or @faultp, or a configuration
 * iopfq_config_geometry() refuses; -ENOMEM; -EMFILE or -ENFILE from eventfd().
 */
IOPFQ_API int iopfq_fault_create(const struct iopfq_config *cfg, const struct iopfq_fault_ops *ops,
				 struct iopfq_fault **faultp);

/**
 * iopfq_fault_destroy - detach every device (their queued and delivered
 * groups are answered INVALID through @ops->page_response, like a device
 * detach in iommufd), close the fd and free everything.
 * @f: may be NULL (nothing happens)
 * Ordering: the caller must have ordered every other call on @f before
 * this one (they have returned, and the caller knows it through its own
 * synchronization); the page_response calls it makes run on its thread
 * before it returns.
 * Context: process; sleeps (synchronize_rcu). No other call on @f may run
 * or start, and no thread may report to it any more.
 */
IOPFQ_API void iopfq_fault_destroy(struct iopfq_fault *f);

/**
 * iopfq_fault_fd - the pollable file descriptor of @f (an eventfd).
 *
 * Readable (EPOLLIN) exactly while at least one complete group is queued
 * and not yet read; never readable for partial groups. Writable
 * (EPOLLOUT) always. Use it with poll/select/epoll only: do not read,
 * write or close it (the object owns its counter). Edge-triggered epoll
 * reports the transition to readable: read until iopfq_fault_read()
 * returns 0, as epoll(7) asks.
 *
 * Ordering: none (the fd is fixed at create). Readiness itself follows
 * iopfq_fault_report() and the consumer-side calls, as they say.
 * Context: any. Return: the fd (>= 0), or -EINVAL for a NULL @f.
 */
IOPFQ_API int iopfq_fault_fd(const struct iopfq_fault *f);

/**
 * iopfq_fault_read - read whole groups as struct iopfq_hwpt_pgfault records,
 * the read() of iommufd's fault FD
 * @buf: @count bytes; any alignment
 * @count: a multiple of IOPFQ_FAULT_RECORD_SIZE (40)
 *
 * Delivers complete groups in the order of the delivery policy given to
 * iopfq_fault_create() (struct iopfq_config.delivery; by default oldest
 * completion first), one new cookie per group (the same in each of its
 * records); a group that does not fit in what is left of @buf stays queued
 * for the next read. Never blocks.
 * After it returns, the fd is readable iff a complete group is still queued.
 *
 * Ordering: what each delivered request's reporter wrote before its
 * iopfq_fault_report() happens before this call returns (R1 with C1). What
 * the caller wrote before this call happens before the page_response of
 * the iopfq_fault_write() that answers one of the cookies it returned,
 * whatever thread writes it (K1 with K2).
 * Context: consumer side (takes the object's mutex).
 * Return: bytes read, a multiple of 40; 0 when nothing is queued, when
 * @count is 0, or when the first group does not fit (see
 * iopfq_fault_next_group_size()); -ESPIPE if @count is not a multiple of 40;
 * -EFAULT for a NULL @buf with @count > 0; -EINVAL for a NULL @f; -EDEADLK
 * from a callback of @f (any path: see "Callbacks and re-entry").
 */
IOPFQ_API ssize_t iopfq_fault_read(struct iopfq_fault *f, void *buf, size_t count);

/**
 * iopfq_fault_pread - iopfq_fault_read() with a file offset, as pread(2)
 * passes it: a positive @offset is -ESPIPE (the fault FD is a stream), a
 * negative one -EINVAL (refused by pread(2) itself before the file sees it).
 * Ordering, Context and Return: as iopfq_fault_read().
 */
IOPFQ_API ssize_t iopfq_fault_pread(struct iopfq_fault *f, void *buf, size_t count, off_t offset);

/**
 * iopfq_fault_write - answer delivered groups, the write() of iommufd's
 * fault FD
 * @buf: @count bytes of struct iopfq_hwpt_page_response; any alignment
 * @count: a multiple of IOPFQ_FAULT_RESPONSE_SIZE (8)
 *
 * Answers in order. Each answer's code must be IOPFQ_PAGE_RESP_SUCCESS or
 * IOPFQ_PAGE_RESP_INVALID and its cookie must name a delivered group not yet
 * answered, flushed or detached; processing stops at the first one that is
 * not. Of two threads answering one cookie exactly one wins. The winner
 * returns the group's credits to its device, then calls ops->page_response.
 *
 * Ordering: for each answer consumed, what the reader wrote before the
 * iopfq_fault_read() that returned its cookie happens before page_response
 * runs (K1 with K2); the group's credits are back before page_response runs
 * (X1), so a report of the device after page_response finds them; and an
 * iopfq_fault_dev_detach() or iopfq_fault_flush() of the group's device
 * that returns after this call consumed the answer has waited for its
 * page_response to return (X4 with X6). Nothing else: the call takes no
 * lock.
 * Context: any thread, any number at once; takes no lock; does not sleep
 * unless page_response does.
 * Return: bytes consumed (a multiple of 8) if at least one answer was; else
 * 0 for @count 0; -ESPIPE if @count is not a multiple of 8; -EFAULT for a
 * NULL @buf with @count > 0; -EINVAL for a NULL @f, or when the first answer
 * has a bad code or a cookie that is unknown, stale, forged or already
 * answered (nothing changed).
 */
IOPFQ_API ssize_t iopfq_fault_write(struct iopfq_fault *f, const void *buf, size_t count);

/**
 * iopfq_fault_pwrite - iopfq_fault_write() with a file offset: positive is
 * -ESPIPE, negative -EINVAL. Ordering, Context and Return: as
 * iopfq_fault_write().
 */
IOPFQ_API ssize_t iopfq_fault_pwrite(struct iopfq_fault *f, const void *buf, size_t count,
				     off_t offset);

/**
 * iopfq_fault_next_group_size - records in the oldest complete group (what a
 * read needs room for), 0 if none.
 * Ordering: as iopfq_fault_read() for the requests it takes out of the
 * ring (R1 with C1).
 * Context: consumer side. Return: the record count, or -EINVAL for a NULL
 * @f, -EDEADLK from a callback.
 */
IOPFQ_API int iopfq_fault_next_group_size(struct iopfq_fault *f);

/**
 * iopfq_fault_report - queue one page request or Stop Marker (what the
 * IOMMU's page-request handler, or a device simulator, calls)
 * @dev: handle from iopfq_fault_dev_attach()
 * @req: the request (see struct iopfq_request for what is valid)
 * @answer: may be NULL; set to the response the hardware convention calls
 *	for when the request is refused (IOPFQ_HW_SUCCESS for an over-credit
 *	last page, so the device retries), else IOPFQ_HW_NONE
 *
 * Runs iopfq_report() inside rcu_read_lock()/rcu_read_unlock() (urcu-memb),
 * registering the calling thread with liburcu on its first call (see the
 * header comment). If the consumer was asleep (the fd not readable) and this
 * report is the first since, it then re-evaluates readiness for the consumer:
 * with a pthread_mutex_trylock() of the consumer mutex, never a wait; if the
 * mutex is busy, its holder does it on unlock. So a report that completes a
 * group makes the fd readable before it returns or before the current
 * consumer-side call returns, and one that does not leaves it not readable.
 *
 * Ordering: what the caller wrote before an accepted report happens before
 * the return of the iopfq_fault_read() that delivers it (R1 with C1), and
 * the report is inside an RCU read-side section, so a successful
 * iopfq_fault_dev_detach() or iopfq_fault_flush() that starts after it
 * began returns only after it returned (their synchronize_rcu). A refused
 * report orders nothing else.
 * Context: any thread (not a signal handler); many at once. Wait-free when
 * the consumer is awake; never blocks.
 * Return: 0; -ENODEV unknown or detached handle; -EIO device failed;
 * -EINVAL bad request or NULL @f/@req; -EDQUOT beyond the device's credits
 * (or marker credits); -ENOMEM if liburcu registration is impossible.
 */
IOPFQ_API int iopfq_fault_report(struct iopfq_fault *f, iopfq_dev_t dev,
				 const struct iopfq_request *req, iopfq_u32 *answer);

/**
 * iopfq_fault_dev_attach - admit a device to the fault FD
 * @dev_id: the id its records carry (unique on this fault FD)
 * @credits: its PRI Outstanding Page Request Allocation
 * @dev_ctx: given back in every struct iopfq_response for it
 * @handle: set to its handle for report, detach, flush and set_flags. A
 *	detached handle is stale forever (-ENODEV from then on): each slot of
 *	the device table issues generations 1 .. 2^dev_gen_bits - 1 (struct
 *	iopfq_config; 1 048 575 by default), one per attach, and is retired
 *	once its last is detached, so an object admits at most max_devices *
 *	(2^dev_gen_bits - 1) attaches in its lifetime (max_devices * 1 048 575
 *	by default); after that, -ENOSPC.
 * Ordering: the attach happens before every report that finds the device
 * attached (D0 with P0); hand @handle to the reporting threads as you like.
 * Context: consumer side.
 * Return: 0; -EINVAL for 0 credits or NULL @f/@handle; -EEXIST if @dev_id is
 * attached; -ENOSPC if the credit budget is spent or no slot of the device
 * table is free (slots retire, above); -EDEADLK from a callback.
 */
IOPFQ_API int iopfq_fault_dev_attach(struct iopfq_fault *f, iopfq_u32 dev_id, iopfq_u32 credits,
				     void *dev_ctx, iopfq_dev_t *handle);

/**
 * iopfq_fault_dev_detach - remove a device: its new reports are refused, reports
 * in flight are waited for (synchronize_rcu), each of its complete groups,
 * queued or delivered, is answered INVALID (origin DETACH), its cookies are
 * revoked (a late write of one is -EINVAL), its partial pages are dropped
 * and its credits returned. After it returns no record of the device is
 * ever read, and @dev is stale forever (see iopfq_fault_dev_attach()).
 * Ordering: every report of the device that began before the call has
 * returned (synchronize_rcu), and every answer of it has returned its
 * credits and its page_response (X6), before the call returns: their
 * effects happen before it, and the device's dev_ctx is no longer used by
 * the object.
 * Context: consumer side; sleeps.
 * Return: 0; -ENODEV unknown or stale handle; -EINVAL NULL @f; -EDEADLK.
 */
IOPFQ_API int iopfq_fault_dev_detach(struct iopfq_fault *f, iopfq_dev_t dev);

/**
 * iopfq_fault_flush - remove every trace of (@dev, @pasid) (iopfq_flush()):
 * after it returns no record of it is ever read and its cookies are revoked.
 * @pasid: the PASID with IOPFQ_FLUSH_PASID_VALID; 0 without it (the
 *	device's requests without PASID)
 * @flags: IOPFQ_FLUSH_PASID_VALID, and IOPFQ_FLUSH_NO_RESPONSE (answer
 *	nothing) or not (answer INVALID to complete groups)
 * Ordering: as iopfq_fault_dev_detach(), for the reports and answers of
 * (@dev, @pasid).
 * Context: consumer side; sleeps.
 * Return: 0; -ENODEV; -EINVAL bad PASID or flags, NULL @f; -EDEADLK.
 */
IOPFQ_API int iopfq_fault_flush(struct iopfq_fault *f, iopfq_dev_t dev, iopfq_u32 pasid,
				iopfq_u32 flags);

/**
 * iopfq_fault_dev_set_flags - mark a device failed (IOPFQ_DEV_FAILED: its
 * reports get -EIO) or healthy again (0) (iopfq_dev_set_flags()).
 * Ordering: reports that see the new state (D1 with P0) act on it; a
 * report already past its check of the state may still be accepted.
 * Context: consumer side. Return: 0; -ENODEV; -EINVAL unknown flag or NULL
 * @f; -EDEADLK.
 */
IOPFQ_API int iopfq_fault_dev_set_flags(struct iopfq_fault *f, iopfq_dev_t dev, iopfq_u32 flags);

/**
 * iopfq_fault_dev_lookup - the handle of attached @dev_id.
 * Ordering: none beyond the mutex (the attaches and detaches that took it
 * before are seen).
 * Context: consumer side.
 * Return: 0; -ENOENT; -EINVAL NULL @f/@handle; -EDEADLK.
 */
IOPFQ_API int iopfq_fault_dev_lookup(struct iopfq_fault *f, iopfq_u32 dev_id,
				     iopfq_dev_t *handle);

/**
 * iopfq_fault_age_scan - call ops->aged once for each group (partial, queued
 * or delivered) pending for at least @threshold_ns on CLOCK_MONOTONIC.
 * Nothing is completed on age (PCIe has no page-request timeout).
 * Ordering: as iopfq_fault_read() for the requests it takes out of the
 * ring (R1 with C1), which happens before its aged calls. None with
 * answers: a group answered on another thread meanwhile may still be
 * reported.
 * Context: consumer side.
 * Return: groups newly reported (>= 0); -EINVAL NULL @f; -EDEADLK.
 */
IOPFQ_API int iopfq_fault_age_scan(struct iopfq_fault *f, iopfq_u64 threshold_ns);

/**
 * iopfq_fault_counters - the queue's counters (struct iopfq_counters: exact
 * at a quiescent point) and, if @stats is not NULL, the adapter's own.
 * Ordering: none (relaxed loads).
 * Context: any thread; no lock.
 * Return: 0, or -EINVAL for a NULL @f or @c.
 */
IOPFQ_API int iopfq_fault_counters(struct iopfq_fault *f, struct iopfq_counters *c,
				   struct iopfq_fault_stats *stats);

/**
 * iopfq_thread_register - register the calling thread with liburcu
 * (urcu-memb) for iopfq_fault_report(), if neither iopfq nor the application
 * did already. Optional: the first report does it too.
 * Ordering: none.
 * Context: process; takes liburcu's registry mutex; allocates nothing.
 * Return: 0.
 */
IOPFQ_API int iopfq_thread_register(void);

/**
 * iopfq_thread_unregister - undo iopfq's registration of the calling thread
 * (nothing if iopfq did not register it). Thread exit does it
 * automatically; call it before urcu_memb_register_thread() or before a
 * thread that reported stops being a thread (e.g. in a pool teardown).
 * Ordering: none.
 * Context: process; must not be inside iopfq_fault_report().
 */
IOPFQ_API void iopfq_thread_unregister(void);

/**
 * iopfq_warnings - broken core invariants seen by this process
 * (IOPFQ_WARN_ON); each is also printed to stderr. Never aborts.
 * Ordering: none (a relaxed count).
 * Context: any. Return: the count.
 */
IOPFQ_API unsigned long iopfq_warnings(void);

/* Record-counted conveniences over the byte-based calls (liburing style). */

/* Read up to @max whole-group records into @recs (iopfq_fault_read()).
 * Ordering: as iopfq_fault_read(). Context: consumer side.
 * Return: records read, or -errno. */
static inline int iopfq_fault_read_records(struct iopfq_fault *f, struct iopfq_hwpt_pgfault *recs,
					   unsigned int max)
{
	ssize_t n = iopfq_fault_read(f, recs, (size_t)max * IOPFQ_FAULT_RECORD_SIZE);

	return n < 0 ? (int)n : (int)((size_t)n / IOPFQ_FAULT_RECORD_SIZE);
}

/* Write @n answers (iopfq_fault_write()).
 * Ordering: as iopfq_fault_write(). Context: any thread; no lock.
 * Return: answers consumed, or -errno. */
static inline int iopfq_fault_write_responses(struct iopfq_fault *f,
					      const struct iopfq_hwpt_page_response *resp,
					      unsigned int n)
{
	ssize_t done = iopfq_fault_write(f, resp, (size_t)n * IOPFQ_FAULT_RESPONSE_SIZE);

	return done < 0 ? (int)done : (int)((size_t)done / IOPFQ_FAULT_RESPONSE_SIZE);
}

#ifdef __cplusplus
}
#endif

#endif /* IOPFQ_USER_H */
