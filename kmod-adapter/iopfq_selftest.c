// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_selftest.c - the core's self-test in kernel space, at module load
 * (selftest=1): attach, report (process context and hard IRQ), read,
 * respond, flush, detach, with the kernel's RCU, clocks and wait queues
 * behind the hooks. Prints "selftest: N of M tests passed"; a failure
 * makes the module refuse to load.
 *
 * May touch: its own queue only (the adapter's level: it calls the core
 * directly, with hooks of its own that count what the core does).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/hrtimer.h>
#include <linux/rcupdate.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "iopfq_fault.h"

struct st_ctx {
	struct iopfq_response last;
	unsigned int responses;
	unsigned int notifies;
	struct iopfq *q;
	iopfq_dev_t dev;
	int irq_rc[2];
	struct hrtimer timer;
	struct completion done;
};

static unsigned int st_run, st_passed;

#define CHECK(cond)                                                            \
	do {                                                                   \
		st_run++;                                                      \
		if (cond)                                                      \
			st_passed++;                                           \
		else                                                           \
			pr_err("selftest: line %d: %s\n", __LINE__, #cond);    \
	} while (0)

static void st_page_response(void *ctx, const struct iopfq_response *r)
{
	struct st_ctx *c = ctx;

	c->last = *r;
	c->responses++;
}

static void st_synchronize(void *ctx)
{
	synchronize_rcu();
}

static void st_notify(void *ctx)
{
	struct st_ctx *c = ctx;

	WRITE_ONCE(c->notifies, c->notifies + 1);
}

static iopfq_u64 st_now(void *ctx)
{
	return ktime_get_ns();
}

static void st_aged(void *ctx, const struct iopfq_aged *a)
{
}

static int st_report(struct st_ctx *c, u32 pasid, u32 grpid, u32 flags, u64 addr)
{
	struct iopfq_request req = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | flags,
		.pasid = pasid,
		.grpid = grpid,
		.perm = IOPFQ_PGFAULT_PERM_READ,
		.addr = addr,
	};
	int rc;

	rcu_read_lock();
	rc = iopfq_report(c->q, c->dev, &req, NULL);
	rcu_read_unlock();
	return rc;
}

/* A two-page group reported from hard-IRQ context. */
static enum hrtimer_restart st_timer_fn(struct hrtimer *t)
{
	struct st_ctx *c = container_of(t, struct st_ctx, timer);
	struct iopfq_request req = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID,
		.pasid = 9,
		.grpid = 7,
		.perm = IOPFQ_PGFAULT_PERM_WRITE,
		.addr = 0x9000,
	};

	c->irq_rc[0] = iopfq_report(c->q, c->dev, &req, NULL);
	req.flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
	req.addr += 0x1000;
	c->irq_rc[1] = iopfq_report(c->q, c->dev, &req, NULL);
	complete(&c->done);
	return HRTIMER_NORESTART;
}

/**
 * iopfq_selftest - run the self-test
 *
 * Context: process (module init); sleeps.
 * Return: 0 if every check passed, -EINVAL if one failed, -ENOMEM.
 */
int iopfq_selftest(void)
{
	struct iopfq_config cfg = { .max_devices = 4, .credit_budget = 16 };
	static const struct iopfq_ops ops = {
		.page_response = st_page_response,
		.synchronize = st_synchronize,
		.notify = st_notify,
		.now_ns = st_now,
		.aged = st_aged,
	};
	struct iopfq_hwpt_page_response resp;
	struct iopfq_hwpt_pgfault recs[8];
	struct iopfq_config bad = cfg;
	struct iopfq_counters cnt;
	iopfq_dev_t dev2, h;
	struct st_ctx *c;
	size_t size;
	void *mem;
	int rc, i;

	st_run = 0;
	st_passed = 0;
	c = kzalloc(sizeof(*c), GFP_KERNEL);
	if (!c)
		return -ENOMEM;
	size = iopfq_memsize(&cfg);
	CHECK(size > 0);
	bad.credit_budget = 0;
	CHECK(iopfq_memsize(&bad) == 0);
	mem = kvzalloc(size + IOPFQ_MEM_ALIGN, GFP_KERNEL);
	if (!mem) {
		kfree(c);
		return -ENOMEM;
	}
	rc = iopfq_init(PTR_ALIGN(mem, IOPFQ_MEM_ALIGN), size, &cfg, &ops, c, &c->q);
	CHECK(c->q && rc == 0);
	if (!c->q)
		goto out;

	/* attach */
	CHECK(iopfq_dev_attach(c->q, 1, 8, c, &c->dev) == 0);
	CHECK(iopfq_dev_attach(c->q, 1, 4, c, &h) == -EEXIST);
	CHECK(iopfq_dev_attach(c->q, 2, 9, c, &h) == -ENOSPC);
	CHECK(iopfq_dev_attach(c->q, 2, 8, c, &dev2) == 0);
	CHECK(iopfq_dev_lookup(c->q, 2, &h) == 0 && h == dev2);

	/* report a three-page group; read it whole or not at all */
	CHECK(st_report(c, 5, 3, 0, 0x1000) == 0);
	CHECK(st_report(c, 5, 3, 0, 0x2000) == 0);
	CHECK(iopfq_next_group_size(c->q) == 0);
	CHECK(st_report(c, 5, 3, IOPFQ_PGFAULT_FLAGS_LAST_PAGE, 0x3000) == 0);
	CHECK(iopfq_next_group_size(c->q) == 3);
	CHECK(iopfq_read(c->q, recs, 2) == 0);
	memset(recs, 0xa5, sizeof(recs));
	CHECK(iopfq_read(c->q, recs, 8) == 3);
	for (i = 0; i < 3; i++)
		CHECK(recs[i].dev_id == 1 && recs[i].pasid == 5 && recs[i].grpid == 3 &&
		      recs[i].addr == 0x1000ull * (i + 1) && recs[i].__reserved == 0 &&
		      recs[i].length == 0 && recs[i].cookie == recs[0].cookie &&
		      recs[i].cookie != 0);
	CHECK(recs[2].flags == (IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE));

	/* respond: once, with credits back before the response */
	resp.cookie = recs[0].cookie;
	resp.code = 2;
	CHECK(iopfq_respond(c->q, &resp, 1) == -EINVAL);
	resp.code = IOPFQ_PAGE_RESP_SUCCESS;
	CHECK(iopfq_respond(c->q, &resp, 1) == 1);
	CHECK(c->responses == 1 && c->last.npages == 3 && c->last.code == IOPFQ_HW_SUCCESS &&
	      c->last.origin == IOPFQ_ANSWER_USER && c->last.dev_ctx == c);
	CHECK(iopfq_respond(c->q, &resp, 1) == -EINVAL);

	/* credits: 8 pages in, the 9th refused */
	for (i = 0; i < 8; i++)
		rc = st_report(c, 6, i, IOPFQ_PGFAULT_FLAGS_LAST_PAGE, 0x1000);
	CHECK(rc == 0);
	CHECK(st_report(c, 6, 9, IOPFQ_PGFAULT_FLAGS_LAST_PAGE, 0x1000) == -EDQUOT);
	CHECK(st_report(c, 6, 512, IOPFQ_PGFAULT_FLAGS_LAST_PAGE, 0x1000) == -EINVAL);

	/* flush PASID 6: eight groups answered INVALID, their credits back */
	c->responses = 0;
	CHECK(iopfq_read(c->q, recs, 1) == 1);
	CHECK(iopfq_flush(c->q, c->dev, 6, IOPFQ_FLUSH_PASID_VALID) == 0);
	CHECK(c->responses == 8 && c->last.code == IOPFQ_HW_INVALID &&
	      c->last.origin == IOPFQ_ANSWER_FLUSH);
	resp.cookie = recs[0].cookie;
	CHECK(iopfq_respond(c->q, &resp, 1) == -EINVAL); /* revoked */
	CHECK(iopfq_next_group_size(c->q) == 0);

	/* hard IRQ producer */
	init_completion(&c->done);
	hrtimer_init(&c->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	c->timer.function = st_timer_fn;
	hrtimer_start(&c->timer, ns_to_ktime(1000), HRTIMER_MODE_REL_HARD);
	wait_for_completion(&c->done);
	hrtimer_cancel(&c->timer);
	CHECK(c->irq_rc[0] == 0 && c->irq_rc[1] == 0);
	CHECK(iopfq_next_group_size(c->q) == 2);

	/* wake-up: the consumer announces sleep, the next report notifies */
	CHECK(iopfq_prepare_sleep(c->q) == 0); /* a group is ready */
	CHECK(iopfq_read(c->q, recs, 8) == 2);
	CHECK(iopfq_prepare_sleep(c->q) == 1);
	c->notifies = 0;
	CHECK(st_report(c, 1, 1, 0, 0x1000) == 0);
	CHECK(c->notifies == 1);
	iopfq_finish_sleep(c->q);

	/* detach with a delivered group and a partial page pending */
	c->responses = 0;
	CHECK(iopfq_dev_detach(c->q, c->dev) == 0);
	CHECK(c->responses == 1 && c->last.code == IOPFQ_HW_INVALID &&
	      c->last.origin == IOPFQ_ANSWER_DETACH && c->last.npages == 2);
	CHECK(iopfq_dev_detach(c->q, c->dev) == -ENODEV);
	CHECK(st_report(c, 1, 1, 0, 0x1000) == -ENODEV);
	CHECK(iopfq_dev_detach(c->q, dev2) == 0);

	/* conservation at a quiescent point */
	iopfq_counters(c->q, &cnt);
	CHECK(cnt.accepted == cnt.in_ring + cnt.partial + cnt.ready + cnt.delivered +
			      cnt.answered + cnt.auto_answered + cnt.discarded);
	CHECK(cnt.accepted == 14 && cnt.answered == 3 && cnt.auto_answered == 10 &&
	      cnt.discarded == 1 && cnt.ring_claim_waits == 0 && cnt.devices_attached == 0 &&
	      cnt.credits_attached == 0);
out:
	kvfree(mem);
	kfree(c);
	pr_info("selftest: %u of %u tests passed\n", st_passed, st_run);
	return st_passed == st_run ? 0 : -EINVAL;
}
