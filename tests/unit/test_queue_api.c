/* SPDX-License-Identifier: MIT */
/*
 * test_queue_api.c - the queue's API surface and its validation:
 *
 *   iopfq_config_geometry / iopfq_memsize / iopfq_init: every bad configuration,
 *	too little memory, misaligned memory, a missing hook (-EINVAL, NULL,
 *	memory untouched); the sizes derived from the budget.
 *   iopfq_dev_attach / iopfq_dev_lookup: -EINVAL, -EEXIST, -ENOSPC (budget and
 *	device table), -ENOENT.
 *   iopfq_dev_detach: INVALID (origin DETACH) to the device's ready and delivered
 *	groups only, partial pages discarded, cookies revoked, credits back,
 *	synchronize called, stale handle -ENODEV everywhere afterwards, and
 *	forever: a slot whose generations are spent is retired (dev_gen_bits).
 *   iopfq_report: each malformed request (-EINVAL, refused_invalid),
 *	over-credit (-EDQUOT, *answer by convention), marker credits,
 *	bad handle (-ENODEV), failed device (-EIO) and re-enabling it.
 *
 * Every refusal is checked for its exact errno and for having changed
 * nothing but the one counter it documents; conservation is checked after
 * every scenario.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "queue_fixture.h"

/* ---------------------------------------------------------------------- */
/* geometry, memsize, init                                                 */

static struct iopfq_config mkcfg(iopfq_u32 devs, iopfq_u32 budget, iopfq_u32 markers,
				 iopfq_u32 gen_bits)
{
	struct iopfq_config c = {
		.max_devices = devs,
		.credit_budget = budget,
		.marker_credits = markers,
		.cookie_gen_bits = gen_bits,
	};
	return c;
}

/* A bad config: geometry -EINVAL, memsize 0, init NULL/-EINVAL, memory untouched */
static void expect_bad_config(struct fx *f, const struct iopfq_config *cfg)
{
	struct iopfq_config ok = mkcfg(1, 2, 0, 0);
	struct iopfq_ops ops = tp_ops;
	struct iopfq_geometry geo;
	size_t size = iopfq_memsize(&ok) + 4096;
	unsigned char *mem = tp_mem_alloc(size);
	unsigned char *copy = malloc(size);
	struct iopfq *q = (struct iopfq *)&copy;

	assert_non_null(mem);
	assert_non_null(copy);
	assert_int_equal(iopfq_config_geometry(cfg, &geo), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_memsize(cfg), 0);
	memset(mem, 0xa5, size);
	memcpy(copy, mem, size);
	assert_int_equal(iopfq_init(mem, size, cfg, &ops, &f->tp, &q), -IOPFQ_EINVAL);
	assert_ptr_equal(q, (struct iopfq *)&copy); /* untouched on error */
	assert_memory_equal(mem, copy, size);
	assert_int_equal(f->tp.nresp, 0);
	free(copy);
	free(mem);
}

static void test_cfg_zero_devices(void **state)
{
	struct iopfq_config c = mkcfg(0, 2, 0, 0);

	expect_bad_config(*state, &c);
}

static void test_cfg_too_many_devices(void **state)
{
	struct iopfq_config c = mkcfg(IOPFQ_MAX_DEVICES + 1, 2, 0, 0);
	struct iopfq_geometry geo;

	expect_bad_config(*state, &c);
	c.max_devices = IOPFQ_MAX_DEVICES; /* the limit itself is fine */
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_not_equal(iopfq_memsize(&c), 0);
}

static void test_cfg_zero_budget(void **state)
{
	struct iopfq_config c = mkcfg(1, 0, 0, 0);

	expect_bad_config(*state, &c);
}

static void test_cfg_budget_too_large(void **state)
{
	struct iopfq_config c = mkcfg(1, IOPFQ_MAX_CREDITS + 1, 0, 0);
	struct iopfq_geometry geo;

	expect_bad_config(*state, &c);
	c.credit_budget = IOPFQ_MAX_CREDITS;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.group_slots, IOPFQ_MAX_CREDITS);
	assert_int_not_equal(iopfq_memsize(&c), 0);
}

static void test_cfg_marker_credits_too_large(void **state)
{
	struct iopfq_config c = mkcfg(1, 2, IOPFQ_MAX_MARKER_CREDITS + 1, 0);
	struct iopfq_geometry geo;

	expect_bad_config(*state, &c);
	c.marker_credits = IOPFQ_MAX_MARKER_CREDITS;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.ring_slots, 128); /* 2 + 64 -> 128 */
}

static void test_cfg_gen_bits_one(void **state)
{
	struct iopfq_config c = mkcfg(1, 2, 0, 1);
	struct iopfq_geometry geo;

	expect_bad_config(*state, &c);
	c.cookie_gen_bits = 2;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.cookie_gen_bits, 2);
}

static void test_cfg_gen_bits_too_large(void **state)
{
	/* budget 2: 4 cookie slots, 2 index bits, so at most 30 generation bits */
	struct iopfq_config c = mkcfg(1, 2, 0, 31);
	struct iopfq_geometry geo;

	expect_bad_config(*state, &c);
	c.cookie_gen_bits = 32;
	expect_bad_config(*state, &c);
	c.cookie_gen_bits = 30;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.cookie_gen_bits, 30);
}

static void test_geometry_null(void **state)
{
	struct iopfq_config c = mkcfg(1, 2, 0, 0);
	struct iopfq_geometry geo;

	(void)state;
	assert_int_equal(iopfq_config_geometry(NULL, &geo), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_config_geometry(&c, NULL), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_memsize(NULL), 0);
}

/* A failing call changes no state: not even its output structure. */
static void test_geometry_failure_leaves_output(void **state)
{
	static const struct iopfq_config bad[] = {
		{ .max_devices = 0, .credit_budget = 2 },
		{ .max_devices = 1, .credit_budget = 0 },
		{ .max_devices = 1, .credit_budget = 2, .marker_credits = 65 },
		{ .max_devices = 1, .credit_budget = 2, .cookie_gen_bits = 1 },
		{ .max_devices = 1, .credit_budget = 2, .cookie_gen_bits = 31 },
		{ .max_devices = 1, .credit_budget = 2, .dev_gen_bits = 21 },
	};
	struct iopfq_geometry geo, poison;
	size_t i;
	int written = 0;

	(void)state;
	memset(&poison, 0xa5, sizeof(poison));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		geo = poison;
		assert_int_equal(iopfq_config_geometry(&bad[i], &geo), -IOPFQ_EINVAL);
		if (memcmp(&geo, &poison, sizeof(geo))) {
			print_error("config %zu (gen_bits %u): iopfq_config_geometry() wrote *geo "
				    "although it failed\n", i, bad[i].cookie_gen_bits);
			written++;
		}
	}
	if (written)
		fail_msg("%d failing calls changed their output", written);
}

static void test_geometry_budget_2(void **state)
{
	struct iopfq_config c = mkcfg(1, 2, 0, 2);
	struct iopfq_geometry geo;

	(void)state;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.ring_slots, 4);   /* 2 + 1 * 2 markers */
	assert_int_equal(geo.cookie_slots, 4); /* 2 * 2 */
	assert_int_equal(geo.cookie_index_bits, 2);
	assert_int_equal(geo.cookie_gen_bits, 2);
	assert_int_equal(geo.group_slots, 2);
	assert_int_equal(geo.page_slots, 2);
	assert_int_equal(geo.hash_buckets, 2);
}

static void test_geometry_derived(void **state)
{
	struct iopfq_config c = mkcfg(3, 5, 4, 0);
	struct iopfq_geometry geo;

	(void)state;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.ring_slots, 32);   /* pow2 >= 5 + 3 * 4 = 17 */
	assert_int_equal(geo.cookie_slots, 16); /* pow2 >= 10 */
	assert_int_equal(geo.cookie_index_bits, 4);
	assert_int_equal(geo.cookie_gen_bits, 28); /* default: what the index leaves */
	assert_int_equal(geo.group_slots, 5);
	assert_int_equal(geo.page_slots, 5);
	assert_int_equal(geo.hash_buckets, 8);

	c = mkcfg(1, 1, 0, 0); /* the smallest queue */
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.ring_slots, 4);
	assert_int_equal(geo.cookie_slots, 2);
	assert_int_equal(geo.cookie_index_bits, 1);
	assert_int_equal(geo.cookie_gen_bits, 31);
	assert_int_equal(geo.group_slots, 1);
	assert_int_equal(geo.hash_buckets, 1);
}

static void test_memsize_grows_with_budget(void **state)
{
	struct iopfq_config a = mkcfg(1, 2, 0, 0), b = mkcfg(1, 64, 0, 0);

	(void)state;
	assert_true(iopfq_memsize(&a) > 0);
	assert_true(iopfq_memsize(&b) > iopfq_memsize(&a));
	assert_int_equal(iopfq_memsize(&a) % 64, 0);
}

/* Init with @mem/@memsize/@ops must fail with -EINVAL and touch nothing. */
static void expect_init_refused(void *mem, size_t memsize, size_t span,
				const struct iopfq_config *cfg, const struct iopfq_ops *ops)
{
	unsigned char *copy = NULL;
	struct iopfq *q = (struct iopfq *)&span;

	if (mem) {
		copy = malloc(span);
		assert_non_null(copy);
		memcpy(copy, mem, span);
	}
	assert_int_equal(iopfq_init(mem, memsize, cfg, ops, NULL, &q), -IOPFQ_EINVAL);
	assert_ptr_equal(q, (struct iopfq *)&span); /* untouched on error */
	if (mem)
		assert_memory_equal(mem, copy, span);
	free(copy);
}

static void test_init_memsize_too_small(void **state)
{
	struct fx *f = *state;
	struct iopfq_config c = mkcfg(2, 4, 0, 2);
	struct iopfq_ops ops = tp_ops;
	size_t size = iopfq_memsize(&c);
	void *mem = tp_mem_alloc(size);
	struct iopfq *q = NULL;

	assert_non_null(mem);
	memset(mem, 0xa5, size);
	expect_init_refused(mem, size - 1, size, &c, &ops);
	expect_init_refused(mem, 0, size, &c, &ops);
	assert_int_equal(iopfq_init(mem, size, &c, &ops, &f->tp, NULL), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_init(mem, size, &c, &ops, &f->tp, &q), 0);
	assert_ptr_equal(q, mem);
	free(mem);
}

static void test_init_misaligned(void **state)
{
	struct iopfq_config c = mkcfg(2, 4, 0, 2);
	struct iopfq_ops ops = tp_ops;
	size_t size = iopfq_memsize(&c);
	size_t span = ((size + IOPFQ_MEM_ALIGN - 1) & ~(size_t)(IOPFQ_MEM_ALIGN - 1)) + 2 * IOPFQ_MEM_ALIGN;
	unsigned char *mem = aligned_alloc(IOPFQ_MEM_ALIGN, span);
	size_t off;

	(void)state;
	assert_non_null(mem);
	memset(mem, 0xa5, span);
	for (off = 4; off < 64; off += 4)
		expect_init_refused(mem + off, size + 64, size + 64, &c, &ops);
	free(mem);
}

static void test_init_null_mem(void **state)
{
	struct iopfq_config c = mkcfg(2, 4, 0, 2);
	struct iopfq_ops ops = tp_ops;

	(void)state;
	expect_init_refused(NULL, iopfq_memsize(&c), 0, &c, &ops);
}

static void test_init_missing_hook(void **state)
{
	struct iopfq_config c = mkcfg(2, 4, 0, 2);
	size_t size = iopfq_memsize(&c);
	void *mem = tp_mem_alloc(size);
	struct iopfq_ops ops;
	int hook;

	(void)state;
	assert_non_null(mem);
	memset(mem, 0xa5, size);
	for (hook = 0; hook < 4; hook++) {
		ops = tp_ops;
		switch (hook) {
		case 0:
			ops.page_response = NULL;
			break;
		case 1:
			ops.synchronize = NULL;
			break;
		case 2:
			ops.notify = NULL;
			break;
		default:
			ops.now_ns = NULL;
			break;
		}
		expect_init_refused(mem, size, size, &c, &ops);
	}
	expect_init_refused(mem, size, size, &c, NULL);
	free(mem);
}

/* relax and aged are optional; without aged, a scan still counts what it finds */
static void test_init_relax_aged_optional(void **state)
{
	struct fx *f = *state;
	struct iopfq_config c = mkcfg(2, 4, 0, 2);
	struct iopfq_ops ops = tp_ops;
	size_t size = iopfq_memsize(&c);
	void *mem = tp_mem_alloc(size);
	struct iopfq_counters cn;
	struct iopfq *q = NULL;
	iopfq_dev_t d;

	assert_non_null(mem);
	ops.relax = NULL;
	ops.aged = NULL;
	assert_int_equal(iopfq_init(mem, size, &c, &ops, &f->tp, &q), 0);
	assert_ptr_equal(q, mem);
	assert_int_equal(iopfq_dev_attach(q, 10, 2, NULL, &d), 0);
	assert_int_equal(tp_report(q, d, &(struct iopfq_request){ .flags = 0, .grpid = 1,
				   .perm = IOPFQ_PGFAULT_PERM_READ, .addr = 0x1000 }, NULL), 0);
	assert_int_equal(iopfq_age_scan(q, 0), 1);
	assert_int_equal(f->tp.naged, 0);
	iopfq_counters(q, &cn);
	assert_int_equal(cn.aged_warnings, 1);
	assert_int_equal(iopfq_dev_detach(q, d), 0);
	free(mem);
}

/* A fresh queue over poisoned memory: empty, all counters zero */
static void test_init_empty_queue(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault rec;
	struct iopfq_counters zero, c;

	fx_open(f, 2, 4, 0, 2);
	memset(&zero, 0, sizeof(zero));
	c = cnt(f);
	assert_counters_eq(&c, &zero);
	assert_int_equal(iopfq_next_group_size(f->q), 0);
	assert_int_equal(iopfq_read(f->q, &rec, 1), 0);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	assert_int_equal(iopfq_age_scan(f->q, 0), 0);
	assert_int_equal(f->tp.nresp, 0);
	assert_int_equal(f->tp.naged, 0);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* attach, lookup                                                          */

static void test_attach_and_lookup(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b, h;
	struct iopfq_counters c;

	fx_open(f, 2, 4, 0, 2);
	a = att(f, 100, 3, f);
	b = att(f, 200, 1, NULL);
	assert_int_not_equal(a, b);
	c = cnt(f);
	assert_int_equal(c.credits_attached, 4);
	assert_int_equal(c.devices_attached, 2);
	assert_int_equal(iopfq_dev_lookup(f->q, 100, &h), 0);
	assert_int_equal(h, a);
	assert_int_equal(iopfq_dev_lookup(f->q, 200, &h), 0);
	assert_int_equal(h, b);
	assert_conserved(f);
}

static void test_lookup_unknown(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h = 0xdeadbeef;

	fx_open(f, 2, 4, 0, 2);
	att(f, 100, 1, NULL);
	assert_int_equal(iopfq_dev_lookup(f->q, 101, &h), -IOPFQ_ENOENT);
	assert_int_equal(h, 0xdeadbeef);
	assert_int_equal(iopfq_dev_lookup(f->q, 0, &h), -IOPFQ_ENOENT);
	assert_int_equal(h, 0xdeadbeef);
	assert_int_equal(iopfq_dev_lookup(f->q, 100, NULL), -IOPFQ_EINVAL);
}

static void test_attach_zero_credits(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h = 0xdeadbeef;
	struct snap s;

	fx_open(f, 2, 4, 0, 2);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 0, NULL, &h), -IOPFQ_EINVAL);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
	assert_int_equal(iopfq_dev_lookup(f->q, 100, &h), -IOPFQ_ENOENT);
}

static void test_attach_null_handle(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h;
	struct snap s;

	fx_open(f, 2, 4, 0, 2);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 1, NULL, NULL), -IOPFQ_EINVAL);
	snap_check(f, &s);
	assert_int_equal(iopfq_dev_lookup(f->q, 100, &h), -IOPFQ_ENOENT);
}

static void test_attach_duplicate(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, h = 0xdeadbeef;
	struct snap s;

	fx_open(f, 2, 4, 0, 2);
	a = att(f, 100, 1, NULL);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 1, NULL, &h), -IOPFQ_EEXIST);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
	assert_int_equal(iopfq_dev_lookup(f->q, 100, &h), 0);
	assert_int_equal(h, a);
	/* a failed device is still attached */
	assert_int_equal(iopfq_dev_set_flags(f->q, a, IOPFQ_DEV_FAILED), 0);
	h = 0xdeadbeef;
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 1, NULL, &h), -IOPFQ_EEXIST);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
}

static void test_attach_budget_spent(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h = 0xdeadbeef;
	struct snap s;

	fx_open(f, 4, 4, 0, 2);
	att(f, 100, 3, NULL);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 200, 2, NULL, &h), -IOPFQ_ENOSPC);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
	assert_int_equal(iopfq_dev_lookup(f->q, 200, &h), -IOPFQ_ENOENT);
	/* exactly the remainder fits; then nothing does */
	att(f, 200, 1, NULL);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 300, 1, NULL, &h), -IOPFQ_ENOSPC);
	snap_check(f, &s);
	assert_int_equal(cnt(f).credits_attached, 4);
}

static void test_attach_more_than_budget(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h = 0xdeadbeef;
	struct snap s;

	fx_open(f, 4, 4, 0, 2);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 5, NULL, &h), -IOPFQ_ENOSPC);
	assert_int_equal(iopfq_dev_attach(f->q, 100, 0xffffffffu, NULL, &h), -IOPFQ_ENOSPC);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
}

static void test_attach_device_table_full(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t h = 0xdeadbeef;
	struct snap s;

	fx_open(f, 2, 8, 0, 2);
	att(f, 100, 1, NULL);
	att(f, 200, 1, NULL);
	snap_take(f, &s);
	assert_int_equal(iopfq_dev_attach(f->q, 300, 1, NULL, &h), -IOPFQ_ENOSPC);
	assert_int_equal(h, 0xdeadbeef);
	snap_check(f, &s);
	assert_int_equal(cnt(f).devices_attached, 2);
	assert_int_equal(iopfq_dev_lookup(f->q, 300, &h), -IOPFQ_ENOENT);
}

/* ---------------------------------------------------------------------- */
/* detach                                                                  */

static int ctx_a, ctx_b;

/*
 * A: delivered group (pasid 1, grp 1), ready group of 2 (pasid 2, grp 2),
 * a partial page (pasid 3, grp 3). B: a delivered and a ready group with the
 * same PASIDs and group indexes. Detach A answers A's two complete groups
 * INVALID (origin DETACH), drops its partial page and leaves B alone.
 */
static void test_detach_answers_own_groups(void **state)
{
	struct fx *f = *state;
	struct iopfq_hwpt_pgfault recs[8];
	const struct iopfq_response *r;
	iopfq_dev_t a, b;
	iopfq_u32 cookie_a, cookie_b;
	struct iopfq_counters before, c;
	unsigned long syncs;

	fx_open(f, 2, 8, 0, 2);
	a = att(f, 10, 4, &ctx_a);
	b = att(f, 20, 4, &ctx_b);
	rep_ok(f, a, 1, 1, 1, 0x1000);
	rep_ok(f, b, 1, 1, 1, 0x2000);
	assert_int_equal(iopfq_read(f->q, recs, 2), 2);
	assert_int_equal(recs[0].dev_id, 10);
	assert_int_equal(recs[1].dev_id, 20);
	cookie_a = recs[0].cookie;
	cookie_b = recs[1].cookie;
	rep_ok(f, a, 2, 2, 0, 0x3000);
	rep_ok(f, a, 2, 2, 1, 0x4000);
	rep_ok(f, a, 3, 3, 0, 0x5000);
	rep_ok(f, b, 2, 2, 1, 0x6000);
	assert_int_equal(iopfq_poll_ready(f->q), 1);
	before = cnt(f);
	assert_int_equal(before.delivered, 2);
	assert_int_equal(before.ready, 3);
	assert_int_equal(before.partial, 1);
	syncs = f->tp.synchronizes;

	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	assert_true(f->tp.synchronizes > syncs);

	assert_int_equal(f->tp.nresp, 2);
	assert_int_equal(count_resp(f, 0, 10), 2);
	r = find_resp(f, 0, 10, 1, 1);
	assert_non_null(r);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(r->origin, IOPFQ_ANSWER_DETACH);
	assert_int_equal(r->npages, 1);
	assert_int_equal(r->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	assert_ptr_equal(r->dev_ctx, &ctx_a);
	r = find_resp(f, 0, 10, 2, 2);
	assert_non_null(r);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(r->origin, IOPFQ_ANSWER_DETACH);
	assert_int_equal(r->npages, 2);
	assert_int_equal(r->flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	assert_ptr_equal(r->dev_ctx, &ctx_a);
	assert_null(find_resp(f, 0, 10, 3, 3)); /* partial: no answer */

	c = cnt(f);
	before.auto_answered += 3;
	before.groups_auto_answered += 2;
	before.discarded += 1;
	before.partial -= 1;
	before.ready -= 2;
	before.delivered -= 1;
	before.credits_attached -= 4;
	before.devices_attached -= 1;
	assert_counters_eq(&c, &before);
	assert_conserved(f);

	/* B is untouched: its ready group reads, its cookie answers */
	assert_int_equal(iopfq_read(f->q, recs, 8), 1);
	assert_int_equal(recs[0].dev_id, 20);
	assert_int_equal(recs[0].pasid, 2);
	assert_int_equal(respond1(f, cookie_b, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(respond1(f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(count_resp(f, 2, 20), 2);
	assert_int_equal(f->tp.resp[2].origin, IOPFQ_ANSWER_USER);
	assert_int_equal(respond1(f, cookie_a, IOPFQ_PAGE_RESP_SUCCESS), -IOPFQ_EINVAL);
	assert_int_equal(f->tp.nresp, 4);
	assert_conserved(f);
}

static void test_detach_revokes_cookies(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a;
	iopfq_u32 cookie;
	struct snap s;

	fx_open(f, 1, 2, 0, 2);
	a = att(f, 10, 2, NULL);
	rep_ok(f, a, 1, 1, 1, 0x1000);
	cookie = read_group(f, 1);
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	assert_int_equal(f->tp.nresp, 1);
	snap_take(f, &s);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), -IOPFQ_EINVAL);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_INVALID), -IOPFQ_EINVAL);
	s.c.bad_answers += 2;
	snap_check(f, &s);
}

static void test_detach_returns_credits(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b;
	iopfq_u32 cookie;
	int i;

	fx_open(f, 2, 4, 0, 2);
	a = att(f, 10, 4, NULL);
	rep_ok(f, a, 1, 1, 1, 0x1000);  /* delivered */
	cookie = read_group(f, 1);
	rep_ok(f, a, 1, 2, 1, 0x2000);  /* ready */
	rep_ok(f, a, 1, 3, 0, 0x3000);  /* partial */
	rep_ok(f, a, 1, 3, 0, 0x4000);  /* partial, in the ring */
	assert_int_equal(rep(f, a, 1, 4, 1, 0x5000), -IOPFQ_EDQUOT);
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	assert_int_equal(cnt(f).credits_attached, 0);

	/* the whole budget is free again: a device using all of it attaches and reports */
	b = att(f, 20, 4, NULL);
	for (i = 0; i < 3; i++)
		rep_ok(f, b, 7, 9, 0, 0x10000 + (iopfq_u64)i * 0x1000);
	rep_ok(f, b, 7, 9, 1, 0x20000);
	assert_int_equal(rep(f, b, 7, 10, 1, 0x30000), -IOPFQ_EDQUOT);
	assert_int_equal(drain_all(f), 4);
	assert_int_equal(respond1(f, cookie, 0), -IOPFQ_EINVAL);
	assert_conserved(f);
}

static void test_detach_stale_handle(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, a2, h;
	struct snap s;
	iopfq_u32 answer = 0;
	struct iopfq_request r = tp_req(1, 1, 1, 0x1000);

	fx_open(f, 1, 4, 0, 2);
	a = att(f, 10, 2, NULL);
	rep_ok(f, a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	assert_int_equal(iopfq_dev_lookup(f->q, 10, &h), -IOPFQ_ENOENT);

	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, a, &r, &answer), -IOPFQ_ENODEV);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	s.c.refused_nodev++;
	snap_check(f, &s);

	snap_take(f, &s);
	assert_int_equal(iopfq_flush(f->q, a, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_detach(f->q, a), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, a, IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, a, 0), -IOPFQ_ENODEV);
	assert_int_equal(f->tp.synchronizes, s.synchronizes);
	snap_check(f, &s);

	/* the slot is reused with a new generation: the old handle stays dead */
	a2 = att(f, 10, 2, NULL);
	assert_int_not_equal(a2, a);
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, a, &r, NULL), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_flush(f->q, a, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, a, IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_detach(f->q, a), -IOPFQ_ENODEV);
	s.c.refused_nodev++;
	snap_check(f, &s);
	rep_ok(f, a2, 1, 1, 1, 0x1000);
	assert_int_equal(drain_all(f), 1);
	assert_conserved(f);
}

/* Every call a stale handle can be given: refused, nothing changed (but the nodev count) */
static void expect_stale(struct fx *f, iopfq_dev_t h)
{
	struct iopfq_request r = tp_req(1, 1, 1, 0x1000);
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, h, &r, NULL), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_flush(f->q, h, 1, IOPFQ_FLUSH_PASID_VALID), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, h, IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_detach(f->q, h), -IOPFQ_ENODEV);
	s.c.refused_nodev++;
	snap_check(f, &s);
}

/*
 * A detached handle is stale forever: with 2 generation bits a slot issues
 * generations 1, 2, 3 and is then retired, instead of issuing 1 again (which
 * made the first handle name the fourth device attached in that slot).
 */
static void test_detach_handle_stale_forever(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t first, h[3], other;
	struct iopfq_geometry geo;
	int err = 1, i;

	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.max_devices = 2;
	f->cfg.credit_budget = 4;
	f->cfg.dev_gen_bits = 2;
	assert_int_equal(iopfq_config_geometry(&f->cfg, &geo), 0);
	assert_int_equal(geo.dev_gen_bits, 2);
	f->q = tp_queue_new(&f->cfg, &f->tp, &err);
	assert_non_null(f->q);

	/* slot 0: generations 1, 2, 3 */
	for (i = 0; i < 3; i++) {
		h[i] = att(f, 10, 2, NULL);
		assert_int_equal(h[i] & (IOPFQ_MAX_DEVICES - 1), 0);
		assert_int_equal(iopfq_dev_detach(f->q, h[i]), 0);
	}
	first = h[0];
	/* slot 0 is retired: the next device lands in slot 1 */
	other = att(f, 10, 2, NULL);
	assert_int_equal(other & (IOPFQ_MAX_DEVICES - 1), 1);
	for (i = 0; i < 3; i++)
		expect_stale(f, h[i]);
	assert_int_not_equal(other, first);
	rep_ok(f, other, 1, 1, 1, 0x1000);
	assert_int_equal(drain_all(f), 1);

	/* slot 1 spent too: the table admits nobody any more, and says so */
	assert_int_equal(iopfq_dev_detach(f->q, other), 0);
	for (i = 0; i < 2; i++)
		assert_int_equal(iopfq_dev_detach(f->q, att(f, 10, 2, NULL)), 0);
	assert_int_equal(iopfq_dev_attach(f->q, 10, 2, NULL, &other), -IOPFQ_ENOSPC);
	expect_stale(f, first);
	assert_int_equal(cnt(f).devices_attached, 0);
	assert_conserved(f);
}

static void test_cfg_dev_gen_bits(void **state)
{
	struct iopfq_config c = mkcfg(1, 2, 0, 0);
	struct iopfq_geometry geo;

	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.dev_gen_bits, IOPFQ_DEV_GEN_BITS); /* default: what the index leaves */
	c.dev_gen_bits = 1;
	assert_int_equal(iopfq_config_geometry(&c, &geo), 0);
	assert_int_equal(geo.dev_gen_bits, 1);
	c.dev_gen_bits = IOPFQ_DEV_GEN_BITS + 1;
	expect_bad_config(*state, &c);
	c.dev_gen_bits = 32;
	expect_bad_config(*state, &c);
}

static void test_detach_failed_device(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a;
	const struct iopfq_response *r;

	fx_open(f, 1, 4, 0, 2);
	a = att(f, 10, 2, &ctx_a);
	rep_ok(f, a, 5, 6, 1, 0x1000);
	assert_int_equal(iopfq_dev_set_flags(f->q, a, IOPFQ_DEV_FAILED), 0);
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	r = find_resp(f, 0, 10, 5, 6);
	assert_non_null(r);
	assert_int_equal(r->origin, IOPFQ_ANSWER_DETACH);
	assert_int_equal(r->code, IOPFQ_HW_INVALID);
	assert_int_equal(cnt(f).devices_attached, 0);
	assert_conserved(f);
}

/* Counters of a detached device survive it */
static void test_detach_keeps_statistics(void **state)
{
	struct fx *f = *state;
	struct iopfq_request bad = tp_req(1, 512, 1, 0);
	struct iopfq_counters c;
	iopfq_dev_t a;

	fx_open(f, 1, 4, 1, 2);
	a = att(f, 10, 1, NULL);
	rep_ok(f, a, 1, 1, 1, 0x1000);
	assert_int_equal(rep(f, a, 1, 2, 1, 0x2000), -IOPFQ_EDQUOT);
	assert_int_equal(tp_report(f->q, a, &bad, NULL), -IOPFQ_EINVAL);
	bad = tp_marker(1);
	assert_int_equal(tp_report(f->q, a, &bad, NULL), 0);
	assert_int_equal(tp_report(f->q, a, &bad, NULL), -IOPFQ_EDQUOT);
	assert_int_equal(iopfq_dev_set_flags(f->q, a, IOPFQ_DEV_FAILED), 0);
	assert_int_equal(rep(f, a, 1, 3, 1, 0x3000), -IOPFQ_EIO);
	assert_int_equal(iopfq_dev_detach(f->q, a), 0);
	c = cnt(f);
	assert_int_equal(c.accepted, 1);
	assert_int_equal(c.markers_accepted, 1);
	assert_int_equal(c.refused_over_credit, 1);
	assert_int_equal(c.refused_markers, 1);
	assert_int_equal(c.refused_invalid, 1);
	assert_int_equal(c.refused_failed, 1);
	assert_int_equal(c.auto_answered, 1);
	assert_conserved(f);
}

/* ---------------------------------------------------------------------- */
/* report validation                                                       */

/*
 * A device (id 100, 4 credits) with one ready group (pasid 7, grp 1) and a
 * partial page (pasid 7, grp 2) queued, so that a refusal has something to
 * disturb.
 */
static iopfq_dev_t std_open(struct fx *f)
{
	iopfq_dev_t d;

	fx_open(f, 2, 8, 0, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 7, 1, 1, 0x1000);
	rep_ok(f, d, 7, 2, 0, 0x2000);
	return d;
}

/* The refusal of @r with -EINVAL: refused_invalid + 1, nothing else */
static void expect_invalid(struct fx *f, iopfq_dev_t d, const struct iopfq_request *r)
{
	iopfq_u32 answer = 0x1234;
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, r, &answer), -IOPFQ_EINVAL);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	s.c.refused_invalid++;
	snap_check(f, &s);
}

/* The std queue after the accepted control requests: everything reads and answers */
static void std_finish(struct fx *f, int records)
{
	assert_int_equal(drain_all(f), records);
	assert_conserved(f);
}

static void test_report_pasid_too_large(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(IOPFQ_PASID_MAX + 1, 3, 1, 0x3000);

	expect_invalid(f, d, &r);
	r.pasid = 0xffffffffu;
	expect_invalid(f, d, &r);
	r.pasid = IOPFQ_PASID_MAX; /* the largest PASID is fine */
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	std_finish(f, 2);
}

static void test_report_pasid_without_valid(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = req_nopasid(3, 1, 0x3000);

	r.pasid = 5;
	expect_invalid(f, d, &r);
	r.pasid = 0;
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	std_finish(f, 2);
}

static void test_report_grpid_too_large(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(7, IOPFQ_GRPID_MAX + 1, 1, 0x3000);

	expect_invalid(f, d, &r);
	r.grpid = 0x80000000u;
	expect_invalid(f, d, &r);
	r.grpid = IOPFQ_GRPID_MAX;
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	std_finish(f, 2);
}

static void test_report_unknown_perm(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(7, 3, 1, 0x3000);

	r.perm = IOPFQ_PGFAULT_PERM_READ | (1u << 4);
	expect_invalid(f, d, &r);
	r.perm = IOPFQ_PGFAULT_PERM_WRITE | (1u << 31);
	expect_invalid(f, d, &r);
	r.perm = IOPFQ_PGFAULT_PERM_ALL;
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	std_finish(f, 2);
}

static void test_report_unknown_flags(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(7, 3, 1, 0x3000);

	r.flags |= 1u << 2;
	expect_invalid(f, d, &r);
	r.flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | (1u << 31);
	expect_invalid(f, d, &r);
	std_finish(f, 1);
}

static void test_report_nonlast_without_rw(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(7, 3, 0, 0x3000);

	r.perm = 0;
	expect_invalid(f, d, &r);
	r.perm = IOPFQ_PGFAULT_PERM_EXEC | IOPFQ_PGFAULT_PERM_PRIV;
	expect_invalid(f, d, &r);
	r.flags &= ~IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	r.pasid = 0;
	expect_invalid(f, d, &r);
	r = tp_req(7, 3, 0, 0x3000);
	r.perm = IOPFQ_PGFAULT_PERM_WRITE;
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	std_finish(f, 1); /* the write page stays partial */
}

static void test_report_marker_without_pasid(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_marker(7);

	r.flags &= ~IOPFQ_PGFAULT_FLAGS_PASID_VALID;
	r.pasid = 0;
	expect_invalid(f, d, &r);
	/* the partial page of pasid 7 survived the refused marker */
	assert_int_equal(cnt(f).partial, 1);
	assert_int_equal(cnt(f).markers_accepted, 0);
	std_finish(f, 1);
}

static void test_report_null_request(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);

	expect_invalid(f, d, NULL);
	std_finish(f, 1);
}

static void test_report_over_credit_last_page(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	struct iopfq_request r = tp_req(7, 3, 1, 0x9000);
	iopfq_u32 answer = 0x1234;
	struct snap s;

	fx_open(f, 2, 8, 0, 2);
	d = att(f, 100, 2, NULL);
	rep_ok(f, d, 7, 1, 1, 0x1000);
	rep_ok(f, d, 7, 2, 0, 0x2000);
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, &r, &answer), -IOPFQ_EDQUOT);
	assert_int_equal(answer, IOPFQ_HW_SUCCESS);
	s.c.refused_over_credit++;
	snap_check(f, &s);
	/* the answer pointer is optional */
	assert_int_equal(tp_report(f->q, d, &r, NULL), -IOPFQ_EDQUOT);
	assert_int_equal(cnt(f).refused_over_credit, 2);
	std_finish(f, 1);
}

static void test_report_over_credit_nonlast(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d;
	struct iopfq_request r = tp_req(7, 2, 0, 0x9000);
	iopfq_u32 answer = 0x1234;
	struct snap s;

	fx_open(f, 2, 8, 0, 2);
	d = att(f, 100, 2, NULL);
	rep_ok(f, d, 7, 1, 1, 0x1000);
	rep_ok(f, d, 7, 2, 0, 0x2000);
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, &r, &answer), -IOPFQ_EDQUOT);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	s.c.refused_over_credit++;
	snap_check(f, &s);
	std_finish(f, 1);
}

/* Credits are per device: one device's flood does not refuse another */
static void test_report_credits_per_device(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t a, b;

	fx_open(f, 2, 4, 0, 2);
	a = att(f, 100, 1, NULL);
	b = att(f, 200, 3, NULL);
	rep_ok(f, a, 1, 1, 0, 0x1000);
	assert_int_equal(rep(f, a, 1, 1, 1, 0x2000), -IOPFQ_EDQUOT);
	rep_ok(f, b, 1, 1, 0, 0x1000);
	rep_ok(f, b, 1, 1, 0, 0x2000);
	rep_ok(f, b, 1, 1, 1, 0x3000);
	assert_int_equal(rep(f, b, 1, 2, 1, 0x4000), -IOPFQ_EDQUOT);
	assert_int_equal(cnt(f).refused_over_credit, 2);
	assert_int_equal(drain_all(f), 3);
	assert_int_equal(cnt(f).partial, 1);
	assert_conserved(f);
}

static void test_report_marker_over_credit(void **state)
{
	struct fx *f = *state;
	struct iopfq_request m = tp_marker(7);
	struct iopfq_counters c0, c1;
	iopfq_u32 answer = 0x1234;
	iopfq_dev_t d;
	struct snap s;

	fx_open(f, 1, 4, 1, 2);
	d = att(f, 100, 4, NULL);
	rep_ok(f, d, 8, 1, 0, 0x1000);
	/* the ring is not drained between the two markers */
	assert_int_equal(tp_report(f->q, d, &m, &answer), 0);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	assert_int_equal(cnt(f).markers_accepted, 1);
	/* refused before any drain: only refused_markers moves */
	answer = 0x1234;
	c0 = cnt(f);
	assert_int_equal(tp_report(f->q, d, &m, &answer), -IOPFQ_EDQUOT);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	c0.refused_markers++;
	c1 = cnt(f);
	assert_counters_eq(&c1, &c0);
	assert_int_equal(f->tp.nresp, 0);
	/* drained: the marker's credit is back */
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, &m, NULL), 0);
	s.c.markers_accepted++;
	assert_int_equal(cnt(f).markers_accepted, s.c.markers_accepted);
	assert_int_equal(cnt(f).refused_markers, 1);
	assert_int_equal(drain_all(f), 0);
	assert_int_equal(cnt(f).partial, 1); /* pasid 8 is not pasid 7 */
	assert_conserved(f);
}

/* Markers have their own credits: accepted while the page credits are spent */
static void test_report_marker_with_page_credits_spent(void **state)
{
	struct fx *f = *state;
	struct iopfq_request m = tp_marker(7);
	iopfq_dev_t d;

	fx_open(f, 1, 2, 0, 2);
	d = att(f, 100, 2, NULL);
	rep_ok(f, d, 7, 1, 0, 0x1000);
	rep_ok(f, d, 7, 1, 0, 0x2000);
	assert_int_equal(rep(f, d, 7, 1, 1, 0x3000), -IOPFQ_EDQUOT);
	assert_int_equal(tp_report(f->q, d, &m, NULL), 0);
	assert_int_equal(tp_report(f->q, d, &m, NULL), 0); /* default: 2 marker credits */
	assert_int_equal(tp_report(f->q, d, &m, NULL), -IOPFQ_EDQUOT);
	assert_int_equal(cnt(f).refused_markers, 1);
	assert_int_equal(iopfq_poll_ready(f->q), 0);
	/* the marker dropped both partial pages and gave their credits back */
	assert_int_equal(cnt(f).discarded_by_marker, 2);
	rep_ok(f, d, 7, 1, 0, 0x4000);
	rep_ok(f, d, 7, 1, 1, 0x5000);
	assert_int_equal(drain_all(f), 2);
	assert_conserved(f);
}

static void test_report_bad_handle(void **state)
{
	struct fx *f = *state;
	struct iopfq_request r = tp_req(7, 3, 1, 0x3000);
	static const iopfq_dev_t bad[] = { 0, 1, 2, 3, 4, 4095, 0xffffffffu, 1u << 12 };
	iopfq_u32 answer;
	iopfq_dev_t d;
	struct snap s;
	size_t i;

	d = std_open(f);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bad[i] == d)
			continue;
		answer = 0x1234;
		snap_take(f, &s);
		assert_int_equal(tp_report(f->q, bad[i], &r, &answer), -IOPFQ_ENODEV);
		assert_int_equal(answer, IOPFQ_HW_NONE);
		s.c.refused_nodev++;
		snap_check(f, &s);
	}
	/* an invalid request on a bad handle is a bad handle first */
	r.grpid = 4096;
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, 0, &r, NULL), -IOPFQ_ENODEV);
	s.c.refused_nodev++;
	snap_check(f, &s);
	std_finish(f, 1);
}

static void test_report_failed_device(void **state)
{
	struct fx *f = *state;
	struct iopfq_request r = tp_req(7, 2, 1, 0x3000);
	struct iopfq_request m = tp_marker(7);
	iopfq_u32 answer = 0x1234;
	iopfq_dev_t d;
	struct snap s;

	d = std_open(f);
	assert_int_equal(iopfq_dev_set_flags(f->q, d, IOPFQ_DEV_FAILED), 0);
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, &r, &answer), -IOPFQ_EIO);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	assert_int_equal(tp_report(f->q, d, &m, NULL), -IOPFQ_EIO);
	s.c.refused_failed += 2;
	snap_check(f, &s);
	assert_int_equal(cnt(f).partial, 1); /* the marker did not reach the queue */

	/* still looked up, still failed when set twice */
	assert_int_equal(iopfq_dev_set_flags(f->q, d, IOPFQ_DEV_FAILED), 0);
	snap_take(f, &s);
	assert_int_equal(tp_report(f->q, d, &r, NULL), -IOPFQ_EIO);
	s.c.refused_failed++;
	snap_check(f, &s);

	/* re-enabled: the same request is taken and completes the partial group */
	assert_int_equal(iopfq_dev_set_flags(f->q, d, 0), 0);
	assert_int_equal(tp_report(f->q, d, &r, NULL), 0);
	assert_int_equal(cnt(f).refused_failed, 3);
	std_finish(f, 3);
}

/* A failed device's queued groups stay readable and answerable */
static void test_failed_device_groups_stay(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	iopfq_u32 cookie;

	assert_int_equal(iopfq_dev_set_flags(f->q, d, IOPFQ_DEV_FAILED), 0);
	cookie = read_group(f, 1);
	assert_int_equal(respond1(f, cookie, IOPFQ_PAGE_RESP_SUCCESS), 1);
	assert_int_equal(f->tp.nresp, 1);
	assert_int_equal(f->tp.resp[0].origin, IOPFQ_ANSWER_USER);
	assert_int_equal(cnt(f).partial, 1);
	assert_int_equal(cnt(f).answered, 1);
	assert_conserved(f);
}

/* An unknown flag is refused and changes nothing: the device stays healthy */
static void test_set_flags_unknown(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(iopfq_dev_set_flags(f->q, d, 1u << 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_dev_set_flags(f->q, d, IOPFQ_DEV_FAILED | (1u << 31)), -IOPFQ_EINVAL);
	snap_check(f, &s);
	rep_ok(f, d, 7, 2, 1, 0x3000);
	std_finish(f, 3);
}

/* One rule for a NULL queue: -EINVAL from every call that returns int */
static void test_null_queue(void **state)
{
	struct iopfq_hwpt_pgfault rec;
	struct iopfq_hwpt_page_response resp = { 0, 0 };
	struct iopfq_request r = tp_req(1, 1, 1, 0x1000);
	struct iopfq_counters c;
	iopfq_dev_t h = 0;
	iopfq_u32 answer = 7;

	(void)state;
	assert_int_equal(iopfq_dev_attach(NULL, 1, 1, NULL, &h), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_dev_detach(NULL, h), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_dev_lookup(NULL, 1, &h), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_dev_set_flags(NULL, h, 0), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_report(NULL, h, &r, &answer), -IOPFQ_EINVAL);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	assert_int_equal(iopfq_read(NULL, &rec, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_read_restore(NULL, &rec, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_next_group_size(NULL), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_respond(NULL, &resp, 1), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_flush(NULL, h, 0, 0), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_age_scan(NULL, 0), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_prepare_sleep(NULL), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_poll_ready(NULL), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_set_delivery(NULL, IOPFQ_DELIVER_COMPLETION), -IOPFQ_EINVAL);
	assert_int_equal(iopfq_set_delivery(NULL, IOPFQ_DELIVER_ROUND_ROBIN), -IOPFQ_EINVAL);
	memset(&c, 0xa5, sizeof(c));
	iopfq_counters(NULL, &c); /* nothing, and no crash */
	assert_int_equal(c.accepted, 0xa5a5a5a5a5a5a5a5ull);
	iopfq_finish_sleep(NULL);
}

static void test_set_failed_bad_handle(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct snap s;

	snap_take(f, &s);
	assert_int_equal(iopfq_dev_set_flags(f->q, 0, IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, d ^ (1u << 12), IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	assert_int_equal(iopfq_dev_set_flags(f->q, d + 1, IOPFQ_DEV_FAILED), -IOPFQ_ENODEV);
	snap_check(f, &s);
	rep_ok(f, d, 7, 2, 1, 0x3000); /* d was not failed by any of those */
	std_finish(f, 3);
}

static void test_report_success_answer_none(void **state)
{
	struct fx *f = *state;
	iopfq_dev_t d = std_open(f);
	struct iopfq_request r = tp_req(7, 2, 1, 0x3000);
	iopfq_u32 answer = 0x1234;
	struct iopfq_counters c0 = cnt(f), c;

	assert_int_equal(tp_report(f->q, d, &r, &answer), 0);
	assert_int_equal(answer, IOPFQ_HW_NONE);
	c = cnt(f);
	assert_int_equal(c.accepted, c0.accepted + 1);
	assert_int_equal(c.in_ring, c0.in_ring + 1);
	std_finish(f, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_cfg_zero_devices),
		T(test_cfg_too_many_devices),
		T(test_cfg_zero_budget),
		T(test_cfg_budget_too_large),
		T(test_cfg_marker_credits_too_large),
		T(test_cfg_gen_bits_one),
		T(test_cfg_gen_bits_too_large),
		T(test_geometry_null),
		T(test_geometry_failure_leaves_output),
		T(test_geometry_budget_2),
		T(test_geometry_derived),
		T(test_memsize_grows_with_budget),
		T(test_init_memsize_too_small),
		T(test_init_misaligned),
		T(test_init_null_mem),
		T(test_init_missing_hook),
		T(test_init_relax_aged_optional),
		T(test_init_empty_queue),
		T(test_attach_and_lookup),
		T(test_lookup_unknown),
		T(test_attach_zero_credits),
		T(test_attach_null_handle),
		T(test_attach_duplicate),
		T(test_attach_budget_spent),
		T(test_attach_more_than_budget),
		T(test_attach_device_table_full),
		T(test_detach_answers_own_groups),
		T(test_detach_handle_stale_forever),
		T(test_cfg_dev_gen_bits),
		T(test_detach_revokes_cookies),
		T(test_detach_returns_credits),
		T(test_detach_stale_handle),
		T(test_detach_failed_device),
		T(test_detach_keeps_statistics),
		T(test_report_pasid_too_large),
		T(test_report_pasid_without_valid),
		T(test_report_grpid_too_large),
		T(test_report_unknown_perm),
		T(test_report_unknown_flags),
		T(test_report_nonlast_without_rw),
		T(test_report_marker_without_pasid),
		T(test_report_null_request),
		T(test_report_over_credit_last_page),
		T(test_report_over_credit_nonlast),
		T(test_report_credits_per_device),
		T(test_report_marker_over_credit),
		T(test_report_marker_with_page_credits_spent),
		T(test_report_bad_handle),
		T(test_report_failed_device),
		T(test_failed_device_groups_stay),
		T(test_set_failed_bad_handle),
		T(test_set_flags_unknown),
		cmocka_unit_test(test_null_queue),
		T(test_report_success_answer_none),
#undef T
	};

	tp_thread_online();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
