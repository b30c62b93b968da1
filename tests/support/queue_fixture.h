/* SPDX-License-Identifier: MIT */
/*
 * queue_fixture.h - the cmocka fixture and helpers the queue's unit tests
 * share (tests/unit/test_queue_*.c): a queue on the test platform, report
 * and read shorthands that assert success, counter snapshots that prove a
 * refused call changed nothing, and the conservation check.
 */
#ifndef IOPFQ_QUEUE_FIXTURE_H
#define IOPFQ_QUEUE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "test_platform.h"

struct fx {
	struct tp_ctx tp;
	struct iopfq_config cfg;
	struct iopfq *q;
};

/* What a refused call must leave as it was */
struct snap {
	struct iopfq_counters c;
	size_t nresp, naged;
	unsigned long notifies, synchronizes;
	iopfq_u32 next_size;
};

int fx_setup(void **state);

int fx_teardown(void **state);

void fx_open(struct fx *f, iopfq_u32 max_devices, iopfq_u32 budget, iopfq_u32 marker_credits,
	     iopfq_u32 gen_bits);

iopfq_dev_t att(struct fx *f, iopfq_u32 dev_id, iopfq_u32 credits, void *ctx);

struct iopfq_request req_nopasid(iopfq_u32 grpid, int last, iopfq_u64 addr);

int rep(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid, iopfq_u32 grpid, int last, iopfq_u64 addr);

void rep_ok(struct fx *f, iopfq_dev_t d, iopfq_u32 pasid, iopfq_u32 grpid, int last,
	    iopfq_u64 addr);

struct iopfq_counters cnt(struct fx *f);

void assert_counters_eq(const struct iopfq_counters *got, const struct iopfq_counters *want);

void assert_conserved(struct fx *f);

void snap_take(struct fx *f, struct snap *s);

void snap_check(struct fx *f, const struct snap *s);

size_t count_resp(struct fx *f, size_t from, iopfq_u32 dev_id);

const struct iopfq_response *find_resp(struct fx *f, size_t from, iopfq_u32 dev_id, iopfq_u32 pasid,
				       iopfq_u32 grpid);

iopfq_u32 read_group(struct fx *f, iopfq_u32 npages);

int respond1(struct fx *f, iopfq_u32 cookie, iopfq_u32 code);

int drain_all(struct fx *f);

#endif
