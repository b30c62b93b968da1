/* SPDX-License-Identifier: MIT */
/* floors.h - physical floors (floors.c) and the preempted-producer test (stall.c). */
#ifndef IOPFQ_BENCH_FLOORS_H
#define IOPFQ_BENCH_FLOORS_H

#include <stddef.h>
#include <stdint.h>

#include "bench.h"

int floor_pingpong(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b);
int floor_wake1(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b, double gap_us);
int floor_eventfd(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b);
/* Return: 0, or -1 with @why saying what refused (permission, kernel config) */
int floor_uffd(struct iopfq_hist *h, uint64_t iters, int cpu_a, int cpu_b, char *why, size_t whylen);

struct stall_result {
	const char *impl;
	double stall_ms;
	uint64_t before_per_ms;         /* other producers' reports per ms before the stall */
	uint64_t during;                /* their reports completed during the stall */
	uint64_t refused_during;        /* calls that returned "full" during the stall */
	uint64_t blocked_max_ns;        /* longest single report call during the stall */
	uint64_t consumed_during;       /* entries the consumer took during the stall */
	uint32_t producers;
};

/* 0 = iopfq ring (ring.h primitives), 1 = ck_ring MP */
int stall_run(int which, double stall_ms, uint32_t producers, struct stall_result *r);

#endif
