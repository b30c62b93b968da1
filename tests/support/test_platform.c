/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "test_platform.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#ifdef IOPFQ_TEST_EPOCH_RCU
/*
 * Cross-architecture runs under qemu-user: liburcu's grace periods
 * deadlock there (a one-reader liburcu program hangs under
 * qemu-aarch64-static 7.2 while it finishes at once natively), so these
 * builds use this two-epoch grace period instead: a reader counts itself
 * in the current epoch; synchronize flips the epoch twice and waits for
 * each old epoch to empty. Native builds use real liburcu.
 */
static unsigned long epoch;
static long epoch_readers[2];
static pthread_mutex_t epoch_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread unsigned long my_epoch;

static void epoch_read_lock(void)
{
	for (;;) {
		my_epoch = __atomic_load_n(&epoch, __ATOMIC_SEQ_CST) & 1;
		__atomic_fetch_add(&epoch_readers[my_epoch], 1, __ATOMIC_SEQ_CST);
		if ((__atomic_load_n(&epoch, __ATOMIC_SEQ_CST) & 1) == my_epoch)
			return;
		__atomic_fetch_sub(&epoch_readers[my_epoch], 1, __ATOMIC_SEQ_CST);
	}
}

static void epoch_read_unlock(void)
{
	__atomic_fetch_sub(&epoch_readers[my_epoch], 1, __ATOMIC_SEQ_CST);
}

static void epoch_synchronize(void)
{
	pthread_mutex_lock(&epoch_lock);
	for (int flip = 0; flip < 2; flip++) {
		unsigned long old = __atomic_fetch_add(&epoch, 1, __ATOMIC_SEQ_CST) & 1;

		while (__atomic_load_n(&epoch_readers[old], __ATOMIC_SEQ_CST))
			sched_yield();
	}
	pthread_mutex_unlock(&epoch_lock);
}
#define urcu_memb_read_lock() epoch_read_lock()
#define urcu_memb_read_unlock() epoch_read_unlock()
#define urcu_memb_synchronize_rcu() epoch_synchronize()
#define urcu_memb_register_thread() ((void)0)
#define urcu_memb_unregister_thread() ((void)0)
#else
#include <urcu/urcu-memb.h>
#endif

void iopfq_platform_warn(const char *file, int line, const char *cond)
{
	fprintf(stderr, "IOPFQ_WARN_ON(%s) at %s:%d: invariant broken\n", cond, file, line);
	abort();
}

static void grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return;
	*cap = *cap ? *cap * 2 : 64;
	*arr = realloc(*arr, *cap * elem);
	if (!*arr)
		abort();
}

static void tp_page_response(void *ctx, const struct iopfq_response *r)
{
	struct tp_ctx *tp = ctx;

	pthread_mutex_lock(&tp->lock);
	grow((void **)&tp->resp, &tp->resp_cap, tp->nresp, sizeof(*r));
	tp->resp[tp->nresp++] = *r;
	pthread_mutex_unlock(&tp->lock);
	if (tp->on_response)
		tp->on_response(tp->on_response_arg, r);
}

static void tp_synchronize(void *ctx)
{
	struct tp_ctx *tp = ctx;

	__atomic_fetch_add(&tp->synchronizes, 1, __ATOMIC_RELAXED);
	urcu_memb_synchronize_rcu();
}

static void tp_notify(void *ctx)
{
	struct tp_ctx *tp = ctx;

	__atomic_fetch_add(&tp->notifies, 1, __ATOMIC_RELAXED);
}

static uint64_t tp_now(void *ctx)
{
	struct tp_ctx *tp = ctx;
	struct timespec ts;

	if (!tp->real_clock)
		return __atomic_load_n(&tp->now_ns, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void tp_aged(void *ctx, const struct iopfq_aged *a)
{
	struct tp_ctx *tp = ctx;

	pthread_mutex_lock(&tp->lock);
	grow((void **)&tp->aged, &tp->aged_cap, tp->naged, sizeof(*a));
	tp->aged[tp->naged++] = *a;
	pthread_mutex_unlock(&tp->lock);
}

static void tp_relax(void *ctx)
{
	(void)ctx;
	sched_yield();
}

void tp_init(struct tp_ctx *tp)
{
	memset(tp, 0, sizeof(*tp));
	pthread_mutex_init(&tp->lock, NULL);
}

void tp_destroy(struct tp_ctx *tp)
{
	free(tp->resp);
	free(tp->aged);
	pthread_mutex_destroy(&tp->lock);
}

void tp_clear(struct tp_ctx *tp)
{
	pthread_mutex_lock(&tp->lock);
	tp->nresp = 0;
	tp->naged = 0;
	pthread_mutex_unlock(&tp->lock);
}

const struct iopfq_ops tp_ops = {
	.page_response = tp_page_response,
	.synchronize = tp_synchronize,
	.notify = tp_notify,
	.now_ns = tp_now,
	.aged = tp_aged,
	.relax = tp_relax,
};

void tp_set_now(struct tp_ctx *tp, uint64_t now_ns)
{
	__atomic_store_n(&tp->now_ns, now_ns, __ATOMIC_RELAXED);
}

void *tp_mem_alloc(size_t size)
{
	return aligned_alloc(IOPFQ_MEM_ALIGN, (size + IOPFQ_MEM_ALIGN - 1) & ~(size_t)(IOPFQ_MEM_ALIGN - 1));
}

struct iopfq *tp_queue_new(const struct iopfq_config *cfg, struct tp_ctx *tp, int *err)
{
	size_t size = iopfq_memsize(cfg);
	struct iopfq *q = NULL;
	void *mem;
	int rc;

	if (!size) {
		if (err)
			*err = -IOPFQ_EINVAL;
		return NULL;
	}
	mem = tp_mem_alloc(size);
	if (!mem)
		abort();
	memset(mem, 0xa5, size); /* poison: init must not rely on zeroed memory */
	rc = iopfq_init(mem, size, cfg, &tp_ops, tp, &q);
	if (err)
		*err = rc;
	if (rc)
		free(mem);
	return rc ? NULL : q;
}

void tp_queue_free(struct iopfq *q)
{
	free(q);
}

struct iopfq_request tp_req(uint32_t pasid, uint32_t grpid, int last, uint64_t addr)
{
	struct iopfq_request r = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | (last ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
		.pasid = pasid,
		.grpid = grpid,
		.perm = IOPFQ_PGFAULT_PERM_READ,
		.addr = addr,
	};
	return r;
}

struct iopfq_request tp_marker(uint32_t pasid)
{
	struct iopfq_request r = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
		.pasid = pasid,
	};
	return r;
}

int tp_report(struct iopfq *q, iopfq_dev_t dev, const struct iopfq_request *req,
	      uint32_t *answer)
{
	int rc;

	urcu_memb_read_lock();
	rc = iopfq_report(q, dev, req, answer);
	urcu_memb_read_unlock();
	return rc;
}

void tp_thread_online(void)
{
	urcu_memb_register_thread();
}

void tp_thread_offline(void)
{
	urcu_memb_unregister_thread();
}

int tp_conserved(const struct iopfq_counters *c)
{
	return c->accepted == c->in_ring + c->partial + c->ready + c->delivered + c->answered +
				      c->auto_answered + c->discarded;
}
