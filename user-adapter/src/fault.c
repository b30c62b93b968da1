/* SPDX-License-Identifier: MIT */
/*
 * fault.c - the fault FD object of libiopfq: the core's hooks for Linux
 * userspace (liburcu urcu-memb for producer quiescence, CLOCK_MONOTONIC, an
 * eventfd for the consumer), iommufd's read()/write() byte semantics, and
 * the consumer-side mutex.
 *
 * May touch: the object, its queue memory, its eventfd, liburcu's
 * per-thread registration. Nothing here runs on the producer fast path but
 * iopfq_fault_report() (a TLS test, rcu_read_lock, the core's report,
 * rcu_read_unlock, one relaxed load).
 *
 * Readiness: the fd is an eventfd whose counter is 1 exactly while
 * f->readable is set, and both change only under f->lock. Producers never
 * touch the eventfd. This is what makes readiness exact (never readable for
 * a partial group, not readable after a read that emptied the queue) and
 * leaves no reader-drains-while-producer-writes race on the counter.
 *
 * Wake-up (no lost wake-up), in three steps:
 *
 *   1. readiness_sync(), under the lock, either finds a complete group
 *      (fd readable, consumer not armed) or arms the core with
 *      iopfq_prepare_sleep() (fd not readable). The core's Dekker pair
 *      W1/W2 guarantees that a report publishing after the arm's re-check
 *      sees the announcement and calls the notify hook, exactly once per
 *      arming (its xchg disarms).
 *   2. The notify hook only sets f->kick (F1, seq_cst store). After
 *      rcu_read_unlock the reporting thread sees it and runs kick(): full
 *      fence (F2), then pthread_mutex_trylock().
 *   3. If the trylock wins, the producer runs consumer_unlock() itself,
 *      which re-evaluates readiness. If it fails, a holder H exists; H's
 *      consumer_unlock() clears f->kick (F3, xchg) and re-evaluates
 *      *after* that, then unlocks, fences (F4) and looks at f->kick again.
 *      Store-buffering on (kick, lock word) with fences F2/F4: either our
 *      trylock saw H's unlock (then we, or whoever took the lock after H,
 *      re-evaluate), or H's load after F4 sees our kick and H loops to take
 *      the lock again. A kick is therefore always followed by a
 *      readiness_sync() that starts after the kick was set, and that one
 *      sees the report's entry (the entry was published before notify; F3
 *      acquires F1).
 *
 * The edges (labels F1-F4, unique in the repository; docs/memory-ordering.md
 * lists them with the core's):
 *   F1  store of kick (seq_cst); establishes a synchronizing edge with the
 *       exchange of kick at F3.
 *   F2  full fence; establishes a synchronizing edge with the full fence
 *       at F4.
 *   F3  exchange of kick (acq_rel); establishes a synchronizing edge with
 *       the store of kick at F1.
 *   F4  full fence; establishes a synchronizing edge with the full fence
 *       at F2.
 *
 * Every consumer-side call ends in consumer_unlock(), so any state change
 * of theirs (read emptied the queue, detach removed the ready groups) is
 * reflected in the fd before the call returns.
 */
#define _GNU_SOURCE
#define _LGPL_SOURCE /* inline rcu_read_lock/unlock on the report path */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#define IOPFQ_BUILDING_LIBRARY
#include <iopfq/user.h>

#include "iopfq_platform.h"

#define CACHELINE 64
/* iopfq_read()/iopfq_respond() take u32 counts; stay far below */
#define MAX_RECORDS_PER_CALL (0x7fffffffu / 40u)
#define MAX_RESPONSES_PER_CALL (0x7fffffffu / 8u)

struct iopfq_fault {
	/* read-only after create */
	struct iopfq *q;
	struct iopfq_fault_ops uops;
	int efd;
	iopfq_u32 max_devices;
	iopfq_u32 bounce_records;

	/* consumer side: under lock */
	pthread_mutex_t lock;
	int readable;                       /* the eventfd counter is 1 */
	iopfq_dev_t *handles;               /* attached devices, by slot index */
	struct iopfq_hwpt_pgfault *bounce;  /* for unaligned read buffers */

	/* written by producers */
	int kick __attribute__((aligned(CACHELINE)));
	iopfq_u64 kicks;
	iopfq_u64 kick_syncs;

	/* written under lock, read by iopfq_fault_counters() */
	iopfq_u64 wakeups __attribute__((aligned(CACHELINE)));
	iopfq_u64 sleeps;
};

/* ---------------------------------------------------------------------- */
/* liburcu registration                                                    */

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static pthread_key_t reg_key;
static int reg_key_err;
static __thread int iopfq_registered_thread; /* iopfq registered this thread */

static void reg_thread_exit(void *unused)
{
	(void)unused;
	if (iopfq_registered_thread && URCU_TLS(urcu_memb_reader).registered)
		urcu_memb_unregister_thread();
	iopfq_registered_thread = 0;
}

static void reg_key_create(void)
{
	reg_key_err = pthread_key_create(&reg_key, reg_thread_exit);
}

/* Slow path of the report's lazy registration; see iopfq/user.h. */
static int thread_register(void)
{
	if (URCU_TLS(urcu_memb_reader).registered)
		return 0; /* by the application, or by us earlier */
	pthread_once(&reg_once, reg_key_create);
	if (reg_key_err)
		return -ENOMEM;
	/* the destructor runs only for a non-NULL value: arm it first */
	if (pthread_setspecific(reg_key, (void *)1))
		return -ENOMEM;
	urcu_memb_register_thread();
	iopfq_registered_thread = 1;
	return 0;
}

IOPFQ_API int iopfq_thread_register(void)
{
	return thread_register();
}

IOPFQ_API void iopfq_thread_unregister(void)
{
	if (!iopfq_registered_thread)
		return;
	if (URCU_TLS(urcu_memb_reader).registered)
		urcu_memb_unregister_thread();
	iopfq_registered_thread = 0;
	pthread_setspecific(reg_key, NULL);
}

/* ---------------------------------------------------------------------- */
/* the core's hooks                                                        */

/*
 * The callbacks the calling thread is inside, innermost first: one frame
 * on the callback's own stack per callback, so nesting (a callback that
 * answers another object whose callback runs) needs no allocation. A
 * consumer-side call on an object this thread is inside a callback of
 * returns -EDEADLK (see iopfq/user.h). The mark is per thread because the
 * answers run on any thread at once: a detach from another thread must
 * still wait for them, one from inside one of them never could.
 */
struct callback_frame {
	const struct iopfq_fault *f;
	struct callback_frame *outer;
};

static __thread struct callback_frame *callback_frames;

static int inside_callback_of(const struct iopfq_fault *f)
{
	const struct callback_frame *fr;

	for (fr = callback_frames; fr; fr = fr->outer)
		if (fr->f == f)
			return 1;
	return 0;
}

/* Run one application callback with this thread marked inside @f's callbacks */
#define CALL_MARKED(f, call)                                                   \
	do {                                                                   \
		struct callback_frame fr_ = { .f = (f), .outer = callback_frames }; \
		callback_frames = &fr_;                                        \
		call;                                                          \
		callback_frames = fr_.outer;                                   \
	} while (0)

static void hook_page_response(void *ctx, const struct iopfq_response *resp)
{
	struct iopfq_fault *f = ctx;

	if (f->uops.page_response)
		CALL_MARKED(f, f->uops.page_response(f->uops.arg, resp));
}

static void hook_synchronize(void *ctx)
{
	(void)ctx;
	urcu_memb_synchronize_rcu();
}

static void hook_notify(void *ctx)
{
	struct iopfq_fault *f = ctx;

	__atomic_fetch_add(&f->kicks, 1, __ATOMIC_RELAXED); /* relaxed: a statistic */
	/*
	 * F1: store of kick (seq_cst); establishes a synchronizing edge with
	 * the exchange of kick at F3. The reporter tests it after
	 * rcu_read_unlock.
	 */
	__atomic_store_n(&f->kick, 1, __ATOMIC_SEQ_CST);
}

static iopfq_u64 hook_now_ns(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (iopfq_u64)ts.tv_sec * 1000000000ull + (iopfq_u64)ts.tv_nsec;
}

static void hook_aged(void *ctx, const struct iopfq_aged *aged)
{
	struct iopfq_fault *f = ctx;

	if (f->uops.aged)
		CALL_MARKED(f, f->uops.aged(f->uops.arg, aged));
}

static void hook_relax(void *ctx)
{
	(void)ctx;
	sched_yield();
}

/* ---------------------------------------------------------------------- */
/* readiness and the consumer mutex                                        */

static void fd_set_readable(struct iopfq_fault *f, int readable)
{
	uint64_t v = 1;
	ssize_t rc;

	if (f->readable == readable)
		return;
	if (readable)
		rc = write(f->efd, &v, sizeof(v));
	else
		rc = read(f->efd, &v, sizeof(v)); /* counter was 1: drains it to 0 */
	if (IOPFQ_WARN_ON(rc != (ssize_t)sizeof(v)))
		return;
	f->readable = readable;
	/* relaxed: statistics, written under the lock, read by iopfq_fault_counters() */
	__atomic_store_n(readable ? &f->wakeups : &f->sleeps,
			 (readable ? f->wakeups : f->sleeps) + 1, __ATOMIC_RELAXED);
}

/*
 * Make the fd say whether a complete group is queued, and arm the core's
 * wake-up when it is not. Terminates: each retry drained new ring entries,
 * and the entries that can arrive are bounded by the credits (a marker
 * flood aside, which still makes progress on every turn).
 */
static void readiness_sync(struct iopfq_fault *f)
{
	for (;;) {
		if (iopfq_poll_ready(f->q)) {
			/* readable until a consumer-side call changes that: no wake-up needed */
			iopfq_finish_sleep(f->q);
			fd_set_readable(f, 1);
			return;
		}
		if (iopfq_prepare_sleep(f->q)) {
			fd_set_readable(f, 0);
			return;
		}
	}
}

/* Every consumer-side call starts here: -EDEADLK from inside a callback of @f. */
static int consumer_lock(struct iopfq_fault *f)
{
	int rc;

	if (inside_callback_of(f))
		return -EDEADLK;
	rc = pthread_mutex_lock(&f->lock);
	/* error-checking mutex: a second line of defence, never expected to fire */
	return IOPFQ_WARN_ON(rc) ? -rc : 0;
}

static void consumer_unlock(struct iopfq_fault *f)
{
	for (;;) {
		/*
		 * F3: exchange of kick (acq_rel); establishes a synchronizing
		 * edge with the store of kick at F1 (the sync below sees the
		 * kicker's entry).
		 */
		__atomic_exchange_n(&f->kick, 0, __ATOMIC_ACQ_REL);
		readiness_sync(f);
		pthread_mutex_unlock(&f->lock);
		/*
		 * F4: full fence between the unlock (a store) and the load of
		 * kick; establishes a synchronizing edge with the full fence at F2.
		 */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!__atomic_load_n(&f->kick, __ATOMIC_RELAXED)) /* relaxed: F4 orders it */
			return;
		if (pthread_mutex_trylock(&f->lock))
			return; /* the new holder sees the kick at its unlock */
	}
}

/* A report's notify set f->kick: see that a readiness_sync() follows it. */
static void kick(struct iopfq_fault *f)
{
	/*
	 * F2: full fence between F1 (a store) and the trylock (a load of the
	 * lock word); establishes a synchronizing edge with the full fence at F4.
	 */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (pthread_mutex_trylock(&f->lock))
		return;
	__atomic_fetch_add(&f->kick_syncs, 1, __ATOMIC_RELAXED); /* relaxed: a statistic */
	consumer_unlock(f);
}

/* ---------------------------------------------------------------------- */
/* create and destroy                                                      */

static void fault_free(struct iopfq_fault *f)
{
	if (f->efd >= 0)
		close(f->efd);
	free(f->q);
	free(f->bounce);
	free(f->handles);
	free(f);
}

static const struct iopfq_ops core_ops = {
	.page_response = hook_page_response,
	.synchronize = hook_synchronize,
	.notify = hook_notify,
	.now_ns = hook_now_ns,
	.aged = hook_aged,
	.relax = hook_relax,
};

IOPFQ_API int iopfq_fault_create(const struct iopfq_config *cfg, const struct iopfq_fault_ops *ops,
				 struct iopfq_fault **faultp)
{
	struct iopfq_geometry geo;
	pthread_mutexattr_t attr;
	struct iopfq_fault *f;
	size_t memsize;
	void *mem;
	int rc;

	if (!cfg || !faultp || iopfq_config_geometry(cfg, &geo))
		return -EINVAL;
	memsize = iopfq_memsize(cfg);

	f = aligned_alloc(CACHELINE, (sizeof(*f) + CACHELINE - 1) & ~(size_t)(CACHELINE - 1));
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->efd = -1;
	if (ops)
		f->uops = *ops;
	f->max_devices = cfg->max_devices;
	f->bounce_records = cfg->credit_budget; /* a group never exceeds it */
	mem = aligned_alloc(IOPFQ_MEM_ALIGN, (memsize + IOPFQ_MEM_ALIGN - 1) & ~(size_t)(IOPFQ_MEM_ALIGN - 1));
	f->bounce = malloc((size_t)f->bounce_records * sizeof(*f->bounce));
	f->handles = calloc(f->max_devices, sizeof(*f->handles));
	if (!mem || !f->bounce || !f->handles) {
		free(mem);
		fault_free(f);
		return -ENOMEM;
	}
	f->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (f->efd < 0) {
		rc = -errno;
		free(mem);
		fault_free(f);
		return rc;
	}
	rc = iopfq_init(mem, memsize, cfg, &core_ops, f, &f->q);
	if (rc) {
		free(mem);
		fault_free(f);
		return rc;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ERRORCHECK);
	rc = pthread_mutex_init(&f->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	if (rc) {
		fault_free(f);
		return -rc;
	}
	/* arm: the fd starts not readable, and the first report wakes it */
	pthread_mutex_lock(&f->lock);
	consumer_unlock(f);
	*faultp = f;
	return 0;
}

IOPFQ_API void iopfq_fault_destroy(struct iopfq_fault *f)
{
	iopfq_u32 i;

	if (!f || IOPFQ_WARN_ON(inside_callback_of(f)))
		return; /* from its own callback: the object is in use (user.h) */
	pthread_mutex_lock(&f->lock);
	for (i = 0; i < f->max_devices; i++)
		if (f->handles[i])
			IOPFQ_WARN_ON(iopfq_dev_detach(f->q, f->handles[i]) != 0);
	pthread_mutex_unlock(&f->lock);
	pthread_mutex_destroy(&f->lock);
	fault_free(f);
}

IOPFQ_API int iopfq_fault_fd(const struct iopfq_fault *f)
{
	return f ? f->efd : -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* read and write                                                          */

static ssize_t read_locked(struct iopfq_fault *f, void *buf, size_t max_records)
{
	size_t done = 0;
	int n;

	if (((uintptr_t)buf % __alignof__(struct iopfq_hwpt_pgfault)) == 0) {
		n = iopfq_read(f->q, buf, (iopfq_u32)max_records);
		return n < 0 ? n : (ssize_t)n * (ssize_t)IOPFQ_FAULT_RECORD_SIZE;
	}
	/* unaligned: whole groups through the bounce buffer, which holds any group */
	while (done < max_records) {
		size_t room = max_records - done;

		if (room > f->bounce_records)
			room = f->bounce_records;
		n = iopfq_read(f->q, f->bounce, (iopfq_u32)room);
		if (n <= 0)
			break;
		memcpy((char *)buf + done * IOPFQ_FAULT_RECORD_SIZE, f->bounce,
		       (size_t)n * IOPFQ_FAULT_RECORD_SIZE);
		done += (size_t)n;
	}
	return (ssize_t)(done * IOPFQ_FAULT_RECORD_SIZE);
}

IOPFQ_API ssize_t iopfq_fault_pread(struct iopfq_fault *f, void *buf, size_t count, off_t offset)
{
	size_t max_records = count / IOPFQ_FAULT_RECORD_SIZE;
	ssize_t rc;

	/* pread(2) refuses a negative offset before the file sees it */
	if (!f || offset < 0)
		return -EINVAL;
	if (offset != 0 || count % IOPFQ_FAULT_RECORD_SIZE)
		return -ESPIPE;
	if (count == 0)
		return 0;
	if (!buf)
		return -EFAULT;
	if (max_records > MAX_RECORDS_PER_CALL)
		max_records = MAX_RECORDS_PER_CALL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = read_locked(f, buf, max_records);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API ssize_t iopfq_fault_read(struct iopfq_fault *f, void *buf, size_t count)
{
	return iopfq_fault_pread(f, buf, count, 0);
}

IOPFQ_API ssize_t iopfq_fault_pwrite(struct iopfq_fault *f, const void *buf, size_t count,
				     off_t offset)
{
	struct iopfq_hwpt_page_response chunk[64];
	size_t n = count / IOPFQ_FAULT_RESPONSE_SIZE, done = 0;
	int aligned, rc = 0;

	if (!f || offset < 0)
		return -EINVAL;
	if (offset != 0 || count % IOPFQ_FAULT_RESPONSE_SIZE)
		return -ESPIPE;
	if (count == 0)
		return 0;
	if (!buf)
		return -EFAULT;
	aligned = ((uintptr_t)buf % __alignof__(struct iopfq_hwpt_page_response)) == 0;
	while (done < n) {
		const struct iopfq_hwpt_page_response *resp;
		size_t todo = n - done;

		if (aligned) {
			if (todo > MAX_RESPONSES_PER_CALL)
				todo = MAX_RESPONSES_PER_CALL;
			resp = (const struct iopfq_hwpt_page_response *)buf + done;
		} else {
			if (todo > sizeof(chunk) / sizeof(chunk[0]))
				todo = sizeof(chunk) / sizeof(chunk[0]);
			memcpy(chunk, (const char *)buf + done * IOPFQ_FAULT_RESPONSE_SIZE,
			       todo * IOPFQ_FAULT_RESPONSE_SIZE);
			resp = chunk;
		}
		rc = iopfq_respond(f->q, resp, (iopfq_u32)todo);
		if (rc <= 0)
			break;
		done += (size_t)rc;
		if ((size_t)rc < todo)
			break;
	}
	return done ? (ssize_t)(done * IOPFQ_FAULT_RESPONSE_SIZE) : rc;
}

IOPFQ_API ssize_t iopfq_fault_write(struct iopfq_fault *f, const void *buf, size_t count)
{
	return iopfq_fault_pwrite(f, buf, count, 0);
}

/* ---------------------------------------------------------------------- */
/* producer                                                                */

IOPFQ_API int iopfq_fault_report(struct iopfq_fault *f, iopfq_dev_t dev,
				 const struct iopfq_request *req, iopfq_u32 *answer)
{
	int rc;

	if (IOPFQ_UNLIKELY(!f)) {
		if (answer)
			*answer = IOPFQ_HW_NONE;
		return -EINVAL;
	}
	if (IOPFQ_UNLIKELY(!URCU_TLS(urcu_memb_reader).registered)) {
		rc = thread_register();
		if (rc) {
			if (answer)
				*answer = IOPFQ_HW_NONE;
			return rc;
		}
	}
	urcu_memb_read_lock();
	rc = iopfq_report(f->q, dev, req, answer);
	urcu_memb_read_unlock();
	/*
	 * Our notify (or another reporter's) asked for a readiness
	 * re-evaluation. Relaxed: our own F1 is sequenced before this load,
	 * and a kick set by another reporter is that reporter's to act on;
	 * kick() fences (F2) before it acts.
	 */
	if (IOPFQ_UNLIKELY(__atomic_load_n(&f->kick, __ATOMIC_RELAXED)))
		kick(f);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* consumer side                                                           */

IOPFQ_API int iopfq_fault_next_group_size(struct iopfq_fault *f)
{
	int rc;

	if (!f)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_next_group_size(f->q);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_dev_attach(struct iopfq_fault *f, iopfq_u32 dev_id, iopfq_u32 credits,
				     void *dev_ctx, iopfq_dev_t *handle)
{
	iopfq_dev_t h;
	int rc;

	if (!f || !handle)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_dev_attach(f->q, dev_id, credits, dev_ctx, &h);
	if (!rc) {
		f->handles[h & (IOPFQ_MAX_DEVICES - 1)] = h;
		*handle = h;
	}
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_dev_detach(struct iopfq_fault *f, iopfq_dev_t dev)
{
	int rc;

	if (!f)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_dev_detach(f->q, dev);
	if (!rc)
		f->handles[dev & (IOPFQ_MAX_DEVICES - 1)] = 0;
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_flush(struct iopfq_fault *f, iopfq_dev_t dev, iopfq_u32 pasid,
				iopfq_u32 flags)
{
	int rc;

	if (!f)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_flush(f->q, dev, pasid, flags);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_dev_set_flags(struct iopfq_fault *f, iopfq_dev_t dev, iopfq_u32 flags)
{
	int rc;

	if (!f)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_dev_set_flags(f->q, dev, flags);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_dev_lookup(struct iopfq_fault *f, iopfq_u32 dev_id,
				     iopfq_dev_t *handle)
{
	int rc;

	if (!f || !handle)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_dev_lookup(f->q, dev_id, handle);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_age_scan(struct iopfq_fault *f, iopfq_u64 threshold_ns)
{
	int rc;

	if (!f)
		return -EINVAL;
	rc = consumer_lock(f);
	if (rc)
		return rc;
	rc = iopfq_age_scan(f->q, threshold_ns);
	consumer_unlock(f);
	return rc;
}

IOPFQ_API int iopfq_fault_counters(struct iopfq_fault *f, struct iopfq_counters *c,
				   struct iopfq_fault_stats *stats)
{
	if (!f || !c)
		return -EINVAL;
	iopfq_counters(f->q, c);
	if (stats) { /* relaxed loads: a snapshot of statistics orders nothing */
		stats->wakeups = __atomic_load_n(&f->wakeups, __ATOMIC_RELAXED);
		stats->sleeps = __atomic_load_n(&f->sleeps, __ATOMIC_RELAXED);
		stats->kicks = __atomic_load_n(&f->kicks, __ATOMIC_RELAXED);
		stats->kick_syncs = __atomic_load_n(&f->kick_syncs, __ATOMIC_RELAXED);
	}
	return 0;
}
