/* SPDX-License-Identifier: MIT */
/*
 * test_fault_epoll.c - the fault FD under epoll:
 *
 *   level-triggered: readable exactly while a complete group is queued; not
 *	for partial pages; stays readable until read empties the queue.
 *   edge-triggered: one edge per not-readable -> readable transition; a new
 *	edge after the queue was read empty.
 *   poll(): always writable.
 *   wake-up: a consumer blocked in epoll_wait() is woken by another
 *	thread's report of the last page of a group, not by a partial page.
 *   races: producer threads ping-pong with a blocked consumer (each group
 *	waits for its answer, so the consumer arms and sleeps every time)
 *	thousands of times, in LT and ET modes, with two-page groups whose
 *	pages arrive apart: no wake-up is lost (an epoll_wait timeout with a
 *	group queued fails) and none is spurious (each wake-up reads > 0).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>
#include <cmocka.h>

#include "user_support.h"

struct fx {
	struct iopfq_fault *f;
	iopfq_dev_t dev[4];
	int ep;
	unsigned long answered[4]; /* atomic: groups answered, per device */
};

static void on_response(void *arg, const struct iopfq_response *r)
{
	struct fx *x = arg;
	unsigned i = (unsigned)(uintptr_t)r->dev_ctx;

	__atomic_fetch_add(&x->answered[i], 1, __ATOMIC_RELEASE);
}

static int fx_setup(void **state)
{
	struct fx *x = calloc(1, sizeof(*x));
	struct iopfq_config cfg = { .max_devices = 4, .credit_budget = 64 };
	struct iopfq_fault_ops ops = { .page_response = on_response };

	if (!x)
		return -1;
	ops.arg = x;
	if (iopfq_fault_create(&cfg, &ops, &x->f))
		return -1;
	for (uintptr_t i = 0; i < 4; i++)
		if (iopfq_fault_dev_attach(x->f, 100 + (uint32_t)i, 16, (void *)i, &x->dev[i]))
			return -1;
	x->ep = epoll_create1(EPOLL_CLOEXEC);
	*state = x;
	return x->ep >= 0 ? 0 : -1;
}

static int fx_teardown(void **state)
{
	struct fx *x = *state;

	close(x->ep);
	iopfq_fault_destroy(x->f);
	assert_int_equal(iopfq_warnings(), 0);
	free(x);
	return 0;
}

static void ep_add(struct fx *x, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = 0xfa };

	assert_int_equal(epoll_ctl(x->ep, EPOLL_CTL_ADD, iopfq_fault_fd(x->f), &ev), 0);
}

static int ep_wait(struct fx *x, int timeout_ms)
{
	struct epoll_event ev[2];
	int n;

	do
		n = epoll_wait(x->ep, ev, 2, timeout_ms);
	while (n < 0 && errno == EINTR);
	assert_true(n >= 0);
	if (n == 1) {
		assert_int_equal(ev[0].data.u32, 0xfa);
		assert_true(ev[0].events & EPOLLIN);
	}
	return n;
}

/* Callable from any thread: cmocka's asserts are for the main thread only. */
static void report(struct fx *x, unsigned d, uint32_t grpid, int last, uint64_t addr)
{
	struct iopfq_request r = page_req(1 + d, grpid, last, addr);
	int rc = iopfq_fault_report(x->f, x->dev[d], &r, NULL);

	if (rc) {
		fprintf(stderr, "report: %d\n", rc);
		abort();
	}
}

/* Read everything, answer everything; return the records read. */
static unsigned drain_answer(struct fx *x)
{
	struct iopfq_hwpt_pgfault recs[64];
	struct iopfq_hwpt_page_response resp[64];
	unsigned total = 0;
	ssize_t n;

	while ((n = iopfq_fault_read(x->f, recs, sizeof(recs))) > 0) {
		unsigned nrec = (unsigned)((size_t)n / REC), nresp = 0;

		for (unsigned i = 0; i < nrec; i++)
			if (recs[i].flags & IOPFQ_PGFAULT_FLAGS_LAST_PAGE)
				resp[nresp++] = (struct iopfq_hwpt_page_response){
					.cookie = recs[i].cookie, .code = IOPFQ_PAGE_RESP_SUCCESS };
		assert_int_equal(iopfq_fault_write(x->f, resp, nresp * RSP), (ssize_t)(nresp * RSP));
		total += nrec;
	}
	assert_int_equal(n, 0);
	return total;
}

static void test_level_triggered(void **state)
{
	struct fx *x = *state;

	ep_add(x, EPOLLIN);
	assert_int_equal(ep_wait(x, 0), 0);
	report(x, 0, 1, 0, 0x1000);
	report(x, 1, 1, 0, 0x2000);
	assert_int_equal(ep_wait(x, 0), 0);      /* partial pages: not readable */
	report(x, 0, 1, 1, 0x3000);
	assert_int_equal(ep_wait(x, 0), 1);
	assert_int_equal(ep_wait(x, 0), 1);      /* level: still */
	assert_int_equal(ep_wait(x, 10), 1);
	assert_int_equal(drain_answer(x), 2);
	assert_int_equal(ep_wait(x, 0), 0);      /* read emptied it */
	report(x, 1, 1, 1, 0x4000);
	assert_int_equal(ep_wait(x, 0), 1);
	assert_int_equal(drain_answer(x), 2);
	assert_int_equal(ep_wait(x, 0), 0);
}

static void test_edge_triggered(void **state)
{
	struct fx *x = *state;

	ep_add(x, EPOLLIN | EPOLLET);
	assert_int_equal(ep_wait(x, 0), 0);
	report(x, 0, 1, 0, 0x1000);
	assert_int_equal(ep_wait(x, 0), 0);
	report(x, 0, 1, 1, 0x2000);
	assert_int_equal(ep_wait(x, 0), 1);
	assert_int_equal(ep_wait(x, 0), 0);      /* one edge per transition */
	report(x, 1, 1, 1, 0x3000);              /* already readable: no new edge */
	assert_int_equal(ep_wait(x, 0), 0);
	assert_int_equal(drain_answer(x), 3);    /* ET: read until 0 */
	assert_int_equal(ep_wait(x, 0), 0);
	report(x, 2, 1, 1, 0x4000);
	assert_int_equal(ep_wait(x, 0), 1);      /* a new edge */
	assert_int_equal(drain_answer(x), 1);
}

static void test_always_writable(void **state)
{
	struct fx *x = *state;

	assert_true(fd_writable(x->f));
	report(x, 0, 1, 1, 0x1000);
	assert_true(fd_writable(x->f));
	assert_true(fd_readable(x->f));
	drain_answer(x);
	assert_true(fd_writable(x->f));
}

struct delayed {
	struct fx *x;
	unsigned delay_us;
};

static void *report_later(void *arg)
{
	struct delayed *d = arg;

	usleep(d->delay_us);
	report(d->x, 3, 7, 0, 0x1000);           /* partial: must not wake */
	usleep(d->delay_us);
	report(d->x, 3, 7, 1, 0x2000);
	return NULL;
}

static void test_wakeup_from_other_thread(void **state)
{
	struct fx *x = *state;
	struct delayed d = { .x = x, .delay_us = 30000 };
	pthread_t t;
	uint64_t t0;

	ep_add(x, EPOLLIN);
	t0 = now_ns();
	assert_int_equal(pthread_create(&t, NULL, report_later, &d), 0);
	assert_int_equal(ep_wait(x, 5000), 1);
	/* woken by the last page (after 2 delays), not by the partial one */
	assert_true(now_ns() - t0 >= 2ull * d.delay_us * 1000ull - 1000000ull);
	assert_true(now_ns() - t0 < 4000ull * 1000000ull);
	pthread_join(t, NULL);
	assert_int_equal(drain_answer(x), 2);
}

/* ---------------------------------------------------------------------- */
/* the sleep/report race loop                                              */

struct pinger {
	struct fx *x;
	unsigned d;
	unsigned groups;
	unsigned seed;
};

static void spin_random(unsigned *seed, unsigned max)
{
	unsigned n = rand_r(seed) % max;

	for (volatile unsigned i = 0; i < n; i++)
		;
}

static void *ping(void *arg)
{
	struct pinger *p = arg;
	struct fx *x = p->x;

	for (unsigned g = 0; g < p->groups; g++) {
		unsigned long before = __atomic_load_n(&x->answered[p->d], __ATOMIC_ACQUIRE);
		int two = g & 1;

		spin_random(&p->seed, 2000);
		if (two) {
			report(x, p->d, g % 512, 0, 0x1000);
			spin_random(&p->seed, 2000);
		}
		report(x, p->d, g % 512, 1, 0x2000);
		/* wait for the answer: the consumer has nothing left and sleeps */
		while (__atomic_load_n(&x->answered[p->d], __ATOMIC_ACQUIRE) == before)
			sched_yield();
	}
	return NULL;
}

static void race_loop(struct fx *x, uint32_t events, unsigned nthreads, unsigned groups)
{
	struct pinger p[4];
	pthread_t t[4];
	unsigned expect = 0, got = 0, wakeups = 0;
	struct iopfq_fault_stats st;
	struct iopfq_counters c;

	ep_add(x, events);
	for (unsigned i = 0; i < nthreads; i++) {
		p[i] = (struct pinger){ .x = x, .d = i, .groups = groups, .seed = 12345 + i };
		expect += groups + groups / 2;
		assert_int_equal(pthread_create(&t[i], NULL, ping, &p[i]), 0);
	}
	while (got < expect) {
		int n = ep_wait(x, 2000);
		unsigned r;

		if (n == 0) {
			/* a timeout is only fine if nothing complete is queued */
			assert_int_equal(iopfq_fault_next_group_size(x->f), 0);
			fail_msg("no progress for 2 s: %u of %u records", got, expect);
		}
		wakeups++;
		r = drain_answer(x);
		assert_true(r > 0); /* no spurious readiness */
		got += r;
	}
	for (unsigned i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(got, expect);
	assert_int_equal(ep_wait(x, 0), 0);
	assert_int_equal(iopfq_fault_counters(x->f, &c, &st), 0);
	assert_int_equal(c.groups_answered, nthreads * groups);
	assert_int_equal(c.delivered + c.ready + c.partial + c.in_ring, 0);
	print_message("%u groups, %u wake-ups, %llu kicks, %llu by producers, fd %llu up %llu down\n",
		      nthreads * groups, wakeups, (unsigned long long)st.kicks,
		      (unsigned long long)st.kick_syncs, (unsigned long long)st.wakeups,
		      (unsigned long long)st.sleeps);
}

static unsigned race_groups(void)
{
	return (unsigned)env_seconds("IOPFQ_RACE_GROUPS", 10000);
}

static void test_race_level(void **state)
{
	race_loop(*state, EPOLLIN, 1, race_groups());
}

static void test_race_level_threads(void **state)
{
	race_loop(*state, EPOLLIN, 3, race_groups() / 2);
}

static void test_race_edge_threads(void **state)
{
	race_loop(*state, EPOLLIN | EPOLLET, 3, race_groups() / 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_level_triggered),
		T(test_edge_triggered),
		T(test_always_writable),
		T(test_wakeup_from_other_thread),
		T(test_race_level),
		T(test_race_level_threads),
		T(test_race_edge_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
