/* SPDX-License-Identifier: MIT */
/*
 * impl_iopfq.c - iopfq behind the benchmark's queue interface, twice:
 *
 *   iopfq     the core (core/), called directly: report inside a liburcu
 *             read-side section, iopfq_read, iopfq_respond; blocking mode
 *             with iopfq_prepare_sleep/iopfq_finish_sleep and an eventfd
 *             written by the notify hook (docs/memory-ordering.md, W1/W2).
 *   libiopfq  the userspace adapter (user-adapter/): the fault FD object,
 *             iommufd's read()/write() semantics; blocking mode polls its fd.
 *
 * May touch: its own queue objects. Calls core/ and user-adapter/ only
 * through their public headers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <urcu/urcu-memb.h>

#include <iopfq/iopfq.h>
#include <iopfq/user.h>

#include "bench.h"

/* ---- the core ---- */

struct core_q {
	struct iopfq *q;
	void *mem;
	int efd;
};

static void core_page_response(void *ctx, const struct iopfq_response *r)
{
	(void)ctx;
	bench_response(r->dev_ctx, r->grpid, r->npages);
}

static void core_synchronize(void *ctx)
{
	(void)ctx;
	urcu_memb_synchronize_rcu();
}

static void core_notify(void *ctx)
{
	struct core_q *cq = ctx;
	uint64_t one = 1;

	if (write(cq->efd, &one, sizeof(one)) < 0)
		abort();
}

/* the adapter's clock: the TSC, scaled (the core reads it once per drain) */
static iopfq_u64 core_now(void *ctx)
{
	(void)ctx;
	return (iopfq_u64)((double)tsc_now() / tsc_per_ns);
}

static void core_aged(void *ctx, const struct iopfq_aged *a)
{
	(void)ctx;
	(void)a;
}

static void *core_create_policy(const struct qcfg *cfg, iopfq_u32 delivery)
{
	struct core_q *cq = calloc(1, sizeof(*cq));
	struct iopfq_config qc = { 0 };
	static const struct iopfq_ops ops = {
		.page_response = core_page_response,
		.synchronize = core_synchronize,
		.notify = core_notify,
		.now_ns = core_now,
		.aged = core_aged,
	};
	size_t size;
	uint32_t i;

	if (!cq)
		return NULL;
	qc.max_devices = cfg->ndev;
	qc.credit_budget = bench_budget(cfg);
	qc.delivery = delivery;
	size = iopfq_memsize(&qc);
	cq->efd = eventfd(0, EFD_CLOEXEC);
	if (!size || cq->efd < 0 || posix_memalign(&cq->mem, IOPFQ_MEM_ALIGN, size))
		abort();
	if (iopfq_init(cq->mem, size, &qc, &ops, cq, &cq->q))
		abort();
	for (i = 0; i < cfg->ndev; i++) {
		iopfq_dev_t h;

		if (iopfq_dev_attach(cq->q, cfg->devs[i].dev_id, cfg->devs[i].credits, &cfg->devs[i], &h))
			abort();
		cfg->devs[i].qdev = h;
	}
	return cq;
}

static void *core_create(const struct qcfg *cfg)
{
	return core_create_policy(cfg, IOPFQ_DELIVER_COMPLETION);
}

static void *core_create_fair(const struct qcfg *cfg)
{
	return core_create_policy(cfg, IOPFQ_DELIVER_ROUND_ROBIN);
}

static void core_destroy(void *q)
{
	struct core_q *cq = q;
	struct iopfq_counters c;

	iopfq_counters(cq->q, &c);
	if (c.ring_claim_waits || c.bad_answers)
		fprintf(stderr, "iopfq: ring claim waits %llu, bad answers %llu\n",
			(unsigned long long)c.ring_claim_waits, (unsigned long long)c.bad_answers);
	close(cq->efd);
	free(cq->mem);
	free(cq);
}

static void core_thread_enter(void *q)
{
	(void)q;
	urcu_memb_register_thread();
}

static void core_thread_exit(void *q)
{
	(void)q;
	urcu_memb_unregister_thread();
}

static int core_report(void *q, struct bdev *d, const struct iopfq_request *req)
{
	struct core_q *cq = q;
	int rc;

	urcu_memb_read_lock();
	rc = iopfq_report(cq->q, (iopfq_dev_t)d->qdev, req, NULL);
	urcu_memb_read_unlock();
	return rc;
}

static int core_read(void *q, struct iopfq_hwpt_pgfault *recs, unsigned max)
{
	return iopfq_read(((struct core_q *)q)->q, recs, max);
}

static int core_respond(void *q, const struct iopfq_hwpt_page_response *resp, unsigned n)
{
	return iopfq_respond(((struct core_q *)q)->q, resp, n);
}

static void core_drain(void *q)
{
	iopfq_poll_ready(((struct core_q *)q)->q);
}

static void core_wait(void *q)
{
	struct core_q *cq = q;
	uint64_t v;

	if (iopfq_prepare_sleep(cq->q)) {
		if (read(cq->efd, &v, sizeof(v)) < 0 && errno != EINTR)
			abort();
	}
	iopfq_finish_sleep(cq->q);
}

static void core_kick(void *q)
{
	uint64_t one = 1;

	if (write(((struct core_q *)q)->efd, &one, sizeof(one)) < 0)
		abort();
}

/* the core's operations, whatever its delivery policy */
#define CORE_QIMPL_OPS                                                         \
	.destroy = core_destroy, .thread_enter = core_thread_enter,             \
	.thread_exit = core_thread_exit, .report = core_report, .read = core_read, \
	.respond = core_respond, .drain = core_drain, .wait = core_wait,        \
	.kick = core_kick

const struct qimpl impl_iopfq = {
	.name = "iopfq",
	.what = "iopfq core: wait-free MPSC ring, consumer-side groups, CAS cookie claim",
	.create = core_create,
	CORE_QIMPL_OPS,
};

const struct qimpl impl_iopfq_fair = {
	.name = "iopfq-fair",
	.what = "the iopfq core delivering in turn over devices (IOPFQ_DELIVER_ROUND_ROBIN)",
	.fair = 1,
	.create = core_create_fair,
	CORE_QIMPL_OPS,
};

/* ---- libiopfq: the fault FD object ---- */

static void lib_page_response(void *arg, const struct iopfq_response *r)
{
	(void)arg;
	bench_response(r->dev_ctx, r->grpid, r->npages);
}

static void *lib_create(const struct qcfg *cfg)
{
	struct iopfq_config qc = { 0 };
	struct iopfq_fault_ops ops = { .page_response = lib_page_response };
	struct iopfq_fault *f;
	uint32_t i;

	qc.max_devices = cfg->ndev;
	qc.credit_budget = bench_budget(cfg);
	if (iopfq_fault_create(&qc, &ops, &f))
		abort();
	for (i = 0; i < cfg->ndev; i++) {
		iopfq_dev_t h;

		if (iopfq_fault_dev_attach(f, cfg->devs[i].dev_id, cfg->devs[i].credits, &cfg->devs[i], &h))
			abort();
		cfg->devs[i].qdev = h;
	}
	return f;
}

static void lib_destroy(void *q)
{
	iopfq_fault_destroy(q);
}

static void lib_thread_enter(void *q)
{
	(void)q;
	iopfq_thread_register();
}

static void lib_thread_exit(void *q)
{
	(void)q;
	iopfq_thread_unregister();
}

static int lib_report(void *q, struct bdev *d, const struct iopfq_request *req)
{
	return iopfq_fault_report(q, (iopfq_dev_t)d->qdev, req, NULL);
}

static int lib_read(void *q, struct iopfq_hwpt_pgfault *recs, unsigned max)
{
	return iopfq_fault_read_records(q, recs, max);
}

static int lib_respond(void *q, const struct iopfq_hwpt_page_response *resp, unsigned n)
{
	return iopfq_fault_write_responses(q, resp, n);
}

static void lib_wait(void *q)
{
	struct pollfd p = { .fd = iopfq_fault_fd(q), .events = POLLIN };

	/* the timeout only bounds how long a stop takes to be seen */
	poll(&p, 1, 20);
}

static void lib_kick(void *q)
{
	(void)q;
}

const struct qimpl impl_libiopfq = {
	.name = "libiopfq",
	.what = "iopfq through the userspace fault FD object (user-adapter/), poll() on its eventfd",
	.create = lib_create,
	.destroy = lib_destroy,
	.thread_enter = lib_thread_enter,
	.thread_exit = lib_thread_exit,
	.report = lib_report,
	.read = lib_read,
	.respond = lib_respond,
	.wait = lib_wait,
	.kick = lib_kick,
};
