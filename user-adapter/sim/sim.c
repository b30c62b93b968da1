/* SPDX-License-Identifier: MIT */
/*
 * sim.c - the PRI device simulator of sim.h: simulated devices on producer
 * threads, a VMM-style consumer thread on the fault FD, the answer
 * bookkeeping, the end-of-run self-checks, and the trace-file reader.
 *
 * May touch: the fault object it creates (report, read, write, attach,
 * detach, counters, destroy), the threads it starts, and the memory it
 * allocates (struct sim, the result). Nothing in the producer loop
 * allocates or takes a lock of ours.
 *
 * Who writes what during a run:
 *   struct sim_dev, producer part    its producer thread only
 *   sim_dev.grp[i].busy, .inflight    producer sets, page_response clears
 *                                     (release/acquire pairs, see below)
 *   sim_dev, answer part, s->lat      page_response: the consumer thread
 *                                     (iopfq_fault_write), or the
 *                                     controller after the consumer exited
 *   s->answered_*, s->refused_total   atomics, for the progress line
 *
 * A group's slot grp[grpid] is filled, then published with busy = 1
 * (release) before its first page is reported; page_response reads busy
 * (acquire), checks the slot, clears busy (release), then gives the pages
 * back to inflight (release). The producer reuses a slot only after it saw
 * busy == 0 (acquire), so a device never has two groups in flight with one
 * group index, as PCIe requires.
 *
 * Why the consumer is not examples/vmm_loop.c's loop: that loop is kept a
 * single self-contained file that also compiles against the real iommufd
 * (VMM_USE_IOMMUFD); this one has the same shape (epoll, read until 0,
 * one answer per cookie run, short-write handling) plus the INVALID rule,
 * a busy-poll variant and counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "sim.h"

#define NGRP (IOPFQ_GRPID_MAX + 1)  /* group indices per device */
#define BATCH 512                   /* records per consumer read: > any group */
#define PAGE_SHIFT 12
#define WINDOW_PAGES (1u << 18)     /* 1 GiB of 4 KiB pages per device */
#define NSEC 1000000000ull

struct sim_grp {
	uint64_t t0;       /* issue (closed) or intended send time (open), ns */
	uint32_t pasid;
	uint32_t npages;
	uint32_t expect;   /* IOPFQ_HW_SUCCESS or IOPFQ_HW_INVALID */
	int busy;          /* in flight: set by the producer, cleared by the answer */
};

struct sim;

struct sim_dev {
	/* set before the threads start */
	struct sim *s;
	unsigned int idx;
	uint32_t dev_id;
	iopfq_dev_t handle;
	uint32_t misbehave;
	uint64_t period_ns;

	/* producer thread only */
	uint64_t rng;
	uint64_t seq_page;
	size_t trace_pos;
	uint32_t next_grpid;
	uint32_t next_pasid;
	uint32_t pending_size; /* size of the next group, 0: not drawn yet */
	uint64_t next_send;    /* open loop */
	unsigned int mb_kind;  /* next misbehaviour, round robin */
	unsigned int since_mb;
	uint64_t groups_issued, pages_issued, open_backlog, report_errors;
	uint64_t attempts[IOPFQ_SIM_NR_KINDS];
	uint64_t refused[IOPFQ_SIM_NR_KINDS];
	uint64_t wrong_errno[IOPFQ_SIM_NR_KINDS];
	uint64_t over_credit_accepted, wrong_hw_answer;

	/* pages charged: producer adds, page_response subtracts */
	int inflight __attribute__((aligned(64)));

	/* page_response only */
	uint64_t groups_answered __attribute__((aligned(64)));
	uint64_t pages_answered, success, invalid, wrong_code, mismatched, duplicated;
	uint64_t late_answers; /* after the checks (detach at teardown) */

	struct sim_grp grp[NGRP];
} __attribute__((aligned(64)));

struct sim {
	const struct iopfq_sim_config *cfg;
	struct iopfq_fault *f;
	struct sim_dev *devs;
	struct iopfq_sim_result *res;
	uint64_t start_ns, end_ns;
	int stop_producers;    /* atomic */
	int stop_consumer;     /* atomic */
	int checked;           /* the checks are done: answers now are late */
	uint64_t answered_groups, answered_pages, refused_total; /* atomic */
	uint64_t unknown_ctx;  /* page_response with a dev_ctx not ours */
	uint64_t reads, writes, wakeups, errors; /* consumer thread */
};

struct sim_thread {
	struct sim *s;
	unsigned int idx;
	pthread_t tid;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *x)
{
	/* xorshift64* */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dull;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ---------------------------------------------------------------------- */
/* names                                                                   */

static const char *const kind_names[IOPFQ_SIM_NR_KINDS] = {
	[IOPFQ_SIM_OVER_CREDIT] = "over-credit",
	[IOPFQ_SIM_BAD_GRPID] = "bad-grpid",
	[IOPFQ_SIM_BAD_PASID] = "bad-pasid",
	[IOPFQ_SIM_BAD_PERM] = "bad-perm",
	[IOPFQ_SIM_STRAY_MARKER] = "stray-marker",
};

const char *iopfq_sim_kind_name(unsigned int kind)
{
	return kind < IOPFQ_SIM_NR_KINDS ? kind_names[kind] : NULL;
}

int iopfq_sim_kind_parse(const char *name)
{
	unsigned int k;

	if (!name)
		return -EINVAL;
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++)
		if (!strcmp(name, kind_names[k]))
			return (int)k;
	return -EINVAL;
}

int iopfq_sim_kind_errno(unsigned int kind)
{
	if (kind >= IOPFQ_SIM_NR_KINDS)
		return 0;
	return kind == IOPFQ_SIM_OVER_CREDIT ? -EDQUOT : -EINVAL;
}

const char *iopfq_sim_pattern_name(unsigned int pattern)
{
	static const char *const names[] = { "sequential", "random", "trace" };

	return pattern < 3 ? names[pattern] : NULL;
}

const char *iopfq_sim_mode_name(unsigned int mode)
{
	static const char *const names[] = { "closed", "open" };

	return mode < 2 ? names[mode] : NULL;
}

/* ---------------------------------------------------------------------- */
/* configuration                                                           */

int iopfq_sim_config_init(struct iopfq_sim_config *cfg)
{
	if (!cfg)
		return -EINVAL;
	memset(cfg, 0, sizeof(*cfg));
	cfg->devices = 8;
	cfg->credits = 32;
	cfg->group_min = 4;
	cfg->group_max = 4;
	cfg->pasids = 4;
	cfg->pattern = IOPFQ_SIM_RANDOM;
	cfg->mode = IOPFQ_SIM_CLOSED;
	cfg->rate = 10000.0;
	cfg->seconds = 1.0;
	cfg->threads = 1;
	cfg->misbehave_every = 4;
	cfg->drain_seconds = 10.0;
	cfg->seed = 1;
	return 0;
}

int iopfq_sim_validate(const struct iopfq_sim_config *cfg, char *err, size_t errlen)
{
	unsigned int i, maxthreads;

	if (!cfg) {
		errf(err, errlen, "no configuration");
		return -EINVAL;
	}
	if (cfg->devices < 1 || cfg->devices > IOPFQ_SIM_MAX_DEVICES) {
		errf(err, errlen, "devices must be 1..%u (got %u)", IOPFQ_SIM_MAX_DEVICES,
		     cfg->devices);
		return -EINVAL;
	}
	if (cfg->credits < 1 || cfg->credits > IOPFQ_MAX_CREDITS ||
	    (uint64_t)cfg->credits * cfg->devices > IOPFQ_MAX_CREDITS) {
		errf(err, errlen, "credits must be >= 1 and devices x credits <= %u (got %u x %u)",
		     IOPFQ_MAX_CREDITS, cfg->devices, cfg->credits);
		return -EINVAL;
	}
	if (cfg->group_min < 1 || cfg->group_min > cfg->group_max) {
		errf(err, errlen, "group sizes must be 1 <= min <= max (got %u..%u)",
		     cfg->group_min, cfg->group_max);
		return -EINVAL;
	}
	if (cfg->group_max > IOPFQ_SIM_MAX_GROUP) {
		errf(err, errlen, "a group has at most %u pages (got %u)", IOPFQ_SIM_MAX_GROUP,
		     cfg->group_max);
		return -EINVAL;
	}
	if (cfg->group_max > cfg->credits) {
		errf(err, errlen, "a group (%u pages) cannot exceed the credits (%u)",
		     cfg->group_max, cfg->credits);
		return -EINVAL;
	}
	if (cfg->pasids < 1 || cfg->pasids > IOPFQ_SIM_MAX_PASIDS) {
		errf(err, errlen, "pasids must be 1..%u (got %u)", IOPFQ_SIM_MAX_PASIDS,
		     cfg->pasids);
		return -EINVAL;
	}
	if (!iopfq_sim_pattern_name(cfg->pattern)) {
		errf(err, errlen, "unknown pattern %u", (unsigned int)cfg->pattern);
		return -EINVAL;
	}
	if (cfg->pattern == IOPFQ_SIM_TRACE &&
	    (!cfg->trace || cfg->trace_len < 1 || cfg->trace_len > IOPFQ_SIM_MAX_TRACE)) {
		errf(err, errlen, "the trace pattern needs 1..%u trace addresses",
		     IOPFQ_SIM_MAX_TRACE);
		return -EINVAL;
	}
	if (!iopfq_sim_mode_name(cfg->mode)) {
		errf(err, errlen, "unknown mode %u", (unsigned int)cfg->mode);
		return -EINVAL;
	}
	if (cfg->mode == IOPFQ_SIM_OPEN && !(cfg->rate > 0.0 && cfg->rate <= 1e9)) {
		errf(err, errlen, "rate must be > 0 and <= 1e9 groups/s per device (got %g)",
		     cfg->rate);
		return -EINVAL;
	}
	if (!(cfg->seconds > 0.0 && cfg->seconds <= IOPFQ_SIM_MAX_SECONDS)) {
		errf(err, errlen, "seconds must be > 0 and <= %g (got %g)", IOPFQ_SIM_MAX_SECONDS,
		     cfg->seconds);
		return -EINVAL;
	}
	maxthreads = cfg->devices < IOPFQ_SIM_MAX_THREADS ? cfg->devices : IOPFQ_SIM_MAX_THREADS;
	if (cfg->threads < 1 || cfg->threads > maxthreads) {
		errf(err, errlen, "threads must be 1..%u (at most one per device; got %u)",
		     maxthreads, cfg->threads);
		return -EINVAL;
	}
	if (cfg->invalid_pct > 100) {
		errf(err, errlen, "invalid percentage must be 0..100 (got %u)", cfg->invalid_pct);
		return -EINVAL;
	}
	if (cfg->misbehave) {
		for (i = 0; i < cfg->devices; i++) {
			if (cfg->misbehave[i] & ~IOPFQ_SIM_KIND_ALL) {
				errf(err, errlen, "device %u: unknown misbehaviour bits %#x", i,
				     cfg->misbehave[i]);
				return -EINVAL;
			}
		}
	}
	if (cfg->misbehave_every < 1) {
		errf(err, errlen, "misbehave_every must be >= 1");
		return -EINVAL;
	}
	if (!(cfg->drain_seconds > 0.0 && cfg->drain_seconds <= IOPFQ_SIM_MAX_SECONDS)) {
		errf(err, errlen, "drain_seconds must be > 0 (got %g)", cfg->drain_seconds);
		return -EINVAL;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* the devices                                                             */

static uint64_t next_addr(struct sim_dev *d)
{
	const struct iopfq_sim_config *cfg = d->s->cfg;
	uint64_t base = (uint64_t)(d->idx + 1) << 32;

	switch (cfg->pattern) {
	case IOPFQ_SIM_SEQUENTIAL:
		return base + ((d->seq_page++ % WINDOW_PAGES) << PAGE_SHIFT);
	case IOPFQ_SIM_TRACE: {
		uint64_t a = cfg->trace[d->trace_pos];

		if (++d->trace_pos == cfg->trace_len)
			d->trace_pos = 0;
		return a;
	}
	case IOPFQ_SIM_RANDOM:
	default:
		return base + ((rng_next(&d->rng) % WINDOW_PAGES) << PAGE_SHIFT);
	}
}

static uint32_t group_size(struct sim_dev *d)
{
	const struct iopfq_sim_config *cfg = d->s->cfg;
	uint32_t span = cfg->group_max - cfg->group_min + 1;

	if (!d->pending_size)
		d->pending_size = cfg->group_min + (uint32_t)(rng_next(&d->rng) % span);
	return d->pending_size;
}

/* Can the device send a group of @size pages now: credits and a free index? */
static int can_issue(struct sim_dev *d, uint32_t size)
{
	if (__atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE) + (int)size > (int)d->s->cfg->credits)
		return 0;
	return !__atomic_load_n(&d->grp[d->next_grpid].busy, __ATOMIC_ACQUIRE);
}

static uint32_t next_pasid(struct sim_dev *d)
{
	uint32_t p = IOPFQ_SIM_PASID_BASE + d->next_pasid;

	if (++d->next_pasid == d->s->cfg->pasids)
		d->next_pasid = 0;
	return p;
}

/* Claim the slot of the next group index for a group of @npages pages
 * whose addresses XOR to @x, and publish it. */
static struct sim_grp *grp_publish(struct sim_dev *d, uint32_t pasid, uint32_t npages,
				   uint64_t x, uint64_t t0)
{
	struct sim_grp *g = &d->grp[d->next_grpid];

	g->pasid = pasid;
	g->npages = npages;
	g->expect = iopfq_sim_group_invalid(d->dev_id, pasid, d->next_grpid, npages, x,
					    d->s->cfg->invalid_pct) ? IOPFQ_HW_INVALID :
								      IOPFQ_HW_SUCCESS;
	g->t0 = t0;
	__atomic_fetch_add(&d->inflight, (int)npages, __ATOMIC_RELAXED);
	__atomic_store_n(&g->busy, 1, __ATOMIC_RELEASE);
	return g;
}

static struct iopfq_request page_request(uint32_t pasid, uint32_t grpid, int last, uint64_t addr)
{
	struct iopfq_request r = {
		.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | (last ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
		.pasid = pasid,
		.grpid = grpid,
		.perm = IOPFQ_PGFAULT_PERM_READ | (grpid & 1 ? IOPFQ_PGFAULT_PERM_WRITE : 0),
		.addr = addr,
	};
	return r;
}

/* Issue one well-formed group of @size pages; @t0 0 means "now". */
static void issue_group(struct sim_dev *d, uint32_t size, uint64_t t0)
{
	uint64_t addrs[IOPFQ_SIM_MAX_GROUP];
	uint32_t grpid = d->next_grpid, pasid = next_pasid(d), i;
	uint64_t x = 0;

	if (size > IOPFQ_SIM_MAX_GROUP) /* validated: never */
		size = IOPFQ_SIM_MAX_GROUP;
	for (i = 0; i < size; i++) {
		addrs[i] = next_addr(d);
		x ^= addrs[i];
	}
	grp_publish(d, pasid, size, x, t0 ? t0 : now_ns());
	d->next_grpid = (grpid + 1) % NGRP;
	d->pending_size = 0;
	for (i = 0; i < size; i++) {
		struct iopfq_request req = page_request(pasid, grpid, i + 1 == size, addrs[i]);
		int rc = iopfq_fault_report(d->s->f, d->handle, &req, NULL);

		if (rc)
			d->report_errors++; /* a well-formed request refused: a bug */
	}
	d->groups_issued++;
	d->pages_issued += size;
}

/*
 * Over-credit: one-page groups back to back until the queue refuses one:
 * first the device fills its free credits (normal groups), then it goes on
 * past them. A try past them that the queue accepts is legitimate (an
 * answer had already given the credit back in the queue but not yet
 * reached the device): a normal group, counted in over_credit_accepted.
 * A burst that runs out of free group indices or tries ends without an
 * attempt being counted.
 */
static void misbehave_over_credit(struct sim_dev *d)
{
	unsigned int tries, max_tries = 4 * d->s->cfg->credits + 1;

	for (tries = 0; tries < max_tries; tries++) {
		uint32_t grpid = d->next_grpid, pasid, answer = IOPFQ_HW_NONE;
		struct iopfq_request req;
		struct sim_grp *g;
		uint64_t addr;
		int rc, past;

		if (__atomic_load_n(&d->grp[grpid].busy, __ATOMIC_ACQUIRE))
			return;
		past = __atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE) >= (int)d->s->cfg->credits;
		pasid = next_pasid(d);
		addr = next_addr(d);
		g = grp_publish(d, pasid, 1, addr, now_ns());
		req = page_request(pasid, grpid, 1, addr);
		rc = iopfq_fault_report(d->s->f, d->handle, &req, &answer);
		if (!rc) {
			d->next_grpid = (grpid + 1) % NGRP;
			if (past)
				d->over_credit_accepted++;
			d->groups_issued++;
			d->pages_issued++;
			continue;
		}
		/* refused: no answer will come; take the slot back */
		__atomic_store_n(&g->busy, 0, __ATOMIC_RELAXED);
		__atomic_fetch_sub(&d->inflight, 1, __ATOMIC_RELAXED);
		d->attempts[IOPFQ_SIM_OVER_CREDIT]++;
		if (rc == -EDQUOT) {
			d->refused[IOPFQ_SIM_OVER_CREDIT]++;
			__atomic_fetch_add(&d->s->refused_total, 1, __ATOMIC_RELAXED);
			if (answer != IOPFQ_HW_SUCCESS)
				d->wrong_hw_answer++;
		} else {
			d->wrong_errno[IOPFQ_SIM_OVER_CREDIT]++;
		}
		return;
	}
}

/* One malformed request of @kind (not over-credit): must be -EINVAL. */
static void misbehave_invalid(struct sim_dev *d, unsigned int kind)
{
	struct iopfq_request req = page_request(IOPFQ_SIM_PASID_BASE, d->next_grpid, 1,
						(uint64_t)(d->idx + 1) << 32);
	uint64_t r = rng_next(&d->rng);
	int rc;

	switch (kind) {
	case IOPFQ_SIM_BAD_GRPID:
		req.grpid = NGRP + (uint32_t)(r % (UINT32_MAX - NGRP));
		break;
	case IOPFQ_SIM_BAD_PASID:
		if (r & 1)
			req.pasid = IOPFQ_PASID_MAX + 1 + (uint32_t)((r >> 1) % 4096);
		else
			req.flags &= ~IOPFQ_PGFAULT_FLAGS_PASID_VALID; /* a PASID, not valid */
		break;
	case IOPFQ_SIM_BAD_PERM:
		req.perm |= 1u << (4 + (unsigned int)(r % 28));
		break;
	case IOPFQ_SIM_STRAY_MARKER:
		req.flags = IOPFQ_PGFAULT_FLAGS_LAST_PAGE;
		req.pasid = 0;
		req.perm = 0;
		break;
	default:
		return;
	}
	d->attempts[kind]++;
	rc = iopfq_fault_report(d->s->f, d->handle, &req, NULL);
	if (rc == iopfq_sim_kind_errno(kind)) {
		d->refused[kind]++;
		__atomic_fetch_add(&d->s->refused_total, 1, __ATOMIC_RELAXED);
	} else {
		d->wrong_errno[kind]++;
	}
}

/* After a normal group: every misbehave_every groups, the next enabled kind. */
static void maybe_misbehave(struct sim_dev *d)
{
	unsigned int k;

	if (!d->misbehave || ++d->since_mb < d->s->cfg->misbehave_every)
		return;
	d->since_mb = 0;
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		unsigned int kind = (d->mb_kind + k) % IOPFQ_SIM_NR_KINDS;

		if (d->misbehave & (1u << kind)) {
			d->mb_kind = kind + 1;
			if (kind == IOPFQ_SIM_OVER_CREDIT)
				misbehave_over_credit(d);
			else
				misbehave_invalid(d, kind);
			return;
		}
	}
}

/*
 * One turn of a device: issue what it may. Return: groups issued; lowers
 * *@wake to the next intended send time when the device waits for time.
 */
static unsigned int dev_step(struct sim_dev *d, uint64_t now, uint64_t *wake)
{
	const struct iopfq_sim_config *cfg = d->s->cfg;
	unsigned int n = 0;

	while (n < 8) {
		uint32_t size = group_size(d);

		if (cfg->mode == IOPFQ_SIM_OPEN && d->next_send > now) {
			if (d->next_send < *wake)
				*wake = d->next_send;
			break;
		}
		if (!can_issue(d, size))
			break;
		if (cfg->mode == IOPFQ_SIM_OPEN) {
			issue_group(d, size, d->next_send);
			d->next_send += d->period_ns;
		} else {
			issue_group(d, size, 0);
		}
		n++;
		maybe_misbehave(d);
	}
	return n;
}

static void *producer_main(void *arg)
{
	struct sim_thread *t = arg;
	struct sim *s = t->s;
	const struct iopfq_sim_config *cfg = s->cfg;
	unsigned int i;

	iopfq_thread_register();
	for (;;) {
		uint64_t now = now_ns(), wake = UINT64_MAX;
		unsigned int issued = 0;

		if (now >= s->end_ns || __atomic_load_n(&s->stop_producers, __ATOMIC_ACQUIRE))
			break;
		for (i = t->idx; i < cfg->devices; i += cfg->threads)
			issued += dev_step(&s->devs[i], now, &wake);
		if (issued)
			continue;
		if (wake != UINT64_MAX && wake > now + 100000) {
			/* every device waits for its next send time: sleep to it */
			struct timespec ts;
			uint64_t until = wake < s->end_ns ? wake : s->end_ns;

			until -= 20000; /* timer slack */
			ts.tv_sec = (time_t)(until / NSEC);
			ts.tv_nsec = (long)(until % NSEC);
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		} else {
			sched_yield(); /* waiting for answers (credits), or nearly due */
		}
	}
	/* open loop: what was due but could not be sent (credits were short) */
	if (cfg->mode == IOPFQ_SIM_OPEN) {
		for (i = t->idx; i < cfg->devices; i += cfg->threads) {
			struct sim_dev *d = &s->devs[i];

			if (d->next_send < s->end_ns)
				d->open_backlog = (s->end_ns - d->next_send + d->period_ns - 1) /
						  d->period_ns;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* answers reaching the devices                                            */

static void on_page_response(void *arg, const struct iopfq_response *r)
{
	struct sim *s = arg;
	struct sim_dev *d;
	struct sim_grp *g;
	uintptr_t off;

	if (!s || !r)
		return;
	d = r->dev_ctx;
	off = (uintptr_t)d - (uintptr_t)s->devs;
	if (!d || (uintptr_t)d < (uintptr_t)s->devs || off % sizeof(*d) ||
	    off / sizeof(*d) >= s->cfg->devices) {
		s->unknown_ctx++;
		return;
	}
	if (s->checked) {
		d->late_answers++;
		return;
	}
	if (r->grpid >= NGRP) {
		d->mismatched++;
		return;
	}
	g = &d->grp[r->grpid];
	if (!__atomic_load_n(&g->busy, __ATOMIC_ACQUIRE)) {
		d->duplicated++;
		return;
	}
	if (r->origin != IOPFQ_ANSWER_USER || r->npages != g->npages || r->pasid != g->pasid ||
	    r->dev_id != d->dev_id || !(r->flags & IOPFQ_PGFAULT_FLAGS_PASID_VALID))
		d->mismatched++;
	if (r->code != g->expect)
		d->wrong_code++;
	if (r->code == IOPFQ_HW_INVALID)
		d->invalid++;
	else
		d->success++;
	if (r->origin == IOPFQ_ANSWER_USER)
		iopfq_hist_record(&s->res->lat, now_ns() - g->t0);
	d->groups_answered++;
	d->pages_answered += g->npages;
	__atomic_fetch_add(&s->answered_groups, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&s->answered_pages, g->npages, __ATOMIC_RELAXED);
	/* the producer may reuse the index once it sees busy == 0 */
	__atomic_store_n(&g->busy, 0, __ATOMIC_RELEASE);
	__atomic_fetch_sub(&d->inflight, (int)g->npages, __ATOMIC_RELEASE);
}

/* ---------------------------------------------------------------------- */
/* the consumer: a VMM's fault loop                                        */

/* Answer the groups in @recs (@n records; a group's records are adjacent
 * and share a cookie) by the INVALID rule. */
static void answer_batch(struct sim *s, const struct iopfq_hwpt_pgfault *recs, size_t n)
{
	struct iopfq_hwpt_page_response resp[BATCH];
	size_t i, first = 0, nresp = 0, done = 0;
	uint64_t x = 0;

	for (i = 0; i < n; i++) {
		x ^= recs[i].addr;
		if (i + 1 < n && recs[i + 1].cookie == recs[i].cookie)
			continue;
		resp[nresp].cookie = recs[i].cookie;
		resp[nresp].code = iopfq_sim_group_invalid(recs[first].dev_id, recs[first].pasid,
							   recs[first].grpid,
							   (uint32_t)(i + 1 - first), x,
							   s->cfg->invalid_pct) ?
					   IOPFQ_PAGE_RESP_INVALID :
					   IOPFQ_PAGE_RESP_SUCCESS;
		nresp++;
		first = i + 1;
		x = 0;
	}
	while (done < nresp) {
		ssize_t w = iopfq_fault_write(s->f, resp + done,
					      (nresp - done) * IOPFQ_FAULT_RESPONSE_SIZE);

		s->writes++;
		if (w <= 0) {
			s->errors++; /* refused answer: skip it */
			done++;
			continue;
		}
		done += (size_t)w / IOPFQ_FAULT_RESPONSE_SIZE;
	}
}

/* Read and answer until the queue is empty. Return: records read. */
static size_t drain_fd(struct sim *s)
{
	struct iopfq_hwpt_pgfault recs[BATCH];
	size_t total = 0;

	for (;;) {
		ssize_t len = iopfq_fault_read(s->f, recs, sizeof(recs));

		s->reads++;
		if (len < 0) {
			s->errors++;
			return total;
		}
		if (len == 0)
			return total;
		total += (size_t)len / IOPFQ_FAULT_RECORD_SIZE;
		answer_batch(s, recs, (size_t)len / IOPFQ_FAULT_RECORD_SIZE);
	}
}

static void *consumer_main(void *arg)
{
	struct sim *s = arg;
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned int idle = 0;
	int epfd = -1;

	if (!s->cfg->busy_poll) {
		epfd = epoll_create1(EPOLL_CLOEXEC);
		if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, iopfq_fault_fd(s->f), &ev) < 0) {
			s->errors++;
			if (epfd >= 0)
				close(epfd);
			epfd = -1; /* fall back to polling: the run still completes */
		}
	}
	while (!__atomic_load_n(&s->stop_consumer, __ATOMIC_ACQUIRE)) {
		if (epfd >= 0) {
			int n = epoll_wait(epfd, &ev, 1, 20);

			if (n < 0 && errno != EINTR)
				s->errors++;
			if (n <= 0)
				continue;
			s->wakeups++;
			drain_fd(s);
			continue;
		}
		/* busy poll: spin on read; yield now and then, the CPUs are shared */
		if (drain_fd(s)) {
			idle = 0;
			continue;
		}
		if (++idle % 256 == 0)
			sched_yield();
		else
			cpu_relax();
	}
	if (epfd >= 0)
		close(epfd);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* the run                                                                 */

static void add_check(struct iopfq_sim_result *res, const char *name, int ok, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));

static void add_check(struct iopfq_sim_result *res, const char *name, int ok, const char *fmt,
		      ...)
{
	struct iopfq_sim_check *c;
	va_list ap;

	if (res->nchecks >= IOPFQ_SIM_MAX_CHECKS)
		return;
	c = &res->checks[res->nchecks++];
	c->name = name;
	c->ok = ok;
	va_start(ap, fmt);
	vsnprintf(c->detail, sizeof(c->detail), fmt, ap);
	va_end(ap);
	if (!ok)
		res->ok = 0;
}

static void collect(struct sim *s)
{
	const struct iopfq_sim_config *cfg = s->cfg;
	struct iopfq_sim_result *res = s->res;
	struct iopfq_sim_dev_result *dr;
	unsigned int i, k, g;

	for (i = 0; i < cfg->devices; i++) {
		struct sim_dev *d = &s->devs[i];

		res->groups_issued += d->groups_issued;
		res->pages_issued += d->pages_issued;
		res->groups_answered += d->groups_answered;
		res->pages_answered += d->pages_answered;
		res->answered_success += d->success;
		res->answered_invalid += d->invalid;
		res->wrong_code += d->wrong_code;
		res->mismatched += d->mismatched;
		res->duplicated += d->duplicated;
		res->open_backlog += d->open_backlog;
		res->over_credit_accepted += d->over_credit_accepted;
		res->wrong_hw_answer += d->wrong_hw_answer;
		for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
			res->attempts[k] += d->attempts[k];
			res->refused[k] += d->refused[k];
			res->wrong_errno[k] += d->wrong_errno[k];
		}
		dr = &res->dev[i];
		dr->groups_issued = d->groups_issued;
		dr->groups_answered = d->groups_answered;
		dr->duplicated = d->duplicated;
		for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++)
			dr->refused += d->refused[k];
		for (g = 0; g < NGRP; g++)
			dr->lost += (uint64_t)__atomic_load_n(&d->grp[g].busy, __ATOMIC_ACQUIRE);
		dr->inflight_end = __atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE);
		res->lost += dr->lost;
		res->inflight_pages_end += (uint64_t)(dr->inflight_end < 0 ? -dr->inflight_end :
									    dr->inflight_end);
	}
	res->consumer_reads = s->reads;
	res->consumer_writes = s->writes;
	res->consumer_wakeups = s->wakeups;
	res->consumer_errors = s->errors;
	iopfq_fault_counters(s->f, &res->counters, &res->stats);
	res->warnings = iopfq_warnings();
}

static void self_check(struct sim *s, uint64_t report_errors)
{
	struct iopfq_sim_result *r = s->res;
	const struct iopfq_counters *c = &r->counters;
	uint64_t inval = 0, attempts = 0, refused = 0, wrong = 0, sum;
	unsigned int k, i, bad_dev = 0, once_dev = 0, bad_once = 0, bad_credit = 0;

	r->ok = 1;
	add_check(r, "answered exactly once",
		  r->lost == 0 && r->duplicated == 0 && r->groups_answered == r->groups_issued &&
			  s->unknown_ctx == 0,
		  "issued %llu groups, answered %llu, lost %llu, duplicated %llu, foreign %llu",
		  (unsigned long long)r->groups_issued, (unsigned long long)r->groups_answered,
		  (unsigned long long)r->lost, (unsigned long long)r->duplicated,
		  (unsigned long long)s->unknown_ctx);
	add_check(r, "expected answers", r->wrong_code == 0 && r->mismatched == 0,
		  "wrong code %llu, mismatched pasid/npages/origin %llu",
		  (unsigned long long)r->wrong_code, (unsigned long long)r->mismatched);
	for (i = 0; i < s->cfg->devices; i++) {
		const struct iopfq_sim_dev_result *dr = &r->dev[i];

		if (dr->groups_issued != dr->groups_answered || dr->lost || dr->duplicated) {
			if (!bad_once++)
				once_dev = i;
		}
		if (dr->inflight_end != 0 && !bad_credit++)
			bad_dev = i;
	}
	add_check(r, "every device answered", !bad_once,
		  "%u devices with groups unanswered, lost or duplicated, first device %u",
		  bad_once, once_dev);
	add_check(r, "credits balance", !bad_credit && r->inflight_pages_end == 0,
		  "%llu pages still charged, %u devices, first device %u",
		  (unsigned long long)r->inflight_pages_end, bad_credit, bad_dev);
	for (k = 0; k < IOPFQ_SIM_NR_KINDS; k++) {
		attempts += r->attempts[k];
		refused += r->refused[k];
		wrong += r->wrong_errno[k];
		if (k != IOPFQ_SIM_OVER_CREDIT)
			inval += r->refused[k];
	}
	add_check(r, "misbehaviour refused",
		  attempts == refused && wrong == 0 && r->wrong_hw_answer == 0 &&
			  report_errors == 0,
		  "%llu tries, %llu refused with the right errno, %llu not, %llu over-credit "
		  "answers not SUCCESS, %llu well-formed requests refused",
		  (unsigned long long)attempts, (unsigned long long)refused,
		  (unsigned long long)wrong, (unsigned long long)r->wrong_hw_answer,
		  (unsigned long long)report_errors);
	add_check(r, "counters agree",
		  c->accepted == r->pages_issued && c->answered == r->pages_answered &&
			  c->groups_answered == r->groups_answered &&
			  c->groups_delivered == r->groups_answered &&
			  c->refused_over_credit == r->refused[IOPFQ_SIM_OVER_CREDIT] &&
			  c->refused_invalid == inval && c->markers_accepted == 0 &&
			  c->refused_markers == 0 && c->refused_failed == 0 &&
			  c->refused_nodev == 0 && c->bad_answers == 0 &&
			  c->groups_auto_answered == 0,
		  "queue/sim: accepted %llu/%llu, answered pages %llu/%llu, groups %llu/%llu, "
		  "delivered %llu, over-credit %llu/%llu, invalid %llu/%llu, bad answers %llu",
		  (unsigned long long)c->accepted, (unsigned long long)r->pages_issued,
		  (unsigned long long)c->answered, (unsigned long long)r->pages_answered,
		  (unsigned long long)c->groups_answered, (unsigned long long)r->groups_answered,
		  (unsigned long long)c->groups_delivered,
		  (unsigned long long)c->refused_over_credit,
		  (unsigned long long)r->refused[IOPFQ_SIM_OVER_CREDIT],
		  (unsigned long long)c->refused_invalid, (unsigned long long)inval,
		  (unsigned long long)c->bad_answers);
	sum = c->in_ring + c->partial + c->ready + c->delivered + c->answered + c->auto_answered +
	      c->discarded;
	add_check(r, "conservation",
		  c->accepted == sum && c->in_ring == 0 && c->partial == 0 && c->ready == 0 &&
			  c->delivered == 0,
		  "accepted %llu vs in_ring %llu + partial %llu + ready %llu + delivered %llu + "
		  "answered %llu + auto %llu + discarded %llu",
		  (unsigned long long)c->accepted, (unsigned long long)c->in_ring,
		  (unsigned long long)c->partial, (unsigned long long)c->ready,
		  (unsigned long long)c->delivered, (unsigned long long)c->answered,
		  (unsigned long long)c->auto_answered, (unsigned long long)c->discarded);
	add_check(r, "ring never waited", c->ring_claim_waits == 0, "ring_claim_waits %llu",
		  (unsigned long long)c->ring_claim_waits);
	add_check(r, "consumer clean", r->consumer_errors == 0,
		  "%llu failed or refused reads/writes", (unsigned long long)r->consumer_errors);
	add_check(r, "latency samples", iopfq_hist_count(&r->lat) == r->groups_answered,
		  "%llu samples for %llu answers", (unsigned long long)iopfq_hist_count(&r->lat),
		  (unsigned long long)r->groups_answered);
	add_check(r, "no core warnings", r->warnings == 0, "iopfq_warnings() = %lu", r->warnings);
}

void iopfq_sim_result_free(struct iopfq_sim_result *res)
{
	free(res);
}

int iopfq_sim_run(const struct iopfq_sim_config *cfg, struct iopfq_sim_result **resp)
{
	struct sim_thread threads[IOPFQ_SIM_MAX_THREADS];
	struct iopfq_fault_ops ops = { 0 };
	struct iopfq_config qcfg = { 0 };
	struct sim *s = NULL;
	pthread_t consumer;
	uint64_t report_errors = 0, next_progress, deadline;
	unsigned int i, started = 0;
	int rc;

	if (!cfg || !resp || iopfq_sim_validate(cfg, NULL, 0))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->res = calloc(1, sizeof(*s->res));
	s->devs = aligned_alloc(64, sizeof(*s->devs) * cfg->devices);
	if (!s->res || !s->devs) {
		rc = -ENOMEM;
		goto out_free;
	}
	memset(s->devs, 0, sizeof(*s->devs) * cfg->devices);
	iopfq_hist_init(&s->res->lat);

	qcfg.max_devices = cfg->devices;
	qcfg.credit_budget = cfg->devices * cfg->credits;
	ops.page_response = on_page_response;
	ops.arg = s;
	rc = iopfq_fault_create(&qcfg, &ops, &s->f);
	if (rc)
		goto out_free;
	for (i = 0; i < cfg->devices; i++) {
		struct sim_dev *d = &s->devs[i];

		d->s = s;
		d->idx = i;
		d->dev_id = IOPFQ_SIM_DEV_ID_BASE + i;
		d->misbehave = cfg->misbehave ? cfg->misbehave[i] : 0;
		d->rng = (cfg->seed + 1) * 0x9e3779b97f4a7c15ull ^ ((uint64_t)i << 17) ^ 0x5bd1e995u;
		if (!d->rng)
			d->rng = 1;
		d->next_pasid = i % cfg->pasids;
		d->trace_pos = cfg->pattern == IOPFQ_SIM_TRACE ?
				       (size_t)((uint64_t)i * cfg->trace_len / cfg->devices) : 0;
		d->period_ns = cfg->mode == IOPFQ_SIM_OPEN ? (uint64_t)(1e9 / cfg->rate) : 0;
		if (cfg->mode == IOPFQ_SIM_OPEN && !d->period_ns)
			d->period_ns = 1;
		rc = iopfq_fault_dev_attach(s->f, d->dev_id, cfg->credits, d, &d->handle);
		if (rc)
			goto out_destroy;
	}

	rc = -pthread_create(&consumer, NULL, consumer_main, s);
	if (rc)
		goto out_destroy;
	s->start_ns = now_ns();
	s->end_ns = s->start_ns + (uint64_t)(cfg->seconds * 1e9);
	for (i = 0; i < cfg->devices; i++)
		s->devs[i].next_send = s->start_ns;
	for (i = 0; i < cfg->threads; i++) {
		threads[i].s = s;
		threads[i].idx = i;
		rc = -pthread_create(&threads[i].tid, NULL, producer_main, &threads[i]);
		if (rc) {
			__atomic_store_n(&s->stop_producers, 1, __ATOMIC_RELEASE);
			break;
		}
		started++;
	}

	/* while the devices issue: progress about once a second */
	next_progress = s->start_ns + NSEC;
	for (;;) {
		uint64_t now = now_ns();
		struct timespec ts = { 0, 0 };
		uint64_t until;

		if (now >= s->end_ns || rc)
			break;
		if (cfg->progress && now >= next_progress) {
			struct iopfq_sim_progress p = {
				.elapsed_s = (double)(now - s->start_ns) / 1e9,
				.groups_answered = __atomic_load_n(&s->answered_groups,
								   __ATOMIC_RELAXED),
				.pages_answered = __atomic_load_n(&s->answered_pages,
								  __ATOMIC_RELAXED),
				.refused = __atomic_load_n(&s->refused_total, __ATOMIC_RELAXED),
			};

			cfg->progress(cfg->progress_arg, &p);
			next_progress += NSEC;
		}
		until = next_progress < s->end_ns ? next_progress : s->end_ns;
		if (until > now) {
			ts.tv_sec = (time_t)((until - now) / NSEC);
			ts.tv_nsec = (long)((until - now) % NSEC);
			nanosleep(&ts, NULL);
		}
	}
	for (i = 0; i < started; i++)
		pthread_join(threads[i].tid, NULL);
	s->res->issue_s = (double)(now_ns() - s->start_ns) / 1e9;

	/* drain: every group in flight is answered, or lost */
	deadline = now_ns() + (uint64_t)(cfg->drain_seconds * 1e9);
	for (;;) {
		uint64_t charged = 0;

		for (i = 0; i < cfg->devices; i++)
			charged += (uint64_t)__atomic_load_n(&s->devs[i].inflight, __ATOMIC_ACQUIRE);
		if (!charged || now_ns() >= deadline)
			break;
		usleep(200);
	}
	s->res->elapsed_s = (double)(now_ns() - s->start_ns) / 1e9;
	__atomic_store_n(&s->stop_consumer, 1, __ATOMIC_RELEASE);
	pthread_join(consumer, NULL);

	for (i = 0; i < cfg->devices; i++)
		report_errors += s->devs[i].report_errors;
	collect(s);
	self_check(s, report_errors);
	add_check(s->res, "producer threads started", started == cfg->threads,
		  "%u of %u started (%s)", started, cfg->threads, rc ? strerror(-rc) : "ok");
	s->checked = 1;

	*resp = s->res;
	s->res = NULL;
	rc = 0;
out_destroy:
	/* detach answers INVALID whatever is left: counted as late, not checked */
	iopfq_fault_destroy(s->f);
out_free:
	free(s->res);
	free(s->devs);
	free(s);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* trace files                                                             */

int iopfq_sim_trace_load(const char *path, uint64_t **addrs, size_t *n, char *err, size_t errlen)
{
	uint64_t *v = NULL;
	size_t len = 0, cap = 0, lineno = 0, linecap = 0;
	char *line = NULL;
	ssize_t got;
	FILE *fp;
	int rc = 0;

	if (!path || !addrs || !n) {
		errf(err, errlen, "no trace file");
		return -EINVAL;
	}
	fp = fopen(path, "r");
	if (!fp) {
		rc = -errno;
		errf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	while ((got = getline(&line, &linecap, fp)) >= 0) {
		char *p = line, *end;
		unsigned long long a;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
			p += 2;
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
		      (*p >= 'A' && *p <= 'F'))) {
			errf(err, errlen, "%s:%zu: not a hexadecimal address", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		errno = 0;
		a = strtoull(p, &end, 16);
		if (errno == ERANGE) {
			errf(err, errlen, "%s:%zu: address does not fit 64 bits", path, lineno);
			rc = -EINVAL;
			goto out;
		}
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end) {
			errf(err, errlen, "%s:%zu: trailing characters after the address", path,
			     lineno);
			rc = -EINVAL;
			goto out;
		}
		if (len == IOPFQ_SIM_MAX_TRACE) {
			errf(err, errlen, "%s: more than %u addresses", path, IOPFQ_SIM_MAX_TRACE);
			rc = -E2BIG;
			goto out;
		}
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			uint64_t *nv = realloc(v, ncap * sizeof(*v));

			if (!nv) {
				errf(err, errlen, "%s: out of memory", path);
				rc = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		v[len++] = a;
	}
	if (ferror(fp)) {
		errf(err, errlen, "%s: read error", path);
		rc = -EIO;
		goto out;
	}
	if (!len) {
		errf(err, errlen, "%s: no addresses", path);
		rc = -EINVAL;
	}
out:
	free(line);
	fclose(fp);
	if (rc) {
		free(v);
		return rc;
	}
	*addrs = v;
	*n = len;
	return 0;
}
