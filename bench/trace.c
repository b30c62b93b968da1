/* SPDX-License-Identifier: MIT */
/*
 * trace.c - where a slow fault's time went: the gap logs, the scheduler
 * snapshots and the stage analysis declared in trace.h.
 *
 * May touch: the logs it is given; reads /proc/thread-self and /proc/stat.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace.h"

int gap_log_init(struct gap_log *l, uint32_t cap, uint64_t thresh)
{
	memset(l, 0, sizeof(*l));
	l->start = malloc(cap * sizeof(*l->start));
	l->end = malloc(cap * sizeof(*l->end));
	l->settled = malloc(cap * sizeof(*l->settled));
	if (!l->start || !l->end || !l->settled) {
		gap_log_fini(l);
		return -1;
	}
	memset(l->start, 0, cap * sizeof(*l->start));
	memset(l->end, 0, cap * sizeof(*l->end));
	memset(l->settled, 0, cap * sizeof(*l->settled));
	l->cap = cap;
	l->thresh = thresh;
	return 0;
}

void gap_log_fini(struct gap_log *l)
{
	free(l->start);
	free(l->end);
	free(l->settled);
	l->start = l->end = l->settled = NULL;
	l->cap = 0;
}

void gap_log_reset(struct gap_log *l)
{
	l->n = 0;
	l->unsettled = 0;
	l->overflow = 0;
	l->last = tsc_now();
}

static uint64_t steal_ticks(int cpu)
{
	char line[512], want[16];
	uint64_t v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		/* user nice system idle iowait irq softirq steal */
		sscanf(line + strlen(want), "%lu %lu %lu %lu %lu %lu %lu %lu", &v[0], &v[1], &v[2],
		       &v[3], &v[4], &v[5], &v[6], &v[7]);
		break;
	}
	fclose(f);
	return v[7];
}

void sched_snap_self(struct sched_snap *s, int cpu)
{
	char line[256];
	FILE *f;

	memset(s, 0, sizeof(*s));
	f = fopen("/proc/thread-self/schedstat", "r");
	if (f) {
		if (fscanf(f, "%lu %lu %lu", &s->run_ns, &s->wait_ns, &s->slices) != 3)
			s->run_ns = s->wait_ns = s->slices = 0;
		fclose(f);
	}
	f = fopen("/proc/thread-self/status", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "voluntary_ctxt_switches:", 24))
				s->nvcsw = strtoull(line + 24, NULL, 10);
			else if (!strncmp(line, "nonvoluntary_ctxt_switches:", 27))
				s->nivcsw = strtoull(line + 27, NULL, 10);
		}
		fclose(f);
	}
	s->steal_ticks = steal_ticks(cpu);
	s->tsc = tsc_now();
}

int fault_log_init(struct fault_log *l, uint64_t cap)
{
	l->n = 0;
	l->cap = cap;
	l->rec = malloc(cap * sizeof(*l->rec));
	if (!l->rec)
		return -1;
	/* touched now, so that the traced run takes no page faults on it */
	memset(l->rec, 0, cap * sizeof(*l->rec));
	return 0;
}

void fault_log_fini(struct fault_log *l)
{
	free(l->rec);
	l->rec = NULL;
	l->cap = l->n = 0;
}

/* ---- analysis ---- */

#define NSTAGE 6
static const char *const stage_name[NSTAGE] = { "report", "wait", "drain", "read", "prep", "respond" };

/*
 * Does a gap of @g, or the catch-up after it, overlap [a, b)? The gaps are
 * disjoint and in time order; a catch-up lasts at most as long as its gap,
 * so only the last gaps that start before b can reach back to a.
 */
static int gap_in(const struct gap_log *g, uint64_t a, uint64_t b)
{
	uint32_t lo = 0, hi = g->n, k;

	/* the first gap that starts at or after b */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (g->start[mid] < b)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k-- > 0 && lo - k <= 64;)
		if (g->settled[k] > a)
			return 1;
	return 0;
}

static void stages_of(const struct fault_rec *r, uint64_t st[NSTAGE])
{
	uint64_t t[NSTAGE + 1] = { r->issue, r->reported, r->read_start, r->drained, r->read_end,
				   r->resp_start, r->done };
	int k;

	/* a stamp that is missing (0) or out of order (the consumer read the
	 * group while its report call was still returning) counts as no time */
	for (k = 1; k <= NSTAGE; k++)
		if (t[k] < t[k - 1])
			t[k] = t[k - 1];
	for (k = 0; k < NSTAGE; k++)
		st[k] = t[k + 1] - t[k];
}

static double us(uint64_t ticks)
{
	return (double)ticks / tsc_per_ns / 1e3;
}

struct stage_sum {
	uint64_t n;
	double sum[NSTAGE + 1];
};

static void stage_add(struct stage_sum *s, const uint64_t st[NSTAGE], uint64_t total)
{
	int k;

	s->n++;
	for (k = 0; k < NSTAGE; k++)
		s->sum[k] += us(st[k]);
	s->sum[NSTAGE] += us(total);
}

static void stage_print(const char *what, const struct stage_sum *s)
{
	int k;

	printf("  %-30s %8llu", what, (unsigned long long)s->n);
	for (k = 0; k <= NSTAGE; k++)
		printf(" %8.2f", s->n ? s->sum[k] / (double)s->n : 0.0);
	printf("\n");
}

void trace_report(const char *label, const struct fault_log *faults, const struct trace_thread *th,
		  unsigned nth, double seconds, double slow_ns, struct trace_summary *sum)
{
	static struct iopfq_hist all, clean, stage_h[NSTAGE];
	struct stage_sum slow_gap = { 0 }, slow_clean = { 0 }, slow_cons = { 0 }, slow_prod = { 0 };
	uint64_t n = faults->n < faults->cap ? faults->n : faults->cap, i, slow = 0, thr, p50;
	long hz = sysconf(_SC_CLK_TCK);
	unsigned t;
	int k;

	iopfq_hist_init(&all);
	iopfq_hist_init(&clean);
	for (k = 0; k < NSTAGE; k++)
		iopfq_hist_init(&stage_h[k]);
	for (i = 0; i < n; i++) {
		const struct fault_rec *r = &faults->rec[i];
		uint64_t st[NSTAGE];

		iopfq_hist_record(&all, r->done - r->issue);
		stages_of(r, st);
		for (k = 0; k < NSTAGE; k++)
			iopfq_hist_record(&stage_h[k], st[k]);
	}
	p50 = iopfq_hist_percentile(&all, 50);
	thr = slow_ns > 0 ? (uint64_t)(slow_ns * tsc_per_ns) : 10 * p50;
	for (i = 0; i < n; i++) {
		const struct fault_rec *r = &faults->rec[i];
		uint64_t st[NSTAGE], lat = r->done - r->issue;
		int cons = 0, prod = 0;

		for (t = 0; t < nth; t++) {
			/* a producer's pause delays only the group it is reporting */
			if (t == 0)
				cons |= gap_in(th[t].gaps, r->issue, r->done);
			else
				prod |= gap_in(th[t].gaps, r->issue, r->reported > r->issue ? r->reported : r->issue + 1);
		}
		if (!cons && !prod)
			iopfq_hist_record(&clean, lat);
		if (lat <= thr)
			continue;
		slow++;
		stages_of(r, st);
		if (cons || prod)
			stage_add(&slow_gap, st, lat);
		else
			stage_add(&slow_clean, st, lat);
		if (cons)
			stage_add(&slow_cons, st, lat);
		if (prod)
			stage_add(&slow_prod, st, lat);
	}
	sum->faults = n;
	sum->slow = slow;
	sum->slow_in_gap = slow_gap.n;
	sum->p50 = us(p50) * 1e3;
	sum->p999 = us(iopfq_hist_percentile(&all, 99.9)) * 1e3;
	sum->clean_p50 = us(iopfq_hist_percentile(&clean, 50)) * 1e3;
	sum->clean_p99 = us(iopfq_hist_percentile(&clean, 99)) * 1e3;
	sum->clean_p999 = us(iopfq_hist_percentile(&clean, 99.9)) * 1e3;
	printf("\n%s: %llu faults traced in %.2f s%s\n", label, (unsigned long long)n, seconds,
	       faults->n > faults->cap ? " (log full: the rest not traced)" : "");
	if (!n)
		return;
	printf("  all faults:            p50 %7.2f us  p99 %7.2f us  p99.9 %7.2f us = %5.1f x p50\n",
	       us(p50), us(iopfq_hist_percentile(&all, 99)), us(iopfq_hist_percentile(&all, 99.9)),
	       (double)iopfq_hist_percentile(&all, 99.9) / (double)(p50 ? p50 : 1));
	if (clean.count)
		printf("  faults with no gap:    p50 %7.2f us  p99 %7.2f us  p99.9 %7.2f us = %5.1f x p50 "
		       "(%.3f %% of the faults contain a gap)\n",
		       us(iopfq_hist_percentile(&clean, 50)), us(iopfq_hist_percentile(&clean, 99)),
		       us(iopfq_hist_percentile(&clean, 99.9)),
		       (double)iopfq_hist_percentile(&clean, 99.9) /
			       (double)(iopfq_hist_percentile(&clean, 50) ? iopfq_hist_percentile(&clean, 50) : 1),
		       100.0 * (double)(n - clean.count) / (double)n);
	printf("  slow (> %s = %.2f us): %llu = %.3f %% of the faults; %llu contain a consumer gap "
	       "or its catch-up, %llu a producer gap, %llu none\n",
	       slow_ns > 0 ? "the given bound" : "10 x p50", us(thr), (unsigned long long)slow, 100.0 * (double)slow / (double)n,
	       (unsigned long long)slow_cons.n, (unsigned long long)slow_prod.n,
	       (unsigned long long)slow_clean.n);
	printf("  %-30s %8s", "stage (us)", "faults");
	for (k = 0; k < NSTAGE; k++)
		printf(" %8s", stage_name[k]);
	printf(" %8s\n", "total");
	printf("  %-30s %8llu", "all faults, median", (unsigned long long)n);
	for (k = 0; k < NSTAGE; k++)
		printf(" %8.2f", us(iopfq_hist_percentile(&stage_h[k], 50)));
	printf(" %8.2f\n", us(p50));
	stage_print("slow, containing a gap, mean", &slow_gap);
	stage_print("  of which consumer, mean", &slow_cons);
	stage_print("  of which producer gap, mean", &slow_prod);
	stage_print("slow, no gap, mean", &slow_clean);
	printf("  each thread over its whole run (warm-up, measured phase, drain); a gap is a jump of more "
	       "than %.1f us between two of its TSC reads\n", nth ? us(th[0].gaps->thresh) : 0.0);
	printf("  %-10s %7s %10s %11s %10s | scheduler: %10s %7s %9s %7s %10s\n", "thread", "gaps",
	       "gaps (ms)", "longest(us)", "time lost", "waited(ms)", "slices", "involunt.", "volunt.",
	       "steal(ms)");
	for (t = 0; t < nth; t++) {
		const struct gap_log *g = th[t].gaps;
		uint64_t sum = 0, longest = 0;
		double life;
		uint32_t j;

		for (j = 0; j < g->n; j++) {
			uint64_t d = g->end[j] - g->start[j];

			sum += d;
			if (d > longest)
				longest = d;
		}
		life = us(th[t].after.tsc - th[t].before.tsc) / 1e6;
		printf("  %-10s %7u %10.2f %11.1f %9.3f%% | scheduler: %10.2f %7llu %9llu %7llu %10.1f\n",
		       th[t].name, g->n + g->overflow, us(sum) / 1e3, us(longest),
		       life > 0 ? 100.0 * us(sum) / 1e6 / life : 0.0,
		       (double)(th[t].after.wait_ns - th[t].before.wait_ns) / 1e6,
		       (unsigned long long)(th[t].after.slices - th[t].before.slices),
		       (unsigned long long)(th[t].after.nivcsw - th[t].before.nivcsw),
		       (unsigned long long)(th[t].after.nvcsw - th[t].before.nvcsw),
		       hz > 0 ? (double)(th[t].after.steal_ticks - th[t].before.steal_ticks) * 1e3 / (double)hz
			      : 0.0);
	}
}
