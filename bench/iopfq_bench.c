/* SPDX-License-Identifier: MIT */
/*
 * iopfq_bench.c - the flood benchmark: simulated PRI devices issue page
 * requests in groups within their credits, a queue implementation carries
 * them to one consumer thread that answers each group, and the response
 * comes back to the device through the page_response hook. Measures
 * fault-to-response latency (from the device's issue, or its intended issue
 * time in open loop, to the response reaching the device), throughput,
 * lost/duplicated answers, allocations on the fault path, peak RSS and CPU
 * counters; against physical floors and baselines measured in the same run.
 *
 * Usage: iopfq_bench [--quick] [--seconds S] [--only SUBSTR] [--impl NAME]
 *                    [--json FILE] [--data DIR] [--no-floors] [--no-stall]
 *                    [--selftest] [--perf] [--gap-us US]
 *
 * May touch: its own threads and memory; the queue implementations in
 * bench/impl_*.c; /proc/self/clear_refs (peak RSS reset); perf counters.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/perf_event.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "floors.h"
#include "trace.h"

void iopfq_platform_warn(const char *file, int line, const char *cond);
void iopfq_platform_warn(const char *file, int line, const char *cond)
{
	fprintf(stderr, "iopfq: invariant broken at %s:%d: %s\n", file, line, cond);
}

/* ---------------------------------------------------------------------- */
/* the response hook                                                       */

static int measuring;                    /* atomic */
static __thread struct iopfq_hist *tls_hist;
static __thread uint64_t tls_groups, tls_pages;

/*
 * Tracing (trace.h), on only in the trace passes: every answered group's
 * stage stamps go to trace_faults; the consumer's stamps of the batch being
 * answered are thread-local (the hook runs on the consumer's thread here).
 */
static int tracing;
static struct fault_log trace_faults;
static struct gap_log trace_gaps[2];     /* [0] the consumer, [1] the producer */
static struct trace_thread trace_th[2] = { { .name = "consumer" }, { .name = "producer" } };
static __thread uint64_t tls_read_start, tls_drained, tls_read_end, tls_resp_start;
static const struct bdev *trace_only;    /* trace this device's groups only, or all (NULL) */

void bench_response(struct bdev *d, uint32_t grpid, uint32_t npages)
{
	/* read once: the trace and the histogram must count the same groups */
	int meas = __atomic_load_n(&measuring, __ATOMIC_RELAXED);
	uint64_t now = tsc_now(), issued;
	struct fault_rec fr;

	if (grpid >= BENCH_NGRP) {
		__atomic_fetch_add(&d->duplicates, 1, __ATOMIC_RELAXED);
		return;
	}
	/* read before the exchange: the device reuses the group index after it */
	issued = d->issue_tsc[grpid];
	if (tracing) {
		fr.issue = issued;
		fr.reported = __atomic_load_n(&d->reported_tsc[grpid], __ATOMIC_RELAXED);
		fr.read_start = tls_read_start;
		fr.drained = tls_drained;
		fr.read_end = tls_read_end;
		fr.resp_start = tls_resp_start;
		fr.done = now;
		if (tls_hist)           /* on the consumer's thread */
			gap_tick(&trace_gaps[0]);
	}
	if (!__atomic_exchange_n(&d->outstanding[grpid], 0, __ATOMIC_ACQ_REL)) {
		__atomic_fetch_add(&d->duplicates, 1, __ATOMIC_RELAXED);
		return;
	}
	__atomic_fetch_add(&d->groups_answered, 1, __ATOMIC_RELAXED);
	__atomic_fetch_sub(&d->inflight, (int)npages, __ATOMIC_RELEASE);
	if (meas && tls_hist) {
		iopfq_hist_record(tls_hist, now > issued ? now - issued : 0);
		tls_groups++;
		tls_pages += npages;
		if (tracing && (!trace_only || trace_only == d))
			fault_log_add(&trace_faults, &fr);
		if (d->hist) {
			iopfq_hist_record(d->hist, now > issued ? now - issued : 0);
			__atomic_store_n(&d->measured_pages, d->measured_pages + npages, __ATOMIC_RELAXED);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* scenarios and results                                                   */

struct scen {
	char name[48];
	uint32_t ndev, credits, group, threads;
	int blocking;
	double work_us;
	double load;                     /* 0: closed loop; else fraction of capacity */
	double gap_us;                   /* closed loop: device think time once credits are back */
	double rate_fps;                 /* open loop at this many faults/s for every implementation */
	/* isolation: device 0 is the victim (1 credit, groups of 1), device 1 the
	 * aggressor (the other credits - 1 of @credits, groups of @group) */
	int iso;
	uint32_t read_max;               /* records per read (0: 512) */
};

struct result {
	const struct qimpl *impl;
	struct scen s;
	double secs;
	uint64_t faults, groups;
	double fps, gps;
	double p50, p90, p99, p999, max;  /* ns */
	uint64_t lost, dup, refused, bad_answers;
	double allocs_per_fault;
	long rss_kib;
	double cyc, ins, miss;            /* per fault; < 0: not available */
	double open_rate_gps;
	double cap_adjacent_gps;          /* open loop: closed-loop capacity measured right after */
	/* the floor of this scenario measured just before and just after it (targets), or 0 */
	double adj_floor_before, adj_floor_after;
	struct iopfq_hist h;
};

static struct bdev devs[BENCH_MAX_DEVICES];

struct run {
	const struct qimpl *impl;
	void *q;
	const struct scen *s;
	int stop_producers;              /* atomic */
	int stop_consumer;               /* atomic */
	uint64_t work_ticks;
	uint64_t period_ticks;           /* open loop: per-device period */
	uint64_t start_tsc;
	int oversubscribed;
	struct result *res;
	uint64_t bad_answers;
};

struct prod_arg {
	struct run *run;
	uint32_t first, step;            /* devices first, first + step, ... */
	int cpu;
};

/* open loop: at a share of the implementation's capacity, or at a common rate */
static int scen_open(const struct scen *s)
{
	return s->load > 0 || s->rate_fps > 0;
}

static void issue_group(struct run *r, struct bdev *d, uint64_t ts)
{
	uint32_t grp = d->next_grpid, i, g = d->group_size;

	d->issue_tsc[grp] = ts;
	__atomic_store_n(&d->outstanding[grp], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&d->inflight, (int)g, __ATOMIC_RELAXED);
	__atomic_store_n(&d->groups_sent, d->groups_sent + 1, __ATOMIC_RELAXED);
	for (i = 0; i < g; i++) {
		struct iopfq_request req = {
			.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID |
				 (i + 1 == g ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0),
			.pasid = 1,
			.grpid = grp,
			.perm = IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE,
			.addr = ((uint64_t)d->dev_id << 32) | ((uint64_t)grp << 16) | ((uint64_t)i << 12),
		};

		if (r->impl->report(r->q, d, &req))
			__atomic_store_n(&d->refused, d->refused + 1, __ATOMIC_RELAXED);
	}
	if (tracing)
		__atomic_store_n(&d->reported_tsc[grp], tsc_now(), __ATOMIC_RELAXED);
	d->next_grpid = (grp + 1) & (BENCH_NGRP - 1);
}

static void *producer_main(void *arg)
{
	struct prod_arg *pa = arg;
	struct run *r = pa->run;
	const struct scen *s = r->s;
	int open = scen_open(s);
	uint32_t i;

	pin_to_cpu(pa->cpu);
	r->impl->thread_enter(r->q);
	if (tracing && pa->first == 0) {
		sched_snap_self(&trace_th[1].before, pa->cpu);
		gap_log_reset(&trace_gaps[1]);
	}
	if (open)
		for (i = pa->first; i < s->ndev; i += pa->step)
			devs[i].next_due = r->start_tsc + r->period_ticks * i / s->ndev;
	while (!__atomic_load_n(&r->stop_producers, __ATOMIC_RELAXED)) {
		uint64_t now = open ? tsc_now() : 0;
		int progress = 0;

		for (i = pa->first; i < s->ndev; i += pa->step) {
			struct bdev *d = &devs[i];

			/*
			 * Per device, not per pass: a pass over 8 devices reports
			 * up to 128 pages, more than the gap threshold, and its
			 * own work would read as pauses.
			 */
			if (tracing && pa->first == 0)
				gap_tick(&trace_gaps[1]);
			if (d->idle)
				continue;
			if (open && now < d->next_due)
				continue;
			if ((uint32_t)__atomic_load_n(&d->inflight, __ATOMIC_ACQUIRE) + d->group_size >
			    d->credits)
				continue;
			if (__atomic_load_n(&d->outstanding[d->next_grpid], __ATOMIC_ACQUIRE))
				continue;
			if (open) {
				issue_group(r, d, d->next_due);
				d->next_due += r->period_ticks;
			} else if (d->period_ticks) {
				/* a fixed rate while its faults are answered within a period */
				uint64_t t = tsc_now();

				if (t - d->last_issue < d->period_ticks)
					continue;
				d->last_issue = t;
				issue_group(r, d, t);
			} else if (d->think_ticks) {
				/* think time: the consumer is asleep when the fault arrives */
				uint64_t t = tsc_now();

				if (!d->next_due) {
					d->next_due = t + d->think_ticks;
					continue;
				}
				if (t < d->next_due)
					continue;
				d->next_due = 0;
				issue_group(r, d, tsc_now());
			} else {
				issue_group(r, d, tsc_now());
			}
			progress = 1;
		}
		if (!progress) {
			if (r->oversubscribed)
				sched_yield();
			else
				cpu_relax();
		}
	}
	if (tracing && pa->first == 0)
		sched_snap_self(&trace_th[1].after, pa->cpu);
	r->impl->thread_exit(r->q);
	return NULL;
}

static void *consumer_main(void *arg)
{
	struct run *r = arg;
	static __thread struct iopfq_hwpt_pgfault recs[512];
	static __thread struct iopfq_hwpt_page_response resp[512];

	unsigned max = r->s->read_max ? r->s->read_max : 512;

	pin_to_cpu(0);
	r->impl->thread_enter(r->q);
	tls_hist = &r->res->h;
	tls_groups = tls_pages = 0;
	if (tracing) {
		sched_snap_self(&trace_th[0].before, 0);
		gap_log_reset(&trace_gaps[0]);
	}
	while (!__atomic_load_n(&r->stop_consumer, __ATOMIC_RELAXED)) {
		int n, i, k = 0, done;

		if (tracing) {
			gap_tick(&trace_gaps[0]);
			tls_read_start = tsc_now();
			if (r->impl->drain)
				r->impl->drain(r->q);
			tls_drained = tsc_now();
			gap_tick(&trace_gaps[0]); /* a drain of a long backlog is work, not a pause */
			n = r->impl->read(r->q, recs, max);
			tls_read_end = tsc_now();
		} else {
			n = r->impl->read(r->q, recs, max);
		}
		if (n <= 0) {
			if (tracing)
				gap_idle(&trace_gaps[0]);
			if (r->s->blocking)
				r->impl->wait(r->q);
			else
				cpu_relax();
			continue;
		}
		for (i = 0; i < n; i++)
			if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE) {
				if (r->work_ticks)
					spin_ticks(r->work_ticks);
				resp[k].cookie = recs[i].cookie;
				resp[k].code = IOPFQ_PAGE_RESP_SUCCESS;
				k++;
			}
		if (tracing)
			tls_resp_start = tsc_now();
		done = r->impl->respond(r->q, resp, (unsigned)k);
		if (done != k)
			r->bad_answers++;
	}
	if (tracing)
		sched_snap_self(&trace_th[0].after, 0);
	r->res->groups = tls_groups;
	r->res->faults = tls_pages;
	tls_hist = NULL;
	r->impl->thread_exit(r->q);
	return NULL;
}

/* ---- perf counters (the same events perf stat counts), inherited by the run's threads ---- */

static int use_perf = 1;

static int perf_open(uint32_t type, uint64_t config)
{
	struct perf_event_attr a;

	if (!use_perf)
		return -1;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = type;
	a.config = config;
	a.disabled = 1;
	a.inherit = 1;
	a.exclude_hv = 1;
	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t perf_read(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void reset_peak_rss(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static long peak_rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	fclose(f);
	return kib;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static double warmup_s = 0.2, measure_s = 1.5;

/*
 * isolation runs: the victim's and the aggressor's own latencies, and who
 * idles. The victim is a quiet device: it issues its one fault at most once
 * per period (and when the previous one is answered), so its faults land at
 * any point of the aggressor's backlog, and it asks the consumer for the
 * same work under every policy as long as its faults are answered within
 * the period. (A think time after each answer made a victim served faster
 * fault more often: under round robin it took ~12 % of the consumer at
 * 10 us, and the aggressor's drop measured the victim's own load, not the
 * policy's cost.)
 */
#define ISO_VICTIM_PERIOD_US 40.0
/* the consumer reads one aggressor group at a time and answers it before the next read */
#define ISO_READ_MAX 16
/*
 * ~1 us of handler work per group: the consumer, not the producer, is the
 * bottleneck, so the aggressor's complete groups queue up, as they do when
 * a VMM resolves faults; without it the ready queue is mostly empty and
 * the delivery order has nothing to reorder.
 */
#define ISO_WORK_US 1.0
static struct iopfq_hist iso_hist[2];
static int iso_idle = -1;                /* device index that issues nothing, or -1 */

static void run_one(const struct qimpl *impl, const struct scen *s, double open_rate_gps,
		    struct result *res)
{
	static pthread_t prod_threads[BENCH_MAX_DEVICES];
	static struct prod_arg pargs[BENCH_MAX_DEVICES];
	struct run r;
	struct qcfg cfg;
	pthread_t cons;
	uint64_t t0, t1, a0, a1, sent = 0, answered = 0, dups = 0, refused = 0;
	int fd_cyc, fd_ins, fd_miss;
	uint32_t i;

	memset(res, 0, offsetof(struct result, h));
	iopfq_hist_init(&res->h);
	res->impl = impl;
	res->s = *s;
	res->open_rate_gps = open_rate_gps;
	memset(devs, 0, sizeof(devs));
	for (i = 0; i < s->ndev; i++) {
		devs[i].index = i;
		devs[i].dev_id = i + 1;
		devs[i].credits = s->credits;
		devs[i].group_size = s->group;
		devs[i].think_ticks = (uint64_t)(s->gap_us * 1000.0 * tsc_per_ns);
	}
	if (s->iso) {
		devs[0].credits = 1;
		devs[0].group_size = 1;
		devs[0].period_ticks = (uint64_t)(ISO_VICTIM_PERIOD_US * 1000.0 * tsc_per_ns);
		devs[1].credits = s->credits - 1;
		devs[1].think_ticks = 0;
		for (i = 0; i < 2; i++) {
			iopfq_hist_init(&iso_hist[i]);
			devs[i].hist = &iso_hist[i];
			devs[i].idle = iso_idle == (int)i;
		}
	}
	reset_peak_rss();
	cfg.ndev = s->ndev;
	cfg.credits = s->credits;
	cfg.max_group = s->group;
	cfg.devs = devs;

	memset(&r, 0, sizeof(r));
	r.impl = impl;
	r.s = s;
	r.res = res;
	r.q = impl->create(&cfg);
	r.work_ticks = (uint64_t)(s->work_us * 1000.0 * tsc_per_ns);
	r.oversubscribed = s->threads + 1 > (uint32_t)ncpu;
	if (scen_open(s) && open_rate_gps > 0)
		r.period_ticks = (uint64_t)((double)s->ndev / open_rate_gps * 1e9 * tsc_per_ns);

	fd_cyc = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES);
	fd_ins = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS);
	fd_miss = perf_open(PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES);

	pthread_create(&cons, NULL, consumer_main, &r);
	r.start_tsc = tsc_now();
	for (i = 0; i < s->threads; i++) {
		pargs[i].run = &r;
		pargs[i].first = i;
		pargs[i].step = s->threads;
		pargs[i].cpu = ncpu > 1 ? 1 + (int)i % (ncpu - 1) : 0;
		pthread_create(&prod_threads[i], NULL, producer_main, &pargs[i]);
	}
	sleep_s(warmup_s);

	if (fd_cyc >= 0) ioctl(fd_cyc, PERF_EVENT_IOC_ENABLE, 0);
	if (fd_ins >= 0) ioctl(fd_ins, PERF_EVENT_IOC_ENABLE, 0);
	if (fd_miss >= 0) ioctl(fd_miss, PERF_EVENT_IOC_ENABLE, 0);
	a0 = alloc_count_total();
	t0 = tsc_now();
	__atomic_store_n(&measuring, 1, __ATOMIC_RELAXED);
	sleep_s(measure_s);
	__atomic_store_n(&measuring, 0, __ATOMIC_RELAXED);
	t1 = tsc_now();
	a1 = alloc_count_total();
	if (fd_cyc >= 0) ioctl(fd_cyc, PERF_EVENT_IOC_DISABLE, 0);
	if (fd_ins >= 0) ioctl(fd_ins, PERF_EVENT_IOC_DISABLE, 0);
	if (fd_miss >= 0) ioctl(fd_miss, PERF_EVENT_IOC_DISABLE, 0);

	__atomic_store_n(&r.stop_producers, 1, __ATOMIC_RELAXED);
	for (i = 0; i < s->threads; i++)
		pthread_join(prod_threads[i], NULL);
	/* let the consumer answer everything still outstanding */
	for (i = 0; i < 2000; i++) {
		uint32_t k;
		int busy = 0;

		for (k = 0; k < s->ndev; k++)
			busy |= __atomic_load_n(&devs[k].inflight, __ATOMIC_ACQUIRE) != 0;
		if (!busy)
			break;
		usleep(1000);
	}
	__atomic_store_n(&r.stop_consumer, 1, __ATOMIC_RELAXED);
	impl->kick(r.q);
	pthread_join(cons, NULL);

	res->secs = (double)(t1 - t0) / tsc_per_ns / 1e9;
	res->fps = (double)res->faults / res->secs;
	res->gps = (double)res->groups / res->secs;
	res->p50 = (double)iopfq_hist_percentile(&res->h, 50) / tsc_per_ns;
	res->p90 = (double)iopfq_hist_percentile(&res->h, 90) / tsc_per_ns;
	res->p99 = (double)iopfq_hist_percentile(&res->h, 99) / tsc_per_ns;
	res->p999 = (double)iopfq_hist_percentile(&res->h, 99.9) / tsc_per_ns;
	res->max = (double)res->h.max / tsc_per_ns;
	for (i = 0; i < s->ndev; i++) {
		sent += devs[i].groups_sent;
		answered += devs[i].groups_answered;
		dups += devs[i].duplicates;
		refused += devs[i].refused;
	}
	res->lost = sent - answered;
	res->dup = dups;
	res->refused = refused;
	res->bad_answers = r.bad_answers;
	res->allocs_per_fault = res->faults ? (double)(a1 - a0) / (double)res->faults : 0;
	res->rss_kib = peak_rss_kib();
	res->cyc = fd_cyc >= 0 && res->faults ? (double)perf_read(fd_cyc) / (double)res->faults : -1;
	res->ins = fd_ins >= 0 && res->faults ? (double)perf_read(fd_ins) / (double)res->faults : -1;
	res->miss = fd_miss >= 0 && res->faults ? (double)perf_read(fd_miss) / (double)res->faults : -1;
	if (fd_cyc >= 0) close(fd_cyc);
	if (fd_ins >= 0) close(fd_ins);
	if (fd_miss >= 0) close(fd_miss);
	impl->destroy(r.q);
}

/* ---------------------------------------------------------------------- */
/* the plan                                                                */

static const struct qimpl *impls[] = {
	&impl_iopfq, &impl_libiopfq, &impl_iommufd, &impl_urcu, &impl_ck,
};
#define NIMPL (sizeof(impls) / sizeof(impls[0]))

/* the isolation scenario runs iopfq in each delivery policy */
static const struct qimpl *iso_impls[] = {
	&impl_iopfq, &impl_iopfq_fair, &impl_libiopfq, &impl_iommufd, &impl_urcu, &impl_ck,
};
#define NISO_IMPL (sizeof(iso_impls) / sizeof(iso_impls[0]))

static struct scen scens[64];
static unsigned nscen;

static void add_scen_gap(uint32_t ndev, uint32_t credits, uint32_t group, uint32_t threads,
			 int blocking, double work_us, double load, double gap_us)
{
	struct scen *s = &scens[nscen++];
	char extra[32] = "";

	s->ndev = ndev;
	s->credits = credits;
	s->group = group;
	s->threads = threads;
	s->blocking = blocking;
	s->work_us = work_us;
	s->load = load;
	s->gap_us = gap_us;
	if (gap_us > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "/gap%.0fus", gap_us);
	if (work_us > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "/work%.0fus", work_us);
	if (load > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "/open%.0f", load * 100);
	if (load < 0) {
		/* the same offered load for every implementation: -load M faults/s */
		s->load = 0;
		s->rate_fps = -load * 1e6;
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "/open%.0fM", -load);
	}
	if (threads > 1)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "/%uthr", threads);
	snprintf(s->name, sizeof(s->name), "%ux%u/g%u/%s%s", ndev, credits, group,
		 blocking ? "block" : "busy", extra);
}

static void add_scen(uint32_t ndev, uint32_t credits, uint32_t group, uint32_t threads,
		     int blocking, double work_us, double load)
{
	add_scen_gap(ndev, credits, group, threads, blocking, work_us, load, 0);
}

static void build_plan(int quick)
{
	/* one producer thread per spare CPU: devices are multiplexed on it */
	uint32_t pt = ncpu > 1 ? (uint32_t)ncpu - 1 : 1;

	nscen = 0;
	add_scen(1, 1, 1, 1, 0, 0, 0);                 /* ping-pong */
	if (!quick) {
		add_scen(1, 32, 1, 1, 0, 0, 0);
		add_scen(1, 32, 4, 1, 0, 0, 0);
		add_scen(1, 32, 16, 1, 0, 0, 0);
		add_scen(8, 32, 1, pt, 0, 0, 0);
	}
	add_scen(8, 32, 4, pt, 0, 0, 0);
	if (!quick) {
		add_scen(8, 32, 16, pt, 0, 0, 0);
		add_scen(64, 32, 4, pt, 0, 0, 0);
		add_scen(8, 32, 4, pt, 0, 1.0, 0);
		add_scen(8, 32, 4, pt, 0, 0, 0.5);
	}
	add_scen(8, 32, 4, pt, 0, 0, 0.9);
	add_scen(8, 32, 4, pt, 0, 0, -1.0);           /* 1 M faults/s offered to every one */
	/* blocking ping-pong: the device thinks 20 us after each response, so
	 * every fault finds the consumer asleep (the userfaultfd floor's shape) */
	add_scen_gap(1, 1, 1, 1, 1, 0, 0, 20);
	if (!quick)
		add_scen(1, 1, 1, 1, 1, 0, 0);         /* back to back: wake-up races the sleep */
	if (!quick) {
		add_scen(8, 32, 4, pt, 1, 0, 0);
		add_scen(8, 32, 4, 8, 0, 0, 0);        /* 8 producer threads: oversubscribed */
	}
}

static struct result *results;
static unsigned nresults;

static int scen_same(const struct scen *a, const struct scen *b, double load)
{
	return a->ndev == b->ndev && a->credits == b->credits && a->group == b->group &&
	       a->threads == b->threads && a->blocking == b->blocking && a->work_us == b->work_us &&
	       a->load == load && a->gap_us == b->gap_us && a->rate_fps == b->rate_fps &&
	       a->iso == b->iso && a->read_max == b->read_max;
}

static struct result *find_result(const struct qimpl *impl, const struct scen *s, double load)
{
	unsigned i;

	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];

		if (r->impl == impl && scen_same(&r->s, s, load))
			return r;
	}
	return NULL;
}

/* The scenarios the floor-relative targets judge (print_targets()) */
static const struct scen target_pingpong = { .ndev = 1, .credits = 1, .group = 1, .threads = 1 };
static const struct scen target_blocking = { .ndev = 1, .credits = 1, .group = 1, .threads = 1,
					     .blocking = 1, .gap_us = 20 };

static int is_floor_target(const struct qimpl *impl, const struct scen *s)
{
	if (impl == &impl_iopfq && scen_same(s, &target_pingpong, 0))
		return 1;
	return (impl == &impl_iopfq || impl == &impl_libiopfq) && scen_same(s, &target_blocking, 0);
}

/* ---------------------------------------------------------------------- */
/* floors and output                                                       */

struct floor_res {
	const char *name;
	int ok;
	char why[160];
	struct iopfq_hist h;
	double p50, p90, p99, p999, max;
};

#define NFLOORS 5
static struct floor_res floors[NFLOORS] = {
	{ .name = "pingpong" }, { .name = "eventfd" }, { .name = "uffd" },
	{ .name = "wake_2us" }, { .name = "wake_20us" },
};

static void floor_stats(struct floor_res *f)
{
	f->p50 = (double)iopfq_hist_percentile(&f->h, 50) / tsc_per_ns;
	f->p90 = (double)iopfq_hist_percentile(&f->h, 90) / tsc_per_ns;
	f->p99 = (double)iopfq_hist_percentile(&f->h, 99) / tsc_per_ns;
	f->p999 = (double)iopfq_hist_percentile(&f->h, 99.9) / tsc_per_ns;
	f->max = (double)f->h.max / tsc_per_ns;
}

static void run_floors(int quick)
{
	uint64_t n = quick ? 1 : 4;

	iopfq_hist_init(&floors[0].h);
	floors[0].ok = floor_pingpong(&floors[0].h, 100000 * n, 0, 1) == 0;
	iopfq_hist_init(&floors[1].h);
	floors[1].ok = floor_eventfd(&floors[1].h, 5000 * n, 0, 1) == 0;
	iopfq_hist_init(&floors[2].h);
	floors[2].ok = floor_uffd(&floors[2].h, 5000 * n, 0, 1, floors[2].why,
				  sizeof(floors[2].why)) == 0;
	iopfq_hist_init(&floors[3].h);
	floors[3].ok = floor_wake1(&floors[3].h, 5000 * n, 0, 1, 2) == 0;
	iopfq_hist_init(&floors[4].h);
	floors[4].ok = floor_wake1(&floors[4].h, 2000 * n, 0, 1, 20) == 0;
	for (unsigned i = 0; i < NFLOORS; i++)
		if (floors[i].ok)
			floor_stats(&floors[i]);
}

/*
 * The ping-pong floor measured again after the scenarios. On a VM the host
 * may move the two vCPUs mid-run (the floor has been seen at ~90 ns and
 * ~400 ns on this machine kind); then a ratio to the floor measured at the
 * start compares two placements and is not a verdict.
 */
static struct floor_res pingpong_end = { .name = "pingpong (end)" };

/*
 * p50 of a short measurement of the floor a scenario is judged against
 * (ping-pong for busy-poll, userfaultfd for blocking), taken right next to
 * the scenario so that both see the same vCPU placement. 0 if unavailable.
 */
static double adjacent_floor_p50(int blocking)
{
	struct floor_res f;
	char why[160];
	int ok;

	iopfq_hist_init(&f.h);
	ok = blocking ? floor_uffd(&f.h, 2000, 0, 1, why, sizeof(why)) == 0
		      : floor_pingpong(&f.h, 20000, 0, 1) == 0;
	if (!ok) {
		if (blocking)
			fprintf(stderr, "adjacent userfaultfd floor not measured: %s\n", why);
		return 0;
	}
	floor_stats(&f);
	return f.p50;
}

static void run_end_floor(int quick)
{
	iopfq_hist_init(&pingpong_end.h);
	pingpong_end.ok = floor_pingpong(&pingpong_end.h, 100000 * (quick ? 1 : 4), 0, 1) == 0;
	if (pingpong_end.ok)
		floor_stats(&pingpong_end);
}

/* 1 when both ping-pong floors exist and differ by more than 1.5 x */
static int floor_moved(void)
{
	double a = floors[0].p50, b = pingpong_end.p50;

	if (!floors[0].ok || !pingpong_end.ok || a <= 0 || b <= 0)
		return 0;
	return a > 1.5 * b || b > 1.5 * a;
}

static double floor_p50_for(const struct scen *s)
{
	if (!s->blocking)
		return floors[0].ok ? floors[0].p50 : 0;
	return floors[2].ok ? floors[2].p50 : (floors[1].ok ? floors[1].p50 : 0);
}

static const char *floor_name_for(const struct scen *s)
{
	if (!s->blocking)
		return "pingpong";
	return floors[2].ok ? "uffd" : "eventfd";
}

static void fmt_ns(char *buf, size_t n, double ns)
{
	if (ns < 10000)
		snprintf(buf, n, "%.0f", ns);
	else if (ns < 10e6)
		snprintf(buf, n, "%.1fu", ns / 1e3);
	else
		snprintf(buf, n, "%.1fm", ns / 1e6);
}

/* A per-fault counter value, or "n/a" where the machine has no such counter
 * (perf_event_open refused it: many VMs expose no hardware counters). */
static void fmt_counter(char *buf, size_t len, double v, int decimals)
{
	if (v < 0)
		snprintf(buf, len, "n/a");
	else
		snprintf(buf, len, "%.*f", decimals, v);
}

static void print_table(void)
{
	unsigned i;
	const char *last = "";

	printf("\nFlood (latency ns, fault-to-response; 'u' = us, 'm' = ms). floor = pingpong p50 "
	       "(busy) or uffd p50 (block); xiopfq = iopfq throughput / this row's\n");
	printf("%-26s %-15s %10s %9s %6s %6s %6s %6s %7s %4s %3s %6s %6s %6s %6s %6s %6s %6s\n",
	       "scenario", "impl", "faults/s", "groups/s", "p50", "p90", "p99", "p99.9", "max", "lost",
	       "dup", "allc/f", "RSS_MB", "p50/fl", "xiopfq", "cyc/f", "ins/f", "miss/f");
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		struct result *ref = find_result(&impl_iopfq, &r->s, r->s.load);
		double fl = floor_p50_for(&r->s);
		char p50[16], p90[16], p99[16], p999[16], mx[16], cyc[16], ins[16], miss[16];

		if (strcmp(last, r->s.name))
			printf("%s\n", "");
		last = r->s.name;
		fmt_ns(p50, sizeof(p50), r->p50);
		fmt_ns(p90, sizeof(p90), r->p90);
		fmt_ns(p99, sizeof(p99), r->p99);
		fmt_ns(p999, sizeof(p999), r->p999);
		fmt_ns(mx, sizeof(mx), r->max);
		fmt_counter(cyc, sizeof(cyc), r->cyc, 0);
		fmt_counter(ins, sizeof(ins), r->ins, 0);
		fmt_counter(miss, sizeof(miss), r->miss, 2);
		printf("%-26s %-15s %10.0f %9.0f %6s %6s %6s %6s %7s %4llu %3llu %6.2f %6.1f %6.2f %6.2f "
		       "%6s %6s %6s\n",
		       r->s.name, r->impl->name, r->fps, r->gps, p50, p90, p99, p999, mx,
		       (unsigned long long)r->lost, (unsigned long long)r->dup, r->allocs_per_fault,
		       (double)r->rss_kib / 1024.0, fl > 0 ? r->p50 / fl : 0,
		       ref && r->fps > 0 ? ref->fps / r->fps : 0, cyc, ins, miss);
	}
}

static void write_json_extra(FILE *f, int *first);

static void json_escape_print(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '"' ? '\'' : *s, f);
}

static void write_json(const char *path, struct stall_result *stall, int nstall)
{
	FILE *f = fopen(path, "w");
	struct utsname u;
	char host[128] = "", date[64];
	time_t now = time(NULL);
	double load[3] = { 0, 0, 0 };
	unsigned i;
	int first = 1;

	if (!f) {
		perror(path);
		return;
	}
	uname(&u);
	gethostname(host, sizeof(host) - 1);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", localtime(&now));
	getloadavg(load, 3);
	fprintf(f, "{\n  \"context\": {\n    \"date\": \"%s\",\n    \"host_name\": \"%s\",\n"
		   "    \"executable\": \"iopfq_bench\",\n    \"num_cpus\": %d,\n"
		   "    \"mhz_per_cpu\": %.0f,\n    \"cpu_scaling_enabled\": false,\n"
		   "    \"caches\": [],\n    \"load_avg\": [%.2f, %.2f, %.2f],\n"
		   "    \"library_build_type\": \"release\",\n    \"kernel\": \"%s\",\n"
		   "    \"measure_seconds\": %.2f\n  },\n  \"benchmarks\": [\n",
		date, host, ncpu, tsc_per_ns * 1000.0, load[0], load[1], load[2], u.release, measure_s);
#define SEP() do { fprintf(f, first ? "" : ",\n"); first = 0; } while (0)
	for (i = 0; i < NFLOORS; i++) {
		if (!floors[i].ok)
			continue;
		SEP();
		fprintf(f, "    {\"name\": \"floor/%s\", \"run_name\": \"floor/%s\", \"run_type\": \"iteration\", "
			   "\"repetitions\": 1, \"repetition_index\": 0, \"threads\": 2, "
			   "\"iterations\": %llu, \"real_time\": %.1f, \"cpu_time\": %.1f, \"time_unit\": \"ns\", "
			   "\"p50_ns\": %.1f, \"p90_ns\": %.1f, \"p99_ns\": %.1f, \"p999_ns\": %.1f, \"max_ns\": %.1f}",
			floors[i].name, floors[i].name, (unsigned long long)floors[i].h.count,
			floors[i].p50, floors[i].p50, floors[i].p50, floors[i].p90, floors[i].p99,
			floors[i].p999, floors[i].max);
	}
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		struct result *ref = find_result(&impl_iopfq, &r->s, r->s.load);
		double fl = floor_p50_for(&r->s), nspf = r->fps > 0 ? 1e9 / r->fps : 0;

		SEP();
		fprintf(f, "    {\"name\": \"flood/%s/%s\", \"run_name\": \"flood/%s/%s\", "
			   "\"run_type\": \"iteration\", \"repetitions\": 1, \"repetition_index\": 0, "
			   "\"threads\": %u, \"iterations\": %llu, \"real_time\": %.2f, \"cpu_time\": %.2f, "
			   "\"time_unit\": \"ns\", \"faults_per_second\": %.1f, \"groups_per_second\": %.1f, "
			   "\"p50_ns\": %.1f, \"p90_ns\": %.1f, \"p99_ns\": %.1f, \"p999_ns\": %.1f, \"max_ns\": %.1f, "
			   "\"lost\": %llu, \"duplicated\": %llu, \"refused\": %llu, \"allocs_per_fault\": %.4f, "
			   "\"peak_rss_kib\": %ld, \"cycles_per_fault\": %.1f, \"instructions_per_fault\": %.1f, "
			   "\"cache_misses_per_fault\": %.3f, \"floor\": \"%s\", \"ratio_p50_to_floor\": %.4f, "
			   "\"ratio_p999_to_p50\": %.4f, \"ratio_iopfq_throughput\": %.4f, "
			   "\"ratio_p50_to_iopfq\": %.4f, \"open_rate_groups_per_second\": %.1f}",
			r->s.name, r->impl->name, r->s.name, r->impl->name, r->s.threads + 1,
			(unsigned long long)r->faults, nspf, nspf, r->fps, r->gps, r->p50, r->p90, r->p99,
			r->p999, r->max, (unsigned long long)r->lost, (unsigned long long)r->dup,
			(unsigned long long)r->refused, r->allocs_per_fault, r->rss_kib, r->cyc, r->ins,
			r->miss, floor_name_for(&r->s), fl > 0 ? r->p50 / fl : 0,
			r->p50 > 0 ? r->p999 / r->p50 : 0, ref && r->fps > 0 ? ref->fps / r->fps : 0,
			ref && ref->p50 > 0 ? r->p50 / ref->p50 : 0, r->open_rate_gps);
	}
	write_json_extra(f, &first);
	for (i = 0; i < (unsigned)nstall; i++) {
		SEP();
		fprintf(f, "    {\"name\": \"stall/");
		json_escape_print(f, stall[i].impl);
		fprintf(f, "\", \"run_type\": \"iteration\", \"repetitions\": 1, \"repetition_index\": 0, "
			   "\"threads\": %u, \"iterations\": %llu, \"real_time\": %.1f, \"cpu_time\": %.1f, "
			   "\"time_unit\": \"ns\", \"stall_ms\": %.1f, \"others_reports_per_ms_before\": %llu, "
			   "\"others_reports_during_stall\": %llu, \"others_refused_during_stall\": %llu, "
			   "\"longest_report_call_ns\": %llu, \"consumed_during_stall\": %llu}",
			stall[i].producers, (unsigned long long)stall[i].during,
			(double)stall[i].blocked_max_ns, (double)stall[i].blocked_max_ns, stall[i].stall_ms,
			(unsigned long long)stall[i].before_per_ms, (unsigned long long)stall[i].during,
			(unsigned long long)stall[i].refused_during,
			(unsigned long long)stall[i].blocked_max_ns,
			(unsigned long long)stall[i].consumed_during);
	}
	fprintf(f, "\n  ]\n}\n");
	fclose(f);
}

/* percentile curves (for gnuplot) and throughput against devices */
static void write_data(const char *dir)
{
	static const double pcts[] = { 0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999 };
	char path[512];
	unsigned i, k;
	FILE *f;

	mkdir(dir, 0755);
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i];
		char key[64];
		unsigned j;

		snprintf(key, sizeof(key), "%s", r->s.name);
		for (j = 0; key[j]; j++)
			if (key[j] == '/')
				key[j] = '_';
		snprintf(path, sizeof(path), "%s/lat_%s_%s.dat", dir, key, r->impl->name);
		f = fopen(path, "w");
		if (!f)
			continue;
		fprintf(f, "# percentile nines(x=-log10(1-p)) latency_ns  %s %s\n", r->s.name, r->impl->name);
		for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++) {
			double p = pcts[k];

			if (r->h.count && p / 100.0 * (double)r->h.count > (double)r->h.count - 1)
				break;
			fprintf(f, "%g %.4f %.1f\n", p, -log10(1 - p / 100.0),
				(double)iopfq_hist_percentile(&r->h, p) / tsc_per_ns);
		}
		fprintf(f, "100 %.4f %.1f\n", -log10(1.0 / (double)(r->h.count ? r->h.count : 1)) + 0.0,
			r->max);
		fclose(f);
	}
	for (i = 0; i < NFLOORS; i++) {
		if (!floors[i].ok)
			continue;
		snprintf(path, sizeof(path), "%s/floor_%s.dat", dir, floors[i].name);
		f = fopen(path, "w");
		if (!f)
			continue;
		for (k = 0; k < sizeof(pcts) / sizeof(pcts[0]); k++)
			fprintf(f, "%g %.4f %.1f\n", pcts[k], -log10(1 - pcts[k] / 100.0),
				(double)iopfq_hist_percentile(&floors[i].h, pcts[k]) / tsc_per_ns);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/throughput.dat", dir);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "# devices faults_per_second per implementation (busy-poll, closed loop, groups of 4)\n");
		for (k = 0; k < NIMPL; k++) {
			fprintf(f, "\"%s\"\n", impls[k]->name);
			for (i = 0; i < nresults; i++) {
				struct result *r = &results[i];

				if (r->impl == impls[k] && r->s.group == 4 && !r->s.blocking &&
				    !scen_open(&r->s) && r->s.work_us == 0 && r->s.threads + 1 <= (uint32_t)ncpu)
					fprintf(f, "%u %.0f\n", r->s.ndev, r->fps);
			}
			fprintf(f, "\n\n");
		}
		fclose(f);
	}
}

/* ---------------------------------------------------------------------- */
/* targets                                                                 */

static int check(const char *what, int met, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int check(const char *what, int met, const char *fmt, ...)
{
	va_list ap;

	printf("  [%s] %s: ", met < 0 ? "UNSURE" : met ? "MET   " : "MISSED", what);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return met;
}

/*
 * A target "p50 <= @limit x floor". The floor is the one measured right
 * before and right after the scenario (same vCPU placement) when there is
 * one: UNSURE if those two differ by more than 1.5 x. Otherwise the floor of
 * the run's start, UNSURE when the run's floor moved (@moved < 0).
 */
static void floor_target(const char *what, const char *fname, const struct result *r, double limit,
			 double start_floor, int moved)
{
	double a, b, f;

	if (!r)
		return;
	a = r->adj_floor_before;
	b = r->adj_floor_after;
	if (a > 0 && b > 0) {
		f = (a + b) / 2;
		check(what, (a > 1.5 * b || b > 1.5 * a) ? -1 : r->p50 <= limit * f,
		      "p50 %.0f ns = %.2f x %s %.0f ns (measured next to the scenario: %.0f before, %.0f after)",
		      r->p50, r->p50 / f, fname, f, a, b);
	} else if (start_floor > 0) {
		check(what, moved ? moved : r->p50 <= limit * start_floor, "p50 %.0f ns = %.2f x %s %.0f ns",
		      r->p50, r->p50 / start_floor, fname, start_floor);
	}
}


static void print_floors(void)
{
	unsigned i;

	printf("\nFloors (same run, same clock):\n");
	printf("  %-10s %8s %8s %8s %8s %9s\n", "floor", "p50", "p90", "p99", "p99.9", "max");
	for (i = 0; i < NFLOORS; i++) {
		if (!floors[i].ok) {
			printf("  %-10s not measured: %s\n", floors[i].name, floors[i].why);
			continue;
		}
		printf("  %-10s %8.0f %8.0f %8.0f %8.0f %9.0f  (ns)\n", floors[i].name, floors[i].p50,
		       floors[i].p90, floors[i].p99, floors[i].p999, floors[i].max);
	}
}

/* ---------------------------------------------------------------------- */
/* open loop: offered load against capacity                                */

/* closed-loop capacity of @impl on @s's shape, measured now (groups/s) */
static double capacity_now(const struct qimpl *impl, const struct scen *s)
{
	static struct result scratch;
	struct scen closed = *s;
	double keep = measure_s;

	closed.load = 0;
	closed.rate_fps = 0;
	measure_s = measure_s < 0.3 ? measure_s : 0.3;
	run_one(impl, &closed, 0, &scratch);
	measure_s = keep;
	return scratch.gps;
}

static void print_open(void)
{
	unsigned i;

	printf("\nOpen loop (offered = the groups/s the devices were told to send; capacity = the closed-loop "
	       "row of this run; capacity after = a closed-loop run of the same shape right after the "
	       "open-loop one, in the same vCPU placement)\n");
	printf("%-26s %-15s %10s %10s %10s %10s %7s %7s %7s %7s\n", "scenario", "impl", "offered",
	       "achieved", "capacity", "cap.after", "off/ca", "p50", "p99", "p99.9");
	for (i = 0; i < nresults; i++) {
		struct result *r = &results[i], *cl;
		struct scen closed;
		char p50[16], p99[16], p999[16];

		if (!scen_open(&r->s))
			continue;
		closed = r->s;
		closed.rate_fps = 0;
		cl = find_result(r->impl, &closed, 0);
		fmt_ns(p50, sizeof(p50), r->p50);
		fmt_ns(p99, sizeof(p99), r->p99);
		fmt_ns(p999, sizeof(p999), r->p999);
		printf("%-26s %-15s %10.0f %10.0f %10.0f %10.0f %7.2f %7s %7s %7s\n", r->s.name,
		       r->impl->name, r->open_rate_gps, r->gps, cl ? cl->gps : 0, r->cap_adjacent_gps,
		       r->cap_adjacent_gps > 0 ? r->open_rate_gps / r->cap_adjacent_gps : 0, p50, p99, p999);
	}
}

/* ---------------------------------------------------------------------- */
/* tail trace: where the slow faults' time went                            */

static const struct scen *scen_named(const char *name)
{
	unsigned i;

	for (i = 0; i < nscen; i++)
		if (!strcmp(scens[i].name, name))
			return &scens[i];
	return NULL;
}

/*
 * A gap: a busy-polling thread's two TSC reads more than this apart
 * (--gap-us). Its consumer reads up to 512 records between two reads of the
 * TSC, which takes a few us, so a smaller value reads some of that work as
 * gaps; scenarios with few credits can go lower.
 */
static double trace_gap_us = 5.0;

/*
 * The ping-pong floor's own tail over as long as a traced pass, right
 * after it: what the machine does to the cheapest cross-CPU round trip in
 * the same conditions (the floor block at the start measures it for a few
 * tens of ms only, which rarely meets a preemption).
 */
static void trace_floor(double secs)
{
	static struct floor_res f;
	double p50 = floors[0].ok && floors[0].p50 > 0 ? floors[0].p50 : 200;
	uint64_t iters = (uint64_t)(secs * 1e9 / p50);

	if (iters > 10000000)
		iters = 10000000;
	iopfq_hist_init(&f.h);
	if (floor_pingpong(&f.h, iters, 0, 1))
		return;
	floor_stats(&f);
	printf("  ping-pong floor right after, %llu round trips: p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns = "
	       "%.1f x p50, max %.1f us\n",
	       (unsigned long long)f.h.count, f.p50, f.p99, f.p999, f.p50 > 0 ? f.p999 / f.p50 : 0,
	       f.max / 1e3);
}

static void trace_logs_fini(void)
{
	fault_log_fini(&trace_faults);
	gap_log_fini(&trace_gaps[0]);
	gap_log_fini(&trace_gaps[1]);
}

static int trace_logs_init(void)
{
	uint64_t thr = (uint64_t)(trace_gap_us * 1000.0 * tsc_per_ns);

	if (fault_log_init(&trace_faults, 4u << 20) || gap_log_init(&trace_gaps[0], 1u << 16, thr) ||
	    gap_log_init(&trace_gaps[1], 1u << 16, thr)) {
		trace_logs_fini();
		return -1;
	}
	/* what piled up while the consumer did not run is served after it resumes */
	trace_gaps[0].catches_up = 1;
	trace_th[0].gaps = &trace_gaps[0];
	trace_th[1].gaps = &trace_gaps[1];
	return 0;
}

/* what the trace found per traced scenario of iopfq (the p99.9 target reads it) */
struct trace_found {
	const struct scen *s;
	struct trace_summary sum;
};
static struct trace_found trace_found[24];
static int trace_bad;
static unsigned ntrace_found;

static void trace_one(const struct qimpl *impl, const struct scen *s, double rate)
{
	static struct result res;
	struct trace_summary sum;
	char label[128];

	trace_faults.n = 0;
	trace_gaps[0].n = trace_gaps[1].n = 0;
	tracing = 1;
	run_one(impl, s, rate, &res);
	tracing = 0;
	snprintf(label, sizeof(label), "%.47s %.31s (traced pass: %.0f faults/s)", s->name, impl->name, res.fps);
	trace_report(label, &trace_faults, trace_th, 2, res.secs, 0, &sum);
	/* every group answered while measuring is traced once, no more */
	if (trace_faults.n != res.groups) {
		printf("  TRACE BROKEN: %llu faults traced, %llu groups answered\n",
		       (unsigned long long)trace_faults.n, (unsigned long long)res.groups);
		trace_bad = 1;
	}
	if (impl == &impl_iopfq && ntrace_found < sizeof(trace_found) / sizeof(trace_found[0])) {
		trace_found[ntrace_found].s = s;
		trace_found[ntrace_found++].sum = sum;
	}
	if (impl == &impl_iopfq)
		trace_floor(res.secs);
}

/* @selftest: one scenario, iopfq only, briefly: the code runs, the figures mean little */
/*
 * Traced: iopfq in every scenario the main pass ran whose p99.9 the targets
 * judge (busy-poll, closed loop, threads <= cores), and in the open-loop
 * ones; ck_ring beside it in these.
 */
static int trace_ck_too(const struct scen *s)
{
	return !strcmp(s->name, "8x32/g4/busy") || !strcmp(s->name, "8x32/g16/busy") ||
	       !strcmp(s->name, "8x32/g4/busy/open90") || !strcmp(s->name, "8x32/g4/busy/open1M");
}

static int trace_wanted(const struct scen *s)
{
	if (!find_result(&impl_iopfq, s, s->load))
		return 0;
	if (scen_open(s))
		return !s->blocking;
	return !s->blocking && s->threads + 1 <= (uint32_t)ncpu;
}

static void run_trace(int quick, int selftest)
{
	const struct qimpl *timpls[] = { &impl_iopfq, &impl_ck };
	unsigned traced = 0;
	double keep = measure_s;
	unsigned i, k;

	if (trace_logs_init()) {
		printf("\nTail trace: no memory for the logs\n");
		return;
	}
	measure_s = quick ? 0.2 : 0.5;
	printf("\nTail trace (a separate pass: every group's stage stamps, one TSC read per loop of "
	       "each thread).\nStages: report = the device's issue to its last page's report returning; "
	       "wait = to the start of the consumer's read that took it (the consumer busy with earlier "
	       "batches, or not running); drain = moving the ring into complete groups (iopfq: "
	       "iopfq_poll_ready; the baselines do it inside read); read = claiming cookies and "
	       "copying the records of the whole batch; prep = the consumer building its answers; "
	       "respond = the answers ahead of this one in the batch and its own, to the "
	       "page_response hook, where the latency ends. A gap: a thread's two TSC reads more than "
	       "%.1f us apart (it did not run); the consumer's catch-up: from a gap's end to its next "
	       "empty read, at most as long again as the gap (it serves what piled up meanwhile).\n",
	       trace_gap_us);
	if (selftest)
		measure_s = 0.05;
	for (i = 0; i < nscen && !(selftest && traced); i++) {
		const struct scen *s = &scens[i];

		if (!trace_wanted(s))
			continue;
		traced++;
		for (k = 0; k < (selftest || !trace_ck_too(s) ? 1 : 2); k++) {
			double rate = 0;

			if (s->rate_fps > 0) {
				rate = s->rate_fps / s->group;
			} else if (s->load > 0) {
				struct scen closed = *s;
				struct result *cl;

				closed.load = 0;
				cl = find_result(timpls[k], &closed, 0);
				if (!cl || cl->gps <= 0)
					continue;
				rate = cl->gps * s->load;
			}
			fprintf(stderr, "  tracing %-26s %-15s\r", s->name, timpls[k]->name);
			trace_one(timpls[k], s, rate);
		}
	}
	fprintf(stderr, "%60s\r", "");
	measure_s = keep;
	trace_logs_fini();
}

/* ---------------------------------------------------------------------- */
/* the flood ratio as the median of interleaved repetitions                */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* a / b, or NaN when b measured nothing (a ratio of nothing is not 0, not inf) */
static double ratio_of(double a, double b)
{
	return b > 0 ? a / b : NAN;
}

/* the median of the finite values of v[0..n) (reorders v); NaN if none */
static double median_of(double *v, unsigned n)
{
	unsigned i, m = 0;

	for (i = 0; i < n; i++)
		if (isfinite(v[i]))
			v[m++] = v[i];
	qsort(v, m, sizeof(*v), cmp_double);
	return m ? (m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2) : NAN;
}

/* a ratio for the JSON: JSON has no inf or NaN, so one that was not measured is null */
static const char *json_ratio(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		return "null";
	snprintf(buf, len, "%.4f", v);
	return buf;
}

#define AB_MAX_REPS 15
static unsigned ab_reps;
static double ab_best[AB_MAX_REPS], ab_model[AB_MAX_REPS];
static double ab_best_median, ab_model_median;

static void run_ab(int quick)
{
	const struct qimpl *abi[] = { &impl_iopfq, &impl_urcu, &impl_ck, &impl_iommufd };
	const unsigned n = sizeof(abi) / sizeof(abi[0]);
	const struct scen *s = scen_named("8x32/g4/busy");
	static struct result res;
	double keep = measure_s, keep_w = warmup_s, fps[4], sorted[AB_MAX_REPS];
	unsigned rep, j;

	if (!s)
		return;
	ab_reps = quick ? 3 : 9;
	measure_s = quick ? 0.1 : 0.3;
	warmup_s = 0.1;
	printf("\nInterleaved A/B (8x32/g4/busy, %u repetitions of %.1f s per implementation, the order "
	       "rotated each repetition; ratio = iopfq faults/s over the other's in the same repetition)\n",
	       ab_reps, measure_s);
	printf("  %3s %12s %12s %12s %12s %10s %10s\n", "rep", "iopfq", "urcu-wfcq", "ck_ring",
	       "iommufd-mdl", "/best bl", "/model");
	for (rep = 0; rep < ab_reps; rep++) {
		for (j = 0; j < n; j++) {
			unsigned k = (rep + j) % n;

			fprintf(stderr, "  A/B rep %u %-15s\r", rep, abi[k]->name);
			run_one(abi[k], s, 0, &res);
			fps[k] = res.fps;
		}
		ab_best[rep] = ratio_of(fps[0], fps[1] > fps[2] ? fps[1] : fps[2]);
		ab_model[rep] = ratio_of(fps[0], fps[3]);
		printf("  %3u %12.0f %12.0f %12.0f %12.0f %10.2f %10.2f\n", rep, fps[0], fps[1], fps[2],
		       fps[3], ab_best[rep], ab_model[rep]);
	}
	fprintf(stderr, "%60s\r", "");
	memcpy(sorted, ab_best, sizeof(double) * ab_reps);
	ab_best_median = median_of(sorted, ab_reps);
	printf("  iopfq / best of wfcqueue and ck_ring: median %.2f x, min %.2f, max %.2f\n", ab_best_median,
	       sorted[0], sorted[ab_reps - 1]);
	memcpy(sorted, ab_model, sizeof(double) * ab_reps);
	ab_model_median = median_of(sorted, ab_reps);
	printf("  iopfq / iommufd model:               median %.2f x, min %.2f, max %.2f\n",
	       ab_model_median, sorted[0], sorted[ab_reps - 1]);
	measure_s = keep;
	warmup_s = keep_w;
}

/* ---------------------------------------------------------------------- */
/* device isolation: a quiet victim beside a flooding aggressor            */

struct iso_res {
	const struct qimpl *impl;
	double solo[3], shared[3];       /* the victim's p50, p99, p99.9 (ns), medians over reps */
	double aggr_solo, aggr_shared;   /* the aggressor's faults/s, medians */
	double p99_ratio[AB_MAX_REPS], aggr_ratio[AB_MAX_REPS];
	double p99_ratio_med, aggr_ratio_med;
	unsigned reps;
	int traced;                      /* the victim's faults beside the aggressor, traced: */
	struct trace_summary trace;      /* slow = beyond 2 x its p99 alone (the median) */
};

#define NISO 8
static struct iso_res iso_res[NISO];
static unsigned niso;
static struct scen iso_scen;
static int iso_bad;                      /* an isolation run lost, duplicated or refused */
static double iso_measure_s;             /* each isolation run's measured phase */

static void iso_run(const struct qimpl *impl, int idle, double vic[3], double *aggr_fps)
{
	static struct result res;

	iso_idle = idle;
	run_one(impl, &iso_scen, 0, &res);
	iso_idle = -1;
	if (res.lost || res.dup || res.refused || res.bad_answers ||
	    ((impl == &impl_iopfq || impl == &impl_libiopfq) && res.allocs_per_fault > 0))
		iso_bad = 1;
	vic[0] = (double)iopfq_hist_percentile(&iso_hist[0], 50) / tsc_per_ns;
	vic[1] = (double)iopfq_hist_percentile(&iso_hist[0], 99) / tsc_per_ns;
	vic[2] = (double)iopfq_hist_percentile(&iso_hist[0], 99.9) / tsc_per_ns;
	*aggr_fps = (double)devs[1].measured_pages / res.secs;
}

/*
 * The victim's faults beside the aggressor, traced stage by stage: a slow
 * one is one beyond the target's bound (2 x the victim's p99 alone, @solo_p99
 * ns, from the same run).
 */
static void iso_trace(const struct qimpl *impl, double solo_p99, struct iso_res *ir)
{
	static struct result res;
	double keep = measure_s, p99, fps;
	char label[160];

	if (trace_logs_init()) {
		printf("\nIsolation trace: no memory for the logs\n");
		return;
	}
	measure_s = iso_measure_s;
	trace_faults.n = 0;
	trace_only = &devs[0];
	tracing = 1;
	iso_idle = -1;
	run_one(impl, &iso_scen, 0, &res);
	tracing = 0;
	trace_only = NULL;
	measure_s = keep;
	p99 = (double)iopfq_hist_percentile(&iso_hist[0], 99) / tsc_per_ns;
	fps = (double)devs[1].measured_pages / res.secs;
	snprintf(label, sizeof(label), "%.47s %.31s, the victim's faults (traced pass: victim p99 %.0f ns, "
		 "aggressor %.0f faults/s)", iso_scen.name, impl->name, p99, fps);
	trace_report(label, &trace_faults, trace_th, 2, res.secs, 2 * solo_p99, &ir->trace);
	ir->traced = 1;
	trace_logs_fini();
}

static void run_isolation(int quick, const struct qimpl *const *list, unsigned nlist)
{
	double keep = measure_s;
	unsigned k, rep, j;

	memset(&iso_scen, 0, sizeof(iso_scen));
	iso_scen.ndev = 2;
	iso_scen.credits = 256;
	iso_scen.group = 16;
	iso_scen.threads = 1;
	iso_scen.iso = 1;
	iso_scen.read_max = ISO_READ_MAX;
	iso_scen.work_us = ISO_WORK_US;
	snprintf(iso_scen.name, sizeof(iso_scen.name), "iso/v1x1g1every%.0fus+a1x255g16/busy/work%.0fus",
		 ISO_VICTIM_PERIOD_US, ISO_WORK_US);
	iso_measure_s = quick ? 0.1 : 0.4;
	measure_s = iso_measure_s;
	niso = 0;
	for (k = 0; k < nlist && niso < NISO; k++) {
		struct iso_res *ir = &iso_res[niso++];
		double solo[3][AB_MAX_REPS], shared[3][AB_MAX_REPS], as[AB_MAX_REPS], ash[AB_MAX_REPS];
		double tmp[AB_MAX_REPS];

		memset(ir, 0, sizeof(*ir));
		ir->impl = list[k];
		ir->reps = quick ? 1 : 3;
		for (rep = 0; rep < ir->reps; rep++) {
			double v[3], dummy[3];

			fprintf(stderr, "  isolation %-15s rep %u\r", list[k]->name, rep);
			/* victim alone, both, aggressor alone: each ratio from neighbours */
			iso_run(list[k], 1, v, &as[rep]);
			for (j = 0; j < 3; j++)
				solo[j][rep] = v[j];
			iso_run(list[k], -1, v, &ash[rep]);
			for (j = 0; j < 3; j++)
				shared[j][rep] = v[j];
			iso_run(list[k], 0, dummy, &as[rep]);
			ir->p99_ratio[rep] = ratio_of(shared[1][rep], solo[1][rep]);
			ir->aggr_ratio[rep] = ratio_of(ash[rep], as[rep]);
		}
		for (j = 0; j < 3; j++) {
			memcpy(tmp, solo[j], sizeof(double) * ir->reps);
			ir->solo[j] = median_of(tmp, ir->reps);
			memcpy(tmp, shared[j], sizeof(double) * ir->reps);
			ir->shared[j] = median_of(tmp, ir->reps);
		}
		memcpy(tmp, as, sizeof(double) * ir->reps);
		ir->aggr_solo = median_of(tmp, ir->reps);
		memcpy(tmp, ash, sizeof(double) * ir->reps);
		ir->aggr_shared = median_of(tmp, ir->reps);
		memcpy(tmp, ir->p99_ratio, sizeof(double) * ir->reps);
		ir->p99_ratio_med = median_of(tmp, ir->reps);
		memcpy(tmp, ir->aggr_ratio, sizeof(double) * ir->reps);
		ir->aggr_ratio_med = median_of(tmp, ir->reps);
	}
	fprintf(stderr, "%60s\r", "");
	measure_s = keep;

	printf("\nIsolation (%s: victim = 1 credit, groups of 1, one fault at a time, at most one "
	       "every %.0f us; aggressor = the other 255 credits, groups of 16, closed loop; one "
	       "producer thread runs both; the consumer reads up to %u records, works ~%.0f us per group, "
	       "answers them, reads again; victim alone, both, aggressor alone, repeated %u times, "
	       "%.1f s each; medians; ratios per repetition, then their median and range)\n",
	       iso_scen.name, ISO_VICTIM_PERIOD_US, ISO_READ_MAX, ISO_WORK_US, quick ? 1 : 3,
	       quick ? 0.1 : 0.4);
	printf("  %-15s %21s %21s %22s %24s\n", "", "victim alone (ns)", "victim + aggressor (ns)",
	       "victim p99 shared/alone", "aggressor faults/s");
	printf("  %-15s %6s %6s %7s %6s %6s %7s %7s %6s %6s %9s %9s %6s\n", "impl", "p50", "p99", "p99.9",
	       "p50", "p99", "p99.9", "median", "min", "max", "alone", "shared", "ratio");
	for (k = 0; k < niso; k++) {
		struct iso_res *ir = &iso_res[k];
		char c[6][16];
		double lo = ir->p99_ratio[0], hi = ir->p99_ratio[0];

		for (rep = 1; rep < ir->reps; rep++) {
			lo = ir->p99_ratio[rep] < lo ? ir->p99_ratio[rep] : lo;
			hi = ir->p99_ratio[rep] > hi ? ir->p99_ratio[rep] : hi;
		}
		for (j = 0; j < 3; j++) {
			fmt_ns(c[j], sizeof(c[j]), ir->solo[j]);
			fmt_ns(c[3 + j], sizeof(c[3 + j]), ir->shared[j]);
		}
		printf("  %-15s %6s %6s %7s %6s %6s %7s %7.2f %6.2f %6.2f %9.0f %9.0f %6.2f\n", ir->impl->name,
		       c[0], c[1], c[2], c[3], c[4], c[5], ir->p99_ratio_med, lo, hi, ir->aggr_solo,
		       ir->aggr_shared, ir->aggr_ratio_med);
	}
	for (k = 0; k < niso; k++)
		if (iso_res[k].impl == &impl_iopfq_fair || iso_res[k].impl == &impl_iopfq)
			iso_trace(iso_res[k].impl, iso_res[k].solo[1], &iso_res[k]);
}

static void print_targets(void)
{
	struct scen pp = target_pingpong, ppb = target_blocking;
	struct scen fl = { .ndev = 8, .credits = 32, .group = 4,
			   .threads = ncpu > 1 ? (uint32_t)ncpu - 1 : 1 };
	struct result *r, *rl;
	const struct trace_summary *t;
	unsigned i, k;
	int zero = 1, moved, floor_ok;

	printf("\nTargets (ratios from this run):\n");
	if (floor_moved())
		printf("  the ping-pong floor moved from %.0f ns (start) to %.0f ns (end): the host moved the "
		       "vCPUs during the run; the floor targets use the floor measured next to their scenario\n",
		       floors[0].p50, pingpong_end.p50);
	moved = floor_moved() ? -1 : 0;
	floor_target("busy-poll 1 device 1 credit p50 <= 1.5 x ping-pong floor", "ping-pong",
		     find_result(&impl_iopfq, &pp, 0), 1.5, floors[0].ok ? floors[0].p50 : 0, moved);
	r = find_result(&impl_iopfq, &ppb, 0);
	rl = find_result(&impl_libiopfq, &ppb, 0);
	if (floors[2].ok) {
		floor_target("blocking consumer (core + eventfd) p50 <= 0.6 x userfaultfd", "uffd", r, 0.6,
			     floors[2].p50, moved);
		floor_target("blocking consumer (libiopfq fault FD) p50 <= 0.6 x userfaultfd", "uffd", rl,
			     0.6, floors[2].p50, moved);
	} else {
		printf("  [N/A   ] blocking target: userfaultfd floor not measured (%s)\n", floors[2].why);
	}
	r = find_result(&impl_iopfq, &fl, 0);
	if (r) {
		struct result *m = find_result(&impl_iommufd, &fl, 0);
		struct result *u = find_result(&impl_urcu, &fl, 0);
		struct result *c = find_result(&impl_ck, &fl, 0);
		double best = 0;

		if (u && u->fps > best)
			best = u->fps;
		if (c && c->fps > best)
			best = c->fps;
		if (ab_reps) {
			double lo[2], hi[2];
			unsigned j;

			lo[0] = hi[0] = ab_model[0];
			lo[1] = hi[1] = ab_best[0];
			for (j = 1; j < ab_reps; j++) {
				lo[0] = ab_model[j] < lo[0] ? ab_model[j] : lo[0];
				hi[0] = ab_model[j] > hi[0] ? ab_model[j] : hi[0];
				lo[1] = ab_best[j] < lo[1] ? ab_best[j] : lo[1];
				hi[1] = ab_best[j] > hi[1] ? ab_best[j] : hi[1];
			}
			check("flood 8x32/g4 throughput >= 3 x iommufd model", ab_model_median >= 3,
			      "median of %u interleaved repetitions %.2f x (range %.2f .. %.2f); main pass %.2f x",
			      ab_reps, ab_model_median, lo[0], hi[0], m ? r->fps / m->fps : 0);
			check("flood 8x32/g4 throughput >= 1.5 x best of wfcqueue / ck_ring", ab_best_median >= 1.5,
			      "median of %u interleaved repetitions %.2f x (range %.2f .. %.2f); main pass %.2f x",
			      ab_reps, ab_best_median, lo[1], hi[1], best > 0 ? r->fps / best : 0);
		} else {
			if (m)
				check("flood 8x32/g4 throughput >= 3 x iommufd model (one pass)", r->fps >= 3 * m->fps,
				      "%.2f x (%.0f vs %.0f faults/s)", r->fps / m->fps, r->fps, m->fps);
			if (best > 0)
				check("flood 8x32/g4 throughput >= 1.5 x best of wfcqueue / ck_ring (one pass)",
				      r->fps >= 1.5 * best, "%.2f x (%.0f vs %.0f faults/s)", r->fps / best, r->fps,
				      best);
		}
	}
	for (i = 0; i < nresults; i++) {
		r = &results[i];
		if (r->impl != &impl_iopfq || r->s.threads + 1 > (uint32_t)ncpu || scen_open(&r->s) ||
		    r->s.blocking)
			continue;
		if (r->p999 <= 10 * r->p50) {
			check("p99.9 <= 10 x p50 (threads <= cores)", 1, "%-24s p99.9 %.0f ns = %.1f x p50 %.0f ns",
			      r->s.name, r->p999, r->p999 / r->p50, r->p50);
			continue;
		}
		for (k = 0; k < ntrace_found && !scen_same(trace_found[k].s, &r->s, r->s.load); k++)
			;
		if (k == ntrace_found) {
			check("p99.9 <= 10 x p50 (threads <= cores)", 0, "%-24s p99.9 %.0f ns = %.1f x p50 %.0f ns",
			      r->s.name, r->p999, r->p999 / r->p50, r->p50);
			continue;
		}
		/*
		 * The excess is the machine's when the traced pass finds every
		 * slow fault containing a pause of a thread, and the faults that
		 * contain none within the target.
		 */
		t = &trace_found[k].sum;
		floor_ok = t->slow && t->slow_in_gap == t->slow && t->clean_p50 > 0 &&
			   t->clean_p999 <= 10 * t->clean_p50;
		printf("  [%s] p99.9 <= 10 x p50 (threads <= cores): %-24s p99.9 %.0f ns = %.1f x p50 %.0f ns; "
		       "traced pass: %llu of %llu slow faults contain a thread's pause (or the consumer's "
		       "catch-up after one), ",
		       floor_ok ? "MACHINE" : "MISSED", r->s.name, r->p999, r->p999 / r->p50, r->p50,
		       (unsigned long long)t->slow_in_gap, (unsigned long long)t->slow);
		if (t->clean_p50 > 0)
			printf("the faults that contain none: p99.9 = %.1f x p50\n", t->clean_p999 / t->clean_p50);
		else
			printf("every fault contains one\n");
	}
	for (k = 0; k < niso; k++) {
		struct iso_res *ir = &iso_res[k];
		const char *what = "isolation: victim p99 <= 2 x alone, aggressor >= 0.9 x alone (fair delivery)";

		if (!ir->impl->fair)
			continue;
		t = &ir->trace;
		if ((ir->p99_ratio_med <= 2 && ir->aggr_ratio_med >= 0.9) || !ir->traced) {
			check(what, ir->p99_ratio_med <= 2 && ir->aggr_ratio_med >= 0.9,
			      "%s: victim p99 %.2f x, aggressor %.2f x (medians of %u repetitions)",
			      ir->impl->name, ir->p99_ratio_med, ir->aggr_ratio_med, ir->reps);
			continue;
		}
		/*
		 * As for p99.9: the victim's excess is the machine's when every
		 * victim fault of the traced shared pass beyond the bound (2 x its
		 * p99 alone) contains a pause of a thread; the aggressor's share
		 * is judged as measured.
		 */
		floor_ok = ir->aggr_ratio_med >= 0.9 && t->slow && t->slow_in_gap == t->slow;
		printf("  [%s] %s: %s: victim p99 %.2f x, aggressor %.2f x (medians of %u repetitions); traced "
		       "pass: %llu of %llu victim faults beyond 2 x its p99 alone contain a thread's pause (or "
		       "the consumer's catch-up after one), the victim's faults that contain none: p99 %.0f ns "
		       "= %.2f x its p99 alone\n",
		       floor_ok ? "MACHINE" : "MISSED", what, ir->impl->name, ir->p99_ratio_med,
		       ir->aggr_ratio_med, ir->reps, (unsigned long long)t->slow_in_gap,
		       (unsigned long long)t->slow, t->clean_p99, ir->solo[1] > 0 ? t->clean_p99 / ir->solo[1] : 0);
	}
	for (i = 0; i < nresults; i++) {
		r = &results[i];
		if ((r->impl == &impl_iopfq || r->impl == &impl_libiopfq) &&
		    (r->lost || r->dup || r->refused || r->allocs_per_fault > 0 || r->bad_answers))
			zero = 0;
	}
	check("iopfq: 0 lost, 0 duplicated, 0 refused, 0 allocations per fault (all runs)", zero, "%s",
	      zero ? "all zero" : "see table");
}

/* the isolation rows and the interleaved flood ratio, in write_json()'s format */
static void write_json_extra(FILE *f, int *first)
{
	char r1[32], r2[32];
	unsigned k;

	for (k = 0; k < niso; k++) {
		struct iso_res *ir = &iso_res[k];

		fprintf(f, *first ? "" : ",\n");
		*first = 0;
		fprintf(f, "    {\"name\": \"%s/%s\", \"run_name\": \"%s/%s\", \"run_type\": \"iteration\", "
			   "\"repetitions\": %u, \"repetition_index\": 0, \"threads\": 2, \"iterations\": %u, "
			   "\"real_time\": %.1f, \"cpu_time\": %.1f, \"time_unit\": \"ns\", "
			   "\"victim_alone_p50_ns\": %.1f, \"victim_alone_p99_ns\": %.1f, "
			   "\"victim_alone_p999_ns\": %.1f, \"victim_shared_p50_ns\": %.1f, "
			   "\"victim_shared_p99_ns\": %.1f, \"victim_shared_p999_ns\": %.1f, "
			   "\"ratio_victim_p99_shared_to_alone\": %s, \"aggressor_alone_faults_per_second\": %.1f, "
			   "\"aggressor_shared_faults_per_second\": %.1f, \"ratio_aggressor_shared_to_alone\": %s}",
			iso_scen.name, ir->impl->name, iso_scen.name, ir->impl->name, ir->reps, ir->reps,
			ir->shared[0], ir->shared[0], ir->solo[0], ir->solo[1], ir->solo[2], ir->shared[0],
			ir->shared[1], ir->shared[2], json_ratio(r1, sizeof(r1), ir->p99_ratio_med),
			ir->aggr_solo, ir->aggr_shared, json_ratio(r2, sizeof(r2), ir->aggr_ratio_med));
	}
	if (ab_reps) {
		fprintf(f, *first ? "" : ",\n");
		*first = 0;
		fprintf(f, "    {\"name\": \"ab/8x32/g4/busy\", \"run_name\": \"ab/8x32/g4/busy\", "
			   "\"run_type\": \"aggregate\", \"aggregate_name\": \"median\", \"repetitions\": %u, "
			   "\"threads\": 2, \"iterations\": %u, \"real_time\": 0, \"cpu_time\": 0, "
			   "\"time_unit\": \"ns\", \"ratio_iopfq_to_best_baseline\": %s, "
			   "\"ratio_iopfq_to_iommufd_model\": %s}",
			ab_reps, ab_reps, json_ratio(r1, sizeof(r1), ab_best_median),
			json_ratio(r2, sizeof(r2), ab_model_median));
	}
}

static void print_stall(struct stall_result *s, int n)
{
	int i;

	printf("\nPreempted producer: one producer stopped %.0f ms between claim and publish; %u other "
	       "producers paced at 1 report / 2 us each:\n", n ? s[0].stall_ms : 0, n ? s[0].producers : 0);
	printf("  %-30s %14s %16s %14s %18s %16s\n", "ring", "others/ms before", "others during stall",
	       "refused (full)", "longest call (ns)", "consumed during");
	for (i = 0; i < n; i++)
		printf("  %-30s %14llu %16llu %14llu %18llu %16llu\n", s[i].impl,
		       (unsigned long long)s[i].before_per_ms, (unsigned long long)s[i].during,
		       (unsigned long long)s[i].refused_during, (unsigned long long)s[i].blocked_max_ns,
		       (unsigned long long)s[i].consumed_during);
}

static void usage(const char *argv0)
{
	printf("usage: %s [--quick] [--seconds S] [--only SUBSTR] [--impl NAME] [--json FILE]\n"
	       "          [--data DIR] [--no-floors] [--no-stall] [--selftest] [--perf] [--gap-us US]\n",
	       argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "only", required_argument, NULL, 'o' },
		{ "impl", required_argument, NULL, 'i' },
		{ "json", required_argument, NULL, 'j' },
		{ "data", required_argument, NULL, 'd' },
		{ "no-floors", no_argument, NULL, 'F' },
		{ "no-stall", no_argument, NULL, 'S' },
		{ "selftest", no_argument, NULL, 'T' },
		{ "perf", no_argument, NULL, 'P' },
		{ "gap-us", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *only = NULL, *impl_only = NULL, *json = NULL, *data = NULL;
	int quick = 0, do_floors = 1, do_stall = 1, selftest = 0, opt, nstall = 0, bad = 0, adj;
	double before;
	int attempt;
	struct stall_result stall[2];
	uint64_t t_start;
	unsigned i, k;

	while ((opt = getopt_long(argc, argv, "qs:o:i:j:d:FSTPg:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'q': quick = 1; break;
		case 's': measure_s = atof(optarg); break;
		case 'o': only = optarg; break;
		case 'i': impl_only = optarg; break;
		case 'j': json = optarg; break;
		case 'd': data = optarg; break;
		case 'F': do_floors = 0; break;
		case 'S': do_stall = 0; break;
		case 'T': selftest = 1; quick = 1; break;
		case 'P': use_perf = 2; break;
		case 'g':
			trace_gap_us = atof(optarg);
			if (!(trace_gap_us > 0)) {
				usage(argv[0]);
				return 2;
			}
			break;
		case 'h': usage(argv[0]); return 0;
		default: usage(argv[0]); return 2;
		}
	}
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (quick) {
		warmup_s = 0.1;
		if (measure_s == 1.5)
			measure_s = 0.3;
	}
	if (selftest) {
		measure_s = 0.1;
		warmup_s = 0.05;
		do_floors = 0;
		do_stall = 0;
	}
	/*
	 * Inherited perf counters are switched at every context switch: in a
	 * VM each switch then costs MSR writes that trap to the host (tens of
	 * us), which would dominate the blocking scenarios. Counters are
	 * therefore opened only with --perf, and run.sh takes them in a
	 * separate pass.
	 */
	if (use_perf != 2)
		use_perf = 0;
	t_start = mono_ns();
	tsc_calibrate();
	build_plan(quick);
	results = calloc(nscen * NIMPL, sizeof(*results));
	if (!results)
		return 1;

	printf("iopfq flood benchmark: %d CPUs, TSC %.3f GHz, %.2f s per run (+%.2f s warm-up)%s\n", ncpu,
	       tsc_per_ns, measure_s, warmup_s, quick ? ", quick" : "");
	printf("Devices are multiplexed on producer threads (one per CPU besides the consumer's, "
	       "unless the scenario says Nthr); the consumer is pinned to CPU 0, producers to the others.\n");
	for (k = 0; k < NIMPL; k++)
		printf("  %-15s %s\n", impls[k]->name, impls[k]->what);
	fflush(stdout);

	if (do_floors) {
		run_floors(quick);
		print_floors();
		fflush(stdout);
	}

	for (i = 0; i < nscen; i++) {
		if (only && !strstr(scens[i].name, only))
			continue;
		for (k = 0; k < NIMPL; k++) {
			double rate = 0;
			struct result *r = &results[nresults];

			if (impl_only && strcmp(impl_only, impls[k]->name))
				continue;
			if (scens[i].rate_fps > 0) {
				rate = scens[i].rate_fps / scens[i].group;
			} else if (scens[i].load > 0) {
				struct scen closed = scens[i];
				struct result *cl;

				closed.load = 0;
				cl = find_result(impls[k], &closed, 0);
				if (!cl || cl->gps <= 0)
					continue;      /* open loop needs this implementation's capacity */
				rate = cl->gps * scens[i].load;
			}
			fprintf(stderr, "  running %-26s %-15s\r", scens[i].name, impls[k]->name);
			/* the scenarios a floor target judges get their floor measured next to them */
			adj = do_floors && is_floor_target(impls[k], &scens[i]);
			/* a vCPU move during the scenario (floors disagree): try again, 3 times at most */
			for (attempt = 0; attempt < (adj ? 3 : 1); attempt++) {
				before = adj ? adjacent_floor_p50(scens[i].blocking) : 0;
				run_one(impls[k], &scens[i], rate, r);
				if (!adj)
					break;
				r->adj_floor_before = before;
				r->adj_floor_after = adjacent_floor_p50(scens[i].blocking);
				if (r->adj_floor_before > 0 && r->adj_floor_after > 0 &&
				    r->adj_floor_before <= 1.5 * r->adj_floor_after &&
				    r->adj_floor_after <= 1.5 * r->adj_floor_before)
					break;
			}
			if (scen_open(&scens[i]))
				r->cap_adjacent_gps = capacity_now(impls[k], &scens[i]);
			nresults++;
			if (r->lost || r->dup || r->refused || r->bad_answers)
				bad = 1;
			if ((impls[k] == &impl_iopfq || impls[k] == &impl_libiopfq) && r->allocs_per_fault > 0)
				bad = 1;
		}
	}
	fprintf(stderr, "%60s\r", "");
	if (do_floors) {
		run_end_floor(quick);
		if (pingpong_end.ok)
			printf("\nPing-pong floor again after the scenarios: p50 %.0f ns (at the start: %.0f ns)\n",
			       pingpong_end.p50, floors[0].p50);
	}
	print_table();
	for (i = 0; i < nresults && !scen_open(&results[i].s); i++)
		;
	if (i < nresults)
		print_open();
	if (do_floors)
		run_trace(quick, 0);
	else if (selftest)
		run_trace(quick, 1);
	if (do_floors && (!only || strstr("8x32/g4/busy", only)))
		run_ab(quick);
	if (!only || !strncmp(only, "iso", 3)) {
		const struct qimpl *list[NIMPL + 1];
		unsigned n = 0;

		for (k = 0; k < NISO_IMPL; k++)
			if (!impl_only || !strcmp(impl_only, iso_impls[k]->name))
				list[n++] = iso_impls[k];
		if (n)
			run_isolation(quick, list, n);
		bad |= iso_bad;
	}
	bad |= trace_bad;

	if (do_stall) {
		if (stall_run(0, quick ? 20 : 50, 2, &stall[nstall]) == 0)
			nstall++;
		if (stall_run(1, quick ? 20 : 50, 2, &stall[nstall]) == 0)
			nstall++;
		print_stall(stall, nstall);
	}
	if (do_floors)
		print_targets();
	if (json)
		write_json(json, stall, nstall);
	if (data)
		write_data(data);
	printf("\nbenchmark wall time: %.1f s\n", (double)(mono_ns() - t_start) / 1e9);
	if (bad)
		printf("FAILED: lost, duplicated, refused or bad answers, or allocations on iopfq's fault path\n");
	return bad ? 1 : 0;
}
