// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * iopfq_sim.c - simulated PRI devices and their fault generators.
 *
 * Lock order: a device's credit_wq lock is the only lock taken here, and
 * innermost. The page_response callback takes it (a wake-up) from wherever
 * the queue answers: under iopfq_file.lock and the queue's consumer mutex
 * (detach, flush, close), from write() (core: no lock; baseline: under its
 * fault mutex), and in baseline mode from a report, hard IRQ included (a
 * last page without memory is answered Response Failure at once); so it
 * never sleeps and never calls back into the queue, but for the test-only
 * IOPFQ_ATTACH_TEST_REENTER call, which the core adapter refuses. Generators
 * report with no lock.
 *
 * May touch: the simulated devices (struct iopfq_simdev) and their
 * module-wide counters; reports go through iopfq_file_report() (the file's
 * backend table), answers come back through iopfq_sim_page_response().
 *
 * A simulated device honours its PRI allocation as real hardware must: it
 * takes the credits of a whole group before issuing it and gets them back
 * with the group's response (the queue's page_response callback, which the
 * file gave the queue when it created it, lands in iopfq_sim_page_response()). Per (PASID, group index) it keeps the report time
 * of the group's first page, so the response yields the fault-to-response
 * latency, recorded in a log-linear histogram, and a response for a key
 * with nothing outstanding is counted as a duplicate.
 *
 * Generators: a kthread (the threaded-IRQ path of an IOMMU driver) or an
 * hrtimer in HARD-IRQ context (HRTIMER_MODE_REL_HARD: the page-request
 * interrupt itself). Each issues bursts of groups at a configured period.
 * All pages of a group are reported inside one read-side section of the
 * queue's synchronize (RCU for the core, SRCU for the baseline), so a flush
 * or detach never finds half a generated group.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>

#include "iopfq_kmod.h"

#define GRPIDS (IOPFQ_GRPID_MAX + 1)

static enum hrtimer_restart gen_timer_fn(struct hrtimer *t);

struct iopfq_sim_global iopfq_sim_global;

/**
 * iopfq_sim_check_attach - validate an attach request
 * @a: the request
 *
 * Context: any. Return: 0 or -EINVAL.
 */
int iopfq_sim_check_attach(const struct iopfq_ioc_attach *a)
{
	if (a->flags & ~(IOPFQ_ATTACH_NO_PASID | IOPFQ_ATTACH_TEST_REENTER))
		return -EINVAL;
	if (!a->credits || a->credits > IOPFQ_IOC_MAX_BUDGET)
		return -EINVAL;
	if (!a->group_size || a->group_size > min(a->credits, IOPFQ_IOC_MAX_GROUP))
		return -EINVAL;
	if (a->flags & IOPFQ_ATTACH_NO_PASID)
		return a->npasids == 1 && a->pasid_base == 0 ? 0 : -EINVAL;
	if (!a->npasids || a->npasids > IOPFQ_IOC_MAX_PASIDS ||
	    a->pasid_base > IOPFQ_PASID_MAX - (a->npasids - 1))
		return -EINVAL;
	return 0;
}

/**
 * iopfq_sim_check_request - validate a page request the simulated IOMMU
 * was asked to inject as device @sd: what a real one could decode from a
 * PRI message, with a PASID the device uses (none for a device attached
 * with IOPFQ_ATTACH_NO_PASID, else one of its pasid_base .. + npasids - 1):
 * the device keeps its outstanding groups by (PASID, group index) of its
 * own range, and could not give a page of another PASID its credit back
 * @sd: the device
 * @r: the request
 *
 * Context: any. Return: 0 or -EINVAL.
 */
int iopfq_sim_check_request(const struct iopfq_simdev *sd, const struct iopfq_request *r)
{
	const u32 perms = IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE |
			  IOPFQ_PGFAULT_PERM_EXEC | IOPFQ_PGFAULT_PERM_PRIV;
	bool pasid_valid = r->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID;

	if (r->flags & ~(IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE))
		return -EINVAL;
	if (r->grpid > IOPFQ_GRPID_MAX || (r->perm & ~perms))
		return -EINVAL;
	if (pasid_valid ? r->pasid > IOPFQ_PASID_MAX : r->pasid != 0)
		return -EINVAL;
	if (sd->flags & IOPFQ_ATTACH_NO_PASID)
		return pasid_valid ? -EINVAL : 0;
	if (!pasid_valid || r->pasid < sd->pasid_base || r->pasid - sd->pasid_base >= sd->npasids)
		return -EINVAL;
	return 0;
}

/**
 * iopfq_sim_is_marker - @r is a Stop Marker (last page, neither read nor
 * write): it asks for no answer, so it takes no credit of the device
 * @r: the request
 *
 * Context: any.
 */
bool iopfq_sim_is_marker(const struct iopfq_request *r)
{
	return (r->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) &&
	       !(r->perm & (IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE));
}

/**
 * iopfq_sim_alloc - allocate a simulated device for file @f
 * @f: the queue it will be attached to
 * @a: validated by iopfq_sim_check_attach()
 *
 * Context: process; sleeps. Return: the device or ERR_PTR(-ENOMEM).
 */
struct iopfq_simdev *iopfq_sim_alloc(struct iopfq_file *f, const struct iopfq_ioc_attach *a)
{
	struct iopfq_simdev *sd;

	sd = kzalloc(sizeof(*sd), GFP_KERNEL_ACCOUNT);
	if (!sd)
		return ERR_PTR(-ENOMEM);
	sd->nslots = a->npasids * GRPIDS;
	sd->grp_ts = kvcalloc(sd->nslots, sizeof(*sd->grp_ts), GFP_KERNEL_ACCOUNT);
	sd->grp_pages = kvcalloc(sd->nslots, sizeof(*sd->grp_pages), GFP_KERNEL_ACCOUNT);
	sd->grp_last = kvcalloc(BITS_TO_LONGS(sd->nslots), sizeof(long), GFP_KERNEL_ACCOUNT);
	if (!sd->grp_ts || !sd->grp_pages || !sd->grp_last) {
		kvfree(sd->grp_ts);
		kvfree(sd->grp_pages);
		kvfree(sd->grp_last);
		kfree(sd);
		return ERR_PTR(-ENOMEM);
	}
	INIT_LIST_HEAD(&sd->node);
	sd->file = f;
	sd->dev_id = a->dev_id;
	sd->credits = a->credits;
	sd->pasid_base = a->pasid_base;
	sd->npasids = a->npasids;
	sd->group_size = a->group_size;
	sd->flags = a->flags;
	init_waitqueue_head(&sd->credit_wq);
	hrtimer_init(&sd->gen_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	sd->gen_timer.function = gen_timer_fn;
	atomic64_inc(&iopfq_sim_global.simdev_allocs);
	return sd;
}

/* Index of (@pasid, @grpid) in the device's tables, or -1 if not its own. */
static int slot_of(const struct iopfq_simdev *sd, u32 pasid, u32 grpid)
{
	if (grpid >= GRPIDS || pasid < sd->pasid_base || pasid - sd->pasid_base >= sd->npasids)
		return -1;
	return (pasid - sd->pasid_base) * GRPIDS + grpid;
}

/* Forget outstanding groups of the slots [from, to): their pages are gone. */
static void forget_slots(struct iopfq_simdev *sd, u32 from, u32 to)
{
	u32 i;

	for (i = from; i < to; i++) {
		int pages;

		if (!atomic64_read(&sd->grp_ts[i]))
			continue;
		clear_bit(i, sd->grp_last);
		atomic64_set(&sd->grp_ts[i], 0);
		pages = atomic_xchg(&sd->grp_pages[i], 0);
		atomic_sub(pages, &sd->credits_used);
	}
}

/**
 * iopfq_sim_free - fold a detached device's counters into the module's and
 * free it
 * @sd: detached; its generator stopped; no answer for it in flight
 *
 * Context: process.
 */
void iopfq_sim_free(struct iopfq_simdev *sd)
{
	/* partial groups dropped by the detach: the device stops waiting */
	forget_slots(sd, 0, sd->nslots);
	atomic64_add(atomic64_read(&sd->sent_groups), &iopfq_sim_global.sim_sent_groups);
	atomic64_add(atomic64_read(&sd->sent_pages), &iopfq_sim_global.sim_sent_pages);
	atomic64_add(atomic64_read(&sd->answered_groups), &iopfq_sim_global.sim_answered_groups);
	atomic64_add(atomic64_read(&sd->answered_pages), &iopfq_sim_global.sim_answered_pages);
	atomic64_add(atomic64_read(&sd->answered_invalid), &iopfq_sim_global.sim_answered_invalid);
	atomic64_add(atomic64_read(&sd->duplicates), &iopfq_sim_global.sim_duplicates);
	atomic64_add(atomic_read(&sd->credits_used), &iopfq_sim_global.sim_credits_leaked);
	atomic64_inc(&iopfq_sim_global.simdev_frees);
	kvfree(sd->grp_ts);
	kvfree(sd->grp_pages);
	kvfree(sd->grp_last);
	kfree(sd);
}

/**
 * iopfq_sim_find - the device of file @f with id @dev_id
 * @f: the file
 * @dev_id: the id
 *
 * Context: f->lock held. Return: the device or NULL.
 */
struct iopfq_simdev *iopfq_sim_find(struct iopfq_file *f, u32 dev_id)
{
	struct iopfq_simdev *sd;

	list_for_each_entry(sd, &f->devs, node)
		if (sd->dev_id == dev_id)
			return sd;
	return NULL;
}

/**
 * iopfq_sim_page_begin - the device is about to report page @r (not a Stop
 * Marker; its key checked by iopfq_sim_check_request())
 * @sd: the device
 * @r: the page request
 *
 * Records the report time if this is the group's first page, and that the
 * group is complete if it is the last (what a Stop Marker spares).
 * Context: any. Return: true if it was the first page.
 */
bool iopfq_sim_page_begin(struct iopfq_simdev *sd, const struct iopfq_request *r)
{
	int s = slot_of(sd, r->pasid, r->grpid);
	bool first;

	if (WARN_ON_ONCE(s < 0))
		return false;
	first = atomic64_cmpxchg(&sd->grp_ts[s], 0, ktime_get_ns()) == 0;
	atomic_inc(&sd->grp_pages[s]);
	if (r->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
		set_bit(s, sd->grp_last);
	return first;
}

/**
 * iopfq_sim_page_undo - the page announced by iopfq_sim_page_begin() was refused
 * @sd: the device
 * @r: the page request
 * @first: what iopfq_sim_page_begin() returned
 *
 * Context: any.
 */
void iopfq_sim_page_undo(struct iopfq_simdev *sd, const struct iopfq_request *r, bool first)
{
	int s = slot_of(sd, r->pasid, r->grpid);

	if (s < 0)
		return;
	if (r->flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
		clear_bit(s, sd->grp_last);
	atomic_dec(&sd->grp_pages[s]);
	if (first)
		atomic64_set(&sd->grp_ts[s], 0);
}

/**
 * iopfq_sim_marker - the queue took a Stop Marker of @sd for @pasid: it
 * dropped that PASID's partial groups without an answer (the core's
 * marker drain), so the device stops waiting for them and takes their
 * credits back; its complete groups stay outstanding
 * @sd: the device; its generator stopped (a generated group is partial
 *	only while its pages are being reported)
 * @pasid: the marker's PASID
 *
 * The device counts them free from the marker on, as hardware that sent a
 * Stop Marker does; the core counts them free when it drains the marker
 * (its next consumer-side call that drains the ring: a read or poll, a
 * flush or detach), so a page injected in between may find the core's
 * count still full (-EDQUOT).
 * Context: f->lock held.
 */
void iopfq_sim_marker(struct iopfq_simdev *sd, u32 pasid)
{
	int s = slot_of(sd, pasid, 0);
	u32 i;

	if (s < 0)
		return;
	for (i = s; i < s + GRPIDS; i++)
		if (!test_bit(i, sd->grp_last))
			forget_slots(sd, i, i + 1);
}

/**
 * iopfq_sim_forget_pasid - a flush removed every group of a PASID
 * @sd: the device; its generator stopped
 * @pasid_valid: false for requests without PASID
 * @pasid: the PASID
 *
 * Groups still outstanding there were dropped without an answer (partial
 * groups, or all of them for a Stop Marker flush): the device stops
 * waiting for them and takes their credits back.
 * Context: f->lock held.
 */
void iopfq_sim_forget_pasid(struct iopfq_simdev *sd, bool pasid_valid, u32 pasid)
{
	int s;

	if (pasid_valid == !!(sd->flags & IOPFQ_ATTACH_NO_PASID))
		return;
	s = slot_of(sd, pasid, 0);
	if (s >= 0)
		forget_slots(sd, s, s + GRPIDS);
}

static void atomic64_max(atomic64_t *v, u64 x)
{
	s64 old = atomic64_read(v);

	while ((u64)old < x) {
		s64 seen = atomic64_cmpxchg(v, old, x);

		if (seen == old)
			break;
		old = seen;
	}
}

/**
 * iopfq_sim_page_response - a Page Group Response reaches a device
 * @owner: the file (unused: the device is @resp->dev_ctx)
 * @resp: the response; dev_ctx is the struct iopfq_simdev, npages the
 *	credits coming back, code an enum iopfq_hw_code
 *
 * Context: any thread, any number at once (the queue's page_response
 * callback, iopfq_respond_fn).
 */
void iopfq_sim_page_response(void *owner, const struct iopfq_response *resp)
{
	struct iopfq_simdev *sd = resp->dev_ctx;
	u32 npages = resp->npages, code = resp->code;
	int s = slot_of(sd, resp->pasid, resp->grpid);
	u64 ts = 0;

	if (s >= 0) {
		clear_bit(s, sd->grp_last);
		ts = atomic64_xchg(&sd->grp_ts[s], 0);
		if (!ts) {
			atomic64_inc(&sd->duplicates);
			return;
		}
		atomic_sub(npages, &sd->grp_pages[s]);
	}
	atomic_sub(npages, &sd->credits_used);
	atomic64_inc(&sd->answered_groups);
	atomic64_add(npages, &sd->answered_pages);
	if (code == IOPFQ_HW_SUCCESS)
		atomic64_inc(&sd->answered_success);
	else if (code == IOPFQ_HW_INVALID)
		atomic64_inc(&sd->answered_invalid);
	else
		atomic64_inc(&sd->answered_failure);
	if (ts) {
		u64 lat = ktime_get_ns() - ts;

		atomic64_inc(&sd->hist[min(iopfq_hist_index(lat), IOPFQ_HIST_BUCKETS - 1)]);
		atomic64_inc(&sd->lat_count);
		atomic64_add(lat, &sd->lat_sum);
		atomic64_max(&sd->lat_max, lat);
	}
	/* test only: a callback that calls back into its queue's consumer side */
	if ((sd->flags & IOPFQ_ATTACH_TEST_REENTER) && !in_interrupt()) {
		struct iopfq_file *f = sd->file;

		atomic64_set(&sd->test_reenter_rc, f->be->age_scan(f->q, U64_MAX));
		atomic64_inc(&sd->test_reenter_calls);
	}
	/* pairs with the generator's wait: wq_has_sleeper() has the barrier */
	if (wq_has_sleeper(&sd->credit_wq))
		wake_up(&sd->credit_wq);
}

/**
 * iopfq_sim_stats - fill @st with device @sd's counters
 * @sd: the device
 * @st: out
 *
 * Context: any.
 */
void iopfq_sim_stats(struct iopfq_simdev *sd, struct iopfq_ioc_dev_stats *st)
{
	st->sent_groups = atomic64_read(&sd->sent_groups);
	st->sent_pages = atomic64_read(&sd->sent_pages);
	st->answered_groups = atomic64_read(&sd->answered_groups);
	st->answered_pages = atomic64_read(&sd->answered_pages);
	st->answered_success = atomic64_read(&sd->answered_success);
	st->answered_invalid = atomic64_read(&sd->answered_invalid);
	st->answered_failure = atomic64_read(&sd->answered_failure);
	st->duplicates = atomic64_read(&sd->duplicates);
	st->refused = atomic64_read(&sd->refused);
	st->throttled = atomic64_read(&sd->throttled);
	st->credits_outstanding = atomic_read(&sd->credits_used);
	st->lat_count = atomic64_read(&sd->lat_count);
	st->lat_sum_ns = atomic64_read(&sd->lat_sum);
	st->lat_max_ns = atomic64_read(&sd->lat_max);
	st->test_reenter_rc = atomic64_read(&sd->test_reenter_rc);
	st->test_reenter_calls = atomic64_read(&sd->test_reenter_calls);
}

/* ---------------------------------------------------------------------- */
/* generators                                                              */

static bool gen_has_credits(struct iopfq_simdev *sd)
{
	return atomic_read(&sd->credits_used) + sd->group_size <= sd->credits;
}

struct gen_arg {
	struct iopfq_simdev *sd;
	struct iopfq_request *req;
	u32 slot;
	u32 sent;
};

/* Report every page of a group, in one read-side section. */
static int gen_pages(void *arg)
{
	struct gen_arg *gg = arg;
	struct iopfq_simdev *sd = gg->sd;
	struct iopfq_request *req = gg->req;
	u32 p;
	int rc;

	for (p = 0; p < sd->group_size; p++) {
		if (p + 1 == sd->group_size)
			req->flags |= IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		req->addr = ((u64)gg->slot << 24) + ((u64)p << 12);
		atomic_inc(&sd->grp_pages[gg->slot]);
		if (p + 1 == sd->group_size)
			set_bit(gg->slot, sd->grp_last);
		rc = iopfq_file_report(sd, req, NULL);
		if (rc) {
			if (p + 1 == sd->group_size)
				clear_bit(gg->slot, sd->grp_last);
			atomic_dec(&sd->grp_pages[gg->slot]);
			return rc;
		}
		gg->sent++;
	}
	return 0;
}

/*
 * Issue one group: take its credits, pick a free (PASID, group index), report
 * every page inside one read-side section. Context: any, including hard IRQ.
 * Return: 0 sent, -EAGAIN no credits or no free group index.
 */
static int gen_group(struct iopfq_simdev *sd)
{
	struct iopfq_file *f = sd->file;
	struct iopfq_request req;
	u32 p, tries, s = 0, pasid;
	struct gen_arg gg;
	u64 now;
	int rc;

	if (atomic_add_return(sd->group_size, &sd->credits_used) > sd->credits) {
		atomic_sub(sd->group_size, &sd->credits_used);
		atomic64_inc(&sd->throttled);
		return -EAGAIN;
	}
	now = ktime_get_ns();
	for (tries = 0; tries < 8; tries++) {
		s = sd->gen_cursor;
		sd->gen_cursor = s + 1 < sd->nslots ? s + 1 : 0;
		if (atomic64_cmpxchg(&sd->grp_ts[s], 0, now) == 0)
			break;
	}
	if (tries == 8) {
		atomic_sub(sd->group_size, &sd->credits_used);
		atomic64_inc(&sd->throttled);
		return -EAGAIN;
	}
	pasid = sd->pasid_base + s / GRPIDS;
	req.flags = (sd->flags & IOPFQ_ATTACH_NO_PASID) ? 0 : IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	req.pasid = (sd->flags & IOPFQ_ATTACH_NO_PASID) ? 0 : pasid;
	req.grpid = s % GRPIDS;
	req.perm = IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE;

	gg.sd = sd;
	gg.req = &req;
	gg.slot = s;
	gg.sent = 0;
	rc = iopfq_file_report_section(f, gen_pages, &gg);
	p = gg.sent;

	if (rc) {
		/* a well-behaved device is never refused: count it, return what was not sent */
		atomic64_inc(&sd->refused);
		atomic_sub(sd->group_size - p, &sd->credits_used);
		if (!p)
			atomic64_set(&sd->grp_ts[s], 0);
		atomic64_add(p, &sd->sent_pages);
		return 0;
	}
	atomic64_add(sd->group_size, &sd->sent_pages);
	atomic64_inc(&sd->sent_groups);
	sd->gen_sent++;
	return 0;
}

static bool gen_done(const struct iopfq_simdev *sd)
{
	return sd->gen_max_groups && sd->gen_sent >= sd->gen_max_groups;
}

static enum hrtimer_restart gen_timer_fn(struct hrtimer *t)
{
	struct iopfq_simdev *sd = container_of(t, struct iopfq_simdev, gen_timer);
	u32 i;

	if (!READ_ONCE(sd->gen_running))
		return HRTIMER_NORESTART;
	for (i = 0; i < sd->gen_burst && !gen_done(sd); i++)
		gen_group(sd);
	if (gen_done(sd))
		return HRTIMER_NORESTART;
	hrtimer_forward_now(t, ns_to_ktime(sd->gen_period_ns));
	return HRTIMER_RESTART;
}

static int gen_thread_fn(void *arg)
{
	struct iopfq_simdev *sd = arg;
	ktime_t next = ktime_get();

	while (!kthread_should_stop() && !gen_done(sd)) {
		u32 i;

		for (i = 0; i < sd->gen_burst && !gen_done(sd); i++) {
			if (!sd->gen_period_ns) {
				/* closed loop: wait for answers to bring credits back */
				wait_event_interruptible_timeout(sd->credit_wq,
								 gen_has_credits(sd) ||
								 kthread_should_stop(),
								 HZ / 10);
				if (kthread_should_stop())
					break;
			}
			gen_group(sd);
		}
		if (sd->gen_period_ns) {
			next = ktime_add_ns(next, sd->gen_period_ns);
			set_current_state(TASK_INTERRUPTIBLE);
			if (!kthread_should_stop())
				schedule_hrtimeout(&next, HRTIMER_MODE_ABS);
			__set_current_state(TASK_RUNNING);
		} else {
			cond_resched();
		}
	}
	/* kthread_stop() wants the thread alive: wait for it */
	while (!kthread_should_stop()) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (!kthread_should_stop())
			schedule();
		__set_current_state(TASK_RUNNING);
	}
	return 0;
}

/**
 * iopfq_sim_gen_start - start device @sd's generator as @g says
 * @sd: the device
 * @g: kind, period, burst, limit
 *
 * Context: f->lock held; process.
 * Return: 0; -EINVAL bad kind, period or burst (1 .. IOPFQ_IOC_MAX_BURST;
 * hrtimer: burst * group_size <= min(credits, IOPFQ_IOC_MAX_IRQ_PAGES));
 * -EBUSY one runs already;
 * the kthread's creation error.
 */
int iopfq_sim_gen_start(struct iopfq_simdev *sd, const struct iopfq_ioc_gen *g)
{
	struct task_struct *task;

	if (g->kind != IOPFQ_GEN_KTHREAD && g->kind != IOPFQ_GEN_HRTIMER)
		return -EINVAL;
	if (!g->burst || g->burst > IOPFQ_IOC_MAX_BURST)
		return -EINVAL;
	/* what one hard-IRQ callback reports: no more than one interrupt could find */
	if (g->kind == IOPFQ_GEN_HRTIMER &&
	    g->burst * sd->group_size > min(sd->credits, IOPFQ_IOC_MAX_IRQ_PAGES))
		return -EINVAL;
	if (g->period_ns > NSEC_PER_SEC ||
	    (g->kind == IOPFQ_GEN_HRTIMER && g->period_ns < 1000))
		return -EINVAL;
	if (sd->gen_running)
		return -EBUSY;
	sd->gen_kind = g->kind;
	sd->gen_period_ns = g->period_ns;
	sd->gen_burst = g->burst;
	sd->gen_max_groups = g->max_groups;
	sd->gen_sent = 0;
	if (g->kind == IOPFQ_GEN_KTHREAD) {
		task = kthread_run(gen_thread_fn, sd, "iopfq-gen/%u", sd->dev_id);
		if (IS_ERR(task))
			return PTR_ERR(task);
		sd->gen_task = task;
	} else {
		WRITE_ONCE(sd->gen_running, true);
		hrtimer_start(&sd->gen_timer, ns_to_ktime(g->period_ns), HRTIMER_MODE_REL_HARD);
	}
	WRITE_ONCE(sd->gen_running, true);
	return 0;
}

/**
 * iopfq_sim_gen_stop - stop device @sd's generator; returns when it has
 * stopped reporting
 * @sd: the device
 *
 * Context: f->lock held; process; sleeps.
 */
void iopfq_sim_gen_stop(struct iopfq_simdev *sd)
{
	if (!sd->gen_running)
		return;
	WRITE_ONCE(sd->gen_running, false);
	if (sd->gen_kind == IOPFQ_GEN_KTHREAD) {
		kthread_stop(sd->gen_task);
		sd->gen_task = NULL;
	} else {
		hrtimer_cancel(&sd->gen_timer);
	}
}
