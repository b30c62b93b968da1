/* SPDX-License-Identifier: MIT */
/*
 * test_fault_fd.c - the fault FD object's semantics, rule by rule, against
 * iommufd's fault FD (the rules user.h states for each call) and this
 * project's improvements visible through it (docs/design.md):
 *
 *   read:  -ESPIPE for sizes not a multiple of 40 and for a positive
 *          offset (-EINVAL for a negative one, as pread(2)); 0 for count 0 (NULL buffer too); -EFAULT for a NULL
 *          buffer with count > 0; whole groups only; 0 when the first group
 *          does not fit, which stays queued; oldest completion first; every
 *          record field; one cookie per group; any buffer alignment.
 *   write: -ESPIPE for sizes not a multiple of 8 and a non-zero offset; 0 for
 *          count 0; -EFAULT for NULL; -EINVAL for bad codes (FAILURE too),
 *          unknown, forged, stale (reused slot, new generation) and double
 *          cookies; batches mixing good and bad answers stop at the first bad
 *          one and return the bytes consumed; any alignment.
 *   fd:    readable exactly while a complete group is queued (not partial
 *          pages, not after a read that emptied the queue), always writable.
 *   device model: page_response (dev_ctx, codes, origin, npages), credits
 *          (-EDQUOT and the SUCCESS answer convention), Stop Markers, failed
 *          devices, detach and flush (INVALID answers, revoked cookies),
 *          aging, consumer calls from every callback path, write and pwrite
 *          included (-EDEADLK, nothing changed; another object's consumer
 *          side stays usable), destroy from the object's own callbacks (a
 *          warning, nothing else), bad handles, handles that stay stale
 *          because a spent device-table slot retires.
 *
 * Each refusal is checked for its errno and for changing nothing: the
 * queue's counters, the fd's readiness and what a later read returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "user_support.h"

#define DEV_A 7u
#define DEV_B 9u

struct fx {
	struct recorder rec;
	struct iopfq_fault *f;
	iopfq_dev_t a, b;
	int ctx_a, ctx_b;
	/* callback misuse probes */
	int reenter_rc;           /* what the aged callback's consumer call returned */
	struct iopfq_aged aged[16];
	unsigned naged;
	unsigned long warnings0;  /* iopfq_warnings() the teardown expects */
};

static struct fx *cur; /* for the callbacks */

static void on_response(void *arg, const struct iopfq_response *r)
{
	struct fx *x = arg;

	rec_on_response(&x->rec, r);
}

static void on_aged(void *arg, const struct iopfq_aged *a)
{
	struct fx *x = arg;

	if (x->naged < 16)
		x->aged[x->naged] = *a;
	x->naged++;
	x->reenter_rc = iopfq_fault_dev_detach(x->f, x->a);
}

static int fx_make(void **state, uint32_t budget, uint32_t gen_bits, uint32_t delivery)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct iopfq_config cfg = { .max_devices = 4, .credit_budget = budget,
				    .cookie_gen_bits = gen_bits, .delivery = delivery };
	struct iopfq_fault_ops ops = { .page_response = on_response, .aged = on_aged, .arg = x };

	if (!x)
		return -1;
	pthread_mutex_init(&x->rec.lock, NULL);
	if (iopfq_fault_create(&cfg, &ops, &x->f))
		return -1;
	if (iopfq_fault_dev_attach(x->f, DEV_A, budget / 2, &x->ctx_a, &x->a) ||
	    iopfq_fault_dev_attach(x->f, DEV_B, budget / 2, &x->ctx_b, &x->b))
		return -1;
	cur = x;
	x->warnings0 = iopfq_warnings();
	*state = x;
	return 0;
}

static int fx_setup(void **state)
{
	return fx_make(state, 16, 0, IOPFQ_DELIVER_COMPLETION);
}

/* the devices take turns: IOPFQ_DELIVER_ROUND_ROBIN */
static int fx_setup_fair(void **state)
{
	return fx_make(state, 16, 0, IOPFQ_DELIVER_ROUND_ROBIN);
}

/* 2 response-table slots per budget unit, 2 generation bits: reuse comes fast */
static int fx_setup_small(void **state)
{
	return fx_make(state, 2, 2, IOPFQ_DELIVER_COMPLETION);
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	iopfq_fault_destroy(x->f);
	assert_int_equal(iopfq_warnings(), x->warnings0);
	pthread_mutex_destroy(&x->rec.lock);
	free(x);
	return 0;
}

static void report_ok(struct iopfq_fault *f, iopfq_dev_t dev, struct iopfq_request r)
{
	uint32_t answer = 42;

	assert_int_equal(iopfq_fault_report(f, dev, &r, &answer), 0);
	assert_int_equal(answer, IOPFQ_HW_NONE);
}

/* A complete group of @n pages for (@dev, @pasid, @grpid), addresses base + i*4096. */
static void group(struct iopfq_fault *f, iopfq_dev_t dev, uint32_t pasid, uint32_t grpid,
		  unsigned n, uint64_t base)
{
	for (unsigned i = 0; i < n; i++)
		report_ok(f, dev, page_req(pasid, grpid, i + 1 == n, base + i * 4096u));
}

static struct iopfq_counters counters(struct iopfq_fault *f)
{
	struct iopfq_counters c;

	assert_int_equal(iopfq_fault_counters(f, &c, NULL), 0);
	return c;
}

/* The state a refused call must leave as it was. */
struct snap {
	struct iopfq_counters c;
	int readable;
	unsigned responses;
};

static struct snap snap_of(struct fx *x)
{
	struct snap s = { .c = counters(x->f), .readable = fd_readable(x->f),
			  .responses = rec_count(&x->rec) };
	return s;
}

static void assert_unchanged(struct fx *x, const struct snap *s)
{
	struct snap now = snap_of(x);

	assert_int_equal(now.readable, s->readable);
	assert_int_equal(now.responses, s->responses);
	assert_int_equal(now.c.accepted, s->c.accepted);
	assert_int_equal(now.c.partial, s->c.partial);
	assert_int_equal(now.c.ready + now.c.in_ring, s->c.ready + s->c.in_ring);
	assert_int_equal(now.c.delivered, s->c.delivered);
	assert_int_equal(now.c.answered, s->c.answered);
	assert_int_equal(now.c.auto_answered, s->c.auto_answered);
	assert_int_equal(now.c.discarded, s->c.discarded);
	assert_int_equal(now.c.groups_delivered, s->c.groups_delivered);
	assert_int_equal(now.c.credits_attached, s->c.credits_attached);
}

static void assert_conserved(struct fx *x)
{
	struct iopfq_counters c = counters(x->f);

	assert_int_equal(c.accepted, c.in_ring + c.partial + c.ready + c.delivered + c.answered +
					     c.auto_answered + c.discarded);
}

static void answer(struct iopfq_fault *f, uint32_t cookie, uint32_t code, ssize_t expect)
{
	struct iopfq_hwpt_page_response r = { .cookie = cookie, .code = code };

	assert_int_equal(iopfq_fault_write(f, &r, sizeof(r)), expect);
}

/* ---------------------------------------------------------------------- */
/* create, fd                                                              */

static void test_create_bad_args(void **state)
{
	struct iopfq_config good = { .max_devices = 1, .credit_budget = 4 };
	struct iopfq_config bad = { .max_devices = 0, .credit_budget = 4 };
	struct iopfq_config bad_gen = { .max_devices = 1, .credit_budget = 4, .cookie_gen_bits = 1 };
	struct iopfq_config bad_policy = { .max_devices = 1, .credit_budget = 4, .delivery = 2 };
	struct iopfq_fault *f = (struct iopfq_fault *)0x1;

	(void)state;
	assert_int_equal(iopfq_fault_create(NULL, NULL, &f), -EINVAL);
	assert_int_equal(iopfq_fault_create(&good, NULL, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_create(&bad, NULL, &f), -EINVAL);
	assert_int_equal(iopfq_fault_create(&bad_gen, NULL, &f), -EINVAL);
	assert_int_equal(iopfq_fault_create(&bad_policy, NULL, &f), -EINVAL);
	assert_ptr_equal(f, (struct iopfq_fault *)0x1);
	/* no ops at all: answers go nowhere, and that is allowed */
	assert_int_equal(iopfq_fault_create(&good, NULL, &f), 0);
	iopfq_fault_destroy(f);
	iopfq_fault_destroy(NULL);
}

static void test_fd_initial(void **state)
{
	struct fx *x = *state;
	int fd = iopfq_fault_fd(x->f);
	int fl = fcntl(fd, F_GETFL);

	assert_true(fd >= 0);
	assert_true(fl & O_NONBLOCK);
	assert_int_equal(iopfq_fault_fd(NULL), -EINVAL);
	assert_false(fd_readable(x->f));
	assert_true(fd_writable(x->f));
}

/* ---------------------------------------------------------------------- */
/* read                                                                    */

static void test_read_bad_sizes(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];
	static const size_t bad[] = { 1, 8, 39, 41, 79, 81, 119, 159 };
	struct snap s;

	group(x->f, x->a, 1, 1, 2, 0x1000);
	s = snap_of(x);
	assert_true(s.readable);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(iopfq_fault_read(x->f, recs, bad[i]), -ESPIPE);
		assert_unchanged(x, &s);
	}
	assert_int_equal(iopfq_fault_pread(x->f, recs, sizeof(recs), 1), -ESPIPE);
	assert_int_equal(iopfq_fault_pread(x->f, recs, sizeof(recs), 40), -ESPIPE);
	assert_int_equal(iopfq_fault_pread(x->f, recs, sizeof(recs), -1), -EINVAL);
	assert_unchanged(x, &s);
	/* count 0: 0, with or without a buffer */
	assert_int_equal(iopfq_fault_read(x->f, recs, 0), 0);
	assert_int_equal(iopfq_fault_read(x->f, NULL, 0), 0);
	/* NULL buffer with room: -EFAULT, the group stays */
	assert_int_equal(iopfq_fault_read(x->f, NULL, REC), -EFAULT);
	assert_int_equal(iopfq_fault_read(x->f, NULL, 2 * REC), -EFAULT);
	assert_int_equal(iopfq_fault_read(NULL, recs, 2 * REC), -EINVAL);
	assert_unchanged(x, &s);
	/* the offset is checked before the buffer, as the kernel does */
	assert_int_equal(iopfq_fault_pread(x->f, NULL, REC, 1), -ESPIPE);
	/* and after all that, the group is read whole */
	assert_int_equal(iopfq_fault_pread(x->f, recs, sizeof(recs), 0), 2 * REC);
	assert_false(fd_readable(x->f));
}

static void test_read_whole_groups(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[8];
	struct snap s;

	group(x->f, x->a, 5, 3, 3, 0x10000);          /* 3 pages, completes first */
	group(x->f, x->b, 6, 4, 2, 0x20000);          /* 2 pages */
	assert_int_equal(iopfq_fault_next_group_size(x->f), 3);

	/* the first group does not fit: 0, nothing moves */
	s = snap_of(x);
	assert_int_equal(iopfq_fault_read(x->f, recs, 2 * REC), 0);
	assert_int_equal(iopfq_fault_read(x->f, recs, 1 * REC), 0);
	assert_unchanged(x, &s);

	/* room for 4: the first group (3) only; the second does not split */
	assert_int_equal(iopfq_fault_read(x->f, recs, 4 * REC), 3 * REC);
	assert_true(fd_readable(x->f));
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(recs[i].flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID |
							(i == 2 ? IOPFQ_PGFAULT_FLAGS_LAST_PAGE : 0));
		assert_int_equal(recs[i].dev_id, DEV_A);
		assert_int_equal(recs[i].pasid, 5);
		assert_int_equal(recs[i].grpid, 3);
		assert_int_equal(recs[i].perm, IOPFQ_PGFAULT_PERM_READ | IOPFQ_PGFAULT_PERM_WRITE);
		assert_int_equal(recs[i].__reserved, 0);
		assert_int_equal(recs[i].addr, 0x10000 + i * 4096u);
		assert_int_equal(recs[i].length, 0);
		assert_int_equal(recs[i].cookie, recs[0].cookie);
	}
	assert_int_not_equal(recs[0].cookie, 0);
	assert_int_equal(iopfq_fault_read(x->f, recs + 3, 5 * REC), 2 * REC);
	assert_int_equal(recs[3].dev_id, DEV_B);
	assert_int_equal(recs[4].cookie, recs[3].cookie);
	assert_int_not_equal(recs[3].cookie, recs[0].cookie);
	/* emptied: not readable, read returns 0 */
	assert_false(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 0);
	assert_int_equal(iopfq_fault_next_group_size(x->f), 0);
	assert_conserved(x);
}

static void test_read_order_is_completion(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[8];

	/* group 1 starts first but completes after group 2 */
	report_ok(x->f, x->a, page_req(1, 1, 0, 0x1000));
	group(x->f, x->a, 1, 2, 1, 0x2000);
	report_ok(x->f, x->a, page_req(1, 1, 1, 0x3000));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 3 * REC);
	assert_int_equal(recs[0].grpid, 2);
	assert_int_equal(recs[1].grpid, 1);
	assert_int_equal(recs[2].grpid, 1);
	assert_int_equal(recs[1].addr, 0x1000);
	assert_int_equal(recs[2].addr, 0x3000);
}

/* under round robin B, which had nothing queued, goes before A's two groups */
static void test_read_order_round_robin(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[8];

	group(x->f, x->a, 1, 1, 1, 0x1000);
	group(x->f, x->a, 1, 2, 1, 0x2000);
	group(x->f, x->b, 1, 3, 1, 0x3000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 3 * REC);
	assert_int_equal(recs[0].dev_id, DEV_B);
	assert_int_equal(recs[1].dev_id, DEV_A);
	assert_int_equal(recs[1].grpid, 1);
	assert_int_equal(recs[2].dev_id, DEV_A);
	assert_int_equal(recs[2].grpid, 2);
}

static void test_read_unaligned_buffer(void **state)
{
	struct fx *x = *state;
	_Alignas(8) unsigned char raw[1 + 6 * 40];
	struct iopfq_hwpt_pgfault recs[6];

	group(x->f, x->a, 2, 7, 2, 0x7000);
	group(x->f, x->b, 3, 8, 3, 0x8000);
	assert_int_equal(iopfq_fault_read(x->f, raw + 1, 6 * REC), 5 * REC);
	memcpy(recs, raw + 1, 5 * REC);
	assert_int_equal(recs[0].grpid, 7);
	assert_int_equal(recs[1].addr, 0x7000 + 4096);
	assert_int_equal(recs[4].addr, 0x8000 + 2 * 4096u);
	assert_int_equal(recs[2].cookie, recs[4].cookie);
	assert_false(fd_readable(x->f));
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	answer(x->f, recs[2].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
}

/* ---------------------------------------------------------------------- */
/* readiness                                                               */

static void test_readable_only_for_complete_groups(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[8];

	report_ok(x->f, x->a, page_req(1, 1, 0, 0x1000));
	report_ok(x->f, x->a, page_req(1, 1, 0, 0x2000));
	report_ok(x->f, x->b, page_req(2, 1, 0, 0x3000));
	assert_false(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 0);
	assert_false(fd_readable(x->f));
	report_ok(x->f, x->a, page_req(1, 1, 1, 0x4000));
	assert_true(fd_readable(x->f));
	assert_true(fd_readable(x->f)); /* level: polling does not consume it */
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 3 * REC);
	/* the B partial page remains: not readable */
	assert_false(fd_readable(x->f));
	report_ok(x->f, x->b, page_req(2, 1, 1, 0x5000));
	assert_true(fd_readable(x->f));
	/* a read that leaves one group keeps it readable */
	group(x->f, x->a, 1, 9, 1, 0x9000);
	assert_int_equal(iopfq_fault_read(x->f, recs, 2 * REC), 2 * REC);
	assert_true(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, 2 * REC), 1 * REC);
	assert_false(fd_readable(x->f));
	assert_true(fd_writable(x->f));
}

/* ---------------------------------------------------------------------- */
/* write                                                                   */

static void test_write_bad_sizes_and_buffers(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[2];
	struct iopfq_hwpt_page_response r[2];
	static const size_t bad[] = { 1, 4, 7, 9, 12, 15, 17 };
	struct snap s;

	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	r[0].cookie = r[1].cookie = recs[0].cookie;
	r[0].code = r[1].code = IOPFQ_PAGE_RESP_SUCCESS;
	s = snap_of(x);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(iopfq_fault_write(x->f, r, bad[i]), -ESPIPE);
		assert_unchanged(x, &s);
	}
	assert_int_equal(iopfq_fault_pwrite(x->f, r, RSP, 8), -ESPIPE);
	assert_int_equal(iopfq_fault_pwrite(x->f, NULL, RSP, 1), -ESPIPE);
	assert_int_equal(iopfq_fault_pwrite(x->f, r, RSP, -8), -EINVAL);
	assert_int_equal(iopfq_fault_write(x->f, r, 0), 0);
	assert_int_equal(iopfq_fault_write(x->f, NULL, 0), 0);
	assert_int_equal(iopfq_fault_write(x->f, NULL, RSP), -EFAULT);
	assert_int_equal(iopfq_fault_write(NULL, r, RSP), -EINVAL);
	assert_unchanged(x, &s);
	/* the cookie is still good */
	assert_int_equal(iopfq_fault_pwrite(x->f, r, RSP, 0), RSP);
	assert_int_equal(rec_count(&x->rec), 1);
	assert_int_equal(x->rec.resp[0].code, IOPFQ_HW_SUCCESS);
	assert_int_equal(x->rec.resp[0].origin, IOPFQ_ANSWER_USER);
	assert_int_equal(x->rec.resp[0].dev_id, DEV_A);
	assert_int_equal(x->rec.resp[0].pasid, 1);
	assert_int_equal(x->rec.resp[0].grpid, 1);
	assert_int_equal(x->rec.resp[0].npages, 1);
	assert_int_equal(x->rec.resp[0].flags, IOPFQ_PGFAULT_FLAGS_PASID_VALID);
	assert_ptr_equal(x->rec.resp[0].dev_ctx, &x->ctx_a);
	assert_conserved(x);
}

static void test_write_bad_codes(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[1];
	static const uint32_t codes[] = { 2, 3, 0xf /* Response Failure */, 0xff, 0xffffffffu };
	struct snap s;

	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	s = snap_of(x);
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		answer(x->f, recs[0].cookie, codes[i], -EINVAL);
		assert_unchanged(x, &s);
	}
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_INVALID, RSP);
	assert_int_equal(x->rec.resp[0].code, IOPFQ_HW_INVALID);
	assert_int_equal(counters(x->f).bad_answers, 5);
}

static void test_write_bad_cookies(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[1];
	struct snap s;
	uint32_t c;

	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	c = recs[0].cookie;
	s = snap_of(x);
	answer(x->f, 0, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);          /* never issued */
	answer(x->f, c + 1, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);      /* neighbour slot */
	answer(x->f, c ^ 0x80000000u, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL); /* forged generation */
	answer(x->f, 0xffffffffu, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);
	assert_unchanged(x, &s);
	answer(x->f, c, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	answer(x->f, c, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);          /* double */
	answer(x->f, c, IOPFQ_PAGE_RESP_INVALID, -EINVAL);
	assert_int_equal(rec_count(&x->rec), 1);
	assert_conserved(x);
}

/* budget 2, 4 cookie slots, 2 generation bits: old cookies come back fast */
static void test_write_stale_cookie(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault rec;
	uint32_t first, c = 0;
	int reused = 0;

	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, &rec, REC), REC);
	first = rec.cookie;
	answer(x->f, first, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	/* cycle until the slot of @first is reused under another generation */
	for (unsigned i = 0; i < 64 && !reused; i++) {
		group(x->f, x->a, 1, 1, 1, 0x2000);
		assert_int_equal(iopfq_fault_read(x->f, &rec, REC), REC);
		c = rec.cookie;
		if ((c & 3u) == (first & 3u) && c != first)
			reused = 1;
		else
			answer(x->f, c, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	}
	assert_true(reused);
	/* the old cookie names the same slot, which is live again: refused */
	answer(x->f, first, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);
	answer(x->f, c, IOPFQ_PAGE_RESP_SUCCESS, RSP);
}

static void test_write_mixed_batches(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[3];
	struct iopfq_hwpt_page_response r[3];
	_Alignas(8) unsigned char raw[1 + 3 * 8];
	struct snap s;

	for (unsigned g = 0; g < 3; g++)
		group(x->f, x->a, 1, g, 1, 0x1000 * (g + 1));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 3 * REC);

	/* bad first: nothing consumed */
	r[0] = (struct iopfq_hwpt_page_response){ .cookie = recs[0].cookie, .code = 7 };
	r[1] = (struct iopfq_hwpt_page_response){ .cookie = recs[1].cookie, .code = 0 };
	s = snap_of(x);
	assert_int_equal(iopfq_fault_write(x->f, r, 2 * RSP), -EINVAL);
	assert_unchanged(x, &s);

	/* good, bad (unknown cookie), good: one consumed, the third untouched */
	r[0] = (struct iopfq_hwpt_page_response){ .cookie = recs[0].cookie, .code = 0 };
	r[1] = (struct iopfq_hwpt_page_response){ .cookie = 12345, .code = 0 };
	r[2] = (struct iopfq_hwpt_page_response){ .cookie = recs[2].cookie, .code = 1 };
	assert_int_equal(iopfq_fault_write(x->f, r, 3 * RSP), RSP);
	assert_int_equal(rec_count(&x->rec), 1);
	assert_int_equal(x->rec.resp[0].grpid, 0);

	/* good, double: one consumed */
	r[0] = (struct iopfq_hwpt_page_response){ .cookie = recs[1].cookie, .code = 1 };
	r[1] = r[0];
	assert_int_equal(iopfq_fault_write(x->f, r, 2 * RSP), RSP);
	assert_int_equal(x->rec.resp[1].grpid, 1);
	assert_int_equal(x->rec.resp[1].code, IOPFQ_HW_INVALID);

	/* an unaligned buffer */
	r[0] = (struct iopfq_hwpt_page_response){ .cookie = recs[2].cookie, .code = 0 };
	memcpy(raw + 1, r, RSP);
	assert_int_equal(iopfq_fault_write(x->f, raw + 1, RSP), RSP);
	assert_int_equal(rec_count(&x->rec), 3);
	assert_int_equal(counters(x->f).delivered, 0);
	assert_conserved(x);
}

/* ---------------------------------------------------------------------- */
/* devices, credits, markers                                               */

static void test_report_refusals(void **state)
{
	struct fx *x = *state;
	struct iopfq_request r = page_req(1, 1, 1, 0x1000);
	struct iopfq_request bad_grp = page_req(1, 512, 1, 0x1000);
	struct iopfq_request bad_pasid = page_req(1u << 20, 1, 1, 0x1000);
	uint32_t ans = 42;
	struct snap s = snap_of(x);

	assert_int_equal(iopfq_fault_report(NULL, x->a, &r, &ans), -EINVAL);
	assert_int_equal(ans, IOPFQ_HW_NONE);
	assert_int_equal(iopfq_fault_report(x->f, x->a, NULL, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_report(x->f, x->a, &bad_grp, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_report(x->f, x->a, &bad_pasid, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_report(x->f, 0, &r, NULL), -ENODEV);
	assert_int_equal(iopfq_fault_report(x->f, x->a + (1u << 12), &r, NULL), -ENODEV);
	assert_unchanged(x, &s);

	/* failed device: -EIO until it is healthy again */
	assert_int_equal(iopfq_fault_dev_set_flags(x->f, x->a, IOPFQ_DEV_FAILED), 0);
	assert_int_equal(iopfq_fault_report(x->f, x->a, &r, NULL), -EIO);
	assert_int_equal(iopfq_fault_dev_set_flags(x->f, x->a, 0), 0);
	assert_int_equal(iopfq_fault_dev_set_flags(x->f, 0, 0), -ENODEV);
	assert_int_equal(iopfq_fault_dev_set_flags(NULL, x->a, 0), -EINVAL);
	assert_int_equal(iopfq_fault_dev_set_flags(x->f, x->a, 1u << 1), -EINVAL); /* unknown flag: not failed below */
	report_ok(x->f, x->a, r);
	assert_true(fd_readable(x->f));
}

static void test_credits(void **state)
{
	struct fx *x = *state;   /* 8 credits each */
	struct iopfq_hwpt_pgfault recs[8];
	struct iopfq_request last = page_req(1, 2, 1, 0x9000);
	struct iopfq_request mid = page_req(1, 2, 0, 0x9000);
	uint32_t ans;

	for (unsigned i = 0; i < 8; i++)
		report_ok(x->f, x->a, page_req(1, 1, i == 7, 0x1000 * i));
	assert_int_equal(iopfq_fault_report(x->f, x->a, &mid, &ans), -EDQUOT);
	assert_int_equal(ans, IOPFQ_HW_NONE);
	/* an over-credit last page: the device is told to retry (VT-d convention) */
	assert_int_equal(iopfq_fault_report(x->f, x->a, &last, &ans), -EDQUOT);
	assert_int_equal(ans, IOPFQ_HW_SUCCESS);
	assert_int_equal(counters(x->f).refused_over_credit, 2);
	/* the other device's credits are its own */
	report_ok(x->f, x->b, last);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 8 * REC);
	/* reading gives nothing back; answering does */
	assert_int_equal(iopfq_fault_report(x->f, x->a, &mid, NULL), -EDQUOT);
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	assert_int_equal(x->rec.resp[0].npages, 8);
	report_ok(x->f, x->a, last);
}

static void test_attach_errors(void **state)
{
	struct fx *x = *state;
	iopfq_dev_t h = 0;

	assert_int_equal(iopfq_fault_dev_attach(NULL, 1, 1, NULL, &h), -EINVAL);
	assert_int_equal(iopfq_fault_dev_attach(x->f, 1, 1, NULL, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_dev_attach(x->f, 1, 0, NULL, &h), -EINVAL);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 1, NULL, &h), -EEXIST);
	assert_int_equal(iopfq_fault_dev_attach(x->f, 1, 1, NULL, &h), -ENOSPC); /* budget spent */
	assert_int_equal(h, 0);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, DEV_B, &h), 0);
	assert_int_equal(h, x->b);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, 1, &h), -ENOENT);
	assert_int_equal(iopfq_fault_dev_lookup(NULL, 1, &h), -EINVAL);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, 1, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_dev_detach(x->f, 0), -ENODEV);
	assert_int_equal(iopfq_fault_dev_detach(NULL, x->a), -EINVAL);
	assert_int_equal(iopfq_fault_flush(x->f, 0, 1, IOPFQ_FLUSH_PASID_VALID), -ENODEV);
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 1u << 20, IOPFQ_FLUSH_PASID_VALID), -EINVAL);
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 1, 0), -EINVAL);
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 1, IOPFQ_FLUSH_PASID_VALID | 0x80), -EINVAL);
	assert_int_equal(iopfq_fault_flush(NULL, x->a, 1, IOPFQ_FLUSH_PASID_VALID), -EINVAL);
	assert_int_equal(iopfq_fault_age_scan(NULL, 0), -EINVAL);
	assert_int_equal(iopfq_fault_next_group_size(NULL), -EINVAL);
	assert_int_equal(iopfq_fault_counters(NULL, &(struct iopfq_counters){ 0 }, NULL), -EINVAL);
	assert_int_equal(iopfq_fault_counters(x->f, NULL, NULL), -EINVAL);
}

/*
 * A detached handle is stale forever (user.h, iopfq_fault_dev_attach()):
 * with dev_gen_bits 2 the one slot issues generations 1, 2, 3 and is then
 * retired, so the fourth attach is -ENOSPC and no old handle comes back.
 */
static void test_handle_stale_forever(void **state)
{
	struct fx *x = *state;
	struct iopfq_config cfg = { .max_devices = 1, .credit_budget = 4, .dev_gen_bits = 2 };
	struct iopfq_fault_ops ops = { .page_response = on_response, .arg = x };
	iopfq_dev_t h[3], none = 0;
	struct iopfq_request r = page_req(1, 1, 1, 0x1000);
	int i, j;

	iopfq_fault_destroy(x->f);
	assert_int_equal(iopfq_fault_create(&cfg, &ops, &x->f), 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 4, NULL, &h[i]), 0);
		for (j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
		report_ok(x->f, h[i], r); /* the live handle works */
		assert_int_equal(iopfq_fault_dev_detach(x->f, h[i]), 0);
	}
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 4, NULL, &none), -ENOSPC);
	assert_int_equal(none, 0);
	for (i = 0; i < 3; i++) {
		assert_int_equal(iopfq_fault_report(x->f, h[i], &r, NULL), -ENODEV);
		assert_int_equal(iopfq_fault_dev_detach(x->f, h[i]), -ENODEV);
		assert_int_equal(iopfq_fault_flush(x->f, h[i], 1, IOPFQ_FLUSH_PASID_VALID), -ENODEV);
		assert_int_equal(iopfq_fault_dev_set_flags(x->f, h[i], 0), -ENODEV);
	}
	assert_int_equal(counters(x->f).devices_attached, 0);
	assert_int_equal(counters(x->f).auto_answered, 3); /* each detach answered its group */
	assert_conserved(x);
}

static void test_stop_marker(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];

	report_ok(x->f, x->a, page_req(4, 1, 0, 0x1000)); /* stale once the marker comes */
	report_ok(x->f, x->a, page_req(5, 1, 0, 0x2000)); /* other PASID: kept */
	report_ok(x->f, x->a, stop_marker(4));
	assert_false(fd_readable(x->f));
	report_ok(x->f, x->a, page_req(4, 1, 1, 0x3000)); /* next address space */
	report_ok(x->f, x->a, page_req(5, 1, 1, 0x4000));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 3 * REC);
	assert_int_equal(recs[0].pasid, 4);
	assert_int_equal(recs[0].addr, 0x3000);
	assert_int_equal(recs[1].pasid, 5);
	assert_int_equal(recs[2].addr, 0x4000);
	assert_int_equal(counters(x->f).discarded_by_marker, 1);
	assert_int_equal(rec_count(&x->rec), 0); /* the device waits for no answer */
}

static void test_detach_answers_and_revokes(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];
	uint32_t delivered;

	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	delivered = recs[0].cookie;
	group(x->f, x->a, 1, 2, 2, 0x2000);               /* ready, unread */
	report_ok(x->f, x->a, page_req(1, 3, 0, 0x5000)); /* partial */
	group(x->f, x->b, 2, 1, 1, 0x6000);               /* the other device */
	assert_true(fd_readable(x->f));

	assert_int_equal(iopfq_fault_dev_detach(x->f, x->a), 0);
	/* one INVALID per complete group of A, delivered or queued; none for the partial */
	assert_int_equal(rec_count(&x->rec), 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(x->rec.resp[i].dev_id, DEV_A);
		assert_int_equal(x->rec.resp[i].code, IOPFQ_HW_INVALID);
		assert_int_equal(x->rec.resp[i].origin, IOPFQ_ANSWER_DETACH);
	}
	answer(x->f, delivered, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->a), -ENODEV);
	assert_int_equal(iopfq_fault_report(x->f, x->a, &(struct iopfq_request){ 0 }, NULL),
			 -ENODEV);
	/* B's group is all that is left */
	assert_true(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	assert_int_equal(recs[0].dev_id, DEV_B);
	assert_false(fd_readable(x->f));
	assert_conserved(x);
	/* detaching the device with the only ready group makes the fd not readable */
	group(x->f, x->b, 2, 2, 1, 0x7000);
	assert_true(fd_readable(x->f));
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->b), 0);
	assert_false(fd_readable(x->f));
	/* the same dev_id comes back with a new handle; the old one stays dead */
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 8, NULL, &x->b), 0);
	assert_int_not_equal(x->b, x->a);
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->a), -ENODEV);
}

static void test_flush(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];
	uint32_t c4, c5;

	group(x->f, x->a, 4, 1, 1, 0x1000);
	group(x->f, x->a, 5, 1, 1, 0x2000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 2 * REC);
	c4 = recs[0].cookie;
	c5 = recs[1].cookie;
	group(x->f, x->a, 4, 2, 1, 0x3000);
	report_ok(x->f, x->a, page_req(4, 3, 0, 0x4000));
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 4, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_int_equal(rec_count(&x->rec), 2);
	assert_int_equal(x->rec.resp[0].origin, IOPFQ_ANSWER_FLUSH);
	assert_int_equal(x->rec.resp[0].code, IOPFQ_HW_INVALID);
	assert_int_equal(x->rec.resp[0].pasid, 4);
	assert_int_equal(x->rec.resp[1].pasid, 4);
	assert_false(fd_readable(x->f));
	answer(x->f, c4, IOPFQ_PAGE_RESP_SUCCESS, -EINVAL);
	answer(x->f, c5, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	/* NO_RESPONSE: the Stop Marker path answers nothing */
	group(x->f, x->a, 6, 1, 1, 0x5000);
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 6, IOPFQ_FLUSH_PASID_VALID | IOPFQ_FLUSH_NO_RESPONSE), 0);
	assert_int_equal(rec_count(&x->rec), 3);
	assert_false(fd_readable(x->f));
	assert_conserved(x);
}

static void test_age_scan(void **state)
{
	struct fx *x = *state;

	x->reenter_rc = 1;
	group(x->f, x->b, 1, 1, 1, 0x1000);
	report_ok(x->f, x->b, page_req(1, 2, 0, 0x2000));
	assert_int_equal(iopfq_fault_age_scan(x->f, 3600ull * 1000000000ull), 0);
	assert_int_equal(iopfq_fault_age_scan(x->f, 0), 2);
	assert_int_equal(x->naged, 2);
	assert_int_equal(iopfq_fault_age_scan(x->f, 0), 0); /* once each */
	/* the aged callback runs under the consumer mutex: a consumer call is refused */
	assert_int_equal(x->reenter_rc, -EDEADLK);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, DEV_A, &(iopfq_dev_t){ 0 }), 0);
}

/*
 * Every consumer-side call made from a callback of the same object, on every
 * path that runs a callback: -EDEADLK, and nothing changes. The write path
 * holds no lock, so without the per-thread mark a detach or flush of the
 * answered device there would wait forever for the answer its own caller is
 * inside; the tests run under a timeout for that reason.
 */
enum { PROBE_READ, PROBE_PREAD, PROBE_NEXT, PROBE_ATTACH, PROBE_DETACH, PROBE_FLUSH,
       PROBE_FAILED, PROBE_LOOKUP, PROBE_AGE, PROBE_CALLS };

struct probe {
	int armed;
	unsigned runs;
	int rc[PROBE_CALLS];
};

static struct probe probe;

static void probe_consumer_calls(struct iopfq_fault *f, iopfq_dev_t dev)
{
	struct iopfq_hwpt_pgfault rec;
	iopfq_dev_t h = 0;

	if (!probe.armed)
		return;
	probe.armed = 0; /* once: a refused call must not be retried by a nested callback */
	probe.runs++;
	probe.rc[PROBE_READ] = (int)iopfq_fault_read(f, &rec, sizeof(rec));
	probe.rc[PROBE_PREAD] = (int)iopfq_fault_pread(f, &rec, sizeof(rec), 0);
	probe.rc[PROBE_NEXT] = iopfq_fault_next_group_size(f);
	probe.rc[PROBE_ATTACH] = iopfq_fault_dev_attach(f, 99, 1, NULL, &h);
	probe.rc[PROBE_DETACH] = iopfq_fault_dev_detach(f, dev);
	probe.rc[PROBE_FLUSH] = iopfq_fault_flush(f, dev, 1, IOPFQ_FLUSH_PASID_VALID);
	probe.rc[PROBE_FAILED] = iopfq_fault_dev_set_flags(f, dev, IOPFQ_DEV_FAILED);
	probe.rc[PROBE_LOOKUP] = iopfq_fault_dev_lookup(f, DEV_A, &h);
	probe.rc[PROBE_AGE] = iopfq_fault_age_scan(f, 0);
}

static void on_response_probe(void *arg, const struct iopfq_response *r)
{
	struct fx *x = arg;

	rec_on_response(&x->rec, r);
	probe_consumer_calls(x->f, r->dev_id == DEV_A ? x->a : x->b);
}

static void on_aged_probe(void *arg, const struct iopfq_aged *a)
{
	struct fx *x = arg;

	(void)a;
	probe_consumer_calls(x->f, x->a);
}

static void probe_arm(void)
{
	probe.armed = 1;
	probe.runs = 0;
	for (int i = 0; i < PROBE_CALLS; i++)
		probe.rc[i] = 12345;
}

static void probe_expect_deadlk(void)
{
	assert_int_equal(probe.runs, 1);
	for (int i = 0; i < PROBE_CALLS; i++) {
		if (probe.rc[i] != -EDEADLK)
			fail_msg("consumer call %d from a callback returned %d, not -EDEADLK", i,
				 probe.rc[i]);
	}
}

/* A fault object whose callbacks probe; A and B attached with 4 credits each */
static void probe_object(struct fx *x)
{
	struct iopfq_config cfg = { .max_devices = 4, .credit_budget = 16 };
	struct iopfq_fault_ops ops = { .page_response = on_response_probe, .aged = on_aged_probe,
				       .arg = x };

	iopfq_fault_destroy(x->f);
	x->rec.n = 0;
	assert_int_equal(iopfq_fault_create(&cfg, &ops, &x->f), 0);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 4, &x->ctx_a, &x->a), 0);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_B, 4, &x->ctx_b, &x->b), 0);
}

/* After a refused probe: A still attached with its handle, no device 99, A not failed */
static void assert_devices_untouched(struct fx *x)
{
	iopfq_dev_t h = 0;

	assert_int_equal(iopfq_fault_dev_lookup(x->f, DEV_A, &h), 0);
	assert_int_equal(h, x->a);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, 99, &h), -ENOENT);
	report_ok(x->f, x->a, page_req(1, 40, 0, 0xa000)); /* not failed: accepted */
}

static void test_callback_reentry_write(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];
	struct snap s;

	probe_object(x);
	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	group(x->f, x->a, 1, 2, 2, 0x2000); /* queued: what a read in the callback would take */
	s = snap_of(x);
	probe_arm();
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	probe_expect_deadlk();
	/* the answer itself went through; nothing else moved */
	assert_int_equal(rec_count(&x->rec), s.responses + 1);
	assert_int_equal(counters(x->f).answered, s.c.answered + 1);
	assert_int_equal(counters(x->f).ready, s.c.ready);
	assert_true(fd_readable(x->f));
	assert_devices_untouched(x);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 2 * REC);
	/* outside the callback the same calls work again */
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->a), 0);
}

/* The same through the positional write: its answers run the same callback path */
static void test_callback_reentry_pwrite(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];
	struct iopfq_hwpt_page_response r = { .code = IOPFQ_PAGE_RESP_SUCCESS };
	struct snap s;

	probe_object(x);
	group(x->f, x->b, 2, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	group(x->f, x->a, 1, 2, 2, 0x2000);
	s = snap_of(x);
	r.cookie = recs[0].cookie;
	probe_arm();
	assert_int_equal(iopfq_fault_pwrite(x->f, &r, sizeof(r), 0), RSP);
	probe_expect_deadlk();
	assert_int_equal(rec_count(&x->rec), s.responses + 1);
	assert_int_equal(x->rec.resp[s.responses].dev_id, DEV_B);
	assert_int_equal(counters(x->f).answered, s.c.answered + 1);
	assert_int_equal(counters(x->f).ready, s.c.ready);
	assert_true(fd_readable(x->f));
	assert_devices_untouched(x);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 2 * REC);
	/* the record-counted wrapper goes through the same path */
	r.cookie = recs[0].cookie;
	probe_arm();
	assert_int_equal(iopfq_fault_write_responses(x->f, &r, 1), 1);
	probe_expect_deadlk();
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->b), 0);
}

static void test_callback_reentry_detach_flush(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[4];

	probe_object(x);
	/* flush: a delivered group of (A, 1) answered INVALID, origin FLUSH */
	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	group(x->f, x->b, 2, 1, 1, 0x2000); /* B's group stays queued */
	probe_arm();
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	probe_expect_deadlk();
	assert_int_equal(x->rec.resp[0].origin, IOPFQ_ANSWER_FLUSH);
	assert_int_equal(counters(x->f).ready, 1);
	assert_devices_untouched(x);
	/* detach: a queued group of A answered INVALID, origin DETACH */
	report_ok(x->f, x->a, page_req(1, 40, 1, 0xb000)); /* completes the group of 2 */
	probe_arm();
	assert_int_equal(iopfq_fault_dev_detach(x->f, x->a), 0);
	probe_expect_deadlk();
	assert_int_equal(x->rec.resp[1].origin, IOPFQ_ANSWER_DETACH);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, 99, &(iopfq_dev_t){ 0 }), -ENOENT);
	assert_int_equal(iopfq_fault_next_group_size(x->f), 1); /* B's group, untouched */
}

static void test_callback_reentry_destroy_and_age(void **state)
{
	struct fx *x = *state;

	probe_object(x);
	/* age_scan: the aged callback */
	group(x->f, x->a, 1, 1, 1, 0x1000);
	probe_arm();
	assert_int_equal(iopfq_fault_age_scan(x->f, 0), 1);
	probe_expect_deadlk();
	assert_int_equal(iopfq_fault_next_group_size(x->f), 1);
	assert_devices_untouched(x);
	/* destroy: detach of every device runs page_response (origin DETACH) */
	probe_arm();
	iopfq_fault_destroy(x->f);
	x->f = NULL;
	probe_expect_deadlk();
	assert_int_equal(x->rec.resp[0].origin, IOPFQ_ANSWER_DETACH);
	probe_object(x); /* for the teardown */
}

/*
 * iopfq_fault_destroy() from a callback of the object it destroys: user.h
 * says it warns (iopfq_warnings(), a line on stderr) and does nothing. From
 * every callback path; each time the object must work on as before.
 */
static struct {
	int armed;
	unsigned runs;
	unsigned long warned;  /* iopfq_warnings() added by the destroy */
	int fd_after;          /* the object's fd, asked right after it */
} destroy_probe;

static void destroy_from_callback(struct fx *x)
{
	unsigned long w = iopfq_warnings();

	if (!destroy_probe.armed)
		return;
	destroy_probe.armed = 0;
	destroy_probe.runs++;
	iopfq_fault_destroy(x->f);
	destroy_probe.warned = iopfq_warnings() - w;
	destroy_probe.fd_after = iopfq_fault_fd(x->f);
}

static void on_response_destroy(void *arg, const struct iopfq_response *r)
{
	struct fx *x = arg;

	rec_on_response(&x->rec, r);
	destroy_from_callback(x);
}

static void on_aged_destroy(void *arg, const struct iopfq_aged *a)
{
	(void)a;
	destroy_from_callback(arg);
}

/* Run @what with stderr captured into @buf (NUL-terminated). */
#define WITH_STDERR(buf, what)                                                 \
	do {                                                                   \
		FILE *tmp_ = tmpfile();                                        \
		int saved_ = dup(STDERR_FILENO);                               \
		size_t got_;                                                   \
		assert_non_null(tmp_);                                         \
		assert_true(saved_ >= 0);                                      \
		assert_true(dup2(fileno(tmp_), STDERR_FILENO) >= 0);           \
		what;                                                          \
		assert_true(dup2(saved_, STDERR_FILENO) >= 0);                 \
		close(saved_);                                                 \
		rewind(tmp_);                                                  \
		got_ = fread((buf), 1, sizeof(buf) - 1, tmp_);                 \
		(buf)[got_] = 0;                                               \
		fclose(tmp_);                                                  \
	} while (0)

/* The destroy ran once, warned once, and left the object (and its fd) alone */
static void expect_destroy_refused(struct fx *x, const char *err)
{
	assert_int_equal(destroy_probe.runs, 1);
	assert_int_equal(destroy_probe.warned, 1);
	assert_non_null(strstr(err, "WARNING"));
	assert_int_equal(destroy_probe.fd_after, iopfq_fault_fd(x->f));
	assert_true(fcntl(iopfq_fault_fd(x->f), F_GETFD) >= 0); /* not closed */
}

/* The object still does what it did: report, readiness, read, answer */
static void expect_object_works(struct fx *x, iopfq_dev_t dev, uint32_t dev_id)
{
	struct iopfq_hwpt_pgfault recs[4];
	unsigned before = rec_count(&x->rec);
	iopfq_dev_t h = 0;

	assert_int_equal(iopfq_fault_dev_lookup(x->f, dev_id, &h), 0);
	assert_int_equal(h, dev);
	assert_false(fd_readable(x->f));
	group(x->f, dev, 3, 7, 2, 0x7000);
	assert_true(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), 2 * REC);
	assert_int_equal(recs[0].dev_id, dev_id);
	assert_false(fd_readable(x->f));
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	assert_int_equal(rec_count(&x->rec), before + 1);
	assert_conserved(x);
}

static void destroy_arm(void)
{
	destroy_probe.armed = 1;
	destroy_probe.runs = 0;
	destroy_probe.warned = 0;
	destroy_probe.fd_after = -1;
}

static void test_callback_destroy_own_object(void **state)
{
	struct fx *x = *state;
	struct iopfq_config cfg = { .max_devices = 4, .credit_budget = 16 };
	struct iopfq_fault_ops ops = { .page_response = on_response_destroy,
				       .aged = on_aged_destroy, .arg = x };
	struct iopfq_hwpt_page_response r = { .code = IOPFQ_PAGE_RESP_SUCCESS };
	struct iopfq_hwpt_pgfault recs[4];
	unsigned long w0 = iopfq_warnings();
	char err[512];

	iopfq_fault_destroy(x->f);
	x->rec.n = 0;
	assert_int_equal(iopfq_fault_create(&cfg, &ops, &x->f), 0);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 4, &x->ctx_a, &x->a), 0);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_B, 4, &x->ctx_b, &x->b), 0);

	/* write: page_response on the answering thread, no lock held */
	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	destroy_arm();
	WITH_STDERR(err, answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP));
	expect_destroy_refused(x, err);
	assert_int_equal(counters(x->f).answered, 1);
	expect_object_works(x, x->a, DEV_A);

	/* pwrite: the same path */
	group(x->f, x->b, 2, 1, 1, 0x2000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	r.cookie = recs[0].cookie;
	destroy_arm();
	WITH_STDERR(err, assert_int_equal(iopfq_fault_pwrite(x->f, &r, sizeof(r), 0), RSP));
	expect_destroy_refused(x, err);
	expect_object_works(x, x->b, DEV_B);

	/* age_scan: the aged callback, under the consumer mutex */
	group(x->f, x->a, 1, 2, 1, 0x3000);
	destroy_arm();
	WITH_STDERR(err, assert_int_equal(iopfq_fault_age_scan(x->f, 0), 1));
	expect_destroy_refused(x, err);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	expect_object_works(x, x->a, DEV_A);

	/* flush: page_response under the consumer mutex (origin FLUSH) */
	group(x->f, x->b, 2, 2, 1, 0x4000);
	destroy_arm();
	WITH_STDERR(err, assert_int_equal(iopfq_fault_flush(x->f, x->b, 2, IOPFQ_FLUSH_PASID_VALID),
					  0));
	expect_destroy_refused(x, err);
	assert_int_equal(x->rec.resp[rec_count(&x->rec) - 1].origin, IOPFQ_ANSWER_FLUSH);
	expect_object_works(x, x->b, DEV_B);

	/* detach: the same; the detach itself completes */
	group(x->f, x->b, 2, 3, 1, 0x5000);
	destroy_arm();
	WITH_STDERR(err, assert_int_equal(iopfq_fault_dev_detach(x->f, x->b), 0));
	expect_destroy_refused(x, err);
	assert_int_equal(x->rec.resp[rec_count(&x->rec) - 1].origin, IOPFQ_ANSWER_DETACH);
	assert_int_equal(iopfq_fault_dev_lookup(x->f, DEV_B, &(iopfq_dev_t){ 0 }), -ENOENT);
	expect_object_works(x, x->a, DEV_A);

	assert_int_equal(iopfq_warnings(), w0 + 5);
	x->warnings0 = iopfq_warnings(); /* the five above, and no other */
}

/* A callback of one object may use another object's consumer side */
static void test_callback_other_object(void **state)
{
	struct fx *x = *state;
	struct iopfq_hwpt_pgfault recs[2];
	struct iopfq_fault *mine = x->f;
	struct iopfq_config cfg = { .max_devices = 2, .credit_budget = 4 };

	probe_object(x);
	mine = x->f;
	assert_int_equal(iopfq_fault_create(&cfg, NULL, &x->f), 0); /* the other object */
	group(mine, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(mine, recs, sizeof(recs)), REC);
	probe_arm();
	/* the callback probes x->f: an object whose callback this thread is not inside */
	answer(mine, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	assert_int_equal(probe.runs, 1);
	for (int i = 0; i < PROBE_CALLS; i++)
		assert_int_not_equal(probe.rc[i], -EDEADLK);
	assert_int_equal(probe.rc[PROBE_READ], 0);
	assert_int_equal(probe.rc[PROBE_NEXT], 0);
	assert_int_equal(probe.rc[PROBE_ATTACH], 0);
	assert_int_equal(probe.rc[PROBE_LOOKUP], -ENOENT); /* DEV_A is not on the other object */
	iopfq_fault_destroy(x->f);
	x->f = mine;
}

/* A report from the page_response callback (a device that reissues at once) */
static int reissue;
static void on_response_reissue(void *arg, const struct iopfq_response *r)
{
	struct fx *x = arg;

	rec_on_response(&x->rec, r);
	if (reissue-- > 0)
		assert_int_equal(iopfq_fault_report(x->f, x->a, &(struct iopfq_request){
				 .flags = IOPFQ_PGFAULT_FLAGS_PASID_VALID | IOPFQ_PGFAULT_FLAGS_LAST_PAGE,
				 .pasid = 1, .grpid = 9, .perm = IOPFQ_PGFAULT_PERM_READ, .addr = 0x9000 },
				 NULL), 0);
}

static void test_report_from_callback(void **state)
{
	struct fx *x = *state;
	struct iopfq_config cfg = { .max_devices = 2, .credit_budget = 4 };
	struct iopfq_fault_ops ops = { .page_response = on_response_reissue, .arg = x };
	struct iopfq_hwpt_pgfault recs[4];

	iopfq_fault_destroy(x->f);
	assert_int_equal(iopfq_fault_create(&cfg, &ops, &x->f), 0);
	assert_int_equal(iopfq_fault_dev_attach(x->f, DEV_A, 4, NULL, &x->a), 0);
	group(x->f, x->a, 1, 1, 1, 0x1000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	assert_false(fd_readable(x->f));
	reissue = 1;
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	assert_true(fd_readable(x->f));
	/* flush runs page_response under the mutex while the consumer is armed
	 * (nothing ready): the reissued report's trylock fails, and its wake-up
	 * is done by the mutex holder's unlock, not lost */
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	answer(x->f, recs[0].cookie, IOPFQ_PAGE_RESP_SUCCESS, RSP);
	group(x->f, x->a, 1, 2, 1, 0x2000);
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	assert_false(fd_readable(x->f));
	reissue = 1;
	assert_int_equal(iopfq_fault_flush(x->f, x->a, 1, IOPFQ_FLUSH_PASID_VALID), 0);
	assert_true(fd_readable(x->f));
	assert_int_equal(iopfq_fault_read(x->f, recs, sizeof(recs)), REC);
	assert_int_equal(recs[0].grpid, 9);
	reissue = 0;
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_bad_args),
		T(test_fd_initial),
		T(test_read_bad_sizes),
		T(test_read_whole_groups),
		T(test_read_order_is_completion),
		cmocka_unit_test_setup_teardown(test_read_order_round_robin, fx_setup_fair, fx_teardown),
		T(test_read_unaligned_buffer),
		T(test_readable_only_for_complete_groups),
		T(test_write_bad_sizes_and_buffers),
		T(test_write_bad_codes),
		T(test_write_bad_cookies),
		cmocka_unit_test_setup_teardown(test_write_stale_cookie, fx_setup_small, fx_teardown),
		T(test_write_mixed_batches),
		T(test_report_refusals),
		T(test_credits),
		T(test_attach_errors),
		T(test_handle_stale_forever),
		T(test_stop_marker),
		T(test_detach_answers_and_revokes),
		T(test_flush),
		T(test_age_scan),
		T(test_callback_reentry_write),
		T(test_callback_reentry_pwrite),
		T(test_callback_reentry_detach_flush),
		T(test_callback_reentry_destroy_and_age),
		T(test_callback_destroy_own_object),
		T(test_callback_other_object),
		T(test_report_from_callback),
	};

	(void)cur;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
