/* SPDX-License-Identifier: MIT */
/*
 * bench.h - the flood benchmark's shared pieces: the TSC clock, the fixed
 * log-linear latency histogram, the simulated PRI device, and the small
 * "queue implementation" interface (report / read-batch / respond / wait)
 * that iopfq and every baseline implement, so that one harness drives them
 * all in the same run.
 *
 * May touch: benchmark memory only. Never modifies core/.
 */
#ifndef IOPFQ_BENCH_H
#define IOPFQ_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <iopfq/abi.h>
#include <iopfq/iopfq.h>

#define BENCH_MAX_DEVICES 64
#define BENCH_NGRP 512          /* PRI group index space (9 bits) */
#define BENCH_CACHELINE 64

/* ---- clock: rdtsc, calibrated once against CLOCK_MONOTONIC ---- */

static inline uint64_t tsc_now(void)
{
	uint32_t lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

extern double tsc_per_ns;            /* ticks per nanosecond */
void tsc_calibrate(void);
uint64_t mono_ns(void);

/* online CPUs (iopfq_bench sets it at start); pin_to_cpu(-1) unpins */
extern int ncpu;
void pin_to_cpu(int cpu);

static inline void cpu_relax(void)
{
	__builtin_ia32_pause();
}

/* Spin for @ticks TSC ticks (simulated handler work). */
static inline void spin_ticks(uint64_t ticks)
{
	uint64_t end = tsc_now() + ticks;

	while (tsc_now() < end)
		cpu_relax();
}

/* ---- histogram: user-adapter/sim/hist.h (shared with the simulator), values in ticks ---- */

#include "hist.h"

/* ---- a simulated PRI device ---- */

struct bdev {
	uint32_t index;                 /* 0 .. ndev-1 */
	uint32_t dev_id;                /* the id records carry: index + 1 */
	uint32_t credits;               /* PRI Outstanding Page Request Allocation */
	uint32_t group_size;
	uintptr_t qdev;                 /* the implementation's handle */
	/* producer-owned */
	uint32_t next_grpid;
	uint64_t next_due;              /* open loop: intended send time (ticks) */
	uint64_t groups_sent;           /* atomic (read by main) */
	uint64_t refused;               /* atomic */
	/* shared: producer adds, response hook subtracts */
	int inflight __attribute__((aligned(BENCH_CACHELINE)));
	/* response side (the hook) */
	uint64_t groups_answered __attribute__((aligned(BENCH_CACHELINE)));
	uint64_t duplicates;
	uint8_t outstanding[BENCH_NGRP];        /* atomic: group awaits its answer */
	uint64_t issue_tsc[BENCH_NGRP];         /* written before the report publishes */
	/* isolation and tracing (iopfq_bench.c) */
	struct iopfq_hist *hist;                /* this device's own latencies, or NULL */
	uint64_t measured_pages;                /* answered while measuring (hook thread) */
	int idle;                               /* issues nothing (solo runs of the others) */
	uint64_t think_ticks;                   /* closed loop: waits this long after an answer */
	uint64_t period_ticks;                  /* closed loop: issues at most once per period */
	uint64_t last_issue;                    /* producer-owned: when it last issued (period) */
	uint64_t reported_tsc[BENCH_NGRP];      /* atomic: the group's last report returned */
} __attribute__((aligned(BENCH_CACHELINE)));

/*
 * The Page Group Response reached device @d (called by an implementation
 * from its respond path, on the answering thread): records the latency,
 * catches duplicates, gives the credits back.
 */
void bench_response(struct bdev *d, uint32_t grpid, uint32_t npages);

/* ---- the queue implementation interface ---- */

struct qcfg {
	uint32_t ndev;
	uint32_t credits;               /* the most any device has (sizes per-device tables);
					 * device i's own allocation is devs[i].credits */
	uint32_t max_group;
	struct bdev *devs;
};

/* the sum of the devices' allocations: what a queue is sized for */
static inline uint32_t bench_budget(const struct qcfg *cfg)
{
	uint32_t i, sum = 0;

	for (i = 0; i < cfg->ndev; i++)
		sum += cfg->devs[i].credits;
	return sum;
}

struct qimpl {
	const char *name;
	const char *what;               /* one line for the report */
	int fair;                       /* delivers in turn over devices (isolation target) */
	void *(*create)(const struct qcfg *cfg);
	void (*destroy)(void *q);
	void (*thread_enter)(void *q);  /* a producer or consumer thread starts */
	void (*thread_exit)(void *q);
	/* producer: one page request of device @d */
	int (*report)(void *q, struct bdev *d, const struct iopfq_request *req);
	/* consumer: whole groups, never blocks; records written */
	int (*read)(void *q, struct iopfq_hwpt_pgfault *recs, unsigned max);
	/* any thread: answers consumed */
	int (*respond)(void *q, const struct iopfq_hwpt_page_response *resp, unsigned n);
	/* consumer, optional (NULL: part of read): move what producers published
	 * into complete groups, so that a trace can time it apart from read */
	void (*drain)(void *q);
	/* consumer: sleep until something may be readable (or a kick) */
	void (*wait)(void *q);
	/* wake a consumer sleeping in wait() (for stopping) */
	void (*kick)(void *q);
};

extern const struct qimpl impl_iopfq, impl_iopfq_fair, impl_libiopfq, impl_iommufd, impl_urcu, impl_ck;

/*
 * A generic wake-up for baselines: the same Dekker pattern as iopfq's
 * (announce, full fence, re-check / publish, full fence, check), ending in
 * an eventfd, so that blocking-mode comparisons measure the queues and not
 * different wake-up schemes.
 */
struct waker {
	int sleeping __attribute__((aligned(BENCH_CACHELINE)));
	int efd;
};

int waker_init(struct waker *w);
void waker_fini(struct waker *w);
/* producer, after publishing */
void waker_after_publish(struct waker *w);
/* consumer: nonempty() re-checked after the announcement */
void waker_wait(struct waker *w, int (*nonempty)(void *), void *arg);
void waker_kick(struct waker *w);

/* ---- consumer-side group assembly, shared by the wfcqueue and ck_ring baselines ---- */

struct asm_page {
	uint64_t addr;
	uint32_t flags;
	uint32_t perm;
	uint32_t next;
};

struct asm_group {
	uint32_t dev;
	uint32_t pasid;
	uint32_t grpid;
	uint32_t flags;
	uint32_t npages;
	uint32_t first;
	uint32_t last;
	uint32_t next;
};

struct assembler {
	uint32_t ndev;
	uint32_t budget;
	uint32_t *partial;              /* [ndev][BENCH_NGRP] group index or NIL */
	struct asm_group *groups;
	struct asm_page *pages;
	uint32_t group_free, page_free;
	uint32_t ready_head, ready_tail;
};

#define ASM_NIL 0xffffffffu

int asm_init(struct assembler *a, uint32_t ndev, uint32_t budget);
void asm_fini(struct assembler *a);
void asm_add(struct assembler *a, uint32_t dev, const struct iopfq_request *req);
static inline int asm_ready(const struct assembler *a)
{
	return a->ready_head != ASM_NIL;
}
/* the oldest complete group, or NULL */
static inline struct asm_group *asm_peek(struct assembler *a)
{
	return a->ready_head == ASM_NIL ? NULL : &a->groups[a->ready_head];
}
/* write the oldest group's records with @cookie and release it */
unsigned asm_pop(struct assembler *a, struct iopfq_hwpt_pgfault *recs, uint32_t dev_id,
		 uint32_t cookie);

/* ---- allocation counting (alloc_count.c interposes malloc & co.) ---- */

uint64_t alloc_count_total(void);

#endif /* IOPFQ_BENCH_H */
