/* SPDX-License-Identifier: MIT */
/*
 * trace.h - where a slow fault's time went (bench/trace.c): per-fault stage
 * timestamps, the TSC gaps of the busy-polling threads (a thread that reads
 * the TSC in a tight loop and sees a jump was not running: preempted,
 * interrupted or stolen by the host), and the scheduler's own account of the
 * same threads (/proc/thread-self/schedstat and status, /proc/stat steal).
 *
 * May touch: the logs it is given (fixed memory, allocated before the
 * measured phase) and /proc reads outside the measured phase.
 */
#ifndef IOPFQ_BENCH_TRACE_H
#define IOPFQ_BENCH_TRACE_H

#include <stdint.h>

#include "bench.h"

/* ---- TSC gaps of one busy-polling thread ---- */

struct gap_log {
	uint64_t last;                  /* TSC at the thread's previous tick */
	uint64_t thresh;                /* a jump longer than this is a gap (ticks) */
	uint64_t *start, *end;          /* gap i: the thread did not run in [start, end) */
	/*
	 * the consumer's catch-up: until its first empty read after gap i
	 * (gap_idle()), at most as long again as the gap; the requests that
	 * piled up while it did not run are served in [end, settled). Equal
	 * to end for a thread that never calls gap_idle().
	 */
	uint64_t *settled;
	uint32_t n, cap;
	uint32_t unsettled;             /* first gap whose catch-up may still end */
	int catches_up;                 /* the owner calls gap_idle() */
	uint32_t overflow;              /* gaps not logged: the log was full */
};

int gap_log_init(struct gap_log *l, uint32_t cap, uint64_t thresh);
void gap_log_fini(struct gap_log *l);
/* empty the log and start timing from now (the owning thread, or before it runs) */
void gap_log_reset(struct gap_log *l);

/* The owning thread, once per loop iteration and wherever it can pause. */
static inline void gap_tick(struct gap_log *l)
{
	uint64_t t = tsc_now();

	if (t - l->last > l->thresh) {
		if (l->n < l->cap) {
			l->start[l->n] = l->last;
			l->end[l->n] = t;
			l->settled[l->n] = l->catches_up ? t + (t - l->last) : t;
			l->n++;
		} else {
			l->overflow++;
		}
	}
	l->last = t;
}

/* The owning thread found nothing to do: it has caught up with every gap so far. */
static inline void gap_idle(struct gap_log *l)
{
	uint64_t t = tsc_now();

	for (; l->unsettled < l->n; l->unsettled++)
		if (t < l->settled[l->unsettled])
			l->settled[l->unsettled] = t;
}

/* ---- the scheduler's account of a thread ---- */

struct sched_snap {
	uint64_t run_ns;                /* schedstat: time on the CPU */
	uint64_t wait_ns;               /* schedstat: runnable, waiting for the CPU */
	uint64_t slices;                /* schedstat: times it was scheduled in */
	uint64_t nvcsw, nivcsw;         /* voluntary / involuntary context switches */
	uint64_t steal_ticks;           /* /proc/stat steal (USER_HZ) of the thread's CPU */
	uint64_t tsc;                   /* when the snapshot was taken */
};

/* the calling thread, which runs pinned to @cpu; its gaps are logged over
 * the same interval as two snapshots (before, after) */
void sched_snap_self(struct sched_snap *s, int cpu);

/* ---- per-fault stage timestamps (TSC) ---- */

struct fault_rec {
	uint64_t issue;         /* the device issued the group (open loop: intended time) */
	uint64_t reported;      /* the producer's report of the group's last page returned */
	uint64_t read_start;    /* the consumer began the read that delivered it */
	uint64_t drained;       /* ...had moved the ring into groups (iopfq: poll_ready) */
	uint64_t read_end;      /* ...had the records (cookies claimed, records copied) */
	uint64_t resp_start;    /* the consumer began answering that batch */
	uint64_t done;          /* the response reached the device (page_response hook) */
};

struct fault_log {
	struct fault_rec *rec;
	uint64_t n, cap;                /* n: atomic (one writer in this harness) */
};

int fault_log_init(struct fault_log *l, uint64_t cap);
void fault_log_fini(struct fault_log *l);

static inline void fault_log_add(struct fault_log *l, const struct fault_rec *r)
{
	uint64_t i = __atomic_fetch_add(&l->n, 1, __ATOMIC_RELAXED);

	if (i < l->cap)
		l->rec[i] = *r;
}

/*
 * Print where the time of the slow faults (by default: slower than 10 x p50) went, stage by
 * stage, split by whether the fault's interval contains a TSC gap of the
 * consumer or the catch-up after it (anywhere between issue and response)
 * or a gap of a producer (between issue and the end of its report); the p99.9/p50 of all faults and of the
 * faults that contain no gap; and each thread's gaps against the
 * scheduler's account. @label names the pass.
 */
struct trace_thread {
	const char *name;
	struct gap_log *gaps;
	struct sched_snap before, after;
};

struct trace_summary {
	uint64_t faults, slow, slow_in_gap;
	double p50, p999;               /* ns, all faults */
	double clean_p50, clean_p99, clean_p999; /* ns, the faults that contain no gap */
};

/* @slow_ns: a fault slower than this is slow (0: 10 x the p50 of the faults traced) */
void trace_report(const char *label, const struct fault_log *faults, const struct trace_thread *th,
		  unsigned nth, double seconds, double slow_ns, struct trace_summary *sum);

#endif /* IOPFQ_BENCH_TRACE_H */
